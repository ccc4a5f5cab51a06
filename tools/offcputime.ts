// offcputime: time tasks spend off a CPU (blocked, sleeping, preempted), summed by the kernel stack they left it in,
// as bcc's offcputime -K and bpftrace's offcputime.bt. The scheduler's raw tracepoint hands over both tasks: it runs
// in the outgoing one, so kstack() is where that task stopped, noted with the time; when the task comes back, the
// time away is added to that stack. With -c or -p, only that process's tasks are followed.
//   npx tsbpf run tools/offcputime.ts -c "sleep 0.2"
//   npx tsbpf run tools/offcputime.ts --duration 5 --set minUs=1000
import { rawTracepoint, kstack, ktimeNs, targetPid, HashMap, type KernelStack, type u32, type u64 } from "tsbpf";

export const license = "GPL";

/** Spells off CPU shorter than this many microseconds are not counted (bcc's --min-block-time: 1). */
let minUs: u64 = 1;

interface Away {
  since: u64;
  stack: KernelStack<32>;
}

const away = new HashMap<u32, Away>(10240);

/** Microseconds off CPU by the kernel stack the task left it in (bpftrace's `@[kstack] = sum(...)`). */
export const offcpu = new HashMap<KernelStack<32>, u64>(10240);

export const switched = rawTracepoint("sched_switch", (preempt, prev, next) => {
  const target = targetPid();
  if (prev.pid !== 0 && (target === 0 || prev.tgid === target)) away.update(prev.pid, { since: ktimeNs(), stack: kstack(32) });
  const a = away.lookup(next.pid);
  if (a === null) return; // left before the probe was attached, or not followed
  const us = (ktimeNs() - a.since) / 1000;
  const stack = a.stack;
  away.delete(next.pid);
  if (us >= minUs) offcpu.increment(stack, us);
});
