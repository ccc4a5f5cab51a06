// Unit tests for tools/klockstat.ts: contended lock waits, timed per thread from contention_begin to contention_end,
// by the lock's kind (its flags) and the stack that waited.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const FAULT = [0xffff_ffff_8110_0000n, 0xffff_ffff_8111_0000n];
const MPROTECT = [0xffff_ffff_8120_0000n];
const LOCK = 0xffff_8880_0100_0000n;

test("klockstat: waits by lock kind and waiting stack, with count, average, total and the longest; threads wait apart", async () => {
  const sim = await simulate("tools/klockstat.ts", { tracepointFormats: tracepointFormats("lock/contention_begin", "lock/contention_end") });
  const wait = (pid: number, flags: number, stack: bigint[]) => sim.tracepoint("lock", "contention_begin", { lock_addr: LOCK, flags }, { pid, stacks: { kernel: stack } });
  const got = (pid: number) => sim.tracepoint("lock", "contention_end", { lock_addr: LOCK, ret: 0 }, { pid });
  wait(10, 2, FAULT); // rwsem read
  sim.kernel.advance(30_000);
  wait(11, 4, MPROTECT); // rwsem write, on another thread meanwhile
  sim.kernel.advance(20_000);
  got(10); // 50 us
  wait(10, 2, FAULT);
  sim.kernel.advance(10_000);
  got(10); // 10 us
  sim.kernel.advance(90_000);
  got(11); // 120 us
  got(12); // began before the attach
  const byWhere = (name: string) =>
    new Map((sim.map(name).entries() as [{ kind: string; stack: number }, unknown][]).map(([k, v]) => [`${k.kind} ${sim.kstack(k.stack)?.length}`, v]));
  assert.deepEqual(byWhere("waits"), new Map([
    ["rwsem:read 2", { count: 2n, average: 30n, total: 60n }],
    ["rwsem:write 1", { count: 1n, average: 120n, total: 120n }],
  ]));
  assert.deepEqual(byWhere("longest"), new Map([["rwsem:read 2", 50n], ["rwsem:write 1", 120n]]));
  const stacks = (sim.map("waits").entries() as [{ kind: string; stack: number }, unknown][]).map(([k]) => [k.kind, sim.kstack(k.stack)]);
  assert.deepEqual(new Map(stacks as [string, bigint[]][]), new Map([["rwsem:read", FAULT], ["rwsem:write", MPROTECT]]));
  assert.equal(sim.map("waiting").toMap().size, 0);
});
