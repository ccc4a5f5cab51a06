// The "tsbpf" module as probe files import it: probe constructors, helpers and integer types.
// Takes nothing; gives typed markers. The compiler reads calls to these from the source and turns
// them into BPF; they are never called inside the kernel. Called from Node they throw, except the
// probe constructors, which return a description of the probe (so a probe file can be imported).
// Keep in step with compiler/frontend/prelude.ts (the declarations the compiler checks against).

export type u8 = number;
export type u16 = number;
export type u32 = number;
export type u64 = number;
export type i8 = number;
export type i16 = number;
export type i32 = number;
export type i64 = number;

// Conversions, as C casts: `u32(x)` is `x as u32`, and `u64(0xffff_ffff_ffff_fff0n)` turns a bigint
// literal (which TypeScript does not mix with number) into a 64-bit constant. In Node they wrap the
// value to the type's width, so helper code shared with tests computes what the probe computes.
const wrap = (bits: number, signed: boolean) => (value: number | bigint): number => {
  const v = typeof value === "bigint" ? value : BigInt(Math.trunc(value));
  return Number(signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v));
};
export const u8: (value: number | bigint) => u8 = wrap(8, false);
export const u16: (value: number | bigint) => u16 = wrap(16, false);
export const u32: (value: number | bigint) => u32 = wrap(32, false);
export const u64: (value: number | bigint) => u64 = wrap(64, false);
export const i8: (value: number | bigint) => i8 = wrap(8, true);
export const i16: (value: number | bigint) => i16 = wrap(16, true);
export const i32: (value: number | bigint) => i32 = wrap(32, true);
export const i64: (value: number | bigint) => i64 = wrap(64, true);

/** A pointer into kernel (or user) memory. Field access compiles to a probe read. */
export type Ptr<T = unknown> = number & { readonly __tsbpfPointee?: T } & { readonly [K in keyof T]: T[K] };
/** A fixed-size, NUL-padded char array of N bytes. */
export type Str<N extends number = number> = string & { readonly __tsbpfLength?: N };

export type ProbeKind = "kprobe" | "kretprobe" | "uprobe" | "uretprobe" | "tracepoint";

/** What a probe constructor returns: enough for tools to list a file's probes. */
export interface Probe {
  readonly __tsbpfProbe: true;
  readonly kind: ProbeKind;
  /** The SEC() name the compiler gives the program. */
  readonly section: string;
}

export type Handler<A extends unknown[]> = (...args: A) => number | bigint | void;

/**
 * The record of a tracepoint, as the compiler reads it from the tracepoint's format file.
 * Editors see an open record; the compiler checks field names and types against the format.
 */
export type TracepointContext<G extends string = string, N extends string = string> = { readonly [field: string]: number } & { readonly __tsbpfTracepoint?: `${G}/${N}` };

const probe = (kind: ProbeKind, section: string): Probe => Object.freeze({ __tsbpfProbe: true, kind, section });

/** A kprobe on kernel function `fn`; the handler's parameters are its arguments (up to six). */
export function kprobe(fn: string, _handler: Handler<any[]>): Probe {
  return probe("kprobe", `kprobe/${fn}`);
}
/** A return probe on kernel function `fn`; the handler's one parameter is the return value. */
export function kretprobe(fn: string, _handler: Handler<any[]>): Probe {
  return probe("kretprobe", `kretprobe/${fn}`);
}
/** A uprobe on `symbol` in the executable or library at `binary`. */
export function uprobe(binary: string, symbol: string, _handler: Handler<any[]>): Probe {
  return probe("uprobe", `uprobe/${binary}:${symbol}`);
}
/** A return uprobe on `symbol` in `binary`. */
export function uretprobe(binary: string, symbol: string, _handler: Handler<any[]>): Probe {
  return probe("uretprobe", `uretprobe/${binary}:${symbol}`);
}
/** A static tracepoint, `group:name` as in /sys/kernel/tracing/events; the handler gets its record. */
export function tracepoint<G extends string, N extends string>(group: G, name: N, _handler: (ctx: TracepointContext<G, N>) => number | bigint | void): Probe {
  return probe("tracepoint", `tracepoint/${group}/${name}`);
}

function onlyInProbe(name: string): never {
  throw new Error(`${name}() is only callable inside a probe compiled by tsbpf`);
}

/** Writes to the kernel trace pipe; the format is derived from the template's value types. */
export function printk(_message: string): void {
  onlyInProbe("printk");
}
/** bpf_get_current_pid_tgid(): tgid (the process id) in the upper 32 bits, thread id in the lower. */
export function pidTgid(): u64 {
  return onlyInProbe("pidTgid");
}
/** bpf_get_current_uid_gid(): gid in the upper 32 bits, uid in the lower. */
export function uidGid(): u64 {
  return onlyInProbe("uidGid");
}
/** bpf_ktime_get_ns(): nanoseconds since boot (CLOCK_MONOTONIC). */
export function ktimeNs(): u64 {
  return onlyInProbe("ktimeNs");
}
/** bpf_get_smp_processor_id(): the CPU the probe runs on. */
export function smpProcessorId(): u32 {
  return onlyInProbe("smpProcessorId");
}
/** bpf_get_current_comm(): the current task's name (at most 15 characters); printk prints it with %s. */
export function comm(): Str<16> {
  return onlyInProbe("comm");
}
/** bpf_get_prandom_u32(): a pseudo-random 32-bit number. */
export function prandomU32(): u32 {
  return onlyInProbe("prandomU32");
}
