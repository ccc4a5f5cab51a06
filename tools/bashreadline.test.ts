// Unit tests for tools/bashreadline.ts: the line readline() returns, read from the shell's memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

test("bashreadline: each line bash reads is a record with the shell's pid; end of input (NULL) is none", async () => {
  const sim = await simulate("tools/bashreadline.ts");
  sim.uretprobe("/bin/bash:readline", { ret: sim.kernel.userString("ls -la /tmp"), pid: 300 });
  sim.uretprobe("/bin/bash:readline", { ret: 0, pid: 300 });
  sim.uretprobe("/bin/bash:readline", { ret: sim.kernel.userString(`echo ${"x".repeat(200)}`), pid: 301 });
  const lines = sim.events<{ pid: number; line: string }>("lines");
  assert.deepEqual(lines[0], { pid: 300, line: "ls -la /tmp" });
  assert.deepEqual(lines.slice(1).map((l) => [l.pid, l.line.length]), [[301, 127]], "a long line is cut to the record's Str<128>");
});
