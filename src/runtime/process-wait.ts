/** Waiting for processes that are not our children (the container init is reparented). */
import { isAlive, type ContainerRecord } from './container-state.ts';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until the record's process is gone; true if it went within the timeout. */
export async function waitGone(rec: ContainerRecord, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  while (isAlive(rec)) {
    if (Date.now() > deadline) return false;
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
  return true;
}

export async function killAndWait(rec: ContainerRecord): Promise<void> {
  if (!isAlive(rec)) return;
  try {
    process.kill(rec.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  await waitGone(rec);
}
