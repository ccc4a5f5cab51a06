// ALU and ALU64: every operation with K and X operands, against hand-computed edge cases and
// against the BigInt reference model over a grid of edge values.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  alu32Imm,
  alu32Reg,
  alu64Imm,
  alu64Reg,
  bswap,
  endian,
  exit,
  lddw,
  mov64Reg,
  movsx32,
  movsx64,
  neg32,
  neg64,
  type Insn,
} from "../../compiler/isa/insn.js";
import { AluOp } from "../../compiler/isa/opcodes.js";
import { EDGES64, EDGES_IMM, S64, U32, U64, hex, r0Of, refAlu } from "./util.js";

const MIN64 = 0x8000000000000000n;
const MAX64 = 0x7fffffffffffffffn;
const M1 = 0xffffffffffffffffn;

/** r0 = (r1 = a) op (r2 = b), 64 or 32 bits, register operand. */
function aluX(op: AluOp, is64: boolean, a: bigint, b: bigint, off = 0): bigint {
  const insn = is64 ? alu64Reg(op, 1, 2, off) : alu32Reg(op, 1, 2, off);
  return r0Of([...lddw(1, a), ...lddw(2, b), insn, mov64Reg(0, 1), exit()]);
}

/** r0 = (r1 = a) op imm. */
function aluK(op: AluOp, is64: boolean, a: bigint, imm: number, off = 0): bigint {
  const insn = is64 ? alu64Imm(op, 1, imm, off) : alu32Imm(op, 1, imm, off);
  return r0Of([...lddw(1, a), insn, mov64Reg(0, 1), exit()]);
}

const one = (a: bigint, ...body: Insn[]): bigint => r0Of([...lddw(1, a), ...body, mov64Reg(0, 1), exit()]);

const NAMES: Record<number, string> = {
  [AluOp.ADD]: "add",
  [AluOp.SUB]: "sub",
  [AluOp.MUL]: "mul",
  [AluOp.DIV]: "div",
  [AluOp.OR]: "or",
  [AluOp.AND]: "and",
  [AluOp.LSH]: "lsh",
  [AluOp.RSH]: "rsh",
  [AluOp.MOD]: "mod",
  [AluOp.XOR]: "xor",
  [AluOp.MOV]: "mov",
  [AluOp.ARSH]: "arsh",
};

type Row = [name: string, op: AluOp, is64: boolean, a: bigint, b: bigint, expected: bigint, off?: number];

// Hand-computed: [name, op, 64-bit?, dst, src, expected]. Each row also runs as K when src fits imm.
const TABLE: Row[] = [
  ["add64 wraps", AluOp.ADD, true, M1, 1n, 0n],
  ["add64 carries into the high half", AluOp.ADD, true, 0xffffffffn, 1n, 0x100000000n],
  ["add64 MAX+1", AluOp.ADD, true, MAX64, 1n, MIN64],
  ["add32 wraps and zero-extends", AluOp.ADD, false, 0xffffffff_ffffffffn, 1n, 0n],
  ["add32 drops the high half", AluOp.ADD, false, 0x1234_00000005n, 2n, 7n],
  ["sub64 borrows", AluOp.SUB, true, 0x100000000n, 1n, 0xffffffffn],
  ["sub64 0-1", AluOp.SUB, true, 0n, 1n, M1],
  ["sub32 0-1", AluOp.SUB, false, 0n, 1n, 0xffffffffn],
  ["mul64 -1*-1", AluOp.MUL, true, M1, M1, 1n],
  ["mul64 cross halves", AluOp.MUL, true, 0x123456789n, 0x987654321n, U64(0x123456789n * 0x987654321n)],
  ["mul64 overflow", AluOp.MUL, true, MIN64, 2n, 0n],
  ["mul32 overflow", AluOp.MUL, false, 0x80000000n, 2n, 0n],
  ["mul32 0xffffffff^2", AluOp.MUL, false, 0xffffffffn, 0xffffffffn, 1n],
  ["div64 unsigned", AluOp.DIV, true, M1, 2n, MAX64],
  ["div64 by zero is 0", AluOp.DIV, true, 12345n, 0n, 0n],
  ["div64 large", AluOp.DIV, true, 0x123456789abcdef0n, 0x10000n, 0x123456789abcn],
  ["div32 unsigned", AluOp.DIV, false, 0xffffffffn, 2n, 0x7fffffffn],
  ["div32 by zero is 0", AluOp.DIV, false, 0xffff_ffffffffn, 0n, 0n],
  ["div32 by 2^32 (low half zero) is 0", AluOp.DIV, false, 100n, 0x100000000n, 0n],
  ["sdiv64 -7/2", AluOp.DIV, true, U64(-7n), 2n, U64(-3n), 1],
  ["sdiv64 MIN/-1 = MIN", AluOp.DIV, true, MIN64, M1, MIN64, 1],
  ["sdiv64 by zero is 0", AluOp.DIV, true, U64(-5n), 0n, 0n, 1],
  ["sdiv32 MIN/-1 = MIN", AluOp.DIV, false, 0x80000000n, 0xffffffffn, 0x80000000n, 1],
  ["sdiv32 -7/2", AluOp.DIV, false, 0xfffffff9n, 2n, 0xfffffffdn, 1],
  ["sdiv32 by zero is 0", AluOp.DIV, false, 0xfffffff9n, 0n, 0n, 1],
  ["mod64 unsigned", AluOp.MOD, true, M1, 10n, 5n],
  ["mod64 by zero leaves dst", AluOp.MOD, true, 0xdeadbeef_12345678n, 0n, 0xdeadbeef_12345678n],
  ["mod32 by zero zero-extends dst", AluOp.MOD, false, 0xdeadbeef_12345678n, 0n, 0x12345678n],
  ["mod32 unsigned", AluOp.MOD, false, 0xffffffffn, 10n, 5n],
  ["smod64 -7%2", AluOp.MOD, true, U64(-7n), 2n, M1, 1],
  ["smod64 7%-2", AluOp.MOD, true, 7n, U64(-2n), 1n, 1],
  ["smod64 MIN%-1 = 0", AluOp.MOD, true, MIN64, M1, 0n, 1],
  ["smod64 by zero leaves dst", AluOp.MOD, true, U64(-7n), 0n, U64(-7n), 1],
  ["smod32 MIN%-1 = 0", AluOp.MOD, false, 0x80000000n, 0xffffffffn, 0n, 1],
  ["smod32 -7%2", AluOp.MOD, false, 0xfffffff9n, 2n, 0xffffffffn, 1],
  ["smod32 by zero zero-extends dst", AluOp.MOD, false, 0xffffffff_fffffff9n, 0n, 0xfffffff9n, 1],
  ["or64", AluOp.OR, true, 0xf0f0_00000000n, 0x0f0fn, 0xf0f0_00000f0fn],
  ["or32 zero-extends", AluOp.OR, false, 0xffff_00000001n, 2n, 3n],
  ["and64", AluOp.AND, true, M1, 0x8000000000000001n, 0x8000000000000001n],
  ["and32", AluOp.AND, false, M1, 0xf0n, 0xf0n],
  ["xor64", AluOp.XOR, true, M1, 0x0123456789abcdefn, 0xfedcba9876543210n],
  ["xor32", AluOp.XOR, false, M1, 1n, 0xfffffffen],
  ["lsh64 by 1", AluOp.LSH, true, 0x80000000n, 1n, 0x100000000n],
  ["lsh64 by 32", AluOp.LSH, true, 0x12345678n, 32n, 0x12345678_00000000n],
  ["lsh64 by 63", AluOp.LSH, true, 1n, 63n, MIN64],
  ["lsh64 by 64 is masked to 0", AluOp.LSH, true, 5n, 64n, 5n],
  ["lsh64 by 65 is masked to 1", AluOp.LSH, true, 5n, 65n, 10n],
  ["lsh32 by 31", AluOp.LSH, false, 3n, 31n, 0x80000000n],
  ["lsh32 by 32 is masked to 0", AluOp.LSH, false, 0xffff_00000005n, 32n, 5n],
  ["rsh64 by 4", AluOp.RSH, true, MIN64, 4n, 0x0800000000000000n],
  ["rsh64 by 36", AluOp.RSH, true, M1, 36n, 0xfffffffn],
  ["rsh64 by 64 is masked", AluOp.RSH, true, M1, 64n, M1],
  ["rsh32 is logical", AluOp.RSH, false, 0x80000000n, 31n, 1n],
  ["rsh32 by 33 is masked to 1", AluOp.RSH, false, 0x80000000n, 33n, 0x40000000n],
  ["arsh64 by 4", AluOp.ARSH, true, MIN64, 4n, 0xf800000000000000n],
  ["arsh64 by 63", AluOp.ARSH, true, MIN64, 63n, M1],
  ["arsh64 by 40", AluOp.ARSH, true, 0x80000000_00000000n, 40n, 0xffffffffff800000n],
  ["arsh64 positive", AluOp.ARSH, true, MAX64, 62n, 1n],
  ["arsh32 sign-fills and zero-extends", AluOp.ARSH, false, 0x80000000n, 4n, 0xf8000000n],
  ["arsh32 by 32 is masked to 0", AluOp.ARSH, false, 0x80000000n, 32n, 0x80000000n],
  ["mov64", AluOp.MOV, true, 5n, M1, M1],
  ["mov32 zero-extends", AluOp.MOV, false, 5n, M1, 0xffffffffn],
];

describe("ALU table", () => {
  for (const [name, op, is64, a, b, expected, off = 0] of TABLE) {
    test(`${name} (X)`, () => {
      assert.equal(hex(aluX(op, is64, a, b, off)), hex(expected));
    });
    const imm = Number(BigInt.asIntN(32, b));
    // K form when the source is what a 32-bit immediate denotes (sign-extended for ALU64).
    const kValue = is64 ? U64(BigInt(imm)) : U32(BigInt(imm));
    if (kValue === (is64 ? b : U32(b))) {
      test(`${name} (K)`, () => {
        assert.equal(hex(aluK(op, is64, a, imm, off)), hex(expected));
      });
    }
  }

  test("neg64 / neg32", () => {
    assert.equal(hex(one(1n, neg64(1))), hex(M1));
    assert.equal(hex(one(0n, neg64(1))), hex(0n));
    assert.equal(hex(one(MIN64, neg64(1))), hex(MIN64));
    assert.equal(hex(one(0x1_00000000n, neg64(1))), hex(U64(-0x1_00000000n)));
    assert.equal(hex(one(1n, neg32(1))), hex(0xffffffffn));
    assert.equal(hex(one(0xffffffff_80000000n, neg32(1))), hex(0x80000000n));
    assert.equal(hex(one(0x5_00000000n, neg32(1))), hex(0n));
  });

  test("ALU64 K immediates are sign-extended, ALU32 K are not", () => {
    assert.equal(hex(aluK(AluOp.MOV, true, 0n, -1)), hex(M1));
    assert.equal(hex(aluK(AluOp.MOV, false, 0n, -1)), hex(0xffffffffn));
    assert.equal(hex(aluK(AluOp.ADD, true, 0n, -2)), hex(U64(-2n)));
    assert.equal(hex(aluK(AluOp.AND, true, M1, -0x80000000)), hex(0xffffffff80000000n));
    assert.equal(hex(aluK(AluOp.DIV, true, M1, -1)), hex(1n));
  });

  test("movsx64 8/16/32", () => {
    assert.equal(hex(one(0x80n, movsx64(1, 1, 8))), hex(U64(-128n)));
    assert.equal(hex(one(0x17fn, movsx64(1, 1, 8))), hex(0x7fn));
    assert.equal(hex(one(0xffff_8000n, movsx64(1, 1, 16))), hex(U64(-0x8000n)));
    assert.equal(hex(one(0x7fffn, movsx64(1, 1, 16))), hex(0x7fffn));
    assert.equal(hex(one(0x1_80000000n, movsx64(1, 1, 32))), hex(0xffffffff80000000n));
    assert.equal(hex(one(0xffffffff_7fffffffn, movsx64(1, 1, 32))), hex(0x7fffffffn));
  });

  test("movsx32 8/16 zero-extends the 32-bit result", () => {
    assert.equal(hex(one(0x80n, movsx32(1, 1, 8))), hex(0xffffff80n));
    assert.equal(hex(one(0xffffffff_0000007fn, movsx32(1, 1, 8))), hex(0x7fn));
    assert.equal(hex(one(0x8000n, movsx32(1, 1, 16))), hex(0xffff8000n));
    assert.equal(hex(one(0x12345n, movsx32(1, 1, 16))), hex(0x2345n));
  });

  test("movsx from another register", () => {
    assert.equal(hex(r0Of([...lddw(2, 0xffn), movsx64(0, 2, 8), exit()])), hex(M1));
  });

  test("end le: truncation on a little-endian machine", () => {
    const v = 0x0123456789abcdefn;
    assert.equal(hex(one(v, endian("le", 1, 16))), hex(0xcdefn));
    assert.equal(hex(one(v, endian("le", 1, 32))), hex(0x89abcdefn));
    assert.equal(hex(one(v, endian("le", 1, 64))), hex(v));
  });

  test("end be: byte swap, zero-extended", () => {
    const v = 0x0123456789abcdefn;
    assert.equal(hex(one(v, endian("be", 1, 16))), hex(0xefcdn));
    assert.equal(hex(one(v, endian("be", 1, 32))), hex(0xefcdab89n));
    assert.equal(hex(one(v, endian("be", 1, 64))), hex(0xefcdab8967452301n));
  });

  test("bswap (ALU64)", () => {
    const v = 0x0123456789abcdefn;
    assert.equal(hex(one(v, bswap(1, 16))), hex(0xefcdn));
    assert.equal(hex(one(v, bswap(1, 32))), hex(0xefcdab89n));
    assert.equal(hex(one(v, bswap(1, 64))), hex(0xefcdab8967452301n));
    assert.equal(hex(one(0x80n, bswap(1, 64))), hex(MIN64));
  });
});

describe("ALU against the reference model", () => {
  const ops = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.OR, AluOp.AND, AluOp.LSH, AluOp.RSH, AluOp.MOD, AluOp.XOR, AluOp.MOV, AluOp.ARSH];
  for (const is64 of [true, false]) {
    for (const op of ops) {
      const signedForms = op === AluOp.DIV || op === AluOp.MOD ? [0, 1] : [0];
      for (const off of signedForms) {
        const name = `${off ? "s" : ""}${NAMES[op]}${is64 ? 64 : 32}`;
        test(`${name} X over ${EDGES64.length}^2 operand pairs`, () => {
          for (const a of EDGES64) {
            for (const b of EDGES64) {
              const got = aluX(op, is64, a, b, off);
              const want = refAlu(op, is64, a, b, off === 1);
              if (got !== want) assert.fail(`${name} ${hex(a)}, ${hex(b)}: got ${hex(got)}, want ${hex(want)}`);
            }
          }
        });
        test(`${name} K over edge immediates`, () => {
          for (const a of EDGES64) {
            for (const imm of EDGES_IMM) {
              // The reference masks shift counts like the interpreter.
              const b = U64(BigInt(imm));
              const got = aluK(op, is64, a, imm, off);
              const want = refAlu(op, is64, a, b, off === 1);
              if (got !== want) assert.fail(`${name} ${hex(a)}, imm ${imm}: got ${hex(got)}, want ${hex(want)}`);
            }
          }
        });
      }
    }
  }

  test("random 64-bit operands", () => {
    let seed = 0x2545f4914f6cdd1dn;
    const next = (): bigint => {
      seed ^= U64(seed << 13n);
      seed ^= seed >> 7n;
      seed ^= U64(seed << 17n);
      return seed;
    };
    for (let k = 0; k < 300; k++) {
      const a = next();
      const b = k % 3 === 0 ? next() >> BigInt(k % 64) : next();
      for (const op of [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.MOD, AluOp.LSH, AluOp.RSH, AluOp.ARSH]) {
        for (const is64 of [true, false]) {
          const want = refAlu(op, is64, a, b);
          const got = aluX(op, is64, a, b);
          if (got !== want) assert.fail(`${NAMES[op]}${is64 ? 64 : 32} ${hex(a)}, ${hex(b)}: got ${hex(got)}, want ${hex(want)}`);
        }
      }
      const sa = S64(a);
      assert.equal(aluX(AluOp.DIV, true, a, b, 1), refAlu(AluOp.DIV, true, U64(sa), b, true));
    }
  });
});
