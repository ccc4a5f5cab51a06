// exitsnoop: every process that ends, with its parent, its age and how it ended (an exit code, or the signal that
// killed it and whether it dumped core), as bcc's exitsnoop. sched:sched_process_exit fires in each exiting thread;
// the record's group_dead marks the last one, which ends the process. The exit status and the start time are the
// task's own (task_struct's exit_code is set before the tracepoint fires).
//   npx tsbpf run tools/exitsnoop.ts            # then, elsewhere: sh -c 'exit 3'; sleep 100 & kill $!
import { tracepoint, pidTgid, ktimeNs, currentTask, RingBuf, type u32, type i32, type u64, type Str } from "tsbpf";

export const license = "GPL";

/** 1 to report every thread's exit, as bcc's exitsnoop -t (tsbpf run --set threads=1). */
let threads: u32 = 0;

export interface Exit {
  pid: u32;
  tid: u32;
  ppid: u32;
  comm: Str<16>;
  /** Milliseconds from the task's start to its exit. */
  ageMs: u64;
  /** The status a parent's wait() gets: exit(N)'s N, 0 for a signal. */
  exitCode: i32;
  /** The signal that ended the task, 0 for an exit. */
  signal: i32;
  core: boolean;
}

export const exits = new RingBuf<Exit>(256 * 1024);

export const exited = tracepoint("sched", "sched_process_exit", (ctx) => {
  if (threads === 0 && !ctx.group_dead) return;
  const task = currentTask();
  // wait(2)'s status word: the exit code in bits 8-15, else the signal in bits 0-6 and bit 7 for a core dump.
  const status = task.exit_code;
  exits.output({
    pid: pidTgid() >> 32,
    tid: pidTgid() as u32,
    ppid: task.real_parent.tgid,
    comm: ctx.comm,
    ageMs: (ktimeNs() - task.start_time) / 1_000_000,
    exitCode: (status >> 8) & 0xff,
    signal: status & 0x7f,
    core: (status & 0x80) !== 0,
  });
});
