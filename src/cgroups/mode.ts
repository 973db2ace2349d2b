/**
 * Which cgroup layout the host uses. This decides the driver: pure v2 needs the unified driver
 * (eBPF devices, subtree_control), while v1 and hybrid hosts keep every controller on v1 and only
 * use the unified hierarchy (if any) for process tracking.
 */
import { SystemError } from '../common/errors.ts';
import { parseCgroupMounts, readMountinfo, type CgroupMount } from './mountinfo.ts';
import type { CgroupMode } from './types.ts';

/** The conventional mount point; v2 means cgroup2 is what is visible there (like runc's statfs check). */
export const CGROUP_ROOT = '/sys/fs/cgroup';

function visibleAt(mounts: CgroupMount[], point: string): CgroupMount | undefined {
  // Later mounts on the same point shadow earlier ones.
  return mounts.filter((m) => m.mountPoint === point).at(-1);
}

/** Detects v1, hybrid (v1 controllers plus a controller-less cgroup2, e.g. at .../unified) or v2. */
export function detectCgroupMode(mountinfo?: string): CgroupMode {
  const mounts = parseCgroupMounts(readMountinfo(mountinfo));
  if (visibleAt(mounts, CGROUP_ROOT)?.fsType === 'cgroup2') return 'v2';
  const v1 = mounts.some((m) => m.fsType === 'cgroup' && m.controllers.length > 0);
  const v2 = mounts.some((m) => m.fsType === 'cgroup2');
  if (v1) return v2 ? 'hybrid' : 'v1';
  if (v2) return 'v2';
  throw new SystemError('no cgroup filesystem is mounted', { hint: 'mount cgroup2 on /sys/fs/cgroup' });
}

/** Moves a mount point under a different root (a fake tree in tests) keeping its place below /sys/fs/cgroup. */
export function rebase(mountPoint: string, root: string): string {
  if (root === CGROUP_ROOT) return mountPoint;
  if (mountPoint === CGROUP_ROOT) return root;
  if (mountPoint.startsWith(`${CGROUP_ROOT}/`)) return root + mountPoint.slice(CGROUP_ROOT.length);
  return mountPoint;
}
