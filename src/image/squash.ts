/**
 * `berth image squash REF NEWREF`: all layers merged into one. The layers are replayed, whiteouts
 * applied, into a scratch tree under the store's tmp/, which is archived (xattrs and all) into
 * the new single layer. The config keeps everything but its rootfs; the old history entries stay
 * (marked empty) and one entry records the squash.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { shortId, type Digest } from '../store/digest.ts';
import type { Store } from '../store/store.ts';
import { collectingAfter } from '../store/gc.ts';
import { unpackLayer } from '../unpack/unpack.ts';
import { commitImage } from './commit.ts';
import { MT, type ImageConfigJson, type ManifestJson } from './media.ts';
import { normalizeTagged } from './reference.ts';
import { resolveImage } from './resolve.ts';
import { treeToTar } from './tree-tar.ts';

export async function squashImage(store: Store, ref: string, newRef: string): Promise<Digest> {
  const target = normalizeTagged(newRef);
  return collectingAfter(store, () => store.withStoreLock('shared', async () => {
    const { record } = resolveImage(store, ref);
    const scratch = join(store.layout.tmpDir, `squash-${randomBytes(6).toString('hex')}`);
    mkdirSync(scratch, { mode: 0o755 });
    try {
      for (const l of record.layers)
        await unpackLayer(store.sys, store.content.open(l.digest), scratch, { whiteouts: 'apply', diffID: l.diffID });
      const blob = await store.content.ingest(treeToTar(store.sys, scratch));
      const old = store.content.readJson<ImageConfigJson>(record.config.digest);
      const created = new Date().toISOString();
      const config: ImageConfigJson = {
        ...old,
        created,
        rootfs: { type: 'layers', diff_ids: [blob.digest] },
        history: [
          ...(old.history ?? []).map((h) => ({ ...h, empty_layer: true })),
          { created, created_by: `berth image squash ${ref}`, comment: `squashed ${record.layers.length} layers of ${shortId(record.id)}` },
        ],
      };
      const cfg = await store.content.put(JSON.stringify(config));
      const layer = { mediaType: MT.ociLayer, ...blob };
      const manifest: ManifestJson = { schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, ...cfg }, layers: [layer] };
      const m = await store.content.put(JSON.stringify(manifest));
      const rec = await commitImage(
        store,
        { manifest: { mediaType: MT.ociManifest, ...m }, config: { mediaType: MT.ociConfig, ...cfg }, layers: [layer] },
        [target],
      );
      return rec.id;
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }));
}
