// Lowering: a type-checked probe file to the typed IR.
// Takes the checked TypeScript program, the tracepoint layouts and the target; gives an `IrModule`
// (one function per probe, `.rodata`, the license) and diagnostics for everything outside the subset.
// This file lowers what is at module level: maps, parameters, constants, struct layouts and the probes; each
// handler's body is lowered by lowering/function.ts (FnLowering) and the parts it builds on (lowering/*.ts),
// which share this lowering's state through a LoweringContext.

import type * as TS from "typescript";
import {
  PERF_EVENT_NAMES,
  PERF_EVENT_SECTION,
  RUN_SECTION,
  perfEventFullName,
  perfEventTag,
  runTag,
  type PerfEventProbe,
  type PrintfSite,
  type RunWhen,
} from "../btf/tags.js";
import { isGlob } from "../glob.js";
import {
  BOOL,
  FunctionBuilder,
  I64,
  I8,
  INT_TYPES,
  KERNEL_SYMBOL,
  MAX_STACK_FRAMES,
  PROBE_NAME,
  PTR,
  STACK_TYPES,
  U32,
  U64,
  fits,
  stackType,
  type BssVar,
  type Imm,
  type IntType,
  type IrFunction,
  type IrModule,
  type Layout,
  type Loc,
  type MapDef,
  type VReg,
} from "../ir/index.js";
import type { Checked } from "./check.js";
import { Code, makeDiagnostic, type Diagnostic } from "./diagnostics.js";
import { cTypeName, noKernelImports, type KernelImports, type KernelMember, type KernelScalar, type KernelStruct } from "./kernel-types.js";
import { AGGREGATE_OF, HISTOGRAM_SLOTS, KEYED_MAPS, MAP_TYPES, MAX_LENGTH, MAX_PERF_EVENT_RATE, STACK_DEPTH, USER_SYMBOL_LAYOUT, MAC_ADDR_LAYOUT, INET_LAYOUT, MAX_BUF, bufLayout, strftimeLayout, aggregateValue } from "./lowering/constants.js";
import type { LoweringContext } from "./lowering/context.js";
import { FnLowering } from "./lowering/function.js";
import { Rodata } from "./lowering/rodata.js";
import { OPERATORS, describe } from "./lowering/syntax.js";
import { aLayout, imm, outOfRange, scalarIntType } from "./lowering/types.js";
import { Abort, type Binding, type Handler, type MapClass, type MapInfo, type Ref, type Val } from "./lowering/values.js";
import { MAPS, PROBES } from "./prelude.js";
import type { Target } from "./targets.js";
import type { TracepointFormat } from "./tracepoints.js";
import type { KernelFunction } from "./typed-handlers.js";
import { USDT_MAX_ARGS, USDT_SPECS_MAP, emitUsdtArgs, usdtSpecsMap } from "./usdt.js";

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
    fail(name, Code.StringOperation, `a string has no \`.${name.text}\` here: a Str<N> supports ===, !==, startsWith("..."), includes(s) and charCodeAt(i)`);

  /** Whether TypeScript types an expression `boolean` (or `true` or `false`). */
  const isBoolean = (e: TS.Expression): boolean => (checker.getTypeAtLocation(e).flags & ts.TypeFlags.BooleanLike) !== 0;

  /** Whether TypeScript types an expression as a string: a literal, or a Str<N> (`string & {...}`). */
  const isString = (e: TS.Expression): boolean => {
    if (!mayBeString(e)) return false;
    const t = checker.getTypeAtLocation(e);
    return stringLike(t) || (t.isIntersection() && t.types.some(stringLike));
  };
  const stringLike = (t: TS.Type): boolean => (t.flags & ts.TypeFlags.StringLike) !== 0;
  const holdsString = (t: TS.Type): boolean => stringLike(t) || (t.isUnionOrIntersection() && t.types.some(holdsString));

  /**
   * False for a variable whose declared type holds no string, which no narrowing makes one: asking TypeScript for
   * a variable's narrowed type walks back over every condition before it, so that an else-if chain comparing one
   * variable in each of its n arms cost n^2 condition checks (a second for 400 arms).
   */
  const mayBeString = (e: TS.Expression): boolean => {
    const inner = skipParentheses(e);
    if (ts.isNumericLiteral(inner) || ts.isBigIntLiteral(inner)) return false;
    if (!ts.isIdentifier(inner)) return true;
    const symbol = checker.getSymbolAtLocation(inner);
    return !symbol || (symbol.flags & ts.SymbolFlags.Variable) === 0 || holdsString(checker.getTypeOfSymbol(symbol));
  };

  /**
   * Whether an arithmetic operand is a string. An operand that is itself arithmetic is not asked: its own operands are
   * checked when it is lowered, and asking TypeScript the type of `a + b + c + ...` checks all of it again, at each
   * level (minutes for a sum of a thousand terms).
   */
  const arithmeticString = (e: TS.Expression): boolean => {
    const inner = skipParentheses(e);
    return !(ts.isBinaryExpression(inner) && OPERATORS.arith.has(inner.operatorToken.kind)) && isString(e);
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
      if (name === "UserSymbol") return USER_SYMBOL_LAYOUT;
      if (name === "MacAddr") return MAC_ADDR_LAYOUT;
      if (name === "IpAddr") return INET_LAYOUT;
      if (name === "Strftime") {
        // The format a strftime() value prints in: a literal type argument, or a constant's (`typeof FORMAT`).
        const f = node.typeArguments?.[0];
        const t = f && checker.getTypeFromTypeNode(f);
        if (!t?.isStringLiteral()) return fail(f ?? node, Code.UnsupportedType, 'Strftime<F> takes the format its values print in, a string literal type: Strftime<"%H:%M:%S"> for strftime("%H:%M:%S", ns)');
        return strftimeLayout(t.value);
      }
      if (name === "Buf") {
        const n = node.typeArguments?.[0];
        const room = n && ts.isLiteralTypeNode(n) && ts.isNumericLiteral(n.literal) ? Number(n.literal.text) : NaN;
        if (!Number.isInteger(room) || room < 1 || room > MAX_BUF) fail(n ?? node, Code.UnsupportedType, `Buf<N> takes the most bytes buf() reads, an integer literal N from 1 to ${MAX_BUF}: Buf<16> for buf(p, 16), Buf<64> for buf(p, n) and buf(p, n, 64)`);
        return bufLayout(room);
      }
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
      const fl = new FnLowering(cx, new FunctionBuilder(), new Map(moduleScope));
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
          const v = new FnLowering(cx, new FunctionBuilder(), new Map(moduleScope)).value(a);
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
    const fl = new FnLowering(cx, new FunctionBuilder(), new Map(moduleScope));
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
    const v = new FnLowering(cx, new FunctionBuilder(), new Map(moduleScope)).value(decl.initializer!);
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
    const lowering = new FnLowering(cx, new FunctionBuilder(), new Map(moduleScope));
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

    const fl = new FnLowering(cx, fb, scope);
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
    const fl = new FnLowering(cx, fb, new Map<TS.Symbol, Binding>(moduleScope), section === RUN_SECTION ? kind : undefined);
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

  /** What the handlers' lowerings (lowering/*.ts) share of this one. */
  const cx: LoweringContext = {
    actionTargets, align, aligned, arithmeticString, arrayLength, assigns, bss, builtin, checker, endsWithRoom,
    enumMemberValue, fail, file, functions, inlinedCalls, inlining, intLayout, intTypeOf, isBoolean, isBuilt,
    isChoice, isString, kernel, kernelConstant, kernelMemberOf, kernelStructs, layoutOf, literalsSize, locOf, maps,
    moduleScope, noStringProperty, ownPointee, paramSymbol, printfSites, reservations, rodata, skipParentheses,
    stackAtRunTimeOffset, stackFrames, structOfType, timeFormats, ts, withoutNull,
  };

  return lowerModule();
}

