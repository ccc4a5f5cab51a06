// Tests of the kernel feature probes: each gives undefined or a reason string; as root bpf and test runs work.

import { test } from "node:test";
import assert from "node:assert/strict";
import { missingRoot, probeKernel, tracepointId } from "../../runtime/sys/index.js";

test("probeKernel: every feature is present (undefined) or explained (a string)", () => {
  const f = probeKernel();
  for (const key of ["root", "bpf", "testRun", "tracefs", "kprobes", "uprobes"] as const) {
    assert.ok(f[key] === undefined || (typeof f[key] === "string" && f[key]!.length > 0), `${key}: ${String(f[key])}`);
  }
  assert.equal(f.uprobes === undefined, typeof f.uprobeType === "number");
  assert.equal(f.kprobes === undefined, typeof f.kprobeType === "number");
  assert.equal(f.tracefs === undefined, typeof f.tracefsPath === "string");
  if (f.tracefs) assert.equal(tracepointId("syscalls", "sys_enter_getpid"), undefined);
});

test("as root, bpf() and BPF_PROG_TEST_RUN work", { skip: missingRoot() ?? false }, () => {
  const f = probeKernel();
  assert.equal(f.bpf, undefined);
  assert.equal(f.testRun, undefined);
});
