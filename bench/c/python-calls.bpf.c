// C equivalent of examples/python-calls.ts: CPython's function__entry USDT probe into a ring buffer.
// Built by bench/compile.bench.ts with clang-19 -O2 -g -target bpf against a generated vmlinux.h.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

struct call {
	u32 pid;
	s32 line;
	char file[64];
	char func[32];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} calls SEC(".maps");

SEC("usdt//usr/bin/python3:python:function__entry")
int BPF_USDT(function_entry, const char *file, const char *func, int line)
{
	struct call *c = bpf_ringbuf_reserve(&calls, sizeof(*c), 0);

	if (!c)
		return 0;
	c->pid = bpf_get_current_pid_tgid() >> 32;
	c->line = line;
	bpf_probe_read_user_str(c->file, sizeof(c->file), file);
	bpf_probe_read_user_str(c->func, sizeof(c->func), func);
	bpf_ringbuf_submit(c, 0);
	return 0;
}
