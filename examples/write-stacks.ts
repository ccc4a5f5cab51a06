// Where a program writes from: the user stacks that lead to write(2), counted, as bpftrace's
// `tracepoint:syscalls:sys_enter_write /pid == cpid/ { @[ustack] = count(); }`.
//   tsbpf run examples/write-stacks.ts -c "python3 -c 'print(42)'"     (or -p PID; without either, every process)
// At the end each stack prints with its frames named (`main+25`), the most frequent last.
import { tracepoint, pidTgid, targetPid, ustack, HashMap, type u64, type UserStack } from "tsbpf";

export const license = "GPL";

export const writes = new HashMap<UserStack, u64>(1024);

export const write = tracepoint("syscalls", "sys_enter_write", () => {
  if (targetPid() !== 0 && pidTgid() >> 32 !== targetPid()) return;
  writes.increment(ustack());
});
