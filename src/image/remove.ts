/**
 * Changing what the store holds: `tag`, `rmi`, `image prune`. Each takes the exclusive store lock
 * (then the meta lock), changes records, and collects garbage before releasing, so a blob or
 * snapshot disappears exactly when the last image or container lease stops using it.
 */
import { BadStateError } from '../common/errors.ts';
import type { Digest } from '../store/digest.ts';
import { collectGarbage } from '../store/gc.ts';
import { readLeases } from '../store/rootfs.ts';
import type { Store } from '../store/store.ts';
import { familiarName, normalizeTagged, splitTagged } from './reference.ts';
import { resolveImage } from './resolve.ts';

function familiar(name: string): string {
  const { repository, tag } = splitTagged(name);
  return `${familiarName(repository)}:${tag}`;
}

export async function tagImage(store: Store, source: string, target: string): Promise<void> {
  const name = normalizeTagged(target);
  await store.withMetaLock(() => {
    const { record } = resolveImage(store, source);
    const tags = store.images.tags();
    tags.set(name, record.id);
    store.images.setTags(tags);
  });
}

export interface RemoveResult {
  untagged: string[];
  deleted: Digest[];
  reclaimed: number;
}

/** `rmi`: untag, and delete images left without tags, unless a container uses them. */
export async function removeImages(store: Store, refs: string[], opts: { force?: boolean } = {}): Promise<RemoveResult> {
  const res: RemoveResult = { untagged: [], deleted: [], reclaimed: 0 };
  return store.withStoreLock('exclusive', async () => {
    await store.withMetaLock(() => {
      const leases = readLeases(store);
      for (const ref of refs) {
        const { record, tag } = resolveImage(store, ref);
        const tags = store.images.tags();
        const own = [...tags].filter(([, id]) => id === record.id).map(([n]) => n);
        const user = leases.find((l) => l.imageId === record.id);
        if (user && !opts.force) {
          const what = tag ? `repository reference "${ref}"` : `image ${ref}`;
          throw new BadStateError(
            `conflict: unable to remove ${what} (must force) - container ${user.containerId.slice(0, 12)} is using its referenced image ${record.id.slice(7, 19)}`,
          );
        }
        if (!tag && own.length > 1 && !opts.force)
          throw new BadStateError(
            `conflict: unable to delete ${record.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`,
          );
        const drop = tag ? [tag] : own;
        for (const n of drop) {
          tags.delete(n);
          res.untagged.push(familiar(n));
        }
        store.images.setTags(tags);
        const left = own.filter((n) => !drop.includes(n));
        if (left.length === 0 && !user) {
          store.images.remove(record.id);
          res.deleted.push(record.id);
        }
      }
    });
    res.reclaimed = collectGarbage(store).bytes;
    return res;
  });
}

/** `image prune`: dangling images (with `all`, every image no container uses). */
export async function pruneImages(store: Store, opts: { all?: boolean } = {}): Promise<RemoveResult> {
  const res: RemoveResult = { untagged: [], deleted: [], reclaimed: 0 };
  return store.withStoreLock('exclusive', async () => {
    await store.withMetaLock(() => {
      const used = new Set(readLeases(store).map((l) => l.imageId));
      const tags = store.images.tags();
      for (const r of store.images.list()) {
        if (used.has(r.id)) continue;
        const own = [...tags].filter(([, id]) => id === r.id).map(([n]) => n);
        if (own.length > 0 && !opts.all) continue;
        for (const n of own) {
          tags.delete(n);
          res.untagged.push(familiar(n));
        }
        store.images.remove(r.id);
        res.deleted.push(r.id);
      }
      store.images.setTags(tags);
    });
    res.reclaimed = collectGarbage(store).bytes;
    return res;
  });
}
