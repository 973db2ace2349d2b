/**
 * The cgroup v2 device controller is an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) that the
 * kernel runs on every open/mknod of a device node: return 1 to allow, 0 to deny. This module
 * is the pure generator; src/sys/bpf.ts loads and attaches the bytes.
 *
 * Semantics: each access bit (m, r, w) the request carries is judged on its own by the LAST rule
 * that matches the device and includes that bit; no such rule means deny. A request is allowed
 * only if every requested bit is. This is "last match wins" as written in config.json, and it
 * also gets partial rules right (an allow "rwm" followed by a deny "w" still denies O_RDWR).
 */
import { normalizeDeviceRules, type DeviceRule } from './devices.ts';
import { InvalidConfigError } from '../common/errors.ts';
import type { DeviceCgroupRule } from '../oci/runtime-spec.ts';

/** struct bpf_cgroup_dev_ctx is { u32 access_type = (access << 16) | type; u32 major; u32 minor; }. */
export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;
export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;

/** Opcodes used by the generator (and nothing else, so the test interpreter stays small). */
export const OP = {
  LDXW: 0x61, // r_dst = *(u32 *)(r_src + off)
  AND32_IMM: 0x54,
  RSH32_IMM: 0x74,
  MOV32_REG: 0xbc,
  MOV32_IMM: 0xb4,
  JEQ_IMM: 0x15,
  JNE_IMM: 0x55,
  JA: 0x05,
  EXIT: 0x95,
} as const;

interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  /** Jump target label, resolved to `off` at the end. */
  to?: string;
}

class Assembler {
  readonly insns: Insn[] = [];
  readonly labels = new Map<string, number>();
  emit(code: number, dst: number, src: number, off: number, imm: number, to?: string): void {
    this.insns.push(to === undefined ? { code, dst, src, off, imm } : { code, dst, src, off, imm, to });
  }
  label(name: string): void {
    this.labels.set(name, this.insns.length);
  }
  bytes(): Uint8Array {
    const buf = new Uint8Array(this.insns.length * 8);
    const view = new DataView(buf.buffer);
    this.insns.forEach((ins, i) => {
      let off = ins.off;
      if (ins.to !== undefined) {
        const target = this.labels.get(ins.to);
        if (target === undefined) throw new Error(`internal: unknown label ${ins.to}`);
        off = target - (i + 1);
        if (off < 0 || off > 0x7fff) throw new InvalidConfigError('too many device rules for one eBPF program');
      }
      view.setUint8(i * 8, ins.code);
      view.setUint8(i * 8 + 1, (ins.src << 4) | ins.dst);
      view.setInt16(i * 8 + 2, off, true);
      view.setInt32(i * 8 + 4, ins.imm, true);
    });
    return buf;
  }
}

const BITS: [string, number][] = [
  ['m', BPF_DEVCG_ACC_MKNOD],
  ['r', BPF_DEVCG_ACC_READ],
  ['w', BPF_DEVCG_ACC_WRITE],
];

/** Registers: r2 = type, r3 = access, r4 = major, r5 = minor, r1 = scratch, r0 = verdict. */
function section(a: Assembler, rules: DeviceRule[], bit: string, mask: number, next: string): void {
  a.emit(OP.MOV32_REG, 1, 3, 0, 0);
  a.emit(OP.AND32_IMM, 1, 0, 0, mask);
  a.emit(OP.JEQ_IMM, 1, 0, 0, 0, next); // this bit is not requested
  const relevant = rules.filter((r) => r.access.includes(bit)).reverse();
  let n = 0;
  for (const r of relevant) {
    const skip = `${next}.r${n++}`;
    let conditional = false;
    if (r.type !== 'a') {
      a.emit(OP.JNE_IMM, 2, 0, 0, r.type === 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, skip);
      conditional = true;
    }
    if (r.major >= 0) {
      a.emit(OP.JNE_IMM, 4, 0, 0, r.major, skip);
      conditional = true;
    }
    if (r.minor >= 0) {
      a.emit(OP.JNE_IMM, 5, 0, 0, r.minor, skip);
      conditional = true;
    }
    if (r.allow) {
      a.emit(OP.JA, 0, 0, 0, 0, next);
    } else {
      a.emit(OP.MOV32_IMM, 0, 0, 0, 0);
      a.emit(OP.EXIT, 0, 0, 0, 0);
    }
    // An unconditional rule hides every earlier one; emitting them would leave unreachable
    // instructions, which the verifier rejects.
    if (!conditional) return;
    a.label(skip);
  }
  a.emit(OP.MOV32_IMM, 0, 0, 0, 0); // no rule for this bit: deny
  a.emit(OP.EXIT, 0, 0, 0, 0);
}

/** The program's instructions (8 bytes each, little-endian) for the given OCI device rules. */
export function deviceFilterProgram(rules: DeviceCgroupRule[]): Uint8Array {
  const clean = normalizeDeviceRules(rules);
  const a = new Assembler();
  a.emit(OP.LDXW, 2, 1, 0, 0);
  a.emit(OP.AND32_IMM, 2, 0, 0, 0xffff);
  a.emit(OP.LDXW, 3, 1, 0, 0);
  a.emit(OP.RSH32_IMM, 3, 0, 0, 16);
  a.emit(OP.LDXW, 4, 1, 4, 0);
  a.emit(OP.LDXW, 5, 1, 8, 0);
  BITS.forEach(([bit, mask], i) => {
    section(a, clean, bit, mask, `bit${i + 1}`);
    a.label(`bit${i + 1}`);
  });
  a.emit(OP.MOV32_IMM, 0, 0, 0, 1);
  a.emit(OP.EXIT, 0, 0, 0, 0);
  return a.bytes();
}
