// unlinkat(2) from the syscalls:sys_enter_unlinkat tracepoint: who unlinks, relative to which directory.
import { tracepoint, printk, pidTgid, comm, type i32 } from "tsbpf";

export const license = "GPL";

export const unlinkat = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => {
  const pid = pidTgid() >> 32;
  // The format file declares dfd as an 8-byte unsigned slot; the syscall's argument is an int.
  const dfd = ctx.dfd as i32;
  printk(`unlinkat by ${comm()} pid = ${pid}, dfd = ${dfd}, flags = ${ctx.flag}`);
  return 0;
});
