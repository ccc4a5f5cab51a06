// Integer types of the probe language and C's conversion rules over them.
// Takes nothing; gives `IntType`, the named types (u8..i64, and BOOL for `boolean`), the usual arithmetic conversions,
// integer promotion, range checks and value normalisation (truncate, then extend).

export type Bits = 8 | 16 | 32 | 64;

export interface IntType {
  readonly bits: Bits;
  readonly signed: boolean;
  /** A pointer: arithmetic as u64, printed in hex. */
  readonly ptr?: boolean;
  /** What a pointer points to: a kernel struct's name, or "char" for a string (printed with %s). */
  readonly pointee?: string;
  /**
   * A pointer the kernel's verifier types (PTR_TO_BTF_ID: a tp_btf program's arguments, and struct pointers read
   * through them): its members are read with direct loads rather than bpf_probe_read_kernel.
   */
  readonly typed?: boolean;
  /**
   * C's `_Bool` (TypeScript's `boolean`): a u8 that holds only 0 or 1. The frontend converts other
   * integers with `!= 0` before they reach one, so codegen treats it as the u8 it is.
   */
  readonly bool?: boolean;
  /**
   * A stack id (kstack()/ustack()): an i64 or u64 everywhere, but typed in BTF so that readers print the frames it
   * names instead of the number (compiler/btf/tags.ts).
   */
  readonly stack?: "kernel" | "user";
  /** A stack id's frame limit (kstack(5)): ids of different limits index different stack maps. Absent: 127. */
  readonly frames?: number;
  /** probe()'s id of the probe that fired: a u64 typed in BTF so that readers print the probe's name. */
  readonly probe?: boolean;
  /** ksym()'s kernel address: a u64 typed in BTF so that readers print the kernel function it is in. */
  readonly ksym?: boolean;
  /**
   * A kernel enum a map key, value or record field is declared as (`Count<skb_drop_reason>`): written into BTF as
   * that enum with its enumerators, so that readers print a value by its name.
   */
  readonly enumeration?: KernelEnumeration;
}

/** A kernel enum's name and enumerators, as BTF gives them. */
export interface KernelEnumeration {
  readonly name: string;
  readonly values: readonly (readonly [string, bigint])[];
}

const mk = (bits: Bits, signed: boolean): IntType => Object.freeze({ bits, signed });
export const I8 = mk(8, true);
export const I16 = mk(16, true);
export const I32 = mk(32, true);
export const I64 = mk(64, true);
export const U8 = mk(8, false);
export const U16 = mk(16, false);
export const U32 = mk(32, false);
export const U64 = mk(64, false);
export const PTR: IntType = Object.freeze({ bits: 64, signed: false, ptr: true });
export const BOOL: IntType = Object.freeze({ bits: 8, signed: false, bool: true });

export const INT_TYPES: Readonly<Record<string, IntType>> = { i8: I8, i16: I16, i32: I32, i64: I64, u8: U8, u16: U16, u32: U32, u64: U64 };
/** kstack()'s id (bpf_get_stackid's result: negative when there is no stack) and ustack()'s (the tgid above the id). */
export const KERNEL_STACK: IntType = Object.freeze({ bits: 64, signed: true, stack: "kernel" });
export const USER_STACK: IntType = Object.freeze({ bits: 64, signed: false, stack: "user" });
export const PROBE_NAME: IntType = Object.freeze({ bits: 64, signed: false, probe: true });
export const KERNEL_SYMBOL: IntType = Object.freeze({ bits: 64, signed: false, ksym: true });
/** The stack id types by their names in "tsbpf". */
export const STACK_TYPES: Readonly<Record<string, IntType>> = { KernelStack: KERNEL_STACK, UserStack: USER_STACK };
/** The most frames a stack map entry holds (PERF_MAX_STACK_DEPTH), and kstack()'s and ustack()'s default. */
export const MAX_STACK_FRAMES = 127;
/** A stack id type with a frame limit below the most (`KernelStack<5>`); the most is the plain type. */
export const stackType = (t: IntType, frames: number): IntType => (frames === MAX_STACK_FRAMES ? t : Object.freeze({ ...t, frames }));

export const typeName = (t: IntType): string => (t.ptr ? "Ptr" : t.bool ? "boolean" : `${t.signed ? "i" : "u"}${t.bits}`);
export const sameType = (a: IntType, b: IntType): boolean => a.bits === b.bits && a.signed === b.signed && !!a.ptr === !!b.ptr && !!a.bool === !!b.bool;

/** C integer promotion: anything narrower than int becomes int (i32). */
export const promote = (t: IntType): IntType => (t.bits < 32 ? I32 : t.ptr ? U64 : t);

/** C's usual arithmetic conversions for a binary operator's operands. */
export function commonType(a: IntType, b: IntType): IntType {
  const x = promote(a);
  const y = promote(b);
  if (x.signed === y.signed) return x.bits >= y.bits ? x : y;
  const [u, s] = x.signed ? [y, x] : [x, y];
  // The unsigned type wins unless the signed one is wider (and so holds all its values).
  return u.bits >= s.bits ? u : s;
}

/** The value `v` converted to `t` as C converts: keep the low bits, then extend by signedness. */
export const normalize = (v: bigint, t: IntType): bigint => (t.signed ? BigInt.asIntN(t.bits, v) : BigInt.asUintN(t.bits, v));

export const fits = (v: bigint, t: IntType): boolean => normalize(v, t) === v;

/**
 * True when every value of `from` is a value of `to`: a register holding `from` extended to
 * 64 bits already holds the same value extended as `to`, so conversion needs no instruction.
 */
export function widens(from: IntType, to: IntType): boolean {
  if (to.bits === 64) return true; // 64-bit registers already hold the C conversion's result
  if (from.signed === to.signed) return from.bits <= to.bits;
  return !from.signed && to.signed && from.bits < to.bits;
}
