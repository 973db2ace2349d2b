/**
 * A minimal classic-BPF interpreter for seccomp programs — for tests only.
 *
 * It accepts exactly the instruction subset the compiler emits and is strict where the kernel is:
 * every jump must land inside the program, loads must be aligned words of struct seccomp_data, and
 * the program may not run off its end. Anything else throws, so a test fails loudly rather than
 * trusting a program the kernel would refuse.
 */

export interface SyscallData {
  arch: number;
  nr: number;
  args?: readonly (bigint | number)[];
  instructionPointer?: bigint;
}

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const SECCOMP_DATA_SIZE = 64;

export function decode(filter: Buffer): Insn[] {
  if (filter.length % 8 !== 0) throw new Error(`filter length ${filter.length} is not a multiple of 8`);
  const out: Insn[] = [];
  for (let o = 0; o < filter.length; o += 8) {
    const code = filter.readUInt16LE(o);
    out.push({ code, jt: filter.readUInt8(o + 2), jf: filter.readUInt8(o + 3), k: filter.readUInt32LE(o + 4) });
  }
  return out;
}

/** Static checks in the spirit of the kernel's bpf_check_classic + seccomp_check_filter. */
export function verify(filter: Buffer): Insn[] {
  const prog = decode(filter);
  if (prog.length === 0 || prog.length > 4096) throw new Error(`bad program length ${prog.length}`);
  prog.forEach((insn, pc) => {
    switch (insn.code) {
      case 0x20: // ld [k]
        if (insn.k % 4 !== 0 || insn.k >= SECCOMP_DATA_SIZE) throw new Error(`pc ${pc}: bad load offset ${insn.k}`);
        break;
      case 0x54: // and #k
      case 0x06: // ret #k
        break;
      case 0x05: // ja
        if (pc + 1 + insn.k >= prog.length) throw new Error(`pc ${pc}: ja +${insn.k} out of range`);
        break;
      case 0x15:
      case 0x25:
      case 0x35:
      case 0x45:
        if (pc + 1 + insn.jt >= prog.length || pc + 1 + insn.jf >= prog.length) {
          throw new Error(`pc ${pc}: conditional jump (+${insn.jt}, +${insn.jf}) out of range`);
        }
        break;
      default:
        throw new Error(`pc ${pc}: unsupported opcode 0x${insn.code.toString(16)}`);
    }
  });
  if (prog[prog.length - 1]!.code !== 0x06) throw new Error('program does not end with ret');
  return prog;
}

function seccompData(d: SyscallData): Buffer {
  const buf = Buffer.alloc(SECCOMP_DATA_SIZE);
  buf.writeUInt32LE(d.nr >>> 0, 0);
  buf.writeUInt32LE(d.arch >>> 0, 4);
  buf.writeBigUInt64LE(d.instructionPointer ?? 0n, 8);
  (d.args ?? []).forEach((a, i) => buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a)), 16 + 8 * i));
  return buf;
}

/** Runs the program on one syscall and returns the filter's 32-bit verdict. */
export function runFilter(filter: Buffer, d: SyscallData): number {
  const prog = verify(filter);
  const data = seccompData(d);
  let a = 0;
  let pc = 0;
  for (let steps = 0; steps <= prog.length; steps++) {
    const insn = prog[pc];
    if (!insn) throw new Error(`pc ${pc} ran off the end of the program`);
    let next = pc + 1;
    switch (insn.code) {
      case 0x20:
        a = data.readUInt32LE(insn.k);
        break;
      case 0x54:
        a = (a & insn.k) >>> 0;
        break;
      case 0x06:
        return insn.k >>> 0;
      case 0x05:
        next = pc + 1 + insn.k;
        break;
      default: {
        const k = insn.k >>> 0;
        const taken =
          insn.code === 0x15 ? a === k : insn.code === 0x25 ? a > k : insn.code === 0x35 ? a >= k : (a & k) !== 0;
        next = pc + 1 + (taken ? insn.jt : insn.jf);
      }
    }
    if (next >= prog.length) throw new Error(`pc ${pc}: jump to ${next} is out of bounds`);
    pc = next;
  }
  throw new Error('program did not terminate');
}
