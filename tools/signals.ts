// signals: signals sent, counted by signal and by receiving process, as bpftrace's tools/signals.bt (and the
// counting half of bcc's killsnoop/sigsnoop). signal:signal_generate fires for every signal the kernel
// generates (kill(2), a fault's SIGSEGV, a child's SIGCHLD, a timer's SIGALRM); `result` 0 is a delivered one,
// others were ignored, already pending or blocked. Signal 9 is SIGKILL, 15 SIGTERM, 17 SIGCHLD (kill -l lists them).
//   npx tsbpf run tools/signals.ts --duration 10
import { tracepoint, HashMap, type i32, type u64, type Str } from "tsbpf";

export const license = "GPL";

/** TRACE_SIGNAL_DELIVERED: the signal was queued to the task. */
const DELIVERED = 0;

interface Received {
  signal: i32;
  pid: i32;
  comm: Str<16>;
}

/** Signals queued, by signal number, receiving pid and its task name. */
export const received = new HashMap<Received, u64>(10240);
/** Signals generated but not queued (ignored, or one already pending), by signal number. */
export const dropped = new HashMap<i32, u64>(64);

export const generate = tracepoint("signal", "signal_generate", (ctx) => {
  if (ctx.result !== DELIVERED) return dropped.increment(ctx.sig);
  received.increment({ signal: ctx.sig, pid: ctx.pid, comm: ctx.comm });
});
