// Unit tests for examples/tcpretrans.ts: a kprobe on tcp_retransmit_skb reading struct sock through
// CO-RE, so these tests need the kernel's BTF.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { needsVmlinux } from "../test/sim/support.js";

interface Retransmit {
  pid: number;
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
  state: number;
}

/** An IPv4 address as the kernel stores it (network byte order), read as a little-endian u32. */
const ipv4 = (dotted: string) => new DataView(Uint8Array.from(dotted.split(".").map(Number)).buffer).getUint32(0, true);
/** A port in network byte order, read as a little-endian u16. */
const htons = (port: number) => ((port >> 8) | (port << 8)) & 0xffff;
const TCP_ESTABLISHED = 1;

test("tcpretrans: the event carries the socket's addresses, ports (dport in host order) and state", needsVmlinux, async () => {
  const sim = await simulate("examples/tcpretrans.ts");
  const sk = sim.kernel.alloc("sock", {
    __sk_common: { skc_rcv_saddr: ipv4("10.0.0.1"), skc_daddr: ipv4("10.0.0.2"), skc_num: 43210, skc_dport: htons(443), skc_state: TCP_ESTABLISHED },
  });
  const r = sim.kprobe("tcp_retransmit_skb", { args: [sk], pid: 7, tgid: 6 });
  assert.equal(r.r0, 0n);
  assert.deepEqual(sim.events<Retransmit>("retransmits"), [
    { pid: 6, saddr: ipv4("10.0.0.1"), daddr: ipv4("10.0.0.2"), sport: 43210, dport: 443, state: TCP_ESTABLISHED },
  ]);
});

test("tcpretrans: a struct sock that faults reads as zeros; the event is still sent", needsVmlinux, async () => {
  const sim = await simulate("examples/tcpretrans.ts");
  const r = sim.kprobe("tcp_retransmit_skb", { args: [sim.kernel.faulting("sock")], pid: 8 });
  assert.equal(r.r0, 0n);
  assert.deepEqual(sim.events<Retransmit>("retransmits"), [{ pid: 8, saddr: 0, daddr: 0, sport: 0, dport: 0, state: 0 }]);
});
