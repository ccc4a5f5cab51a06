// bpftrace's count(), sum(), avg(), min(), max() and stats() as Count, Sum, Avg, Min, Max and Stats: per-CPU maps (a one-entry array without a
// key) that each CPU updates in place. In the simulator from several CPUs through both backends (merged values,
// negative values, integer, struct and Str keys, the keyless form); in the kernel, tsbpf's objects (both backends)
// and a clang object carrying the same BTF tag print as bpftrace prints them, as text and as --json.
// The compiler's diagnostics for misuse are pinned by fixtures/err-aggregates.ts.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { compile } from "../../compiler/index.js";
import { mapContents, mapLines } from "../../cli/report.js";
import { loadObject, openObject } from "../../runtime/loader/index.js";
import { simulate } from "../../runtime/test/index.js";
import { missingBpf, missingRoot, missingTracefs, openSys } from "../../runtime/sys/index.js";
import { needsKernel as needsClangAndRoot, compileC } from "../loader/support.js";

const sys = openSys();
const noKernel = missingRoot() ?? missingBpf(sys) ?? missingTracefs() ?? false;
const BACKENDS = ["own", "llvm"] as const;

const PROBE = `import { kprobe, Count, Sum, Avg, Min, Max, Stats, type i64, type u32, type Str } from "tsbpf";
export const license = "GPL";
interface Who { name: Str<8>; kind: u32 }
export const calls = new Count();
export const byKind = new Count<u32>(8);
export const total = new Sum();
export const totals = new Sum<Str<8>>(8);
export const avg = new Avg<u32>(8);
export const low = new Min<Who>(8);
export const high = new Max();
export const all = new Stats<Str<8>>(8);
export const p = kprobe("f", (kind: u32, x: i64) => {
  calls.increment();
  byKind.increment(kind);
  total.record(x);
  totals.record(kind === 1 ? "one" : "other", x);
  avg.record(kind, x);
  low.record({ name: kind === 1 ? "one" : "other", kind }, x);
  high.record(x);
  all.record(kind === 1 ? "one" : "other", x);
  return 0;
});
`;

test("Count, Sum, Avg, Min, Max and Stats merge every CPU's values into one per key", async () => {
  for (const backend of BACKENDS) {
    const r = compile({ fileName: "aggregates.ts", text: PROBE }, { backend });
    assert.deepEqual(r.diagnostics, [], backend);
    const sim = await simulate(r.object, { name: "aggregates", cpus: 4 });
    assert.deepEqual(sim.map("high").toArray(), [], `${backend}: nothing recorded yet`);
    assert.deepEqual(sim.map("calls").toArray(), [], `${backend}: nothing counted yet`);
    // Key 1 gets 5 on CPU 0 and -3 and 7 on CPU 1; key 2 gets -10 on CPU 2 and -1 on CPU 3.
    for (const [kind, x, cpu] of [[1, 5, 0], [1, -3, 1], [2, -10, 2], [1, 7, 1], [2, -1, 3]]) sim.kprobe("f", { args: [kind, x], cpu });
    assert.deepEqual(sim.map("calls").toArray(), [5n], backend);
    assert.deepEqual(sim.map("byKind").toMap(), new Map([[1, 3n], [2, 2n]]), backend);
    assert.deepEqual(sim.map("total").toArray(), [-2n], backend);
    assert.deepEqual(sim.map("totals").toMap(), new Map([["one", 9n], ["other", -11n]]), backend);
    assert.deepEqual(sim.map("byKind").perCpuEntries().find(([k]) => k === 1)?.[1], [
      { count: 1n, total: 0n },
      { count: 2n, total: 0n },
      { count: 0n, total: 0n },
      { count: 0n, total: 0n },
    ], `${backend}: a count adds nothing to its total`);
    assert.deepEqual(sim.map("avg").toMap(), new Map([[1, 3n], [2, -5n]]), `${backend}: (5 - 3 + 7) / 3, and -11 / 2 truncated toward zero`);
    assert.deepEqual(sim.map("low").toMap(), new Map([[{ name: "one", kind: 1 }, -3n], [{ name: "other", kind: 2 }, -10n]]), backend);
    assert.deepEqual(sim.map("high").toArray(), [7n], backend);
    assert.equal(sim.map("high").get(0), 7n, backend);
    assert.deepEqual(sim.map("all").toMap(), new Map([
      ["one", { count: 3n, average: 3n, total: 9n }],
      ["other", { count: 2n, average: -5n, total: -11n }],
    ]), backend);
    assert.equal(sim.map("avg").get(3), undefined, `${backend}: a key never recorded`);
    // Each CPU keeps its own value; the CPUs that never saw key 2 hold zeroes (Min: not set).
    assert.deepEqual(sim.map("avg").perCpuEntries().find(([k]) => k === 2)?.[1], [
      { count: 0n, total: 0n },
      { count: 0n, total: 0n },
      { count: 1n, total: -10n },
      { count: 1n, total: -1n },
    ], backend);
    assert.deepEqual((sim.map("low").perCpuEntries()[0]![1] as unknown[]).filter((v) => (v as { set: bigint }).set === 0n).length, 2, backend);
  }
});

test("delete(k) removes a key of a keyed Count or Stats from every CPU, as bpftrace's delete(@x[k]); a keyless one has no delete()", async () => {
  const text = `import { kprobe, Count, Stats, type i64, type u32 } from "tsbpf";
export const license = "GPL";
export const byKind = new Count<u32>(8);
export const all = new Stats<u32>(8);
export const p = kprobe("f", (kind: u32, x: i64) => {
  if (x < 0) { byKind.delete(kind); return all.delete(kind); }
  byKind.increment(kind);
  all.record(kind, x);
  return 0;
});
`;
  for (const backend of BACKENDS) {
    const r = compile({ fileName: "delete.ts", text }, { backend });
    assert.deepEqual(r.diagnostics, [], backend);
    const sim = await simulate(r.object, { name: "delete", cpus: 2 });
    for (const [kind, x, cpu] of [[1, 5, 0], [1, 7, 1], [2, 3, 0]]) sim.kprobe("f", { args: [kind, x], cpu });
    assert.deepEqual(sim.map("byKind").toMap(), new Map([[1, 2n], [2, 1n]]), backend);
    assert.equal(sim.kprobe("f", { args: [1, -1], cpu: 0 }).r0, 0n, `${backend}: deleted`);
    assert.deepEqual(sim.map("byKind").toMap(), new Map([[2, 1n]]), `${backend}: CPU 1's count of key 1 went too`);
    assert.deepEqual(sim.map("all").toMap(), new Map([[2, { count: 1n, average: 3n, total: 3n }]]), backend);
    assert.equal(sim.kprobe("f", { args: [1, -1], cpu: 1 }).r0, BigInt.asUintN(64, -2n), `${backend}: -ENOENT, as the key is gone`);
  }
  const keyless = compile({ fileName: "keyless.ts", text: `import { kprobe, Count } from "tsbpf";\nexport const license = "GPL";\nconst c = new Count();\nexport const p = kprobe("f", () => { c.delete(1 as never); });\n` });
  assert.deepEqual(keyless.diagnostics.map((d) => `${d.code} ${d.message}`), ["TSBPF1023 Count has the methods increment(), print() and clear()"]);
});

test("a value TypeScript does not take as a number is its own error, before tsbpf's", () => {
  const r = compile({ fileName: "bad.ts", text: PROBE.replace("high.record(x);", 'high.record("x");') });
  assert.deepEqual(r.diagnostics.map((d) => `${d.code} ${d.line}:${d.column}`), ["TS2345 19:15"]);
});

test("bpftrace's text and --json for aggregates: values exact past 2^53, stats as count, average and total, --interval's time", () => {
  const big = 2n ** 62n + 1n;
  assert.deepEqual(mapLines({ map: "x", aggregate: -42n }, false), ["@x: -42", ""]);
  assert.deepEqual(mapLines({ map: "x", aggregate: -42n }, true, new Date(0)), ['{"time":"1970-01-01T00:00:00.000Z","map":"x","value":-42}'], "an --interval's printing");
  assert.deepEqual(mapLines({ map: "x", aggregate: { count: 3n, average: 5n, total: 15n } }, true), ['{"map":"x","value":{"count":3,"average":5,"total":15}}']);
  assert.deepEqual(mapLines({ map: "x", aggregates: [["sh", big]] }, true), [`{"map":"x","entries":[{"key":"sh","value":${big}}]}`]);
  assert.deepEqual(mapLines({ map: "x", aggregates: [[{ pid: 1 }, { count: 1n, average: -1n, total: -1n }]] }, false), ["@x[1]: count 1, average -1, total -1", ""]);
});

/** Records the pid argument of this process's kill(2) calls: 1, 2 and -999998 make the expected values below. */
const KILLS = (pid: number) => `import { tracepoint, pidTgid, comm, Count, Sum, Avg, Min, Max, Stats, type i32, type u32, type Str } from "tsbpf";
export const license = "GPL";
interface Call { sig: u32; name: Str<16> }
export const calls = new Count();
export const bySign = new Count<u32>(8);
export const total = new Sum<Str<16>>(8);
export const average = new Avg<u32>(8);
export const low = new Min();
export const high = new Max<Call>(8);
export const all = new Stats<Str<16>>(8);
export const kills = tracepoint("syscalls", "sys_enter_kill", (ctx) => {
  if (pidTgid() >> 32 !== ${pid}) return 0;
  const target = ctx.pid as i32;
  calls.increment();
  bySign.increment(target < 0 ? 1 : 0);
  total.record(comm(), target);
  average.record(target < 0 ? 1 : 0, target);
  low.record(target);
  high.record({ sig: ctx.sig as u32, name: comm() }, target);
  all.record(comm(), target);
  return 0;
});
`;

/** kill(pid, 0) for each pid: a check that sends nothing (ESRCH for one that does not exist). */
function killChecks(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
    }
  }
}

test("tsbpf's aggregates print from the kernel as bpftrace prints them, through both backends", { skip: noKernel }, () => {
  const name = readFileSync("/proc/self/comm", "utf8").trim();
  for (const backend of BACKENDS) {
    const r = compile({ fileName: "kills.ts", text: KILLS(process.pid) }, { backend });
    assert.deepEqual(r.diagnostics, [], backend);
    const loaded = loadObject(sys, openObject(r.object, { name: "kills" }));
    try {
      loaded.attachAll();
      killChecks([1, 2, -999998]);
      const lines = mapContents(loaded).flatMap((c) => mapLines(c, false));
      assert.deepEqual(lines, [
        "@calls: 3",
        "",
        // By count, as bpftrace orders count()'s entries.
        "@bySign[1]: 1",
        "@bySign[0]: 2",
        "",
        `@total[${name}]: -999995`,
        "",
        // By value: key 1's -999998 before key 0's (1 + 2) / 2.
        "@average[1]: -999998",
        "@average[0]: 1",
        "",
        "@low: -999998",
        "",
        `@high[0, ${name}]: 2`,
        "",
        // -999995 / 3 is -333331.67: truncated toward zero.
        `@all[${name}]: count 3, average -333331, total -999995`,
        "",
      ], backend);
      assert.deepEqual(mapContents(loaded).map((c) => mapLines(c, true)[0]), [
        '{"map":"calls","value":3}',
        '{"map":"bySign","entries":[{"key":1,"value":1},{"key":0,"value":2}]}',
        `{"map":"total","entries":[{"key":"${name}","value":-999995}]}`,
        '{"map":"average","entries":[{"key":1,"value":-999998},{"key":0,"value":1}]}',
        '{"map":"low","value":-999998}',
        `{"map":"high","entries":[{"key":{"sig":0,"name":"${name}"},"value":2}]}`,
        `{"map":"all","entries":[{"key":"${name}","value":{"count":3,"average":-333331,"total":-999995}}]}`,
      ], backend);
    } finally {
      loaded.close();
    }
  }
});

const C_MAX = `#include "loader.h"
#define BPF_MAP_TYPE_PERCPU_HASH 5
struct peak { __s64 value; __u64 set; };
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct peak);
} peaks SEC(".maps") __attribute__((btf_decl_tag("tsbpf:aggregate=max")));
SEC("tracepoint/syscalls/sys_enter_kill") int on_kill(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`;

test("a clang object's per-CPU map tagged tsbpf:aggregate=max prints each key's greatest value over the CPUs that set one", needsClangAndRoot, () => {
  const loaded = loadObject(sys, openObject(readFileSync(compileC("aggregate-max", C_MAX)), { name: "peaks" }));
  try {
    const cpus = sys.possibleCpus();
    // Key 7: -9 on CPU 0, -5 on the last; the CPUs between hold 100 but have set nothing.
    const values = new BigInt64Array(cpus * 2);
    for (let cpu = 0; cpu < cpus; cpu++) values.set([100n, 0n], cpu * 2);
    values.set([-9n, 1n], 0);
    values.set([-5n, 1n], (cpus - 1) * 2);
    sys.mapUpdate(loaded.map("peaks").fd, new Uint8Array(new Uint32Array([7]).buffer), new Uint8Array(values.buffer));
    assert.deepEqual(mapContents(loaded).flatMap((c) => mapLines(c, false)), ["@peaks[7]: -5", ""]);
  } finally {
    loaded.close();
  }
});
