// The simulator against the kernel: the tracepoint example attached for real, a child `rm` removes a
// temp file, and the printk line the kernel writes must equal the simulator's for the same task and
// field values. Needs root, BPF and tracefs; trace_pipe is shared machine-wide, so a missed line is
// retried with a new trigger.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { Session } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, missingTracefs } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { missingLlvm } from "../../compiler/llvm/index.js";

const skip = missingRoot() ?? missingTracefs() ?? missingBpf() ?? false;
const AT_FDCWD = -100;

/** Runs `rm path` in a child; resolves with its pid once it exits. */
function rmInChild(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn("rm", ["-f", path], { stdio: "ignore" });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(child.pid!) : reject(new Error(`rm exited with ${code}`))));
  });
}

test("the kernel and the simulator print the same line for the same unlinkat", { skip, timeout: 20_000 }, async () => {
  const probe = "examples/unlink-tracepoint.ts";
  const compiled = compile(probe);
  assert.deepEqual(compiled.diagnostics, []);
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-sim-"));
  const session = new Session();
  try {
    const pipe = session.tracePipe();
    session.load(compiled.object, { name: "unlinktp" }).attachAll();
    let live: { pid: number; message: string } | undefined;
    for (let attempt = 0; attempt < 5 && !live; attempt++) {
      const file = join(dir, `f${attempt}`);
      writeFileSync(file, "x");
      const pid = await rmInChild(file);
      const line = await pipe.waitFor((l) => l.pid === pid && l.message.startsWith("unlinkat by "), 3000);
      if (line) live = { pid, message: line.message };
    }
    assert.ok(live, "no trace line from the kernel after 5 tries");

    // The same task and fields in the simulator: rm unlinks relative to the cwd with no flags.
    const sim = await simulate(probe);
    sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: AT_FDCWD, pathname: sim.kernel.userString(join(dir, "f")), flag: 0 }, { pid: live.pid, comm: "rm" });
    assert.deepEqual(sim.trace(), [live.message]);
  } finally {
    await session.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("printk of a Str<N> that fills its N bytes (no NUL) prints those N bytes, in the kernel and the simulator", { skip, timeout: 20_000 }, async () => {
  // The path an rm passes to unlinkat is read as a struct whose Str<8> has no NUL: what follows it must not print.
  const text = `import { tracepoint, printk, readUser, type i32, type Str } from "tsbpf";
export const license = "GPL";
interface Pt { name: Str<8>; x: i32; }
export const p = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => {
  const v = readUser<Pt>(ctx.pathname);
  if (v.x !== 0x44434241) return;
  printk(\`name=\${v.name}|\`);
});
`;
  const compiled = compile({ fileName: "unterminated.ts", text });
  assert.deepEqual(compiled.diagnostics, []);
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-sim-"));
  const session = new Session();
  try {
    const pipe = session.tracePipe();
    session.load(compiled.object, { name: "unterminated" }).attachAll();
    let message: string | undefined;
    for (let attempt = 0; attempt < 5 && !message; attempt++) {
      writeFileSync(join(dir, "abcdefghABCD"), "x");
      const pid = await new Promise<number>((resolve, reject) => {
        const child = spawn("rm", ["-f", "abcdefghABCD"], { cwd: dir, stdio: "ignore" });
        child.on("error", reject);
        child.on("exit", () => resolve(child.pid!));
      });
      message = (await pipe.waitFor((l) => l.pid === pid && l.message.startsWith("name="), 3000))?.message;
    }
    assert.equal(message, "name=abcdefgh|");
    for (const backend of ["own", "llvm"] as const) {
      if (backend === "llvm" && missingLlvm()) continue;
      const sim = await simulate({ fileName: "unterminated.ts", text }, { backend });
      sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: AT_FDCWD, pathname: sim.kernel.userString("abcdefghABCD"), flag: 0 });
      assert.deepEqual(sim.trace(), [message], backend);
    }
  } finally {
    await session.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a fixed-size read of a short user string reads past its NUL, in the kernel and the simulator", { skip, timeout: 20_000 }, async () => {
  // readUser<Str<64>>(p, 64) takes 64 bytes whatever the string's length: the page around rm's argument is mapped.
  const text = `import { tracepoint, printk, readUser, comm, type Str } from "tsbpf";
export const license = "GPL";
export const p = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => {
  if (comm() !== "rm") return;
  printk(\`fixed=\${readUser<Str<64>>(ctx.pathname, 64)}|\`);
});
`;
  const compiled = compile({ fileName: "fixed.ts", text });
  assert.deepEqual(compiled.diagnostics, []);
  const session = new Session();
  try {
    const pipe = session.tracePipe();
    session.load(compiled.object, { name: "fixedread" }).attachAll();
    let message: string | undefined;
    for (let attempt = 0; attempt < 5 && !message; attempt++) {
      const pid = await new Promise<number>((resolve, reject) => {
        const child = spawn("rm", ["-f", "/x"], { stdio: "ignore" });
        child.on("error", reject);
        child.on("exit", () => resolve(child.pid!));
      });
      message = (await pipe.waitFor((l) => l.pid === pid && l.message.startsWith("fixed="), 3000))?.message;
    }
    assert.equal(message, "fixed=/x|");
    const sim = await simulate({ fileName: "fixed.ts", text });
    sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: AT_FDCWD, pathname: sim.kernel.userString("/x"), flag: 0 }, { comm: "rm" });
    assert.deepEqual(sim.trace(), [message]);
  } finally {
    await session.close();
  }
});
