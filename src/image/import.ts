/**
 * `berth import`: a root filesystem tarball (plain, gzip or zstd; a file or stdin) becomes a
 * one-layer image. The tarball is stored as the layer blob unchanged; the config records the
 * `--change` instructions and a history entry, like `docker import`.
 */
import { statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { NotFoundError } from '../common/errors.ts';
import type { Digest } from '../store/digest.ts';
import type { Store } from '../store/store.ts';
import { collectingAfter } from '../store/gc.ts';
import { readFile } from '../store/content.ts';
import { decompressed } from '../unpack/compression.ts';
import { applyChanges } from './changes.ts';
import { commitImage } from './commit.ts';
import { hostArch, layerMediaType, MT, type ImageConfigJson, type ManifestJson } from './media.ts';
import { normalizeTagged } from './reference.ts';

export interface ImportOptions {
  changes?: string[];
  message?: string;
  platform?: { os?: string; architecture?: string };
}

async function hashOf(stream: Readable): Promise<Digest> {
  const h = createHash('sha256');
  for await (const c of stream) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/** Imports `source` (a path or `-`) and tags it `ref` if given; resolves to the image ID. */
export async function importTarball(
  store: Store,
  source: string,
  ref: string | undefined,
  opts: ImportOptions = {},
  stdin: Readable = process.stdin,
): Promise<Digest> {
  const names = ref ? [normalizeTagged(ref)] : [];
  const containerConfig = applyChanges({}, opts.changes ?? []);
  if (source !== '-') {
    try {
      statSync(source);
    } catch {
      throw new NotFoundError(`open ${source}: no such file or directory`);
    }
  }
  return collectingAfter(store, () => store.withStoreLock('shared', async () => {
    const blob = await store.content.ingest(source === '-' ? stdin : readFile(source));
    const { stream, compression } = await decompressed(store.content.open(blob.digest));
    const diffID = compression === 'none' ? (stream.destroy(), blob.digest) : await hashOf(stream);
    const created = new Date().toISOString();
    const config: ImageConfigJson = {
      created,
      architecture: opts.platform?.architecture ?? hostArch(),
      os: opts.platform?.os ?? 'linux',
      config: containerConfig,
      rootfs: { type: 'layers', diff_ids: [diffID] },
      history: [
        {
          created,
          created_by: `berth import ${source === '-' ? '-' : source}`,
          ...(opts.message ? { comment: opts.message } : {}),
        },
      ],
    };
    const cfg = await store.content.put(JSON.stringify(config));
    const layer = { mediaType: layerMediaType(compression, false), ...blob };
    const manifest: ManifestJson = {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, ...cfg },
      layers: [layer],
    };
    const m = await store.content.put(JSON.stringify(manifest));
    const rec = await commitImage(
      store,
      { manifest: { mediaType: MT.ociManifest, ...m }, config: { mediaType: MT.ociConfig, ...cfg }, layers: [layer] },
      names,
    );
    return rec.id;
  }));
}
