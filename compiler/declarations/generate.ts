// TypeScript declarations for kernel types, from BTF: what `tsbpf btf TYPE...` prints.
// Takes a parsed BTF (vmlinux) and the C names of the types (and enum constants) to declare; gives the
// text of a declaration file holding `declare module "tsbpf/kernel" { ... }` with those types and the types
// they reference, plus the lists of what was expanded and what was left opaque.
//
// How BTF maps to TypeScript (the same mapping the compiler's prelude uses for the members it can
// read, frontend/kernel-types.ts; a test keeps the two in step):
//   - integers and enums by size and signedness: u8..u64, i8..i64 (`_Bool` is `boolean`, as the compiler reads it); an enum-typed
//     member keeps its integer type and names the enum in its doc comment; the enum itself is a
//     `enum` (ambient, so it is usable under isolatedModules; ENUM64 values beyond 2^53 are listed in a comment instead);
//   - pointers are `Ptr<T>`: `Ptr<CString>` for any 1-byte integer pointee (a string printk prints
//     with %s), `Ptr<S>` for structs and unions, `Ptr` for void and function pointers;
//   - `char` arrays are `Str<N>`, arrays of integers, enums or pointers `Arr<T, N>` (the compiler reads
//     both), other arrays `FixedArray<T, N>` (nested for more dimensions);
//   - nested structs and unions by name; anonymous struct/union types of named members inline;
//     anonymous members flattened into the enclosing interface, as C lets you name them;
//   - bitfields as their declared integer type (what the compiler reads them as), with `@bitfield WIDTH` and the
//     bit offset in the member's doc comment (every member's doc gives its C type and byte offset);
//   - typedefs as type aliases (a typedef of an anonymous struct is that struct's interface);
//   - 128-bit integers and floats as FixedArray of their bytes.
//
// The closure rule: the named types are depth 0; a type referenced (by value or through a pointer;
// typedefs and qualifiers do not count) from a type at depth d is at depth d+1. Struct and union
// types are expanded breadth-first while their depth is at most `maxDepth` and fewer than
// `maxTypes` have been expanded; the rest are declared opaque (an empty interface, so `Ptr<T>` still
// names them and a later, fuller declaration merges with it). Forward declarations without a
// definition are opaque too. Enums past the limits are not declared (the member still says which
// enum it holds). The named types are always expanded.

import { BtfIntEncoding, BtfKind, type Btf, type BtfMember, type BtfStruct, type BtfType } from "../btf/index.js";
import { kernelStruct } from "../frontend/kernel-types.js";
import { INTEGER_TYPEDEFS, Namer, skipQualifiers } from "./names.js";

/** C's `_Bool` (BTF's BOOL encoding, one byte): the compiler reads it as a boolean (frontend/kernel-types.ts). */
const isBool = (t: BtfType): boolean => t.kind === BtfKind.INT && t.size === 1 && (t.encoding & BtfIntEncoding.BOOL) !== 0;

export interface DeclarationOptions {
  /** Deepest expanded level of referenced types (roots are 0); default 1. */
  maxDepth?: number;
  /** Most struct/union/typedef'd-struct types expanded in one file; default 200. */
  maxTypes?: number;
  /** A note for the header (e.g. the command line that made the file). */
  source?: string;
}

export interface Declarations {
  text: string;
  /** C names of the types declared with their members (roots first). */
  expanded: string[];
  /** C names of the types declared opaque (over the limits, or forward-only in BTF). */
  opaque: string[];
  /** Each root struct's members as declared, by member name (anonymous members flattened). */
  members: Map<string, Map<string, DeclaredMember>>;
}

export interface DeclaredMember {
  /** The TypeScript type as written (typedef names kept). */
  type: string;
  /** The type with typedefs resolved: u8..i64, Ptr<CString>, Ptr<STRUCT>, Ptr<...>, Ptr, or "other". */
  canonical: string;
  /** Whether tsbpf's compiler reads this member today (frontend/kernel-types.ts). */
  readable: boolean;
}

/** An enumerator declared on its own: what a probe's `import { TCP_ESTABLISHED } from "tsbpf/kernel"` names. */
export interface KernelConstant {
  name: string;
  value: bigint;
  /** The enum it belongs to; "" for an anonymous one. */
  enumName: string;
}

interface Entity {
  id: number;
  name: string;
  depth: number;
}

const INDENT = "  ";

export function generateDeclarations(btf: Btf, roots: readonly number[], options: DeclarationOptions = {}, constants: readonly KernelConstant[] = []): Declarations {
  const maxDepth = options.maxDepth ?? 1;
  const maxTypes = options.maxTypes ?? 200;
  const namer = new Namer(btf);
  const entities = new Map<number, Entity>();
  const queue: Entity[] = [];
  const out: string[] = [];
  const expanded: string[] = [];
  const opaque: string[] = [];
  const members = new Map<string, Map<string, DeclaredMember>>();
  const rootSet = new Set(roots);
  let expandedCount = 0;

  /** A named type's declaration name, queueing its declaration at `depth` the first time. */
  const ref = (t: BtfType, depth: number): string => {
    let e = entities.get(t.id);
    if (!e) {
      e = { id: t.id, name: namer.name(t), depth };
      entities.set(t.id, e);
      queue.push(e);
    }
    return e.name;
  };

  const intType = (size: number, signed: boolean): string | undefined =>
    size === 1 || size === 2 || size === 4 || size === 8 ? `${signed ? "i" : "u"}${size * 8}` : undefined;

  /** A FWD resolved to a definition of the same name, when BTF has one. */
  const definition = (t: BtfType): BtfType => {
    if (t.kind !== BtfKind.FWD) return t;
    const def = btf.find(t.name, t.union ? BtfKind.UNION : BtfKind.STRUCT);
    return def ?? t;
  };

  /** The TypeScript type of BTF type `id`; named types it references are queued at `depth`. */
  const tsType = (id: number, depth: number, indent: string): string => {
    const t = btf.typeById(skipQualifiers(btf, id));
    switch (t.kind) {
      case BtfKind.UNKN:
        return "void";
      case BtfKind.INT:
        if (isBool(t)) return "boolean";
        return intType(t.size, (t.encoding & BtfIntEncoding.SIGNED) !== 0) ?? (t.size === 16 ? "FixedArray<u64, 2>" : `FixedArray<u8, ${t.size}>`);
      case BtfKind.FLOAT:
        return `FixedArray<u8, ${t.size}>`;
      case BtfKind.ENUM:
      case BtfKind.ENUM64:
        if (t.name) ref(t, depth);
        return intType(t.size, t.signed) ?? `FixedArray<u8, ${t.size}>`;
      case BtfKind.TYPEDEF: {
        if (INTEGER_TYPEDEFS.has(t.name)) {
          const r = btf.resolveType(t.type);
          if (r.kind === BtfKind.INT && intType(r.size, (r.encoding & BtfIntEncoding.SIGNED) !== 0) === t.name) return t.name;
        }
        if (namer.isRedundantTypedef(t)) return tsType(t.type, depth, indent);
        return ref(t, depth);
      }
      case BtfKind.PTR: {
        const pointee = btf.resolveType(t.type);
        if (pointee.kind === BtfKind.UNKN || pointee.kind === BtfKind.FUNC_PROTO) return "Ptr";
        if (pointee.kind === BtfKind.INT && pointee.size === 1) return "Ptr<CString>";
        if ((pointee.kind === BtfKind.STRUCT || pointee.kind === BtfKind.UNION) && !pointee.name && btf.kindOf(skipQualifiers(btf, t.type)) !== BtfKind.TYPEDEF) return "Ptr";
        return `Ptr<${tsType(t.type, depth, indent)}>`;
      }
      case BtfKind.ARRAY: {
        const elem = btf.resolveType(t.type);
        if (elem.kind === BtfKind.INT && elem.size === 1 && elem.name === "char") return `Str<${t.nelems}>`;
        return `${t.nelems && scalar(elem) ? "Arr" : "FixedArray"}<${tsType(t.type, depth, indent)}, ${t.nelems}>`;
      }
      case BtfKind.STRUCT:
      case BtfKind.UNION:
        if (t.name) return ref(t, depth);
        return `{\n${body(t, depth, indent + INDENT, 0, undefined).join("\n")}\n${indent}}`;
      case BtfKind.FWD: {
        const def = definition(t);
        return ref(def, depth);
      }
      default:
        return "unknown";
    }
  };

  /**
   * Member lines of a struct/union at `indent`; referenced types go to depth `depth`. Anonymous
   * members are flattened (their offsets added to `base`, their kind noted); `record` collects
   * each member's TypeScript type by name.
   */
  const body = (
    t: BtfStruct,
    depth: number,
    indent: string,
    base: number,
    record: Map<string, DeclaredMember> | undefined,
    via?: string,
    outer?: ReadonlyMap<string, unknown>,
  ): string[] => {
    const lines: string[] = [];
    // What the compiler declares for this struct when a probe imports it; members of anonymous
    // structs and unions count as the named outer struct's, as the compiler reads them.
    const readable = via ? outer : t.name ? kernelStruct(btf, t.name)?.members : undefined;
    for (const m of t.members) {
      const inner = btf.resolveType(m.type);
      if (!m.name) {
        if ((inner.kind === BtfKind.STRUCT || inner.kind === BtfKind.UNION) && !m.bitfieldSize) {
          const what = `anonymous ${inner.kind === BtfKind.UNION ? "union" : "struct"} at offset ${(base + m.bitOffset) / 8}`;
          lines.push(...body(inner, depth, indent, base + m.bitOffset, record, via ? `${via}, in an ${what}` : `in an ${what}`, readable));
        }
        continue; // unnamed bitfield padding
      }
      const type = m.bitfieldSize ? bitfieldType(m) : tsType(m.type, depth, indent);
      const canRead = readable?.has(m.name) ?? false;
      record?.set(m.name, { type, canonical: m.bitfieldSize ? type : canonical(m.type), readable: canRead });
      const note = t.name || via ? (canRead ? "" : "; the compiler cannot read it yet") : "";
      lines.push(`${indent}/** ${memberDoc(m, base, via)}${note} */`, `${indent}readonly ${m.name}: ${type};`);
    }
    return lines;
  };

  /** Whether the compiler reads a value of this (resolved) type with one probe read: an integer, enum or pointer. */
  const scalar = (r: BtfType): boolean =>
    r.kind === BtfKind.PTR || ((r.kind === BtfKind.INT || r.kind === BtfKind.ENUM || r.kind === BtfKind.ENUM64) && intType(r.size, false) !== undefined);

  /** Typedefs resolved, in the compiler's vocabulary (frontend/kernel-types.ts). */
  const canonical = (id: number): string => {
    const r = btf.resolveType(id);
    if ((r.kind === BtfKind.STRUCT || r.kind === BtfKind.UNION) && r.name) return r.name;
    if (r.kind === BtfKind.ARRAY) {
      const elem = btf.resolveType(r.type);
      if (elem.kind === BtfKind.INT && elem.size === 1 && elem.name === "char") return `Str<${r.nelems}>`;
      return r.nelems && scalar(elem) ? `Arr<${canonical(r.type)}, ${r.nelems}>` : "other";
    }
    if (r.kind === BtfKind.INT) return isBool(r) ? "boolean" : (intType(r.size, (r.encoding & BtfIntEncoding.SIGNED) !== 0) ?? "other");
    if (r.kind === BtfKind.ENUM || r.kind === BtfKind.ENUM64) return intType(r.size, r.signed) ?? "other";
    if (r.kind !== BtfKind.PTR) return "other";
    const p = btf.resolveType(r.type);
    if (p.kind === BtfKind.INT && p.size === 1) return "Ptr<CString>";
    if ((p.kind === BtfKind.STRUCT || p.kind === BtfKind.UNION) && p.name) return `Ptr<${p.name}>`;
    return p.kind === BtfKind.UNKN || p.kind === BtfKind.FUNC_PROTO ? "Ptr" : "Ptr<...>";
  };

  const bitfieldType = (m: BtfMember): string => {
    const r = btf.resolveType(m.type);
    if (isBool(r)) return "boolean";
    const signed = r.kind === BtfKind.INT ? (r.encoding & BtfIntEncoding.SIGNED) !== 0 : r.kind === BtfKind.ENUM || r.kind === BtfKind.ENUM64 ? r.signed : false;
    const size = r.kind === BtfKind.INT || r.kind === BtfKind.ENUM || r.kind === BtfKind.ENUM64 ? r.size : 8;
    return intType(size, signed) ?? "u64";
  };

  const memberDoc = (m: BtfMember, base: number, via: string | undefined): string => {
    const bit = base + m.bitOffset;
    const ctype = btf.typeName(m.type).replace(/\*\//g, "* /");
    const parts = [`\`${ctype}\` at offset ${Math.floor(bit / 8)}`];
    const r = btf.resolveType(m.type);
    if ((r.kind === BtfKind.ENUM || r.kind === BtfKind.ENUM64) && r.name) parts.push(`holds enum ${r.name}`);
    if (via) parts.push(via);
    let doc = parts.join(", ");
    if (m.bitfieldSize) doc += ` @bitfield a ${m.bitfieldSize}-bit bitfield from bit ${bit}`;
    return doc;
  };

  // Roots first (always expanded), then breadth-first.
  for (const id of roots) ref(btf.typeById(id), 0);
  for (let i = 0; i < queue.length; i++) {
    const e = queue[i]!;
    const t = btf.typeById(e.id);
    const isRoot = rootSet.has(e.id);
    const cname = t.kind === BtfKind.TYPEDEF ? t.name : `${t.kind === BtfKind.ENUM || t.kind === BtfKind.ENUM64 ? "enum" : t.kind === BtfKind.UNION || (t.kind === BtfKind.FWD && t.union) ? "union" : "struct"} ${t.name}`;
    const withinLimits = e.depth <= maxDepth && expandedCount < maxTypes;
    if (t.kind === BtfKind.ENUM || t.kind === BtfKind.ENUM64) {
      if (!isRoot && !withinLimits) continue;
      out.push(...enumDecl(t, e.name, cname));
      continue;
    }
    if (t.kind === BtfKind.TYPEDEF) {
      const target = btf.typeById(skipQualifiers(btf, t.type));
      const anonComposite = (target.kind === BtfKind.STRUCT || target.kind === BtfKind.UNION) && !target.name;
      if (!anonComposite) {
        out.push(`${INDENT}/** typedef \`${btf.typeName(t.type)}\` ${t.name} */`, `${INDENT}export type ${e.name} = ${tsType(t.type, e.depth, INDENT)};`);
        continue;
      }
      // A typedef of an anonymous struct: the struct's interface under the typedef's name.
      const struct = target as BtfStruct;
      if (isRoot || withinLimits) {
        expandedCount++;
        expanded.push(t.name);
        const record = isRoot ? new Map<string, DeclaredMember>() : undefined;
        out.push(`${INDENT}/** typedef ${struct.kind === BtfKind.UNION ? "union" : "struct"} {...} ${t.name}: ${struct.size} bytes */`, `${INDENT}export interface ${e.name} {`, ...body(struct, e.depth + 1, INDENT + INDENT, 0, record), `${INDENT}}`);
        if (record) members.set(t.name, record);
      } else {
        opaque.push(t.name);
        out.push(...opaqueDecl(e.name, `typedef ${t.name}`, "beyond the depth or size limit"));
      }
      continue;
    }
    if (t.kind === BtfKind.FWD) {
      opaque.push(cname);
      out.push(...opaqueDecl(e.name, cname, "only forward-declared in this BTF"));
      continue;
    }
    if (t.kind !== BtfKind.STRUCT && t.kind !== BtfKind.UNION) continue;
    if (!isRoot && !withinLimits) {
      opaque.push(cname);
      out.push(...opaqueDecl(e.name, cname, "beyond the depth or size limit"));
      continue;
    }
    expandedCount++;
    expanded.push(cname);
    const record = isRoot ? new Map<string, DeclaredMember>() : undefined;
    out.push(`${INDENT}/** ${cname}: ${t.size} bytes */`, `${INDENT}export interface ${e.name} {`, ...body(t, e.depth + 1, INDENT + INDENT, 0, record), `${INDENT}}`);
    if (record) members.set(t.name, record);
  }

  for (const c of constants) out.push(...constantDecl(c));

  const header = [
    "// Kernel type declarations for tsbpf probes, generated from BTF by `tsbpf btf`. Do not edit.",
    ...(options.source ? [`// ${options.source}`] : []),
    `// Expanded to depth ${maxDepth} (at most ${maxTypes} types); deeper types are opaque: generate them by name to see their members.`,
    "// Probes import structs by their C name: import type { sock } from \"tsbpf/kernel\"; the compiler reads",
    "// through pointer members (skb.sk.sk_mark) without importing the pointee. It also takes enums",
    "// (sock_type.SOCK_STREAM), integer typedefs (pid_t) and enum constants (TCP_ESTABLISHED, from an anonymous",
    "// enum too) imported by name, as constants from the kernel's BTF; name them here to declare them.",
    "",
    'declare module "tsbpf/kernel" {',
    '  import type { Arr, Ptr, Str, u8, u16, u32, u64, i8, i16, i32, i64 } from "tsbpf";',
    "  /** A NUL-terminated kernel string: printk prints it with %s. */",
    "  export interface CString { readonly __tsbpfCString: true }",
    "  /** A C array of structs, arrays or wider values, which the compiler does not read. */",
    "  export interface FixedArray<T, N extends number> { readonly length: N; readonly [index: number]: T }",
  ];
  const text = `${header.join("\n")}\n${out.join("\n")}\n}\n`;
  return { text, expanded, opaque, members };
}

function opaqueDecl(name: string, cname: string, why: string): string[] {
  return [`${INDENT}/** ${cname}: opaque (${why}) */`, `${INDENT}export interface ${name} {}`];
}

/** An enumerator's value as C reads it: BTF's 32-bit values by the enum's signedness. */
export function enumeratorValue(t: { signed: boolean }, value: number | bigint): bigint {
  return typeof value === "bigint" ? value : BigInt(t.signed ? value | 0 : value >>> 0);
}

function constantDecl(c: KernelConstant): string[] {
  const exact = c.value <= BigInt(Number.MAX_SAFE_INTEGER) && c.value >= BigInt(Number.MIN_SAFE_INTEGER);
  const of = c.enumName ? `enum ${c.enumName}` : "an anonymous enum";
  return [`${INDENT}/** ${c.name} = ${c.value}, of ${of}: folded at compile time */`, `${INDENT}export const ${c.name}: ${exact ? String(c.value) : "number"};`];
}

function enumDecl(t: Extract<BtfType, { kind: typeof BtfKind.ENUM | typeof BtfKind.ENUM64 }>, name: string, cname: string): string[] {
  const values = t.values.map((v) => ({ name: v.name, value: enumeratorValue(t, v.value) }));
  const big = values.filter((v) => v.value > BigInt(Number.MAX_SAFE_INTEGER) || v.value < BigInt(Number.MIN_SAFE_INTEGER));
  const lines = [`${INDENT}/** ${cname}: ${t.size} bytes, ${t.signed ? "signed" : "unsigned"}${big.length ? `; beyond 2^53: ${big.map((v) => `${v.name} = ${v.value}`).join(", ")}` : ""} */`, `${INDENT}export enum ${name} {`];
  for (const v of values) if (!big.includes(v)) lines.push(`${INDENT}${INDENT}${v.name} = ${v.value},`);
  lines.push(`${INDENT}}`);
  return lines;
}

