// writeback: each writeback of dirty pages to a device (a flush worker's pass over a backing device), with the
// pages left to write, why it ran and how long it took, as bpftrace's tools/writeback.bt. writeback:writeback_start
// notes the time by the superblock's device; writeback:writeback_written prints the line.
//   npx tsbpf run tools/writeback.ts         # then, elsewhere: dd if=/dev/zero of=/var/tmp/x bs=1M count=64; sync
import { begin, tracepoint, ktimeNs, printf, time, HashMap, type i32, type u32, type u64, type Str } from "tsbpf";

export const license = "GPL";

/** enum wb_reason's names as the tracepoint's print format gives them (include/linux/backing-dev-defs.h). */
function reasonName(reason: i32): Str<16> {
  switch (reason) {
    case 0: return "background";
    case 1: return "vmscan";
    case 2: return "sync";
    case 3: return "periodic";
    case 4: return "laptop_timer";
    case 5: return "fs_free_space";
    case 6: return "forker_thread";
    case 7: return "foreign_flush";
    default: return "unknown";
  }
}

/** When the writeback of each device (dev_t) started. */
const started = new HashMap<u32, u64>(1024);

export const header = begin(() => {
  printf("Tracing writeback... Hit Ctrl-C to end.\n");
  printf("%-9s %-8s %-8s %-16s %s\n", "TIME", "DEVICE", "PAGES", "REASON", "ms");
});

export const start = tracepoint("writeback", "writeback_start", (ctx) => {
  started.update(ctx.sb_dev, ktimeNs());
});

export const written = tracepoint("writeback", "writeback_written", (ctx) => {
  const since = started.lookup(ctx.sb_dev);
  const us = since === null ? 0 : (ktimeNs() - since) / 1000; // 0: started before the probe was attached
  started.delete(ctx.sb_dev);
  time("%H:%M:%S  ");
  printf("%-8s %-8d %-16s %d.%03d\n", ctx.name, ctx.nr_pages, reasonName(ctx.reason), us / 1000, us % 1000);
});
