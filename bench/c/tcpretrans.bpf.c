// C equivalent of examples/tcpretrans.ts, libbpf style (as libbpf-tools' tcpretrans reads the socket):
// a kprobe on tcp_retransmit_skb sending the socket's addresses, ports and state to a ring buffer.
// Built by bench/compile.bench.ts with clang-19 -O2 -g -target bpf against a generated vmlinux.h.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct retransmit_event {
	__u32 pid;
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 state;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} retransmits SEC(".maps");

SEC("kprobe/tcp_retransmit_skb")
int BPF_KPROBE(retransmit, struct sock *sk)
{
	struct retransmit_event event = {};

	event.pid = bpf_get_current_pid_tgid() >> 32;
	event.saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
	event.daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	event.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	event.dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	event.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	bpf_ringbuf_output(&retransmits, &event, sizeof(event), 0);
	return 0;
}
