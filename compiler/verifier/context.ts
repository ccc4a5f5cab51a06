// Context access rules per program type: which offsets and sizes of the context structure a
// program may read or write, and which loads yield packet or socket pointers
// (the kernel's is_valid_access callbacks, net/core/filter.c and kernel/trace/bpf_trace.c).

import type { RegType } from "./state.js";

export interface CtxAccess {
  /** Type the loaded register gets; scalar unless a pointer field. */
  type: RegType;
  maybeNull?: boolean;
}

export type CtxValidator = (off: number, size: number, write: boolean, attach: number, ldsx: boolean) => CtxAccess | null;

const SCALAR: CtxAccess = { type: "scalar" };

/** A field [start, start+size) in a context structure. */
const inRange = (off: number, start: number, size: number): boolean => off >= start && off < start + size;

/** Narrow reads of a field of `fieldSize`: power-of-two sizes up to the field's. */
const narrowOk = (size: number, fieldSize: number): boolean => size <= fieldSize && (size & (size - 1)) === 0;

// ---------------------------------------------------------------- struct __sk_buff

const SKB = {
  len: 0, pkt_type: 4, mark: 8, queue_mapping: 12, protocol: 16, vlan_present: 20, vlan_tci: 24, vlan_proto: 28,
  priority: 32, ingress_ifindex: 36, ifindex: 40, tc_index: 44, cb: 48, hash: 68, tc_classid: 72, data: 76,
  data_end: 80, napi_id: 84, family: 88, remote_ip4: 92, local_ip4: 96, remote_ip6: 100, local_ip6: 116,
  remote_port: 132, local_port: 136, data_meta: 140, flow_keys: 144, tstamp: 152, wire_len: 160, gso_segs: 164,
  sk: 168, gso_size: 176, tstamp_type: 180, hwtstamp: 184, SIZE: 192,
} as const;

const isField = (off: number, field: number, size = 4): boolean => inRange(off, field, size);
const familyToLocalPort = (off: number): boolean => off >= SKB.family && off < SKB.local_port + 4;
const cbRange = (off: number): boolean => off >= SKB.cb && off < SKB.cb + 20;

/** The checks shared by every __sk_buff program type (bpf_skb_is_valid_access). */
function skbCommon(off: number, size: number, write: boolean, ldsx: boolean, info: CtxAccess): CtxAccess | null {
  if (off < 0 || off >= SKB.SIZE) return null;
  if (off % size !== 0) return null;
  if (cbRange(off)) {
    if (off + size > SKB.cb + 20) return null;
    return info;
  }
  if (isField(off, SKB.data) || isField(off, SKB.data_meta) || isField(off, SKB.data_end)) {
    if (ldsx || size !== 4) return null;
    return info;
  }
  if (inRange(off, SKB.remote_ip6, 16) || inRange(off, SKB.local_ip6, 16) || isField(off, SKB.remote_ip4) || isField(off, SKB.local_ip4)) {
    if (size !== 4) return null;
    return info;
  }
  if (isField(off, SKB.flow_keys, 8)) return null;
  if (isField(off, SKB.hwtstamp, 8)) return write || size !== 8 ? null : info;
  if (isField(off, SKB.tstamp, 8)) return size !== 8 ? null : info;
  if (isField(off, SKB.sk, 8)) {
    if (write || size !== 8) return null;
    return { type: "sock_common", maybeNull: true };
  }
  if (off === SKB.tstamp_type) return null;
  if (off > SKB.tstamp_type && off < SKB.hwtstamp) return null;
  if (write) return size === 4 ? info : null;
  return narrowOk(size, 4) ? info : null;
}

const socketFilter: CtxValidator = (off, size, write, _attach, ldsx) => {
  if (isField(off, SKB.tc_classid) || isField(off, SKB.data) || isField(off, SKB.data_meta) || isField(off, SKB.data_end)) return null;
  if (familyToLocalPort(off) || isField(off, SKB.tstamp, 8) || isField(off, SKB.wire_len) || isField(off, SKB.hwtstamp, 8)) return null;
  if (write && !cbRange(off)) return null;
  return skbCommon(off, size, write, ldsx, SCALAR);
};

const pktField = (off: number, meta: boolean): CtxAccess => {
  if (isField(off, SKB.data)) return { type: "pkt" };
  if (isField(off, SKB.data_end)) return { type: "pkt_end" };
  if (meta && isField(off, SKB.data_meta)) return { type: "pkt_meta" };
  return SCALAR;
};

const tcClsAct: CtxValidator = (off, size, write, _attach, ldsx) => {
  if (write) {
    const ok = isField(off, SKB.mark) || isField(off, SKB.tc_index) || isField(off, SKB.priority) || isField(off, SKB.tc_classid) || cbRange(off) || isField(off, SKB.tstamp, 8) || isField(off, SKB.queue_mapping);
    if (!ok) return null;
  }
  if (familyToLocalPort(off)) return null;
  if (off === SKB.tstamp_type) return size === 1 ? SCALAR : null;
  return skbCommon(off, size, write, ldsx, pktField(off, true));
};

const cgroupSkb: CtxValidator = (off, size, write, _attach, ldsx) => {
  if (isField(off, SKB.tc_classid) || isField(off, SKB.data_meta) || isField(off, SKB.wire_len)) return null;
  if (write) {
    const ok = isField(off, SKB.mark) || isField(off, SKB.priority) || cbRange(off) || isField(off, SKB.tstamp, 8);
    if (!ok) return null;
  }
  return skbCommon(off, size, write, ldsx, pktField(off, false));
};

const skSkb: CtxValidator = (off, size, write, _attach, ldsx) => {
  if (isField(off, SKB.tc_classid) || isField(off, SKB.data_meta) || isField(off, SKB.tstamp, 8) || isField(off, SKB.wire_len) || isField(off, SKB.hwtstamp, 8)) return null;
  if (write && !(isField(off, SKB.tc_index) || isField(off, SKB.priority))) return null;
  if (isField(off, SKB.mark)) return null;
  return skbCommon(off, size, write, ldsx, pktField(off, false));
};

const lwt = (xmit: boolean): CtxValidator => (off, size, write, _attach, ldsx) => {
  if (isField(off, SKB.tc_classid) || familyToLocalPort(off) || isField(off, SKB.data_meta) || isField(off, SKB.tstamp, 8) || isField(off, SKB.wire_len) || isField(off, SKB.hwtstamp, 8)) return null;
  if (write) {
    const ok = isField(off, SKB.mark) || isField(off, SKB.priority) || cbRange(off);
    if (!ok) return null;
  }
  void xmit;
  return skbCommon(off, size, write, ldsx, pktField(off, false));
};

// ---------------------------------------------------------------- other contexts

/** struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex. */
const xdp: CtxValidator = (off, size, write, attach, ldsx) => {
  const DEVMAP = 33;
  if (attach !== DEVMAP && off === 20) return null;
  if (write) return null;
  if ((off === 0 || off === 4 || off === 8) && ldsx) return null;
  if (off < 0 || off >= 24 || off % size !== 0 || size !== 4) return null;
  if (off === 0) return { type: "pkt" };
  if (off === 4) return { type: "pkt_end" };
  if (off === 8) return { type: "pkt_meta" };
  return SCALAR;
};

/** x86-64 struct pt_regs: 21 registers of 8 bytes. */
const PT_REGS_SIZE = 168;

const kprobe: CtxValidator = (off, size, write) => {
  if (off < 0 || off >= PT_REGS_SIZE || write || off % size !== 0 || off + size > PT_REGS_SIZE) return null;
  return SCALAR;
};

/** A tracepoint's record (PERF_MAX_TRACE_SIZE): 2048 bytes until Linux raised it to 8192, what 6.18 allows. */
const PERF_MAX_TRACE_SIZE = 8192;

/** tp_prog_is_valid_access: reads past the common header's first 8 bytes, aligned, within the record. */
const tracepoint: CtxValidator = (off, size, write) => {
  if (off < 8 || off >= PERF_MAX_TRACE_SIZE || write || off % size !== 0) return null;
  return SCALAR;
};

const rawTracepoint: CtxValidator = (off, size, write) => {
  if (off < 0 || off >= 8 * 12 || write || off % size !== 0) return null;
  return SCALAR;
};

/** struct bpf_perf_event_data: pt_regs, u64 sample_period, u64 addr. */
const perfEvent: CtxValidator = (off, size, write) => {
  if (off < 0 || off >= PT_REGS_SIZE + 16 || write || off % size !== 0) return null;
  if (off >= PT_REGS_SIZE) return narrowOk(size, 8) ? SCALAR : null;
  return size === 8 ? SCALAR : null;
};

/** struct bpf_sk_lookup. */
const skLookup: CtxValidator = (off, size, write) => {
  if (off < 0 || off >= 72 || off % size !== 0 || write) return null;
  if (off < 8) return size === 8 ? { type: "sock", maybeNull: true } : null;
  const u32Fields = [8, 12, 16, 40, 60, 64];
  if (u32Fields.some((f) => isField(off, f)) || inRange(off, 20, 16) || inRange(off, 44, 16)) return narrowOk(size, 4) ? SCALAR : null;
  if (isField(off, 36, 2)) return size === 4 || narrowOk(size, 2) ? SCALAR : null;
  if (isField(off, 38, 2)) return narrowOk(size, 2) ? SCALAR : null;
  return null;
};

/** struct bpf_sock_addr; which address fields exist depends on the attach type. */
const sockAddr: CtxValidator = (off, size, write, attach) => {
  if (off < 0 || off >= 72 || off % size !== 0) return null;
  const v4 = [8, 10, 29, 31, 14, 19];
  const v6 = [9, 11, 30, 32, 15, 20];
  if (isField(off, 4) && !v4.includes(attach)) return null;
  if (inRange(off, 8, 16) && !v6.includes(attach)) return null;
  if (isField(off, 40) && attach !== 14) return null;
  if (inRange(off, 44, 16) && attach !== 15) return null;
  const wideOk = (start: number): boolean => size === 8 && off >= start && off + 8 <= start + 16 && off % 8 === 0;
  if (isField(off, 4) || inRange(off, 8, 16) || isField(off, 40) || inRange(off, 44, 16) || isField(off, 24)) {
    if (wideOk(8) || wideOk(44)) return SCALAR;
    if (!write) return narrowOk(size, 4) ? SCALAR : null;
    return size === 4 ? SCALAR : null;
  }
  if (isField(off, 0) || isField(off, 28) || isField(off, 32) || isField(off, 36)) return !write && size === 4 ? SCALAR : null;
  if (isField(off, 64, 8)) return !write && size === 8 ? { type: "sock" } : null;
  return null;
};

/** struct bpf_sock for cgroup/sock programs: read-only fields, a few writable. */
const cgroupSock: CtxValidator = (off, size, write) => {
  // bound_dev_if, family, type, protocol, mark, priority, src_ip4, src_ip6[4], src_port, dst_port, dst_ip4, dst_ip6[4], state, rx_queue_mapping
  if (off < 0 || off >= 80 || off % size !== 0) return null;
  if (write) return (off === 0 || off === 16 || off === 20) && size === 4 ? SCALAR : null;
  return narrowOk(size, 4) ? SCALAR : null;
};

/**
 * A syscall program's context: the caller's bytes (BPF_PROG_TEST_RUN's ctx_in), read and written at any offset
 * under 64 KiB aligned to the access size (syscall_prog_is_valid_access); the caller gets them back.
 */
const syscallProg: CtxValidator = (off, size) => (off < 0 || off >= 0xffff || off % size !== 0 ? null : SCALAR);

export const CONTEXTS: Record<number, CtxValidator> = {
  1: socketFilter,
  2: kprobe,
  3: tcClsAct,
  4: tcClsAct,
  5: tracepoint,
  6: xdp,
  7: perfEvent,
  8: cgroupSkb,
  9: cgroupSock,
  10: lwt(false),
  11: lwt(false),
  12: lwt(true),
  14: skSkb,
  17: rawTracepoint,
  18: sockAddr,
  30: skLookup,
  31: syscallProg,
};
