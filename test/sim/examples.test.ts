// The simulator on the TypeScript examples: the DESIGN.md unlink kprobe/kretprobe test with a
// simulated struct filename, the tracepoint example with field values, the simulated kernel's task,
// clock, CPUs and memory helpers, and what the test sees when something goes wrong (tracefs it may not read included).

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { simulate, SimulationError, ptRegs, parseFormat, tracepointRecord } from "../../runtime/test/index.js";
import { needsVmlinux, OPENAT_FORMAT, UNLINKAT_FORMAT } from "./support.js";

const formats = { "syscalls/sys_enter_unlinkat": UNLINKAT_FORMAT };

test("DESIGN.md: the unlink kprobe prints the pid and the simulated filename", needsVmlinux, async () => {
  const sim = await simulate("examples/unlink.ts");
  const name = sim.kernel.alloc("filename", { name: sim.kernel.string("/tmp/x") });
  sim.kprobe("do_unlinkat", { args: [-100, name], pid: 42 });
  assert.deepEqual(sim.trace(), ["KPROBE ENTRY pid = 42, filename = /tmp/x"]);

  // The task stays current: the return probe sees the same pid.
  const exit = sim.kretprobe("do_unlinkat", { ret: -2 });
  assert.equal(exit.r0, 0n);
  assert.deepEqual(sim.trace().at(-1), "KPROBE EXIT: pid = 42, ret = -2");
  assert.deepEqual(
    sim.runs.map((r) => r.program),
    ["do_unlinkat", "do_unlinkat_exit"],
  );
  assert.ok(sim.runs.every((r) => r.instructions > 0));
});

test("a string given for a char * member is placed in kernel memory beside the struct", needsVmlinux, async () => {
  const sim = await simulate("examples/unlink.ts", { tier: "compiled" });
  const name = sim.kernel.alloc("filename", { name: "/etc/passwd", refcnt: { counter: 1 } });
  assert.equal((name.read() as { refcnt: { counter: number } }).refcnt.counter, 1);
  assert.equal(name.field("refcnt.counter").read(), 1);
  for (const pid of [1, 2, 3]) sim.kprobe("do_unlinkat", { args: [-100, name], pid, comm: "rm" });
  assert.deepEqual(sim.trace(), [1, 2, 3].map((pid) => `KPROBE ENTRY pid = ${pid}, filename = /etc/passwd`));
  assert.deepEqual(sim.stats().do_unlinkat?.runs, 3);
});

test("faulting kernel pointers: probe reads fail as in the kernel, the program goes on", needsVmlinux, async () => {
  const sim = await simulate("examples/unlink.ts");
  // The struct itself is unreadable: filename->name reads as 0, and %s of it prints nothing.
  sim.kprobe("do_unlinkat", { args: [-100, sim.kernel.faulting("filename")], pid: 7 });
  // The struct is fine but the string it points to is not.
  sim.kprobe("do_unlinkat", { args: [-100, sim.kernel.alloc("filename", { name: sim.kernel.faulting() })], pid: 7 });
  // Memory that goes away after it was set up.
  const gone = sim.kernel.alloc("filename", { name: "/tmp/gone" });
  sim.kernel.markFaulting(gone);
  sim.kprobe("do_unlinkat", { args: [-100, gone], pid: 7 });
  assert.deepEqual(sim.trace(), Array(3).fill("KPROBE ENTRY pid = 7, filename = "));
});

test("the tracepoint example: fields laid out per the format file, comm and pid from the task", async () => {
  const sim = await simulate("examples/unlink-tracepoint.ts", { tracepointFormats: formats });
  const path = sim.kernel.userString("/tmp/y");
  const r = sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: -100, pathname: path, flag: 0x200 }, { pid: 77, comm: "rm" });
  assert.equal(r.r0, 0n);
  assert.deepEqual(sim.trace(), ["unlinkat by rm pid = 77, dfd = -100, flags = 512"]);
  assert.match(sim.tracePipe()[0]!, /^\s+rm-77\s+\[000\] .+ bpf_trace_printk: unlinkat by rm pid = 77/);
  // One trace_pipe line per message, as the kernel ends each event with a newline.
  sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: 3, pathname: path, flag: 0 }, { pid: 78, comm: "rm" });
  assert.deepEqual(sim.tracePipe().map((l) => l.replace(/^.*bpf_trace_printk: /, "")), sim.trace());
});

test("opensnoop's ring buffer records arrive as OpenEvent objects, decoded as tsbpf run decodes them", async () => {
  const sim = await simulate("examples/opensnoop.ts", { tracepointFormats: { "syscalls/sys_enter_openat": OPENAT_FORMAT } });
  const filename = sim.kernel.userString("/etc/passwd");
  sim.tracepoint("syscalls", "sys_enter_openat", { dfd: -100, filename, flags: 0x80000 }, { pid: 31, tgid: 30, comm: "cat", uid: 1000 });
  sim.tracepoint("syscalls", "sys_enter_openat", { dfd: -100, filename: sim.kernel.faulting(undefined, { user: true }), flags: 0 }, { pid: 32, comm: "ls", uid: 0 });
  assert.deepEqual(sim.events("events"), [
    { pid: 30, uid: 1000, flags: 0x80000, comm: "cat", filename: "/etc/passwd" },
    // A filename the kernel cannot read leaves the field as reserve() zeroed it.
    { pid: 32, uid: 0, flags: 0, comm: "ls", filename: "" },
  ]);
  assert.deepEqual(sim.events("events"), [], "reading takes the records");
  sim.tracepoint("syscalls", "sys_enter_openat", { dfd: 3, filename, flags: 0 });
  assert.equal(sim.rawEvents("events")[0]!.length, 4 + 4 + 4 + 16 + 128, "rawEvents gives the record's bytes");
});

test("map values decode as events do: a Str is a string, an Arr<u8, N> stays numbers", async () => {
  const text = `import { kprobe, HashMap, RingBuf, type u8, type u32, type Str, type Arr } from "tsbpf";
export const license = "GPL";
interface V { name: Str<4>; bytes: Arr<u8, 3> }
export const m = new HashMap<u32, V>(4);
export const events = new RingBuf<V>(4096);
export const p = kprobe("f", () => { const v = m.lookup(1); if (v !== null) events.output(v); return 0; });
`;
  const sim = await simulate({ fileName: "bytes.ts", text });
  sim.map("m").set(1, { name: "ab", bytes: [97, 98, 0] });
  sim.kprobe("f");
  assert.deepEqual(sim.map("m").get(1), { name: "ab", bytes: [97, 98, 0] });
  assert.deepEqual(sim.events("events"), [{ name: "ab", bytes: [97, 98, 0] }]);
});

test("the tracepoint format comes from tracefs when it is mounted", { skip: process.getuid?.() === 0 ? false : "tracefs needs root" }, async () => {
  const sim = await simulate("examples/unlink-tracepoint.ts");
  sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: 3, flag: 0 }, { pid: 5, comm: "x" });
  assert.deepEqual(sim.trace(), ["unlinkat by x pid = 5, dfd = 3, flags = 0"]);
});

test("a user who may not read tracefs is told so, and how a test gives the format instead", { skip: process.getuid?.() === 0 ? false : "needs root to run a child as another user" }, () => {
  // A tracefs root only root may list, as /sys/kernel/tracing is (mode 0700); the child runs as nobody.
  const tracefs = mkdtempSync(join(tmpdir(), "tsbpf-tracefs-"));
  try {
    mkdirSync(join(tracefs, "events"));
    chmodSync(tracefs, 0o700);
    const text = 'import { tracepoint } from "tsbpf";\nexport const license = "GPL";\nexport const t = tracepoint("syscalls", "sys_enter_unlinkat", () => 0);\n';
    const code = `const { simulate } = await import("./runtime/test/index.ts");
await simulate({ fileName: "tp.ts", text: ${JSON.stringify(text)} }, { tracefs: ${JSON.stringify(tracefs)} }).catch((e) => console.log(e.message));`;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { encoding: "utf8", cwd: fileURLToPath(new URL("../../", import.meta.url)), uid: 65534, gid: 65534, env: { ...process.env, HOME: tmpdir() } });
    assert.match(child.stdout, new RegExp(`TSBPF1026: cannot read the format of tracepoint syscalls:sys_enter_unlinkat: ${tracefs} is readable only by root`), child.stderr);
    assert.match(child.stdout, /Pass the formats with simulate\(\.\.\., \{ tracepointFormats: \{ "group\/name": text \} \}\)/);
  } finally {
    rmSync(tracefs, { recursive: true, force: true });
  }
});

test("task, clock and CPUs are the test's to set", async () => {
  const text = `import { kprobe, printk, pidTgid, uidGid, ktimeNs, smpProcessorId, comm } from "tsbpf";
export const license = "GPL";
export const who = kprobe("vfs_read", () => {
  printk(\`\${pidTgid() >> 32} \${pidTgid() & 0xffffffff} \${uidGid() & 0xffffffff} \${comm()} \${smpProcessorId()}\`);
  return ktimeNs();
});`;
  const sim = await simulate({ fileName: "who.ts", text }, { cpus: 2, time: 5_000n, task: { pid: 10, tgid: 9, uid: 1000, comm: "init" } });
  assert.equal(sim.kprobe("vfs_read").r0, 5_000n);
  sim.kernel.advance(1_500);
  assert.equal(sim.kprobe("vfs_read", { cpu: 1, uid: 0, pid: 11, tgid: 9, comm: "a-very-long-command-name" }).r0, 6_500n);
  assert.deepEqual(sim.trace(), ["9 10 1000 init 0", "9 11 0 a-very-long-com 1"]);
  assert.throws(() => sim.kprobe("vfs_read", { cpu: 2 }), /CPU 2 is outside 0..1/);
});

test("kprobe arguments land in the ABI's registers of pt_regs (x86-64 and arm64)", () => {
  const x86 = new DataView(ptRegs("x86_64", { args: [1, -1, 3n], ret: 7, regs: { ip: 0x1000 } }).buffer);
  assert.equal(x86.getBigUint64(112, true), 1n); // di
  assert.equal(x86.getBigUint64(104, true), 0xffffffffffffffffn); // si
  assert.equal(x86.getBigUint64(96, true), 3n); // dx
  assert.equal(x86.getBigUint64(80, true), 7n); // ax
  assert.equal(x86.getBigUint64(128, true), 0x1000n); // ip
  const arm = new DataView(ptRegs("arm64", { args: [1, 2, 3, 4, 5, 6, 7, 8] }).buffer);
  assert.deepEqual([0, 1, 7].map((i) => arm.getBigUint64(i * 8, true)), [1n, 2n, 8n]);
  assert.throws(() => ptRegs("x86_64", { args: [1, 2, 3, 4, 5, 6, 7] }), /passes 6 arguments in registers/);
  assert.throws(() => ptRegs("x86_64", { regs: { rip: 1 } }), /has no register rip/);
});

test("tracepoint records: common fields, char arrays and __data_loc strings", () => {
  const layout = parseFormat("sched", "x", `name: x
ID: 42
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;
	field:char comm[16];	offset:8;	size:16;	signed:0;
	field:__data_loc char[] name;	offset:24;	size:4;	signed:0;
	field:long v;	offset:32;	size:8;	signed:1;
`);
  const rec = tracepointRecord(layout, { comm: "bash", name: "abc", v: -2 }, { pid: 9 });
  const view = new DataView(rec.buffer);
  assert.equal(view.getUint16(0, true), 42);
  assert.equal(view.getInt32(4, true), 9);
  assert.equal(new TextDecoder().decode(rec.subarray(8, 12)), "bash");
  assert.equal(view.getUint32(24, true), (4 << 16) | 40);
  assert.equal(new TextDecoder().decode(rec.subarray(40, 43)), "abc");
  assert.equal(view.getBigInt64(32, true), -2n);
  assert.throws(() => tracepointRecord(layout, { nope: 1 }, { pid: 1 }), /has no field nope \(fields: comm, name, v\)/);
});

test("mistakes are clear messages: unknown probe, type, member; a program that runs too long shows its TypeScript line", needsVmlinux, async () => {
  const sim = await simulate("examples/unlink.ts", { budget: 5 });
  assert.throws(() => sim.kprobe("vfs_read"), /no kprobe on vfs_read in the object; its programs: do_unlinkat \(kprobe\/do_unlinkat\)/);
  assert.throws(() => sim.kernel.alloc("filename", { nmae: "x" }), /struct filename has no member nmae \(members: name,/);
  assert.throws(() => sim.kernel.alloc("no_such_struct_here"), /no type no_such_struct_here in kernel BTF/);
  const err = (() => {
    try {
      sim.kprobe("do_unlinkat", { args: [0, sim.kernel.alloc("filename")] });
    } catch (e) {
      return e;
    }
  })();
  assert.ok(err instanceof SimulationError);
  assert.equal(err.kind, "fault");
  assert.match(err.message, /program do_unlinkat \(section kprobe\/do_unlinkat\) failed at instruction \d+ `.+`: instruction budget of 5 exhausted/);
  assert.match(err.message, /\n  at examples\/unlink\.ts:9:\d+: printk\(`KPROBE ENTRY/);
  assert.equal(err.source?.split(":").slice(0, 2).join(":"), "examples/unlink.ts:9");
});

test("a probe that does not compile fails with the compiler's diagnostics", async () => {
  const text = `import { kprobe } from "tsbpf";\nexport const license = "GPL";\nexport const p = kprobe("f", () => { for (;;) {} });\n`;
  await assert.rejects(simulate({ fileName: "bad.ts", text }), (e: unknown) => e instanceof SimulationError && e.kind === "compile" && /bad\.ts:3:\d+ - error TSBPF/.test(e.message));
});

test("the uprobe example: libc's unlinkat by function or binary:function", async () => {
  const sim = await simulate("examples/unlink-uprobe.ts");
  const path = sim.kernel.userString("/tmp/z");
  sim.uprobe("unlinkat", { args: [-100, path, 0x200], pid: 9 });
  sim.uprobe("libc.so.6:unlinkat", { args: [3, path, 0] });
  assert.deepEqual(sim.trace(), ["UPROBE unlinkat pid = 9, dfd = -100, flags = 512", "UPROBE unlinkat pid = 9, dfd = 3, flags = 0"]);
  assert.throws(() => sim.uretprobe("unlinkat"), /no uretprobe on unlinkat in the object/);
  // The binary alone, as the probe's declaration writes it first: the message shows how to name the function.
  assert.throws(() => sim.uprobe("libc.so.6"), /no uprobe on libc\.so\.6 \(a binary: name the function, "libc\.so\.6:unlinkat" or "unlinkat"\)/);
});

test("compiled for arm64, the uprobe example reads its arguments from x0..x2 of arm64's pt_regs", async () => {
  const sim = await simulate("examples/unlink-uprobe.ts", { arch: "arm64" });
  sim.uprobe("unlinkat", { args: [-100, sim.kernel.userString("/tmp/z"), 0x200], pid: 9 });
  assert.deepEqual(sim.trace(), ["UPROBE unlinkat pid = 9, dfd = -100, flags = 512"]);
  // The same object fired with x86-64's layout reads other registers: the layouts really differ.
  const x86 = await simulate("examples/unlink-uprobe.ts", { arch: "x86_64" });
  x86.uprobe("unlinkat", { args: [-100, 0n, 0x200], pid: 9 });
  assert.deepEqual(x86.trace(), ["UPROBE unlinkat pid = 9, dfd = -100, flags = 512"]);
  const crossed = await simulate(await readFileAsObject("arm64"), { arch: "x86_64" });
  crossed.uprobe("unlinkat", { args: [-100, 0n, 0x200], pid: 9 });
  assert.notDeepEqual(crossed.trace(), x86.trace());
});

async function readFileAsObject(arch: string): Promise<Uint8Array> {
  const { compile } = await import("../../compiler/index.js");
  const result = compile("examples/unlink-uprobe.ts", { arch });
  assert.deepEqual(result.diagnostics, []);
  return result.object;
}

test("firing options switch the task only as setTask would: a new pid alone makes tgid = pid, other fields keep it", async () => {
  const sim = await simulate("examples/unlink-uprobe.ts");
  const fire = (options: object) => sim.uprobe("unlinkat", { args: [1, 0, 0], ...options });
  fire({ pid: 10, tgid: 9 });
  fire({}); // the same task again
  fire({ comm: "other" });
  fire({ pid: 10 }); // still thread 10 of process 9
  fire({ pid: 11 }); // a single-threaded process 11, named as the task it replaced
  assert.deepEqual(sim.trace().map((l) => /pid = (\d+)/.exec(l)![1]), ["9", "9", "9", "9", "11"]);
  assert.deepEqual([sim.kernel.pid, sim.kernel.tgid, sim.kernel.comm], [11, 11, "other"]);
});

test("a task switched back to is the task it was: a return probe fired with its pid alone sees its tgid, comm, uid, cgroup and task_struct", async () => {
  const text = `import { uprobe, uretprobe, pidTgid, uidGid, cgroupId, comm, currentTask, RingBuf, type u64, type Str } from "tsbpf";
export const license = "GPL";
interface Seen { pidTgid: u64; uidGid: u64; cgroup: u64; task: u64; comm: Str<16> }
export const seen = new RingBuf<Seen>(4096);
const note = () => { seen.output({ pidTgid: pidTgid(), uidGid: uidGid(), cgroup: cgroupId(), task: currentTask() as u64, comm: comm() }); };
export const enter = uprobe("/bin/app", "work", () => note());
export const leave = uretprobe("/bin/app", "work", () => note());`;
  const sim = await simulate({ fileName: "tasks.ts", text });
  sim.uprobe("work", { pid: 10, tgid: 9, comm: "curl", uid: 1000, gid: 100, cgroup: 7 });
  const curlTask = sim.kernel.alloc("task_struct", { pid: 10 });
  sim.kernel.currentTask = curlTask;
  sim.uprobe("work", { pid: 21, tgid: 20, comm: "wget" }); // a new task: uid, gid, cgroup and task_struct as the one it replaced
  sim.kernel.currentTask = 0n;
  sim.uretprobe("work", { pid: 10 });
  sim.uretprobe("work", { pid: 21 });
  const pair = (hi: number, lo: number) => (BigInt(hi) << 32n) | BigInt(lo);
  const seenBy = (tgid: number, pid: number, comm: string, uid: number, gid: number, cgroup: number, task: bigint) => ({ pidTgid: Number(pair(tgid, pid)), uidGid: Number(pair(gid, uid)), cgroup, task: task < 2n ** 53n ? Number(task) : task, comm }); // an 8-byte field past 53 bits is a bigint
  const curl = curlTask.address;
  assert.deepEqual(sim.events("seen"), [
    seenBy(9, 10, "curl", 1000, 100, 7, 0n),
    seenBy(20, 21, "wget", 1000, 100, 7, curl),
    seenBy(9, 10, "curl", 1000, 100, 7, curl),
    seenBy(20, 21, "wget", 1000, 100, 7, 0n),
  ]);
});

test("tracepoint records: integer fields of each width from numbers, bigints and pointers, little-endian", () => {
  const layout = parseFormat("g", "ints", `name: ints
ID: 7
format:
	field:unsigned char a;	offset:8;	size:1;	signed:0;
	field:short b;	offset:10;	size:2;	signed:1;
	field:unsigned int c;	offset:12;	size:4;	signed:0;
	field:u64 d;	offset:16;	size:8;	signed:0;
	field:void * e;	offset:24;	size:8;	signed:0;
`);
  const pointer = { address: 0x1234_5678_9abc_def0n }; // anything with an address, as a Pointer has
  const rec = tracepointRecord(layout, { a: 0xff, b: -2, c: 0xdeadbeef, d: (1n << 63n) + 5n, e: pointer }, { pid: 3 });
  const view = new DataView(rec.buffer);
  assert.deepEqual(
    [view.getUint8(8), view.getInt16(10, true), view.getUint32(12, true), view.getBigUint64(16, true), view.getBigUint64(24, true)],
    [0xff, -2, 0xdeadbeef, (1n << 63n) + 5n, 0x1234_5678_9abc_def0n],
  );
  assert.equal(rec.length, 32, "no __data_loc data: the record is the fixed part");
  assert.throws(() => tracepointRecord(layout, { d: 1.5 }, { pid: 3 }), /g:ints field d: 1\.5 is not an integer/);
  // A value its field cannot hold is refused, not cut to its low bytes; -1 in an unsigned field is all ones, as in C.
  assert.throws(() => tracepointRecord(layout, { a: 0x1ff }, { pid: 3 }), /g:ints field a: 511 does not fit in 1 byte/);
  assert.throws(() => tracepointRecord(layout, { c: 2 ** 40 + 3 }, { pid: 3 }), /g:ints field c: 1099511627779 does not fit in 4 bytes/);
  assert.equal(new DataView(tracepointRecord(layout, { c: -1 }, { pid: 3 }).buffer).getUint32(12, true), 0xffffffff);
});

test("kprobe contexts: a firing after a retprobe or a tracepoint sees only its own registers", async () => {
  const text = `import { kprobe, kretprobe, type u64 } from "tsbpf";
export const license = "GPL";
export const sum = kprobe("f", (a: u64, b: u64, c: u64) => a + b + c);
export const ret = kretprobe("f", (r: u64) => r);`;
  const sim = await simulate({ fileName: "regs.ts", text }, { arch: "x86_64" });
  assert.equal(sim.kprobe("f", { args: [1, 2, 3] }).r0, 6n);
  assert.equal(sim.kprobe("f", { args: [1, 2, 3] }).r0, 6n, "the same arguments again");
  assert.equal(sim.kprobe("f", { args: [1, 2] }).r0, 3n, "a missing argument is zero");
  assert.equal(sim.kretprobe("f", { ret: 7 }).r0, 7n);
  assert.equal(sim.kprobe("f", { args: [1, 2] }).r0, 3n, "ax of the return probe is gone");
  assert.equal(sim.run("sum", new Uint8Array(168).fill(1)).r0, 0x0101010101010101n * 3n);
  assert.equal(sim.kprobe("f", { args: [1, 2] }).r0, 3n, "a context of the same size written by run() is replaced");
});

/** Asserts that `act` fails with a usage SimulationError whose message matches `message` (not a TypeError from inside). */
async function assertUsage(act: () => unknown, message: RegExp): Promise<void> {
  await assert.rejects(
    async () => act(),
    (e: unknown) => e instanceof SimulationError && e.kind === "usage" && message.test(e.message),
  );
}

test("a test's wrong values for simulate() and its options are usage errors that say what to pass", async () => {
  await assertUsage(() => simulate(42 as never), /simulate\(\) takes a probe file's path, a compiled object's bytes .* not 42/);
  await assertUsage(() => simulate({ fileName: "x.ts" } as never), /\{ fileName, text \} with both strings, not an object/);
  const probe = { fileName: "tp.ts", text: 'import { tracepoint } from "tsbpf";\nexport const license = "GPL";\nexport const t = tracepoint("syscalls", "sys_enter_unlinkat", () => 0);' };
  const options = { tracepointFormats: formats };
  await assertUsage(() => simulate(probe, { ...options, cpus: 0 }), /option cpus must be an integer from 1 to 1024, not 0/);
  await assertUsage(() => simulate(probe, { ...options, tier: "fast" as never }), /option tier must be "auto", "interpreter", "compiled", not "fast"/);
  await assertUsage(() => simulate(probe, { ...options, arch: "mips" as never }), /option arch must be "x86_64", "arm64", not "mips"/);
  await assertUsage(() => simulate(probe, { ...options, time: "soon" as never }), /option time must be a whole number of nanoseconds/);
  await assertUsage(() => simulate(probe, { ...options, budget: -1 }), /option budget must be an integer from 1/);
  await assertUsage(() => simulate(probe, { ...options, task: { pid: -1 } }), /option task\.pid must be an integer from 0 to 4294967295, not -1/);
});

test("a test's wrong values for firings and the simulated kernel are usage errors, not TypeErrors", async () => {
  const text = 'import { kprobe, type u64 } from "tsbpf";\nexport const license = "GPL";\nexport const f = kprobe("f", (a: u64) => a);';
  const sim = await simulate({ fileName: "k.ts", text }, { arch: "x86_64" });
  await assertUsage(() => sim.kprobe("f", { args: 5 as never }), /args must be an array of the probed function's arguments, not 5/);
  await assertUsage(() => sim.kprobe("f", { args: [2 ** 70] }), /argument 1: .* is past 2\^53, where numbers are not exact; pass a bigint/);
  await assertUsage(() => sim.kprobe("f", { args: [1n << 64n] }), /argument 1: 18446744073709551616n does not fit in 64 bits/);
  await assertUsage(() => sim.kprobe("f", { pid: "init" as never }), /task\.pid must be an integer/);
  await assertUsage(() => sim.kprobe("f", { cpu: 7 }), /CPU 7 is outside 0\.\.3/);
  await assertUsage(() => sim.run("f", "bytes" as never), /the context of program f must be a Uint8Array/);
  await assertUsage(() => sim.kernel.setTime("later" as never), /setTime\(\)'s time must be a whole number of nanoseconds/);
  await assertUsage(() => sim.kernel.advance(-1), /advance\(\)'s step must be a whole number of nanoseconds, at least 0/);
  await assertUsage(() => sim.kernel.string(5 as never), /string\(\) takes a string, not 5/);
  await assertUsage(() => sim.kernel.bytes("x" as never), /bytes\(\) takes a Uint8Array, not "x"/);
  await assertUsage(() => sim.kernel.alloc(5 as never), /a type is named by a string such as "task_struct", not 5/);
  await assertUsage(() => sim.kernel.alloc("no_such_type", {}, { extra: 2 ** 40 }), /alloc\(\)'s extra bytes must be an integer from 0 to 1073741824/);
  const page = sim.kernel.bytes(new Uint8Array(8));
  await assertUsage(() => sim.kernel.read(page, -1), /read\(\)'s size must be an integer from 0/);
  await assertUsage(() => sim.kernel.read(5 as never, 4), /read\(\) takes a Pointer or a bigint address, not 5/);
  await assertUsage(() => sim.kernel.write(page, "abc" as never), /write\(\) takes a Uint8Array of bytes, not "abc"/);
  await assertUsage(() => sim.kernel.markFaulting(5 as never), /markFaulting\(\) takes a Pointer or a bigint address/);
  assert.equal(sim.kprobe("f", { args: [(1n << 64n) - 1n] }).r0, (1n << 64n) - 1n, "every 64-bit value still passes");
});

test("a __data_loc string longer than the field's 16-bit length is refused, not wrapped", () => {
  const layout = parseFormat("g", "loc", "name: loc\nID: 9\nformat:\n\tfield:__data_loc char[] s;\toffset:8;\tsize:4;\tsigned:0;\n");
  assert.throws(() => tracepointRecord(layout, { s: "x".repeat(0x10000) }, { pid: 1 }), (e: unknown) => e instanceof SimulationError && /65537 bytes at offset 12 do not fit a __data_loc field/.test(e.message));
  assert.equal(tracepointRecord(layout, { s: "x".repeat(100) }, { pid: 1 }).length, 12 + 101);
});

test("a global or map value the type cannot hold is refused, not cut to its low bytes", async () => {
  const text = `import { kprobe, printf, HashMap, type u8, type u16, type u32 } from "tsbpf";
export const license = "GPL";
let small: u8 = 1;
export const m = new HashMap<u32, u16>(8);
export const k = kprobe("f", () => { printf("%u\\n", small); });`;
  await assert.rejects(simulate({ fileName: "r.ts", text }, { arch: "x86_64", globals: { small: 300 } }), /small: 300 does not fit in 1 byte/);
  const sim = await simulate({ fileName: "r.ts", text }, { arch: "x86_64", globals: { small: 255 } });
  sim.kprobe("f", { args: [] });
  assert.equal(sim.output(), "255\n");
  assert.throws(() => sim.map("m").set(2 ** 33 + 7, 1), /does not fit in 4 bytes/);
  assert.throws(() => sim.map("m").set(7, 70000), /does not fit in 2 bytes/);
});

test("with targetPid, uprobes, uretprobes and USDT probes fire only in the target's process, as tsbpf run attaches them; kprobes everywhere", async () => {
  const text = `import { uprobe, uretprobe, usdt, kprobe, ArrayMap, type u64 } from "tsbpf";
export const license = "GPL";
export const hits = new ArrayMap<u64>(4);
export const u = uprobe("/bin/app", "work", () => { hits.increment(0); return 1; });
export const ur = uretprobe("/bin/app", "work", () => { hits.increment(1); return 2; });
export const us = usdt("/bin/app", "app", "tick", () => { hits.increment(2); return 3; });
export const k = kprobe("vfs_read", () => { hits.increment(3); return 4; });`;
  const sim = await simulate({ fileName: "target.ts", text }, { targetPid: 50 });
  const fire = (task: { pid: number; tgid?: number }) => [sim.uprobe("work", task), sim.uretprobe("work", task), sim.usdt("app:tick", task), sim.kprobe("vfs_read", task)].map((r) => [r.runs.length, r.r0]);
  assert.deepEqual(fire({ pid: 51, tgid: 50 }), [[1, 1n], [1, 2n], [1, 3n], [1, 4n]], "a thread of the target");
  assert.deepEqual(fire({ pid: 60 }), [[0, 0n], [0, 0n], [0, 0n], [1, 4n]], "another process: only the kprobe runs");
  assert.deepEqual(sim.map("hits").toArray(), [1n, 1n, 1n, 2n]);
  const untargeted = await simulate({ fileName: "target.ts", text });
  untargeted.uprobe("work", { pid: 60 });
  assert.deepEqual(untargeted.map("hits").toArray(), [1n, 0n, 0n, 0n], "without a target every process fires");
});
