/** `kill`: a signal to the container's init, or with `all` to every process in its cgroup. */
import os from 'node:os';
import { BadStateError, InvalidArgumentError } from '../common/errors.ts';
import type { RuntimeContext } from './context.ts';
import { inspect } from './status.ts';

export function parseSignal(sig: string | undefined): NodeJS.Signals | number {
  const s = (sig ?? 'SIGTERM').toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw new InvalidArgumentError(`invalid signal "${sig}"`);
    return n;
  }
  const name = (s.startsWith('SIG') ? s : `SIG${s}`) as NodeJS.Signals;
  if (!(name in os.constants.signals)) throw new InvalidArgumentError(`invalid signal "${sig}"`);
  return name;
}

export function kill(ctx: RuntimeContext, id: string, signal?: string, all = false): void {
  const sig = parseSignal(signal);
  const { rec, status } = inspect(ctx, id);
  if (status === 'stopped') throw new BadStateError(`container "${id}" is not running`);
  if (all) {
    for (const pid of ctx.cgroups(rec).pids()) {
      try {
        process.kill(pid, sig);
      } catch {
        /* exited meanwhile */
      }
    }
    return;
  }
  process.kill(rec.pid, sig);
}
