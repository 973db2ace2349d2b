/** Pure policy of the engine: flag values, users, capabilities and the container's OCI spec. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCpus, parseMount, parseSize, parseTmpfs, parseUlimit, parseVolume } from '../../../src/cli/berth/flags.ts';
import type { ContainerRecord } from '../../../src/engine/record.ts';
import { DEFAULT_CAPABILITIES, effectiveCapabilities, hostCapabilities } from '../../../src/engine/security.ts';
import { buildContainerSpec } from '../../../src/engine/spec.ts';
import { resolveUser } from '../../../src/engine/user.ts';
import { hostsFile, resolvConf } from '../../../src/engine/files.ts';
import { CAPABILITIES } from '../../../src/runtime/linux-constants.ts';

describe('flag values', () => {
  it("sizes use Docker's binary units", () => {
    assert.equal(parseSize('4MB'), 4194304);
    assert.equal(parseSize('4m'), 4194304);
    assert.equal(parseSize('512k'), 524288);
    assert.equal(parseSize('1g'), 1 << 30);
    assert.equal(parseSize('100'), 100);
    assert.throws(() => parseSize('lots'), /invalid size: 'lots'/);
  });
  it('cpus, ulimits, volumes, mounts, tmpfs', () => {
    assert.equal(parseCpus('0.5'), 0.5);
    assert.throws(() => parseCpus('-1'), /positive/);
    assert.deepEqual(parseUlimit('nofile=1024:2048'), { name: 'nofile', soft: 1024, hard: 2048 });
    assert.deepEqual(parseUlimit('nproc=10'), { name: 'nproc', soft: 10, hard: 10 });
    assert.throws(() => parseUlimit('nofile=10:5'), /soft limit/);
    assert.deepEqual(parseVolume('/a:/b:ro'), { type: 'bind', source: '/a', target: '/b', readonly: true });
    assert.deepEqual(parseVolume('data:/d'), { type: 'volume', source: 'data', target: '/d', readonly: false });
    assert.deepEqual(parseVolume('/anon'), { type: 'volume', target: '/anon' });
    assert.throws(() => parseVolume('/a:rel'), /absolute/);
    assert.deepEqual(parseMount('type=bind,source=/s,target=/t,readonly'), { type: 'bind', source: '/s', target: '/t', readonly: true });
    assert.deepEqual(parseMount('type=tmpfs,target=/t,tmpfs-size=1m'), { type: 'tmpfs', target: '/t', readonly: false, tmpfsSize: 1 << 20 });
    assert.deepEqual(parseTmpfs('/run:size=64k,mode=1777'), { type: 'tmpfs', target: '/run', tmpfsSize: 65536, tmpfsMode: 0o1777 });
  });
});

describe('users', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n';
  const group = 'root:x:0:\nwww:x:33:\nstaff:x:50:www,other\n';
  it('names, numbers, groups and supplementary groups as runc resolves them', () => {
    assert.deepEqual(resolveUser('', passwd, group), { uid: 0, gid: 0, additionalGids: [], home: '/root' });
    assert.deepEqual(resolveUser('www', passwd, group), { uid: 33, gid: 33, additionalGids: [50], home: '/var/www' });
    assert.deepEqual(resolveUser('1000:staff', passwd, group), { uid: 1000, gid: 50, additionalGids: [], home: '/' });
    assert.deepEqual(resolveUser('33:0', passwd, group), { uid: 33, gid: 0, additionalGids: [], home: '/var/www' });
    assert.throws(() => resolveUser('nosuch', passwd, group), /unable to find user nosuch/);
    assert.throws(() => resolveUser('www:nogroup', passwd, group), /unable to find group nogroup/);
  });
});

describe('capabilities', () => {
  const all = [...CAPABILITIES];
  it("Docker's default set, add and drop, ALL", () => {
    assert.deepEqual(effectiveCapabilities({}, all).sort(), [...DEFAULT_CAPABILITIES].sort());
    assert.deepEqual(effectiveCapabilities({ capDrop: ['ALL'], capAdd: ['net_admin'] }, all), ['CAP_NET_ADMIN']);
    assert.ok(!effectiveCapabilities({ capDrop: ['CHOWN'] }, all).includes('CAP_CHOWN'));
    assert.equal(effectiveCapabilities({ privileged: true }, all).length, all.length);
    assert.throws(() => effectiveCapabilities({ capAdd: ['CAP_BOGUS'] }, all), /unknown capability/);
  });
  it('never more than the host allows', () => {
    const host = hostCapabilities('CapBnd:\t000001fffeffffff\n');
    assert.ok(!host.includes('CAP_SYS_RESOURCE'));
    assert.equal(effectiveCapabilities({ privileged: true }, host).length, all.length - 1);
    assert.throws(() => effectiveCapabilities({ capAdd: ['SYS_RESOURCE'] }, host), /not available on this host/);
  });
});

describe('the container spec', () => {
  const rec: ContainerRecord = {
    Id: 'a'.repeat(64),
    Name: '/t',
    Created: '',
    Image: 'sha256:' + 'b'.repeat(64),
    Path: 'ping',
    Args: ['localhost'],
    Config: {
      Hostname: 'aaaaaaaaaaaa', Domainname: '', User: '', AttachStdin: false, AttachStdout: true, AttachStderr: true, Tty: false,
      OpenStdin: false, Env: ['FOO=1'], Cmd: ['ping', 'localhost'], Entrypoint: null, Image: 'busybox', WorkingDir: '',
      Labels: { a: 'b' }, StopSignal: 'SIGTERM',
    },
    HostConfig: {
      Binds: [], NetworkMode: 'none', AutoRemove: false, Privileged: false, ReadonlyRootfs: false, CapAdd: [], CapDrop: [],
      SecurityOpt: ['no-new-privileges'], Tmpfs: {}, Memory: 4194304, MemorySwap: 8388608, MemoryReservation: 0, NanoCpus: 5e8,
      CpuShares: 0, CpusetCpus: '', PidsLimit: 20, Ulimits: [{ Name: 'nofile', Soft: 100, Hard: 200 }], Init: false,
      Isolation: 'process', OomKillDisable: false,
    },
    Mounts: [{ Type: 'bind', Source: '/src', Destination: '/dst', Mode: 'ro', RW: false, Propagation: 'rprivate' }],
    Driver: 'overlay',
    RestartCount: 0,
  };
  const spec = buildContainerSpec({
    rec,
    rootfs: '/r',
    user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
    capabilities: [...DEFAULT_CAPABILITIES],
    seccomp: { defaultAction: 'SCMP_ACT_ERRNO' },
    files: { hosts: '/h', hostname: '/hn', resolvConf: '/rc' },
  });
  it('puts the cgroup at berth/<id> and maps the limits', () => {
    assert.equal(spec.linux!.cgroupsPath, `berth/${rec.Id}`);
    assert.deepEqual(spec.linux!.resources!.memory, { limit: 4194304, swap: 8388608 });
    assert.deepEqual(spec.linux!.resources!.cpu, { period: 100000, quota: 50000 });
    assert.deepEqual(spec.linux!.resources!.pids, { limit: 20 });
  });
  it("has Docker's process defaults and security profile", () => {
    const p = spec.process!;
    assert.deepEqual(p.args, ['ping', 'localhost']);
    assert.ok(p.env!.includes('FOO=1'));
    assert.ok(p.env!.some((e) => e.startsWith('PATH=')));
    assert.ok(p.env!.includes('HOSTNAME=aaaaaaaaaaaa'));
    assert.equal(p.cwd, '/');
    assert.equal(p.noNewPrivileges, true);
    assert.deepEqual(p.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }]);
    assert.ok(spec.linux!.maskedPaths!.includes('/proc/kcore'));
    assert.ok(spec.linux!.readonlyPaths!.includes('/proc/sysrq-trigger'));
    assert.deepEqual(spec.linux!.namespaces!.map((n) => n.type).sort(), ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
    assert.equal(spec.linux!.seccomp!.defaultAction, 'SCMP_ACT_ERRNO');
    const dst = spec.mounts!.find((m) => m.destination === '/dst')!;
    assert.deepEqual(dst.options, ['rbind', 'ro', 'rprivate']);
    assert.ok(spec.mounts!.some((m) => m.destination === '/etc/hosts' && m.source === '/h'));
  });
  it("sets Docker's network-namespace sysctls in its own namespace, never with the host's", () => {
    assert.deepEqual(spec.linux!.sysctl, { 'net.ipv4.ping_group_range': '0 2147483647', 'net.ipv4.ip_unprivileged_port_start': '0' });
    const host = buildContainerSpec({
      rec: { ...rec, HostConfig: { ...rec.HostConfig, NetworkMode: 'host' } },
      rootfs: '/r',
      user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
      capabilities: [...DEFAULT_CAPABILITIES],
      seccomp: { defaultAction: 'SCMP_ACT_ERRNO' },
      files: { hosts: '/h', hostname: '/hn', resolvConf: '/rc' },
    });
    assert.equal(host.linux!.sysctl, undefined);
  });
});

describe('generated files', () => {
  it('hosts and resolv.conf (loopback nameservers dropped)', () => {
    assert.match(hostsFile('box'), /^127\.0\.0\.1\tlocalhost$/m);
    assert.match(hostsFile('box', ['10.0.0.2']), /^10\.0\.0\.2\tbox$/m);
    assert.equal(resolvConf('nameserver 127.0.0.53\nsearch lan\n'), 'search lan\n');
    assert.equal(resolvConf('nameserver 10.1.1.1\n', ['10.2.2.2']), 'nameserver 10.2.2.2\n');
  });
});
