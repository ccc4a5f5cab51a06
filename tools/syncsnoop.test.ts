// Unit tests for tools/syncsnoop.ts: the six sync syscalls' entries, through one glob, each line naming its tracepoint.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const calls = ["sync", "syncfs", "fsync", "fdatasync", "msync", "sync_file_range"];

test("syncsnoop: each sync syscall prints the caller and the tracepoint that fired, in bpftrace's columns", async () => {
  const sim = await simulate("tools/syncsnoop.ts", {
    tracepointFormats: tracepointFormats(...calls.map((c) => `syscalls/sys_enter_${c}`)),
    realtime: Date.UTC(2026, 10, 24, 21, 30, 45),
  });
  sim.begin();
  sim.tracepoint("syscalls", "sys_enter_fsync", { __syscall_nr: 74, fd: 3 }, { pid: 1237, comm: "python3" });
  sim.tracepoint("syscalls", "sys_enter_sync", { __syscall_nr: 162 }, { pid: 1238, comm: "sync" });
  sim.kernel.advance(2_000_000_000);
  sim.tracepoint("syscalls", "sys_enter_sync_file_range", { __syscall_nr: 277, fd: 5, offset: 0n, nbytes: 4096n, flags: 2 }, { pid: 77, comm: "postgres" });
  assert.equal(sim.output(), [
    "Tracing sync syscalls... Hit Ctrl-C to end.",
    "TIME      PID    COMM             EVENT",
    "21:30:45  1237   python3          tracepoint:syscalls:sys_enter_fsync",
    "21:30:45  1238   sync             tracepoint:syscalls:sys_enter_sync",
    "21:30:47  77     postgres         tracepoint:syscalls:sys_enter_sync_file_range",
    "",
  ].join("\n"));
});

test("syncsnoop: with a target (-c, -p) only its calls print", async () => {
  const sim = await simulate("tools/syncsnoop.ts", { tracepointFormats: tracepointFormats(...calls.map((c) => `syscalls/sys_enter_${c}`)), targetPid: 50 });
  sim.tracepoint("syscalls", "sys_enter_sync", { __syscall_nr: 162 }, { pid: 49, comm: "sync" });
  sim.tracepoint("syscalls", "sys_enter_syncfs", { __syscall_nr: 306, fd: 3 }, { pid: 51, tgid: 50, comm: "sync" });
  assert.match(sim.output(), /^\d\d:\d\d:\d\d  50     sync             tracepoint:syscalls:sys_enter_syncfs\n$/);
});
