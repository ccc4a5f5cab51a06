// Lowering expressions: names, values, C's integer conversions, arithmetic and the logical operators.
//
// Integer typing follows C at the inferred width (docs/compiler.md): literals are untyped until they meet a typed
// operand (then they take its type) or a declaration (an unannotated one gets i64, or u64 when the value needs it);
// binary operators apply C's promotions and usual arithmetic conversions; shifts take the promoted left operand's
// type; `as u32` converts as a C cast. `boolean` is C's _Bool (the IR's BOOL): what TypeScript types boolean is a
// 0/1 value of it, and printk prints it as `true` or `false`.

import type * as TS from "typescript";
import {
  BOOL,
  I64,
  PTR,
  U32,
  U64,
  commonType,
  fits,
  normalize,
  promote,
  typeName,
  widens,
  type BinOp,
  type Block,
  type Imm,
  type IntType,
  type Operand,
} from "../../ir/index.js";
import { Code } from "../diagnostics.js";
import { CONSTANTS } from "../prelude.js";
import { CallLowering } from "./calls.js";
import { OPERATORS, describe, insteadOf } from "./syntax.js";
import { NUMBER_BITS, armsType, defaultType, fitsBits, fold, imm, joinType } from "./types.js";
import { Abort, type Binding, type Ref, type Val } from "./values.js";

export abstract class ExpressionLowering extends CallLowering {
  override value(e: TS.Expression): Val {
    if (this.ts.isParenthesizedExpression(e)) return this.value(e.expression);
    if (this.ts.isNumericLiteral(e)) {
      const text = e.text;
      const n = Number(text);
      if (!Number.isInteger(n)) this.fail(e, Code.BadLiteral, `${e.getText(this.file)} is not an integer: BPF has no floating point`);
      if (!Number.isSafeInteger(n)) this.fail(e, Code.BadLiteral, `${e.getText(this.file)} is beyond 2^53 and loses precision as a number: write it as a bigint literal (${e.getText(this.file)}n)`);
      return { op: imm(BigInt(n), I64), untyped: true };
    }
    if (this.ts.isBigIntLiteral(e)) {
      const v = BigInt(e.text.slice(0, -1));
      if (v > 0xffffffffffffffffn) this.fail(e, Code.OutOfRange, `${e.getText(this.file)} does not fit in 64 bits`);
      return { op: { kind: "imm", value: v, type: v > 0x7fffffffffffffffn ? U64 : I64 }, untyped: true };
    }
    if (e.kind === this.ts.SyntaxKind.TrueKeyword || e.kind === this.ts.SyntaxKind.FalseKeyword) {
      return { op: imm(e.kind === this.ts.SyntaxKind.TrueKeyword ? 1n : 0n, BOOL) };
    }
    const constant = this.cx.kernelConstant(e);
    if (constant) return constant;
    if (this.ts.isIdentifier(e)) {
      const flag = this.cx.builtin(e);
      if (flag && CONSTANTS[flag] !== undefined && !this.scope.has(this.checker.getSymbolAtLocation(e)!)) return { op: imm(CONSTANTS[flag]!, I64), untyped: true };
      const b = this.lookup(e);
      if (b.kind === "var") return { op: b.reg };
      if (b.kind === "const") return b.val;
      if (b.kind === "ref") return this.loadInt(b.ref, e);
      if (b.kind === "map") return this.fail(e, Code.NotAnInteger, `\`${e.text}\` is a map: call one of its methods`);
      return this.fail(e, Code.NotAnInteger, `\`${e.text}\` is the tracepoint record: read one of its fields (${b.format.fields.filter((f) => f.readable && f.tsType).map((f) => f.name).join(", ")})`);
    }
    // `5 as const` changes only TypeScript's view of the literal.
    if (this.ts.isAsExpression(e) && this.ts.isTypeReferenceNode(e.type) && e.type.typeName.getText(this.file) === "const") return this.value(e.expression);
    if (this.ts.isAsExpression(e)) return this.cast(this.value(e.expression), this.cx.intTypeOf(e.type), e);
    if (this.ts.isPrefixUnaryExpression(e)) {
      switch (e.operator) {
        case this.ts.SyntaxKind.PlusToken:
          return this.value(e.operand);
        case this.ts.SyntaxKind.ExclamationToken:
          return this.boolValue(e);
        case this.ts.SyntaxKind.MinusToken:
        case this.ts.SyntaxKind.TildeToken: {
          const v = this.value(e.operand);
          const neg = e.operator === this.ts.SyntaxKind.MinusToken;
          if (v.op.kind === "imm") {
            const r = neg ? -v.op.value : v.untyped && this.numberBits(e) ? ~BigInt.asIntN(32, v.op.value) : ~v.op.value;
            return v.untyped ? { op: { kind: "imm", value: r, type: I64 }, untyped: true } : { op: imm(r, promote(v.op.type)) };
          }
          const dst = this.fb.vreg(promote(v.op.type));
          this.fb.emit({ op: neg ? "neg" : "not", dst, a: v.op, loc: this.locOf(e) });
          return { op: dst };
        }
      }
      return this.fail(e, Code.Unsupported, `the operator \`${this.ts.tokenToString(e.operator)}\` is only supported as a statement (\`x++;\`)`);
    }
    if (this.ts.isBinaryExpression(e)) {
      const op = e.operatorToken.kind;
      const bin = OPERATORS.arith.get(op);
      if (bin && (this.cx.arithmeticString(e.left) || this.cx.arithmeticString(e.right))) return this.fail(e, Code.StringOperation, `strings cannot be joined or computed with \`${e.operatorToken.getText(this.file)}\`: printk formats several values in one message (\`printk(\`\${a} \${b}\`)\`)`);
      if (bin) return this.binary(bin, this.value(e.left), this.value(e.right), e);
      if (op === this.ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken) return this.unsignedShift(this.value(e.left), this.value(e.right), e);
      if (op === this.ts.SyntaxKind.QuestionQuestionToken) return this.orDefault(e);
      if (op === this.ts.SyntaxKind.AsteriskAsteriskToken) return this.power(e);
      if ((op === this.ts.SyntaxKind.AmpersandAmpersandToken || op === this.ts.SyntaxKind.BarBarToken) && !this.cx.isBoolean(e)) return this.logical(e);
      if (OPERATORS.compare.has(op) || op === this.ts.SyntaxKind.AmpersandAmpersandToken || op === this.ts.SyntaxKind.BarBarToken) return this.boolValue(e);
      if (op === this.ts.SyntaxKind.EqualsToken || OPERATORS.compound.has(op)) return this.fail(e, Code.Unsupported, "assignments are statements here, not values");
      return this.fail(e, Code.Unsupported, `the operator \`${e.operatorToken.getText(this.file)}\` is not supported`);
    }
    if (this.ts.isNonNullExpression(e)) {
      const r = this.tryRef(e);
      if (r) return this.loadInt(r, e);
      return this.value(e.expression);
    }
    if (this.ts.isConditionalExpression(e)) return this.conditional(e);
    // An enum member (`Sig.A`, `Sig["A"]`): its value, as any integer constant.
    const enumValue = this.cx.enumMemberValue(e);
    if (enumValue !== undefined) return { op: imm(BigInt(enumValue), I64), untyped: true };
    if (this.ts.isElementAccessExpression(e)) {
      const direct = this.recordElement(e) ?? this.kernelElement(e);
      if (direct) return direct;
      const base = this.tryRef(e.expression);
      if (base) return this.loadInt(this.elementRef(base, e.argumentExpression, e), e);
    }
    if (this.ts.isCallExpression(e)) return this.call(e);
    if (this.ts.isPropertyAccessExpression(e) && this.cx.isString(e.expression)) return this.cx.noStringProperty(e.name);
    const length = this.cx.arrayLength(e);
    if (length !== undefined) return { op: imm(BigInt(length), I64), untyped: true };
    if (this.ts.isPropertyAccessExpression(e)) return this.property(e);
    if (this.ts.isTemplateExpression(e) || this.ts.isNoSubstitutionTemplateLiteral(e) || this.ts.isStringLiteral(e)) {
      if (this.ts.isTemplateExpression(e)) return this.fail(e, Code.NotAnInteger, "a template string with values is formatted only as the message of printf() or printk(): pass it to one of them");
      // Where a string is kept (a const, a ternary's arm), it needs a size: Str<N> is a NUL-padded char array.
      return this.fail(e, Code.NotAnInteger, `a string here needs a size: give its binding a Str<N> type (\`const s: Str<16> = ${e.getText(this.file).length > 24 ? '"..."' : e.getText(this.file)}\`), or pass it straight to printf/printk`);
    }
    // Arr<T, N> indexing is handled above; anything else indexed is a record read by a computed name.
    if (this.ts.isElementAccessExpression(e)) {
      const key = e.argumentExpression;
      const byName = this.ts.isStringLiteralLike(key) ? `: write \`${e.expression.getText()}.${key.text}\`` : "";
      return this.fail(e, Code.Unsupported, `index expressions work on Arr<T, N> values only; fields are read by name, never by a computed key${byName}`);
    }
    return this.fail(e, Code.Unsupported, `${describe(this.ts, e)} are not supported in a probe handler${insteadOf(this.ts, e)}`);
  }

  /** `m.lookup(k) ?? d`: the value found, or d. */
  orDefault(e: TS.BinaryExpression): Val {
    // `p?.f ?? d`: name the optional chain, the construct the user reached for, not `??`.
    if (this.ts.isPropertyAccessExpression(e.left) && e.left.questionDotToken) {
      return this.fail(e.left, Code.Unsupported, `\`?.\` is not supported: test the value first (\`if (v !== null) ... v.${e.left.name.text}\`); a field read through a NULL kernel pointer gives 0`);
    }
    const r = this.tryRef(e.left);
    if (!r || !r.nullable || r.base.kind !== "reg") {
      const left = e.left.getText(this.file);
      return this.fail(e, Code.Unsupported, `\`??\` gives its right side only for null, and \`${left}\` is never null: write \`${left}\` (or \`${left} || d\` for d where it is 0); \`??\` is for a map lookup (\`m.lookup(k) ?? 0\`)`);
    }
    const found = this.fb.newBlock();
    const missing = this.fb.newBlock();
    const join = this.fb.newBlock();
    this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: r.base, b: imm(0n, PTR), then: found.id, else: missing.id, loc: this.locOf(e) });
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
    const or = e.operatorToken.kind === this.ts.SyntaxKind.BarBarToken;
    const a = this.value(e.left);
    if (a.op.kind === "imm") return (a.op.value !== 0n) === or ? a : this.value(e.right);
    const left = this.fb.newBlock();
    const right = this.fb.newBlock();
    const join = this.fb.newBlock();
    this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: a.op, b: imm(0n, a.op.type), then: (or ? left : right).id, else: (or ? right : left).id, loc: this.locOf(e) });
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
  override cast(v: Val, type: IntType, node: TS.Node): Val {
    if (type.bool || v.op.kind === "imm") return this.convert(v, type);
    const dst = this.fb.vreg(type);
    this.fb.emit({ op: "mov", dst, src: v.op, loc: this.locOf(node) });
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
  override convert(v: Val, type: IntType): Val {
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
        const advice = [`compare with 0 (a ${typeName(t)} is never negative)`, `convert it first (\`i64(${other.getText(this.file)})\`${t.bits === 64 ? ", when it is below 2^63" : ""})`];
        // A number made by 32-bit bitwise operators (`F.TOP | F.A` with TOP = 1 << 31) is negative in JavaScript
        // too; its bits as an unsigned number are what a flags test means.
        if (c.op.value >= -(1n << 31n) && !(this.ts.isPrefixUnaryExpression(self) && self.operator === this.ts.SyntaxKind.MinusToken)) {
          const text = this.ts.isParenthesizedExpression(self) || this.ts.isIdentifier(self) || this.ts.isPropertyAccessExpression(self) ? self.getText(this.file) : `(${self.getText(this.file)})`;
          advice.unshift(`write the bits as the unsigned number they are (\`${text} >>> 0\` is ${BigInt.asUintN(32, c.op.value)})`);
        }
        this.fail(node, Code.OutOfRange, `\`${other.getText(this.file)}\` is a ${typeName(t)}, and C compares it with ${c.op.value} converted to ${BigInt.asUintN(t.bits, c.op.value)}, which is not TypeScript's answer: ${advice.slice(0, -1).join(", ")}, or ${advice.at(-1)}`);
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
    if (this.checker.getTypeAtLocation(node).flags & this.ts.TypeFlags.BigIntLike) return false;
    if (shift && (count! < 0n || count! > 31n)) {
      this.fail(node, Code.OutOfRange, `\`${node.getText(this.file)}\` shifts a number by ${count}, which TypeScript takes mod 32 on 32 bits: shift by 0 to 31, or shift a 64-bit value (\`u64(1) << 40\`, \`i64(x) << 40\`)`);
    }
    return true;
  }

  override binary(kind: BinOp, a: Val, b: Val, node: TS.Node): Val {
    if ((kind === "div" || kind === "mod") && b.op.kind === "imm" && b.op.value === 0n) this.fail(node, Code.DivisionByZero, "division by zero");
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
        this.fail(node, Code.OutOfRange, `a shift by ${by} is out of range for ${typeName(type)}: shift by 0 to ${type.bits - 1}`);
      }
    } else [x, y, type] = this.operands(a, b);
    if (x.kind === "imm" && y.kind === "imm") return { op: imm(fold(kind, x.value, y.value, type), type) };
    const dst = this.fb.vreg(type);
    this.fb.emit({ op: "bin", kind, dst, a: x, b: y, loc: this.locOf(node) });
    return { op: dst };
  }

  /** `a ** n` of constants (n at most 64), folded as that many multiplications: BPF has no power instruction. */
  power(e: TS.BinaryExpression): Val {
    const [base, exponent] = [this.value(e.left), this.value(e.right)];
    const n = exponent.op.kind === "imm" ? BigInt.asIntN(64, exponent.op.value) : -1n;
    if (base.op.kind !== "imm" || n < 0n || n > 64n) {
      return this.fail(e, Code.Unsupported, "`**` works on constants only, with an exponent from 0 to 64 (BPF has no power instruction): multiply, or shift for a power of two (`1 << n`)");
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

  /** What a `mov` into a variable of `type` takes: a mov converts as C does, but to _Bool only by comparing with zero. */
  movable(v: Val, type: IntType): Operand {
    return type.bool ? this.convert(v, type).op : v.op;
  }

  lookup(id: TS.Identifier): Exclude<Binding, { kind: "failed" | "string" | "param" }> {
    // In `{ calls }` the name is the property; the value is the variable it names.
    const symbol = this.ts.isShorthandPropertyAssignment(id.parent) && id.parent.name === id ? this.checker.getShorthandAssignmentValueSymbol(id.parent) : this.checker.getSymbolAtLocation(id);
    const b = symbol && this.scope.get(symbol);
    if (b?.kind === "failed") throw new Abort();
    if (b?.kind === "param") {
      // Read where it is named: a load from .rodata, which the verifier sees as the constant the loader wrote.
      if (b.array) return { kind: "ref", ref: this.parameterArray(b, id) };
      const address = this.fb.vreg(PTR);
      this.fb.emit({ op: "rodata", dst: address, offset: b.offset, loc: this.locOf(id) });
      const reg = this.fb.vreg(b.type);
      this.fb.emit({ op: "load", dst: reg, base: address, offset: 0, size: (b.type.bits / 8) as 1 | 2 | 4 | 8, signed: b.type.signed, loc: this.locOf(id) });
      return { kind: "var", reg, mutable: false };
    }
    if (b?.kind === "string") return this.fail(id, Code.NotAnInteger, `\`${id.text}\` is a string constant: it names what a kprobe, uprobe or USDT probe probes, or serves as the format of printf() or time()`);
    // JavaScript's undefined is a global name, not a keyword: not a variable the handler cannot see.
    if (!b && id.text === "undefined") return this.fail(id, Code.Unsupported, "`undefined` values are not supported in a probe handler: a value is an integer, a boolean, a Str or a struct (`return;` leaves a handler without one)");
    if (!b) {
      const what = this.cx.builtin(id);
      return this.fail(id, Code.UnknownName, what ? `\`${what}\` is not a value: call it` : `\`${id.text}\` cannot be used here: handlers see their parameters and their own local constants and variables`);
    }
    return b;
  }

  /** An array parameter where it is named: its .rodata memory, read element by element where it is indexed. */
  override parameterArray(param: Binding & { kind: "param" }, node: TS.Node): Ref {
    const address = this.fb.vreg(PTR);
    this.fb.emit({ op: "rodata", dst: address, offset: param.offset, loc: this.locOf(node) });
    return { layout: param.array!, base: address, offset: 0, parameter: param.name };
  }
}
