// The verifier model's scalar bounds and tnums where they take shortcuts: syncBounds for constants
// and for values in [0, 2^31), which must give exactly what the general deduction gives, and tnum
// multiplication, which must give exactly the kernel's shift-and-add result.

import { test } from "node:test";
import assert from "node:assert/strict";
import { type Bounds, syncBounds, syncBoundsFull } from "../../compiler/verifier/scalar.js";
import { type Tnum, add, lshift, mul, rshift, tnumConst } from "../../compiler/verifier/tnum.js";
import { Prng } from "../support/prng.js";

const U64 = (1n << 64n) - 1n;
const EDGES = [0n, 1n, 2n, 7n, 8n, 255n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 32n, (1n << 63n) - 1n, 1n << 63n, U64];

const text = (b: Bounds): string =>
  [b.vo.value, b.vo.mask, b.smin, b.smax, b.umin, b.umax, b.s32min, b.s32max, b.u32min, b.u32max].join(",");

/** Bounds of the shapes the shortcuts take (all below 2^31, constants) and around them: small, at the edges, or unknown. */
function randomBounds(rng: Prng): Bounds {
  const limit = rng.pick([40, 300, 70000, 0x7fffffff]);
  const wide = rng.chance(0.25);
  const value64 = (): bigint => (wide && rng.chance(0.5) ? rng.pick(EDGES) + BigInt(rng.between(-2, 2)) : BigInt(rng.below(limit + 1)));
  const range = (bits: 32 | 64, signed: boolean): [bigint, bigint] => {
    if (wide && rng.chance(0.2)) return signed ? [-(1n << BigInt(bits - 1)), (1n << BigInt(bits - 1)) - 1n] : [0n, (1n << BigInt(bits)) - 1n];
    const view = (x: bigint): bigint => (signed ? BigInt.asIntN(bits, x) : BigInt.asUintN(bits, x));
    const a = view(value64());
    const c = view(value64());
    return a <= c ? [a, c] : [c, a];
  };
  let mask = rng.chance(0.2) ? 0n : BigInt.asUintN(64, value64());
  if (wide && rng.chance(0.1)) mask = U64;
  const value = BigInt.asUintN(64, value64()) & ~mask & U64;
  const [umin, umax] = range(64, false);
  const [smin, smax] = range(64, true);
  const [u32min, u32max] = range(32, false);
  const [s32min, s32max] = range(32, true);
  return { vo: { value, mask }, smin, smax, umin, umax, s32min, s32max, u32min, u32max };
}

test("syncBounds' shortcuts give the general deduction's result", () => {
  const rng = new Prng(20261122);
  for (let i = 0; i < 50_000; i++) {
    const b = randomBounds(rng);
    const fast = { ...b };
    const full = { ...b };
    syncBounds(fast);
    syncBoundsFull(full);
    assert.equal(text(fast), text(full), `bounds ${text(b)}`);
  }
  // and on a consistent constant, a constant with unbounded 32-bit halves, a small range, an unknown
  // zero-extended 32-bit value and an unknown value, and those two with one bound narrowed
  const S32 = 1n << 31n;
  const U32 = (1n << 32n) - 1n;
  for (const b of [
    { vo: { value: 0n, mask: U32 }, smin: 0n, smax: U32, umin: 0n, umax: U32, s32min: -S32, s32max: S32 - 1n, u32min: 0n, u32max: U32 },
    { vo: { value: 0n, mask: U64 }, smin: -(1n << 63n), smax: (1n << 63n) - 1n, umin: 0n, umax: U64, s32min: -S32, s32max: S32 - 1n, u32min: 0n, u32max: U32 },
    { vo: { value: 0n, mask: U32 }, smin: 0n, smax: U32, umin: 0n, umax: U32, s32min: -S32, s32max: S32 - 1n, u32min: 1n, u32max: U32 },
    { vo: { value: 0n, mask: U64 }, smin: -(1n << 63n), smax: (1n << 63n) - 1n, umin: 0n, umax: U64, s32min: -S32, s32max: S32 - 2n, u32min: 0n, u32max: U32 },
    { vo: { value: 5n, mask: 0n }, smin: 5n, smax: 5n, umin: 5n, umax: 5n, s32min: 5n, s32max: 5n, u32min: 5n, u32max: 5n },
    { vo: { value: 0n, mask: 0n }, smin: 0n, smax: 0n, umin: 0n, umax: 0n, s32min: -(1n << 31n), s32max: (1n << 31n) - 1n, u32min: 0n, u32max: (1n << 32n) - 1n },
    { vo: { value: 0n, mask: 3n }, smin: 1n, smax: 3n, umin: 2n, umax: 3n, s32min: 1n, s32max: 3n, u32min: 1n, u32max: 3n },
  ]) {
    const fast = { ...b };
    const full = { ...b };
    syncBounds(fast);
    syncBoundsFull(full);
    assert.equal(text(fast), text(full));
  }
});

/** The kernel's tnum_mul as written there: shift-and-add over every bit of `a`, tnum additions throughout. */
function referenceMul(a: Tnum, b: Tnum): Tnum {
  let acc: Tnum = tnumConst(0n);
  let x = a;
  let y = b;
  while (x.value !== 0n || x.mask !== 0n) {
    if (x.value & 1n) acc = add(acc, { value: 0n, mask: y.mask });
    else if (x.mask & 1n) acc = add(acc, { value: 0n, mask: y.value | y.mask });
    x = rshift(x, 1n);
    y = lshift(y, 1n);
  }
  return add(tnumConst(a.value * b.value), acc);
}

test("tnum multiplication gives the kernel's shift-and-add result", () => {
  const rng = new Prng(5);
  const word = (): bigint => {
    switch (rng.below(5)) {
      case 0:
        return BigInt(rng.below(16));
      case 1:
        return (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
      case 2:
        return U64;
      case 3:
        return 1n << BigInt(rng.below(64));
      default:
        return BigInt(rng.below(100_000));
    }
  };
  for (let i = 0; i < 20_000; i++) {
    const am = rng.chance(0.3) ? 0n : word();
    const bm = rng.chance(0.3) ? 0n : word();
    const a = { value: word() & ~am & U64, mask: am };
    const b = { value: word() & ~bm & U64, mask: bm };
    const got = mul(a, b);
    const want = referenceMul(a, b);
    assert.deepEqual([got.value, got.mask], [want.value, want.mask], `(${a.value}; ${a.mask}) * (${b.value}; ${b.mask})`);
  }
});
