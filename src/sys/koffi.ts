/**
 * The real `Sys`: libc through the koffi FFI. This is the only module in berth that does FFI.
 * It is imported lazily by `getSys()` so CLIs that never touch the store do not load koffi.
 * openat2 and the new mount API have no glibc wrappers on Debian 12's glibc for every call, so
 * they go through `syscall(2)` with their generic (all-architecture) numbers.
 */
import koffi from 'koffi';
import { SyscallError } from './errors.ts';
import type { OpenHow, Sys, Timespec } from './types.ts';

const NR = { openat2: 437, fsopen: 430, fsconfig: 431, fsmount: 432, move_mount: 429 } as const;

const libc = koffi.load('libc.so.6');
koffi.struct('berth_open_how', { flags: 'uint64_t', mode: 'uint64_t', resolve: 'uint64_t' });
koffi.struct('berth_timespec2', { as: 'int64_t', an: 'int64_t', ms: 'int64_t', mn: 'int64_t' });

const c = {
  syscall: libc.func('long syscall(long nr, ...)'),
  mkdirat: libc.func('int mkdirat(int dirfd, const char *path, uint32_t mode)'),
  mknodat: libc.func('int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)'),
  symlinkat: libc.func('int symlinkat(const char *target, int dirfd, const char *path)'),
  linkat: libc.func('int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)'),
  unlinkat: libc.func('int unlinkat(int dirfd, const char *path, int flags)'),
  renameat: libc.func('int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)'),
  fchownat: libc.func('int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)'),
  fchmodat: libc.func('int fchmodat(int dirfd, const char *path, uint32_t mode, int flags)'),
  utimensat: libc.func('int utimensat(int dirfd, const char *path, const berth_timespec2 *times, int flags)'),
  futimens: libc.func('int futimens(int fd, const berth_timespec2 *times)'),
  lsetxattr: libc.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
  lgetxattr: libc.func('intptr_t lgetxattr(const char *path, const char *name, void *value, size_t size)'),
  llistxattr: libc.func('intptr_t llistxattr(const char *path, void *list, size_t size)'),
  flock: libc.func('int flock(int fd, int op)'),
  syncfs: libc.func('int syncfs(int fd)'),
  close: libc.func('int close(int fd)'),
  mount: libc.func(
    'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
  ),
  umount2: libc.func('int umount2(const char *target, int flags)'),
  unshare: libc.func('int unshare(int flags)'),
  setns: libc.func('int setns(int fd, int nstype)'),
};

function check(ret: number | bigint, call: string, path?: string): number {
  const n = Number(ret);
  if (n < 0) throw new SyscallError(call, koffi.errno(), path);
  return n;
}

function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

function times(a: Timespec, m: Timespec) {
  return { as: a.sec, an: a.nsec, ms: m.sec, mn: m.nsec };
}

/** The libc-backed implementation of `Sys`. */
export const koffiSys: Sys = {
  openat2(dirfd, path, how: OpenHow) {
    const h = { flags: how.flags, mode: how.mode ?? 0, resolve: how.resolve };
    return check(c.syscall(NR.openat2, 'int', dirfd, 'const char *', path, 'berth_open_how *', h, 'size_t', 24), 'openat2', path);
  },
  close(fd) {
    // libc's close, not fs.closeSync: in a worker thread Node warns about closing an fd it did not open
    check(c.close(fd), 'close');
  },
  mkdirat(dirfd, path, mode) {
    check(c.mkdirat(dirfd, path, mode), 'mkdirat', path);
  },
  mknodat(dirfd, path, mode, major, minor) {
    check(c.mknodat(dirfd, path, mode, makedev(major, minor)), 'mknodat', path);
  },
  symlinkat(target, dirfd, path) {
    check(c.symlinkat(target, dirfd, path), 'symlinkat', path);
  },
  linkat(olddirfd, oldpath, newdirfd, newpath, flags) {
    check(c.linkat(olddirfd, oldpath, newdirfd, newpath, flags), 'linkat', newpath);
  },
  unlinkat(dirfd, path, flags) {
    check(c.unlinkat(dirfd, path, flags), 'unlinkat', path);
  },
  renameat(olddirfd, oldpath, newdirfd, newpath) {
    check(c.renameat(olddirfd, oldpath, newdirfd, newpath), 'renameat', newpath);
  },
  fchownat(dirfd, path, uid, gid, flags) {
    check(c.fchownat(dirfd, path, uid, gid, flags), 'fchownat', path);
  },
  fchmodat(dirfd, path, mode) {
    check(c.fchmodat(dirfd, path, mode, 0), 'fchmodat', path);
  },
  utimensat(dirfd, path, atime, mtime, flags) {
    check(c.utimensat(dirfd, path, times(atime, mtime), flags), 'utimensat', path);
  },
  futimens(fd, atime, mtime) {
    check(c.futimens(fd, times(atime, mtime)), 'futimens');
  },
  lsetxattr(path, name, value) {
    check(c.lsetxattr(path, name, value, value.length, 0), `lsetxattr ${name}`, path);
  },
  lgetxattr(path, name) {
    for (let size = 256; ; size *= 4) {
      const buf = Buffer.alloc(size);
      const n = Number(c.lgetxattr(path, name, buf, size));
      if (n >= 0) return buf.subarray(0, n);
      const e = koffi.errno();
      if (e === koffi.os.errno.ENODATA) return null;
      if (e !== koffi.os.errno.ERANGE || size > 1 << 20) throw new SyscallError(`lgetxattr ${name}`, e, path);
    }
  },
  llistxattr(path) {
    for (let size = 1024; ; size *= 4) {
      const buf = Buffer.alloc(size);
      const n = Number(c.llistxattr(path, buf, size));
      if (n >= 0) return buf.subarray(0, n).toString('utf8').split('\0').filter((s) => s.length > 0);
      const e = koffi.errno();
      if (e === koffi.os.errno.ENOTSUP || e === koffi.os.errno.EOPNOTSUPP) return [];
      if (e !== koffi.os.errno.ERANGE || size > 1 << 22) throw new SyscallError('llistxattr', e, path);
    }
  },
  flock(fd, op) {
    if (op & 4 /* LOCK_NB */) {
      try {
        check(c.flock(fd, op), 'flock');
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    // A blocking flock on the main thread would freeze the event loop: run it on koffi's workers.
    return new Promise((resolve, reject) => {
      c.flock.async(fd, op, (err: unknown, ret: number) => {
        if (err) reject(err);
        else if (ret < 0) reject(new SyscallError('flock', 'EINTR'));
        else resolve();
      });
    });
  },
  syncfs(fd) {
    check(c.syncfs(fd), 'syncfs');
  },
  syncfsAsync(fd) {
    return new Promise((resolve, reject) => {
      c.syncfs.async(fd, (err: unknown, ret: number) => {
        if (err) reject(err);
        else if (ret < 0) reject(new SyscallError('syncfs', 'EIO'));
        else resolve();
      });
    });
  },
  mount(source, target, fstype, flags, data) {
    check(c.mount(source, target, fstype, flags, data), 'mount', target);
  },
  umount2(target, flags) {
    check(c.umount2(target, flags), 'umount2', target);
  },
  unshare(flags) {
    check(c.unshare(flags), 'unshare');
  },
  setns(fd, nstype) {
    check(c.setns(fd, nstype), 'setns');
  },
  fsopen(fsname, flags) {
    return check(c.syscall(NR.fsopen, 'const char *', fsname, 'unsigned int', flags), 'fsopen', fsname);
  },
  fsconfig(fd, cmd, key, value, aux) {
    check(
      c.syscall(NR.fsconfig, 'int', fd, 'unsigned int', cmd, 'const char *', key, 'const char *', value, 'int', aux),
      `fsconfig ${key ?? ''}`.trim(),
      value ?? undefined,
    );
  },
  fsmount(fd, flags, attrFlags) {
    return check(c.syscall(NR.fsmount, 'int', fd, 'unsigned int', flags, 'unsigned int', attrFlags), 'fsmount');
  },
  moveMount(fromDirfd, fromPath, toDirfd, toPath, flags) {
    check(
      c.syscall(NR.move_mount, 'int', fromDirfd, 'const char *', fromPath, 'int', toDirfd, 'const char *', toPath, 'unsigned int', flags),
      'move_mount',
      toPath,
    );
  },
};
