// State equivalence for pruning: a path whose state is covered by an already fully explored
// state at the same instruction is safe (every register and stack slot at least as precise),
// and an exact repeat of a state still being explored is an infinite loop.

import { type Reg, type VState, type Frame, STACK_INVALID, STACK_MISC, STACK_SPILL, STACK_ZERO, setUnknown, spilledForWrite } from "./state.js";
import * as tn from "./tnum.js";

class IdMap {
  // Built on the first id pair: most comparisons meet no ids at all.
  private fwd: Map<number, number> | null = null;
  private back: Map<number, number> | null = null;
  private fresh = -1;
  /** Ids must correspond one to one between the two states; 0 means "no id". */
  check(oldId: number, curId: number): boolean {
    if (!oldId && !curId) return true;
    if (!oldId || !curId) return false;
    return this.pair(oldId, curId);
  }
  /** Scalars: an unlinked old register is fine; an unlinked current one counts as a fresh id. */
  checkScalar(oldId: number, curId: number): boolean {
    if (!oldId) return true;
    return this.pair(oldId, curId || this.fresh--);
  }
  private pair(a: number, b: number): boolean {
    if (!this.fwd || !this.back) {
      this.fwd = new Map();
      this.back = new Map();
    }
    const f = this.fwd.get(a);
    const r = this.back.get(b);
    if (f === undefined && r === undefined) {
      this.fwd.set(a, b);
      this.back.set(b, a);
      return true;
    }
    return f === b && r === a;
  }
}

const rangeWithin = (o: Reg, c: Reg): boolean =>
  o.umin <= c.umin && o.umax >= c.umax && o.smin <= c.smin && o.smax >= c.smax &&
  o.u32min <= c.u32min && o.u32max >= c.u32max && o.s32min <= c.s32min && o.s32max >= c.s32max;

/** Typed pointers to the same kernel type with the same trust. */
const sameBtf = (o: Reg, c: Reg): boolean => o.btf === c.btf || (o.btf !== null && c.btf !== null && o.btf.id === c.btf.id && o.btf.flags === c.btf.flags && o.btf.btf === c.btf.btf);

function regsExact(o: Reg, c: Reg, ids: IdMap): boolean {
  return o.type === c.type && o.maybeNull === c.maybeNull && o.off === c.off && o.addConst === c.addConst && o.range === c.range && o.map === c.map &&
    o.memSize === c.memSize && o.frameno === c.frameno && o.subprog === c.subprog && sameBtf(o, c) && tn.tnumEqual(o.vo, c.vo) &&
    o.umin === c.umin && o.umax === c.umax && o.smin === c.smin && o.smax === c.smax && o.u32min === c.u32min &&
    o.u32max === c.u32max && o.s32min === c.s32min && o.s32max === c.s32max && ids.check(o.id, c.id) && ids.check(o.refId, c.refId);
}

/** `imprecise`: privileged pruning, where a scalar no explored check depended on matches any scalar. */
function regSafe(o: Reg, c: Reg, ids: IdMap, exact: boolean, imprecise: boolean): boolean {
  if (exact) return regsExact(o, c, ids);
  if (o.type === "not_init") return true;
  if (o.type !== c.type) return false;
  switch (o.type) {
    case "scalar":
      if (imprecise && !o.precise) return true;
      // a copy a constant ahead of its links (BPF_ADD_CONST) matches only one the same constant ahead
      if (o.id && o.addConst !== (c.id !== 0 && c.addConst)) return false;
      if (o.id && o.addConst && o.off !== c.off) return false;
      return ids.checkScalar(o.id, c.id) && rangeWithin(o, c) && tn.tnumIn(o.vo, c.vo);
    case "map_key":
    case "map_value":
    case "mem":
    case "ringbuf_mem":
      return o.maybeNull === c.maybeNull && o.off === c.off && o.map === c.map && o.memSize === c.memSize &&
        rangeWithin(o, c) && tn.tnumIn(o.vo, c.vo) && ids.check(o.id, c.id) && ids.check(o.refId, c.refId);
    case "pkt":
    case "pkt_meta":
      if (o.range > c.range) return false;
      if (o.range < 0 && o.range !== c.range) return false;
      return o.off === c.off && ids.check(o.id, c.id) && rangeWithin(o, c) && tn.tnumIn(o.vo, c.vo);
    default:
      return regsExact(o, c, ids);
  }
}

const fullSpill = (f: Frame, base: number): boolean => {
  for (let i = 0; i < 8; i++) if (f.slotType[base + i] !== STACK_SPILL) return false;
  return true;
};

/** Every byte initialised data, no spill (uninitialised bytes read as data for privileged loaders). */
const plainData = (f: Frame, base: number): boolean => {
  for (let i = 0; i < 8; i++) {
    const t = f.slotType[base + i];
    if (t !== STACK_MISC && t !== STACK_ZERO && t !== STACK_INVALID) return false;
  }
  return true;
};

function stackSafe(o: Frame, c: Frame, ids: IdMap, exact: boolean, privileged: boolean, read: Uint8Array | null, imprecise: boolean): boolean {
  for (let spi = 0; spi < 64; spi++) {
    if (read && !exact && !read[spi]) continue;
    const base = spi * 8;
    const oSpill = o.slotType[base + 7] === STACK_SPILL;
    const cSpill = c.slotType[base + 7] === STACK_SPILL;
    if (exact) {
      for (let i = 0; i < 8; i++) if (o.slotType[base + i] !== c.slotType[base + i]) return false;
      if (oSpill && !regsExact(o.spilled[spi]!, c.spilled[spi]!, ids)) return false;
      continue;
    }
    if (oSpill && cSpill) {
      for (let i = 0; i < 8; i++) if (o.slotType[base + i] !== c.slotType[base + i]) return false;
      if (!regSafe(o.spilled[spi]!, c.spilled[spi]!, ids, false, imprecise)) return false;
      continue;
    }
    // An imprecise 8-byte scalar spill covers any plain data: what it reads back is some scalar either way.
    if (oSpill && imprecise && !o.spilled[spi]!.precise && o.spilled[spi]!.type === "scalar" && fullSpill(o, base) && plainData(c, base)) continue;
    for (let i = 0; i < 8; i++) {
      const ot = o.slotType[base + i]!;
      const ct = c.slotType[base + i]!;
      if (ot === STACK_INVALID) continue;
      if (ot === STACK_MISC) {
        if (ct === STACK_MISC || ct === STACK_ZERO) continue;
        if (ct === STACK_INVALID && privileged) continue;
        if (ct === STACK_SPILL && c.spilled[spi]?.type === "scalar") continue;
        return false;
      }
      if (ot !== ct) return false;
      if (ot === STACK_SPILL) return false; // partial old spill against no current spill
    }
  }
  return true;
}

/**
 * True when `old` covers `cur` (or equals it, with `exact`). `live` masks the innermost frame's
 * registers that may still be read, `callerLive` (registers live before each instruction) those of a
 * caller's frame, live before the call it waits at; `mainRead` the main frame's stack slots the
 * explored path read; the others cannot affect the rest of the path. `rangeWithin` (the kernel's
 * RANGE_WITHIN, for loops still being explored) compares every scalar's range, precise or not.
 */
export function statesCover(
  old: VState, cur: VState, privileged: boolean, exact = false, live = 0x7ff, mainRead: Uint8Array | null = null, rangeWithin = false, callerLive: Uint16Array | null = null,
): boolean {
  const imprecise = privileged && !rangeWithin;
  if (old.frames.length !== cur.frames.length) return false;
  if (old.refs.length !== cur.refs.length) return false;
  const ids = new IdMap();
  for (let i = 0; i < old.refs.length; i++) if (!ids.check(old.refs[i]!.id, cur.refs[i]!.id)) return false;
  for (let f = 0; f < old.frames.length; f++) {
    const of = old.frames[f]!;
    const cf = cur.frames[f]!;
    if (of.callsite !== cf.callsite) return false;
    // fewer bpf_loop iterations queued from this frame: the old state's path stopped counting later
    if (of.callbackDepth > cf.callbackDepth) return false;
    // a caller's registers as Linux 6.18 compares them: those live before its call (frame_insn_idx)
    const last = f === old.frames.length - 1;
    const mask = exact ? 0x7ff : last ? live : callerLive ? callerLive[cur.frames[f + 1]!.callsite]! : 0x7ff;
    for (let r = 0; r <= 10; r++) if ((mask & (1 << r)) !== 0 && !regSafe(of.regs[r]!, cf.regs[r]!, ids, exact, imprecise)) return false;
    if (!stackSafe(of, cf, ids, exact, privileged, f === 0 ? mainRead : null, imprecise)) return false;
  }
  return true;
}

/** maybe_widen_reg: an imprecise scalar that changed since the loop's previous iteration becomes unknown. */
function widenReg(o: Reg, c: Reg, ids: IdMap): boolean {
  if (o.type !== "scalar" || c.type !== "scalar" || o.precise || c.precise) return false;
  return !regsExact(o, c, ids);
}

/**
 * widen_imprecise_scalars: the state a may_goto loop goes round in again (`cur`) forgets the values of imprecise
 * scalars, in registers and 8-byte spills of every frame, that differ from the previous iteration's (`old`), so that
 * the iterations converge on a state the loop check can prune.
 */
export function widenImpreciseScalars(old: VState, cur: VState): void {
  const ids = new IdMap();
  for (let f = Math.min(old.frames.length, cur.frames.length) - 1; f >= 0; f--) {
    const of = old.frames[f]!;
    const cf = cur.frames[f]!;
    for (let r = 0; r <= 10; r++) if (widenReg(of.regs[r]!, cf.regs[r]!, ids)) setUnknown(cf.regs[r]!);
    for (let spi = 0; spi < of.spilled.length; spi++) {
      const o = of.spilled[spi];
      const c = cf.spilled[spi];
      if (!o || !c || of.slotType[spi * 8 + 7] !== STACK_SPILL || cf.slotType[spi * 8 + 7] !== STACK_SPILL) continue;
      if (widenReg(o, c, ids)) setUnknown(spilledForWrite(cf, spi));
    }
  }
}
