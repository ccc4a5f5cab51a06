// syslat: system call latency, from raw_syscalls:sys_enter to sys_exit on the same thread, as bcc's syscount -L: the
// calls, average and total microseconds by syscall number, and the slowest call of each (bpftrace's stats() and
// max()). `--set byProcess=1` counts by process instead (bcc's -P); `--set errors=1` counts only the calls that
// failed (bcc's -x). With -c or -p, only that process's calls count.
//   npx tsbpf run tools/syslat.ts -c "ls -l /usr/bin"      # ausyscall NUMBER names a syscall number
import { tracepoint, pidTgid, comm, ktimeNs, targetPid, LruHashMap, Stats, Max, type i64, type u32, type u64, type Str } from "tsbpf";

export const license = "GPL";

/** 1: by process (pid and name) rather than by syscall. */
let byProcess: u64 = 0;
/** 1: only calls that returned an error (-4095..-1). */
let errors: u64 = 0;

interface Process {
  pid: u32;
  comm: Str<16>;
}

/** When each thread entered its syscall; exit() and exit_group() never leave theirs, so the oldest are let go. */
const entered = new LruHashMap<u64, u64>(10240);

/** Calls, average and total microseconds, by syscall number. */
export const latency = new Stats<i64>(1024);
/** The slowest call's microseconds, by syscall number. */
export const slowest = new Max<i64>(1024);
/** Calls, average and total microseconds, by process (--set byProcess=1). */
export const processes = new Stats<Process>(10240);

const followed = (): boolean => targetPid() === 0 || pidTgid() >> 32 === targetPid();

export const enter = tracepoint("raw_syscalls", "sys_enter", () => {
  if (followed()) entered.update(pidTgid(), ktimeNs());
});

export const exit = tracepoint("raw_syscalls", "sys_exit", (ctx) => {
  const id = pidTgid();
  const since = entered.lookup(id);
  if (since === null) return; // entered before the probe was attached, or not followed
  const us = (ktimeNs() - since) / 1000;
  entered.delete(id);
  if (errors !== 0 && (ctx.ret >= 0 || ctx.ret < -4095)) return;
  if (byProcess !== 0) {
    processes.record({ pid: id >> 32, comm: comm() }, us);
  } else {
    latency.record(ctx.id, us);
    slowest.record(ctx.id, us);
  }
});
