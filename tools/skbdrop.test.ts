// Unit tests for tools/skbdrop.ts: dropped packets counted by the kernel's drop reason (read back by name), the
// freeing function and the protocol.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const TCP_V4_RCV = 0xffff_ffff_81a0_1234n;
const UDP_RCV = 0xffff_ffff_81b0_5678n;

test("skbdrop: drops counted by reason, location and protocol; the reason reads as the kernel enum's name", async () => {
  const sim = await simulate("tools/skbdrop.ts", { tracepointFormats: tracepointFormats("skb/kfree_skb") });
  const drop = (reason: number, location: bigint, protocol: number) =>
    sim.tracepoint("skb", "kfree_skb", { skbaddr: 0xffff_8880_0100_0000n, location, rx_sk: 0n, protocol, reason });
  drop(3, TCP_V4_RCV, 0x800); // SKB_DROP_REASON_NO_SOCKET: a SYN to a closed port
  drop(3, TCP_V4_RCV, 0x800);
  drop(3, UDP_RCV, 0x800);
  drop(2, UDP_RCV, 0x86dd); // NOT_SPECIFIED
  drop(100000, UDP_RCV, 0x86dd); // a reason this kernel's enum does not name stays a number
  assert.equal(sim.output(), "", "no lines unless --set lines=1");
  const counts = new Map(sim.map("drops").entries().map(([k, n]) => {
    const { reason, location, protocol } = k as { reason: string | number; location: bigint; protocol: number };
    return [`${reason} 0x${location.toString(16)} ${protocol}`, n];
  }));
  assert.deepEqual(counts, new Map([
    ["SKB_DROP_REASON_NO_SOCKET 0xffffffff81a01234 2048", 2n],
    ["SKB_DROP_REASON_NO_SOCKET 0xffffffff81b05678 2048", 1n],
    ["SKB_DROP_REASON_NOT_SPECIFIED 0xffffffff81b05678 34525", 1n],
    ["100000 0xffffffff81b05678 34525", 1n],
  ]));
});

test("skbdrop --set lines=1: a header, then each drop with its reason by name and its freeing function", async () => {
  const sim = await simulate("tools/skbdrop.ts", { tracepointFormats: tracepointFormats("skb/kfree_skb"), globals: { lines: 1 } });
  sim.begin();
  assert.deepEqual(sim.output().trim().split(/\s+/), ["TIME", "PID", "COMM", "PROTO", "REASON", "LOCATION"]);
  sim.tracepoint("skb", "kfree_skb", { skbaddr: 0n, location: TCP_V4_RCV, rx_sk: 0n, protocol: 0x800, reason: 3 }, { pid: 0, comm: "swapper/1" });
  assert.deepEqual(sim.output().slice(9).trim().split(/\s+/), ["0", "swapper/1", "0x0800", "SKB_DROP_REASON_NO_SOCKET", "0xffffffff81a01234"]);
});

test("skbdrop --set reason=NAME: only that reason's drops are counted", async () => {
  const sim = await simulate("tools/skbdrop.ts", { tracepointFormats: tracepointFormats("skb/kfree_skb"), globals: { reason: "SKB_DROP_REASON_NO_SOCKET" } });
  for (const reason of [2, 3, 3]) sim.tracepoint("skb", "kfree_skb", { skbaddr: 0n, location: TCP_V4_RCV, rx_sk: 0n, protocol: 0x800, reason });
  assert.deepEqual(sim.map("drops").entries().map(([k, n]) => [(k as { reason: string }).reason, n]), [["SKB_DROP_REASON_NO_SOCKET", 2n]]);
});
