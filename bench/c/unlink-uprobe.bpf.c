// C equivalent of examples/unlink-uprobe.ts: libc's unlinkat(3) entry as a uprobe.
// Built by bench/compile.bench.ts with clang-19 -O2 -g -target bpf against a generated vmlinux.h.
// (This libbpf has no BPF_UPROBE; BPF_KPROBE reads the same pt_regs.)
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("uprobe/libc.so.6:unlinkat")
int BPF_KPROBE(libc_unlinkat, int dfd, const char *pathname, int flags)
{
	u64 pid = bpf_get_current_pid_tgid() >> 32;

	bpf_printk("UPROBE unlinkat pid = %llu, dfd = %d, flags = %d", pid, dfd, flags);
	return 0;
}
