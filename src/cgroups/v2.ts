/**
 * The cgroup v2 (unified) driver. One directory holds everything; controllers only show up in it
 * when every ancestor lists them in cgroup.subtree_control, so create() enables them top-down.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SystemError } from '../common/errors.ts';
import type { Resources } from '../oci/runtime-spec.ts';
import { errnoOf, hasFile, parseKeyValues, rawWrite, readOptional, sleepSync, writeValue } from './fsio.ts';
import { removeSubtree, signalFrozen, subtreePids } from './tree.ts';
import type { CgroupManager, CgroupMode, CgroupStats } from './types.ts';
import { applyV2, type AttachDeviceFilter } from './v2-resources.ts';
import { statsV2 } from './v2-stats.ts';

const FREEZE_TIMEOUT_MS = 5000;

function words(text: string | undefined): string[] {
  return (text ?? '').split(/\s+/).filter(Boolean);
}

/**
 * Enables in `dir`'s children every controller `dir` has. All at once first; if the kernel refuses
 * (e.g. EBUSY for a controller with processes in `dir`), one by one so the others still get enabled,
 * and a resource needing a missing one later fails naming its file.
 */
export function enableSubtreeControllers(dir: string): void {
  const enabled = new Set(words(readOptional(dir, 'cgroup.subtree_control')).map((c) => c.replace(/^\+/, '')));
  const missing = words(readOptional(dir, 'cgroup.controllers')).filter((c) => !enabled.has(c));
  if (missing.length === 0) return;
  try {
    rawWrite(dir, 'cgroup.subtree_control', missing.map((c) => `+${c}`).join(' '));
  } catch {
    for (const c of missing) {
      try {
        rawWrite(dir, 'cgroup.subtree_control', `+${c}`);
      } catch {
        // left disabled; see above
      }
    }
  }
}

export class V2Manager implements CgroupManager {
  readonly path: string;
  readonly mode: CgroupMode = 'v2';
  readonly #root: string;
  readonly #dir: string;
  readonly #attach: AttachDeviceFilter;

  constructor(path: string, root: string, attach: AttachDeviceFilter) {
    this.path = path;
    this.#root = root;
    this.#dir = join(root, path);
    this.#attach = attach;
  }

  create(): void {
    let dir = this.#root;
    for (const part of this.path.split('/')) {
      enableSubtreeControllers(dir);
      dir = join(dir, part);
      try {
        mkdirSync(dir);
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') {
          throw new SystemError(`cannot create cgroup ${dir}: ${errnoOf(err) ?? String(err)}`, { cause: err });
        }
      }
    }
  }

  apply(resources: Resources): void {
    applyV2(this.#dir, resources, this.#attach);
  }

  addProcess(pid: number): void {
    try {
      writeValue(this.#dir, 'cgroup.procs', String(pid));
    } catch (err) {
      throw new SystemError(`cannot move process ${pid} into cgroup ${this.#dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  paths(): Record<string, string> {
    const out: Record<string, string> = { unified: this.#dir };
    for (const c of words(readOptional(this.#dir, 'cgroup.controllers'))) out[c] = this.#dir;
    return out;
  }

  #setFrozen(frozen: boolean): void {
    if (!hasFile(this.#dir, 'cgroup.freeze')) {
      throw new SystemError(`cannot ${frozen ? 'freeze' : 'thaw'} ${this.#dir}: cgroup.freeze needs Linux 5.2 or later`);
    }
    writeValue(this.#dir, 'cgroup.freeze', frozen ? '1' : '0');
    const deadline = Date.now() + FREEZE_TIMEOUT_MS;
    while (this.#frozenState() !== frozen) {
      if (Date.now() > deadline) {
        if (frozen) writeValue(this.#dir, 'cgroup.freeze', '0');
        throw new SystemError(`cannot ${frozen ? 'freeze' : 'thaw'} cgroup ${this.#dir}: timed out after ${FREEZE_TIMEOUT_MS} ms`);
      }
      sleepSync(1);
    }
  }

  #frozenState(): boolean {
    return parseKeyValues(readOptional(this.#dir, 'cgroup.events')).frozen === 1;
  }

  freeze(): void {
    this.#setFrozen(true);
  }

  thaw(): void {
    this.#setFrozen(false);
  }

  isFrozen(): boolean {
    return this.#frozenState();
  }

  pids(): number[] {
    return [...subtreePids(this.#dir)].sort((a, b) => a - b);
  }

  killAll(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (signal === 'SIGKILL' && hasFile(this.#dir, 'cgroup.kill')) {
      // Since 5.14 the kernel kills the whole subtree atomically, forks included.
      writeValue(this.#dir, 'cgroup.kill', '1');
      return;
    }
    signalFrozen(this, hasFile(this.#dir, 'cgroup.freeze'), signal);
  }

  destroy(): void {
    removeSubtree(this.#dir);
  }

  stats(): CgroupStats {
    return statsV2(this.#dir);
  }
}
