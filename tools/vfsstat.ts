// vfsstat: file system calls counted each second, by call, as bpftrace's tools/vfsstat.bt and bcc's vfsstat (which
// count the kernel's vfs_read(), vfs_write(), ... through kprobes; the syscalls that lead to them are counted here,
// through their tracepoints). Every second the counts are printed under the time and cleared.
//   npx tsbpf run tools/vfsstat.ts
import { begin, end, tracepoint, interval, probe, printf, time, Count, type ProbeName } from "tsbpf";

export const license = "GPL";

/** Calls in the current second, by the syscall's tracepoint. */
export const calls = new Count<ProbeName>(64);

function count() {
  calls.increment(probe());
}

export const header = begin(() => printf("Tracing key VFS calls... Hit Ctrl-C to end.\n"));

// One handler, named by each probe, as a bpftrace probe list shares one action block.
export const read = tracepoint("syscalls", "sys_enter_read", count);
export const readv = tracepoint("syscalls", "sys_enter_readv", count);
export const pread = tracepoint("syscalls", "sys_enter_pread64", count);
export const preadv = tracepoint("syscalls", "sys_enter_preadv*", count); // preadv, preadv2
export const write = tracepoint("syscalls", "sys_enter_write", count);
export const writev = tracepoint("syscalls", "sys_enter_writev", count);
export const pwrite = tracepoint("syscalls", "sys_enter_pwrite64", count);
export const pwritev = tracepoint("syscalls", "sys_enter_pwritev*", count);
export const open = tracepoint("syscalls", "sys_enter_open", count);
export const openat = tracepoint("syscalls", "sys_enter_openat*", count); // openat, openat2
export const creat = tracepoint("syscalls", "sys_enter_creat", count);
export const fsync = tracepoint("syscalls", "sys_enter_f*sync", count); // fsync, fdatasync

export const second = interval(1000, () => {
  time("%H:%M:%S\n");
  calls.print();
  calls.clear();
});

// What the last part of a second counted is not printed at exit, as bpftrace's END clears it.
export const cleared = end(() => calls.clear());
