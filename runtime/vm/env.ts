// The contract between the executing tiers (interpreter, compiled tier) and what they call out to:
// helpers, maps and the loaded program's pseudo values.
// Takes nothing; gives the interfaces both sides implement.

import type { Memory } from "./memory.js";

/** What a helper sees of the calling program: its arguments and the machine around it. */
export interface HelperContext {
  readonly memory: Memory;
  /** Argument register r1..r5 as an unsigned 64-bit value. */
  arg(n: 1 | 2 | 3 | 4 | 5): bigint;
  /** The low 32 bits of argument register r1..r5, unsigned. */
  argU32(n: 1 | 2 | 3 | 4 | 5): number;
  /** Index of the CALL instruction, for faults. */
  readonly pc: number;
  /**
   * Calls the program's function at `fn` (the value an LDDW of it loaded) with r1..r5 = `args`, in a frame of its own
   * as a BPF-to-BPF call would, its instructions counting toward the run's budget; gives its r0. Only the tiers'
   * contexts of helpers that call back (program.ts CALLBACK_HELPERS) have it.
   */
  callback?(fn: bigint, ...args: bigint[]): bigint;
}

/**
 * A helper implementation. A returned number must be a safe integer and is sign-extended to
 * 64 bits (so -22 is -EINVAL); a bigint is taken modulo 2^64.
 */
export type HelperFn = (ctx: HelperContext) => bigint | number;

/** The map a pseudo LDDW names, as the executing tiers see it. */
export interface PseudoMap {
  /** The value `r = map[...]` loads: an address that helpers turn back into the map. */
  readonly address: bigint;
  /** Address of byte `off` of the first value (LDDW MAP_VALUE, for global data); undefined if the map has none. */
  valueAddress(off: number): bigint | undefined;
}

/** Everything a program needs besides its instructions. */
export interface VmEnv {
  readonly memory: Memory;
  /** Helper implementations by id; a missing id is a load-time error. */
  readonly helpers: ReadonlyMap<number, HelperFn>;
  /** Maps named by LDDW MAP_FD / MAP_VALUE imm (an fd), and MAP_IDX / MAP_IDX_VALUE (an index). */
  readonly mapsByFd?: ReadonlyMap<number, PseudoMap>;
  readonly mapsByIndex?: readonly PseudoMap[];
  /**
   * bpf_tail_call: the program stored at `index` of the prog array at `progArray`, or undefined
   * (then the call falls through, as in the kernel). What a program object is, is the tiers' business.
   * Return null (not undefined) for an empty slot inside the array's bounds: as in the kernel,
   * that still counts against the limit of 33 tail calls, an out-of-range index does not.
   * When present, helper 12 (bpf_tail_call) is executed by the tier and need not be in `helpers`.
   */
  tailCallTarget?(progArray: bigint, index: number): unknown;
  /**
   * Legacy LD_ABS/LD_IND: the packet bytes (skb data) of the context `ctx` (the program's r6).
   * When absent, the tiers read the region r6 points into, from r6 to the region's end.
   */
  packetOf?(ctx: bigint): Uint8Array | undefined;
}
