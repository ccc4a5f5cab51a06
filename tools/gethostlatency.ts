// gethostlatency: how long each host name lookup through libc took, with the name looked up, as bpftrace's
// tools/gethostlatency.bt and bcc's gethostlatency. A uprobe on entry saves the time and the name (read
// from user memory while the pointer is still the caller's), the uretprobe sends the latency in microseconds.
//   npx tsbpf run tools/gethostlatency.ts        # then, elsewhere: getent ahosts localhost
import { uprobe, uretprobe, pidTgid, ktimeNs, comm, readUserStr, HashMap, RingBuf, type u32, type u64, type Str } from "tsbpf";

export const license = "GPL";

interface Lookup {
  start: u64;
  host: Str<80>;
}

export interface Latency {
  pid: u32;
  comm: Str<16>;
  usecs: u64;
  host: Str<80>;
}

const started = new HashMap<u32, Lookup>(1024);
export const lookups = new RingBuf<Latency>(64 * 1024);

function enter(host: u64) {
  started.update(pidTgid() as u32, { start: ktimeNs(), host: readUserStr(host) });
}

function leave() {
  const tid = pidTgid() as u32;
  const l = started.lookup(tid);
  if (l === null) return; // entered before the probe was attached
  lookups.output({ pid: pidTgid() >> 32, comm: comm(), usecs: (ktimeNs() - l.start) / 1000, host: l.host });
  started.delete(tid);
}

// getaddrinfo(node, service, hints, res), gethostbyname(name), gethostbyname2(name, af): the name comes first.
export const getaddrinfo = uprobe("libc.so.6", "getaddrinfo", (node: u64) => enter(node));
export const gethostbyname = uprobe("libc.so.6", "gethostbyname", (name: u64) => enter(name));
export const gethostbyname2 = uprobe("libc.so.6", "gethostbyname2", (name: u64) => enter(name));
export const getaddrinfoRet = uretprobe("libc.so.6", "getaddrinfo", () => leave());
export const gethostbynameRet = uretprobe("libc.so.6", "gethostbyname", () => leave());
export const gethostbyname2Ret = uretprobe("libc.so.6", "gethostbyname2", () => leave());
