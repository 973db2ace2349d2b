/** `run`: create and start in one go; in the foreground, wait and return the exit status. */
import { ociState } from './container-state.ts';
import type { RuntimeContext } from './context.ts';
import { remove } from './delete.ts';
import { mark } from '../common/trace.ts';
import { runHooks } from './hooks.ts';
import { waitRelaying } from './helper-process.ts';
import { launch, type LaunchOptions } from './launch.ts';

export async function run(
  ctx: RuntimeContext,
  id: string,
  opts: Omit<LaunchOptions, 'mode'> & { detach?: boolean; keep?: boolean },
): Promise<number> {
  const { rec, session } = await launch(ctx, id, { ...opts, mode: opts.detach ? 'detach' : 'run' });
  try {
    runHooks('poststart', rec.config.hooks?.poststart, ociState(rec, 'running'));
  } catch (e) {
    ctx.warn((e as Error).message);
  }
  if (opts.detach) {
    session.detach();
    return 0;
  }
  const status = await waitRelaying(session.child, session.exit);
  mark('exited');
  if (!opts.keep) await remove(ctx, id, true);
  mark('deleted');
  return status;
}
