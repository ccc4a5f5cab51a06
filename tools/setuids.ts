// setuids: privilege changes through setuid(2), setfsuid(2), setreuid(2) and setresuid(2), with the caller, the ids
// asked for and the result, as bpftrace's tools/setuids.bt. The entry keeps the call by thread; the exit prints it
// with the return value (setfsuid returns the previous fsuid, the others 0 or -errno). -1, "leave unchanged", prints
// as -1. With -c or -p, only that process's calls.
//   npx tsbpf run tools/setuids.ts       # then, elsewhere: sudo -u nobody true; su nobody -s /bin/true
import { begin, tracepoint, printf, time, pidTgid, uidGid, comm, targetPid, HashMap, type i32, type i64, type u32, type Arr } from "tsbpf";

export const license = "GPL";

const SETUID = 1;
const SETFSUID = 2;
const SETREUID = 3;
const SETRESUID = 4;

interface Call {
  kind: u32;
  /** The ids asked for, as the kernel's uid_t (-1 for one left unchanged); setuid and setfsuid fill only the first. */
  ids: Arr<i32, 3>;
}

const calls = new HashMap<u32, Call>(10240);

export const header = begin(() => {
  printf("%-8s %-6s %-16s %-6s %-9s %s\n", "TIME", "PID", "COMM", "UID", "SYSCALL", "ARGS (RET)");
});

function enter(kind: u32, a: i32, b: i32, c: i32) {
  if (targetPid() !== 0 && pidTgid() >> 32 !== targetPid()) return;
  calls.update(pidTgid() as u32, { kind, ids: [a, b, c] });
}

function leave(ret: i64) {
  const thread = pidTgid() as u32;
  const call = calls.lookup(thread);
  if (call === null) return; // entered before the probe was attached
  time("%H:%M:%S ");
  // The real uid after the call, as bpftrace's `uid` at the exit gives it.
  const uid = uidGid() as u32;
  const pid = pidTgid() >> 32;
  if (call.kind === SETUID) printf("%-6d %-16s %-6d setuid    uid=%d (%d)\n", pid, comm(), uid, call.ids[0], ret);
  else if (call.kind === SETFSUID) printf("%-6d %-16s %-6d setfsuid  uid=%d (%d)\n", pid, comm(), uid, call.ids[0], ret);
  else if (call.kind === SETREUID) printf("%-6d %-16s %-6d setreuid  ruid=%d euid=%d (%d)\n", pid, comm(), uid, call.ids[0], call.ids[1], ret);
  else printf("%-6d %-16s %-6d setresuid ruid=%d euid=%d suid=%d (%d)\n", pid, comm(), uid, call.ids[0], call.ids[1], call.ids[2], ret);
  calls.delete(thread);
}

export const setuid = tracepoint("syscalls", "sys_enter_setuid", (ctx) => enter(SETUID, ctx.uid as i32, 0, 0));
export const setfsuid = tracepoint("syscalls", "sys_enter_setfsuid", (ctx) => enter(SETFSUID, ctx.uid as i32, 0, 0));
export const setreuid = tracepoint("syscalls", "sys_enter_setreuid", (ctx) => enter(SETREUID, ctx.ruid as i32, ctx.euid as i32, 0));
export const setresuid = tracepoint("syscalls", "sys_enter_setresuid", (ctx) => enter(SETRESUID, ctx.ruid as i32, ctx.euid as i32, ctx.suid as i32));
export const setuidExit = tracepoint("syscalls", "sys_exit_setuid", (ctx) => leave(ctx.ret));
export const setfsuidExit = tracepoint("syscalls", "sys_exit_setfsuid", (ctx) => leave(ctx.ret));
export const setreuidExit = tracepoint("syscalls", "sys_exit_setreuid", (ctx) => leave(ctx.ret));
export const setresuidExit = tracepoint("syscalls", "sys_exit_setresuid", (ctx) => leave(ctx.ret));
