/**
 * Each build step ends as an image (as in Docker's classic builder): the parent's layers plus the
 * step's layer, if it made one, and the stage's config with one more history entry. These are
 * committed as *intermediate* images (hidden from `berth images`, dangling for `image prune`) and
 * are what the build cache points at.
 */
import type { Digest } from '../store/digest.ts';
import type { ImageRecord } from '../store/images.ts';
import type { Store } from '../store/store.ts';
import { commitImage } from '../image/commit.ts';
import { hostArch, MT, type ContainerConfigJson, type HistoryJson, type ImageConfigJson, type ManifestJson } from '../image/media.ts';

/** Where a stage is: its current image (none yet for `FROM scratch`) and that image's config. */
export interface StageImage {
  id: Digest | undefined;
  record: ImageRecord | undefined;
  config: ImageConfigJson;
}

export function scratchImage(platform?: { os: string; architecture: string }): StageImage {
  return {
    id: undefined,
    record: undefined,
    config: { architecture: platform?.architecture ?? hostArch(), os: platform?.os ?? 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] },
  };
}

export function loadImage(store: Store, record: ImageRecord): StageImage {
  return { id: record.id, record, config: store.content.readJson<ImageConfigJson>(record.config.digest) };
}

export interface StepResult {
  /** The layer's tar stream, when the step changed files. */
  layer?: AsyncIterable<Buffer>;
  config: ContainerConfigJson;
  history: HistoryJson;
}

/** Commits a step's image on top of `parent`; intermediate unless `final`. */
export async function commitStep(store: Store, parent: StageImage, step: StepResult): Promise<StageImage> {
  return store.withStoreLock('shared', async () => {
    const created = new Date().toISOString();
    const layers = (parent.record?.layers ?? []).map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }));
    const diffIDs = [...(parent.record?.layers ?? []).map((l) => l.diffID)];
    if (step.layer) {
      const blob = await store.content.ingest(step.layer);
      layers.push({ mediaType: MT.ociLayer, ...blob });
      diffIDs.push(blob.digest);
    }
    const config: ImageConfigJson = {
      ...parent.config,
      created,
      config: step.config,
      rootfs: { type: 'layers', diff_ids: diffIDs },
      history: [...(parent.config.history ?? []), { created, ...step.history, ...(step.layer ? {} : { empty_layer: true }) }],
    };
    const cfg = await store.content.put(JSON.stringify(config));
    const manifest: ManifestJson = { schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, ...cfg }, layers };
    const m = await store.content.put(JSON.stringify(manifest));
    const rec = await commitImage(
      store,
      { manifest: { mediaType: MT.ociManifest, ...m }, config: { mediaType: MT.ociConfig, ...cfg }, layers },
      [],
      { intermediate: true },
    );
    return { id: rec.id, record: rec, config };
  });
}

/** The build's result: shown by `images` from now on, and tagged. */
export async function finishImage(store: Store, id: Digest, names: string[]): Promise<void> {
  await store.withMetaLock(() => {
    const rec = store.images.get(id);
    if (rec?.intermediate) store.images.put({ ...rec, intermediate: undefined });
    if (names.length) {
      const tags = store.images.tags();
      for (const n of names) tags.set(n, id);
      store.images.setTags(tags);
    }
  });
}

/** Every layer of the stage's image present as a snapshot (a cache hit must still be usable). */
export function usable(store: Store, id: Digest): ImageRecord | undefined {
  const rec = store.images.get(id);
  if (!rec) return undefined;
  for (const l of rec.layers) if (!store.snapshots.has(l.chainID)) return undefined;
  return rec;
}
