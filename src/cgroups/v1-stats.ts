/**
 * Usage numbers from the v1 hierarchies, in the driver-independent CgroupStats shape.
 * Missing controllers or files read as zero: stats are for display and must not fail a `ps`.
 */
import { parseKeyValues, parseLimit, readOptional } from './fsio.ts';
import type { CgroupStats } from './types.ts';

function num(dir: string | undefined, file: string): number {
  if (dir === undefined) return 0;
  const n = Number(readOptional(dir, file) ?? 0);
  return Number.isFinite(n) ? n : 0;
}

/** Sums the "Read" and "Write" lines of a blkio io_service_bytes file ("8:0 Read 4096"). */
export function parseBlkioBytes(text: string | undefined): { readBytes: number; writeBytes: number } {
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of (text ?? '').split('\n')) {
    const [, op, value] = line.trim().split(/\s+/);
    if (op === 'Read') readBytes += Number(value) || 0;
    if (op === 'Write') writeBytes += Number(value) || 0;
  }
  return { readBytes, writeBytes };
}

const USER_HZ_NS = 1e9 / 100;

export function statsV1(dirs: Record<string, string>): CgroupStats {
  const mem = dirs.memory;
  const oom = parseKeyValues(mem === undefined ? undefined : readOptional(mem, 'memory.oom_control'));
  const acct = dirs.cpuacct;
  const acctStat = parseKeyValues(acct === undefined ? undefined : readOptional(acct, 'cpuacct.stat'));
  const cpuStat = parseKeyValues(dirs.cpu === undefined ? undefined : readOptional(dirs.cpu, 'cpu.stat'));
  const blkio = dirs.blkio;
  const blkioText =
    blkio === undefined
      ? undefined
      : (readOptional(blkio, 'blkio.throttle.io_service_bytes_recursive') ??
        readOptional(blkio, 'blkio.throttle.io_service_bytes'));
  const haveSplit = acct !== undefined && readOptional(acct, 'cpuacct.usage_user') !== undefined;
  return {
    memory: {
      usage: num(mem, 'memory.usage_in_bytes'),
      limit: mem === undefined ? null : parseLimit(readOptional(mem, 'memory.limit_in_bytes')),
      maxUsage: num(mem, 'memory.max_usage_in_bytes'),
      failcnt: num(mem, 'memory.failcnt'),
      oomKills: oom.oom_kill ?? 0,
      stat: parseKeyValues(mem === undefined ? undefined : readOptional(mem, 'memory.stat')),
    },
    cpu: {
      usageNs: num(acct, 'cpuacct.usage'),
      userNs: haveSplit ? num(acct, 'cpuacct.usage_user') : (acctStat.user ?? 0) * USER_HZ_NS,
      systemNs: haveSplit ? num(acct, 'cpuacct.usage_sys') : (acctStat.system ?? 0) * USER_HZ_NS,
      periods: cpuStat.nr_periods ?? 0,
      throttledPeriods: cpuStat.nr_throttled ?? 0,
      throttledNs: cpuStat.throttled_time ?? 0,
    },
    pids: {
      current: num(dirs.pids, 'pids.current'),
      limit: dirs.pids === undefined ? null : parseLimit(readOptional(dirs.pids, 'pids.max')),
    },
    blkio: parseBlkioBytes(blkioText),
  };
}
