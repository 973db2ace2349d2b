/**
 * Network namespace handles: a namespace is pinned by bind-mounting its nsfs file onto an empty
 * file under the run dir, exactly as `ip netns add` does, so it outlives every process in it and the
 * container joins it by path (`linux.namespaces[].path`, setns in the helper).
 *
 * The namespace is made in-process: the calling thread unshares CLONE_NEWNET (allowed per thread
 * in a multi-threaded process), the bind mount pins /proc/thread-self/ns/net, and the thread setns
 * back to the namespace it came from. All of it is synchronous on the main thread, so no other
 * JavaScript, and no child spawned by it, can run while the thread is in the new namespace. That is
 * the simplest correct way: no short-lived helper process to spawn and reap, no dependency on
 * iproute2 or util-linux, a few microseconds instead of a fork+exec on every `run`.
 */
import { rmdirSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { SystemError } from '../common/errors.ts';
import { isErrno, type Sys } from '../sys/index.ts';
import { CLONE_NEWNET, MNT, MS, O } from '../sys/types.ts';

let poisoned = false;

function isMountPoint(dir: string): boolean {
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return info.split('\n').some((l) => unescape(l.split(' ')[4] ?? '') === dir);
}

/**
 * The run dir becomes a shared mount of itself (as /run/netns does): pins made later propagate to
 * mount namespaces that are peers of it, and so do their unmounts, so a copy of a pin in another
 * namespace cannot keep a deleted network namespace alive.
 */
export function ensureRunDir(sys: Sys, dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (!isMountPoint(dir)) sys.mount(dir, dir, null, MS.BIND | MS.REC, null);
  sys.mount('none', dir, null, MS.SHARED | MS.REC, null);
}

/** Creates and pins a new, empty network namespace at `file`. */
export function createNetns(sys: Sys, file: string): void {
  if (poisoned) throw new SystemError('this process could not return to its own network namespace earlier; refusing to go on');
  const dir = path.dirname(file);
  if (!isMountPoint(dir)) ensureRunDir(sys, dir);
  closeSync(openSync(file, O.CREAT | O.EXCL | O.RDONLY, 0o444));
  let mounted = false;
  const self = openSync('/proc/thread-self/ns/net', O.RDONLY | O.CLOEXEC);
  try {
    sys.unshare(CLONE_NEWNET);
    try {
      sys.mount('/proc/thread-self/ns/net', file, null, MS.BIND, null);
      mounted = true;
    } finally {
      try {
        sys.setns(self, CLONE_NEWNET);
      } catch (err) {
        poisoned = true;
        throw new SystemError('could not return to the host network namespace after creating one', { cause: err });
      }
    }
  } finally {
    closeSync(self);
    if (!mounted) rmSync(file, { force: true });
  }
}

/** Unpins and deletes a namespace file; a missing or already-unmounted file is fine. */
export function removeNetns(sys: Sys, file: string): void {
  try {
    sys.umount2(file, MNT.DETACH);
  } catch (err) {
    if (!isErrno(err, 'EINVAL', 'ENOENT')) throw err;
  }
  rmSync(file, { force: true });
}

/** Namespace files under the run dir (each named after its container). */
export function listNetns(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}

/**
 * Gives back the run dir once no namespace is pinned in it: its shared self-mount would otherwise
 * outlive the engine root (a test's private root, say). It is made again on the next pin. Not run
 * by `sweep`: releasing it between an interrupted attach and its clean-up lost firewall rules.
 */
export function releaseRunDir(sys: Sys, dir: string): boolean {
  if (listNetns(dir).length) return false;
  try {
    if (isMountPoint(dir)) sys.umount2(dir, MNT.DETACH);
    rmdirSync(dir);
  } catch {
    return false;
  }
  return true;
}
