import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { detectCgroupMode, normalizeCgroupPath } from '../../../src/cgroups/index.ts';
import { parseCgroupMounts } from '../../../src/cgroups/mountinfo.ts';
import { InvalidConfigError, SystemError } from '../../../src/common/errors.ts';

const base = '22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n';

/** Debian 9 / CentOS 7 style: every controller on v1, no cgroup2 at all. */
const V1 = `${base}25 22 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
31 25 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,net_cls,net_prio
`;

/** This host: v1 controllers, a controller-less cgroup2 at .../unified, name=systemd. */
const HYBRID = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

/** Debian 11+/Fedora: cgroup2 on /sys/fs/cgroup. */
const V2 = `${base}26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

describe('detectCgroupMode', () => {
  test('v1, hybrid and v2 hosts', () => {
    assert.equal(detectCgroupMode(V1), 'v1');
    assert.equal(detectCgroupMode(HYBRID), 'hybrid');
    assert.equal(detectCgroupMode(V2), 'v2');
  });

  test('cgroup2 mounted over a v1 tmpfs at /sys/fs/cgroup is v2', () => {
    assert.equal(detectCgroupMode(`${V1}90 22 0:90 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n`), 'v2');
  });

  test('a named v1 hierarchy next to cgroup2 counts as hybrid', () => {
    const onlySystemd = `${base}26 22 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n27 22 0:25 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n`;
    assert.equal(detectCgroupMode(onlySystemd), 'hybrid');
  });

  test('no cgroup mounts is an error', () => {
    assert.throws(() => detectCgroupMode(base), SystemError);
  });

  test('the real host answers something', () => {
    assert.ok(['v1', 'hybrid', 'v2'].includes(detectCgroupMode()));
  });
});

describe('parseCgroupMounts', () => {
  test('controllers, named hierarchies and escaped mount points', () => {
    const mounts = parseCgroupMounts(`${V1}40 25 0:40 / /tmp/a\\040b rw - cgroup cgroup rw,pids,clone_children\n`);
    assert.deepEqual(mounts.map((m) => [m.mountPoint, m.controllers]), [
      ['/sys/fs/cgroup/systemd', ['name=systemd']],
      ['/sys/fs/cgroup/cpu,cpuacct', ['cpu', 'cpuacct']],
      ['/sys/fs/cgroup/memory', ['memory']],
      ['/sys/fs/cgroup/net_cls,net_prio', ['net_cls', 'net_prio']],
      ['/tmp/a b', ['pids']],
    ]);
  });

  test('optional fields before the separator do not confuse the parse', () => {
    const [m] = parseCgroupMounts('40 30 0:37 / /sys/fs/cgroup/unified rw shared:1 master:2 - cgroup2 cgroup2 rw\n');
    assert.equal(m?.fsType, 'cgroup2');
    assert.equal(m?.mountPoint, '/sys/fs/cgroup/unified');
  });
});

describe('normalizeCgroupPath', () => {
  test('absolute and relative paths land under the hierarchy root', () => {
    assert.equal(normalizeCgroupPath('/berth/abc'), 'berth/abc');
    assert.equal(normalizeCgroupPath('berth/abc'), 'berth/abc');
    assert.equal(normalizeCgroupPath('//berth/./abc/'), 'berth/abc');
  });

  test('systemd form, "..", and the bare root are refused', () => {
    assert.throws(() => normalizeCgroupPath('system.slice:berth:abc'), InvalidConfigError);
    assert.throws(() => normalizeCgroupPath('/berth/../etc'), /must not contain/);
    assert.throws(() => normalizeCgroupPath('..'), InvalidConfigError);
    assert.throws(() => normalizeCgroupPath('/'), InvalidConfigError);
  });
});
