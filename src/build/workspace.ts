/**
 * Where a step changes files. RUN gets a real engine container (src/engine/build-run.ts); COPY,
 * ADD, WORKDIR and --squash get a *workspace*: the stage's image prepared like a container's root
 * (a lease, upper and work directories), mounted here in the host's namespace only for the copy,
 * so that overlayfs itself records the change in the upper directory: copied-up parents keep their
 * metadata, replaced files and removed trees become whiteouts. A stage without layers (scratch)
 * uses a plain directory, which then is the whole layer. Read-only views of images (COPY --from)
 * are mounted the same way without an upper.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Digest } from '../store/digest.ts';
import type { ImageRecord } from '../store/images.ts';
import { mountOverlay } from '../store/overlay.ts';
import { RootfsManager } from '../store/rootfs.ts';
import type { Store } from '../store/store.ts';

export interface Workspace {
  /** The merged tree to change. */
  root: string;
  /** The image's layers, top-most first (empty for scratch). */
  lowerdirs: string[];
  /** Unmounts the tree; the changes stay in `upper`. */
  close(): void;
  /** The directory that holds exactly the changes. */
  upper: string;
  /** Removes the lease and the directories. */
  dispose(): Promise<void>;
}

function tmpName(store: Store, what: string): string {
  const dir = join(store.layout.tmpDir, `build-${what}-${randomBytes(6).toString('hex')}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}

export async function openWorkspace(store: Store, image: { id: Digest | undefined; record: ImageRecord | undefined }): Promise<Workspace> {
  if (!image.id || !image.record?.layers.length) {
    const dir = tmpName(store, 'layer');
    return { root: dir, lowerdirs: [], upper: dir, close() {}, dispose: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const rm = new RootfsManager(store);
  const id = `build-${randomBytes(8).toString('hex')}`;
  const prepared = await rm.prepare(id, image.id, { driver: 'overlay' });
  if (prepared.driver !== 'overlay') throw new Error('unreachable');
  const target = tmpName(store, 'mnt');
  let mounted = false;
  try {
    rm.mount(prepared, target);
    mounted = true;
  } catch (err) {
    rmSync(target, { recursive: true, force: true });
    await rm.remove(id);
    throw err;
  }
  const close = () => {
    if (!mounted) return;
    rm.unmount(target);
    mounted = false;
    rmSync(target, { recursive: true, force: true });
  };
  return {
    root: target,
    lowerdirs: prepared.lowerdirs,
    upper: prepared.upper,
    close,
    dispose: async () => {
      close();
      await rm.remove(id);
    },
  };
}

/** A read-only view of an image's tree (COPY --from); `close()` unmounts it. */
export async function openView(store: Store, record: ImageRecord): Promise<{ root: string; close(): void }> {
  const target = tmpName(store, 'view');
  if (record.layers.length === 0) return { root: target, close: () => rmSync(target, { recursive: true, force: true }) };
  const lowerdirs = [...record.layers].reverse().map((l) => store.snapshots.fsPath(l.chainID));
  // a lease would be cleaner, but the view lives only while this process holds the shared store lock
  mountOverlay(store.sys, { lowerdirs, target, readonly: true });
  return {
    root: target,
    close: () => {
      new RootfsManager(store).unmount(target);
      rmSync(target, { recursive: true, force: true });
    },
  };
}
