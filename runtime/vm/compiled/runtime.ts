// Run-time support of the compiled tier: per-run state, frame stacks, the helper context, and the
// out-of-line slow paths generated code calls (64-bit div/mod, atomics, legacy packet loads, tail calls).
// Takes nothing; gives RunState and the `rt` object every generated function closes over.
//
// Every function here mirrors the reference interpreter's semantics exactly (including its
// treatment of malformed operands), because the compiled tier must be indistinguishable from it.

import type { HelperContext } from "../env.js";
import { BudgetExceeded, VmError } from "../errors.js";
import { type Memory, REGION_BASE, type Region, VmFault, join } from "../memory.js";
import { atomic32, atomic64 as sharedAtomic64 } from "../atomics.js";
import { LoadedProgram, MAX_CALL_FRAMES, MAX_TAIL_CALLS, STACK_SIZE } from "../program.js";
import { OwnerPools } from "../pools.js";

/** Saved state per frame: r6-r9 (8 halves), r10 (2 halves), return slot. */
export const FRAME_WORDS = 11;
const TWO32 = 4294967296;

/** Scratch for slow paths that produce two halves: [0] low, [1] high. */
export const X = new Int32Array(2);

// ---------------------------------------------------------------- stacks

/** One run's frame stacks (region per depth), mapped once per Memory and reused by later runs. */
export class StackSet {
  readonly regions: Region[] = [];
  /** Each frame's bytes as int32 words (generated code uses them for aligned frame accesses). */
  readonly words: Int32Array[] = [];
  constructor(private readonly memory: Memory) {}
  /**
   * The zeroed stack region of frame `depth`. Same names as the interpreter's, so fault messages match.
   * Only bytes from `writtenFrom` on can be non-zero: everything that writes a frame either goes
   * through Memory.resolve (helpers, atomics, stores through a computed pointer, which generated code
   * marks as touching the whole region) or is a direct frame store the generated code records on
   * entry (codegen.ts). A run that wrote only its top few bytes is cleaned without a fill() call,
   * which costs more than a few stores.
   */
  enter(depth: number): Region {
    let region = this.regions[depth];
    if (region === undefined) {
      const bytes = new Uint8Array(STACK_SIZE);
      region = this.memory.map("stack", bytes, { name: `stack of frame ${depth}` });
      this.regions[depth] = region;
      this.words[depth] = new Int32Array(bytes.buffer, 0, STACK_SIZE / 4);
    } else {
      const from = region.writtenFrom;
      if (from < STACK_SIZE - 32) region.bytes.fill(0, from);
      else if (from < STACK_SIZE) {
        const bytes = region.bytes;
        for (let k = from; k < STACK_SIZE; k++) bytes[k] = 0;
      }
    }
    region.writtenFrom = STACK_SIZE;
    return region;
  }
}

const stackPools = new WeakMap<Memory, StackSet[]>();

export function acquireStacks(memory: Memory): StackSet {
  let pool = stackPools.get(memory);
  if (pool === undefined) stackPools.set(memory, (pool = []));
  return pool.pop() ?? new StackSet(memory);
}

export function releaseStacks(memory: Memory, set: StackSet): void {
  stackPools.get(memory)!.push(set);
}

// ---------------------------------------------------------------- run state

/** Helper context reading r1..r5 from the run's register file (generated code spills them first). */
export class CompiledContext implements HelperContext {
  pc = -1;
  constructor(
    readonly memory: Memory,
    private readonly regs: Int32Array,
    private readonly state: RunState,
  ) {}
  callback(fn: bigint, ...args: bigint[]): bigint {
    return runCallback(this.state, fn, args);
  }
  arg(n: 1 | 2 | 3 | 4 | 5): bigint {
    return join(this.regs[2 * n + 1]!, this.regs[2 * n]!);
  }
  argU32(n: 1 | 2 | 3 | 4 | 5): number {
    return this.regs[2 * n]! >>> 0;
  }
  /** The upper half as an int32 (helpers use it to avoid building a BigInt). */
  argHi(n: 1 | 2 | 3 | 4 | 5): number {
    return this.regs[2 * n + 1]!;
  }
}

/**
 * Everything a run carries between generated functions: registers (in R while no generated
 * function runs), frames, counts, and where to resume (`pc` of `prog`).
 */
export class RunState {
  readonly R = new Int32Array(22);
  readonly F = new Int32Array(MAX_CALL_FRAMES * FRAME_WORDS);
  /** Program of the caller of each frame (tail calls can change programs inside a callee). */
  readonly FP: LoadedProgram[] = [];
  /** may_goto fall-throughs each frame has left. */
  readonly LP = new Float64Array(MAX_CALL_FRAMES);
  readonly C: CompiledContext;
  n = 0;
  depth = 0;
  /** The frame whose exit ends this run: 0, or a callback's frame above its caller's. */
  base = 0;
  /** The state a callback made from this run runs in (kept for the next callback). */
  child: RunState | undefined = undefined;
  pc = 0;
  tailCalls = 0;
  /**
   * Whether R is all zeros but r10 (R[20], R[21]), which every run sets. A run that ends at its final
   * exit leaves it so (generated code zeroes r1-r9 on that exit, runCompiled r0 once it has read it);
   * one that ends in a throw does not, and the next reset zeroes the whole file.
   */
  clean = true;
  constructor(
    public prog: LoadedProgram,
    public budget: number,
    readonly stacks: StackSet,
  ) {
    this.C = new CompiledContext(prog.env.memory, this.R, this);
  }
  /** Ready for a new run of `prog`: zero registers and counters (frames are written before they are read). */
  reset(prog: LoadedProgram, budget: number): void {
    if (!this.clean) this.R.fill(0);
    this.clean = false;
    this.prog = prog;
    this.budget = budget;
    this.n = 0;
    this.depth = 0;
    this.base = 0;
    this.pc = 0;
    this.tailCalls = 0;
    this.LP[0] = prog.mayGotoLoops;
    this.C.pc = -1;
  }
}

/** Runs a callback for CompiledContext.callback: set by tier.ts, which drives generated code. */
let runCallback: (S: RunState, fn: bigint, args: readonly bigint[]) => bigint = () => {
  throw new Error("compiled tier: no callback runner");
};
export function setCallbackRunner(fn: typeof runCallback): void {
  runCallback = fn;
}

// Run states (with their stacks) are reused per Memory: a run allocates nothing to start.
const statePools = new OwnerPools<Memory, RunState>();

export function acquireState(memory: Memory, prog: LoadedProgram, budget: number): RunState {
  const S = statePools.of(memory).pop() ?? new RunState(prog, budget, acquireStacks(memory));
  S.reset(prog, budget);
  return S;
}

export function releaseState(memory: Memory, S: RunState): void {
  if (S.FP.length !== 0) S.FP.length = 0; // do not keep programs alive through the pool
  statePools.of(memory).push(S);
}

// ---------------------------------------------------------------- slow paths

const setX = (value: bigint): void => {
  X[0] = Number(BigInt.asIntN(32, value));
  X[1] = Number(BigInt.asIntN(32, value >> 32n));
};

/** A helper's return value into X (number: sign-extended safe integer; bigint: modulo 2^64). */
function hret(v: bigint | number): void {
  if (typeof v === "number") {
    X[0] = v | 0;
    X[1] = Math.floor(v / TWO32) | 0;
  } else if (typeof v === "bigint") setX(v);
  else X[0] = X[1] = 0;
}

/** Unsigned 64-bit div/mod of (ah:al) by (bh:bl) into X; by zero: div 0, mod leaves the dividend. */
function udiv64(ah: number, al: number, bh: number, bl: number, mod: boolean): void {
  if (bl === 0 && bh === 0) {
    X[0] = mod ? al : 0;
    X[1] = mod ? ah : 0;
    return;
  }
  if (ah === 0 && bh === 0) {
    const a = al >>> 0;
    const b = bl >>> 0;
    X[0] = (mod ? a % b : Math.floor(a / b)) | 0;
    X[1] = 0;
    return;
  }
  const a = join(ah, al);
  const b = join(bh, bl);
  setX(mod ? a % b : a / b);
}

/** Signed 64-bit div/mod into X with the verifier's fix-ups: x/0 = 0, x%0 = x, MIN/-1 = MIN, x%-1 = 0. */
function sdiv64(ah: number, al: number, bh: number, bl: number, mod: boolean): void {
  if (bl === 0 && bh === 0) {
    X[0] = mod ? al : 0;
    X[1] = mod ? ah : 0;
    return;
  }
  if (bl === -1 && bh === -1) {
    if (mod) X[0] = X[1] = 0;
    else {
      X[1] = (al === 0 ? -ah : ~ah) | 0;
      X[0] = -al | 0;
    }
    return;
  }
  const a = BigInt.asIntN(64, join(ah, al));
  const b = BigInt.asIntN(64, join(bh, bl));
  setX(mod ? a % b : a / b);
}

/** 64-bit atomic at (dh:dl)+off with operand (vh:vl); the old value goes to X. */
const atomic64 = (mem: Memory, dh: number, dl: number, off: number, vl: number, vh: number, r0l: number, r0h: number, op: number): void =>
  sharedAtomic64(mem, dh, dl, off, vl, vh, r0l, r0h, op, X);

const fmt = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`;

/**
 * LD_ABS/LD_IND: the big-endian load of `size` bytes at `offset` of the packet the context
 * (r6 = ch:cl) names, as a non-negative number, or -1 when out of bounds.
 */
function loadPacket(prog: LoadedProgram, mem: Memory, ch: number, cl: number, offset: number, size: number): number {
  const ctx = join(ch, cl);
  let packet: Uint8Array | undefined;
  if (prog.env.packetOf !== undefined) packet = prog.env.packetOf(ctx);
  else {
    const region = mem.regionOf(ctx);
    const start = (cl - REGION_BASE) >>> 0;
    if (region !== undefined && start <= region.bytes.length) packet = region.bytes.subarray(start);
  }
  if (packet === undefined) throw new VmFault(`legacy packet load: r6 (${fmt(ctx)}) does not name a packet`, ctx);
  if (offset < 0 || offset + size > packet.length) return -1;
  let v = 0;
  for (let k = 0; k < size; k++) v = (v << 8) | packet[offset + k]!;
  return v >>> 0;
}

/** bpf_tail_call: true when the run continues at slot 0 of S.prog (now the target). */
function tailCall(S: RunState, prog: LoadedProgram, ah: number, al: number, index: number, pc: number): boolean {
  const target = prog.env.tailCallTarget!(join(ah, al), index);
  if (target === undefined || S.tailCalls >= MAX_TAIL_CALLS) return false;
  S.tailCalls++;
  if (target === null) return false;
  if (!(target instanceof LoadedProgram)) throw new VmError(`instruction ${pc}: tail call target is not a loaded program`, pc);
  if (target.env.memory !== prog.env.memory) throw new VmError(`instruction ${pc}: tail call target lives in another address space`, pc);
  S.prog = target;
  return true;
}

function tooDeep(depth: number, pc: number): VmError {
  return new VmError(`instruction ${pc}: the call stack of ${depth + 2} frames is too deep (at most ${MAX_CALL_FRAMES})`, pc);
}

function pastEnd(pc: number): VmError {
  return new VmError(`instruction ${pc}: execution ran past the end of the program`, pc);
}

function notExecutable(pc: number, op: number): VmError {
  return new VmError(`instruction ${pc}: opcode 0x${op.toString(16)} is not executable`, pc);
}

/** High 32 bits of the unsigned product of two 32-bit values, from exact 16-bit partial products. */
function umulh(a: number, b: number): number {
  a >>>= 0;
  b >>>= 0;
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) | 0;
}

const bswap32 = (x: number): number => ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);

/** What generated code reaches through its `rt` parameter. */
export const rt = {
  X,
  hret,
  udiv64,
  sdiv64,
  atomic32,
  atomic64,
  loadPacket,
  tailCall,
  tooDeep,
  pastEnd,
  notExecutable,
  budgetExceeded: (pc: number, budget: number): BudgetExceeded => new BudgetExceeded(pc, budget),
  umulh,
  bswap32,
  isFault: (e: unknown): boolean => e instanceof VmFault,
  EMPTY: new Uint8Array(0),
  EMPTY_VIEW: new DataView(new ArrayBuffer(0)),
} as const;
export type Rt = typeof rt;
