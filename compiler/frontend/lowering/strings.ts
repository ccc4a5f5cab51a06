// Lowering strings: Str<N> compared with literals and with each other, startsWith, includes (bpftrace's strcontains),
// strncmp, charCodeAt.

import type * as TS from "typescript";
import { BOOL, PTR, U64, U8, type Block, type Layout, type Loc, type VReg } from "../../ir/index.js";
import { Code } from "../diagnostics.js";
import { COMM_LAYOUT, PRINTED_STRING, UNROLLED_STRING_COMPARE, UNSIGNED_OF_SIZE } from "./constants.js";
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
    if (this.ts.isCallExpression(e) && this.ts.isPropertyAccessExpression(e.expression) && e.expression.name.text === "includes" && this.cx.isString(e.expression.expression)) {
      const call = e;
      return (t, f) => this.includes(call, (call.expression as TS.PropertyAccessExpression).expression, call.arguments, t, f);
    }
    if (this.ts.isCallExpression(e) && this.cx.builtin(e.expression) === "strcontains") {
      const call = e;
      return (t, f) => this.includes(call, call.arguments[0], call.arguments.slice(1), t, f);
    }
    return undefined;
  }

  /**
   * One side of a string comparison: a literal's bytes, or a Str<N> in memory (an inline comm() gets a stack
   * copy, an inline readUserStr(p) or readKernelStr(p) a 64-byte one, bpftrace's str() size; a tracepoint's __data_loc
   * string a copy of its first `room` - 1 bytes, as many as the comparison reads).
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
    // An inline readUserStr(p) or readKernelStr(p) reads into a 64-byte stack copy, as bpftrace's str(p) compares.
    if (helper) return { kind: "str", ref: this.materialize(e, PRINTED_STRING, e), size: PRINTED_STRING.size, read: e.getText(this.file) };
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
    if (literal.bytes.length >= str.size && str.read) {
      this.fail(node, Code.StringOperation, `${str.read} compared in place reads at most ${str.size - 1} bytes (bpftrace's str() size), so it can never equal "${literal.text}" (${literal.bytes.length} bytes): read it into a longer Str first, \`const s: Str<${2 ** Math.ceil(Math.log2(literal.bytes.length + 1))}> = ${str.read}\``);
    }
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
   * strncmp(a, b, n), bpftrace's strncmp(): to `t` when the two strings' first n bytes match (`a.slice(0, n) ===
   * b.slice(0, n)`: as far as a NUL both share, or the end of a Str<N> that is full), else to `f`. n is a constant.
   */
  strncmp(e: TS.CallExpression, t: Block, f: Block): void {
    const [left, right, count] = e.arguments;
    if (!left || !right || !count || e.arguments.length > 3) return this.fail(e, Code.UnsupportedCall, 'strncmp() takes two strings and how many bytes to compare: strncmp(comm(), "bash", 4)');
    const n = this.value(count);
    const limit = n.op.kind === "imm" ? BigInt.asIntN(64, n.op.value) : undefined;
    if (limit === undefined || limit < 0n) return this.fail(count, Code.OutOfRange, `strncmp()'s byte count is a constant of 0 or more${limit === undefined ? "" : `, not ${limit}`}, as bpftrace's is`);
    const [a, b] = this.isDynamicString(right) ? this.dynamicOperands(right, left).reverse() : this.dynamicOperands(left, right);
    // Beyond the larger Str's size (or a literal's NUL) every byte compares as the end: no more to read.
    const most = Math.max(a.kind === "str" ? a.size + 1 : a.bytes.length + 1, b.kind === "str" ? b.size + 1 : b.bytes.length + 1);
    const n2 = Number(limit < BigInt(most) ? limit : BigInt(most));
    if (n2 === 0) return this.fb.terminate({ op: "jmp", target: t.id });
    if (a.kind === "literal" && b.kind === "literal") {
      const cut = (s: StringOperand & { kind: "literal" }) => cString(s.bytes).subarray(0, n2).join(",");
      return this.fb.terminate({ op: "jmp", target: (cut(a) === cut(b) ? t : f).id });
    }
    if (a.kind === "str" && b.kind === "str") return this.strPrefixEqualsStr(a, b, n2, e, t, f);
    const [str, literal] = a.kind === "str" ? [a, b as StringOperand & { kind: "literal" }] : [b as StringOperand & { kind: "str" }, a];
    // The literal's bytes and its NUL, as far as the count reaches.
    const bytes = cString(literal.bytes);
    const expected = new Uint8Array(bytes.length + 1);
    expected.set(bytes);
    const reach = Math.min(n2, expected.length);
    // A Str<N> ends after N bytes: a literal with a byte at N (not its NUL) within the count is never its prefix.
    if (reach > str.size && expected[str.size] !== 0) return this.fb.terminate({ op: "jmp", target: f.id });
    this.matchBytes(str.ref, expected.subarray(0, Math.min(reach, str.size)), e, t, f);
  }

  /** Two Str values' first `limit` bytes, as strEqualsStr compares them whole. */
  strPrefixEqualsStr(a: StringOperand & { kind: "str" }, b: StringOperand & { kind: "str" }, limit: number, node: TS.Node, t: Block, f: Block): void {
    const shared = Math.min(a.size, b.size);
    const count = Math.min(limit, shared);
    const longer = a.size > b.size ? a : b.size > a.size ? b : undefined;
    const tail = this.fb.newBlock();
    if (count <= UNROLLED_STRING_COMPARE) this.compareUnrolled(a.ref, b.ref, count, node, t, f, tail);
    else this.compareLoop(a.ref, b.ref, count, node, t, f, tail);
    this.enter(tail);
    if (!longer || count === limit) return this.fb.terminate({ op: "jmp", target: t.id });
    // The shorter Str is full: within the count, the longer one must end where it does.
    this.matchBytes({ ...longer.ref, offset: longer.ref.offset + shared }, new Uint8Array(1), node, t, f);
  }

  /**
   * `haystack.includes(needle)` and strcontains(haystack, needle), bpftrace's strcontains(): to `t` when the needle's
   * string (a literal or a Str<N>) appears in the haystack's (a Str<N>), before the NUL or the end that ends it, else
   * to `f`. A loop over the haystack's positions the verifier walks, inside it one over a Str needle's bytes.
   */
  includes(e: TS.CallExpression, haystack: TS.Expression | undefined, args: readonly TS.Expression[], t: Block, f: Block): void {
    const [needle] = args;
    if (!haystack || !needle || args.length > 1) return this.fail(e, Code.UnsupportedCall, 'strcontains() takes the string to search and the string to find: strcontains(comm(), "java"), or s.includes("java")');
    for (const x of [haystack, needle]) {
      if (this.isDynamicString(x)) return this.fail(x, Code.StringOperation, `copy the string into a Str<N> first: \`const s: Str<64> = ${x.getText(this.file)}\``);
    }
    const h = this.stringOperand(haystack);
    const n = this.stringOperand(needle);
    if (h.kind === "literal") {
      if (n.kind === "literal") return this.fb.terminate({ op: "jmp", target: (new TextDecoder().decode(cString(h.bytes)).includes(new TextDecoder().decode(cString(n.bytes))) ? t : f).id });
      return this.fail(haystack, Code.StringOperation, "the string searched is a Str<N> (a literal's contents are known: compare the needle with ===)");
    }
    const loc = this.locOf(e);
    const bytes = n.kind === "literal" ? cString(n.bytes) : undefined;
    if (bytes?.length === 0) return this.fb.terminate({ op: "jmp", target: t.id });
    if (bytes && bytes.length > h.size) return this.fb.terminate({ op: "jmp", target: f.id });
    // Positions where the needle still fits: all of them for a Str needle, which may be shorter than its size.
    const positions = bytes ? h.size - bytes.length + 1 : h.size;
    const i = this.fb.vreg(U64);
    this.fb.emit({ op: "mov", dst: i, src: imm(0n, U64), loc });
    const [top, body, next] = [this.fb.newBlock(), this.fb.newBlock(), this.fb.newBlock()];
    this.fb.terminate({ op: "jmp", target: top.id });
    this.enter(top);
    this.fb.terminate({ op: "br", cmp: "lt", signed: false, a: i, b: imm(BigInt(positions), U64), then: body.id, else: f.id, loc });
    this.enter(body);
    if (bytes) {
      // The haystack's NUL at this position ends it; otherwise its bytes here against the literal's, one at a time
      // (the position's alignment is unknown).
      const at = this.indexed(h.ref, i, e);
      const first = this.loadByte(at, 0, loc);
      const go = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "eq", signed: false, a: first, b: imm(0n, U8), then: f.id, else: go.id, loc });
      this.enter(go);
      bytes.forEach((byte, k) => {
        const x = k === 0 ? first : this.loadByte(at, k, loc);
        const same = k + 1 < bytes.length ? this.fb.newBlock() : t;
        this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: x, b: imm(BigInt(byte), U8), then: next.id, else: same.id, loc });
        if (same !== t) this.enter(same);
      });
    } else {
      const str = n as StringOperand & { kind: "str" };
      // j counts the needle's bytes matched here, k the haystack's index they reach.
      const [j, k] = [this.fb.vreg(U64), this.fb.vreg(U64)];
      this.fb.emit({ op: "mov", dst: j, src: imm(0n, U64), loc });
      this.fb.emit({ op: "mov", dst: k, src: i, loc });
      const [inner, more, inside, advance] = [this.fb.newBlock(), this.fb.newBlock(), this.fb.newBlock(), this.fb.newBlock()];
      this.fb.terminate({ op: "jmp", target: inner.id });
      this.enter(inner);
      // The needle's whole Str matched, or its NUL reached: found.
      this.fb.terminate({ op: "br", cmp: "lt", signed: false, a: j, b: imm(BigInt(str.size), U64), then: more.id, else: t.id, loc });
      this.enter(more);
      const y = this.loadByte(this.indexed(str.ref, j, e), 0, loc);
      const left = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "eq", signed: false, a: y, b: imm(0n, U8), then: t.id, else: left.id, loc });
      this.enter(left);
      // Needle left past the haystack's end or NUL: it appears at no later position either.
      this.fb.terminate({ op: "br", cmp: "lt", signed: false, a: k, b: imm(BigInt(h.size), U64), then: inside.id, else: f.id, loc });
      this.enter(inside);
      const x = this.loadByte(this.indexed(h.ref, k, e), 0, loc);
      const differ = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "eq", signed: false, a: x, b: imm(0n, U8), then: f.id, else: differ.id, loc });
      this.enter(differ);
      this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: x, b: y, then: next.id, else: advance.id, loc });
      this.enter(advance);
      for (const r of [j, k]) this.fb.emit({ op: "bin", kind: "add", dst: r, a: r, b: imm(1n, U64), loc });
      this.fb.terminate({ op: "jmp", target: inner.id });
    }
    this.enter(next);
    this.fb.emit({ op: "bin", kind: "add", dst: i, a: i, b: imm(1n, U64), loc });
    this.fb.terminate({ op: "jmp", target: top.id });
  }

  /**
   * The address of a Ref's byte `index` (a register the loop bounds), made where it is read: a stack address plus the
   * index in one block, which the LLVM backend keeps an add (not an `|=` it would make of an aligned slot's address).
   */
  indexed(r: Ref, index: VReg, node: TS.Node): VReg {
    const p = this.pointerTo(r, node);
    this.fb.emit({ op: "bin", kind: "add", dst: p, a: p, b: index, loc: this.locOf(node) });
    return p;
  }

  /** The byte at `p` + `offset`, a u8. */
  loadByte(p: VReg, offset: number, loc: Loc): VReg {
    const x = this.fb.vreg(U8);
    this.fb.emit({ op: "load", dst: x, base: p, offset, size: 1, signed: false, loc });
    return x;
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
    if (method === "includes") return this.zeroOrOne(BOOL, (t, f) => this.includes(e, callee.expression, e.arguments, t, f));
    if (method === "charCodeAt") return this.charCodeAt(e, callee);
    return this.fail(callee.name, Code.StringOperation, `${method}() is not supported on strings: a Str<N> supports ===, !==, startsWith("..."), includes(s) and charCodeAt(i)`);
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

/** A literal's bytes up to its first NUL, where a C string ends. */
function cString(bytes: Uint8Array): Uint8Array {
  const end = bytes.indexOf(0);
  return end < 0 ? bytes : bytes.subarray(0, end);
}
