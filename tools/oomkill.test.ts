// Unit tests for tools/oomkill.ts: each OOM kill with the triggering task and the victim's name and memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

test("oomkill: the victim's pid, name (a __data_loc string), sizes, uid and a negative oom_score_adj, and who triggered it", async () => {
  const sim = await simulate("tools/oomkill.ts", { tracepointFormats: tracepointFormats("oom/mark_victim") });
  sim.begin();
  assert.equal(sim.output(), "Tracing OOM kills... Ctrl-C to stop.\n");
  sim.tracepoint("oom", "mark_victim", { pid: 2892, comm: "python3", total_vm: 58728, anon_rss: 48896, file_rss: 6532, shmem_rss: 0, uid: 1000, pgtables: 160, oom_score_adj: -500 }, { pid: 2900, comm: "stress" });
  const line = sim.output();
  assert.match(line, /^\d\d:\d\d:\d\d /, "the time first");
  assert.equal(line.slice(9), "Triggered by PID 2900 (\"stress\"), OOM kill of PID 2892 (\"python3\"), 58728 kB total, 48896 kB anon, 6532 kB file, uid 1000, oom_score_adj -500\n");
});
