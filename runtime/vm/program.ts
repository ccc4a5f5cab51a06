// Load-time preparation of a BPF program for the executing tiers.
// Takes instruction slots (or their encoding) and a VmEnv; gives a LoadedProgram: the checked,
// resolved and pre-decoded program that every tier (interpreter, compiled) executes.
//
// Prepared format (shared by all tiers, so keep it stable):
//   `code` is an Int32Array of STRIDE (8) int32 per slot, one more slot than the program
//   (a sentinel that faults if execution runs off the end). For slot `pc`, at `pc * 8`:
//     +0 OP   the BPF opcode byte, or an internal opcode from `XOp` (free LD-class bytes, so
//             every op stays in 0..255 and a dense `switch` compiles to a jump table)
//     +1 DST  destination register * 2 (index of its low half in the register file)
//     +2 SRC  source register * 2
//     +3 OFF  memory offset (LDX/ST/STX/atomics), width for XOp.MOVSX64/MOVSX32, else 0
//     +4 LO   imm (32-bit operand; low half of LDDW's resolved 64-bit value; END width;
//             atomic operation)
//     +5 HI   imm >> 31 (the sign-extended upper half of imm), or the upper half of LDDW
//     +6 AUX  target slot of jumps and local calls, index into `helperFns` for helper calls
//     +7      0
//   LDDW's second slot has OP 0 (XOp.INVALID) and is never executed: a jump cannot land there.
//   An ALU op with K uses LO (32-bit) or LO/HI (64-bit); with X it reads SRC.
//   Load-acquire and store-release become the LDX and STX of their size (the VM runs one thread:
//   their ordering is every access's); may_goto becomes XOp.MAY_GOTO.
//
// Register file convention: an Int32Array of 22, register k at [2k] (low 32 bits) and [2k+1]
// (high 32 bits), both as int32. Helpers get r1..r5 through a HelperContext, return r0; r1..r5
// are left as they were (they are clobbered as far as the program knows); r6..r9 untouched.

import { Helper, helperName, poisonedCall } from "../../compiler/isa/helpers.js";
import { IsaError, checkProgram, decode, type Insn } from "../../compiler/isa/insn.js";
import { AluOp, AtomicOp, Class, JmpOp, Mode, Op, PseudoCall, PseudoLd, Source, aluOp, isLoadStoreAtomic, jmpOp, opClass, opMode } from "../../compiler/isa/opcodes.js";
import type { HelperFn, VmEnv } from "./env.js";
import { VmError, VmLoadError } from "./errors.js";

/** Int32 fields per slot in `LoadedProgram.code`. */
export const STRIDE = 8;
export const F_OP = 0;
export const F_DST = 1;
export const F_SRC = 2;
export const F_OFF = 3;
export const F_LO = 4;
export const F_HI = 5;
export const F_AUX = 6;

/** Internal opcodes, placed on LD-class bytes the instruction set leaves unused. */
export const XOp = {
  /** Second half of LDDW, and the sentinel slot after the program's end. */
  INVALID: 0x00,
  /** BPF-to-BPF call; AUX is the callee's first slot. */
  CALL_LOCAL: 0x60,
  /** bpf_tail_call (helper 12) handled by the tier through env.tailCallTarget. */
  TAIL_CALL: 0x68,
  SDIV64_K: 0x70,
  SDIV64_X: 0x78,
  SMOD64_K: 0x80,
  SMOD64_X: 0x88,
  SDIV32_K: 0x90,
  SDIV32_X: 0x98,
  SMOD32_K: 0xa0,
  SMOD32_X: 0xa8,
  /** ALU64 MOV X with off 8/16/32 (width in OFF). */
  MOVSX64: 0xb0,
  /** ALU MOV X with off 8/16 (width in OFF). */
  MOVSX32: 0xb8,
  /**
   * LDX of 4, 2, 1 or 8 bytes (the size bits of LDX) whose fault reads zero: the kernel's BPF_PROBE_MEM, which its
   * verifier makes of loads through typed kernel pointers (LoadOptions.probeMem).
   */
  PROBE_LDX_W: 0xc0,
  PROBE_LDX_H: 0xc8,
  PROBE_LDX_B: 0xd0,
  PROBE_LDX_DW: 0xd8,
  /**
   * may_goto; AUX is the jump target. Jumps when the current frame's loop counter is 0, else counts it down and
   * falls through. Each frame's counter starts at LoadedProgram.mayGotoLoops when the frame (or a tail call) begins.
   */
  MAY_GOTO: 0x58,
  /**
   * A call of a helper that calls back into the program (bpf_loop, bpf_for_each_map_elem); AUX as for helper calls.
   * It ends a straight-line run, since the callbacks' instructions count toward the run's budget in between.
   */
  CALL_CALLBACK: 0xe8,
} as const;

/** Helpers that call a function of the program (through HelperContext.callback). */
export const CALLBACK_HELPERS: ReadonlySet<number> = new Set([Helper.loop, Helper.for_each_map_elem]);

/**
 * The value LDDW of a function (BPF_PSEUDO_FUNC) loads: an address in the kernel's text range where no region is
 * mapped (a load through it faults), naming the function's first slot.
 */
export const FUNC_ADDRESS_HI = 0xffffffff;
const FUNC_ADDRESS_LO = 0xc0000000;
export const funcAddress = (slot: number): bigint => (BigInt(FUNC_ADDRESS_HI) << 32n) | BigInt(FUNC_ADDRESS_LO + slot * 8);

/** The first slot of the function of `program` that `address` (from funcAddress) names, or undefined. */
export function funcSlot(program: LoadedProgram, address: bigint): number | undefined {
  if (address >> 32n !== BigInt(FUNC_ADDRESS_HI)) return undefined;
  const off = Number(address & 0xffffffffn) - FUNC_ADDRESS_LO;
  if (off < 0 || off % 8 !== 0) return undefined;
  const slot = off / 8;
  return slot !== 0 && program.entries.includes(slot) ? slot : undefined;
}

/** Whether `op` is one of the XOp.PROBE_LDX_* loads. */
export const isProbeLoad = (op: number): boolean => op === 0xc0 || op === 0xc8 || op === 0xd0 || op === 0xd8;

/** Frames a run may have at once: the main program and 7 nested calls (kernel MAX_CALL_FRAMES). */
export const MAX_CALL_FRAMES = 8;
/** Chained tail calls a run may make (kernel MAX_TAIL_CALL_CNT). */
export const MAX_TAIL_CALLS = 33;
/** Bytes of stack per frame (kernel MAX_BPF_STACK). */
export const STACK_SIZE = 512;
/** Instructions a run may execute unless told otherwise. */
export const DEFAULT_BUDGET = 1_000_000;
/**
 * The fall-throughs of may_goto a frame gets: the kernel's BPF_MAX_LOOPS, its count where the JIT has no timed
 * may_goto. x86-64 and arm64 kernels (6.15+) instead refresh a counter of 0xffff until 250 ms have passed, so
 * there the count depends on the machine's speed.
 */
export const BPF_MAX_LOOPS = 8 * 1024 * 1024;

export interface LoadOptions {
  /** Shown in fault messages of tail-called programs. */
  name?: string;
  /** Default instruction budget of runs of this program. */
  budget?: number;
  /**
   * Slots of loads whose faults read zero rather than end the run: those the kernel runs as BPF_PROBE_MEM, its
   * verifier having found their base a typed kernel pointer (VerifyResult.probeMem).
   */
  probeMem?: ReadonlySet<number>;
  /** Fall-throughs of may_goto per frame before it jumps (default BPF_MAX_LOOPS). */
  mayGotoLoops?: number;
}

/** A program ready to run: checked, pseudo values resolved, helpers bound, pre-decoded. */
export class LoadedProgram {
  constructor(
    /** The slots as given. */
    readonly insns: readonly Insn[],
    /** Pre-decoded slots, see the header comment. */
    readonly code: Int32Array,
    /** First slot of every function, ascending; 0 is the main program. */
    readonly entries: readonly number[],
    /** Helper implementations referenced by AUX of helper calls. */
    readonly helperFns: readonly HelperFn[],
    /** Helper id of each `helperFns` entry. */
    readonly helperIds: readonly number[],
    readonly env: VmEnv,
    readonly name: string,
    readonly budget: number,
    /** Fall-throughs of may_goto each frame gets (LoadOptions.mayGotoLoops). */
    readonly mayGotoLoops: number = BPF_MAX_LOOPS,
  ) {}

  /** Number of slots. */
  get length(): number {
    return this.insns.length;
  }

  /** Index into `entries` of the function holding slot `pc`. */
  functionOf(pc: number): number {
    let f = 0;
    while (f + 1 < this.entries.length && this.entries[f + 1]! <= pc) f++;
    return f;
  }
}

const fail = (pc: number, reason: string): never => {
  throw new VmLoadError(pc, reason);
};

/** Checks and prepares `program` for execution in `env`; throws VmLoadError naming the instruction. */
export function prepare(program: readonly Insn[] | Uint8Array, env: VmEnv, options: LoadOptions = {}): LoadedProgram {
  let insns: readonly Insn[];
  try {
    if (program instanceof Uint8Array) insns = decode(program);
    else {
      insns = program.map((i) => ({ ...i }));
      checkProgram(insns);
    }
  } catch (e) {
    if (e instanceof IsaError) throw new VmLoadError(e.index, e.reason, { cause: e });
    throw e;
  }
  const n = insns.length;

  // Functions: the main program and every local call target.
  const entrySet = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    const insn = insns[i]!;
    if (insn.code === Op.CALL && insn.src === PseudoCall.LOCAL) entrySet.add(i + 1 + insn.imm);
    if (insn.code === Op.LDDW) {
      // A function whose address is loaded (a callback) is a function too, as the kernel's subprograms count it.
      if (insn.src === PseudoLd.FUNC) {
        const target = i + 1 + insn.imm;
        if (target <= 0 || target >= n) fail(i, `function address out of range: insn ${target}`);
        entrySet.add(target);
      }
      i++;
    }
  }
  const entries = [...entrySet].sort((a, b) => a - b);
  checkFunctions(insns, entries);

  const code = new Int32Array((n + 1) * STRIDE);
  const helperFns: HelperFn[] = [];
  const helperIds: number[] = [];
  const helperSlot = new Map<number, number>();

  for (let pc = 0; pc < n; pc++) {
    const insn = insns[pc]!;
    const at = pc * STRIDE;
    const cls = opClass(insn.code);
    let op: number = insn.code;
    code[at + F_DST] = insn.dst * 2;
    code[at + F_SRC] = insn.src * 2;
    code[at + F_OFF] = insn.off;
    code[at + F_LO] = insn.imm;
    code[at + F_HI] = insn.imm >> 31;

    if ((cls === Class.ALU || cls === Class.ALU64 || cls === Class.LDX) && insn.dst === 10) fail(pc, "r10 is read-only");

    if (cls === Class.ALU || cls === Class.ALU64) {
      const a = aluOp(insn.code);
      const x = (insn.code & Source.X) !== 0;
      const is64 = cls === Class.ALU64;
      if ((a === AluOp.DIV || a === AluOp.MOD) && insn.off === 1) {
        if (is64) op = a === AluOp.DIV ? (x ? XOp.SDIV64_X : XOp.SDIV64_K) : x ? XOp.SMOD64_X : XOp.SMOD64_K;
        else op = a === AluOp.DIV ? (x ? XOp.SDIV32_X : XOp.SDIV32_K) : x ? XOp.SMOD32_X : XOp.SMOD32_K;
      } else if (a === AluOp.MOV && x && insn.off !== 0) {
        op = is64 ? XOp.MOVSX64 : XOp.MOVSX32;
      }
      if (a !== AluOp.END && a !== AluOp.MOV && a !== AluOp.NEG && insn.off === 0 && x === false) {
        // Shift counts are masked like the register forms (the kernel's verifier rejects larger ones).
        if (a === AluOp.LSH || a === AluOp.RSH || a === AluOp.ARSH) code[at + F_LO] = insn.imm & (is64 ? 63 : 31);
      }
    } else if (cls === Class.JMP || cls === Class.JMP32) {
      const j = jmpOp(insn.code);
      if (j === JmpOp.CALL) {
        if (insn.src === PseudoCall.LOCAL) {
          op = XOp.CALL_LOCAL;
          code[at + F_AUX] = pc + 1 + insn.imm;
        } else if (insn.src === PseudoCall.KFUNC) {
          fail(pc, `kfunc call (BTF id ${insn.imm}) is not supported by the VM`);
        } else if (insn.imm === Helper.tail_call && env.tailCallTarget !== undefined) {
          op = XOp.TAIL_CALL;
        } else {
          // A poisoned call stands where the loader could not resolve something: the kernel refuses it only if it can run.
          const poison = poisonedCall(insn.imm);
          const fn = env.helpers.get(insn.imm) ?? (poison === undefined ? undefined : poisonedHelper(poison));
          if (fn === undefined) fail(pc, `helper ${helperName(insn.imm) ?? "unknown"}#${insn.imm} is not supported by the VM`);
          let slot = helperSlot.get(insn.imm);
          if (slot === undefined) {
            slot = helperFns.length;
            helperFns.push(fn!);
            helperIds.push(insn.imm);
            helperSlot.set(insn.imm, slot);
          }
          code[at + F_AUX] = slot;
          if (CALLBACK_HELPERS.has(insn.imm)) op = XOp.CALL_CALLBACK;
        }
      } else if (j === JmpOp.JA) {
        op = Op.JA;
        code[at + F_AUX] = cls === Class.JMP32 ? pc + 1 + insn.imm : pc + 1 + insn.off;
      } else if (j !== JmpOp.EXIT) {
        if (j === JmpOp.JCOND) op = XOp.MAY_GOTO;
        code[at + F_AUX] = pc + 1 + insn.off;
      }
    } else if (cls === Class.STX && opMode(insn.code) === Mode.ATOMIC && isLoadStoreAtomic(insn.imm)) {
      const size = insn.code & 0x18;
      if (insn.imm === AtomicOp.LOAD_ACQ) {
        if (insn.dst === 10) fail(pc, "r10 is read-only");
        op = Class.LDX | Mode.MEM | size;
      } else op = Class.STX | Mode.MEM | size;
      code[at + F_LO] = 0;
      code[at + F_HI] = 0;
    } else if (cls === Class.LDX && opMode(insn.code) === Mode.MEM && options.probeMem?.has(pc)) {
      op = XOp.PROBE_LDX_W | (insn.code & 0x18);
    } else if (cls === Class.LD && opMode(insn.code) === Mode.IMM) {
      if (insn.dst === 10) fail(pc, "r10 is read-only");
      const [lo, hi] = resolveWide(insns, pc, env);
      code[at + F_LO] = lo;
      code[at + F_HI] = hi;
      code[at + F_OP] = op;
      pc++; // the second slot stays XOp.INVALID
      continue;
    }
    code[at + F_OP] = op;
  }
  const loops = options.mayGotoLoops ?? BPF_MAX_LOOPS;
  if (!Number.isSafeInteger(loops) || loops < 0) throw new RangeError(`mayGotoLoops must be a non-negative integer, not ${loops}`);
  return new LoadedProgram(insns, code, entries, helperFns, helperIds, env, options.name ?? "program", options.budget ?? DEFAULT_BUDGET, loops);
}

/** Kernel rules on functions: no jump leaves its function, none falls through into the next. */
function checkFunctions(insns: readonly Insn[], entries: readonly number[]): void {
  for (let f = 0; f < entries.length; f++) {
    const start = entries[f]!;
    const end = f + 1 < entries.length ? entries[f + 1]! : insns.length;
    let last = start;
    for (let i = start; i < end; i++) {
      last = i;
      const insn = insns[i]!;
      const cls = opClass(insn.code);
      if (insn.code === Op.LDDW) {
        i++;
        continue;
      }
      if (cls !== Class.JMP && cls !== Class.JMP32) continue;
      const j = jmpOp(insn.code);
      if (j === JmpOp.CALL || j === JmpOp.EXIT) continue;
      const target = cls === Class.JMP32 && j === JmpOp.JA ? i + 1 + insn.imm : i + 1 + insn.off;
      if (target < start || target >= end) fail(i, `jump out of range from insn ${i} to ${target}`);
    }
    const code = insns[last]!.code;
    if (end - start === 0 || (code !== Op.EXIT && code !== Op.JA && code !== Op.JA32) || last !== end - 1) {
      fail(end - 1, "last insn is not an exit or jmp");
    }
  }
}

/** The 64-bit value an LDDW loads, as [lo, hi] int32 halves, resolving pseudo sources through `env`. */
function resolveWide(insns: readonly Insn[], pc: number, env: VmEnv): [number, number] {
  const first = insns[pc]!;
  const second = insns[pc + 1]!;
  let value: bigint | undefined;
  switch (first.src) {
    case PseudoLd.IMM64:
      return [first.imm | 0, second.imm | 0];
    case PseudoLd.MAP_FD:
    case PseudoLd.MAP_VALUE: {
      const map = env.mapsByFd?.get(first.imm);
      if (map === undefined) return fail(pc, `LDDW names map fd ${first.imm}, which the environment does not have`);
      value = first.src === PseudoLd.MAP_FD ? map.address : map.valueAddress(second.imm);
      if (value === undefined) return fail(pc, `map fd ${first.imm} has no value at offset ${second.imm}`);
      break;
    }
    case PseudoLd.MAP_IDX:
    case PseudoLd.MAP_IDX_VALUE: {
      const map = env.mapsByIndex?.[first.imm];
      if (map === undefined) return fail(pc, `LDDW names map index ${first.imm}, which the environment does not have`);
      value = first.src === PseudoLd.MAP_IDX ? map.address : map.valueAddress(second.imm);
      if (value === undefined) return fail(pc, `map index ${first.imm} has no value at offset ${second.imm}`);
      break;
    }
    case PseudoLd.BTF_ID:
      return fail(pc, "LDDW of a BTF id is not supported by the VM");
    case PseudoLd.FUNC:
      value = funcAddress(pc + 1 + first.imm);
      break;
    default:
      return fail(pc, `invalid LDDW pseudo source ${first.src}`);
  }
  return [Number(BigInt.asIntN(32, value)), Number(BigInt.asIntN(32, value >> 32n))];
}

/** A poisoned call's stand-in: running it is the fault the kernel's verifier would have refused the program for. */
function poisonedHelper(what: string): HelperFn {
  return (ctx) => {
    throw new VmError(`the program reached ${what}; the kernel's verifier refuses a program where such a call can run`, ctx.pc);
  };
}
