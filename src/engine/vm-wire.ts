/**
 * The VM monitor's control socket (`containers/<id>/vm.sock`): how other berth processes reach
 * a VM only the monitor holds the agent channel of. One connection carries one request; frames
 * are the agent protocol's (u32 LE length, u8 type, u32 LE session = 0, payload).
 *
 *   client → monitor: `R` exec (JSON GuestProcess), `I` stdin (empty = EOF), `K` signal N to
 *                     that exec, `W` "ROWS COLS", `M` signal N to the main process, `Q` power off
 *   monitor → client: `P` pid, `O`/`E` output, `X` exit status, `F` failure (JSON), `A` done
 */
import { connect, type Socket } from 'node:net';
import { ExecFailedError, SystemError } from '../common/errors.ts';
import { encodeFrame, FrameDecoder, type Frame } from '../vm/protocol.ts';
import { socketAddress } from './vm-state.ts';

export const C_EXEC = 'R';
export const C_STDIN = 'I';
export const C_SIGNAL = 'K';
export const C_WINSIZE = 'W';
export const C_MAIN_SIGNAL = 'M';
export const C_POWEROFF = 'Q';
export const M_PID = 'P';
export const M_STDOUT = 'O';
export const M_STDERR = 'E';
export const M_EXIT = 'X';
export const M_FAILED = 'F';
export const M_DONE = 'A';

export interface Failure {
  message: string;
  /** set for exec failures (ENOENT → 127, else 126) */
  errno?: string;
}

export function failureError(f: Failure): Error {
  return f.errno !== undefined ? new ExecFailedError(f.message, f.errno) : new SystemError(f.message);
}

export function send(sock: Socket, type: string, payload?: Uint8Array | string): void {
  if (!sock.destroyed) sock.write(encodeFrame(type, 0, typeof payload === 'string' ? Buffer.from(payload) : payload));
}

/** Calls `onFrame` for every frame arriving on `sock`. */
export function readFrames(sock: Socket, onFrame: (f: Frame) => void): void {
  const dec = new FrameDecoder();
  sock.on('data', (chunk: Buffer) => {
    let frames: Frame[];
    try {
      frames = dec.push(chunk);
    } catch (err) {
      sock.destroy(err as Error);
      return;
    }
    for (const f of frames) onFrame(f);
  });
}

/** Connects to a monitor's socket; a monitor that is gone is a SystemError. */
export function dial(file: string): Promise<Socket> {
  const { address, done } = socketAddress(file);
  return new Promise((resolve, reject) => {
    const sock = connect(address);
    sock.once('connect', () => {
      done();
      resolve(sock);
    });
    sock.once('error', (err) => {
      done();
      reject(new SystemError(`cannot reach the VM monitor: ${err.message}`));
    });
  });
}

/** A one-shot control request (`M`, `Q`): resolves on the monitor's `A`. */
export async function request(file: string, type: string, payload = ''): Promise<void> {
  const sock = await dial(file);
  try {
    await new Promise<void>((resolve, reject) => {
      readFrames(sock, (f) => {
        if (f.type === M_DONE) resolve();
        if (f.type === M_FAILED) reject(failureError(JSON.parse(f.payload.toString()) as Failure));
      });
      sock.on('close', () => reject(new SystemError('the VM monitor hung up')));
      send(sock, type, payload);
    });
  } finally {
    sock.destroy();
  }
}
