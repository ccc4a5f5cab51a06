// TypeScript names for kernel types in generated declarations.
// Takes a BTF type (a named struct, union, enum, typedef or forward declaration) and the BTF it
// lives in; gives the identifier the declaration file uses for it, stable across runs on the same
// BTF. C keeps struct/union, enum and typedef names in separate namespaces and allows names that
// TypeScript reserves; TypeScript has one type namespace. The rules, in order:
//   1. structs, unions and forward declarations keep their C name (they are what probes import,
//      and the compiler looks them up by that name);
//   2. an enum whose name a struct/union also has becomes `enum_NAME`;
//   3. a typedef whose name a struct/union/enum also has becomes `typedef_NAME`, unless it only
//      renames that same struct (`typedef struct foo foo`), which needs no declaration at all;
//   4. a name TypeScript reserves (keywords, `string`, `number`, ...) or that the declaration file
//      itself uses (`Ptr`, `Arr`, `u32`, `CString`, `FixedArray`, ...) gets a trailing `_`;
//   5. a second, different type with the same name (vmlinux has a few) gets `_2`, `_3`, ...
// Kernel typedefs named like tsbpf's integer types (`u8`..`u64`) are the same types: references to
// them use tsbpf's and they are not redeclared.

import { BtfKind, isModifierKind, type Btf, type BtfType } from "../btf/index.js";

/** Words TypeScript does not allow as a type name (reserved words and predefined types). */
const RESERVED = new Set([
  "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else", "enum",
  "export", "extends", "false", "finally", "for", "function", "if", "import", "in", "instanceof", "new", "null",
  "return", "super", "switch", "this", "throw", "true", "try", "typeof", "var", "void", "while", "with",
  "implements", "interface", "let", "package", "private", "protected", "public", "static", "yield", "await",
  "any", "unknown", "never", "number", "bigint", "boolean", "string", "symbol", "object", "undefined",
  "declare", "type", "keyof", "readonly", "infer", "is", "asserts", "global", "module", "namespace", "require",
  "abstract", "as", "async", "constructor", "get", "set", "of", "from", "satisfies", "accessor", "out", "unique",
]);

/** The names the generated module declares or imports itself. */
export const TSBPF_TYPE_NAMES = ["Arr", "Ptr", "Str", "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "CString", "FixedArray"] as const;
const OWN = new Set<string>(TSBPF_TYPE_NAMES);

/**
 * A kernel type's C name as a declaration spells it when no other rule renames it (rule 4: `class_` for
 * `struct class`). The compiler's own "tsbpf/kernel" module spells names so too, so a probe imports what
 * `tsbpf btf` declares.
 */
export function tsTypeName(c: string): string {
  return RESERVED.has(c) || OWN.has(c) ? `${c}_` : c;
}

/** The C name a declared name stands for: tsTypeName's inverse. */
export function cTypeName(name: string): string {
  return name.endsWith("_") && tsTypeName(name.slice(0, -1)) === name ? name.slice(0, -1) : name;
}

/** tsbpf's integer type for a kernel typedef of the same name, when they agree. */
export const INTEGER_TYPEDEFS = new Set(["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"]);

/** Skips const, volatile, restrict and type tags (not typedefs). */
export function skipQualifiers(btf: Btf, id: number): number {
  for (let n = 0; n < 64 && isModifierKind(btf.kindOf(id)) && btf.kindOf(id) !== BtfKind.TYPEDEF; n++) {
    id = (btf.typeById(id) as { type: number }).type;
  }
  return id;
}

export class Namer {
  private readonly byId = new Map<number, string>();
  private readonly taken = new Map<string, number>();

  constructor(private readonly btf: Btf) {
    for (const n of TSBPF_TYPE_NAMES) this.taken.set(n, -1);
  }

  private has(name: string, kinds: number[]): boolean {
    return kinds.some((k) => this.btf.findIdsByName(name, k).length > 0);
  }

  /** A typedef that only renames the struct/union of the same name: references use the struct. */
  isRedundantTypedef(t: BtfType): boolean {
    if (t.kind !== BtfKind.TYPEDEF) return false;
    const target = this.btf.typeById(skipQualifiers(this.btf, t.type));
    return (target.kind === BtfKind.STRUCT || target.kind === BtfKind.UNION) && target.name === t.name;
  }

  /** The declaration name of a named struct, union, forward declaration, enum or typedef. */
  name(t: BtfType): string {
    const known = this.byId.get(t.id);
    if (known) return known;
    let base = t.name;
    if (t.kind === BtfKind.ENUM || t.kind === BtfKind.ENUM64) {
      if (this.has(t.name, [BtfKind.STRUCT, BtfKind.UNION, BtfKind.FWD])) base = `enum_${t.name}`;
    } else if (t.kind === BtfKind.TYPEDEF) {
      if (this.has(t.name, [BtfKind.STRUCT, BtfKind.UNION, BtfKind.FWD, BtfKind.ENUM, BtfKind.ENUM64])) base = `typedef_${t.name}`;
    }
    base = tsTypeName(base);
    let name = base;
    for (let n = 2; this.taken.has(name) && this.taken.get(name) !== t.id; n++) name = `${base}_${n}`;
    this.taken.set(name, t.id);
    this.byId.set(t.id, name);
    return name;
  }
}
