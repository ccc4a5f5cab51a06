// Unit tests for tools/runqlen.ts: the running task's CFS run queue length, read through task_struct.se.cfs_rq, less
// the running task itself, sampled into a linear histogram (or one per CPU).
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

/** A task on a run queue holding `queued` tasks (itself among them, as the kernel counts it). */
const onQueue = async (globals?: Record<string, number>) => {
  const sim = await simulate("tools/runqlen.ts", { cpus: 2, ...(globals ? { globals } : {}) });
  const sample = (cpu: number, pid: number, queued: number) => {
    const rq = sim.kernel.alloc("cfs_rq", { nr_queued: queued });
    sim.kernel.setTask({ pid, comm: `t${pid}` });
    sim.kernel.currentTask = sim.kernel.alloc("task_struct", { pid, tgid: pid, se: { cfs_rq: rq } });
    sim.profile({ cpu, pid });
  };
  return { sim, sample };
};

test("runqlen: the tasks waiting behind the running one, in buckets of one; an empty queue (the idle task's) counts as 0", async () => {
  const { sim, sample } = await onQueue();
  sample(0, 10, 1); // alone on its queue
  sample(0, 11, 3); // two waiting
  sample(1, 12, 3);
  sample(1, 0, 0); // the idle task: nothing queued, nothing running in CFS
  sample(1, 13, 150); // past the histogram's end
  // Slot 0 counts values below 0, slot n + 1 the value n, the last slot 100 and more.
  const slots = sim.map("runqlen").toArray() as bigint[];
  assert.deepEqual(slots.slice(0, 4), [0n, 2n, 0n, 2n]);
  assert.equal(slots.at(-1), 1n);
  assert.equal(slots.reduce((a, b) => a + b), 5n);
  assert.equal(sim.map("byCpu").toMap().size, 0);
});

test("runqlen: --set perCpu=1 keeps one histogram per CPU", async () => {
  const { sim, sample } = await onQueue({ perCpu: 1 });
  sample(0, 10, 2);
  sample(1, 11, 4);
  sample(1, 12, 4);
  const counts = new Map(sim.map("byCpu").entries().map(([k, n]) => {
    const { key, slot } = k as { key: number; slot: number };
    return [`cpu ${key} slot ${slot}`, n];
  }));
  assert.deepEqual(counts, new Map([["cpu 0 slot 2", 1n], ["cpu 1 slot 4", 2n]]));
  assert.equal((sim.map("runqlen").toArray() as bigint[]).reduce((a, b) => a + b), 0n);
});
