// rawTracepoint(), libbpf's tp_btf and bpftrace's rawtracepoint: a handler takes the tracepoint's own arguments,
// typed by its btf_trace_NAME prototype in the kernel's BTF; compiled as a tp_btf program (both backends), checked by
// the verifier model against that prototype, fired in the simulator, and attached on this kernel.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { readRecording, replay, simulate } from "../../runtime/test/index.js";
import { openObject } from "../../runtime/loader/index.js";
import { attachProgram } from "../../runtime/loader/attach.js";
import { SysError, type Sys } from "../../runtime/sys/index.js";
import { recorderSource } from "../../cli/record.js";
import { CLI } from "../support/cli.js";

const SOURCE = `import { rawTracepoint, printf, probe, readKernelStr, HashMap, type u32, type u64, type Str, type ProbeName } from "tsbpf";
export const license = "GPL";
export const switches = new HashMap<u32, u64>(1024);
export const hits = new HashMap<ProbeName, u64>(4);
export const switched = rawTracepoint("sched_switch", (preempt, prev, next, prevState) => {
  switches.increment(next.pid);
  hits.increment(probe());
  printf("%s -> %s preempt=%d state=%u\\n", prev.comm, next.comm, preempt, prevState);
});
export const exec = rawTracepoint("sched_process_exec", (p, oldPid, bprm) => {
  const file: Str<32> = readKernelStr(bprm.filename);
  printf("exec %s %d %s\\n", p.comm, oldPid, file);
});
`;

const hasBtf = existsSync("/sys/kernel/btf/vmlinux") ? undefined : "the kernel has no BTF (/sys/kernel/btf/vmlinux)";
const messages = (text: string): string[] => compile({ fileName: "raw.ts", text }, { arch: "x86_64" }).diagnostics.map((d) => `${d.code}: ${d.message}`);

describe("rawTracepoint()", { skip: hasBtf }, () => {
  it("compiles a tp_btf program per tracepoint, in both backends", () => {
    for (const backend of ["own", "llvm"] as const) {
      const r = compile({ fileName: "raw.ts", text: SOURCE }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, [], backend);
      assert.deepEqual(
        r.programs.map((p) => [p.name, p.section, p.kind]),
        [
          ["switched", "tp_btf/sched_switch", "rawTracepoint"],
          ["exec", "tp_btf/sched_process_exec", "rawTracepoint"],
        ],
        backend,
      );
    }
  });

  it("types the parameters from the kernel's prototype: struct pointers, bools and integers", () => {
    const probe = (body: string) => `import { rawTracepoint, type u32 } from "tsbpf";\nexport const license = "GPL";\nrawTracepoint("sched_switch", (preempt, prev, next, prevState) => {\n  ${body}\n});\n`;
    assert.match(messages(probe("const x = prev.nosuch;")).join("\n"), /^TS2339: Property 'nosuch' does not exist on type 'Ptr<task_struct>'/);
    assert.match(messages(probe("const x: u32 = preempt;")).join("\n"), /^TS2322: Type 'boolean' is not assignable to type 'number'/);
    assert.deepEqual(messages(probe("const x: u32 = prevState + next.pid;")), []);
  });

  it("reads members through the kernel's typed pointers with direct loads, and through any other pointer with probe reads", () => {
    const text = `import { rawTracepoint, currentTask, printf, type Ptr } from "tsbpf";
import type { task_struct } from "tsbpf/kernel";
export const license = "GPL";
rawTracepoint("sched_switch", (preempt, prev, next) => {
  let other = prev;
  if (preempt) other = currentTask<task_struct>();
  const either = preempt ? next : currentTask<task_struct>();
  printf("%d %d %d %d\\n", next.pid, prev.real_parent.tgid, other.pid, either.tgid);
});
`;
    for (const backend of ["own", "llvm"] as const) {
      const r = compile({ fileName: "direct.ts", text }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, [], backend);
      const insns = r.programs[0]!.insns;
      const probeReads = insns.filter((i) => i.code === 0x85 && i.imm === 113).length;
      const loads = insns.filter((i) => (i.code & 0x07) === 0x01 && i.src !== 10).length;
      // next.pid, prev.real_parent and its tgid: loads; other (a let) and either (a join with an untyped pointer):
      // probe reads.
      assert.equal(probeReads, 2, backend);
      assert.ok(loads >= 6, `${backend}: ${loads} loads outside the stack: three arguments, three members`);
    }
  });

  it("keeps a typed pointer typed in a function's parameter the function never assigns", () => {
    const probeReads = (fn: string) => {
      const text = `import { rawTracepoint, currentTask, type Ptr, type i32 } from "tsbpf";\nimport type { task_struct } from "tsbpf/kernel";\nexport const license = "GPL";\n${fn}\nrawTracepoint("sched_wakeup", (p) => pidOf(p));\n`;
      const r = compile({ fileName: "fn.ts", text }, { arch: "x86_64" });
      assert.deepEqual(r.diagnostics, []);
      return r.programs[0]!.insns.filter((i) => i.code === 0x85 && i.imm === 113).length;
    };
    assert.equal(probeReads("function pidOf(t: Ptr<task_struct>): i32 { return t.pid; }"), 0);
    assert.equal(probeReads("function pidOf(t: Ptr<task_struct>): i32 { if (t.pid === 0) t = currentTask<task_struct>(); return t.pid; }"), 2);
  });

  it("refuses to assign an untyped pointer to an argument the kernel types", () => {
    const text = `import { rawTracepoint, currentTask } from "tsbpf";
import type { task_struct } from "tsbpf/kernel";
export const license = "GPL";
rawTracepoint("sched_wakeup", (p) => {
  p = currentTask<task_struct>();
  return p.pid;
});
`;
    assert.deepEqual(messages(text), ["TSBPF1001: `p` is an argument the kernel types (its members are read directly): assign it only another such pointer, or copy it first (`let p: Ptr<task_struct> = p`)"]);
  });

  it("takes an annotation in place of the prototype's type", () => {
    const r = compile({ fileName: "raw.ts", text: `import { rawTracepoint, printf, type u64 } from "tsbpf";\nexport const license = "GPL";\nrawTracepoint("sys_enter", (regs: u64, id: u64) => printf("%d\\n", id));\n` }, { arch: "x86_64" });
    assert.deepEqual(r.diagnostics, []);
  });

  it("names an unknown tracepoint, with the names spelled like it", () => {
    const text = `import { rawTracepoint } from "tsbpf";\nexport const license = "GPL";\nrawTracepoint("sched_swich", () => 0);\n`;
    assert.deepEqual(messages(text), ["TSBPF1013: the kernel has no raw tracepoint sched_swich (no btf_trace_sched_swich in its BTF); did you mean sched_switch?"]);
  });

  it("refuses a glob, more parameters than the tracepoint passes, and a name that is not a literal", () => {
    const file = (probe: string) => `import { rawTracepoint } from "tsbpf";\nexport const license = "GPL";\nconst NAME = "sched_switch";\n${probe}\n`;
    assert.match(messages(file(`rawTracepoint("sched_*", () => 0);`))[0]!, /^TSBPF\d+: a raw tracepoint is named exactly, not by a glob \(`sched_\*`\)/);
    assert.deepEqual(messages(file(`rawTracepoint("sched_wakeup", (p, extra) => 0);`)), ["TSBPF1009: raw tracepoint sched_wakeup passes 1 argument"]);
    assert.match(messages(file(`rawTracepoint(NAME, () => 0);`))[0]!, /the arguments of rawTracepoint\(\) must be string literals$/);
    assert.deepEqual(messages(file(`rawTracepoint("", () => 0);`)), ["TSBPF1008: the arguments of rawTracepoint() must not be empty"]);
  });

  it("reads zero through a typed pointer that faults, as the kernel's BPF_PROBE_MEM loads do, in both VM tiers", async () => {
    for (const [backend, tier] of [["own", "interpreter"], ["own", "compiled"], ["llvm", "compiled"]] as const) {
      const sim = await simulate({ fileName: "raw.ts", text: SOURCE }, { arch: "x86_64", backend, tier });
      const next = sim.kernel.alloc("task_struct", { pid: 20, comm: "after" });
      for (let i = 0; i < 3; i++) sim.rawTracepoint("sched_switch", [0, 0xffff888000001000n, next, 0]);
      sim.rawTracepoint("sched_switch", [0, next, 0, 0]);
      // The map key read through NULL is 0; comm through an unmapped pointer is a failed probe read: empty.
      assert.deepEqual(sim.map("switches").toMap(), new Map([[20, 3n], [0, 1n]]), `${backend} ${tier}`);
      assert.equal(sim.output(), " -> after preempt=0 state=0\n".repeat(3) + "after ->  preempt=0 state=0\n", `${backend} ${tier}`);
    }
  });

  it("fires in the simulator with the arguments as u64s, pointers placed in its kernel memory", async () => {
    const sim = await simulate({ fileName: "raw.ts", text: SOURCE }, { arch: "x86_64" });
    const prev = sim.kernel.alloc("task_struct", { pid: 10, comm: "before" });
    const next = sim.kernel.alloc("task_struct", { pid: 20, comm: "after" });
    sim.rawTracepoint("sched_switch", [1, prev, next, 0x100]);
    sim.rawTracepoint("sched_switch", [0, next, next, 0]);
    assert.equal(sim.output(), "before -> after preempt=1 state=256\nafter -> after preempt=0 state=0\n");
    assert.deepEqual(sim.map("switches").toMap(), new Map([[20, 2n]]));
    assert.deepEqual(sim.map("hits").toMap(), new Map([["rawtracepoint:sched_switch", 2n]]));
  });

  it("is recorded with every argument as its u64 slot, and replays (pointers as addresses that do not read)", async () => {
    const spec = openObject(compile({ fileName: "raw.ts", text: SOURCE }, { arch: "x86_64" }).object);
    const recorder = recorderSource(spec.programs.map((p) => p.attach), () => undefined);
    assert.deepEqual(recorder.skipped, []);
    assert.deepEqual(recorder.probes.map((p) => p.probe), [{ kind: "rawTracepoint", name: "sched_switch" }, { kind: "rawTracepoint", name: "sched_process_exec" }]);
    assert.deepEqual(compile({ fileName: "recorder.ts", text: recorder.text }, { arch: "x86_64" }).diagnostics, [], recorder.text);
    const probe = { kind: "rawTracepoint", name: "sched_switch" };
    const sim = await simulate({ fileName: "raw.ts", text: SOURCE }, { arch: "x86_64" });
    const hit = JSON.stringify({ kind: "hit", probe, time: "100", cpu: 0, pid: 7, tgid: 7, uid: 0, gid: 0, comm: "x", args: [0, "18446612682453000000", "18446612682453010000", 1] });
    assert.equal(replay(sim, readRecording(hit)).length, 1);
    assert.equal(sim.output(), " ->  preempt=0 state=1\n");
  });
});

describe("rawTracepoint() attach", () => {
  it("says that probe() needs a kernel that takes a cookie on the link (Linux 6.10) where it does not", () => {
    const spec = openObject(compile({ fileName: "raw.ts", text: SOURCE }, { arch: "x86_64" }).object).programs[0]!;
    assert.equal(spec.probeNames, true);
    const cookies: (bigint | undefined)[] = [];
    const old = {
      rawTracepointOpen(_name: string | undefined, _fd: number, cookie?: bigint): number {
        cookies.push(cookie);
        throw new SysError("BPF_RAW_TRACEPOINT_OPEN", 22);
      },
    } as unknown as Sys;
    assert.throws(() => attachProgram(old, 3, spec), /cannot attach program switched to tp_btf sched_switch: it calls probe\(\), whose name this kind of link carries in its cookie, which the running kernel does not take \(Linux 6\.10 added it\); leave probe\(\) out of it/);
    assert.equal(cookies.length, 1);
    assert.ok(cookies[0]! >> 32n > 0n, "the probe's id in the cookie's high half");
  });
});

const noKernel = hasBtf ?? missingRoot() ?? missingBpf(openSys());

describe("rawTracepoint() on this kernel", { skip: noKernel }, () => {
  it("tsbpf run attaches tp_btf programs, names them for probe() and records their hits", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-raw-tp-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      const file = join(dir, "exec.ts");
      writeFileSync(file, `import { rawTracepoint, printf, probe, readKernelStr, targetPid, HashMap, type u64, type Str, type ProbeName } from "tsbpf";
export const license = "GPL";
export const hits = new HashMap<ProbeName, u64>(4);
export const exec = rawTracepoint("sched_process_exec", (p, oldPid, bprm) => {
  if (p.tgid !== targetPid()) return;
  hits.increment(probe());
  const file: Str<32> = readKernelStr(bprm.filename);
  printf("exec %s %s same=%d\\n", p.comm, file, oldPid === p.pid);
});
`);
      const recorded = join(dir, "exec.jsonl");
      const r = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "--record", recorded, "-c", "/bin/true"], { encoding: "utf8", env, timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /attached exec to tp_btf sched_process_exec/);
      assert.match(r.stdout, /^exec true \/bin\/true same=1$/m);
      assert.match(r.stdout, /^@hits\[rawtracepoint:sched_process_exec\]: 1$/m);
      // The recorder saw every exec (system-wide); the command's is among them, with the tracepoint's three arguments.
      const hits = readRecording(recorded).hits.filter((h) => h.comm === "true");
      assert.ok(hits.length >= 1, "the exec of /bin/true was recorded");
      assert.deepEqual(hits[0]!.probe, { kind: "rawTracepoint", name: "sched_process_exec" });
      assert.equal(hits[0]!.args?.length, 3);
      // The run's -c target is what targetPid() gave: the replay gives it too.
      const sim = await simulate(file, { ...readRecording(recorded).run });
      assert.equal(replay(sim, readRecording(recorded), { filter: (h) => h.time === hits[0]!.time }).length, 1);
      // LLVM's object reads through the typed pointers as directly, and the kernel takes it too.
      const llvm = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "--backend", "llvm", "-c", "/bin/true"], { encoding: "utf8", env, timeout: 60_000 });
      assert.equal(llvm.status, 0, llvm.stderr);
      assert.match(llvm.stdout, /^exec true \/bin\/true same=1$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("reads enum members through the kernel's typed pointers (socket.state at listen() is SS_UNCONNECTED), in both backends", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-raw-tp-enum-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      const file = join(dir, "listen.ts");
      writeFileSync(file, `import { rawTracepoint, printf, pidTgid, targetPid } from "tsbpf";
import { SS_UNCONNECTED } from "tsbpf/kernel";
export const license = "GPL";
export const state = rawTracepoint("inet_sock_set_state", (sk, oldState, newState) => {
  if (pidTgid() >> 32 !== targetPid() || newState !== 10) return;
  printf("socket state=%d unconnected=%d\\n", sk.sk_socket.state, SS_UNCONNECTED);
});
`);
      // inet_listen() refuses a socket whose state is not SS_UNCONNECTED, so the listen's transition to TCP_LISTEN (10) sees 1.
      const listen = `/usr/bin/python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()"`;
      for (const backend of ["own", "llvm"]) {
        const r = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "--backend", backend, "-c", listen], { encoding: "utf8", env, timeout: 60_000 });
        assert.equal(r.status, 0, `${backend}: ${r.stderr}`);
        assert.match(r.stdout, /^socket state=1 unconnected=1$/m, backend);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
