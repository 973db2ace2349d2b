/** `list`, `ps`, `pause`/`resume`: views and freezer operations over the state root. */
import { spawnSync } from 'node:child_process';
import { BadStateError, SystemError } from '../common/errors.ts';
import type { ContainerStatus } from '../oci/runtime-spec.ts';
import type { RuntimeContext } from './context.ts';
import { inspect } from './status.ts';

export interface ListEntry {
  id: string;
  pid: number;
  status: ContainerStatus;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
}

export function list(ctx: RuntimeContext): ListEntry[] {
  const out: ListEntry[] = [];
  for (const id of ctx.root.ids()) {
    try {
      const { rec, status } = inspect(ctx, id);
      out.push({ id, pid: status === 'stopped' ? 0 : rec.pid, status, bundle: rec.bundle, rootfs: rec.rootfs, created: rec.created, owner: rec.owner });
    } catch {
      /* a half-created container directory: not listed */
    }
  }
  return out;
}

export function pids(ctx: RuntimeContext, id: string): number[] {
  const { rec, status } = inspect(ctx, id);
  if (status === 'stopped') return [];
  return ctx.cgroups(rec).pids();
}

/** runc's table form: the host's `ps` output, filtered to the container's processes. */
export function psTable(ctx: RuntimeContext, id: string, psArgs: string[]): string {
  const mine = new Set(pids(ctx, id));
  const r = spawnSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new SystemError(`ps ${psArgs.join(' ')} failed: ${r.stderr || r.error?.message}`);
  const lines = r.stdout.split('\n');
  const header = lines[0] ?? '';
  const col = header.trim().split(/\s+/).indexOf('PID');
  if (col < 0) throw new SystemError('ps output has no PID column');
  return [header, ...lines.slice(1).filter((l) => l.trim() && mine.has(Number(l.trim().split(/\s+/)[col])))].join('\n') + '\n';
}

export function pause(ctx: RuntimeContext, id: string): void {
  const { rec, status } = inspect(ctx, id);
  if (status !== 'running') throw new BadStateError(`cannot pause container "${id}": it is ${status}`);
  ctx.cgroups(rec).freeze();
}

export function resume(ctx: RuntimeContext, id: string): void {
  const { rec, status } = inspect(ctx, id);
  if (status !== 'paused') throw new BadStateError(`cannot resume container "${id}": it is ${status}`);
  ctx.cgroups(rec).thaw();
}
