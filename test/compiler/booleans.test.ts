// `boolean` as a type of the probe language, C's `_Bool`: one byte holding 0 or 1. Semantics run in
// the VM (locals, parameters, returns annotated and inferred, struct fields, arrays, map keys and
// values) and load into the kernel; printk prints `true`/`false`; the object's BTF marks the type as
// clang marks `_Bool`; ring buffer records and map values decode to JS booleans in the simulator, from
// a live tracepoint through runtime/loader, and in `tsbpf run --json`'s output.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile, type CompileOptions } from "../../compiler/index.js";
import { CLI } from "../support/cli.js";
import { BtfIntEncoding, BtfKind, mapTags, parseBtf, type Btf } from "../../compiler/btf/index.js";
import { readBpfObject } from "../../compiler/elf/index.js";
import { encode } from "../../compiler/isa/index.js";
import { execute } from "../../runtime/vm/index.js";
import { eventCodec, loadObject, mapBtfTypes, MapView, openObject, RingBuffer } from "../../runtime/loader/index.js";
import { BpfLoadError, ProgType, missingBpf, missingRoot, missingTracefs, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { noLlvm } from "../llvm/support.js";

const HEADER = `
import { kprobe, type u8, type u16, type u32, type u64, type i32, type Arr } from "tsbpf";
export const license = "GPL";
interface Pair { a: u8; on: boolean; b: u16; off: boolean }
function isNeg(x: i32): boolean { return x < 0; }
function flip(x: boolean): boolean { return !x; }
function isFive(x: u64) { return x === 5; }
const gt = (x: u32, y: u32): boolean => x > y;
function count(x: boolean, y: boolean): u32 { let n: u32 = 0; if (x) n += 1; if (y) n += 2; return n; }
`;

// Handlers over (a: i32, b: u32, c: u64) with a = -7, b = 0xfffffff0, c = 5; r0 as worked out by hand.
const BLOCKS: [body: string, expected: bigint][] = [
  ["const t: boolean = a < 0; const f: boolean = c > 10; return (t ? 10 : 0) + (f ? 1 : 0);", 10n],
  ["let x: boolean = false; if (x) return 1; x = b > 5; return x ? 2 : 3;", 2n],
  ["const t = a < 0; const u: boolean = t; return !u ? 1 : 2;", 2n], // inferred, then copied
  ["return isNeg(a) ? 1 : 0;", 1n],
  ["return flip(isNeg(a)) ? 1 : 0;", 0n],
  ["return isFive(c) && !isFive(c + 1) ? 1 : 0;", 1n], // inferred return type
  ["return count(gt(b, 1), isFive(c)) + count(false, true) * 10;", 23n],
  ["return ((a < 0) === (c > 0) ? 1 : 0) + ((a < 0) !== (c > 10) ? 2 : 0);", 3n],
  ["const m: boolean = c > 1 ? a < 0 : false; return m ? 1 : 0;", 1n],
  ["const p: Pair = { a: 1, on: c === 5, b: 2, off: false }; p.b = 9; return (p.on ? 100 : 0) + (p.off ? 10 : 0) + p.a + p.b;", 110n],
  ["const p: Pair = { a: 0, on: true, b: 0, off: true }; p.on = isNeg(a + 10); return p.on || !p.off ? 1 : 0;", 0n],
  ["const xs: Arr<boolean, 4> = [true, false, a < 0, c > 5]; let n: u32 = 0; for (let i: u32 = 0; i < 4; i++) if (xs[i]) n += 1 << i; return n;", 5n],
  ["const xs: Arr<boolean, 2> = [false, false]; const i: u32 = b & 1; xs[i] = true; return xs[0] ? 1 : 2;", 1n],
];

/** A pt_regs image (x86-64) with a, b and c in di, si and dx. */
function ptRegs(): Uint8Array {
  const regs = new Uint8Array(168);
  const view = new DataView(regs.buffer);
  view.setBigUint64(112, BigInt.asUintN(64, -7n), true);
  view.setBigUint64(104, 0xfffffff0n, true);
  view.setBigUint64(96, 5n, true);
  return regs;
}

const semantics = compile(
  { fileName: "booleans.ts", text: HEADER + BLOCKS.map(([body], i) => `export const s${i} = kprobe("f", (a: i32, b: u32, c: u64) => { ${body} });`).join("\n") },
  { arch: "x86_64" },
);

test("boolean locals, parameters, returns, struct fields and arrays compute what C's _Bool does (in the VM)", () => {
  assert.deepEqual(semantics.diagnostics, []);
  const failures: string[] = [];
  semantics.programs.forEach((p, i) => {
    const [body, want] = BLOCKS[i]!;
    const { r0 } = execute(p.insns, ptRegs());
    if (r0 !== want) failures.push(`${body}: got ${r0}, want ${want}`);
  });
  assert.deepEqual(failures, []);
});

const sys = openSys();
const noKernel = missingRoot() ?? missingBpf(sys);

test("the kernel's verifier accepts programs using booleans", { skip: noKernel }, () => {
  for (const [i, p] of semantics.programs.entries()) {
    try {
      sys.close(sys.progLoad({ type: ProgType.KPROBE, insns: encode(p.insns), license: "GPL" }).fd);
    } catch (error) {
      if (error instanceof BpfLoadError) assert.fail(`${BLOCKS[i]![0]}: rejected\n${error.log}`);
      throw error;
    }
  }
});

test("`boolean` is accepted where a type is written, and TypeScript's inferred boolean return needs no annotation", () => {
  const r = compile({ fileName: "t.ts", text: `import { kprobe, printk, pidTgid, type u32 } from "tsbpf";
export const license = "GPL";
const DEBUG: boolean = true;
function isBig(x: u32): boolean { return x > 100; }
function small(x: u32) { return x < 10; }
export const p = kprobe("f", (x: u32) => {
  const pid = (pidTgid() >> 32) as u32;
  const big: boolean = pid > 1000;
  if (DEBUG && isBig(pid) && big && !small(x)) printk(\`pid \${pid} big=\${big}\`);
  return 0;
});` }, { arch: "x86_64" });
  assert.deepEqual(r.diagnostics.map((d) => `${d.code} ${d.message}`), []);
});

// Events, maps and printk through the simulator (and below, the kernel).
const PROBE = (probe: string, filter: string): string => `
import { ${probe.split("(")[0]}, printk, pidTgid, HashMap, ArrayMap, RingBuf, PerfEventArray, type u32, type Arr } from "tsbpf";
export const license = "GPL";
interface Event { pid: u32; big: boolean; odd: boolean; both: Arr<boolean, 2> }
export const events = new RingBuf<Event>(4096);
export const perf = new PerfEventArray<Event>(64);
export const bigByPid = new HashMap<u32, boolean>(16);
export const pidByFlag = new HashMap<boolean, u32>(2);
export const last = new ArrayMap<boolean>(2);
function isOdd(x: u32) { return (x & 1) === 1; }
export const p = ${probe} => {
  const pid = (pidTgid() >> 32) as u32;
  ${filter}
  const big: boolean = pid > 1000;
  const odd = isOdd(pid);
  const e: Event = { pid, big, odd, both: [big && odd, big || odd] };
  events.output(e);
  perf.output(e);
  bigByPid.update(pid, big);
  pidByFlag.update(odd, pid);
  last.update(1, !odd);
  const seen = bigByPid.lookup(pid) ?? false;
  printk(\`pid \${pid} big=\${big} odd=\${odd} seen=\${seen} small=\${pid < 10} \${true}\`);
  return 0;
});
`;

test("the simulator decodes boolean record fields and map values as true and false, and printk prints them so", async () => {
  const sim = await simulate({ fileName: "flags.ts", text: PROBE('kprobe("do_unlinkat", ()', "") }, { arch: "x86_64" });
  sim.kprobe("do_unlinkat", { pid: 1001 });
  sim.kprobe("do_unlinkat", { pid: 4 });
  const records = [
    { pid: 1001, big: true, odd: true, both: [true, true] },
    { pid: 4, big: false, odd: false, both: [false, false] },
  ];
  assert.deepEqual(sim.events("events"), records);
  assert.deepEqual(sim.events("perf"), records);
  assert.deepEqual(sim.map("bigByPid").toMap(), new Map([[1001, true], [4, false]]));
  assert.deepEqual(sim.map("pidByFlag").toMap(), new Map([[true, 1001], [false, 4]]));
  assert.deepEqual(sim.map("last").toArray(), [false, true]);
  assert.deepEqual(sim.trace(), ["pid 1001 big=true odd=true seen=true small=false true", "pid 4 big=false odd=false seen=false small=true true"]);
});

/** The INT a type id comes to through typedefs, with its name. */
function baseInt(btf: Btf, id: number): { name: string; size: number; encoding: number } {
  const t = btf.resolveType(id);
  assert.equal(t.kind, BtfKind.INT, `type ${btf.typeName(id)} is an INT`);
  return { name: t.name, size: t.size, encoding: (t as { encoding: number }).encoding };
}

function checkBoolBtf(object: Uint8Array): void {
  const btf = parseBtf(readBpfObject(object).btf!);
  const spec = openObject(object, { name: "flags" });
  const bool = { name: "_Bool", size: 1, encoding: BtfIntEncoding.BOOL };
  const types = (name: string) => mapBtfTypes(spec, spec.maps.find((m) => m.name === name)!)!;
  assert.deepEqual(baseInt(btf, types("bigByPid").value!), bool);
  assert.deepEqual(baseInt(btf, types("pidByFlag").key!), bool);
  assert.deepEqual(baseInt(btf, types("last").value!), bool);
  const event = btf.resolveType(mapTags(btf, btf.find("events", BtfKind.VAR)!.id).event!);
  assert.ok(event.kind === BtfKind.STRUCT);
  assert.deepEqual(event.members.map((m) => [m.name, m.bitOffset / 8]), [["pid", 0], ["big", 4], ["odd", 5], ["both", 6]]);
  assert.deepEqual(baseInt(btf, event.members[1]!.type), bool);
  const both = btf.resolveType(event.members[3]!.type);
  assert.ok(both.kind === BtfKind.ARRAY && both.nelems === 2);
  assert.deepEqual(baseInt(btf, both.type), bool);
  assert.equal(event.size, 8);
}

const KPROBE = PROBE('kprobe("do_unlinkat", ()', "");

test("the object's BTF has _Bool, size 1, encoding BOOL, for boolean fields, keys and values", () => {
  const r = compile({ fileName: "flags.ts", text: KPROBE }, { arch: "x86_64" });
  assert.deepEqual(r.diagnostics, []);
  checkBoolBtf(r.object);
});

test("the LLVM backend describes booleans as _Bool with encoding BOOL too", { skip: noLlvm }, () => {
  const options: CompileOptions = { arch: "x86_64", backend: "llvm" };
  const r = compile({ fileName: "flags.ts", text: KPROBE }, options);
  assert.deepEqual(r.diagnostics, []);
  checkBoolBtf(r.object);
});

const TRACEPOINT = PROBE('tracepoint("syscalls", "sys_enter_openat", ()', `if (pid !== ${process.pid}) return 0;`);

/** Opens (and removes) a file in a fresh directory: one sys_enter_openat of this process. */
function openOnce(): void {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-bool-"));
  try {
    closeSync(openSync(join(dir, "x"), "w"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("from the kernel: a tracepoint's ring buffer records and map values decode to true and false", { skip: noKernel }, () => {
  const r = compile({ fileName: "flags.ts", text: TRACEPOINT });
  assert.deepEqual(r.diagnostics, []);
  const loaded = loadObject(sys, openObject(r.object, { name: "flags" }));
  const ring = RingBuffer.open(sys, loaded.map("events").fd);
  try {
    loaded.attachAll();
    openOnce();
    const codec = eventCodec(loaded, "events")!;
    const big = process.pid > 1000;
    const odd = (process.pid & 1) === 1;
    const mine = ring.read().map((b) => codec.decode(b));
    assert.ok(mine.length >= 1);
    assert.deepEqual(mine[0], { pid: process.pid, big, odd, both: [big && odd, big || odd] });
    const lookup = (name: string, key: number): unknown => {
      const view = new MapView(sys, loaded.map(name), mapBtfTypes(loaded.spec, loaded.map(name).spec));
      return view.decodeValue(sys.mapLookup(view.fd, new Uint8Array(new Uint32Array([key]).buffer))!);
    };
    assert.equal(lookup("bigByPid", process.pid), big);
    assert.equal(lookup("last", 1), !odd);
  } finally {
    ring.close();
    loaded.close();
  }
});

test("tsbpf run prints boolean printk values, event fields and map values as true and false", { skip: noKernel ?? missingTracefs() ?? false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-bool-run-"));
  try {
    const file = join(dir, "flags.ts");
    writeFileSync(file, TRACEPOINT);
    const child = spawn(process.execPath, [...CLI, "run", "--json", "--no-cache", "--duration", "2", file], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    // Opens of this process fire the probe until the run has detached.
    let done = false;
    void exited.then(() => (done = true));
    while (!done) {
      if (stderr.includes("streaming")) openOnce();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await exited, 0, stderr);
    const lines = stdout.trim().split("\n").map((l) => JSON.parse(l) as { map?: string; value?: unknown; entries?: { key: unknown; value: unknown }[]; message?: string });
    const big = process.pid > 1000;
    const odd = (process.pid & 1) === 1;
    // The kernel's bpf_trace_printk formats the %s of "true" or "false".
    assert.equal(lines.find((l) => l.message?.startsWith(`pid ${process.pid} `))?.message, `pid ${process.pid} big=${big} odd=${odd} seen=${big} small=false true`);
    const record = { pid: process.pid, big, odd, both: [big && odd, big || odd] };
    assert.deepEqual(lines.find((l) => l.map === "events")?.value, record);
    assert.deepEqual(lines.find((l) => l.map === "perf")?.value, record);
    assert.deepEqual(lines.find((l) => l.map === "bigByPid")?.entries, [{ key: process.pid, value: big }]);
    assert.deepEqual(lines.find((l) => l.map === "last")?.entries, odd ? undefined : [{ key: 1, value: true }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
