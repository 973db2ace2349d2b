/**
 * Host-side instruments: timing a command from spawn to exit, running one for its output, reading
 * a process's memory and namespaces from /proc, and the marker process whose visibility tells
 * whether a workload can see host processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { SystemError } from '../common/errors.ts';
import { markerNames, nsFromLinks, parseProcStatus, parsePpid, type ProcMemory } from './measure.ts';

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to its end; `ms` is from the spawn call to the exit event. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new SystemError(`cannot run ${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128 + (signal ? 9 : 0), stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

/** Like run, but a non-zero exit is an error naming the command and its last line of stderr. */
export async function runOk(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const last = r.stderr.trim().split('\n').at(-1) ?? '';
    throw new SystemError(`${[cmd, ...args].join(' ')} exited with ${r.code}${last ? `: ${last}` : ''}`);
  }
  return r;
}

export function procStatus(pid: number): ProcMemory {
  return parseProcStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

export function parentOf(pid: number): number {
  return parsePpid(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** The namespace links of a process on this host (default: berth compare itself). */
export function namespacesOf(pid: number | 'self' = 'self'): Record<string, string> {
  const dir = `/proc/${pid}/ns`;
  const links: Record<string, string> = {};
  for (const n of readdirSync(dir)) links[n] = readlinkSync(`${dir}/${n}`);
  return nsFromLinks(links);
}

export function hostProcessCount(): number {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length;
}

export interface Marker {
  /** Put in the workload's environment as BERTH_COMPARE_PATTERN. */
  pattern: string;
  stop(): void;
}

/** A sleeping host process with a random argv[0], for the workloads to look for. */
export function startMarker(): Marker {
  const { argv0, pattern } = markerNames(randomBytes(6).toString('hex'));
  const child: ChildProcess = spawn('sleep', ['3600'], { argv0, stdio: 'ignore' });
  child.on('error', () => {});
  child.unref();
  return {
    pattern,
    stop: () => {
      child.kill('SIGKILL');
    },
  };
}

/** Environment for a workload run by `berth compare` on the host or in a chroot. */
export function workloadEnv(pattern: string): NodeJS.ProcessEnv {
  return { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', BERTH_COMPARE_PATTERN: pattern };
}
