/** `start`: release the process blocked on the exec fifo, then run the poststart hooks. */
import { closeSync, openSync, readSync, unlinkSync, constants } from 'node:fs';
import { BadStateError, SystemError } from '../common/errors.ts';
import { isAlive, ociState } from './container-state.ts';
import type { RuntimeContext } from './context.ts';
import { runHooks } from './hooks.ts';
import { inspect } from './status.ts';

const pause = new Int32Array(new SharedArrayBuffer(4));
const nap = (ms: number) => Atomics.wait(pause, 0, 0, ms);

export function start(ctx: RuntimeContext, id: string): void {
  const { rec, status } = inspect(ctx, id);
  if (status !== 'created') throw new BadStateError(`cannot start container "${id}": it is ${status}`);
  const fifo = ctx.root.fifoPath(id);
  // Non-blocking read end: the init's blocked open for writing completes as soon as we open,
  // and a dead init can never hang us.
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(1);
  const deadline = Date.now() + 10_000;
  try {
    for (;;) {
      let n = 0;
      try {
        n = readSync(fd, buf, 0, 1, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
      if (n === 1) break;
      // 0 (no writer yet) or EAGAIN (writer, no byte yet): wait a moment unless the process died
      if (!isAlive(rec)) throw new BadStateError(`cannot start container "${id}": its process has exited`);
      if (Date.now() > deadline) throw new SystemError(`container "${id}" did not start within 10s`);
      nap(1);
    }
  } finally {
    closeSync(fd);
  }
  unlinkSync(fifo);
  try {
    runHooks('poststart', rec.config.hooks?.poststart, ociState(rec, 'running'));
  } catch (e) {
    ctx.warn((e as Error).message);
  }
}
