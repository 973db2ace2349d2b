/**
 * Operations on a cgroup directory and its descendants that both drivers share: containers may
 * create sub-cgroups of their own (systemd inside, docker-in-docker), so listing, signalling and
 * removing must cover the whole subtree, not just the leaf we made.
 */
import { existsSync, readdirSync, rmdirSync, statfsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { SystemError } from '../common/errors.ts';
import { errnoOf, readOptional, sleepSync } from './fsio.ts';

const CGROUP_SUPER_MAGIC = 0x27e0eb;
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** `dir` and every directory below it, deepest first (the order rmdir needs). */
export function subtreeDeepestFirst(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return [];
    throw new SystemError(`cannot list cgroup ${dir}: ${errnoOf(err) ?? String(err)}`, { cause: err });
  }
  const out: string[] = [];
  for (const e of entries) if (e.isDirectory()) out.push(...subtreeDeepestFirst(join(dir, e.name)));
  out.push(dir);
  return out;
}

/** Pids listed in cgroup.procs of `dir` and its descendants. */
export function subtreePids(dir: string): Set<number> {
  const pids = new Set<number>();
  for (const d of subtreeDeepestFirst(dir)) {
    for (const line of (readOptional(d, 'cgroup.procs') ?? '').split('\n')) {
      if (/^\d+$/.test(line.trim())) pids.add(Number(line.trim()));
    }
  }
  return pids;
}

/** Sends `signal` to each pid, ignoring processes that are already gone. */
export function signalPids(pids: Iterable<number>, signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if (errnoOf(err) !== 'ESRCH') {
        throw new SystemError(`cannot send ${signal} to process ${pid}: ${errnoOf(err) ?? String(err)}`, { cause: err });
      }
    }
  }
}

/**
 * Signals every process of a cgroup, frozen meanwhile when it can be (`freezable`), so that a
 * process cannot fork a child we have not seen yet. A cgroup that will not freeze is still
 * signalled.
 */
export function signalFrozen(cg: { freeze(): void; thaw(): void; pids(): number[] }, freezable: boolean, signal: NodeJS.Signals): void {
  let frozen = false;
  if (freezable) {
    try {
      cg.freeze();
      frozen = true;
    } catch {
      // signalled unfrozen below
    }
  }
  try {
    signalPids(cg.pids(), signal);
  } finally {
    if (frozen) cg.thaw();
  }
}

function isCgroupFs(dir: string): boolean {
  try {
    const type = Number(statfsSync(dir).type);
    return type === CGROUP_SUPER_MAGIC || type === CGROUP2_SUPER_MAGIC;
  } catch {
    return true;
  }
}

/**
 * Removes `dir` and its sub-cgroups deepest first. rmdir fails with EBUSY while a killed process
 * has not finished exiting, so that is retried until `timeoutMs`; ENOENT counts as done.
 * On a plain directory tree (unit tests) the control files make rmdir fail with ENOTEMPTY, which
 * never happens on cgroupfs; only then, and only in a directory that looks like a cgroup (has
 * cgroup.procs), the regular files are removed first. A mistaken `root` thus cannot wipe real data.
 */
export function removeSubtree(dir: string, timeoutMs = 5000): void {
  const deadline = Date.now() + timeoutMs;
  for (const d of subtreeDeepestFirst(dir)) {
    let emptied = false;
    for (;;) {
      try {
        rmdirSync(d);
        break;
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'ENOENT') break;
        if (code === 'ENOTEMPTY' && !emptied && !isCgroupFs(d) && existsSync(join(d, 'cgroup.procs'))) {
          emptied = true;
          for (const e of readdirSync(d, { withFileTypes: true })) if (e.isFile()) unlinkSync(join(d, e.name));
          continue;
        }
        if (code === 'EBUSY' && Date.now() < deadline) {
          sleepSync(10);
          continue;
        }
        const left = [...subtreePids(d)];
        const why = code === 'EBUSY' && left.length > 0 ? `still has processes ${left.slice(0, 5).join(', ')}` : code;
        throw new SystemError(`cannot remove cgroup ${d}: ${why ?? String(err)}`, { cause: err });
      }
    }
  }
}
