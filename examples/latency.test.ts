// Unit tests for examples/latency.ts: unlinkat(2) latency from the syscall's entry and exit
// tracepoints, with the entry time kept per thread in a hash map of 10,240 entries.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
// The tracepoints' format files as Linux 6.x writes them, so the test runs without tracefs.
import { UNLINKAT_EXIT_FORMAT, UNLINKAT_FORMAT } from "../test/sim/support.js";

const latency = async () => {
  const sim = await simulate("examples/latency.ts", {
    tracepointFormats: { "syscalls/sys_enter_unlinkat": UNLINKAT_FORMAT, "syscalls/sys_exit_unlinkat": UNLINKAT_EXIT_FORMAT },
  });
  const enter = (tid: number) => sim.tracepoint("syscalls", "sys_enter_unlinkat", {}, { pid: tid, tgid: 500 });
  const exit = (tid: number) => sim.tracepoint("syscalls", "sys_exit_unlinkat", { ret: 0 }, { pid: tid, tgid: 500 });
  /** The histogram's non-empty log2 slots: slot k counts latencies in [2^(k-1), 2^k) ns. */
  const slots = () => Object.fromEntries(sim.map("latency").toArray().flatMap((n, k) => (n ? [[k, n]] : [])));
  return { sim, enter, exit, slots };
};

test("latency: each thread's exit is timed from its own entry", async () => {
  const { sim, enter, exit, slots } = await latency();
  enter(101);
  sim.kernel.advance(100);
  enter(102);
  sim.kernel.advance(100);
  exit(102); // 100 ns: slot 7, [64, 128)
  sim.kernel.advance(4_800);
  exit(101); // 5000 ns: slot 13, [4096, 8192)
  assert.deepEqual(slots(), { 7: 1n, 13: 1n });
  assert.deepEqual(sim.map("calls").toMap(), new Map([[0, 2n], [1, 2n]]), "calls seen, calls timed");
  assert.equal(sim.map("start").toMap().size, 0, "an exit deletes its thread's entry time");
});

test("latency: an exit without its entry (the lookup gives null) is not timed", async () => {
  const { sim, exit, slots } = await latency();
  assert.equal(exit(101).r0, 0n);
  assert.deepEqual(slots(), {});
  assert.deepEqual(sim.map("calls").toMap(), new Map([[0, 0n], [1, 0n]]));
});

test("latency: with 10,240 threads inside unlinkat the start map is full, so one more is not timed", async () => {
  const { sim, enter, exit, slots } = await latency();
  const start = sim.map("start");
  // The threads already in flight, written from user space (as quick as firing their entries).
  for (let tid = 1; tid <= 10_240; tid++) start.set(tid, sim.kernel.time);
  assert.throws(() => start.set(20_000, 0n), /E2BIG/, "a full hash map refuses new keys, as the kernel's does");
  assert.equal(enter(20_000).r0, 0n, "the failed update does not stop the probe");
  assert.equal(start.get(20_000), undefined);
  sim.kernel.advance(1_500);
  exit(20_000);
  exit(1); // 1500 ns: slot 11, [1024, 2048)
  assert.deepEqual(slots(), { 11: 1n });
  // Thread 1's exit freed a slot: the next entry is kept.
  enter(20_001);
  assert.equal(start.get(20_001), sim.kernel.time);
  assert.deepEqual(sim.map("calls").toMap(), new Map([[0, 2n], [1, 1n]]));
});
