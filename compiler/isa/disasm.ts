// Disassembler: instruction slots to text, in the kernel verifier's syntax or llvm-objdump's.
// Takes an `Insn` array and options; gives one line per instruction (an LDDW is one line).
//
// `kernel` follows kernel/bpf/disasm.c (the verifier log and `bpftool prog dump xlated`);
// `llvm` follows `llvm-objdump-19 -d --mcpu=v4`. Where a syntax loses information the text
// is extended so that `assemble` reads back exactly the same slots:
//   - kernel LDDW pseudo loads print bpftool-like operands: `map[fd:N]`, `map[fd:N][0]+OFF`,
//     `map[idx:N]`, `map[idx:N]+OFF`, `btf_id[N]`, `subprog[+N]` (the verifier itself
//     prints the patched address as hex);
//   - llvm local calls print a signed offset `call +0x3` (objdump prints `call 0x3`, the
//     same as a helper call), helper ids print unsigned, kfunc calls use the kernel form
//     `call kernel-function#ID`, and `skb[rN + IMM]` keeps the immediate of LD_IND;
//   - llvm jumps print no `<symbol+offset>` annotation after the target;
//   - llvm load-acquire and store-release print like LLVM 21 (`w0 = load_acquire((u32 *)(r1 + 0x0))`,
//     `store_release((u16 *)(r1 + 0x0), w2)`), which llvm-objdump-19 cannot decode;
//   - an encoding checkInsn rejects prints as `.insn CODE, DST, SRC, OFF, IMM`.

import { helperName } from "./helpers.js";
import { checkInsn, isWide, type Insn } from "./insn.js";
import {
  AluOp,
  AtomicOp,
  Class,
  JmpOp,
  Mode,
  PseudoCall,
  PseudoLd,
  Size,
  Source,
  aluOp,
  jmpOp,
  opClass,
  opMode,
  opSize,
  opSource,
} from "./opcodes.js";

export type Style = "kernel" | "llvm";

/** A name lookup: a function or a table from number to name. */
export type NameLookup = ((n: number) => string | undefined) | Readonly<Record<number, string>>;

export interface Names {
  /** Helper names; kernel style prints `call NAME#ID`, llvm style `call NAME`. Default: the kernel's names in kernel style, none in llvm style. */
  helpers?: NameLookup;
  /** Kernel function names by BTF id (kernel style `call NAME#ID`, like the verifier log). */
  kfuncs?: NameLookup;
  /** Map names by fd (MAP_FD, MAP_VALUE loads) printed as `map[NAME]` instead of `map[fd:N]`. */
  maps?: NameLookup;
}

export interface DisasmOptions {
  /** Output syntax; default `kernel`. */
  style?: Style;
  /** Prefix each line with its slot index (`12: (bf) r1 = r2` / `      12:\tbf 21 ...\tr1 = r2`). */
  indices?: boolean;
  /** With indices, also print the opcode (kernel) or the raw bytes (llvm); default true. */
  raw?: boolean;
  names?: Names;
}

const lookup = (table: NameLookup | undefined, n: number): string | undefined =>
  table === undefined ? undefined : typeof table === "function" ? table(n) : Object.hasOwn(table, n) ? table[n] : undefined;

const hex2 = (n: number): string => n.toString(16).padStart(2, "0");
/** `%+d` */
const plus = (n: number): string => (n < 0 ? `${n}` : `+${n}`);
/** Signed hex the way llvm prints immediates: `0x5`, `-0x5`. */
const shex = (n: number | bigint): string => (n < 0 ? `-0x${(-BigInt(n)).toString(16)}` : `0x${n.toString(16)}`);
const uhex32 = (n: number): string => `0x${(n >>> 0).toString(16)}`;

const aluSym: Record<number, string> = {
  [AluOp.ADD]: "+=",
  [AluOp.SUB]: "-=",
  [AluOp.MUL]: "*=",
  [AluOp.DIV]: "/=",
  [AluOp.OR]: "|=",
  [AluOp.AND]: "&=",
  [AluOp.LSH]: "<<=",
  [AluOp.RSH]: ">>=",
  [AluOp.MOD]: "%=",
  [AluOp.XOR]: "^=",
  [AluOp.MOV]: "=",
  [AluOp.ARSH]: "s>>=",
};
const jmpSym: Record<number, string> = {
  [JmpOp.JEQ]: "==",
  [JmpOp.JGT]: ">",
  [JmpOp.JGE]: ">=",
  [JmpOp.JSET]: "&",
  [JmpOp.JNE]: "!=",
  [JmpOp.JSGT]: "s>",
  [JmpOp.JSGE]: "s>=",
  [JmpOp.JLT]: "<",
  [JmpOp.JLE]: "<=",
  [JmpOp.JSLT]: "s<",
  [JmpOp.JSLE]: "s<=",
};
const atomicName: Record<number, string> = { [AtomicOp.ADD]: "add", [AtomicOp.OR]: "or", [AtomicOp.AND]: "and", [AtomicOp.XOR]: "xor" };
const usize: Record<number, string> = { [Size.W]: "u32", [Size.H]: "u16", [Size.B]: "u8", [Size.DW]: "u64" };
const ssize: Record<number, string> = { [Size.W]: "s32", [Size.H]: "s16", [Size.B]: "s8" };

/** The `.insn` escape for slots that are not a valid instruction. */
const rawInsn = (x: Insn): string => `.insn 0x${hex2(x.code & 0xff)}, ${x.dst}, ${x.src}, ${x.off}, ${x.imm}`;

/** Formats the instruction starting at slot `i` (without index prefix). */
export function formatInsn(insns: readonly Insn[], i: number, options: DisasmOptions = {}): string {
  const x = insns[i];
  if (x === undefined) throw new RangeError(`no instruction at slot ${i}`);
  if (checkInsn(insns, i) !== undefined) return rawInsn(x);
  return options.style === "llvm" ? formatLlvm(insns, i, options.names) : formatKernel(insns, i, options.names);
}

/** One line per instruction; an LDDW takes one line for its two slots. */
export function disassemble(insns: readonly Insn[], options: DisasmOptions = {}): string[] {
  const lines: string[] = [];
  const raw = options.raw ?? true;
  for (let i = 0; i < insns.length; i++) {
    const x = insns[i]!;
    const wide = isWide(x) && checkInsn(insns, i) === undefined;
    let text = formatInsn(insns, i, options);
    if (options.indices) {
      if (options.style === "llvm") {
        const bytes = raw ? `${slotBytes(insns, i, wide ? 2 : 1)}\t` : "";
        text = `${String(i).padStart(8)}:\t${bytes}${text}`;
      } else {
        text = raw ? `${i}: (${hex2(x.code & 0xff)}) ${text}` : `${i}: ${text}`;
      }
    }
    lines.push(text);
    if (wide) i++;
  }
  return lines;
}

function slotBytes(insns: readonly Insn[], i: number, n: number): string {
  const out: string[] = [];
  for (let k = i; k < i + n; k++) {
    const x = insns[k]!;
    const b = new DataView(new ArrayBuffer(8));
    b.setUint8(0, x.code & 0xff);
    b.setUint8(1, ((x.src & 0xf) << 4) | (x.dst & 0xf));
    b.setInt16(2, x.off, true);
    b.setInt32(4, x.imm, true);
    for (let j = 0; j < 8; j++) out.push(hex2(b.getUint8(j)));
  }
  return out.join(" ");
}

// ---------------------------------------------------------------- kernel style

function formatKernel(insns: readonly Insn[], i: number, names: Names | undefined): string {
  const x = insns[i]!;
  const cls = opClass(x.code);
  const w = cls === Class.ALU || cls === Class.JMP32 ? "w" : "r";
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      const op = aluOp(x.code);
      if (op === AluOp.END) {
        if (cls === Class.ALU64) return `r${x.dst} = bswap${x.imm} r${x.dst}`;
        return `r${x.dst} = ${opSource(x.code) === Source.X ? "be" : "le"}${x.imm} r${x.dst}`;
      }
      if (op === AluOp.NEG) return `${w}${x.dst} = -${w}${x.dst}`;
      const sym = x.off === 1 && (op === AluOp.DIV || op === AluOp.MOD) ? `s${aluSym[op]}` : aluSym[op]!;
      if (opSource(x.code) === Source.X) {
        const sx = op === AluOp.MOV && x.off !== 0 ? `(s${x.off})` : "";
        return `${w}${x.dst} ${sym} ${sx}${w}${x.src}`;
      }
      return `${w}${x.dst} ${sym} ${x.imm}`;
    }
    case Class.STX: {
      const size = usize[opSize(x.code)]!;
      const mem = `(r${x.dst} ${plus(x.off)})`;
      if (opMode(x.code) === Mode.MEM) return `*(${size} *)${mem} = r${x.src}`;
      if (x.imm === AtomicOp.LOAD_ACQ) return `r${x.dst} = load_acquire((${size} *)(r${x.src} ${plus(x.off)}))`;
      if (x.imm === AtomicOp.STORE_REL) return `store_release((${size} *)${mem}, r${x.src})`;
      const a64 = opSize(x.code) === Size.DW ? "64" : "";
      if (x.imm === AtomicOp.CMPXCHG) return `r0 = atomic${a64}_cmpxchg((${size} *)${mem}, r0, r${x.src})`;
      if (x.imm === AtomicOp.XCHG) return `r${x.src} = atomic${a64}_xchg((${size} *)${mem}, r${x.src})`;
      if (x.imm & AtomicOp.FETCH) return `r${x.src} = atomic${a64}_fetch_${atomicName[x.imm & ~AtomicOp.FETCH]}((${size} *)${mem}, r${x.src})`;
      return `lock *(${size} *)${mem} ${aluSym[x.imm]} r${x.src}`;
    }
    case Class.ST:
      return `*(${usize[opSize(x.code)]} *)(r${x.dst} ${plus(x.off)}) = ${x.imm}`;
    case Class.LDX: {
      const size = (opMode(x.code) === Mode.MEMSX ? ssize : usize)[opSize(x.code)]!;
      return `r${x.dst} = *(${size} *)(r${x.src} ${plus(x.off)})`;
    }
    case Class.LD: {
      const size = usize[opSize(x.code)]!;
      if (opMode(x.code) === Mode.ABS) return `r0 = *(${size} *)skb[${x.imm}]`;
      if (opMode(x.code) === Mode.IND) return `r0 = *(${size} *)skb[r${x.src} + ${x.imm}]`;
      return `r${x.dst} = ${kernelLdImm(insns, i, names)}`;
    }
    default: {
      const op = jmpOp(x.code);
      if (op === JmpOp.CALL) return kernelCall(x, names);
      if (op === JmpOp.EXIT) return "exit";
      if (op === JmpOp.JA) return cls === Class.JMP ? `goto pc${plus(x.off)}` : `gotol pc${plus(x.imm)}`;
      if (op === JmpOp.JCOND) return `may_goto pc${plus(x.off)}`;
      const rhs = opSource(x.code) === Source.X ? `${w}${x.src}` : uhex32(x.imm);
      return `if ${w}${x.dst} ${jmpSym[op]} ${rhs} goto pc${plus(x.off)}`;
    }
  }
}

function kernelCall(x: Insn, names: Names | undefined): string {
  if (x.src === PseudoCall.LOCAL) return `call pc${plus(x.imm)}`;
  if (x.src === PseudoCall.KFUNC) {
    const name = lookup(names?.kfuncs, x.imm) ?? "kernel-function";
    return x.off === 0 ? `call ${name}#${x.imm}` : `call ${name}#${x.imm} btf_fd_idx=${x.off}`;
  }
  const name = lookup(names?.helpers, x.imm) ?? (x.imm === 0 ? "bpf_unspec" : helperName(x.imm)) ?? "unknown";
  return `call ${name}#${x.imm}`;
}

function kernelLdImm(insns: readonly Insn[], i: number, names: Names | undefined): string {
  const x = insns[i]!;
  const lo = x.imm;
  const hi = insns[i + 1]!.imm;
  const wide = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  const map = (): string => {
    const name = lookup(names?.maps, lo);
    return name === undefined ? `map[fd:${lo}]` : `map[${name}]`;
  };
  switch (x.src) {
    case PseudoLd.MAP_FD:
      return map();
    case PseudoLd.MAP_VALUE:
      return `${map()}[0]+${hi}`;
    case PseudoLd.MAP_IDX:
      return `map[idx:${lo}]`;
    case PseudoLd.MAP_IDX_VALUE:
      return `map[idx:${lo}]+${hi}`;
    case PseudoLd.BTF_ID:
      return hi === 0 ? `btf_id[${lo}]` : `btf_id[${lo}][fd:${hi}]`;
    case PseudoLd.FUNC:
      return hi === 0 ? `subprog[${plus(lo)}]` : `subprog[${plus(lo)}][${hi}]`;
    default:
      return `0x${wide.toString(16)}`;
  }
}

// ---------------------------------------------------------------- llvm style

function formatLlvm(insns: readonly Insn[], i: number, names: Names | undefined): string {
  const x = insns[i]!;
  const cls = opClass(x.code);
  const w = cls === Class.ALU || cls === Class.JMP32 ? "w" : "r";
  const mem = (reg: number, off: number): string => `(r${reg} ${off < 0 ? "-" : "+"} 0x${Math.abs(off).toString(16)})`;
  // Sub-64-bit loads and stores name the 32-bit half of the value register (alu32 decoding).
  const vreg = (size: number): string => (size === Size.DW ? "r" : "w");
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      const op = aluOp(x.code);
      if (op === AluOp.END) {
        if (cls === Class.ALU64) return `r${x.dst} = bswap${x.imm} r${x.dst}`;
        return `r${x.dst} = ${opSource(x.code) === Source.X ? "be" : "le"}${x.imm} r${x.dst}`;
      }
      if (op === AluOp.NEG) return `${w}${x.dst} = -${w}${x.dst}`;
      const sym = x.off === 1 && (op === AluOp.DIV || op === AluOp.MOD) ? `s${aluSym[op]}` : aluSym[op]!;
      if (opSource(x.code) === Source.X) {
        const sx = op === AluOp.MOV && x.off !== 0 ? `(s${x.off})` : "";
        return `${w}${x.dst} ${sym} ${sx}${w}${x.src}`;
      }
      return `${w}${x.dst} ${sym} ${shex(x.imm)}`;
    }
    case Class.STX: {
      const sz = opSize(x.code);
      const size = usize[sz]!;
      const v = vreg(sz);
      if (opMode(x.code) === Mode.MEM) return `*(${size} *)${mem(x.dst, x.off)} = ${v}${x.src}`;
      if (x.imm === AtomicOp.LOAD_ACQ) return `${v}${x.dst} = load_acquire((${size} *)${mem(x.src, x.off)})`;
      if (x.imm === AtomicOp.STORE_REL) return `store_release((${size} *)${mem(x.dst, x.off)}, ${v}${x.src})`;
      const suffix = sz === Size.DW ? "_64" : "32_32";
      const addr = mem(x.dst, x.off).slice(1, -1);
      if (x.imm === AtomicOp.CMPXCHG) return `${v}0 = cmpxchg${suffix}(${addr}, ${v}0, ${v}${x.src})`;
      if (x.imm === AtomicOp.XCHG) return `${v}${x.src} = xchg${suffix}(${addr}, ${v}${x.src})`;
      if (x.imm & AtomicOp.FETCH) return `${v}${x.src} = atomic_fetch_${atomicName[x.imm & ~AtomicOp.FETCH]}((${size} *)${mem(x.dst, x.off)}, ${v}${x.src})`;
      return `lock *(${size} *)${mem(x.dst, x.off)} ${aluSym[x.imm]} ${v}${x.src}`;
    }
    case Class.ST:
      return `*(${usize[opSize(x.code)]} *)${mem(x.dst, x.off)} = ${shex(x.imm)}`;
    case Class.LDX: {
      const sz = opSize(x.code);
      if (opMode(x.code) === Mode.MEMSX) return `r${x.dst} = *(${ssize[sz]} *)${mem(x.src, x.off)}`;
      return `${vreg(sz)}${x.dst} = *(${usize[sz]} *)${mem(x.src, x.off)}`;
    }
    case Class.LD: {
      const size = usize[opSize(x.code)]!;
      if (opMode(x.code) === Mode.ABS) return `r0 = *(${size} *)skb[${shex(x.imm)}]`;
      if (opMode(x.code) === Mode.IND) return x.imm === 0 ? `r0 = *(${size} *)skb[r${x.src}]` : `r0 = *(${size} *)skb[r${x.src} + ${shex(x.imm)}]`;
      const wide = (BigInt(insns[i + 1]!.imm >>> 0) << 32n) | BigInt(x.imm >>> 0);
      if (x.src === PseudoLd.IMM64) return `r${x.dst} = ${shex(BigInt.asIntN(64, wide))} ll`;
      // objdump prints only the low half, unsigned; we add the high half when it is set.
      return `ld_pseudo\tr${x.dst}, ${shex(x.src)}, 0x${wide.toString(16)}`;
    }
    default: {
      const op = jmpOp(x.code);
      if (op === JmpOp.CALL) {
        if (x.src === PseudoCall.LOCAL) return `call ${x.imm < 0 ? "-" : "+"}0x${Math.abs(x.imm).toString(16)}`;
        if (x.src === PseudoCall.KFUNC) return kernelCall(x, names);
        const name = lookup(names?.helpers, x.imm);
        return name === undefined ? `call ${uhex32(x.imm)}` : `call ${name}`;
      }
      if (op === JmpOp.EXIT) return "exit";
      const target = (n: number): string => `${n < 0 ? "-" : "+"}0x${Math.abs(n).toString(16)}`;
      if (op === JmpOp.JA) return cls === Class.JMP ? `goto ${target(x.off)}` : `gotol ${target(x.imm)}`;
      if (op === JmpOp.JCOND) return `may_goto ${target(x.off)}`;
      const rhs = opSource(x.code) === Source.X ? `${w}${x.src}` : shex(x.imm);
      return `if ${w}${x.dst} ${jmpSym[op]} ${rhs} goto ${target(x.off)}`;
    }
  }
}
