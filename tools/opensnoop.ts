// opensnoop: every open(2), openat(2) and openat2(2) with the file descriptor or error it returned, its flags and
// the path, in bcc's opensnoop columns (with -e's FLAGS, in octal, and the flags by name). The entry saves the path's
// address and the flags per thread; the exit reads the path, which the kernel has faulted in by then.
//   npx tsbpf run tools/opensnoop.ts                          # then, elsewhere: cat /etc/hostname /nonexistent
//   npx tsbpf run tools/opensnoop.ts --set failedOnly=1       # bcc's -x: only the opens that failed
import { begin, tracepoint, printf, pidTgid, comm, readUserStr, readUser, HashMap, type u32, type u64, type i64, type Str } from "tsbpf";

export const license = "GPL";

/** 1 for only the opens that failed (bcc's opensnoop -x). */
let failedOnly: u32 = 0;

interface Pending {
  path: u64;
  flags: u64;
}

const pending = new HashMap<u32, Pending>(10240);

// <asm-generic/fcntl.h>'s values (octal, as the FLAGS column prints them).
const O_ACCMODE = 0o3;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_NOCTTY = 0o400;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_NONBLOCK = 0o4000;
const O_DIRECTORY = 0o200000;
const O_NOFOLLOW = 0o400000;
const O_CLOEXEC = 0o2000000;
const O_PATH = 0o10000000;

function accessMode(flags: u64): Str<10> {
  switch (flags & O_ACCMODE) {
    case 0: return "O_RDONLY";
    case 1: return "O_WRONLY";
    case 2: return "O_RDWR";
    default: return "O_ACCMODE";
  }
}

export const header = begin(() => {
  printf("%-6s %-16s %4s %3s %-8s %s %s\n", "PID", "COMM", "FD", "ERR", "FLAGS", "NAMES", "PATH");
});

function enter(path: u64, flags: u64) {
  pending.update(pidTgid() as u32, { path, flags });
}

function leave(ret: i64) {
  const tid = pidTgid() as u32;
  const p = pending.lookup(tid);
  if (p === null) return; // entered before the probe was attached
  if (failedOnly === 0 || ret < 0) {
    const path: Str<256> = readUserStr(p.path);
    const f = p.flags;
    printf("%-6d %-16s %4d %3d %08o %s%s%s%s%s%s%s%s%s%s%s %s\n", pidTgid() >> 32, comm(), ret < 0 ? -1 : ret, ret < 0 ? -ret : 0, f, accessMode(f), f & O_CREAT ? "|O_CREAT" : "", f & O_EXCL ? "|O_EXCL" : "", f & O_NOCTTY ? "|O_NOCTTY" : "", f & O_TRUNC ? "|O_TRUNC" : "",
      f & O_APPEND ? "|O_APPEND" : "", f & O_NONBLOCK ? "|O_NONBLOCK" : "", f & O_DIRECTORY ? "|O_DIRECTORY" : "",
      f & O_NOFOLLOW ? "|O_NOFOLLOW" : "", f & O_CLOEXEC ? "|O_CLOEXEC" : "", f & O_PATH ? "|O_PATH" : "", path);
  }
  pending.delete(tid);
}

export const openEnter = tracepoint("syscalls", "sys_enter_open", (ctx) => enter(ctx.filename, ctx.flags));
export const openatEnter = tracepoint("syscalls", "sys_enter_openat", (ctx) => enter(ctx.filename, ctx.flags));
// openat2's flags are the first u64 of its struct open_how, in the caller's memory.
export const openat2Enter = tracepoint("syscalls", "sys_enter_openat2", (ctx) => enter(ctx.filename, readUser<u64>(ctx.how)));
export const openExit = tracepoint("syscalls", "sys_exit_open", (ctx) => leave(ctx.ret));
export const openatExit = tracepoint("syscalls", "sys_exit_openat", (ctx) => leave(ctx.ret));
export const openat2Exit = tracepoint("syscalls", "sys_exit_openat2", (ctx) => leave(ctx.ret));
