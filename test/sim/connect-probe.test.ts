// A user's probe as a whole, tested the way its author would: connect() through libc's uprobe and uretprobe, the
// struct sockaddr_in read with readUser, ports to watch as an array parameter (--set ports=22,443 or globals),
// a ring buffer record with a nested struct, a Str and an Arr, a perf event per attempt, a log2 and a linear
// histogram, an LRU map of the last latencies, a per-CPU count, signal() on a refused connection and exit() after
// `maxConns` connections.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "../../runtime/test/index.js";

const PROBE = `import { uprobe, uretprobe, pidTgid, ktimeNs, comm, readUser, exit, signal, printf, ArrayMap, HashMap, LruHashMap, PerCpuArrayMap, RingBuf, PerfEventArray, Histogram, LinearHistogram, type u8, type u16, type u32, type u64, type i32, type Str, type Arr } from "tsbpf";
export const license = "GPL";
let ports: Arr<u16, 4> = [80, 443];
let maxConns: u32 = 3;
interface SockaddrIn { family: u16; port: u16; addr: u32 }
interface Peer { addr: Arr<u8, 4>; port: u16 }
export interface Conn { pid: u32; comm: Str<16>; peer: Peer; usecs: u64; ret: i32 }
interface Pending { start: u64; peer: Peer }
const pending = new HashMap<u32, Pending>(64);
export const recent = new LruHashMap<u32, u64>(4);
export const perCpu = new PerCpuArrayMap<u64>(1);
export const conns = new RingBuf<Conn>(4096);
export const attempts = new PerfEventArray<Peer>();
export const usecs = new Histogram();
export const byPort = new LinearHistogram(0, 1000, 100);
export const done = new ArrayMap<u64>(1);
export const enter = uprobe("libc.so.6", "connect", (fd: i32, sa: u64) => {
  const s = readUser<SockaddrIn>(sa);
  const port = ((s.port & 0xff) << 8) | (s.port >> 8);
  let watched = false;
  for (const p of ports) if (p !== 0 && p === port) watched = true;
  if (!watched) return;
  const peer: Peer = { addr: readUser<Arr<u8, 4>>(sa + 4), port };
  pending.update(pidTgid() as u32, { start: ktimeNs(), peer });
  attempts.output(peer);
});
export const leave = uretprobe("libc.so.6", "connect", (ret: i32) => {
  const tid = pidTgid() as u32;
  const p = pending.lookup(tid);
  if (p === null) return;
  const us = (ktimeNs() - p.start) / 1000;
  conns.output({ pid: pidTgid() >> 32, comm: comm(), peer: p.peer, usecs: us, ret });
  usecs.record(us);
  byPort.record(p.peer.port);
  recent.update(tid, us);
  perCpu.increment(0);
  pending.delete(tid);
  if (ret < 0) signal("SIGUSR1");
  done.increment(0);
  const n = done.lookup(0);
  if (n !== null && n >= maxConns) { printf("%d connections\\n", n); exit(3); }
});`;

/** A struct sockaddr_in in the caller's memory: AF_INET, the port in network order, the address. */
const sockaddr = (sim: Awaited<ReturnType<typeof simulate>>, port: number, addr: number[]) =>
  sim.kernel.bytes(new Uint8Array([2, 0, port >> 8, port & 0xff, ...addr, 0, 0, 0, 0, 0, 0, 0, 0]), { user: true });

test("connect probe: watched ports are timed per thread across interleaved tasks; records, histograms and counts agree", async () => {
  const sim = await simulate({ fileName: "connect.ts", text: PROBE });
  sim.uprobe("connect", { args: [3, sockaddr(sim, 443, [10, 0, 0, 1])], pid: 11, tgid: 10, comm: "curl", cpu: 1 });
  sim.uprobe("connect", { args: [4, sockaddr(sim, 80, [10, 0, 0, 2])], pid: 20, comm: "wget", cpu: 2 });
  sim.uprobe("connect", { args: [5, sockaddr(sim, 22, [10, 0, 0, 3])], pid: 30, comm: "ssh", cpu: 3 }); // not watched
  assert.deepEqual(sim.events("attempts"), [{ addr: [10, 0, 0, 1], port: 443 }, { addr: [10, 0, 0, 2], port: 80 }]);
  sim.kernel.advance(250_000);
  sim.uretprobe("connect", { ret: -111, pid: 20, cpu: 2 }); // ECONNREFUSED
  sim.kernel.advance(250_000);
  sim.uretprobe("connect", { ret: 0, pid: 11 }); // on CPU 2 too: the CPU stays until a firing moves it
  sim.uretprobe("connect", { ret: 0, pid: 30 });
  assert.deepEqual(sim.events("conns"), [
    { pid: 20, comm: "wget", peer: { addr: [10, 0, 0, 2], port: 80 }, usecs: 250, ret: -111 },
    { pid: 10, comm: "curl", peer: { addr: [10, 0, 0, 1], port: 443 }, usecs: 500, ret: 0 },
  ]);
  assert.deepEqual(sim.signals(), [{ signal: 10, tgid: 20, pid: 20, thread: false }], "SIGUSR1 to the refused process");
  const slots = (name: string) => Object.fromEntries(sim.map(name).toArray().flatMap((n, k) => (n ? [[k, n]] : [])));
  assert.deepEqual(slots("usecs"), { 8: 1n, 9: 1n }, "250 us in [128, 256), 500 in [256, 512)");
  assert.deepEqual(slots("byPort"), { 1: 1n, 5: 1n }, "port 80 in [0, 100), 443 in [400, 500)");
  assert.deepEqual(sim.map("perCpu").toArray(), [[0n, 0n, 2n, 0n]], "both returns ran on CPU 2");
  assert.deepEqual(sim.map("recent").entries(), [[20, 250n], [11, 500n]]);
  assert.equal(sim.exitCode(), undefined);
});

test("connect probe: --set-like globals pick the ports and the count that ends the run; the LRU keeps the latest threads", async () => {
  const sim = await simulate({ fileName: "connect.ts", text: PROBE }, { globals: { ports: [22], maxConns: 6 } });
  assert.deepEqual(sim.global("ports"), [22, 443, 0, 0], "elements past those given keep their initial values");
  for (let tid = 100; tid < 108; tid++) {
    sim.uprobe("connect", { args: [3, sockaddr(sim, tid % 2 ? 22 : 80, [192, 168, 0, tid & 0xff])], pid: tid });
    sim.kernel.advance(1_000);
    sim.uretprobe("connect", { ret: 0, pid: tid });
  }
  assert.deepEqual(sim.events<{ pid: number }>("conns").map((c) => c.pid), [101, 103, 105, 107], "port 80 is no longer watched");
  sim.uprobe("connect", { args: [3, sockaddr(sim, 443, [1, 1, 1, 1])], pid: 200 });
  sim.uretprobe("connect", { ret: 0, pid: 200 });
  sim.uprobe("connect", { args: [3, sockaddr(sim, 443, [1, 1, 1, 1])], pid: 201 });
  sim.uretprobe("connect", { ret: 0, pid: 201 });
  assert.equal(sim.exitCode(), 3);
  assert.equal(sim.output(), "6 connections\n", "what prints after exit() is left out");
  assert.deepEqual(sim.map("recent").entries().map(([tid]) => tid), [105, 107, 200, 201], "4 entries: the least recent left");
});
