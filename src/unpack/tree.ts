/**
 * Writes into an unpack target through directory fds only. The target root is opened once; every
 * parent directory is reached with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | ...) relative to
 * it, and every entry is created by a single-component *at() call relative to that parent. So no
 * path in a layer, however crafted, can make the kernel resolve outside the target: an escape is
 * impossible by construction, and the string checks in `paths.ts` only make the error readable.
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { AT, O, RESOLVE_STRICT, fdPath, type Sys } from '../sys/types.ts';
import { isErrno } from '../sys/errors.ts';
import { UnsafeLayerError } from './errors.ts';

const DIR_FLAGS = O.RDONLY | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC;
/** Directory fds kept open (well under the default 1024-fd limit). */
const CACHE_SIZE = 256;

export class SafeTree {
  readonly sys: Sys;
  readonly rootFd: number;
  private cache = new Map<string, number>();

  /** Opens `root` (a trusted, existing directory) as the anchor of every later call. */
  constructor(sys: Sys, root: string) {
    this.sys = sys;
    this.rootFd = sys.openat2(AT.FDCWD, root, { flags: DIR_FLAGS, resolve: 0 });
  }

  /**
   * An fd of the directory `rel` (a normalized relative path, '' for the root), creating missing
   * components as 0755 directories. Owned by the tree: callers must not close it.
   */
  dir(rel: string, entry: string): number {
    if (rel === '') return this.rootFd;
    const hit = this.cache.get(rel);
    if (hit !== undefined) {
      // Most recently used last: layers list a directory's entries together, so the entries
      // evicted are those of directories the walk has left.
      this.cache.delete(rel);
      this.cache.set(rel, hit);
      return hit;
    }
    let fd: number;
    try {
      fd = this.sys.openat2(this.rootFd, rel, { flags: DIR_FLAGS, resolve: RESOLVE_STRICT });
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw this.explain(err, entry, rel);
      fd = this.createDirs(rel, entry);
    }
    // Evict the least recently used only: an fd handed out by the previous call (a hardlink's
    // own directory while its target's is looked up) stays open.
    if (this.cache.size >= CACHE_SIZE) {
      const [oldRel, oldFd] = this.cache.entries().next().value!;
      this.sys.close(oldFd);
      this.cache.delete(oldRel);
    }
    this.cache.set(rel, fd);
    return fd;
  }

  /** The cached fd of `rel`, if it is open (never opens one). */
  cached(rel: string): number | undefined {
    return rel === '' ? this.rootFd : this.cache.get(rel);
  }

  private createDirs(rel: string, entry: string): number {
    let cur = this.rootFd;
    for (const part of rel.split('/')) {
      let next: number;
      try {
        next = this.sys.openat2(cur, part, { flags: DIR_FLAGS, resolve: RESOLVE_STRICT });
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw this.explain(err, entry, rel);
        this.sys.mkdirat(cur, part, 0o755);
        next = this.sys.openat2(cur, part, { flags: DIR_FLAGS, resolve: RESOLVE_STRICT });
      }
      if (cur !== this.rootFd) this.sys.close(cur);
      cur = next;
    }
    return cur;
  }

  private explain(err: unknown, entry: string, rel: string): unknown {
    // The kernel has already refused; this only finds the words. With O_DIRECTORY a trailing
    // symlink yields ENOTDIR rather than ELOOP, so look for the symlink ourselves (lstat only).
    if (isErrno(err, 'ELOOP') || (isErrno(err, 'ENOTDIR') && this.firstSymlink(rel) !== undefined))
      return new UnsafeLayerError(entry, `its path goes through a symbolic link ('${this.firstSymlink(rel) ?? rel}')`);
    if (isErrno(err, 'EXDEV')) return new UnsafeLayerError(entry, 'its path leads outside the layer');
    if (isErrno(err, 'ENOTDIR')) return new UnsafeLayerError(entry, 'a parent in its path is not a directory');
    return err;
  }

  private firstSymlink(rel: string): string | undefined {
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      const st = this.lstat(this.rootFd, prefix);
      if (!st) return undefined;
      if (st.isSymbolicLink()) return prefix;
      if (!st.isDirectory()) return undefined;
    }
    return undefined;
  }

  /** lstat of `name` in the directory `dirFd`, or undefined if absent. */
  lstat(dirFd: number, name: string): Stats | undefined {
    return lstatSync(fdPath(dirFd, name), { throwIfNoEntry: false }); // ENOENT without the cost of an exception
  }

  /** Removes `name` in `dirFd`, recursively for directories, never following a symlink. */
  remove(dirFd: number, name: string): void {
    const st = this.lstat(dirFd, name);
    if (!st) return;
    if (!st.isDirectory()) {
      this.sys.unlinkat(dirFd, name, 0);
      return;
    }
    // Cached fds below the removed directory would point into a deleted tree: forget them.
    const parent = dirFd === this.rootFd ? '' : [...this.cache].find(([, fd]) => fd === dirFd)?.[0];
    const gone = parent === undefined ? undefined : parent === '' ? name : `${parent}/${name}`;
    for (const [rel, fd] of this.cache) {
      if (fd === dirFd) continue;
      if (gone === undefined || rel === gone || rel.startsWith(`${gone}/`)) {
        this.sys.close(fd);
        this.cache.delete(rel);
      }
    }
    this.removeTree(dirFd, name);
  }

  private removeTree(dirFd: number, name: string): void {
    const st = this.lstat(dirFd, name);
    if (!st) return;
    if (!st.isDirectory()) {
      this.sys.unlinkat(dirFd, name, 0);
      return;
    }
    const fd = this.sys.openat2(dirFd, name, { flags: DIR_FLAGS, resolve: RESOLVE_STRICT });
    try {
      for (const child of readdirSync(fdPath(fd))) this.removeTree(fd, child);
    } finally {
      this.sys.close(fd);
    }
    this.sys.unlinkat(dirFd, name, AT.REMOVEDIR);
  }

  /** Removes every child of the directory `fd` except those `keep` accepts. */
  clear(fd: number, keep: (name: string) => boolean = () => false): void {
    for (const child of readdirSync(fdPath(fd))) if (!keep(child)) this.remove(fd, child);
  }

  dropCache(): void {
    for (const fd of this.cache.values()) this.sys.close(fd);
    this.cache.clear();
  }

  close(): void {
    this.dropCache();
    this.sys.close(this.rootFd);
  }
}
