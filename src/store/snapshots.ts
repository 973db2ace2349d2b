/**
 * Unpacked layers, one per chain ID (after containerd's overlay snapshotter): `snapshots/<hex>/fs`
 * holds only that layer's changes in overlayfs form, so an image's root filesystem is an overlay of
 * its snapshots. A snapshot is unpacked into a temp directory and committed by one rename, so it
 * either exists complete or not at all; a killed unpack leaves only a `.tmp-*` directory for GC.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isErrno } from '../sys/errors.ts';
import type { Sys } from '../sys/types.ts';
import { unpackLayer } from '../unpack/unpack.ts';
import { fsyncDir } from './atomic.ts';
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

/** An unpacked snapshot not yet visible (see `SnapshotStore.unpack`). */
export interface PendingSnapshot {
  tmp: string;
  meta: SnapshotMeta;
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
    const [meta] = await this.commit([await this.unpack(chainID, parent, diffID, blob)]);
    return meta!;
  }

  /**
   * The first half of `create`: unpacks into a temp directory and returns it uncommitted, so that
   * the snapshots of one image can be committed together with a single syncfs (`commit`).
   * Until then the tree is invisible; the caller must commit or `discard` it.
   */
  async unpack(chainID: Digest, parent: Digest | null, diffID: Digest, blob: () => Readable): Promise<PendingSnapshot> {
    const tmp = join(this.layout.snapshotDir, `.tmp-${randomBytes(8).toString('hex')}`);
    mkdirSync(join(tmp, 'fs'), { recursive: true, mode: 0o755 });
    try {
      const res = await unpackLayer(this.sys, blob(), join(tmp, 'fs'), { whiteouts: 'overlay', diffID });
      const meta: SnapshotMeta = { chainID, parent, diffID, size: res.size, tarSize: res.tarSize, created: new Date().toISOString() };
      writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2) + '\n', { mode: 0o600 }); // made durable by commit's syncfs
      return { tmp, meta };
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Makes unpacked snapshots visible: one syncfs puts all their files on disk first (a syncfs per
   * snapshot waited for the disk once per layer), then each is renamed into place. A snapshot that
   * a concurrent process committed first is kept (theirs is as good as ours).
   */
  async commit(pending: PendingSnapshot[]): Promise<SnapshotMeta[]> {
    if (pending.length === 0) return [];
    try {
      const fd = this.sys.openat2(-100, pending[0]!.tmp, { flags: 0, resolve: 0 });
      try {
        this.sys.syncfs(fd); // the unpacked files reach the disk before any snapshot is visible
      } finally {
        this.sys.close(fd);
      }
    } catch (err) {
      this.discard(pending);
      throw err;
    }
    const out: SnapshotMeta[] = [];
    for (const [i, p] of pending.entries()) {
      try {
        renameSync(p.tmp, this.layout.snapshot(p.meta.chainID));
        out.push(p.meta);
      } catch (err) {
        rmSync(p.tmp, { recursive: true, force: true });
        if (!isErrno(err, 'ENOTEMPTY', 'EEXIST') || !this.has(p.meta.chainID)) {
          this.discard(pending.slice(i + 1));
          throw err;
        }
        out.push(this.meta(p.meta.chainID)!);
      }
    }
    fsyncDir(this.layout.snapshotDir);
    return out;
  }

  /**
   * Starts writing an unpacked snapshot to disk in the background (a syncfs on a thread-pool
   * thread), so that the disk works while the next layers download and the syncfs of `commit`
   * finds little left to wait for. Only an optimisation: `commit` still makes it durable.
   */
  writeBehind(p: PendingSnapshot): void {
    let fd: number;
    try {
      fd = this.sys.openat2(-100, p.tmp, { flags: 0, resolve: 0 });
    } catch {
      return;
    }
    this.sys
      .syncfsAsync(fd)
      .catch(() => {})
      .finally(() => this.sys.close(fd));
  }

  /** Deletes unpacked snapshots that will not be committed. */
  discard(pending: PendingSnapshot[]): void {
    for (const p of pending) rmSync(p.tmp, { recursive: true, force: true });
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
