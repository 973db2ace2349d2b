/**
 * A tiny eBPF interpreter and static checker for the device-filter programs, covering exactly
 * the instructions the generator emits. The static checker mirrors the verifier rules the
 * generator must respect (forward jumps in range, no unreachable instruction, ends in exit), and
 * the interpreter refuses reads of uninitialised registers on the paths it runs.
 */
const U32 = 0xffffffffn;
const U64 = (1n << 64n) - 1n;

interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

export function decode(prog: Uint8Array): Insn[] {
  if (prog.length % 8 !== 0) throw new Error('program length is not a multiple of 8');
  const v = new DataView(prog.buffer, prog.byteOffset, prog.byteLength);
  const out: Insn[] = [];
  for (let i = 0; i < prog.length; i += 8) {
    const regs = v.getUint8(i + 1);
    out.push({ code: v.getUint8(i), dst: regs & 0xf, src: regs >> 4, off: v.getInt16(i + 2, true), imm: v.getInt32(i + 4, true) });
  }
  return out;
}

const JUMPS = new Set([0x05, 0x15, 0x55]);

/** Throws unless every instruction is reachable, jumps stay inside, and the last one is exit. */
export function checkStructure(prog: Uint8Array): void {
  const insns = decode(prog);
  const seen = new Set<number>();
  const todo = [0];
  while (todo.length) {
    const pc = todo.pop()!;
    if (seen.has(pc)) continue;
    if (pc < 0 || pc >= insns.length) throw new Error(`control flow leaves the program at ${pc}`);
    seen.add(pc);
    const ins = insns[pc]!;
    if (ins.code === 0x95) continue;
    if (JUMPS.has(ins.code)) {
      if (ins.off < 0) throw new Error(`backward jump at ${pc}`);
      todo.push(pc + 1 + ins.off);
      if (ins.code !== 0x05) todo.push(pc + 1);
    } else {
      todo.push(pc + 1);
    }
  }
  for (let i = 0; i < insns.length; i++) if (!seen.has(i)) throw new Error(`unreachable instruction ${i}`);
  if (insns.at(-1)?.code !== 0x95) throw new Error('the last instruction is not exit');
}

export interface DeviceRequest {
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** Any of "rwm". */
  access: string;
}

/** Runs the program on a bpf_cgroup_dev_ctx built from `req`; returns r0 (1 allow, 0 deny). */
export function runDeviceProgram(prog: Uint8Array, req: DeviceRequest): number {
  const insns = decode(prog);
  const access = (req.access.includes('m') ? 1 : 0) | (req.access.includes('r') ? 2 : 0) | (req.access.includes('w') ? 4 : 0);
  const ctx = [(access << 16) | (req.type === 'b' ? 1 : 2), req.major, req.minor].map((n) => BigInt(n >>> 0));
  const CTX = -1n; // r1 holds "the context pointer"
  const regs: (bigint | undefined)[] = new Array(11).fill(undefined);
  regs[1] = CTX;
  const get = (r: number): bigint => {
    const v = regs[r];
    if (v === undefined) throw new Error(`read of uninitialised r${r}`);
    return v;
  };
  const sext = (imm: number): bigint => BigInt.asUintN(64, BigInt(imm));
  for (let pc = 0, steps = 0; steps < 100000; steps++) {
    const ins = insns[pc];
    if (!ins) throw new Error(`pc ${pc} out of range`);
    pc++;
    switch (ins.code) {
      case 0x61: {
        if (get(ins.src) !== CTX || ![0, 4, 8].includes(ins.off)) throw new Error(`bad ctx load at ${pc - 1}`);
        regs[ins.dst] = ctx[ins.off / 4]!;
        break;
      }
      case 0x54:
        regs[ins.dst] = get(ins.dst) & BigInt(ins.imm >>> 0) & U32;
        break;
      case 0x74:
        regs[ins.dst] = (get(ins.dst) & U32) >> BigInt(ins.imm & 31);
        break;
      case 0xbc:
        regs[ins.dst] = get(ins.src) & U32;
        break;
      case 0xb4:
        regs[ins.dst] = BigInt(ins.imm >>> 0);
        break;
      case 0x15:
        if ((get(ins.dst) & U64) === sext(ins.imm)) pc += ins.off;
        break;
      case 0x55:
        if ((get(ins.dst) & U64) !== sext(ins.imm)) pc += ins.off;
        break;
      case 0x05:
        pc += ins.off;
        break;
      case 0x95:
        return Number(get(0));
      default:
        throw new Error(`opcode 0x${ins.code.toString(16)} not supported by the test interpreter`);
    }
  }
  throw new Error('program did not terminate');
}
