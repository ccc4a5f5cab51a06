// Test programs for the tier comparison: generated operator tables (every ALU and jump opcode on
// edge-case operands, results stored to a buffer) and hand-written programs for control flow,
// memory, faults, budgets, calls, tail calls, helpers and legacy packet loads.
// Takes nothing; gives `operatorCases()` and `programCases` (each names its environment kind).

import {
  AluOp,
  AtomicOp,
  JmpOp,
  Size,
  alu32Imm,
  alu32Reg,
  alu64Imm,
  alu64Reg,
  assemble,
  atomic,
  bswap,
  endian,
  exit,
  jmp32Imm,
  jmp32Reg,
  jmpImm,
  jmpReg,
  lddw,
  mov64Imm,
  movsx32,
  movsx64,
  stx,
  type Insn,
  type Reg,
} from "../../compiler/isa/index.js";
import type { RunOptions } from "../../runtime/vm/interpreter.js";
import type { LoadOptions } from "../../runtime/vm/program.js";

export type EnvKind = "plain" | "buffer" | "readonly" | "full";

export interface Case {
  name: string;
  insns: Insn[];
  /** plain: no maps or helpers; buffer: r1/r2 = a 256-byte ctx buffer; readonly: the same, read-only; full: helpers, maps, prog array, buffer. */
  env: EnvKind;
  options?: RunOptions;
  /** Load options of the program and of its tail-call targets. */
  load?: LoadOptions;
  /** Expected r0 (checked on the interpreter too, so both tiers cannot be wrong together). */
  r0?: bigint;
  /** Expected error message pattern. */
  error?: RegExp;
  /** Tail-call targets loaded into prog array slot k (env "full"). */
  targets?: { name: string; insns: Insn[] }[];
}

const V64: bigint[] = [
  0n, 1n, 2n, 3n, 7n, 31n, 32n, 63n, 64n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x123456789abcdef0n,
  0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0xfffffffffffffff9n, 0xffffffff00000000n, 0x00000001ffffffffn,
];
const I32: number[] = [0, 1, -1, 2, -2, 3, 7, -7, 31, 32, 63, 64, 0x7fffffff, -0x80000000, 0x12345678, -0x12345678, 65535];

const R1 = 1 as Reg;
const R2 = 2 as Reg;
const R3 = 3 as Reg;
const R6 = 6 as Reg;

/** r6 = buffer (r1 on entry); each step stores r-result to the next 8 bytes; r0 = count. */
function table(steps: Insn[][]): Insn[] {
  const out: Insn[] = [alu64Reg(AluOp.MOV, R6, R1)];
  steps.forEach((s, k) => out.push(...s, stx(Size.DW, R6, R3, 8 * k)));
  out.push(mov64Imm(0 as Reg, steps.length), exit());
  return out;
}

const ALU = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.OR, AluOp.AND, AluOp.LSH, AluOp.RSH, AluOp.NEG, AluOp.MOD, AluOp.XOR, AluOp.MOV, AluOp.ARSH];
const COND = [JmpOp.JEQ, JmpOp.JGT, JmpOp.JGE, JmpOp.JSET, JmpOp.JNE, JmpOp.JSGT, JmpOp.JSGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSLT, JmpOp.JSLE];

/** One program per operator and form, over all operand pairs; results land in a 4 KiB buffer. */
export function operatorCases(): Case[] {
  const cases: Case[] = [];
  const pairsX: [bigint, bigint][] = [];
  for (const a of V64) for (const b of V64) pairsX.push([a, b]);
  const pairsK: [bigint, number][] = [];
  for (const a of V64) for (const b of I32) pairsK.push([a, b]);
  const chunks = <T>(xs: T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));
  const add = (name: string, steps: Insn[][]): void => {
    chunks(steps, 500).forEach((c, i) => cases.push({ name: `${name} #${i}`, insns: table(c), env: "buffer" }));
  };
  for (const is64 of [true, false]) {
    const w = is64 ? "alu64" : "alu32";
    for (const op of ALU) {
      const signed = op === AluOp.DIV || op === AluOp.MOD ? [0, 1] : [0];
      for (const off of signed) {
        const aluX = is64 ? alu64Reg : alu32Reg;
        const aluK = is64 ? alu64Imm : alu32Imm;
        if (op === AluOp.NEG) {
          add(`${w} neg`, V64.map((a) => [...lddw(R3, a), aluK(op, R3, 0)]));
          continue;
        }
        add(`${w} op 0x${op.toString(16)} off ${off} X`, pairsX.map(([a, b]) => [...lddw(R3, a), ...lddw(R2, b), aluX(op, R3, R2, off)]));
        add(
          `${w} op 0x${op.toString(16)} off ${off} K`,
          pairsK.map(([a, b]) => [...lddw(R3, a), aluK(op, R3, op === AluOp.LSH || op === AluOp.RSH || op === AluOp.ARSH ? b & (is64 ? 63 : 31) : b, off)]),
        );
      }
    }
  }
  // Same register as source and destination.
  add("alu64 dst = src", ALU.filter((op) => op !== AluOp.NEG).flatMap((op) => V64.map((a) => [...lddw(R3, a), alu64Reg(op, R3, R3)])));
  add(
    "sign extension and byte order",
    V64.flatMap((a) => [
      ...([8, 16, 32] as const).map((b) => [...lddw(R2, a), movsx64(R3, R2, b)]),
      ...([8, 16] as const).map((b) => [...lddw(R2, a), movsx32(R3, R2, b)]),
      ...([16, 32, 64] as const).flatMap((b) => [
        [...lddw(R3, a), bswap(R3, b)],
        [...lddw(R3, a), endian("le", R3, b)],
        [...lddw(R3, a), endian("be", R3, b)],
      ]),
    ]),
  );
  for (const is64 of [true, false]) {
    for (const op of COND) {
      const w = is64 ? "jmp" : "jmp32";
      const jX = is64 ? jmpReg : jmp32Reg;
      const jK = is64 ? jmpImm : jmp32Imm;
      add(`${w} op 0x${op.toString(16)} X`, pairsX.map(([a, b]) => [...lddw(R1, a), ...lddw(R2, b), mov64Imm(R3, 0), jX(op, R1, R2, 1), mov64Imm(R3, 1)]));
      add(`${w} op 0x${op.toString(16)} K`, pairsK.map(([a, b]) => [...lddw(R1, a), mov64Imm(R3, 0), jK(op, R1, b, 1), mov64Imm(R3, 1)]));
    }
  }
  return cases;
}

const asm = (text: string): Insn[] => assemble(text);

/** `before`, then r10 swapped with the u64 at `base` (an atomic xchg: unverified), then `after`. */
const moveR10 = (before: string, base: Reg, after: string): Insn[] => [...asm(before), atomic(Size.DW, AtomicOp.XCHG, base, 10 as Reg, 0), ...asm(after)];

/** Helper ids the "full" environment adds: see cases.test.ts. */
export const TEST_HELPER = { retNumber: 5, retBig: 7, unmapBuffer: 8, fault: 14 } as const;

export const programCases: Case[] = [
  { name: "empty return", env: "plain", insns: asm("r0 = 42\nexit"), r0: 42n },
  {
    name: "arguments as numbers and bigints",
    env: "plain",
    insns: asm("r0 = r1\nr0 += r2\nr0 ^= r3\nr0 -= r4\nr0 *= r5\nexit"),
    options: { r1: -5, r2: 2n ** 63n, r3: 0xffffffffn, r4: 12345678901, r5: -1n },
  },
  {
    name: "counted loop with stack traffic",
    env: "plain",
    insns: asm(`
      r0 = 0
      r1 = 0
    loop:
      r0 += r1
      *(u64 *)(r10 -8) = r0
      r2 = *(u32 *)(r10 -8)
      w0 ^= w2
      r1 += 1
      if r1 < 1000 goto loop
      exit`),
  },
  {
    name: "multi-block loop with a diamond",
    env: "plain",
    insns: asm(`
      r0 = 1
      r1 = 100
    loop:
      r2 = r1
      r2 &= 1
      if r2 == 0 goto even
      r0 *= 3
      goto next
    even:
      r0 += 7
    next:
      r1 -= 1
      if r1 != 0 goto loop
      exit`),
  },
  // Loops whose counters the compiled tier's facts (runtime/vm/compiled/facts.ts) keep 32-bit, or must not.
  {
    name: "facts: counter crossing 2^32 carries into the upper half",
    env: "plain",
    insns: asm("r0 = 0\nr1 = 0xfffffff0 ll\nr2 = 0x100000010 ll\nl: r1 += 1\nr0 += r1\nif r1 != r2 goto l\nr0 ^= r1\nexit"),
  },
  {
    name: "facts: 32-bit counter wraps below zero",
    env: "plain",
    insns: asm("r0 = 0\nw1 = 10\nl: r1 -= 3\nr0 += r1\nif w1 s> 0 goto l\nr0 += r1\nexit"),
  },
  {
    name: "facts: signed 64-bit counter from a negative start",
    env: "plain",
    insns: asm("r0 = 0\nr1 = -5\nl: r1 += 1\nr0 += r1\nif r1 s< 20 goto l\nr0 += r1\nexit"),
  },
  {
    name: "facts: JMP32 signed compare on a value with a nonzero upper half",
    env: "plain",
    insns: asm("r0 = 0\nr1 = 0x7fffffff00000005 ll\nl: r1 += 7\nr0 += r1\nif w1 s< 100 goto l\nr2 = r1\nr2 >>= 32\nr0 += r2\nexit"),
  },
  {
    name: "facts: a product bounded by the loop condition, then one step past it",
    env: "plain",
    insns: asm("r0 = 0\nr1 = 1\nl: r1 *= 3\nr0 += r1\nif r1 < 0x7fffffff goto l\nr1 *= 3\nr0 += r1\nexit"),
  },
  {
    name: "facts: counter incremented past 2^32 - 1 inside the loop body",
    env: "plain",
    insns: asm("r0 = 0\nw1 = -3\nl: r1 += 1\nr0 += 1\nr3 = r1\nr3 >>= 32\nif r3 == 0 goto l\nr0 += r1\nexit"),
  },
  {
    name: "facts: nested loops with a diamond, masks and shifts",
    env: "plain",
    insns: asm(`
      r0 = 0
      r6 = 0
    outer:
      r7 = r6
      r7 &= 0xff
    inner:
      r8 = r7
      r8 <<= 3
      if r8 > 500 goto big
      r0 += r8
      goto next
    big:
      r0 -= r8
    next:
      r7 += 1
      if r7 <= 40 goto inner
      r6 += 13
      if r6 < 300 goto outer
      exit`),
  },
  {
    name: "facts: budget runs out in the middle of a proven 32-bit loop",
    env: "plain",
    insns: asm("r0 = 0\nr1 = 0\nl: r0 += r1\nr0 ^= 5\nr1 += 1\nif r1 < 1000 goto l\nexit"),
    options: { budget: 1235 },
    error: /budget of 1235 exhausted at instruction 3\b/,
  },
  {
    name: "facts: a fault in the middle of a loop block names its pc",
    env: "plain",
    insns: asm("r0 = 0\nr1 = 0\nl: r1 -= 8\nr2 = r10\nr2 += r1\nr3 = *(u64 *)(r2 +0)\nr0 += r3\nif r1 s> -2000 goto l\nexit"),
    error: /instruction 5: read of 8 bytes .*stack of frame 0/,
  },
  { name: "self loop exhausts the budget", env: "plain", insns: asm("r0 = 0\nl: r0 += 1\ngoto l\nexit"), options: { budget: 1001 }, error: /budget of 1001/ },
  { name: "conditional self loop exhausts the budget", env: "plain", insns: asm("r0 = 0\nl: r0 += 1\nif r0 != 0 goto l\nexit"), options: { budget: 5000 }, error: /budget/ },
  { name: "budget exactly at the exit", env: "plain", insns: asm("r0 = 1\nr0 += 1\nr0 += 1\nexit"), options: { budget: 4 }, r0: 3n },
  { name: "budget one short of the exit", env: "plain", insns: asm("r0 = 1\nr0 += 1\nr0 += 1\nexit"), options: { budget: 3 }, error: /exhausted at instruction 3/ },
  { name: "budget counts lddw once", env: "plain", insns: asm("r0 = 0x1122334455667788 ll\nr1 = 0x1 ll\nexit"), options: { budget: 3 } },
  { name: "budget of zero", env: "plain", insns: asm("r0 = 1\nexit"), options: { budget: 0 }, error: /budget of 0/ },
  {
    name: "budget runs out inside a callee",
    env: "plain",
    insns: asm("r0 = 0\nr6 = 0\nl: call f\nr6 += 1\nif r6 < 100 goto l\nexit\nf: r0 += 1\nr0 += 2\nr0 += 3\nexit"),
    options: { budget: 333 },
    error: /budget/,
  },
  { name: "gotol", env: "plain", insns: [mov64Imm(0 as Reg, 1), { code: 0x06, dst: 0, src: 0, off: 0, imm: 1 }, mov64Imm(0 as Reg, 2), exit()], r0: 1n },
  {
    name: "local calls keep r6-r9 and get fresh stacks",
    env: "plain",
    insns: asm(`
      r6 = 11
      r7 = 22
      *(u64 *)(r10 -8) = r6
      r1 = 5
      call f
      r0 += r6
      r0 += r7
      r1 = *(u64 *)(r10 -8)
      r0 += r1
      exit
    f:
      r6 = 100
      r7 = *(u64 *)(r10 -8)
      *(u64 *)(r10 -8) = r1
      r0 = r1
      r0 += r7
      call g
      exit
    g:
      r0 *= 2
      r2 = r10
      exit`),
  },
  {
    name: "recursion too deep",
    env: "plain",
    insns: asm("r0 = 0\ncall f\nexit\nf: r0 += 1\ncall f\nexit"),
    error: /call stack of 9 frames is too deep/,
  },
  { name: "load from an unmapped address", env: "plain", insns: asm("r1 = 0\nr0 = *(u64 *)(r1 +16)\nexit"), error: /unmapped address/ },
  { name: "stack read above the frame", env: "plain", insns: asm("r0 = *(u64 *)(r10 +0)\nexit"), error: /out-of-bounds access to stack of frame 0/ },
  { name: "stack write below the frame", env: "plain", insns: asm("*(u32 *)(r10 -516) = 1\nexit"), error: /write of 4 bytes/ },
  { name: "stack through a derived pointer", env: "plain", insns: asm("r1 = r10\nr1 += -600\nr0 = *(u8 *)(r1 +100)\nr0 = *(u8 *)(r1 +0)\nexit"), error: /stack of frame 0/ },
  { name: "stack fault in a callee", env: "plain", insns: asm("call f\nexit\nf: r0 = *(u16 *)(r10 +2)\nexit"), error: /stack of frame 1/ },
  {
    name: "stack pointer passed to a callee",
    env: "plain",
    insns: asm("*(u64 *)(r10 -16) = 9\nr1 = r10\nr1 += -16\ncall f\nr0 = *(u64 *)(r10 -16)\nexit\nf: r2 = *(u64 *)(r1 +0)\nr2 += 1\n*(u64 *)(r1 +0) = r2\nexit"),
    r0: 10n,
  },
  {
    name: "buffer loads and stores of every size",
    env: "buffer",
    insns: asm(`
      r3 = *(u64 *)(r1 +0)
      *(u64 *)(r1 +8) = r3
      r4 = *(s8 *)(r1 +3)
      *(u8 *)(r1 +17) = r4
      r4 = *(s16 *)(r1 +5)
      *(u16 *)(r1 +19) = r4
      r4 = *(s32 *)(r1 +7)
      *(u32 *)(r1 +23) = r4
      *(u64 *)(r1 +32) = -2
      *(u32 *)(r1 +41) = -3
      *(u16 *)(r1 +47) = 0x12345
      *(u8 *)(r1 +51) = 0x1ff
      r0 = *(u32 *)(r1 +41)
      r5 = r1
      r5 += r2
      r0 += *(u8 *)(r5 -1)
      exit`.replace("r0 += *(u8 *)(r5 -1)", "r6 = *(u8 *)(r5 -1)\nr0 += r6")),
  },
  { name: "buffer read past the end", env: "buffer", insns: asm("r0 = *(u64 *)(r1 +252)\nexit"), error: /read of 8 bytes.*out-of-bounds/ },
  { name: "buffer negative offset", env: "buffer", insns: asm("r0 = *(u8 *)(r1 -1)\nexit"), error: /read of 1 byte/ },
  { name: "read-only buffer: reads pass", env: "readonly", insns: asm("r0 = *(u32 *)(r1 +4)\nexit") },
  { name: "read-only buffer: writes fault", env: "readonly", insns: asm("r0 = *(u32 *)(r1 +4)\n*(u32 *)(r1 +4) = r0\nexit"), error: /read-only/ },
  {
    name: "load-acquire reads a read-only buffer, store-release faults on it",
    env: "readonly",
    insns: asm("r0 = load_acquire((u16 *)(r1 +4))\nstore_release((u8 *)(r1 +4), r0)\nexit"),
    error: /instruction 1: .*read-only/,
  },
  {
    name: "load-acquire and store-release of every size on a buffer",
    env: "buffer",
    insns: asm(`
      r3 = load_acquire((u64 *)(r1 +0))
      store_release((u64 *)(r1 +8), r3)
      r4 = load_acquire((u8 *)(r1 +3))
      store_release((u8 *)(r1 +17), r4)
      r4 = load_acquire((u16 *)(r1 +6))
      store_release((u16 *)(r1 +18), r4)
      r4 = load_acquire((u32 *)(r1 +4))
      store_release((u32 *)(r1 +20), r4)
      store_release((u64 *)(r10 -8), r1)
      r5 = load_acquire((u64 *)(r10 -8))
      r0 = load_acquire((u32 *)(r5 +20))
      exit`),
    r0: 0x0ee9c49fn,
  },
  { name: "load-acquire past the end of a buffer", env: "buffer", insns: asm("r0 = load_acquire((u64 *)(r1 +252))\nexit"), error: /instruction 0: read of 8 bytes.*out-of-bounds/ },
  {
    name: "may_goto: every frame counts on its own, from the start of each call",
    env: "plain",
    insns: asm("r6 = 0\nl: may_goto out\ncall sub\nr6 += r0\ngoto l\nout: r0 = r6\nexit\nsub: r0 = 0\ns: may_goto e\nr0 += 1\ngoto s\ne: exit"),
    load: { mayGotoLoops: 10 },
    r0: 100n,
  },
  {
    name: "may_goto: a tail call starts the target's count afresh",
    env: "full",
    insns: asm("r6 = 0\nl: may_goto t\nr6 += 1\nif r6 < 3 goto l\nt: r2 = map[fd:4]\nr3 = 0\ncall bpf_tail_call#12\nr0 = 99\nexit"),
    targets: [{ name: "target0", insns: asm("r0 = 0\nl: may_goto o\nr0 += 1\ngoto l\no: exit") }],
    load: { mayGotoLoops: 5 },
    r0: 5n,
  },
  { name: "may_goto: a count of 0 jumps at once", env: "plain", insns: asm("r0 = 1\nmay_goto +1\nr0 = 2\nexit"), load: { mayGotoLoops: 0 }, r0: 1n },
  {
    name: "may_goto loop runs out of budget long before its count",
    env: "plain",
    insns: asm("r0 = 0\nl: may_goto out\nr0 += 1\ngoto l\nout: exit"),
    options: { budget: 5000 },
    error: /budget of 5000 exhausted at instruction \d/,
  },
  {
    name: "atomics on stack and buffer",
    env: "buffer",
    insns: [
      ...asm("*(u64 *)(r10 -8) = 5\nr2 = 3\nr0 = 5\nr3 = 77"),
      atomic(Size.DW, AtomicOp.ADD, 10 as Reg, R2, -8),
      atomic(Size.DW, AtomicOp.ADD | AtomicOp.FETCH, 10 as Reg, R2, -8),
      atomic(Size.W, AtomicOp.OR | AtomicOp.FETCH, R1, R2, 4),
      atomic(Size.W, AtomicOp.AND, R1, R3, 8),
      atomic(Size.DW, AtomicOp.XOR | AtomicOp.FETCH, R1, R3, 16),
      atomic(Size.DW, AtomicOp.XCHG, R1, R3, 24),
      atomic(Size.W, AtomicOp.XCHG, R1, R2, 32),
      atomic(Size.DW, AtomicOp.CMPXCHG, 10 as Reg, R3, -8),
      atomic(Size.W, AtomicOp.CMPXCHG, R1, R3, 40),
      ...asm("r4 = *(u64 *)(r10 -8)\nr0 += r4\nr0 += r2\nr0 += r3\nexit"),
    ],
  },
  {
    name: "an atomic fetch that writes r10 (unverified)",
    env: "buffer",
    insns: [
      ...asm("*(u64 *)(r1 +0) = 0"),
      atomic(Size.DW, AtomicOp.ADD | AtomicOp.FETCH, R1, 10 as Reg, 0),
      ...asm("*(u64 *)(r10 -8) = 1\nr0 = 0\nexit"),
    ],
    error: /unmapped/,
  },
  {
    name: "frame accesses through r10 after an atomic fetch moved it (unverified)",
    env: "buffer",
    // r10 ends 16 bytes below the frame top: the same slots are at other offsets.
    insns: moveR10(
      "*(u64 *)(r10 -8) = 5\nr2 = r10\nr2 += -16\n*(u64 *)(r1 +0) = r2",
      R1,
      "r0 = *(u64 *)(r10 +8)\n*(u32 *)(r10 +0) = 7\nr4 = *(u8 *)(r10 +0)\nr0 += r4\n*(u8 *)(r10 +1) = 1\nr4 = *(u32 *)(r10 +0)\nr0 += r4\nexit",
    ),
    r0: 5n + 7n + 0x107n,
  },
  {
    name: "a tail call keeps an r10 the caller moved (unverified)",
    env: "full",
    insns: moveR10(
      "*(u64 *)(r10 -8) = 42\n*(u64 *)(r10 -16) = 17\nr6 = r1\nr7 = r10\nr7 += -8\n*(u64 *)(r6 +0) = r7",
      R6,
      "r1 = r6\nr2 = map[fd:4]\nr3 = 0\ncall bpf_tail_call#12\nr0 = 99\nexit",
    ),
    targets: [{ name: "target0", insns: asm("r0 = *(u64 *)(r10 -8)\nexit") }],
    r0: 17n,
  },
  { name: "atomic on an unmapped address", env: "plain", insns: [mov64Imm(R1, 8), atomic(Size.W, AtomicOp.ADD, R1, R1, 0), exit()], error: /unmapped/ },
  { name: "legacy packet loads", env: "full", insns: asm("r6 = r1\nr0 = *(u8 *)skb[3]\nr7 = r0\nr2 = 4\nr0 = *(u16 *)skb[r2 + 1]\nr7 += r0\nr0 = *(u32 *)skb[8]\nr0 += r7\nexit") },
  { name: "legacy packet load out of bounds returns 0", env: "full", insns: asm("r6 = r1\nr0 = 7\nr0 = *(u32 *)skb[254]\nr0 = 9\nexit"), r0: 0n },
  {
    name: "legacy packet load out of bounds in a callee exits the callee",
    env: "full",
    insns: asm("r6 = r1\ncall f\nr0 += 100\nexit\nf: r2 = -1\nr0 = *(u8 *)skb[r2 + 0]\nr0 = 5\nexit"),
    r0: 100n,
  },
  { name: "legacy packet load without a packet", env: "plain", insns: asm("r6 = 0\nr0 = *(u8 *)skb[0]\nexit"), error: /does not name a packet/ },
  {
    name: "helper returns: number, bigint, and faults at the call",
    env: "full",
    insns: asm(`call ${TEST_HELPER.retNumber}\nr6 = r0\ncall ${TEST_HELPER.retBig}\nr0 += r6\nr1 = r10\ncall ${TEST_HELPER.fault}\nexit`),
    error: /helper fault/,
  },
  {
    name: "helper arguments and results",
    env: "full",
    insns: asm(`r1 = -1\nr2 = 2\nr3 = 3\nr4 = 4\nr5 = 0x100000000 ll\ncall ${TEST_HELPER.retNumber}\nr6 = r0\ncall ${TEST_HELPER.retBig}\nr0 ^= r6\nr0 += r1\nr0 += r5\nexit`),
  },
  {
    name: "a helper unmaps memory the program used",
    env: "full",
    insns: asm(`r6 = r1\nr0 = *(u8 *)(r6 +0)\ncall ${TEST_HELPER.unmapBuffer}\nr0 = *(u8 *)(r6 +1)\nexit`),
    error: /unmapped address/,
  },
  {
    name: "map lookup and update through a value pointer",
    env: "full",
    insns: asm(`
      *(u32 *)(r10 -4) = 0
      r2 = r10
      r2 += -4
      r1 = map[fd:3]
      call bpf_map_lookup_elem#1
      if r0 == 0 goto out
      r1 = *(u64 *)(r0 +0)
      r1 += 41
      *(u64 *)(r0 +0) = r1
      r0 = *(u64 *)(r0 +0)
    out:
      exit`),
    r0: 41n,
  },
  {
    name: "tail call into another program",
    env: "full",
    insns: asm("r6 = 1\nr1 = r1\nr2 = map[fd:4]\nr3 = 0\ncall bpf_tail_call#12\nr0 = 99\nexit"),
    targets: [{ name: "target0", insns: asm("r0 = r6\nr0 += 10\nexit") }],
    r0: 11n,
  },
  {
    name: "tail call to an empty slot and past the end falls through",
    env: "full",
    insns: asm("r2 = map[fd:4]\nr3 = 3\ncall bpf_tail_call#12\nr2 = map[fd:4]\nr3 = 1000\ncall bpf_tail_call#12\nr0 = 99\nexit"),
    targets: [{ name: "target0", insns: asm("r0 = 1\nexit") }],
    r0: 99n,
  },
  {
    name: "tail call chain stops after 33",
    env: "full",
    insns: asm("r6 = 0\nr2 = map[fd:4]\nr3 = 0\ncall bpf_tail_call#12\nexit"),
    targets: [{ name: "self", insns: asm("r6 += 1\nr0 = r6\nr2 = map[fd:4]\nr3 = 0\ncall bpf_tail_call#12\nexit") }],
    r0: 33n,
  },
  {
    name: "fault in a tail-called program names it",
    env: "full",
    insns: asm("r2 = map[fd:4]\nr3 = 0\ncall bpf_tail_call#12\nexit"),
    targets: [{ name: "faulty", insns: asm("r0 = 1\nr1 = 0\nr0 = *(u64 *)(r1 +0)\nexit") }],
    error: /instruction 2 of faulty: read of 8 bytes/,
  },
  {
    name: "tail call from a callee returns into the caller's program",
    env: "full",
    insns: asm("r6 = 5\ncall f\nr0 += 1000\nexit\nf: r2 = map[fd:4]\nr3 = 0\ncall bpf_tail_call#12\nr0 = 1\nexit"),
    targets: [{ name: "target0", insns: asm("r0 = r6\nr0 *= 3\nexit") }],
    r0: 1015n,
  },
  {
    name: "budget runs out inside a tail-called program",
    env: "full",
    insns: asm("r2 = map[fd:4]\nr3 = 0\ncall bpf_tail_call#12\nexit"),
    targets: [{ name: "spin", insns: asm("r0 = 0\nl: r0 += 1\nif r0 < 1000000 goto l\nexit") }],
    options: { budget: 12345 },
    error: /budget of 12345 exhausted/,
  },
  {
    name: "division corner cases",
    env: "plain",
    insns: asm(`
      r1 = 0x8000000000000000 ll
      r2 = -1
      r3 = r1
      r3 s/= r2
      r4 = r1
      r4 s%= r2
      r5 = 17
      r5 /= 0
      r6 = 17
      r6 %= 0
      w7 = -2147483648
      w7 s/= -1
      r0 = r3
      r0 ^= r4
      r0 ^= r5
      r0 ^= r6
      r0 ^= r7
      exit`),
  },
];
