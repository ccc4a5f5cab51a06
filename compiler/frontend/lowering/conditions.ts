// Lowering conditions: comparisons and boolean expressions as branches.

import type * as TS from "typescript";
import { BOOL, I32, I64, PTR, U32, U64, U8, promote, type BinOp, type Block, type Imm, type IntType, type Operand, type VReg } from "../../ir/index.js";
import { Code } from "../diagnostics.js";
import { ExpressionLowering } from "./expressions.js";
import { OPERATORS } from "./syntax.js";
import { imm } from "./types.js";
import type { Val } from "./values.js";

export abstract class ConditionLowering extends ExpressionLowering {
  /** Branches to `t` when `e` is true (non-zero), else to `f`; `&&`, `||` and `!` short-circuit. */
  override cond(e: TS.Expression, t: Block, f: Block): void {
    if (this.ts.isParenthesizedExpression(e)) return this.cond(e.expression, t, f);
    if (this.ts.isPrefixUnaryExpression(e) && e.operator === this.ts.SyntaxKind.ExclamationToken) return this.cond(e.operand, f, t);
    if (e.kind === this.ts.SyntaxKind.TrueKeyword) return this.fb.terminate({ op: "jmp", target: t.id });
    if (e.kind === this.ts.SyntaxKind.FalseKeyword) return this.fb.terminate({ op: "jmp", target: f.id });
    const stringTest = this.stringTest(e);
    if (stringTest) return stringTest(t, f);
    if (this.ts.isBinaryExpression(e)) {
      const op = e.operatorToken.kind;
      const isNull = (x: TS.Expression): boolean => x.kind === this.ts.SyntaxKind.NullKeyword || (this.ts.isIdentifier(x) && x.text === "undefined");
      const eq = op === this.ts.SyntaxKind.EqualsEqualsEqualsToken || op === this.ts.SyntaxKind.EqualsEqualsToken;
      const ne = op === this.ts.SyntaxKind.ExclamationEqualsEqualsToken || op === this.ts.SyntaxKind.ExclamationEqualsToken;
      if ((eq || ne) && (isNull(e.left) || isNull(e.right))) {
        const other = isNull(e.left) ? e.right : e.left;
        const r = this.tryRef(other);
        if (!r) return this.fail(other, Code.Unsupported, "only map lookups and ring buffer reservations can be null");
        if (r.base.kind !== "reg") return this.fb.terminate({ op: "jmp", target: (eq ? f : t).id });
        return this.fb.terminate({ op: "br", cmp: eq ? "eq" : "ne", signed: false, a: r.base, b: imm(0n, PTR), then: t.id, else: f.id, loc: this.locOf(e) });
      }
      if (op === this.ts.SyntaxKind.AmpersandAmpersandToken || op === this.ts.SyntaxKind.BarBarToken) {
        const mid = this.fb.newBlock();
        if (op === this.ts.SyntaxKind.AmpersandAmpersandToken) this.cond(e.left, mid, f);
        else this.cond(e.left, t, mid);
        this.enter(mid);
        return this.cond(e.right, t, f);
      }
      const cmp = OPERATORS.compare.get(op);
      if (cmp) {
        const [a, b, type] = this.comparands(this.value(e.left), this.value(e.right), e, [e.left, e.right]);
        return this.fb.terminate({ op: "br", cmp, signed: type.signed, a, b, then: t.id, else: f.id, loc: this.locOf(e) });
      }
    }
    const recorded = this.tracepointField(e);
    if (recorded?.shape?.kind === "str") {
      // A record's char array is non-empty when its first byte is not NUL: one load, no copy.
      const first = this.fb.vreg(U8);
      this.fb.emit({ op: "ctx", dst: first, offset: recorded.offset, size: 1, signed: false, loc: this.locOf(e) });
      return this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: first, b: imm(0n, U8), then: t.id, else: f.id, loc: this.locOf(e) });
    }
    if (recorded?.shape?.kind === "dynamic-str") {
      // A __data_loc string's length (the u32's high half) counts its NUL: non-empty is more than 1.
      const where = this.fb.vreg(U32);
      this.fb.emit({ op: "ctx", dst: where, offset: recorded.offset, size: 4, signed: false, loc: this.locOf(e) });
      const length = this.fb.vreg(U32);
      this.fb.emit({ op: "bin", kind: "shr", dst: length, a: where, b: imm(16n, U32), loc: this.locOf(e) });
      return this.fb.terminate({ op: "br", cmp: "gt", signed: false, a: length, b: imm(1n, U32), then: t.id, else: f.id, loc: this.locOf(e) });
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
        this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: r.base, b: imm(0n, PTR), then: byValue ? found.id : t.id, else: f.id, loc: this.locOf(e) });
        if (!byValue) return;
        this.enter(found);
      }
      const x = this.loadInt(r.layout.kind === "str" ? { ...r, layout: this.cx.intLayout(U8) } : r, e);
      return this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: x.op, b: imm(0n, x.op.type), then: t.id, else: f.id, loc: this.locOf(e) });
    }
    const v = this.value(e);
    this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: v.op, b: imm(0n, v.op.type), then: t.id, else: f.id, loc: this.locOf(e) });
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
    while (this.ts.isBlock(body) && body.statements.length === 1) body = body.statements[0]!;
    if (!this.ts.isExpressionStatement(body)) return false;
    const e = this.cx.skipParentheses(body.expression);
    let target: TS.Expression;
    let kind: BinOp;
    let amount: bigint;
    if ((this.ts.isPrefixUnaryExpression(e) || this.ts.isPostfixUnaryExpression(e)) && (e.operator === this.ts.SyntaxKind.PlusPlusToken || e.operator === this.ts.SyntaxKind.MinusMinusToken)) {
      [target, kind, amount] = [e.operand, e.operator === this.ts.SyntaxKind.PlusPlusToken ? "add" : "sub", 1n];
    } else if (this.ts.isBinaryExpression(e) && (e.operatorToken.kind === this.ts.SyntaxKind.PlusEqualsToken || e.operatorToken.kind === this.ts.SyntaxKind.MinusEqualsToken) && this.ts.isNumericLiteral(e.right)) {
      [target, kind, amount] = [e.left, e.operatorToken.kind === this.ts.SyntaxKind.PlusEqualsToken ? "add" : "sub", BigInt(e.right.text.replace(/_/g, ""))];
    } else return false;
    target = this.cx.skipParentheses(target);
    if (!this.ts.isIdentifier(target) || amount <= 0n || amount >= 1n << 31n) return false;
    const b = this.scope.get(this.checker.getSymbolAtLocation(target)!);
    if (b?.kind !== "var" || !b.mutable) return false;
    const flag = this.flag(s.expression, () => this.statement(s.thenStatement));
    if (flag === "branched") return true;
    if (!flag) return false;
    const loc = this.locOf(s.expression);
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
    c = this.cx.skipParentheses(c);
    if (!this.ts.isBinaryExpression(c)) return undefined;
    const cmp = OPERATORS.compare.get(c.operatorToken.kind);
    if (!cmp) return undefined;
    const loc = this.locOf(c);
    const bin = (kind: BinOp, type: IntType, a: Operand, b: Operand): VReg => {
      const dst = this.fb.vreg(type);
      this.fb.emit({ op: "bin", kind, dst, a, b, loc });
      return dst;
    };
    const zero = (x: TS.Expression): boolean => this.ts.isNumericLiteral(x) && BigInt(x.text.replace(/_/g, "")) === 0n;
    const tested = zero(c.right) ? this.cx.skipParentheses(c.left) : zero(c.left) ? this.cx.skipParentheses(c.right) : undefined;
    if ((cmp === "eq" || cmp === "ne") && tested && this.ts.isBinaryExpression(tested) && tested.operatorToken.kind === this.ts.SyntaxKind.AmpersandToken) {
      const [x, m] = this.ts.isNumericLiteral(tested.right) ? [tested.left, tested.right] : this.ts.isNumericLiteral(tested.left) ? [tested.right, tested.left] : [];
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
  override boolValue(e: TS.Expression): Val {
    return this.zeroOrOne(this.cx.isBoolean(e) ? BOOL : I32, (t, f) => this.cond(e, t, f));
  }

  /** 1 or 0 of `type` as `branch` goes to its first or second block. */
  override zeroOrOne(type: IntType, branch: (t: Block, f: Block) => void): Val {
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
}
