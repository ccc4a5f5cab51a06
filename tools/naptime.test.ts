// Unit tests for tools/naptime.ts: sleeps with the requested time read from user memory and the sleeper's parent.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const naptime = async () => {
  const sim = await simulate("tools/naptime.ts", { tracepointFormats: tracepointFormats("syscalls/sys_enter_nanosleep", "syscalls/sys_enter_clock_nanosleep") });
  // struct __kernel_timespec in the sleeper's memory.
  const timespec = (sec: number, nsec: number) => {
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    view.setBigInt64(0, BigInt(sec), true);
    view.setBigInt64(8, BigInt(nsec), true);
    return sim.kernel.bytes(bytes, { user: true });
  };
  const bash = sim.kernel.alloc("task_struct", { comm: "bash", tgid: 500, pid: 500 });
  sim.kernel.currentTask = sim.kernel.alloc("task_struct", { comm: "sleep", tgid: 501, pid: 501, real_parent: bash });
  return { sim, timespec };
};

test("naptime: each sleep's length in seconds to the millisecond, with the sleeper's parent, in bpftrace's columns", async () => {
  const { sim, timespec } = await naptime();
  sim.tracepoint("syscalls", "sys_enter_clock_nanosleep", { which_clock: 0, flags: 0, rqtp: timespec(1, 5_000_000), rmtp: 0 }, { pid: 501, comm: "sleep" });
  sim.tracepoint("syscalls", "sys_enter_nanosleep", { rqtp: timespec(0, 250_000_000), rmtp: 0 }, { pid: 501, comm: "sleep" });
  assert.equal(sim.output(), "500    bash             501    sleep            1.005\n500    bash             501    sleep            0.250\n");
});

test("naptime: an absolute deadline (TIMER_ABSTIME), a zero-length nap and an unreadable request print nothing", async () => {
  const { sim, timespec } = await naptime();
  sim.tracepoint("syscalls", "sys_enter_clock_nanosleep", { which_clock: 1, flags: 1, rqtp: timespec(20_000, 0), rmtp: 0 });
  sim.tracepoint("syscalls", "sys_enter_nanosleep", { rqtp: timespec(0, 0), rmtp: 0 });
  sim.tracepoint("syscalls", "sys_enter_nanosleep", { rqtp: sim.kernel.faulting(undefined, { user: true }), rmtp: 0 });
  assert.equal(sim.output(), "");
});
