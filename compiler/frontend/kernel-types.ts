// Kernel struct types for `import type { filename } from "tsbpf/kernel"`, from the kernel's BTF.
// Takes the imported names and vmlinux BTF; gives each struct's readable members (offset, size,
// signedness, pointee) and the `declare module "tsbpf/kernel"` text the prelude adds, so
// `name.name` type-checks and lowers to a CO-RE-relocated probe read.
// Members that are arrays, named nested structs or bitfields are not declared yet; members of
// anonymous structs and unions are declared as the outer struct's.

import { readFileSync } from "node:fs";
import { BtfIntEncoding, BtfKind, parseBtf, type Btf } from "../btf/index.js";

export const VMLINUX_BTF = "/sys/kernel/btf/vmlinux";

export interface KernelMember {
  name: string;
  /** Index among the struct's members (the CO-RE access string's last number). */
  index: number;
  offset: number;
  size: 1 | 2 | 4 | 8;
  signed: boolean;
  /** For pointers: the pointee struct's name, "char" for strings, "" otherwise. */
  pointee?: string;
  /** The member's BTF type kind in vmlinux (INT, ENUM or PTR), for the object's local type. */
  kind: "int" | "ptr";
}

export interface KernelStruct {
  name: string;
  size: number;
  union: boolean;
  members: Map<string, KernelMember>;
}

const cache = new Map<string, Btf>();

/** Parsed vmlinux BTF (cached per path); undefined when it cannot be read. */
export function loadKernelBtf(path = VMLINUX_BTF): Btf | undefined {
  let btf = cache.get(path);
  if (!btf) {
    try {
      btf = parseBtf(readFileSync(path));
    } catch {
      return undefined;
    }
    cache.set(path, btf);
  }
  return btf;
}

export function kernelStruct(btf: Btf, name: string): KernelStruct | undefined {
  const t = btf.find(name, BtfKind.STRUCT) ?? btf.find(name, BtfKind.UNION);
  if (!t || (t.kind !== BtfKind.STRUCT && t.kind !== BtfKind.UNION)) return undefined;
  const members = new Map<string, KernelMember>();
  addMembers(btf, t, 0, members);
  return { name, size: t.size, union: t.kind === BtfKind.UNION, members };
}

/**
 * The readable members of a struct or union at `base` bytes; members of anonymous structs and unions
 * (`sock_common`'s `skc_daddr`) count as the outer struct's, as in C and as libbpf matches them.
 */
function addMembers(btf: Btf, t: { members: readonly { name: string; type: number; bitOffset: number; bitfieldSize: number }[] }, base: number, members: Map<string, KernelMember>): void {
  t.members.forEach((m0, index) => {
    const m = { ...m0, bitOffset: m0.bitOffset + base * 8 };
    if (!m.name && !m.bitfieldSize && m.bitOffset % 8 === 0) {
      const inner = btf.resolveType(m.type);
      if (inner.kind === BtfKind.STRUCT || inner.kind === BtfKind.UNION) addMembers(btf, inner, m.bitOffset / 8, members);
      return;
    }
    if (!m.name || m.bitfieldSize || m.bitOffset % 8 || members.has(m.name)) return;
    const r = btf.resolveType(m.type);
    if (r.kind === BtfKind.INT || r.kind === BtfKind.ENUM || r.kind === BtfKind.ENUM64) {
      const size = r.size;
      if (size !== 1 && size !== 2 && size !== 4 && size !== 8) return;
      const signed = r.kind === BtfKind.INT ? (r.encoding & BtfIntEncoding.SIGNED) !== 0 : r.signed;
      members.set(m.name, { name: m.name, index, offset: m.bitOffset / 8, size, signed, kind: "int" });
    } else if (r.kind === BtfKind.PTR) {
      const p = btf.resolveType(r.type);
      const pointee = p.kind === BtfKind.STRUCT || p.kind === BtfKind.UNION ? p.name : p.kind === BtfKind.INT && p.size === 1 ? "char" : "";
      members.set(m.name, { name: m.name, index, offset: m.bitOffset / 8, size: 8, signed: false, pointee, kind: "ptr" });
    }
  });
}

/** The prelude's `declare module "tsbpf/kernel"` for these structs. */
export function kernelModuleText(structs: readonly KernelStruct[]): string {
  const known = new Set(structs.map((s) => s.name));
  const body = structs.map((s) => {
    const fields = [...s.members.values()].map((m) => {
      const type = m.kind === "int" ? `${m.signed ? "i" : "u"}${m.size * 8}` : m.pointee && known.has(m.pointee) ? `Ptr<${m.pointee}>` : m.pointee === "char" ? "Ptr<CString>" : "Ptr";
      return `    readonly ${JSON.stringify(m.name)}: ${type};`;
    });
    return `  export interface ${s.name} {\n${fields.join("\n")}\n  }`;
  });
  return `declare module "tsbpf/kernel" {\n  import type { Ptr, u8, u16, u32, u64, i8, i16, i32, i64 } from "tsbpf";\n  /** A NUL-terminated kernel string: printk prints it with %s. */\n  export interface CString { readonly __tsbpfCString: true }\n${body.join("\n")}\n}\n`;
}
