/**
 * Garbage collection, mark and sweep (after containerd's GC): roots are image records and
 * container leases; a blob or snapshot is removed only when nothing reachable from a root uses it.
 * Runs under the exclusive store lock, so no concurrent load can be between "blob written" and
 * "image recorded"; that also makes leftovers of killed processes (ingest/ temp files,
 * snapshots/.tmp-*) safe to delete here.
 */
import { closeSync, openSync, readdirSync, rmSync } from 'node:fs';
import { LOCK } from '../sys/types.ts';
import { join } from 'node:path';
import type { Digest } from './digest.ts';
import { readLeases } from './rootfs.ts';
import type { Store } from './store.ts';

export interface GcResult {
  blobs: number;
  snapshots: number;
  bytes: number;
}


/** Callers hold the exclusive store lock. */
export function collectGarbage(store: Store): GcResult {
  const blobs = new Set<Digest>();
  const snaps = new Set<Digest>();
  for (const img of store.images.list()) {
    blobs.add(img.manifest.digest);
    blobs.add(img.config.digest);
    for (const l of img.layers) {
      blobs.add(l.digest);
      snaps.add(l.chainID);
    }
  }
  for (const lease of readLeases(store)) {
    for (const c of lease.chainIDs) snaps.add(c);
    const img = store.images.get(lease.imageId);
    if (img) for (const l of img.layers) blobs.add(l.digest);
  }
  const res: GcResult = { blobs: 0, snapshots: 0, bytes: 0 };
  for (const d of store.content.list()) {
    if (blobs.has(d)) continue;
    res.bytes += store.content.size(d) ?? 0;
    store.content.remove(d);
    res.blobs++;
  }
  for (const c of store.snapshots.list()) {
    if (snaps.has(c)) continue;
    res.bytes += store.snapshots.meta(c)?.size ?? 0;
    store.snapshots.remove(c);
    res.snapshots++;
  }
  store.snapshots.removeTemps();
  for (const n of readdirSync(store.layout.ingestDir)) rmSync(join(store.layout.ingestDir, n), { force: true });
  return res;
}

/**
 * GC if no other berth process is using the store right now (a non-blocking exclusive lock):
 * run after commands that leave unreferenced content behind (a replaced manifest, archive
 * members such as manifest.json), never making them wait for a concurrent load.
 */
export async function collectGarbageIfIdle(store: Store): Promise<GcResult | undefined> {
  const fd = openSync(store.layout.storeLock, 'a+', 0o600);
  try {
    try {
      await store.sys.flock(fd, LOCK.EX | LOCK.NB);
    } catch {
      return undefined; // busy: the next idle command collects
    }
    return collectGarbage(store);
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs `fn`, a command that adds content (load, import, squash), then collects garbage if the
 * store is idle: after success, what the command left unreferenced (archive members such as
 * manifest.json, a replaced manifest); after a failure, everything it stored, so that a refused
 * archive leaves nothing new behind (its verified blobs included). The failure is what is reported.
 */
export async function collectingAfter<T>(store: Store, fn: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    await collectGarbageIfIdle(store).catch(() => undefined);
    throw err;
  }
  await collectGarbageIfIdle(store);
  return result;
}
