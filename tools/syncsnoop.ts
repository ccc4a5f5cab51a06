// syncsnoop: every call that flushes file data to storage (sync, syncfs, fsync, fdatasync, msync, sync_file_range),
// with the caller and the call's tracepoint, as bpftrace's tools/syncsnoop.bt and bcc's syncsnoop. One probe takes
// the six syscalls' entry tracepoints through a glob; probe() names the one that fired. With -c or -p, only that
// process's calls print.
//   npx tsbpf run tools/syncsnoop.ts         # then, elsewhere: sync
import { begin, tracepoint, pidTgid, targetPid, comm, probe, printf, time } from "tsbpf";

export const license = "GPL";

export const header = begin(() => {
  printf("Tracing sync syscalls... Hit Ctrl-C to end.\n");
  printf("%-9s %-6s %-16s %s\n", "TIME", "PID", "COMM", "EVENT");
});

export const syncs = tracepoint("syscalls", "sys_enter_*sync*", () => {
  if (targetPid() !== 0 && pidTgid() >> 32 !== targetPid()) return;
  time("%H:%M:%S  ");
  printf("%-6d %-16s %s\n", pidTgid() >> 32, comm(), probe());
});
