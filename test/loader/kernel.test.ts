// The loader against the running kernel: clang-19 fixtures loaded, attached and triggered by `rm` in a child
// process; output observed in trace_pipe and in maps. Also the kprobe explanation, a verifier rejection, and
// `tsbpf load` end to end (streaming JSON, released on SIGINT), and externs (kconfig values, ksyms, kfuncs) resolved
// against this kernel. trace_pipe is shared by the whole machine, so
// each check waits for a line naming its own temp file, triggering again if another reader took it.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Poll, listIds, missingKprobes, openSys } from "../../runtime/sys/index.js";
import { AttachError, LoadError, MissingKernelError, ObjectError, Session, loadObject, openObject, parseObject, type TracePipe } from "../../runtime/loader/index.js";
import { mapContents } from "../../cli/report.js";
import type { BtfResolutions, ResolutionStore } from "../../runtime/loader/btf-resolutions.js";
import { verifyObject } from "../../cli/commands/verify.js";
import { murmur3x86_128 } from "../../cli/cache.js";
import { compileC, fixture, fixturePath, needsKernel, openFdCount, readU64, startCli, u32 } from "./support.js";
import { CLI } from "../support/cli.js";

const sys = openSys();
let dir: string;
let serial = 0;

/** Creates a file and removes it with `rm` in a child; gives the path and the child's pid. */
function rmChild(tag: string): { path: string; pid: number } {
  const path = join(dir, `${tag}-${serial++}`);
  writeFileSync(path, "x");
  const r = spawnSync("rm", [path]);
  assert.equal(r.status, 0, String(r.stderr));
  return { path, pid: r.pid! };
}

/** Triggers `rm` until trace_pipe shows a line that contains `prefix` and the file's path (at most 3 tries). */
async function triggerAndWait(pipe: TracePipe, tag: string, prefix: string): Promise<{ pid: number; path: string; message: string }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const child = rmChild(tag);
    const line = await pipe.waitFor((l) => l.message.startsWith(prefix) && l.message.includes(child.path), 5000);
    if (line) {
      assert.equal(line.event, "bpf_trace_printk");
      assert.equal(line.pid, child.pid);
      assert.equal(line.task, "rm");
      return { ...child, message: line.message };
    }
  }
  assert.fail(`no "${prefix}" line for rm in trace_pipe after 3 tries`);
}

/**
 * Runs `tsbpf load OBJECT --json`, triggers `rm` until a JSON line of that child ends with its file's path, then
 * stops the CLI with SIGINT, which must exit 0. Gives the line and the CLI's stderr.
 */
/** Runs `tsbpf load --json` on `object`, removes a file, and gives the object's printk line (`prefix`: other tests' programs print for the same rm). */
async function loadWithCli(object: string, tag: string, prefix: string): Promise<{ line: Record<string, unknown>; stderr: string }> {
  const { child, stdout, stderr, jsonLines, exited, until } = startCli(["load", object, "--json", "--duration", "60"]);
  try {
    await until(() => stderr().includes("streaming bpf_printk output"), "tsbpf load never started streaming");
    let match: Record<string, unknown> | undefined;
    for (let attempt = 0; attempt < 3 && !match; attempt++) {
      const { path, pid } = rmChild(tag);
      const found = () => jsonLines().find((o) => o.pid === pid && String(o.message).startsWith(prefix) && String(o.message).endsWith(`name=${path}`));
      for (const deadline = Date.now() + 5000; !(match = found()) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(match, `no JSON line for rm; stdout: ${stdout().slice(0, 500)}`);
    child.kill("SIGINT");
    assert.equal(await exited, 0, stderr());
    return { line: match, stderr: stderr() };
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

describe("loading into the running kernel", needsKernel, () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tsbpf-loader-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("tracepoint syscalls/sys_enter_unlinkat: printk line, legacy map count and globals", async () => {
    const session = new Session(sys);
    try {
      const obj = session.loadFile(fixturePath("tracepoint"));
      // The object's BTF went into the kernel with func and line info for the entry and its sub-program.
      assert.deepEqual(obj.warnings, []);
      assert.ok(obj.btfFd !== undefined);
      const info = sys.progInfo(obj.program("on_unlinkat").fd);
      assert.ok(info.btfId > 0);
      assert.equal(info.nrFuncInfo, 2);
      assert.ok(info.nrLineInfo > 2, `${info.nrLineInfo} line info records`);
      const pipe = session.tracePipe();
      const { attached } = obj.attachAll();
      assert.deepEqual(attached.map((a) => a.description), ["tracepoint syscalls:sys_enter_unlinkat"]);
      const seen = await triggerAndWait(pipe, "tp", "tsbpf-tp");
      assert.equal(seen.message, `tsbpf-tp pid=${seen.pid} magic=7e57 name=${seen.path}`);
      // Every unlinkat on the machine counts, so only lower bounds hold.
      const count = readU64(sys.mapLookup(obj.map("unlink_counts").fd, u32(0))!);
      assert.ok(count >= 1n, `unlink_counts is ${count}`);
      const hits = readU64(obj.variable("hits"));
      assert.ok(hits >= 1n, `hits is ${hits}`);
      // .data started at 1 and the sub-program adds one per hit (not atomically, so at most).
      assert.ok(readU64(obj.variable("calls_seen")) >= 2n);
    } finally {
      await session.close();
    }
  });

  it("a trace pipe closed with lines still unread gives them to lines() before it ends", async () => {
    const session = new Session(sys);
    try {
      const obj = session.loadFile(fixturePath("tracepoint"));
      const pipe = session.tracePipe();
      obj.attachAll();
      const child = rmChild("unread");
      await session.detachAll();
      const closing = pipe.close();
      const seen: string[] = [];
      for await (const line of pipe.lines()) if (line.pid === child.pid) seen.push(line.message);
      await closing;
      assert.ok(seen.some((m) => m.startsWith("tsbpf-tp") && m.endsWith(`name=${child.path}`)), `lines of the rm: ${JSON.stringify(seen)}`);
    } finally {
      await session.close();
    }
  });

  it("closing a trace pipe wakes the poll it has in flight, which would otherwise wait out its slice", async () => {
    // The last poll's results, per fd polled: the pipe, then the eventfd close() signals.
    let lastPoll: number[] = [];
    let polling!: () => void;
    const firstPoll = new Promise<void>((resolve) => (polling = resolve));
    const recorded = new Proxy(sys, {
      get(target, name) {
        if (name === "pollAsync") {
          return (...args: Parameters<typeof sys.pollAsync>) => {
            polling();
            return target.pollAsync(...args).then((r) => (lastPoll = r));
          };
        }
        const value = Reflect.get(target, name) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const session = new Session(recorded);
    try {
      const pipe = session.tracePipe();
      const reading = pipe.lines()[Symbol.asyncIterator]().next();
      // Closed once the reader polls (a fixed sleep could end first on a loaded machine, and nothing would be polled).
      await firstPoll;
      await pipe.close();
      await reading;
      assert.equal(lastPoll.length, 2);
      assert.ok(lastPoll[1]! & Poll.IN, `the eventfd was not readable when the poll returned: ${JSON.stringify(lastPoll)}`);
    } finally {
      await session.close();
    }
  });

  it('a program in a "?" section loads only when named', () => {
    const spec = parseObject(fixture("optional"), { name: "optional" });
    const byDefault = loadObject(sys, spec);
    try {
      assert.deepEqual([...byDefault.programs.keys()], ["always"]);
    } finally {
      byDefault.close();
    }
    const named = loadObject(sys, spec, { programs: ["on_request"] });
    try {
      assert.deepEqual([...named.programs.keys()], ["on_request"]);
    } finally {
      named.close();
    }
  });

  it("uprobe and uretprobe on libc's unlinkat: printk lines and the BTF-defined map's count for the child", async () => {
    const session = new Session(sys);
    try {
      const obj = session.loadFile(fixturePath("uprobe"));
      const pipe = session.tracePipe();
      const { attached } = obj.attachAll();
      assert.equal(attached.length, 2);
      assert.match(attached[0]!.description, /^uprobe \/.*libc\.so\.6:unlinkat$/);
      assert.match(attached[1]!.description, /^uretprobe \/.*libc\.so\.6:unlinkat$/);
      const seen = await triggerAndWait(pipe, "up", "tsbpf-up");
      assert.equal(seen.message, `tsbpf-up pid=${seen.pid} name=${seen.path}`);
      const ret = await pipe.waitFor((l) => l.message === `tsbpf-uret pid=${seen.pid} ret=0`, 5000);
      assert.ok(ret, "the uretprobe line for the same rm");
      assert.equal(readU64(sys.mapLookup(obj.map("calls_by_pid").fd, u32(seen.pid))!), 1n);
    } finally {
      await session.close();
    }
  });


  it("detachAll detaches every program at once: their perf events are closed and nothing counts after it", async () => {
    const session = new Session(sys);
    try {
      const obj = session.loadFile(fixturePath("uprobe"));
      const { attached } = obj.attachAll();
      const fds = attached.map((a) => a.fd);
      assert.equal(fds.length, 2);
      const counted = (pid: number) => sys.mapLookup(obj.map("calls_by_pid").fd, u32(pid));
      const before = rmChild("detach");
      assert.equal(readU64(counted(before.pid)!), 1n);
      await session.detachAll();
      assert.deepEqual(obj.attachments, []);
      for (const fd of fds) assert.equal(existsSync(`/proc/self/fd/${fd}`), false, `perf event fd ${fd} is still open`);
      const after = rmChild("detach");
      assert.equal(counted(after.pid), undefined);
      // The programs and maps stay until the session closes.
      assert.equal(obj.isClosed, false);
    } finally {
      await session.close();
    }
  });
  it("uprobes defined through tracefs's uprobe_events (kernels without the PMU) fire, and their definitions go with the session", async () => {
    const events = "/sys/kernel/tracing/uprobe_events";
    const ours = () => readFileSync(events, "utf8").split("\n").filter((l) => l.includes(`tsbpf_${process.pid}/`));
    const session = new Session(sys);
    try {
      const obj = session.loadFile(fixturePath("uprobe"));
      const pipe = session.tracePipe();
      const { attached } = obj.attachAll({ legacyProbes: true });
      assert.match(attached[1]!.description, /^uretprobe \/.*libc\.so\.6:unlinkat$/);
      assert.equal(ours().length, 2, ours().join("\n"));
      assert.match(ours()[1]!, new RegExp(`^r:tsbpf_${process.pid}/r_libc_so_6_0x[0-9a-f]+_\\d+ /.*libc\\.so\\.6:0x[0-9a-f]+$`));
      const seen = await triggerAndWait(pipe, "legacy", "tsbpf-up");
      assert.equal(seen.message, `tsbpf-up pid=${seen.pid} name=${seen.path}`);
      assert.ok(await pipe.waitFor((l) => l.message === `tsbpf-uret pid=${seen.pid} ret=0`, 5000), "the uretprobe line");
    } finally {
      await session.close();
    }
    assert.deepEqual(ours(), []);
  });

  it("a uprobe_events definition that a killed run left is removed by the next run that defines one", async () => {
    const events = "/sys/kernel/tracing/uprobe_events";
    const gone = spawnSync("true").pid!;
    writeFileSync(events, `p:tsbpf_${gone}/p_left_0 /bin/true:0x0\n`, { flag: "a" });
    const session = new Session(sys);
    try {
      const obj = session.loadFile(fixturePath("uprobe"));
      obj.attachAll({ legacyProbes: true });
      assert.ok(!readFileSync(events, "utf8").includes(`tsbpf_${gone}/`));
    } finally {
      await session.close();
    }
  });

  it("CO-RE: task_struct->tgid read through a local struct layout gives the child's pid", async () => {
    const session = new Session(sys);
    try {
      const obj = session.loadFile(fixturePath("core"));
      const pipe = session.tracePipe();
      obj.attachAll();
      const seen = await triggerAndWait(pipe, "core", "tsbpf-core");
      assert.equal(seen.message, `tsbpf-core tgid=${seen.pid} name=${seen.path}`);
    } finally {
      await session.close();
    }
  });

  it("tp_btf: loaded for the tracepoint's BTF type, typed arguments read, attached through a raw tracepoint link", async () => {
    const session = new Session(sys);
    try {
      const obj = session.loadFile(fixturePath("tp-btf"), { programs: ["on_exec"] });
      assert.ok(sys.progInfo(obj.program("on_exec").fd).attachBtfId > 0);
      const pipe = session.tracePipe();
      assert.deepEqual(obj.attachAll().attached.map((a) => a.description), ["tp_btf sched_process_exec"]);
      for (let attempt = 0; attempt < 3; attempt++) {
        const child = rmChild("tpbtf");
        const line = await pipe.waitFor((l) => l.message.startsWith("tsbpf-tpbtf") && l.pid === child.pid, 5000);
        if (!line) continue;
        assert.match(line.message, new RegExp(`^tsbpf-tpbtf pid=${child.pid} old=${child.pid} file=\\S*/rm$`));
        return;
      }
      assert.fail("no tsbpf-tpbtf line for rm's exec after 3 tries");
    } finally {
      await session.close();
    }
  });

  it("kept BTF resolutions: a load fills the store, the next one takes CO-RE values and hook ids from it", async () => {
    let stored: BtfResolutions | undefined;
    let writes = 0;
    const store: ResolutionStore = { read: () => stored, write: (r) => ((stored = r), writes++) };
    const session = new Session(sys);
    try {
      const first = session.loadFile(fixturePath("tp-btf"), { programs: ["on_exec"], resolutions: store });
      const hookId = sys.progInfo(first.program("on_exec").fd).attachBtfId;
      assert.equal(writes, 1);
      assert.deepEqual([...stored!.hooks], [["on_exec", hookId]]);
      assert.equal([...stored!.core!.values()].flatMap((slots) => [...slots.values()]).length, 2, "task->pid and bprm->filename");
      first.close();
      const second = session.loadFile(fixturePath("tp-btf"), { programs: ["on_exec"], resolutions: store });
      assert.equal(sys.progInfo(second.program("on_exec").fd).attachBtfId, hookId);
      assert.equal(writes, 1, "nothing new to keep");
      second.close();
      // Kept values are used as they are, not looked up again.
      const [section, slots] = [...stored!.core!][0]!;
      const [slot] = [...slots][0]!;
      stored = { ...stored!, core: new Map([[section, new Map([...slots, [slot, { ok: false, kind: 0, poison: false, error: "kept" }]])]]) };
      assert.throws(() => session.loadFile(fixturePath("tp-btf"), { programs: ["on_exec"], resolutions: store }), /CO-RE relocation at .*: kept$/);
    } finally {
      await session.close();
    }
  });

  it("BTF hooks: a tracepoint the kernel lacks is named before anything loads; fentry loads or says why not", () => {
    assert.throws(
      () => new Session(sys).loadFile(fixturePath("tp-btf"), { programs: ["on_nothing"] }),
      (e: unknown) => e instanceof Error && e.message === "tp_btf/no_such_tracepoint: the running kernel has no tracepoint no_such_tracepoint in its BTF (no btf_trace_no_such_tracepoint in /sys/kernel/btf/vmlinux)",
    );
    const session = new Session(sys);
    try {
      const obj = session.loadFile(fixturePath("tp-btf"), { programs: ["on_unlinkat"] });
      // Kernels that allow trampolines load it for do_unlinkat (this one refuses fentry, see ../shared/KERNEL.md).
      assert.ok(sys.progInfo(obj.program("on_unlinkat").fd).attachBtfId > 0);
    } catch (e) {
      assert.ok(e instanceof LoadError && e.code === "EPERM", String(e));
      // The alternatives the running kernel has: do_unlinkat's syscall tracepoint, and kprobes only where they are compiled in.
      const kprobes = missingKprobes() === undefined;
      const alternatives = `use the tracepoint syscalls:sys_enter_unlinkat \\(SEC\\("tracepoint/syscalls/sys_enter_unlinkat"\\)\\) or ${kprobes ? "a kprobe or uprobe" : "a uprobe \\(kprobes are compiled out of the running kernel too\\)"} instead`;
      assert.match(e.message, new RegExp(`^program on_unlinkat \\(section fentry/do_unlinkat\\) was refused with EPERM before verification, although other programs load: the running kernel does not allow fentry programs here .*; ${alternatives}$`));
    } finally {
      void session.close();
    }
  });

  it("cgroup, socket and network sections load with the program and attach types the kernel wants, and are left to attach by hand", async () => {
    const session = new Session(sys);
    try {
      const obj = session.loadFile(fixturePath("network"));
      assert.equal(obj.programs.size, 16);
      const { attached, skipped } = obj.attachAll();
      assert.equal(attached.length, 0);
      const why = new Map(skipped.map((s) => [s.program, s.why]));
      assert.equal(why.size, 16);
      assert.match(why.get("p_cgroup_connect4")!, /attach to a cgroup/);
      assert.match(why.get("p_sk_lookup")!, /attach to a socket/);
      assert.match(why.get("p_netfilter")!, /network interface or hook/);
    } finally {
      await session.close();
    }
  });

  it("a map whose definition leaves out max_entries is refused with what to do", () => {
    assert.throws(
      () => new Session(sys).loadFile(fixturePath("unsized")),
      (e: unknown) =>
        e instanceof LoadError &&
        e.message ===
          "the kernel refused to create map starts (type 1, key 4 B, value 8 B, 0 entries, flags 0x0): EINVAL; its definition gives no max_entries, which a libbpf tool sets from its own code before loading: give it one in the definition",
    );
  });

  it("a map too large to allocate, or of a type the kernel lacks, is refused with why", () => {
    const withMap = (type: string, entries: string, value: string) =>
      compileC(
        "bad-map",
        `#include "loader.h"\nstruct { __uint(type, ${type}); __uint(max_entries, ${entries}); __type(key, __u32); __type(value, ${value}); } m SEC(".maps");\n` +
          `SEC("tracepoint/syscalls/sys_enter_unlinkat") int p(void *ctx) { __u32 k = 0; return bpf_map_lookup_elem(&m, &k) != 0; }\nchar LICENSE[] SEC("license") = "GPL";\n`,
      );
    const refused = (path: string, reason: RegExp) =>
      assert.throws(
        () => new Session(sys).loadFile(path),
        (e: unknown) => e instanceof LoadError && reason.test(e.message),
      );
    refused(withMap("BPF_MAP_TYPE_HASH", "0x7fffffff", "struct { char b[65536]; }"), /^the kernel refused to create map m \(type 1, .*\): E2BIG; 2147483647 entries of 65540 B are about 128\.0 TiB, more than the kernel will allocate: lower max_entries or the value size$/);
    refused(withMap("999", "4", "__u32"), /^the kernel refused to create map m \(type 999, .*\): EINVAL; 999 is not a map type the kernel has \(tsbpf knows types up to \d+\)$/);
  });

  it("uprobe.multi attaches one uprobe_multi link, an iterator loads unattached, struct_ops is left out saying why", async () => {
    const path = compileC(
      "more-sections",
      `#include "loader.h"
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } hits SEC(".maps");
SEC("uprobe.multi/libc.so.6:unlinka*") int multi(void *ctx) { __u32 k = 0; __u64 *v = bpf_map_lookup_elem(&hits, &k); if (v) __sync_fetch_and_add(v, 1); return 0; }
SEC("iter/task") int tasks(void *ctx) { return 0; }
SEC("struct_ops/init") int ops(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const session = new Session(sys);
    try {
      const obj = session.loadFile(path);
      assert.deepEqual(obj.warnings, ["program ops (section struct_ops/init) is not loaded: struct_ops programs load with the struct_ops map that names them, which tsbpf does not create"]);
      assert.deepEqual([...obj.programs.keys()].sort(), ["multi", "tasks"]);
      const { attached, skipped } = obj.attachAll();
      assert.equal(attached.length, 1);
      assert.match(attached[0]!.description, /unlinka\*/);
      assert.deepEqual(skipped.map((s) => s.program), ["tasks"]);
      rmChild("multi");
      assert.ok(readU64(sys.mapLookup(obj.map("hits").fd, new Uint8Array(4))!) >= 1n, "the rm's unlinkat hit the multi-link uprobe");
    } finally {
      await session.close();
    }
  });

  it("queue and stack maps print at the run's end, their values popped in the order each gives them (never before)", async () => {
    const path = compileC(
      "queue-stack",
      `#include "loader.h"
struct { __uint(type, 22); __uint(max_entries, 8); __type(value, __u32); } fifo SEC(".maps");
struct { __uint(type, 23); __uint(max_entries, 8); __type(value, __u32); } lifo SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_getppid") int noop(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const session = new Session(sys);
    try {
      const obj = session.loadFile(path);
      // A null key pushes (BPF_MAP_UPDATE_ELEM on a queue or stack).
      for (const v of [1, 2, 3]) for (const m of ["fifo", "lifo"]) sys.mapUpdate(obj.map(m).fd, new Uint8Array(0), u32(v));
      // Not while the run goes on (print(), --interval): reading pops them.
      assert.deepEqual(mapContents(obj).map((c) => c.map), []);
      const { mapLines } = await import("../../cli/report.js");
      const final = mapContents(obj, undefined, { final: true });
      assert.deepEqual(final, [{ map: "fifo", values: [1, 2, 3] }, { map: "lifo", values: [3, 2, 1] }]);
      assert.deepEqual(mapLines(final[0]!, false), ["@fifo: [ 1, 2, 3 ]", ""]);
      assert.deepEqual(mapLines(final[1]!, true), ['{"map":"lifo","values":[3,2,1]}']);
    } finally {
      await session.close();
    }
  });

  it("an object without BTF (clang -g0) prints the .data and .bss variables that are not zero as bytes, named by their ELF symbols", async () => {
    const path = compileC(
      "globals-bare",
      `#include "loader.h"
__u64 hits;
__u64 untouched;
int initialized = 42;
char tag[3] = "ab";
SEC("tracepoint/syscalls/sys_enter_getppid") int noop(void *ctx) { hits++; tag[0]++; return initialized + untouched; }
char LICENSE[] SEC("license") = "GPL";
`,
      ["-g0"],
    );
    const session = new Session(sys);
    try {
      const obj = session.loadFile(path);
      sys.mapUpdate(obj.map(".bss").fd, new Uint8Array(4), new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
      const { mapLines } = await import("../../cli/report.js");
      const contents = mapContents(obj);
      const lines = contents.flatMap((c) => mapLines(c, false)).filter((l) => l !== "");
      assert.deepEqual(lines.sort(), ["@hits: 8 bytes 07 00 00 00 00 00 00 00", "@initialized: 4 bytes 2a 00 00 00", "@tag: 3 bytes 61 62 00"]);
    } finally {
      await session.close();
    }
  });

  it("tsbpf load --event-type decodes a C object's records as the struct named, a flexible array member holding the bytes past it; a map the object lacks is named with those it has", async () => {
    const path = compileC(
      "event-type-flexible",
      `#include "loader.h"
static long (*ringbuf_output)(void *ringbuf, void *data, __u64 size, __u64 flags) = (void *)130;
struct { __uint(type, 27); __uint(max_entries, 4096); } lines SEC(".maps");
struct line { __u32 len; char text[]; };
/* Records are sent from a buffer: the struct is in the BTF through this variable, as libbpf tools keep theirs. */
struct line *unused_line __attribute__((unused));
SEC("tracepoint/syscalls/sys_enter_execve") int sent(void *ctx) {
	struct { __u32 len; char text[8]; } b = { 7, "execve" };
	return ringbuf_output(&lines, &b, sizeof(b), 0);
}
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const run = startCli(["load", path, "--event-type", "line", "--json", "--duration", "5", "-c", "/bin/true"]);
    const wrong = startCli(["load", path, "--event-type", "events=line"]);
    assert.equal(await run.exited, 0, run.stderr());
    assert.ok(run.jsonLines().some((l) => l.map === "lines" && JSON.stringify(l.value) === JSON.stringify({ len: 7, text: "execve" })), run.stdout());
    assert.equal(await wrong.exited, 2, wrong.stderr());
    assert.equal(wrong.stderr(), "tsbpf: --event-type names events, which is not a ring buffer or perf event array of the object; it has lines\n");
  });

  it("tsbpf load --program loads only the programs named; a name the object lacks is a usage error listing its programs", async () => {
    const path = compileC(
      "pick-programs",
      `#include "loader.h"
SEC("tracepoint/syscalls/sys_enter_unlinkat") int wanted(void *ctx) { return 0; }
SEC("kprobe/do_unlinkat") int unwanted(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const picked = startCli(["load", path, "--program", "wanted", "--duration", "0.5"]);
    // An iterator named loads and stays unattached, as in a whole object (it was "cannot be attached", exit 4); an
    // optional (?SEC) program named is attached, and not also said to be left unloaded.
    const iterator = startCli([
      "load",
      compileC("pick-iterator", `#include "loader.h"\nSEC("iter/task") int tasks(void *ctx) { return 0; }\nSEC("?tracepoint/syscalls/sys_enter_getpid") int opt(void *ctx) { return 0; }\nchar LICENSE[] SEC("license") = "GPL";\n`),
      ...["--program", "tasks", "--program", "opt", "--duration", "0.5"],
    ]);
    assert.equal(await iterator.exited, 0, iterator.stderr());
    assert.match(iterator.stderr(), /loaded tasks without attaching it: an iterator is read through a link/);
    assert.match(iterator.stderr(), /attached opt to tracepoint syscalls:sys_enter_getpid/);
    assert.doesNotMatch(iterator.stderr(), /left opt unloaded/);
    assert.equal(await picked.exited, 0, picked.stderr());
    assert.match(picked.stderr(), /attached wanted to tracepoint syscalls:sys_enter_unlinkat/);
    assert.doesNotMatch(picked.stderr(), /unwanted/);
    const missing = startCli(["load", path, "--program", "wantd"]);
    assert.equal(await missing.exited, 2, missing.stderr());
    // Where kprobes are compiled out, the whole object stops at the kprobe: the error names --program for the rest.
    if (missingKprobes()) {
      const whole = startCli(["load", path, "--duration", "0.5"]);
      assert.equal(await whole.exited, 4, whole.stderr());
      // At the program's line in the C source, which the object's line info records.
      assert.match(whole.stderr(), /^tsbpf: \S*pick-programs-\w+\.bpf\.c:3:\d+ - error TSBPF3001: cannot attach kprobe do_unlinkat: kprobes are compiled out .*; or leave unwanted out, naming the programs that can attach: --program wanted\n\n3 SEC\("kprobe\/do_unlinkat"\) int unwanted\(void \*ctx\) \{ return 0; \}\n +~\n$/);
    }
    assert.match(missing.stderr(), /no program wantd in the object \(did you mean wanted\?\); its programs are wanted, unwanted\n$/);
  });

  it("an infinite loop is reported as the verifier words it, at the loop's line, not as the register states it prints after", () => {
    const path = compileC(
      "infinite-loop",
      `#include "loader.h"
static __u32 (*prandom)(void) = (void *)7;
SEC("tracepoint/syscalls/sys_enter_unlinkat") int spin(void *ctx) {
  __u32 x = 0;
  while (prandom() != 5) { x = 1; }
  return x;
}
char LICENSE[] SEC("license") = "GPL";
`,
    );
    assert.throws(
      () => new Session(sys).loadFile(path),
      (e: unknown) => e instanceof LoadError && /rejected by the kernel's verifier: infinite loop detected at insn \d+/.test(e.message) && e.location?.line === 5,
    );
  });

  it("tsbpf load - reads the object from standard input", () => {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const r = spawnSync(process.execPath, [...CLI, "load", "-", "--duration", "0.3"], { cwd: fileURLToPath(new URL("../..", import.meta.url)), input: fixture("tracepoint"), encoding: "utf8", env, timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^attached on_unlinkat to tracepoint syscalls:sys_enter_unlinkat$/m);
  });

  it("tsbpf load keeps a CO-RE object's BTF lookups as <hash of the object>.btf.json in the cache directory, not beside the object (README)", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-btf-json-"));
    try {
      const object = join(dir, "probe.bpf.o");
      writeFileSync(object, fixture("core"));
      const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: join(dir, "cache") };
      delete env.NODE_EXTRA_CA_CERTS;
      const r = spawnSync(process.execPath, [...CLI, "load", object, "--duration", "0.3"], { cwd: fileURLToPath(new URL("../..", import.meta.url)), encoding: "utf8", env, timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      // (The built command also keeps its code caches there.)
      assert.deepEqual(readdirSync(join(dir, "cache", "tsbpf")).filter((n) => n.endsWith(".btf.json")), [`${murmur3x86_128(fixture("core"))}.btf.json`]);
      assert.deepEqual(readdirSync(dir).sort(), ["cache", "probe.bpf.o"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("tsbpf load says a kernel rejection as a diagnostic: file:line:col, a TSBPF code, the sentence, the line marked, the kernel's reason", async () => {
    const rejected = startCli(["load", fixturePath("rejected")]);
    assert.equal(await rejected.exited, 3, rejected.stderr());
    const file = /tsbpf: (\S+rejected\.bpf\.c):16:9 - /.exec(rejected.stderr())?.[1];
    assert.ok(file, rejected.stderr());
    assert.equal(
      rejected.stderr(),
      `tsbpf: ${file}:16:9 - error TSBPF2002: no_null_check: \`bpf_map_lookup_elem(&values, &key)\` may be null here; check it (\`if (!v) return 0;\`) before reading \`*v\`\n\n` +
        "16     return *v;\n" +
        "              ~~\n\n" +
        "  note: program no_null_check (section tracepoint/syscalls/sys_enter_unlinkat) was rejected by the kernel's verifier: R0 invalid mem access 'map_value_or_null' (run with --verbose for the verifier log)\n",
    );
    // --verbose: the kernel's whole log, its instruction lines too, and still the diagnostic (a statistics-only
    // log names no instruction, so the load is asked again with them).
    const verbose = startCli(["load", fixturePath("rejected"), "--verbose"]);
    assert.equal(await verbose.exited, 3, verbose.stderr());
    assert.match(verbose.stderr(), /^\d+: \(79\) r0 = \*\(u64 \*\)\(r0 \+0\)$/m);
    assert.match(verbose.stderr(), /^R0 invalid mem access 'map_value_or_null'$/m);
    assert.match(verbose.stderr(), /^processed \d+ insns/m);
    assert.ok(verbose.stderr().includes(`tsbpf: ${file}:16:9 - error TSBPF2002: no_null_check: `), verbose.stderr());
    assert.match(verbose.stderr(), /note: program no_null_check .*'map_value_or_null'\n$/);
    // Without line info: the code and the sentence, with the instruction the kernel named.
    const source = `#include "loader.h"\nstatic __u32 (*prandom)(void) = (void *)7;\nSEC("tracepoint/syscalls/sys_enter_unlinkat") int spin(void *ctx) {\n  __u32 x = 0;\n  while (prandom() != 5) { x = 1; }\n  return x;\n}\nchar LICENSE[] SEC("license") = "GPL";\n`;
    const bare = startCli(["load", compileC("spin-bare", source, ["-g0"])]);
    assert.equal(await bare.exited, 3, bare.stderr());
    assert.match(bare.stderr(), /^tsbpf: error TSBPF2006: spin: the verifier cannot prove that the loop around this expression ends; .*\n  note: program spin \(section [^)]+\) was rejected by the kernel's verifier: infinite loop detected at insn \d+ \(run with --verbose for the verifier log\)\n$/);
    // A reservation left unsubmitted: the kernel does not say where it was made; the nearest before the exit is named.
    const leak = `#include "loader.h"\nstruct { __uint(type, 27); __uint(max_entries, 4096); } rb SEC(".maps");\nstatic void *(*reserve)(void *, __u64, __u64) = (void *)131;\nstatic void (*submit)(void *, __u64) = (void *)132;\nstatic __u32 (*prandom)(void) = (void *)7;\nSEC("tracepoint/syscalls/sys_enter_unlinkat") int leaky(void *ctx) {\n  __u32 *r = reserve(&rb, 4, 0);\n  if (!r) return 0;\n  *r = 1;\n  if (prandom() & 1) return 0;\n  submit(r, 0);\n  return 0;\n}\nchar LICENSE[] SEC("license") = "GPL";\n`;
    const leaked = startCli(["load", compileC("ringbuf-leak", leak)]);
    assert.equal(await leaked.exited, 3, leaked.stderr());
    assert.match(leaked.stderr(), /error TSBPF2010: leaky: the ring buffer record reserved by `reserve\(&rb, 4, 0\)` on line 7 is neither submitted nor discarded on the path that ends here; bpf_ringbuf_submit\(\) or bpf_ringbuf_discard\(\) it on every path/);
  });

  it("a ring buffer's size is rounded up to a power-of-two number of pages, and map_extra reaches the kernel, as libbpf does", async () => {
    const path = compileC(
      "map-extras",
      `#include "loader.h"
static long (*push)(void *map, const void *value, __u64 flags) = (void *)87;
static long (*ringbuf_output)(void *ringbuf, void *data, __u64 size, __u64 flags) = (void *)130;
struct { __uint(type, 27); __uint(max_entries, 1000); } events SEC(".maps");
struct { __uint(type, 30); __uint(max_entries, 16); __type(value, __u32); __uint(map_extra, 3); } seen SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_unlinkat") int p(void *ctx) { __u32 v = 1; push(&seen, &v, 0); return ringbuf_output(&events, &v, sizeof(v), 0); }
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const session = new Session(sys);
    try {
      const obj = session.loadFile(path);
      assert.equal(sys.mapInfo(obj.map("events").fd).maxEntries, Math.max(4096, sys.pageSize()));
      assert.equal(sys.mapInfo(obj.map("seen").fd).mapExtra, 3n);
    } finally {
      await session.close();
    }
  });

  it("map_extra written as libbpf 1.4's __ulong (a one-value enum, 64 bits wide when it must be) reaches the kernel", async () => {
    const ulong = (value: string) =>
      compileC(
        "map-extra-ulong",
        `#include "loader.h"
#define __ulong(name, val) enum { ___ulong_##name = val } name
struct { __uint(type, 30); __uint(max_entries, 16); __type(value, __u32); __ulong(map_extra, ${value}); } seen SEC(".maps");
static long (*push)(void *map, const void *value, __u64 flags) = (void *)87;
SEC("tracepoint/syscalls/sys_enter_unlinkat") int p(void *ctx) { __u32 v = 1; return push(&seen, &v, 0); }
char LICENSE[] SEC("license") = "GPL";
`,
      );
    const wide = openObject(readFileSync(ulong("0x100000002ULL"))).maps.find((m) => m.name === "seen") as { mapExtra?: bigint } | undefined;
    assert.equal(wide?.mapExtra, 0x100000002n);
    const session = new Session(sys);
    try {
      const obj = session.loadFile(ulong("5"));
      assert.equal(sys.mapInfo(obj.map("seen").fd).mapExtra, 5n);
    } finally {
      await session.close();
    }
  });

  it("maps whose kind takes no BTF types are created without them, and only data maps are printed at exit", async () => {
    const session = new Session(sys);
    try {
      const obj = session.loadFile(fixturePath("map-kinds"));
      assert.deepEqual(obj.warnings, []);
      assert.equal(sys.mapInfo(obj.map("seen").fd).btfValueTypeId > 0, true);
      obj.attachAll();
      rmChild("kinds");
      assert.deepEqual(mapContents(obj), [{ map: "seen", entries: [[7, 1]] }]);
    } finally {
      await session.close();
    }
  });

  it("a CO-RE read of a field the running kernel lacks is refused naming the field, not as an unknown helper", () => {
    assert.throws(
      () => new Session(sys).loadFile(fixturePath("core-missing")),
      (e: unknown) =>
        e instanceof LoadError &&
        e.message.startsWith("program read_missing (section tracepoint/syscalls/sys_enter_unlinkat) was refused: it reads what the running kernel does not have (") &&
        /no field no_such_field in struct task_struct/.test(e.reason) &&
        e.log.includes("unknown#195896080") &&
        /core-missing\.bpf\.c$/.test(e.location?.file ?? ""),
    );
  });

  it("a CO-RE read of a field whose type differs in the running kernel is refused as a type mismatch, not as a missing field", () => {
    assert.throws(
      () => new Session(sys).loadFile(fixturePath("core-mismatch")),
      (e: unknown) =>
        e instanceof LoadError &&
        e.message.startsWith("program read_mismatch (section tracepoint/syscalls/sys_enter_unlinkat) was refused: a kernel member it reads has a type in the running kernel that the object's BTF does not match (") &&
        /field comm of struct task_struct \[\d+\] has type char\[16\], incompatible with local int/.test(e.reason),
    );
  });

  it("kprobe: loads, and attaching explains that kprobes are compiled out, naming a kretprobe's exit counterparts", { skip: missingKprobes() ? false : "this kernel has kprobes" }, async () => {
    const session = new Session(sys);
    try {
      const obj = session.loadFile(fixturePath("kprobe"));
      assert.deepEqual([...obj.programs.keys()], ["on_do_unlinkat", "on_do_unlinkat_ret"]);
      assert.throws(
        () => obj.attachAll(),
        (e: unknown) =>
          e instanceof AttachError &&
          e.reason === "unsupported" &&
          /kprobes are compiled out of the running kernel \(CONFIG_KPROBES is off/.test(e.message) &&
          /tracepoint syscalls:sys_enter_unlinkat/.test(e.message) &&
          /uprobe/.test(e.message),
      );
      // The return probe's counterparts: the syscall's exit tracepoint, a uretprobe.
      assert.throws(
        () => obj.attach("on_do_unlinkat_ret"),
        (e: unknown) => e instanceof AttachError && /use the tracepoint syscalls:sys_exit_unlinkat \(SEC\("tracepoint\/syscalls\/sys_exit_unlinkat"\)\) or a uretprobe \(SEC\("uretprobe\/BINARY:FUNCTION"\)\) instead$/.test(e.message),
      );
      assert.equal(obj.attachments.length, 0);
    } finally {
      await session.close();
    }
  });

  it("a kprobe on a function the kernel lacks says so", async () => {
    const session = new Session(sys);
    try {
      const obj = session.loadFile(fixturePath("kprobe"));
      const p = obj.program("on_do_unlinkat");
      p.spec.attach = { kind: "kprobe", func: "tsbpf_no_such_function", offset: 0, retprobe: false };
      assert.throws(() => obj.attach(p.name), (e: unknown) => e instanceof AttachError && e.reason === "not-found" && /no function tsbpf_no_such_function/.test(e.message));
    } finally {
      await session.close();
    }
  });

  it("a tsbpf object goes in with its BTF: the kernel's line info points at the TypeScript lines", async () => {
    const { compile } = await import("../../compiler/index.js");
    const session = new Session(sys);
    try {
      const obj = session.load(compile("examples/unlink-tracepoint.ts").object, { name: "unlink_t" });
      assert.deepEqual(obj.warnings, []);
      const info = sys.progInfo(obj.program("unlinkat").fd);
      assert.ok(info.nrLineInfo > 0 && info.nrFuncInfo === 1);
      const dump = spawnSync("bpftool", ["prog", "dump", "xlated", "id", String(info.id), "linum"], { encoding: "utf8" });
      assert.equal(dump.status, 0, dump.stderr);
      assert.match(dump.stdout, /; const pid = pidTgid\(\) >> 32; \[file:examples\/unlink-tracepoint\.ts line_num:7 line_col:\d+\]/);
    } finally {
      await session.close();
    }
  });

  it("a program using more than the kernel's 64 maps is refused at the line of the 65th, which the kernel's log does not name", () => {
    const maps = Array.from({ length: 65 }, (_, i) => `struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } m${i} SEC(".maps");`);
    const updates = Array.from({ length: 65 }, (_, i) => `  bpf_map_update_elem(&m${i}, &k, &v, BPF_ANY);`);
    const source = `#include "loader.h"\n${maps.join("\n")}\nSEC("tracepoint/syscalls/sys_enter_unlinkat") int many(void *ctx) {\n  __u32 k = 0;\n  __u64 v = 1;\n${updates.join("\n")}\n  return 0;\n}\nchar LICENSE[] SEC("license") = "GPL";\n`;
    const session = new Session(sys);
    try {
      assert.throws(
        () => session.loadFile(compileC("many-maps", source)),
        (e: unknown) =>
          e instanceof LoadError &&
          e.reason === "The total number of maps per program has reached the limit of 64" &&
          // #include, 65 maps, the function's head and two locals: m64's update is line 134.
          e.location?.line === 134 &&
          e.rejection !== undefined,
      );
    } finally {
      void session.close();
    }
  });

  it("a verifier rejection carries the kernel's reason and log, and nothing of the object stays", () => {
    const progsBefore = new Set(listIds(sys, "prog"));
    const session = new Session(sys);
    try {
      assert.throws(
        () => session.loadFile(fixturePath("rejected")),
        (e: unknown) =>
          e instanceof LoadError &&
          e.reason === "R0 invalid mem access 'map_value_or_null'" &&
          e.log.includes("invalid mem access") &&
          e.object === "no_null_check" &&
          // The source line of the refused instruction, through the object's line info.
          /rejected\.bpf\.c$/.test(e.location?.file ?? "") &&
          e.location?.line === 16 &&
          e.message.endsWith(`\n  at ${e.location.file}:16:${e.location.column}: return *v;`),
      );
    } finally {
      void session.close();
    }
    const names = listIds(sys, "prog")
      .filter((id) => !progsBefore.has(id))
      .map((id) => {
        try {
          const fd = sys.progGetFdById(id);
          try {
            return sys.progInfo(fd).name;
          } finally {
            sys.close(fd);
          }
        } catch {
          return "";
        }
      });
    assert.ok(!names.includes("no_null_check"));
  });

  it("tsbpf load streams JSON printk lines and releases everything on SIGINT", async () => {
    const { line, stderr } = await loadWithCli(fixturePath("tracepoint"), "cli", "tsbpf-tp");
    assert.match(stderr, /attached on_unlinkat to tracepoint syscalls:sys_enter_unlinkat/);
    assert.deepEqual(Object.keys(line).sort(), ["cpu", "event", "message", "pid", "task", "timestamp"]);
    assert.equal(line.task, "rm");
  });
});

/** The running kernel's config, read here independently of the loader. */
function kernelConfig(): Map<string, string> {
  const text = gunzipSync(readFileSync("/proc/config.gz")).toString("latin1");
  return new Map([...text.matchAll(/^(CONFIG_\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** Program and map ids now, so that `leftovers` can name what appeared since (other users of the machine included). */
const kernelIds = () => ({ progs: new Set(listIds(sys, "prog")), maps: new Set(listIds(sys, "map")) });

/** Names of programs and maps created since `before` whose names start with one of `prefixes`. */
function leftovers(before: ReturnType<typeof kernelIds>, prefixes: string[]): string[] {
  const named = (ids: number[], open: (id: number) => number, name: (fd: number) => string) =>
    ids.flatMap((id) => {
      try {
        const fd = open(id);
        try {
          return [name(fd)];
        } finally {
          sys.close(fd);
        }
      } catch {
        return []; // gone meanwhile
      }
    });
  const progs = named(listIds(sys, "prog").filter((id) => !before.progs.has(id)), (id) => sys.progGetFdById(id), (fd) => sys.progInfo(fd).name);
  const maps = named(listIds(sys, "map").filter((id) => !before.maps.has(id)), (id) => sys.mapGetFdById(id), (fd) => sys.mapInfo(fd).name);
  return [...progs, ...maps].filter((n) => prefixes.some((p) => n.startsWith(p)));
}

describe("externs against the running kernel", { skip: needsKernel.skip || (existsSync("/proc/config.gz") ? false : "the tests read /proc/config.gz to know the expected values") }, () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tsbpf-externs-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("kconfig values, a typeless ksym and kfuncs: the printed values are the kernel's", async () => {
    const config = kernelConfig();
    const session = new Session(sys);
    try {
      const obj = session.loadFile(fixturePath("externs"));
      assert.deepEqual(obj.warnings, []);
      assert.equal(sys.mapInfo(obj.map(".kconfig").fd).name, "externs.kconfig");
      const pipe = session.tracePipe();
      obj.attachAll();
      // Four lines per run: the last names the file; the three before it come from the same run.
      let seen: { path: string; pid: number; message: string } | undefined;
      let lines: string[] = [];
      for (let attempt = 0; attempt < 3 && !seen; attempt++) {
        const child = rmChild("ext");
        const mine: string[] = [];
        const last = await pipe.waitFor((l) => {
          if (l.pid === child.pid && l.message.startsWith("tsbpf-ext")) mine.push(l.message);
          return l.pid === child.pid && l.message.startsWith("tsbpf-ext pid=") && l.message.includes(child.path);
        }, 5000);
        if (last) [seen, lines] = [{ ...child, message: last.message }, mine.slice(0, -1)];
      }
      assert.ok(seen, "no tsbpf-ext lines for rm after 3 tries");
      const [, a, b, c] = /^(\d+)\.(\d+)\.(\d+)/.exec(release())!;
      const version = (Number(a) << 16) + (Number(b) << 8) + Math.min(255, Number(c));
      const kallsyms = readFileSync("/proc/kallsyms", "latin1");
      const unlinkat = / T do_unlinkat$/m.test(kallsyms) ? /^([0-9a-f]+) T do_unlinkat$/m.exec(kallsyms)![1]!.replace(/^0+/, "") : "?";
      const wrapper = new RegExp(` T __${process.arch === "arm64" ? "arm64" : "x64"}_sys_bpf$`, "m").test(kallsyms) ? 1 : 0;
      const tristate = { y: 1, m: 2 }[config.get("CONFIG_BPF_JIT") ?? ""] ?? 0;
      const local = JSON.parse(config.get("CONFIG_LOCALVERSION") ?? '""').slice(0, 15);
      assert.deepEqual(lines, [`tsbpf-ext ver=${version.toString(16)} wrap=${wrapper} bpf=1`, `tsbpf-ext hz=${config.get("CONFIG_HZ")} jit=${tristate} none=0`, `tsbpf-ext local=${local} rcu=1 nosuch=0`]);
      assert.equal(seen.message, `tsbpf-ext pid=${seen.pid} unlinkat=${unlinkat} name=${seen.path}`);
    } finally {
      await session.close();
    }
  });

  it("a typed ksym goes in as its vmlinux BTF id; without CONFIG_KALLSYMS_ALL the kernel cannot find its address", async () => {
    const before = kernelIds();
    const session = new Session(sys);
    try {
      if (kernelConfig().get("CONFIG_KALLSYMS_ALL") === "y") {
        const obj = session.loadFile(fixturePath("ksym-typed"));
        const pipe = session.tracePipe();
        obj.attachAll();
        const child = rmChild("ksym");
        const line = await pipe.waitFor((l) => l.pid === child.pid && l.message.startsWith("tsbpf-ksym"), 5000);
        // bpf_prog_active counts the BPF programs running on this CPU: this one.
        assert.equal(line?.message, "tsbpf-ksym active=1 missing=0");
      } else {
        // The kernel looked the BTF id up and named the variable: the id was right.
        assert.throws(
          () => session.loadFile(fixturePath("ksym-typed")),
          (e: unknown) => e instanceof LoadError && e.reason.startsWith("ldimm64 failed to find the address for kernel symbol 'bpf_prog_active'.") && /CONFIG_KALLSYMS_ALL/.test(e.reason),
        );
      }
    } finally {
      await session.close();
    }
    assert.deepEqual(leftovers(before, ["on_unlinkat_active", "ksym_typ"]), []);
  });

  it("a non-weak CONFIG the kernel's config lacks, a kfunc it does not export, a reachable weak one: clear errors, nothing left", async () => {
    const before = kernelIds();
    const fds = openFdCount();
    const session = new Session(sys);
    try {
      assert.throws(() => session.loadFile(fixturePath("externs-missing")), (e: unknown) => e instanceof MissingKernelError && e.message === "CONFIG_TSBPF_NO_SUCH_OPTION is not set in the running kernel's config (/proc/config.gz); declare it __weak to default to 0");
      assert.throws(() => session.loadFile(fixturePath("kfunc-missing")), (e: unknown) => e instanceof MissingKernelError && /^kfunc bpf_tsbpf_no_such_kfunc is not exported by the running kernel/.test(e.message));
      assert.throws(
        () => session.loadFile(fixturePath("kfunc-weak")),
        (e: unknown) => e instanceof LoadError && /^invalid func unknown#2002000000 \(a call to __weak kfunc bpf_tsbpf_no_such_kfunc, which the running kernel does not export, is reachable\)$/.test(e.reason),
      );
    } finally {
      await session.close();
    }
    assert.deepEqual(leftovers(before, ["on_unlinkat_config", "on_unlinkat_kfunc", "on_unlinkat_weak", "externs_", "kfunc_mi", "kfunc_we"]), []);
    assert.equal(openFdCount(), fds);
  });

  it("tsbpf verify leaves an object whose externs the kernel cannot resolve unchecked, saying which, as tsbpf load refuses it", () => {
    const missing = verifyObject(fixture("externs-missing"), { name: "externs_missing" });
    assert.deepEqual(
      missing.programs.map((p) => [p.name, p.verdict, p.unchecked]),
      [["on_unlinkat_config", "unchecked", "the object's externs cannot be resolved against the running kernel: CONFIG_TSBPF_NO_SUCH_OPTION is not set in the running kernel's config (/proc/config.gz); declare it __weak to default to 0"]],
    );
    // With its externs resolved, the program calls kfuncs, which the model leaves to the kernel.
    assert.deepEqual(
      verifyObject(fixture("externs"), { name: "externs" }).programs.map((p) => [p.verdict, p.unchecked]),
      [["unchecked", "it calls kernel functions (kfuncs), which the model does not check"]],
    );
  });

  it("tsbpf load runs an object with externs end to end", async () => {
    const { line } = await loadWithCli(fixturePath("externs"), "cli-ext", "tsbpf-ext");
    assert.match(String(line.message), /^tsbpf-ext pid=\d+ unlinkat=[0-9a-f]+ name=/);
  });
});
