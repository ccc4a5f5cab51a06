// Instruction inventories for the ISA tests.
// Takes nothing (or a seed); gives one instance of every valid instruction form, and random valid programs.

import {
  AluOp,
  AtomicOp,
  Class,
  JmpOp,
  Mode,
  Op,
  PseudoCall,
  PseudoLd,
  Size,
  Source,
  atomicImms,
  checkProgram,
  jumpTarget,
  type Insn,
} from "../../compiler/isa/index.js";

const s = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });

export const ALU_OPS = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.OR, AluOp.AND, AluOp.LSH, AluOp.RSH, AluOp.MOD, AluOp.XOR, AluOp.MOV, AluOp.ARSH];
export const COND_OPS = [JmpOp.JEQ, JmpOp.JGT, JmpOp.JGE, JmpOp.JSET, JmpOp.JNE, JmpOp.JSGT, JmpOp.JSGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSLT, JmpOp.JSLE];
export const SIZES = [Size.W, Size.H, Size.B, Size.DW];

/** One instruction (1 or 2 slots) of every valid form, with varied operands. */
export function everyForm(): Insn[][] {
  const out: Insn[][] = [];
  let k = 0;
  const reg = (): number => k++ % 11;
  for (const cls of [Class.ALU64, Class.ALU]) {
    for (const op of ALU_OPS) {
      out.push([s(cls | op | Source.K, reg(), 0, 0, op === AluOp.MOV ? -7 : 5)]);
      out.push([s(cls | op | Source.X, reg(), reg())]);
    }
    for (const op of [AluOp.DIV, AluOp.MOD]) {
      out.push([s(cls | op | Source.K, reg(), 0, 1, -3)]);
      out.push([s(cls | op | Source.X, reg(), reg(), 1)]);
    }
    out.push([s(cls | AluOp.NEG, reg())]);
    for (const bits of cls === Class.ALU64 ? [8, 16, 32] : [8, 16]) out.push([s(cls | AluOp.MOV | Source.X, reg(), reg(), bits)]);
    for (const bits of [16, 32, 64]) {
      if (cls === Class.ALU) {
        out.push([s(cls | AluOp.END | Source.K, reg(), 0, 0, bits)]);
        out.push([s(cls | AluOp.END | Source.X, reg(), 0, 0, bits)]);
      } else out.push([s(cls | AluOp.END, reg(), 0, 0, bits)]);
    }
  }
  for (const size of SIZES) {
    out.push([s(Class.LDX | Mode.MEM | size, reg(), reg(), -8)]);
    out.push([s(Class.ST | Mode.MEM | size, reg(), 0, 16, -2)]);
    out.push([s(Class.STX | Mode.MEM | size, reg(), reg(), 0)]);
    if (size !== Size.DW) {
      out.push([s(Class.LDX | Mode.MEMSX | size, reg(), reg(), 2)]);
      out.push([s(Class.LD | Mode.ABS | size, 0, 0, 0, 12)]);
      out.push([s(Class.LD | Mode.IND | size, 0, reg(), 0, 4)]);
    }
  }
  for (const size of [Size.W, Size.DW]) for (const imm of atomicImms) out.push([s(Class.STX | Mode.ATOMIC | size, reg(), reg(), -16, imm)]);
  for (const size of SIZES) {
    out.push([s(Class.STX | Mode.ATOMIC | size, reg(), reg(), -8, AtomicOp.LOAD_ACQ)]);
    out.push([s(Class.STX | Mode.ATOMIC | size, reg(), reg(), 4, AtomicOp.STORE_REL)]);
  }
  out.push([s(Op.LDDW, reg(), PseudoLd.IMM64, 0, 0x9abcdef0 | 0), s(0, 0, 0, 0, 0x12345678)]);
  out.push([s(Op.LDDW, reg(), PseudoLd.IMM64, 0, -1), s(0, 0, 0, 0, -1)]);
  out.push([s(Op.LDDW, reg(), PseudoLd.MAP_FD, 0, 3), s(0)]);
  out.push([s(Op.LDDW, reg(), PseudoLd.MAP_VALUE, 0, 4), s(0, 0, 0, 0, 24)]);
  out.push([s(Op.LDDW, reg(), PseudoLd.BTF_ID, 0, 1234), s(0)]);
  out.push([s(Op.LDDW, reg(), PseudoLd.FUNC, 0, 1), s(0)]);
  out.push([s(Op.LDDW, reg(), PseudoLd.MAP_IDX, 0, 2), s(0)]);
  out.push([s(Op.LDDW, reg(), PseudoLd.MAP_IDX_VALUE, 0, 2), s(0, 0, 0, 0, 8)]);
  for (const cls of [Class.JMP, Class.JMP32]) {
    for (const op of COND_OPS) {
      out.push([s(cls | op | Source.K, reg(), 0, 1, -5)]);
      out.push([s(cls | op | Source.X, reg(), reg(), -1)]);
    }
  }
  out.push([s(Op.JA, 0, 0, 3)]);
  out.push([s(Op.JA32, 0, 0, 0, -4)]);
  out.push([s(Op.MAY_GOTO, 0, 0, 2)]);
  out.push([s(Op.CALL, 0, PseudoCall.HELPER, 0, 1)]);
  out.push([s(Op.CALL, 0, PseudoCall.HELPER, 0, 500)]);
  out.push([s(Op.CALL, 0, PseudoCall.LOCAL, 0, 2)]);
  out.push([s(Op.CALL, 0, PseudoCall.LOCAL, 0, -3)]);
  out.push([s(Op.CALL, 0, PseudoCall.KFUNC, 0, 70000)]);
  out.push([s(Op.CALL, 0, PseudoCall.KFUNC, 2, 70001)]);
  out.push([s(Op.EXIT)]);
  return out;
}

/** A coarse instruction kind: opcode plus the fields that select a different syntax. */
export function kind(x: Insn): string {
  const cls = x.code & 7;
  const op = x.code & 0xf0;
  if (cls === Class.STX && (x.code & 0xe0) === Mode.ATOMIC) return `${x.code}/${x.imm}`;
  if (x.code === Op.LDDW || x.code === Op.CALL) return `${x.code}/src${x.src}`;
  if ((cls === Class.ALU || cls === Class.ALU64) && (op === AluOp.MOV || op === AluOp.DIV || op === AluOp.MOD)) return `${x.code}/off${x.off}`;
  if ((cls === Class.ALU || cls === Class.ALU64) && op === AluOp.END) return `${x.code}/${x.imm}`;
  return `${x.code}`;
}

/** Small deterministic generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random valid program of about `n` instructions: every form, random operands, jumps to real instruction starts. */
export function randomProgram(seed: number, n: number): Insn[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const imm32 = (): number => pick([0, 1, -1, 0x7fffffff, -0x80000000, int(-100, 100), int(-0x80000000, 0x7fffffff)]);
  const off16 = (): number => pick([0, 1, -1, 32767, -32768, int(-512, 512)]);
  const forms = everyForm();
  const insns: Insn[] = [];
  while (insns.length < n) {
    const form = pick(forms).map((x) => ({ ...x }));
    const x = form[0]!;
    const cls = x.code & 7;
    const op = x.code & 0xf0;
    const alu = cls === Class.ALU || cls === Class.ALU64;
    const jmp = cls === Class.JMP || cls === Class.JMP32;
    const cond = jmp && op !== JmpOp.JA && op !== JmpOp.CALL && op !== JmpOp.EXIT && op !== JmpOp.JCOND;
    if (alu || cond || cls === Class.LDX || cls === Class.ST || cls === Class.STX || x.code === Op.LDDW) x.dst = int(0, 10);
    const regSrc = (alu || cond) && (x.code & Source.X) !== 0 && op !== AluOp.END;
    if (regSrc || cls === Class.LDX || cls === Class.STX || (cls === Class.LD && (x.code & 0xe0) === Mode.IND)) x.src = int(0, 10);
    if (x.code === Op.LDDW) {
      if (x.src === PseudoLd.IMM64 || x.src === PseudoLd.MAP_VALUE || x.src === PseudoLd.MAP_IDX_VALUE) form[1]!.imm = imm32();
      x.imm = x.src === PseudoLd.IMM64 ? imm32() : int(0, 1000);
    }
    if (alu) {
      if (!(x.code & Source.X) && op !== AluOp.NEG && op !== AluOp.END) x.imm = imm32();
    } else if (cls === Class.LDX || cls === Class.ST || cls === Class.STX) {
      x.off = off16();
      if (cls === Class.ST) x.imm = imm32();
    } else if (cls === Class.LD && x.code !== Op.LDDW) {
      x.imm = imm32();
    } else if (cond && !(x.code & Source.X)) {
      x.imm = imm32();
    }
    if (x.code === Op.CALL && x.src === PseudoCall.HELPER) x.imm = int(0, 220);
    if (x.code === Op.CALL && x.src === PseudoCall.KFUNC) {
      x.imm = int(1, 200000);
      x.off = int(0, 3);
    }
    insns.push(...form);
  }
  insns.push(s(Op.EXIT));
  // Point every jump at a random instruction start.
  const starts: number[] = [];
  for (let i = 0; i < insns.length; i++) {
    starts.push(i);
    if (insns[i]!.code === Op.LDDW) i++;
  }
  for (const i of starts) {
    const x = insns[i]!;
    if (jumpTarget(insns, i) === undefined && !(x.code === Op.LDDW && x.src === PseudoLd.FUNC)) continue;
    const rel = pick(starts) - (i + 1);
    if (x.code === Op.JA32 || x.code === Op.CALL || x.code === Op.LDDW) x.imm = rel;
    else x.off = rel;
  }
  checkProgram(insns);
  return insns;
}

export { AtomicOp };
