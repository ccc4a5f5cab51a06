// Tests of the kernel feature probes: each gives undefined or a reason string; as root bpf and test runs work.

import { test } from "node:test";
import assert from "node:assert/strict";
import { bpfPrivilegesMissing, missingRoot, probeKernel, tracepointId } from "../../runtime/sys/index.js";

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

test("BPF privileges come from the effective capabilities: root with CAP_BPF and CAP_PERFMON dropped is told so, not to use sudo", () => {
  const status = (capEff: string) => `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\n`;
  assert.equal(bpfPrivilegesMissing(status("000001ffffffffff"), 0), undefined);
  // CAP_SYS_ADMIN alone (bit 21) stands in for both.
  assert.equal(bpfPrivilegesMissing(status("0000000000200000"), 1000), undefined);
  // CAP_BPF (39) and CAP_PERFMON (38) without root.
  assert.equal(bpfPrivilegesMissing(status("000000c000000000"), 1000), undefined);
  assert.equal(bpfPrivilegesMissing(status("0000003fffdfffff"), 0), "running as root but without CAP_BPF and CAP_PERFMON (dropped by capsh or a container's settings)");
  assert.equal(bpfPrivilegesMissing(status("0000008000000000"), 0), "running as root but without CAP_PERFMON (dropped by capsh or a container's settings)");
  assert.equal(bpfPrivilegesMissing(status("0000000000000000"), 65534), "not running as root (uid 65534)");
  // A user with one of the two is told which one is missing.
  assert.equal(bpfPrivilegesMissing(status("0000008000000000"), 65534), "not running as root (uid 65534), and without CAP_PERFMON");
  assert.equal(bpfPrivilegesMissing(status("0000004000000000"), 65534), "not running as root (uid 65534), and without CAP_BPF");
  assert.equal(bpfPrivilegesMissing("Name:\tnode\n", 65534), undefined);
});
