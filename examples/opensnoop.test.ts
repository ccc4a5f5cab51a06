// Unit tests for examples/opensnoop.ts: openat(2) events through a 256 KiB ring buffer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
// The tracepoint's format file as Linux 6.x writes it, so the test runs without tracefs.
import { OPENAT_FORMAT } from "../test/sim/support.js";

interface OpenEvent {
  pid: number;
  uid: number;
  flags: number;
  comm: string;
  filename: string;
}

const opensnoop = () => simulate("examples/opensnoop.ts", { tracepointFormats: { "syscalls/sys_enter_openat": OPENAT_FORMAT } });

test("opensnoop: each openat is an event with the process, user, flags, task name and file name", async () => {
  const sim = await opensnoop();
  const filename = sim.kernel.userString("/etc/passwd");
  sim.tracepoint("syscalls", "sys_enter_openat", { dfd: -100, filename, flags: 0o2000000 }, { pid: 31, tgid: 30, uid: 1000, comm: "cat" });
  assert.deepEqual(sim.events<OpenEvent>("events"), [{ pid: 30, uid: 1000, flags: 0o2000000, comm: "cat", filename: "/etc/passwd" }]);
});

test("opensnoop: a file name in a page that faults gives an empty name, not a lost event", async () => {
  const sim = await opensnoop();
  const filename = sim.kernel.faulting(undefined, { user: true });
  const r = sim.tracepoint("syscalls", "sys_enter_openat", { dfd: -100, filename, flags: 0 }, { pid: 32, comm: "ls" });
  assert.equal(r.r0, 0n);
  assert.deepEqual(sim.events<OpenEvent>("events").map((e) => [e.comm, e.filename]), [["ls", ""]]);
});

test("opensnoop: when user space does not read, the full ring buffer drops events and the probe goes on", async () => {
  const sim = await opensnoop();
  const filename = sim.kernel.userString("/tmp/f");
  // A record takes its 156 bytes plus an 8-byte header, rounded up to 8: 168 bytes of the 256 KiB.
  const fits = Math.floor((256 * 1024) / 168);
  const fire = (i: number) => sim.tracepoint("syscalls", "sys_enter_openat", { dfd: -100, filename, flags: i });
  const results = Array.from({ length: fits + 10 }, (_, i) => fire(i));
  assert.ok(results.every((r) => r.r0 === 0n), "a dropped event does not change the return value");
  const events = sim.events<OpenEvent>("events");
  assert.equal(events.length, fits, `${fits} events fit, the last 10 were dropped`);
  assert.deepEqual([events[0]!.flags, events.at(-1)!.flags], [0, fits - 1], "the oldest are kept");
  // Once read, the buffer has room again.
  fire(-1);
  assert.deepEqual(sim.events<OpenEvent>("events").map((e) => e.flags), [-1]);
});
