// Typed kernel pointers (the kernel's PTR_TO_BTF_ID): the context of a tp_btf program, whose arguments are
// typed by the tracepoint's `btf_trace_<name>` prototype in the kernel's BTF, and loads through such pointers,
// walked over the struct's members (the kernel's btf_ctx_access, btf_struct_walk and the trust rules of
// check_ptr_to_btf_access). Takes the kernel's BTF; gives what a load yields, or the kernel's reason to refuse it.

import { type Btf, BtfKind, type BtfStruct, btfKindName } from "../btf/index.js";

/** Flags of a typed pointer (the kernel's type flags that matter to loads and null checks). */
export const BtfFlag = { TRUSTED: 1, UNTRUSTED: 2, RCU: 4, USER: 8, PERCPU: 16 } as const;

/** The struct (or union) a typed pointer points to, in `btf`, and the pointer's flags (BtfFlag). */
export interface BtfTarget {
  btf: Btf;
  id: number;
  flags: number;
}

/** A tp_btf program's context: the tracepoint and its argument types (after the prototype's `void *__data`). */
export interface TracepointContext {
  btf: Btf;
  name: string;
  args: number[];
}

/** What a load gives: a scalar, or a typed pointer with its flags (maybe NULL for `__rcu` fields). */
export type BtfLoad = { kind: "scalar" } | { kind: "ptr"; id: number; flags: number; maybeNull: boolean };

const MODIFIERS = new Set<number>([BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT, BtfKind.TYPE_TAG]);
const isStruct = (btf: Btf, id: number): boolean => btf.kindOf(id) === BtfKind.STRUCT || btf.kindOf(id) === BtfKind.UNION;

function skipModifiers(btf: Btf, id: number): number {
  for (let n = 0; n < 32 && MODIFIERS.has(btf.kindOf(id)); n++) id = (btf.typeById(id) as { type: number }).type;
  return id;
}

/** The struct's name as the kernel's log prints it (`task_struct`). */
export const structName = (t: BtfTarget): string => t.btf.nameOf(t.id);

/** The tracepoint's argument types from `btf_trace_<name>` (a typedef of a pointer to a function prototype). */
export function tracepointContext(btf: Btf, name: string): TracepointContext | string {
  const ids = btf.findIdsByName(`btf_trace_${name}`, BtfKind.TYPEDEF);
  if (!ids.length) return `the running kernel has no tracepoint ${name} (no btf_trace_${name} in its BTF)`;
  const ptr = btf.typeById(skipModifiers(btf, ids[0]!));
  const proto = ptr.kind === BtfKind.PTR ? btf.typeById(ptr.type) : undefined;
  if (!proto || proto.kind !== BtfKind.FUNC_PROTO) return `btf_trace_${name} in the kernel's BTF is not a pointer to a function prototype`;
  return { btf, name, args: proto.params.slice(1).map((p) => p.type) };
}

const isSmallInt = (btf: Btf, id: number): boolean => {
  const t = btf.typeById(id);
  return t.kind === BtfKind.INT && t.size <= 8;
};
const isScalarKind = (btf: Btf, id: number): boolean => {
  const k = btf.kindOf(id);
  return isSmallInt(btf, id) || k === BtfKind.ENUM || k === BtfKind.ENUM64 || k === BtfKind.STRUCT || k === BtfKind.UNION;
};

/** The type tag directly under a pointer (`__user`, `__percpu`, `__rcu`) as a flag. */
function tagFlag(btf: Btf, pointee: number): number {
  const t = btf.typeById(pointee);
  if (t.kind !== BtfKind.TYPE_TAG) return 0;
  return t.name === "user" ? BtfFlag.USER : t.name === "percpu" ? BtfFlag.PERCPU : t.name === "rcu" ? BtfFlag.RCU : 0;
}

/**
 * A read at `off` of a tp_btf context (an array of u64 arguments; sizes and alignment are checked before), or why
 * it is refused (the kernel logs the reason, then "invalid bpf_context access").
 */
export function contextLoad(ctx: TracepointContext, off: number): BtfLoad | string {
  const { btf } = ctx;
  if (off % 8 !== 0) return `func '${ctx.name}' offset ${off} is not multiple of 8`;
  const arg = off / 8;
  if (arg >= ctx.args.length) return `func '${ctx.name}' doesn't have ${arg}-th argument`;
  const t = skipModifiers(btf, ctx.args[arg]!);
  if (isScalarKind(btf, t)) return { kind: "scalar" };
  const ptr = btf.typeById(t);
  if (ptr.kind !== BtfKind.PTR) return `func '${ctx.name}' arg${arg} '${btf.nameOf(t)}' has type ${kindName(btf, t)}. Only pointer access is allowed`;
  // void * and pointers to integers are plain numbers to the verifier (not `const void *`: a struct is expected there).
  if (ptr.type === 0 || btf.kindOf(skipModifiers(btf, ptr.type)) === BtfKind.INT) return { kind: "scalar" };
  const flags = tagFlag(btf, ptr.type) & (BtfFlag.USER | BtfFlag.PERCPU);
  const target = skipModifiers(btf, ptr.type);
  if (!isStruct(btf, target)) return `func '${ctx.name}' arg${arg} type ${kindName(btf, target)} is not a struct`;
  // tp_btf arguments are trusted (the tracepoint passes valid objects).
  return { kind: "ptr", id: target, flags: flags | BtfFlag.TRUSTED, maybeNull: false };
}

const kindName = (btf: Btf, id: number): string => (id === 0 ? "UNKNOWN" : btfKindName(btf.kindOf(id)));

type Walk = { kind: "scalar" } | { kind: "ptr"; id: number; flags: number; field: string } | { kind: "error"; message: string };

/** Size of a member's type and, for (possibly nested) arrays, the element type and the total element count. */
function memberShape(btf: Btf, id: number): { size: number; elem?: number; count: number } {
  const t = skipModifiers(btf, id);
  const type = btf.typeById(t);
  if (type.kind !== BtfKind.ARRAY) return { size: btf.sizeOf(t), count: 1 };
  let elem = skipModifiers(btf, type.type);
  let count = type.nelems;
  for (let e = btf.typeById(elem); e.kind === BtfKind.ARRAY; e = btf.typeById(elem)) {
    count *= e.nelems;
    elem = skipModifiers(btf, e.type);
  }
  return { size: count === 0 ? 0 : btf.sizeOf(elem) * count, elem, count };
}

/** btf_struct_walk: the member a load of `size` at `off` of struct `id` reads. */
function walk(btf: Btf, id: number, off: number, size: number, flags: number): Walk {
  for (let depth = 0; depth < 64; depth++) {
    id = skipModifiers(btf, id);
    const tname = btf.nameOf(id);
    if (!isStruct(btf, id)) return { kind: "error", message: `Type '${tname}' is not a struct` };
    const t = btf.typeById(id) as BtfStruct;
    // Walking unions of several members yields untrusted pointers.
    if (t.kind === BtfKind.UNION && t.members.length !== 1) flags |= BtfFlag.UNTRUSTED;
    if (off + size > t.size) {
      // A trailing flexible array lets the access repeat its element.
      const last = t.members[t.members.length - 1];
      const lastType = last ? btf.typeById(skipModifiers(btf, last.type)) : undefined;
      const moff = last ? last.bitOffset / 8 : 0;
      if (!last || lastType?.kind !== BtfKind.ARRAY || lastType.nelems !== 0 || off < moff) return { kind: "error", message: `access beyond struct ${tname} at off ${off} size ${size}` };
      const elem = skipModifiers(btf, lastType.type);
      if (btf.kindOf(elem) === BtfKind.INT) return { kind: "scalar" };
      if (!isStruct(btf, elem)) return { kind: "error", message: `access beyond struct ${tname} at off ${off} size ${size}` };
      off = (off - moff) % btf.sizeOf(elem);
      id = elem;
      continue;
    }
    let next: { id: number; off: number } | undefined;
    for (const m of t.members) {
      let moff = Math.floor(m.bitOffset / 8);
      if (off + size <= moff) break;
      if (m.bitfieldSize) {
        const endByte = Math.ceil((m.bitOffset + m.bitfieldSize) / 8);
        if (off <= moff && endByte <= off + size) return { kind: "scalar" };
        continue;
      }
      if (off < moff) break;
      let shape: ReturnType<typeof memberShape>;
      try {
        shape = memberShape(btf, m.type);
      } catch {
        return { kind: "error", message: `field ${m.name} doesn't have size` };
      }
      const mtrueEnd = moff + shape.size;
      if (off >= mtrueEnd) continue;
      let mtype = skipModifiers(btf, m.type);
      let msize = shape.size;
      if (shape.elem !== undefined) {
        if (moff === mtrueEnd) continue;
        msize = shape.size / shape.count;
        moff += Math.floor((off - moff) / msize) * msize;
        mtype = shape.elem;
      }
      if (isStruct(btf, mtype)) {
        next = { id: mtype, off: off === moff ? 0 : off - moff };
        break;
      }
      const mt = btf.typeById(mtype);
      if (mt.kind === BtfKind.PTR) {
        if (msize !== size || off !== moff) return { kind: "error", message: `cannot access ptr member ${m.name} with moff ${moff} in struct ${tname} with off ${off} size ${size}` };
        const target = skipModifiers(btf, mt.type);
        if (isStruct(btf, target)) return { kind: "ptr", id: target, flags: flags | tagFlag(btf, mt.type), field: m.name };
      }
      if (off + size > mtrueEnd && !(flags & BtfFlag.UNTRUSTED)) {
        return { kind: "error", message: `access beyond the end of member ${m.name} (mend:${mtrueEnd}) in struct ${tname} with off ${off} size ${size}` };
      }
      return { kind: "scalar" };
    }
    if (!next) return { kind: "error", message: `struct ${tname} doesn't have field at offset ${off}` };
    id = next.id;
    off = next.off;
  }
  return { kind: "error", message: `struct ${btf.nameOf(id)} nests too deeply` };
}

/**
 * Whether the kernel's BTF lists `field` of the struct `from` (pointing to `to`) in `<from>__safe_<suffix>`: the
 * fields whose pointers keep their parent's trust (the kernel's BTF_TYPE_SAFE_* lists, emitted into vmlinux BTF).
 */
function safeField(btf: Btf, from: number, field: string, to: number, suffix: string): boolean {
  const ids = btf.findIdsByName(`${btf.nameOf(from)}__safe_${suffix}`);
  for (const id of ids) {
    if (!isStruct(btf, id)) continue;
    for (const m of (btf.typeById(id) as BtfStruct).members) {
      if (m.name !== field) continue;
      const p = btf.typeById(skipModifiers(btf, m.type));
      if (p.kind === BtfKind.PTR && btf.nameOf(skipModifiers(btf, p.type)) === btf.nameOf(to)) return true;
    }
  }
  return false;
}

/**
 * A read of `size` bytes at `off` through a typed pointer to `from` with `flags`, in a non-sleepable program (an
 * RCU read-side section): a scalar, a typed pointer (trusted, RCU, maybe NULL or untrusted as the kernel decides),
 * or the kernel's reason to refuse it.
 */
export function pointerLoad(btf: Btf, from: number, flags: number, off: number, size: number): BtfLoad | string {
  // The walk's own flags start clear: only unions make what it finds untrusted.
  const w = walk(btf, from, off, size, 0);
  if (w.kind === "error") return w.message;
  if (w.kind === "scalar") return w;
  let out = w.flags & (BtfFlag.USER | BtfFlag.PERCPU | BtfFlag.RCU | BtfFlag.UNTRUSTED);
  let maybeNull = false;
  if (flags & BtfFlag.UNTRUSTED) out = BtfFlag.UNTRUSTED;
  else if (flags & (BtfFlag.TRUSTED | BtfFlag.RCU)) {
    if (safeField(btf, from, w.field, w.id, "trusted")) out |= BtfFlag.TRUSTED;
    else if (safeField(btf, from, w.field, w.id, "trusted_or_null")) {
      out |= BtfFlag.TRUSTED;
      maybeNull = true;
    } else if (safeField(btf, from, w.field, w.id, "rcu")) out |= BtfFlag.RCU;
    else if (out & BtfFlag.RCU || safeField(btf, from, w.field, w.id, "rcu_or_null")) {
      // __rcu pointers can be NULL
      out |= BtfFlag.RCU;
      maybeNull = true;
      if (safeField(btf, from, w.field, w.id, "rcu_or_null")) out &= ~BtfFlag.UNTRUSTED;
    } else if (!(out & (BtfFlag.USER | BtfFlag.PERCPU))) out &= ~(BtfFlag.TRUSTED | BtfFlag.RCU);
  } else out &= ~(BtfFlag.TRUSTED | BtfFlag.RCU);
  return { kind: "ptr", id: w.id, flags: out, maybeNull };
}

/**
 * The kernel's name of a typed pointer's type (reg_type_str): `trusted_ptr_`, `rcu_ptr_or_null_`, `untrusted_ptr_`;
 * the register's text adds the struct's name.
 */
export function btfTypeName(t: BtfTarget, maybeNull: boolean): string {
  const f = t.flags;
  const prefix = `${f & BtfFlag.USER ? "user_" : ""}${f & BtfFlag.PERCPU ? "percpu_" : ""}${f & BtfFlag.RCU ? "rcu_" : ""}${f & BtfFlag.UNTRUSTED ? "untrusted_" : ""}${f & BtfFlag.TRUSTED ? "trusted_" : ""}`;
  return `${prefix}ptr_${maybeNull ? "or_null_" : ""}`;
}
