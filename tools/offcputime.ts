// offcputime: time tasks spend off a CPU (blocked, sleeping, preempted), summed by the stacks they left it in and
// their name, as bcc's offcputime and bpftrace's offcputime.bt (`@[kstack, ustack, comm] = sum(...)`). The
// scheduler's raw tracepoint hands over both tasks: it runs in the outgoing one, so kstack() and ustack() are where
// that task stopped, noted with the time; when the task comes back, the time away is added to those stacks. With -c
// or -p, only that process's tasks are followed.
//   npx tsbpf run tools/offcputime.ts -c "sleep 0.2"
//   npx tsbpf run tools/offcputime.ts --duration 5 --set minUs=1000
import { rawTracepoint, kstack, ustack, ktimeNs, targetPid, HashMap, type KernelStack, type UserStack, type Str, type u32, type u64 } from "tsbpf";

export const license = "GPL";

/** Spells off CPU shorter than this many microseconds are not counted (bcc's --min-block-time: 1). */
let minUs: u64 = 1;

/** Where a task left the CPU: its kernel and user stacks, and its name. */
interface Where {
  kernel: KernelStack<32>;
  user: UserStack<32>;
  comm: Str<16>;
}

interface Away {
  since: u64;
  where: Where;
}

const away = new HashMap<u32, Away>(10240);

/** Microseconds off CPU by where the task left it. */
export const offcpu = new HashMap<Where, u64>(10240);

export const switched = rawTracepoint("sched_switch", (preempt, prev, next) => {
  const target = targetPid();
  if (prev.pid !== 0 && (target === 0 || prev.tgid === target)) {
    away.update(prev.pid, { since: ktimeNs(), where: { kernel: kstack(32), user: ustack(32), comm: prev.comm } });
  }
  const a = away.lookup(next.pid);
  if (a === null) return; // left before the probe was attached, or not followed
  const us = (ktimeNs() - a.since) / 1000;
  const where: Where = a.where;
  away.delete(next.pid);
  if (us >= minUs) offcpu.increment(where, us);
});
