// compactsnoop: each memory compaction run over a zone, with the task that ran it (a process stalled in direct
// compaction, kcompactd, or a write to /proc/sys/vm/compact_memory), the zone's page frames, the mode, how long it took
// and how it ended, as bcc's compactsnoop (which adds the node, zone and order through kprobes). The result is the
// kernel's enum compact_result, printed by name with %s.
//   npx tsbpf run tools/compactsnoop.ts       # then, elsewhere: echo 1 > /proc/sys/vm/compact_memory
import { begin, tracepoint, pidTgid, comm, ktimeNs, printf, time, HashMap, type u32, type u64 } from "tsbpf";
import type { compact_result } from "tsbpf/kernel";

export const license = "GPL";

/** When each thread's compaction run began. */
const started = new HashMap<u32, u64>(10240);

export const header = begin(() => {
  printf("%-8s %-16s %-7s %-25s %-5s %8s %s\n", "TIME", "COMM", "PID", "ZONE (PFNS)", "MODE", "LAT(ms)", "STATUS");
});

export const start = tracepoint("compaction", "mm_compaction_begin", () => {
  started.update(pidTgid() as u32, ktimeNs());
});

export const finish = tracepoint("compaction", "mm_compaction_end", (ctx) => {
  const tid = pidTgid() as u32;
  const since = started.lookup(tid);
  if (since === null) return; // began before the probe was attached
  const us = (ktimeNs() - since) / 1000;
  started.delete(tid);
  time("%H:%M:%S ");
  printf("%-16s %-7d %#-11x-%#-11x %-5s %4d.%03d %s\n", comm(), pidTgid() >> 32, ctx.zone_start, ctx.zone_end,
    ctx.sync ? "sync" : "async", us / 1000, us % 1000, ctx.status as compact_result);
});
