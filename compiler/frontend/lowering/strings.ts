// Lowering strings: Str<N> compared with literals and with each other, startsWith, charCodeAt.

import type * as TS from "typescript";
import { BOOL, PTR, U64, U8, type Block, type Layout, type Loc, type VReg } from "../../ir/index.js";
import { Code } from "../diagnostics.js";
import { COMM_LAYOUT, UNROLLED_STRING_COMPARE, UNSIGNED_OF_SIZE } from "./constants.js";
import { PrintfLowering } from "./printf.js";
import { OPERATORS } from "./syntax.js";
import { imm } from "./types.js";
import type { Ref, StringOperand, Val } from "./values.js";

export abstract class StringLowering extends PrintfLowering {
  // A Str<N> is a C string of at most N bytes: its value ends at the first NUL, or after N bytes.

  /** How `e` branches when it is a string condition (`s === "lit"`, `a !== b`, `s.startsWith("lit")`); undefined otherwise. */
  stringTest(e: TS.Expression): ((t: Block, f: Block) => void) | undefined {
    if (this.ts.isBinaryExpression(e) && this.cx.isString(e.left) && this.cx.isString(e.right)) {
      const cmp = OPERATORS.compare.get(e.operatorToken.kind);
      if (!cmp) return undefined;
      if (cmp !== "eq" && cmp !== "ne") return this.fail(e.operatorToken, Code.StringOperation, "strings compare only with `===` and `!==`: Str values have no order");
      return (t, f) => (cmp === "eq" ? this.stringEquals(e, t, f) : this.stringEquals(e, f, t));
    }
    if (this.ts.isCallExpression(e) && this.ts.isPropertyAccessExpression(e.expression) && e.expression.name.text === "startsWith" && this.cx.isString(e.expression.expression)) {
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
    if (this.ts.isParenthesizedExpression(e)) return this.stringOperand(e.expression, room);
    if (room !== undefined && this.isDynamicString(e)) {
      const layout: Layout = { kind: "str", size: room, align: 1 };
      return { kind: "str", ref: this.materialize(e, layout, e), size: room };
    }
    if (this.ts.isStringLiteral(e) || this.ts.isNoSubstitutionTemplateLiteral(e)) return { kind: "literal", text: e.text, bytes: new TextEncoder().encode(e.text) };
    const helper = this.stringCall(e);
    if (helper === "comm") return { kind: "str", ref: this.materialize(e, COMM_LAYOUT, e), size: COMM_LAYOUT.size };
    if (helper) return this.fail(e, Code.StringOperation, `${helper}() needs a Str<N> to fill before it is compared: \`const s: Str<64> = ${e.getText(this.file)}\``);
    const r = this.tryRef(e);
    if (r?.layout.kind === "str") return { kind: "str", ref: r, size: r.layout.size };
    return this.fail(e, Code.StringOperation, `\`${e.getText(this.file)}\` is neither a Str<N> nor a string literal: only those compare`);
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
      this.fail(node, Code.StringOperation, `a Str<${str.size}> holds at most ${str.size - 1} bytes before its NUL, so it can never equal "${literal.text}" (${literal.bytes.length} bytes)`);
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
    if (this.isDynamicString(other)) this.fail(other, Code.StringOperation, `copy one of the two strings into a Str<N> first: \`const s: Str<64> = ${other.getText(this.file)}\``);
    const b = this.stringOperand(other);
    const room = b.kind === "literal" ? b.bytes.length + 2 : b.size + 1;
    return [this.stringOperand(dynamic, room), b];
  }

  /** `s.startsWith("lit")`: the literal's bytes match the Str's first bytes. */
  startsWith(e: TS.CallExpression, t: Block, f: Block): void {
    const arg = e.arguments[0];
    if (e.arguments.length !== 1 || !arg || !(this.ts.isStringLiteral(arg) || this.ts.isNoSubstitutionTemplateLiteral(arg))) {
      return this.fail(e, Code.StringOperation, "startsWith() takes one string literal (`s.startsWith(\"/tmp/\")`)");
    }
    const prefix = new TextEncoder().encode(arg.text);
    // A __data_loc string is copied as far as the prefix reaches.
    const receiver = this.stringOperand((e.expression as TS.PropertyAccessExpression).expression, prefix.length + 1);
    if (receiver.kind === "literal") return this.fb.terminate({ op: "jmp", target: (receiver.text.startsWith(arg.text) ? t : f).id });
    if (prefix.length > receiver.size) this.fail(arg, Code.StringOperation, `a Str<${receiver.size}> can never start with "${arg.text}" (${prefix.length} bytes)`);
    this.matchBytes(receiver.ref, prefix, e, t, f);
  }

  /**
   * Branches to `t` when the bytes at `r` are `expected`, else to `f`: loads as wide as the
   * address's known alignment allows (as `chunks` copies), each compared with the little-endian
   * value of its bytes, leaving at the first difference.
   */
  matchBytes(r: Ref, expected: Uint8Array, node: TS.Node, t: Block, f: Block): void {
    const loc = this.locOf(node);
    for (let at = 0; at < expected.length; ) {
      const size = ([8, 4, 2, 1] as const).find((n) => this.cx.aligned(r, at, n) && at + n <= expected.length)!;
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
      this.compareByte({ ...a, offset: a.offset + i }, { ...b, offset: b.offset + i }, this.locOf(node), t, f, next);
      if (next !== tail) this.enter(next);
    }
  }

  /** compareUnrolled as a loop the verifier walks `count` times: two pointers and a counter, a few instructions. */
  compareLoop(a: Ref, b: Ref, count: number, node: TS.Node, t: Block, f: Block, tail: Block): void {
    const loc = this.locOf(node);
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
    if (r.base.kind === "stack") this.fb.emit({ op: "addr", dst, object: r.base.object, offset: (r.base.offset ?? 0) + r.offset, loc: this.locOf(node) });
    else this.fb.emit({ op: "bin", kind: "add", dst, a: r.base, b: imm(BigInt(r.offset), U64), loc: this.locOf(node) });
    return dst;
  }

  /** `s.startsWith("lit")` as a value, `s.charCodeAt(i)`; other string methods are diagnostics. */
  stringMethod(e: TS.CallExpression, callee: TS.PropertyAccessExpression): Val {
    const method = callee.name.text;
    if (method === "startsWith") return this.zeroOrOne(BOOL, (t, f) => this.startsWith(e, t, f));
    if (method === "charCodeAt") return this.charCodeAt(e, callee);
    return this.fail(callee.name, Code.StringOperation, `${method}() is not supported on strings: a Str<N> supports ===, !==, startsWith("...") and charCodeAt(i)`);
  }

  /** `s.charCodeAt(i)`: the byte at i as a u8; a constant i is checked now, a variable one as `a[i]` checks it. */
  charCodeAt(e: TS.CallExpression, callee: TS.PropertyAccessExpression): Val {
    const receiver = this.stringOperand(callee.expression);
    if (receiver.kind !== "str") return this.fail(callee.expression, Code.StringOperation, "charCodeAt() reads a Str<N>; a literal's character codes are constants");
    const index = e.arguments[0];
    if (e.arguments.length !== 1 || !index) return this.fail(e, Code.StringOperation, "charCodeAt() takes one index");
    const i = this.value(index);
    if (i.op.kind === "imm") {
      const n = BigInt.asIntN(64, i.op.value);
      if (n < 0n || n >= BigInt(receiver.size)) this.fail(index, Code.OutOfRange, `index ${n} is outside Str<${receiver.size}>`);
    }
    const bytes: Ref = { ...receiver.ref, layout: { kind: "array", element: this.cx.intLayout(U8), length: receiver.size, size: receiver.size, align: 1 } };
    return this.loadInt(this.elementAt(bytes, i, index, e), e);
  }
}
