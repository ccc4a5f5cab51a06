// naptime: who sleeps how long, with the sleeper's parent, as bpftrace's tools/naptime.bt (which traces
// nanosleep(2); glibc's sleep() and usleep() call clock_nanosleep(2), so both are traced here). The requested
// time is a struct timespec in the caller's memory: readUser copies it. Zero-length naps are left out.
//   npx tsbpf run tools/naptime.ts              # then, elsewhere: sleep 1.5
import { tracepoint, pidTgid, comm, currentTask, printf, readUser, type i64, type u64 } from "tsbpf";
import type { task_struct } from "tsbpf/kernel";

export const license = "GPL";

/** struct __kernel_timespec: seconds and nanoseconds, both 64-bit. */
interface Timespec {
  sec: i64;
  nsec: i64;
}

const TIMER_ABSTIME = 1;

function nap(request: u64) {
  const t = readUser<Timespec>(request);
  if (t.sec === 0 && t.nsec === 0) return; // sched_yield() by another name, or an unreadable request
  const parent = currentTask<task_struct>().real_parent;
  // bpftrace's columns: PPID, PCOMM, PID, COMM, SECONDS (to the millisecond).
  printf("%-6d %-16s %-6d %-16s %d.%03d\n", parent.tgid, parent.comm, pidTgid() >> 32, comm(), t.sec, t.nsec / 1000000);
}

export const nanosleep = tracepoint("syscalls", "sys_enter_nanosleep", (ctx) => nap(ctx.rqtp));

export const clockNanosleep = tracepoint("syscalls", "sys_enter_clock_nanosleep", (ctx) => {
  // An absolute deadline is a point in time, not a duration.
  if ((ctx.flags & TIMER_ABSTIME) !== 0) return;
  nap(ctx.rqtp);
});
