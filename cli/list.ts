// What `tsbpf list` finds to probe, as bpftrace -l does: tracepoints (tracefs's available_events), raw tracepoints
// (the kernel's BTF), kernel functions (available_filter_functions, where kprobes can attach), the functions of an ELF
// binary (uprobes) and its USDT probes.
// Takes a pattern in bpftrace's form (`tracepoint:syscalls:sys_enter_*`, `rawtracepoint:sched_*`, `kprobe:do_unlink*`,
// `uprobe:BINARY:GLOB`, `usdt:BINARY[:[PROVIDER:]NAME]`, or a bare glob for tracepoints and kernel functions); gives
// the probes one at a time, and each as the tsbpf call that probes it. Large sources (the kernel's function list,
// symbol tables) are filtered as they are read; only what matches is kept, and only where it must be sorted or
// de-duplicated.

import { closeSync, existsSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { TRACEFS_ROOTS, parseTracepointFormat, readTracepointFormat } from "../compiler/frontend/tracepoints.js";
import { kprobesUnsupported, tracepointAlternative } from "../runtime/loader/attach.js";
import { SymbolError, cxxFunctionNames, functionNames, resolveBinary, splitUprobeTarget } from "../runtime/loader/elfsym.js";
import { isCxxName } from "../runtime/loader/cxx-names.js";
import { readUsdtSites } from "../runtime/loader/usdt.js";
import { ExitCode, UserError } from "./exit-codes.js";
import { PERF_EVENT_NAMES } from "../compiler/btf/tags.js";
import { globRegExp, isGlob } from "../compiler/glob.js";
import { loadKernelBtf, rawTracepointArgs, rawTracepointNames } from "../compiler/frontend/kernel-types.js";
import { handlerParamType } from "../compiler/frontend/typed-handlers.js";

/** A tracepoint field as a probe reads it: `type` is the prelude's TypeScript type, null where tsbpf cannot read it yet. */
export interface ListedField {
  name: string;
  type: string | null;
  cType: string;
}

export type ListedProbe =
  | { kind: "tracepoint"; group: string; name: string; fields?: ListedField[] }
  /** With --verbose, the handler's parameters as the compiler types them (arg0, arg1, ...). */
  | { kind: "rawtracepoint"; name: string; args?: string[] }
  | { kind: "kprobe" | "kretprobe"; function: string }
  | { kind: "uprobe" | "uretprobe"; binary: string; path: string; function: string }
  | { kind: "usdt"; binary: string; path: string; provider: string; name: string; sites: number; args: string[] }
  | { kind: "software" | "hardware"; event: string; aliases: string[] };

/** A parsed pattern: which source to read and the globs (as anchored RegExps) to filter it by. */
export type Query =
  | { kind: "any"; glob: RegExp }
  | { kind: "tracepoint"; group: RegExp | undefined; name: RegExp }
  | { kind: "rawtracepoint"; name: RegExp }
  | { kind: "kprobe" | "kretprobe"; func: RegExp; text: string }
  /** `cxx`: a C++ function's name or glob (`app::W::*`), matched against the names as c++filt shows them. */
  | { kind: "uprobe" | "uretprobe"; binary: string; func: RegExp; cxx?: string }
  | { kind: "usdt"; binary: string; provider: RegExp; name: RegExp }
  | { kind: "software" | "hardware"; event: RegExp };

/** bpftrace's short names for the kinds. */
const KINDS: Record<string, Exclude<Query["kind"], "any">> = {
  tracepoint: "tracepoint", t: "tracepoint", rawtracepoint: "rawtracepoint", rt: "rawtracepoint",
  kprobe: "kprobe", k: "kprobe", kretprobe: "kretprobe", kr: "kretprobe",
  uprobe: "uprobe", u: "uprobe", uretprobe: "uretprobe", ur: "uretprobe",
  usdt: "usdt", U: "usdt",
  software: "software", s: "software", hardware: "hardware", h: "hardware",
};

/**
 * The one probe that takes every match of a glob pattern (`tracepoint:syscalls:sys_enter_*` gives
 * `tracepoint("syscalls", "sys_enter_*", (ctx) => ...)`), or undefined for a pattern without a glob or whose matches
 * no one probe takes (a bare glob, a tracepoint without its group, a glob in a binary, perf events).
 */
export function globProbeCall(pattern: string | undefined): string | undefined {
  if (!pattern || !isGlob(pattern)) return undefined;
  const [first, ...rest] = pattern.split(":");
  const kind = first !== undefined && Object.hasOwn(KINDS, first) ? KINDS[first] : undefined;
  const args = (n: number): string | undefined => (rest.length === n && rest.every((x) => x !== "") ? rest.map((x) => JSON.stringify(x)).join(", ") : undefined);
  const call = (a: string | undefined, handler: string) => (a === undefined ? undefined : `${kind}(${a}, ${handler} => ...)`);
  switch (kind) {
    case "tracepoint":
      return call(args(2), "(ctx)");
    case "kprobe":
    case "kretprobe":
      return call(args(1), "()");
    case "uprobe":
    case "uretprobe": {
      const [binary, func] = splitUprobeTarget(rest.join(":")) ?? [];
      return binary === undefined || func === undefined || !binary || !func || isGlob(binary) || (func.includes(":") && !isCxxName(func)) ? undefined : call(`${JSON.stringify(binary)}, ${JSON.stringify(func)}`, "()");
    }
    case "usdt":
      return isGlob(rest[0] ?? "") ? undefined : call(args(3), "()");
    default:
      return undefined;
  }
}

/** The pattern of `tsbpf list [PATTERN]`; throws a UserError (exit 2) for an unknown kind or a missing binary name. */
export function parsePattern(pattern: string | undefined): Query {
  if (pattern === undefined || pattern === "") return { kind: "any", glob: globRegExp("*") };
  const parts = pattern.split(":");
  if (parts.length === 1) return { kind: "any", glob: globRegExp(pattern) };
  const kind = Object.hasOwn(KINDS, parts[0]!) ? KINDS[parts[0]!]! : undefined;
  if (!kind) throw new UserError(`unknown probe kind ${parts[0]} in ${pattern} (the kinds are tracepoint, rawtracepoint, kprobe, kretprobe, uprobe, uretprobe, usdt, software and hardware)`);
  const glob = (i: number): RegExp => globRegExp(parts[i] || "*");
  const tooMany = (form: string): UserError => new UserError(`${pattern} has too many parts: a ${kind} pattern is ${form}`);
  switch (kind) {
    case "tracepoint":
      if (parts.length > 3) throw tooMany("tracepoint:GROUP:NAME");
      // One part after the kind: the name, or GROUP:NAME as a whole (`tracepoint:*unlink*`).
      return parts.length === 2 ? { kind, group: undefined, name: glob(1) } : { kind, group: glob(1), name: glob(2) };
    case "rawtracepoint":
      // bpftrace's rawtracepoint:MODULE:NAME: only the kernel's own (vmlinux) are listed.
      if (parts.length > 3 || (parts.length === 3 && !globRegExp(parts[1] || "*").test("vmlinux"))) throw tooMany("rawtracepoint:[vmlinux:]NAME");
      return { kind, name: glob(parts.length - 1) };
    case "kprobe":
    case "kretprobe":
      if (parts.length > 2) throw tooMany(`${kind}:FUNCTION`);
      return { kind, func: glob(1), text: parts[1] ?? "" };
    case "uprobe":
    case "uretprobe": {
      if (!parts[1]) throw new UserError(`${pattern} names no binary: a ${kind} pattern is ${kind}:BINARY[:FUNCTION]`);
      // The function may be a C++ one's name, with its '::' (`uprobe:/tmp/app:app::W::*`), matched demangled.
      const target = pattern.slice(pattern.indexOf(":") + 1);
      const [binary, func] = splitUprobeTarget(target) ?? [target, ""];
      if (isCxxName(func)) return { kind, binary, func: globRegExp(func), cxx: func };
      if (func.includes(":")) throw tooMany(`${kind}:BINARY[:FUNCTION]`);
      return { kind, binary, func: globRegExp(func || "*") };
    }
    case "software":
    case "hardware":
      if (parts.length > 2) throw tooMany(`${kind}:EVENT`);
      return { kind, event: glob(1) };
    case "usdt":
      if (!parts[1]) throw new UserError(`${pattern} names no binary: a usdt pattern is usdt:BINARY[:[PROVIDER:]NAME]`);
      if (parts.length > 4) throw tooMany("usdt:BINARY[:[PROVIDER:]NAME]");
      // As bpftrace reads it: with one part after the binary, that part is the probe's name, of any provider.
      return parts.length === 3 ? { kind, binary: parts[1], provider: glob(3), name: glob(2) } : { kind, binary: parts[1], provider: glob(2), name: glob(3) };
  }
}

export interface ListOptions {
  /** Tracepoints with their fields. */
  verbose?: boolean;
  /** Said once on standard error: why a source is left out of a listing that does not name it. */
  note?: (text: string) => void;
  /** tracefs mount points to try, first found first. */
  tracefsRoots?: readonly string[];
}

/** The probes a query matches, one at a time: tracepoints in tracefs's order, functions sorted, USDT probes by first site. */
export function* listProbes(query: Query, options: ListOptions = {}): Generator<ListedProbe> {
  const roots = options.tracefsRoots ?? TRACEFS_ROOTS;
  switch (query.kind) {
    case "any": {
      yield* tracepoints(undefined, query.glob, roots, options.verbose ?? false);
      // Software events always; hardware ones where the CPU exposes counters (a bare glob says nothing of them otherwise).
      yield* perfEvents("software", query.glob, options);
      if (hardwareCounters()) yield* perfEvents("hardware", query.glob, options);
      const unsupported = kprobesUnsupported();
      if (unsupported) return options.note?.(`kernel functions (kprobes) are not listed: ${unsupported}`);
      try {
        yield* kernelFunctions("kprobe", query.glob, roots);
      } catch (error) {
        // The tracepoints are listed already: say why the functions are not, as for a kernel without kprobes.
        if (!(error instanceof UserError)) throw error;
        options.note?.(`kernel functions (kprobes) are not listed: ${error.message}`);
      }
      return;
    }
    case "tracepoint":
      return yield* tracepoints(query.group, query.name, roots, options.verbose ?? false);
    case "rawtracepoint":
      return yield* rawTracepoints(query.name, options.verbose ?? false);
    case "software":
    case "hardware":
      return yield* perfEvents(query.kind, query.event, options);
    case "kprobe":
    case "kretprobe": {
      const unsupported = kprobesUnsupported();
      if (unsupported) {
        const alternative = tracepointAlternative(query.text.replace(/[*?]/g, ""));
        throw new UserError(`cannot list ${query.kind}s: ${unsupported}; ${alternative ? `the tracepoint ${alternative} may do instead (tsbpf list tracepoint:${alternative})` : "list tracepoints instead (tsbpf list 'tracepoint:*')"}`, ExitCode.NO_PERMISSION);
      }
      return yield* kernelFunctions(query.kind, query.func, roots);
    }
    case "uprobe":
    case "uretprobe": {
      const path = binaryPath(query.binary);
      const names: string[] = [];
      guard(() => {
        if (query.cxx !== undefined) names.push(...cxxFunctionNames(path, query.cxx));
        else for (const name of functionNames(path)) if (query.func.test(name)) names.push(name);
      });
      for (const name of names.sort()) yield { kind: query.kind, binary: query.binary, path, function: name };
      return;
    }
    case "usdt": {
      const path = binaryPath(query.binary);
      // A probe placed at several spots (inlined, or in several functions) has one site each: listed once.
      const probes = new Map<string, { provider: string; name: string; sites: number; args: string[] }>();
      for (const site of guard(() => readUsdtSites(path))) {
        if (!query.provider.test(site.provider) || !query.name.test(site.name)) continue;
        const key = `${site.provider}:${site.name}`;
        const probe = probes.get(key) ?? { provider: site.provider, name: site.name, sites: 0, args: [] };
        probes.set(key, probe);
        probe.sites++;
        if (!probe.args.includes(site.argText)) probe.args.push(site.argText);
      }
      for (const p of probes.values()) yield { kind: "usdt", binary: query.binary, path, ...p };
      return;
    }
  }
}

/**
 * bpftrace's software or hardware events whose name or an alias `event` matches. Hardware ones are listed with a note
 * where the CPU exposes no counters to the kernel (a virtual machine's often does not), since none would attach.
 */
function* perfEvents(kind: "software" | "hardware", event: RegExp, options: ListOptions): Generator<ListedProbe> {
  const matching = Object.entries(PERF_EVENT_NAMES[kind]).filter(([name, e]) => [name, ...e.aliases].some((n) => event.test(n)));
  if (kind === "hardware" && matching.length && !hardwareCounters()) {
    options.note?.("this machine's CPU exposes no hardware counters to the kernel (no /sys/bus/event_source/devices/cpu): hardware probes will not attach here");
  }
  for (const [name, e] of matching) yield { kind, event: name, aliases: [...e.aliases] };
}

/** Whether the CPU's performance counters reach the kernel (its PMU is registered as the `cpu` event source). */
const hardwareCounters = (): boolean => existsSync("/sys/bus/event_source/devices/cpu");

/** `f()`, a SymbolError (not ELF, unreadable) becoming the user's one sentence (exit 2). */
function guard<T>(f: () => T): T {
  try {
    return f();
  } catch (error) {
    if (error instanceof SymbolError) throw new UserError(error.message);
    throw error;
  }
}

/** The file a uprobe or USDT binary names, found as the loader finds it. */
const binaryPath = (binary: string): string => guard(() => resolveBinary(binary));

/** The contents of a tracefs file from the first root that has it; a one-sentence UserError (exit 4) when none can be read. */
function tracefsFile(file: string, roots: readonly string[], what: string): { root: string; text: string } {
  let denied: string | undefined;
  for (const root of roots) {
    try {
      return { root, text: readFileSync(join(root, file), "latin1") };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code === "EACCES" || code === "EPERM") && !denied) denied = join(root, file);
    }
  }
  if (denied) throw new UserError(`cannot read ${denied}, which lists ${what}: it is readable only by root; list as root (sudo)`, ExitCode.NO_PERMISSION);
  throw new UserError(`cannot list ${what}: tracefs is not mounted (mount -t tracefs tracefs ${roots[0]})`, ExitCode.NO_PERMISSION);
}

function* tracepoints(group: RegExp | undefined, name: RegExp, roots: readonly string[], verbose: boolean): Generator<ListedProbe> {
  const { root, text } = tracefsFile("available_events", roots, "tracepoints");
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const g = line.slice(0, colon);
    const n = line.slice(colon + 1);
    if (group ? !(group.test(g) && name.test(n)) : !(name.test(n) || name.test(line))) continue;
    if (!verbose) {
      yield { kind: "tracepoint", group: g, name: n };
      continue;
    }
    // The fields as the compiler types them (the common header is not readable from a probe, so not listed).
    const format = readTracepointFormat(g, n, [root]);
    const fields = format === undefined ? [] : parseTracepointFormat(g, n, format).fields.filter((f) => f.readable);
    yield { kind: "tracepoint", group: g, name: n, fields: fields.map((f) => ({ name: f.name, type: f.tsType ?? null, cType: f.cType })) };
  }
}

/** The raw tracepoints of the kernel's BTF (its btf_trace_ typedefs), sorted; with `verbose`, each one's arguments. */
function* rawTracepoints(name: RegExp, verbose: boolean): Generator<ListedProbe> {
  const btf = loadKernelBtf();
  if (!btf) throw new UserError("cannot list raw tracepoints: the kernel's BTF (/sys/kernel/btf/vmlinux) cannot be read; the kernel needs CONFIG_DEBUG_INFO_BTF", ExitCode.NO_PERMISSION);
  for (const n of rawTracepointNames(btf)) {
    if (!name.test(n)) continue;
    yield verbose ? { kind: "rawtracepoint", name: n, args: (rawTracepointArgs(btf, n) ?? []).map(handlerParamType) } : { kind: "rawtracepoint", name: n };
  }
}

/** available_filter_functions, read a block at a time: it has tens of thousands of lines ("name" or "name [module]"). */
export function* kernelFunctions(kind: "kprobe" | "kretprobe", func: RegExp, roots: readonly string[]): Generator<ListedProbe> {
  const file = "available_filter_functions";
  let fd: number | undefined;
  for (const root of roots) {
    try {
      fd = openSync(join(root, file), "r");
      break;
    } catch {
      // try the next root
    }
  }
  if (fd === undefined) {
    // Not opened: tracefsFile says why, in its words.
    tracefsFile(file, roots, "kernel functions");
    return;
  }
  const names = new Set<string>();
  const buffer = Buffer.alloc(1 << 16);
  let rest = "";
  try {
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      const lines = (rest + buffer.toString("latin1", 0, n)).split("\n");
      rest = n === 0 ? "" : lines.pop()!;
      for (const line of lines) {
        const name = line.split(" ", 1)[0]!;
        if (name && func.test(name)) names.add(name);
      }
      if (n === 0) break;
    }
  } finally {
    closeSync(fd);
  }
  for (const name of [...names].sort()) yield { kind, function: name };
}

/** A probe as the tsbpf call that probes it (with --verbose, a tracepoint's fields on the lines after it). */
export function formatProbe(p: ListedProbe): string {
  switch (p.kind) {
    case "tracepoint": {
      const call = `tracepoint(${JSON.stringify(p.group)}, ${JSON.stringify(p.name)})`;
      if (!p.fields) return call;
      const width = Math.max(0, ...p.fields.map((f) => f.name.length + (f.type ?? UNREADABLE).length + 2));
      return [call, ...p.fields.map((f) => `    ${`${f.name}: ${f.type ?? UNREADABLE}`.padEnd(width)}  // ${f.cType}`)].join("\n");
    }
    case "rawtracepoint": {
      const call = `rawTracepoint(${JSON.stringify(p.name)})`;
      return p.args ? [call, ...p.args.map((type, i) => `    arg${i}: ${type}`)].join("\n") : call;
    }
    case "kprobe":
    case "kretprobe":
      return `${p.kind}(${JSON.stringify(p.function)})`;
    case "uprobe":
    case "uretprobe":
      return `${p.kind}(${JSON.stringify(p.binary)}, ${JSON.stringify(p.function)})`;
    case "software":
    case "hardware":
      return `${p.kind}(${JSON.stringify(p.event)}, N)${p.aliases.length ? `  // also ${p.aliases.map((a) => JSON.stringify(a)).join(", ")}` : ""}`;
    case "usdt": {
      const call = `usdt(${JSON.stringify(p.binary)}, ${JSON.stringify(p.provider)}, ${JSON.stringify(p.name)})`;
      const args = p.args.map((a) => a || "no arguments").join("; ");
      return `${call}  // ${p.sites > 1 ? `${p.sites} sites: ` : ""}${args}`;
    }
  }
}

/** How --verbose shows a field tsbpf cannot read yet (a flexible array, a __data_loc of non-chars). */
const UNREADABLE = "(not readable yet)";

/** The part of a probe a pattern's last part names: a tracepoint's or USDT probe's name, a function. */
export function leafOf(p: ListedProbe): string {
  return "event" in p ? p.event : p.kind === "tracepoint" || p.kind === "usdt" || p.kind === "rawtracepoint" ? p.name : p.function;
}

/** A probe as the pattern that lists it alone: `tracepoint:GROUP:NAME`, `uprobe:BINARY:FUNCTION`, ... */
export function patternOf(p: ListedProbe): string {
  switch (p.kind) {
    case "tracepoint":
      return `tracepoint:${p.group}:${p.name}`;
    case "rawtracepoint":
      return `rawtracepoint:${p.name}`;
    case "kprobe":
    case "kretprobe":
      return `${p.kind}:${p.function}`;
    case "uprobe":
    case "uretprobe":
      return `${p.kind}:${p.binary}:${p.function}`;
    case "usdt":
      return `usdt:${p.binary}:${p.provider}:${p.name}`;
    case "software":
    case "hardware":
      return `${p.kind}:${p.event}`;
  }
}
