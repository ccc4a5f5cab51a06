// Which keys an LRU hash map keeps, against the kernel: random sequences of updates, lookups and deletes by programs
// on two CPUs (raw tracepoint programs run by BPF_PROG_TEST_RUN on the CPU asked for, as in hash-update.test.ts), for
// several map sizes, with common and (BPF_F_NO_COMMON_LRU) per-CPU LRU lists. Every program's result and the keys
// left must match the simulator's. The kernel's results are recorded for one sequence (Linux 6.18, 2 possible CPUs);
// the others need BPF_PROG_TEST_RUN, root and clang-19.
import { test } from "node:test";
import assert from "node:assert/strict";
import { missingTestRun, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { Prng } from "../support/prng.js";

const skip = missingTestRun();
const possibleCpus = (): number => (skip ? 2 : openSys().possibleCpus());

type Kind = "lru_hash" | "lru_percpu_hash";
/** [program, key, CPU, flags]: `put` updates the key (with the flags) and returns the result, `get` returns 1 when a lookup finds it, `del` deletes it. */
type Op = ["put" | "get" | "del", number, number, number?];

/** `flags`: the map's; BPF_F_NO_COMMON_LRU (2) gives each CPU an LRU list. */
function source(kind: Kind, maxEntries: number, flags: number): string {
  return `#include "loader.h"
struct { __uint(type, ${kind === "lru_hash" ? 9 : 10}); __uint(max_entries, ${maxEntries}); __uint(map_flags, ${flags}); __type(key, __u32); __type(value, __u64); } lru SEC(".maps");
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
SEC("raw_tp/sys_enter") int put(__u64 *ctx)
{
	__u32 key = ctx[0];
	__u64 value = key;
	return bpf_map_update_elem(&lru, &key, &value, ctx[1]);
}
SEC("raw_tp/sys_enter") int get(__u64 *ctx)
{
	__u32 key = ctx[0];
	return bpf_map_lookup_elem(&lru, &key) != 0;
}
SEC("raw_tp/sys_enter") int del(__u64 *ctx)
{
	__u32 key = ctx[0];
	return bpf_map_delete_elem(&lru, &key);
}
char LICENSE[] SEC("license") = "GPL";
`;
}

const ctx = (k: number, flags = 0) => new Uint8Array(new BigUint64Array([BigInt(k), BigInt(flags)]).buffer);

/** Each program's result (as an int) and the keys left, ascending. */
interface Outcome {
  results: number[];
  kept: number[];
}

async function inSimulator(object: string, ops: readonly Op[]): Promise<Outcome> {
  const sim = await simulate(object, { cpus: 2 });
  const results = ops.map(([prog, key, cpu, flags]) => Number(BigInt.asIntN(32, sim.run(prog, ctx(key, flags), { cpu }).r0)));
  const kept = sim.map("lru").entries().map(([k]) => Number(k)).sort((a, b) => a - b);
  return { results, kept };
}

async function inKernel(object: string, ops: readonly Op[], keys: number): Promise<Outcome> {
  const { Session, openMap } = await import("../../runtime/loader/index.js");
  const session = new Session();
  try {
    const obj = session.loadFile(object);
    const fds = { put: obj.program("put").fd, get: obj.program("get").fd, del: obj.program("del").fd };
    // BPF_F_TEST_RUN_ON_CPU (1): a raw tracepoint program runs on the CPU asked for.
    const results = ops.map(([prog, key, cpu, flags]) => obj.sys.progTestRun(fds[prog], { ctxIn: ctx(key, flags), flags: 1, cpu, repeat: 0, ctxSizeOut: 0 }).retval | 0);
    const lru = openMap(obj, "lru");
    // Lookups from user space leave the ref bits alone.
    const kept = Array.from({ length: keys }, (_, k) => k).filter((k) => lru.get(ctx(k).subarray(0, 4)) !== undefined);
    return { results, kept };
  } finally {
    await session.close();
  }
}

/**
 * `count` ops on keys below `keys`: half updates (a fifth of them BPF_NOEXIST or BPF_EXIST), 40% lookups, 10% deletes,
 * on CPUs that change every few ops.
 * Split: CPU 0 updates and deletes, CPU 1 looks up (so CPU 1 never refills, and its lookups set ref bits).
 */
function sequence(seed: number, count: number, keys: number, split = false): Op[] {
  const r = new Prng(seed);
  const ops: Op[] = [];
  let cpu = 0;
  for (let i = 0; i < count; i++) {
    if (r.chance(0.3)) cpu = r.below(2);
    const x = r.below(10);
    const prog = x < 5 ? "put" : x < 9 ? "get" : "del";
    const flags = prog === "put" && r.chance(0.2) ? r.pick([1, 2]) : 0;
    ops.push([prog, r.below(keys), split ? (prog === "get" ? 1 : 0) : cpu, flags]);
  }
  return ops;
}

async function compile(kind: Kind, maxEntries: number, flags = 0): Promise<string | undefined> {
  const { compileC, CLANG } = await import("../loader/support.js");
  return CLANG ? compileC(`lru-evict-${kind}-${maxEntries}-${flags}`, source(kind, maxEntries, flags)) : undefined;
}

// Keys 0 to 39 updated on alternate CPUs, each update followed by a lookup of the key 3 below it on the other CPU:
// the lookups set ref bits, which spare those keys from the next shrink of the inactive list.
test("lru_hash: lookups on the other CPU keep the keys the kernel keeps", async () => {
  const object = await compile("lru_hash", 8);
  if (!object || possibleCpus() !== 2) return; // the recorded keys are 2 CPUs'
  const ops: Op[] = [];
  for (let k = 0; k < 40; k++) {
    ops.push(["put", k, k % 2]);
    if (k >= 3) ops.push(["get", k - 3, (k + 1) % 2]);
  }
  const sim = await inSimulator(object, ops);
  assert.deepEqual(sim.kept, [33, 34, 35, 37, 38, 39]);
  if (!skip) assert.deepEqual(sim, await inKernel(object, ops, 40));
});

/** [kind, max entries, keys, ops, seeds]: maps of 1 to 3 take elements from the other CPU's lists. */
const SHAPES: Array<[Kind, number, number, number, number[], number?]> = [
  ["lru_hash", 1, 4, 100, [21, 22]],
  ["lru_hash", 2, 5, 150, [23, 24]],
  ["lru_hash", 3, 8, 150, [25, 26]],
  ["lru_hash", 4, 10, 200, [1, 2, 3]],
  ["lru_hash", 8, 20, 300, [4, 5, 6]],
  ["lru_hash", 16, 24, 400, [7, 8, 9]],
  ["lru_hash", 33, 90, 500, [10, 11]],
  ["lru_hash", 100, 160, 1500, [12, 13]],
  ["lru_hash", 600, 1000, 5000, [14]],
  ["lru_percpu_hash", 8, 20, 300, [15, 16]],
  ["lru_percpu_hash", 40, 70, 600, [17, 18]],
  // BPF_F_NO_COMMON_LRU: max entries round up to a multiple of the CPUs (3 to 4).
  ["lru_hash", 3, 8, 200, [27, 28], 2],
  ["lru_hash", 16, 30, 400, [29, 30], 2],
  ["lru_hash", 101, 180, 1500, [31], 2],
  ["lru_percpu_hash", 9, 20, 300, [32, 33], 2],
];

for (const [kind, maxEntries, keys, count, seeds, flags] of SHAPES) {
  test(`${kind}${flags ? " (BPF_F_NO_COMMON_LRU)" : ""} of ${maxEntries}: random updates, lookups and deletes on two CPUs keep the kernel's keys`, { skip: skip ?? false }, async () => {
    const object = await compile(kind, maxEntries, flags);
    if (!object || possibleCpus() !== 2) return;
    for (const seed of seeds) {
      for (const split of [false, true]) {
        const ops = sequence(seed, count, keys, split);
        const sim = await inSimulator(object, ops);
        const kernel = await inKernel(object, ops, keys);
        const what = `seed ${seed}${split ? ", lookups on CPU 1" : ""}`;
        const diverged = sim.results.findIndex((r, i) => r !== kernel.results[i]);
        assert.equal(diverged, -1, `${what}: op ${diverged} (${ops[diverged]?.join(" ")}) gave ${sim.results[diverged]}, the kernel ${kernel.results[diverged]}`);
        assert.deepEqual(sim.kept, kernel.kept, `${what}: the keys left`);
      }
    }
  });
}

// BPF_F_NO_COMMON_LRU rounds max entries up to a multiple of the CPUs, for the template a map of maps checks its
// inner maps against too: an inner LRU map of 3 such entries (4 on 2 CPUs) fits.
test("lru_hash (BPF_F_NO_COMMON_LRU) of 3 fits a map of maps declaring 3", async () => {
  const { compileC, CLANG } = await import("../loader/support.js");
  if (!CLANG) return;
  const object = compileC(
    "lru-evict-inner",
    `#include "loader.h"
struct inner { __uint(type, 9); __uint(max_entries, 3); __uint(map_flags, 2); __type(key, __u32); __type(value, __u64); } in1 SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 1); __type(key, __u32); __array(values, struct inner); } outer SEC(".maps") = { .values = { &in1 } };
SEC("raw_tp/sys_enter") int put(__u64 *ctx)
{
	__u32 key = 0;
	__u64 value = 1;
	void *m = bpf_map_lookup_elem(&outer, &key);
	return m ? bpf_map_update_elem(m, &key, &value, BPF_ANY) : 1;
}
char LICENSE[] SEC("license") = "GPL";
`,
  );
  const sim = await simulate(object, { cpus: 2 });
  assert.equal(sim.run("put", ctx(0), { cpu: 0 }).r0, 0n);
  if (skip) return;
  const { Session } = await import("../../runtime/loader/index.js");
  const session = new Session();
  try {
    const obj = session.loadFile(object);
    assert.equal(obj.sys.progTestRun(obj.program("put").fd, { ctxIn: ctx(0), flags: 1, cpu: 0, repeat: 0, ctxSizeOut: 0 }).retval, 0);
  } finally {
    await session.close();
  }
});
