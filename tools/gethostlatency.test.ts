// Unit tests for tools/gethostlatency.ts: libc name lookups timed from the uprobe to the uretprobe.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

test("gethostlatency: each lookup's latency in microseconds, with the name read at entry", async () => {
  const sim = await simulate("tools/gethostlatency.ts");
  sim.uprobe("libc.so.6:getaddrinfo", { args: [sim.kernel.userString("example.com"), 0, 0, 0], pid: 40, comm: "curl" });
  sim.kernel.advance(2_500_000);
  sim.uretprobe("libc.so.6:getaddrinfo", { ret: 0 });
  sim.uprobe("libc.so.6:gethostbyname", { args: [sim.kernel.userString("localhost")], pid: 41, comm: "ping" });
  sim.kernel.advance(40_000);
  sim.uretprobe("libc.so.6:gethostbyname", { ret: 0x7000 });
  assert.deepEqual(sim.events("lookups"), [
    { pid: 40, comm: "curl", usecs: 2500, host: "example.com" },
    { pid: 41, comm: "ping", usecs: 40, host: "localhost" },
  ]);
});

test("gethostlatency: threads time their own lookups; a return without its entry and an unreadable name", async () => {
  const sim = await simulate("tools/gethostlatency.ts");
  sim.uretprobe("libc.so.6:getaddrinfo", { ret: 0, pid: 50 });
  sim.uprobe("libc.so.6:getaddrinfo", { args: [sim.kernel.userString("a.test")], pid: 51, tgid: 50 });
  sim.uprobe("libc.so.6:getaddrinfo", { args: [sim.kernel.faulting(undefined, { user: true })], pid: 52, tgid: 50 });
  sim.kernel.advance(1_000);
  sim.uretprobe("libc.so.6:getaddrinfo", { ret: 0, pid: 52, tgid: 50 });
  sim.uretprobe("libc.so.6:getaddrinfo", { ret: 0, pid: 51, tgid: 50 });
  assert.deepEqual(sim.events<{ host: string; usecs: number }>("lookups").map((e) => [e.host, e.usecs]), [["", 1], ["a.test", 1]]);
});
