/**
 * Fake cgroupfs trees for unit tests: directories and control files pre-created with the values
 * a kernel would show, so the drivers can be checked by reading back what they wrote.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const UNLIMITED = '9223372036854771712';

export function read(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

export function files(dir: string, entries: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, value] of Object.entries(entries)) writeFileSync(join(dir, name), value);
}

export interface FakeTree {
  root: string;
  mountinfo: string;
  cleanup(): void;
}

/** Kernel-like v1 control files per hierarchy; `parent` values are the ones a fresh child starts with. */
function v1Files(hierarchy: string, opts: V1Options, isRoot: boolean): Record<string, string> {
  const common = { 'cgroup.procs': '', tasks: '', notify_on_release: '0' };
  switch (hierarchy) {
    case 'memory':
      return {
        ...common,
        'memory.limit_in_bytes': UNLIMITED,
        ...(opts.memsw === false ? {} : { 'memory.memsw.limit_in_bytes': UNLIMITED }),
        'memory.soft_limit_in_bytes': UNLIMITED,
        'memory.usage_in_bytes': '0',
        'memory.max_usage_in_bytes': '0',
        'memory.failcnt': '0',
        'memory.swappiness': '60',
        'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0',
        'memory.stat': 'cache 0\nrss 0',
        'memory.kmem.tcp.limit_in_bytes': UNLIMITED,
      };
    case 'cpu,cpuacct':
      return {
        ...common,
        'cpu.shares': '1024',
        'cpu.cfs_quota_us': '-1',
        'cpu.cfs_period_us': '100000',
        ...(opts.burst === false ? {} : { 'cpu.cfs_burst_us': '0' }),
        'cpu.rt_period_us': '1000000',
        'cpu.rt_runtime_us': '0',
        'cpu.idle': '0',
        'cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0',
        'cpuacct.usage': '0',
        'cpuacct.stat': 'user 0\nsystem 0',
      };
    case 'cpuset':
      return { ...common, 'cpuset.cpus': isRoot ? '0-3' : '', 'cpuset.mems': isRoot ? '0' : '' };
    case 'pids':
      return { ...common, 'pids.max': 'max', 'pids.current': '0' };
    case 'blkio':
      return {
        ...common,
        'blkio.throttle.read_bps_device': '',
        'blkio.throttle.write_bps_device': '',
        'blkio.throttle.read_iops_device': '',
        'blkio.throttle.write_iops_device': '',
        'blkio.throttle.io_service_bytes_recursive': 'Total 0',
        ...(opts.bfq ? { 'blkio.bfq.weight': '100', 'blkio.bfq.weight_device': '' } : {}),
      };
    case 'devices':
      return { ...common, 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm' };
    case 'freezer':
      return isRoot ? common : { ...common, 'freezer.state': 'THAWED' };
    default:
      return common;
  }
}

export interface V1Options {
  memsw?: boolean;
  burst?: boolean;
  bfq?: boolean;
  /** Pre-create these cgroup paths (as the kernel would after mkdir). */
  paths?: string[];
}

const V1_HIERARCHIES: [string, string][] = [
  ['cpu,cpuacct', 'cpu,cpuacct'],
  ['cpuset', 'cpuset'],
  ['memory', 'memory'],
  ['devices', 'devices'],
  ['freezer', 'freezer'],
  ['blkio', 'blkio'],
  ['pids', 'pids'],
  ['systemd', 'name=systemd'],
];

/** A hybrid v1 tree like Docker hosts of the cgroup-v1 era (cpu,cpuacct co-mounted) plus unified. */
export function fakeV1(opts: V1Options = {}): FakeTree {
  const root = mkdtempSync(join(tmpdir(), 'berth-cg-v1-'));
  const lines = ['30 22 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755'];
  let id = 31;
  for (const [dir, opt] of V1_HIERARCHIES) {
    lines.push(`${id} 30 0:${id} / /sys/fs/cgroup/${dir} rw,nosuid,nodev,noexec,relatime shared:${id} - cgroup cgroup rw,${opt}`);
    id++;
    files(join(root, dir), v1Files(dir, opts, true));
    for (const p of opts.paths ?? []) {
      let d = join(root, dir);
      for (const part of p.split('/')) {
        d = join(d, part);
        if (!existsSync(d)) files(d, v1Files(dir, opts, false));
      }
    }
  }
  lines.push(`${id} 30 0:${id} / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:${id} - cgroup2 cgroup2 rw,nsdelegate`);
  files(join(root, 'unified'), { 'cgroup.procs': '', 'cgroup.controllers': '', 'cgroup.subtree_control': '' });
  for (const p of opts.paths ?? []) files(join(root, 'unified', p), { 'cgroup.procs': '' });
  return { root, mountinfo: `${lines.join('\n')}\n`, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export const V2_CONTROLLERS = 'cpuset cpu io memory hugetlb pids rdma misc';

function v2Files(isRoot: boolean, opts: V2Options): Record<string, string> {
  const core = {
    'cgroup.procs': '',
    'cgroup.controllers': V2_CONTROLLERS,
    'cgroup.subtree_control': '',
    'cgroup.events': 'populated 0\nfrozen 0',
  };
  if (isRoot) return core;
  return {
    ...core,
    'cgroup.freeze': '0',
    'cgroup.kill': '',
    'cpu.weight': '100',
    'cpu.max': 'max 100000',
    'cpu.max.burst': '0',
    'cpu.idle': '0',
    'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0',
    'cpuset.cpus': '',
    'cpuset.mems': '',
    'memory.max': 'max',
    'memory.low': '0',
    'memory.high': 'max',
    'memory.current': '0',
    'memory.peak': '0',
    ...(opts.swap === false ? {} : { 'memory.swap.max': 'max' }),
    'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0',
    'memory.stat': 'anon 0\nfile 0',
    'pids.max': 'max',
    'pids.current': '0',
    'io.max': '',
    'io.weight': 'default 100',
    ...(opts.bfq ? { 'io.bfq.weight': 'default 100' } : {}),
    'io.stat': '',
    'hugetlb.2MB.max': 'max',
    'hugetlb.2MB.rsvd.max': 'max',
    'rdma.max': '',
  };
}

export interface V2Options {
  swap?: boolean;
  bfq?: boolean;
  paths?: string[];
}

/** A pure v2 tree: root with every controller, each given path pre-created level by level. */
export function fakeV2(opts: V2Options = {}): FakeTree {
  const root = mkdtempSync(join(tmpdir(), 'berth-cg-v2-'));
  files(root, v2Files(true, opts));
  for (const p of opts.paths ?? []) {
    let d = root;
    for (const part of p.split('/')) {
      d = join(d, part);
      if (!existsSync(d)) files(d, v2Files(false, opts));
    }
  }
  const mountinfo = '30 22 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';
  return { root, mountinfo, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
