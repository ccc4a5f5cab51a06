// Values a test gives the simulator: a per-CPU map's set() takes one value per CPU (numbers of a tsbpf probe's
// PerCpuArrayMap<u64>, structs of a clang object's LRU_PERCPU_HASH), and says what to give when the array's length
// is not the number of CPUs; a boolean takes true, false, 0 or 1; the clock stays within 64 bits; a bitfield value
// must fit its bits; simulate() refuses an unknown backend; a Str<N> takes a string; a global the object lacks is
// named with the probe's own globals.

import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate, SimulationError } from "../../runtime/test/index.js";
import { compileC, needsClang } from "../loader/support.js";
import { noLlvm } from "../llvm/support.js";
import { hasVmlinux } from "./support.js";

const isUsage = (message: RegExp) => (e: unknown) => e instanceof SimulationError && e.kind === "usage" && message.test(e.message);

test("a per-CPU array of u64 takes an array of one value per CPU, which the program sees on each", async () => {
  const text = `import { kprobe, PerCpuArrayMap, type u64, type Arr } from "tsbpf";
export const license = "GPL";
export const pc = new PerCpuArrayMap<u64>(2);
export const pa = new PerCpuArrayMap<Arr<u64, 4>>(1);
export const k = kprobe("f", () => { const v = pc.lookup(0); return v === null ? 0 : v; });`;
  const sim = await simulate({ fileName: "pc.ts", text }, { arch: "x86_64", cpus: 4 });
  sim.map("pc").set(0, [1n, 2n, 3n, 4n]);
  assert.deepEqual(sim.map("pc").get(0), [1n, 2n, 3n, 4n]);
  assert.deepEqual([0, 1, 2, 3].map((cpu) => sim.kprobe("f", { cpu }).r0), [1n, 2n, 3n, 4n]);
  sim.map("pc").set(1, 9n); // one value: every CPU's
  assert.deepEqual(sim.map("pc").get(1), [9n, 9n, 9n, 9n]);
  assert.throws(() => sim.map("pc").set(0, [1n, 2n, 3n]), isUsage(/^map pc is a per-CPU map over 4 CPUs: set\(\) takes one value for all of them or an array of 4 values, one per CPU, not an array of 3$/));
  // A value that is itself an array: an array of numbers is every CPU's, an array of arrays one per CPU.
  sim.map("pa").set(0, [1n, 2n, 3n, 4n]);
  assert.deepEqual(sim.map("pa").get(0), Array(4).fill([1n, 2n, 3n, 4n]));
  sim.map("pa").set(0, [[1n], [2n], [3n], [4n]]);
  assert.deepEqual(sim.map("pa").get(0), [[1n, 0n, 0n, 0n], [2n, 0n, 0n, 0n], [3n, 0n, 0n, 0n], [4n, 0n, 0n, 0n]]);
});

test("an LRU per-CPU hash of a struct (clang -g) takes one struct per CPU", needsClang, async () => {
  const source = `#include "loader.h"
#define BPF_MAP_TYPE_LRU_PERCPU_HASH 10
struct pair { __u32 a; __u64 b; };
struct { __uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH); __uint(max_entries, 8); __type(key, __u32); __type(value, struct pair); } lpc SEC(".maps");
SEC("kprobe/f") int k(void *ctx) { __u32 key = 5; struct pair *p = bpf_map_lookup_elem(&lpc, &key); return p ? p->a + p->b : 0; }
char LICENSE[] SEC("license") = "GPL";
`;
  const sim = await simulate(compileC("lru-percpu", source), { cpus: 2 });
  sim.map("lpc").set(5, [{ a: 1, b: 10n }, { a: 2, b: 20n }]);
  assert.deepEqual(sim.map("lpc").get(5), [{ a: 1, b: 10n }, { a: 2, b: 20n }]);
  assert.deepEqual([0, 1].map((cpu) => sim.kprobe("f", { cpu }).r0), [11n, 22n]);
  assert.throws(() => sim.map("lpc").set(5, [{ a: 1, b: 10n }]), isUsage(/over 2 CPUs: .* not an array of 1$/));
});

test("a boolean takes true, false, 0 or 1 from a test (globals, map values, alloc), as tsbpf run --set does", async () => {
  const text = `import { kprobe, HashMap, type u32 } from "tsbpf";
export const license = "GPL";
export interface Flags { on: boolean; n: u32 }
let flag = false;
export const m = new HashMap<u32, Flags>(8);
export const k = kprobe("f", () => { const f = m.lookup(1); return flag && f !== null && f.on ? 1 : 0; });`;
  const probe = { fileName: "b.ts", text };
  await assert.rejects(simulate(probe, { arch: "x86_64", globals: { flag: 2 } }), isUsage(/^flag is of type \w+: give it true or false, not 2$/));
  const sim = await simulate(probe, { arch: "x86_64", globals: { flag: 1 } });
  assert.throws(() => sim.map("m").set(1, { on: 2, n: 0 }), isUsage(/^m value\.on is of type \w+: give it true or false, not 2$/));
  assert.throws(() => sim.map("m").set(1, { on: -1n, n: 0 }), isUsage(/give it true or false, not -1n$/));
  assert.throws(() => sim.kernel.alloc("Flags", { on: "yes" }), isUsage(/give it true or false, not the string "yes"$/));
  sim.map("m").set(1, { on: true, n: 0 });
  assert.equal(sim.kprobe("f").r0, 1n);
  sim.map("m").set(1, { on: 0n, n: 0 });
  assert.deepEqual([sim.map("m").get(1), sim.kprobe("f").r0], [{ on: false, n: 0 }, 0n]);
  assert.deepEqual(sim.kernel.alloc("Flags", { on: 1 }).read(), { on: true, n: 0 });
});

test("the clock takes times within 64 bits: setTime, the time option and advance() past 2^64 are usage errors", async () => {
  const probe = { fileName: "t.ts", text: 'import { kprobe, ktimeNs } from "tsbpf";\nexport const license = "GPL";\nexport const k = kprobe("f", () => ktimeNs());' };
  await assert.rejects(simulate(probe, { arch: "x86_64", time: 2n ** 80n }), isUsage(/^simulate\(\) option time must fit in 64 bits \(at most 18446744073709551615n nanoseconds\), not 1208925819614629174706176n$/));
  const sim = await simulate(probe, { arch: "x86_64", time: 2n ** 64n - 10n });
  assert.throws(() => sim.kernel.setTime(2n ** 64n + 5n), isUsage(/^setTime\(\)'s time must fit in 64 bits/));
  assert.throws(() => { sim.kernel.time = 2n ** 64n; }, isUsage(/^the time must fit in 64 bits/));
  assert.throws(() => sim.kernel.advance(11), isUsage(/^advance\(\)'s step of 11n would take the clock past 2\^64 - 1 nanoseconds \(it is at 18446744073709551606n\)$/));
  sim.kernel.advance(9);
  assert.equal(sim.kprobe("f").r0, 2n ** 64n - 1n, "the clock did not wrap");
});

test("a bitfield value that does not fit is refused as other integers are; an unknown backend is refused", needsClang, async () => {
  const source = `#include "loader.h"
struct bits { __u32 lo: 3, mid: 5; int neg: 4; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct bits); } b SEC(".maps");
SEC("kprobe/f") int k(void *ctx) { __u32 key = 0; struct bits *p = bpf_map_lookup_elem(&b, &key); return p ? p->mid : 0; }
char LICENSE[] SEC("license") = "GPL";
`;
  const sim = await simulate(compileC("bitfields", source));
  assert.throws(() => sim.map("b").set(0, { lo: 8 }), isUsage(/^b value\.lo: 8 does not fit in 3 bits$/));
  assert.throws(() => sim.map("b").set(0, { neg: -9n }), isUsage(/^b value\.neg: -9 does not fit in 4 bits$/));
  sim.map("b").set(0, { lo: 7, mid: 31, neg: -8 });
  assert.deepEqual(sim.map("b").get(0), { lo: 7, mid: 31, neg: -8 });
  await assert.rejects(simulate(compileC("bitfields", source), { backend: "gcc" as never }), isUsage(/^simulate\(\) option backend must be "own", "llvm", not "gcc"$/));
});

test("an option simulate() does not know is refused, naming the options it has (cpu is not cpus)", async () => {
  const probe = { fileName: "o.ts", text: 'import { kprobe } from "tsbpf";\nexport const license = "GPL";\nexport const k = kprobe("f", () => 0);' };
  await assert.rejects(
    simulate(probe, { arch: "x86_64", cpu: 2 } as never),
    isUsage(/^simulate\(\) has no option cpu \(did you mean cpus\?\); its options are tier, cpus, arch, .*backend$/),
  );
  await assert.rejects(simulate(probe, { arch: "x86_64", frobnicate: true } as never), isUsage(/^simulate\(\) has no option frobnicate; its options are /));
  // Every known option still goes through.
  const sim = await simulate(probe, { arch: "x86_64", cpus: 2, seed: 3, budget: 1000, tier: "interpreter", verify: true, name: "o" });
  assert.equal(sim.kprobe("f").r0, 0n);
});

test("a Str<N> key or value given a number says that it takes a string", async () => {
  const text = `import { kprobe, HashMap, comm, type u64, type Str } from "tsbpf";
export const license = "GPL";
export const names = new HashMap<Str<16>, u64>(8);
export const k = kprobe("f", () => { names.increment(comm()); return 0; });`;
  const sim = await simulate({ fileName: "s.ts", text }, { arch: "x86_64" });
  assert.throws(() => sim.map("names").get(5), isUsage(/^names key: expected a string of at most 16 bytes for char\[16\] \(or a Uint8Array of its bytes\), got 5$/));
  sim.map("names").set("bash", 2n);
  assert.equal(sim.map("names").get("bash"), 2n);
});

test("a global the object lacks is named with the probe's own globals, not tsbpf's (formats, drop counters, targetPid's)", async () => {
  const text = `import { kprobe, printf, printk, targetPid, pidTgid, RingBuf, type u32 } from "tsbpf";
export const license = "GPL";
let verbose = false;
let label: u32 = 7;
interface Seen { n: u32 }
export const events = new RingBuf<Seen>(4096);
export const k = kprobe("f", () => {
  if (pidTgid() >> 32 === targetPid()) printk(\`hit \${label}\`);
  if (verbose) printf("%u\\n", label);
  events.output({ n: label });
  return 0;
});`;
  const probe = { fileName: "g.ts", text };
  await assert.rejects(simulate(probe, { arch: "x86_64", globals: { verbos: true } }), isUsage(/^the object has no global variable verbos \(did you mean verbose\?\); its global variables are verbose, label$/));
  const sim = await simulate(probe, { arch: "x86_64", targetPid: 5 });
  // tsbpf's drop counters are read with sim.global() (documented), so they are named there.
  assert.throws(() => sim.global("lable"), isUsage(/^the object has no global variable lable \(did you mean label\?\); its global variables are verbose, label, tsbpf_lost_tsbpf_actions, tsbpf_lost_events$/));
});

test("a u8 array (Arr<u8, N>, unsigned char[N]) takes numbers, not a string, as events() decodes it and tsbpf run --set reads it", async () => {
  const text = `import { kprobe, HashMap, type u8, type u32, type Arr, type Str } from "tsbpf";
export const license = "GPL";
interface Peer { addr: Arr<u8, 4>; name: Str<4> }
let grid: Arr<Arr<u8, 2>, 2> = [[1, 2], [3, 4]];
export const peers = new HashMap<u32, Peer>(4);
export const k = kprobe("f", (i: u32) => grid[i & 1]![1]!);`;
  const sim = await simulate({ fileName: "u8-arrays.ts", text }, { arch: "x86_64", globals: { grid: [[5, 6], [7, 8]] } });
  assert.equal(sim.kprobe("f", { args: [1] }).r0, 8n);
  sim.map("peers").set(1, { addr: [10, 0, 0, 1], name: "eth" });
  assert.deepEqual(sim.map("peers").get(1), { addr: [10, 0, 0, 1], name: "eth" });
  assert.throws(() => sim.map("peers").set(2, { addr: "ab" }), isUsage(/^peers value\.addr: a string only fills a char array, not u8\[4\]: give its elements as numbers$/));
  // The value given is shown as itself, not as its JavaScript type.
  assert.throws(() => sim.map("peers").get({ key: 1 } as never), isUsage(/^peers key: expected a number, bigint or pointer, got an object$/));
  assert.throws(() => sim.map("peers").set(3, 7), isUsage(/^peers value: expected an object of fields for struct Peer, got 7$/));
  await assert.rejects(simulate({ fileName: "u8-arrays.ts", text }, { globals: { grid: [5, 6] } }), isUsage(/^grid\[0\]: expected an array for .*\[2\] \(or a Uint8Array of its bytes\), got 5$/));
});

test("kernel.alloc() places a struct the probe file declares and only reads from memory (readUser<T>), with either backend", async () => {
  const text = `import { uprobe, printf, readUser, type Ptr, type i32, type i64, type Str } from "tsbpf";
export const license = "GPL";
interface Request { id: i32; size: i64; path: Str<16>; }
export const enter = uprobe("/bin/app", "handle", (r: Ptr<Request>) => {
  const req = readUser<Request>(r);
  printf("%d %d %s\\n", req.id, req.size, req.path);
});
`;
  for (const backend of ["own", "llvm"] as const) {
    if (backend === "llvm" && noLlvm) continue;
    const sim = await simulate({ fileName: "app.ts", text }, { backend });
    // In no map or record, so not in the object's BTF: the file's own types give its layout.
    assert.equal(sim.objectBtf?.find("Request"), undefined, backend);
    sim.uprobe("/bin/app:handle", { args: [sim.kernel.alloc("Request", { id: 7, size: -320n, path: "/api" }, { user: true }).address] });
    assert.equal(sim.output(), "7 -320 /api\n", backend);
    assert.throws(() => sim.kernel.alloc("Request", { idd: 1 }), isUsage(/idd/), backend);
  }
});

test("a string given for a pointer argument or field says to place it in memory and pass its address", async () => {
  const sim = await simulate({ fileName: "s.ts", text: `import { kprobe, printk, readUserStr, type u64 } from "tsbpf";\nexport const license = "GPL";\nexport const k = kprobe("f", (p: u64) => printk(\`\${readUserStr(p)}\`));\n` });
  assert.throws(() => sim.kprobe("f", { args: ["/tmp/x"] as never }), isUsage(/^argument 1: expected a number, bigint or pointer, got the string "\/tmp\/x"; a string is passed by its address: place it with sim\.kernel\.userString\(s\)/));
  sim.kprobe("f", { args: [sim.kernel.userString("/tmp/x")] });
  assert.deepEqual(sim.trace(), ["/tmp/x"]);
  // Where no pointer goes (a map's u64 value), the string is only refused.
  const counts = await simulate({ fileName: "v.ts", text: `import { kprobe, HashMap, type u32, type u64 } from "tsbpf";\nexport const license = "GPL";\nexport const m = new HashMap<u32, u64>(4);\nexport const k = kprobe("f", () => 0);\n` });
  assert.throws(() => counts.map("m").set(1, "x" as never), isUsage(/^m value: expected a number, bigint or pointer, got the string "x"$/));
});

test("a tracepoint format text with no field lines is refused saying what to give, not compiled into a record without fields", async () => {
  await assert.rejects(
    simulate("examples/unlink-tracepoint.ts", { tracepointFormats: { "syscalls/sys_enter_unlinkat": "garbage" } }),
    isUsage(/^tracepointFormats\["syscalls\/sys_enter_unlinkat"\] has no field lines .*: give the text of \/sys\/kernel\/tracing\/events\/syscalls\/sys_enter_unlinkat\/format$/),
  );
});

test("one number for a tracepoint's array field (a char[16] comm, a u64 args[6]) is refused, saying what the field takes", async () => {
  const { tracepointFormats } = await import("../support/fixture-kernel.js");
  const text = `import { tracepoint, printk, type Str } from "tsbpf";\nexport const license = "GPL";\nexport const p = tracepoint("sched", "sched_switch", (ctx) => { const c: Str<16> = ctx.prev_comm; printk(\`\${c}\`); });\nexport const q = tracepoint("raw_syscalls", "sys_enter", (ctx) => printk(\`\${ctx.args[0]}\`));\n`;
  const sim = await simulate({ fileName: "arrays.ts", text }, { tracepointFormats: tracepointFormats("sched/sched_switch", "raw_syscalls/sys_enter") });
  assert.throws(() => sim.tracepoint("sched", "sched_switch", { prev_comm: 5 }), isUsage(/^sched:sched_switch field prev_comm is a char\[16\]: give a string \(or a Uint8Array of its bytes\), not 5$/));
  assert.throws(() => sim.tracepoint("raw_syscalls", "sys_enter", { id: 1, args: 7 }), isUsage(/^raw_syscalls:sys_enter field args is a .*\[6\]: give an array of its 6 elements, not 7$/));
  sim.tracepoint("sched", "sched_switch", { prev_comm: "bash" });
  sim.tracepoint("raw_syscalls", "sys_enter", { id: 1, args: [7] });
  assert.deepEqual(sim.trace(), ["bash", "7"]);
});

test("a raw tracepoint's arguments are checked and placed as the kernel casts them: a bool 0 or 1, a narrower integer extended by its sign", { skip: hasVmlinux ? false : "no /sys/kernel/btf/vmlinux (raw tracepoints are typed by it)" }, async () => {
  const text = `import { rawTracepoint, printk, type u64 } from "tsbpf";\nexport const license = "GPL";\nexport const p = rawTracepoint("sched_switch", (preempt, prev, next, state) => { printk(\`\${preempt} \${state}\`); });\n`;
  const sim = await simulate({ fileName: "rawargs.ts", text });
  assert.throws(() => sim.rawTracepoint("sched_switch", [5, 0, 0, 0]), isUsage(/^argument 1 \(bool preempt\) is of type bool: give it true or false, not 5$/));
  assert.throws(() => sim.rawTracepoint("sched_switch", [1, 0, 0, 2 ** 32]), isUsage(/^argument 4 \(unsigned int prev_state\): 4294967296 does not fit in 4 bytes$/));
  // -1 for an unsigned int is its 32 bits, as C converts it; a recording's u64 of a value the type holds is taken too.
  sim.rawTracepoint("sched_switch", [true, 0, 0, -1]);
  sim.rawTracepoint("sched_switch", [0, 0, 0, 0x1n]);
  assert.deepEqual(sim.trace(), ["true 4294967295", "false 1"]);
});
