// klockstat: kernel lock contention, as bcc's klockstat and `perf lock contention -b`: how long tasks waited for a
// contended lock, by the kind of lock (spinlock, mutex, rwsem, ...: lock:contention_begin's flags) and the stack that
// waited, with the waits' count, average, total (microseconds) and longest. The lock:contention_begin/end tracepoints
// (Linux 5.19) fire only where a lock is contended; each thread waits for one lock at a time.
//   npx tsbpf run tools/klockstat.ts --duration 5
import { tracepoint, kstack, pidTgid, ktimeNs, HashMap, Stats, Max, type KernelStack, type u32, type u64, type Str } from "tsbpf";

export const license = "GPL";

/** A kind of lock and where it was waited for. */
interface Contention {
  kind: Str<16>;
  stack: KernelStack<8>;
}

interface Waiting {
  since: u64;
  where: Contention;
}

/** include/trace/events/lock.h's LCB_F_* flags, as the tracepoint's print format names them. */
function lockKind(flags: u32): Str<16> {
  switch (flags) {
    case 1: return "spinlock";
    case 2: return "rwsem:read";
    case 4: return "rwsem:write";
    case 3: return "rwlock:read";
    case 5: return "rwlock:write";
    case 8: return "rtmutex";
    case 18: return "percpu:read";
    case 20: return "percpu:write";
    case 32: return "mutex";
    case 33: return "mutex:spin"; // optimistic spinning on the owner
    default: return "other";
  }
}

const waiting = new HashMap<u32, Waiting>(10240);

/** Microseconds waited: count, average and total, by lock kind and waiting stack. */
export const waits = new Stats<Contention>(4096);
/** The longest wait, in microseconds. */
export const longest = new Max<Contention>(4096);

export const begin = tracepoint("lock", "contention_begin", (ctx) => {
  waiting.update(pidTgid() as u32, { since: ktimeNs(), where: { kind: lockKind(ctx.flags), stack: kstack(8) } });
});

export const end = tracepoint("lock", "contention_end", () => {
  const tid = pidTgid() as u32;
  const w = waiting.lookup(tid);
  if (w === null) return; // began before the probe was attached
  const us = (ktimeNs() - w.since) / 1000;
  const where: Contention = w.where;
  waiting.delete(tid);
  waits.record(where, us);
  longest.record(where, us);
});
