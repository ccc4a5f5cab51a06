// SimKernel: the simulated kernel state a test controls and the helpers read.
// Takes options (task identity, CPUs, clock, seed); gives the current task, CPUs, clocks, a
// seeded prandom, simulated kernel and user memory (with addresses that fault), kernel symbols,
// the trace_printk output sink and the stacks bpf_get_stackid / bpf_get_stack see.
// It is also a MapHost, so `new MapRegistry(kernel)` creates maps in the kernel's memory.

import { Memory } from "./memory.js";
import type { Region } from "./memory.js";

/** x86-64 TASK_SIZE_MAX: addresses below are user space. */
export const TASK_SIZE = 0x00007ffffffff000n;
export const TASK_COMM_LEN = 16;
const NSEC_PER_SEC = 1_000_000_000n;

export interface TaskState {
  pid: number;
  tgid: number;
  uid: number;
  gid: number;
  comm: string;
  /** The task's cgroup v2 id, bpf_get_current_cgroup_id() (the inode number of its directory where cgroup2 is mounted). */
  cgroup: bigint | number;
}

export interface SimKernelOptions extends Partial<TaskState> {
  numCpus?: number;
  cpu?: number;
  /** Monotonic clock start, ns (default 1 s after boot, so times are nonzero). */
  timeNs?: bigint | number;
  /** Time spent suspended: ktime_get_boot_ns = monotonic + this. */
  suspendedNs?: bigint | number;
  /** Jiffy length for the coarse clock and jiffies64 (default 4 ms, HZ=250). */
  tickNs?: bigint | number;
  /** prandom seed (default 1). */
  seed?: number;
  memory?: Memory;
}

export interface TraceRecord {
  /** The formatted message exactly as the helper produced it (often ending in "\n"). */
  text: string;
  pid: number;
  comm: string;
  cpu: number;
  timeNs: bigint;
}

/** A trace record whose text is rendered on first read: printk-heavy runs never build strings nobody reads. */
class LazyTraceRecord implements TraceRecord {
  private rendered: string | undefined = undefined;
  constructor(
    private readonly render: (a: unknown, b: unknown) => string,
    private readonly a: unknown,
    private readonly b: unknown,
    public pid: number,
    public comm: string,
    public cpu: number,
    public timeNs: bigint,
  ) {}
  get text(): string {
    if (this.rendered === undefined) this.rendered = this.render(this.a, this.b);
    return this.rendered;
  }
  set text(v: string) {
    this.rendered = v;
  }
}

export interface KernelSymbol {
  name: string;
  address: bigint;
  size: number;
  module?: string;
}

export interface SimStacks {
  /** Kernel instruction pointers, innermost first; undefined: no kernel stack can be taken. */
  kernel?: readonly bigint[];
  /** User instruction pointers, innermost first; undefined: no user stack (kernel thread). */
  user?: readonly bigint[];
}

const u = (v: bigint | number): bigint => BigInt(v);
const U64_MAX = (1n << 64n) - 1n;

export class SimKernel {
  readonly memory: Memory;
  // The current task; `inTask = false` simulates a context without one (helpers return -EINVAL).
  pid: number;
  tgid: number;
  uid: number;
  gid: number;
  cgroup: bigint;
  private commText: string;
  inTask = true;
  /** The current task_struct's address (bpf_get_current_task); 0 until a test places one. */
  currentTask = 0n;
  /** The tasks switched away from, by pid (setTask). */
  private readonly tasks = new Map<number, Omit<TaskState, "pid" | "cgroup"> & { cgroup: bigint; currentTask: bigint }>();

  readonly numCpus: number;
  private cpuNow: number;

  private monoNs: bigint;
  suspendedNs: bigint;
  tickNs: bigint;
  /** CLOCK_TAI - CLOCK_MONOTONIC, ns. */
  taiOffsetNs = 0n;

  private rng: [number, number, number, number] = [0, 0, 0, 0];

  /** kernel.kptr_restrict for %pK: 0 hashes, 1 shows real addresses to uid 0 only, 2 always zeros. */
  kptrRestrict: 0 | 1 | 2 = 0;
  /** Whether plain %p hashes pointers (the kernel's default; false = boot with no_hash_pointers). */
  hashPointers = true;

  readonly trace: TraceRecord[] = [];
  stacks: SimStacks = {};
  private readonly symbols: KernelSymbol[] = [];
  private readonly faulting: Array<{ start: bigint; end: bigint }> = [];
  /** Whether any range is marked faulting (the fast memory paths only apply when none is). */
  get hasFaulting(): boolean {
    return this.faulting.length !== 0;
  }

  constructor(opts: SimKernelOptions = {}) {
    this.memory = opts.memory ?? new Memory();
    this.pid = opts.pid ?? 1000;
    this.tgid = opts.tgid ?? this.pid;
    this.uid = opts.uid ?? 0;
    this.gid = opts.gid ?? 0;
    // The root cgroup's id.
    this.cgroup = BigInt(opts.cgroup ?? 1);
    this.commText = "";
    this.comm = opts.comm ?? "tsbpf-test";
    this.numCpus = opts.numCpus ?? 4;
    if (!Number.isInteger(this.numCpus) || this.numCpus < 1 || this.numCpus > 1024) throw new RangeError(`numCpus must be 1..1024 (got ${this.numCpus})`);
    this.cpuNow = 0;
    this.cpu = opts.cpu ?? 0;
    this.monoNs = 0n;
    this.setTime(opts.timeNs ?? NSEC_PER_SEC);
    this.suspendedNs = u(opts.suspendedNs ?? 0);
    this.tickNs = u(opts.tickNs ?? 4_000_000);
    this.seed(opts.seed ?? 1);
  }

  // --- task ---

  /** The task name; longer names are cut to 15 bytes like the kernel's comm. */
  get comm(): string {
    return this.commText;
  }
  set comm(name: string) {
    const bytes = new TextEncoder().encode(name).subarray(0, TASK_COMM_LEN - 1);
    this.commText = new TextDecoder().decode(bytes);
  }
  /** comm as the kernel stores it: 16 bytes, NUL-padded. */
  get commBytes(): Uint8Array {
    const out = new Uint8Array(TASK_COMM_LEN);
    out.set(new TextEncoder().encode(this.commText).subarray(0, TASK_COMM_LEN - 1));
    return out;
  }
  /**
   * Makes `task` current. Another pid is a context switch: a task switched to before comes back as it was left (tgid,
   * uid, gid, cgroup, comm and task_struct), as a thread keeps its own; a new one is a single-threaded process
   * (tgid = pid) with the other fields of the task it replaces. Fields given then override.
   */
  setTask(task: Partial<TaskState>): void {
    if (task.pid !== undefined && task.pid !== this.pid) {
      this.tasks.set(this.pid, { tgid: this.tgid, uid: this.uid, gid: this.gid, cgroup: this.cgroup, comm: this.commText, currentTask: this.currentTask });
      const known = this.tasks.get(task.pid);
      this.pid = task.pid;
      if (known === undefined) this.tgid = task.pid;
      else ({ tgid: this.tgid, uid: this.uid, gid: this.gid, cgroup: this.cgroup, comm: this.commText, currentTask: this.currentTask } = known);
    }
    if (task.tgid !== undefined) this.tgid = task.tgid;
    if (task.uid !== undefined) this.uid = task.uid;
    if (task.gid !== undefined) this.gid = task.gid;
    if (task.cgroup !== undefined) this.cgroup = BigInt(task.cgroup);
    if (task.comm !== undefined) this.comm = task.comm;
    this.inTask = true;
  }

  /** What bpf_get_attach_cookie() gives: the cookie the running program was attached with (USDT spec ids use it). */
  attachCookie = 0n;

  /** The signals bpf_send_signal() and bpf_send_signal_thread() sent, in order: to a process (tgid) or one thread (pid). */
  readonly signals: { signal: number; tgid: number; pid: number; thread: boolean }[] = [];

  // --- CPUs ---

  get cpu(): number {
    return this.cpuNow;
  }
  set cpu(n: number) {
    if (!Number.isInteger(n) || n < 0 || n >= this.numCpus) throw new RangeError(`CPU ${n} is outside 0..${this.numCpus - 1}`);
    this.cpuNow = n;
  }

  // --- clocks ---

  /** CLOCK_MONOTONIC in ns (bpf_ktime_get_ns). */
  get timeNs(): bigint {
    return this.monoNs;
  }
  setTime(ns: bigint | number): void {
    const v = u(ns);
    if (v < 0n || v > U64_MAX) throw new RangeError(`time must be 0..2^64-1 ns (got ${v})`);
    this.monoNs = v;
  }
  advance(ns: bigint | number): void {
    const d = u(ns);
    if (d < 0n) throw new RangeError(`the clock only moves forward (advance by ${d})`);
    // bpf_ktime_get_ns is a u64: a clock past it would give programs values no kernel gives.
    if (this.monoNs + d > U64_MAX) throw new RangeError(`advancing by ${d} ns takes the clock past 2^64-1 ns (it is at ${this.monoNs})`);
    this.monoNs += d;
  }
  /** Simulates a suspend of `ns`: boot time moves, the monotonic clock does not. */
  suspend(ns: bigint | number): void {
    this.suspendedNs += u(ns);
  }
  ktimeGetNs(): bigint {
    return this.monoNs;
  }
  ktimeGetBootNs(): bigint {
    return this.monoNs + this.suspendedNs;
  }
  /** The coarse clock only moves at ticks. */
  ktimeGetCoarseNs(): bigint {
    return this.monoNs - (this.monoNs % this.tickNs);
  }
  ktimeGetTaiNs(): bigint {
    return this.monoNs + this.taiOffsetNs;
  }
  /** jiffies since boot (jiffies start at 0 here, not at the kernel's -5 min wrap offset). */
  jiffies64(): bigint {
    return this.monoNs / this.tickNs;
  }

  // --- prandom ---

  /** Restarts the deterministic prandom stream. */
  seed(seed: number): void {
    // splitmix32 spreads the seed over the xoshiro128** state (never all zero).
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.rng = [next(), next(), next(), next() | 1];
  }
  /** bpf_get_prandom_u32: the next u32 of the seeded stream. */
  prandomU32(): number {
    const r = this.rng;
    const result = Math.imul(rotl(Math.imul(r[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (r[1] << 9) >>> 0;
    r[2] ^= r[0];
    r[3] ^= r[1];
    r[1] ^= r[2];
    r[0] ^= r[3];
    r[2] ^= t;
    r[3] = rotl(r[3], 11);
    for (let i = 0; i < 4; i++) r[i] = r[i]! >>> 0;
    return result;
  }

  // --- memory ---

  /** Maps `bytes` (or that many zero bytes) as kernel memory; returns the region. */
  kernelRegion(bytes: Uint8Array | number, name = "kernel data", writable = true): Region {
    return this.memory.map("kernel", typeof bytes === "number" ? new Uint8Array(bytes) : bytes, { name, writable });
  }
  /** Maps `bytes` (or that many zero bytes) as user memory of the current process; returns the region. */
  userRegion(bytes: Uint8Array | number, name = "user data", writable = true): Region {
    return this.memory.map("user", typeof bytes === "number" ? new Uint8Array(bytes) : bytes, { name, writable });
  }
  /** Kernel memory holding `bytes`; returns its address. */
  kernelBytes(bytes: Uint8Array | number, name?: string): bigint {
    return this.kernelRegion(bytes, name).address(0);
  }
  /** User memory holding `bytes`; returns its address. */
  userBytes(bytes: Uint8Array | number, name?: string): bigint {
    return this.userRegion(bytes, name).address(0);
  }
  /** A NUL-terminated UTF-8 string in kernel memory; returns its address. */
  kernelString(s: string): bigint {
    return this.kernelBytes(cString(s), `kernel string "${s.slice(0, 20)}"`);
  }
  /** A NUL-terminated UTF-8 string in user memory; returns its address. */
  userString(s: string): bigint {
    return this.userBytes(cString(s), `user string "${s.slice(0, 20)}"`);
  }
  /** Little-endian u64s in kernel (default) or user memory; returns the address. */
  u64Array(values: ReadonlyArray<bigint | number>, space: "kernel" | "user" = "kernel"): bigint {
    const bytes = new Uint8Array(values.length * 8);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => view.setBigUint64(i * 8, BigInt.asUintN(64, u(v)), true));
    return space === "kernel" ? this.kernelBytes(bytes, "kernel u64[]") : this.userBytes(bytes, "user u64[]");
  }
  /** Makes reads of `size` bytes from `address` fault for probe reads (as if the page were absent). */
  markFaulting(address: bigint, size = 1): void {
    const start = BigInt.asUintN(64, address);
    this.faulting.push({ start, end: start + BigInt(size) });
  }
  clearFaulting(): void {
    this.faulting.length = 0;
  }
  /** Whether a nofault read of `size` bytes at `address` succeeds. */
  canRead(address: bigint, size: number): boolean {
    if (size === 0) return true;
    const a = BigInt.asUintN(64, address);
    if (!this.memory.readable(a, size)) return false;
    const end = a + BigInt(size);
    return !this.faulting.some((f) => f.start < end && a < f.end);
  }
  isUserAddress(address: bigint): boolean {
    return BigInt.asUintN(64, address) < TASK_SIZE;
  }

  // --- symbols (for %pS / %ps / %pB) ---

  addSymbol(sym: KernelSymbol): void {
    this.symbols.push({ ...sym, address: BigInt.asUintN(64, sym.address) });
  }
  /** The symbol containing `address`, with the offset into it. */
  symbolize(address: bigint): { symbol: KernelSymbol; offset: bigint } | undefined {
    const a = BigInt.asUintN(64, address);
    for (const s of this.symbols) if (a >= s.address && a < s.address + BigInt(s.size)) return { symbol: s, offset: a - s.address };
    return undefined;
  }

  // --- trace output ---

  /** Records one bpf_trace_printk message with the current task, CPU and time. */
  emitTrace(text: string): void {
    this.trace.push({ text, pid: this.pid, comm: this.inTask ? this.commText : "<idle>", cpu: this.cpuNow, timeNs: this.monoNs });
  }
  /**
   * Records a message whose text `render(a, b)` gives on first read; `render` must depend on
   * `a` and `b` alone (not on kernel state that may change before the read).
   */
  emitLazyTrace<A, B>(render: (a: A, b: B) => string, a: A, b: B): void {
    this.trace.push(new LazyTraceRecord(render as (a: unknown, b: unknown) => string, a, b, this.pid, this.inTask ? this.commText : "<idle>", this.cpuNow, this.monoNs));
  }
  /** The messages so far, each without its trailing newline. */
  traceLines(): string[] {
    return this.trace.map((r) => (r.text.endsWith("\n") ? r.text.slice(0, -1) : r.text));
  }
  /**
   * The messages as /sys/kernel/tracing/trace_pipe shows them (flags column simplified). The kernel
   * ends every event with a newline, so a message that ends with one is followed by an empty line.
   */
  tracePipe(): string {
    return this.trace
      .map((r) => {
        const sec = r.timeNs / NSEC_PER_SEC;
        const usec = (r.timeNs % NSEC_PER_SEC) / 1000n;
        const task = `${r.comm}-${r.pid}`.padStart(22);
        return `${task} [${String(r.cpu).padStart(3, "0")}] ..... ${String(sec).padStart(5)}.${String(usec).padStart(6, "0")}: bpf_trace_printk: ${r.text}\n`;
      })
      .join("");
  }
  clearTrace(): void {
    const t = this.trace;
    // pop() keeps the array's capacity for the next messages; a few are the common case.
    if (t.length <= 16) while (t.length !== 0) t.pop();
    else t.length = 0;
  }

  // --- stacks ---

  setStacks(stacks: SimStacks): void {
    this.stacks = { kernel: stacks.kernel?.slice(), user: stacks.user?.slice() };
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export function cString(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}
