// C++ functions named as c++filt shows them: `uprobe(BIN, "app::W::leaf", h)` (a section `uprobe/BIN:app::W::leaf`
// split where the binary ends, not at its last ':'), an overload picked by its parameter list, several overloads
// refused with their signatures, globs over the demangled names, and `tsbpf list 'uprobe:BIN:app::*'`. A small C++
// program (a namespace, a class's method, two overloads, a template's two instances) is built with g++ or clang++;
// on this kernel, a run of it counts the calls of each function probed by name.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "../../compiler/index.js";
import { openObject } from "../../runtime/loader/index.js";
import { cxxMatcher, cxxParts } from "../../runtime/loader/cxx-names.js";
import { matchingCxxFunctions, splitUprobeTarget, symbolFileOffset } from "../../runtime/loader/elfsym.js";
import { formatProbe, globProbeCall, listProbes, parsePattern } from "../../cli/list.js";
import { missingBpf, missingRoot, openSys, pmuType } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const PROGRAM = `#include <cstdio>
namespace app {
struct W {
  int base;
  __attribute__((noinline)) int leaf(int x) { return base + x; }
};
__attribute__((noinline)) int over(int x) { return x + 1; }
__attribute__((noinline)) double over(double x) { return x * 2; }
template <typename T> __attribute__((noinline)) T twice(T x) { return x + x; }
}
int main(int argc, char **) {
  app::W w{argc};
  int s = 0;
  for (int i = 0; i < 3; i++) s += w.leaf(i);
  s += app::over(1) + (int)app::over(2.0) + app::twice<int>(3) + (int)app::twice<long>(4);
  std::printf("%d\\n", s);
  return 0;
}
`;

const compiler = ["g++", "clang++", "clang++-19"].find((c) => spawnSync(c, ["--version"]).status === 0);
const noCompiler = compiler ? false : "neither g++ nor clang++ is installed to build the C++ program";
const noCxxfilt = spawnSync("c++filt", ["--version"]).status === 0 ? false : "c++filt (binutils) is missing";
let dir = "";
let binary = "";

before(() => {
  dir = mkdtempSync(join(tmpdir(), "tsbpf-cxx-"));
  if (!compiler) return;
  binary = join(dir, "app");
  writeFileSync(`${binary}.cc`, PROGRAM);
  const r = spawnSync(compiler, ["-O1", "-o", binary, `${binary}.cc`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The file offset of a mangled symbol, through the plain lookup. */
const at = (symbol: string) => symbolFileOffset(binary, symbol);

describe("C++ names", () => {
  it("part c++filt's text into the name (a template's return type left out) and the parameters", () => {
    assert.deepEqual(cxxParts("app::W::leaf(int)"), { name: "app::W::leaf", params: "(int)" });
    assert.deepEqual(cxxParts("long app::twice<long>(long)"), { name: "app::twice<long>", params: "(long)" });
    assert.deepEqual(cxxParts("std::vector<int, std::allocator<int> > app::make<int>(int)"), { name: "app::make<int>", params: "(int)" });
    assert.deepEqual(cxxParts("app::W::get() const"), { name: "app::W::get", params: "() const" });
    assert.deepEqual(cxxParts("(anonymous namespace)::f(char const*)"), { name: "(anonymous namespace)::f", params: "(char const*)" });
    assert.equal(cxxParts("app::over(int) [clone .cold]"), undefined, "a clone's part is not the function");
    assert.equal(cxxParts("main"), undefined);
  });

  it("match a name, a signature (spaces aside), a template by its bare name, and globs of them", () => {
    const cases: [pattern: string, matched: string[]][] = [
      ["app::W::leaf", ["app::W::leaf(int)"]],
      ["app::over", ["app::over(int)", "app::over(double)"]],
      ["app::over(int)", ["app::over(int)"]],
      ["app::pair(int,long)", ["app::pair(int, long)"]],
      ["app::twice", ["long app::twice<long>(long)", "int app::twice<int>(int)"]],
      ["app::twice<int>", ["int app::twice<int>(int)"]],
      ["app::twice(long)", ["long app::twice<long>(long)"]],
      ["app::W::*", ["app::W::leaf(int)"]],
      ["app::over(*)", ["app::over(int)", "app::over(double)"]],
    ];
    const all = ["app::W::leaf(int)", "app::over(int)", "app::over(double)", "app::pair(int, long)", "long app::twice<long>(long)", "int app::twice<int>(int)", "app::over(int) [clone .cold]", "main"];
    for (const [pattern, matched] of cases) assert.deepEqual(all.filter(cxxMatcher(pattern)), matched, pattern);
  });

  it("end the binary of BINARY:FUNCTION where an existing file's path ends, else at the first ':' outside a '::'", () => {
    assert.deepEqual(splitUprobeTarget("/no/such/app:app::W::leaf"), ["/no/such/app", "app::W::leaf"]);
    assert.deepEqual(splitUprobeTarget("libc.so.6:malloc"), ["libc.so.6", "malloc"]);
    assert.deepEqual(splitUprobeTarget("/no/such/app:0x10"), ["/no/such/app", "0x10"]);
    assert.equal(splitUprobeTarget("bash"), undefined);
    // A path holding ':' (rare, but legal): the file that exists.
    mkdirSync(join(dir, "a:b"));
    writeFileSync(join(dir, "a:b", "bin"), "");
    assert.deepEqual(splitUprobeTarget(`${dir}/a:b/bin:app::f`), [`${dir}/a:b/bin`, "app::f"]);
    assert.deepEqual(splitUprobeTarget(`${dir}/a:b/bin:main`), [`${dir}/a:b/bin`, "main"]);
  });

  it("reach the loader's attach target whole from a compiled uprobe(), and fire in the simulator by that name", async () => {
    const text = `import { uprobe, HashMap, type u32, type u64 } from "tsbpf";
export const license = "GPL";
export const calls = new HashMap<u32, u64>(4);
uprobe("/no/such/app", "app::W::leaf", () => { calls.increment(1); });
uprobe("/no/such/app", "app::over(int)+4", () => { calls.increment(2); });
`;
    const r = compile({ fileName: "cxx.ts", text });
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(r.programs.map((p) => p.section), ["uprobe//no/such/app:app::W::leaf", "uprobe//no/such/app:app::over(int)+4"]);
    const attach = openObject(r.object, { name: "cxx" }).programs.map((p) => p.attach);
    assert.deepEqual(attach, [
      { kind: "uprobe", binary: "/no/such/app", func: "app::W::leaf", offset: 0, retprobe: false },
      { kind: "uprobe", binary: "/no/such/app", func: "app::over(int)", offset: 4, retprobe: false },
    ]);
    const sim = await simulate({ fileName: "cxx.ts", text });
    sim.uprobe("app::W::leaf");
    sim.uprobe("/no/such/app:app::W::leaf");
    assert.deepEqual(sim.map("calls").get(1), 2n);
  });
});

describe("C++ functions of a built binary", { skip: noCompiler || noCxxfilt }, () => {
  it("resolve by name, by signature and by a template's arguments to their mangled symbols", () => {
    assert.equal(symbolFileOffset(binary, "app::W::leaf"), at("_ZN3app1W4leafEi"));
    assert.equal(symbolFileOffset(binary, "app::over(int)"), at("_ZN3app4overEi"));
    assert.equal(symbolFileOffset(binary, "app::over( double )"), at("_ZN3app4overEd"));
    assert.equal(symbolFileOffset(binary, "app::twice<long>"), at("_ZN3app5twiceIlEET_S1_"));
    assert.equal(symbolFileOffset(binary, "app::twice(int)"), at("_ZN3app5twiceIiEET_S1_"));
  });

  it("refuse several overloads in one sentence listing their parameters, and a misspelt name with the nearest", () => {
    assert.throws(() => symbolFileOffset(binary, "app::over"), {
      message: `app::over names 2 functions of ${binary}: app::over(double), app::over(int); name one with its parameter list (app::over(double)), or probe them all with a glob (app::over(*))`,
    });
    assert.throws(() => symbolFileOffset(binary, "app::twice"), { message: new RegExp(`^app::twice names 2 functions of .*: app::twice<int>\\(int\\), app::twice<long>\\(long\\);`) });
    assert.throws(() => symbolFileOffset(binary, "app::W::leef"), { message: `no function app::W::leef in the symbol tables of ${binary}; did you mean app::W::leaf(int)?` });
  });

  it("match globs over the demangled names, each function named by its signature", () => {
    assert.deepEqual(matchingCxxFunctions(binary, "app::*").map((f) => f.name).sort(), ["app::W::leaf(int)", "app::over(double)", "app::over(int)", "app::twice<int>(int)", "app::twice<long>(long)"]);
    assert.deepEqual(matchingCxxFunctions(binary, "app::over(*)").map((f) => f.offset).sort(), [at("_ZN3app4overEd"), at("_ZN3app4overEi")].sort());
  });

  it("are listed by tsbpf list 'uprobe:BIN:app::*' as uprobe() calls with their signatures", () => {
    const listed = (pattern: string) => [...listProbes(parsePattern(pattern))].map(formatProbe);
    assert.deepEqual(listed(`uprobe:${binary}:app::*`), [
      `uprobe("${binary}", "app::W::leaf(int)")`,
      `uprobe("${binary}", "app::over(double)")`,
      `uprobe("${binary}", "app::over(int)")`,
      `uprobe("${binary}", "app::twice<int>(int)")`,
      `uprobe("${binary}", "app::twice<long>(long)")`,
    ]);
    assert.deepEqual(listed(`uretprobe:${binary}:app::over(int)`), [`uretprobe("${binary}", "app::over(int)")`]);
    assert.ok(listed(`uprobe:${binary}:*`).includes(`uprobe("${binary}", "_ZN3app4overEi")`), "a plain glob lists the symbols");
    assert.equal(globProbeCall(`uprobe:${binary}:app::*`), `uprobe("${binary}", "app::*", () => ...)`);
    assert.throws(() => parsePattern(`uprobe:${binary}:a:b`), { message: `uprobe:${binary}:a:b has too many parts: a uprobe pattern is uprobe:BINARY[:FUNCTION]` });
    const r = spawnSync(process.execPath, [...CLI, "list", `uprobe:${binary}:app::W::leef`], { cwd: ROOT, encoding: "utf8", env: { ...process.env, NODE_EXTRA_CA_CERTS: "" } });
    assert.equal(r.stderr, `tsbpf: no probes match uprobe:${binary}:app::W::leef; did you mean uprobe:${binary}:app::W::leaf(int)?\n`);
  });
});

const noKernel = noCompiler || noCxxfilt || missingRoot() || missingBpf(openSys()) || (pmuType("uprobe") === undefined && "no uprobe PMU");

describe("C++ uprobes on this kernel", { skip: noKernel }, () => {
  const run = (text: string) => {
    const file = join(dir, `probe-${Math.random().toString(36).slice(2)}.ts`);
    writeFileSync(file, text);
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    return spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "-c", binary], { cwd: ROOT, encoding: "utf8", env, timeout: 60_000 });
  };

  it("count the calls of functions named as c++filt shows them", () => {
    const r = run(`import { uprobe, probe, HashMap, type ProbeName, type u32, type u64 } from "tsbpf";
export const license = "GPL";
export const calls = new HashMap<u32, u64>(8);
export const globbed = new HashMap<ProbeName, u64>(8);
uprobe(${JSON.stringify(binary)}, "app::W::leaf", () => { calls.increment(1); });
uprobe(${JSON.stringify(binary)}, "app::over(double)", () => { calls.increment(2); });
uprobe(${JSON.stringify(binary)}, "app::twice<long>", () => { calls.increment(3); });
uprobe(${JSON.stringify(binary)}, "app::twice(*)", () => { globbed.increment(probe()); });
`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`attached uprobe_1 to uprobe ${binary}:app::W::leaf\\n`));
    assert.deepEqual(r.stdout.split("\n").filter((l) => l.startsWith("@")).sort(), [
      "@calls[1]: 3",
      "@calls[2]: 1",
      "@calls[3]: 1",
      `@globbed[uprobe:${binary}:app::twice<int>(int)]: 1`,
      `@globbed[uprobe:${binary}:app::twice<long>(long)]: 1`,
    ]);
  });

  it("refuse an overloaded name with the overloads' signatures (exit 2)", () => {
    const r = run(`import { uprobe } from "tsbpf";
export const license = "GPL";
uprobe(${JSON.stringify(binary)}, "app::over", () => {});
`);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /cannot attach uprobe .*:app::over: app::over names 2 functions of .*: app::over\(double\), app::over\(int\); name one with its parameter list/);
  });
});
