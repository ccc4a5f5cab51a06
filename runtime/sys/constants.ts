// Kernel ABI numbers for bpf(2) and perf_event_open(2), named as in the uapi headers.
// Takes nothing; gives typed `as const` tables (prefix dropped: BPF_MAP_TYPE_HASH is MapType.HASH),
// errno numbers and names, and lookups from the kernel's lower-case names to numbers.
// Source of the values: include/uapi/linux/bpf.h and perf_event.h of Linux 6.12, x86-64.

/** bpf() commands (enum bpf_cmd). */
export const Cmd = {
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5,
  OBJ_PIN: 6,
  OBJ_GET: 7,
  PROG_ATTACH: 8,
  PROG_DETACH: 9,
  PROG_TEST_RUN: 10,
  PROG_RUN: 10,
  PROG_GET_NEXT_ID: 11,
  MAP_GET_NEXT_ID: 12,
  PROG_GET_FD_BY_ID: 13,
  MAP_GET_FD_BY_ID: 14,
  OBJ_GET_INFO_BY_FD: 15,
  PROG_QUERY: 16,
  RAW_TRACEPOINT_OPEN: 17,
  BTF_LOAD: 18,
  BTF_GET_FD_BY_ID: 19,
  TASK_FD_QUERY: 20,
  MAP_LOOKUP_AND_DELETE_ELEM: 21,
  MAP_FREEZE: 22,
  BTF_GET_NEXT_ID: 23,
  MAP_LOOKUP_BATCH: 24,
  MAP_LOOKUP_AND_DELETE_BATCH: 25,
  MAP_UPDATE_BATCH: 26,
  MAP_DELETE_BATCH: 27,
  LINK_CREATE: 28,
  LINK_UPDATE: 29,
  LINK_GET_FD_BY_ID: 30,
  LINK_GET_NEXT_ID: 31,
  ENABLE_STATS: 32,
  ITER_CREATE: 33,
  LINK_DETACH: 34,
  PROG_BIND_MAP: 35,
  TOKEN_CREATE: 36,
} as const;
export type Cmd = (typeof Cmd)[keyof typeof Cmd];

/** Map types (enum bpf_map_type). */
export const MapType = {
  UNSPEC: 0,
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  STACK_TRACE: 7,
  CGROUP_ARRAY: 8,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  SOCKMAP: 15,
  CPUMAP: 16,
  XSKMAP: 17,
  SOCKHASH: 18,
  CGROUP_STORAGE_DEPRECATED: 19,
  CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20,
  PERCPU_CGROUP_STORAGE_DEPRECATED: 21,
  PERCPU_CGROUP_STORAGE: 21,
  QUEUE: 22,
  STACK: 23,
  SK_STORAGE: 24,
  DEVMAP_HASH: 25,
  STRUCT_OPS: 26,
  RINGBUF: 27,
  INODE_STORAGE: 28,
  TASK_STORAGE: 29,
  BLOOM_FILTER: 30,
  USER_RINGBUF: 31,
  CGRP_STORAGE: 32,
  ARENA: 33,
} as const;
export type MapType = (typeof MapType)[keyof typeof MapType];

/** Program types (enum bpf_prog_type). */
export const ProgType = {
  UNSPEC: 0,
  SOCKET_FILTER: 1,
  KPROBE: 2,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  TRACEPOINT: 5,
  XDP: 6,
  PERF_EVENT: 7,
  CGROUP_SKB: 8,
  CGROUP_SOCK: 9,
  LWT_IN: 10,
  LWT_OUT: 11,
  LWT_XMIT: 12,
  SOCK_OPS: 13,
  SK_SKB: 14,
  CGROUP_DEVICE: 15,
  SK_MSG: 16,
  RAW_TRACEPOINT: 17,
  CGROUP_SOCK_ADDR: 18,
  LWT_SEG6LOCAL: 19,
  LIRC_MODE2: 20,
  SK_REUSEPORT: 21,
  FLOW_DISSECTOR: 22,
  CGROUP_SYSCTL: 23,
  RAW_TRACEPOINT_WRITABLE: 24,
  CGROUP_SOCKOPT: 25,
  TRACING: 26,
  STRUCT_OPS: 27,
  EXT: 28,
  LSM: 29,
  SK_LOOKUP: 30,
  SYSCALL: 31,
  NETFILTER: 32,
} as const;
export type ProgType = (typeof ProgType)[keyof typeof ProgType];

/** Attach types (enum bpf_attach_type). */
export const AttachType = {
  CGROUP_INET_INGRESS: 0,
  CGROUP_INET_EGRESS: 1,
  CGROUP_INET_SOCK_CREATE: 2,
  CGROUP_SOCK_OPS: 3,
  SK_SKB_STREAM_PARSER: 4,
  SK_SKB_STREAM_VERDICT: 5,
  CGROUP_DEVICE: 6,
  SK_MSG_VERDICT: 7,
  CGROUP_INET4_BIND: 8,
  CGROUP_INET6_BIND: 9,
  CGROUP_INET4_CONNECT: 10,
  CGROUP_INET6_CONNECT: 11,
  CGROUP_INET4_POST_BIND: 12,
  CGROUP_INET6_POST_BIND: 13,
  CGROUP_UDP4_SENDMSG: 14,
  CGROUP_UDP6_SENDMSG: 15,
  LIRC_MODE2: 16,
  FLOW_DISSECTOR: 17,
  CGROUP_SYSCTL: 18,
  CGROUP_UDP4_RECVMSG: 19,
  CGROUP_UDP6_RECVMSG: 20,
  CGROUP_GETSOCKOPT: 21,
  CGROUP_SETSOCKOPT: 22,
  TRACE_RAW_TP: 23,
  TRACE_FENTRY: 24,
  TRACE_FEXIT: 25,
  MODIFY_RETURN: 26,
  LSM_MAC: 27,
  TRACE_ITER: 28,
  CGROUP_INET4_GETPEERNAME: 29,
  CGROUP_INET6_GETPEERNAME: 30,
  CGROUP_INET4_GETSOCKNAME: 31,
  CGROUP_INET6_GETSOCKNAME: 32,
  XDP_DEVMAP: 33,
  CGROUP_INET_SOCK_RELEASE: 34,
  XDP_CPUMAP: 35,
  SK_LOOKUP: 36,
  XDP: 37,
  SK_SKB_VERDICT: 38,
  SK_REUSEPORT_SELECT: 39,
  SK_REUSEPORT_SELECT_OR_MIGRATE: 40,
  PERF_EVENT: 41,
  TRACE_KPROBE_MULTI: 42,
  LSM_CGROUP: 43,
  STRUCT_OPS: 44,
  NETFILTER: 45,
  TCX_INGRESS: 46,
  TCX_EGRESS: 47,
  TRACE_UPROBE_MULTI: 48,
  CGROUP_UNIX_CONNECT: 49,
  CGROUP_UNIX_SENDMSG: 50,
  CGROUP_UNIX_RECVMSG: 51,
  CGROUP_UNIX_GETPEERNAME: 52,
  CGROUP_UNIX_GETSOCKNAME: 53,
  NETKIT_PRIMARY: 54,
  NETKIT_PEER: 55,
  TRACE_KPROBE_SESSION: 56,
  TRACE_UPROBE_SESSION: 57,
} as const;
export type AttachType = (typeof AttachType)[keyof typeof AttachType];

/** Link types (enum bpf_link_type). */
export const LinkType = {
  UNSPEC: 0,
  RAW_TRACEPOINT: 1,
  TRACING: 2,
  CGROUP: 3,
  ITER: 4,
  NETNS: 5,
  XDP: 6,
  PERF_EVENT: 7,
  KPROBE_MULTI: 8,
  STRUCT_OPS: 9,
  NETFILTER: 10,
  TCX: 11,
  UPROBE_MULTI: 12,
  NETKIT: 13,
  SOCKMAP: 14,
} as const;
export type LinkType = (typeof LinkType)[keyof typeof LinkType];

/** Update flags of BPF_MAP_UPDATE_ELEM (and BPF_F_LOCK for lookup). */
export const UpdateFlag = {
  ANY: 0,
  NOEXIST: 1,
  EXIST: 2,
  F_LOCK: 4,
} as const;
export const BPF_ANY = UpdateFlag.ANY;
export const BPF_NOEXIST = UpdateFlag.NOEXIST;
export const BPF_EXIST = UpdateFlag.EXIST;
export const BPF_F_LOCK = UpdateFlag.F_LOCK;

/** map_flags of BPF_MAP_CREATE. */
export const MapFlag = {
  NO_PREALLOC: 1 << 0,
  NO_COMMON_LRU: 1 << 1,
  NUMA_NODE: 1 << 2,
  RDONLY: 1 << 3,
  WRONLY: 1 << 4,
  STACK_BUILD_ID: 1 << 5,
  ZERO_SEED: 1 << 6,
  RDONLY_PROG: 1 << 7,
  WRONLY_PROG: 1 << 8,
  CLONE: 1 << 9,
  MMAPABLE: 1 << 10,
  PRESERVE_ELEMS: 1 << 11,
  INNER_MAP: 1 << 12,
  LINK: 1 << 13,
  PATH_FD: 1 << 14,
  VTYPE_BTF_OBJ_FD: 1 << 15,
  TOKEN_FD: 1 << 16,
  SEGV_ON_FAULT: 1 << 17,
  NO_USER_CONV: 1 << 18,
} as const;
export const BPF_F_NO_PREALLOC = MapFlag.NO_PREALLOC;
export const BPF_F_RDONLY = MapFlag.RDONLY;
export const BPF_F_WRONLY = MapFlag.WRONLY;
export const BPF_F_RDONLY_PROG = MapFlag.RDONLY_PROG;
export const BPF_F_WRONLY_PROG = MapFlag.WRONLY_PROG;
export const BPF_F_MMAPABLE = MapFlag.MMAPABLE;

/** prog_flags of BPF_PROG_LOAD. */
export const ProgFlag = {
  STRICT_ALIGNMENT: 1 << 0,
  ANY_ALIGNMENT: 1 << 1,
  TEST_RND_HI32: 1 << 2,
  TEST_STATE_FREQ: 1 << 3,
  SLEEPABLE: 1 << 4,
  XDP_HAS_FRAGS: 1 << 5,
  XDP_DEV_BOUND_ONLY: 1 << 6,
  TEST_REG_INVARIANTS: 1 << 7,
} as const;
export const BPF_F_STRICT_ALIGNMENT = ProgFlag.STRICT_ALIGNMENT;
export const BPF_F_ANY_ALIGNMENT = ProgFlag.ANY_ALIGNMENT;
export const BPF_F_SLEEPABLE = ProgFlag.SLEEPABLE;

/** flags of BPF_PROG_TEST_RUN. */
export const TestRunFlag = {
  RUN_ON_CPU: 1 << 0,
  XDP_LIVE_FRAMES: 1 << 1,
  SKB_CHECKSUM_COMPLETE: 1 << 2,
} as const;

/** attach_flags of BPF_PROG_ATTACH and flags of BPF_LINK_CREATE. */
export const AttachFlag = {
  ALLOW_OVERRIDE: 1 << 0,
  ALLOW_MULTI: 1 << 1,
  REPLACE: 1 << 2,
  BEFORE: 1 << 3,
  AFTER: 1 << 4,
  ID: 1 << 5,
  PREORDER: 1 << 6,
} as const;

/** Verifier log levels (bits of log_level). */
export const LogLevel = {
  NONE: 0,
  BRANCHES: 1,
  INSNS: 2,
  STATS: 4,
} as const;

/** enum bpf_stats_type (BPF_ENABLE_STATS). */
export const StatsType = { RUN_TIME: 0 } as const;

export const BPF_OBJ_NAME_LEN = 16;
export const BPF_TAG_SIZE = 8;

// ---------------------------------------------------------------- perf_event_open

/** perf_event_attr.type for the fixed PMUs; dynamic PMUs (uprobe, kprobe) read theirs from sysfs. */
export const PerfType = {
  HARDWARE: 0,
  SOFTWARE: 1,
  TRACEPOINT: 2,
  HW_CACHE: 3,
  RAW: 4,
  BREAKPOINT: 5,
} as const;

/** perf_event_attr.config for PerfType.SOFTWARE. */
export const PerfSwConfig = {
  CPU_CLOCK: 0,
  TASK_CLOCK: 1,
  PAGE_FAULTS: 2,
  CONTEXT_SWITCHES: 3,
  CPU_MIGRATIONS: 4,
  PAGE_FAULTS_MIN: 5,
  PAGE_FAULTS_MAJ: 6,
  ALIGNMENT_FAULTS: 7,
  EMULATION_FAULTS: 8,
  DUMMY: 9,
  BPF_OUTPUT: 10,
  CGROUP_SWITCHES: 11,
} as const;

/** perf_event_attr.sample_type bits. */
export const PerfSample = {
  IP: 1n << 0n,
  TID: 1n << 1n,
  TIME: 1n << 2n,
  ADDR: 1n << 3n,
  READ: 1n << 4n,
  CALLCHAIN: 1n << 5n,
  ID: 1n << 6n,
  CPU: 1n << 7n,
  PERIOD: 1n << 8n,
  STREAM_ID: 1n << 9n,
  RAW: 1n << 10n,
} as const;

/** perf_event_attr.read_format bits: what read(2) of the event gives after its u64 value. */
export const PerfFormat = {
  TOTAL_TIME_ENABLED: 1n << 0n,
  TOTAL_TIME_RUNNING: 1n << 1n,
  ID: 1n << 2n,
  GROUP: 1n << 3n,
  /** The samples the event lost (Linux 6.0). */
  LOST: 1n << 4n,
} as const;

/** Bits of the perf_event_attr bit-field word (offset 40): `disabled`, `inherit`, ... */
export const PerfAttrFlag = {
  DISABLED: 1n << 0n,
  INHERIT: 1n << 1n,
  PINNED: 1n << 2n,
  EXCLUSIVE: 1n << 3n,
  EXCLUDE_USER: 1n << 4n,
  EXCLUDE_KERNEL: 1n << 5n,
  EXCLUDE_HV: 1n << 6n,
  EXCLUDE_IDLE: 1n << 7n,
  MMAP: 1n << 8n,
  COMM: 1n << 9n,
  FREQ: 1n << 10n,
  INHERIT_STAT: 1n << 11n,
  ENABLE_ON_EXEC: 1n << 12n,
  TASK: 1n << 13n,
  WATERMARK: 1n << 14n,
  MMAP_DATA: 1n << 17n,
  SAMPLE_ID_ALL: 1n << 18n,
  EXCLUDE_HOST: 1n << 19n,
  EXCLUDE_GUEST: 1n << 20n,
  EXCLUDE_CALLCHAIN_KERNEL: 1n << 21n,
  EXCLUDE_CALLCHAIN_USER: 1n << 22n,
  MMAP2: 1n << 23n,
  COMM_EXEC: 1n << 24n,
  USE_CLOCKID: 1n << 25n,
  CONTEXT_SWITCH: 1n << 26n,
  WRITE_BACKWARD: 1n << 27n,
} as const;

/** The `flags` argument of perf_event_open. */
export const PerfFlag = {
  FD_NO_GROUP: 1 << 0,
  FD_OUTPUT: 1 << 1,
  PID_CGROUP: 1 << 2,
  FD_CLOEXEC: 1 << 3,
} as const;

/** ioctl requests on perf event fds (x86-64 _IO/_IOW encodings). */
export const PerfIoc = {
  ENABLE: 0x2400,
  DISABLE: 0x2401,
  REFRESH: 0x2402,
  RESET: 0x2403,
  PERIOD: 0x40082404,
  SET_OUTPUT: 0x2405,
  SET_FILTER: 0x40082406,
  ID: 0x80082407,
  SET_BPF: 0x40042408,
  PAUSE_OUTPUT: 0x40042409,
  QUERY_BPF: 0xc008240a,
} as const;

/** Size of perf_event_attr this library writes (PERF_ATTR_SIZE_VER8). */
export const PERF_ATTR_SIZE = 128;
/** Bit 0 of `config` on the uprobe/kprobe PMUs selects the return probe (format `config:0`). */
export const PERF_PROBE_CONFIG_IS_RETPROBE = 1n;
/** The uprobe PMU takes the semaphore's file offset (ref_ctr_offset) in `config` bits 32..63 (format `config:32-63`). */
export const PERF_UPROBE_REF_CTR_OFFSET_SHIFT = 32n;

// ---------------------------------------------------------------- mmap, poll, epoll

export const Prot = { NONE: 0, READ: 1, WRITE: 2, EXEC: 4 } as const;
export const MapMem = { SHARED: 0x01, PRIVATE: 0x02 } as const;
export const Poll = { IN: 0x1, PRI: 0x2, OUT: 0x4, ERR: 0x8, HUP: 0x10, NVAL: 0x20 } as const;
export const Epoll = {
  CTL_ADD: 1,
  CTL_DEL: 2,
  CTL_MOD: 3,
  IN: 0x1,
  OUT: 0x4,
  ERR: 0x8,
  HUP: 0x10,
  ET: 0x80000000,
  CLOEXEC: 0o2000000,
} as const;

/** Numbers of the syscalls glibc has no wrapper for; they differ per architecture (arch/x86/entry/syscalls, include/uapi/asm-generic/unistd.h). */
const SYSCALLS_BY_ARCH: Record<string, { BPF: number; PERF_EVENT_OPEN: number; PIDFD_OPEN: number }> = {
  x64: { BPF: 321, PERF_EVENT_OPEN: 298, PIDFD_OPEN: 434 },
  arm64: { BPF: 280, PERF_EVENT_OPEN: 241, PIDFD_OPEN: 434 },
};
export const SyscallNr = SYSCALLS_BY_ARCH[process.arch] ?? SYSCALLS_BY_ARCH.x64!;

// ---------------------------------------------------------------- errno

/** Linux errno values (asm-generic, shared by x86-64); ENOTSUPP is kernel-internal but bpf() returns it. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EPIPE: 32,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENOMSG: 42,
  ENODATA: 61,
  EOVERFLOW: 75,
  EBADFD: 77,
  EOPNOTSUPP: 95,
  EADDRNOTAVAIL: 99,
  ETIMEDOUT: 110,
  ENOTSUPP: 524,
} as const;
export type ErrnoName = keyof typeof Errno;

const errnoNames = new Map<number, string>(Object.entries(Errno).map(([name, n]) => [n, name]));

/** "EPERM" for 1; `E<n>` for numbers not in the table. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

// ---------------------------------------------------------------- names to numbers

function byLowerName<T extends Record<string, number>>(table: T): (name: string) => T[keyof T] | undefined {
  const index = new Map<string, number>(Object.entries(table).map(([k, v]) => [k.toLowerCase(), v]));
  return (name) => index.get(name.toLowerCase().replace(/-/g, "_")) as T[keyof T] | undefined;
}

/** Program type from the kernel's name: "kprobe" → 2, "socket_filter" → 1, "xdp" → 6. */
export const progTypeByName = byLowerName(ProgType);
/** Map type from the kernel's name: "hash" → 1, "ringbuf" → 27. */
export const mapTypeByName = byLowerName(MapType);
/** Attach type from the name without the BPF_ prefix: "trace_fentry" → 24, "perf_event" → 41. */
export const attachTypeByName = byLowerName(AttachType);

/** Kernel name of a program type ("socket_filter"), or undefined. */
export function progTypeName(type: number): string | undefined {
  const entry = Object.entries(ProgType).find(([, v]) => v === type);
  return entry?.[0].toLowerCase();
}
/** Kernel name of a map type ("hash"), or undefined (CGROUP_STORAGE aliases resolve to the first name). */
export function mapTypeName(type: number): string | undefined {
  const entry = Object.entries(MapType).find(([, v]) => v === type);
  return entry?.[0].toLowerCase();
}
