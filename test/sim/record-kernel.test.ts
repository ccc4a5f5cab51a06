// A live run recorded with --command and replayed in the simulator as the recording says the run was made: the
// probe's printf() text, which filters by targetPid(), is recorded and is what the replay prints. Needs root,
// BPF and tracefs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { missingBpf, missingRoot, missingTracefs } from "../../runtime/sys/index.js";
import { readRecording, replay, simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

const skip = missingRoot() ?? missingTracefs() ?? missingBpf() ?? false;

const PROBE = `import { begin, tracepoint, printf, readUserStr, targetPid, pidTgid, comm, type u64 } from "tsbpf";
export const license = "GPL";
let tag: u64 = 1;
begin(() => printf("tag %d\\n", tag));
export const u = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => {
  if (pidTgid() >> 32 !== targetPid()) return;
  printf("%s unlinks %s\\n", comm(), readUserStr(ctx.pathname));
});
`;

test("a run with --command and --set is recorded with its printf text and replays to the same text", { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-record-"));
  try {
    const probe = join(dir, "unlinks.ts");
    writeFileSync(probe, PROBE);
    const recordPath = join(dir, "run.jsonl");
    const run = spawnSync(process.execPath, [...CLI, "run", probe, "--no-cache", "--set", "tag=0x2a", "--record", recordPath, "-c", `rm -f ${join(dir, "a")} ${join(dir, "b")}`], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const recording = readRecording(recordPath);
    assert.equal(recording.printf, run.stdout);
    assert.equal(recording.printf, `tag 42\nrm unlinks ${join(dir, "a")}\nrm unlinks ${join(dir, "b")}\n`);
    const sim = await simulate(probe, { ...recording.run });
    sim.begin();
    replay(sim, recording);
    assert.equal(sim.output(), recording.printf);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
