/**
 * The driver-independent cgroup interface. Callers (create/run/update/ps/kill/pause/stats/delete)
 * only see this, so a container behaves the same on v1, hybrid and v2 hosts.
 */
import type { Resources } from '../oci/runtime-spec.ts';

export type CgroupMode = 'v1' | 'hybrid' | 'v2';

export interface CgroupManager {
  /** The container's cgroup path relative to each hierarchy root, e.g. "berth/<id>". */
  readonly path: string;
  readonly mode: CgroupMode;
  /** Makes the directories (v1: every mounted hierarchy; v2: the leaf, enabling controllers above it). */
  create(): void;
  /** Writes linux.resources; may be called again on a live cgroup (`update`). */
  apply(resources: Resources): void;
  /** Moves a process into the cgroup in every hierarchy. */
  addProcess(pid: number): void;
  /** controller -> absolute directory ("unified" for the cgroup2 directory, "name=systemd" for named hierarchies). */
  paths(): Record<string, string>;
  freeze(): void;
  thaw(): void;
  isFrozen(): boolean;
  /** Every pid in the cgroup and its descendants, sorted. */
  pids(): number[];
  /** Signals every process (SIGKILL by default) without letting forks escape. */
  killAll(signal?: NodeJS.Signals): void;
  /** Removes the directories deepest first; idempotent. */
  destroy(): void;
  stats(): CgroupStats;
}

/** Resource usage; `null` limits mean "no limit". Numbers are bytes, nanoseconds or counts. */
export interface CgroupStats {
  memory: {
    usage: number;
    limit: number | null;
    maxUsage: number;
    failcnt: number;
    oomKills: number;
    /** memory.stat as key -> value (cache, rss, ... on v1; anon, file, ... on v2). */
    stat: Record<string, number>;
  };
  cpu: {
    usageNs: number;
    userNs: number;
    systemNs: number;
    periods: number;
    throttledPeriods: number;
    throttledNs: number;
  };
  pids: { current: number; limit: number | null };
  blkio: { readBytes: number; writeBytes: number };
}

export interface CgroupManagerOptions {
  mode?: CgroupMode;
  /** Where the hierarchies are mounted; default /sys/fs/cgroup (a fake tree in unit tests). */
  root?: string;
  /** mountinfo text to discover hierarchies from; default /proc/self/mountinfo. */
  mountinfo?: string;
  /**
   * v2 only: installs the device eBPF program on the cgroup directory. Defaults to the bpf(2)
   * loader in src/sys/bpf.ts; tests on a fake tree pass a recorder instead.
   */
  attachDeviceFilter?: (cgroupDir: string, program: Uint8Array) => void;
}
