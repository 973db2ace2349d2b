/**
 * `--isolation vm` through the CLI: the same verbs as process isolation (run attached and -d,
 * exec, logs, stop, kill, rm, ps, inspect, --rm, exit codes) with a QEMU microVM (TCG here)
 * around the container's root. Five boots in all; nothing may be left: no QEMU, no socket, no
 * /tmp/berth-vm-* dir, no mount.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cgroupManager } from '../../src/cgroups/index.ts';
import { MONITOR_MIB } from '../../src/engine/vm-monitor.ts';
import { qemuOverheadMiB } from '../../src/vm/index.ts';
import { engineRoot, type EngineRoot } from '../helpers/engine.ts';
import { BERTH } from '../helpers/fixtures.ts';

const canRun = existsSync('/usr/bin/qemu-system-x86_64') && readdirSync('/boot').some((n) => n.startsWith('vmlinuz-')) && existsSync('/bin/busybox');
const skip = canRun ? false : 'needs qemu-system-x86, linux-image-amd64 and busybox-static';
const T = { timeout: 300_000 };

let e: EngineRoot;
const marker = path.join(os.tmpdir(), `berth-test-vmmarker-engine-${process.pid}`);

/** QEMU processes serving a root under this engine root (the 9p share is <root>/containers/<id>/rootfs). */
function ourQemus(): string[] {
  return spawnSync('pgrep', ['-af', 'qemu-system'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => e && l.includes(`path=${e.root}/`));
}

/** /tmp/berth-vm-* dirs whose owner marker names this engine root. */
function ourRunDirs(): string[] {
  return readdirSync(os.tmpdir())
    .filter((n) => n.startsWith('berth-vm-'))
    .filter((n) => {
      try {
        return (JSON.parse(readFileSync(path.join(os.tmpdir(), n, 'container'), 'utf8')) as { root: string }).root === e.root;
      } catch {
        return false;
      }
    });
}

function ourMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => e && l.includes(` ${e.root}/`));
}

function assertNothingLeft(): void {
  assert.deepEqual(ourQemus(), [], 'no QEMU of ours is left');
  assert.deepEqual(ourRunDirs(), [], 'no /tmp/berth-vm-* of ours is left');
  assert.deepEqual(ourMounts(), [], 'no root filesystem is left mounted');
}

before(() => {
  if (!canRun) return;
  e = engineRoot('vm');
  writeFileSync(marker, 'host only');
});

after(() => {
  rmSync(marker, { force: true });
  if (!e) return;
  try {
    e.teardown();
  } finally {
    // whatever a failed test left: its QEMUs, its run dirs
    for (const l of ourQemus()) spawnSync('kill', ['-9', l.split(' ')[0]!]);
    for (const d of ourRunDirs()) rmSync(path.join(os.tmpdir(), d), { recursive: true, force: true });
  }
});

test('create --isolation vm: what a VM cannot have is refused; --accel, --kernel and the record (no boot)', { skip }, () => {
  const net = e.berth(['create', '--isolation', 'vm', '--network', 'bridge', 'busybox', 'true']);
  assert.equal(net.status, 125);
  assert.match(net.stderr, /--isolation vm has no network yet/);
  const vol = e.berth(['create', '--isolation', 'vm', '-v', '/tmp:/x', 'busybox', 'true']);
  assert.equal(vol.status, 125);
  assert.match(vol.stderr, /cannot mount volumes/);
  assert.equal(e.berth(['create', '--isolation', 'vm', '--accel', 'xen', 'busybox', 'true']).status, 125);
  const c = e.berth(['create', '--isolation', 'vm', '--accel', 'tcg', '--kernel', 'no/such/vmlinuz', '--name', 'vmc', 'busybox', 'true']);
  assert.equal(c.status, 0, c.stderr);
  const hc = e.berth(['inspect', '-f', '{{.HostConfig.Isolation}} {{.HostConfig.NetworkMode}} {{.HostConfig.VmAccel}} {{.HostConfig.VmKernel}} {{.State.Status}}', 'vmc']).stdout.trim();
  assert.equal(hc, `vm none tcg ${path.resolve('no/such/vmlinuz')} created`);
  // a start that cannot boot fails with one line, and leaves the container created and nothing behind
  const st = e.berth(['start', 'vmc']);
  assert.equal(st.status, 125);
  assert.match(st.stderr, /^berth: kernel \S+ does not exist\n$/);
  assert.equal(e.berth(['inspect', '-f', '{{.State.Status}}', 'vmc']).stdout.trim(), 'created');
  assert.equal(e.berth(['rm', 'vmc']).status, 0);
  assertNothingLeft();
});

test('run --rm --isolation vm: the guest kernel, not the host one; without it, the host one', { skip, ...T }, () => {
  const vm = e.berth(['run', '--rm', '--isolation', 'vm', 'busybox', 'uname', '-r'], T);
  assert.equal(vm.status, 0, vm.stderr);
  const guest = vm.stdout.trim();
  assert.match(guest, /^\d+\.\d+/);
  assert.notEqual(guest, os.release());
  // --network none: process isolation's default network is not what this test is about
  const proc = e.berth(['run', '--rm', '--network', 'none', 'busybox', 'uname', '-r']);
  assert.equal(proc.status, 0, proc.stderr);
  assert.equal(proc.stdout.trim(), os.release());
  assert.deepEqual(e.berth(['ps', '-aq']).stdout, '', '--rm removed both');
  assertNothingLeft();
});

test('exit code, stdin, -e, -w, -u, -m as guest RAM, and the host invisible from the VM', { skip, ...T }, () => {
  const script = [
    'echo "stdin=$(cat)"',
    'echo "env=$FOO pwd=$(pwd) id=$(id -u):$(id -g)"',
    'echo "mem=$(grep MemTotal /proc/meminfo)"',
    'echo "version=$(cat /proc/version)"',
    `test -e ${marker} && echo "marker visible" || echo "marker hidden"`,
    `echo "hostprocs=$(cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -c -e qemu-syste[m] -e node_module[s] -e vm-monito[r])"`,
    'exit 5',
  ].join('; ');
  const r = e.berth(['run', '--rm', '-i', '--isolation', 'vm', '--accel', 'tcg', '-e', 'FOO=bar baz', '-w', '/tmp', '-u', '1000:1000', '-m', '128m', 'busybox', 'sh', '-c', script], {
    input: 'hi\n',
    ...T,
  });
  assert.equal(r.status, 5, r.stdout + r.stderr);
  const field = (k: string): string => new RegExp(`^${k}=(.*)$`, 'm').exec(r.stdout)?.[1] ?? '';
  assert.equal(field('stdin'), 'hi');
  assert.equal(field('env'), 'bar baz pwd=/tmp id=1000:1000');
  const memKb = Number(/(\d+) kB/.exec(field('mem'))?.[1]);
  assert.ok(memKb > 64 * 1024 && memKb <= 128 * 1024, `MemTotal ${memKb} kB with -m 128m`);
  assert.notEqual(field('version'), readFileSync('/proc/version', 'utf8').trim());
  assert.match(r.stdout, /marker hidden/);
  assert.equal(field('hostprocs'), '0', 'no host process (QEMU, node, the monitor) is visible in the guest');
  assertNothingLeft();
});

test('run -d, ps, inspect, exec, logs, kill -s, stop, rm: every step works and nothing is left', { skip, ...T }, () => {
  const script = 'echo started; trap "echo got-term; exit 7" TERM; while true; do sleep 1; done';
  const run = e.berthDetached(['run', '-d', '--isolation', 'vm', '--name', 'vmd', 'busybox', 'sh', '-c', script]);
  assert.equal(run.status, 0, run.stdout);
  const id = run.stdout.trim();
  assert.match(id, /^[a-f0-9]{64}$/);
  const dir = path.join(e.root, 'containers', id);

  const ps = e.berth(['ps']);
  assert.match(ps.stdout, /ISOLATION/);
  assert.match(ps.stdout, new RegExp(`${id.slice(0, 12)} .*Up .* vm +vmd`));
  const insp = JSON.parse(e.berth(['inspect', 'vmd']).stdout) as [{ State: { Running: boolean; Pid: number }; HostConfig: { Isolation: string }; Vm: { KernelRelease: string; Accel: string; QemuPid: number } }];
  assert.equal(insp[0].HostConfig.Isolation, 'vm');
  assert.equal(insp[0].State.Running, true);
  assert.notEqual(insp[0].Vm.KernelRelease, os.release());
  assert.match(insp[0].Vm.KernelRelease, /^\d+\.\d+/);
  assert.ok(['kvm', 'tcg'].includes(insp[0].Vm.Accel), insp[0].Vm.Accel);
  assert.equal(insp[0].State.Pid, insp[0].Vm.QemuPid);
  assert.match(readFileSync(`/proc/${insp[0].Vm.QemuPid}/cmdline`, 'utf8'), /qemu-system/);
  // QEMU (and the monitor, its parent) in the container's cgroup: guest RAM + QEMU's overhead + the monitor
  const cg = cgroupManager(`berth/${id}`);
  assert.ok(cg.pids().includes(insp[0].Vm.QemuPid), 'QEMU is in the container cgroup');
  assert.equal(cg.stats().memory.limit, (256 + qemuOverheadMiB(insp[0].Vm.Accel as 'kvm' | 'tcg') + MONITOR_MIB) * 1024 * 1024);
  const runDir = (JSON.parse(readFileSync(path.join(dir, 'vm.json'), 'utf8')) as { runDir: string }).runDir;
  assert.ok(existsSync(runDir));
  assert.ok(existsSync(path.join(dir, 'vm.sock')));

  // exec from this (another) process: output, exit status, stdin, -e/-w/-u
  const ex = e.berth(['exec', '-e', 'X=1', '-w', '/etc', '-u', 'nobody', 'vmd', 'sh', '-c', 'echo "exec $X $(pwd) $(id -un) $(hostname)"; echo err >&2; exit 3']);
  assert.equal(ex.status, 3, ex.stderr);
  assert.equal(ex.stdout, `exec 1 /etc nobody ${id.slice(0, 12)}\n`);
  assert.equal(ex.stderr, 'err\n');
  const cat = e.berth(['exec', '-i', 'vmd', 'cat'], { input: 'piped in\n' });
  assert.equal(cat.status, 0, cat.stderr);
  assert.equal(cat.stdout, 'piped in\n');
  assert.equal(e.berth(['exec', 'vmd', 'no-such-program']).status, 127);

  // kill -s goes to the workload: SIGWINCH, which sh ignores, leaves it running
  assert.equal(e.berth(['kill', '-s', 'WINCH', 'vmd']).status, 0);
  assert.equal(e.berth(['inspect', '-f', '{{.State.Running}}', 'vmd']).stdout.trim(), 'true');

  const stop = e.berth(['stop', 'vmd'], T);
  assert.equal(stop.status, 0, stop.stderr);
  assert.equal(e.berth(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'vmd']).stdout.trim(), 'exited 7', 'SIGTERM reached the workload');
  const logs = e.berth(['logs', 'vmd']);
  assert.equal(logs.stdout, 'started\ngot-term\n');
  assert.match(readFileSync(path.join(dir, 'json.log'), 'utf8'), /^\{"log":"started\\n","stream":"stdout","time":"[^"]+Z"\}\n/);
  assert.ok(!existsSync(path.join(dir, 'vm.sock')), 'no socket after stop');
  assert.ok(!existsSync(runDir), 'the backend temp dir is gone after stop');
  assertNothingLeft();

  assert.equal(e.berth(['rm', 'vmd']).status, 0);
  assert.ok(!existsSync(dir));
  assert.deepEqual(readdirSync('/sys/fs/cgroup').filter((h) => existsSync(path.join('/sys/fs/cgroup', h, 'berth', id))), [], 'no cgroup left');
  assertNothingLeft();
});

test('the config default isolation, two racing starts boot one VM, and rm -f of a running VM', { skip, ...T }, async () => {
  writeFileSync(path.join(e.root, 'config.json'), JSON.stringify({ isolation: 'vm', accel: 'auto' }));
  try {
    const c = e.berth(['create', '--name', 'vmf', 'busybox', 'sleep', '1000']);
    assert.equal(c.status, 0, c.stderr);
    const id = c.stdout.trim();
    const start = (): Promise<number | null> =>
      new Promise((resolve) => spawn(BERTH, ['--root', e.root, 'start', 'vmf'], { stdio: 'ignore' }).on('exit', (code) => resolve(code)));
    const codes = await Promise.all([start(), start()]);
    assert.deepEqual([...codes].sort(), [0, 125], 'one start boots it, the other finds it running');
    assert.equal(e.berth(['inspect', '-f', '{{.HostConfig.Isolation}} {{.State.Running}}', 'vmf']).stdout.trim(), 'vm true');
    assert.equal(ourQemus().length, 1);
    const rm = e.berth(['rm', '-f', 'vmf'], T);
    assert.equal(rm.status, 0, rm.stderr);
    assert.ok(!existsSync(path.join(e.root, 'containers', id)));
    assertNothingLeft();
  } finally {
    rmSync(path.join(e.root, 'config.json'), { force: true });
  }
});

test('a monitor killed hard takes its VM with it; system prune removes the mount, the socket and the temp dir', { skip, ...T }, async () => {
  const run = e.berthDetached(['run', '-d', '--isolation', 'vm', '--name', 'vmk', 'busybox', 'sleep', '1000']);
  assert.equal(run.status, 0, run.stdout);
  const id = run.stdout.trim();
  const st = JSON.parse(readFileSync(path.join(e.root, 'containers', id, 'vm.json'), 'utf8')) as { monitorPid: number; qemuPid: number; runDir: string };
  process.kill(st.monitorPid, 'SIGKILL');
  // the agent powers off when the host end of its port closes
  // under TCG on a loaded machine the guest can take a while to notice: allow two minutes
  for (let i = 0; i < 1200 && existsSync(`/proc/${st.qemuPid}`); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(!existsSync(`/proc/${st.qemuPid}`), 'QEMU ended with its monitor');
  assert.equal(e.berth(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'vmk']).stdout.trim(), 'exited 255');
  assert.ok(existsSync(st.runDir) && ourMounts().length === 1, 'what the monitor would have removed is still there');
  const prune = e.berth(['system', 'prune', '-f']);
  assert.equal(prune.status, 0, prune.stderr);
  assert.match(prune.stdout, new RegExp(id));
  assert.ok(!existsSync(st.runDir));
  assert.ok(!existsSync(path.join(e.root, 'containers', id)));
  assertNothingLeft();
});
