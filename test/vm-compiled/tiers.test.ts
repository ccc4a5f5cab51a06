// selectTier: each choice gives its tier; "auto" moves a hot program to compiled code with unchanged results.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../../compiler/isa/index.js";
import { Memory } from "../../runtime/vm/memory.js";
import { prepare } from "../../runtime/vm/program.js";
import { AUTO_BASE, AUTO_PER_SLOT, selectTier } from "../../runtime/vm/tiers.js";
import { interpreterTier } from "../../runtime/vm/vm.js";
import { isCompiled } from "../../runtime/vm/compiled/index.js";
import type { HelperFn, VmEnv } from "../../runtime/vm/env.js";
import type { Insn } from "../../compiler/isa/insn.js";
import { VmFault, type RunOptions } from "../../runtime/vm/vm.js";

test("selectTier names", () => {
  assert.equal(selectTier("interpreter"), interpreterTier);
  assert.equal(selectTier("compiled").name, "compiled");
  assert.equal(selectTier("auto").name, "auto");
  assert.equal(selectTier().name, "auto");
});

test("auto compiles a program once it is hot, with identical results", () => {
  const insns = assemble("r0 = 0\nr1 = 0\nl: r0 += r1\nr1 += 1\nif r1 < 1000 goto l\nexit");
  const program = prepare(insns, { memory: new Memory(), helpers: new Map() });
  const auto = selectTier("auto");
  const first = auto.run(program);
  assert.equal(isCompiled(program), false, "one run is not hot");
  const runs = Math.ceil((AUTO_BASE + AUTO_PER_SLOT * program.length) / first.instructions) + 1;
  for (let k = 0; k < runs; k++) assert.deepEqual(auto.run(program), first);
  assert.equal(isCompiled(program), true);
  assert.deepEqual(auto.run(program), first);
});

test("a frame stack reads as zeros in every run, whatever wrote it in the runs before", () => {
  // Each writer leaves bytes on a frame; the reader, run next in the same address space, reads the
  // same bytes without writing them first (the verifier would refuse it, the VM runs it) and must
  // see zeros on every tier, as the interpreter does.
  const memory = new Memory();
  const poke: HelperFn = (ctx) => {
    // A helper that writes 16 bytes through its pointer argument, as probe reads do.
    ctx.memory.write(ctx.arg(1), new Uint8Array(16).fill(0xab));
    return 0;
  };
  const env = { memory, helpers: new Map<number, HelperFn>([[1, poke]]) };
  const writers = {
    "a direct frame store": "r1 = 0x1122\n*(u64 *)(r10 -8) = r1\n*(u8 *)(r10 -300) = r1\nr0 = 0\nexit",
    "a store through a computed pointer": "r1 = r10\nr1 += -24\nr2 = 7\n*(u64 *)(r1 +0) = r2\nr0 = 0\nexit",
    "a store through a computed pointer, below what it read first": "r1 = r10\nr1 += -8\nr2 = *(u64 *)(r1 +0)\nr2 += 3\n*(u64 *)(r1 -56) = r2\nr0 = 0\nexit",
    "a helper": "r1 = r10\nr1 += -40\ncall 1\nr0 = 0\nexit",
    "an atomic add": "r1 = 0\n*(u64 *)(r10 -48) = r1\nr2 = 5\nlock *(u64 *)(r10 -48) += r2\nr0 = 0\nexit",
    "a callee's frame": "call f\nr0 = 0\nexit\nf: r1 = 9\n*(u64 *)(r10 -8) = r1\nr1 = r10\nr1 += -56\ncall 1\nr0 = 0\nexit",
  };
  const reader = assemble(
    [
      "r0 = *(u64 *)(r10 -8)",
      "r1 = *(u8 *)(r10 -300)\nr0 |= r1",
      "r1 = *(u64 *)(r10 -24)\nr0 |= r1",
      "r1 = *(u64 *)(r10 -40)\nr0 |= r1",
      "r1 = *(u64 *)(r10 -48)\nr0 |= r1",
      "r1 = *(u64 *)(r10 -56)\nr0 |= r1",
      "r1 = *(u64 *)(r10 -64)\nr0 |= r1",
      "r7 = r0\ncall f\nr0 |= r7\nexit",
      "f: r0 = *(u64 *)(r10 -8)\nr1 = *(u64 *)(r10 -56)\nr0 |= r1\nexit",
    ].join("\n"),
  );
  readsZeroAfter(env, writers, reader);
});

test("registers r0-r9 start at zero in every run, whatever the run before left in them", () => {
  // Each writer leaves values in registers (and in the register spills a helper call makes), ends
  // normally or faults, and may be given r2-r5; the reader, run next without arguments, ORs r0-r9
  // together without writing them (the verifier would refuse it, the VM runs it).
  const memory = new Memory();
  const env = { memory, helpers: new Map<number, HelperFn>([[1, () => 0x77]]) };
  const set = "r0 = 1\nr1 = 2\nr2 = 3\nr3 = 4\nr4 = 5\nr5 = 6\nr6 = 7\nr7 = 8\nr8 = 9\nr9 = 10\n";
  const writers = {
    "an exit": `${set}exit`,
    "a helper call": `${set}call 1\nr6 = r0\nexit`,
    "a fault": `${set}r1 = *(u64 *)(r1 +0)\nexit`,
    "a helper call, then a fault": `${set}call 1\nr6 = r0\nr1 = 16\nr1 = *(u64 *)(r1 +0)\nexit`,
    "a callee's exit": `call f\nexit\nf: ${set}exit`,
  };
  const reader = assemble(["r0 |= r1", "r0 |= r2", "r0 |= r3", "r0 |= r4", "r0 |= r5", "r0 |= r6", "r0 |= r7", "r0 |= r8", "r0 |= r9", "exit"].join("\n"));
  readsZeroAfter(env, writers, reader, { r2: 11n, r3: 12n, r4: 13n, r5: 14n });
});

/**
 * On every tier, runs each writer (with `options`; a fault ends it like any other run) and then the
 * reader, three times over, in one address space: the reader must give r0 = 0 every time.
 */
function readsZeroAfter(env: VmEnv, writers: Record<string, string>, reader: Insn[], options: RunOptions = {}): void {
  for (const choice of ["interpreter", "compiled", "auto"] as const) {
    const tier = selectTier(choice);
    const read = prepare(reader, env);
    for (const [what, source] of Object.entries(writers)) {
      const write = prepare(assemble(source), env);
      for (let k = 0; k < 3; k++) {
        try {
          tier.run(write, options);
        } catch (e) {
          if (!(e instanceof VmFault)) throw e;
        }
        assert.equal(tier.run(read).r0, 0n, `${choice}: after ${what} (round ${k})`);
      }
    }
  }
}
