/** What every runtime verb needs: the state root, the cgroup manager for a record, and a logger. */
import { cgroupManager, type CgroupManager } from '../cgroups/index.ts';
import { StateRoot, type ContainerRecord } from './container-state.ts';

export interface RuntimeOptions {
  /** State directory (runc's --root). */
  root?: string;
  /** Called for warnings that must not fail the operation (e.g. a failing poststart hook). */
  warn?: (msg: string) => void;
}

export class RuntimeContext {
  readonly root: StateRoot;
  readonly warn: (msg: string) => void;
  constructor(opts: RuntimeOptions = {}) {
    this.root = new StateRoot(opts.root ?? '/run/berth-runc');
    this.warn = opts.warn ?? ((m) => process.stderr.write(`berth-runc: warning: ${m}\n`));
  }
  cgroups(rec: Pick<ContainerRecord, 'cgroupsPath'>): CgroupManager {
    return cgroupManager(rec.cgroupsPath);
  }
}

export function defaultCgroupsPath(id: string, configured: string | undefined): string {
  return configured && configured.length ? configured : `berth/${id}`;
}
