// Encoding and checking of instruction slots: round trips of every opcode, rejection of every
// kind of malformed encoding with its slot index and reason.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AluOp,
  AtomicOp,
  IsaError,
  JmpOp,
  Op,
  PseudoLd,
  Size,
  call,
  callLocal,
  checkInsn,
  checkProgram,
  decode,
  encode,
  exit,
  ja,
  ja32,
  jmpImm,
  lddw,
  ldx,
  mayGoto,
  mov64Imm,
  type Insn,
} from "../../compiler/isa/index.js";
import { everyForm, randomProgram, rng } from "./forms.js";

const slot = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });

test("encode then decode gives back every instruction form", () => {
  for (const form of everyForm()) {
    const bytes = encode(form);
    assert.equal(bytes.length, form.length * 8);
    assert.deepEqual(decode(bytes, { check: false }), form);
  }
  const p = randomProgram(7, 500);
  assert.deepEqual(decode(encode(p)), p);
});

test("the wire layout is little endian with dst in the low nibble", () => {
  const bytes = encode([{ code: 0x61, dst: 1, src: 10, off: -8, imm: 0x01020304 }]);
  assert.deepEqual([...bytes], [0x61, 0xa1, 0xf8, 0xff, 0x04, 0x03, 0x02, 0x01]);
});

test("every opcode byte round trips through encode and decode, field by field", () => {
  const r = rng(42);
  for (let code = 0; code < 256; code++) {
    for (let k = 0; k < 8; k++) {
      const x = {
        code,
        dst: Math.floor(r() * 16),
        src: Math.floor(r() * 16),
        off: Math.floor(r() * 65536) - 32768,
        imm: (Math.floor(r() * 2 ** 32) | 0),
      };
      assert.deepEqual(decode(encode([x]), { check: false }), [x]);
    }
  }
});

test("exactly the opcodes of the instruction set are accepted", () => {
  const valid = new Set(everyForm().map((f) => f[0]!.code));
  // RFC 9669 plus the kernel's v4 extensions: 1 LDDW, 6 LD_ABS/IND, 4+3 LDX, 4 ST, 4+2 STX,
  // ALU: 12 ops x K/X + NEG + END to-le/to-be; ALU64: 12 x 2 + NEG + BSWAP;
  // 2 classes x 11 conditions x K/X; JA, JA32, CALL, EXIT, MAY_GOTO. STX|ATOMIC of bytes and halves are
  // load-acquire and store-release only.
  assert.equal(valid.size, 1 + 6 + 7 + 4 + (6 + 2) + (12 * 2 + 1 + 2) + (12 * 2 + 1 + 1) + 2 * 11 * 2 + 5);
  const probes = (code: number): Insn[][] => [
    [slot(code), slot(0)],
    [slot(code, 1, 2), slot(0)],
    [slot(code, 1, 0, 0, 8), slot(0)],
    [slot(code, 1, 2, 1, 16), slot(0)],
    [slot(code, 0, 1, 0, 1), slot(0)],
  ];
  for (let code = 0; code < 256; code++) {
    if (valid.has(code)) continue;
    for (const p of probes(code)) assert.notEqual(checkInsn(p, 0), undefined, `opcode 0x${code.toString(16)} accepted with ${JSON.stringify(p[0])}`);
  }
});

function rejects(p: Insn[], index: number, reason: RegExp): void {
  assert.throws(
    () => checkProgram(p),
    (e: unknown) => {
      assert.ok(e instanceof IsaError, String(e));
      assert.equal(e.index, index, e.message);
      assert.match(e.reason, reason);
      assert.match(e.message, new RegExp(`^instruction ${index}: `));
      return true;
    },
  );
}

test("malformed programs are rejected with the slot index and the reason", () => {
  const ok = mov64Imm(0, 0);
  const cases: [string, Insn[], number, RegExp][] = [
    ["empty program", [], 0, /empty program/],
    ["unknown opcode", [ok, slot(0xff), exit()], 1, /unknown opcode 0xff/],
    ["unknown ALU op 0xe0", [slot(0xe7, 1), exit()], 0, /unknown opcode 0xe7/],
    ["unknown jump op", [slot(0xf5, 1), exit()], 0, /unknown opcode 0xf5/],
    ["may_goto with dst", [slot(Op.MAY_GOTO, 1), exit()], 0, /may_goto uses reserved fields/],
    ["may_goto with imm", [slot(Op.MAY_GOTO, 0, 0, 0, 1), exit()], 0, /may_goto uses reserved fields/],
    ["JCOND kind 1", [slot(Op.MAY_GOTO, 0, 1), exit()], 0, /unknown BPF_JCOND kind src=1/],
    ["JCOND in JMP32", [slot(0xe6), exit()], 0, /unknown opcode 0xe6/],
    ["JCOND with X", [slot(0xed), exit()], 0, /unknown opcode 0xed/],
    ["may_goto past the end", [mayGoto(1), exit()], 0, /jump out of range: target 2/],
    ["byte atomic add", [slot(0xd3, 1, 2, 0, AtomicOp.ADD), exit()], 0, /invalid atomic operand size/],
    ["half-word xchg", [slot(0xcb, 1, 2, 0, AtomicOp.XCHG), exit()], 0, /invalid atomic operand size/],
    ["load-acquire with a fetch bit", [slot(0xdb, 1, 2, 0, AtomicOp.LOAD_ACQ | 1), exit()], 0, /invalid atomic operation 0x101/],
    ["store-release from r11", [slot(0xcb, 1, 11, 0, AtomicOp.STORE_REL), exit()], 0, /invalid source register r11/],
    ["opcode 0 alone", [slot(0), exit()], 0, /unknown opcode 0x00/],
    ["LDX mode ABS", [slot(0x21, 1, 2), exit()], 0, /unknown opcode 0x21/],
    ["64-bit sign-extending load", [slot(0x99, 1, 2), exit()], 0, /unknown opcode 0x99/],
    ["ST atomic", [slot(0xda, 1), exit()], 0, /unknown opcode 0xda/],
    ["CALL in JMP32", [slot(0x86), exit()], 0, /unknown opcode 0x86/],
    ["ALU64 END with X", [slot(0xdf, 1, 0, 0, 16), exit()], 0, /unknown opcode 0xdf/],
    ["src set on an immediate ALU op", [slot(0x07, 1, 2, 0, 1), exit()], 0, /reserved field src/],
    ["imm set on a register ALU op", [slot(0x0f, 1, 2, 0, 1), exit()], 0, /reserved field imm/],
    ["off set on ADD", [slot(0x07, 1, 0, 1, 1), exit()], 0, /reserved field off/],
    ["off 2 on DIV", [slot(0x37, 1, 0, 2, 1), exit()], 0, /off is not 0 or 1/],
    ["movsx width 4", [slot(0xbf, 1, 2, 4), exit()], 0, /sign-extension width 4/],
    ["32-bit movsx from 32", [slot(0xbc, 1, 2, 32), exit()], 0, /sign-extension width 32/],
    ["off set on MOV K", [slot(0xb7, 1, 0, 8, 1), exit()], 0, /reserved field off/],
    ["NEG with imm", [slot(0x87, 1, 0, 0, 1), exit()], 0, /BPF_NEG uses reserved fields/],
    ["END width 8", [slot(0xd4, 1, 0, 0, 8), exit()], 0, /byte swap width 8/],
    ["END with off", [slot(0xd4, 1, 0, 1, 16), exit()], 0, /BPF_END uses reserved fields/],
    ["LDX with imm", [slot(0x79, 1, 2, 0, 1), exit()], 0, /BPF_LDX uses reserved fields/],
    ["ST with src", [slot(0x7a, 1, 2, 0, 1), exit()], 0, /BPF_ST uses reserved fields/],
    ["STX with imm", [slot(0x7b, 1, 2, 0, 1), exit()], 0, /BPF_STX uses reserved fields/],
    ["atomic on a byte", [slot(0xd3, 1, 2), exit()], 0, /invalid atomic operand size/],
    ["unknown atomic op", [slot(0xdb, 1, 2, 0, 0x10), exit()], 0, /invalid atomic operation 0x10/],
    ["LD_ABS with dst", [slot(0x20, 1, 0, 0, 1), exit()], 0, /BPF_LD_\[ABS\|IND\] uses reserved fields/],
    ["LD_ABS with src", [slot(0x20, 0, 1, 0, 1), exit()], 0, /BPF_LD_\[ABS\|IND\] uses reserved fields/],
    ["64-bit LD_ABS", [slot(0x38), exit()], 0, /unknown opcode 0x38/],
    ["LDDW with off", [slot(Op.LDDW, 1, 0, 1), slot(0), exit()], 0, /reserved field off/],
    ["LDDW second half with a code", [slot(Op.LDDW, 1), slot(0x07), exit()], 0, /second half uses reserved fields/],
    ["LDDW second half with dst", [slot(Op.LDDW, 1), slot(0, 1), exit()], 0, /second half uses reserved fields/],
    ["LDDW unknown pseudo source", [slot(Op.LDDW, 1, 7), slot(0), exit()], 0, /invalid LDDW pseudo source 7/],
    ["map fd load with upper half", [slot(Op.LDDW, 1, PseudoLd.MAP_FD, 0, 3), slot(0, 0, 0, 0, 1), exit()], 0, /map load uses the reserved upper half/],
    ["truncated LDDW", [ok, slot(Op.LDDW, 1, 0, 0, 5)], 1, /truncated LDDW/],
    ["JA with imm", [slot(Op.JA, 0, 0, 0, 1), exit()], 0, /BPF_JA uses reserved fields/],
    ["JA32 with off", [slot(Op.JA32, 0, 0, 1, 0), exit(), exit()], 0, /BPF_JA uses reserved fields/],
    ["JA with a register", [slot(Op.JA, 1), exit()], 0, /BPF_JA uses reserved fields/],
    ["CALL with dst", [slot(Op.CALL, 1, 0, 0, 1), exit()], 0, /BPF_CALL uses reserved fields/],
    ["CALL with off", [slot(Op.CALL, 0, 0, 1, 1), exit()], 0, /BPF_CALL uses reserved fields/],
    ["CALL kind 3", [slot(Op.CALL, 0, 3, 0, 1), exit()], 0, /invalid call kind src=3/],
    ["EXIT with imm", [slot(Op.EXIT, 0, 0, 0, 1)], 0, /BPF_EXIT uses reserved fields/],
    ["jump with src set on K", [slot(0x15, 1, 2, 0, 1), exit()], 0, /reserved field src/],
    ["jump with imm set on X", [slot(0x1d, 1, 2, 0, 1), exit()], 0, /reserved field imm/],
    ["dst r11 on ALU", [ok, slot(0xb7, 11, 0, 0, 1), exit()], 1, /invalid destination register r11/],
    ["src r12 on ALU", [slot(0xbf, 1, 12), exit()], 0, /invalid source register r12/],
    ["dst r15 on LDX", [ldx(Size.DW, 15 as 1, 1, 0), exit()], 0, /invalid destination register r15/],
    ["src r11 on STX", [slot(0x7b, 1, 11), exit()], 0, /invalid source register r11/],
    ["dst r11 on ST", [slot(0x7a, 11, 0, 0, 1), exit()], 0, /invalid destination register r11/],
    ["dst r11 on a jump", [slot(0x15, 11, 0, 0, 1), exit()], 0, /invalid destination register r11/],
    ["src r11 on LD_IND", [slot(0x40, 0, 11, 0, 1), exit()], 0, /invalid source register r11/],
    ["dst r11 on LDDW", [slot(Op.LDDW, 11), slot(0), exit()], 0, /invalid destination register r11/],
    ["jump past the end", [ok, jmpImm(JmpOp.JEQ, 0, 0, 2), exit()], 1, /jump out of range: target 4, program has 3/],
    ["jump before the start", [ok, ja(-3), exit()], 1, /jump out of range: target -1/],
    ["gotol past the end", [ja32(5), exit()], 0, /jump out of range: target 6/],
    ["local call past the end", [callLocal(1), exit()], 0, /jump out of range: target 2/],
    ["jump into an LDDW", [ja(1), ...lddw(1, 5n), exit()], 0, /jump into the middle of an LDDW at 1/],
    ["backward jump into an LDDW", [...lddw(1, 5n), ja(-2), exit()], 2, /jump into the middle of an LDDW at 0/],
    ["local call into an LDDW", [callLocal(1), ...lddw(1, 5n), exit()], 0, /jump into the middle of an LDDW at 1/],
  ];
  for (const [name, p, index, reason] of cases) {
    try {
      rejects(p, index, reason);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
  }
});

test("decode checks by default and reports bad lengths", () => {
  assert.throws(() => decode(new Uint8Array(12)), (e: unknown) => e instanceof IsaError && e.index === 1 && /not a multiple of 8/.test(e.reason));
  assert.throws(() => decode(encode([slot(0xff), exit()])), (e: unknown) => e instanceof IsaError && e.index === 0);
  assert.deepEqual(decode(encode([slot(0xff)]), { check: false }), [slot(0xff)]);
});

test("valid programs pass: every form in place, and random programs", () => {
  for (const form of everyForm()) {
    const p = [...form.map((x) => ({ ...x })), exit()];
    // Point jumps at the final exit so that the form is checked in a valid program.
    const x = p[0]!;
    const toExit = p.length - 1 - 1;
    if (x.code === Op.JA32 || (x.code === Op.CALL && x.src === 1)) x.imm = toExit;
    else if ((x.code & 7) === 5 || (x.code & 7) === 6) {
      if (x.code !== Op.CALL && x.code !== Op.EXIT) x.off = toExit;
    }
    if (x.code === Op.LDDW) continue;
    assert.doesNotThrow(() => checkProgram(p), JSON.stringify(x));
  }
  for (const form of everyForm().filter((f) => f.length === 2)) assert.doesNotThrow(() => checkProgram([...form, exit()]));
  for (let seed = 1; seed <= 20; seed++) assert.doesNotThrow(() => checkProgram(randomProgram(seed, 200)));
  assert.doesNotThrow(() => checkProgram([call(1), mov64Imm(0, AluOp.ADD), exit()]));
});
