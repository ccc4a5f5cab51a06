// Unit tests for tools/syscount.ts: syscalls counted by number and by task name, narrowed to a target process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
// The tracepoint's format file as Linux 6.18 writes it, so the test runs without tracefs.
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const syscount = (targetPid = 0) => simulate("tools/syscount.ts", { tracepointFormats: tracepointFormats("raw_syscalls/sys_enter"), targetPid });
const enter = (sim: Awaited<ReturnType<typeof syscount>>, id: number, pid: number, comm: string) =>
  sim.tracepoint("raw_syscalls", "sys_enter", { id, args: [0, 0, 0, 0, 0, 0] }, { pid, comm });

test("syscount: every call counts under its number and under the caller's name", async () => {
  const sim = await syscount();
  enter(sim, 0, 10, "cat"); // read
  enter(sim, 0, 10, "cat");
  enter(sim, 1, 10, "cat"); // write
  enter(sim, 1, 11, "bash");
  assert.deepEqual(sim.map("syscalls").toMap(), new Map([[0n, 2n], [1n, 2n]]));
  assert.deepEqual(sim.map("processes").toMap(), new Map([["cat", 3n], ["bash", 1n]]));
});

test("syscount: with a target (tsbpf run -c/-p), only the target's calls count, its threads' included", async () => {
  const sim = await syscount(10);
  enter(sim, 0, 11, "bash");
  assert.equal(sim.map("syscalls").toMap().size, 0);
  sim.tracepoint("raw_syscalls", "sys_enter", { id: 202, args: [0, 0, 0, 0, 0, 0] }, { pid: 12, tgid: 10, comm: "worker" });
  assert.deepEqual(sim.map("syscalls").toMap(), new Map([[202n, 1n]]));
  assert.deepEqual(sim.map("processes").toMap(), new Map([["worker", 1n]]));
});
