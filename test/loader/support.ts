// Shared pieces of the loader tests: fixtures compiled with clang-19 (cached by content), skip reasons, fd counts.
// Takes a fixture name from test/loader/fixtures; gives the object's path and bytes.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { missingRoot } from "../../runtime/sys/index.js";

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
export function compileC(name: string, source: string): string {
  const hash = createHash("sha256").update(source).digest("hex").slice(0, 16);
  const path = join(CACHE, `${name}-${hash}.bpf.c`);
  mkdirSync(CACHE, { recursive: true });
  if (!existsSync(path)) writeFileSync(path, source);
  return compile(name, path, source);
}

function compile(name: string, path: string, source: string | Uint8Array): string {
  const header = readFileSync(join(FIXTURES, "loader.h"));
  const hash = createHash("sha256").update(source).update(header).digest("hex").slice(0, 16);
  const out = join(CACHE, `${name}-${hash}.bpf.o`);
  if (existsSync(out)) return out;
  mkdirSync(CACHE, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync(CLANG ?? "clang-19", ["-O2", "-g", "-target", "bpf", "-I", FIXTURES, "-c", path, "-o", tmp], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`clang-19 failed on ${name}.bpf.c:\n${r.stderr}`);
  renameSync(tmp, out); // atomic: parallel test files never see half an object
  return out;
}

export const fixture = (name: string): Uint8Array => readFileSync(fixturePath(name));

export const openFdCount = (): number => readdirSync("/proc/self/fd").length;

export function readU64(b: Uint8Array, off = 0): bigint {
  return new DataView(b.buffer, b.byteOffset, b.length).getBigUint64(off, true);
}

export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}
