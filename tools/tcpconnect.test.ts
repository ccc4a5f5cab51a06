// Unit tests for tools/tcpconnect.ts: TCP connection attempts (CLOSE -> SYN_SENT) in bcc's columns, IPv4 and IPv6,
// other changes and protocols left out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const FORMATS = tracepointFormats("sock/inet_sock_set_state");
const none = (n: number) => new Array(n).fill(0);
const columns = (line: string) => line.trim().split(/\s+/);
const change = (oldstate: number, newstate: number, more: Record<string, unknown> = {}) =>
  ({ skaddr: 0xffff_8880_1234_5000n, oldstate, newstate, sport: 0, dport: 443, family: 2, protocol: 6, saddr: [10, 0, 0, 2], daddr: [93, 184, 216, 34], saddr_v6: none(16), daddr_v6: none(16), ...more });

test("tcpconnect: each connect's process and addresses; later changes, other protocols and listens are left out", async () => {
  const sim = await simulate("tools/tcpconnect.ts", { tracepointFormats: FORMATS });
  sim.begin();
  sim.tracepoint("sock", "inet_sock_set_state", change(7, 2), { pid: 321, comm: "curl" });
  sim.tracepoint("sock", "inet_sock_set_state", change(2, 1)); // SYN_SENT -> ESTABLISHED
  sim.tracepoint("sock", "inet_sock_set_state", change(7, 10)); // a listen
  sim.tracepoint("sock", "inet_sock_set_state", change(7, 2, { protocol: 262 })); // MPTCP
  const v6 = [...none(15), 1];
  sim.tracepoint("sock", "inet_sock_set_state", change(7, 2, { family: 10, dport: 8443, saddr_v6: v6, daddr_v6: v6 }), { pid: 322, uid: 1000, comm: "wget" });
  assert.deepEqual(sim.output().trimEnd().split("\n").map(columns), [
    ["PID", "UID", "COMM", "IP", "SADDR", "DADDR", "DPORT"],
    ["321", "0", "curl", "4", "10.0.0.2", "93.184.216.34", "443"],
    ["322", "1000", "wget", "6", "::1", "::1", "8443"],
  ]);
});

test("tcpconnect: with a target process (-c, -p) only its connects", async () => {
  const sim = await simulate("tools/tcpconnect.ts", { tracepointFormats: FORMATS, targetPid: 400 });
  sim.tracepoint("sock", "inet_sock_set_state", change(7, 2), { pid: 401, comm: "other" });
  sim.tracepoint("sock", "inet_sock_set_state", change(7, 2), { pid: 400, comm: "curl" });
  assert.deepEqual(sim.output().trimEnd().split("\n").map(columns), [["400", "0", "curl", "4", "10.0.0.2", "93.184.216.34", "443"]]);
});
