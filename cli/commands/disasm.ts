// `tsbpf disasm FILE`: disassembles every program of a BPF ELF object, or raw instructions
// (a binary file, or hex bytes or an ELF object on standard input when FILE is '-').
import { IsaError, decode, disassemble, type Insn, type Style } from "../../compiler/isa/index.js";
import { ElfError, readBpfObject, type BpfProgram } from "../../compiler/elf/index.js";
import { ExitCode, UserError } from "../exit-codes.js";
import { isElf, parseHexBytes, readInputFile, readStdin, refuseProbeFile } from "../input.js";
import { writeOut } from "../output.js";

export async function handler(argv: Record<string, unknown>): Promise<number> {
  const file = argv.file as string;
  const style = argv.style as Style;
  // Standard input holds hex text, or an object as `tsbpf load -` and `tsbpf verify -` read one.
  const stdin = file === "-" ? await readStdin() : undefined;
  const bytes = stdin === undefined ? readInputFile(file) : isElf(stdin) ? Uint8Array.from(stdin) : parseHexBytes(stdin, "standard input");
  // Nothing to print is not a success: the file or the pipe was likely not the one meant.
  if (bytes.length === 0) throw new UserError(`${file === "-" ? "standard input" : file} is empty: give a BPF object, raw instructions, or their hex bytes on standard input (tsbpf disasm - < prog.hex)`);
  if (!argv.raw) refuseProbeFile(file, bytes, `tsbpf compile ${file} --emit asm prints its programs' disassembly`);
  const object = !argv.raw && isElf(bytes);
  writeOut(object ? disasmObject(bytes, file, style) : disasmRaw(bytes, file, style));
  return ExitCode.OK;
}



function disasmRaw(bytes: Uint8Array, file: string, style: Style): string {
  let insns: Insn[];
  try {
    // Unchecked: a disassembler should show malformed slots (as `.insn`), not refuse them.
    insns = decode(bytes, { check: false });
  } catch (error) {
    if (error instanceof IsaError) throw new UserError(`${file}: ${error.message}`);
    throw error;
  }
  return lines(disassemble(insns, { style, indices: true }));
}

function disasmObject(bytes: Uint8Array, file: string, style: Style): string {
  let object;
  try {
    object = readBpfObject(bytes);
  } catch (error) {
    if (error instanceof ElfError || error instanceof IsaError) throw new UserError(`${file}: ${error.message}`);
    throw error;
  }
  const out: string[] = [];
  for (const program of [...object.programs, ...object.subprograms]) {
    out.push(`${program.section}/${program.name}:`);
    out.push(...annotate(program, disassemble(program.insns, { style, indices: true })));
    out.push("");
  }
  return lines(out);
}

/** Appends each relocation's symbol to the line of the instruction it patches. */
function annotate(program: BpfProgram, text: string[]): string[] {
  const bySlot = new Map(program.relocations.map((r) => [r.insn, r.symbol || r.symbolSection || "?"]));
  return text.map((line) => {
    const slot = Number(/^\s*(\d+):/.exec(line)?.[1]);
    const symbol = bySlot.get(slot);
    return symbol === undefined ? line : `${line}\t; ${symbol}`;
  });
}

const lines = (text: string[]): string => (text.length ? text.join("\n") + "\n" : "");
