/**
 * The cgroup v1 driver (also used on hybrid hosts). Every mounted hierarchy gets a directory, not
 * only the ones with limits: `ps`, `kill`, stats and the container's /sys/fs/cgroup view all rely
 * on the process being placed consistently, and Docker/runc behave the same way.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SystemError } from '../common/errors.ts';
import type { Resources } from '../oci/runtime-spec.ts';
import { readOptional, readValue, sleepSync, writeValue } from './fsio.ts';
import { rebase } from './mode.ts';
import type { CgroupMount } from './mountinfo.ts';
import { removeSubtree, signalFrozen, subtreePids } from './tree.ts';
import type { CgroupManager, CgroupMode, CgroupStats } from './types.ts';
import { applyV1 } from './v1-resources.ts';
import { statsV1 } from './v1-stats.ts';

/** controller (or "name=x", or "unified") -> the hierarchy's mount directory. */
export function v1Hierarchies(mounts: CgroupMount[], root: string, hybrid: boolean): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of mounts) {
    if (m.fsType === 'cgroup') {
      for (const c of m.controllers) if (!out.has(c)) out.set(c, rebase(m.mountPoint, root));
    } else if (hybrid && !out.has('unified')) {
      out.set('unified', rebase(m.mountPoint, root));
    }
  }
  if (![...out.keys()].some((k) => k !== 'unified')) throw new SystemError('no cgroup v1 hierarchy is mounted');
  return out;
}

const FREEZE_TIMEOUT_MS = 5000;

export class V1Manager implements CgroupManager {
  readonly path: string;
  readonly mode: CgroupMode;
  readonly #dirs: Record<string, string>;
  readonly #mounts: Map<string, string>;

  constructor(path: string, hierarchies: Map<string, string>, mode: CgroupMode) {
    this.path = path;
    this.mode = mode;
    this.#mounts = hierarchies;
    this.#dirs = {};
    for (const [controller, mount] of hierarchies) this.#dirs[controller] = join(mount, path);
  }

  /** Each directory once, even when controllers are co-mounted (cpu,cpuacct). */
  #uniqueDirs(): string[] {
    return [...new Set(Object.values(this.#dirs))];
  }

  create(): void {
    for (const dir of this.#uniqueDirs()) {
      try {
        mkdirSync(dir, { recursive: true });
      } catch (err) {
        throw new SystemError(`cannot create cgroup ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
      }
    }
    const cpusetMount = this.#mounts.get('cpuset');
    if (cpusetMount !== undefined) this.#fillCpusets(cpusetMount);
  }

  /**
   * A new v1 cpuset cgroup starts with empty cpus and mems, and no task can join it until both are
   * set, so each level below the mount copies its parent's values when it has none.
   */
  #fillCpusets(mount: string): void {
    let dir = mount;
    for (const part of this.path.split('/')) {
      const parent = dir;
      dir = join(dir, part);
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        if (readOptional(dir, file) === '') writeValue(dir, file, readValue(parent, file));
      }
    }
  }

  apply(resources: Resources): void {
    applyV1(this.#dirs, resources);
  }

  addProcess(pid: number): void {
    for (const dir of this.#uniqueDirs()) {
      try {
        writeValue(dir, 'cgroup.procs', String(pid));
      } catch (err) {
        throw new SystemError(`cannot move process ${pid} into cgroup ${dir}: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  paths(): Record<string, string> {
    return { ...this.#dirs };
  }

  #freezer(): string {
    const dir = this.#dirs.freezer;
    if (dir === undefined) throw new SystemError('the freezer cgroup controller is not mounted on this host');
    return dir;
  }

  freeze(): void {
    const dir = this.#freezer();
    const deadline = Date.now() + FREEZE_TIMEOUT_MS;
    for (let i = 1; ; i++) {
      writeValue(dir, 'freezer.state', 'FROZEN');
      const state = readValue(dir, 'freezer.state');
      if (state === 'FROZEN') return;
      if (Date.now() > deadline) {
        writeValue(dir, 'freezer.state', 'THAWED');
        throw new SystemError(`cannot freeze cgroup ${dir}: still ${state} after ${FREEZE_TIMEOUT_MS} ms`);
      }
      // Forking processes can keep a freeze from settling; an occasional thaw gives them a chance to finish.
      if (i % 100 === 0) writeValue(dir, 'freezer.state', 'THAWED');
      sleepSync(1);
    }
  }

  thaw(): void {
    const dir = this.#freezer();
    const deadline = Date.now() + FREEZE_TIMEOUT_MS;
    for (;;) {
      writeValue(dir, 'freezer.state', 'THAWED');
      const state = readValue(dir, 'freezer.state');
      if (state === 'THAWED') return;
      if (Date.now() > deadline) throw new SystemError(`cannot thaw cgroup ${dir}: still ${state}`);
      sleepSync(1);
    }
  }

  isFrozen(): boolean {
    const dir = this.#dirs.freezer;
    return dir !== undefined && readOptional(dir, 'freezer.state') === 'FROZEN';
  }

  pids(): number[] {
    const all = new Set<number>();
    for (const dir of this.#uniqueDirs()) for (const pid of subtreePids(dir)) all.add(pid);
    return [...all].sort((a, b) => a - b);
  }

  killAll(signal: NodeJS.Signals = 'SIGKILL'): void {
    signalFrozen(this, this.#dirs.freezer !== undefined && existsSync(this.#dirs.freezer), signal);
  }

  destroy(): void {
    // Deepest hierarchies' order does not matter; each directory's subtree goes deepest first.
    for (const dir of this.#uniqueDirs()) removeSubtree(dir);
  }

  stats(): CgroupStats {
    return statsV1(this.#dirs);
  }
}
