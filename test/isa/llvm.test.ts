// Pins the llvm-style disassembly against llvm-objdump-19.
// Takes every instruction form (emitted as raw `.quad`s and assembled by clang-19) and small C
// programs compiled by clang-19 for BPF; compares each `llvm-objdump-19 -d --mcpu=v4` line,
// index and raw bytes included, with `disassemble(..., { style: "llvm", indices: true })`.
//
// Known, deliberate differences (objdump's text is lossy there, ours reads back exactly):
// a local call prints `call +0x2` (objdump `call 0x2`), a kfunc call prints
// `call kernel-function#ID` (objdump `call ID`), LD_IND keeps its immediate (objdump drops it),
// `ld_pseudo` shows the upper half when set, and we print no `<sym+0x..>` after jump targets.
// Load-acquire and store-release (LLVM 21) are left out: objdump 19 misreads them as `lock ... +=`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Class, Mode, Op, PseudoCall, assemble, isLoadStoreAtomic, checkProgram, decode, disassemble, encode, type Insn } from "../../compiler/isa/index.js";
import { everyForm } from "./forms.js";

const have = (tool: string): boolean => spawnSync(tool, ["--version"], { stdio: "ignore" }).status === 0;
const skipObjdump = have("llvm-objdump-19") ? false : "llvm-objdump-19 is not installed";
const skipClang = skipObjdump || (have("clang-19") ? false : "clang-19 is not installed");

interface ObjLine {
  index: number;
  bytes: Uint8Array;
  line: string;
}

/** Instruction lines of `llvm-objdump-19 -d`, without the `<sym+0x..>` jump annotations. */
function objdump(object: string): ObjLine[] {
  const out = execFileSync("llvm-objdump-19", ["-d", "--mcpu=v4", object], { encoding: "utf8" });
  const lines: ObjLine[] = [];
  for (const raw of out.split("\n")) {
    const m = /^\s*(\d+):\t((?:[0-9a-f]{2} )*[0-9a-f]{2})\t/.exec(raw);
    if (!m) continue;
    const bytes = Uint8Array.from(m[2]!.split(" ").map((b) => parseInt(b, 16)));
    lines.push({ index: Number(m[1]), bytes, line: raw.replace(/ <[^<>\s]*>$/, "") });
  }
  return lines;
}

/** What objdump prints where our text deliberately differs (see the header). */
function asObjdumpPrints(line: string, x: Insn): string {
  if (x.code === Op.CALL && x.src === PseudoCall.LOCAL) return line.replace(/call \+0x/, "call 0x");
  if (x.code === Op.CALL && x.src === PseudoCall.KFUNC) return line.replace(/call kernel-function#.*$/, `call 0x${(x.imm >>> 0).toString(16)}`);
  if ((x.code & 0xe7) === (Mode.IND | 0)) return line.replace(/skb\[(r\d+) \+ -?0x[0-9a-f]+\]/, "skb[$1]");
  if (x.code === Op.LDDW && x.src !== 0) return line.replace(/(ld_pseudo\tr\d+, 0x\d, )0x[0-9a-f]+$/, `$10x${(x.imm >>> 0).toString(16)}`);
  return line;
}

function withTmp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-isa-"));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function compare(insns: Insn[], lines: ObjLine[], adjust: boolean): void {
  const ours = disassemble(insns, { style: "llvm", indices: true });
  assert.equal(ours.length, lines.length, "number of instructions");
  let slot = 0;
  ours.forEach((line, k) => {
    const x = insns[slot]!;
    assert.equal(lines[k]!.index, slot, `slot of line ${k}`);
    assert.equal(adjust ? asObjdumpPrints(line, x) : line, lines[k]!.line);
    // Our own line reads back to the same slots.
    const width = x.code === Op.LDDW ? 2 : 1;
    assert.deepEqual(assemble(line, { style: "llvm", check: false }), insns.slice(slot, slot + width), line);
    slot += width;
  });
}

test("llvm-objdump-19 prints every instruction form like disassemble (llvm style)", { skip: skipClang }, () => {
  const insns = everyForm()
    .flat()
    .filter((x) => (x.code & 0xe7) !== (Class.STX | Mode.ATOMIC) || !isLoadStoreAtomic(x.imm));
  withTmp((dir) => {
    const bytes = encode(insns);
    const view = new DataView(bytes.buffer);
    const quads: string[] = [];
    for (let at = 0; at < bytes.length; at += 8) quads.push(`\t.quad 0x${view.getBigUint64(at, true).toString(16).padStart(16, "0")}`);
    writeFileSync(join(dir, "forms.s"), `\t.text\n\t.globl forms\nforms:\n${quads.join("\n")}\n`);
    execFileSync("clang-19", ["-target", "bpf", "-c", join(dir, "forms.s"), "-o", join(dir, "forms.o")]);
    const lines = objdump(join(dir, "forms.o"));
    compare(insns, lines, true);
  });
});

const C_SOURCE = `
typedef unsigned long long u64; typedef long long s64; typedef unsigned int u32; typedef int s32;
typedef short s16; typedef signed char s8;
struct { int type; int max_entries; } counts __attribute__((section(".maps")));
static long (*lookup)(void *, const void *) = (void *)1;
static u64 (*ktime)(void) = (void *)5;
__attribute__((noinline)) static int twice(int x) { return x * 2 + 1; }
volatile u64 sink;
__attribute__((section("socket"))) int prog(u64 *ctx) {
  u64 a = ctx[0], b = ctx[1];
  s64 sa = (s64)a; s32 sb = (s32)b; u32 w = (u32)a;
  if (a > 3) a += b;
  if ((s64)b < -5) b ^= 7;
  if ((u32)a == (u32)b) w = w / 5;
  a = a / b; sa = sa / (s64)b; sa = sa % 7; sb = sb / (s32)w;
  a <<= b; a >>= 3; sa >>= 9; w = -w;
  s64 x = (s8)a, y = (s16)b, z = (s32)a;
  s64 m1 = *(s16 *)(ctx + 2), m2 = *(s8 *)ctx;
  u64 bs = __builtin_bswap64(a) + __builtin_bswap16(b) + __builtin_bswap32(w);
  __sync_fetch_and_add(ctx, 1);
  u64 old = __sync_fetch_and_add(ctx + 1, b);
  u64 xc = __sync_lock_test_and_set(ctx + 2, a);
  u64 cx = __sync_val_compare_and_swap(ctx + 3, a, b);
  *(unsigned short *)(ctx + 4) = 5; *(unsigned char *)(ctx + 5) = b;
  sink = 0x123456789abcdefULL;
  long p = lookup(&counts, &a);
  for (int i = 0; i < (int)(b & 15); i++) sink += i * a;
  return twice(a + b + sa + sb + w + x + y + z + m1 + m2 + bs + old + xc + cx + p + ktime());
}
`;

test("llvm-objdump-19 output of clang-19 -mcpu=v4 code matches disassemble (llvm style)", { skip: skipClang }, () => {
  withTmp((dir) => {
    writeFileSync(join(dir, "prog.c"), C_SOURCE);
    execFileSync("clang-19", ["-O2", "-target", "bpf", "-mcpu=v4", "-c", join(dir, "prog.c"), "-o", join(dir, "prog.o")]);
    const lines = objdump(join(dir, "prog.o"));
    // Sections restart at slot 0; split where the index goes back to 0.
    const sections: ObjLine[][] = [];
    for (const l of lines) {
      if (l.index === 0) sections.push([]);
      sections.at(-1)!.push(l);
    }
    assert.ok(sections.length >= 2, "a .text and a socket section");
    let total = 0;
    for (const sec of sections) {
      const bytes = new Uint8Array(sec.reduce((n, l) => n + l.bytes.length, 0));
      let at = 0;
      for (const l of sec) {
        bytes.set(l.bytes, at);
        at += l.bytes.length;
      }
      const insns = decode(bytes, { check: false });
      // Calls in an object file still carry relocation placeholders (call -1), which checkProgram rejects.
      assert.doesNotThrow(() => checkProgram(insns.map((x) => (x.code === Op.CALL && x.src === PseudoCall.LOCAL ? { ...x, imm: 0 } : x))));
      compare(insns, sec, false);
      total += sec.length;
    }
    assert.ok(total > 40, `compiled program has ${total} instructions`);
  });
});
