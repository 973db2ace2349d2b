/**
 * Raw PAX records, kept as bytes. tar-stream decodes PAX values as UTF-8 strings, which corrupts
 * binary ones such as `SCHILY.xattr.security.capability`; berth's tar reader (tar-reader.ts) and
 * writer (tar-writer.ts) go through these instead.
 */

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
