/**
 * A small tar *writer* (ustar + PAX). tar-stream's packer cannot write binary PAX values (it
 * encodes them as UTF-8 text), and squash must carry `security.capability` and other xattrs
 * byte-exact; so headers are encoded here, PAX records by `encodePaxRecords`.
 */
import { encodePaxRecords } from './pax.ts';

export type EntryType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

export interface TarEntry {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  /** Whole seconds since the epoch. */
  mtime: number;
  /** Nanoseconds beyond `mtime`, kept in a PAX record when non-zero. */
  mtimeNsec?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
}

const TYPEFLAG: Record<EntryType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
};

/** Two zero blocks: the end of an archive. */
export const TAR_END = Buffer.alloc(1024);

/** Zero bytes that pad `size` bytes of data to the next 512-byte block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((512 - (size % 512)) % 512);
}

function octal(buf: Buffer, off: number, len: number, value: number): void {
  buf.write(value.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

function block(name: Buffer, type: string, e: { mode: number; uid: number; gid: number; size: number; mtime: number }, link: Buffer, dev: [number, number]): Buffer {
  const h = Buffer.alloc(512);
  name.copy(h, 0, 0, Math.min(100, name.length));
  octal(h, 100, 8, e.mode & 0o7777);
  octal(h, 108, 8, Math.min(e.uid, 0o7777777));
  octal(h, 116, 8, Math.min(e.gid, 0o7777777));
  octal(h, 124, 12, Math.min(e.size, 0o77777777777));
  octal(h, 136, 12, Math.max(0, Math.min(Math.floor(e.mtime), 0o77777777777)));
  h.write(type, 156, 1, 'latin1');
  link.copy(h, 157, 0, Math.min(100, link.length));
  h.write('ustar\x0000', 257, 8, 'latin1');
  octal(h, 329, 8, dev[0]);
  octal(h, 337, 8, dev[1]);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return h;
}

/** The header block(s) of one entry: a PAX extended header first when ustar cannot hold it all. */
export function encodeTarHeader(e: TarEntry): Buffer {
  const name = e.type === 'directory' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
  const nameBuf = Buffer.from(name, 'utf8');
  const linkBuf = Buffer.from(e.linkname ?? '', 'utf8');
  const size = e.type === 'file' ? (e.size ?? 0) : 0;
  const pax: [string, Buffer | string][] = [];
  const ascii = (b: Buffer) => b.every((c) => c < 0x80);
  if (nameBuf.length > 100 || !ascii(nameBuf)) pax.push(['path', name]);
  if (linkBuf.length > 100 || !ascii(linkBuf)) pax.push(['linkpath', e.linkname ?? '']);
  if (e.uid > 0o7777777) pax.push(['uid', String(e.uid)]);
  if (e.gid > 0o7777777) pax.push(['gid', String(e.gid)]);
  if (size > 0o77777777777) pax.push(['size', String(size)]);
  if (e.mtimeNsec) pax.push(['mtime', `${e.mtime}.${String(e.mtimeNsec).padStart(9, '0')}`.replace(/0+$/, '')]);
  for (const [k, v] of e.xattrs ?? []) pax.push([`SCHILY.xattr.${k}`, v]);
  const main = block(nameBuf, TYPEFLAG[e.type], { ...e, size }, linkBuf, [e.devmajor ?? 0, e.devminor ?? 0]);
  if (pax.length === 0) return main;
  const data = encodePaxRecords(pax);
  const paxName = Buffer.from(`PaxHeaders/${name.split('/').filter(Boolean).pop() ?? 'root'}`.slice(0, 99), 'utf8');
  const head = block(paxName, 'x', { mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: Math.floor(e.mtime) }, Buffer.alloc(0), [0, 0]);
  return Buffer.concat([head, data, tarPadding(data.length), main]);
}
