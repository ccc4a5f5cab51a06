// runqlat -P: how long tasks wait on a run queue, one log2 histogram (microseconds) per task name. A wakeup
// notes the time and name; the switch that puts the task on a CPU records the wait under that name, as
// bpftrace's `@usecs[comm] = hist(v)`. A task preempted while runnable waits again from the switch away.
import { tracepoint, ktimeNs, HashMap, Histogram, type u32, type u64, type Str } from "tsbpf";

export const license = "GPL";

// prev_state's task state bits (the format file's mask); none set: the task is still runnable (preempted or
// yielding), and the 0x100 bit only says it was preempted.
const TASK_STATE_BITS = 0xff;

interface Queued {
  since: u64;
  comm: Str<16>;
}

const queued = new HashMap<u32, Queued>(10240);
export const usecs = new Histogram<Str<16>>(256);

function enqueue(pid: u32, comm: Str<16>) {
  if (pid === 0) return; // the idle task
  queued.update(pid, { since: ktimeNs(), comm });
}

export const wakeup = tracepoint("sched", "sched_wakeup", (ctx) => enqueue(ctx.pid, ctx.comm));
export const wakeupNew = tracepoint("sched", "sched_wakeup_new", (ctx) => enqueue(ctx.pid, ctx.comm));

export const switched = tracepoint("sched", "sched_switch", (ctx) => {
  if ((ctx.prev_state & TASK_STATE_BITS) === 0) enqueue(ctx.prev_pid, ctx.prev_comm);
  const q = queued.lookup(ctx.next_pid);
  if (q === null) return; // queued before the probe was attached
  usecs.record(q.comm, (ktimeNs() - q.since) / 1000);
  queued.delete(ctx.next_pid);
});
