/**
 * linux.resources on cgroup v2, with the conversions from the v1-shaped OCI fields that runc,
 * crun and systemd agree on (shares -> weight, memory+swap -> swap, blkio weight -> io.weight).
 * Fields v2 has no knob for (swappiness, disableOOMKiller, kernel, kernelTCP) are ignored, as runc
 * does; fields whose intent cannot be met (realtime, leafWeight, net_cls/net_prio) are errors.
 */
import { InvalidConfigError } from '../common/errors.ts';
import type { BlockIOResources, CpuResources, MemoryResources, Resources } from '../oci/runtime-spec.ts';
import { blkioToIoWeight, devNumber, int, limitValue, pageSize, rdmaLines, sharesToWeight, swapToV2 } from './common.ts';
import { deviceFilterProgram } from './device-filter.ts';
import { errnoOf, hasFile, rawWrite, readOptional, writeError, writeValue } from './fsio.ts';

export type AttachDeviceFilter = (cgroupDir: string, program: Uint8Array) => void;

function maxStr(v: number): string {
  return v === -1 ? 'max' : String(v);
}

function applyMemory(dir: string, m: MemoryResources | undefined): void {
  if (!m) return;
  const limit = limitValue(m.limit ?? 0, 'memory.limit');
  const swap = limitValue(m.swap ?? 0, 'memory.swap');
  const reservation = limitValue(m.reservation ?? 0, 'memory.reservation');
  if (!limit && !swap && !reservation) return;
  if (m.checkBeforeUpdate && limit > 0) {
    const usage = Number(readOptional(dir, 'memory.current') ?? 0);
    if (usage > limit) {
      throw new InvalidConfigError(`memory.limit ${limit} is below the current usage ${usage} of ${dir}`);
    }
  }
  const swapMax = swapToV2(swap, limit);
  if (swapMax !== null) {
    try {
      rawWrite(dir, 'memory.swap.max', swapMax);
    } catch (err) {
      // Without swap accounting the file is missing; "no swap" and "unlimited" then need nothing.
      if (!(errnoOf(err) === 'ENOENT' && (swapMax === 'max' || swapMax === '0'))) {
        throw writeError(dir, 'memory.swap.max', swapMax, err);
      }
    }
  }
  if (limit) writeValue(dir, 'memory.max', maxStr(limit));
  if (reservation) writeValue(dir, 'memory.low', maxStr(reservation));
}

function applyCpu(dir: string, c: CpuResources | undefined): void {
  if (!c) return;
  if (c.cpus) writeValue(dir, 'cpuset.cpus', c.cpus);
  if (c.mems) writeValue(dir, 'cpuset.mems', c.mems);
  const shares = int(c.shares ?? 0, 'cpu.shares');
  if (shares) writeValue(dir, 'cpu.weight', String(sharesToWeight(shares)));
  if (c.realtimeRuntime || c.realtimePeriod) {
    throw new InvalidConfigError('cpu.realtimeRuntime/realtimePeriod are not supported on cgroup v2');
  }
  const quota = int(c.quota ?? 0, 'cpu.quota');
  const period = int(c.period ?? 0, 'cpu.period');
  let cpuMax: string | undefined;
  if (quota || period) {
    // Only a period: keep the quota already in place rather than lifting it.
    const q = quota > 0 ? String(quota) : quota < 0 ? 'max' : (readOptional(dir, 'cpu.max') ?? 'max').split(' ')[0];
    cpuMax = period ? `${q} ${period}` : q;
  }
  const burst = c.burst === undefined ? undefined : String(int(c.burst, 'cpu.burst'));
  // The kernel checks burst <= quota on both files: burst first, or after cpu.max if refused.
  let burstPending = false;
  if (burst !== undefined && (burst !== '0' || hasFile(dir, 'cpu.max.burst'))) {
    try {
      rawWrite(dir, 'cpu.max.burst', burst);
    } catch (err) {
      if (errnoOf(err) !== 'EINVAL' || cpuMax === undefined) throw writeError(dir, 'cpu.max.burst', burst, err);
      burstPending = true;
    }
  }
  if (cpuMax !== undefined) writeValue(dir, 'cpu.max', cpuMax);
  if (burstPending && burst !== undefined) writeValue(dir, 'cpu.max.burst', burst);
  if (c.idle !== undefined && (c.idle !== 0 || hasFile(dir, 'cpu.idle'))) {
    writeValue(dir, 'cpu.idle', String(int(c.idle, 'cpu.idle')));
  }
}

/** io.max lines, one per device with every limit for it: "8:0 rbps=1048576 wiops=max". */
export function ioMaxLines(b: BlockIOResources): string[] {
  const byDev = new Map<string, string[]>();
  const lists: [string, BlockIOResources['throttleReadBpsDevice']][] = [
    ['rbps', b.throttleReadBpsDevice],
    ['wbps', b.throttleWriteBpsDevice],
    ['riops', b.throttleReadIOPSDevice],
    ['wiops', b.throttleWriteIOPSDevice],
  ];
  for (const [key, list] of lists) {
    for (const t of list ?? []) {
      const dev = devNumber(t, `blockIO throttle ${key}`);
      const rate = int(t.rate, `blockIO throttle ${key}`);
      if (rate < 0) throw new InvalidConfigError(`blockIO throttle ${key}: rate must not be negative, got ${rate}`);
      // v1 uses 0 for "no limit"; v2 refuses 0 and spells it "max".
      const entry = byDev.get(dev) ?? [];
      entry.push(`${key}=${rate === 0 ? 'max' : rate}`);
      byDev.set(dev, entry);
    }
  }
  return [...byDev].map(([dev, kv]) => `${dev} ${kv.join(' ')}`);
}

function applyIo(dir: string, b: BlockIOResources | undefined): void {
  if (!b) return;
  if (b.leafWeight || b.weightDevice?.some((d) => d.leafWeight)) {
    throw new InvalidConfigError('blockIO leafWeight is not supported on cgroup v2');
  }
  // BFQ takes v1-range weights directly; io.weight (1..10000) needs the conversion.
  const bfq = hasFile(dir, 'io.bfq.weight');
  const weight = int(b.weight ?? 0, 'blockIO.weight');
  if (weight) {
    if (bfq) writeValue(dir, 'io.bfq.weight', String(weight));
    else writeValue(dir, 'io.weight', `default ${blkioToIoWeight(weight)}`);
  }
  for (const d of b.weightDevice ?? []) {
    if (!d.weight) continue;
    const dev = devNumber(d, 'blockIO.weightDevice');
    const w = int(d.weight, 'blockIO.weightDevice.weight');
    if (bfq) writeValue(dir, 'io.bfq.weight', `${dev} ${w}`);
    else writeValue(dir, 'io.weight', `${dev} ${blkioToIoWeight(w)}`);
  }
  for (const line of ioMaxLines(b)) writeValue(dir, 'io.max', line);
}

function applyHugetlb(dir: string, limits: Resources['hugepageLimits']): void {
  if (!limits?.length) return;
  const controllers = (readOptional(dir, 'cgroup.controllers') ?? '').split(/\s+/);
  if (!controllers.includes('hugetlb')) {
    throw new InvalidConfigError(`hugepageLimits need the hugetlb controller, which is not enabled for ${dir}`);
  }
  for (const h of limits) {
    const size = pageSize(h.pageSize);
    const value = maxStr(limitValue(h.limit, 'hugepageLimits.limit'));
    if (!hasFile(dir, `hugetlb.${size}.max`)) {
      throw new InvalidConfigError(`hugepage size ${size} is not supported: ${dir}/hugetlb.${size}.max does not exist`);
    }
    writeValue(dir, `hugetlb.${size}.max`, value);
    // Reservations are charged separately since 5.7; limit them the same or mmap can over-reserve.
    if (hasFile(dir, `hugetlb.${size}.rsvd.max`)) writeValue(dir, `hugetlb.${size}.rsvd.max`, value);
  }
}

function applyUnified(dir: string, unified: Record<string, string> | undefined): void {
  for (const [key, value] of Object.entries(unified ?? {})) {
    if (!/^[a-z][a-z0-9_]*\.[a-z0-9_.]+$/.test(key) || key.includes('..')) {
      throw new InvalidConfigError(`linux.resources.unified: "${key}" is not a cgroup file name`);
    }
    if (key.startsWith('cgroup.')) {
      throw new InvalidConfigError(`linux.resources.unified: "${key}" is a core cgroup file, not a resource`);
    }
    writeValue(dir, key, value);
  }
}

/** Applies linux.resources to the v2 directory. Safe to call again for updates. */
export function applyV2(dir: string, r: Resources, attach: AttachDeviceFilter): void {
  if (r.network?.classID !== undefined || r.network?.priorities?.length) {
    throw new InvalidConfigError('linux.resources.network (net_cls/net_prio) is not available on cgroup v2');
  }
  if (r.devices !== undefined) attach(dir, deviceFilterProgram(r.devices));
  applyMemory(dir, r.memory);
  applyCpu(dir, r.cpu);
  if (r.pids !== undefined) {
    const limit = int(r.pids.limit, 'pids.limit');
    writeValue(dir, 'pids.max', limit > 0 ? String(limit) : 'max');
  }
  applyIo(dir, r.blockIO);
  applyHugetlb(dir, r.hugepageLimits);
  for (const line of rdmaLines(r.rdma)) writeValue(dir, 'rdma.max', line);
  // Last, so explicit unified keys override the converted values (as runc does).
  applyUnified(dir, r.unified);
}
