/**
 * The plan handed to berth-helper: a flat list of operations, encoded as NUL-terminated tokens
 * (native/PROTOCOL.md). Building it is pure; only the helper touches the kernel.
 */

export type PlanOp = readonly [op: string, ...args: (string | number | bigint)[]];

export function encodePlan(ops: readonly PlanOp[]): Buffer {
  const parts: string[] = [];
  for (const op of ops) {
    for (const tok of op) {
      const s = String(tok);
      if (s.includes('\0')) throw new TypeError(`plan token for ${op[0]} contains a NUL byte`);
      parts.push(s);
    }
  }
  return Buffer.from(parts.join('\0') + '\0', 'utf8');
}

/** Frames a message for the sync socket: a 4-byte little-endian length, then the payload. */
export function frame(payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const hdr = Buffer.alloc(4);
  hdr.writeUInt32LE(body.length, 0);
  return Buffer.concat([hdr, body]);
}

/** Splits a byte stream into frames; keeps the remainder for the next chunk. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): string[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: string[] = [];
    while (this.buf.length >= 4) {
      const n = this.buf.readUInt32LE(0);
      if (this.buf.length < 4 + n) break;
      out.push(this.buf.subarray(4, 4 + n).toString('utf8'));
      this.buf = this.buf.subarray(4 + n);
    }
    return out;
  }
}
