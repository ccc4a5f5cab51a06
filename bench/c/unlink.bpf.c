// C equivalent of examples/unlink.ts, libbpf style: the do_unlinkat kprobe/kretprobe pair.
// Built by bench/compile.bench.ts with clang-19 -O2 -g -target bpf against a generated vmlinux.h.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(do_unlinkat, int dfd, struct filename *name)
{
	pid_t pid = bpf_get_current_pid_tgid() >> 32;
	const char *filename = BPF_CORE_READ(name, name);

	bpf_printk("KPROBE ENTRY pid = %d, filename = %s", pid, filename);
	return 0;
}

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(do_unlinkat_exit, long ret)
{
	pid_t pid = bpf_get_current_pid_tgid() >> 32;

	bpf_printk("KPROBE EXIT: pid = %d, ret = %ld", pid, ret);
	return 0;
}
