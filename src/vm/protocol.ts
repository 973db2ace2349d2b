/**
 * The host end of the agent protocol's wire format (native/agent.c has the other end).
 * Frame: u32 LE payload length, u8 type, u32 LE session id, payload. Requests are
 * NUL-terminated strings, like the helper's plan.
 */

export const HEADER = 9;
export const FRAME_MAX = 1 << 20;

/** host -> guest */
export const T_RUN = 'R';
export const T_STDIN = 'I';
export const T_SIGNAL = 'K';
export const T_WINSIZE = 'W';
export const T_SETUP = 'S';
export const T_POWEROFF = 'Q';
/** guest -> host */
export const T_HELLO = 'H';
export const T_STARTED = 'P';
export const T_STDOUT = 'O';
export const T_STDERR = 'E';
export const T_EXIT = 'X';
export const T_FAILED = 'F';
export const T_ANSWER = 'A';

export interface Frame {
  type: string;
  session: number;
  payload: Buffer;
}

export function encodeFrame(type: string, session: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  if (payload.length > FRAME_MAX) throw new RangeError(`frame payload of ${payload.length} bytes`);
  const h = Buffer.alloc(HEADER);
  h.writeUInt32LE(payload.length, 0);
  h.writeUInt8(type.charCodeAt(0), 4);
  h.writeUInt32LE(session >>> 0, 5);
  return Buffer.concat([h, payload]);
}

/** Splits a byte stream into frames; keeps partial input until the rest arrives. */
export class FrameDecoder {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const out: Frame[] = [];
    let off = 0;
    while (this.#buf.length - off >= HEADER) {
      const len = this.#buf.readUInt32LE(off);
      if (len > FRAME_MAX) throw new RangeError(`agent sent a frame of ${len} bytes`);
      if (this.#buf.length - off < HEADER + len) break;
      out.push({
        type: String.fromCharCode(this.#buf[off + 4]!),
        session: this.#buf.readUInt32LE(off + 5),
        payload: Buffer.from(this.#buf.subarray(off + HEADER, off + HEADER + len)),
      });
      off += HEADER + len;
    }
    this.#buf = this.#buf.subarray(off);
    return out;
  }
}

/** A process to start in the guest. */
export interface GuestProcess {
  args: string[];
  /** KEY=value strings; nothing is inherited. */
  env?: string[];
  cwd?: string;
  uid?: number;
  gid?: number;
  additionalGids?: number[];
  /** A pseudo-terminal instead of pipes; stderr then arrives as stdout. */
  tty?: { rows: number; cols: number };
  /** Absolute cgroup directory in the guest to join before exec. */
  cgroup?: string;
  hostname?: string;
  /**
   * Power the VM off as soon as this process has exited and its status is sent (the main
   * process): no round trip through the host for the power-off.
   */
  powerOffOnExit?: boolean;
}

function words(ws: string[]): Buffer {
  for (const w of ws) if (w.includes('\0')) throw new RangeError(`NUL byte in ${JSON.stringify(w.slice(0, 40))}`);
  return Buffer.from(ws.map((w) => `${w}\0`).join(''));
}

export function encodeRun(p: GuestProcess): Buffer {
  if (p.args.length === 0) throw new RangeError('no command to run');
  const w: string[] = [];
  for (const a of p.args) w.push('arg', a);
  for (const e of p.env ?? []) w.push('env', e);
  w.push('cwd', p.cwd ?? '/');
  w.push('user', String(p.uid ?? 0), String(p.gid ?? 0));
  for (const g of p.additionalGids ?? []) w.push('group', String(g));
  if (p.tty) w.push('tty', String(p.tty.rows), String(p.tty.cols));
  if (p.cgroup) w.push('cgroup', p.cgroup);
  if (p.hostname) w.push('hostname', p.hostname);
  if (p.powerOffOnExit) w.push('poweroff');
  return words(w);
}

export type SetupOp = { op: 'mkdir'; path: string; mode: number } | { op: 'write'; path: string; value: string };

export function encodeSetup(ops: SetupOp[]): Buffer {
  const w: string[] = [];
  for (const o of ops) {
    if (o.op === 'mkdir') w.push('mkdir', o.path, o.mode.toString(8));
    else w.push('write', o.path, o.value);
  }
  return words(w);
}

/** "errno message" from the agent -> its parts (errno as a number, 0 if absent). */
export function parseFailure(text: string): { errno: number; message: string } {
  const m = /^(\d+) (.*)$/s.exec(text);
  return m ? { errno: Number(m[1]), message: m[2]! } : { errno: 0, message: text };
}
