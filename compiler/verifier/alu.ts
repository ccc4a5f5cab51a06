// ALU instructions: field checks, moves (with sign extension and scalar id linking), scalar
// range arithmetic, and the rules for arithmetic on pointers.

import { AluOp, Class, Source, aluOp, opClass, opSource } from "../isa/opcodes.js";
import { type Insn } from "../isa/insn.js";
import { type Env, checkRegRead, checkRegWrite, fail, linkBeforeMov, newId, regs } from "./env.js";
import { MAX_VAR_OFF } from "./memory.js";
import {
  type ScalarOp, S64_MAX, S64_MIN, canComputeRange, coerceSubregToSizeSx, coerceToSizeSx, mark32Unbounded,
  markKnown, markUnbounded, scalarAlu, syncBounds, zext32to64, mark32Known,
} from "./scalar.js";
import { type Reg, clearScalarId, copyReg, isPktPointer, isPointer, knownScalar, setUnknown, typeName, copyState, curFrame } from "./state.js";
import * as tn from "./tnum.js";

const OP_NAMES: Record<number, string> = {
  [AluOp.ADD]: "+=", [AluOp.SUB]: "-=", [AluOp.MUL]: "*=", [AluOp.DIV]: "/=", [AluOp.OR]: "|=", [AluOp.AND]: "&=",
  [AluOp.LSH]: "<<=", [AluOp.RSH]: ">>=", [AluOp.NEG]: "neg", [AluOp.MOD]: "%=", [AluOp.XOR]: "^=", [AluOp.MOV]: "=",
  [AluOp.ARSH]: "s>>=", [AluOp.END]: "endian",
};

const SCALAR_OPS: Record<number, ScalarOp> = {
  [AluOp.ADD]: "add", [AluOp.SUB]: "sub", [AluOp.MUL]: "mul", [AluOp.AND]: "and", [AluOp.OR]: "or",
  [AluOp.XOR]: "xor", [AluOp.LSH]: "lsh", [AluOp.RSH]: "rsh", [AluOp.ARSH]: "arsh",
};

const ptrLeak = (env: Env, r: Reg): boolean => isPointer(r) && !env.privileged;


export function checkAlu(env: Env, insn: Insn): void {
  const op = aluOp(insn.code);
  const alu64 = opClass(insn.code) === Class.ALU64;
  const x = opSource(insn.code) === Source.X;
  const rs = regs(env);
  if (op === AluOp.END || op === AluOp.NEG) {
    if (op === AluOp.NEG) {
      if (x || insn.src !== 0 || insn.off !== 0 || insn.imm !== 0) fail(env, "BPF_NEG uses reserved fields");
    } else if (insn.src !== 0 || insn.off !== 0 || (insn.imm !== 16 && insn.imm !== 32 && insn.imm !== 64) || (alu64 && x)) {
      fail(env, "BPF_END uses reserved fields");
    }
    const r = checkRegRead(env, insn.dst);
    if (ptrLeak(env, r)) fail(env, `R${insn.dst} pointer arithmetic prohibited`, insn.dst);
    checkRegWrite(env, insn.dst);
    if (op === AluOp.NEG && r.type === "scalar") {
      // neg is 0 - dst (range tracking for BPF_NEG, as in recent kernels)
      const src = copyReg(r);
      markKnown(r, 0n);
      scalarAlu(r, src, "sub", !alu64);
      clearScalarId(r);
      return;
    }
    if (op === AluOp.END && r.type === "scalar") {
      // byte swaps and truncations move known bits, as recent kernels track them (the host is little-endian)
      const bits = insn.imm as 16 | 32 | 64;
      const swap = alu64 || x;
      r.vo = swap ? tn.byteSwap(r.vo, bits) : tn.truncate(r.vo, bits);
      markUnbounded(r);
      syncBounds(r);
      clearScalarId(r);
      return;
    }
    setUnknown(r);
    return;
  }
  if (op === AluOp.MOV) {
    if (x) {
      if (!alu64) {
        if ((insn.off !== 0 && insn.off !== 8 && insn.off !== 16) || insn.imm) fail(env, "BPF_MOV uses reserved fields");
      } else if ((insn.off !== 0 && insn.off !== 8 && insn.off !== 16 && insn.off !== 32) || insn.imm) {
        fail(env, "BPF_MOV uses reserved fields");
      }
      checkRegRead(env, insn.src);
    } else if (insn.src !== 0 || insn.off !== 0) {
      fail(env, "BPF_MOV uses reserved fields");
    }
    checkRegWrite(env, insn.dst);
    if (!x) {
      rs[insn.dst] = knownScalar(alu64 ? BigInt(insn.imm) : BigInt(insn.imm >>> 0));
      return;
    }
    const src = rs[insn.src]!;
    if (alu64) {
      if (insn.off === 0) {
        linkBeforeMov(env, src);
        rs[insn.dst] = copyReg(src);
        return;
      }
      if (ptrLeak(env, src)) fail(env, `R${insn.src} sign-extension part of pointer`, insn.src);
      if (src.type !== "scalar") {
        setUnknown(rs[insn.dst]!);
        return;
      }
      const noSext = src.umax < 1n << BigInt(insn.off - 1);
      if (noSext) linkBeforeMov(env, src);
      const d = copyReg(src);
      if (!noSext) clearScalarId(d);
      coerceToSizeSx(d, insn.off >> 3);
      rs[insn.dst] = d;
      return;
    }
    if (ptrLeak(env, src)) fail(env, `R${insn.src} partial copy of pointer`, insn.src);
    let d: Reg;
    if (src.type === "scalar") {
      const width = src.umax === 0n ? 0 : tn.bitLength(src.umax);
      if (insn.off === 0) {
        if (width <= 32) linkBeforeMov(env, src);
        d = copyReg(src);
        if (width > 32) clearScalarId(d);
      } else {
        const noSext = src.umax < 1n << BigInt(insn.off - 1);
        if (noSext) linkBeforeMov(env, src);
        d = copyReg(src);
        if (!noSext) clearScalarId(d);
        coerceSubregToSizeSx(d, insn.off >> 3);
      }
    } else {
      d = knownScalar(0n);
      setUnknown(d);
    }
    zext32to64(d);
    syncBounds(d);
    rs[insn.dst] = d;
    return;
  }
  if (op > AluOp.END) fail(env, `invalid BPF_ALU opcode ${(op >> 4).toString(16)}`);
  // all other ALU ops
  if (x) {
    if (insn.imm !== 0 || (insn.off !== 0 && insn.off !== 1) || (insn.off === 1 && op !== AluOp.MOD && op !== AluOp.DIV)) fail(env, "BPF_ALU uses reserved fields");
    checkRegRead(env, insn.src);
  } else if (insn.src !== 0 || (insn.off !== 0 && insn.off !== 1) || (insn.off === 1 && op !== AluOp.MOD && op !== AluOp.DIV)) {
    fail(env, "BPF_ALU uses reserved fields");
  }
  checkRegRead(env, insn.dst);
  if ((op === AluOp.MOD || op === AluOp.DIV) && !x && insn.imm === 0) fail(env, "div by zero: the immediate divisor is 0");
  if ((op === AluOp.LSH || op === AluOp.RSH || op === AluOp.ARSH) && !x) {
    const size = alu64 ? 64 : 32;
    if (insn.imm < 0 || insn.imm >= size) fail(env, `invalid shift ${insn.imm}: the shift amount must be below ${size}`);
  }
  checkRegWrite(env, insn.dst);
  adjustRegMinMax(env, insn, op, alu64, x);
}

function adjustRegMinMax(env: Env, insn: Insn, op: number, alu64: boolean, x: boolean): void {
  const rs = regs(env);
  const dst = rs[insn.dst]!;
  const src = x ? rs[insn.src]! : knownScalar(BigInt(insn.imm));
  const opName = OP_NAMES[op] ?? "?";
  if (x && src.type !== "scalar") {
    if (dst.type !== "scalar") {
      if (op === AluOp.SUB && env.privileged) {
        setUnknown(dst);
        return;
      }
      fail(env, `R${insn.dst} pointer ${opName} pointer prohibited`, insn.dst);
    }
    // scalar += pointer: the result is the pointer moved by the scalar, whose range now matters
    env.markPrecise(insn.dst);
    const off = copyReg(dst);
    rs[insn.dst] = copyReg(src);
    adjustPtr(env, insn, op, alu64, rs[insn.dst]!, src, off, insn.dst, false);
    return;
  }
  if (dst.type !== "scalar") {
    if (x) env.markPrecise(insn.src);
    adjustPtr(env, insn, op, alu64, dst, dst, src, insn.dst, true);
    return;
  }
  const sop = SCALAR_OPS[op] ?? "other";
  const alu32 = !alu64;
  if (!canComputeRange(sop, src, alu32)) {
    setUnknown(dst);
    return;
  }
  if ((sop === "and" || sop === "or") && tn.isConst(src.vo)) maybeForkScalars(env, insn, dst);
  // two copies of one register: operate on a snapshot of the source
  const s = x && insn.src === insn.dst ? copyReg(src) : src;
  const umaxBefore = dst.umax;
  scalarAlu(dst, s, sop, alu32);
  linkAddConst(env, dst, s, sop, alu32, umaxBefore, x && insn.src === insn.dst);
}

/**
 * A linked copy plus or minus a constant stays linked, that much ahead of the others (the kernel's BPF_ADD_CONST64 and,
 * since 7a433e519364 in 6.18 stable, BPF_ADD_CONST32): privileged, once, a 64-bit constant that fits in 32 signed bits
 * or a 32-bit one on a value whose upper half was zero, not minus S32_MIN. Any other arithmetic breaks the link.
 */
function linkAddConst(env: Env, dst: Reg, s: Reg, sop: ScalarOp, alu32: boolean, umaxBefore: bigint, self: boolean): void {
  const isConst = alu32 ? tn.subregIsConst(s.vo) : tn.isConst(s.vo);
  if (!env.privileged || !dst.id || (sop !== "add" && sop !== "sub") || !isConst || self) return clearScalarId(dst);
  let off = alu32 ? tn.s32(s.vo.value) : tn.s64(s.vo.value);
  if (off !== tn.s32(off) || (alu32 && umaxBefore > tn.U32_MAX) || (sop === "sub" && off === -(1n << 31n)) || dst.addConst) return clearScalarId(dst);
  if (sop === "sub") off = -off;
  dst.off = Number(off);
  dst.addConst = alu32 ? 32 : 64;
}

/** x & K / x | K with x in {-1, 0}: the kernel explores the two values separately. */
function maybeForkScalars(env: Env, insn: Insn, dst: Reg): void {
  let alu32: boolean;
  if (dst.smin === -1n && dst.smax === 0n) alu32 = false;
  else if (dst.s32min === -1n && dst.s32max === 0n) alu32 = true;
  else return;
  const other = copyState(env.cur);
  const od = curFrame(other).regs[insn.dst]!;
  if (alu32) {
    mark32Known(od, 0n);
    mark32Known(dst, 0xffffffffn);
  } else {
    markKnown(od, 0n);
    markKnown(dst, -1n);
  }
  env.pushBranch(other, env.pc);
}

function saneOffset(env: Env, r: Reg, ptrType: string): void {
  const known = tn.isConst(r.vo);
  const val = tn.s64(r.vo.value);
  const lim = BigInt(MAX_VAR_OFF);
  if (known && (val >= lim || val <= -lim)) fail(env, `math between ${ptrType} pointer and ${val} is not allowed`);
  if (r.off >= MAX_VAR_OFF || r.off <= -MAX_VAR_OFF) fail(env, `${ptrType} pointer offset ${r.off} is not allowed`);
  if (r.smin === S64_MIN) fail(env, `math between ${ptrType} pointer and register with unbounded min value is not allowed`);
  if (r.smin >= lim || r.smin <= -lim) fail(env, `value ${r.smin} makes ${ptrType} pointer be out of bounds`);
}

const fitsS32 = (v: bigint): boolean => v === BigInt.asIntN(32, v);

/** pointer += scalar and pointer -= scalar (adjust_ptr_min_max_vals); result written into `out`. */
function adjustPtr(env: Env, insn: Insn, op: number, alu64: boolean, out: Reg, ptr: Reg, offReg: Reg, dstno: number, dstIsPtr: boolean): void {
  const p = copyReg(ptr);
  const o = copyReg(offReg);
  const known = tn.isConst(o.vo);
  if ((known && (o.smin !== o.smax || o.umin !== o.umax)) || o.smin > o.smax || o.umin > o.umax) {
    setUnknown(out);
    return;
  }
  if (!alu64) {
    if (op === AluOp.SUB && env.privileged) {
      setUnknown(out);
      return;
    }
    fail(env, `R${dstno} 32-bit pointer arithmetic prohibited`, dstno);
  }
  const name = typeName(p);
  if (p.maybeNull) fail(env, `R${dstno} pointer arithmetic on ${name} prohibited, null-check it first`, dstno);
  switch (p.type) {
    case "ctx": case "map_value": case "map_key": case "fp": case "pkt_meta": case "pkt": case "ptr_task": case "btf_id": case "mem": case "ringbuf_mem": case "func":
      break;
    case "flow_keys":
      if (known) break;
      fail(env, `R${dstno} pointer arithmetic on ${name} prohibited`, dstno);
      break;
    case "map_ptr":
      if (known && o.smin === 0n && op === AluOp.ADD) break;
      fail(env, `R${dstno} pointer arithmetic on ${name} prohibited`, dstno);
      break;
    default:
      fail(env, `R${dstno} pointer arithmetic on ${name} prohibited`, dstno);
  }
  Object.assign(out, p);
  saneOffset(env, o, name);
  saneOffset(env, p, name);
  mark32Unbounded(out);
  if (op === AluOp.ADD) {
    if (known && fitsS32(BigInt(p.off) + o.smin)) {
      out.off = p.off + Number(o.smin);
    } else {
      addRanges(out, p, o);
      out.vo = tn.add(p.vo, o.vo);
      if (isPktPointer(p)) {
        out.id = newId(env);
        out.range = 0;
      }
    }
  } else if (op === AluOp.SUB) {
    if (!dstIsPtr) fail(env, `R${dstno} tried to subtract pointer from scalar`, dstno);
    if (p.type === "fp") fail(env, `R${dstno} subtraction from stack pointer prohibited`, dstno);
    if (known && fitsS32(BigInt(p.off) - o.smin)) {
      out.off = p.off - Number(o.smin);
    } else {
      subRanges(out, p, o);
      out.vo = tn.sub(p.vo, o.vo);
      if (isPktPointer(p)) {
        out.id = newId(env);
        if (o.smin < 0n) out.range = 0;
      }
    }
  } else if (op === AluOp.AND || op === AluOp.OR || op === AluOp.XOR) {
    fail(env, `R${dstno} bitwise operator ${OP_NAMES[op]} on pointer prohibited`, dstno);
  } else {
    fail(env, `R${dstno} pointer arithmetic with ${OP_NAMES[op]} operator prohibited`, dstno);
  }
  saneOffset(env, out, name);
  syncBounds(out);
  if (!env.privileged) sanitizeBounds(env, out, dstno);
}

function addRanges(out: Reg, p: Reg, o: Reg): void {
  const smin = p.smin + o.smin;
  const smax = p.smax + o.smax;
  if (smin !== tn.s64(smin) || smax !== tn.s64(smax)) {
    out.smin = S64_MIN;
    out.smax = S64_MAX;
  } else {
    out.smin = smin;
    out.smax = smax;
  }
  const umin = p.umin + o.umin;
  const umax = p.umax + o.umax;
  if (umin > tn.U64_MAX || umax > tn.U64_MAX) {
    out.umin = 0n;
    out.umax = tn.U64_MAX;
  } else {
    out.umin = umin;
    out.umax = umax;
  }
}

function subRanges(out: Reg, p: Reg, o: Reg): void {
  const smin = p.smin - o.smax;
  const smax = p.smax - o.smin;
  if (smin !== tn.s64(smin) || smax !== tn.s64(smax)) {
    out.smin = S64_MIN;
    out.smax = S64_MAX;
  } else {
    out.smin = smin;
    out.smax = smax;
  }
  if (p.umin < o.umax) {
    out.umin = 0n;
    out.umax = tn.U64_MAX;
  } else {
    out.umin = p.umin - o.umax;
    out.umax = p.umax - o.umin;
  }
}

/** Unprivileged pointer arithmetic must stay provably inside the object (sanitize_check_bounds). */
function sanitizeBounds(env: Env, r: Reg, regno: number): void {
  if (r.type === "fp") {
    if (!tn.isConst(r.vo)) fail(env, `R${regno} variable stack access prohibited for !root, var_off=${tn.tnumString(r.vo)} off=${r.off}`, regno);
    const off = r.off + Number(tn.s64(r.vo.value));
    if (off < -512 || off >= 0) fail(env, `R${regno} stack pointer arithmetic goes out of range, prohibited for !root; off=${off}`, regno);
  } else if (r.type === "map_value") {
    if (r.smin + BigInt(r.off) < 0n || r.umax + BigInt(r.off) > BigInt(r.map!.valueSize)) {
      fail(env, `R${regno} pointer arithmetic of map value goes out of range, prohibited for !root`, regno);
    }
  }
}
