// Typed event streams: the `tsbpf:event=...` BTF tag of a ring buffer or perf event array (emitted by tsbpf's
// RingBuf<T>/PerfEventArray<T>, written by hand in C with btf_decl_tag) makes EventReader decode each record
// as that type; the readers a Session opens are released with it. Records come from socket filters run with
// BPF_PROG_TEST_RUN; the compiler side is checked on the examples' objects.

import { test } from "node:test";
import assert from "node:assert/strict";
import { compile } from "../../compiler/index.js";
import { BtfKind } from "../../compiler/btf/index.js";
import { mapBtfTypes, objectBtf, openObject, type StreamEvent } from "../../runtime/loader/index.js";
import { eventLine, mapJson, mapLines, toJson } from "../../cli/report.js";
import { slotLabel } from "../../runtime/loader/histogram.js";
import { expectedEvent, mappingCount, needsKernel, openFdCount, run, withStreams, type Event } from "./support.js";

test("ring buffer records of a tagged map decode to the tagged struct, and close with the session", needsKernel, async () => {
  const fds = openFdCount();
  const mappings = mappingCount();
  await withStreams((obj, session) => {
    const reader = session.events<Event>(obj, "rb");
    assert.equal(reader.typeName, "struct event");
    run(obj, "rb_output", 3);
    const got = reader.read();
    assert.deepEqual(got, [0, 1, 2].map((seq) => ({ kind: "event", map: "rb", value: expectedEvent(seq) })));
    assert.deepEqual(reader.read(), [], "records are consumed once");
  });
  assert.equal(openFdCount(), fds);
  assert.equal(mappingCount(), mappings);
});

test("perf event samples decode per CPU; raw: true gives the bytes", needsKernel, () =>
  withStreams(async (obj, session) => {
    const typed = session.events<Event>(obj, "events");
    run(obj, "perf_output", 2);
    const got = typed.read() as Extract<StreamEvent<Event>, { kind: "event" }>[];
    assert.equal(got.length, 2);
    got.sort((a, b) => (a.value as Event).seq - (b.value as Event).seq);
    // BPF_PROG_TEST_RUN runs the program on the calling thread's CPU.
    assert.deepEqual(got, [0, 1].map((seq, i) => ({ kind: "event", map: "events", cpu: got[i]!.cpu, value: expectedEvent(seq) })));
    assert.equal(typeof got[0]!.cpu, "number");
    await typed.close();
    const raw = session.events(obj, "rb", { raw: true });
    run(obj, "rb_output", 1);
    const [record] = raw.read() as Extract<StreamEvent, { kind: "event" }>[];
    assert.ok(record!.value instanceof Uint8Array);
  }),
);

test("an untagged map's records decode as a type the reader names, short ones as if zero-padded", needsKernel, () =>
  withStreams(async (obj, session) => {
    const raw = session.events(obj, "plain");
    assert.equal(raw.typeName, undefined);
    run(obj, "plain_short", 1);
    const [bytes] = raw.read() as Extract<StreamEvent, { kind: "event" }>[];
    assert.ok(bytes!.value instanceof Uint8Array);
    await raw.close();
    const named = session.events<Event>(obj, "plain", { type: "struct event" });
    assert.equal(named.typeName, "struct event");
    run(obj, "plain_short", 1);
    const [record] = named.read() as Extract<StreamEvent<Event>, { kind: "event" }>[];
    assert.deepEqual(record!.value, { ...expectedEvent(1), arr: [0, 0, 0], lo: 0, hi: 0, big: 0 });
    // A tagged map keeps its own type.
    assert.equal(session.events(obj, "rb", { type: "key" }).typeName, "struct event");
    assert.throws(() => session.events(obj, "plain", { type: "evnt" }), /^ObjectError: the object's BTF has no struct, union or typedef named evnt; did you mean event\?$/);
  }),
);

test("the compiler tags RingBuf<T> and PerfEventArray<T> with T, a Histogram as one, and maps the file does not export", () => {
  const text = `import { tracepoint, RingBuf, PerfEventArray, Histogram, LinearHistogram, type u64, type Str } from "tsbpf";
export const license = "GPL";
interface Hit { pid: u64; name: Str<8> }
export const hits = new RingBuf<Hit>(4096);
export const ids = new PerfEventArray<u64>();
export const names = new RingBuf<Str<16>>(4096);
export const sizes = new Histogram();
const scratch = new Histogram();
export const sizes10 = new LinearHistogram(0, 100, 10);
export const p = tracepoint("syscalls", "sys_enter_unlinkat", () => { ids.output(1); sizes.record(3); scratch.record(1); sizes10.record(5); return 0; });
`;
  const formats = { "syscalls/sys_enter_unlinkat": "name: sys_enter_unlinkat\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\nprint fmt: \"\"\n" };
  const result = compile({ fileName: "tags.ts", text }, { tracepointFormat: (g, n) => formats[`${g}/${n}` as keyof typeof formats] });
  assert.deepEqual(result.diagnostics, []);
  const spec = openObject(result.object);
  const btf = objectBtf(spec)!;
  const types = (name: string) => mapBtfTypes(spec, spec.maps.find((m) => m.name === name)!)!;
  const hit = btf.typeById(types("hits").event!);
  assert.equal(hit.kind, BtfKind.STRUCT);
  assert.equal(hit.name, "Hit");
  assert.equal(btf.typeById(types("ids").event!).name, "u64");
  assert.equal(btf.typeById(types("names").event!).name, "names_event");
  assert.equal(types("sizes").histogram, true);
  assert.equal(types("hits").histogram, undefined);
  // A map the file does not export is its own bookkeeping: tagged so that tsbpf run does not print it.
  assert.equal(types("scratch").internal, true);
  assert.deepEqual(types("sizes10").linear, { min: 0, max: 100, step: 10 });
  assert.equal(types("sizes").internal, undefined);
});

test("events print as one line each: inspected values (8-byte integers as digits), hex for raw bytes, JSON with exact 64-bit integers", () => {
  const value = { pid: 7, big: 2n ** 64n - 1n, name: "rm" };
  assert.equal(eventLine({ kind: "event", map: "hits", value }, false), "hits: { pid: 7, big: 18446744073709551615, name: 'rm' }");
  assert.equal(eventLine({ kind: "event", map: "hits", value, cpu: 1 }, true), '{"map":"hits","cpu":1,"value":{"pid":7,"big":18446744073709551615,"name":"rm"}}');
  assert.equal(eventLine({ kind: "event", map: "raw", value: new Uint8Array([1, 0xab]) }, false), "raw: 2 bytes 01 ab");
  // A record is one line, its arrays too (node:util would put an array of more than six numbers in rows of their own).
  const addrs = { family: 10, saddr6: [...new Array(15).fill(0), 1], inner: { ports: [1, 2, 3, 4, 5, 6, 7], none: [] }, frames: ["main+4", "f+1"] };
  assert.equal(eventLine({ kind: "event", map: "changes", value: addrs }, false), `changes: { family: 10, saddr6: [ ${"0, ".repeat(15)}1 ], inner: { ports: [ 1, 2, 3, 4, 5, 6, 7 ], none: [] }, frames: [ 'main+4', 'f+1' ] }`);
  assert.equal(eventLine({ kind: "event", map: "big", value: { xs: new Array(70).fill(2) } }, false), `big: { xs: [ ${"2, ".repeat(63)}2, ... 6 more items ] }`);
  assert.equal(eventLine({ kind: "lost", map: "hits", count: 3, cpu: 0 }, true), '{"map":"hits","cpu":0,"lost":3}');
  assert.equal(toJson({ n: -5n, b: new Uint8Array([255]) }), '{"n":-5,"b":"ff"}');
  // A Node Buffer (what map reads give) is hex too, not its toJSON() object.
  assert.equal(toJson({ key: Buffer.from([1, 0, 0, 0]), value: { raw: Buffer.from([2]) } }), '{"key":"01000000","value":{"raw":"02"}}');
});

test("maps print at exit as bpftrace prints them, or as one JSON object each", () => {
  const counts: number[] = new Array(65).fill(0);
  counts[3] = 2;
  counts[4] = 1;
  const hist = { map: "lat", histogram: { counts, negative: 1 } };
  // Each bucket with the values it holds, inclusive, as bpftrace's JSON gives them (an open end left out).
  assert.deepEqual(mapJson(hist), { map: "lat", histogram: [{ bucket: "(..., 0)", max: -1, count: 1 }, { bucket: "[4, 8)", min: 4, max: 7, count: 2 }, { bucket: "[8, 16)", min: 8, max: 15, count: 1 }] });
  const top: number[] = new Array(65).fill(0);
  top[0] = 1;
  top[64] = 1;
  // The empty buckets between the first and the last that counted are there, as the bars print them and bpftrace's JSON gives them.
  const spread = (mapJson({ map: "t", histogram: { counts: top, negative: 0 } }) as { histogram: unknown[] }).histogram;
  assert.equal(spread.length, 65);
  assert.deepEqual([spread[0], spread[1], spread[64]], [{ bucket: "[0]", min: 0, max: 0, count: 1 }, { bucket: "[1]", min: 1, max: 1, count: 0 }, { bucket: slotLabel(64), min: 2n ** 63n, max: 2n ** 64n - 1n, count: 1 }]);
  // Every row from the first to the last non-zero one, as bpftrace prints them.
  const zero = (label: string) => `${label.padEnd(16)}       0 |${" ".repeat(52)}|`;
  assert.deepEqual(mapLines(hist, false), ["@lat: ", "(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |", zero("[0]"), zero("[1]"), zero("[2, 4)"), "[4, 8)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|", "[8, 16)                1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |", ""]);
  const counters = { map: "calls", entries: [[0, 3], [{ pid: 7 }, 2n ** 60n]] as [unknown, unknown][] };
  assert.deepEqual(mapLines(counters, false), ["@calls[0]: 3", "@calls[7]: 1152921504606846976", ""]);
  // Strings bare and structs as bpftrace's tuples (`@t[cpu, comm, pid]`), a struct value or field in parentheses.
  const tuples = { map: "t", entries: [["bash", "sh"], [{ cpu: 1, comm: "swapper/1", pid: 0, on: true }, { n: 2, who: { uid: 0, name: "root" } }]] as [unknown, unknown][] };
  assert.deepEqual(mapLines(tuples, false), ["@t[bash]: sh", "@t[1, swapper/1, 0, true]: (2, (0, root))", ""]);
  // 8-byte integers in arrays and events as digits (inspect() writes a bigint `18446744073709551613n`); a per-CPU
  // struct value as each CPU's tuple.
  const wide = { map: "out", value: [0, 1n, 2n ** 64n - 3n] };
  assert.deepEqual(mapLines(wide, false), ["@out: [ 0, 1, 18446744073709551613 ]", ""]);
  const perCpu = { map: "lph", entries: [[0, [{ cnt: 0n, neg: 0 }, { cnt: 2n, neg: -1 }]]] as [unknown, unknown][] };
  assert.deepEqual(mapLines(perCpu, false), ["@lph[0]: [(0, 0), (2, -1)]", ""]);
  assert.equal(eventLine({ kind: "event", map: "events", value: { pid: 7, big: 2n ** 63n, xs: [1n] } } as StreamEvent, false), "events: { pid: 7, big: 9223372036854775808, xs: [ 1 ] }");
  assert.deepEqual(mapLines(counters, true), ['{"map":"calls","entries":[{"key":0,"value":3},{"key":{"pid":7},"value":1152921504606846976}]}']);
  // A keyed Histogram: one histogram per key, named as bpftrace names `@lat[k] = hist(v)`.
  const keyed = { map: "lat", histograms: [{ key: "sh", histogram: { counts: [0, 1], negative: 0 } }, { key: { pid: 7 }, histogram: { counts, negative: 0 } }] };
  const one = "[1]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|";
  assert.deepEqual(mapLines(keyed, false).slice(0, 4), ["@lat[sh]: ", one, "", "@lat[7]: "]);
  const stacks = { map: "stacks", stacks: [{ id: 3, frames: ["schedule+35", "kthread+248"] }] };
  assert.deepEqual(mapLines(stacks, false), ["@stacks[3]:", "    schedule+35", "    kthread+248", ""]);
  assert.deepEqual(mapLines(stacks, true), ['{"map":"stacks","stacks":[{"id":3,"frames":["schedule+35","kthread+248"]}]}']);
  assert.deepEqual(mapJson(keyed), { map: "lat", histograms: [{ key: "sh", histogram: [{ bucket: "[1]", min: 1, max: 1, count: 1 }] }, { key: { pid: 7 }, histogram: [{ bucket: "[4, 8)", min: 4, max: 7, count: 2 }, { bucket: "[8, 16)", min: 8, max: 15, count: 1 }] }] });
});
