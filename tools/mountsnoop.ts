// mountsnoop: every mount(2) and umount(2) (umount2), and move_mount(2) of the new mount API, as the call with its
// arguments and result, in bcc's mountsnoop layout, with the mount namespace the caller is in. The entry saves the
// arguments per thread; the exit reads the strings and prints the call with what it returned.
//   npx tsbpf run tools/mountsnoop.ts -c "sh -c 'mkdir -p /tmp/m && mount -t tmpfs -o size=1m none /tmp/m && umount /tmp/m'"
import { begin, tracepoint, printf, pidTgid, comm, currentTask, readUserStr, HashMap, type u8, type u32, type u64, type i64, type Str } from "tsbpf";

export const license = "GPL";

const MOUNT = 0;
const UMOUNT = 1;
const MOVE_MOUNT = 2;

interface Call {
  kind: u8;
  /** mount: source, target, fstype, data; umount: target; move_mount: from, to. */
  a: u64;
  b: u64;
  c: u64;
  d: u64;
  flags: u64;
}

const calls = new HashMap<u32, Call>(10240);

export const header = begin(() => {
  printf("%-16s %-7s %-7s %-11s %s\n", "COMM", "PID", "TID", "MNT_NS", "CALL");
});

function enter(call: Call) {
  calls.update(pidTgid() as u32, call);
}

function leave(ret: i64) {
  const tid = pidTgid() as u32;
  const call = calls.lookup(tid);
  if (call === null) return; // entered before the probe was attached
  const ns = currentTask().nsproxy.mnt_ns.ns.inum;
  const a: Str<128> = readUserStr(call.a);
  const b: Str<128> = readUserStr(call.b);
  if (call.kind === MOUNT) {
    const fstype: Str<32> = readUserStr(call.c);
    const data: Str<128> = readUserStr(call.d);
    printf("%-16s %-7d %-7d %-11u mount(\"%s\", \"%s\", \"%s\", 0x%x, \"%s\") = %d\n", comm(), pidTgid() >> 32, tid, ns, a, b, fstype, call.flags, data, ret);
  } else if (call.kind === UMOUNT) {
    printf("%-16s %-7d %-7d %-11u umount(\"%s\", 0x%x) = %d\n", comm(), pidTgid() >> 32, tid, ns, a, call.flags, ret);
  } else {
    printf("%-16s %-7d %-7d %-11u move_mount(%d, \"%s\", %d, \"%s\", 0x%x) = %d\n", comm(), pidTgid() >> 32, tid, ns, call.c as i64, a, call.d as i64, b, call.flags, ret);
  }
  calls.delete(tid);
}

export const mountEnter = tracepoint("syscalls", "sys_enter_mount", (ctx) =>
  enter({ kind: MOUNT, a: ctx.dev_name, b: ctx.dir_name, c: ctx.type, d: ctx.data, flags: ctx.flags }));
// umount2(target, flags): the kernel's syscall is named umount.
export const umountEnter = tracepoint("syscalls", "sys_enter_umount", (ctx) => enter({ kind: UMOUNT, a: ctx.name, b: 0, c: 0, d: 0, flags: ctx.flags }));
export const moveMountEnter = tracepoint("syscalls", "sys_enter_move_mount", (ctx) =>
  enter({ kind: MOVE_MOUNT, a: ctx.from_pathname, b: ctx.to_pathname, c: ctx.from_dfd, d: ctx.to_dfd, flags: ctx.flags }));
export const mountExit = tracepoint("syscalls", "sys_exit_mount", (ctx) => leave(ctx.ret));
export const umountExit = tracepoint("syscalls", "sys_exit_umount", (ctx) => leave(ctx.ret));
export const moveMountExit = tracepoint("syscalls", "sys_exit_move_mount", (ctx) => leave(ctx.ret));
