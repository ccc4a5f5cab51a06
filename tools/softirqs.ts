// softirqs: time spent in soft interrupts, by kind (the vector: TIMER, NET_RX, RCU, ...), as bcc's softirqs
// (-d: histograms) and bpftrace's `tracepoint:irq:softirq_entry/exit` one-liners. A soft interrupt runs to its end
// on the CPU it started on, with no other on that CPU in between, so its start time is kept in a per-CPU slot: no
// key, no lock, and no task (softirqs run in whatever task they interrupted, or ksoftirqd).
//   npx tsbpf run tools/softirqs.ts --duration 10 --interval 1     # a histogram per vector, and totals
import { tracepoint, ktimeNs, PerCpuArrayMap, Histogram, Sum, Count, type u32, type u64, type Str } from "tsbpf";

export const license = "GPL";

/** The kernel's names of the vectors (include/linux/interrupt.h, the tracepoint's print format), as bcc prints them. */
function vectorName(vec: u32): Str<9> {
  switch (vec) {
    case 0: return "hi";
    case 1: return "timer";
    case 2: return "net_tx";
    case 3: return "net_rx";
    case 4: return "block";
    case 5: return "irq_poll";
    case 6: return "tasklet";
    case 7: return "sched";
    case 8: return "hrtimer";
    case 9: return "rcu";
    default: return "unknown";
  }
}

/** When the soft interrupt running on this CPU started; 0 when none was seen starting. */
const started = new PerCpuArrayMap<u64>(1);

/** Microseconds per run, by vector. */
export const usecs = new Histogram<Str<9>>(16);
/** Total microseconds, by vector (bcc's default table). */
export const total = new Sum<Str<9>>(16);
/** Runs, by vector. */
export const runs = new Count<Str<9>>(16);

export const entry = tracepoint("irq", "softirq_entry", () => {
  started.update(0, ktimeNs());
});

export const exit = tracepoint("irq", "softirq_exit", (ctx) => {
  const start = started.lookup(0);
  if (start === null || start === 0) return; // started before the probe was attached
  const us = (ktimeNs() - start) / 1000;
  started.update(0, 0);
  const name = vectorName(ctx.vec);
  usecs.record(name, us);
  total.record(name, us);
  runs.increment(name);
});
