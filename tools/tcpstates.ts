// tcpstates: every TCP state change with the connection's addresses and ports and how long it spent in the state
// it leaves, in bcc's tcpstates columns (and bpftrace's tools/tcpstates.bt). sock:inet_sock_set_state carries the
// addresses in its record; ntop() prints them. The time of the last change is kept per socket, which leaves the map
// on TCP_CLOSE.
//   npx tsbpf run tools/tcpstates.ts            # then, elsewhere: curl -s http://example.com >/dev/null
import { begin, tracepoint, printf, ntop, pidTgid, ktimeNs, comm, HashMap, type i32, type u64, type Str } from "tsbpf";

export const license = "GPL";

const IPPROTO_TCP = 6;
const AF_INET = 2;
const TCP_CLOSE = 7;

/** The kernel's names of the TCP states (include/net/tcp_states.h), as bcc prints them. */
function stateName(state: i32): Str<13> {
  switch (state) {
    case 1: return "ESTABLISHED";
    case 2: return "SYN_SENT";
    case 3: return "SYN_RECV";
    case 4: return "FIN_WAIT1";
    case 5: return "FIN_WAIT2";
    case 6: return "TIME_WAIT";
    case 7: return "CLOSE";
    case 8: return "CLOSE_WAIT";
    case 9: return "LAST_ACK";
    case 10: return "LISTEN";
    case 11: return "CLOSING";
    case 12: return "NEW_SYN_RECV";
    default: return "UNKNOWN";
  }
}

/** bcc's columns: the socket, the task, both ends, the states and the milliseconds in the state left. */
const ROW = "%-16llx %-6d %-16s %-15s %-5d %-15s %-5d %-11s -> %-11s %d.%03d\n";

/** When each socket (by its kernel address) last changed state. */
const since = new HashMap<u64, u64>(10240);

export const header = begin(() => {
  printf("%-16s %-6s %-16s %-15s %-5s %-15s %-5s %-11s -> %-11s %s\n", "SKADDR", "C-PID", "C-COMM", "LADDR", "LPORT", "RADDR", "RPORT", "OLDSTATE", "NEWSTATE", "MS");
});

export const setState = tracepoint("sock", "inet_sock_set_state", (ctx) => {
  if (ctx.protocol !== IPPROTO_TCP) return;
  const now = ktimeNs();
  const sk: u64 = ctx.skaddr;
  const last = since.lookup(sk);
  // Microseconds in the state left; 0 when the socket's earlier change was before the probe was attached. The task is
  // whichever ran when the state changed: for a change the network causes, the one the packet interrupted.
  const usecs = last === null ? 0 : (now - last) / 1000;
  if (ctx.family === AF_INET) {
    printf(ROW, sk, pidTgid() >> 32, comm(), ntop(ctx.saddr), ctx.sport, ntop(ctx.daddr), ctx.dport, stateName(ctx.oldstate), stateName(ctx.newstate), usecs / 1000, usecs % 1000);
  } else {
    printf(ROW, sk, pidTgid() >> 32, comm(), ntop(ctx.saddr_v6), ctx.sport, ntop(ctx.daddr_v6), ctx.dport, stateName(ctx.oldstate), stateName(ctx.newstate), usecs / 1000, usecs % 1000);
  }
  if (ctx.newstate === TCP_CLOSE) since.delete(sk);
  else since.update(sk, now);
});
