/** Test helpers: tar archives built in memory (tar-stream's packer, and berth's writer for PAX). */
import tarStream from 'tar-stream';
import { encodeTarHeader, TAR_END, tarPadding, type TarEntry } from '../../../src/unpack/tar-writer.ts';

export interface E {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  body?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  mtime?: Date;
}

/** A tar of `entries`, made by tar-stream's packer. */
export async function makeTar(entries: E[]): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? new Date(1_600_000_000_000),
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
      ...(e.devmajor !== undefined ? { devmajor: e.devmajor, devminor: e.devminor ?? 0 } : {}),
    };
    if (type === 'file') pack.entry(header, e.body ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** A tar written with berth's own writer (binary PAX xattrs). */
export function makePaxTar(entries: { entry: TarEntry; body?: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { entry, body } of entries) {
    parts.push(encodeTarHeader({ ...entry, size: body?.length ?? 0 }));
    if (body) parts.push(body, tarPadding(body.length));
  }
  parts.push(TAR_END);
  return Buffer.concat(parts);
}

/** A VFS_CAP_REVISION_2 capability blob (cap_net_raw), full of NUL and high bytes. */
export const CAP_NET_RAW = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe]);
