// Helper prototypes: argument kinds, return kind and side effects of the common helpers, and
// which program types may call each (the kernel's bpf_func_proto tables and *_func_proto).

import { Helper } from "../isa/helpers.js";
import { ProgTypeId, isTracing } from "./progtypes.js";

export type ArgKind =
  | "any" // ARG_ANYTHING
  | "map" // ARG_CONST_MAP_PTR
  | "key" // ARG_PTR_TO_MAP_KEY
  | "value" // ARG_PTR_TO_MAP_VALUE
  | "mem" // ARG_PTR_TO_MEM | MEM_RDONLY, size in the next argument
  | "mem_or_null" // the same, NULL allowed with size 0
  | "uninit" // ARG_PTR_TO_UNINIT_MEM: the helper writes it, size in the next argument
  | "size" // ARG_CONST_SIZE
  | "size0" // ARG_CONST_SIZE_OR_ZERO
  | "alloc_size0" // ARG_CONST_ALLOC_SIZE_OR_ZERO: a known constant
  | "out_or_null" // ARG_PTR_TO_MEM_OR_NULL | MEM_WRITE: the helper writes it, size in the next argument
  | "const_str" // ARG_PTR_TO_CONST_STR: a NUL-terminated string in a read-only map value
  | "task" // ARG_PTR_TO_BTF_ID of struct task_struct (bpf_get_current_task_btf's result)
  | "btf_sock_common" // ARG_PTR_TO_BTF_ID_SOCK_COMMON: a typed pointer to a socket (struct sock_common first)
  | "ctx" // ARG_PTR_TO_CTX
  | "func" // ARG_PTR_TO_FUNC: a static subprogram the helper calls back
  | "stack_or_null" // ARG_PTR_TO_STACK_OR_NULL: a callback's context, any stack pointer or NULL
  | "ringbuf_release"; // ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE

export type RetKind = "int" | "void" | "map_value_or_null" | "ringbuf_mem_or_null" | "task";

export interface HelperProto {
  args: ArgKind[];
  ret: RetKind;
  /** Invalidates packet pointers (bpf_helper_changes_pkt_data). */
  changesPkt?: boolean;
  /** May read packet memory through its pointer arguments. */
  pktAccess?: boolean;
}

const p = (args: ArgKind[], ret: RetKind = "int", extra: Partial<HelperProto> = {}): HelperProto => ({ args, ret, ...extra });
const probeRead = p(["uninit", "size0", "any"]);

export const PROTOS: Record<number, HelperProto> = {
  [Helper.map_lookup_elem]: p(["map", "key"], "map_value_or_null", { pktAccess: true }),
  [Helper.map_update_elem]: p(["map", "key", "value", "any"], "int", { pktAccess: true }),
  [Helper.map_delete_elem]: p(["map", "key"], "int", { pktAccess: true }),
  [Helper.probe_read]: probeRead,
  [Helper.probe_read_str]: probeRead,
  [Helper.probe_read_user]: probeRead,
  [Helper.probe_read_kernel]: probeRead,
  [Helper.probe_read_user_str]: probeRead,
  [Helper.probe_read_kernel_str]: probeRead,
  [Helper.ktime_get_ns]: p([]),
  [Helper.ktime_get_boot_ns]: p([]),
  [Helper.jiffies64]: p([]),
  [Helper.trace_printk]: p(["mem", "size"]),
  [Helper.trace_vprintk]: p(["mem", "size", "mem_or_null", "size0"]),
  [Helper.get_prandom_u32]: p([]),
  [Helper.get_smp_processor_id]: p([]),
  [Helper.get_numa_node_id]: p([]),
  [Helper.tail_call]: p(["ctx", "map", "any"], "void"),
  [Helper.get_current_pid_tgid]: p([]),
  [Helper.get_current_uid_gid]: p([]),
  [Helper.get_current_comm]: p(["uninit", "size"]),
  [Helper.get_current_task]: p([]),
  [Helper.get_current_task_btf]: p([], "task"),
  [Helper.get_current_cgroup_id]: p([]),
  [Helper.perf_event_read]: p(["map", "any"]),
  [Helper.perf_event_output]: p(["ctx", "map", "any", "mem", "size0"]),
  [Helper.get_stackid]: p(["ctx", "map", "any"]),
  [Helper.get_stack]: p(["ctx", "uninit", "size0", "any"]),
  [Helper.override_return]: p(["ctx", "any"]),
  [Helper.ringbuf_output]: p(["map", "mem", "size0", "any"]),
  [Helper.ringbuf_reserve]: p(["map", "alloc_size0", "any"], "ringbuf_mem_or_null"),
  [Helper.ringbuf_submit]: p(["ringbuf_release", "any"], "void"),
  [Helper.ringbuf_discard]: p(["ringbuf_release", "any"], "void"),
  [Helper.ringbuf_query]: p(["map", "any"]),
  [Helper.skb_load_bytes]: p(["ctx", "any", "uninit", "size"]),
  [Helper.skb_load_bytes_relative]: p(["ctx", "any", "uninit", "size", "any"]),
  [Helper.skb_store_bytes]: p(["ctx", "any", "mem", "size", "any"], "int", { changesPkt: true }),
  [Helper.l3_csum_replace]: p(["ctx", "any", "any", "any", "any"], "int", { changesPkt: true }),
  [Helper.l4_csum_replace]: p(["ctx", "any", "any", "any", "any"], "int", { changesPkt: true }),
  [Helper.clone_redirect]: p(["ctx", "any", "any"], "int", { changesPkt: true }),
  [Helper.get_cgroup_classid]: p(["ctx"]),
  [Helper.get_route_realm]: p(["ctx"]),
  [Helper.get_hash_recalc]: p(["ctx"]),
  [Helper.skb_vlan_push]: p(["ctx", "any", "any"], "int", { changesPkt: true }),
  [Helper.skb_vlan_pop]: p(["ctx"], "int", { changesPkt: true }),
  [Helper.skb_pull_data]: p(["ctx", "any"], "int", { changesPkt: true }),
  [Helper.skb_change_tail]: p(["ctx", "any", "any"], "int", { changesPkt: true }),
  [Helper.skb_change_head]: p(["ctx", "any", "any"], "int", { changesPkt: true }),
  [Helper.skb_change_proto]: p(["ctx", "any", "any"], "int", { changesPkt: true }),
  [Helper.redirect]: p(["any", "any"]),
  [Helper.redirect_map]: p(["map", "any", "any"]),
  [Helper.csum_diff]: p(["mem_or_null", "size0", "mem_or_null", "size0", "any"], "int", { pktAccess: true }),
  [Helper.get_socket_cookie]: p(["ctx"]),
  [Helper.get_socket_uid]: p(["ctx"]),
  [Helper.xdp_adjust_head]: p(["ctx", "any"], "int", { changesPkt: true }),
  [Helper.xdp_adjust_meta]: p(["ctx", "any"], "int", { changesPkt: true }),
  [Helper.xdp_adjust_tail]: p(["ctx", "any"], "int", { changesPkt: true }),
  [Helper.current_task_under_cgroup]: p(["map", "any"]),
  [Helper.get_ns_current_pid_tgid]: p(["any", "any", "uninit", "size"]),
  [Helper.get_current_ancestor_cgroup_id]: p(["any"]),
  [Helper.send_signal]: p(["any"]),
  [Helper.send_signal_thread]: p(["any"]),
  [Helper.perf_event_read_value]: p(["map", "any", "uninit", "size"]),
  [Helper.get_task_stack]: p(["task", "uninit", "size0", "any"]),
  [Helper.ktime_get_coarse_ns]: p([]),
  [Helper.ktime_get_tai_ns]: p([]),
  [Helper.snprintf]: p(["out_or_null", "size0", "const_str", "mem_or_null", "size0"]),
  [Helper.get_func_ip]: p(["ctx"]),
  [Helper.get_attach_cookie]: p(["ctx"]),
  // the verifier checks no flags: a non-zero one fails at run time (-EINVAL)
  [Helper.loop]: p(["any", "func", "stack_or_null", "any"]),
  [Helper.for_each_map_elem]: p(["map", "func", "stack_or_null", "any"]),
};

/** Helpers that call a subprogram back, in the caller's program (is_sync_callback_calling_function). */
export const CALLS_BACK: ReadonlySet<number> = new Set([Helper.loop, Helper.for_each_map_elem]);

/**
 * Helpers the kernel lets only GPL-compatible programs call (`gpl_only` in their bpf_func_proto): of those modelled,
 * each checked against Linux 6.18 by loading a call of it under the license "MIT".
 */
export const GPL_ONLY: ReadonlySet<number> = new Set([
  Helper.probe_read, Helper.probe_read_str, Helper.probe_read_user, Helper.probe_read_kernel, Helper.probe_read_user_str,
  Helper.probe_read_kernel_str, Helper.trace_printk, Helper.trace_vprintk, Helper.snprintf, Helper.get_current_task,
  Helper.get_current_task_btf, Helper.perf_event_read, Helper.perf_event_read_value, Helper.perf_event_output,
  Helper.get_stackid, Helper.get_stack, Helper.get_func_ip,
]);

/** Licenses the kernel counts as GPL-compatible (license_is_gpl_compatible), exactly as written. */
const GPL_COMPATIBLE = new Set(["GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"]);
export const gplCompatible = (license: string): boolean => GPL_COMPATIBLE.has(license);

/** Helper ids at or beyond this are not helpers at all (__BPF_FUNC_MAX_ID). */
export const HELPER_MAX_ID = 212;

const BASE: number[] = [
  Helper.map_lookup_elem, Helper.map_update_elem, Helper.map_delete_elem, Helper.get_prandom_u32,
  Helper.get_smp_processor_id, Helper.get_numa_node_id, Helper.tail_call, Helper.ktime_get_ns,
  Helper.ktime_get_boot_ns, Helper.ringbuf_output, Helper.ringbuf_reserve, Helper.ringbuf_submit,
  Helper.ringbuf_discard, Helper.ringbuf_query, Helper.get_current_pid_tgid,
  // CAP_BPF
  Helper.jiffies64, Helper.get_current_cgroup_id, Helper.loop, Helper.for_each_map_elem,
  // perfmon-capable loaders (root) get these in every program type
  Helper.trace_printk, Helper.trace_vprintk, Helper.probe_read_user, Helper.probe_read_kernel,
  Helper.probe_read_user_str, Helper.probe_read_kernel_str, Helper.get_current_task, Helper.get_current_task_btf,
  // ... and, since Linux 6.1x, these (checked against 6.18)
  Helper.get_current_uid_gid, Helper.get_current_comm, Helper.ktime_get_tai_ns, Helper.current_task_under_cgroup,
  Helper.get_ns_current_pid_tgid, Helper.get_current_ancestor_cgroup_id, Helper.send_signal, Helper.send_signal_thread,
  Helper.perf_event_read_value, Helper.get_task_stack, Helper.snprintf,
];

const TRACING: number[] = [
  Helper.probe_read, Helper.probe_read_str, Helper.get_current_pid_tgid, Helper.get_current_uid_gid,
  Helper.get_current_comm, Helper.perf_event_read, Helper.perf_event_output, Helper.get_stackid,
  Helper.get_stack, Helper.get_current_cgroup_id,
];

const SKB_READ: number[] = [Helper.skb_load_bytes, Helper.skb_load_bytes_relative, Helper.get_socket_cookie, Helper.get_socket_uid, Helper.perf_event_output];

const TC: number[] = [
  ...SKB_READ, Helper.skb_store_bytes, Helper.l3_csum_replace, Helper.l4_csum_replace, Helper.clone_redirect,
  Helper.get_cgroup_classid, Helper.skb_vlan_push, Helper.skb_vlan_pop, Helper.redirect, Helper.get_route_realm,
  Helper.get_hash_recalc, Helper.csum_diff, Helper.skb_pull_data, Helper.skb_change_tail, Helper.skb_change_head,
  Helper.skb_change_proto,
];

const XDP: number[] = [Helper.perf_event_output, Helper.csum_diff, Helper.xdp_adjust_head, Helper.xdp_adjust_meta, Helper.xdp_adjust_tail, Helper.redirect, Helper.redirect_map];

/** Program types whose helper table has perf_event_output (besides tracing). */
const PERF_OUTPUT_TYPES = new Set<number>([
  ProgTypeId.cgroup_sock, ProgTypeId.cgroup_sock_addr, ProgTypeId.socket_filter, ProgTypeId.cgroup_skb, ProgTypeId.sched_cls,
  ProgTypeId.sched_act, ProgTypeId.xdp, ProgTypeId.sock_ops, ProgTypeId.sk_msg, ProgTypeId.sk_skb, ProgTypeId.lwt_in,
  ProgTypeId.lwt_out, ProgTypeId.lwt_xmit, ProgTypeId.lwt_seg6local, ProgTypeId.sk_lookup, ProgTypeId.cgroup_device,
  ProgTypeId.cgroup_sysctl, ProgTypeId.cgroup_sockopt,
]);

const ALLOWED = new Map<number, Set<number>>();
function allowed(progType: number): Set<number> {
  let set = ALLOWED.get(progType);
  if (set) return set;
  const ids = [...BASE];
  // The coarse clock is not safe in NMI context, where tracing programs can run.
  // tp_btf programs (tracing, BPF_TRACE_RAW_TP) have the raw tracepoint's helpers, and a few for typed pointers.
  const tracing = isTracing(progType) || progType === ProgTypeId.tracing;
  if (tracing) ids.push(...TRACING);
  else ids.push(Helper.ktime_get_coarse_ns);
  if (progType === ProgTypeId.tracing) ids.push(Helper.get_socket_cookie);
  if (progType === ProgTypeId.kprobe) ids.push(Helper.override_return);
  // bpf_get_func_ip is in every tracing type's table; the call is checked further (checkHelperCall)
  if (tracing) ids.push(Helper.get_attach_cookie, Helper.get_func_ip);
  if (progType === ProgTypeId.socket_filter) ids.push(...SKB_READ);
  if (progType === ProgTypeId.sched_cls || progType === ProgTypeId.sched_act) ids.push(...TC);
  if (progType === ProgTypeId.xdp) ids.push(...XDP);
  if (progType === ProgTypeId.cgroup_skb) ids.push(...SKB_READ);
  if (progType === ProgTypeId.sk_skb) ids.push(Helper.skb_load_bytes, Helper.skb_pull_data, Helper.skb_change_tail, Helper.skb_change_head, Helper.get_socket_cookie, Helper.get_socket_uid, Helper.perf_event_output);
  if (PERF_OUTPUT_TYPES.has(progType)) ids.push(Helper.perf_event_output);
  set = new Set(ids);
  ALLOWED.set(progType, set);
  return set;
}

/** Tracing programs (tp_btf) take typed kernel pointers where other types take their context. */
const TRACING_PROTOS: Record<number, HelperProto> = {
  [Helper.get_socket_cookie]: p(["btf_sock_common"]),
};

/** The prototype of helper `id` for `progType`, or why it cannot be called, or that the model does not know it. */
export function helperProto(id: number, progType: number): HelperProto | "out_of_range" | "not_allowed" | "not_modelled" {
  if (id < 0 || id >= HELPER_MAX_ID) return "out_of_range";
  const proto = (progType === ProgTypeId.tracing ? TRACING_PROTOS[id] : undefined) ?? PROTOS[id];
  if (!proto) return "not_modelled";
  if (!allowed(progType).has(id)) return "not_allowed";
  return proto;
}
