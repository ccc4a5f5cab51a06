// The declarations a probe file is type-checked against (with `noLib`, so checking stays ~0.1 s).
// Takes the tracepoints the file names; gives the text of one ambient declaration file: the few
// global interfaces TypeScript needs without a lib, and `declare module "tsbpf"` with the probe
// constructors, integer types, helpers and one context type per tracepoint.
// Keep in step with /index.ts, which users' editors see (a test compares their exports).

import type { TracepointFormat } from "./tracepoints.js";
import { SIGNALS } from "./signals.js";
import { PERF_EVENT_NAMES } from "../btf/tags.js";

export const PRELUDE_FILE = "/__tsbpf__/prelude.d.ts";

/** The names the "tsbpf" module exports, by role; the lowering dispatches on these. */
export const PROBES = ["kprobe", "kretprobe", "uprobe", "uretprobe", "usdt", "tracepoint", "rawTracepoint", "profile", "interval", "software", "hardware", "begin", "end"] as const;
export const HELPERS = ["printk", "pidTgid", "uidGid", "cgroupId", "jiffies", "numaNodeId", "ktimeNs", "ktimeBootNs", "smpProcessorId", "prandomU32", "comm", "currentTask", "readKernelStr", "readUserStr", "readKernel", "readUser", "targetPid", "kstack", "ustack", "probe", "ksym", "usym", "kaddr", "uaddr", "buf", "kbuf", "signal", "exit", "printf", "time", "strftime", "ntop", "pton", "macaddr", "bswap", "strncmp", "strcontains", "join"] as const;
/** Map classes (`new HashMap<K, V>(n)` at module level). */
export const MAPS = ["HashMap", "ArrayMap", "PerCpuHashMap", "PerCpuArrayMap", "LruHashMap", "RingBuf", "PerfEventArray", "StackTraceMap", "Histogram", "LinearHistogram", "Count", "Sum", "Avg", "Min", "Max", "Stats"] as const;
/** Named constants (flags) the module exports, with their values. */
export const CONSTANTS: Readonly<Record<string, bigint>> = { ANY: 0n, NOEXIST: 1n, EXIST: 2n, USER_STACK: 256n, FAST_STACK_CMP: 512n, REUSE_STACKID: 1024n, AF_INET: 2n, AF_INET6: 10n };

// String declares what a Str<N> supports (startsWith, charCodeAt) and a few methods people reach for,
// so that those type-check and the lowering explains that they are not supported.
const GLOBALS = `
interface Array<T> { readonly length: number; [n: number]: T }
interface Boolean {}
interface CallableFunction {}
interface Function {}
interface IArguments {}
interface NewableFunction {}
interface Number {}
interface Object {}
interface RegExp {}
interface String {
  readonly length: number;
  startsWith(prefix: string): boolean;
  charCodeAt(index: number): number;
  endsWith(suffix: string): boolean;
  includes(part: string): boolean;
  indexOf(part: string): number;
  charAt(index: number): string;
  slice(start?: number, end?: number): string;
}
interface TemplateStringsArray extends Array<string> { readonly raw: readonly string[] }
interface BigInt {}
interface Symbol {}
interface Promise<T> {}
`;

/** Every name the "tsbpf" module exports (values and types), for a one-liner's implicit import of all of them. */
export function tsbpfExports(): string[] {
  return [...new Set([...(MODULE_HEAD + probeDeclarations()).matchAll(/\bexport (?:function|class|const|type|interface) (\w+)/g)].map((m) => m[1]!))];
}

/** The methods of each map class the "tsbpf" module exports (`HashMap`: lookup, update, ...), in declaration order. */
export function tsbpfClassMethods(): Map<string, string[]> {
  const classes = new Map<string, string[]>();
  for (const [, name, body] of MODULE_HEAD.matchAll(/\bexport class (\w+)[^{]*\{([^\n]*)\}/g)) {
    const methods = [...body!.matchAll(/(?:^|; )(\w+)\(/g)].map((m) => m[1]!).filter((m) => m !== "constructor");
    classes.set(name!, [...new Set(methods)]);
  }
  return classes;
}

/** Handler types from the kernel's BTF, by the name a probe gives (typed-handlers.ts's handlerType). */
export interface HandlerTypes {
  rawTracepoints: ReadonlyMap<string, string>;
  kprobes: ReadonlyMap<string, string>;
  kretprobes: ReadonlyMap<string, string>;
}

const NO_HANDLER_TYPES: HandlerTypes = { rawTracepoints: new Map(), kprobes: new Map(), kretprobes: new Map() };

/**
 * The probes whose handlers BTF may type: one overload per name the file gives with its handler's type, then the
 * untyped one, which also takes handlers annotated otherwise (as a C cast would). A file without typed handlers has
 * only the untyped overload, so its diagnostics name one signature.
 */
function probeDeclarations(types: HandlerTypes = NO_HANDLER_TYPES): string {
  const overloads = (kind: string, param: string, typed: ReadonlyMap<string, string>) =>
    [...[...typed].map(([name, type]) => `  export function ${kind}(${param}: ${JSON.stringify(name)}, handler: ${type}): Probe;`), `  export function ${kind}(${param}: string, handler: Handler<any[]>): Probe;`].join("\n");
  return `  /** A kprobe on kernel function \`fn\`: the handler's parameters are its arguments, typed from the kernel's BTF where not annotated. */
${overloads("kprobe", "fn", types.kprobes)}
  /** A return probe on kernel function \`fn\`: the handler's parameter is its return value, typed from the kernel's BTF where not annotated. */
${overloads("kretprobe", "fn", types.kretprobes)}
  /** A raw tracepoint (libbpf's tp_btf, bpftrace's rawtracepoint): the handler takes the tracepoint's own arguments, typed by the kernel's BTF. */
${overloads("rawTracepoint", "name", types.rawTracepoints)}
`;
}

/** The names and aliases of bpftrace's software or hardware events, as a union of string literal types. */
function eventNames(probe: "software" | "hardware"): string {
  return Object.entries(PERF_EVENT_NAMES[probe]).flatMap(([name, e]) => [name, ...e.aliases]).map((n) => JSON.stringify(n)).join(" | ");
}

const MODULE_HEAD = `
declare module "tsbpf" {
  export type u8 = number;
  export type u16 = number;
  export type u32 = number;
  export type u64 = number;
  export type i8 = number;
  export type i16 = number;
  export type i32 = number;
  export type i64 = number;
  /** Conversions, as C casts: \`u32(x)\` is \`x as u32\`; \`u64(0xffff_ffff_ffff_fff0n)\` makes a bigint literal a u64. */
  export function u8(value: number | bigint): u8;
  export function u16(value: number | bigint): u16;
  export function u32(value: number | bigint): u32;
  export function u64(value: number | bigint): u64;
  export function i8(value: number | bigint): i8;
  export function i16(value: number | bigint): i16;
  export function i32(value: number | bigint): i32;
  export function i64(value: number | bigint): i64;
  /** A pointer into kernel or user memory. */
  export type Ptr<T = unknown> = number & { readonly __tsbpfPointee?: T } & { readonly [K in keyof T]: T[K] };
  /** A fixed-size, NUL-padded char array. */
  export type Str<N extends number = number> = string & { readonly __tsbpfLength?: N };
  /** kstack()'s id of a kernel stack (of at most N frames); as a map key, printed as the stack's frames. */
  export type KernelStack<N extends number = 127> = i64 & { readonly __tsbpfStack: "kernel"; readonly __tsbpfFrames?: N };
  /** ustack()'s tgid and user stack id (of at most N frames); as a map key, printed as the stack's frames. */
  export type UserStack<N extends number = 127> = u64 & { readonly __tsbpfStack: "user"; readonly __tsbpfFrames?: N };
  /** probe()'s id of the probe that fired; as a map key, printed as the probe's name. */
  export type ProbeName = u64 & { readonly __tsbpfProbeName: true };
  /** ksym()'s kernel address; as a map key, printed as the kernel function it is in. */
  export type KernelSymbol = u64 & { readonly __tsbpfKsym: true };
  /** usym()'s user address and its process; as a map key or printf's %s, printed as the function it is in. */
  export interface UserSymbol { readonly __tsbpfUsym: true }
  /** buf()'s and kbuf()'s bytes, at most N; a map key or field, printed as printf's %r writes them (\`hi\\x0a\`). */
  export interface Buf<N extends number = number> { readonly __tsbpfBuf: N }
  /** Buf of any length, as printf's %r takes it. */
  export type Bytes = Buf<number>;
  /** strftime()'s time, nanoseconds since boot; a map key or field, printed as format F writes the wall-clock time then. */
  export interface Strftime<F extends string = string> { readonly __tsbpfStrftime: F }
  /** macaddr()'s MAC address; a map key or field, printed as \`AA:BB:CC:DD:EE:FF\`. */
  export interface MacAddr { readonly __tsbpfMacAddr: true }
  /** ntop()'s IPv4 or IPv6 address; a map key or field, printed as inet_ntop writes it (\`127.0.0.1\`, \`::1\`). */
  export interface IpAddr { readonly __tsbpfIpAddr: true }
  export interface Probe { readonly __tsbpfProbe: true }
  export type Handler<A extends unknown[]> = (...args: A) => number | bigint | void;
  export function uprobe(binary: string, symbol: string, handler: Handler<any[]>): Probe;
  export function uretprobe(binary: string, symbol: string, handler: Handler<any[]>): Probe;
  export function usdt(binary: string, provider: string, name: string, handler: Handler<any[]>): Probe;
  export function tracepoint<G extends string, N extends string>(group: G, name: N, handler: (ctx: TracepointContext<G, N>, ...more: never[]) => number | bigint | void): Probe;
  /** The context of a profile() or interval() handler (struct bpf_perf_event_data); the handler reads none of it. */
  export interface PerfEventContext { readonly __tsbpfPerfEvent?: true }
  /** bpftrace's profile:hz:N: a handler run N times a second on every online CPU, on whatever runs there. */
  export function profile(hz: number, handler: (ctx: PerfEventContext, ...more: never[]) => number | bigint | void): Probe;
  /** bpftrace's interval:ms:N: a handler run every N milliseconds, on one CPU. */
  export function interval(ms: number, handler: (ctx: PerfEventContext, ...more: never[]) => number | bigint | void): Probe;
  /** bpftrace's software:EVENT:N: a handler run at every N-th event on each online CPU, in the context of the task it came from. */
  export function software(event: SoftwareEvent, count: number, handler: (ctx: PerfEventContext, ...more: never[]) => number | bigint | void): Probe;
  /** bpftrace's hardware:EVENT:N: the same for a hardware counter of the CPU. */
  export function hardware(event: HardwareEvent, count: number, handler: (ctx: PerfEventContext, ...more: never[]) => number | bigint | void): Probe;
  /** bpftrace's BEGIN: a handler tsbpf run runs once, in its own process, before it attaches the probes. */
  export function begin(handler: () => number | bigint | void): Probe;
  /** bpftrace's END: a handler tsbpf run runs once, after it has detached the probes and before it prints the maps. */
  export function end(handler: () => number | bigint | void): Probe;
  export type SoftwareEvent = ${eventNames("software")};
  export type HardwareEvent = ${eventNames("hardware")};
  export type TracepointContext<G extends string, N extends string> = \`\${G}/\${N}\` extends keyof Tracepoints ? Tracepoints[\`\${G}/\${N}\`] : never;
  export function printk(message: string): void;
  export function pidTgid(): u64;
  export function uidGid(): u64;
  /**
   * bpftrace's cgroup: the current task's cgroup v2 id (bpf_get_current_cgroup_id), the inode number of its directory where cgroup2 is mounted;
   * with a path, bpftrace's cgroupid("/sys/fs/cgroup/PATH"): that cgroup's id, read by tsbpf run as it loads the probes.
   */
  export function cgroupId(path?: string): u64;
  /** bpftrace's jiffies, bpf_jiffies64(): the kernel's tick count since boot (HZ a second, plus its start offset). */
  export function jiffies(): u64;
  /** bpftrace's numaid, bpf_get_numa_node_id(): the NUMA node of the CPU the probe runs on. */
  export function numaNodeId(): i32;
  export function ktimeNs(): u64;
  /** bpf_ktime_get_boot_ns(), bpftrace 0.17's nsecs: nanoseconds since boot, time suspended included (strftime() takes it). */
  export function ktimeBootNs(): u64;
  export function smpProcessorId(): u32;
  export function prandomU32(): u32;
  export function comm(): Str<16>;
  /** The process \`tsbpf run --command\` started or \`--pid\` named (bpftrace's cpid), 0 without one: a constant to the verifier. */
  export function targetPid(): u32;
  /** bpftrace's printf: a C format (%d %u %x %s %c %p, %r for buf(), widths and flags) and its values, or a template literal, formatted by tsbpf run. */
  export function printf(format: string, ...values: unknown[]): void;
  /** bpftrace's join(): the strings of a user array of \`char *\` (a tracepoint's \`ctx.argv\`) up to its first NULL (at most 16, 1023 bytes each), printed by tsbpf run on one line, separated by \`separator\` (a space). */
  export function join(array: Ptr<any> | u64, separator?: string): void;
  /** bpftrace's time(): tsbpf run prints the current local time in strftime's format, "%H:%M:%S\\n" by default. */
  export function time(format?: string): void;
  /**
   * bpftrace's strftime(): \`ns\` nanoseconds since boot (ktimeBootNs(), bpftrace's nsecs) as the wall-clock time then,
   * in strftime's \`format\` (%H:%M:%S, %f the microseconds), written by tsbpf run: printf's %s, a map key or field.
   */
  export function strftime<F extends string>(format: F, ns: number | bigint): Strftime<F>;
  /** bpftrace's ntop(): an IPv4 or IPv6 address (a u32 as the kernel keeps it, or its bytes), a map key or printf's %s. */
  export function ntop(address: Arr<u8, 4> | Arr<u8, 16> | number): IpAddr;
  /** ntop() with the address family given, AF_INET or AF_INET6 (a constant, or a value such as a socket's family). */
  export function ntop(family: number, address: Arr<u8, 4> | Arr<u8, 16> | number): IpAddr;
  /** bpftrace's pton(): an IPv4 or IPv6 address's text (a string literal) as its bytes in network order, at compile time. */
  export function pton<S extends string>(address: S): S extends \`\${string}:\${string}\` ? Arr<u8, 16> : Arr<u8, 4>;
  /** bpftrace's strncmp(): 0 when the strings' first n bytes (a constant) match, as \`a.slice(0, n) === b.slice(0, n)\`; 1 when not. */
  export function strncmp(a: string, b: string, n: number): number;
  /** bpftrace's strcontains(): whether \`needle\` appears in \`haystack\` (a Str<N>), as \`haystack.includes(needle)\`. */
  export function strcontains(haystack: string, needle: string): boolean;
  /** bpftrace's bswap(): an integer's bytes in reverse order at its width, a u16, u32 or u64 (a u8 as it is). */
  export function bswap(value: number | bigint): number;
  /** bpftrace's macaddr(): a MAC address's 6 bytes, a map key or printf's %s, written \`AA:BB:CC:DD:EE:FF\`. */
  export function macaddr(address: Arr<u8, 6>): MacAddr;
  /** Which probe fired (bpftrace's probe): count by it, and tsbpf run prints the probe's name, \`tracepoint:syscalls:sys_enter_read\`. */
  export function probe(): ProbeName;
  /** bpftrace's ksym(): a kernel address, printed by tsbpf run as the function it is in (\`vmstat_update\`). */
  export function ksym(address: number | bigint): KernelSymbol;
  /** bpftrace's kaddr(): a kernel symbol's address, which tsbpf run reads from /proc/kallsyms when it loads the probe. */
  export function kaddr(symbol: string): u64;
  /** bpftrace's uaddr(): a symbol's address in a position-dependent executable (-no-pie), read from it when tsbpf run loads the probe. */
  export function uaddr(binary: string, symbol: string): u64;
  /** bpftrace's usym(): a user address of the current process, printed by tsbpf run as the function it is in (\`main\`). */
  export function usym(address: number | bigint): UserSymbol;
  /**
   * bpftrace's buf(): \`length\` bytes of user memory for printf's %r (\`hi\\x0a\`): a constant up to 1024, or a value known at
   * run time, then at most \`max\` bytes (a constant, 64 by default). kbuf() reads kernel memory.
   */
  export function buf<N extends number>(p: Ptr<any> | u64, length: N): Buf<number extends N ? 64 : N>;
  export function buf<M extends number>(p: Ptr<any> | u64, length: number, max: M): Buf<M>;
  export function kbuf<N extends number>(p: Ptr<any> | u64, length: N): Buf<number extends N ? 64 : N>;
  export function kbuf<M extends number>(p: Ptr<any> | u64, length: number, max: M): Buf<M>;
  /**
   * bpftrace's signal(): sends a signal to the current task's process (\`thread\`: to the task alone), by number or
   * name (\`"SIGKILL"\`, \`"KILL"\`); 0, or a negative errno. tsbpf run asks for --unsafe to run a probe that does.
   */
  export function signal(sig: number | SignalName, thread?: boolean): i64;
  export type SignalName = ${Object.keys(SIGNALS).flatMap((n) => [n, n.slice(3)]).map((n) => JSON.stringify(n)).join(" | ")};
  /** Ends the run (bpftrace's exit()): tsbpf run prints the maps and exits with \`code\`; it also ends the handler. */
  export function exit(code?: number): never;
  /** The current kernel stack, in the file's own stack map: count by it, and tsbpf run prints its frames; \`kstack(5)\`: its innermost 5 frames. */
  export function kstack<N extends number = 127>(frames?: N): KernelStack<N>;
  /** The current user stack and its process (bpftrace's ustack); \`ustack(5)\`: its innermost 5 frames. */
  export function ustack<N extends number = 127>(frames?: N): UserStack<N>;
  /**
   * bpf_get_current_task(): the current task_struct, read through as any kernel struct pointer. The type argument
   * (\`currentTask<task_struct>()\`, which gives editors the \`tsbpf btf\` declarations' types) can only be task_struct.
   */
  export function currentTask<T extends CurrentTask = CurrentTask>(): Ptr<T>;
  /** bpf_probe_read_kernel_str / bpf_probe_read_user_str into the Str<N> it is assigned to; the address a Ptr or a u64. */
  export function readKernelStr(p: Ptr<any> | u64): Str<never>;
  export function readUserStr(p: Ptr<any> | u64): Str<never>;
  /**
   * bpf_probe_read_kernel / bpf_probe_read_user of a T (an integer, struct, Str<N> or Arr<T, N>) at an address; zero where it faults.
   * With \`length\`, a Str<N> or Arr<T, N> gets at most that many bytes (clamped to its size; the rest zero), as C's
   * \`bpf_probe_read_user(buf, len & (N - 1), p)\`: \`readUser<Str<4096>>(buf, ret)\` copies what SSL_read() returned.
   */
  export function readKernel<T>(p: Ptr<any> | u64, length?: number): T;
  export function readUser<T>(p: Ptr<any> | u64, length?: number): T;
  /** A fixed-size array of N elements (C \`T name[N]\`). */
  export interface Arr<T, N extends number> { [index: number]: T; readonly length: number; readonly __tsbpfLength?: N }
  /** map.update() flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST. */
  export const ANY: 0;
  export const NOEXIST: 1;
  export const EXIST: 2;
  /** getStackId() flags: BPF_F_USER_STACK, BPF_F_FAST_STACK_CMP, BPF_F_REUSE_STACKID. */
  export const USER_STACK: 256;
  export const FAST_STACK_CMP: 512;
  export const REUSE_STACKID: 1024;
  /** Address families, ntop()'s first argument: AF_INET (IPv4), AF_INET6 (IPv6). */
  export const AF_INET: 2;
  export const AF_INET6: 10;
  export type UpdateFlags = 0 | 1 | 2;
  interface KeyedMap<K, V> {
    lookup(key: K): V | null;
    update(key: K, value: V, flags?: UpdateFlags): i64;
    delete(key: K): i64;
    increment(key: K, by?: number): void;
    print(top?: number): void;
    clear(): void;
  }
  export class HashMap<K, V> implements KeyedMap<K, V> { constructor(maxEntries: number); lookup(key: K): V | null; update(key: K, value: V, flags?: UpdateFlags): i64; delete(key: K): i64; increment(key: K, by?: number): void; print(top?: number): void; clear(): void; private __tsbpfMap: [K, V] }
  export class PerCpuHashMap<K, V> implements KeyedMap<K, V> { constructor(maxEntries: number); lookup(key: K): V | null; update(key: K, value: V, flags?: UpdateFlags): i64; delete(key: K): i64; increment(key: K, by?: number): void; print(top?: number): void; clear(): void; private __tsbpfMap: [K, V] }
  export class LruHashMap<K, V> implements KeyedMap<K, V> { constructor(maxEntries: number); lookup(key: K): V | null; update(key: K, value: V, flags?: UpdateFlags): i64; delete(key: K): i64; increment(key: K, by?: number): void; print(top?: number): void; clear(): void; private __tsbpfMap: [K, V] }
  export class ArrayMap<V> { constructor(maxEntries: number); lookup(index: u32): V | null; update(index: u32, value: V, flags?: UpdateFlags): i64; increment(index: u32, by?: number): void; print(top?: number): void; clear(): void; private __tsbpfMap: V }
  export class PerCpuArrayMap<V> { constructor(maxEntries: number); lookup(index: u32): V | null; update(index: u32, value: V, flags?: UpdateFlags): i64; increment(index: u32, by?: number): void; print(top?: number): void; clear(): void; private __tsbpfMap: V }
  export class RingBuf<T> { constructor(bytes: number); output(value: T): i64; reserve(): T | null; submit(record: T): void; discard(record: T): void; private __tsbpfMap: T }
  export class PerfEventArray<T> { constructor(maxCpus?: number); output(value: T): i64; private __tsbpfMap: T }
  export class StackTraceMap { constructor(maxEntries: number); getStackId(flags?: number): i64; private __tsbpfMap: true }
  export class Histogram<K = never> { constructor(maxKeys?: number); record(value: number): void; record(key: K, value: number): void; print(top?: number): void; clear(): void; private __tsbpfMap: true }
  /** bpftrace's lhist(v, min, max, step): values below min, each step from min to max, values from max up. */
  export class LinearHistogram<K = never> { constructor(min: number, max: number, step: number, maxKeys?: number); record(value: number): void; record(key: K, value: number): void; print(top?: number): void; clear(): void; private __tsbpfMap: true }
  /** bpftrace's count(): \`new Count()\`, or \`new Count<K>(maxKeys)\` for one per key; \`delete(k)\` removes a key, as bpftrace's delete(@x[k]). */
  export class Count<K = never> { constructor(maxKeys?: number); increment(): void; increment(key: K): void; delete(key: K): i64; print(top?: number): void; clear(): void; private __tsbpfMap: true }
  /** bpftrace's sum(v) of signed 64-bit values: \`new Sum()\`, or \`new Sum<K>(maxKeys)\` for one per key. */
  export class Sum<K = never> { constructor(maxKeys?: number); record(value: number): void; record(key: K, value: number): void; delete(key: K): i64; print(top?: number): void; clear(): void; private __tsbpfMap: true }
  /** bpftrace's avg(v), min(v), max(v) and stats(v) of signed 64-bit values: \`new Avg()\`, or \`new Avg<K>(maxKeys)\` for one per key. */
  export class Avg<K = never> { constructor(maxKeys?: number); record(value: number): void; record(key: K, value: number): void; delete(key: K): i64; print(top?: number): void; clear(): void; private __tsbpfMap: true }
  export class Min<K = never> { constructor(maxKeys?: number); record(value: number): void; record(key: K, value: number): void; delete(key: K): i64; print(top?: number): void; clear(): void; private __tsbpfMap: true }
  export class Max<K = never> { constructor(maxKeys?: number); record(value: number): void; record(key: K, value: number): void; delete(key: K): i64; print(top?: number): void; clear(): void; private __tsbpfMap: true }
  export class Stats<K = never> { constructor(maxKeys?: number); record(value: number): void; record(key: K, value: number): void; delete(key: K): i64; print(top?: number): void; clear(): void; private __tsbpfMap: true }
`;

/**
 * The prelude for a file that uses the given tracepoints. Unknown ones (already a diagnostic) have records of
 * type `any`, so that their field reads add no errors of their own. `handlers` type raw tracepoint, kprobe and
 * kretprobe handlers by name.
 */
export function preludeText(tracepoints: readonly TracepointFormat[], kernelModule = "", unknown: readonly string[] = [], handlers: HandlerTypes = NO_HANDLER_TYPES): string {
  const entries = tracepoints.map((tp) => {
    // Fields the compiler cannot read yet are declared `unknown`, so a read gets tsbpf's diagnostic, not "no such property".
    const fields = tp.fields.map((f) => `      /** ${f.cType.replace(/\*\//g, "* /")} */\n      readonly ${JSON.stringify(f.name)}: ${f.tsType ?? "unknown"};`);
    return `    ${JSON.stringify(`${tp.group}/${tp.name}`)}: {\n${fields.join("\n")}\n    };`;
  });
  for (const key of unknown) entries.push(`    ${JSON.stringify(key)}: any;`);
  // currentTask() points to task_struct when the compiler declared it (compiler/index.ts does when a file calls it).
  const currentTask = /export interface task_struct\b/.test(kernelModule) ? `import("tsbpf/kernel").task_struct` : "unknown";
  return `${GLOBALS}${MODULE_HEAD}${probeDeclarations(handlers)}  type CurrentTask = ${currentTask};\n  export interface Tracepoints {\n${entries.join("\n")}\n  }\n}\n${kernelModule}`;
}
