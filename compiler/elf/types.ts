// ELF64 constants shared by the reader and the writer, and the error both throw.
// Takes nothing; gives section, symbol and BPF relocation type numbers and `ElfError`.

/** A malformed object, or a request the writer cannot encode. */
export class ElfError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ElfError";
  }
}

export const EM_NONE = 0;
export const EM_BPF = 247;
export const ET_REL = 1;
export const EV_CURRENT = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;

export const EHDR_SIZE = 64;
export const SHDR_SIZE = 64;
export const SYM_SIZE = 24;
export const REL_SIZE = 16;
export const RELA_SIZE = 24;

/** Section types (sh_type). */
export const SHT = {
  NULL: 0,
  PROGBITS: 1,
  SYMTAB: 2,
  STRTAB: 3,
  RELA: 4,
  NOTE: 7,
  NOBITS: 8,
  REL: 9,
  SYMTAB_SHNDX: 18,
  LLVM_ADDRSIG: 0x6fff4c03,
} as const;

/** Section flags (sh_flags). */
export const SHF = {
  WRITE: 0x1,
  ALLOC: 0x2,
  EXECINSTR: 0x4,
  MERGE: 0x10,
  STRINGS: 0x20,
  INFO_LINK: 0x40,
  EXCLUDE: 0x80000000,
} as const;

/** Special section indices (st_shndx). */
export const SHN = {
  UNDEF: 0,
  LORESERVE: 0xff00,
  ABS: 0xfff1,
  COMMON: 0xfff2,
  XINDEX: 0xffff,
} as const;

/** Symbol types (low nibble of st_info). */
export const STT = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4 } as const;
/** Symbol bindings (high nibble of st_info). */
export const STB = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;
/** Symbol visibility (low 2 bits of st_other). */
export const STV = { DEFAULT: 0, INTERNAL: 1, HIDDEN: 2, PROTECTED: 3 } as const;

/** BPF relocation types (r_info low 32 bits). */
export const R_BPF = {
  NONE: 0,
  /** The 64-bit immediate of an LDDW: map or global data reference. */
  R_64_64: 1,
  /** 8 bytes of data: e.g. a program pointer in a map-in-map or .BTF.ext. */
  R_64_ABS64: 2,
  /** 4 bytes of data. */
  R_64_ABS32: 3,
  /** 4 bytes of data the loader leaves alone (.BTF, .BTF.ext offsets). */
  R_64_NODYLD32: 4,
  /** The imm of a call: BPF-to-BPF calls and function addresses. */
  R_64_32: 10,
} as const;

export const relocationTypeName = (type: number): string => {
  switch (type) {
    case R_BPF.NONE: return "R_BPF_NONE";
    case R_BPF.R_64_64: return "R_BPF_64_64";
    case R_BPF.R_64_ABS64: return "R_BPF_64_ABS64";
    case R_BPF.R_64_ABS32: return "R_BPF_64_ABS32";
    case R_BPF.R_64_NODYLD32: return "R_BPF_64_NODYLD32";
    case R_BPF.R_64_32: return "R_BPF_64_32";
  }
  return `R_BPF_${type}`;
};

/**
 * Converts 8-byte instruction slots between the little- and big-endian layouts (its own inverse):
 * off and imm change byte order and the register nibbles swap places.
 */
export function swapInsnBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.length % 8 !== 0) throw new ElfError(`instruction bytes: length ${bytes.length} is not a multiple of 8`);
  const out = new Uint8Array(bytes.length);
  for (let at = 0; at < bytes.length; at += 8) {
    out[at] = bytes[at]!;
    const regs = bytes[at + 1]!;
    out[at + 1] = ((regs & 0xf) << 4) | (regs >> 4);
    out[at + 2] = bytes[at + 3]!;
    out[at + 3] = bytes[at + 2]!;
    out[at + 4] = bytes[at + 7]!;
    out[at + 5] = bytes[at + 6]!;
    out[at + 6] = bytes[at + 5]!;
    out[at + 7] = bytes[at + 4]!;
  }
  return out;
}
