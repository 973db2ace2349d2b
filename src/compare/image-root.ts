/**
 * An image's root filesystem on disk for the modes that use it without the engine (chroot, and
 * the VM backend which shares a directory over 9p): prepared through the store's RootfsManager
 * (so GC keeps the image while it is in use), mounted on a private temp directory, and removed
 * with its lease at close. Each mode gets its own, as each container would.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../engine/engine.ts';
import { MS } from '../sys/types.ts';

export interface ImageRoot {
  dir: string;
  /** Mounts proc on <dir>/proc for the duration of `fn` (chroot has no mount namespace to do it in). */
  withProc<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Resolves `image` in the engine at `root` (no pull: compare measures what is here). */
export async function imageId(root: string, image: string): Promise<string> {
  const store = await new Engine(root).store();
  const { resolveImage } = await import('../image/resolve.ts');
  return resolveImage(store, image).record.id;
}

export async function openImageRoot(root: string, image: string, purpose: string): Promise<ImageRoot> {
  const engine = new Engine(root);
  const store = await engine.store();
  const id = await imageId(root, image);
  const rm = await engine.rootfsManager();
  const containerId = `compare-${purpose}-${randomBytes(4).toString('hex')}`;
  const prepared = await rm.prepare(containerId, id as never);
  const parent = mkdtempSync(path.join(os.tmpdir(), `berth-compare-${purpose}-`));
  const dir = path.join(parent, 'rootfs');
  mkdirSync(dir);
  let mounted = false;
  const close = async (): Promise<void> => {
    if (mounted) rm.unmount(dir);
    mounted = false;
    rmSync(parent, { recursive: true, force: true });
    await rm.remove(containerId);
  };
  try {
    rm.mount(prepared, dir);
    mounted = true;
    store.sys.mount('none', dir, null, MS.PRIVATE, null); // nothing mounted under it reaches other namespaces
  } catch (err) {
    await close();
    throw err;
  }
  return {
    dir,
    async withProc<T>(fn: () => Promise<T>): Promise<T> {
      const target = path.join(dir, 'proc');
      mkdirSync(target, { recursive: true }); // in the upper layer, gone at close
      store.sys.mount('proc', target, 'proc', MS.NOSUID | MS.NODEV, null);
      try {
        return await fn();
      } finally {
        rm.unmount(target);
      }
    },
    close,
  };
}
