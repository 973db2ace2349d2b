/**
 * Validation and small conversions both drivers share, so v1 and v2 reject the same bad input
 * with the same words.
 */
import { InvalidConfigError } from '../common/errors.ts';
import type { Resources, ThrottleDevice, WeightDevice } from '../oci/runtime-spec.ts';

/** Throws unless `v` is an integer (JSON numbers can be anything). */
export function int(v: number, what: string): number {
  if (!Number.isSafeInteger(v)) throw new InvalidConfigError(`${what} must be an integer, got ${v}`);
  return v;
}

/** A byte limit: positive, or -1 for "no limit". */
export function limitValue(v: number, what: string): number {
  int(v, what);
  if (v < -1) throw new InvalidConfigError(`${what} must be positive or -1 (unlimited), got ${v}`);
  return v;
}

/** "maj:min" of a weight or throttle entry, validated. */
export function devNumber(d: WeightDevice | ThrottleDevice, what: string): string {
  if (!Number.isSafeInteger(d.major) || !Number.isSafeInteger(d.minor) || d.major < 0 || d.minor < 0) {
    throw new InvalidConfigError(`${what}: invalid device ${d.major}:${d.minor}`);
  }
  return `${d.major}:${d.minor}`;
}

/** A hugepage size as the kernel spells it in file names ("2MB", "1GB", "64KB"). */
export function pageSize(size: string): string {
  if (!/^\d+(KB|MB|GB)$/.test(size)) {
    throw new InvalidConfigError(`hugepage size "${size}" is not of the form 2MB, 1GB or 64KB`);
  }
  return size;
}

/** The controller directory for a requested resource, or an error naming the missing controller. */
export function need(dirs: Record<string, string>, controller: string, what: string): string {
  const dir = dirs[controller];
  if (dir === undefined) {
    throw new InvalidConfigError(`${what} needs the ${controller} cgroup controller, which is not available on this host`);
  }
  return dir;
}

/** v1 cpu.shares -> v2 cpu.weight, the mapping runc, crun and systemd share (2..262144 -> 1..10000). */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return 1 + Math.trunc(((shares - 2) * 9999) / 262142);
}

/** v1 blkio weight (10..1000) -> v2 io.weight (1..10000). */
export function blkioToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.trunc(((weight - 10) * 9999) / 990);
}

/**
 * OCI memory.swap is memory+swap (the v1 meaning); v2's memory.swap.max is swap alone.
 * Returns null when memory.swap.max must not be written.
 */
export function swapToV2(swap: number, limit: number): string | null {
  if (limit === -1 && swap === 0) return 'max'; // "unlimited memory" also lifts swap, as on v1
  if (swap === 0) return null;
  if (swap === -1) return 'max';
  if (limit === 0 || limit === -1) {
    throw new InvalidConfigError('memory.swap cannot be set without a memory.limit');
  }
  if (swap < limit) throw new InvalidConfigError(`memory.swap (${swap}) must be >= memory.limit (${limit}): it is memory+swap`);
  return String(swap - limit);
}

/** rdma.max lines; v1 and v2 share the file name and format. */
export function rdmaLines(rdma: Resources['rdma']): string[] {
  return Object.entries(rdma ?? {}).map(([dev, l]) => {
    if (!/^[^\s/]+$/.test(dev)) throw new InvalidConfigError(`rdma: invalid device name "${dev}"`);
    const h = l.hcaHandles === undefined ? 'max' : String(int(l.hcaHandles, 'rdma.hcaHandles'));
    const o = l.hcaObjects === undefined ? 'max' : String(int(l.hcaObjects, 'rdma.hcaObjects'));
    return `${dev} hca_handle=${h} hca_object=${o}`;
  });
}
