// perf_event programs tagged tsbpf:perf_event=... (compiler/btf/tags.ts): the tag's grammar; a clang-built object
// with tagged and untagged programs sharing SEC("perf_event") classified and attached on FakeSys (one cpu-clock event
// per CPU for a profile probe, freq = 1; one event on the first CPU with the period for an interval probe; links,
// the ioctl where the kernel has no perf links, nothing left open after close or after a failure); and the same
// object plus tsbpf's own profile()/interval() probes (both backends) on the running kernel, where a busy loop
// gets sampled, getStackId() records stacks and an interval fires about ten times a second; and `tsbpf load` of it.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { AttachType, Errno, FakeSys, PerfAttrFlag, PerfSwConfig, PerfType, SysError, listIds, onlineCpus, openSys, perfMaxSampleRate, type LinkCreateOptions } from "../../runtime/sys/index.js";
import { AttachError, ObjectError, Session, loadObject, openObject, type LoadedObject } from "../../runtime/loader/index.js";
import { parsePerfEventTag } from "../../compiler/btf/index.js";
import { compile } from "../../compiler/index.js";
import { noLlvm } from "../llvm/support.js";
import { compileC, fixturePath, heldLinks, needsClang, needsKernel, openFdCount, readU64, startCli, u32 } from "./support.js";

describe("tsbpf:perf_event= tags", () => {
  it("name bpftrace's profile and interval probes in every unit", () => {
    assert.deepEqual(parsePerfEventTag("profile:hz:99"), { probe: "profile", unit: "hz", rate: 99 });
    assert.deepEqual(parsePerfEventTag("interval:ms:100"), { probe: "interval", unit: "ms", rate: 100 });
    assert.deepEqual(parsePerfEventTag("interval:s:2"), { probe: "interval", unit: "s", rate: 2 });
    assert.deepEqual(parsePerfEventTag("profile:us:500"), { probe: "profile", unit: "us", rate: 500 });
  });
  it("refuse anything else with a sentence naming the form", () => {
    for (const bad of ["profile:hz:0", "profile:hz:-1", "profile:hz:", "kprobe:hz:99", "profile:ns:99", "profile:99", "interval:ms:1.5", "profile:hz:4294967296"]) {
      const r = parsePerfEventTag(bad);
      assert.equal(typeof r, "string", bad);
      assert.match(r as string, /is not tsbpf:perf_event=profile:UNIT:N, interval:UNIT:N \(UNIT hz, s, ms or us\), software:EVENT:N or hardware:EVENT:N/, bad);
    }
  });
});

const attrOf = (sys: FakeSys, fd: number) => sys.perfEvent(fd)!;

describe("a clang object's perf_event programs", needsClang, () => {
  it("are classified by their tags; the untagged one stays attached by hand", () => {
    const spec = openObject(readFileSync(fixturePath("profile")), { name: "profile" });
    assert.deepEqual(
      spec.programs.map((p) => [p.name, p.section, p.type, p.attach.kind === "manual" ? "manual" : p.attach]),
      [
        ["on_sample", "perf_event", 7, { kind: "perf_event", probe: "profile", unit: "hz", rate: 99 }],
        ["on_tick", "perf_event", 7, { kind: "perf_event", probe: "interval", unit: "ms", rate: 100 }],
        ["by_hand", "perf_event", 7, "manual"],
      ],
    );
  });

  it("a malformed tag or two tags on one program are refused when the object is opened", () => {
    const object = (tags: string[]) =>
      readFileSync(compileC("perf-tags", `#include "loader.h"\nSEC("perf_event") ${tags.map((t) => `__attribute__((btf_decl_tag("${t}")))`).join(" ")}\nint p(void *ctx) { return 0; }\nchar LICENSE[] SEC("license") = "GPL";\n`));
    assert.throws(() => openObject(object(["tsbpf:perf_event=profile:hz:lots"])), (e: unknown) => e instanceof ObjectError && /program p: tsbpf:perf_event=profile:hz:lots is not/.test(e.message));
    assert.throws(() => openObject(object(["tsbpf:perf_event=profile:hz:99", "tsbpf:perf_event=interval:ms:10"])), (e: unknown) => e instanceof ObjectError && /program p: 2 tsbpf:perf_event= tags/.test(e.message));
    // Other tags on the function are someone else's business.
    assert.equal(openObject(object(["something:else"])).programs[0]!.attach.kind, "manual");
  });

  it("attach on FakeSys: a cpu-clock event per CPU at 99 Hz, one on the first CPU every 100 ms, linked and enabled; close releases all", () => {
    const sys = new FakeSys();
    const obj = loadObject(sys, openObject(readFileSync(fixturePath("profile")), { name: "profile" }));
    const before = sys.openFds().length;
    const { attached, skipped } = obj.attachAll({ cpus: [0, 1, 3], maxSampleRate: 1000 });
    assert.deepEqual(attached.map((a) => [a.program, a.description]), [["on_sample", "profile:hz:99 (on 3 CPUs)"], ["on_tick", "interval:ms:100 (on CPU 0)"]]);
    assert.deepEqual(skipped.map((s) => s.program), ["by_hand"]);
    assert.match(skipped[0]!.why, /perf_event programs attach to a perf event you open/);

    const links = sys.openFds().filter((f) => f.kind === "link").map((f) => sys.link(f.fd)!);
    const events = sys.openFds().filter((f) => f.kind === "perf").map((f) => ({ fd: f.fd, ...attrOf(sys, f.fd) }));
    assert.equal(events.length, 4);
    assert.equal(links.length, 4);
    for (const l of links) assert.equal(l.attachType, AttachType.PERF_EVENT);
    assert.deepEqual(new Set(links.map((l) => l.targetFd)), new Set(events.map((e) => e.fd)), "every event is linked to a program");
    const sampling = events.filter((e) => e.attr.flags === PerfAttrFlag.FREQ);
    assert.deepEqual(sampling.map((e) => [e.attr.type, e.attr.config, e.attr.samplePeriod, e.options.pid, e.options.cpu, e.enabled]), [
      [PerfType.SOFTWARE, BigInt(PerfSwConfig.CPU_CLOCK), 99n, -1, 0, true],
      [PerfType.SOFTWARE, BigInt(PerfSwConfig.CPU_CLOCK), 99n, -1, 1, true],
      [PerfType.SOFTWARE, BigInt(PerfSwConfig.CPU_CLOCK), 99n, -1, 3, true],
    ]);
    const [interval] = events.filter((e) => e.attr.flags !== PerfAttrFlag.FREQ);
    assert.deepEqual([interval!.attr.type, interval!.attr.config, interval!.attr.samplePeriod, interval!.attr.flags ?? 0n, interval!.options.pid, interval!.options.cpu], [PerfType.SOFTWARE, BigInt(PerfSwConfig.CPU_CLOCK), 100_000_000n, 0n, -1, 0]);
    assert.equal(sys.openFds().length, before + 8);
    obj.close();
    assert.deepEqual(sys.leaks(), []);
  });

  it("a rate above kernel.perf_event_max_sample_rate is refused in one sentence before any event opens", () => {
    const sys = new FakeSys();
    const obj = loadObject(sys, openObject(readFileSync(fixturePath("profile")), { name: "profile" }));
    const before = sys.openFds();
    assert.throws(
      () => obj.attach("on_sample", { cpus: [0, 1], maxSampleRate: 50 }),
      (e: unknown) => e instanceof AttachError && e.message === "cannot attach profile:hz:99: 99 Hz is above kernel.perf_event_max_sample_rate (50, /proc/sys/kernel/perf_event_max_sample_rate); sample less often or raise the limit",
    );
    assert.deepEqual(sys.openFds(), before);
    obj.close();
    assert.deepEqual(sys.leaks(), []);
  });

  it("a failure on the second CPU closes the first CPU's event and link; out of file descriptors (EMFILE) is a limit to raise", () => {
    const failures = [
      { errno: Errno.EBUSY, reason: "kernel", says: /^cannot create the profile:hz:99 event on CPU 1 for program on_sample: perf_event_open failed: EBUSY/ },
      { errno: Errno.EMFILE, reason: "limit", says: /^cannot create the profile:hz:99 event on CPU 1 for program on_sample: the process has no file descriptor left \(EMFILE; .*`ulimit -n`/ },
    ];
    for (const { errno, reason, says } of failures) {
      class FailingSys extends FakeSys {
        override perfEventOpen(...args: Parameters<FakeSys["perfEventOpen"]>): number {
          if (args[1]?.cpu === 1) throw new SysError("perf_event_open", errno);
          return super.perfEventOpen(...args);
        }
      }
      const sys = new FailingSys();
      const obj = loadObject(sys, openObject(readFileSync(fixturePath("profile")), { name: "profile" }));
      const before = sys.openFds();
      assert.throws(() => obj.attach("on_sample", { cpus: [0, 1], maxSampleRate: 1000 }), (e: unknown) => e instanceof AttachError && e.reason === reason && says.test(e.message));
      assert.deepEqual(sys.openFds(), before);
      obj.close();
      assert.deepEqual(sys.leaks(), []);
    }
  });

  it("a kernel without perf links (BPF_LINK_CREATE EINVAL) gets the program through PERF_EVENT_IOC_SET_BPF", () => {
    class NoPerfLinks extends FakeSys {
      override linkCreate(o: LinkCreateOptions): number {
        if (o.attachType === AttachType.PERF_EVENT) throw new SysError("BPF_LINK_CREATE", Errno.EINVAL);
        return super.linkCreate(o);
      }
    }
    const sys = new NoPerfLinks();
    const obj = loadObject(sys, openObject(readFileSync(fixturePath("profile")), { name: "profile" }));
    const a = obj.attach("on_sample", { cpus: [0, 1], maxSampleRate: 1000 });
    const events = sys.openFds().filter((f) => f.kind === "perf").map((f) => attrOf(sys, f.fd));
    assert.equal(events.length, 2);
    for (const e of events) assert.equal(e.progFd, obj.program("on_sample").fd);
    assert.equal(sys.openFds().filter((f) => f.kind === "link").length, 0);
    obj.detach(a);
    obj.close();
    assert.deepEqual(sys.leaks(), []);
  });
});

// ---------------------------------------------------------------- the running kernel

/** Spins for `ms`, noting the CPUs this thread ran on (/proc/self/stat's processor field). */
function busy(ms: number): Set<number> {
  const cpus = new Set<number>();
  const end = Date.now() + ms;
  let next = 0;
  while (Date.now() < end) {
    if (Date.now() >= next) {
      const stat = readFileSync("/proc/thread-self/stat", "utf8");
      cpus.add(Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[36]));
      next = Date.now() + 20;
    }
  }
  return cpus;
}

/** The links `attach` made. */
function linksMadeBy(attach: () => void): number[] {
  const before = new Set(heldLinks());
  attach();
  return heldLinks().filter((id) => !before.has(id));
}

async function gone(sys: ReturnType<typeof openSys>, kind: "prog" | "link", ids: number[]): Promise<number[]> {
  for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 20))) {
    const live = new Set(listIds(sys, kind));
    const left = ids.filter((id) => live.has(id));
    if (left.length === 0 || Date.now() > deadline) return left;
  }
}

describe("profile and interval probes on the running kernel", needsKernel, () => {
  const sys = openSys();

  it("a clang object: a busy loop is sampled on its CPU, stacks are recorded, the interval fires; nothing is left after close", async () => {
    const fds = openFdCount();
    const session = new Session(sys);
    let progs: number[] = [];
    let links: number[] = [];
    try {
      const obj = session.load(readFileSync(fixturePath("profile")), { name: "profile" });
      const started = Date.now();
      let result: ReturnType<LoadedObject["attachAll"]> | undefined;
      links = linksMadeBy(() => (result = obj.attachAll()));
      const { attached, skipped } = result!;
      assert.deepEqual(attached.map((a) => a.description), [`profile:hz:99 (on ${onlineCpus().length} CPU${onlineCpus().length === 1 ? "" : "s"})`, "interval:ms:100 (on CPU 0)"]);
      assert.deepEqual(skipped.map((s) => s.program), ["by_hand"]);
      progs = [...obj.programs.values()].map((p) => sys.progInfo(p.fd).id);
      assert.equal(links.length, onlineCpus().length + 1, "one perf link per event");
      const ran = busy(1000);
      const elapsed = Date.now() - started;
      const samples = obj.map("samples").fd;
      const onOurCpus = [...ran].reduce((n, cpu) => n + readU64(sys.mapLookup(samples, u32(cpu))!), 0n);
      assert.ok(onOurCpus > 0n, `samples on the CPUs the busy loop ran on (${[...ran].join(", ")}): ${onOurCpus}`);
      assert.ok(readU64(obj.variable("stacks_recorded")) > 0n, "bpf_get_stackid worked in the sampler");
      const ticks = readU64(obj.variable("ticks"));
      assert.ok(ticks >= 3n, `the 100 ms interval ran ${ticks} times in ${elapsed} ms`);
      assert.equal(readU64(obj.variable("untagged_runs")), 0n, "the untagged program was not attached");
    } finally {
      await session.close();
    }
    assert.deepEqual(await gone(sys, "link", links), [], "links left alive");
    assert.deepEqual(await gone(sys, "prog", progs), [], "programs left alive");
    assert.equal(openFdCount(), fds, "fds left open");
  });

  for (const backend of ["own", "llvm"] as const) {
    it(`tsbpf's profile() and interval() (${backend} backend): samples by task name, stack ids, interval runs`, { skip: backend === "llvm" ? noLlvm ?? false : false }, async () => {
      const text = `import { profile, interval, comm, pidTgid, HashMap, ArrayMap, StackTraceMap, USER_STACK, type Str, type u64 } from "tsbpf";
export const license = "GPL";
export const samples = new HashMap<Str<16>, u64>(4096);
export const stacks = new StackTraceMap(1024);
export const counts = new ArrayMap<u64>(2);
export const sample = profile(199, () => {
  samples.increment(comm());
  if (stacks.getStackId() >= 0 || stacks.getStackId(USER_STACK) >= 0) counts.increment(0);
});
export const tick = interval(100, () => {
  if (pidTgid() >= 0) counts.increment(1);
});
`;
      const r = compile({ fileName: "profile-kernel.ts", text }, { backend });
      assert.deepEqual(r.diagnostics, []);
      const fds = openFdCount();
      const session = new Session(sys);
      let links: number[] = [];
      try {
        const obj = session.load(r.object, { name: "prof" });
        let attached: string[] = [];
        links = linksMadeBy(() => (attached = obj.attachAll().attached.map((a) => a.program)));
        assert.deepEqual(attached, ["sample", "tick"]);
        assert.equal(links.length, onlineCpus().length + 1, "one perf link per event");
        const started = Date.now();
        busy(1000);
        const elapsed = Date.now() - started;
        const comm = readFileSync("/proc/thread-self/comm", "utf8").trim();
        const key = new Uint8Array(16);
        key.set(new TextEncoder().encode(comm.slice(0, 15)));
        const ours = sys.mapLookup(obj.map("samples").fd, key);
        assert.ok(ours && readU64(ours) > 0n, `samples of this process (${comm})`);
        const counts = obj.map("counts").fd;
        assert.ok(readU64(sys.mapLookup(counts, u32(0))!) > 0n, "getStackId() gave stack ids");
        const ticks = readU64(sys.mapLookup(counts, u32(1))!);
        assert.ok(ticks >= 3n, `the 100 ms interval ran ${ticks} times in ${elapsed} ms`);
      } finally {
        await session.close();
      }
      assert.deepEqual(await gone(sys, "link", links), [], "links left alive");
      assert.equal(openFdCount(), fds, "fds left open");
    });
  }

  it("tsbpf load attaches a clang object's tagged programs, says why the untagged one is not, and prints its maps", async () => {
    const cpus = onlineCpus().length;
    const run = startCli(["load", fixturePath("profile"), "--duration", "1"]);
    assert.equal(await run.exited, 0, run.stderr());
    const lines = run.stderr().split("\n");
    assert.ok(lines.includes(`attached on_sample to profile:hz:99 (on ${cpus} CPU${cpus === 1 ? "" : "s"})`), run.stderr());
    assert.ok(lines.includes("attached on_tick to interval:ms:100 (on CPU 0)"), run.stderr());
    assert.ok(lines.some((l) => /^loaded by_hand without attaching it: perf_event programs attach to a perf event you open, or, tagged .*tsbpf:perf_event=profile:hz:99/.test(l)), run.stderr());
    const samples = [...run.stdout().matchAll(/^@samples\[(\d+)\]: (\d+)$/gm)];
    assert.ok(samples.length > 0 && samples.every((m) => Number(m[1]) < cpus && Number(m[2]) > 0), `per-CPU sample counts: ${run.stdout()}`);
  });

  it("a frequency above kernel.perf_event_max_sample_rate is refused in one sentence, leaving nothing open", async () => {
    const max = perfMaxSampleRate();
    assert.ok(max, "kernel.perf_event_max_sample_rate is readable");
    const r = compile({ fileName: "too-fast.ts", text: `import { profile } from "tsbpf";\nexport const license = "GPL";\nexport const p = profile(${max + 1}, () => 0);\n` });
    assert.deepEqual(r.diagnostics, []);
    const fds = openFdCount();
    const session = new Session(sys);
    try {
      const obj = session.load(r.object, { name: "toofast" });
      assert.throws(() => obj.attachAll(), (e: unknown) => e instanceof AttachError && e.reason === "unsupported" && e.message.includes(`${max + 1} Hz is above kernel.perf_event_max_sample_rate (${max}`));
    } finally {
      await session.close();
    }
    assert.equal(openFdCount(), fds, "fds left open");
  });

  it("a one-liner's profile() at a refused frequency is shown at its call, not inside its handler", async () => {
    const max = perfMaxSampleRate();
    assert.ok(max, "kernel.perf_event_max_sample_rate is readable");
    const text = `const n = new Count(); profile(${max + 1}, () => { n.increment(); })`;
    const run = startCli(["run", "-e", text, "--no-cache", "--duration", "1"]);
    assert.equal(await run.exited, 4, run.stderr());
    const [head, ...frame] = run.stderr().trim().split("\n");
    assert.match(head!, new RegExp(`^tsbpf: -e\\.ts:1:24 - error TSBPF3001: cannot attach profile:hz:${max + 1}: ${max + 1} Hz is above kernel\\.perf_event_max_sample_rate`));
    assert.deepEqual(frame.slice(1).map((l) => l.replace(/^\d+ /, "").trim()), [text, "~".repeat(`profile(${max + 1}`.length)], run.stderr());
  });
});
