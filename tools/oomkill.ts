// oomkill: every process the OOM killer picks, with the process that ran out of memory and the victim's memory, as
// bcc's oomkill and bpftrace's oomkill.bt, which take a kprobe on oom_kill_process; here the oom:mark_victim
// tracepoint, which names the victim (pid, comm, sizes in kB) while the task that triggered the kill is current.
//   npx tsbpf run tools/oomkill.ts       # a memory cgroup with a small limit and a process that outgrows it
import { begin, tracepoint, printf, time, pidTgid, comm, type Str } from "tsbpf";

export const license = "GPL";

export const header = begin(() => {
  printf("Tracing OOM kills... Ctrl-C to stop.\n");
});

export const victim = tracepoint("oom", "mark_victim", (ctx) => {
  const name: Str<16> = ctx.comm;
  time("%H:%M:%S ");
  printf("Triggered by PID %d (\"%s\"), OOM kill of PID %d (\"%s\"), %d kB total, %d kB anon, %d kB file, uid %d, oom_score_adj %d\n",
    pidTgid() >> 32, comm(), ctx.pid, name, ctx.total_vm, ctx.anon_rss, ctx.file_rss, ctx.uid, ctx.oom_score_adj);
});
