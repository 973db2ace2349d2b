/** `delete`: remove a stopped (or, with force, any) container and everything it held. */
import { BadStateError } from '../common/errors.ts';
import { isAlive, ociState } from './container-state.ts';
import type { RuntimeContext } from './context.ts';
import { runHooks } from './hooks.ts';
import { killAndWait, waitGone } from './process-wait.ts';
import { inspect } from './status.ts';

export async function remove(ctx: RuntimeContext, id: string, force = false): Promise<void> {
  const { rec, status } = inspect(ctx, id);
  if ((status === 'running' || status === 'paused') && !force)
    throw new BadStateError(`cannot delete container "${id}" that is ${status}`, 'stop it first or use --force');
  const cg = ctx.cgroups(rec);
  if (status === 'paused') cg.thaw();
  if (isAlive(rec)) await killAndWait(rec);
  // without a PID namespace of its own the init's death does not take the rest along
  try {
    cg.killAll('SIGKILL');
  } catch {
    /* cgroup already gone */
  }
  await waitGone(rec);
  cg.destroy();
  try {
    runHooks('poststop', rec.config.hooks?.poststop, ociState(rec, 'stopped'));
  } catch (e) {
    ctx.warn((e as Error).message);
  }
  ctx.root.remove(id);
}
