// Unit tests for examples/runqlat.ts: run queue latency kept per task name in a keyed Histogram, whose map
// counts `{ key, slot }` pairs (slot k holds waits in [2^(k-1), 2^k) microseconds).
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
// The tracepoints' format files as Linux 6.18 writes them, so the test runs without tracefs.
import { tracepointFormat } from "../test/support/fixture-kernel.js";

const runqlat = async () => {
  const names = ["sched_wakeup", "sched_wakeup_new", "sched_switch"];
  const sim = await simulate("examples/runqlat.ts", { tracepointFormats: Object.fromEntries(names.map((n) => [`sched/${n}`, tracepointFormat("sched", n)!])) });
  const wakeup = (pid: number, comm: string) => sim.tracepoint("sched", "sched_wakeup", { pid, comm, prio: 120, target_cpu: 0 });
  const switchTo = (next_pid: number, prev: { pid: number; comm: string; state: number } = { pid: 0, comm: "swapper/0", state: 0 }) =>
    sim.tracepoint("sched", "sched_switch", { prev_pid: prev.pid, prev_comm: prev.comm, prev_state: prev.state, next_pid, next_comm: "" });
  /** Each task name's non-empty slots. */
  const histograms = () => {
    const out: Record<string, Record<number, bigint>> = {};
    for (const [{ key, slot }, n] of sim.map("usecs").toMap() as Map<{ key: string; slot: number }, bigint>) (out[key] ??= {})[slot] = n;
    return out;
  };
  return { sim, wakeup, switchTo, histograms };
};

test("runqlat: the wait from wakeup to switch-in counts under the woken task's name", async () => {
  const { sim, wakeup, switchTo, histograms } = await runqlat();
  wakeup(100, "bash");
  wakeup(200, "make");
  sim.kernel.advance(3_000);
  switchTo(100); // 3 us: slot 2, [2, 4)
  sim.kernel.advance(47_000);
  switchTo(200); // 50 us: slot 6, [32, 64)
  wakeup(101, "bash");
  sim.kernel.advance(1_000);
  switchTo(101); // 1 us: slot 1
  assert.deepEqual(histograms(), { bash: { 1: 1n, 2: 1n }, make: { 6: 1n } });
  assert.equal(sim.map("queued").toMap().size, 0, "a task leaves the queue map when it runs");
});

test("runqlat: a preempted task waits again from the switch away; a sleeping one does not", async () => {
  const { sim, wakeup, switchTo, histograms } = await runqlat();
  wakeup(300, "cc1");
  switchTo(300);
  // Preempted (R+: no state bits, 0x100 set): back on the queue at once.
  switchTo(301, { pid: 300, comm: "cc1", state: 0x100 });
  // Going to sleep (S): not queued.
  switchTo(300, { pid: 302, comm: "sleepy", state: 1 });
  sim.kernel.advance(10_000);
  switchTo(302);
  assert.deepEqual(histograms(), { cc1: { 0: 2n } });
  assert.deepEqual([...sim.map("queued").toMap().keys()], []);
});
