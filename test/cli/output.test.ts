// cli/output.ts: the command line's synchronous writes to descriptors 1 and 2. A reader that goes away is reported
// (so `tsbpf run | head` stops streaming) instead of failing the process, and a non-blocking descriptor that fills
// up hands the rest to Node's stream without losing or reordering anything.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { fileURLToPath } from "node:url";

const OUTPUT = fileURLToPath(new URL("../../cli/output.ts", import.meta.url));

/** Starts a child process running `body` (a module body with `writeOut`/`writeErr` in scope) through tsx. */
function start(body: string): ChildProcessWithoutNullStreams {
  const code = `import { writeOut, writeErr } from ${JSON.stringify(OUTPUT)};\n${body}`;
  return spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code]);
}

/** Its exit status and standard error. */
function finished(p: ChildProcessWithoutNullStreams): Promise<{ status: number | null; stderr: string }> {
  let stderr = "";
  p.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => p.on("close", (status) => resolve({ status, stderr })));
}

describe("cli/output", () => {
  it("writes lines in order, standard output and standard error apart", async () => {
    const p = start(`for (let i = 0; i < 1000; i++) writeOut(\`line \${i}\\n\`); writeErr("done\\n");`);
    let stdout = "";
    p.stdout.on("data", (d) => (stdout += d));
    const { status, stderr } = await finished(p);
    assert.equal(status, 0, stderr);
    assert.deepEqual(stdout.trimEnd().split("\n"), Array.from({ length: 1000 }, (_, i) => `line ${i}`));
    assert.equal(stderr, "done\n");
  });

  it("reports a reader that has gone (EPIPE) as false, without an error", async () => {
    // The child waits until its first line has been read and the pipe closed, then writes again.
    const body = `
      writeOut("first\\n");
      const until = Date.now() + 10000;
      let ok = true;
      while (ok && Date.now() < until) { ok = writeOut("more\\n"); await new Promise((r) => setTimeout(r, 5)); }
      writeErr(ok ? "still writing\\n" : "reader gone\\n");
      writeErr(String(writeOut("after\\n")) + "\\n");`;
    const p = start(body);
    p.stdout.once("data", () => p.stdout.destroy());
    const { status, stderr } = await finished(p);
    assert.equal(status, 0, stderr);
    assert.equal(stderr, "reader gone\nfalse\n");
  });

  it("hands a full non-blocking descriptor to Node's stream, keeping every byte in order", async () => {
    // Touching process.stdout first makes Node set the pipe non-blocking; 4 MiB cannot fit in a pipe's buffer,
    // so the synchronous write meets EAGAIN while the parent reads slowly.
    const body = `
      void process.stdout;
      const chunk = "x".repeat(1023) + "\\n";
      for (let i = 0; i < 4096; i++) writeOut(String(i).padStart(6, "0") + chunk.slice(6));
      writeErr("written\\n");`;
    const p = start(body);
    const chunks: Buffer[] = [];
    p.stdout.on("data", (d: Buffer) => {
      chunks.push(d);
      p.stdout.pause();
      setTimeout(() => p.stdout.resume(), 1);
    });
    const { status, stderr } = await finished(p);
    assert.equal(status, 0, stderr);
    assert.equal(stderr, "written\n");
    const lines = Buffer.concat(chunks).toString("latin1").split("\n");
    assert.equal(lines.pop(), "");
    assert.equal(lines.length, 4096);
    lines.forEach((l, i) => assert.equal(l.slice(0, 6), String(i).padStart(6, "0")));
  });
});
