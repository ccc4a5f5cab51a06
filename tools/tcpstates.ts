// tcpstates: every TCP state change with the connection's addresses and ports and how long it spent in the state
// it leaves, as bcc's tcpstates (and bpftrace's tools/tcpstates.bt). sock:inet_sock_set_state carries the
// addresses in its record; the time of the last change is kept per socket, which leaves the map on TCP_CLOSE.
// States: 1 ESTABLISHED, 2 SYN_SENT, 3 SYN_RECV, 4 FIN_WAIT1, 5 FIN_WAIT2, 6 TIME_WAIT, 7 CLOSE, 8 CLOSE_WAIT,
// 9 LAST_ACK, 10 LISTEN, 11 CLOSING, 12 NEW_SYN_RECV.
//   npx tsbpf run tools/tcpstates.ts            # then, elsewhere: curl -s http://example.com >/dev/null
import { tracepoint, pidTgid, ktimeNs, comm, HashMap, RingBuf, type u8, type u16, type u32, type i32, type u64, type Str, type Arr } from "tsbpf";

export const license = "GPL";

const IPPROTO_TCP = 6;
const AF_INET = 2;
const TCP_CLOSE = 7;

export interface StateChange {
  /** The task running when the state changed: for a change the network causes, whichever task the packet interrupted. */
  pid: u32;
  comm: Str<16>;
  /** 2 (AF_INET): the addresses are saddr and daddr; 10 (AF_INET6): saddr6 and daddr6. */
  family: u16;
  sport: u16;
  dport: u16;
  saddr: Arr<u8, 4>;
  daddr: Arr<u8, 4>;
  saddr6: Arr<u8, 16>;
  daddr6: Arr<u8, 16>;
  oldstate: i32;
  newstate: i32;
  /** Microseconds in oldstate; 0 when the socket's earlier change was before the probe was attached. */
  usecs: u64;
}

/** When each socket (by its kernel address) last changed state. */
const since = new HashMap<u64, u64>(10240);
export const changes = new RingBuf<StateChange>(256 * 1024);

export const setState = tracepoint("sock", "inet_sock_set_state", (ctx) => {
  if (ctx.protocol !== IPPROTO_TCP) return;
  const now = ktimeNs();
  const sk: u64 = ctx.skaddr;
  const last = since.lookup(sk);
  const e = changes.reserve();
  if (e !== null) {
    e.pid = pidTgid() >> 32;
    e.comm = comm();
    e.family = ctx.family;
    e.sport = ctx.sport;
    e.dport = ctx.dport;
    if (ctx.family === AF_INET) {
      e.saddr = ctx.saddr;
      e.daddr = ctx.daddr;
    } else {
      e.saddr6 = ctx.saddr_v6;
      e.daddr6 = ctx.daddr_v6;
    }
    e.oldstate = ctx.oldstate;
    e.newstate = ctx.newstate;
    e.usecs = last === null ? 0 : (now - last) / 1000;
    changes.submit(e);
  }
  if (ctx.newstate === TCP_CLOSE) since.delete(sk);
  else since.update(sk, now);
});
