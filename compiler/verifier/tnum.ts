// Tristate numbers: 64-bit values where each bit is known 0, known 1 or unknown.
// A tnum is (value, mask): bits set in mask are unknown, the rest equal value's bits.
// All arithmetic is on unsigned 64-bit bigints, wrapped with `u64`.

export interface Tnum {
  readonly value: bigint;
  readonly mask: bigint;
}

export const U64_MAX = (1n << 64n) - 1n;
export const U32_MAX = (1n << 32n) - 1n;

export const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
export const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
export const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);
export const s32 = (x: bigint): bigint => BigInt.asIntN(32, x);

export const tnumConst = (v: bigint): Tnum => ({ value: u64(v), mask: 0n });
export const TNUM_UNKNOWN: Tnum = { value: 0n, mask: U64_MAX };

/** The smallest tnum holding every value in [min, max] (unsigned). */
/** Length of `x` in binary digits (as `x.toString(2).length`), without building the string for 0 <= x < 2^64. */
export function bitLength(x: bigint): number {
  if (x < 0n || x > U64_MAX) return x.toString(2).length;
  const hi = Number(x >> 32n);
  return hi !== 0 ? 64 - Math.clz32(hi) : Math.max(1, 32 - Math.clz32(Number(x)));
}

export function tnumRange(min: bigint, max: bigint): Tnum {
  const chi = min ^ max;
  if (chi === 0n) return tnumConst(min);
  const bits = BigInt(bitLength(chi));
  if (bits > 63n) return TNUM_UNKNOWN;
  const delta = (1n << bits) - 1n;
  return { value: min & ~delta & U64_MAX, mask: delta };
}

export const isConst = (t: Tnum): boolean => t.mask === 0n;
export const isUnknown = (t: Tnum): boolean => t.mask === U64_MAX;
export const equalsConst = (t: Tnum, v: bigint): boolean => t.mask === 0n && t.value === u64(v);

export function lshift(t: Tnum, n: bigint): Tnum {
  return { value: u64(t.value << n), mask: u64(t.mask << n) };
}
export function rshift(t: Tnum, n: bigint): Tnum {
  return { value: t.value >> n, mask: t.mask >> n };
}
/** Arithmetic shift right within `bits` (32 or 64) of the value. */
export function arshift(t: Tnum, n: bigint, bits: 32 | 64): Tnum {
  if (bits === 32) {
    return { value: u32(s32(t.value) >> n), mask: u32(s32(t.mask) >> n) };
  }
  return { value: u64(s64(t.value) >> n), mask: u64(s64(t.mask) >> n) };
}

export function add(a: Tnum, b: Tnum): Tnum {
  const sm = u64(a.mask + b.mask);
  const sv = u64(a.value + b.value);
  const sigma = u64(sm + sv);
  const chi = sigma ^ sv;
  const mu = chi | a.mask | b.mask;
  return { value: sv & ~mu & U64_MAX, mask: mu };
}
export function sub(a: Tnum, b: Tnum): Tnum {
  const dv = u64(a.value - b.value);
  const alpha = u64(dv + a.mask);
  const beta = u64(dv - b.mask);
  const chi = alpha ^ beta;
  const mu = chi | a.mask | b.mask;
  return { value: dv & ~mu & U64_MAX, mask: mu };
}
export function and(a: Tnum, b: Tnum): Tnum {
  const alpha = a.value | a.mask;
  const beta = b.value | b.mask;
  const v = a.value & b.value;
  return { value: v, mask: alpha & beta & ~v & U64_MAX };
}
export function or(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask | b.mask;
  return { value: v, mask: mu & ~v & U64_MAX };
}
export function xor(a: Tnum, b: Tnum): Tnum {
  const v = a.value ^ b.value;
  const mu = a.mask | b.mask;
  return { value: v & ~mu & U64_MAX, mask: mu };
}
const SHIFTS: readonly bigint[] = Array.from({ length: 64 }, (_, i) => BigInt(i));

/**
 * Multiplication by shift-and-add over the bits of `a`, as precise as the kernel's tnum_mul: for
 * each bit i of `a`, from the lowest, a known 1 adds b's unknown bits shifted by i to the unknown
 * part, an unknown bit adds all of b's possibly-set bits shifted by i. The accumulator's value stays
 * 0, so only its mask is kept, and the bits of `a` that are known 0 (which add nothing) are skipped.
 */
export function mul(a: Tnum, b: Tnum): Tnum {
  const product = tnumConst(a.value * b.value);
  if (a.mask === 0n && b.mask === 0n) return product;
  const ifOne = b.mask;
  const ifUnknown = b.value | b.mask;
  const bits = a.value | a.mask;
  let acc = 0n;
  for (let half = 0; half < 2; half++) {
    const word = Number(half ? bits >> 32n : bits & U32_MAX);
    const ones = Number(half ? a.value >> 32n : a.value & U32_MAX);
    let w = word;
    while (w !== 0) {
      const low = w & -w;
      const j = 31 - Math.clz32(low);
      w = (w ^ low) >>> 0;
      const m = u64(((ones >>> j) & 1 ? ifOne : ifUnknown) << SHIFTS[half * 32 + j]!);
      // adding a mask-only tnum (0; m) to (0; acc): tnum_add's value part stays 0
      if (m !== 0n) acc = u64(acc + m) | acc | m;
    }
  }
  return add(product, { value: 0n, mask: acc });
}

export function intersect(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask & b.mask;
  return { value: v & ~mu & U64_MAX, mask: mu };
}
/** True when every value of `b` is a value of `a`. */
export function tnumIn(a: Tnum, b: Tnum): boolean {
  if (b.mask & ~a.mask) return false;
  return (b.value & ~a.mask) === a.value;
}
export function overlap(a: Tnum, b: Tnum): boolean {
  const mu = ~a.mask & ~b.mask & U64_MAX;
  return (a.value & mu) === (b.value & mu);
}
export const isAligned = (t: Tnum, size: number): boolean => {
  if (!size) return true;
  return ((t.value | t.mask) & BigInt(size - 1)) === 0n;
};
export const subreg = (t: Tnum): Tnum => ({ value: u32(t.value), mask: u32(t.mask) });
export const clearSubreg = (t: Tnum): Tnum => ({ value: t.value & ~U32_MAX & U64_MAX, mask: t.mask & ~U32_MAX & U64_MAX });
export const withSubreg = (t: Tnum, sub: Tnum): Tnum => or(clearSubreg(t), subreg(sub));
export const subregIsConst = (t: Tnum): boolean => u32(t.mask) === 0n;
export const tnumEqual = (a: Tnum, b: Tnum): boolean => a.value === b.value && a.mask === b.mask;

/** The kernel's log syntax: a decimal constant, or (value; mask) in hex. */
export function tnumString(t: Tnum): string {
  if (isConst(t)) return s64(t.value).toString();
  return `(0x${t.value.toString(16)}; 0x${t.mask.toString(16)})`;
}

/** The low `bits` bits of a tnum with their bytes in reverse order, the rest zero (a byte swap moves bits, so it is exact). */
export function byteSwap(t: Tnum, bits: 16 | 32 | 64): Tnum {
  const swap = (x: bigint): bigint => {
    let out = 0n;
    for (let i = 0n; i < BigInt(bits); i += 8n) out = (out << 8n) | ((x >> i) & 0xffn);
    return out;
  };
  return { value: swap(t.value), mask: swap(t.mask) };
}

/** The low `bits` bits of a tnum, zero-extended. */
export const truncate = (t: Tnum, bits: 16 | 32 | 64): Tnum => ({ value: BigInt.asUintN(bits, t.value), mask: BigInt.asUintN(bits, t.mask) });
