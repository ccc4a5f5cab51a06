// The unlinkat tracepoint with one kernel struct read (the caller's parent, through task_struct: CO-RE), for
// bench/run.bench.ts's second scenario beside bpftrace's `curtask->real_parent->tgid`, which reads vmlinux's BTF
// on every start as tsbpf does only when it compiles.
import { tracepoint, pidTgid, currentTask, printf } from "tsbpf";
import type { task_struct } from "tsbpf/kernel";

export const license = "GPL";

export const unlinkat = tracepoint("syscalls", "sys_enter_unlinkat", () => {
  printf("pid = %d, parent = %d\n", pidTgid() >> 32, currentTask<task_struct>().real_parent.tgid);
});
