/**
 * Entry point of the syscall seam: `getSys()` loads the koffi implementation on first use, so a
 * CLI path that never needs it (`berth --version`, `berth images`) does not pay for loading koffi.
 */
import type { Sys } from './types.ts';

export type { Sys, OpenHow, Timespec } from './types.ts';
export * from './types.ts';
export { SyscallError, isErrno } from './errors.ts';

let real: Promise<Sys> | undefined;

/** The libc-backed `Sys`, loaded once. */
export function getSys(): Promise<Sys> {
  real ??= import('./koffi.ts').then((m) => m.koffiSys);
  return real;
}
