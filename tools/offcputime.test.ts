// Unit tests for tools/offcputime.ts: time off CPU, from a task's switch out to its switch back in, summed by the
// stacks it left the CPU in and its name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

const MS = 1_000_000n;
const SLEEP = [0xffff_ffff_8110_0000n, 0xffff_ffff_8120_0000n];
const READ = [0xffff_ffff_8130_0000n];

const offcputime = async (options: { targetPid?: number; globals?: Record<string, number> } = {}) => {
  const sim = await simulate("tools/offcputime.ts", options);
  const task = (pid: number, tgid: number, comm: string) => sim.kernel.alloc("task_struct", { pid, tgid, comm });
  /** `prev` leaves the CPU in `stack` (the switch runs in it), `next` comes on. */
  const switchTo = (prev: ReturnType<typeof task>, next: ReturnType<typeof task>, stack: bigint[]) => sim.rawTracepoint("sched_switch", [0, prev, next, 1], { stacks: { kernel: stack, user: [0x40_1000n] } });
  const offcpu = () =>
    (sim.map("offcpu").entries() as [{ kernel: number; user: bigint; comm: string }, bigint][]).map(([where, us]) => {
      assert.deepEqual(sim.ustack(where.user), [0x40_1000n]);
      return [sim.kstack(where.kernel), where.comm, us];
    });
  return { sim, task, switchTo, offcpu, idle: task(0, 0, "swapper/0") };
};

test("offcputime: each spell off CPU adds its microseconds to the stack the task left in", async () => {
  const { sim, task, switchTo, offcpu, idle } = await offcputime();
  const worker = task(42, 42, "worker");
  switchTo(worker, idle, SLEEP);
  sim.kernel.advance(5n * MS);
  switchTo(idle, worker, []);
  switchTo(worker, idle, SLEEP);
  sim.kernel.advance(3n * MS);
  switchTo(idle, worker, []);
  switchTo(worker, idle, READ);
  sim.kernel.advance(1n * MS);
  switchTo(idle, worker, []);
  assert.deepEqual(offcpu().sort((a, b) => Number(a[2]) - Number(b[2])), [[READ, "worker", 1000n], [SLEEP, "worker", 8000n]]);
  assert.equal(sim.map("away").toMap().size, 0, "every spell ended");
});

test("offcputime: with a target only its tasks are followed; minUs leaves short spells out", async () => {
  const { sim, task, switchTo, offcpu, idle } = await offcputime({ targetPid: 42, globals: { minUs: 2000 } });
  const worker = task(43, 42, "worker");
  const other = task(50, 50, "other");
  switchTo(other, idle, READ);
  switchTo(worker, idle, SLEEP);
  sim.kernel.advance(1n * MS);
  switchTo(idle, other, []);
  switchTo(idle, worker, []);
  switchTo(worker, idle, SLEEP);
  sim.kernel.advance(4n * MS);
  switchTo(idle, worker, []);
  assert.deepEqual(offcpu(), [[SLEEP, "worker", 4000n]]);
});
