import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSeccomp } from '../../../src/seccomp/index.ts';
import { InvalidConfigError } from '../../../src/common/errors.ts';
import type { Seccomp, SeccompAction, SeccompOperator, SeccompSyscall } from '../../../src/oci/runtime-spec.ts';
import { SYSCALLS_X86_64 } from '../../../src/seccomp/syscalls-x86.ts';
import { runFilter, verify } from './bpf-interp.ts';
import {
  ARCH_AARCH64,
  ARCH_I386,
  ARCH_X86_64,
  ENOSYS,
  EPERM,
  RET_ALLOW,
  RET_KILL_PROCESS,
  RET_KILL_THREAD,
  RET_LOG,
  RET_TRAP,
  compiled,
  errno,
  nr,
  trace,
} from './helpers.ts';

const allow = (names: string[], extra: Partial<SeccompSyscall> = {}): SeccompSyscall => ({
  names,
  action: 'SCMP_ACT_ALLOW',
  ...extra,
});

test('the filter is struct sock_filter[] little-endian and starts by loading seccomp_data.arch', () => {
  const c = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' });
  assert.equal(c.filter.length % 8, 0);
  assert.equal(c.filter.readUInt16LE(0), 0x20); // BPF_LD | BPF_W | BPF_ABS
  assert.equal(c.filter.readUInt32LE(4), 4); // offsetof(struct seccomp_data, arch)
  assert.equal(c.filter.readUInt16LE(8), 0x15); // BPF_JMP | BPF_JEQ | BPF_K
  assert.equal(c.filter.readUInt32LE(12), ARCH_X86_64);
  assert.equal(c.flags, 0);
});

test('default actions', () => {
  const cases: [Seccomp, number][] = [
    [{ defaultAction: 'SCMP_ACT_ALLOW' }, RET_ALLOW],
    [{ defaultAction: 'SCMP_ACT_ERRNO' }, EPERM],
    [{ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 13 }, errno(13)],
    [{ defaultAction: 'SCMP_ACT_KILL' }, RET_KILL_THREAD],
    [{ defaultAction: 'SCMP_ACT_KILL_PROCESS' }, RET_KILL_PROCESS],
    [{ defaultAction: 'SCMP_ACT_TRAP' }, RET_TRAP],
    [{ defaultAction: 'SCMP_ACT_LOG' }, RET_LOG],
    [{ defaultAction: 'SCMP_ACT_TRACE' }, trace(1)],
    [{ defaultAction: 'SCMP_ACT_TRACE', defaultErrnoRet: 7 }, trace(7)],
  ];
  for (const [profile, want] of cases) {
    const c = compiled({ ...profile, syscalls: [allow(['getpid'])] });
    assert.equal(c.run('getpid'), RET_ALLOW, profile.defaultAction);
    for (const name of ['read', 'mkdir', 'kexec_load']) assert.equal(c.run(name), want, `${profile.defaultAction} ${name}`);
  }
});

test('each action is encoded as SECCOMP_RET_* with errno / trace data in the low 16 bits', () => {
  const cases: [SeccompAction, number | undefined, number][] = [
    ['SCMP_ACT_KILL', undefined, RET_KILL_THREAD],
    ['SCMP_ACT_KILL_THREAD', undefined, RET_KILL_THREAD],
    ['SCMP_ACT_KILL_PROCESS', undefined, 0x80000000],
    ['SCMP_ACT_TRAP', undefined, 0x00030000],
    ['SCMP_ACT_ERRNO', undefined, 0x00050001],
    ['SCMP_ACT_ERRNO', 13, 0x0005000d],
    ['SCMP_ACT_ERRNO', 0, 0x00050000],
    ['SCMP_ACT_ERRNO', 65535, 0x0005ffff],
    ['SCMP_ACT_TRACE', undefined, 0x7ff00001],
    ['SCMP_ACT_TRACE', 42, 0x7ff0002a],
    ['SCMP_ACT_LOG', undefined, 0x7ffc0000],
    ['SCMP_ACT_ALLOW', undefined, 0x7fff0000],
  ];
  for (const [action, errnoRet, want] of cases) {
    const c = compiled({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 99,
      syscalls: [{ names: ['mkdir'], action, ...(errnoRet === undefined ? {} : { errnoRet }) }],
    });
    assert.equal(c.run('mkdir'), want, `${action} ${errnoRet}`);
    assert.equal(c.run('getpid'), errno(99));
  }
});

// ---- argument comparisons --------------------------------------------------------------------

const EDGE = [
  0n, 1n, 2n, 0x7fffffffn, 0x80000000n, 0xfffffffen, 0xffffffffn, 0x100000000n, 0x100000001n, 0x1ffffffffn,
  0x123456789abcdef0n, 0x8000000000000000n, 0xfffffffffffffffen, 0xffffffffffffffffn,
];

function reference(op: SeccompOperator, arg: bigint, value: bigint, valueTwo: bigint): boolean {
  switch (op) {
    case 'SCMP_CMP_EQ':
      return arg === value;
    case 'SCMP_CMP_NE':
      return arg !== value;
    case 'SCMP_CMP_LT':
      return arg < value;
    case 'SCMP_CMP_LE':
      return arg <= value;
    case 'SCMP_CMP_GT':
      return arg > value;
    case 'SCMP_CMP_GE':
      return arg >= value;
    case 'SCMP_CMP_MASKED_EQ':
      return (arg & value) === valueTwo;
  }
}

const OPS: SeccompOperator[] = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT'];

test('every comparison operator on full 64-bit values (high and low words)', () => {
  for (const op of OPS) {
    for (const value of EDGE) {
      for (const index of [0, 3, 5]) {
        const c = compiled({
          defaultAction: 'SCMP_ACT_ERRNO',
          syscalls: [{ names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index, op, value: value as unknown as number }] }],
        });
        for (const arg of EDGE) {
          const args = [0n, 0n, 0n, 0n, 0n, 0n];
          args[index] = arg;
          const want = reference(op, arg, value, 0n) ? RET_ALLOW : EPERM;
          assert.equal(c.run('ioctl', args), want, `${op} arg${index}=${arg.toString(16)} value=${value.toString(16)}`);
        }
      }
    }
  }
});

test('operands given as JSON numbers, including values above 2^32', () => {
  const c = compiled({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [{ names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, op: 'SCMP_CMP_GT', value: 2 ** 40 }] }],
  });
  assert.equal(c.run('ioctl', [0, 2 ** 40]), EPERM);
  assert.equal(c.run('ioctl', [0, 2 ** 40 + 1]), RET_ALLOW);
  assert.equal(c.run('ioctl', [0, 2 ** 41]), RET_ALLOW);
  assert.equal(c.run('ioctl', [0, 0xffffffff]), EPERM);
  // u64 max does not survive JSON.parse exactly (it becomes 2^64); it is taken to mean all bits set.
  const parsed = JSON.parse('{"index":0,"op":"SCMP_CMP_EQ","value":18446744073709551615}');
  const m = compiled({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [{ names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [parsed] }],
  });
  assert.equal(m.run('ioctl', [0xffffffffffffffffn]), RET_ALLOW);
  assert.equal(m.run('ioctl', [0xffffffffn]), EPERM);
});

test('MASKED_EQ compares (arg & value) == valueTwo on both words', () => {
  const masks: [bigint, bigint][] = [
    [0x7e020000n, 0n],
    [0xffn, 0x12n],
    [0xff00000000n, 0x1200000000n],
    [0xffffffffffffffffn, 0x123456789abcdef0n],
    [0x100000001n, 0x100000000n],
    [0x0fn, 0xf0n], // expected bits outside the mask: never matches
  ];
  for (const [mask, want] of masks) {
    const c = compiled({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        {
          names: ['ioctl'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 2, op: 'SCMP_CMP_MASKED_EQ', value: mask as unknown as number, valueTwo: want as unknown as number }],
        },
      ],
    });
    for (const arg of [...EDGE, want, want | 0x8000000000000000n, 0x1200000012n, 0x10000000n]) {
      const expect = reference('SCMP_CMP_MASKED_EQ', arg, mask, want) ? RET_ALLOW : EPERM;
      assert.equal(c.run('ioctl', [0, 0, arg]), expect, `mask ${mask.toString(16)} arg ${arg.toString(16)}`);
    }
  }
});

test('several conditions on different arguments are ANDed', () => {
  const c = compiled({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      {
        names: ['mmap'],
        action: 'SCMP_ACT_ALLOW',
        args: [
          { index: 0, op: 'SCMP_CMP_EQ', value: 0 },
          { index: 2, op: 'SCMP_CMP_MASKED_EQ', value: 4, valueTwo: 0 }, // no PROT_EXEC
          { index: 5, op: 'SCMP_CMP_LT', value: 2 ** 33 },
        ],
      },
    ],
  });
  assert.equal(c.run('mmap', [0, 4096, 3, 0, 0, 0]), RET_ALLOW);
  assert.equal(c.run('mmap', [1, 4096, 3, 0, 0, 0]), EPERM);
  assert.equal(c.run('mmap', [0, 4096, 7, 0, 0, 0]), EPERM);
  assert.equal(c.run('mmap', [0, 4096, 3, 0, 0, 2 ** 33]), EPERM);
  assert.equal(c.run('mmap', [0x100000000, 4096, 3, 0, 0, 0]), EPERM);
});

test('conditions repeating an argument index become separate rules (OR), as runc does', () => {
  const c = compiled({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      {
        names: ['personality'],
        action: 'SCMP_ACT_ALLOW',
        args: [
          { index: 0, op: 'SCMP_CMP_EQ', value: 0 },
          { index: 0, op: 'SCMP_CMP_EQ', value: 8 },
          { index: 1, op: 'SCMP_CMP_EQ', value: 5 },
        ],
      },
    ],
  });
  assert.equal(c.run('personality', [0, 0]), RET_ALLOW);
  assert.equal(c.run('personality', [8, 0]), RET_ALLOW);
  // Even the condition on another index stands alone now: arg1 == 5 suffices.
  assert.equal(c.run('personality', [3, 5]), RET_ALLOW);
  assert.equal(c.run('personality', [3, 0]), EPERM);
});

test('rules for the same syscall are tried in order; the first match wins', () => {
  const denyBig: SeccompSyscall = {
    names: ['write'],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: 27,
    args: [{ index: 2, op: 'SCMP_CMP_GT', value: 1024 }],
  };
  const a = compiled({ defaultAction: 'SCMP_ACT_KILL', syscalls: [denyBig, allow(['write', 'read'])] });
  assert.equal(a.run('write', [1, 0, 10]), RET_ALLOW);
  assert.equal(a.run('write', [1, 0, 4096]), errno(27));
  assert.equal(a.run('read', [1, 0, 4096]), RET_ALLOW);
  // Reversed, the unconditional rule shadows the conditional one.
  const b = compiled({ defaultAction: 'SCMP_ACT_KILL', syscalls: [allow(['write']), denyBig] });
  assert.equal(b.run('write', [1, 0, 4096]), RET_ALLOW);
  // A rule whose action is the default still shadows later rules.
  const c = compiled({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names: ['write'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 2 }] },
      allow(['write']),
    ],
  });
  assert.equal(c.run('write', [2]), EPERM);
  assert.equal(c.run('write', [1]), RET_ALLOW);
  // No rule matching falls through to the default action.
  const d = compiled({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names: ['write'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 1 }] },
      { names: ['write'], action: 'SCMP_ACT_LOG', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 2 }] },
    ],
  });
  assert.equal(d.run('write', [1]), RET_ALLOW);
  assert.equal(d.run('write', [2]), RET_LOG);
  assert.equal(d.run('write', [3]), EPERM);
});

// ---- architectures ---------------------------------------------------------------------------

test('x32 syscalls on the x86_64 arch are killed unless SCMP_ARCH_X32 is listed', () => {
  const without = compiled({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [allow(['read'])] });
  assert.equal(without.run('read'), RET_ALLOW);
  assert.equal(without.run('read', [], 'x32'), RET_KILL_THREAD);
  assert.equal(without.run(0x40000000 + 512), RET_KILL_THREAD);
  assert.equal(without.run(0xffffffff), RET_KILL_THREAD);

  const withX32 = compiled({
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X32'],
    syscalls: [allow(['read', 'rt_sigaction', 'execve'])],
  });
  assert.equal(withX32.run('read', [], 'x32'), RET_ALLOW);
  assert.equal(nr('x32', 'rt_sigaction'), 0x40000000 + 512);
  assert.equal(withX32.run('rt_sigaction', [], 'x32'), RET_ALLOW);
  assert.equal(withX32.run('execve', [], 'x32'), RET_ALLOW);
  // The x86_64 number of rt_sigaction with the x32 bit is not x32's rt_sigaction.
  assert.equal(withX32.run(0x40000000 + 13), EPERM);
  assert.equal(withX32.run('write', [], 'x32'), EPERM);
});

test('i386 uses its own numbers and is accepted only when SCMP_ARCH_X86 is listed', () => {
  const profile: Seccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [allow(['getpid'])] };
  assert.notEqual(nr('x86', 'getpid'), nr('x86_64', 'getpid'));
  const native = compiled(profile);
  assert.equal(native.run('getpid'), RET_ALLOW);
  assert.equal(native.run('getpid', [], 'x86'), RET_KILL_THREAD);

  const both = compiled({ ...profile, architectures: ['SCMP_ARCH_X86'] });
  assert.equal(both.run('getpid'), RET_ALLOW, 'the native arch is always included');
  assert.equal(both.run('getpid', [], 'x86'), RET_ALLOW);
  // The same number means another syscall on the other ABI.
  assert.equal(both.run(nr('x86', 'getpid')), EPERM);
  assert.equal(both.run(nr('x86', 'read'), [], 'x86'), EPERM);
  // 39 is above every i386 syscall the profile names (getpid = 20): runc's -ENOSYS range.
  assert.equal(both.run(nr('x86_64', 'getpid'), [], 'x86'), ENOSYS);
});

test('i386 arguments are 32-bit: only the low word is compared, operands truncated', () => {
  const c = compiled({
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X86_64'],
    syscalls: [{ names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, op: 'SCMP_CMP_EQ', value: 0x5401 }] }],
  });
  assert.equal(c.run('ioctl', [0, 0x5401], 'x86'), RET_ALLOW);
  assert.equal(c.run('ioctl', [0, 0x1_0000_5401n], 'x86'), RET_ALLOW, 'the kernel ignores the high half for compat syscalls');
  assert.equal(c.run('ioctl', [0, 0x1_0000_5401n]), EPERM, 'x86_64 compares all 64 bits');
  for (const op of OPS) {
    const p = compiled({
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86'],
      syscalls: [{ names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, op, value: 100 }] }],
    });
    for (const arg of [0n, 99n, 100n, 101n, 0xffffffffn]) {
      assert.equal(p.run('ioctl', [arg], 'x86'), reference(op, arg, 100n, 0n) ? RET_ALLOW : EPERM, `${op} ${arg}`);
    }
  }
});

test('an architecture the profile does not list gets KILL_THREAD (libseccomp bad-arch action)', () => {
  const c = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'] });
  assert.equal(runFilter(c.filter, { arch: ARCH_AARCH64, nr: 63 }), RET_KILL_THREAD);
  assert.equal(runFilter(c.filter, { arch: ARCH_I386, nr: 3 }), RET_KILL_THREAD);
  assert.equal(runFilter(c.filter, { arch: 0, nr: 0 }), RET_KILL_THREAD);
  assert.equal(runFilter(c.filter, { arch: ARCH_X86_64, nr: 0 }), RET_ALLOW);
});

// ---- names, -ENOSYS, flags -------------------------------------------------------------------

test('syscall names unknown to an ABI, or to every ABI, are skipped silently', () => {
  const c = compiled({
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    syscalls: [allow(['arm_fadvise64_64', 'no_such_syscall', 'arch_prctl', 'waitpid', 'getpid'])],
  });
  assert.equal(c.run('arch_prctl'), RET_ALLOW); // x86_64 has it, i386 does not
  assert.equal(c.run('waitpid', [], 'x86'), RET_ALLOW); // i386 has it, x86_64 does not
  assert.equal(c.run('getpid'), RET_ALLOW);
  assert.equal(c.run('read'), EPERM);
});

test('syscalls above the largest one the profile names get ENOSYS (runc), only where that applies', () => {
  const profile: Seccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [allow(['read', 'getpid'])],
  };
  const c = compiled(profile);
  const maxNative = nr('x86_64', 'getpid');
  assert.equal(c.run(maxNative - 1), EPERM);
  assert.equal(c.run(maxNative + 1), ENOSYS);
  assert.equal(c.run(435), ENOSYS); // clone3
  assert.equal(c.run(0x3fffffff), ENOSYS);
  assert.equal(c.run(nr('x86', 'getpid') + 1, [], 'x86'), ENOSYS);
  assert.equal(c.run(0xffffffff, [], 'x86'), ENOSYS);
  assert.equal(c.run(nr('x32', 'getpid') + 1), ENOSYS);
  assert.equal(c.run(0xffffffff), ENOSYS);
  assert.equal(c.run(nr('x86_64', 'write')), EPERM, 'below the maximum it is the default action');

  assert.equal(compiled(profile, { enosysForNewSyscalls: false }).run(435), EPERM, 'opt-out');
  assert.equal(compiled({ ...profile, architectures: undefined }).run(435), EPERM, 'runc only patches listed arches');
  assert.equal(compiled({ ...profile, defaultAction: 'SCMP_ACT_LOG' }).run(435), RET_LOG, 'not for permissive defaults');
  assert.equal(compiled({ ...profile, defaultAction: 'SCMP_ACT_KILL_PROCESS' }).run(435), ENOSYS);
  // Names in rules of any action count towards the maximum.
  const withDeny = compiled({
    ...profile,
    syscalls: [...profile.syscalls!, { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
  });
  assert.equal(withDeny.run(400), EPERM);
  assert.equal(withDeny.run(436), ENOSYS);
});

test('flags map to SECCOMP_FILTER_FLAG_* bits', () => {
  const flags = (f: string[]): number => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: f }).flags;
  assert.equal(flags([]), 0);
  assert.equal(flags(['SECCOMP_FILTER_FLAG_TSYNC']), 1);
  assert.equal(flags(['SECCOMP_FILTER_FLAG_LOG']), 2);
  assert.equal(flags(['SECCOMP_FILTER_FLAG_SPEC_ALLOW']), 4);
  assert.equal(flags(['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC']), 7);
  // Meaningful only with a listener (the kernel answers EINVAL without one); berth never has one.
  assert.equal(flags(['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV', 'SECCOMP_FILTER_FLAG_LOG']), 2);
});

// ---- validation ------------------------------------------------------------------------------

function rejects(profile: unknown, pattern: RegExp): void {
  assert.throws(
    () => compileSeccomp(profile as Seccomp),
    (err: unknown) => err instanceof InvalidConfigError && pattern.test(err.message) && !err.message.includes('\n'),
  );
}

test('invalid profiles are rejected with a message naming the offender', () => {
  const rule = (extra: Record<string, unknown>) => ({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', ...extra }],
  });
  const arg = (a: Record<string, unknown>) => rule({ args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 1, ...a }] });
  rejects({ defaultAction: 'SCMP_ACT_NOPE' }, /unknown action "SCMP_ACT_NOPE" in defaultAction/);
  rejects({}, /no defaultAction/);
  rejects(rule({ action: 'SCMP_ACT_BLOCK' }), /unknown action "SCMP_ACT_BLOCK" in syscalls\[0\] \(read\)/);
  rejects(rule({ action: 'SCMP_ACT_NOTIFY' }), /SCMP_ACT_NOTIFY/);
  rejects({ defaultAction: 'SCMP_ACT_NOTIFY' }, /SCMP_ACT_NOTIFY/);
  rejects(arg({ op: 'SCMP_CMP_XX' }), /unknown operator "SCMP_CMP_XX" in syscalls\[0\] \(read\) args\[0\]/);
  rejects(arg({ index: 6 }), /argument index 6/);
  rejects(arg({ index: -1 }), /argument index -1/);
  rejects(arg({ value: -1 }), /value of .* -1 is not an unsigned 64-bit integer/);
  rejects(arg({ value: 1.5 }), /not an unsigned 64-bit integer/);
  rejects(arg({ value: '7' }), /not an unsigned 64-bit integer/);
  rejects(rule({ errnoRet: 70000 }), /errnoRet 70000/);
  rejects({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ERRNO' }] }, /syscalls\[0\] needs "names"/);
  rejects({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_VAX'] }, /unknown architecture "SCMP_ARCH_VAX"/);
  rejects({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_BOGUS'] }, /unknown flag "SECCOMP_FILTER_FLAG_BOGUS"/);
});

// ---- layout ----------------------------------------------------------------------------------

test('long programs route far branches through JA and keep every jump in range', () => {
  // 340 syscalls, each decided by a 64-bit test of arg0: far more than 255 instructions between
  // the first tree nodes and the subtrees they branch to.
  const all = Object.keys(SYSCALLS_X86_64).slice(0, 340);
  const c = compiled({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: all.map((n, i) => ({
      names: [n],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: (i % 200) + 2,
      args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 2 ** 33 + i }],
    })),
  });
  verify(c.filter);
  assert.ok(c.insns > 1000, `expected a long program, got ${c.insns}`);
  const prog = c.filter;
  let ja = 0;
  for (let o = 0; o < prog.length; o += 8) if (prog.readUInt16LE(o) === 0x05) ja++;
  assert.ok(ja > 0, 'some branches need a JA');
  all.forEach((n, i) => {
    assert.equal(c.run(n, [2 ** 33 + i]), errno((i % 200) + 2), n);
    assert.equal(c.run(n, [i]), EPERM, n);
  });
});

test('a profile that cannot fit in BPF_MAXINSNS is refused', () => {
  const args = [0, 1, 2, 3, 4, 5].map((index) => ({ index, op: 'SCMP_CMP_GE' as const, value: 2 ** 40 }));
  rejects(
    {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: Array.from({ length: 200 }, (_, i) => ({ names: ['ioctl'], action: 'SCMP_ACT_ERRNO', errnoRet: i + 2, args })),
    },
    /more than the kernel limit of 4096/,
  );
});
