// Module-level functions returning memory (a struct, Str<N> or Arr<T, N>): inlined, each call fills a zeroed
// stack value of the caller's, whatever return (or expression body) it takes; results bind to names, pass to
// map and ring buffer methods, and nest. Checked in the simulator, and the object loads into the kernel.

import { test } from "node:test";
import assert from "node:assert/strict";
import { compile } from "../../compiler/index.js";
import { loadObject, openObject } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";

const SOURCE = `import { kprobe, RingBuf, printk, type u8, type u32, type Str, type Arr } from "tsbpf";
export const license = "GPL";
interface Ev { pid: u32; kind: u8; name: Str<8>; vals: Arr<u32, 3> }
export const events = new RingBuf<Ev>(4096);
function event(pid: u32, kind: u8): Ev {
  if (kind > 5) return { pid, kind: 5, name: "many", vals: [1, 2, 3] };
  const e: Ev = { pid, kind, name: "few", vals: [kind, kind, kind] };
  return e;
}
const named = (name: Str<8>): Str<8> => name;
function triple(x: u32): Arr<u32, 3> { return [x, x * 2, x * 3]; }
function wrapped(pid: u32): Ev {
  const e = event(pid, 9);
  e.vals = triple(pid);
  return e;
}
export const probe = kprobe("f", (x: u32) => {
  events.output(event(x, 2));
  events.output(event(x, 7));
  const w: Ev = wrapped(x);
  w.name = named("w");
  events.output(w);
  const t = triple(x);
  printk(\`\${t[2]} \${named("n")}\`);
  return 0;
});
`;

test("functions return structs, strings and arrays by filling the caller's value", async () => {
  const sim = await simulate({ fileName: "functions.ts", text: SOURCE });
  sim.kprobe("f", { args: [10] });
  assert.deepEqual(sim.events("events"), [
    { pid: 10, kind: 2, name: "few", vals: [2, 2, 2] },
    { pid: 10, kind: 5, name: "many", vals: [1, 2, 3] },
    { pid: 10, kind: 5, name: "w", vals: [10, 20, 30] },
  ]);
  assert.deepEqual(sim.trace(), ["30 n"]);
});

const sys = openSys();
test("the kernel's verifier accepts them", { skip: missingRoot() ?? missingBpf(sys) ?? false }, () => {
  const r = compile({ fileName: "functions.ts", text: SOURCE });
  assert.deepEqual(r.diagnostics, []);
  loadObject(sys, openObject(r.object, { name: "functions" })).close();
});

test("a function returning memory needs its type written, and its result is no integer", () => {
  const diagnose = (text: string) =>
    compile({ fileName: "f.ts", text: `import { kprobe, type u32, type Str } from "tsbpf";\nexport const license = "GPL";\ninterface Ev { pid: u32 }\n${text}` }).diagnostics.map((d) => `${d.code}: ${d.message}`);
  assert.deepEqual(diagnose(`function mk(pid: u32) { const e: Ev = { pid }; return e; }\nexport const p = kprobe("f", (x: u32) => { const e: Ev = mk(x); return e.pid; });\n`), [
    "TSBPF1018: `mk` returns a value: annotate its return type (u8..i64, boolean, a struct's interface, Str<N>, Arr<T, N>)",
  ]);
  assert.deepEqual(diagnose(`function mk(pid: u32): Ev { return { pid }; }\nexport const p = kprobe("f", (x: u32) => { if (mk(x)) return 1; return 0; });\n`), []);
});

test("optional and rest parameters are named as unsupported, not as a call given too few or too many arguments", () => {
  const diagnose = (fn: string, call: string) =>
    compile({ fileName: "f.ts", text: `import { kprobe, type u32 } from "tsbpf";\nexport const license = "GPL";\n${fn}\nexport const p = kprobe("f", (x: u32) => ${call});\n` }).diagnostics.map((d) => `${d.code}: ${d.message}`);
  const cases: [string, string, string][] = [
    ["function f(a?: u32): u32 { return 1; }", "f()", "TSBPF1001: optional parameters are not supported: a function is inlined, and each call gives every parameter a value"],
    ["function f(...a: u32[]): u32 { return 0; }", "f(1, 2)", "TSBPF1001: rest parameters are not supported"],
  ];
  for (const [fn, call, message] of cases) assert.deepEqual(diagnose(fn, call).filter((d) => d.startsWith("TSBPF")), [message], fn);
});

test("functions that each call the next twice are refused once the handler passes 1,000 inlined calls, rather than copied for minutes", () => {
  const chain = Array.from({ length: 20 }, (_, i) => `function f${i}(a: u32): u32 { return f${i + 1}(a) + f${i + 1}(a + 1); }`).join("\n");
  const text = `import { kprobe, type u32 } from "tsbpf";\nexport const license = "GPL";\n${chain}\nfunction f20(a: u32): u32 { return a; }\nexport const p = kprobe("f", (x: u32) => f0(x));\n`;
  const started = performance.now();
  const r = compile({ fileName: "f.ts", text }, { arch: "x86_64" });
  assert.deepEqual(r.diagnostics.map((d) => `${d.line} ${d.code}: ${d.message}`), [
    "21 TSBPF1024: this handler makes more than 1000 function calls once its functions' calls are counted (each call is a copy of the function's body, and the calls in it copy theirs): call functions from fewer places, or from a loop",
  ]);
  assert.ok(performance.now() - started < 10_000, "refused without copying 2^20 bodies");
});

test("an error in a function's body is reported once, however many calls inline it", () => {
  const text = `import { kprobe, tracepoint, type u32 } from "tsbpf";
export const license = "GPL";
function bad(x: u32): u32 { while (x > 1) x = x / 2; return x; }
export const p = kprobe("f", (x: u32) => bad(x) + bad(x + 1));
export const q = kprobe("g", (x: u32) => bad(x));
`;
  const r = compile({ fileName: "f.ts", text });
  assert.deepEqual(r.diagnostics.map((d) => `${d.code} ${d.line}:${d.column}`), ["TSBPF1022 3:29"]);
});

// A function typed `T | null` gives a pointer, as C's `struct val *get(...)`: a map lookup, a reservation or null.
const POINTERS = `import { kprobe, HashMap, RingBuf, type u32, type u64 } from "tsbpf";
export const license = "GPL";
interface Stats { calls: u64; last: u32 }
export const stats = new HashMap<u32, Stats>(8);
export const counts = new HashMap<u32, u64>(8);
export const events = new RingBuf<Stats>(4096);
function getOrInit(k: u32): Stats | null {
  const s = stats.lookup(k);
  if (s !== null) return s;
  if (k > 100) return null;
  stats.update(k, { calls: 0, last: 0 });
  return stats.lookup(k);
}
const countOf = (k: u32): u64 | null => counts.lookup(k);
function record(): Stats | null { return events.reserve(); }
export const probe = kprobe("f", (k: u32) => {
  const s = getOrInit(k);
  if (s === null) return 1;
  s.calls++;
  s.last = k;
  let c = countOf(k);
  if (c !== null) c += s.calls;
  const e = record();
  if (e === null) return 2;
  e.calls = s.calls;
  events.submit(e);
  return 0;
});
`;

test("a function typed `T | null` returns a lookup, a reservation or null", async () => {
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "pointers.ts", text: POINTERS }, { arch: "x86_64", backend });
    assert.deepEqual(r.diagnostics, []);
    const sim = await simulate(r.object, { arch: "x86_64", name: "pointers" });
    sim.map("counts").set(3, 10n);
    assert.equal(sim.kprobe("f", { args: [3] }).r0, 0n);
    assert.equal(sim.kprobe("f", { args: [3] }).r0, 0n);
    assert.equal(sim.kprobe("f", { args: [500] }).r0, 1n, "null: no entry made");
    assert.deepEqual(sim.map("stats").toMap(), new Map([[3, { calls: 2n, last: 3 }]]), backend);
    assert.deepEqual(sim.map("counts").get(3), 13n, "10 + 1 + 2");
    assert.deepEqual(sim.events("events"), [{ calls: 1, last: 0 }, { calls: 2, last: 0 }]);
    if (backend === "own" && !(missingRoot() ?? missingBpf(sys))) loadObject(sys, openObject(r.object, { name: "pointers" })).close();
  }
  const local = compile({ fileName: "p.ts", text: POINTERS.replace("  return stats.lookup(k);\n}", "  const mine: Stats = { calls: 1, last: 1 };\n  return mine;\n}") });
  assert.deepEqual(local.diagnostics.map((d) => `${d.code}: ${d.message}`), [
    "TSBPF1001: a function typed `T | null` returns a map lookup, a ring buffer reservation or null: memory of its own would not outlive the call",
  ]);
});

test("a map as a function's parameter is TSBPF1007 saying maps are module-level names, not a list of integer types", () => {
  const text = `import { uprobe, HashMap, pidTgid, type u32, type u64 } from "tsbpf";
export const license = "GPL";
const reads = new HashMap<u32, u64>(16);
function put(m: HashMap<u32, u64>, v: u64) { m.update(pidTgid() as u32, v); }
export const p = uprobe("libc.so.6", "free", (x: u64) => put(reads, x));
`;
  const d = compile({ fileName: "maps.ts", text }).diagnostics.map((x) => `${x.line}:${x.column} ${x.code}: ${x.message}`);
  assert.deepEqual(d, ["4:17 TSBPF1007: a map cannot be a parameter or a value: maps are module-level constants, named where they are used (to act on one of several, pass a flag and choose the map inside, or keep one map keyed by the choice)"]);
});

// A probe's handler may be a module-level function named in place of an arrow function, as a bpftrace probe list
// shares one action block: each probe lowers its body as a program of its own.
const SHARED = `import { kprobe, profile, begin, probe, printf, Count, type ProbeName, type u32 } from "tsbpf";
export const license = "GPL";
export const calls = new Count<ProbeName>(8);
export const sizes = new Count<u32>(8);
function count() { calls.increment(probe()); }
const size = (n: u32) => { sizes.increment(n); if (n > 100) return; calls.increment(probe()); };
function hello(): void { printf("hello\\n"); }
export const f = kprobe("f", count);
export const g = kprobe("g", count);
export const h = kprobe("h", size);
export const i = kprobe("i", size);
export const tick = profile(99, count);
export const hi = begin(hello);
`;

test("a module-level function, declared or a const arrow function, is the handler of every probe that names it", async () => {
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "shared.ts", text: SHARED }, { arch: "x86_64", backend });
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(r.programs.map((p) => p.name), ["f", "g", "h", "i", "tick", "hi"]);
    const sim = await simulate(r.object, { arch: "x86_64", name: "shared" });
    sim.begin();
    assert.equal(sim.output(), "hello\n");
    sim.kprobe("f");
    sim.kprobe("g");
    sim.kprobe("g");
    sim.kprobe("h", { args: [7] });
    sim.kprobe("i", { args: [700] });
    sim.profile();
    assert.deepEqual(sim.map("calls").toMap(), new Map([["kprobe:f", 1n], ["kprobe:g", 2n], ["kprobe:h", 1n], ["profile:hz:99", 1n]]), backend);
    assert.deepEqual(sim.map("sizes").toMap(), new Map([[7, 1n], [700, 1n]]));
    if (backend === "own" && !(missingRoot() ?? missingBpf(sys))) loadObject(sys, openObject(r.object, { name: "shared" })).close();
  }
});

test("a shared handler's error is reported once; a handler that is neither written in place nor a module-level function's name is TSBPF1008", () => {
  const text = `import { kprobe, type u32 } from "tsbpf";
export const license = "GPL";
function bad(x: u32) { while (x > 1) x = x / 2; }
function make() { return (x: u32) => 0; }
export const p = kprobe("f", bad);
export const q = kprobe("g", bad);
export const r = kprobe("h", make());
`;
  const d = compile({ fileName: "f.ts", text }).diagnostics.map((x) => `${x.code} ${x.line}:${x.column}`);
  assert.deepEqual(d, ["TSBPF1022 3:24", "TSBPF1008 7:30"]);
});
