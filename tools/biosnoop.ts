// biosnoop: every block I/O request as it completes, with the process that issued it, the disk by name, the
// direction, sector, size and latency, in bcc's biosnoop columns (bpftrace's tools/biosnoop.bt prints fewer).
// The scheduler's block_rq_issue and block_rq_complete raw tracepoints hand over the kernel's struct request, typed
// from BTF: a request is known by its address, as bcc keys it, and its disk's name is rq.q.disk.disk_name.
//   npx tsbpf run tools/biosnoop.ts          # then, elsewhere: dd if=/dev/zero of=/var/tmp/x bs=64k count=16 oflag=direct
//   npx tsbpf run tools/biosnoop.ts --set disk=vda      # one disk's requests (bcc's -d)
import { begin, rawTracepoint, ktimeNs, pidTgid, comm, printf, ArrayMap, HashMap, type u32, type u64, type Str } from "tsbpf";
import type { request } from "tsbpf/kernel";

export const license = "GPL";

/** The operation in a request's cmd_flags (include/linux/blk_types.h: REQ_OP_BITS is 8). */
const REQ_OP_MASK = 0xff;
const REQ_OP_WRITE = 1;

/** Only this disk's requests (bcc's -d); every disk's while empty. */
let disk: Str<32> = "";

/** Who issued a request, and when. */
interface Issue {
  ts: u64;
  pid: u32;
  comm: Str<16>;
}

const issued = new HashMap<u64, Issue>(10240);
/** When tracing started: the TIME(s) column counts from it. */
const started = new ArrayMap<u64>(1);

export const header = begin(() => {
  started.update(0, ktimeNs());
  printf("%-11s %-14s %-7s %-9s %-1s %-10s %-7s %7s\n", "TIME(s)", "COMM", "PID", "DISK", "T", "SECTOR", "BYTES", "LAT(ms)");
});

export const issue = rawTracepoint("block_rq_issue", (rq) => {
  if (disk && rq.q.disk.disk_name !== disk) return;
  issued.update(rq as u64, { ts: ktimeNs(), pid: pidTgid() >> 32, comm: comm() });
});

export const complete = rawTracepoint("block_rq_complete", (rq, error, bytes) => {
  const i = issued.lookup(rq as u64);
  if (i === null) return; // issued before the probe was attached
  const now = ktimeNs();
  const t0 = started.lookup(0) ?? now;
  const us = (now - t0) / 1000;
  const latUs = (now - i.ts) / 1000;
  const write = (rq.cmd_flags & REQ_OP_MASK) === REQ_OP_WRITE;
  printf("%4d.%06d %-14.14s %-7d %-9s %s %-10d %-7d %4d.%02d\n", us / 1000000, us % 1000000, i.comm, i.pid,
    rq.q.disk.disk_name, write ? "W" : "R", rq.__sector, bytes, latUs / 1000, latUs % 1000 / 10);
  issued.delete(rq as u64);
});
