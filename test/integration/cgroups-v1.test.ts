/**
 * The cgroup drivers against this host's real kernel (cgroup v1/hybrid, root required):
 * limits land in the hierarchies, processes join, freeze, get OOM-killed and device-filtered,
 * and everything is removed afterwards even when an assertion fails.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { cgroupManager, detectCgroupMode, type CgroupManager } from '../../src/cgroups/index.ts';
import { attachedDeviceFilters } from '../../src/sys/bpf.ts';

const MiB = 1024 * 1024;
const mode = detectCgroupMode();
const skip = process.getuid?.() !== 0 ? 'needs root' : mode === 'v2' ? 'host is cgroup v2 (see the VM tests)' : false;
const parent = `berth-test-${randomBytes(4).toString('hex')}`;
const children: ChildProcess[] = [];
const managers: CgroupManager[] = [];

function manager(name: string, opts: Parameters<typeof cgroupManager>[1] = {}): CgroupManager {
  const m = cgroupManager(`/${parent}/${name}`, opts);
  managers.push(m);
  return m;
}

interface Child {
  proc: ChildProcess;
  pid: number;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

/** Starts `sh -c 'read go; <script>'` so it can be moved into a cgroup before doing anything. */
function startHeld(script: string): Child {
  const proc = spawn('sh', ['-c', `read go; ${script}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exit = once(proc, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  assert.ok(proc.pid, 'spawned');
  return { proc, pid: proc.pid, exit, output: () => out };
}

function release(c: Child): void {
  c.proc.stdin?.end('go\n');
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref())]);
}

function file(m: CgroupManager, controller: string, name: string): string {
  const dir = m.paths()[controller];
  assert.ok(dir, `${controller} hierarchy`);
  return readFileSync(join(dir, name), 'utf8').trim();
}

function procState(pid: number): string {
  return /State:\s+(\S)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
}

describe('cgroups v1 on this host', { skip }, () => {
  const top = skip ? undefined : cgroupManager(`/${parent}`);

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const m of managers) {
      try {
        if (m.isFrozen()) m.thaw();
        m.killAll();
      } catch {
        // best effort: destroy below reports what is left
      }
    }
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : null)));
    const errors: unknown[] = [];
    for (const m of [...managers, top]) {
      try {
        m?.destroy();
      } catch (err) {
        errors.push(err);
      }
    }
    const left = Object.values(top?.paths() ?? {}).filter((d) => existsSync(d));
    assert.deepEqual(left, [], 'no cgroup directories left behind');
    assert.deepEqual(errors, []);
  });

  test('host layout: v1 controllers found from mountinfo', () => {
    assert.ok(mode === 'v1' || mode === 'hybrid');
    const paths = cgroupManager('x/y').paths();
    for (const c of ['memory', 'cpu', 'cpuset', 'pids', 'freezer', 'devices']) assert.ok(paths[c], c);
  });

  test('limits, a process, freeze/thaw, stats, update, kill, destroy', { timeout: 60_000 }, async () => {
    const m = manager('c1');
    m.create();
    m.apply({
      memory: { limit: 4 * MiB },
      pids: { limit: 10 },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0' },
    });
    assert.equal(file(m, 'memory', 'memory.limit_in_bytes'), '4194304');
    assert.equal(file(m, 'pids', 'pids.max'), '10');
    assert.equal(file(m, 'cpu', 'cpu.cfs_quota_us'), '50000');
    assert.equal(file(m, 'cpu', 'cpu.cfs_period_us'), '100000');
    assert.equal(file(m, 'cpu', 'cpu.shares'), '512');
    assert.equal(file(m, 'cpuset', 'cpuset.cpus'), '0');
    assert.equal(file(m, 'cpuset', 'cpuset.mems'), '0');

    const child = startHeld('exec sleep 1000');
    m.addProcess(child.pid);
    release(child);
    assert.ok(m.pids().includes(child.pid));
    const cg = readFileSync(`/proc/${child.pid}/cgroup`, 'utf8');
    assert.match(cg, new RegExp(`:memory:/${parent}/c1$`, 'm'));
    assert.match(cg, new RegExp(`:pids:/${parent}/c1$`, 'm'));

    m.freeze();
    assert.equal(m.isFrozen(), true);
    assert.equal(file(m, 'freezer', 'freezer.state'), 'FROZEN');
    assert.equal(procState(child.pid), 'D', 'frozen tasks report D');
    m.thaw();
    assert.equal(m.isFrozen(), false);
    assert.equal(file(m, 'freezer', 'freezer.state'), 'THAWED');
    assert.notEqual(procState(child.pid), 'D');

    const s = m.stats();
    assert.equal(s.memory.limit, 4 * MiB);
    assert.equal(typeof s.memory.usage, 'number');
    assert.ok(s.pids.current >= 1);
    assert.equal(s.pids.limit, 10);
    assert.ok(Number.isFinite(s.cpu.usageNs) && s.cpu.usageNs >= 0);
    assert.equal(typeof s.blkio.readBytes, 'number');

    // Live update, growing and shrinking, so the memsw/limit write order matters on a real kernel.
    const memsw = existsSync(join(m.paths().memory ?? '', 'memory.memsw.limit_in_bytes'));
    const steps = [
      [8 * MiB, 16 * MiB],
      [64 * MiB, 128 * MiB],
      [8 * MiB, 16 * MiB],
    ] as const;
    for (const [limit, swap] of steps) {
      m.apply({ memory: { limit, swap: memsw ? swap : limit }, cpu: { quota: 25000, period: 50000 } });
      assert.equal(file(m, 'memory', 'memory.limit_in_bytes'), String(limit));
      if (memsw) assert.equal(file(m, 'memory', 'memory.memsw.limit_in_bytes'), String(swap));
    }
    assert.equal(file(m, 'cpu', 'cpu.cfs_period_us'), '50000');
    m.apply({ memory: { limit: -1 } });
    assert.equal(m.stats().memory.limit, null);

    m.killAll();
    const { signal } = await within(child.exit, 10_000, 'killed child exits');
    assert.equal(signal, 'SIGKILL');
    const dirs = Object.values(m.paths());
    m.destroy();
    for (const d of dirs) assert.ok(!existsSync(d), `${d} removed`);
    m.destroy();
  });

  test('a memory hog over 16 MiB is OOM-killed and counted', { timeout: 60_000 }, async () => {
    const m = manager('oom');
    m.create();
    m.apply({ memory: { limit: 16 * MiB } });
    // tail keeps the whole newline-less "line" of /dev/zero in memory.
    const hog = startHeld('exec tail /dev/zero');
    m.addProcess(hog.pid);
    release(hog);
    const { signal } = await within(hog.exit, 30_000, 'hog is OOM-killed');
    assert.equal(signal, 'SIGKILL');
    const s = m.stats();
    assert.ok(s.memory.oomKills >= 1, `oom kills ${s.memory.oomKills}`);
    assert.ok(s.memory.failcnt > 0);
    assert.ok(s.memory.maxUsage >= 15 * MiB && s.memory.maxUsage <= 16 * MiB, `max usage ${s.memory.maxUsage}`);
    m.destroy();
  });

  const deviceScript =
    'head -c1 /dev/zero >/dev/null 2>&1 && echo zero-ok || echo zero-denied; echo x > /dev/null && echo null-ok';

  test('device rules: only /dev/null is usable', { timeout: 30_000 }, async () => {
    const m = manager('dev');
    m.create();
    m.apply({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }] });
    assert.equal(file(m, 'devices', 'devices.list'), 'c 1:3 rwm');
    const c = startHeld(deviceScript);
    m.addProcess(c.pid);
    release(c);
    await within(c.exit, 10_000, 'device probe exits');
    assert.match(c.output(), /zero-denied/);
    assert.match(c.output(), /null-ok/);
    m.destroy();
  });

  test('the v2 driver on the unified hierarchy: eBPF device filter, freeze, cgroup.kill', { timeout: 30_000, skip: mode !== 'hybrid' ? 'no cgroup2 mount' : false }, async () => {
    const unified = cgroupManager('x').paths().unified;
    assert.ok(unified);
    const root = unified.slice(0, -'/x'.length);
    const m = manager('v2', { mode: 'v2', root });
    m.create();
    const dir = m.paths().unified ?? '';
    const rules = [{ allow: false, access: 'rwm' }, { allow: true, type: 'c' as const, major: 1, minor: 3, access: 'rwm' }];
    m.apply({ devices: rules });
    m.apply({ devices: rules }); // an update replaces our program instead of stacking another
    assert.equal(attachedDeviceFilters(dir).length, 1);

    const probe = startHeld(deviceScript);
    m.addProcess(probe.pid);
    release(probe);
    await within(probe.exit, 10_000, 'device probe exits');
    assert.match(probe.output(), /zero-denied/);
    assert.match(probe.output(), /null-ok/);

    const child = startHeld('exec sleep 1000');
    m.addProcess(child.pid);
    release(child);
    m.freeze();
    assert.equal(m.isFrozen(), true);
    m.thaw();
    assert.equal(m.isFrozen(), false);
    assert.deepEqual(m.pids(), [child.pid]);
    m.killAll();
    const { signal } = await within(child.exit, 10_000, 'killed child exits');
    assert.equal(signal, 'SIGKILL');
    m.destroy();
    assert.ok(!existsSync(dir));
  });
});
