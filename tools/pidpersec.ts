// pidpersec: new processes (forks) per second, as bpftrace's tools/pidpersec.bt and bcc's pidpersec. The fork
// tracepoint counts; an interval probe prints the count every second and takes what it printed off the count
// (an atomic add of minus that much, so forks that land between the read and the subtraction are kept).
//   npx tsbpf run tools/pidpersec.ts            # then, elsewhere: anything that starts processes
import { tracepoint, interval, printf, time, ArrayMap, Count, type u64 } from "tsbpf";

export const license = "GPL";

const forks = new ArrayMap<u64>(1);
/** Every fork since the start, printed at exit (`@total: 42`). */
export const total = new Count();

export const fork = tracepoint("sched", "sched_process_fork", () => {
  forks.increment(0);
  total.increment();
});

export const second = interval(1000, () => {
  const n = forks.lookup(0);
  if (n === null) return; // never: an array's elements all exist
  const count = n; // a number: the value now, while forks keep counting in the map
  time("%H:%M:%S ");
  printf("%d forks/s\n", count);
  forks.increment(0, -count);
});
