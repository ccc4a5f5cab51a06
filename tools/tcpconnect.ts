// tcpconnect: every active TCP connection attempt (connect(2) on a TCP socket), with the connecting process and both
// addresses, in bcc's tcpconnect columns. bcc probes tcp_v4_connect/tcp_v6_connect; here the sock:inet_sock_set_state
// tracepoint's CLOSE -> SYN_SENT change does, which tcp_v4_connect makes in the caller's context (so pid and comm
// are the connector's) before it picks the local port: the source port is not known yet, as bcc's default leaves
// it out too. Refused and timed-out attempts are attempts as well.
//   npx tsbpf run tools/tcpconnect.ts -c "curl -s http://127.0.0.1:8080/"
import { begin, tracepoint, printf, ntop, pidTgid, uidGid, comm, targetPid, type u32 } from "tsbpf";

export const license = "GPL";

const IPPROTO_TCP = 6;
const AF_INET = 2;
const TCP_SYN_SENT = 2;
const TCP_CLOSE = 7;

export const header = begin(() => {
  printf("%-7s %-6s %-16s %-2s %-39s %-39s %s\n", "PID", "UID", "COMM", "IP", "SADDR", "DADDR", "DPORT");
});

export const connect = tracepoint("sock", "inet_sock_set_state", (ctx) => {
  if (ctx.protocol !== IPPROTO_TCP || ctx.oldstate !== TCP_CLOSE || ctx.newstate !== TCP_SYN_SENT) return;
  const pid = pidTgid() >> 32;
  if (targetPid() !== 0 && pid !== targetPid()) return;
  if (ctx.family === AF_INET) {
    printf("%-7d %-6d %-16s 4  %-39s %-39s %d\n", pid, uidGid() as u32, comm(), ntop(ctx.saddr), ntop(ctx.daddr), ctx.dport);
  } else {
    printf("%-7d %-6d %-16s 6  %-39s %-39s %d\n", pid, uidGid() as u32, comm(), ntop(ctx.saddr_v6), ntop(ctx.daddr_v6), ctx.dport);
  }
});
