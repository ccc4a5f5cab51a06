// The simulator on a clang-compiled libbpf-style object that calls back: bpf_loop and bpf_for_each_map_elem in a
// socket program, run by simulate() in both VM tiers and by BPF_PROG_TEST_RUN in the kernel, the globals and maps
// compared after each run.

import { readFileSync } from "node:fs";
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "../../runtime/test/index.js";
import { Session, openMap } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot } from "../../runtime/sys/index.js";
import { needsClang } from "./support.js";
import { compileC } from "../loader/support.js";

// `run` squares 0..nr-1 into `squares` through bpf_loop, stopping at index `stop`, then sums `squares` with
// bpf_for_each_map_elem, doubling each value it visits; it returns bpf_loop's result.
const SOURCE = `#include "loader.h"
char LICENSE[] SEC("license") = "GPL";
static long (*bpf_loop)(__u32 nr_loops, void *callback_fn, void *callback_ctx, __u64 flags) = (void *)181;
static long (*bpf_for_each_map_elem)(void *map, void *callback_fn, void *callback_ctx, __u64 flags) = (void *)164;
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, __u64); } squares SEC(".maps");
/* In: nr at 0, stop at 1. Out: bpf_loop's sum, bpf_for_each_map_elem's result and sum. */
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2); __type(key, __u32); __type(value, __u32); } params SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 3); __type(key, __u32); __type(value, __u64); } out SEC(".maps");
static void put(__u32 key, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&out, &key);
	if (p)
		*p = v;
}
struct loop_ctx { __u64 sum; __u32 stop; };
static long square(__u64 index, void *data)
{
	struct loop_ctx *c = data;
	__u32 key = index;
	__u64 v = index * index;
	if (index == c->stop)
		return 1;
	bpf_map_update_elem(&squares, &key, &v, BPF_ANY);
	c->sum += v;
	return 0;
}
static long add(void *map, __u32 *key, __u64 *value, void *data)
{
	*(__u64 *)data += *key * 1000 + *value;
	*value *= 2;
	return 0;
}
SEC("socket") int run(void *ctx)
{
	__u32 k0 = 0, k1 = 1;
	__u32 *nr = bpf_map_lookup_elem(&params, &k0);
	__u32 *stop = bpf_map_lookup_elem(&params, &k1);
	if (!nr || !stop)
		return -1;
	struct loop_ctx c = { .sum = 0, .stop = *stop };
	__u64 sum = 0;
	long n = bpf_loop(*nr, square, &c, 0);
	put(0, c.sum);
	put(1, bpf_for_each_map_elem(&squares, add, &sum, 0));
	put(2, sum);
	return n;
}
`;

const RUNS: [nr: number, stop: number][] = [
  [0, 100],
  [5, 100],
  [10, 3],
  [20, 0],
  [40, 100],
];

/** Each run's return value, outputs and (sorted) squares, after setting nr and stop through `set`. */
function observe(run: () => number, set: (index: number, v: number) => void, get: (index: number) => bigint, squares: () => [number, bigint][]): string[] {
  return RUNS.map(([nr, stop]) => {
    set(0, nr);
    set(1, stop);
    const r0 = run();
    const entries = squares()
      .sort((a, b) => a[0] - b[0])
      .map(([k, v]) => `${k}:${v}`)
      .join(",");
    return `r0=${r0} loop_sum=${get(0)} visited=${get(1)} each_sum=${get(2)} squares=${entries}`;
  });
}

const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);

test("clang object: bpf_loop and bpf_for_each_map_elem give the kernel's results in both VM tiers", { skip: needsClang.skip || missingRoot() || missingBpf() || false }, async () => {
  const object = readFileSync(compileC("sim-callbacks", SOURCE));
  const results: Record<string, string[]> = {};
  for (const tier of ["interpreter", "compiled"] as const) {
    const sim = await simulate(object, { name: "callbacks", tier });
    results[tier] = observe(
      () => Number(sim.run("run", new Uint8Array(64)).r0),
      (index, v) => sim.map("params").set(index, v),
      (index) => BigInt(sim.map("out").get(index) as bigint),
      () => [...(sim.map("squares").toMap() as Map<number, bigint>)],
    );
  }
  const session = new Session();
  try {
    const obj = session.load(object, { name: "callbacks" });
    const params = openMap(obj, "params");
    const out = openMap(obj, "out");
    const squares = openMap(obj, "squares");
    results.kernel = observe(
      () => obj.sys.progTestRun(obj.program("run").fd, { dataIn: new Uint8Array(64) }).retval,
      (index, v) => params.set(u32(index), u32(v)),
      (index) => BigInt(out.get(u32(index)) as number | bigint),
      () => [...squares.entries()].map(([k, v]) => [Number(k), BigInt(v as number | bigint)] as [number, bigint]),
    );
  } finally {
    await session.close();
  }
  assert.deepEqual(results.interpreter, results.kernel);
  assert.deepEqual(results.compiled, results.kernel);
});
