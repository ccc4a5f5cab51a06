// What a firing is given is checked before it runs, as tsc would check it (tests run through tsx are not
// type-checked): an option the firing does not take is refused, naming the nearest one and those it takes.

import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate, SimulationError } from "../../runtime/test/index.js";
import { needsVmlinux } from "./support.js";
import { tracepointFormats } from "../support/fixture-kernel.js";

const isUsage = (message: RegExp) => (e: unknown) => e instanceof SimulationError && e.kind === "usage" && message.test(e.message);

const UPROBES = {
  fileName: "greet.ts",
  text: `import { uprobe, uretprobe, type u64 } from "tsbpf";
export const license = "GPL";
export const greet = uprobe("/bin/app", "greet", (name: u64, n: u64) => n);
export const f = uretprobe("/bin/app", "f", (ret: u64) => ret);`,
};

test("a firing refuses an option it does not take, naming the nearest and the options of that kind of firing", async () => {
  const sim = await simulate(UPROBES, { arch: "x86_64" });
  const p = sim.kernel.userString("bob");
  assert.throws(() => sim.uprobe("greet", { arg: [p, 5] } as never), isUsage(/^sim\.uprobe\(\) has no option arg \(did you mean args\?\); its options are args, regs, pid, tgid, uid, gid, cgroup, comm, cpu, stacks, program$/));
  assert.throws(() => sim.uprobe("greet", { ret: 5 } as never), isUsage(/^sim\.uprobe\(\) has no option ret \(only return probes take ret\); its options are args, /));
  assert.throws(() => sim.uretprobe("f", { retval: 5 } as never), isUsage(/^sim\.uretprobe\(\) has no option retval; its options are ret, regs, pid, /));
  assert.throws(() => sim.uretprobe("f", { args: [5] } as never), isUsage(/^sim\.uretprobe\(\) has no option args \(a return probe has no arguments: give its return value as ret\); its options are ret, /));
  assert.throws(() => sim.uprobe("greet", { stacks: { usr: [0x401000] } } as never), isUsage(/^sim\.uprobe\(\) option stacks has no key usr \(did you mean user\?\); its keys are kernel, user$/));
  assert.throws(() => sim.uprobe("greet", [1, 2] as never), isUsage(/^sim\.uprobe\(\)'s options must be an object, not an array of 2$/));
  assert.equal(sim.uprobe("greet", { args: [p, 5], pid: 3, stacks: { user: [0x401000] } }).r0, 5n);
  assert.equal(sim.uretprobe("f", { ret: 7 }).r0, 7n);
});

test("tracepoint, raw tracepoint, begin and run() firings check their options too", async () => {
  const text = `import { tracepoint, rawTracepoint, begin, type u64 } from "tsbpf";
export const license = "GPL";
export const t = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => 0);
export const r = rawTracepoint("sched_switch", () => 0);
export const b = begin(() => 0);`;
  const FORMAT = `name: sys_enter_unlinkat
ID: 884
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
`;
  const sim = await simulate({ fileName: "tp.ts", text }, { arch: "x86_64", tracepointFormats: { "syscalls/sys_enter_unlinkat": FORMAT } });
  assert.throws(() => sim.tracepoint("syscalls", "sys_enter_unlinkat", {}, { pidd: 3 } as never), isUsage(/^sim\.tracepoint\(\) has no option pidd \(did you mean pid\?\); its options are pid, tgid, uid, gid, cgroup, comm, cpu, stacks, program$/));
  assert.throws(() => sim.rawTracepoint("sched_switch", [], { args: [1] } as never), isUsage(/^sim\.rawTracepoint\(\) has no option args \(the arguments go in sim\.rawTracepoint\(name, args\)\); /));
  assert.throws(() => sim.begin({ cpus: 1 } as never), isUsage(/^sim\.begin\(\) has no option cpus \(did you mean cpu\?\)/));
  assert.throws(() => sim.run("b", new Uint8Array(8), { program: "t" } as never), isUsage(/^sim\.run\(\) has no option program; its options are pid, tgid, uid, gid, cgroup, comm, cpu, stacks$/));
  assert.equal(sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: 1 }, { pid: 3 }).r0, 0n);
});

test("a raw tracepoint given more or fewer arguments than its kernel prototype is refused, naming them", needsVmlinux, async () => {
  const text = `import { rawTracepoint, type u64 } from "tsbpf";
export const license = "GPL";
export const fork = rawTracepoint("sched_process_fork", (parent: u64, child: u64) => child);`;
  const sim = await simulate({ fileName: "fork.ts", text }, { arch: "x86_64" });
  const p = sim.kernel.alloc("task_struct", { pid: 10 });
  const args = /\(struct task_struct \*parent, struct task_struct \*child\)/.source;
  assert.throws(() => sim.rawTracepoint("sched_process_fork", [p]), isUsage(new RegExp(`^raw tracepoint sched_process_fork passes 2 arguments ${args}; 1 given$`)));
  assert.throws(() => sim.rawTracepoint("sched_process_fork", [p, p, 3]), isUsage(/passes 2 arguments .*; 3 given$/));
  assert.equal(sim.rawTracepoint("sched_process_fork", [p, 7]).r0, 7n);
});

test("a bool tracepoint field takes true, false, 0 or 1, as a boolean map value and global do", async () => {
  const text = `import { tracepoint } from "tsbpf";
export const license = "GPL";
export const exit = tracepoint("sched", "sched_process_exit", (ctx) => (ctx.group_dead ? 1 : 0));`;
  const sim = await simulate({ fileName: "exit.ts", text }, { arch: "x86_64", tracepointFormats: tracepointFormats("sched/sched_process_exit") });
  assert.throws(() => sim.tracepoint("sched", "sched_process_exit", { group_dead: 2 }), isUsage(/^sched:sched_process_exit field group_dead is of type bool: give it true or false, not 2$/));
  assert.throws(() => sim.tracepoint("sched", "sched_process_exit", { group_dead: "yes" }), isUsage(/^sched:sched_process_exit field group_dead is of type bool: give it true or false, not the string "yes"$/));
  assert.equal(sim.tracepoint("sched", "sched_process_exit", { group_dead: true }).r0, 1n);
  assert.equal(sim.tracepoint("sched", "sched_process_exit", { group_dead: 0 }).r0, 0n);
  assert.equal(sim.tracepoint("sched", "sched_process_exit", { group_dead: 1n }).r0, 1n);
});
