// How much each program reads at a time: read(2)'s results per task name, as bpftrace's
// `tracepoint:syscalls:sys_exit_read /args->ret >= 0/ { @bytes[comm] = stats(args->ret); @largest[comm] = max(args->ret); }`.
//   tsbpf run examples/read-sizes.ts --duration 5
// At the end: `@bytes[cat]: count 3, average 43690, total 131072` and `@largest[cat]: 131072`, by value.
import { tracepoint, comm, Stats, Max, type Str } from "tsbpf";

export const license = "GPL";

export const bytes = new Stats<Str<16>>(1024);
export const largest = new Max<Str<16>>(1024);

export const read = tracepoint("syscalls", "sys_exit_read", (ctx) => {
  // A failed read returns -errno: not a size.
  if (ctx.ret < 0) return;
  bytes.record(comm(), ctx.ret);
  largest.record(comm(), ctx.ret);
});
