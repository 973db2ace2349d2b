/**
 * An engine root for one test file: a private --root with a `busybox` image imported from
 * busybox-static, a `berth` runner bound to it, and a teardown that removes every container,
 * then checks and cleans what could outlive it (cgroups, processes, mounts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runDirFor } from '../../src/network/layout.ts';
import { BERTH, busyboxRootfs, runTool, tempDir, type RunResult } from './fixtures.ts';

export interface EngineRoot {
  root: string;
  berth(args: string[], opts?: { input?: string; timeout?: number; env?: NodeJS.ProcessEnv }): RunResult;
  /** For commands that leave a container running: no pipes for it to keep open. */
  berthDetached(args: string[]): { status: number | null; stdout: string };
  teardown(): void;
}

export function engineRoot(name: string, opts: { network?: string } = {}): EngineRoot {
  const root = tempDir(`engine-${name}`);
  // containers of these tests need no network unless the test says so (bridge is Docker's default)
  writeFileSync(path.join(root, 'config.json'), JSON.stringify({ network: opts.network ?? 'none' }));
  const berth = (args: string[], opts: { input?: string; timeout?: number; env?: NodeJS.ProcessEnv } = {}) =>
    runTool(BERTH, ['--root', root, ...args], { timeout: 120_000, ...opts });
  const tar = spawnSync('tar', ['-C', busyboxRootfs(), '-c', '.'], { maxBuffer: 64 << 20 });
  const imp = spawnSync(BERTH, ['--root', root, 'import', '-', 'busybox'], { input: tar.stdout, encoding: 'utf8' });
  if (imp.status !== 0) throw new Error(`berth import failed: ${imp.stderr}`);
  return {
    root,
    berth,
    berthDetached(args) {
      // stdout is a file, not a pipe: a detached container's monitor must not hold our pipe open
      const file = path.join(root, `.out-${Math.random().toString(36).slice(2)}`);
      const r = spawnSync('sh', ['-c', `exec "$0" "$@" >"${file}" 2>&1 </dev/null`, BERTH, '--root', root, ...args], { timeout: 120_000 });
      const stdout = spawnSync('cat', [file], { encoding: 'utf8' }).stdout;
      rmSync(file, { force: true });
      return { status: r.status, stdout };
    },
    teardown() {
      const ids = berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
      if (ids.length) berth(['rm', '-f', ...ids]);
      berth(['system', 'prune', '-f']);
      // the root's networks leave the host too (the default one's bridge and rules included)
      berth(['system', 'reset', '-f']);
      for (const id of ids) {
        for (const h of readdirSync('/sys/fs/cgroup')) {
          const p = path.join('/sys/fs/cgroup', h, 'berth', id);
          if (existsSync(p)) spawnSync('rmdir', [p]);
        }
      }
      spawnSync('umount', ['-R', root]);
      // the network library's pinned namespaces and its run dir (prune releases them; a failed
      // test may not have got that far)
      const runDir = runDirFor(root);
      if (existsSync(runDir)) {
        spawnSync('umount', ['-R', '-l', runDir]);
        spawnSync('rm', ['-rf', runDir]);
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Cgroup directories of a container on this host (any hierarchy). */
export function containerCgroups(id: string): string[] {
  return readdirSync('/sys/fs/cgroup')
    .map((h) => path.join('/sys/fs/cgroup', h, 'berth', id))
    .filter((p) => existsSync(p));
}
