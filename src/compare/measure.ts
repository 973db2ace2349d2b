/**
 * The measurements every mode shares, as pure functions: the shell script the workload runs to
 * report what it sees, its parser, the namespace comparison, the bounded memory hog and the
 * latency summary. The same script runs in every mode (busybox sh or the host's sh), so the
 * columns differ only by where it ran.
 */
import type { FactsContext } from './mode.ts';
import type { HostProcesses, Latency, ModeFacts, Namespaces, NsStatus } from './report.ts';

/**
 * What the workload reports, one `key value` line each. `/proc/self` in `readlink`'s argument is
 * readlink itself, in the same namespaces as the shell. The marker is a host process whose
 * command line carries a random token; the pattern reaches the script through the environment
 * and is written `[b]cmark-…`, so grep's own command line (which holds the pattern) never matches.
 */
export const FACTS_SCRIPT = [
  'echo "kernel $(uname -r)"',
  'for f in /proc/self/ns/*; do echo "ns ${f##*/} $(readlink "$f")"; done',
  'echo "procs $(ls -d /proc/[0-9]* 2>/dev/null | wc -l)"',
  'echo "marker $(grep -l "$BERTH_COMPARE_PATTERN" /proc/[0-9]*/cmdline 2>/dev/null | wc -l)"',
  'echo "ppid $PPID"',
].join('\n');

/** The marker's argv[0] for a token, and the pattern that finds it without finding grep itself. */
export function markerNames(token: string): { argv0: string; pattern: string } {
  return { argv0: `bcmark-${token}`, pattern: `[b]cmark-${token}` };
}

export interface Facts {
  kernel: string;
  /** Namespace type → `type:[inode]`, without the *_for_children links. */
  ns: Record<string, string>;
  procs: number;
  markerSeen: boolean;
  ppid: number;
}

export class FactsParseError extends Error {
  constructor(output: string) {
    super(`the workload's report could not be read: ${JSON.stringify(output.slice(0, 200))}`);
    this.name = 'FactsParseError';
  }
}

export function parseFacts(output: string): Facts {
  const f: Facts = { kernel: '', ns: {}, procs: 0, markerSeen: false, ppid: -1 };
  for (const line of output.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp < 0) continue;
    const key = line.slice(0, sp);
    const value = line.slice(sp + 1).trim();
    if (key === 'kernel') f.kernel = value;
    else if (key === 'procs') f.procs = Number(value) || 0;
    else if (key === 'marker') f.markerSeen = Number(value) > 0;
    else if (key === 'ppid') f.ppid = Number(value);
    else if (key === 'ns') {
      const m = /^(\w+) (\w+:\[\d+\])$/.exec(value);
      if (m && !m[1]!.endsWith('_for_children')) f.ns[m[1]!] = m[2]!;
    }
  }
  if (!f.kernel || Object.keys(f.ns).length === 0) throw new FactsParseError(output);
  return f;
}

/** Namespace links as `ls /proc/<pid>/ns` would list them, read by the caller (fs.readlinkSync). */
export function nsFromLinks(links: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, target] of Object.entries(links)) if (!name.endsWith('_for_children')) out[name] = target;
  return out;
}

/** Every namespace type either side knows, private when the inodes differ. */
export function compareNamespaces(inside: Record<string, string>, host: Record<string, string>, note: string): Namespaces {
  const status: Record<string, NsStatus> = {};
  for (const name of [...new Set([...Object.keys(host), ...Object.keys(inside)])].sort()) {
    status[name] = inside[name] === undefined || host[name] === undefined ? 'n/a' : inside[name] === host[name] ? 'shared' : 'private';
  }
  return { inside, host, status, private: Object.keys(status).filter((n) => status[n] === 'private'), note };
}

/**
 * Namespaces of a workload under another kernel: an inode number names an object of the kernel
 * that issued it, so equal or different numbers across kernels mean nothing. Shown as n/a with
 * the guest's own links kept for reference, never as "private" on the strength of a number.
 */
export function foreignNamespaces(inside: Record<string, string>, host: Record<string, string>, note: string): Namespaces {
  const status: Record<string, NsStatus> = {};
  for (const name of [...new Set([...Object.keys(host), ...Object.keys(inside)])].sort()) status[name] = 'n/a';
  return { inside, host, status, private: [], note };
}

export function hostProcesses(f: Facts, hostCount: number): HostProcesses {
  return { visible: f.markerSeen, inside: f.procs, host: hostCount };
}

/**
 * A hog that allocates `mib` MiB and then ends by itself: `tail` keeps the whole of a line
 * in memory, and /dev/zero has no newline, so it holds everything `dd` lets through. Bounded,
 * so that where no limit stops it, it costs `mib` MiB for a moment and nothing more. dd writes
 * 1 MiB blocks: `head -c` writes 4 KiB ones, and the syscalls made it 4× slower under TCG
 * (measured in a 128 MiB guest: 15.3 s against 3.6 s to the OOM kill).
 */
/**
 * The facts of a mode that confines nothing (the host, chroot): no memory of its own to account,
 * namespaces as the workload saw them, and whether the hog, asked to stay under a limit nothing
 * enforces, ran to its end. `words` are the mode's own explanations.
 */
export function unconfinedFacts(
  ctx: FactsContext,
  f: Facts,
  hostCount: number,
  hog: { code: number },
  hogMiB: number,
  words: { direct: string; namespaces: string; unlimited: string },
): ModeFacts {
  return {
    memory: { idleKiB: 0, peakKiB: 0, of: f.ppid === process.pid ? words.direct : `none (the workload's parent was pid ${f.ppid})` },
    kernel: f.kernel,
    namespaces: compareNamespaces(f.ns, ctx.hostNs, words.namespaces),
    memoryLimit: {
      limitMiB: ctx.limitMiB,
      hogMiB,
      enforced: hog.code !== 0,
      exitCode: hog.code,
      detail: hog.code === 0 ? words.unlimited : `the ${hogMiB} MiB hog exited with ${hog.code}`,
    },
    hostProcesses: hostProcesses(f, hostCount),
    accel: 'native',
  };
}

export function hogScript(mib: number): string {
  return `dd if=/dev/zero bs=1M count=${mib} 2>/dev/null | tail >/dev/null`;
}

export function summarizeLatency(runsMs: number[]): Latency {
  if (runsMs.length === 0) throw new RangeError('no latency samples');
  const sorted = [...runsMs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const medianMs = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { runsMs, medianMs, minMs: sorted[0]!, maxMs: sorted.at(-1)! };
}

export interface ProcMemory {
  rssKiB: number;
  hwmKiB: number;
  /** The split of rssKiB: private memory, and file pages (page cache, shared with anyone mapping the file). */
  anonKiB: number;
  fileKiB: number;
  /** Shared memory pages: for berth-helper, the sealed memfd copy it re-executes from. */
  shmemKiB: number;
  name: string;
}

/** VmRSS, VmHWM, RssAnon, RssFile and RssShmem (KiB) from a /proc/<pid>/status text. */
export function parseProcStatus(text: string): ProcMemory {
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM'), anonKiB: kib('RssAnon'), fileKiB: kib('RssFile'), shmemKiB: kib('RssShmem'), name: /^Name:\s+(.*)$/m.exec(text)?.[1] ?? '?' };
}

/** The parent pid from a /proc/<pid>/stat line (the comm field may hold spaces and parentheses). */
export function parsePpid(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[1]);
}
