/**
 * Inter-process locks with flock(2): released by the kernel when a process dies, so a SIGKILL
 * never leaves a stale lock behind (unlike lock files that hold a PID).
 *
 * Two locks, always taken in this order: the *store* lock (shared by everything that adds content:
 * ingest, unpack, prepare; exclusive for garbage collection, so GC never deletes a blob that a
 * concurrent load has written but not yet referenced) and the *meta* lock (exclusive, short, around
 * read-modify-write of image records, tags and leases).
 */
import { closeSync, openSync } from 'node:fs';
import { LOCK, type Sys } from '../sys/types.ts';

export type LockMode = 'shared' | 'exclusive';

export async function withFlock<T>(sys: Sys, file: string, mode: LockMode, fn: () => Promise<T> | T): Promise<T> {
  const fd = openSync(file, 'a+', 0o600);
  const op = mode === 'shared' ? LOCK.SH : LOCK.EX;
  try {
    // Uncontended (the usual case): take it right here, without a round trip to a worker thread.
    try {
      await sys.flock(fd, op | LOCK.NB);
    } catch (err) {
      const errno = (err as { errno?: string }).errno;
      if (errno !== 'EWOULDBLOCK' && errno !== 'EAGAIN') throw err;
      await sys.flock(fd, op);
    }
    return await fn();
  } finally {
    closeSync(fd); // closing the last fd releases the lock
  }
}
