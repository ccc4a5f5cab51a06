// Register allocation and frame layout.
// Takes machine blocks over virtual registers and the function's stack objects; gives the same
// blocks over physical registers with spill code inserted and every frame reference resolved to
// an r10 offset, plus the stack depth.
//
// Linear scan over live intervals (the hull of each virtual register's live positions, from a
// block-level liveness fixpoint). Positions are 2i for the reads of instruction i and 2i+1 for
// its writes, so a value last read by i can hand its register to the value i writes. Physical
// registers used by fixed patterns (entry r1, helper arguments, call clobbers of r0-r5) form
// fixed ranges no interval may overlap in the same register; so values live across a call end up
// in r6-r9. The rest spill to 8-byte slots below the stack objects; spilled operands pass through
// r0/r5, which select.ts guarantees are dead outside call and exit sequences.

import { AluOp, Class, FP, Size, Source } from "../isa/opcodes.js";
import type { StackObject } from "../ir/index.js";
import { VBASE, isVirtual, usesDefs, type MBlock, type MInsn } from "./machine.js";
import { CodegenError, MAX_STACK, layoutFrame } from "./frame.js";

export { CodegenError, MAX_STACK };
// Caller-saved registers first: short-lived values take them and leave r6-r9 to values that live
// across helper calls (which clobber r0-r5). r0 and r5 are kept for spill code.
const ALLOCATABLE = [1, 2, 3, 4, 6, 7, 8, 9];
const SCRATCH = [0, 5];

interface Interval {
  vreg: number;
  start: number;
  end: number;
}

export interface Allocation {
  blocks: MBlock[];
  stackDepth: number;
  spills: number;
}

export function allocate(blocks: MBlock[], stack: readonly StackObject[]): Allocation {
  const { intervals, fixed } = liveIntervals(blocks);
  // Copy hints: a register defined by `mov vD, vS` prefers vS's register, so the copy vanishes.
  const flat = blocks.flatMap((b) => b.insns);
  const isCopy = (m: MInsn): boolean => m.code === (Class.ALU64 | AluOp.MOV | Source.X) && m.off === 0 && isVirtual(m.dst) && isVirtual(m.src);
  const byVreg = new Map(intervals.map((iv) => [iv.vreg, iv]));
  const copiedInto = new Map<number, Interval>();
  for (const iv of intervals) {
    const m = flat[iv.end >> 1];
    const target = m && isCopy(m) && m.src === iv.vreg ? byVreg.get(m.dst) : undefined;
    if (target && target.start === iv.end + 1) copiedInto.set(iv.vreg, target);
  }
  const assigned = new Map<number, number>();
  const slots = new Map<number, number>();
  const active: Interval[] = [];
  const free = [...ALLOCATABLE];
  /** Whether `reg` is free of fixed uses (argument set-up, call clobbers, entry r1) during `iv`. */
  const fits = (reg: number, iv: Interval): boolean => !(fixed.get(reg) ?? []).some(([d, u]) => iv.start <= u && d <= iv.end);
  for (const iv of intervals) {
    for (let k = active.length - 1; k >= 0; k--) {
      if (active[k]!.end < iv.start) {
        free.push(assigned.get(active[k]!.vreg)!);
        active.splice(k, 1);
      }
    }
    free.sort((a, b) => ALLOCATABLE.indexOf(a) - ALLOCATABLE.indexOf(b));
    const candidates = free.filter((r) => fits(r, iv));
    if (candidates.length) {
      const m = flat[iv.start >> 1];
      const hint = m && isCopy(m) && m.dst === iv.vreg ? assigned.get(m.src) : undefined;
      // Looking ahead: if this value ends by being copied into another, pick a register that one can keep.
      const next = copiedInto.get(iv.vreg);
      const shared = next ? candidates.find((r) => fits(r, next)) : undefined;
      const pick = hint !== undefined && candidates.includes(hint) ? hint : (shared ?? candidates[0]!);
      free.splice(free.indexOf(pick), 1);
      assigned.set(iv.vreg, pick);
      active.push(iv);
      continue;
    }
    // Spill whichever ends last: this interval, or an active one whose register this one could use.
    const victims = active.filter((a) => fits(assigned.get(a.vreg)!, iv) && a.end > iv.end);
    const victim = victims.length ? victims.reduce((a, b) => (b.end > a.end ? b : a)) : undefined;
    if (victim) {
      assigned.set(iv.vreg, assigned.get(victim.vreg)!);
      assigned.delete(victim.vreg);
      slots.set(victim.vreg, slots.size);
      active.splice(active.indexOf(victim), 1, iv);
    } else slots.set(iv.vreg, slots.size);
  }

  // Frame: stack objects from r10 down (sharing bytes where their lifetimes allow), then spill slots.
  const { offsets: objectOffsets, depth: objectDepth } = layoutFrame(blocks, stack, byVreg);
  let depth = objectDepth;
  const spillBase = depth;
  depth += 8 * slots.size;
  if (depth > MAX_STACK) throw new CodegenError(`the program needs ${depth} bytes of stack; BPF allows ${MAX_STACK}`);
  const slotOffset = (vreg: number): number => -(spillBase + 8 * (slots.get(vreg)! + 1));

  const rewritten = blocks.map((b) => ({ id: b.id, insns: b.insns.flatMap((m) => rewrite(m)) }));
  return { blocks: rewritten, stackDepth: depth, spills: slots.size };

  function rewrite(m: MInsn): MInsn[] {
    let insn: MInsn = { ...m };
    if (insn.frame !== undefined) {
      const base = objectOffsets[insn.frame]!;
      if ((insn.code & 0x07) === Class.ALU64) insn.imm = base + insn.imm;
      else insn.off = base + insn.off;
      delete insn.frame;
    }
    const spilledDst = isVirtual(insn.dst) && slots.has(insn.dst);
    const spilledSrc = isVirtual(insn.src) && slots.has(insn.src);
    const isMov64X = insn.code === (Class.ALU64 | AluOp.MOV | Source.X) && insn.off === 0;
    // A move between a register and a spilled value becomes a plain load or store.
    const phys = (r: number): number => (isVirtual(r) ? assigned.get(r)! : r);
    if (isMov64X && spilledSrc && !spilledDst) {
      return [{ code: Class.LDX | 0x60 | Size.DW, dst: phys(insn.dst), src: FP, off: slotOffset(insn.src), imm: 0, loc: insn.loc }];
    }
    if (isMov64X && spilledDst && !spilledSrc) {
      return [{ code: Class.STX | 0x60 | Size.DW, dst: FP, src: phys(insn.src), off: slotOffset(insn.dst), imm: 0, loc: insn.loc }];
    }
    const before: MInsn[] = [];
    const after: MInsn[] = [];
    const scratch = new Map<number, number>();
    const { uses, defs } = usesDefs(insn);
    const map = (r: number): number => {
      if (!isVirtual(r)) return r;
      const phys = assigned.get(r);
      if (phys !== undefined) return phys;
      let s = scratch.get(r);
      if (s === undefined) {
        s = SCRATCH[scratch.size]!;
        scratch.set(r, s);
        if (uses.includes(r)) before.push({ code: Class.LDX | 0x60 | Size.DW, dst: s, src: FP, off: slotOffset(r), imm: 0, loc: insn.loc });
        if (defs.includes(r)) after.push({ code: Class.STX | 0x60 | Size.DW, dst: FP, src: s, off: slotOffset(r), imm: 0, loc: insn.loc });
      }
      return s;
    };
    const regsUsed = (insn.code & 0x07) === Class.LD || (insn.code & 0x07) === Class.ST ? ["dst"] : ["dst", "src"];
    if (regsUsed.includes("dst")) insn.dst = map(insn.dst);
    if (regsUsed.includes("src") && !isPseudoSrc(insn)) insn.src = map(insn.src);
    insn = { ...insn };
    return [...before, insn, ...after];
  }
}

/** CALL and LDDW use src for a pseudo kind, not a register. */
const isPseudoSrc = (m: MInsn): boolean => (m.code & 0x07) === Class.LD || m.code === (Class.JMP | 0x80);

/** Live intervals of virtual registers sorted by start, and the fixed ranges of physical r0-r5. */
function liveIntervals(blocks: MBlock[]): { intervals: Interval[]; fixed: Map<number, [number, number][]> } {
  const index = new Map(blocks.map((b, i) => [b.id, i]));
  const gen: Set<number>[] = [];
  const kill: Set<number>[] = [];
  const succ: number[][] = [];
  for (const b of blocks) {
    const g = new Set<number>();
    const k = new Set<number>();
    const s = new Set<number>();
    for (const m of b.insns) {
      const { uses, defs } = usesDefs(m);
      for (const u of uses) if (isVirtual(u) && !k.has(u)) g.add(u);
      for (const d of defs) if (isVirtual(d)) k.add(d);
      if (m.target !== undefined) s.add(index.get(m.target)!);
    }
    gen.push(g);
    kill.push(k);
    succ.push([...s]);
  }
  const liveIn = blocks.map(() => new Set<number>());
  const liveOut = blocks.map(() => new Set<number>());
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = blocks.length - 1; i >= 0; i--) {
      const out = liveOut[i]!;
      for (const s of succ[i]!) for (const v of liveIn[s]!) if (!out.has(v)) (out.add(v), (changed = true));
      const inn = liveIn[i]!;
      for (const v of gen[i]!) if (!inn.has(v)) (inn.add(v), (changed = true));
      for (const v of out) if (!kill[i]!.has(v) && !inn.has(v)) (inn.add(v), (changed = true));
    }
  }
  const range = new Map<number, Interval>();
  const touch = (v: number, pos: number): void => {
    const iv = range.get(v);
    if (!iv) range.set(v, { vreg: v, start: pos, end: pos });
    else {
      iv.start = Math.min(iv.start, pos);
      iv.end = Math.max(iv.end, pos);
    }
  };
  const fixed = new Map<number, [number, number][]>();
  // r1 holds the context on entry.
  const open = new Map<number, [number, number]>([[1, [-1, -1]]]);
  fixed.set(1, [open.get(1)!]);
  let i = 0;
  blocks.forEach((b, n) => {
    const first = i;
    for (const v of liveIn[n]!) touch(v, 2 * first);
    for (const m of b.insns) {
      const { uses, defs } = usesDefs(m);
      for (const r of uses) {
        if (isVirtual(r)) touch(r, 2 * i);
        else if (r <= 5) open.get(r)?.splice(1, 1, 2 * i);
      }
      for (const r of defs) {
        if (isVirtual(r)) touch(r, 2 * i + 1);
        else if (r <= 5) {
          const fresh: [number, number] = [2 * i + 1, 2 * i + 1];
          open.set(r, fresh);
          fixed.set(r, [...(fixed.get(r) ?? []), fresh]);
        }
      }
      i++;
    }
    for (const v of liveOut[n]!) touch(v, 2 * (i - 1) + 1);
  });
  return { intervals: [...range.values()].sort((a, b) => a.start - b.start || a.vreg - b.vreg), fixed };
}

export { VBASE };
