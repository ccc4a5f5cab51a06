// biolatency: block I/O latency, from the request's issue to the device to its completion, as a log2 histogram
// of microseconds per disk, as bpftrace's tools/biolatency.bt and bcc's biolatency -D. A request is known by
// its device and first sector in both tracepoints (the kernel's own request pointer is not in their records).
//   npx tsbpf run tools/biolatency.ts --duration 10     # dd if=/dev/zero of=/tmp/x bs=1M count=64 oflag=direct
import { tracepoint, ktimeNs, HashMap, Histogram, type u32, type u64 } from "tsbpf";

export const license = "GPL";

interface Request {
  dev: u32;
  sector: u64;
}

/** A disk as `ls -l /dev` shows it: 254, 0 is vda here, 8, 0 sda. */
interface Disk {
  major: u32;
  minor: u32;
}

const issued = new HashMap<Request, u64>(10240);
/** Microseconds from issue to completion, by disk. */
export const usecs = new Histogram<Disk>(64);

export const issue = tracepoint("block", "block_rq_issue", (ctx) => {
  issued.update({ dev: ctx.dev, sector: ctx.sector }, ktimeNs());
});

export const complete = tracepoint("block", "block_rq_complete", (ctx) => {
  const request: Request = { dev: ctx.dev, sector: ctx.sector };
  const start = issued.lookup(request);
  if (start === null) return; // issued before the probe was attached
  // The kernel's dev_t: the major number above 20 bits of minor.
  usecs.record({ major: ctx.dev >> 20, minor: ctx.dev & 0xfffff }, (ktimeNs() - start) / 1000);
  issued.delete(request);
});
