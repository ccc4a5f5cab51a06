// Unit tests for examples/profile.ts: a 99 Hz CPU sampler counting samples per task name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

test("profile: each sample counts one for the task it interrupted, by name", async () => {
  const sim = await simulate("examples/profile.ts");
  assert.deepEqual(sim.programs, [{ name: "sample", section: "perf_event" }]);
  sim.profile({ cpu: 0, pid: 10, comm: "make" });
  sim.profile({ cpu: 1, pid: 11, comm: "cc1" });
  sim.profile({ cpu: 0, pid: 10, comm: "make" });
  const r = sim.profile({ cpu: 1, pid: 0, comm: "swapper/1" });
  assert.equal(r.r0, 0n);
  assert.equal(r.runs[0]!.cpu, 1);
  assert.deepEqual(sim.map("samples").toMap(), new Map([["make", 2n], ["cc1", 1n], ["swapper/1", 1n]]));
});

test("profile: samples from two threads of one process add up under its name; a long name is cut to 15 bytes", async () => {
  const sim = await simulate("examples/profile.ts");
  sim.profile({ pid: 21, tgid: 20, comm: "a-very-long-task-name" });
  sim.profile({ pid: 22, tgid: 20, comm: "a-very-long-task-name" });
  assert.deepEqual(sim.map("samples").toMap(), new Map([["a-very-long-tas", 2n]]));
});

test("profile: the sampler is a profile:hz:99 probe; it has no interval probe to fire", async () => {
  const sim = await simulate("examples/profile.ts");
  assert.equal(sim.profile({ hz: 99 }).runs.length, 1);
  assert.throws(() => sim.profile({ hz: 49 }), /no profile:hz:49 probe in the object; its programs: sample \(perf_event\)/);
  assert.throws(() => sim.interval(), /no interval probe in the object/);
});
