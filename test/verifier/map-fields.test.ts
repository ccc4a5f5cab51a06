// A map whose value holds a bpf_spin_lock or a bpf_timer (found in its BTF, nested or in a data section) may not be
// named by tracing programs (kprobe, tracepoint, raw_tp, perf_event), nor a spin lock by a socket filter: the kernel
// refuses the reference itself, whether or not the lock is taken. Nor may a load or store touch one. tsbpf verify says
// so as the kernel does, program by program, and accepts what the kernel accepts (the value's other fields from tp_btf,
// a value without such fields).

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { verifyObject } from "../../cli/commands/verify.js";
import { LoadError, loadObject, openObject } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { compileC, needsClang } from "../loader/support.js";

const SOURCE = `#include "loader.h"
struct bpf_spin_lock { __u32 val; };
struct bpf_timer { __u64 opaque[2]; };
struct locked { struct { struct bpf_spin_lock lock; } inner; __u64 n; };
struct timed { struct bpf_timer t; __u64 n; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct locked); } locks SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct timed); } timers SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } plain SEC(".maps");
struct bpf_spin_lock global_lock;
__u64 global_n;

static inline __attribute__((always_inline)) int bump(void *map) {
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(map, &k);
	if (v) *v += 1;
	return 0;
}
SEC("tracepoint/syscalls/sys_enter_getpid") int tp_lock(void *ctx) { return bump(&locks); }
SEC("tracepoint/syscalls/sys_enter_getpid") int tp_timer(void *ctx) { return bump(&timers); }
SEC("tracepoint/syscalls/sys_enter_getpid") int tp_plain(void *ctx) { return bump(&plain); }
SEC("tracepoint/syscalls/sys_enter_getpid") int tp_bss(void *ctx) { global_n++; return 0; }
SEC("raw_tp/sys_enter") int raw_lock(void *ctx) { return bump(&locks); }
SEC("socket") int sock_lock(void *ctx) { return bump(&locks); }
SEC("socket") int sock_timer(void *ctx) { return bump(&timers); }
SEC("tp_btf/sys_enter") int btf_lock(void *ctx) { return bump(&locks); }
SEC("tp_btf/sys_enter") int btf_count(void *ctx) {
	__u32 k = 0;
	struct locked *v = bpf_map_lookup_elem(&locks, &k);
	if (v) v->n++;
	return 0;
}
SEC("tp_btf/sys_enter") int btf_timer_count(void *ctx) {
	__u32 k = 0;
	struct timed *v = bpf_map_lookup_elem(&timers, &k);
	if (v) v->n++;
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;

const EXPECTED: Record<string, string | undefined> = {
  tp_lock: "tracing progs cannot use bpf_spin_lock yet",
  tp_timer: "tracing progs cannot use bpf_timer yet",
  tp_plain: undefined,
  tp_bss: "tracing progs cannot use bpf_spin_lock yet",
  raw_lock: "tracing progs cannot use bpf_spin_lock yet",
  sock_lock: "socket filter progs cannot use bpf_spin_lock yet",
  sock_timer: "bpf_timer cannot be accessed directly by load/store",
  btf_lock: "bpf_spin_lock cannot be accessed directly by load/store",
  btf_count: undefined,
  btf_timer_count: undefined,
};

const object = (): Uint8Array => readFileSync(compileC("map-fields", SOURCE));

test("the model refuses maps holding a lock or a timer where the kernel does, with its reason", needsClang, () => {
  const report = verifyObject(object(), { name: "mapfields" });
  for (const [name, reason] of Object.entries(EXPECTED)) {
    const p = report.programs.find((x) => x.name === name)!;
    if (reason === undefined) assert.equal(p.verdict, "accepted", `${name}: ${p.error?.text ?? p.unchecked}`);
    else assert.match(p.error?.text ?? "", new RegExp(reason.replace(/[{}]/g, "\\$&")), name);
  }
});

const sys = openSys();
test("the kernel agrees, program by program", { skip: missingRoot() ?? missingBpf(sys) ?? needsClang.skip }, () => {
  const spec = openObject(object(), { name: "mapfields" });
  for (const [name, reason] of Object.entries(EXPECTED)) {
    let refused: string | undefined;
    try {
      loadObject(sys, spec, { programs: [name] }).close();
    } catch (e) {
      if (!(e instanceof LoadError)) throw e;
      refused = e.reason;
    }
    assert.equal(refused, reason, name);
  }
});
