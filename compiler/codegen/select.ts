// Instruction selection: IR blocks to machine blocks over virtual registers.
// Takes an `IrFunction`; gives `MBlock`s in the same order, every block ending in a jump or exit.
//
// Physical registers appear only in fixed patterns: r1 copied out at entry, helper arguments
// moved into r1-r5 right before a call, r0 copied out right after it, and r0 set right before
// exit. Register allocation relies on r0-r5 being dead everywhere else.

import { AluOp, AtomicOp, Class, FP, JmpOp, Mode, Op, PseudoLd, Size, Source, type Reg } from "../isa/opcodes.js";
import { Helper } from "../isa/helpers.js";
import { CoreReloKind } from "../btf/core.js";
import { normalize, widens, type BinOp, type BitfieldShifts, type CallArg, type CmpOp, type Inst, type IntType, type IrFunction, type Loc, type Operand, type StackAddr, type Terminator, type VReg } from "../ir/index.js";
import { evalCmp } from "../ir/branches.js";
import { VBASE, type MBlock, type MInsn } from "./machine.js";
import { wideRegisters } from "./width.js";

const ALU: Record<BinOp, number> = {
  add: AluOp.ADD, sub: AluOp.SUB, mul: AluOp.MUL, div: AluOp.DIV, mod: AluOp.MOD,
  and: AluOp.AND, or: AluOp.OR, xor: AluOp.XOR, shl: AluOp.LSH, shr: AluOp.RSH,
};

const JMP: Record<CmpOp, [unsigned: number, signed: number]> = {
  eq: [JmpOp.JEQ, JmpOp.JEQ], ne: [JmpOp.JNE, JmpOp.JNE],
  gt: [JmpOp.JGT, JmpOp.JSGT], ge: [JmpOp.JGE, JmpOp.JSGE],
  lt: [JmpOp.JLT, JmpOp.JSLT], le: [JmpOp.JLE, JmpOp.JSLE],
};
const MIRROR: Record<CmpOp, CmpOp> = { eq: "eq", ne: "ne", gt: "lt", ge: "le", lt: "gt", le: "ge" };

const fitsImm32 = (v: bigint): boolean => v >= -0x80000000n && v <= 0x7fffffffn;
const SIZES: Record<1 | 2 | 4 | 8, number> = { 1: Size.B, 2: Size.H, 4: Size.W, 8: Size.DW };

export function selectFunction(fn: IrFunction, blocks = fn.blocks): MBlock[] {
  let nextVreg = fn.vregCount;
  const out: MBlock[] = [];
  let cur: MInsn[] = [];
  let loc: Loc | undefined;
  const wide = wideRegisters({ ...fn, blocks });

  const put = (code: number, dst: number, src: number, off: number, imm: number, extra: Partial<MInsn> = {}): void => {
    cur.push({ code, dst, src, off, imm: imm | 0, loc, ...extra });
  };
  const vr = (v: VReg): number => VBASE + v.id;
  const temp = (): number => VBASE + nextVreg++;
  const alu = (is64: boolean, op: number, dst: number, src: number | { imm: number }, off = 0): void => {
    const cls = is64 ? Class.ALU64 : Class.ALU;
    if (typeof src === "number") put(cls | op | Source.X, dst, src, off, 0);
    else put(cls | op | Source.K, dst, 0, off, src.imm);
  };
  const lddw = (dst: number, v: bigint): void => {
    const u = BigInt.asUintN(64, v);
    put(Op.LDDW, dst, PseudoLd.IMM64, 0, Number(u & 0xffffffffn), { hi: Number(u >> 32n) | 0 });
  };
  /** dst = 64-bit constant. */
  const loadImm = (dst: number, v: bigint): void => {
    if (fitsImm32(v)) alu(true, AluOp.MOV, dst, { imm: Number(v) });
    else lddw(dst, v);
  };
  /** A register holding the operand (a fresh temporary for constants). */
  const inReg = (o: Operand): number => {
    if (o.kind === "reg") return vr(o);
    const t = temp();
    loadImm(t, o.value);
    return t;
  };
  /** Re-establishes the extension invariant of `t` in `r` after a narrowing or a 32-bit op. */
  const fixup = (r: number, t: IntType): void => {
    if (t.bits === 64) return;
    if (t.signed) {
      alu(true, AluOp.LSH, r, { imm: 64 - t.bits });
      alu(true, AluOp.ARSH, r, { imm: 64 - t.bits });
    } else if (t.bits === 32) alu(false, AluOp.MOV, r, r);
    else alu(true, AluOp.AND, r, { imm: t.bits === 16 ? 0xffff : 0xff });
  };
  /** Like `fixup`, but a 32-bit extension is skipped when no use of `v` reads its upper half. */
  const extend = (r: number, t: IntType, v: VReg | undefined): void => {
    if (t.bits === 32 && v && !wide.has(v.id)) return;
    fixup(r, t);
  };
  /** dst = src converted to dstType; `v` is the register defined (absent: only the low 32 bits matter). */
  const move = (dst: number, dstType: IntType, src: Operand, v: VReg | undefined): void => {
    if (src.kind === "imm") return loadImm(dst, normalize(src.value, dstType));
    if (vr(src) !== dst) alu(true, AluOp.MOV, dst, vr(src));
    if (!widens(src.type, dstType)) extend(dst, dstType, v);
  };

  const inst = (i: Inst): void => {
    loc = i.loc;
    switch (i.op) {
      case "mov":
        return move(vr(i.dst), i.dst.type, i.src, i.dst);
      case "bin": {
        const t = i.dst.type;
        const is64 = t.bits === 64;
        const d = vr(i.dst);
        let op = ALU[i.kind];
        if (i.kind === "shr" && t.signed) op = AluOp.ARSH;
        const off = (i.kind === "div" || i.kind === "mod") && t.signed ? 1 : 0;
        // Two-address form: d = a, then d op= b. If b lives in d's register, copy b out first.
        let b: number | { imm: number };
        if (i.b.kind === "imm") {
          const v = is64 ? i.b.value : BigInt.asIntN(32, i.b.value);
          b = fitsImm32(v) ? { imm: Number(v) } : inReg(i.b);
        } else b = vr(i.b);
        if (typeof b === "number" && b === d && !(i.a.kind === "reg" && vr(i.a) === d)) {
          const t2 = temp();
          alu(true, AluOp.MOV, t2, b);
          b = t2;
        }
        if (i.a.kind === "imm") loadImm(d, i.a.value);
        else if (vr(i.a) !== d) alu(true, AluOp.MOV, d, vr(i.a));
        alu(is64, op, d, b, off);
        // 32-bit ALU ops zero-extend their result; only signed results need extending again, unless an AND with a
        // mask below the sign bit left it non-negative (`w1 &= 1`), where zero and sign extension agree.
        const nonNegative = i.kind === "and" && typeof b === "object" && b.imm >= 0 && b.imm < 2 ** (t.bits - 1);
        if (!is64 && t.signed && !nonNegative) extend(d, t, i.dst);
        return;
      }
      case "neg":
      case "not": {
        const t = i.dst.type;
        const is64 = t.bits === 64;
        const d = vr(i.dst);
        // A 32-bit op reads only the low half of its operand.
        move(d, t, i.a, is64 ? i.dst : undefined);
        if (i.op === "neg") put((is64 ? Class.ALU64 : Class.ALU) | AluOp.NEG, d, 0, 0, 0);
        else alu(is64, AluOp.XOR, d, { imm: -1 });
        if (!is64 && t.signed) extend(d, t, i.dst);
        return;
      }
      case "bswap": {
        // BPF_END to big endian swaps on these little-endian targets (and zeroes the bits above 16 or 32); the
        // unconditional BPF_ALU64 form needs cpu v4.
        const d = vr(i.dst);
        if (i.a.kind === "imm") loadImm(d, i.a.value);
        else if (vr(i.a) !== d) alu(true, AluOp.MOV, d, vr(i.a));
        put(Class.ALU | AluOp.END | Source.X, d, 0, 0, i.dst.type.bits);
        return;
      }
      case "ctx": {
        const d = vr(i.dst);
        put(Class.LDX | 0x60 | SIZES[i.size], d, vr(fn.ctx), i.offset, 0);
        const loaded: IntType = { bits: (i.size * 8) as 8 | 16 | 32 | 64, signed: i.signed };
        if (i.signed && i.size < 8) extend(d, loaded, i.dst);
        if (!widens(loaded, i.dst.type)) extend(d, i.dst.type, i.dst);
        return;
      }
      case "store": {
        if (i.src.kind === "stack") {
          const t = temp();
          alu(true, AluOp.MOV, t, FP);
          alu(true, AluOp.ADD, t, { imm: i.src.offset ?? 0 });
          cur[cur.length - 1]!.frame = i.src.object;
          put(Class.STX | 0x60 | Size.DW, FP, t, i.offset, 0, { frame: i.object });
          return;
        }
        if (i.src.kind === "imm" && fitsImm32(i.src.value)) put(Class.ST | 0x60 | Size.DW, FP, 0, i.offset, Number(i.src.value), { frame: i.object });
        else put(Class.STX | 0x60 | Size.DW, FP, inReg(i.src), i.offset, 0, { frame: i.object });
        return;
      }
      case "kread": {
        const d = vr(i.dst);
        if (i.bitfield && i.object !== undefined) return bitfieldRead(i, i.bitfield, i.object, d);
        if (i.object === undefined) put(Class.LDX | Mode.MEM | SIZES[i.size], d, inReg(i.ptr), i.offset, 0, i.core ? { core: i.core } : {});
        else {
          probeReadKernel(i, i.object);
          put(Class.LDX | Mode.MEM | SIZES[i.size], d, FP, 0, 0, { frame: i.object });
        }
        const loaded: IntType = { bits: (i.size * 8) as 8 | 16 | 32 | 64, signed: i.signed };
        if (i.signed && i.size < 8) extend(d, loaded, i.dst);
        if (!widens(loaded, i.dst.type)) extend(d, i.dst.type, i.dst);
        return;
      }
      case "kcopy":
        probeReadKernel(i, i.into);
        return;
      case "load": {
        const d = vr(i.dst);
        if (i.base.kind === "stack") put(Class.LDX | Mode.MEM | SIZES[i.size], d, FP, (i.base.offset ?? 0) + i.offset, 0, { frame: i.base.object });
        else put(Class.LDX | Mode.MEM | SIZES[i.size], d, vr(i.base), i.offset, 0);
        const loaded: IntType = { bits: (i.size * 8) as 8 | 16 | 32 | 64, signed: i.signed };
        if (i.signed && i.size < 8) extend(d, loaded, i.dst);
        if (!widens(loaded, i.dst.type)) extend(d, i.dst.type, i.dst);
        return;
      }
      case "st": {
        const [base, off, extra] = i.base.kind === "stack" ? [FP, (i.base.offset ?? 0) + i.offset, { frame: i.base.object }] : [vr(i.base), i.offset, {}];
        const v = i.src.kind === "imm" ? (i.size < 8 ? BigInt.asIntN(i.size * 8, i.src.value) : i.src.value) : undefined;
        if (v !== undefined && fitsImm32(v)) put(Class.ST | Mode.MEM | SIZES[i.size], base, 0, off, Number(v), extra);
        else put(Class.STX | Mode.MEM | SIZES[i.size], base, inReg(i.src), off, 0, extra);
        return;
      }
      case "atomic": {
        if (!i.dst) return put(Class.STX | Mode.ATOMIC | SIZES[i.size], vr(i.ptr), inReg(i.src), i.offset, AtomicOp.ADD);
        // A fetch-and-add: the source register receives the old value (zero-extended from 32 bits for a u32 add).
        const d = vr(i.dst);
        if (i.src.kind === "imm") loadImm(d, i.src.value);
        else alu(true, AluOp.MOV, d, vr(i.src));
        put(Class.STX | Mode.ATOMIC | SIZES[i.size], vr(i.ptr), d, i.offset, AtomicOp.ADD | AtomicOp.FETCH);
        const fetched: IntType = { bits: (i.size * 8) as 32 | 64, signed: false };
        if (!widens(fetched, i.dst.type)) extend(d, i.dst.type, i.dst);
        return;
      }
      case "addr":
        alu(true, AluOp.MOV, vr(i.dst), FP);
        alu(true, AluOp.ADD, vr(i.dst), { imm: i.offset });
        cur[cur.length - 1]!.frame = i.object;
        return;
      case "rodata":
      case "bss":
        put(Op.LDDW, vr(i.dst), 0, 0, i.offset, { hi: 0, reloc: `.${i.op}` });
        return;
      case "call": {
        i.args.forEach((a, n) => argument((n + 1) as Reg, a));
        put(Op.CALL, 0, 0, 0, i.helper, { args: i.args.length });
        if (i.dst) {
          alu(true, AluOp.MOV, vr(i.dst), 0);
          if (i.dst.type.bits < 64) extend(vr(i.dst), i.dst.type, i.dst);
        }
        return;
      }
    }
  };

  const argument = (r: Reg, a: CallArg): void => {
    if (a.kind === "rodata") put(Op.LDDW, r, 0, 0, a.offset, { hi: 0, reloc: ".rodata" });
    else if (a.kind === "map") put(Op.LDDW, r, PseudoLd.MAP_FD, 0, 0, { hi: 0, map: a.name });
    else if (a.kind === "stack") {
      alu(true, AluOp.MOV, r, FP);
      alu(true, AluOp.ADD, r, { imm: a.offset ?? 0 });
      cur[cur.length - 1]!.frame = a.object;
    } else if (a.kind === "imm") loadImm(r, a.value);
    else alu(true, AluOp.MOV, r, vr(a));
  };

  /** bpf_probe_read_kernel(into, size, ptr + offset); the add carries the CO-RE relocation, and the size's `mov` a bitfield's. */
  const probeReadKernel = (i: Extract<Inst, { op: "kread" | "kcopy" }>, into: number | StackAddr): void => {
    argument(3, i.ptr);
    put(Class.ALU64 | AluOp.ADD | Source.K, 3, 0, 0, i.offset, i.core ? { core: i.core } : {});
    argument(1, typeof into === "number" ? { kind: "stack", object: into } : into);
    // The verifier needs the size as a known constant: a `mov` of an immediate, which CO-RE may rewrite.
    if (i.op === "kread" && i.bitfield && i.core) put(Class.ALU64 | AluOp.MOV | Source.K, 2, 0, 0, i.size, { core: { ...i.core, kind: CoreReloKind.FIELD_BYTE_SIZE } });
    else loadImm(2, BigInt(i.size));
    put(Op.CALL, 0, 0, 0, Helper.probe_read_kernel, { args: 3 });
  };

  /**
   * A bitfield: its storage unit probe-read into the low bytes of a zeroed u64 (little-endian), then shifted left to
   * drop the bits above it and right to drop those below, arithmetically for a signed one; the value ends extended
   * to 64 bits as its type says. The shifts carry their CO-RE relocations.
   */
  const bitfieldRead = (i: Extract<Inst, { op: "kread" }>, shifts: BitfieldShifts, object: number, d: number): void => {
    put(Class.ST | Mode.MEM | Size.DW, FP, 0, 0, 0, { frame: object });
    probeReadKernel(i, object);
    put(Class.LDX | Mode.MEM | Size.DW, d, FP, 0, 0, { frame: object });
    const relocated = (kind: number): Partial<MInsn> => (i.core ? { core: { ...i.core, kind } } : {});
    put(Class.ALU64 | AluOp.LSH | Source.K, d, 0, 0, shifts.lshift, relocated(CoreReloKind.FIELD_LSHIFT_U64));
    put(Class.ALU64 | (i.signed ? AluOp.ARSH : AluOp.RSH) | Source.K, d, 0, 0, shifts.rshift, relocated(CoreReloKind.FIELD_RSHIFT_U64));
  };

  const term = (t: Terminator): void => {
    loc = t.loc;
    switch (t.op) {
      case "jmp":
        put(Op.JA, 0, 0, 0, 0, { target: t.target });
        return;
      case "ret":
        if (t.value.kind === "imm") loadImm(0, t.value.value);
        else alu(true, AluOp.MOV, 0, vr(t.value));
        put(Op.EXIT, 0, 0, 0, 0);
        return;
      case "br": {
        let { a, b, cmp } = t;
        if (a.kind === "imm" && b.kind === "imm") {
          put(Op.JA, 0, 0, 0, 0, { target: evalCmp(cmp, t.signed, a.value, b.value) ? t.then : t.else });
          return;
        }
        if (a.kind === "imm") [a, b, cmp] = [b, a, MIRROR[cmp]];
        const op = JMP[cmp][t.signed ? 1 : 0]!;
        const ra = vr(a as VReg);
        if (b.kind === "imm" && fitsImm32(b.value)) put(Class.JMP | op | Source.K, ra, 0, 0, Number(b.value), { target: t.then });
        else put(Class.JMP | op | Source.X, ra, inReg(b), 0, 0, { target: t.then });
        put(Op.JA, 0, 0, 0, 0, { target: t.else });
        return;
      }
    }
  };

  blocks.forEach((block, n) => {
    cur = [];
    if (n === 0) {
      loc = fn.loc;
      alu(true, AluOp.MOV, vr(fn.ctx), 1);
    }
    for (const i of block.insts) inst(i);
    if (block.term) term(block.term);
    else {
      loc = undefined;
      loadImm(0, 0n);
      put(Op.EXIT, 0, 0, 0, 0);
    }
    out.push({ id: block.id, insns: cur });
  });
  return out;
}
