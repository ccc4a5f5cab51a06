// BPF instructions as 8-byte slots: the data type, builders, encoding and validation.
// Takes raw bytes or field values; gives checked `Insn` arrays and their little-endian encoding.
//
// A program is an array of slots exactly as the kernel sees it: the 16-byte LDDW takes two
// slots (the second has opcode 0 and carries the upper 32 bits in imm), and jump offsets,
// instruction indices in errors and the verifier log all count slots.

import {
  AluOp,
  AtomicOp,
  Class,
  JmpOp,
  MAX_REG,
  Mode,
  Op,
  PseudoCall,
  PseudoLd,
  Size,
  Source,
  aluOp,
  atomicImms,
  isLoadStoreAtomic,
  jmpOp,
  opClass,
  opMode,
  opSize,
  opSource,
  type Reg,
} from "./opcodes.js";

export interface Insn {
  /** 8-bit opcode. */
  code: number;
  /** Destination register, 0-15 as encoded (valid programs use 0-10). */
  dst: number;
  /** Source register, or the pseudo source of LDDW and CALL. */
  src: number;
  /** Signed 16-bit offset. */
  off: number;
  /** Signed 32-bit immediate. */
  imm: number;
}

export const INSN_SIZE = 8;

/** An encoding the instruction set does not allow, located by slot index. */
export class IsaError extends Error {
  constructor(
    readonly index: number,
    readonly reason: string,
  ) {
    super(`instruction ${index}: ${reason}`);
    this.name = "IsaError";
  }
}

// ---------------------------------------------------------------- encode / decode

/** Encodes slots to the little-endian wire format. */
export function encode(insns: readonly Insn[]): Uint8Array {
  const out = new Uint8Array(insns.length * INSN_SIZE);
  const view = new DataView(out.buffer);
  insns.forEach((insn, i) => {
    const at = i * INSN_SIZE;
    out[at] = insn.code & 0xff;
    out[at + 1] = ((insn.src & 0xf) << 4) | (insn.dst & 0xf);
    view.setInt16(at + 2, insn.off, true);
    view.setInt32(at + 4, insn.imm, true);
  });
  return out;
}

/** Decodes little-endian bytes to slots; with `check` (the default) rejects malformed programs. */
export function decode(bytes: Uint8Array, options: { check?: boolean } = {}): Insn[] {
  if (bytes.length % INSN_SIZE !== 0) {
    throw new IsaError(Math.floor(bytes.length / INSN_SIZE), `program length ${bytes.length} is not a multiple of 8 bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const insns: Insn[] = [];
  for (let at = 0; at < bytes.length; at += INSN_SIZE) {
    const regs = bytes[at + 1]!;
    insns.push({
      code: bytes[at]!,
      dst: regs & 0xf,
      src: regs >> 4,
      off: view.getInt16(at + 2, true),
      imm: view.getInt32(at + 4, true),
    });
  }
  if (options.check ?? true) checkProgram(insns);
  return insns;
}

// ---------------------------------------------------------------- validation

/** True when slot `i` starts a 16-byte LDDW. */
export const isWide = (insn: Insn): boolean => insn.code === Op.LDDW;

/** The 64-bit immediate of the LDDW at `i` (low half in slot i, high half in slot i+1). */
export function wideImm(insns: readonly Insn[], i: number): bigint {
  const lo = BigInt(insns[i]!.imm >>> 0);
  const hi = BigInt((insns[i + 1]?.imm ?? 0) >>> 0);
  return (hi << 32n) | lo;
}

/** Checks every slot's encoding and that jumps land on instruction starts inside the program. */
export function checkProgram(insns: readonly Insn[]): void {
  if (insns.length === 0) throw new IsaError(0, "empty program");
  const starts = new Uint8Array(insns.length);
  for (let i = 0; i < insns.length; i++) {
    const reason = checkInsn(insns, i);
    if (reason) throw new IsaError(i, reason);
    starts[i] = 1;
    if (isWide(insns[i]!)) i++;
  }
  for (let i = 0; i < insns.length; i++) {
    if (!starts[i]) continue;
    const target = jumpTarget(insns, i);
    if (target === undefined) continue;
    if (target < 0 || target >= insns.length) throw new IsaError(i, `jump out of range: target ${target}, program has ${insns.length} instructions`);
    if (!starts[target]) throw new IsaError(i, `jump into the middle of an LDDW at ${target - 1}`);
  }
}

/** Slot index a jump or local call at `i` goes to; undefined for other instructions. */
export function jumpTarget(insns: readonly Insn[], i: number): number | undefined {
  const insn = insns[i]!;
  const cls = opClass(insn.code);
  if (cls !== Class.JMP && cls !== Class.JMP32) return undefined;
  const op = jmpOp(insn.code);
  if (op === JmpOp.EXIT) return undefined;
  if (op === JmpOp.CALL) return insn.src === PseudoCall.LOCAL ? i + 1 + insn.imm : undefined;
  if (cls === Class.JMP32 && op === JmpOp.JA) return i + 1 + insn.imm;
  return i + 1 + insn.off;
}

const badReg = (r: number): boolean => r > MAX_REG;

/** The reason slot `i` is malformed, or undefined when it is well formed. */
export function checkInsn(insns: readonly Insn[], i: number): string | undefined {
  const insn = insns[i]!;
  const { code, dst, src, off, imm } = insn;
  const cls = opClass(code);
  const hex = `0x${code.toString(16).padStart(2, "0")}`;
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      const op = aluOp(code);
      const x = opSource(code) === Source.X;
      if (badReg(dst)) return `invalid destination register r${dst}`;
      if (op > AluOp.END) return `unknown opcode ${hex}`;
      if (op === AluOp.END) {
        if (cls === Class.ALU64 && x) return `unknown opcode ${hex}`;
        if (src !== 0 || off !== 0) return "BPF_END uses reserved fields";
        if (imm !== 16 && imm !== 32 && imm !== 64) return `invalid byte swap width ${imm}`;
        return undefined;
      }
      if (op === AluOp.NEG) {
        if (x || src !== 0 || off !== 0 || imm !== 0) return "BPF_NEG uses reserved fields";
        return undefined;
      }
      if (x) {
        if (badReg(src)) return `invalid source register r${src}`;
        if (imm !== 0) return "reserved field imm is not zero";
      } else if (src !== 0) return "reserved field src is not zero";
      if (op === AluOp.MOV) {
        if (!x && off !== 0) return "reserved field off is not zero";
        const widths = cls === Class.ALU64 ? [0, 8, 16, 32] : [0, 8, 16];
        if (!widths.includes(off)) return `invalid sign-extension width ${off}`;
        return undefined;
      }
      if (op === AluOp.DIV || op === AluOp.MOD) {
        if (off !== 0 && off !== 1) return "reserved field off is not 0 or 1";
        return undefined;
      }
      if (off !== 0) return "reserved field off is not zero";
      return undefined;
    }
    case Class.JMP:
    case Class.JMP32: {
      const op = jmpOp(code);
      const x = opSource(code) === Source.X;
      if (op === JmpOp.JCOND) {
        if (cls === Class.JMP32 || x) return `unknown opcode ${hex}`;
        if (src !== 0) return `unknown BPF_JCOND kind src=${src} (may_goto is src 0)`;
        if (dst !== 0 || imm !== 0) return "may_goto uses reserved fields";
        return undefined;
      }
      if (op > JmpOp.JSLE) return `unknown opcode ${hex}`;
      if (op === JmpOp.JA) {
        if (x || dst !== 0 || src !== 0) return "BPF_JA uses reserved fields";
        if (cls === Class.JMP && imm !== 0) return "BPF_JA uses reserved fields";
        if (cls === Class.JMP32 && off !== 0) return "BPF_JA uses reserved fields";
        return undefined;
      }
      if (op === JmpOp.CALL || op === JmpOp.EXIT) {
        if (cls === Class.JMP32 || x) return `unknown opcode ${hex}`;
        if (op === JmpOp.EXIT) {
          if (dst !== 0 || src !== 0 || off !== 0 || imm !== 0) return "BPF_EXIT uses reserved fields";
          return undefined;
        }
        if (dst !== 0) return "BPF_CALL uses reserved fields";
        if (src !== PseudoCall.HELPER && src !== PseudoCall.LOCAL && src !== PseudoCall.KFUNC) return `invalid call kind src=${src}`;
        if (src !== PseudoCall.KFUNC && off !== 0) return "BPF_CALL uses reserved fields";
        return undefined;
      }
      if (badReg(dst)) return `invalid destination register r${dst}`;
      if (x) {
        if (badReg(src)) return `invalid source register r${src}`;
        if (imm !== 0) return "reserved field imm is not zero";
      } else if (src !== 0) return "reserved field src is not zero";
      return undefined;
    }
    case Class.LD: {
      const mode = opMode(code);
      if (mode === Mode.IMM) {
        if (opSize(code) !== Size.DW) return `unknown opcode ${hex}`;
        if (badReg(dst)) return `invalid destination register r${dst}`;
        if (src > PseudoLd.MAP_IDX_VALUE) return `invalid LDDW pseudo source ${src}`;
        if (off !== 0) return "reserved field off is not zero";
        const next = insns[i + 1];
        if (!next) return "truncated LDDW: the second half is missing";
        if (next.code !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0) return "invalid LDDW: the second half uses reserved fields";
        // The kernel rejects a map fd or index load whose upper half is set ("unrecognized bpf_ld_imm64 insn").
        if ((src === PseudoLd.MAP_FD || src === PseudoLd.MAP_IDX) && next.imm !== 0) return "invalid LDDW: a map load uses the reserved upper half";
        return undefined;
      }
      if (mode === Mode.ABS || mode === Mode.IND) {
        if (opSize(code) === Size.DW) return `unknown opcode ${hex}`;
        if (dst !== 0 || off !== 0 || (mode === Mode.ABS && src !== 0)) return "BPF_LD_[ABS|IND] uses reserved fields";
        if (badReg(src)) return `invalid source register r${src}`;
        return undefined;
      }
      return `unknown opcode ${hex}`;
    }
    case Class.LDX: {
      const mode = opMode(code);
      if (mode !== Mode.MEM && mode !== Mode.MEMSX) return `unknown opcode ${hex}`;
      if (mode === Mode.MEMSX && opSize(code) === Size.DW) return `unknown opcode ${hex}`;
      if (badReg(dst)) return `invalid destination register r${dst}`;
      if (badReg(src)) return `invalid source register r${src}`;
      if (imm !== 0) return "BPF_LDX uses reserved fields";
      return undefined;
    }
    case Class.ST: {
      if (opMode(code) !== Mode.MEM) return `unknown opcode ${hex}`;
      if (badReg(dst)) return `invalid destination register r${dst}`;
      if (src !== 0) return "BPF_ST uses reserved fields";
      return undefined;
    }
    case Class.STX: {
      const mode = opMode(code);
      if (badReg(dst)) return `invalid destination register r${dst}`;
      if (badReg(src)) return `invalid source register r${src}`;
      if (mode === Mode.MEM) {
        if (imm !== 0) return "BPF_STX uses reserved fields";
        return undefined;
      }
      if (mode === Mode.ATOMIC) {
        const size = opSize(code);
        // Load-acquire and store-release take any size; the read-modify-write operations 32 or 64 bits.
        if (isLoadStoreAtomic(imm)) return undefined;
        if (size !== Size.W && size !== Size.DW) return "invalid atomic operand size";
        if (!atomicImms.includes(imm)) return `invalid atomic operation 0x${(imm >>> 0).toString(16)}`;
        return undefined;
      }
      return `unknown opcode ${hex}`;
    }
  }
  return `unknown opcode ${hex}`;
}

// ---------------------------------------------------------------- builders

const insn = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm: imm | 0 });

export const alu64Imm = (op: AluOp, dst: Reg, imm: number, off = 0): Insn => insn(Class.ALU64 | op | Source.K, dst, 0, off, imm);
export const alu64Reg = (op: AluOp, dst: Reg, src: Reg, off = 0): Insn => insn(Class.ALU64 | op | Source.X, dst, src, off, 0);
export const alu32Imm = (op: AluOp, dst: Reg, imm: number, off = 0): Insn => insn(Class.ALU | op | Source.K, dst, 0, off, imm);
export const alu32Reg = (op: AluOp, dst: Reg, src: Reg, off = 0): Insn => insn(Class.ALU | op | Source.X, dst, src, off, 0);
export const mov64Imm = (dst: Reg, imm: number): Insn => alu64Imm(AluOp.MOV, dst, imm);
export const mov64Reg = (dst: Reg, src: Reg): Insn => alu64Reg(AluOp.MOV, dst, src);
export const mov32Imm = (dst: Reg, imm: number): Insn => alu32Imm(AluOp.MOV, dst, imm);
export const mov32Reg = (dst: Reg, src: Reg): Insn => alu32Reg(AluOp.MOV, dst, src);
/** `dst = (sN)src`: sign-extending move from 8, 16 or 32 bits. */
export const movsx64 = (dst: Reg, src: Reg, bits: 8 | 16 | 32): Insn => alu64Reg(AluOp.MOV, dst, src, bits);
export const movsx32 = (dst: Reg, src: Reg, bits: 8 | 16): Insn => alu32Reg(AluOp.MOV, dst, src, bits);
export const neg64 = (dst: Reg): Insn => insn(Class.ALU64 | AluOp.NEG, dst, 0, 0, 0);
export const neg32 = (dst: Reg): Insn => insn(Class.ALU | AluOp.NEG, dst, 0, 0, 0);
/** Legacy byte-order conversion (ALU class): to little or big endian. */
export const endian = (order: "le" | "be", dst: Reg, bits: 16 | 32 | 64): Insn =>
  insn(Class.ALU | AluOp.END | (order === "be" ? Source.X : Source.K), dst, 0, 0, bits);
/** Unconditional byte swap (ALU64 class). */
export const bswap = (dst: Reg, bits: 16 | 32 | 64): Insn => insn(Class.ALU64 | AluOp.END, dst, 0, 0, bits);

export const ldx = (size: Size, dst: Reg, src: Reg, off: number): Insn => insn(Class.LDX | Mode.MEM | size, dst, src, off, 0);
export const ldxsx = (size: Size, dst: Reg, src: Reg, off: number): Insn => insn(Class.LDX | Mode.MEMSX | size, dst, src, off, 0);
export const stx = (size: Size, dst: Reg, src: Reg, off: number): Insn => insn(Class.STX | Mode.MEM | size, dst, src, off, 0);
export const st = (size: Size, dst: Reg, off: number, imm: number): Insn => insn(Class.ST | Mode.MEM | size, dst, 0, off, imm);
export const atomic = (size: typeof Size.W | typeof Size.DW, op: number, dst: Reg, src: Reg, off: number): Insn =>
  insn(Class.STX | Mode.ATOMIC | size, dst, src, off, op);
/** `dst = load_acquire((size *)(src + off))`: a load ordered before every later access. */
export const loadAcquire = (size: Size, dst: Reg, src: Reg, off: number): Insn => insn(Class.STX | Mode.ATOMIC | size, dst, src, off, AtomicOp.LOAD_ACQ);
/** `store_release((size *)(dst + off), src)`: a store ordered after every earlier access. */
export const storeRelease = (size: Size, dst: Reg, src: Reg, off: number): Insn => insn(Class.STX | Mode.ATOMIC | size, dst, src, off, AtomicOp.STORE_REL);
export const ldAbs = (size: Size, imm: number): Insn => insn(Class.LD | Mode.ABS | size, 0, 0, 0, imm);
export const ldInd = (size: Size, src: Reg, imm: number): Insn => insn(Class.LD | Mode.IND | size, 0, src, 0, imm);

/** The two slots of `dst = imm64` (or a pseudo load of a map, map value, BTF id or function). */
export function lddw(dst: Reg, value: bigint, pseudo: PseudoLd = PseudoLd.IMM64): [Insn, Insn] {
  const v = BigInt.asUintN(64, value);
  return [insn(Op.LDDW, dst, pseudo, 0, Number(v & 0xffffffffn)), insn(0, 0, 0, 0, Number(v >> 32n))];
}
/** `dst = map[fd]`: the pseudo LDDW that the loader patches with a map's fd. */
export const ldMapFd = (dst: Reg, fd: number): [Insn, Insn] => lddw(dst, BigInt(fd), PseudoLd.MAP_FD);
/** `dst = &map[fd].value + off`. */
export const ldMapValue = (dst: Reg, fd: number, off: number): [Insn, Insn] => {
  const [a, b] = lddw(dst, 0n, PseudoLd.MAP_VALUE);
  return [{ ...a, imm: fd }, { ...b, imm: off }];
};

export const ja = (off: number): Insn => insn(Op.JA, 0, 0, off, 0);
/** `may_goto pc+off`: jumps once the function's hidden loop counter is exhausted, else counts it down and falls through. */
export const mayGoto = (off: number): Insn => insn(Op.MAY_GOTO, 0, 0, off, 0);
/** `gotol`: JA with a 32-bit offset. */
export const ja32 = (off: number): Insn => insn(Op.JA32, 0, 0, 0, off);
export const jmpImm = (op: JmpOp, dst: Reg, imm: number, off: number): Insn => insn(Class.JMP | op | Source.K, dst, 0, off, imm);
export const jmpReg = (op: JmpOp, dst: Reg, src: Reg, off: number): Insn => insn(Class.JMP | op | Source.X, dst, src, off, 0);
export const jmp32Imm = (op: JmpOp, dst: Reg, imm: number, off: number): Insn => insn(Class.JMP32 | op | Source.K, dst, 0, off, imm);
export const jmp32Reg = (op: JmpOp, dst: Reg, src: Reg, off: number): Insn => insn(Class.JMP32 | op | Source.X, dst, src, off, 0);
/** Call a helper by its id. */
export const call = (helper: number): Insn => insn(Op.CALL, 0, PseudoCall.HELPER, 0, helper);
/** Call a BPF-to-BPF function `off` slots after the next instruction. */
export const callLocal = (off: number): Insn => insn(Op.CALL, 0, PseudoCall.LOCAL, 0, off);
/** Call a kernel function by BTF id (`btfFdIndex` 0 means vmlinux). */
export const callKfunc = (btfId: number, btfFdIndex = 0): Insn => insn(Op.CALL, 0, PseudoCall.KFUNC, btfFdIndex, btfId);
export const exit = (): Insn => insn(Op.EXIT, 0, 0, 0, 0);

export { AtomicOp };
