// Unit tests for examples/cpu-stacks.ts: 99 Hz samples counted by task name, kernel stack and user stack.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

test("cpu-stacks: samples with the same name and stacks add up; another stack counts apart", async () => {
  const sim = await simulate("examples/cpu-stacks.ts");
  const busy = { kernel: [0xffff_ffff_8110_0000n, 0xffff_ffff_8120_0000n], user: [0x40_1000n, 0x40_2000n] };
  sim.profile({ cpu: 0, pid: 30, comm: "dd", stacks: busy });
  sim.profile({ cpu: 1, pid: 30, comm: "dd" });
  sim.profile({ cpu: 0, pid: 30, comm: "dd", stacks: { kernel: busy.kernel, user: [0x40_3000n] } });
  const counts = sim.map("samples").entries() as [{ comm: string; kernel: number | bigint; user: bigint }, bigint][];
  assert.deepEqual(counts.map(([k, n]) => [k.comm, Number(n)]).sort(), [["dd", 1], ["dd", 2]]);
  for (const [k] of counts) {
    assert.deepEqual(sim.kstack(k.kernel), busy.kernel);
    assert.equal(BigInt(k.user) >> 32n, 30n);
  }
  const users = counts.map(([k]) => sim.ustack(k.user)!);
  assert.deepEqual(users.sort((a, b) => a.length - b.length), [[0x40_3000n], busy.user]);
});

test("cpu-stacks: with a target (tsbpf run -c/-p), other processes' samples are left out", async () => {
  const sim = await simulate("examples/cpu-stacks.ts", { targetPid: 30 });
  sim.profile({ pid: 31, comm: "other", stacks: { kernel: [0xffff_ffff_8110_0000n] } });
  assert.deepEqual(sim.map("samples").entries(), []);
  sim.profile({ pid: 30, comm: "dd" });
  assert.equal(sim.map("samples").entries().length, 1);
});
