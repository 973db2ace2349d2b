/** The runtime's plan: config.json → helper operations, decided without root. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultSpec } from '../../../src/runtime/default-spec.ts';
import { effectiveDeviceRules } from '../../../src/runtime/devices.ts';
import { CLONE_NEW, MS } from '../../../src/runtime/linux-constants.ts';
import { parseMountOptions } from '../../../src/runtime/mount-options.ts';
import { encodePlan, FrameReader, frame } from '../../../src/runtime/plan-encode.ts';
import { buildExecPlan, buildInitPlan, capMask } from '../../../src/runtime/plan.ts';
import type { Spec } from '../../../src/oci/runtime-spec.ts';

const cg = { mode: 'v1' as const, paths: { memory: '/sys/fs/cgroup/memory/berth/x', pids: '/sys/fs/cgroup/pids/berth/x' } };
function spec(mut: (s: Spec) => void = () => {}): Spec {
  const s = defaultSpec();
  s.process!.terminal = false;
  mut(s);
  return s;
}
const ops = (s: Spec, extra: Partial<Parameters<typeof buildInitPlan>[0]> = {}) =>
  buildInitPlan({ spec: s, bundle: '/b', wait: false, cgroup: cg, ...extra });
const find = (plan: ReturnType<typeof ops>, op: string) => plan.filter((o) => o[0] === op);

describe('init plan', () => {
  it('namespaces: new ones are clone flags, paths are joined (user first, mount last)', () => {
    const plan = ops(spec((s) => {
      s.linux!.namespaces = [{ type: 'mount' }, { type: 'pid' }, { type: 'network', path: '/proc/1/ns/net' }, { type: 'uts' }, { type: 'cgroup' }];
    }));
    assert.deepEqual(find(plan, 'setns'), [['setns', '/proc/1/ns/net']]);
    assert.deepEqual(find(plan, 'clone'), [['clone', CLONE_NEW.mount | CLONE_NEW.pid | CLONE_NEW.uts]]);
    assert.equal(find(plan, 'cgroupns').length, 1);
    assert.equal(find(plan, 'loopback').length, 0, 'a joined network namespace is not ours to configure');
  });
  it('refuses what cannot be honoured, naming it', () => {
    assert.throws(() => ops(spec((s) => s.linux!.namespaces!.push({ type: 'bogus' as never }))), /unknown namespace type "bogus"/);
    assert.throws(() => ops(spec((s) => s.linux!.namespaces!.push({ type: 'pid' }))), /listed twice/);
    assert.throws(() => ops(spec((s) => (s.linux!.namespaces = [{ type: 'pid' }]))), /new mount namespace/);
    assert.throws(() => ops(spec((s) => (s.process!.terminal = true))), /console-socket/);
    assert.throws(() => ops(spec((s) => (s.process!.cwd = 'rel'))), /absolute/);
    assert.throws(() => ops(spec((s) => (s.linux!.sysctl = { 'kernel.panic': '1' }))), /not namespaced/);
    assert.throws(() => ops(spec((s) => (s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]))), /new user namespace/);
  });
  it('mounts keep their order, flags and propagation; cgroup mounts expand per hierarchy', () => {
    const plan = ops(spec());
    const mounts = find(plan, 'mount');
    assert.deepEqual(mounts[0], ['mount', 'proc', '/proc', 'proc', 0, 0, '']);
    const sys = mounts.find((m) => m[2] === '/sys')!;
    assert.equal(sys[4], MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY);
    assert.ok(mounts.some((m) => m[2] === '/sys/fs/cgroup/memory' && m[3] === 'cgroup' && m[6] === 'memory'));
    assert.deepEqual(parseMountOptions(['rbind', 'ro', 'rslave', 'size=1m']), { flags: MS.BIND | MS.REC | MS.RDONLY, propagation: MS.SLAVE | MS.REC, data: ['size=1m'] });
  });
  it('default devices, /dev symlinks, masks, read-only paths, then the process', () => {
    const plan = ops(spec());
    assert.deepEqual(find(plan, 'mkdev').map((d) => d[1]).sort(), ['/dev/full', '/dev/null', '/dev/random', '/dev/tty', '/dev/urandom', '/dev/zero']);
    assert.ok(find(plan, 'symlink').some((s) => s[1] === 'pts/ptmx' && s[2] === '/dev/ptmx'));
    assert.ok(find(plan, 'mask').some((m) => m[1] === '/proc/kcore'));
    assert.ok(find(plan, 'rofs').some((m) => m[1] === '/proc/sys'));
    assert.equal(find(plan, 'rootro').length, 1);
    assert.deepEqual(find(plan, 'caps')[0], ['caps', ...Array(3).fill(capMask(['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']).toString(16)).flatMap((m, i) => (i === 0 ? [m, m, '0'] : i === 1 ? [m] : ['0']))]);
    assert.deepEqual(find(plan, 'rlimit'), [['rlimit', 7, 1024n, 1024n]]);
    assert.equal(find(plan, 'nnp').length, 1);
  });
  it('a user namespace binds devices instead of mknod', () => {
    const plan = ops(spec((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    }));
    assert.deepEqual(find(plan, 'uidmap'), [['uidmap', '0 1000 1\n']]);
    assert.equal(find(plan, 'mkdev').length, 0);
    assert.equal(find(plan, 'binddev').length, 6);
  });
  it('the monitor and overlay of the engine', () => {
    const plan = ops(spec((s) => (s.process!.terminal = true)), {
      monitor: { logPath: '/l', exitPath: '/e', tee: true, ptyIn: true, exitCommand: { argv: ['/bin/berth', 'cleanup'], env: ['PATH=/bin'] } },
      overlay: { lowerdirs: ['/l2', '/l1'], upper: '/u', work: '/w' },
    });
    assert.deepEqual(find(plan, 'monitor'), [['monitor', '/l', '/e']]);
    assert.equal(find(plan, 'ptyrelay').length, 1);
    assert.equal(find(plan, 'ptyin').length, 1);
    assert.deepEqual(find(plan, 'exitcmd'), [['exitcmd', 2, '/bin/berth', 'cleanup', 1, 'PATH=/bin']]);
    assert.deepEqual(find(plan, 'overlay'), [['overlay', '/b/rootfs', '/u', '/w', 2, '/l2', '/l1']]);
  });
  it('device cgroup rules: the config first, then the defaults allowed', () => {
    const rules = effectiveDeviceRules(spec((s) => (s.linux!.devices = [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229 }])));
    assert.deepEqual(rules[0], { allow: false, access: 'rwm' });
    assert.ok(rules.some((r) => r.allow && r.major === 1 && r.minor === 3));
    assert.ok(rules.some((r) => r.allow && r.major === 10 && r.minor === 229));
  });
});

describe('exec plan and encoding', () => {
  it('joins every namespace of the container but its own user namespace', () => {
    const s = spec((x) => x.linux!.namespaces!.push({ type: 'user' }));
    const plan = buildExecPlan({ spec: s, process: s.process!, initPid: 42, wait: true, sameNamespace: (t) => t === 'user' });
    assert.deepEqual(plan.filter((o) => o[0] === 'setns').map((o) => o[1]), ['/proc/42/ns/ipc', '/proc/42/ns/uts', '/proc/42/ns/net', '/proc/42/ns/pid', '/proc/42/ns/cgroup', '/proc/42/ns/mnt']);
    assert.ok(plan.some((o) => o[0] === 'dumpable0'));
  });
  it('tokens are NUL-terminated; frames round-trip', () => {
    assert.deepEqual(encodePlan([['wait'], ['arg', 'a b'], ['user', 0, 0]]), Buffer.from('wait\0arg\0a b\0user\x000\x000\0'));
    assert.throws(() => encodePlan([['arg', 'a\0b']]), /NUL/);
    const r = new FrameReader();
    const f = Buffer.concat([frame('pid 7'), frame('ready')]);
    assert.deepEqual([...r.push(f.subarray(0, 6)), ...r.push(f.subarray(6))], ['pid 7', 'ready']);
  });
});
