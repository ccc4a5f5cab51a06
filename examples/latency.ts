// unlinkat(2) latency: the entry timestamp in a hash map keyed by thread id, the time to the matching
// exit in a log2 histogram (slot k counts [2^(k-1), 2^k) ns; runtime/loader prints it as bpftrace does).
import { tracepoint, pidTgid, ktimeNs, ArrayMap, HashMap, Histogram, type u32, type u64 } from "tsbpf";

export const license = "GPL";

const start = new HashMap<u32, u64>(10240);
export const latency = new Histogram();
/** Calls seen and calls timed (an exit without its entry is not). */
export const calls = new ArrayMap<u64>(2);

function tid(): u32 {
  return pidTgid() as u32;
}

export const enter = tracepoint("syscalls", "sys_enter_unlinkat", () => {
  start.update(tid(), ktimeNs());
  calls.increment(0);
  return 0;
});

export const exit = tracepoint("syscalls", "sys_exit_unlinkat", () => {
  const id = tid();
  const t0 = start.lookup(id);
  if (t0 === null) return 0; // entered before the probe was attached
  latency.record(ktimeNs() - t0);
  start.delete(id);
  calls.increment(1);
  return 0;
});
