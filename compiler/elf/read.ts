// ELF64 reader for relocatable BPF objects, in two layers.
// Takes the bytes of an object file; `readElf` gives header, sections, symbols and relocation
// tables, `readBpfObject` gives libbpf's view: programs, sub-programs, global data, maps, license,
// version and the raw BTF. Malformed input throws `ElfError`: every offset is bounds-checked and
// every loop is bounded by counts already checked against the file size.

import { decode, type Insn, checkInsn, jumpTarget, isWide } from "../isa/insn.js";
import { Op, PseudoCall } from "../isa/opcodes.js";
import {
  EHDR_SIZE,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFDATA2MSB,
  EM_BPF,
  EM_NONE,
  ET_REL,
  ElfError,
  R_BPF,
  REL_SIZE,
  RELA_SIZE,
  SHDR_SIZE,
  SHF,
  SHN,
  SHT,
  STB,
  STT,
  SYM_SIZE,
  swapInsnBytes,
} from "./types.js";

// ---------------------------------------------------------------- generic ELF

export interface ElfHeader {
  littleEndian: boolean;
  osabi: number;
  type: number;
  machine: number;
  version: number;
  flags: number;
  /** Section header table offset and count after extended numbering is resolved. */
  shoff: number;
  shnum: number;
  shstrndx: number;
}

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
  /** The section's bytes; empty for NOBITS and NULL sections. */
  data: Uint8Array;
}

export interface ElfSymbol {
  index: number;
  name: string;
  value: number;
  size: number;
  type: number;
  bind: number;
  visibility: number;
  /** Section index with SHN_XINDEX resolved; reserved values (UNDEF, ABS, COMMON) stay as they are. */
  shndx: number;
  /** The defining section; undefined for undefined, absolute and common symbols. */
  section: ElfSection | undefined;
}

export interface ElfRelocation {
  offset: number;
  type: number;
  symbolIndex: number;
  symbol: ElfSymbol;
  /** The explicit addend of RELA entries; undefined for REL (the addend sits in the target bytes). */
  addend: number | undefined;
}

export interface ElfRelocationTable {
  /** The `.rel*` / `.rela*` section itself. */
  section: ElfSection;
  /** The section the entries patch (sh_info). */
  target: ElfSection;
  rela: boolean;
  relocations: ElfRelocation[];
}

export interface ElfFile {
  bytes: Uint8Array;
  header: ElfHeader;
  sections: ElfSection[];
  /** Symbols of the SHT_SYMTAB section, index 0 included; empty when there is none. */
  symbols: ElfSymbol[];
  symtab: ElfSection | undefined;
  relocationTables: ElfRelocationTable[];
}

export interface ReadElfOptions {
  /** Accepted e_machine values; undefined accepts any. Default: any. */
  machine?: number | readonly number[];
  /**
   * Only the header and sections, without symbols or relocation tables: for executables and shared libraries,
   * whose relocation tables refer to .dynsym rather than .symtab.
   */
  sectionsOnly?: boolean;
}

/** Longest symbol or section name accepted; bounds the work a string table without NULs can cause. */
const MAX_NAME = 4096;

/** Bounds-checked little/big-endian field access that fails with ElfError. */
class Cursor {
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly le: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  check(at: number, len: number, what: string): void {
    if (!Number.isSafeInteger(at) || at < 0 || len < 0 || at + len > this.bytes.length) {
      throw new ElfError(`${what}: bytes ${at}..${at + len} lie outside the file (${this.bytes.length} bytes: is it truncated?)`);
    }
  }
  u8(at: number): number {
    this.check(at, 1, "field");
    return this.bytes[at]!;
  }
  u16(at: number): number {
    this.check(at, 2, "field");
    return this.view.getUint16(at, this.le);
  }
  u32(at: number): number {
    this.check(at, 4, "field");
    return this.view.getUint32(at, this.le);
  }
  /** An unsigned 64-bit field that must fit a JavaScript number (true of every sane offset or size). */
  u64(at: number, what: string): number {
    this.check(at, 8, "field");
    const v = this.view.getBigUint64(at, this.le);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(`${what}: value 0x${v.toString(16)} is too large`);
    return Number(v);
  }
  i64(at: number, what: string): number {
    this.check(at, 8, "field");
    const v = this.view.getBigInt64(at, this.le);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new ElfError(`${what}: value ${v} is too large`);
    return Number(v);
  }
}

const utf8 = new TextDecoder("utf-8");

/** NUL-terminated strings of one string table, cached by offset. */
class StringTable {
  private readonly cache = new Map<number, string>();
  constructor(readonly section: ElfSection) {}
  get(offset: number, what: string): string {
    const hit = this.cache.get(offset);
    if (hit !== undefined) return hit;
    const data = this.section.data;
    if (offset >= data.length) {
      throw new ElfError(`${what}: name offset ${offset} is outside string table ${this.section.name || `#${this.section.index}`} (${data.length} bytes)`);
    }
    const window = data.subarray(offset, Math.min(data.length, offset + MAX_NAME + 1));
    const end = window.indexOf(0);
    if (end < 0) {
      throw new ElfError(
        window.length > MAX_NAME
          ? `${what}: name at offset ${offset} is longer than ${MAX_NAME} bytes`
          : `${what}: name at offset ${offset} is not NUL-terminated`,
      );
    }
    const s = utf8.decode(window.subarray(0, end));
    this.cache.set(offset, s);
    return s;
  }
}

const sectionLabel = (s: ElfSection): string => (s.name ? `section ${s.name}` : `section #${s.index}`);

/** Parses an ELF64 file's header, section headers, names, symbol table and relocation tables. */
export function readElf(bytes: Uint8Array, options: ReadElfOptions = {}): ElfFile {
  if (!(bytes instanceof Uint8Array)) throw new ElfError("input is not a Uint8Array");
  if (bytes.length < 16) throw new ElfError(`file is ${bytes.length} bytes, too short for an ELF identification`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) throw new ElfError("not an ELF file: bad magic");
  if (bytes[4] !== ELFCLASS64) throw new ElfError(`not an ELF64 file: class ${bytes[4]} (only ELFCLASS64 = 2 is supported)`);
  if (bytes[5] !== ELFDATA2LSB && bytes[5] !== ELFDATA2MSB) throw new ElfError(`unknown data encoding ${bytes[5]}`);
  if (bytes[6] !== 1) throw new ElfError(`unknown ELF identification version ${bytes[6]}`);
  if (bytes.length < EHDR_SIZE) throw new ElfError(`file is ${bytes.length} bytes, too short for an ELF64 header (64 bytes)`);
  const le = bytes[5] === ELFDATA2LSB;
  const c = new Cursor(bytes, le);

  const machine = c.u16(18);
  const accepted = options.machine === undefined ? undefined : typeof options.machine === "number" ? [options.machine] : options.machine;
  // Checked before the sections: a host binary's dynamic sections would otherwise fail first, less clearly.
  if (accepted && !accepted.includes(machine)) {
    const bpf = accepted.includes(EM_BPF);
    throw new ElfError(`${bpf ? "not a BPF object: " : ""}wrong machine ${machine}: expected ${bpf ? `${EM_BPF} (EM_BPF)` : accepted.join(" or ")}`);
  }
  const ehsize = c.u16(52);
  if (ehsize < EHDR_SIZE) throw new ElfError(`header size ${ehsize} is smaller than 64`);
  const shoff = c.u64(40, "e_shoff");
  const shentsize = c.u16(58);
  let shnum = c.u16(60);
  let shstrndx = c.u16(62);
  if (shoff !== 0) {
    if (shentsize !== SHDR_SIZE) throw new ElfError(`section header entry size ${shentsize}, expected 64`);
    c.check(shoff, SHDR_SIZE, "section header 0");
    // Extended numbering: the real counts live in section 0.
    if (shnum === 0) shnum = c.u64(shoff + 32, "section count");
    if (shstrndx === SHN.XINDEX) shstrndx = c.u32(shoff + 40);
  } else {
    shnum = 0;
    shstrndx = 0;
  }
  c.check(shoff, shnum * SHDR_SIZE, `section header table (${shnum} entries)`);
  const header: ElfHeader = { littleEndian: le, osabi: bytes[7]!, type: c.u16(16), machine, version: c.u32(20), flags: c.u32(48), shoff, shnum, shstrndx };

  const sections: ElfSection[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * SHDR_SIZE;
    const what = `section header ${i}`;
    const s: ElfSection = {
      index: i,
      name: "",
      type: c.u32(at + 4),
      flags: c.u64(at + 8, `${what} sh_flags`),
      addr: c.u64(at + 16, `${what} sh_addr`),
      offset: c.u64(at + 24, `${what} sh_offset`),
      size: c.u64(at + 32, `${what} sh_size`),
      link: c.u32(at + 40),
      info: c.u32(at + 44),
      addralign: c.u64(at + 48, `${what} sh_addralign`),
      entsize: c.u64(at + 56, `${what} sh_entsize`),
      data: bytes.subarray(0, 0),
    };
    if (i > 0 && s.type !== SHT.NOBITS && s.type !== SHT.NULL) {
      c.check(s.offset, s.size, `${what} contents`);
      s.data = bytes.subarray(s.offset, s.offset + s.size);
    }
    sections.push(s);
  }

  if (shstrndx !== SHN.UNDEF) {
    const names = sections[shstrndx];
    if (!names) throw new ElfError(`section name table index ${shstrndx} is out of range (${shnum} sections)`);
    if (names.type !== SHT.STRTAB) throw new ElfError(`section name table #${shstrndx} has type ${names.type}, not STRTAB`);
    const table = new StringTable(names);
    for (const s of sections) if (s.index > 0) s.name = table.get(readNameOffset(c, shoff, s.index), `section header ${s.index}`);
  }
  if (options.sectionsOnly) return { bytes, header, sections, symbols: [], symtab: undefined, relocationTables: [] };

  const symtabs = sections.filter((s) => s.type === SHT.SYMTAB);
  if (symtabs.length > 1) throw new ElfError(`${symtabs.length} symbol tables, expected at most one`);
  const symtab = symtabs[0];
  const symbols = symtab ? readSymbols(c, sections, symtab) : [];

  const relocationTables: ElfRelocationTable[] = [];
  for (const s of sections) {
    if (s.type === SHT.REL || s.type === SHT.RELA) relocationTables.push(readRelocations(c, sections, symtab, symbols, s));
  }
  return { bytes, header, sections, symbols, symtab, relocationTables };
}

const readNameOffset = (c: Cursor, shoff: number, index: number): number => c.u32(shoff + index * SHDR_SIZE);

function checkTable(s: ElfSection, entry: number, what: string): number {
  if (s.entsize !== entry && s.entsize !== 0) throw new ElfError(`${what} ${sectionLabel(s)}: entry size ${s.entsize}, expected ${entry}`);
  if (s.size % entry !== 0) throw new ElfError(`${what} ${sectionLabel(s)}: size ${s.size} is not a multiple of ${entry}`);
  return s.size / entry;
}

function readSymbols(c: Cursor, sections: ElfSection[], symtab: ElfSection): ElfSymbol[] {
  const count = checkTable(symtab, SYM_SIZE, "symbol table");
  const strtab = sections[symtab.link];
  if (!strtab || symtab.link === 0) throw new ElfError(`symbol table: string table index ${symtab.link} is out of range`);
  if (strtab.type !== SHT.STRTAB) throw new ElfError(`symbol table: linked ${sectionLabel(strtab)} is not a STRTAB`);
  const names = new StringTable(strtab);
  // Section indices too large for st_shndx live in a parallel SYMTAB_SHNDX table.
  const xindex = sections.find((s) => s.type === SHT.SYMTAB_SHNDX && s.link === symtab.index);
  if (xindex && xindex.size < count * 4) throw new ElfError(`${sectionLabel(xindex)}: ${xindex.size} bytes for ${count} symbols`);

  const symbols: ElfSymbol[] = [];
  for (let i = 0; i < count; i++) {
    const at = symtab.offset + i * SYM_SIZE;
    const what = `symbol ${i}`;
    const info = c.u8(at + 4);
    const raw = c.u16(at + 6);
    let shndx = raw;
    let section: ElfSection | undefined;
    if (raw === SHN.XINDEX) {
      if (!xindex) throw new ElfError(`${what}: uses SHN_XINDEX but there is no SYMTAB_SHNDX section`);
      shndx = c.u32(xindex.offset + i * 4);
      section = sections[shndx];
      if (!section || shndx === 0) throw new ElfError(`${what}: extended section index ${shndx} is out of range (${sections.length} sections)`);
    } else if (raw !== SHN.UNDEF && raw < SHN.LORESERVE) {
      section = sections[raw];
      if (!section) throw new ElfError(`${what}: section index ${raw} is out of range (${sections.length} sections)`);
    }
    symbols.push({
      index: i,
      name: names.get(c.u32(at), what),
      value: c.u64(at + 8, `${what} st_value`),
      size: c.u64(at + 16, `${what} st_size`),
      type: info & 0xf,
      bind: info >> 4,
      visibility: c.u8(at + 5) & 3,
      shndx,
      section,
    });
  }
  return symbols;
}

function readRelocations(c: Cursor, sections: ElfSection[], symtab: ElfSection | undefined, symbols: ElfSymbol[], s: ElfSection): ElfRelocationTable {
  const rela = s.type === SHT.RELA;
  const entry = rela ? RELA_SIZE : REL_SIZE;
  const count = checkTable(s, entry, "relocation table");
  const label = sectionLabel(s);
  if (count > 0 && (!symtab || s.link !== symtab.index)) throw new ElfError(`${label}: linked section ${s.link} is not the symbol table`);
  const target = sections[s.info];
  if (!target || s.info === 0) throw new ElfError(`${label}: target section index ${s.info} is out of range`);
  const relocations: ElfRelocation[] = [];
  for (let i = 0; i < count; i++) {
    const at = s.offset + i * entry;
    const what = `${label} entry ${i}`;
    const offset = c.u64(at, `${what} r_offset`);
    const symbolIndex = c.u32(at + (c.le ? 12 : 8));
    const type = c.u32(at + (c.le ? 8 : 12));
    const symbol = symbols[symbolIndex];
    if (!symbol) throw new ElfError(`${what}: symbol index ${symbolIndex} is out of range (${symbols.length} symbols)`);
    if (offset >= target.size) throw new ElfError(`${what}: offset ${offset} is outside ${sectionLabel(target)} (${target.size} bytes)`);
    relocations.push({ offset, type, symbolIndex, symbol, addend: rela ? c.i64(at + 16, `${what} r_addend`) : undefined });
  }
  return { section: s, target, rela, relocations };
}

// ---------------------------------------------------------------- the BPF object view

export interface BpfRelocation {
  /** Slot index inside the program. */
  insn: number;
  /** Byte offset inside the program's section. */
  sectionOffset: number;
  type: number;
  /** "lddw": a map, global data, function or extern address; "call": a BPF-to-BPF call or extern kfunc. */
  kind: "lddw" | "call";
  /** The symbol's name, or its section's name for a section symbol. */
  symbol: string;
  symbolIndex: number;
  symbolType: number;
  symbolBind: number;
  symbolValue: number;
  /** Name and index of the section defining the symbol; undefined/0 for externs. */
  symbolSection: string | undefined;
  symbolSectionIndex: number;
  /** RELA addend, else the implicit one: the imm of the (first) slot. */
  addend: number;
  /** For a call into an executable section: where it lands. */
  callee?: { section: string; sectionIndex: number; offset: number; name: string | undefined };
}

export interface BpfProgram {
  /** Function symbol name (the section name when the section has no function symbols). */
  name: string;
  section: string;
  sectionIndex: number;
  /** Start inside the section, in slots. */
  offset: number;
  insns: Insn[];
  relocations: BpfRelocation[];
  /** Global or weak binding (libbpf only loads global entry points). */
  global: boolean;
  symbol: ElfSymbol | undefined;
}

export interface BpfDataSymbol {
  name: string;
  offset: number;
  size: number;
  bind: number;
  type: number;
}

export interface BpfDataRelocation {
  offset: number;
  type: number;
  symbol: string;
  symbolSection: string | undefined;
  symbolSectionIndex: number;
  symbolValue: number;
  /** RELA addend, else the implicit one stored at the offset (8 bytes for ABS64, 4 for ABS32). */
  addend: number;
}

export interface BpfDataSection {
  name: string;
  index: number;
  kind: "rodata" | "data" | "bss";
  size: number;
  /** Contents; zero-filled for .bss. */
  data: Uint8Array;
  align: number;
  flags: number;
  symbols: BpfDataSymbol[];
  relocations: BpfDataRelocation[];
}

export interface BpfMapSection {
  name: string;
  index: number;
  /** "btf": `.maps` with BTF-described definitions; "legacy": `maps` with struct bpf_map_def records. */
  kind: "btf" | "legacy";
  data: Uint8Array;
  maps: BpfDataSymbol[];
  relocations: BpfDataRelocation[];
}

export interface BpfObject {
  elf: ElfFile;
  littleEndian: boolean;
  license: string | undefined;
  version: number | undefined;
  /** Entry points: global functions of executable sections other than `.text`. */
  programs: BpfProgram[];
  /** Functions that are only called: everything in `.text`, and static functions elsewhere. */
  subprograms: BpfProgram[];
  dataSections: BpfDataSection[];
  mapSections: BpfMapSection[];
  btf: Uint8Array | undefined;
  btfExt: Uint8Array | undefined;
  /** Undefined global symbols: `extern` kconfig values, ksyms and kfuncs. */
  externs: ElfSymbol[];
}

export interface ReadBpfOptions {
  /**
   * Check each slot's encoding and that jumps stay inside their function. Off by default: the
   * kernel's verifier is the authority and objects may use opcodes newer than our ISA tables.
   */
  check?: boolean;
}

/** Largest .bss materialised as zeroes; bounds the memory a forged sh_size can request. */
const MAX_BSS = 1 << 28;

const isDataName = (name: string, base: string): boolean => name === base || name.startsWith(`${base}.`);

/** Parses a relocatable BPF object the way libbpf lays it out. */
export function readBpfObject(bytes: Uint8Array, options: ReadBpfOptions = {}): BpfObject {
  // libbpf accepts EM_NONE as well as EM_BPF.
  const elf = readElf(bytes, { machine: [EM_BPF, EM_NONE] });
  const { header, sections, symbols } = elf;
  if (header.type !== ET_REL) throw new ElfError(`not a relocatable object: e_type ${header.type}`);
  const le = header.littleEndian;
  const c = new Cursor(bytes, le);

  const relocsByTarget = new Map<number, ElfRelocation[]>();
  for (const t of elf.relocationTables) {
    const list = relocsByTarget.get(t.target.index) ?? [];
    list.push(...t.relocations);
    relocsByTarget.set(t.target.index, list);
  }
  const symbolsBySection = new Map<number, ElfSymbol[]>();
  for (const sym of symbols) {
    if (!sym.section) continue;
    const list = symbolsBySection.get(sym.section.index) ?? [];
    list.push(sym);
    symbolsBySection.set(sym.section.index, list);
  }
  const symbolName = (sym: ElfSymbol): string => (sym.type === STT.SECTION && !sym.name && sym.section ? sym.section.name : sym.name);

  let license: string | undefined;
  let version: number | undefined;
  let btf: Uint8Array | undefined;
  let btfExt: Uint8Array | undefined;
  const programs: BpfProgram[] = [];
  const subprograms: BpfProgram[] = [];
  const dataSections: BpfDataSection[] = [];
  const mapSections: BpfMapSection[] = [];

  // Function symbols per executable section, to resolve call targets to names.
  const funcsBySection = new Map<number, ElfSymbol[]>();
  for (const s of sections) {
    if (!isExec(s)) continue;
    funcsBySection.set(s.index, (symbolsBySection.get(s.index) ?? []).filter((sym) => sym.type === STT.FUNC));
  }

  for (const s of sections) {
    if (s.index === 0) continue;
    const name = s.name;
    if (name === "license") {
      const end = s.data.indexOf(0);
      license = utf8.decode(end < 0 ? s.data : s.data.subarray(0, end));
    } else if (name === "version") {
      if (s.size !== 4) throw new ElfError(`section version: size ${s.size}, expected 4`);
      version = c.u32(s.offset);
    } else if (name === ".BTF") {
      btf = s.data;
    } else if (name === ".BTF.ext") {
      btfExt = s.data;
    } else if (isExec(s)) {
      const funcs = readFunctions(s, funcsBySection.get(s.index)!, relocsByTarget.get(s.index) ?? [], le, options, symbolName, funcsBySection, sections);
      for (const f of funcs) (f.global && name !== ".text" ? programs : subprograms).push(f);
    } else if (name === ".maps" || name === "maps") {
      mapSections.push({
        name,
        index: s.index,
        kind: name === ".maps" ? "btf" : "legacy",
        data: s.data,
        maps: dataSymbols(s, symbolsBySection.get(s.index) ?? []),
        relocations: dataRelocations(c, s, relocsByTarget.get(s.index) ?? [], symbolName),
      });
    } else if (s.type === SHT.PROGBITS && s.size > 0 && (isDataName(name, ".data") || isDataName(name, ".rodata"))) {
      dataSections.push({
        name,
        index: s.index,
        kind: isDataName(name, ".data") ? "data" : "rodata",
        size: s.size,
        data: s.data,
        align: s.addralign,
        flags: s.flags,
        symbols: dataSymbols(s, symbolsBySection.get(s.index) ?? []),
        relocations: dataRelocations(c, s, relocsByTarget.get(s.index) ?? [], symbolName),
      });
    } else if (s.type === SHT.NOBITS && isDataName(name, ".bss")) {
      if (s.size > MAX_BSS) throw new ElfError(`section ${name}: size ${s.size} exceeds ${MAX_BSS} bytes`);
      dataSections.push({
        name,
        index: s.index,
        kind: "bss",
        size: s.size,
        data: new Uint8Array(s.size),
        align: s.addralign,
        flags: s.flags,
        symbols: dataSymbols(s, symbolsBySection.get(s.index) ?? []),
        relocations: [],
      });
    }
  }

  const externs = symbols.filter((sym) => sym.index > 0 && sym.shndx === SHN.UNDEF && sym.bind !== STB.LOCAL && sym.name !== "");
  return { elf, littleEndian: le, license, version, programs, subprograms, dataSections, mapSections, btf, btfExt, externs };
}

const isExec = (s: ElfSection): boolean => s.type === SHT.PROGBITS && (s.flags & SHF.EXECINSTR) !== 0 && s.size > 0;

function dataSymbols(s: ElfSection, syms: ElfSymbol[]): BpfDataSymbol[] {
  return syms
    .filter((sym) => sym.type !== STT.SECTION && sym.type !== STT.FILE && sym.name !== "")
    .map((sym) => ({ name: sym.name, offset: sym.value, size: sym.size, bind: sym.bind, type: sym.type }))
    .sort((a, b) => a.offset - b.offset);
}

function dataRelocations(c: Cursor, s: ElfSection, relocs: ElfRelocation[], symbolName: (sym: ElfSymbol) => string): BpfDataRelocation[] {
  return relocs.map((r) => {
    let addend = r.addend;
    if (addend === undefined) {
      const width = r.type === R_BPF.R_64_ABS64 ? 8 : r.type === R_BPF.R_64_ABS32 || r.type === R_BPF.R_64_NODYLD32 ? 4 : 0;
      if (r.offset + width > s.size) throw new ElfError(`section ${s.name}: relocation at ${r.offset} overruns the section (${s.size} bytes)`);
      addend = width === 8 ? c.i64(s.offset + r.offset, `section ${s.name} addend`) : width === 4 ? c.u32(s.offset + r.offset) | 0 : 0;
    }
    return {
      offset: r.offset,
      type: r.type,
      symbol: symbolName(r.symbol),
      symbolSection: r.symbol.section?.name,
      symbolSectionIndex: r.symbol.shndx,
      symbolValue: r.symbol.value,
      addend,
    };
  });
}

function readFunctions(
  s: ElfSection,
  funcSyms: ElfSymbol[],
  relocs: ElfRelocation[],
  le: boolean,
  options: ReadBpfOptions,
  symbolName: (sym: ElfSymbol) => string,
  funcsBySection: Map<number, ElfSymbol[]>,
  sections: ElfSection[],
): BpfProgram[] {
  if (s.size % 8 !== 0) throw new ElfError(`section ${s.name}: size ${s.size} is not a multiple of 8`);
  const raw = le ? s.data : swapInsnBytes(s.data);
  const all = decode(raw, { check: false });

  // Functions sorted by start; a zero size (hand-written code) extends to the next start.
  const sorted = [...funcSyms].sort((a, b) => a.value - b.value || a.index - b.index);
  type Range = { sym: ElfSymbol | undefined; name: string; start: number; end: number; global: boolean };
  // nextStart[i]: the first start after sorted[i]'s, for zero-sized symbols.
  const nextStart: number[] = new Array<number>(sorted.length);
  for (let i = sorted.length - 1, next = s.size; i >= 0; i--) {
    nextStart[i] = next;
    if (i > 0 && sorted[i - 1]!.value < sorted[i]!.value) next = sorted[i]!.value;
  }
  const ranges: Range[] = sorted.map((sym, i) => {
    const what = `section ${s.name}: function ${sym.name || `#${sym.index}`}`;
    if (sym.value % 8 !== 0) throw new ElfError(`${what}: offset ${sym.value} is not a multiple of 8`);
    let size = sym.size;
    if (size === 0) size = nextStart[i]! - sym.value;
    if (size % 8 !== 0) throw new ElfError(`${what}: size ${size} is not a multiple of 8`);
    if (size === 0 || sym.value + size > s.size) throw new ElfError(`${what}: bytes ${sym.value}..${sym.value + size} cross the section end (${s.size})`);
    return { sym, name: sym.name, start: sym.value / 8, end: (sym.value + size) / 8, global: sym.bind !== STB.LOCAL };
  });
  // Objects without function symbols: the whole section is one program.
  if (ranges.length === 0) ranges.push({ sym: undefined, name: s.name, start: 0, end: all.length, global: true });

  const progs: BpfProgram[] = ranges.map((r) => ({
    name: r.name,
    section: s.name,
    sectionIndex: s.index,
    offset: r.start,
    insns: all.slice(r.start, r.end),
    relocations: [],
    global: r.global,
    symbol: r.sym,
  }));
  if (options.check) progs.forEach(checkFunction);

  // maxEnd[i] = furthest end among ranges 0..i, so the backward scan stops early.
  const maxEnd: number[] = [];
  ranges.forEach((r, i) => maxEnd.push(Math.max(r.end, i > 0 ? maxEnd[i - 1]! : 0)));
  for (const rel of relocs) {
    const what = `section ${s.name}: relocation at offset ${rel.offset}`;
    if (rel.offset % 8 !== 0) throw new ElfError(`${what}: not at an instruction boundary`);
    const slot = rel.offset / 8;
    const insn = all[slot]!;
    let kind: "lddw" | "call";
    if (insn.code === Op.LDDW) {
      if (slot + 1 >= all.length) throw new ElfError(`${what}: LDDW is missing its second half`);
      kind = "lddw";
    } else if (insn.code === Op.CALL) kind = "call";
    else throw new ElfError(`${what}: instruction 0x${insn.code.toString(16)} is neither LDDW nor CALL`);

    const sym = rel.symbol;
    const addend = rel.addend ?? insn.imm;
    let callee: BpfRelocation["callee"];
    if (kind === "call" && sym.section && funcsBySection.has(sym.section.index) && insn.src === PseudoCall.LOCAL) {
      const byte = sym.value + (addend + 1) * 8;
      const target = sections[sym.section.index]!;
      if (byte % 8 !== 0 || byte < 0 || byte >= target.size) throw new ElfError(`${what}: call target ${byte} is outside section ${target.name}`);
      const fn = funcsBySection.get(target.index)!.find((f) => f.value === byte);
      callee = { section: target.name, sectionIndex: target.index, offset: byte / 8, name: fn?.name };
    }

    // Binary search for the last range starting at or before the slot, then walk back over overlaps.
    let lo = 0;
    let hi = ranges.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ranges[mid]!.start <= slot) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    let owners = 0;
    for (let i = found; i >= 0 && maxEnd[i]! > slot; i--) {
      const r = ranges[i]!;
      if (slot >= r.end) continue;
      if (kind === "lddw" && slot + 1 >= r.end) throw new ElfError(`${what}: LDDW straddles the end of function ${r.name}`);
      owners++;
      progs[i]!.relocations.push({
        insn: slot - r.start,
        sectionOffset: rel.offset,
        type: rel.type,
        kind,
        symbol: symbolName(sym),
        symbolIndex: sym.index,
        symbolType: sym.type,
        symbolBind: sym.bind,
        symbolValue: sym.value,
        symbolSection: sym.section?.name,
        symbolSectionIndex: sym.shndx,
        addend,
        ...(callee ? { callee } : {}),
      });
    }
    if (owners === 0) throw new ElfError(`${what}: no function contains it`);
  }
  for (const p of progs) p.relocations.sort((a, b) => a.insn - b.insn);
  return progs;
}

/** Slot encodings and in-function jump targets; calls leave the function and are not checked here. */
function checkFunction(p: BpfProgram): void {
  const fail = (i: number, reason: string): never => {
    throw new ElfError(`program ${p.name} in section ${p.section}: instruction ${i}: ${reason}`);
  };
  const insns = p.insns;
  const starts = new Uint8Array(insns.length);
  for (let i = 0; i < insns.length; i++) {
    const reason = checkInsn(insns, i);
    if (reason) fail(i, reason);
    starts[i] = 1;
    if (isWide(insns[i]!)) i++;
  }
  for (let i = 0; i < insns.length; i++) {
    if (!starts[i] || insns[i]!.code === Op.CALL) continue;
    const target = jumpTarget(insns, i);
    if (target === undefined) continue;
    if (target < 0 || target >= insns.length) fail(i, `jump out of range: target ${target}, function has ${insns.length} instructions`);
    if (!starts[target]) fail(i, `jump into the middle of an LDDW at ${target - 1}`);
  }
}
