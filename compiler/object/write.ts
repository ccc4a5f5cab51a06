// The BPF object writer: compiled programs to a relocatable ELF in libbpf's layout.
// Takes programs (name, section, slots, `.rodata` relocation slots), `.rodata` bytes, the license
// and optional BTF blobs; gives the object's bytes.
//
// Layout (what clang emits for the same C): one executable section per SEC() name, programs
// sharing a name share the section at successive offsets, each a global FUNC symbol; `.rodata`
// referenced by `R_BPF_64_64` against its section symbol with the offset in the LDDW's imm (libbpf
// adds the two); `license` with a global `_license` object. `.BTF`/`.BTF.ext` are added when the
// caller has them (object/btf.ts: func and line info; later CO-RE relocations), with local symbols
// for the `.rodata` variables they describe. Maps go in `.maps` (zeroes: BTF describes them), one
// global OBJECT symbol each; an LDDW of a map is `R_BPF_64_64` against the map's symbol. tsbpf's own counters are
// u64s in a NOBITS `.bss`, addressed as `.rodata` is.

import { ElfWriter, R_BPF, SHF, SHT } from "../elf/index.js";
import { bssSize } from "../ir/index.js";
import { encode, type Insn } from "../isa/insn.js";

export interface ObjectProgram {
  name: string;
  section: string;
  insns: Insn[];
  /** Slot indices of LDDWs whose imm is an offset into `.rodata`. */
  rodataRelocs: number[];
  /** The same for `.bss`. */
  bssRelocs?: number[];
  /** LDDW slots that load a map's address. */
  mapRelocs?: { insn: number; map: string }[];
}

export interface ObjectInput {
  programs: ObjectProgram[];
  rodata: Uint8Array;
  license: string;
  btf?: { btf: Uint8Array; ext?: Uint8Array };
  /** Named objects in `.rodata` (BTF VARs refer to them by name): printk formats local, a u32 knob global. */
  rodataSymbols?: { name: string; offset: number; size: number; kind?: "string" | "int" }[];
  /** u64 variables in `.bss` (zeroes, NOBITS), each a global OBJECT symbol that its BTF VAR names. */
  bss?: readonly { name: string; offset: number }[];
  /** Maps in `.maps`, in order: name and the size of its definition. */
  maps?: { name: string; size: number }[];
}

export interface ProgramPlacement {
  name: string;
  section: string;
  /** Byte offset of the program inside its section. */
  offset: number;
}

/** Where each program goes: programs with the same SEC() name share a section, in order. */
export function placePrograms(programs: readonly { name: string; section: string; insns: readonly unknown[] }[]): ProgramPlacement[] {
  const next = new Map<string, number>();
  return programs.map((p) => {
    const offset = next.get(p.section) ?? 0;
    next.set(p.section, offset + p.insns.length * 8);
    return { name: p.name, section: p.section, offset };
  });
}

export function writeObject(input: ObjectInput): { bytes: Uint8Array; placements: ProgramPlacement[] } {
  const elf = new ElfWriter();
  const placements = placePrograms(input.programs);
  const sections = [...new Set(input.programs.map((p) => p.section))];
  for (const section of sections) {
    const members = input.programs.filter((p) => p.section === section);
    const data = new Uint8Array(members.reduce((n, p) => n + p.insns.length * 8, 0));
    members.forEach((p) => data.set(encode(p.insns), placements[input.programs.indexOf(p)]!.offset));
    elf.addSection(section, { flags: SHF.ALLOC | SHF.EXECINSTR, data, align: 8 });
  }
  const pending = input.programs.map((program, i) => ({ section: program.section, at: placements[i]!.offset, program }));
  const license = new TextEncoder().encode(input.license + "\0");
  elf.addSection("license", { flags: SHF.ALLOC | SHF.WRITE, data: license, align: 1 });
  if (input.rodata.length) elf.addSection(".rodata", { flags: SHF.ALLOC, data: input.rodata, align: 8 });
  const bss = bssSize(input.bss);
  if (bss) elf.addSection(".bss", { type: SHT.NOBITS, flags: SHF.ALLOC | SHF.WRITE, size: bss, align: 8 });
  const mapSymbols = new Map<string, number>();
  if (input.maps?.length) {
    const total = input.maps.reduce((n, m) => n + m.size, 0);
    elf.addSection(".maps", { flags: SHF.ALLOC | SHF.WRITE, data: new Uint8Array(total), align: 8 });
    let at = 0;
    for (const m of input.maps) {
      mapSymbols.set(m.name, elf.addSymbol({ name: m.name, section: ".maps", value: at, size: m.size, type: "OBJECT", bind: "GLOBAL" }));
      at += m.size;
    }
  }
  if (input.btf) {
    elf.addSection(".BTF", { data: input.btf.btf, align: 4 });
    if (input.btf.ext) elf.addSection(".BTF.ext", { data: input.btf.ext, align: 4 });
  }

  for (const { section, at, program } of pending) {
    elf.addSymbol({ name: program.name, section, value: at, size: program.insns.length * 8, type: "FUNC", bind: "GLOBAL" });
    for (const slot of program.rodataRelocs) {
      elf.addRelocation(section, { offset: at + slot * 8, symbol: elf.sectionSymbol(".rodata"), type: R_BPF.R_64_64 });
    }
    for (const slot of program.bssRelocs ?? []) {
      elf.addRelocation(section, { offset: at + slot * 8, symbol: elf.sectionSymbol(".bss"), type: R_BPF.R_64_64 });
    }
    for (const r of program.mapRelocs ?? []) {
      elf.addRelocation(section, { offset: at + r.insn * 8, symbol: mapSymbols.get(r.map)!, type: R_BPF.R_64_64 });
    }
  }
  for (const v of input.rodataSymbols ?? []) elf.addSymbol({ name: v.name, section: ".rodata", value: v.offset, size: v.size, type: "OBJECT", bind: v.kind === "int" ? "GLOBAL" : "LOCAL" });
  for (const v of input.bss ?? []) elf.addSymbol({ name: v.name, section: ".bss", value: v.offset, size: 8, type: "OBJECT", bind: "GLOBAL" });
  elf.addSymbol({ name: "_license", section: "license", value: 0, size: license.length, type: "OBJECT", bind: "GLOBAL" });
  return { bytes: elf.toBytes(), placements };
}
