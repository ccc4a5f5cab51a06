// runqslower: tasks that waited on a CPU's run queue longer than a threshold, as bcc's runqslower (libbpf-tools'
// runqslower.bpf.c attaches the same three raw tracepoints). A wakeup notes the time; the switch that puts the task
// on a CPU prints its wait if it is long; a task switched away while still runnable (preempted) waits again from then.
// The raw tracepoints hand over the tasks themselves (struct task_struct *), typed from the kernel's BTF.
//   npx tsbpf run tools/runqslower.ts                      # waits of 10 ms and more
//   npx tsbpf run tools/runqslower.ts --set minUs=1000     # of 1 ms and more
import { rawTracepoint, begin, ktimeNs, printf, time, HashMap, type Ptr, type u32, type u64 } from "tsbpf";
import type { task_struct } from "tsbpf/kernel";

export const license = "GPL";

/** Waits shorter than this many microseconds are not printed (bcc's default: 10 ms). */
let minUs: u64 = 10000;

/** prev_state of a task switched away while runnable. */
const TASK_RUNNING = 0;

const queuedAt = new HashMap<u32, u64>(10240);

function enqueue(task: Ptr<task_struct>) {
  const tid = task.pid;
  if (tid !== 0) queuedAt.update(tid, ktimeNs()); // not the idle task
}

begin(() => printf("%-8s %-16s %-6s %14s\n", "TIME", "COMM", "TID", "LAT(us)"));

export const wakeup = rawTracepoint("sched_wakeup", (task) => enqueue(task));
export const wakeupNew = rawTracepoint("sched_wakeup_new", (task) => enqueue(task));

export const switched = rawTracepoint("sched_switch", (preempt, prev, next, prevState) => {
  if (prevState === TASK_RUNNING) enqueue(prev);
  const tid = next.pid;
  const since = queuedAt.lookup(tid);
  if (since === null) return; // queued before the probe was attached
  queuedAt.delete(tid);
  const waitedUs = (ktimeNs() - since) / 1000;
  if (waitedUs < minUs) return;
  time("%H:%M:%S ");
  printf("%-16s %-6d %14d\n", next.comm, tid, waitedUs);
});
