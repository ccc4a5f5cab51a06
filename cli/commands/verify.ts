// `tsbpf verify FILE` and `tsbpf verify --insns-hex HEX --prog-type TYPE`: runs the verifier model on a
// TypeScript probe (compiled first, by tsbpf's own backend or, with `--backend llvm`, through LLVM), on
// any BPF ELF object (clang's too: each program linked with its sub-programs and map slots filled as
// runtime/loader does, maps described from the object), or on raw
// instructions. A rejection is explained by source line (from the object's line info), instruction,
// register and reason. A tp_btf program is checked against its tracepoint's prototype in the running kernel's
// BTF; a program the model does not check (fentry, LSM and the other types typed by a BTF attach target; one
// the loader cannot link) is reported as not checked, with the reason; the kernel judges it when it is
// loaded. Exit 0 when no program is rejected, 3 when one is.
//
// Object-level verification lives here, not in compiler/, because it needs the loader's object model.

import { compile, formatDiagnostics } from "../../compiler/index.js";
import { decode, disassemble, IsaError, type Insn } from "../../compiler/isa/index.js";
import { describeError, notModelled, ProgTypeId, progTypeFromName, progTypeName, tracepointContext, uncheckedReason, verify, type MapDesc, type TracepointContext, type VerifyError } from "../../compiler/verifier/index.js";
import { explainAt, type SourcePosition } from "../../compiler/verify-programs.js";
import { codeFrame } from "../source-error.js";
import { BtfError, parseBtf, parseBtfExt } from "../../compiler/btf/index.js";
import { ElfError } from "../../compiler/elf/index.js";
import { Op, PseudoCall } from "../../compiler/isa/opcodes.js";
import { Helper } from "../../compiler/isa/helpers.js";
import {
  KCONFIG_SECTION,
  ObjectError,
  encodeProgram,
  hasCoreRelocations,
  hostExterns,
  kernelBtf,
  linkProgram,
  objectNameOf,
  openObject,
  programFunctions,
  resolveCore,
  resolveExterns,
  type CoreResolutions,
  type ObjectSpec,
  type ResolvedExterns,
} from "../../runtime/loader/index.js";
import { ExitCode, UserError } from "../exit-codes.js";
import { diagnosticsExitCode } from "./compile.js";
import { LlvmToolchainError } from "../../compiler/llvm/toolchain.js";
import { inputName, isElf, namesStdin, parseHexBytes, probeText, readInputFile, readStdin } from "../input.js";
import { stderrIsTTY, writeErr, writeOut } from "../output.js";
import { usdtArgumentCount } from "../../runtime/loader/usdt.js";
import { mapValueFields } from "../../runtime/loader/maps.js";

const MAP_TYPES: Record<string, number> = { hash: 1, array: 2, prog_array: 3, perf_event_array: 4, percpu_hash: 5, percpu_array: 6, lru_hash: 9, ringbuf: 27 };

/** `FD:TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES`, TYPE a number or a name such as `hash`. */
function parseMap(spec: string): MapDesc {
  const parts = spec.split(":");
  const nums = parts.map((p, i) => (i === 1 && p in MAP_TYPES ? MAP_TYPES[p]! : Number(p)));
  if (parts.length !== 5 || nums.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new UserError(`--map ${spec}: expected FD:TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES, e.g. 3:hash:8:16:1024`);
  }
  const [fd, type, keySize, valueSize, maxEntries] = nums as [number, number, number, number, number];
  return { fd, type, keySize, valueSize, maxEntries };
}

export async function handler(argv: Record<string, unknown>): Promise<number> {
  // `-` (or /dev/stdin): the probe file or object on standard input, told apart by the ELF magic.
  const file = argv.file === undefined ? undefined : inputName(argv.file as string);
  if (argv["insns-hex"] !== undefined) {
    if (file !== undefined) throw new UserError(`--insns-hex checks instructions instead of a file: give ${file} or --insns-hex, not both`);
    return verifyHex(argv);
  }
  for (const flag of ["map", "unprivileged", "strict-alignment"]) {
    if (argv[flag] !== undefined && argv[flag] !== false) throw new UserError(`--${flag} goes with --insns-hex; a file's maps and loader come from the file`);
  }
  if (!file) throw new UserError("name a probe file (.ts) or a BPF object, or give --insns-hex HEX --prog-type TYPE");
  const json = Boolean(argv.json);
  const options: VerifyObjectOptions = { log: Boolean(argv.log), name: objectNameOf(file) };
  if (argv.program !== undefined) options.programs = ([] as string[]).concat(argv.program as string | string[]);
  if (argv["prog-type"] !== undefined) options.progType = progTypeOrThrow(argv["prog-type"] as string);

  const backend = (argv.backend as string | undefined) ?? "own";
  if (backend !== "own" && backend !== "llvm") throw new UserError(`--backend takes own or llvm, not ${backend}`);
  let bytes: Uint8Array;
  const stdin = namesStdin(file) ? await readStdin() : undefined;
  if (stdin ? !isElf(stdin) : /\.[cm]?ts$/.test(file)) {
    const text = probeText(file, stdin ?? readInputFile(file));
    let compiled: ReturnType<typeof compile>;
    try {
      compiled = compile({ fileName: file, text }, { backend, usdtArguments: usdtArgumentCount });
    } catch (error) {
      // No LLVM installed: the message names the package to install.
      if (error instanceof LlvmToolchainError) throw new UserError(error.message);
      throw error;
    }
    if (compiled.diagnostics.length) {
      const code = diagnosticsExitCode(file, compiled.diagnostics);
      // The compiler runs the model too: its TSBPF20xx diagnostics are the rejections, in TypeScript terms.
      if (json) writeOut(`${JSON.stringify({ file, accepted: false, programs: [], diagnostics: compiled.diagnostics })}\n`);
      else writeErr(formatDiagnostics(compiled.diagnostics, { color: stderrIsTTY(), sources: { [compiled.source.fileName]: compiled.source.text } }));
      return code;
    }
    bytes = compiled.object;
  } else {
    if (backend !== "own") throw new UserError(`--backend ${backend} compiles a probe file (.ts), but ${file} is read as a BPF object, already compiled`);
    bytes = stdin ?? readInputFile(file);
  }

  let report: ObjectReport;
  try {
    report = verifyObject(bytes, options);
  } catch (error) {
    if (error instanceof ElfError || error instanceof ObjectError) throw new UserError(`${file}: ${error.message}`);
    // BTF that names types it does not have (a func_info's type id past the end): a malformed object, not a tsbpf bug.
    if (error instanceof BtfError) throw new UserError(`${file}: its BTF is malformed: ${error.message}`);
    throw error;
  }
  if (json) writeOut(`${JSON.stringify({ file, ...report })}\n`);
  else writeOut(formatReport(report));
  return report.accepted ? ExitCode.OK : ExitCode.REJECTED;
}

// ---------------------------------------------------------------- objects

export interface VerifyObjectOptions {
  /** Object name, for global data map names; default "obj". */
  name?: string;
  /** Only these programs (by function name). */
  programs?: readonly string[];
  /** Overrides the program type the section names imply. */
  progType?: number;
  /** A kernel-style log of every processed instruction, with source lines. */
  log?: boolean;
}

export interface ProgramReport {
  name: string;
  section: string;
  progType: string;
  /** "unchecked": the model does not check this program (`unchecked` says why); the kernel judges it at load. */
  verdict: "accepted" | "rejected" | "unchecked";
  /** The model accepts it (verdict "accepted"). */
  accepted: boolean;
  /** Why the model does not check it. */
  unchecked?: string;
  /** Instructions the model processed (the kernel's "processed N insns"). */
  processed: number;
  /** Slots after linking (sub-programs included). */
  insns: number;
  error?: VerifyError & {
    /** The instruction, disassembled. */
    insn?: string;
    /** One line: instruction, reason, register state. */
    text: string;
    /** TSBPF20xx and the sentence in source terms. */
    code: string;
    hint: string;
    /** From the object's line info: file, line, column and the source line. */
    source?: SourcePosition;
    /** The source expression the hint is about, at `source.column`. */
    expression?: string;
  };
  log?: string[];
}

export interface ObjectReport {
  /** No program is rejected (programs the model does not check are not rejected). */
  accepted: boolean;
  programs: ProgramReport[];
}

/** Parses, links and verifies every program of a BPF ELF object as runtime/loader would load it. */
export function verifyObject(bytes: Uint8Array, options: VerifyObjectOptions = {}): ObjectReport {
  const spec = openObject(bytes, { name: options.name ?? "obj" });
  const core = coreResolutions(spec);
  const { externs, externError } = externResolutions(spec);
  // Each map gets a stand-in fd; the model checks accesses against the shapes, as the kernel would.
  // `.rodata` is frozen with its initial value before the programs load: the verifier reads it.
  // So is `.kconfig`, with the running kernel's values: version checks prune branches as in the kernel.
  // A map of maps carries its inner definition: a lookup in it gives a map of that shape.
  const maps: MapDesc[] = spec.maps.map((m, i) => {
    const initial = m.origin === "data" && m.name === KCONFIG_SECTION ? externs?.kconfig : m.initial;
    return { fd: 100 + i, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, ...(m.freeze && initial ? { frozen: initial } : {}), ...(m.inner ? { inner: { ...m.inner } } : {}), valueFields: mapValueFields(spec, m) };
  });
  const fds = maps.map((m) => m.fd);
  const lines = lineInfo(spec);
  const wanted = options.programs ? new Set(options.programs) : undefined;
  if (wanted) for (const n of wanted) if (!spec.programs.some((p) => p.name === n)) throw new ObjectError(`no program ${n} (programs: ${spec.programs.map((p) => p.name).join(", ")})`);

  const programs: ProgramReport[] = [];
  for (const p of spec.programs) {
    if (wanted && !wanted.has(p.name)) continue;
    const progType = options.progType ?? p.type;
    const unchecked = (why: string, insns = 0): ProgramReport => ({ name: p.name, section: p.section, progType: progTypeName(progType), verdict: "unchecked", accepted: false, unchecked: why, processed: 0, insns });
    // `tsbpf load` refuses the whole object before the kernel sees a program: none of them is checked either.
    if (externError) {
      programs.push(unchecked(`the object's externs cannot be resolved against the running kernel: ${externError}`));
      continue;
    }
    let linked: ReturnType<typeof linkProgram>;
    try {
      linked = linkProgram(spec, p, core, externs);
    } catch (error) {
      // A program the loader cannot link: the other programs are still checked.
      if (!(error instanceof ObjectError)) throw error;
      programs.push(unchecked(`it cannot be linked: ${error.message.replace(/^program \S+: /, "")}`));
      continue;
    }
    const insns = decode(encodeProgram(linked, fds), { check: false });
    // A tp_btf program's context is its tracepoint's arguments, typed by the running kernel's BTF.
    const hook = p.section.replace(/^\?/, "").split("/")[0]!; // an optional section ("?struct_ops/...") is of its kind
    const tracepoint = hook === "tp_btf" && progType === ProgTypeId.tracing ? tracepointOf(p.section.slice(hook.length + 1)) : undefined;
    if (typeof tracepoint === "string") {
      programs.push(unchecked(tracepoint, insns.length));
      continue;
    }
    // Calls of kernel functions (kfuncs) are not modelled: the kernel judges those programs, as it does the hooks below.
    const kfuncs = insns.some((i) => i.code === Op.CALL && i.src === PseudoCall.KFUNC);
    const outOfModel = kfuncs ? "it calls kernel functions (kfuncs), which the model does not check" : tracepoint ? undefined : uncheckedReason(progType, hook);
    if (outOfModel) {
      programs.push(unchecked(outOfModel, insns.length));
      continue;
    }
    // bpf_get_current_task_btf()'s task is typed by the running kernel's BTF (read only for programs that call it).
    const kernelTypes = !tracepoint && insns.some((i) => i.code === Op.CALL && i.src === 0 && i.imm === Helper.get_current_task_btf) ? readableKernelBtf() : undefined;
    // Global functions are verified from their BTF prototypes, as the kernel does with the object's func_info.
    const funcBtf = programFunctions(spec, linked);
    const result = verify(insns, { progType, expectedAttachType: p.expectedAttachType ?? 0, maps, flags: p.flags, license: spec.license, log: options.log ?? false, ...(tracepoint ? { tracepoint } : {}), ...(kernelTypes ? { kernelBtf: kernelTypes } : {}), ...(funcBtf ? { functions: funcBtf } : {}) });
    // A path reached what the model does not know (a helper such as bpf_spin_lock or bpf_loop): no verdict of its own.
    const unknown = notModelled(result.error);
    if (unknown) {
      programs.push(unchecked(`${unknown} (instruction ${result.error!.pc})`, insns.length));
      continue;
    }
    // Linked slot -> (section, slot in section), for line info.
    const functions = linked.functions.map((f, i) => ({ ...f, end: linked.functions[i + 1]?.start ?? insns.length, source: [...spec.raw.programs, ...spec.raw.subprograms].find((s) => s.name === f.name) }));
    const positionOf = (pc: number): SourcePosition | undefined => {
      const f = functions.find((x) => pc >= x.start && pc < x.end);
      if (!f?.source) return undefined;
      return lines(f.source.section, f.source.offset + (pc - f.start), f.source.offset);
    };
    const verdict = result.accepted ? "accepted" : "rejected";
    const report: ProgramReport = { name: p.name, section: p.section, progType: progTypeName(progType), verdict, accepted: result.accepted, processed: result.processed, insns: insns.length };
    if (result.error) {
      // tsbpf's objects carry TypeScript line info; any other object is its author's code, not tsbpf's.
      const { why, source } = explainAt(insns, result.error, progType, positionOf, { tsbpf: /\.[cm]?ts$/.test(positionOf(result.error.pc)?.file ?? "") });
      report.error = { ...result.error, insn: disassembleAt(insns, result.error.pc), text: describeError(insns, result.error), code: `TSBPF${why.code}`, hint: why.sentence, ...(source ? { source } : {}), ...(why.expression ? { expression: why.expression } : {}) };
    }
    if (result.log) report.log = kernelStyleLog(result.log, positionOf);
    programs.push(report);
  }
  return { accepted: programs.every((p) => p.verdict !== "rejected"), programs };
}

/** The arguments of a tp_btf program's tracepoint in the running kernel's BTF, or why the model cannot know them. */
function tracepointOf(name: string): TracepointContext | string {
  const btf = readableKernelBtf();
  if (!btf) return "the model checks tp_btf programs against the running kernel's BTF, which cannot be read here (/sys/kernel/btf/vmlinux)";
  return tracepointContext(btf, name);
}

/** The running kernel's BTF, or undefined where it cannot be read. */
function readableKernelBtf(): ReturnType<typeof kernelBtf> | undefined {
  try {
    return kernelBtf();
  } catch {
    return undefined;
  }
}

/** CO-RE relocations resolved against the running kernel; left as compiled when its BTF is unreadable. */
function coreResolutions(spec: ObjectSpec): CoreResolutions | undefined {
  if (!hasCoreRelocations(spec.raw)) return undefined;
  try {
    return resolveCore(spec.raw, kernelBtf());
  } catch {
    return undefined;
  }
}

/** Externs resolved against the running kernel, or why they cannot be (a non-weak one it lacks: the loader refuses it too). */
function externResolutions(spec: ObjectSpec): { externs?: ResolvedExterns; externError?: string } {
  if (spec.externs.length === 0) return {};
  try {
    return { externs: resolveExterns(spec, hostExterns()) };
  } catch (error) {
    // ObjectErrors name the extern; anything else (no readable vmlinux BTF) is still a reason, not a crash.
    return { externError: error instanceof Error ? error.message : String(error) };
  }
}

/** Source position of a slot in a section: the nearest line info record at or before it in its function. */
function lineInfo(spec: ObjectSpec): (section: string, slot: number, fnStart: number) => SourcePosition | undefined {
  const bySection = new Map<string, { slot: number; pos: SourcePosition }[]>();
  const { btf: btfBytes, btfExt } = spec.raw;
  if (btfBytes && btfExt) {
    try {
      const btf = parseBtf(btfBytes);
      for (const s of parseBtfExt(btfExt, { btf }).lineInfo) {
        const records = s.records.map((r) => ({ slot: r.insnOff / 8, pos: { file: r.fileName ?? "?", line: r.line, column: r.col, ...(r.lineText !== undefined ? { text: r.lineText } : {}) } }));
        bySection.set(s.name ?? "", records.sort((a, b) => a.slot - b.slot));
      }
    } catch {
      // Bad BTF only costs the source positions.
    }
  }
  return (section, slot, fnStart) => {
    const records = bySection.get(section);
    if (!records) return undefined;
    let found: SourcePosition | undefined;
    for (const r of records) {
      if (r.slot > slot) break;
      if (r.slot >= fnStart) found = r.pos;
    }
    return found && { ...found };
  };
}

/** The model's log (the kernel's log_level 2 form) with `; source @ file:line` before an instruction whose source line differs from the last one's. */
function kernelStyleLog(log: readonly string[], positionOf: (pc: number) => SourcePosition | undefined): string[] {
  const out: string[] = [];
  let last: SourcePosition | undefined;
  for (const line of log) {
    const m = /^(\d+): \([0-9a-f]{2}\) /.exec(line);
    if (m) {
      const pos = positionOf(Number(m[1]));
      if (pos && (!last || pos.line !== last.line || pos.file !== last.file)) out.push(`; ${(pos.text ?? "").trim()} @ ${pos.file}:${pos.line}`);
      last = pos;
    }
    out.push(line);
  }
  return out;
}

/** The text report: one line per program; a rejection with its source line underlined and the note. */
export function formatReport(report: ObjectReport): string {
  const out: string[] = [];
  for (const p of report.programs) {
    if (p.log) {
      // One line at a time: a log can hold a million lines, more arguments than a call takes.
      out.push(`${p.name} (${p.section}):`);
      for (const l of p.log) out.push(`  ${l}`);
    }
    if (p.accepted) {
      out.push(`${p.name} (${p.section}, ${p.progType}): accepted, ${p.processed} instructions processed`);
      continue;
    }
    if (p.verdict === "unchecked") {
      out.push(`${p.name} (${p.section}, ${p.progType}): not checked: ${p.unchecked}`);
      continue;
    }
    const e = p.error!;
    out.push(`${p.name} (${p.section}, ${p.progType}): rejected`);
    const where = e.source ? `${e.source.file}:${e.source.line}:${e.source.column} - ` : "";
    out.push(`${where}error ${e.code}: ${e.hint}`);
    if (e.source?.text !== undefined) out.push("", ...codeFrame(e.source as SourcePosition & { text: string }, e.expression), "");
    out.push(`  note: the verifier model rejects ${e.text}`);
  }
  const count = (verdict: ProgramReport["verdict"]): number => report.programs.filter((p) => p.verdict === verdict).length;
  const of = `of ${report.programs.length} program${report.programs.length === 1 ? "" : "s"}`;
  const [rejected, unchecked] = [count("rejected"), count("unchecked")];
  if (rejected || unchecked) out.push("");
  if (rejected) out.push(`${rejected} ${of} rejected.`);
  if (unchecked) out.push(`${unchecked} ${of} not checked by the model: the kernel's verifier judges ${unchecked === 1 ? "it" : "them"} when loaded (tsbpf load).`);
  return `${out.join("\n")}\n`;
}

// ---------------------------------------------------------------- raw instructions

function progTypeOrThrow(typeName: string): number {
  const progType = progTypeFromName(typeName);
  if (progType === undefined) throw new UserError(`unknown program type "${typeName}" (use the kernel's name: kprobe, socket_filter, tracepoint, xdp, sched_cls, ...)`);
  return progType;
}

function verifyHex(argv: Record<string, unknown>): number {
  if (argv["prog-type"] === undefined) throw new UserError("--insns-hex needs --prog-type TYPE (kprobe, socket_filter, tracepoint, xdp, ...)");
  const progType = progTypeOrThrow(argv["prog-type"] as string);
  // Accept whole slots ("b700000000000000 9500000000000000") as well as single bytes.
  const hex = (argv["insns-hex"] as string).trim();
  const groups = hex.split(/\s+/);
  const joined = groups.every((g) => /^(0x)?[0-9a-f]+$/i.test(g) && g.replace(/^0x/i, "").length % 2 === 0) ? groups.map((g) => g.replace(/^0x/i, "")).join("") : hex;
  const bytes = parseHexBytes(joined, "--insns-hex");
  let insns: Insn[];
  try {
    insns = decode(bytes, { check: false });
  } catch (error) {
    if (error instanceof IsaError) throw new UserError(`--insns-hex: ${error.message}`);
    throw error;
  }
  const maps = ((argv.map as string[] | undefined) ?? []).map(parseMap);
  const result = verify(insns, {
    progType,
    maps,
    privileged: !argv.unprivileged,
    flags: argv["strict-alignment"] ? 1 : 0,
    log: Boolean(argv.log),
  });
  // What the model does not know (a helper outside its table) is left to the kernel, as for an object's programs.
  const unknown = notModelled(result.error);
  const unchecked = unknown && `${unknown} (instruction ${result.error!.pc})`;
  const verdict: ProgramReport["verdict"] = result.accepted ? "accepted" : unchecked ? "unchecked" : "rejected";
  if (argv.json) {
    const out: Record<string, unknown> = { verdict, accepted: result.accepted, processed: result.processed };
    if (unchecked) out.unchecked = unchecked;
    else if (result.error) out.error = { ...result.error, insn: disassembleAt(insns, result.error.pc), text: describeError(insns, result.error) };
    if (result.log) out.log = result.log;
    writeOut(`${JSON.stringify(out)}\n`);
  } else {
    if (result.log) writeOut(result.log.map((l) => `${l}\n`).join(""));
    if (result.accepted) writeOut(`accepted: ${result.processed} instructions processed\n`);
    else if (unchecked) writeOut(`not checked: ${unchecked}; the kernel's verifier judges it when loaded\n`);
    else writeOut(`rejected: ${describeError(insns, result.error!)}\n`);
  }
  return verdict === "rejected" ? ExitCode.REJECTED : ExitCode.OK;
}

function disassembleAt(insns: readonly Insn[], pc: number): string | undefined {
  if (!insns[pc]) return undefined;
  return disassemble(insns.slice(pc, pc + 2), {})[0];
}
