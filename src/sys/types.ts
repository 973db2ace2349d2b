/**
 * The one syscall seam of berth. Node's `fs` has no openat2, mknodat, xattrs, flock or mount, and
 * the image store needs all of them to unpack untrusted layers safely (every write relative to a
 * directory fd, resolution confined by the kernel). Everything that needs such a call goes through
 * this small interface, so the unpacker and the store can be unit-tested against a recording fake
 * and only `koffi.ts` knows about FFI.
 *
 * File descriptors returned here are real process fds: callers may use Node's `fs.writeSync`,
 * `fs.fstatSync`, `fs.closeSync` etc. on them.
 */

/** `struct open_how` of openat2(2). */
export interface OpenHow {
  flags: number;
  mode?: number;
  resolve: number;
}

/** Seconds and nanoseconds, as the kernel keeps them (tar mtimes can carry fractions). */
export interface Timespec {
  sec: number;
  nsec: number;
}

export interface Sys {
  /** openat2(2): the kernel confines resolution (RESOLVE_BENEATH, RESOLVE_IN_ROOT, ...). */
  openat2(dirfd: number, path: string, how: OpenHow): number;
  close(fd: number): void;
  mkdirat(dirfd: number, path: string, mode: number): void;
  /** mknodat(2) for devices, fifos and overlay whiteouts (a char device 0:0). */
  mknodat(dirfd: number, path: string, mode: number, major: number, minor: number): void;
  symlinkat(target: string, dirfd: number, path: string): void;
  linkat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number): void;
  unlinkat(dirfd: number, path: string, flags: number): void;
  renameat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string): void;
  fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void;
  fchmodat(dirfd: number, path: string, mode: number): void;
  utimensat(dirfd: number, path: string, atime: Timespec, mtime: Timespec, flags: number): void;
  futimens(fd: number, atime: Timespec, mtime: Timespec): void;
  /** Extended attributes never follow a final symlink (l* variants). */
  lsetxattr(path: string, name: string, value: Buffer): void;
  /** The value, or null when the attribute is absent (ENODATA). */
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
  /** flock(2). Blocking requests wait on a worker thread, so the event loop keeps running. */
  flock(fd: number, op: number): Promise<void>;
  syncfs(fd: number): void;
  /** syncfs on a thread-pool thread: the event loop runs on while the disk catches up. */
  syncfsAsync(fd: number): Promise<void>;
  mount(source: string, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  /** The new mount API (fsopen/fsconfig/fsmount/move_mount), used for overlay's `lowerdir+`. */
  fsopen(fsname: string, flags: number): number;
  fsconfig(fd: number, cmd: number, key: string | null, value: string | null, aux: number): void;
  fsmount(fd: number, flags: number, attrFlags: number): number;
  moveMount(fromDirfd: number, fromPath: string, toDirfd: number, toPath: string, flags: number): void;
  /**
   * unshare(2) for the calling thread. Only for namespaces the kernel lets a multi-threaded process
   * unshare per thread (CLONE_NEWNET): the network library uses it to make a namespace to pin.
   */
  unshare(flags: number): void;
  /** setns(2): move the calling thread into the namespace `fd` refers to. */
  setns(fd: number, nstype: number): void;
}

const isArm = process.arch === 'arm64';

/** open(2) flags (x86_64 and arm64 differ only in O_DIRECTORY/O_NOFOLLOW). */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  TRUNC: 0o1000,
  DIRECTORY: isArm ? 0o40000 : 0o200000,
  NOFOLLOW: isArm ? 0o100000 : 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

export const RESOLVE = {
  NO_XDEV: 0x01,
  NO_MAGICLINKS: 0x02,
  NO_SYMLINKS: 0x04,
  BENEATH: 0x08,
  IN_ROOT: 0x10,
} as const;

/** Resolution used for every write into an unpack target: stay beneath, follow no link at all. */
export const RESOLVE_STRICT = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS | RESOLVE.NO_XDEV;

export const AT = {
  FDCWD: -100,
  SYMLINK_NOFOLLOW: 0x100,
  REMOVEDIR: 0x200,
  SYMLINK_FOLLOW: 0x400,
  EMPTY_PATH: 0x1000,
} as const;

export const LOCK = { SH: 1, EX: 2, NB: 4, UN: 8 } as const;

export const S = {
  IFMT: 0o170000,
  IFSOCK: 0o140000,
  IFLNK: 0o120000,
  IFREG: 0o100000,
  IFBLK: 0o60000,
  IFDIR: 0o40000,
  IFCHR: 0o20000,
  IFIFO: 0o10000,
} as const;

export const MS = { RDONLY: 1, NOSUID: 2, NODEV: 4, BIND: 4096, REC: 16384, PRIVATE: 1 << 18, SHARED: 1 << 20 } as const;
export const CLONE_NEWNET = 0x40000000;
export const MNT = { FORCE: 1, DETACH: 2 } as const;
export const FSCONFIG = { SET_FLAG: 0, SET_STRING: 1, CMD_CREATE: 6 } as const;
export const FSOPEN_CLOEXEC = 1;
export const FSMOUNT_CLOEXEC = 1;
export const MOUNT_ATTR_RDONLY = 1;
export const MOVE_MOUNT_F_EMPTY_PATH = 4;

/**
 * `/proc/self/fd/N/name`: how path-only calls (xattrs, readdir, lstat) reach an entry of a directory
 * fd we hold. The magic link is only ever a *middle* component (the directory itself is `N/.`), so
 * l*-calls act on the entry and never on the proc symlink.
 */
export function fdPath(dirFd: number, name?: string): string {
  return `/proc/self/fd/${dirFd}/${name === undefined || name === '' ? '.' : name}`;
}
