// syscount: system calls counted by syscall number and by process name, as bpftrace's tools/syscount.bt and
// bcc's syscount. One tracepoint on raw_syscalls:sys_enter sees every syscall of every process; with
// `-c CMD` or `-p PID` only that process's (and its threads') calls count.
//   npx tsbpf run tools/syscount.ts --duration 5          # ausyscall NUMBER names a syscall number
import { tracepoint, pidTgid, comm, targetPid, HashMap, type u64, type Str } from "tsbpf";

export const license = "GPL";

/** Calls by syscall number (x86-64's numbering: 0 is read, 1 write, ...). */
export const syscalls = new HashMap<u64, u64>(1024);
/** Calls by the calling task's name. */
export const processes = new HashMap<Str<16>, u64>(10240);

export const enter = tracepoint("raw_syscalls", "sys_enter", (ctx) => {
  // targetPid() is 0 without -c/-p: a constant the verifier folds away.
  if (targetPid() !== 0 && pidTgid() >> 32 !== targetPid()) return;
  syscalls.increment(ctx.id);
  processes.increment(comm());
});
