// The compiler's entry point: a TypeScript probe file to a libbpf-style BPF ELF object.
// Takes a path or `{ fileName, text }`; gives the object bytes, each program's slots and
// relocations, and diagnostics (tsbpf's TSBPF1xxx and TypeScript's TSnnnn). Never throws for bad
// input: every problem with the probe file is a diagnostic.
//
// Pipeline: parse -> find tracepoints and read their formats -> type-check against the prelude ->
// lower to IR (frontend/) -> dead-code elimination, copy folding (ir/) -> instruction selection, register
// allocation, peephole, linking (codegen/) -> BTF with line info pointing at the TypeScript, ELF (object/).

import { readFileSync } from "node:fs";
import { foldCopies } from "./ir/copies.js";
import { eliminateDeadCode } from "./ir/dce.js";
import { bssSize, type CoreAccess, type Loc, type MapDef } from "./ir/index.js";
import type { Insn } from "./isa/insn.js";
import { CodegenError, generate } from "./codegen/index.js";
import { check, parse, typescript, wholeTypescript } from "./frontend/check.js";
import { saveCodeCache, thrownByTrimmedTypescript } from "./frontend/load-typescript.js";
import { fileErrorText } from "./file-error.js";
import { Code, codeName, makeDiagnostic, type Diagnostic } from "./frontend/diagnostics.js";
import { lower, type Lowered, type ProbeKind } from "./frontend/lower.js";
import { initTables } from "./frontend/lowering/syntax.js";
import { preludeText } from "./frontend/prelude.js";
import { deepNestingDiagnostic } from "./frontend/nesting.js";
import { TARGETS, hostArch } from "./frontend/targets.js";
import { globFormat, matchingTracepoints, parseTracepointFormat, readTracepointFormat, similarTracepoints, TRACEFS_ROOTS, unreadableTracefs, type TracepointFormat } from "./frontend/tracepoints.js";
import { globRegExp, isGlob } from "./glob.js";
import { buildBtf, mapDefSize } from "./object/btf.js";
import { VMLINUX_BTF, addPointedStructs, cTypeName, importKernelName, kernelModuleText, loadKernelBtf, mentionedMembers, noKernelImports, type KernelImports, type KernelStruct } from "./frontend/kernel-types.js";
import { handlerTypes, readTypedHandlers } from "./frontend/typed-handlers.js";
import { placePrograms, writeObject } from "./object/write.js";
import { BtfError } from "./btf/types.js";
import { parseBtf, type Btf } from "./btf/index.js";
import { readBtfFile } from "../runtime/sys/btf-file.js";
import { tracepointContext, type TracepointContext } from "./verifier/index.js";
import type { KernelExtInfo } from "./btf/emit.js";
import { compileLowered as compileLoweredWithLlvm, LlvmError } from "./llvm/index.js";
import { verifyPrograms, type NamedMap } from "./verify-programs.js";

export { formatDiagnostic, formatDiagnostics, type Diagnostic, type FormatOptions } from "./frontend/diagnostics.js";

export interface CompileOptions {
  /** Target architecture for probe argument registers; default: the host's. */
  arch?: string;
  /** Where tracefs is mounted (default: /sys/kernel/tracing, then /sys/kernel/debug/tracing). */
  tracefs?: string;
  /** Supplies a tracepoint's format file text instead of tracefs (for tests and cross-compiling). */
  tracepointFormat?: (group: string, name: string) => string | undefined;
  /** With `tracepointFormat`: the tracepoints there are ("group/name"), which a glob (`sys_enter_*`) is matched against. */
  tracepointNames?: () => readonly string[];
  /** The kernel BTF that "tsbpf/kernel" types come from; default /sys/kernel/btf/vmlinux. */
  vmlinuxBtf?: string;
  /**
   * Code generator: "own" (default) or "llvm" (the IR as LLVM IR through llc-19/clang-19; throws
   * LlvmToolchainError when no suitable LLVM is installed, see compiler/llvm).
   */
  backend?: "own" | "llvm";
  /** Every module-level map is printed as if exported: `tsbpf run -e`'s text, which does not write exports. */
  exportAll?: boolean;
  /**
   * How many arguments a USDT probe passes, undefined where unknown: the CLI reads the binary's notes where it resolves
   * (runtime/loader/usdt.ts's usdtArgumentCount). A handler with more parameters is then TSBPF1009; without it the
   * compiler cannot know (the binary need not be on the compiling machine), and a missing argument reads as 0.
   */
  usdtArguments?: (binary: string, provider: string, name: string) => number | undefined;
  /**
   * Called with the lowered file before code generation, so that a caller can hand the same IR to
   * the other backend too (the LLVM differential test runs the frontend once for both).
   */
  onLowered?: (lowered: Lowered, kernelStructs: ReadonlyMap<string, KernelStruct>, source: { fileName: string; text: string }) => void;
}

export interface CompiledProgram {
  /** The exported constant's name, also the ELF symbol. */
  name: string;
  /** SEC() name: kprobe/do_unlinkat, tracepoint/syscalls/sys_enter_unlinkat, ... */
  section: string;
  kind: ProbeKind;
  insns: Insn[];
  /**
   * LDDW slots to relocate: `.rodata` or `.bss` (imm = the offset in it, loaded as a map value address) or a
   * map's name (src = BPF_PSEUDO_MAP_FD; the loader puts the map's fd in imm).
   */
  relocations: { insn: number; symbol: string }[];
  /** Slots whose imm is a kernel struct member's offset, relocated by libbpf (CO-RE) against the running kernel. */
  coreRelocations: ({ insn: number } & CoreAccess)[];
  /** Source position of each slot (for line info). */
  lines: (Loc | undefined)[];
  stackDepth: number;
  /** func_info and line_info records for BPF_PROG_LOAD (with `btf` loaded); set when the file compiled. */
  funcInfo?: KernelExtInfo;
  lineInfo?: KernelExtInfo;
}

export interface CompileResult {
  /** The ELF object; empty when there are errors. */
  object: Uint8Array;
  programs: CompiledProgram[];
  rodata: Uint8Array;
  license: string;
  /** The object's `.BTF` (program prototypes, `.rodata` variables, line strings); empty on errors. */
  btf: Uint8Array;
  diagnostics: Diagnostic[];
  /** The probe file's text, for printing diagnostics with code frames. */
  source: { fileName: string; text: string };
}

export type CompileInput = string | { fileName: string; text: string };

export function compile(input: CompileInput, options: CompileOptions = {}): CompileResult {
  const source = typeof input === "string" ? { fileName: input, text: "" } : input;
  // A file TypeScript knows by another name (`/dev/stdin` as `/dev/stdin.ts`) is named as the user named it.
  const named = (d: Diagnostic): Diagnostic => (d.file === `${source.fileName}.ts` ? { ...d, file: source.fileName } : d);
  const empty = (diagnostics: Diagnostic[]): CompileResult => ({ object: new Uint8Array(0), programs: [], rodata: new Uint8Array(0), license: "", btf: new Uint8Array(0), diagnostics: diagnostics.map(named), source });
  if (typeof input === "string") {
    try {
      source.text = readFileSync(input, "utf8");
    } catch (error) {
      return empty([{ code: `TSBPF${Code.CannotRead}`, severity: "error", message: `cannot read ${input}: ${fileErrorText(error)}`, file: input, line: 0, column: 0, start: 0, length: 0 }]);
    }
  }
  try {
    return compileSource(source, options, empty);
  } catch (error) {
    const deep = deepNestingDiagnostic(typescript(), error, source);
    if (deep) return empty([deep]);
    // The cut TypeScript (frontend/trim-typescript.ts) lacks paths a check should never take: if one was taken,
    // the compile runs again with the whole module.
    if (!thrownByTrimmedTypescript(error) || !wholeTypescript()) throw error;
    return compileSource(source, options, empty);
  }
}

/**
 * TypeScript's errors less those at a "tsbpf/kernel" import tsbpf already explained: a name the kernel's BTF
 * lacks is also TypeScript's "has no exported member" (TS2305), which would only repeat it.
 */
function withoutRepeatedImportErrors(checked: Diagnostic[], reported: readonly Diagnostic[]): Diagnostic[] {
  const unknownImports = new Set(reported.filter((d) => d.code === codeName(Code.UnknownKernelType)).map((d) => d.start));
  return checked.filter((d) => !unknownImports.has(d.start));
}

/**
 * The structs a file reads without importing them: task_struct when it calls currentTask(), and those the
 * imported structs point to. A BTF record this compiler cannot read leaves such pointers bare `Ptr`s.
 */
function declareImplicitStructs(kernel: KernelImports, text: string, vmlinuxBtf: string | undefined): void {
  const callsCurrentTask = /\bcurrentTask\s*(<[^>]*>\s*)?\(/.test(text);
  if (!kernel.structs.size && !callsCurrentTask) return;
  const vmlinux = loadKernelBtf(vmlinuxBtf);
  if (!vmlinux) return;
  const mentioned = mentionedMembers(text);
  try {
    if (callsCurrentTask && !kernel.structs.has("task_struct")) importKernelName(vmlinux, "task_struct", kernel, mentioned);
    addPointedStructs(vmlinux, kernel, mentioned);
  } catch (error) {
    if (!(error instanceof BtfError)) throw error;
  }
}

function compileSource(source: CompileResult["source"], options: CompileOptions, empty: (diagnostics: Diagnostic[]) => CompileResult): CompileResult {
  const { fileName, text } = source;
  const ts = typescript();
  initTables(ts);
  const parsed = parse(fileName, text);

  // Tracepoint formats shape the handlers' parameter types, so they are read before checking.
  const diagnostics: Diagnostic[] = [];
  const tracepoints = new Map<string, TracepointFormat>();
  const unknownTracepoints: string[] = [];
  const roots = options.tracefs ? [options.tracefs] : TRACEFS_ROOTS;
  // Asked once, at the first format that cannot be read: "" when tracefs is readable (the tracepoint is unknown).
  let tracefsProblem: string | undefined;
  const tracepointNotFound = (g: import("typescript").StringLiteralLike, n: import("typescript").StringLiteralLike, what: string, similar: readonly string[], glob = false): void => {
    const hint = similar.length ? `; did you mean ${similar.join(" or ")}?` : "";
    const why = glob ? `none in ${roots.map((r) => `${r}/available_events`).join(" or ")}` : `no format file under ${roots.map((r) => `${r}/events`).join(" or ")}`;
    diagnostics.push(makeDiagnostic(source, Code.UnknownTracepoint, `${what} (${why})${hint}`, g.getStart(parsed), n.getEnd() - g.getStart(parsed)));
    unknownTracepoints.push(`${g.text}/${n.text}`);
  };
  /** The format of one tracepoint: its text, or why it cannot be read ("" when tracefs is readable: it does not exist). */
  const formatOf = (group: string, name: string): { text: string } | { unreadable: string } => {
    const formatText = options.tracepointFormat ? options.tracepointFormat(group, name) : readTracepointFormat(group, name, roots);
    if (formatText !== undefined) return { text: formatText };
    return { unreadable: options.tracepointFormat ? "" : (tracefsProblem ??= unreadableTracefs(roots) ?? "") };
  };
  const visit = (node: import("typescript").Node): void => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "tracepoint" && node.arguments.length >= 2) {
      const [g, n] = node.arguments;
      if (g && n && ts.isStringLiteralLike(g) && ts.isStringLiteralLike(n) && !tracepoints.has(`${g.text}/${n.text}`)) {
        const span = (): [number, number] => [g.getStart(parsed), n.getEnd() - g.getStart(parsed)];
        if (isGlob(g.text) || isGlob(n.text)) {
          // One program for every tracepoint the glob matches: its record is the fields they all share.
          const names = options.tracepointFormat ? (options.tracepointNames?.() ?? []).filter((k) => globRegExp(`${g.text}/${n.text}`).test(k)) : matchingTracepoints(g.text, n.text, roots);
          const unreadable = names === undefined ? (tracefsProblem ??= unreadableTracefs(roots) ?? "") : "";
          if (unreadable || !names) {
            diagnostics.push(makeDiagnostic(source, Code.TracefsUnreadable, `cannot list the tracepoints ${g.text}:${n.text} matches: ${unreadable || "tracefs has no available_events"}`, ...span()));
            unknownTracepoints.push(`${g.text}/${n.text}`);
          } else if (!names.length) {
            tracepointNotFound(g, n, `no tracepoint matches ${g.text}:${n.text}`, [], true);
          } else {
            const format = globFormat(g.text, n.text, names, (group, name) => {
              const f = formatOf(group, name);
              return "text" in f ? f.text : undefined;
            });
            if (format) tracepoints.set(`${g.text}/${n.text}`, format);
            else tracepointNotFound(g, n, `no tracepoint ${g.text}:${n.text} matches has a readable format`, [], true);
          }
        } else {
          const format = formatOf(g.text, n.text);
          if ("text" in format) tracepoints.set(`${g.text}/${n.text}`, parseTracepointFormat(g.text, n.text, format.text));
          else if (format.unreadable) {
            diagnostics.push(makeDiagnostic(source, Code.TracefsUnreadable, `cannot read the format of tracepoint ${g.text}:${n.text}: ${format.unreadable}`, ...span()));
            unknownTracepoints.push(`${g.text}/${n.text}`);
          } else tracepointNotFound(g, n, `no tracepoint ${g.text}:${n.text}`, options.tracepointFormat ? [] : similarTracepoints(g.text, n.text, roots));
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(parsed);

  // Kernel structs, enums, typedefs and constants imported from "tsbpf/kernel" come from the kernel's BTF.
  const kernel = noKernelImports();
  const kernelStructs = kernel.structs;
  for (const stmt of parsed.statements) {
    if (!ts.isImportDeclaration(stmt) || !ts.isStringLiteral(stmt.moduleSpecifier) || stmt.moduleSpecifier.text !== "tsbpf/kernel") continue;
    const bindings = stmt.importClause?.namedBindings;
    if (!bindings || !ts.isNamedImports(bindings)) continue;
    const vmlinux = loadKernelBtf(options.vmlinuxBtf);
    const mentioned = mentionedMembers(text);
    // Asked about under their C names as types, as themselves as enum constants.
    const imported = bindings.elements.map((spec) => (spec.propertyName ?? spec.name).text);
    try {
      vmlinux?.prefetch?.([...imported.map(cTypeName), ...imported]);
    } catch (error) {
      // A record this compiler cannot read: the lookup of each name that leads there says so below.
      if (!(error instanceof BtfError)) throw error;
    }
    for (const spec of bindings.elements) {
      const name = (spec.propertyName ?? spec.name).text;
      let why: string | undefined;
      try {
        if (!vmlinux) why = `cannot read the kernel's BTF (${options.vmlinuxBtf ?? VMLINUX_BTF})`;
        else if (!importKernelName(vmlinux, name, kernel, mentioned)) why = `the kernel's BTF has no struct, union, enum, integer typedef or enum constant named ${name}`;
      } catch (error) {
        // The kernel's BTF is indexed as it is searched, so a record this compiler cannot read shows up here.
        if (!(error instanceof BtfError)) throw error;
        why = `cannot read the kernel's BTF (${options.vmlinuxBtf ?? VMLINUX_BTF}): ${error.message}`;
      }
      if (why) diagnostics.push(makeDiagnostic(source, Code.UnknownKernelType, why, spec.getStart(parsed), spec.getEnd() - spec.getStart(parsed)));
    }
  }
  // A raw tracepoint's arguments, and a kprobe's where its handler leaves them unannotated, are typed by prototypes in
  // the kernel's BTF, so those too are read before checking.
  const typed = readTypedHandlers(ts, parsed, kernel, mentionedMembers(text), options.vmlinuxBtf, (node, code, message) => {
    diagnostics.push(makeDiagnostic(source, code, message, node.getStart(parsed), node.getEnd() - node.getStart(parsed)));
  });
  declareImplicitStructs(kernel, text, options.vmlinuxBtf);

  const kernelModule = kernelStructs.size || kernel.enums.size || kernel.typedefs.size || kernel.constants.size ? kernelModuleText(kernel) : "";
  const handlers = handlerTypes(typed, new Set(kernelStructs.keys()), kernelModule !== "");
  const checked = check(fileName, text, preludeText([...tracepoints.values()], kernelModule, unknownTracepoints, handlers), parsed);
  // After the first check the cache can hold the checker's compiled code too.
  saveCodeCache();
  diagnostics.push(...withoutRepeatedImportErrors(checked.diagnostics, diagnostics));
  if (diagnostics.length) return empty(diagnostics);

  const target = TARGETS[options.arch ?? hostArch()];
  const lowered = lower(checked, tracepoints, target, kernelStructs, kernel, { exportAll: options.exportAll, usdtArguments: options.usdtArguments, ...typed });
  if (lowered.diagnostics.length) return empty(lowered.diagnostics);
  options.onLowered?.(lowered, kernelStructs, source);
  if (options.backend === "llvm") {
    try {
      return compileLoweredWithLlvm(lowered, kernelStructs, source);
    } catch (error) {
      const handlers = new Map(lowered.programs.map(({ fn }) => [fn.name, fn.loc]));
      const stack = error instanceof LlvmError ? llvmStackOverflow(error, source, handlers) : undefined;
      if (!stack) throw error;
      return empty([stack]);
    }
  }

  const programs: CompiledProgram[] = [];
  for (const { fn, kind } of lowered.programs) {
    try {
      const out = generate(foldCopies(eliminateDeadCode(fn)));
      programs.push({
        name: fn.name,
        section: fn.section,
        kind,
        insns: out.insns,
        relocations: [...out.rodataRelocs.map((insn) => ({ insn, symbol: ".rodata" })), ...out.bssRelocs.map((insn) => ({ insn, symbol: ".bss" })), ...out.mapRelocs.map((r) => ({ insn: r.insn, symbol: r.map }))].sort((a, b) => a.insn - b.insn),
        coreRelocations: out.coreRelocs,
        lines: out.locs,
        stackDepth: out.stackDepth,
      });
    } catch (error) {
      if (!(error instanceof CodegenError)) throw error;
      if (error.loc) diagnostics.push(makeDiagnostic(source, Code.StackTooLarge, error.message, locStart(text, error.loc), 0));
      else diagnostics.push(makeDiagnostic(source, Code.StackTooLarge, `${fn.name}: ${error.message}`, fn.loc ? locStart(text, fn.loc) : 0, 0));
    }
  }
  // The verifier model checks what codegen emitted; a rejection is reported at the TypeScript line.
  if (!diagnostics.length) {
    const data = { rodataSize: lowered.module.rodata.length, bssSize: bssSize(lowered.module.bss), maps: mapDescs(lowered.module.maps ?? []), rawTracepoint: rawTracepointContext(options.vmlinuxBtf), license: lowered.module.license };
    diagnostics.push(...verifyPrograms(programs, source, data));
  }
  if (diagnostics.length) return empty(diagnostics);
  const placements = placePrograms(programs);
  const fns = new Map(lowered.programs.map(({ fn }) => [fn.name, fn]));
  const btf = buildBtf(
    programs.map((p, i) => ({ name: p.name, section: p.section, offset: placements[i]!.offset, lines: p.lines, loc: fns.get(p.name)?.loc, core: p.coreRelocations, tags: fns.get(p.name)?.tags })),
    kernelStructs,
    lowered.module.rodata,
    fileName,
    text,
    lowered.module.maps ?? [],
    lowered.module.rodataVars,
    lowered.module.bss,
  );
  for (const p of programs) Object.assign(p, btf.kernel.get(p.name));
  const { bytes } = writeObject({
    programs: programs.map((p) => ({
      name: p.name,
      section: p.section,
      insns: p.insns,
      rodataRelocs: p.relocations.filter((r) => r.symbol === ".rodata").map((r) => r.insn),
      bssRelocs: p.relocations.filter((r) => r.symbol === ".bss").map((r) => r.insn),
      mapRelocs: p.relocations.filter((r) => !r.symbol.startsWith(".")).map((r) => ({ insn: r.insn, map: r.symbol })),
    })),
    maps: (lowered.module.maps ?? []).map((m) => ({ name: m.name, size: mapDefSize(m) })),
    rodata: lowered.module.rodata,
    license: lowered.module.license,
    btf: { btf: btf.btf, ext: btf.ext },
    rodataSymbols: btf.rodataVars,
    bss: lowered.module.bss,
  });
  return { object: bytes, programs, rodata: lowered.module.rodata, license: lowered.module.license, btf: btf.btf, diagnostics: [], source };
}

/** The kernel's whole BTF by path, parsed once per process (null: unreadable), for the verifier model's tp_btf contexts. */
const wholeBtf = new Map<string, Btf | null>();

/**
 * A raw tracepoint's typed arguments for the verifier model, from the kernel's whole BTF (parsed on first use, so
 * only in processes that compile a raw tracepoint: ~25 ms); undefined when it cannot be read.
 */
function rawTracepointContext(path = VMLINUX_BTF): (name: string) => TracepointContext | undefined {
  return (name) => {
    if (!wholeBtf.has(path)) {
      try {
        wholeBtf.set(path, parseBtf(readBtfFile(path)));
      } catch {
        wholeBtf.set(path, null);
      }
    }
    const btf = wholeBtf.get(path);
    const context = btf ? tracepointContext(btf, name) : undefined;
    return typeof context === "object" ? context : undefined;
  };
}

/** The maps as the verifier model sees them (sizes of keys and values; a ring buffer's bytes). */
function mapDescs(maps: readonly MapDef[]): NamedMap[] {
  const size = (x: MapDef["key"]): number => (x === undefined ? 0 : typeof x === "number" ? x : x.size);
  return maps.map((m) => ({ name: m.name, type: m.type, keySize: size(m.key), valueSize: size(m.value), maxEntries: m.maxEntries, flags: m.flags ?? 0 }));
}

/**
 * llc's "BPF stack limit is exceeded" as TSBPF1016 at the first line it names: LLVM's code needs stack for its own
 * spills beyond the values tsbpf counts, so a handler near the limit may pass with the default backend alone.
 * `handlers`: each handler's line, for when llc names none (`<unknown>:0:0`, as for deeply nested loops' counters).
 */
function llvmStackOverflow(error: LlvmError, source: { fileName: string; text: string }, handlers: ReadonlyMap<string, Loc | undefined>): Diagnostic | undefined {
  const m = /^error: [^\n]*?:(\d+):(\d+): in function (\w+)[^\n]*BPF stack limit is exceeded/m.exec(error.stderr);
  if (!m) return undefined;
  const [, line, column, fn] = m as unknown as [string, string, string, string];
  const message = `${fn}: LLVM's code for this handler needs more than BPF's 512 bytes of stack (its register spills come on top of the values the handler keeps): keep large values in a map, or compile with the default backend, which needs less`;
  const loc = Number(line) > 0 && Number(column) > 0 ? { line: Number(line), column: Number(column) } : handlers.get(fn);
  return makeDiagnostic(source, Code.StackTooLarge, message, loc ? locStart(source.text, loc) : 0, 0);
}

function locStart(text: string, loc: Loc): number {
  let at = 0;
  for (let line = 1; line < loc.line; line++) at = text.indexOf("\n", at) + 1;
  return at + loc.column - 1;
}
