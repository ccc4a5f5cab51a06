// Unit tests for tools/exitsnoop.ts: process exits with the parent, the age and the exit code or signal, from the
// exiting task's task_struct.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const MS = 1_000_000n;

const exitsnoop = async (globals?: Record<string, number>) => {
  const sim = await simulate("tools/exitsnoop.ts", { tracepointFormats: tracepointFormats("sched/sched_process_exit"), ...(globals ? { globals } : {}) });
  const shell = sim.kernel.alloc("task_struct", { pid: 7, tgid: 7, comm: "bash" });
  /** The current task becomes `comm` (pid, tgid), started at `startNs`, ending with wait()'s status word. */
  const exiting = (pid: number, tgid: number, comm: string, startNs: bigint, status: number) => {
    const task = sim.kernel.alloc("task_struct", { pid, tgid, comm, real_parent: shell, start_time: startNs, exit_code: status });
    sim.kernel.setTask({ pid, tgid, comm });
    sim.kernel.currentTask = task.address;
    return { comm, pid, prio: 120, group_dead: true };
  };
  return { sim, exiting };
};

test("exitsnoop: an exit code, a signal and a core dump, each with the parent and the age in ms", async () => {
  const { sim, exiting } = await exitsnoop();
  sim.kernel.advance(5000n * MS);
  const start = sim.kernel.time;
  sim.kernel.advance(1500n * MS);
  sim.tracepoint("sched", "sched_process_exit", exiting(42, 42, "make", start, 2 << 8)); // exit(2)
  sim.tracepoint("sched", "sched_process_exit", exiting(43, 43, "sleep", start + 500n * MS, 9)); // SIGKILL
  sim.tracepoint("sched", "sched_process_exit", exiting(44, 44, "crash", start + 1499n * MS, 0x80 | 11)); // SIGSEGV, core dumped
  assert.deepEqual(sim.events("exits"), [
    { pid: 42, tid: 42, ppid: 7, comm: "make", ageMs: 1500, exitCode: 2, signal: 0, core: false },
    { pid: 43, tid: 43, ppid: 7, comm: "sleep", ageMs: 1000, exitCode: 0, signal: 9, core: false },
    { pid: 44, tid: 44, ppid: 7, comm: "crash", ageMs: 1, exitCode: 0, signal: 11, core: true },
  ]);
});

test("exitsnoop: a thread that is not the process's last sends nothing, unless --set threads=1", async () => {
  for (const threads of [0, 1]) {
    const { sim, exiting } = await exitsnoop({ threads });
    sim.tracepoint("sched", "sched_process_exit", { ...exiting(51, 50, "worker", 0n, 0), group_dead: false });
    sim.tracepoint("sched", "sched_process_exit", exiting(50, 50, "server", 0n, 1 << 8));
    assert.deepEqual(sim.events<{ tid: number; pid: number; exitCode: number }>("exits").map((e) => [e.pid, e.tid, e.exitCode]), threads ? [[50, 51, 0], [50, 50, 1]] : [[50, 50, 1]]);
  }
});
