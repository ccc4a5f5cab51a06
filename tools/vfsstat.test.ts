// Unit tests for tools/vfsstat.ts: file system syscalls counted by tracepoint, printed and cleared each second.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const calls = ["read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64", "pwritev", "pwritev2", "open", "openat", "openat2", "creat", "fsync", "fdatasync"];

test("vfsstat: one handler shared by every probe counts each call by its tracepoint; each second prints the counts and starts again", async () => {
  const sim = await simulate("tools/vfsstat.ts", {
    tracepointFormats: tracepointFormats(...calls.map((c) => `syscalls/sys_enter_${c}`)),
    realtime: Date.UTC(2026, 10, 24, 21, 54, 58),
  });
  sim.begin();
  assert.equal(sim.output(), "Tracing key VFS calls... Hit Ctrl-C to end.\n");
  const enter = (call: string, n = 1) => { for (let i = 0; i < n; i++) sim.tracepoint("syscalls", `sys_enter_${call}`, {}); };
  enter("read", 3);
  enter("preadv2");
  enter("write", 2);
  enter("openat2");
  enter("fdatasync");
  sim.interval();
  const name = (call: string) => `tracepoint:syscalls:sys_enter_${call}`;
  assert.equal(sim.output(), "21:54:58\n");
  assert.deepEqual(sim.printed(), [{ map: "calls", entries: new Map([[name("read"), 3n], [name("preadv2"), 1n], [name("write"), 2n], [name("openat2"), 1n], [name("fdatasync"), 1n]]) }]);
  assert.equal(sim.map("calls").toMap().size, 0, "cleared after printing");
  enter("creat");
  sim.kernel.advance(1_000_000_000);
  sim.interval();
  assert.equal(sim.output(), "21:54:59\n");
  assert.deepEqual(sim.printed(), [{ map: "calls", entries: new Map([[name("creat"), 1n]]) }]);
  enter("pwrite64");
  sim.end();
  assert.equal(sim.map("calls").toMap().size, 0, "the last part of a second is not printed");
});
