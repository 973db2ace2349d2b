/**
 * Cgroups for containers: one CgroupManager interface over the v1 (and hybrid) and v2 drivers,
 * chosen from what the host actually mounts.
 */
import { attachDeviceFilter } from '../sys/bpf.ts';
import { CGROUP_ROOT, detectCgroupMode } from './mode.ts';
import { parseCgroupMounts, readMountinfo } from './mountinfo.ts';
import { normalizeCgroupPath } from './path.ts';
import type { CgroupManager, CgroupManagerOptions } from './types.ts';
import { V1Manager, v1Hierarchies } from './v1.ts';
import { V2Manager } from './v2.ts';

export type { CgroupManager, CgroupManagerOptions, CgroupMode, CgroupStats } from './types.ts';
export { detectCgroupMode } from './mode.ts';
export { normalizeCgroupPath } from './path.ts';
export { deviceFilterProgram } from './device-filter.ts';
export { sharesToWeight, blkioToIoWeight, swapToV2 } from './common.ts';

/**
 * The manager for `cgroupsPath` (config.json's linux.cgroupsPath; absolute or relative, both
 * placed under each hierarchy root). Nothing is touched on disk until create()/apply().
 */
export function cgroupManager(cgroupsPath: string, opts: CgroupManagerOptions = {}): CgroupManager {
  const path = normalizeCgroupPath(cgroupsPath);
  const fakeV2 = opts.mode === 'v2' && opts.root !== undefined;
  const text = fakeV2 ? '' : readMountinfo(opts.mountinfo);
  const mode = opts.mode ?? detectCgroupMode(text);
  if (mode === 'v2') {
    let root = opts.root;
    if (root === undefined) {
      const cg2 = parseCgroupMounts(text).filter((m) => m.fsType === 'cgroup2');
      root = (cg2.findLast((m) => m.mountPoint === CGROUP_ROOT) ?? cg2[0])?.mountPoint ?? CGROUP_ROOT;
    }
    return new V2Manager(path, root, opts.attachDeviceFilter ?? attachDeviceFilter);
  }
  const hierarchies = v1Hierarchies(parseCgroupMounts(text), opts.root ?? CGROUP_ROOT, mode === 'hybrid');
  return new V1Manager(path, hierarchies, mode);
}
