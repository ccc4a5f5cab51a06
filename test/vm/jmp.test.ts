// JMP and JMP32: every conditional jump with K and X operands on signed/unsigned edge cases,
// unconditional jumps (16-bit and 32-bit offsets) and backward loops.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { exit, ja, ja32, jmp32Imm, jmp32Reg, jmpImm, jmpReg, lddw, mov64Imm, alu64Imm, alu64Reg, type Insn } from "../../compiler/isa/insn.js";
import { AluOp, JmpOp } from "../../compiler/isa/opcodes.js";
import { EDGES64, EDGES_IMM, U32, U64, hex, r0Of, refJmp, runInsns } from "./util.js";

const OPS: [string, JmpOp][] = [
  ["jeq", JmpOp.JEQ],
  ["jne", JmpOp.JNE],
  ["jgt", JmpOp.JGT],
  ["jge", JmpOp.JGE],
  ["jlt", JmpOp.JLT],
  ["jle", JmpOp.JLE],
  ["jset", JmpOp.JSET],
  ["jsgt", JmpOp.JSGT],
  ["jsge", JmpOp.JSGE],
  ["jslt", JmpOp.JSLT],
  ["jsle", JmpOp.JSLE],
];

/** 1 when the jump is taken, 0 when not. */
function takenX(op: JmpOp, is64: boolean, a: bigint, b: bigint): boolean {
  const j = is64 ? jmpReg(op, 1, 2, 2) : jmp32Reg(op, 1, 2, 2);
  return r0Of([...lddw(1, a), ...lddw(2, b), j, mov64Imm(0, 0), exit(), mov64Imm(0, 1), exit()]) === 1n;
}

function takenK(op: JmpOp, is64: boolean, a: bigint, imm: number): boolean {
  const j = is64 ? jmpImm(op, 1, imm, 2) : jmp32Imm(op, 1, imm, 2);
  return r0Of([...lddw(1, a), j, mov64Imm(0, 0), exit(), mov64Imm(0, 1), exit()]) === 1n;
}

const MIN64 = 0x8000000000000000n;
const M1 = 0xffffffffffffffffn;

// [op, 64-bit?, a, b, taken]
const TABLE: [JmpOp, boolean, bigint, bigint, boolean][] = [
  [JmpOp.JEQ, true, 0x1_00000000n, 0n, false],
  [JmpOp.JEQ, false, 0x1_00000000n, 0n, true],
  [JmpOp.JNE, true, 0x1_00000005n, 5n, true],
  [JmpOp.JNE, false, 0x1_00000005n, 5n, false],
  [JmpOp.JGT, true, M1, 1n, true],
  [JmpOp.JGT, true, 1n, M1, false],
  [JmpOp.JGT, true, 0x1_00000000n, 0xffffffffn, true],
  [JmpOp.JGT, false, 0x1_00000000n, 0xffffffffn, false],
  [JmpOp.JSGT, true, M1, 1n, false],
  [JmpOp.JSGT, true, 1n, M1, true],
  [JmpOp.JSGT, true, MIN64, M1, false],
  [JmpOp.JSGT, false, 0x80000000n, 0x7fffffffn, false],
  [JmpOp.JSGT, false, 0xffffffff_00000001n, 0n, true],
  [JmpOp.JGE, true, 5n, 5n, true],
  [JmpOp.JSGE, true, MIN64, MIN64, true],
  [JmpOp.JSGE, true, MIN64, 0n, false],
  [JmpOp.JLT, true, 0n, M1, true],
  [JmpOp.JLT, false, 0n, 0xffffffffn, true],
  [JmpOp.JSLT, true, M1, 0n, true],
  [JmpOp.JSLT, false, 0x7fffffffn, 0x80000000n, false],
  [JmpOp.JLE, true, 7n, 7n, true],
  [JmpOp.JLE, true, 0x1_00000000n, 1n, false],
  [JmpOp.JSLE, true, MIN64, M1, true],
  [JmpOp.JSLE, false, 0x80000000n, 0n, true],
  [JmpOp.JSET, true, 0x1_00000000n, 0x1_00000000n, true],
  [JmpOp.JSET, false, 0x1_00000000n, 0x1_00000000n, false],
  [JmpOp.JSET, true, 0xf0n, 0x0fn, false],
];

describe("jump table", () => {
  for (const [op, is64, a, b, taken] of TABLE) {
    const name = OPS.find(([, o]) => o === op)![0];
    test(`${name}${is64 ? "" : "32"} ${hex(a)}, ${hex(b)} -> ${taken ? "taken" : "not taken"}`, () => {
      assert.equal(takenX(op, is64, a, b), taken);
    });
  }

  test("K operands: sign-extended for JMP, 32-bit for JMP32", () => {
    assert.equal(takenK(JmpOp.JEQ, true, M1, -1), true);
    assert.equal(takenK(JmpOp.JEQ, true, 0xffffffffn, -1), false);
    assert.equal(takenK(JmpOp.JEQ, false, 0xffffffffn, -1), true);
    assert.equal(takenK(JmpOp.JGT, true, 0xffffffffn, -1), false); // -1 is 2^64-1 unsigned
    assert.equal(takenK(JmpOp.JSGT, true, 0n, -1), true);
    assert.equal(takenK(JmpOp.JSLT, false, 0x80000000n, 0), true);
  });
});

describe("jumps against the reference model", () => {
  for (const is64 of [true, false]) {
    for (const [name, op] of OPS) {
      const full = `${name}${is64 ? "" : "32"}`;
      test(`${full} X over edge pairs`, () => {
        for (const a of EDGES64) {
          for (const b of EDGES64) {
            const want = refJmp(op, is64, a, b);
            if (takenX(op, is64, a, b) !== want) assert.fail(`${full} ${hex(a)}, ${hex(b)}: want ${want}`);
          }
        }
      });
      test(`${full} K over edge immediates`, () => {
        for (const a of EDGES64) {
          for (const imm of EDGES_IMM) {
            const b = is64 ? U64(BigInt(imm)) : U32(BigInt(imm));
            const want = refJmp(op, is64, a, b);
            if (takenK(op, is64, a, imm) !== want) assert.fail(`${full} ${hex(a)}, imm ${imm}: want ${want}`);
          }
        }
      });
    }
  }
});

describe("unconditional jumps and loops", () => {
  test("ja skips forward", () => {
    assert.equal(r0Of([mov64Imm(0, 1), ja(1), mov64Imm(0, 2), exit()]), 1n);
  });

  test("ja32 (gotol) with a 32-bit offset, forward and backward", () => {
    // 0: r0 = 0; 1: gotol +2 -> 4; 2: r0 += 10; 3: exit; 4: r0 += 1; 5: gotol -4 -> 2
    const insns: Insn[] = [mov64Imm(0, 0), ja32(2), alu64Imm(AluOp.ADD, 0, 10), exit(), alu64Imm(AluOp.ADD, 0, 1), ja32(-4)];
    assert.equal(r0Of(insns), 11n);
  });

  test("ja32 over more than 32767 slots", () => {
    const filler: Insn[] = Array.from({ length: 40000 }, () => alu64Imm(AluOp.ADD, 0, 1));
    const insns = [mov64Imm(0, 7), ja32(filler.length), ...filler, exit()];
    const r = runInsns(insns);
    assert.equal(r.r0, 7n);
    assert.equal(r.instructions, 3);
  });

  test("a counted loop runs and counts every instruction", () => {
    // r0 = 0; r1 = 100; loop: r0 += r1; r1 -= 1; if r1 != 0 goto loop; exit
    const insns = [mov64Imm(0, 0), mov64Imm(1, 100), alu64Reg(AluOp.ADD, 0, 1), alu64Imm(AluOp.SUB, 1, 1), jmpImm(JmpOp.JNE, 1, 0, -3), exit()];
    const r = runInsns(insns);
    assert.equal(r.r0, 5050n);
    assert.equal(r.instructions, 2 + 100 * 3 + 1);
  });

  test("lddw counts as one instruction", () => {
    assert.deepEqual(runInsns([...lddw(0, 0x1122334455667788n), exit()]), { r0: 0x1122334455667788n, instructions: 2 });
  });
});
