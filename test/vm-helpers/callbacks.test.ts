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

/** bpf_for_each_map_elem(&m, cb, &acc, 0): the callback adds the value to acc and, with `del`, deletes the next key. */
const forEach = (del: boolean, write = false): string => `
    *(u64 *)(r10 - 8) = 0
    r1 = map[m]
    r2 = subprog[cb]
    r3 = r10
    r3 += -8
    r4 = 0
    call bpf_for_each_map_elem
    r1 = *(u64 *)(r10 - 8)
    r1 <<= 32
    r0 += r1
    exit
  cb:
    r6 = r1
    r7 = r2
    r0 = *(u64 *)(r3 + 0)
    r1 = *(u64 *)(r4 + 0)
    r1 += r0
    *(u64 *)(r4 + 0) = r1
    ${write ? "*(u32 *)(r7 + 0) = 1" : ""}
    ${del ? "r1 = *(u32 *)(r7 + 0)\n    r1 += 1\n    *(u32 *)(r10 - 4) = r1\n    r1 = r6\n    r2 = r10\n    r2 += -4\n    call bpf_map_delete_elem" : ""}
    r0 = 0
    exit
`;

const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const u64 = (n: number): Uint8Array => new Uint8Array(new BigUint64Array([BigInt(n)]).buffer);

for (const [name, tier] of Object.entries(TIERS)) {
  describe(`bpf_for_each_map_elem (${name} tier)`, () => {
    const runOn = (text: string, setup: (env: ReturnType<typeof createVmEnv>) => { fd: number }, cpu = 0) => {
      const kernel = new SimKernel({ numCpus: 4, cpu });
      const env = createVmEnv({ kernel });
      const m = setup(env);
      return tier.run(tier.load(assemble(text, { maps: { m: m.fd } }), env));
    };

    test("visits a per-CPU array's values of the current CPU", () => {
      const r = runOn(forEach(false), (env) => {
        const m = env.maps.percpuArray({ name: "m", valueSize: 8, maxEntries: 3 });
        for (let i = 0; i < 3; i++) m.update(i, [0, 1, 2, 3].map((c) => u64(10 * c + i)));
        return m;
      }, 2);
      assert.equal(r.r0, ((20n + 21n + 22n) << 32n) | 3n);
    });

    test("skips hash elements a callback deleted", () => {
      const r = runOn(forEach(true), (env) => {
        const m = env.maps.hash({ name: "m", keySize: 4, valueSize: 8, maxEntries: 8 });
        for (const k of [1, 2, 3, 4]) m.update(u32(k), u64(k * 100));
        return m;
      });
      // Key 1 deletes 2, key 3 deletes 4: two visited.
      assert.equal(r.r0, (400n << 32n) | 2n);
    });

    test("gives the key read-only, and refuses maps the kernel does not iterate", () => {
      const hash = (env: ReturnType<typeof createVmEnv>) => {
        const m = env.maps.hash({ name: "m", keySize: 4, valueSize: 8, maxEntries: 8 });
        m.update(u32(1), u64(1));
        return m;
      };
      assert.throws(() => runOn(forEach(false, true), hash), (e: unknown) => e instanceof VmError && /read-only|not writable/.test(e.message));
      assert.throws(
        () => runOn(forEach(false), (env) => env.maps.ringbuf({ name: "m", maxEntries: 4096 })),
        (e: unknown) => e instanceof VmError && /ringbuf map, which the kernel does not iterate/.test(e.message),
      );
    });
  });
}

describe("bpf_for_each_map_elem nested in its own callback", () => {
  // The outer callback walks the same array again, then reads its own key: each level has its own key copy.
  const text = `
      *(u64 *)(r10 - 8) = 0
      r1 = map[m]
      r2 = subprog[outer]
      r3 = r10
      r3 += -8
      r4 = 0
      call bpf_for_each_map_elem
      r0 = *(u64 *)(r10 - 8)
      exit
    outer:
      r6 = r2
      r7 = r4
      r2 = subprog[inner]
      r3 = 0
      r4 = 0
      call bpf_for_each_map_elem
      r1 = *(u32 *)(r6 + 0)
      r0 = *(u64 *)(r7 + 0)
      r0 *= 10
      r0 += r1
      *(u64 *)(r7 + 0) = r0
      r0 = 0
      exit
    inner:
      r0 = 0
      exit
  `;
  for (const [name, tier] of Object.entries(TIERS)) {
    test(`${name} tier: the outer callback still reads its own key`, () => {
      const env = createVmEnv({ kernel: new SimKernel() });
      const m = env.maps.array({ name: "m", valueSize: 8, maxEntries: 3 });
      assert.equal(tier.run(tier.load(assemble(text, { maps: { m: m.fd } }), env)).r0, 12n);
    });
  }
});
