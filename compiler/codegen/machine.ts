// Machine instructions before register allocation and linking: BPF slots whose registers may be
// virtual (numbered from VBASE), whose jumps name blocks, and whose stack references name frame
// objects. Takes nothing; gives the types and each instruction's register uses and definitions.

import { AluOp, Class, JmpOp, Mode, Source } from "../isa/opcodes.js";
import { type Insn } from "../isa/insn.js";
import type { CoreAccess, Loc } from "../ir/index.js";

/** Register numbers at or above VBASE are virtual: VBASE + the IR vreg id. */
export const VBASE = 16;
export const isVirtual = (r: number): boolean => r >= VBASE;

export interface MInsn extends Insn {
  /** Upper 32 bits of an LDDW's immediate (the second slot). */
  hi?: number;
  /** Jump target: a block id, turned into `off` when linking. */
  target?: number;
  /** Argument registers (r1..rN) a helper call reads. */
  args?: number;
  /** An LDDW of a `.rodata` or `.bss` address; imm holds the offset into the section. */
  reloc?: ".rodata" | ".bss";
  /** An LDDW of a map's address (src = BPF_PSEUDO_MAP_FD), relocated against the map's symbol. */
  map?: string;
  /** The imm of this add is a struct member offset that gets a CO-RE relocation. */
  core?: CoreAccess;
  /** `off` (loads, stores) or `imm` (add) is relative to this frame object; resolved by frame layout. */
  frame?: number;
  loc?: Loc;
}

export interface MBlock {
  readonly id: number;
  readonly insns: MInsn[];
}

const CALL_CLOBBERS = [0, 1, 2, 3, 4, 5];

/** Registers an instruction reads and writes (r10 included: callers ignore what they do not track). */
export function usesDefs(m: MInsn): { uses: number[]; defs: number[] } {
  const cls = m.code & 0x07;
  const x = (m.code & 0x08) === Source.X;
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      const op = m.code & 0xf0;
      if (op === AluOp.MOV) return { uses: x ? [m.src] : [], defs: [m.dst] };
      if (op === AluOp.NEG || op === AluOp.END) return { uses: [m.dst], defs: [m.dst] };
      return { uses: x ? [m.dst, m.src] : [m.dst], defs: [m.dst] };
    }
    case Class.LD:
      return { uses: [], defs: [m.dst] };
    case Class.LDX:
      return { uses: [m.src], defs: [m.dst] };
    case Class.ST:
      return { uses: [m.dst], defs: [] };
    case Class.STX:
      return (m.code & 0xe0) === Mode.ATOMIC ? { uses: [m.dst, m.src], defs: [m.src] } : { uses: [m.dst, m.src], defs: [] };
    case Class.JMP:
    case Class.JMP32: {
      const op = m.code & 0xf0;
      if (op === JmpOp.CALL) return { uses: Array.from({ length: m.args ?? 5 }, (_, i) => i + 1), defs: CALL_CLOBBERS };
      if (op === JmpOp.EXIT) return { uses: [0], defs: [] };
      if (op === JmpOp.JA) return { uses: [], defs: [] };
      return { uses: x ? [m.dst, m.src] : [m.dst], defs: [] };
    }
  }
  return { uses: [], defs: [] };
}

/** Block ids an instruction may jump to. */
export const jumpTargets = (m: MInsn): number[] => (m.target === undefined ? [] : [m.target]);
