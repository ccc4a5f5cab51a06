// Peephole clean-up and linking.
// Takes allocated machine blocks (physical registers, jumps by block id); gives final instruction
// slots with jump offsets, the slots that need a `.rodata` relocation, and each slot's source position.
//
// Peephole: drop `rX = rX` and redundant spill reloads, drop a jump to the block that follows, and turn
// `if cond goto A; goto B; A:` into `if !cond goto B; A:`.

import { AluOp, Class, FP, JmpOp, Mode, Op, Size, Source } from "../isa/opcodes.js";
import { type Insn } from "../isa/insn.js";
import type { CoreAccess, Loc } from "../ir/index.js";
import type { MBlock, MInsn } from "./machine.js";

export interface Linked {
  insns: Insn[];
  /** Slot indices of LDDWs that load a `.rodata` address (their imm is the offset). */
  rodataRelocs: number[];
  /** The same for `.bss`. */
  bssRelocs: number[];
  /** LDDW slots that load a map's address, with the map's name. */
  mapRelocs: { insn: number; map: string }[];
  /** Slots whose imm is a struct member offset to relocate (CO-RE). */
  coreRelocs: ({ insn: number } & CoreAccess)[];
  /** The source position of each slot (both slots of an LDDW share one). */
  locs: (Loc | undefined)[];
}

const INVERT: Record<number, number> = {
  [JmpOp.JEQ]: JmpOp.JNE, [JmpOp.JNE]: JmpOp.JEQ,
  [JmpOp.JGT]: JmpOp.JLE, [JmpOp.JLE]: JmpOp.JGT,
  [JmpOp.JGE]: JmpOp.JLT, [JmpOp.JLT]: JmpOp.JGE,
  [JmpOp.JSGT]: JmpOp.JSLE, [JmpOp.JSLE]: JmpOp.JSGT,
  [JmpOp.JSGE]: JmpOp.JSLT, [JmpOp.JSLT]: JmpOp.JSGE,
};

const isMovSelf = (m: MInsn): boolean => m.code === (Class.ALU64 | AluOp.MOV | Source.X) && m.off === 0 && m.dst === m.src;
const isCond = (m: MInsn): boolean => (m.code & 0x07) === Class.JMP && m.target !== undefined && m.code !== Op.JA;

const isStackStore = (m: MInsn): boolean => m.code === (Class.STX | Mode.MEM | Size.DW) && m.dst === FP;
const isStackLoad = (m: MInsn): boolean => m.code === (Class.LDX | Mode.MEM | Size.DW) && m.src === FP;

/** Drops a reload of the slot just stored from the same register, and a store back of what was just loaded. */
function redundantSpill(prev: MInsn | undefined, m: MInsn): boolean {
  if (!prev) return false;
  if (isStackStore(prev) && isStackLoad(m)) return prev.off === m.off && prev.src === m.dst;
  if (isStackLoad(prev) && isStackStore(m)) return prev.off === m.off && prev.dst === m.src;
  return false;
}

export function peephole(blocks: MBlock[]): MBlock[] {
  const out = blocks.map((b) => {
    const insns: MInsn[] = [];
    for (const m of b.insns) if (!isMovSelf(m) && !redundantSpill(insns.at(-1), m)) insns.push(m);
    return { id: b.id, insns };
  });
  for (let i = 0; i < out.length; i++) {
    const insns = out[i]!.insns;
    const next = out[i + 1]?.id;
    const last = insns.at(-1);
    if (last && last.code === Op.JA && last.target === next) {
      insns.pop();
      const cond = insns.at(-1);
      // A conditional jump over nothing is dead too.
      if (cond && isCond(cond) && cond.target === next) insns.pop();
      continue;
    }
    const cond = insns.at(-2);
    if (last && last.code === Op.JA && cond && isCond(cond) && cond.target === next && INVERT[cond.code & 0xf0] !== undefined) {
      insns.splice(-2, 2, { ...cond, code: (cond.code & 0x0f) | INVERT[cond.code & 0xf0]!, target: last.target });
    }
  }
  return out;
}

const ends = (m: MInsn | undefined): boolean => !!m && (m.code === Op.JA || m.code === Op.EXIT);

/** Blocks reachable from the first one (jumps and fall-through), in order. */
export function dropUnreachable(blocks: MBlock[]): MBlock[] {
  const index = new Map(blocks.map((b, i) => [b.id, i]));
  const seen = new Set<number>();
  const work = blocks.length ? [0] : [];
  while (work.length) {
    const i = work.pop()!;
    if (seen.has(i)) continue;
    seen.add(i);
    const insns = blocks[i]!.insns;
    for (const m of insns) if (m.target !== undefined) work.push(index.get(m.target)!);
    if (!ends(insns.at(-1)) && i + 1 < blocks.length) work.push(i + 1);
  }
  return blocks.filter((_, i) => seen.has(i));
}

export function link(blocks: MBlock[]): Linked {
  const start = new Map<number, number>();
  const layout = (): void => {
    let at = 0;
    for (const b of blocks) {
      start.set(b.id, at);
      for (const m of b.insns) at += m.code === Op.LDDW ? 2 : 1;
    }
  };
  layout();
  // A jump over empty blocks lands on the next instruction: drop it (and re-lay, as offsets shift).
  for (let dropped = true; dropped; ) {
    dropped = false;
    for (const b of blocks) {
      const last = b.insns.at(-1);
      const end = start.get(b.id)! + b.insns.reduce((n, m) => n + (m.code === Op.LDDW ? 2 : 1), 0);
      if (last && last.code === Op.JA && last.target !== undefined && start.get(last.target) === end) {
        b.insns.pop();
        dropped = true;
        layout();
      }
    }
  }
  const insns: Insn[] = [];
  const rodataRelocs: number[] = [];
  const bssRelocs: number[] = [];
  const locs: (Loc | undefined)[] = [];
  const coreRelocs: Linked["coreRelocs"] = [];
  const mapRelocs: Linked["mapRelocs"] = [];
  for (const b of blocks) {
    for (const m of b.insns) {
      const here = insns.length;
      let off = m.off;
      if (m.target !== undefined) off = start.get(m.target)! - (here + 1);
      insns.push({ code: m.code, dst: m.dst, src: m.src, off, imm: m.imm | 0 });
      locs.push(m.loc);
      if (m.core) coreRelocs.push({ insn: here, ...m.core });
      if (m.code === Op.LDDW) {
        insns.push({ code: 0, dst: 0, src: 0, off: 0, imm: (m.hi ?? 0) | 0 });
        locs.push(m.loc);
        if (m.reloc === ".rodata") rodataRelocs.push(here);
        if (m.reloc === ".bss") bssRelocs.push(here);
        if (m.map !== undefined) mapRelocs.push({ insn: here, map: m.map });
      }
    }
  }
  return { insns, rodataRelocs, bssRelocs, mapRelocs, coreRelocs, locs };
}
