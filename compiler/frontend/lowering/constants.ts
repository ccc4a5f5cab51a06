// Lowering's fixed numbers and shapes: the kernel's map types and flags, the maps tsbpf adds, and the limits it holds
// a file to.

import { ACTIONS_RING, STACK_ID_COUNTER, BUF_STRUCT_PREFIX, INET_STRUCT, MACADDR_STRUCT, USYM_STRUCT, strftimeStructName, type Aggregate } from "../../btf/tags.js";
import { I32, I64, MAX_STACK_FRAMES, PTR, U16, U32, U64, U8, type IntType, type Layout, type MapDef } from "../../ir/index.js";
import { Helper } from "../../isa/helpers.js";
import type { MapClass } from "./values.js";

/** Maps whose delete and update free elements (an update replaces one): a lookup's pointer may then see another key's. */
export const HASH_MAPS: ReadonlySet<MapClass> = new Set(["HashMap", "PerCpuHashMap", "LruHashMap"]);

/** BPF_MAP_TYPE_* of each map class (uapi/linux/bpf.h). */
export const MAP_TYPES: Record<MapClass, number> = {
  HashMap: 1, ArrayMap: 2, PerfEventArray: 4, PerCpuHashMap: 5, PerCpuArrayMap: 6, StackTraceMap: 7, LruHashMap: 9, RingBuf: 27, Histogram: 2, LinearHistogram: 2,
  Count: 5, Sum: 5, Avg: 5, Min: 5, Max: 5, Stats: 5,
};

/** How each map class is declared, its constructor's arguments as the prelude declares them (what to write instead of a map made in a handler). */
export const MAP_EXAMPLES: Record<MapClass, string> = {
  HashMap: "new HashMap<u32, u64>(1024)", PerCpuHashMap: "new PerCpuHashMap<u32, u64>(1024)", LruHashMap: "new LruHashMap<u32, u64>(1024)",
  ArrayMap: "new ArrayMap<u64>(256)", PerCpuArrayMap: "new PerCpuArrayMap<u64>(256)", RingBuf: "new RingBuf<MyEvent>(65536)", PerfEventArray: "new PerfEventArray<MyEvent>()",
  StackTraceMap: "new StackTraceMap(1024)", Histogram: "new Histogram()", LinearHistogram: "new LinearHistogram(0, 100, 10)",
  Count: "new Count()", Sum: "new Sum()", Avg: "new Avg()", Min: "new Min()", Max: "new Max()", Stats: "new Stats()",
};

/** The map classes whose first type argument is their key. */
export const KEYED_MAPS: ReadonlySet<string> = new Set<MapClass>(["HashMap", "PerCpuHashMap", "LruHashMap", "Histogram", "LinearHistogram", "Count", "Sum", "Avg", "Min", "Max", "Stats"]);

/** The aggregate classes, as their BTF tag (compiler/btf/tags.ts) names them. */
export const AGGREGATE_OF: Partial<Record<MapClass, Aggregate>> = { Count: "count", Sum: "sum", Avg: "avg", Min: "min", Max: "max", Stats: "stats" };

/**
 * One CPU's value of an aggregate map, as compiler/btf/tags.ts describes it: a count and a total for count, sum, avg
 * and stats, the extremum and whether this CPU has one for min and max.
 */
export function aggregateValue(kind: Aggregate): Layout & { kind: "struct" } {
  const [name, first, second] = kind !== "min" && kind !== "max" ? (["tsbpf_average", ["count", U64], ["total", I64]] as const) : (["tsbpf_extremum", ["value", I64], ["set", U64]] as const);
  const fields = [first, second].map(([field, type], i) => ({ name: field, offset: i * 8, layout: { kind: "int" as const, type, size: 8 as const, align: 8 } }));
  return { kind: "struct", name, fields, size: 16, align: 8 };
}

/** Histogram maps: entries 0..64 are log2 slots, entry 65 counts negative values. */
export const HISTOGRAM_SLOTS = 66;

/** Stack frames a StackTraceMap entry holds (PERF_MAX_STACK_DEPTH). */
export const STACK_DEPTH = 127;

export const BPF_F_USER_STACK = 256n;

/**
 * The stack map kstack(frames) (`tsbpf_kstacks`, `tsbpf_kstacks_5`) or ustack(frames) fills: one per frame limit, as
 * bpftrace keeps them. A hash map keyed by the stack's frames (the buffer bpf_get_stack() fills, zeroed past the last
 * frame), its value the stack's id: equal stacks get one id, different stacks different ids, and none is lost to a
 * hash collision as in a stack trace map, whose buckets hold one stack each. Kernel stacks as ips (a `u64[frames]`
 * key); user stacks as build ids and file offsets (`struct bpf_stack_build_id[frames]`, 32 bytes a frame), which name
 * their frames after the process has gone, where its mappings could not be read in time. Beside it, stackFramesMap()
 * maps each id back to its frames for readers. Each of the two maps takes 4 MiB of frames (the kernel preallocates
 * every element), 8 MiB a frame limit of a kind, twice what a stack trace map of the same stacks took: so that a
 * limit holds as many stacks as the stack trace map did (4096 full kernel stacks, 1024 full user stacks, more of
 * fewer frames: 8192 of ustack(16), up to 16384), rather than half as many.
 */
export function stackMap(user: boolean, frames: number): MapDef {
  const name = `tsbpf_${user ? "u" : "k"}stacks${frames === MAX_STACK_FRAMES ? "" : `_${frames}`}`;
  const key = stackKey(user, frames);
  return { name, type: MAP_TYPES.HashMap, key, value: STACK_ID_LAYOUT, maxEntries: stackEntries(key.size), internal: true, stacks: true };
}

/**
 * The map from a stack id of stackMap(user, frames) back to its frames (`tsbpf_kframes`, `tsbpf_uframes_16`: as long
 * as the stack map's name, so the kernel keeps as much of it), filled as each new stack gets its id: a reader names an
 * id's frames with one lookup. As many entries as the stack map.
 */
export function stackFramesMap(user: boolean, frames: number): MapDef {
  const stacks = stackMap(user, frames);
  const name = `tsbpf_${user ? "u" : "k"}frames${frames === MAX_STACK_FRAMES ? "" : `_${frames}`}`;
  return { name, type: MAP_TYPES.HashMap, key: STACK_ID_LAYOUT, value: stacks.key, maxEntries: stacks.maxEntries, internal: true, framesOf: stacks.name };
}

/** A stack map's entries: as many stacks of `bytes` as STACK_MAP_BYTES holds, a power of two, at most MAX_STACK_ENTRIES. */
function stackEntries(bytes: number): number {
  return Math.min(MAX_STACK_ENTRIES, 2 ** Math.floor(Math.log2(STACK_MAP_BYTES / bytes)));
}

/** A stack map's key: the frames bpf_get_stack() writes, ips or (BPF_F_USER_BUILD_ID) `struct bpf_stack_build_id`s. */
export function stackKey(user: boolean, frames: number): Layout & { kind: "array" } {
  const element: Layout = user ? BUILD_ID_FRAME : { kind: "int", type: U64, size: 8, align: 8 };
  return { kind: "array", element, length: frames, size: frames * element.size, align: 8 };
}

/** `struct bpf_stack_build_id` (uapi/linux/bpf.h): a status, a build id, and the file offset (or, status 2, the ip). */
const BUILD_ID_FRAME: Layout = {
  kind: "struct",
  name: "bpf_stack_build_id",
  fields: [
    { name: "status", offset: 0, layout: { kind: "int", type: I32, size: 4, align: 4 } },
    { name: "build_id", offset: 4, layout: { kind: "array", element: { kind: "int", type: U8, size: 1, align: 1 }, length: 20, size: 20, align: 1 } },
    { name: "offset", offset: 24, layout: { kind: "int", type: U64, size: 8, align: 8 } },
  ],
  size: 32,
  align: 8,
};

/** A stack map's value: the stack's id, from 1 up in the order the file's stacks were first seen. */
const STACK_ID_LAYOUT: Layout = { kind: "int", type: U32, size: 4, align: 4 };

/**
 * The one-entry per-CPU array whose value bpf_get_stack() fills before the stack map is looked up by it: as large as
 * the largest stack the file takes (a map key cannot be built on the 512-byte BPF stack).
 */
export function stackScratch(bytes: number): MapDef {
  return { name: STACK_SCRATCH, type: MAP_TYPES.PerCpuArrayMap, key: { kind: "int", type: U32, size: 4, align: 4 }, value: bytes, maxEntries: 1, internal: true };
}
export const STACK_SCRATCH = "tsbpf_stack_buf";

export const BPF_F_USER_BUILD_ID = 1n << 11n;
export const BPF_ANY = 0n;
export const BPF_NOEXIST = 1n;
export const EEXIST = 17n;
export const ENOENT = 2n;
export const EFAULT = 14n;

/** What one stack map's frames take at most, and its id -> frames map's as much (the kernel preallocates every element). */
const STACK_MAP_BYTES = 4 << 20;
const MAX_STACK_ENTRIES = 16384;

export { STACK_ID_COUNTER };

/** The ring buffer exit(), print(), clear() and printf() send their records to (one page, the smallest a ring buffer can be, without printf). */
export const ACTIONS_MAP = ACTIONS_RING;

/** The actions ring buffer's size once printf() sends records through it (exit, print and clear fit in a page). */
export const PRINTF_RING_BYTES = 1 << 18;

/** An action record: `{ u32 action; u32 arg; }` (compiler/btf/tags.ts). */
export const ACTION_RECORD = { kind: "struct", name: "tsbpf_action", fields: [{ name: "action", offset: 0, layout: { kind: "int", type: U32, size: 4, align: 4 } }, { name: "arg", offset: 4, layout: { kind: "int", type: U32, size: 4, align: 4 } }], size: 8, align: 4 } as const satisfies Layout;

export const BPF_F_CURRENT_CPU = 0xffffffffn;

export const MAX_LOOP_ITERATIONS = 1 << 16;

/** The longest Str<N> or Arr<T, N> the compiler lays out (only a map value can be that large). */
export const MAX_LENGTH = 1 << 20;

/** The largest profile() frequency, interval() period or software()/hardware() count accepted: what fits perf_event_attr once scaled. */
export const MAX_PERF_EVENT_RATE = 0xffffffff;

export const MAX_VPRINTK_ARGS = 12;

/** What comm() fills: the task's name, char[TASK_COMM_LEN]. */
export const COMM_LAYOUT = { kind: "str", size: 16, align: 1 } as const satisfies Layout;

/** A RingBuf record larger than this, given to output() as a literal, is built in a reservation rather than on the stack. */
export const OUTPUT_IN_PLACE = 256;

/** The buffer a string read straight into printk() gets: 64 bytes, bpftrace's default for str(). */
export const PRINTED_STRING = { kind: "str", size: 64, align: 1 } as const satisfies Layout;

/** Two Str values sharing at most this many bytes compare unrolled; longer ones in a loop. */
export const UNROLLED_STRING_COMPARE = 16;

/** The unsigned type a load of each size gives. */
/** usym()'s value: a user address and the tgid of the process it was taken in, a struct readers print by name. */
export const USER_SYMBOL_LAYOUT = { kind: "struct", name: USYM_STRUCT, fields: [{ name: "address", offset: 0, layout: { kind: "int", type: U64, size: 8, align: 8 } }, { name: "pid", offset: 8, layout: { kind: "int", type: U64, size: 8, align: 8 } }], size: 16, align: 8 } as const satisfies Layout;

const BYTE = { kind: "int", type: U8, size: 1, align: 1 } as const;
const bytesOf = (length: number) => ({ kind: "array", element: BYTE, length, size: length, align: 1 }) as const;
/** macaddr()'s value: a MAC address's 6 bytes in a struct readers print as `AA:BB:CC:DD:EE:FF`. */
export const MAC_ADDR_LAYOUT = { kind: "struct", name: MACADDR_STRUCT, fields: [{ name: "addr", offset: 0, layout: bytesOf(6) }], size: 6, align: 1 } as const satisfies Layout;
/** ntop()'s value: AF_INET or AF_INET6 and the address's bytes (IPv4's in the first 4), one type for both, as bpftrace's inet. */
export const INET_LAYOUT = { kind: "struct", name: INET_STRUCT, fields: [{ name: "family", offset: 0, layout: { kind: "int", type: U32, size: 4, align: 4 } }, { name: "addr", offset: 4, layout: bytesOf(16) }], size: 20, align: 4 } as const satisfies Layout;
export const AF_INET = 2n;
export const AF_INET6 = 10n;
/** buf()'s value of up to `room` bytes: the count read, then the bytes (zeroed past the count, so equal reads are equal keys). */
export function bufLayout(room: number): Layout {
  return { kind: "struct", name: `${BUF_STRUCT_PREFIX}${room}`, fields: [{ name: "count", offset: 0, layout: { kind: "int", type: U32, size: 4, align: 4 } }, { name: "data", offset: 4, layout: bytesOf(room) }], size: 4 + room + ((4 - (room % 4)) % 4), align: 4 };
}

/** strftime()'s value in `format`: the nanoseconds since boot, in a struct whose name carries the format. */
export function strftimeLayout(format: string): Layout {
  return { kind: "struct", name: strftimeStructName(format), fields: [{ name: "ns", offset: 0, layout: { kind: "int", type: U64, size: 8, align: 8 } }], size: 8, align: 8 };
}

export const UNSIGNED_OF_SIZE = { 1: U8, 2: U16, 4: U32, 8: U64 } as const;

export const HELPER_CALLS: Record<string, { id: number; type: IntType }> = {
  pidTgid: { id: Helper.get_current_pid_tgid, type: U64 },
  uidGid: { id: Helper.get_current_uid_gid, type: U64 },
  cgroupId: { id: Helper.get_current_cgroup_id, type: U64 },
  jiffies: { id: Helper.jiffies64, type: U64 },
  numaNodeId: { id: Helper.get_numa_node_id, type: I32 },
  ktimeNs: { id: Helper.ktime_get_ns, type: U64 },
  ktimeBootNs: { id: Helper.ktime_get_boot_ns, type: U64 },
  smpProcessorId: { id: Helper.get_smp_processor_id, type: U32 },
  prandomU32: { id: Helper.get_prandom_u32, type: U32 },
  currentTask: { id: Helper.get_current_task, type: { ...PTR, pointee: "task_struct" } },
};

/**
 * The most calls inlined into one handler: the probes of tools/ and examples/ inline at most 6, and functions that
 * each call the next twice would otherwise be copied for minutes (2^20 bodies for 20 of them).
 */
export const MAX_INLINED_CALLS = 1_000;

/** The most bytes buf() and kbuf() read for printf's %r. */
export const MAX_BUF = 1024;
