/**
 * Cgroup mounts from /proc/self/mountinfo. The hierarchies a host has are whatever is mounted,
 * not a fixed list: hosts co-mount (cpu,cpuacct), leave controllers out (no hugetlb here), or
 * use named hierarchies (name=systemd), so everything downstream is driven by this parse.
 */
import { readFileSync } from 'node:fs';
import { SystemError } from '../common/errors.ts';

export interface CgroupMount {
  /** Where the hierarchy is mounted, unescaped. */
  mountPoint: string;
  fsType: 'cgroup' | 'cgroup2';
  /** v1 only: controllers and `name=` of the hierarchy, e.g. ["cpu", "cpuacct"] or ["name=systemd"]. */
  controllers: string[];
}

/** Every v1 controller the kernel knows; other super options (rw, xattr, release_agent=...) are not. */
const V1_CONTROLLERS = new Set([
  'cpuset', 'cpu', 'cpuacct', 'blkio', 'memory', 'devices', 'freezer', 'net_cls', 'perf_event',
  'net_prio', 'hugetlb', 'pids', 'rdma', 'misc',
]);

function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses mountinfo text into its cgroup and cgroup2 mounts, in mount order. */
export function parseCgroupMounts(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const pre = line.slice(0, dash).split(' ');
    const post = line.slice(dash + 3).split(' ');
    const fsType = post[0];
    const mountPoint = pre[4];
    if ((fsType !== 'cgroup' && fsType !== 'cgroup2') || mountPoint === undefined) continue;
    const superOpts = (post[2] ?? '').split(',');
    const controllers =
      fsType === 'cgroup' ? superOpts.filter((o) => V1_CONTROLLERS.has(o) || o.startsWith('name=')) : [];
    mounts.push({ mountPoint: unescape(mountPoint), fsType, controllers });
  }
  return mounts;
}

/** The mountinfo text to use: the caller's (tests, other mount namespaces) or this process's. */
export function readMountinfo(text?: string): string {
  if (text !== undefined) return text;
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8');
  } catch (err) {
    throw new SystemError('cannot read /proc/self/mountinfo to find the cgroup hierarchies', { cause: err });
  }
}
