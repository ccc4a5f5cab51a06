// killsnoop: every kill(2), who sent which signal to whom and what the call returned, as bpftrace's
// tools/killsnoop.bt and bcc's killsnoop. The entry saves the target and signal per thread; the exit sends
// one ring buffer record with the result (0, or -ESRCH = -3 for a process that does not exist, -EPERM = -1).
//   npx tsbpf run tools/killsnoop.ts            # then, elsewhere: kill -0 $$; kill -9 999999
import { tracepoint, pidTgid, comm, HashMap, RingBuf, type u32, type i32, type i64, type Str } from "tsbpf";

export const license = "GPL";

interface Pending {
  target: i32;
  signal: i32;
}

export interface Kill {
  pid: u32;
  comm: Str<16>;
  signal: i32;
  /** The pid kill() was given: negative for a process group, -1 for every process. */
  target: i32;
  result: i64;
}

const pending = new HashMap<u32, Pending>(1024);
export const kills = new RingBuf<Kill>(64 * 1024);

export const enter = tracepoint("syscalls", "sys_enter_kill", (ctx) => {
  // The record widens pid and sig to 64 bits; kill() takes ints.
  pending.update(pidTgid() as u32, { target: ctx.pid as i32, signal: ctx.sig as i32 });
});

export const exit = tracepoint("syscalls", "sys_exit_kill", (ctx) => {
  const tid = pidTgid() as u32;
  const p = pending.lookup(tid);
  if (p === null) return; // entered before the probe was attached
  kills.output({ pid: pidTgid() >> 32, comm: comm(), signal: p.signal, target: p.target, result: ctx.ret });
  pending.delete(tid);
});
