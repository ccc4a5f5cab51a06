// Unit tests for tools/wakeuptime.ts: time asleep, from the sleeper's switch away to its wakeup, summed by the waker's
// name and kernel stack and the sleeper's name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

const MS = 1_000_000n;
const PIPE_WRITE = [0xffff_ffff_8120_0000n, 0xffff_ffff_8121_0000n];
const TIMER = [0xffff_ffff_8130_0000n];

const wakeuptime = async (globals?: Record<string, number>) => {
  const sim = await simulate("tools/wakeuptime.ts", globals ? { globals } : {});
  const task = (pid: number, comm: string) => sim.kernel.alloc("task_struct", { pid, tgid: pid, comm });
  const slept = () =>
    (sim.map("slept").entries() as [{ waker: string; stack: number; target: string }, bigint][])
      .map(([k, us]) => [k.waker, sim.kstack(k.stack), k.target, us] as const)
      .sort((a, b) => Number(a[3] - b[3]));
  return { sim, task, slept, idle: task(0, "swapper/0") };
};

test("wakeuptime: a sleep counts under the waker's name and stack and the sleeper's name; a preempted task is not asleep", async () => {
  const { sim, task, slept, idle } = await wakeuptime();
  const reader = task(42, "cat");
  const writer = task(43, "bash");
  sim.rawTracepoint("sched_switch", [0, reader, writer, 1], { pid: 42, comm: "cat" }); // cat sleeps (TASK_INTERRUPTIBLE)
  sim.kernel.advance(3n * MS);
  sim.rawTracepoint("sched_waking", [reader], { pid: 43, comm: "bash", stacks: { kernel: PIPE_WRITE } }); // 3 ms
  sim.rawTracepoint("sched_switch", [0, writer, idle, 0], { pid: 43, comm: "bash" }); // bash preempted: still runnable
  sim.rawTracepoint("sched_switch", [0, reader, idle, 1], { pid: 42, comm: "cat" });
  sim.kernel.advance(5n * MS);
  sim.rawTracepoint("sched_waking", [reader], { pid: 43, comm: "bash", stacks: { kernel: PIPE_WRITE } }); // 5 ms more
  sim.rawTracepoint("sched_waking", [writer], { pid: 0, comm: "swapper/0", stacks: { kernel: TIMER } }); // never asleep
  assert.deepEqual(slept(), [["bash", PIPE_WRITE, "cat", 8000n]]);
  assert.equal(sim.map("asleep").toMap().size, 0);
});

test("wakeuptime: --set minUs leaves out shorter sleeps; each waker's stack keeps its own sum", async () => {
  const { sim, task, slept } = await wakeuptime({ minUs: 1000 });
  const t = task(50, "worker");
  const nap = (ns: bigint, waker: string, stack: bigint[]) => {
    sim.rawTracepoint("sched_switch", [0, t, t, 1], { pid: 50, comm: "worker" });
    sim.kernel.advance(ns);
    sim.rawTracepoint("sched_waking", [t], { pid: 0, comm: waker, stacks: { kernel: stack } });
  };
  nap(500_000n, "swapper/0", TIMER); // 500 us: left out
  nap(2n * MS, "swapper/0", TIMER);
  nap(7n * MS, "bash", PIPE_WRITE);
  assert.deepEqual(slept(), [["swapper/0", TIMER, "worker", 2000n], ["bash", PIPE_WRITE, "worker", 7000n]]);
});
