// Unit tests for tools/statsnoop.ts: stat-family calls with the path, read at exit, and the result.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const calls = ["newstat", "newlstat", "newfstatat", "statx"].flatMap((c) => [`syscalls/sys_enter_${c}`, `syscalls/sys_exit_${c}`]);
const statsnoop = (targetPid = 0) => simulate("tools/statsnoop.ts", { tracepointFormats: tracepointFormats(...calls), targetPid });

test("statsnoop: the four calls' paths and results; fstat's empty path is left out", async () => {
  const sim = await statsnoop();
  const path = (p: string) => sim.kernel.userString(p);
  sim.tracepoint("syscalls", "sys_enter_statx", { dfd: -100, filename: path("/etc/hostname"), flags: 0, mask: 0xfff, buffer: 0 }, { pid: 90, comm: "stat" });
  sim.tracepoint("syscalls", "sys_exit_statx", { ret: 0 });
  sim.tracepoint("syscalls", "sys_enter_newfstatat", { dfd: -100, filename: path("/nonexistent"), statbuf: 0, flag: 0 });
  sim.tracepoint("syscalls", "sys_exit_newfstatat", { ret: -2 });
  sim.tracepoint("syscalls", "sys_enter_newfstatat", { dfd: 3, filename: path(""), statbuf: 0, flag: 0x1000 }); // fstat(3)
  sim.tracepoint("syscalls", "sys_exit_newfstatat", { ret: 0 });
  sim.tracepoint("syscalls", "sys_enter_newstat", { filename: path("/a"), statbuf: 0 }, { pid: 91, comm: "old" });
  sim.tracepoint("syscalls", "sys_enter_newlstat", { filename: path("/b"), statbuf: 0 }, { pid: 92, comm: "old" });
  sim.tracepoint("syscalls", "sys_exit_newlstat", { ret: -13 }, { pid: 92 });
  sim.tracepoint("syscalls", "sys_exit_newstat", { ret: 0 }, { pid: 91 });
  assert.deepEqual(sim.events("stats"), [
    { pid: 90, comm: "stat", ret: 0, path: "/etc/hostname" },
    { pid: 90, comm: "stat", ret: -2, path: "/nonexistent" },
    { pid: 92, comm: "old", ret: -13, path: "/b" },
    { pid: 91, comm: "old", ret: 0, path: "/a" },
  ]);
  assert.equal(sim.map("paths").toMap().size, 0);
});

test("statsnoop: with a target, other processes' calls are not traced", async () => {
  const sim = await statsnoop(90);
  sim.tracepoint("syscalls", "sys_enter_statx", { dfd: -100, filename: sim.kernel.userString("/x"), flags: 0, mask: 0, buffer: 0 }, { pid: 93 });
  sim.tracepoint("syscalls", "sys_exit_statx", { ret: 0 });
  assert.deepEqual(sim.events("stats"), []);
});
