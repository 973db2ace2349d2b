import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { blkioToIoWeight, cgroupManager, sharesToWeight, swapToV2, type CgroupManager } from '../../../src/cgroups/index.ts';
import { InvalidConfigError, SystemError } from '../../../src/common/errors.ts';
import { fakeV2, files, read, V2_CONTROLLERS, type FakeTree, type V2Options } from './fake-tree.ts';

const ID = 'berth/c1';
const MiB = 1024 * 1024;

let tree: FakeTree;
let m: CgroupManager;
let attached: { dir: string; program: Uint8Array }[];
function setup(opts: V2Options = {}): void {
  tree = fakeV2({ paths: [ID], ...opts });
  attached = [];
  m = cgroupManager(`/${ID}`, { mode: 'v2', root: tree.root, attachDeviceFilter: (dir, program) => attached.push({ dir, program }) });
}
const dir = (): string => join(tree.root, ID);
const f = (file: string): string => read(join(dir(), file));

describe('conversions', () => {
  test('cpu shares to weight', () => {
    assert.equal(sharesToWeight(2), 1);
    assert.equal(sharesToWeight(1024), 39);
    assert.equal(sharesToWeight(262144), 10000);
    assert.equal(sharesToWeight(0), 0);
  });

  test('blkio weight to io.weight', () => {
    assert.equal(blkioToIoWeight(10), 1);
    assert.equal(blkioToIoWeight(500), 4950);
    assert.equal(blkioToIoWeight(1000), 10000);
  });

  test('memory+swap to swap only', () => {
    assert.equal(swapToV2(0, 4 * MiB), null);
    assert.equal(swapToV2(8 * MiB, 4 * MiB), String(4 * MiB));
    assert.equal(swapToV2(4 * MiB, 4 * MiB), '0');
    assert.equal(swapToV2(-1, 4 * MiB), 'max');
    assert.equal(swapToV2(0, -1), 'max');
    assert.throws(() => swapToV2(2 * MiB, 4 * MiB), InvalidConfigError);
    assert.throws(() => swapToV2(2 * MiB, 0), /without a memory.limit/);
  });
});

describe('v2 driver on a fake tree', () => {
  beforeEach(() => setup());
  afterEach(() => tree.cleanup());

  test('create enables the controllers in every ancestor, not in the leaf', () => {
    m.create();
    const all = V2_CONTROLLERS.split(' ').map((c) => `+${c}`).join(' ');
    assert.equal(read(join(tree.root, 'cgroup.subtree_control')), all);
    assert.equal(read(join(tree.root, 'berth', 'cgroup.subtree_control')), all);
    assert.equal(f('cgroup.subtree_control'), '');
    assert.equal(m.mode, 'v2');
  });

  test('create skips controllers already enabled and makes missing dirs', () => {
    writeFileSync(join(tree.root, 'cgroup.subtree_control'), 'cpu memory');
    const other = cgroupManager('new/leaf', { mode: 'v2', root: tree.root });
    other.create();
    assert.equal(read(join(tree.root, 'cgroup.subtree_control')), '+cpuset +io +hugetlb +pids +rdma +misc');
    assert.ok(existsSync(join(tree.root, 'new/leaf')));
  });

  test('-m 4MB, cpu.max, cpu.weight, pids max, cpuset', () => {
    m.apply({
      memory: { limit: 4 * MiB, reservation: 2 * MiB, swappiness: 10, disableOOMKiller: true, kernel: MiB },
      cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1', mems: '0', idle: 1 },
      pids: { limit: 0 },
    });
    assert.equal(f('memory.max'), '4194304');
    assert.equal(f('memory.low'), String(2 * MiB));
    assert.equal(f('memory.swap.max'), 'max', 'swap unset: untouched');
    assert.equal(f('cpu.max'), '50000 100000');
    assert.equal(f('cpu.weight'), '39');
    assert.equal(f('cpu.idle'), '1');
    assert.equal(f('pids.max'), 'max');
    assert.equal(f('cpuset.cpus'), '0-1');
    assert.equal(f('cpuset.mems'), '0');
  });

  test('memory swap and unlimited', () => {
    m.apply({ memory: { limit: 4 * MiB, swap: 12 * MiB } });
    assert.equal(f('memory.swap.max'), String(8 * MiB));
    m.apply({ memory: { limit: -1 } });
    assert.equal(f('memory.max'), 'max');
    assert.equal(f('memory.swap.max'), 'max');
  });

  test('memory without swap accounting: "no swap" is fine, a swap limit is not', () => {
    tree.cleanup();
    setup({ swap: false });
    m.apply({ memory: { limit: 4 * MiB, swap: 4 * MiB } });
    assert.equal(f('memory.max'), '4194304');
    assert.throws(() => m.apply({ memory: { limit: 4 * MiB, swap: 8 * MiB } }), /memory.swap.max/);
  });

  test('checkBeforeUpdate refuses a limit below usage', () => {
    writeFileSync(join(dir(), 'memory.current'), String(8 * MiB));
    assert.throws(() => m.apply({ memory: { limit: 4 * MiB, checkBeforeUpdate: true } }), /below the current usage/);
    m.apply({ memory: { limit: 4 * MiB } });
  });

  test('cpu: quota -1 is max; a period alone keeps the quota; burst', () => {
    m.apply({ cpu: { quota: -1, period: 50000 } });
    assert.equal(f('cpu.max'), 'max 50000');
    m.apply({ cpu: { quota: 20000 } });
    assert.equal(f('cpu.max'), '20000');
    writeFileSync(join(dir(), 'cpu.max'), '20000 100000');
    m.apply({ cpu: { period: 200000, burst: 1000 } });
    assert.equal(f('cpu.max'), '20000 200000');
    assert.equal(f('cpu.max.burst'), '1000');
    assert.throws(() => m.apply({ cpu: { realtimeRuntime: 1000 } }), /not supported on cgroup v2/);
  });

  test('io: weight conversion and io.max lines', () => {
    m.apply({
      blockIO: {
        weight: 500,
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: MiB }],
        throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2 * MiB }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 0 }],
      },
    });
    assert.equal(f('io.weight'), 'default 4950');
    // One write per device; the fake file keeps the last one.
    assert.equal(f('io.max'), '8:16 wiops=max');
    m.apply({ blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: MiB }], throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2 * MiB }] } });
    assert.equal(f('io.max'), '8:0 rbps=1048576 wbps=2097152');
    assert.throws(() => m.apply({ blockIO: { leafWeight: 100 } }), /leafWeight/);
  });

  test('io with bfq', () => {
    tree.cleanup();
    setup({ bfq: true });
    m.apply({ blockIO: { weight: 500 } });
    assert.equal(f('io.bfq.weight'), '500');
    m.apply({ blockIO: { weightDevice: [{ major: 8, minor: 0, weight: 300 }] } });
    assert.equal(f('io.bfq.weight'), '8:0 300');
  });

  test('hugetlb limits, and errors for unknown sizes or a missing controller', () => {
    m.apply({ hugepageLimits: [{ pageSize: '2MB', limit: 4 * MiB }] });
    assert.equal(f('hugetlb.2MB.max'), String(4 * MiB));
    assert.equal(f('hugetlb.2MB.rsvd.max'), String(4 * MiB));
    assert.throws(() => m.apply({ hugepageLimits: [{ pageSize: '1GB', limit: 1 }] }), /hugepage size 1GB is not supported/);
    assert.throws(() => m.apply({ hugepageLimits: [{ pageSize: '../x', limit: 1 }] }), InvalidConfigError);
    writeFileSync(join(dir(), 'cgroup.controllers'), 'cpu memory pids');
    assert.throws(() => m.apply({ hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }), /hugetlb controller/);
  });

  test('unified keys are written as files; bad or missing ones are errors naming the file', () => {
    m.apply({ unified: { 'memory.high': '3000000', 'pids.max': '7' }, pids: { limit: 5 } });
    assert.equal(f('memory.high'), '3000000');
    assert.equal(f('pids.max'), '7', 'unified wins over the converted field');
    assert.throws(() => m.apply({ unified: { '../../etc/passwd': 'x' } }), InvalidConfigError);
    assert.throws(() => m.apply({ unified: { 'cgroup.procs': '1' } }), InvalidConfigError);
    assert.throws(
      () => m.apply({ unified: { 'memory.zswap.max': '0' } }),
      (err: Error) => err instanceof InvalidConfigError && err.message.includes('memory.zswap.max') && err.message.includes('"0"'),
    );
  });

  test('network is refused, rdma is written', () => {
    assert.throws(() => m.apply({ network: { classID: 0x100001 } }), /not available on cgroup v2/);
    m.apply({ rdma: { mlx4_0: { hcaHandles: 2, hcaObjects: 2000 } } });
    assert.equal(f('rdma.max'), 'mlx4_0 hca_handle=2 hca_object=2000');
  });

  test('devices go to the eBPF loader with the cgroup dir', () => {
    m.apply({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }] });
    assert.equal(attached.length, 1);
    assert.equal(attached[0]?.dir, dir());
    assert.ok((attached[0]?.program.length ?? 0) > 0);
    m.apply({ memory: { limit: MiB } });
    assert.equal(attached.length, 1, 'no devices field: the filter is left alone');
  });

  test('addProcess, paths, pids', () => {
    m.addProcess(777);
    assert.equal(f('cgroup.procs'), '777');
    assert.equal(m.paths().unified, dir());
    assert.equal(m.paths().memory, dir());
    mkdirSync(join(dir(), 'sub'));
    writeFileSync(join(dir(), 'sub', 'cgroup.procs'), '778\n');
    assert.deepEqual(m.pids(), [777, 778]);
  });

  test('freeze waits for cgroup.events, thaw too; killAll uses cgroup.kill', () => {
    writeFileSync(join(dir(), 'cgroup.events'), 'populated 1\nfrozen 1\n');
    m.freeze();
    assert.equal(f('cgroup.freeze'), '1');
    assert.equal(m.isFrozen(), true);
    writeFileSync(join(dir(), 'cgroup.events'), 'populated 1\nfrozen 0\n');
    m.thaw();
    assert.equal(f('cgroup.freeze'), '0');
    assert.equal(m.isFrozen(), false);
    m.killAll();
    assert.equal(f('cgroup.kill'), '1');
  });

  test('stats reads the v2 files', () => {
    files(dir(), {
      'memory.current': '1048576',
      'memory.max': '4194304',
      'memory.peak': '2097152',
      'memory.events': 'low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n',
      'cpu.stat': 'usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 3\nnr_throttled 1\nthrottled_usec 2\n',
      'pids.current': '3',
      'pids.max': 'max',
      'io.stat': '8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n8:16 rbytes=4 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n',
    });
    const s = m.stats();
    assert.deepEqual(s.memory, { usage: MiB, limit: 4 * MiB, maxUsage: 2 * MiB, failcnt: 5, oomKills: 1, stat: { anon: 0, file: 0 } });
    assert.deepEqual(s.cpu, { usageNs: 10000, userNs: 6000, systemNs: 4000, periods: 3, throttledPeriods: 1, throttledNs: 2000 });
    assert.deepEqual(s.pids, { current: 3, limit: null });
    assert.deepEqual(s.blkio, { readBytes: 4100, writeBytes: 512 });
  });

  test('destroy removes the leaf and its children, keeps the parent, is idempotent', () => {
    mkdirSync(join(dir(), 'inner'));
    m.destroy();
    assert.ok(!existsSync(dir()));
    assert.ok(existsSync(join(tree.root, 'berth')));
    m.destroy();
  });

  test('a missing controller file is an error naming it', () => {
    rmSync(join(dir(), 'pids.max'));
    assert.throws(
      () => m.apply({ pids: { limit: 3 } }),
      (err: Error) => err instanceof InvalidConfigError && err.message.includes(join(dir(), 'pids.max')) && err.message.includes('"3"'),
    );
  });

  test('apply before create says the cgroup is missing', () => {
    const other = cgroupManager('nope/leaf', { mode: 'v2', root: tree.root });
    assert.throws(() => other.apply({ pids: { limit: 1 } }), (err: Error) => err instanceof SystemError && /nope\/leaf does not exist/.test(err.message));
  });

  test('destroy never deletes files from a directory that is not a cgroup', () => {
    const other = cgroupManager('data', { mode: 'v2', root: tree.root });
    files(join(tree.root, 'data'), { 'precious.txt': 'keep me' });
    assert.throws(() => other.destroy(), SystemError);
    assert.equal(read(join(tree.root, 'data', 'precious.txt')), 'keep me');
  });
});
