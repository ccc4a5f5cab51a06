// Raw tracepoints (`rawTracepoint("sched_switch", (preempt, prev, next) => ...)`, libbpf's tp_btf, bpftrace's
// rawtracepoint): the handler's parameters are the tracepoint's own arguments, typed by its `btf_trace_NAME`
// prototype in the kernel's BTF. Takes the parsed probe file and the kernel's BTF; gives each named raw tracepoint's
// arguments, declares the structs they point to (so `prev.comm` type-checks and reads), and writes the prelude's
// `RawTracepoints` entries that type the handlers.

import type * as TS from "typescript";
import type { Typescript } from "./check.js";
import { importKernelName, rawTracepointArgs, rawTracepointNames, type KernelImports, type KernelScalar, type MemberFilter, type StructSource } from "./kernel-types.js";
import { similarNames } from "../similar.js";

/** The name, as a string literal, of every `rawTracepoint(...)` call in the file. */
export function rawTracepointCalls(ts: Typescript, file: TS.SourceFile): TS.StringLiteralLike[] {
  const found: TS.StringLiteralLike[] = [];
  const visit = (node: TS.Node): void => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "rawTracepoint") {
      const name = node.arguments[0];
      if (name && ts.isStringLiteralLike(name)) found.push(name);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/**
 * The arguments of a raw tracepoint, its pointed-to structs imported into `kernel`; or why there are none (no such
 * tracepoint in the kernel, with the names spelled like it).
 */
export function rawTracepointOf(btf: StructSource, name: string, kernel: KernelImports, mentioned: MemberFilter): KernelScalar[] | string {
  const args = rawTracepointArgs(btf, name);
  if (!args) {
    const near = similarNames(name, rawTracepointNames(btf));
    return `the kernel has no raw tracepoint ${name} (no btf_trace_${name} in its BTF)${near.length ? `; did you mean ${near.join(" or ")}?` : ""}`;
  }
  for (const a of args) if (a.kind === "ptr" && a.pointee && a.pointee !== "char" && !kernel.structs.has(a.pointee)) importKernelName(btf, a.pointee, kernel, mentioned);
  return args;
}

/**
 * The prelude's `RawTracepoints` members: each tracepoint's handler type, its parameters named arg0, arg1, ... and a
 * `never` rest, so that a handler taking more gets the lowering's sentence rather than TypeScript's signature dump.
 */
export function rawTracepointEntries(tracepoints: ReadonlyMap<string, readonly KernelScalar[]>, structs: ReadonlySet<string>, hasKernelModule: boolean): string[] {
  const kernel = (name: string) => `import("tsbpf/kernel").${name}`;
  const typeOf = (a: KernelScalar): string => {
    if (a.kind === "int") return rawTracepointParamType(a);
    if (a.pointee && structs.has(a.pointee)) return `Ptr<${kernel(a.pointee)}>`;
    return a.pointee === "char" && hasKernelModule ? `Ptr<${kernel("CString")}>` : "Ptr";
  };
  return [...tracepoints].map(([name, args]) => `    ${JSON.stringify(name)}: (${[...args.map((a, i) => `arg${i}: ${typeOf(a)}`), "...more: never[]"].join(", ")}) => number | bigint | void;`);
}

/** An argument's type as a handler sees it: `boolean`, `u32`, `Ptr<task_struct>` (what `tsbpf list -v` shows). */
export function rawTracepointParamType(a: KernelScalar): string {
  if (a.kind === "int") return a.bool ? "boolean" : `${a.signed ? "i" : "u"}${a.size * 8}`;
  return a.pointee === "char" ? "Ptr<CString>" : a.pointee ? `Ptr<${a.pointee}>` : "Ptr";
}
