// The verifier's working context shared by the checking modules: the program, its options,
// the current path's state, id generation, per-instruction notes, and the error type.

import type { Insn } from "../isa/insn.js";
import type { TracepointContext } from "./btf-types.js";
import type { Btf } from "../btf/index.js";
import type { FunctionsBtf, Subprog } from "./funcs.js";
import { type Frame, type MapDesc, type Reg, type VState, clearScalarId, curFrame, regString } from "./state.js";
import * as tn from "./tnum.js";

/** A rejection: the instruction, the reason in plain words, and the register involved. */
export class VerifierError extends Error {
  constructor(
    readonly pc: number,
    readonly reason: string,
    readonly register?: number,
    readonly regState?: string,
  ) {
    super(`instruction ${pc}: ${reason}`);
    this.name = "VerifierError";
  }
}

export interface Env {
  insns: readonly Insn[];
  progType: number;
  attachType: number;
  /** A tp_btf program's tracepoint: its context is the tracepoint's typed arguments. */
  tracepoint: TracepointContext | undefined;
  /** The running kernel's BTF, which types bpf_get_current_task_btf()'s result; undefined when not given. */
  kernelBtf: Btf | undefined;
  /** The loading kernel's nr_cpu_ids (bpf_get_smp_processor_id() is below it). */
  nrCpus: number;
  /** The license is one the kernel counts as GPL-compatible (license_is_gpl_compatible): GPL-only helpers need it. */
  gplCompatible: boolean;
  /** Root-like loader: pointer leaks, uninitialised stack reads and loops are allowed. */
  privileged: boolean;
  strictAlignment: boolean;
  maps: Map<number, MapDesc>;
  cur: VState;
  pc: number;
  idGen: number;
  /** Start index of each subprogram, ascending, plus the program length at the end. */
  subprogStarts: number[];
  /** Per subprogram, from the object's BTF (func_info): name, linkage, a global function's arguments; null without. */
  subprogs: Subprog[] | null;
  functions: FunctionsBtf | undefined;
  /** Global functions a call reached (the kernel's `called`): each is verified on its own after the main program. */
  calledGlobals: Set<number>;
  /** Deepest stack use seen per subprogram, in bytes. */
  stackDepth: number[];
  /** Pointer kind each load/store instruction was first checked with (ctx vs other). */
  insnPtrKind: (string | undefined)[];
  processed: number;
  /** Reachable calls of kfunc #0, which the kernel rejects after dead-code elimination. */
  placeholderKfuncs: Set<number>;
  log: string[] | null;
  /** Queues the other side of a branch. */
  pushBranch(state: VState, pc: number): void;
  /**
   * The state of the previous iteration of the loop around instruction `at` (default the current one): the nearest
   * checkpoint above the current path's at that instruction with the current frames' call sites (find_prev_entry),
   * or undefined.
   */
  previousIteration(at?: number): VState | undefined;
  /**
   * Stack bytes [minOff, maxOff) of `f` are used (for pruning's read liveness); `pureWrite`
   * when a whole aligned 8-byte slot is overwritten without looking at its old contents.
   */
  stackAccess(f: Frame, minOff: number, maxOff: number, pureWrite: boolean): void;
  /**
   * A check at the current instruction depends on the exact range of scalar register `regno` of
   * the current frame: the checkpoints of this path mark where it came from precise (privileged only).
   */
  markPrecise(regno: number): void;
  /** The same for a scalar spilled in stack slot `spi` of frame `frameno`. */
  markPreciseSlot(frameno: number, spi: number): void;
  /** History note of the current instruction: the stack slot its spill or fill used. */
  noteStack(frameno: number, spi: number): void;
  /** History note of the current branch: the scalars it refined together (linked copies). */
  noteLinked(locations: number[]): void;
}

export const newId = (env: Env): number => ++env.idGen;

/**
 * Gives a scalar an id before copying it (a move, a spill), so later range checks on one copy refine the other. A
 * copy already K ahead of its links is unlinked first: offsets do not accumulate (assign_scalar_id_before_mov).
 */
export function linkBeforeMov(env: Env, src: Reg): void {
  if (src.type !== "scalar") return;
  if (src.id && src.addConst) clearScalarId(src);
  if (!src.id && !tn.isConst(src.vo)) src.id = newId(env);
}

export const regs = (env: Env): Reg[] => curFrame(env.cur).regs;

/** How the model's rejections for what it does not model end (a helper, kfuncs, kernel BTF symbols): see gaveUp(). */
export const NOT_MODELLED = "not modelled by this verifier";

/** Rejects at the current instruction; names the register and its state when given. */
export function fail(env: Env, reason: string, regno?: number): never {
  let state: string | undefined;
  if (regno !== undefined && regno >= 0 && regno <= 10) state = regString(regs(env)[regno]!);
  // Caught by verify(): a stack trace would only cost time (rejections are common in the fuzzer and selftests).
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const e = new VerifierError(env.pc, reason, regno, state);
  Error.stackTraceLimit = limit;
  throw e;
}

/** Reads of a register must follow a write (check_reg_arg with SRC_OP). */
export function checkRegRead(env: Env, regno: number): Reg {
  if (regno > 10) fail(env, `R${regno} is invalid: registers are r0 to r10`);
  const r = regs(env)[regno]!;
  if (r.type === "not_init") fail(env, `R${regno} !read_ok: register r${regno} is read before anything was written to it`, regno);
  return r;
}

/** Writes must not target r10, the read-only frame pointer. */
export function checkRegWrite(env: Env, regno: number): Reg {
  if (regno > 10) fail(env, `R${regno} is invalid: registers are r0 to r10`);
  if (regno === 10) fail(env, "frame pointer is read only: r10 cannot be written");
  return regs(env)[regno]!;
}
