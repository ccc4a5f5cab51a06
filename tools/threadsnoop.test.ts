// Unit tests for tools/threadsnoop.ts: pthread_create() calls with the start routine and the caller's user stack.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

test("threadsnoop: a record per pthread_create() with the start routine (usym(): its address and process) and the creating stack's innermost 8 frames", async () => {
  const sim = await simulate("tools/threadsnoop.ts");
  const user = Array.from({ length: 10 }, (_, i) => 0x40_1000n + BigInt(i) * 0x10n);
  sim.kernel.setTime(5_000_000_000n);
  sim.uprobe("libc.so.6:pthread_create", { args: [0x7ff0_0000, 0, 0x40_2222, 0], pid: 60, comm: "server", stacks: { user } });
  const [t] = sim.events<{ time: number; pid: number; comm: string; routine: { address: number; pid: number }; stack: bigint }>("threads");
  assert.deepEqual({ ...t!, stack: undefined }, { time: 5_000_000_000, pid: 60, comm: "server", routine: { address: 0x40_2222, pid: 60 }, stack: undefined });
  // A UserStack is the stack's id in the low half and the process in the high half.
  assert.equal(BigInt(t!.stack) >> 32n, 60n);
  assert.deepEqual(sim.ustack(t!.stack), user.slice(0, 8));
});
