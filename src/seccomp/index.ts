/**
 * OCI `linux.seccomp` -> classic BPF, entirely in TypeScript.
 *
 * The native helper only hands the bytes to seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog); every
 * policy decision lives here, so it can be unit-tested without a kernel. Semantics follow
 * runc + libseccomp where they are observable:
 *
 * - `seccomp_data.arch` is checked first. x86_64 is always accepted; SCMP_ARCH_X86 (i386) and
 *   SCMP_ARCH_X32 only when listed. Any other arch, and x32-numbered syscalls (nr >= 0x40000000) on
 *   x86_64 when X32 is not listed, get KILL_THREAD — libseccomp's default "bad arch" action, which
 *   runc does not change. Non-x86 arches in the list are accepted and ignored (an x86_64 kernel never
 *   reports them).
 * - Syscall names unknown to an ABI are skipped for that ABI, also when no ABI knows them (profiles
 *   list syscalls of every platform and of newer kernels).
 * - Rules are tried in profile order; the first whose conditions all hold decides, otherwise the
 *   default action applies. Several conditions on the *same* argument index turn the rule's
 *   conditions into an OR — runc's documented fallback (see conditionGroups in ./profile.ts).
 * - Like runc's "patchbpf" stub, syscall numbers above the largest one the profile names for a
 *   listed architecture return ERRNO(ENOSYS) when the default action is not ALLOW/LOG/TRACE, so that
 *   libc falls back from syscalls the profile predates instead of failing with EPERM.
 */
import { encode } from './bpf.ts';
import { generateProgram } from './codegen.ts';
import { normalizeProfile } from './profile.ts';
import { InvalidArgumentError } from '../common/errors.ts';
import type { Seccomp } from '../oci/runtime-spec.ts';

export interface CompiledSeccomp {
  /** struct sock_filter[] little-endian: u16 code, u8 jt, u8 jf, u32 k. */
  filter: Buffer;
  /** SECCOMP_FILTER_FLAG_* bits for seccomp(2). */
  flags: number;
}

export interface CompileOptions {
  /** The kernel's architecture; only x86_64 is supported. */
  nativeArch?: 'x86_64';
  /** runc's -ENOSYS answer for syscalls newer than the profile (default true; see module doc). */
  enosysForNewSyscalls?: boolean;
}

/**
 * Compiles an OCI seccomp profile into the program and flags to load with seccomp(2).
 * Throws InvalidConfigError naming the offending entry for anything the profile gets wrong.
 */
export function compileSeccomp(profile: Seccomp, opts: CompileOptions = {}): CompiledSeccomp {
  const native = opts.nativeArch ?? 'x86_64';
  if (native !== 'x86_64') throw new InvalidArgumentError(`seccomp: native architecture ${String(native)} is not supported`);
  const normalized = normalizeProfile(profile);
  const program = generateProgram(normalized, { enosys: opts.enosysForNewSyscalls ?? true });
  return { filter: encode(program), flags: normalized.flags };
}

export { SECCOMP_FILTER_FLAGS } from './constants.ts';
export { defaultSeccompProfile, DOCKER_DEFAULT_CAPABILITIES } from './default-profile.ts';
