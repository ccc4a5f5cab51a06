// The USDT fixtures: a target built with gcc from usdt-target.c and usdt-guarded.c (<sys/sdt.h> probes, one behind a
// semaphore), and usdt.bpf.c built with clang-19 against libbpf's <bpf/usdt.bpf.h> for that target's path.
// Both are cached by content in the loader fixtures' temp directory; `needsUsdt` says why they cannot be built.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CLANG } from "./support.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const CACHE = join(tmpdir(), "tsbpf-loader-fixtures");
const MULTIARCH = `/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`;

const hasSdt = existsSync("/usr/include/sys/sdt.h") || existsSync(`${MULTIARCH}/sys/sdt.h`);
const hasGcc = spawnSync("gcc", ["--version"]).status === 0;

/** Why the fixtures cannot be built here, or false. */
export const usdtSkip: string | false = !hasGcc
  ? "gcc is missing"
  : !hasSdt
    ? "<sys/sdt.h> is missing (apt-get install systemtap-sdt-dev)"
    : !CLANG
      ? "clang-19 is missing"
      : !existsSync("/usr/include/bpf/usdt.bpf.h")
        ? "<bpf/usdt.bpf.h> is missing (apt-get install libbpf-dev)"
        : process.arch !== "x64"
          ? "the fixtures' expected argument forms are x86-64's"
          : false;

function cached(name: string, inputs: (string | Uint8Array)[], build: (out: string) => string[]): string {
  const hash = createHash("sha256");
  for (const i of inputs) hash.update(i);
  const out = join(CACHE, `${name}-${hash.digest("hex").slice(0, 16)}`);
  if (existsSync(out)) return out;
  mkdirSync(CACHE, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const [cmd, ...args] = build(tmp);
  const r = spawnSync(cmd!, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} failed on ${name}:\n${r.stderr}`);
  renameSync(tmp, out);
  return out;
}

/** The gcc-built target: `usdt-target SEED ROUNDS` fires tsbpf:args ROUNDS times and prints how often tsbpf:guarded fired. */
export function usdtTarget(): string {
  const sources = ["usdt-target.c", "usdt-guarded.c"].map((f) => join(FIXTURES, f));
  return cached("usdt-target", sources.map((s) => readFileSync(s)), (out) => ["gcc", "-O2", "-o", out, ...sources]);
}

/** usdt.bpf.c compiled for `target` (its programs' sections name that path). */
export function usdtObject(target: string): string {
  const source = join(FIXTURES, "usdt.bpf.c");
  const flags = ["-O2", "-g", "-target", "bpf", `-D__TARGET_ARCH_${process.arch === "arm64" ? "arm64" : "x86"}`, `-DUSDT_TARGET="${target}"`, `-I${MULTIARCH}`];
  return cached("usdt.bpf.o", [readFileSync(source), readFileSync("/usr/include/bpf/usdt.bpf.h"), target], (out) => [CLANG ?? "clang-19", ...flags, "-c", source, "-o", out]);
}
