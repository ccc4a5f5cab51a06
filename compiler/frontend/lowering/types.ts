// Integer types and layouts as lowering needs them: conversions, constant folding, loop trip counts, and how
// diagnostics name them.

import {
  BOOL,
  I64,
  PTR,
  U64,
  commonType,
  fits,
  normalize,
  sameType,
  typeName,
  type BinOp,
  type CmpOp,
  type Imm,
  type IntType,
  type Layout,
} from "../../ir/index.js";
import { BUF_STRUCT_PREFIX, INET_STRUCT, MACADDR_STRUCT, USYM_STRUCT, strftimeFormatOf } from "../../btf/tags.js";
import type { KernelArray, KernelScalar } from "../kernel-types.js";
import { MAX_LOOP_ITERATIONS } from "./constants.js";
import type { Val } from "./values.js";

/** The value type of a kernel integer or pointer (a pointer keeps its pointee struct, to read through it). */
export function scalarIntType(m: KernelScalar): IntType {
  if (m.kind === "ptr") return m.pointee ? { ...PTR, pointee: m.pointee } : PTR;
  if (m.bool) return BOOL;
  return { bits: (m.size * 8) as 8 | 16 | 32 | 64, signed: m.signed };
}

export function scalarLayout(m: KernelScalar): Layout {
  return { kind: "int", type: scalarIntType(m), size: m.size, align: m.size };
}

/** `Str<16>` or `Arr<u32, 4>`, as the declarations name a kernel array. */
export function kernelArrayType(m: KernelArray): string {
  return m.string ? `Str<${m.length}>` : `Arr<${typeName(scalarIntType(m.element))}, ${m.length}>`;
}

/** An immediate operand: `value` as `type` holds it. */
export function imm(value: bigint, type: IntType): Imm {
  return { kind: "imm", value: normalize(value, type), type };
}

/** The printf conversion for a value of type `t` (the kernel's bpf_trace_printk accepts these). */
export function spec(t: IntType): string {
  if (t.ptr) return t.pointee === "char" ? "%s" : "0x%llx";
  if (t.bits === 64) return t.signed ? "%lld" : "%llu";
  return t.signed ? "%d" : "%u";
}

export const MIRROR_CMP: Record<CmpOp, CmpOp> = { eq: "eq", ne: "ne", lt: "gt", le: "ge", gt: "lt", ge: "le" };

/** How many times `for (i = start; i OP limit; i += step)` runs at the counter's type; undefined if it never stops. */
export function tripCount(start: bigint, op: CmpOp, limit: bigint, step: bigint, type: IntType): number | undefined {
  const holds = (i: bigint): boolean => {
    // The bound as the number it is, as the comparison compiles (in i64 when it lies outside the counter's type).
    const [a, b] = [normalize(i, type), limit];
    switch (op) {
      case "lt": return a < b;
      case "le": return a <= b;
      case "gt": return a > b;
      case "ge": return a >= b;
      case "ne": return a !== b;
      case "eq": return a === b;
    }
  };
  let i = normalize(start, type);
  // Moving away from the bound: the condition holds until the counter wraps.
  if (holds(i) && (((op === "lt" || op === "le") && step < 0n) || ((op === "gt" || op === "ge") && step > 0n))) return undefined;
  for (let n = 0; n <= MAX_LOOP_ITERATIONS + 1; n++) {
    if (!holds(i)) return n;
    const next = normalize(i + step, type);
    // Wrapping around the type's range means the condition never failed on the way: unbounded.
    if ((step > 0n && next < i) || (step < 0n && next > i)) return undefined;
    i = next;
  }
  return MAX_LOOP_ITERATIONS + 2;
}

/** A type's name after "a" or "an", as it is read: an Arr<u8, 4>, an i32, a u32. */
export function withArticle(name: string): string {
  return `${/^[aeio]/i.test(name) ? "an" : "a"} ${name}`;
}

export const aLayout = (l: Layout): string => withArticle(describeLayout(l));

export function describeLayout(l: Layout): string {
  switch (l.kind) {
    case "int": return typeName(l.type);
    case "str": return `Str<${l.size}>`;
    case "array": return `Arr<${describeLayout(l.element)}, ${l.length}>`;
    // usym()'s value goes by its name in "tsbpf", not by its BTF struct's.
    case "struct":
      if (l.name === USYM_STRUCT) return "UserSymbol (usym(), printed with printf's %s)";
      if (l.name === MACADDR_STRUCT) return "MacAddr (macaddr())";
      if (l.name === INET_STRUCT) return "IpAddr (ntop())";
      if (strftimeFormatOf(l.name) !== undefined) return `Strftime<${JSON.stringify(strftimeFormatOf(l.name))}> (strftime())`;
      if (l.name.startsWith(BUF_STRUCT_PREFIX)) return `Buf<${l.name.slice(BUF_STRUCT_PREFIX.length)}> (buf())`;
      return `struct ${l.name}`;
  }
}

/** Whether only tsbpf run writes a value of this layout as text (usym(), macaddr(), ntop(), strftime(), buf()). */
export function printedByTsbpf(l: Layout): boolean {
  if (l.kind !== "struct") return false;
  return l.name === USYM_STRUCT || l.name === MACADDR_STRUCT || l.name === INET_STRUCT || strftimeFormatOf(l.name) !== undefined || l.name.startsWith(BUF_STRUCT_PREFIX);
}

export function sameLayout(a: Layout, b: Layout): boolean {
  if (a.kind !== b.kind || a.size !== b.size) return false;
  if (a.kind === "int") return sameType(a.type, (b as typeof a).type);
  if (a.kind === "struct") return a.name === (b as typeof a).name;
  if (a.kind === "array") return sameLayout(a.element, (b as typeof a).element);
  return true;
}

/**
 * The type of `c ? a : b` and `lookup(k) ?? d`: booleans stay booleans, pointers pointers (to what both point to, typed
 * by the kernel only if both are), integers convert as C's do.
 */
export function joinType(a: IntType, b: IntType): IntType {
  if (a.bool && b.bool) return BOOL;
  if (a.ptr && b.ptr) {
    const pointee = a.pointee === b.pointee ? a.pointee : undefined;
    return pointee ? { ...PTR, pointee, ...(a.typed && b.typed ? { typed: true } : {}) } : PTR;
  }
  return commonType(a, b);
}

/**
 * The type of a value that is one of two: both constants, what a declaration of either would get; a constant
 * takes the other's type when its value fits it (a number is no boolean: `flag || 5` is 1 or 5).
 */
export function armsType(a: Val, b: Val): IntType {
  if (a.untyped && b.untyped && a.op.kind === "imm" && b.op.kind === "imm") return commonType(defaultType(a.op.value), defaultType(b.op.value));
  const adopt = (c: Val, t: IntType): IntType => (c.op.kind !== "imm" || (fits(c.op.value, t) && !t.bool) ? t : commonType(defaultType(c.op.value), t));
  return a.untyped ? adopt(a, b.op.type) : b.untyped ? adopt(b, a.op.type) : joinType(a.op.type, b.op.type);
}

/** A pointer without the kernel's typing (read through probe reads), or any other type as it is. */
export function untypedPointer(t: IntType): IntType {
  if (!t.typed) return t;
  const { typed: _, ...rest } = t;
  return rest;
}

/** JavaScript's bitwise operators on number constants: ToInt32 operands (ToUint32 for `>>>`), counts below 32. */
export const NUMBER_BITS = {
  and: (a: bigint, b: bigint) => BigInt.asIntN(32, a) & BigInt.asIntN(32, b),
  or: (a: bigint, b: bigint) => BigInt.asIntN(32, a) | BigInt.asIntN(32, b),
  xor: (a: bigint, b: bigint) => BigInt.asIntN(32, a) ^ BigInt.asIntN(32, b),
  shl: (a: bigint, b: bigint) => BigInt.asIntN(32, a << b),
  shr: (a: bigint, b: bigint) => BigInt.asIntN(32, a) >> b,
  ushr: (a: bigint, b: bigint) => BigInt.asUintN(32, a) >> b,
};

/** The type an unannotated declaration of a literal gets. */
export function defaultType(v: bigint): IntType {
  return v > 0x7fffffffffffffffn ? U64 : I64;
}

/** Why a handler cannot assign parameter `name` (or an element of it, `array`). */
export function parameterAssigned(name: string, value: string): string {
  return `\`${name}\` is a parameter of the probes: the loader sets it before they load (tsbpf run --set ${name}=${value}), and a handler cannot change it; keep a value the probes change in a map (\`const counts = new ArrayMap<u64>(1)\`)`;
}

/**
 * A constant given to a slot of a type it does not fit, as TypeScript would keep it: `const x: u32 = -1` reads -1 in
 * TypeScript, 4294967295 in C; `const w: i8 = 200` reads 200, -56.
 */
export function outOfRange(v: bigint, t: IntType): string {
  const [min, max] = t.signed ? [-(1n << BigInt(t.bits - 1)), (1n << BigInt(t.bits - 1)) - 1n] : [0n, (1n << BigInt(t.bits)) - 1n];
  const bits = fits(v, { bits: t.bits, signed: !t.signed }) ? `; for these bits as ${t.signed ? "an" : "a"} ${typeName(t)}, write ${BigInt.asIntN(t.bits, v) === v ? BigInt.asUintN(t.bits, v) : BigInt.asIntN(t.bits, v)}` : "";
  return `${v} does not fit in ${typeName(t)} (${min} to ${max})${bits}`;
}

/** Whether a literal fits a type's bits in either signedness (C lets `u32 x = -1` through; `u8 x = 300` is an error). */
export function fitsBits(v: bigint, t: IntType): boolean {
  return fits(v, t) || fits(v, { bits: t.bits, signed: !t.signed });
}

export function fold(kind: BinOp, a: bigint, b: bigint, t: IntType): bigint {
  const x = normalize(a, t);
  const y = normalize(b, t);
  switch (kind) {
    case "add": return x + y;
    case "sub": return x - y;
    case "mul": return x * y;
    // BPF (and so a folded constant) defines x / 0 = 0 and x % 0 = x; literals never get here.
    case "div": return y === 0n ? 0n : x / y;
    case "mod": return y === 0n ? x : x % y;
    case "and": return x & y;
    case "or": return x | y;
    case "xor": return x ^ y;
    case "shl": return x << (BigInt.asUintN(64, b) & BigInt(t.bits - 1));
    case "shr": return x >> (BigInt.asUintN(64, b) & BigInt(t.bits - 1));
  }
}
