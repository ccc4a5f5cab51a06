// Scalar value tracking: a tnum plus signed/unsigned 64- and 32-bit bounds, kept mutually
// consistent, and the transfer functions of the ALU operations (the kernel's range rules).
// Every bound is a bigint: unsigned ones in [0, 2^n), signed ones in [-2^(n-1), 2^(n-1)).

import * as tn from "./tnum.js";
import { type Tnum, s32, s64, u32, u64, U32_MAX, U64_MAX } from "./tnum.js";

export const S64_MIN = -(1n << 63n);
export const S64_MAX = (1n << 63n) - 1n;
export const S32_MIN = -(1n << 31n);
export const S32_MAX = (1n << 31n) - 1n;

export interface Bounds {
  vo: Tnum;
  smin: bigint;
  smax: bigint;
  umin: bigint;
  umax: bigint;
  s32min: bigint;
  s32max: bigint;
  u32min: bigint;
  u32max: bigint;
}

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

export function unknownBounds(): Bounds {
  return { vo: tn.TNUM_UNKNOWN, smin: S64_MIN, smax: S64_MAX, umin: 0n, umax: U64_MAX, s32min: S32_MIN, s32max: S32_MAX, u32min: 0n, u32max: U32_MAX };
}

export function markKnown(b: Bounds, v: bigint): void {
  const uv = u64(v);
  b.vo = tn.tnumConst(uv);
  b.smin = b.smax = s64(uv);
  b.umin = b.umax = uv;
  b.s32min = b.s32max = s32(uv);
  b.u32min = b.u32max = u32(uv);
}

export function mark32Known(b: Bounds, v: bigint): void {
  b.vo = tn.withSubreg(b.vo, tn.tnumConst(v));
  b.s32min = b.s32max = s32(v);
  b.u32min = b.u32max = u32(v);
}

export function mark64Unbounded(b: Bounds): void {
  b.smin = S64_MIN;
  b.smax = S64_MAX;
  b.umin = 0n;
  b.umax = U64_MAX;
}
export function mark32Unbounded(b: Bounds): void {
  b.s32min = S32_MIN;
  b.s32max = S32_MAX;
  b.u32min = 0n;
  b.u32max = U32_MAX;
}
export function markUnbounded(b: Bounds): void {
  mark64Unbounded(b);
  mark32Unbounded(b);
}
export function markUnknownBounds(b: Bounds): void {
  b.vo = tn.TNUM_UNKNOWN;
  markUnbounded(b);
}

export const isConstBounds = (b: Bounds, is32: boolean): boolean => (is32 ? tn.subregIsConst(b.vo) : tn.isConst(b.vo));
export const constValue = (b: Bounds, is32: boolean): bigint => (is32 ? u32(b.vo.value) : b.vo.value);

// ---------------------------------------------------------------- keeping bounds in sync

function update32(b: Bounds): void {
  const t = tn.subreg(b.vo);
  b.s32min = max(b.s32min, s32(t.value | (t.mask & 0x80000000n)));
  b.s32max = min(b.s32max, s32(t.value | (t.mask & 0x7fffffffn)));
  b.u32min = max(b.u32min, t.value);
  b.u32max = min(b.u32max, t.value | t.mask);
}
function update64(b: Bounds): void {
  const t = b.vo;
  b.smin = max(b.smin, s64(t.value | (t.mask & (1n << 63n))));
  b.smax = min(b.smax, s64(t.value | (t.mask & S64_MAX)));
  b.umin = max(b.umin, t.value);
  b.umax = min(b.umax, t.value | t.mask);
}
export function updateBounds(b: Bounds): void {
  update32(b);
  update64(b);
}

function deduce32(b: Bounds): void {
  if (b.umin >> 32n === b.umax >> 32n) {
    b.u32min = max(b.u32min, u32(b.umin));
    b.u32max = min(b.u32max, u32(b.umax));
    if (s32(b.umin) <= s32(b.umax)) {
      b.s32min = max(b.s32min, s32(b.umin));
      b.s32max = min(b.s32max, s32(b.umax));
    }
  }
  if (b.smin >> 32n === b.smax >> 32n) {
    if (u32(b.smin) <= u32(b.smax)) {
      b.u32min = max(b.u32min, u32(b.smin));
      b.u32max = min(b.u32max, u32(b.smax));
    }
    if (s32(b.smin) <= s32(b.smax)) {
      b.s32min = max(b.s32min, s32(b.smin));
      b.s32max = min(b.s32max, s32(b.smax));
    }
  }
  // The upper halves differ by one and the lower halves cross zero as s32: still a contiguous s32 range.
  if (u32((b.umin >> 32n) + 1n) === u32(b.umax >> 32n) && s32(b.umin) < 0n && s32(b.umax) >= 0n) {
    b.s32min = max(b.s32min, s32(b.umin));
    b.s32max = min(b.s32max, s32(b.umax));
  }
  if (u32(u64(b.smin) >> 32n) + 1n === u32(u64(b.smax) >> 32n) && s32(b.smin) < 0n && s32(b.smax) >= 0n) {
    b.s32min = max(b.s32min, s32(b.smin));
    b.s32max = min(b.s32max, s32(b.smax));
  }
  if (s32(b.u32min) <= s32(b.u32max)) {
    b.s32min = max(b.s32min, s32(b.u32min));
    b.s32max = min(b.s32max, s32(b.u32max));
  }
  if (u32(b.s32min) <= u32(b.s32max)) {
    b.u32min = max(u32(b.s32min), b.u32min);
    b.u32max = min(u32(b.s32max), b.u32max);
  } else if (b.u32max < u32(b.s32min)) {
    b.s32min = s32(b.u32min);
    b.u32max = min(b.u32max, u32(b.s32max));
  } else if (u32(b.s32max) < b.u32min) {
    b.s32max = s32(b.u32max);
    b.u32min = max(b.u32min, u32(b.s32min));
  }
}

function deduce64(b: Bounds): void {
  if (s64(b.umin) <= s64(b.umax)) {
    b.smin = max(b.smin, s64(b.umin));
    b.smax = min(b.smax, s64(b.umax));
  }
  if (u64(b.smin) <= u64(b.smax)) {
    b.umin = max(u64(b.smin), b.umin);
    b.umax = min(u64(b.smax), b.umax);
  } else if (b.umax < u64(b.smin)) {
    b.smin = s64(b.umin);
    b.umax = min(b.umax, u64(b.smax));
  } else if (u64(b.smax) < b.umin) {
    b.smax = s64(b.umax);
    b.umin = max(b.umin, u64(b.smin));
  }
}

const HIGH = U64_MAX ^ U32_MAX;

function deduceMixed(b: Bounds): void {
  b.umin = max(b.umin, (b.umin & HIGH) | b.u32min);
  b.umax = min(b.umax, (b.umax & HIGH) | b.u32max);
  b.smin = max(b.smin, s64((u64(b.smin) & HIGH) | b.u32min));
  b.smax = min(b.smax, s64((u64(b.smax) & HIGH) | b.u32max));
  if (u32(b.s32min) <= u32(b.s32max)) {
    b.umin = max(b.umin, (b.umin & HIGH) | u32(b.s32min));
    b.umax = min(b.umax, (b.umax & HIGH) | u32(b.s32max));
    b.smin = max(b.smin, s64((u64(b.smin) & HIGH) | u32(b.s32min)));
    b.smax = min(b.smax, s64((u64(b.smax) & HIGH) | u32(b.s32max)));
  }
  if (b.s32min >= 0n && b.smin >= S32_MIN && b.smax <= S32_MAX) {
    b.smin = b.s32min;
    b.smax = b.s32max;
    b.umin = b.s32min;
    b.umax = b.s32max;
    b.vo = tn.intersect(b.vo, tn.tnumRange(b.smin, b.smax));
  }
}

function deduce(b: Bounds): void {
  deduce32(b);
  deduce64(b);
  deduceMixed(b);
}

function boundOffset(b: Bounds): void {
  const v64 = tn.intersect(b.vo, tn.tnumRange(b.umin, b.umax));
  const v32 = tn.intersect(tn.subreg(v64), tn.tnumRange(b.u32min, b.u32max));
  b.vo = tn.or(tn.clearSubreg(v64), v32);
}

const SMALL = 0x80000000n;

/**
 * Tightens every bound from every other one (the kernel's reg_bounds_sync). Common cases take a
 * shortcut with exactly the general path's result (bigint arithmetic is most of the model's time):
 * a constant tnum every bound admits, values that all lie in [0, 2^31), and two fixpoints.
 */
export function syncBounds(b: Bounds): void {
  const vo = b.vo;
  if (vo.mask === 0n) {
    // A constant every range admits: updateBounds narrows each range to the constant's view, and
    // the rest leaves a consistent constant as it is.
    const v = vo.value;
    const sv = s64(v);
    const v32 = u32(v);
    const sv32 = s32(v);
    if (b.umin <= v && v <= b.umax && b.smin <= sv && sv <= b.smax && b.u32min <= v32 && v32 <= b.u32max && b.s32min <= sv32 && sv32 <= b.s32max) {
      b.umin = b.umax = v;
      b.smin = b.smax = sv;
      b.u32min = b.u32max = v32;
      b.s32min = b.s32max = sv32;
      return;
    }
  } else if (syncSmall(b)) return;
  else if (vo.value === 0n && b.s32min === S32_MIN && b.s32max === S32_MAX && b.u32min === 0n && b.u32max === U32_MAX) {
    // the two commonest fixpoints left: nothing known, and an unknown zero-extended 32-bit value
    if (vo.mask === U64_MAX && b.smin === S64_MIN && b.smax === S64_MAX && b.umin === 0n && b.umax === U64_MAX) return;
    if (vo.mask === U32_MAX && b.smin === 0n && b.smax === U32_MAX && b.umin === 0n && b.umax === U32_MAX) return;
  }
  syncBoundsFull(b);
}

/**
 * Every bound and every value of the tnum in [0, 2^31): there the signed and unsigned, 32- and
 * 64-bit views of a value coincide, and the general path comes down to intersecting the four
 * ranges and the tnum's span (L, H), narrowing the tnum to [L, H] and the ranges to the result's
 * span. Computed in 32-bit integers. False (nothing changed) outside that domain or when the
 * ranges do not overlap, where the general path's order of deductions matters.
 */
function syncSmall(b: Bounds): boolean {
  const vo = b.vo;
  if ((vo.value | vo.mask) >= SMALL) return false;
  if (b.umin < 0n || b.umax >= SMALL || b.smin < 0n || b.smax >= SMALL || b.u32min < 0n || b.u32max >= SMALL || b.s32min < 0n || b.s32max >= SMALL) return false;
  const tv = Number(vo.value);
  const tm = Number(vo.mask);
  const lo = Math.max(Number(b.umin), Number(b.smin), Number(b.u32min), Number(b.s32min), tv);
  const hi = Math.min(Number(b.umax), Number(b.smax), Number(b.u32max), Number(b.s32max), tv | tm);
  if (lo > hi) return false;
  // tnumRange(lo, hi), then the intersection with the tnum
  const chi = lo ^ hi;
  const delta = chi === 0 ? 0 : 0xffffffff >>> Math.clz32(chi);
  const mask = tm & delta;
  const value = (tv | (lo & ~delta)) & ~mask;
  const min = Math.max(lo, value);
  const max = Math.min(hi, value | mask);
  const bmin = BigInt(min);
  const bmax = min === max ? bmin : BigInt(max);
  if (value !== tv || mask !== tm) b.vo = { value: BigInt(value), mask: BigInt(mask) };
  b.umin = b.smin = b.u32min = b.s32min = bmin;
  b.umax = b.smax = b.u32max = b.s32max = bmax;
  return true;
}

/** reg_bounds_sync without the shortcuts (tests check that the shortcuts give its result). */
export function syncBoundsFull(b: Bounds): void {
  updateBounds(b);
  // deduce is a function of the bounds alone: once a pass changes nothing, the remaining passes would not either.
  for (let pass = 0; pass < 3; pass++) {
    const { vo, smin, smax, umin, umax, s32min, s32max, u32min, u32max } = b;
    deduce(b);
    if (tn.tnumEqual(b.vo, vo) && b.smin === smin && b.smax === smax && b.umin === umin && b.umax === umax && b.s32min === s32min && b.s32max === s32max && b.u32min === u32min && b.u32max === u32max) break;
  }
  boundOffset(b);
  updateBounds(b);
}

/** True when the bounds contradict each other (an impossible path). */
export function boundsInvalid(b: Bounds): boolean {
  return b.umin > b.umax || b.smin > b.smax || b.u32min > b.u32max || b.s32min > b.s32max;
}

/** After a 32-bit operation the upper half is zero: 64-bit bounds come from the 32-bit ones. */
export function zext32to64(b: Bounds): void {
  b.vo = tn.subreg(b.vo);
  b.umin = b.u32min;
  b.umax = b.u32max;
  if (b.s32min >= 0n && b.s32max >= 0n) {
    b.smin = b.s32min;
    b.smax = b.s32max;
  } else {
    b.smin = 0n;
    b.smax = U32_MAX;
  }
}

/** A zero-extending narrow load or truncation to `size` bytes. */
export function coerceToSize(b: Bounds, size: number): void {
  if (size >= 8) return;
  const bits = BigInt(size * 8);
  const mask = (1n << bits) - 1n;
  b.vo = { value: b.vo.value & mask, mask: b.vo.mask & mask };
  if ((b.umin & ~mask) === (b.umax & ~mask)) {
    b.umin &= mask;
    b.umax &= mask;
  } else {
    b.umin = 0n;
    b.umax = mask;
  }
  b.smin = b.umin;
  b.smax = b.umax;
  if (size < 4) {
    b.u32min = b.umin;
    b.u32max = b.umax;
    b.s32min = b.umin;
    b.s32max = b.umax;
  }
  syncBounds(b);
}

const sext = (v: bigint, size: number): bigint => BigInt.asIntN(size * 8, v);

/** A sign-extending load or move from `size` bytes to 64 bits. */
export function coerceToSizeSx(b: Bounds, size: number): void {
  const bits = BigInt(size * 8);
  if (tn.isConst(b.vo)) {
    markKnown(b, sext(b.vo.value, size));
    return;
  }
  const topMax = (u64(b.smax) >> bits) << bits;
  const topMin = (u64(b.smin) >> bits) << bits;
  if (topMax === topMin) {
    const a = sext(u64(b.smax), size);
    const c = sext(u64(b.smin), size);
    const hi = max(a, c);
    const lo = min(a, c);
    if (hi >= 0n === lo >= 0n) {
      b.smin = lo;
      b.smax = hi;
      b.s32min = lo;
      b.s32max = hi;
      b.umin = u64(lo);
      b.umax = u64(hi);
      b.u32min = u32(lo);
      b.u32max = u32(hi);
      b.vo = tn.tnumRange(u64(lo), u64(hi));
      return;
    }
  }
  const half = 1n << (bits - 1n);
  b.smin = b.s32min = -half;
  b.smax = b.s32max = half - 1n;
  b.umin = 0n;
  b.u32min = 0n;
  b.umax = U64_MAX;
  b.u32max = U32_MAX;
  b.vo = tn.TNUM_UNKNOWN;
}

/** A sign-extending 32-bit move from `size` bytes: the subregister only (the caller zero-extends). */
export function coerceSubregToSizeSx(b: Bounds, size: number): void {
  if (tn.subregIsConst(b.vo)) {
    const v = u32(sext(b.vo.value, size));
    mark32Known(b, v);
    return;
  }
  const half = 1n << BigInt(size * 8 - 1);
  b.s32min = -half;
  b.s32max = half - 1n;
  b.u32min = 0n;
  b.u32max = U32_MAX;
  b.vo = tn.withSubreg(b.vo, { value: 0n, mask: U32_MAX });
}

// ---------------------------------------------------------------- ALU transfer functions

export function add32(d: Bounds, s: Bounds): void {
  const smin = d.s32min + s.s32min;
  const smax = d.s32max + s.s32max;
  if (smin !== s32(smin) || smax !== s32(smax)) {
    d.s32min = S32_MIN;
    d.s32max = S32_MAX;
  } else {
    d.s32min = smin;
    d.s32max = smax;
  }
  const umin = d.u32min + s.u32min;
  const umax = d.u32max + s.u32max;
  if (umin > U32_MAX || umax > U32_MAX) {
    d.u32min = 0n;
    d.u32max = U32_MAX;
  } else {
    d.u32min = umin;
    d.u32max = umax;
  }
}
export function add64(d: Bounds, s: Bounds): void {
  const smin = d.smin + s.smin;
  const smax = d.smax + s.smax;
  if (smin !== s64(smin) || smax !== s64(smax)) {
    d.smin = S64_MIN;
    d.smax = S64_MAX;
  } else {
    d.smin = smin;
    d.smax = smax;
  }
  const umin = d.umin + s.umin;
  const umax = d.umax + s.umax;
  if (umin > U64_MAX || umax > U64_MAX) {
    d.umin = 0n;
    d.umax = U64_MAX;
  } else {
    d.umin = umin;
    d.umax = umax;
  }
}
function sub32(d: Bounds, s: Bounds): void {
  const smin = d.s32min - s.s32max;
  const smax = d.s32max - s.s32min;
  if (smin !== s32(smin) || smax !== s32(smax)) {
    d.s32min = S32_MIN;
    d.s32max = S32_MAX;
  } else {
    d.s32min = smin;
    d.s32max = smax;
  }
  if (d.u32min < s.u32max) {
    d.u32min = 0n;
    d.u32max = U32_MAX;
  } else {
    d.u32min -= s.u32max;
    d.u32max -= s.u32min;
  }
}
function sub64(d: Bounds, s: Bounds): void {
  const smin = d.smin - s.smax;
  const smax = d.smax - s.smin;
  if (smin !== s64(smin) || smax !== s64(smax)) {
    d.smin = S64_MIN;
    d.smax = S64_MAX;
  } else {
    d.smin = smin;
    d.smax = smax;
  }
  if (d.umin < s.umax) {
    d.umin = 0n;
    d.umax = U64_MAX;
  } else {
    d.umin -= s.umax;
    d.umax -= s.umin;
  }
}
// Multiplication as the running kernel (6.14 and later) bounds it: the unsigned range from the
// products of the minimums and of the maximums unless one overflows, the signed range from the four
// products of the corners unless one overflows (check_mul_overflow); otherwise unbounded.
function mul32(d: Bounds, s: Bounds): void {
  const umin = d.u32min * s.u32min;
  const umax = d.u32max * s.u32max;
  if (umax > U32_MAX || umin > U32_MAX) {
    d.u32min = 0n;
    d.u32max = U32_MAX;
  } else {
    d.u32min = umin;
    d.u32max = umax;
  }
  const p0 = d.s32min * s.s32min;
  const p1 = d.s32min * s.s32max;
  const p2 = d.s32max * s.s32min;
  const p3 = d.s32max * s.s32max;
  if (p0 !== s32(p0) || p1 !== s32(p1) || p2 !== s32(p2) || p3 !== s32(p3)) {
    d.s32min = S32_MIN;
    d.s32max = S32_MAX;
  } else {
    d.s32min = min(min(p0, p1), min(p2, p3));
    d.s32max = max(max(p0, p1), max(p2, p3));
  }
}
function mul64(d: Bounds, s: Bounds): void {
  const umin = d.umin * s.umin;
  const umax = d.umax * s.umax;
  if (umax > U64_MAX || umin > U64_MAX) {
    d.umin = 0n;
    d.umax = U64_MAX;
  } else {
    d.umin = umin;
    d.umax = umax;
  }
  const p0 = d.smin * s.smin;
  const p1 = d.smin * s.smax;
  const p2 = d.smax * s.smin;
  const p3 = d.smax * s.smax;
  if (p0 !== s64(p0) || p1 !== s64(p1) || p2 !== s64(p2) || p3 !== s64(p3)) {
    d.smin = S64_MIN;
    d.smax = S64_MAX;
  } else {
    d.smin = min(min(p0, p1), min(p2, p3));
    d.smax = max(max(p0, p1), max(p2, p3));
  }
}
/** Shared tail of and/or/xor: signed bounds follow the unsigned ones when they do not cross the sign. */
function signedFromUnsigned32(d: Bounds): void {
  if (s32(d.u32min) <= s32(d.u32max)) {
    d.s32min = s32(d.u32min);
    d.s32max = s32(d.u32max);
  } else {
    d.s32min = S32_MIN;
    d.s32max = S32_MAX;
  }
}
function signedFromUnsigned64(d: Bounds): void {
  if (s64(d.umin) <= s64(d.umax)) {
    d.smin = s64(d.umin);
    d.smax = s64(d.umax);
  } else {
    d.smin = S64_MIN;
    d.smax = S64_MAX;
  }
}
function and32(d: Bounds, s: Bounds): void {
  const t = tn.subreg(d.vo);
  if (tn.subregIsConst(s.vo) && tn.subregIsConst(d.vo)) {
    mark32Known(d, t.value);
    return;
  }
  d.u32min = t.value;
  d.u32max = min(d.u32max, s.u32max);
  signedFromUnsigned32(d);
}
function and64(d: Bounds, s: Bounds): void {
  if (tn.isConst(s.vo) && tn.isConst(d.vo)) {
    markKnown(d, d.vo.value);
    return;
  }
  d.umin = d.vo.value;
  d.umax = min(d.umax, s.umax);
  signedFromUnsigned64(d);
  updateBounds(d);
}
function or32(d: Bounds, s: Bounds): void {
  const t = tn.subreg(d.vo);
  if (tn.subregIsConst(s.vo) && tn.subregIsConst(d.vo)) {
    mark32Known(d, t.value);
    return;
  }
  d.u32min = max(d.u32min, s.u32min);
  d.u32max = t.value | t.mask;
  signedFromUnsigned32(d);
}
function or64(d: Bounds, s: Bounds): void {
  if (tn.isConst(s.vo) && tn.isConst(d.vo)) {
    markKnown(d, d.vo.value);
    return;
  }
  d.umin = max(d.umin, s.umin);
  d.umax = d.vo.value | d.vo.mask;
  signedFromUnsigned64(d);
  updateBounds(d);
}
function xor32(d: Bounds, s: Bounds): void {
  const t = tn.subreg(d.vo);
  if (tn.subregIsConst(s.vo) && tn.subregIsConst(d.vo)) {
    mark32Known(d, t.value);
    return;
  }
  d.u32min = t.value;
  d.u32max = t.value | t.mask;
  signedFromUnsigned32(d);
}
function xor64(d: Bounds, s: Bounds): void {
  if (tn.isConst(s.vo) && tn.isConst(d.vo)) {
    markKnown(d, d.vo.value);
    return;
  }
  d.umin = d.vo.value;
  d.umax = d.vo.value | d.vo.mask;
  signedFromUnsigned64(d);
  updateBounds(d);
}
function lsh32Bounds(d: Bounds, umin: bigint, umax: bigint): void {
  d.s32min = S32_MIN;
  d.s32max = S32_MAX;
  if (umax > 31n || d.u32max > 1n << (31n - umax)) {
    d.u32min = 0n;
    d.u32max = U32_MAX;
  } else {
    d.u32min <<= umin;
    d.u32max <<= umax;
  }
}
function lsh32(d: Bounds, s: Bounds): void {
  const sub = tn.subreg(d.vo);
  lsh32Bounds(d, s.u32min, s.u32max);
  d.vo = tn.subreg(tn.lshift(sub, s.u32min));
  mark64Unbounded(d);
  update32(d);
}
function lsh64(d: Bounds, s: Bounds): void {
  const umin = s.umin;
  const umax = s.umax;
  if (umin === 32n && umax === 32n) {
    d.smax = d.s32max << 32n;
    d.smin = d.s32min << 32n;
  } else {
    d.smax = S64_MAX;
    d.smin = S64_MIN;
  }
  if (d.umax > 1n << (63n - umax)) {
    d.umin = 0n;
    d.umax = U64_MAX;
  } else {
    d.umin = u64(d.umin << umin);
    d.umax = u64(d.umax << umax);
  }
  lsh32Bounds(d, umin, umax);
  d.vo = tn.lshift(d.vo, umin);
  updateBounds(d);
}
function rsh32(d: Bounds, s: Bounds): void {
  const sub = tn.subreg(d.vo);
  d.s32min = S32_MIN;
  d.s32max = S32_MAX;
  d.vo = tn.rshift(sub, s.u32min);
  d.u32min >>= s.u32max;
  d.u32max >>= s.u32min;
  mark64Unbounded(d);
  update32(d);
}
function rsh64(d: Bounds, s: Bounds): void {
  d.smin = S64_MIN;
  d.smax = S64_MAX;
  d.vo = tn.rshift(d.vo, s.umin);
  d.umin >>= s.umax;
  d.umax >>= s.umin;
  mark32Unbounded(d);
  updateBounds(d);
}
function arsh32(d: Bounds, s: Bounds): void {
  const n = s.u32min;
  d.s32min = d.s32min >> n;
  d.s32max = d.s32max >> n;
  d.vo = tn.arshift(tn.subreg(d.vo), n, 32);
  d.u32min = 0n;
  d.u32max = U32_MAX;
  mark64Unbounded(d);
  update32(d);
}
function arsh64(d: Bounds, s: Bounds): void {
  const n = s.umin;
  d.smin >>= n;
  d.smax >>= n;
  d.vo = tn.arshift(d.vo, n, 64);
  d.umin = 0n;
  d.umax = U64_MAX;
  mark32Unbounded(d);
  updateBounds(d);
}

export type ScalarOp = "add" | "sub" | "mul" | "and" | "or" | "xor" | "lsh" | "rsh" | "arsh" | "other";

/** Whether the kernel computes a range for `op` with this source, or gives up (unknown result). */
export function canComputeRange(op: ScalarOp, src: Bounds, alu32: boolean): boolean {
  let srcConst: boolean;
  if (alu32) srcConst = tn.subregIsConst(src.vo) && src.s32min === src.s32max && src.u32min === src.u32max;
  else srcConst = tn.isConst(src.vo) && src.smin === src.smax && src.umin === src.umax;
  switch (op) {
    case "add":
    case "sub":
    case "and":
    case "or":
    case "xor":
    case "mul":
      return true;
    case "lsh":
    case "rsh":
    case "arsh":
      return srcConst && src.umax < (alu32 ? 32n : 64n);
    default:
      return false;
  }
}

/** dst = dst op src on scalars, in place; the caller has checked `canComputeRange`. */
export function scalarAlu(d: Bounds, s: Bounds, op: ScalarOp, alu32: boolean): void {
  switch (op) {
    case "add":
      add32(d, s);
      add64(d, s);
      d.vo = tn.add(d.vo, s.vo);
      break;
    case "sub":
      sub32(d, s);
      sub64(d, s);
      d.vo = tn.sub(d.vo, s.vo);
      break;
    case "mul":
      d.vo = tn.mul(d.vo, s.vo);
      mul32(d, s);
      mul64(d, s);
      break;
    case "and":
      d.vo = tn.and(d.vo, s.vo);
      and32(d, s);
      and64(d, s);
      break;
    case "or":
      d.vo = tn.or(d.vo, s.vo);
      or32(d, s);
      or64(d, s);
      break;
    case "xor":
      d.vo = tn.xor(d.vo, s.vo);
      xor32(d, s);
      xor64(d, s);
      break;
    case "lsh":
      if (alu32) lsh32(d, s);
      else lsh64(d, s);
      break;
    case "rsh":
      if (alu32) rsh32(d, s);
      else rsh64(d, s);
      break;
    case "arsh":
      if (alu32) arsh32(d, s);
      else arsh64(d, s);
      break;
    default:
      markUnknownBounds(d);
      return;
  }
  if (alu32) zext32to64(d);
  syncBounds(d);
}

/** The kernel's compact description of a scalar for messages. */
export function boundsString(b: Bounds): string {
  if (tn.isConst(b.vo)) return s64(b.vo.value).toString();
  const parts: string[] = [];
  if (b.smin !== S64_MIN) parts.push(`smin=${b.smin}`);
  if (b.smax !== S64_MAX) parts.push(`smax=${b.smax}`);
  if (b.umin !== 0n) parts.push(`umin=${b.umin}`);
  if (b.umax !== U64_MAX) parts.push(`umax=${b.umax}`);
  if (b.s32min !== S32_MIN) parts.push(`smin32=${b.s32min}`);
  if (b.s32max !== S32_MAX) parts.push(`smax32=${b.s32max}`);
  if (b.u32min !== 0n) parts.push(`umin32=${b.u32min}`);
  if (b.u32max !== U32_MAX) parts.push(`umax32=${b.u32max}`);
  if (!tn.isUnknown(b.vo)) parts.push(`var_off=${tn.tnumString(b.vo)}`);
  return parts.join(",");
}
