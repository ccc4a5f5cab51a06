// Unit tests for tools/mallocstacks.ts: malloc() bytes and calls summed by the calling user stack.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

test("mallocstacks: bytes and calls add up per stack and process; another stack counts apart", async () => {
  const sim = await simulate("tools/mallocstacks.ts");
  const parse = [0x40_1000n, 0x40_2000n];
  sim.uprobe("libc.so.6:malloc", { args: [100], pid: 20, stacks: { user: parse } });
  sim.uprobe("libc.so.6:malloc", { args: [28], pid: 20, stacks: { user: parse } });
  sim.uprobe("libc.so.6:malloc", { args: [4096], pid: 20, stacks: { user: [0x40_3000n] } });
  sim.uprobe("libc.so.6:malloc", { args: [1], pid: 21, stacks: { user: parse } }); // the same addresses in another process
  const bytes = [...sim.map("bytes").toMap()].map(([stack, n]) => [Number(BigInt(stack as bigint) >> 32n), sim.ustack(stack as bigint), n]);
  assert.deepEqual(bytes.sort((a, b) => Number(a[2]) - Number(b[2])), [[21, parse, 1n], [20, parse, 128n], [20, [0x40_3000n], 4096n]]);
  assert.deepEqual([...sim.map("calls").toMap().values()].sort(), [1n, 1n, 2n]);
});

test("mallocstacks: with a target (tsbpf run -c/-p) the uprobe is attached to its process alone; its threads count, other processes' calls do not", async () => {
  const sim = await simulate("tools/mallocstacks.ts", { targetPid: 20 });
  const stacks = { user: [0x40_1000n] };
  sim.uprobe("libc.so.6:malloc", { args: [100], pid: 20, stacks });
  sim.uprobe("libc.so.6:malloc", { args: [50], pid: 23, tgid: 20 }); // another thread of the target
  assert.deepEqual(sim.uprobe("libc.so.6:malloc", { args: [7], pid: 21 }).runs, [], "another process: the probe does not fire");
  assert.deepEqual(sim.map("bytes").entries().map(([stack, n]) => [Number(BigInt(stack as bigint) >> 32n), n]), [[20, 150n]]);
});
