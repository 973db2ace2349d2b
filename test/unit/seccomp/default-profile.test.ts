import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DOCKER_DEFAULT_CAPABILITIES, compileSeccomp, defaultSeccompProfile } from '../../../src/seccomp/index.ts';
import { runFilter, verify } from './bpf-interp.ts';
import { ARCH_AARCH64, ENOSYS, EPERM, RET_ALLOW, RET_KILL_THREAD, compiled, errno } from './helpers.ts';

const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWNS = 0x00020000;
const CLONE_NEWNET = 0x40000000;
const SIGCHLD = 17;
/** What glibc's pthread_create passes. */
const CLONE_THREAD_FLAGS = 0x003d0f00;
const AF_INET = 2;
const AF_VSOCK = 40;

const docker = () => compiled(defaultSeccompProfile([...DOCKER_DEFAULT_CAPABILITIES]));

test('the default profile compiles to a valid program well under BPF_MAXINSNS', () => {
  for (const caps of [[], [...DOCKER_DEFAULT_CAPABILITIES], ['CAP_SYS_ADMIN', 'CAP_SYS_PTRACE', 'CAP_SYS_TIME']]) {
    const c = compileSeccomp(defaultSeccompProfile(caps));
    verify(c.filter);
    const insns = c.filter.length / 8;
    assert.ok(insns < 1024, `${insns} instructions`);
    assert.equal(c.flags, 0);
  }
});

test('the default profile is an OCI section with ERRNO(EPERM) default and the three x86 ABIs', () => {
  const p = defaultSeccompProfile([...DOCKER_DEFAULT_CAPABILITIES]);
  assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(p.defaultErrnoRet, 1);
  assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const names = p.syscalls!.flatMap((s) => s.names);
  assert.ok(names.length > 300);
  const banned = ['kexec_load', 'mount', 'io_uring_setup', 'keyctl', 'add_key', 'userfaultfd', 'open_by_handle_at'];
  for (const name of banned) {
    assert.ok(!names.includes(name), name);
  }
  // JSON round trip: it is plain data for config.json.
  assert.deepEqual(JSON.parse(JSON.stringify(p)), p);
});

test('everyday syscalls are allowed on every ABI', () => {
  const c = docker();
  const native = ['read', 'write', 'execve', 'openat', 'mmap', 'futex', 'exit_group', 'getpid', 'chroot', 'arch_prctl'];
  for (const name of [...native, 'ptrace']) assert.equal(c.run(name), RET_ALLOW, name);
  for (const name of ['read', 'write', 'execve', 'socketcall', 'waitpid', 'mmap2']) {
    assert.equal(c.run(name, [], 'x86'), RET_ALLOW, `i386 ${name}`);
  }
  for (const name of ['read', 'write', 'execve', 'rt_sigaction']) {
    assert.equal(c.run(name, [], 'x32'), RET_ALLOW, `x32 ${name}`);
  }
});

test('privileged syscalls are denied with EPERM', () => {
  const c = docker();
  const privileged = ['kexec_load', 'mount', 'umount2', 'unshare', 'setns', 'reboot', 'init_module', 'bpf', 'keyctl'];
  for (const name of [...privileged, 'swapon', 'io_uring_setup', 'open_by_handle_at']) {
    assert.equal(c.run(name), EPERM, name);
  }
  assert.equal(c.run('mount', [], 'x86'), EPERM);
  assert.equal(c.run('kexec_load', [], 'x32'), EPERM);
});

test('clone may fork and make threads but not namespaces without CAP_SYS_ADMIN', () => {
  const c = docker();
  assert.equal(c.run('clone', [SIGCHLD]), RET_ALLOW);
  assert.equal(c.run('clone', [CLONE_THREAD_FLAGS]), RET_ALLOW);
  assert.equal(c.run('clone', [CLONE_NEWUSER | SIGCHLD]), EPERM);
  assert.equal(c.run('clone', [CLONE_NEWNS]), EPERM);
  assert.equal(c.run('clone', [CLONE_NEWNET | CLONE_THREAD_FLAGS]), EPERM);
  assert.equal(c.run('clone', [0x1_0000_0000n | BigInt(SIGCHLD)]), RET_ALLOW, 'only the namespace bits matter');
  assert.equal(c.run('clone', [CLONE_NEWUSER], 'x86'), EPERM);
  assert.equal(c.run('clone', [SIGCHLD], 'x86'), RET_ALLOW);
  // clone3 hides its flags in memory: ENOSYS sends libc back to clone.
  assert.equal(c.run('clone3'), errno(38));

  const admin = compiled(defaultSeccompProfile([...DOCKER_DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']));
  assert.equal(admin.run('clone', [CLONE_NEWUSER | SIGCHLD]), RET_ALLOW);
  assert.equal(admin.run('clone3'), RET_ALLOW);
  assert.equal(admin.run('mount'), RET_ALLOW);
  assert.equal(admin.run('kexec_load'), EPERM);
});

test('personality is limited to the harmless values', () => {
  const c = docker();
  for (const v of [0, 8, 0x20000, 0x20008, 0xffffffff]) assert.equal(c.run('personality', [v]), RET_ALLOW, v.toString(16));
  for (const v of [0x0040000, 0x0400000, 1, 0x1_0000_0000n]) assert.equal(c.run('personality', [v]), EPERM, v.toString(16));
});

test('sockets of every family except AF_VSOCK', () => {
  const c = docker();
  assert.equal(c.run('socket', [AF_INET, 1, 0]), RET_ALLOW);
  assert.equal(c.run('socket', [1, 1, 0]), RET_ALLOW);
  assert.equal(c.run('socket', [AF_VSOCK, 1, 0]), EPERM);
  assert.equal(c.run('socket', [AF_VSOCK], 'x86'), EPERM);
});

test('capabilities unlock their groups; names are accepted with or without CAP_', () => {
  const base = docker();
  assert.equal(base.run('ptrace'), RET_ALLOW); // kernel >= 4.8 group
  assert.equal(base.run('kcmp'), EPERM);
  assert.equal(base.run('settimeofday'), EPERM);
  assert.equal(base.run('chroot'), RET_ALLOW); // CAP_SYS_CHROOT is a Docker default
  assert.equal(compiled(defaultSeccompProfile([])).run('chroot'), EPERM);
  const more = compiled(defaultSeccompProfile(['sys_ptrace', 'SYS_TIME', 'cap_sys_nice', 'CAP_SYSLOG', 'CAP_BPF']));
  assert.equal(more.run('kcmp'), RET_ALLOW);
  assert.equal(more.run('settimeofday'), RET_ALLOW);
  assert.equal(more.run('mbind'), RET_ALLOW);
  assert.equal(more.run('syslog'), RET_ALLOW);
  assert.equal(more.run('bpf'), RET_ALLOW);
  assert.equal(more.run('mount'), EPERM);
});

test('syscalls newer than the profile get ENOSYS, other architectures are killed', () => {
  const c = docker();
  assert.equal(c.run(1000), ENOSYS);
  assert.equal(c.run(2000, [], 'x86'), ENOSYS);
  assert.equal(c.run(0x40000000 + 1000), ENOSYS);
  assert.equal(c.run('kexec_file_load'), EPERM, 'known but not allowed: EPERM, not ENOSYS');
  assert.equal(runFilter(c.filter, { arch: ARCH_AARCH64, nr: 63 }), RET_KILL_THREAD);
});
