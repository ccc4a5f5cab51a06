// Lowering: a type-checked probe file to the typed IR.
// Takes the checked TypeScript program, the tracepoint layouts and the target; gives an `IrModule`
// (one function per probe, `.rodata`, the license) and diagnostics for everything outside the subset.
//
// Integer typing follows C at the inferred width (docs/compiler.md): literals are untyped until they
// meet a typed operand (then they take its type) or a declaration (an unannotated one gets i64, or
// u64 when the value needs it); binary operators apply C's promotions and usual arithmetic
// conversions; shifts take the promoted left operand's type; `as u32` converts as a C cast.
// `boolean` is C's _Bool (the IR's BOOL): what TypeScript types boolean is a 0/1 value of it, and
// printk prints it as `true` or `false`.
//
// Memory values (structs, `Str<N>`, `Arr<T, N>`) are `Ref`s: a layout at a base (a stack object or
// a pointer register) and an offset. A map lookup or ring buffer reservation gives a nullable Ref whose
// pointer the null check tests. Module-level functions are inlined at each call; loops are `for`
// loops with constant bounds, lowered as real loops the verifier walks.

import type * as TS from "typescript";
import {
  BOOL,
  FunctionBuilder,
  I8,
  I32,
  I64,
  INT_TYPES,
  KERNEL_STACK,
  USER_STACK,
  PTR,
  STACK_TYPES,
  PROBE_NAME,
  KERNEL_SYMBOL,
  MAX_STACK_FRAMES,
  stackType,
  U8,
  U16,
  U64,
  U32,
  commonType,
  fits,
  normalize,
  promote,
  sameType,
  typeName,
  widens,
  type BinOp,
  type Block,
  type CallArg,
  type CmpOp,
  type Imm,
  type IntType,
  type Base,
  type CoreAccess,
  type Layout,
  type MapDef,
  type IrFunction,
  type IrModule,
  type Loc,
  type Operand,
  type RodataVar,
  type BssVar,
  type StackAddr,
  type VReg,
  TARGET_PID_VARIABLE,
} from "../ir/index.js";
import { Helper } from "../isa/helpers.js";
import { ACTIONS, ACTIONS_RING, PERF_EVENT_NAMES, droppedCounterName, PERF_EVENT_SECTION, PROBE_ID_SHIFT, PROBE_TAG, RUN_SECTION, perfEventFullName, perfEventTag, runTag, type Aggregate, type PerfEventProbe, type PrintfSite, type RunWhen } from "../btf/tags.js";
import { argKind, checkTimeFormat, formatPrintf, formatText, parseFormat, printfLayout, type ArgSpec, type Conversion, type FormatPiece } from "../ir/printf.js";
import type { Checked, Typescript } from "./check.js";
import { Code, makeDiagnostic, type Diagnostic } from "./diagnostics.js";
import { isGlob } from "../glob.js";
import { CONSTANTS, MAPS, PROBES } from "./prelude.js";
import { signalNumber } from "./signals.js";
import { COMPLEXITY_LIMIT } from "../verifier/verify.js";
import { emitUsdtArgs, USDT_MAX_ARGS, USDT_SPECS_MAP, usdtSpecsMap } from "./usdt.js";
import type { Target } from "./targets.js";
import type { TracepointField, TracepointFormat } from "./tracepoints.js";
import type { KernelFunction } from "./typed-handlers.js";
import { bitfieldLoad } from "../btf/core.js";
import { cTypeName, noKernelImports, type KernelArray, type KernelImports, type KernelMember, type KernelScalar, type KernelStruct } from "./kernel-types.js";

export type ProbeKind = (typeof PROBES)[number];

export interface LoweredProgram {
  fn: IrFunction;
  kind: ProbeKind;
}

export interface LowerOptions {
  /** Every module-level map is printed as if exported (`tsbpf run -e`'s text, which has no exports to write). */
  exportAll?: boolean;
  /** The arguments of each raw tracepoint the file names, from the kernel's BTF (typed-handlers.ts). */
  rawTracepoints?: ReadonlyMap<string, readonly KernelScalar[]>;
  /** The arguments and return value of each kernel function a kprobe or kretprobe leaves parameters unannotated for. */
  kernelFunctions?: ReadonlyMap<string, KernelFunction>;
  /** Functions such probes name that the kernel's BTF does not describe, with the names spelled like them. */
  unknownFunctions?: ReadonlyMap<string, readonly string[]>;
  /** How many arguments a USDT probe passes, where its binary can be read (compiler/index.ts's CompileOptions). */
  usdtArguments?: (binary: string, provider: string, name: string) => number | undefined;
}

export interface Lowered {
  module: IrModule;
  programs: LoweredProgram[];
  diagnostics: Diagnostic[];
  /** The layouts of the structs the file declares and uses (interfaces), whether or not a map or record holds them. */
  structs: Layout[];
}

/** Stops lowering the current handler after a diagnostic (the rest of the file is still checked). */
class Abort extends Error {}

/** A value during lowering: an operand, and whether it is a still-untyped literal. */
interface Val {
  op: Operand;
  untyped?: boolean;
}

/** A value in memory: `layout` at `base` + `offset`; `nullable` when the base pointer may be null. */
interface Ref {
  layout: Layout;
  base: Base;
  offset: number;
  nullable?: boolean;
  /** The array parameter this memory is part of, under whatever name: .rodata, which no program may write. */
  parameter?: string;
}

/** A kernel struct member read through a pointer: see `kernelPlace`. */
interface KernelPlace {
  ptr: Operand;
  /** The struct the pointer points to (the CO-RE relocation's root). */
  root: string;
  /** Member names from the root to this member, through structs embedded by value. */
  members: string[];
  /** The member's offset from the pointer. */
  offset: number;
  member: KernelMember;
}

/** The value type of a kernel integer or pointer (a pointer keeps its pointee struct, to read through it). */
function scalarIntType(m: KernelScalar): IntType {
  if (m.kind === "ptr") return m.pointee ? { ...PTR, pointee: m.pointee } : PTR;
  if (m.bool) return BOOL;
  return { bits: (m.size * 8) as 8 | 16 | 32 | 64, signed: m.signed };
}

function scalarLayout(m: KernelScalar): Layout {
  return { kind: "int", type: scalarIntType(m), size: m.size, align: m.size };
}

/** `Str<16>` or `Arr<u32, 4>`, as the declarations name a kernel array. */
function kernelArrayType(m: KernelArray): string {
  return m.string ? `Str<${m.length}>` : `Arr<${typeName(scalarIntType(m.element))}, ${m.length}>`;
}

type MapClass = (typeof MAPS)[number];
/** A probe's handler: a function written in place, or a module-level one named (a declaration with its body). */
type Handler = TS.ArrowFunction | TS.FunctionExpression | (TS.FunctionDeclaration & { body: TS.Block });
/** Maps whose delete and update free elements (an update replaces one): a lookup's pointer may then see another key's. */
const HASH_MAPS: ReadonlySet<MapClass> = new Set(["HashMap", "PerCpuHashMap", "LruHashMap"]);

/** One side of a string comparison: a literal's UTF-8 bytes, or a Str<N> in memory. */
/** One value of a printf record: its kind for the reader, its place in the record, and the code that fills it. */
interface PrintfArg {
  spec: ArgSpec;
  layout: Layout;
  fill: (dst: Ref) => void;
}

type StringOperand = { kind: "literal"; text: string; bytes: Uint8Array } | { kind: "str"; ref: Ref; size: number };

interface MapInfo {
  cls: MapClass;
  def: MapDef;
  key?: Layout;
  value?: Layout;
  /** A keyed Histogram's K: its map's key is `{ key: K; slot: u32 }`. */
  histogramKey?: Layout;
}

type Binding =
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

/** BPF_MAP_TYPE_* of each map class (uapi/linux/bpf.h). */
const MAP_TYPES: Record<MapClass, number> = {
  HashMap: 1, ArrayMap: 2, PerfEventArray: 4, PerCpuHashMap: 5, PerCpuArrayMap: 6, StackTraceMap: 7, LruHashMap: 9, RingBuf: 27, Histogram: 2, LinearHistogram: 2,
  Count: 5, Sum: 5, Avg: 5, Min: 5, Max: 5, Stats: 5,
};
/** How each map class is declared, its constructor's arguments as the prelude declares them (what to write instead of a map made in a handler). */
const MAP_EXAMPLES: Record<MapClass, string> = {
  HashMap: "new HashMap<u32, u64>(1024)", PerCpuHashMap: "new PerCpuHashMap<u32, u64>(1024)", LruHashMap: "new LruHashMap<u32, u64>(1024)",
  ArrayMap: "new ArrayMap<u64>(256)", PerCpuArrayMap: "new PerCpuArrayMap<u64>(256)", RingBuf: "new RingBuf<MyEvent>(65536)", PerfEventArray: "new PerfEventArray<MyEvent>()",
  StackTraceMap: "new StackTraceMap(1024)", Histogram: "new Histogram()", LinearHistogram: "new LinearHistogram(0, 100, 10)",
  Count: "new Count()", Sum: "new Sum()", Avg: "new Avg()", Min: "new Min()", Max: "new Max()", Stats: "new Stats()",
};
/** The map classes whose first type argument is their key. */
const KEYED_MAPS: ReadonlySet<string> = new Set<MapClass>(["HashMap", "PerCpuHashMap", "LruHashMap", "Histogram", "LinearHistogram", "Count", "Sum", "Avg", "Min", "Max", "Stats"]);
/** The aggregate classes, as their BTF tag (compiler/btf/tags.ts) names them. */
const AGGREGATE_OF: Partial<Record<MapClass, Aggregate>> = { Count: "count", Sum: "sum", Avg: "avg", Min: "min", Max: "max", Stats: "stats" };
/**
 * One CPU's value of an aggregate map, as compiler/btf/tags.ts describes it: a count and a total for count, sum, avg
 * and stats, the extremum and whether this CPU has one for min and max.
 */
function aggregateValue(kind: Aggregate): Layout & { kind: "struct" } {
  const [name, first, second] = kind !== "min" && kind !== "max" ? (["tsbpf_average", ["count", U64], ["total", I64]] as const) : (["tsbpf_extremum", ["value", I64], ["set", U64]] as const);
  const fields = [first, second].map(([field, type], i) => ({ name: field, offset: i * 8, layout: { kind: "int" as const, type, size: 8 as const, align: 8 } }));
  return { kind: "struct", name, fields, size: 16, align: 8 };
}
/** Histogram maps: entries 0..64 are log2 slots, entry 65 counts negative values. */
export const HISTOGRAM_SLOTS = 66;
/** Stack frames a StackTraceMap entry holds (PERF_MAX_STACK_DEPTH). */
const STACK_DEPTH = 127;
const BPF_F_USER_STACK = 256n;
const BPF_F_STACK_BUILD_ID = 1 << 5;
/**
 * The stack map kstack(frames) (`tsbpf_kstacks`, `tsbpf_kstacks_5`) or ustack(frames) fills: one per frame limit, as
 * bpftrace keeps them. Kernel stacks as bpftrace keeps them (4096 of them, as ips); user stacks as build ids and file
 * offsets (32 bytes a frame, so 1024 of them take what 4096 kernel stacks do), which name their frames after the
 * process has gone, where its mappings could not be read in time.
 */
function stackMap(user: boolean, frames: number): MapDef {
  const name = `tsbpf_${user ? "u" : "k"}stacks${frames === MAX_STACK_FRAMES ? "" : `_${frames}`}`;
  const common = { name, type: MAP_TYPES.StackTraceMap, key: 4, internal: true, stacks: true };
  return user ? { ...common, maxEntries: 1024, value: frames * 32, flags: BPF_F_STACK_BUILD_ID } : { ...common, maxEntries: 4096, value: frames * 8 };
}
/** The ring buffer exit(), print(), clear() and printf() send their records to (one page, the smallest a ring buffer can be, without printf). */
const ACTIONS_MAP = ACTIONS_RING;
/** The actions ring buffer's size once printf() sends records through it (exit, print and clear fit in a page). */
const PRINTF_RING_BYTES = 1 << 18;
/** An action record: `{ u32 action; u32 arg; }` (compiler/btf/tags.ts). */
const ACTION_RECORD = { kind: "struct", name: "tsbpf_action", fields: [{ name: "action", offset: 0, layout: { kind: "int", type: U32, size: 4, align: 4 } }, { name: "arg", offset: 4, layout: { kind: "int", type: U32, size: 4, align: 4 } }], size: 8, align: 4 } as const satisfies Layout;
const BPF_F_CURRENT_CPU = 0xffffffffn;
const MAX_LOOP_ITERATIONS = 1 << 16;
/** The longest Str<N> or Arr<T, N> the compiler lays out (only a map value can be that large). */
const MAX_LENGTH = 1 << 20;
/** The largest profile() frequency, interval() period or software()/hardware() count accepted: what fits perf_event_attr once scaled. */
const MAX_PERF_EVENT_RATE = 0xffffffff;

const MAX_VPRINTK_ARGS = 12;
/** What comm() fills: the task's name, char[TASK_COMM_LEN]. */
const COMM_LAYOUT = { kind: "str", size: 16, align: 1 } as const satisfies Layout;
/** A RingBuf record larger than this, given to output() as a literal, is built in a reservation rather than on the stack. */
const OUTPUT_IN_PLACE = 256;
/** The buffer a string read straight into printk() gets: 64 bytes, bpftrace's default for str(). */
const PRINTED_STRING = { kind: "str", size: 64, align: 1 } as const satisfies Layout;
/** Two Str values sharing at most this many bytes compare unrolled; longer ones in a loop. */
const UNROLLED_STRING_COMPARE = 16;
/** The unsigned type a load of each size gives. */
const UNSIGNED_OF_SIZE = { 1: U8, 2: U16, 4: U32, 8: U64 } as const;

/** Rodata strings, deduplicated. */
class Rodata {
  private readonly parts: Uint8Array[] = [];
  private readonly offsets = new Map<string, number>();
  private size = 0;
  private strings = 0;
  private pid: number | undefined;
  readonly vars: RodataVar[] = [];
  add(s: string): number {
    const hit = this.offsets.get(s);
    if (hit !== undefined) return hit;
    const bytes = new TextEncoder().encode(s + "\0");
    const at = this.size;
    this.parts.push(bytes);
    this.size += bytes.length;
    this.offsets.set(s, at);
    this.vars.push({ name: `__tsbpf_fmt_${this.strings++}`, offset: at, size: bytes.length, kind: "string" });
    return at;
  }
  /** Where targetPid()'s u32 is (4-byte aligned, added on first use). */
  targetPid(): number {
    return (this.pid ??= this.int(TARGET_PID_VARIABLE, U32, 0n));
  }
  /** A global integer the loader may set (naturally aligned), holding `value` in the object; its offset. */
  int(name: string, type: IntType, value: bigint): number {
    return this.ints(name, type, [value]);
  }
  /** A global array of integers the loader may set, of `dimensions` (outermost first), holding `values` in C's order; its offset. */
  array(name: string, type: IntType, values: readonly bigint[], dimensions: readonly number[]): number {
    return this.ints(name, type, values, dimensions);
  }
  /** A global `char name[size]` the loader may set from text, holding `text` and zeros after it; its offset. */
  chars(name: string, text: Uint8Array, size: number): number {
    const bytes = new Uint8Array(size);
    bytes.set(text);
    const at = this.place(bytes, 1);
    this.vars.push({ name, offset: at, size, kind: "int", type: I8, dimensions: [size], chars: true });
    return at;
  }
  private ints(name: string, type: IntType, values: readonly bigint[], dimensions?: readonly number[]): number {
    const size = type.bits / 8;
    const bytes = new Uint8Array(size * values.length);
    values.forEach((value, at) => {
      for (let i = 0; i < size; i++) bytes[at * size + i] = Number((BigInt.asUintN(type.bits, value) >> BigInt(8 * i)) & 0xffn);
    });
    const at = this.place(bytes, size);
    this.vars.push({ name, offset: at, size: bytes.length, kind: "int", type, ...(dimensions && { dimensions }) });
    return at;
  }
  /** `bytes` placed aligned to `alignment` (an integer's natural alignment); their offset. */
  private place(bytes: Uint8Array, alignment: number): number {
    const padding = (alignment - (this.size % alignment)) % alignment;
    if (padding) this.parts.push(new Uint8Array(padding));
    const at = this.size + padding;
    this.parts.push(bytes);
    this.size = at + bytes.length;
    return at;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) (out.set(p, at), (at += p.length));
    return out;
  }
}

export function lower(
  checked: Checked,
  tracepoints: ReadonlyMap<string, TracepointFormat>,
  target: Target | undefined,
  kernelStructs: ReadonlyMap<string, KernelStruct> = new Map(),
  kernel: KernelImports = noKernelImports(),
  options: LowerOptions = {},
): Lowered {
  const { ts, checker, file, prelude } = checked;
  const diagnostics: Diagnostic[] = [];
  const rodata = new Rodata();
  const programs: LoweredProgram[] = [];
  let license: string | undefined;
  const moduleScope = new Map<TS.Symbol, Binding>();

  const report = (node: TS.Node, code: number, message: string): void => {
    const d = makeDiagnostic(file, code, message, node.getStart(file), node.getEnd() - node.getStart(file));
    // A function is inlined at every call, so an error in its body would otherwise be reported once per call.
    if (diagnostics.some((o) => o.start === d.start && o.length === d.length && o.code === d.code && o.message === d.message)) return;
    diagnostics.push(d);
  };
  const fail = (node: TS.Node, code: number, message: string): never => {
    report(node, code, message);
    throw new Abort();
  };
  /** The value of `Sig.A` when it names a member of an enum of integers (TypeScript computes it); else undefined. */
  const enumMemberValue = (e: TS.Expression): number | undefined => {
    if (!ts.isPropertyAccessExpression(e) && !ts.isElementAccessExpression(e)) return undefined;
    const member = checker.getSymbolAtLocation(ts.isPropertyAccessExpression(e) ? e.name : e.argumentExpression)?.valueDeclaration;
    const value = member && ts.isEnumMember(member) ? checker.getConstantValue(member) : undefined;
    return typeof value === "number" && Number.isInteger(value) ? value : undefined;
  };

  const locOf = (node: TS.Node): Loc => {
    const p = file.getLineAndCharacterOfPosition(node.getStart(file));
    return { line: p.line + 1, column: p.character + 1 };
  };

  /** The name of a "tsbpf/kernel" struct a type name refers to, if it refers to one. */
  const kernelTypeName = (node: TS.Node): string | undefined => {
    let symbol = checker.getSymbolAtLocation(node);
    if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    const decl = symbol?.declarations?.[0];
    const mod = decl?.parent?.parent;
    // Structs are known by their C name; the module spells reserved words with a trailing `_` (`class_`).
    return decl && decl.getSourceFile() === prelude && mod && ts.isModuleDeclaration(mod) && mod.name.text === "tsbpf/kernel" ? cTypeName(symbol!.name) : undefined;
  };

  /** The name a node refers to when "tsbpf/kernel" declares it (a type, enum or constant at any depth of the module). */
  const kernelName = (node: TS.Node): string | undefined => {
    let symbol = checker.getSymbolAtLocation(node);
    if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    let at: TS.Node | undefined = symbol?.declarations?.[0];
    if (!at || at.getSourceFile() !== prelude) return undefined;
    while (at && !ts.isModuleDeclaration(at)) at = at.parent;
    return at && at.name.text === "tsbpf/kernel" ? symbol!.name : undefined;
  };

  /** A kernel enum constant (`TCP_ESTABLISHED`, `sock_type.SOCK_STREAM`) as an untyped literal, as C's enum constants are. */
  const kernelConstant = (e: TS.Expression): Val | undefined => {
    let v: bigint | undefined;
    if (ts.isIdentifier(e)) {
      const name = kernelName(e);
      v = name === undefined ? undefined : kernel.constants.get(name);
    } else if (ts.isPropertyAccessExpression(e) && ts.isIdentifier(e.expression)) {
      const name = kernelName(e.expression);
      v = name === undefined ? undefined : kernel.enums.get(name)?.values.get(e.name.text);
    }
    return v === undefined ? undefined : { op: { kind: "imm", value: v, type: v > 0x7fffffffffffffffn ? U64 : I64 }, untyped: true };
  };

  const skipParentheses = (e: TS.Expression): TS.Expression => {
    while (ts.isParenthesizedExpression(e)) e = e.expression;
    return e;
  };

  /**
   * The kernel struct member `x.name` names when TypeScript resolves it to a "tsbpf/kernel" interface's
   * property (through a Ptr<T> or a struct embedded by value); `member` is undefined for an unreadable one.
   */
  const kernelMemberOf = (e: TS.PropertyAccessExpression): { struct: KernelStruct; member?: KernelMember } | undefined => {
    const decl = checker.getSymbolAtLocation(e.name)?.declarations?.[0];
    const owner = decl?.parent;
    if (!decl || decl.getSourceFile() !== prelude || !owner || !ts.isInterfaceDeclaration(owner)) return undefined;
    // The prelude's global interfaces (String's `length`) sit in no module.
    const module = owner.parent.parent as TS.Node | undefined;
    if (!module || !ts.isModuleDeclaration(module) || module.name.text !== "tsbpf/kernel") return undefined;
    const struct = kernelStructs.get(cTypeName(owner.name.text));
    return struct && { struct, member: struct.members.get(e.name.text) };
  };

  /** The tsbpf export a name or property access refers to, if it refers to one. */
  const builtin = (node: TS.Node): string | undefined => {
    let symbol = checker.getSymbolAtLocation(node);
    if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    const decl = symbol?.declarations?.[0];
    return decl && decl.getSourceFile() === prelude ? symbol!.name : undefined;
  };

  /** N for `xs.length` where xs is an Arr<T, N> (a local, field, record or kernel array): a constant, as a loop bound needs. */
  const arrayLength = (e: TS.Expression): number | undefined => {
    if (!ts.isPropertyAccessExpression(e) || e.name.text !== "length" || isString(e.expression)) return undefined;
    const marker = checker.getTypeAtLocation(e.expression).getProperty("__tsbpfLength");
    if (!marker) return undefined;
    const t = checker.getTypeOfSymbolAtLocation(marker, e);
    const literal = (t.isUnion() ? t.types : [t]).find((x) => x.isNumberLiteral());
    return literal?.isNumberLiteral() ? literal.value : undefined;
  };

  /** The name of T in a `Ptr<T>` whose T is an interface or type alias the probe file declares, else undefined. */
  const ownPointee = (e: TS.Expression): string | undefined => {
    const marker = checker.getTypeAtLocation(e).getProperty("__tsbpfPointee");
    if (!marker) return undefined;
    const t = checker.getNonNullableType(checker.getTypeOfSymbolAtLocation(marker, e));
    const symbol = t.aliasSymbol ?? t.getSymbol();
    const decl = symbol?.declarations?.[0];
    return decl && decl.getSourceFile() === file && (ts.isInterfaceDeclaration(decl) || ts.isTypeAliasDeclaration(decl)) ? symbol!.name : undefined;
  };

  /** `s.length` and other properties of a string: TSBPF1025. */
  const noStringProperty = (name: TS.MemberName | TS.StringLiteral): never =>
    fail(name, Code.StringOperation, `a string has no \`.${name.text}\` here: a Str<N> supports ===, !==, startsWith("...") and charCodeAt(i)`);

  /** Whether TypeScript types an expression `boolean` (or `true` or `false`). */
  const isBoolean = (e: TS.Expression): boolean => (checker.getTypeAtLocation(e).flags & ts.TypeFlags.BooleanLike) !== 0;

  /** Whether TypeScript types an expression as a string: a literal, or a Str<N> (`string & {...}`). */
  const isString = (e: TS.Expression): boolean => {
    const t = checker.getTypeAtLocation(e);
    const stringLike = (x: TS.Type): boolean => (x.flags & ts.TypeFlags.StringLike) !== 0;
    return stringLike(t) || (t.isIntersection() && t.types.some(stringLike));
  };

  /**
   * Whether an arithmetic operand is a string. An operand that is itself arithmetic is not asked: its own operands are
   * checked when it is lowered, and asking TypeScript the type of `a + b + c + ...` checks all of it again, at each
   * level (minutes for a sum of a thousand terms).
   */
  const arithmeticString = (e: TS.Expression): boolean => {
    const inner = skipParentheses(e);
    return !(ts.isBinaryExpression(inner) && ARITH.has(inner.operatorToken.kind)) && isString(e);
  };

  /** Whether a type is a map's key: the first type argument of `new HashMap<K, V>`, `Histogram<K>`, ... (ArrayMap's is its value). */
  const isMapKey = (node: TS.TypeNode): boolean => {
    const parent = node.parent;
    const owner = ts.isNewExpression(parent) ? parent.expression : ts.isTypeReferenceNode(parent) ? parent.typeName : undefined;
    const cls = owner && builtin(owner);
    return parent && "typeArguments" in parent && (parent.typeArguments as TS.NodeArray<TS.TypeNode> | undefined)?.[0] === node && cls !== undefined && KEYED_MAPS.has(cls);
  };

  const intTypeOf = (node: TS.TypeNode): IntType => {
    if (ts.isTypeReferenceNode(node)) {
      const name = builtin(node.typeName);
      if (name && INT_TYPES[name]) return INT_TYPES[name]!;
      if (name === "ProbeName") return PROBE_NAME;
      if (name === "KernelSymbol") return KERNEL_SYMBOL;
      if (name && STACK_TYPES[name]) {
        const frames = node.typeArguments?.[0];
        return stackType(STACK_TYPES[name]!, frames ? stackFrames(frames, `${name}<N>`) : MAX_STACK_FRAMES);
      }
      // A kernel typedef (`pid_t`) or enum (`sock_type`) is the integer it stands for.
      const k = kernelName(node.typeName);
      const int = k === undefined ? undefined : (kernel.typedefs.get(k) ?? kernel.enums.get(k));
      if (int && INT_TYPES[`${int.signed ? "i" : "u"}${int.size * 8}`]) return INT_TYPES[`${int.signed ? "i" : "u"}${int.size * 8}`]!;
      // The file's own enum is C's: an int, or a 64-bit integer when a member needs one.
      const declared = checker.getSymbolAtLocation(node.typeName)?.declarations?.[0];
      if (declared && ts.isEnumDeclaration(declared)) {
        const wide = declared.members.some((m) => { const v = checker.getConstantValue(m); return typeof v === "number" && (v < -(2 ** 31) || v >= 2 ** 31); });
        return wide ? INT_TYPES.i64! : INT_TYPES.i32!;
      }
      // A map passed to a function (`function send(m: HashMap<u32, V>, ...)`): maps are module-level names, used as such.
      if (name && (MAPS as readonly string[]).includes(name)) {
        return fail(node, Code.UnsupportedType, `a map cannot be a parameter or a value: maps are module-level constants, named where they are used (to act on one of several, pass a flag and choose the map inside, or keep one map keyed by the choice)`);
      }
      if (name === "Ptr") {
        const arg = node.typeArguments?.[0];
        const pointee = arg && ts.isTypeReferenceNode(arg) ? kernelTypeName(arg.typeName) : undefined;
        return pointee ? { ...PTR, pointee } : PTR;
      }
    }
    if (node.kind === ts.SyntaxKind.BooleanKeyword) return BOOL;
    if (node.kind === ts.SyntaxKind.NumberKeyword) {
      return fail(node, Code.UnsupportedType, "`number` has no width: use one of u8 u16 u32 u64 i8 i16 i32 i64 (from \"tsbpf\")");
    }
    if (ts.isTypeLiteralNode(node)) {
      const name = isMapKey(node) ? "Key" : "Value";
      return fail(node, Code.UnsupportedType, `a struct type is declared by name: \`interface ${name} ${node.getText(file)}\` at module level, then \`${name}\` here`);
    }
    // TypeScript's own array and tuple types have no length to lay out: Arr<T, N> has one.
    if (ts.isArrayTypeNode(node) || ts.isTupleTypeNode(node)) {
      const elements = ts.isArrayTypeNode(node) ? [node.elementType] : node.elements;
      const kinds = new Set(elements.map((t) => t.getText(file)));
      if (kinds.size > 1) return fail(node, Code.UnsupportedType, `a tuple of different types (\`${node.getText(file)}\`) has no C layout: declare an interface with a field for each`);
      const length = ts.isTupleTypeNode(node) ? String(node.elements.length) : "N";
      return fail(node, Code.UnsupportedType, `an array is declared with its length, as Arr<T, N>: \`Arr<${[...kinds][0] ?? "T"}, ${length}>\` for \`${node.getText(file)}\``);
    }
    return fail(node, Code.UnsupportedType, `type \`${node.getText(file)}\` is not supported: use one of u8 u16 u32 u64 i8 i16 i32 i64, boolean or Ptr<T>`);
  };

  // ---------------------------------------------------------------- memory layouts

  /** `T | null` as T (lookup results may be declared so). */
  const withoutNull = (t: TS.TypeNode): TS.TypeNode => {
    if (!ts.isUnionTypeNode(t)) return t;
    const rest = t.types.filter((x) => !(ts.isLiteralTypeNode(x) && x.literal.kind === ts.SyntaxKind.NullKeyword));
    return rest.length === 1 ? rest[0]! : t;
  };

  /**
   * Pointer registers into the stack at a run-time offset (a variable index into a stack array): the
   * verifier insists on aligned stack access, and their alignment is unknown.
   */
  const stackAtRunTimeOffset = new WeakSet<VReg>();
  /** Registers holding a ring buffer reservation from reserve() itself (a `const`'s; a `let` may later hold a lookup). */
  const reservations = new WeakSet<VReg>();
  /** Whether an n-byte access at `r` + `at` is one the verifier accepts as aligned (objects and map values start 8-aligned). */
  const aligned = (r: Ref, at: number, n: number): boolean => n === 1 || (!(r.base.kind === "reg" && stackAtRunTimeOffset.has(r.base)) && (r.offset + at) % n === 0);

  const structLayouts = new Map<TS.Symbol, Layout>();
  const intLayout = (type: IntType): Layout => ({ kind: "int", type, size: (type.bits / 8) as 1 | 2 | 4 | 8, align: type.bits / 8 });
  const align = (n: number, a: number): number => Math.ceil(n / a) * a;

  /** A stack's frame limit, a literal 1..127 (`KernelStack<5>`, `kstack(5)`). */
  const stackFrames = (node: TS.Node, what: string): number => {
    const literal = ts.isLiteralTypeNode(node) ? node.literal : node;
    const n = ts.isNumericLiteral(literal) ? Number(literal.text) : NaN;
    return Number.isInteger(n) && n >= 1 && n <= MAX_STACK_FRAMES ? n : fail(node, Code.UnsupportedType, `${what}: the frame limit must be an integer literal from 1 to ${MAX_STACK_FRAMES}`);
  };

  /** A literal number type argument (`Str<16>`); `form` writes the type with a length, for the diagnostic. */
  const lengthOf = (node: TS.TypeNode | undefined, form: (n: string) => string, at: TS.Node): number => {
    if (node && ts.isLiteralTypeNode(node) && ts.isNumericLiteral(node.literal)) {
      const n = Number(node.literal.text);
      if (Number.isInteger(n) && n > 0 && n <= MAX_LENGTH) return n;
    }
    const max = MAX_LENGTH.toLocaleString("en-US");
    return fail(node ?? at, Code.UnsupportedType, `${form("N")} takes an integer literal N from 1 to ${max} (\`${form("64")}\`); a local is on the stack, which has 512 bytes, so larger ones go in map values`);
  };

  /** The C layout of a type: integers, Ptr<T>, Str<N>, Arr<T, N> and interfaces of the probe file. */
  const layoutOf = (node: TS.TypeNode): Layout => {
    if (ts.isTypeReferenceNode(node)) {
      const name = builtin(node.typeName);
      if (name === "Str") return { kind: "str", size: lengthOf(node.typeArguments?.[0], (n) => `Str<${n}>`, node), align: 1 };
      if (name === "Arr") {
        const [t, n] = node.typeArguments ?? [];
        if (!t) fail(node, Code.UnsupportedType, "Arr<T, N> needs an element type and a length");
        const element = layoutOf(t!);
        const length = lengthOf(n, (n) => `Arr<${t!.getText(file)}, ${n}>`, node);
        return { kind: "array", element, length, size: element.size * length, align: element.align };
      }
      if (!name) {
        let symbol = checker.getSymbolAtLocation(node.typeName);
        if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
        const decl = symbol?.declarations?.[0];
        if (symbol && decl && decl.getSourceFile() === file && (ts.isInterfaceDeclaration(decl) || (ts.isTypeAliasDeclaration(decl) && ts.isTypeLiteralNode(decl.type)))) {
          return structLayout(symbol, decl);
        }
        if (symbol && decl && ts.isTypeAliasDeclaration(decl) && decl.getSourceFile() === file) return layoutOf(decl.type);
      }
    }
    return intLayout(enumTypeOf(node) ?? intTypeOf(node));
  };

  /**
   * A kernel enum's type, its enumerators kept, for a map's key or value, a record's field or a parameter: readers print
   * the value's name (object/btf.ts) and `tsbpf run --set` takes one; undefined for any other type.
   */
  function enumTypeOf(node: TS.TypeNode): IntType | undefined {
    const k = ts.isTypeReferenceNode(node) ? kernelName(node.typeName) : undefined;
    const e = k === undefined || kernel.typedefs.has(k) ? undefined : kernel.enums.get(k);
    return e && Object.freeze({ ...intTypeOf(node), enumeration: { name: e.name, values: [...e.values] } });
  }

  /** The struct layout of a type (null left out) that is one of the file's interfaces, else undefined. */
  function structOfType(type: TS.Type): Layout | undefined {
    const members = type.isUnion() ? type.types.filter((t) => !(t.flags & ts.TypeFlags.Null)) : [type];
    const symbol = members.length === 1 ? members[0]!.getSymbol() : undefined;
    const decl = symbol?.declarations?.[0];
    return symbol && decl && decl.getSourceFile() === file && ts.isInterfaceDeclaration(decl) ? structLayout(symbol, decl) : undefined;
  }

  /** `c ? a : b` or `a ?? b`, parenthesized or not. */
  function isChoice(e: TS.Expression): boolean {
    while (ts.isParenthesizedExpression(e)) e = e.expression;
    return ts.isConditionalExpression(e) || (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken);
  }

  /** A value the compiler builds (an object or array literal, a choice), rather than one already in memory. */
  function isBuilt(e: TS.Expression): boolean {
    while (ts.isParenthesizedExpression(e)) e = e.expression;
    return ts.isObjectLiteralExpression(e) || ts.isArrayLiteralExpression(e) || isChoice(e);
  }

  /** The structs being laid out, outermost first, with the field each is at: a struct met again holds itself. */
  const layingOut: { symbol: TS.Symbol; field?: TS.PropertySignature }[] = [];

  function structLayout(symbol: TS.Symbol, decl: TS.InterfaceDeclaration | TS.TypeAliasDeclaration): Layout {
    const hit = structLayouts.get(symbol);
    if (hit) return hit;
    const again = layingOut.findIndex((s) => s.symbol === symbol);
    if (again >= 0) {
      // Reported at the field that closes the cycle; laying it out would never end.
      const cycle = layingOut.slice(again);
      const path = cycle.map((s) => `${s.symbol.name}.${(s.field!.name as TS.Identifier).text}`).join(" and ");
      const field = cycle.at(-1)!.field!;
      return fail(
        field,
        Code.UnsupportedType,
        `${symbol.name} contains itself through ${path}: a struct holds its fields by value, so it cannot hold itself ` +
          `(C would hold a pointer, but a probe's structs hold values): hold the fields it needs, or a key to look it up in a map`,
      );
    }
    if (ts.isInterfaceDeclaration(decl) && decl.heritageClauses?.length) fail(decl, Code.UnsupportedType, "interfaces used as C structs cannot extend others");
    const members = ts.isInterfaceDeclaration(decl) ? decl.members : (decl.type as TS.TypeLiteralNode).members;
    const fields: { name: string; offset: number; layout: Layout }[] = [];
    let size = 0;
    let maxAlign = 1;
    const entry: (typeof layingOut)[number] = { symbol };
    layingOut.push(entry);
    try {
      for (const m of members) {
        if (!ts.isPropertySignature(m) || !m.type || !ts.isIdentifier(m.name) || m.questionToken) {
          fail(m, Code.UnsupportedType, "a struct interface holds only required fields with types (`pid: u32;`)");
        }
        const pm = m as TS.PropertySignature;
        entry.field = pm;
        const l = layoutOf(pm.type!);
        size = align(size, l.align);
        fields.push({ name: (pm.name as TS.Identifier).text, offset: size, layout: l });
        size += l.size;
        maxAlign = Math.max(maxAlign, l.align);
      }
    } finally {
      layingOut.pop();
    }
    if (!fields.length) fail(decl, Code.UnsupportedType, "an empty struct has no C layout");
    const layout: Layout = { kind: "struct", name: symbol.name, fields, size: align(size, maxAlign), align: maxAlign };
    structLayouts.set(symbol, layout);
    return layout;
  }

  // ---------------------------------------------------------------- maps and functions

  const maps: MapDef[] = [];
  const bss: BssVar[] = [];
  /** String temporaries with a spare byte after their text (stringTemp). */
  const endsWithRoom = new WeakSet<Ref>();
  /** The maps print() and clear() name, in the order of their numbers in action records (the actions map's tag). */
  const actionTargets: string[] = [];
  /** The file's printf() calls, by the id their records carry (the actions map's tags). */
  const printfSites: PrintfSite[] = [];
  /** The file's time() formats, by the id their records carry. */
  const timeFormats: string[] = [];
  /** Functions being inlined, innermost last (recursion is an error). */
  const inlining: TS.Node[] = [];
  /** Calls inlined into each handler so far: functions calling others twice each grow exponentially. */
  const inlinedCalls = new WeakMap<FunctionBuilder, number>();
  const functions = new Map<TS.Symbol, TS.FunctionDeclaration | TS.ArrowFunction | TS.FunctionExpression>();

  /** The key of a keyed histogram's hash map: the user's key and the slot it counts, `{ key: K; slot: u32 }`. */
  function slotKey(map: string, histogramKey: Layout): Layout {
    const slotAt = align(histogramKey.size, 4);
    const keyAlign = Math.max(histogramKey.align, 4);
    return {
      kind: "struct",
      name: `${map}__histogram_key`,
      fields: [{ name: "key", offset: 0, layout: histogramKey }, { name: "slot", offset: slotAt, layout: intLayout(U32) }],
      size: align(slotAt + 4, keyAlign),
      align: keyAlign,
    };
  }

  /** `const NAME = new HashMap<K, V>(maxEntries)` and the other map classes. */
  function mapDeclaration(name: string, decl: TS.VariableDeclaration, init: TS.NewExpression, cls: MapClass): void {
    if (maps.some((m) => m.name === name)) fail(decl.name, Code.UnsupportedTopLevel, `two maps are named ${name}`);
    const typeArgs = init.typeArguments ?? [];
    const args = init.arguments ?? [];
    const constant = (node: TS.Expression): number => {
      const fl = new FnLowering(new FunctionBuilder(), new Map(moduleScope));
      const v = fl.value(node);
      if (v.op.kind !== "imm" || v.op.value <= 0n || v.op.value > 0xffffffffn) return fail(node, Code.BadMap, `${cls}: the size must be a positive integer constant below 2^32`);
      return Number(v.op.value);
    };
    const needTypes = (n: number, form: string): TS.TypeNode[] => {
      if (typeArgs.length !== n) fail(init, Code.BadMap, `write the ${n === 1 ? "value type" : "key and value types"} of the map: \`new ${form}\``);
      return [...typeArgs];
    };
    const needSize = (form: string): number => {
      if (args.length !== 1) fail(init, Code.BadMap, `${cls} takes its size: \`new ${form}\``);
      return constant(args[0]!);
    };
    const keyValue = (l: Layout, what: string, at: TS.Node): Layout => {
      if (l.kind === "int" && l.type.ptr && what === "key") fail(at, Code.BadMap, "a pointer cannot be a map key: key by its address as a number, a u64, as bcc and bpftrace do (`starts.update(req as u64, ...)`)");
      return l;
    };
    let info: MapInfo;
    switch (cls) {
      case "HashMap":
      case "PerCpuHashMap":
      case "LruHashMap": {
        const [k, v] = needTypes(2, `${cls}<K, V>(maxEntries)`);
        const key = keyValue(layoutOf(k!), "key", k!);
        const value = keyValue(layoutOf(v!), "value", v!);
        info = { cls, key, value, def: { name, type: MAP_TYPES[cls], maxEntries: needSize(`${cls}<K, V>(maxEntries)`), key, value } };
        break;
      }
      case "ArrayMap":
      case "PerCpuArrayMap": {
        const [v] = needTypes(1, `${cls}<V>(maxEntries)`);
        const key = intLayout(U32);
        const value = layoutOf(v!);
        info = { cls, key, value, def: { name, type: MAP_TYPES[cls], maxEntries: needSize(`${cls}<V>(maxEntries)`), key, value } };
        break;
      }
      case "RingBuf": {
        const [v] = needTypes(1, "RingBuf<T>(bytes)");
        const bytes = needSize("RingBuf<T>(bytes)");
        if (bytes < 4096 || (bytes & (bytes - 1)) !== 0) fail(args[0]!, Code.BadMap, `a ring buffer's size must be a power of two of at least 4096 bytes (a page), not ${bytes}`);
        const value = layoutOf(v!);
        // A record takes its size rounded up to 8 and an 8-byte header: one that cannot fit is never sent.
        const record = Math.ceil(value.size / 8) * 8 + 8;
        if (record > bytes) {
          let fits = 4096;
          while (fits < record) fits *= 2;
          fail(args[0]!, Code.BadMap, `a ring buffer of ${bytes} bytes cannot hold one ${v!.getText(file)} record (${value.size} bytes and an 8-byte header): every output() or reserve() would fail; give it at least ${fits} bytes`);
        }
        info = { cls, value, def: { name, type: MAP_TYPES[cls], maxEntries: bytes, event: value } };
        break;
      }
      case "PerfEventArray": {
        const [v] = needTypes(1, "PerfEventArray<T>()");
        if (args.length > 1) fail(args[1]!, Code.BadMap, "PerfEventArray takes at most the number of CPUs");
        // libbpf sizes max_entries 0 to the CPU count at load time; an explicit count loads everywhere.
        const cpus = args[0] ? constant(args[0]) : 1024;
        const value = layoutOf(v!);
        info = { cls, value, def: { name, type: MAP_TYPES[cls], maxEntries: cpus, key: 4, value: 4, event: value } };
        break;
      }
      case "StackTraceMap": {
        if (typeArgs.length) fail(typeArgs[0]!, Code.BadMap, "StackTraceMap has no type arguments");
        info = { cls, def: { name, type: MAP_TYPES[cls], maxEntries: needSize("StackTraceMap(maxEntries)"), key: 4, value: STACK_DEPTH * 8 } };
        break;
      }
      case "LinearHistogram": {
        if (typeArgs.length > 1) fail(typeArgs[1]!, Code.BadMap, "a keyed LinearHistogram has one type argument, its key: `new LinearHistogram<K>(min, max, step, maxKeys)`");
        const keyed = typeArgs.length === 1;
        if (args.length !== (keyed ? 4 : 3)) {
          fail(init, Code.BadMap, keyed ? "a keyed LinearHistogram takes min, max, step and how many keys it holds: `new LinearHistogram<K>(0, 100, 10, 1024)`" : "LinearHistogram takes min, max and step: `new LinearHistogram(0, 100, 10)`, or `new LinearHistogram<K>(0, 100, 10, maxKeys)` for one per key");
        }
        const [min, max, step] = args.slice(0, 3).map((a) => {
          const v = new FnLowering(new FunctionBuilder(), new Map(moduleScope)).value(a);
          return v.op.kind === "imm" ? BigInt.asIntN(64, v.op.value) : fail(a, Code.BadMap, "LinearHistogram: min, max and step must be integer constants");
        }) as [bigint, bigint, bigint];
        if (step <= 0n || max <= min) fail(init, Code.BadMap, "LinearHistogram needs min < max and a positive step");
        const buckets = (max - min + step - 1n) / step;
        if (buckets > 1000n) fail(init, Code.BadMap, `LinearHistogram: ${buckets} buckets is more than 1000; take a larger step`);
        const slots = Number(buckets) + 2;
        const value = intLayout(U64);
        if (!keyed) {
          const key = intLayout(U32);
          info = { cls, key, value, def: { name, type: MAP_TYPES[cls], maxEntries: slots, key, value, linear: { min, max, step } } };
          break;
        }
        // One per key, as bpftrace's `@x[k] = lhist(v, ...)`: a hash map counting (key, slot) pairs.
        const histogramKey = keyValue(layoutOf(typeArgs[0]!), "key", typeArgs[0]!);
        const key = slotKey(name, histogramKey);
        const maxKeys = constant(args[3]!);
        if (maxKeys * slots > 0xffffffff) fail(args[3]!, Code.BadMap, `${maxKeys} keys of ${slots} slots each is more than a map holds`);
        info = { cls, key, value, histogramKey, def: { name, type: MAP_TYPES.HashMap, maxEntries: maxKeys * slots, key, value, linear: { min, max, step } } };
        break;
      }
      case "Count":
      case "Sum":
      case "Avg":
      case "Min":
      case "Max":
      case "Stats": {
        // Per-CPU, as bpftrace keeps them: each CPU updates its own value without atomics; readers merge the CPUs.
        const aggregate = AGGREGATE_OF[cls]!;
        const value = aggregateValue(aggregate);
        if (typeArgs.length === 0) {
          if (args.length) fail(init, Code.BadMap, `without a key type, \`new ${cls}()\` takes no size; \`new ${cls}<K>(maxKeys)\` keeps one value per key`);
          const key = intLayout(U32);
          info = { cls, key, value, def: { name, type: MAP_TYPES.PerCpuArrayMap, maxEntries: 1, key, value, aggregate } };
          break;
        }
        if (typeArgs.length !== 1) fail(init, Code.BadMap, `a keyed ${cls} has one type argument, its key: \`new ${cls}<K>(maxKeys)\``);
        const key = keyValue(layoutOf(typeArgs[0]!), "key", typeArgs[0]!);
        info = { cls, key, value, def: { name, type: MAP_TYPES[cls], maxEntries: needSize(`${cls}<K>(maxKeys)`), key, value, aggregate } };
        break;
      }
      case "Histogram": {
        const value = intLayout(U64);
        if (typeArgs.length === 0) {
          if (args.length) fail(init, Code.BadMap, "a Histogram without a key type takes no size: `new Histogram()`, or `new Histogram<K>(maxKeys)` for one per key");
          const key = intLayout(U32);
          info = { cls, key, value, def: { name, type: MAP_TYPES[cls], maxEntries: HISTOGRAM_SLOTS, key, value, histogram: true } };
          break;
        }
        // One histogram per key, as bpftrace's `@x[k] = hist(v)`: a hash map counting (key, slot) pairs.
        if (typeArgs.length !== 1) fail(init, Code.BadMap, "a keyed Histogram has one type argument, its key: `new Histogram<K>(maxKeys)`");
        const histogramKey = keyValue(layoutOf(typeArgs[0]!), "key", typeArgs[0]!);
        const key = slotKey(name, histogramKey);
        const maxKeys = needSize("Histogram<K>(maxKeys)");
        if (maxKeys * HISTOGRAM_SLOTS > 0xffffffff) fail(args[0]!, Code.BadMap, `${maxKeys} keys of ${HISTOGRAM_SLOTS} slots each is more than a map holds`);
        info = { cls, key, value, histogramKey, def: { name, type: MAP_TYPES.HashMap, maxEntries: maxKeys * HISTOGRAM_SLOTS, key, value, histogram: true } };
        break;
      }
    }
    // A map the file does not export is the probe's own bookkeeping: `tsbpf run` leaves it out of what it prints.
    const statement = decl.parent.parent;
    const exported = options.exportAll || (ts.isVariableStatement(statement) && statement.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword));
    if (!exported) info.def = { ...info.def, internal: true };
    maps.push(info.def);
    moduleScope.set(checker.getSymbolAtLocation(decl.name)!, { kind: "map", map: info });
  }

  // ---------------------------------------------------------------- module level

  function attempt(work: () => void): void {
    try {
      work();
    } catch (e) {
      if (!(e instanceof Abort)) throw e;
    }
  }

  /** A module-level declaration; one that fails (with its diagnostic) binds its name as failed. */
  function attemptDeclaration(decl: TS.VariableDeclaration, work: () => void): void {
    try {
      work();
    } catch (e) {
      if (!(e instanceof Abort)) throw e;
      moduleScope.set(checker.getSymbolAtLocation(decl.name)!, { kind: "failed" });
    }
  }

  /** `const NAME = <integer constant expression>` at module level: folded wherever it is used. */
  function moduleConstant(decl: TS.VariableDeclaration): void {
    let init: TS.Expression = decl.initializer!;
    while (ts.isAsExpression(init) || ts.isParenthesizedExpression(init) || ts.isSatisfiesExpression(init)) init = init.expression;
    if (ts.isObjectLiteralExpression(init) || ts.isArrayLiteralExpression(init)) {
      fail(init, Code.UnsupportedTopLevel, "a module-level constant must be an integer: write a table of constants as one `const` per value (`const SIGKILL = 9;`), or keep it in a map");
    }
    if (ts.isStringLiteral(init) || ts.isNoSubstitutionTemplateLiteral(init)) {
      moduleScope.set(checker.getSymbolAtLocation(decl.name)!, { kind: "string", text: init.text });
      return;
    }
    const declared = decl.type ? intTypeOf(decl.type) : undefined;
    const fl = new FnLowering(new FunctionBuilder(), new Map(moduleScope));
    const v = fl.value(decl.initializer!);
    if (v.op.kind !== "imm") {
      fail(decl.initializer!, Code.UnsupportedTopLevel, "a module-level constant must be an integer computable at compile time (helpers run only inside handlers)");
    }
    const value = (v.op as Imm).value;
    if (declared && v.untyped && !fits(value, declared)) fail(decl.initializer!, Code.OutOfRange, outOfRange(value, declared));
    moduleScope.set(checker.getSymbolAtLocation(decl.name)!, { kind: "const", val: declared ? { op: imm(value, declared) } : v });
  }

  /**
   * `let NAME: T = <integer constant>` at module level: a parameter of the probes, as bpftrace's $1 or a libbpf tool's
   * `const volatile` knob. The object holds the value written; `tsbpf run --set NAME=VALUE` gives another before loading.
   */
  function moduleParameter(decl: TS.VariableDeclaration): void {
    const name = (decl.name as TS.Identifier).text;
    if (/^_*tsbpf_/.test(name)) fail(decl.name, Code.UnsupportedTopLevel, `names beginning with tsbpf_ are tsbpf's own: rename the parameter ${name}`);
    if (decl.type && ts.isTypeReferenceNode(decl.type) && builtin(decl.type.typeName) === "Arr") return arrayParameter(decl, name, decl.type);
    if (decl.type && ts.isTypeReferenceNode(decl.type) && builtin(decl.type.typeName) === "Str") return stringParameter(decl, name, decl.type);
    if (ts.isArrayLiteralExpression(skipParentheses(decl.initializer!))) {
      fail(decl.initializer!, Code.UnsupportedTopLevel, `an array parameter needs its type, Arr<T, N> (\`let ${name}: Arr<u32, 4> = [1, 2];\`)`);
    }
    const declared = decl.type ? (enumTypeOf(decl.type) ?? intTypeOf(decl.type)) : undefined;
    if (declared?.ptr || declared?.stack || declared?.probe) fail(decl.type!, Code.UnsupportedTopLevel, `a parameter is an integer, a boolean, an Arr<T, N> of them or a Str<N>, not a ${decl.type!.getText(file)}`);
    const v = new FnLowering(new FunctionBuilder(), new Map(moduleScope)).value(decl.initializer!);
    if (v.op.kind !== "imm") fail(decl.initializer!, Code.UnsupportedTopLevel, "a parameter's value must be an integer computable at compile time; the loader may set another (tsbpf run --set NAME=VALUE)");
    const value = (v.op as Imm).value;
    // Unannotated, it takes the type a `let` in a handler would: i64, or the initializer's own type.
    const type = declared ?? (v.untyped ? I64 : v.op.type);
    if (v.untyped && !fits(value, type)) fail(decl.initializer!, Code.OutOfRange, outOfRange(value, type));
    moduleScope.set(checker.getSymbolAtLocation(decl.name)!, { kind: "param", name, offset: rodata.int(name, type, value), type });
  }

  /**
   * `let NAME: Arr<T, N> = [...]`: an array parameter, as a libbpf tool's `const volatile pid_t targ_pids[4]`, which
   * `tsbpf run --set NAME=1,2` fills. Its initializer is a list of integer constants (nested for an Arr of Arrs),
   * elements it leaves out zero, as in C.
   */
  function arrayParameter(decl: TS.VariableDeclaration, name: string, typeNode: TS.TypeNode): void {
    const layout = layoutOf(typeNode) as Layout & { kind: "array" };
    const dimensions: number[] = [];
    let element: Layout = layout;
    for (; element.kind === "array"; element = element.element) dimensions.push(element.length);
    if (element.kind !== "int" || element.type.ptr || element.type.stack || element.type.probe) {
      fail(typeNode, Code.UnsupportedTopLevel, `an array parameter's elements are integers or booleans, not ${aLayout(element)}`);
    }
    const type = (element as Layout & { kind: "int" }).type;
    const lowering = new FnLowering(new FunctionBuilder(), new Map(moduleScope));
    const values: bigint[] = [];
    const fill = (e: TS.Expression, depth: number): void => {
      const literal = skipParentheses(e);
      if (depth === dimensions.length) {
        const v = lowering.value(e);
        if (v.op.kind !== "imm") fail(e, Code.UnsupportedTopLevel, "an array parameter's elements must be integers computable at compile time; the loader may set others (tsbpf run --set NAME=1,2)");
        const value = (v.op as Imm).value;
        if (v.untyped && !fits(value, type)) fail(e, Code.OutOfRange, outOfRange(value, type));
        values.push(value);
        return;
      }
      if (!ts.isArrayLiteralExpression(literal)) return fail(e, Code.UnsupportedTopLevel, `an array parameter's value is a list of constants (\`[1, 2]\`), not ${e.getText(file)}`);
      if (literal.elements.length > dimensions[depth]!) {
        fail(literal, Code.OutOfRange, `${literal.elements.length} values do not fit in ${depth ? `Arr<..., ${dimensions[depth]}>` : typeNode.getText(file)}`);
      }
      for (const item of literal.elements) fill(item, depth + 1);
      // Elements left out are zero, as C's initializer leaves them.
      const stride = dimensions.slice(depth + 1).reduce((a, b) => a * b, 1);
      for (let i = literal.elements.length; i < dimensions[depth]!; i++) values.push(...new Array<bigint>(stride).fill(0n));
    };
    fill(decl.initializer!, 0);
    moduleScope.set(checker.getSymbolAtLocation(decl.name)!, { kind: "param", name, offset: rodata.array(name, type, values, dimensions), type, array: layout });
  }

  /**
   * `let NAME: Str<N> = "text"`: a string parameter, as a libbpf tool's `const volatile char name[16]`, which
   * `tsbpf run --set NAME=TEXT` fills (at most N - 1 bytes and a NUL). Handlers read it in place, as a Str<N>.
   */
  function stringParameter(decl: TS.VariableDeclaration, name: string, typeNode: TS.TypeNode): void {
    const layout = layoutOf(typeNode) as Layout & { kind: "str" };
    const init = skipParentheses(decl.initializer!);
    if (!ts.isStringLiteral(init) && !ts.isNoSubstitutionTemplateLiteral(init)) {
      return fail(decl.initializer!, Code.UnsupportedTopLevel, `a string parameter's value is a string literal (\`let ${name}: ${typeNode.getText(file)} = "";\`); the loader may set another (tsbpf run --set ${name}=TEXT)`);
    }
    const text = new TextEncoder().encode(init.text);
    if (text.length >= layout.size) fail(init, Code.OutOfRange, `"${init.text}" has ${text.length} bytes: ${typeNode.getText(file)} holds at most ${layout.size - 1} and a NUL`);
    if (text.includes(0)) fail(init, Code.OutOfRange, `a string parameter's value cannot hold a NUL: it would end there`);
    moduleScope.set(checker.getSymbolAtLocation(decl.name)!, { kind: "param", name, offset: rodata.chars(name, text, layout.size), type: I8, array: layout });
  }

  function lowerModule(): Lowered {
    const probes: (() => void)[] = [];
    let unnamed = 0;

    for (const stmt of file.statements) {
      if (ts.isImportDeclaration(stmt)) {
        const spec = (stmt.moduleSpecifier as TS.StringLiteral).text;
        if (spec !== "tsbpf" && spec !== "tsbpf/kernel") {
          report(stmt.moduleSpecifier, Code.UnsupportedImport, `only "tsbpf" and "tsbpf/kernel" can be imported in a probe file, not "${spec}"`);
        }
        continue;
      }
      if (ts.isTypeAliasDeclaration(stmt) || ts.isInterfaceDeclaration(stmt) || ts.isEmptyStatement(stmt)) continue;
      // An enum of integers is a set of named constants (`Sig.A` is its value, as TypeScript computes it).
      if (ts.isEnumDeclaration(stmt)) {
        const other = stmt.members.find((m) => { const v = checker.getConstantValue(m); return typeof v !== "number" || !Number.isInteger(v); });
        if (other) report(other, Code.UnsupportedTopLevel, `enum member ${other.name.getText(file)} is not an integer: an enum in a probe file names integer constants`);
        continue;
      }
      if (ts.isFunctionDeclaration(stmt) && stmt.name && stmt.body) {
        functions.set(checker.getSymbolAtLocation(stmt.name)!, stmt);
        continue;
      }
      if (ts.isVariableStatement(stmt)) {
        const isConst = (stmt.declarationList.flags & ts.NodeFlags.Const) !== 0;
        for (const decl of stmt.declarationList.declarations) {
          if (!ts.isIdentifier(decl.name) || !decl.initializer) {
            report(decl, Code.UnsupportedTopLevel, "module-level declarations must be `const NAME = value`");
            continue;
          }
          const name = decl.name.text;
          const init = decl.initializer;
          if (name === "license") {
            if (isConst && (ts.isStringLiteral(init) || ts.isNoSubstitutionTemplateLiteral(init))) license = init.text;
            else {
              // Said here, where it is written, rather than as a license missing from the file.
              report(decl, Code.MissingLicense, 'the license is a `const` string literal, which the loader gives the kernel: `export const license = "GPL";`');
              license ??= "";
            }
            continue;
          }
          const mapClass = ts.isNewExpression(init) ? builtin(init.expression) : undefined;
          if (isConst && mapClass && (MAPS as readonly string[]).includes(mapClass)) {
            attemptDeclaration(decl, () => mapDeclaration(name, decl, init as TS.NewExpression, mapClass as MapClass));
            continue;
          }
          if (isConst && (ts.isArrowFunction(init) || ts.isFunctionExpression(init))) {
            functions.set(checker.getSymbolAtLocation(decl.name)!, init);
            continue;
          }
          const kind = ts.isCallExpression(init) ? builtin(init.expression) : undefined;
          // A probe, map or function bound with `let` or `var`: `let` would make it a parameter, which it cannot be.
          const bound = !isConst && boundWithConst(name, init, mapClass, kind);
          if (bound) {
            report(decl, Code.UnsupportedTopLevel, bound);
            continue;
          }
          if (isConst && kind && (PROBES as readonly string[]).includes(kind)) {
            // Handlers are lowered once every module constant is known (they may use later ones).
            probes.push(() => programs.push(lowerProbe(name, kind as ProbeKind, init as TS.CallExpression)));
            continue;
          }
          if (isConst) {
            attemptDeclaration(decl, () => moduleConstant(decl));
            continue;
          }
          if (stmt.declarationList.flags & ts.NodeFlags.Let) {
            attemptDeclaration(decl, () => moduleParameter(decl));
            continue;
          }
          report(decl, Code.UnsupportedTopLevel, `module-level \`var\` is not supported: a probe file holds probes (\`const ${name} = kprobe(...)\`), integer constants, parameters (\`let minMs: u64 = 10\`), types and \`export const license\``);
        }
        continue;
      }
      // A probe written as a bare call (`tracepoint(...)`, as a one-liner writes it) is named after its kind.
      const call = ts.isExpressionStatement(stmt) && ts.isCallExpression(stmt.expression) ? stmt.expression : undefined;
      const kind = call ? builtin(call.expression) : undefined;
      if (call && kind && (PROBES as readonly string[]).includes(kind)) {
        const name = `${kind}_${++unnamed}`;
        probes.push(() => programs.push(lowerProbe(name, kind as ProbeKind, call)));
        continue;
      }
      report(stmt, Code.UnsupportedTopLevel, `${describe(ts, stmt)} are not supported at module level: a probe file holds imports, types, functions, maps, probes, integer constants and the license`);
    }
    for (const lowerOne of probes) attempt(lowerOne);
    if (license === undefined) {
      diagnostics.push(makeDiagnostic(file, Code.MissingLicense, 'missing `export const license = "GPL";`: the kernel requires a license, and printk needs a GPL-compatible one', 0, 0));
    }
    return { module: { functions: programs.map((p) => p.fn), rodata: rodata.bytes(), rodataVars: rodata.vars, ...(bss.length ? { bss } : {}), license: license ?? "", maps }, programs, diagnostics, structs: [...structLayouts.values()].filter((l) => l.kind === "struct") };
  }

  /**
   * What to write for a probe, a map or a function a module-level `let` or `var` declares (`const`, as they are bound
   * once), or undefined for anything else.
   */
  function boundWithConst(name: string, init: TS.Expression, mapClass: string | undefined, kind: string | undefined): string | undefined {
    const what =
      mapClass && (MAPS as readonly string[]).includes(mapClass)
        ? `a map, \`export const ${name} = new ${mapClass}(...)\``
        : kind && (PROBES as readonly string[]).includes(kind)
          ? `a probe, \`export const ${name} = ${kind}(...)\``
          : ts.isArrowFunction(init) || ts.isFunctionExpression(init)
            ? `a function, \`const ${name} = (...) => ...\``
            : undefined;
    return what && `declare ${what}, with \`const\`: a module-level \`let\` is a parameter the loader may set (\`let minMs: u64 = 10\`), and \`var\` is not supported`;
  }

  // ---------------------------------------------------------------- probes

  function lowerProbe(name: string, kind: ProbeKind, call: TS.CallExpression): LoweredProgram {
    if (kind === "profile" || kind === "interval" || kind === "software" || kind === "hardware") return lowerPerfEventProbe(name, kind, call);
    if (kind === "begin" || kind === "end") return lowerRunProbe(name, kind, call);
    const strings = kind === "usdt" ? 3 : kind === "uprobe" || kind === "uretprobe" || kind === "tracepoint" ? 2 : 1;
    const args = call.arguments;
    if (args.length !== strings + 1) fail(call, Code.BadProbe, `${kind}() takes ${["a string", "two strings", "three strings"][strings - 1]} and a handler`);
    // Names may be module-level string constants (`uprobe(LIBC, "malloc", ...)`), except a tracepoint's: its format
    // (or a raw tracepoint's prototype) is read, from the literals in the file's text, before the file is type-checked.
    const constants = kind !== "tracepoint" && kind !== "rawTracepoint";
    const names = args.slice(0, strings).map((a) => {
      const constant = constants && ts.isIdentifier(a) ? moduleScope.get(checker.getSymbolAtLocation(a)!) : undefined;
      const text = ts.isStringLiteral(a) || ts.isNoSubstitutionTemplateLiteral(a) ? a.text : constant?.kind === "string" ? constant.text : undefined;
      if (text === undefined) return fail(a, Code.BadProbe, `the arguments of ${kind}() must be string literals${constants ? " or module-level string constants" : ""}`);
      if (text === "") return fail(a, Code.BadProbe, `the arguments of ${kind}() must not be empty`);
      return text;
    });
    // The loader lists one binary's functions for a glob; it does not search the file system for binaries.
    if ((kind === "uprobe" || kind === "uretprobe") && isGlob(names[0]!)) {
      fail(args[0]!, Code.BadProbe, `the binary of ${kind}() must be one path, not a glob (\`${names[0]}\`): only its function name may hold * and ?`);
    }
    const handler = handlerOf(kind, args[strings]!);
    const section =
      kind === "tracepoint" ? `tracepoint/${names[0]}/${names[1]}` : kind === "rawTracepoint" ? `tp_btf/${names[0]}` : kind === "uprobe" || kind === "uretprobe" || kind === "usdt" ? `${kind}/${names.join(":")}` : `${kind}/${names[0]}`;

    const fb = new FunctionBuilder();
    const scope = new Map<TS.Symbol, Binding>(moduleScope);
    const params = handler.parameters;
    // Where a boolean parameter's register is read whole, to be converted once lowering starts.
    const wholes: [VReg, VReg][] = [];
    /** The registers of structs passed by value, stored to their stack copies once the body's lowering has begun. */
    const byValueParts: { object: number; offset: number; part: VReg; node: TS.Node }[] = [];
    const wholeParam = (reg: VReg): VReg => {
      if (!reg.type.bool) return reg;
      const raw = fb.vreg(U64);
      wholes.push([reg, raw]);
      return raw;
    };
    if (kind === "tracepoint") {
      if (params.length > 1) fail(params[1]!, Code.TooManyParams, "a tracepoint handler takes one parameter: the tracepoint's record");
      const format = tracepoints.get(`${names[0]}/${names[1]}`);
      if (!format) throw new Abort(); // reported before type checking
      if (params[0]) scope.set(paramSymbol(params[0]), { kind: "tpctx", format });
    } else if (kind === "rawTracepoint") {
      // The context is the tracepoint's arguments, one u64 slot each, typed by its prototype (or the annotation).
      const args = options.rawTracepoints?.get(names[0]!);
      if (!args) throw new Abort(); // reported before type checking
      if (params.length > args.length) fail(params[args.length]!, Code.TooManyParams, `raw tracepoint ${names[0]} passes ${args.length} argument${args.length === 1 ? "" : "s"}`);
      params.forEach((p, i) => {
        const arg = args[i]!;
        const type = p.type ? intTypeOf(p.type) : btfParamType(arg);
        // The kernel types a tp_btf argument that points to a struct (PTR_TO_BTF_ID), whatever the annotation says.
        const reg = fb.vreg(type.ptr && type.pointee && type.pointee !== "char" && arg.kind === "ptr" && !arg.foreign ? { ...type, typed: true } : type);
        fb.emit({ op: "ctx", dst: wholeParam(reg), offset: 8 * i, size: 8, signed: false, loc: locOf(p) });
        scope.set(paramSymbol(p), { kind: "var", reg, mutable: true });
      });
    } else if (kind === "usdt") {
      // Where each argument is differs by site: the loader gives every site its spec, read at run time.
      if (params.length > USDT_MAX_ARGS) fail(params[USDT_MAX_ARGS]!, Code.TooManyParams, `a usdt handler can read at most ${USDT_MAX_ARGS} arguments (the most a USDT probe site describes)`);
      // A parameter past the probe's arguments would read 0 at every site: where the binary's notes say so, it is an error.
      const [binary, provider, probeName] = names as [string, string, string];
      const passed = isGlob(provider) || isGlob(probeName) ? undefined : options.usdtArguments?.(binary, provider, probeName);
      if (passed !== undefined && params.length > passed) {
        const extra = params[passed]!;
        fail(
          extra,
          Code.TooManyParams,
          `USDT probe ${provider}:${probeName} in ${binary} passes ${passed} argument${passed === 1 ? "" : "s"} (its .note.stapsdt says so), so \`${extra.name.getText(file)}\` would always be 0: ` +
            `the handler takes at most ${passed} parameter${passed === 1 ? "" : "s"}`,
        );
      }
      // Every USDT program's object has the specs map, as libbpf's loaders expect, its handler reading arguments or not.
      if (!maps.some((m) => m.name === USDT_SPECS_MAP)) maps.push(usdtSpecsMap());
      const regs = params.map((p) => {
        const reg = fb.vreg(parameterType(p, "a USDT probe's note gives its arguments' sizes, not their types"));
        scope.set(paramSymbol(p), { kind: "var", reg, mutable: true });
        return { reg: wholeParam(reg), loc: locOf(p) };
      });
      emitUsdtArgs(fb, regs);
    } else {
      if (!target) fail(call, Code.UnsupportedArch, "the compiler has no register layout for this architecture (x86_64 and arm64 only): pass `--arch x86_64` or `--arch arm64`");
      const ret = kind === "kretprobe" || kind === "uretprobe";
      const max = ret ? 1 : target!.params.length;
      // A struct passed by value takes one register per 8 bytes (up to two), as x86-64's and arm64's calling conventions pass it.
      const structs = params.map((p) => (ret ? undefined : byValueStruct(p)));
      const registers = structs.map((s) => Math.max(1, Math.ceil((s?.size ?? 8) / 8)));
      const past = registers.findIndex((_, i) => registers.slice(0, i + 1).reduce((a, b) => a + b, 0) > max);
      if (past >= 0) {
        const left = max - registers.slice(0, past).reduce((a, b) => a + b, 0);
        const struct = left > 0 ? `: \`${params[past]!.name.getText(file)}\`, a struct of ${structs[past]!.size} bytes passed by value, needs ${registers[past]} and ${left} is left` : "";
        fail(params[past]!, Code.TooManyParams, ret ? `a ${kind} handler takes one parameter: the return value` : `a ${kind} handler can read at most ${max} arguments (those passed in registers)${struct}`);
      }
      // Unannotated parameters of a kprobe or kretprobe take the types of the function's prototype in BTF.
      const f = kind === "kprobe" || kind === "kretprobe" ? options.kernelFunctions?.get(names[0]!) : undefined;
      const fromBtf = f && (ret ? (f.ret ? [f.ret] : []) : f.args);
      // Most often a misspelling: the name is the mistake to point at, not the parameter BTF could not type.
      const untyped = params.find((p) => !p.type);
      const near = f ? undefined : options.unknownFunctions?.get(names[0]!);
      if (untyped && near) {
        const suggestion = near.length ? ` (did you mean ${near.join(" or ")}?)` : "";
        fail(args[0]!, Code.MissingType, `the kernel's BTF has no function ${names[0]}${suggestion} to give the type of parameter \`${untyped.name.getText(file)}\`: correct the name, or annotate the parameters (\`${untyped.name.getText(file)}: u64\`) to probe a function BTF does not describe`);
      }
      if (fromBtf && params.length > fromBtf.length) {
        fail(params[fromBtf.length]!, Code.TooManyParams, ret ? `${names[0]} returns nothing (void): a kretprobe on it takes no parameter` : `${names[0]} takes ${fromBtf.length} argument${fromBtf.length === 1 ? "" : "s"}`);
      }
      let next = 0;
      params.forEach((p, i) => {
        const struct = structs[i];
        if (struct) {
          // Its registers hold its bytes as memory does (each the next 8): copied to the stack, it is read as a local struct.
          const object = fb.stackObject(registers[i]! * 8, 8, locOf(p));
          for (let k = 0; k < registers[i]!; k++) {
            const part = fb.vreg(U64);
            fb.emit({ op: "ctx", dst: part, offset: target!.params[next++]!, size: 8, signed: false, loc: locOf(p) });
            byValueParts.push({ object, offset: 8 * k, part, node: p });
          }
          scope.set(paramSymbol(p), { kind: "ref", ref: { layout: struct, base: { kind: "stack", object }, offset: 0 } });
          return;
        }
        const arg = fromBtf?.[i];
        // The prelude is written before checking, from the names written as literals: a constant's is not looked up.
        const looked = ts.isStringLiteralLike(args[0]!) ? "" : " (written as a string literal, its name would be looked up there)";
        const why = kind === "kprobe" || kind === "kretprobe" ? `neither an annotation nor the kernel's BTF gives \`${names[0]}\`'s ${ret ? "return type" : "argument types"}${looked}` : "a user program's functions have no BTF to give their argument types";
        const reg = fb.vreg(p.type || !arg ? parameterType(p, why) : btfParamType(arg));
        fb.emit({ op: "ctx", dst: wholeParam(reg), offset: ret ? target!.ret : target!.params[next++]!, size: 8, signed: false, loc: locOf(p) });
        scope.set(paramSymbol(p), { kind: "var", reg, mutable: true });
      });
    }

    const fl = new FnLowering(fb, scope);
    for (const { object, offset, part, node } of byValueParts) fl.storeInt({ layout: intLayout(U64), base: { kind: "stack", object }, offset }, { op: part }, node);
    // A boolean parameter is its whole register compared with zero (flags = 0x200 is true), as C converts to _Bool.
    for (const [reg, raw] of wholes) fb.emit({ op: "mov", dst: reg, src: fl.convert({ op: raw }, BOOL).op });
    for (const b of scope.values()) if (b.kind === "var") fl.owned.add(b.reg.id);
    if (ts.isBlock(handler.body)) fl.block(handler.body);
    else fl.exprBody(handler.body);
    fb.terminate({ op: "ret", value: imm(0n, I64) });
    return { fn: fb.finish(name, section, locOf(handler)), kind };
  }

  /**
   * profile(hz, handler), interval(ms, handler), software(event, n, handler) and hardware(event, n, handler): a
   * perf_event program, in section `perf_event` (the only name libbpf gives the type), with what it attaches to in a
   * BTF decl tag on its FUNC (compiler/btf/tags.ts).
   */
  function lowerPerfEventProbe(name: string, kind: PerfEventProbe["probe"], call: TS.CallExpression): LoweredProgram {
    const counted = kind === "software" || kind === "hardware";
    const args = call.arguments;
    const what = counted ? `an event name (a string literal), a count (an integer literal)` : kind === "profile" ? "a frequency in hertz (an integer literal)" : "a period in milliseconds (an integer literal)";
    if (args.length !== (counted ? 3 : 2)) fail(call, Code.BadProbe, `${kind}() takes ${what} and a handler`);
    const numberArg = args[counted ? 1 : 0]!;
    const n = ts.isNumericLiteral(numberArg) ? Number(numberArg.text.replace(/_/g, "")) : NaN;
    if (!ts.isNumericLiteral(numberArg) || !Number.isSafeInteger(n) || n <= 0 || n > MAX_PERF_EVENT_RATE) {
      const meaning = counted ? `events per sample, as bpftrace's ${kind}:${kind === "software" ? "page-faults:100" : "cache-misses:1000000"}` : kind === "profile" ? "samples a second on each CPU, as bpftrace's profile:hz:99" : "milliseconds between runs, as bpftrace's interval:ms:100";
      fail(numberArg, Code.BadProbe, `the ${counted ? "second" : "first"} argument of ${kind}() must be a positive integer literal (${meaning}), at most ${MAX_PERF_EVENT_RATE}, not \`${numberArg.getText(file)}\``);
    }
    let probe: PerfEventProbe;
    if (counted) {
      const eventArg = args[0]!;
      const event = ts.isStringLiteral(eventArg) || ts.isNoSubstitutionTemplateLiteral(eventArg) ? perfEventFullName(kind, eventArg.text) : undefined;
      if (!event) return fail(eventArg, Code.BadProbe, `the first argument of ${kind}() must name a ${kind} event: ${Object.keys(PERF_EVENT_NAMES[kind]).join(", ")}`);
      probe = { probe: kind, event, count: n };
    } else probe = { probe: kind, unit: kind === "profile" ? "hz" : "ms", rate: n };
    const handler = handlerOf(kind, args.at(-1)!);
    // The context is struct bpf_perf_event_data; the helpers take it implicitly, so no code reads it.
    const unread = "(struct bpf_perf_event_data) cannot be read; pidTgid(), comm(), smpProcessorId() and getStackId() describe the interrupted task";
    return lowerContextFree(name, kind, handler, PERF_EVENT_SECTION, perfEventTag(probe), unread);
  }

  /** begin(handler) and end(handler), bpftrace's BEGIN and END: a raw tracepoint program tsbpf run runs once. */
  function lowerRunProbe(name: string, kind: RunWhen, call: TS.CallExpression): LoweredProgram {
    const handler = call.arguments[0];
    if (call.arguments.length !== 1 || !handler) {
      return fail(call, Code.BadProbe, `${kind}() takes one handler, an arrow function written in place or a module-level function's name`);
    }
    return lowerContextFree(name, kind, handlerOf(kind, handler), RUN_SECTION, runTag(kind), "cannot be read: it runs in tsbpf's own process, with no probed event");
  }

  /**
   * A probe's handler: an arrow function (or function expression) written in place, or the name of a module-level
   * function (`function count() {...}`, `const count = () => ...`), which several probes may share, as a bpftrace
   * probe list shares one action block; each probe lowers its body as its own program.
   */
  function handlerOf(kind: ProbeKind, node: TS.Expression): Handler {
    if (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) return node;
    const named = ts.isIdentifier(node) ? functions.get(checker.getSymbolAtLocation(node)!) : undefined;
    if (named) return named as Handler;
    return fail(node, Code.BadProbe, `the handler of ${kind}() must be an arrow function written in place or the name of a module-level function`);
  }

  /** A handler that reads no context (it may name one and never use it): the program, its section and FUNC tag. */
  function lowerContextFree(name: string, kind: ProbeKind, handler: Handler, section: string, tag: string, unread: string): LoweredProgram {
    const params = handler.parameters;
    if (params.length > 1) fail(params[1]!, Code.TooManyParams, `a ${kind} handler takes no parameters (at most its context, which it cannot read)`);
    if (params[0]) {
      const ctx = paramSymbol(params[0]);
      const visit = (n: TS.Node): void => {
        if (ts.isIdentifier(n) && n !== params[0]!.name && checker.getSymbolAtLocation(n) === ctx) fail(n, Code.Unsupported, `the context of a ${kind} handler ${unread}`);
        ts.forEachChild(n, visit);
      };
      visit(handler.body);
    }
    const fb = new FunctionBuilder();
    const fl = new FnLowering(fb, new Map<TS.Symbol, Binding>(moduleScope), section === RUN_SECTION ? kind : undefined);
    if (ts.isBlock(handler.body)) fl.block(handler.body);
    else fl.exprBody(handler.body);
    fb.terminate({ op: "ret", value: imm(0n, I64) });
    return { fn: fb.finish(name, section, locOf(handler), [tag]), kind };
  }

  /** A parameter's type from the kernel's BTF: a pointer keeps its pointee where the prelude declared that struct. */
  function btfParamType(arg: KernelScalar): IntType {
    const known = arg.kind === "int" || arg.pointee === "char" || (arg.pointee !== undefined && kernelStructs.has(arg.pointee));
    return known ? scalarIntType(arg) : PTR;
  }

  function parameterType(p: TS.ParameterDeclaration, why = "the compiler cannot know the probed function's argument types"): IntType {
    if (!p.type) fail(p, Code.MissingType, `parameter \`${p.name.getText(file)}\` needs a type (u8..i64 or Ptr<T>): ${why}`);
    if (ownStruct(p.type!)) {
      const t = p.type!.getText(file);
      fail(p.type!, Code.UnsupportedType, `a struct (\`${t}\`) is read from registers only as an entry probe's parameter (up to 16 bytes, passed by value): a return value and a USDT argument are integers here; a pointer to one is Ptr<${t}>, read with readUser<${t}>(p)`);
    }
    return intTypeOf(p.type!);
  }

  /** The declaration of the file's own struct a type names (an interface or a type alias of an object type), if it does. */
  function ownStruct(type: TS.TypeNode): TS.Declaration | undefined {
    const declared = ts.isTypeReferenceNode(type) ? checker.getSymbolAtLocation(type.typeName)?.declarations?.[0] : undefined;
    return declared && declared.getSourceFile() === file && (ts.isInterfaceDeclaration(declared) || ts.isTypeAliasDeclaration(declared)) ? declared : undefined;
  }

  /**
   * The layout of a kprobe's or uprobe's parameter that is the file's own struct, passed by value: in the registers
   * (x86-64's and arm64's conventions pass a struct of up to 16 bytes of integers in one or two, its bytes as in memory).
   * A larger one, or one holding pointers' pointees, goes on the stack or by reference: TSBPF1007 saying so.
   */
  function byValueStruct(p: TS.ParameterDeclaration): (Layout & { kind: "struct" }) | undefined {
    if (!p.type || !ownStruct(p.type)) return undefined;
    const layout = layoutOf(p.type);
    if (layout.kind !== "struct") return undefined;
    const t = p.type.getText(file);
    if (layout.size > 16) {
      fail(p.type, Code.UnsupportedType, `a struct parameter of ${layout.size} bytes (\`${t}\`) is not passed in registers (only up to 16 bytes are), so a probe cannot read it: take a pointer to it where the program passes one (Ptr<${t}>, read with readUser<${t}>(p))`);
    }
    return layout;
  }

  /** Whether the body of `fn` assigns `symbol` (`=`, `+=`, `++`, ...). */
  function assigns(fn: TS.FunctionLikeDeclaration, symbol: TS.Symbol): boolean {
    const target = (e: TS.Expression): boolean => ts.isIdentifier(skipParentheses(e)) && checker.getSymbolAtLocation(skipParentheses(e)) === symbol;
    const visit = (n: TS.Node): boolean => {
      if (ts.isBinaryExpression(n) && n.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && n.operatorToken.kind <= ts.SyntaxKind.LastAssignment && target(n.left)) return true;
      if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken) && target(n.operand)) return true;
      return ts.forEachChild(n, visit) ?? false;
    };
    return fn.body ? visit(fn.body) : false;
  }

  /** For a choice between string literals (`c ? "W" : "R"`, nested or parenthesized), the bytes the longest needs with its NUL. */
  function literalsSize(e: TS.Expression): number | undefined {
    while (ts.isParenthesizedExpression(e)) e = e.expression;
    if (!ts.isConditionalExpression(e)) return undefined;
    const arm = (x: TS.Expression): number | undefined => {
      while (ts.isParenthesizedExpression(x)) x = x.expression;
      return ts.isStringLiteralLike(x) ? new TextEncoder().encode(x.text).length + 1 : literalsSize(x);
    };
    const [a, b] = [arm(e.whenTrue), arm(e.whenFalse)];
    return a !== undefined && b !== undefined ? Math.max(a, b) : undefined;
  }

  function paramSymbol(p: TS.ParameterDeclaration): TS.Symbol {
    if (!ts.isIdentifier(p.name)) return fail(p.name, Code.Unsupported, "destructuring parameters is not supported");
    if (p.initializer) fail(p.initializer, Code.Unsupported, "default parameter values are not supported");
    if (p.dotDotDotToken) fail(p, Code.Unsupported, "rest parameters are not supported");
    if (p.questionToken) fail(p, Code.Unsupported, "optional parameters are not supported: a function is inlined, and each call gives every parameter a value");
    return checker.getSymbolAtLocation(p.name)!;
  }

  // ---------------------------------------------------------------- handlers

  function imm(value: bigint, type: IntType): Imm {
    return { kind: "imm", value: normalize(value, type), type };
  }

  class FnLowering {
    /** Virtual registers that hold a named variable or parameter. */
    readonly owned = new Set<number>();
    /** Pointer registers of `let` names that `rebind` may set again. */
    readonly rebindable = new Set<number>();
    /** The reservation output() is filling in place (outputInPlace), which an index out of range gives back. */
    filling: VReg | undefined;

    constructor(
      readonly fb: FunctionBuilder,
      readonly scope: Map<TS.Symbol, Binding>,
      /** begin() or end(): run once, fired by no probe. */
      readonly runsOnce?: string,
    ) {}

    // ---- statements

    block(b: TS.Block): void {
      this.releasedRecordUse(b.statements);
      for (const s of b.statements) this.statement(s);
    }

    /**
     * Refuses a ring buffer record used later in the block whose statement gave it back (`events.submit(e); e.v = 1`):
     * the kernel's verifier refuses it as an access through a scalar, which would read as a missing null check.
     */
    releasedRecordUse(statements: readonly TS.Statement[]): void {
      statements.forEach((s, i) => {
        const call = ts.isExpressionStatement(s) && ts.isCallExpression(s.expression) ? s.expression : undefined;
        const callee = call?.expression;
        if (!call || !callee || !ts.isPropertyAccessExpression(callee) || call.arguments.length !== 1 || !ts.isIdentifier(call.arguments[0]!)) return;
        const how = callee.name.text === "submit" ? "submitted" : callee.name.text === "discard" ? "discarded" : undefined;
        if (!how || checker.getTypeAtLocation(callee.expression).getSymbol()?.getName() !== "RingBuf") return;
        const record = call.arguments[0];
        const symbol = checker.getSymbolAtLocation(record);
        if (!symbol) return;
        for (const later of statements.slice(i + 1)) {
          const use = usesAfter(later, symbol);
          if (use === "reassigned") return;
          if (use) {
            const line = file.getLineAndCharacterOfPosition(call.getStart(file)).line + 1;
            fail(use, Code.BadMap, `\`${record.text}\` was ${how} on line ${line}: the ring buffer took the record back, so it cannot be used after ${callee.name.text}(); fill it before, or reserve another`);
          }
        }
      });
      /** The first reference to `symbol` in `node`, or "reassigned" where `symbol = ...` comes first. */
      function usesAfter(node: TS.Node, symbol: TS.Symbol): TS.Node | "reassigned" | undefined {
        if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isIdentifier(node.left) && checker.getSymbolAtLocation(node.left) === symbol) {
          return usesAfter(node.right, symbol) ?? "reassigned";
        }
        if (ts.isIdentifier(node) && checker.getSymbolAtLocation(node) === symbol) return node;
        return ts.forEachChild(node, (child) => usesAfter(child, symbol));
      }
    }

    exprBody(e: TS.Expression): void {
      const t = checker.getTypeAtLocation(e);
      if (t.flags & ts.TypeFlags.Void) this.discard(e);
      else this.fb.terminate({ op: "ret", value: this.value(e).op, loc: locOf(e) });
    }

    statement(s: TS.Statement): void {
      if (ts.isBlock(s)) return this.block(s);
      if (ts.isEmptyStatement(s)) return;
      if (ts.isVariableStatement(s)) return this.declarations(s.declarationList);
      if (ts.isExpressionStatement(s)) return this.expressionStatement(s.expression);
      if (ts.isIfStatement(s)) {
        if (this.conditionalStep(s)) return;
        const then = this.fb.newBlock();
        const join = this.fb.newBlock();
        const otherwise = s.elseStatement ? this.fb.newBlock() : join;
        this.cond(s.expression, then, otherwise);
        this.enter(then);
        this.statement(s.thenStatement);
        this.fb.terminate({ op: "jmp", target: join.id });
        if (s.elseStatement) {
          this.enter(otherwise);
          this.statement(s.elseStatement);
          this.fb.terminate({ op: "jmp", target: join.id });
        }
        this.enter(join);
        return;
      }
      if (ts.isReturnStatement(s)) {
        if (this.inline) {
          // Inside an inlined function: the result goes to the call's register, then to the code after the call.
          if (s.expression && this.inline.into?.nullable) this.returnPointer(this.inline.into, s.expression);
          else if (s.expression && this.inline.into) this.assignInto(this.inline.into, s.expression);
          else if (s.expression) {
            const v = this.value(s.expression);
            // A constant returned as the function's type is in its range, as one stored there is (`return -1` from a u32 function).
            if (this.inline.dst && v.untyped && v.op.kind === "imm" && !fits(v.op.value, this.inline.dst.type) && !this.inline.dst.type.bool) {
              fail(s.expression, Code.OutOfRange, outOfRange(v.op.value, this.inline.dst.type));
            }
            if (this.inline.dst) this.fb.emit({ op: "mov", dst: this.inline.dst, src: this.convert(v, this.inline.dst.type).op, loc: locOf(s) });
          }
          this.fb.terminate({ op: "jmp", target: this.inline.exit.id, loc: locOf(s) });
          this.enter(this.fb.newBlock());
          return;
        }
        const value = s.expression ? this.value(s.expression).op : imm(0n, I64);
        this.fb.terminate({ op: "ret", value, loc: locOf(s) });
        this.enter(this.fb.newBlock()); // anything after a return is unreachable and dropped
        return;
      }
      if (ts.isForStatement(s)) return this.forLoop(s);
      if (ts.isForOfStatement(s) && !s.awaitModifier) return this.forOf(s);
      if (ts.isWhileStatement(s) || ts.isDoStatement(s) || ts.isForOfStatement(s) || ts.isForInStatement(s)) {
        fail(s, Code.UnboundedLoop, `${describe(ts, s)} are not supported: the verifier needs loops it can bound; write \`for (let i = 0; i < N; i++)\` with a constant N`);
      }
      if (ts.isBreakStatement(s) || ts.isContinueStatement(s)) {
        if (s.label) fail(s.label, Code.Unsupported, "labelled `break` and `continue` are not supported");
        const brk = ts.isBreakStatement(s);
        const target = brk ? this.loops.at(-1)?.brk : [...this.loops].reverse().find((l) => l.cont)?.cont;
        if (!target) fail(s, Code.Unsupported, `\`${brk ? "break" : "continue"}\` outside a loop${brk ? " or switch" : ""}`);
        this.fb.terminate({ op: "jmp", target: target!.id, loc: locOf(s) });
        this.enter(this.fb.newBlock());
        return;
      }
      if (ts.isSwitchStatement(s)) return this.switchStatement(s);
      fail(s, Code.Unsupported, `${describe(ts, s)} are not supported in a probe handler${insteadOf(ts, s)}`);
    }

    enter(b: Block): void {
      this.fb.enter(b);
    }

    /** The least and greatest value of each loop counter seen so far (counters change only in their loop's update). */
    readonly counterRanges = new Map<TS.Symbol, [bigint, bigint]>();
    /** Break and continue targets, innermost last (a switch has no continue target). */
    readonly loops: { brk: Block; cont?: Block }[] = [];
    /** Set while lowering an inlined function: where `return` goes and the register (or, for a struct, Str or Arr, the memory) it fills. */
    inline?: { exit: Block; dst?: VReg; into?: Ref };

    /** `for (let i = A; i < B; i++)`: A and B constants, i changed only by the update; otherwise a diagnostic. */
    forLoop(s: TS.ForStatement): void {
      const head = s.getChildAt(0, file);
      const unbounded = (why: string): never => fail(s.condition ?? head, Code.UnboundedLoop, `unbounded loop: ${why}; the verifier needs a loop it can bound: \`for (let i = 0; i < N; i++)\` with a constant N`);
      const init = s.initializer;
      if (!init || !ts.isVariableDeclarationList(init) || init.declarations.length !== 1 || !(init.flags & ts.NodeFlags.Let)) return unbounded("the loop must declare one `let` counter");
      const decl = init.declarations[0]!;
      if (!ts.isIdentifier(decl.name) || !decl.initializer) return unbounded("the counter needs a start value");
      const counter = checker.getSymbolAtLocation(decl.name)!;
      const start = this.value(decl.initializer!);
      // An outer loop's counter (plus or minus a constant) starts anywhere in that counter's range.
      const starts = start.op.kind === "imm" ? [start.op.value] : this.counterRange(decl.initializer!);
      if (!starts) return unbounded("the counter's start value is not a constant, nor an enclosing loop's counter plus or minus a constant");
      const cond = s.condition;
      if (!cond || !ts.isBinaryExpression(cond)) return unbounded("the condition must compare the counter with a constant");
      const cmp = COMPARE.get(cond.operatorToken.kind);
      const isCounter = (e: TS.Expression): boolean => ts.isIdentifier(e) && checker.getSymbolAtLocation(e) === counter;
      if (!cmp || cmp === "eq" || (!isCounter(cond.left) && !isCounter(cond.right))) return unbounded("the condition must compare the counter with a constant (<, <=, >, >=, !==)");
      const limitExpr = isCounter(cond.left) ? cond.right : cond.left;
      const step = this.loopStep(s.incrementor, counter);
      if (step === undefined) return unbounded("the update must be `i++`, `i--`, `i += C` or `i -= C` with a constant C");
      this.checkNotAssigned(s.statement, counter);
      // Declare the counter, then evaluate the bound (a constant, which must not depend on the loop).
      this.declarations(init);
      const limit = this.value(limitExpr);
      if (limit.op.kind !== "imm") {
        return unbounded(`the bound \`${limitExpr.getText(file)}\` is not a constant (loop to the largest it may be and \`break\` when the counter reaches it)`);
      }
      const counterReg = (this.scope.get(counter) as { reg: VReg }).reg;
      const op = isCounter(cond.left) ? cmp : MIRROR_CMP[cmp];
      let iterations = 0;
      for (const first of starts) {
        const n = tripCount(first, op!, (limit.op as Imm).value, step, counterReg.type);
        const bound = (limit.op as Imm).value;
        if (n === undefined && normalize(bound, counterReg.type) !== bound) {
          const wider = (counterReg.type.signed ? [I32, I64] : [U16, U32, I64]).find((t) => normalize(bound, t) === bound && normalize(first, t) === first) ?? I64;
          return unbounded(`the counter is ${withArticle(typeName(counterReg.type))}, which never reaches ${bound} (it wraps first): declare it wider (\`let ${decl.name.getText(file)}: ${typeName(wider)} = ${decl.initializer!.getText(file)}\`)`);
        }
        if (n === undefined) return unbounded(`the counter goes from ${first} by ${step} and never fails the condition`);
        // Bounded, but the verifier walks every turn: say the limit and the ways around it the subset has (no bpf_loop).
        if (n > MAX_LOOP_ITERATIONS) {
          fail(
            cond,
            Code.UnboundedLoop,
            `loop too long: it runs more than ${MAX_LOOP_ITERATIONS.toLocaleString("en-US")} times, the most a loop may (the verifier walks every turn, ` +
              `${COMPLEXITY_LIMIT.toLocaleString("en-US")} instructions in all): give it a bound of at most ${MAX_LOOP_ITERATIONS.toLocaleString("en-US")}, fewer for a long body, ` +
              "or spread the work over several runs of the handler, keeping where it got to in an ArrayMap",
          );
        }
        iterations = Math.max(iterations, n);
        // The values the counter takes, for loops nested in this one that start from it.
        if (n > 0) {
          const last = normalize(first + BigInt(n - 1) * step, counterReg.type);
          const [lo, hi] = first < last ? [first, last] : [last, first];
          const known = this.counterRanges.get(counter);
          this.counterRanges.set(counter, known ? [known[0] < lo ? known[0] : lo, known[1] > hi ? known[1] : hi] : [lo, hi]);
        }
      }
      const top = this.fb.newBlock();
      const body = this.fb.newBlock();
      const latch = this.fb.newBlock();
      const exit = this.fb.newBlock();
      this.fb.terminate({ op: "jmp", target: top.id });
      this.enter(top);
      this.cond(cond, body, exit);
      this.enter(body);
      this.loops.push({ brk: exit, cont: latch });
      this.statement(s.statement);
      this.loops.pop();
      this.fb.terminate({ op: "jmp", target: latch.id });
      this.enter(latch);
      this.expressionStatement(s.incrementor!);
      this.fb.terminate({ op: "jmp", target: top.id });
      this.enter(exit);
    }

    /**
     * `for (const x of xs)` over an Arr<T, N>: N turns, as `for (let i = 0; i < N; i++) { const x = xs[i]; ... }`;
     * `x` is the element's value (an integer) or the element in place (a struct, a string).
     */
    forOf(s: TS.ForOfStatement): void {
      const list = s.initializer;
      const d = ts.isVariableDeclarationList(list) && list.declarations.length === 1 ? list.declarations[0]! : undefined;
      if (!d || !ts.isIdentifier(d.name)) return fail(list, Code.Unsupported, "`for...of` takes one name per element (`for (const x of xs)`)");
      const xs = this.tryRef(s.expression);
      if (!xs || xs.layout.kind !== "array") {
        return fail(s.expression, Code.UnboundedLoop, `\`for...of\` goes over an Arr<T, N> value (a local, a struct field, a map value); for \`${s.expression.getText(file)}\` write \`for (let i = 0; i < N; i++)\` with a constant N`);
      }
      const length = xs.layout.length;
      const index = this.fb.vreg(U64);
      this.owned.add(index.id);
      this.fb.emit({ op: "mov", dst: index, src: imm(0n, U64), loc: locOf(s) });
      const [top, body, latch, exit] = [this.fb.newBlock(), this.fb.newBlock(), this.fb.newBlock(), this.fb.newBlock()];
      this.fb.terminate({ op: "jmp", target: top.id });
      this.enter(top);
      this.fb.terminate({ op: "br", cmp: "lt", signed: false, a: index, b: imm(BigInt(length), U64), then: body.id, else: exit.id, loc: locOf(s) });
      this.enter(body);
      // The loop's compare bounds the index: no check of its own.
      const element = this.elementBelow(xs, index, s);
      const symbol = checker.getSymbolAtLocation(d.name)!;
      if (element.layout.kind === "int") {
        const value = this.loadInt(element, d);
        this.owned.add((value.op as VReg).id);
        this.scope.set(symbol, { kind: "var", reg: value.op as VReg, mutable: (list.flags & ts.NodeFlags.Let) !== 0 });
      } else this.scope.set(symbol, { kind: "ref", ref: element });
      this.loops.push({ brk: exit, cont: latch });
      this.statement(s.statement);
      this.loops.pop();
      this.fb.terminate({ op: "jmp", target: latch.id });
      this.enter(latch);
      this.fb.emit({ op: "bin", kind: "add", dst: index, a: index, b: imm(1n, U64), loc: locOf(s) });
      this.fb.terminate({ op: "jmp", target: top.id });
      this.enter(exit);
    }

    /** The first and last value `e` can have when it is an enclosing loop's counter, plus or minus a constant. */
    counterRange(e: TS.Expression): bigint[] | undefined {
      let offset = 0n;
      if (ts.isBinaryExpression(e) && (e.operatorToken.kind === ts.SyntaxKind.PlusToken || e.operatorToken.kind === ts.SyntaxKind.MinusToken)) {
        const c = this.value(e.right);
        if (c.op.kind !== "imm") return undefined;
        offset = e.operatorToken.kind === ts.SyntaxKind.PlusToken ? c.op.value : -c.op.value;
        e = e.left;
      }
      const range = ts.isIdentifier(e) ? this.counterRanges.get(checker.getSymbolAtLocation(e)!) : undefined;
      return range?.map((v) => v + offset);
    }

    /** +1 for `i++`, -C for `i -= C`; undefined for anything else. */
    loopStep(e: TS.Expression | undefined, counter: TS.Symbol): bigint | undefined {
      if (!e) return undefined;
      const isCounter = (x: TS.Expression): boolean => ts.isIdentifier(x) && checker.getSymbolAtLocation(x) === counter;
      if ((ts.isPrefixUnaryExpression(e) || ts.isPostfixUnaryExpression(e)) && isCounter(e.operand)) {
        if (e.operator === ts.SyntaxKind.PlusPlusToken) return 1n;
        if (e.operator === ts.SyntaxKind.MinusMinusToken) return -1n;
      }
      if (ts.isBinaryExpression(e) && isCounter(e.left) && ts.isNumericLiteral(e.right)) {
        const step = Number(e.right.text);
        if (!Number.isInteger(step)) fail(e.right, Code.BadLiteral, `${e.right.getText(file)} is not an integer: BPF has no floating point`);
        const c = BigInt(step);
        if (c === 0n) return undefined;
        if (e.operatorToken.kind === ts.SyntaxKind.PlusEqualsToken) return c;
        if (e.operatorToken.kind === ts.SyntaxKind.MinusEqualsToken) return -c;
      }
      return undefined;
    }

    /** The loop body must not assign the counter (the bound would no longer hold). */
    checkNotAssigned(body: TS.Node, counter: TS.Symbol): void {
      const visit = (n: TS.Node): void => {
        const target = ts.isBinaryExpression(n) && (n.operatorToken.kind === ts.SyntaxKind.EqualsToken || COMPOUND.has(n.operatorToken.kind)) ? n.left
          : (ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken) ? n.operand
          : undefined;
        const bare = target && skipParentheses(target);
        if (bare && ts.isIdentifier(bare) && checker.getSymbolAtLocation(bare) === counter) {
          fail(n, Code.UnboundedLoop, `unbounded loop: the body changes the counter \`${bare.text}\`; only the loop's update may`);
        }
        ts.forEachChild(n, visit);
      };
      visit(body);
    }

    /** `switch (x) { case C: ... }` with constant cases: a chain of comparisons, bodies in order (fall-through as in C). */
    switchStatement(s: TS.SwitchStatement): void {
      const clauses = s.caseBlock.clauses;
      const bodies = clauses.map(() => this.fb.newBlock());
      const exit = this.fb.newBlock();
      const defaultIndex = clauses.findIndex((c) => ts.isDefaultClause(c));
      const matches = isString(s.expression) ? this.stringCases(s) : this.integerCases(s);
      clauses.forEach((c, i) => {
        if (!ts.isCaseClause(c)) return;
        const next = this.fb.newBlock();
        matches(c, bodies[i]!, next);
        this.enter(next);
      });
      this.fb.terminate({ op: "jmp", target: (defaultIndex >= 0 ? bodies[defaultIndex]! : exit).id });
      this.loops.push({ brk: exit });
      clauses.forEach((c, i) => {
        this.enter(bodies[i]!);
        for (const st of c.statements) this.statement(st);
        this.fb.terminate({ op: "jmp", target: (bodies[i + 1] ?? exit).id });
      });
      this.loops.pop();
      this.enter(exit);
    }

    /** How a `case` of an integer switch branches: its constant against the value, computed once. */
    integerCases(s: TS.SwitchStatement): (c: TS.CaseClause, t: Block, f: Block) => void {
      const x = this.value(s.expression);
      return (c, t, f) => {
        const v = this.value(c.expression);
        if (v.op.kind !== "imm") fail(c.expression, Code.Unsupported, "a `case` must be a constant");
        const [a, b, type] = this.comparands(x, v, c.expression, [s.expression, c.expression]);
        this.fb.terminate({ op: "br", cmp: "eq", signed: type.signed, a, b, then: t.id, else: f.id, loc: locOf(c) });
      };
    }

    /** How a `case "lit":` of a string switch branches: as `value === "lit"`, the value read once. */
    stringCases(s: TS.SwitchStatement): (c: TS.CaseClause, t: Block, f: Block) => void {
      const literals = s.caseBlock.clauses.flatMap((c) => (ts.isCaseClause(c) ? [c.expression] : []));
      for (const l of literals) if (!ts.isStringLiteral(l) && !ts.isNoSubstitutionTemplateLiteral(l)) fail(l, Code.StringOperation, "a `case` of a string switch must be a string literal");
      // A __data_loc string is copied as far as the longest case reads.
      const room = Math.max(0, ...literals.map((l) => new TextEncoder().encode((l as TS.StringLiteral).text).length)) + 2;
      const x = this.stringOperand(s.expression, room);
      return (c, t, f) => this.literalEquals(x, c.expression as TS.StringLiteral, c, t, f);
    }

    declarations(list: TS.VariableDeclarationList): void {
      const mutable = (list.flags & ts.NodeFlags.Let) !== 0;
      if (!mutable && !(list.flags & ts.NodeFlags.Const)) fail(list, Code.Unsupported, "`var` is not supported: use `const` or `let`");
      for (const d of list.declarations) {
        if (!ts.isIdentifier(d.name)) fail(d.name, Code.Unsupported, "destructuring is not supported");
        if (!d.initializer) {
          // `let x: u32;`: TypeScript lets no path read it before a value is assigned; zero stands for it until then.
          if (!mutable || !d.type) fail(d, Code.Unsupported, `\`${d.name.getText(file)}\` needs an initial value${mutable ? ", or a type (`let n: u32;`) and a value on every path before it is read" : ""}`);
          this.zeroDeclaration(d, layoutOf(withoutNull(d.type!)));
          continue;
        }
        const init = d.initializer!;
        const symbol0 = checker.getSymbolAtLocation(d.name)!;
        // `const y = f()` of a function that returns nothing: TypeScript allows the void value, which has no bits.
        const callee = ts.isCallExpression(init) && ts.isIdentifier(init.expression) ? checker.getSymbolAtLocation(init.expression) : undefined;
        if (callee && functions.has(callee) && checker.getTypeAtLocation(init).flags & ts.TypeFlags.Void) {
          fail(init, Code.Unsupported, `${callee.name}() returns nothing (void): there is no value to keep in \`${d.name.getText(file)}\``);
        }
        // Memory values: structs, strings, arrays, map lookups (by reference, as JavaScript binds objects).
        const declaredLayout = d.type ? layoutOf(withoutNull(d.type)) : undefined;
        if (declaredLayout && declaredLayout.kind !== "int") {
          // A `let` string is a value of its own (`s = comm()` fills it later), never another string's bytes.
          const own = mutable && declaredLayout.kind === "str";
          this.bindRef(symbol0, own ? this.filledTemp(init, declaredLayout, d) : this.materialize(init, declaredLayout, d), mutable, d);
          continue;
        }
        if (!declaredLayout) {
          if (ts.isObjectLiteralExpression(init)) fail(init, Code.MissingType, `annotate \`${d.name.getText(file)}\` with the struct's interface: \`const ${d.name.getText(file)}: MyStruct = { ... }\``);
          // An array is an Arr<T, N> in memory: its element type and length come from the annotation, not the literal.
          if (ts.isArrayLiteralExpression(init)) {
            const element = checker.getTypeAtLocation(init).getNumberIndexType()?.getSymbol();
            const elementDecl = element?.declarations?.[0];
            const elementName = element && elementDecl?.getSourceFile() === file && ts.isInterfaceDeclaration(elementDecl) ? element.name : "u64";
            fail(init, Code.MissingType, `annotate \`${d.name.getText(file)}\` with its element type and length: \`const ${d.name.getText(file)}: Arr<${elementName}, ${init.elements.length}> = ${init.getText(file)}\``);
          }
          // A choice of structs (`c ? a : b`, `m.lookup(k) ?? { ... }`) is a struct of its own, as if annotated.
          const chosen = isChoice(init) ? structOfType(checker.getTypeAtLocation(init)) : undefined;
          if (chosen) {
            this.bindRef(symbol0, mutable ? this.filledTemp(init, chosen, d) : this.materialize(init, chosen, d), mutable, d);
            continue;
          }
          const helper = this.stringCall(init);
          if (helper === "comm") {
            this.scope.set(symbol0, { kind: "ref", ref: this.materialize(init, { kind: "str", size: 16, align: 1 }, d) });
            continue;
          }
          if (helper || this.isDynamicString(init)) fail(init, Code.MissingType, `annotate the string's size: \`const ${d.name.getText(file)}: Str<64> = ${init.getText(file)}\``);
          const r = this.tryRef(init);
          // An integer in memory is bound by reference only where it is looked up (`const n = m.lookup(k)`, whose
          // assignments write the map): another name for it (`const before = n`) copies the number, as JavaScript does.
          let bare = init;
          while (ts.isParenthesizedExpression(bare)) bare = bare.expression;
          if (r && (r.layout.kind !== "int" || !ts.isIdentifier(bare))) {
            // A `const` is a number in TypeScript: where the map may change before it is read, it keeps its own copy.
            const kept = !mutable && r.layout.kind === "int" && r.base.kind === "reg" && ts.isCallExpression(bare) && this.changedBeforeRead(d, bare) ? this.snapshot(r, d) : r;
            this.bindRef(symbol0, kept, mutable, d);
            continue;
          }
        }
        const declared = declaredLayout?.kind === "int" ? declaredLayout.type : undefined;
        const v = this.value(d.initializer!);
        const symbol = checker.getSymbolAtLocation(d.name)!;
        if (v.untyped && declared && v.op.kind === "imm" && !fits(v.op.value, declared)) {
          fail(d.initializer!, Code.OutOfRange, outOfRange(v.op.value, declared));
        }
        if (!mutable && v.op.kind === "imm") {
          // Constants stay constants: folded wherever they are used.
          this.scope.set(symbol, { kind: "const", val: declared ? { op: imm(v.op.value, declared) } : v });
          continue;
        }
        // A `let` may later hold any pointer of its TypeScript type: only a `const` keeps a pointer's kernel typing.
        const inferred = v.untyped ? defaultType((v.op as Imm).value) : mutable ? untypedPointer(v.op.type) : v.op.type;
        const type = declared ?? inferred;
        if (v.op.kind === "reg" && !this.owned.has(v.op.id) && sameType(v.op.type, type) && !!v.op.type.typed === !!type.typed) {
          // A fresh temporary (not another variable's register) simply becomes the variable.
          this.owned.add(v.op.id);
          this.scope.set(symbol, { kind: "var", reg: v.op, mutable });
          continue;
        }
        const reg = this.fb.vreg(type);
        this.owned.add(reg.id);
        this.fb.emit({ op: "mov", dst: reg, src: this.movable(v, type), loc: locOf(d) });
        this.scope.set(symbol, { kind: "var", reg, mutable });
      }
    }

    /** `a ** n` of constants (n at most 64), folded as that many multiplications: BPF has no power instruction. */
    power(e: TS.BinaryExpression): Val {
      const [base, exponent] = [this.value(e.left), this.value(e.right)];
      const n = exponent.op.kind === "imm" ? BigInt.asIntN(64, exponent.op.value) : -1n;
      if (base.op.kind !== "imm" || n < 0n || n > 64n) {
        return fail(e, Code.Unsupported, "`**` works on constants only, with an exponent from 0 to 64 (BPF has no power instruction): multiply, or shift for a power of two (`1 << n`)");
      }
      let product: Val = { op: imm(1n, base.untyped ? I64 : base.op.type), untyped: base.untyped };
      for (let i = 0n; i < n; i++) product = this.binary("mul", product, base, e);
      return product;
    }

    /** JavaScript's `>>>`: shifts the left operand's bits as unsigned. */
    unsignedShift(l: Val, r: Val, node: TS.Node): Val {
      if (l.untyped && r.untyped && l.op.kind === "imm" && r.op.kind === "imm" && this.numberBits(node, r.op.value, true)) return { op: imm(NUMBER_BITS.ushr(l.op.value, r.op.value), I64), untyped: true };
      const lt = l.untyped ? U64 : promote(l.op.type);
      return this.binary("shr", this.convert(l, { bits: lt.bits, signed: false }), r, node);
    }

    /** `let x: T;` with no initial value: zero, or zeroed memory of T's layout. */
    zeroDeclaration(d: TS.VariableDeclaration, layout: Layout): void {
      const symbol = checker.getSymbolAtLocation(d.name)!;
      if (layout.kind !== "int") return this.bindRef(symbol, this.temp(layout, d), true, d);
      const reg = this.fb.vreg(layout.type);
      this.owned.add(reg.id);
      this.fb.emit({ op: "mov", dst: reg, src: imm(0n, layout.type), loc: locOf(d) });
      this.scope.set(symbol, { kind: "var", reg, mutable: true });
    }

    expressionStatement(e: TS.Expression): void {
      if (ts.isParenthesizedExpression(e)) return this.expressionStatement(e.expression);
      if (ts.isCallExpression(e) && builtin(e.expression) === "printk") return this.printk(e);
      if (ts.isCallExpression(e) && builtin(e.expression) === "printf") return this.printf(e);
      if (ts.isBinaryExpression(e)) {
        const op = e.operatorToken.kind;
        const left = skipParentheses(e.left);
        if (op === ts.SyntaxKind.EqualsToken) return this.assign(left, () => this.value(e.right), e, ts.isIdentifier(left) ? undefined : e.right);
        const bin = COMPOUND.get(op);
        if (bin) return this.assign(e.left, (cur) => (bin === "ushr" ? this.unsignedShift(cur, this.value(e.right), e) : this.binary(bin, cur, this.value(e.right), e)), e);
      }
      if ((ts.isPrefixUnaryExpression(e) || ts.isPostfixUnaryExpression(e)) && (e.operator === ts.SyntaxKind.PlusPlusToken || e.operator === ts.SyntaxKind.MinusMinusToken)) {
        const kind: BinOp = e.operator === ts.SyntaxKind.PlusPlusToken ? "add" : "sub";
        return this.assign(e.operand, (cur) => this.binary(kind, cur, { op: imm(1n, I64), untyped: true }, e), e);
      }
      this.discard(e);
    }

    discard(e: TS.Expression): void {
      if (ts.isCallExpression(e) && builtin(e.expression) === "printk") return this.printk(e);
      if (ts.isCallExpression(e) && builtin(e.expression) === "printf") return this.printf(e);
      this.value(e);
    }

    assign(target: TS.Expression, compute: (current: Val) => Val, node: TS.Node, right?: TS.Expression): void {
      // `(x) = 5`, `(x)++`: the parentheses change nothing.
      target = skipParentheses(target);
      if (!ts.isIdentifier(target)) {
        const dst = this.lvalue(target);
        if (dst.parameter) return fail(target, Code.Unsupported, parameterAssigned(dst.parameter, "1,2"));
        if (right) return this.assignInto(dst, right);
        return this.storeInt(dst, compute(this.loadInt(dst, target)), node);
      }
      const param = this.scope.get(checker.getSymbolAtLocation(target)!);
      if (param?.kind === "param") return fail(target, Code.Unsupported, parameterAssigned(param.name, param.array?.kind === "str" ? "TEXT" : param.array ? "1,2" : "VALUE"));
      const b = this.lookup(target as TS.Identifier);
      if (b.kind === "ref" && b.ref.layout.kind === "int") return this.assignMapSlot(target, b.ref, compute, node);
      const plain = ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.EqualsToken;
      if (b.kind === "ref" && b.rebindable && plain) return this.rebind(target, b.ref, (node as TS.BinaryExpression).right);
      if (b.kind === "ref" && b.ref.layout.kind === "str" && plain) return this.refillString(b.ref, (node as TS.BinaryExpression).right);
      if (b.kind !== "var" || !b.mutable) return fail(target, Code.Unsupported, b.kind === "ref" ? `\`${target.getText(file)}\` refers to memory: assign its fields` : `\`${target.getText(file)}\` cannot be assigned`);
      const v = compute({ op: b.reg });
      if (v.untyped && v.op.kind === "imm" && !fits(v.op.value, b.reg.type)) {
        fail(node, Code.OutOfRange, outOfRange(v.op.value, b.reg.type));
      }
      if (b.reg.type.typed && !v.op.type.typed) {
        fail(node, Code.Unsupported, `\`${target.getText(file)}\` is an argument the kernel types (its members are read directly): assign it only another such pointer, or copy it first (\`let p: Ptr<${b.reg.type.pointee}> = ${target.getText(file)}\`)`);
      }
      this.fb.emit({ op: "mov", dst: b.reg, src: this.movable(v, b.reg.type), loc: locOf(node) });
    }

    /**
     * `c += n`, `c++` on a name bound to a map lookup of an integer: the name is the map's value in place (as
     * C's `*c += n`), so the write goes to the map. TypeScript makes these wait for the null check; a plain
     * `c = v` it does not, so that one is refused with what to write instead.
     */
    assignMapSlot(target: TS.Identifier, ref: Ref, compute: (current: Val) => Val, node: TS.Node): void {
      const name = target.text;
      if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.EqualsToken) {
        const change = (ref.layout as Layout & { kind: "int" }).type.bool ? "" : `, or change it with \`${name} += ...\` after the null check`;
        return fail(node, Code.Unsupported, `\`${name}\` is the map's value in place, and \`${name} = ...\` cannot be checked for null: set it with the map's \`update(key, value)\`${change}`);
      }
      this.storeInt(ref, compute(this.loadInt(ref, target)), node);
    }

    /**
     * Whether `const v = m.lookup(k)` may be read after the element it found changed: after an `m.delete()`,
     * `m.update()` or `m.increment()`, or a `c += n` / `c++` of a `let` bound to a lookup of `m`, made here or by a
     * function of the file this calls, later in the handler than the declaration and before a read of `v` (in text, or
     * inside one loop that follows the declaration). A `const` is a number in TypeScript, and those write elements in
     * place (an array's update and any increment) or free them: a freed hash element goes back to the map's free
     * list, and the next update may reuse it for another key.
     */
    changedBeforeRead(d: TS.VariableDeclaration, lookup: TS.CallExpression): boolean {
      const map = ts.isPropertyAccessExpression(lookup.expression) ? this.mapOf(lookup.expression.expression) : undefined;
      if (!map) return false;
      const symbol = checker.getSymbolAtLocation(d.name);
      const freeing = new Map<TS.Node, boolean>();
      const lookupOfMap = (x: TS.Expression | undefined): boolean => {
        while (x && ts.isParenthesizedExpression(x)) x = x.expression;
        return !!x && ts.isCallExpression(x) && ts.isPropertyAccessExpression(x.expression) && x.expression.name.text === "lookup" && this.mapOf(x.expression.expression) === map;
      };
      /** Whether `n` (a call of the map's methods, or of a function of the file, or an assignment) may change one of its elements. */
      const frees = (n: TS.Node): boolean => {
        const written = ts.isBinaryExpression(n) && COMPOUND.has(n.operatorToken.kind) ? n.left
          : (ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken) ? n.operand : undefined;
        if (written) {
          const decl = ts.isIdentifier(skipParentheses(written)) ? checker.getSymbolAtLocation(skipParentheses(written))?.valueDeclaration : undefined;
          return !!decl && ts.isVariableDeclaration(decl) && lookupOfMap(decl.initializer);
        }
        if (!ts.isCallExpression(n)) return false;
        const callee = n.expression;
        if (ts.isPropertyAccessExpression(callee)) return ["delete", "update", "increment"].includes(callee.name.text) && this.mapOf(callee.expression) === map;
        const fn = ts.isIdentifier(callee) ? functions.get(checker.getSymbolAtLocation(callee)!) : undefined;
        if (!fn) return false;
        if (freeing.has(fn)) return freeing.get(fn)!;
        freeing.set(fn, false); // while its body is looked at (recursion is refused elsewhere)
        let found = false;
        const look = (x: TS.Node): void => {
          if (!found && frees(x)) found = true;
          if (!found) ts.forEachChild(x, look);
        };
        look(fn);
        freeing.set(fn, found);
        return found;
      };
      let body: TS.Node = d;
      while (!ts.isFunctionLike(body) && !ts.isSourceFile(body)) body = body.parent;
      const reads: TS.Node[] = [];
      const changes: TS.Node[] = [];
      const loops: TS.Node[] = [];
      const visit = (n: TS.Node): void => {
        if (n.pos >= d.end) {
          if (ts.isIdentifier(n) && checker.getSymbolAtLocation(n) === symbol) reads.push(n);
          if (ts.isIterationStatement(n, false)) loops.push(n);
          if (frees(n)) changes.push(n);
        }
        ts.forEachChild(n, visit);
      };
      visit(body);
      const within = (n: TS.Node, outer: TS.Node): boolean => n.pos >= outer.pos && n.end <= outer.end;
      return reads.some((r) => changes.some((c) => r.pos >= c.end)) || loops.some((l) => reads.some((r) => within(r, l)) && changes.some((c) => within(c, l)));
    }

    /** A copy on the stack of the integer a lookup found, or null where it found none. */
    snapshot(r: Ref, node: TS.Node): Ref {
      const object = this.fb.stackObject(r.layout.size, r.layout.size, locOf(node));
      const copy = this.fb.vreg(PTR);
      this.fb.emit({ op: "mov", dst: copy, src: imm(0n, PTR), loc: locOf(node) });
      const found = this.fb.newBlock();
      const join = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: r.base as VReg, b: imm(0n, PTR), then: found.id, else: join.id, loc: locOf(node) });
      this.enter(found);
      const kept: Ref = { layout: r.layout, base: { kind: "stack", object }, offset: 0 };
      this.storeInt(kept, this.loadInt(r, node), node);
      this.fb.emit({ op: "addr", dst: copy, object, offset: 0, loc: locOf(node) });
      this.fb.terminate({ op: "jmp", target: join.id });
      this.enter(join);
      return { ...r, base: copy, offset: 0 };
    }

    /**
     * Names memory. A `let` naming memory through a pointer gets a pointer register of its own, which
     * `rebind` sets again; a name for memory reached through such a register copies it first, so that
     * it keeps the memory it was given when the `let` is set again.
     */
    bindRef(symbol: TS.Symbol, r: Ref, mutable: boolean, node: TS.Node): void {
      if (r.base.kind !== "reg" || r.layout.kind === "int" || !(mutable || this.rebindable.has(r.base.id))) {
        this.scope.set(symbol, { kind: "ref", ref: r });
        return;
      }
      const own = this.fb.vreg(PTR);
      this.fb.emit({ op: "mov", dst: own, src: this.addrOf(r, node) as VReg, loc: locOf(node) });
      if (mutable) this.rebindable.add(own.id);
      this.scope.set(symbol, { kind: "ref", ref: { ...r, base: own, offset: 0 }, rebindable: mutable });
    }

    /**
     * `s = stats.lookup(k)` (or `= null`, or any other pointer to the same type) for a `let` bound to a pointer:
     * the name's own register takes the new address, as JavaScript rebinds an object reference.
     */
    rebind(target: TS.Identifier, ref: Ref, right: TS.Expression): void {
      const base = ref.base as VReg;
      if (right.kind === ts.SyntaxKind.NullKeyword) {
        this.fb.emit({ op: "mov", dst: base, src: imm(0n, PTR), loc: locOf(right) });
        return;
      }
      const r = this.tryRef(right);
      if (!r || r.base.kind !== "reg") {
        return fail(right, Code.Unsupported, `\`${target.text}\` points into a map or record: it can be set to another lookup or record, or to null, not to a copy; assign its fields to change them`);
      }
      if (!sameLayout(r.layout, ref.layout)) return fail(right, Code.UnsupportedType, `${aLayout(r.layout)} cannot be assigned to ${aLayout(ref.layout)}`);
      this.fb.emit({ op: "mov", dst: base, src: this.addrOf(r, right) as VReg, loc: locOf(right) });
    }

    /** What a `mov` into a variable of `type` takes: a mov converts as C does, but to _Bool only by comparing with zero. */
    movable(v: Val, type: IntType): Operand {
      return type.bool ? this.convert(v, type).op : v.op;
    }

    lookup(id: TS.Identifier): Exclude<Binding, { kind: "failed" | "string" | "param" }> {
      // In `{ calls }` the name is the property; the value is the variable it names.
      const symbol = ts.isShorthandPropertyAssignment(id.parent) && id.parent.name === id ? checker.getShorthandAssignmentValueSymbol(id.parent) : checker.getSymbolAtLocation(id);
      const b = symbol && this.scope.get(symbol);
      if (b?.kind === "failed") throw new Abort();
      if (b?.kind === "param") {
        // Read where it is named: a load from .rodata, which the verifier sees as the constant the loader wrote.
        if (b.array) return { kind: "ref", ref: this.parameterArray(b, id) };
        const address = this.fb.vreg(PTR);
        this.fb.emit({ op: "rodata", dst: address, offset: b.offset, loc: locOf(id) });
        const reg = this.fb.vreg(b.type);
        this.fb.emit({ op: "load", dst: reg, base: address, offset: 0, size: (b.type.bits / 8) as 1 | 2 | 4 | 8, signed: b.type.signed, loc: locOf(id) });
        return { kind: "var", reg, mutable: false };
      }
      if (b?.kind === "string") return fail(id, Code.NotAnInteger, `\`${id.text}\` is a string constant: it names what a kprobe, uprobe or USDT probe probes, or serves as the format of printf() or time()`);
      // JavaScript's undefined is a global name, not a keyword: not a variable the handler cannot see.
      if (!b && id.text === "undefined") return fail(id, Code.Unsupported, "`undefined` values are not supported in a probe handler: a value is an integer, a boolean, a Str or a struct (`return;` leaves a handler without one)");
      if (!b) {
        const what = builtin(id);
        return fail(id, Code.UnknownName, what ? `\`${what}\` is not a value: call it` : `\`${id.text}\` cannot be used here: handlers see their parameters and their own local constants and variables`);
      }
      return b;
    }

    /** An array parameter where it is named: its .rodata memory, read element by element where it is indexed. */
    parameterArray(param: Binding & { kind: "param" }, node: TS.Node): Ref {
      const address = this.fb.vreg(PTR);
      this.fb.emit({ op: "rodata", dst: address, offset: param.offset, loc: locOf(node) });
      return { layout: param.array!, base: address, offset: 0, parameter: param.name };
    }

    // ---- conditions

    /** Branches to `t` when `e` is true (non-zero), else to `f`; `&&`, `||` and `!` short-circuit. */
    cond(e: TS.Expression, t: Block, f: Block): void {
      if (ts.isParenthesizedExpression(e)) return this.cond(e.expression, t, f);
      if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.ExclamationToken) return this.cond(e.operand, f, t);
      if (e.kind === ts.SyntaxKind.TrueKeyword) return this.fb.terminate({ op: "jmp", target: t.id });
      if (e.kind === ts.SyntaxKind.FalseKeyword) return this.fb.terminate({ op: "jmp", target: f.id });
      const stringTest = this.stringTest(e);
      if (stringTest) return stringTest(t, f);
      if (ts.isBinaryExpression(e)) {
        const op = e.operatorToken.kind;
        const isNull = (x: TS.Expression): boolean => x.kind === ts.SyntaxKind.NullKeyword || (ts.isIdentifier(x) && x.text === "undefined");
        const eq = op === ts.SyntaxKind.EqualsEqualsEqualsToken || op === ts.SyntaxKind.EqualsEqualsToken;
        const ne = op === ts.SyntaxKind.ExclamationEqualsEqualsToken || op === ts.SyntaxKind.ExclamationEqualsToken;
        if ((eq || ne) && (isNull(e.left) || isNull(e.right))) {
          const other = isNull(e.left) ? e.right : e.left;
          const r = this.tryRef(other);
          if (!r) return fail(other, Code.Unsupported, "only map lookups and ring buffer reservations can be null");
          if (r.base.kind !== "reg") return this.fb.terminate({ op: "jmp", target: (eq ? f : t).id });
          return this.fb.terminate({ op: "br", cmp: eq ? "eq" : "ne", signed: false, a: r.base, b: imm(0n, PTR), then: t.id, else: f.id, loc: locOf(e) });
        }
        if (op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken) {
          const mid = this.fb.newBlock();
          if (op === ts.SyntaxKind.AmpersandAmpersandToken) this.cond(e.left, mid, f);
          else this.cond(e.left, t, mid);
          this.enter(mid);
          return this.cond(e.right, t, f);
        }
        const cmp = COMPARE.get(op);
        if (cmp) {
          const [a, b, type] = this.comparands(this.value(e.left), this.value(e.right), e, [e.left, e.right]);
          return this.fb.terminate({ op: "br", cmp, signed: type.signed, a, b, then: t.id, else: f.id, loc: locOf(e) });
        }
      }
      const recorded = this.tracepointField(e);
      if (recorded?.shape?.kind === "str") {
        // A record's char array is non-empty when its first byte is not NUL: one load, no copy.
        const first = this.fb.vreg(U8);
        this.fb.emit({ op: "ctx", dst: first, offset: recorded.offset, size: 1, signed: false, loc: locOf(e) });
        return this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: first, b: imm(0n, U8), then: t.id, else: f.id, loc: locOf(e) });
      }
      if (recorded?.shape?.kind === "dynamic-str") {
        // A __data_loc string's length (the u32's high half) counts its NUL: non-empty is more than 1.
        const where = this.fb.vreg(U32);
        this.fb.emit({ op: "ctx", dst: where, offset: recorded.offset, size: 4, signed: false, loc: locOf(e) });
        const length = this.fb.vreg(U32);
        this.fb.emit({ op: "bin", kind: "shr", dst: length, a: where, b: imm(16n, U32), loc: locOf(e) });
        return this.fb.terminate({ op: "br", cmp: "gt", signed: false, a: length, b: imm(1n, U32), then: t.id, else: f.id, loc: locOf(e) });
      }
      const r = this.tryRef(e);
      if (r) {
        // `if (v)`: a lookup that found something and, as JavaScript's truthiness has it, for an integer a
        // non-zero one, for a string a non-empty one (its first byte is not NUL). Structs and arrays are objects.
        const byValue = r.layout.kind === "int" || r.layout.kind === "str";
        if (r.base.kind !== "reg" || !r.nullable) {
          if (!byValue) return this.fb.terminate({ op: "jmp", target: t.id });
        } else {
          const found = this.fb.newBlock();
          this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: r.base, b: imm(0n, PTR), then: byValue ? found.id : t.id, else: f.id, loc: locOf(e) });
          if (!byValue) return;
          this.enter(found);
        }
        const x = this.loadInt(r.layout.kind === "str" ? { ...r, layout: intLayout(U8) } : r, e);
        return this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: x.op, b: imm(0n, x.op.type), then: t.id, else: f.id, loc: locOf(e) });
      }
      const v = this.value(e);
      this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: v.op, b: imm(0n, v.op.type), then: t.id, else: f.id, loc: locOf(e) });
    }

    /**
     * `if (c) x++` (`x--`, `x += K`, `x -= K`) on a local, without a branch: `x += flag * K`, flag being c's 0 or 1.
     * Each branch doubles the states the verifier walks where x differs (a counter made precise by a constant
     * array map key never prunes), so a loop counting matches costs it per path, not per iteration. c is a
     * one-bit test (`(v & 4) !== 0`: the bit itself) or a comparison of values of at most 32 bits, whose sign
     * a 64-bit subtraction of the extended values gives (BPF has no setcc); a wider one keeps its branch.
     * Returns false, having emitted nothing, where the statement has another shape.
     */
    conditionalStep(s: TS.IfStatement): boolean {
      if (s.elseStatement) return false;
      let body: TS.Statement = s.thenStatement;
      while (ts.isBlock(body) && body.statements.length === 1) body = body.statements[0]!;
      if (!ts.isExpressionStatement(body)) return false;
      const e = skipParentheses(body.expression);
      let target: TS.Expression;
      let kind: BinOp;
      let amount: bigint;
      if ((ts.isPrefixUnaryExpression(e) || ts.isPostfixUnaryExpression(e)) && (e.operator === ts.SyntaxKind.PlusPlusToken || e.operator === ts.SyntaxKind.MinusMinusToken)) {
        [target, kind, amount] = [e.operand, e.operator === ts.SyntaxKind.PlusPlusToken ? "add" : "sub", 1n];
      } else if (ts.isBinaryExpression(e) && (e.operatorToken.kind === ts.SyntaxKind.PlusEqualsToken || e.operatorToken.kind === ts.SyntaxKind.MinusEqualsToken) && ts.isNumericLiteral(e.right)) {
        [target, kind, amount] = [e.left, e.operatorToken.kind === ts.SyntaxKind.PlusEqualsToken ? "add" : "sub", BigInt(e.right.text.replace(/_/g, ""))];
      } else return false;
      target = skipParentheses(target);
      if (!ts.isIdentifier(target) || amount <= 0n || amount >= 1n << 31n) return false;
      const b = this.scope.get(checker.getSymbolAtLocation(target)!);
      if (b?.kind !== "var" || !b.mutable) return false;
      const flag = this.flag(s.expression, () => this.statement(s.thenStatement));
      if (flag === "branched") return true;
      if (!flag) return false;
      const loc = locOf(s.expression);
      let step: Operand = flag;
      if (amount > 1n) {
        const k = amount & (amount - 1n) ? undefined : BigInt(amount.toString(2).length - 1);
        const scaled = this.fb.vreg(I32);
        this.fb.emit(k !== undefined ? { op: "bin", kind: "shl", dst: scaled, a: flag, b: imm(k, I32), loc } : { op: "bin", kind: "mul", dst: scaled, a: flag, b: imm(amount, I32), loc });
        step = scaled;
      }
      this.assign(target, (cur) => this.binary(kind, cur, { op: step }, e), e);
      return true;
    }

    /**
     * c's truth as a 0/1 i32 computed without a branch, for a one-bit test or a comparison of values of at most
     * 32 bits; "branched" when c compared wider values, which it then branched on around `then`; undefined,
     * with nothing emitted, for other conditions.
     */
    flag(c: TS.Expression, then: () => void): VReg | "branched" | undefined {
      c = skipParentheses(c);
      if (!ts.isBinaryExpression(c)) return undefined;
      const cmp = COMPARE.get(c.operatorToken.kind);
      if (!cmp) return undefined;
      const loc = locOf(c);
      const bin = (kind: BinOp, type: IntType, a: Operand, b: Operand): VReg => {
        const dst = this.fb.vreg(type);
        this.fb.emit({ op: "bin", kind, dst, a, b, loc });
        return dst;
      };
      const zero = (x: TS.Expression): boolean => ts.isNumericLiteral(x) && BigInt(x.text.replace(/_/g, "")) === 0n;
      const tested = zero(c.right) ? skipParentheses(c.left) : zero(c.left) ? skipParentheses(c.right) : undefined;
      if ((cmp === "eq" || cmp === "ne") && tested && ts.isBinaryExpression(tested) && tested.operatorToken.kind === ts.SyntaxKind.AmpersandToken) {
        const [x, m] = ts.isNumericLiteral(tested.right) ? [tested.left, tested.right] : ts.isNumericLiteral(tested.left) ? [tested.right, tested.left] : [];
        const mask = m && BigInt(m.text.replace(/_/g, ""));
        if (x && mask && !(mask & (mask - 1n)) && mask < 1n << 31n) {
          // `(v & 2^k) !== 0` is bit k of v; `=== 0` that bit flipped.
          const v = this.value(x);
          let bit: Operand = v.untyped ? imm((v.op as Imm).value, I64) : this.convert(v, promote(v.op.type)).op;
          const shift = BigInt(mask.toString(2).length - 1);
          if (shift > 0n) bit = bin("shr", U64, bit, imm(shift, U32));
          bit = bin("and", I32, bit, imm(1n, I32));
          return cmp === "eq" ? bin("xor", I32, bit, imm(1n, I32)) : bit;
        }
      }
      const [a, b, type] = this.comparands(this.value(c.left), this.value(c.right), c, [c.left, c.right]);
      if (type.bits > 32) {
        const body = this.fb.newBlock();
        const join = this.fb.newBlock();
        this.fb.terminate({ op: "br", cmp, signed: type.signed, a, b, then: body.id, else: join.id, loc });
        this.enter(body);
        then();
        this.fb.terminate({ op: "jmp", target: join.id });
        this.enter(join);
        return "branched";
      }
      if (cmp === "eq" || cmp === "ne") {
        // a ^ b in 32 bits is 0 exactly when they are equal: 0 - 1 is negative, any other value minus 1 is not,
        // and only 0 negated is not negative.
        const diff = bin("xor", U32, a, b);
        const top = cmp === "eq" ? bin("sub", I64, diff, imm(1n, I64)) : this.fb.vreg(I64);
        if (cmp === "ne") this.fb.emit({ op: "neg", dst: top, a: diff, loc });
        return bin("and", I32, bin("shr", U64, top, imm(63n, U32)), imm(1n, I32));
      }
      // Values of at most 32 bits, extended to 64 as their type says, subtract without overflow: a < b is the sign of a - b.
      const [x, y] = cmp === "lt" || cmp === "ge" ? [a, b] : [b, a];
      const sign = bin("shr", U64, bin("sub", I64, x, y), imm(63n, U32));
      const less = bin("and", I32, sign, imm(1n, I32));
      return cmp === "lt" || cmp === "gt" ? less : bin("xor", I32, less, imm(1n, I32));
    }

    /**
     * A condition as a value: 1 or 0, a boolean where TypeScript types it so (`a < b`, `!x`), else an
     * i32 like C's `&&` on integers.
     */
    boolValue(e: TS.Expression): Val {
      return this.zeroOrOne(isBoolean(e) ? BOOL : I32, (t, f) => this.cond(e, t, f));
    }

    /** 1 or 0 of `type` as `branch` goes to its first or second block. */
    zeroOrOne(type: IntType, branch: (t: Block, f: Block) => void): Val {
      const dst = this.fb.vreg(type);
      const t = this.fb.newBlock();
      const f = this.fb.newBlock();
      const join = this.fb.newBlock();
      branch(t, f);
      for (const [b, v] of [[t, 1n], [f, 0n]] as const) {
        this.enter(b);
        this.fb.emit({ op: "mov", dst, src: imm(v, type) });
        this.fb.terminate({ op: "jmp", target: join.id });
      }
      this.enter(join);
      return { op: dst };
    }

    // ---- expressions

    value(e: TS.Expression): Val {
      if (ts.isParenthesizedExpression(e)) return this.value(e.expression);
      if (ts.isNumericLiteral(e)) {
        const text = e.text;
        const n = Number(text);
        if (!Number.isInteger(n)) fail(e, Code.BadLiteral, `${e.getText(file)} is not an integer: BPF has no floating point`);
        if (!Number.isSafeInteger(n)) fail(e, Code.BadLiteral, `${e.getText(file)} is beyond 2^53 and loses precision as a number: write it as a bigint literal (${e.getText(file)}n)`);
        return { op: imm(BigInt(n), I64), untyped: true };
      }
      if (ts.isBigIntLiteral(e)) {
        const v = BigInt(e.text.slice(0, -1));
        if (v > 0xffffffffffffffffn) fail(e, Code.OutOfRange, `${e.getText(file)} does not fit in 64 bits`);
        return { op: { kind: "imm", value: v, type: v > 0x7fffffffffffffffn ? U64 : I64 }, untyped: true };
      }
      if (e.kind === ts.SyntaxKind.TrueKeyword || e.kind === ts.SyntaxKind.FalseKeyword) {
        return { op: imm(e.kind === ts.SyntaxKind.TrueKeyword ? 1n : 0n, BOOL) };
      }
      const constant = kernelConstant(e);
      if (constant) return constant;
      if (ts.isIdentifier(e)) {
        const flag = builtin(e);
        if (flag && CONSTANTS[flag] !== undefined && !this.scope.has(checker.getSymbolAtLocation(e)!)) return { op: imm(CONSTANTS[flag]!, I64), untyped: true };
        const b = this.lookup(e);
        if (b.kind === "var") return { op: b.reg };
        if (b.kind === "const") return b.val;
        if (b.kind === "ref") return this.loadInt(b.ref, e);
        if (b.kind === "map") return fail(e, Code.NotAnInteger, `\`${e.text}\` is a map: call one of its methods`);
        return fail(e, Code.NotAnInteger, `\`${e.text}\` is the tracepoint record: read one of its fields (${b.format.fields.filter((f) => f.readable && f.tsType).map((f) => f.name).join(", ")})`);
      }
      // `5 as const` changes only TypeScript's view of the literal.
      if (ts.isAsExpression(e) && ts.isTypeReferenceNode(e.type) && e.type.typeName.getText(file) === "const") return this.value(e.expression);
      if (ts.isAsExpression(e)) return this.cast(this.value(e.expression), intTypeOf(e.type), e);
      if (ts.isPrefixUnaryExpression(e)) {
        switch (e.operator) {
          case ts.SyntaxKind.PlusToken:
            return this.value(e.operand);
          case ts.SyntaxKind.ExclamationToken:
            return this.boolValue(e);
          case ts.SyntaxKind.MinusToken:
          case ts.SyntaxKind.TildeToken: {
            const v = this.value(e.operand);
            const neg = e.operator === ts.SyntaxKind.MinusToken;
            if (v.op.kind === "imm") {
              const r = neg ? -v.op.value : v.untyped && this.numberBits(e) ? ~BigInt.asIntN(32, v.op.value) : ~v.op.value;
              return v.untyped ? { op: { kind: "imm", value: r, type: I64 }, untyped: true } : { op: imm(r, promote(v.op.type)) };
            }
            const dst = this.fb.vreg(promote(v.op.type));
            this.fb.emit({ op: neg ? "neg" : "not", dst, a: v.op, loc: locOf(e) });
            return { op: dst };
          }
        }
        return fail(e, Code.Unsupported, `the operator \`${ts.tokenToString(e.operator)}\` is only supported as a statement (\`x++;\`)`);
      }
      if (ts.isBinaryExpression(e)) {
        const op = e.operatorToken.kind;
        const bin = ARITH.get(op);
        if (bin && (arithmeticString(e.left) || arithmeticString(e.right))) return fail(e, Code.StringOperation, `strings cannot be joined or computed with \`${e.operatorToken.getText(file)}\`: printk formats several values in one message (\`printk(\`\${a} \${b}\`)\`)`);
        if (bin) return this.binary(bin, this.value(e.left), this.value(e.right), e);
        if (op === ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken) return this.unsignedShift(this.value(e.left), this.value(e.right), e);
        if (op === ts.SyntaxKind.QuestionQuestionToken) return this.orDefault(e);
        if (op === ts.SyntaxKind.AsteriskAsteriskToken) return this.power(e);
        if ((op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken) && !isBoolean(e)) return this.logical(e);
        if (COMPARE.has(op) || op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken) return this.boolValue(e);
        if (op === ts.SyntaxKind.EqualsToken || COMPOUND.has(op)) return fail(e, Code.Unsupported, "assignments are statements here, not values");
        return fail(e, Code.Unsupported, `the operator \`${e.operatorToken.getText(file)}\` is not supported`);
      }
      if (ts.isNonNullExpression(e)) {
        const r = this.tryRef(e);
        if (r) return this.loadInt(r, e);
        return this.value(e.expression);
      }
      if (ts.isConditionalExpression(e)) return this.conditional(e);
      // An enum member (`Sig.A`, `Sig["A"]`): its value, as any integer constant.
      const enumValue = enumMemberValue(e);
      if (enumValue !== undefined) return { op: imm(BigInt(enumValue), I64), untyped: true };
      if (ts.isElementAccessExpression(e)) {
        const direct = this.recordElement(e) ?? this.kernelElement(e);
        if (direct) return direct;
        const base = this.tryRef(e.expression);
        if (base) return this.loadInt(this.elementRef(base, e.argumentExpression, e), e);
      }
      if (ts.isCallExpression(e)) return this.call(e);
      if (ts.isPropertyAccessExpression(e) && isString(e.expression)) return noStringProperty(e.name);
      const length = arrayLength(e);
      if (length !== undefined) return { op: imm(BigInt(length), I64), untyped: true };
      if (ts.isPropertyAccessExpression(e)) return this.property(e);
      if (ts.isTemplateExpression(e) || ts.isNoSubstitutionTemplateLiteral(e) || ts.isStringLiteral(e)) {
        if (ts.isTemplateExpression(e)) return fail(e, Code.NotAnInteger, "a template string with values is formatted only as the message of printf() or printk(): pass it to one of them");
        // Where a string is kept (a const, a ternary's arm), it needs a size: Str<N> is a NUL-padded char array.
        return fail(e, Code.NotAnInteger, `a string here needs a size: give its binding a Str<N> type (\`const s: Str<16> = ${e.getText(file).length > 24 ? '"..."' : e.getText(file)}\`), or pass it straight to printf/printk`);
      }
      // Arr<T, N> indexing is handled above; anything else indexed is a record read by a computed name.
      if (ts.isElementAccessExpression(e)) {
        const key = e.argumentExpression;
        const byName = ts.isStringLiteralLike(key) ? `: write \`${e.expression.getText()}.${key.text}\`` : "";
        return fail(e, Code.Unsupported, `index expressions work on Arr<T, N> values only; fields are read by name, never by a computed key${byName}`);
      }
      return fail(e, Code.Unsupported, `${describe(ts, e)} are not supported in a probe handler${insteadOf(ts, e)}`);
    }

    /** `m.lookup(k) ?? d`: the value found, or d. */
    orDefault(e: TS.BinaryExpression): Val {
      // `p?.f ?? d`: name the optional chain, the construct the user reached for, not `??`.
      if (ts.isPropertyAccessExpression(e.left) && e.left.questionDotToken) {
        return fail(e.left, Code.Unsupported, `\`?.\` is not supported: test the value first (\`if (v !== null) ... v.${e.left.name.text}\`); a field read through a NULL kernel pointer gives 0`);
      }
      const r = this.tryRef(e.left);
      if (!r || !r.nullable || r.base.kind !== "reg") {
        const left = e.left.getText(file);
        return fail(e, Code.Unsupported, `\`??\` gives its right side only for null, and \`${left}\` is never null: write \`${left}\` (or \`${left} || d\` for d where it is 0); \`??\` is for a map lookup (\`m.lookup(k) ?? 0\`)`);
      }
      const found = this.fb.newBlock();
      const missing = this.fb.newBlock();
      const join = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: r.base, b: imm(0n, PTR), then: found.id, else: missing.id, loc: locOf(e) });
      this.enter(found);
      const a = this.loadInt(r, e.left);
      const fEnd = this.fb.current;
      this.enter(missing);
      const b = this.value(e.right);
      const mEnd = this.fb.current;
      const type = b.untyped ? a.op.type : joinType(a.op.type, b.op.type);
      return this.joinValues(type, [fEnd, this.convertIn(fEnd, a, type)], [mEnd, b], join);
    }

    /**
     * `a || b` and `a && b` of integers, as TypeScript has them: the left value when it decides (truthy for
     * `||`, 0 for `&&`), else the right one, evaluated only then; typed as a conditional expression's arms.
     */
    logical(e: TS.BinaryExpression): Val {
      const or = e.operatorToken.kind === ts.SyntaxKind.BarBarToken;
      const a = this.value(e.left);
      if (a.op.kind === "imm") return (a.op.value !== 0n) === or ? a : this.value(e.right);
      const left = this.fb.newBlock();
      const right = this.fb.newBlock();
      const join = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: a.op, b: imm(0n, a.op.type), then: (or ? left : right).id, else: (or ? right : left).id, loc: locOf(e) });
      this.enter(right);
      const b = this.value(e.right);
      const rEnd = this.fb.current;
      return this.joinValues(armsType(a, b), [left, a], [rEnd, b], join);
    }

    /** convert() emitting into block `b`. */
    convertIn(b: Block, v: Val, type: IntType): Val {
      const cur = this.fb.current;
      this.fb.current = b;
      const out = this.convert(v, type);
      this.fb.current = cur;
      return out;
    }

    /** A C cast. */
    cast(v: Val, type: IntType, node: TS.Node): Val {
      if (type.bool || v.op.kind === "imm") return this.convert(v, type);
      const dst = this.fb.vreg(type);
      this.fb.emit({ op: "mov", dst, src: v.op, loc: locOf(node) });
      return { op: dst };
    }

    conditional(e: TS.ConditionalExpression): Val {
      const t = this.fb.newBlock();
      const f = this.fb.newBlock();
      const join = this.fb.newBlock();
      this.cond(e.condition, t, f);
      this.enter(t);
      const a = this.value(e.whenTrue);
      const tEnd = this.fb.current;
      this.enter(f);
      const b = this.value(e.whenFalse);
      const fEnd = this.fb.current;
      return this.joinValues(armsType(a, b), [tEnd, a], [fEnd, b], join);
    }

    joinValues(type: IntType, ...rest: [[Block, Val], [Block, Val], Block]): Val {
      const [[tb, a], [fb, b], join] = rest;
      const dst = this.fb.vreg(type);
      for (const [blk, v] of [[tb, a], [fb, b]] as const) {
        this.enter(blk);
        this.fb.emit({ op: "mov", dst, src: v.op });
        this.fb.terminate({ op: "jmp", target: join.id });
      }
      this.enter(join);
      return { op: dst };
    }

    /** Converts a value to `type`; a register conversion that changes nothing is free. */
    convert(v: Val, type: IntType): Val {
      if (type.bool && !v.op.type.bool) {
        // As C converts to _Bool: any non-zero value is 1.
        if (v.op.kind === "imm") return { op: imm(v.op.value === 0n ? 0n : 1n, BOOL) };
        const x = v.op;
        return this.zeroOrOne(BOOL, (t, f) => this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: x, b: imm(0n, x.type), then: t.id, else: f.id }));
      }
      if (v.op.kind === "imm") return { op: imm(v.op.value, type) };
      if (widens(v.op.type, type) && (type.bits === 64 || v.op.type.signed === type.signed || !v.op.type.signed)) {
        return { op: { ...v.op, type } };
      }
      const dst = this.fb.vreg(type);
      this.fb.emit({ op: "mov", dst, src: v.op });
      return { op: dst };
    }

    /** Brings two operands to their common type (literals adopt the other side's type when they fit). */
    operands(a: Val, b: Val): [Operand, Operand, IntType] {
      let type: IntType;
      if (a.untyped && b.untyped) type = commonType(defaultType((a.op as Imm).value), defaultType((b.op as Imm).value));
      else if (a.untyped) type = fitsBits((a.op as Imm).value, promote(b.op.type)) ? promote(b.op.type) : commonType(defaultType((a.op as Imm).value), b.op.type);
      else if (b.untyped) type = fitsBits((b.op as Imm).value, promote(a.op.type)) ? promote(a.op.type) : commonType(a.op.type, defaultType((b.op as Imm).value));
      else type = commonType(a.op.type, b.op.type);
      return [this.convert(a, type).op, this.convert(b, type).op, type];
    }

    /**
     * operands() of a comparison: a constant is compared as the number it is, as TypeScript compares (`i32 x ===
     * 0xffffffff` is false, not C's true for -1); a negative one against an unsigned value, which C compares as its
     * bits, is refused.
     */
    comparands(a: Val, b: Val, node: TS.Node, sides: [TS.Node, TS.Node]): [Operand, Operand, IntType] {
      for (const [c, o, other, self] of [[a, b, sides[1], sides[0]], [b, a, sides[0], sides[1]]] as const) {
        if (!c.untyped || o.untyped || c.op.kind !== "imm" || fits(c.op.value, promote(o.op.type))) continue;
        const t = promote(o.op.type);
        if (c.op.value < 0n && !t.signed) {
          const advice = [`compare with 0 (a ${typeName(t)} is never negative)`, `convert it first (\`i64(${other.getText(file)})\`${t.bits === 64 ? ", when it is below 2^63" : ""})`];
          // A number made by 32-bit bitwise operators (`F.TOP | F.A` with TOP = 1 << 31) is negative in JavaScript
          // too; its bits as an unsigned number are what a flags test means.
          if (c.op.value >= -(1n << 31n) && !(ts.isPrefixUnaryExpression(self) && self.operator === ts.SyntaxKind.MinusToken)) {
            const text = ts.isParenthesizedExpression(self) || ts.isIdentifier(self) || ts.isPropertyAccessExpression(self) ? self.getText(file) : `(${self.getText(file)})`;
            advice.unshift(`write the bits as the unsigned number they are (\`${text} >>> 0\` is ${BigInt.asUintN(32, c.op.value)})`);
          }
          fail(node, Code.OutOfRange, `\`${other.getText(file)}\` is a ${typeName(t)}, and C compares it with ${c.op.value} converted to ${BigInt.asUintN(t.bits, c.op.value)}, which is not TypeScript's answer: ${advice.slice(0, -1).join(", ")}, or ${advice.at(-1)}`);
        }
        const type = commonType(defaultType(c.op.value), o.op.type);
        return [this.convert(a, type).op, this.convert(b, type).op, type];
      }
      return this.operands(a, b);
    }

    /**
     * Whether constants of `node` fold as JavaScript's bitwise operators on numbers do (not bigints): on 32 bits. A shift
     * count outside 0..31, which JavaScript takes mod 32 (`1 << 32` is 1), is refused rather than folded either way.
     */
    numberBits(node: TS.Node, count?: bigint, shift?: boolean): boolean {
      if (checker.getTypeAtLocation(node).flags & ts.TypeFlags.BigIntLike) return false;
      if (shift && (count! < 0n || count! > 31n)) {
        fail(node, Code.OutOfRange, `\`${node.getText(file)}\` shifts a number by ${count}, which TypeScript takes mod 32 on 32 bits: shift by 0 to 31, or shift a 64-bit value (\`u64(1) << 40\`, \`i64(x) << 40\`)`);
      }
      return true;
    }

    binary(kind: BinOp, a: Val, b: Val, node: TS.Node): Val {
      if ((kind === "div" || kind === "mod") && b.op.kind === "imm" && b.op.value === 0n) fail(node, Code.DivisionByZero, "division by zero");
      if (a.untyped && b.untyped && a.op.kind === "imm" && b.op.kind === "imm") {
        if (kind in NUMBER_BITS && this.numberBits(node, b.op.value, kind === "shl" || kind === "shr")) return { op: imm(NUMBER_BITS[kind as keyof typeof NUMBER_BITS](a.op.value, b.op.value), I64), untyped: true };
        const type = commonType(defaultType(a.op.value), defaultType(b.op.value));
        return { op: { kind: "imm", value: normalize(fold(kind, a.op.value, b.op.value, type), type), type }, untyped: true };
      }
      let type: IntType;
      let x: Operand;
      let y: Operand;
      if (kind === "shl" || kind === "shr") {
        type = a.untyped ? defaultType((a.op as Imm).value) : promote(a.op.type);
        x = this.convert(a, type).op;
        y = b.untyped ? imm((b.op as Imm).value, U32) : b.op;
        // BPF defines only shifts below the width (the verifier refuses a constant one beyond it); C leaves them undefined.
        const by = b.op.kind === "imm" ? BigInt.asIntN(64, b.op.value) : undefined;
        if (x.kind !== "imm" && by !== undefined && (by < 0n || by >= BigInt(type.bits))) {
          fail(node, Code.OutOfRange, `a shift by ${by} is out of range for ${typeName(type)}: shift by 0 to ${type.bits - 1}`);
        }
      } else [x, y, type] = this.operands(a, b);
      if (x.kind === "imm" && y.kind === "imm") return { op: imm(fold(kind, x.value, y.value, type), type) };
      const dst = this.fb.vreg(type);
      this.fb.emit({ op: "bin", kind, dst, a: x, b: y, loc: locOf(node) });
      return { op: dst };
    }

    call(e: TS.CallExpression): Val {
      if (ts.isPropertyAccessExpression(e.expression) && isString(e.expression.expression)) return this.stringMethod(e, e.expression);
      const name = builtin(e.expression);
      if (name && INT_TYPES[name]) {
        // u32(x) converts like `x as u32`; it is also how a bigint literal becomes a number-typed constant.
        if (e.arguments.length !== 1) fail(e, Code.Unsupported, `${name}() converts one value`);
        return this.cast(this.value(e.arguments[0]!), INT_TYPES[name]!, e);
      }
      if (ts.isPropertyAccessExpression(e.expression)) {
        const m = this.mapOf(e.expression.expression);
        if (m) {
          const method = e.expression.name.text;
          if (method === "lookup" || method === "reserve") {
            const r = this.mapRefCall(m, method, e);
            return r.layout.kind === "int" ? fail(e, Code.Unsupported, `test the result of ${method}() for null before reading it (\`const v = m.${method}(...); if (v !== null) ...\`), or write \`m.lookup(k) ?? 0\``) : fail(e, Code.NotAnInteger, `${method}() gives ${aLayout(r.layout)}: bind it to a name and test it for null`);
          }
          return this.mapCall(m, method, e);
        }
      }
      if (ts.isIdentifier(e.expression)) {
        const symbol = checker.getSymbolAtLocation(e.expression);
        const fn = symbol && functions.get(symbol);
        if (fn) return this.inlineCall(fn, e);
      }
      const helper = name ? HELPER_CALLS[name] : undefined;
      if (name === "printk" || name === "printf") return fail(e, Code.Unsupported, `${name}() returns nothing: call it as a statement`);
      if (name === "readUser" || name === "readKernel") {
        const into = this.memoryRead(e)!;
        if (into.layout.kind !== "int") return fail(e, Code.NotAnInteger, `${name}<${e.typeArguments![0]!.getText(file)}>() gives ${aLayout(into.layout)}: bind it to a name or assign it to a field`);
        return this.loadInt(into, e);
      }
      if (name === "readUserStr" || name === "readKernelStr") return fail(e, Code.UnsupportedCall, `${name}() fills a Str<N>: assign it to one (\`const s: Str<64> = ${name}(p)\`, or a struct field), or print it (\`\${${name}(p)}\` in printk)`);
      if (name === "comm") return fail(e, Code.UnsupportedCall, "comm() gives a Str<16>, not an integer: bind it (`const c = comm()`), compare it (`comm() === \"bash\"`) or print it (`${comm()}`)");
      if (name === "kstack" || name === "ustack") return this.stack(name, e);
      if (name === "probe") return this.probeName(e);
      if (name === "signal") return this.signal(e);
      if (name === "ksym") {
        if (e.arguments.length !== 1) fail(e, Code.UnsupportedCall, "ksym() takes one kernel address");
        const dst = this.fb.vreg(KERNEL_SYMBOL);
        this.fb.emit({ op: "mov", dst, src: this.convert(this.value(e.arguments[0]!), U64).op });
        return { op: dst };
      }
      if (name === "exit") return this.exitRun(e);
      if (name === "time") return this.time(e);
      if (name === "ntop") return fail(e, Code.UnsupportedCall, 'ntop() gives an address\'s text for printf\'s %s: printf("%s\\n", ntop(addr))');
      if (name === "targetPid") {
        if (e.arguments.length) fail(e.arguments[0]!, Code.UnsupportedCall, "targetPid() takes no arguments");
        // A load from .rodata: the loader writes the pid there before loading, so to the verifier it is a constant.
        const address = this.fb.vreg(PTR);
        this.fb.emit({ op: "rodata", dst: address, offset: rodata.targetPid(), loc: locOf(e) });
        const dst = this.fb.vreg(U32);
        this.fb.emit({ op: "load", dst, base: address, offset: 0, size: 4, signed: false, loc: locOf(e) });
        return { op: dst };
      }
      if (!helper) {
        return fail(e, Code.UnsupportedCall, name && (PROBES as readonly string[]).includes(name)
          ? `${name}() declares a probe: it belongs at module level (\`export const x = ${name}(...)\`)`
          : `only tsbpf helpers can be called in a probe handler, not \`${e.expression.getText(file)}\``);
      }
      if (e.arguments.length) fail(e.arguments[0]!, Code.UnsupportedCall, `${name}() takes no arguments`);
      const dst = this.fb.vreg(helper!.type);
      this.fb.emit({ op: "call", helper: helper!.id, args: [], dst, loc: locOf(e) });
      return { op: dst };
    }

    /**
     * kstack(): bpf_get_stackid() into the file's stack map. ustack(): the same for the user stack, with the tgid in the
     * high half, since naming user frames takes the process's memory map (a failed id keeps its errno in the low half).
     */
    stack(name: "kstack" | "ustack", e: TS.CallExpression): Val {
      if (e.arguments.length > 1) fail(e.arguments[1]!, Code.UnsupportedCall, `${name}() takes at most a frame limit`);
      const frames = e.arguments[0] ? stackFrames(e.arguments[0], `${name}(frames)`) : MAX_STACK_FRAMES;
      const user = name === "ustack";
      const stacks = stackMap(user, frames);
      if (!maps.some((m) => m.name === stacks.name)) maps.push(stacks);
      const loc = locOf(e);
      const id = this.fb.vreg(user ? I64 : stackType(KERNEL_STACK, frames));
      this.fb.emit({ op: "call", helper: Helper.get_stackid, args: [this.fb.ctx, { kind: "map", name: stacks.name }, imm(user ? BPF_F_USER_STACK : 0n, U64)], dst: id, loc });
      if (!user) return { op: id };
      const pidTgid = this.fb.vreg(U64);
      this.fb.emit({ op: "call", helper: Helper.get_current_pid_tgid, args: [], dst: pidTgid, loc });
      const tgid = this.binary("and", { op: pidTgid }, { op: imm(0xffff_ffff_0000_0000n, U64) }, e);
      const both = this.binary("or", tgid, this.convert({ op: id }, U32), e);
      const dst = this.fb.vreg(stackType(USER_STACK, frames));
      this.fb.emit({ op: "mov", dst, src: both.op });
      return { op: dst };
    }

    /**
     * signal(sig, thread?), bpftrace's signal(): bpf_send_signal() to the current task's process, or
     * bpf_send_signal_thread() to the task alone (a literal `true`); a name (`"SIGUSR1"`, `"USR1"`) is its number.
     */
    signal(e: TS.CallExpression): Val {
      const [given, thread] = e.arguments;
      // TypeScript checks a name against the signals' unless cast: the name is looked at through the cast.
      let sig = given;
      while (sig && (ts.isAsExpression(sig) || ts.isParenthesizedExpression(sig))) sig = sig.expression;
      if (!sig || e.arguments.length > 2) return fail(e, Code.UnsupportedCall, 'signal() takes a signal, by number or name ("SIGKILL"), and whether to signal the thread alone');
      if (this.runsOnce) fail(e, Code.UnsupportedCall, `signal() signals the task a probe interrupted, and a ${this.runsOnce}() handler runs in tsbpf run itself: it would signal tsbpf`);
      if (thread && thread.kind !== ts.SyntaxKind.TrueKeyword && thread.kind !== ts.SyntaxKind.FalseKeyword) fail(thread, Code.UnsupportedCall, "signal()'s second argument is a literal true (the thread alone) or false (its process)");
      let number: Val;
      if (ts.isStringLiteral(sig) || ts.isNoSubstitutionTemplateLiteral(sig)) {
        const n = signalNumber(sig.text);
        if (n === undefined) return fail(sig, Code.UnsupportedCall, `${sig.text} is not a signal's name (SIGKILL or KILL, SIGUSR1 or USR1, ...)`);
        number = { op: imm(BigInt(n), U32) };
      } else {
        const given = this.value(sig);
        // The helper refuses what valid_signal() does (EINVAL), and says so only in its result, at run time.
        if (given.op.kind === "imm" && (given.op.value < 0n || given.op.value > 64n)) fail(sig, Code.OutOfRange, `signal(${given.op.value}): Linux's signals are 1 to 64 (0 sends none), or give a name ("SIGUSR1")`);
        number = this.convert(given, U32);
      }
      const toThread = thread?.kind === ts.SyntaxKind.TrueKeyword;
      const dst = this.fb.vreg(I64);
      this.fb.emit({ op: "call", helper: toThread ? Helper.send_signal_thread : Helper.send_signal, args: [number.op], dst, loc: locOf(e) });
      return { op: dst };
    }

    /**
     * probe(): the id of the place the program was attached at, which the loader puts in the attach cookie's high half
     * for a program tagged tsbpf:probe (the low half is a USDT site's argument spec id).
     */
    probeName(e: TS.CallExpression): Val {
      if (e.arguments.length) fail(e.arguments[0]!, Code.UnsupportedCall, "probe() takes no arguments");
      if (this.runsOnce) fail(e, Code.UnsupportedCall, `probe() names the probe that fired, and no probe fires a ${this.runsOnce}() handler: it runs once, by tsbpf run`);
      this.fb.bodyTags.add(PROBE_TAG);
      const cookie = this.fb.vreg(U64);
      this.fb.emit({ op: "call", helper: Helper.get_attach_cookie, args: [this.fb.ctx], dst: cookie, loc: locOf(e) });
      const id = this.binary("shr", { op: cookie }, { op: imm(BigInt(PROBE_ID_SHIFT), U64) }, e);
      const dst = this.fb.vreg(PROBE_NAME);
      this.fb.emit({ op: "mov", dst, src: id.op });
      return { op: dst };
    }

    /** The actions ring buffer, created by the first request; made larger by the first printf(), whose records are. */
    actionsMap(printf: boolean): void {
      const def: MapDef = { name: ACTIONS_MAP, type: MAP_TYPES.RingBuf, maxEntries: printf ? PRINTF_RING_BYTES : 4096, internal: true, actions: actionTargets, printf: printfSites, times: timeFormats };
      const at = maps.findIndex((m) => m.name === ACTIONS_MAP);
      if (at < 0) maps.push(def);
      else if (printf) maps[at] = def;
    }

    /**
     * printf(format, ...values), as bpftrace's printf: the values in a record sent to the actions ring buffer,
     * formatted by tsbpf run in user space (C's conversions, widths and all; no trace_pipe, no limit of values).
     * Integers keep their width (at least 32 bits, as C's varargs promote them) and sign; strings their Str size, 64
     * bytes for one read straight in (bpftrace's str()), 16 for comm().
     * A template literal is a format too, each value printed as the template would print it (`${pid}` with %d or %u
     * by its type, a string with %s, a boolean as `true` or `false`).
     */
    printf(e: TS.CallExpression): void {
      const [formatArg, ...rest] = e.arguments;
      const template = formatArg && ts.isTemplateExpression(formatArg) ? this.templateFormat(formatArg) : undefined;
      if (template && rest.length) fail(rest[0]!, Code.BadPrintk, "a template literal format holds its values: printf(`${pid} ${comm()}\\n`), or a C format and values: printf(\"%d %s\\n\", pid, comm())");
      const formatSource = template ? "" : formatArg && this.formatText(formatArg);
      if (formatSource === undefined) {
        return fail(formatArg ?? e, Code.BadPrintk, 'printf() takes a format first (a string literal, a template literal, or a module-level string constant), then its values: printf("%-6d %s\\n", pid, name)');
      }
      // The format travels as a C string (in BTF, and to the reader): a NUL would end it there.
      if ((template?.pieces ?? [formatSource]).some((p) => typeof p === "string" && p.includes("\0"))) {
        fail(formatArg!, Code.BadPrintk, "a printf format cannot hold a NUL character (\\0): it ends a C string; print it with %c and 0 if it must be written");
      }
      const pieces = template?.pieces ?? parseFormat(formatSource);
      if (typeof pieces === "string") return fail(formatArg!, Code.BadPrintk, pieces);
      const values = template?.values ?? rest;
      const conversions = pieces.filter((p): p is Conversion => typeof p !== "string");
      if (conversions.length !== values.length) fail(e, Code.BadPrintk, `the format has ${conversions.length} conversion${conversions.length === 1 ? "" : "s"} and printf() is given ${values.length} value${values.length === 1 ? "" : "s"}`);
      // Text known now joins the format: a string literal's (a header's "%-6s", "PID"), a template's constants.
      const literal = (x: TS.Expression): x is TS.StringLiteral | TS.NoSubstitutionTemplateLiteral => ts.isStringLiteral(x) || ts.isNoSubstitutionTemplateLiteral(x);
      const folded = values.map((x, i): string | undefined => (argKind(conversions[i]!) !== "str" ? undefined : literal(x) ? x.text : ts.isIdentifier(x) ? this.formatText(x) : undefined));
      const kept = values.flatMap((x, i) => (folded[i] === undefined ? [{ x, c: conversions[i]!, i }] : []));
      // Integers are evaluated now, into registers; strings are read or copied into the record once it is reserved.
      const args = kept.flatMap<PrintfArg>(({ x, c, i }) => {
        if (template?.byType.has(c)) {
          const v = this.value(x);
          const t = v.op.type;
          if (v.op.kind === "imm") {
            folded[i] = t.bool ? String(v.op.value !== 0n) : t.ptr ? `0x${BigInt.asUintN(64, v.op.value).toString(16)}` : String(v.op.value);
            c.spec = "s";
            return [];
          }
          if (t.bool) {
            const flag = v.op;
            c.spec = "s";
            return { spec: "s6", layout: { kind: "str", size: 6, align: 1 }, fill: (dst) => this.boolInto(dst, flag, x) };
          }
          c.spec = t.ptr ? "p" : t.signed ? "d" : "u";
          return this.printfInt(v, x);
        }
        if (argKind(c) === "str") {
          const address = this.ntop(x);
          if (address) return address;
          // probe()'s id (a ProbeName): tsbpf run prints the probe's name.
          const type = checker.getTypeAtLocation(x);
          if (type.getProperty("__tsbpfProbeName")) {
            const value = this.value(x);
            return { spec: "p", layout: intLayout(U64), fill: (dst) => this.storeInt(dst, value, x) };
          }
          if (type.getProperty("__tsbpfKsym")) {
            const value = this.value(x);
            return { spec: "ksym", layout: intLayout(U64), fill: (dst) => this.storeInt(dst, value, x) };
          }
          // A kstack()/ustack() id: tsbpf run prints the stack's frames, as bpftrace's printf("%s", kstack).
          if (type.getProperty("__tsbpfStack")) {
            const value = this.value(x);
            const t = value.op.type;
            return { spec: `${t.stack === "user" ? "u" : "k"}stack${t.frames ?? MAX_STACK_FRAMES}`, layout: intLayout(U64), fill: (dst) => this.storeInt(dst, value, x) };
          }
          const read = this.stringCall(x);
          // `c ? "W" : "R"`: a string as long as the longest literal, filled by the arm taken.
          const chosen = literalsSize(x);
          if (read || this.isDynamicString(x) || chosen) {
            const size = chosen ?? (read === "comm" ? COMM_LAYOUT.size : PRINTED_STRING.size);
            return { spec: `s${size}`, layout: { kind: "str", size, align: 1 }, fill: (dst) => this.assignInto(dst, x) };
          }
          // A kernel enum (a record's `enum skb_drop_reason reason`, or a value typed as one imported from "tsbpf/kernel"):
          // its value, which tsbpf run prints as the enumerator's name in the running kernel's BTF.
          // So is a kernel struct's enum member (`sk.sk_socket.state`, a socket_state).
          const field = this.tracepointField(x);
          const fieldEnum = /^enum\s+(\w+)\s/.exec(field?.cType ?? "")?.[1];
          const typed = kernel.enums.get(checker.getTypeAtLocation(x).getSymbol()?.getName() ?? "");
          const member = ts.isPropertyAccessExpression(x) ? kernelMemberOf(x)?.member : undefined;
          const memberEnum = member?.kind === "int" && (member.enum || member.enumTypedef) ? member : undefined;
          // An anonymous enum goes by its typedef (`socket_state`), which the reader resolves to the enum.
          const enumName = fieldEnum ?? typed?.name ?? (memberEnum?.enum || memberEnum?.enumTypedef);
          if (enumName) {
            const value = this.value(x);
            const wide = (field?.size ?? typed?.size ?? memberEnum?.size ?? 4) > 4;
            return { spec: `e${wide ? 64 : 32}.${enumName}`, layout: intLayout(wide ? U64 : U32), fill: (dst) => this.storeInt(dst, value, x) };
          }
          const src = this.tryRef(x);
          if (!src || src.layout.kind !== "str") return fail(x, Code.BadPrintk, `%${c.spec} prints a string (a Str<N>, comm(), readUserStr(p) of a user pointer, readKernelStr(p) of a kernel one), not \`${x.getText(file)}\``);
          return { spec: `s${src.layout.size}`, layout: src.layout, fill: (dst) => this.chunks(dst, src.layout.size, x, src) };
        }
        const read = this.stringCall(x);
        const ref = read || literal(x) ? undefined : this.tryRef(x);
        // A string given to %d: the format as it would print it, with %s there.
        if (read || literal(x) || this.isDynamicString(x) || ref?.layout.kind === "str") {
          const what = read === "comm" ? "comm() is a Str<16>" : ref?.layout.kind === "str" ? `\`${x.getText(file)}\` is ${aLayout(ref.layout)}` : `\`${x.getText(file)}\` is a string`;
          const fixed = formatText(pieces.map((p) => (p === c ? { ...c, spec: "s", flags: c.flags.includes("-") ? "-" : "", length: "" } : p)));
          fail(x, Code.BadPrintk, `%${c.spec} prints an integer, and ${what}, which %s prints: printf(${JSON.stringify(fixed)}, ${values.map((v) => v.getText(file)).join(", ")})`);
        }
        if (ref && ref.layout.kind !== "int") fail(x, Code.BadPrintk, `%${c.spec} prints an integer, not ${aLayout(ref.layout)}`);
        return this.printfInt(this.value(x), x);
      });
      let n = 0;
      const format = formatText(pieces.map((p) => {
        if (typeof p === "string") return p;
        const text = folded[n++];
        return text === undefined ? p : formatPrintf([p], [text], [0]);
      }));
      const id = printfSites.push({ format, args: args.map((a) => a.spec) }) - 1;
      this.actionsMap(true);
      const { offsets, size } = printfLayout(args.map((a) => a.spec));
      const loc = locOf(e);
      const record = this.fb.vreg(PTR);
      this.fb.emit({ op: "call", helper: Helper.ringbuf_reserve, args: [{ kind: "map", name: ACTIONS_MAP }, imm(BigInt(size), U64), imm(0n, U64)], dst: record, loc });
      // A full buffer drops the line, as bpftrace's printf drops it when its perf buffer is full, and counts it.
      const join = this.fb.newBlock();
      this.unlessDropped(ACTIONS_MAP, record, join, e);
      this.zero({ layout: { kind: "array", element: { kind: "int", type: U64, size: 8, align: 8 }, length: size / 8, size, align: 8 }, base: record, offset: 0 }, e);
      const [actionField, idField] = ACTION_RECORD.fields.map((f) => ({ layout: f.layout, base: record, offset: f.offset }));
      this.storeInt(actionField!, { op: imm(BigInt(ACTIONS.printf), U32) }, e);
      this.storeInt(idField!, { op: imm(BigInt(id), U32) }, e);
      args.forEach((a, i) => a.fill({ layout: a.layout, base: record, offset: offsets[i]! }));
      this.fb.emit({ op: "call", helper: Helper.ringbuf_submit, args: [record, imm(0n, U64)], loc });
      this.fb.terminate({ op: "jmp", target: join.id });
      this.enter(join);
    }

    /** An integer printf value in the record: at least 32 bits (as C's varargs promote it), its sign kept. */
    printfInt(v: Val, x: TS.Expression): PrintfArg {
      const t = v.op.type;
      const type = v.untyped || t.bits > 32 || t.ptr ? (t.signed && !t.ptr ? I64 : U64) : t.signed ? I32 : U32;
      const value = this.convert(v, type);
      return { spec: `${type.signed ? "i" : "u"}${type.bits as 32 | 64}`, layout: { kind: "int", type, size: (type.bits / 8) as 4 | 8, align: type.bits / 8 }, fill: (dst) => this.storeInt(dst, value, x) };
    }

    /**
     * A template literal as printf's format: its text, and a conversion per value: %s for strings (and what %s prints
     * by name: probe(), ksym(), stacks), and for the rest one whose letter the value's type picks once it is lowered.
     */
    templateFormat(t: TS.TemplateExpression): { pieces: FormatPiece[]; values: TS.Expression[]; byType: Set<Conversion> } {
      const pieces: FormatPiece[] = [];
      const values: TS.Expression[] = [];
      const byType = new Set<Conversion>();
      const members = (type: TS.Type): TS.Type[] => (type.isUnionOrIntersection() ? type.types.flatMap(members) : [type]);
      const add = (template: TS.TemplateExpression): void => {
        pieces.push(template.head.text);
        for (const span of template.templateSpans) {
          let x = span.expression;
          while (ts.isParenthesizedExpression(x)) x = x.expression;
          // A template inside the template (`${`in ${x}`}`) is its text and values in place.
          if (ts.isTemplateExpression(x)) add(x);
          else {
            const type = checker.getTypeAtLocation(x);
            const named = ["__tsbpfProbeName", "__tsbpfKsym", "__tsbpfStack"].some((p) => type.getProperty(p));
            const text = named || members(type).some((m) => m.flags & ts.TypeFlags.StringLike);
            const c: Conversion = { spec: text ? "s" : "d", flags: "", width: undefined, precision: undefined, length: "" };
            if (!text) byType.add(c);
            pieces.push(c);
            values.push(x);
          }
          pieces.push(span.literal.text);
        }
      };
      add(t);
      return { pieces: pieces.filter((p) => p !== ""), values, byType };
    }

    /** "true" or "false" into a Str<6> of a printf record (zeroed) as `flag` is set or not. */
    boolInto(dst: Ref, flag: Operand, node: TS.Node): void {
      const loc = locOf(node);
      const [set, clear, join] = [this.fb.newBlock(), this.fb.newBlock(), this.fb.newBlock()];
      this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: flag, b: imm(0n, flag.type), then: set.id, else: clear.id, loc });
      for (const [block, text] of [[set, "true"], [clear, "false"]] as const) {
        this.enter(block);
        [...text].forEach((ch, i) => this.fb.emit({ op: "st", base: dst.base, offset: dst.offset + i, size: 1, src: imm(BigInt(ch.charCodeAt(0)), U8), loc }));
        this.fb.terminate({ op: "jmp", target: join.id });
      }
      this.enter(join);
    }

    /** A format's text: a string literal, or a module-level string constant; undefined for anything else. */
    formatText(e: TS.Expression): string | undefined {
      if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return e.text;
      const symbol = ts.isIdentifier(e) ? checker.getSymbolAtLocation(e) : undefined;
      const b = symbol && this.scope.get(symbol);
      return b?.kind === "string" ? b.text : undefined;
    }

    /**
     * ntop(addr) as a printf value (bpftrace's ntop()): an Arr<u8, 4> or Arr<u8, 16> copied into the record as the
     * address's bytes, or an integer (a __be32 read from the kernel) stored as it was read, so its bytes stay in network
     * order; tsbpf run writes it as inet_ntop does. Undefined for any other expression.
     */
    ntop(x: TS.Expression): { spec: ArgSpec; layout: Layout; fill: (dst: Ref) => void } | undefined {
      if (!ts.isCallExpression(x) || builtin(x.expression) !== "ntop") return undefined;
      if (x.arguments.length !== 1) return fail(x, Code.UnsupportedCall, "ntop() takes one address");
      const arg = x.arguments[0]!;
      const src = this.tryRef(arg);
      if (src && src.layout.kind === "array" && src.layout.element.size === 1 && (src.layout.length === 4 || src.layout.length === 16)) {
        const layout = src.layout;
        return { spec: layout.length === 4 ? "n4" : "n16", layout, fill: (dst) => this.chunks(dst, layout.size, arg, src) };
      }
      if (src && src.layout.kind !== "int") return fail(arg, Code.BadPrintk, `ntop() takes an IPv4 address (a u32 as the kernel keeps it, or an Arr<u8, 4>) or an IPv6 one (an Arr<u8, 16>), not ${aLayout(src.layout)}`);
      const value = this.convert(this.value(arg), U32);
      return { spec: "n4", layout: intLayout(U32), fill: (dst) => this.storeInt(dst, value, arg) };
    }

    /** time(format), bpftrace's time(): tsbpf run prints the current local time in strftime's format (default "%H:%M:%S\n"). */
    time(e: TS.CallExpression): Val {
      const [formatArg] = e.arguments;
      const format = formatArg ? this.formatText(formatArg) : "%H:%M:%S\n";
      if (format === undefined) return fail(formatArg!, Code.BadPrintk, 'time() takes a format (a string literal, or a module-level string constant): time("%H:%M:%S\\n")');
      const bad = checkTimeFormat(format);
      if (bad) fail(formatArg!, Code.BadPrintk, bad);
      const id = timeFormats.push(format) - 1;
      this.action(ACTIONS.time, { op: imm(BigInt(id), U32) }, e);
      return { op: imm(0n, I64) };
    }

    /** exit(code): the code in an action record, which tsbpf run stops at; ends the handler, as `return 0` would. */
    exitRun(e: TS.CallExpression): Val {
      if (e.arguments.length > 1) fail(e.arguments[1]!, Code.UnsupportedCall, "exit() takes at most an exit code");
      const code = e.arguments[0] ? this.value(e.arguments[0]) : { op: imm(0n, U32) };
      // A process's exit status is 8 bits: 256 would read as success.
      if (code.op.kind === "imm" && (code.op.value < 0n || code.op.value > 255n)) fail(e.arguments[0]!, Code.OutOfRange, `exit(${code.op.value}): an exit status is 0 to 255 (the process's status keeps only its low 8 bits)`);
      this.action(ACTIONS.exit, code, e);
      this.fb.terminate({ op: "ret", value: imm(0n, I64), loc: locOf(e) });
      this.enter(this.fb.newBlock()); // anything after exit() is unreachable and dropped
      return { op: imm(0n, I64) };
    }

    /** One record to the file's actions ring buffer (created by the first): what tsbpf run does when it reads it. */
    action(action: number, arg: Val, e: TS.Node): void {
      this.actionsMap(false);
      const record = this.stackTemp(ACTION_RECORD, e);
      const [actionField, argField] = ACTION_RECORD.fields.map((f) => ({ ...record, layout: f.layout, offset: f.offset }));
      this.storeInt(actionField!, { op: imm(BigInt(action), U32) }, e);
      this.storeInt(argField!, arg, e);
      const r = this.fb.vreg(I64);
      this.fb.emit({ op: "call", helper: Helper.ringbuf_output, args: [{ kind: "map", name: ACTIONS_MAP }, this.addrOf(record, e), imm(8n, U64), imm(0n, U64)], dst: r, loc: locOf(e) });
      this.countFailed(ACTIONS_MAP, r, e);
    }

    /**
     * Goes on in a new block when ring buffer `ring` gave a record (`record` is not null); otherwise counts one it
     * dropped and goes to `join`.
     */
    unlessDropped(ring: string, record: VReg, join: Block, e: TS.Node): void {
      const sent = this.fb.newBlock();
      const dropped = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: record, b: imm(0n, PTR), then: sent.id, else: dropped.id });
      this.enter(dropped);
      this.addToDropped(ring, imm(1n, U64), e);
      this.fb.terminate({ op: "jmp", target: join.id });
      this.enter(sent);
    }

    /**
     * One more record dropped if `result`, a ringbuf_output's, is negative (the ring was full): its sign bit is added,
     * without a branch, so a loop of output()s costs the verifier no more states than without the count.
     */
    countFailed(ring: string, result: VReg, e: TS.Node): void {
      const failed = this.fb.vreg(U64);
      this.fb.emit({ op: "bin", kind: "shr", dst: failed, a: result, b: imm(63n, U64), loc: locOf(e) });
      this.addToDropped(ring, failed, e);
    }

    /** Adds `n` to ring buffer `ring`'s count of dropped records (droppedCounterName): a u64 in .bss, made by the first. */
    addToDropped(ring: string, n: Operand, e: TS.Node): void {
      const name = droppedCounterName(ring);
      let counter = bss.find((v) => v.name === name);
      if (!counter) bss.push((counter = { name, offset: bss.length * 8 }));
      const p = this.fb.vreg(PTR);
      this.fb.emit({ op: "bss", dst: p, offset: counter.offset, loc: locOf(e) });
      this.fb.emit({ op: "atomic", ptr: p, offset: 0, size: 8, src: n, loc: locOf(e) });
    }

    property(e: TS.PropertyAccessExpression): Val {
      const memory = this.tryRef(e.expression);
      if (memory) return this.loadInt(this.fieldRef(memory, e.name), e);
      if (ts.isIdentifier(e.expression)) {
        const symbol = checker.getSymbolAtLocation(e.expression);
        const b = symbol && this.scope.get(symbol);
        if (b?.kind === "tpctx") return this.field(b.format, e);
      }
      const place = this.kernelPlace(e);
      const m = place.member;
      if (m.kind === "struct" || m.kind === "array") {
        return fail(e, Code.NotAnInteger, `\`${e.getText(file)}\` is a ${m.kind === "struct" ? `struct ${m.struct}: read one of its members` : `${kernelArrayType(m)}: assign it to one, print it, or index it`}`);
      }
      return this.kernelRead(place, m, place.offset, { struct: place.root, members: place.members }, e);
    }

    /**
     * Where `e` (a member read through a Ptr<T> to a kernel struct, maybe through structs embedded by
     * value: `sk.__sk_common.skc_family`) is: the pointer, the root struct, the member path and its
     * offset summed along the way, so the whole chain is one probe read with one CO-RE relocation.
     */
    kernelPlace(e: TS.PropertyAccessExpression): KernelPlace {
      const inner = skipParentheses(e.expression);
      let at: Omit<KernelPlace, "member"> & { struct: KernelStruct };
      const nested = ts.isPropertyAccessExpression(inner) ? kernelMemberOf(inner)?.member : undefined;
      if (nested?.kind === "struct") {
        const outer = this.kernelPlace(inner as TS.PropertyAccessExpression);
        at = { ...outer, struct: kernelStructs.get(nested.struct)! };
      } else {
        const base = this.value(e.expression);
        const type = base.op.type;
        if (!type.ptr) return fail(e, Code.Unsupported, `property access \`${e.getText(file)}\` is not supported here`);
        const struct = type.pointee ? kernelStructs.get(type.pointee) : undefined;
        if (!struct) {
          // A Ptr to the file's own struct (a uprobe's `Ptr<Request>`): its memory is read whole, by readUser or readKernel.
          const own = ownPointee(e.expression);
          if (own) {
            const p = e.expression.getText(file);
            return fail(e, Code.PointerAccess, `reading \`${e.getText(file)}\` through a Ptr<${own}> needs a kernel struct's layout, and ${own} is this file's own type: read the struct at the address with readUser<${own}>(${p}) (user memory, where a uprobe's pointers point) or readKernel<${own}>(${p}), then its fields: readUser<${own}>(${p}).${e.name.text}`);
          }
          return fail(e, Code.PointerAccess, `reading \`${e.getText(file)}\` needs the pointee's layout: declare the parameter as Ptr<T> with T a kernel struct imported from "tsbpf/kernel"`);
        }
        at = { ptr: base.op, root: struct.name, members: [], offset: 0, struct };
      }
      const name = e.name.text;
      const m = at.struct.members.get(name);
      if (!m) {
        const why = at.struct.unreadable.get(name);
        return fail(e.name, Code.PointerAccess, why ? `tsbpf cannot read \`${name}\` of struct ${at.struct.name}: ${why}` : `struct ${at.struct.name} has no member \`${name}\``);
      }
      return { ptr: at.ptr, root: at.root, members: [...at.members, name], offset: at.offset + m.offset, member: m };
    }

    /**
     * One integer or pointer at `offset` from a kernel pointer, relocated by `core`: a direct load through a pointer
     * the kernel types (at a constant offset, as its verifier requires), else a probe read. A struct pointer loaded
     * through a typed one is typed too, unless it points into user or per-CPU memory.
     */
    kernelRead(place: KernelPlace, m: KernelScalar, offset: number, core: CoreAccess, node: TS.Node, ptr: Operand = place.ptr): Val {
      if (m.bitfield) return this.kernelBitfield(place, m, m.bitfield, core, node);
      const direct = ptr === place.ptr && !!ptr.type.typed;
      const type = scalarIntType(m);
      const dst = this.fb.vreg(direct && type.ptr && type.pointee && type.pointee !== "char" && !m.foreign ? { ...type, typed: true } : type);
      const object = direct ? undefined : this.fb.stackObject(8);
      this.fb.emit({ op: "kread", dst, ptr, offset, size: m.size, signed: m.signed, object, core, loc: locOf(node) });
      return { op: dst };
    }

    /**
     * A bitfield member: its storage unit probe-read into a zeroed u64, then shifted into place, as libbpf's
     * BPF_CORE_READ_BITFIELD_PROBED reads it; each of the four numbers is relocated, so the read follows the
     * running kernel's layout. A typed pointer is probe-read too: a direct load's width could not follow it.
     */
    kernelBitfield(place: KernelPlace, m: KernelScalar, bits: { bitOffset: number; bits: number }, core: CoreAccess, node: TS.Node): Val {
      // The unit is found from the access's root, as libbpf finds it: the member's struct may be embedded in another.
      const load = bitfieldLoad((place.offset - place.member.offset) * 8 + bits.bitOffset, bits.bits, m.size);
      if (!load) return fail(node, Code.PointerAccess, `tsbpf cannot read bitfield \`${place.members.at(-1)}\` of struct ${place.root}: its ${bits.bits} bits are not within one aligned 8-byte unit`);
      const dst = this.fb.vreg(scalarIntType(m));
      const object = this.fb.stackObject(8);
      this.fb.emit({ op: "kread", dst, ptr: place.ptr, offset: load.byteOffset, size: load.byteSize, signed: m.signed, object, core, bitfield: { lshift: load.lshift, rshift: load.rshift }, loc: locOf(node) });
      return { op: dst };
    }

    /**
     * `task.comm` as a value in memory: the whole array copied with one probe read, into `into` (a
     * stack place of the same layout: an event's field) or else a new stack temporary.
     */
    kernelArrayCopy(e: TS.PropertyAccessExpression, into?: Ref): Ref {
      const place = this.kernelPlace(e);
      const m = place.member as KernelArray;
      const layout: Layout = m.string ? { kind: "str", size: m.length, align: 1 } : { kind: "array", element: scalarLayout(m.element), length: m.length, size: m.size, align: m.element.size };
      if (into && !sameLayout(into.layout, layout)) return fail(e, Code.UnsupportedType, `${aLayout(layout)} cannot be assigned to ${aLayout(into.layout)}`);
      const ref = into ?? (layout.kind === "str" ? this.stringTemp(layout, e) : this.stackTemp(layout, e));
      const base = ref.base as StackAddr;
      this.fb.emit({ op: "kcopy", into: { ...base, offset: (base.offset ?? 0) + ref.offset }, ptr: place.ptr, offset: place.offset, size: m.size, core: { struct: place.root, members: place.members }, loc: locOf(e) });
      return ref;
    }

    /**
     * `task.x[i]` for a kernel array of integers or pointers: one probe read of the element. A constant
     * index is relocated as that element; a variable one is bounds-checked and added to the pointer,
     * and the array's start is relocated.
     */
    kernelElement(e: TS.ElementAccessExpression): Val | undefined {
      const array = skipParentheses(e.expression);
      if (!ts.isPropertyAccessExpression(array) || kernelMemberOf(array)?.member?.kind !== "array") return undefined;
      const place = this.kernelPlace(array);
      const m = place.member as KernelArray;
      if (m.string) return fail(e, Code.Unsupported, `\`${array.getText(file)}\` is a Str<${m.length}>: strings cannot be indexed`);
      const core = { struct: place.root, members: place.members };
      const i = this.value(e.argumentExpression);
      if (i.op.kind === "imm") {
        const n = BigInt.asIntN(64, i.op.value);
        if (n < 0n || n >= BigInt(m.length)) fail(e.argumentExpression, Code.OutOfRange, `index ${n} is outside ${kernelArrayType(m)}`);
        return this.kernelRead(place, m.element, place.offset + Number(n) * m.element.size, { ...core, index: Number(n) }, e);
      }
      const idx = this.boundsCheck(i, m.length, e.argumentExpression);
      const off = this.fb.vreg(U64);
      this.fb.emit({ op: "bin", kind: "mul", dst: off, a: idx, b: imm(BigInt(m.element.size), U64), loc: locOf(e) });
      const at = this.fb.vreg(PTR);
      this.fb.emit({ op: "bin", kind: "add", dst: at, a: place.ptr, b: off, loc: locOf(e) });
      return this.kernelRead(place, m.element, place.offset, core, e, at);
    }

    field(format: TracepointFormat, e: TS.PropertyAccessExpression): Val {
      const f = this.recordField(format, e);
      const shape = f.shape!;
      if (shape.kind === "str" || shape.kind === "array" || shape.kind === "dynamic-str") {
        const use = shape.kind === "array" ? "index it (`" + e.getText(file) + "[0]`) or assign it to an Arr" : "assign it to a Str, print it with printk, or store it in a struct";
        return fail(e, Code.NotAnInteger, `\`${e.getText(file)}\` is a ${f.tsType} (${f.cType}), not an integer: ${use}`);
      }
      const type = shape.kind === "ptr" ? PTR : shape.bool ? BOOL : INT_TYPES[f.tsType!]!;
      const dst = this.fb.vreg(type);
      this.fb.emit({ op: "ctx", dst, offset: f.offset, size: f.size as 1 | 2 | 4 | 8, signed: f.signed, loc: locOf(e) });
      return { op: dst };
    }

    /** The field `e` names in a tracepoint record, if the compiler can read it. */
    recordField(format: TracepointFormat, e: TS.PropertyAccessExpression): TracepointField {
      const f: TracepointField | undefined = format.fields.find((x) => x.name === e.name.text);
      if (!f) return fail(e.name, Code.BadTracepointField, `${format.group}:${format.name} has no field \`${e.name.text}\``);
      if (!f.readable) fail(e.name, Code.BadTracepointField, `the kernel does not let tracepoint programs read the common field \`${f.name}\` (offset ${f.offset} < 8); use pidTgid() for the pid`);
      if (!f.shape) fail(e.name, Code.BadTracepointField, `field \`${f.name}\` (${f.cType}) has a type the compiler does not support yet`);
      return f;
    }

    /** `ctx.name` where ctx is a tracepoint handler's record parameter: the field, else undefined. */
    tracepointField(e: TS.Expression): TracepointField | undefined {
      if (!ts.isPropertyAccessExpression(e) || !ts.isIdentifier(e.expression)) return undefined;
      const symbol = checker.getSymbolAtLocation(e.expression);
      const b = symbol && this.scope.get(symbol);
      return b?.kind === "tpctx" ? this.recordField(b.format, e) : undefined;
    }

    /**
     * A fixed array field of the record (`char prev_comm[16]`) as memory: a stack copy, since helpers take no
     * pointers into the context. Copied in the widest loads the field's offset allows (the kernel insists on
     * aligned context reads).
     */
    recordArray(f: TracepointField, node: TS.Node): Ref | undefined {
      const shape = f.shape!;
      let layout: Layout;
      if (shape.kind === "str") layout = { kind: "str", size: shape.length, align: 1 };
      else if (shape.kind === "array") {
        const element = intLayout({ bits: (shape.element.size * 8) as 8 | 16 | 32 | 64, signed: shape.element.signed });
        layout = { kind: "array", element, length: shape.length, size: f.size, align: element.align };
      } else return undefined;
      const ref = layout.kind === "str" ? this.stringTemp(layout, node) : this.stackTemp(layout, node);
      for (let at = 0; at < f.size; ) {
        const n = ([8, 4, 2, 1] as const).find((c) => (f.offset + at) % c === 0 && at % c === 0 && at + c <= f.size)!;
        const v = this.fb.vreg(U64);
        this.fb.emit({ op: "ctx", dst: v, offset: f.offset + at, size: n, signed: false, loc: locOf(node) });
        this.fb.emit({ op: "st", base: ref.base, offset: at, size: n, src: v, loc: locOf(node) });
        at += n;
      }
      return ref;
    }

    /** `ctx.args[i]`: a constant index is one load from the record; a variable one indexes a stack copy. */
    recordElement(e: TS.ElementAccessExpression): Val | undefined {
      const f = this.tracepointField(e.expression);
      if (f?.shape?.kind !== "array") return undefined;
      const i = this.value(e.argumentExpression);
      if (i.op.kind !== "imm") return this.loadInt(this.elementAt(this.recordArray(f, e.expression)!, i, e.argumentExpression, e), e);
      const { element, length } = f.shape;
      const n = BigInt.asIntN(64, i.op.value);
      if (n < 0n || n >= BigInt(length)) fail(e.argumentExpression, Code.OutOfRange, `index ${n} is outside ${f.tsType}`);
      const dst = this.fb.vreg({ bits: (element.size * 8) as 8 | 16 | 32 | 64, signed: element.signed });
      this.fb.emit({ op: "ctx", dst, offset: f.offset + Number(n) * element.size, size: element.size, signed: element.signed, loc: locOf(e) });
      return { op: dst };
    }

    /**
     * The address of a `__data_loc` / `__rel_loc` string field's bytes: the record's address plus the low 16 bits
     * of the field's u32 (for __rel_loc, counted from the end of the u32). Undefined for other expressions.
     */
    dynamicString(e: TS.Expression): VReg | undefined {
      const f = this.tracepointField(e);
      if (f?.shape?.kind !== "dynamic-str") return undefined;
      const loc = locOf(e);
      const where = this.fb.vreg(U32);
      this.fb.emit({ op: "ctx", dst: where, offset: f.offset, size: 4, signed: false, loc });
      const offset = this.fb.vreg(U64);
      this.fb.emit({ op: "bin", kind: "and", dst: offset, a: where, b: imm(0xffffn, U64), loc });
      const base = f.shape.relative ? f.offset + f.size : 0;
      const p = this.fb.vreg({ ...PTR, pointee: "char" });
      this.fb.emit({ op: "bin", kind: "add", dst: p, a: this.fb.ctx, b: offset, loc });
      if (base) this.fb.emit({ op: "bin", kind: "add", dst: p, a: p, b: imm(BigInt(base), U64), loc });
      return p;
    }

    // ---- memory: structs, strings, arrays, maps

    /** A zeroed stack object for a value of `layout`; the frame holds at most 512 bytes. */
    temp(layout: Layout, node: TS.Node): Ref {
      const ref = this.stackTemp(layout, node);
      this.zero(ref, node);
      return ref;
    }

    /**
     * A stack object for a value of `layout`, left as it is (the caller fills every byte). Objects whose lifetimes do
     * not overlap share bytes (codegen/frame.ts), which is where a frame beyond BPF's 512 bytes is reported.
     */
    /**
     * A stack temporary for a string copied out of the kernel or a tracepoint's record, with a byte after it: printk
     * ends it there with a NUL (terminated), not in a copy.
     */
    stringTemp(layout: Layout & { kind: "str" }, node: TS.Node): Ref {
      const ref: Ref = { layout, base: { kind: "stack", object: this.fb.stackObject(align(layout.size + 1, 8), 8, locOf(node)) }, offset: 0 };
      endsWithRoom.add(ref);
      return ref;
    }

    stackTemp(layout: Layout, node: TS.Node): Ref {
      const size = align(layout.size, 8);
      if (size > 512) fail(node, Code.StackTooLarge, `this needs ${size} bytes of stack; BPF allows 512: keep large values in a map (a PerCpuArrayMap as scratch space) or reserve them in a ring buffer`);
      const object = this.fb.stackObject(size, 8, locOf(node));
      return { layout, base: { kind: "stack", object }, offset: 0 };
    }

    /**
     * A Str<N>'s text in a stack buffer of N + 1 bytes that ends with a NUL, for the kernel's %s, which reads to a NUL:
     * a Str that fills its N bytes has none (one read from user memory or a map), and %s would print what follows. Its
     * N bytes are copied as they are (bpf_probe_read_kernel_str would read a byte past them, which may not be mapped).
     */
    terminated(str: Ref, node: TS.Node): StackAddr {
      const n = str.layout.size;
      if (endsWithRoom.has(str)) {
        const base = str.base as StackAddr;
        this.fb.emit({ op: "st", base, offset: n, size: 1, src: imm(0n, U8), loc: locOf(node) });
        return base;
      }
      if (align(n + 1, 8) > 512) fail(node, Code.StackTooLarge, `printing this Str needs ${align(n + 1, 8)} bytes of stack; BPF allows 512: print it with printf(), which copies it into its record`);
      const object = this.fb.stackObject(align(n + 1, 8), 8, locOf(node));
      this.fb.emit({ op: "call", helper: Helper.probe_read_kernel, args: [{ kind: "stack", object }, imm(BigInt(n), U32), this.addrOf(str, node)], loc: locOf(node) });
      this.fb.emit({ op: "st", base: { kind: "stack", object }, offset: n, size: 1, src: imm(0n, U8), loc: locOf(node) });
      return { kind: "stack", object };
    }

    /** The address of a Ref's bytes, as a helper argument. */
    addrOf(r: Ref, node: TS.Node): CallArg {
      if (r.base.kind === "stack") return { kind: "stack", object: r.base.object, offset: (r.base.offset ?? 0) + r.offset };
      if (!r.offset) return r.base;
      const dst = this.fb.vreg(PTR);
      this.fb.emit({ op: "bin", kind: "add", dst, a: r.base, b: imm(BigInt(r.offset), U64), loc: locOf(node) });
      return dst;
    }

    loadInt(r: Ref, node: TS.Node): Val {
      if (r.layout.kind !== "int") return fail(node, Code.NotAnInteger, `\`${node.getText(file)}\` is ${aLayout(r.layout)}, not an integer`);
      const dst = this.fb.vreg(r.layout.type);
      this.fb.emit({ op: "load", dst, base: r.base, offset: r.offset, size: r.layout.size, signed: r.layout.type.signed, loc: locOf(node) });
      return { op: dst };
    }

    storeInt(r: Ref, v: Val, node: TS.Node): void {
      if (r.layout.kind !== "int") return fail(node, Code.NotAnInteger, `${aLayout(r.layout)} cannot hold an integer`);
      const type = r.layout.type;
      if (v.untyped && v.op.kind === "imm" && !fits(v.op.value, type)) fail(node, Code.OutOfRange, outOfRange(v.op.value, type));
      this.fb.emit({ op: "st", base: r.base, offset: r.offset, size: r.layout.size, src: this.convert(v, type).op, loc: locOf(node) });
    }

    /** Stores in the widest pieces the offsets' alignment allows: zeroes, or a copy of `src`. */
    chunks(dst: Ref, size: number, node: TS.Node, src?: Ref): void {
      for (let at = 0; at < size; ) {
        const c = ([8, 4, 2, 1] as const).find((n) => aligned(dst, at, n) && (!src || aligned(src, at, n)) && at + n <= size)!;
        let value: Operand = imm(0n, U64);
        if (src) {
          const t = this.fb.vreg(U64);
          this.fb.emit({ op: "load", dst: t, base: src.base, offset: src.offset + at, size: c, signed: false, loc: locOf(node) });
          value = t;
        }
        this.fb.emit({ op: "st", base: dst.base, offset: dst.offset + at, size: c, src: value, loc: locOf(node) });
        at += c;
      }
    }

    zero(r: Ref, node: TS.Node): void {
      this.chunks(r, r.base.kind === "stack" && r.offset === 0 ? align(r.layout.size, 8) : r.layout.size, node);
    }

    fieldRef(base: Ref, name: TS.MemberName | TS.StringLiteral): Ref {
      if (base.layout.kind === "str") return noStringProperty(name);
      if (base.layout.kind !== "struct") return fail(name, Code.Unsupported, `${aLayout(base.layout)} has no fields`);
      const f = base.layout.fields.find((x) => x.name === name.getText(file));
      if (!f) return fail(name, Code.Unsupported, `struct ${base.layout.name} has no field \`${name.getText(file)}\``);
      return { layout: f.layout, base: base.base, offset: base.offset + f.offset };
    }

    /** `a[i]`: a constant index is checked now; a variable one at run time (out of range ends the handler, returning 0). */
    elementRef(base: Ref, index: TS.Expression, node: TS.Node): Ref {
      if (base.layout.kind !== "array") return fail(node, Code.Unsupported, `only Arr<T, N> values can be indexed, not ${aLayout(base.layout)}`);
      return this.elementAt(base, this.value(index), index, node);
    }

    /** elementRef with the index already computed (`i`, from the expression `index`). */
    elementAt(base: Ref, i: Val, index: TS.Expression, node: TS.Node): Ref {
      if (base.layout.kind !== "array") return fail(node, Code.Unsupported, `only Arr<T, N> values can be indexed, not ${aLayout(base.layout)}`);
      const { element, length } = base.layout;
      if (i.op.kind === "imm") {
        const n = BigInt.asIntN(64, i.op.value);
        if (n < 0n || n >= BigInt(length)) fail(index, Code.OutOfRange, `index ${n} is outside Arr<..., ${length}>`);
        return { layout: element, base: base.base, offset: base.offset + Number(n) * element.size, ...(base.parameter && { parameter: base.parameter }) };
      }
      // Indexing a record (non-null, since it is accessed) that the out-of-range exit would leave reserved: the
      // verifier refuses a program that ends holding one, so that exit gives it back.
      const held = base.base.kind === "reg" && reservations.has(base.base) ? base.base : undefined;
      return this.elementBelow(base, this.boundsCheck(i, length, index, held), node);
    }

    /** The element at `idx` of an Arr value, `idx` known to be below its length (checked, or a loop's bound). */
    elementBelow(base: Ref, idx: Operand, node: TS.Node): Ref {
      if (base.layout.kind !== "array") return fail(node, Code.Unsupported, `only Arr<T, N> values can be indexed, not ${aLayout(base.layout)}`);
      const { element } = base.layout;
      let start: VReg;
      if (base.base.kind === "stack") {
        start = this.fb.vreg(PTR);
        this.fb.emit({ op: "addr", dst: start, object: base.base.object, offset: (base.base.offset ?? 0) + base.offset, loc: locOf(node) });
      } else start = this.addrOf(base, node) as VReg;
      const off = this.fb.vreg(U64);
      this.fb.emit({ op: "bin", kind: "mul", dst: off, a: idx, b: imm(BigInt(element.size), U64), loc: locOf(node) });
      const at = this.fb.vreg(PTR);
      this.fb.emit({ op: "bin", kind: "add", dst: at, a: start, b: off, loc: locOf(node) });
      if (base.base.kind === "stack" || stackAtRunTimeOffset.has(base.base)) stackAtRunTimeOffset.add(at);
      return { layout: element, base: at, offset: 0, ...(base.parameter && { parameter: base.parameter }) };
    }

    /** A variable index as u64, past a check that it is below `length` (out of range ends the handler, returning 0, having discarded `held`). */
    boundsCheck(i: Val, length: number, index: TS.Expression, held?: VReg): Operand {
      const idx = this.convert(i, U64).op;
      const ok = this.fb.newBlock();
      const trap = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "lt", signed: false, a: idx, b: imm(BigInt(length), U64), then: ok.id, else: trap.id, bounds: true, loc: locOf(index) });
      this.enter(trap);
      for (const r of new Set([held, this.filling])) if (r) this.fb.emit({ op: "call", helper: Helper.ringbuf_discard, args: [r, imm(0n, U64)], loc: locOf(index) });
      this.fb.terminate({ op: "ret", value: imm(0n, I64) });
      this.enter(ok);
      return idx;
    }

    mapOf(e: TS.Expression): MapInfo | undefined {
      if (!ts.isIdentifier(e)) return undefined;
      const symbol = checker.getSymbolAtLocation(e);
      const b = symbol && this.scope.get(symbol);
      if (b?.kind === "failed") throw new Abort();
      return b?.kind === "map" ? b.map : undefined;
    }

    /** The memory an expression denotes, if it denotes memory (emits code only for map lookups and reservations). */
    tryRef(e: TS.Expression): Ref | undefined {
      if (ts.isParenthesizedExpression(e)) return this.tryRef(e.expression);
      // An enum member is a number, not memory.
      if (enumMemberValue(e) !== undefined) return undefined;
      if (ts.isNonNullExpression(e)) {
        const r = this.tryRef(e.expression);
        if (r?.nullable) fail(e, Code.Unsupported, "`!` does not check for null, and the verifier insists on a check: test the value (`if (v !== null)`)");
        return r;
      }
      if (ts.isIdentifier(e)) {
        const symbol = ts.isShorthandPropertyAssignment(e.parent) && e.parent.name === e ? checker.getShorthandAssignmentValueSymbol(e.parent) : checker.getSymbolAtLocation(e);
        const b = symbol && this.scope.get(symbol);
        // A declaration already reported: its uses say nothing more.
        if (b?.kind === "failed") throw new Abort();
        if (b?.kind === "param" && b.array) return this.parameterArray(b, e);
        return b?.kind === "ref" ? b.ref : undefined;
      }
      if (ts.isPropertyAccessExpression(e)) {
        if (arrayLength(e) !== undefined) return undefined;
        const recorded = this.tracepointField(e);
        if (recorded) return this.recordArray(recorded, e);
        const base = this.tryRef(e.expression);
        if (!base) return kernelMemberOf(e)?.member?.kind === "array" ? this.kernelArrayCopy(e) : undefined;
        const f = this.fieldRef(base, e.name);
        return f.layout.kind === "int" ? undefined : f;
      }
      if (ts.isElementAccessExpression(e)) {
        // Record arrays hold integers only, kernel arrays integers or pointers: their elements are values, read
        // without copying the array (by recordElement and kernelElement).
        if (this.tracepointField(e.expression)) return undefined;
        if (ts.isPropertyAccessExpression(e.expression) && kernelMemberOf(e.expression)?.member?.kind === "array") return undefined;
        const base = this.tryRef(e.expression);
        if (!base || base.layout.kind !== "array" || base.layout.element.kind === "int") return undefined;
        return this.elementRef(base, e.argumentExpression, e);
      }
      if (ts.isCallExpression(e)) {
        const result = this.memoryCall(e);
        if (result) return result;
      }
      if (ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression)) {
        const m = this.mapOf(e.expression.expression);
        const method = e.expression.name.text;
        if (m && (method === "lookup" || method === "reserve")) return this.mapRefCall(m, method, e);
      }
      return undefined;
    }

    /** An l-value: a field or element of memory (integers included). */
    lvalue(target: TS.Expression): Ref {
      if (ts.isParenthesizedExpression(target)) return this.lvalue(target.expression);
      if (ts.isPropertyAccessExpression(target)) {
        const base = this.tryRef(target.expression);
        if (base) return this.fieldRef(base, target.name);
      }
      if (ts.isElementAccessExpression(target)) {
        const base = this.tryRef(target.expression);
        if (base) return this.elementRef(base, target.argumentExpression, target);
      }
      return fail(target, Code.Unsupported, ts.isPropertyAccessExpression(target) ? `\`${target.getText(file)}\` cannot be assigned: kernel memory and tracepoint records are read-only` : "only local variables, struct fields and array elements can be assigned");
    }

    /** A value in memory of `layout`: an existing Ref, or a zeroed stack copy of what `e` computes. */
    materialize(e: TS.Expression, layout: Layout, node: TS.Node): Ref {
      const filled = ts.isObjectLiteralExpression(e) || ts.isArrayLiteralExpression(e) || isChoice(e) || ts.isStringLiteral(e);
      if (layout.kind !== "int" && !filled && !this.stringCall(e) && !this.isDynamicString(e)) {
        const r = this.tryRef(e);
        if (!r) return fail(e, Code.NotAnInteger, `expected ${aLayout(layout)} here`);
        if (!sameLayout(r.layout, layout)) fail(e, Code.UnsupportedType, `expected ${aLayout(layout)}, got ${aLayout(r.layout)}`);
        return r;
      }
      return this.filledTemp(e, layout, node);
    }

    /** A zeroed stack copy of what `e` computes. */
    filledTemp(e: TS.Expression, layout: Layout, node: TS.Node): Ref {
      const r = this.temp(layout, node);
      this.assignInto(r, e);
      return r;
    }

    /**
     * `s = comm()`, `s = readUserStr(p)`, `s = "lit"`, `s = other` for a `let s: Str<N>`: its bytes are filled again,
     * zeroed first unless the source fills all N bytes itself (a literal is zero-padded, comm() pads; a probe read
     * ends at its NUL), so that equal strings stay equal map keys.
     */
    refillString(dst: Ref, e: TS.Expression): void {
      let bare = e;
      while (ts.isParenthesizedExpression(bare)) bare = bare.expression;
      if (!ts.isStringLiteralLike(bare) && this.stringCall(bare) !== "comm") this.zero(dst, e);
      this.assignInto(dst, e);
    }

    /** A `__data_loc` string field of a tracepoint record: copied into a Str<N> or printed, never bound as it is. */
    isDynamicString(e: TS.Expression): boolean {
      return this.tracepointField(e)?.shape?.kind === "dynamic-str";
    }

    /** The one argument of a helper reading at an address: a Ptr or all 64 bits of an integer (a u64 argument, `ctx.args[1]`). */
    address(call: TS.CallExpression, helper: string): Operand {
      const sized = helper === "readUser" || helper === "readKernel";
      if (call.arguments.length !== 1 && !(sized && call.arguments.length === 2)) fail(call, Code.UnsupportedCall, sized ? `${helper}() takes a pointer and, for a Str<N> or Arr<T, N>, a length in bytes` : `${helper}() takes one pointer`);
      const p = this.value(call.arguments[0]!);
      if (!p.untyped && !p.op.type.ptr && p.op.type.bits !== 64) {
        fail(call.arguments[0]!, Code.PointerAccess, `${helper}() reads at an address: \`${call.arguments[0]!.getText(file)}\` is ${withArticle(typeName(p.op.type))}, too narrow for one (use a Ptr or a u64)`);
      }
      return p.op;
    }

    /** `readUser<T>(p)` / `readKernel<T>(p)`: the helper and the layout of T, which must be written. */
    readCall(e: TS.Expression): { helper: number; layout: Layout } | undefined {
      if (!ts.isCallExpression(e)) return undefined;
      const name = builtin(e.expression);
      if (name !== "readUser" && name !== "readKernel") return undefined;
      const t = e.typeArguments?.[0];
      if (!t) return fail(e, Code.MissingType, `${name}() needs the type it reads: \`${name}<u64>(p)\`, or a struct's interface`);
      return { helper: name === "readUser" ? Helper.probe_read_user : Helper.probe_read_kernel, layout: layoutOf(t) };
    }

    /** A `readUser<T>(p)` / `readKernel<T>(p)` into a stack value of its own. */
    memoryRead(e: TS.CallExpression): Ref | undefined {
      const read = this.readCall(e);
      if (!read) return undefined;
      // The helper writes every byte of T (zeroes where the read faults); only the slot's tail past T needs zeroing,
      // or all of it for a read of a length, which writes only that many bytes.
      const sized = e.arguments.length > 1;
      const into = read.layout.size % 8 || sized ? this.temp(read.layout, e) : this.stackTemp(read.layout, e);
      this.readInto(into, read, e, sized);
      // readUser<boolean>: the byte read compared with zero, so a 2 reads as true (=== true too), as a boolean holds only 0 or 1.
      if (read.layout.kind === "int" && read.layout.type.bool) this.storeInt(into, this.convert({ op: this.loadInt({ ...into, layout: intLayout(U8) }, e).op }, BOOL), e);
      return into;
    }

    /** The read of `e` into `dst`; `zeroed` when dst holds zeroes already (a read of a length leaves the rest as it is). */
    readInto(dst: Ref, read: { helper: number; layout: Layout }, e: TS.CallExpression, zeroed = false): void {
      const p = this.address(e, builtin(e.expression)!);
      const length = e.arguments[1];
      const size = length ? this.readLength(read.layout, length, e) : imm(BigInt(read.layout.size), U32);
      // Bytes past the length read are zero, as a Str<N> ends at its first NUL and an Arr read whole would be.
      if (length && !zeroed) this.zero(dst, e);
      this.fb.emit({ op: "call", helper: read.helper, args: [this.addrOf(dst, e), size, p], loc: locOf(e) });
    }

    /**
     * `readUser<Str<N>>(p, len)`'s byte count: len clamped to [0, N], which the verifier must see bounded (the
     * helper's size is checked against the destination). A negative signed length reads nothing.
     */
    readLength(layout: Layout, length: TS.Expression, e: TS.CallExpression): Operand {
      const name = builtin(e.expression)!;
      if (layout.kind !== "str" && layout.kind !== "array") return fail(length, Code.UnsupportedCall, `${name}() of ${aLayout(layout)} reads all of it: a length is for a Str<N> or an Arr<T, N> (read at most that many bytes)`);
      const max = BigInt(layout.size);
      const v = this.value(length);
      if (v.op.kind === "imm") {
        const n = v.op.type.signed ? BigInt.asIntN(64, v.op.value) : v.op.value;
        if (n < 0n || n > max) fail(length, Code.OutOfRange, `a length of ${n} bytes is outside ${aLayout(layout)} (0 to ${max})`);
        return imm(n, U32);
      }
      const n = this.fb.vreg(U64);
      this.fb.emit({ op: "mov", dst: n, src: this.convert(v, v.op.type.signed ? I64 : U64).op, loc: locOf(length) });
      const [clamp, done] = [this.fb.newBlock(), this.fb.newBlock()];
      const toZero = v.op.type.signed ? this.fb.newBlock() : undefined;
      if (toZero) {
        const high = this.fb.newBlock();
        this.fb.terminate({ op: "br", cmp: "lt", signed: true, a: n, b: imm(0n, I64), then: toZero.id, else: high.id, bounds: true, loc: locOf(length) });
        this.enter(toZero);
        this.fb.emit({ op: "mov", dst: n, src: imm(0n, U64), loc: locOf(length) });
        this.fb.terminate({ op: "jmp", target: done.id });
        this.enter(high);
      }
      this.fb.terminate({ op: "br", cmp: "gt", signed: false, a: n, b: imm(max, U64), then: clamp.id, else: done.id, bounds: true, loc: locOf(length) });
      this.enter(clamp);
      this.fb.emit({ op: "mov", dst: n, src: imm(max, U64), loc: locOf(length) });
      this.fb.terminate({ op: "jmp", target: done.id });
      this.enter(done);
      return n;
    }

    /** comm(), readUserStr(p), readKernelStr(p): helpers that fill a Str<N>. */
    stringCall(e: TS.Expression): string | undefined {
      if (!ts.isCallExpression(e)) return undefined;
      const name = builtin(e.expression);
      return name === "comm" || name === "readUserStr" || name === "readKernelStr" ? name : undefined;
    }

    /** dst = e, for every kind of memory. */
    assignInto(dst: Ref, e: TS.Expression): void {
      if (ts.isParenthesizedExpression(e)) return this.assignInto(dst, e.expression);
      const l = dst.layout;
      if (l.kind === "int") return this.storeInt(dst, this.value(e), e);
      if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken) {
        // `m.lookup(k) ?? { ... }`: the element's bytes where the lookup found one, else the right side.
        const src = this.tryRef(e.left);
        if (src?.nullable && src.base.kind === "reg") {
          if (!sameLayout(src.layout, l)) return fail(e.left, Code.UnsupportedType, `${aLayout(src.layout)} cannot be assigned to ${aLayout(l)}`);
          const [found, missing, done] = [this.fb.newBlock(), this.fb.newBlock(), this.fb.newBlock()];
          this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: src.base, b: imm(0n, PTR), then: found.id, else: missing.id, loc: locOf(e) });
          this.enter(found);
          this.chunks(dst, l.size, e.left, { ...src, nullable: false });
          this.fb.terminate({ op: "jmp", target: done.id });
          this.enter(missing);
          this.assignInto(dst, e.right);
          this.fb.terminate({ op: "jmp", target: done.id });
          return this.enter(done);
        }
      }
      if (ts.isConditionalExpression(e)) {
        // `c ? "big" : "small"`: each branch fills the value.
        const [whenTrue, whenFalse, done] = [this.fb.newBlock(), this.fb.newBlock(), this.fb.newBlock()];
        this.cond(e.condition, whenTrue, whenFalse);
        for (const [block, branch] of [[whenTrue, e.whenTrue], [whenFalse, e.whenFalse]] as const) {
          this.enter(block);
          this.assignInto(dst, branch);
          this.fb.terminate({ op: "jmp", target: done.id });
        }
        return this.enter(done);
      }
      if (ts.isObjectLiteralExpression(e)) {
        if (l.kind !== "struct") return fail(e, Code.UnsupportedType, `an object literal cannot be ${aLayout(l)}`);
        for (const p of e.properties) {
          if (ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) this.assignInto(this.fieldRef(dst, p.name), p.initializer);
          else if (ts.isShorthandPropertyAssignment(p)) this.assignInto(this.fieldRef(dst, p.name), p.name);
          else fail(p, Code.Unsupported, "object literals hold `name: value` and `name` properties only");
        }
        return;
      }
      if (ts.isArrayLiteralExpression(e)) {
        if (l.kind !== "array") return fail(e, Code.UnsupportedType, `an array literal cannot be ${aLayout(l)}`);
        if (e.elements.length > l.length) fail(e, Code.OutOfRange, `${e.elements.length} elements do not fit in Arr<..., ${l.length}>`);
        if (e.elements.length < l.length) this.zero(dst, e);
        e.elements.forEach((x, i) => this.assignInto({ layout: l.element, base: dst.base, offset: dst.offset + i * l.element.size }, x));
        return;
      }
      const helper = this.stringCall(e);
      if (helper) {
        if (l.kind !== "str") return fail(e, Code.UnsupportedType, `${helper}() gives a string: assign it to a Str<N>, not ${aLayout(l)}`);
        const call = e as TS.CallExpression;
        const where = this.addrOf(dst, e);
        if (helper === "comm") {
          if (call.arguments.length) fail(call.arguments[0]!, Code.UnsupportedCall, "comm() takes no arguments");
          this.fb.emit({ op: "call", helper: Helper.get_current_comm, args: [where, imm(BigInt(l.size), U32)], loc: locOf(e) });
          return;
        }
        if (call.arguments.length !== 1) fail(call, Code.UnsupportedCall, `${helper}() takes one pointer`);
        const p = this.address(call, helper);
        const id = helper === "readUserStr" ? Helper.probe_read_user_str : Helper.probe_read_kernel_str;
        this.fb.emit({ op: "call", helper: id, args: [where, imm(BigInt(l.size), U32), p], loc: locOf(e) });
        return;
      }
      if (this.isDynamicString(e)) {
        if (l.kind !== "str") return fail(e, Code.UnsupportedType, `\`${e.getText(file)}\` is a string: assign it to a Str<N>, not ${aLayout(l)}`);
        const src = this.dynamicString(e)!;
        this.fb.emit({ op: "call", helper: Helper.probe_read_kernel_str, args: [this.addrOf(dst, e), imm(BigInt(l.size), U32), src], loc: locOf(e) });
        return;
      }
      // A literal, or a module-level string constant (`const NAME = "bash"`).
      const text = ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e) ? e.text : ts.isIdentifier(e) ? this.formatText(e) : undefined;
      if (text !== undefined) {
        if (l.kind !== "str") return fail(e, Code.UnsupportedType, `a string cannot be ${aLayout(l)}`);
        const bytes = new TextEncoder().encode(text);
        if (bytes.length >= l.size) fail(e, Code.OutOfRange, `"${text}" needs ${bytes.length + 1} bytes; the Str holds ${l.size}`);
        this.zero(dst, e);
        bytes.forEach((b, i) => this.fb.emit({ op: "st", base: dst.base, offset: dst.offset + i, size: 1, src: imm(BigInt(b), U8), loc: locOf(e) }));
        return;
      }
      const read = this.readCall(e);
      if (read) {
        if (!sameLayout(read.layout, l)) return fail(e, Code.UnsupportedType, `${aLayout(read.layout)} cannot be assigned to ${aLayout(l)}`);
        return this.readInto(dst, read, e as TS.CallExpression);
      }
      // A kernel array stored to the stack is read straight into place, as clang reads into an event's field.
      if (dst.base.kind === "stack" && ts.isPropertyAccessExpression(e) && kernelMemberOf(e)?.member?.kind === "array") return void this.kernelArrayCopy(e, dst);
      const src = this.tryRef(e);
      if (!src) return fail(e, Code.NotAnInteger, `expected ${aLayout(l)} here`);
      if (!sameLayout(src.layout, l)) return fail(e, Code.UnsupportedType, `${aLayout(src.layout)} cannot be assigned to ${aLayout(l)}`);
      this.chunks(dst, l.size, e, src);
    }

    /** lookup() and reserve(): a pointer the caller must test for null. */
    /**
     * `ring.output({...})` of a record larger than OUTPUT_IN_PLACE: built in a reservation, as reserve() and submit()
     * would, rather than on the stack, which a record of half its 512 bytes leaves little of. The result is 0, or -1
     * when the full ring dropped the record (counted, as output()'s failure is).
     */
    outputInPlace(m: MapInfo, value: TS.Expression, e: TS.CallExpression): Val {
      const record = this.reserve(m, e);
      const sent = this.fb.vreg(I64);
      const filled = this.fb.newBlock();
      const join = this.fb.newBlock();
      this.fb.emit({ op: "mov", dst: sent, src: imm(-1n, I64), loc: locOf(e) });
      this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: record.base as VReg, b: imm(0n, PTR), then: filled.id, else: join.id });
      this.enter(filled);
      // An index out of range in the value ends the handler: it gives the record back on the way.
      const outer = this.filling;
      this.filling = record.base as VReg;
      this.assignInto({ ...record, nullable: false }, value);
      this.filling = outer;
      this.fb.emit({ op: "call", helper: Helper.ringbuf_submit, args: [record.base as VReg, imm(0n, U64)], loc: locOf(e) });
      this.fb.emit({ op: "mov", dst: sent, src: imm(0n, I64), loc: locOf(e) });
      this.fb.terminate({ op: "jmp", target: join.id });
      this.enter(join);
      return { op: sent };
    }

    mapRefCall(m: MapInfo, method: "lookup" | "reserve", e: TS.CallExpression): Ref {
      const map = { kind: "map" as const, name: m.def.name };
      const dst = this.fb.vreg(PTR);
      if (method === "lookup") {
        if (!m.key || !m.value) return fail(e, Code.BadMap, `${m.cls} has no lookup()`);
        if (e.arguments.length !== 1) fail(e, Code.BadMap, "lookup() takes a key");
        const key = this.materialize(e.arguments[0]!, m.key, e);
        this.fb.emit({ op: "call", helper: Helper.map_lookup_elem, args: [map, this.addrOf(key, e)], dst, loc: locOf(e) });
        return { layout: m.value, base: dst, offset: 0, nullable: true };
      }
      if (m.cls !== "RingBuf") return fail(e, Code.BadMap, "reserve() is a RingBuf method");
      if (e.arguments.length) fail(e.arguments[0]!, Code.BadMap, "reserve() takes no arguments");
      return this.reserve(m, e);
    }

    /** A zeroed record reserved in ring buffer `m`, or null (counted as dropped) when the ring is full. */
    reserve(m: MapInfo, e: TS.CallExpression): Ref {
      const map = { kind: "map" as const, name: m.def.name };
      const dst = this.fb.vreg(PTR);
      this.fb.emit({ op: "call", helper: Helper.ringbuf_reserve, args: [map, imm(BigInt(m.value!.size), U64), imm(0n, U64)], dst, loc: locOf(e) });
      reservations.add(dst);
      // The record starts zeroed, so padding and unset fields never leak kernel memory to user space. A full ring
      // (no record) counts one dropped, which tsbpf run says.
      const join = this.fb.newBlock();
      this.unlessDropped(m.def.name, dst, join, e);
      const ref: Ref = { layout: m.value!, base: dst, offset: 0, nullable: true };
      this.zero(ref, e);
      this.fb.terminate({ op: "jmp", target: join.id });
      this.enter(join);
      return ref;
    }

    /** Map methods that give an integer (or nothing). */
    mapCall(m: MapInfo, method: string, e: TS.CallExpression): Val {
      const map = { kind: "map" as const, name: m.def.name };
      const args = e.arguments;
      const result = (helper: number, callArgs: CallArg[]): Val => {
        const dst = this.fb.vreg(I64);
        this.fb.emit({ op: "call", helper, args: callArgs, dst, loc: locOf(e) });
        return { op: dst };
      };
      const none: Val = { op: imm(0n, I64) };
      if (method === "print" || method === "clear") {
        if (args.length) fail(args[0]!, Code.BadMap, `${method}() takes no arguments`);
        if (!actionTargets.includes(m.def.name)) actionTargets.push(m.def.name);
        this.action(ACTIONS[method], { op: imm(BigInt(actionTargets.indexOf(m.def.name)), U32) }, e);
        return none;
      }
      if (m.def.aggregate) {
        const adds = m.def.aggregate === "count" ? "increment" : "record";
        if (method !== adds) return fail(e.expression, Code.BadMap, `${m.cls} has the methods ${adds}(), print() and clear()`);
        this.aggregate(m, m.def.aggregate, e);
        return none;
      }
      const keyed = !["RingBuf", "PerfEventArray", "StackTraceMap", "Histogram", "LinearHistogram"].includes(m.cls);
      switch (keyed ? method : `${m.cls}.${method}`) {
        case "update": {
          if (args.length < 2 || args.length > 3) fail(e, Code.BadMap, "update() takes a key, a value and optionally flags (ANY, NOEXIST, EXIST)");
          const key = this.materialize(args[0]!, m.key!, e);
          const value = this.materialize(args[1]!, m.value!, e);
          const flags = args[2] ? this.convert(this.value(args[2]), U64).op : imm(0n, U64);
          return result(Helper.map_update_elem, [map, this.addrOf(key, e), this.addrOf(value, e), flags]);
        }
        case "delete": {
          if (m.cls === "ArrayMap" || m.cls === "PerCpuArrayMap") fail(e, Code.BadMap, "array map elements cannot be deleted (update them to zero)");
          if (args.length !== 1) fail(e, Code.BadMap, "delete() takes a key");
          const key = this.materialize(args[0]!, m.key!, e);
          return result(Helper.map_delete_elem, [map, this.addrOf(key, e)]);
        }
        case "increment": {
          if (args.length < 1 || args.length > 2) fail(e, Code.BadMap, "increment() takes a key and optionally the amount");
          const l = m.value!;
          if (l.kind !== "int" || l.size < 4) return fail(e, Code.BadMap, "increment() needs a map whose values are 32- or 64-bit integers");
          const key = this.materialize(args[0]!, m.key!, e);
          const by = args[1] ? this.convert(this.value(args[1]), l.type).op : imm(1n, l.type);
          this.increment(map, key, l, by, m.cls === "ArrayMap" || m.cls === "PerCpuArrayMap", e);
          return none;
        }
        case "RingBuf.output": {
          if (args.length !== 1) fail(e, Code.BadMap, "output() takes the value to send");
          if (m.value!.size > OUTPUT_IN_PLACE && isBuilt(args[0]!)) return this.outputInPlace(m, args[0]!, e);
          const v = this.materialize(args[0]!, m.value!, e);
          // The result is negative when the full ring dropped the record, which is counted (tsbpf run says it) and
          // given to the probe.
          const sent = result(Helper.ringbuf_output, [map, this.addrOf(v, e), imm(BigInt(m.value!.size), U64), imm(0n, U64)]);
          this.countFailed(m.def.name, sent.op as VReg, e);
          return sent;
        }
        case "RingBuf.submit":
        case "RingBuf.discard": {
          const r = args.length === 1 ? this.tryRef(args[0]!) : undefined;
          if (!r || r.base.kind !== "reg" || r.offset !== 0) return fail(e, Code.BadMap, `${method}() takes a record reserve() gave`);
          this.fb.emit({ op: "call", helper: method === "submit" ? Helper.ringbuf_submit : Helper.ringbuf_discard, args: [r.base, imm(0n, U64)], loc: locOf(e) });
          return none;
        }
        case "PerfEventArray.output": {
          if (args.length !== 1) fail(e, Code.BadMap, "output() takes the value to send");
          const v = this.materialize(args[0]!, m.value!, e);
          return result(Helper.perf_event_output, [this.fb.ctx, map, imm(BPF_F_CURRENT_CPU, U64), this.addrOf(v, e), imm(BigInt(m.value!.size), U64)]);
        }
        case "StackTraceMap.getStackId": {
          if (args.length > 1) fail(e, Code.BadMap, "getStackId() takes only flags (USER_STACK, ...)");
          const flags = args[0] ? this.convert(this.value(args[0]), U64).op : imm(0n, U64);
          return result(Helper.get_stackid, [this.fb.ctx, map, flags]);
        }
        case "LinearHistogram.record": {
          if (!m.histogramKey) {
            if (args.length !== 1) fail(e, Code.BadMap, "record() takes the value to count (`new LinearHistogram<K>(min, max, step, maxKeys)` keeps one histogram per key)");
            this.linearHistogram(map, m.def.linear!, this.value(args[0]!), e);
            return none;
          }
          if (args.length !== 2) fail(e, Code.BadMap, "record() of a keyed LinearHistogram takes the key and the value to count");
          const key = this.temp(m.key!, e);
          this.assignInto({ ...key, layout: m.histogramKey }, args[0]!);
          this.linearHistogram(map, m.def.linear!, this.value(args[1]!), e, key);
          return none;
        }
        case "Histogram.record": {
          if (!m.histogramKey) {
            if (args.length !== 1) fail(e, Code.BadMap, "record() takes the value to count (`new Histogram<K>(maxKeys)` keeps one histogram per key)");
            this.histogram(map, this.value(args[0]!), e);
            return none;
          }
          if (args.length !== 2) fail(e, Code.BadMap, "record() of a keyed Histogram takes the key and the value to count");
          const key = this.temp(m.key!, e);
          this.assignInto({ ...key, layout: m.histogramKey }, args[0]!);
          this.histogram(map, this.value(args[1]!), e, key);
          return none;
        }
      }
      return fail(e.expression, Code.BadMap, `${m.cls} has no method ${method}() the compiler supports`);
    }

    /** Lookup-or-insert, then an atomic add: `*lookup(key) += by`, inserting `by` when the key is new. */
    increment(map: { kind: "map"; name: string }, key: Ref | CallArg, l: Layout & { kind: "int" }, by: Operand, array: boolean, node: TS.Node): void {
      const keyAddr = "layout" in key ? this.addrOf(key, node) : key;
      const done = this.fb.newBlock();
      const add = (p: VReg): void => {
        this.fb.emit({ op: "atomic", ptr: p, offset: 0, size: l.size as 4 | 8, src: by, loc: locOf(node) });
        this.fb.terminate({ op: "jmp", target: done.id });
      };
      const lookup = (): [VReg, Block, Block] => {
        const p = this.fb.vreg(PTR);
        this.fb.emit({ op: "call", helper: Helper.map_lookup_elem, args: [map, keyAddr], dst: p, loc: locOf(node) });
        const found = this.fb.newBlock();
        const missing = this.fb.newBlock();
        this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: p, b: imm(0n, PTR), then: found.id, else: missing.id });
        return [p, found, missing];
      };
      const [p, found, missing] = lookup();
      this.enter(found);
      add(p);
      this.enter(missing);
      if (array) {
        this.fb.terminate({ op: "jmp", target: done.id });
      } else {
        // Insert `by` if no other CPU did meanwhile; if one did (the update fails), add to its element.
        const init = this.temp(l, node);
        this.fb.emit({ op: "st", base: init.base, offset: 0, size: l.size, src: by, loc: locOf(node) });
        const r = this.fb.vreg(I64);
        this.fb.emit({ op: "call", helper: Helper.map_update_elem, args: [map, keyAddr, this.addrOf(init, node), imm(1n, U64)], dst: r, loc: locOf(node) });
        const retry = this.fb.newBlock();
        this.fb.terminate({ op: "br", cmp: "eq", signed: false, a: r, b: imm(0n, I64), then: done.id, else: retry.id });
        this.enter(retry);
        const [p2, found2, missing2] = lookup();
        this.enter(found2);
        add(p2);
        this.enter(missing2);
        this.fb.terminate({ op: "jmp", target: done.id });
      }
      this.enter(done);
    }

    /**
     * Count.increment([key]) and Sum/Avg/Min/Max/Stats.record([key,] v): this CPU's value under the key (a new key
     * inserted zeroed, then looked up again) updated in place without atomics, as bpftrace updates them: only this
     * CPU ever touches it.
     */
    aggregate(m: MapInfo, kind: Aggregate, e: TS.CallExpression): void {
      const args = e.arguments;
      const keyed = m.def.type !== MAP_TYPES.PerCpuArrayMap;
      const valued = kind !== "count";
      if (args.length !== (keyed ? 1 : 0) + (valued ? 1 : 0)) {
        if (!valued) fail(e, Code.BadMap, keyed ? `increment() of a keyed Count takes the key` : `increment() of a Count without a key type takes nothing (\`new Count<K>(maxKeys)\` keeps one per key)`);
        fail(e, Code.BadMap, keyed ? `record() of a keyed ${m.cls} takes the key and the value` : `record() takes the value (\`new ${m.cls}<K>(maxKeys)\` keeps one per key)`);
      }
      const loc = locOf(e);
      const map = { kind: "map" as const, name: m.def.name };
      const keyAddr = this.addrOf(keyed ? this.materialize(args[0]!, m.key!, e) : this.temp(m.key!, e), e);
      let x: Operand = imm(0n, I64);
      if (valued) {
        const arg = args[args.length - 1]!;
        const v = this.value(arg);
        if (v.op.type.ptr) fail(arg, Code.NotAnInteger, `${m.cls} records integers, not pointers`);
        x = this.convert(v, I64).op;
      }
      const p = this.fb.vreg(PTR);
      const found = this.fb.newBlock();
      const done = this.fb.newBlock();
      const lookup = (missing: Block): void => {
        this.fb.emit({ op: "call", helper: Helper.map_lookup_elem, args: [map, keyAddr], dst: p, loc });
        this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: p, b: imm(0n, PTR), then: found.id, else: missing.id });
      };
      const missing = keyed ? this.fb.newBlock() : done;
      lookup(missing);
      if (keyed) {
        this.enter(missing);
        // BPF_NOEXIST: whichever CPU inserts first wins, and its values are the others' zeroes. A full map leaves no value.
        const initial = this.temp(m.value!, e);
        this.fb.emit({ op: "call", helper: Helper.map_update_elem, args: [map, keyAddr, this.addrOf(initial, e), imm(1n, U64)], loc });
        lookup(done);
      }
      this.enter(found);
      const field = (offset: number, type: IntType): VReg => {
        const dst = this.fb.vreg(type);
        this.fb.emit({ op: "load", dst, base: p, offset, size: 8, signed: type.signed, loc });
        return dst;
      };
      const store = (offset: number, src: Operand): void => this.fb.emit({ op: "st", base: p, offset, size: 8, src, loc });
      if (kind !== "min" && kind !== "max") {
        const count = field(0, U64);
        this.fb.emit({ op: "bin", kind: "add", dst: count, a: count, b: imm(1n, U64), loc });
        store(0, count);
        // A count's total would only repeat its count.
        if (kind !== "count") {
          const total = field(8, I64);
          this.fb.emit({ op: "bin", kind: "add", dst: total, a: total, b: x, loc });
          store(8, total);
        }
        this.fb.terminate({ op: "jmp", target: done.id });
      } else {
        // The first value this CPU sees, or one beyond its extremum, becomes the extremum.
        const replace = this.fb.newBlock();
        const compare = this.fb.newBlock();
        this.fb.terminate({ op: "br", cmp: "eq", signed: false, a: field(8, U64), b: imm(0n, U64), then: replace.id, else: compare.id, loc });
        this.enter(compare);
        this.fb.terminate({ op: "br", cmp: kind === "min" ? "lt" : "gt", signed: true, a: x, b: field(0, I64), then: replace.id, else: done.id, loc });
        this.enter(replace);
        store(0, x);
        store(8, imm(1n, U64));
        this.fb.terminate({ op: "jmp", target: done.id });
      }
      this.enter(done);
    }

    /** lhist.record(v): slot 0 below min, 1 + (v - min) / step up to max, the last slot from max up; then an add of 1. */
    /** lhist.record(v): the slot of v (0 below min, then one per step, the last from max up), counted as histogram() counts. */
    linearHistogram(map: { kind: "map"; name: string }, linear: { min: bigint; max: bigint; step: bigint }, v: Val, node: TS.Node, keyed?: Ref): void {
      const loc = locOf(node);
      const type = v.untyped ? I64 : promote(v.op.type).bits === 64 ? promote(v.op.type) : I64;
      const x = this.convert(v, type).op;
      const last = (linear.max - linear.min + linear.step - 1n) / linear.step + 1n;
      const slot = this.fb.vreg(U64);
      const found = this.fb.newBlock();
      const below = this.fb.newBlock();
      const notBelow = this.fb.newBlock();
      const above = this.fb.newBlock();
      const inside = this.fb.newBlock();
      // A u64 below a negative min cannot be: compare it as signed only when min is negative.
      const signed = type.signed || linear.min < 0n;
      this.fb.terminate({ op: "br", cmp: "lt", signed, a: x, b: imm(linear.min, type), then: below.id, else: notBelow.id, loc });
      this.enter(below);
      this.fb.emit({ op: "mov", dst: slot, src: imm(0n, U64), loc });
      this.fb.terminate({ op: "jmp", target: found.id });
      this.enter(notBelow);
      this.fb.terminate({ op: "br", cmp: "ge", signed, a: x, b: imm(linear.max, type), then: above.id, else: inside.id, loc });
      this.enter(above);
      this.fb.emit({ op: "mov", dst: slot, src: imm(last, U64), loc });
      this.fb.terminate({ op: "jmp", target: found.id });
      this.enter(inside);
      // min <= x < max: the offset from min is non-negative, so an unsigned division.
      const offset = this.fb.vreg(U64);
      this.fb.emit({ op: "bin", kind: "sub", dst: offset, a: x, b: imm(BigInt.asUintN(64, linear.min), U64), loc });
      this.fb.emit({ op: "bin", kind: "div", dst: offset, a: offset, b: imm(linear.step, U64), loc });
      this.fb.emit({ op: "bin", kind: "add", dst: slot, a: offset, b: imm(1n, U64), loc });
      this.fb.terminate({ op: "jmp", target: found.id });
      this.enter(found);
      this.countSlot(map, slot, node, keyed);
    }

    /**
     * hist.record(v): slot 0 for 0, k for [2^(k-1), 2^k), 65 for negative values; then an atomic add of 1 to the
     * slot's entry, or to the entry of `keyed` (a keyed Histogram's `{ key, slot }`, its key already written).
     */
    histogram(map: { kind: "map"; name: string }, v: Val, node: TS.Node, keyed?: Ref): void {
      const loc = locOf(node);
      const slot = this.fb.vreg(U64);
      const x = this.fb.vreg(U64);
      const found = this.fb.newBlock();
      if (v.op.kind === "imm") {
        const n = BigInt.asIntN(64, v.op.value);
        const value = n < 0n && (v.untyped || v.op.type.signed) ? 65n : BigInt(BigInt.asUintN(64, v.op.value).toString(2).length) - (v.op.value === 0n ? 1n : 0n);
        this.fb.emit({ op: "mov", dst: slot, src: imm(value, U64), loc });
        this.fb.terminate({ op: "jmp", target: found.id });
      } else {
        const positive = this.fb.newBlock();
        if (v.op.type.signed) {
          const negative = this.fb.newBlock();
          this.fb.terminate({ op: "br", cmp: "lt", signed: true, a: v.op, b: imm(0n, v.op.type), then: negative.id, else: positive.id, loc });
          this.enter(negative);
          this.fb.emit({ op: "mov", dst: slot, src: imm(65n, U64), loc });
          this.fb.terminate({ op: "jmp", target: found.id });
        } else this.fb.terminate({ op: "jmp", target: positive.id });
        this.enter(positive);
        this.fb.emit({ op: "mov", dst: x, src: this.convert(v, U64).op, loc });
        this.fb.emit({ op: "mov", dst: slot, src: imm(0n, U64), loc });
        const search = this.fb.newBlock();
        this.fb.terminate({ op: "br", cmp: "eq", signed: false, a: x, b: imm(0n, U64), then: found.id, else: search.id, loc });
        this.enter(search);
        // Binary search for the highest set bit: slot = floor(log2 x) + 1.
        this.fb.emit({ op: "mov", dst: slot, src: imm(1n, U64), loc });
        for (const shift of [32n, 16n, 8n, 4n, 2n, 1n]) {
          const big = this.fb.newBlock();
          const next = this.fb.newBlock();
          this.fb.terminate({ op: "br", cmp: "ge", signed: false, a: x, b: imm(1n << shift, U64), then: big.id, else: next.id, loc });
          this.enter(big);
          this.fb.emit({ op: "bin", kind: "add", dst: slot, a: slot, b: imm(shift, U64), loc });
          this.fb.emit({ op: "bin", kind: "shr", dst: x, a: x, b: imm(shift, U32), loc });
          this.fb.terminate({ op: "jmp", target: next.id });
          this.enter(next);
        }
        this.fb.terminate({ op: "jmp", target: found.id });
      }
      this.enter(found);
      this.countSlot(map, slot, node, keyed);
    }

    /** Adds 1 to `slot`'s count: an array map's entry, or a keyed histogram's `{ key, slot }` (its key already written). */
    countSlot(map: { kind: "map"; name: string }, slot: VReg, node: TS.Node, keyed?: Ref): void {
      const key = keyed ? { ...keyed, layout: intLayout(U32), offset: keyed.offset + (keyed.layout as Layout & { kind: "struct" }).fields[1]!.offset } : this.temp(intLayout(U32), node);
      this.fb.emit({ op: "st", base: key.base, offset: key.offset, size: 4, src: slot, loc: locOf(node) });
      this.increment(map, keyed ?? key, intLayout(U64) as Layout & { kind: "int" }, imm(1n, U64), !keyed, node);
    }

    /** The call's result when `e` calls a module-level function returning a struct, Str or Arr: a zeroed stack value it fills. */
    memoryCall(e: TS.CallExpression): Ref | undefined {
      // An integer read is a value (value() emits it): emitting it here too would call the helper twice.
      const read = this.readCall(e);
      if (read) return read.layout.kind === "int" ? undefined : this.memoryRead(e);
      const symbol = ts.isIdentifier(e.expression) ? checker.getSymbolAtLocation(e.expression) : undefined;
      const decl = symbol && functions.get(symbol);
      if (decl && !decl.type) {
        const sig = checker.getSignatureFromDeclaration(decl);
        const ret = sig && checker.getReturnTypeOfSignature(sig);
        const scalar = ts.TypeFlags.NumberLike | ts.TypeFlags.BooleanLike | ts.TypeFlags.Void | ts.TypeFlags.Undefined | ts.TypeFlags.Any;
        if (ret && !(ret.flags & scalar)) fail(decl.name ?? decl, Code.MissingType, `\`${e.expression.getText(file)}\` returns a value: annotate its return type (u8..i64, boolean, a struct's interface, Str<N>, Arr<T, N>)`);
      }
      if (decl?.type && withoutNull(decl.type) !== decl.type) {
        // `T | null`: the function gives a pointer (a lookup, a reservation) or null, as C's `struct val *get(...)`.
        const pointer = this.fb.vreg(PTR);
        const ref: Ref = { layout: layoutOf(withoutNull(decl.type)), base: pointer, offset: 0, nullable: true };
        this.fb.emit({ op: "mov", dst: pointer, src: imm(0n, PTR), loc: locOf(e) });
        this.inlineCall(decl, e, ref);
        return ref;
      }
      const layout = decl?.type && decl.type.kind !== ts.SyntaxKind.VoidKeyword ? layoutOf(decl.type) : undefined;
      if (!decl || !layout || layout.kind === "int") return undefined;
      const into = this.temp(layout, e);
      this.inlineCall(decl, e, into);
      return into;
    }

    /** `return x` in a function typed `T | null`: its pointer register takes x's address, or 0 for null. */
    returnPointer(pointer: Ref, e: TS.Expression): void {
      const base = pointer.base as VReg;
      if (e.kind === ts.SyntaxKind.NullKeyword) return void this.fb.emit({ op: "mov", dst: base, src: imm(0n, PTR), loc: locOf(e) });
      const r = this.tryRef(e);
      if (!r || r.base.kind !== "reg") return fail(e, Code.Unsupported, "a function typed `T | null` returns a map lookup, a ring buffer reservation or null: memory of its own would not outlive the call");
      if (!sameLayout(r.layout, pointer.layout)) return fail(e, Code.UnsupportedType, `${aLayout(r.layout)} cannot be returned as ${aLayout(pointer.layout)}`);
      this.fb.emit({ op: "mov", dst: base, src: this.addrOf(r, e) as VReg, loc: locOf(e) });
    }

    /**
     * A call to a module-level function, inlined: parameters bound to the arguments, `return` jumps past the body.
     * A function returning memory writes it `into` the caller's value (see memoryCall).
     */
    inlineCall(decl: TS.FunctionDeclaration | TS.ArrowFunction | TS.FunctionExpression, e: TS.CallExpression, into?: Ref): Val {
      const name = e.expression.getText(file);
      if (inlining.includes(decl)) return fail(e, Code.BadFunction, `\`${name}\` calls itself: functions are inlined, so recursion is not supported`);
      const inlined = (inlinedCalls.get(this.fb) ?? 0) + 1;
      inlinedCalls.set(this.fb, inlined);
      if (inlined > MAX_INLINED_CALLS) {
        return fail(e, Code.BadFunction, `this handler makes more than ${MAX_INLINED_CALLS} function calls once its functions' calls are counted (each call is a copy of the function's body, and the calls in it copy theirs): call functions from fewer places, or from a loop`);
      }
      if (decl.typeParameters?.length) fail(decl, Code.BadFunction, "generic functions are not supported");
      // The parameters first: a rest or optional one explains a count that does not match.
      decl.parameters.forEach(paramSymbol);
      const count = `${decl.parameters.length} argument${decl.parameters.length === 1 ? "" : "s"}`;
      if (e.arguments.length > decl.parameters.length) fail(e.arguments[decl.parameters.length]!, Code.BadFunction, `\`${name}\` takes ${count}`);
      const scope = new Map<TS.Symbol, Binding>(moduleScope);
      const child = new FnLowering(this.fb, scope);
      decl.parameters.forEach((p, i) => {
        const symbol = paramSymbol(p);
        const arg = e.arguments[i];
        if (!arg) return fail(e, Code.BadFunction, `\`${name}\` needs ${count}`);
        if (!p.type) return fail(p, Code.MissingType, `parameter \`${p.name.getText(file)}\` needs a type`);
        const l = layoutOf(p.type);
        if (l.kind !== "int") {
          // Memory is passed by reference, as JavaScript passes objects.
          scope.set(symbol, { kind: "ref", ref: this.materialize(arg, l, arg) });
          return;
        }
        const v = this.value(arg);
        if (v.untyped && v.op.kind === "imm" && !fits(v.op.value, l.type)) fail(arg, Code.OutOfRange, outOfRange(v.op.value, l.type));
        // A typed kernel pointer stays typed in a parameter of its struct that the body never assigns (each call is
        // inlined, so another call may pass an untyped one).
        const typed = v.op.type.typed && l.type.ptr && l.type.pointee === v.op.type.pointee && !assigns(decl, symbol);
        const reg = this.fb.vreg(typed ? v.op.type : l.type);
        this.fb.emit({ op: "mov", dst: reg, src: this.convert(v, l.type).op, loc: locOf(arg) });
        child.owned.add(reg.id);
        scope.set(symbol, { kind: "var", reg, mutable: true });
      });
      let dst: VReg | undefined;
      if (into) {
        // The caller's value is the result.
      } else if (decl.type) {
        if (decl.type.kind !== ts.SyntaxKind.VoidKeyword) {
          const l = layoutOf(decl.type);
          if (l.kind !== "int") return fail(e, Code.NotAnInteger, `\`${name}\` gives ${aLayout(l)}, not an integer: bind it to a name (\`const v: ${decl.type.getText(file)} = ${e.getText(file)}\`) or pass it on`);
          dst = this.fb.vreg(l.type);
        }
      } else {
        const sig = checker.getSignatureFromDeclaration(decl);
        const ret = sig && checker.getReturnTypeOfSignature(sig);
        // TypeScript's `boolean` has one C type; a number could be any width.
        if (ret && ret.flags & ts.TypeFlags.BooleanLike) dst = this.fb.vreg(BOOL);
        else if (ret && !(ret.flags & (ts.TypeFlags.Void | ts.TypeFlags.Undefined))) fail(decl.name ?? decl, Code.MissingType, `\`${name}\` returns a value: annotate its return type (u8..i64, boolean, a struct's interface, Str<N>, Arr<T, N>)`);
      }
      const exit = this.fb.newBlock();
      child.inline = { exit, dst, into };
      if (dst) this.fb.emit({ op: "mov", dst, src: imm(0n, dst.type) });
      inlining.push(decl);
      try {
        if (decl.body && ts.isBlock(decl.body)) child.block(decl.body);
        else if (decl.body && into?.nullable) child.returnPointer(into, decl.body as TS.Expression);
        else if (decl.body && into) child.assignInto(into, decl.body as TS.Expression);
        else if (decl.body) {
          const v = child.value(decl.body as TS.Expression);
          if (dst) this.fb.emit({ op: "mov", dst, src: child.convert(v, dst.type).op, loc: locOf(decl.body) });
        }
      } finally {
        inlining.pop();
      }
      this.fb.terminate({ op: "jmp", target: exit.id });
      this.enter(exit);
      return dst ? { op: dst } : { op: imm(0n, I64) };
    }

    // ---- strings: Str<N> compared with literals and with each other, startsWith, charCodeAt
    // A Str<N> is a C string of at most N bytes: its value ends at the first NUL, or after N bytes.

    /** How `e` branches when it is a string condition (`s === "lit"`, `a !== b`, `s.startsWith("lit")`); undefined otherwise. */
    stringTest(e: TS.Expression): ((t: Block, f: Block) => void) | undefined {
      if (ts.isBinaryExpression(e) && isString(e.left) && isString(e.right)) {
        const cmp = COMPARE.get(e.operatorToken.kind);
        if (!cmp) return undefined;
        if (cmp !== "eq" && cmp !== "ne") return fail(e.operatorToken, Code.StringOperation, "strings compare only with `===` and `!==`: Str values have no order");
        return (t, f) => (cmp === "eq" ? this.stringEquals(e, t, f) : this.stringEquals(e, f, t));
      }
      if (ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression) && e.expression.name.text === "startsWith" && isString(e.expression.expression)) {
        const call = e;
        return (t, f) => this.startsWith(call, t, f);
      }
      return undefined;
    }

    /**
     * One side of a string comparison: a literal's bytes, or a Str<N> in memory (an inline comm() gets a stack
     * copy; a tracepoint's __data_loc string a copy of its first `room` - 1 bytes, as many as the comparison reads).
     */
    stringOperand(e: TS.Expression, room?: number): StringOperand {
      if (ts.isParenthesizedExpression(e)) return this.stringOperand(e.expression, room);
      if (room !== undefined && this.isDynamicString(e)) {
        const layout: Layout = { kind: "str", size: room, align: 1 };
        return { kind: "str", ref: this.materialize(e, layout, e), size: room };
      }
      if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return { kind: "literal", text: e.text, bytes: new TextEncoder().encode(e.text) };
      const helper = this.stringCall(e);
      if (helper === "comm") return { kind: "str", ref: this.materialize(e, COMM_LAYOUT, e), size: COMM_LAYOUT.size };
      if (helper) return fail(e, Code.StringOperation, `${helper}() needs a Str<N> to fill before it is compared: \`const s: Str<64> = ${e.getText(file)}\``);
      const r = this.tryRef(e);
      if (r?.layout.kind === "str") return { kind: "str", ref: r, size: r.layout.size };
      return fail(e, Code.StringOperation, `\`${e.getText(file)}\` is neither a Str<N> nor a string literal: only those compare`);
    }

    /** Branches to `t` when the two sides of `e` (`a === b`) hold the same string, else to `f`. */
    stringEquals(e: TS.BinaryExpression, t: Block, f: Block): void {
      const [a, b] = this.isDynamicString(e.right) ? this.dynamicOperands(e.right, e.left).reverse() : this.dynamicOperands(e.left, e.right);
      if (a.kind === "literal" && b.kind === "literal") return this.fb.terminate({ op: "jmp", target: (a.text === b.text ? t : f).id });
      if (a.kind === "str" && b.kind === "str") return this.strEqualsStr(a, b, e, t, f);
      const [str, literal] = a.kind === "str" ? [a, b as StringOperand & { kind: "literal" }] : [b as StringOperand & { kind: "str" }, a];
      this.matchLiteral(str, literal, e, t, f);
    }

    /** `case "lit":` against a switch's string (a literal itself when the switch is on one). */
    literalEquals(x: StringOperand, node: TS.StringLiteral, at: TS.Node, t: Block, f: Block): void {
      const literal = this.stringOperand(node) as StringOperand & { kind: "literal" };
      if (x.kind === "literal") return this.fb.terminate({ op: "jmp", target: (x.text === literal.text ? t : f).id });
      this.matchLiteral(x, literal, at, t, f);
    }

    /** Branches to `t` when the Str holds the literal: its bytes, then the NUL that ends the Str. */
    matchLiteral(str: StringOperand & { kind: "str" }, literal: StringOperand & { kind: "literal" }, node: TS.Node, t: Block, f: Block): void {
      if (literal.bytes.length >= str.size) {
        fail(node, Code.StringOperation, `a Str<${str.size}> holds at most ${str.size - 1} bytes before its NUL, so it can never equal "${literal.text}" (${literal.bytes.length} bytes)`);
      }
      const expected = new Uint8Array(literal.bytes.length + 1);
      expected.set(literal.bytes);
      this.matchBytes(str.ref, expected, node, t, f);
    }

    /**
     * The operands of `dynamic === other`, other first evaluated for its size: the __data_loc string is copied with
     * room for one byte more than `other` holds, enough to tell "abc" from "abcd". Plain operands if not dynamic.
     */
    dynamicOperands(dynamic: TS.Expression, other: TS.Expression): [StringOperand, StringOperand] {
      if (!this.isDynamicString(dynamic)) return [this.stringOperand(dynamic), this.stringOperand(other)];
      if (this.isDynamicString(other)) fail(other, Code.StringOperation, `copy one of the two strings into a Str<N> first: \`const s: Str<64> = ${other.getText(file)}\``);
      const b = this.stringOperand(other);
      const room = b.kind === "literal" ? b.bytes.length + 2 : b.size + 1;
      return [this.stringOperand(dynamic, room), b];
    }

    /** `s.startsWith("lit")`: the literal's bytes match the Str's first bytes. */
    startsWith(e: TS.CallExpression, t: Block, f: Block): void {
      const arg = e.arguments[0];
      if (e.arguments.length !== 1 || !arg || !(ts.isStringLiteral(arg) || ts.isNoSubstitutionTemplateLiteral(arg))) {
        return fail(e, Code.StringOperation, "startsWith() takes one string literal (`s.startsWith(\"/tmp/\")`)");
      }
      const prefix = new TextEncoder().encode(arg.text);
      // A __data_loc string is copied as far as the prefix reaches.
      const receiver = this.stringOperand((e.expression as TS.PropertyAccessExpression).expression, prefix.length + 1);
      if (receiver.kind === "literal") return this.fb.terminate({ op: "jmp", target: (receiver.text.startsWith(arg.text) ? t : f).id });
      if (prefix.length > receiver.size) fail(arg, Code.StringOperation, `a Str<${receiver.size}> can never start with "${arg.text}" (${prefix.length} bytes)`);
      this.matchBytes(receiver.ref, prefix, e, t, f);
    }

    /**
     * Branches to `t` when the bytes at `r` are `expected`, else to `f`: loads as wide as the
     * address's known alignment allows (as `chunks` copies), each compared with the little-endian
     * value of its bytes, leaving at the first difference.
     */
    matchBytes(r: Ref, expected: Uint8Array, node: TS.Node, t: Block, f: Block): void {
      const loc = locOf(node);
      for (let at = 0; at < expected.length; ) {
        const size = ([8, 4, 2, 1] as const).find((n) => aligned(r, at, n) && at + n <= expected.length)!;
        const type = UNSIGNED_OF_SIZE[size];
        let value = 0n;
        for (let i = size - 1; i >= 0; i--) value = (value << 8n) | BigInt(expected[at + i]!);
        const loaded = this.fb.vreg(type);
        this.fb.emit({ op: "load", dst: loaded, base: r.base, offset: r.offset + at, size, signed: false, loc });
        const next = this.fb.newBlock();
        this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: loaded, b: imm(value, type), then: f.id, else: next.id, loc });
        this.enter(next);
        at += size;
      }
      this.fb.terminate({ op: "jmp", target: t.id });
    }

    /**
     * Two Str values: equal when their bytes match up to and including a NUL within the shorter
     * size; when the shorter one is full, the longer one's next byte must be its NUL.
     */
    strEqualsStr(a: StringOperand & { kind: "str" }, b: StringOperand & { kind: "str" }, node: TS.Node, t: Block, f: Block): void {
      const shared = Math.min(a.size, b.size);
      const longer = a.size > b.size ? a : b.size > a.size ? b : undefined;
      const tail = this.fb.newBlock();
      if (shared <= UNROLLED_STRING_COMPARE) this.compareUnrolled(a.ref, b.ref, shared, node, t, f, tail);
      else this.compareLoop(a.ref, b.ref, shared, node, t, f, tail);
      this.enter(tail);
      if (!longer) return this.fb.terminate({ op: "jmp", target: t.id });
      this.matchBytes({ ...longer.ref, offset: longer.ref.offset + shared }, new Uint8Array(1), node, t, f);
    }

    /** Byte by byte over `count` bytes: to `f` at a difference, to `t` at a shared NUL, to `tail` when all match. */
    compareUnrolled(a: Ref, b: Ref, count: number, node: TS.Node, t: Block, f: Block, tail: Block): void {
      for (let i = 0; i < count; i++) {
        const next = i + 1 < count ? this.fb.newBlock() : tail;
        this.compareByte({ ...a, offset: a.offset + i }, { ...b, offset: b.offset + i }, locOf(node), t, f, next);
        if (next !== tail) this.enter(next);
      }
    }

    /** compareUnrolled as a loop the verifier walks `count` times: two pointers and a counter, a few instructions. */
    compareLoop(a: Ref, b: Ref, count: number, node: TS.Node, t: Block, f: Block, tail: Block): void {
      const loc = locOf(node);
      const pa = this.pointerTo(a, node);
      const pb = this.pointerTo(b, node);
      const i = this.fb.vreg(U64);
      this.fb.emit({ op: "mov", dst: i, src: imm(0n, U64), loc });
      const top = this.fb.newBlock();
      const body = this.fb.newBlock();
      const step = this.fb.newBlock();
      this.fb.terminate({ op: "jmp", target: top.id });
      this.enter(top);
      this.fb.terminate({ op: "br", cmp: "lt", signed: false, a: i, b: imm(BigInt(count), U64), then: body.id, else: tail.id, loc });
      this.enter(body);
      this.compareByte({ ...a, base: pa, offset: 0 }, { ...b, base: pb, offset: 0 }, loc, t, f, step);
      this.enter(step);
      for (const r of [pa, pb, i]) this.fb.emit({ op: "bin", kind: "add", dst: r, a: r, b: imm(1n, U64), loc });
      this.fb.terminate({ op: "jmp", target: top.id });
    }

    /** One byte of two Str values: to `f` when they differ, to `t` when both are the NUL, else to `next`. */
    compareByte(a: Ref, b: Ref, loc: Loc, t: Block, f: Block, next: Block): void {
      const x = this.fb.vreg(U8);
      const y = this.fb.vreg(U8);
      this.fb.emit({ op: "load", dst: x, base: a.base, offset: a.offset, size: 1, signed: false, loc });
      this.fb.emit({ op: "load", dst: y, base: b.base, offset: b.offset, size: 1, signed: false, loc });
      const same = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: x, b: y, then: f.id, else: same.id, loc });
      this.enter(same);
      this.fb.terminate({ op: "br", cmp: "eq", signed: false, a: x, b: imm(0n, U8), then: t.id, else: next.id, loc });
    }

    /** A fresh register holding the address of a Ref's bytes (one the caller may advance). */
    pointerTo(r: Ref, node: TS.Node): VReg {
      const dst = this.fb.vreg(PTR);
      if (r.base.kind === "stack") this.fb.emit({ op: "addr", dst, object: r.base.object, offset: (r.base.offset ?? 0) + r.offset, loc: locOf(node) });
      else this.fb.emit({ op: "bin", kind: "add", dst, a: r.base, b: imm(BigInt(r.offset), U64), loc: locOf(node) });
      return dst;
    }

    /** `s.startsWith("lit")` as a value, `s.charCodeAt(i)`; other string methods are diagnostics. */
    stringMethod(e: TS.CallExpression, callee: TS.PropertyAccessExpression): Val {
      const method = callee.name.text;
      if (method === "startsWith") return this.zeroOrOne(BOOL, (t, f) => this.startsWith(e, t, f));
      if (method === "charCodeAt") return this.charCodeAt(e, callee);
      return fail(callee.name, Code.StringOperation, `${method}() is not supported on strings: a Str<N> supports ===, !==, startsWith("...") and charCodeAt(i)`);
    }

    /** `s.charCodeAt(i)`: the byte at i as a u8; a constant i is checked now, a variable one as `a[i]` checks it. */
    charCodeAt(e: TS.CallExpression, callee: TS.PropertyAccessExpression): Val {
      const receiver = this.stringOperand(callee.expression);
      if (receiver.kind !== "str") return fail(callee.expression, Code.StringOperation, "charCodeAt() reads a Str<N>; a literal's character codes are constants");
      const index = e.arguments[0];
      if (e.arguments.length !== 1 || !index) return fail(e, Code.StringOperation, "charCodeAt() takes one index");
      const i = this.value(index);
      if (i.op.kind === "imm") {
        const n = BigInt.asIntN(64, i.op.value);
        if (n < 0n || n >= BigInt(receiver.size)) fail(index, Code.OutOfRange, `index ${n} is outside Str<${receiver.size}>`);
      }
      const bytes: Ref = { ...receiver.ref, layout: { kind: "array", element: intLayout(U8), length: receiver.size, size: receiver.size, align: 1 } };
      return this.loadInt(this.elementAt(bytes, i, index, e), e);
    }

    // ---- printk

    printk(e: TS.CallExpression): void {
      if (e.arguments.length !== 1) fail(e, Code.BadPrintk, "printk() takes one template literal");
      const msg = e.arguments[0]!;
      let format = "";
      const args: CallArg[] = [];
      const escape = (s: string): string => s.replace(/%/g, "%%");
      if (ts.isStringLiteral(msg) || ts.isNoSubstitutionTemplateLiteral(msg)) format = escape(msg.text);
      else if (ts.isTemplateExpression(msg)) {
        format = escape(msg.head.text);
        for (const span of msg.templateSpans) {
          const x = span.expression;
          if (ts.isCallExpression(x) && builtin(x.expression) === "comm") {
            // The task's name lands in a 16-byte stack buffer; %s reads it from there.
            if (x.arguments.length) fail(x.arguments[0]!, Code.UnsupportedCall, "comm() takes no arguments");
            const object = this.fb.stackObject(16);
            this.fb.emit({ op: "call", helper: Helper.get_current_comm, args: [{ kind: "stack", object }, imm(16n, U32)], loc: locOf(x) });
            args.push({ kind: "stack", object });
            format += "%s" + escape(span.literal.text);
            continue;
          }
          const read = this.stringCall(x);
          if (read === "readUserStr" || read === "readKernelStr") {
            // Read into a stack buffer of bpftrace's default string size; %s prints it from there.
            const buffer = this.stackTemp(PRINTED_STRING, x);
            this.assignInto(buffer, x);
            args.push(this.addrOf(buffer, x));
            format += "%s" + escape(span.literal.text);
            continue;
          }
          // A literal, or a module-level string constant: its text joins the format.
          const known = ts.isStringLiteralLike(x) ? x.text : ts.isIdentifier(x) ? this.formatText(x) : undefined;
          if (known !== undefined) {
            format += escape(known) + escape(span.literal.text);
            continue;
          }
          if (literalsSize(x) !== undefined) {
            // `c ? "W" : "R"`: %s prints the literal the branch taken points to, in .rodata.
            args.push(this.literalAddress(x));
            format += "%s" + escape(span.literal.text);
            continue;
          }
          const dynamic = this.dynamicString(x);
          if (dynamic) {
            // %s reads the string where the record holds it.
            args.push(dynamic);
            format += "%s" + escape(span.literal.text);
            continue;
          }
          const str = this.tryRef(x);
          // An integer in memory (a map lookup's value) prints as its value does, below.
          if (str && str.layout.kind !== "int") {
            if (str.layout.kind !== "str") fail(x, Code.BadPrintk, `printk() prints integers and strings, not ${aLayout(str.layout)}`);
            args.push(this.terminated(str, x));
            format += "%s" + escape(span.literal.text);
            continue;
          }
          const v = this.value(x);
          if (v.op.kind === "imm") format += escape(v.op.type.bool ? String(v.op.value !== 0n) : String(v.op.type.ptr ? `0x${BigInt.asUintN(64, v.op.value).toString(16)}` : v.op.value));
          else if (v.op.type.bool) {
            // As a template literal prints it: `true` or `false`, a string in .rodata printed with %s.
            format += "%s";
            args.push(this.boolString(v.op, x));
          } else {
            format += spec(v.op.type);
            args.push(v.op);
          }
          format += escape(span.literal.text);
        }
      } else fail(msg, Code.BadPrintk, "printk() takes a template literal (`...${x}...`) or a string literal");
      if (args.length > MAX_VPRINTK_ARGS) fail(msg, Code.BadPrintk, `printk() prints at most ${MAX_VPRINTK_ARGS} values; this message has ${args.length}`);
      if (format.includes("\0")) fail(msg, Code.BadPrintk, "a printk message cannot hold a NUL character (\\0): the kernel's format is a C string, which it ends");
      const fmt = rodata.add(format);
      const fmtArgs: CallArg[] = [{ kind: "rodata", offset: fmt }, imm(BigInt(new TextEncoder().encode(format).length + 1), U32)];
      // %d and %u read only the low 32 bits of a value (the kernel converts them as int).
      const low32 = (a: CallArg): boolean => a.kind === "reg" && a.type.bits <= 32 && !a.type.ptr;
      if (args.length <= 3) {
        const narrow = args.flatMap((a, i) => (low32(a) ? [fmtArgs.length + i] : []));
        this.fb.emit({ op: "call", helper: Helper.trace_printk, args: [...fmtArgs, ...args], ...(narrow.length ? { low32: narrow } : {}), loc: locOf(e) });
        return;
      }
      // More than three values: bpf_trace_vprintk with the values in a u64 array on the stack.
      const object = this.fb.stackObject(8 * args.length);
      args.forEach((a, i) => this.fb.emit({ op: "store", object, offset: 8 * i, src: a as Operand | StackAddr, ...(low32(a) ? { low32: true } : {}), loc: locOf(e) }));
      this.fb.emit({ op: "call", helper: Helper.trace_vprintk, args: [...fmtArgs, { kind: "stack", object }, imm(BigInt(8 * args.length), U32)], loc: locOf(e) });
    }

    /** The .rodata address of the string literal a choice between literals (`c ? "W" : "R"`, nested) picks. */
    literalAddress(e: TS.Expression): VReg {
      while (ts.isParenthesizedExpression(e)) e = e.expression;
      const dst = this.fb.vreg(PTR);
      if (ts.isStringLiteralLike(e)) {
        this.fb.emit({ op: "rodata", dst, offset: rodata.add(e.text), loc: locOf(e) });
        return dst;
      }
      const c = e as TS.ConditionalExpression;
      const [whenTrue, whenFalse, join] = [this.fb.newBlock(), this.fb.newBlock(), this.fb.newBlock()];
      this.cond(c.condition, whenTrue, whenFalse);
      for (const [block, arm] of [[whenTrue, c.whenTrue], [whenFalse, c.whenFalse]] as const) {
        this.enter(block);
        this.fb.emit({ op: "mov", dst, src: this.literalAddress(arm) });
        this.fb.terminate({ op: "jmp", target: join.id });
      }
      this.enter(join);
      return dst;
    }

    /** The address of "true" or "false" in .rodata as `b` is 1 or 0: "false", replaced when b is set (one branch, two loads). */
    boolString(b: VReg, node: TS.Node): VReg {
      const loc = locOf(node);
      const dst = this.fb.vreg(PTR);
      const set = this.fb.newBlock();
      const join = this.fb.newBlock();
      this.fb.emit({ op: "rodata", dst, offset: rodata.add("false"), loc });
      this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: b, b: imm(0n, b.type), then: set.id, else: join.id, loc });
      this.enter(set);
      this.fb.emit({ op: "rodata", dst, offset: rodata.add("true"), loc });
      this.fb.terminate({ op: "jmp", target: join.id });
      this.enter(join);
      return dst;
    }
  }

  return lowerModule();
}

const HELPER_CALLS: Record<string, { id: number; type: IntType }> = {
  pidTgid: { id: Helper.get_current_pid_tgid, type: U64 },
  uidGid: { id: Helper.get_current_uid_gid, type: U64 },
  cgroupId: { id: Helper.get_current_cgroup_id, type: U64 },
  ktimeNs: { id: Helper.ktime_get_ns, type: U64 },
  smpProcessorId: { id: Helper.get_smp_processor_id, type: U32 },
  prandomU32: { id: Helper.get_prandom_u32, type: U32 },
  currentTask: { id: Helper.get_current_task, type: { ...PTR, pointee: "task_struct" } },
};

/** The printf conversion for a value of type `t` (the kernel's bpf_trace_printk accepts these). */
function spec(t: IntType): string {
  if (t.ptr) return t.pointee === "char" ? "%s" : "0x%llx";
  if (t.bits === 64) return t.signed ? "%lld" : "%llu";
  return t.signed ? "%d" : "%u";
}

const MIRROR_CMP: Record<CmpOp, CmpOp> = { eq: "eq", ne: "ne", lt: "gt", le: "ge", gt: "lt", ge: "le" };

/** How many times `for (i = start; i OP limit; i += step)` runs at the counter's type; undefined if it never stops. */
function tripCount(start: bigint, op: CmpOp, limit: bigint, step: bigint, type: IntType): number | undefined {
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
function withArticle(name: string): string {
  return `${/^[aeio]/i.test(name) ? "an" : "a"} ${name}`;
}

const aLayout = (l: Layout): string => withArticle(describeLayout(l));

function describeLayout(l: Layout): string {
  switch (l.kind) {
    case "int": return typeName(l.type);
    case "str": return `Str<${l.size}>`;
    case "array": return `Arr<${describeLayout(l.element)}, ${l.length}>`;
    case "struct": return `struct ${l.name}`;
  }
}

function sameLayout(a: Layout, b: Layout): boolean {
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
function joinType(a: IntType, b: IntType): IntType {
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
function armsType(a: Val, b: Val): IntType {
  if (a.untyped && b.untyped && a.op.kind === "imm" && b.op.kind === "imm") return commonType(defaultType(a.op.value), defaultType(b.op.value));
  const adopt = (c: Val, t: IntType): IntType => (c.op.kind !== "imm" || (fits(c.op.value, t) && !t.bool) ? t : commonType(defaultType(c.op.value), t));
  return a.untyped ? adopt(a, b.op.type) : b.untyped ? adopt(b, a.op.type) : joinType(a.op.type, b.op.type);
}

/** A pointer without the kernel's typing (read through probe reads), or any other type as it is. */
function untypedPointer(t: IntType): IntType {
  if (!t.typed) return t;
  const { typed: _, ...rest } = t;
  return rest;
}

/** JavaScript's bitwise operators on number constants: ToInt32 operands (ToUint32 for `>>>`), counts below 32. */
const NUMBER_BITS = {
  and: (a: bigint, b: bigint) => BigInt.asIntN(32, a) & BigInt.asIntN(32, b),
  or: (a: bigint, b: bigint) => BigInt.asIntN(32, a) | BigInt.asIntN(32, b),
  xor: (a: bigint, b: bigint) => BigInt.asIntN(32, a) ^ BigInt.asIntN(32, b),
  shl: (a: bigint, b: bigint) => BigInt.asIntN(32, a << b),
  shr: (a: bigint, b: bigint) => BigInt.asIntN(32, a) >> b,
  ushr: (a: bigint, b: bigint) => BigInt.asUintN(32, a) >> b,
};

/** The type an unannotated declaration of a literal gets. */
function defaultType(v: bigint): IntType {
  return v > 0x7fffffffffffffffn ? U64 : I64;
}

/** Why a handler cannot assign parameter `name` (or an element of it, `array`). */
function parameterAssigned(name: string, value: string): string {
  return `\`${name}\` is a parameter of the probes: the loader sets it before they load (tsbpf run --set ${name}=${value}), and a handler cannot change it; keep a value the probes change in a map (\`const counts = new ArrayMap<u64>(1)\`)`;
}

/**
 * A constant given to a slot of a type it does not fit, as TypeScript would keep it: `const x: u32 = -1` reads -1 in
 * TypeScript, 4294967295 in C; `const w: i8 = 200` reads 200, -56.
 */
function outOfRange(v: bigint, t: IntType): string {
  const [min, max] = t.signed ? [-(1n << BigInt(t.bits - 1)), (1n << BigInt(t.bits - 1)) - 1n] : [0n, (1n << BigInt(t.bits)) - 1n];
  const bits = fits(v, { bits: t.bits, signed: !t.signed }) ? `; for these bits as ${t.signed ? "an" : "a"} ${typeName(t)}, write ${BigInt.asIntN(t.bits, v) === v ? BigInt.asUintN(t.bits, v) : BigInt.asIntN(t.bits, v)}` : "";
  return `${v} does not fit in ${typeName(t)} (${min} to ${max})${bits}`;
}

/** Whether a literal fits a type's bits in either signedness (C lets `u32 x = -1` through; `u8 x = 300` is an error). */
function fitsBits(v: bigint, t: IntType): boolean {
  return fits(v, t) || fits(v, { bits: t.bits, signed: !t.signed });
}

function fold(kind: BinOp, a: bigint, b: bigint, t: IntType): bigint {
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

/** `>>>=`'s operation: JavaScript's unsigned shift, which BPF's `shr` is only for unsigned operands. */
type CompoundOp = BinOp | "ushr";
let tables: { arith: Map<number, BinOp>; compound: Map<number, CompoundOp>; compare: Map<number, CmpOp> } | undefined;
function makeTables(ts: Typescript) {
  const K = ts.SyntaxKind;
  return {
    arith: new Map<number, BinOp>([
      [K.PlusToken, "add"], [K.MinusToken, "sub"], [K.AsteriskToken, "mul"], [K.SlashToken, "div"], [K.PercentToken, "mod"],
      [K.AmpersandToken, "and"], [K.BarToken, "or"], [K.CaretToken, "xor"], [K.LessThanLessThanToken, "shl"], [K.GreaterThanGreaterThanToken, "shr"],
    ]),
    compound: new Map<number, CompoundOp>([
      [K.PlusEqualsToken, "add"], [K.MinusEqualsToken, "sub"], [K.AsteriskEqualsToken, "mul"], [K.SlashEqualsToken, "div"], [K.PercentEqualsToken, "mod"],
      [K.AmpersandEqualsToken, "and"], [K.BarEqualsToken, "or"], [K.CaretEqualsToken, "xor"], [K.LessThanLessThanEqualsToken, "shl"], [K.GreaterThanGreaterThanEqualsToken, "shr"],
      [K.GreaterThanGreaterThanGreaterThanEqualsToken, "ushr"],
    ]),
    compare: new Map<number, CmpOp>([
      [K.EqualsEqualsEqualsToken, "eq"], [K.EqualsEqualsToken, "eq"], [K.ExclamationEqualsEqualsToken, "ne"], [K.ExclamationEqualsToken, "ne"],
      [K.LessThanToken, "lt"], [K.LessThanEqualsToken, "le"], [K.GreaterThanToken, "gt"], [K.GreaterThanEqualsToken, "ge"],
    ]),
  };
}
// Filled by initTables before lowering; module-level so the methods above can use them by name.
let ARITH: Map<number, BinOp>;
let COMPOUND: Map<number, CompoundOp>;
let COMPARE: Map<number, CmpOp>;

export function initTables(ts: Typescript): void {
  tables ??= makeTables(ts);
  ARITH = tables.arith;
  COMPOUND = tables.compound;
  COMPARE = tables.compare;
}

/**
 * The most calls inlined into one handler: the probes of tools/ and examples/ inline at most 6, and functions that
 * each call the next twice would otherwise be copied for minutes (2^20 bodies for 20 of them).
 */
const MAX_INLINED_CALLS = 1_000;

/** What to write instead of a construct a handler cannot hold, where there is a usual way: "" otherwise. */
function insteadOf(ts: Typescript, node: TS.Node): string {
  if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && (MAPS as readonly string[]).includes(node.expression.text)) {
    const cls = node.expression.text as MapClass;
    const name = ts.isVariableDeclaration(node.parent) && ts.isIdentifier(node.parent.name) ? node.parent.name.text : "counts";
    const keyed = KEYED_MAPS.has(cls) && !MAP_EXAMPLES[cls].includes("<") ? `, or \`new ${cls}<K>(${cls === "LinearHistogram" ? "0, 100, 10, " : ""}maxKeys)\` for one per key` : "";
    return `: declare maps at module level, outside the handlers (\`const ${name} = ${MAP_EXAMPLES[cls]}\`${keyed})`;
  }
  if ((ts.isPostfixUnaryExpression(node) || ts.isPrefixUnaryExpression(node)) && (node.operator === ts.SyntaxKind.PlusPlusToken || node.operator === ts.SyntaxKind.MinusMinusToken)) {
    return `: \`++\` and \`--\` are statements of their own here; write \`${node.operand.getText()}${ts.tokenToString(node.operator)};\` before or after the line that uses it`;
  }
  if (ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isFunctionDeclaration(node)) {
    return ": declare it as a function at module level (`function f(x: u32): u32 { ... }`) and call it from the handler";
  }
  return "";
}

/** A plural name for a syntax kind, for "... are not supported" diagnostics. */
export function describe(ts: Typescript, node: TS.Node): string {
  const special: Record<string, string> = {
    ForStatement: "`for` loops", ForOfStatement: "`for...of` loops", ForInStatement: "`for...in` loops", WhileStatement: "`while` loops",
    DoStatement: "`do...while` loops", SwitchStatement: "`switch` statements", TryStatement: "`try` statements", ThrowStatement: "`throw` statements",
    FunctionDeclaration: "function declarations", ClassDeclaration: "classes", ArrowFunction: "arrow functions", FunctionExpression: "function expressions",
    ObjectLiteralExpression: "object literals", ArrayLiteralExpression: "array literals", NewExpression: "`new` expressions", AwaitExpression: "`await` expressions",
    ElementAccessExpression: "index expressions (`a[i]`)", TaggedTemplateExpression: "tagged templates", BreakStatement: "`break` statements", ContinueStatement: "`continue` statements",
    LabeledStatement: "labels", NullKeyword: "`null` values", UndefinedKeyword: "`undefined` values", ThisKeyword: "`this` expressions", TypeOfExpression: "`typeof` expressions",
    DeleteExpression: "`delete` expressions", VoidExpression: "`void` expressions", SpreadElement: "spread elements", EnumDeclaration: "enums", ExportAssignment: "`export default` declarations",
    ExportDeclaration: "re-exports", ModuleDeclaration: "namespaces",
  };
  const kind = ts.SyntaxKind[node.kind];
  return special[kind] ?? kind.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase() + "s";
}

