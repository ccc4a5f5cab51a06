// Str<N> comparisons and inspection: `===`/`!==` with a literal (either side) and between two Str
// values of any sizes, startsWith, charCodeAt with constant and variable indexes, `switch` with string
// cases, on locals, struct
// fields, map values and an inline comm(), in conditions and as boolean values. Run in the simulator
// (the VM, after the verifier model) with chosen task names and user strings, loaded into the kernel,
// and run from a live tracepoint; unsupported string operations are diagnostics (fixtures/err-strings).

import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { loadObject, MapView, mapBtfTypes, openObject } from "../../runtime/loader/index.js";
import { BpfLoadError, missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate, type Simulation } from "../../runtime/test/index.js";
import { noLlvm } from "../llvm/support.js";

const SOURCE = `
import { kprobe, comm, readUserStr, HashMap, ArrayMap, type Arr, type Str, type Ptr, type u8, type u32 } from "tsbpf";
export const license = "GPL";
interface Named { pid: u32; name: Str<16> }
export const byKey = new HashMap<u32, Named>(4);
export const short = new ArrayMap<Str<4>>(1);
interface Names { n: Arr<Str<10>, 3> }
interface Holder { s: Str<10> }
export const names = new ArrayMap<Names>(1);
function isShell(s: Str<16>): boolean { return s === "bash" || s === "sh"; }

export const inlineComm = kprobe("f", () => { if (comm() !== "bash") return 0; return 1; });
export const literalLeft = kprobe("f", () => { const c = comm(); return "bash" === c ? 1 : 2; });
export const empty = kprobe("f", (p: Ptr<u8>) => { const s: Str<8> = readUserStr(p); return s === "" ? 1 : 2; });
export const asValue = kprobe("f", () => { const c = comm(); const rm: boolean = c === "rm"; const other = c !== "rm"; return (rm ? 10 : 0) + (other ? 1 : 0); });
export const viaFunction = kprobe("f", () => { const c = comm(); return isShell(c) ? 1 : 2; });
export const field = kprobe("f", () => { const n: Named = { pid: 1, name: comm() }; return n.name === "rm" ? 1 : 2; });
export const mapValue = kprobe("f", () => {
  byKey.update(7, { pid: 2, name: comm() });
  const v = byKey.lookup(7);
  if (v === null) return 3;
  return v.name === "rm" ? 1 : 2;
});
export const twoSizes = kprobe("f", (p: Ptr<u8>) => { const c = comm(); const path: Str<64> = readUserStr(p); return c === path ? 1 : 2; });
export const twoLong = kprobe("f", (p: Ptr<u8>, q: Ptr<u8>) => { const a: Str<64> = readUserStr(p); const b: Str<48> = readUserStr(q); return a !== b ? 2 : 1; });
export const shortFull = kprobe("f", () => { const v = short.lookup(0); if (v === null) return 3; const c = comm(); return v === c ? 1 : v === "ab" ? 4 : 2; });
// Elements of 10 bytes at a variable index: addresses of unknown alignment, read a byte at a time.
export const element = kprobe("f", (i: u32) => { const xs: Arr<Str<10>, 3> = ["a", "abcdefgh", "c"]; return xs[i] === "abcdefgh" ? 1 : 2; });
export const elementInMap = kprobe("f", (i: u32) => { const v = names.lookup(0); if (v === null) return 3; return v.n[i] === "abcdefgh" ? 1 : v.n[i] === comm() ? 4 : 2; });
export const copiedElement = kprobe("f", (i: u32) => { const xs: Arr<Str<10>, 3> = ["a", "abcdefgh", "c"]; const h: Holder = { s: xs[i] }; return h.s === "abcdefgh" ? 1 : 2; });
export const prefix = kprobe("f", (p: Ptr<u8>) => { const path: Str<64> = readUserStr(p); if (path.startsWith("/tmp/")) return 1; return 2; });
// bpftrace's \`str(p) == "/tmp"\`: an inline read compares through a 64-byte copy, as its str() reads.
export const inlineRead = kprobe("f", (p: Ptr<u8>) => (readUserStr(p) === "/tmp" ? 1 : readUserStr(p).startsWith("/tmp/") ? 3 : 2));
export const prefixValue = kprobe("f", () => { const py: boolean = comm().startsWith("python"); return py ? 1 : 2; });
export const charConstant = kprobe("f", () => { const c = comm(); return c.charCodeAt(0) + c.charCodeAt(15) * 1000; });
export const charVariable = kprobe("f", (i: u32) => { const c = comm(); return c.charCodeAt(i) + 1000; });
export const switched = kprobe("f", () => {
  switch (comm()) {
    case "bash":
    case "sh":
      return 1;
    case "python3":
      return 2;
    default:
      return 3;
  }
});
export const charField = kprobe("f", (i: u32) => { const n: Named = { pid: 1, name: comm() }; const first: u8 = n.name.charCodeAt(0); return first === n.name.charCodeAt(i) ? 1 : 2; });
`;

/** Runs one program of SOURCE as the task `comm`, with kprobe arguments, and gives r0. */
function run(sim: Simulation, program: string, comm: string, args: (bigint | number | ReturnType<Simulation["kernel"]["userString"]>)[] = []): bigint {
  return sim.kprobe("f", { program, comm, args }).r0;
}

/** The programs of SOURCE as compiled by `backend`, each run on the cases below; gives the disagreements with the expected r0. */
async function wrongResults(backend: "own" | "llvm"): Promise<string[]> {
  const r = compile({ fileName: "strings.ts", text: SOURCE }, { arch: "x86_64", backend });
  assert.deepEqual(r.diagnostics, []);
  const sim = await simulate(r.object, { arch: "x86_64", name: "strings" });
  const user = (s: string) => sim.kernel.userString(s);
  sim.map("short").set(0, new TextEncoder().encode("abcd"));
  sim.map("names").set(0, { n: ["x", "abcdefgh", "rm"] });
  const cases: [program: string, comm: string, args: Parameters<typeof run>[3], want: bigint][] = [
    ["inlineComm", "bash", [], 1n],
    ["inlineComm", "bash2", [], 0n], // the literal is a prefix: the NUL after it does not match
    ["inlineComm", "bas", [], 0n],
    ["inlineComm", "zsh", [], 0n],
    ["literalLeft", "bash", [], 1n],
    ["literalLeft", "basH", [], 2n],
    ["empty", "x", [user("")], 1n],
    ["empty", "x", [user("a")], 2n],
    ["asValue", "rm", [], 10n],
    ["asValue", "rmdir", [], 1n],
    ["viaFunction", "sh", [], 1n],
    ["viaFunction", "bash", [], 1n],
    ["viaFunction", "ssh", [], 2n],
    ["field", "rm", [], 1n],
    ["field", "r", [], 2n],
    ["mapValue", "rm", [], 1n],
    ["mapValue", "rmm", [], 2n],
    ["twoSizes", "rm", [user("rm")], 1n],
    ["twoSizes", "rm", [user("rm2")], 2n],
    ["twoSizes", "rm", [user("r")], 2n],
    ["twoSizes", "a-very-long-task-name", [user("a-very-long-tas")], 1n], // comm keeps 15 bytes and its NUL
    ["twoSizes", "a-very-long-task-name", [user("a-very-long-task")], 2n],
    ["shortFull", "abcd", [], 1n], // set below: a Str<4> holding "abcd" without a NUL
    ["shortFull", "abcde", [], 2n], // the longer one's byte after the shared four is not its NUL
    ["shortFull", "abc", [], 2n],
    ["element", "x", [1], 1n],
    ["element", "x", [2], 2n],
    ["element", "x", [3], 0n],
    ["elementInMap", "x", [1], 1n],
    ["elementInMap", "rm", [2], 4n],
    ["elementInMap", "rm", [0], 2n],
    ["copiedElement", "x", [1], 1n],
    ["copiedElement", "x", [0], 2n],
    // 40 shared bytes: compared in a loop (longer than the unrolled size).
    ["twoLong", "x", [user("/usr/lib/python3/dist-packages/abc/de.py"), user("/usr/lib/python3/dist-packages/abc/de.py")], 1n],
    ["twoLong", "x", [user("/usr/lib/python3/dist-packages/abc/de.py"), user("/usr/lib/python3/dist-packages/abc/de.pz")], 2n],
    ["twoLong", "x", [user("/usr/lib/python3/dist-packages/abc/de.py"), user("/usr/lib/python3/dist-packages/abc/de.p")], 2n],
    ["twoLong", "x", [user(""), user("")], 1n],
    ["prefix", "x", [user("/tmp/x")], 1n],
    ["prefix", "x", [user("/tmp/")], 1n],
    ["prefix", "x", [user("/tmpx")], 2n],
    ["prefix", "x", [user("/tm")], 2n],
    ["inlineRead", "x", [user("/tmp")], 1n],
    ["inlineRead", "x", [user("/tmp/x")], 3n],
    ["inlineRead", "x", [user("/tm")], 2n],
    ["inlineRead", "x", [user(`/tmp${"x".repeat(70)}`)], 2n], // the copy's 63 bytes hold "/tmp" and more
    ["prefixValue", "python3", [], 1n],
    ["prefixValue", "python", [], 1n],
    ["prefixValue", "pytho", [], 2n],
    ["charConstant", "rm", [], 114n],
    ["charConstant", "a-very-long-task-name", [], 97n], // byte 15 is the NUL
    ["charVariable", "rm", [1], 1109n],
    ["charVariable", "rm", [15], 1000n],
    ["charVariable", "rm", [16], 0n], // out of range: the handler returns 0, as for Arr indexes
    ["charVariable", "rm", [0xffffffff], 0n],
    ["switched", "bash", [], 1n],
    ["switched", "sh", [], 1n],
    ["switched", "python3", [], 2n],
    ["switched", "python", [], 3n],
    ["switched", "bash2", [], 3n],
    ["charField", "aba", [2], 1n],
    ["charField", "aba", [1], 2n],
  ];
  return cases.flatMap(([program, comm, args, want]) => {
    const got = run(sim, program, comm, args);
    return got === want ? [] : [`${program} as ${JSON.stringify(comm)}: got ${got}, want ${want}`];
  });
}

test("Str comparisons, startsWith and charCodeAt compute what C's string functions do (in the simulator)", async () => {
  assert.deepEqual(await wrongResults("own"), []);
});

test("the LLVM backend compiles string comparisons to the same results", { skip: noLlvm }, async () => {
  assert.deepEqual(await wrongResults("llvm"), []);
});

test("`c ? a : b` fills a Str, struct or array with the branch taken (both backends)", async () => {
  const text = `import { kprobe, RingBuf, comm, type u32, type Str, type Arr } from "tsbpf";
export const license = "GPL";
interface Named { id: u32; name: Str<16> }
interface Ev { size: Str<8>; who: Named; pair: Arr<u32, 2> }
export const events = new RingBuf<Ev>(4096);
export const p = kprobe("f", (x: u32) => {
  const label: Str<8> = x > 2 ? "big" : "small";
  const mine: Named = { id: x, name: comm() };
  const e: Ev = { size: label, who: x === 1 ? mine : { id: 0, name: x > 2 ? comm() : "none" }, pair: x > 2 ? [x, 1] : [2, x] };
  events.output(e);
  return 0;
});
`;
  for (const backend of ["own", "llvm"] as const) {
    if (backend === "llvm" && noLlvm) continue;
    const r = compile({ fileName: "cond.ts", text }, { arch: "x86_64", backend });
    assert.deepEqual(r.diagnostics, []);
    const sim = await simulate(r.object, { arch: "x86_64", name: "cond" });
    for (const x of [1, 2, 3]) sim.kprobe("f", { args: [x], comm: "sh" });
    assert.deepEqual(sim.events("events"), [
      { size: "small", who: { id: 1, name: "sh" }, pair: [2, 1] },
      { size: "small", who: { id: 0, name: "none" }, pair: [2, 2] },
      { size: "big", who: { id: 0, name: "sh" }, pair: [3, 1] },
    ], backend);
    if (!noKernel) loadObject(sys, openObject(r.object, { name: "cond" })).close();
  }
});

test("string comparisons type-check in TypeScript: comm() with a literal, two Str sizes, startsWith, charCodeAt", () => {
  const r = compile({ fileName: "strings.ts", text: SOURCE }, { arch: "x86_64" });
  assert.deepEqual(r.diagnostics.map((d) => `${d.code} ${d.message}`), []);
});

const sys = openSys();
const noKernel = missingRoot() ?? missingBpf(sys);

test("the kernel's verifier accepts every string comparison program", { skip: noKernel }, () => {
  const r = compile({ fileName: "strings.ts", text: SOURCE }, { arch: "x86_64" });
  assert.deepEqual(r.diagnostics, []);
  try {
    loadObject(sys, openObject(r.object, { name: "strings" })).close();
  } catch (error) {
    if (error instanceof BpfLoadError) assert.fail(`rejected:\n${error.log}`);
    throw error;
  }
});

const TRACEPOINT = (dir: string) => `
import { tracepoint, comm, pidTgid, readUserStr, ArrayMap, type Str, type u32 } from "tsbpf";
export const license = "GPL";
export const counts = new ArrayMap<u32>(4);
export const p = tracepoint("syscalls", "sys_enter_openat", (ctx) => {
  if ((pidTgid() >> 32) !== ${process.pid}) return 0;
  const path: Str<128> = readUserStr(ctx.filename);
  if (!path.startsWith(${JSON.stringify(dir)})) return 0;
  counts.increment(0);
  if (comm() === ${JSON.stringify(ownComm())}) counts.increment(1);
  if (comm() !== "not-this-task") counts.increment(2);
  const copy: Str<128> = readUserStr(ctx.filename);
  if (copy === path && path.charCodeAt(0) === 47) counts.increment(3);
  return 0;
});
`;

/** This process's task name (the main thread's, which opens the files below). */
function ownComm(): string {
  return readFileSync("/proc/self/comm", "utf8").trim();
}

test("from the kernel: a tracepoint filters on its path prefix and compares comm() with this process's name", { skip: noKernel }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-str-"));
  try {
    const r = compile({ fileName: "strings.ts", text: TRACEPOINT(dir) });
    assert.deepEqual(r.diagnostics, []);
    const loaded = loadObject(sys, openObject(r.object, { name: "strings" }));
    try {
      loaded.attachAll();
      closeSync(openSync(join(dir, "a"), "w"));
      closeSync(openSync(join(dir, "b"), "w"));
      const view = new MapView(sys, loaded.map("counts"), mapBtfTypes(loaded.spec, loaded.map("counts").spec));
      const count = (i: number): unknown => view.decodeValue(sys.mapLookup(view.fd, new Uint8Array(new Uint32Array([i]).buffer))!);
      assert.deepEqual([0, 1, 2, 3].map(count), [2, 2, 2, 2]);
    } finally {
      loaded.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a `let` Str is filled again by `s = comm()`, `s = readUserStr(p)`, `s = \"lit\"` and `s = other`, zeroed past what each writes", async () => {
  const text = `import { kprobe, printf, comm, readUserStr, HashMap, type Str, type Ptr, type u8, type u32 } from "tsbpf";
export const license = "GPL";
export const seen = new HashMap<Str<16>, u32>(8);
interface Rec { name: Str<16> }
export const p = kprobe("f", (which: u32, user: Ptr<u8>) => {
  let s: Str<16> = "long-default";
  const r: Rec = { name: "record" };
  let t: Str<16> = r.name;
  if (which === 1) s = comm();
  if (which === 2) s = readUserStr(user);
  if (which === 3) s = "lit";
  if (which === 4) s = t;
  t = "changed";
  printf("%s %s %s\\n", s, t, r.name);
  seen.increment(s, 1);
});
`;
  const sim = await simulate({ fileName: "refill.ts", text });
  const user = sim.kernel.userString("abc");
  for (const which of [0, 1, 2, 3, 4]) sim.kprobe("f", { args: [which, user], comm: "rm" });
  sim.kprobe("f", { args: [2, user], comm: "rm" });
  assert.equal(sim.output(), "long-default changed record\nrm changed record\nabc changed record\nlit changed record\nrecord changed record\nabc changed record\n");
  // The two reads of "abc" are one key: the default's bytes past "abc" were zeroed first.
  assert.equal(sim.map("seen").get("abc"), 2);
});

test("printf's %s takes a choice between string literals", async () => {
  const text = `import { kprobe, printf, type u32 } from "tsbpf";
export const license = "GPL";
export const p = kprobe("f", (flags: u32) => {
  printf("%s %s!\\n", (flags & 1) !== 0 ? "W" : "R", flags > 5 ? "big" : flags > 1 ? "middle" : "small");
});
`;
  const sim = await simulate({ fileName: "choice.ts", text });
  for (const flags of [0, 3, 6]) sim.kprobe("f", { args: [flags] });
  assert.equal(sim.output(), "R small!\nW middle!\nR big!\n");
});
