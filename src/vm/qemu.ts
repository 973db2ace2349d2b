/**
 * Starting QEMU and making sure none outlives us: every live QEMU is in a registry that a
 * process 'exit' hook kills. (If Node dies harder than that, the agent sees the socket close
 * and powers the guest off, which ends QEMU too.)
 */
import { existsSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { SystemError } from '../common/errors.ts';

export interface QemuExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface QemuProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<QemuExit>;
  /** QEMU's own stderr so far (its error messages), trimmed. */
  stderr(): string;
  kill(signal?: NodeJS.Signals): void;
  /** Kills it if still running after `ms`, and waits for it to be gone. */
  stop(ms: number): Promise<QemuExit>;
}

const live = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/**
 * util-linux's setpriv sets PR_SET_PDEATHSIG and then execs QEMU in the same process, so QEMU dies
 * with whoever started it (the VM monitor) even when that one is SIGKILLed and cannot clean up.
 */
const SETPRIV = '/usr/bin/setpriv';

export function spawnQemu(binary: string, args: string[]): QemuProcess {
  hookExit();
  const [cmd, argv] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'KILL', binary, ...args]] : [binary, args];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    if (err.length < 16384) err += s;
  });
  live.add(child);
  const exited = new Promise<QemuExit>((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    child.on('error', (e) => {
      live.delete(child);
      err += e.message;
      resolve({ code: null, signal: null });
    });
  });
  if (child.pid === undefined) {
    // spawn failed synchronously (ENOENT is reported through 'error' a tick later)
    live.delete(child);
  }
  return {
    child,
    get pid() {
      if (child.pid === undefined) throw new SystemError(`cannot start ${binary}`);
      return child.pid;
    },
    exited,
    stderr: () => err.trim(),
    kill: (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    async stop(ms) {
      const t = setTimeout(() => child.kill('SIGKILL'), ms);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}
