// Unit tests for tools/runqslower.ts: run queue waits from a wakeup (or a preemption) to the switch onto a CPU,
// printed when at least minUs long, with the task's name and id.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

const MS = 1_000_000n;

const runqslower = async (globals?: Record<string, number>) => {
  const sim = await simulate("tools/runqslower.ts", globals ? { globals } : {});
  const task = (pid: number, comm: string) => sim.kernel.alloc("task_struct", { pid, tgid: pid, comm });
  return { sim, worker: task(42, "worker"), shell: task(7, "bash"), idle: task(0, "swapper/0") };
};

test("runqslower: a wait of 10 ms or more prints with bcc's columns; a shorter one and the idle task do not", async () => {
  const { sim, worker, shell, idle } = await runqslower();
  sim.begin();
  sim.rawTracepoint("sched_wakeup", [worker]);
  sim.kernel.advance(25n * MS);
  sim.rawTracepoint("sched_switch", [0, idle, worker, 0]);
  sim.rawTracepoint("sched_wakeup_new", [shell]);
  sim.kernel.advance(3n * MS);
  sim.rawTracepoint("sched_switch", [0, worker, shell, 1]); // the worker sleeps (prev_state 1): not queued
  sim.kernel.advance(50n * MS);
  sim.rawTracepoint("sched_switch", [0, shell, worker, 1]); // no wakeup since: nothing to print
  assert.match(sim.output(), /^TIME {5}COMM {13}TID {11}LAT\(us\)\n\d\d:\d\d:\d\d worker {11}42 {14}25000\n$/);
  assert.equal(sim.map("queuedAt").toMap().size, 0);
});

test("runqslower: a preempted task waits again from the switch away; --set minUs lowers the threshold", async () => {
  const { sim, worker, shell } = await runqslower({ minUs: 1000 });
  sim.rawTracepoint("sched_wakeup", [shell]);
  sim.kernel.advance(2n * MS);
  sim.rawTracepoint("sched_switch", [1, worker, shell, 0]); // the worker is preempted while runnable
  sim.kernel.advance(1500_000n);
  sim.rawTracepoint("sched_switch", [1, shell, worker, 0]);
  assert.match(sim.output(), /^\d\d:\d\d:\d\d bash {13}7 {16}2000\n\d\d:\d\d:\d\d worker {11}42 {15}1500\n$/);
});
