// Unit tests for tools/tcpstates.ts: TCP state changes in bcc's columns, with addresses, ports and the time in the
// state left.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const SK = 0xffff_8880_1234_5000n;
const none = (n: number) => new Array(n).fill(0);
const columns = (line: string) => line.trim().split(/\s+/);

test("tcpstates: an IPv4 connection's changes, each with the time spent in the state it leaves; the socket leaves the map at CLOSE", async () => {
  const sim = await simulate("tools/tcpstates.ts", { tracepointFormats: tracepointFormats("sock/inet_sock_set_state") });
  sim.begin();
  assert.deepEqual(columns(sim.output()), ["SKADDR", "C-PID", "C-COMM", "LADDR", "LPORT", "RADDR", "RPORT", "OLDSTATE", "->", "NEWSTATE", "MS"]);
  const set = (oldstate: number, newstate: number) =>
    sim.tracepoint("sock", "inet_sock_set_state", { skaddr: SK, oldstate, newstate, sport: 40000, dport: 80, family: 2, protocol: 6, saddr: [10, 0, 0, 2], daddr: [93, 184, 216, 34], saddr_v6: none(16), daddr_v6: none(16) }, { pid: 123, comm: "curl" });
  set(7, 2); // CLOSE -> SYN_SENT
  sim.kernel.advance(300_000);
  set(2, 1); // SYN_SENT -> ESTABLISHED after 300 us
  sim.kernel.advance(2_000_000_000);
  set(1, 7); // ESTABLISHED -> CLOSE after 2 s
  const lines = sim.output().trimEnd().split("\n").map(columns);
  assert.deepEqual(lines, [
    ["ffff888012345000", "123", "curl", "10.0.0.2", "40000", "93.184.216.34", "80", "CLOSE", "->", "SYN_SENT", "0.000"],
    ["ffff888012345000", "123", "curl", "10.0.0.2", "40000", "93.184.216.34", "80", "SYN_SENT", "->", "ESTABLISHED", "0.300"],
    ["ffff888012345000", "123", "curl", "10.0.0.2", "40000", "93.184.216.34", "80", "ESTABLISHED", "->", "CLOSE", "2000.000"],
  ]);
  assert.equal(sim.map("since").toMap().size, 0);
});

test("tcpstates: IPv6 addresses come from the record's v6 fields; other protocols (MPTCP, SCTP) are left out", async () => {
  const sim = await simulate("tools/tcpstates.ts", { tracepointFormats: tracepointFormats("sock/inet_sock_set_state") });
  const loopback6 = [...none(15), 1];
  sim.tracepoint("sock", "inet_sock_set_state", { skaddr: SK, oldstate: 7, newstate: 10, sport: 8080, dport: 0, family: 10, protocol: 132, saddr: none(4), daddr: none(4), saddr_v6: loopback6, daddr_v6: none(16) });
  sim.tracepoint("sock", "inet_sock_set_state", { skaddr: SK, oldstate: 7, newstate: 10, sport: 8080, dport: 0, family: 10, protocol: 6, saddr: none(4), daddr: none(4), saddr_v6: loopback6, daddr_v6: none(16) });
  // The simulator's default task (pid 1000, tsbpf-test) is what the packet interrupted.
  assert.deepEqual(sim.output().trimEnd().split("\n").map(columns), [["ffff888012345000", "1000", "tsbpf-test", "::1", "8080", "::", "0", "CLOSE", "->", "LISTEN", "0.000"]]);
});
