// A clang object declares stack ids as tsbpf's own objects do (compiler/btf/tags.ts): a stack map tagged
// tsbpf:stacks and keys typed tsbpf_kstack / tsbpf_ustack; tsbpf prints their frames the same way.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadObject, openObject } from "../../runtime/loader/index.js";
import { openSys } from "../../runtime/sys/index.js";
import { Stack } from "../../runtime/loader/stacks.js";
import { compileC, needsKernel } from "./support.js";

const SOURCE = `#include "loader.h"
#define BPF_MAP_TYPE_STACK_TRACE 7
#define BPF_NOEXIST 1
#define BPF_F_USER_STACK 256
static long (*bpf_get_current_comm)(void *buf, __u32 size) = (void *)16;
static long (*bpf_get_stackid)(void *ctx, void *map, __u64 flags) = (void *)27;
typedef long long tsbpf_kstack;
typedef unsigned long long tsbpf_ustack;
struct key { char comm[16]; tsbpf_kstack kernel; tsbpf_ustack user; };
struct {
  __uint(type, BPF_MAP_TYPE_STACK_TRACE);
  __uint(max_entries, 256);
  __uint(key_size, 4);
  __uint(value_size, 127 * 8);
} stacks SEC(".maps") __attribute__((btf_decl_tag("tsbpf:stacks")));
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, struct key);
  __type(value, __u64);
} opens SEC(".maps");
const volatile __u32 target = 0;
SEC("tracepoint/syscalls/sys_enter_openat")
int on_open(void *ctx) {
  if (bpf_get_current_pid_tgid() >> 32 != target) return 0;
  struct key k = {};
  bpf_get_current_comm(k.comm, sizeof(k.comm));
  k.kernel = bpf_get_stackid(ctx, &stacks, 0);
  k.user = (bpf_get_current_pid_tgid() & ~0xffffffffULL) | (__u32)bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
  __u64 one = 1, *n = bpf_map_lookup_elem(&opens, &k);
  if (n) __sync_fetch_and_add(n, 1);
  else bpf_map_update_elem(&opens, &k, &one, BPF_NOEXIST);
  return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;

describe("a clang object's stack ids", needsKernel, () => {
  it("print as frames: kernel ones from kallsyms, user ones (ips in one tagged map) through the process's mappings", async () => {
    const { mapContents, mapLines } = await import("../../cli/report.js");
    const sys = openSys();
    const spec = openObject(readFileSync(compileC("stacks", SOURCE)), { name: "stacks" });
    const loaded = loadObject(sys, spec, { globals: new Map([["target", BigInt(process.pid)]]) });
    try {
      loaded.attachAll();
      readFileSync("/proc/self/stat");
      const [content] = mapContents(loaded);
      assert.ok(content && content.map === "opens" && "entries" in content, JSON.stringify(content));
      // Other threads of this process may open files too (their user stacks need not unwind): the read's is one of them.
      const keys = content.entries.map(([k]) => k as { comm: string; kernel: Stack; user: Stack });
      assert.ok(keys.every((key) => key.kernel instanceof Stack && key.user instanceof Stack));
      const shown = keys.map((key) => `${key.kernel.frames.join(" ")} | ${key.user.frames.join(" ")}`).join("\n");
      assert.ok(keys.some((key) => key.kernel.frames.some((f) => /^do_syscall_64\+\d+$/.test(f))), shown);
      // Node's own openat: through libc (named by libc's symbols, found from this live process's mappings).
      assert.ok(keys.some((key) => /^(__)?(open|openat)(64)?(_nocancel)?\+\d+$/.test(key.user.frames[0] ?? "")), shown);
      assert.match(mapLines(content, false).join("\n"), /^@opens\[\S+, \n( {4}\S+\n)+, \n( {4}\S+\n)+\]: \d+/);
    } finally {
      loaded.close();
    }
  });
});
