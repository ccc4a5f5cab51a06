// The values lowering works with: operands, memory references, map descriptions and the bindings of names.
//
// Memory values (structs, `Str<N>`, `Arr<T, N>`) are `Ref`s: a layout at a base (a stack object or a pointer
// register) and an offset. A map lookup or ring buffer reservation gives a nullable Ref whose pointer the null
// check tests.

import type * as TS from "typescript";
import type { Base, IntType, Layout, MapDef, Operand, VReg } from "../../ir/index.js";
import type { ArgSpec } from "../../ir/printf.js";
import type { KernelMember } from "../kernel-types.js";
import { MAPS } from "../prelude.js";
import type { TracepointFormat } from "../tracepoints.js";

/** Stops lowering the current handler after a diagnostic (the rest of the file is still checked). */
export class Abort extends Error {}

/** A value during lowering: an operand, and whether it is a still-untyped literal. */
export interface Val {
  op: Operand;
  untyped?: boolean;
}

/** A value in memory: `layout` at `base` + `offset`; `nullable` when the base pointer may be null. */
export interface Ref {
  layout: Layout;
  base: Base;
  offset: number;
  nullable?: boolean;
  /** The array parameter this memory is part of, under whatever name: .rodata, which no program may write. */
  parameter?: string;
}

/** A kernel struct member read through a pointer: see `kernelPlace`. */
export interface KernelPlace {
  ptr: Operand;
  /** The struct the pointer points to (the CO-RE relocation's root). */
  root: string;
  /** Member names from the root to this member, through structs embedded by value. */
  members: string[];
  /** The member's offset from the pointer. */
  offset: number;
  member: KernelMember;
}

export type MapClass = (typeof MAPS)[number];

/** A probe's handler: a function written in place, or a module-level one named (a declaration with its body). */
export type Handler = TS.ArrowFunction | TS.FunctionExpression | (TS.FunctionDeclaration & { body: TS.Block });

/** One side of a string comparison: a literal's UTF-8 bytes, or a Str<N> in memory. */
/** One value of a printf record: its kind for the reader, its place in the record, and the code that fills it. */
export interface PrintfArg {
  spec: ArgSpec;
  layout: Layout;
  fill: (dst: Ref) => void;
}

export type StringOperand = { kind: "literal"; text: string; bytes: Uint8Array } | { kind: "str"; ref: Ref; size: number; read?: string };

export interface MapInfo {
  cls: MapClass;
  def: MapDef;
  key?: Layout;
  value?: Layout;
  /** A keyed Histogram's K: its map's key is `{ key: K; slot: u32 }`. */
  histogramKey?: Layout;
}

export type Binding =
  | { kind: "var"; reg: VReg; mutable: boolean }
  | { kind: "const"; val: Val }
  | { kind: "tpctx"; format: TracepointFormat }
  /** `rebindable`: a `let` holding its own pointer register, which `name = lookup(...)` sets again. */
  | { kind: "ref"; ref: Ref; rebindable?: boolean }
  | { kind: "map"; map: MapInfo }
  /** A module-level string constant: a probe's binary or function (`const LIBC = "libc.so.6"`), a printf() or time() format. */
  | { kind: "string"; text: string }
  /**
   * A module-level `let`: a parameter of the probes, a `const volatile` integer in .rodata that the loader may set
   * before loading (tsbpf run --set NAME=VALUE), read where a handler reads it. `array`: an Arr<T, N> one's layout,
   * read element by element in place; `type` is then its elements' type.
   */
  | { kind: "param"; name: string; offset: number; type: IntType; array?: Layout & { kind: "array" | "str" } }
  /** A module-level map or constant whose declaration was reported: its uses end lowering without more diagnostics. */
  | { kind: "failed" };
