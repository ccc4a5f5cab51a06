// skbdrop: packets the kernel dropped, counted by the drop reason (by name), the function that freed them and the
// protocol, through skb:kfree_skb (Linux 5.17 added its reason): what bcc's tcpdrop and bpftrace's tcpdrop.bt find
// with a kprobe on tcp_drop, for every protocol and with the kernel's own reason. A map keyed by a kernel enum prints
// the enumerator's name, and so does printf's %s of one; ksym() names the freeing function. `--set lines=1` also
// prints each drop as it happens, as tcpdrop does; `--set reason=SKB_DROP_REASON_NO_SOCKET` keeps one reason's drops.
//   npx tsbpf run tools/skbdrop.ts --duration 10       # then, elsewhere: curl -s http://127.0.0.1:1/ (a closed port)
import { begin, tracepoint, printf, time, pidTgid, comm, ksym, Count, type u16, type KernelSymbol } from "tsbpf";
import type { skb_drop_reason } from "tsbpf/kernel";

export const license = "GPL";

/** 1: print each drop too. */
let lines = 0;
/** Only this reason's drops; SKB_NOT_DROPPED_YET (0), never a drop's reason: every reason. */
let reason: skb_drop_reason = 0 as skb_drop_reason;

interface Drop {
  reason: skb_drop_reason;
  location: KernelSymbol;
  /** The packet's ethertype, in host order as the tracepoint gives it: 2048 (0x800) is IPv4, 34525 (0x86dd) IPv6. */
  protocol: u16;
}

/** Drops by reason, freeing function and protocol. */
export const drops = new Count<Drop>(10240);

export const header = begin(() => {
  if (lines !== 0) printf("%-8s %-7s %-16s %-6s %-32s %s\n", "TIME", "PID", "COMM", "PROTO", "REASON", "LOCATION");
});

export const kfree = tracepoint("skb", "kfree_skb", (ctx) => {
  if (reason !== 0 && ctx.reason !== reason) return;
  drops.increment({ reason: ctx.reason, location: ksym(ctx.location), protocol: ctx.protocol });
  if (lines === 0) return;
  // The task is whichever ran when the packet was freed: for a packet received, often the one it interrupted.
  time("%H:%M:%S ");
  printf("%-7d %-16s 0x%04x %-32s %s\n", pidTgid() >> 32, comm(), ctx.protocol, ctx.reason, ksym(ctx.location));
});
