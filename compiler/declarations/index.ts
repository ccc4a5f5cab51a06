// Declarations for kernel types: the library side of `tsbpf btf TYPE...`.
// Takes BTF (vmlinux by default) and C type names (`sock`, `struct sock`, `enum sock_state`,
// `pid_t`) or enum constants (`TCP_ESTABLISHED`); gives the declaration file text (generate.ts), or an UnknownKernelTypeError naming
// every type the BTF does not define, with close matches for each.

import { BtfKind, parseBtf, type Btf } from "../btf/index.js";
import { VMLINUX_BTF, readBtfFile } from "../../runtime/sys/btf-file.js";
import { enumeratorValue, generateDeclarations, type DeclarationOptions, type Declarations, type KernelConstant } from "./generate.js";
import { kernelFunctionArgs, rawTracepointArgs, rawTracepointNames, type KernelScalar } from "../frontend/kernel-types.js";
import { handlerType } from "../frontend/typed-handlers.js";
import { similarNames } from "../similar.js";

export { generateDeclarations, type DeclarationOptions, type Declarations, type DeclaredMember, type KernelConstant } from "./generate.js";
export const VMLINUX = VMLINUX_BTF;

export class UnknownKernelTypeError extends Error {
  /** `what` names what is missing (default "type"): "function", "raw tracepoint". */
  constructor(readonly missing: { name: string; suggestions: string[]; what?: string }[]) {
    super(
      missing
        .map(({ name, suggestions, what }) => `the kernel's BTF has no ${what ?? "type"} ${name}${suggestions.length ? ` (did you mean ${suggestions.join(", ")}?)` : ""}`)
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

/** The global interfaces tsbpf's index.d.ts types kprobe(), kretprobe() and rawTracepoint() handlers by, by name prefix. */
const HANDLER_INTERFACES: Readonly<Record<string, string>> = {
  kprobe: "TsbpfKprobes", k: "TsbpfKprobes",
  kretprobe: "TsbpfKretprobes", kr: "TsbpfKretprobes",
  rawtracepoint: "TsbpfRawTracepoints", rt: "TsbpfRawTracepoints",
};

/** A handler `tsbpf btf kprobe:FN` (kretprobe:FN, rawtracepoint:NAME) declares: its interface, name and parameters. */
interface HandlerDeclaration {
  iface: string;
  name: string;
  params: KernelScalar[];
}

/** The parameters of the handler a `KIND:NAME` argument names, or undefined when BTF has no such function or tracepoint. */
function handlerParams(btf: Btf, iface: string, name: string): KernelScalar[] | undefined {
  if (iface === "TsbpfRawTracepoints") return rawTracepointArgs(btf, name);
  const f = kernelFunctionArgs(btf, name);
  return f && (iface === "TsbpfKprobes" ? f.args : f.ret ? [f.ret] : []);
}

/**
 * Declarations for the named kernel types and enum constants, and for `kprobe:FN`, `kretprobe:FN` and
 * `rawtracepoint:NAME` the handler types editors give those probes (global interfaces tsbpf's index.d.ts reads, with
 * the structs their pointers point to); UnknownKernelTypeError when any is missing.
 */
export function declareKernelTypes(btf: Btf, names: readonly string[], options: DeclarationOptions = {}): Declarations {
  const ids: number[] = [];
  const constants: KernelConstant[] = [];
  const missing: { name: string; suggestions: string[]; what?: string }[] = [];
  const handlers: HandlerDeclaration[] = [];
  const typeNames: string[] = [];
  for (const name of names) {
    const m = /^(\w+):(\S+)$/.exec(name.trim());
    const iface = m ? HANDLER_INTERFACES[m[1]!] : undefined;
    if (!m || !iface) {
      typeNames.push(name);
      continue;
    }
    const params = handlerParams(btf, iface, m[2]!);
    if (!params) {
      const raw = iface === "TsbpfRawTracepoints";
      const suggestions = raw ? similarNames(m[2]!, rawTracepointNames(btf)).map((n) => `${m[1]}:${n}`) : [];
      missing.push({ name: m[2]!, what: raw ? "raw tracepoint" : "function", suggestions });
      continue;
    }
    handlers.push({ iface, name: m[2]!, params });
    for (const p of params) if (p.kind === "ptr" && p.pointee && p.pointee !== "char" && !typeNames.includes(`struct ${p.pointee}`)) typeNames.push(`struct ${p.pointee}`);
  }
  for (const name of typeNames) {
    const id = findKernelType(btf, name);
    const constant = id === undefined ? findKernelConstant(btf, name.trim()) : undefined;
    if (constant) {
      if (!constants.some((c) => c.name === constant.name)) constants.push(constant);
    } else if (id === undefined) missing.push({ name, suggestions: suggestKernelTypes(btf, name) });
    else if (!ids.includes(id)) ids.push(id);
  }
  if (missing.length) throw new UnknownKernelTypeError(missing);
  const d = generateDeclarations(btf, ids, options, constants);
  return handlers.length ? { ...d, text: d.text + handlerInterfaces(handlers) } : d;
}

/** The global interfaces' members for `handlers`, after the "tsbpf/kernel" module that declares their structs. */
function handlerInterfaces(handlers: readonly HandlerDeclaration[]): string {
  const structs = new Set(handlers.flatMap((h) => h.params.flatMap((p) => (p.kind === "ptr" && p.pointee ? [p.pointee] : []))));
  const out = ["", "// Handler types for editors (the compiler takes them from BTF itself): kprobe(\"FN\", (a, b) => ...) and the like."];
  for (const iface of new Set(handlers.map((h) => h.iface))) {
    out.push(`interface ${iface} {`);
    for (const h of handlers.filter((x) => x.iface === iface)) out.push(`  ${JSON.stringify(h.name)}: ${handlerType(h.params, structs, true, 'import("tsbpf").')};`);
    out.push("}");
  }
  return `${out.join("\n")}\n`;
}

/** Reads and parses a BTF file (vmlinux by default). */
export function readBtf(path = VMLINUX): Btf {
  return parseBtf(readBtfFile(path));
}
