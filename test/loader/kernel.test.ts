// The loader against the running kernel: clang-19 fixtures loaded, attached and triggered by `rm` in a child
// process; output observed in trace_pipe and in maps. Also the kprobe explanation, a verifier rejection, and
// `tsbpf load` end to end (streaming JSON, released on SIGINT). trace_pipe is shared by the whole machine, so
// each check waits for a line naming its own temp file, triggering again if another reader took it.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listIds, missingKprobes, openSys } from "../../runtime/sys/index.js";
import { AttachError, LoadError, Session, type TracePipe } from "../../runtime/loader/index.js";
import { fixturePath, needsKernel, readU64, startCli, u32 } from "./support.js";

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

  it("kprobe: loads, and attaching explains that kprobes are compiled out", { skip: missingKprobes() ? false : "this kernel has kprobes" }, async () => {
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
    const { child, stdout, stderr, jsonLines, exited, until } = startCli(["load", fixturePath("tracepoint"), "--json", "--duration", "60"]);
    try {
      await until(() => stderr().includes("streaming bpf_printk output"), "tsbpf load never started streaming");
      assert.match(stderr(), /attached on_unlinkat to tracepoint syscalls:sys_enter_unlinkat/);
      let match: Record<string, unknown> | undefined;
      for (let attempt = 0; attempt < 3 && !match; attempt++) {
        const { path, pid } = rmChild("cli");
        const found = () => jsonLines().find((o) => o.pid === pid && String(o.message).endsWith(`name=${path}`));
        for (const deadline = Date.now() + 5000; !(match = found()) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(match, `no JSON line for rm; stdout: ${stdout().slice(0, 500)}`);
      assert.deepEqual(Object.keys(match).sort(), ["cpu", "event", "message", "pid", "task", "timestamp"]);
      assert.equal(match.task, "rm");
      child.kill("SIGINT");
      assert.equal(await exited, 0, stderr());
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
