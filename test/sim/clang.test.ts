// The simulator on clang-compiled libbpf-style objects: BTF-defined maps (hash, per-CPU array, ring
// buffer, perf event array), globals in .rodata/.bss, CO-RE reads, the null map-value path, tracepoints
// without tracefs, a verifier rejection that says what the kernel says, and a tail call through a program
// array filled by `.values`, and an array of maps whose slots (from `.values` and from the test) give inner maps,
// checked against the running kernel.

import { readFileSync } from "node:fs";
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate, SimulationError } from "../../runtime/test/index.js";
import { Session, openMap } from "../../runtime/loader/index.js";
import { LoadError } from "../../runtime/loader/errors.js";
import { missingBpf, missingRoot } from "../../runtime/sys/index.js";
import { fixture, needsClang, hasVmlinux, UNLINKAT_FORMAT } from "./support.js";
import { compileC } from "../loader/support.js";

const needsBoth = { skip: needsClang.skip || (hasVmlinux ? false : "no /sys/kernel/btf/vmlinux (the fixture uses CO-RE)") };
const formats = { "syscalls/sys_enter_unlinkat": UNLINKAT_FORMAT };

interface Event {
  pid: number;
  dfd: number;
  comm: string;
  name: string;
}

function decodeEvent(b: Uint8Array): Event {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const str = (from: number, len: number): string => {
    const s = b.subarray(from, from + len);
    const nul = s.indexOf(0);
    return new TextDecoder().decode(nul < 0 ? s : s.subarray(0, nul));
  };
  return { pid: v.getUint32(0, true), dfd: v.getInt32(4, true), comm: str(8, 16), name: str(24, 32) };
}

test("clang object: maps, per-CPU values, globals, ring buffer and perf records", needsBoth, async () => {
  const sim = await simulate(fixture("counter"), { tracepointFormats: formats });
  const name = sim.kernel.alloc("filename", { name: "/tmp/a" });

  // First firing takes the null path of the lookup (no entry yet) and inserts 1.
  assert.equal(sim.kprobe("do_unlinkat", { args: [-100, name], pid: 42, comm: "rm", cpu: 1 }).r0, 0n);
  assert.deepEqual(sim.map("counts").toMap(), new Map([[42, 1n]]));
  sim.kprobe("do_unlinkat", { args: [-100, name], pid: 42, comm: "rm", cpu: 2 });
  sim.kprobe("do_unlinkat", { args: [3, name], pid: 43, comm: "unlink", cpu: 2 });
  sim.kretprobe("do_unlinkat", { ret: -2 });

  assert.deepEqual(sim.map("counts").toMap(), new Map([[42, 2n], [43, 1n]]));
  assert.equal(sim.map("counts").get(43), 1n);
  assert.equal(sim.map("counts").get(44), undefined);
  assert.deepEqual(sim.map("per_cpu").toArray(), [[0n, 1n, 2n, 0n]]);
  assert.equal(sim.global("total"), 3n);
  assert.equal(sim.global("last_ret"), -2n);
  assert.deepEqual(sim.trace(), ["unlink /tmp/a by rm: 7", "unlink /tmp/a by rm: 7", "unlink /tmp/a by unlink: 7", "unlink returned -2"]);

  assert.deepEqual(sim.events<Uint8Array>("events").map(decodeEvent), [
    { pid: 42, dfd: -100, comm: "rm", name: "/tmp/a" },
    { pid: 42, dfd: -100, comm: "rm", name: "/tmp/a" },
    { pid: 43, dfd: 3, comm: "unlink", name: "/tmp/a" },
  ]);
  assert.deepEqual(sim.events("events"), [], "events are taken by the first read");
  assert.deepEqual(
    sim.events<Uint8Array>("perf").map((b) => new DataView(b.buffer, b.byteOffset).getUint32(0, true)).sort(),
    [42, 42, 43],
  );
  const stats = sim.stats();
  assert.equal(stats.on_unlink?.runs, 3);
  assert.ok(stats.on_unlink!.maxInstructions > stats.on_unlink_ret!.maxInstructions);
});

test("clang object: globals set before load (a skeleton's rodata) and maps filled by the test", needsBoth, async () => {
  const sim = await simulate(fixture("counter"), { globals: { target_pid: 42 }, tracepointFormats: formats });
  const name = sim.kernel.alloc("filename", { name: "/tmp/b" });
  sim.map("counts").set(42, 10n);
  sim.kprobe("do_unlinkat", { args: [-100, name], pid: 7 }); // filtered out by target_pid
  sim.kprobe("do_unlinkat", { args: [-100, name], pid: 42 });
  assert.deepEqual(sim.map("counts").toMap(), new Map([[42, 11n]]));
  assert.equal(sim.global("target_pid"), 42);
  assert.equal(sim.trace().length, 1);
  // .rodata is frozen, as the loader freezes it.
  const rodata = sim.map(".rodata");
  assert.throws(() => rodata.set(0, new Uint8Array(rodata.map.valueSize)), /updating map \.rodata failed: EPERM \(the map is frozen/);
});

test("clang object: a tracepoint with a user-space string; tracefs absent and no layout is a clear error", needsBoth, async () => {
  const sim = await simulate(fixture("counter"), { tracepointFormats: formats });
  const path = sim.kernel.userString("/home/u/f.txt");
  sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: -100, pathname: path, flag: 0x200 });
  // A pointer that faults reads as an empty string, as bpf_probe_read_user_str makes it.
  sim.tracepoint("syscalls", "sys_enter_unlinkat", { pathname: sim.kernel.faulting(undefined, { user: true }) });
  assert.deepEqual(sim.trace(), ["unlinkat /home/u/f.txt flag=512", "unlinkat  flag=0"]);

  const bare = await simulate(fixture("counter"), { tracefs: "/nonexistent/tracing" });
  assert.throws(
    () => bare.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: 1 }),
    /tracepoint syscalls:sys_enter_unlinkat has no layout: tracefs is not mounted \(looked in \/nonexistent\/tracing\); pass its format with simulate\(\.\.\., \{ tracepointFormats/,
  );
});

test("a program the verifier rejects fails to load with the verifier's reason and its C line", needsClang, async () => {
  const object = fixture("rejected");
  const err = await simulate(object).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof SimulationError);
  assert.equal(err.kind, "verifier");
  assert.match(err.message, /^program no_null_check \(section tracepoint\/syscalls\/sys_enter_unlinkat\) was rejected by the verifier: instruction \d+ `r0 = \*\(u64 \*\)\(r0 \+0\)`: R0 invalid mem access 'map_value_or_null'/);
  assert.match(err.message, /\n  at .*rejected\.bpf\.c:17:\d+: return \*v;/);

  // Without the verifier the VM runs it, and the null dereference faults at the same line.
  const sim = await simulate(object, { verify: false, tracepointFormats: formats });
  assert.throws(() => sim.tracepoint("syscalls", "sys_enter_unlinkat"), /failed at instruction \d+ `r0 = \*\(u64 \*\)\(r0 \+0\)`: read of 8 bytes at 0x0: unmapped address\n  at .*rejected\.bpf\.c:17/);
});

test("the verifier's reason is the kernel's own", { skip: needsClang.skip || missingRoot() || missingBpf() || false }, async () => {
  const object = fixture("rejected");
  const session = new Session();
  let kernelReason: string | undefined;
  try {
    session.loadFile(object);
  } catch (e) {
    if (!(e instanceof LoadError)) throw e;
    kernelReason = e.reason;
  } finally {
    await session.close();
  }
  assert.ok(kernelReason, "the kernel accepted the program");
  const err = await simulate(object).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  assert.ok(err?.message.includes(kernelReason), `"${err?.message}" does not contain the kernel's "${kernelReason}"`);
});

test("clang object: a program array's .values slots are filled, so the tail call is taken as in the kernel", needsClang, async () => {
  const source = `#include "loader.h"
char LICENSE[] SEC("license") = "GPL";
SEC("socket") int tail_one(void *ctx) { return 42; }
struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 2); __type(key, __u32); __array(values, int (void *)); } jmp SEC(".maps") = { .values = { [1] = (void *)&tail_one } };
SEC("socket") int entry(void *ctx) { bpf_tail_call(ctx, &jmp, 1); return 7; }
`;
  const sim = await simulate(readFileSync(compileC("sim-tailcall", source)), { name: "tailcall" });
  assert.equal(sim.run("entry", new Uint8Array(64)).r0, 42n);
});

test("clang object: a global function is verified from its prototype, as the kernel does: its pointer argument may be NULL", needsClang, async () => {
  const source = (check: string) => `#include "loader.h"
char LICENSE[] SEC("license") = "GPL";
struct pair { int a; int b; };
__attribute__((noinline)) int sum(struct pair *p) { ${check} return p->a + p->b; }
SEC("socket") int entry(void *ctx) { struct pair p = { 40, 2 }; return sum(&p); }
`;
  const sim = await simulate(readFileSync(compileC("sim-global-checked", source("if (!p) return 0;"))), { name: "globalok" });
  assert.equal(sim.run("entry", new Uint8Array(64)).r0, 42n);
  const err = await simulate(readFileSync(compileC("sim-global-unchecked", source(""))), { name: "globalbad" }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof SimulationError);
  assert.equal(err.kind, "verifier");
  assert.match(err.message, /R1 invalid mem access 'mem_or_null'/);
});

// `count` looks up slot `slot` (a .bss global) of `outer` and counts in the inner map it finds: 2 when it
// counted, 0 when the slot is empty (NULL).
const MAP_OF_MAPS = `#include "loader.h"
char LICENSE[] SEC("license") = "GPL";
struct inner { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } in1 SEC(".maps"), in2 SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 3); __type(key, __u32); __array(values, struct inner); } outer SEC(".maps") = { .values = { &in1, &in2 } };
__u32 slot;
SEC("socket") int count(void *ctx)
{
	__u32 z = 0;
	void *m = bpf_map_lookup_elem(&outer, &slot);
	if (!m)
		return 0;
	__u64 *v = bpf_map_lookup_elem(m, &z);
	if (!v)
		return 1;
	__sync_fetch_and_add(v, 1);
	return 2;
}
`;

/** Runs `count` on slots 1, 0, 1, 2: the return values, then in1's and in2's counters. */
function countSlots(run: (slot: number) => number, counter: (inner: string) => bigint): [number[], bigint[]] {
  const r = [1, 0, 1, 2].map(run);
  return [r, [counter("in1"), counter("in2")]];
}

test("clang object: an array of maps' slots give their inner maps to the program, an empty slot gives NULL", needsClang, async () => {
  const object = readFileSync(compileC("sim-mapinmap", MAP_OF_MAPS));
  const sim = await simulate(object, { name: "mapinmap" });
  const run = (slot: number): number => {
    sim.map(".bss").set(0, slot);
    return Number(sim.run("count", new Uint8Array(64)).r0);
  };
  const counter = (name: string) => sim.map(name).get(0) as bigint;
  assert.deepEqual(countSlots(run, counter), [[2, 2, 2, 0], [1n, 2n]]);
  assert.deepEqual(sim.map("outer").toMap(), new Map([[0, "in1"], [1, "in2"]]));
  assert.equal(sim.map("outer").get(2), undefined);

  // Slots set by the test: a map by name or by its view; a deleted slot gives NULL again.
  sim.map("outer").set(2, "in1");
  assert.equal(run(2), 2);
  sim.map("outer").set(2, sim.map("in2"));
  assert.equal(run(2), 2);
  assert.equal(sim.map("outer").get(2), "in2");
  assert.equal(sim.map("outer").delete(0), true);
  assert.equal(run(0), 0);
  assert.deepEqual([counter("in1"), counter("in2")], [2n, 3n]);
  // Only maps shaped like the inner definition fit.
  assert.throws(() => sim.map("outer").set(0, "outer"), /updating map outer failed: .*map "outer" is itself a map of maps/);
  assert.throws(() => sim.map("outer").set(0, ".bss"), /key\/value sizes 4\/4, the inner maps' are 4\/8/);
  assert.throws(() => sim.map("outer").set(0, "nothing"), /no map nothing to put in it/);
  assert.throws(() => sim.map("outer").set(3, "in1"), /E2BIG/);
});

test("clang object: an array of maps counts in the same inner maps in the simulator and the kernel", { skip: needsClang.skip || missingRoot() || missingBpf() || false }, async () => {
  const object = readFileSync(compileC("sim-mapinmap", MAP_OF_MAPS));
  const sim = await simulate(object, { name: "mapinmap" });
  const simulated = countSlots(
    (slot) => {
      sim.map(".bss").set(0, slot);
      return Number(sim.run("count", new Uint8Array(64)).r0);
    },
    (name) => sim.map(name).get(0) as bigint,
  );
  const session = new Session();
  try {
    const obj = session.load(object, { name: "mapinmap" });
    const bss = openMap(obj, ".bss");
    const kernel = countSlots(
      (slot) => {
        bss.set(new Uint8Array(4), new Uint8Array(new Uint32Array([slot]).buffer));
        return obj.sys.progTestRun(obj.program("count").fd, { dataIn: new Uint8Array(64) }).retval;
      },
      (name) => BigInt(openMap(obj, name).get(0) as number | bigint),
    );
    assert.deepEqual(simulated, kernel);
  } finally {
    await session.close();
  }
});

const POISONED = (unguarded: boolean) => `#include "loader.h"
struct task_struct { int pid; int tsbpf_no_such_field; } __attribute__((preserve_access_index));
SEC("raw_tp/sys_enter") int guarded(void *ctx)
{
	struct task_struct *t = 0;
	if (__builtin_preserve_field_info(t->tsbpf_no_such_field, 2))
		return __builtin_preserve_field_info(t->tsbpf_no_such_field, 0);
	return 7 + __builtin_preserve_field_info(t->pid, 2);
}
${unguarded ? `SEC("raw_tp/sys_enter") int unguarded(void *ctx)
{
	struct task_struct *t = 0;
	return __builtin_preserve_field_info(t->tsbpf_no_such_field, 0);
}` : ""}
char LICENSE[] SEC("license") = "GPL";
`;

test("clang object: a CO-RE relocation the kernel lacks is poisoned where it cannot run, and faults, saying so, where it can", needsBoth, async () => {
  // (the whole object was refused: "helper unknown#195896080 is not supported by the VM")
  const guarded = await simulate(readFileSync(compileC("core-poison", POISONED(false))));
  assert.equal(guarded.run("guarded", new Uint8Array(8)).r0, 8n);
  // Reachable, the kernel's verifier (and the model) refuse it; run anyway, it is the VM's fault, in the C program's terms.
  const unguarded = await simulate(readFileSync(compileC("core-poison-reachable", POISONED(true))), { verify: false });
  await assert.rejects(
    async () => unguarded.run("unguarded", new Uint8Array(8)),
    (e: unknown) => e instanceof SimulationError && /the program reached a CO-RE relocation that failed \(a field, type or enum value the kernel's BTF lacks\)/.test(e.message),
  );
});

test("clang object: a weak kfunc the simulated kernel lacks is absent, as libbpf leaves one the kernel lacks (its guard skips the call)", needsClang, async () => {
  const source = `#include "loader.h"
extern int bpf_tsbpf_no_such_kfunc(int x) __attribute__((section(".ksyms"))) __attribute__((weak));
SEC("raw_tp/sys_enter") int weak_kfunc(void *ctx)
{
	if (bpf_tsbpf_no_such_kfunc)
		return bpf_tsbpf_no_such_kfunc(1);
	return 2;
}
char LICENSE[] SEC("license") = "GPL";
`;
  // (the object could not be loaded: "uses kfunc bpf_tsbpf_no_such_kfunc, which must be resolved against the running kernel")
  const sim = await simulate(readFileSync(compileC("weak-kfunc", source)));
  assert.equal(sim.run("weak_kfunc", new Uint8Array(8)).r0, 2n);
});

test("clang object: a program calling a kfunc the simulated kernel lacks cannot run, and says so; the object's other programs still run", needsClang, async () => {
  const source = `#include "loader.h"
struct task_struct;
extern struct task_struct *bpf_task_from_pid(int pid) __attribute__((section(".ksyms")));
extern void bpf_task_release(struct task_struct *p) __attribute__((section(".ksyms")));
SEC("raw_tp/sys_enter") int plain(void *ctx) { return 5; }
SEC("raw_tp/sys_enter") int with_kfunc(void *ctx)
{
	struct task_struct *t = bpf_task_from_pid(1);
	if (t)
		bpf_task_release(t);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;
  // (the whole object was refused: "uses kfunc bpf_task_from_pid, which must be resolved against the running kernel")
  const sim = await simulate(readFileSync(compileC("strong-kfunc", source)));
  assert.deepEqual(sim.programs.map((p) => p.name), ["plain", "with_kfunc"]);
  assert.equal(sim.run("plain", new Uint8Array(8)).r0, 5n);
  assert.throws(
    () => sim.run("with_kfunc", new Uint8Array(8)),
    (e: unknown) => e instanceof SimulationError && e.message === "program with_kfunc (section raw_tp/sys_enter) cannot run in the simulator: it uses kfunc bpf_task_from_pid, which the simulated kernel does not have",
  );
  // A firing of the probe point both programs are on cannot be a partial one.
  assert.throws(() => sim.rawTracepoint("sys_enter"), /program with_kfunc \(section raw_tp\/sys_enter\) cannot run in the simulator/);
});

const READONLY = (format: string) => `#include "loader.h"
static long (*bpf_snprintf)(char *str, __u32 str_size, const char *fmt, __u64 *data, __u32 data_len) = (void *)165;
const volatile int limit = 4;
char out[16];
SEC("raw_tp/sys_enter") int prog(void *ctx)
{
	__u64 args[1] = { 7 };
	/* Only a verifier that reads the frozen .rodata knows this branch is dead. */
	if (limit > 8)
		return *(int *)(long)limit;
	return bpf_snprintf(out, sizeof(out), "${format}", args, sizeof(args));
}
char LICENSE[] SEC("license") = "GPL";
`;

test("clang object: the verifier model reads the frozen .rodata as the kernel's does, pruning a dead branch and checking bpf_snprintf's format at load", needsClang, async () => {
  const ok = await simulate(readFileSync(compileC("rodata-known", READONLY("%d|"))));
  assert.equal(ok.run("prog", new Uint8Array(8)).r0, 3n);
  assert.equal(ok.global("out"), "7|");
  // The kernel refuses a precision on %s (and flags, %h, %z) when it loads the program: bpf_snprintf's checks at run time never see it.
  await assert.rejects(
    simulate(readFileSync(compileC("rodata-format", READONLY("%.2d|")))),
    (e: unknown) => e instanceof SimulationError && e.kind === "verifier" && /Invalid format string/.test(e.message),
  );
  if (missingRoot() ?? missingBpf()) return;
  // The kernel agrees on both.
  const session = new Session();
  try {
    session.load(readFileSync(compileC("rodata-known", READONLY("%d|"))), { name: "rodata_known" });
    assert.throws(() => session.load(readFileSync(compileC("rodata-format", READONLY("%.2d|"))), { name: "rodata_format" }), (e: unknown) => e instanceof LoadError && /Invalid format string/.test(e.message));
  } finally {
    await session.close();
  }
});

test("clang object: bpf_get_current_task_btf() gives the current task, whose members the program reads directly", needsBoth, async () => {
  const text = `#include "loader.h"
struct task_struct { int pid; int tgid; } __attribute__((preserve_access_index));
SEC("raw_tp/sys_enter") int prog(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	return t->tgid;
}
char LICENSE[] SEC("license") = "GPL";
`;
  const bytes = readFileSync(compileC("current-task-btf", text));
  const sim = await simulate(bytes);
  // Before a task is placed its reads fail as the kernel's probe reads do, giving 0, not a fault.
  assert.equal(sim.run("prog", new Uint8Array(8)).r0, 0n);
  sim.kernel.currentTask = sim.kernel.alloc("task_struct", { pid: 41, tgid: 40 });
  assert.equal(sim.run("prog", new Uint8Array(8)).r0, 40n);
  if (missingRoot() ?? missingBpf()) return;
  // The kernel runs it in this process: its tgid is ours.
  const session = new Session();
  try {
    const obj = session.load(bytes, { name: "task_btf" });
    assert.equal(obj.sys.progTestRun(obj.program("prog").fd, { ctxIn: new Uint8Array(8), ctxSizeOut: 0, repeat: 0 }).retval, process.pid);
  } finally {
    await session.close();
  }
});
