// The compiled tier: runs a LoadedProgram as generated JavaScript (codegen.ts) with the reference
// interpreter's exact results. Takes a LoadedProgram and RunOptions; gives a RunResult, or throws
// the same errors (class, pc, message) as the interpreter.
//
// Compiled functions are cached per program (WeakMap). A run starts in the program's "fast" code;
// when its instruction budget is about to run out inside a block, it continues in the "step" code
// (compiled on first need) so the count and the faulting pc are exact. Tail calls and returns into
// another program's frame come back here to switch functions. If code generation ever fails (a
// bug, not a feature gap: every opcode the interpreter runs is translated) the run falls back to
// the interpreter and `compileStats.fallbacks` counts it.

import { interpret, type RegValue, type RunOptions, type RunResult } from "../interpreter.js";
import { REGION_BASE, VmFault, join } from "../memory.js";
import { VmError } from "../errors.js";
import { DEFAULT_BUDGET, type LoadedProgram, MAX_CALL_FRAMES, STACK_SIZE, funcSlot } from "../program.js";
import { generate, type Mode } from "./codegen.js";
import { RunState, acquireState, releaseState, rt, setCallbackRunner } from "./runtime.js";

type RunFn = (S: RunState) => number;

interface Compiled {
  fast?: RunFn;
  step?: RunFn;
  /** Set when generation failed: run this program on the interpreter. */
  failed?: unknown;
}

const cache = new WeakMap<LoadedProgram, Compiled>();

/** Counters for reports and tests. */
export const compileStats = {
  /** Programs compiled (fast code). */
  compiled: 0,
  /** Programs whose code could not be generated and ran on the interpreter instead. */
  fallbacks: 0,
  /** Milliseconds spent generating and instantiating code. */
  ms: 0,
};

function build(program: LoadedProgram, mode: Mode): RunFn {
  const t0 = performance.now();
  const { source, blk } = generate(program, mode);
  const factory = new Function("rt", "P", "M", "H", "BLK", source) as (...a: unknown[]) => RunFn;
  const fn = factory(rt, program, program.env.memory, program.helperFns, blk);
  compileStats.ms += performance.now() - t0;
  return fn;
}

/** The compiled function of `program` in `mode`, generating it on first use; undefined if generation failed. */
export function compiledFunction(program: LoadedProgram, mode: Mode): RunFn | undefined {
  let entry = cache.get(program);
  if (entry === undefined) cache.set(program, (entry = {}));
  if (entry.failed !== undefined) return undefined;
  let fn = entry[mode];
  if (fn === undefined) {
    try {
      fn = build(program, mode);
    } catch (e) {
      entry.failed = e;
      compileStats.fallbacks++;
      return undefined;
    }
    entry[mode] = fn;
    if (mode === "fast") compileStats.compiled++;
  }
  return fn;
}

/** Whether `program` already has compiled fast code (or failed to get it). */
export function isCompiled(program: LoadedProgram): boolean {
  const entry = cache.get(program);
  return entry !== undefined && (entry.fast !== undefined || entry.failed !== undefined);
}

/** The JavaScript the compiled tier generates for `program` (for debugging and tests). */
export function compiledSource(program: LoadedProgram, mode: Mode = "fast"): string {
  return generate(program, mode).source;
}

const TWO32 = 4294967296;

// The last BigInt split into halves: callers pass the same context address run after run.
let lastBig = 0n;
let lastLo = 0;
let lastHi = 0;

function setReg(R: Int32Array, d: number, value: RegValue): void {
  if (typeof value === "number") {
    R[d] = value | 0;
    R[d + 1] = Math.floor(value / TWO32) | 0;
  } else {
    if (value !== lastBig) {
      lastLo = Number(BigInt.asIntN(32, value));
      lastHi = Number(BigInt.asIntN(32, value >> 32n));
      lastBig = value;
    }
    R[d] = lastLo;
    R[d + 1] = lastHi;
  }
}

/** r0 values 0..255 as BigInts: most programs return one of these. */
const SMALL = Array.from({ length: 256 }, (_, i) => BigInt(i));

const NO_OPTIONS: RunOptions = {};

/** Runs `program` to its final exit on the compiled tier. */
// The program run last and its fast code: most runs repeat the run before.
let lastProgram: LoadedProgram | undefined;
let lastFast: RunFn | undefined;

/** Runs generated code from S.pc of S.prog (whose fast code is `first`) until the exit of frame S.base; r0 in S.R. */
function drive(S: RunState, program: LoadedProgram, first: RunFn): void {
  let mode: Mode = "fast";
  let fn = first;
  for (;;) {
    let ret: number;
    try {
      ret = fn(S);
    } catch (e) {
      if (e instanceof VmFault) {
        if (e.pc < 0) e.pc = S.pc;
        if (!e.message.startsWith("instruction ")) {
          e.message = `instruction ${e.pc}${S.prog === program ? "" : ` of ${S.prog.name}`}: ${e.message}`;
        }
      }
      throw e;
    }
    if (ret === 0) return;
    if (ret === 1) mode = "step";
    // A tail call (or a return into another program's frame) keeps r10. Fast code takes r10 for
    // the frame top; if an unverified program moved it, the new program goes on in step code.
    else if (S.R[20] !== REGION_BASE + STACK_SIZE || S.R[21] !== S.stacks.regions[S.depth]!.hi) mode = "step";
    const next = compiledFunction(S.prog, mode);
    if (next === undefined) throw new Error(`compiled tier: cannot generate code for ${S.prog.name} (${String(cache.get(S.prog)?.failed)})`);
    fn = next;
  }
}

/**
 * HelperContext.callback of the compiled tier: runs the function at `fn` of the program calling the helper in the
 * frame above the caller's, in a state of its own (its registers) over the same stacks, counting into the run's count.
 */
function runCallback(S: RunState, fn: bigint, args: readonly bigint[]): bigint {
  const prog = S.prog;
  const pc = S.C.pc;
  const entry = funcSlot(prog, fn);
  if (entry === undefined) throw new VmError(`instruction ${pc}: callback 0x${BigInt.asUintN(64, fn).toString(16)} is not a function of the program`, pc);
  const depth = S.depth + 1;
  if (depth >= MAX_CALL_FRAMES) throw new VmError(`instruction ${pc}: the call stack of ${depth + 1} frames is too deep (at most ${MAX_CALL_FRAMES})`, pc);
  const first = compiledFunction(prog, "fast");
  if (first === undefined) throw new Error(`compiled tier: cannot generate code for ${prog.name} (${String(cache.get(prog)?.failed)})`);
  const C = (S.child ??= new RunState(prog, S.budget, S.stacks));
  C.reset(prog, S.budget);
  C.n = S.n;
  C.depth = C.base = depth;
  C.pc = entry;
  C.tailCalls = S.tailCalls;
  C.LP[depth] = prog.mayGotoLoops;
  const R = C.R;
  for (let k = 0; k < args.length && k < 5; k++) setReg(R, 2 + 2 * k, args[k]!);
  const stack = S.stacks.enter(depth);
  R[20] = REGION_BASE + STACK_SIZE;
  R[21] = stack.hi;
  try {
    drive(C, prog, first);
  } finally {
    S.n = C.n;
    S.tailCalls = C.tailCalls;
    C.FP.length = 0;
  }
  const r0 = join(R[1]!, R[0]!);
  R[0] = R[1] = 0;
  C.clean = true;
  return r0;
}
setCallbackRunner(runCallback);

export function runCompiled(program: LoadedProgram, options: RunOptions = NO_OPTIONS): RunResult {
  const first = program === lastProgram ? lastFast : compiledFunction(program, "fast");
  if (first === undefined) return interpret(program, options);
  lastProgram = program;
  lastFast = first;
  const mem = program.env.memory;
  const budget = options.budget ?? program.budget ?? DEFAULT_BUDGET;
  const S = acquireState(mem, program, budget);
  try {
    const stacks = S.stacks;
    const R = S.R;
    if (options.r1 !== undefined) setReg(R, 2, options.r1);
    if (options.r2 !== undefined) setReg(R, 4, options.r2);
    if (options.r3 !== undefined) setReg(R, 6, options.r3);
    if (options.r4 !== undefined) setReg(R, 8, options.r4);
    if (options.r5 !== undefined) setReg(R, 10, options.r5);
    const stack = stacks.enter(0);
    R[20] = REGION_BASE + STACK_SIZE;
    R[21] = stack.hi;
    drive(S, program, first);
    const r0 = R[1] === 0 && R[0]! >>> 0 < 256 ? SMALL[R[0]!]! : join(R[1]!, R[0]!);
    R[0] = R[1] = 0;
    S.clean = true;
    const out = options.result;
    if (out === undefined) return { r0, instructions: S.n };
    out.r0 = r0;
    out.instructions = S.n;
    return out;
  } finally {
    releaseState(mem, S);
  }
}
