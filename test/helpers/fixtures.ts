/**
 * Test fixtures: a busybox root filesystem and OCI bundles around it, in private temp dirs,
 * plus runners for berth-runc and runc. Everything made here is removed by `cleanup()`.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultSpec } from '../../src/runtime/default-spec.ts';
import type { Spec } from '../../src/oci/runtime-spec.ts';

// No test may reach beyond this machine: an image a test names that is not here is never pulled
// from Docker Hub (tests that pull set their own policy and use a registry on 127.0.0.1).
process.env.BERTH_PULL_POLICY ??= 'never';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const BERTH_RUNC = path.join(REPO, 'bin/berth-runc');
export const BERTH = path.join(REPO, 'bin/berth');
export const BUSYBOX = '/bin/busybox';

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `berth-test-${prefix}-`));
}

/** A minimal busybox rootfs: /bin/busybox with relative applet links, /etc/passwd and group. */
export function makeBusyboxRootfs(dir: string): string {
  mkdirSync(path.join(dir, 'bin'), { recursive: true });
  mkdirSync(path.join(dir, 'etc'), { recursive: true });
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'root']) mkdirSync(path.join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, path.join(dir, 'bin/busybox'));
  const list = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const applet of list) if (applet !== 'busybox') symlinkSync('busybox', path.join(dir, 'bin', applet));
  writeFileSync(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(path.join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  return dir;
}

let sharedRootfs: string | undefined;
/** One shared busybox rootfs per test process, for read-only uses (image imports); removed at exit. */
export function busyboxRootfs(): string {
  if (!sharedRootfs || !existsSync(sharedRootfs)) {
    const parent = tempDir('rootfs');
    process.on('exit', () => rmSync(parent, { recursive: true, force: true }));
    sharedRootfs = makeBusyboxRootfs(path.join(parent, 'rootfs'));
  }
  return sharedRootfs;
}

export interface Bundle {
  dir: string;
  spec: Spec;
  write(): void;
}

/** A bundle whose rootfs is a fresh busybox tree; `mutate` edits the default (runc-like) spec. */
export function makeBundle(mutate: (spec: Spec) => void = () => {}, opts: { rootfs?: string } = {}): Bundle {
  const dir = tempDir('bundle');
  const spec = defaultSpec();
  spec.process!.terminal = false;
  spec.root = { path: opts.rootfs ?? makeBusyboxRootfs(path.join(dir, 'rootfs')), readonly: false };
  mutate(spec);
  const b = { dir, spec, write: () => writeFileSync(path.join(dir, 'config.json'), JSON.stringify(b.spec, null, 1)) };
  b.write();
  return b;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function result(r: SpawnSyncReturns<string>): RunResult {
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function runTool(cmd: string, args: string[], opts: { input?: string; timeout?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): RunResult {
  return result(
    spawnSync(cmd, args, {
      encoding: 'utf8',
      input: opts.input ?? '',
      timeout: opts.timeout ?? 60_000,
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    }),
  );
}

export function berthRunc(stateRoot: string, args: string[], opts: { input?: string; timeout?: number } = {}): RunResult {
  return runTool(BERTH_RUNC, ['--root', stateRoot, ...args], opts);
}

/**
 * For commands that leave a process running (`run -d`, `exec -d`, `create`): the container
 * inherits our stdio, so pipes would never reach EOF. Output goes to /dev/null and errors are
 * read back from berth-runc's --log file.
 */
export function berthRuncDetached(stateRoot: string, args: string[]): RunResult {
  const log = path.join(stateRoot, `.log-${Math.random().toString(36).slice(2)}`);
  const r = spawnSync(BERTH_RUNC, ['--root', stateRoot, '--log', log, ...args], { stdio: 'ignore', timeout: 60_000 });
  let stderr = '';
  try {
    stderr = readFileSync(log, 'utf8');
  } catch {
    /* no error logged */
  }
  return { status: r.status, stdout: '', stderr };
}

export function runc(stateRoot: string, args: string[], opts: { input?: string; timeout?: number } = {}): RunResult {
  return runTool('runc', ['--root', stateRoot, ...args], opts);
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Cgroup directories left under a path on any v1 hierarchy (or the v2 root). */
export function leftoverCgroups(rel: string): string[] {
  const out: string[] = [];
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const p = path.join('/sys/fs/cgroup', h, rel);
    if (existsSync(p)) out.push(p);
  }
  return out;
}

/** Removes cgroup dirs (deepest first); used by `after` hooks so a failed test leaves nothing. */
export function removeCgroups(rel: string): void {
  for (const p of leftoverCgroups(rel)) {
    const dirs: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
      dirs.push(d);
    };
    try {
      walk(p);
    } catch {
      /* gone meanwhile */
    }
    for (const d of dirs) {
      try {
        // kill what is still in there, then remove
        const procs = spawnSync('cat', [path.join(d, 'cgroup.procs')], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
        for (const pid of procs) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            /* gone */
          }
        }
        rmdirSync(d);
      } catch {
        spawnSync('rmdir', [d]);
      }
    }
  }
}

export function mountsMatching(needle: string): string[] {
  return spawnSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes(needle));
}
