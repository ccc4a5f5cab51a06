// Unit tests for tools/reqlat.ts: a function's calls timed from its uprobe to its uretprobe, by a field of the struct its
// first argument points to, with the struct and a by-value tag printed and the return values counted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

const columns = (line: string) => line.trim().split(/\s+/);

/** The probe's Request (tools/reqd.c's struct request) in the process's memory. */
function request(sim: Awaited<ReturnType<typeof simulate>>, id: number, kind: number, size: number, path: string): bigint {
  return sim.kernel.alloc("Request", { id, kind, size, path }, { user: true }).address;
}

/** struct tag { int a; int b; } by value: a in the register's low half, b in its high half. */
const tag = (a: number, b: number) => (BigInt.asUintN(32, BigInt(b)) << 32n) | BigInt.asUintN(32, BigInt(a));

test("reqlat: each call's request and tag printed at entry; its latency by kind and its return value at return", async () => {
  const sim = await simulate("tools/reqlat.ts");
  sim.begin();
  assert.deepEqual(columns(sim.output()), ["TID", "ID", "KIND", "SIZE", "PATH", "TAG"]);
  sim.uprobe("/tmp/reqd:handle", { args: [request(sim, 7, 1, 320, "/api/v1/items"), tag(7, -7), 1], pid: 500 });
  sim.kernel.advance(330_000);
  sim.uretprobe("/tmp/reqd:handle", { ret: 1327 });
  sim.uprobe("/tmp/reqd:handle", { args: [request(sim, 3, 3, 80, "/bad"), tag(3, -3), 1], pid: 501, tgid: 500 });
  sim.kernel.advance(85_000);
  sim.uretprobe("/tmp/reqd:handle", { ret: -22 });
  assert.deepEqual(sim.output().trimEnd().split("\n").map(columns), [
    ["500", "7", "1", "320", "/api/v1/items", "7,-7"],
    ["501", "3", "3", "80", "/bad", "3,-3"],
  ]);
  const hist = new Map(sim.map("usecs").entries().map(([k, n]) => {
    const { key, slot } = k as { key: number; slot: number };
    return [`${key} ${slot}`, n];
  }));
  assert.deepEqual(hist, new Map([["1 9", 1n], ["3 7", 1n]])); // 330 us in [256, 512), 85 us in [64, 128)
  assert.deepEqual(new Map(sim.map("results").entries()), new Map([[1327n, 1n], [-22n, 1n]]));
  assert.equal(sim.map("calls").toMap().size, 0);
});

test("reqlat: a return whose entry came before the probe counts nothing; an unreadable request prints zeros and is still timed", async () => {
  const sim = await simulate("tools/reqlat.ts");
  sim.uretprobe("/tmp/reqd:handle", { ret: 5, pid: 600 });
  assert.equal(sim.map("results").toMap().size, 0);
  sim.uprobe("/tmp/reqd:handle", { args: [sim.kernel.faulting(undefined, { user: true }).address, 0n, 0], pid: 600 });
  sim.kernel.advance(2_000);
  sim.uretprobe("/tmp/reqd:handle", { ret: 0 });
  assert.deepEqual(columns(sim.output()), ["600", "0", "0", "0", "0,0"]);
  assert.deepEqual(new Map(sim.map("results").entries()), new Map([[0n, 1n]]));
});
