// tsbpf's BTF declaration tags on `.maps` variables and on programs' FUNCs.
// On maps: what a map carries beyond its key and value, so that a
// reader of any object (tsbpf's, or clang's with `__attribute__((btf_decl_tag("tsbpf:event=struct event")))`
// on the map) decodes ring buffer records and perf samples by type, prints histograms as histograms and leaves a probe's
// bookkeeping maps out of what it prints.
// The kernel and libbpf load objects with them unchanged (decl tags exist since Linux 5.16).
import type { Btf } from "./parse.js";
import { BtfKind } from "./types.js";
import type { ArgSpec } from "../ir/printf.js";

/** `tsbpf:event=<C type name>`: the records of a ring buffer or perf event array are of this type. */
export const EVENT_TAG = "tsbpf:event=";
/** `tsbpf:histogram=log2`: an array map in the Histogram slot layout (runtime/loader/histogram.ts). */
export const HISTOGRAM_TAG = "tsbpf:histogram=log2";
/** `tsbpf:histogram=linear:MIN:MAX:STEP`: an array map in the LinearHistogram slot layout. */
export const LINEAR_HISTOGRAM_TAG = "tsbpf:histogram=linear:";
export const linearHistogramTag = (l: { min: bigint; max: bigint; step: bigint }): string => `${LINEAR_HISTOGRAM_TAG}${l.min}:${l.max}:${l.step}`;
/**
 * `tsbpf:aggregate=count|sum|avg|min|max|stats`: a per-CPU map of bpftrace's count(), sum(), avg(), min(), max() or
 * stats(), printed as one value per key with the CPUs merged. Its value is `struct { __u64 count; __s64 total; }` for
 * count, sum, avg and stats, `struct { __s64 value; __u64 set; }` for min and max (`set` 0: this CPU has recorded
 * nothing).
 */
export const AGGREGATE_TAG = "tsbpf:aggregate=";
export const AGGREGATES = ["count", "sum", "avg", "min", "max", "stats"] as const;
export type Aggregate = (typeof AGGREGATES)[number];
/** `tsbpf:internal`: the probe's own bookkeeping (a map its file does not export), not printed at exit. */
export const INTERNAL_TAG = "tsbpf:internal";
/**
 * `tsbpf:stacks`: the stack map that stack ids typed `tsbpf_kstack` or `tsbpf_ustack` (in other maps' keys and values)
 * refer to; readers print the frames an id names in its place. A hash map whose keys are the frames and values the
 * u32 ids (kstack()'s and ustack()'s; a key of `struct bpf_stack_build_id`s holds user frames), or a stack trace map
 * of bpf_get_stackid() ids.
 */
export const STACKS_TAG = "tsbpf:stacks";
/**
 * `tsbpf:frames-of=NAME`: the hash map, keyed by the u32 id with the frames as value, that holds the frames of each id
 * in the hash stack map NAME (tagged `tsbpf:stacks`): readers find an id's frames with one lookup there.
 */
export const FRAMES_OF_TAG = "tsbpf:frames-of=";
/**
 * `tsbpf:actions=NAME,NAME...`: a ring buffer of what a probe asks its reader to do, as bpftrace's exit(), print(@m)
 * and clear(@m): 8-byte records `{ u32 action; u32 arg; }`, `arg` the exit code or the index of a map in the tag's list.
 */
export const ACTIONS_TAG = "tsbpf:actions=";
export const ACTIONS = { exit: 0, print: 1, clear: 2, printf: 3, time: 4 } as const;
/** The actions ring buffer of a tsbpf probe file. */
export const ACTIONS_RING = "tsbpf_actions";
export const actionsTag = (maps: readonly string[]): string => `${ACTIONS_TAG}${maps.join(",")}`;
/**
 * The `.bss` u64 counting the records ring buffer `ring` dropped because it was full: the compiler adds one where a
 * reserve() or an output() of the ring fails (printf()'s and the probes' own), and tsbpf run reports what it counts,
 * as it reports what a perf buffer lost.
 */
export const droppedCounterName = (ring: string): string => `${DROPPED_COUNTER_PREFIX}${ring}`;
export const DROPPED_COUNTER_PREFIX = "tsbpf_lost_";
/** The `.bss` u64 counting the stacks kstack() and ustack() have given ids to: the next new stack's id is one more. */
export const STACK_ID_COUNTER = "tsbpf_stack_ids";
/**
 * `tsbpf:printf=ID:ARGS:FORMAT` on the actions ring buffer, one per printf() call: a printf record is the action
 * header `{ 3, ID }` and the arguments ARGS (`i32,s64,u64`: compiler/ir/printf.ts's layout), formatted by FORMAT.
 */
export const PRINTF_TAG = "tsbpf:printf=";
export interface PrintfSite {
  readonly format: string;
  readonly args: readonly ArgSpec[];
}
const printfTag = (site: PrintfSite, id: number): string => `${PRINTF_TAG}${id}:${site.args.join(",")}:${site.format}`;
/** `tsbpf:time=ID:FORMAT` on the actions ring buffer, one per time() call: a time record `{ 4, ID }` prints the time so. */
export const TIME_TAG = "tsbpf:time=";
/**
 * `tsbpf:probe` on a program's FUNC: it calls probe(), so the loader attaches it with the id of each place it
 * attaches to (runtime/loader/probe-names.ts) in the high 32 bits of the attach cookie; the low 32 stay a USDT
 * site's argument spec id.
 */
export const PROBE_TAG = "tsbpf:probe";
export const PROBE_ID_SHIFT = 32;
/** A typedef of `unsigned long long`: probe()'s id of the probe that fired, read as its name (`tracepoint:syscalls:sys_enter_read`). */
export const PROBE_TYPEDEF = "tsbpf_probe";
/** A typedef of `unsigned long long`: ksym()'s kernel address, read as the name of the kernel function it is in. */
export const KSYM_TYPEDEF = "tsbpf_ksym";
/**
 * A struct `{ u64 address; u64 pid; }`: usym()'s user address and the process it belongs to (its tgid), read as the
 * name of the function it is in within that process, as bpftrace's usym() keeps both.
 */
export const USYM_STRUCT = "tsbpf_usym";
/** A struct `{ u8 addr[6]; }`: macaddr()'s MAC address, read as `AA:BB:CC:DD:EE:FF` as bpftrace prints one. */
export const MACADDR_STRUCT = "tsbpf_macaddr";
/** A struct `{ u32 family; u8 addr[16]; }`: ntop()'s address (AF_INET's in the first 4 bytes), read as inet_ntop text. */
export const INET_STRUCT = "tsbpf_inet";
/** `tsbpf_buf_16`: a struct `{ u32 count; u8 data[16]; }`, buf()'s bytes, read as bpftrace's %r writes them. */
export const BUF_STRUCT_PREFIX = "tsbpf_buf_";
/**
 * `tsbpf_strftime_` and a format's UTF-8 bytes in hex (`tsbpf_strftime_25482e254d` for "%H:%M"): a struct
 * `{ u64 ns; }`, strftime()'s nanoseconds since boot, read as the wall-clock time that format writes. The name carries
 * the format so that a map key or record field prints by its type alone.
 */
export const STRFTIME_STRUCT_PREFIX = "tsbpf_strftime_";
/** The most bytes a strftime() format has: its hex in a struct name stays within the kernel's 512 bytes for one. */
export const MAX_STRFTIME_FORMAT = 240;
export const strftimeStructName = (format: string): string => `${STRFTIME_STRUCT_PREFIX}${Buffer.from(format, "utf8").toString("hex")}`;
/** The format a `tsbpf_strftime_HEX` struct's name carries; undefined for any other name. */
export function strftimeFormatOf(name: string): string | undefined {
  const hex = name.startsWith(STRFTIME_STRUCT_PREFIX) ? name.slice(STRFTIME_STRUCT_PREFIX.length) : undefined;
  return hex !== undefined && /^(?:[0-9a-f]{2})*$/.test(hex) ? Buffer.from(hex, "hex").toString("utf8") : undefined;
}
/**
 * A typedef of `long long`: the id of a kernel stack in the tagged stack map (negative: none was taken, its errno).
 * With a frame limit, `tsbpf_kstack_5` (and `tsbpf_ustack_5`): an id in the tagged map whose entries hold 5 frames.
 */
export const KERNEL_STACK_TYPEDEF = "tsbpf_kstack";
/**
 * A typedef of `unsigned long long`: the process's tgid in the high 32 bits, the user stack's id (an s32, negative:
 * none was taken) in the low. A tagged map with build id frames holds them if there is one (frames named by build id),
 * else the tagged map (frames as ips, named through the process's mappings).
 */
export const USER_STACK_TYPEDEF = "tsbpf_ustack";

export interface MapTags {
  /** The BTF id of the event type, when tagged and found. */
  event?: number;
  /** The event type's name as tagged, when the BTF has no such type (clang leaves out types used only through pointers). */
  missingEvent?: string;
  histogram?: boolean;
  /** A LinearHistogram's bounds. */
  linear?: { min: number; max: number; step: number };
  internal?: boolean;
  stacks?: boolean;
  /** The hash stack map whose ids' frames this map holds (`tsbpf:frames-of=`). */
  framesOf?: string;
  aggregate?: Aggregate;
  /** The maps an actions ring buffer's print and clear records name, by index. */
  actions?: string[];
  /** An actions ring buffer's printf() calls, by id. */
  printf?: PrintfSite[];
  /** Its time() calls' formats, by id. */
  times?: string[];
}

/** What a map declares besides its key and value types, as compiler/ir's MapDef says it. */
export interface MapMarks {
  readonly histogram?: boolean;
  readonly internal?: boolean;
  readonly stacks?: boolean;
  readonly framesOf?: string;
  readonly linear?: { readonly min: bigint; readonly max: bigint; readonly step: bigint };
  readonly aggregate?: Aggregate;
  readonly actions?: readonly string[];
  readonly printf?: readonly PrintfSite[];
  readonly times?: readonly string[];
}

/** The tags both backends write on a map for its marks (the event tag, which names a type, is each backend's own). */
export function markTags(m: MapMarks): string[] {
  return [
    ...(m.histogram ? [HISTOGRAM_TAG] : []),
    ...(m.internal ? [INTERNAL_TAG] : []),
    ...(m.stacks ? [STACKS_TAG] : []),
    ...(m.framesOf ? [FRAMES_OF_TAG + m.framesOf] : []),
    ...(m.linear ? [linearHistogramTag(m.linear)] : []),
    ...(m.aggregate ? [AGGREGATE_TAG + m.aggregate] : []),
    ...(m.actions ? [actionsTag(m.actions)] : []),
    ...(m.printf ?? []).map(printfTag),
    ...(m.times ?? []).map((format, id) => `${TIME_TAG}${id}:${format}`),
  ];
}

/** The tags on variable `varId`, with the event type name resolved in the same BTF. */
export function mapTags(btf: Btf, varId: number): MapTags {
  const out: MapTags = {};
  for (const t of btf.types()) {
    if (t.kind !== BtfKind.DECL_TAG || t.type !== varId || t.componentIdx !== -1) continue;
    if (t.name === HISTOGRAM_TAG) out.histogram = true;
    else if (t.name === INTERNAL_TAG) out.internal = true;
    else if (t.name === STACKS_TAG) out.stacks = true;
    else if (t.name.startsWith(FRAMES_OF_TAG)) out.framesOf = t.name.slice(FRAMES_OF_TAG.length);
    else if (t.name.startsWith(ACTIONS_TAG)) out.actions = t.name.slice(ACTIONS_TAG.length).split(",").filter((n) => n !== "");
    else if (t.name.startsWith(TIME_TAG)) {
      const m = /^(\d+):/.exec(t.name.slice(TIME_TAG.length));
      if (m) (out.times ??= [])[Number(m[1])] = t.name.slice(TIME_TAG.length + m[0].length);
    }
    else if (t.name.startsWith(PRINTF_TAG)) {
      const m = /^(\d+):([\w,.]*):/.exec(t.name.slice(PRINTF_TAG.length));
      const args = m?.[2] ? m[2].split(",") : [];
      if (m && args.every((a) => /^([iu](32|64)|s\d+|n(4|16)|m6|inet|p|ksym|usym|[ku]stack\d+|e(32|64)\.\w+|r\d+|t(?:[0-9a-f]{2})*|j\d+x\d+\.(?:[0-9a-f]{2})*)$/.test(a))) (out.printf ??= [])[Number(m[1])] = { args: args as ArgSpec[], format: t.name.slice(PRINTF_TAG.length + m[0].length) };
    }
    else if (t.name.startsWith(LINEAR_HISTOGRAM_TAG)) {
      const [min, max, step] = t.name.slice(LINEAR_HISTOGRAM_TAG.length).split(":").map(Number);
      if (Number.isSafeInteger(min) && Number.isSafeInteger(max) && Number.isSafeInteger(step) && step! > 0) out.linear = { min: min!, max: max!, step: step! };
    }
    else if (t.name.startsWith(AGGREGATE_TAG)) {
      const kind = t.name.slice(AGGREGATE_TAG.length);
      if ((AGGREGATES as readonly string[]).includes(kind)) out.aggregate = kind as Aggregate;
    }
    else if (t.name.startsWith(EVENT_TAG)) {
      const name = t.name.slice(EVENT_TAG.length).trim();
      out.event = typeByCName(btf, name);
      if (out.event === undefined) out.missingEvent = name;
    }
  }
  return out;
}

/** A type by its C spelling: `struct X`, `union X`, `enum X`, or a typedef or base type name. */
function typeByCName(btf: Btf, name: string): number | undefined {
  const m = /^(struct|union|enum)\s+(\S+)$/.exec(name);
  const kinds = m
    ? m[1] === "struct" ? [BtfKind.STRUCT] : m[1] === "union" ? [BtfKind.UNION] : [BtfKind.ENUM, BtfKind.ENUM64]
    : [BtfKind.TYPEDEF, BtfKind.INT, BtfKind.STRUCT, BtfKind.UNION, BtfKind.FLOAT];
  const bare = m ? m[2]! : name;
  for (const kind of kinds) {
    const t = btf.find(bare, kind);
    if (t) return t.id;
  }
  return undefined;
}

// ---------------------------------------------------------------- programs

/**
 * libbpf's one section name for BPF_PROG_TYPE_PERF_EVENT programs (libbpf 1.x refuses `perf_event/...`). Several
 * programs may share it; each says what it attaches to with a PERF_EVENT_TAG on its FUNC.
 */
export const PERF_EVENT_SECTION = "perf_event";

/**
 * `tsbpf:perf_event=PROBE:UNIT:N` on a perf_event program's FUNC (`__attribute__((btf_decl_tag(...)))` on the C
 * function): the perf events `tsbpf load`/`run` open for it, named as bpftrace names its probes.
 * - `profile:hz:N`: a cpu-clock software event on every online CPU sampling N times a second (`freq = 1`);
 *   `profile:s:N`, `profile:ms:N`, `profile:us:N`: the same with a fixed period of N seconds, ms or µs.
 * - `interval:ms:N` (also `interval:s:N`, `interval:us:N`): one cpu-clock event on one CPU with that period;
 *   `interval:hz:N`: a period of 1/N second.
 * - `software:EVENT:N` and `hardware:EVENT:N`: that software or hardware event on every online CPU, a sample every N
 *   events (bpftrace's software:page-faults:100; EVENT as bpftrace names it, aliases included: PERF_EVENT_NAMES).
 * N is a positive decimal integer. tsbpf's profile(hz, ...) writes `profile:hz:N`, interval(ms, ...) `interval:ms:N`,
 * software(event, n, ...) `software:EVENT:N` with the event's full name.
 */
export const PERF_EVENT_TAG = "tsbpf:perf_event=";

export type PerfEventUnit = "hz" | "s" | "ms" | "us";
/** A probe on a timer: profile samples every CPU, interval runs on one. */
export interface TimedProbe {
  probe: "profile" | "interval";
  unit: PerfEventUnit;
  rate: number;
}
/** A probe on a counted software or hardware event: a sample every `count` events, on every CPU. */
export interface CountedProbe {
  probe: "software" | "hardware";
  /** The event's full name as bpftrace spells it (`page-faults`, not the alias `faults`). */
  event: string;
  count: number;
}
export type PerfEventProbe = TimedProbe | CountedProbe;

/**
 * bpftrace's names of the software and hardware events, each with its perf_event_attr.config (PERF_COUNT_SW_* and
 * PERF_COUNT_HW_* of uapi/linux/perf_event.h) and its aliases.
 */
export const PERF_EVENT_NAMES = {
  software: {
    "cpu-clock": { config: 0, aliases: ["cpu"] },
    "task-clock": { config: 1, aliases: [] },
    "page-faults": { config: 2, aliases: ["faults"] },
    "context-switches": { config: 3, aliases: ["cs"] },
    "cpu-migrations": { config: 4, aliases: [] },
    "minor-faults": { config: 5, aliases: [] },
    "major-faults": { config: 6, aliases: [] },
    "alignment-faults": { config: 7, aliases: [] },
    "emulation-faults": { config: 8, aliases: [] },
    dummy: { config: 9, aliases: [] },
    "bpf-output": { config: 10, aliases: [] },
  },
  hardware: {
    "cpu-cycles": { config: 0, aliases: ["cycles"] },
    instructions: { config: 1, aliases: [] },
    "cache-references": { config: 2, aliases: [] },
    "cache-misses": { config: 3, aliases: [] },
    "branch-instructions": { config: 4, aliases: ["branches"] },
    "branch-misses": { config: 5, aliases: [] },
    "bus-cycles": { config: 6, aliases: [] },
    "frontend-stalls": { config: 7, aliases: [] },
    "backend-stalls": { config: 8, aliases: [] },
    "ref-cycles": { config: 9, aliases: [] },
  },
} as const satisfies Record<CountedProbe["probe"], Record<string, { config: number; aliases: readonly string[] }>>;

/** An event's full name from its name or alias, or undefined for one bpftrace does not name. */
export function perfEventFullName(probe: CountedProbe["probe"], name: string): string | undefined {
  const events: Record<string, { config: number; aliases: readonly string[] }> = PERF_EVENT_NAMES[probe];
  if (Object.hasOwn(events, name)) return name;
  return Object.keys(events).find((full) => events[full]!.aliases.includes(name));
}

/** perf_event_attr.config of a counted probe's event. */
export function perfEventConfig(p: CountedProbe): number {
  const events: Record<string, { config: number }> = PERF_EVENT_NAMES[p.probe];
  return events[p.event]!.config;
}

export const perfEventTag = (p: PerfEventProbe): string => `${PERF_EVENT_TAG}${perfEventName(p)}`;
/** `profile:hz:99`, `software:page-faults:100`, as bpftrace names the probe. */
export const perfEventName = (p: PerfEventProbe): string => ("event" in p ? `${p.probe}:${p.event}:${p.count}` : `${p.probe}:${p.unit}:${p.rate}`);

/** The period of a probe's events in ns: its unit's, or a second over the rate for hz (a profile:hz:N's cpu-clock runs at it). */
export function perfEventPeriodNs(p: Pick<TimedProbe, "unit" | "rate">): bigint {
  const NS = { s: 1_000_000_000n, ms: 1_000_000n, us: 1_000n };
  const period = p.unit === "hz" ? 1_000_000_000n / BigInt(p.rate) : BigInt(p.rate) * NS[p.unit];
  return period > 0n ? period : 1n;
}

/** The probe a tag's value names, or a sentence saying why it names none. */
export function parsePerfEventTag(value: string): PerfEventProbe | string {
  const m = /^(profile|interval|software|hardware):([\w-]+):(\d+)$/.exec(value.trim());
  const n = m ? Number(m[3]) : NaN;
  const usage = `${PERF_EVENT_TAG}${value} is not ${PERF_EVENT_TAG}profile:UNIT:N, interval:UNIT:N (UNIT hz, s, ms or us), software:EVENT:N or hardware:EVENT:N (N a positive integer below 2^32)`;
  if (!m || !Number.isSafeInteger(n) || n <= 0 || n > 0xffffffff) return usage;
  if (m[1] === "software" || m[1] === "hardware") {
    const event = perfEventFullName(m[1], m[2]!);
    if (!event) return `${PERF_EVENT_TAG}${value} names no ${m[1]} event; there are ${Object.keys(PERF_EVENT_NAMES[m[1]]).join(", ")}`;
    return { probe: m[1], event, count: n };
  }
  if (!/^(hz|s|ms|us)$/.test(m[2]!)) return usage;
  return { probe: m[1] as TimedProbe["probe"], unit: m[2] as PerfEventUnit, rate: n };
}

/**
 * `tsbpf:run=begin` / `tsbpf:run=end` on a raw tracepoint program's FUNC in section `raw_tp` (RUN_SECTION): bpftrace's
 * BEGIN and END. The program is not attached: `tsbpf run` runs it once with BPF_PROG_TEST_RUN, before it attaches
 * the probes (begin) or after it has detached them (end), in its own process's context.
 */
export const RUN_TAG = "tsbpf:run=";
export const RUN_SECTION = "raw_tp";
export type RunWhen = "begin" | "end";
export const runTag = (when: RunWhen): string => `${RUN_TAG}${when}`;

/** The values of the decl tags on the FUNC named `func` (the tags on the function itself, not its parameters). */
export function funcTags(btf: Btf, func: string): string[] {
  const ids = new Set(btf.findIdsByName(func, BtfKind.FUNC));
  if (!ids.size) return [];
  const out: string[] = [];
  for (const t of btf.types()) if (t.kind === BtfKind.DECL_TAG && t.componentIdx === -1 && ids.has(t.type)) out.push(t.name);
  return out;
}
