// Shared pieces of the loader tests: fixtures compiled with clang-19 (cached by content), skip reasons, fd counts.
// Takes a fixture name from test/loader/fixtures; gives the object's path and bytes.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { missingRoot } from "../../runtime/sys/index.js";
import { CLI } from "../support/cli.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const CACHE = join(tmpdir(), "tsbpf-loader-fixtures");

export const CLANG = spawnSync("clang-19", ["--version"]).status === 0 ? "clang-19" : undefined;
/** Real-kernel tests: skipped only without root or clang-19. */
export const needsKernel = { skip: missingRoot() ?? (CLANG ? false : "clang-19 is missing") };
export const needsClang = { skip: CLANG ? false : "clang-19 is missing" };

/** Compiles fixtures/<name>.bpf.c (clang-19 -O2 -g -target bpf) once per content; gives the object path. */
export function fixturePath(name: string): string {
  return compile(name, join(FIXTURES, `${name}.bpf.c`), readFileSync(join(FIXTURES, `${name}.bpf.c`)));
}

/** Compiles C source that includes "loader.h" (a fixture's variant, a malformed definition) once per content. */
export function compileC(name: string, source: string, flags: readonly string[] = []): string {
  const hash = createHash("sha256").update(source).digest("hex").slice(0, 16);
  const path = join(CACHE, `${name}-${hash}.bpf.c`);
  mkdirSync(CACHE, { recursive: true });
  if (!existsSync(path)) writeFileSync(path, source);
  return compile(name, path, source, flags);
}

/** clang-19 -O2 -g, then `flags` (-g0 drops the debug info). */
function compile(name: string, path: string, source: string | Uint8Array, flags: readonly string[] = []): string {
  const header = readFileSync(join(FIXTURES, "loader.h"));
  const hash = createHash("sha256").update(source).update(header).update(flags.join(" ")).digest("hex").slice(0, 16);
  const out = join(CACHE, `${name}-${hash}.bpf.o`);
  if (existsSync(out)) return out;
  mkdirSync(CACHE, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync(CLANG ?? "clang-19", ["-O2", "-g", ...flags, "-target", "bpf", "-I", FIXTURES, "-c", path, "-o", tmp], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`clang-19 failed on ${name}.bpf.c:\n${r.stderr}`);
  renameSync(tmp, out); // atomic: parallel test files never see half an object
  return out;
}

export const fixture = (name: string): Uint8Array => readFileSync(fixturePath(name));

export const openFdCount = (): number => readdirSync("/proc/self/fd").length;

/** The ids of the BPF links this process holds (/proc/self/fdinfo's link_id lines). */
export function heldLinks(): number[] {
  const out: number[] = [];
  for (const fd of readdirSync("/proc/self/fdinfo")) {
    try {
      const m = /^link_id:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
      if (m) out.push(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

export function readU64(b: Uint8Array, off = 0): bigint {
  return new DataView(b.buffer, b.byteOffset, b.length).getBigUint64(off, true);
}

export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

export interface CliRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** stdout's lines parsed as JSON (for --json). */
  jsonLines(): Record<string, unknown>[];
  exited: Promise<number | null>;
  /** Waits until `ok()` (at most 15 s), failing with `what` and stderr if the command ends or time runs out. */
  until(ok: () => boolean, what: string): Promise<void>;
}

/** Runs the tsbpf command (the build where it is current, else the sources: test/support/cli.ts) with `args`, collecting its output. */
export function startCli(args: string[]): CliRun {
  const child = spawn(process.execPath, [...CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const until = async (ok: () => boolean, what: string) => {
    for (const deadline = Date.now() + 15000; !ok(); ) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${what}; stderr: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const jsonLines = () =>
    stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, stdout: () => stdout, stderr: () => stderr, jsonLines, exited, until };
}
