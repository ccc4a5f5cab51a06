// A program the verifier model gives up on (too many paths through its loops) still runs in the simulator: the
// model found no fault, and where the model counts more paths than Linux, Linux may take it. (With a 48-byte scan
// the basename probe passes 1,000,000 instructions in both.) A run of it that exhausts its budget says Linux may refuse it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "../../runtime/test/index.js";
import { tracepointFormats } from "../support/fixture-kernel.js";
import { basenameProbe } from "../support/basename-probe.js";

test("a basename loop the model gives up on runs in the simulator and prints the file's name", async () => {
  const text = basenameProbe(48);
  const sim = await simulate({ fileName: "basename.ts", text }, { tracepointFormats: tracepointFormats("syscalls/sys_enter_unlinkat") });
  sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: -100, pathname: sim.kernel.userString("/tmp/dir/file.txt"), flag: 0 });
  assert.equal(sim.output(), "9 8\n");
});

test("when such a program exhausts its run's budget, the fault says that the kernel may refuse to load it", async () => {
  const formats = tracepointFormats("syscalls/sys_enter_unlinkat");
  const fire = async (scan: number) => {
    const sim = await simulate({ fileName: "basename.ts", text: basenameProbe(scan) }, { tracepointFormats: formats, budget: 50 });
    try {
      sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: -100, pathname: sim.kernel.userString("/tmp/dir/file.txt"), flag: 0 });
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };
  assert.match(await fire(48), /: instruction budget of 50 exhausted \(the verifier model also passed its limit of 1,000,000 instructions on this program, so the kernel's verifier may refuse to load it: "BPF program is too large"\)\n  at /);
  assert.match(await fire(16), /: instruction budget of 50 exhausted\n  at /, "a program the model accepted gets no such note");
});
