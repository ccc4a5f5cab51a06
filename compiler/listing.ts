// A compiled program's disassembly as `tsbpf compile --emit asm` prints it and the compiler fixtures pin it.
// Takes a CompiledProgram; gives one line per instruction slot, a relocated slot noted with what it
// refers to: `.rodata`, `map NAME` or `CO-RE struct.member`.

import type { CompiledProgram } from "./index.js";
import { coreAccessText } from "./ir/index.js";
import { disassemble } from "./isa/disasm.js";

/** What each relocated slot refers to, by slot index. */
function relocationNotes(p: CompiledProgram): Map<number, string> {
  const notes = new Map<number, string>(p.relocations.map((r) => [r.insn, r.symbol.startsWith(".") ? r.symbol : `map ${r.symbol}`]));
  for (const c of p.coreRelocations) notes.set(c.insn, `CO-RE ${coreAccessText(c)}`);
  return notes;
}

/** The program's instructions, indexed, each relocated one followed by `\t; NOTE`. */
export function programListing(p: CompiledProgram): string[] {
  const notes = relocationNotes(p);
  return disassemble(p.insns, { indices: true }).map((line) => {
    const note = notes.get(Number(/^\s*(\d+):/.exec(line)?.[1]));
    return note ? `${line}\t; ${note}` : line;
  });
}
