/**
 * Applies one layer (a tar stream, any supported compression) to a directory, streaming: entries
 * are written as they arrive and no file body is held in memory. Ownership, modes (setuid
 * included), mtimes, xattrs (binary-exact, from raw PAX records), hardlinks, symlinks and device
 * nodes are preserved. Whiteouts are either converted to overlayfs form (the target is one lower
 * directory of an overlay stack) or applied (the target is a merged tree: the vfs driver, squash).
 * The caller owns the target: on any error it must discard it (the unpack stops at the first bad
 * entry, so a partial tree is never committed).
 */
import { writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { BerthError } from '../common/errors.ts';
import { AT, O, RESOLVE_STRICT, S, fdPath, type Sys, type Timespec } from '../sys/types.ts';
import { isErrno } from '../sys/errors.ts';
import { decompressed } from './compression.ts';
import { release } from '../common/lent.ts';
import { CorruptLayerError, UnsafeLayerError } from './errors.ts';
import { cleanEntryPath, OPAQUE_MARKER, splitPath, WHITEOUT_PREFIX } from './paths.ts';
import { paxXattrs, type PaxRecords } from './pax.ts';
import { TarReader, type TarHandler, type TarHeader } from './tar-reader.ts';
import { SafeTree } from './tree.ts';

export type WhiteoutMode = 'overlay' | 'apply';

export interface UnpackOptions {
  whiteouts: WhiteoutMode;
  /** Expected diffID (`sha256:…` of the uncompressed tar): a mismatch fails the unpack. */
  diffID?: string;
}

export interface UnpackResult {
  diffID: string;
  /** Bytes of regular file content written (hardlinks counted once). */
  size: number;
  /** Bytes of the uncompressed tar (what a Docker archive stores for this layer). */
  tarSize: number;
  entries: number;
}

/** xattrs berth never takes from a layer: overlayfs would interpret them. */
function allowedXattr(name: string): boolean {
  return !name.startsWith('trusted.overlay.') && !name.startsWith('user.overlay.');
}

function paxNum(pax: PaxRecords | null, key: string): number | undefined {
  const v = pax?.get(key);
  if (!v) return undefined;
  const n = Number.parseInt(v.toString('latin1'), 10);
  return Number.isFinite(n) ? n : undefined;
}

function paxTime(pax: PaxRecords | null, key: string): Timespec | undefined {
  const v = pax?.get(key)?.toString('latin1');
  if (!v || !/^-?\d+(\.\d+)?$/.test(v)) return undefined;
  const [s, frac = ''] = v.split('.');
  return { sec: Number.parseInt(s!, 10), nsec: Number.parseInt((frac + '000000000').slice(0, 9), 10) };
}

interface Meta {
  uid: number;
  gid: number;
  mode: number;
  mtime: Timespec;
  atime: Timespec;
  xattrs: Map<string, Buffer>;
}

/** Writes the entries a `TarReader` reports, synchronously, as they are parsed. */
class LayerWriter implements TarHandler {
  readonly tree: SafeTree;
  readonly sys: Sys;
  readonly mode: WhiteoutMode;
  /** Paths written by this layer (apply mode: an opaque marker keeps them). */
  private written = new Set<string>();
  private dirTimes: { rel: string; atime: Timespec; mtime: Timespec }[] = [];
  /** The regular file whose data is arriving, if any. */
  private open: { fd: number; dfd: number; base: string; meta: Meta } | undefined;
  size = 0;
  entries = 0;

  constructor(sys: Sys, target: string, mode: WhiteoutMode) {
    this.sys = sys;
    this.tree = new SafeTree(sys, target);
    this.mode = mode;
  }

  entry(h: TarHeader, pax: PaxRecords | null): void {
    this.entries++;
    const raw = h.name;
    const rel = cleanEntryPath(raw);
    const mtime = paxTime(pax, 'mtime') ?? { sec: h.mtime, nsec: 0 };
    const meta: Meta = {
      uid: paxNum(pax, 'uid') ?? h.uid,
      gid: paxNum(pax, 'gid') ?? h.gid,
      mode: h.mode & 0o7777,
      mtime,
      atime: paxTime(pax, 'atime') ?? mtime,
      xattrs: paxXattrs(pax),
    };
    if (rel === '') {
      if (h.type !== 'directory') throw new UnsafeLayerError(raw, 'the layer root must be a directory');
      this.finishDir(this.tree.rootFd, '', '', meta);
      return;
    }
    const { dir, base } = splitPath(rel);
    const dfd = this.tree.dir(dir, raw);
    if (base.startsWith(WHITEOUT_PREFIX)) return this.whiteout(dfd, dir, base, raw);
    this.written.add(rel);
    switch (h.type) {
      case 'directory':
        this.replace(dfd, base, () => this.sys.mkdirat(dfd, base, 0o700), true);
        this.finishDir(dfd, base, rel, meta);
        return;
      case 'file':
      case 'contiguous-file': {
        const flags = O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC;
        const fd = this.replace(dfd, base, () => this.sys.openat2(dfd, base, { flags, mode: 0o600, resolve: RESOLVE_STRICT }))!;
        this.open = { fd, dfd, base, meta };
        return;
      }
      case 'symlink':
        this.replace(dfd, base, () => this.sys.symlinkat(h.linkname ?? '', dfd, base));
        this.sys.fchownat(dfd, base, meta.uid, meta.gid, AT.SYMLINK_NOFOLLOW);
        this.setXattrs(dfd, base, meta.xattrs);
        this.sys.utimensat(dfd, base, meta.atime, meta.mtime, AT.SYMLINK_NOFOLLOW);
        return;
      case 'link': {
        const target = cleanEntryPath(h.linkname ?? '', raw);
        if (target === '') throw new UnsafeLayerError(raw, 'hardlink to the layer root');
        const t = splitPath(target);
        // The target is looked up again after a replacement: removing what was at `base` may
        // have removed it.
        this.replace(dfd, base, () => {
          const tfd = this.tree.dir(t.dir, raw);
          const st = this.tree.lstat(tfd, t.base);
          if (!st) throw new UnsafeLayerError(raw, `hardlink target '${h.linkname}' is not in this layer`);
          if (st.isDirectory()) throw new UnsafeLayerError(raw, 'hardlink to a directory');
          this.sys.linkat(tfd, t.base, dfd, base, 0);
        });
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        const kind = h.type === 'fifo' ? S.IFIFO : h.type === 'block-device' ? S.IFBLK : S.IFCHR;
        this.replace(dfd, base, () => this.sys.mknodat(dfd, base, kind | 0o600, h.devmajor, h.devminor));
        this.sys.fchownat(dfd, base, meta.uid, meta.gid, AT.SYMLINK_NOFOLLOW);
        this.sys.fchmodat(dfd, base, meta.mode);
        this.setXattrs(dfd, base, meta.xattrs);
        this.sys.utimensat(dfd, base, meta.atime, meta.mtime, AT.SYMLINK_NOFOLLOW);
        return;
      }
      default:
        throw new UnsafeLayerError(raw, `unsupported tar entry type '${h.type}'`);
    }
  }

  data(chunk: Buffer): void {
    const f = this.open;
    if (!f) return; // the data of links, devices and whiteouts is not used
    for (let off = 0; off < chunk.length; ) off += writeSync(f.fd, chunk, off, chunk.length - off);
    this.size += chunk.length;
  }

  end(): void {
    const f = this.open;
    if (!f) return;
    this.open = undefined;
    try {
      // chown clears setuid/setgid and security.capability: mode and xattrs come after it.
      this.sys.fchownat(f.dfd, f.base, f.meta.uid, f.meta.gid, AT.SYMLINK_NOFOLLOW);
      this.sys.fchmodat(f.dfd, f.base, f.meta.mode);
      this.setXattrs(f.dfd, f.base, f.meta.xattrs);
      this.sys.futimens(f.fd, f.meta.atime, f.meta.mtime);
    } finally {
      this.sys.close(f.fd);
    }
  }

  /** Closes the file being written after a failure (the caller discards the tree). */
  abort(): void {
    if (this.open) this.sys.close(this.open.fd);
    this.open = undefined;
  }

  /**
   * Creates `base` in `dfd` with `make`, which must fail with EEXIST when the name is taken (all
   * *at() creations and O_EXCL do): then what is there is removed and `make` runs once more.
   * With `keepDir`, an existing directory stays instead (a directory entry only updates its
   * metadata). A snapshot starts empty, so the common case costs the creation alone, with no
   * lookup before it.
   */
  private replace<T>(dfd: number, base: string, make: () => T, keepDir = false): T | undefined {
    try {
      return make();
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    if (keepDir && this.tree.lstat(dfd, base)?.isDirectory()) return undefined;
    this.tree.remove(dfd, base);
    return make();
  }

  private finishDir(dfd: number, base: string, rel: string, meta: Meta): void {
    if (base === '') {
      this.sys.fchownat(dfd, '', meta.uid, meta.gid, AT.EMPTY_PATH);
      this.sys.fchmodat(dfd, '.', meta.mode);
      this.setXattrs(dfd, '', meta.xattrs);
    } else {
      this.sys.fchownat(dfd, base, meta.uid, meta.gid, AT.SYMLINK_NOFOLLOW);
      this.sys.fchmodat(dfd, base, meta.mode);
      this.setXattrs(dfd, base, meta.xattrs);
    }
    // Directory times are set last: creating children would change them again.
    this.dirTimes.push({ rel, atime: meta.atime, mtime: meta.mtime });
  }

  private setXattrs(dfd: number, base: string, xattrs: Map<string, Buffer>): void {
    for (const [name, value] of xattrs) if (allowedXattr(name)) this.sys.lsetxattr(fdPath(dfd, base), name, value);
  }

  private whiteout(dfd: number, dir: string, base: string, raw: string): void {
    if (base === OPAQUE_MARKER) {
      if (this.mode === 'overlay') this.sys.lsetxattr(fdPath(dfd), 'trusted.overlay.opaque', Buffer.from('y'));
      else this.tree.clear(dfd, (child) => this.written.has(dir === '' ? child : `${dir}/${child}`));
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return; // aufs metadata (.wh..wh.plnk, ...)
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') throw new UnsafeLayerError(raw, 'malformed whiteout');
    this.tree.remove(dfd, name);
    if (this.mode === 'overlay') this.sys.mknodat(dfd, name, S.IFCHR, 0, 0);
  }

  finish(): void {
    for (const d of this.dirTimes.reverse()) {
      const open = this.tree.cached(d.rel);
      if (open !== undefined) {
        this.sys.futimens(open, d.atime, d.mtime);
        continue;
      }
      let fd: number;
      try {
        fd = this.sys.openat2(this.tree.rootFd, d.rel, {
          flags: O.RDONLY | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC,
          resolve: RESOLVE_STRICT,
        });
      } catch {
        continue; // removed or replaced later in the layer
      }
      try {
        this.sys.futimens(fd, d.atime, d.mtime);
      } finally {
        this.sys.close(fd);
      }
    }
  }
}

/** Unpacks `blob` (tar, tar+gzip or tar+zstd) into the existing directory `target`. */
export async function unpackLayer(sys: Sys, blob: Readable, target: string, opts: UnpackOptions): Promise<UnpackResult> {
  const writer = new LayerWriter(sys, target, opts.whiteouts);
  let stream: Readable | undefined;
  let reader: TarReader;
  try {
    stream = (await decompressed(blob)).stream;
    reader = new TarReader(writer);
    // One turn of the event loop per chunk: every entry in it is written synchronously.
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      reader.write(chunk);
      release(chunk); // an uncompressed layer's chunks may be lent memory (compression.ts)
    }
    reader.end();
    writer.finish();
  } catch (err) {
    (stream ?? blob).destroy();
    writer.abort();
    if (err instanceof Error && !(err instanceof BerthError) && /tar|header|gunzip|incorrect|unexpected end|zstd/i.test(err.message))
      throw new CorruptLayerError(`layer is not a valid tar archive: ${err.message.split('\n')[0]}`, err);
    throw err;
  } finally {
    writer.tree.close();
  }
  const diffID = reader.digest();
  if (opts.diffID && opts.diffID !== diffID)
    throw new CorruptLayerError(`layer content does not match its diffID: expected ${opts.diffID}, got ${diffID}`);
  return { diffID, size: writer.size, tarSize: reader.bytes, entries: writer.entries };
}
