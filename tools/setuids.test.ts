// Unit tests for tools/setuids.ts: setuid-family calls printed at their exit with the ids asked for and the result.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const NAMES = ["setuid", "setfsuid", "setreuid", "setresuid"];
const formats = tracepointFormats(...NAMES.flatMap((n) => [`syscalls/sys_enter_${n}`, `syscalls/sys_exit_${n}`]));
/** The columns after the time. */
const rows = (text: string) => text.trimEnd().split("\n").map((l) => l.slice(9).trim().split(/\s+/));

test("setuids: each call's ids (-1 for one left unchanged) and result, with the caller's uid at the exit", async () => {
  const sim = await simulate("tools/setuids.ts", { tracepointFormats: formats });
  sim.begin();
  assert.deepEqual(sim.output().trim().split(/\s+/), ["TIME", "PID", "COMM", "UID", "SYSCALL", "ARGS", "(RET)"]);
  const call = (name: string, args: Record<string, number>, ret: number, uid = 0) => {
    sim.tracepoint("syscalls", `sys_enter_${name}`, args, { pid: 700, comm: "su", uid });
    sim.tracepoint("syscalls", `sys_exit_${name}`, { ret }, { uid });
  };
  call("setresuid", { ruid: 0xffffffff, euid: 65534, suid: 0xffffffff }, 0);
  call("setreuid", { ruid: 1000, euid: 1000 }, 0, 1000);
  call("setfsuid", { uid: 65534 }, 0);
  call("setuid", { uid: 0 }, -1, 65534); // EPERM
  assert.deepEqual(rows(sim.output()), [
    ["700", "su", "0", "setresuid", "ruid=-1", "euid=65534", "suid=-1", "(0)"],
    ["700", "su", "1000", "setreuid", "ruid=1000", "euid=1000", "(0)"],
    ["700", "su", "0", "setfsuid", "uid=65534", "(0)"],
    ["700", "su", "65534", "setuid", "uid=0", "(-1)"],
  ]);
  assert.equal(sim.map("calls").toMap().size, 0);
});

test("setuids: an exit without its entry (the probe attached mid-call) prints nothing", async () => {
  const sim = await simulate("tools/setuids.ts", { tracepointFormats: formats });
  sim.tracepoint("syscalls", "sys_exit_setuid", { ret: 0 }, { pid: 701 });
  assert.equal(sim.output(), "");
});

test("setuids: with -c or -p (targetPid), only that process's calls", async () => {
  const sim = await simulate("tools/setuids.ts", { tracepointFormats: formats, targetPid: 800 });
  for (const pid of [799, 800]) {
    sim.tracepoint("syscalls", "sys_enter_setuid", { uid: 65534 }, { pid, comm: "x" });
    sim.tracepoint("syscalls", "sys_exit_setuid", { ret: 0 }, { pid });
  }
  assert.deepEqual(rows(sim.output()).map((r) => r[0]), ["800"]);
});
