// capable: every capability check (capable(), ns_capable(), file capability checks) with its result, in bcc's capable
// columns, through the capability:cap_capable tracepoint (Linux 6.13), where bcc uses a kprobe on cap_capable. The
// record carries the capability and the verdict (0, or -EPERM); the task is the one asking.
//   npx tsbpf run tools/capable.ts -c "ping -c1 127.0.0.1"       # with -c or -p: only that process's checks
import { begin, tracepoint, printf, time, pidTgid, uidGid, comm, targetPid, type i32, type u32, type Str } from "tsbpf";

export const license = "GPL";

/** include/uapi/linux/capability.h's names, as bcc prints them. */
function capName(cap: i32): Str<24> {
  switch (cap) {
    case 0: return "CAP_CHOWN";
    case 1: return "CAP_DAC_OVERRIDE";
    case 2: return "CAP_DAC_READ_SEARCH";
    case 3: return "CAP_FOWNER";
    case 4: return "CAP_FSETID";
    case 5: return "CAP_KILL";
    case 6: return "CAP_SETGID";
    case 7: return "CAP_SETUID";
    case 8: return "CAP_SETPCAP";
    case 9: return "CAP_LINUX_IMMUTABLE";
    case 10: return "CAP_NET_BIND_SERVICE";
    case 11: return "CAP_NET_BROADCAST";
    case 12: return "CAP_NET_ADMIN";
    case 13: return "CAP_NET_RAW";
    case 14: return "CAP_IPC_LOCK";
    case 15: return "CAP_IPC_OWNER";
    case 16: return "CAP_SYS_MODULE";
    case 17: return "CAP_SYS_RAWIO";
    case 18: return "CAP_SYS_CHROOT";
    case 19: return "CAP_SYS_PTRACE";
    case 20: return "CAP_SYS_PACCT";
    case 21: return "CAP_SYS_ADMIN";
    case 22: return "CAP_SYS_BOOT";
    case 23: return "CAP_SYS_NICE";
    case 24: return "CAP_SYS_RESOURCE";
    case 25: return "CAP_SYS_TIME";
    case 26: return "CAP_SYS_TTY_CONFIG";
    case 27: return "CAP_MKNOD";
    case 28: return "CAP_LEASE";
    case 29: return "CAP_AUDIT_WRITE";
    case 30: return "CAP_AUDIT_CONTROL";
    case 31: return "CAP_SETFCAP";
    case 32: return "CAP_MAC_OVERRIDE";
    case 33: return "CAP_MAC_ADMIN";
    case 34: return "CAP_SYSLOG";
    case 35: return "CAP_WAKE_ALARM";
    case 36: return "CAP_BLOCK_SUSPEND";
    case 37: return "CAP_AUDIT_READ";
    case 38: return "CAP_PERFMON";
    case 39: return "CAP_BPF";
    case 40: return "CAP_CHECKPOINT_RESTORE";
    default: return "?";
  }
}

export const header = begin(() => {
  printf("%-9s %-6s %-7s %-16s %-4s %-22s %s\n", "TIME", "UID", "PID", "COMM", "CAP", "NAME", "VERDICT");
});

export const check = tracepoint("capability", "cap_capable", (ctx) => {
  const pid = pidTgid() >> 32;
  if (targetPid() !== 0 && pid !== targetPid()) return;
  time("%H:%M:%S ");
  printf("%-6d %-7d %-16s %-4d %-22s %s\n", uidGid() as u32, pid, comm(), ctx.cap, capName(ctx.cap), ctx.ret === 0 ? "allow" : "deny");
});
