// hardirqs: time spent in hardware interrupt handlers, by the handler's name (`virtio1-req.0`, `eth0`, ...), as bcc's
// hardirqs (-d: histograms, -C: counts). The name is a __data_loc string in irq:irq_handler_entry's record and is not
// in irq_handler_exit's, so the entry keeps it with its start time in a per-CPU slot: a handler runs to its end on the
// CPU it started on, and a shared line's handlers run one after the other, each with its own entry and exit.
//   npx tsbpf run tools/hardirqs.ts --duration 10 --interval 1
import { tracepoint, ktimeNs, PerCpuArrayMap, Histogram, Sum, Count, type u64, type Str } from "tsbpf";

export const license = "GPL";

/** The handler running on this CPU: when it started (0: none seen starting) and its name. */
interface Running {
  start: u64;
  name: Str<32>;
}

const running = new PerCpuArrayMap<Running>(1);

/** Microseconds per run, by handler name. */
export const usecs = new Histogram<Str<32>>(64);
/** Total microseconds, by handler name (bcc's default table). */
export const total = new Sum<Str<32>>(64);
/** Runs, by handler name (bcc's -C). */
export const runs = new Count<Str<32>>(64);

export const entry = tracepoint("irq", "irq_handler_entry", (ctx) => {
  running.update(0, { start: ktimeNs(), name: ctx.name });
});

export const exit = tracepoint("irq", "irq_handler_exit", () => {
  const r = running.lookup(0);
  if (r === null || r.start === 0) return; // started before the probe was attached
  const us = (ktimeNs() - r.start) / 1000;
  r.start = 0;
  usecs.record(r.name, us);
  total.record(r.name, us);
  runs.increment(r.name);
});
