// USDT probes (statically defined user-space tracepoints, <sys/sdt.h>), as libbpf attaches them.
// Takes a binary's path; gives its probe sites from the `.note.stapsdt` notes: provider, name, the file offsets of
// the probed instruction and of the semaphore (the uprobe's ref_ctr_offset), and each argument's location parsed
// from the note's text (x86-64 and arm64 operands). `encodeUsdtSpec` lays arguments out as usdt.bpf.h's
// `struct __bpf_usdt_spec`, the value of the `__bpf_usdt_specs` map that BPF_USDT() reads through the attach cookie.
// Pure: reads the file, makes no syscall.

import { readFileSync } from "node:fs";
import { readElf } from "../../compiler/elf/read.js";
import { ElfError, SHT } from "../../compiler/elf/types.js";
import { ArgSpec, USDT_MAX_ARGS, USDT_SPECS_MAP, UsdtArgType, UsdtSpec } from "../../compiler/object/usdt-spec.js";
import { SymbolError, addressFileOffset, resolveBinary } from "./elfsym.js";

export { USDT_MAX_ARGS, USDT_SPECS_MAP, UsdtArgType };

/** One argument: where its value is, as `struct __bpf_usdt_arg_spec` says it. */
export interface UsdtArg {
  /** UsdtArgType: a constant, a register's value, or memory at a register plus an offset. */
  type: number;
  /** The constant (CONST) or the offset added to the register (REG_DEREF); 0 for REG. */
  valOff: bigint;
  /** offsetof(struct pt_regs, register) for REG and REG_DEREF; 0 for CONST. */
  regOff: number;
  /** The register as written in the note (without %), for messages; undefined for CONST. */
  register: string | undefined;
  /** Bytes of the value: 1, 2, 4 or 8. */
  size: number;
  /** A negative size in the note: the value is sign-extended. */
  signed: boolean;
  /** 64 - 8 * size: the BPF side shifts left then right by it to cut (and sign-extend) the value. */
  bitshift: number;
  /** The argument as the note writes it ("-4@-20(%rbp)"). */
  text: string;
}

export interface UsdtSite {
  provider: string;
  name: string;
  /** File offset of the probed instruction (the uprobe's offset). */
  offset: number;
  /** File offset of the semaphore the probe's users increment (the uprobe's ref_ctr_offset); 0 without one. */
  semaphoreOffset: number;
  args: UsdtArg[];
  /** The note's argument text ("-4@%edi 8@%rax"). */
  argText: string;
  /** Why `args` could not be read (an unsupported operand), naming the probe and the argument; `args` is empty then. */
  argError?: string;
}

/** sizeof(struct __bpf_usdt_spec). */
export const USDT_SPEC_SIZE = UsdtSpec.SIZE;

const NT_STAPSDT = 3;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;

/** offsetof(struct pt_regs, REG) on x86-64, for every name a register goes by (64, 32, 16 and 8 bits). */
const X86_REGS: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  const legacy: [number, string[]][] = [
    [80, ["rax", "eax", "ax", "al"]],
    [40, ["rbx", "ebx", "bx", "bl"]],
    [88, ["rcx", "ecx", "cx", "cl"]],
    [96, ["rdx", "edx", "dx", "dl"]],
    [104, ["rsi", "esi", "si", "sil"]],
    [112, ["rdi", "edi", "di", "dil"]],
    [32, ["rbp", "ebp", "bp", "bpl"]],
    [152, ["rsp", "esp", "sp", "spl"]],
    [128, ["rip", "eip", "ip"]],
  ];
  for (const [off, names] of legacy) for (const n of names) m.set(n, off);
  const numbered: [number, number][] = [
    [8, 72],
    [9, 64],
    [10, 56],
    [11, 48],
    [12, 24],
    [13, 16],
    [14, 8],
    [15, 0],
  ];
  for (const [n, off] of numbered) for (const suffix of ["", "d", "w", "b"]) m.set(`r${n}${suffix}`, off);
  return m;
})();

/** offsetof(struct user_pt_regs, REG) on arm64: regs[31], sp, pc. */
function arm64Reg(name: string): number | undefined {
  if (name === "sp") return 248;
  if (name === "pc") return 256;
  const m = /^[xw](\d+)$/.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n <= 30 ? n * 8 : undefined;
}

/** A note's argument text that cannot be turned into a spec; the message names the argument. */
export class UsdtArgError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsdtArgError";
  }
}

const INT = "[-+]?(?:0[xX][0-9a-fA-F]+|\\d+)";

function parseInt64(text: string): bigint {
  const neg = text.startsWith("-");
  const digits = text.replace(/^[-+]/, "");
  const v = BigInt(digits);
  return BigInt.asUintN(64, neg ? -v : v);
}

/**
 * The arguments of one note ("-4@%edi 8@-8(%rbp) 4@$5") for a machine (`x86_64` or `arm64`); throws UsdtArgError
 * naming the argument for forms libbpf does not take either (RIP-relative symbols, index registers).
 */
export function parseUsdtArgs(text: string, arch: "x86_64" | "arm64" = "x86_64"): UsdtArg[] {
  const args: UsdtArg[] = [];
  // Arguments are separated by spaces; arm64's "[sp, 12]" holds one inside brackets.
  const parts = text.trim() === "" ? [] : (text.trim().match(/\S*\[[^\]]*\]\S*|\S+/g) ?? []);
  for (const part of parts) args.push(parseArg(part, arch));
  if (args.length > USDT_MAX_ARGS) throw new UsdtArgError(`${args.length} arguments, more than the ${USDT_MAX_ARGS} BPF_USDT can read`);
  return args;
}

function parseArg(text: string, arch: "x86_64" | "arm64"): UsdtArg {
  const m = /^(-?)(\d+)@(.+)$/.exec(text);
  if (!m) throw new UsdtArgError(`argument "${text}" is not SIZE@LOCATION`);
  const size = Number(m[2]);
  if (![1, 2, 4, 8].includes(size)) throw new UsdtArgError(`argument "${text}" has size ${m[1]}${m[2]}; sizes are 1, 2, 4 or 8 bytes`);
  const signed = m[1] === "-";
  const loc = m[3]!;
  const base = { size, signed, bitshift: 64 - 8 * size, text };
  const place = arch === "x86_64" ? x86Location(loc, text) : arm64Location(loc, text);
  return { ...base, ...place };
}

type Location = Pick<UsdtArg, "type" | "valOff" | "regOff" | "register">;

function x86Location(loc: string, text: string): Location {
  const reg = (name: string): number => {
    const off = X86_REGS.get(name);
    if (off === undefined) throw new UsdtArgError(`argument "${text}": unknown x86-64 register %${name}`);
    return off;
  };
  let m = new RegExp(`^\\$(${INT})$`).exec(loc);
  if (m) return { type: UsdtArgType.CONST, valOff: parseInt64(m[1]!), regOff: 0, register: undefined };
  m = /^%([a-z0-9]+)$/.exec(loc);
  if (m) return { type: UsdtArgType.REG, valOff: 0n, regOff: reg(m[1]!), register: m[1]! };
  m = new RegExp(`^(${INT})?\\(%([a-z0-9]+)\\)$`).exec(loc);
  if (m) {
    if (m[2] === "rip") throw new UsdtArgError(`argument "${text}" is RIP-relative, which is not supported`);
    return { type: UsdtArgType.REG_DEREF, valOff: m[1] ? parseInt64(m[1]) : 0n, regOff: reg(m[2]!), register: m[2]! };
  }
  if (/\(%rip\)$/.test(loc)) throw new UsdtArgError(`argument "${text}" is a RIP-relative symbol (SYMBOL(%rip)), which is not supported`);
  if (/\(%?[a-z0-9]*,/.test(loc)) throw new UsdtArgError(`argument "${text}" uses an index register (BASE,INDEX,SCALE), which is not supported`);
  throw new UsdtArgError(`argument "${text}" has an x86-64 location that is not supported (only $CONST, %REG and OFFSET(%REG))`);
}

function arm64Location(loc: string, text: string): Location {
  const reg = (name: string): number => {
    const off = arm64Reg(name);
    if (off === undefined) throw new UsdtArgError(`argument "${text}": unknown arm64 register ${name}`);
    return off;
  };
  let m = new RegExp(`^(${INT})$`).exec(loc);
  if (m) return { type: UsdtArgType.CONST, valOff: parseInt64(m[1]!), regOff: 0, register: undefined };
  m = new RegExp(`^\\[([a-z0-9]+)(?:\\s*,\\s*(${INT}))?\\]$`).exec(loc);
  if (m) return { type: UsdtArgType.REG_DEREF, valOff: m[2] ? parseInt64(m[2]) : 0n, regOff: reg(m[1]!), register: m[1]! };
  m = /^([a-z0-9]+)$/.exec(loc);
  if (m) return { type: UsdtArgType.REG, valOff: 0n, regOff: reg(m[1]!), register: m[1]! };
  throw new UsdtArgError(`argument "${text}" has an arm64 location that is not supported (only CONST, REG, [REG] and [REG, OFFSET])`);
}

/** `struct __bpf_usdt_spec` for these arguments, little-endian (208 bytes). */
export function encodeUsdtSpec(args: readonly UsdtArg[], usdtCookie = 0n): Uint8Array {
  if (args.length > USDT_MAX_ARGS) throw new UsdtArgError(`${args.length} arguments, more than the ${USDT_MAX_ARGS} BPF_USDT can read`);
  const bytes = new Uint8Array(USDT_SPEC_SIZE);
  const v = new DataView(bytes.buffer);
  args.forEach((a, i) => {
    const at = i * ArgSpec.SIZE;
    v.setBigUint64(at + ArgSpec.VAL_OFF, BigInt.asUintN(64, a.valOff), true);
    v.setUint32(at + ArgSpec.ARG_TYPE, a.type, true);
    v.setInt16(at + ArgSpec.REG_OFF, a.regOff, true);
    v.setUint8(at + ArgSpec.ARG_SIGNED, a.signed ? 1 : 0);
    v.setInt8(at + ArgSpec.ARG_BITSHIFT, a.bitshift);
  });
  v.setBigUint64(UsdtSpec.USDT_COOKIE, BigInt.asUintN(64, usdtCookie), true);
  v.setInt16(UsdtSpec.ARG_CNT, args.length, true);
  return bytes;
}

/**
 * How many arguments the USDT probe PROVIDER:NAME of `binary` passes (the most any of its sites describes); undefined
 * where the binary does not resolve or cannot be read here, or has no such probe. The CLI's compiles check a handler's
 * parameters against it (compiler/index.ts's usdtArguments).
 */
export function usdtArgumentCount(binary: string, provider: string, name: string): number | undefined {
  let sites: UsdtSite[];
  try {
    sites = readUsdtSites(resolveBinary(binary));
  } catch (e) {
    if (e instanceof SymbolError) return undefined;
    throw e;
  }
  const counts = sites.filter((s) => s.provider === provider && s.name === name && s.argError === undefined).map((s) => s.args.length);
  return counts.length ? Math.max(...counts) : undefined;
}

/**
 * Every USDT site of the ELF64 file at `path`, in note order. Throws SymbolError for a file that is not a
 * little-endian ELF64 executable or library, or whose notes are malformed; a file without notes gives [].
 * A site whose arguments cannot be parsed has `argError` instead of `args`.
 */
export function readUsdtSites(path: string): UsdtSite[] {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SymbolError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let elf;
  try {
    elf = readElf(bytes, { sectionsOnly: true });
  } catch (e) {
    if (e instanceof ElfError) throw new SymbolError(`${path} is not a binary whose USDT notes can be read: ${e.message}`);
    throw e;
  }
  if (!elf.header.littleEndian) throw new SymbolError(`${path} is big-endian; only little-endian binaries are supported`);
  const arch = elf.header.machine === EM_X86_64 ? "x86_64" : elf.header.machine === EM_AARCH64 ? "arm64" : undefined;
  const notes = elf.sections.find((s) => s.name === ".note.stapsdt" && s.type === SHT.NOTE);
  if (!notes) return [];
  if (!arch) throw new SymbolError(`${path} is for machine ${elf.header.machine}; USDT arguments are read for x86-64 and arm64 only`);
  // A prelinked binary moved its addresses; the note's base says where .stapsdt.base was when the note was written.
  const baseSection = elf.sections.find((s) => s.name === ".stapsdt.base");
  const sites: UsdtSite[] = [];
  const d = notes.data;
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const align4 = (n: number) => (n + 3) & ~3;
  const cstring = (from: number, end: number): [string, number] => {
    const nul = d.indexOf(0, from);
    if (nul < 0 || nul >= end) throw new SymbolError(`${path}: a .note.stapsdt note has an unterminated string`);
    return [Buffer.from(d.subarray(from, nul)).toString("latin1"), nul + 1];
  };
  for (let at = 0; at + 12 <= d.length; ) {
    const namesz = v.getUint32(at, true);
    const descsz = v.getUint32(at + 4, true);
    const type = v.getUint32(at + 8, true);
    const nameAt = at + 12;
    const descAt = nameAt + align4(namesz);
    const next = descAt + align4(descsz);
    if (next > d.length) throw new SymbolError(`${path}: a .note.stapsdt note runs past the end of its section`);
    at = next;
    const owner = Buffer.from(d.subarray(nameAt, nameAt + namesz)).toString("latin1").replace(/\0+$/, "");
    if (owner !== "stapsdt" || type !== NT_STAPSDT) continue;
    if (descsz < 24) throw new SymbolError(`${path}: a stapsdt note is ${descsz} bytes, too short for its three addresses`);
    let pc = v.getBigUint64(descAt, true);
    const base = v.getBigUint64(descAt + 8, true);
    let semaphore = v.getBigUint64(descAt + 16, true);
    const end = descAt + descsz;
    const [provider, afterProvider] = cstring(descAt + 24, end);
    const [name, afterName] = cstring(afterProvider, end);
    const [argText] = cstring(afterName, end);
    if (baseSection && base !== 0n) {
      const delta = BigInt(baseSection.addr) - base;
      pc = BigInt.asUintN(64, pc + delta);
      if (semaphore !== 0n) semaphore = BigInt.asUintN(64, semaphore + delta);
    }
    const offset = addressFileOffset(bytes, pc);
    if (offset === undefined) throw new SymbolError(`${path}: USDT probe ${provider}:${name} at 0x${pc.toString(16)} lies in no loadable segment`);
    let semaphoreOffset = 0;
    if (semaphore !== 0n) {
      const s = addressFileOffset(bytes, semaphore);
      if (s === undefined) throw new SymbolError(`${path}: the semaphore of USDT probe ${provider}:${name} at 0x${semaphore.toString(16)} lies in no loadable segment`);
      semaphoreOffset = s;
    }
    // A probe whose arguments cannot be read is kept, with the reason: only attaching to it fails.
    let args: UsdtArg[] = [];
    let argError: string | undefined;
    try {
      args = parseUsdtArgs(argText, arch);
    } catch (e) {
      if (!(e instanceof UsdtArgError)) throw e;
      argError = `USDT probe ${provider}:${name} in ${path}: ${e.message}`;
    }
    sites.push({ provider, name, offset, semaphoreOffset, args, argText, ...(argError ? { argError } : {}) });
  }
  return sites;
}
