// Unit tests for examples/unlink-tracepoint.ts: the syscalls:sys_enter_unlinkat tracepoint.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
// The tracepoint's format file as Linux 6.x writes it, so the test runs without tracefs.
import { UNLINKAT_FORMAT } from "../test/sim/support.js";

const options = { tracepointFormats: { "syscalls/sys_enter_unlinkat": UNLINKAT_FORMAT } };

test("unlink-tracepoint: prints the task name, the process id, dfd as an int and the flags", async () => {
  const sim = await simulate("examples/unlink-tracepoint.ts", options);
  const pathname = sim.kernel.userString("/tmp/dir");
  const r = sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: -100, pathname, flag: 0x200 }, { pid: 78, tgid: 77, comm: "rm" });
  assert.equal(r.r0, 0n);
  assert.deepEqual(sim.trace(), ["unlinkat by rm pid = 77, dfd = -100, flags = 512"]);
});

test("unlink-tracepoint: dfd is the low 32 bits of its 8-byte slot; a long task name is cut to 15 bytes", async () => {
  const sim = await simulate("examples/unlink-tracepoint.ts", options);
  // AT_FDCWD zero-extended into the slot, as an int stored in an unsigned long is.
  sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: 0xffffff9c, flag: 0 }, { pid: 5, comm: "a-very-long-task-name" });
  assert.deepEqual(sim.trace(), ["unlinkat by a-very-long-tas pid = 5, dfd = -100, flags = 0"]);
});
