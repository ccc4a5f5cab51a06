// BTF-typed hooks (tp_btf, fentry, fexit, fmod_ret, lsm): the kernel type a program is loaded for.
// Takes the hook and name from the section and the kernel's BTF; gives the `attach_btf_id` BPF_PROG_LOAD wants,
// or an ObjectError naming what the running kernel lacks.

import { BtfKind, type Btf } from "../../compiler/btf/index.js";
import { ObjectError } from "./errors.js";
import type { BtfHook } from "./object.js";

/** The vmlinux type each hook is typed by: libbpf's naming (`btf_trace_` typedefs, `bpf_lsm_` functions). */
function hookType(hook: BtfHook, name: string): { typeName: string; kind: number; what: string } {
  switch (hook) {
    case "tp_btf":
      return { typeName: `btf_trace_${name}`, kind: BtfKind.TYPEDEF, what: `tracepoint ${name}` };
    case "lsm":
    case "lsm_cgroup":
      return { typeName: `bpf_lsm_${name}`, kind: BtfKind.FUNC, what: `LSM hook ${name}` };
    case "iter":
      return { typeName: `bpf_iter_${name}`, kind: BtfKind.FUNC, what: `iterator ${name}` };
    default:
      return { typeName: name, kind: BtfKind.FUNC, what: `function ${name}` };
  }
}

/** The id of the vmlinux type `hook` attaches through; module BTF is not searched. */
export function hookBtfId(btf: Btf, hook: BtfHook, name: string): number {
  const t = hookType(hook, name);
  const id = btf.findIdsByName(t.typeName, t.kind)[0];
  if (id === undefined) {
    throw new ObjectError(`${hook}/${name}: the running kernel has no ${t.what} in its BTF (no ${t.typeName} in /sys/kernel/btf/vmlinux)`);
  }
  return id;
}

/**
 * Why a BTF-hooked program load failed with EPERM before the verifier ran (empty log) in a process that may
 * otherwise load BPF: the kernel's policy or configuration forbids the hook, so say that and name the alternatives:
 * the syscall tracepoint of the function (`tracepoint`, when it has one), and kprobes only where `kprobes` is not false
 * (a kernel with kprobes compiled out).
 */
export function hookRefusal(hook: BtfHook, running: { kprobes?: boolean; tracepoint?: string } = {}): string {
  const others = running.kprobes === false ? "a uprobe" : "a kprobe or uprobe";
  const tracepoint = running.tracepoint ? `the tracepoint ${running.tracepoint} (SEC("tracepoint/${running.tracepoint.replace(":", "/")}"))` : "a tracepoint";
  const alternative = hook === "tp_btf" ? "a tracepoint or raw_tp section" : `${tracepoint} or ${others}${running.kprobes === false ? " (kprobes are compiled out of the running kernel too)" : ""}`;
  return `refused with EPERM before verification, although other programs load: the running kernel does not allow ${hook} programs here (a security policy or its configuration); use ${alternative} instead`;
}
