// Callbacks in both VM tiers: LDDW of a function's address and bpf_loop calling it in a frame of its own, with the
// callbacks' instructions counted in the run's budget.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assemble } from "../../compiler/isa/index.js";
import { SimKernel } from "../../runtime/vm/kernel.js";
import { createVmEnv } from "../../runtime/vm/helpers/index.js";
import { BudgetExceeded, Vm, VmError } from "../../runtime/vm/vm.js";
import { selectTier } from "../../runtime/vm/tiers.js";
import { funcAddress } from "../../runtime/vm/program.js";

const TIERS = { interpreter: new Vm({ tier: selectTier("interpreter") }), compiled: new Vm({ tier: selectTier("compiled") }) };

function run(tier: Vm, text: string, budget?: number) {
  const env = createVmEnv({ kernel: new SimKernel() });
  return tier.run(tier.load(assemble(text), env), budget === undefined ? {} : { budget });
}

/** bpf_loop(nr, cb, &acc, 0): the callback adds index + 1 to acc and stops (returns 1) at index `stop`; r0 = acc << 32 | result. */
const sum = (nr: number, stop: number, flags = 0): string => `
    r6 = 11
    r7 = 12
    r8 = 13
    r9 = 14
    *(u64 *)(r10 - 8) = 0
    r1 = ${nr}
    r2 = subprog[cb]
    r3 = r10
    r3 += -8
    r4 = ${flags}
    call bpf_loop
    r1 = *(u64 *)(r10 - 8)
    r1 <<= 32
    r0 += r1
    ; r6-r9 as set, or r0's top byte is not 0x00
    r6 += r7
    r6 += r8
    r6 += r9
    if r6 == 50 goto +1
    r0 = -1
    exit
  cb:
    r6 = r1
    r7 = r2
    r8 = -1
    r9 = -1
    ; the callback's own stack: the caller's acc at r10 - 8 is not this frame's
    *(u64 *)(r10 - 8) = -1
    r0 = *(u64 *)(r7 + 0)
    r0 += r6
    r0 += 1
    *(u64 *)(r7 + 0) = r0
    r0 = 0
    if r6 != ${stop} goto +1
    r0 = 1
    exit
`;

for (const [name, tier] of Object.entries(TIERS)) {
  describe(`bpf_loop (${name} tier)`, () => {
    test("calls the callback nr times with (index, ctx), preserving the caller's r6-r9 and stack", () => {
      for (const [nr, acc] of [
        [0, 0],
        [1, 1],
        [10, 55],
      ] as const) {
        const r = run(tier, sum(nr, -1));
        assert.equal(r.r0, (BigInt(acc) << 32n) | BigInt(nr), `nr ${nr}`);
      }
    });

    test("stops when the callback returns 1 and gives the iterations done", () => {
      assert.equal(run(tier, sum(10, 3)).r0, (10n << 32n) | 4n);
      assert.equal(run(tier, sum(10, 0)).r0, (1n << 32n) | 1n);
    });

    test("refuses more than 1 << 23 iterations and flags other than 0", () => {
      // -E2BIG as the kernel's inlined loop sets it (a 32-bit move), -EINVAL as the helper returns it.
      assert.equal(run(tier, sum(2 ** 23 + 1, -1)).r0, 0xfffffff9n);
      assert.equal(BigInt.asIntN(32, run(tier, sum(3, -1, 1)).r0), -22n);
    });

    test("counts the callbacks' instructions: a runaway loop exhausts the budget where the other tier's does", () => {
      const ok = run(tier, sum(10, -1));
      // 19 instructions of the caller (LDDW counts once) and 12 of each callback.
      assert.equal(ok.instructions, 19 + 10 * 12);
      const budget = 1000;
      assert.throws(
        () => run(tier, sum(2 ** 23, -1), budget),
        (e: unknown) => e instanceof BudgetExceeded && e.budget === budget && e.message === `instruction budget of ${budget} exhausted at instruction ${e.pc}`,
      );
      const pcs = Object.values(TIERS).map((t) => {
        try {
          run(t, sum(2 ** 23, -1), budget);
        } catch (e) {
          return (e as BudgetExceeded).pc;
        }
        return -1;
      });
      assert.equal(pcs[0], pcs[1]);
    });

    test("nested callbacks beyond 8 frames are refused as deep local calls are", () => {
      // The callback calls bpf_loop with itself: every level is a frame more.
      const text = `
        r1 = 1
        r2 = subprog[cb]
        r3 = 0
        r4 = 0
        call bpf_loop
        exit
      cb:
        r1 = 1
        r2 = subprog[cb]
        r3 = 0
        r4 = 0
        call bpf_loop
        r0 = 0
        exit
      `;
      assert.throws(() => run(tier, text), (e: unknown) => e instanceof VmError && /call stack of 9 frames is too deep/.test(e.message));
    });

    test("an address that is not a function of the program is a fault at the call", () => {
      const text = `
        r1 = 1
        r2 = ${funcAddress(3)} ll
        r3 = 0
        r4 = 0
        call bpf_loop
        exit
      `;
      assert.throws(() => run(tier, text), (e: unknown) => e instanceof VmError && e.pc === 5 && /is not a function of the program/.test(e.message));
    });
  });
}
