// C equivalent of examples/python-usdt.ts: CPython's import and GC USDT probes, with libbpf's BPF_USDT.
// Built by bench/compile.bench.ts with clang-19 -O2 -g -target bpf against a generated vmlinux.h.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

struct import {
	u32 pid;
	bool found;
	char module[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} imports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 3);
	__type(key, s32);
	__type(value, u64);
} collections SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} pauses SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, s64);
} collected SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} started SEC(".maps");

SEC("usdt//usr/bin/python3:python:import__find__load__done")
int BPF_USDT(import_done, const char *module, int found)
{
	struct import *e = bpf_ringbuf_reserve(&imports, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->found = found != 0;
	bpf_probe_read_user_str(e->module, sizeof(e->module), module);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("usdt//usr/bin/python3:python:gc__start")
int BPF_USDT(gc_start, int generation)
{
	u64 one = 1, *count = bpf_map_lookup_elem(&collections, &generation);
	u32 tid = bpf_get_current_pid_tgid();
	u64 now = bpf_ktime_get_ns();

	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&collections, &generation, &one, BPF_ANY);
	bpf_map_update_elem(&started, &tid, &now, BPF_ANY);
	return 0;
}

SEC("usdt//usr/bin/python3:python:gc__done")
int BPF_USDT(gc_done, long freed)
{
	u32 tid = bpf_get_current_pid_tgid(), zero = 0, slot;
	u64 *t0 = bpf_map_lookup_elem(&started, &tid), *bucket;
	s64 *sum, total;

	if (!t0)
		return 0;
	u64 delta = bpf_ktime_get_ns() - *t0;
	slot = delta ? 64 - __builtin_clzll(delta) : 0;
	bucket = bpf_map_lookup_elem(&pauses, &slot);
	if (bucket)
		__sync_fetch_and_add(bucket, 1);
	bpf_map_delete_elem(&started, &tid);
	sum = bpf_map_lookup_elem(&collected, &zero);
	total = (sum ? *sum : 0) + freed;
	bpf_map_update_elem(&collected, &zero, &total, BPF_ANY);
	return 0;
}
