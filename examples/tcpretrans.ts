// tcpretrans: a kprobe on tcp_retransmit_skb reading the socket's addresses, ports and state through
// CO-RE, as libbpf-tools' tcpretrans reads sk->__sk_common. The handler takes `struct sock *` as a
// `Ptr<sock_common>`: __sk_common is the first member of struct sock, so the two pointers are equal.
import { kprobe, pidTgid, RingBuf, type u8, type u16, type u32, type Ptr } from "tsbpf";
import type { sock_common } from "tsbpf/kernel";

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

export const retransmit = kprobe("tcp_retransmit_skb", (sk: Ptr<sock_common>) => {
  const event: Retransmit = {
    pid: pidTgid() >> 32,
    saddr: sk.skc_rcv_saddr,
    daddr: sk.skc_daddr,
    sport: sk.skc_num,
    dport: ntohs(sk.skc_dport),
    state: sk.skc_state,
  };
  retransmits.output(event);
  return 0;
});
