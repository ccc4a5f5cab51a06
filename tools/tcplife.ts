// tcplife: TCP sessions as they close, with the process, both ends, the bytes sent and received and how long the
// session lived, in bcc's tcplife columns (bpftrace's tools/tcplife.bt). sock:inet_sock_set_state marks the session's
// birth (its first change to a state before FIN_WAIT1) and its end (the change to CLOSE); the byte counts are the
// tcp_sock's own (bytes_acked, bytes_received), read through the record's socket address by BTF. The process is the
// one that connected or closed (SYN_SENT, LAST_ACK), else the one current at CLOSE, as bcc and bpftrace pick it: a
// change to another state often comes in a softirq, in whatever task the packet interrupted.
//   npx tsbpf run tools/tcplife.ts            # then, elsewhere: curl -s http://localhost:8000/ >/dev/null
import { begin, tracepoint, printf, ntop, pidTgid, ktimeNs, comm, HashMap, type u32, type u64, type Str, type Ptr } from "tsbpf";
import { type tcp_sock, IPPROTO_TCP, TCP_SYN_SENT, TCP_FIN_WAIT1, TCP_CLOSE, TCP_LAST_ACK } from "tsbpf/kernel";

export const license = "GPL";

/** A #define, which BTF does not carry (the states and IPPROTO_TCP are enum constants, which it does). */
const AF_INET = 2;

interface Session {
  birth: u64;
  /** Whether pid and comm are the connecting or closing process's. */
  known: boolean;
  pid: u32;
  comm: Str<16>;
}

/** Sessions seen being born, by the socket's kernel address. */
const sessions = new HashMap<u64, Session>(10240);

const ROW = "%-7d %-12.12s %-15s %-5d %-15s %-5d %5d %5d %d.%02d\n";

export const header = begin(() => {
  printf("%-7s %-12s %-15s %-5s %-15s %-5s %5s %5s %s\n", "PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB", "MS");
});

export const setState = tracepoint("sock", "inet_sock_set_state", (ctx) => {
  if (ctx.protocol !== IPPROTO_TCP) return;
  const sk: u64 = ctx.skaddr;
  const newstate = ctx.newstate;
  let s = sessions.lookup(sk);
  if (newstate < TCP_FIN_WAIT1 && s === null) {
    sessions.update(sk, { birth: ktimeNs(), known: false, pid: 0, comm: "" });
    s = sessions.lookup(sk);
  }
  if (s === null) return; // born before the probe was attached
  if (newstate === TCP_SYN_SENT || newstate === TCP_LAST_ACK) {
    s.known = true;
    s.pid = pidTgid() >> 32;
    s.comm = comm();
  }
  if (newstate !== TCP_CLOSE) return;
  if (!s.known) {
    s.pid = pidTgid() >> 32;
    s.comm = comm();
  }
  const tp = ctx.skaddr as Ptr<tcp_sock>;
  const ms = (ktimeNs() - s.birth) / 10_000; // hundredths of a millisecond
  const tx = tp.bytes_acked / 1024;
  const rx = tp.bytes_received / 1024;
  if (ctx.family === AF_INET) {
    printf(ROW, s.pid, s.comm, ntop(ctx.saddr), ctx.sport, ntop(ctx.daddr), ctx.dport, tx, rx, ms / 100, ms % 100);
  } else {
    printf(ROW, s.pid, s.comm, ntop(ctx.saddr_v6), ctx.sport, ntop(ctx.daddr_v6), ctx.dport, tx, rx, ms / 100, ms % 100);
  }
  sessions.delete(sk);
});
