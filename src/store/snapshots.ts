/**
 * Unpacked layers, one per chain ID (after containerd's overlay snapshotter): `snapshots/<hex>/fs`
 * holds only that layer's changes in overlayfs form, so an image's root filesystem is an overlay of
 * its snapshots. A snapshot is unpacked into a temp directory and committed by one rename, so it
 * either exists complete or not at all; a killed unpack leaves only a `.tmp-*` directory for GC.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isErrno } from '../sys/errors.ts';
import type { Sys } from '../sys/types.ts';
import { unpackLayer } from '../unpack/unpack.ts';
import { writeJsonAtomic, fsyncDir } from './atomic.ts';
import { isDigest, type Digest } from './digest.ts';
import type { StoreLayout } from './layout.ts';

export interface SnapshotMeta {
  chainID: Digest;
  parent: Digest | null;
  diffID: Digest;
  /** Bytes of file content in this layer. */
  size: number;
  /** Bytes of the layer's uncompressed tar. */
  tarSize: number;
  created: string;
}

export class SnapshotStore {
  readonly layout: StoreLayout;
  readonly sys: Sys;
  constructor(layout: StoreLayout, sys: Sys) {
    this.layout = layout;
    this.sys = sys;
  }

  has(chainID: Digest): boolean {
    return existsSync(join(this.layout.snapshot(chainID), 'meta.json'));
  }

  /** The overlay lower directory of a snapshot. */
  fsPath(chainID: Digest): string {
    return join(this.layout.snapshot(chainID), 'fs');
  }

  meta(chainID: Digest): SnapshotMeta | undefined {
    try {
      return JSON.parse(readFileSync(join(this.layout.snapshot(chainID), 'meta.json'), 'utf8')) as SnapshotMeta;
    } catch {
      return undefined;
    }
  }

  list(): Digest[] {
    return readdirSync(this.layout.snapshotDir)
      .map((n) => `sha256:${n}`)
      .filter((d): d is Digest => isDigest(d) && this.has(d));
  }

  /**
   * Unpacks `blob` as the snapshot `chainID` unless it exists already. The layer must hash to
   * `diffID`; any failure (hostile entry, corrupt data, mismatch) discards the partial tree.
   */
  async create(chainID: Digest, parent: Digest | null, diffID: Digest, blob: () => Readable): Promise<SnapshotMeta> {
    const existing = this.meta(chainID);
    if (existing) return existing;
    const tmp = join(this.layout.snapshotDir, `.tmp-${randomBytes(8).toString('hex')}`);
    mkdirSync(join(tmp, 'fs'), { recursive: true, mode: 0o755 });
    try {
      const res = await unpackLayer(this.sys, blob(), join(tmp, 'fs'), { whiteouts: 'overlay', diffID });
      const meta: SnapshotMeta = { chainID, parent, diffID, size: res.size, tarSize: res.tarSize, created: new Date().toISOString() };
      writeJsonAtomic(join(tmp, 'meta.json'), meta);
      const fd = this.sys.openat2(-100, tmp, { flags: 0, resolve: 0 });
      try {
        this.sys.syncfs(fd); // the unpacked files reach the disk before the snapshot is visible
      } finally {
        this.sys.close(fd);
      }
      try {
        renameSync(tmp, this.layout.snapshot(chainID));
      } catch (err) {
        // A concurrent process committed the same chain first: theirs is as good as ours.
        if (!isErrno(err, 'ENOTEMPTY', 'EEXIST') || !this.has(chainID)) throw err;
        rmSync(tmp, { recursive: true, force: true });
        return this.meta(chainID)!;
      }
      fsyncDir(this.layout.snapshotDir);
      return meta;
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /** Removes a snapshot: first renamed out of sight (atomic), then deleted. */
  remove(chainID: Digest): void {
    const dir = this.layout.snapshot(chainID);
    if (!existsSync(dir)) return;
    const tmp = join(this.layout.snapshotDir, `.tmp-rm-${randomBytes(8).toString('hex')}`);
    renameSync(dir, tmp);
    rmSync(tmp, { recursive: true, force: true });
  }

  /** Deletes leftovers of interrupted unpacks; only safe under the exclusive store lock. */
  removeTemps(): void {
    for (const n of readdirSync(this.layout.snapshotDir))
      if (n.startsWith('.tmp-')) rmSync(join(this.layout.snapshotDir, n), { recursive: true, force: true });
  }
}
