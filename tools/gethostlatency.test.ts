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

test("gethostlatency: lookups of two processes interleave; each return, fired by its thread id alone, is that thread's", async () => {
  const sim = await simulate("tools/gethostlatency.ts");
  const lookup = (host: string, task: { pid: number; tgid: number; comm: string }) => sim.uprobe("libc.so.6:getaddrinfo", { args: [sim.kernel.userString(host)], ...task });
  lookup("a.example", { pid: 61, tgid: 60, comm: "curl" });
  sim.kernel.advance(1_000_000);
  lookup("b.example", { pid: 71, tgid: 70, comm: "wget" });
  sim.kernel.advance(500_000);
  lookup("c.example", { pid: 62, tgid: 60, comm: "curl" }); // curl's second thread
  sim.kernel.advance(250_000);
  // Back in each thread, as the scheduler would switch: the simulator keeps each task's process and name.
  sim.uretprobe("libc.so.6:getaddrinfo", { ret: 0, pid: 71 });
  sim.uretprobe("libc.so.6:getaddrinfo", { ret: 0, pid: 61 });
  sim.kernel.advance(1_000_000);
  sim.uretprobe("libc.so.6:getaddrinfo", { ret: -2, pid: 62 }); // EAI_NONAME: still timed
  assert.deepEqual(sim.events("lookups"), [
    { pid: 70, comm: "wget", usecs: 750, host: "b.example" },
    { pid: 60, comm: "curl", usecs: 1750, host: "a.example" },
    { pid: 60, comm: "curl", usecs: 1250, host: "c.example" },
  ]);
  assert.equal(sim.map("started").toMap().size, 0, "every lookup ended");
});
