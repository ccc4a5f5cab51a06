// Shared fixtures of the VM tests: a fresh environment, one-call run, and a BigInt reference
// model of ALU and JMP semantics written independently of the interpreter.

import type { Insn } from "../../compiler/isa/insn.js";
import { AluOp, JmpOp } from "../../compiler/isa/opcodes.js";
import type { HelperFn, PseudoMap, VmEnv } from "../../runtime/vm/env.js";
import { Memory } from "../../runtime/vm/memory.js";
import { Vm, type RunOptions, type RunResult } from "../../runtime/vm/vm.js";

export const vm = new Vm();

export function makeEnv(parts: Partial<VmEnv> & { helpers?: Map<number, HelperFn> } = {}): VmEnv {
  return { memory: new Memory(), helpers: new Map(), ...parts };
}

/** Loads `insns` in a fresh environment and runs them. */
export function runInsns(insns: readonly Insn[], options: RunOptions = {}, env: VmEnv = makeEnv()): RunResult {
  return vm.run(vm.load(insns, env), options);
}

/** r0 of a run, as an unsigned 64-bit bigint. */
export const r0Of = (insns: readonly Insn[], options?: RunOptions, env?: VmEnv): bigint => runInsns(insns, options, env).r0;

export const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
export const S64 = (v: bigint): bigint => BigInt.asIntN(64, v);
export const U32 = (v: bigint): bigint => BigInt.asUintN(32, v);
export const S32 = (v: bigint): bigint => BigInt.asIntN(32, v);

/** A PseudoMap at a fixed address with a value region. */
export function fakeMap(address: bigint, value?: { address: (off: number) => bigint }): PseudoMap {
  return { address, valueAddress: (off) => value?.address(off) };
}

/** Interesting 64-bit operands. */
export const EDGES64: bigint[] = [
  0n,
  1n,
  2n,
  7n,
  -1n,
  -2n,
  0x7fffffffn,
  -0x80000000n,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  0x123456789abcdef0n,
  -0x123456789abcdef0n,
  0x7fffffffffffffffn,
  -0x8000000000000000n,
  0xdeadbeefn,
  -0x1234n,
  63n,
  64n,
  31n,
  32n,
  0x00000001ffffffffn,
].map(U64);

/** Interesting 32-bit immediates. */
export const EDGES_IMM: number[] = [0, 1, 2, 7, -1, -2, 0x7fffffff, -0x80000000, 31, 32, 63, 64, -0x1234, 0x5678, 100];

/**
 * Reference ALU semantics on unsigned 64-bit values (RFC 9669 with the kernel's
 * divide-by-zero and signed-overflow rules). `signed` selects SDIV/SMOD (off = 1).
 */
export function refAlu(op: number, is64: boolean, a: bigint, b: bigint, signed = false): bigint {
  if (is64) {
    switch (op) {
      case AluOp.ADD: return U64(a + b);
      case AluOp.SUB: return U64(a - b);
      case AluOp.MUL: return U64(a * b);
      case AluOp.DIV: return b === 0n ? 0n : signed ? U64(S64(a) / S64(b)) : a / b;
      case AluOp.MOD: return b === 0n ? a : signed ? U64(S64(a) % S64(b)) : a % b;
      case AluOp.OR: return a | b;
      case AluOp.AND: return a & b;
      case AluOp.XOR: return a ^ b;
      case AluOp.LSH: return U64(a << (b & 63n));
      case AluOp.RSH: return a >> (b & 63n);
      case AluOp.ARSH: return U64(S64(a) >> (b & 63n));
      case AluOp.NEG: return U64(-a);
      case AluOp.MOV: return b;
    }
  } else {
    const x = U32(a);
    const y = U32(b);
    switch (op) {
      case AluOp.ADD: return U32(x + y);
      case AluOp.SUB: return U32(x - y);
      case AluOp.MUL: return U32(x * y);
      case AluOp.DIV: return y === 0n ? 0n : signed ? U32(S32(x) / S32(y)) : x / y;
      case AluOp.MOD: return y === 0n ? x : signed ? U32(S32(x) % S32(y)) : x % y;
      case AluOp.OR: return x | y;
      case AluOp.AND: return x & y;
      case AluOp.XOR: return x ^ y;
      case AluOp.LSH: return U32(x << (y & 31n));
      case AluOp.RSH: return x >> (y & 31n);
      case AluOp.ARSH: return U32(S32(x) >> (y & 31n));
      case AluOp.NEG: return U32(-x);
      case AluOp.MOV: return y;
    }
  }
  throw new Error(`no reference for ALU op 0x${op.toString(16)}`);
}

/** Reference JMP condition on unsigned 64-bit operands (low 32 bits for JMP32). */
export function refJmp(op: number, is64: boolean, a: bigint, b: bigint): boolean {
  const ua = is64 ? a : U32(a);
  const ub = is64 ? b : U32(b);
  const sa = is64 ? S64(a) : S32(a);
  const sb = is64 ? S64(b) : S32(b);
  switch (op) {
    case JmpOp.JEQ: return ua === ub;
    case JmpOp.JNE: return ua !== ub;
    case JmpOp.JGT: return ua > ub;
    case JmpOp.JGE: return ua >= ub;
    case JmpOp.JLT: return ua < ub;
    case JmpOp.JLE: return ua <= ub;
    case JmpOp.JSET: return (ua & ub) !== 0n;
    case JmpOp.JSGT: return sa > sb;
    case JmpOp.JSGE: return sa >= sb;
    case JmpOp.JSLT: return sa < sb;
    case JmpOp.JSLE: return sa <= sb;
  }
  throw new Error(`no reference for JMP op 0x${op.toString(16)}`);
}

export const hex = (v: bigint): string => `0x${U64(v).toString(16)}`;
