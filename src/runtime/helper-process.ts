/**
 * Spawning berth-helper and speaking the sync protocol with it (native/PROTOCOL.md).
 * This is the only place that starts the helper.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { ExecFailedError, SystemError } from '../common/errors.ts';
import { FrameReader, frame } from './plan-encode.ts';

export type HelperMessage = { kind: 'pid'; pid: number } | { kind: 'ready' } | { kind: 'error'; errno: string; message: string };

/** Where the helper binary lives: next to the bundled CLI in dist/, or BERTH_HELPER. */
export function helperPath(): string {
  if (process.env.BERTH_HELPER) return process.env.BERTH_HELPER;
  for (const rel of ['./berth-helper', '../dist/berth-helper', '../../dist/berth-helper']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new SystemError('berth-helper binary not found', { hint: 'run `make build`' });
}

function parse(msg: string): HelperMessage {
  if (msg.startsWith('pid ')) return { kind: 'pid', pid: Number(msg.slice(4)) };
  if (msg === 'ready') return { kind: 'ready' };
  if (msg.startsWith('error ')) {
    const rest = msg.slice(6);
    const sp = rest.indexOf(' ');
    return { kind: 'error', errno: rest.slice(0, sp), message: rest.slice(sp + 1) };
  }
  return { kind: 'error', errno: '-', message: `helper said: ${msg}` };
}

export class HelperError extends SystemError {
  readonly errno: string;
  constructor(errno: string, message: string) {
    super(message);
    this.errno = errno;
  }
}

/** An error message from the helper, typed: exec failures become ExecFailedError (Docker's 126/127). */
export function helperFailure(m: { errno: string; message: string }): Error {
  if (m.message.startsWith('exec: ')) return new ExecFailedError(m.message, m.errno);
  return new HelperError(m.errno, m.message);
}

export interface HelperOptions {
  /** Extra fds (3..3+n-1) the container inherits (runc's --preserve-fds). */
  preserveFds?: number;
  /** Its own session and process group: it outlives us and our terminal's signals skip it. */
  detached?: boolean;
  /** stdio of the container: inherited from us unless given. */
  stdio?: ['inherit' | 'ignore' | number, 'inherit' | 'ignore' | number, 'inherit' | 'ignore' | number];
}

export class HelperSession {
  readonly child: ChildProcess;
  private readonly sock: Socket;
  private readonly queue: HelperMessage[] = [];
  private waiters: ((m: HelperMessage | undefined) => void)[] = [];
  private closed = false;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(plan: Buffer, opts: HelperOptions = {}) {
    const n = opts.preserveFds ?? 0;
    const stdio: StdioOptions = [...(opts.stdio ?? ['inherit', 'inherit', 'inherit'])];
    for (let i = 0; i < n; i++) stdio.push(3 + i);
    stdio.push('pipe');
    this.child = spawn(helperPath(), [String(3 + n)], { stdio, env: {}, detached: !!opts.detached });
    this.sock = this.child.stdio[3 + n] as Socket;
    this.exit = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    this.child.on('error', () => this.deliver(undefined));
    const reader = new FrameReader();
    this.sock.on('data', (chunk: Buffer) => {
      for (const m of reader.push(chunk)) this.deliver(parse(m));
    });
    this.sock.on('close', () => {
      this.closed = true;
      this.deliver(undefined);
    });
    this.sock.on('error', () => {});
    this.sock.write(frame(plan));
  }

  private deliver(m: HelperMessage | undefined): void {
    if (m) this.queue.push(m);
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w(this.queue.shift());
  }

  /** The next message, or an error once the helper has hung up without one. */
  async next(): Promise<HelperMessage> {
    for (;;) {
      const m = this.queue.shift();
      if (m) return m;
      if (this.closed) {
        const { code, signal } = await this.exit;
        throw new SystemError(`berth-helper exited without a word (${signal ? `signal ${signal}` : `status ${code}`})`);
      }
      const got = await new Promise<HelperMessage | undefined>((r) => this.waiters.push(r));
      if (got) return got;
    }
  }

  async expect<K extends HelperMessage['kind']>(kind: K): Promise<Extract<HelperMessage, { kind: K }>> {
    const m = await this.next();
    if (m.kind === 'error') throw helperFailure(m);
    if (m.kind !== kind) throw new SystemError(`berth-helper: expected "${kind}", got "${m.kind}"`);
    return m as Extract<HelperMessage, { kind: K }>;
  }

  go(state: string): void {
    this.sock.write(frame(state));
  }

  /** Let go of the helper: the container lives on without us. */
  detach(): void {
    this.sock.destroy();
    this.child.unref();
  }
}

/** What an attached berth passes on to the process it waits for (Ctrl-C and friends). */
export const RELAYED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/**
 * Waits for a helper that stays as the parent of what it started, passing on the signals sent to
 * us alone (the helper relays them to the container); resolves to its exit status, 128+N for a
 * signal, as a shell reports it.
 */
export async function waitRelaying(
  child: Pick<ChildProcess, 'kill'>,
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  signals: readonly NodeJS.Signals[] = RELAYED_SIGNALS,
): Promise<number> {
  const relay = (sig: NodeJS.Signals) => child.kill(sig);
  for (const s of signals) process.on(s, relay);
  try {
    const { code, signal } = await exit;
    return code ?? (signal ? 128 + ((await import('node:os')).constants.signals[signal] ?? 0) : 255);
  } finally {
    for (const s of signals) process.off(s, relay);
  }
}
