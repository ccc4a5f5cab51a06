// What lowering one file shares between its handlers' lowerings: built by lower() (lower.ts), where each member is
// declared and documented: the checker and the file, the maps and .rodata being built, struct layouts, and the
// questions about types and names that module-level code and handlers both ask.

import type * as TS from "typescript";
import type { PrintfSite } from "../../btf/tags.js";
import type { BssVar, FunctionBuilder, IntType, Layout, Loc, MapDef, VReg } from "../../ir/index.js";
import type { Typescript } from "../check.js";
import type { KernelImports, KernelMember, KernelStruct } from "../kernel-types.js";
import type { Rodata } from "./rodata.js";
import type { Binding, Ref, Val } from "./values.js";

export interface LoweringContext {
  readonly actionTargets: string[];
  readonly align: (n: number, a: number) => number;
  readonly aligned: (r: Ref, at: number, n: number) => boolean;
  readonly arithmeticString: (e: TS.Expression) => boolean;
  readonly arrayLength: (e: TS.Expression) => number | undefined;
  readonly assigns: (fn: TS.FunctionLikeDeclaration, symbol: TS.Symbol) => boolean;
  readonly bss: BssVar[];
  readonly builtin: (node: TS.Node) => string | undefined;
  readonly checker: TS.TypeChecker;
  readonly endsWithRoom: WeakSet<Ref>;
  readonly enumMemberValue: (e: TS.Expression) => number | undefined;
  readonly fail: (node: TS.Node, code: number, message: string) => never;
  readonly file: TS.SourceFile;
  readonly functions: Map<TS.Symbol, TS.FunctionDeclaration | TS.FunctionExpression | TS.ArrowFunction>;
  readonly inlinedCalls: WeakMap<FunctionBuilder, number>;
  readonly inlining: TS.Node[];
  readonly intLayout: (type: IntType) => Layout;
  readonly intTypeOf: (node: TS.TypeNode) => IntType;
  readonly isBoolean: (e: TS.Expression) => boolean;
  readonly isBuilt: (e: TS.Expression) => boolean;
  readonly isChoice: (e: TS.Expression) => boolean;
  readonly isString: (e: TS.Expression) => boolean;
  readonly kernel: KernelImports;
  readonly kernelConstant: (e: TS.Expression) => Val | undefined;
  readonly kernelMemberOf: (e: TS.PropertyAccessExpression) => { struct: KernelStruct; member?: KernelMember; } | undefined;
  readonly kernelStructs: ReadonlyMap<string, KernelStruct>;
  readonly layoutOf: (node: TS.TypeNode) => Layout;
  readonly literalsSize: (e: TS.Expression) => number | undefined;
  readonly locOf: (node: TS.Node) => Loc;
  readonly maps: MapDef[];
  readonly moduleScope: Map<TS.Symbol, Binding>;
  readonly noStringProperty: (name: TS.MemberName | TS.StringLiteral) => never;
  readonly ownPointee: (e: TS.Expression) => string | undefined;
  readonly paramSymbol: (p: TS.ParameterDeclaration) => TS.Symbol;
  readonly printfSites: PrintfSite[];
  readonly reservations: WeakSet<VReg>;
  readonly rodata: Rodata;
  readonly skipParentheses: (e: TS.Expression) => TS.Expression;
  readonly stackAtRunTimeOffset: WeakSet<VReg>;
  readonly stackFrames: (node: TS.Node, what: string) => number;
  readonly structOfType: (type: TS.Type) => Layout | undefined;
  readonly timeFormats: string[];
  readonly ts: Typescript;
  readonly withoutNull: (t: TS.TypeNode) => TS.TypeNode;
}
