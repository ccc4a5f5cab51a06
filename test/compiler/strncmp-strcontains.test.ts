// strncmp(a, b, n) and strcontains(haystack, needle) (also `haystack.includes(needle)`), bpftrace's strncmp() and
// strcontains(): Str<N> values and literals compared as `===` compares them (up to a NUL both share, a full Str<N>
// ending after N bytes). Both backends against JavaScript's slice() and includes() on the same strings, the compiler's
// checks, and tsbpf run on this kernel against bpftrace 0.17's output for the same one-liner.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";
import { noLlvm } from "../llvm/support.js";

// s is a Str<16>, t a Str<8>, u a Str<4> read from the struct's full char array (no NUL when all 4 bytes are set).
const SOURCE = `import { uprobe, printf, strncmp, strcontains, readUserStr, readUser, type Str, type Arr, type u8, type u64 } from "tsbpf";
export const license = "GPL";
interface Four { c: Str<4> }
export const p = uprobe("libc.so.6", "connect", (a: u64, b: u64, c: u64) => {
  const s: Str<16> = readUserStr(a);
  const t: Str<8> = readUserStr(b);
  const four: Four = readUser<Four>(c);
  const u = four.c;
  printf("%d %d %d %d %d %d %d %d|%d %d %d %d %d %d %d %d\\n",
    strncmp(s, "abc", 2), strncmp(s, "abd", 3), strncmp(s, t, 3), strncmp(s, t, 100), strncmp(t, "abcdefgh", 9), strncmp(u, "abcd", 5), strncmp(u, t, 8), strncmp(s, t, 0),
    strcontains(s, "cd"), strcontains(s, "ce"), strcontains(s, ""), s.includes(t), strcontains(t, s), t.includes("h"), strcontains(u, "cd"), s.includes(u));
  if (strcontains(s, "bcd") && strncmp(s, t, 2) === 0) printf("both\\n");
});
`;

/** What JavaScript says for the same strings: strncmp as slices compared (0 equal), strcontains as includes (1 found). */
function expected(s: string, t: string, u: string): string {
  const ncmp = (a: string, b: string, n: number) => (a.slice(0, n) === b.slice(0, n) ? 0 : 1);
  const has = (h: string, n: string) => (h.includes(n) ? 1 : 0);
  const left = [ncmp(s, "abc", 2), ncmp(s, "abd", 3), ncmp(s, t, 3), ncmp(s, t, 100), ncmp(t, "abcdefgh", 9), ncmp(u, "abcd", 5), ncmp(u, t, 8), 0];
  const right = [has(s, "cd"), has(s, "ce"), 1, has(s, t), has(t, s), has(t, "h"), has(u, "cd"), has(s, u)];
  return `${left.join(" ")}|${right.join(" ")}\n${has(s, "bcd") && ncmp(s, t, 2) === 0 ? "both\n" : ""}`;
}

describe("strncmp() and strcontains()", () => {
  it("compare as JavaScript's slice() and includes() do on the strings the Str values hold, in both backends", async () => {
    // Each Str keeps what fits before its NUL: readUserStr cuts "abcdefgh" to a Str<8>'s 7 bytes; the Str<4> is full.
    const cases: [string, string, string][] = [["abcdef", "abc", "abcd"], ["abcdef", "abcdef", "bc\0\0"], ["xyz", "xyzxyzxy", "xyzx"], ["abcdefgh", "abcdefgh", "cdef"], ["", "", "\0\0\0\0"], ["zzzzzzzzzzzzzcde", "cde", "zcd\0"]];
    for (const backend of ["own", "llvm"] as const) {
      if (backend === "llvm" && noLlvm) continue;
      const sim = await simulate({ fileName: "s.ts", text: SOURCE }, { backend });
      let want = "";
      for (const [s, t, u] of cases) {
        const four = sim.kernel.bytes(new TextEncoder().encode(u), { user: true });
        sim.uprobe("libc.so.6:connect", { args: [sim.kernel.userString(s), sim.kernel.userString(t), four] });
        want += expected(s.slice(0, 15), t.slice(0, 7), u.replace(/\0.*$/, ""));
      }
      assert.equal(sim.output(), want, backend);
    }
  });

  it("say what is wrong with a count that is no constant, a needle in a literal, or a string that is no Str", () => {
    const bad = (statement: string) => compile({ fileName: "bad.ts", text: SOURCE.replace('if (strcontains(s, "bcd") && strncmp(s, t, 2) === 0) printf("both\\n");', statement) }).diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join("\n");
    assert.equal(bad("const x = strncmp(s, t, a);"), "12:27 TSBPF1005 strncmp()'s byte count is a constant of 0 or more, as bpftrace's is");
    assert.equal(bad('const x = strncmp(s, "a", -1);'), "12:29 TSBPF1005 strncmp()'s byte count is a constant of 0 or more, not -1, as bpftrace's is");
    assert.equal(bad('const x = strcontains("abc", s);'), "12:25 TSBPF1025 the string searched is a Str<N> (a literal's contents are known: compare the needle with ===)");
    assert.equal(bad("const x = strcontains(s, a as any);"), "12:28 TSBPF1025 `a as any` is neither a Str<N> nor a string literal: only those compare");
  });
});

const noKernel = missingRoot() ?? missingBpf(openSys()) ?? (spawnSync("python3", ["--version"]).status !== 0 ? "python3 is missing" : undefined);

describe("strncmp() and strcontains() on this kernel", { skip: noKernel }, () => {
  it("tsbpf run prints what bpftrace 0.17 prints for the same one-liner on an openat, from both backends", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-strings-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      // The opened path holds the process's name (python3) and a mark the probe picks the openat by.
      mkdirSync(join(dir, "python3-strings-probe"));
      writeFileSync(join(dir, "open.py"), "import sys\ntry:\n    open(sys.argv[1])\nexcept OSError:\n    pass\n");
      const path = join(dir, "python3-strings-probe", "x");
      const probe = `tracepoint("syscalls", "sys_enter_openat", (ctx) => {
  if (pidTgid() >> 32 !== targetPid()) return;
  const p: Str<64> = readUserStr(ctx.filename);
  if (!p.includes("strings-probe")) return;
  printf("%d %d %d %d %d|%d %d %d\\n", strncmp(comm(), "pyth", 4), strncmp(comm(), "python3", 100), strncmp(comm(), "pythoX", 6),
    strcontains(comm(), "thon"), strcontains(comm(), "java"), strcontains(p, comm()), strncmp(p, "/tmp/", 5), strncmp(p, ${JSON.stringify(path)}, 100));
})`;
      for (const backend of ["own", "llvm"] as const) {
        if (backend === "llvm" && noLlvm) continue;
        const r = spawnSync(process.execPath, [...CLI, "run", "--no-cache", "--backend", backend, "-e", probe, "-c", `python3 ${join(dir, "open.py")} ${path}`], { encoding: "utf8", env, timeout: 60_000 });
        assert.equal(r.status, 0, r.stderr);
        // bpftrace 0.17 (BPFTRACE_STRLEN=48) printed `0 0 1 1 0|1 0 0` for `tracepoint:syscalls:sys_enter_openat
        // /pid == cpid/ { $p = str(args->filename); printf(..., strncmp(comm, "pyth", 4), strncmp(comm, "python3", 100),
        // strncmp(comm, "pythoX", 6), strcontains(comm, "thon"), strcontains(comm, "java"), strcontains($p, comm),
        // strncmp($p, "/tmp/", 5), strncmp($p, PATH, 100)); }` on the same script opening PATH.
        assert.equal(r.stdout, "0 0 1 1 0|1 0 0\n", backend);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
