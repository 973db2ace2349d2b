/** `run`: create and start in one go; in the foreground, wait and return the exit status. */
import { ociState } from './container-state.ts';
import type { RuntimeContext } from './context.ts';
import { remove } from './delete.ts';
import { mark } from '../common/trace.ts';
import { runHooks } from './hooks.ts';
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
  // The helper relays signals to the container; we only pass on what is sent to us alone.
  const relay = (sig: NodeJS.Signals) => session.child.kill(sig);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];
  for (const s of signals) process.on(s, relay);
  const { code, signal } = await session.exit;
  mark('exited');
  for (const s of signals) process.off(s, relay);
  if (!opts.keep) await remove(ctx, id, true);
  mark('deleted');
  return code ?? 128 + (signal ? (await import('node:os')).constants.signals[signal] : 0);
}
