// Unit tests for tools/syslat.ts: syscall latency from sys_enter to sys_exit on the same thread, by syscall number
// (stats and the slowest call) or by process, all calls or the failed ones.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const formats = tracepointFormats("raw_syscalls/sys_enter", "raw_syscalls/sys_exit");
const US = 1000;

const syslat = async (options: { globals?: Record<string, number>; targetPid?: number } = {}) => {
  const sim = await simulate("tools/syslat.ts", { tracepointFormats: formats, ...options });
  /** Thread `pid` of process `tgid` makes syscall `id`, which takes `us` microseconds and returns `ret`. */
  const call = (task: { pid: number; tgid: number; comm: string }, id: number, us: number, ret = 0) => {
    sim.tracepoint("raw_syscalls", "sys_enter", { id, args: [0, 0, 0, 0, 0, 0] }, task);
    sim.kernel.advance(us * US);
    sim.tracepoint("raw_syscalls", "sys_exit", { id, ret }, task);
  };
  return { sim, call };
};

const cat = { pid: 100, tgid: 100, comm: "cat" };
const worker = { pid: 201, tgid: 200, comm: "worker" };

test("syslat: calls, average and total microseconds and the slowest call, by syscall number; threads are timed apart", async () => {
  const { sim, call } = await syslat();
  call(cat, 0, 10);
  call(cat, 0, 30);
  call(worker, 1, 7);
  // Two threads in syscalls at once, each timed from its own entry.
  sim.tracepoint("raw_syscalls", "sys_enter", { id: 7, args: [0, 0, 0, 0, 0, 0] }, cat);
  sim.kernel.advance(5 * US);
  sim.tracepoint("raw_syscalls", "sys_enter", { id: 0, args: [0, 0, 0, 0, 0, 0] }, worker);
  sim.kernel.advance(20 * US);
  sim.tracepoint("raw_syscalls", "sys_exit", { id: 7, ret: 1 }, cat); // 25 us
  sim.kernel.advance(2 * US);
  sim.tracepoint("raw_syscalls", "sys_exit", { id: 0, ret: 4096 }, worker); // 22 us
  sim.tracepoint("raw_syscalls", "sys_exit", { id: 3, ret: 0 }, { pid: 300, comm: "old" }); // entered before the attach
  assert.deepEqual(sim.map("latency").toMap(), new Map([
    [0n, { count: 3n, average: 20n, total: 62n }],
    [1n, { count: 1n, average: 7n, total: 7n }],
    [7n, { count: 1n, average: 25n, total: 25n }],
  ]));
  assert.deepEqual(sim.map("slowest").toMap(), new Map([[0n, 30n], [1n, 7n], [7n, 25n]]));
  assert.equal(sim.map("processes").toMap().size, 0);
});

test("syslat: --set byProcess=1 counts by process, --set errors=1 only failed calls; with a target only its calls count", async () => {
  const { sim, call } = await syslat({ globals: { byProcess: 1, errors: 1 }, targetPid: 200 });
  call(worker, 257, 12, -2); // ENOENT
  call(worker, 257, 8, 3);
  call({ pid: 202, tgid: 200, comm: "worker" }, 0, 4, -11); // EAGAIN, another thread of the process
  call(cat, 0, 50, -4); // not the target
  assert.deepEqual(sim.map("processes").toMap(), new Map([[{ pid: 200, comm: "worker" }, { count: 2n, average: 8n, total: 16n }]]));
  assert.equal(sim.map("latency").toMap().size, 0);
});
