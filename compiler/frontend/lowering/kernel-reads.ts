// Lowering reads of kernel memory: kernel struct members (CO-RE), tracepoint record fields, dynamic strings.

import type * as TS from "typescript";
import { bitfieldLoad } from "../../btf/core.js";
import { BOOL, INT_TYPES, PTR, U32, U64, type CoreAccess, type Layout, type Operand, type StackAddr, type VReg } from "../../ir/index.js";
import { Code } from "../diagnostics.js";
import type { KernelArray, KernelScalar, KernelStruct } from "../kernel-types.js";
import type { TracepointField, TracepointFormat } from "../tracepoints.js";
import { MemoryLowering } from "./memory.js";
import { aLayout, imm, kernelArrayType, sameLayout, scalarIntType, scalarLayout } from "./types.js";
import type { KernelPlace, Ref, Val } from "./values.js";

export abstract class KernelReadLowering extends MemoryLowering {
  property(e: TS.PropertyAccessExpression): Val {
    const memory = this.tryRef(e.expression);
    if (memory) return this.loadInt(this.fieldRef(memory, e.name), e);
    if (this.ts.isIdentifier(e.expression)) {
      const symbol = this.checker.getSymbolAtLocation(e.expression);
      const b = symbol && this.scope.get(symbol);
      if (b?.kind === "tpctx") return this.field(b.format, e);
    }
    const place = this.kernelPlace(e);
    const m = place.member;
    if (m.kind === "struct" || m.kind === "array") {
      return this.fail(e, Code.NotAnInteger, `\`${e.getText(this.file)}\` is a ${m.kind === "struct" ? `struct ${m.struct}: read one of its members` : `${kernelArrayType(m)}: assign it to one, print it, or index it`}`);
    }
    return this.kernelRead(place, m, place.offset, { struct: place.root, members: place.members }, e);
  }

  /**
   * Where `e` (a member read through a Ptr<T> to a kernel struct, maybe through structs embedded by
   * value: `sk.__sk_common.skc_family`) is: the pointer, the root struct, the member path and its
   * offset summed along the way, so the whole chain is one probe read with one CO-RE relocation.
   */
  kernelPlace(e: TS.PropertyAccessExpression): KernelPlace {
    const inner = this.cx.skipParentheses(e.expression);
    let at: Omit<KernelPlace, "member"> & { struct: KernelStruct };
    const nested = this.ts.isPropertyAccessExpression(inner) ? this.cx.kernelMemberOf(inner)?.member : undefined;
    if (nested?.kind === "struct") {
      const outer = this.kernelPlace(inner as TS.PropertyAccessExpression);
      at = { ...outer, struct: this.cx.kernelStructs.get(nested.struct)! };
    } else {
      const base = this.value(e.expression);
      const type = base.op.type;
      if (!type.ptr) return this.fail(e, Code.Unsupported, `property access \`${e.getText(this.file)}\` is not supported here`);
      const struct = type.pointee ? this.cx.kernelStructs.get(type.pointee) : undefined;
      if (!struct) {
        // A Ptr to the file's own struct (a uprobe's `Ptr<Request>`): its memory is read whole, by readUser or readKernel.
        const own = this.cx.ownPointee(e.expression);
        if (own) {
          const p = e.expression.getText(this.file);
          return this.fail(e, Code.PointerAccess, `reading \`${e.getText(this.file)}\` through a Ptr<${own}> needs a kernel struct's layout, and ${own} is this file's own type: read the struct at the address with readUser<${own}>(${p}) (user memory, where a uprobe's pointers point) or readKernel<${own}>(${p}), then its fields: readUser<${own}>(${p}).${e.name.text}`);
        }
        return this.fail(e, Code.PointerAccess, `reading \`${e.getText(this.file)}\` needs the pointee's layout: declare the parameter as Ptr<T> with T a kernel struct imported from "tsbpf/kernel"`);
      }
      at = { ptr: base.op, root: struct.name, members: [], offset: 0, struct };
    }
    const name = e.name.text;
    const m = at.struct.members.get(name);
    if (!m) {
      const why = at.struct.unreadable.get(name);
      return this.fail(e.name, Code.PointerAccess, why ? `tsbpf cannot read \`${name}\` of struct ${at.struct.name}: ${why}` : `struct ${at.struct.name} has no member \`${name}\``);
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
    this.fb.emit({ op: "kread", dst, ptr, offset, size: m.size, signed: m.signed, object, core, loc: this.locOf(node) });
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
    if (!load) return this.fail(node, Code.PointerAccess, `tsbpf cannot read bitfield \`${place.members.at(-1)}\` of struct ${place.root}: its ${bits.bits} bits are not within one aligned 8-byte unit`);
    const dst = this.fb.vreg(scalarIntType(m));
    const object = this.fb.stackObject(8);
    this.fb.emit({ op: "kread", dst, ptr: place.ptr, offset: load.byteOffset, size: load.byteSize, signed: m.signed, object, core, bitfield: { lshift: load.lshift, rshift: load.rshift }, loc: this.locOf(node) });
    return { op: dst };
  }

  /**
   * `task.comm` as a value in memory: the whole array copied with one probe read, into `into` (a
   * stack place of the same layout: an event's field) or else a new stack temporary.
   */
  override kernelArrayCopy(e: TS.PropertyAccessExpression, into?: Ref): Ref {
    const place = this.kernelPlace(e);
    const m = place.member as KernelArray;
    const layout: Layout = m.string ? { kind: "str", size: m.length, align: 1 } : { kind: "array", element: scalarLayout(m.element), length: m.length, size: m.size, align: m.element.size };
    if (into && !sameLayout(into.layout, layout)) return this.fail(e, Code.UnsupportedType, `${aLayout(layout)} cannot be assigned to ${aLayout(into.layout)}`);
    const ref = into ?? (layout.kind === "str" ? this.stringTemp(layout, e) : this.stackTemp(layout, e));
    const base = ref.base as StackAddr;
    this.fb.emit({ op: "kcopy", into: { ...base, offset: (base.offset ?? 0) + ref.offset }, ptr: place.ptr, offset: place.offset, size: m.size, core: { struct: place.root, members: place.members }, loc: this.locOf(e) });
    return ref;
  }

  /**
   * `task.x[i]` for a kernel array of integers or pointers: one probe read of the element. A constant
   * index is relocated as that element; a variable one is bounds-checked and added to the pointer,
   * and the array's start is relocated.
   */
  kernelElement(e: TS.ElementAccessExpression): Val | undefined {
    const array = this.cx.skipParentheses(e.expression);
    if (!this.ts.isPropertyAccessExpression(array) || this.cx.kernelMemberOf(array)?.member?.kind !== "array") return undefined;
    const place = this.kernelPlace(array);
    const m = place.member as KernelArray;
    if (m.string) return this.fail(e, Code.Unsupported, `\`${array.getText(this.file)}\` is a Str<${m.length}>: strings cannot be indexed`);
    const core = { struct: place.root, members: place.members };
    const i = this.value(e.argumentExpression);
    if (i.op.kind === "imm") {
      const n = BigInt.asIntN(64, i.op.value);
      if (n < 0n || n >= BigInt(m.length)) this.fail(e.argumentExpression, Code.OutOfRange, `index ${n} is outside ${kernelArrayType(m)}`);
      return this.kernelRead(place, m.element, place.offset + Number(n) * m.element.size, { ...core, index: Number(n) }, e);
    }
    const idx = this.boundsCheck(i, m.length, e.argumentExpression);
    const off = this.fb.vreg(U64);
    this.fb.emit({ op: "bin", kind: "mul", dst: off, a: idx, b: imm(BigInt(m.element.size), U64), loc: this.locOf(e) });
    const at = this.fb.vreg(PTR);
    this.fb.emit({ op: "bin", kind: "add", dst: at, a: place.ptr, b: off, loc: this.locOf(e) });
    return this.kernelRead(place, m.element, place.offset, core, e, at);
  }

  field(format: TracepointFormat, e: TS.PropertyAccessExpression): Val {
    const f = this.recordField(format, e);
    const shape = f.shape!;
    if (shape.kind === "str" || shape.kind === "array" || shape.kind === "dynamic-str") {
      const use = shape.kind === "array" ? "index it (`" + e.getText(this.file) + "[0]`) or assign it to an Arr" : "assign it to a Str, print it with printk, or store it in a struct";
      return this.fail(e, Code.NotAnInteger, `\`${e.getText(this.file)}\` is a ${f.tsType} (${f.cType}), not an integer: ${use}`);
    }
    const type = shape.kind === "ptr" ? PTR : shape.bool ? BOOL : INT_TYPES[f.tsType!]!;
    const dst = this.fb.vreg(type);
    this.fb.emit({ op: "ctx", dst, offset: f.offset, size: f.size as 1 | 2 | 4 | 8, signed: f.signed, loc: this.locOf(e) });
    return { op: dst };
  }

  /** The field `e` names in a tracepoint record, if the compiler can read it. */
  recordField(format: TracepointFormat, e: TS.PropertyAccessExpression): TracepointField {
    const f: TracepointField | undefined = format.fields.find((x) => x.name === e.name.text);
    if (!f) return this.fail(e.name, Code.BadTracepointField, `${format.group}:${format.name} has no field \`${e.name.text}\``);
    if (!f.readable) this.fail(e.name, Code.BadTracepointField, `the kernel does not let tracepoint programs read the common field \`${f.name}\` (offset ${f.offset} < 8); use pidTgid() for the pid`);
    if (!f.shape) this.fail(e.name, Code.BadTracepointField, `field \`${f.name}\` (${f.cType}) has a type the compiler does not support yet`);
    return f;
  }

  /** `ctx.name` where ctx is a tracepoint handler's record parameter: the field, else undefined. */
  override tracepointField(e: TS.Expression): TracepointField | undefined {
    if (!this.ts.isPropertyAccessExpression(e) || !this.ts.isIdentifier(e.expression)) return undefined;
    const symbol = this.checker.getSymbolAtLocation(e.expression);
    const b = symbol && this.scope.get(symbol);
    return b?.kind === "tpctx" ? this.recordField(b.format, e) : undefined;
  }

  /**
   * A fixed array field of the record (`char prev_comm[16]`) as memory: a stack copy, since helpers take no
   * pointers into the context. Copied in the widest loads the field's offset allows (the kernel insists on
   * aligned context reads).
   */
  override recordArray(f: TracepointField, node: TS.Node): Ref | undefined {
    const shape = f.shape!;
    let layout: Layout;
    if (shape.kind === "str") layout = { kind: "str", size: shape.length, align: 1 };
    else if (shape.kind === "array") {
      const element = this.cx.intLayout({ bits: (shape.element.size * 8) as 8 | 16 | 32 | 64, signed: shape.element.signed });
      layout = { kind: "array", element, length: shape.length, size: f.size, align: element.align };
    } else return undefined;
    const ref = layout.kind === "str" ? this.stringTemp(layout, node) : this.stackTemp(layout, node);
    for (let at = 0; at < f.size; ) {
      const n = ([8, 4, 2, 1] as const).find((c) => (f.offset + at) % c === 0 && at % c === 0 && at + c <= f.size)!;
      const v = this.fb.vreg(U64);
      this.fb.emit({ op: "ctx", dst: v, offset: f.offset + at, size: n, signed: false, loc: this.locOf(node) });
      this.fb.emit({ op: "st", base: ref.base, offset: at, size: n, src: v, loc: this.locOf(node) });
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
    if (n < 0n || n >= BigInt(length)) this.fail(e.argumentExpression, Code.OutOfRange, `index ${n} is outside ${f.tsType}`);
    const dst = this.fb.vreg({ bits: (element.size * 8) as 8 | 16 | 32 | 64, signed: element.signed });
    this.fb.emit({ op: "ctx", dst, offset: f.offset + Number(n) * element.size, size: element.size, signed: element.signed, loc: this.locOf(e) });
    return { op: dst };
  }

  /**
   * The address of a `__data_loc` / `__rel_loc` string field's bytes: the record's address plus the low 16 bits
   * of the field's u32 (for __rel_loc, counted from the end of the u32). Undefined for other expressions.
   */
  override dynamicString(e: TS.Expression): VReg | undefined {
    const f = this.tracepointField(e);
    if (f?.shape?.kind !== "dynamic-str") return undefined;
    const loc = this.locOf(e);
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
}
