// The libbpf do_unlinkat kprobe/kretprobe pair, in TypeScript.
import { kprobe, kretprobe, printk, pidTgid, type i32, type i64, type Ptr } from "tsbpf";
import type { filename } from "tsbpf/kernel"; // kernel types, from BTF

export const license = "Dual BSD/GPL";

export const do_unlinkat = kprobe("do_unlinkat", (dfd: i32, name: Ptr<filename>) => {
  const pid = pidTgid() >> 32;
  printk(`KPROBE ENTRY pid = ${pid}, filename = ${name.name}`); // CO-RE read of filename->name
  return 0;
});

export const do_unlinkat_exit = kretprobe("do_unlinkat", (ret: i64) => {
  printk(`KPROBE EXIT: pid = ${pidTgid() >> 32}, ret = ${ret}`);
  return 0;
});
