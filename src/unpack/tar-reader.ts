/**
 * A synchronous tar reader for the unpacker. tar-stream hands out every entry as a stream of its
 * own, and a distribution layer has thousands of small files: the asynchronous hand-offs per entry
 * and per body cost more than creating the files. This reader is fed chunks and calls its handler
 * synchronously for every header and every piece of body in them, so a whole chunk of entries is
 * written in one turn of the event loop.
 *
 * It reads what tar-stream reads, the same way (it is checked against tar-stream in the tests):
 * ustar and GNU headers, base-256 numbers, GNU long names, PAX `path`/`linkpath`/`size` (from an
 * entry's own extended header, global records merged in), directories carry no data, zero blocks
 * are skipped, the same errors. It also keeps each entry's PAX records as bytes (tar-stream decodes
 * them as UTF-8, which corrupts binary xattrs such as `security.capability`) and hashes every byte,
 * which gives the layer's diffID in the same pass.
 */
import { createHash } from 'node:crypto';
import { CorruptLayerError } from './errors.ts';
import { parsePaxRecords, type PaxRecords } from './pax.ts';

export type TarType =
  | 'file'
  | 'link'
  | 'symlink'
  | 'character-device'
  | 'block-device'
  | 'directory'
  | 'fifo'
  | 'contiguous-file';

export interface TarHeader {
  name: string;
  /** null for a type flag berth does not know (sparse files, volume labels, ...). */
  type: TarType | null;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Whole seconds since the epoch (a PAX `mtime` carries the fraction). */
  mtime: number;
  linkname: string | null;
  devmajor: number;
  devminor: number;
}

export interface TarHandler {
  /**
   * A new entry. `pax` holds its PAX records, byte-exact: its own extended header merged over the
   * global ones, or the global ones alone.
   */
  entry(header: TarHeader, pax: PaxRecords | null): void;
  /** A piece of the current entry's data; valid only during the call. */
  data(chunk: Buffer): void;
  /** The current entry is complete (called for every entry, with data or not). */
  end(): void;
}

const TYPES: Record<number, TarType> = {
  0: 'file',
  1: 'link',
  2: 'symlink',
  3: 'character-device',
  4: 'block-device',
  5: 'directory',
  6: 'fifo',
  7: 'contiguous-file',
};
const PAX = 72; // 'x'
const PAX_GLOBAL = 55; // 'g'
const GNU_LONG_LINK = 27; // 'K'
const GNU_LONG_PATH = new Set([28, 30]); // 'L', 'N'
const MAX_LONG_HEADER = 4 << 20;
const MAX_PAX_HEADER = 1 << 20;
const USTAR = Buffer.from('ustar\0', 'latin1');
const GNU = Buffer.from('ustar ', 'latin1');
const GNU_VERSION = Buffer.from(' \0', 'latin1');

function corrupt(why: string): CorruptLayerError {
  return new CorruptLayerError(`layer is not a valid tar archive: ${why}`);
}

function cksum(b: Buffer): number {
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += b[i]!;
  for (let i = 156; i < 512; i++) sum += b[i]!;
  return sum;
}

function parse256(b: Buffer): number {
  const positive = b[0] === 0x80;
  if (!positive && b[0] !== 0xff) return Number.NaN;
  let sum = 0;
  for (let i = 1; i < b.length; i++) sum = sum * 256 + (positive ? b[i]! : 0xff - b[i]!);
  return positive ? sum : -sum;
}

/** A numeric field: octal text (leading spaces and NULs skipped, ended by a space) or base-256. */
function num(block: Buffer, off: number, len: number): number {
  const f = block.subarray(off, off + len);
  if (f[0]! & 0x80) return parse256(f);
  let i = 0;
  while (i < f.length && f[i] === 0x20) i++;
  let end = f.indexOf(0x20, i);
  if (end < 0) end = f.length;
  while (i < end && f[i] === 0) i++;
  if (i === end) return 0;
  return Number.parseInt(f.toString('latin1', i, end), 8);
}

/** A string field, up to its first NUL. */
function str(block: Buffer, off: number, len: number): string {
  let end = block.indexOf(0, off);
  if (end < 0 || end > off + len) end = off + len;
  return block.toString('utf8', off, end);
}

function paxString(p: PaxRecords | null, key: string): string | undefined {
  const v = p?.get(key);
  return v && v.length > 0 ? v.toString('utf8') : undefined;
}

/** The bytes after `size` bytes of data up to the next 512-byte boundary. */
function padding(size: number): number {
  const r = size % 512;
  return r === 0 ? 0 : 512 - r;
}

export class TarReader {
  /** sha256 of every byte written: the layer's diffID. */
  readonly hash = createHash('sha256');
  bytes = 0;
  private readonly handler: TarHandler;
  private readonly head = Buffer.alloc(512);
  private fill = 0;
  /** What the next `left` bytes are: entry data, a long header's body, or padding to skip. */
  private mode: 'header' | 'data' | 'long' | 'skip' = 'header';
  private left = 0;
  private after = 0;
  private long: Buffer[] = [];
  private longType = 0;
  private gnuPath: string | null = null;
  private gnuLink: string | null = null;
  private pax: PaxRecords | null = null;
  private global: PaxRecords | null = null;

  constructor(handler: TarHandler) {
    this.handler = handler;
  }

  /** Parses `chunk`, calling the handler for everything complete in it. Throws on a bad archive. */
  write(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      if (this.mode === 'header') {
        if (this.fill === 0 && n - pos >= 512) {
          this.header(chunk.subarray(pos, pos + 512));
          pos += 512;
          continue;
        }
        const k = Math.min(512 - this.fill, n - pos);
        chunk.copy(this.head, this.fill, pos, pos + k);
        this.fill += k;
        pos += k;
        if (this.fill === 512) {
          this.fill = 0;
          this.header(this.head);
        }
        continue;
      }
      const k = Math.min(this.left, n - pos);
      if (this.mode === 'data') this.handler.data(chunk.subarray(pos, pos + k));
      else if (this.mode === 'long') this.long.push(Buffer.from(chunk.subarray(pos, pos + k)));
      this.left -= k;
      pos += k;
      if (this.left === 0) this.finishPart();
    }
  }

  /** The input is complete: anything but a whole number of entries is an error. */
  end(): void {
    if (this.mode !== 'header' || this.fill !== 0) throw corrupt('Unexpected end of data');
  }

  /** The diffID of everything written, `sha256:<hex>`. */
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }

  private finishPart(): void {
    const mode = this.mode;
    this.mode = 'header';
    if (mode === 'data') this.handler.end();
    else if (mode === 'long') this.decodeLong();
    if (mode !== 'skip' && this.after > 0) {
      this.mode = 'skip';
      this.left = this.after;
    }
    this.after = 0;
  }

  private decodeLong(): void {
    const body = Buffer.concat(this.long);
    this.long = [];
    if (this.longType === PAX) this.pax = parsePaxRecords(body);
    else if (this.longType === PAX_GLOBAL) this.global = new Map([...(this.global ?? []), ...parsePaxRecords(body)]);
    else if (this.longType === GNU_LONG_LINK) this.gnuLink = str(body, 0, body.length);
    else this.gnuPath = str(body, 0, body.length);
  }

  private header(b: Buffer): void {
    const sum = cksum(b);
    if (sum === 8 * 32) return; // a zero block (end-of-archive marker, or padding): skipped
    if (sum !== num(b, 148, 8)) throw corrupt('Invalid tar header. Maybe the tar is corrupted or it needs to be gunzipped?');
    let name = str(b, 0, 100);
    if (b.compare(USTAR, 0, 6, 257, 263) === 0) {
      if (b[345] !== 0) name = `${str(b, 345, 155)}/${name}`;
    } else if (!(b.compare(GNU, 0, 6, 257, 263) === 0 && b.compare(GNU_VERSION, 0, 2, 263, 265) === 0)) {
      throw corrupt('Invalid tar header: unknown format.');
    }
    const flag = b[156] === 0 ? 0 : b[156]! - 48;
    let size = num(b, 124, 12);
    if (flag === PAX || flag === PAX_GLOBAL || flag === GNU_LONG_LINK || GNU_LONG_PATH.has(flag)) {
      if ((flag === PAX || flag === PAX_GLOBAL) && size > MAX_PAX_HEADER) throw corrupt('PAX header larger than 1 MiB');
      if (size > MAX_LONG_HEADER) throw corrupt('Header exceeds max size');
      if (!(size >= 0)) throw corrupt('Invalid header');
      this.longType = flag;
      this.long = [];
      this.after = padding(size);
      if (size === 0) {
        this.mode = 'long';
        this.finishPart();
        return;
      }
      this.mode = 'long';
      this.left = size;
      return;
    }
    let linkname = b[157] === 0 ? null : str(b, 157, 100);
    if (this.gnuPath !== null) name = this.gnuPath;
    if (this.gnuLink !== null) linkname = this.gnuLink;
    this.gnuPath = this.gnuLink = null;
    // Path and size come from the entry's own extended header (global records merged in), as
    // tar-stream applies them; metadata records apply from the global header alone too.
    const own = this.pax ? new Map([...(this.global ?? []), ...this.pax]) : null;
    this.pax = null;
    const path = paxString(own, 'path');
    if (path !== undefined) name = path;
    const linkpath = paxString(own, 'linkpath');
    if (linkpath !== undefined) linkname = linkpath;
    const paxSize = paxString(own, 'size');
    if (paxSize !== undefined) size = Number.parseInt(paxSize, 10);
    if (!(size >= 0)) throw corrupt('Invalid header');
    const type = TYPES[flag] ?? null;
    const header: TarHeader = {
      name,
      type,
      mode: num(b, 100, 8),
      uid: num(b, 108, 8),
      gid: num(b, 116, 8),
      size,
      mtime: num(b, 136, 12),
      linkname,
      devmajor: num(b, 329, 8),
      devminor: num(b, 337, 8),
    };
    this.handler.entry(header, own ?? (this.global ? new Map(this.global) : null));
    if (size === 0 || type === 'directory') {
      this.handler.end(); // a directory's size is not followed by data (tar-stream reads none)
      return;
    }
    this.mode = 'data';
    this.left = size;
    this.after = padding(size);
  }
}
