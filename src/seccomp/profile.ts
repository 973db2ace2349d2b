/**
 * Validation and normalization of an OCI `linux.seccomp` section into the plain rules the code
 * generator works from. Every rejection is an InvalidConfigError whose message names the offender,
 * because a profile is user input and "invalid seccomp profile" alone helps nobody.
 */
import { InvalidConfigError } from '../common/errors.ts';
import type { Seccomp, SeccompArg, SeccompOperator } from '../oci/runtime-spec.ts';
import {
  ENOSYS,
  EPERM,
  SECCOMP_FILTER_FLAGS,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_DATA,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD,
  SECCOMP_RET_LOG,
  SECCOMP_RET_TRACE,
  SECCOMP_RET_TRAP,
} from './constants.ts';

/** The x86 ABIs an x86_64 kernel can run, i.e. the ones a filter for it has to tell apart. */
export type X86Abi = 'x86_64' | 'x86' | 'x32';

/** One argument comparison with its operands as exact u64 values (JSON numbers are not). */
export interface Condition {
  index: number;
  op: SeccompOperator;
  /** For MASKED_EQ the mask; otherwise the operand. */
  value: bigint;
  /** For MASKED_EQ the expected masked value; unused otherwise. */
  valueTwo: bigint;
}

/** One rule after normalization: all `conds` must hold (AND); rules are tried in order. */
export interface Rule {
  names: readonly string[];
  ret: number;
  conds: Condition[];
}

/** A validated profile reduced to what the code generator needs: return values, ABIs, ordered rules. */
export interface NormalizedProfile {
  defaultRet: number;
  /** ALLOW, LOG and TRACE let unknown syscalls through, so no -ENOSYS answer is needed for them. */
  defaultIsPermissive: boolean;
  /** ABIs the filter accepts: the native x86_64 plus those listed. */
  abis: Set<X86Abi>;
  /** ABIs named in `architectures` (runc's -ENOSYS stub only covers these). */
  listedAbis: Set<X86Abi>;
  flags: number;
  rules: Rule[];
}

const X86_ARCHES: Record<string, X86Abi> = {
  SCMP_ARCH_X86_64: 'x86_64',
  SCMP_ARCH_X86: 'x86',
  SCMP_ARCH_X32: 'x32',
};

/**
 * Architectures an OCI profile may list that an x86_64 kernel never reports: accepted (a profile is
 * often written for many platforms) and ignored, since no syscall can arrive with their AUDIT_ARCH.
 */
const FOREIGN_ARCHES = new Set([
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_LOONGARCH64',
  'SCMP_ARCH_M68K',
  'SCMP_ARCH_SH',
  'SCMP_ARCH_SHEB',
]);

const OPERATORS = new Set<string>([
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
]);

const U64_MAX = (1n << 64n) - 1n;

/**
 * The SECCOMP_RET_* value of an OCI action, as runc maps them: KILL is KILL_THREAD, ERRNO and TRACE
 * carry errnoRet (default EPERM) in their data bits. NOTIFY needs a listener fd handed to an agent,
 * which berth does not have, so it is refused rather than silently turned into something else.
 */
export function actionToRet(action: unknown, errnoRet: unknown, where: string): number {
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return SECCOMP_RET_KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return SECCOMP_RET_KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return SECCOMP_RET_TRAP;
    case 'SCMP_ACT_ERRNO':
      return (SECCOMP_RET_ERRNO | errnoData(errnoRet, where)) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (SECCOMP_RET_TRACE | errnoData(errnoRet, where)) >>> 0;
    case 'SCMP_ACT_LOG':
      return SECCOMP_RET_LOG;
    case 'SCMP_ACT_ALLOW':
      return SECCOMP_RET_ALLOW;
    case 'SCMP_ACT_NOTIFY':
      throw new InvalidConfigError(
        `seccomp: ${where} uses SCMP_ACT_NOTIFY, which berth does not support (it needs a seccomp agent)`,
      );
    default:
      throw new InvalidConfigError(`seccomp: unknown action ${JSON.stringify(action)} in ${where}`);
  }
}

function errnoData(errnoRet: unknown, where: string): number {
  if (errnoRet === undefined || errnoRet === null) return EPERM;
  if (typeof errnoRet !== 'number' || !Number.isInteger(errnoRet) || errnoRet < 0 || errnoRet > SECCOMP_RET_DATA) {
    throw new InvalidConfigError(`seccomp: errnoRet ${JSON.stringify(errnoRet)} in ${where} is not an integer in 0..65535`);
  }
  return errnoRet;
}

/**
 * A u64 operand. JSON numbers above 2^53 are not exact in JavaScript; the one such value profiles
 * really use, 2^64-1 (all bits set), parses to exactly 2^64 and is mapped back. Bigints are accepted
 * too, for callers that build profiles in code.
 */
function toU64(v: unknown, what: string): bigint {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isInteger(v)) b = v === 2 ** 64 ? U64_MAX : BigInt(v);
  else throw new InvalidConfigError(`seccomp: ${what} ${JSON.stringify(v)} is not an unsigned 64-bit integer`);
  if (b < 0n || b > U64_MAX) {
    throw new InvalidConfigError(`seccomp: ${what} ${String(v)} is not an unsigned 64-bit integer`);
  }
  return b;
}

function conditionOf(arg: SeccompArg, where: string): Condition {
  if (typeof arg !== 'object' || arg === null) throw new InvalidConfigError(`seccomp: ${where} is not an object`);
  const { index, op } = arg as { index: unknown; op: unknown };
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 5) {
    throw new InvalidConfigError(`seccomp: ${where} has argument index ${JSON.stringify(index)}, syscalls have arguments 0..5`);
  }
  if (typeof op !== 'string' || !OPERATORS.has(op)) {
    throw new InvalidConfigError(`seccomp: unknown operator ${JSON.stringify(op)} in ${where}`);
  }
  return {
    index,
    op: op as SeccompOperator,
    value: toU64(arg.value, `value of ${where}`),
    valueTwo: arg.valueTwo === undefined || arg.valueTwo === null ? 0n : toU64(arg.valueTwo, `valueTwo of ${where}`),
  };
}

/**
 * The conditions of one OCI rule as a list of AND-groups tried one after the other.
 *
 * Same-argument question, decided as runc does (libcontainer/seccomp/seccomp_linux.go, matchCall):
 * libseccomp cannot AND two comparisons on the same argument, so when *any* argument index appears
 * more than once in a rule, runc falls back to its old behaviour and adds *every* condition of that
 * rule as a rule of its own — the conditions become an OR, including those on other indexes. When all
 * indexes are distinct, the conditions are ANDed. berth reproduces exactly that, so a profile means
 * the same thing under berth and under runc/Docker.
 */
export function conditionGroups(args: readonly SeccompArg[], where: string): Condition[][] {
  const conds = args.map((a, i) => conditionOf(a, `${where} args[${i}]`));
  const indexes = new Set(conds.map((c) => c.index));
  const repeated = indexes.size !== conds.length;
  return repeated ? conds.map((c) => [c]) : [conds];
}

/** Validates `profile` (throwing InvalidConfigError on the first problem) and normalizes it. */
export function normalizeProfile(profile: Seccomp): NormalizedProfile {
  if (typeof profile !== 'object' || profile === null) throw new InvalidConfigError('seccomp: profile is not an object');
  if (profile.defaultAction === undefined) throw new InvalidConfigError('seccomp: profile has no defaultAction');
  const defaultRet = actionToRet(profile.defaultAction, profile.defaultErrnoRet, 'defaultAction');
  const defaultIsPermissive = ['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'].includes(profile.defaultAction);

  const listedAbis = new Set<X86Abi>();
  for (const arch of profile.architectures ?? []) {
    const abi = Object.hasOwn(X86_ARCHES, arch) ? X86_ARCHES[arch] : undefined;
    if (abi) listedAbis.add(abi);
    else if (!FOREIGN_ARCHES.has(arch)) throw new InvalidConfigError(`seccomp: unknown architecture ${JSON.stringify(arch)}`);
  }

  // The native ABI is always part of a filter (libseccomp adds it implicitly).
  const abis = new Set<X86Abi>(['x86_64', ...listedAbis]);

  let flags = 0;
  for (const name of profile.flags ?? []) {
    const bit = Object.hasOwn(SECCOMP_FILTER_FLAGS, name) ? SECCOMP_FILTER_FLAGS[name] : undefined;
    if (bit === undefined) throw new InvalidConfigError(`seccomp: unknown flag ${JSON.stringify(name)}`);
    // WAIT_KILLABLE_RECV only modifies how a *listener* receives notifications and the kernel rejects
    // it (EINVAL) without SECCOMP_FILTER_FLAG_NEW_LISTENER. berth never creates a listener (NOTIFY is
    // refused above), so the flag is accepted and has nothing to act on: it is left out.
    if (bit === SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) continue;
    flags |= bit;
  }

  const rules: Rule[] = [];
  (profile.syscalls ?? []).forEach((sc, i) => {
    const where = `syscalls[${i}]`;
    if (typeof sc !== 'object' || sc === null) throw new InvalidConfigError(`seccomp: ${where} is not an object`);
    if (!Array.isArray(sc.names) || sc.names.some((n) => typeof n !== 'string' || n === '')) {
      throw new InvalidConfigError(`seccomp: ${where} needs "names", a list of syscall names`);
    }
    const label = `${where} (${sc.names.slice(0, 3).join(', ')}${sc.names.length > 3 ? ', ...' : ''})`;
    const ret = actionToRet(sc.action, sc.errnoRet, label);
    if (sc.args !== undefined && sc.args !== null && !Array.isArray(sc.args)) {
      throw new InvalidConfigError(`seccomp: "args" of ${label} is not a list`);
    }
    for (const conds of conditionGroups(sc.args ?? [], label)) rules.push({ names: sc.names, ret, conds });
  });

  return { defaultRet, defaultIsPermissive, abis, listedAbis, flags, rules };
}

/** ERRNO(ENOSYS): what runc answers for syscalls newer than every syscall its profile mentions. */
export const RET_ENOSYS = (SECCOMP_RET_ERRNO | ENOSYS) >>> 0;
