// threadsnoop: every thread created through pthread_create(), by which process and from where, as bpftrace's
// tools/threadsnoop.bt and bcc's threadsnoop: the thread's start function by name (usym(), as bpftrace prints it), and
// the creating call's user stack (its frames print by name).
//   npx tsbpf run tools/threadsnoop.ts           # then, elsewhere: any program that starts threads
import { uprobe, pidTgid, ktimeNs, comm, ustack, usym, RingBuf, type u32, type u64, type Str, type UserStack, type UserSymbol } from "tsbpf";

export const license = "GPL";

export interface ThreadStart {
  /** Nanoseconds since boot (CLOCK_MONOTONIC). */
  time: u64;
  pid: u32;
  comm: Str<16>;
  /** The start_routine argument: the new thread's first function, printed by name (`worker`). */
  routine: UserSymbol;
  /** The stack of the pthread_create() call, innermost frames first. */
  stack: UserStack<8>;
}

export const threads = new RingBuf<ThreadStart>(256 * 1024);

// int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start_routine)(void *), void *arg)
export const create = uprobe("libc.so.6", "pthread_create", (_thread: u64, _attr: u64, routine: u64) => {
  threads.output({ time: ktimeNs(), pid: pidTgid() >> 32, comm: comm(), routine: usym(routine), stack: ustack(8) });
});
