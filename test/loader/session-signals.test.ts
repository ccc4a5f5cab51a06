// runtime/loader/session.ts's releaseOnExit({ graceful: true }), which `tsbpf run` uses: the first signal only asks
// the run to finish; once the session is closed a signal still finds a handler, so a run in its last steps (a tracefs
// instance's removal, a cache's write) is not killed by the first Ctrl-C delivered again (timeout(1), a terminal's
// process group), and another signal ends it with 128 + its number. Real signals to a child process: the fake kernel
// stands in for the syscalls.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

test("after a graceful session closes, the first signal delivered again is ignored and another exits with 128 + its number", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-signals-"));
  try {
    const script = join(dir, "run.mts");
    writeFileSync(
      script,
      `import { Session } from ${JSON.stringify(join(ROOT, "runtime/loader/session.ts"))};
import { FakeSys } from ${JSON.stringify(join(ROOT, "runtime/sys/fake.ts"))};
const session = new Session(new FakeSys());
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
session.releaseOnExit((s) => console.log("finish up after", s), { graceful: true });
process.kill(process.pid, "SIGINT");
await wait(20);
await session.close();
process.kill(process.pid, "SIGINT");
await wait(20);
console.log("closed, still running");
process.kill(process.pid, "SIGTERM");
await wait(1000);
console.log("not reached");
`,
    );
    const r = spawnSync(process.execPath, ["--import", "tsx", script], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
    assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
    assert.equal(r.stdout, "finish up after SIGINT\nclosed, still running\n", r.stderr);
    assert.equal(r.status, 128 + 15, r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
