// runqlen: how many tasks wait on a CPU's run queue, sampled 99 times a second on every CPU, as a linear histogram,
// as bpftrace's tools/runqlen.bt and bcc's runqlen. The running task's CFS run queue is read through the kernel's BTF
// (currentTask().se.cfs_rq); the task on the CPU is counted in it, so one less is waiting. Linux 6.14 renamed the
// count nr_running to nr_queued. `--set perCpu=1` keeps a histogram per CPU (bcc's -C).
//   npx tsbpf run tools/runqlen.ts --duration 5        # then, elsewhere: load two CPUs with three busy loops
import { profile, currentTask, smpProcessorId, LinearHistogram, type u32, type u64 } from "tsbpf";

export const license = "GPL";

/** 1: one histogram per CPU (bcc's -C) instead of one for all. */
let perCpu: u64 = 0;

/** Tasks waiting, sampled. */
export const runqlen = new LinearHistogram(0, 100, 1);
/** The same by CPU, with --set perCpu=1. */
export const byCpu = new LinearHistogram<u32>(0, 100, 1, 64);

export const sample = profile(99, () => {
  const queued = currentTask().se.cfs_rq.nr_queued;
  const waiting = queued > 0 ? queued - 1 : 0;
  if (perCpu !== 0) byCpu.record(smpProcessorId(), waiting);
  else runqlen.record(waiting);
});
