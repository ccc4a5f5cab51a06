// Unit tests for examples/unlink.ts: the do_unlinkat kprobe and kretprobe over a simulated kernel.
// The kprobe reads filename->name with CO-RE, so these tests need the kernel's BTF.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { needsVmlinux } from "../test/sim/support.js";

test("unlink: the entry prints the process and the file name, the exit its return value", needsVmlinux, async () => {
  const sim = await simulate("examples/unlink.ts");
  const name = sim.kernel.alloc("filename", { name: "/tmp/x" });
  // A thread (pid 43) of process 42: the probe prints the process id.
  const entry = sim.kprobe("do_unlinkat", { args: [-100, name], pid: 43, tgid: 42 });
  const exit = sim.kretprobe("do_unlinkat", { ret: -2 }); // the same task returns -ENOENT
  assert.equal(entry.r0, 0n);
  assert.equal(exit.r0, 0n);
  assert.deepEqual(sim.trace(), ["KPROBE ENTRY pid = 42, filename = /tmp/x", "KPROBE EXIT: pid = 42, ret = -2"]);
});

test("unlink: a filename pointer that faults prints an empty name, and the probe still returns 0", needsVmlinux, async () => {
  const sim = await simulate("examples/unlink.ts");
  // The struct filename itself is unmapped.
  const a = sim.kprobe("do_unlinkat", { args: [-100, sim.kernel.faulting("filename")], pid: 7 });
  // The struct is readable, its name is not.
  const b = sim.kprobe("do_unlinkat", { args: [-100, sim.kernel.alloc("filename", { name: sim.kernel.faulting() })] });
  assert.deepEqual([a.r0, b.r0], [0n, 0n]);
  assert.deepEqual(sim.trace(), ["KPROBE ENTRY pid = 7, filename = ", "KPROBE ENTRY pid = 7, filename = "]);
});
