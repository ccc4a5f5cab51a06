// C equivalent of examples/unlink-tracepoint.ts: syscalls:sys_enter_unlinkat with the task name.
// Built by bench/compile.bench.ts with clang-19 -O2 -g -target bpf against a generated vmlinux.h.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int unlinkat(struct trace_event_raw_sys_enter *ctx)
{
	u64 pid = bpf_get_current_pid_tgid() >> 32;
	int dfd = (int)ctx->args[0];
	char comm[16];

	bpf_get_current_comm(comm, sizeof(comm));
	bpf_printk("unlinkat by %s pid = %llu, dfd = %d, flags = %llu", comm, pid, dfd, ctx->args[2]);
	return 0;
}
