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
/**
 * kstack()'s value: the id of a kernel stack (an i64, negative when none could be taken) of at most N frames. As a
 * map key (or a key's field), `tsbpf run` prints the stack's frames in its place, as bpftrace prints `@[kstack]`.
 */
export type KernelStack<N extends number = 127> = i64 & { readonly __tsbpfStack: "kernel"; readonly __tsbpfFrames?: N };
/** ustack()'s value: the process's tgid in the high 32 bits and its user stack's id in the low (a u64). */
export type UserStack<N extends number = 127> = u64 & { readonly __tsbpfStack: "user"; readonly __tsbpfFrames?: N };

/**
 * probe()'s value: which probe fired (a u64 id the loader gives each place a program attaches to). As a map key (or a
 * key's field), `tsbpf run` prints its name, `tracepoint:syscalls:sys_enter_read`, as bpftrace prints `@[probe]`.
 */
export type ProbeName = u64 & { readonly __tsbpfProbeName: true };
/**
 * ksym()'s value: a kernel address (a u64). As a map key (or a key's field) or printf's `%s`, `tsbpf run` prints the
 * kernel function it is in, named from /proc/kallsyms, as bpftrace prints `@[ksym(addr)]`.
 */
export type KernelSymbol = u64 & { readonly __tsbpfKsym: true };
/**
 * usym()'s value: a user address and the process it was taken in (16 bytes, as bpftrace keeps them). As a map key (or
 * a key's field, a record's field) or printf's `%s`, `tsbpf run` prints the function it is in within that process,
 * named from the symbols of the file mapped there, as bpftrace prints `@[usym(addr)]`; hex where nothing names it.
 */
export interface UserSymbol {
  readonly __tsbpfUsym: true;
}
/**
 * buf()'s and kbuf()'s value: at most N bytes read in a probe and their count (`4 + N` bytes, rounded up to 4). As a
 * map key (or a key's field, a record's field) or printf's `%r`, `tsbpf run` writes them as bpftrace writes a buffer,
 * printable ASCII as it is and every other byte as `\x` and two hex digits: `@[hi\x0a]: 1`. `buf(p, 16)` is a
 * `Buf<16>`; a length known only at run time gives `Buf<64>`, or `Buf<M>` with a third argument M.
 */
export interface Buf<N extends number = number> {
  readonly __tsbpfBuf: N;
}
/** A Buf of any length, as printf's `%r` takes it. */
export type Bytes = Buf<number>;
/**
 * macaddr()'s value: a MAC address's 6 bytes. As a map key (or a key's field, a record's field) or printf's `%s`,
 * `tsbpf run` writes it in upper-case hex separated by colons, `52:54:00:12:34:56`, as bpftrace prints `@[macaddr(a)]`.
 */
export interface MacAddr {
  readonly __tsbpfMacAddr: true;
}
/**
 * strftime()'s value: nanoseconds since boot (8 bytes), of format F. As a map key (or a key's field, a record's field)
 * or printf's `%s`, `tsbpf run` writes the wall-clock time then in that format, `@[12:32:44]: 3`, as bpftrace prints
 * `@[strftime("%H:%M:%S", nsecs)]`; the simulator's `sim.map()` gives its nanoseconds, as a decimal string.
 */
export interface Strftime<F extends string = string> {
  readonly __tsbpfStrftime: F;
}
/**
 * ntop()'s value: an IPv4 or IPv6 address and its family (20 bytes; IPv4 and IPv6 addresses can share a map). As a
 * map key (or a key's field, a record's field) or printf's `%s`, `tsbpf run` writes it as inet_ntop does,
 * `127.0.0.1`, `::1`, as bpftrace prints `@[ntop(addr)]`.
 */
export interface IpAddr {
  readonly __tsbpfIpAddr: true;
}

export type ProbeKind = "kprobe" | "kretprobe" | "uprobe" | "uretprobe" | "usdt" | "tracepoint" | "rawTracepoint" | "profile" | "interval" | "software" | "hardware" | "begin" | "end";

/** What a probe constructor returns: enough for tools to list a file's probes. */
export interface Probe {
  readonly __tsbpfProbe: true;
  readonly kind: ProbeKind;
  /** The SEC() name the compiler gives the program. */
  readonly section: string;
  /** profile(): samples a second on each CPU. */
  readonly hz?: number;
  /** interval(): milliseconds between runs. */
  readonly ms?: number;
  /** software() and hardware(): the event, and how many of them make a sample. */
  readonly event?: string;
  readonly count?: number;
}

export type Handler<A extends unknown[]> = (...args: A) => number | bigint | void;

/**
 * The record of a tracepoint, as the compiler reads it from the tracepoint's format file.
 * Editors see an open record whose fields may be anything a format declares (integers, `Str<N>`,
 * `Arr<T, N>`, `Ptr`, `__data_loc` strings); the compiler checks field names and types against the format.
 */
export type TracepointContext<G extends string = string, N extends string = string> = { readonly [field: string]: any } & { readonly __tsbpfTracepoint?: `${G}/${N}` };

const declared = (kind: ProbeKind, section: string, rate?: { hz: number } | { ms: number } | { event: string; count: number }): Probe => Object.freeze({ __tsbpfProbe: true, kind, section, ...rate });

declare global {
  /**
   * Handler types of kprobes, kretprobes and raw tracepoints by name, for editors: empty until `tsbpf btf
   * kprobe:FN kretprobe:FN rawtracepoint:NAME` declares them from the kernel's BTF. The compiler types such handlers
   * from BTF itself.
   */
  interface TsbpfKprobes {}
  interface TsbpfKretprobes {}
  interface TsbpfRawTracepoints {}
}

/**
 * A kprobe on kernel function `fn`; the handler's parameters are its arguments (up to six), which the compiler types
 * from the function's prototype in the kernel's BTF where they are not annotated (editors too, for the functions
 * `tsbpf btf kprobe:FN` declared).
 */
export function kprobe<F extends keyof TsbpfKprobes & string>(fn: F, handler: TsbpfKprobes[F]): Probe;
export function kprobe(fn: string, handler: Handler<any[]>): Probe;
export function kprobe(fn: string, _handler: unknown): Probe {
  return declared("kprobe", `kprobe/${fn}`);
}
/** A return probe on kernel function `fn`; the handler's one parameter is the return value (typed from BTF likewise). */
export function kretprobe<F extends keyof TsbpfKretprobes & string>(fn: F, handler: TsbpfKretprobes[F]): Probe;
export function kretprobe(fn: string, handler: Handler<any[]>): Probe;
export function kretprobe(fn: string, _handler: unknown): Probe {
  return declared("kretprobe", `kretprobe/${fn}`);
}
/** A uprobe on `symbol` in the executable or library at `binary`. */
export function uprobe(binary: string, symbol: string, _handler: Handler<any[]>): Probe {
  return declared("uprobe", `uprobe/${binary}:${symbol}`);
}
/** A return uprobe on `symbol` in `binary`. */
export function uretprobe(binary: string, symbol: string, _handler: Handler<any[]>): Probe {
  return declared("uretprobe", `uretprobe/${binary}:${symbol}`);
}
/**
 * A USDT probe (a static probe compiled into a program, `provider:name` as `readelf -n` lists them) in the executable or
 * library at `binary`; the handler's parameters are the probe's arguments, up to twelve, read where each site keeps them.
 */
export function usdt(binary: string, provider: string, name: string, _handler: Handler<any[]>): Probe {
  return declared("usdt", `usdt/${binary}:${provider}:${name}`);
}
/** A static tracepoint, `group:name` as in /sys/kernel/tracing/events; the handler gets its record. */
export function tracepoint<G extends string, N extends string>(group: G, name: N, _handler: (ctx: TracepointContext<G, N>) => number | bigint | void): Probe {
  return declared("tracepoint", `tracepoint/${group}/${name}`);
}

/**
 * A raw tracepoint (libbpf's tp_btf, bpftrace's rawtracepoint), by its name in the kernel (`sched_switch`): the
 * handler's parameters are the tracepoint's own arguments (`(preempt, prev, next, prevState)`), which the compiler types
 * from the kernel's BTF (`btf_trace_sched_switch`); editors see them typed once `tsbpf btf rawtracepoint:NAME` has
 * declared them, untyped before.
 */
export function rawTracepoint<N extends keyof TsbpfRawTracepoints & string>(name: N, handler: TsbpfRawTracepoints[N]): Probe;
export function rawTracepoint(name: string, handler: Handler<any[]>): Probe;
export function rawTracepoint(name: string, _handler: unknown): Probe {
  return declared("rawTracepoint", `tp_btf/${name}`);
}

/** The context of a profile() or interval() handler (struct bpf_perf_event_data); the handler reads none of it. */
export interface PerfEventContext {
  readonly __tsbpfPerfEvent?: true;
}

/**
 * bpftrace's profile:hz:N: a sampling handler run `hz` times a second on every online CPU (a cpu-clock perf event per
 * CPU), in the context of whatever runs there: pidTgid(), comm() and getStackId() describe the interrupted task.
 * `hz` is an integer literal. The program goes in section `perf_event`, tagged `tsbpf:perf_event=profile:hz:N`.
 */
export function profile(hz: number, _handler: (ctx: PerfEventContext) => number | bigint | void): Probe {
  return declared("profile", "perf_event", { hz });
}
/**
 * bpftrace's interval:ms:N: a handler run every `ms` milliseconds on one CPU (a cpu-clock perf event with that
 * period), for periodic work in the kernel. `ms` is an integer literal; the tag is `tsbpf:perf_event=interval:ms:N`.
 */
export function interval(ms: number, _handler: (ctx: PerfEventContext) => number | bigint | void): Probe {
  return declared("interval", "perf_event", { ms });
}

/** bpftrace's software events by name and alias (PERF_TYPE_SOFTWARE). */
export type SoftwareEvent =
  | "cpu-clock" | "cpu" | "task-clock" | "page-faults" | "faults" | "context-switches" | "cs" | "cpu-migrations"
  | "minor-faults" | "major-faults" | "alignment-faults" | "emulation-faults" | "dummy" | "bpf-output";
/** bpftrace's hardware events by name and alias (PERF_TYPE_HARDWARE). */
export type HardwareEvent =
  | "cpu-cycles" | "cycles" | "instructions" | "cache-references" | "cache-misses" | "branch-instructions" | "branches"
  | "branch-misses" | "bus-cycles" | "frontend-stalls" | "backend-stalls" | "ref-cycles";
/**
 * bpftrace's software:EVENT:N: a handler run at every `count`-th `event` (page faults, context switches, ...) on each
 * online CPU, in the context of the task the event came from. `event` and `count` are literals; the program is
 * tagged `tsbpf:perf_event=software:EVENT:N`.
 */
export function software(event: SoftwareEvent, count: number, _handler: (ctx: PerfEventContext) => number | bigint | void): Probe {
  return declared("software", "perf_event", { event, count });
}
/**
 * bpftrace's hardware:EVENT:N: a handler run at every `count`-th `event` of the CPU's performance counters (cache
 * misses, branch misses, ...) on each online CPU. Virtual machines often expose no counters: attaching then fails.
 */
export function hardware(event: HardwareEvent, count: number, _handler: (ctx: PerfEventContext) => number | bigint | void): Probe {
  return declared("hardware", "perf_event", { event, count });
}

/**
 * bpftrace's BEGIN: a handler `tsbpf run` runs once before it attaches the probes (a raw tracepoint program run with
 * BPF_PROG_TEST_RUN, in tsbpf's own process): print a header with printf(), set up a map, or exit() at once.
 */
export function begin(_handler: () => number | bigint | void): Probe {
  return declared("begin", "raw_tp");
}
/** bpftrace's END: a handler `tsbpf run` runs once after it has detached the probes, before it prints the maps. */
export function end(_handler: () => number | bigint | void): Probe {
  return declared("end", "raw_tp");
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
/**
 * bpftrace's `cgroup`, bpf_get_current_cgroup_id(): the current task's cgroup v2 id, the inode number of its
 * directory under /sys/fs/cgroup (`stat -c %i /sys/fs/cgroup/system.slice`). With a path, bpftrace's
 * `cgroupid("/sys/fs/cgroup/system.slice")`: that cgroup's id, read as the probes load (a string literal or constant):
 * `cgroupId() === cgroupId("/sys/fs/cgroup/system.slice")` holds for its tasks.
 */
export function cgroupId(_path?: string): u64 {
  return onlyInProbe("cgroupId");
}
/**
 * bpftrace's `jiffies`, bpf_jiffies64(): the kernel's timer tick count, HZ a second (CONFIG_HZ, often 250 or 1000),
 * starting 5 minutes before wrapping a 32-bit count at boot, as the kernel starts it; /proc/timer_list shows it too.
 */
export function jiffies(): u64 {
  return onlyInProbe("jiffies");
}
/** bpftrace's `numaid`, bpf_get_numa_node_id(): the NUMA node of the CPU the probe runs on (0 on a machine with one). */
export function numaNodeId(): i32 {
  return onlyInProbe("numaNodeId");
}
/** bpf_ktime_get_ns(): nanoseconds since boot (CLOCK_MONOTONIC). */
export function ktimeNs(): u64 {
  return onlyInProbe("ktimeNs");
}
/**
 * bpf_ktime_get_boot_ns(): nanoseconds since boot, time suspended included (CLOCK_BOOTTIME), bpftrace 0.17's `nsecs`:
 * what strftime() takes. ktimeNs() gives the same on a host never suspended.
 */
export function ktimeBootNs(): u64 {
  return onlyInProbe("ktimeBootNs");
}
/** bpf_get_smp_processor_id(): the CPU the probe runs on. */
export function smpProcessorId(): u32 {
  return onlyInProbe("smpProcessorId");
}
/** bpf_get_current_comm(): the current task's name (at most 15 characters); printk prints it with %s. */
export function comm(): Str<16> {
  return onlyInProbe("comm");
}
/**
 * The pid of the process `tsbpf run --command` started or `--pid` named (bpftrace's cpid), 0 when the run has
 * none: `if (targetPid() !== 0 && pidTgid() >> 32 !== targetPid()) return 0;`. It is a constant to the kernel's
 * verifier (a `.rodata` value the loader sets before loading), so the test costs nothing when there is no target.
 */
export function targetPid(): u32 {
  return onlyInProbe("targetPid");
}
/**
 * bpftrace's printf: a C format (`%d %u %x %s %c %p`, and `%r` for buf(), with flags, widths and precisions) and one value per conversion,
 * checked when the probe compiles, sent to `tsbpf run` in a record and written on its standard output as formatted:
 * `printf("%-6d %-16s %s\n", pidTgid() >> 32, comm(), readUserStr(ctx.filename))`; or a template literal, each value
 * printed as the template prints it: printf(`${pid} ${comm()}\n`). Unlike printk(), the text does not
 * go through the kernel's trace pipe: no line prefix, no limit of three values, in order with exit().
 */
export function printf(_format: string, ..._values: unknown[]): void {
  onlyInProbe("printf");
}
/**
 * bpftrace's join(): the strings of a user array of `char *` (a tracepoint's `ctx.argv`) up to its first NULL, at most
 * 16 of them, each read up to 1023 bytes (as bpftrace 0.17 reads them), which `tsbpf run` prints on one line separated by
 * `separator` (a space): `tracepoint("syscalls", "sys_enter_execve", (ctx) => join(ctx.argv))` prints `ls -l /tmp`.
 */
export function join(_array: Ptr<any> | u64, _separator?: string): void {
  onlyInProbe("join");
}
/**
 * bpftrace's time(): `tsbpf run` writes the current local time, formatted as C's strftime formats it (`%H %M %S %T %F
 * %Y %m %d %a %b ...`; "%H:%M:%S\n" by default), where the handler calls it: `interval(1000, () => { time();
 * counts.print(); counts.clear(); })`.
 */
export function time(_format?: string): void {
  onlyInProbe("time");
}
/**
 * bpftrace's strftime(): `ns` nanoseconds since boot (`ktimeBootNs()`, bpftrace's `nsecs`) as the wall-clock time
 * then, which `tsbpf run` writes in strftime's `format` (a string literal or module-level constant: %H %M %S %T %F %Y
 * %m %d %a %b %s ..., and %f, the microseconds, as bpftrace's): `printf("%s\n", strftime("%H:%M:%S.%f", ktimeBootNs()))`
 * prints `12:32:44.144586`. A Strftime, also a map key or a struct field, printed the same way. The time is the real
 * time at boot (read once, from /proc/timer_list) plus `ns`, in local time, as bpftrace 0.17 reads it.
 */
export function strftime<F extends string>(_format: F, _ns: number | bigint): Strftime<F> {
  return onlyInProbe("strftime");
}
/**
 * bpftrace's ntop(): an IPv4 or IPv6 address, an IpAddr that printf's `%s` and map keys write as inet_ntop does
 * (`127.0.0.1`, `::1`): count by it (`peers.increment(ntop(ctx.daddr))` in a `HashMap<IpAddr, u64>`) or keep it in a
 * struct field. The address is a u32 as the kernel keeps one (`sk.__sk_common.skc_daddr`, network byte order), or
 * its bytes: an Arr<u8, 4> or Arr<u8, 16> (a tracepoint's `saddr`, `saddr_v6`).
 */
export function ntop(address: Arr<u8, 4> | Arr<u8, 16> | number): IpAddr;
/**
 * ntop() with the address family given first, as bpftrace's two-argument form: AF_INET or AF_INET6, a constant (which
 * must suit the address) or a value known at run time (`ntop(ctx.family, ctx.daddr_v6)`), which `tsbpf run` reads to
 * write the address as IPv4 or IPv6 (and as nothing for another family, as bpftrace does).
 */
export function ntop(family: number, address: Arr<u8, 4> | Arr<u8, 16> | number): IpAddr;
export function ntop(_first: unknown, _address?: unknown): IpAddr {
  return onlyInProbe("ntop");
}
/**
 * bpftrace's pton(): an IPv4 or IPv6 address's text, a string literal (or module-level constant), as its bytes in
 * network order, made at compile time: an `Arr<u8, 4>` for `"127.0.0.1"`, an `Arr<u8, 16>` for `"::1"` (or
 * `"::ffff:10.0.0.1"`), to compare a tracepoint's address with byte by byte or to give ntop().
 */
export function pton<S extends string>(_address: S): S extends `${string}:${string}` ? Arr<u8, 16> : Arr<u8, 4> {
  return onlyInProbe("pton");
}
/**
 * bpftrace's strncmp(): 0 when the two strings' first `n` bytes match (a constant n), 1 when they differ, as bpftrace's
 * gives it: `a.slice(0, n) === b.slice(0, n)` as a number, the strings a Str<N> or a literal, compared as `===` compares
 * them (up to a NUL both share, a full Str<N> ending after N bytes): `strncmp(comm(), "kworker/", 8) === 0`.
 */
export function strncmp(_a: string, _b: string, _n: number): number {
  return onlyInProbe("strncmp");
}
/**
 * bpftrace's strcontains(): whether `needle` (a literal or a Str<N>) appears in `haystack` (a Str<N>) before the end
 * of its string; `haystack.includes(needle)` is the same. An empty needle is found everywhere, as in JavaScript.
 */
export function strcontains(_haystack: string, _needle: string): boolean {
  return onlyInProbe("strcontains");
}
/**
 * bpftrace's bswap(): an integer's bytes in reverse order at its width, an unsigned integer of that width:
 * `bswap(u16(0x1234))` is 0x3412, `bswap(ctx.port)` of a u16 field its other byte order; a u8 is as it is, and a
 * literal is 64 bits wide, as bpftrace's are.
 */
export function bswap(_value: number | bigint): number {
  return onlyInProbe("bswap");
}
/**
 * bpftrace's macaddr(): a MAC address, 6 bytes in an `Arr<u8, 6>` (a kernel struct's `h_source`, a record's array, or
 * `readUser<Arr<u8, 6>>(p)`, `readKernel<Arr<u8, 6>>(p)` read at a pointer), for printf's `%s`, which writes it in
 * upper-case hex separated by colons, `AA:BB:CC:DD:EE:FF`, as bpftrace does; a MacAddr, also a map key
 * (`HashMap<MacAddr, u64>`) or a struct field, printed the same way.
 */
export function macaddr(_address: Arr<u8, 6>): MacAddr {
  return onlyInProbe("macaddr");
}
/**
 * Which probe fired, as bpftrace's `probe`: count by it (`HashMap<ProbeName, u64>`) in a handler on a glob
 * (`tracepoint("syscalls", "sys_enter_*", ...)`, `uprobe(LIBC, "str*", ...)`) or shared by several probes, and `tsbpf
 * run` prints each probe's name. Not in begin() and end(), which no probe fires.
 */
export function probe(): ProbeName {
  return onlyInProbe("probe");
}
/** A signal's name, with or without its SIG: what signal() takes besides a number. */
export type SignalName = string;
/**
 * bpftrace's signal(): sends `sig` (a number, or a name: "SIGKILL", "KILL") to the process of the task the probe
 * interrupted, or with `thread` true to that task alone (bpf_send_signal, bpf_send_signal_thread); 0, or a negative
 * errno. `tsbpf run` runs a probe that calls it only with --unsafe, as bpftrace does.
 */
export function signal(_sig: number | SignalName, _thread?: boolean): i64 {
  return onlyInProbe("signal");
}
/**
 * bpftrace's ksym(): a kernel address (a function pointer: a workqueue tracepoint's `function`, a timer's callback)
 * that `tsbpf run` prints as the name of the kernel function it is in, `vmstat_update`; hex where none is.
 */
export function ksym(_address: number | bigint): KernelSymbol {
  return onlyInProbe("ksym");
}
/**
 * bpftrace's kaddr(): the address of a kernel symbol (a variable or a function, `kaddr("jiffies")`), as /proc/kallsyms
 * lists it. The name is a string literal or a module-level string constant; `tsbpf run` reads the address when it loads
 * the probe and writes it into the program's read-only data, so the kernel's verifier sees a constant, and a symbol
 * the running kernel lacks fails the run before anything loads, naming it.
 */
export function kaddr(_symbol: string): u64 {
  return onlyInProbe("kaddr");
}
/**
 * bpftrace's uaddr(): the address of a symbol (a global variable, a function) of an executable, `uaddr("/opt/app/server",
 * "requests")`, from its symbol tables when `tsbpf run` loads the probe (the binary is found as uprobe() finds one).
 * The executable must be position-dependent (linked with -no-pie): a PIE's or a library's symbols move with each
 * process's load address, so such a binary is refused, naming it (bpftrace gives their unrelocated value).
 */
export function uaddr(_binary: string, _symbol: string): u64 {
  return onlyInProbe("uaddr");
}
/**
 * bpftrace's usym(): an address in the current process's memory (a function pointer a uprobe is given:
 * pthread_create()'s start routine, a callback) that `tsbpf run` prints as the name of the function it is in, `worker`,
 * from the symbol tables of the binary or library mapped there; hex where none is. The process's mappings are read
 * while it runs, so its addresses are still named after it has exited.
 */
export function usym(_address: number | bigint): UserSymbol {
  return onlyInProbe("usym");
}
/**
 * bpftrace's buf(): `length` bytes of user memory at `p` (a syscall's buffer, a uprobe's argument), for printf's `%r`,
 * which writes printable ASCII as it is and every other byte as `\x` and two hex digits: `hi\x0a\x00`. `length` is a
 * constant up to 1024, or a value known only at run time (what write() was asked to write), then read up to `max`
 * bytes (a constant up to 1024, 64 by default, as bpftrace's strlen); a read that faults gives zeroes.
 */
export function buf<N extends number>(p: Ptr<any> | u64, length: N): Buf<number extends N ? 64 : N>;
export function buf<M extends number>(p: Ptr<any> | u64, length: number, max: M): Buf<M>;
export function buf(_p: Ptr<any> | u64, _length: number, _max?: number): Bytes {
  return onlyInProbe("buf");
}
/** buf() of kernel memory (bpf_probe_read_kernel): a kernel struct's bytes, a tracepoint's kernel pointer. */
export function kbuf<N extends number>(p: Ptr<any> | u64, length: N): Buf<number extends N ? 64 : N>;
export function kbuf<M extends number>(p: Ptr<any> | u64, length: number, max: M): Buf<M>;
export function kbuf(_p: Ptr<any> | u64, _length: number, _max?: number): Bytes {
  return onlyInProbe("kbuf");
}
/**
 * Ends the run, as bpftrace's exit(): `tsbpf run` stops streaming, prints the maps, detaches and exits with `code`
 * (0 by default; the first exit() of a run counts). It also ends the handler, as `return 0` would: the probe sends
 * one record to its own small ring buffer, which `tsbpf run` watches; probes on other CPUs may still fire
 * until the detach.
 */
export function exit(_code?: number): never {
  return onlyInProbe("exit");
}
/**
 * The current kernel stack (its id in the probe file's own stack map of 4096 stacks, 127 frames each, keyed by the
 * frames: one id a stack, so distinct stacks never count as one): count by it (`samples.increment(kstack())` with
 * `HashMap<KernelStack, u64>`) and `tsbpf run` prints each stack's frames, named from /proc/kallsyms, as bpftrace
 * prints `@[kstack] = count()`. `kstack(5)` keeps the innermost 5
 * frames (a `KernelStack<5>`, in a stack map of its own), so stacks that differ only further out count as one.
 */
export function kstack<N extends number = 127>(_frames?: N): KernelStack<N> {
  return onlyInProbe("kstack");
}
/**
 * The current user stack and the process it belongs to (bpftrace's ustack): `tsbpf run` names the frames from the
 * process's binary and libraries (`main+25`), found by the build ids the kernel records, so a process that has
 * exited is named too. Frames are found by frame pointers: code built without them gives short stacks, as in every tool.
 */
export function ustack<N extends number = 127>(_frames?: N): UserStack<N> {
  return onlyInProbe("ustack");
}
/**
 * bpf_get_current_task(): the current task_struct (`currentTask().real_parent.tgid` is the parent's pid).
 * The compiler types it `Ptr<task_struct>` from the kernel's BTF; editors see the `task_struct` of `tsbpf btf`
 * declarations when a file imports it.
 */
export function currentTask<T = any>(): Ptr<T> {
  return onlyInProbe("currentTask");
}
/** bpf_probe_read_kernel_str() into the Str<N> this is assigned to (a struct field or `const s: Str<64> = ...`); the address a Ptr or a u64, as the compiler takes it. */
export function readKernelStr(_p: Ptr<any> | u64): Str<never> {
  return onlyInProbe("readKernelStr");
}
/** bpf_probe_read_user_str() into the Str<N> this is assigned to. */
export function readUserStr(_p: Ptr<any> | u64): Str<never> {
  return onlyInProbe("readUserStr");
}
/**
 * bpf_probe_read_kernel() of a T at an address: an integer (`readKernel<u64>(p + 8)`), or a struct, Str<N> or
 * Arr<T, N> to bind or assign. The value is zero where the address faults. With `length`, a Str<N> or Arr<T, N>
 * gets at most that many bytes (clamped to its size; the rest zero).
 */
export function readKernel<T>(_p: Ptr<any> | u64, _length?: number): T {
  return onlyInProbe("readKernel");
}
/**
 * bpf_probe_read_user() of a T at a user address (`readUser<u64>(argv + i * 8)` reads argv[i]); zero where it faults.
 * With `length`, a Str<N> or Arr<T, N> gets at most that many bytes (`readUser<Str<4096>>(buf, ret)` copies what
 * SSL_read() returned), the rest zero.
 */
export function readUser<T>(_p: Ptr<any> | u64, _length?: number): T {
  return onlyInProbe("readUser");
}
/** A fixed-size array of N elements (C `T name[N]`); indexes out of range end the handler. */
export interface Arr<T, N extends number> {
  [index: number]: T;
  readonly length: number;
  readonly __tsbpfLength?: N;
}

/** map.update() flags (BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
export const ANY = 0;
export const NOEXIST = 1;
export const EXIST = 2;
export type UpdateFlags = 0 | 1 | 2;
/** getStackId() flags (BPF_F_USER_STACK, BPF_F_FAST_STACK_CMP, BPF_F_REUSE_STACKID). */
export const USER_STACK = 256;
export const FAST_STACK_CMP = 512;
export const REUSE_STACKID = 1024;
/** Address families, ntop()'s first argument (AF_INET: IPv4, AF_INET6: IPv6). */
export const AF_INET = 2;
export const AF_INET6 = 10;

/**
 * Maps are module-level constants. In Node a map only describes itself (so a probe file can be
 * imported); its methods work inside probes, where the compiler turns them into helper calls.
 * `lookup()` gives `V | null`: TypeScript's narrowing makes the null check the verifier requires.
 */
abstract class MapMarker {
  constructor(
    readonly kind: string,
    readonly maxEntries: number,
  ) {}
}
/**
 * A map `tsbpf run` prints. `print()` and `clear()` (bpftrace's print(@m) and clear(@m), as in an `interval()` probe)
 * are carried out by `tsbpf run` when it reads the request, just after the handler: print() prints the map as it
 * prints it at the end (`print(10)`, bpftrace's print(@m, 10): its 10 largest entries, or a keyed histogram's 10
 * fullest keys), clear() deletes a hash map's entries or zeroes an array's.
 */
abstract class PrintedMapMarker extends MapMarker {
  print(_top?: number): void {
    onlyInProbe("print");
  }
  clear(): void {
    onlyInProbe("clear");
  }
}
abstract class KeyedMapMarker<K, V> extends PrintedMapMarker {
  /** The value stored under `key`, in place (assigning its fields writes the map), or null. */
  lookup(_key: K): V | null {
    return onlyInProbe("lookup");
  }
  /** bpf_map_update_elem(); flags ANY (default), NOEXIST or EXIST; 0 or a negative errno. */
  update(_key: K, _value: V, _flags?: UpdateFlags): i64 {
    return onlyInProbe("update");
  }
  /** bpf_map_delete_elem(); 0 or a negative errno. */
  delete(_key: K): i64 {
    return onlyInProbe("delete");
  }
  /** Atomically adds `by` (default 1) to the value under `key`, inserting it if the key is new. */
  increment(_key: K, _by?: number): void {
    onlyInProbe("increment");
  }
}
export class HashMap<K, V> extends KeyedMapMarker<K, V> {
  constructor(maxEntries: number) {
    super("HashMap", maxEntries);
  }
}
export class PerCpuHashMap<K, V> extends KeyedMapMarker<K, V> {
  constructor(maxEntries: number) {
    super("PerCpuHashMap", maxEntries);
  }
}
export class LruHashMap<K, V> extends KeyedMapMarker<K, V> {
  constructor(maxEntries: number) {
    super("LruHashMap", maxEntries);
  }
}
/** An array map: keys are u32 indexes below maxEntries; every element exists (zeroed at load). */
export class ArrayMap<V> extends KeyedMapMarker<u32, V> {
  constructor(maxEntries: number) {
    super("ArrayMap", maxEntries);
  }
}
export class PerCpuArrayMap<V> extends KeyedMapMarker<u32, V> {
  constructor(maxEntries: number) {
    super("PerCpuArrayMap", maxEntries);
  }
}
/** A ring buffer of T records shared with user space; `bytes` is a power of two, at least a page. */
export class RingBuf<T> extends MapMarker {
  constructor(bytes: number) {
    super("RingBuf", bytes);
  }
  /** bpf_ringbuf_output(): copies the value in; 0 or a negative errno. */
  output(_value: T): i64 {
    return onlyInProbe("output");
  }
  /** bpf_ringbuf_reserve(): a zeroed record to fill, or null when the buffer is full; submit or discard it on every path. */
  reserve(): T | null {
    return onlyInProbe("reserve");
  }
  submit(_record: T): void {
    onlyInProbe("submit");
  }
  discard(_record: T): void {
    onlyInProbe("discard");
  }
}
/** A perf event array: bpf_perf_event_output() to the current CPU's ring; `maxCpus` entries (default 1024). */
export class PerfEventArray<T> extends MapMarker {
  constructor(maxCpus = 1024) {
    super("PerfEventArray", maxCpus);
  }
  output(_value: T): i64 {
    return onlyInProbe("output");
  }
}
/** Stack traces by id (bpf_get_stackid), 127 frames each. */
export class StackTraceMap extends MapMarker {
  constructor(maxEntries: number) {
    super("StackTraceMap", maxEntries);
  }
  /** The current kernel stack's id (USER_STACK: the user stack's), or a negative errno. */
  getStackId(_flags?: number): i64 {
    return onlyInProbe("getStackId");
  }
}
/**
 * A log2 histogram: an array map of 66 u64 counts. Slot 0 counts the value 0, slot 1 the value 1,
 * slot k (2..64) the values in [2^(k-1), 2^k); entry 65 counts negative values. runtime/loader's
 * formatHistogram prints the slots as bpftrace prints `@x = hist(v)`. `new Histogram<K>(maxKeys)` keeps one
 * histogram per key, as `@x[k] = hist(v)`: a hash map counting `{ key, slot }` pairs; `record(k, v)`.
 */
export class Histogram<K = never> extends PrintedMapMarker {
  constructor(maxKeys?: number) {
    super("Histogram", maxKeys === undefined ? 66 : maxKeys * 66);
  }
  record(value: number): void;
  record(key: K, value: number): void;
  record(_keyOrValue: K | number, _value?: number): void {
    onlyInProbe("record");
  }
}

/**
 * A linear histogram, as bpftrace's `lhist(v, min, max, step)`: an array map counting values below `min`, each
 * `step` wide bucket from `min` to `max`, and values from `max` up. `new LinearHistogram<K>(min, max, step, maxKeys)`
 * keeps one per key, as `@x[k] = lhist(v, ...)`: a hash map counting `{ key, slot }` pairs; `record(k, v)`.
 */
export class LinearHistogram<K = never> extends PrintedMapMarker {
  constructor(min: number, max: number, step: number, maxKeys?: number) {
    super("LinearHistogram", (Math.ceil((max - min) / step) + 2) * (maxKeys ?? 1));
  }
  record(value: number): void;
  record(key: K, value: number): void;
  record(_keyOrValue: K | number, _value?: number): void {
    onlyInProbe("record");
  }
}

/**
 * bpftrace's `@x = count()`: a per-CPU array of one entry, or with `new Count<K>(maxKeys)` a per-CPU hash map by key
 * (`@x[k] = count()`; `increment(k)`). Each CPU counts on its own, without atomics; `tsbpf run` sums the CPUs and
 * prints `@x: 42`, a keyed one's entries by count.
 */
export class Count<K = never> extends PrintedMapMarker {
  constructor(maxKeys?: number) {
    super("Count", maxKeys ?? 1);
  }
  increment(): void;
  increment(key: K): void;
  increment(_key?: K): void {
    onlyInProbe("increment");
  }
  /** Removes a key of a keyed Count, as bpftrace's `delete(@x[k])`: 0, or -ENOENT where it had none. */
  delete(_key: K): i64 {
    return onlyInProbe("delete");
  }
}

/**
 * bpftrace's `@x = sum(v)`, `avg(v)`, `min(v)`, `max(v)` and `stats(v)` of signed 64-bit values: a per-CPU array of
 * one entry, or with `new Avg<K>(maxKeys)` a per-CPU hash map by key (`@x[k] = avg(v)`; `record(k, v)`). Each CPU
 * keeps its own count and total (Sum, Avg, Stats) or extremum (Min, Max); `tsbpf run` merges them and prints as
 * bpftrace does.
 */
abstract class AggregateMarker<K> extends PrintedMapMarker {
  constructor(maxKeys?: number) {
    super(new.target.name, maxKeys ?? 1);
  }
  record(value: number): void;
  record(key: K, value: number): void;
  record(_keyOrValue: K | number, _value?: number): void {
    onlyInProbe("record");
  }
  /** Removes a key of a keyed one, as bpftrace's `delete(@x[k])`: 0, or -ENOENT where it had none. */
  delete(_key: K): i64 {
    return onlyInProbe("delete");
  }
}
/** The sum, as bpftrace's sum(). */
export class Sum<K = never> extends AggregateMarker<K> {}
/** The integer average (truncated toward zero), as bpftrace's avg(). */
export class Avg<K = never> extends AggregateMarker<K> {}
/** The smallest value recorded, as bpftrace's min(). */
export class Min<K = never> extends AggregateMarker<K> {}
/** The largest value recorded, as bpftrace's max(). */
export class Max<K = never> extends AggregateMarker<K> {}
/** The count, average and total, as bpftrace's stats(). */
export class Stats<K = never> extends AggregateMarker<K> {}

/** bpf_get_prandom_u32(): a pseudo-random 32-bit number. */
export function prandomU32(): u32 {
  return onlyInProbe("prandomU32");
}
