// uprobe and kprobe globs, as bpftrace's uprobe:/bin/bash:read* and kprobe:vfs_*: the compiler keeps the glob in the
// section (and refuses one in a binary's path); the simulator fires a glob's program for every function it matches,
// named as the function fired; the loader expands a uprobe glob over the binary's function symbols (aliases at one
// address once) and a kprobe glob over /proc/kallsyms; and on this kernel, a glob over a small C program's functions
// counts each call by probe(), through the uprobe PMU (tsbpf run) and through tracefs's uprobe_events.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { AttachError, Session, loadObject, openObject } from "../../runtime/loader/index.js";
import { kprobeGlobMatches } from "../../runtime/loader/attach.js";
import { matchingFunctions } from "../../runtime/loader/elfsym.js";
import { probeCookie } from "../../runtime/loader/probe-names.js";
import { FakeSys, SysError, missingBpf, missingRoot, openSys, pmuType, type LinkCreateOptions, type PerfEventAttr, type PerfEventOpenOptions } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { mapContents } from "../../cli/report.js";
import { CLI } from "../support/cli.js";

/** A probe file counting calls by probe() into `calls` on each `kind(target..., h)`, for the process tsbpf run -c starts (or any). */
const counting = (...probes: [kind: string, ...target: string[]][]) => `import { uprobe, uretprobe, kprobe, kretprobe, probe, pidTgid, targetPid, HashMap, type ProbeName, type u64 } from "tsbpf";
export const license = "GPL";
export const calls = new HashMap<ProbeName, u64>(64);
${probes
  .map(([kind, ...target], i) => `export const ${i ? `count${i}` : "count"} = ${kind}(${target.map((t) => JSON.stringify(t)).join(", ")}, () => {
  if (targetPid() !== 0 && pidTgid() >> 32 !== targetPid()) return;
  calls.increment(probe());
});`)
  .join("\n")}
`;

describe("uprobe and kprobe globs in the compiler", () => {
  it("go into the section as written, for uprobes, uretprobes, kprobes and kretprobes", () => {
    for (const [kind, target, section] of [
      ["uprobe", ["/usr/bin/bash", "read*"], "uprobe//usr/bin/bash:read*"],
      ["uretprobe", ["/usr/bin/bash", "read?ine"], "uretprobe//usr/bin/bash:read?ine"],
      ["kprobe", ["vfs_*"], "kprobe/vfs_*"],
      ["kretprobe", ["vfs_rea?"], "kretprobe/vfs_rea?"],
    ] as const) {
      const r = compile({ fileName: "glob.ts", text: counting([kind, ...target]) });
      assert.deepEqual(r.diagnostics, [], kind);
      assert.deepEqual(r.programs.map((p) => p.section), [section]);
    }
  });

  it("refuse a glob in a uprobe's binary in one sentence", () => {
    const { diagnostics } = compile({ fileName: "glob.ts", text: counting(["uretprobe", "/usr/bin/ba*", "main"]) });
    assert.deepEqual(diagnostics.map((d) => [d.code, d.line, d.message]), [
      ["TSBPF1008", 4, "the binary of uretprobe() must be one path, not a glob (`/usr/bin/ba*`): only its function name may hold * and ?"],
    ]);
  });
});

describe("kprobeGlobMatches", () => {
  const KALLSYMS = [
    "ffffffff81001000 T _stext",
    "ffffffff81300000 t __pfx_vfs_read",
    "ffffffff81300010 T vfs_read",
    "ffffffff81300100 T vfs_write",
    "ffffffff81300200 t vfs_readv",
    "ffffffff81300300 t vfs_readv.cold",
    "ffffffff81300400 t vfs_statx.isra.0",
    "ffffffff81300500 t vfs_dup",
    "ffffffff81300600 t vfs_dup",
    "ffffffff81300700 W vfs_weak",
    "ffffffff81300800 D vfs_table",
    "ffffffff81300900 T vfs_kprobe_unsafe",
    "ffffffffc0001000 t vfs_mod_helper\t[overlay]",
    "ffffffffc0002000 t vfs_write\t[shadow]",
    "",
  ].join("\n");

  it("gives each text symbol the glob matches once, leaving out duplicates, fragments, padding, data and the blacklist", () => {
    const blacklist = "0xffffffff81300900-0xffffffff81300a00\tvfs_kprobe_unsafe\n";
    assert.deepEqual(kprobeGlobMatches("vfs_*", KALLSYMS, blacklist), ["vfs_mod_helper", "vfs_read", "vfs_readv", "vfs_statx.isra.0", "vfs_weak"]);
    assert.deepEqual(kprobeGlobMatches("vfs_rea?", KALLSYMS), ["vfs_read"]);
    assert.deepEqual(kprobeGlobMatches("*_unsafe", KALLSYMS), ["vfs_kprobe_unsafe"], "without a blacklist, nothing is refused");
    assert.deepEqual(kprobeGlobMatches("nfs_*", KALLSYMS), []);
  });
});

describe("uprobe and kprobe globs in the simulator", () => {
  it("fire a uprobe glob's program for each function it matches, by name or binary:name, named as the function fired", async () => {
    const sim = await simulate({ fileName: "glob.ts", text: counting(["uprobe", "/usr/bin/bash", "read*"]) });
    sim.uprobe("/usr/bin/bash:readline");
    sim.uprobe("read_command");
    sim.uprobe("readline");
    assert.throws(() => sim.uprobe("main"), /no uprobe on main in the object; its programs: count \(uprobe\/\/usr\/bin\/bash:read\*\)/);
    assert.throws(() => sim.uprobe("/usr/bin/zsh:readline"), /no uprobe on \/usr\/bin\/zsh:readline in the object/);
    assert.throws(() => sim.uprobe("/usr/bin/bash"), /\(a binary: name a function read\* matches, "\/usr\/bin\/bash:FUNCTION" or "FUNCTION"\)/);
    assert.deepEqual(sim.map("calls").toMap(), new Map([["uprobe:/usr/bin/bash:readline", 2n], ["uprobe:/usr/bin/bash:read_command", 1n]]));
  });

  it("fire a kprobe or kretprobe glob's program for each function it matches, from the per-function cache too", async () => {
    const sim = await simulate({ fileName: "glob.ts", text: counting(["kprobe", "vfs_*"]) });
    sim.kprobe("vfs_read");
    sim.kprobe("vfs_read");
    sim.kprobe("vfs_write");
    assert.throws(() => sim.kprobe("do_unlinkat"), /no kprobe on do_unlinkat in the object/);
    assert.throws(() => sim.kretprobe("vfs_read"), /no kretprobe on vfs_read in the object/);
    assert.deepEqual(sim.map("calls").toMap(), new Map([["kprobe:vfs_read", 2n], ["kprobe:vfs_write", 1n]]));
    const ret = await simulate({ fileName: "glob.ts", text: counting(["kretprobe", "vfs_rea?"]) });
    ret.kretprobe("vfs_read");
    assert.throws(() => ret.kretprobe("vfs_readv"), /no kretprobe on vfs_readv in the object/);
    assert.deepEqual(ret.map("calls").toMap(), new Map([["kretprobe:vfs_read", 1n]]));
  });
});

// A program with two functions a glob matches, one it does not, and a weak alias of one of the two (the same address).
const PROGRAM = `
__attribute__((noinline)) int tsbpf_glob_alpha(int x) { return x + 1; }
__attribute__((noinline)) int tsbpf_glob_beta(int x) { return x * 2; }
int tsbpf_glob_alias(int x) __attribute__((weak, alias("tsbpf_glob_alpha")));
__attribute__((noinline)) int other(int x) { return x - 1; }
int main(void) { return tsbpf_glob_alpha(1) + tsbpf_glob_beta(2) + other(3) == 0; }
`;

const noGcc = spawnSync("gcc", ["--version"]).status === 0 ? false : "gcc is missing";
let dir = "";
let binary = "";

before(() => {
  if (noGcc) return;
  dir = mkdtempSync(join(tmpdir(), "tsbpf-globs-"));
  binary = join(dir, "globs");
  writeFileSync(`${binary}.c`, PROGRAM);
  const r = spawnSync("gcc", ["-O0", "-fno-inline", "-o", binary, `${binary}.c`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("uprobe globs in the loader", { skip: noGcc || (pmuType("uprobe") === undefined && "no uprobe PMU") }, () => {
  // A perf event per function unless asked for uprobe_multi links (FakeSys loads a program for them as any kernel 6.6 does).
  const load = (sys: FakeSys, func: string, uprobeMulti = false) => loadObject(sys, openObject(compile({ fileName: "glob.ts", text: counting(["uprobe", binary, func]) }).object, { name: "glob" }), { uprobeMulti });

  it("match the binary's functions, an alias at an address already matched left out for the GLOBAL name", () => {
    assert.deepEqual(matchingFunctions(binary, (name) => name.startsWith("tsbpf_glob_")).map((f) => f.name), ["tsbpf_glob_alpha", "tsbpf_glob_beta"]);
    assert.deepEqual(matchingFunctions(binary, (name) => name === "tsbpf_glob_alias").map((f) => f.name), ["tsbpf_glob_alias"], "alone, the alias is kept");
  });

  it("attach one uprobe per function, each linked with its own probe name, as one attachment", () => {
    const sys = new FakeSys();
    const obj = load(sys, "tsbpf_glob_*");
    const [a] = obj.attachAll().attached;
    assert.equal(a!.description, `uprobe ${binary}:tsbpf_glob_* (2 functions)`);
    assert.equal(a!.hooks, 2);
    const links = sys.openFds().filter((f) => f.kind === "link");
    const cookies = links.map((l) => sys.link(l.fd)!.perfEventCookie);
    assert.deepEqual(cookies, [probeCookie(`uprobe:${binary}:tsbpf_glob_alpha`), probeCookie(`uprobe:${binary}:tsbpf_glob_beta`)]);
    const events = sys.openFds().filter((f) => f.kind === "perf").map((f) => sys.perfEvent(f.fd)!.attr);
    assert.deepEqual(events.map((e) => e.uprobePath), [binary, binary]);
    assert.notEqual(events[0]!.config2, events[1]!.config2);
    obj.close();
    assert.deepEqual(sys.leaks(), []);
  });

  it("refuse a glob that matches nothing in one sentence naming the binary", () => {
    const obj = load(new FakeSys(), "nothing_*");
    assert.throws(() => obj.attachAll(), (e: unknown) => e instanceof AttachError && e.reason === "not-found" && e.message === `cannot attach uprobe ${binary}:nothing_*: no function in the symbol tables of ${binary} matches nothing_*`);
  });

  it("leave out a function the kernel refuses, and say so; one refused alone is the error", () => {
    class RefusingSys extends FakeSys {
      constructor(private readonly refuse: (n: number) => boolean) {
        super();
      }
      opened = 0;
      override perfEventOpen(attr: PerfEventAttr, options?: PerfEventOpenOptions): number {
        if (this.refuse(++this.opened)) throw new SysError("perf_event_open", 22);
        return super.perfEventOpen(attr, options);
      }
    }
    const sys = new RefusingSys((n) => n === 2);
    const obj = load(sys, "tsbpf_glob_*");
    const [a] = obj.attachAll().attached;
    assert.equal(a!.description, `uprobe ${binary}:tsbpf_glob_* (1 function; 1 refused, the first: cannot create the uprobe ${binary}:tsbpf_glob_beta event for program count: perf_event_open failed: EINVAL (errno 22))`);
    assert.equal(a!.hooks, 1);
    obj.close();
    assert.deepEqual(sys.leaks(), []);
    const none = load(new RefusingSys(() => true), "tsbpf_glob_*");
    assert.throws(() => none.attachAll(), new RegExp(`^AttachError: cannot create the uprobe ${binary}:tsbpf_glob_alpha event for program count: perf_event_open failed: EINVAL`));
    none.close();
  });

  it("through uprobe_multi links: every function in one link, its cookie its probe's id; a function refused stands alone", () => {
    const sys = new FakeSys();
    const obj = load(sys, "tsbpf_glob_*", true);
    const [a] = obj.attachAll().attached;
    assert.equal(a!.description, `uprobe ${binary}:tsbpf_glob_* (2 functions)`);
    assert.deepEqual([a!.hooks, a!.slowCloses], [2, 1]);
    const [link, ...more] = sys.openFds().filter((f) => f.kind === "link").map((f) => sys.link(f.fd)!);
    assert.deepEqual(more, []);
    assert.equal(link!.attachType, 48);
    assert.deepEqual(link!.uprobeMulti!.cookies, [probeCookie(`uprobe:${binary}:tsbpf_glob_alpha`), probeCookie(`uprobe:${binary}:tsbpf_glob_beta`)]);
    assert.equal(link!.uprobeMulti!.offsets.length, 2);
    assert.deepEqual([link!.uprobeMulti!.path, link!.uprobeMulti!.flags, link!.uprobeMulti!.pid], [binary, 0, 0]);
    assert.deepEqual(sys.openFds().filter((f) => f.kind === "perf"), [], "no perf events");
    obj.close();
    assert.deepEqual(sys.leaks(), []);

    // The kernel refuses beta's instruction: the link of both fails, alpha's alone is made, beta is said.
    const beta = link!.uprobeMulti!.offsets[1]!;
    class RefusingSys extends FakeSys {
      override linkCreate(o: LinkCreateOptions): number {
        if (o.uprobeMulti?.offsets.includes(beta)) throw new SysError("BPF_LINK_CREATE", 524);
        return super.linkCreate(o);
      }
    }
    const refusing = new RefusingSys();
    const partly = load(refusing, "tsbpf_glob_*", true);
    const [b] = partly.attachAll().attached;
    assert.equal(b!.description, `uprobe ${binary}:tsbpf_glob_* (1 function; 1 refused, the first: cannot attach program count to uprobe ${binary}:tsbpf_glob_beta: BPF_LINK_CREATE failed: ENOTSUPP (errno 524))`);
    assert.deepEqual(refusing.openFds().filter((f) => f.kind === "link").map((f) => refusing.link(f.fd)!.uprobeMulti!.cookies), [[probeCookie(`uprobe:${binary}:tsbpf_glob_alpha`)]]);
    partly.close();
    assert.deepEqual(refusing.leaks(), []);
  });

  it("close the events already opened when one fails part-way", () => {
    class FailingSys extends FakeSys {
      opened = 0;
      override perfEventOpen(attr: PerfEventAttr, options?: PerfEventOpenOptions): number {
        if (++this.opened === 2) throw new SysError("perf_event_open", 24, "too many open files");
        return super.perfEventOpen(attr, options);
      }
    }
    const sys = new FailingSys();
    const obj = load(sys, "tsbpf_glob_*");
    assert.throws(() => obj.attachAll(), new RegExp(`^AttachError: cannot create the uprobe ${binary}:tsbpf_glob_beta event for program count: the process has no file descriptor left \\(EMFILE`));
    assert.deepEqual(sys.openFds().filter((f) => f.kind === "perf" || f.kind === "link"), []);
    obj.close();
  });
});

const noKernel = noGcc || missingRoot() || missingBpf(openSys());

describe("uprobe globs on this kernel", { skip: noKernel }, () => {
  const definitions = () => readFileSync("/sys/kernel/tracing/uprobe_events", "utf8").split("\n").filter((l) => l.includes(dir));

  it("tsbpf run counts each matched function's call once, by its name, through the uprobe PMU", () => {
    const file = join(dir, "enter.ts");
    writeFileSync(file, counting(["uprobe", binary, "tsbpf_glob_*"], ["uretprobe", binary, "tsbpf_glob_*"]));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const r = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "-c", binary], { encoding: "utf8", env, timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`attached count to uprobe ${binary}:tsbpf_glob_\\* \\(2 functions\\)`));
    assert.match(r.stderr, new RegExp(`attached count1 to uretprobe ${binary}:tsbpf_glob_\\* \\(2 functions\\)`));
    const lines = r.stdout.split("\n").filter((l) => l.startsWith("@calls")).sort();
    assert.deepEqual(lines, [
      `@calls[uprobe:${binary}:tsbpf_glob_alpha]: 1`,
      `@calls[uprobe:${binary}:tsbpf_glob_beta]: 1`,
      `@calls[uretprobe:${binary}:tsbpf_glob_alpha]: 1`,
      `@calls[uretprobe:${binary}:tsbpf_glob_beta]: 1`,
    ]);
    assert.deepEqual(definitions(), []);
  });

  it("through uprobe_multi links, every function of a libc glob attaches, or is refused and said, and all detach", async () => {
    // libc's pthread_spin_* functions; pthread_spin_lock starts with an instruction uprobes cannot step on x86-64
    // glibc (refused with ENOTSUPP), which the halving leaves out alone.
    const libc = spawnSync("sh", ["-c", "ldconfig -p | sed -n 's/.*libc.so.6 (libc6,x86-64) => //p' | head -1"], { encoding: "utf8" }).stdout.trim() || "/usr/lib/x86_64-linux-gnu/libc.so.6";
    const matched = matchingFunctions(libc, (name) => name.startsWith("pthread_spin_")).length;
    assert.ok(matched >= 4, `libc has its pthread_spin_ functions (${matched})`);
    const session = new Session(openSys());
    try {
      const obj = session.load(compile({ fileName: "spin.ts", text: counting(["uprobe", libc, "pthread_spin_*"]) }).object, { name: "spin", uprobeMulti: true });
      const [a] = obj.attachAll().attached;
      const m = /\((\d+) functions?(?:; (\d+) refused, the first: cannot attach program count to uprobe \S+:(pthread_spin_\w+): BPF_LINK_CREATE failed: (\w+) .*)?\)$/.exec(a!.description);
      assert.ok(m, a!.description);
      assert.equal(Number(m[1]) + Number(m[2] ?? 0), matched, a!.description);
      assert.equal(a!.hooks, Number(m[1]));
      await obj.detachAll();
    } finally {
      await session.close();
    }
  });

  it("through tracefs's uprobe_events, each function gets a definition of its own, all gone at detach", async () => {
    const session = new Session(openSys());
    try {
      const obj = session.load(compile({ fileName: "glob.ts", text: counting(["uretprobe", binary, "tsbpf_glob_*"]) }).object, { name: "glob", uprobeMulti: false });
      const [a] = obj.attachAll({ legacyProbes: true }).attached;
      assert.equal(a!.description, `uretprobe ${binary}:tsbpf_glob_* (2 functions)`);
      assert.deepEqual(definitions().map((l) => l.replace(/_\d+ /, " ").replace(/0x[0-9a-f]+/g, "0x")), [
        `r:tsbpf_${process.pid}/r_globs_0x ${binary}:0x`,
        `r:tsbpf_${process.pid}/r_globs_0x ${binary}:0x`,
      ]);
      assert.equal(spawnSync(binary).status, 0);
      const calls = mapContents(obj).find((c) => c.map === "calls");
      assert.deepEqual(calls && "entries" in calls && calls.entries.sort(), [
        [`uretprobe:${binary}:tsbpf_glob_alpha`, 1],
        [`uretprobe:${binary}:tsbpf_glob_beta`, 1],
      ]);
    } finally {
      await session.close();
    }
    assert.deepEqual(definitions(), []);
  });
});
