// The state of one handler's lowering, and the methods each part of it gives the others.
// A handler's lowering is one class built in layers, one file each, from printk.ts up to function.ts (FnLowering);
// a layer calls what a later one implements through the abstract methods below.

import type * as TS from "typescript";
import { FunctionBuilder, type BinOp, type Block, type CallArg, type IntType, type Layout, type Loc, type Operand, type StackAddr, type VReg } from "../../ir/index.js";
import type { TracepointField } from "../tracepoints.js";
import type { LoweringContext } from "./context.js";
import type { Binding, MapInfo, Ref, Val } from "./values.js";

export abstract class LoweringBase {
  /** Virtual registers that hold a named variable or parameter. */
  readonly owned = new Set<number>();

  /** Pointer registers of `let` names that `rebind` may set again. */
  readonly rebindable = new Set<number>();

  /** The reservation output() is filling in place (outputInPlace), which an index out of range gives back. */
  filling: VReg | undefined;

  /** The least and greatest value of each loop counter seen so far (counters change only in their loop's update). */
  readonly counterRanges = new Map<TS.Symbol, [bigint, bigint]>();

  /** Break and continue targets, innermost last (a switch has no continue target). */
  readonly loops: { brk: Block; cont?: Block }[] = [];

  /** Set while lowering an inlined function: where `return` goes and the register (or, for a struct, Str or Arr, the memory) it fills. */
  inline?: { exit: Block; dst?: VReg; into?: Ref };

  /** The TypeScript module, checker and file being lowered (from the context, as every part uses them). */
  readonly ts: LoweringContext["ts"];
  readonly checker: LoweringContext["checker"];
  readonly file: LoweringContext["file"];

  constructor(
    /** What the whole file's lowering shares: the checker, maps, struct layouts, .rodata. */
    readonly cx: LoweringContext,
    readonly fb: FunctionBuilder,
    readonly scope: Map<TS.Symbol, Binding>,
    /** begin() or end(): run once, fired by no probe. */
    readonly runsOnce?: string,
  ) {
    this.ts = cx.ts;
    this.checker = cx.checker;
    this.file = cx.file;
  }

  /** Reports a diagnostic at `node` and stops lowering this handler. */
  fail(...args: Parameters<LoweringContext["fail"]>): never {
    return this.cx.fail(...args);
  }

  locOf(node: TS.Node): Loc {
    return this.cx.locOf(node);
  }

  // printf.ts
  abstract formatText(e: TS.Expression): string | undefined;

  // memory.ts
  abstract temp(layout: Layout, node: TS.Node): Ref;
  abstract stackTemp(layout: Layout, node: TS.Node): Ref;
  abstract terminated(str: Ref, node: TS.Node): StackAddr;
  abstract addrOf(r: Ref, node: TS.Node): CallArg;
  abstract loadInt(r: Ref, node: TS.Node): Val;
  abstract storeInt(r: Ref, v: Val, node: TS.Node): void;
  abstract chunks(dst: Ref, size: number, node: TS.Node, src?: Ref): void;
  abstract zero(r: Ref, node: TS.Node): void;
  abstract clampLength(v: Val, max: bigint, length: TS.Node): Operand;
  abstract elementAt(base: Ref, i: Val, index: TS.Expression, node: TS.Node): Ref;
  abstract tryRef(e: TS.Expression): Ref | undefined;
  abstract materialize(e: TS.Expression, layout: Layout, node: TS.Node): Ref;
  abstract isDynamicString(e: TS.Expression): boolean;
  abstract stringCall(e: TS.Expression): string | undefined;
  abstract assignInto(dst: Ref, e: TS.Expression): void;
  abstract outputInPlace(m: MapInfo, value: TS.Expression, e: TS.CallExpression): Val;

  // kernel-reads.ts
  abstract kernelArrayCopy(e: TS.PropertyAccessExpression, into?: Ref): Ref;
  abstract tracepointField(e: TS.Expression): TracepointField | undefined;
  abstract recordArray(f: TracepointField, node: TS.Node): Ref | undefined;
  abstract dynamicString(e: TS.Expression): VReg | undefined;

  // expressions.ts
  abstract parameterArray(param: Binding & { kind: "param" }, node: TS.Node): Ref;
  abstract value(e: TS.Expression): Val;
  abstract cast(v: Val, type: IntType, node: TS.Node): Val;
  abstract convert(v: Val, type: IntType): Val;
  abstract binary(kind: BinOp, a: Val, b: Val, node: TS.Node): Val;

  // conditions.ts
  abstract cond(e: TS.Expression, t: Block, f: Block): void;
  abstract boolValue(e: TS.Expression): Val;
  abstract zeroOrOne(type: IntType, branch: (t: Block, f: Block) => void): Val;

  // function.ts
  abstract statement(s: TS.Statement): void;
  abstract enter(b: Block): void;
  abstract assign(target: TS.Expression, compute: (current: Val) => Val, node: TS.Node, right?: TS.Expression): void;
  abstract inlineCall(decl: TS.FunctionDeclaration | TS.ArrowFunction | TS.FunctionExpression, e: TS.CallExpression, into?: Ref): Val;
}
