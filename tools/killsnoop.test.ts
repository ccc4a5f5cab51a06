// Unit tests for tools/killsnoop.ts: kill(2) calls as records with the target, the signal and the result.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const killsnoop = () => simulate("tools/killsnoop.ts", { tracepointFormats: tracepointFormats("syscalls/sys_enter_kill", "syscalls/sys_exit_kill") });

test("killsnoop: the exit sends the entry's target and signal with kill's result", async () => {
  const sim = await killsnoop();
  sim.tracepoint("syscalls", "sys_enter_kill", { pid: 4242, sig: 15 }, { pid: 100, comm: "bash" });
  sim.tracepoint("syscalls", "sys_exit_kill", { ret: 0 });
  sim.tracepoint("syscalls", "sys_enter_kill", { pid: 999999, sig: 9 }, { pid: 100 });
  sim.tracepoint("syscalls", "sys_exit_kill", { ret: -3 }); // -ESRCH
  assert.deepEqual(sim.events("kills"), [
    { pid: 100, comm: "bash", signal: 15, target: 4242, result: 0 },
    { pid: 100, comm: "bash", signal: 9, target: 999999, result: -3 },
  ]);
  assert.equal(sim.map("pending").toMap().size, 0, "each entry leaves the map at its exit");
});

test("killsnoop: a process group target is negative (the record widens it to 64 bits); an exit without its entry sends nothing", async () => {
  const sim = await killsnoop();
  sim.tracepoint("syscalls", "sys_exit_kill", { ret: 0 }, { pid: 7 });
  sim.tracepoint("syscalls", "sys_enter_kill", { pid: 0xffff_ff9cn, sig: 2 }, { pid: 8, comm: "sh" }); // kill(-100, SIGINT)
  sim.tracepoint("syscalls", "sys_exit_kill", { ret: 0 });
  assert.deepEqual(sim.events("kills"), [{ pid: 8, comm: "sh", signal: 2, target: -100, result: 0 }]);
});
