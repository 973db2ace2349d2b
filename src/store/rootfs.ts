/**
 * Container root filesystems: the interface a runtime calls (containerd's "snapshot users" rule:
 * the store knows nothing about running containers, it only records that a container holds an
 * image). `prepare` writes a lease first, so GC and `rmi` keep the image's snapshots while the
 * container exists, then creates the writable part:
 *   - overlay: `upper` and `work` directories; the runtime mounts lowerdirs + upper + work
 *     (or calls `mount`);
 *   - vfs: a private full copy (layers replayed with whiteouts applied), for hosts without
 *     overlayfs, like Podman's vfs driver.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BadStateError, InvalidArgumentError, NotFoundError } from '../common/errors.ts';
import { MS } from '../sys/types.ts';
import { unpackLayer } from '../unpack/unpack.ts';
import { writeJsonAtomic } from './atomic.ts';
import { shortId, type Digest } from './digest.ts';
import { mountOverlay, unmount } from './overlay.ts';
import type { Store } from './store.ts';

export type Driver = 'overlay' | 'vfs';

export interface Lease {
  containerId: string;
  imageId: Digest;
  /** Bottom-most first. */
  chainIDs: Digest[];
  driver: Driver;
  created: string;
}

export type PreparedRootfs =
  | { driver: 'overlay'; containerId: string; lowerdirs: string[]; upper: string; work: string }
  | { driver: 'vfs'; containerId: string; rootfs: string };

/** What a runtime needs from the store to give a container its root filesystem. */
export interface ContainerRootfs {
  prepare(containerId: string, imageId: Digest, opts?: { driver?: Driver }): Promise<PreparedRootfs>;
  get(containerId: string): PreparedRootfs | undefined;
  mount(prepared: PreparedRootfs, target: string): void;
  unmount(target: string): void;
  remove(containerId: string): Promise<void>;
}

const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

/** Reads every lease (GC and `rmi` use them as roots). */
export function readLeases(store: Store): Lease[] {
  const out: Lease[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(store.layout.rootfsDir);
  } catch {
    return out;
  }
  for (const n of names) {
    try {
      out.push(JSON.parse(readFileSync(join(store.layout.container(n), 'lease.json'), 'utf8')) as Lease);
    } catch {
      /* a directory without a lease holds nothing */
    }
  }
  return out;
}

/** True when the running kernel has overlayfs. */
export function overlayAvailable(): boolean {
  try {
    return readFileSync('/proc/filesystems', 'utf8').includes('\toverlay\n');
  } catch {
    return false;
  }
}

/**
 * The driver `prepare` uses when the caller names none: BERTH_STORAGE_DRIVER (which `berth
 * --storage-driver` sets for the command it runs), else overlay when the kernel has it, else vfs.
 */
export function defaultDriver(): Driver {
  const env = process.env.BERTH_STORAGE_DRIVER;
  if (env === 'vfs' || env === 'overlay') return env;
  if (env) throw new InvalidArgumentError(`unknown storage driver ${JSON.stringify(env)}`, 'use overlay or vfs');
  return overlayAvailable() ? 'overlay' : 'vfs';
}

export class RootfsManager implements ContainerRootfs {
  readonly store: Store;
  constructor(store: Store) {
    this.store = store;
  }

  private describe(lease: Lease): PreparedRootfs {
    const dir = this.store.layout.container(lease.containerId);
    if (lease.driver === 'vfs') return { driver: 'vfs', containerId: lease.containerId, rootfs: join(dir, 'rootfs') };
    return {
      driver: 'overlay',
      containerId: lease.containerId,
      lowerdirs: [...lease.chainIDs].reverse().map((c) => this.store.snapshots.fsPath(c)),
      upper: join(dir, 'upper'),
      work: join(dir, 'work'),
    };
  }

  private lease(containerId: string): Lease | undefined {
    try {
      return JSON.parse(readFileSync(join(this.store.layout.container(containerId), 'lease.json'), 'utf8')) as Lease;
    } catch {
      return undefined;
    }
  }

  get(containerId: string): PreparedRootfs | undefined {
    const l = this.lease(containerId);
    return l ? this.describe(l) : undefined;
  }

  /** Idempotent: preparing the same container for the same image again returns the same paths. */
  async prepare(containerId: string, imageId: Digest, opts: { driver?: Driver } = {}): Promise<PreparedRootfs> {
    if (!ID_RE.test(containerId)) throw new InvalidArgumentError(`invalid container id: ${JSON.stringify(containerId)}`);
    const driver = opts.driver ?? defaultDriver();
    if (driver === 'overlay' && !overlayAvailable())
      throw new BadStateError('the overlay storage driver needs overlayfs, which this kernel lacks', 'use --storage-driver vfs');
    return this.store.withStoreLock('shared', async () => {
      const lease = await this.store.withMetaLock(() => {
        const img = this.store.images.get(imageId);
        if (!img) throw new NotFoundError(`image ${shortId(imageId)} not found`);
        const old = this.lease(containerId);
        if (old && old.imageId !== imageId) throw new BadStateError(`container ${containerId} already has a root filesystem`);
        for (const l of img.layers)
          if (!this.store.snapshots.has(l.chainID)) throw new BadStateError(`image ${shortId(imageId)} is incomplete; load it again`);
        const lease: Lease = old ?? {
          containerId,
          imageId,
          chainIDs: img.layers.map((l) => l.chainID),
          driver,
          created: new Date().toISOString(),
        };
        const dir = this.store.layout.container(containerId);
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        if (!old) writeJsonAtomic(join(dir, 'lease.json'), lease); // the lease exists before anything it protects is used
        return lease;
      });
      const dir = this.store.layout.container(containerId);
      if (lease.driver === 'overlay') {
        mkdirSync(join(dir, 'upper'), { recursive: true, mode: 0o755 });
        mkdirSync(join(dir, 'work'), { recursive: true, mode: 0o700 });
      } else if (!existsSync(join(dir, 'rootfs'))) {
        const tmp = join(dir, 'rootfs.tmp');
        rmSync(tmp, { recursive: true, force: true });
        mkdirSync(tmp, { mode: 0o755 });
        const img = this.store.images.get(imageId)!;
        for (const l of img.layers)
          await unpackLayer(this.store.sys, this.store.content.open(l.digest), tmp, { whiteouts: 'apply', diffID: l.diffID });
        renameSync(tmp, join(dir, 'rootfs'));
      }
      return this.describe(lease);
    });
  }

  /** Mounts a prepared root filesystem on `target` (an existing directory). */
  mount(prepared: PreparedRootfs, target: string): void {
    if (prepared.driver === 'vfs') {
      this.store.sys.mount(prepared.rootfs, target, null, MS.BIND, null);
      return;
    }
    mountOverlay(this.store.sys, { lowerdirs: prepared.lowerdirs, upper: prepared.upper, work: prepared.work, target });
  }

  unmount(target: string): void {
    unmount(this.store.sys, target);
  }

  /** Deletes the container's writable layer and its lease (the image becomes collectable). */
  async remove(containerId: string): Promise<void> {
    if (!ID_RE.test(containerId)) throw new InvalidArgumentError(`invalid container id: ${JSON.stringify(containerId)}`);
    await this.store.withMetaLock(() => {
      const dir = this.store.layout.container(containerId);
      if (!existsSync(dir)) return;
      // The lease goes last: until then GC keeps the snapshots this directory's upper sits on.
      for (const n of ['upper', 'work', 'rootfs', 'rootfs.tmp']) rmSync(join(dir, n), { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    });
  }
}
