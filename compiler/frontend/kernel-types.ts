// Kernel types and constants for `import { ... } from "tsbpf/kernel"`, from the kernel's BTF.
// Takes the imported names and vmlinux BTF; gives each struct's readable members (offset, size,
// signedness, pointee), each enum's values, each integer typedef's width, each enumerator's value,
// and the `declare module "tsbpf/kernel"` text the prelude adds, so `name.name` type-checks and
// lowers to a CO-RE-relocated probe read, and `TCP_ESTABLISHED` or `bpf_map_type.BPF_MAP_TYPE_HASH`
// to a constant.
// Members that are named nested structs (`sock.__sk_common`) are declared with their struct's type, and
// the structs they embed join the declarations (a bounded closure); arrays of integers or pointers are
// `Str<N>` (char) or `Arr<T, N>`. Members of anonymous structs and unions are declared as the outer
// struct's. Bitfields are declared as their integer type and read through their storage unit. Clashing names and
// other types are declared `Unreadable<why>`, so a read of one is a diagnostic that says why. A compile declares only the members its probe names (mentionedMembers).

import { BTF_MAGIC, Btf, BtfError, BtfIntEncoding, BtfKind, parseBtf, type BtfType } from "../btf/index.js";
import { VMLINUX_BTF, readBtfFile } from "../../runtime/sys/btf-file.js";
import { cTypeName, tsTypeName } from "../declarations/names.js";

export { VMLINUX_BTF, cTypeName, tsTypeName };

/** An integer or pointer: what one probe read gives. */
export interface KernelScalar {
  kind: "int" | "ptr";
  size: 1 | 2 | 4 | 8;
  signed: boolean;
  /** For pointers: the pointee struct's name, "char" for strings, "" otherwise. */
  pointee?: string;
  /** For pointers to a struct or union: its BTF id, to declare it without searching its name. */
  pointeeId?: number;
  /** A `bool` (BTF's BOOL encoding): one byte holding 0 or 1, declared `boolean`. */
  bool?: true;
  /**
   * An enum's C name ("" for an anonymous one): an object's local BTF must declare the member as an enum of that
   * name, since libbpf matches an enum field only with an enum of the same name (or an anonymous one).
   */
  enum?: string;
  /** The typedef an anonymous enum is known by (`socket_state` for `typedef enum { SS_FREE, ... } socket_state`). */
  enumTypedef?: string;
  /** A pointer into user or per-CPU memory (`__user`, `__percpu`): the kernel's typed pointers cannot load through it. */
  foreign?: true;
  /**
   * A bitfield member (`unsigned int in_execve:1`): its bits, from `bitOffset` bits into its struct. `size` and `signed`
   * are its declared integer type's; it is read as libbpf's BPF_CORE_READ_BITFIELD_PROBED reads it (btf/core.ts's
   * bitfieldLoad), and `offset` is the byte its first bit is in.
   */
  bitfield?: { bitOffset: number; bits: number };
}

/** Where a member is: its name, its index and byte offset. */
interface MemberPlace {
  name: string;
  /** Index among the members of the struct, or anonymous struct or union, that declares it. */
  index: number;
  offset: number;
}

/** A named struct or union embedded by value (`struct sock_common __sk_common`). */
export interface KernelNested {
  kind: "struct";
  size: number;
  /** The nested type's BTF name (`outer__member` for an anonymous type); its layout is the KernelStruct of that name. */
  struct: string;
  /** Its BTF type id, so the closure of embedded structs needs no name search. */
  typeId: number;
}

/** An array of integers or pointers; `char` arrays read as `Str<N>`. */
export interface KernelArray {
  kind: "array";
  size: number;
  element: KernelScalar;
  length: number;
  /** A `char` array: a NUL-terminated string. */
  string: boolean;
}

export type KernelMember = MemberPlace & (KernelScalar | KernelNested | KernelArray);

export interface KernelStruct {
  name: string;
  size: number;
  union: boolean;
  members: Map<string, KernelMember>;
  /** Members tsbpf cannot read, with why (bitfields, names that clash, unsupported types). */
  unreadable: Map<string, string>;
}

/** Which member names to decode: all of them, or only those a probe mentions (see mentionedMembers). */
export type MemberFilter = (member: string) => boolean;

const allMembers: MemberFilter = () => true;

/** A named kernel enum: `import { sock_type } from "tsbpf/kernel"` and `sock_type.SOCK_STREAM`. */
export interface KernelEnum {
  name: string;
  size: number;
  signed: boolean;
  values: Map<string, bigint>;
}

/** An integer typedef (`pid_t`), as the integer type it stands for. */
export interface KernelTypedef {
  name: string;
  size: 1 | 2 | 4 | 8;
  signed: boolean;
}

/** What the probe file imported from "tsbpf/kernel", by kind; enumerators by name with their values. */
export interface KernelImports {
  structs: Map<string, KernelStruct>;
  enums: Map<string, KernelEnum>;
  typedefs: Map<string, KernelTypedef>;
  constants: Map<string, bigint>;
}

export const noKernelImports = (): KernelImports => ({ structs: new Map(), enums: new Map(), typedefs: new Map(), constants: new Map() });

/** What kernelStruct reads from BTF: a `Btf`, or the lean `StructReader` the compiler uses for vmlinux. */
export type StructSource = Pick<Btf, "find" | "resolveType" | "typeById"> & {
  /** The value of an enumerator of any enum, named or anonymous. */
  enumerator?(name: string): bigint | undefined;
  /** Says which names are about to be asked for, so that one search can look for all of them. */
  prefetch?(names: readonly string[]): void;
  /** Every type name that starts with `prefix`. */
  namesStartingWith?(prefix: string): string[];
  /** The names of every type of one kind. */
  namesOfKind?(kind: number): string[];
};

/**
 * Resolves one imported name: a struct or union, else a named enum, else an integer typedef, else an
 * enumerator (an enum constant). False when the BTF has none of them. A type whose C name TypeScript reserves is
 * imported as `tsbpf btf` declares it (`class_` for `struct class`). Structs are keyed by their C name (what CO-RE
 * matches), enums and typedefs by the name the probe imports.
 */
export function importKernelName(btf: StructSource, name: string, into: KernelImports, mentioned: MemberFilter = allMembers): boolean {
  const c = cTypeName(name);
  const struct = kernelStruct(btf, c, mentioned);
  if (struct) {
    into.structs.set(c, struct);
    addEmbedded(btf, struct, into.structs, mentioned);
    return true;
  }
  const e = btf.find(c, BtfKind.ENUM) ?? btf.find(c, BtfKind.ENUM64);
  if (e && (e.kind === BtfKind.ENUM || e.kind === BtfKind.ENUM64)) {
    into.enums.set(name, { name: c, size: e.size, signed: e.signed, values: new Map(e.values.map((v) => [v.name, BigInt(v.value)])) });
    return true;
  }
  const t = btf.find(c, BtfKind.TYPEDEF);
  if (t) {
    const r = btf.resolveType(t.id);
    const size = r.kind === BtfKind.INT || r.kind === BtfKind.ENUM || r.kind === BtfKind.ENUM64 ? r.size : 0;
    if (size === 1 || size === 2 || size === 4 || size === 8) {
      const signed = r.kind === BtfKind.INT ? (r.encoding & BtfIntEncoding.SIGNED) !== 0 : (r as { signed: boolean }).signed;
      into.typedefs.set(name, { name: c, size, signed });
      return true;
    }
  }
  const value = enumeratorValue(btf, name);
  if (value === undefined) return false;
  into.constants.set(name, value);
  return true;
}

function enumeratorValue(btf: StructSource, name: string): bigint | undefined {
  if (btf.enumerator) return btf.enumerator(name);
  if (!(btf instanceof Btf)) return undefined;
  for (const t of btf.types()) {
    if (t.kind !== BtfKind.ENUM && t.kind !== BtfKind.ENUM64) continue;
    const v = t.values.find((x) => x.name === name);
    if (v) return BigInt(v.value);
  }
  return undefined;
}

const cache = new Map<string, StructSource>();

/**
 * The kernel's BTF for struct lookups (cached per path); undefined when it cannot be read. A native-order,
 * standalone blob (vmlinux) is read by `StructReader`; anything else by `parseBtf`.
 */
export function loadKernelBtf(path = VMLINUX_BTF): StructSource | undefined {
  let btf = cache.get(path);
  if (!btf) {
    try {
      const bytes = readBtfFile(path);
      btf = StructReader.open(bytes) ?? parseBtf(bytes);
    } catch {
      return undefined;
    }
    cache.set(path, btf);
  }
  return btf;
}

/** A struct's or union's layout: the members `mentioned` (by default all), and why others cannot be read. */
export function kernelStruct(btf: StructSource, name: string, mentioned: MemberFilter = allMembers): KernelStruct | undefined {
  const t = btf.find(name, BtfKind.STRUCT) ?? btf.find(name, BtfKind.UNION);
  return t && (t.kind === BtfKind.STRUCT || t.kind === BtfKind.UNION) ? structLayout(btf, t, mentioned) : undefined;
}

/** The most structs one import brings in by embedding (task_struct embeds ~40, transitively). */
export const MAX_EMBEDDED = 128;

/**
 * The member names a probe's text mentions (`.name` or `["name"]` anywhere): a member it never names cannot be read,
 * so the compiler neither decodes nor declares it. Resolving every member's type walks much of vmlinux's
 * type section (struct sock's members lead to ~25 other structs), which a first compile would pay for.
 */
export function mentionedMembers(text: string): MemberFilter {
  const names = new Set<string>();
  for (const m of text.matchAll(/\.\s*([A-Za-z_$][\w$]*)|\[\s*["'`]([^"'`]+)["'`]\s*\]/g)) names.add(m[1] ?? m[2]!);
  return (member) => names.has(member);
}

/**
 * Adds the structs `struct` embeds by value, transitively, to `structs` (by BTF id, without searching
 * names), so `sk.__sk_common.skc_family` has every layout on its way. Past MAX_EMBEDDED, further
 * embedded members become unreadable.
 */
function addEmbedded(btf: StructSource, struct: KernelStruct, structs: Map<string, KernelStruct>, mentioned: MemberFilter): void {
  const queue = [struct];
  for (let i = 0; i < queue.length; i++) {
    const outer = queue[i]!;
    for (const m of outer.members.values()) {
      if (m.kind !== "struct" || structs.has(m.struct)) continue;
      const inner = structs.size < MAX_EMBEDDED ? btf.resolveType(m.typeId) : undefined;
      if (!inner || (inner.kind !== BtfKind.STRUCT && inner.kind !== BtfKind.UNION)) {
        outer.members.delete(m.name);
        outer.unreadable.set(m.name, `its type, ${m.struct}, is past the ${MAX_EMBEDDED} structs one import declares`);
        continue;
      }
      const layout = structLayout(btf, inner, mentioned, m.struct);
      structs.set(m.struct, layout);
      queue.push(layout);
    }
  }
}

/**
 * Declares the structs that the imported ones point to through members the probe names, transitively
 * (`f.f_path.dentry.d_name` needs `dentry` without the probe importing it), as far as MAX_EMBEDDED allows:
 * past it a pointer stays a bare `Ptr`. Called once all imports are in, so that they and what they embed
 * come first.
 */
export function addPointedStructs(btf: StructSource, into: KernelImports, mentioned: MemberFilter): void {
  const structs = into.structs;
  const queue = [...structs.values()];
  for (let i = 0; i < queue.length; i++) {
    for (const m of queue[i]!.members.values()) {
      if (m.kind !== "ptr" || m.pointeeId === undefined || structs.has(m.pointee!) || structs.size >= MAX_EMBEDDED) continue;
      const t = btf.resolveType(m.pointeeId);
      if (t.kind !== BtfKind.STRUCT && t.kind !== BtfKind.UNION) continue;
      const known = structs.size;
      const layout = structLayout(btf, t, mentioned);
      structs.set(layout.name, layout);
      addEmbedded(btf, layout, structs, mentioned);
      queue.push(...[...structs.values()].slice(known));
    }
  }
}

/** A struct's layout; `name` is the BTF name, or the one made up for an anonymous type of a named member. */
function structLayout(btf: StructSource, t: BtfType & { kind: typeof BtfKind.STRUCT | typeof BtfKind.UNION }, mentioned: MemberFilter, name = t.name): KernelStruct {
  const struct: KernelStruct = { name, size: t.size, union: t.kind === BtfKind.UNION, members: new Map(), unreadable: new Map() };
  addMembers(btf, t, 0, struct, mentioned);
  return struct;
}

type BtfMembers = { members: readonly { name: string; type: number; bitOffset: number; bitfieldSize: number }[] };

/**
 * The readable members of a struct or union at `base` bytes; members of anonymous structs and unions
 * (`sock_common`'s `skc_daddr`) count as the outer struct's, as in C and as libbpf matches them.
 */
function addMembers(btf: StructSource, t: BtfMembers, base: number, into: KernelStruct, mentioned: MemberFilter): void {
  t.members.forEach((m, index) => {
    const bitOffset = m.bitOffset + base * 8;
    if (!m.name) {
      const inner = btf.resolveType(m.type);
      if (!m.bitfieldSize && bitOffset % 8 === 0 && (inner.kind === BtfKind.STRUCT || inner.kind === BtfKind.UNION)) addMembers(btf, inner, bitOffset / 8, into, mentioned);
      return;
    }
    if (!mentioned(m.name)) return;
    if (into.members.has(m.name) || into.unreadable.has(m.name)) {
      into.members.delete(m.name);
      into.unreadable.set(m.name, "two members of its anonymous structs and unions have this name");
      return;
    }
    const place = { name: m.name, index, offset: Math.floor(bitOffset / 8) };
    if (m.bitfieldSize) {
      const read = scalarRead(btf, m.type);
      if (read?.kind !== "int") into.unreadable.set(m.name, "it is a bitfield of a type other than an integer or enum");
      else into.members.set(m.name, { ...place, ...read, bitfield: { bitOffset, bits: m.bitfieldSize } });
      return;
    }
    // Without kind_flag, BTF gives a bitfield's width in its INT type, which libbpf does not read as a bitfield either.
    if (bitOffset % 8) return void into.unreadable.set(m.name, "it does not start on a byte and its struct's BTF does not describe it as a bitfield");
    const read = memberRead(btf, m.type, `${into.name}__${m.name}`);
    if (typeof read === "string") into.unreadable.set(m.name, read);
    else into.members.set(m.name, { ...place, ...read });
  });
}

/**
 * How a member of BTF type `id` reads: an integer, pointer, nested struct or array; or why it cannot.
 * A nested struct of anonymous type (`in6_addr`'s `union {...} in6_u`) is declared as `anonymousName`
 * (`in6_addr__in6_u`): only the root of a CO-RE access is matched by name.
 */
function memberRead(btf: StructSource, id: number, anonymousName: string): KernelScalar | KernelNested | KernelArray | string {
  const r = btf.resolveType(id);
  if (r.kind === BtfKind.STRUCT || r.kind === BtfKind.UNION) return { kind: "struct", size: r.size, struct: r.name || anonymousName, typeId: r.id };
  if (r.kind !== BtfKind.ARRAY) return scalarRead(btf, id) ?? "its type is not an integer, pointer, struct or array";
  const element = scalarRead(btf, r.type);
  if (!r.nelems) return "it is an array of no elements (a flexible array or a marker)";
  if (!element) return "it is an array of something other than integers or pointers";
  const e = btf.resolveType(r.type);
  const string = e.kind === BtfKind.INT && e.size === 1 && e.name === "char";
  return { kind: "array", size: element.size * r.nelems, element, length: r.nelems, string };
}

/** The first typedef on the way from type `id` through typedefs and qualifiers to what they name, if any. */
function typedefName(btf: StructSource, id: number): string | undefined {
  for (let t = btf.typeById(id); ; t = btf.typeById(t.type)) {
    if (t.kind === BtfKind.TYPEDEF) return t.name;
    if (t.kind !== BtfKind.CONST && t.kind !== BtfKind.VOLATILE && t.kind !== BtfKind.RESTRICT && t.kind !== BtfKind.TYPE_TAG) return undefined;
  }
}

function scalarRead(btf: StructSource, id: number): KernelScalar | undefined {
  const r = btf.resolveType(id);
  if (r.kind === BtfKind.INT || r.kind === BtfKind.ENUM || r.kind === BtfKind.ENUM64) {
    const size = r.size;
    if (size !== 1 && size !== 2 && size !== 4 && size !== 8) return undefined;
    const signed = r.kind === BtfKind.INT ? (r.encoding & BtfIntEncoding.SIGNED) !== 0 : r.signed;
    if (r.kind === BtfKind.INT && size === 1 && r.encoding & BtfIntEncoding.BOOL) return { kind: "int", size, signed: false, bool: true };
    if (r.kind === BtfKind.INT) return { kind: "int", size, signed };
    const typedef = r.name ? undefined : typedefName(btf, id);
    return { kind: "int", size, signed, enum: r.name, ...(typedef && { enumTypedef: typedef }) };
  }
  if (r.kind !== BtfKind.PTR) return undefined;
  const p = btf.resolveType(r.type);
  const tag = btf.typeById(r.type);
  const foreign = tag.kind === BtfKind.TYPE_TAG && (tag.name === "user" || tag.name === "percpu") ? { foreign: true as const } : {};
  if ((p.kind === BtfKind.STRUCT || p.kind === BtfKind.UNION) && p.name) return { kind: "ptr", size: 8, signed: false, pointee: p.name, pointeeId: p.id, ...foreign };
  return { kind: "ptr", size: 8, signed: false, pointee: p.kind === BtfKind.INT && p.size === 1 ? "char" : "" };
}

/** The typedef libbpf and the kernel name a raw tracepoint's prototype by: `btf_trace_sched_switch`. */
const RAW_TRACEPOINT_PREFIX = "btf_trace_";

/**
 * A raw tracepoint's arguments as a tp_btf program reads them: its `btf_trace_NAME` prototype less the leading
 * `void *`, each an integer (enums and bools included) or a pointer; anything else reads as its raw 64-bit slot.
 * Undefined when the kernel has no such tracepoint.
 */
export function rawTracepointArgs(btf: StructSource, name: string): KernelScalar[] | undefined {
  const t = btf.find(RAW_TRACEPOINT_PREFIX + name, BtfKind.TYPEDEF);
  if (!t) return undefined;
  const ptr = btf.resolveType(t.id);
  const proto = ptr.kind === BtfKind.PTR ? btf.resolveType(ptr.type) : undefined;
  if (proto?.kind !== BtfKind.FUNC_PROTO) return undefined;
  return proto.params.slice(1).map((p) => scalarRead(btf, p.type) ?? { kind: "int", size: 8, signed: false });
}

/**
 * A kernel function's arguments and return value as a kprobe and kretprobe read them (each in a register): its FUNC's
 * prototype in BTF, integers and pointers as they are, anything else as the register's 64 bits; `ret` undefined for
 * a void function. Undefined when BTF has no function of that name (static and inlined ones often are not there).
 */
export function kernelFunctionArgs(btf: StructSource, name: string): { args: KernelScalar[]; ret: KernelScalar | undefined } | undefined {
  const f = btf.find(name, BtfKind.FUNC);
  const proto = f?.kind === BtfKind.FUNC ? btf.typeById(f.type) : undefined;
  if (proto?.kind !== BtfKind.FUNC_PROTO) return undefined;
  const register = (type: number): KernelScalar => scalarRead(btf, type) ?? { kind: "int", size: 8, signed: false };
  // A variadic function's `...` is a last parameter of type 0.
  const params = proto.params.filter((p, i) => !(p.type === 0 && i === proto.params.length - 1));
  return { args: params.map((p) => register(p.type)), ret: proto.returnType === 0 ? undefined : register(proto.returnType) };
}

/** The names of the raw tracepoints the kernel's BTF declares (for suggestions and listings). */
export function rawTracepointNames(btf: StructSource): string[] {
  const names = btf.namesStartingWith ? btf.namesStartingWith(RAW_TRACEPOINT_PREFIX) : btf instanceof Btf ? [...btf.types()].map((t) => t.name).filter((n) => n.startsWith(RAW_TRACEPOINT_PREFIX)) : [];
  return [...new Set(names.map((n) => n.slice(RAW_TRACEPOINT_PREFIX.length)))].filter(Boolean).sort();
}

/** The names of the functions the kernel's BTF describes (for suggestions). */
export function kernelFunctionNames(btf: StructSource): string[] {
  return btf.namesOfKind ? btf.namesOfKind(BtfKind.FUNC) : btf instanceof Btf ? [...btf.types()].filter((t) => t.kind === BtfKind.FUNC).map((t) => t.name) : [];
}

/** A CO-RE access's root struct and member path, as ir/index.ts's CoreAccess has them. */
interface MemberPath {
  readonly struct: string;
  readonly members: readonly string[];
}

/** The steps of an access: each member with the struct it belongs to (the root, then the structs embedded on the way). */
export function accessSteps(access: MemberPath, structs: ReadonlyMap<string, KernelStruct>): { struct: KernelStruct; member: KernelMember }[] {
  let struct = structs.get(access.struct)!;
  return access.members.map((name) => {
    const member = struct.members.get(name)!;
    const step = { struct, member };
    if (member.kind === "struct") struct = structs.get(member.struct)!;
    return step;
  });
}

/** Where a member starts, in bits from its struct's start (a bitfield need not start on a byte). */
export const memberBitOffset = (m: KernelMember): number => (m.kind === "int" && m.bitfield ? m.bitfield.bitOffset : m.offset * 8);

/** Per struct, the members some access reads or walks through: what an object's local struct types declare. */
export function membersRead(accesses: Iterable<MemberPath>, structs: ReadonlyMap<string, KernelStruct>): Map<string, Set<string>> {
  const read = new Map<string, Set<string>>();
  for (const access of accesses) {
    for (const { struct, member } of accessSteps(access, structs)) read.set(struct.name, (read.get(struct.name) ?? new Set()).add(member.name));
  }
  return read;
}

/** The prelude's `declare module "tsbpf/kernel"` for what the file imported. */
export function kernelModuleText(imports: KernelImports): string {
  const structs = [...imports.structs.values()];
  const known = new Set(structs.map((s) => s.name));
  const int = (size: number, signed: boolean) => `${signed ? "i" : "u"}${size * 8}`;
  // Values beyond 2^53 are typed `number` without a literal: the compiler reads them from BTF exactly.
  const literal = (v: bigint) => (v >= -MAX_SAFE && v <= MAX_SAFE ? String(v) : "number");
  const body = structs.map((s) => {
    const fields = [...s.members.values()].map((m) => `    readonly ${JSON.stringify(m.name)}: ${memberType(m, known)};`);
    for (const [name, why] of s.unreadable) fields.push(`    readonly ${JSON.stringify(name)}: Unreadable<${JSON.stringify(why)}>;`);
    return `  export interface ${tsTypeName(s.name)} {\n${fields.join("\n")}\n  }`;
  });
  for (const e of imports.enums.values()) {
    const members = [...e.values].filter(([, v]) => v >= -MAX_SAFE && v <= MAX_SAFE).map(([n, v]) => `    ${n} = ${v},`);
    body.push(`  export enum ${tsTypeName(e.name)} {\n${members.join("\n")}\n  }`);
  }
  for (const t of imports.typedefs.values()) body.push(`  export type ${tsTypeName(t.name)} = ${int(t.size, t.signed)};`);
  for (const [name, v] of imports.constants) body.push(`  export const ${name}: ${literal(v)};`);
  return `declare module "tsbpf/kernel" {\n  import type { Arr, Ptr, Str, u8, u16, u32, u64, i8, i16, i32, i64 } from "tsbpf";\n  /** A NUL-terminated kernel string: printk prints it with %s. */\n  export interface CString { readonly __tsbpfCString: true }\n  /** A member tsbpf cannot read, and why. */\n  export interface Unreadable<Why extends string> { readonly __tsbpfUnreadable: Why }\n${body.join("\n")}\n}\n`;
}

/** A member's TypeScript type: pointers to structs not declared are untyped `Ptr`. */
function memberType(m: KernelMember, known: ReadonlySet<string>): string {
  switch (m.kind) {
    case "struct":
      return tsTypeName(m.struct);
    case "array":
      return m.string ? `Str<${m.length}>` : `Arr<${scalarType(m.element, known)}, ${m.length}>`;
    default:
      return scalarType(m, known);
  }
}

function scalarType(m: KernelScalar, known: ReadonlySet<string>): string {
  if (m.kind === "int") return m.bool ? "boolean" : `${m.signed ? "i" : "u"}${m.size * 8}`;
  return m.pointee && known.has(m.pointee) ? `Ptr<${tsTypeName(m.pointee)}>` : m.pointee === "char" ? "Ptr<CString>" : "Ptr";
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** How far a pass of StructReader.find has looked for a name, and what it found. */
interface NameScan {
  /** The string-section offsets the name is stored at. */
  names: Set<number>;
  /** The offset, where there is one only (as in a deduplicated section): compared without a Set's lookup. */
  only: number | undefined;
  /** Kind -> the first type of that kind with the name. */
  first: Map<number, number>;
  /** How many types (from type 1) the passes have looked at; Infinity once the section has ended. */
  scanned: number;
  /** The first enum (or enum64) with an enumerator of the name; null when none has; undefined until looked for. */
  enumerator?: number | null;
}

/**
 * The string offsets of a few names' scans, for a walk that compares every record's name with all of them: a slot
 * per offset in a small open-addressed table, so that a record whose name is none of them costs one typed load.
 */
class OffsetSet {
  private readonly keys: Uint32Array;
  private readonly owners: NameScan[] = [];
  private readonly mask: number;

  constructor(scans: readonly NameScan[]) {
    const count = scans.reduce((n, s) => n + s.names.size, 0);
    const size = 2 ** Math.ceil(Math.log2(count * 4 + 1));
    this.keys = new Uint32Array(size);
    this.mask = size - 1;
    for (const scan of scans) {
      for (const off of scan.names) {
        let i = off & this.mask;
        while (this.keys[i]) i = (i + 1) & this.mask;
        this.keys[i] = off;
        this.owners[i] = scan;
      }
    }
  }

  /** The scan whose name is stored at `off` (never 0: the empty string names nothing looked for). */
  get(off: number): NameScan | undefined {
    for (let i = off & this.mask; ; i = (i + 1) & this.mask) {
      const k = this.keys[i]!;
      if (k === off) return this.owners[i];
      if (k === 0) return undefined;
    }
  }
}

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Extra 32-bit words after a record's three, by kind: fixed (INT, ARRAY, VAR, DECL_TAG) or per vlen entry. */
const FIXED_WORDS = [0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0];
const WORDS_PER_ENTRY = [0, 0, 0, 0, 3, 3, 2, 0, 0, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 3];

/**
 * Struct lookups in vmlinux BTF without parsing all of it: `parseBtf`'s `find` decodes the whole string section
 * (~2.5 MB) and compares every type's name, ~0.1 s on a first compile; this finds a name's offset with one
 * native `indexOf` over the strings, compares name offsets in one pass over the type section, and decodes only
 * the records a struct's members lead to. A walk files the first type of every kind it meets under a name, and a
 * compile's imports are looked for in one walk (`prefetch`): an enum constant, asked for as a struct, a union, an
 * enum, an enum64 and a typedef before it is found as an enumerator, cost five walks over vmlinux's ~140,000 records
 * (3-10 ms each in a cold process), and a cold compile of tools/tcplife.ts, which imports five, ~50 ms more. Gives
 * the same `BtfType` records as `Btf` for the kinds it decodes (structs, unions, ints, enums, arrays, pointers,
 * modifiers); other kinds never reach kernelStruct.
 */
export class StructReader implements StructSource {
  /**
   * Word index of each type's record (index 0 is type 1), filled only as far as lookups have walked: vmlinux's
   * common structs come early (task_struct is type 114, sock 2953 of ~140,000), and indexing every record of the
   * 2.8 MB section up front cost a first compile ~11 ms.
   */
  private offsets = new Uint32Array(4096);
  private indexed = 0;
  /** Where the next record to index starts, in words. */
  private next = 0;
  /** What the passes for each name have found so far. */
  private readonly scans = new Map<string, NameScan>();

  private constructor(
    private readonly bytes: Buffer,
    private readonly words: Uint32Array,
    private readonly strStart: number,
    private readonly strEnd: number,
  ) {}

  /** A reader for a standalone, host-order blob with an aligned type section; undefined for anything else. */
  static open(bytes: Buffer): StructReader | undefined {
    if (bytes.length < 24 || !HOST_LE || bytes.readUInt16LE(0) !== BTF_MAGIC || bytes[2] !== 1) return undefined;
    const hdrLen = bytes.readUInt32LE(4);
    const typeStart = hdrLen + bytes.readUInt32LE(8);
    const typeLen = bytes.readUInt32LE(12);
    const strStart = hdrLen + bytes.readUInt32LE(16);
    const strEnd = strStart + bytes.readUInt32LE(20);
    if (hdrLen < 24 || typeLen % 4 || (bytes.byteOffset + typeStart) % 4 || typeStart + typeLen > bytes.length || strEnd > bytes.length || bytes[strStart] !== 0) return undefined;
    return new StructReader(bytes, new Uint32Array(bytes.buffer, bytes.byteOffset + typeStart, typeLen / 4), strStart, strEnd);
  }

  /** The first type named `name` (of `kind`, if given). */
  find(name: string, kind?: number): BtfType | undefined {
    if (!name) return undefined;
    const scan = this.scanFor(name);
    const { words } = this;
    const { names, only, first } = scan;
    const found = () => (kind === undefined ? first.size > 0 : first.has(kind));
    // Types before `scanned` are filed already; the pass goes on from there until it meets the kind asked for.
    if (!found() && scan.scanned !== Infinity) {
      let i = scan.scanned;
      for (; i < this.indexed || this.index(i + 1); i++) {
        const p = this.offsets[i]!;
        if (only !== undefined ? words[p] !== only : !names.has(words[p]!)) continue;
        const k = (words[p + 1]! >>> 24) & 0x1f;
        if (first.has(k)) continue;
        first.set(k, i + 1);
        if (found()) break;
      }
      scan.scanned = i < this.indexed ? i + 1 : Infinity;
    }
    const id = kind !== undefined ? first.get(kind) : first.size ? Math.min(...first.values()) : undefined;
    return id === undefined ? undefined : this.typeById(id);
  }

  private scanFor(name: string): NameScan {
    let scan = this.scans.get(name);
    if (!scan) {
      const names = this.nameOffsets(name);
      // A name not in the string section is in no record.
      this.scans.set(name, (scan = { names, only: names.size === 1 ? [...names][0] : undefined, first: new Map(), scanned: names.size ? 0 : Infinity }));
      if (!names.size) scan.enumerator = null;
    }
    return scan;
  }

  /**
   * Looks for several names in one walk, as types of every kind: a compile's imports, before it asks about each. The
   * walk goes on until each has been met as some type, or the section ends, which it must for an enum constant; then
   * the names no type has are looked for as enumerators, in one more walk over the enums.
   */
  prefetch(names: readonly string[]): void {
    const fresh = [...new Set(names)].map((n) => this.scanFor(n)).filter((s) => s.scanned === 0);
    if (fresh.length < 2) return;
    const wanted = new OffsetSet(fresh);
    const { words } = this;
    let left = fresh.length;
    let i = 0;
    for (; left; i++) {
      if (i >= this.indexed && !this.index(i + 1)) {
        i = Infinity;
        break;
      }
      const p = this.offsets[i]!;
      const owner = wanted.get(words[p]!);
      if (!owner) continue;
      const k = (words[p + 1]! >>> 24) & 0x1f;
      if (!owner.first.size) left--;
      if (!owner.first.has(k)) owner.first.set(k, i + 1);
    }
    for (const scan of fresh) scan.scanned = i;
    if (i === Infinity) this.findEnumerators(fresh.filter((s) => !s.first.size));
  }

  /** The value of the first enumerator named `name`, in any enum (named or anonymous). */
  enumerator(name: string): bigint | undefined {
    const scan = this.scanFor(name);
    if (scan.enumerator === undefined) this.findEnumerators([scan]);
    if (!scan.enumerator) return undefined;
    const { words } = this;
    const { names, only } = scan;
    const p = this.offsets[scan.enumerator - 1]!;
    const info = words[p + 1]!;
    const kind = (info >>> 24) & 0x1f;
    const signed = info >>> 31 === 1;
    const step = kind === BtfKind.ENUM ? 2 : 3;
    for (let j = 0, q = p + 3; j < (info & 0xffff); j++, q += step) {
      if (only !== undefined ? words[q] !== only : !names.has(words[q]!)) continue;
      if (kind === BtfKind.ENUM) return signed ? BigInt(words[q + 1]! | 0) : BigInt(words[q + 1]!);
      const v = (BigInt(words[q + 2]!) << 32n) | BigInt(words[q + 1]!);
      return signed ? BigInt.asIntN(64, v) : v;
    }
    return undefined;
  }

  /** Files the first enum with an enumerator of each of `scans`' names (null where none has), in one walk. */
  private findEnumerators(scans: readonly NameScan[]): void {
    const pending = scans.filter((s) => s.enumerator === undefined);
    if (!pending.length) return;
    const wanted = new OffsetSet(pending);
    const { words } = this;
    let left = pending.length;
    for (let i = 0; left && (i < this.indexed || this.index(i + 1)); i++) {
      const p = this.offsets[i]!;
      const info = words[p + 1]!;
      const kind = (info >>> 24) & 0x1f;
      if (kind !== BtfKind.ENUM && kind !== BtfKind.ENUM64) continue;
      const step = kind === BtfKind.ENUM ? 2 : 3;
      for (let j = 0, q = p + 3; j < (info & 0xffff); j++, q += step) {
        const owner = wanted.get(words[q]!);
        if (owner && owner.enumerator === undefined) {
          owner.enumerator = i + 1;
          left--;
        }
      }
    }
    for (const scan of pending) scan.enumerator ??= null;
  }

  /**
   * Indexes records until type `id` has one, and a batch beyond (so that a walk calls this rarely): false when
   * the section ends first. A record of an unknown kind or one that runs past the section is a BtfError.
   */
  private index(id: number): boolean {
    const { words } = this;
    const upTo = Math.max(id, this.indexed + 4096);
    // The walk is in locals, written back before any return or throw: a cold process runs it in V8's interpreter,
    // where every field access costs (all of vmlinux's records: 12-21 ms through fields, 9-11 ms in locals).
    let indexed = this.indexed;
    let next = this.next;
    let offsets = this.offsets;
    const end = words.length;
    try {
      while (indexed < upTo) {
        const p = next;
        if (p === end) break;
        const info = p + 3 <= end ? words[p + 1]! : 0;
        const kind = (info >>> 24) & 0x1f;
        if (kind === 0 || kind > 19) {
          // A batch stops short of a record it cannot read; only a lookup that needs it fails.
          if (indexed >= id) break;
          throw new BtfError(`BTF: type [${indexed + 1}] ${p + 3 > end ? "runs past the type section" : `has invalid kind ${kind}`}`);
        }
        if (indexed === offsets.length) {
          const grown = new Uint32Array(indexed * 2);
          grown.set(offsets);
          offsets = this.offsets = grown;
        }
        offsets[indexed++] = p;
        next = p + 3 + FIXED_WORDS[kind]! + WORDS_PER_ENTRY[kind]! * (info & 0xffff);
        if (next > end) throw new BtfError(`BTF: type [${indexed}] runs past the type section`);
      }
    } finally {
      this.indexed = indexed;
      this.next = next;
    }
    return indexed >= id;
  }

  /** The type after skipping typedef, const, volatile, restrict and type_tag. */
  resolveType(id: number): BtfType {
    for (let n = 0; n < 64; n++) {
      const t = this.typeById(id);
      if (t.kind !== BtfKind.TYPEDEF && t.kind !== BtfKind.CONST && t.kind !== BtfKind.VOLATILE && t.kind !== BtfKind.RESTRICT && t.kind !== BtfKind.TYPE_TAG) return t;
      id = t.type;
    }
    throw new Error(`BTF: modifier chain from [${id}] is too long`);
  }

  namesStartingWith(prefix: string): string[] {
    const needle = Buffer.from(`\0${prefix}`, "utf8");
    const names: string[] = [];
    for (let at = this.bytes.indexOf(needle, this.strStart); at >= 0 && at < this.strEnd; at = this.bytes.indexOf(needle, at + 1)) names.push(this.name(at + 1 - this.strStart));
    return names;
  }

  namesOfKind(kind: number): string[] {
    const names: string[] = [];
    for (let i = 0; i < this.indexed || this.index(i + 1); i++) {
      const p = this.offsets[i]!;
      if (((this.words[p + 1]! >>> 24) & 0x1f) === kind) names.push(this.name(this.words[p]!));
    }
    return names;
  }

  /** The string-section offsets at which `name` is stored: one native indexOf per occurrence. */
  private nameOffsets(name: string): Set<number> {
    const needle = Buffer.from(`\0${name}\0`, "utf8");
    const names = new Set<number>();
    for (let at = this.bytes.indexOf(needle, this.strStart); at >= 0 && at < this.strEnd; at = this.bytes.indexOf(needle, at + 1)) names.add(at + 1 - this.strStart);
    return names;
  }

  private name(off: number): string {
    const start = this.strStart + off;
    const end = this.bytes.indexOf(0, start);
    return this.bytes.toString("utf8", start, end < 0 || end > this.strEnd ? this.strEnd : end);
  }

  typeById(id: number): BtfType {
    if (id === 0) return { kind: BtfKind.UNKN, id: 0, name: "" };
    if (id > this.indexed && !this.index(id)) throw new BtfError(`BTF: no type [${id}]`);
    const p = this.offsets[id - 1]!;
    const w = this.words;
    const name = this.name(w[p]!);
    const info = w[p + 1]!;
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const st = w[p + 2]!;
    switch (kind) {
      case BtfKind.INT: {
        const x = w[p + 3]!;
        return { kind, id, name, size: st, encoding: (x >>> 24) & 0x0f, offset: (x >>> 16) & 0xff, bits: x & 0xff };
      }
      case BtfKind.STRUCT:
      case BtfKind.UNION: {
        const members = [];
        for (let j = 0, q = p + 3; j < vlen; j++, q += 3) {
          const off = w[q + 2]!;
          members.push({ name: this.name(w[q]!), type: w[q + 1]!, bitOffset: kflag ? off & 0xffffff : off, bitfieldSize: kflag ? off >>> 24 : 0 });
        }
        return { kind, id, name, size: st, kindFlag: kflag, members };
      }
      case BtfKind.ENUM: {
        const values = [];
        for (let j = 0, q = p + 3; j < vlen; j++, q += 2) values.push({ name: this.name(w[q]!), value: kflag ? w[q + 1]! | 0 : w[q + 1]! });
        return { kind, id, name, size: st, signed: kflag, values };
      }
      case BtfKind.ENUM64: {
        const values = [];
        for (let j = 0, q = p + 3; j < vlen; j++, q += 3) {
          const v = (BigInt(w[q + 2]!) << 32n) | BigInt(w[q + 1]!);
          values.push({ name: this.name(w[q]!), value: kflag ? BigInt.asIntN(64, v) : v });
        }
        return { kind, id, name, size: st, signed: kflag, values };
      }
      case BtfKind.ARRAY:
        return { kind, id, name, type: w[p + 3]!, indexType: w[p + 4]!, nelems: w[p + 5]! };
      case BtfKind.FUNC:
        return { kind, id, name, type: st, linkage: vlen };
      case BtfKind.FUNC_PROTO: {
        const params = [];
        for (let j = 0, q = p + 3; j < vlen; j++, q += 2) params.push({ name: this.name(w[q]!), type: w[q + 1]! });
        return { kind, id, name, returnType: st, params };
      }
      case BtfKind.PTR:
      case BtfKind.TYPEDEF:
      case BtfKind.VOLATILE:
      case BtfKind.CONST:
      case BtfKind.RESTRICT:
      case BtfKind.TYPE_TAG:
        return { kind, id, name, type: st };
      default:
        // Functions and the rest: kernelStruct declares members of these kinds unreadable.
        return { kind: BtfKind.FWD, id, name, union: false };
    }
  }
}
