/** `create`: the container exists, its process waits on the exec fifo until `start`. */
import type { RuntimeContext } from './context.ts';
import { launch, type LaunchOptions } from './launch.ts';

export async function create(ctx: RuntimeContext, id: string, opts: Omit<LaunchOptions, 'mode'>): Promise<number> {
  const { rec, session } = await launch(ctx, id, { ...opts, mode: 'create' });
  session.detach();
  return rec.pid;
}
