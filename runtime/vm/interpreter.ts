// The reference interpreter: executes a LoadedProgram with the kernel's exact semantics.
// Takes a LoadedProgram (program.ts) and the argument registers; gives r0 and the count of
// executed instructions, or throws VmFault / BudgetExceeded / VmError naming the instruction.
//
// Registers are 22 int32 (register k: [2k] low half, [2k+1] high half) at the start of the
// program's image (see "the interpreter's image" below), the same typed array as the re-encoded
// slots, so the hot loop reads one array. 64-bit arithmetic is done on the halves, BigInt only in
// 64-bit div/mod. The hot loop is one function with one dense `switch` on the opcode, allocates
// nothing per instruction and charges the budget once per straight-line run. Each frame (main program and up to 7 nested local calls) has its own 512-byte
// stack region, zeroed on entry; r10 is that frame's top. A local call saves r6-r10 and the
// return slot; the callee starts with the caller's r1-r9; exit restores r6-r10. A tail call
// keeps the registers, frame and stack and continues at slot 0 of the target program.
// In the loop, slot fields are read at literal offsets from the slot index `i` (i + 4 = LO ...)
// so that they compile to constants.

import type { HelperContext } from "./env.js";
import { BudgetExceeded, VmError } from "./errors.js";
import { type Memory, REGION_BASE, type Region, VmFault, join } from "./memory.js";
import { addrHi, atomic32 as sharedAtomic32, atomic64 as sharedAtomic64 } from "./atomics.js";
import { OwnerPools } from "./pools.js";
import {
  DEFAULT_BUDGET,
  LoadedProgram,
  MAX_CALL_FRAMES,
  MAX_TAIL_CALLS,
  STACK_SIZE,
  funcSlot,
} from "./program.js";

export type RegValue = bigint | number;

export interface RunOptions {
  r1?: RegValue;
  r2?: RegValue;
  r3?: RegValue;
  r4?: RegValue;
  r5?: RegValue;
  /** Most instructions to execute (LDDW counts once); default: the program's budget. */
  budget?: number;
  /**
   * An object the run fills in and returns instead of a new one (a caller that runs a program over
   * and over and copies the result out spares an allocation per run).
   */
  result?: RunResult;
}

export interface RunResult {
  /** r0 at the final exit, unsigned. */
  r0: bigint;
  /** Instructions executed, including those of tail-called programs. */
  instructions: number;
}

/** Saved state per frame: r6-r9 (8 halves), r10 (2 halves), return slot. */
const FRAME_WORDS = 11;
/** Bytes of an XOp.PROBE_LDX_* load by its size bits (W, H, B, DW). */
const PROBE_LOAD_SIZES = [4, 2, 1, 8];
const TWO32 = 4294967296;

/** The HelperContext of one run: reads r1..r5 straight from the register file. */
class RunContext implements HelperContext {
  pc = -1;
  // The run's state at a callback helper's call (XOp.CALL_CALLBACK), for callback().
  prog: LoadedProgram | undefined = undefined;
  stacks: StackSet | undefined = undefined;
  depth = 0;
  /** Instructions the run has executed, through the call; callback() adds the callee's. */
  n = 0;
  budget = 0;
  constructor(
    public memory: Memory,
    /** The image whose registers are live. */
    public regs: Int32Array,
  ) {}
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
  callback(fn: bigint, ...args: bigint[]): bigint {
    const prog = this.prog!;
    const entry = funcSlot(prog, fn);
    if (entry === undefined) throw new VmError(`instruction ${this.pc}: callback ${fmt(fn)} is not a function of the program`, this.pc);
    const depth = this.depth + 1;
    if (depth >= MAX_CALL_FRAMES) {
      throw new VmError(`instruction ${this.pc}: the call stack of ${depth + 1} frames is too deep (at most ${MAX_CALL_FRAMES})`, this.pc);
    }
    // A fresh register file: the callee's r6-r9 are its own and the caller's stay in the caller's image.
    const image = acquireImage(prog);
    try {
      image.fill(0, 0, 22);
      for (let k = 0; k < args.length && k < 5; k++) setReg(image, 2 + 2 * k, args[k]!);
      const stack = this.stacks!.enter(depth);
      image[20] = REGION_BASE + STACK_SIZE;
      image[21] = stack.hi;
      const r = execute(prog, image, this.memory, this.stacks!, this.budget, undefined, SLOTS + entry * 8, depth, this.n);
      this.n = r.instructions;
      return r.r0;
    } finally {
      releaseImage(prog, image);
    }
  }
}

// ---------------------------------------------------------------- stacks

interface FrameArrays {
  readonly hi: number;
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
}

/** One run's frame stacks, mapped once per Memory and reused by later runs. */
class StackSet {
  readonly regions: Region[] = [];
  /** Each frame's address half, bytes and int32 words (for the frame-access ops of the image). */
  readonly frames: FrameArrays[] = [];
  constructor(private readonly memory: Memory) {}
  /** The zeroed stack region of frame `depth`. */
  enter(depth: number): Region {
    let region = this.regions[depth];
    if (region === undefined) {
      const bytes = new Uint8Array(STACK_SIZE);
      region = this.memory.map("stack", bytes, { name: `stack of frame ${depth}` });
      this.regions[depth] = region;
      this.frames[depth] = { hi: region.hi, bytes, words: new Int32Array(bytes.buffer, 0, STACK_SIZE / 4) };
    } else region.bytes.fill(0);
    return region;
  }
}

const stackPools = new OwnerPools<Memory, StackSet>();

function acquireStacks(memory: Memory): StackSet {
  return stackPools.of(memory).pop() ?? new StackSet(memory);
}

function releaseStacks(memory: Memory, set: StackSet): void {
  stackPools.of(memory).push(set);
}

// ---------------------------------------------------------------- 64-bit arithmetic on halves

function setReg(R: Int32Array, d: number, value: RegValue): void {
  if (typeof value === "number") {
    R[d] = value | 0;
    R[d + 1] = Math.floor(value / TWO32) | 0;
  } else {
    R[d] = Number(BigInt.asIntN(32, value));
    R[d + 1] = Number(BigInt.asIntN(32, value >> 32n));
  }
}

function mul64(R: Int32Array, d: number, bl: number, bh: number): void {
  const al = R[d]!;
  const ah = R[d + 1]!;
  const a = al >>> 0;
  const b = bl >>> 0;
  // High 32 bits of the unsigned 32x32 product, from 16-bit partial products (all exact doubles).
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const hi = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  R[d + 1] = (hi + Math.imul(al, bh) + Math.imul(ah, bl)) | 0;
  R[d] = Math.imul(al, bl);
}

function lsh64(R: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    R[d + 1] = (R[d + 1]! << n) | (R[d]! >>> (32 - n));
    R[d] = R[d]! << n;
  } else {
    R[d + 1] = R[d]! << (n - 32);
    R[d] = 0;
  }
}

function rsh64(R: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    R[d] = (R[d]! >>> n) | (R[d + 1]! << (32 - n));
    R[d + 1] = R[d + 1]! >>> n;
  } else {
    R[d] = R[d + 1]! >>> (n - 32);
    R[d + 1] = 0;
  }
}

function arsh64(R: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    R[d] = (R[d]! >>> n) | (R[d + 1]! << (32 - n));
    R[d + 1] = R[d + 1]! >> n;
  } else {
    R[d] = R[d + 1]! >> (n - 32);
    R[d + 1] = R[d + 1]! >> 31;
  }
}

/** Unsigned 64-bit div (`mod` false) or mod; by zero: div gives 0, mod leaves dst. */
function udiv64(R: Int32Array, d: number, bl: number, bh: number, mod: boolean): void {
  if (bl === 0 && bh === 0) {
    if (!mod) R[d] = R[d + 1] = 0;
    return;
  }
  const ah = R[d + 1]!;
  if (ah === 0 && bh === 0) {
    const a = R[d]! >>> 0;
    const b = bl >>> 0;
    R[d] = (mod ? a % b : Math.floor(a / b)) | 0;
    return;
  }
  const a = join(ah, R[d]!);
  const b = join(bh, bl);
  setReg(R, d, mod ? a % b : a / b);
}

/** Signed 64-bit div or mod with the verifier's fix-ups: x/0 = 0, x%0 = x, MIN/-1 = MIN, x%-1 = 0. */
function sdiv64(R: Int32Array, d: number, bl: number, bh: number, mod: boolean): void {
  if (bl === 0 && bh === 0) {
    if (!mod) R[d] = R[d + 1] = 0;
    return;
  }
  if (bl === -1 && bh === -1) {
    if (mod) R[d] = R[d + 1] = 0;
    else {
      const al = R[d]!;
      R[d + 1] = (al === 0 ? -R[d + 1]! : ~R[d + 1]!) | 0;
      R[d] = -al | 0;
    }
    return;
  }
  const a = BigInt.asIntN(64, join(R[d + 1]!, R[d]!));
  const b = BigInt.asIntN(64, join(bh, bl));
  setReg(R, d, mod ? a % b : a / b);
}

const bswap32 = (x: number): number => ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);

/** dst = bswap(dst) of `width` bits, zero-extended (END to BE and ALU64 BSWAP on a little-endian machine). */
function swap(R: Int32Array, d: number, width: number): void {
  const x = R[d]!;
  if (width === 16) {
    R[d] = ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
    R[d + 1] = 0;
  } else if (width === 32) {
    R[d] = bswap32(x);
    R[d + 1] = 0;
  } else {
    R[d] = bswap32(R[d + 1]!);
    R[d + 1] = bswap32(x);
  }
}

const gtU = (ah: number, al: number, bh: number, bl: number): boolean => (ah !== bh ? ah >>> 0 > bh >>> 0 : al >>> 0 > bl >>> 0);
const geU = (ah: number, al: number, bh: number, bl: number): boolean => (ah !== bh ? ah >>> 0 > bh >>> 0 : al >>> 0 >= bl >>> 0);
const gtS = (ah: number, al: number, bh: number, bl: number): boolean => (ah !== bh ? ah > bh : al >>> 0 > bl >>> 0);
const geS = (ah: number, al: number, bh: number, bl: number): boolean => (ah !== bh ? ah > bh : al >>> 0 >= bl >>> 0);

// ---------------------------------------------------------------- atomics

/** The old value of a 64-bit atomic. */
const OLD = new Int32Array(2);

function atomic32(mem: Memory, R: Int32Array, d: number, s: number, off: number, op: number): void {
  const old = sharedAtomic32(mem, R[d + 1]!, R[d]!, off, R[s]!, R[0]!, op);
  // CMPXCHG loads the old value into r0, the FETCH forms into the source register.
  const to = op === 0xf1 ? 0 : op & 0x01 ? s : -1;
  if (to >= 0) {
    R[to] = old;
    R[to + 1] = 0;
  }
}

function atomic64(mem: Memory, R: Int32Array, d: number, s: number, off: number, op: number): void {
  sharedAtomic64(mem, R[d + 1]!, R[d]!, off, R[s]!, R[s + 1]!, R[0]!, R[1]!, op, OLD);
  const to = op === 0xf1 ? 0 : op & 0x01 ? s : -1;
  if (to >= 0) {
    R[to] = OLD[0]!;
    R[to + 1] = OLD[1]!;
  }
}

// ---------------------------------------------------------------- legacy packet loads

/**
 * LD_ABS/LD_IND: r0 = big-endian load of `size` bytes at `offset` of the packet the context in
 * r6 names. False when out of bounds (the kernel then exits the current function with r0 = 0).
 */
/** linux/filter.h's SKF_NET_OFF: the offset of a classic BPF load relative to the network header. */
const SKF_NET_OFF = -0x100000;

function loadPacket(prog: LoadedProgram, mem: Memory, R: Int32Array, offset: number, size: number): boolean {
  const ctx = join(R[13]!, R[12]!);
  let packet: Uint8Array | undefined;
  if (prog.env.packetOf !== undefined) packet = prog.env.packetOf(ctx);
  else {
    const region = mem.regionOf(ctx);
    const start = (R[12]! - REGION_BASE) >>> 0;
    if (region !== undefined && start <= region.bytes.length) packet = region.bytes.subarray(start);
  }
  if (packet === undefined) throw new VmFault(`legacy packet load: r6 (${fmt(ctx)}) does not name a packet`, ctx);
  // Classic BPF's SKF_NET_OFF + k reads at the network header, where a test run's packet starts (the kernel moved the
  // skb past its Ethernet header); SKF_LL_OFF + k (the link layer) fails there, as other negative offsets do.
  if (offset >= SKF_NET_OFF && offset < SKF_NET_OFF + packet.length) offset -= SKF_NET_OFF;
  if (offset < 0 || offset + size > packet.length) return false;
  let v = 0;
  for (let k = 0; k < size; k++) v = (v << 8) | packet[offset + k]!;
  R[0] = v;
  R[1] = 0;
  return true;
}

const fmt = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`;

// ---------------------------------------------------------------- the interpreter

/** Runs `program` to its final exit. */
export function interpret(program: LoadedProgram, options: RunOptions = {}): RunResult {
  const mem = program.env.memory;
  const R = acquireImage(program);
  R.fill(0, 0, 22);
  if (options.r1 !== undefined) setReg(R, 2, options.r1);
  if (options.r2 !== undefined) setReg(R, 4, options.r2);
  if (options.r3 !== undefined) setReg(R, 6, options.r3);
  if (options.r4 !== undefined) setReg(R, 8, options.r4);
  if (options.r5 !== undefined) setReg(R, 10, options.r5);
  const budget = options.budget ?? program.budget ?? DEFAULT_BUDGET;
  const stacks = acquireStacks(mem);
  try {
    const stack = stacks.enter(0);
    R[20] = REGION_BASE + STACK_SIZE;
    R[21] = stack.hi;
    return execute(program, R, mem, stacks, budget, options.result);
  } finally {
    releaseImage(program, R);
    releaseStacks(mem, stacks);
  }
}

// ---------------------------------------------------------------- the interpreter's image

// The interpreter runs an image of the program: one Int32Array holding the register file at
// [0, 22) and the slots of `program.code` from SLOTS on, so that the hot loop touches a single
// typed array. Slot `pc` is at i = SLOTS + 8 * pc, re-encoded:
//   +0    op | dst * 2 << 8 | src * 2 << 16   (one load decodes what most ops need)
//   +3..5 OFF, LO, HI as in program.ts
//   +6    jump and local call targets as image indexes; helper index otherwise; for the frame
//         ops below, the access's offset in the frame (512 + off)
//   +7    instructions from this slot to the end of its run: a straight line ending at the next
//         jump, call, exit, tail call or legacy packet load. The budget is charged per run.
// Images hold a run's registers, so each run takes its own from a per-program pool.
const SLOTS = 24;
const F_RUN = 7;
/** Internal opcode (a free LD-class byte): throw BudgetExceeded here. */
const OP_BUDGET = 0x08;

const pcOf = (i: number): number => (i - SLOTS) >> 3;

/** Lower half of r10 while it is the top of the current frame. */
const FRAME_TOP = REGION_BASE + STACK_SIZE;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Frame ops: an LDX/ST/STX through r10 at a constant offset inside the frame (bytes, or aligned
 * words on little-endian hosts) gets the unused mode 0xe0 in its opcode. While r10 is the frame
 * top (always, unless an unverified program wrote r10) the op reads or writes the frame's
 * arrays at the offset precomputed in +6; otherwise it falls through to the ordinary op.
 */
function frameOp(op: number, base: number, off: number): number {
  const size = op & 0x18;
  if (base !== 20 || (op & 0xe0) !== 0x60 || size === 0x08) return op;
  const bytes = size === 0x00 ? 4 : size === 0x18 ? 8 : 1;
  const o = STACK_SIZE + off;
  if (o < 0 || o + bytes > STACK_SIZE || (bytes > 1 && (o % 4 !== 0 || !LITTLE_ENDIAN))) return op;
  return op | 0xe0;
}

/** Ops after which execution does not simply go on at the next slot. */
function endsRun(op: number): boolean {
  const cls = op & 7;
  if (cls === 5 || cls === 6) return op !== 0x85;
  return op === 0x00 || op === 0x20 || op === 0x28 || op === 0x30 || op === 0x40 || op === 0x48 || op === 0x50 || op === 0x58 || op === 0x60 || op === 0x68 || op === 0xe8;
}

function buildImage(prog: LoadedProgram): Int32Array {
  const code = prog.code;
  const slots = code.length >> 3;
  const image = new Int32Array(SLOTS + code.length);
  for (let p = 0; p < slots; p++) {
    const at = p << 3;
    const op = code[at]!;
    const cls = op & 7;
    const x = SLOTS + at;
    // The address register of LDX is src, of ST and STX dst.
    const fop = cls === 1 ? frameOp(op, code[at + 2]!, code[at + 3]!) : cls === 2 || cls === 3 ? frameOp(op, code[at + 1]!, code[at + 3]!) : op;
    image[x] = fop | (code[at + 1]! << 8) | (code[at + 2]! << 16);
    image[x + 3] = code[at + 3]!;
    image[x + 4] = code[at + 4]!;
    image[x + 5] = code[at + 5]!;
    const jumps = op === 0x58 || op === 0x60 || ((cls === 5 || cls === 6) && op !== 0x85 && op !== 0x95);
    image[x + 6] = jumps ? SLOTS + (code[at + 6]! << 3) : fop !== op ? STACK_SIZE + code[at + 3]! : code[at + 6]!;
  }
  for (let p = slots - 1; p >= 0; p--) {
    const x = SLOTS + (p << 3);
    const op = image[x]! & 255;
    const next = op === 0x18 ? p + 2 : p + 1;
    image[x + F_RUN] = endsRun(op) || next >= slots ? 1 : 1 + image[SLOTS + (next << 3) + F_RUN]!;
  }
  return image;
}

const imagePools = new OwnerPools<LoadedProgram, Int32Array>();

function acquireImage(prog: LoadedProgram): Int32Array {
  return imagePools.of(prog).pop() ?? buildImage(prog);
}

function releaseImage(prog: LoadedProgram, image: Int32Array): void {
  imagePools.of(prog).push(image);
}

const NO_IMAGE = new Int32Array(0);

/** What a run needs besides its image and stacks, kept between runs (a run allocates none of it). */
class RunScratch {
  readonly ctx = new RunContext(undefined as unknown as Memory, NO_IMAGE);
  readonly frames = new Int32Array(MAX_CALL_FRAMES * FRAME_WORDS);
  /** may_goto fall-throughs each frame has left. */
  readonly loops = new Float64Array(MAX_CALL_FRAMES);
  readonly framePrograms: LoadedProgram[] = [];
  readonly frameImages: Int32Array[] = [];
  /** Images taken for tail-call targets, as (program, image) pairs, given back at the end. */
  readonly held: (LoadedProgram | Int32Array)[] = [];
}

const scratchPool: RunScratch[] = [];

/**
 * The run entered at `i` exhausts the budget at its `k`-th instruction: a copy of `image` that
 * throws BudgetExceeded there, after executing (and faulting in) the instructions before it.
 */
function budgetTrap(image: Int32Array, i: number, k: number): Int32Array {
  let p = i;
  for (; k > 0; k--) p += (image[p]! & 255) === 0x18 ? 16 : 8;
  const trapped = image.slice();
  trapped[p] = (trapped[p]! & ~255) | OP_BUDGET;
  return trapped;
}

/**
 * Runs `image` (registers set, taken from `program`'s pool) from image index `start` in frame `bottom` until that frame
 * exits, `n0` instructions of the run already executed (a callback runs so, its frame above its caller's).
 */
function execute(
  program: LoadedProgram,
  image: Int32Array,
  mem: Memory,
  stacks: StackSet,
  budget: number,
  out: RunResult | undefined,
  start = SLOTS,
  bottom = 0,
  n0 = 0,
): RunResult {
  let X = image;
  const scratch = scratchPool.pop() ?? new RunScratch();
  const ctx = scratch.ctx;
  ctx.memory = mem;
  ctx.regs = X;
  ctx.pc = -1;
  const frames = scratch.frames;
  const framePrograms = scratch.framePrograms;
  const frameImages = scratch.frameImages;
  const held = scratch.held;
  const loops = scratch.loops;
  loops[bottom] = program.mayGotoLoops;
  let prog = program;
  let helperFns = prog.helperFns;
  // `| 0`: typed as small integers from the start, as constants would be (else the hot loop runs ~25% slower).
  let depth = bottom | 0;
  let tailCalls = 0;
  let i = start | 0;
  let n = n0;
  // The current frame's arrays.
  let fr = stacks.frames[bottom]!;
  // Runs are counted whole on entry; n >= budget before an instruction is n > limit after its run's count.
  const limit = Math.ceil(budget);
  try {
    enter: for (;;) {
      const rem = X[i + F_RUN]!;
      n += rem;
      if (n > limit) X = ctx.regs = budgetTrap(X, i, Math.max(0, limit - (n - rem)));
      for (;;) {
        const w = X[i]!;
        const d = (w >> 8) & 255;
        switch (w & 255) {
          // ------------------------------------------------ ALU64
          case 0x07: {
            // add K (inlined: the hottest op)
            const sum = (X[d]! >>> 0) + (X[i + 4]! >>> 0);
            X[d] = sum | 0;
            X[d + 1] = (X[d + 1]! + X[i + 5]! + (sum > 0xffffffff ? 1 : 0)) | 0;
            break;
          }
          case 0x0f: {
            const s = w >>> 16;
            const sum = (X[d]! >>> 0) + (X[s]! >>> 0);
            X[d] = sum | 0;
            X[d + 1] = (X[d + 1]! + X[s + 1]! + (sum > 0xffffffff ? 1 : 0)) | 0;
            break;
          }
          case 0x17: {
            // sub
            const a = X[d]! >>> 0;
            const b = X[i + 4]! >>> 0;
            X[d] = (a - b) | 0;
            X[d + 1] = (X[d + 1]! - X[i + 5]! - (a < b ? 1 : 0)) | 0;
            break;
          }
          case 0x1f: {
            const s = w >>> 16;
            const a = X[d]! >>> 0;
            const b = X[s]! >>> 0;
            X[d] = (a - b) | 0;
            X[d + 1] = (X[d + 1]! - X[s + 1]! - (a < b ? 1 : 0)) | 0;
            break;
          }
          case 0x27: // mul
            mul64(X, d, X[i + 4]!, X[i + 5]!);
            break;
          case 0x2f: {
            const s = w >>> 16;
            mul64(X, d, X[s]!, X[s + 1]!);
            break;
          }
          case 0x37: // div
            udiv64(X, d, X[i + 4]!, X[i + 5]!, false);
            break;
          case 0x3f: {
            const s = w >>> 16;
            udiv64(X, d, X[s]!, X[s + 1]!, false);
            break;
          }
          case 0x47: // or
            X[d] |= X[i + 4]!;
            X[d + 1] |= X[i + 5]!;
            break;
          case 0x4f: {
            const s = w >>> 16;
            X[d] |= X[s]!;
            X[d + 1] |= X[s + 1]!;
            break;
          }
          case 0x57: // and
            X[d] &= X[i + 4]!;
            X[d + 1] &= X[i + 5]!;
            break;
          case 0x5f: {
            const s = w >>> 16;
            X[d] &= X[s]!;
            X[d + 1] &= X[s + 1]!;
            break;
          }
          case 0x67: // lsh
            lsh64(X, d, X[i + 4]!);
            break;
          case 0x6f:
            lsh64(X, d, X[w >>> 16]! & 63);
            break;
          case 0x77: // rsh
            rsh64(X, d, X[i + 4]!);
            break;
          case 0x7f:
            rsh64(X, d, X[w >>> 16]! & 63);
            break;
          case 0x87: {
            // neg
            const al = X[d]!;
            X[d + 1] = (al === 0 ? -X[d + 1]! : ~X[d + 1]!) | 0;
            X[d] = -al | 0;
            break;
          }
          case 0x97: // mod
            udiv64(X, d, X[i + 4]!, X[i + 5]!, true);
            break;
          case 0x9f: {
            const s = w >>> 16;
            udiv64(X, d, X[s]!, X[s + 1]!, true);
            break;
          }
          case 0xa7: // xor
            X[d] ^= X[i + 4]!;
            X[d + 1] ^= X[i + 5]!;
            break;
          case 0xaf: {
            const s = w >>> 16;
            X[d] ^= X[s]!;
            X[d + 1] ^= X[s + 1]!;
            break;
          }
          case 0xb7: // mov
            X[d] = X[i + 4]!;
            X[d + 1] = X[i + 5]!;
            break;
          case 0xbf: {
            const s = w >>> 16;
            X[d] = X[s]!;
            X[d + 1] = X[s + 1]!;
            break;
          }
          case 0xc7: // arsh
            arsh64(X, d, X[i + 4]!);
            break;
          case 0xcf:
            arsh64(X, d, X[w >>> 16]! & 63);
            break;
          case 0xd7: // bswap
          case 0xdc: // ALU end to big endian
            swap(X, d, X[i + 4]!);
            break;
          case 0x70: // XOp.SDIV64_K
            sdiv64(X, d, X[i + 4]!, X[i + 5]!, false);
            break;
          case 0x78: {
            // XOp.SDIV64_X
            const s = w >>> 16;
            sdiv64(X, d, X[s]!, X[s + 1]!, false);
            break;
          }
          case 0x80: // XOp.SMOD64_K
            sdiv64(X, d, X[i + 4]!, X[i + 5]!, true);
            break;
          case 0x88: {
            // XOp.SMOD64_X
            const s = w >>> 16;
            sdiv64(X, d, X[s]!, X[s + 1]!, true);
            break;
          }
          case 0xb0: {
            // XOp.MOVSX64
            const x = X[w >>> 16]!;
            const width = X[i + 3]!;
            const v = width === 8 ? (x << 24) >> 24 : width === 16 ? (x << 16) >> 16 : x;
            X[d] = v;
            X[d + 1] = v >> 31;
            break;
          }

          // ------------------------------------------------ ALU (32-bit, zero-extending)
          case 0x04:
            X[d] = (X[d]! + X[i + 4]!) | 0;
            X[d + 1] = 0;
            break;
          case 0x0c:
            X[d] = (X[d]! + X[w >>> 16]!) | 0;
            X[d + 1] = 0;
            break;
          case 0x14:
            X[d] = (X[d]! - X[i + 4]!) | 0;
            X[d + 1] = 0;
            break;
          case 0x1c:
            X[d] = (X[d]! - X[w >>> 16]!) | 0;
            X[d + 1] = 0;
            break;
          case 0x24:
            X[d] = Math.imul(X[d]!, X[i + 4]!);
            X[d + 1] = 0;
            break;
          case 0x2c:
            X[d] = Math.imul(X[d]!, X[w >>> 16]!);
            X[d + 1] = 0;
            break;
          case 0x34: {
            const b = X[i + 4]! >>> 0;
            X[d] = b === 0 ? 0 : Math.floor((X[d]! >>> 0) / b) | 0;
            X[d + 1] = 0;
            break;
          }
          case 0x3c: {
            const b = X[w >>> 16]! >>> 0;
            X[d] = b === 0 ? 0 : Math.floor((X[d]! >>> 0) / b) | 0;
            X[d + 1] = 0;
            break;
          }
          case 0x44:
            X[d] |= X[i + 4]!;
            X[d + 1] = 0;
            break;
          case 0x4c:
            X[d] |= X[w >>> 16]!;
            X[d + 1] = 0;
            break;
          case 0x54:
            X[d] &= X[i + 4]!;
            X[d + 1] = 0;
            break;
          case 0x5c:
            X[d] &= X[w >>> 16]!;
            X[d + 1] = 0;
            break;
          case 0x64:
            X[d] = X[d]! << X[i + 4]!;
            X[d + 1] = 0;
            break;
          case 0x6c:
            X[d] = X[d]! << (X[w >>> 16]! & 31);
            X[d + 1] = 0;
            break;
          case 0x74:
            X[d] = X[d]! >>> X[i + 4]!;
            X[d + 1] = 0;
            break;
          case 0x7c:
            X[d] = X[d]! >>> (X[w >>> 16]! & 31);
            X[d + 1] = 0;
            break;
          case 0x84:
            X[d] = -X[d]! | 0;
            X[d + 1] = 0;
            break;
          case 0x94: {
            const b = X[i + 4]! >>> 0;
            if (b !== 0) X[d] = (X[d]! >>> 0) % b | 0;
            X[d + 1] = 0;
            break;
          }
          case 0x9c: {
            const b = X[w >>> 16]! >>> 0;
            if (b !== 0) X[d] = (X[d]! >>> 0) % b | 0;
            X[d + 1] = 0;
            break;
          }
          case 0xa4:
            X[d] ^= X[i + 4]!;
            X[d + 1] = 0;
            break;
          case 0xac:
            X[d] ^= X[w >>> 16]!;
            X[d + 1] = 0;
            break;
          case 0xb4:
            X[d] = X[i + 4]!;
            X[d + 1] = 0;
            break;
          case 0xbc:
            X[d] = X[w >>> 16]!;
            X[d + 1] = 0;
            break;
          case 0xc4:
            X[d] = X[d]! >> X[i + 4]!;
            X[d + 1] = 0;
            break;
          case 0xcc:
            X[d] = X[d]! >> (X[w >>> 16]! & 31);
            X[d + 1] = 0;
            break;
          case 0xd4: {
            // end to little endian: a truncation on this little-endian machine
            const w = X[i + 4]!;
            if (w === 16) X[d] &= 0xffff;
            if (w !== 64) X[d + 1] = 0;
            break;
          }
          case 0x90: // XOp.SDIV32_K
          case 0x98: {
            // XOp.SDIV32_X
            const a = X[d]!;
            const b = (w & 255) === 0x90 ? X[i + 4]! : X[w >>> 16]!;
            X[d] = b === 0 ? 0 : Math.trunc(a / b) | 0;
            X[d + 1] = 0;
            break;
          }
          case 0xa0: // XOp.SMOD32_K
          case 0xa8: {
            // XOp.SMOD32_X
            const a = X[d]!;
            const b = (w & 255) === 0xa0 ? X[i + 4]! : X[w >>> 16]!;
            if (b === -1) X[d] = 0;
            else if (b !== 0) X[d] = a % b | 0;
            X[d + 1] = 0;
            break;
          }
          case 0xb8: {
            // XOp.MOVSX32
            const x = X[w >>> 16]!;
            X[d] = X[i + 3]! === 8 ? (x << 24) >> 24 : (x << 16) >> 16;
            X[d + 1] = 0;
            break;
          }

          // ------------------------------------------------ LD
          case 0x18: // lddw
            X[d] = X[i + 4]!;
            X[d + 1] = X[i + 5]!;
            i += 16;
            continue;
          case 0x20: // ld_abs w/h/b
          case 0x28:
          case 0x30:
          case 0x40: // ld_ind w/h/b
          case 0x48:
          case 0x50: {
            const op = w & 255;
            const size = (op & 0x18) === 0 ? 4 : (op & 0x18) === 0x08 ? 2 : 1;
            const offset = op >= 0x40 ? (X[w >>> 16]! + X[i + 4]!) | 0 : X[i + 4]!;
            if (loadPacket(prog, mem, X, offset, size)) {
              i += 8;
              continue enter;
            }
            // Out of bounds: the kernel's lowering zeroes r0 and exits the current function.
            X[0] = X[1] = 0;
            if (depth === bottom) break enter;
            depth--;
            fr = stacks.frames[depth]!;
            const base = depth * FRAME_WORDS;
            i = frames[base + 10]!;
            if (frameImages[depth] !== X) {
              // Back in a frame of another program: its image takes over the registers.
              const caller = frameImages[depth]!;
              caller.set(X.subarray(0, 22));
              X = ctx.regs = caller;
              prog = framePrograms[depth]!;
              helperFns = prog.helperFns;
            }
            X.set(frames.subarray(base, base + 10), 12);
            continue enter;
          }

          // ------------------------------------------------ LDX
          case 0xe1:
          case 0x61: {
            // Frame op (mode 0xe0) while r10 is the frame top: straight to the frame's arrays.
            if ((w & 0xe0) === 0xe0 && X[20] === FRAME_TOP && X[21] === fr.hi) {
              X[d] = fr.words[X[i + 6]! >> 2]!;
              X[d + 1] = 0;
              break;
            }
            const s = w >>> 16;
            const off = X[i + 3]!;
            const lo = (X[s]! + off) | 0;
            const rg = mem.resolve(addrHi(X[s + 1]!, X[s]!, off), lo, 4, false);
            X[d] = rg.view.getInt32((lo - REGION_BASE) >>> 0, true);
            X[d + 1] = 0;
            break;
          }
          case 0x69: {
            const s = w >>> 16;
            const off = X[i + 3]!;
            const lo = (X[s]! + off) | 0;
            const rg = mem.resolve(addrHi(X[s + 1]!, X[s]!, off), lo, 2, false);
            X[d] = rg.view.getUint16((lo - REGION_BASE) >>> 0, true);
            X[d + 1] = 0;
            break;
          }
          case 0xf1:
          case 0x71: {
            // Frame op (mode 0xe0) while r10 is the frame top: straight to the frame's arrays.
            if ((w & 0xe0) === 0xe0 && X[20] === FRAME_TOP && X[21] === fr.hi) {
              X[d] = fr.bytes[X[i + 6]!]!;
              X[d + 1] = 0;
              break;
            }
            const s = w >>> 16;
            const off = X[i + 3]!;
            const lo = (X[s]! + off) | 0;
            const rg = mem.resolve(addrHi(X[s + 1]!, X[s]!, off), lo, 1, false);
            X[d] = rg.bytes[(lo - REGION_BASE) >>> 0]!;
            X[d + 1] = 0;
            break;
          }
          case 0xf9:
          case 0x79: {
            // Frame op (mode 0xe0) while r10 is the frame top: straight to the frame's arrays.
            if ((w & 0xe0) === 0xe0 && X[20] === FRAME_TOP && X[21] === fr.hi) {
              const o = X[i + 6]! >> 2;
              X[d] = fr.words[o]!;
              X[d + 1] = fr.words[o + 1]!;
              break;
            }
            const s = w >>> 16;
            const off = X[i + 3]!;
            const lo = (X[s]! + off) | 0;
            const rg = mem.resolve(addrHi(X[s + 1]!, X[s]!, off), lo, 8, false);
            const o = (lo - REGION_BASE) >>> 0;
            X[d] = rg.view.getInt32(o, true);
            X[d + 1] = rg.view.getInt32(o + 4, true);
            break;
          }
          case 0xc0: // XOp.PROBE_LDX_W, _H, _B, _DW: a fault reads zero (the kernel's BPF_PROBE_MEM)
          case 0xc8:
          case 0xd0:
          case 0xd8: {
            const s = w >>> 16;
            const off = X[i + 3]!;
            const lo = (X[s]! + off) | 0;
            const size = PROBE_LOAD_SIZES[(w >> 3) & 3]!;
            let rg: Region;
            try {
              rg = mem.resolve(addrHi(X[s + 1]!, X[s]!, off), lo, size, false);
            } catch (e) {
              if (!(e instanceof VmFault)) throw e;
              X[d] = 0;
              X[d + 1] = 0;
              break;
            }
            const o = (lo - REGION_BASE) >>> 0;
            X[d] = size >= 4 ? rg.view.getInt32(o, true) : size === 2 ? rg.view.getUint16(o, true) : rg.bytes[o]!;
            X[d + 1] = size === 8 ? rg.view.getInt32(o + 4, true) : 0;
            break;
          }
          case 0x81: {
            // memsx w
            const s = w >>> 16;
            const off = X[i + 3]!;
            const lo = (X[s]! + off) | 0;
            const rg = mem.resolve(addrHi(X[s + 1]!, X[s]!, off), lo, 4, false);
            const v = rg.view.getInt32((lo - REGION_BASE) >>> 0, true);
            X[d] = v;
            X[d + 1] = v >> 31;
            break;
          }
          case 0x89: {
            const s = w >>> 16;
            const off = X[i + 3]!;
            const lo = (X[s]! + off) | 0;
            const rg = mem.resolve(addrHi(X[s + 1]!, X[s]!, off), lo, 2, false);
            const v = rg.view.getInt16((lo - REGION_BASE) >>> 0, true);
            X[d] = v;
            X[d + 1] = v >> 31;
            break;
          }
          case 0x91: {
            const s = w >>> 16;
            const off = X[i + 3]!;
            const lo = (X[s]! + off) | 0;
            const rg = mem.resolve(addrHi(X[s + 1]!, X[s]!, off), lo, 1, false);
            const v = rg.view.getInt8((lo - REGION_BASE) >>> 0);
            X[d] = v;
            X[d + 1] = v >> 31;
            break;
          }

          // ------------------------------------------------ ST (imm) and STX (register)
          case 0xe2:
          case 0xe3:
          case 0x62:
          case 0x63: {
            // Frame op (mode 0xe0) while r10 is the frame top: straight to the frame's arrays.
            if ((w & 0xe0) === 0xe0 && X[20] === FRAME_TOP && X[21] === fr.hi) {
              fr.words[X[i + 6]! >> 2] = (w & 1) === 0 ? X[i + 4]! : X[w >>> 16]!;
              break;
            }
            const off = X[i + 3]!;
            const lo = (X[d]! + off) | 0;
            const rg = mem.resolve(addrHi(X[d + 1]!, X[d]!, off), lo, 4, true);
            rg.view.setInt32((lo - REGION_BASE) >>> 0, (w & 1) === 0 ? X[i + 4]! : X[w >>> 16]!, true);
            break;
          }
          case 0x6a:
          case 0x6b: {
            const off = X[i + 3]!;
            const lo = (X[d]! + off) | 0;
            const rg = mem.resolve(addrHi(X[d + 1]!, X[d]!, off), lo, 2, true);
            rg.view.setInt16((lo - REGION_BASE) >>> 0, (w & 1) === 0 ? X[i + 4]! : X[w >>> 16]!, true);
            break;
          }
          case 0xf2:
          case 0xf3:
          case 0x72:
          case 0x73: {
            // Frame op (mode 0xe0) while r10 is the frame top: straight to the frame's arrays.
            if ((w & 0xe0) === 0xe0 && X[20] === FRAME_TOP && X[21] === fr.hi) {
              fr.bytes[X[i + 6]!] = (w & 1) === 0 ? X[i + 4]! : X[w >>> 16]!;
              break;
            }
            const off = X[i + 3]!;
            const lo = (X[d]! + off) | 0;
            const rg = mem.resolve(addrHi(X[d + 1]!, X[d]!, off), lo, 1, true);
            rg.bytes[(lo - REGION_BASE) >>> 0] = (w & 1) === 0 ? X[i + 4]! : X[w >>> 16]!;
            break;
          }
          case 0xfa:
          case 0xfb:
          case 0x7a:
          case 0x7b: {
            // Frame op (mode 0xe0) while r10 is the frame top: straight to the frame's arrays.
            if ((w & 0xe0) === 0xe0 && X[20] === FRAME_TOP && X[21] === fr.hi) {
              const o = X[i + 6]! >> 2;
              if ((w & 1) === 0) {
                fr.words[o] = X[i + 4]!;
                fr.words[o + 1] = X[i + 5]!;
              } else {
                const s = w >>> 16;
                fr.words[o] = X[s]!;
                fr.words[o + 1] = X[s + 1]!;
              }
              break;
            }
            const off = X[i + 3]!;
            const lo = (X[d]! + off) | 0;
            const rg = mem.resolve(addrHi(X[d + 1]!, X[d]!, off), lo, 8, true);
            const o = (lo - REGION_BASE) >>> 0;
            if ((w & 1) === 0) {
              rg.view.setInt32(o, X[i + 4]!, true);
              rg.view.setInt32(o + 4, X[i + 5]!, true);
            } else {
              const s = w >>> 16;
              rg.view.setInt32(o, X[s]!, true);
              rg.view.setInt32(o + 4, X[s + 1]!, true);
            }
            break;
          }
          case 0xc3:
            atomic32(mem, X, d, (w >>> 16), X[i + 3]!, X[i + 4]!);
            break;
          case 0xdb:
            atomic64(mem, X, d, (w >>> 16), X[i + 3]!, X[i + 4]!);
            break;

          // ------------------------------------------------ JMP (64-bit compares)
          case 0x05: // ja, and JMP32 ja (gotol)
            i = X[i + 6]!;
            continue enter;
          case 0x15:
            i = X[d] === X[i + 4] && X[d + 1] === X[i + 5] ? X[i + 6]! : i + 8;
            continue enter;
          case 0x1d: {
            const s = w >>> 16;
            i = X[d] === X[s] && X[d + 1] === X[s + 1] ? X[i + 6]! : i + 8;
            continue enter;
          }
          case 0x55:
            i = X[d] !== X[i + 4] || X[d + 1] !== X[i + 5] ? X[i + 6]! : i + 8;
            continue enter;
          case 0x5d: {
            const s = w >>> 16;
            i = X[d] !== X[s] || X[d + 1] !== X[s + 1] ? X[i + 6]! : i + 8;
            continue enter;
          }
          case 0x45:
            i = (X[d]! & X[i + 4]!) !== 0 || (X[d + 1]! & X[i + 5]!) !== 0 ? X[i + 6]! : i + 8;
            continue enter;
          case 0x4d: {
            const s = w >>> 16;
            i = (X[d]! & X[s]!) !== 0 || (X[d + 1]! & X[s + 1]!) !== 0 ? X[i + 6]! : i + 8;
            continue enter;
          }
          case 0x25:
            i = gtU(X[d + 1]!, X[d]!, X[i + 5]!, X[i + 4]!) ? X[i + 6]! : i + 8;
            continue enter;
          case 0x2d: {
            const s = w >>> 16;
            i = gtU(X[d + 1]!, X[d]!, X[s + 1]!, X[s]!) ? X[i + 6]! : i + 8;
            continue enter;
          }
          case 0x35:
            i = geU(X[d + 1]!, X[d]!, X[i + 5]!, X[i + 4]!) ? X[i + 6]! : i + 8;
            continue enter;
          case 0x3d: {
            const s = w >>> 16;
            i = geU(X[d + 1]!, X[d]!, X[s + 1]!, X[s]!) ? X[i + 6]! : i + 8;
            continue enter;
          }
          case 0xa5: // jlt: b > a
            i = gtU(X[i + 5]!, X[i + 4]!, X[d + 1]!, X[d]!) ? X[i + 6]! : i + 8;
            continue enter;
          case 0xad: {
            const s = w >>> 16;
            i = gtU(X[s + 1]!, X[s]!, X[d + 1]!, X[d]!) ? X[i + 6]! : i + 8;
            continue enter;
          }
          case 0xb5: // jle: b >= a
            i = geU(X[i + 5]!, X[i + 4]!, X[d + 1]!, X[d]!) ? X[i + 6]! : i + 8;
            continue enter;
          case 0xbd: {
            const s = w >>> 16;
            i = geU(X[s + 1]!, X[s]!, X[d + 1]!, X[d]!) ? X[i + 6]! : i + 8;
            continue enter;
          }
          case 0x65:
            i = gtS(X[d + 1]!, X[d]!, X[i + 5]!, X[i + 4]!) ? X[i + 6]! : i + 8;
            continue enter;
          case 0x6d: {
            const s = w >>> 16;
            i = gtS(X[d + 1]!, X[d]!, X[s + 1]!, X[s]!) ? X[i + 6]! : i + 8;
            continue enter;
          }
          case 0x75:
            i = geS(X[d + 1]!, X[d]!, X[i + 5]!, X[i + 4]!) ? X[i + 6]! : i + 8;
            continue enter;
          case 0x7d: {
            const s = w >>> 16;
            i = geS(X[d + 1]!, X[d]!, X[s + 1]!, X[s]!) ? X[i + 6]! : i + 8;
            continue enter;
          }
          case 0xc5:
            i = gtS(X[i + 5]!, X[i + 4]!, X[d + 1]!, X[d]!) ? X[i + 6]! : i + 8;
            continue enter;
          case 0xcd: {
            const s = w >>> 16;
            i = gtS(X[s + 1]!, X[s]!, X[d + 1]!, X[d]!) ? X[i + 6]! : i + 8;
            continue enter;
          }
          case 0xd5:
            i = geS(X[i + 5]!, X[i + 4]!, X[d + 1]!, X[d]!) ? X[i + 6]! : i + 8;
            continue enter;
          case 0xdd: {
            const s = w >>> 16;
            i = geS(X[s + 1]!, X[s]!, X[d + 1]!, X[d]!) ? X[i + 6]! : i + 8;
            continue enter;
          }

          // ------------------------------------------------ JMP32 (low halves)
          case 0x16:
            i = X[d] === X[i + 4] ? X[i + 6]! : i + 8;
            continue enter;
          case 0x1e:
            i = X[d] === X[w >>> 16] ? X[i + 6]! : i + 8;
            continue enter;
          case 0x56:
            i = X[d] !== X[i + 4] ? X[i + 6]! : i + 8;
            continue enter;
          case 0x5e:
            i = X[d] !== X[w >>> 16] ? X[i + 6]! : i + 8;
            continue enter;
          case 0x46:
            i = (X[d]! & X[i + 4]!) !== 0 ? X[i + 6]! : i + 8;
            continue enter;
          case 0x4e:
            i = (X[d]! & X[w >>> 16]!) !== 0 ? X[i + 6]! : i + 8;
            continue enter;
          case 0x26:
            i = X[d]! >>> 0 > X[i + 4]! >>> 0 ? X[i + 6]! : i + 8;
            continue enter;
          case 0x2e:
            i = X[d]! >>> 0 > X[w >>> 16]! >>> 0 ? X[i + 6]! : i + 8;
            continue enter;
          case 0x36:
            i = X[d]! >>> 0 >= X[i + 4]! >>> 0 ? X[i + 6]! : i + 8;
            continue enter;
          case 0x3e:
            i = X[d]! >>> 0 >= X[w >>> 16]! >>> 0 ? X[i + 6]! : i + 8;
            continue enter;
          case 0xa6:
            i = X[d]! >>> 0 < X[i + 4]! >>> 0 ? X[i + 6]! : i + 8;
            continue enter;
          case 0xae:
            i = X[d]! >>> 0 < X[w >>> 16]! >>> 0 ? X[i + 6]! : i + 8;
            continue enter;
          case 0xb6:
            i = X[d]! >>> 0 <= X[i + 4]! >>> 0 ? X[i + 6]! : i + 8;
            continue enter;
          case 0xbe:
            i = X[d]! >>> 0 <= X[w >>> 16]! >>> 0 ? X[i + 6]! : i + 8;
            continue enter;
          case 0x66:
            i = X[d]! > X[i + 4]! ? X[i + 6]! : i + 8;
            continue enter;
          case 0x6e:
            i = X[d]! > X[w >>> 16]! ? X[i + 6]! : i + 8;
            continue enter;
          case 0x76:
            i = X[d]! >= X[i + 4]! ? X[i + 6]! : i + 8;
            continue enter;
          case 0x7e:
            i = X[d]! >= X[w >>> 16]! ? X[i + 6]! : i + 8;
            continue enter;
          case 0xc6:
            i = X[d]! < X[i + 4]! ? X[i + 6]! : i + 8;
            continue enter;
          case 0xce:
            i = X[d]! < X[w >>> 16]! ? X[i + 6]! : i + 8;
            continue enter;
          case 0xd6:
            i = X[d]! <= X[i + 4]! ? X[i + 6]! : i + 8;
            continue enter;
          case 0xde:
            i = X[d]! <= X[w >>> 16]! ? X[i + 6]! : i + 8;
            continue enter;

          // ------------------------------------------------ calls and exit
          case 0x85: {
            // helper call: r1..r5 in, r0 out
            ctx.pc = pcOf(i);
            const v = helperFns[X[i + 6]!]!(ctx);
            if (typeof v === "number") {
              X[0] = v | 0;
              X[1] = Math.floor(v / TWO32) | 0;
            } else if (typeof v === "bigint") setReg(X, 0, v);
            else X[0] = X[1] = 0;
            break;
          }
          case 0xe8: {
            // XOp.CALL_CALLBACK: a helper that runs functions of the program; their instructions join the count
            ctx.pc = pcOf(i);
            ctx.prog = prog;
            ctx.stacks = stacks;
            ctx.depth = depth;
            ctx.n = n;
            ctx.budget = budget;
            const v = helperFns[X[i + 6]!]!(ctx);
            n = ctx.n;
            if (typeof v === "number") {
              X[0] = v | 0;
              X[1] = Math.floor(v / TWO32) | 0;
            } else if (typeof v === "bigint") setReg(X, 0, v);
            else X[0] = X[1] = 0;
            i += 8;
            continue enter;
          }
          case 0x60: {
            // XOp.CALL_LOCAL
            if (depth + 1 >= MAX_CALL_FRAMES) {
              throw new VmError(`instruction ${pcOf(i)}: the call stack of ${depth + 2} frames is too deep (at most ${MAX_CALL_FRAMES})`, pcOf(i));
            }
            const base = depth * FRAME_WORDS;
            frames.set(X.subarray(12, 22), base);
            frames[base + 10] = i + 8;
            framePrograms[depth] = prog;
            frameImages[depth] = X;
            depth++;
            loops[depth] = prog.mayGotoLoops;
            const stack = stacks.enter(depth);
            X[20] = REGION_BASE + STACK_SIZE;
            X[21] = stack.hi;
            fr = stacks.frames[depth]!;
            i = X[i + 6]!;
            continue enter;
          }
          case 0x95: {
            if (depth === bottom) break enter;
            depth--;
            fr = stacks.frames[depth]!;
            const base = depth * FRAME_WORDS;
            i = frames[base + 10]!;
            if (frameImages[depth] !== X) {
              // Back in a frame of another program: its image takes over the registers.
              const caller = frameImages[depth]!;
              caller.set(X.subarray(0, 22));
              X = ctx.regs = caller;
              prog = framePrograms[depth]!;
              helperFns = prog.helperFns;
            }
            X.set(frames.subarray(base, base + 10), 12);
            continue enter;
          }
          case 0x68: {
            // XOp.TAIL_CALL: r2 = prog array, r3 = index; falls through when there is no target
            const target = prog.env.tailCallTarget!(join(X[5]!, X[4]!), X[6]! >>> 0);
            if (target === undefined || tailCalls >= MAX_TAIL_CALLS || (tailCalls++, target === null)) {
              i += 8;
              continue enter;
            }
            if (!(target instanceof LoadedProgram)) throw new VmError(`instruction ${pcOf(i)}: tail call target is not a loaded program`, pcOf(i));
            if (target.env.memory !== mem) throw new VmError(`instruction ${pcOf(i)}: tail call target lives in another address space`, pcOf(i));
            if (target !== prog) {
              const image = acquireImage(target);
              held.push(target, image);
              image.set(X.subarray(0, 22));
              X = ctx.regs = image;
              prog = target;
              helperFns = prog.helperFns;
            }
            // The target starts its own loop count, as its prologue does in the kernel.
            loops[depth] = prog.mayGotoLoops;
            i = SLOTS;
            continue enter;
          }
          case 0x58: {
            // XOp.MAY_GOTO: jump once this frame's loop count is spent, else count down and fall through
            const left = loops[depth]!;
            if (left === 0) i = X[i + 6]!;
            else {
              loops[depth] = left - 1;
              i += 8;
            }
            continue enter;
          }
          case OP_BUDGET:
            throw new BudgetExceeded(pcOf(i), budget);
          case 0x00:
            throw new VmError(`instruction ${pcOf(i)}: execution ran past the end of the program`, pcOf(i));
          default:
            throw new VmError(`instruction ${pcOf(i)}: opcode 0x${(w & 255).toString(16)} is not executable`, pcOf(i));
        }
        i += 8;
      }
    }
  } catch (e) {
    if (e instanceof VmFault) {
      if (e.pc < 0) e.pc = pcOf(i);
      if (!e.message.startsWith("instruction ")) {
        e.message = `instruction ${e.pc}${prog === program ? "" : ` of ${prog.name}`}: ${e.message}`;
      }
    }
    throw e;
  } finally {
    if (held.length !== 0) {
      for (let k = 0; k < held.length; k += 2) releaseImage(held[k] as LoadedProgram, held[k + 1] as Int32Array);
      held.length = 0;
    }
    // Keep no programs, images or address space alive through the pool.
    if (framePrograms.length !== 0) framePrograms.length = 0;
    if (frameImages.length !== 0) frameImages.length = 0;
    ctx.memory = undefined as unknown as Memory;
    ctx.regs = NO_IMAGE;
    ctx.prog = undefined;
    ctx.stacks = undefined;
    scratchPool.push(scratch);
  }
  const r0 = X[1] === 0 && X[0]! >>> 0 < 256 ? SMALL[X[0]!]! : join(X[1]!, X[0]!);
  if (out === undefined) return { r0, instructions: n };
  out.r0 = r0;
  out.instructions = n;
  return out;
}

/** r0 values 0..255 as BigInts: most programs return one of these. */
const SMALL = Array.from({ length: 256 }, (_, i) => BigInt(i));
