// Conditional jumps: deciding branches on known values, refining scalar ranges on each side,
// null checks of map values and ring buffer memory, packet bounds checks against pkt_end,
// and propagation to linked copies of a register.

import { BtfFlag } from "./btf-types.js";
import { Class, JmpOp, Op, Source, jmpOp, opClass, opSource } from "../isa/opcodes.js";
import { type Insn } from "../isa/insn.js";
import { type Env, checkRegRead, fail, regs } from "./env.js";
import { type Bounds, add32, add64, boundsInvalid, constValue, isConstBounds, markUnbounded, syncBounds, zext32to64 } from "./scalar.js";
import { linkedLocations } from "./precision.js";
import { widenImpreciseScalars } from "./prune.js";
import { AT_PKT_END, BEYOND_PKT_END, type Reg, type VState, allRegs, copyReg, copyState, curFrame, isPktPointer, isPointer, knownScalar } from "./state.js";
import * as tn from "./tnum.js";
import { u32, s32, U64_MAX } from "./tnum.js";

const FLIP: Record<number, number> = {
  [JmpOp.JEQ]: JmpOp.JEQ, [JmpOp.JNE]: JmpOp.JNE, [JmpOp.JSET]: JmpOp.JSET, [JmpOp.JGE]: JmpOp.JLE, [JmpOp.JGT]: JmpOp.JLT,
  [JmpOp.JLE]: JmpOp.JGE, [JmpOp.JLT]: JmpOp.JGT, [JmpOp.JSGE]: JmpOp.JSLE, [JmpOp.JSGT]: JmpOp.JSLT, [JmpOp.JSLE]: JmpOp.JSGE,
  [JmpOp.JSLT]: JmpOp.JSGT,
};
/** The negated condition, for the fall-through side; JSET's negation is "no bit in common". */
const JSET_NOT = 0x100;
const REV: Record<number, number> = {
  [JmpOp.JEQ]: JmpOp.JNE, [JmpOp.JNE]: JmpOp.JEQ, [JmpOp.JSET]: JSET_NOT, [JSET_NOT]: JmpOp.JSET, [JmpOp.JGE]: JmpOp.JLT,
  [JmpOp.JGT]: JmpOp.JLE, [JmpOp.JLE]: JmpOp.JGT, [JmpOp.JLT]: JmpOp.JGE, [JmpOp.JSGE]: JmpOp.JSLT, [JmpOp.JSGT]: JmpOp.JSLE,
  [JmpOp.JSLE]: JmpOp.JSGT, [JmpOp.JSLT]: JmpOp.JSGE,
};

interface View {
  t: tn.Tnum;
  umin: bigint;
  umax: bigint;
  smin: bigint;
  smax: bigint;
}
const view = (r: Bounds, is32: boolean): View =>
  is32 ? { t: tn.subreg(r.vo), umin: r.u32min, umax: r.u32max, smin: r.s32min, smax: r.s32max } : { t: r.vo, umin: r.umin, umax: r.umax, smin: r.smin, smax: r.smax };

/** 1 = always taken, 0 = never, -1 = unknown (is_scalar_branch_taken). */
function scalarBranchTaken(r1: Bounds, r2: Bounds, op: number, is32: boolean): number {
  let a = view(r1, is32);
  let b = view(r2, is32);
  switch (op) {
    case JmpOp.JEQ:
    case JmpOp.JNE: {
      const eq = op === JmpOp.JEQ;
      if (tn.isConst(a.t) && tn.isConst(b.t)) return (a.t.value === b.t.value) === eq ? 1 : 0;
      const never = !tn.overlap(a.t, b.t) || a.umin > b.umax || a.umax < b.umin || a.smin > b.smax || a.smax < b.smin ||
        (!is32 && (r1.u32min > r2.u32max || r1.u32max < r2.u32min || r1.s32min > r2.s32max || r1.s32max < r2.s32min));
      if (never) return eq ? 0 : 1;
      return -1;
    }
    case JmpOp.JSET: {
      if (!isConstBounds(r2, is32)) {
        [a, b] = [b, a];
        [r1, r2] = [r2, r1];
      }
      if (!isConstBounds(r2, is32)) return -1;
      if (~a.t.mask & a.t.value & b.t.value) return 1;
      if (!((a.t.mask | a.t.value) & b.t.value)) return 0;
      return -1;
    }
    case JmpOp.JGT:
      return a.umin > b.umax ? 1 : a.umax <= b.umin ? 0 : -1;
    case JmpOp.JSGT:
      return a.smin > b.smax ? 1 : a.smax <= b.smin ? 0 : -1;
    case JmpOp.JLT:
      return a.umax < b.umin ? 1 : a.umin >= b.umax ? 0 : -1;
    case JmpOp.JSLT:
      return a.smax < b.smin ? 1 : a.smin >= b.smax ? 0 : -1;
    case JmpOp.JGE:
      return a.umin >= b.umax ? 1 : a.umax < b.umin ? 0 : -1;
    case JmpOp.JSGE:
      return a.smin >= b.smax ? 1 : a.smax < b.smin ? 0 : -1;
    case JmpOp.JLE:
      return a.umax <= b.umin ? 1 : a.umin > b.umax ? 0 : -1;
    case JmpOp.JSLE:
      return a.smax <= b.smin ? 1 : a.smin > b.smax ? 0 : -1;
  }
  return -1;
}

/** Pointer kinds the kernel knows are never NULL (reg_not_null); stack, ctx and packet are not among them. */
const notNull = (r: Reg): boolean =>
  !r.maybeNull && (r.type === "map_value" || r.type === "map_key" || r.type === "map_ptr" || r.type === "mem" || r.type === "ringbuf_mem" || r.type === "sock" || r.type === "sock_common" ||
    r.type === "ptr_task" || (r.type === "btf_id" && trustedBtf(r)));

/** is_trusted_reg: a typed pointer the kernel vouches for (a tp_btf argument, a trusted field of one). */
const trustedBtf = (r: Reg): boolean => r.btf !== null && (r.btf.flags & BtfFlag.TRUSTED) !== 0 && (r.btf.flags & BtfFlag.UNTRUSTED) === 0;

function branchTaken(r1: Reg, r2: Reg, op: number, is32: boolean): number {
  if (isPktPointer(r1) || r1.type === "pkt_end") {
    if ((isPktPointer(r2) || r2.type === "pkt_end") && !is32) return pktBranchTaken(r1, r2, op);
  }
  // A never-NULL pointer against 0 (in a 32-bit jump, a constant whose low half is 0): `==` fails, `!=` holds.
  if (isPointer(r1) || isPointer(r2)) {
    if (r2.type !== "scalar" || !isConstBounds(r2, is32)) {
      op = FLIP[op]!;
      [r1, r2] = [r2, r1];
    }
    if (r2.type !== "scalar" || !isConstBounds(r2, is32)) return -1;
    if (!notNull(r1)) return -1;
    if (constValue(r2, is32) !== 0n) return -1;
    if (op === JmpOp.JEQ) return 0;
    if (op === JmpOp.JNE) return 1;
    return -1;
  }
  return scalarBranchTaken(r1, r2, op, is32);
}

function pktBranchTaken(dst: Reg, src: Reg, op: number): number {
  let pkt: Reg;
  if (src.type === "pkt_end") pkt = dst;
  else if (dst.type === "pkt_end") {
    pkt = src;
    op = FLIP[op]!;
  } else return -1;
  if (pkt.range >= 0) return -1;
  if (op === JmpOp.JLE || op === JmpOp.JGT) {
    if (pkt.range === BEYOND_PKT_END) return op === JmpOp.JGT ? 1 : 0;
  } else if (op === JmpOp.JLT || op === JmpOp.JGE) {
    if (pkt.range === BEYOND_PKT_END || pkt.range === AT_PKT_END) return op === JmpOp.JGE ? 1 : 0;
  }
  return -1;
}

const mx = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const mn = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const regOf = (s: VState, no: number): Reg => curFrame(s).regs[no]!;

/** Narrows both registers for the side where `r1 op r2` holds (regs_refine_cond_op). */
function refine(r1: Bounds, r2: Bounds, op: number, is32: boolean): void {
  if (op === JmpOp.JGE || op === JmpOp.JGT || op === JmpOp.JSGE || op === JmpOp.JSGT) {
    op = FLIP[op]!;
    [r1, r2] = [r2, r1];
  }
  switch (op) {
    case JmpOp.JEQ:
      if (is32) {
        r1.u32min = mx(r1.u32min, r2.u32min);
        r1.u32max = mn(r1.u32max, r2.u32max);
        r1.s32min = mx(r1.s32min, r2.s32min);
        r1.s32max = mn(r1.s32max, r2.s32max);
        r2.u32min = r1.u32min;
        r2.u32max = r1.u32max;
        r2.s32min = r1.s32min;
        r2.s32max = r1.s32max;
        const t = tn.intersect(tn.subreg(r1.vo), tn.subreg(r2.vo));
        r1.vo = tn.withSubreg(r1.vo, t);
        r2.vo = tn.withSubreg(r2.vo, t);
      } else {
        r1.umin = mx(r1.umin, r2.umin);
        r1.umax = mn(r1.umax, r2.umax);
        r1.smin = mx(r1.smin, r2.smin);
        r1.smax = mn(r1.smax, r2.smax);
        r2.umin = r1.umin;
        r2.umax = r1.umax;
        r2.smin = r1.smin;
        r2.smax = r1.smax;
        r1.vo = tn.intersect(r1.vo, r2.vo);
        r2.vo = r1.vo;
      }
      break;
    case JmpOp.JNE: {
      if (!isConstBounds(r2, is32)) [r1, r2] = [r2, r1];
      if (!isConstBounds(r2, is32)) break;
      const v = constValue(r2, is32);
      if (is32) {
        if (r1.u32min === u32(v)) r1.u32min++;
        if (r1.u32max === u32(v)) r1.u32max--;
        if (r1.s32min === s32(v)) r1.s32min++;
        if (r1.s32max === s32(v)) r1.s32max--;
      } else {
        if (r1.umin === v) r1.umin++;
        if (r1.umax === v) r1.umax--;
        if (r1.smin === tn.s64(v)) r1.smin++;
        if (r1.smax === tn.s64(v)) r1.smax--;
      }
      break;
    }
    case JmpOp.JSET: {
      if (!isConstBounds(r2, is32)) [r1, r2] = [r2, r1];
      if (!isConstBounds(r2, is32)) break;
      const v = constValue(r2, is32);
      if (v === 0n || (v & (v - 1n)) !== 0n) break;
      if (is32) r1.vo = tn.withSubreg(r1.vo, tn.or(tn.subreg(r1.vo), tn.tnumConst(v)));
      else r1.vo = tn.or(r1.vo, tn.tnumConst(v));
      break;
    }
    case JSET_NOT: {
      if (!isConstBounds(r2, is32)) [r1, r2] = [r2, r1];
      if (!isConstBounds(r2, is32)) break;
      const v = constValue(r2, is32);
      markUnbounded(r1);
      if (is32) r1.vo = tn.withSubreg(r1.vo, tn.and(tn.subreg(r1.vo), tn.tnumConst(~v & U64_MAX)));
      else r1.vo = tn.and(r1.vo, tn.tnumConst(~v & U64_MAX));
      break;
    }
    case JmpOp.JLE:
      if (is32) {
        r1.u32max = mn(r1.u32max, r2.u32max);
        r2.u32min = mx(r1.u32min, r2.u32min);
      } else {
        r1.umax = mn(r1.umax, r2.umax);
        r2.umin = mx(r1.umin, r2.umin);
      }
      break;
    case JmpOp.JLT:
      if (is32) {
        r1.u32max = mn(r1.u32max, u32(r2.u32max - 1n));
        r2.u32min = mx(u32(r1.u32min + 1n), r2.u32min);
      } else {
        r1.umax = mn(r1.umax, tn.u64(r2.umax - 1n));
        r2.umin = mx(tn.u64(r1.umin + 1n), r2.umin);
      }
      break;
    case JmpOp.JSLE:
      if (is32) {
        r1.s32max = mn(r1.s32max, r2.s32max);
        r2.s32min = mx(r1.s32min, r2.s32min);
      } else {
        r1.smax = mn(r1.smax, r2.smax);
        r2.smin = mx(r1.smin, r2.smin);
      }
      break;
    case JmpOp.JSLT:
      if (is32) {
        r1.s32max = mn(r1.s32max, s32(r2.s32max - 1n));
        r2.s32min = mx(s32(r1.s32min + 1n), r2.s32min);
      } else {
        r1.smax = mn(r1.smax, tn.s64(r2.smax - 1n));
        r2.smin = mx(tn.s64(r1.smin + 1n), r2.smin);
      }
      break;
  }
}

/**
 * Copies the refined bounds of `r` to every register sharing its scalar id; one that is a
 * constant ahead of `r` (BPF_ADD_CONST) gets them moved by the difference (sync_linked_regs).
 */
function syncLinked(state: VState, r: Reg): void {
  if (r.type !== "scalar" || !r.id) return;
  const id = r.id;
  for (const o of allRegs(state, (o) => o !== r && o.type === "scalar" && o.id === id)) {
    // a 32-bit and a 64-bit copy are not a constant apart once either wraps (the kernel skips mixed widths)
    if (o.addConst && r.addConst && o.addConst !== r.addConst) continue;
    const off = o.off;
    const addConst = o.addConst;
    const zext = addConst === 32 || r.addConst === 32;
    Object.assign(o, copyReg(r));
    if (off === r.off) continue;
    // a copy that many ahead keeps its own link (the kernel keeps its off and id)
    o.off = off;
    o.addConst = addConst;
    const delta = knownScalar(BigInt(off - r.off));
    add32(o, delta);
    add64(o, delta);
    o.vo = tn.add(o.vo, delta.vo);
    // a 32-bit link holds between the low halves, the upper half being zero (BPF_ADD_CONST32)
    if (zext) zext32to64(o);
    syncBounds(o);
  }
}

function markPtrOrNull(state: VState, id: number, isNull: boolean): void {
  if (isNull) {
    // an acquired reference that turned out NULL needs no release
    state.refs = state.refs.filter((ref) => ref.id !== id);
  }
  for (const r of allRegs(state, (r) => r.maybeNull && r.id === id)) {
    if (isNull) Object.assign(r, knownScalar(0n));
    else {
      r.maybeNull = false;
      // a lookup in a map of maps gives the inner map (the template of its inner definition): a map pointer
      if (r.type === "map_value" && r.map?.inner) {
        r.type = "map_ptr";
        r.map = r.map.inner;
      }
      if (r.type === "map_value" || r.type === "map_ptr" || r.type === "mem" || r.type === "ringbuf_mem" || r.type === "sock" || r.type === "sock_common") r.id = 0;
    }
  }
}

function findGoodPktPointers(state: VState, dst: Reg, rightOpen: boolean): void {
  if (dst.off < 0 || (dst.off === 0 && rightOpen)) return;
  if (dst.umax > 0xffffn || dst.umax + BigInt(dst.off) > 0xffffn) return;
  const newRange = dst.off + (rightOpen ? 1 : 0);
  const type = dst.type;
  const id = dst.id;
  for (const r of allRegs(state, (r) => r.type === type && r.id === id && r.range < newRange)) r.range = newRange;
}

function markPktEnd(state: VState, regno: number, open: boolean): void {
  const r = curFrame(state).regs[regno]!;
  if (r.type !== "pkt") return;
  r.range = open ? BEYOND_PKT_END : AT_PKT_END;
}

const isInitPkt = (r: Reg): boolean => r.type === "pkt" && r.off === 0 && tn.isConst(r.vo) && r.vo.value === 0n;

/** Packet pointer compared with pkt_end (or pkt_meta with pkt): grows the verified range on the safe side. */
function matchPktPointers(insn: Insn, dst: Reg, src: Reg, fall: VState, jump: VState): boolean {
  if (opSource(insn.code) !== Source.X || opClass(insn.code) === Class.JMP32) return false;
  const fwd = (dst.type === "pkt" && src.type === "pkt_end") || (dst.type === "pkt_meta" && isInitPkt(src));
  const rev = (dst.type === "pkt_end" && src.type === "pkt") || (isInitPkt(dst) && src.type === "pkt_meta");
  switch (jmpOp(insn.code)) {
    case JmpOp.JGT:
      if (fwd) {
        findGoodPktPointers(fall, regOf(fall, insn.dst), false);
        markPktEnd(jump, insn.dst, true);
      } else if (rev) {
        findGoodPktPointers(jump, regOf(jump, insn.src), true);
        markPktEnd(fall, insn.src, false);
      } else return false;
      return true;
    case JmpOp.JLT:
      if (fwd) {
        findGoodPktPointers(jump, regOf(jump, insn.dst), true);
        markPktEnd(fall, insn.dst, false);
      } else if (rev) {
        findGoodPktPointers(fall, regOf(fall, insn.src), false);
        markPktEnd(jump, insn.src, true);
      } else return false;
      return true;
    case JmpOp.JGE:
      if (fwd) {
        findGoodPktPointers(fall, regOf(fall, insn.dst), true);
        markPktEnd(jump, insn.dst, false);
      } else if (rev) {
        findGoodPktPointers(jump, regOf(jump, insn.src), false);
        markPktEnd(fall, insn.src, true);
      } else return false;
      return true;
    case JmpOp.JLE:
      if (fwd) {
        findGoodPktPointers(jump, regOf(jump, insn.dst), false);
        markPktEnd(fall, insn.dst, true);
      } else if (rev) {
        findGoodPktPointers(fall, regOf(fall, insn.src), true);
        markPktEnd(jump, insn.src, false);
      } else return false;
      return true;
  }
  void dst;
  return false;
}

/**
 * Checks a conditional jump at env.pc. Returns the next pc of the current path; when both
 * sides are possible the jump side is queued with env.pushBranch.
 */
export function checkCondJmp(env: Env, insn: Insn): number {
  const op = jmpOp(insn.code);
  const pc = env.pc;
  if (op === JmpOp.JCOND) {
    if (insn.code !== Op.MAY_GOTO || insn.src !== 0 || insn.dst || insn.imm) fail(env, `invalid may_goto imm ${insn.imm}`);
    // the running kernel accepts a may_goto to the next instruction as a no-op
    if (insn.off === 0) return pc + 1;
    // As the kernel: this path leaves the loop (the jump); the loop goes round once more in a queued state one
    // may_goto deeper whose imprecise scalars that changed since the previous iteration are forgotten.
    const again = copyState(env.cur);
    again.mayGotoDepth++;
    const previous = env.previousIteration();
    if (previous) widenImpreciseScalars(previous, again);
    env.pushBranch(again, pc + 1);
    return pc + insn.off + 1;
  }
  if (op > JmpOp.JSLE || op === JmpOp.CALL || op === JmpOp.EXIT) fail(env, `invalid BPF_JMP/JMP32 opcode ${(op >> 4).toString(16)}`);
  const is32 = opClass(insn.code) === Class.JMP32;
  const dst = checkRegRead(env, insn.dst);
  let src: Reg;
  const x = opSource(insn.code) === Source.X;
  if (x) {
    if (insn.imm !== 0) fail(env, "BPF_JMP/JMP32 uses reserved fields");
    src = checkRegRead(env, insn.src);
    if (!((isPktPointer(dst) || dst.type === "pkt_end") && (isPktPointer(src) || src.type === "pkt_end")) && isPointer(src) && !env.privileged) {
      fail(env, `R${insn.src} pointer comparison prohibited`, insn.src);
    }
  } else {
    if (insn.src !== 0) fail(env, "BPF_JMP/JMP32 uses reserved fields");
    src = knownScalar(BigInt(insn.imm));
  }
  const target = pc + insn.off + 1;
  const pred = branchTaken(dst, src, op, is32);
  if (pred >= 0) {
    // the path taken depends on the values that decided it
    env.markPrecise(insn.dst);
    if (x) env.markPrecise(insn.src);
    return pred === 1 ? target : pc + 1;
  }
  if (dst.type === "scalar" && src.type === "scalar" && (dst.id || (x && src.id))) {
    // refining one copy refines every linked one: precision must follow them all back
    env.noteLinked(linkedLocations(env.cur, x ? [dst.id, src.id] : [dst.id]));
  }

  const fall = env.cur;
  const jump = copyState(fall);
  const fr = curFrame(fall).regs;
  const jr = curFrame(jump).regs;
  const fSrc = x ? fr[insn.src]! : src;
  const jSrc = x ? jr[insn.src]! : copyReg(src);
  const fDst = fr[insn.dst]!;
  const jDst = jr[insn.dst]!;
  if (fDst.type === "scalar" && fSrc.type === "scalar") {
    refine(fDst, fSrc, REV[op]!, is32);
    syncBounds(fDst);
    syncBounds(fSrc);
    refine(jDst, jSrc, op, is32);
    syncBounds(jDst);
    syncBounds(jSrc);
    // contradictory bounds are reset, not treated as a dead branch (reg_bounds_sanity_check)
    for (const r of [fDst, fSrc, jDst, jSrc]) if (boundsInvalid(r)) markUnbounded(r);
    if (x) {
      syncLinked(fall, fSrc);
      syncLinked(jump, jSrc);
    }
    syncLinked(fall, fDst);
    syncLinked(jump, jDst);
  }
  // NULL propagation from a comparison with a known non-NULL pointer
  if (!is32 && x && isPointer(dst) && isPointer(src)) {
    const eq = op === JmpOp.JEQ ? jump : op === JmpOp.JNE ? fall : null;
    if (eq) {
      const er = curFrame(eq).regs;
      if (notNull(dst) && src.maybeNull && src.id) markPtrOrNull(eq, src.id, false);
      if (notNull(src) && dst.maybeNull && dst.id) markPtrOrNull(eq, dst.id, false);
      void er;
    }
  }
  if (!is32 && !x && insn.imm === 0 && (op === JmpOp.JEQ || op === JmpOp.JNE) && dst.maybeNull) {
    const id = dst.id;
    markPtrOrNull(fall, id, op === JmpOp.JNE);
    markPtrOrNull(jump, id, op === JmpOp.JEQ);
  } else if (!matchPktPointers(insn, fDst, x ? fSrc : src, fall, jump) && isPointer(dst) && !env.privileged) {
    fail(env, `R${insn.dst} pointer comparison prohibited`, insn.dst);
  }
  env.pushBranch(jump, target);
  return pc + 1;
}

export { scalarBranchTaken, refine };
void regs;
