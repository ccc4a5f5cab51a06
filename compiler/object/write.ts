// The BPF object writer: compiled programs to a relocatable ELF in libbpf's layout.
// Takes programs (name, section, slots, `.rodata` relocation slots), `.rodata` bytes, the license
// and optional BTF blobs; gives the object's bytes.
//
// Layout (what clang emits for the same C): one executable section per SEC() name, programs
// sharing a name share the section at successive offsets, each a global FUNC symbol; `.rodata`
// referenced by `R_BPF_64_64` against its section symbol with the offset in the LDDW's imm (libbpf
// adds the two); `license` with a global `_license` object. `.BTF`/`.BTF.ext` are added when the
// caller has them (func and line info, CO-RE relocations).

import { ElfWriter, R_BPF, SHF } from "../elf/index.js";
import { encode, type Insn } from "../isa/index.js";

export interface ObjectProgram {
  name: string;
  section: string;
  insns: Insn[];
  /** Slot indices of LDDWs whose imm is an offset into `.rodata`. */
  rodataRelocs: number[];
}

export interface ObjectInput {
  programs: ObjectProgram[];
  rodata: Uint8Array;
  license: string;
  btf?: { btf: Uint8Array; ext?: Uint8Array };
}

export interface ProgramPlacement {
  name: string;
  section: string;
  /** Byte offset of the program inside its section. */
  offset: number;
}

export function writeObject(input: ObjectInput): { bytes: Uint8Array; placements: ProgramPlacement[] } {
  const elf = new ElfWriter();
  const bySection = new Map<string, ObjectProgram[]>();
  for (const p of input.programs) bySection.set(p.section, [...(bySection.get(p.section) ?? []), p]);

  const placements: ProgramPlacement[] = [];
  const pending: { section: string; at: number; program: ObjectProgram }[] = [];
  for (const [section, programs] of bySection) {
    const parts = programs.map((p) => encode(p.insns));
    const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    parts.forEach((part, i) => {
      data.set(part, at);
      pending.push({ section, at, program: programs[i]! });
      placements.push({ name: programs[i]!.name, section, offset: at });
      at += part.length;
    });
    elf.addSection(section, { flags: SHF.ALLOC | SHF.EXECINSTR, data, align: 8 });
  }
  const license = new TextEncoder().encode(input.license + "\0");
  elf.addSection("license", { flags: SHF.ALLOC | SHF.WRITE, data: license, align: 1 });
  if (input.rodata.length) elf.addSection(".rodata", { flags: SHF.ALLOC, data: input.rodata, align: 8 });
  if (input.btf) {
    elf.addSection(".BTF", { data: input.btf.btf, align: 4 });
    if (input.btf.ext) elf.addSection(".BTF.ext", { data: input.btf.ext, align: 4 });
  }

  for (const { section, at, program } of pending) {
    elf.addSymbol({ name: program.name, section, value: at, size: program.insns.length * 8, type: "FUNC", bind: "GLOBAL" });
    for (const slot of program.rodataRelocs) {
      elf.addRelocation(section, { offset: at + slot * 8, symbol: elf.sectionSymbol(".rodata"), type: R_BPF.R_64_64 });
    }
  }
  elf.addSymbol({ name: "_license", section: "license", value: 0, size: license.length, type: "OBJECT", bind: "GLOBAL" });
  return { bytes: elf.toBytes(), placements };
}
