/**
 * The store under the engine root: content, snapshots, image metadata and container leases, plus
 * the locks that make concurrent berth processes safe. Independent of who runs containers: a
 * runtime only uses the `ContainerRootfs` interface (rootfs.ts).
 */
import { existsSync } from 'node:fs';
import type { Sys } from '../sys/types.ts';
import { getSys } from '../sys/index.ts';
import { ContentStore } from './content.ts';
import { ImageIndex } from './images.ts';
import { StoreLayout } from './layout.ts';
import { withFlock, type LockMode } from './lock.ts';
import { SnapshotStore } from './snapshots.ts';

export class Store {
  readonly layout: StoreLayout;
  readonly sys: Sys;
  readonly content: ContentStore;
  readonly snapshots: SnapshotStore;
  readonly images: ImageIndex;

  private constructor(root: string, sys: Sys) {
    this.layout = new StoreLayout(root);
    this.sys = sys;
    this.content = new ContentStore(this.layout);
    this.snapshots = new SnapshotStore(this.layout, sys);
    this.images = new ImageIndex(this.layout);
  }

  /** Opens (creating if needed) the store at `root`. */
  static async open(root: string, opts: { sys?: Sys } = {}): Promise<Store> {
    const store = new Store(root, opts.sys ?? (await getSys()));
    store.layout.ensure();
    return store;
  }

  /** True when `root` already holds a store (read-only commands need not create one). */
  static exists(root: string): boolean {
    return existsSync(new StoreLayout(root).imageDir);
  }

  /** The store lock: shared while adding content, exclusive for GC. */
  withStoreLock<T>(mode: LockMode, fn: () => Promise<T> | T): Promise<T> {
    return withFlock(this.sys, this.layout.storeLock, mode, fn);
  }

  /** The meta lock: around read-modify-write of records, tags and leases. */
  withMetaLock<T>(fn: () => Promise<T> | T): Promise<T> {
    return withFlock(this.sys, this.layout.metaLock, 'exclusive', fn);
  }
}
