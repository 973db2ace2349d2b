/**
 * berth's default seccomp profile: the policy of Docker's default profile (moby
 * profiles/seccomp/default.json), restated as berth's own data for x86_64 hosts.
 *
 * Why Docker's policy: images are built and tested against it, so anything stricter breaks real
 * workloads and anything looser is a regression users would not expect from a container engine.
 * What is resolved here instead of at run time:
 * - arch-dependent groups for amd64 (arch_prctl, modify_ldt in; arm/ppc/s390/riscv-only syscalls out);
 * - the "kernel >= 4.8" ptrace group is always in (berth does not support older kernels);
 * - io_uring_* stay out, as in Docker since v25 (they bypass seccomp for the work they queue);
 * - the Linux 6.5–6.7 syscalls Docker added in 2024 (cachestat, fchmodat2, futex_wait/wake/requeue,
 *   map_shadow_stack) are in; the compiler skips names newer than its syscall tables, and the
 *   filter answers them with ENOSYS.
 * Capability-gated groups are decided by `defaultSeccompProfile(caps)`, as Docker does from the
 * container's bounding set.
 */
import type { Seccomp, SeccompAction, SeccompArg } from '../oci/runtime-spec.ts';

/** Docker's default capability set, for callers that want the stock profile. */
export const DOCKER_DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]);

/** Syscalls every container may make, by topic (the topics are only for reading; all are ALLOW). */
const ALWAYS_ALLOWED: Readonly<Record<string, readonly string[]>> = {
  files: [
    'access', 'cachestat', 'chdir', 'chmod', 'chown', 'chown32', 'close', 'close_range', 'copy_file_range',
    'creat', 'dup', 'dup2', 'dup3', 'faccessat', 'faccessat2', 'fadvise64', 'fadvise64_64', 'fallocate',
    'fanotify_mark', 'fchdir', 'fchmod', 'fchmodat', 'fchmodat2', 'fchown', 'fchown32', 'fchownat',
    'fcntl', 'fcntl64', 'fdatasync', 'flock', 'fstat', 'fstat64', 'fstatat64', 'fstatfs', 'fstatfs64',
    'fsync', 'ftruncate', 'ftruncate64', 'futimesat', 'getcwd', 'getdents', 'getdents64', 'lchown',
    'lchown32', 'link',
    'linkat', '_llseek', 'lseek', 'lstat', 'lstat64', 'mkdir', 'mkdirat', 'mknod', 'mknodat',
    'name_to_handle_at', 'newfstatat', 'open', 'openat', 'openat2', 'pread64', 'preadv', 'preadv2',
    'pwrite64', 'pwritev', 'pwritev2', 'read', 'readahead', 'readlink', 'readlinkat', 'readv', 'rename',
    'renameat', 'renameat2', 'rmdir', 'sendfile', 'sendfile64', 'splice', 'stat', 'stat64', 'statfs',
    'statfs64', 'statx', 'symlink', 'symlinkat', 'sync', 'sync_file_range', 'syncfs', 'tee', 'truncate',
    'truncate64', 'umask', 'unlink', 'unlinkat', 'utime', 'utimensat', 'utimensat_time64', 'utimes',
    'vmsplice', 'write', 'writev',
  ],
  xattrs: [
    'fgetxattr', 'flistxattr', 'fremovexattr', 'fsetxattr', 'getxattr', 'lgetxattr', 'listxattr',
    'llistxattr', 'lremovexattr', 'lsetxattr', 'removexattr', 'setxattr',
  ],
  eventsAndAio: [
    'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_pwait', 'epoll_pwait2',
    'epoll_wait', 'epoll_wait_old', 'eventfd', 'eventfd2', 'inotify_add_watch', 'inotify_init',
    'inotify_init1', 'inotify_rm_watch', 'io_cancel', 'io_destroy', 'io_getevents', 'io_pgetevents',
    'io_pgetevents_time64', 'io_setup', 'io_submit', 'ioctl', 'ioprio_get', 'ioprio_set', 'pipe', 'pipe2',
    'poll', 'ppoll', 'ppoll_time64', 'pselect6', 'pselect6_time64', 'select', '_newselect', 'signalfd',
    'signalfd4', 'timerfd_create', 'timerfd_gettime', 'timerfd_gettime64', 'timerfd_settime',
    'timerfd_settime64',
  ],
  memory: [
    'brk', 'madvise', 'map_shadow_stack', 'membarrier', 'memfd_create', 'memfd_secret', 'mincore', 'mlock',
    'mlock2', 'mlockall', 'mmap', 'mmap2', 'mprotect', 'mremap', 'msync', 'munlock', 'munlockall',
    'munmap', 'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'remap_file_pages',
  ],
  processes: [
    'capget', 'capset', 'execve', 'execveat', 'exit', 'exit_group', 'fork', 'get_robust_list',
    'get_thread_area', 'getcpu', 'getpgid', 'getpgrp', 'getpid', 'getppid', 'getpriority', 'getrandom',
    'getrlimit', 'getrusage', 'getsid', 'gettid', 'landlock_add_rule', 'landlock_create_ruleset',
    'landlock_restrict_self', 'pidfd_open', 'pidfd_send_signal', 'prctl', 'prlimit64', 'process_mrelease',
    'restart_syscall', 'rseq', 'sched_get_priority_max', 'sched_get_priority_min', 'sched_getaffinity',
    'sched_getattr', 'sched_getparam', 'sched_getscheduler', 'sched_rr_get_interval',
    'sched_rr_get_interval_time64', 'sched_setaffinity', 'sched_setattr', 'sched_setparam',
    'sched_setscheduler', 'sched_yield', 'seccomp', 'set_robust_list', 'set_thread_area',
    'set_tid_address', 'setpgid', 'setpriority', 'setrlimit', 'setsid', 'sysinfo', 'ugetrlimit', 'uname',
    'vfork', 'wait4', 'waitid', 'waitpid',
  ],
  credentials: [
    'getegid', 'getegid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getgroups', 'getgroups32',
    'getresgid', 'getresgid32', 'getresuid', 'getresuid32', 'getuid', 'getuid32', 'setfsgid',
    'setfsgid32', 'setfsuid', 'setfsuid32', 'setgid', 'setgid32', 'setgroups', 'setgroups32', 'setregid',
    'setregid32', 'setresgid', 'setresgid32', 'setresuid', 'setresuid32', 'setreuid', 'setreuid32',
    'setuid', 'setuid32',
  ],
  signals: [
    'kill', 'pause', 'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn',
    'rt_sigsuspend', 'rt_sigtimedwait', 'rt_sigtimedwait_time64', 'rt_tgsigqueueinfo', 'sigaltstack',
    'sigprocmask', 'sigreturn', 'tgkill', 'tkill',
  ],
  time: [
    'adjtimex', 'alarm', 'clock_adjtime', 'clock_adjtime64', 'clock_getres', 'clock_getres_time64',
    'clock_gettime', 'clock_gettime64', 'clock_nanosleep', 'clock_nanosleep_time64', 'getitimer',
    'gettimeofday', 'nanosleep', 'setitimer', 'time', 'timer_create', 'timer_delete', 'timer_getoverrun',
    'timer_gettime', 'timer_gettime64', 'timer_settime', 'timer_settime64', 'times',
  ],
  futexes: ['futex', 'futex_requeue', 'futex_time64', 'futex_wait', 'futex_waitv', 'futex_wake'],
  sockets: [
    'accept', 'accept4', 'bind', 'connect', 'getpeername', 'getsockname', 'getsockopt', 'listen', 'recv',
    'recvfrom', 'recvmmsg', 'recvmmsg_time64', 'recvmsg', 'send', 'sendmmsg', 'sendmsg', 'sendto',
    'setsockopt', 'shutdown', 'socketcall', 'socketpair',
  ],
  ipc: [
    'ipc', 'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive', 'mq_timedreceive_time64',
    'mq_timedsend', 'mq_timedsend_time64', 'mq_unlink', 'msgctl', 'msgget', 'msgrcv', 'msgsnd', 'semctl',
    'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'shmat', 'shmctl', 'shmdt', 'shmget',
  ],
  // Harmless since Linux 4.8, when ptrace stopped being a way around seccomp.
  tracing: ['process_vm_readv', 'process_vm_writev', 'ptrace'],
  // amd64/x32/i386 only (arch_prctl sets FS/GS, modify_ldt the LDT of the process itself).
  x86: ['arch_prctl', 'modify_ldt'],
};

/** A piece of the profile that depends on the capability set. */
interface CapGroup {
  names: readonly string[];
  action?: SeccompAction;
  errnoRet?: number;
  args?: readonly SeccompArg[];
  /** Included only when every one of these capabilities is granted. */
  requires?: readonly string[];
  /** Left out when any of these capabilities is granted. */
  unless?: readonly string[];
}

const AF_VSOCK = 40;
const ENOSYS = 38;
/** CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET */
const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;
/** personality(2) values a container may set: PER_LINUX, PER_LINUX32, UNAME26, both, and the query. */
const PERSONALITIES = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

const GROUPS: readonly CapGroup[] = [
  // Sockets of every family but vsock, which would reach the host's hypervisor-facing services.
  { names: ['socket'], args: [{ index: 0, op: 'SCMP_CMP_NE', value: AF_VSOCK }] },
  ...PERSONALITIES.map((value): CapGroup => ({ names: ['personality'], args: [{ index: 0, op: 'SCMP_CMP_EQ', value }] })),
  { names: ['open_by_handle_at'], requires: ['CAP_DAC_READ_SEARCH'] },
  {
    names: [
      'bpf', 'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'lookup_dcookie',
      'mount', 'mount_setattr', 'move_mount', 'open_tree', 'perf_event_open', 'quotactl', 'quotactl_fd',
      'setdomainname', 'sethostname', 'setns', 'syslog', 'umount', 'umount2', 'unshare',
    ],
    requires: ['CAP_SYS_ADMIN'],
  },
  // Without CAP_SYS_ADMIN: threads and forks yes, new namespaces no.
  {
    names: ['clone'],
    args: [{ index: 0, op: 'SCMP_CMP_MASKED_EQ', value: CLONE_NAMESPACE_FLAGS, valueTwo: 0 }],
    unless: ['CAP_SYS_ADMIN'],
  },
  // clone3 passes its flags in memory, out of seccomp's reach: ENOSYS makes libc fall back to clone.
  { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, unless: ['CAP_SYS_ADMIN'] },
  { names: ['reboot'], requires: ['CAP_SYS_BOOT'] },
  { names: ['chroot'], requires: ['CAP_SYS_CHROOT'] },
  { names: ['delete_module', 'init_module', 'finit_module'], requires: ['CAP_SYS_MODULE'] },
  { names: ['acct'], requires: ['CAP_SYS_PACCT'] },
  {
    names: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace'],
    requires: ['CAP_SYS_PTRACE'],
  },
  { names: ['iopl', 'ioperm'], requires: ['CAP_SYS_RAWIO'] },
  { names: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'], requires: ['CAP_SYS_TIME'] },
  { names: ['vhangup'], requires: ['CAP_SYS_TTY_CONFIG'] },
  { names: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'], requires: ['CAP_SYS_NICE'] },
  { names: ['syslog'], requires: ['CAP_SYSLOG'] },
  { names: ['bpf'], requires: ['CAP_BPF'] },
  { names: ['perf_event_open'], requires: ['CAP_PERFMON'] },
];

/** "sys_admin", "SYS_ADMIN" and "CAP_SYS_ADMIN" all name the same capability. */
function normalizeCap(cap: string): string {
  const upper = cap.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/**
 * The default profile for a container whose bounding set is `caps`, as an OCI seccomp section:
 * default ERRNO(EPERM), x86_64 + i386 + x32, and the groups the capabilities unlock.
 */
export function defaultSeccompProfile(caps: readonly string[]): Seccomp {
  const granted = new Set(caps.map(normalizeCap));
  const syscalls: NonNullable<Seccomp['syscalls']> = [
    { names: Object.values(ALWAYS_ALLOWED).flat().sort(), action: 'SCMP_ACT_ALLOW' },
  ];
  for (const g of GROUPS) {
    if (g.requires && !g.requires.every((c) => granted.has(c))) continue;
    if (g.unless && g.unless.some((c) => granted.has(c))) continue;
    syscalls.push({
      names: [...g.names],
      action: g.action ?? 'SCMP_ACT_ALLOW',
      ...(g.errnoRet === undefined ? {} : { errnoRet: g.errnoRet }),
      ...(g.args ? { args: g.args.map((a) => ({ ...a })) } : {}),
    });
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls,
  };
}
