// Disassembly pins: every instruction kind in the kernel and llvm syntaxes, and the options.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AluOp,
  AtomicOp,
  JmpOp,
  PseudoLd,
  Size,
  alu32Imm,
  alu32Reg,
  alu64Imm,
  alu64Reg,
  atomic,
  bswap,
  call,
  callKfunc,
  callLocal,
  disassemble,
  endian,
  exit,
  formatInsn,
  ja,
  ja32,
  jmp32Imm,
  jmp32Reg,
  jmpImm,
  jmpReg,
  ldAbs,
  loadAcquire,
  mayGoto,
  storeRelease,
  ldInd,
  ldMapFd,
  ldMapValue,
  lddw,
  ldx,
  ldxsx,
  mov64Imm,
  movsx32,
  movsx64,
  neg32,
  neg64,
  st,
  stx,
  type Insn,
} from "../../compiler/isa/index.js";
import { everyForm, kind } from "./forms.js";

type Row = [Insn[], string, string];
const rows: Row[] = [];
const one = (x: Insn | Insn[], kernel: string, llvm: string): void => {
  rows.push([Array.isArray(x) ? x : [x], kernel, llvm]);
};

const ALU: [AluOp, string][] = [
  [AluOp.ADD, "+="],
  [AluOp.SUB, "-="],
  [AluOp.MUL, "*="],
  [AluOp.DIV, "/="],
  [AluOp.OR, "|="],
  [AluOp.AND, "&="],
  [AluOp.LSH, "<<="],
  [AluOp.RSH, ">>="],
  [AluOp.MOD, "%="],
  [AluOp.XOR, "^="],
  [AluOp.MOV, "="],
  [AluOp.ARSH, "s>>="],
];
for (const [op, sym] of ALU) {
  one(alu64Imm(op, 1, -5), `r1 ${sym} -5`, `r1 ${sym} -0x5`);
  one(alu64Reg(op, 2, 3), `r2 ${sym} r3`, `r2 ${sym} r3`);
  one(alu32Imm(op, 4, 300), `w4 ${sym} 300`, `w4 ${sym} 0x12c`);
  one(alu32Reg(op, 5, 10), `w5 ${sym} w10`, `w5 ${sym} w10`);
}
one(alu64Imm(AluOp.DIV, 1, 7, 1), "r1 s/= 7", "r1 s/= 0x7");
one(alu64Reg(AluOp.DIV, 1, 2, 1), "r1 s/= r2", "r1 s/= r2");
one(alu64Imm(AluOp.MOD, 1, -7, 1), "r1 s%= -7", "r1 s%= -0x7");
one(alu64Reg(AluOp.MOD, 1, 2, 1), "r1 s%= r2", "r1 s%= r2");
one(alu32Imm(AluOp.DIV, 1, 7, 1), "w1 s/= 7", "w1 s/= 0x7");
one(alu32Reg(AluOp.DIV, 1, 2, 1), "w1 s/= w2", "w1 s/= w2");
one(alu32Imm(AluOp.MOD, 1, 7, 1), "w1 s%= 7", "w1 s%= 0x7");
one(alu32Reg(AluOp.MOD, 1, 2, 1), "w1 s%= w2", "w1 s%= w2");
one(neg64(3), "r3 = -r3", "r3 = -r3");
one(neg32(3), "w3 = -w3", "w3 = -w3");
one(movsx64(1, 2, 8), "r1 = (s8)r2", "r1 = (s8)r2");
one(movsx64(1, 2, 16), "r1 = (s16)r2", "r1 = (s16)r2");
one(movsx64(1, 2, 32), "r1 = (s32)r2", "r1 = (s32)r2");
one(movsx32(1, 2, 8), "w1 = (s8)w2", "w1 = (s8)w2");
one(movsx32(1, 2, 16), "w1 = (s16)w2", "w1 = (s16)w2");
for (const bits of [16, 32, 64] as const) {
  one(endian("le", 6, bits), `r6 = le${bits} r6`, `r6 = le${bits} r6`);
  one(endian("be", 6, bits), `r6 = be${bits} r6`, `r6 = be${bits} r6`);
  one(bswap(7, bits), `r7 = bswap${bits} r7`, `r7 = bswap${bits} r7`);
}
for (const [size, u, s, w] of [
  [Size.B, "u8", "s8", "w"],
  [Size.H, "u16", "s16", "w"],
  [Size.W, "u32", "s32", "w"],
  [Size.DW, "u64", "", "r"],
] as const) {
  one(ldx(size, 1, 10, -8), `r1 = *(${u} *)(r10 -8)`, `${w}1 = *(${u} *)(r10 - 0x8)`);
  one(stx(size, 10, 1, -16), `*(${u} *)(r10 -16) = r1`, `*(${u} *)(r10 - 0x10) = ${w}1`);
  one(st(size, 1, 0, -1), `*(${u} *)(r1 +0) = -1`, `*(${u} *)(r1 + 0x0) = -0x1`);
  if (s) {
    one(ldxsx(size, 0, 1, 2), `r0 = *(${s} *)(r1 +2)`, `r0 = *(${s} *)(r1 + 0x2)`);
    one(ldAbs(size, 12), `r0 = *(${u} *)skb[12]`, `r0 = *(${u} *)skb[0xc]`);
    one(ldInd(size, 3, 0), `r0 = *(${u} *)skb[r3 + 0]`, `r0 = *(${u} *)skb[r3]`);
    one(ldInd(size, 3, 4), `r0 = *(${u} *)skb[r3 + 4]`, `r0 = *(${u} *)skb[r3 + 0x4]`);
  }
}
for (const [op, sym, name] of [
  [AtomicOp.ADD, "+=", "add"],
  [AtomicOp.OR, "|=", "or"],
  [AtomicOp.AND, "&=", "and"],
  [AtomicOp.XOR, "^=", "xor"],
] as const) {
  one(atomic(Size.DW, op, 1, 2, 0), `lock *(u64 *)(r1 +0) ${sym} r2`, `lock *(u64 *)(r1 + 0x0) ${sym} r2`);
  one(atomic(Size.W, op, 1, 2, -4), `lock *(u32 *)(r1 -4) ${sym} r2`, `lock *(u32 *)(r1 - 0x4) ${sym} w2`);
  one(atomic(Size.DW, op | AtomicOp.FETCH, 1, 2, 8), `r2 = atomic64_fetch_${name}((u64 *)(r1 +8), r2)`, `r2 = atomic_fetch_${name}((u64 *)(r1 + 0x8), r2)`);
  one(atomic(Size.W, op | AtomicOp.FETCH, 1, 2, 8), `r2 = atomic_fetch_${name}((u32 *)(r1 +8), r2)`, `w2 = atomic_fetch_${name}((u32 *)(r1 + 0x8), w2)`);
}
one(atomic(Size.DW, AtomicOp.XCHG, 1, 2, 0), "r2 = atomic64_xchg((u64 *)(r1 +0), r2)", "r2 = xchg_64(r1 + 0x0, r2)");
one(atomic(Size.W, AtomicOp.XCHG, 1, 2, -8), "r2 = atomic_xchg((u32 *)(r1 -8), r2)", "w2 = xchg32_32(r1 - 0x8, w2)");
one(atomic(Size.DW, AtomicOp.CMPXCHG, 1, 2, 0), "r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)", "r0 = cmpxchg_64(r1 + 0x0, r0, r2)");
one(atomic(Size.W, AtomicOp.CMPXCHG, 1, 2, 0), "r0 = atomic_cmpxchg((u32 *)(r1 +0), r0, r2)", "w0 = cmpxchg32_32(r1 + 0x0, w0, w2)");
for (const [size, name, v] of [[Size.B, "u8", "w"], [Size.H, "u16", "w"], [Size.W, "u32", "w"], [Size.DW, "u64", "r"]] as const) {
  one(loadAcquire(size, 0, 1, 0), `r0 = load_acquire((${name} *)(r1 +0))`, `${v}0 = load_acquire((${name} *)(r1 + 0x0))`);
  one(storeRelease(size, 1, 2, -8), `store_release((${name} *)(r1 -8), r2)`, `store_release((${name} *)(r1 - 0x8), ${v}2)`);
}
one(lddw(0, 0x1234n), "r0 = 0x1234", "r0 = 0x1234 ll");
one(lddw(1, -1n), "r1 = 0xffffffffffffffff", "r1 = -0x1 ll");
one(lddw(1, 0x123456789abcdefn), "r1 = 0x123456789abcdef", "r1 = 0x123456789abcdef ll");
one(ldMapFd(1, 5), "r1 = map[fd:5]", "ld_pseudo\tr1, 0x1, 0x5");
one(ldMapValue(2, 5, 16), "r2 = map[fd:5][0]+16", "ld_pseudo\tr2, 0x2, 0x1000000005");
one(ldMapValue(2, 5, 0), "r2 = map[fd:5][0]+0", "ld_pseudo\tr2, 0x2, 0x5");
one(lddw(3, 77n, PseudoLd.BTF_ID), "r3 = btf_id[77]", "ld_pseudo\tr3, 0x3, 0x4d");
one(lddw(3, 77n | (4n << 32n), PseudoLd.BTF_ID), "r3 = btf_id[77][fd:4]", "ld_pseudo\tr3, 0x3, 0x40000004d");
one(lddw(4, 6n, PseudoLd.FUNC), "r4 = subprog[+6]", "ld_pseudo\tr4, 0x4, 0x6");
one(lddw(5, 2n, PseudoLd.MAP_IDX), "r5 = map[idx:2]", "ld_pseudo\tr5, 0x5, 0x2");
one(lddw(6, 2n | (8n << 32n), PseudoLd.MAP_IDX_VALUE), "r6 = map[idx:2]+8", "ld_pseudo\tr6, 0x6, 0x800000002");
for (const [op, sym] of [
  [JmpOp.JEQ, "=="],
  [JmpOp.JGT, ">"],
  [JmpOp.JGE, ">="],
  [JmpOp.JSET, "&"],
  [JmpOp.JNE, "!="],
  [JmpOp.JSGT, "s>"],
  [JmpOp.JSGE, "s>="],
  [JmpOp.JLT, "<"],
  [JmpOp.JLE, "<="],
  [JmpOp.JSLT, "s<"],
  [JmpOp.JSLE, "s<="],
] as const) {
  one(jmpImm(op, 1, 3, 2), `if r1 ${sym} 0x3 goto pc+2`, `if r1 ${sym} 0x3 goto +0x2`);
  one(jmpImm(op, 1, -5, -2), `if r1 ${sym} 0xfffffffb goto pc-2`, `if r1 ${sym} -0x5 goto -0x2`);
  one(jmpReg(op, 1, 2, 0), `if r1 ${sym} r2 goto pc+0`, `if r1 ${sym} r2 goto +0x0`);
  one(jmp32Imm(op, 1, 16, 20), `if w1 ${sym} 0x10 goto pc+20`, `if w1 ${sym} 0x10 goto +0x14`);
  one(jmp32Reg(op, 1, 2, -1), `if w1 ${sym} w2 goto pc-1`, `if w1 ${sym} w2 goto -0x1`);
}
one(ja(3), "goto pc+3", "goto +0x3");
one(ja(-3), "goto pc-3", "goto -0x3");
one(ja32(100000), "gotol pc+100000", "gotol +0x186a0");
one(ja32(-1), "gotol pc-1", "gotol -0x1");
one(mayGoto(2), "may_goto pc+2", "may_goto +0x2");
one(mayGoto(-4), "may_goto pc-4", "may_goto -0x4");
one(mayGoto(0), "may_goto pc+0", "may_goto +0x0");
one(call(1), "call bpf_map_lookup_elem#1", "call 0x1");
one(call(14), "call bpf_get_current_pid_tgid#14", "call 0xe");
one(call(0), "call bpf_unspec#0", "call 0x0");
one(call(999), "call unknown#999", "call 0x3e7");
one(callLocal(5), "call pc+5", "call +0x5");
one(callLocal(-3), "call pc-3", "call -0x3");
one(callKfunc(12345), "call kernel-function#12345", "call kernel-function#12345");
one(callKfunc(12345, 2), "call kernel-function#12345 btf_fd_idx=2", "call kernel-function#12345 btf_fd_idx=2");
one(exit(), "exit", "exit");
one(mov64Imm(0, 0), "r0 = 0", "r0 = 0x0");

test("every instruction kind has a pinned disassembly", () => {
  const pinned = new Set(rows.map(([x]) => kind(x[0]!)));
  const missing = [...new Set(everyForm().map((f) => kind(f[0]!)))].filter((k) => !pinned.has(k));
  assert.deepEqual(missing, []);
});

test("kernel style pins", () => {
  for (const [x, kernel] of rows) assert.deepEqual(disassemble(x), [kernel], kernel);
});

test("llvm style pins", () => {
  for (const [x, , llvm] of rows) assert.deepEqual(disassemble(x, { style: "llvm" }), [llvm], llvm);
});

test("formatInsn formats the instruction at a slot", () => {
  const p = [...lddw(1, 5n), mov64Imm(0, 1), exit()];
  assert.equal(formatInsn(p, 0), "r1 = 0x5");
  assert.equal(formatInsn(p, 2, { style: "llvm" }), "r0 = 0x1");
  assert.throws(() => formatInsn(p, 9), RangeError);
});

test("indices: verifier-log and objdump line layouts", () => {
  const p = [mov64Imm(1, 3), ...lddw(2, 0x123456789n), jmpImm(JmpOp.JGT, 1, 3, 1), call(1), exit()];
  assert.deepEqual(disassemble(p, { indices: true }), [
    "0: (b7) r1 = 3",
    "1: (18) r2 = 0x123456789",
    "3: (25) if r1 > 0x3 goto pc+1",
    "4: (85) call bpf_map_lookup_elem#1",
    "5: (95) exit",
  ]);
  assert.deepEqual(disassemble(p, { indices: true, raw: false }), ["0: r1 = 3", "1: r2 = 0x123456789", "3: if r1 > 0x3 goto pc+1", "4: call bpf_map_lookup_elem#1", "5: exit"]);
  assert.deepEqual(disassemble(p, { style: "llvm", indices: true }), [
    "       0:\tb7 01 00 00 03 00 00 00\tr1 = 0x3",
    "       1:\t18 02 00 00 89 67 45 23 00 00 00 00 01 00 00 00\tr2 = 0x123456789 ll",
    "       3:\t25 01 01 00 03 00 00 00\tif r1 > 0x3 goto +0x1",
    "       4:\t85 00 00 00 01 00 00 00\tcall 0x1",
    "       5:\t95 00 00 00 00 00 00 00\texit",
  ]);
  assert.deepEqual(disassemble(p, { style: "llvm", indices: true, raw: false }).at(-1), "       5:\texit");
});

test("names: helpers, kernel functions and maps by callback or table", () => {
  const p = [call(1), callKfunc(777), ...ldMapFd(1, 4), ...ldMapValue(2, 4, 8), call(2), exit()];
  const names = { helpers: (id: number) => (id === 1 ? "lookup" : undefined), kfuncs: { 777: "bpf_rcu_read_lock" }, maps: { 4: "events" } };
  assert.deepEqual(disassemble(p, { names }), [
    "call lookup#1",
    "call bpf_rcu_read_lock#777",
    "r1 = map[events]",
    "r2 = map[events][0]+8",
    "call bpf_map_update_elem#2",
    "exit",
  ]);
  assert.deepEqual(disassemble(p, { style: "llvm", names }).slice(0, 2), ["call lookup", "call bpf_rcu_read_lock#777"]);
});

test("slots that are not valid instructions print as .insn", () => {
  const p: Insn[] = [
    { code: 0xff, dst: 1, src: 2, off: -3, imm: 4 },
    { code: 0x18, dst: 1, src: 0, off: 0, imm: 1 },
  ];
  assert.deepEqual(disassemble(p), [".insn 0xff, 1, 2, -3, 4", ".insn 0x18, 1, 0, 0, 1"]);
  assert.deepEqual(disassemble([{ code: 0x07, dst: 11, src: 0, off: 0, imm: 1 }], { style: "llvm" }), [".insn 0x07, 11, 0, 0, 1"]);
});
