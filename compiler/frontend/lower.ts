// Lowering: a type-checked probe file to the typed IR.
// Takes the checked TypeScript program, the tracepoint layouts and the target; gives an `IrModule`
// (one function per probe, `.rodata`, the license) and diagnostics for everything outside the subset.
//
// Integer typing follows C at the inferred width (docs/compiler.md): literals are untyped until they
// meet a typed operand (then they take its type) or a declaration (an unannotated one gets i64, or
// u64 when the value needs it); binary operators apply C's promotions and usual arithmetic
// conversions; shifts take the promoted left operand's type; `as u32` converts as a C cast.

import type * as TS from "typescript";
import {
  FunctionBuilder,
  I32,
  I64,
  INT_TYPES,
  PTR,
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
  type IrFunction,
  type IrModule,
  type Loc,
  type Operand,
  type StackAddr,
  type VReg,
} from "../ir/index.js";
import { Helper } from "../isa/index.js";
import type { Checked, Typescript } from "./check.js";
import { Code, makeDiagnostic, type Diagnostic } from "./diagnostics.js";
import { PROBES } from "./prelude.js";
import type { Target } from "./targets.js";
import type { TracepointField, TracepointFormat } from "./tracepoints.js";
import type { KernelStruct } from "./kernel-types.js";

export type ProbeKind = (typeof PROBES)[number];

export interface LoweredProgram {
  fn: IrFunction;
  kind: ProbeKind;
}

export interface Lowered {
  module: IrModule;
  programs: LoweredProgram[];
  diagnostics: Diagnostic[];
}

/** Stops lowering the current handler after a diagnostic (the rest of the file is still checked). */
class Abort extends Error {}

/** A value during lowering: an operand, and whether it is a still-untyped literal. */
interface Val {
  op: Operand;
  untyped?: boolean;
}

type Binding =
  | { kind: "var"; reg: VReg; mutable: boolean }
  | { kind: "const"; val: Val }
  | { kind: "tpctx"; format: TracepointFormat };

const MAX_VPRINTK_ARGS = 12;

/** Rodata strings, deduplicated. */
class Rodata {
  private readonly parts: Uint8Array[] = [];
  private readonly offsets = new Map<string, number>();
  private size = 0;
  add(s: string): number {
    const hit = this.offsets.get(s);
    if (hit !== undefined) return hit;
    const bytes = new TextEncoder().encode(s + "\0");
    const at = this.size;
    this.parts.push(bytes);
    this.size += bytes.length;
    this.offsets.set(s, at);
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
): Lowered {
  const { ts, checker, file, prelude } = checked;
  const diagnostics: Diagnostic[] = [];
  const rodata = new Rodata();
  const programs: LoweredProgram[] = [];
  let license: string | undefined;
  const moduleScope = new Map<TS.Symbol, Binding>();

  const report = (node: TS.Node, code: number, message: string): void => {
    diagnostics.push(makeDiagnostic(file, code, message, node.getStart(file), node.getEnd() - node.getStart(file)));
  };
  const fail = (node: TS.Node, code: number, message: string): never => {
    report(node, code, message);
    throw new Abort();
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
    return decl && decl.getSourceFile() === prelude && mod && ts.isModuleDeclaration(mod) && mod.name.text === "tsbpf/kernel" ? symbol!.name : undefined;
  };

  /** The tsbpf export a name or property access refers to, if it refers to one. */
  const builtin = (node: TS.Node): string | undefined => {
    let symbol = checker.getSymbolAtLocation(node);
    if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    const decl = symbol?.declarations?.[0];
    return decl && decl.getSourceFile() === prelude ? symbol!.name : undefined;
  };

  const intTypeOf = (node: TS.TypeNode): IntType => {
    if (ts.isTypeReferenceNode(node)) {
      const name = builtin(node.typeName);
      if (name && INT_TYPES[name]) return INT_TYPES[name]!;
      if (name === "Ptr") {
        const arg = node.typeArguments?.[0];
        const pointee = arg && ts.isTypeReferenceNode(arg) ? kernelTypeName(arg.typeName) : undefined;
        return pointee ? { ...PTR, pointee } : PTR;
      }
    }
    if (node.kind === ts.SyntaxKind.NumberKeyword) {
      return fail(node, Code.UnsupportedType, "`number` has no width: use one of u8 u16 u32 u64 i8 i16 i32 i64 (from \"tsbpf\")");
    }
    return fail(node, Code.UnsupportedType, `type \`${node.getText(file)}\` is not supported: use one of u8 u16 u32 u64 i8 i16 i32 i64 or Ptr<T>`);
  };

  // ---------------------------------------------------------------- module level

  function attempt(work: () => void): void {
    try {
      work();
    } catch (e) {
      if (!(e instanceof Abort)) throw e;
    }
  }

  /** `const NAME = <integer constant expression>` at module level: folded wherever it is used. */
  function moduleConstant(decl: TS.VariableDeclaration): void {
    const declared = decl.type ? intTypeOf(decl.type) : undefined;
    const fl = new FnLowering(new FunctionBuilder(), new Map(moduleScope));
    const v = fl.value(decl.initializer!);
    if (v.op.kind !== "imm") {
      fail(decl.initializer!, Code.UnsupportedTopLevel, "a module-level constant must be an integer computable at compile time (helpers run only inside handlers)");
    }
    const value = (v.op as Imm).value;
    if (declared && v.untyped && !fitsBits(value, declared)) fail(decl.initializer!, Code.OutOfRange, `${value} does not fit in ${typeName(declared)}`);
    moduleScope.set(checker.getSymbolAtLocation(decl.name)!, { kind: "const", val: declared ? { op: imm(value, declared) } : v });
  }

  function lowerModule(): Lowered {
    const probes: (() => void)[] = [];

    for (const stmt of file.statements) {
      if (ts.isImportDeclaration(stmt)) {
        const spec = (stmt.moduleSpecifier as TS.StringLiteral).text;
        if (spec !== "tsbpf" && spec !== "tsbpf/kernel") {
          report(stmt.moduleSpecifier, Code.UnsupportedImport, spec.startsWith("tsbpf/")
            ? `module "${spec}" is not available yet (kernel types need BTF support)`
            : `only "tsbpf" can be imported in a probe file, not "${spec}"`);
        }
        continue;
      }
      if (ts.isTypeAliasDeclaration(stmt) || ts.isInterfaceDeclaration(stmt) || ts.isEmptyStatement(stmt)) continue;
      if (ts.isVariableStatement(stmt)) {
        const isConst = (stmt.declarationList.flags & ts.NodeFlags.Const) !== 0;
        for (const decl of stmt.declarationList.declarations) {
          if (!ts.isIdentifier(decl.name) || !decl.initializer) {
            report(decl, Code.UnsupportedTopLevel, "module-level declarations must be `const NAME = value`");
            continue;
          }
          const name = decl.name.text;
          const init = decl.initializer;
          if (name === "license" && isConst && (ts.isStringLiteral(init) || ts.isNoSubstitutionTemplateLiteral(init))) {
            license = init.text;
            continue;
          }
          const kind = ts.isCallExpression(init) ? builtin(init.expression) : undefined;
          if (isConst && kind && (PROBES as readonly string[]).includes(kind)) {
            // Handlers are lowered once every module constant is known (they may use later ones).
            probes.push(() => programs.push(lowerProbe(name, kind as ProbeKind, init as TS.CallExpression)));
            continue;
          }
          if (isConst) {
            attempt(() => moduleConstant(decl));
            continue;
          }
          report(decl, Code.UnsupportedTopLevel, `module-level \`let\` and \`var\` are not supported: a probe file holds probes (\`const ${name} = kprobe(...)\`), integer constants, types and \`export const license\``);
        }
        continue;
      }
      report(stmt, Code.UnsupportedTopLevel, `${describe(ts, stmt)} are not supported at module level: a probe file holds imports, types, probes, integer constants and the license`);
    }
    for (const lowerOne of probes) attempt(lowerOne);
    if (license === undefined) {
      diagnostics.push(makeDiagnostic(file, Code.MissingLicense, 'missing `export const license = "GPL";`: the kernel requires a license, and printk needs a GPL-compatible one', 0, 0));
    }
    return { module: { functions: programs.map((p) => p.fn), rodata: rodata.bytes(), license: license ?? "" }, programs, diagnostics };
  }

  // ---------------------------------------------------------------- probes

  function lowerProbe(name: string, kind: ProbeKind, call: TS.CallExpression): LoweredProgram {
    const strings = kind === "uprobe" || kind === "uretprobe" || kind === "tracepoint" ? 2 : 1;
    const args = call.arguments;
    if (args.length !== strings + 1) fail(call, Code.BadProbe, `${kind}() takes ${strings === 2 ? "two strings" : "a string"} and a handler`);
    const names = args.slice(0, strings).map((a) => {
      if (!ts.isStringLiteral(a) && !ts.isNoSubstitutionTemplateLiteral(a)) return fail(a, Code.BadProbe, `the arguments of ${kind}() must be string literals`);
      if (a.text === "") return fail(a, Code.BadProbe, `the arguments of ${kind}() must not be empty`);
      return a.text;
    });
    const handler = args[strings]!;
    if (!ts.isArrowFunction(handler) && !ts.isFunctionExpression(handler)) {
      return fail(handler, Code.BadProbe, `the handler of ${kind}() must be an arrow function written in place`);
    }
    const section =
      kind === "tracepoint" ? `tracepoint/${names[0]}/${names[1]}` : kind === "uprobe" || kind === "uretprobe" ? `${kind}/${names[0]}:${names[1]}` : `${kind}/${names[0]}`;

    const fb = new FunctionBuilder();
    const scope = new Map<TS.Symbol, Binding>(moduleScope);
    const params = handler.parameters;
    if (kind === "tracepoint") {
      if (params.length > 1) fail(params[1]!, Code.TooManyParams, "a tracepoint handler takes one parameter: the tracepoint's record");
      const format = tracepoints.get(`${names[0]}/${names[1]}`);
      if (!format) throw new Abort(); // reported before type checking
      if (params[0]) scope.set(paramSymbol(params[0]), { kind: "tpctx", format });
    } else {
      if (!target) fail(call, Code.UnsupportedArch, "the compiler has no register layout for this architecture yet (x86_64 only)");
      const ret = kind === "kretprobe" || kind === "uretprobe";
      const max = ret ? 1 : target!.params.length;
      if (params.length > max) {
        fail(params[max]!, Code.TooManyParams, ret ? `a ${kind} handler takes one parameter: the return value` : `a ${kind} handler can read at most ${max} arguments (those passed in registers)`);
      }
      params.forEach((p, i) => {
        if (!p.type) fail(p, Code.MissingType, `parameter \`${p.name.getText(file)}\` needs a type (u8..i64 or Ptr<T>): without BTF the compiler cannot know the probed function's argument types`);
        const type = intTypeOf(p.type!);
        const reg = fb.vreg(type);
        fb.emit({ op: "ctx", dst: reg, offset: ret ? target!.ret : target!.params[i]!, size: 8, signed: false, loc: locOf(p) });
        scope.set(paramSymbol(p), { kind: "var", reg, mutable: true });
      });
    }

    const fl = new FnLowering(fb, scope);
    for (const b of scope.values()) if (b.kind === "var") fl.owned.add(b.reg.id);
    if (ts.isBlock(handler.body)) fl.block(handler.body);
    else fl.exprBody(handler.body);
    fb.terminate({ op: "ret", value: imm(0n, I64) });
    return { fn: fb.finish(name, section, locOf(handler)), kind };
  }

  function paramSymbol(p: TS.ParameterDeclaration): TS.Symbol {
    if (!ts.isIdentifier(p.name)) return fail(p.name, Code.Unsupported, "destructuring parameters is not supported");
    if (p.initializer) fail(p.initializer, Code.Unsupported, "default parameter values are not supported");
    if (p.dotDotDotToken) fail(p, Code.Unsupported, "rest parameters are not supported");
    return checker.getSymbolAtLocation(p.name)!;
  }

  // ---------------------------------------------------------------- handlers

  function imm(value: bigint, type: IntType): Imm {
    return { kind: "imm", value: normalize(value, type), type };
  }

  class FnLowering {
    /** Virtual registers that hold a named variable or parameter. */
    readonly owned = new Set<number>();

    constructor(
      readonly fb: FunctionBuilder,
      readonly scope: Map<TS.Symbol, Binding>,
    ) {}

    // ---- statements

    block(b: TS.Block): void {
      for (const s of b.statements) this.statement(s);
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
        const value = s.expression ? this.value(s.expression).op : imm(0n, I64);
        this.fb.terminate({ op: "ret", value, loc: locOf(s) });
        this.enter(this.fb.newBlock()); // anything after a return is unreachable and dropped
        return;
      }
      fail(s, Code.Unsupported, `${describe(ts, s)} are not supported in a probe handler`);
    }

    enter(b: Block): void {
      this.fb.enter(b);
    }

    declarations(list: TS.VariableDeclarationList): void {
      const mutable = (list.flags & ts.NodeFlags.Let) !== 0;
      if (!mutable && !(list.flags & ts.NodeFlags.Const)) fail(list, Code.Unsupported, "`var` is not supported: use `const` or `let`");
      for (const d of list.declarations) {
        if (!ts.isIdentifier(d.name)) fail(d.name, Code.Unsupported, "destructuring is not supported");
        if (!d.initializer) fail(d, Code.Unsupported, `\`${d.name.getText(file)}\` needs an initial value`);
        const declared = d.type ? intTypeOf(d.type) : undefined;
        const v = this.value(d.initializer!);
        const symbol = checker.getSymbolAtLocation(d.name)!;
        if (v.untyped && declared && v.op.kind === "imm" && !fitsBits(v.op.value, declared)) {
          fail(d.initializer!, Code.OutOfRange, `${v.op.value} does not fit in ${typeName(declared)}`);
        }
        if (!mutable && v.op.kind === "imm") {
          // Constants stay constants: folded wherever they are used.
          this.scope.set(symbol, { kind: "const", val: declared ? { op: imm(v.op.value, declared) } : v });
          continue;
        }
        const type = declared ?? (v.untyped ? defaultType((v.op as Imm).value) : v.op.type);
        if (v.op.kind === "reg" && !this.owned.has(v.op.id) && sameType(v.op.type, type)) {
          // A fresh temporary (not another variable's register) simply becomes the variable.
          this.owned.add(v.op.id);
          this.scope.set(symbol, { kind: "var", reg: v.op, mutable });
          continue;
        }
        const reg = this.fb.vreg(type);
        this.owned.add(reg.id);
        this.fb.emit({ op: "mov", dst: reg, src: v.op, loc: locOf(d) });
        this.scope.set(symbol, { kind: "var", reg, mutable });
      }
    }

    expressionStatement(e: TS.Expression): void {
      if (ts.isParenthesizedExpression(e)) return this.expressionStatement(e.expression);
      if (ts.isCallExpression(e) && builtin(e.expression) === "printk") return this.printk(e);
      if (ts.isBinaryExpression(e)) {
        const op = e.operatorToken.kind;
        if (op === ts.SyntaxKind.EqualsToken) return this.assign(e.left, () => this.value(e.right), e);
        const bin = COMPOUND.get(op);
        if (bin) return this.assign(e.left, (cur) => this.binary(bin, cur, this.value(e.right), e), e);
      }
      if ((ts.isPrefixUnaryExpression(e) || ts.isPostfixUnaryExpression(e)) && (e.operator === ts.SyntaxKind.PlusPlusToken || e.operator === ts.SyntaxKind.MinusMinusToken)) {
        const kind: BinOp = e.operator === ts.SyntaxKind.PlusPlusToken ? "add" : "sub";
        return this.assign(e.operand, (cur) => this.binary(kind, cur, { op: imm(1n, I64), untyped: true }, e), e);
      }
      this.discard(e);
    }

    discard(e: TS.Expression): void {
      if (ts.isCallExpression(e) && builtin(e.expression) === "printk") return this.printk(e);
      this.value(e);
    }

    assign(target: TS.Expression, compute: (current: Val) => Val, node: TS.Node): void {
      if (!ts.isIdentifier(target)) fail(target, Code.Unsupported, "only local variables can be assigned");
      const b = this.lookup(target as TS.Identifier);
      if (b.kind !== "var" || !b.mutable) return fail(target, Code.Unsupported, `\`${target.getText(file)}\` cannot be assigned`);
      const v = compute({ op: b.reg });
      if (v.untyped && v.op.kind === "imm" && !fitsBits(v.op.value, b.reg.type)) {
        fail(node, Code.OutOfRange, `${v.op.value} does not fit in ${typeName(b.reg.type)}`);
      }
      this.fb.emit({ op: "mov", dst: b.reg, src: v.op, loc: locOf(node) });
    }

    lookup(id: TS.Identifier): Binding {
      const symbol = checker.getSymbolAtLocation(id);
      const b = symbol && this.scope.get(symbol);
      if (!b) {
        const what = builtin(id);
        return fail(id, Code.UnknownName, what ? `\`${what}\` is not a value: call it` : `\`${id.text}\` cannot be used here: handlers see their parameters and their own local constants and variables`);
      }
      return b;
    }

    // ---- conditions

    /** Branches to `t` when `e` is true (non-zero), else to `f`; `&&`, `||` and `!` short-circuit. */
    cond(e: TS.Expression, t: Block, f: Block): void {
      if (ts.isParenthesizedExpression(e)) return this.cond(e.expression, t, f);
      if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.ExclamationToken) return this.cond(e.operand, f, t);
      if (e.kind === ts.SyntaxKind.TrueKeyword) return this.fb.terminate({ op: "jmp", target: t.id });
      if (e.kind === ts.SyntaxKind.FalseKeyword) return this.fb.terminate({ op: "jmp", target: f.id });
      if (ts.isBinaryExpression(e)) {
        const op = e.operatorToken.kind;
        if (op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken) {
          const mid = this.fb.newBlock();
          if (op === ts.SyntaxKind.AmpersandAmpersandToken) this.cond(e.left, mid, f);
          else this.cond(e.left, t, mid);
          this.enter(mid);
          return this.cond(e.right, t, f);
        }
        const cmp = COMPARE.get(op);
        if (cmp) {
          const [a, b, type] = this.operands(this.value(e.left), this.value(e.right));
          return this.fb.terminate({ op: "br", cmp, signed: type.signed, a, b, then: t.id, else: f.id, loc: locOf(e) });
        }
      }
      const v = this.value(e);
      this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: v.op, b: imm(0n, v.op.type), then: t.id, else: f.id, loc: locOf(e) });
    }

    /** A condition as a value: 1 or 0 (i32, like C's comparison operators). */
    boolValue(e: TS.Expression): Val {
      const dst = this.fb.vreg(I32);
      const t = this.fb.newBlock();
      const f = this.fb.newBlock();
      const join = this.fb.newBlock();
      this.cond(e, t, f);
      for (const [b, v] of [[t, 1n], [f, 0n]] as const) {
        this.enter(b);
        this.fb.emit({ op: "mov", dst, src: imm(v, I32) });
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
        return { op: imm(e.kind === ts.SyntaxKind.TrueKeyword ? 1n : 0n, I32) };
      }
      if (ts.isIdentifier(e)) {
        const b = this.lookup(e);
        if (b.kind === "var") return { op: b.reg };
        if (b.kind === "const") return b.val;
        return fail(e, Code.NotAnInteger, `\`${e.text}\` is the tracepoint record: read one of its fields (${b.format.fields.filter((f) => f.readable && f.tsType).map((f) => f.name).join(", ")})`);
      }
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
              const r = neg ? -v.op.value : ~v.op.value;
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
        if (bin) return this.binary(bin, this.value(e.left), this.value(e.right), e);
        if (op === ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken) {
          // JavaScript's unsigned shift: shift the left operand's bits as unsigned.
          const l = this.value(e.left);
          const lt = l.untyped ? U64 : promote(l.op.type);
          return this.binary("shr", this.convert(l, { bits: lt.bits, signed: false }), this.value(e.right), e);
        }
        if (COMPARE.has(op) || op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken) return this.boolValue(e);
        if (op === ts.SyntaxKind.EqualsToken || COMPOUND.has(op)) return fail(e, Code.Unsupported, "assignments are statements here, not values");
        return fail(e, Code.Unsupported, `the operator \`${e.operatorToken.getText(file)}\` is not supported`);
      }
      if (ts.isConditionalExpression(e)) return this.conditional(e);
      if (ts.isCallExpression(e)) return this.call(e);
      if (ts.isPropertyAccessExpression(e)) return this.property(e);
      if (ts.isTemplateExpression(e) || ts.isNoSubstitutionTemplateLiteral(e) || ts.isStringLiteral(e)) {
        return fail(e, Code.NotAnInteger, "strings are only supported as the message of printk()");
      }
      return fail(e, Code.Unsupported, `${describe(ts, e)} are not supported in a probe handler`);
    }

    /** A C cast. */
    cast(v: Val, type: IntType, node: TS.Node): Val {
      if (v.op.kind === "imm") return { op: imm(v.op.value, type) };
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
      if (a.untyped && b.untyped && a.op.kind === "imm" && b.op.kind === "imm") {
        // Both constants: the result type is what a declaration of either would get.
        const type = commonType(defaultType(a.op.value), defaultType(b.op.value));
        return this.joinValues(type, [tEnd, a], [fEnd, b], join);
      }
      const type = a.untyped ? b.op.type : b.untyped ? a.op.type : commonType(a.op.type, b.op.type);
      return this.joinValues(type, [tEnd, a], [fEnd, b], join);
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

    binary(kind: BinOp, a: Val, b: Val, node: TS.Node): Val {
      if ((kind === "div" || kind === "mod") && b.op.kind === "imm" && b.op.value === 0n) fail(node, Code.DivisionByZero, "division by zero");
      if (a.untyped && b.untyped && a.op.kind === "imm" && b.op.kind === "imm") {
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
      } else [x, y, type] = this.operands(a, b);
      if (x.kind === "imm" && y.kind === "imm") return { op: imm(fold(kind, x.value, y.value, type), type) };
      const dst = this.fb.vreg(type);
      this.fb.emit({ op: "bin", kind, dst, a: x, b: y, loc: locOf(node) });
      return { op: dst };
    }

    call(e: TS.CallExpression): Val {
      const name = builtin(e.expression);
      if (name && INT_TYPES[name]) {
        // u32(x) converts like `x as u32`; it is also how a bigint literal becomes a number-typed constant.
        if (e.arguments.length !== 1) fail(e, Code.Unsupported, `${name}() converts one value`);
        return this.cast(this.value(e.arguments[0]!), INT_TYPES[name]!, e);
      }
      const helper = name ? HELPER_CALLS[name] : undefined;
      if (name === "printk") return fail(e, Code.Unsupported, "printk() returns nothing: call it as a statement");
      if (name === "comm") return fail(e, Code.UnsupportedCall, "comm() is supported only as a value printed by printk (`${comm()}`) for now");
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

    property(e: TS.PropertyAccessExpression): Val {
      if (ts.isIdentifier(e.expression)) {
        const symbol = checker.getSymbolAtLocation(e.expression);
        const b = symbol && this.scope.get(symbol);
        if (b?.kind === "tpctx") return this.field(b.format, e);
      }
      const base = this.value(e.expression);
      const type = base.op.type;
      if (!type.ptr) return fail(e, Code.Unsupported, `property access \`${e.getText(file)}\` is not supported here`);
      const struct = type.pointee ? kernelStructs.get(type.pointee) : undefined;
      if (!struct) {
        return fail(e, Code.PointerAccess, `reading \`${e.getText(file)}\` needs the pointee's layout: declare the parameter as Ptr<T> with T a kernel struct imported from "tsbpf/kernel"`);
      }
      const m = struct.members.get(e.name.text);
      if (!m) return fail(e.name, Code.PointerAccess, `struct ${struct.name} has no readable member \`${e.name.text}\` (arrays, nested structs and bitfields are not supported yet)`);
      const dstType: IntType = m.kind === "ptr" ? (m.pointee ? { ...PTR, pointee: m.pointee } : PTR) : { bits: (m.size * 8) as 8 | 16 | 32 | 64, signed: m.signed };
      const dst = this.fb.vreg(dstType);
      const object = this.fb.stackObject(8);
      this.fb.emit({ op: "kread", dst, ptr: base.op, offset: m.offset, size: m.size, signed: m.signed, object, core: { struct: struct.name, member: m.name }, loc: locOf(e) });
      return { op: dst };
    }

    field(format: TracepointFormat, e: TS.PropertyAccessExpression): Val {
      const f: TracepointField | undefined = format.fields.find((x) => x.name === e.name.text);
      if (!f) return fail(e.name, Code.BadTracepointField, `${format.group}:${format.name} has no field \`${e.name.text}\``);
      if (!f.readable) fail(e.name, Code.BadTracepointField, `the kernel does not let tracepoint programs read the common field \`${f.name}\` (offset ${f.offset} < 8); use pidTgid() for the pid`);
      if (!f.tsType) fail(e.name, Code.BadTracepointField, `field \`${f.name}\` (${f.cType}) has a type the compiler does not support yet`);
      const type = f.tsType === "Ptr" ? PTR : INT_TYPES[f.tsType!]!;
      const dst = this.fb.vreg(type);
      this.fb.emit({ op: "ctx", dst, offset: f.offset, size: f.size as 1 | 2 | 4 | 8, signed: f.signed, loc: locOf(e) });
      return { op: dst };
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
          const v = this.value(x);
          if (v.op.kind === "imm") format += escape(String(v.op.type.ptr ? `0x${BigInt.asUintN(64, v.op.value).toString(16)}` : v.op.value));
          else {
            format += spec(v.op.type);
            args.push(v.op);
          }
          format += escape(span.literal.text);
        }
      } else fail(msg, Code.BadPrintk, "printk() takes a template literal (`...${x}...`) or a string literal");
      if (args.length > MAX_VPRINTK_ARGS) fail(msg, Code.BadPrintk, `printk() prints at most ${MAX_VPRINTK_ARGS} values; this message has ${args.length}`);
      const fmt = rodata.add(format);
      const fmtArgs: CallArg[] = [{ kind: "rodata", offset: fmt }, imm(BigInt(new TextEncoder().encode(format).length + 1), U32)];
      if (args.length <= 3) {
        this.fb.emit({ op: "call", helper: Helper.trace_printk, args: [...fmtArgs, ...args], loc: locOf(e) });
        return;
      }
      // More than three values: bpf_trace_vprintk with the values in a u64 array on the stack.
      const object = this.fb.stackObject(8 * args.length);
      args.forEach((a, i) => this.fb.emit({ op: "store", object, offset: 8 * i, src: a as Operand | StackAddr, loc: locOf(e) }));
      this.fb.emit({ op: "call", helper: Helper.trace_vprintk, args: [...fmtArgs, { kind: "stack", object }, imm(BigInt(8 * args.length), U32)], loc: locOf(e) });
    }
  }

  return lowerModule();
}

const HELPER_CALLS: Record<string, { id: number; type: IntType }> = {
  pidTgid: { id: Helper.get_current_pid_tgid, type: U64 },
  uidGid: { id: Helper.get_current_uid_gid, type: U64 },
  ktimeNs: { id: Helper.ktime_get_ns, type: U64 },
  smpProcessorId: { id: Helper.get_smp_processor_id, type: U32 },
  prandomU32: { id: Helper.get_prandom_u32, type: U32 },
};

/** The printf conversion for a value of type `t` (the kernel's bpf_trace_printk accepts these). */
function spec(t: IntType): string {
  if (t.ptr) return t.pointee === "char" ? "%s" : "0x%llx";
  if (t.bits === 64) return t.signed ? "%lld" : "%llu";
  return t.signed ? "%d" : "%u";
}

/** The type an unannotated declaration of a literal gets. */
function defaultType(v: bigint): IntType {
  return v > 0x7fffffffffffffffn ? U64 : I64;
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

let tables: { arith: Map<number, BinOp>; compound: Map<number, BinOp>; compare: Map<number, CmpOp> } | undefined;
function makeTables(ts: Typescript) {
  const K = ts.SyntaxKind;
  return {
    arith: new Map<number, BinOp>([
      [K.PlusToken, "add"], [K.MinusToken, "sub"], [K.AsteriskToken, "mul"], [K.SlashToken, "div"], [K.PercentToken, "mod"],
      [K.AmpersandToken, "and"], [K.BarToken, "or"], [K.CaretToken, "xor"], [K.LessThanLessThanToken, "shl"], [K.GreaterThanGreaterThanToken, "shr"],
    ]),
    compound: new Map<number, BinOp>([
      [K.PlusEqualsToken, "add"], [K.MinusEqualsToken, "sub"], [K.AsteriskEqualsToken, "mul"], [K.SlashEqualsToken, "div"], [K.PercentEqualsToken, "mod"],
      [K.AmpersandEqualsToken, "and"], [K.BarEqualsToken, "or"], [K.CaretEqualsToken, "xor"], [K.LessThanLessThanEqualsToken, "shl"], [K.GreaterThanGreaterThanEqualsToken, "shr"],
    ]),
    compare: new Map<number, CmpOp>([
      [K.EqualsEqualsEqualsToken, "eq"], [K.EqualsEqualsToken, "eq"], [K.ExclamationEqualsEqualsToken, "ne"], [K.ExclamationEqualsToken, "ne"],
      [K.LessThanToken, "lt"], [K.LessThanEqualsToken, "le"], [K.GreaterThanToken, "gt"], [K.GreaterThanEqualsToken, "ge"],
    ]),
  };
}
// Filled by initTables before lowering; module-level so the methods above can use them by name.
let ARITH: Map<number, BinOp>;
let COMPOUND: Map<number, BinOp>;
let COMPARE: Map<number, CmpOp>;

export function initTables(ts: Typescript): void {
  tables ??= makeTables(ts);
  ARITH = tables.arith;
  COMPOUND = tables.compound;
  COMPARE = tables.compare;
}

/** A plural name for a syntax kind, for "... are not supported" diagnostics. */
export function describe(ts: Typescript, node: TS.Node): string {
  const special: Record<string, string> = {
    ForStatement: "`for` loops", ForOfStatement: "`for...of` loops", ForInStatement: "`for...in` loops", WhileStatement: "`while` loops",
    DoStatement: "`do...while` loops", SwitchStatement: "`switch` statements", TryStatement: "`try` statements", ThrowStatement: "`throw` statements",
    FunctionDeclaration: "function declarations", ClassDeclaration: "classes", ArrowFunction: "arrow functions", FunctionExpression: "function expressions",
    ObjectLiteralExpression: "object literals", ArrayLiteralExpression: "array literals", NewExpression: "`new`", AwaitExpression: "`await`",
    ElementAccessExpression: "index expressions (`a[i]`)", TaggedTemplateExpression: "tagged templates", BreakStatement: "`break` statements", ContinueStatement: "`continue` statements",
    LabeledStatement: "labels", NullKeyword: "`null` values", UndefinedKeyword: "`undefined` values", ThisKeyword: "`this` expressions", TypeOfExpression: "`typeof` expressions",
    DeleteExpression: "`delete` expressions", VoidExpression: "`void` expressions", SpreadElement: "spread elements", EnumDeclaration: "enums", ExportAssignment: "`export default` declarations",
    ExportDeclaration: "re-exports", ModuleDeclaration: "namespaces",
  };
  const kind = ts.SyntaxKind[node.kind];
  return special[kind] ?? kind.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase() + "s";
}

