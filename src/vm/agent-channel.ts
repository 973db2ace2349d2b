/**
 * The host end of the agent protocol on the VM's virtio-serial socket. One channel carries
 * every process of the VM, told apart by session id. QEMU closing the socket (a reset when
 * the guest powers off) is the normal end of a VM, not an error.
 */
import os from 'node:os';
import type { Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { ExecFailedError, SystemError } from '../common/errors.ts';
import {
  encodeFrame,
  encodeRun,
  encodeSetup,
  FrameDecoder,
  parseFailure,
  T_ANSWER,
  T_EXIT,
  T_FAILED,
  T_HELLO,
  T_POWEROFF,
  T_RUN,
  T_SETUP,
  T_SIGNAL,
  T_STARTED,
  T_STDERR,
  T_STDIN,
  T_STDOUT,
  T_WINSIZE,
  type Frame,
  type GuestProcess,
  type SetupOp,
} from './protocol.ts';

const CHUNK = 64 * 1024;

function errnoName(n: number): string {
  for (const [name, v] of Object.entries(os.constants.errno)) if (v === n) return name;
  return String(n);
}

function signalNumber(sig: NodeJS.Signals | number): number {
  if (typeof sig === 'number') return sig;
  const n = os.constants.signals[sig];
  if (n === undefined) throw new RangeError(`unknown signal ${sig}`);
  return n;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  return { promise, resolve, reject };
}

/** A process in the guest: its output streams, its stdin, its pid and exit status. */
export class VmProcess {
  readonly session: number;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly stdin: Writable;
  readonly #pid = deferred<number>();
  readonly #exit = deferred<number>();
  readonly #channel: AgentChannel;
  #done = false;

  constructor(channel: AgentChannel, session: number) {
    this.#channel = channel;
    this.session = session;
    this.stdin = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        for (let off = 0; off < chunk.length; off += CHUNK) channel.send(T_STDIN, session, chunk.subarray(off, off + CHUNK));
        cb();
      },
      final: (cb) => {
        if (!this.#done) channel.send(T_STDIN, session);
        cb();
      },
    });
    this.stdin.on('error', () => {});
  }

  /** The process's pid inside the guest; rejects if it could not be started. */
  get pid(): Promise<number> {
    return this.#pid.promise;
  }

  /** Exit status: the code, or 128+N for signal N. Rejects with ExecFailedError if exec failed. */
  get exit(): Promise<number> {
    return this.#exit.promise;
  }

  signal(sig: NodeJS.Signals | number): void {
    if (!this.#done) this.#channel.send(T_SIGNAL, this.session, Buffer.from(String(signalNumber(sig))));
  }

  resize(rows: number, cols: number): void {
    if (!this.#done) this.#channel.send(T_WINSIZE, this.session, Buffer.from(`${rows} ${cols}`));
  }

  /** @internal */
  deliver(f: Frame): void {
    switch (f.type) {
      case T_STARTED:
        this.#pid.resolve(Number(f.payload.toString()));
        break;
      case T_STDOUT:
        this.stdout.write(f.payload);
        break;
      case T_STDERR:
        this.stderr.write(f.payload);
        break;
      case T_FAILED: {
        const { errno, message } = parseFailure(f.payload.toString());
        const err = message.startsWith('exec ')
          ? new ExecFailedError(`exec: ${message.slice(5)}`, errnoName(errno))
          : new SystemError(`cannot start the process in the VM: ${message}`);
        this.#pid.reject(err);
        this.#end(undefined, err);
        break;
      }
      case T_EXIT:
        this.#end(Number(f.payload.toString()));
        break;
    }
  }

  /** @internal */
  end(err: Error): void {
    this.#end(undefined, err);
  }

  #end(code: number | undefined, err?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.stdout.end();
    this.stderr.end();
    if (code === undefined) {
      this.#pid.reject(err);
      this.#exit.reject(err);
    } else {
      this.#exit.resolve(code);
    }
  }

  get done(): boolean {
    return this.#done;
  }
}

export class AgentChannel {
  readonly #sock: Socket;
  readonly #procs = new Map<number, VmProcess>();
  readonly #answers = new Map<number, Deferred<void>>();
  readonly #hello = deferred<string>();
  readonly #closed = deferred<void>();
  #nextSession = 1;
  #isClosed = false;

  constructor(sock: Socket) {
    this.#sock = sock;
    const decoder = new FrameDecoder();
    sock.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        sock.destroy(err as Error);
        return;
      }
      for (const f of frames) this.#dispatch(f);
    });
    // ECONNRESET when QEMU exits is how every VM ends: not an error of ours
    sock.on('error', () => {});
    sock.on('close', () => this.#onClose());
  }

  /** The guest kernel's release, once the agent has booted and mounted the root. */
  get hello(): Promise<string> {
    return this.#hello.promise;
  }

  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** @internal */
  send(type: string, session: number, payload?: Uint8Array): void {
    if (!this.#isClosed) this.#sock.write(encodeFrame(type, session, payload));
  }

  run(p: GuestProcess): VmProcess {
    const session = this.#nextSession++;
    const proc = new VmProcess(this, session);
    if (this.#isClosed) {
      proc.end(new SystemError('the VM has stopped'));
      return proc;
    }
    this.#procs.set(session, proc);
    this.send(T_RUN, session, encodeRun(p));
    return proc;
  }

  /** Runs mkdir/write operations in the guest (e.g. a cgroup laid out by the cgroup driver). */
  async setup(ops: SetupOp[]): Promise<void> {
    const session = this.#nextSession++;
    const d = deferred<void>();
    this.#answers.set(session, d);
    this.send(T_SETUP, session, encodeSetup(ops));
    if (this.#isClosed) d.reject(new SystemError('the VM has stopped'));
    return d.promise;
  }

  powerOff(): void {
    this.send(T_POWEROFF, 0);
  }

  destroy(): void {
    this.#sock.destroy();
  }

  #dispatch(f: Frame): void {
    if (f.type === T_HELLO) {
      this.#hello.resolve(f.payload.toString());
      return;
    }
    if (f.type === T_ANSWER) {
      const d = this.#answers.get(f.session);
      this.#answers.delete(f.session);
      const text = f.payload.toString();
      if (text === '0') d?.resolve();
      else d?.reject(new SystemError(`VM setup failed: ${parseFailure(text).message}`));
      return;
    }
    const proc = this.#procs.get(f.session);
    if (!proc) return;
    proc.deliver(f);
    if (proc.done) this.#procs.delete(f.session);
  }

  #onClose(): void {
    this.#isClosed = true;
    const gone = new SystemError('the VM stopped before the process ended');
    this.#hello.reject(new SystemError('the VM stopped before its agent started'));
    for (const p of this.#procs.values()) p.end(gone);
    for (const d of this.#answers.values()) d.reject(gone);
    this.#procs.clear();
    this.#answers.clear();
    this.#closed.resolve();
  }
}
