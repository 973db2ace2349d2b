/**
 * The VM backend for real: QEMU microVMs (TCG here) booting Debian's kernel with berth-helper
 * as the guest agent, around a busybox root shared over virtio-9p. Three boots in all.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs, { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { cgroupManager } from '../../src/cgroups/index.ts';
import type { Resources } from '../../src/oci/runtime-spec.ts';
import { ExecFailedError } from '../../src/common/errors.ts';
import { qemuOverheadMiB, runVm, startVm, type SetupOp, type VmProcess } from '../../src/vm/index.ts';
import { makeBusyboxRootfs } from '../helpers/fixtures.ts';

// The backend makes its run dirs under the temp dir: a private one lets the leftover checks see
// this test's VMs only, whatever else runs on the machine.
const PRIVATE_TMP = mkdtempSync(path.join(os.tmpdir(), 'berth-vmtest-'));
process.env.TMPDIR = PRIVATE_TMP;
process.on('exit', () => rmSync(PRIVATE_TMP, { recursive: true, force: true }));

const canRun = existsSync('/usr/bin/qemu-system-x86_64') && readdirSync('/boot').some((n) => n.startsWith('vmlinuz-')) && existsSync('/bin/busybox');
const skip = canRun ? false : 'needs qemu-system-x86, linux-image-amd64 and busybox-static';

let dir = '';
let rootfs = '';
const marker = path.join(os.tmpdir(), `berth-test-vmmarker-${process.pid}`);
const ENV = ['PATH=/bin', 'HOME=/root'];

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'berth-test-vm-'));
  rootfs = makeBusyboxRootfs(path.join(dir, 'rootfs'));
  fs.mkdirSync(path.join(rootfs, 'home/user'), { recursive: true });
  fs.chownSync(path.join(rootfs, 'home/user'), 1000, 1000);
  writeFileSync(marker, 'host only');
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(marker, { force: true });
});

function text(p: VmProcess): { out: Promise<string>; err: Promise<string> } {
  const read = (s: NodeJS.ReadableStream): Promise<string> =>
    new Promise((resolve) => {
      let t = '';
      s.on('data', (c: Buffer) => (t += c.toString()));
      s.on('end', () => resolve(t));
    });
  return { out: read(p.stdout), err: read(p.stderr) };
}

/**
 * What the cgroup v2 driver writes for `resources` at `cgPath`, in order, recorded by running
 * the real driver against a scratch tree and catching its fs calls, then translated to paths in
 * the guest's cgroup2 mount. The agent replays them there.
 */
function recordV2(cgPath: string, resources: Resources): SetupOp[] {
  const root = mkdtempSync(path.join(os.tmpdir(), 'berth-test-cg2-'));
  writeFileSync(path.join(root, 'cgroup.controllers'), 'cpu io memory pids');
  writeFileSync(path.join(root, 'cgroup.subtree_control'), '');
  const guest = (p: string): string => path.join('/sys/fs/cgroup', path.relative(root, p));
  const ops: SetupOp[] = [];
  const orig = { openSync: fs.openSync, writeSync: fs.writeSync, closeSync: fs.closeSync, mkdirSync: fs.mkdirSync };
  const writing = new Map<number, string>();
  const f = fs as unknown as Record<string, unknown>;
  f.openSync = (p: fs.PathLike, flags?: fs.OpenMode, mode?: fs.Mode) => {
    if (String(p).startsWith(root) && typeof flags === 'number' && flags & fs.constants.O_WRONLY) {
      const fd = orig.openSync('/dev/null', 'w');
      writing.set(fd, String(p));
      return fd;
    }
    return orig.openSync(p, flags as fs.OpenMode, mode);
  };
  f.writeSync = (fd: number, data: string | NodeJS.ArrayBufferView, ...rest: unknown[]) => {
    const p = writing.get(fd);
    if (p) ops.push({ op: 'write', path: guest(p), value: typeof data === 'string' ? data : Buffer.from(data.buffer).toString() });
    return (orig.writeSync as (...a: unknown[]) => number)(fd, data, ...rest);
  };
  f.closeSync = (fd: number) => {
    writing.delete(fd);
    orig.closeSync(fd);
  };
  f.mkdirSync = (p: fs.PathLike, o?: fs.MakeDirectoryOptions) => {
    if (String(p).startsWith(root)) ops.push({ op: 'mkdir', path: guest(String(p)), mode: 0o755 });
    return orig.mkdirSync(p, o);
  };
  syncBuiltinESMExports();
  try {
    const m = cgroupManager(cgPath, { mode: 'v2', root, attachDeviceFilter: () => {} });
    m.create();
    m.apply(resources);
  } finally {
    Object.assign(f, orig);
    syncBuiltinESMExports();
    rmSync(root, { recursive: true, force: true });
  }
  return ops;
}

test('run: guest kernel, exit code, stdin, env, cwd, user, memory, isolation from the host', { skip }, async () => {
  const script = [
    'echo "release=$(uname -r)"',
    'echo "version=$(cat /proc/version)"',
    'echo "mem=$(grep MemTotal /proc/meminfo)"',
    'echo "cpus=$(grep -c ^processor /proc/cpuinfo)"',
    'echo "id=$(id -u):$(id -g) pwd=$(pwd) foo=$FOO"',
    'echo "stdin=$(cat)"',
    `test -e ${marker} && echo "marker visible" || echo "marker hidden"`,
    `echo "hostprocs=$(cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -c -e qemu-syste[m] -e node_module[s])"`,
    'echo oops >&2',
    'exit 5',
  ].join('; ');
  const r = await runVm({
    rootfs, args: ['sh', '-c', script], env: [...ENV, 'FOO=bar baz'], cwd: '/home/user', uid: 1000, gid: 1000, memoryMiB: 128, cpus: 2, stdin: 'hello from the host\n',
  });
  const out = r.stdout.toString();
  assert.equal(r.exitCode, 5, out + r.stderr.toString());
  assert.equal(r.stderr.toString(), 'oops\n');
  const field = (k: string): string => new RegExp(`^${k}=(.*)$`, 'm').exec(out)?.[1] ?? '';
  assert.notEqual(field('release'), os.release());
  assert.equal(field('release'), r.kernelRelease);
  assert.notEqual(field('version'), fs.readFileSync('/proc/version', 'utf8').trim());
  const memKb = Number(/(\d+) kB/.exec(field('mem'))?.[1]);
  assert.ok(memKb > 64 * 1024 && memKb <= 128 * 1024, `MemTotal ${memKb} kB with -m 128`);
  assert.equal(field('cpus'), '2');
  assert.equal(field('id'), '1000:1000 pwd=/home/user foo=bar baz');
  assert.equal(field('stdin'), 'hello from the host');
  assert.match(out, /marker hidden/);
  assert.equal(field('hostprocs'), '0', 'no host process (QEMU, this test runner) is visible in the guest');
});

test('exec into a running VM, a terminal, signals, and the cgroup v2 driver inside the guest', { skip }, async () => {
  const cgPath = `berth-test-vm-${process.pid}`;
  const vm = await startVm({ rootfs, args: ['sh', '-c', 'read line; echo "main got $line"; exit 3'], env: ENV, hostname: 'vmbox', memoryMiB: 256, cgroupPath: cgPath });
  const hostCgroup = cgroupManager(cgPath);
  try {
    // QEMU itself is in the container's cgroup, limited to guest RAM plus its overhead
    assert.ok(hostCgroup.pids().includes(vm.qemuPid), 'QEMU is in the cgroup');
    assert.equal(hostCgroup.stats().memory.limit, (256 + qemuOverheadMiB(vm.accel)) * 1024 * 1024);

    const main = text(vm.main);

    const e1 = vm.exec({ args: ['sh', '-c', 'echo "exec $(hostname) $(cat /proc/1/cmdline | tr "\\0" " ")"; exit 7'], env: ENV });
    const t1 = text(e1);
    assert.equal(await e1.exit, 7);
    assert.match(await t1.out, /^exec vmbox \/init/);

    const tty = vm.exec({ args: ['sh', '-c', 'tty; stty size'], env: ENV, tty: { rows: 33, cols: 101 } });
    const tt = text(tty);
    assert.equal(await tty.exit, 0);
    assert.match(await tt.out, /\/dev\/pts\/\d+\r?\n33 101/);

    const sleeper = vm.exec({ args: ['sleep', '100'], env: ENV });
    await sleeper.pid;
    sleeper.signal('SIGTERM');
    assert.equal(await sleeper.exit, 128 + 15);

    const missing = vm.exec({ args: ['no-such-program'], env: ENV });
    await assert.rejects(missing.exit, (err: unknown) => err instanceof ExecFailedError && err.errno === 'ENOENT');

    // cgroup v2: the driver's writes for a 32 MiB limit, replayed in the guest; a hog placed there is OOM-killed
    const ops = recordV2('berthtest', { memory: { limit: 32 * 1024 * 1024, swap: 32 * 1024 * 1024 } });
    assert.ok(ops.some((o) => o.op === 'write' && o.path === '/sys/fs/cgroup/berthtest/memory.max' && o.value === '33554432'), JSON.stringify(ops));
    await vm.setup(ops);
    const hog = vm.exec({ args: ['sh', '-c', 'head -c 200000000 /dev/zero | tail'], env: ENV, cgroup: '/sys/fs/cgroup/berthtest' });
    assert.equal(await hog.exit, 137);
    const ev = vm.exec({ args: ['sh', '-c', 'cat /sys/fs/cgroup/berthtest/memory.max; grep oom_kill /sys/fs/cgroup/berthtest/memory.events; grep -c " /sys/fs/cgroup cgroup2 " /proc/mounts'], env: ENV });
    const evt = text(ev);
    assert.equal(await ev.exit, 0);
    const lines = (await evt.out).trim().split('\n');
    assert.equal(lines[0], '33554432');
    assert.ok(Number(/oom_kill (\d+)/.exec(lines[1] ?? '')?.[1]) >= 1, lines.join('|'));
    assert.equal(lines[2], '1', 'cgroup2 is mounted at /sys/fs/cgroup');

    vm.main.stdin.end('over\n');
    const r = await vm.wait();
    assert.equal(r.exitCode, 3);
    assert.equal(await main.out, 'main got over\n');
    assert.equal(r.qemu.code, 0);
    assert.deepEqual(hostCgroup.pids(), [], 'the cgroup is gone with the VM');
  } finally {
    vm.kill();
    await vm.wait().catch(() => {});
  }
});

test('a main process that cannot be executed fails as exec-failed, and the VM is gone', { skip }, async () => {
  await assert.rejects(runVm({ rootfs, args: ['/bin/nope'], env: ENV }), (err: unknown) => err instanceof ExecFailedError && err.errno === 'ENOENT');
});

test('nothing is left behind: no QEMU, no socket, no temp dir', { skip }, () => {
  const ps = spawnSync('pgrep', ['-af', 'berth-vm-'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes('qemu') && l.includes(PRIVATE_TMP));
  assert.deepEqual(ps, []);
  assert.deepEqual(readdirSync(os.tmpdir()).filter((n) => n.startsWith('berth-vm-') || n.startsWith('berth-kvm-probe-')), []);
});
