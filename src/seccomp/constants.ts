/**
 * Kernel ABI numbers for seccomp filters (include/uapi/linux/seccomp.h, linux/audit.h).
 * Kept in one place so the compiler, the default profile and the tests agree on them.
 */

/** Return values of a filter: the action in the high 16 bits, errno / trace data in the low 16. */
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
export const SECCOMP_RET_TRACE = 0x7ff00000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_RET_DATA = 0x0000ffff;

/** seccomp_data.arch values (AUDIT_ARCH_*): the only two an x86_64 kernel reports. */
export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_I386 = 0x40000003;

/** Offsets into struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }. */
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;
/** args[i] starts at 16 + 8*i; x86 is little-endian, so the low word comes first. */
export function argLowOffset(index: number): number {
  return 16 + 8 * index;
}
export function argHighOffset(index: number): number {
  return 16 + 8 * index + 4;
}

/** Classic BPF programs longer than this are refused by the kernel (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

/**
 * seccomp(2) filter flags that an OCI profile may name. WAIT_KILLABLE_RECV only has meaning together
 * with SECCOMP_FILTER_FLAG_NEW_LISTENER (the kernel returns EINVAL otherwise); see compileSeccomp.
 */
export const SECCOMP_FILTER_FLAGS: Readonly<Record<string, number>> = Object.freeze({
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
});
export const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
export const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 32;

export const EPERM = 1;
export const ENOSYS = 38;
