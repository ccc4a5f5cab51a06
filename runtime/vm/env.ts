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
   */
  tailCallTarget?(progArray: bigint, index: number): unknown;
}
