// A program the verifier model gives up on (too many paths through its loops) still runs in the simulator: the
// model found no fault, and where the model counts more paths than Linux, Linux may take it. (With a 48-byte scan
// the basename probe passes 1,000,000 instructions in both.)

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
