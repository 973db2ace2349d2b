/**
 * Raw PAX records, read from the bytes themselves. tar-stream decodes PAX values as UTF-8 strings,
 * which corrupts binary ones such as `SCHILY.xattr.security.capability`; so a pass-through stream
 * walks the same 512-byte block structure as the parser behind it, keeps each extended header's
 * records as Buffers and queues them for the entry they describe. It also hashes every byte, which
 * gives the layer's diffID (sha256 of the uncompressed tar) in the same pass.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** PAX keywords and their values, byte-exact. */
export type PaxRecords = Map<string, Buffer>;

/** Parses `"<len> <key>=<value>\n"` records without ever decoding a value as text. */
export function parsePaxRecords(buf: Buffer): PaxRecords {
  const out: PaxRecords = new Map();
  let pos = 0;
  while (pos < buf.length) {
    const sp = buf.indexOf(0x20, pos);
    if (sp < 0) break;
    const len = Number.parseInt(buf.toString('latin1', pos, sp), 10);
    if (!Number.isFinite(len) || len <= 0 || pos + len > buf.length) break;
    const rec = buf.subarray(sp + 1, pos + len - 1); // without the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq > 0) out.set(rec.toString('utf8', 0, eq), Buffer.from(rec.subarray(eq + 1)));
    pos += len;
  }
  return out;
}

/** Encodes PAX records (the inverse of parsePaxRecords), binary values included. */
export function encodePaxRecords(records: Iterable<[string, Buffer | string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, v] of records) {
    const value = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    const body = Buffer.byteLength(key) + value.length + 3; // ' ' '=' '\n'
    let len = body + String(body).length;
    if (String(len).length !== String(body).length) len = body + String(len).length;
    parts.push(Buffer.from(`${len} ${key}=`, 'utf8'), value, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** The xattrs carried by `SCHILY.xattr.*` records. */
export function paxXattrs(pax: PaxRecords | null): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (!pax) return out;
  for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) out.set(k.slice('SCHILY.xattr.'.length), v);
  return out;
}

function parseNumeric(b: Buffer): number {
  if (b[0]! & 0x80) {
    let n = 0;
    for (let i = 1; i < b.length; i++) n = n * 256 + b[i]!;
    return n;
  }
  const s = b.toString('latin1').replace(/\0.*$/s, '').trim();
  return s === '' ? 0 : Number.parseInt(s, 8);
}

function isNullHeader(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === 8 * 32;
}

/**
 * Pass-through that mirrors tar-stream's block walk (same rules: directories carry no data,
 * PAX `size` overrides the header) and queues one `PaxRecords | null` per real entry.
 */
export class PaxSniffer extends Transform {
  /** One element per entry the parser will emit, in order. */
  readonly queue: (PaxRecords | null)[] = [];
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  private header = Buffer.alloc(512);
  private fill = 0;
  private skip = 0;
  private capture: Buffer[] | null = null;
  private captureLeft = 0;
  private captureKind: 'x' | 'g' = 'x';
  private pending: PaxRecords | null = null;
  private global: PaxRecords | null = null;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    try {
      this.scan(chunk);
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb(null, chunk);
  }

  /** The diffID of everything seen so far, `sha256:<hex>`. */
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }

  private scan(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.capture) {
        const n = Math.min(this.captureLeft, chunk.length - pos);
        this.capture.push(chunk.subarray(pos, pos + n));
        this.captureLeft -= n;
        pos += n;
        if (this.captureLeft === 0) this.finishCapture();
        continue;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - pos);
        this.skip -= n;
        pos += n;
        continue;
      }
      const n = Math.min(512 - this.fill, chunk.length - pos);
      chunk.copy(this.header, this.fill, pos, pos + n);
      this.fill += n;
      pos += n;
      if (this.fill === 512) {
        this.fill = 0;
        this.onHeader(this.header);
      }
    }
  }

  private onHeader(h: Buffer): void {
    if (isNullHeader(h)) return;
    const type = String.fromCharCode(h[156]!);
    let size = parseNumeric(h.subarray(124, 136));
    const padded = (n: number) => Math.ceil(n / 512) * 512;
    if (type === 'x' || type === 'g') {
      this.captureKind = type;
      if (size > 1 << 20) throw new Error('PAX header larger than 1 MiB');
      this.capture = [];
      this.captureLeft = size;
      this.skip = padded(size) - size;
      if (size === 0) this.finishCapture();
      return;
    }
    if (type === 'L' || type === 'K') {
      this.skip = padded(size);
      return;
    }
    const pax = this.pending ?? (this.global ? new Map(this.global) : null);
    this.pending = null;
    const paxSize = pax?.get('size');
    if (paxSize) size = Number.parseInt(paxSize.toString('latin1'), 10);
    this.queue.push(pax);
    this.skip = type === '5' ? 0 : padded(size);
  }

  private finishCapture(): void {
    const recs = parsePaxRecords(Buffer.concat(this.capture ?? []));
    this.capture = null;
    if (this.captureKind === 'g') this.global = new Map([...(this.global ?? []), ...recs]);
    else this.pending = new Map([...(this.global ?? []), ...recs]);
  }
}
