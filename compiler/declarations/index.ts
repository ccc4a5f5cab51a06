// Declarations for kernel types: the library side of `tsbpf btf TYPE...`.
// Takes BTF (vmlinux by default) and C type names (`sock`, `struct sock`, `enum sock_state`,
// `pid_t`) or enum constants (`TCP_ESTABLISHED`); gives the declaration file text (generate.ts), or an UnknownKernelTypeError naming
// every type the BTF does not define, with close matches for each.

import { BtfKind, parseBtf, type Btf } from "../btf/index.js";
import { VMLINUX_BTF, readBtfFile } from "../../runtime/sys/btf-file.js";
import { enumeratorValue, generateDeclarations, type DeclarationOptions, type Declarations, type KernelConstant } from "./generate.js";

export { generateDeclarations, type DeclarationOptions, type Declarations, type DeclaredMember, type KernelConstant } from "./generate.js";
export const VMLINUX = VMLINUX_BTF;

export class UnknownKernelTypeError extends Error {
  constructor(readonly missing: { name: string; suggestions: string[] }[]) {
    super(
      missing
        .map(({ name, suggestions }) => `the kernel's BTF has no type ${name}${suggestions.length ? ` (did you mean ${suggestions.join(", ")}?)` : ""}`)
        .join("\n"),
    );
    this.name = "UnknownKernelTypeError";
  }
}

const SEARCH_KINDS = [BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM, BtfKind.ENUM64, BtfKind.TYPEDEF, BtfKind.FWD];

/** The BTF id a C type name denotes: structs and unions first (what probes import), then enums, typedefs. */
export function findKernelType(btf: Btf, name: string): number | undefined {
  const m = /^(struct|union|enum)\s+(\S+)$/.exec(name.trim());
  const kinds = !m ? SEARCH_KINDS : m[1] === "struct" ? [BtfKind.STRUCT, BtfKind.FWD] : m[1] === "union" ? [BtfKind.UNION, BtfKind.FWD] : [BtfKind.ENUM, BtfKind.ENUM64];
  const bare = m ? m[2]! : name.trim();
  for (const kind of kinds) {
    const ids = btf.findIdsByName(bare, kind);
    if (ids.length) return ids[0];
  }
  return undefined;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** Up to `limit` names of declarable types close to `name` (edit distance, then shared prefix/substring). */
export function suggestKernelTypes(btf: Btf, name: string, limit = 5): string[] {
  const wanted = name.replace(/^(struct|union|enum)\s+/, "").toLowerCase();
  const names = new Set<string>();
  for (let id = 1; id < btf.typeCount; id++) {
    if (SEARCH_KINDS.includes(btf.kindOf(id) as (typeof SEARCH_KINDS)[number])) {
      const n = btf.nameOf(id);
      if (n) names.add(n);
    }
  }
  const budget = Math.max(2, Math.floor(wanted.length / 3));
  const scored: { n: string; score: number }[] = [];
  for (const n of names) {
    const lower = n.toLowerCase();
    if (Math.abs(lower.length - wanted.length) > budget && !lower.includes(wanted)) continue;
    const d = distance(lower, wanted);
    if (d <= budget) scored.push({ n, score: d });
    else if (wanted.length >= 3 && lower.includes(wanted)) scored.push({ n, score: budget + 1 + (lower.length - wanted.length) / 100 });
  }
  return scored.sort((a, b) => a.score - b.score || a.n.localeCompare(b.n)).slice(0, limit).map((s) => s.n);
}

/** The enumerator `name` of any enum, named or anonymous (`TCP_ESTABLISHED`), as the compiler imports one. */
export function findKernelConstant(btf: Btf, name: string): KernelConstant | undefined {
  for (const t of btf.types()) {
    if (t.kind !== BtfKind.ENUM && t.kind !== BtfKind.ENUM64) continue;
    const v = t.values.find((x) => x.name === name);
    if (v) return { name, value: enumeratorValue(t, v.value), enumName: t.name };
  }
  return undefined;
}

/** Declarations for the named kernel types and enum constants; UnknownKernelTypeError when any is missing. */
export function declareKernelTypes(btf: Btf, names: readonly string[], options: DeclarationOptions = {}): Declarations {
  const ids: number[] = [];
  const constants: KernelConstant[] = [];
  const missing: { name: string; suggestions: string[] }[] = [];
  for (const name of names) {
    const id = findKernelType(btf, name);
    const constant = id === undefined ? findKernelConstant(btf, name.trim()) : undefined;
    if (constant) {
      if (!constants.some((c) => c.name === constant.name)) constants.push(constant);
    } else if (id === undefined) missing.push({ name, suggestions: suggestKernelTypes(btf, name) });
    else if (!ids.includes(id)) ids.push(id);
  }
  if (missing.length) throw new UnknownKernelTypeError(missing);
  return generateDeclarations(btf, ids, options, constants);
}

/** Reads and parses a BTF file (vmlinux by default). */
export function readBtf(path = VMLINUX): Btf {
  return parseBtf(readBtfFile(path));
}
