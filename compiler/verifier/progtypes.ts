// Program types: the kernel's numbers and names, and per type the facts the verifier needs —
// direct packet access, LD_ABS/LD_IND, the allowed exit values, and which helper groups exist.

export const ProgTypeId = {
  unspec: 0, socket_filter: 1, kprobe: 2, sched_cls: 3, sched_act: 4, tracepoint: 5, xdp: 6, perf_event: 7,
  cgroup_skb: 8, cgroup_sock: 9, lwt_in: 10, lwt_out: 11, lwt_xmit: 12, sock_ops: 13, sk_skb: 14,
  cgroup_device: 15, sk_msg: 16, raw_tracepoint: 17, cgroup_sock_addr: 18, lwt_seg6local: 19, lirc_mode2: 20,
  sk_reuseport: 21, flow_dissector: 22, cgroup_sysctl: 23, raw_tracepoint_writable: 24, cgroup_sockopt: 25,
  tracing: 26, struct_ops: 27, ext: 28, lsm: 29, sk_lookup: 30, syscall: 31, netfilter: 32,
} as const;

/** Number of a program type from its kernel name (`xdp`, `BPF_PROG_TYPE_XDP`) or a number. */
export function progTypeFromName(name: string): number | undefined {
  const n = name.trim().toLowerCase().replace(/^bpf_prog_type_/, "");
  if (/^\d+$/.test(n)) return Number(n);
  return (ProgTypeId as Record<string, number>)[n];
}

export function progTypeName(id: number): string {
  for (const [k, v] of Object.entries(ProgTypeId)) if (v === id) return k;
  return `type#${id}`;
}

/** Normalises the harness convention (0 = socket filter). */
export const resolveProgType = (t: number): number => (t === 0 ? ProgTypeId.socket_filter : t);

export type PacketAccess = "none" | "read" | "rw";

export function packetAccess(t: number): PacketAccess {
  switch (t) {
    case ProgTypeId.lwt_in:
    case ProgTypeId.lwt_out:
    case ProgTypeId.lwt_seg6local:
    case ProgTypeId.sk_reuseport:
    case ProgTypeId.flow_dissector:
    case ProgTypeId.cgroup_skb:
      return "read";
    case ProgTypeId.sched_cls:
    case ProgTypeId.sched_act:
    case ProgTypeId.xdp:
    case ProgTypeId.lwt_xmit:
    case ProgTypeId.sk_skb:
    case ProgTypeId.sk_msg:
    case ProgTypeId.cgroup_sockopt:
      return "rw";
    default:
      return "none";
  }
}

/** LD_ABS/LD_IND need an skb context. */
export const allowsLdAbs = (t: number): boolean => t === ProgTypeId.socket_filter || t === ProgTypeId.sched_cls || t === ProgTypeId.sched_act;

/** Allowed [min, max] of R0 at program exit, or null when any value (or pointer) may be returned. */
export function exitRange(t: number, attach: number): [bigint, bigint] | null {
  switch (t) {
    case ProgTypeId.cgroup_sock_addr:
      if ([19, 20, 29, 30, 31, 32, 45, 46, 47].includes(attach)) return [1n, 1n];
      if (attach === 8 || attach === 9) return [0n, 3n];
      return [0n, 1n];
    case ProgTypeId.cgroup_skb:
      return attach === 1 ? [0n, 3n] : [0n, 1n];
    case ProgTypeId.cgroup_sock:
    case ProgTypeId.sock_ops:
    case ProgTypeId.cgroup_device:
    case ProgTypeId.cgroup_sysctl:
    case ProgTypeId.cgroup_sockopt:
    case ProgTypeId.sk_lookup:
      return [0n, 1n];
    case ProgTypeId.netfilter:
      return [0n, 1n];
    default:
      return null;
  }
}

/**
 * Program types that need a BTF attach target: the kernel refuses them without one, and types their context
 * by it (a tp_btf program's arguments are those of the tracepoint's btf_trace_* prototype, an fentry's those of
 * the function). The model checks tp_btf programs given their tracepoint (VerifyOptions.tracepoint), no others.
 */
export const needsAttachTarget = (t: number): boolean =>
  t === ProgTypeId.tracing || t === ProgTypeId.struct_ops || t === ProgTypeId.ext || t === ProgTypeId.lsm;

export const isTracing = (t: number): boolean =>
  t === ProgTypeId.kprobe || t === ProgTypeId.tracepoint || t === ProgTypeId.perf_event || t === ProgTypeId.raw_tracepoint || t === ProgTypeId.raw_tracepoint_writable;

/**
 * Why the model does not check a program of this type that names its BTF attach target, or undefined when it
 * does. `kind` is how the object names the hook (`tp_btf`, `fentry`, `lsm`: its section's prefix).
 */
export function uncheckedReason(t: number, kind?: string): string | undefined {
  if (!needsAttachTarget(t)) return undefined;
  const what = kind ? `${kind} programs` : `${progTypeName(t)} programs (tp_btf, fentry/fexit, LSM, struct_ops, freplace)`;
  return `the model does not check ${what}: their context is typed by their BTF attach target, which it does not model`;
}
