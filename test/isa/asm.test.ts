// Assembler: round trips through both syntaxes, labels, comments, names, pasted tool output, errors.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AsmError,
  JmpOp,
  PseudoLd,
  Size,
  assemble,
  call,
  callKfunc,
  callLocal,
  disassemble,
  exit,
  ja,
  ja32,
  jmpImm,
  lddw,
  ldMapFd,
  ldMapValue,
  ldx,
  mov32Imm,
  mov64Imm,
  mov64Reg,
  type Insn,
} from "../../compiler/isa/index.js";
import { everyForm, randomProgram, rng } from "./forms.js";

const styles = ["kernel", "llvm"] as const;

test("every instruction form reads back from its disassembly, in both styles", () => {
  for (const style of styles) {
    for (const form of everyForm()) {
      const text = disassemble(form, { style }).join("\n");
      assert.deepEqual(assemble(text, { style, check: false }), form, `${style}: ${text}`);
    }
  }
});

test("random programs round trip in both styles, with and without slot indices (fixed seeds)", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const p = randomProgram(seed, 150);
    for (const style of styles) {
      for (const indices of [false, true]) {
        const text = disassemble(p, { style, indices }).join("\n");
        assert.deepEqual(assemble(text, { style }), p, `seed ${seed}, ${style}, indices ${indices}`);
      }
    }
    // Without a style the kernel text is recognised; llvm text too as soon as it shows llvm-only forms.
    assert.deepEqual(assemble(disassemble(p).join("\n")), p, `seed ${seed}, auto kernel`);
    assert.deepEqual(assemble(disassemble(p, { style: "llvm" }).join("\n")), p, `seed ${seed}, auto llvm`);
  }
});

test("style auto: rN = 0x... is LDDW in kernel text and a move in llvm text", () => {
  assert.deepEqual(assemble("r1 = 0x10\nexit"), [...lddw(1, 16n), exit()]);
  assert.deepEqual(assemble("r1 = 16\nexit"), [mov64Imm(1, 16), exit()]);
  assert.deepEqual(assemble("r1 = 0x10\nr1 += 0x1\nexit"), [mov64Imm(1, 16), { ...mov64Imm(1, 1), code: 0x07 }, exit()]);
  assert.deepEqual(assemble("r1 = 0x10\nexit", { style: "llvm" }), [mov64Imm(1, 16), exit()]);
  assert.deepEqual(assemble("r1 = 0x10 ll\nexit", { style: "llvm" }), [...lddw(1, 16n), exit()]);
  assert.deepEqual(assemble("w1 = 0x10\nexit"), [mov32Imm(1, 16), exit()]);
  // A 64-bit move sign-extends a 32-bit immediate: larger values become LDDW.
  assert.deepEqual(assemble("r1 = 4294967295\nexit"), [...lddw(1, 0xffffffffn), exit()]);
  assert.deepEqual(assemble("r1 = -2147483648\nexit"), [mov64Imm(1, -2147483648), exit()]);
  assert.deepEqual(assemble("w1 = 4294967295\nexit"), [mov32Imm(1, -1), exit()]);
});

test("labels: forward and backward jumps, gotol, local calls and subprog loads", () => {
  const text = `
start:
    r0 = 0
loop:   r0 += 1
    if r0 < 10 goto loop
    if w0 == 3 goto done
    gotol done
    call sub
    r1 = subprog[sub]
done: exit
sub:
    r0 = 1
    exit
`;
  assert.deepEqual(assemble(text), [
    mov64Imm(0, 0),
    { code: 0x07, dst: 0, src: 0, off: 0, imm: 1 },
    jmpImm(JmpOp.JLT, 0, 10, -2),
    { code: 0x16, dst: 0, src: 0, off: 4, imm: 3 },
    ja32(3),
    callLocal(3),
    ...lddw(1, 2n, PseudoLd.FUNC),
    exit(),
    mov64Imm(0, 1),
    exit(),
  ]);
  assert.deepEqual(assemble("a: b: goto a\nc: exit"), [ja(-1), exit()]);
});

test("comments: ;, // and # at the start of a word", () => {
  const text = [
    "# whole-line comment",
    "// another",
    "; and another",
    "r0 = 0 ; trailing",
    "call bpf_get_prandom_u32#7 # trailing after a helper id",
    "call map_lookup_elem // trailing",
    "   ",
    "exit#",
  ].join("\n");
  assert.throws(() => assemble(text), /line 8/);
  assert.deepEqual(assemble(text.replace("exit#", "exit #")), [mov64Imm(0, 0), call(7), call(1), exit()]);
});

test("helper and kernel function calls by name or number", () => {
  for (const spelling of ["call bpf_map_lookup_elem", "call map_lookup_elem", "call 1", "call 0x1", "call bpf_map_lookup_elem#1"]) {
    assert.deepEqual(assemble(`${spelling}\nexit`), [call(1), exit()], spelling);
  }
  assert.deepEqual(assemble("call unknown#300\nexit"), [call(300), exit()]);
  assert.deepEqual(assemble("call bpf_unspec#0\nexit"), [call(0), exit()]);
  assert.deepEqual(assemble("call bpf_rcu_read_lock#1234\nexit"), [callKfunc(1234), exit()]);
  assert.deepEqual(assemble("call kernel-function#1234 btf_fd_idx=3\nexit"), [callKfunc(1234, 3), exit()]);
  assert.deepEqual(assemble("call bpf_rcu_read_lock\nexit", { kfuncs: { bpf_rcu_read_lock: 99 } }), [callKfunc(99), exit()]);
  assert.deepEqual(assemble("call my_helper\nexit", { helpers: (n) => (n === "my_helper" ? 500 : undefined) }), [call(500), exit()]);
  assert.deepEqual(assemble("call lookup#1\nexit", { helpers: { lookup: 1 } }), [call(1), exit()]);
});

test("maps by fd, index or name", () => {
  assert.deepEqual(assemble("r1 = map[events]\nr2 = map[events][0]+16\nexit", { maps: { events: 7 } }), [...ldMapFd(1, 7), ...ldMapValue(2, 7, 16), exit()]);
  assert.deepEqual(assemble("r1 = map[idx:1]\nr2 = map[idx:1]+4\nexit"), [...lddw(1, 1n, PseudoLd.MAP_IDX), ...lddw(2, 1n | (4n << 32n), PseudoLd.MAP_IDX_VALUE), exit()]);
  assert.deepEqual(assemble("ld_pseudo r1, 1, 7\nexit"), [...ldMapFd(1, 7), exit()]);
});

test("pasted verifier log and objdump output assemble", () => {
  const log = [
    "0: (b7) r1 = 3                        ; R1=3",
    "1: (bf) r0 = r1                       ; R0=3 R1=3",
    "2: (79) r2 = *(u64 *)(r10 -8)",
    "3: (95) exit",
  ].join("\n");
  assert.deepEqual(assemble(log), [mov64Imm(1, 3), mov64Reg(0, 1), ldx(Size.DW, 2, 10, -8), exit()]);
  const objdump = [
    "0000000000000000 <prog>:",
    "       0:\t79 12 00 00 00 00 00 00\tr2 = *(u64 *)(r1 + 0x0)",
    "       1:\t25 02 01 00 03 00 00 00\tif r2 > 0x3 goto +0x1 <prog+0x18>",
    "       2:\t05 00 ff ff 00 00 00 00\tgoto -0x1 <prog+0x10>",
    "       3:\t18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0x0 ll",
    "       5:\t85 10 00 00 ff ff ff ff\tcall -0x1",
    "       6:\t95 00 00 00 00 00 00 00\texit",
  ].join("\n");
  assert.deepEqual(assemble(objdump, { check: false }), [
    ldx(Size.DW, 2, 1, 0),
    jmpImm(JmpOp.JGT, 2, 3, 1),
    ja(-1),
    ...lddw(1, 0n),
    callLocal(-1),
    exit(),
  ]);
});

interface ErrorCase {
  text: string;
  line: number;
  column: number;
  message: RegExp;
  options?: Parameters<typeof assemble>[1];
}

const errorCases: ErrorCase[] = [
  { text: "", line: 1, column: 1, message: /no instructions/ },
  { text: "r0 = 0\nfoo r1\nexit", line: 2, column: 1, message: /unknown instruction "foo"/ },
  { text: "r11 = 1\nexit", line: 1, column: 1, message: /no register r11: registers are r0-r10/ },
  { text: "r1 = *(u64 *)(r16 +0)\nexit", line: 1, column: 15, message: /no register r16/ },
  { text: "r1 +=\nexit", line: 1, column: 6, message: /expected immediate but found the end of the line/ },
  { text: "r1 += w2\nexit", line: 1, column: 7, message: /operand w2 does not match the width of r1/ },
  { text: "r1 = -r2\nexit", line: 1, column: 7, message: /same register on both sides/ },
  { text: "goto nowhere\nexit", line: 1, column: 6, message: /undefined label "nowhere"/ },
  { text: "a: exit\na: exit", line: 2, column: 1, message: /label "a" is already defined on line 1/ },
  { text: "r1 = *(u64 *)(r10 -40000)\nexit", line: 1, column: 19, message: /offset -40000 is out of range/ },
  { text: "r1 += 4294967296\nexit", line: 1, column: 7, message: /immediate 4294967296 is out of range/ },
  { text: "r1 = *(u128 *)(r10 -8)\nexit", line: 1, column: 8, message: /unknown access size "u128"/ },
  { text: "r1 = *(s64 *)(r10 -8)\nexit", line: 1, column: 8, message: /unknown access size "s64"/ },
  { text: "if r1 ~ 3 goto +1\nexit", line: 1, column: 7, message: /unexpected character "~"/ },
  { text: "if r1 = 3 goto +1\nexit", line: 1, column: 7, message: /expected a comparison/ },
  { text: "if r1 == 3 goto pc+5\nexit", line: 1, column: 1, message: /jump out of range: target 6/ },
  { text: "goto pc+1\nr1 = 0x5\nexit", line: 1, column: 1, message: /jump into the middle of an LDDW/ },
  { text: "r1 = 0x5z\nexit", line: 1, column: 6, message: /malformed number "0x5z"/ },
  { text: "exit exit", line: 1, column: 6, message: /unexpected "exit" after the instruction/ },
  { text: "call nosuchthing\nexit", line: 1, column: 6, message: /unknown helper, kernel function or label "nosuchthing"/ },
  { text: "r1 = map[id:3]\nexit", line: 1, column: 10, message: /map\[id:N\] names a map already loaded/ },
  { text: "r1 = map[nomap]\nexit", line: 1, column: 10, message: /unknown map "nomap"/ },
  { text: "       7:\tc3 00 10 00 40 00 00 00\t<unknown>", line: 1, column: 35, message: /objdump could not decode/ },
  { text: "r1 = atomic64_cmpxchg((u64 *)(r1 +0), r2, r3)\nexit", line: 1, column: 39, message: /cmpxchg compares with r0, not r2/ },
  { text: "r1 = atomic64_fetch_add((u32 *)(r1 +0), r1)\nexit", line: 1, column: 26, message: /needs a u64 operand/ },
  { text: "lock *(u16 *)(r1 +0) += r2\nexit", line: 1, column: 8, message: /atomic operations take u32 or u64/ },
  { text: "lock *(u64 *)(r1 +0) -= r2\nexit", line: 1, column: 22, message: /expected one of \+= \|= &= \^=/ },
  { text: "*(s8 *)(r1 +0) = 1\nexit", line: 1, column: 3, message: /stores take an unsigned size/ },
  { text: "r1 = *(u8 *)skb[0]\nexit", line: 1, column: 1, message: /packet loads write r0/ },
  { text: "r1 = be16 r2\nexit", line: 1, column: 11, message: /same register on both sides/ },
  { text: "w1 = (s32)w2\nexit", line: 1, column: 7, message: /expected a sign-extension cast \(s8, s16\)/ },
  { text: "w1 = 0x5 ll\nexit", line: 1, column: 1, message: /64-bit load needs r1/ },
  { text: "r1 = 0x10000000000000000\nexit", line: 1, column: 6, message: /does not fit in 64 bits/ },
  { text: ".insn 0xff, 0, 0, 0, 0", line: 1, column: 1, message: /unknown opcode 0xff/ },
  { text: "w1 = *(u64 *)(r2 +0)\nexit", line: 1, column: 1, message: /a u64 load writes r1/ },
  { text: "w1 = *(s8 *)(r2 +0)\nexit", line: 1, column: 1, message: /a s8 load writes r1/ },
  { text: "*(u64 *)(r2 +0) = w1\nexit", line: 1, column: 19, message: /a u64 store takes r1/ },
  { text: "lock *(u64 *)(r2 +0) += w1\nexit", line: 1, column: 25, message: /a u64 atomic operation takes r1/ },
  { text: "r0 = load_acquire((s32 *)(r1 +0))\nexit", line: 1, column: 20, message: /load_acquire zero-extends: take "u32"/ },
  { text: "w0 = load_acquire((u64 *)(r1 +0))\nexit", line: 1, column: 1, message: /a u64 load writes r0/ },
  { text: "store_release((u64 *)(r1 +0), w2)\nexit", line: 1, column: 31, message: /a u64 store takes r2/ },
  { text: "may_goto nowhere\nexit", line: 1, column: 10, message: /undefined label "nowhere"/ },
  { text: "may_goto pc+1\nexit", line: 1, column: 1, message: /jump out of range/ },
  { text: "goto pc\nexit", line: 1, column: 8, message: /expected "\+" or "-" after "pc"/ },
];

test("errors carry the line, the column and a clear reason", () => {
  for (const c of errorCases) {
    assert.throws(
      () => assemble(c.text, c.options),
      AsmError,
      `no error for ${JSON.stringify(c.text)}`,
    );
    assert.throws(
      () => assemble(c.text, c.options),
      (e: unknown) => {
        assert.ok(e instanceof AsmError, `${JSON.stringify(c.text)}: ${String(e)}`);
        assert.match(e.reason, c.message, JSON.stringify(c.text));
        assert.deepEqual([e.line, e.column], [c.line, c.column], `${JSON.stringify(c.text)}: ${e.message}`);
        assert.equal(e.message, `line ${c.line}, column ${c.column}: ${e.reason}`);
        return true;
      },
    );
  }
});

test("label too far for a 16-bit jump suggests gotol", () => {
  const text = ["goto far", ...Array.from({ length: 40000 }, () => "r0 = 0"), "far: exit"].join("\n");
  assert.throws(() => assemble(text), (e: unknown) => e instanceof AsmError && e.line === 1 && e.column === 6 && /use gotol/.test(e.reason));
  assert.equal(assemble(text.replace("goto far", "gotol far"))[0]!.imm, 40000);
});

test("never crashes: mangled text gives an instruction list or an AsmError", () => {
  const r = rng(2024);
  const corpus = [
    ...disassemble(randomProgram(3, 300)),
    ...disassemble(randomProgram(4, 300), { style: "llvm", indices: true }),
  ];
  const junk = ["", " ", "(", ")", "[", "]", "*", "+", "-", "0x", "r", "w", "r99", "#", ":", ",", "=", "ll", "goto", "pc", "<", ">", "s", "u64", "\t", "9999999999999999999999"];
  for (let k = 0; k < 3000; k++) {
    let line = corpus[Math.floor(r() * corpus.length)]!;
    const edits = 1 + Math.floor(r() * 3);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(r() * (line.length + 1));
      const cut = Math.floor(r() * 4);
      line = line.slice(0, at) + junk[Math.floor(r() * junk.length)]! + line.slice(at + cut);
    }
    try {
      const out: Insn[] = assemble(line, { check: false });
      assert.ok(Array.isArray(out));
    } catch (e) {
      assert.ok(e instanceof AsmError, `${JSON.stringify(line)} threw ${String(e)}`);
      assert.ok(e.line === 1 && e.column >= 1 && e.column <= line.length + 1, `${JSON.stringify(line)}: ${e.message}`);
    }
  }
});
