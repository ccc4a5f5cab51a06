// libc's unlinkat(3) entry as a uprobe: fires in every process that calls it through the C library
// (rm, unlink, most programs), which is how to watch unlinks on a kernel built without kprobes.
import { uprobe, printk, pidTgid, type i32, type u64 } from "tsbpf";

export const license = "GPL";

// unlinkat(int dirfd, const char *pathname, int flags): arguments are read from the user pt_regs.
export const libc_unlinkat = uprobe("libc.so.6", "unlinkat", (dfd: i32, pathname: u64, flags: i32) => {
  const pid = pidTgid() >> 32;
  printk(`UPROBE unlinkat pid = ${pid}, dfd = ${dfd}, flags = ${flags}`);
  return 0;
});
