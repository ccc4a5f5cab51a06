// Unit tests for examples/write-stacks.ts: write(2)'s callers counted by user stack.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
// The tracepoint's format file as Linux 6.18 writes it, so the test runs without tracefs.
import { tracepointFormats } from "../test/support/fixture-kernel.js";

test("write-stacks: counts each user stack that writes, with the process beside the stack's id", async () => {
  const sim = await simulate("examples/write-stacks.ts", { tracepointFormats: tracepointFormats("syscalls/sys_enter_write") });
  const a = { user: [0x40_1000n, 0x40_2000n, 0x40_3000n] };
  const b = { user: [0x40_1000n, 0x40_5000n] };
  sim.tracepoint("syscalls", "sys_enter_write", { fd: 1, count: 3 }, { pid: 42, stacks: a });
  sim.tracepoint("syscalls", "sys_enter_write", { fd: 1, count: 3 }, { pid: 42 });
  sim.tracepoint("syscalls", "sys_enter_write", { fd: 2, count: 9 }, { pid: 42, stacks: b });
  const counts = sim.map("writes").entries().map(([key, n]) => [BigInt(key as bigint) >> 32n, sim.ustack(key as bigint), Number(n)]);
  assert.deepEqual(counts.sort((x, y) => (x[2] as number) - (y[2] as number)), [[42n, b.user, 1], [42n, a.user, 2]]);
});

test("write-stacks: with a target (tsbpf run -c/-p), other processes' writes are not counted", async () => {
  const sim = await simulate("examples/write-stacks.ts", { targetPid: 42, tracepointFormats: tracepointFormats("syscalls/sys_enter_write") });
  sim.tracepoint("syscalls", "sys_enter_write", { fd: 1, count: 3 }, { pid: 7, stacks: { user: [0x40_1000n] } });
  assert.deepEqual(sim.map("writes").entries(), []);
  sim.tracepoint("syscalls", "sys_enter_write", { fd: 1, count: 3 }, { pid: 42 });
  assert.equal(sim.map("writes").entries().length, 1);
});
