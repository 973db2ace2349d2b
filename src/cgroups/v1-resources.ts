/**
 * linux.resources on cgroup v1. The tricky parts are orderings the kernel enforces between files
 * (memsw >= limit, cfs burst <= quota, period vs. the parent's quota) and files that only exist
 * with some kernel options (memsw without swapaccount, cfs_burst, bfq weights): a missing file
 * is fine when nothing is asked of it and an error naming it when something is.
 */
import { InvalidConfigError, SystemError } from '../common/errors.ts';
import type { BlockIOResources, CpuResources, MemoryResources, Resources } from '../oci/runtime-spec.ts';
import { devNumber, int, limitValue, need, pageSize, rdmaLines } from './common.ts';
import { normalizeDeviceRules, v1DeviceWrites } from './devices.ts';
import { errnoOf, hasFile, parseLimit, rawWrite, readOptional, writeError, writeValue } from './fsio.ts';

type Dirs = Record<string, string>;

/** Writes, but hands EINVAL back to the caller (for "retry after the other file" orderings). */
function writeOrEinval(dir: string, file: string, value: string): boolean {
  try {
    rawWrite(dir, file, value);
    return true;
  } catch (err) {
    if (errnoOf(err) === 'EINVAL') return false;
    throw writeError(dir, file, value, err);
  }
}

function writeMemoryLimit(dir: string, limit: number): void {
  try {
    rawWrite(dir, 'memory.limit_in_bytes', String(limit));
  } catch (err) {
    if (errnoOf(err) === 'EBUSY') {
      const usage = readOptional(dir, 'memory.usage_in_bytes') ?? '?';
      throw new SystemError(`cannot set memory limit ${limit} on ${dir}: the cgroup already uses ${usage} bytes`);
    }
    throw writeError(dir, 'memory.limit_in_bytes', String(limit), err);
  }
}

function applyMemory(dirs: Dirs, m: MemoryResources | undefined): void {
  if (!m) return;
  const limit = limitValue(m.limit ?? 0, 'memory.limit');
  let swap = limitValue(m.swap ?? 0, 'memory.swap');
  const reservation = limitValue(m.reservation ?? 0, 'memory.reservation');
  const kernelTCP = limitValue(m.kernelTCP ?? 0, 'memory.kernelTCP');
  const swappiness = m.swappiness === undefined || m.swappiness === -1 ? undefined : int(m.swappiness, 'memory.swappiness');
  if (!limit && !swap && !reservation && !kernelTCP && swappiness === undefined && !m.disableOOMKiller) return;
  const dir = need(dirs, 'memory', 'a memory limit');

  const memsw = hasFile(dir, 'memory.memsw.limit_in_bytes');
  if (limit === -1 && swap === 0 && memsw) swap = -1; // "unlimited memory" lifts the memory+swap limit too
  if (swap > 0 && limit > 0 && swap < limit) {
    throw new InvalidConfigError(`memory.swap (${swap}) must be >= memory.limit (${limit}): it is memory+swap`);
  }
  if (swap !== 0 && !memsw) {
    // Without swap accounting there is no memory+swap file; "as much swap as memory" (swap == limit)
    // and "unlimited" need nothing, anything else cannot be honoured.
    if (swap !== -1 && swap !== limit) {
      throw new InvalidConfigError(
        `memory.swap cannot be limited: ${dir}/memory.memsw.limit_in_bytes does not exist`,
        'boot the kernel with swapaccount=1, or leave memory.swap unset',
      );
    }
    swap = 0;
  }
  if (limit !== 0 && swap !== 0) {
    // memsw must stay >= limit at every step: raise memsw first when growing, the limit first when shrinking.
    const current = parseLimit(readOptional(dir, 'memory.limit_in_bytes')) ?? Infinity;
    if (swap === -1 || current < swap) {
      writeValue(dir, 'memory.memsw.limit_in_bytes', String(swap));
      writeMemoryLimit(dir, limit);
    } else {
      writeMemoryLimit(dir, limit);
      writeValue(dir, 'memory.memsw.limit_in_bytes', String(swap));
    }
  } else if (limit !== 0) {
    writeMemoryLimit(dir, limit);
  } else if (swap !== 0) {
    writeValue(dir, 'memory.memsw.limit_in_bytes', String(swap));
  }
  if (reservation) writeValue(dir, 'memory.soft_limit_in_bytes', String(reservation));
  // memory.kernel is ignored: kernels since 5.16 ignore kmem.limit_in_bytes and runc dropped it.
  if (kernelTCP && hasFile(dir, 'memory.kmem.tcp.limit_in_bytes')) {
    writeValue(dir, 'memory.kmem.tcp.limit_in_bytes', String(kernelTCP));
  }
  if (swappiness !== undefined) {
    if (swappiness < 0 || swappiness > 100) {
      throw new InvalidConfigError(`memory.swappiness must be between 0 and 100, got ${swappiness}`);
    }
    writeValue(dir, 'memory.swappiness', String(swappiness));
  }
  if (m.disableOOMKiller) writeValue(dir, 'memory.oom_control', '1');
}

function applyCpuset(dirs: Dirs, c: CpuResources | undefined): void {
  if (!c?.cpus && !c?.mems) return;
  const dir = need(dirs, 'cpuset', 'cpu.cpus/cpu.mems');
  if (c.cpus) writeValue(dir, 'cpuset.cpus', c.cpus);
  if (c.mems) writeValue(dir, 'cpuset.mems', c.mems);
}

function applyCpu(dirs: Dirs, c: CpuResources | undefined): void {
  if (!c) return;
  const shares = int(c.shares ?? 0, 'cpu.shares');
  const quota = int(c.quota ?? 0, 'cpu.quota');
  const period = int(c.period ?? 0, 'cpu.period');
  const burst = c.burst === undefined ? undefined : int(c.burst, 'cpu.burst');
  const rtRuntime = int(c.realtimeRuntime ?? 0, 'cpu.realtimeRuntime');
  const rtPeriod = int(c.realtimePeriod ?? 0, 'cpu.realtimePeriod');
  const idle = c.idle === undefined ? undefined : int(c.idle, 'cpu.idle');
  if (!shares && !quota && !period && burst === undefined && !rtRuntime && !rtPeriod && idle === undefined) return;
  const dir = need(dirs, 'cpu', 'a cpu limit');

  if (shares) {
    writeValue(dir, 'cpu.shares', String(shares));
    const got = readOptional(dir, 'cpu.shares');
    if (got !== undefined && got !== String(shares)) {
      throw new InvalidConfigError(`cpu.shares ${shares} is out of range (the kernel set ${got})`);
    }
  }
  // A shorter period can be refused while the old quota is in place: retry it after the quota.
  const periodPending = period !== 0 && !writeOrEinval(dir, 'cpu.cfs_period_us', String(period));
  if (periodPending && !quota) writeValue(dir, 'cpu.cfs_period_us', String(period)); // throws the real error
  // burst <= quota is checked on both writes: try burst first, else after the quota.
  let burstPending = false;
  if (burst !== undefined && (burst !== 0 || hasFile(dir, 'cpu.cfs_burst_us'))) {
    burstPending = !writeOrEinval(dir, 'cpu.cfs_burst_us', String(burst));
  }
  if (quota) writeValue(dir, 'cpu.cfs_quota_us', String(quota));
  if (periodPending) writeValue(dir, 'cpu.cfs_period_us', String(period));
  if (burstPending) writeValue(dir, 'cpu.cfs_burst_us', String(burst));
  if (rtPeriod) writeValue(dir, 'cpu.rt_period_us', String(rtPeriod));
  if (rtRuntime) writeValue(dir, 'cpu.rt_runtime_us', String(rtRuntime));
  if (idle !== undefined && (idle !== 0 || hasFile(dir, 'cpu.idle'))) writeValue(dir, 'cpu.idle', String(idle));
}

function applyBlkio(dirs: Dirs, b: BlockIOResources | undefined): void {
  if (!b) return;
  const weight = int(b.weight ?? 0, 'blockIO.weight');
  const leafWeight = int(b.leafWeight ?? 0, 'blockIO.leafWeight');
  const throttles: [string, BlockIOResources['throttleReadBpsDevice']][] = [
    ['blkio.throttle.read_bps_device', b.throttleReadBpsDevice],
    ['blkio.throttle.write_bps_device', b.throttleWriteBpsDevice],
    ['blkio.throttle.read_iops_device', b.throttleReadIOPSDevice],
    ['blkio.throttle.write_iops_device', b.throttleWriteIOPSDevice],
  ];
  if (!weight && !leafWeight && !b.weightDevice?.length && !throttles.some(([, l]) => l?.length)) return;
  const dir = need(dirs, 'blkio', 'a block I/O limit');
  // BFQ (the only proportional scheduler left in modern kernels) has its own file names.
  const bfq = hasFile(dir, 'blkio.bfq.weight');
  const weightFile = bfq ? 'blkio.bfq.weight' : 'blkio.weight';
  const weightDeviceFile = bfq ? 'blkio.bfq.weight_device' : 'blkio.weight_device';
  if ((weight || b.weightDevice?.some((d) => d.weight)) && !hasFile(dir, weightFile)) {
    throw new InvalidConfigError(
      `block I/O weights are not supported on this host: neither blkio.weight nor blkio.bfq.weight exists in ${dir}`,
    );
  }
  if (weight) writeValue(dir, weightFile, String(weight));
  if (leafWeight) writeValue(dir, 'blkio.leaf_weight', String(leafWeight));
  for (const d of b.weightDevice ?? []) {
    const dev = devNumber(d, 'blockIO.weightDevice');
    if (d.weight) writeValue(dir, weightDeviceFile, `${dev} ${int(d.weight, 'blockIO.weightDevice.weight')}`);
    if (d.leafWeight) writeValue(dir, 'blkio.leaf_weight_device', `${dev} ${int(d.leafWeight, 'blockIO.weightDevice.leafWeight')}`);
  }
  for (const [file, list] of throttles) {
    for (const t of list ?? []) {
      const rate = int(t.rate, file);
      if (rate < 0) throw new InvalidConfigError(`${file}: rate must not be negative, got ${rate}`);
      writeValue(dir, file, `${devNumber(t, file)} ${rate}`);
    }
  }
}

function applyNetwork(dirs: Dirs, n: Resources['network']): void {
  if (n?.classID !== undefined) {
    writeValue(need(dirs, 'net_cls', 'network.classID'), 'net_cls.classid', String(int(n.classID, 'network.classID')));
  }
  for (const p of n?.priorities ?? []) {
    if (!/^[^\s/]+$/.test(p.name)) throw new InvalidConfigError(`network.priorities: invalid interface name "${p.name}"`);
    writeValue(need(dirs, 'net_prio', 'network.priorities'), 'net_prio.ifpriomap', `${p.name} ${int(p.priority, 'network.priorities.priority')}`);
  }
}

/** Applies linux.resources to the v1 directories (`controller -> dir`). Safe to call again for updates. */
export function applyV1(dirs: Dirs, r: Resources): void {
  if (r.unified && Object.keys(r.unified).length > 0) {
    throw new InvalidConfigError('linux.resources.unified needs cgroup v2, but this host uses cgroup v1');
  }
  applyCpuset(dirs, r.cpu);
  if (r.devices !== undefined) {
    const dir = need(dirs, 'devices', 'linux.resources.devices');
    for (const w of v1DeviceWrites(normalizeDeviceRules(r.devices))) writeValue(dir, w.file, w.line);
  }
  applyMemory(dirs, r.memory);
  applyCpu(dirs, r.cpu);
  if (r.pids !== undefined) {
    const limit = int(r.pids.limit, 'pids.limit');
    writeValue(need(dirs, 'pids', 'a pids limit'), 'pids.max', limit > 0 ? String(limit) : 'max');
  }
  applyBlkio(dirs, r.blockIO);
  if (r.hugepageLimits?.length) {
    const dir = need(dirs, 'hugetlb', 'hugepageLimits');
    for (const h of r.hugepageLimits) {
      const file = `hugetlb.${pageSize(h.pageSize)}.limit_in_bytes`;
      if (!hasFile(dir, file)) throw new InvalidConfigError(`hugepage size ${h.pageSize} is not supported: ${dir}/${file} does not exist`);
      writeValue(dir, file, String(limitValue(h.limit, 'hugepageLimits.limit')));
    }
  }
  applyNetwork(dirs, r.network);
  const rdma = rdmaLines(r.rdma);
  if (rdma.length) for (const line of rdma) writeValue(need(dirs, 'rdma', 'rdma limits'), 'rdma.max', line);
}
