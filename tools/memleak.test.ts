// Unit tests for tools/memleak.ts: bytes and blocks allocated through libc and not freed, by allocating stack.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

type Sim = Awaited<ReturnType<typeof simulate>>;

/** Each stack's outstanding bytes and blocks, by its frames. */
function outstanding(sim: Sim): Map<string, [bigint, bigint]> {
  const frames = (stack: unknown) => sim.ustack(stack as bigint)!.map((ip) => ip.toString(16)).join(",");
  const blocks = new Map(sim.map("allocations").entries().map(([k, n]) => [frames(k), n as bigint]));
  return new Map(sim.map("outstanding").entries().map(([k, n]) => [frames(k), [n as bigint, blocks.get(frames(k))!]]));
}

test("memleak: malloc's and calloc's blocks count at their stacks until free() takes them back; a failed allocation counts nothing", async () => {
  const sim = await simulate("tools/memleak.ts");
  const leak = { user: [0x40_1000n, 0x40_2000n] };
  const tidy = { user: [0x40_3000n] };
  const alloc = (fn: string, args: number[], address: bigint, stacks: { user: bigint[] }) => {
    sim.uprobe(`libc.so.6:${fn}`, { args, pid: 30, stacks });
    sim.uretprobe(`libc.so.6:${fn}`, { ret: address });
  };
  alloc("malloc", [100], 0x5000n, leak);
  alloc("malloc", [100], 0x5100n, leak);
  alloc("calloc", [4, 256], 0x6000n, tidy);
  sim.uprobe("libc.so.6:free", { args: [0x6000n] });
  alloc("malloc", [1 << 30], 0n, tidy); // NULL: out of memory
  sim.uprobe("libc.so.6:free", { args: [0x7000n] }); // a block from before the run
  assert.deepEqual(outstanding(sim), new Map([["401000,402000", [200n, 2n]], ["403000", [0n, 0n]]]));
  assert.equal(sim.map("asked").toMap().size, 0);
});

test("memleak: realloc() takes its old block off the old stack and puts the new size on its own", async () => {
  const sim = await simulate("tools/memleak.ts");
  sim.uprobe("libc.so.6:malloc", { args: [64], pid: 31, stacks: { user: [0x40_1000n] } });
  sim.uretprobe("libc.so.6:malloc", { ret: 0x8000n });
  sim.uprobe("libc.so.6:realloc", { args: [0x8000n, 4096], stacks: { user: [0x40_2000n] } });
  sim.uretprobe("libc.so.6:realloc", { ret: 0x9000n });
  assert.deepEqual(outstanding(sim), new Map([["401000", [0n, 0n]], ["402000", [4096n, 1n]]]));
  sim.uprobe("libc.so.6:free", { args: [0x9000n] });
  assert.deepEqual(outstanding(sim), new Map([["401000", [0n, 0n]], ["402000", [0n, 0n]]]));
  assert.equal(sim.map("blocks").toMap().size, 0);
});
