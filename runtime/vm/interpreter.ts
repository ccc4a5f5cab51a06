// The reference interpreter: executes a LoadedProgram with the kernel's exact semantics.
// Takes a LoadedProgram (program.ts) and the argument registers; gives r0 and the count of
// executed instructions, or throws VmFault / BudgetExceeded / VmError naming the instruction.
//
// Registers are an Int32Array of 22 (register k: [2k] low half, [2k+1] high half, both int32);
// 64-bit arithmetic is done on the halves, BigInt only in 64-bit div/mod. The hot loop is one
// function with one dense `switch` on the pre-decoded opcode and allocates nothing per
// instruction. Each frame (main program and up to 7 nested local calls) has its own 512-byte
// stack region, zeroed on entry; r10 is that frame's top. A local call saves r6-r10 and the
// return slot; the callee starts with the caller's r1-r9; exit restores r6-r10. A tail call
// keeps the registers, frame and stack and continues at slot 0 of the target program.
// In the loop, slot fields are read at literal offsets (i + 1 = DST ... i + 6 = AUX, see
// program.ts) so that they compile to constants.

import type { HelperContext } from "./env.js";
import { BudgetExceeded, VmError } from "./errors.js";
import { type Memory, REGION_BASE, type Region, VmFault, join } from "./memory.js";
import {
  DEFAULT_BUDGET,
  LoadedProgram,
  MAX_CALL_FRAMES,
  MAX_TAIL_CALLS,
  STACK_SIZE,
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
}

export interface RunResult {
  /** r0 at the final exit, unsigned. */
  r0: bigint;
  /** Instructions executed, including those of tail-called programs. */
  instructions: number;
}

/** Saved state per frame: r6-r9 (8 halves), r10 (2 halves), return slot. */
const FRAME_WORDS = 11;
const TWO32 = 4294967296;

/** The HelperContext of one run: reads r1..r5 straight from the register file. */
class RunContext implements HelperContext {
  pc = -1;
  constructor(
    readonly memory: Memory,
    private readonly regs: Int32Array,
  ) {}
  arg(n: 1 | 2 | 3 | 4 | 5): bigint {
    return join(this.regs[2 * n + 1]!, this.regs[2 * n]!);
  }
  argU32(n: 1 | 2 | 3 | 4 | 5): number {
    return this.regs[2 * n]! >>> 0;
  }
}

// ---------------------------------------------------------------- stacks

/** One run's frame stacks, mapped once per Memory and reused by later runs. */
class StackSet {
  private readonly regions: Region[] = [];
  constructor(private readonly memory: Memory) {}
  /** The zeroed stack region of frame `depth`. */
  enter(depth: number): Region {
    let region = this.regions[depth];
    if (region === undefined) {
      region = this.memory.map("stack", new Uint8Array(STACK_SIZE), { name: `stack of frame ${depth}` });
      this.regions[depth] = region;
    } else region.bytes.fill(0);
    return region;
  }
}

const stackPools = new WeakMap<Memory, StackSet[]>();

function acquireStacks(memory: Memory): StackSet {
  let pool = stackPools.get(memory);
  if (pool === undefined) stackPools.set(memory, (pool = []));
  return pool.pop() ?? new StackSet(memory);
}

function releaseStacks(memory: Memory, set: StackSet): void {
  stackPools.get(memory)!.push(set);
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

/** Upper half of (hi:lo) + off for a 16-bit signed `off`. */
const addrHi = (hi: number, lo: number, off: number): number => {
  const s = (lo >>> 0) + off;
  return s > 0xffffffff ? (hi + 1) | 0 : s < 0 ? (hi - 1) | 0 : hi;
};

// ---------------------------------------------------------------- atomics

function atomic32(mem: Memory, R: Int32Array, d: number, s: number, off: number, op: number): void {
  const lo = (R[d]! + off) | 0;
  const region = mem.resolve(addrHi(R[d + 1]!, R[d]!, off), lo, 4, true);
  const o = (lo - REGION_BASE) >>> 0;
  const view = region.view;
  const old = view.getInt32(o, true);
  const v = R[s]!;
  switch (op) {
    case 0x00:
    case 0x01:
      view.setInt32(o, (old + v) | 0, true);
      break;
    case 0x40:
    case 0x41:
      view.setInt32(o, old | v, true);
      break;
    case 0x50:
    case 0x51:
      view.setInt32(o, old & v, true);
      break;
    case 0xa0:
    case 0xa1:
      view.setInt32(o, old ^ v, true);
      break;
    case 0xe1:
      view.setInt32(o, v, true);
      break;
    case 0xf1:
      if (old === R[0]) view.setInt32(o, v, true);
      R[0] = old;
      R[1] = 0;
      return;
  }
  if (op & 0x01) {
    R[s] = old;
    R[s + 1] = 0;
  }
}

function atomic64(mem: Memory, R: Int32Array, d: number, s: number, off: number, op: number): void {
  const lo = (R[d]! + off) | 0;
  const region = mem.resolve(addrHi(R[d + 1]!, R[d]!, off), lo, 8, true);
  const o = (lo - REGION_BASE) >>> 0;
  const view = region.view;
  const oldL = view.getInt32(o, true);
  const oldH = view.getInt32(o + 4, true);
  const vl = R[s]!;
  const vh = R[s + 1]!;
  let nl = vl;
  let nh = vh;
  switch (op) {
    case 0x00:
    case 0x01: {
      const sum = (oldL >>> 0) + (vl >>> 0);
      nl = sum | 0;
      nh = (oldH + vh + (sum > 0xffffffff ? 1 : 0)) | 0;
      break;
    }
    case 0x40:
    case 0x41:
      nl = oldL | vl;
      nh = oldH | vh;
      break;
    case 0x50:
    case 0x51:
      nl = oldL & vl;
      nh = oldH & vh;
      break;
    case 0xa0:
    case 0xa1:
      nl = oldL ^ vl;
      nh = oldH ^ vh;
      break;
    case 0xe1:
      break;
    case 0xf1:
      if (oldL === R[0] && oldH === R[1]) {
        view.setInt32(o, vl, true);
        view.setInt32(o + 4, vh, true);
      }
      R[0] = oldL;
      R[1] = oldH;
      return;
  }
  view.setInt32(o, nl, true);
  view.setInt32(o + 4, nh, true);
  if (op & 0x01) {
    R[s] = oldL;
    R[s + 1] = oldH;
  }
}

// ---------------------------------------------------------------- legacy packet loads

/**
 * LD_ABS/LD_IND: r0 = big-endian load of `size` bytes at `offset` of the packet the context in
 * r6 names. False when out of bounds (the kernel then exits the current function with r0 = 0).
 */
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
  const R = new Int32Array(22);
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
    return execute(program, R, mem, stacks, budget);
  } finally {
    releaseStacks(mem, stacks);
  }
}

function execute(program: LoadedProgram, R: Int32Array, mem: Memory, stacks: StackSet, budget: number): RunResult {
  const ctx = new RunContext(mem, R);
  const frames = new Int32Array(MAX_CALL_FRAMES * FRAME_WORDS);
  const framePrograms: LoadedProgram[] = [];
  let prog = program;
  let code = prog.code;
  let helperFns = prog.helperFns;
  let depth = 0;
  let tailCalls = 0;
  let pc = 0;
  let n = 0;
  try {
    run: for (;;) {
      const i = pc << 3;
      if (n >= budget) throw new BudgetExceeded(pc, budget);
      n++;
      const d = code[i + 1]!;
      switch (code[i]) {
        // ------------------------------------------------ ALU64
        case 0x07: {
          // add K (inlined: the hottest op)
          const sum = (R[d]! >>> 0) + (code[i + 4]! >>> 0);
          R[d] = sum | 0;
          R[d + 1] = (R[d + 1]! + code[i + 5]! + (sum > 0xffffffff ? 1 : 0)) | 0;
          break;
        }
        case 0x0f: {
          const s = code[i + 2]!;
          const sum = (R[d]! >>> 0) + (R[s]! >>> 0);
          R[d] = sum | 0;
          R[d + 1] = (R[d + 1]! + R[s + 1]! + (sum > 0xffffffff ? 1 : 0)) | 0;
          break;
        }
        case 0x17: {
          // sub
          const a = R[d]! >>> 0;
          const b = code[i + 4]! >>> 0;
          R[d] = (a - b) | 0;
          R[d + 1] = (R[d + 1]! - code[i + 5]! - (a < b ? 1 : 0)) | 0;
          break;
        }
        case 0x1f: {
          const s = code[i + 2]!;
          const a = R[d]! >>> 0;
          const b = R[s]! >>> 0;
          R[d] = (a - b) | 0;
          R[d + 1] = (R[d + 1]! - R[s + 1]! - (a < b ? 1 : 0)) | 0;
          break;
        }
        case 0x27: // mul
          mul64(R, d, code[i + 4]!, code[i + 5]!);
          break;
        case 0x2f: {
          const s = code[i + 2]!;
          mul64(R, d, R[s]!, R[s + 1]!);
          break;
        }
        case 0x37: // div
          udiv64(R, d, code[i + 4]!, code[i + 5]!, false);
          break;
        case 0x3f: {
          const s = code[i + 2]!;
          udiv64(R, d, R[s]!, R[s + 1]!, false);
          break;
        }
        case 0x47: // or
          R[d] |= code[i + 4]!;
          R[d + 1] |= code[i + 5]!;
          break;
        case 0x4f: {
          const s = code[i + 2]!;
          R[d] |= R[s]!;
          R[d + 1] |= R[s + 1]!;
          break;
        }
        case 0x57: // and
          R[d] &= code[i + 4]!;
          R[d + 1] &= code[i + 5]!;
          break;
        case 0x5f: {
          const s = code[i + 2]!;
          R[d] &= R[s]!;
          R[d + 1] &= R[s + 1]!;
          break;
        }
        case 0x67: // lsh
          lsh64(R, d, code[i + 4]!);
          break;
        case 0x6f:
          lsh64(R, d, R[code[i + 2]!]! & 63);
          break;
        case 0x77: // rsh
          rsh64(R, d, code[i + 4]!);
          break;
        case 0x7f:
          rsh64(R, d, R[code[i + 2]!]! & 63);
          break;
        case 0x87: {
          // neg
          const al = R[d]!;
          R[d + 1] = (al === 0 ? -R[d + 1]! : ~R[d + 1]!) | 0;
          R[d] = -al | 0;
          break;
        }
        case 0x97: // mod
          udiv64(R, d, code[i + 4]!, code[i + 5]!, true);
          break;
        case 0x9f: {
          const s = code[i + 2]!;
          udiv64(R, d, R[s]!, R[s + 1]!, true);
          break;
        }
        case 0xa7: // xor
          R[d] ^= code[i + 4]!;
          R[d + 1] ^= code[i + 5]!;
          break;
        case 0xaf: {
          const s = code[i + 2]!;
          R[d] ^= R[s]!;
          R[d + 1] ^= R[s + 1]!;
          break;
        }
        case 0xb7: // mov
          R[d] = code[i + 4]!;
          R[d + 1] = code[i + 5]!;
          break;
        case 0xbf: {
          const s = code[i + 2]!;
          R[d] = R[s]!;
          R[d + 1] = R[s + 1]!;
          break;
        }
        case 0xc7: // arsh
          arsh64(R, d, code[i + 4]!);
          break;
        case 0xcf:
          arsh64(R, d, R[code[i + 2]!]! & 63);
          break;
        case 0xd7: // bswap
        case 0xdc: // ALU end to big endian
          swap(R, d, code[i + 4]!);
          break;
        case 0x70: // XOp.SDIV64_K
          sdiv64(R, d, code[i + 4]!, code[i + 5]!, false);
          break;
        case 0x78: {
          // XOp.SDIV64_X
          const s = code[i + 2]!;
          sdiv64(R, d, R[s]!, R[s + 1]!, false);
          break;
        }
        case 0x80: // XOp.SMOD64_K
          sdiv64(R, d, code[i + 4]!, code[i + 5]!, true);
          break;
        case 0x88: {
          // XOp.SMOD64_X
          const s = code[i + 2]!;
          sdiv64(R, d, R[s]!, R[s + 1]!, true);
          break;
        }
        case 0xb0: {
          // XOp.MOVSX64
          const x = R[code[i + 2]!]!;
          const w = code[i + 3]!;
          const v = w === 8 ? (x << 24) >> 24 : w === 16 ? (x << 16) >> 16 : x;
          R[d] = v;
          R[d + 1] = v >> 31;
          break;
        }

        // ------------------------------------------------ ALU (32-bit, zero-extending)
        case 0x04:
          R[d] = (R[d]! + code[i + 4]!) | 0;
          R[d + 1] = 0;
          break;
        case 0x0c:
          R[d] = (R[d]! + R[code[i + 2]!]!) | 0;
          R[d + 1] = 0;
          break;
        case 0x14:
          R[d] = (R[d]! - code[i + 4]!) | 0;
          R[d + 1] = 0;
          break;
        case 0x1c:
          R[d] = (R[d]! - R[code[i + 2]!]!) | 0;
          R[d + 1] = 0;
          break;
        case 0x24:
          R[d] = Math.imul(R[d]!, code[i + 4]!);
          R[d + 1] = 0;
          break;
        case 0x2c:
          R[d] = Math.imul(R[d]!, R[code[i + 2]!]!);
          R[d + 1] = 0;
          break;
        case 0x34: {
          const b = code[i + 4]! >>> 0;
          R[d] = b === 0 ? 0 : Math.floor((R[d]! >>> 0) / b) | 0;
          R[d + 1] = 0;
          break;
        }
        case 0x3c: {
          const b = R[code[i + 2]!]! >>> 0;
          R[d] = b === 0 ? 0 : Math.floor((R[d]! >>> 0) / b) | 0;
          R[d + 1] = 0;
          break;
        }
        case 0x44:
          R[d] |= code[i + 4]!;
          R[d + 1] = 0;
          break;
        case 0x4c:
          R[d] |= R[code[i + 2]!]!;
          R[d + 1] = 0;
          break;
        case 0x54:
          R[d] &= code[i + 4]!;
          R[d + 1] = 0;
          break;
        case 0x5c:
          R[d] &= R[code[i + 2]!]!;
          R[d + 1] = 0;
          break;
        case 0x64:
          R[d] = R[d]! << code[i + 4]!;
          R[d + 1] = 0;
          break;
        case 0x6c:
          R[d] = R[d]! << (R[code[i + 2]!]! & 31);
          R[d + 1] = 0;
          break;
        case 0x74:
          R[d] = R[d]! >>> code[i + 4]!;
          R[d + 1] = 0;
          break;
        case 0x7c:
          R[d] = R[d]! >>> (R[code[i + 2]!]! & 31);
          R[d + 1] = 0;
          break;
        case 0x84:
          R[d] = -R[d]! | 0;
          R[d + 1] = 0;
          break;
        case 0x94: {
          const b = code[i + 4]! >>> 0;
          if (b !== 0) R[d] = (R[d]! >>> 0) % b | 0;
          R[d + 1] = 0;
          break;
        }
        case 0x9c: {
          const b = R[code[i + 2]!]! >>> 0;
          if (b !== 0) R[d] = (R[d]! >>> 0) % b | 0;
          R[d + 1] = 0;
          break;
        }
        case 0xa4:
          R[d] ^= code[i + 4]!;
          R[d + 1] = 0;
          break;
        case 0xac:
          R[d] ^= R[code[i + 2]!]!;
          R[d + 1] = 0;
          break;
        case 0xb4:
          R[d] = code[i + 4]!;
          R[d + 1] = 0;
          break;
        case 0xbc:
          R[d] = R[code[i + 2]!]!;
          R[d + 1] = 0;
          break;
        case 0xc4:
          R[d] = R[d]! >> code[i + 4]!;
          R[d + 1] = 0;
          break;
        case 0xcc:
          R[d] = R[d]! >> (R[code[i + 2]!]! & 31);
          R[d + 1] = 0;
          break;
        case 0xd4: {
          // end to little endian: a truncation on this little-endian machine
          const w = code[i + 4]!;
          if (w === 16) R[d] &= 0xffff;
          if (w !== 64) R[d + 1] = 0;
          break;
        }
        case 0x90: // XOp.SDIV32_K
        case 0x98: {
          // XOp.SDIV32_X
          const a = R[d]!;
          const b = code[i] === 0x90 ? code[i + 4]! : R[code[i + 2]!]!;
          R[d] = b === 0 ? 0 : Math.trunc(a / b) | 0;
          R[d + 1] = 0;
          break;
        }
        case 0xa0: // XOp.SMOD32_K
        case 0xa8: {
          // XOp.SMOD32_X
          const a = R[d]!;
          const b = code[i] === 0xa0 ? code[i + 4]! : R[code[i + 2]!]!;
          if (b === -1) R[d] = 0;
          else if (b !== 0) R[d] = a % b | 0;
          R[d + 1] = 0;
          break;
        }
        case 0xb8: {
          // XOp.MOVSX32
          const x = R[code[i + 2]!]!;
          R[d] = code[i + 3]! === 8 ? (x << 24) >> 24 : (x << 16) >> 16;
          R[d + 1] = 0;
          break;
        }

        // ------------------------------------------------ LD
        case 0x18: // lddw
          R[d] = code[i + 4]!;
          R[d + 1] = code[i + 5]!;
          pc += 2;
          continue;
        case 0x20: // ld_abs w/h/b
        case 0x28:
        case 0x30:
        case 0x40: // ld_ind w/h/b
        case 0x48:
        case 0x50: {
          const op = code[i]!;
          const size = (op & 0x18) === 0 ? 4 : (op & 0x18) === 0x08 ? 2 : 1;
          const offset = op >= 0x40 ? (R[code[i + 2]!]! + code[i + 4]!) | 0 : code[i + 4]!;
          if (loadPacket(prog, mem, R, offset, size)) break;
          // Out of bounds: the kernel's lowering zeroes r0 and exits the current function.
          R[0] = R[1] = 0;
          if (depth === 0) break run;
          depth--;
          const base = depth * FRAME_WORDS;
          R.set(frames.subarray(base, base + 10), 12);
          pc = frames[base + 10]!;
          if (framePrograms[depth] !== prog) {
            prog = framePrograms[depth]!;
            code = prog.code;
            helperFns = prog.helperFns;
          }
          continue;
        }

        // ------------------------------------------------ LDX
        case 0x61: {
          const s = code[i + 2]!;
          const off = code[i + 3]!;
          const lo = (R[s]! + off) | 0;
          const rg = mem.resolve(addrHi(R[s + 1]!, R[s]!, off), lo, 4, false);
          R[d] = rg.view.getInt32((lo - REGION_BASE) >>> 0, true);
          R[d + 1] = 0;
          break;
        }
        case 0x69: {
          const s = code[i + 2]!;
          const off = code[i + 3]!;
          const lo = (R[s]! + off) | 0;
          const rg = mem.resolve(addrHi(R[s + 1]!, R[s]!, off), lo, 2, false);
          R[d] = rg.view.getUint16((lo - REGION_BASE) >>> 0, true);
          R[d + 1] = 0;
          break;
        }
        case 0x71: {
          const s = code[i + 2]!;
          const off = code[i + 3]!;
          const lo = (R[s]! + off) | 0;
          const rg = mem.resolve(addrHi(R[s + 1]!, R[s]!, off), lo, 1, false);
          R[d] = rg.bytes[(lo - REGION_BASE) >>> 0]!;
          R[d + 1] = 0;
          break;
        }
        case 0x79: {
          const s = code[i + 2]!;
          const off = code[i + 3]!;
          const lo = (R[s]! + off) | 0;
          const rg = mem.resolve(addrHi(R[s + 1]!, R[s]!, off), lo, 8, false);
          const o = (lo - REGION_BASE) >>> 0;
          R[d] = rg.view.getInt32(o, true);
          R[d + 1] = rg.view.getInt32(o + 4, true);
          break;
        }
        case 0x81: {
          // memsx w
          const s = code[i + 2]!;
          const off = code[i + 3]!;
          const lo = (R[s]! + off) | 0;
          const rg = mem.resolve(addrHi(R[s + 1]!, R[s]!, off), lo, 4, false);
          const v = rg.view.getInt32((lo - REGION_BASE) >>> 0, true);
          R[d] = v;
          R[d + 1] = v >> 31;
          break;
        }
        case 0x89: {
          const s = code[i + 2]!;
          const off = code[i + 3]!;
          const lo = (R[s]! + off) | 0;
          const rg = mem.resolve(addrHi(R[s + 1]!, R[s]!, off), lo, 2, false);
          const v = rg.view.getInt16((lo - REGION_BASE) >>> 0, true);
          R[d] = v;
          R[d + 1] = v >> 31;
          break;
        }
        case 0x91: {
          const s = code[i + 2]!;
          const off = code[i + 3]!;
          const lo = (R[s]! + off) | 0;
          const rg = mem.resolve(addrHi(R[s + 1]!, R[s]!, off), lo, 1, false);
          const v = rg.view.getInt8((lo - REGION_BASE) >>> 0);
          R[d] = v;
          R[d + 1] = v >> 31;
          break;
        }

        // ------------------------------------------------ ST (imm) and STX (register)
        case 0x62:
        case 0x63: {
          const off = code[i + 3]!;
          const lo = (R[d]! + off) | 0;
          const rg = mem.resolve(addrHi(R[d + 1]!, R[d]!, off), lo, 4, true);
          rg.view.setInt32((lo - REGION_BASE) >>> 0, code[i] === 0x62 ? code[i + 4]! : R[code[i + 2]!]!, true);
          break;
        }
        case 0x6a:
        case 0x6b: {
          const off = code[i + 3]!;
          const lo = (R[d]! + off) | 0;
          const rg = mem.resolve(addrHi(R[d + 1]!, R[d]!, off), lo, 2, true);
          rg.view.setInt16((lo - REGION_BASE) >>> 0, code[i] === 0x6a ? code[i + 4]! : R[code[i + 2]!]!, true);
          break;
        }
        case 0x72:
        case 0x73: {
          const off = code[i + 3]!;
          const lo = (R[d]! + off) | 0;
          const rg = mem.resolve(addrHi(R[d + 1]!, R[d]!, off), lo, 1, true);
          rg.bytes[(lo - REGION_BASE) >>> 0] = code[i] === 0x72 ? code[i + 4]! : R[code[i + 2]!]!;
          break;
        }
        case 0x7a:
        case 0x7b: {
          const off = code[i + 3]!;
          const lo = (R[d]! + off) | 0;
          const rg = mem.resolve(addrHi(R[d + 1]!, R[d]!, off), lo, 8, true);
          const o = (lo - REGION_BASE) >>> 0;
          if (code[i] === 0x7a) {
            rg.view.setInt32(o, code[i + 4]!, true);
            rg.view.setInt32(o + 4, code[i + 5]!, true);
          } else {
            const s = code[i + 2]!;
            rg.view.setInt32(o, R[s]!, true);
            rg.view.setInt32(o + 4, R[s + 1]!, true);
          }
          break;
        }
        case 0xc3:
          atomic32(mem, R, d, code[i + 2]!, code[i + 3]!, code[i + 4]!);
          break;
        case 0xdb:
          atomic64(mem, R, d, code[i + 2]!, code[i + 3]!, code[i + 4]!);
          break;

        // ------------------------------------------------ JMP (64-bit compares)
        case 0x05: // ja, and JMP32 ja (gotol)
          pc = code[i + 6]!;
          continue;
        case 0x15:
          if (R[d] === code[i + 4] && R[d + 1] === code[i + 5]) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x1d: {
          const s = code[i + 2]!;
          if (R[d] === R[s] && R[d + 1] === R[s + 1]) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        }
        case 0x55:
          if (R[d] !== code[i + 4] || R[d + 1] !== code[i + 5]) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x5d: {
          const s = code[i + 2]!;
          if (R[d] !== R[s] || R[d + 1] !== R[s + 1]) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        }
        case 0x45:
          if ((R[d]! & code[i + 4]!) !== 0 || (R[d + 1]! & code[i + 5]!) !== 0) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x4d: {
          const s = code[i + 2]!;
          if ((R[d]! & R[s]!) !== 0 || (R[d + 1]! & R[s + 1]!) !== 0) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        }
        case 0x25:
          if (gtU(R[d + 1]!, R[d]!, code[i + 5]!, code[i + 4]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x2d: {
          const s = code[i + 2]!;
          if (gtU(R[d + 1]!, R[d]!, R[s + 1]!, R[s]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        }
        case 0x35:
          if (geU(R[d + 1]!, R[d]!, code[i + 5]!, code[i + 4]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x3d: {
          const s = code[i + 2]!;
          if (geU(R[d + 1]!, R[d]!, R[s + 1]!, R[s]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        }
        case 0xa5: // jlt: b > a
          if (gtU(code[i + 5]!, code[i + 4]!, R[d + 1]!, R[d]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0xad: {
          const s = code[i + 2]!;
          if (gtU(R[s + 1]!, R[s]!, R[d + 1]!, R[d]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        }
        case 0xb5: // jle: b >= a
          if (geU(code[i + 5]!, code[i + 4]!, R[d + 1]!, R[d]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0xbd: {
          const s = code[i + 2]!;
          if (geU(R[s + 1]!, R[s]!, R[d + 1]!, R[d]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        }
        case 0x65:
          if (gtS(R[d + 1]!, R[d]!, code[i + 5]!, code[i + 4]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x6d: {
          const s = code[i + 2]!;
          if (gtS(R[d + 1]!, R[d]!, R[s + 1]!, R[s]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        }
        case 0x75:
          if (geS(R[d + 1]!, R[d]!, code[i + 5]!, code[i + 4]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x7d: {
          const s = code[i + 2]!;
          if (geS(R[d + 1]!, R[d]!, R[s + 1]!, R[s]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        }
        case 0xc5:
          if (gtS(code[i + 5]!, code[i + 4]!, R[d + 1]!, R[d]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0xcd: {
          const s = code[i + 2]!;
          if (gtS(R[s + 1]!, R[s]!, R[d + 1]!, R[d]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        }
        case 0xd5:
          if (geS(code[i + 5]!, code[i + 4]!, R[d + 1]!, R[d]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0xdd: {
          const s = code[i + 2]!;
          if (geS(R[s + 1]!, R[s]!, R[d + 1]!, R[d]!)) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        }

        // ------------------------------------------------ JMP32 (low halves)
        case 0x16:
          if (R[d] === code[i + 4]) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x1e:
          if (R[d] === R[code[i + 2]!]) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x56:
          if (R[d] !== code[i + 4]) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x5e:
          if (R[d] !== R[code[i + 2]!]) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x46:
          if ((R[d]! & code[i + 4]!) !== 0) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x4e:
          if ((R[d]! & R[code[i + 2]!]!) !== 0) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x26:
          if (R[d]! >>> 0 > code[i + 4]! >>> 0) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x2e:
          if (R[d]! >>> 0 > R[code[i + 2]!]! >>> 0) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x36:
          if (R[d]! >>> 0 >= code[i + 4]! >>> 0) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x3e:
          if (R[d]! >>> 0 >= R[code[i + 2]!]! >>> 0) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0xa6:
          if (R[d]! >>> 0 < code[i + 4]! >>> 0) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0xae:
          if (R[d]! >>> 0 < R[code[i + 2]!]! >>> 0) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0xb6:
          if (R[d]! >>> 0 <= code[i + 4]! >>> 0) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0xbe:
          if (R[d]! >>> 0 <= R[code[i + 2]!]! >>> 0) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x66:
          if (R[d]! > code[i + 4]!) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x6e:
          if (R[d]! > R[code[i + 2]!]!) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x76:
          if (R[d]! >= code[i + 4]!) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0x7e:
          if (R[d]! >= R[code[i + 2]!]!) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0xc6:
          if (R[d]! < code[i + 4]!) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0xce:
          if (R[d]! < R[code[i + 2]!]!) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0xd6:
          if (R[d]! <= code[i + 4]!) {
            pc = code[i + 6]!;
            continue;
          }
          break;
        case 0xde:
          if (R[d]! <= R[code[i + 2]!]!) {
            pc = code[i + 6]!;
            continue;
          }
          break;

        // ------------------------------------------------ calls and exit
        case 0x85: {
          // helper call: r1..r5 in, r0 out
          ctx.pc = pc;
          const v = helperFns[code[i + 6]!]!(ctx);
          if (typeof v === "number") {
            R[0] = v | 0;
            R[1] = Math.floor(v / TWO32) | 0;
          } else if (typeof v === "bigint") setReg(R, 0, v);
          else R[0] = R[1] = 0;
          break;
        }
        case 0x60: {
          // XOp.CALL_LOCAL
          if (depth + 1 >= MAX_CALL_FRAMES) {
            throw new VmError(`instruction ${pc}: the call stack of ${depth + 2} frames is too deep (at most ${MAX_CALL_FRAMES})`, pc);
          }
          const base = depth * FRAME_WORDS;
          frames.set(R.subarray(12, 22), base);
          frames[base + 10] = pc + 1;
          framePrograms[depth] = prog;
          depth++;
          const stack = stacks.enter(depth);
          R[20] = REGION_BASE + STACK_SIZE;
          R[21] = stack.hi;
          pc = code[i + 6]!;
          continue;
        }
        case 0x95: {
          if (depth === 0) break run;
          depth--;
          const base = depth * FRAME_WORDS;
          R.set(frames.subarray(base, base + 10), 12);
          pc = frames[base + 10]!;
          if (framePrograms[depth] !== prog) {
            prog = framePrograms[depth]!;
            code = prog.code;
            helperFns = prog.helperFns;
          }
          continue;
        }
        case 0x68: {
          // XOp.TAIL_CALL: r2 = prog array, r3 = index; falls through when there is no target
          const target = prog.env.tailCallTarget!(join(R[5]!, R[4]!), R[6]! >>> 0);
          if (target === undefined || tailCalls >= MAX_TAIL_CALLS) break;
          tailCalls++;
          if (target === null) break;
          if (!(target instanceof LoadedProgram)) throw new VmError(`instruction ${pc}: tail call target is not a loaded program`, pc);
          if (target.env.memory !== mem) throw new VmError(`instruction ${pc}: tail call target lives in another address space`, pc);
          prog = target;
          code = prog.code;
          helperFns = prog.helperFns;
          pc = 0;
          continue;
        }
        case 0x00:
          throw new VmError(`instruction ${pc}: execution ran past the end of the program`, pc);
        default:
          throw new VmError(`instruction ${pc}: opcode 0x${code[i]!.toString(16)} is not executable`, pc);
      }
      pc++;
    }
  } catch (e) {
    if (e instanceof VmFault) {
      if (e.pc < 0) e.pc = pc;
      if (!e.message.startsWith("instruction ")) {
        e.message = `instruction ${e.pc}${prog === program ? "" : ` of ${prog.name}`}: ${e.message}`;
      }
    }
    throw e;
  }
  return { r0: join(R[1]!, R[0]!), instructions: n };
}
