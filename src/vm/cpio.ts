/**
 * A writer for the "newc" cpio format, the one the kernel unpacks as an initramfs. Output is
 * deterministic (inode numbers in order, mtime 0) so the same content always has the same
 * digest, which is what the initramfs cache is keyed by.
 */

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

export type CpioEntry =
  | { type: 'file'; path: string; data: Uint8Array; mode?: number }
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; major: number; minor: number; mode?: number };

const TRAILER = 'TRAILER!!!';

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function header(ino: number, mode: number, size: number, nameSize: number, rdev: [number, number]): string {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  const fields = [ino, mode, 0, 0, mode & S_IFDIR ? 2 : 1, 0, size, 0, 0, rdev[0], rdev[1], nameSize, 0];
  return '070701' + fields.map(hex8).join('');
}

function normalize(path: string): string {
  const p = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (p === '' || p.split('/').some((c) => c === '..' || c === '.' || c === '')) throw new RangeError(`bad cpio path: ${path}`);
  return p;
}

/** The archive for `entries`, in the order given (parents must come before their children). */
export function cpioArchive(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (name: string, mode: number, data: Uint8Array, rdev: [number, number]): void => {
    const nameBuf = Buffer.from(`${name}\0`);
    const head = Buffer.from(header(ino++, mode, data.length, nameBuf.length, rdev), 'ascii');
    parts.push(head, nameBuf, Buffer.alloc(pad4(head.length + nameBuf.length)));
    if (data.length) parts.push(Buffer.from(data.buffer, data.byteOffset, data.length), Buffer.alloc(pad4(data.length)));
  };
  const none = new Uint8Array(0);
  for (const e of entries) {
    const name = normalize(e.path);
    switch (e.type) {
      case 'file':
        push(name, S_IFREG | ((e.mode ?? 0o644) & 0o7777), e.data, [0, 0]);
        break;
      case 'dir':
        push(name, S_IFDIR | ((e.mode ?? 0o755) & 0o7777), none, [0, 0]);
        break;
      case 'symlink':
        push(name, S_IFLNK | 0o777, Buffer.from(e.target), [0, 0]);
        break;
      case 'chardev':
        push(name, S_IFCHR | ((e.mode ?? 0o600) & 0o7777), none, [e.major, e.minor]);
        break;
    }
  }
  push(TRAILER, 0, none, [0, 0]);
  return Buffer.concat(parts);
}

/** Directory entries for every parent of `paths` not already listed, parents first. */
export function withParents(entries: CpioEntry[]): CpioEntry[] {
  const seen = new Set(entries.filter((e) => e.type === 'dir').map((e) => normalize(e.path)));
  const out: CpioEntry[] = [];
  for (const e of entries) {
    const parts = normalize(e.path).split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!seen.has(dir)) {
        seen.add(dir);
        out.push({ type: 'dir', path: dir });
      }
    }
    out.push(e);
  }
  return out;
}
