// Maps, loops, switch, inlined functions, structs and strings in the kernel: compiled objects load through
// runtime/loader (BTF-defined `.maps` read by readBtfMaps, maps created, fds relocated into the programs)
// and through `bpftool prog loadall` (libbpf's loader); live tracepoint hits leave the expected map contents,
// and opensnoop's ring buffer carries typed events.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile, type CompileInput } from "../../compiler/index.js";
import { tracepointFormat, tracepointFormats } from "../support/fixture-kernel.js";
import { loadObject, openObject, RingBuffer, type LoadedObject } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";

const sys = openSys();
const noKernel = missingRoot() ?? missingBpf(sys);
const noBpftool = spawnSync("bpftool", ["version"]).status === 0 ? undefined : "bpftool is not installed";

const EXAMPLES = ["examples/opensnoop.ts", "examples/latency.ts", "examples/tcpretrans.ts"];

function build(input: CompileInput): Uint8Array {
  const r = compile(input);
  assert.deepEqual(r.diagnostics.map((d) => `${d.code} ${d.line}:${d.column} ${d.message}`), [], "does not compile");
  return r.object;
}

function withLoaded(object: Uint8Array, work: (loaded: LoadedObject) => void): void {
  const loaded = loadObject(sys, openObject(object, { name: "t" }));
  try {
    work(loaded);
  } finally {
    loaded.close();
  }
}

const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const u64At = (b: Uint8Array | undefined, at = 0): bigint => (b ? new DataView(b.buffer, b.byteOffset).getBigUint64(at, true) : -1n);

for (const path of EXAMPLES) {
  test(`${path} loads through runtime/loader (BTF-defined maps created, fds relocated)`, { skip: noKernel }, () => {
    withLoaded(build(path), (loaded) => assert.ok(loaded.programs.size > 0));
  });
}

test("bpftool prog loadall accepts the map examples (libbpf reads the .maps BTF)", { skip: noKernel ?? noBpftool }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-maps-"));
  try {
    for (const path of EXAMPLES) {
      const object = join(dir, "probe.bpf.o");
      writeFileSync(object, build(path));
      const pins = `/sys/fs/bpf/tsbpf-maps-${process.pid}`;
      try {
        execFileSync("bpftool", ["prog", "loadall", object, pins], { stdio: ["ignore", "pipe", "pipe"] });
        assert.ok(readdirSync(pins).length > 0);
      } catch (error) {
        const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
        assert.fail(`bpftool prog loadall ${path} failed:\n${stderr || String(error)}`);
      } finally {
        rmSync(pins, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Every map kind and statement form, counting this process's openat(2) calls.
const PROBE = (pid: number): string => `
import { tracepoint, pidTgid, comm, HashMap, ArrayMap, PerCpuArrayMap, PerCpuHashMap, LruHashMap, PerfEventArray, StackTraceMap, Histogram, type u32, type u64, type Str, type Arr } from "tsbpf";
export const license = "GPL";
const PID = ${pid};
interface Seen { calls: u64; last: u32; name: Str<16>; squares: Arr<u32, 4> }
export const counts = new HashMap<u32, u64>(64);
export const seen = new HashMap<u32, Seen>(64);
export const slots = new ArrayMap<u64>(8);
export const scratch = new PerCpuArrayMap<Seen>(1);
export const perCpu = new PerCpuHashMap<u32, u64>(16);
export const lru = new LruHashMap<u32, u64>(16);
export const perf = new PerfEventArray<Seen>();
export const stacks = new StackTraceMap(128);
export const hist = new Histogram();

function classify(n: u64): u32 {
  switch (n) {
    case 0: return 0;
    case 1: case 2: return 1;
    default: return n < 10 ? 2 : 3;
  }
}

// Three programs on one tracepoint (each checked on its own, so each stays small for the verifiers).
export const counting = tracepoint("syscalls", "sys_enter_openat", () => {
  const pid = pidTgid() >> 32;
  if (pid !== PID) return 0;
  counts.increment(pid);
  const n = counts.lookup(pid) ?? 0;
  slots.increment(classify(n));
  let sum: u64 = 0;
  for (let i = 0; i < 8; i++) {
    if (i === 5) break;
    if (i % 2 === 1) continue;
    sum += i; // 0 + 2 + 4
  }
  slots.update(7, sum);
  lru.update(pid, n);
  return 0;
});

export const structs = tracepoint("syscalls", "sys_enter_openat", () => {
  const pid = pidTgid() >> 32;
  if (pid !== PID) return 0;
  let calls: u64 = 1;
  const old = seen.lookup(pid);
  if (old !== null) calls = old.calls + 1;
  const s: Seen = { calls, last: 7, name: comm(), squares: [0, 0, 0, 0] };
  for (let i: u32 = 0; i < 4; i++) s.squares[i] = i * i;
  seen.update(pid, s);
  const now = seen.lookup(pid);
  if (now) now.last = 9;
  return 0;
});

export const others = tracepoint("syscalls", "sys_enter_openat", () => {
  if (pidTgid() >> 32 !== PID) return 0;
  hist.record(1000);
  hist.record(0);
  perCpu.increment(1, 2);
  stacks.getStackId(0);
  const tmp = scratch.lookup(0);
  if (tmp) {
    tmp.calls = 3;
    perf.output(tmp);
  }
  return 0;
});
`;

test("live tracepoint hits leave the expected map contents", { skip: noKernel }, () => {


  const object = build({ fileName: "live.ts", text: PROBE(process.pid) });
  withLoaded(object, (loaded) => {
    loaded.attachAll();
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-live-"));
    try {
      for (let i = 0; i < 5; i++) closeSync(openSync(join(dir, `f${i}`), "w"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const fd = (name: string): number => loaded.map(name).fd;
    const calls = u64At(sys.mapLookup(fd("counts"), u32(process.pid)));
    assert.ok(calls >= 5n, `counts[pid] = ${calls}`);
    const bySlot = [0, 1, 2, 3].map((k) => u64At(sys.mapLookup(fd("slots"), u32(k))));
    assert.equal(bySlot[0], 0n);
    assert.equal(bySlot[1], 2n); // n = 1 and 2
    assert.equal(bySlot[1]! + bySlot[2]! + bySlot[3]!, calls);
    assert.equal(u64At(sys.mapLookup(fd("slots"), u32(7))), 6n);
    const s = sys.mapLookup(fd("seen"), u32(process.pid))!;
    // struct Seen { u64 calls; u32 last; char name[16]; u32 squares[4]; } = 8 + 4 + 16 + 16 = 44, padded to 48.
    assert.equal(s.length, 48);
    // Programs attach one at a time, so an open between two attachments counts in one map only.
    assert.ok(u64At(s) >= 5n && u64At(s) <= calls, `seen.calls = ${u64At(s)}`);
    assert.equal(new DataView(s.buffer, s.byteOffset).getUint32(8, true), 9);
    assert.equal(new TextDecoder().decode(s.subarray(12, 28)).replace(/\0+$/, ""), readFileSync("/proc/self/comm", "utf8").trim());
    assert.deepEqual([0, 1, 2, 3].map((i) => new DataView(s.buffer, s.byteOffset).getUint32(28 + 4 * i, true)), [0, 1, 4, 9]);
    // record(1000) lands in slot 10 ([512, 1K)), record(0) in slot 0, once per hit.
    const hist = Array.from({ length: 66 }, (_, k) => u64At(sys.mapLookup(fd("hist"), u32(k))));
    assert.ok(hist[0]! >= 5n);
    assert.equal(hist[10], hist[0]);
    assert.equal(hist.reduce((a, b) => a + b, 0n), 2n * hist[0]!);
    // The comm check above opened /proc/self/comm: compare with the count now.
    assert.equal(u64At(sys.mapLookup(fd("lru"), u32(process.pid))), u64At(sys.mapLookup(fd("counts"), u32(process.pid))));
  });
});

test("opensnoop's ring buffer carries typed events for this process's opens", { skip: noKernel }, () => {
  withLoaded(build("examples/opensnoop.ts"), (loaded) => {
    const ring = RingBuffer.open(sys, loaded.map("events").fd);
    try {
      loaded.attachAll();
      const dir = mkdtempSync(join(tmpdir(), "tsbpf-snoop-"));
      const path = join(dir, "marker-file");
      try {
        closeSync(openSync(path, "w"));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const mine = ring.read().map((r) => {
        const v = new DataView(r.buffer, r.byteOffset);
        const str = (at: number, n: number): string => new TextDecoder().decode(r.subarray(at, at + n)).replace(/\0.*$/s, "");
        return { pid: v.getUint32(0, true), flags: v.getInt32(8, true), filename: str(28, 128) };
      }).filter((e) => e.pid === process.pid && e.filename === path);
      assert.equal(mine.length, 1);
      assert.ok(mine[0]!.flags & 0o100, "O_CREAT");
    } finally {
      ring.close();
    }
  });
});

// A lookup of an integer value is the map's value in place: `c += n` and `c++` write the map, as C's `*c += n`.
const SLOT_SOURCE = `import { kprobe, printk, ArrayMap, PerCpuArrayMap, HashMap, type u32, type u64 } from "tsbpf";
export const license = "GPL";
export const counts = new PerCpuArrayMap<u64>(2);
export const totals = new HashMap<u32, u64>(4);
export const flags = new ArrayMap<u32>(1);
function bump(kind: u32, by: u64) {
  let c = counts.lookup(kind);
  if (c !== null) {
    c += by;
    printk(\`count \${c}\`);
  }
  let t = totals.lookup(kind);
  if (t === null) return;
  t++;
  t *= 3;
}
export const probe = kprobe("f", (by: u64) => {
  bump(0, by);
  bump(1, 1);
  let f = flags.lookup(0);
  if (f !== null) f |= 0x10;
  return 0;
});
`;

test("`c += n` and `c++` on a lookup of an integer value write the map, and printk prints its value", async () => {
  const { simulate } = await import("../../runtime/test/index.js");
  const sim = await simulate({ fileName: "slots.ts", text: SLOT_SOURCE });
  sim.map("totals").set(1, 4n);
  sim.kprobe("f", { args: [5] });
  sim.kprobe("f", { args: [7] });
  assert.deepEqual(sim.map("counts").get(0), [12n, 0n, 0n, 0n], "5 + 7, on CPU 0");
  assert.deepEqual(sim.map("counts").get(1), [2n, 0n, 0n, 0n]);
  assert.deepEqual(sim.trace(), ["count 5", "count 1", "count 12", "count 2"], "printk prints the value in the map");
  assert.deepEqual(sim.map("totals").toMap(), new Map([[1, 48n]]), "(4 + 1) * 3 = 15, then (15 + 1) * 3; key 0 is absent");
  assert.equal(sim.map("flags").get(0), 0x10);
  if (!noKernel) loadObject(sys, openObject(build({ fileName: "slots.ts", text: SLOT_SOURCE }), { name: "slots" })).close();
});

test("`c = v` on a lookup of an integer value is refused with what to write instead", () => {
  const text = SLOT_SOURCE.replace("if (f !== null) f |= 0x10;", "f = 3;");
  const r = compile({ fileName: "slots.ts", text });
  assert.deepEqual(r.diagnostics.map((d) => `${d.code} ${d.line}:${d.column} ${d.message}`), [
    "TSBPF1001 21:3 `f` is the map's value in place, and `f = ...` cannot be checked for null: set it with the map's `update(key, value)`, or change it with `f += ...` after the null check",
  ]);
});

// A lookup of an integer value is the map's value in place; another name for it is a number, as in JavaScript: it keeps
// the value it had when bound (pidpersec's interval prints the count, then subtracts what it printed).
const SNAPSHOT_SOURCE = `import { kprobe, printk, ArrayMap, type u64 } from "tsbpf";
export const license = "GPL";
export const counts = new ArrayMap<u64>(1);
function show(v: u64) {
  counts.increment(0, 1);
  printk(\`show \${v}\`);
}
export const probe = kprobe("f", () => {
  counts.increment(0, 5);
  const n = counts.lookup(0);
  if (n === null) return 1;
  const before = n;
  let copy = (n);
  counts.increment(0, 1);
  copy += 100;
  printk(\`\${before} \${n} \${copy}\`);
  show(n);
  counts.increment(0, -before);
  return 0;
});
`;

test("`const before = n` on a lookup of an integer value copies the number: later map updates leave it as it was", async () => {
  const { simulate } = await import("../../runtime/test/index.js");
  const sim = await simulate({ fileName: "snapshot.ts", text: SNAPSHOT_SOURCE });
  sim.kprobe("f", {});
  // n is a const too: the increment before its reads leaves it at 5, as a TypeScript const (a `let` would read 6).
  assert.deepEqual(sim.trace(), ["5 5 105", "show 5"], "before, copy and n keep 5; so does show's v");
  assert.equal(sim.map("counts").get(0), 2n, "5 + 1 + 1 - 5: `copy += 100` wrote no map");
});

// "Look up, else insert a zero value and look up again", as C tools write it: a `let` bound to a lookup is a
// pointer of its own that `s = m.lookup(k)` (or `= null`) sets again; another name for the old value keeps it.
const REBIND_SOURCE = `import { kprobe, HashMap, RingBuf, type u32, type u64 } from "tsbpf";
export const license = "GPL";
interface Stats { calls: u64; bytes: u64 }
export const stats = new HashMap<u32, Stats>(8);
export const events = new RingBuf<Stats>(4096);
export const probe = kprobe("f", (kind: u32, n: u64) => {
  let s = stats.lookup(kind);
  if (s === null) {
    stats.update(kind, { calls: 0, bytes: 100 });
    s = stats.lookup(kind);
    if (s === null) return 1;
  }
  s.calls++;
  s.bytes += n;
  const first = s;
  s = stats.lookup(kind + 1);
  if (s !== null) s.calls += 10;
  first.calls += 1000;
  let e = events.reserve();
  if (e === null) return 2;
  e.calls = first.calls;
  events.submit(e);
  e = null;
  return 0;
});
`;

test("a let bound to a lookup can be set to another lookup, as JavaScript rebinds a reference", async () => {
  const { simulate } = await import("../../runtime/test/index.js");
  const sim = await simulate({ fileName: "rebind.ts", text: REBIND_SOURCE });
  sim.map("stats").set(4, { calls: 1n, bytes: 1n });
  assert.equal(sim.kprobe("f", { args: [3, 5] }).r0, 0n);
  assert.deepEqual(sim.map("stats").toMap(), new Map([
    [3, { calls: 1001n, bytes: 105n }],
    [4, { calls: 11n, bytes: 1n }],
  ]));
  assert.deepEqual(sim.events("events"), [{ calls: 1001, bytes: 0 }]);
  if (!noKernel) loadObject(sys, openObject(build({ fileName: "rebind.ts", text: REBIND_SOURCE }), { name: "rebind" })).close();
  const copy = compile({ fileName: "rebind.ts", text: REBIND_SOURCE.replace("s = stats.lookup(kind + 1);", "s = { calls: 1, bytes: 2 };") });
  assert.deepEqual(copy.diagnostics.map((d) => `${d.code} ${d.line}:${d.column}`), ["TSBPF1001 16:7"], "a copy is not a pointer");
});

// One histogram per key, as bpftrace's `@x[k] = hist(v)`: a hash map counting `{ key, slot }` pairs.
const KEYED_HISTOGRAM = (pid: number): string => `import { tracepoint, pidTgid, Histogram, type u32, type Str } from "tsbpf";
export const license = "GPL";
interface Who { pid: u32; name: Str<8> }
export const byFlag = new Histogram<u32>(4);
export const byWho = new Histogram<Who>(2);
const seen = new Histogram<u32>(1);
export const opens = tracepoint("syscalls", "sys_enter_openat", (ctx) => {
  if (pidTgid() >> 32 !== ${pid}) return 0;
  byFlag.record(ctx.flags & 1, 1000);
  byFlag.record(ctx.flags & 1, ctx.flags & 1);
  byWho.record({ pid: ${pid}, name: "me" }, -1);
  seen.record(0, 1);
  return 0;
});
`;

test("a keyed Histogram counts each key's values in its own log2 slots", async () => {
  const { simulate } = await import("../../runtime/test/index.js");
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "keyed.ts", text: KEYED_HISTOGRAM(42) }, { backend, tracepointFormat });
    assert.deepEqual(r.diagnostics, []);
    const sim = await simulate(r.object, { name: "keyed", tracepointFormats: tracepointFormats("syscalls/sys_enter_openat") });
    for (const flags of [0, 1, 1]) sim.tracepoint("syscalls", "sys_enter_openat", { flags }, { pid: 42, tgid: 42 });
    assert.deepEqual([...sim.map("byFlag").toMap()].sort(([a], [b]) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [
      [{ key: 0, slot: 0 }, 1n],
      [{ key: 0, slot: 10 }, 1n], // 1000 is in [512, 1024)
      [{ key: 1, slot: 1 }, 2n],
      [{ key: 1, slot: 10 }, 2n],
    ], backend);
    assert.deepEqual([...sim.map("byWho").toMap()], [[{ key: { pid: 42, name: "me" }, slot: 65 }, 3n]], `${backend}: negative values count in entry 65`);
  }
});

test("a keyed Histogram prints one histogram per key at exit", { skip: noKernel }, async () => {
  const { mapContents } = await import("../../cli/report.js");
  withLoaded(build({ fileName: "keyed.ts", text: KEYED_HISTOGRAM(process.pid) }), (loaded) => {
    loaded.attachAll();
    readFileSync("/proc/self/stat");
    const contents = mapContents(loaded);
    assert.deepEqual(contents.map((c) => c.map).sort(), ["byFlag", "byWho"], "the map the file does not export is not printed");
    const counts = (n: number) => Object.assign(new Array(65).fill(0), { 0: n }) as number[];
    assert.deepEqual(contents.find((c) => c.map === "byWho"), { map: "byWho", histograms: [{ key: { pid: process.pid, name: "me" }, histogram: { counts: new Array(65).fill(0), negative: 1 } }] });
    const byFlag = contents.find((c) => c.map === "byFlag");
    assert.ok(byFlag && "histograms" in byFlag);
    assert.deepEqual(byFlag.histograms.map((h) => h.key), [0]);
    assert.deepEqual(byFlag.histograms[0]!.histogram.counts, Object.assign(counts(1), { 10: 1 }));
  });
});

// One linear histogram per key, as bpftrace's `@x[k] = lhist(v, min, max, step)`.
const KEYED_LINEAR = `import { kprobe, LinearHistogram, type i32, type u32 } from "tsbpf";
export const license = "GPL";
export const byKind = new LinearHistogram<u32>(0, 100, 10, 8);
export const p = kprobe("f", (kind: u32, x: i32) => {
  byKind.record(kind, x);
  return 0;
});
`;

test("a keyed LinearHistogram counts each key's values in its own linear slots and prints as bpftrace's keyed lhist", async () => {
  const { simulate } = await import("../../runtime/test/index.js");
  const { mapContents, mapLines } = await import("../../cli/report.js");
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "keyed-linear.ts", text: KEYED_LINEAR }, { backend });
    assert.deepEqual(r.diagnostics, []);
    const sim = await simulate(r.object, { name: "keyed_linear" });
    for (const [kind, x] of [[1, 5], [1, 15], [2, 150], [1, -3]]) sim.kprobe("f", { args: [kind, x] });
    assert.deepEqual([...sim.map("byKind").toMap()].sort(([a], [b]) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [
      [{ key: 1, slot: 0 }, 1n], // -3 is below min
      [{ key: 1, slot: 1 }, 1n],
      [{ key: 1, slot: 2 }, 1n],
      [{ key: 2, slot: 11 }, 1n], // 150 is from max up
    ], backend);
    if (backend === "own" && !noKernel) {
      withLoaded(r.object, (loaded) => {
        const key = (k: number, slot: number) => new Uint8Array(new Uint32Array([k, slot]).buffer);
        for (const [k, slot] of [[1, 1], [1, 2], [2, 11]]) sys.mapUpdate(loaded.map("byKind").fd, key(k!, slot!), new Uint8Array(new BigUint64Array([1n]).buffer));
        const [content] = mapContents(loaded);
        // The same text bpftrace 0.17 prints for @x[1] = lhist(5, ...), lhist(15, ...) and @x[2] = lhist(150, ...): the fullest last.
        const bar = `|${"@".repeat(52)}|`;
        assert.deepEqual(mapLines(content!, false), ["@byKind[2]: ", `${"[100, ...)".padEnd(16)}       1 ${bar}`, "", "@byKind[1]: ", `${"[0, 10)".padEnd(16)}       1 ${bar}`, `${"[10, 20)".padEnd(16)}       1 ${bar}`, ""]);
        assert.deepEqual(mapLines(content!, true), ['{"map":"byKind","histograms":[{"key":2,"histogram":[{"bucket":"[100, ...)","min":100,"count":1}]},{"key":1,"histogram":[{"bucket":"[0, 10)","min":0,"max":9,"count":1},{"bucket":"[10, 20)","min":10,"max":19,"count":1}]}]}']);
      });
    }
  }
  const bad = compile({ fileName: "keyed-linear.ts", text: KEYED_LINEAR.replace("(0, 100, 10, 8)", "(0, 100, 10)") });
  assert.match(bad.diagnostics.map((d) => `${d.code}: ${d.message}`)[0]!, /TSBPF1023: a keyed LinearHistogram takes min, max, step and how many keys it holds/);
});

test("a stack trace map prints its kernel stacks with the functions named", { skip: noKernel }, async () => {
  const { mapContents } = await import("../../cli/report.js");
  const text = `import { tracepoint, pidTgid, StackTraceMap, type u32 } from "tsbpf";
export const license = "GPL";
export const stacks = new StackTraceMap(16);
export const opens = tracepoint("syscalls", "sys_enter_openat", () => {
  if (pidTgid() >> 32 !== ${process.pid}) return 0;
  stacks.getStackId(0);
  return 0;
});
`;
  withLoaded(build({ fileName: "stacks.ts", text }), (loaded) => {
    loaded.attachAll();
    readFileSync("/proc/self/stat");
    const content = mapContents(loaded).find((c) => c.map === "stacks");
    assert.ok(content && "stacks" in content && content.stacks.length >= 1);
    // The tracepoint fires inside the openat system call.
    assert.ok(content.stacks.some((st) => st.frames.some((f) => /^do_syscall_64\+\d+$/.test(f))), JSON.stringify(content.stacks));
  });
});

// bpftrace's lhist(v, min, max, step): slot 0 below min, slot i for [min + (i-1)*step, min + i*step), the last from max up.
const LINEAR = `import { kprobe, LinearHistogram, type u64, type i32 } from "tsbpf";
export const license = "GPL";
export const signed = new LinearHistogram(-10, 25, 10);
export const unsigned = new LinearHistogram(0, 100, 50);
export const p = kprobe("f", (x: i32, y: u64) => {
  signed.record(x);
  unsigned.record(y);
  return 0;
});
`;

test("a LinearHistogram counts values below min, each step up to max, and from max up", async () => {
  const { simulate } = await import("../../runtime/test/index.js");
  const { mapContents, mapLines } = await import("../../cli/report.js");
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "linear.ts", text: LINEAR }, { backend });
    assert.deepEqual(r.diagnostics, []);
    const sim = await simulate(r.object, { name: "linear" });
    const values: [number, bigint][] = [[-11, 0n], [-10, 49n], [-1, 50n], [0, 99n], [9, 100n], [10, 2n ** 64n - 1n], [24, 1n], [25, 0n], [2 ** 31 - 1, 0n]];
    for (const [x, y] of values) sim.kprobe("f", { args: [x, y] });
    // Buckets: (..., -10) [-10, 0) [0, 10) [10, 20) [20, 25) [25, ...)
    assert.deepEqual(sim.map("signed").toArray(), [1n, 2n, 2n, 1n, 1n, 2n], backend);
    // Buckets: (..., 0) [0, 50) [50, 100) [100, ...)
    assert.deepEqual(sim.map("unsigned").toArray(), [0n, 5n, 2n, 2n], backend);
    if (backend === "own" && !noKernel) {
      withLoaded(r.object, (loaded) => {
        sys.mapUpdate(loaded.map("signed").fd, u32(2), new Uint8Array(new BigUint64Array([3n]).buffer));
        const [content] = mapContents(loaded);
        assert.deepEqual(mapLines(content!, false), ["@signed: ", `${"[0, 10)".padEnd(16)}       3 |${"@".repeat(52)}|`, ""]);
        assert.deepEqual(mapLines(content!, true), ['{"map":"signed","histogram":[{"bucket":"[0, 10)","min":0,"max":9,"count":3}]}']);
      });
    }
  }
  const bad = compile({ fileName: "linear.ts", text: LINEAR.replace("new LinearHistogram(0, 100, 50)", "new LinearHistogram(0, 100, 0)") });
  assert.deepEqual(bad.diagnostics.map((d) => `${d.code}: ${d.message}`), ["TSBPF1023: LinearHistogram needs min < max and a positive step"]);
});

// A hash map's delete() frees the element a lookup found and update() replaces it by another: the next update may
// reuse it for another key (the simulator's free lists do as the kernel's). A `const` read after either keeps the
// number it had when bound.
const FREED_SOURCE = `import { kprobe, printf, HashMap, type u32, type u64 } from "tsbpf";
export const license = "GPL";
const start = new HashMap<u32, u64>(16);
function forget(k: u32) {
  start.delete(k);
}
export const direct = kprobe("f", () => {
  start.update(1, 111);
  const ts = start.lookup(1);
  if (ts === null) return;
  start.delete(1);
  start.update(2, 222);
  printf("direct %lu\\n", ts);
  start.delete(2);
});
export const called = kprobe("g", () => {
  start.update(1, 333);
  const ts = start.lookup(1);
  if (ts === null) return;
  forget(1);
  start.update(2, 444);
  printf("called %lu\\n", ts);
  start.delete(2);
});
export const looped = kprobe("h", () => {
  start.update(1, 555);
  const ts = start.lookup(1);
  if (ts === null) return;
  for (let i = 0; i < 2; i++) {
    printf("looped %lu\\n", ts);
    start.delete(1);
    start.update(2, 666);
  }
  start.delete(2);
});
export const before = kprobe("k", () => {
  start.update(1, 777);
  const ts = start.lookup(1);
  if (ts === null) return;
  printf("before %lu\\n", ts);
  start.delete(1);
});
`;

test("a `const` bound to a hash map lookup and read after the element is deleted or replaced keeps the number it was bound to", async () => {
  const { simulate } = await import("../../runtime/test/index.js");
  const sim = await simulate({ fileName: "freed.ts", text: FREED_SOURCE });
  for (const f of ["f", "g", "h", "k"]) sim.kprobe(f, {});
  assert.equal(sim.output(), "direct 111\ncalled 333\nlooped 555\nlooped 555\nbefore 777\n");
  // Read before the delete: the map's value in place, no copy (as clang's code for `*ts`).
  const r = compile({ fileName: "freed.ts", text: FREED_SOURCE }, { arch: "x86_64" });
  const depth = (name: string) => r.programs.find((p) => p.name === name)!.stackDepth;
  assert.equal(depth("before"), 16, "key and value of the update");
  assert.equal(depth("direct"), 24, "and the copy");
});

test("a loop of 5,000 RingBuf output()s stays within the verifier's queued branches: counting the failed ones adds no branch", () => {
  const text = `import { begin, RingBuf, type u32 } from "tsbpf";
export const license = "GPL";
interface Ev { i: u32; j: u32; }
export const r1 = new RingBuf<Ev>(4096);
export const b = begin(() => { for (let i: u32 = 0; i < 5000; i++) { const e: Ev = { i, j: 0 }; r1.output(e); } });
`;
  // The own backend's object is checked by the verifier model, which keeps the kernel's limit of 8,192.
  const r = compile({ fileName: "loop.ts", text });
  assert.deepEqual(r.diagnostics, []);
  assert.ok(r.programs[0]!.relocations.some((x) => x.symbol === ".bss"), "the failures are counted in .bss");
});

test("a probe using more than the 64 maps the kernel allows a program is refused at the 65th, saying what to do", () => {
  const maps = Array.from({ length: 65 }, (_, i) => `export const m${i} = new ArrayMap<u64>(1);`).join("\n");
  const updates = Array.from({ length: 65 }, (_, i) => `m${i}.update(0, 1);`).join("\n  ");
  const text = `import { kprobe, ArrayMap, type u64 } from "tsbpf";\nexport const license = "GPL";\n${maps}\nexport const k = kprobe("f", () => {\n  ${updates}\n});\n`;
  const r = compile({ fileName: "maps.ts", text }, { arch: "x86_64" });
  assert.deepEqual(
    r.diagnostics.map((d) => `${d.line}:${d.column} ${d.code}: ${d.message.split("\n")[0]}`),
    ["133:3 TSBPF2001: k: `m64.update(0, 1)` uses one map more than the 64 the kernel lets a program use: use fewer maps in this probe (one map whose value holds several counters, or one keyed by what told the maps apart)"],
  );
  assert.deepEqual(compile({ fileName: "maps.ts", text: text.replace("m64.update(0, 1);", "") }, { arch: "x86_64" }).diagnostics, []);
});

test("a value that is not the map's Arr<T, N> says `expected an Arr<u32, 4>`", () => {
  const text = `import { kprobe, ArrayMap, pidTgid, type u32, type Arr } from "tsbpf";
export const license = "GPL";
export const m = new ArrayMap<Arr<u32, 4>>(2);
export const k = kprobe("f", () => { m.update(0, pidTgid() as unknown as Arr<u32, 4>); return 0; });`;
  assert.deepEqual(compile({ fileName: "a.ts", text }, { arch: "x86_64" }).diagnostics.map((d) => `${d.code}: ${d.message}`), ["TSBPF1012: expected an Arr<u32, 4> here"]);
});

test("a record used after submit() or discard() later in its block is refused at the use, naming the line that gave it back", () => {
  const probe = (body: string) => `import { uprobe, RingBuf, type u32 } from "tsbpf";
export const license = "GPL";
interface Ev { v: u32; w: u32 }
export const events = new RingBuf<Ev>(4096);
export const p = uprobe("libc.so.6", "read", (fd: u32, buf: u32, count: u32) => {
  let e = events.reserve();
  if (e === null) return;
  e.w = 1;
${body}
});
`;
  const codes = (body: string) => compile({ fileName: "rec.ts", text: probe(body) }).diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`);
  assert.deepEqual(codes("  events.submit(e);\n  e.v = count;"), ["10:3 TSBPF1023 `e` was submitted on line 9: the ring buffer took the record back, so it cannot be used after submit(); fill it before, or reserve another"]);
  assert.match(codes("  events.discard(e);\n  if (count > 3) { events.submit(e); }")[0]!, /^10:\d+ TSBPF1023 `e` was discarded on line 9/);
  // Reserved again: the name holds a new record.
  assert.deepEqual(codes("  events.submit(e);\n  e = events.reserve();\n  if (e === null) return;\n  e.v = count;\n  events.submit(e);"), []);
});

test("RingBuf output() of a literal record over 256 bytes builds it in a reservation, not on the 512-byte stack; a full ring drops it, counted, and gives -1", async () => {
  const { simulate } = await import("../../runtime/test/index.js");
  const { noLlvm } = await import("../llvm/support.js");
  // 4 + 16 + 512 bytes: on the stack with its pieces this needed 536 bytes, over BPF's 512 (TSBPF1016).
  const text = `import { begin, printf, RingBuf, comm, type u32, type i64, type Str } from "tsbpf";
export const license = "GPL";
interface Ev { pid: u32; comm: Str<16>; path: Str<512>; }
export const events = new RingBuf<Ev>(4096);
export const b = begin(() => {
  let sent: i64 = 0;
  for (let i: u32 = 0; i < 10; i++) sent += events.output({ pid: i, comm: comm(), path: i % 2 === 0 ? "/even" : "/odd" });
  printf("%d\\n", sent);
});
`;
  for (const backend of ["own", "llvm"] as const) {
    if (backend === "llvm" && noLlvm) continue;
    const r = compile({ fileName: "big.ts", text }, { arch: "x86_64", backend });
    assert.deepEqual(r.diagnostics, [], backend);
    assert.ok(r.programs[0]!.stackDepth < 256, `${backend}: ${r.programs[0]!.stackDepth} bytes of stack`);
    const sim = await simulate({ fileName: "big.ts", text }, { backend, task: { pid: 9, comm: "big" } });
    sim.begin();
    // A 4096-byte ring holds seven 544-byte records (with their 8-byte headers); the other three are dropped.
    const events = sim.events<{ pid: number; comm: string; path: string }>("events");
    assert.deepEqual(events.map((e) => [e.pid, e.comm, e.path]), [0, 1, 2, 3, 4, 5, 6].map((i) => [i, "big", i % 2 === 0 ? "/even" : "/odd"]), backend);
    assert.equal(sim.output(), "-3\n", backend);
    const bss = sim.map(".bss").toArray()[0] as Uint8Array;
    assert.equal(new DataView(bss.buffer, bss.byteOffset).getBigUint64(0, true), 3n, `${backend}: tsbpf_lost_events, the dropped records`);
  }
});

test("an index out of range in a literal record output() builds in place ends the handler giving the reservation back, as the verifier requires", async () => {
  const { simulate } = await import("../../runtime/test/index.js");
  const { noLlvm } = await import("../llvm/support.js");
  const text = `import { uprobe, RingBuf, type u32, type Str, type Arr } from "tsbpf";
export const license = "GPL";
interface Ev { v: u32; pad: Str<300>; }
export const events = new RingBuf<Ev>(4096);
export const f = uprobe("/bin/true", "f", (i: u32) => {
  const xs: Arr<u32, 4> = [10, 20, 30, 40];
  events.output({ v: xs[i], pad: "x" });
});
`;
  for (const backend of ["own", "llvm"] as const) {
    if (backend === "llvm" && noLlvm) continue;
    const sim = await simulate({ fileName: "inplace.ts", text }, { backend });
    sim.uprobe("f", { args: [2] });
    sim.uprobe("f", { args: [7] }); // out of range: no record, and none left reserved
    sim.uprobe("f", { args: [3] });
    assert.deepEqual(sim.events<{ v: number }>("events").map((e) => e.v), [30, 40], backend);
  }
});
