// The verifier model applied to what the compiler emits, and rejections explained to the author.
// Takes generated programs (slots, relocations, per-slot source positions) and the source text; gives
// TSBPF20xx diagnostics at the TypeScript line of the offending instruction, with a plain sentence and
// the instruction and register state as a note. `explainRejection` is shared with `tsbpf verify`, which
// explains rejections of any object (C included) through its line info.
//
// Layering: this module only needs the model and the ISA, so it lives in compiler/ and runs before the
// object is written; relocating whole ELF objects (runtime/loader) stays in the CLI.

import { Op, PseudoLd } from "./isa/opcodes.js";
import { type Insn } from "./isa/insn.js";
import { Helper } from "./isa/helpers.js";
import { describeError, progTypeName, verify, type MapDesc, type VerifyError } from "./verifier/index.js";
import type { Diagnostic } from "./frontend/diagnostics.js";

/** TSBPF20xx: the program was rejected by the verifier model; each code names the kind of reason. */
export const VerifierCode = {
  /** Any other rejection: most likely a tsbpf bug in the generated code. */
  Rejected: 2001,
  /** A pointer that may be null (a map lookup, a ring buffer reservation) is used before a null check. */
  MaybeNull: 2002,
  /** A register or stack bytes are read before anything was written. */
  Uninitialised: 2003,
  /** A stack, map value, packet or memory access may fall outside its object. */
  OutOfBounds: 2004,
  /** A context (probe arguments, tracepoint fields) access the program type does not allow. */
  Context: 2005,
  /** A loop the verifier cannot bound, or a program too complex to check. */
  Loop: 2006,
  /** A helper the program type may not call, or a helper argument of the wrong kind. */
  Helper: 2007,
  /** The return value is outside what the program type allows. */
  ReturnValue: 2008,
  /** More than 512 bytes of stack along a call chain, or calls nested too deeply. */
  Stack: 2009,
  /** A ring buffer record reserved and, on some path, neither submitted nor discarded. */
  Unreleased: 2010,
} as const;

/** Where an instruction came from: a source file position and, when known, the text of that line. */
export interface SourcePosition {
  file: string;
  /** 1-based; 0 when unknown. */
  line: number;
  column: number;
  /** The whole source line. */
  text?: string;
}

export interface Explanation {
  code: number;
  /** A sentence in source terms. */
  sentence: string;
  /** The instruction, the model's reason and the register state. */
  note: string;
  /** The expression the sentence is about, when one could be read off the source line. */
  expression?: string;
}

/** Helpers whose result must be null-checked, and the words for what they return. */
const NULLABLE: Record<number, string> = { [Helper.map_lookup_elem]: "map lookup", [Helper.ringbuf_reserve]: "ring buffer reservation" };

/** Turns the model's kernel-style reason into a sentence about the source. */
export function explainRejection(insns: readonly Insn[], error: VerifyError, progType: number, positionOf: (pc: number) => SourcePosition | undefined): Explanation {
  const m = error.message;
  const here = positionOf(error.pc);
  const expr = here?.text !== undefined ? expressionAt(here.text, here.column) : undefined;
  const at = expr ? `\`${expr}\`` : "this expression";
  const note = `note: the verifier model rejects ${describeError(insns, error)}`;
  const out = (code: number, sentence: string): Explanation => ({ code, sentence, note, ...(expr ? { expression: expr } : {}) });

  if (/_or_null|against NULL|null-check it first/.test(m)) {
    const producer = nullableProducer(insns, error.pc);
    const pos = producer !== undefined ? positionOf(producer.pc) : undefined;
    const source = pos?.text !== undefined ? expressionAt(pos.text, pos.column, true) : undefined;
    const what = source ? `\`${source}\`` : `the ${producer?.what ?? "map lookup"}'s result`;
    return out(VerifierCode.MaybeNull, `${what} may be null here; check it (\`if (!v) return 0;\`) before ${expr ? `reading ${at}` : "using it"}`);
  }
  if (/!read_ok/.test(m)) return out(VerifierCode.Uninitialised, `${at} reads a value that is not set on every path to this line; assign it on every path first`);
  if (/never (written|initialised)|uninit stack/.test(m)) return out(VerifierCode.Uninitialised, `${at} reads memory that was never written (a buffer or field used before it is filled); initialise it first`);
  if (/invalid bpf_context access/.test(m)) {
    return out(VerifierCode.Context, `${at} reads the probe's context where a ${progTypeName(progType)} program may not: that argument or field is not readable here`);
  }
  if (/back-edge|infinite loop|too large|too complex|loop/.test(m)) {
    return out(VerifierCode.Loop, `the verifier cannot prove that the loop around ${at} ends; give it a constant bound (\`for (let i = 0; i < 16; i++)\`)`);
  }
  if (/stack size|call stack|too deep/.test(m)) return out(VerifierCode.Stack, "this program needs more than the 512 bytes of stack the kernel allows (or nests calls too deeply); use fewer or smaller locals");
  if (/cannot use helper|invalid func|type=\S+ expected=|leaks addr into helper/.test(m)) {
    return out(VerifierCode.Helper, `${at} calls a helper that a ${progTypeName(progType)} program may not call, or with an argument of the wrong kind`);
  }
  const unreleased = /Unreleased reference id=\d+ alloc_insn=(\d+)/.exec(m);
  if (unreleased) {
    const pos = positionOf(Number(unreleased[1]));
    const source = pos?.text !== undefined ? expressionAt(pos.text, pos.column, true) : undefined;
    const record = `the ring buffer record reserved ${source ? `by \`${source}\` ` : ""}${pos?.line ? `on line ${pos.line}` : "earlier"}`;
    return out(VerifierCode.Unreleased, `${record} is neither submitted nor discarded on the path that ends here; submit(r) or discard(r) it on every path`);
  }
  if (/At program exit/.test(m)) return out(VerifierCode.ReturnValue, `the value returned here is outside what a ${progTypeName(progType)} program may return`);
  const oob = /invalid access to (map value|map key|packet|memory)|outside of the allowed memory range|unbounded memory access|min value is negative|outside of the packet|out of bounds|stack R\d+ off=|invalid (variable-offset|unbounded)|goes out of range|(read from|write into) map forbidden/.exec(m);
  if (oob) {
    const object = /map value|map forbidden/.test(m) ? "the map value" : /packet/.test(m) ? "the packet" : /stack/.test(m) ? "its stack buffer" : "the object it points into";
    // A variable index needs a bounds check; a fixed offset past the end is a size mistake (or a codegen bug).
    if (/var_off|variable|unbounded|min value|max value/.test(m)) return out(VerifierCode.OutOfBounds, `${at} may access memory outside ${object}; bound the index or offset with a check (\`if (i < N)\`) first`);
    return out(VerifierCode.OutOfBounds, `${at} accesses memory outside ${object} at a fixed offset; check the sizes involved (in generated code this is a tsbpf bug, please report it)`);
  }
  return out(VerifierCode.Rejected, `the generated code for ${at} is rejected by the verifier (${m}); this is likely a tsbpf bug, please report it`);
}

/** The nearest earlier call to a helper returning a nullable pointer (straight-line, as compiled code is laid out). */
function nullableProducer(insns: readonly Insn[], pc: number): { pc: number; what: string } | undefined {
  for (let i = Math.min(pc, insns.length) - 1; i >= 0; i--) {
    const x = insns[i]!;
    if (x.code === Op.CALL && x.src === 0 && NULLABLE[x.imm]) return { pc: i, what: NULLABLE[x.imm]! };
  }
  return undefined;
}

/**
 * The expression starting at a 1-based column: names, member accesses and balanced brackets.
 * With `firstCall`, stops after the first call's arguments (`counts.lookup(pid)`, not `.value` after it).
 */
export function expressionAt(line: string, column: number, firstCall = false): string | undefined {
  let start = Math.max(0, column - 1);
  // A statement's position stands for its expression: skip `return`, `const x =`, `x +=`, ...
  const lead = /^(?:return\s+|(?:const|let|var)\s+[\w$]+(?:\s*:\s*[\w$<>]+)?\s*=\s*|[\w$.]+\s*[-+*/%&|^]?=(?!=)\s*)/.exec(line.slice(start));
  if (lead) start += lead[0].length;
  let depth = 0;
  let end = start;
  // C dereferences and address-of belong to the expression (`*v`).
  let from = start;
  while (line[from] === "*" || line[from] === "&") from++;
  for (let i = from; i < line.length; i++) {
    const c = line[i]!;
    if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) {
      if (depth === 0) break;
      depth--;
      end = i + 1;
      if (depth === 0 && firstCall && c === ")") break;
      continue;
    } else if (depth === 0 && !/[\w$.?!]/.test(c)) break;
    if (c === "?" && line[i + 1] !== ".") break;
    end = i + 1;
  }
  const text = line.slice(start, end).replace(/[.?!]+$/, "");
  return /[\w$]/.test(text) ? text : undefined;
}

/** The program type the kernel loads a compiled probe kind as. */
export function progTypeOfKind(kind: string): number {
  return kind === "tracepoint" ? 5 : kind === "raw_tracepoint" ? 17 : 2;
}

/** A map the compiled programs may refer to by relocation symbol (`.rodata`, or a map's name). */
export interface NamedMap extends Omit<MapDesc, "fd"> {
  name: string;
}

export interface ProgramToVerify {
  name: string;
  kind: string;
  insns: Insn[];
  /** LDDW slots naming `.rodata` (imm = offset in it) or a map. */
  relocations: readonly { insn: number; symbol: string }[];
  lines: readonly ({ line: number; column: number } | undefined)[];
}

const RODATA_FLAGS = 1 << 7; // BPF_F_RDONLY_PROG, as loaders create `.rodata`

/**
 * Runs the model on each program as a loader would hand it to the kernel (map fds filled in) and turns
 * a rejection into a diagnostic at the offending instruction's source position.
 */
export function verifyPrograms(programs: readonly ProgramToVerify[], source: { fileName: string; text: string }, data: { rodataSize: number; maps?: readonly NamedMap[] }): Diagnostic[] {
  const named = new Map<string, MapDesc>();
  if (data.rodataSize > 0) named.set(".rodata", { fd: 1, type: 2, keySize: 4, valueSize: data.rodataSize, maxEntries: 1, flags: RODATA_FLAGS });
  (data.maps ?? []).forEach((m, i) => {
    const { name, ...desc } = m;
    named.set(name, { ...desc, fd: 2 + i });
  });
  const lines = source.text.split("\n");
  const diagnostics: Diagnostic[] = [];
  for (const p of programs) {
    const insns = p.insns.map((x) => ({ ...x }));
    let described = true;
    for (const r of p.relocations) {
      const map = named.get(r.symbol);
      if (!map) {
        described = false; // a map the model is not told about: better unchecked than falsely rejected
        continue;
      }
      const lo = insns[r.insn]!;
      const hi = insns[r.insn + 1]!;
      // Global data (".rodata", ".data", ...) is addressed by value, as libbpf relocates it; maps by fd.
      if (r.symbol.startsWith(".")) {
        hi.imm = lo.imm;
        insns[r.insn] = { ...lo, src: PseudoLd.MAP_VALUE, imm: map.fd };
      } else insns[r.insn] = { ...lo, src: PseudoLd.MAP_FD, imm: map.fd };
    }
    if (!described) continue;
    const progType = progTypeOfKind(p.kind);
    const result = verify(insns, { progType, maps: [...named.values()] });
    if (result.accepted || !result.error) continue;
    diagnostics.push(rejectionDiagnostic(p.name, insns, result.error, progType, p.lines, source.fileName, lines));
  }
  return diagnostics;
}

/** The diagnostic for one rejection, given per-slot positions (the nearest earlier one stands in for a gap). */
export function rejectionDiagnostic(
  program: string,
  insns: readonly Insn[],
  error: VerifyError,
  progType: number,
  positions: readonly ({ line: number; column: number } | undefined)[],
  file: string,
  sourceLines: readonly string[],
): Diagnostic {
  const positionOf = (pc: number): SourcePosition | undefined => {
    for (let i = Math.min(pc, positions.length - 1); i >= 0; i--) {
      const loc = positions[i];
      if (loc) return { file, line: loc.line, column: loc.column, text: (sourceLines[loc.line - 1] ?? "").replace(/\r$/, "") };
    }
    return undefined;
  };
  const why = explainRejection(insns, error, progType, positionOf);
  const at = positionOf(error.pc);
  // Underline the expression itself, which may start after the statement's position.
  if (at && why.expression) {
    const i = at.text!.indexOf(why.expression, at.column - 1);
    if (i >= 0) at.column = i + 1;
  }
  let start = 0;
  for (let l = 1; at && l < at.line; l++) start += (sourceLines[l - 1]?.length ?? 0) + 1;
  if (at) start += at.column - 1;
  return {
    code: `TSBPF${why.code}`,
    severity: "error",
    message: `${program}: ${why.sentence}\n  ${why.note}`,
    file,
    line: at?.line ?? 0,
    column: at?.column ?? 0,
    start,
    length: why.expression?.length ?? 0,
  };
}
