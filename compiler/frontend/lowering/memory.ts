// Lowering memory values: structs, strings and arrays on the stack, in maps and in ring buffer records.

import type * as TS from "typescript";
import { BOOL, I64, PTR, U32, U64, U8, fits, typeName, type CallArg, type Layout, type Operand, type StackAddr, type VReg } from "../../ir/index.js";
import { Helper } from "../../isa/helpers.js";
import { inetBytes } from "../../ir/printf.js";
import { Code } from "../diagnostics.js";
import { AF_INET, AF_INET6, INET_LAYOUT, MAC_ADDR_LAYOUT, USER_SYMBOL_LAYOUT, bufLayout } from "./constants.js";
import { MapLowering } from "./maps.js";
import { aLayout, imm, outOfRange, sameLayout, withArticle } from "./types.js";
import { Abort, type MapInfo, type Ref, type Val } from "./values.js";

export abstract class MemoryLowering extends MapLowering {
  /** A zeroed stack object for a value of `layout`; the frame holds at most 512 bytes. */
  override temp(layout: Layout, node: TS.Node): Ref {
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
    const ref: Ref = { layout, base: { kind: "stack", object: this.fb.stackObject(this.cx.align(layout.size + 1, 8), 8, this.locOf(node)) }, offset: 0 };
    this.cx.endsWithRoom.add(ref);
    return ref;
  }

  override stackTemp(layout: Layout, node: TS.Node): Ref {
    const size = this.cx.align(layout.size, 8);
    if (size > 512) this.fail(node, Code.StackTooLarge, `this needs ${size} bytes of stack; BPF allows 512: keep large values in a map (a PerCpuArrayMap as scratch space) or reserve them in a ring buffer`);
    const object = this.fb.stackObject(size, 8, this.locOf(node));
    return { layout, base: { kind: "stack", object }, offset: 0 };
  }

  /**
   * A Str<N>'s text in a stack buffer of N + 1 bytes that ends with a NUL, for the kernel's %s, which reads to a NUL:
   * a Str that fills its N bytes has none (one read from user memory or a map), and %s would print what follows. Its
   * N bytes are copied as they are (bpf_probe_read_kernel_str would read a byte past them, which may not be mapped).
   */
  override terminated(str: Ref, node: TS.Node): StackAddr {
    const n = str.layout.size;
    if (this.cx.endsWithRoom.has(str)) {
      const base = str.base as StackAddr;
      this.fb.emit({ op: "st", base, offset: n, size: 1, src: imm(0n, U8), loc: this.locOf(node) });
      return base;
    }
    if (this.cx.align(n + 1, 8) > 512) this.fail(node, Code.StackTooLarge, `printing this Str needs ${this.cx.align(n + 1, 8)} bytes of stack; BPF allows 512: print it with printf(), which copies it into its record`);
    const object = this.fb.stackObject(this.cx.align(n + 1, 8), 8, this.locOf(node));
    this.fb.emit({ op: "call", helper: Helper.probe_read_kernel, args: [{ kind: "stack", object }, imm(BigInt(n), U32), this.addrOf(str, node)], loc: this.locOf(node) });
    this.fb.emit({ op: "st", base: { kind: "stack", object }, offset: n, size: 1, src: imm(0n, U8), loc: this.locOf(node) });
    return { kind: "stack", object };
  }

  /** The address of a Ref's bytes, as a helper argument. */
  override addrOf(r: Ref, node: TS.Node): CallArg {
    if (r.base.kind === "stack") return { kind: "stack", object: r.base.object, offset: (r.base.offset ?? 0) + r.offset };
    if (!r.offset) return r.base;
    const dst = this.fb.vreg(PTR);
    this.fb.emit({ op: "bin", kind: "add", dst, a: r.base, b: imm(BigInt(r.offset), U64), loc: this.locOf(node) });
    return dst;
  }

  override loadInt(r: Ref, node: TS.Node): Val {
    if (r.layout.kind !== "int") return this.fail(node, Code.NotAnInteger, `\`${node.getText(this.file)}\` is ${aLayout(r.layout)}, not an integer`);
    const dst = this.fb.vreg(r.layout.type);
    this.fb.emit({ op: "load", dst, base: r.base, offset: r.offset, size: r.layout.size, signed: r.layout.type.signed, loc: this.locOf(node) });
    return { op: dst };
  }

  override storeInt(r: Ref, v: Val, node: TS.Node): void {
    if (r.layout.kind !== "int") return this.fail(node, Code.NotAnInteger, `${aLayout(r.layout)} cannot hold an integer`);
    const type = r.layout.type;
    if (v.untyped && v.op.kind === "imm" && !fits(v.op.value, type)) this.fail(node, Code.OutOfRange, outOfRange(v.op.value, type));
    this.fb.emit({ op: "st", base: r.base, offset: r.offset, size: r.layout.size, src: this.convert(v, type).op, loc: this.locOf(node) });
  }

  /** Stores in the widest pieces the offsets' alignment allows: zeroes, or a copy of `src`. */
  override chunks(dst: Ref, size: number, node: TS.Node, src?: Ref): void {
    for (let at = 0; at < size; ) {
      const c = ([8, 4, 2, 1] as const).find((n) => this.cx.aligned(dst, at, n) && (!src || this.cx.aligned(src, at, n)) && at + n <= size)!;
      let value: Operand = imm(0n, U64);
      if (src) {
        const t = this.fb.vreg(U64);
        this.fb.emit({ op: "load", dst: t, base: src.base, offset: src.offset + at, size: c, signed: false, loc: this.locOf(node) });
        value = t;
      }
      this.fb.emit({ op: "st", base: dst.base, offset: dst.offset + at, size: c, src: value, loc: this.locOf(node) });
      at += c;
    }
  }

  override zero(r: Ref, node: TS.Node): void {
    this.chunks(r, r.base.kind === "stack" && r.offset === 0 ? this.cx.align(r.layout.size, 8) : r.layout.size, node);
  }

  fieldRef(base: Ref, name: TS.MemberName | TS.StringLiteral): Ref {
    if (base.layout.kind === "str") return this.cx.noStringProperty(name);
    if (base.layout.kind !== "struct") return this.fail(name, Code.Unsupported, `${aLayout(base.layout)} has no fields`);
    const f = base.layout.fields.find((x) => x.name === name.getText(this.file));
    if (!f) return this.fail(name, Code.Unsupported, `struct ${base.layout.name} has no field \`${name.getText(this.file)}\``);
    return { layout: f.layout, base: base.base, offset: base.offset + f.offset };
  }

  /** `a[i]`: a constant index is checked now; a variable one at run time (out of range ends the handler, returning 0). */
  elementRef(base: Ref, index: TS.Expression, node: TS.Node): Ref {
    if (base.layout.kind !== "array") return this.fail(node, Code.Unsupported, `only Arr<T, N> values can be indexed, not ${aLayout(base.layout)}`);
    return this.elementAt(base, this.value(index), index, node);
  }

  /** elementRef with the index already computed (`i`, from the expression `index`). */
  override elementAt(base: Ref, i: Val, index: TS.Expression, node: TS.Node): Ref {
    if (base.layout.kind !== "array") return this.fail(node, Code.Unsupported, `only Arr<T, N> values can be indexed, not ${aLayout(base.layout)}`);
    const { element, length } = base.layout;
    if (i.op.kind === "imm") {
      const n = BigInt.asIntN(64, i.op.value);
      if (n < 0n || n >= BigInt(length)) this.fail(index, Code.OutOfRange, `index ${n} is outside Arr<..., ${length}>`);
      return { layout: element, base: base.base, offset: base.offset + Number(n) * element.size, ...(base.parameter && { parameter: base.parameter }) };
    }
    // Indexing a record (non-null, since it is accessed) that the out-of-range exit would leave reserved: the
    // verifier refuses a program that ends holding one, so that exit gives it back.
    const held = base.base.kind === "reg" && this.cx.reservations.has(base.base) ? base.base : undefined;
    return this.elementBelow(base, this.boundsCheck(i, length, index, held), node);
  }

  /** The element at `idx` of an Arr value, `idx` known to be below its length (checked, or a loop's bound). */
  elementBelow(base: Ref, idx: Operand, node: TS.Node): Ref {
    if (base.layout.kind !== "array") return this.fail(node, Code.Unsupported, `only Arr<T, N> values can be indexed, not ${aLayout(base.layout)}`);
    const { element } = base.layout;
    let start: VReg;
    if (base.base.kind === "stack") {
      start = this.fb.vreg(PTR);
      this.fb.emit({ op: "addr", dst: start, object: base.base.object, offset: (base.base.offset ?? 0) + base.offset, loc: this.locOf(node) });
    } else start = this.addrOf(base, node) as VReg;
    const off = this.fb.vreg(U64);
    this.fb.emit({ op: "bin", kind: "mul", dst: off, a: idx, b: imm(BigInt(element.size), U64), loc: this.locOf(node) });
    const at = this.fb.vreg(PTR);
    this.fb.emit({ op: "bin", kind: "add", dst: at, a: start, b: off, loc: this.locOf(node) });
    if (base.base.kind === "stack" || this.cx.stackAtRunTimeOffset.has(base.base)) this.cx.stackAtRunTimeOffset.add(at);
    return { layout: element, base: at, offset: 0, ...(base.parameter && { parameter: base.parameter }) };
  }

  /** A variable index as u64, past a check that it is below `length` (out of range ends the handler, returning 0, having discarded `held`). */
  boundsCheck(i: Val, length: number, index: TS.Expression, held?: VReg): Operand {
    const idx = this.convert(i, U64).op;
    const ok = this.fb.newBlock();
    const trap = this.fb.newBlock();
    this.fb.terminate({ op: "br", cmp: "lt", signed: false, a: idx, b: imm(BigInt(length), U64), then: ok.id, else: trap.id, bounds: true, loc: this.locOf(index) });
    this.enter(trap);
    for (const r of new Set([held, this.filling])) if (r) this.fb.emit({ op: "call", helper: Helper.ringbuf_discard, args: [r, imm(0n, U64)], loc: this.locOf(index) });
    this.fb.terminate({ op: "ret", value: imm(0n, I64) });
    this.enter(ok);
    return idx;
  }

  mapOf(e: TS.Expression): MapInfo | undefined {
    if (!this.ts.isIdentifier(e)) return undefined;
    const symbol = this.checker.getSymbolAtLocation(e);
    const b = symbol && this.scope.get(symbol);
    if (b?.kind === "failed") throw new Abort();
    return b?.kind === "map" ? b.map : undefined;
  }

  /** The memory an expression denotes, if it denotes memory (emits code only for map lookups and reservations). */
  override tryRef(e: TS.Expression): Ref | undefined {
    if (this.ts.isParenthesizedExpression(e)) return this.tryRef(e.expression);
    // An enum member is a number, not memory.
    if (this.cx.enumMemberValue(e) !== undefined) return undefined;
    if (this.ts.isNonNullExpression(e)) {
      const r = this.tryRef(e.expression);
      if (r?.nullable) this.fail(e, Code.Unsupported, "`!` does not check for null, and the verifier insists on a check: test the value (`if (v !== null)`)");
      return r;
    }
    if (this.ts.isIdentifier(e)) {
      const symbol = this.ts.isShorthandPropertyAssignment(e.parent) && e.parent.name === e ? this.checker.getShorthandAssignmentValueSymbol(e.parent) : this.checker.getSymbolAtLocation(e);
      const b = symbol && this.scope.get(symbol);
      // A declaration already reported: its uses say nothing more.
      if (b?.kind === "failed") throw new Abort();
      if (b?.kind === "param" && b.array) return this.parameterArray(b, e);
      return b?.kind === "ref" ? b.ref : undefined;
    }
    if (this.ts.isPropertyAccessExpression(e)) {
      if (this.cx.arrayLength(e) !== undefined) return undefined;
      const recorded = this.tracepointField(e);
      if (recorded) return this.recordArray(recorded, e);
      const base = this.tryRef(e.expression);
      if (!base) return this.cx.kernelMemberOf(e)?.member?.kind === "array" ? this.kernelArrayCopy(e) : undefined;
      const f = this.fieldRef(base, e.name);
      return f.layout.kind === "int" ? undefined : f;
    }
    if (this.ts.isElementAccessExpression(e)) {
      // Record arrays hold integers only, kernel arrays integers or pointers: their elements are values, read
      // without copying the array (by recordElement and kernelElement).
      if (this.tracepointField(e.expression)) return undefined;
      if (this.ts.isPropertyAccessExpression(e.expression) && this.cx.kernelMemberOf(e.expression)?.member?.kind === "array") return undefined;
      const base = this.tryRef(e.expression);
      if (!base || base.layout.kind !== "array" || base.layout.element.kind === "int") return undefined;
      return this.elementRef(base, e.argumentExpression, e);
    }
    if (this.ts.isCallExpression(e)) {
      const result = this.memoryCall(e);
      if (result) return result;
    }
    if (this.ts.isCallExpression(e) && this.ts.isPropertyAccessExpression(e.expression)) {
      const m = this.mapOf(e.expression.expression);
      const method = e.expression.name.text;
      if (m && (method === "lookup" || method === "reserve")) return this.mapRefCall(m, method, e);
    }
    return undefined;
  }

  /** An l-value: a field or element of memory (integers included). */
  lvalue(target: TS.Expression): Ref {
    if (this.ts.isParenthesizedExpression(target)) return this.lvalue(target.expression);
    if (this.ts.isPropertyAccessExpression(target)) {
      const base = this.tryRef(target.expression);
      if (base) return this.fieldRef(base, target.name);
    }
    if (this.ts.isElementAccessExpression(target)) {
      const base = this.tryRef(target.expression);
      if (base) return this.elementRef(base, target.argumentExpression, target);
    }
    return this.fail(target, Code.Unsupported, this.ts.isPropertyAccessExpression(target) ? `\`${target.getText(this.file)}\` cannot be assigned: kernel memory and tracepoint records are read-only` : "only local variables, struct fields and array elements can be assigned");
  }

  /** A value in memory of `layout`: an existing Ref, or a zeroed stack copy of what `e` computes. */
  override materialize(e: TS.Expression, layout: Layout, node: TS.Node): Ref {
    const filled = this.ts.isObjectLiteralExpression(e) || this.ts.isArrayLiteralExpression(e) || this.cx.isChoice(e) || this.ts.isStringLiteral(e);
    if (layout.kind !== "int" && !filled && !this.stringCall(e) && !this.isDynamicString(e)) {
      const r = this.tryRef(e);
      if (!r) return this.fail(e, Code.NotAnInteger, `expected ${aLayout(layout)} here`);
      if (!sameLayout(r.layout, layout)) this.fail(e, Code.UnsupportedType, `expected ${aLayout(layout)}, got ${aLayout(r.layout)}`);
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
    while (this.ts.isParenthesizedExpression(bare)) bare = bare.expression;
    if (!this.ts.isStringLiteralLike(bare) && this.stringCall(bare) !== "comm") this.zero(dst, e);
    this.assignInto(dst, e);
  }

  /** A `__data_loc` string field of a tracepoint record: copied into a Str<N> or printed, never bound as it is. */
  override isDynamicString(e: TS.Expression): boolean {
    return this.tracepointField(e)?.shape?.kind === "dynamic-str";
  }

  /** The one argument of a helper reading at an address: a Ptr or all 64 bits of an integer (a u64 argument, `ctx.args[1]`). */
  address(call: TS.CallExpression, helper: string): Operand {
    const sized = helper === "readUser" || helper === "readKernel";
    if (call.arguments.length !== 1 && !(sized && call.arguments.length === 2)) this.fail(call, Code.UnsupportedCall, sized ? `${helper}() takes a pointer and, for a Str<N> or Arr<T, N>, a length in bytes` : `${helper}() takes one pointer`);
    const p = this.value(call.arguments[0]!);
    if (!p.untyped && !p.op.type.ptr && p.op.type.bits !== 64) {
      this.fail(call.arguments[0]!, Code.PointerAccess, `${helper}() reads at an address: \`${call.arguments[0]!.getText(this.file)}\` is ${withArticle(typeName(p.op.type))}, too narrow for one (use a Ptr or a u64)`);
    }
    return p.op;
  }

  /** `readUser<T>(p)` / `readKernel<T>(p)`: the helper and the layout of T, which must be written. */
  readCall(e: TS.Expression): { helper: number; layout: Layout } | undefined {
    if (!this.ts.isCallExpression(e)) return undefined;
    const name = this.cx.builtin(e.expression);
    if (name !== "readUser" && name !== "readKernel") return undefined;
    const t = e.typeArguments?.[0];
    if (!t) return this.fail(e, Code.MissingType, `${name}() needs the type it reads: \`${name}<u64>(p)\`, or a struct's interface`);
    return { helper: name === "readUser" ? Helper.probe_read_user : Helper.probe_read_kernel, layout: this.cx.layoutOf(t) };
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
    if (read.layout.kind === "int" && read.layout.type.bool) this.storeInt(into, this.convert({ op: this.loadInt({ ...into, layout: this.cx.intLayout(U8) }, e).op }, BOOL), e);
    return into;
  }

  /** The read of `e` into `dst`; `zeroed` when dst holds zeroes already (a read of a length leaves the rest as it is). */
  readInto(dst: Ref, read: { helper: number; layout: Layout }, e: TS.CallExpression, zeroed = false): void {
    const p = this.address(e, this.cx.builtin(e.expression)!);
    const length = e.arguments[1];
    const size = length ? this.readLength(read.layout, length, e) : imm(BigInt(read.layout.size), U32);
    // Bytes past the length read are zero, as a Str<N> ends at its first NUL and an Arr read whole would be.
    if (length && !zeroed) this.zero(dst, e);
    this.fb.emit({ op: "call", helper: read.helper, args: [this.addrOf(dst, e), size, p], loc: this.locOf(e) });
  }

  /**
   * `readUser<Str<N>>(p, len)`'s byte count: len clamped to [0, N], which the verifier must see bounded (the
   * helper's size is checked against the destination). A negative signed length reads nothing.
   */
  readLength(layout: Layout, length: TS.Expression, e: TS.CallExpression): Operand {
    const name = this.cx.builtin(e.expression)!;
    if (layout.kind !== "str" && layout.kind !== "array") return this.fail(length, Code.UnsupportedCall, `${name}() of ${aLayout(layout)} reads all of it: a length is for a Str<N> or an Arr<T, N> (read at most that many bytes)`);
    const max = BigInt(layout.size);
    const v = this.value(length);
    if (v.op.kind === "imm") {
      const n = v.op.type.signed ? BigInt.asIntN(64, v.op.value) : v.op.value;
      if (n < 0n || n > max) this.fail(length, Code.OutOfRange, `a length of ${n} bytes is outside ${aLayout(layout)} (0 to ${max})`);
      return imm(n, U32);
    }
    return this.clampLength(v, max, length);
  }

  /** A length known only at run time, clamped to [0, max] where the verifier sees it so (a negative signed one is 0). */
  override clampLength(v: Val, max: bigint, length: TS.Node): Operand {
    const n = this.fb.vreg(U64);
    this.fb.emit({ op: "mov", dst: n, src: this.convert(v, v.op.type.signed ? I64 : U64).op, loc: this.locOf(length) });
    const [clamp, done] = [this.fb.newBlock(), this.fb.newBlock()];
    const toZero = v.op.type.signed ? this.fb.newBlock() : undefined;
    if (toZero) {
      const high = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "lt", signed: true, a: n, b: imm(0n, I64), then: toZero.id, else: high.id, bounds: true, loc: this.locOf(length) });
      this.enter(toZero);
      this.fb.emit({ op: "mov", dst: n, src: imm(0n, U64), loc: this.locOf(length) });
      this.fb.terminate({ op: "jmp", target: done.id });
      this.enter(high);
    }
    this.fb.terminate({ op: "br", cmp: "gt", signed: false, a: n, b: imm(max, U64), then: clamp.id, else: done.id, bounds: true, loc: this.locOf(length) });
    this.enter(clamp);
    this.fb.emit({ op: "mov", dst: n, src: imm(max, U64), loc: this.locOf(length) });
    this.fb.terminate({ op: "jmp", target: done.id });
    this.enter(done);
    return n;
  }

  /** comm(), readUserStr(p), readKernelStr(p): helpers that fill a Str<N>. */
  override stringCall(e: TS.Expression): string | undefined {
    if (!this.ts.isCallExpression(e)) return undefined;
    const name = this.cx.builtin(e.expression);
    return name === "comm" || name === "readUserStr" || name === "readKernelStr" ? name : undefined;
  }

  /** dst = e, for every kind of memory. */
  override assignInto(dst: Ref, e: TS.Expression): void {
    if (this.ts.isParenthesizedExpression(e)) return this.assignInto(dst, e.expression);
    const l = dst.layout;
    if (l.kind === "int") return this.storeInt(dst, this.value(e), e);
    if (this.ts.isBinaryExpression(e) && e.operatorToken.kind === this.ts.SyntaxKind.QuestionQuestionToken) {
      // `m.lookup(k) ?? { ... }`: the element's bytes where the lookup found one, else the right side.
      const src = this.tryRef(e.left);
      if (src?.nullable && src.base.kind === "reg") {
        if (!sameLayout(src.layout, l)) return this.fail(e.left, Code.UnsupportedType, `${aLayout(src.layout)} cannot be assigned to ${aLayout(l)}`);
        const [found, missing, done] = [this.fb.newBlock(), this.fb.newBlock(), this.fb.newBlock()];
        this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: src.base, b: imm(0n, PTR), then: found.id, else: missing.id, loc: this.locOf(e) });
        this.enter(found);
        this.chunks(dst, l.size, e.left, { ...src, nullable: false });
        this.fb.terminate({ op: "jmp", target: done.id });
        this.enter(missing);
        this.assignInto(dst, e.right);
        this.fb.terminate({ op: "jmp", target: done.id });
        return this.enter(done);
      }
    }
    if (this.ts.isConditionalExpression(e)) {
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
    if (this.ts.isObjectLiteralExpression(e)) {
      if (l.kind !== "struct") return this.fail(e, Code.UnsupportedType, `an object literal cannot be ${aLayout(l)}`);
      for (const p of e.properties) {
        if (this.ts.isPropertyAssignment(p) && (this.ts.isIdentifier(p.name) || this.ts.isStringLiteral(p.name))) this.assignInto(this.fieldRef(dst, p.name), p.initializer);
        else if (this.ts.isShorthandPropertyAssignment(p)) this.assignInto(this.fieldRef(dst, p.name), p.name);
        else this.fail(p, Code.Unsupported, "object literals hold `name: value` and `name` properties only");
      }
      return;
    }
    if (this.ts.isArrayLiteralExpression(e)) {
      if (l.kind !== "array") return this.fail(e, Code.UnsupportedType, `an array literal cannot be ${aLayout(l)}`);
      if (e.elements.length > l.length) this.fail(e, Code.OutOfRange, `${e.elements.length} elements do not fit in Arr<..., ${l.length}>`);
      if (e.elements.length < l.length) this.zero(dst, e);
      e.elements.forEach((x, i) => this.assignInto({ layout: l.element, base: dst.base, offset: dst.offset + i * l.element.size }, x));
      return;
    }
    const helper = this.stringCall(e);
    if (helper) {
      if (l.kind !== "str") return this.fail(e, Code.UnsupportedType, `${helper}() gives a string: assign it to a Str<N>, not ${aLayout(l)}`);
      const call = e as TS.CallExpression;
      const where = this.addrOf(dst, e);
      if (helper === "comm") {
        if (call.arguments.length) this.fail(call.arguments[0]!, Code.UnsupportedCall, "comm() takes no arguments");
        this.fb.emit({ op: "call", helper: Helper.get_current_comm, args: [where, imm(BigInt(l.size), U32)], loc: this.locOf(e) });
        return;
      }
      if (call.arguments.length !== 1) this.fail(call, Code.UnsupportedCall, `${helper}() takes one pointer`);
      const p = this.address(call, helper);
      const id = helper === "readUserStr" ? Helper.probe_read_user_str : Helper.probe_read_kernel_str;
      this.fb.emit({ op: "call", helper: id, args: [where, imm(BigInt(l.size), U32), p], loc: this.locOf(e) });
      return;
    }
    if (this.isDynamicString(e)) {
      if (l.kind !== "str") return this.fail(e, Code.UnsupportedType, `\`${e.getText(this.file)}\` is a string: assign it to a Str<N>, not ${aLayout(l)}`);
      const src = this.dynamicString(e)!;
      this.fb.emit({ op: "call", helper: Helper.probe_read_kernel_str, args: [this.addrOf(dst, e), imm(BigInt(l.size), U32), src], loc: this.locOf(e) });
      return;
    }
    // A literal, or a module-level string constant (`const NAME = "bash"`).
    const text = this.ts.isStringLiteral(e) || this.ts.isNoSubstitutionTemplateLiteral(e) ? e.text : this.ts.isIdentifier(e) ? this.formatText(e) : undefined;
    if (text !== undefined) {
      if (l.kind !== "str") return this.fail(e, Code.UnsupportedType, `a string cannot be ${aLayout(l)}`);
      const bytes = new TextEncoder().encode(text);
      if (bytes.length >= l.size) this.fail(e, Code.OutOfRange, `"${text}" needs ${bytes.length + 1} bytes; the Str holds ${l.size}`);
      this.zero(dst, e);
      bytes.forEach((b, i) => this.fb.emit({ op: "st", base: dst.base, offset: dst.offset + i, size: 1, src: imm(BigInt(b), U8), loc: this.locOf(e) }));
      return;
    }
    const read = this.readCall(e);
    if (read) {
      if (!sameLayout(read.layout, l)) return this.fail(e, Code.UnsupportedType, `${aLayout(read.layout)} cannot be assigned to ${aLayout(l)}`);
      return this.readInto(dst, read, e as TS.CallExpression);
    }
    // A kernel array stored to the stack is read straight into place, as clang reads into an event's field.
    if (dst.base.kind === "stack" && this.ts.isPropertyAccessExpression(e) && this.cx.kernelMemberOf(e)?.member?.kind === "array") return void this.kernelArrayCopy(e, dst);
    const src = this.tryRef(e);
    if (!src) return this.fail(e, Code.NotAnInteger, `expected ${aLayout(l)} here`);
    if (!sameLayout(src.layout, l)) return this.fail(e, Code.UnsupportedType, `${aLayout(src.layout)} cannot be assigned to ${aLayout(l)}`);
    this.chunks(dst, l.size, e, src);
  }

  /**
   * usym(address): the address and the current process's tgid in a 16-byte value, as bpftrace keeps them: naming a
   * user address takes that process's mappings, which the reader looks up by the tgid.
   */
  userSymbol(e: TS.CallExpression): Ref {
    if (e.arguments.length !== 1) this.fail(e, Code.UnsupportedCall, "usym() takes one user address: usym(routine)");
    if (this.runsOnce) this.fail(e, Code.UnsupportedCall, `usym() names an address of the process a probe interrupted, and a ${this.runsOnce}() handler runs in tsbpf run itself`);
    const address = this.convert(this.value(e.arguments[0]!), U64);
    const into = this.stackTemp(USER_SYMBOL_LAYOUT, e);
    const [addressField, pidField] = USER_SYMBOL_LAYOUT.fields.map((f) => ({ ...into, layout: f.layout, offset: f.offset }));
    this.storeInt(addressField!, address, e);
    const pidTgid = this.fb.vreg(U64);
    this.fb.emit({ op: "call", helper: Helper.get_current_pid_tgid, args: [], dst: pidTgid, loc: this.locOf(e) });
    this.storeInt(pidField!, this.binary("shr", { op: pidTgid }, { op: imm(32n, U64) }, e), e);
    return into;
  }

  /**
   * macaddr(), ntop(), buf() and kbuf() as values (a map key, a struct field, a local): the bytes printf would send,
   * in the tagged struct tsbpf run and the simulator read as the text printf writes. Zeroed first, so that the same
   * address or bytes are the same key whatever the stack held.
   */
  byteValue(e: TS.CallExpression, name: "macaddr" | "ntop" | "buf" | "kbuf"): Ref {
    if (name === "macaddr") {
      const arg = this.macaddr(e)!;
      const into = this.stackTemp(MAC_ADDR_LAYOUT, e);
      arg.fill({ ...into, layout: arg.layout });
      return into;
    }
    if (name === "ntop") {
      const arg = this.ntop(e)!;
      const into = this.stackTemp(INET_LAYOUT, e);
      this.zero(into, e);
      // A family known at run time is filled with the address; a constant one is stored here.
      if (arg.spec === "inet") arg.fill({ ...into, layout: arg.layout });
      else {
        this.storeInt({ ...into, layout: INET_LAYOUT.fields[0].layout }, { op: imm(arg.spec === "n16" ? AF_INET6 : AF_INET, U32) }, e);
        arg.fill({ ...into, layout: arg.layout, offset: into.offset + 4 });
      }
      return into;
    }
    const arg = this.bytes(e, { spec: "r", flags: "", width: undefined, precision: undefined, length: "" });
    const into = this.stackTemp(bufLayout(Number(arg.spec.slice(1))), e);
    this.zero(into, e);
    arg.fill({ ...into, layout: arg.layout });
    return into;
  }

  /**
   * pton(text), bpftrace's pton(): an IPv4 or IPv6 address's bytes, read at compile time (as inet_pton reads them) and
   * stored into a stack array, an Arr<u8, 4> or Arr<u8, 16>.
   */
  pton(e: TS.CallExpression): Ref {
    const [arg] = e.arguments;
    if (!arg || e.arguments.length > 1) return this.fail(e, Code.UnsupportedCall, 'pton() takes one address, a string literal: pton("127.0.0.1"), pton("::1")');
    const text = this.formatText(arg);
    if (text === undefined) return this.fail(arg, Code.UnsupportedCall, 'pton() takes an address known at compile time, a string literal or a module-level string constant: pton("127.0.0.1")');
    const bytes = inetBytes(text);
    if (!bytes) return this.fail(arg, Code.OutOfRange, `${JSON.stringify(text)} is not an IPv4 address (four decimal bytes, "10.0.0.1") or an IPv6 one ("::1", "fe80::1", "::ffff:10.0.0.1")`);
    const layout: Layout = { kind: "array", element: { kind: "int", type: U8, size: 1, align: 1 }, length: bytes.length, size: bytes.length, align: 1 };
    const into = this.stackTemp(layout, e);
    // Four bytes at a time where the stack slot is aligned so (the verifier insists on aligned stack stores).
    const words = new DataView(bytes.buffer);
    const loc = this.locOf(e);
    for (let at = 0; at < bytes.length; at += 4) {
      if (this.cx.aligned(into, at, 4)) this.fb.emit({ op: "st", base: into.base, offset: into.offset + at, size: 4, src: imm(BigInt(words.getUint32(at, true)), U32), loc });
      else for (let i = at; i < at + 4; i++) this.fb.emit({ op: "st", base: into.base, offset: into.offset + i, size: 1, src: imm(BigInt(bytes[i]!), U8), loc });
    }
    return into;
  }

  /** lookup() and reserve(): a pointer the caller must test for null. */
  /**
   * `ring.output({...})` of a record larger than OUTPUT_IN_PLACE: built in a reservation, as reserve() and submit()
   * would, rather than on the stack, which a record of half its 512 bytes leaves little of. The result is 0, or -1
   * when the full ring dropped the record (counted, as output()'s failure is).
   */
  override outputInPlace(m: MapInfo, value: TS.Expression, e: TS.CallExpression): Val {
    const record = this.reserve(m, e);
    const sent = this.fb.vreg(I64);
    const filled = this.fb.newBlock();
    const join = this.fb.newBlock();
    this.fb.emit({ op: "mov", dst: sent, src: imm(-1n, I64), loc: this.locOf(e) });
    this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: record.base as VReg, b: imm(0n, PTR), then: filled.id, else: join.id });
    this.enter(filled);
    // An index out of range in the value ends the handler: it gives the record back on the way.
    const outer = this.filling;
    this.filling = record.base as VReg;
    this.assignInto({ ...record, nullable: false }, value);
    this.filling = outer;
    this.fb.emit({ op: "call", helper: Helper.ringbuf_submit, args: [record.base as VReg, imm(0n, U64)], loc: this.locOf(e) });
    this.fb.emit({ op: "mov", dst: sent, src: imm(0n, I64), loc: this.locOf(e) });
    this.fb.terminate({ op: "jmp", target: join.id });
    this.enter(join);
    return { op: sent };
  }

  mapRefCall(m: MapInfo, method: "lookup" | "reserve", e: TS.CallExpression): Ref {
    const map = { kind: "map" as const, name: m.def.name };
    const dst = this.fb.vreg(PTR);
    if (method === "lookup") {
      if (!m.key || !m.value) return this.fail(e, Code.BadMap, `${m.cls} has no lookup()`);
      if (e.arguments.length !== 1) this.fail(e, Code.BadMap, "lookup() takes a key");
      const key = this.materialize(e.arguments[0]!, m.key, e);
      this.fb.emit({ op: "call", helper: Helper.map_lookup_elem, args: [map, this.addrOf(key, e)], dst, loc: this.locOf(e) });
      return { layout: m.value, base: dst, offset: 0, nullable: true };
    }
    if (m.cls !== "RingBuf") return this.fail(e, Code.BadMap, "reserve() is a RingBuf method");
    if (e.arguments.length) this.fail(e.arguments[0]!, Code.BadMap, "reserve() takes no arguments");
    return this.reserve(m, e);
  }

  /** A zeroed record reserved in ring buffer `m`, or null (counted as dropped) when the ring is full. */
  reserve(m: MapInfo, e: TS.CallExpression): Ref {
    const map = { kind: "map" as const, name: m.def.name };
    const dst = this.fb.vreg(PTR);
    this.fb.emit({ op: "call", helper: Helper.ringbuf_reserve, args: [map, imm(BigInt(m.value!.size), U64), imm(0n, U64)], dst, loc: this.locOf(e) });
    this.cx.reservations.add(dst);
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

  /** The call's result when `e` calls a module-level function returning a struct, Str or Arr: a zeroed stack value it fills. */
  memoryCall(e: TS.CallExpression): Ref | undefined {
    const name = this.cx.builtin(e.expression);
    if (name === "usym") return this.userSymbol(e);
    if (name === "macaddr" || name === "ntop" || name === "buf" || name === "kbuf") return this.byteValue(e, name);
    if (name === "pton") return this.pton(e);
    if (name === "strftime") {
      const arg = this.strftime(e)!;
      const into = this.stackTemp(arg.layout, e);
      arg.fill(into);
      return into;
    }
    // An integer read is a value (value() emits it): emitting it here too would call the helper twice.
    const read = this.readCall(e);
    if (read) return read.layout.kind === "int" ? undefined : this.memoryRead(e);
    const symbol = this.ts.isIdentifier(e.expression) ? this.checker.getSymbolAtLocation(e.expression) : undefined;
    const decl = symbol && this.cx.functions.get(symbol);
    if (decl && !decl.type) {
      const sig = this.checker.getSignatureFromDeclaration(decl);
      const ret = sig && this.checker.getReturnTypeOfSignature(sig);
      const scalar = this.ts.TypeFlags.NumberLike | this.ts.TypeFlags.BooleanLike | this.ts.TypeFlags.Void | this.ts.TypeFlags.Undefined | this.ts.TypeFlags.Any;
      if (ret && !(ret.flags & scalar)) this.fail(decl.name ?? decl, Code.MissingType, `\`${e.expression.getText(this.file)}\` returns a value: annotate its return type (u8..i64, boolean, a struct's interface, Str<N>, Arr<T, N>)`);
    }
    if (decl?.type && this.cx.withoutNull(decl.type) !== decl.type) {
      // `T | null`: the function gives a pointer (a lookup, a reservation) or null, as C's `struct val *get(...)`.
      const pointer = this.fb.vreg(PTR);
      const ref: Ref = { layout: this.cx.layoutOf(this.cx.withoutNull(decl.type)), base: pointer, offset: 0, nullable: true };
      this.fb.emit({ op: "mov", dst: pointer, src: imm(0n, PTR), loc: this.locOf(e) });
      this.inlineCall(decl, e, ref);
      return ref;
    }
    const layout = decl?.type && decl.type.kind !== this.ts.SyntaxKind.VoidKeyword ? this.cx.layoutOf(decl.type) : undefined;
    if (!decl || !layout || layout.kind === "int") return undefined;
    const into = this.temp(layout, e);
    this.inlineCall(decl, e, into);
    return into;
  }
}
