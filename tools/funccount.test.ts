// Unit tests for tools/funccount.ts: calls of each function the uprobe glob matches, counted under the function's probe name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

test("funccount: each matched function counts under its own name; others are not probed", async () => {
  const sim = await simulate("tools/funccount.ts");
  sim.uprobe("libc.so.6:malloc");
  sim.uprobe("malloc");
  sim.uprobe("calloc");
  assert.throws(() => sim.uprobe("free"), /no uprobe on free/);
  assert.deepEqual(sim.map("calls").toMap(), new Map([["uprobe:libc.so.6:malloc", 2n], ["uprobe:libc.so.6:calloc", 1n]]));
});

test("funccount: with a target (tsbpf run -c/-p), only the target's calls count", async () => {
  const sim = await simulate("tools/funccount.ts", { targetPid: 10 });
  sim.uprobe("realloc", { pid: 11 });
  sim.uprobe("realloc", { pid: 12, tgid: 10 });
  assert.deepEqual(sim.map("calls").toMap(), new Map([["uprobe:libc.so.6:realloc", 1n]]));
});
