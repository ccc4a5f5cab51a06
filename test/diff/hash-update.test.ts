// Hash map updates and deletes against the kernel: an update of an existing key swaps in another element and a
// delete frees one, so a pointer from an earlier lookup keeps reading the old element until the map reuses it.
// Each scenario is one socket filter run by BPF_PROG_TEST_RUN (one CPU) and by both VM tiers; every update's
// and delete's result and every read goes into an array map's value, and must match. Without BPF_PROG_TEST_RUN
// the VM is checked against the kernel's results recorded here (Linux 6.18, 2 possible CPUs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PseudoLd, assemble, encode, type Insn } from "../../compiler/isa/index.js";
import { MapFlag, MapType, ProgType, missingRoot, missingTestRun, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { SimKernel } from "../../runtime/vm/kernel.js";
import { createVmEnv } from "../../runtime/vm/helpers/index.js";
import { Vm } from "../../runtime/vm/vm.js";
import { selectTier } from "../../runtime/vm/tiers.js";
import { CLI } from "../support/cli.js";

const OUT_FD = 1000;
const HASH_FD = 1001;
const OUT_SIZE = 512;
const PACKET = new Uint8Array(64);
const skip = missingTestRun();

type Kind = "hash" | "lru_hash" | "percpu_hash" | "lru_percpu_hash";
interface Shape {
  kind: Kind;
  maxEntries: number;
  noPrealloc?: boolean;
}

/**
 * A program from ops, one a line: `u K V [F]` updates key K to V (flags F) and records the result, `d K` deletes
 * and records, `l P K` looks K up into pointer P (0-7; the program stops with r0 = 1 on a miss), `r P` records
 * what P points at, `w P V` writes V through P, `g K` records K's value now (or 0xdead when it is missing).
 */
function program(ops: string): Insn[] {
  let out = 0;
  const body: string[] = [];
  const key = (k: string) => `*(u32 *)(r10 -8) = ${k}\n r2 = r10\n r2 += -8\n r1 = map[fd:${HASH_FD}]`;
  const record = (reg: string) => `*(u64 *)(r9 +${8 * out++}) = ${reg}`;
  ops.trim().split("\n").forEach((line, i) => {
    const [op, a, b, c] = line.trim().split(/\s+/);
    const slot = (p: string) => -24 - 8 * Number(p);
    switch (op) {
      case "u":
        body.push(`r3 = ${b}\n *(u64 *)(r10 -16) = r3\n ${key(a!)}\n r3 = r10\n r3 += -16\n r4 = ${c ?? 0}\n call bpf_map_update_elem\n ${record("r0")}`);
        break;
      case "d":
        body.push(`${key(a!)}\n call bpf_map_delete_elem\n ${record("r0")}`);
        break;
      case "l":
        body.push(`${key(b!)}\n call bpf_map_lookup_elem\n if r0 != 0 goto ok${i}\n r0 = 1\n exit\nok${i}:\n *(u64 *)(r10 ${slot(a!)}) = r0`);
        break;
      case "r":
        body.push(`r1 = *(u64 *)(r10 ${slot(a!)})\n r1 = *(u64 *)(r1 +0)\n ${record("r1")}`);
        break;
      case "w":
        body.push(`r1 = *(u64 *)(r10 ${slot(a!)})\n r2 = ${b}\n *(u64 *)(r1 +0) = r2`);
        break;
      case "g":
        body.push(`${key(a!)}\n call bpf_map_lookup_elem\n r1 = 0xdead\n if r0 == 0 goto miss${i}\n r1 = *(u64 *)(r0 +0)\nmiss${i}:\n ${record("r1")}`);
        break;
      default:
        throw new Error(`bad op ${line}`);
    }
  });
  return assemble(`
    *(u32 *)(r10 -4) = 0
    r2 = r10
    r2 += -4
    r1 = map[fd:${OUT_FD}]
    call bpf_map_lookup_elem
    if r0 != 0 goto start
    exit
  start:
    r9 = r0
    ${body.join("\n")}
    r0 = 0
    exit`);
}

const withFds = (insns: readonly Insn[], out: number, hash: number): Insn[] =>
  insns.map((x) => (x.code === 0x18 && x.src === PseudoLd.MAP_FD ? { ...x, imm: x.imm === OUT_FD ? out : x.imm === HASH_FD ? hash : x.imm } : x));

/** The recorded u64s up to the last one written (unwritten trailing zeros dropped). */
function results(value: Uint8Array, r0: bigint): string[] {
  const view = Buffer.from(value);
  const all: string[] = [`r0=${r0}`];
  for (let o = 0; o < value.length; o += 8) all.push(view.readBigInt64LE(o).toString());
  while (all.length > 1 && all[all.length - 1] === "0") all.pop();
  return all;
}

function inKernel(shape: Shape, ops: string): string[] {
  const sys = openSys();
  const out = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: OUT_SIZE, maxEntries: 1, name: "tsbpf_hx_out" });
  const type = { hash: MapType.HASH, lru_hash: MapType.LRU_HASH, percpu_hash: MapType.PERCPU_HASH, lru_percpu_hash: MapType.LRU_PERCPU_HASH }[shape.kind];
  const hash = sys.mapCreate({ type, keySize: 4, valueSize: 8, maxEntries: shape.maxEntries, flags: shape.noPrealloc ? MapFlag.NO_PREALLOC : 0, name: "tsbpf_hx" });
  try {
    const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: encode(withFds(program(ops), out, hash)) });
    try {
      const run = sys.progTestRun(fd, { dataIn: PACKET });
      return results(sys.mapLookup(out, new Uint8Array(4))!, BigInt(run.retval));
    } finally {
      sys.close(fd);
    }
  } finally {
    sys.close(hash);
    sys.close(out);
  }
}

/** `cpus`: the kernel's possible CPUs, which size the LRU free lists' refills. */
function inVm(tier: "interpreter" | "compiled", shape: Shape, ops: string, cpus: number): string[] {
  const env = createVmEnv({ kernel: new SimKernel({ numCpus: cpus }) });
  const out = env.maps.array({ name: "out", valueSize: OUT_SIZE, maxEntries: 1 });
  const opts = { name: "hx", keySize: 4, valueSize: 8, maxEntries: shape.maxEntries, noPrealloc: shape.noPrealloc };
  const hash = {
    hash: () => env.maps.hash(opts),
    lru_hash: () => env.maps.lruHash(opts),
    percpu_hash: () => env.maps.percpuHash(opts),
    lru_percpu_hash: () => env.maps.lruPercpuHash(opts),
  }[shape.kind]();
  const vm = new Vm({ tier: selectTier(tier) });
  const { r0 } = vm.runOnBuffer(vm.load(withFds(program(ops), out.fd, hash.fd), env), PACKET.slice(14));
  return results(out.lookup(0)!, r0 & 0xffffffffn);
}

/** [what, map, ops, the kernel's results (checked against the kernel where it runs)] */
const SCENARIOS: Array<[string, Shape, string, string]> = [
  // A plain hash map takes an update's element from a per-CPU spare and keeps the old one as the spare:
  // inserts leave it alone, the next update of an existing key reuses it.
  ["an update keeps the old element for a pointer from before it", { kind: "hash", maxEntries: 8 }, "u 1 10\nl 0 1\nu 1 555\nr 0\nw 0 7\ng 1\nr 0", "r0=0 0 0 10 555 7"],
  ["the next update of an existing key, not an insert, reuses the old element", { kind: "hash", maxEntries: 8 }, "u 1 10\nl 0 1\nu 1 20\nr 0\nu 2 30\nr 0\nu 2 40\nr 0\nw 0 99\ng 2\ng 1", "r0=0 0 0 10 0 10 0 40 99 20"],
  ["a deleted element is the next insert's", { kind: "hash", maxEntries: 8 }, "u 1 10\nu 2 20\nl 0 1\nl 1 2\nd 1\nr 0\nu 3 30\nr 0\nd 2\nu 1 11\nr 1\nu 4 44\nr 1", "r0=0 0 0 0 10 0 30 0 0 11 0 11"],
  ["updates of existing keys do not take deleted elements", { kind: "hash", maxEntries: 8 }, "u 1 10\nu 2 20\nl 0 1\nd 1\nr 0\nu 2 21\nr 0\nu 2 22\nr 0\nu 5 50\nr 0", "r0=0 0 0 0 10 0 10 0 10 0 50"],
  ["a full map still updates existing keys, from the spare", { kind: "hash", maxEntries: 2 }, "u 1 10\nu 2 20\nl 0 1\nu 3 30\nu 1 11\nr 0\nd 2\nu 3 33\nr 0\nu 3 34\nr 0", "r0=0 0 0 -7 0 10 0 0 10 0 34"],
  // BPF_F_NO_PREALLOC: one LIFO cache per CPU; an update allocates before it frees the old element.
  ["the next allocation reuses the old element", { kind: "hash", maxEntries: 8, noPrealloc: true }, "u 1 10\nl 0 1\nu 1 20\nr 0\nu 2 30\nr 0\nu 2 40\nr 0\nw 0 99\ng 2\ng 1", "r0=0 0 0 10 0 30 0 30 40 20"],
  ["repeated updates alternate two elements", { kind: "hash", maxEntries: 64, noPrealloc: true }, "u 1 10\nl 0 1\nu 1 20\nr 0\nu 1 30\nr 0\nu 1 40\nr 0\nu 1 50\nr 0", "r0=0 0 0 10 0 30 0 30 0 50"],
  ["deletes and a full map", { kind: "hash", maxEntries: 2, noPrealloc: true }, "u 1 10\nu 2 20\nl 0 1\nu 3 30\nu 1 11\nr 0\nd 2\nu 3 33\nr 0\nu 3 34\nr 0", "r0=0 0 0 -7 0 10 0 0 10 0 34"],
  // LRU: elements allocated since the CPU's last refill come back to its local free list, first in line.
  ["the next allocation reuses the old element", { kind: "lru_hash", maxEntries: 8 }, "u 1 10\nl 0 1\nu 1 20\nr 0\nu 2 30\nr 0\nu 2 40\nr 0\nw 0 99\ng 2\ng 1", "r0=0 0 0 10 0 30 0 30 40 20"],
  ["a deleted pending element is the next insert's", { kind: "lru_hash", maxEntries: 8 }, "u 1 10\nu 2 20\nl 0 1\nd 1\nr 0\nu 4 40\nr 0\nu 5 50\nr 0", "r0=0 0 0 0 10 0 40 0 40"],
  ["an element from before the last refill waits for the next one", { kind: "lru_hash", maxEntries: 8 }, "u 1 10\nu 2 20\nu 3 30\nl 0 1\nd 1\nr 0\nu 4 40\nr 0\nu 5 50\nr 0\nu 6 60\nr 0", "r0=0 0 0 0 0 10 0 10 0 50 0 50"],
  ["the global free list is last in, first out", { kind: "lru_hash", maxEntries: 8 }, "u 1 10\nu 2 20\nu 3 30\nl 0 1\nl 1 2\nd 1\nd 2\nu 4 40\nr 0\nr 1\nu 5 50\nr 0\nr 1\nu 6 60\nr 0\nr 1", "r0=0 0 0 0 0 0 0 10 20 0 10 50 0 60 50"],
  ["an update takes its element first, which may evict the key it names", { kind: "lru_hash", maxEntries: 2 }, "u 1 10\nu 2 20\nu 1 5 1\ng 1\ng 2", "r0=0 0 0 0 5 20"],
  ["a refill short of its target evicts the difference", { kind: "lru_hash", maxEntries: 8 }, "u 1 1\nu 2 2\nu 3 3\nu 4 4\nu 5 5\nu 6 6\nu 7 7\nu 8 8\nu 9 9\ng 1\ng 2\ng 3\ng 9", "r0=0 0 0 0 0 0 0 0 0 0 57005 57005 3 9"],
  ["an element looked up is not evicted", { kind: "lru_hash", maxEntries: 8 }, "u 1 1\nu 2 2\nu 3 3\nu 4 4\nu 5 5\nu 6 6\nu 7 7\nu 8 8\nl 0 1\nu 9 9\nr 0\nu 10 10\nr 0\ng 1\ng 2\ng 3\ng 4", "r0=0 0 0 0 0 0 0 0 0 0 1 0 1 1 57005 57005 4"],
  // Per-CPU maps update values in place; their deletes free elements as the others do.
  ["an update writes the element in place", { kind: "percpu_hash", maxEntries: 8 }, "u 1 10\nl 0 1\nu 1 20\nr 0\nu 2 30\nr 0\nu 2 40\nr 0\nw 0 99\ng 2\ng 1", "r0=0 0 0 20 0 20 0 20 40 99"],
  ["a deleted element is the next insert's", { kind: "percpu_hash", maxEntries: 2, noPrealloc: true }, "u 1 10\nu 2 20\nl 0 1\nd 1\nr 0\nu 3 30\nr 0", "r0=0 0 0 0 10 0 30"],
  ["an update takes an element first unless BPF_EXIST, which may evict the key it names", { kind: "lru_percpu_hash", maxEntries: 2 }, "u 1 10\nu 2 20\nu 1 5\ng 1\ng 2\nu 2 7 2\ng 1\ng 2", "r0=0 0 0 0 5 20 0 5 7"],
];

const possibleCpus = (): number => (skip ? 2 : openSys().possibleCpus());

for (const [what, shape, ops, expected] of SCENARIOS) {
  test(`${shape.kind}${shape.noPrealloc ? " (no prealloc)" : ""}: ${what}`, () => {
    // The expected results assume 2 possible CPUs (LRU refill targets depend on it); the kernel decides where it runs.
    const cpus = possibleCpus();
    const want = skip ? expected.split(" ") : inKernel(shape, ops);
    if (!skip && cpus === 2) assert.deepEqual(want, expected.split(" "), "the kernel's results changed");
    for (const tier of ["interpreter", "compiled"] as const) assert.deepEqual(inVm(tier, shape, ops, cpus), want, `${tier} tier against ${skip ? "the recorded kernel results" : "the kernel"}`);
  });
}

// The same through the language: `let c` and `s` are the old elements after the updates.
const PROBE = `import { begin, printf, exit, HashMap, type u32, type u64 } from "tsbpf";
export const license = "GPL";
const m = new HashMap<u32, u64>(8);
interface V { a: u64; b: u64; }
const sm = new HashMap<u32, V>(8);
begin(() => {
  m.update(1, 10); let c = m.lookup(1); if (c === null) return;
  m.update(1, 555); printf("1 %d\\n", c); c += 1; printf("2 %d %d\\n", c, m.lookup(1) ?? 0);
  sm.update(1, { a: 1, b: 2 }); const s = sm.lookup(1); if (s === null) return;
  sm.update(1, { a: 100, b: 200 }); s.b = 7;
  const t = sm.lookup(1); if (t === null) return;
  printf("3 %d %d %d\\n", s.a, t.a, t.b); exit();
});
`;

test("pointers from lookups before updates: simulate() prints what tsbpf run prints", { timeout: 120_000 }, async () => {
  const kernelOutput = "1 10\n2 11 555\n3 1 100 200\n";
  const sim = await simulate({ fileName: "update-old.ts", text: PROBE });
  sim.begin({});
  assert.equal(sim.output(), kernelOutput);
  const noRoot = missingRoot();
  if (noRoot) return;
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-hash-"));
  try {
    const file = join(dir, "update-old.ts");
    writeFileSync(file, PROBE);
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const run = spawnSync(process.execPath, [...CLI, "run", file], { cwd: root, env: { ...process.env, XDG_CACHE_HOME: dir }, encoding: "utf8", timeout: 100_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, kernelOutput);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// An LRU hash filled from two CPUs (a raw tracepoint program run on each by BPF_PROG_TEST_RUN): while programs only
// insert, the keys that remain are the kernel's (lookups too: lru-evict.test.ts).
const LRU_SOURCE = `#include "loader.h"
#define BPF_MAP_TYPE_LRU_HASH 9
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 8); __type(key, __u32); __type(value, __u64); } lru SEC(".maps");
SEC("raw_tp/sys_enter") int put(__u64 *ctx)
{
	__u32 key = ctx[0];
	__u64 value = key;
	return bpf_map_update_elem(&lru, &key, &value, BPF_ANY);
}
char LICENSE[] SEC("license") = "GPL";
`;
const LRU_FILLS: [string, (i: number) => number, number[]][] = [
  ["alternate CPUs", (i) => i % 2, [32, 33, 34, 35, 36, 37, 38, 39]],
  ["runs of three on each CPU", (i) => Math.floor(i / 3) % 2, [34, 35, 36, 37, 38, 39]],
];

test("lru_hash: keys 0 to 39 inserted from two CPUs leave the kernel's keys", async () => {
  const { compileC, CLANG } = await import("../loader/support.js");
  if (!CLANG || possibleCpus() !== 2) return; // the recorded keys are 2 CPUs' (the refill target depends on them)
  const object = compileC("lru-two-cpus", LRU_SOURCE);
  const key = (k: number) => new Uint8Array(new BigUint64Array([BigInt(k)]).buffer);
  for (const [how, cpuOf, kept] of LRU_FILLS) {
    const sim = await simulate(object, { cpus: 2 });
    for (let k = 0; k < 40; k++) assert.equal(sim.run("put", key(k), { cpu: cpuOf(k) }).r0, 0n);
    assert.deepEqual(sim.map("lru").entries().map(([k]) => k).sort((a, b) => Number(a) - Number(b)), kept, `${how}: the simulator`);
    if (skip) continue;
    const { Session, openMap } = await import("../../runtime/loader/index.js");
    const session = new Session();
    try {
      const obj = session.loadFile(object);
      // BPF_F_TEST_RUN_ON_CPU (1): a raw tracepoint program runs on the CPU asked for.
      for (let k = 0; k < 40; k++) obj.sys.progTestRun(obj.program("put").fd, { ctxIn: key(k), flags: 1, cpu: cpuOf(k), repeat: 0, ctxSizeOut: 0 });
      const lru = openMap(obj, "lru");
      assert.deepEqual(Array.from({ length: 40 }, (_, k) => k).filter((k) => lru.get(key(k).subarray(0, 4)) !== undefined), kept, `${how}: the kernel`);
    } finally {
      await session.close();
    }
  }
});
