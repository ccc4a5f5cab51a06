// Public API of the BPF virtual machine: load a program into an environment, run it on a tier.
// Takes instruction slots (or bytes), a VmEnv and run arguments; gives r0 and the instruction
// count, or VmError subclasses (VmLoadError at load; VmFault, BudgetExceeded at run).
//
// A tier executes LoadedPrograms (program.ts documents their pre-decoded format and the register
// and helper conventions); the interpreter is the reference tier, and a compiled tier must give
// identical results on the same LoadedProgram.

import type { Insn } from "../../compiler/isa/insn.js";
import type { HelperFn, PseudoMap, VmEnv } from "./env.js";
import { BudgetExceeded, VmError, VmFault, VmLoadError } from "./errors.js";
import { interpret, type RegValue, type RunOptions, type RunResult } from "./interpreter.js";
import { Memory, type RegionKind } from "./memory.js";
import { BPF_MAX_LOOPS, DEFAULT_BUDGET, LoadedProgram, MAX_CALL_FRAMES, MAX_TAIL_CALLS, STACK_SIZE, XOp, prepare, type LoadOptions } from "./program.js";

export { BudgetExceeded, VmError, VmFault, VmLoadError, LoadedProgram, XOp, BPF_MAX_LOOPS, DEFAULT_BUDGET, MAX_CALL_FRAMES, MAX_TAIL_CALLS, STACK_SIZE };
export type { LoadOptions, RegValue, RunOptions, RunResult };

/** An executing tier. */
export interface Tier {
  readonly name: string;
  run(program: LoadedProgram, options?: RunOptions): RunResult;
}

/** The reference interpreter as a tier. */
export const interpreterTier: Tier = { name: "interpreter", run: interpret };

export interface BufferRunOptions extends RunOptions {
  /** Kind of the region the buffer is mapped as (default "ctx"). */
  kind?: RegionKind;
  /** Whether the program may write the buffer (default true). */
  writable?: boolean;
}

export class Vm {
  readonly tier: Tier;
  constructor(options: { tier?: Tier } = {}) {
    this.tier = options.tier ?? interpreterTier;
  }

  /** Checks and prepares a program; throws VmLoadError naming the offending instruction. */
  load(insns: readonly Insn[] | Uint8Array, env: VmEnv, options?: LoadOptions): LoadedProgram {
    return prepare(insns, env, options);
  }

  /** Runs to the final exit with r1..r5 as given (others zero) and r10 the frame's stack top. */
  run(program: LoadedProgram, options?: RunOptions): RunResult {
    return this.tier.run(program, options);
  }

  /**
   * Runs with `bytes` mapped into the program's memory, r1 = its address and r2 = its length, as
   * conformance runners do (an empty buffer gives r1 = r2 = 0). The region is unmapped afterwards;
   * note a Memory hands out at most 2048 regions of each kind over its life.
   */
  runOnBuffer(program: LoadedProgram, bytes: Uint8Array, options: BufferRunOptions = {}): RunResult {
    if (bytes.length === 0) return this.run(program, { ...options, r1: 0n, r2: 0n });
    const memory = program.env.memory;
    const region = memory.map(options.kind ?? "ctx", bytes, { writable: options.writable ?? true, name: "buffer" });
    try {
      return this.run(program, { ...options, r1: region.address(), r2: BigInt(bytes.length) });
    } finally {
      memory.unmap(region);
    }
  }
}

export interface ExecuteOptions extends BufferRunOptions, LoadOptions {
  helpers?: ReadonlyMap<number, HelperFn>;
  mapsByFd?: ReadonlyMap<number, PseudoMap>;
  mapsByIndex?: readonly PseudoMap[];
  memory?: Memory;
  tier?: Tier;
}

/** One-shot: a fresh environment (or the given parts), load, and run over `bytes`. */
export function execute(insns: readonly Insn[] | Uint8Array, bytes: Uint8Array = new Uint8Array(0), options: ExecuteOptions = {}): RunResult {
  const env: VmEnv = {
    memory: options.memory ?? new Memory(),
    helpers: options.helpers ?? new Map(),
    mapsByFd: options.mapsByFd,
    mapsByIndex: options.mapsByIndex,
  };
  const vm = new Vm({ tier: options.tier });
  return vm.runOnBuffer(vm.load(insns, env, options), bytes, options);
}

const defaultVm = new Vm();
/** `new Vm().load` */
export const load = (insns: readonly Insn[] | Uint8Array, env: VmEnv, options?: LoadOptions): LoadedProgram => defaultVm.load(insns, env, options);
/** `new Vm().run` on the interpreter. */
export const run = (program: LoadedProgram, options?: RunOptions): RunResult => defaultVm.run(program, options);
/** `new Vm().runOnBuffer` on the interpreter. */
export const runOnBuffer = (program: LoadedProgram, bytes: Uint8Array, options?: BufferRunOptions): RunResult =>
  defaultVm.runOnBuffer(program, bytes, options);
