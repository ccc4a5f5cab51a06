// A HelperContext outside any executing tier, for tests and tools that call helpers directly.
// Takes a Memory and argument values; gives the context and a one-call wrapper that applies the
// tiers' return convention (a number is sign-extended, a bigint taken modulo 2^64).

import type { HelperContext, HelperFn } from "../env.js";
import type { Memory } from "../memory.js";

export type ArgValue = bigint | number;

export function fakeHelperContext(memory: Memory, args: readonly ArgValue[], pc = 0): HelperContext {
  if (args.length > 5) throw new RangeError(`helpers take at most 5 arguments (got ${args.length})`);
  const regs = [0, 1, 2, 3, 4].map((i) => BigInt.asUintN(64, BigInt(args[i] ?? 0)));
  return {
    memory,
    pc,
    arg: (n) => regs[n - 1]!,
    argU32: (n) => Number(regs[n - 1]! & 0xffffffffn),
  };
}

/** Calls helper `id` with r1..r5 = args; returns r0 as an unsigned 64-bit value. */
export function callHelper(helpers: ReadonlyMap<number, HelperFn>, id: number, memory: Memory, ...args: ArgValue[]): bigint {
  const fn = helpers.get(id);
  if (!fn) throw new Error(`helper ${id} is not implemented`);
  const r = fn(fakeHelperContext(memory, args));
  if (typeof r === "number") {
    if (!Number.isSafeInteger(r)) throw new RangeError(`helper ${id} returned ${r}, not a safe integer`);
    return BigInt.asUintN(64, BigInt(r));
  }
  return BigInt.asUintN(64, r);
}
