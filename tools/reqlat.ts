// reqlat: the latency of a function of your own program, through a uprobe and a uretprobe, as a log2 histogram of
// microseconds by a field of the struct its first argument points to, with each call's arguments printed and its
// return values counted: what bcc's funclatency and a bpftrace `uprobe`/`uretprobe` pair with a struct cast do. It
// traces handle() of tools/reqd.c; for another program, change APP, the function and the Request interface (the C
// struct's fields in order: tsbpf lays an interface out as C does).
//   gcc -O2 -g -fno-omit-frame-pointer -o /tmp/reqd tools/reqd.c
//   npx tsbpf run tools/reqlat.ts -c "/tmp/reqd 20"
import { begin, uprobe, uretprobe, printf, pidTgid, ktimeNs, readUser, HashMap, Histogram, Count, type i32, type i64, type u32, type u64, type Str, type Ptr } from "tsbpf";

export const license = "GPL";

const APP = "/tmp/reqd";

/** struct request of tools/reqd.c. */
interface Request {
  id: i32;
  kind: i32;
  size: i64;
  path: Str<24>;
}

/** struct tag of tools/reqd.c, passed by value: 8 bytes, in one register. */
interface Tag {
  a: i32;
  b: i32;
}

interface Call {
  start: u64;
  kind: i32;
}

/** Calls under way, by thread. */
const calls = new HashMap<u32, Call>(4096);

/** Microseconds per call, by the request's kind. */
export const usecs = new Histogram<i32>(64);
/** Calls by return value. */
export const results = new Count<i64>(1024);

export const header = begin(() => {
  printf("%-7s %-6s %-4s %-8s %-24s %s\n", "TID", "ID", "KIND", "SIZE", "PATH", "TAG");
});

// long handle(struct request *r, struct tag t, int flags): the request by pointer, read from the process's memory; the
// tag by value, in the register after it.
export const enter = uprobe(APP, "handle", (r: Ptr<Request>, tag: Tag) => {
  const req = readUser<Request>(r);
  printf("%-7d %-6d %-4d %-8d %-24s %d,%d\n", pidTgid() as u32, req.id, req.kind, req.size, req.path, tag.a, tag.b);
  calls.update(pidTgid() as u32, { start: ktimeNs(), kind: req.kind });
});

export const leave = uretprobe(APP, "handle", (ret: i64) => {
  const tid = pidTgid() as u32;
  const call = calls.lookup(tid);
  if (call === null) return; // entered before the probe was attached
  usecs.record(call.kind, (ktimeNs() - call.start) / 1000);
  results.increment(ret);
  calls.delete(tid);
});
