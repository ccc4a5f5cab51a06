// Handlers typed from the kernel's BTF: a raw tracepoint's (`rawTracepoint("sched_switch", (preempt, prev, next) =>
// ...)`, libbpf's tp_btf, bpftrace's rawtracepoint) parameters are the tracepoint's arguments, typed by its
// `btf_trace_NAME` prototype; a kprobe's are the function's arguments and a kretprobe's its return value, typed by
// the function's prototype (`kprobe("do_unlinkat", (dfd, name) => ...)`). Takes the parsed probe file and the
// kernel's BTF; gives each named tracepoint's or function's arguments, declares the structs they point to (so
// `prev.comm` type-checks and reads), and writes the prelude's entries that type the handlers.

import type * as TS from "typescript";
import type { Typescript } from "./check.js";
import { Code } from "./diagnostics.js";
import type { HandlerTypes } from "./prelude.js";
import { VMLINUX_BTF, importKernelName, kernelFunctionArgs, kernelFunctionNames, loadKernelBtf, rawTracepointArgs, rawTracepointNames, tsTypeName, type KernelImports, type KernelScalar, type MemberFilter, type StructSource } from "./kernel-types.js";
import { BtfError } from "../btf/types.js";
import { isGlob } from "../glob.js";
import { similarNames } from "../similar.js";

export type TypedProbe = "rawTracepoint" | "kprobe" | "kretprobe";

/** A kernel function's arguments and return value (undefined: void), each as its register reads. */
export interface KernelFunction {
  args: KernelScalar[];
  ret: KernelScalar | undefined;
}

/** The prototypes a file's handlers are typed by: each raw tracepoint's arguments, each kprobed function's. */
export interface TypedHandlers {
  rawTracepoints: Map<string, KernelScalar[]>;
  kernelFunctions: Map<string, KernelFunction>;
  /** Functions named by a kprobe or kretprobe that the kernel's BTF (read) does not describe, each with the names spelled like it. */
  unknownFunctions: Map<string, string[]>;
}

/**
 * Reads, from the kernel's BTF (`btfPath`, default vmlinux), the prototypes the file's raw tracepoints and unannotated
 * kprobe handlers need, declaring the structs they point to in `kernel`. A raw tracepoint BTF lacks (or a glob, or BTF
 * that cannot be read) is reported; a function BTF does not describe is not: its handler needs annotations, and the
 * lowering says so where one is missing.
 */
export function readTypedHandlers(
  ts: Typescript,
  file: TS.SourceFile,
  kernel: KernelImports,
  mentioned: MemberFilter,
  btfPath: string | undefined,
  report: (node: TS.Node, code: number, message: string) => void,
): TypedHandlers {
  const typed: TypedHandlers = { rawTracepoints: new Map(), kernelFunctions: new Map(), unknownFunctions: new Map() };
  const unreadable = (error?: BtfError) => `cannot read the kernel's BTF (${btfPath ?? VMLINUX_BTF})${error ? `: ${error.message}` : ""}, which types a raw tracepoint's arguments`;
  for (const { kind, name: literal } of typedHandlerCalls(ts, file)) {
    const name = literal.text;
    if (kind !== "rawTracepoint") {
      if (typed.kernelFunctions.has(name) || typed.unknownFunctions.has(name)) continue;
      const btf = loadKernelBtf(btfPath);
      try {
        const f = btf && kernelFunctionOf(btf, name, kernel, mentioned);
        if (f) typed.kernelFunctions.set(name, f);
        // Likely misspelt: the lowering names it, and the functions spelled like it, where a parameter needs its type.
        else if (btf && isFunctionName(name)) typed.unknownFunctions.set(name, similarNames(name, kernelFunctionNames(btf)));
      } catch (error) {
        if (!(error instanceof BtfError)) throw error;
      }
      continue;
    }
    if (typed.rawTracepoints.has(name)) continue;
    if (name === "") {
      report(literal, Code.BadProbe, "the arguments of rawTracepoint() must not be empty");
      continue;
    }
    if (isGlob(name)) {
      report(literal, Code.BadProbe, `a raw tracepoint is named exactly, not by a glob (\`${name}\`): write one rawTracepoint() per tracepoint, or use tracepoint() with a glob`);
      continue;
    }
    const btf = loadKernelBtf(btfPath);
    let found: KernelScalar[] | string;
    try {
      found = btf ? rawTracepointOf(btf, name, kernel, mentioned) : unreadable();
    } catch (error) {
      if (!(error instanceof BtfError)) throw error;
      found = unreadable(error);
    }
    if (typeof found === "string") report(literal, Code.UnknownTracepoint, found);
    else typed.rawTracepoints.set(name, found);
  }
  return typed;
}

/** The prelude's handler types for what `typed` holds (pointers typed where the prelude declares their structs). */
export function handlerTypes(typed: TypedHandlers, structs: ReadonlySet<string>, hasKernelModule: boolean): HandlerTypes {
  const type = (args: readonly KernelScalar[]) => handlerType(args, structs, hasKernelModule);
  return {
    rawTracepoints: new Map([...typed.rawTracepoints].map(([name, args]) => [name, type(args)])),
    kprobes: new Map([...typed.kernelFunctions].map(([name, f]) => [name, type(f.args)])),
    kretprobes: new Map([...typed.kernelFunctions].map(([name, f]) => [name, type(f.ret ? [f.ret] : [])])),
  };
}

/**
 * The probes whose handlers BTF types, each with its name as a string literal; a kprobe's or kretprobe's only where
 * its handler leaves a parameter to be typed (annotated ones need no lookup).
 */
function typedHandlerCalls(ts: Typescript, file: TS.SourceFile): { kind: TypedProbe; name: TS.StringLiteralLike }[] {
  const found: { kind: TypedProbe; name: TS.StringLiteralLike }[] = [];
  const untyped = (handler: TS.Expression | undefined): boolean => !!handler && (ts.isArrowFunction(handler) || ts.isFunctionExpression(handler)) && handler.parameters.some((p) => !p.type);
  const visit = (node: TS.Node): void => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression)) {
      const kind = node.expression.text;
      const name = node.arguments[0];
      const typed = kind === "rawTracepoint" || ((kind === "kprobe" || kind === "kretprobe") && untyped(node.arguments[1]));
      if (typed && name && ts.isStringLiteralLike(name)) found.push({ kind: kind as TypedProbe, name });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** Declares the structs `args` point to (as an import of them would), so that members read through them. */
function importPointees(btf: StructSource, args: readonly (KernelScalar | undefined)[], kernel: KernelImports, mentioned: MemberFilter): void {
  for (const a of args) if (a?.kind === "ptr" && a.pointee && a.pointee !== "char" && !kernel.structs.has(a.pointee)) importKernelName(btf, a.pointee, kernel, mentioned);
}

/**
 * The arguments of a raw tracepoint, its pointed-to structs imported into `kernel`; or why there are none (no such
 * tracepoint in the kernel, with the names spelled like it).
 */
function rawTracepointOf(btf: StructSource, name: string, kernel: KernelImports, mentioned: MemberFilter): KernelScalar[] | string {
  const args = rawTracepointArgs(btf, name);
  if (!args) {
    const near = similarNames(name, rawTracepointNames(btf));
    return `the kernel has no raw tracepoint ${name} (no btf_trace_${name} in its BTF)${near.length ? `; did you mean ${near.join(" or ")}?` : ""}`;
  }
  importPointees(btf, args, kernel, mentioned);
  return args;
}

/**
 * A kernel function's arguments and return value, their pointed-to structs imported into `kernel`; undefined for a
 * glob, an offset (`fn+8`) or a function BTF does not describe, whose handlers take annotated parameters as before.
 */
function kernelFunctionOf(btf: StructSource, name: string, kernel: KernelImports, mentioned: MemberFilter): KernelFunction | undefined {
  if (!isFunctionName(name)) return undefined;
  const f = kernelFunctionArgs(btf, name);
  if (f) importPointees(btf, [...f.args, f.ret], kernel, mentioned);
  return f;
}

/** A function's name as BTF would hold it: not a glob, nor an offset (`fn+8`). */
const isFunctionName = (name: string): boolean => !isGlob(name) && /^[A-Za-z_][\w.]*$/.test(name);

/**
 * The handler type of a tracepoint or function: its parameters named arg0, arg1, ... and a `never` rest, so that a
 * handler taking more gets the lowering's sentence rather than TypeScript's signature dump. `tsbpf` prefixes the
 * module's own types where they are not in scope (`import("tsbpf").` in a declaration file).
 */
export function handlerType(args: readonly KernelScalar[], structs: ReadonlySet<string>, hasKernelModule: boolean, tsbpf = ""): string {
  const kernel = (n: string) => `import("tsbpf/kernel").${n}`;
  const typeOf = (a: KernelScalar): string => {
    if (a.kind === "int") return a.bool ? "boolean" : tsbpf + handlerParamType(a);
    if (a.pointee && structs.has(a.pointee)) return `${tsbpf}Ptr<${kernel(tsTypeName(a.pointee))}>`;
    return a.pointee === "char" && hasKernelModule ? `${tsbpf}Ptr<${kernel("CString")}>` : `${tsbpf}Ptr`;
  };
  return `(${[...args.map((a, i) => `arg${i}: ${typeOf(a)}`), "...more: never[]"].join(", ")}) => number | bigint | void`;
}

/** An argument's type as a handler sees it: `boolean`, `u32`, `Ptr<task_struct>` (what `tsbpf list -v` shows). */
export function handlerParamType(a: KernelScalar): string {
  if (a.kind === "int") return a.bool ? "boolean" : `${a.signed ? "i" : "u"}${a.size * 8}`;
  return a.pointee === "char" ? "Ptr<CString>" : a.pointee ? `Ptr<${tsTypeName(a.pointee)}>` : "Ptr";
}
