// Unit tests for examples/unlink-uprobe.ts: a uprobe on libc's unlinkat(3).
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

test("unlink-uprobe: prints the process id and the int arguments", async () => {
  const sim = await simulate("examples/unlink-uprobe.ts");
  const path = sim.kernel.userString("/tmp/z");
  const r = sim.uprobe("libc.so.6:unlinkat", { args: [-100, path, 0x200], pid: 10, tgid: 9 });
  assert.equal(r.r0, 0n);
  assert.deepEqual(sim.trace(), ["UPROBE unlinkat pid = 9, dfd = -100, flags = 512"]);
});

test("unlink-uprobe: an int argument is the low half of its register, whatever the upper half holds", async () => {
  const sim = await simulate("examples/unlink-uprobe.ts");
  // The caller left garbage above the 32-bit values, as the ABI allows.
  sim.uprobe("unlinkat", { args: [0xdead_0000_0003n, 0, 0x1_0000_0000n], pid: 9 });
  assert.deepEqual(sim.trace(), ["UPROBE unlinkat pid = 9, dfd = 3, flags = 0"]);
});
