// wakeuptime: how long tasks slept, summed by who woke them: the waker's name and kernel stack and the sleeper's
// name, as bcc's wakeuptime (which takes try_to_wake_up() through a kprobe). A task that leaves its CPU asleep
// (sched_switch with a non-running prev_state) notes the time; sched_waking runs in the waker's context, so kstack()
// there is the waker's path to the wakeup. `--set minUs=N` leaves out shorter sleeps (bcc's default: 1).
//   npx tsbpf run tools/wakeuptime.ts --duration 5
import { rawTracepoint, kstack, comm, ktimeNs, HashMap, Sum, type KernelStack, type Str, type u32, type u64 } from "tsbpf";

export const license = "GPL";

/** Sleeps shorter than this many microseconds are not counted. */
let minUs: u64 = 1;

/** prev_state of a task switched away while still runnable (preempted, not asleep). */
const TASK_RUNNING = 0;

interface Wakeup {
  waker: Str<16>;
  stack: KernelStack;
  target: Str<16>;
}

/** When each sleeping task (by thread id) left its CPU. */
const asleep = new HashMap<u32, u64>(10240);

/** Microseconds slept, by who woke the sleeper and how. */
export const slept = new Sum<Wakeup>(10240);

export const switched = rawTracepoint("sched_switch", (preempt, prev, next, prevState) => {
  if (prevState !== TASK_RUNNING && prev.pid !== 0) asleep.update(prev.pid, ktimeNs());
});

export const waking = rawTracepoint("sched_waking", (task) => {
  const since = asleep.lookup(task.pid);
  if (since === null) return; // asleep since before the probe was attached
  const us = (ktimeNs() - since) / 1000;
  asleep.delete(task.pid);
  if (us < minUs) return;
  slept.record({ waker: comm(), stack: kstack(), target: task.comm }, us);
});
