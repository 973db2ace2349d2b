/**
 * Usage numbers from a cgroup v2 directory, in the same CgroupStats shape as v1 so `stats`
 * output does not depend on the host. Missing files read as zero.
 */
import { parseKeyValues, parseLimit, readOptional } from './fsio.ts';
import type { CgroupStats } from './types.ts';

/** Sums rbytes/wbytes over the devices of io.stat ("8:0 rbytes=4096 wbytes=0 rios=1 ..."). */
export function parseIoStat(text: string | undefined): { readBytes: number; writeBytes: number } {
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of (text ?? '').split('\n')) {
    for (const kv of line.trim().split(/\s+/).slice(1)) {
      const [k, v] = kv.split('=');
      if (k === 'rbytes') readBytes += Number(v) || 0;
      if (k === 'wbytes') writeBytes += Number(v) || 0;
    }
  }
  return { readBytes, writeBytes };
}

export function statsV2(dir: string): CgroupStats {
  const n = (file: string): number => Number(readOptional(dir, file) ?? 0) || 0;
  const events = parseKeyValues(readOptional(dir, 'memory.events'));
  const cpu = parseKeyValues(readOptional(dir, 'cpu.stat'));
  return {
    memory: {
      usage: n('memory.current'),
      limit: parseLimit(readOptional(dir, 'memory.max')),
      maxUsage: n('memory.peak'), // since 5.19
      failcnt: events.max ?? 0, // times usage hit memory.max, v1's failcnt
      oomKills: events.oom_kill ?? 0,
      stat: parseKeyValues(readOptional(dir, 'memory.stat')),
    },
    cpu: {
      usageNs: (cpu.usage_usec ?? 0) * 1000,
      userNs: (cpu.user_usec ?? 0) * 1000,
      systemNs: (cpu.system_usec ?? 0) * 1000,
      periods: cpu.nr_periods ?? 0,
      throttledPeriods: cpu.nr_throttled ?? 0,
      throttledNs: (cpu.throttled_usec ?? 0) * 1000,
    },
    pids: { current: n('pids.current'), limit: parseLimit(readOptional(dir, 'pids.max')) },
    blkio: parseIoStat(readOptional(dir, 'io.stat')),
  };
}
