// Which bpf_printk lines an object can have written. Every program's bpf_trace_printk output reaches every tracefs
// instance, so a run's private instance also shows other tools' lines; the kernel does not say which program
// wrote a line, but the formats tell most apart. Takes an object as read from its ELF; gives a test for messages
// that one of its formats can produce, or undefined when a format cannot be known statically (built on the stack
// at run time, or passed in a way this does not follow), in which case no line can be ruled out.
import { Helper } from "../../compiler/isa/helpers.js";
import { Op, PseudoCall } from "../../compiler/isa/opcodes.js";
import type { Insn } from "../../compiler/isa/insn.js";
import type { BpfObject, BpfProgram } from "../../compiler/elf/read.js";

import { scanFormat } from "../vm/helpers/printf-format.js";

const PRINTK = new Set<number>([Helper.trace_printk, Helper.trace_vprintk]);
const LDDW = 0x18;
const MOV64_X = 0xbf;

/** A test for messages the object's printk calls can produce, or undefined when not every format is known. */
export function printkMatcher(object: BpfObject): ((message: string) => boolean) | undefined {
  const formats = printkFormats(object);
  return formats && formatsMatcher(formats);
}

/** A test for messages one of `formats` can produce. */
export function formatsMatcher(formats: readonly string[]): (message: string) => boolean {
  const patterns = [...new Set(formats)].map(formatPattern);
  return (message) => patterns.some((p) => p.test(message));
}

/**
 * The format string of every printk call, or undefined when one is not a string the object holds: r1 at the call
 * is traced back (through register copies) to an LDDW of a read-only data address. With `functions` (those the
 * loaded programs were linked with, relocate.ts: calls without relocations and callbacks included), only the calls
 * in them count.
 */
export function printkFormats(object: BpfObject, functions?: Iterable<BpfProgram>): string[] | undefined {
  const formats: string[] = [];
  for (const fn of new Set(functions ?? [...object.programs, ...object.subprograms])) {
    for (let i = 0; i < fn.insns.length; i++) {
      const insn = fn.insns[i]!;
      if (insn.code !== Op.CALL || insn.src !== PseudoCall.HELPER || !PRINTK.has(insn.imm)) continue;
      const format = formatAt(object, fn, i);
      if (format === undefined) return undefined;
      formats.push(format);
    }
  }
  return formats;
}

/** The string r1 points to at slot `call`, found by the latest write to it before the call. */
function formatAt(object: BpfObject, fn: BpfProgram, call: number): string | undefined {
  let reg = 1;
  for (let i = call - 1; i >= 0; i--) {
    const insn: Insn = fn.insns[i]!;
    if (insn.dst !== reg || !writesDst(insn)) continue;
    if (insn.code === MOV64_X) {
      reg = insn.src;
      continue;
    }
    if (insn.code !== LDDW) return undefined;
    const rel = fn.relocations.find((r) => r.insn === i && r.kind === "lddw");
    const section = rel && object.dataSections.find((s) => s.index === rel.symbolSectionIndex);
    if (!rel || !section || section.kind !== "rodata") return undefined;
    return cString(section.data, rel.symbolValue + rel.addend);
  }
  return undefined;
}

/** Whether an instruction writes its dst register (ALU, loads, LDDW), as stores, jumps and calls do not. */
function writesDst(insn: Insn): boolean {
  const cls = insn.code & 0x07;
  // LD (LDDW), LDX, ALU, ALU64
  return cls === 0x00 || cls === 0x01 || cls === 0x04 || cls === 0x07;
}

function cString(data: Uint8Array, offset: number): string | undefined {
  if (offset < 0 || offset >= data.length) return undefined;
  const end = data.indexOf(0, offset);
  return new TextDecoder().decode(data.subarray(offset, end < 0 ? data.length : end));
}

/**
 * A format as a pattern for the message it prints: literal text as itself, each conversion (`%d`, `%-8s`, `%llx`,
 * `%pI4`, ...) as any text, `%%` as `%`. The message is one trace line, so a format's trailing newline is dropped
 * and only its first line is compared when it has several.
 */
export function formatPattern(format: string): RegExp {
  const firstLine = format.replace(/\n$/, "").split("\n")[0]!;
  let source = "";
  const conversion = /%(%|[-+ #0]*\d*(?:\.\d*)?(?:hh|h|ll|l|z)?(?:p[a-zA-Z0-9]*|[diouxXcs]))/g;
  let last = 0;
  for (let m = conversion.exec(firstLine); m; m = conversion.exec(firstLine)) {
    source += escape(firstLine.slice(last, m.index)) + (m[1] === "%" ? "%" : "[\\s\\S]*?");
    last = m.index + m[0].length;
  }
  source += escape(firstLine.slice(last));
  return new RegExp(`^${source}${format.includes("\n") && !/^[^\n]*\n$/.test(format) ? "" : "$"}`);
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** bpf_trace_vprintk takes up to 12 arguments: a format refused with that many is refused with any. */
const MAX_ARGS = 12;

/**
 * The formats the kernel's bpf_bprintf_prepare refuses (-EINVAL at run time: the call prints nothing, and the verifier
 * does not check printk formats), each with the conversion it stops at (`%#x`, `%5.2d`, `%hd`), or undefined when what
 * it stops at is not a conversion (a control character).
 */
export function refusedFormats(formats: readonly string[]): { format: string; conversion: string | undefined }[] {
  const refused = (text: string): boolean => {
    const bytes = new TextEncoder().encode(`${text}\0`);
    return !scanFormat(bytes, bytes.length - 1, MAX_ARGS, () => {});
  };
  const out: { format: string; conversion: string | undefined }[] = [];
  for (const format of new Set(formats)) {
    if (!refused(format)) continue;
    // The first conversion whose text, with what precedes it, is refused.
    let conversion: string | undefined;
    const conversions = /%(?:%|[-+ #0]*\d*(?:\.\d*)?[a-zA-Z]*)/g;
    for (let m = conversions.exec(format); m; m = conversions.exec(format)) {
      if (refused(format.slice(0, m.index + m[0].length))) {
        if (!refused(format.slice(0, m.index))) conversion = m[0];
        break;
      }
    }
    out.push({ format, conversion });
  }
  return out;
}
