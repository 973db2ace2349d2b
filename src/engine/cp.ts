/**
 * `cp` between a container and the host, in both directions. Every path inside the container is
 * resolved by the kernel with openat2(RESOLVE_IN_ROOT) against the container's root (the live
 * /proc/<pid>/root, or a private mount of its overlay when it is not running), so a symlink in
 * the container can never lead a read or a write onto the host. Writes never go through a
 * symlink at all (RESOLVE_NO_SYMLINKS below the resolved parent).
 */
import { closeSync, fstatSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readlinkSync, readSync, rmSync, symlinkSync, writeSync, type Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../common/errors.ts';
import { AT, O, RESOLVE, type Sys } from '../sys/index.ts';
import type { Engine } from './engine.ts';
import type { ContainerRecord } from './record.ts';
import { containerState } from './state.ts';

const IN_ROOT = RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS;
const STRICT = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS;
const fdPath = (fd: number) => `/proc/self/fd/${fd}`;

/** Opens the container's root as a directory fd for the duration of `fn`. */
async function withRoot<T>(engine: Engine, rec: ContainerRecord, fn: (sys: Sys, rootfd: number) => T): Promise<T> {
  const { getSys } = await import('../sys/index.ts');
  const sys = await getSys();
  const st = containerState(engine, rec);
  if (st.Running) {
    const rootfd = sys.openat2(AT.FDCWD, `/proc/${st.Pid}/root`, { flags: O.PATH | O.DIRECTORY | O.CLOEXEC, mode: 0, resolve: 0 });
    try {
      return fn(sys, rootfd);
    } finally {
      sys.close(rootfd);
    }
  }
  const rm = await engine.rootfsManager();
  const prepared = await engine.prepared(rec);
  const mnt = mkdtempSync(path.join(os.tmpdir(), 'berth-cp-'));
  rm.mount(prepared, mnt);
  try {
    const rootfd = sys.openat2(AT.FDCWD, mnt, { flags: O.PATH | O.DIRECTORY | O.CLOEXEC, mode: 0, resolve: 0 });
    try {
      return fn(sys, rootfd);
    } finally {
      sys.close(rootfd);
    }
  } finally {
    rm.unmount(mnt);
    rmSync(mnt, { recursive: true, force: true });
  }
}

function copyData(from: number, to: number): void {
  const buf = Buffer.allocUnsafe(1 << 20);
  for (;;) {
    const n = readSync(from, buf, 0, buf.length, null);
    if (n === 0) return;
    let off = 0;
    while (off < n) off += writeSync(to, buf, off, n - off);
  }
}

/** Container → host: `src` inside the container, `dest` on the host (a directory receives it by name). */
function copyOut(sys: Sys, rootfd: number, src: string, dest: string): void {
  let fd: number;
  try {
    fd = sys.openat2(rootfd, src, { flags: O.PATH | O.NOFOLLOW | O.CLOEXEC, mode: 0, resolve: IN_ROOT });
  } catch {
    throw new NotFoundError(`Could not find the file ${src} in container`);
  }
  let target = dest;
  try {
    if (lstatSync(dest).isDirectory()) target = path.join(dest, path.posix.basename(src) || 'root');
  } catch {
    /* a new name */
  }
  try {
    copyEntryOut(sys, fd, target);
  } finally {
    sys.close(fd);
  }
}

function copyEntryOut(sys: Sys, pathFd: number, target: string): void {
  const st: Stats = fstatSync(pathFd);
  if (st.isSymbolicLink()) {
    // read the link itself through its parent: the container's link text, never followed
    symlinkSync(readlinkSync(fdPath(pathFd)), target);
    return;
  }
  if (st.isDirectory()) {
    mkdirSync(target, { recursive: true, mode: st.mode & 0o7777 });
    for (const name of readdirSync(fdPath(pathFd))) {
      const child = sys.openat2(pathFd, name, { flags: O.PATH | O.NOFOLLOW | O.CLOEXEC, mode: 0, resolve: STRICT });
      try {
        const cst = fstatSync(child);
        if (cst.isSymbolicLink()) symlinkSync(readlinkSync(path.join(fdPath(pathFd), name)), path.join(target, name));
        else copyEntryOut(sys, child, path.join(target, name));
      } finally {
        sys.close(child);
      }
    }
    return;
  }
  if (!st.isFile()) return; // devices, fifos and sockets are not copied (Docker does the same without -a)
  const rfd = openSync(fdPath(pathFd), 'r');
  const wfd = openSync(target, 'w', st.mode & 0o7777);
  try {
    copyData(rfd, wfd);
  } finally {
    closeSync(rfd);
    closeSync(wfd);
  }
}

/** Host → container: `src` on the host, `dest` inside the container. */
function copyIn(sys: Sys, rootfd: number, src: string, dest: string): void {
  let st: Stats;
  try {
    st = lstatSync(src);
  } catch {
    throw new NotFoundError(`no such file or directory: ${src}`);
  }
  // an existing directory receives the source by its name, as with Docker and cp(1)
  let parent = path.posix.dirname(dest);
  let name = path.posix.basename(dest);
  try {
    const d = sys.openat2(rootfd, dest, { flags: O.PATH | O.DIRECTORY | O.CLOEXEC, mode: 0, resolve: IN_ROOT });
    sys.close(d);
    parent = dest;
    name = path.basename(src);
  } catch {
    /* not an existing directory */
  }
  let pfd: number;
  try {
    pfd = sys.openat2(rootfd, parent, { flags: O.PATH | O.DIRECTORY | O.CLOEXEC, mode: 0, resolve: IN_ROOT });
  } catch {
    throw new NotFoundError(`no such directory in the container: ${parent}`);
  }
  try {
    copyEntryIn(sys, pfd, name, src, st);
  } finally {
    sys.close(pfd);
  }
}

function copyEntryIn(sys: Sys, dirfd: number, name: string, src: string, st: Stats): void {
  if (!name || name === '.' || name === '..' || name.includes('/')) throw new InvalidArgumentError(`invalid destination name "${name}"`);
  if (st.isSymbolicLink()) {
    sys.symlinkat(readlinkSync(src), dirfd, name);
    return;
  }
  if (st.isDirectory()) {
    try {
      sys.mkdirat(dirfd, name, st.mode & 0o7777);
    } catch (e) {
      if ((e as { errno?: string }).errno !== 'EEXIST') throw e;
    }
    const sub = sys.openat2(dirfd, name, { flags: O.PATH | O.DIRECTORY | O.CLOEXEC, mode: 0, resolve: STRICT });
    try {
      for (const child of readdirSync(src)) copyEntryIn(sys, sub, child, path.join(src, child), lstatSync(path.join(src, child)));
    } finally {
      sys.close(sub);
    }
    return;
  }
  if (!st.isFile()) return;
  let wfd: number;
  try {
    wfd = sys.openat2(dirfd, name, { flags: O.WRONLY | O.CREAT | O.TRUNC | O.NOFOLLOW | O.CLOEXEC, mode: st.mode & 0o7777, resolve: STRICT });
  } catch (e) {
    if ((e as { errno?: string }).errno === 'ELOOP') throw new InvalidArgumentError(`refusing to write through the symlink at ${name} in the container`);
    throw e;
  }
  const rfd = openSync(src, 'r');
  try {
    copyData(rfd, wfd);
  } finally {
    closeSync(rfd);
    sys.close(wfd);
  }
}

/** `berth cp SRC DEST`: exactly one side is `container:path`. */
export async function copy(engine: Engine, srcArg: string, destArg: string): Promise<void> {
  const split = (a: string) => {
    const m = /^([^:/][^:]*):(.*)$/.exec(a);
    return m ? { ref: m[1]!, path: m[2] || '/' } : undefined;
  };
  const s = split(srcArg);
  const d = split(destArg);
  if ((s && d) || (!s && !d)) throw new InvalidArgumentError('copying between containers or within the host is not supported: name one container:path');
  if (s) {
    const rec = engine.records.resolve(s.ref);
    await withRoot(engine, rec, (sys, rootfd) => copyOut(sys, rootfd, s.path, destArg));
  } else {
    const rec = engine.records.resolve(d!.ref);
    if (!path.posix.isAbsolute(d!.path)) throw new InvalidArgumentError(`the container path must be absolute: ${d!.path}`);
    await withRoot(engine, rec, (sys, rootfd) => copyIn(sys, rootfd, srcArg, d!.path));
  }
}
