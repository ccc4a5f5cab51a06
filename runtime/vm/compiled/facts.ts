// Register facts for the compiled tier's code generator: what is known of each register's value
// at the start of every basic block of the "fast" code, by a forward data-flow analysis over the
// blocks of a program. Takes the prepared code and the block list; gives one State per block.
//
// A register's fact is its upper half when it is a constant, and the unsigned range of its lower
// half (the two are abstracted separately, so a range is meaningful even when the upper half is
// unknown). Conditional jumps refine the facts on each edge (`if r1 < 1000 goto loop` proves r1's
// upper half zero on the back edge), which is what lets counters and indexes run as plain 32-bit
// JavaScript arithmetic. Facts describe the values the generated code actually holds: code
// generation only drops work whose result is provably in place already, so registers stay exact
// everywhere (exits, faults, budget stops, helper calls).
//
// Soundness: every entry the fast code can be started at (slot 0, function entries, return sites)
// starts with nothing known. Loops converge by widening a growing bound to its extreme after a few
// visits, then a few narrowing passes (each one a post-fixpoint, so still sound) win back bounds the
// loop's own condition gives.

import { F_AUX, F_DST, F_HI, F_LO, F_SRC, STRIDE, XOp, isProbeLoad } from "../program.js";

export const FULL = 0xffffffff;
const TWO32 = 4294967296;

/** What is known of one register: its upper half (undefined: unknown) and its lower half's unsigned range. */
export interface Val {
  readonly hi: number | undefined;
  readonly min: number;
  readonly max: number;
}

/** Facts of r0..r10. */
export type State = Val[];

export const TOP: Val = { hi: undefined, min: 0, max: FULL };

export const exact = (hi: number, lo: number): Val => ({ hi: hi | 0, min: lo >>> 0, max: lo >>> 0 });

const val = (hi: number | undefined, min: number, max: number): Val => ({ hi: hi === undefined ? undefined : hi | 0, min, max });

/** A value whose upper half is zero and whose lower half lies in [min, max] (a full range when it overflows). */
const low = (min: number, max: number): Val => (min >= 0 && max <= FULL && min <= max ? val(0, min, max) : val(0, 0, FULL));

export const topState = (): State => Array.from({ length: 11 }, () => TOP);

/** The smallest 2^k - 1 at or above x (bound of x | y and x ^ y). */
const ones = (x: number): number => {
  let m = 0;
  while (m < x) m = m * 2 + 1;
  return m;
};

/** The operand of an ALU or jump instruction: src register, or the immediate (sign-extended upper half). */
export function operand(st: State, op: number, s: number, lo: number, hi: number): Val {
  return (op & 8) !== 0 ? st[s]! : exact(hi, lo);
}

/** 64-bit sum (or difference) of a and b: carry known -> exact halves, else unknown. */
function add64(a: Val, b: Val): Val {
  const lo = a.min + b.min;
  const up = a.max + b.max;
  const carry = up <= FULL ? 0 : lo > FULL ? 1 : -1;
  if (carry < 0) return TOP;
  const hi = a.hi !== undefined && b.hi !== undefined ? a.hi + b.hi + carry : undefined;
  return val(hi, lo - carry * TWO32, up - carry * TWO32);
}

function sub64(a: Val, b: Val): Val {
  const borrow = a.min >= b.max ? 0 : a.max < b.min ? 1 : -1;
  if (borrow < 0) return TOP;
  const hi = a.hi !== undefined && b.hi !== undefined ? a.hi - b.hi - borrow : undefined;
  return val(hi, a.min - b.max + borrow * TWO32, a.max - b.min + borrow * TWO32);
}

/** Whether a 64-bit add of b to a never carries out of the lower half. */
export const addNoCarry = (a: Val, b: Val): boolean => a.max + b.max <= FULL;
/** Whether a 64-bit subtraction of b from a never borrows from the upper half. */
export const subNoBorrow = (a: Val, b: Val): boolean => a.min >= b.max;

/** The fact of dst after ALU op (class 4 or 7, including the internal signed div/mod and movsx ops). */
export function aluFact(op: number, a: Val, b: Val, lo: number): Val {
  const cls = op & 7;
  const k64 = lo & 63;
  const k32 = lo & 31;
  const zeroHi = a.hi === 0;
  if (cls === 7 || op === 0xdc || op === 0xd7 || op === 0x70 || op === 0x78 || op === 0x80 || op === 0x88 || op === 0xb0) {
    switch (op) {
      case 0x07:
      case 0x0f:
        return add64(a, b);
      case 0x17:
      case 0x1f:
        return sub64(a, b);
      case 0x27:
      case 0x2f:
        return zeroHi && b.hi === 0 && a.max * b.max <= FULL ? val(0, a.min * b.min, a.max * b.max) : TOP;
      case 0x37:
      case 0x3f:
      case 0x97:
      case 0x9f:
        // Unsigned div and mod never exceed the dividend (x / 0 = 0, x % 0 = x).
        return zeroHi ? val(0, 0, a.max) : TOP;
      case 0x47:
      case 0x4f:
        return val(a.hi !== undefined && b.hi !== undefined ? a.hi | b.hi : b.hi === 0 ? a.hi : undefined, Math.max(a.min, b.min), ones(Math.max(a.max, b.max)));
      case 0x57:
      case 0x5f: {
        const hi = a.hi !== undefined && b.hi !== undefined ? a.hi & b.hi : a.hi === 0 || b.hi === 0 ? 0 : b.hi === -1 ? a.hi : a.hi === -1 ? b.hi : undefined;
        return val(hi, 0, Math.min(a.max, b.max));
      }
      case 0xa7:
      case 0xaf:
        return val(a.hi !== undefined && b.hi !== undefined ? a.hi ^ b.hi : b.hi === 0 ? a.hi : undefined, 0, ones(Math.max(a.max, b.max)));
      case 0xb7:
      case 0xbf:
        return b;
      case 0x67:
        if (k64 === 0) return a;
        if (k64 >= 32) return val(undefined, 0, 0);
        return zeroHi && a.max * 2 ** k64 <= FULL ? val(0, a.min * 2 ** k64, a.max * 2 ** k64) : TOP;
      case 0x77:
      case 0xc7:
        if (k64 === 0) return a;
        if (zeroHi) return k64 >= 32 ? exact(0, 0) : val(0, Math.floor(a.min / 2 ** k64), Math.floor(a.max / 2 ** k64));
        return op === 0x77 && k64 >= 32 ? val(0, 0, 2 ** (64 - k64) - 1) : TOP;
      case 0x7f:
      case 0xcf:
        return zeroHi ? val(0, 0, a.max) : TOP;
      case 0xd7:
      case 0xdc:
        return lo === 16 ? val(0, 0, 0xffff) : lo === 32 ? val(0, 0, FULL) : TOP;
      default:
        return TOP;
    }
  }
  // 32-bit results: the upper half is zero.
  switch (op) {
    case 0x04:
    case 0x0c: {
      const s = a.min + b.min;
      const e = a.max + b.max;
      return e <= FULL ? low(s, e) : s > FULL ? low(s - TWO32, e - TWO32) : low(0, FULL);
    }
    case 0x14:
    case 0x1c:
      return a.min >= b.max ? low(a.min - b.max, a.max - b.min) : low(0, FULL);
    case 0x24:
    case 0x2c:
      return a.max * b.max <= FULL ? low(a.min * b.min, a.max * b.max) : low(0, FULL);
    case 0x34:
    case 0x3c:
    case 0x94:
    case 0x9c:
      return low(0, a.max);
    case 0x44:
    case 0x4c:
      return low(Math.max(a.min, b.min), ones(Math.max(a.max, b.max)));
    case 0x54:
    case 0x5c:
      return low(0, Math.min(a.max, b.max));
    case 0xa4:
    case 0xac:
      return low(0, ones(Math.max(a.max, b.max)));
    case 0x64:
      return a.max * 2 ** k32 <= FULL ? low(a.min * 2 ** k32, a.max * 2 ** k32) : low(0, FULL);
    case 0x74:
      return low(Math.floor(a.min / 2 ** k32), Math.floor(a.max / 2 ** k32));
    case 0xc4:
      return a.max < 0x80000000 ? low(Math.floor(a.min / 2 ** k32), Math.floor(a.max / 2 ** k32)) : low(0, FULL);
    case 0x7c:
      return low(0, a.max);
    case 0xcc:
      return a.max < 0x80000000 ? low(0, a.max) : low(0, FULL);
    case 0xb4:
    case 0xbc:
      return low(b.min, b.max);
    case 0xd4:
      return lo === 16 ? low(0, Math.min(a.max, 0xffff)) : lo === 32 ? low(a.min, a.max) : a;
    default:
      return low(0, FULL);
  }
}

const SIZE_MAX: Record<number, number> = { 0x00: FULL, 0x08: 0xffff, 0x10: 0xff };

/** Updates `st` for one straight-line (non-terminator) instruction at `pc`. */
export function transfer(code: Int32Array, pc: number, st: State): void {
  const at = pc * STRIDE;
  const op = code[at]!;
  const d = code[at + F_DST]! >> 1;
  const s = code[at + F_SRC]! >> 1;
  const lo = code[at + F_LO]!;
  const hi = code[at + F_HI]!;
  const cls = op & 7;
  if (op === 0x18) st[d] = exact(hi, lo);
  else if (op === 0x85) st[0] = TOP;
  else if (op === 0xc3 || op === 0xdb) st[0] = st[s] = TOP;
  else if (cls === 1 || isProbeLoad(op)) {
    // LDX: zero-extending loads below 8 bytes give a lower half in range and a zero upper half (a fault of a
    // PROBE_LDX gives zero, inside that range too).
    const max = (op & 0xe0) === 0x80 ? undefined : SIZE_MAX[op & 0x18];
    st[d] = max === undefined ? TOP : val(0, 0, max);
  } else if (cls !== 2 && cls !== 3) {
    // ALU32, ALU64 and the internal ALU ops (the only other straight-line instructions).
    st[d] = aluFact(op, st[d]!, operand(st, op, s, lo, hi), lo);
  }
}

// ---------------------------------------------------------------- conditions

/** Facts on one edge of a conditional jump; undefined when the edge cannot be taken. */
export function refine(code: Int32Array, pc: number, st: State, taken: boolean): State | undefined {
  const at = pc * STRIDE;
  const op = code[at]!;
  const d = code[at + F_DST]! >> 1;
  const s = code[at + F_SRC]! >> 1;
  const a = st[d]!;
  const b = operand(st, op, s, code[at + F_LO]!, code[at + F_HI]!);
  const jmp32 = (op & 7) === 6;
  let j = op & 0xf0;
  // Signed order agrees with unsigned order when both values lie in [0, 2^31) (lower halves for
  // JMP32) or have zero upper halves (64-bit).
  const signed = j === 0x60 || j === 0x70 || j === 0xc0 || j === 0xd0;
  if (signed) {
    const agree = jmp32 ? a.max < 0x80000000 && b.max < 0x80000000 : a.hi === 0 && b.hi === 0;
    if (!agree) return st;
    j = j === 0x60 ? 0x20 : j === 0x70 ? 0x30 : j === 0xc0 ? 0xa0 : 0xb0;
  }
  // Normalize to the relation that holds on this edge: a < b, a <= b, a > b, a >= b, a == b, a != b.
  const negate: Record<number, number> = { 0x20: 0xb0, 0x30: 0xa0, 0xa0: 0x30, 0xb0: 0x20, 0x10: 0x50, 0x50: 0x10 };
  if (negate[j] === undefined) return st; // JSET
  const rel = taken ? j : negate[j]!;
  // The upper halves take part in 64-bit compares: a < b or a <= b with b's upper half zero proves
  // a's zero; the other relations refine only when a's upper half is already known to be zero.
  const bLow = jmp32 || b.hi === 0;
  let min = a.min;
  let max = a.max;
  let hi = a.hi;
  switch (rel) {
    case 0xa0: // a < b
      if (!bLow) return st;
      max = Math.min(max, b.max - 1);
      if (!jmp32) hi = 0;
      break;
    case 0xb0: // a <= b
      if (!bLow) return st;
      max = Math.min(max, b.max);
      if (!jmp32) hi = 0;
      break;
    case 0x20: // a > b
      if (!jmp32 && (a.hi !== 0 || b.hi === undefined)) return st;
      if (!jmp32 && b.hi !== 0) return undefined; // a < 2^32 <= b
      min = Math.max(min, b.min + 1);
      break;
    case 0x30: // a >= b
      if (!jmp32 && (a.hi !== 0 || b.hi === undefined)) return st;
      if (!jmp32 && b.hi !== 0) return undefined;
      min = Math.max(min, b.min);
      break;
    case 0x10: // a == b
      min = Math.max(min, b.min);
      max = Math.min(max, b.max);
      if (!jmp32 && b.hi !== undefined) {
        if (hi !== undefined && hi !== b.hi) return undefined;
        hi = b.hi;
      }
      break;
    default: // a != b: an exact b trims an end of a's range
      if (b.min !== b.max || (!jmp32 && (a.hi !== 0 || b.hi !== 0))) return st;
      if (b.min === min) min++;
      else if (b.min === max) max--;
      break;
  }
  if (min > max) return undefined;
  const out = st.slice();
  out[d] = val(hi, min, max);
  return out;
}

// ---------------------------------------------------------------- data flow

/** A basic block as the analysis sees it. */
export interface BlockShape {
  start: number;
  /** Straight-line instruction slots, in order. */
  body: number[];
  /** The terminator's slot, if the block ends in one. */
  term?: number;
  /** The straight-line successor slot, if control can reach it. */
  fall?: number;
}

const sameVal = (x: Val, y: Val): boolean => x.hi === y.hi && x.min === y.min && x.max === y.max;

function join(x: State | undefined, y: State): State {
  if (x === undefined) return y.slice();
  return x.map((a, r) => {
    const b = y[r]!;
    return sameVal(a, b) ? a : val(a.hi === b.hi ? a.hi : undefined, Math.min(a.min, b.min), Math.max(a.max, b.max));
  });
}

/** Widening: a bound that grew since `old` goes to its extreme, a changed upper half to unknown. */
function widen(old: State, cur: State): State {
  return cur.map((c, r) => {
    const o = old[r]!;
    if (sameVal(o, c)) return c;
    return val(o.hi === c.hi ? c.hi : undefined, c.min < o.min ? 0 : c.min, c.max > o.max ? FULL : c.max);
  });
}

const sameState = (x: State | undefined, y: State | undefined): boolean =>
  x === y || (x !== undefined && y !== undefined && x.every((a, r) => sameVal(a, y[r]!)));

/** The successor edges of a block from its in-state: [block slot, facts] pairs. */
function edges(code: Int32Array, blk: BlockShape, inState: State, isCond: (op: number) => boolean): [number, State][] {
  const st = inState.slice();
  for (const pc of blk.body) transfer(code, pc, st);
  const out: [number, State][] = [];
  if (blk.term === undefined) {
    if (blk.fall !== undefined) out.push([blk.fall, st]);
    return out;
  }
  const at = blk.term * STRIDE;
  const op = code[at]!;
  if (op === 0x05) out.push([code[at + F_AUX]!, st]);
  else if (op === XOp.MAY_GOTO) {
    // Either way the registers are untouched.
    out.push([code[at + F_AUX]!, st]);
    if (blk.fall !== undefined) out.push([blk.fall, st.slice()]);
  } else if (isCond(op)) {
    const yes = refine(code, blk.term, st, true);
    const no = refine(code, blk.term, st, false);
    if (yes !== undefined) out.push([code[at + F_AUX]!, yes]);
    if (no !== undefined && blk.fall !== undefined) out.push([blk.fall, no]);
  } else if (blk.fall !== undefined) {
    // LD_ABS/LD_IND set r0 to a zero-extended packet value; a tail call that falls through changes nothing.
    if (op === XOp.CALL_CALLBACK) st[0] = TOP;
    else if (op !== 0x68) {
      const size = (op & 0x18) === 0 ? FULL : (op & 0x18) === 0x08 ? 0xffff : 0xff;
      st[0] = val(0, 0, size);
    }
    out.push([blk.fall, st]);
  }
  return out;
}

/**
 * In-states of `blocks` (undefined: unreachable from any entry). `index` maps a slot to its block
 * number; `entries` are the slots the fast code can be started at or called into.
 */
export function analyze(code: Int32Array, blocks: BlockShape[], index: Int32Array, entries: Iterable<number>, isCond: (op: number) => boolean): (State | undefined)[] {
  const n = blocks.length;
  const entryBlocks = new Set<number>();
  for (const e of entries) if (index[e]! >= 0) entryBlocks.add(index[e]!);
  const inS: (State | undefined)[] = new Array(n).fill(undefined);
  const visits = new Int32Array(n);
  const work: number[] = [];
  const queued = new Uint8Array(n);
  for (const b of entryBlocks) {
    inS[b] = topState();
    work.push(b);
    queued[b] = 1;
  }
  while (work.length > 0) {
    const b = work.pop()!;
    queued[b] = 0;
    for (const [slot, st] of edges(code, blocks[b]!, inS[b]!, isCond)) {
      const t = index[slot]!;
      if (t < 0) continue;
      const old = inS[t];
      let next = join(old, st);
      if (old !== undefined && ++visits[t]! > 3) next = widen(old, next);
      if (!sameState(old, next)) {
        inS[t] = next;
        if (!queued[t]) {
          queued[t] = 1;
          work.push(t);
        }
      }
    }
  }
  // Narrowing: recompute every in-state from its predecessors' out-states, a few times.
  for (let pass = 0; pass < 3; pass++) {
    const next: (State | undefined)[] = new Array(n).fill(undefined);
    for (const b of entryBlocks) next[b] = topState();
    for (let b = 0; b < n; b++) {
      if (inS[b] === undefined) continue;
      for (const [slot, st] of edges(code, blocks[b]!, inS[b]!, isCond)) {
        const t = index[slot]!;
        if (t >= 0) next[t] = join(next[t], st);
      }
    }
    for (let b = 0; b < n; b++) inS[b] = next[b];
  }
  return inS;
}
