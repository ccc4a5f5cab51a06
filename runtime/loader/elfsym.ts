// Uprobe targets: which file a binary name means, and the file offset of a function in it.
// Takes a binary as written in a section ("/usr/bin/bash", "libc.so.6", "bash") and a symbol name;
// gives the absolute path (searching this process's mappings, the library directories and PATH) and the
// offset the uprobe PMU wants: the symbol's address (.symtab or .dynsym) translated through its PT_LOAD segment.

import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, readSync, readdirSync, realpathSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { similarNames } from "../../compiler/similar.js";
import { cxxMatcher, cxxParts, cxxSignature, isCxxName } from "./cxx-names.js";
import { demangleAll } from "./demangle.js";
import { indirectFunctionOffset } from "./ifunc.js";

/** A name that cannot be resolved; the message is one sentence for the user. */
export class SymbolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SymbolError";
  }
}

const LIB_DIRS = [
  "/lib64",
  "/usr/lib64",
  "/lib",
  "/usr/lib",
  "/usr/local/lib",
  `/lib/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`,
  `/usr/lib/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`,
];

const isFile = (p: string): boolean => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/** Directories ld.so searches: LD_LIBRARY_PATH, /etc/ld.so.conf(.d), then the defaults. */
export function libraryDirs(): string[] {
  const dirs = (process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean);
  const conf = (file: string, depth: number): void => {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      return;
    }
    for (const raw of text.split("\n")) {
      const line = raw.replace(/#.*/, "").trim();
      if (!line) continue;
      const inc = /^include\s+(.+)$/.exec(line);
      if (inc && depth < 4) {
        // Only the `dir/*.conf` glob form that distributions use.
        const pattern = inc[1]!.trim();
        const dir = pattern.slice(0, pattern.lastIndexOf("/"));
        try {
          for (const f of readdirSync(dir).sort()) if (f.endsWith(".conf")) conf(join(dir, f), depth + 1);
        } catch {
          /* no such directory */
        }
      } else if (line.startsWith("/")) dirs.push(line);
    }
  };
  conf("/etc/ld.so.conf", 0);
  return [...dirs, ...LIB_DIRS];
}

/** The absolute path a uprobe section's binary names; throws SymbolError when there is none. */
export function resolveBinary(binary: string, pid?: number): string {
  if (binary.includes("/")) {
    if (!isFile(binary)) throw new SymbolError(existsSync(binary) ? `${binary} is ${statSync(binary).isDirectory() ? "a directory" : "not a regular file"}, not a binary` : `no such binary: ${binary}`);
    return binary;
  }
  if (binary.includes(".so")) {
    // The copy the traced process maps (-p: one found through its rpath, say), else the one this process maps, which
    // other processes most likely map too.
    const target = pid !== undefined && pid > 0 ? mappedLibrary(`/proc/${pid}/maps`, binary) : undefined;
    if (target) return isFile(target) ? target : `/proc/${pid}/root${target}`;
    const mapped = mappedLibrary("/proc/self/maps", binary);
    if (mapped && isFile(mapped)) return mapped;
    for (const dir of libraryDirs()) if (isFile(join(dir, binary))) return join(dir, binary);
    const searched = pid !== undefined && pid > 0 ? `process ${pid}'s mappings and this process's` : "this process's mappings";
    throw new SymbolError(`cannot find shared library ${binary} (searched ${searched}, LD_LIBRARY_PATH, /etc/ld.so.conf and the standard directories)`);
  }
  const found = onPath(binary);
  if (found.length === 0) {
    // bpftrace's `uprobe:libc:malloc`: a library named without its `.so` suffix, when no program on PATH has the name.
    const library = /^lib[\w+-]+$/.test(binary) ? unversionedLibrary(binary, pid) : undefined;
    if (library) return library;
    throw new SymbolError(`cannot find binary ${binary} on PATH${/^lib[\w+-]+$/.test(binary) ? ` nor a shared library ${binary}.so or ${binary}.so.N` : ""}`);
  }
  const [first, ...later] = found;
  const interpreter = scriptInterpreter(first!);
  if (interpreter === undefined) return first!;
  // A launcher (pyenv's shims, a wrapper script) runs another binary, which is the one to probe.
  const elsewhere = later.filter((p) => scriptInterpreter(p) === undefined);
  const also = elsewhere.length ? `; PATH also has ${elsewhere.join(", ")}` : "";
  throw new SymbolError(`${binary} on PATH is ${first}, a script (${interpreter}), not a binary that can be probed: name the binary it runs by its path${also}`);
}

/**
 * The library `name` (`libc`) stands for: `name.so.N` (`libc.so.6`) or `name.so` as the traced process, then this one,
 * maps it, else the first of the library directories that holds one (a versioned name first, the fewest numbers
 * first: `libc.so` there is often a linker script), as bpftrace 0.17 takes `uprobe:libc:malloc`.
 */
function unversionedLibrary(name: string, pid?: number): string | undefined {
  const matches = (file: string): boolean => file.startsWith(`${name}.so`) && /^(\.\d+)*$/.test(file.slice(name.length + 3));
  const target = pid !== undefined && pid > 0 ? mappedLibraryMatching(`/proc/${pid}/maps`, matches) : undefined;
  if (target) return isFile(target) ? target : `/proc/${pid}/root${target}`;
  const mapped = mappedLibraryMatching("/proc/self/maps", matches);
  if (mapped && isFile(mapped)) return mapped;
  for (const dir of libraryDirs()) {
    let files: string[];
    try {
      files = readdirSync(dir).filter(matches);
    } catch {
      continue;
    }
    const order = (f: string): number => (f === `${name}.so` ? Infinity : f.split(".").length);
    for (const f of files.sort((a, b) => order(a) - order(b) || a.localeCompare(b))) if (isElf(join(dir, f))) return join(dir, f);
  }
  return undefined;
}

/** Whether the file at `path` starts with ELF's magic (a library's `.so` may be a linker script). */
function isElf(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return false;
  }
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString("latin1") === "\x7fELF" && statSync(path).isFile();
  } finally {
    closeSync(fd);
  }
}

/** The executable regular files named `binary` in PATH's directories, in PATH's order, each file once (/bin is often /usr/bin). */
function onPath(binary: string): string[] {
  const files = new Map<string, string>();
  for (const dir of (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":").filter(Boolean)) {
    const p = join(dir, binary);
    try {
      accessSync(p, constants.X_OK);
      const real = realpathSync(p);
      if (isFile(p) && !files.has(real)) files.set(real, p);
    } catch {
      /* not here */
    }
  }
  return [...files.values()];
}

/** A script's `#!` line, or undefined for any other file (an ELF binary). */
function scriptInterpreter(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined; // unreadable: the ELF reader says why
  }
  try {
    const head = Buffer.alloc(128);
    const text = head.subarray(0, readSync(fd, head, 0, head.length, 0)).toString("latin1");
    return text.startsWith("#!") ? text.split("\n")[0]!.trim() : undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * BINARY and what follows it in `BINARY:FUNCTION` (a section's `uprobe/BINARY:FUNCTION`, a `uprobe:BINARY:FUNCTION`
 * pattern), or undefined without a ':'. libbpf splits at the first ':', but a C++ function's name holds `::`
 * (`/tmp/app:app::W::leaf`) and a path may hold ':': the binary is the first part that is an existing file's path,
 * else it ends at the first ':' that is not half of a `::` (libbpf's split for every name without one).
 */
export function splitUprobeTarget(text: string): [binary: string, rest: string] | undefined {
  const colons = [...text.matchAll(/:/g)].map((m) => m.index);
  if (!colons.length) return undefined;
  for (const at of colons) {
    const binary = text.slice(0, at);
    if (binary.includes("/") && isFile(binary)) return [binary, text.slice(at + 1)];
  }
  const at = colons.find((i) => text[i - 1] !== ":" && text[i + 1] !== ":") ?? colons[0]!;
  return [text.slice(0, at), text.slice(at + 1)];
}

/** The file a process's maps name `name` (a library's file name), or undefined (none, or the maps cannot be read). */
function mappedLibrary(maps: string, name: string): string | undefined {
  return mappedLibraryMatching(maps, (file) => file === name);
}

/** The first file mapped in `maps` (a /proc/PID/maps) whose file name `matches`. */
function mappedLibraryMatching(maps: string, matches: (file: string) => boolean): string | undefined {
  let text: string;
  try {
    text = readFileSync(maps, "utf8");
  } catch {
    return undefined;
  }
  return text
    .split("\n")
    .map((l) => l.slice(l.indexOf("/")))
    .find((p) => p.startsWith("/") && matches(p.split("/").pop()!));
}

export const SHT_SYMTAB = 2;
export const SHT_DYNSYM = 11;
const PT_LOAD = 1;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
/** Size of an ELF64 symbol table entry. */
const SYM64_SIZE = 24;
/** Size of an ELF64 program header. */
const PHDR64_SIZE = 56;

const offsets = new Map<string, FoundFunction>();

/** File offset of `symbol` (plus `offset`) in the ELF file at `path`; cached while the file's identity and mtime stay. */
export function symbolFileOffset(path: string, symbol: string, offset = 0): number {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new SymbolError(`no such binary: ${path}`);
  }
  const key = `${st.dev}:${st.ino}:${st.mtimeMs}:${st.size}:${symbol}`;
  let found = offsets.get(key);
  if (found === undefined) offsets.set(key, (found = findSymbol(path, symbol)));
  // An offset past the function's end lands in another function (or between them), whose code it would corrupt.
  if (offset > 0 && found.size > 0 && offset >= found.size) {
    throw new SymbolError(`${symbol}+${offset} lies past the end of ${symbol}, which is ${found.size} bytes long: an offset must fall inside the function, at the start of one of its instructions`);
  }
  if (offset > 0 && found.size > 0) refuseInsideInstruction(path, found, symbol, offset, `${symbol}+${offset}`, true);
  // The kernel refuses a probe past the end of the file with a bare EINVAL.
  if (found.at + offset >= st.size) throw new SymbolError(`${symbol}+${offset} lies beyond the end of ${path} (${st.size} bytes)`);
  refuseSyscallInstruction(path, found.machine, found.at + offset, `${symbol}+${offset}`, `${symbol}+${offset + SYSCALL_LENGTH}`);
  return found.at + offset;
}

/**
 * A bare uprobe offset (`BINARY:0x13d9`), which is a file offset as libbpf reads it, checked to lie in the file. A
 * number past its end that is one of its addresses (as a non-PIE executable's are, and as bpftrace reads them) is
 * refused with the file offset it stands for.
 */
export function bareFileOffset(path: string, offset: number): number {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new SymbolError(`no such binary: ${path}`);
  }
  if (offset < size) {
    // The kernel refuses a uprobe outside the file's code (ENOEXEC): say where the code is instead.
    const f = readElf(path);
    const isElf64 = f.length >= 64 && f.readUInt32BE(0) === 0x7f454c46 && f[4] === 2 && f[5] === 1;
    const code = isElf64 ? loadSegments(f, Number(f.readBigUInt64LE(0x20)), f.readUInt16LE(0x38), f.readUInt16LE(0x36)).filter((s) => s.executable) : [];
    const inCode = code.some((s) => BigInt(offset) >= s.fileOffset && BigInt(offset) < s.fileOffset + s.fileSize);
    if (code.length && !inCode) {
      const ranges = code.map((s) => `0x${s.fileOffset.toString(16)}..0x${(s.fileOffset + s.fileSize).toString(16)}`).join(", ");
      throw new SymbolError(`0x${offset.toString(16)} is not in the code of ${path}, whose executable segments hold file offsets ${ranges} (a bare number is a file offset, as libbpf reads it)`);
    }
    // Inside a function the symbol tables know, it must start an instruction, as a symbol's offset must; elsewhere,
    // or where the instructions cannot be decoded, the number is taken as given.
    const inside = isElf64 ? functionAt(path, f, offset) : undefined;
    if (inside && offset > inside.at) refuseInsideInstruction(path, inside, inside.name, offset - inside.at, `0x${offset.toString(16)} (${inside.name}+${offset - inside.at})`, false);
    const shown = inside ? `0x${offset.toString(16)} (${inside.name}+${offset - inside.at})` : `0x${offset.toString(16)}`;
    if (isElf64) refuseSyscallInstruction(path, f.readUInt16LE(18), offset, shown, `0x${(offset + SYSCALL_LENGTH).toString(16)}`, f);
    return offset;
  }
  const at = addressFileOffset(readElf(path), BigInt(offset));
  const address = at === undefined ? "" : `; it is an address of the file, at file offset 0x${at.toString(16)}: write that (a bare number is a file offset, as libbpf reads it)`;
  throw new SymbolError(`0x${offset.toString(16)} lies beyond the end of ${path} (${size} bytes)${address}`);
}

/**
 * Refuses a probe `offset` bytes into function `f` that does not start an instruction: its breakpoint replaces the byte
 * there, which inside an instruction changes the program (an immediate, an operand). `shown` names the place; where
 * the instructions cannot be decoded (no objdump), `unknownRefused` says whether that refuses it too.
 */
function refuseInsideInstruction(path: string, f: FoundFunction, symbol: string, offset: number, shown: string, unknownRefused: boolean): void {
  const starts = instructionStarts(path, f);
  if (typeof starts === "string") {
    if (unknownRefused) throw new SymbolError(`cannot check that ${shown} is the start of an instruction (${starts}), and a probe inside one would change the program; probe ${symbol} itself`);
    return;
  }
  if (starts && !starts.has(offset)) {
    const near = [...starts].filter((s) => s < offset).at(-1) ?? 0;
    throw new SymbolError(`${shown} is inside an instruction (the one at ${symbol}+${near}), where a probe would change the program; give an offset that starts one (objdump -d shows them)`);
  }
}

/** x86-64's `syscall` instruction (0f 05). */
const SYSCALL_LENGTH = 2;

/**
 * Refuses a uprobe on an x86-64 `syscall` instruction: the kernel steps the instruction out of line after the
 * breakpoint, and on Linux 6.18 the process that runs it dies of SIGSEGV instead (every process of the system that
 * calls the function, as long as the probe stays). The instruction after it sees the same call return.
 */
function refuseSyscallInstruction(path: string, machine: number, fileOffset: number, shown: string, next: string, bytes?: Buffer): void {
  if (machine !== EM_X86_64) return;
  const f = bytes?.subarray(fileOffset, fileOffset + SYSCALL_LENGTH) ?? readAt(path, fileOffset, SYSCALL_LENGTH);
  if (f[0] !== 0x0f || f[1] !== 0x05) return;
  throw new SymbolError(`${shown} is a \`syscall\` instruction, and a uprobe there kills the process that runs it (SIGSEGV, on Linux 6.18): probe the instruction after it, ${next}, or the one before it`);
}

/** The function of the symbol tables whose code holds file offset `offset`, or undefined. */
function functionAt(path: string, f: Buffer, offset: number): (FoundFunction & { name: string }) | undefined {
  let sections: ReturnType<typeof elfSections>;
  try {
    sections = elfSections(f, path);
  } catch {
    return undefined;
  }
  for (const s of functionSymbols(f, sections)) {
    if (s.indirect || s.size === 0n || s.value === 0n) continue;
    const at = addressFileOffset(f, s.value);
    if (at !== undefined && at <= offset && offset < at + Number(s.size)) return { name: s.base, at, address: s.value, size: Number(s.size), machine: f.readUInt16LE(18) };
  }
  return undefined;
}

/** The section headers of a little-endian ELF64 file; throws SymbolError for anything else. */
function elfSections(f: Buffer, path: string) {
  if (f.length < 64 || f.readUInt32BE(0) !== 0x7f454c46) throw new SymbolError(`${path} is not an ELF file`);
  if (f[4] !== 2 || f[5] !== 1) throw new SymbolError(`${path} is not a little-endian 64-bit ELF file`);
  const shoff = Number(f.readBigUInt64LE(0x28));
  const shentsize = f.readUInt16LE(0x3a);
  const shnum = f.readUInt16LE(0x3c);
  if (!inFile(f, shoff, shnum * shentsize)) throw new SymbolError(`${path}: section headers lie outside the file`);
  return Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize;
    return { type: f.readUInt32LE(at + 4), offset: Number(f.readBigUInt64LE(at + 0x18)), size: Number(f.readBigUInt64LE(at + 0x20)), link: f.readUInt32LE(at + 0x28), entsize: Number(f.readBigUInt64LE(at + 0x38)) };
  });
}

const inFile = (f: Buffer, at: number, len: number): boolean => at >= 0 && at + len <= f.length;

/** A function symbol of an ELF file, with the symbol version it defines (`memcpy@@GLIBC_2.14`), if any. */
interface FunctionSymbol {
  /** The name without a version. */
  base: string;
  version: string | undefined;
  /**
   * A version other than the default (`memcpy@GLIBC_2.2.5` beside `memcpy@@GLIBC_2.14`): kept for programs linked
   * against the old one, reached only by naming its version.
   */
  hidden: boolean;
  indirect: boolean;
  value: bigint;
  /** st_size: the function's length in bytes (0 when unknown). */
  size: bigint;
  bind: number;
}

/**
 * The functions an ELF file defines, .symtab's first (it also has local functions), then .dynsym's (all a stripped
 * library keeps). .symtab spells a version into the name (unlinkat@@GLIBC_2.4); .dynsym keeps it apart, in
 * .gnu.version (a version index per symbol, bit 15 for a hidden one) and .gnu.version_d (the names of the indexes).
 */
function* functionSymbols(f: Buffer, sections: ReturnType<typeof elfSections>): Generator<FunctionSymbol> {
  for (const wanted of [SHT_SYMTAB, SHT_DYNSYM]) {
    for (const [i, s] of sections.entries()) {
      if (s.type !== wanted || !inFile(f, s.offset, s.size)) continue;
      const strtab = sections[s.link];
      if (!strtab || !inFile(f, strtab.offset, strtab.size)) continue;
      const versions = wanted === SHT_DYNSYM ? symbolVersions(f, sections, i) : undefined;
      for (const { name, index, indirect, value, size, bind } of definedFunctions(f.subarray(s.offset, s.offset + s.size), s.entsize, f.subarray(strtab.offset, strtab.offset + strtab.size))) {
        const at = name.indexOf("@");
        if (at >= 0) yield { base: name.slice(0, at), version: name.slice(name.startsWith("@@", at) ? at + 2 : at + 1), hidden: !name.startsWith("@@", at), indirect, value, size, bind };
        else yield { base: name, ...(versions?.(index) ?? { version: undefined, hidden: false }), indirect, value, size, bind };
      }
    }
  }
}

const SHT_GNU_VERDEF = 0x6ffffffd;
const SHT_GNU_VERSYM = 0x6fffffff;
const VERSYM_HIDDEN = 0x8000;

/**
 * The version of each symbol of the dynamic symbol table in section `dynsym`, by symbol index, from .gnu.version and
 * the version definitions of .gnu.version_d; undefined when the file has no versions. Indexes 0 and 1 (local, the
 * file's base) name no version.
 */
function symbolVersions(f: Buffer, sections: ReturnType<typeof elfSections>, dynsym: number): ((index: number) => { version: string | undefined; hidden: boolean }) | undefined {
  const versym = sections.find((s) => s.type === SHT_GNU_VERSYM && s.link === dynsym && inFile(f, s.offset, s.size));
  const verdef = sections.find((s) => s.type === SHT_GNU_VERDEF && inFile(f, s.offset, s.size));
  if (!versym) return undefined;
  const names = new Map<number, string>();
  const strings = verdef && sections[verdef.link];
  if (verdef && strings && inFile(f, strings.offset, strings.size)) {
    // Verdef: vd_version u16, vd_flags u16, vd_ndx u16, vd_cnt u16, vd_hash u32, vd_aux u32, vd_next u32; its first
    // Verdaux (vda_name u32, vda_next u32) names the version.
    for (let at = verdef.offset, n = 0; at + 20 <= verdef.offset + verdef.size && n < 0x8000; n++) {
      const aux = at + f.readUInt32LE(at + 12);
      if (aux + 8 <= verdef.offset + verdef.size) {
        const nameAt = strings.offset + f.readUInt32LE(aux);
        const end = f.indexOf(0, nameAt);
        if (nameAt < strings.offset + strings.size && end > nameAt) names.set(f.readUInt16LE(at + 4), f.toString("latin1", nameAt, end));
      }
      const next = f.readUInt32LE(at + 16);
      if (next === 0) break;
      at += next;
    }
  }
  return (index) => {
    const at = versym.offset + 2 * index;
    if (at + 2 > versym.offset + versym.size) return { version: undefined, hidden: false };
    const v = f.readUInt16LE(at);
    return { version: (v & ~VERSYM_HIDDEN) > 1 ? names.get(v & ~VERSYM_HIDDEN) : undefined, hidden: (v & VERSYM_HIDDEN) !== 0 };
  };
}

const STB_LOCAL = 0;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const STB_GNU_UNIQUE = 10;

/**
 * Preference among functions that start at the same address, lowest first: GLOBAL (and GNU_UNIQUE), WEAK, LOCAL.
 * bpftrace names libc's getpid (weak) `__getpid` (global).
 */
export const bindingRank = (bind: number): number => (bind === STB_GLOBAL || bind === STB_GNU_UNIQUE ? 0 : bind === STB_WEAK ? 1 : bind === STB_LOCAL ? 2 : 3);

/** A function an ELF64 symbol table defines; `bind` is STB_LOCAL (0), STB_GLOBAL (1), STB_WEAK (2), ... */
export interface DefinedFunction {
  name: string;
  /** Its index in the table. */
  index: number;
  /** An indirect function (STT_GNU_IFUNC): its value is a resolver that picks the implementation (ifunc.ts). */
  indirect: boolean;
  value: bigint;
  size: bigint;
  bind: number;
}

/**
 * The functions (STT_FUNC, STT_GNU_IFUNC) one little-endian ELF64 symbol table defines, in table order, from the
 * table's bytes and its string table's. Undefined symbols (imported from elsewhere) and unnamed ones are left out.
 */
export function* definedFunctions(table: Buffer, entsize: number, strings: Buffer): Generator<DefinedFunction> {
  if (entsize < SYM64_SIZE) return;
  for (let at = 0; at + SYM64_SIZE <= table.length; at += entsize) {
    const info = table[at + 4]!;
    const type = info & 0xf;
    if (type !== STT_FUNC && type !== STT_GNU_IFUNC) continue;
    if (table.readUInt16LE(at + 6) === 0) continue; // SHN_UNDEF
    const nameAt = table.readUInt32LE(at);
    const end = strings.indexOf(0, nameAt);
    if (end <= nameAt) continue;
    yield { name: strings.toString("latin1", nameAt, end), index: at / entsize, indirect: type === STT_GNU_IFUNC, value: table.readBigUInt64LE(at + 8), size: table.readBigUInt64LE(at + 16), bind: info >> 4 };
  }
}

const ET_EXEC = 2;
const STT_TLS = 6;

/**
 * The address of symbol `name` (a variable or a function, defined, its version left out) in the position-dependent
 * executable at `path`, where every process maps it: bpftrace's uaddr(). Throws SymbolError naming what is wrong: the
 * file is position-independent (a PIE, a library), or has no such symbol (with the nearest names it has).
 */
export function executableSymbol(path: string, name: string): bigint {
  const f = readElf(path);
  const sections = elfSections(f, path);
  if (f.readUInt16LE(16) !== ET_EXEC) {
    throw new SymbolError(`${path} is position-independent (a PIE executable or a library): its symbols' addresses move with each process's load address, so uaddr() takes a position-dependent executable (linked with -no-pie)`);
  }
  const names = new Set<string>();
  for (const wanted of [SHT_SYMTAB, SHT_DYNSYM]) {
    for (const s of sections) {
      if (s.type !== wanted || s.entsize < SYM64_SIZE || !inFile(f, s.offset, s.size)) continue;
      const strtab = sections[s.link];
      if (!strtab || !inFile(f, strtab.offset, strtab.size)) continue;
      for (let at = s.offset; at + SYM64_SIZE <= s.offset + s.size; at += s.entsize) {
        // Defined (not SHN_UNDEF), and not thread-local: a TLS symbol's value is an offset in each thread's block.
        if (f.readUInt16LE(at + 6) === 0 || (f[at + 4]! & 0xf) === STT_TLS) continue;
        const nameAt = strtab.offset + f.readUInt32LE(at);
        const end = f.indexOf(0, nameAt);
        if (end <= nameAt || end > strtab.offset + strtab.size) continue;
        const full = f.toString("latin1", nameAt, end);
        const base = full.includes("@") ? full.slice(0, full.indexOf("@")) : full;
        if (base === name) return f.readBigUInt64LE(at + 8);
        names.add(base);
      }
    }
  }
  const near = similarNames(name, [...names]);
  throw new SymbolError(`${path} defines no symbol ${name}${near.length ? ` (did you mean ${near.join(" or ")}?)` : ""}`);
}

/** The names of the functions the ELF file at `path` defines, each once (what `uprobe(path, NAME)` can probe). */
export function* functionNames(path: string): Generator<string> {
  const f = readElf(path);
  for (const { base } of probeableFunctions(f, elfSections(f, path))) yield base;
}

/**
 * The functions of the ELF file at `path` whose names `match` accepts, with the file offset symbolFileOffset gives
 * each, one per offset: of aliases at one address (libc's read and __read) the GLOBAL name is kept before a WEAK one,
 * a WEAK before a LOCAL (bindingRank), as UserSymbolizer names the address; among equals, the tables' first.
 */
export function matchingFunctions(path: string, match: (name: string) => boolean): { name: string; offset: number }[] {
  const f = readElf(path);
  return onePerOffset(path, f, function* () {
    for (const symbol of probeableFunctions(f, elfSections(f, path))) if (match(symbol.base)) yield { symbol, name: symbol.base };
  });
}

/**
 * The C++ functions of the ELF file at `path` that `pattern` names as c++filt shows them (`app::W::*`,
 * `app::over(*)`, cxx-names.ts), each named by its signature (`app::over(int)`) and with its file offset, one per
 * offset as matchingFunctions gives them.
 */
export function matchingCxxFunctions(path: string, pattern: string): { name: string; offset: number }[] {
  const f = readElf(path);
  const match = cxxMatcher(pattern);
  return onePerOffset(path, f, function* () {
    for (const { symbol, shown } of demangledFunctions(path, f, elfSections(f, path), pattern)) if (match(shown)) yield { symbol, name: cxxSignature(shown) };
  });
}

/** Functions found, named, one per file offset (the best bound of aliases), in the order of their offsets. */
function onePerOffset(path: string, f: Buffer, found: () => Iterable<{ symbol: FunctionSymbol; name: string }>): { name: string; offset: number }[] {
  const byOffset = new Map<number, { name: string; offset: number; rank: number }>();
  for (const { symbol, name } of found()) {
    const offset = functionOffset(path, f, symbol);
    if (offset === undefined) continue; // in no loadable segment: nothing a uprobe could hit
    const rank = bindingRank(symbol.bind);
    const kept = byOffset.get(offset);
    if (!kept || rank < kept.rank) byOffset.set(offset, { name, offset, rank });
  }
  return [...byOffset.values()].map(({ name, offset }) => ({ name, offset })).sort((a, b) => a.offset - b.offset);
}

/** Where a function symbol's code lies in the file, or undefined (in no loadable segment, an IFUNC's unknown pick). */
function functionOffset(path: string, f: Buffer, s: FunctionSymbol): number | undefined {
  // An indirect function where it resolves to on this machine, when that can be known (ifunc.ts); else left out.
  return s.indirect ? indirectFunctionOffset(path, s.base, s.version) : addressFileOffset(f, s.value);
}

/** The signatures (`app::over(int)`) of the C++ functions of the ELF file at `path` whose names `pattern` matches, sorted. */
export function cxxFunctionNames(path: string, pattern: string): string[] {
  const f = readElf(path);
  const match = cxxMatcher(pattern);
  const names = new Set<string>();
  for (const { shown } of demangledFunctions(path, f, elfSections(f, path), pattern)) if (match(shown)) names.add(cxxSignature(shown));
  return [...names].sort();
}

/** `length` bytes of the file at `path` from `position` (fewer at its end). */
function readAt(path: string, position: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    return out.subarray(0, readSync(fd, out, 0, length, position));
  } catch (e) {
    throw new SymbolError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function readElf(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new SymbolError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Each function name once, as findSymbol finds it without a version (its first symbol in the tables that is not a
 * hidden version), leaving out symbols at address 0 (placeholders, never code).
 */
function probeableFunctions(f: Buffer, sections: ReturnType<typeof elfSections>): FunctionSymbol[] {
  const byName = new Map<string, FunctionSymbol>();
  for (const s of functionSymbols(f, sections)) {
    const kept = byName.get(s.base);
    if (!kept || (kept.hidden && !s.hidden)) byName.set(s.base, s);
  }
  return [...byName.values()].filter((s) => s.value !== 0n);
}

/** A function found by name: its first instruction's file offset and address, its length (0 when unknown, as for an IFUNC's pick). */
interface FoundFunction {
  at: number;
  address: bigint;
  size: number;
  machine: number;
}

const EM_X86_64 = 62;
const EM_AARCH64 = 183;

/**
 * The offsets (from the function's start) at which its instructions start: every 4 bytes on arm64; on x86-64, whose
 * instructions are 1 to 15 bytes long, as objdump decodes them, or why they cannot be known; undefined for machines
 * tsbpf does not check.
 */
function instructionStarts(path: string, f: FoundFunction): Set<number> | string | undefined {
  if (f.machine === EM_AARCH64) return new Set(Array.from({ length: Math.ceil(f.size / 4) }, (_, i) => i * 4));
  if (f.machine !== EM_X86_64) return undefined;
  const end = f.address + BigInt(f.size);
  // Loaded here, off the path of runs that probe no offsets.
  const { spawnSync } = process.getBuiltinModule("node:child_process") as typeof import("node:child_process");
  const r = spawnSync("objdump", ["-d", "--no-show-raw-insn", `--start-address=0x${f.address.toString(16)}`, `--stop-address=0x${end.toString(16)}`, path], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) return "objdump, from binutils, is not installed";
  if (r.status !== 0) return `objdump could not decode ${path}`;
  const starts = new Set<number>();
  for (const m of r.stdout.matchAll(/^\s*([0-9a-f]+):\t/gm)) {
    const at = BigInt(`0x${m[1]}`);
    if (at >= f.address && at < end) starts.add(Number(at - f.address));
  }
  return starts.size ? starts : "objdump decoded none of its instructions";
}

const STRIPPED = "stripped: only the functions it exports are left; probe one of those, or a build with symbols";

/** Whether an executable is stripped: its own functions (main) are gone, only what it exports is left (a library's API stays). */
const stripped = (path: string, sections: readonly { type: number }[]): boolean => !/\.so(\.|$)/.test(basename(path)) && !sections.some((s) => s.type === SHT_SYMTAB);

/** Why the ELF file at `path` has fewer functions than its source, for a listing that found none: it is stripped. */
export function strippedNote(path: string): string | undefined {
  try {
    return stripped(path, elfSections(readFileSync(path), path)) ? `${path} is ${STRIPPED}` : undefined;
  } catch {
    return undefined; // not readable or not ELF: the listing has said so
  }
}

/** The function named `symbol` in the ELF file at `path`. */
function findSymbol(path: string, symbol: string): FoundFunction {
  const f = readFileSync(path);
  const sections = elfSections(f, path);
  let found: FunctionSymbol | undefined;
  /** The functions seen, for a did-you-mean when `symbol` is not among them. */
  const functions: string[] = [];
  // A versioned name (libbpf's `memcpy@GLIBC_2.2.5` or `getppid@@GLIBC_2.2.5`) takes the symbol of that version, as
  // libbpf does (`@` or `@@` alike); a bare name the default version (what the linker binds new programs to), else
  // the first hidden one.
  const sign = symbol.indexOf("@");
  const base = sign < 0 ? symbol : symbol.slice(0, sign);
  const version = sign < 0 ? undefined : symbol.slice(symbol.startsWith("@@", sign) ? sign + 2 : sign + 1);
  for (const s of functionSymbols(f, sections)) {
    functions.push(s.base);
    if (s.base !== base || (version !== undefined && s.version !== version)) continue;
    if (version !== undefined || !s.hidden) {
      found = s;
      break;
    }
    found ??= s;
  }
  // A C++ function by its name as c++filt shows it (`app::W::leaf`, `app::over(int)`), not its mangled symbol.
  if (found === undefined && version === undefined && isCxxName(symbol)) return findSymbol(path, cxxSymbol(path, f, sections, symbol));
  if (found === undefined) {
    const similar = similarNames(symbol, functions);
    const hint = similar.length ? `; did you mean ${similar.join(" or ")}?` : stripped(path, sections) ? ` (it is ${STRIPPED})` : "";
    throw new SymbolError(`no function ${symbol} in the symbol tables of ${path}${hint}`);
  }

  if (found.indirect) {
    const at = indirectFunctionOffset(path, base, found.version);
    if (at === undefined) {
      throw new SymbolError(
        `${symbol} in ${path} is an indirect function (IFUNC): its symbol is a resolver that picks an implementation once per program, so a probe there would not see calls, and tsbpf can ask which implementation it picks only of a library it has loaded itself (libc's, for one); probe the implementation by its own name`,
      );
    }
    return { at, address: 0n, size: 0, machine: f.readUInt16LE(18) };
  }
  const at = addressFileOffset(f, found.value);
  if (at === undefined) throw new SymbolError(`${symbol} at 0x${found.value.toString(16)} lies in no loadable segment of ${path}`);
  return { at, address: found.value, size: Number(found.size), machine: f.readUInt16LE(18) };
}

/** The functions of the ELF file at `path` with their names as c++filt shows them; a SymbolError where it cannot be run. */
function demangledFunctions(path: string, f: Buffer, sections: ReturnType<typeof elfSections>, what: string): { symbol: FunctionSymbol; shown: string }[] {
  const functions = probeableFunctions(f, sections);
  const shown = demangleAll(functions.map((s) => s.base));
  if (!shown) throw new SymbolError(`cannot match ${what} against the C++ functions of ${path}: c++filt (binutils), which reads their names, is not installed; give a function's mangled symbol (tsbpf list 'uprobe:${path}:_Z*' lists them)`);
  return functions.map((symbol, i) => ({ symbol, shown: shown[i]! }));
}

/**
 * The symbol of the one C++ function `name` names (`app::W::leaf`, a template's `app::twice<int>`, an overload's
 * `app::over(int)`); a SymbolError for none, or for several overloads (listed with their parameters, to pick one).
 */
function cxxSymbol(path: string, f: Buffer, sections: ReturnType<typeof elfSections>, name: string): string {
  const functions = demangledFunctions(path, f, sections, name);
  const match = cxxMatcher(name);
  // One per address: a constructor's complete and base object symbols often share one.
  const byAddress = new Map<bigint, { symbol: string; signature: string }>();
  for (const { symbol, shown } of functions) {
    if (match(shown) && !byAddress.has(symbol.value)) byAddress.set(symbol.value, { symbol: symbol.base, signature: cxxSignature(shown) });
  }
  const matches = [...byAddress.values()].sort((a, b) => (a.signature < b.signature ? -1 : a.signature > b.signature ? 1 : 0));
  if (matches.length === 1) return matches[0]!.symbol;
  if (matches.length > 1) {
    const twice = (sig: string) => matches.filter((m) => m.signature === sig).length > 1;
    const listed = matches.map((m) => (twice(m.signature) ? `${m.signature} (${m.symbol})` : m.signature));
    throw new SymbolError(
      `${name} names ${matches.length} functions of ${path}: ${listed.join(", ")}; name one with its parameter list (${twice(matches[0]!.signature) ? matches[0]!.symbol : matches[0]!.signature}), or probe them all with a glob (${name.includes("(") ? name : `${name}(*)`})`,
    );
  }
  const names = functions.flatMap(({ shown }) => {
    const parts = cxxParts(shown);
    return parts ? [name.includes("(") ? parts.name + parts.params : parts.name] : [];
  });
  const similar = similarNames(name, names);
  const signatures = similar.flatMap((n) => [...new Set(functions.map((x) => cxxSignature(x.shown)).filter((s) => s === n || s.startsWith(`${n}(`)))]);
  throw new SymbolError(`no function ${name} in the symbol tables of ${path}${signatures.length ? `; did you mean ${signatures.join(" or ")}?` : ""}`);
}

/** A PT_LOAD segment: `fileSize` bytes at `fileOffset` in the file are loaded at `vaddr`; `executable` for PF_X. */
export interface LoadSegment {
  fileOffset: bigint;
  vaddr: bigint;
  fileSize: bigint;
  executable: boolean;
}

/** The PT_LOAD segments of a little-endian ELF64 program header table (`count` entries of `entsize` bytes at `at` in `bytes`). */
export function loadSegments(bytes: Uint8Array, at: number, count: number, entsize: number): LoadSegment[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const segments: LoadSegment[] = [];
  if (entsize < PHDR64_SIZE) return segments;
  for (let i = 0; i < count; i++) {
    const ph = at + i * entsize;
    if (ph < 0 || ph + PHDR64_SIZE > bytes.length || view.getUint32(ph, true) !== PT_LOAD) continue;
    segments.push({
      fileOffset: view.getBigUint64(ph + 8, true),
      vaddr: view.getBigUint64(ph + 16, true),
      fileSize: view.getBigUint64(ph + 32, true),
      executable: (view.getUint32(ph + 4, true) & 1) !== 0,
    });
  }
  return segments;
}

/**
 * The file offset of a virtual address of a little-endian ELF64 file: translated through the PT_LOAD segment
 * whose file contents hold it (offset = address - p_vaddr + p_offset); undefined when none does.
 */
export function addressFileOffset(f: Uint8Array, address: bigint): number | undefined {
  if (f.length < 64) return undefined;
  const view = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const phoff = Number(view.getBigUint64(0x20, true));
  for (const s of loadSegments(f, phoff, view.getUint16(0x38, true), view.getUint16(0x36, true))) {
    if (address >= s.vaddr && address < s.vaddr + s.fileSize) return Number(address - s.vaddr + s.fileOffset);
  }
  return undefined;
}
