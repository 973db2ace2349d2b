/**
 * A tiny classic-BPF assembler for seccomp programs.
 *
 * Why an assembler rather than emitting numbers directly: conditional jumps in classic BPF carry
 * 8-bit offsets (at most 255 instructions forward), while the programs we generate can be far longer.
 * Code is written against symbolic labels; `assemble()` lays it out and, wherever a conditional jump
 * would be too long, routes that branch through an unconditional `JA` (32-bit offset) placed right
 * after the jump. The layout is recomputed until it is stable, so no caller has to count instructions.
 */
import { BPF_MAXINSNS } from './constants.ts';
import { InvalidConfigError } from '../common/errors.ts';

/** Opcodes (linux/bpf_common.h) of the few instructions a seccomp filter needs. */
export const BPF_LD_W_ABS = 0x20;
export const BPF_ALU_AND_K = 0x54;
export const BPF_JMP_JA = 0x05;
export const BPF_JMP_JEQ_K = 0x15;
export const BPF_JMP_JGT_K = 0x25;
export const BPF_JMP_JGE_K = 0x35;
export const BPF_JMP_JSET_K = 0x45;
export const BPF_RET_K = 0x06;

/** Size in bytes of one struct sock_filter. */
export const SOCK_FILTER_SIZE = 8;

export type JumpCond = 'jeq' | 'jgt' | 'jge' | 'jset';

const condOpcode: Record<JumpCond, number> = {
  jeq: BPF_JMP_JEQ_K,
  jgt: BPF_JMP_JGT_K,
  jge: BPF_JMP_JGE_K,
  jset: BPF_JMP_JSET_K,
};

/** An opaque jump target; bind it where the code it names begins. */
export interface Label {
  readonly id: number;
}

/** A jump target: a label, or `null` for "the next instruction" (fall through). */
export type Target = Label | null;

type Item =
  | { kind: 'plain'; code: number; k: number }
  | { kind: 'cond'; code: number; k: number; jt: Target; jf: Target; farT: boolean; farF: boolean }
  | { kind: 'ja'; target: Label }
  | { kind: 'bind'; label: Label };

/** One encoded instruction, as the kernel sees it. */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Collects instructions against labels; `assemble()` resolves them into a loadable program. */
export class Assembler {
  #items: Item[] = [];
  #nextLabel = 0;
  #bound = new Set<number>();

  label(): Label {
    return { id: this.#nextLabel++ };
  }

  /** Marks the position of the next emitted instruction as `label`. */
  bind(label: Label): void {
    if (this.#bound.has(label.id)) throw new Error(`bpf: label ${label.id} bound twice`);
    this.#bound.add(label.id);
    this.#items.push({ kind: 'bind', label });
  }

  /** A = 32-bit word of seccomp_data at `offset`. */
  load(offset: number): void {
    this.#items.push({ kind: 'plain', code: BPF_LD_W_ABS, k: offset });
  }

  /** A &= k. */
  and(k: number): void {
    this.#items.push({ kind: 'plain', code: BPF_ALU_AND_K, k: k >>> 0 });
  }

  ret(k: number): void {
    this.#items.push({ kind: 'plain', code: BPF_RET_K, k: k >>> 0 });
  }

  /** if (A <cond> k) goto jt else goto jf — unsigned comparisons. */
  jump(cond: JumpCond, k: number, jt: Target, jf: Target): void {
    this.#items.push({ kind: 'cond', code: condOpcode[cond], k: k >>> 0, jt, jf, farT: false, farF: false });
  }

  /** Unconditional jump (any distance forward). */
  ja(target: Label): void {
    this.#items.push({ kind: 'ja', target });
  }

  /** Lays out the program, expanding long conditional jumps, and encodes it. */
  assemble(): SockFilter[] {
    let positions = this.#layout();
    for (;;) {
      let changed = false;
      for (const [idx, item] of this.#items.entries()) {
        if (item.kind !== 'cond') continue;
        const pc = positions.pcOf[idx]!;
        if (!item.farT && distance(positions, pc, item.jt) > 255) {
          item.farT = true;
          changed = true;
        }
        if (!item.farF && distance(positions, pc, item.jf) > 255) {
          item.farF = true;
          changed = true;
        }
      }
      if (!changed) break;
      positions = this.#layout();
    }

    const out: SockFilter[] = [];
    for (const [idx, item] of this.#items.entries()) {
      const pc = positions.pcOf[idx]!;
      switch (item.kind) {
        case 'bind':
          break;
        case 'plain':
          out.push({ code: item.code, jt: 0, jf: 0, k: item.k });
          break;
        case 'ja':
          out.push({ code: BPF_JMP_JA, jt: 0, jf: 0, k: distance(positions, pc, item.target) });
          break;
        case 'cond': {
          // Trampolines follow the jump in the order: JA(true target), JA(false target); a
          // fall-through branch must then skip them.
          const tramps = (item.farT ? 1 : 0) + (item.farF ? 1 : 0);
          const near = (t: Target): number => (t === null ? tramps : distance(positions, pc, t));
          const jt = item.farT ? 0 : near(item.jt);
          const jf = item.farF ? (item.farT ? 1 : 0) : near(item.jf);
          if (jt > 255 || jf > 255) throw new Error(`bpf: jump offset out of range at ${pc}`);
          out.push({ code: item.code, jt, jf, k: item.k });
          let tramp = pc + 1;
          if (item.farT) out.push({ code: BPF_JMP_JA, jt: 0, jf: 0, k: distance(positions, tramp++, item.jt) });
          if (item.farF) out.push({ code: BPF_JMP_JA, jt: 0, jf: 0, k: distance(positions, tramp, item.jf) });
          break;
        }
      }
    }
    if (out.length === 0 || out[out.length - 1]!.code !== BPF_RET_K) {
      throw new Error('bpf: program must end with a return');
    }
    if (out.length > BPF_MAXINSNS) {
      throw new InvalidConfigError(
        `seccomp profile compiles to ${out.length} BPF instructions, more than the kernel limit of ${BPF_MAXINSNS}`,
      );
    }
    return out;
  }

  #layout(): { pcOf: number[]; labelPc: Map<number, number> } {
    const pcOf: number[] = [];
    const labelPc = new Map<number, number>();
    let pc = 0;
    for (const item of this.#items) {
      pcOf.push(pc);
      if (item.kind === 'bind') labelPc.set(item.label.id, pc);
      else if (item.kind === 'cond') pc += 1 + (item.farT ? 1 : 0) + (item.farF ? 1 : 0);
      else pc += 1;
    }
    return { pcOf, labelPc };
  }
}

/** Offset from the instruction at `pc` to `target` (0 = the next instruction). */
function distance(positions: { labelPc: Map<number, number> }, pc: number, target: Target): number {
  if (target === null) return 0;
  const at = positions.labelPc.get(target.id);
  if (at === undefined) throw new Error(`bpf: label ${target.id} never bound`);
  const off = at - pc - 1;
  if (off < 0) throw new Error(`bpf: backward jump from ${pc} to ${at}`);
  return off;
}

/** Serializes instructions as the struct sock_filter array seccomp(2) expects (little-endian x86). */
export function encode(program: readonly SockFilter[]): Buffer {
  const buf = Buffer.alloc(program.length * SOCK_FILTER_SIZE);
  program.forEach((insn, i) => {
    const o = i * SOCK_FILTER_SIZE;
    buf.writeUInt16LE(insn.code, o);
    buf.writeUInt8(insn.jt, o + 2);
    buf.writeUInt8(insn.jf, o + 3);
    buf.writeUInt32LE(insn.k >>> 0, o + 4);
  });
  return buf;
}
