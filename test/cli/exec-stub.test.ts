// The program --command starts its command with (cli/exec-stub.ts): its bytes are the listed instructions, and on
// this machine's architecture it names itself, stops itself, then execs its first argument with the rest and its
// environment, reporting a failed exec's errno on fd 3.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import { STUB_CODE, execStub } from "../../cli/exec-stub.js";

const llvmMc = ["llvm-mc-19", "llvm-mc"].find((c) => spawnSync(c, ["--version"]).status === 0);

test("each architecture's bytes are what llvm-mc assembles from its listing", { skip: llvmMc ? false : "llvm-mc is not installed" }, () => {
  for (const [arch, code] of Object.entries(STUB_CODE)) {
    const args = arch === "x64" ? ["-triple=x86_64", "-show-encoding"] : ["-triple=aarch64", "-show-encoding"];
    const input = (arch === "x64" ? ".intel_syntax noprefix\n" : "") + code.listing + "\n";
    const out = spawnSync(llvmMc!, args, { input, encoding: "utf8" });
    assert.equal(out.status, 0, out.stderr);
    const encoded = [...out.stdout.matchAll(/encoding: \[([^\]]*)\]/g)].flatMap((m) => m[1]!.split(",").map((x) => Number(x.trim())));
    assert.deepEqual(encoded, code.bytes, arch);
  }
});

const state = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  return stat.slice(stat.lastIndexOf(")") + 2)[0]!;
};

test("the stub names itself after its argv[0], stops itself, then execs its arguments with its environment, fd 3 closed; a program it cannot exec has its errno written to fd 3 and ends it with 127", { skip: STUB_CODE[process.arch] ? false : `no stub for ${process.arch}` }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-stub-"));
  try {
    const stub = join(dir, "stub");
    writeFileSync(stub, execStub()!, { mode: 0o755 });
    const run = async (argv: string[]) => {
      const child = spawn(stub, argv, { stdio: ["ignore", "pipe", "ignore", "pipe"], env: { ONLY: "this" }, argv0: "tsbpf-command-xyz" });
      let out = "";
      const report: Buffer[] = [];
      child.stdout!.on("data", (d) => (out += d));
      child.stdio[3]!.on("data", (d: Buffer) => report.push(d));
      const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      try {
        for (let i = 0; i < 500 && state(child.pid!) !== "T"; i++) await new Promise((r) => setTimeout(r, 2));
        assert.equal(state(child.pid!), "T", "stopped before the exec");
        assert.equal(readFileSync(`/proc/${child.pid}/comm`, "latin1"), "tsbpf-command-x\n", "named after its argv[0], cut to 15 bytes");
      } catch (error) {
        child.kill("SIGKILL");
        throw error;
      }
      process.kill(child.pid!, "SIGCONT");
      const code = await exited;
      const errno = report.length ? Buffer.concat(report) : undefined;
      return { code, out, ...(errno ? { errno: errno.length === 4 ? errno.readInt32LE(0) : errno } : {}) };
    };
    // fd 3 closes at a successful exec (the program does not inherit it: env's ls of its fds would show it).
    assert.deepEqual(await run(["/usr/bin/env"]), { code: 0, out: "ONLY=this\n" });
    assert.deepEqual(await run(["/bin/echo", "two words", "x"]), { code: 0, out: "two words x\n" });
    assert.deepEqual(await run(["/bin/ls", "/proc/self/fd/3"]), { code: 2, out: "" });
    // A failed exec writes its errno to fd 3, then exits 127.
    assert.deepEqual(await run([join(dir, "missing")]), { code: 127, out: "", errno: osConstants.errno.ENOENT });
    writeFileSync(join(dir, "text"), "not a program\n", { mode: 0o755 });
    assert.deepEqual(await run([join(dir, "text")]), { code: 127, out: "", errno: osConstants.errno.ENOEXEC });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
