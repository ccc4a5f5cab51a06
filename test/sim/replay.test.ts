// tsbpf/test's replay() without a kernel: recordings written by hand in the format `tsbpf run --record`
// writes (cli/record.ts) fire the uprobe and tracepoint examples in clock order with the recorded task,
// arguments, fields and strings; and the recorder tsbpf generates for those examples compiles.
// test/e2e records a live run and replays it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { compile } from "../../compiler/index.js";
import { openObject } from "../../runtime/loader/index.js";
import { readRecording, replay, simulate, SimulationError } from "../../runtime/test/index.js";
import { recorderSource } from "../../cli/record.js";
import { OPENAT_FORMAT, UNLINKAT_EXIT_FORMAT, UNLINKAT_FORMAT } from "./support.js";
import { tracepointFormat as fixtureFormat } from "../support/fixture-kernel.js";

const line = (v: unknown) => JSON.stringify(v);

test("a recorded uprobe hit fires again with its task and argument registers; hits replay in clock order", async () => {
  const probe = { kind: "uprobe", binary: "libc.so.6", func: "unlinkat", retprobe: false };
  const text = [
    line({ kind: "hit", probe, time: "2000", cpu: 1, pid: 8, tgid: 8, uid: 0, gid: 0, comm: "rm", args: [-100, 0, 512, 0, 0, 0] }),
    line({ kind: "printk", task: "rm", pid: 8, cpu: 1, timestamp: 2.0, event: "bpf_trace_printk", message: "UPROBE unlinkat pid = 8, dfd = -100, flags = 512" }),
    line({ kind: "hit", probe, time: "1000", cpu: 0, pid: 7, tgid: 7, uid: 0, gid: 0, comm: "rm", args: ["18446744073709551615", 0, 0, 0, 0, 0] }),
    line({ kind: "hit", probe: { kind: "uprobe", binary: "libc.so.6", func: "open", retprobe: false }, time: "1500", cpu: 0, pid: 9, tgid: 9, uid: 0, gid: 0, comm: "x", args: [] }),
  ].join("\n");
  const recording = readRecording(text);
  assert.deepEqual(recording.hits.map((h) => h.pid), [7, 9, 8], "sorted by clock");
  assert.equal(recording.hits[0]!.args![0], 2n ** 64n - 1n, "integers beyond 2^53 come back exact");
  const sim = await simulate("examples/unlink-uprobe.ts");
  const fired = replay(sim, recording);
  assert.deepEqual(fired.map((f) => f.hit.pid), [7, 8], "a hit on a probe the object has no program for is skipped");
  assert.deepEqual(sim.trace(), ["UPROBE unlinkat pid = 7, dfd = -1, flags = 0", ...recording.printk.map((p) => p.message)]);
  assert.equal(sim.kernel.time, 2000n, "the clock is the last hit's");
});

test("a recording of none of the file's probes, or of more CPUs than the simulation has, is a usage error saying so", async () => {
  const open = { kind: "uprobe", binary: "libc.so.6", func: "open", retprobe: false };
  const unlink = { kind: "uprobe", binary: "libc.so.6", func: "unlinkat", retprobe: false };
  const hit = (probe: unknown, cpu: number) => line({ kind: "hit", probe, time: "1000", cpu, pid: 7, tgid: 7, uid: 0, gid: 0, comm: "rm", args: [0, 0, 0, 0, 0, 0] });
  const sim = await simulate("examples/unlink-uprobe.ts", { cpus: 2 });
  assert.throws(() => replay(sim, hit(open, 0)), (e: unknown) => e instanceof SimulationError && /^none of the recording's 1 hits is of a probe this file has \(recorded: uprobe:libc\.so\.6:open; the file's programs: uprobe\/libc\.so\.6:unlinkat\)$/.test(e.message));
  assert.throws(() => replay(sim, hit(unlink, 5)), (e: unknown) => e instanceof SimulationError && /the recording has hits on CPU 5, and the simulation has 2 CPUs: simulate it with \{ cpus: 6 \} or more/.test(e.message));
  assert.deepEqual(replay(sim, hit(open, 0), { filter: () => false }), [], "a filter that keeps nothing fires nothing");
});

test("a long recording replays: 140,000 hits, and events by map in order (a spread of its hits passed the arguments' limit)", async () => {
  const probe = { kind: "uprobe", binary: "libc.so.6", func: "unlinkat", retprobe: false };
  const n = 140_000;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(line({ kind: "hit", probe, time: String(i), cpu: i % 2, pid: 7, tgid: 7, uid: 0, gid: 0, comm: "rm", args: [0, 0, 0, 0, 0, 0] }));
    if (i % 1000 === 0) lines.push(line({ kind: "event", map: "events", value: { n: i } }));
  }
  const recording = readRecording(lines.join("\n"));
  assert.deepEqual(recording.events.get("events")?.map((e) => (e as { n: number }).n), Array.from({ length: n / 1000 }, (_, k) => k * 1000));
  const sim = await simulate({
    fileName: "count.ts",
    text: `import { uprobe, ArrayMap, type u64 } from "tsbpf";\nexport const license = "GPL";\nexport const calls = new ArrayMap<u64>(1);\nexport const count = uprobe("libc.so.6", "unlinkat", () => { calls.increment(0); });\n`,
  }, { cpus: 2 });
  assert.equal(replay(sim, recording).length, n);
  assert.equal(sim.map("calls").get(0), BigInt(n));
});

test("a recorded tracepoint hit places its strings where its pointer fields now point; filter picks hits", async () => {
  const probe = { kind: "tracepoint", group: "syscalls", name: "sys_enter_unlinkat" };
  const hit = (pid: number, comm: string) => line({ kind: "hit", probe, time: String(pid), cpu: 0, pid, tgid: pid, uid: 0, gid: 0, comm, fields: { __syscall_nr: 263, dfd: 4294967196, pathname: 140000000000, flag: 0 }, strings: { pathname: `/tmp/${pid}` } });
  const sim = await simulate("examples/unlink-tracepoint.ts", { tracepointFormats: { "syscalls/sys_enter_unlinkat": UNLINKAT_FORMAT } });
  const fired = replay(sim, [hit(5, "rm"), hit(6, "bash")].join("\n"), { filter: (h) => h.comm === "rm" });
  assert.equal(fired.length, 1);
  assert.deepEqual(sim.trace(), ["unlinkat by rm pid = 5, dfd = -100, flags = 0"]);
});

test("the recorder generated for the examples' attach points compiles, one ring buffer per probe point", () => {
  for (const file of ["examples/unlink-uprobe.ts", "examples/latency.ts"]) {
    const formats: Record<string, string> = { "syscalls/sys_enter_unlinkat": UNLINKAT_FORMAT, "syscalls/sys_exit_unlinkat": UNLINKAT_EXIT_FORMAT };
    const tracepointFormat = (g: string, n: string) => formats[`${g}/${n}`];
    const spec = openObject(compile(file, { tracepointFormat }).object);
    const recorder = recorderSource(spec.programs.map((p) => p.attach), tracepointFormat);
    assert.deepEqual(recorder.skipped, []);
    assert.equal(recorder.probes.length, spec.programs.length);
    const result = compile({ fileName: "recorder.ts", text: recorder.text }, { tracepointFormat });
    assert.deepEqual(result.diagnostics, [], recorder.text);
    // Each ring has a count of the hits it dropped, which tsbpf run warns of (a variable in .bss).
    const object = openObject(result.object);
    assert.deepEqual(object.maps.map((m) => m.name).sort(), [...recorder.probes.map((p) => p.map), ".bss"].sort());
    const bss = object.maps.find((m) => m.name === ".bss")!;
    assert.deepEqual(bss.origin === "data" && bss.variables.map((v) => v.name).sort(), recorder.probes.map((p) => `tsbpf_lost_${p.map}`).sort());
  }
});

test("a long recording's strings all arrive, and a pointer recorded again with its string keeps its address", async () => {
  const probe = { kind: "tracepoint", group: "syscalls", name: "sys_enter_openat" };
  const hit = (i: number, pointer: number, path: string) =>
    line({ kind: "hit", probe, time: String(1000 + i), cpu: 0, pid: 7, tgid: 7, uid: 0, gid: 0, comm: "cat", fields: { __syscall_nr: 257, dfd: 4294967196, filename: pointer, flags: 0, mode: 0 }, strings: { filename: path } });
  // More strings than the VM has regions of a kind: each one used to take a region of its own.
  const count = 2500;
  const hits = Array.from({ length: count }, (_, i) => hit(i, 140000000000 + 64 * i, `/tmp/file-${i}`));
  const formats = { tracepointFormats: { "syscalls/sys_enter_openat": OPENAT_FORMAT } };
  const sim = await simulate("examples/opensnoop.ts", formats);
  const recording = readRecording(hits.join("\n"));
  const names: string[] = [];
  // In slices, reading the events after each as tsbpf run's reader would, so the ring buffer never fills.
  for (let i = 0; i < count; i += 500) {
    replay(sim, { ...recording, hits: recording.hits.slice(i, i + 500) });
    names.push(...sim.events<{ filename: string }>("events").map((e) => e.filename));
  }
  assert.equal(names.length, count);
  names.forEach((name, i) => assert.equal(name, `/tmp/file-${i}`, `event ${i}`));

  const pointers = await simulate({ fileName: "pointers.ts", text: POINTER_PROBE }, formats);
  replay(pointers, [hit(0, 140000000000, "/a"), hit(1, 140000000064, "/a"), hit(2, 140000000000, "/a")].join("\n"));
  const [first, other, again] = pointers.trace();
  assert.equal(again, first);
  assert.notEqual(other, first);
});

const POINTER_PROBE = `
import { tracepoint, printk } from "tsbpf";
export const license = "GPL";
export const open = tracepoint("syscalls", "sys_enter_openat", (ctx) => {
  printk(\`\${ctx.filename}\`);
  return 0;
});
`;

test("tracepoints with char arrays, integer arrays and __data_loc strings are recorded and replayed", async () => {
  const fixture = "test/compiler/fixtures/tracepoint-fields.ts";
  const spec = openObject(compile(fixture, { tracepointFormat: fixtureFormat }).object);
  const recorder = recorderSource(spec.programs.map((p) => p.attach), fixtureFormat);
  assert.deepEqual(recorder.skipped, []);
  const result = compile({ fileName: "recorder.ts", text: recorder.text }, { tracepointFormat: fixtureFormat });
  assert.deepEqual(result.diagnostics, [], recorder.text);
  assert.match(recorder.text, /f_prev_comm: Str<16>; .*f_args: Arr<u64, 6>/s);
  assert.match(recorder.text, /f_filename: Str<256>/);

  const hit = (probe: object, fields: object) => line({ kind: "hit", probe, time: "1", cpu: 0, pid: 3, tgid: 3, uid: 0, gid: 0, comm: "x", fields });
  const recording = [
    hit({ kind: "tracepoint", group: "sched", name: "sched_process_exec" }, { filename: "/usr/bin/id", pid: 3, old_pid: 3 }),
    // A task named with digits only is replayed as the name, leading zeros and all (the field is a char array).
    hit({ kind: "tracepoint", group: "sched", name: "sched_switch" }, { prev_comm: "1234", prev_pid: 3, prev_prio: 120, prev_state: 0, next_comm: "sh", next_pid: 4, next_prio: 120 }),
    hit({ kind: "tracepoint", group: "sched", name: "sched_switch" }, { prev_comm: "0123", prev_pid: 3, prev_prio: 120, prev_state: 0, next_comm: "007", next_pid: 4, next_prio: 120 }),
    hit({ kind: "tracepoint", group: "raw_syscalls", name: "sys_enter" }, { id: 2, args: ["18446744073709551615", 1, 2, 3, 4, 5] }),
  ].join("\n");
  const formats = Object.fromEntries(["sched/sched_process_exec", "sched/sched_switch", "raw_syscalls/sys_enter", "fixture/odd_fields", "block/block_rq_issue"].map((k) => [k, fixtureFormat(...(k.split("/") as [string, string]))!]));
  const sim = await simulate(fixture, { tracepointFormats: formats });
  replay(sim, recording);
  for (const line of ["exec /usr/bin/id", "1234 -> sh", "0123 -> 007"]) assert.ok(sim.trace().includes(line), sim.trace().join("\n"));
  assert.ok(sim.trace().includes("18446744073709551615 5 2"), sim.trace().join("\n"));
});

test("profile and interval probes are left out of the recorder, each with the reason", () => {
  const spec = openObject(compile({ fileName: "timed.ts", text: 'import { profile, interval } from "tsbpf";\nexport const license = "GPL";\nexport const p = profile(99, () => 0);\nexport const i = interval(250, () => 0);\n' }).object);
  const recorder = recorderSource(spec.programs.map((p) => p.attach), fixtureFormat);
  assert.deepEqual(recorder.skipped, [
    "profile:hz:99: a perf event probe, whose samples a recorder's own events would not see",
    "interval:ms:250: a perf event probe, whose samples a recorder's own events would not see",
  ]);
  assert.deepEqual(recorder.probes, []);
});

test("a glob's recorder records which probe fired, a tracepoint glob's the fields its matches share; it compiles", () => {
  const targets = [
    { kind: "tracepoint", group: "sched", name: "sched_process_*" },
    { kind: "uprobe", binary: "/usr/bin/bash", func: "read*", offset: 0, retprobe: false },
    { kind: "kprobe", func: "vfs_*", offset: 0, retprobe: true },
  ] as const;
  const recorder = recorderSource(targets, fixtureFormat, () => ["sched/sched_process_exec", "sched/sched_switch"].filter((k) => k.startsWith("sched/sched_process_")));
  assert.deepEqual(recorder.skipped, []);
  assert.deepEqual(recorder.probes.map((p) => p.probe), targets.map((t) => (t.kind === "tracepoint" ? t : t.kind === "uprobe" ? { kind: "uprobe", binary: t.binary, func: t.func, retprobe: false } : { kind: "kprobe", func: t.func, retprobe: true })));
  assert.equal(recorder.text.match(/h\.probe = probe\(\);/g)?.length, 3);
  assert.match(recorder.text, /interface Hit0 \{ [^}]*f_filename: Str<256>[^}]*probe: ProbeName \}/);
  const r = compile({ fileName: "tsbpf-recorder.ts", text: recorder.text }, { arch: "x86_64", tracepointFormat: fixtureFormat, tracepointNames: () => ["sched/sched_process_exec"] });
  assert.deepEqual(r.diagnostics.map((d) => d.message), []);
});

test("a malformed recording fails with its line and what the hit lacks, not a TypeError", async () => {
  const sim = await simulate("examples/unlink-uprobe.ts");
  const probe = { kind: "uprobe", binary: "libc.so.6", func: "unlinkat", retprobe: false };
  const hit = { kind: "hit", probe, time: "1000", cpu: 0, pid: 7, tgid: 7, uid: 0, gid: 0, comm: "rm", args: [0, 0, 0, 0, 0, 0] };
  const fails = (text: string, message: RegExp) =>
    assert.throws(() => replay(sim, text), (e: unknown) => e instanceof SimulationError && e.kind === "usage" && message.test(e.message));
  fails(`${line(hit)}\nnull\n`, /recording line 2 is not a JSON object: null/);
  fails(`${line({ ...hit, probe: undefined })}\n`, /recording line 1: the hit's probe must be an object, not undefined/);
  fails(`${line({ ...hit, probe: { kind: "kprobe", func: "f" } })}\n`, /kprobe probe needs func \(a string\) and retprobe \(a boolean\)/);
  fails(`${line({ ...hit, time: "soon" })}\n`, /the hit's time must be nanoseconds .* not "soon"/);
  fails(`${line({ ...hit, cpu: undefined })}\n`, /the hit's cpu must be a non-negative integer, not undefined/);
  fails(`${line({ ...hit, args: "x" })}\n`, /the hit's args must be an array, not "x"/);
  fails(`${line({ ...hit, strings: { filename: "/x" } })}\n`, /field filename must hold the pointer its string was read from, not undefined/);
  assert.throws(() => replay(sim, 5 as never), (e: unknown) => e instanceof SimulationError && /replay\(\) takes a recording's path/.test(e.message));
  assert.throws(() => replay(sim, `${line(hit)}\n`, { filter: true as never }), (e: unknown) => e instanceof SimulationError && /filter must be a function/.test(e.message));
  assert.equal(replay(sim, `${line(hit)}\n`).length, 1, "the well-formed hit replays");
});

test("a hit's recorded cgroup is the task's cgroup when it replays; a recording without one keeps the simulation's", async () => {
  const r = compile({
    fileName: "cgroups.ts",
    text: `import { uprobe, cgroupId, HashMap, type u64 } from "tsbpf";
export const license = "GPL";
export const calls = new HashMap<u64, u64>(8);
export const u = uprobe("libc.so.6", "unlinkat", () => { calls.increment(cgroupId()); });
`,
  });
  assert.deepEqual(r.diagnostics, []);
  const sim = await simulate(r.object, { name: "cgroups" });
  const probe = { kind: "uprobe", binary: "libc.so.6", func: "unlinkat", retprobe: false };
  const hit = { kind: "hit", probe, time: "1000", cpu: 0, pid: 7, tgid: 7, uid: 0, gid: 0, comm: "rm", args: [0, 0, 0, 0, 0, 0] };
  replay(sim, [line({ ...hit, cgroup: "18446744073709551615" }), line({ ...hit, time: "2000" }), line({ ...hit, time: "3000", cgroup: 25 })].join("\n"));
  assert.deepEqual(sim.map("calls").toMap(), new Map([[2n ** 64n - 1n, 2n], [25n, 1n]]), "the second hit, recorded without a cgroup, stays in the first's");
  assert.throws(() => replay(sim, `${line({ ...hit, cgroup: -1 })}\n`), /the hit's cgroup must be a cgroup id \(an integer or a decimal string\), not -1/);
});

test("readRecording gives the maps the run printed, so a replay's maps compare with the kernel's", async () => {
  const probe = (name: string) => ({ kind: "tracepoint", group: "syscalls", name });
  const task = { cpu: 1, pid: 3701, tgid: 3701, uid: 0, gid: 0, cgroup: "1", comm: "rm" };
  const text = [
    line({ kind: "hit", probe: probe("sys_enter_unlinkat"), time: "26844846805767", ...task, fields: { __syscall_nr: 263, dfd: -100, pathname: 94846673312752, flag: 0 }, strings: { pathname: "/tmp/x" } }),
    line({ kind: "hit", probe: probe("sys_exit_unlinkat"), time: "26844846831184", ...task, fields: { __syscall_nr: 263, ret: -2 }, strings: {} }),
    line({ kind: "map", map: "latency", histogram: [{ bucket: "[16K, 32K)", min: 16384, max: 32767, count: 1 }] }),
    line({ kind: "map", map: "calls", entries: [{ key: 0, value: 1 }, { key: 1, value: 1 }] }),
  ].join("\n");
  const recording = readRecording(text);
  assert.deepEqual([...recording.maps.keys()], ["latency", "calls"]);
  const sim = await simulate("examples/latency.ts", { tracepointFormats: { "syscalls/sys_enter_unlinkat": UNLINKAT_FORMAT, "syscalls/sys_exit_unlinkat": UNLINKAT_EXIT_FORMAT } });
  replay(sim, recording);
  const calls = recording.maps.get("calls")!.at(-1)!.entries as { key: number; value: number }[];
  assert.deepEqual(sim.map("calls").entries(), calls.map((e) => [e.key, BigInt(e.value)]));
  // A log2 histogram's bucket [2^(k-1), 2^k) is slot k: 25,417 ns is slot 15.
  const buckets = recording.maps.get("latency")!.at(-1)!.histogram as { min: number; count: number }[];
  const slots = sim.map("latency").toArray().flatMap((n, k) => (n ? [[k, Number(n)]] : []));
  assert.deepEqual(slots, buckets.map((b) => [Math.log2(b.min) + 1, b.count]));
});

test("an execve's argv and envp (char *const *: arrays of pointers, not text) are not recorded as strings, and a recording that has them replays them unreadable", async () => {
  const formats = { "syscalls/sys_enter_execve": fixtureFormat("syscalls", "sys_enter_execve")! };
  const tracepointFormat = (g: string, n: string) => formats[`${g}/${n}` as keyof typeof formats];
  const spec = openObject(compile("examples/execargs.ts", { tracepointFormat }).object);
  const recorder = recorderSource(spec.programs.map((p) => p.attach), tracepointFormat);
  assert.match(recorder.text, /h\.s_filename = readUserStr\(ctx\.filename\)/);
  assert.doesNotMatch(recorder.text, /s_argv|s_envp/);

  // An older recorder read the pointer arrays' bytes as text; replayed, the probe read them as argv's pointers.
  const probe = { kind: "tracepoint", group: "syscalls", name: "sys_enter_execve" };
  const fields = { __syscall_nr: 59, filename: 140000000000, argv: 140000000100, envp: 140000000200 };
  const strings = { filename: "/usr/bin/cat", argv: "\u00b0\u00a0\\\u00e9\u00ff\u007f", envp: "\u0017\u00e0\\\u00e9\u00ff\u007f" };
  const sim = await simulate("examples/execargs.ts", { tracepointFormats: formats });
  replay(sim, line({ kind: "hit", probe, time: "1", cpu: 0, pid: 3, tgid: 3, uid: 0, gid: 0, comm: "sh", fields, strings }));
  assert.deepEqual(sim.events("execs"), [{ pid: 3, argc: 0, comm: "sh", args: ["", "", "", "", "", ""] }]);
});

test("a recording names the run's target process and --set texts, which simulate() takes as its targetPid and set options; replaying one made with a target into a simulation without it says to pass them", async () => {
  const run = line({ kind: "run", targetPid: 77, set: { minMs: "0x10" } });
  const probe = { kind: "tracepoint", group: "syscalls", name: "sys_enter_unlinkat" };
  const hit = line({ kind: "hit", probe, time: "1", cpu: 0, pid: 77, tgid: 77, uid: 0, gid: 0, comm: "rm", fields: { __syscall_nr: 263, dfd: -100, pathname: 0, flag: 0 } });
  const recording = readRecording([run, hit].join("\n"));
  assert.deepEqual(recording.run, { targetPid: 77, set: { minMs: "0x10" } });

  const text = `import { tracepoint, printk, targetPid, pidTgid, type u64 } from "tsbpf";
export const license = "GPL";
let minMs: u64 = 1;
export const p = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => {
  if (targetPid() !== 0 && pidTgid() >> 32 !== targetPid()) return;
  printk(\`\${targetPid()} \${minMs}\`);
});
`;
  const formats = { tracepointFormats: { "syscalls/sys_enter_unlinkat": UNLINKAT_FORMAT } };
  const without = await simulate({ fileName: "target.ts", text }, formats);
  assert.throws(() => replay(without, recording), (e: unknown) => e instanceof SimulationError && e.kind === "usage" && /with --command or --pid, process 77: simulate\(\.\.\., \{ targetPid: 77 \}\)/.test(e.message));
  // The --set texts read as tsbpf run's loader reads them (0x10 is 16), a wrong one refused as it refuses it.
  const sim = await simulate({ fileName: "target.ts", text }, { ...formats, ...recording.run });
  replay(sim, recording);
  assert.deepEqual(sim.trace(), ["77 16"]);
  await assert.rejects(simulate({ fileName: "target.ts", text }, { ...formats, set: { minMs: "-1" } }), (e: unknown) => e instanceof SimulationError && e.kind === "usage" && /minMs/.test(e.message));
  await assert.rejects(simulate({ fileName: "target.ts", text }, { ...formats, set: { minMs: 16 } as never }), (e: unknown) => e instanceof SimulationError && e.kind === "usage" && /set/.test(e.message));
  // A recording without a run line (before tsbpf wrote one) replays as before.
  assert.equal(readRecording(hit).run, undefined);
});
