// Unit tests for tools/cpuwalk.ts: samples of busy CPUs in a linear histogram, one bucket per CPU.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

test("cpuwalk: a busy CPU's samples land in its own bucket; the idle task's are left out", async () => {
  const sim = await simulate("tools/cpuwalk.ts", { cpus: 4 });
  sim.profile({ cpu: 0, pid: 10, comm: "make" });
  sim.profile({ cpu: 3, pid: 11, comm: "cc1" });
  sim.profile({ cpu: 3, pid: 11, comm: "cc1" });
  sim.profile({ cpu: 2, pid: 0, comm: "swapper/2" });
  // Slot 0 counts values below 0; CPU n is slot n + 1.
  const slots = sim.map("cpus").toArray() as bigint[];
  assert.deepEqual(slots.slice(0, 5), [0n, 1n, 0n, 0n, 2n]);
  assert.equal(slots.reduce((a, b) => a + b), 3n);
});
