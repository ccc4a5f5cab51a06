// Every example's own unit tests (examples/*.test.ts, written with tsbpf/test), run again against the objects
// the LLVM backend makes: TSBPF_BACKEND=llvm makes simulate() compile with it, so the same printk lines,
// decoded events, map contents and faults must come out of both backends' code.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { noLlvm } from "./support.js";

test("the examples' unit tests pass against the LLVM backend's objects", { skip: noLlvm }, () => {
  // Without NODE_TEST_CONTEXT: the inner runner reports on its own output, not to this one.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const run = spawnSync(process.execPath, ["scripts/test.mjs", "examples/"], { env: { ...env, TSBPF_BACKEND: "llvm" }, encoding: "utf8" });
  assert.equal(run.status, 0, `${run.stdout.slice(-4000)}\n${run.stderr.slice(-2000)}`);
  const passed = Number(/^ℹ pass (\d+)$/m.exec(run.stdout)?.[1]);
  assert.ok(passed >= 6, `at least one test per example ran: ${passed}`);
});
