/**
 * The one way an image enters the store (load, import and squash all end here): its blobs are
 * already ingested; this unpacks any missing snapshot (verifying each layer against the config's
 * diffIDs), then records the image and moves its tags, in that order, so that a crash at any point
 * leaves either no image or a complete one (plus unreferenced content for GC).
 * Callers hold the shared store lock.
 */
import { BerthError } from '../common/errors.ts';
import { chainIDs, shortId } from '../store/digest.ts';
import type { Descriptor, ImageRecord, LayerRecord } from '../store/images.ts';
import type { Store } from '../store/store.ts';
import type { PendingSnapshot } from '../store/snapshots.ts';
import { LAYER_TYPES, type ImageConfigJson } from './media.ts';

export interface NewImage {
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
}

export class InvalidImageError extends BerthError {
  constructor(message: string) {
    super('invalid-argument', message);
  }
}

/**
 * Records an image whose blobs are in the store: unpacks the snapshots it lacks (or takes those
 * the caller unpacked already, `opts.pending`), commits them, then writes the record and tags.
 */
export async function commitImage(
  store: Store,
  img: NewImage,
  names: string[],
  opts: { intermediate?: boolean; pending?: PendingSnapshot[] } = {},
): Promise<ImageRecord> {
  const config = store.content.readJson<ImageConfigJson>(img.config.digest);
  const diffIDs = config?.rootfs?.diff_ids;
  if (!Array.isArray(diffIDs)) throw new InvalidImageError(`image config ${shortId(img.config.digest)} has no rootfs.diff_ids`);
  if (diffIDs.length !== img.layers.length)
    throw new InvalidImageError(`image ${shortId(img.config.digest)} has ${img.layers.length} layers but ${diffIDs.length} diffIDs`);
  const chains = chainIDs(diffIDs);
  const layers: LayerRecord[] = [];
  for (const l of img.layers) if (!LAYER_TYPES.has(l.mediaType)) throw new InvalidImageError(`unsupported layer media type ${l.mediaType}`);
  // Missing snapshots are unpacked first and committed together (one syncfs for the image); a
  // failure in any layer discards them all, so a refused image leaves no snapshot behind.
  const pending: PendingSnapshot[] = [...(opts.pending ?? [])];
  const sizes: number[] = [];
  try {
    for (const [i, l] of img.layers.entries()) {
      const chainID = chains[i]!;
      const existing = store.snapshots.meta(chainID) ?? pending.find((p) => p.meta.chainID === chainID)?.meta;
      if (existing) {
        sizes.push(existing.size);
        continue;
      }
      const p = await store.snapshots.unpack(chainID, i === 0 ? null : chains[i - 1]!, diffIDs[i]!, () => store.content.open(l.digest));
      pending.push(p);
      sizes.push(p.meta.size);
    }
  } catch (err) {
    store.snapshots.discard(pending);
    throw err;
  }
  await store.snapshots.commit(pending);
  let size = 0;
  for (const [i, l] of img.layers.entries()) {
    size += sizes[i]!;
    layers.push({ mediaType: l.mediaType, digest: l.digest, size: l.size, diffID: diffIDs[i]!, chainID: chains[i]! });
  }
  const record: ImageRecord = {
    id: img.config.digest,
    manifest: img.manifest,
    config: img.config,
    layers,
    ...(typeof config.created === 'string' ? { created: config.created } : {}),
    added: new Date().toISOString(),
    size,
    ...(opts.intermediate ? { intermediate: true } : {}),
  };
  return store.withMetaLock(() => {
    const existing = store.images.get(record.id);
    if (!existing || existing.manifest.digest !== record.manifest.digest) store.images.put(existing ? { ...record, added: existing.added } : record);
    else if (existing.intermediate && !opts.intermediate) store.images.put({ ...existing, intermediate: undefined }); // a build's result is shown
    if (names.length > 0) {
      const tags = store.images.tags();
      for (const n of names) tags.set(n, record.id);
      store.images.setTags(tags);
    }
    return store.images.get(record.id)!;
  });
}
