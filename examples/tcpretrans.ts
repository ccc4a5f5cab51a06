// tcpretrans: a kprobe on tcp_retransmit_skb reading the socket's addresses, ports and state through
// CO-RE, as libbpf-tools' tcpretrans reads sk->__sk_common: each `sk.__sk_common.skc_...` is one
// probe read whose relocation walks struct sock's embedded struct sock_common.
import { kprobe, pidTgid, RingBuf, type u8, type u16, type u32, type Ptr } from "tsbpf";
import type { sock } from "tsbpf/kernel";

export const license = "GPL";

export interface Retransmit {
  pid: u32;
  saddr: u32;
  daddr: u32;
  sport: u16;
  dport: u16;
  state: u8;
}

export const retransmits = new RingBuf<Retransmit>(64 * 1024);

/** Network byte order to host order (x86-64 is little-endian). */
function ntohs(x: u16): u16 {
  return ((x >> 8) | (x << 8)) as u16;
}

export const retransmit = kprobe("tcp_retransmit_skb", (sk: Ptr<sock>) => {
  const event: Retransmit = {
    pid: pidTgid() >> 32,
    saddr: sk.__sk_common.skc_rcv_saddr,
    daddr: sk.__sk_common.skc_daddr,
    sport: sk.__sk_common.skc_num,
    dport: ntohs(sk.__sk_common.skc_dport),
    state: sk.__sk_common.skc_state,
  };
  retransmits.output(event);
  return 0;
});
