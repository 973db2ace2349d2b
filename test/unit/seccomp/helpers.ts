/** Shared helpers for the seccomp unit tests. */
import { compileSeccomp, type CompileOptions } from '../../../src/seccomp/index.ts';
import { SYSCALLS_I386, SYSCALLS_X32, SYSCALLS_X86_64, X32_SYSCALL_BIT } from '../../../src/seccomp/syscalls-x86.ts';
import type { Seccomp } from '../../../src/oci/runtime-spec.ts';
import { runFilter } from './bpf-interp.ts';

export const ARCH_X86_64 = 0xc000003e;
export const ARCH_I386 = 0x40000003;
export const ARCH_AARCH64 = 0xc00000b7;

export const RET_KILL_THREAD = 0;
export const RET_KILL_PROCESS = 0x80000000;
export const RET_TRAP = 0x00030000;
export const RET_ALLOW = 0x7fff0000;
export const RET_LOG = 0x7ffc0000;
export const errno = (e: number): number => (0x00050000 | e) >>> 0;
export const trace = (data: number): number => (0x7ff00000 | data) >>> 0;
export const EPERM = errno(1);
export const ENOSYS = errno(38);

export type Abi = 'x86_64' | 'x86' | 'x32';

export function nr(abi: Abi, name: string): number {
  const table = abi === 'x86_64' ? SYSCALLS_X86_64 : abi === 'x86' ? SYSCALLS_I386 : SYSCALLS_X32;
  const n = table[name];
  if (n === undefined) throw new Error(`test: no syscall ${name} on ${abi}`);
  return abi === 'x32' ? (n | X32_SYSCALL_BIT) >>> 0 : n;
}

/** A compiled profile plus a convenient way to ask it about one syscall. */
export function compiled(profile: Seccomp, opts?: CompileOptions) {
  const c = compileSeccomp(profile, opts);
  return {
    ...c,
    insns: c.filter.length / 8,
    run(name: string | number, args: readonly (bigint | number)[] = [], abi: Abi = 'x86_64'): number {
      const n = typeof name === 'number' ? name : nr(abi, name);
      return runFilter(c.filter, { arch: abi === 'x86' ? ARCH_I386 : ARCH_X86_64, nr: n, args });
    },
  };
}
