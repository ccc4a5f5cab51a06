// Unit tests for examples/read-sizes.ts: read(2)'s results per task name as bpftrace's stats() and max().
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
// The tracepoint's format file as Linux 6.18 writes it, so the test runs without tracefs.
import { tracepointFormats } from "../test/support/fixture-kernel.js";

test("read-sizes: each task's reads as count, average and total, and its largest, over every CPU", async () => {
  const sim = await simulate("examples/read-sizes.ts", { tracepointFormats: tracepointFormats("syscalls/sys_exit_read") });
  sim.tracepoint("syscalls", "sys_exit_read", { ret: 4096 }, { comm: "cat", cpu: 0 });
  sim.tracepoint("syscalls", "sys_exit_read", { ret: 131072 }, { comm: "cat", cpu: 1 });
  sim.tracepoint("syscalls", "sys_exit_read", { ret: 0 }, { comm: "cat", cpu: 1 });
  sim.tracepoint("syscalls", "sys_exit_read", { ret: 7 }, { comm: "sh", cpu: 0 });
  // 135168 / 3 = 45056.
  assert.deepEqual(sim.map("bytes").toMap(), new Map([
    ["cat", { count: 3n, average: 45056n, total: 135168n }],
    ["sh", { count: 1n, average: 7n, total: 7n }],
  ]));
  assert.deepEqual(sim.map("largest").toMap(), new Map([["cat", 131072n], ["sh", 7n]]));
});

test("read-sizes: a failed read (-EAGAIN) is not a size", async () => {
  const sim = await simulate("examples/read-sizes.ts", { tracepointFormats: tracepointFormats("syscalls/sys_exit_read") });
  sim.tracepoint("syscalls", "sys_exit_read", { ret: -11 }, { comm: "node" });
  assert.deepEqual(sim.map("bytes").toMap(), new Map());
  assert.equal(sim.map("largest").get("node"), undefined);
});
