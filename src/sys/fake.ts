/**
 * A recording fake of `Sys` for unit tests that run without root or FFI. Directory-relative calls
 * act on the real file system through Node's `fs` (fds are real fds, so `fs.writeSync` etc. work),
 * openat2 resolution flags are emulated component by component, and privileged calls (mknod,
 * chown, xattrs, flock, mount) are recorded instead of performed: devices become empty placeholder
 * files and xattrs live in a map, so a test can assert on both the tree and the calls.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SyscallError } from './errors.ts';
import { AT, O, RESOLVE, type OpenHow, type Sys, type Timespec } from './types.ts';

export interface SysCall {
  op: string;
  args: unknown[];
}

export class FakeSys implements Sys {
  readonly calls: SysCall[] = [];
  /** xattrs by absolute path. */
  readonly xattrs = new Map<string, Map<string, Buffer>>();
  /** Device nodes by absolute path: mode and numbers as requested. */
  readonly devices = new Map<string, { mode: number; major: number; minor: number }>();

  private rec(op: string, ...args: unknown[]): void {
    this.calls.push({ op, args });
  }

  /** The absolute path of (dirfd, rel), resolving the dirfd through /proc. */
  abs(dirfd: number, rel: string): string {
    if (path.isAbsolute(rel)) return rel;
    const base = dirfd === AT.FDCWD ? process.cwd() : fs.readlinkSync(`/proc/self/fd/${dirfd}`);
    return rel === '' ? base : path.join(base, rel);
  }

  openat2(dirfd: number, p: string, how: OpenHow): number {
    this.rec('openat2', dirfd, p, how);
    const base = dirfd === AT.FDCWD ? process.cwd() : fs.readlinkSync(`/proc/self/fd/${dirfd}`);
    const confined = (how.resolve & (RESOLVE.BENEATH | RESOLVE.IN_ROOT)) !== 0;
    if (confined && path.isAbsolute(p)) throw new SyscallError('openat2', 'EXDEV', p);
    const parts = p.split('/').filter((s) => s !== '' && s !== '.');
    let cur = path.isAbsolute(p) ? '/' : base;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part === '..') {
        if (confined && cur === base) throw new SyscallError('openat2', 'EXDEV', p);
        cur = path.dirname(cur);
        continue;
      }
      const next = path.join(cur, part);
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(next);
      } catch {
        st = undefined;
      }
      const last = i === parts.length - 1;
      if (st?.isSymbolicLink()) {
        // As the kernel: NO_SYMLINKS refuses a trailing symlink too, unless O_PATH|O_NOFOLLOW.
        const openLink = last && how.flags & O.NOFOLLOW && how.flags & O.PATH;
        if (how.resolve & RESOLVE.NO_SYMLINKS && !openLink) throw new SyscallError('openat2', 'ELOOP', p);
        if (last && how.flags & O.NOFOLLOW) {
          cur = next;
          continue;
        }
        const target = fs.readlinkSync(next);
        const resolved = path.resolve(cur, target);
        if (confined && !(resolved + '/').startsWith(base + '/')) throw new SyscallError('openat2', 'EXDEV', p);
        cur = resolved;
        continue;
      }
      cur = next;
    }
    try {
      return fs.openSync(cur, how.flags & ~O.PATH, how.mode ?? 0o666);
    } catch (err) {
      throw new SyscallError('openat2', (err as NodeJS.ErrnoException).code ?? 'EIO', p);
    }
  }
  close(fd: number): void {
    fs.closeSync(fd);
  }
  private wrap<T>(op: string, p: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new SyscallError(op, (err as NodeJS.ErrnoException).code ?? 'EIO', p);
    }
  }
  mkdirat(dirfd: number, p: string, mode: number): void {
    this.rec('mkdirat', dirfd, p, mode);
    this.wrap('mkdirat', p, () => fs.mkdirSync(this.abs(dirfd, p), { mode }));
  }
  mknodat(dirfd: number, p: string, mode: number, major: number, minor: number): void {
    this.rec('mknodat', dirfd, p, mode, major, minor);
    const a = this.abs(dirfd, p);
    this.wrap('mknodat', p, () => fs.writeFileSync(a, '', { flag: 'wx' }));
    this.devices.set(a, { mode, major, minor });
  }
  symlinkat(target: string, dirfd: number, p: string): void {
    this.rec('symlinkat', target, dirfd, p);
    this.wrap('symlinkat', p, () => fs.symlinkSync(target, this.abs(dirfd, p)));
  }
  linkat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number): void {
    this.rec('linkat', olddirfd, oldpath, newdirfd, newpath, flags);
    this.wrap('linkat', newpath, () => fs.linkSync(this.abs(olddirfd, oldpath), this.abs(newdirfd, newpath)));
  }
  unlinkat(dirfd: number, p: string, flags: number): void {
    this.rec('unlinkat', dirfd, p, flags);
    const a = this.abs(dirfd, p);
    this.wrap('unlinkat', p, () => (flags & AT.REMOVEDIR ? fs.rmdirSync(a) : fs.unlinkSync(a)));
    this.devices.delete(a);
    this.xattrs.delete(a);
  }
  renameat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string): void {
    this.rec('renameat', olddirfd, oldpath, newdirfd, newpath);
    this.wrap('renameat', newpath, () => fs.renameSync(this.abs(olddirfd, oldpath), this.abs(newdirfd, newpath)));
  }
  fchownat(dirfd: number, p: string, uid: number, gid: number, flags: number): void {
    this.rec('fchownat', dirfd, p, uid, gid, flags);
  }
  fchmodat(dirfd: number, p: string, mode: number): void {
    this.rec('fchmodat', dirfd, p, mode);
    this.wrap('fchmodat', p, () => fs.chmodSync(this.abs(dirfd, p), mode));
  }
  utimensat(dirfd: number, p: string, atime: Timespec, mtime: Timespec, flags: number): void {
    this.rec('utimensat', dirfd, p, atime, mtime, flags);
    this.wrap('utimensat', p, () => fs.lutimesSync(this.abs(dirfd, p), atime.sec + atime.nsec / 1e9, mtime.sec + mtime.nsec / 1e9));
  }
  futimens(fd: number, atime: Timespec, mtime: Timespec): void {
    this.rec('futimens', fd, atime, mtime);
    fs.futimesSync(fd, atime.sec + atime.nsec / 1e9, mtime.sec + mtime.nsec / 1e9);
  }
  private canon(p: string): string {
    const m = /^\/proc\/self\/fd\/(\d+)(\/.*)?$/.exec(p);
    return m ? path.normalize(fs.readlinkSync(`/proc/self/fd/${m[1]}`) + (m[2] ?? '')) : p;
  }
  lsetxattr(p: string, name: string, value: Buffer): void {
    const key = this.canon(p);
    this.rec('lsetxattr', key, name, Buffer.from(value));
    let m = this.xattrs.get(key);
    if (!m) this.xattrs.set(key, (m = new Map()));
    m.set(name, Buffer.from(value));
  }
  lgetxattr(p: string, name: string): Buffer | null {
    return this.xattrs.get(this.canon(p))?.get(name) ?? null;
  }
  llistxattr(p: string): string[] {
    return [...(this.xattrs.get(this.canon(p))?.keys() ?? [])];
  }
  flock(fd: number, op: number): Promise<void> {
    this.rec('flock', fd, op);
    return Promise.resolve();
  }
  syncfsAsync(fd: number): Promise<void> {
    this.rec('syncfs', fd);
    return Promise.resolve();
  }
  syncfs(fd: number): void {
    this.rec('syncfs', fd);
  }
  mount(source: string, target: string, fstype: string | null, flags: number, data: string | null): void {
    this.rec('mount', source, target, fstype, flags, data);
  }
  umount2(target: string, flags: number): void {
    this.rec('umount2', target, flags);
  }
  unshare(flags: number): void {
    this.rec('unshare', flags);
  }
  setns(fd: number, nstype: number): void {
    this.rec('setns', fd, nstype);
  }
  fsopen(fsname: string, flags: number): number {
    this.rec('fsopen', fsname, flags);
    throw new SyscallError('fsopen', 'ENOSYS', fsname);
  }
  fsconfig(fd: number, cmd: number, key: string | null, value: string | null, aux: number): void {
    this.rec('fsconfig', fd, cmd, key, value, aux);
  }
  fsmount(fd: number, flags: number, attrFlags: number): number {
    this.rec('fsmount', fd, flags, attrFlags);
    throw new SyscallError('fsmount', 'ENOSYS');
  }
  moveMount(fromDirfd: number, fromPath: string, toDirfd: number, toPath: string, flags: number): void {
    this.rec('moveMount', fromDirfd, fromPath, toDirfd, toPath, flags);
  }
}
