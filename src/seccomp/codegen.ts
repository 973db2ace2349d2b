/**
 * Code generation: normalized rules -> a classic BPF program.
 *
 * Program shape (the same decisions libseccomp + runc make, laid out our own way):
 *
 *   A = arch
 *   arch == X86_64 ? -> x86_64 section
 *   arch == I386   ? -> i386 section            (only if SCMP_ARCH_X86 is listed)
 *   return KILL_THREAD                          ("bad arch" action, libseccomp's default)
 *   x86_64 section: A = nr; nr >= X32 bit ? -> x32 section : x86_64 tree
 *   x32 section:    x32 tree if SCMP_ARCH_X32 is listed, else return KILL_THREAD
 *   i386 section:   A = nr; i386 tree
 *
 * Each tree is a balanced binary search (JGE on interval bounds) over the syscall-number line cut
 * into intervals of equal outcome, so adjacent syscalls with the same action cost nothing extra and
 * any syscall is decided after ~log2(intervals) comparisons instead of a linear scan. A leaf is
 * either a single return or, for a syscall with argument conditions, a block that tries its rules in
 * profile order (first match wins) and ends in the default action.
 */
import { Assembler, type Label, type SockFilter } from './bpf.ts';
import {
  AUDIT_ARCH_I386,
  AUDIT_ARCH_X86_64,
  SECCOMP_DATA_ARCH,
  SECCOMP_DATA_NR,
  SECCOMP_RET_KILL_THREAD,
  argHighOffset,
  argLowOffset,
} from './constants.ts';
import { RET_ENOSYS, type Condition, type NormalizedProfile, type Rule, type X86Abi } from './profile.ts';
import { SYSCALLS_I386, SYSCALLS_X32, SYSCALLS_X86_64, X32_SYSCALL_BIT } from './syscalls-x86.ts';

/** What the filter answers for syscalls of an architecture the profile does not list. */
export const RET_BAD_ARCH = SECCOMP_RET_KILL_THREAD;

interface AbiInfo {
  table: Readonly<Record<string, number>>;
  /** Added to table numbers to get seccomp_data.nr. */
  nrBase: number;
  /** Range of seccomp_data.nr this ABI's tree decides. */
  lo: number;
  hi: number;
  /** i386 syscalls take 32-bit arguments: only the low word is compared (as libseccomp does). */
  args32: boolean;
}

const ABIS: Record<X86Abi, AbiInfo> = {
  x86_64: { table: SYSCALLS_X86_64, nrBase: 0, lo: 0, hi: X32_SYSCALL_BIT - 1, args32: false },
  // x32 processes run in 64-bit mode with full 64-bit registers, so unlike libseccomp (which treats
  // x32 as a 32-bit ABI) we compare all 64 bits of their arguments: a value with high bits set must
  // not pass for a small one.
  x32: { table: SYSCALLS_X32, nrBase: X32_SYSCALL_BIT, lo: X32_SYSCALL_BIT, hi: 0xffffffff, args32: false },
  x86: { table: SYSCALLS_I386, nrBase: 0, lo: 0, hi: 0xffffffff, args32: true },
};

type Outcome = { kind: 'ret'; ret: number } | { kind: 'block'; rules: Rule[] };

interface Interval {
  lo: number;
  hi: number;
  outcome: Outcome;
}

export interface CodegenOptions {
  /** Answer ERRNO(ENOSYS) for syscall numbers above every syscall the profile names (runc's patch). */
  enosys: boolean;
}

/** The whole filter for a normalized profile (see the module doc for its shape). */
export function generateProgram(p: NormalizedProfile, opts: CodegenOptions): SockFilter[] {
  const asm = new Assembler();
  const x86_64 = asm.label();
  const i386 = p.abis.has('x86') ? asm.label() : undefined;

  asm.load(SECCOMP_DATA_ARCH);
  asm.jump('jeq', AUDIT_ARCH_X86_64, x86_64, null);
  if (i386) asm.jump('jeq', AUDIT_ARCH_I386, i386, null);
  asm.ret(RET_BAD_ARCH);

  asm.bind(x86_64);
  const x32 = asm.label();
  asm.load(SECCOMP_DATA_NR);
  asm.jump('jge', X32_SYSCALL_BIT, x32, null);
  emitTree(asm, intervalsFor(p, 'x86_64', opts), p.defaultRet, ABIS.x86_64.args32);
  asm.bind(x32);
  // On the x86_64 arch, numbers with the x32 bit are x32 syscalls: libseccomp treats them as a
  // different architecture, so without SCMP_ARCH_X32 they get the bad-arch action.
  if (p.abis.has('x32')) emitTree(asm, intervalsFor(p, 'x32', opts), p.defaultRet, ABIS.x32.args32);
  else asm.ret(RET_BAD_ARCH);

  if (i386) {
    asm.bind(i386);
    asm.load(SECCOMP_DATA_NR);
    emitTree(asm, intervalsFor(p, 'x86', opts), p.defaultRet, ABIS.x86.args32);
  }
  return asm.assemble();
}

/** Cuts [abi.lo, abi.hi] into intervals of equal outcome. */
function intervalsFor(p: NormalizedProfile, abi: X86Abi, opts: CodegenOptions): Interval[] {
  const info = ABIS[abi];
  const byNr = new Map<number, Rule[]>();
  let maxNr = -1;
  for (const rule of p.rules) {
    for (const name of rule.names) {
      if (!Object.hasOwn(info.table, name)) continue; // not a syscall of this ABI: skipped, as runc does
      const nr = info.table[name]! + info.nrBase;
      maxNr = Math.max(maxNr, nr);
      const list = byNr.get(nr) ?? [];
      if (list[list.length - 1] !== rule) list.push(rule);
      byNr.set(nr, list);
    }
  }

  const def: Outcome = { kind: 'ret', ret: p.defaultRet };
  // runc prepends a stub answering -ENOSYS for numbers above the largest syscall the profile names,
  // for each architecture listed in the profile, unless the default action lets syscalls through.
  // Why it matters: glibc falls back to older syscalls on ENOSYS (clone3 -> clone, ...), not on EPERM.
  const enosys = opts.enosys && !p.defaultIsPermissive && p.listedAbis.has(abi) && maxNr >= 0;

  const out: Interval[] = [];
  const push = (lo: number, hi: number, outcome: Outcome): void => {
    const last = out[out.length - 1];
    const sameRet = last?.outcome.kind === 'ret' && outcome.kind === 'ret' && last.outcome.ret === outcome.ret;
    if (last && sameRet && last.hi + 1 === lo) {
      last.hi = hi;
    } else {
      out.push({ lo, hi, outcome });
    }
  };
  let next = info.lo;
  for (const nr of [...byNr.keys()].sort((a, b) => a - b)) {
    if (nr > next) push(next, nr - 1, def);
    push(nr, nr, outcomeOf(byNr.get(nr)!, p.defaultRet));
    next = nr + 1;
  }
  const beyond: Outcome = enosys ? { kind: 'ret', ret: RET_ENOSYS } : def;
  if (next <= info.hi) push(next, info.hi, beyond);
  return out;
}

/**
 * The outcome of one syscall from its rules in profile order. Rules after the first unconditional one
 * can never be reached; trailing rules whose action is the default change nothing. (runc skips every
 * rule whose action equals the default because libseccomp refuses them; with ordered rules such a
 * rule can still shadow a later one, so only the provably redundant trailing ones are dropped.)
 */
function outcomeOf(rules: Rule[], defaultRet: number): Outcome {
  const firstUnconditional = rules.findIndex((r) => r.conds.length === 0);
  const live = firstUnconditional === -1 ? [...rules] : rules.slice(0, firstUnconditional + 1);
  while (live.length > 0 && live[live.length - 1]!.ret === defaultRet) live.pop();
  if (live.length === 0) return { kind: 'ret', ret: defaultRet };
  if (live[0]!.conds.length === 0) return { kind: 'ret', ret: live[0]!.ret };
  return { kind: 'block', rules: live };
}

/** Binary search over `intervals`; A holds seccomp_data.nr on entry. */
function emitTree(asm: Assembler, intervals: Interval[], defaultRet: number, args32: boolean): void {
  const walk = (a: number, b: number): void => {
    if (a === b) {
      const { outcome } = intervals[a]!;
      if (outcome.kind === 'ret') asm.ret(outcome.ret);
      else emitBlock(asm, outcome.rules, defaultRet, args32);
      return;
    }
    const mid = (a + b + 1) >> 1;
    const upper = asm.label();
    asm.jump('jge', intervals[mid]!.lo, upper, null);
    walk(a, mid - 1);
    asm.bind(upper);
    walk(mid, b);
  };
  walk(0, intervals.length - 1);
}

/** One syscall's conditional rules, tried in order; falls back to the default action. */
function emitBlock(asm: Assembler, rules: Rule[], defaultRet: number, args32: boolean): void {
  for (const rule of rules) {
    const fail = asm.label();
    for (const cond of rule.conds) {
      if (args32) emitCond32(asm, cond, fail);
      else emitCond64(asm, cond, fail);
    }
    asm.ret(rule.ret);
    asm.bind(fail);
  }
  if (rules[rules.length - 1]!.conds.length > 0) asm.ret(defaultRet);
}

const lo32 = (v: bigint): number => Number(v & 0xffffffffn);
const hi32 = (v: bigint): number => Number((v >> 32n) & 0xffffffffn);

/** Falls through when the unsigned 64-bit comparison holds, jumps to `fail` otherwise. */
function emitCond64(asm: Assembler, c: Condition, fail: Label): void {
  const lo = argLowOffset(c.index);
  const hi = argHighOffset(c.index);
  const pass = asm.label();
  const vlo = lo32(c.value);
  const vhi = hi32(c.value);
  switch (c.op) {
    case 'SCMP_CMP_EQ':
      asm.load(hi);
      asm.jump('jeq', vhi, null, fail);
      asm.load(lo);
      asm.jump('jeq', vlo, null, fail);
      break;
    case 'SCMP_CMP_NE':
      asm.load(hi);
      asm.jump('jeq', vhi, null, pass);
      asm.load(lo);
      asm.jump('jeq', vlo, fail, null);
      break;
    case 'SCMP_CMP_GT':
    case 'SCMP_CMP_GE':
      // hi > vhi, or hi == vhi and lo > (>=) vlo
      asm.load(hi);
      asm.jump('jgt', vhi, pass, null);
      asm.jump('jeq', vhi, null, fail);
      asm.load(lo);
      asm.jump(c.op === 'SCMP_CMP_GT' ? 'jgt' : 'jge', vlo, null, fail);
      break;
    case 'SCMP_CMP_LT':
    case 'SCMP_CMP_LE':
      // hi < vhi, or hi == vhi and lo < (<=) vlo
      asm.load(hi);
      asm.jump('jgt', vhi, fail, null);
      asm.jump('jeq', vhi, null, pass);
      asm.load(lo);
      asm.jump(c.op === 'SCMP_CMP_LT' ? 'jge' : 'jgt', vlo, fail, null);
      break;
    case 'SCMP_CMP_MASKED_EQ': {
      // (arg & value) == valueTwo, word by word; a zero high mask with a zero expected high word
      // (the usual flags case) needs no check of the high word at all.
      const mlo = lo32(c.value);
      const mhi = hi32(c.value);
      const dlo = lo32(c.valueTwo);
      const dhi = hi32(c.valueTwo);
      if (mhi !== 0 || dhi !== 0) {
        asm.load(hi);
        if (mhi !== 0xffffffff) asm.and(mhi);
        asm.jump('jeq', dhi, null, fail);
      }
      asm.load(lo);
      if (mlo !== 0xffffffff) asm.and(mlo);
      asm.jump('jeq', dlo, null, fail);
      break;
    }
  }
  asm.bind(pass);
}

/** The i386 variant: arguments are 32-bit, operands are truncated to their low word like libseccomp. */
function emitCond32(asm: Assembler, c: Condition, fail: Label): void {
  const v = lo32(c.value);
  asm.load(argLowOffset(c.index));
  switch (c.op) {
    case 'SCMP_CMP_EQ':
      asm.jump('jeq', v, null, fail);
      break;
    case 'SCMP_CMP_NE':
      asm.jump('jeq', v, fail, null);
      break;
    case 'SCMP_CMP_GT':
      asm.jump('jgt', v, null, fail);
      break;
    case 'SCMP_CMP_GE':
      asm.jump('jge', v, null, fail);
      break;
    case 'SCMP_CMP_LT':
      asm.jump('jge', v, fail, null);
      break;
    case 'SCMP_CMP_LE':
      asm.jump('jgt', v, fail, null);
      break;
    case 'SCMP_CMP_MASKED_EQ':
      if (v !== 0xffffffff) asm.and(v);
      asm.jump('jeq', lo32(c.valueTwo), null, fail);
      break;
  }
}
