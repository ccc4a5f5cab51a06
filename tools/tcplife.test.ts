// Unit tests for tools/tcplife.ts: TCP sessions printed at CLOSE with their process, ends, bytes (from the tcp_sock,
// by BTF) and lifetime.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const none = (n: number) => new Array(n).fill(0);
const columns = (line: string) => line.trim().split(/\s+/);
const formats = tracepointFormats("sock/inet_sock_set_state");

test("tcplife: a connect's session, from SYN_SENT to CLOSE, with the connecting process, kilobytes each way and milliseconds", async () => {
  const sim = await simulate("tools/tcplife.ts", { tracepointFormats: formats });
  sim.begin();
  assert.deepEqual(columns(sim.output()), ["PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB", "MS"]);
  const tp = sim.kernel.alloc("tcp_sock", { bytes_acked: 4096n, bytes_received: 300_000n });
  const set = (oldstate: number, newstate: number, task: { pid: number; comm: string }) =>
    sim.tracepoint("sock", "inet_sock_set_state", { skaddr: tp.address, oldstate, newstate, sport: 45916, dport: 80, family: 2, protocol: 6, saddr: [127, 0, 0, 1], daddr: [127, 0, 0, 2], saddr_v6: none(16), daddr_v6: none(16) }, task);
  set(7, 2, { pid: 300, comm: "curl" }); // CLOSE -> SYN_SENT: the session is born, curl connects
  sim.kernel.advance(250_000);
  set(2, 1, { pid: 0, comm: "swapper/1" }); // ESTABLISHED in a softirq
  sim.kernel.advance(1_390_000);
  set(1, 4, { pid: 300, comm: "curl" });
  set(4, 7, { pid: 0, comm: "swapper/0" }); // CLOSE after 1.64 ms, still curl's
  assert.deepEqual(columns(sim.output()), ["300", "curl", "127.0.0.1", "45916", "127.0.0.2", "80", "4", "292", "1.64"]);
  assert.equal(sim.map("sessions").toMap().size, 0);
});

test("tcplife: an accepted session takes the process current at CLOSE; IPv6 ends; sessions born before the probe and other protocols print nothing", async () => {
  const sim = await simulate("tools/tcplife.ts", { tracepointFormats: formats });
  const tp = sim.kernel.alloc("tcp_sock", { bytes_acked: 2048n, bytes_received: 0n });
  const loopback6 = [...none(15), 1];
  const set = (skaddr: bigint, oldstate: number, newstate: number, protocol: number, task: { pid: number; comm: string }) =>
    sim.tracepoint("sock", "inet_sock_set_state", { skaddr, oldstate, newstate, sport: 8000, dport: 51000, family: 10, protocol, saddr: none(4), daddr: none(4), saddr_v6: loopback6, daddr_v6: loopback6 }, task);
  set(tp.address, 12, 3, 6, { pid: 77, comm: "client" }); // NEW_SYN_RECV -> SYN_RECV in the client's softirq: born
  sim.kernel.advance(2_000_000);
  set(tp.address, 4, 7, 6, { pid: 42, comm: "server" }); // the server closes first (FIN_WAIT1 ... CLOSE)
  set(0xffff_8880_0000_1000n, 1, 7, 6, { pid: 42, comm: "server" }); // born before the probe
  set(0xffff_8880_0000_2000n, 7, 2, 262, { pid: 42, comm: "server" }); // MPTCP
  set(0xffff_8880_0000_2000n, 2, 7, 262, { pid: 42, comm: "server" });
  assert.deepEqual(sim.output().trimEnd().split("\n").map(columns), [["42", "server", "::1", "8000", "::1", "51000", "2", "0", "2.00"]]);
});
