// bitesize: the sizes of block I/O requests as they are issued to the device, a log2 histogram of bytes per
// process name, as bpftrace's tools/bitesize.bt and bcc's bitesize. block:block_rq_issue names the task that
// issued the request in its record (not always the current one: a request plugged by one task may be issued by
// another, or by a kworker), which is the name bpftrace's tool counts under too.
//   npx tsbpf run tools/bitesize.ts --duration 10     # dd if=/dev/zero of=/tmp/x bs=64k count=64 oflag=direct
import { tracepoint, Histogram, type Str } from "tsbpf";

export const license = "GPL";

/** Bytes of each request, by the issuing process's name. */
export const bytes = new Histogram<Str<16>>(1024);

export const issue = tracepoint("block", "block_rq_issue", (ctx) => {
  bytes.record(ctx.comm, ctx.bytes);
});
