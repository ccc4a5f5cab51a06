// software(event, n, h) and hardware(event, n, h), as bpftrace's software:page-faults:100 and hardware:cache-misses:N:
// perf_event programs tagged `tsbpf:perf_event=software:EVENT:N` (the event's full name, an alias resolved), both
// backends; the tag's grammar; the loader's events on FakeSys (that event on every CPU, a sample every N); the
// simulator; and on this kernel, page faults of a command counted, and a hardware probe refused in one sentence
// where the machine exposes no counters.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { compile } from "../../compiler/index.js";
import { funcTags, parseBtf, parsePerfEventTag } from "../../compiler/btf/index.js";
import { loadObject, openObject } from "../../runtime/loader/index.js";
import { FakeSys, PerfType, missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { verifyObject } from "../../cli/commands/verify.js";
import { simulate } from "../../runtime/test/index.js";
import * as tsbpf from "../../index.js";
import { CLI } from "../support/cli.js";

const SOURCE = `import { software, hardware, comm, targetPid, pidTgid, HashMap, type Str, type u64 } from "tsbpf";
export const license = "GPL";
export const faults = new HashMap<Str<16>, u64>(64);
export const misses = new HashMap<Str<16>, u64>(64);
export const pf = software("faults", 1, () => {
  if (targetPid() !== 0 && pidTgid() >> 32 !== targetPid()) return;
  faults.increment(comm());
});
export const cs = software("context-switches", 10, () => 0);
export const cm = hardware("cache-misses", 100000, () => {
  misses.increment(comm());
});
`;

describe("software() and hardware()", () => {
  it("tag each program with the event's full name and count; the loader reads them back; the verifier model accepts them", () => {
    for (const backend of ["own", "llvm"] as const) {
      const r = compile({ fileName: "events.ts", text: SOURCE }, { backend });
      assert.deepEqual(r.diagnostics, [], backend);
      assert.deepEqual(r.programs.map((p) => [p.name, p.section, p.kind]), [["pf", "perf_event", "software"], ["cs", "perf_event", "software"], ["cm", "perf_event", "hardware"]], backend);
      const btf = parseBtf(r.btf);
      assert.deepEqual(["pf", "cs", "cm"].map((f) => funcTags(btf, f)), [["tsbpf:perf_event=software:page-faults:1"], ["tsbpf:perf_event=software:context-switches:10"], ["tsbpf:perf_event=hardware:cache-misses:100000"]], backend);
      const spec = openObject(r.object, { name: "events" });
      assert.deepEqual(spec.programs.map((p) => p.attach), [
        { kind: "perf_event", probe: "software", event: "page-faults", count: 1 },
        { kind: "perf_event", probe: "software", event: "context-switches", count: 10 },
        { kind: "perf_event", probe: "hardware", event: "cache-misses", count: 100000 },
      ], backend);
      assert.deepEqual(verifyObject(r.object).programs.map((p) => p.verdict), ["accepted", "accepted", "accepted"], backend);
    }
  });

  it("take an event bpftrace names and a positive integer literal count", () => {
    const diagnostics = (from: string, to: string) => compile({ fileName: "bad.ts", text: SOURCE.replace(from, to) }).diagnostics;
    const typo = diagnostics(`software("faults", 1`, `software("fault", 1`);
    assert.ok(typo.some((d) => d.code === "TS2345" && d.line === 5), JSON.stringify(typo));
    const forced = diagnostics(`software("faults", 1`, `software("fault" as any, 1`);
    assert.ok(forced.some((d) => d.code === "TSBPF1008" && /must name a software event: cpu-clock, task-clock, page-faults/.test(d.message)), JSON.stringify(forced));
    const zero = diagnostics(`software("faults", 1`, `software("faults", 0`);
    assert.ok(zero.some((d) => d.code === "TSBPF1008" && /the second argument of software\(\) must be a positive integer literal \(events per sample/.test(d.message)), JSON.stringify(zero));
    // Without its count, TypeScript refuses the call first.
    const missing = diagnostics(`software("context-switches", 10, () => 0)`, `software("context-switches", () => 0)`);
    assert.ok(missing.some((x) => x.code === "TS2554" && x.line === 9), JSON.stringify(missing));
  });

  it("describe their probe in Node without running the handler", () => {
    const p = tsbpf.software("page-faults", 100, () => {
      throw new Error("not run");
    });
    assert.deepEqual({ ...p }, { __tsbpfProbe: true, kind: "software", section: "perf_event", event: "page-faults", count: 100 });
  });
});

describe("tsbpf:perf_event=software:EVENT:N and hardware:EVENT:N tags", () => {
  it("name an event by its name or alias, resolved to the full name", () => {
    assert.deepEqual(parsePerfEventTag("software:page-faults:100"), { probe: "software", event: "page-faults", count: 100 });
    assert.deepEqual(parsePerfEventTag("software:cs:5"), { probe: "software", event: "context-switches", count: 5 });
    assert.deepEqual(parsePerfEventTag("hardware:cycles:1000000"), { probe: "hardware", event: "cpu-cycles", count: 1000000 });
  });
  it("refuse an unknown event naming the ones there are, and a bad count with the form", () => {
    assert.match(parsePerfEventTag("software:faultz:1") as string, /names no software event; there are cpu-clock, task-clock, page-faults/);
    assert.match(parsePerfEventTag("hardware:page-faults:1") as string, /names no hardware event/);
    assert.match(parsePerfEventTag("software:page-faults:0") as string, /is not .*software:EVENT:N/);
  });
});

describe("software and hardware events on FakeSys", () => {
  it("open the event on every CPU with a sample every N events, linked and enabled; close releases all", () => {
    const sys = new FakeSys();
    const obj = loadObject(sys, openObject(compile({ fileName: "events.ts", text: SOURCE }).object, { name: "events" }));
    const { attached } = obj.attachAll({ cpus: [0, 1] });
    assert.deepEqual(attached.map((a) => a.description), ["software:page-faults:1 (on 2 CPUs)", "software:context-switches:10 (on 2 CPUs)", "hardware:cache-misses:100000 (on 2 CPUs)"]);
    const events = sys.openFds().filter((f) => f.kind === "perf").map((f) => sys.perfEvent(f.fd)!);
    assert.deepEqual(events.map((e) => [e.attr.type, e.attr.config, e.attr.samplePeriod, e.attr.flags ?? 0n, e.options.cpu, e.enabled]), [
      [PerfType.SOFTWARE, 2n, 1n, 0n, 0, true],
      [PerfType.SOFTWARE, 2n, 1n, 0n, 1, true],
      [PerfType.SOFTWARE, 3n, 10n, 0n, 0, true],
      [PerfType.SOFTWARE, 3n, 10n, 0n, 1, true],
      [PerfType.HARDWARE, 3n, 100000n, 0n, 0, true],
      [PerfType.HARDWARE, 3n, 100000n, 0n, 1, true],
    ]);
    obj.close();
    assert.deepEqual(sys.leaks(), []);
  });
});

describe("sim.software() and sim.hardware()", () => {
  it("fire the probes on an event, by name or alias, with the task it came from", async () => {
    const sim = await simulate({ fileName: "events.ts", text: SOURCE });
    assert.deepEqual(sim.software("page-faults", { pid: 5, comm: "dd" }).runs.map((r) => r.program), ["pf"]);
    sim.software("faults", { pid: 5, comm: "dd" });
    assert.deepEqual(sim.software("cs").runs.map((r) => r.program), ["cs"]);
    assert.deepEqual(sim.hardware("cache-misses", { comm: "cc1" }).runs.map((r) => r.program), ["cm"]);
    assert.deepEqual(sim.map("faults").toMap(), new Map([["dd", 2n]]));
    assert.deepEqual(sim.map("misses").toMap(), new Map([["cc1", 1n]]));
    assert.throws(() => sim.software("cpu-migrations"), /no software:cpu-migrations probe in the object/);
    assert.throws(() => sim.software("faultz"), /software\(\) takes the name of a software event \(cpu-clock, /);
  });
});

const noKernel = missingRoot() ?? missingBpf(openSys());

describe("software and hardware probes on this kernel", { skip: noKernel }, () => {
  const run = (text: string, args: string[]) => {
    const dir = `/tmp/tsbpf-sw-${process.pid}`;
    spawnSync("mkdir", ["-p", dir]);
    const file = `${dir}/events.ts`;
    spawnSync("sh", ["-c", `cat > ${file}`], { input: text });
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      return spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", ...args], { encoding: "utf8", env, timeout: 60_000 });
    } finally {
      spawnSync("rm", ["-rf", dir]);
    }
  };

  it("software(\"faults\", 1) counts a command's page faults: dd's 8 MiB buffer faults in page by page", () => {
    const r = run(SOURCE.replace(/export const cm = hardware[\s\S]*$/, ""), ["-c", "dd if=/dev/zero of=/dev/null bs=8M count=2"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /attached pf to software:page-faults:1 \(on \d+ CPUs?\)/);
    const dd = /^@faults\[dd\]: (\d+)$/m.exec(r.stdout);
    assert.ok(dd && Number(dd[1]) >= 2048, r.stdout);
    // The target is stopped in the shell that execs it (cli/target.ts), so its last faults before exec count as sh.
    assert.doesNotMatch(r.stdout, /@faults\[(?!dd\]|sh\])/, "only the command's faults: the probe filters by targetPid()");
  });

  it("a hardware probe where the CPU exposes no counters is refused in one sentence at the probe (exit 4)", { skip: existsSync("/sys/bus/event_source/devices/cpu") && "this machine has a CPU PMU" }, () => {
    const r = run(SOURCE, ["--duration", "1"]);
    assert.equal(r.status, 4, r.stderr);
    const [head, ...frame] = r.stderr.trim().split("\n");
    assert.match(head!, /events\.ts:\d+:\d+ - error TSBPF3001: cannot attach hardware:cache-misses:100000: this machine's CPU exposes no cache-misses counter to the kernel/);
    assert.deepEqual(frame.slice(1).map((l) => l.replace(/^\d+ /, "").trim()), ['export const cm = hardware("cache-misses", 100000, () => {', "~".repeat('hardware("cache-misses", 100000'.length)], r.stderr);
  });

  it("a one-liner's hardware probe, named by an alias, is refused at its call, not inside its handler", { skip: existsSync("/sys/bus/event_source/devices/cpu") && "this machine has a CPU PMU" }, () => {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const text = 'const n = new Count(); hardware("cycles", 1000000, () => { n.increment(); })';
    const r = spawnSync(process.execPath, [...CLI, "run", "-e", text, "--no-cache", "--duration", "1"], { encoding: "utf8", env, timeout: 60_000 });
    assert.equal(r.status, 4, r.stderr);
    const [head, ...frame] = r.stderr.trim().split("\n");
    assert.match(head!, /^tsbpf: -e\.ts:1:24 - error TSBPF3001: cannot attach hardware:cpu-cycles:1000000: this machine's CPU exposes no cpu-cycles counter/);
    assert.deepEqual(frame.slice(1).map((l) => l.replace(/^\d+ /, "").trim()), [text, "~".repeat('hardware("cycles"'.length)], r.stderr);
  });
});
