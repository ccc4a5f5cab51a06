// `--backend llvm` on the command line: `tsbpf verify` checks the object LLVM wrote, `tsbpf run` compiles
// through LLVM and caches that object under its own key (beside our own backend's), and without LLVM on the
// PATH verify and run stop with one sentence naming the package to install (exit 2), as compile does. The refusal
// of an object calls the command's handler in this process; the others start the real command line (test/support/cli.ts),
// side by side (each start loads TypeScript, seconds on a loaded machine).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { objectPath } from "../../cli/cache.js";
import { ExitCode, UserError } from "../../cli/exit-codes.js";
import { handler as verify } from "../../cli/commands/verify.js";
import { compile } from "../../compiler/index.js";
import { INSTALL_HINT } from "../../compiler/llvm/index.js";
import { readBpfObject } from "../../compiler/elf/index.js";
import { missingRoot, missingTracefs } from "../../runtime/sys/index.js";
import { fnv1a } from "../../compiler/frontend/load-typescript.js";
import { toolchainIdentity } from "../../compiler/llvm/toolchain.js";
import { noLlvm } from "./support.js";
import { CLI } from "../support/cli.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const EXAMPLE = "examples/latency.ts";
/** For the commands that only compile: a probe that needs no tracefs (whose tracepoint formats only root may read). */
const COMPILED = "examples/profile.ts";
const noKernel = missingRoot() ?? missingTracefs();

/** `tsbpf ARGS` from the repository root. */
function tsbpf(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
}

describe("--backend llvm on the command line", { concurrency: true }, () => {
  it("tsbpf verify --backend llvm checks the object LLVM wrote", { skip: noLlvm }, async () => {
    const { status, stdout } = await tsbpf(["verify", COMPILED, "--backend", "llvm", "--json"]);
    assert.equal(status, ExitCode.OK);
    const report = JSON.parse(stdout) as { accepted: boolean; programs: { name: string; insns: number }[] };
    assert.equal(report.accepted, true);
    const sizes = (programs: { name: string; insns: { length: number } | number }[]) => programs.map((p) => [p.name, typeof p.insns === "number" ? p.insns : p.insns.length]);
    const llvm = compile(join(ROOT, COMPILED), { backend: "llvm" });
    const own = compile(join(ROOT, COMPILED));
    assert.deepEqual(sizes(report.programs), sizes(llvm.programs));
    assert.notDeepEqual(sizes(report.programs), sizes(own.programs), "the two backends' objects differ, so the check above tells them apart");
  });

  it("tsbpf verify --backend llvm refuses an object, which is already compiled", async () => {
    await assert.rejects(
      verify({ file: join(tmpdir(), "latency.bpf.o"), backend: "llvm" }),
      (e: unknown) => e instanceof UserError && e.exitCode === ExitCode.USAGE && /^--backend llvm compiles a probe file \(\.ts\)/.test(e.message),
    );
  });

  it("without LLVM on the PATH, verify and run --backend llvm name the package to install", async () => {
    const empty = mkdtempSync(join(tmpdir(), "tsbpf-no-llvm-"));
    // (compile reports it the same way: run and verify take compile's error.)
    const commands = [
      ["verify", COMPILED, "--backend", "llvm"],
      // run checks for root and tracefs before it compiles.
      ...(noKernel ? [] : [["run", EXAMPLE, "--backend", "llvm", "--no-cache", "--duration", "1"]]),
    ];
    const results = await Promise.all(commands.map((args) => tsbpf(args, { PATH: empty })));
    results.forEach((r, i) => {
      const what = `${commands[i]![0]}: ${r.stderr}`;
      assert.equal(r.status, ExitCode.USAGE, what);
      assert.ok(r.stderr.startsWith("tsbpf: the LLVM backend needs LLVM 19"), what);
      assert.ok(r.stderr.includes(INSTALL_HINT), what);
    });
  });

  it("TSBPF_LLVM other than llc or clang is a usage error naming what it takes, in compile, verify and run", async () => {
    const commands = [
      ["compile", COMPILED, "--backend", "llvm", "-o", join(mkdtempSync(join(tmpdir(), "tsbpf-llvm-kind-")), "p.o")],
      ["verify", COMPILED, "--backend", "llvm"],
      ...(noKernel ? [] : [["run", EXAMPLE, "--backend", "llvm", "--duration", "1"]]),
    ];
    const results = await Promise.all(commands.map((args) => tsbpf(args, { TSBPF_LLVM: "gcc" })));
    results.forEach((r, i) => {
      const what = `${commands[i]![0]}: ${r.stderr}`;
      assert.equal(r.status, ExitCode.USAGE, what);
      assert.equal(r.stderr, 'tsbpf: TSBPF_LLVM takes llc or clang (the kind of LLVM tool to compile with), not "gcc"\n', what);
    });
  });

  it("tsbpf run --backend llvm caches LLVM's object under its own key", { skip: noLlvm ?? noKernel ?? false }, async () => {
    const cacheHome = mkdtempSync(join(tmpdir(), "tsbpf-llvm-cache-"));
    const env = { XDG_CACHE_HOME: cacheHome };
    const dir = join(cacheHome, "tsbpf");
    const cold = await tsbpf(["run", EXAMPLE, "--backend", "llvm", "--duration", "0.2", "--verbose"], env);
    assert.equal(cold.status, 0, cold.stderr);
    // The key as the command computed it (it covers the compiler's files, which others may be editing meanwhile).
    const llvmPath = /cached as (\S+)/.exec(cold.stderr)?.[1] ?? assert.fail(cold.stderr);
    const [, key, toolchain] = /([0-9a-f]+)-llvm-([0-9a-f]{8})\.bpf\.o$/.exec(llvmPath) ?? assert.fail(`not an LLVM object's key: ${llvmPath}`);
    assert.equal(llvmPath, objectPath(dir, `${key}-llvm-${toolchain}`));
    // The toolchain's part of the key is its identity: another LLVM gives another key.
    assert.equal(toolchain, fnv1a(toolchainIdentity()!));
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith(".bpf.o")), [basename(llvmPath)], "our own backend's slot stays empty");
    // LLVM's object: DWARF beside the BTF, which our own backend does not write.
    assert.ok(readBpfObject(readFileSync(llvmPath)).elf.sections.some((s) => s.name === ".debug_info"));
    const warm = await tsbpf(["run", EXAMPLE, "--backend", "llvm", "--duration", "0.2", "--verbose"], env);
    assert.equal(warm.status, 0, warm.stderr);
    assert.ok(warm.stderr.includes(`using the cached object ${llvmPath}`), warm.stderr);
  });
});
