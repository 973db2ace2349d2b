/**
 * A failed system call, with the errno name kept so callers can branch on it (ENOENT, ELOOP,
 * EXDEV...) while the user still sees one readable line.
 */
import { constants } from 'node:os';
import { SystemError } from '../common/errors.ts';

const names = new Map<number, string>();
for (const [name, num] of Object.entries(constants.errno)) if (!names.has(num)) names.set(num, name);

const texts: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EEXIST: 'file exists',
  ELOOP: 'too many levels of symbolic links',
  EXDEV: 'path escapes its root',
  EPERM: 'operation not permitted',
  EACCES: 'permission denied',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ENOTEMPTY: 'directory not empty',
  EINVAL: 'invalid argument',
  ENOSYS: 'not supported by this kernel',
  EBUSY: 'device or resource busy',
  ENODATA: 'no such attribute',
  EOPNOTSUPP: 'operation not supported',
  EAGAIN: 'resource temporarily unavailable',
  EWOULDBLOCK: 'resource temporarily unavailable',
};

export class SyscallError extends SystemError {
  /** errno name, e.g. "ELOOP". */
  readonly errno: string;
  readonly syscall: string;
  constructor(syscall: string, errno: number | string, path?: string) {
    const name = typeof errno === 'string' ? errno : (names.get(errno) ?? `errno ${errno}`);
    const what = texts[name] ?? name;
    super(`${syscall}${path ? ` ${path}` : ''}: ${what} (${name})`);
    this.errno = name;
    this.syscall = syscall;
  }
}

/** True when `err` is a SyscallError (or a Node errno error) with one of the given errno names. */
export function isErrno(err: unknown, ...codes: string[]): boolean {
  if (err instanceof SyscallError) return codes.includes(err.errno);
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && codes.includes(code);
}
