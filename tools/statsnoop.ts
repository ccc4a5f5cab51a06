// statsnoop: every stat-family call with its path and result, as bpftrace's tools/statsnoop.bt and bcc's
// statsnoop. glibc's stat() and lstat() call newfstatat(2) today, coreutils' stat calls statx(2), older
// programs stat(2) and lstat(2): all four are traced. The entry saves the path pointer; the exit reads the path
// (still in the caller's memory) and sends it with the result (fstat's empty path is left out): 0, or -ENOENT (-2) and other errors.
//   npx tsbpf run tools/statsnoop.ts            # then, elsewhere: stat /etc/hostname /nonexistent
import { tracepoint, pidTgid, comm, targetPid, readUserStr, HashMap, RingBuf, type u32, type u64, type i64, type Str } from "tsbpf";

export const license = "GPL";

export interface Stat {
  pid: u32;
  comm: Str<16>;
  ret: i64;
  path: Str<128>;
}

const paths = new HashMap<u32, u64>(10240);
export const stats = new RingBuf<Stat>(256 * 1024);

function enter(path: u64) {
  if (targetPid() !== 0 && pidTgid() >> 32 !== targetPid()) return;
  paths.update(pidTgid() as u32, path);
}

function exit(ret: i64) {
  const tid = pidTgid() as u32;
  const path = paths.lookup(tid);
  if (path === null) return; // entered before the probe was attached, or another process with -c/-p
  paths.delete(tid);
  const s = stats.reserve();
  if (s === null) return; // the buffer is full: drop the event
  s.path = readUserStr(path);
  // fstat() is newfstatat(fd, "", AT_EMPTY_PATH): no path to show.
  if (s.path === "") return stats.discard(s);
  s.pid = pidTgid() >> 32;
  s.comm = comm();
  s.ret = ret;
  stats.submit(s);
}

export const stat = tracepoint("syscalls", "sys_enter_newstat", (ctx) => enter(ctx.filename));
export const lstat = tracepoint("syscalls", "sys_enter_newlstat", (ctx) => enter(ctx.filename));
export const fstatat = tracepoint("syscalls", "sys_enter_newfstatat", (ctx) => enter(ctx.filename));
export const statx = tracepoint("syscalls", "sys_enter_statx", (ctx) => enter(ctx.filename));
export const statExit = tracepoint("syscalls", "sys_exit_newstat", (ctx) => exit(ctx.ret));
export const lstatExit = tracepoint("syscalls", "sys_exit_newlstat", (ctx) => exit(ctx.ret));
export const fstatatExit = tracepoint("syscalls", "sys_exit_newfstatat", (ctx) => exit(ctx.ret));
export const statxExit = tracepoint("syscalls", "sys_exit_statx", (ctx) => exit(ctx.ret));
