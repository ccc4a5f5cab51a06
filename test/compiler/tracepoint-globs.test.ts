// Tracepoint globs and probe(), as bpftrace's `tracepoint:syscalls:sys_enter_* { @[probe] = count(); }`: one program
// whose record is the fields every match shares, attached to each match; probe() reads the id the loader puts in the
// attach cookie's high half and prints as the probe's name. Both backends, the simulator, and on this kernel.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile, type CompileOptions } from "../../compiler/index.js";
import { funcTags, parseBtf, PROBE_TAG, PROBE_TYPEDEF } from "../../compiler/btf/index.js";
import { FakeSys, SysError, pmuType, missingBpf, missingRoot, missingTracefs, openSys, type PerfEventAttr, type PerfEventOpenOptions } from "../../runtime/sys/index.js";
import { loadObject, openObject } from "../../runtime/loader/index.js";
import { probeName } from "../../runtime/loader/probe-names.js";
import { readRecording, replay, simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

/** A syscall tracepoint's format file: the common header, __syscall_nr at 8, then `fields`. */
const syscallFormat = (name: string, fields: string): string =>
  `name: ${name}\nID: 1\nformat:\n` +
  "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n" +
  "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n" +
  `\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n${fields}`;

const FORMATS: Record<string, string> = {
  "syscalls/sys_enter_openat": syscallFormat("sys_enter_openat", "\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;\n"),
  "syscalls/sys_enter_read": syscallFormat("sys_enter_read", "\tfield:unsigned int fd;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:int flags;\toffset:24;\tsize:8;\tsigned:0;\n"),
  "syscalls/sys_exit_read": syscallFormat("sys_exit_read", "\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n"),
};
const withFormats: CompileOptions = { tracepointFormat: (g, n) => FORMATS[`${g}/${n}`], tracepointNames: () => Object.keys(FORMATS) };

const file = (body: string) => ({
  fileName: "globs.ts",
  text: `import { HashMap, tracepoint, usdt, probe, begin, printf, type ProbeName, type u64 } from "tsbpf";
export const license = "GPL";
export const calls = new HashMap<ProbeName, u64>(64);
export const nrs = new HashMap<u64, u64>(64);
${body}
`,
});
const COUNTING = file(`export const enter = tracepoint("syscalls", "sys_enter_*", (ctx) => { calls.increment(probe()); nrs.increment(ctx.__syscall_nr); });`);
const messages = (r: ReturnType<typeof compile>) => r.diagnostics.map((d) => `${d.code} ${d.message}`);

describe("tracepoint globs and probe() in the compiler", () => {
  it("one program on the glob, reading the fields every match shares; tagged for probe ids, its keys typed tsbpf_probe", () => {
    for (const backend of ["own", "llvm"] as const) {
      const r = compile(COUNTING, { ...withFormats, backend });
      assert.deepEqual(messages(r), [], backend);
      assert.deepEqual(r.programs.map((p) => p.section), ["tracepoint/syscalls/sys_enter_*"], backend);
      const btf = parseBtf(r.btf);
      assert.deepEqual(funcTags(btf, "enter"), [PROBE_TAG], backend);
      assert.ok([...btf.types()].some((t) => t.name === PROBE_TYPEDEF), `${backend}: the map key's type is named ${PROBE_TYPEDEF}`);
    }
  });

  it("a field not every match has at the same place is refused, naming the fields they share", () => {
    // flags is in both, at different offsets; dfd only in openat.
    for (const field of ["flags", "dfd"]) {
      const r = compile(file(`export const enter = tracepoint("syscalls", "sys_enter_*", (ctx) => { nrs.increment(ctx.${field}); });`), withFormats);
      assert.deepEqual(messages(r), [`TS2339 not every tracepoint syscalls:sys_enter_* matches has a field ${field} at the same place and of the same type; the fields they share are __syscall_nr`]);
    }
  });

  it("a glob matching nothing is an unknown tracepoint; a program without probe() is not tagged", () => {
    const none = compile(file(`export const x = tracepoint("syscalls", "sys_enter_nothing*", () => 0);`), withFormats);
    assert.equal(none.diagnostics.length, 1);
    assert.match(messages(none)[0]!, /^TSBPF1013 no tracepoint matches syscalls:sys_enter_nothing\* \(none in .*available_events\)$/);
    const untagged = compile(file(`export const x = tracepoint("syscalls", "sys_*_read", (ctx) => { nrs.increment(ctx.__syscall_nr); });`), withFormats);
    assert.deepEqual(messages(untagged), []);
    assert.deepEqual(funcTags(parseBtf(untagged.btf), "x"), []);
  });

  it("probe() has no probe to name in begin()", () => {
    assert.deepEqual(messages(compile(file(`export const b = begin(() => { calls.increment(probe()); });`), withFormats)), [
      "TSBPF1017 probe() names the probe that fired, and no probe fires a begin() handler: it runs once, by tsbpf run",
    ]);
  });
});

describe("probe() in the simulator", () => {
  it("a glob's program fires on each match, and probe() reads that match's name", async () => {
    const sim = await simulate(COUNTING, { tracepointFormats: FORMATS });
    sim.tracepoint("syscalls", "sys_enter_openat", { __syscall_nr: 257 });
    sim.tracepoint("syscalls", "sys_enter_read", { __syscall_nr: 0 });
    sim.tracepoint("syscalls", "sys_enter_read", { __syscall_nr: 0 });
    assert.throws(() => sim.tracepoint("syscalls", "sys_exit_read", { ret: 1 }), /no tracepoint syscalls:sys_exit_read in the object; its programs: enter \(tracepoint\/syscalls\/sys_enter_\*\)/);
    assert.deepEqual(sim.map("calls").toMap(), new Map([["tracepoint:syscalls:sys_enter_openat", 1n], ["tracepoint:syscalls:sys_enter_read", 2n]]));
    assert.deepEqual(sim.map("nrs").toMap(), new Map([[257n, 1n], [0n, 2n]]));
    assert.equal(sim.map("calls").get("tracepoint:syscalls:sys_enter_read"), 2n);
  });

  it("printf's %s of a ProbeName (probe() itself, or a variable holding it) writes the name", async () => {
    const sim = await simulate(file(`export const enter = tracepoint("syscalls", "sys_enter_*", () => { const p: ProbeName = probe(); printf("%-36s|%s\\n", probe(), p); });`), { tracepointFormats: FORMATS });
    sim.tracepoint("syscalls", "sys_enter_read", { __syscall_nr: 0 });
    assert.equal(sim.output(), "tracepoint:syscalls:sys_enter_read  |tracepoint:syscalls:sys_enter_read\n");
  });

  it("a USDT glob's program fires for each probe it matches, named as the probe fired", async () => {
    const sim = await simulate({
      fileName: "usdt.ts",
      text: `import { HashMap, usdt, probe, type ProbeName, type u64 } from "tsbpf";
export const license = "GPL";
export const calls = new HashMap<ProbeName, u64>(64);
export const gc = usdt("/usr/bin/python3", "python", "gc__*", () => { calls.increment(probe()); });
`,
    });
    sim.usdt("python:gc__start");
    sim.usdt("/usr/bin/python3:python:gc__done");
    assert.throws(() => sim.usdt("python:line"), /no usdt probe python:line/);
    assert.deepEqual(sim.map("calls").toMap(), new Map([["usdt:/usr/bin/python3:python:gc__start", 1n], ["usdt:/usr/bin/python3:python:gc__done", 1n]]));
  });

  it("names kprobes, uprobes, USDT probes and perf event probes as bpftrace does", async () => {
    const sim = await simulate({
      fileName: "kinds.ts",
      text: `import { HashMap, kprobe, kretprobe, uprobe, usdt, profile, software, probe, type ProbeName, type u64 } from "tsbpf";
export const license = "GPL";
export const calls = new HashMap<ProbeName, u64>(64);
export const k = kprobe("do_unlinkat", () => { calls.increment(probe()); });
export const kr = kretprobe("do_unlinkat", () => { calls.increment(probe()); });
export const u = uprobe("/usr/bin/bash", "readline", () => { calls.increment(probe()); });
export const d = usdt("/usr/bin/python3", "python", "gc__start", () => { calls.increment(probe()); });
export const p = profile(99, () => { calls.increment(probe()); });
export const s = software("faults", 100, () => { calls.increment(probe()); });
`,
    });
    sim.kprobe("do_unlinkat");
    sim.kretprobe("do_unlinkat");
    sim.uprobe("/usr/bin/bash:readline");
    sim.usdt("python:gc__start");
    sim.profile();
    sim.software("page-faults");
    assert.deepEqual([...sim.map("calls").toMap().keys()].sort(), [
      "kprobe:do_unlinkat",
      "kretprobe:do_unlinkat",
      "profile:hz:99",
      "software:page-faults:100",
      "uprobe:/usr/bin/bash:readline",
      "usdt:/usr/bin/python3:python:gc__start",
    ]);
  });
});

describe("tracepoint globs on FakeSys", { skip: missingTracefs() }, () => {
  it("one perf event per match, each linked with its probe's id as the cookie; a match the kernel refuses is left out and said", () => {
    // The kernel's own tracefs lists the matches; FakeSys refuses the perf event of one of them.
    const unlinkId = BigInt(readFileSync("/sys/kernel/tracing/events/syscalls/sys_enter_unlink/id", "utf8").trim());
    const sys = new (class extends FakeSys {
      override perfEventOpen(attr: PerfEventAttr, options?: PerfEventOpenOptions): number {
        if (attr.config === unlinkId) throw new SysError("perf_event_open", 22);
        return super.perfEventOpen(attr, options);
      }
    })();
    const r = compile(file(`export const unlinks = tracepoint("syscalls", "sys_enter_unlink*", () => { calls.increment(probe()); });`));
    assert.deepEqual(messages(r), []);
    const obj = loadObject(sys, openObject(r.object, { name: "globs" }));
    const { attached } = obj.attachAll();
    assert.equal(attached.length, 1);
    assert.match(attached[0]!.description, /^tracepoint syscalls:sys_enter_unlink\* \(1 tracepoint; 1 refused, the first: cannot create the tracepoint syscalls:sys_enter_unlink event for program unlinks: perf_event_open failed: EINVAL/);
    assert.equal(attached[0]!.hooks, 1);
    const links = sys.openFds().filter((f) => f.kind === "link").map((f) => sys.link(f.fd)!.perfEventCookie!);
    assert.deepEqual(links.map((c) => probeName(Number(c >> 32n))), ["tracepoint:syscalls:sys_enter_unlinkat"]);
    assert.deepEqual(links.map((c) => c & 0xffff_ffffn), [0n]);
    obj.close();
    assert.deepEqual(sys.leaks(), []);
  });
});

const PYTHON = "/usr/bin/python3";
const noPythonUsdt = existsSync(PYTHON) && readFileSync(PYTHON).includes("gc__start") ? false : `${PYTHON} with CPython's USDT probes is not installed`;

describe("USDT probes without parameters on FakeSys", { skip: noPythonUsdt || (pmuType("uprobe") === undefined && "the kernel has no uprobe PMU") }, () => {
  it("attach as those with: the object has the __bpf_usdt_specs map the loader writes their sites' specs to", () => {
    const sys = new FakeSys();
    const r = compile(file(`export const starts = usdt("${PYTHON}", "python", "gc__*", () => { calls.increment(probe()); });`));
    assert.deepEqual(messages(r), []);
    const obj = loadObject(sys, openObject(r.object, { name: "noargs" }));
    assert.ok(obj.maps.has("__bpf_usdt_specs"));
    const [a] = obj.attachAll().attached;
    assert.match(a!.description, /^usdt \/usr\/bin\/python3:python:gc__\* \(2 probes, 2 sites\)$/);
    const cookies = sys.openFds().filter((f) => f.kind === "link").map((f) => sys.link(f.fd)!.perfEventCookie!);
    // The probe's id above, its site's spec id (an index into the specs map) below.
    assert.deepEqual(cookies.map((c) => probeName(Number(c >> 32n))).sort(), [`usdt:${PYTHON}:python:gc__done`, `usdt:${PYTHON}:python:gc__start`]);
    assert.ok(cookies.every((c) => (c & 0xffff_ffffn) < 2n), String(cookies));
    obj.close();
    assert.deepEqual(sys.leaks(), []);
  });
});

const noKernel = missingRoot() ?? missingBpf(openSys()) ?? missingTracefs();

describe("tracepoint globs and probe() on this kernel", { skip: noKernel }, () => {
  const run = (text: string, command: string, files: readonly string[] = []) => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-globs-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      writeFileSync(join(dir, "globs.ts"), text);
      for (const f of files) writeFileSync(join(dir, f), "");
      return spawnSync(process.execPath, [...CLI, "run", join(dir, "globs.ts"), "--no-cache", "-c", command.replaceAll("DIR", dir)], { encoding: "utf8", env, timeout: 60_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it("a glob attaches to every match; probe() counts a command's unlinks under the tracepoint that fired", () => {
    const r = run(
      `import { HashMap, tracepoint, probe, printf, targetPid, pidTgid, type ProbeName, type u64 } from "tsbpf";
export const license = "GPL";
export const calls = new HashMap<ProbeName, u64>(64);
export const unlinks = tracepoint("syscalls", "sys_enter_unlink*", () => {
  if (pidTgid() >> 32 !== targetPid()) return;
  calls.increment(probe());
  printf("fired %s\\n", probe());
});
`,
      "rm DIR/a DIR/b",
      ["a", "b"],
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /attached unlinks to tracepoint syscalls:sys_enter_unlink\* \(2 tracepoints\)/);
    // rm unlinks with unlinkat(2): two files, two calls, none of unlink(2).
    assert.match(r.stdout, /^@calls\[tracepoint:syscalls:sys_enter_unlinkat\]: 2$/m);
    assert.doesNotMatch(r.stdout, /sys_enter_unlink\]/);
    assert.equal(r.stdout.split("\n").filter((l) => l === "fired tracepoint:syscalls:sys_enter_unlinkat").length, 2, r.stdout);
  });

  it("--record writes a glob's hits as the tracepoints that fired, and replay() counts them as the kernel did", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-globs-record-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      const text = `import { HashMap, tracepoint, probe, targetPid, pidTgid, type ProbeName, type u64 } from "tsbpf";
export const license = "GPL";
export const calls = new HashMap<ProbeName, u64>(64);
export const unlinks = tracepoint("syscalls", "sys_enter_unlink*", () => {
  if (pidTgid() >> 32 === targetPid()) calls.increment(probe());
});
`;
      writeFileSync(join(dir, "globs.ts"), text);
      for (const f of ["a", "b"]) writeFileSync(join(dir, f), "");
      const recording = join(dir, "hits.jsonl");
      const r = spawnSync(process.execPath, [...CLI, "run", join(dir, "globs.ts"), "--no-cache", "--record", recording, "-c", `rm ${join(dir, "a")} ${join(dir, "b")}`], { encoding: "utf8", env, timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^@calls\[tracepoint:syscalls:sys_enter_unlinkat\]: 2$/m);
      const hits = readRecording(recording).hits.filter((h) => h.comm === "rm");
      assert.deepEqual(hits.map((h) => h.probe), [
        { kind: "tracepoint", group: "syscalls", name: "sys_enter_unlinkat" },
        { kind: "tracepoint", group: "syscalls", name: "sys_enter_unlinkat" },
      ]);
      const sim = await simulate({ fileName: "globs.ts", text }, { targetPid: hits[0]!.tgid });
      replay(sim, recording);
      assert.deepEqual(sim.map("calls").toMap(), new Map([["tracepoint:syscalls:sys_enter_unlinkat", 2n]]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a USDT probe's id rides above its argument spec id: probe() and the arguments read both", { skip: existsSync(PYTHON) && readFileSync(PYTHON).includes("gc__start") ? false : `${PYTHON} with CPython's USDT probes is not installed` }, () => {
    const r = run(
      `import { HashMap, usdt, probe, type ProbeName, type u64, type i32 } from "tsbpf";
export const license = "GPL";
export const byProbe = new HashMap<ProbeName, u64>(8);
export const generations = new HashMap<u64, u64>(8);
export const gc = usdt("${PYTHON}", "python", "gc__start", (generation: i32) => {
  byProbe.increment(probe());
  generations.increment(generation);
});
`,
      `${PYTHON} -c 'import gc; gc.collect(2); gc.collect(1)'`,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^@byProbe\\[usdt:${PYTHON}:python:gc__start\\]: \\d+$`, "m"));
    assert.match(r.stdout, /^@generations\[2\]: [1-9]\d*$/m);
    assert.match(r.stdout, /^@generations\[1\]: [1-9]\d*$/m);
  });

  it("a USDT glob takes every probe it matches, each site with its own spec", { skip: noPythonUsdt }, () => {
    const r = run(
      `import { HashMap, usdt, probe, type ProbeName, type u64, type i64 } from "tsbpf";
export const license = "GPL";
export const byProbe = new HashMap<ProbeName, u64>(8);
export const args = new HashMap<i64, u64>(64);
export const collections = usdt("${PYTHON}", "python", "gc__*", (first: i64) => {
  byProbe.increment(probe());
  args.increment(first);
});
export const starts = usdt("${PYTHON}", "python", "gc__start", () => {
  byProbe.increment(probe());
});
`,
      `${PYTHON} -c 'import gc; gc.collect(2); gc.collect(2)'`,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`attached collections to usdt ${PYTHON}:python:gc__\\* \\(2 probes, 2 sites\\)`));
    const count = (name: string) => Number(new RegExp(`^@byProbe\\[usdt:${PYTHON}:python:${name}\\]: (\\d+)$`, "m").exec(r.stdout)?.[1]);
    // Each collection fires gc__start twice (both programs) and gc__done once; gc__start's argument is the generation.
    assert.ok(count("gc__done") >= 2, r.stdout);
    assert.equal(count("gc__start"), 2 * count("gc__done"), r.stdout);
    assert.match(r.stdout, /^@args\[2\]: [2-9]\d*$/m);
  });
});
