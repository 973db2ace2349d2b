/**
 * Runs `fn` over `items` with at most `limit` in flight. The first failure stops new work from
 * starting and aborts the signal handed to the others, then is rethrown once all have settled
 * (so nothing is still writing into the store when the caller cleans up).
 */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number, signal: AbortSignal) => Promise<void>): Promise<void> {
  const abort = new AbortController();
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!, i, abort.signal);
      } catch (err) {
        if (!failure) failure = { err };
        abort.abort(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.err;
}
