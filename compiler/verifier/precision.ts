// Precision tracking, as the kernel's mark_chain_precision: scalars are imprecise (pruning treats
// any two as equal) until a check that depends on a scalar's exact range — a branch the range
// decides, pointer arithmetic, a helper's size or NULL argument, a return-value range, a zero
// written to the stack — asks for it. The request walks back over the instructions the current
// path executed, following the value to the registers and stack slots it came from, and marks
// them precise in every checkpoint state on the way up; a pruned path hands the precise marks of
// the state that covered it to its own checkpoints the same way.
//
// History: each path keeps, per segment between checkpoints, two numbers per executed instruction:
// its index and a note: 0, a stack slot a spill or fill used (1 + frame * 64 + slot), or the
// negated index + 1 of the scalars a branch refined together (linked copies sharing an id).

import { AluOp, AtomicOp, Class, JmpOp, Mode, Op, PseudoCall, Source, aluOp, jmpOp, opClass, opMode, opSource } from "../isa/opcodes.js";
import { type Insn } from "../isa/insn.js";
import { CALLS_BACK } from "./helpers.js";
import { STACK_SLOTS, STACK_SPILL, type Frame, type Reg, type VState, spilledForWrite } from "./state.js";

/** A checkpoint as backtracking sees it: its state, the one above it, and the path between them. */
export interface HistoryNode {
  state: VState;
  parent: HistoryNode | null;
  /** [insn, note] pairs executed from the parent checkpoint up to this one. */
  trace: number[];
}

export const MAX_FRAMES = 8;
const ARG_REGS = 0x3e;

export const stackNote = (frameno: number, spi: number): number => 1 + frameno * 64 + spi;
/** A linked location: a register or a stack slot of a frame. */
export const regLoc = (frameno: number, regno: number): number => frameno * 128 + regno;
export const slotLoc = (frameno: number, spi: number): number => frameno * 128 + 64 + spi;

const isSpilledScalar = (f: Frame, spi: number): boolean => f.slotType[spi * 8 + 7] === STACK_SPILL && f.spilled[spi]?.type === "scalar";

/** The registers and stack slots whose values still need precision, per frame (the kernel's backtrack_state). */
class Masks {
  readonly regs = new Uint16Array(MAX_FRAMES);
  readonly lo = new Uint32Array(MAX_FRAMES);
  readonly hi = new Uint32Array(MAX_FRAMES);
  frame = 0;

  reset(frame: number): void {
    this.regs.fill(0);
    this.lo.fill(0);
    this.hi.fill(0);
    this.frame = frame;
  }
  empty(): boolean {
    for (let f = 0; f < MAX_FRAMES; f++) if (this.regs[f] || this.lo[f] || this.hi[f]) return false;
    return true;
  }
  hasReg(f: number, r: number): boolean {
    return (this.regs[f]! & (1 << r)) !== 0;
  }
  setReg(f: number, r: number): void {
    // r10 is the frame pointer: never a scalar, nothing to follow
    if (r !== 10) this.regs[f]! |= 1 << r;
  }
  clearReg(f: number, r: number): void {
    this.regs[f]! &= ~(1 << r);
  }
  hasSlot(f: number, spi: number): boolean {
    return spi < 32 ? ((this.lo[f]! >>> spi) & 1) !== 0 : ((this.hi[f]! >>> (spi - 32)) & 1) !== 0;
  }
  setSlot(f: number, spi: number): void {
    if (spi < 32) this.lo[f]! |= 1 << spi;
    else this.hi[f]! |= 1 << (spi - 32);
  }
  clearSlot(f: number, spi: number): void {
    if (spi < 32) this.lo[f]! &= ~(1 << spi);
    else this.hi[f]! &= ~(1 << (spi - 32));
  }
  slotsEmpty(f: number): boolean {
    return !this.lo[f] && !this.hi[f];
  }
}

export class Precision {
  private readonly masks = new Masks();
  /** Linked-scalar sets noted at branches; history notes index them. */
  readonly linked: number[][] = [];

  /** `globalCall`: whether the BPF-to-BPF call at an instruction calls a global function, verified on its own. */
  constructor(
    private readonly insns: readonly Insn[],
    private readonly globalCall?: (pc: number) => boolean,
  ) {}

  /** Starts a request from the innermost frame of `cur`. */
  begin(cur: VState): void {
    this.masks.reset(cur.frames.length - 1);
  }

  /** Requests register `regno` of the innermost frame. */
  wantReg(regno: number): void {
    this.masks.setReg(this.masks.frame, regno);
  }

  wantSlot(frameno: number, spi: number): void {
    this.masks.setSlot(frameno, spi);
  }

  /** Asks for every scalar the covering state `old` has precise, from the path that `old` pruned. */
  wantPreciseOf(old: VState, cur: VState): void {
    for (let fr = 0; fr < old.frames.length; fr++) {
      const of = old.frames[fr]!;
      const cf = cur.frames[fr]!;
      for (let r = 0; r < 10; r++) if (of.regs[r]!.precise && cf.regs[r]!.type === "scalar") this.masks.setReg(fr, r);
      for (let spi = 0; spi < of.spilled.length; spi++) {
        if (of.spilled[spi]?.precise && isSpilledScalar(cf, spi)) this.masks.setSlot(fr, spi);
      }
    }
  }

  /**
   * Walks back over `trace` (the current segment, newest last) and then up the checkpoints from
   * `parent`, marking what the request needs; falls back to marking every scalar precise when the
   * history cannot be followed.
   */
  run(trace: number[], parent: HistoryNode | null, at: number): void {
    const m = this.masks;
    if (m.empty()) return;
    let tr = trace;
    let node = parent;
    // the instruction the path executed after the one being backtracked
    let next = at;
    for (;;) {
      for (let k = tr.length - 2; k >= 0; k -= 2) {
        if (!this.backtrack(tr[k]!, tr[k + 1]!, next)) return this.markAll(parent);
        next = tr[k]!;
        if (m.empty()) return;
      }
      if (!node) break;
      const st = node.state;
      if (st.frames.length - 1 !== m.frame) return this.markAll(parent);
      for (let fr = m.frame; fr >= 0; fr--) {
        const f = st.frames[fr]!;
        for (let r = 0; r <= 10; r++) {
          if (!m.hasReg(fr, r)) continue;
          const reg = f.regs[r]!;
          if (reg.type !== "scalar" || reg.precise) m.clearReg(fr, r);
          else reg.precise = true;
        }
        if (m.slotsEmpty(fr)) continue;
        for (let spi = 0; spi < 64; spi++) {
          if (!m.hasSlot(fr, spi)) continue;
          const reg = f.spilled[spi];
          if (!reg || !isSpilledScalar(f, spi) || reg.precise) m.clearSlot(fr, spi);
          else spilledForWrite(f, spi).precise = true;
        }
      }
      if (m.empty()) return;
      tr = node.trace;
      node = node.parent;
    }
    // Still wanted at the program's entry: something was missed; be conservative.
    this.markAll(parent);
  }

  /** Every scalar of every checkpoint up the path becomes precise (mark_all_scalars_precise). */
  private markAll(parent: HistoryNode | null): void {
    this.masks.reset(0);
    for (let node = parent; node; node = node.parent) {
      for (const f of node.state.frames) {
        for (const r of f.regs) if (r.type === "scalar") r.precise = true;
        for (let spi = 0; spi < STACK_SLOTS; spi++) {
          const r = f.spilled[spi];
          if (r && r.type === "scalar" && !r.precise) spilledForWrite(f, spi).precise = true;
        }
      }
    }
  }

  private syncLinked(note: number): void {
    if (note >= 0) return;
    const m = this.masks;
    const set = this.linked[-note - 1]!;
    let any = false;
    for (const loc of set) {
      const fr = loc >> 7;
      const i = loc & 63;
      if (loc & 64 ? m.hasSlot(fr, i) : m.hasReg(fr, i)) {
        any = true;
        break;
      }
    }
    if (!any) return;
    for (const loc of set) {
      const fr = loc >> 7;
      const i = loc & 63;
      if (loc & 64) m.setSlot(fr, i);
      else m.setReg(fr, i);
    }
  }

  /** One instruction, backwards (backtrack_insn). False: the history cannot be followed here. */
  private backtrack(pc: number, note: number, next: number): boolean {
    const m = this.masks;
    const insn = this.insns[pc]!;
    const f = m.frame;
    const cls = opClass(insn.code);
    const x = opSource(insn.code) === Source.X;
    switch (cls) {
      case Class.ALU:
      case Class.ALU64: {
        if (!m.hasReg(f, insn.dst)) return true;
        const op = aluOp(insn.code);
        if (op === AluOp.END || op === AluOp.NEG) return true;
        if (op === AluOp.MOV) {
          m.clearReg(f, insn.dst);
          if (x) m.setReg(f, insn.src);
          return true;
        }
        if (x) m.setReg(f, insn.src);
        return true;
      }
      case Class.LDX:
        return this.load(insn.dst, note);
      case Class.STX:
        if (opMode(insn.code) === Mode.ATOMIC) {
          // load-acquire and store-release move values like LDX and STX
          if (insn.imm === AtomicOp.LOAD_ACQ) return this.load(insn.dst, note);
          if (insn.imm === AtomicOp.STORE_REL) return this.store(insn, note, true);
          if (!(insn.imm & AtomicOp.FETCH)) return true;
          return this.load(insn.imm === AtomicOp.CMPXCHG ? 0 : insn.src, note);
        }
        return this.store(insn, note, true);
      case Class.ST:
        return this.store(insn, note, false);
      case Class.LD:
        if (insn.code === Op.LDDW) {
          m.clearReg(f, insn.dst);
          return true;
        }
        // LD_ABS/IND: r0 is an unknown packet value, r1-r5 are clobbered
        m.clearReg(f, 0);
        return (m.regs[f]! & ARG_REGS) === 0;
      case Class.JMP:
      case Class.JMP32: {
        const op = jmpOp(insn.code);
        if (op === JmpOp.CALL) {
          if (insn.src === PseudoCall.LOCAL && this.globalCall?.(pc)) {
            // a global function's call: r0 is its result, any scalar; r1-r5 were clobbered
            m.clearReg(f, 0);
            return (m.regs[f]! & ARG_REGS) === 0;
          }
          if (insn.src === PseudoCall.LOCAL) {
            // back out of the callee into the caller: only its arguments can still be wanted
            if (f === 0 || (m.regs[f]! & ~ARG_REGS) !== 0 || !m.slotsEmpty(f)) return false;
            for (let r = 1; r <= 5; r++) if (m.hasReg(f, r)) m.setReg(f - 1, r);
            m.regs[f] = 0;
            m.frame = f - 1;
            return true;
          }
          if (insn.src === PseudoCall.KFUNC) return false;
          if (CALLS_BACK.has(insn.imm) && next !== pc + 1) {
            // back out of a callback's entry into the helper's caller: the callback's r1-r5 were the helper's making
            if (f === 0 || (m.regs[f]! & ~ARG_REGS) !== 0 || !m.slotsEmpty(f)) return false;
            m.regs[f] = 0;
            m.frame = f - 1;
            return true;
          }
          m.clearReg(f, 0);
          return (m.regs[f]! & ARG_REGS) === 0;
        }
        if (op === JmpOp.EXIT && this.returnsToHelper(next)) {
          // an instruction after a call that is itself a callback's helper call: which return it was is not known
          if (this.afterCall(next)) return false;
          // back into a callback from the helper call it returned to: the caller's registers, r0 included, are the
          // ones it had before the call, which the callback could not change
          if (f + 1 >= MAX_FRAMES) return false;
          m.regs[f + 1] = 0;
          m.frame = f + 1;
          return true;
        }
        if (op === JmpOp.EXIT) {
          // back into a subprogram from the instruction after its call: r0 is the callee's
          if (f + 1 >= MAX_FRAMES || (m.regs[f]! & ARG_REGS) !== 0) return false;
          const r0 = m.hasReg(f, 0);
          m.clearReg(f, 0);
          m.frame = f + 1;
          if (r0) m.setReg(f + 1, 0);
          return true;
        }
        if (op === JmpOp.JA) return true;
        this.syncLinked(note);
        if (x && op !== JmpOp.JCOND && (m.hasReg(f, insn.dst) || m.hasReg(f, insn.src))) {
          m.setReg(f, insn.dst);
          m.setReg(f, insn.src);
        }
        return true;
      }
    }
    return false;
  }

  /** Whether an exit followed by `next` may be a callback's return to its helper call. */
  private returnsToHelper(next: number): boolean {
    const call = this.insns[next];
    return call !== undefined && call.code === Op.CALL && call.src === 0 && CALLS_BACK.has(call.imm);
  }

  /** Whether `next` follows a BPF-to-BPF call, where a subprogram returns. */
  private afterCall(next: number): boolean {
    const before = this.insns[next - 1];
    return before !== undefined && before.code === Op.CALL && before.src === PseudoCall.LOCAL;
  }

  /** A spill: the slot's wanted value was the stored register's (or an immediate's). */
  private store(insn: Insn, note: number, fromReg: boolean): boolean {
    const m = this.masks;
    // a scalar used as the address: pointer arithmetic the history cannot follow
    if (m.hasReg(m.frame, insn.dst)) return false;
    if (note <= 0) return true;
    const fr = ((note - 1) / 64) | 0;
    const spi = (note - 1) % 64;
    if (!m.hasSlot(fr, spi)) return true;
    m.clearSlot(fr, spi);
    if (fromReg) m.setReg(m.frame, insn.src);
    return true;
  }

  private load(dst: number, note: number): boolean {
    const m = this.masks;
    if (!m.hasReg(m.frame, dst)) return true;
    m.clearReg(m.frame, dst);
    if (note > 0) m.setSlot(((note - 1) / 64) | 0, (note - 1) % 64);
    return true;
  }
}

// A module function, not a closure per call: under tsx every named closure is wrapped as it is created.
const linkedTo = (r: Reg | null, ids: readonly number[]): boolean => r !== null && r.type === "scalar" && r.id !== 0 && ids.includes(r.id);

/** Locations of the scalars sharing `ids` (non-zero) in every frame, for a branch's history note. */
export function linkedLocations(state: VState, ids: readonly number[]): number[] {
  const out: number[] = [];
  for (let fr = 0; fr < state.frames.length; fr++) {
    const f = state.frames[fr]!;
    for (let r = 0; r < 10; r++) if (linkedTo(f.regs[r]!, ids)) out.push(regLoc(fr, r));
    for (let spi = 0; spi < f.spilled.length; spi++) if (linkedTo(f.spilled[spi] ?? null, ids) && isSpilledScalar(f, spi)) out.push(slotLoc(fr, spi));
  }
  return out;
}
