// Soundness of the compiled tier's register facts (runtime/vm/compiled/facts.ts): for random facts
// and random values that satisfy them, the interpreter's result of every ALU opcode lies inside the
// fact `transfer` computes, and each edge of every conditional jump keeps values that take it inside
// the facts `refine` gives that edge. Also: the analysis proves a bounded loop counter 32-bit, and
// counted loops (run without per-iteration budget checks) match the interpreter at every budget.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AluOp,
  JmpOp,
  alu32Imm,
  alu32Reg,
  alu64Imm,
  alu64Reg,
  assemble,
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
  type Insn,
  type Reg,
} from "../../compiler/isa/index.js";
import { Memory, join } from "../../runtime/vm/memory.js";
import { prepare } from "../../runtime/vm/program.js";
import { interpret } from "../../runtime/vm/interpreter.js";
import { compiledSource } from "../../runtime/vm/compiled/index.js";
import { FULL, refine, topState, transfer, type Val } from "../../runtime/vm/compiled/facts.js";
import { compareTiers, type TestEnv } from "./diff.js";

const R0 = 0 as Reg;
const R1 = 1 as Reg;
const R2 = 2 as Reg;

let seed = 0x9e3779b9;
/** xorshift32: a uint32. */
function rand(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
const pick = <T>(xs: readonly T[]): T => xs[rand() % xs.length]!;

const EDGES = [0, 1, 2, 3, 5, 7, 31, 32, 63, 64, 255, 256, 999, 1000, 0xffff, 0x10000, 0x7ffffffe, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, FULL];
const u32 = (): number => (rand() % 3 === 0 ? rand() : pick(EDGES));

function randomVal(): Val {
  const hi = pick([undefined, undefined, 0, 0, 0, -1, 1, rand() | 0]);
  let a = u32();
  let b = rand() % 4 === 0 ? a : u32();
  if (a > b) [a, b] = [b, a];
  return { hi, min: a, max: b };
}

/** A concrete (hi, lo) satisfying `v`. */
function sample(v: Val): [number, number] {
  const hi = v.hi ?? pick([0, -1, 1, rand() | 0]);
  const r = rand() % 4;
  const lo = r === 0 ? v.min : r === 1 ? v.max : v.min + Math.floor((rand() / 4294967296) * (v.max - v.min + 1));
  return [hi, lo | 0];
}

const holds = (v: Val, hi: number, lo: number): boolean => (v.hi === undefined || v.hi === hi) && lo >>> 0 >= v.min && lo >>> 0 <= v.max;
const show = (v: Val): string => `{hi ${v.hi}, [${v.min}, ${v.max}]}`;

function run(insns: Insn[]): bigint {
  return interpret(prepare(insns, { memory: new Memory(), helpers: new Map() })).r0;
}

const IMMS = [0, 1, -1, 2, 3, 7, 31, 32, 33, 63, 255, 1000, 0x7fffffff, -0x80000000, -7];
const SHIFT_IMMS = [0, 1, 3, 16, 31, 32, 33, 63];

/** One instruction of every ALU form writing r1 (source r2 or an immediate). */
function aluForms(): Insn[] {
  const forms: Insn[] = [];
  const ops = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.OR, AluOp.AND, AluOp.LSH, AluOp.RSH, AluOp.MOD, AluOp.XOR, AluOp.MOV, AluOp.ARSH];
  forms.push(alu64Imm(AluOp.NEG, R1, 0), alu32Imm(AluOp.NEG, R1, 0));
  for (const op of ops) {
    const shift = op === AluOp.LSH || op === AluOp.RSH || op === AluOp.ARSH;
    for (const imm of shift ? SHIFT_IMMS : IMMS) {
      forms.push(alu64Imm(op, R1, imm), alu32Imm(op, R1, shift ? imm & 31 : imm));
    }
    forms.push(alu64Reg(op, R1, R2), alu32Reg(op, R1, R2));
  }
  for (const op of [AluOp.DIV, AluOp.MOD]) {
    for (const imm of [0, 1, -1, 3, -7]) forms.push(alu64Imm(op, R1, imm, 1), alu32Imm(op, R1, imm, 1));
    forms.push(alu64Reg(op, R1, R2, 1), alu32Reg(op, R1, R2, 1));
  }
  for (const bits of [8, 16, 32] as const) forms.push(movsx64(R1, R2, bits));
  for (const bits of [8, 16] as const) forms.push(movsx32(R1, R2, bits));
  for (const bits of [16, 32, 64] as const) forms.push(bswap(R1, bits), endian("le", R1, bits), endian("be", R1, bits));
  return forms;
}

test("transfer: every ALU form's result lies inside its fact", () => {
  for (const form of aluForms()) {
    for (let k = 0; k < 25; k++) {
      const a = randomVal();
      const b = randomVal();
      const [ah, al] = sample(a);
      const [bh, bl] = sample(b);
      const insns = [...lddw(R1, join(ah, al)), ...lddw(R2, join(bh, bl)), form, alu64Reg(AluOp.MOV, R0, R1), exit()];
      const program = prepare(insns, { memory: new Memory(), helpers: new Map() });
      const st = topState();
      st[1] = a;
      st[2] = b;
      transfer(program.code, 4, st);
      const r = interpret(program).r0;
      const hi = Number(BigInt.asIntN(32, r >> 32n));
      const lo = Number(BigInt.asIntN(32, r));
      assert.ok(holds(st[1]!, hi, lo), `op 0x${form.code.toString(16)} imm ${form.imm} off ${form.off}: r1 ${show(a)} = ${ah}:${al >>> 0}, r2 ${show(b)} = ${bh}:${bl >>> 0} gives ${hi}:${lo >>> 0} outside ${show(st[1]!)}`);
    }
  }
});

test("refine: values taking an edge satisfy that edge's facts", () => {
  const ops = [JmpOp.JEQ, JmpOp.JNE, JmpOp.JGT, JmpOp.JGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSGT, JmpOp.JSGE, JmpOp.JSLT, JmpOp.JSLE, JmpOp.JSET];
  const forms: Insn[] = [];
  for (const op of ops) {
    for (const imm of [0, 1, 999, 1000, -1, 0x7fffffff, -0x80000000]) forms.push(jmpImm(op, R1, imm, 2), jmp32Imm(op, R1, imm, 2));
    forms.push(jmpReg(op, R1, R2, 2), jmp32Reg(op, R1, R2, 2));
  }
  for (const form of forms) {
    for (let k = 0; k < 60; k++) {
      const a = randomVal();
      // Register operands are often near r1, so that both edges get taken.
      const b = rand() % 2 === 0 ? a : randomVal();
      const [ah, al] = sample(a);
      const [bh, bl] = sample(b);
      const insns = [...lddw(R1, join(ah, al)), ...lddw(R2, join(bh, bl)), form, mov64Imm(R0, 0), exit(), mov64Imm(R0, 1), exit()];
      const program = prepare(insns, { memory: new Memory(), helpers: new Map() });
      const st = topState();
      st[1] = a;
      st[2] = b;
      const taken = interpret(program).r0 === 1n;
      const edge = refine(program.code, 4, st, taken);
      const what = `op 0x${form.code.toString(16)} imm ${form.imm}: r1 ${show(a)} = ${ah}:${al >>> 0}, r2 ${show(b)} = ${bh}:${bl >>> 0}, ${taken ? "taken" : "not taken"}`;
      assert.ok(edge !== undefined, `${what}: the edge was called impossible`);
      assert.ok(holds(edge[1]!, ah, al), `${what}: r1 outside ${show(edge[1]!)}`);
      assert.ok(holds(edge[2]!, bh, bl), `${what}: r2 outside ${show(edge[2]!)}`);
    }
  }
});

test("a bounded loop counter runs as 32-bit arithmetic in the fast code", () => {
  const program = prepare(assemble("r0 = 0\nr1 = 0\nl: r0 += r1\nr1 += 1\nif r1 < 1000 goto l\nexit"), { memory: new Memory(), helpers: new Map() });
  const source = compiledSource(program);
  assert.match(source, /l1 = \(l1 \+ 1\) \| 0;/);
  assert.doesNotMatch(source, /h1 = \(h1/, "r1's upper half is never computed");
  assert.equal(run(assemble("r0 = 0\nr1 = 0\nl: r0 += r1\nr1 += 1\nif r1 < 1000 goto l\nexit")), 499500n);
});

test("counted single-block loops: every shape, start and budget gives the interpreter's results", () => {
  const plain = (): TestEnv => ({ env: { memory: new Memory(), helpers: new Map() } });
  // [step instruction, back-edge condition] on r1; each loop also does some work and stack traffic.
  const shapes: [string, string][] = [
    ["r1 += 1", "if r1 < 100 goto l"],
    ["r1 += 3", "if r1 < 100 goto l"],
    ["r1 += 3", "if r1 <= 99 goto l"],
    ["w1 += 2", "if w1 < 51 goto l"],
    ["r1 += 1", "if r1 != 77 goto l"],
    ["r1 += 2", "if r1 != 77 goto l"],
    ["r1 -= 1", "if r1 > 0 goto l"],
    ["r1 -= 7", "if r1 > 3 goto l"],
    ["r1 += -2", "if r1 >= 5 goto l"],
    ["w1 -= 1", "if w1 != 0 goto l"],
    ["r1 -= 1", "if w1 > 10 goto l"],
    ["r1 += 5", "if w1 <= 200 goto l"],
  ];
  const starts = ["0", "1", "50", "99", "100", "250", "0xffffffff", "0x100000005 ll", "-1", "0xfffffffffffffff0 ll"];
  for (const [step, back] of shapes) {
    for (const start of starts) {
      const text = `r0 = 0\nr1 = ${start}\nl: r0 += r1\n*(u64 *)(r10 -8) = r0\n${step}\nr2 = *(u32 *)(r10 -8)\nr0 ^= r2\n${back}\nexit`;
      const insns = assemble(text);
      const label = `(${step}; ${back}; from ${start})`;
      const out = compareTiers(insns, plain, { budget: 2000 }, label);
      const used = out.instructions;
      if (used === undefined) continue;
      for (const budget of [used, used - 1, used - 5, Math.floor(used / 2)]) compareTiers(insns, plain, { budget }, `${label} budget ${budget}`);
    }
  }
});

test("a counted loop with budget for all its iterations still faults at the right instruction", () => {
  const plain = (): TestEnv => ({ env: { memory: new Memory(), helpers: new Map() } });
  const insns = assemble("r0 = 0\nr1 = 0\nl: r2 = r10\nr2 -= r1\nr3 = *(u8 *)(r2 -1)\nr0 += r3\nr1 += 16\nif r1 < 4000 goto l\nexit");
  const out = compareTiers(insns, plain, {}, "(fault in a counted loop)");
  assert.match(out.error?.message ?? "", /instruction 4: read of 1 byte/);
});
