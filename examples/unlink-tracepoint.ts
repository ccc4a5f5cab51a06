// unlinkat(2) from the syscalls:sys_enter_unlinkat tracepoint: who unlinks, relative to which directory.
import { tracepoint, printk, pidTgid, comm } from "tsbpf";

export const license = "GPL";

export const unlinkat = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => {
  const pid = pidTgid() >> 32;
  // An int, as the format file declares it (in an 8-byte slot): AT_FDCWD is -100.
  printk(`unlinkat by ${comm()} pid = ${pid}, dfd = ${ctx.dfd}, flags = ${ctx.flag}`);
  return 0;
});
