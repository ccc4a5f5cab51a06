// Unit tests for tools/tcpstates.ts: TCP state changes with addresses, ports and the time in the state left.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const SK = 0xffff_8880_1234_5000n;
const none = (n: number) => new Array(n).fill(0);

test("tcpstates: an IPv4 connection's changes, each with the time spent in the state it leaves; the socket leaves the map at CLOSE", async () => {
  const sim = await simulate("tools/tcpstates.ts", { tracepointFormats: tracepointFormats("sock/inet_sock_set_state") });
  const set = (oldstate: number, newstate: number) =>
    sim.tracepoint("sock", "inet_sock_set_state", { skaddr: SK, oldstate, newstate, sport: 40000, dport: 80, family: 2, protocol: 6, saddr: [10, 0, 0, 2], daddr: [93, 184, 216, 34], saddr_v6: none(16), daddr_v6: none(16) }, { pid: 123, comm: "curl" });
  set(7, 2); // CLOSE -> SYN_SENT
  sim.kernel.advance(300_000);
  set(2, 1); // SYN_SENT -> ESTABLISHED after 300 us
  sim.kernel.advance(2_000_000_000);
  set(1, 7); // ESTABLISHED -> CLOSE after 2 s
  const changes = sim.events<{ pid: number; comm: string; saddr: number[]; daddr: number[]; sport: number; dport: number; oldstate: number; newstate: number; usecs: number }>("changes");
  assert.deepEqual(changes.map((c) => [c.oldstate, c.newstate, c.usecs]), [[7, 2, 0], [2, 1, 300], [1, 7, 2_000_000]]);
  assert.deepEqual({ ...changes[0]!, oldstate: 0, newstate: 0, usecs: 0 }, { pid: 123, comm: "curl", family: 2, sport: 40000, dport: 80, saddr: [10, 0, 0, 2], daddr: [93, 184, 216, 34], saddr6: none(16), daddr6: none(16), oldstate: 0, newstate: 0, usecs: 0 });
  assert.equal(sim.map("since").toMap().size, 0);
});

test("tcpstates: IPv6 addresses come from the record's v6 fields; other protocols (MPTCP, SCTP) are left out", async () => {
  const sim = await simulate("tools/tcpstates.ts", { tracepointFormats: tracepointFormats("sock/inet_sock_set_state") });
  const loopback6 = [...none(15), 1];
  sim.tracepoint("sock", "inet_sock_set_state", { skaddr: SK, oldstate: 7, newstate: 10, sport: 8080, dport: 0, family: 10, protocol: 132, saddr: none(4), daddr: none(4), saddr_v6: loopback6, daddr_v6: none(16) });
  sim.tracepoint("sock", "inet_sock_set_state", { skaddr: SK, oldstate: 7, newstate: 10, sport: 8080, dport: 0, family: 10, protocol: 6, saddr: none(4), daddr: none(4), saddr_v6: loopback6, daddr_v6: none(16) });
  const [listen, ...rest] = sim.events<{ family: number; saddr: number[]; saddr6: number[]; newstate: number }>("changes");
  assert.deepEqual(rest, []);
  assert.deepEqual([listen!.family, listen!.saddr, listen!.saddr6, listen!.newstate], [10, none(4), loopback6, 10]);
});
