/**
 * A directory tree as a tar stream (for squash): sorted, deterministic, hardlinks as links,
 * devices with their numbers, ownership, modes, nanosecond mtimes and xattrs (binary-exact) kept.
 * The tree is trusted (berth made it) and read with lstat only, never following a symlink.
 */
import { lstatSync, readdirSync, readlinkSync, createReadStream, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { Sys } from '../sys/types.ts';
import { encodeTarHeader, TAR_END, tarPadding, type EntryType, type TarEntry } from '../unpack/tar-writer.ts';

/** Device numbers of an lstat with bigint: (shared with the build's layer diffs). */
export function major(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}
export function minor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

/** The tar entry type of a file; undefined for what is not archived (sockets). */
export function typeOf(st: BigIntStats): EntryType | undefined {
  if (st.isDirectory()) return 'directory';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isFIFO()) return 'fifo';
  return undefined; // sockets are not archived
}

/** The header fields every entry takes from its lstat (bigint): mode bits, owner, nanosecond mtime. */
export function statFields(st: BigIntStats): Pick<TarEntry, 'mode' | 'uid' | 'gid' | 'mtime' | 'mtimeNsec'> {
  return {
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime: Number(st.mtimeNs / 1_000_000_000n),
    mtimeNsec: Number(st.mtimeNs % 1_000_000_000n),
  };
}

/**
 * The records of one entry that is not a directory (shared with the build's layer diffs): a hardlink
 * to the first path seen of the same inode (`links`, keyed by device and inode), a file with its
 * content (zero-padded if it shrank while read: the archive stays valid), a symlink, a device, a
 * fifo. `onContent` hears the size of each file whose content is archived (hardlinks once).
 */
export async function* leafEntry(
  abs: string,
  rel: string,
  st: BigIntStats,
  e: TarEntry,
  links: Map<string, string>,
  onContent?: (size: number) => void,
): AsyncGenerator<Buffer> {
  if (e.type === 'file' && st.nlink > 1n) {
    const key = `${st.dev}:${st.ino}`;
    const first = links.get(key);
    if (first) {
      yield encodeTarHeader({ ...e, type: 'link', linkname: first, xattrs: undefined });
      return;
    }
    links.set(key, rel);
  }
  if (e.type === 'file') {
    const size = Number(st.size);
    onContent?.(size);
    yield encodeTarHeader({ ...e, size });
    let n = 0;
    for await (const c of createReadStream(abs) as AsyncIterable<Buffer>) {
      const chunk = n + c.length > size ? c.subarray(0, size - n) : c;
      n += chunk.length;
      yield chunk;
    }
    if (n < size) yield Buffer.alloc(size - n);
    yield tarPadding(size);
  } else if (e.type === 'symlink') {
    yield encodeTarHeader({ ...e, linkname: readlinkSync(abs) });
  } else if (e.type === 'character-device' || e.type === 'block-device') {
    yield encodeTarHeader({ ...e, devmajor: major(st.rdev), devminor: minor(st.rdev) });
  } else {
    yield encodeTarHeader(e);
  }
}

export async function* treeToTar(sys: Sys, root: string): AsyncGenerator<Buffer> {
  const links = new Map<string, string>();
  async function* entry(rel: string): AsyncGenerator<Buffer> {
    const abs = rel === '' ? root : join(root, rel);
    const st = lstatSync(abs, { bigint: true });
    const type = typeOf(st);
    if (!type) return;
    const name = rel === '' ? './' : rel;
    const xattrs = new Map<string, Buffer>();
    for (const x of sys.llistxattr(abs)) {
      if (x.startsWith('trusted.overlay.')) continue;
      const v = sys.lgetxattr(abs, x);
      if (v) xattrs.set(x, v);
    }
    const e: TarEntry = { name, type, ...statFields(st), xattrs };
    if (type !== 'directory') return yield* leafEntry(abs, rel, st, e, links);
    yield encodeTarHeader(e);
    for (const child of readdirSync(abs).sort()) yield* entry(rel === '' ? child : `${rel}/${child}`);
  }
  yield* entry('');
  yield TAR_END;
}
