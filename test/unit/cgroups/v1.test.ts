import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupManager, type CgroupManager } from '../../../src/cgroups/index.ts';
import { InvalidConfigError } from '../../../src/common/errors.ts';
import { fakeV1, files, read, UNLIMITED, type FakeTree, type V1Options } from './fake-tree.ts';

const ID = 'berth/c1';
const MiB = 1024 * 1024;

let tree: FakeTree;
let m: CgroupManager;
function setup(opts: V1Options = {}): void {
  tree = fakeV1({ paths: [ID], ...opts });
  m = cgroupManager(ID, { mode: 'hybrid', root: tree.root, mountinfo: tree.mountinfo });
}
const f = (hierarchy: string, file: string): string => read(join(tree.root, hierarchy, ID, file));

describe('v1 driver on a fake tree', () => {
  beforeEach(() => setup());
  afterEach(() => tree.cleanup());

  test('paths: every mounted controller, co-mounted ones share a dir, plus unified', () => {
    const p = m.paths();
    assert.equal(p.memory, join(tree.root, 'memory', ID));
    assert.equal(p.cpu, join(tree.root, 'cpu,cpuacct', ID));
    assert.equal(p.cpuacct, p.cpu);
    assert.equal(p['name=systemd'], join(tree.root, 'systemd', ID));
    assert.equal(p.unified, join(tree.root, 'unified', ID));
    assert.equal(p.hugetlb, undefined);
    assert.equal(m.mode, 'hybrid');
  });

  test('create makes the dir in every hierarchy and fills empty cpusets from the parent', () => {
    m.create();
    for (const h of ['memory', 'cpu,cpuacct', 'cpuset', 'devices', 'freezer', 'blkio', 'pids', 'systemd', 'unified']) {
      assert.ok(existsSync(join(tree.root, h, ID)), h);
    }
    assert.equal(read(join(tree.root, 'cpuset/berth/cpuset.cpus')), '0-3');
    assert.equal(f('cpuset', 'cpuset.cpus'), '0-3');
    assert.equal(f('cpuset', 'cpuset.mems'), '0');
  });

  test('create of a new path makes the directories', () => {
    const other = cgroupManager('/fresh/x', { mode: 'v1', root: tree.root, mountinfo: tree.mountinfo });
    // A real kernel fills the control files on mkdir; here the cpuset ones are added up front.
    files(join(tree.root, 'cpuset/fresh'), { 'cpuset.cpus': '', 'cpuset.mems': '' });
    files(join(tree.root, 'cpuset/fresh/x'), { 'cpuset.cpus': '', 'cpuset.mems': '' });
    other.create();
    assert.ok(existsSync(join(tree.root, 'memory/fresh/x')));
    assert.ok(!existsSync(join(tree.root, 'unified/fresh/x')), 'v1 mode has no unified dir');
    assert.equal(read(join(tree.root, 'cpuset/fresh/cpuset.cpus')), '0-3');
    assert.equal(read(join(tree.root, 'cpuset/fresh/x/cpuset.cpus')), '0-3');
    assert.equal(read(join(tree.root, 'cpuset/fresh/x/cpuset.mems')), '0');
  });

  test('-m 4MB, pids, cpu quota and cpuset', () => {
    m.create();
    m.apply({
      memory: { limit: 4 * MiB },
      pids: { limit: 10 },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0' },
    });
    assert.equal(f('memory', 'memory.limit_in_bytes'), '4194304');
    assert.equal(f('memory', 'memory.memsw.limit_in_bytes'), UNLIMITED, 'swap unset: memsw untouched');
    assert.equal(f('pids', 'pids.max'), '10');
    assert.equal(f('cpu,cpuacct', 'cpu.shares'), '512');
    assert.equal(f('cpu,cpuacct', 'cpu.cfs_quota_us'), '50000');
    assert.equal(f('cpu,cpuacct', 'cpu.cfs_period_us'), '100000');
    assert.equal(f('cpuset', 'cpuset.cpus'), '0');
    assert.equal(f('cpuset', 'cpuset.mems'), '0');
  });

  test('memory: swap, reservation, swappiness, OOM killer, kernelTCP; -1 is unlimited', () => {
    m.apply({
      memory: { limit: 16 * MiB, swap: 32 * MiB, reservation: 8 * MiB, swappiness: 0, disableOOMKiller: true, kernel: 1 * MiB, kernelTCP: 2 * MiB },
    });
    assert.equal(f('memory', 'memory.limit_in_bytes'), String(16 * MiB));
    assert.equal(f('memory', 'memory.memsw.limit_in_bytes'), String(32 * MiB));
    assert.equal(f('memory', 'memory.soft_limit_in_bytes'), String(8 * MiB));
    assert.equal(f('memory', 'memory.swappiness'), '0');
    assert.equal(f('memory', 'memory.oom_control'), '1');
    assert.equal(f('memory', 'memory.kmem.tcp.limit_in_bytes'), String(2 * MiB));
    m.apply({ memory: { limit: -1 } });
    assert.equal(f('memory', 'memory.limit_in_bytes'), '-1');
    assert.equal(f('memory', 'memory.memsw.limit_in_bytes'), '-1', 'unlimited memory lifts memsw too');
  });

  test('memory: bad values are config errors', () => {
    assert.throws(() => m.apply({ memory: { limit: 8 * MiB, swap: 4 * MiB } }), /must be >= memory.limit/);
    assert.throws(() => m.apply({ memory: { swappiness: 101 } }), InvalidConfigError);
    assert.throws(() => m.apply({ memory: { limit: -2 } }), InvalidConfigError);
    assert.throws(() => m.apply({ memory: { limit: 1.5 } }), InvalidConfigError);
  });

  test('pids 0 and -1 mean max', () => {
    m.apply({ pids: { limit: 0 } });
    assert.equal(f('pids', 'pids.max'), 'max');
    m.apply({ pids: { limit: -1 } });
    assert.equal(f('pids', 'pids.max'), 'max');
  });

  test('cpu burst, realtime and idle', () => {
    m.apply({ cpu: { quota: 20000, burst: 5000, realtimePeriod: 1000000, realtimeRuntime: 950000, idle: 1 } });
    assert.equal(f('cpu,cpuacct', 'cpu.cfs_burst_us'), '5000');
    assert.equal(f('cpu,cpuacct', 'cpu.rt_period_us'), '1000000');
    assert.equal(f('cpu,cpuacct', 'cpu.rt_runtime_us'), '950000');
    assert.equal(f('cpu,cpuacct', 'cpu.idle'), '1');
  });

  test('an unsupported file is an error naming the file and the value', () => {
    rmSync(join(tree.root, 'cpu,cpuacct', ID, 'cpu.cfs_burst_us'));
    assert.throws(
      () => m.apply({ cpu: { burst: 1000 } }),
      (err: Error) => err instanceof InvalidConfigError && err.message.includes('cpu.cfs_burst_us') && err.message.includes('"1000"'),
    );
    m.apply({ cpu: { burst: 0 } }); // nothing asked, nothing to complain about
  });

  test('devices: deny-all reset then the rules', () => {
    m.apply({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }] });
    assert.equal(f('devices', 'devices.deny'), 'a');
    assert.equal(f('devices', 'devices.allow'), 'c 1:3 rwm');
  });

  test('blkio: throttles; weights error when no weight file exists', () => {
    m.apply({
      blockIO: {
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: MiB }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 100 }],
      },
    });
    assert.equal(f('blkio', 'blkio.throttle.read_bps_device'), '8:0 1048576');
    assert.equal(f('blkio', 'blkio.throttle.write_iops_device'), '8:16 100');
    assert.throws(() => m.apply({ blockIO: { weight: 500 } }), /block I\/O weights are not supported.*blkio/);
  });

  test('hugepages without the hugetlb controller, unified on v1, net_cls missing', () => {
    assert.throws(() => m.apply({ hugepageLimits: [{ pageSize: '2MB', limit: 4 * MiB }] }), /hugetlb cgroup controller/);
    assert.throws(() => m.apply({ unified: { 'memory.high': '1' } }), /needs cgroup v2/);
    m.apply({ unified: {}, hugepageLimits: [] });
    assert.throws(() => m.apply({ network: { classID: 1 } }), /net_cls/);
  });

  test('addProcess writes the pid in every hierarchy', () => {
    m.addProcess(4242);
    for (const h of ['memory', 'cpu,cpuacct', 'cpuset', 'devices', 'freezer', 'blkio', 'pids', 'systemd', 'unified']) {
      assert.equal(read(join(tree.root, h, ID, 'cgroup.procs')), '4242', h);
    }
  });

  test('pids() covers sub-cgroups and all hierarchies', () => {
    writeFileSync(join(tree.root, 'memory', ID, 'cgroup.procs'), '10\n11\n');
    mkdirSync(join(tree.root, 'pids', ID, 'sub'));
    writeFileSync(join(tree.root, 'pids', ID, 'sub', 'cgroup.procs'), '12\n10\n');
    assert.deepEqual(m.pids(), [10, 11, 12]);
  });

  test('freeze and thaw', () => {
    assert.equal(m.isFrozen(), false);
    m.freeze();
    assert.equal(f('freezer', 'freezer.state'), 'FROZEN');
    assert.equal(m.isFrozen(), true);
    m.thaw();
    assert.equal(f('freezer', 'freezer.state'), 'THAWED');
  });

  test('stats reads the v1 files', () => {
    const dir = join(tree.root, 'memory', ID);
    files(dir, {
      'memory.usage_in_bytes': '1048576',
      'memory.limit_in_bytes': '4194304',
      'memory.max_usage_in_bytes': '2097152',
      'memory.failcnt': '3',
      'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2',
    });
    files(join(tree.root, 'cpu,cpuacct', ID), { 'cpuacct.usage': '5000000', 'cpuacct.stat': 'user 3\nsystem 1', 'cpu.stat': 'nr_periods 7\nnr_throttled 2\nthrottled_time 900' });
    files(join(tree.root, 'pids', ID), { 'pids.current': '2', 'pids.max': '10' });
    files(join(tree.root, 'blkio', ID), { 'blkio.throttle.io_service_bytes_recursive': '8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\n8:16 Read 4\nTotal 4612' });
    const s = m.stats();
    assert.deepEqual(s.memory, { usage: MiB, limit: 4 * MiB, maxUsage: 2 * MiB, failcnt: 3, oomKills: 2, stat: { cache: 0, rss: 0 } });
    assert.deepEqual(s.cpu, { usageNs: 5000000, userNs: 30000000, systemNs: 10000000, periods: 7, throttledPeriods: 2, throttledNs: 900 });
    assert.deepEqual(s.pids, { current: 2, limit: 10 });
    assert.deepEqual(s.blkio, { readBytes: 4100, writeBytes: 512 });
    files(join(tree.root, 'pids', ID), { 'pids.max': 'max' });
    files(dir, { 'memory.limit_in_bytes': UNLIMITED });
    assert.equal(m.stats().pids.limit, null);
    assert.equal(m.stats().memory.limit, null);
  });

  test('destroy removes every dir, sub-cgroups first, and is idempotent', () => {
    m.create();
    mkdirSync(join(tree.root, 'memory', ID, 'inner'));
    m.destroy();
    for (const h of ['memory', 'cpu,cpuacct', 'cpuset', 'systemd', 'unified']) {
      assert.ok(!existsSync(join(tree.root, h, ID)), h);
      assert.ok(existsSync(join(tree.root, h, 'berth')), 'parents stay');
    }
    m.destroy();
  });
});

describe('v1 without swap accounting or bfq', () => {
  afterEach(() => tree.cleanup());

  test('swap equal to the limit or unlimited is ignored; any other swap is an error', () => {
    setup({ memsw: false });
    m.apply({ memory: { limit: 4 * MiB, swap: 4 * MiB } });
    assert.equal(f('memory', 'memory.limit_in_bytes'), '4194304');
    m.apply({ memory: { limit: 8 * MiB, swap: -1 } });
    assert.equal(f('memory', 'memory.limit_in_bytes'), String(8 * MiB));
    assert.throws(() => m.apply({ memory: { limit: 4 * MiB, swap: 8 * MiB } }), /memory.memsw.limit_in_bytes does not exist/);
  });

  test('bfq weights', () => {
    setup({ bfq: true });
    m.apply({ blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 200 }] } });
    assert.equal(f('blkio', 'blkio.bfq.weight'), '500');
    assert.equal(f('blkio', 'blkio.bfq.weight_device'), '8:0 200');
  });
});
