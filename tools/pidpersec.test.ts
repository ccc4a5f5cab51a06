// Unit tests for tools/pidpersec.ts: forks counted, printed and taken off the count every second.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

test("pidpersec: each second prints the forks since the last and starts again from zero; the total keeps them all", async () => {
  const sim = await simulate("tools/pidpersec.ts", { tracepointFormats: tracepointFormats("sched/sched_process_fork") });
  const fork = (child: number) => sim.tracepoint("sched", "sched_process_fork", { parent_comm: "bash", parent_pid: 1, child_comm: "bash", child_pid: child });
  for (let i = 0; i < 3; i++) fork(100 + i);
  sim.interval({ ms: 1000 });
  sim.interval({ ms: 1000 });
  fork(200);
  sim.interval({ ms: 1000 });
  assert.match(sim.output(), /^\d\d:\d\d:\d\d 3 forks\/s\n\d\d:\d\d:\d\d 0 forks\/s\n\d\d:\d\d:\d\d 1 forks\/s\n$/);
  assert.deepEqual(sim.map("total").toArray(), [4n]);
});
