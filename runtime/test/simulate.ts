// simulate(): a probe loaded into the VM over a simulated kernel the test controls, and the Simulation
// that fires its programs (kprobes, kretprobes, uprobes, tracepoints, raw tracepoints, profile and interval probes) and shows what
// they did (printk lines, map contents, ring buffer and perf records, return values, instruction counts).
// Takes a probe source and options; gives a Simulation. Plain values and functions: any test runner.

import { decode, disassemble, type Insn } from "../../compiler/isa/index.js";
import { BudgetExceeded, REGION_BASE, SimKernel, Vm, VmError, createVmEnv, selectTier, PerfEventArray, RingBufMap, type MapRegistry, type Region, type RunOptions, type RunResult, type TaskState, type TierChoice, type VmEnv } from "../vm/index.js";
import { globRegExp, isGlob } from "../../compiler/glob.js";
import { hostArch, LAYOUTS, parseFormat, PtRegsWriter, rawSlotValue, rawTracepointParams, rawTracepointSlots, readFormat, tracepointRecord, TRACEFS_ROOTS, writePtRegs, type Arch, type RawSlot, type RegsInput, type TracepointLayout } from "./context.js";
import { SimulationError, usage } from "./errors.js";
import { checkTask, integerIn, knownKeys, nanoseconds, oneOf, shown } from "./check.js";
import { TestKernel } from "./kernel.js";
import { decodeScalar, decodeValue, toU64, type BtfSource, type CValue, type Decoded } from "./layout.js";
import { loadSimulation, variableType, type LoadOptions, type LoadedSimulation, type ProbeSource, type SimProgram } from "./load.js";
import type { MapView } from "./maps.js";
import { formatLocation } from "./source.js";
import { codecFor, kernelBtf, mapBtfTypes, noSuchGlobal, readsTargetPid, tsbpfVariable, type Codec } from "../loader/index.js";
import { ActionTable, decodeAction, enumeratorsIn } from "../loader/actions.js";
import { buckets, linearBuckets, type Bucket } from "../loader/histogram.js";
import { parseBtf } from "../../compiler/btf/index.js";
import { readFileSync } from "node:fs";
import { USDT_SPECS_MAP } from "../../compiler/object/usdt-spec.js";
import { probeCookie } from "../loader/probe-names.js";
import { ProgType } from "../sys/constants.js";
import { MAX_STACK_FRAMES } from "../../compiler/ir/types.js";
import { DROPPED_COUNTER_PREFIX, droppedCounterName, PERF_EVENT_NAMES, perfEventFullName, perfEventName, perfEventPeriodNs, type CountedProbe, type PerfEventProbe } from "../../compiler/btf/tags.js";
import { usdtSite } from "./usdt.js";
import { COMPLEXITY_LIMIT } from "../../compiler/verifier/index.js";

export interface SimulateOptions extends LoadOptions {
  /** VM tier: "auto" (interpret, compile when hot; default), "interpreter" or "compiled". */
  tier?: TierChoice;
  /** Simulated CPUs (default 4): per-CPU maps hold one value for each. */
  cpus?: number;
  /** pt_regs layout for kprobe and uprobe arguments (default: the host's). */
  arch?: Arch;
  /** The current task at start (default pid 1000, comm "tsbpf-test", uid 0). */
  task?: Partial<TaskState>;
  /** CLOCK_MONOTONIC at start, ns (default 1 s). */
  time?: bigint | number;
  /** bpf_get_prandom_u32 seed (default 1). */
  seed?: number;
  /**
   * The wall clock time() prints, at the start (a Date, or ms since the epoch), advancing with the simulated clock and
   * printed in UTC; strftime() adds its nanoseconds since boot to that clock's start less the simulated time then.
   * Without it, time() and strftime() print by the host's clock, as tsbpf run does.
   */
  realtime?: Date | number;
  /** Most instructions one run may execute before it fails (default: the VM's, 1,000,000). */
  budget?: number;
}

/** Task and CPU for one firing; what is given becomes the current task (as after a context switch). */
export interface FireOptions extends Partial<TaskState> {
  cpu?: number;
  /**
   * The stacks bpf_get_stackid and bpf_get_stack see (kstack(), ustack(), getStackId()): instruction pointers,
   * innermost first; kept for later firings until given again (sim.kernel.vm.setStacks). None at start: no stack
   * can be taken.
   */
  stacks?: { kernel?: readonly (bigint | number)[]; user?: readonly (bigint | number)[] };
  /** Run only this program (by function name) of those attached to the probe point. */
  program?: string;
}

export interface KprobeOptions extends FireOptions {
  /** The probed function's arguments, in the ABI's argument registers. */
  args?: readonly CValue[];
  /** Other pt_regs registers by name (di, ip, sp, ... / x0, pc, sp, ...). */
  regs?: Readonly<Record<string, CValue>>;
}

export interface RetprobeOptions extends FireOptions {
  /** The probed function's return value (ax / x0). */
  ret?: CValue;
  regs?: Readonly<Record<string, CValue>>;
}

export interface UsdtOptions extends FireOptions {
  /** The probe's arguments, first first. */
  args?: readonly CValue[];
  /** Where the site keeps them, as its note says (`-4@%edi 8@-8(%rbp) 4@$5`); default: each a u64 in a register. */
  spec?: string;
  /** Other pt_regs registers by name, set after the arguments. */
  regs?: Readonly<Record<string, CValue>>;
}

/** A profile or interval probe's firing: the interrupted task (FireOptions) and its registers. */
export interface PerfEventOptions extends FireOptions {
  /** pt_regs registers of the interrupted code by name (ip, sp, ... / pc, sp, ...); the rest are 0. */
  regs?: Readonly<Record<string, CValue>>;
  /** bpf_perf_event_data.sample_period; default the event's period in ns (a profile:hz:N's is 1e9 / N), a software or hardware probe's N. */
  samplePeriod?: CValue;
  /** bpf_perf_event_data.addr (0 for cpu-clock samples, the default). */
  addr?: CValue;
}

export interface ProfileOptions extends PerfEventOptions {
  /** Only the profile probes at this frequency (default: every profile probe). */
  hz?: number;
}

export interface IntervalOptions extends PerfEventOptions {
  /** Only the interval probes with this period in milliseconds (default: every interval probe). */
  ms?: number;
}

/** One program's run. */
export interface ProgramRun {
  program: string;
  section: string;
  /** r0 at exit, unsigned 64-bit. */
  r0: bigint;
  /** r0 as a signed 64-bit value. */
  ret: bigint;
  /** Instructions executed. */
  instructions: number;
  cpu: number;
}

/** One firing: every program attached to the probe point ran, in the object's order. */
export interface FireResult {
  runs: ProgramRun[];
  /** r0 of the first program that ran (0 when none did: a uprobe fired outside the target process). */
  r0: bigint;
  /** Instructions executed by all of them. */
  instructions: number;
}

export interface ProgramStats {
  runs: number;
  instructions: number;
  maxInstructions: number;
}

/** 2^63: r0 at or above it is negative as a signed value. */
const INT64_SIGN = 1n << 63n;

const sourceLabel = (path: string | undefined): string => `kernel BTF ${path ?? "/sys/kernel/btf/vmlinux"}`;

export class Simulation {
  /** The simulated kernel: task, CPUs, clock, memory. */
  readonly kernel: TestKernel;
  /** Every program run so far, in order. */
  readonly runs: ProgramRun[] = [];
  private readonly vm: Vm;
  private readonly env: VmEnv & { maps: MapRegistry };
  private loaded!: LoadedSimulation;
  private readonly arch: Arch;
  private readonly formats = new Map<string, TracepointLayout>();
  private readonly decoded = new WeakMap<SimProgram, Insn[]>();
  private readonly codecs = new Map<string, Codec | undefined>();
  private firstExit: number | undefined;
  /** While end() programs run: they print after an exit(), as in `tsbpf run`. */
  private ending = false;
  private readonly prints: { map: string; entries: Map<Decoded, Decoded> }[] = [];
  /** The object's actions ring buffers (exit, print, clear), found at the first firing. */
  private actionMaps: { name: string; table: ActionTable }[] | undefined;
  private stdout = "";
  /** Attached programs by probed function, for firings that do not name a program. */
  private readonly kprobes = new Map<string, SimProgram[]>();
  private readonly kretprobes = new Map<string, SimProgram[]>();
  /** The context region (see fire) and the run options pointing r1 at it. */
  private ctx: Region | undefined = undefined;
  private readonly runOptions: RunOptions;
  /** Bytes of the pt_regs context on this arch, and what writes it. */
  private readonly regsSize: number;
  private readonly regsWriter: PtRegsWriter;
  /** The kernel's BTF (the first of the sources for layouts), and the raw tracepoints' arguments found in it. */
  private readonly kernelTypes: BtfSource;
  private readonly rawTracepoints = new Map<string, string[] | undefined>();
  /** The simulated clock at the start, from which the `realtime` option's clock advances. */
  private readonly startNs: bigint;

  /** Use `simulate()`. */
  constructor(
    private readonly options: SimulateOptions,
    btfSources: (sim: Simulation) => BtfSource[],
  ) {
    const vmKernel = new SimKernel({ numCpus: options.cpus, timeNs: options.time, seed: options.seed, ...options.task });
    this.env = createVmEnv({ kernel: vmKernel });
    this.vm = new Vm({ tier: selectTier(options.tier ?? "auto") });
    this.arch = options.arch ?? hostArch();
    this.regsSize = LAYOUTS[this.arch].size;
    this.regsWriter = new PtRegsWriter(this.arch);
    this.runOptions = { r1: 0, budget: options.budget, result: { r0: 0n, instructions: 0 } };
    const sources = btfSources(this);
    this.kernel = new TestKernel(vmKernel, sources);
    this.kernelTypes = sources[0]!;
    this.startNs = this.kernel.time;
  }

  /** @internal */
  async load(input: ProbeSource): Promise<this> {
    this.loaded = await loadSimulation(input, this.vm, this.env, this.options);
    return this;
  }

  /** The object's BTF, for layouts of types the probe declares. */
  get objectBtf() {
    return this.loaded?.objectBtf;
  }

  /** A probe file's own structs, for layouts the object's BTF lacks. */
  get fileTypes() {
    return this.loaded?.fileTypes;
  }

  /** Program names with their SEC() names. */
  get programs(): { name: string; section: string }[] {
    // Those it cannot run are listed too, in the object's order: firing one says why it cannot run.
    const runnable = new Set(this.loaded.programs.map((p) => p.name));
    return this.loaded.object.programs.filter((p) => runnable.has(p.name) || this.loaded.unavailable.some((u) => u.name === p.name)).map((p) => ({ name: p.name, section: p.section }));
  }

  // ---------------------------------------------------------------- firing

  /** Fires the kprobes on kernel function `fn` with its arguments. */
  kprobe(fn: string, options: KprobeOptions = {}): FireResult {
    checkFiring(options, KPROBE_OPTIONS, "sim.kprobe()", ENTRY_HINTS);
    const progs =
      (options.program === undefined ? this.kprobes.get(fn) : undefined) ??
      this.select(`kprobe on ${fn}`, options, (p) => p.spec.attach.kind === "kprobe" && !p.spec.attach.retprobe && nameMatches(p.spec.attach.func, fn), this.kprobes, fn);
    return this.fire(progs, options, undefined, options, () => `kprobe:${fn}`);
  }

  /** Fires the kretprobes on kernel function `fn` with its return value. */
  kretprobe(fn: string, options: RetprobeOptions = {}): FireResult {
    checkFiring(options, RETPROBE_OPTIONS, "sim.kretprobe()", RETURN_HINTS);
    const progs =
      (options.program === undefined ? this.kretprobes.get(fn) : undefined) ??
      this.select(`kretprobe on ${fn}`, options, (p) => p.spec.attach.kind === "kprobe" && p.spec.attach.retprobe && nameMatches(p.spec.attach.func, fn), this.kretprobes, fn);
    return this.fire(progs, options, undefined, options, () => `kretprobe:${fn}`);
  }

  /** Fires the uprobes on `func` (or "binary:func") with its arguments. */
  uprobe(target: string, options: KprobeOptions = {}): FireResult {
    checkFiring(options, KPROBE_OPTIONS, "sim.uprobe()", ENTRY_HINTS);
    const progs = this.select(this.uprobeTarget("uprobe", target), options, (p) => p.spec.attach.kind === "uprobe" && !p.spec.attach.retprobe && matchesUprobe(p, target));
    return this.fire(progs, options, undefined, options, (p) => uprobeName("uprobe", p, target));
  }

  /** Fires the uretprobes on `func` (or "binary:func") with its return value. */
  uretprobe(target: string, options: RetprobeOptions = {}): FireResult {
    checkFiring(options, RETPROBE_OPTIONS, "sim.uretprobe()", RETURN_HINTS);
    const progs = this.select(this.uprobeTarget("uretprobe", target), options, (p) => p.spec.attach.kind === "uprobe" && p.spec.attach.retprobe && matchesUprobe(p, target));
    return this.fire(progs, options, undefined, options, (p) => uprobeName("uretprobe", p, target));
  }

  /**
   * Fires the USDT probes on `target` ("provider:name" or "binary:provider:name") with their arguments, placed where
   * `spec` (a site's argument text as `readelf -n` shows it) says; by default each is a u64 in a register.
   */
  usdt(target: string, options: UsdtOptions = {}): FireResult {
    checkFiring(options, USDT_OPTIONS, "sim.usdt()", ENTRY_HINTS);
    const progs = this.select(`usdt probe ${target}`, options, (p) => matchesUsdt(p, target));
    const site = usdtSite(this.arch, options.args ?? [], options.spec, this.kernel);
    // The loader gives each distinct spec an index and attaches the site with it as the cookie: here, always 0 (fire()
    // sets the cookie so).
    if (this.loaded.maps.has(USDT_SPECS_MAP)) this.map(USDT_SPECS_MAP).set(0, site.spec);
    return this.fire(progs, options, undefined, { regs: { ...site.regs, ...options.regs } }, (p) => firedUsdt(p, target) ?? "usdt");
  }

  /** "uprobe on TARGET" for messages; when TARGET is a probed binary, how to name one of its functions. */
  private uprobeTarget(kind: "uprobe" | "uretprobe", target: string): string {
    const a = this.loaded.programs.map((p) => p.spec.attach).find((x) => x.kind === "uprobe" && x.binary === target && x.func !== undefined);
    if (a?.kind !== "uprobe" || a.func === undefined) return `${kind} on ${target}`;
    const how = isGlob(a.func) ? `a function ${a.func} matches, "${target}:FUNCTION" or "FUNCTION"` : `the function, "${target}:${a.func}" or "${a.func}"`;
    return `${kind} on ${target} (a binary: name ${how})`;
  }

  /**
   * Fires the programs on tracepoint `group:name` with a record laid out per its format file
   * (common_type and common_pid filled in); `__data_loc` fields take strings.
   */
  tracepoint(group: string, name: string, fields: Readonly<Record<string, CValue>> = {}, options: FireOptions = {}): FireResult {
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) throw usage(`the fields of tracepoint ${group}:${name} must be an object of values by field name, not ${shown(fields)}`);
    checkFiring(options, FIRE_OPTIONS, "sim.tracepoint()");
    const progs = this.select(`tracepoint ${group}:${name}`, options, (p) => p.spec.attach.kind === "tracepoint" && nameMatches(p.spec.attach.group, group) && nameMatches(p.spec.attach.name, name));
    const layout = this.tracepointLayout(group, name);
    return this.fire(progs, options, () => tracepointRecord(layout, fields, { pid: this.kernel.pid }), undefined, () => `tracepoint:${group}:${name}`);
  }

  /**
   * Fires the programs on raw tracepoint `name` (rawTracepoint() probes, C's raw_tp and tp_btf sections): the context
   * is the tracepoint's arguments as u64s, pointers being addresses in the simulated memory (`sim.kernel.alloc`).
   */
  rawTracepoint(name: string, args: readonly CValue[] = [], options: FireOptions = {}): FireResult {
    if (!Array.isArray(args)) throw usage(`the arguments of raw tracepoint ${name} must be an array, not ${shown(args)}`);
    checkFiring(options, FIRE_OPTIONS, "sim.rawTracepoint()", { args: "the arguments go in sim.rawTracepoint(name, args)" });
    const progs = this.select(`raw tracepoint ${name}`, options, (p) => {
      const a = p.spec.attach;
      return (a.kind === "raw_tracepoint" || (a.kind === "btf" && a.hook === "tp_btf")) && a.name === name;
    });
    const params = this.rawTracepointParams(name);
    // The kernel passes every argument: fewer would fail as a read past the context, more would go unread.
    if (params !== undefined && args.length !== params.length) {
      throw usage(`raw tracepoint ${name} passes ${params.length} argument${params.length === 1 ? "" : "s"}${params.length ? ` (${params.join(", ")})` : ""}; ${args.length} given`);
    }
    const slots = params === undefined ? undefined : this.rawTracepointSlots(name);
    const context = () => {
      const out = new Uint8Array(Math.max(8, args.length * 8));
      const view = new DataView(out.buffer);
      args.forEach((a, i) => view.setBigUint64(i * 8, rawSlotValue(a, slots?.[i], `argument ${i + 1}${params?.[i] ? ` (${params[i]})` : ""}`), true));
      return out;
    };
    return this.fire(progs, options, context, undefined, () => `rawtracepoint:${name}`);
  }

  private rawTracepointSlots(name: string): RawSlot[] | undefined {
    const btf = this.kernelTypes.get();
    return btf && rawTracepointSlots(btf, name);
  }

  /** Raw tracepoint `name`'s arguments in the kernel's BTF; undefined when that BTF is not at hand or lacks it. */
  private rawTracepointParams(name: string): string[] | undefined {
    if (!this.rawTracepoints.has(name)) {
      const btf = this.kernelTypes.get();
      this.rawTracepoints.set(name, btf && rawTracepointParams(btf, name));
    }
    return this.rawTracepoints.get(name);
  }

  /**
   * Fires the profile probes (bpftrace's profile:hz:N; `hz` picks those at one frequency) as one sample does: on
   * `cpu`, interrupting the given task. The context is a struct bpf_perf_event_data: `regs`, sample_period and addr.
   */
  profile(options: ProfileOptions = {}): FireResult {
    checkFiring(options, { hz: true, ...PERF_EVENT_OPTIONS }, "sim.profile()");
    if (options.hz !== undefined) integerIn(options.hz, 1, 0xffffffff, "profile() option hz");
    return this.firePerfEvent(options.hz === undefined ? "profile probe" : `profile:hz:${options.hz} probe`, (a) => a.probe === "profile" && (options.hz === undefined || ("unit" in a && a.unit === "hz" && a.rate === options.hz)), options);
  }

  /** Fires the interval probes (bpftrace's interval:ms:N; `ms` picks those with one period) once. */
  interval(options: IntervalOptions = {}): FireResult {
    checkFiring(options, { ms: true, ...PERF_EVENT_OPTIONS }, "sim.interval()");
    if (options.ms !== undefined) integerIn(options.ms, 1, 0xffffffff, "interval() option ms");
    return this.firePerfEvent(options.ms === undefined ? "interval probe" : `interval:ms:${options.ms} probe`, (a) => a.probe === "interval" && (options.ms === undefined || ("unit" in a && a.unit === "ms" && a.rate === options.ms)), options);
  }

  /**
   * Fires the software probes on `event` (bpftrace's name or alias: "page-faults", "faults", "context-switches", ...)
   * as one sample does, the N-th event of a software(event, N) probe; sample_period is N unless given.
   */
  software(event: string, options: PerfEventOptions = {}): FireResult {
    return this.fireCounted("software", event, options);
  }

  /** The same for the hardware probes on `event` ("cpu-cycles", "cache-misses", ...). */
  hardware(event: string, options: PerfEventOptions = {}): FireResult {
    return this.fireCounted("hardware", event, options);
  }

  private fireCounted(probe: CountedProbe["probe"], event: string, options: PerfEventOptions): FireResult {
    checkFiring(options, PERF_EVENT_OPTIONS, `sim.${probe}()`);
    const full = typeof event === "string" ? perfEventFullName(probe, event) : undefined;
    if (!full) throw usage(`${probe}() takes the name of a ${probe} event (${Object.keys(PERF_EVENT_NAMES[probe]).join(", ")}), not ${shown(event)}`);
    return this.firePerfEvent(`${probe}:${full} probe`, (a) => "event" in a && a.probe === probe && a.event === full, options);
  }

  private firePerfEvent(what: string, matches: (a: PerfEventProbe) => boolean, options: PerfEventOptions): FireResult {
    const probeOf = (p: Pick<SimProgram, "spec">): PerfEventProbe | undefined => (p.spec.attach.kind === "perf_event" ? p.spec.attach : undefined);
    const progs = this.select(what, options, (p) => {
      const a = probeOf(p);
      return a !== undefined && matches(a);
    });
    const first = probeOf(progs[0]!)!;
    const period = "event" in first ? BigInt(first.count) : perfEventPeriodNs(first);
    return this.fire(progs, options, () => {
      const bytes = new Uint8Array(this.regsSize + 16);
      const view = new DataView(bytes.buffer);
      writePtRegs(this.arch, { regs: options.regs }, bytes, view);
      view.setBigUint64(this.regsSize, toU64(options.samplePeriod ?? period, "samplePeriod"), true);
      view.setBigUint64(this.regsSize + 8, toU64(options.addr ?? 0, "addr"), true);
      return bytes;
    }, undefined, (p) => perfEventName(probeOf(p)!));
  }

  /**
   * Runs the begin() programs (bpftrace's BEGIN), as `tsbpf run` does once before it attaches the probes; the options
   * say which task is current (tsbpf's own process, in a real run).
   */
  begin(options: FireOptions = {}): FireResult {
    return this.fireRun("begin", options);
  }

  /** Runs the end() programs (bpftrace's END), as `tsbpf run` does once after detaching, before it prints the maps. */
  end(options: FireOptions = {}): FireResult {
    return this.fireRun("end", options);
  }

  private fireRun(when: "begin" | "end", options: FireOptions): FireResult {
    checkFiring(options, FIRE_OPTIONS, `sim.${when}()`);
    const progs = this.select(`${when}() program`, options, (p) => p.spec.attach.kind === "run" && p.spec.attach.when === when);
    this.ending = when === "end";
    try {
      // A raw tracepoint's context: its arguments, of which a begin() or end() handler reads none.
      return this.fire(progs, options, () => new Uint8Array(8));
    } finally {
      this.ending = false;
    }
  }

  /** Runs one program by name on a context of your own bytes (a socket buffer, a perf sample, ...). */
  run(program: string, ctx: Uint8Array, options: Omit<FireOptions, "program"> = {}): FireResult {
    if (!(ctx instanceof Uint8Array)) throw usage(`the context of program ${program} must be a Uint8Array of its bytes, not ${shown(ctx)}`);
    checkFiring(options, TASK_OPTIONS, "sim.run()");
    return this.fire(this.select(`program ${program}`, { program }, () => true), options, () => ctx);
  }

  /** The format-file layout of a tracepoint, from the options or tracefs. */
  tracepointLayout(group: string, name: string): TracepointLayout {
    const key = `${group}/${name}`;
    let layout = this.formats.get(key);
    if (!layout) {
      const given = this.options.tracepointFormats?.[key] ?? this.options.tracepointFormats?.[`${group}:${name}`];
      layout = parseFormat(group, name, given ?? readFormat(group, name, this.options.tracefs ? [this.options.tracefs] : TRACEFS_ROOTS));
      this.formats.set(key, layout);
    }
    return layout;
  }

  /** Programs attached to `what`, or the one `options.program` names; remembered in `cache` under `key` when attached. */
  private select(what: string, options: FireOptions, attached: (p: Pick<SimProgram, "name" | "spec">) => boolean, cache?: Map<string, SimProgram[]>, key?: string): SimProgram[] {
    // A program that would run here but cannot be simulated makes the firing an error, not a silent partial one.
    const blocked = this.loaded.unavailable.find((p) => (options.program === undefined ? attached(p) : p.name === options.program));
    if (blocked) throw new SimulationError(`program ${blocked.name} (section ${blocked.spec.section}) cannot run in the simulator: ${blocked.reason}`, "object", blocked.name);
    const all = this.loaded.programs;
    let progs = all.filter(attached);
    if (cache !== undefined && options.program === undefined && progs.length > 0) cache.set(key!, progs);
    if (options.program !== undefined) {
      const named = all.find((p) => p.name === options.program);
      if (!named) throw usage(`no program ${options.program} in the object (programs: ${all.map((p) => p.name).join(", ")})`);
      progs = [named];
    }
    if (progs.length === 0) {
      const list = all.map((p) => `${p.name} (${p.spec.section})`).join(", ");
      throw usage(`no ${what} in the object; its programs: ${list}`);
    }
    return progs;
  }

  /**
   * Runs `progs` on a context: `context()`'s bytes, or (when it is undefined) a pt_regs image of
   * `regs`. The context lives in one read-only region kept mapped between firings and rewritten
   * before each program (a program cannot change it, so runs never see each other's). `probe` names the probe each
   * program fires as, whose id probe() reads (probe-names.ts), as the loader attaches it.
   */
  private fire(progs: SimProgram[], options: FireOptions, context: (() => Uint8Array) | undefined, regs?: RegsInput, probe?: (p: SimProgram) => string): FireResult {
    // Task fields in the options make that task current, as a context switch does.
    if (options.pid !== undefined || options.tgid !== undefined || options.uid !== undefined || options.gid !== undefined || options.cgroup !== undefined || options.comm !== undefined) {
      checkTask(options, "the firing's task");
      this.switchTo(options);
    }
    if (options.cpu !== undefined) this.kernel.cpu = options.cpu;
    if (options.stacks !== undefined) {
      const frames = (list: readonly (bigint | number)[] | undefined, which: string) => {
        if (list === undefined) return undefined;
        if (!Array.isArray(list)) throw usage(`stacks.${which} must be an array of instruction pointers, innermost first, not ${shown(list)}`);
        return list.map((ip, i) => toU64(ip, `stacks.${which}[${i}]`));
      };
      this.kernel.vm.setStacks({ kernel: frames(options.stacks.kernel, "kernel"), user: frames(options.stacks.user, "user") });
    }
    // With a target, tsbpf run attaches uprobes and USDT probes to its process alone: another process runs none of them.
    const target = this.options.targetPid;
    if (target && progs.some((p) => inProcess(p)) && this.kernel.tgid !== target) progs = progs.filter((p) => !inProcess(p));
    const record = context === undefined ? undefined : context();
    const runs: ProgramRun[] = new Array(progs.length);
    let instructions = 0;
    for (let i = 0; i < progs.length; i++) {
      const p = progs[i]!;
      let region: Region;
      // A syscall program writes its context, which BPF_PROG_TEST_RUN gives back to the caller.
      const writable = p.spec.type === ProgType.SYSCALL;
      if (record === undefined) {
        region = this.contextRegion(this.regsSize, false);
        this.regsWriter.write(regs!, region.bytes, region.view);
      } else {
        region = this.contextRegion(record.length, writable);
        region.bytes.set(record);
        this.regsWriter.forget();
      }
      // As the loader attaches: a probe's id in the high half for a program that calls probe(); a USDT spec id (always 0 here) below.
      this.kernel.vm.attachCookie = p.spec.probeNames && probe ? probeCookie(probe(p)) : 0n;
      let result: RunResult;
      try {
        result = this.vm.run(p.vm, this.runOptions);
      } catch (e) {
        if (e instanceof VmError) throw this.fault(p, e);
        throw e;
      }
      if (writable && record !== undefined) record.set(region.bytes);
      const r0 = result.r0;
      const run: ProgramRun = { program: p.name, section: p.spec.section, r0, ret: r0 < INT64_SIGN ? r0 : BigInt.asIntN(64, r0), instructions: result.instructions, cpu: this.kernel.cpu };
      instructions += result.instructions;
      runs[i] = run;
      this.runs.push(run);
    }
    if (this.actionMaps === undefined || this.actionMaps.length) this.takeActions();
    return { runs, r0: runs[0]?.r0 ?? 0n, instructions };
  }

  /** Makes `task` current (setTask), unless it already is: firing after firing by the same task is the common case. */
  private switchTo(task: Partial<TaskState>): void {
    const k = this.kernel.vm;
    const same =
      k.inTask &&
      (task.pid === undefined || task.pid === k.pid) &&
      (task.tgid === undefined || task.tgid === k.tgid) &&
      (task.uid === undefined || task.uid === k.uid) &&
      (task.gid === undefined || task.gid === k.gid) &&
      (task.cgroup === undefined || BigInt(task.cgroup) === k.cgroup) &&
      (task.comm === undefined || task.comm === k.comm);
    if (!same) k.setTask(task);
  }

  /**
   * The context region, `size` bytes, `writable` or not; another size or kind replaces it (at the same address, as
   * unmap frees it for reuse).
   */
  private contextRegion(size: number, writable: boolean): Region {
    let region = this.ctx;
    if (region === undefined || region.size !== size || region.writable !== writable) {
      const memory = this.env.memory;
      if (region !== undefined) memory.unmap(region);
      region = memory.map("ctx", new Uint8Array(size), { writable, name: "context" });
      this.ctx = region;
      // r1 as a number (the address as a signed 64-bit value, a safe integer for every region the VM
      // places): the tiers split a number into register halves without BigInt arithmetic or compares.
      const signed = region.hi * 4294967296 + REGION_BASE;
      this.runOptions.r1 = Number.isSafeInteger(signed) ? signed : region.address(0);
    }
    return region;
  }

  private fault(p: SimProgram, e: VmError): SimulationError {
    let insns = this.decoded.get(p);
    if (!insns) {
      insns = decode(p.bytes, { check: false });
      this.decoded.set(p, insns);
    }
    const insn = e.pc >= 0 && insns[e.pc] ? ` \`${disassemble(insns.slice(e.pc, e.pc + 2), {})[0]}\`` : "";
    const at = e.pc >= 0 ? p.source.at(e.pc) : undefined;
    const where = at ? `\n  at ${formatLocation(at)}` : "";
    const head = e.pc >= 0 ? `instruction ${e.pc}${insn}: ` : "";
    let reason = e.message.replace(/^instruction \d+: /, "").replace(/ at instruction \d+$/, "");
    // A larger budget lets the run finish here, not the kernel load the program.
    if (e instanceof BudgetExceeded && p.tooLarge) {
      reason += ` (the verifier model also passed its limit of ${COMPLEXITY_LIMIT.toLocaleString("en")} instructions on this program, so the kernel's verifier may refuse to load it: "BPF program is too large")`;
    }
    return new SimulationError(`program ${p.name} (section ${p.spec.section}) failed at ${head}${reason}${where}`, "fault", p.name, at && `${at.file}:${at.line}:${at.column}`, { cause: e });
  }

  // ---------------------------------------------------------------- observing

  /** bpf_printk / bpf_trace_printk messages so far, one string each, without the trailing newline. */
  trace(): string[] {
    return this.kernel.vm.traceLines();
  }

  /** The messages as trace_pipe prints them (task-pid, CPU, timestamp, message). */
  tracePipe(): string[] {
    return this.kernel.vm.tracePipe().split("\n").filter((l) => l !== "");
  }

  clearTrace(): void {
    this.kernel.vm.clearTrace();
  }

  /** A map by name (a `.maps` variable, a legacy map, or a data section such as ".bss"). */
  map(name: string): MapView {
    const m = this.loaded.maps.get(name);
    if (!m) throw usage(`no map ${name} in the object (maps: ${[...this.loaded.maps.keys()].join(", ") || "none"})`);
    return m;
  }

  /**
   * Records a ring buffer or perf event array received since the last call, oldest first (taking them, as a
   * consumer would), each decoded as `tsbpf run` decodes it: by the record type the map is tagged with in BTF
   * (`RingBuf<T>`, `PerfEventArray<T>`, or `tsbpf:event=...` in C), else as raw bytes.
   */
  events<T = unknown>(name: string): T[] {
    const raw = this.rawEvents(name);
    const codec = this.eventCodec(name);
    return codec ? raw.map((b) => (b.length >= codec.size ? codec.decodeRecord(b, 0, b.length) : b) as T) : (raw as T[]);
  }

  /** events() without decoding: each record's bytes. */
  rawEvents(name: string): Uint8Array[] {
    const m = this.map(name).map;
    if (m instanceof RingBufMap) return m.consume();
    if (m instanceof PerfEventArray) return m.drain().map((r) => r.data);
    throw usage(`map ${name} is a ${m.type} map; events() reads ringbuf and perf_event_array maps`);
  }

  /**
   * Records map `name` lost since the start, as `tsbpf run` reports them: a perf event array's samples its full
   * per-CPU rings refused (the kernel's PERF_RECORD_LOST counts, summed over CPUs), a ring buffer's that the probe
   * counted (tsbpf's `tsbpf_lost_<ring>`: failed reserve()s and output()s; the kernel keeps no count for a ring buffer).
   */
  lost(name: string): number {
    const m = this.map(name).map;
    if (m instanceof PerfEventArray) return m.lost();
    if (!(m instanceof RingBufMap)) throw usage(`map ${name} is a ${m.type} map; lost() counts what ringbuf and perf_event_array maps dropped`);
    const counter = droppedCounterName(name);
    if (!this.loaded.object.maps.some((s) => s.origin === "data" && s.variables.some((v) => v.name === counter))) {
      throw usage(`ring buffer ${name} has no drop count: the kernel keeps none for a ring buffer, and this object's probes keep none (${counter}, which tsbpf's compiler adds)`);
    }
    return Number(this.global(counter));
  }

  private eventCodec(name: string): Codec | undefined {
    if (!this.codecs.has(name)) {
      const spec = this.loaded.object.maps.find((m) => m.name === name);
      const types = spec && mapBtfTypes(this.loaded.object, spec);
      this.codecs.set(name, types?.event === undefined ? undefined : codecFor(types.btf, types.event, { times: "ns" }));
    }
    return this.codecs.get(name);
  }

  /**
   * The code of the first exit() a probe has called (bpftrace's exit(); `tsbpf run` stops there and exits with it),
   * or undefined while none has. Probes still fire after it, as they do in the kernel until `tsbpf run` detaches.
   */
  exitCode(): number | undefined {
    return this.firstExit;
  }

  /**
   * What probes' `m.print()` calls printed since the last call, in order: each map's entries as `sim.map(name).toMap()`
   * gave them when the firing that printed it had ended (`m.print(top)`: the `top` largest, smallest first) (`tsbpf run` prints a map when it reads the request, just
   * after the handler). `m.clear()` empties the map at that moment too, so a print then clear in one handler prints
   * the map before it is cleared.
   */
  printed(): { map: string; entries: Map<Decoded, Decoded> }[] {
    return this.prints.splice(0);
  }

  /**
   * The signals probes sent (signal(): bpf_send_signal, and with `thread` bpf_send_signal_thread) since the last call,
   * in order: the signal's number and the process (tgid) or, for `thread`, the task (pid) it went to.
   */
  signals(): { signal: number; tgid: number; pid: number; thread: boolean }[] {
    return this.kernel.vm.signals.splice(0);
  }

  /**
   * What probes' printf() calls wrote since the last call, formatted as `tsbpf run` writes it to standard output: what
   * they print after the first exit() is left out, as there, and end() programs print again.
   */
  output(): string {
    const text = this.stdout;
    this.stdout = "";
    return text;
  }

  /** A stack id's frames in the file's stack map for that kind and frame limit, as hex instruction pointers. */
  private stackIps(kind: "kernel" | "user", frames: number, id: bigint): string[] | undefined {
    return this.stackFrames(kind, stackMapName(kind, frames), id)?.map((ip) => `0x${ip.toString(16)}`);
  }

  /**
   * The frames a kstack() value stands for (a map key, a map value or an event's field holding it): the instruction
   * pointers the firing's `stacks.kernel` gave, innermost first; undefined for a stack that was not taken (no stacks
   * given). `frames` is the probe's kstack(N) limit, needed only when it takes kernel stacks of more than one.
   */
  kstack(value: CValue, frames?: number): bigint[] | undefined {
    return this.stackFrames("kernel", this.stackMap("kernel", "kstack", frames), toU64(value, "kstack()'s value"));
  }

  /** The same for a ustack() value (its process in the high 32 bits, the stack's id in the low): `stacks.user`'s frames. */
  ustack(value: CValue, frames?: number): bigint[] | undefined {
    return this.stackFrames("user", this.stackMap("user", "ustack", frames), toU64(value, "ustack()'s value"));
  }

  /** The stack map kstack(frames) or ustack(frames) fills; without `frames`, the only one of its kind. */
  private stackMap(kind: "kernel" | "user", call: string, frames: number | undefined): string {
    const names = [...this.loaded.maps.keys()].filter((n) => n === stackMapName(kind, MAX_STACK_FRAMES) || n.startsWith(`${stackMapName(kind, MAX_STACK_FRAMES)}_`));
    const limit = (n: string) => Number(/_(\d+)$/.exec(n)?.[1] ?? MAX_STACK_FRAMES);
    const limits = names.map(limit).join(", ");
    if (frames !== undefined) {
      integerIn(frames, 1, MAX_STACK_FRAMES, `sim.${call}()'s frames`);
      if (names.includes(stackMapName(kind, frames))) return stackMapName(kind, frames);
      throw usage(names.length ? `the probe takes ${call}() of ${limits} frames, not ${frames}` : `the probe takes no ${call}()`);
    }
    if (names.length === 1) return names[0]!;
    throw usage(names.length ? `the probe takes ${call}() of ${limits} frames: say which, sim.${call}(value, ${limit(names[0]!)})` : `the probe takes no ${call}()`);
  }

  private stackFrames(kind: "kernel" | "user", name: string, value: bigint): bigint[] | undefined {
    // A kernel stack's value is the id (negative: an errno); a user stack's low 32 bits are.
    const index = kind === "kernel" ? BigInt.asIntN(64, value) : BigInt.asIntN(32, value);
    // The stack map's id -> frames map (tagged `tsbpf:frames-of=` it) names the id's frames.
    const frames = this.loaded.object.maps.find((s) => mapBtfTypes(this.loaded.object, s)?.framesOf === name);
    if (!frames || index < 0n || index > 0xffffffffn) return undefined;
    return this.map(frames.name).stackFrames(Number(index));
  }

  /** The requests of exit(), print(), clear() and printf() the last firing sent, carried out as `tsbpf run` carries them out. */
  private takeActions(): void {
    this.actionMaps ??= this.loaded.object.maps.flatMap((spec) => {
      const types = mapBtfTypes(this.loaded.object, spec);
      if (!types?.actions) return [];
      const table = new ActionTable(types.actions, types.printf, types.times);
      // printf's %s of a kstack()/ustack(): the simulated stack's instruction pointers, as the test gave them.
      // ksym(): the function of a symbol the test gave the simulated kernel (as %pS names it), else the address in hex.
      // usym(): the address in hex, since the simulated processes have no symbols.
      // A kernel enum's value: its enumerator in the simulation's kernel BTF (the `btf` option).
      const ksym = (address: bigint) => this.kernel.vm.symbolize(address)?.symbol.name ?? `0x${address.toString(16)}`;
      table.names = { ...table.names, stack: (kind, frames, id) => this.stackIps(kind, frames, id), ksym, usym: (_pid, address) => `0x${address.toString(16)}`, enumerator: enumeratorsIn(() => this.kernelTypes.get()) };
      // time(): the `realtime` option's clock, moved on as far as the simulated one since the start; strftime(): the
      // simulated boot at that clock's start less the simulated time then.
      if (this.options.realtime !== undefined) {
        const start = Number(this.options.realtime);
        const boot = BigInt(Math.round(start * 1e6)) - this.startNs;
        table.clock = { now: () => new Date(start + Number(this.kernel.time - this.startNs) / 1e6), bootRealtimeNs: () => boot, utc: true };
      }
      return [{ name: spec.name, table }];
    });
    for (const { name, table } of this.actionMaps) {
      for (const record of this.rawEvents(name)) {
        const action = decodeAction(record, table);
        // What probes print after the first exit() is left out, as `tsbpf run` leaves it out; end() still prints.
        if (this.firstExit !== undefined && !this.ending && action?.kind !== "exit") continue;
        if (action?.kind === "exit") this.firstExit ??= action.code;
        else if (action?.kind === "printf") this.stdout += action.text;
        else if (action?.kind === "print") this.prints.push({ map: action.map, entries: topEntries(this.map(action.map).toMap(), action.top) });
        else if (action?.kind === "clear") this.map(action.map).clear();
      }
    }
  }

  /** What the probes' targetPid() gives (the targetPid option; 0: no target). */
  get targetPid(): number {
    return this.options.targetPid ?? 0;
  }
  /** Whether any program reads targetPid(). */
  get readsTargetPid(): boolean {
    return readsTargetPid(this.loaded.object.maps);
  }

  /**
   * A keyless Histogram's or LinearHistogram's buckets as `tsbpf run --json` gives them (its `histogram`): from the first
   * that counted to the last, each `{ bucket, min, max, count }` (`"[4, 8)"`, bounds inclusive, an open end left out).
   */
  histogram(name: string): Bucket[] {
    const h = this.histogramsOf(name, "histogram");
    return "keyed" in h ? [] : h.buckets;
  }

  /** A keyed Histogram's or LinearHistogram's buckets by key, as `tsbpf run --json` gives them (`histograms`: the fullest last). */
  histograms(name: string): { key: Decoded; histogram: Bucket[] }[] {
    const h = this.histogramsOf(name, "histograms");
    return "keyed" in h ? h.keyed : [];
  }

  private histogramsOf(name: string, call: "histogram" | "histograms"): { buckets: Bucket[] } | { keyed: { key: Decoded; histogram: Bucket[] }[] } {
    const view = this.map(name);
    const spec = this.loaded.object.maps.find((m) => m.name === view.name)!;
    const types = mapBtfTypes(this.loaded.object, spec);
    if (!types?.histogram && !types?.linear) throw usage(`map ${name} is not a Histogram or LinearHistogram; read it with sim.map("${name}")`);
    const keyed = spec.type !== 2 && spec.type !== 6; // a hash map of { key, slot }: one histogram per key
    if (keyed !== (call === "histograms")) throw usage(`map ${name} is a ${keyed ? "keyed" : "keyless"} histogram: read it with sim.${keyed ? "histograms" : "histogram"}("${name}")`);
    // Counts as tsbpf run --json prints them: numbers while exact.
    const n = (v: Decoded): number | bigint => {
      const b = Array.isArray(v) ? v.reduce<bigint>((t, x) => t + BigInt(x as bigint), 0n) : BigInt(v as bigint);
      return b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
    };
    const slots = types.linear ? Math.ceil((types.linear.max - types.linear.min) / types.linear.step) + 2 : NEGATIVE_SLOT + 1;
    const bucketsOf = (counts: (number | bigint)[]): Bucket[] =>
      types.linear ? linearBuckets(types.linear, counts) : buckets({ counts: counts.slice(0, NEGATIVE_SLOT), negative: counts[NEGATIVE_SLOT] ?? 0 });
    const add = (counts: (number | bigint)[], slot: number, v: Decoded) => {
      if (slot >= 0 && slot < slots) counts[slot] = n(BigInt(counts[slot]!) + BigInt(n(v)));
    };
    if (!keyed) {
      const counts: (number | bigint)[] = new Array(slots).fill(0);
      for (const [k, v] of view.entries()) add(counts, Number(k), v);
      return { buckets: bucketsOf(counts) };
    }
    const byKey = new Map<string, { key: Decoded; counts: (number | bigint)[] }>();
    for (const [k, v] of view.entries()) {
      const { key, slot } = k as { key: Decoded; slot: number };
      const id = JSON.stringify(key, (_k, x) => (typeof x === "bigint" ? `${x}n` : x));
      let h = byKey.get(id);
      if (!h) byKey.set(id, (h = { key, counts: new Array(slots).fill(0) }));
      add(h.counts, slot, v);
    }
    const total = (c: (number | bigint)[]) => c.reduce<bigint>((t, x) => t + BigInt(x), 0n);
    const keyedOut = [...byKey.values()].filter((h) => total(h.counts) > 0n).sort((a, b) => (total(a.counts) < total(b.counts) ? -1 : total(a.counts) > total(b.counts) ? 1 : 0));
    return { keyed: keyedOut.map((h) => ({ key: h.key, histogram: bucketsOf(h.counts) })) };
  }

  /** A global variable's current value (.data, .bss, .rodata), decoded by its BTF type. */
  global(name: string): Decoded {
    for (const spec of this.loaded.object.maps) {
      if (spec.origin !== "data") continue;
      const v = spec.variables.find((x) => x.name === name);
      if (!v) continue;
      const view = this.map(spec.name).map as unknown as { data: Uint8Array };
      const bytes = view.data.subarray(v.offset, v.offset + v.size);
      const btf = this.loaded.objectBtf;
      const id = btf && variableType(btf, spec.name, name);
      return btf && id !== undefined ? decodeValue(btf, id, bytes) : decodeScalar(bytes);
    }
    // tsbpf's drop counters are read here too (docs/testing.md), its other variables are not.
    const known = this.loaded.object.maps.flatMap((m) => m.variables.map((x) => x.name)).filter((n) => !tsbpfVariable(n) || n.startsWith(DROPPED_COUNTER_PREFIX));
    throw usage(noSuchGlobal(name, known));
  }

  /** Runs and instructions per program so far. */
  stats(): Record<string, ProgramStats> {
    const out: Record<string, ProgramStats> = {};
    for (const p of this.loaded.programs) out[p.name] = { runs: 0, instructions: 0, maxInstructions: 0 };
    for (const r of this.runs) {
      const s = out[r.program]!;
      s.runs++;
      s.instructions += r.instructions;
      s.maxInstructions = Math.max(s.maxInstructions, r.instructions);
    }
    return out;
  }
}

/** The options of each kind of firing (the task's fields first): any other key is refused, not ignored. */
const TASK_OPTIONS = { pid: true, tgid: true, uid: true, gid: true, cgroup: true, comm: true, cpu: true, stacks: true } as const;
const FIRE_OPTIONS = { ...TASK_OPTIONS, program: true } as const satisfies Record<keyof FireOptions, true>;
const KPROBE_OPTIONS = { args: true, regs: true, ...FIRE_OPTIONS } as const satisfies Record<keyof KprobeOptions, true>;
const RETPROBE_OPTIONS = { ret: true, regs: true, ...FIRE_OPTIONS } as const satisfies Record<keyof RetprobeOptions, true>;
const USDT_OPTIONS = { args: true, spec: true, regs: true, ...FIRE_OPTIONS } as const satisfies Record<keyof UsdtOptions, true>;
const PERF_EVENT_OPTIONS = { regs: true, samplePeriod: true, addr: true, ...FIRE_OPTIONS } as const satisfies Record<keyof PerfEventOptions, true>;
const STACKS = { kernel: true, user: true } as const;
/** The options a test gives the wrong kind of probe most often. */
const ENTRY_HINTS = { ret: "only return probes take ret" };
const RETURN_HINTS = { args: "a return probe has no arguments: give its return value as ret" };

/**
 * A firing's options: only the keys `valid` has (`what` names the firing), `args` an array of argument values, `regs`
 * an object of register values, `stacks` an object of kernel and user stacks.
 */
function checkFiring(options: KprobeOptions & RetprobeOptions, valid: Readonly<Record<string, true>>, what: string, hints?: Readonly<Record<string, string>>): void {
  knownKeys(options, valid, what, hints);
  if (options.args !== undefined && !Array.isArray(options.args)) throw usage(`args must be an array of the probed function's arguments, not ${shown(options.args)}`);
  if (options.regs !== undefined && (typeof options.regs !== "object" || options.regs === null || Array.isArray(options.regs))) {
    throw usage(`regs must be an object of register values by name, not ${shown(options.regs)}`);
  }
  if (options.stacks !== undefined) knownKeys(options.stacks, STACKS, `${what} option stacks`, undefined, "key");
}

/** A Histogram's slot of negative values (slots 0..64 are log2's). */
const NEGATIVE_SLOT = 65;

/** Every option simulate() takes: a misspelt or unknown one (`cpu` for `cpus`) fails instead of going unused. */
const SIMULATE_OPTIONS = {
  tier: true, cpus: true, arch: true, task: true, time: true, seed: true, budget: true, realtime: true,
  btf: true, verify: true, tracepointFormats: true, tracefs: true, globals: true, set: true, targetPid: true, kernelSymbols: true, userSymbols: true, cgroupIds: true, name: true, backend: true,
} as const satisfies Record<keyof SimulateOptions, true>;

/** Fails on an option the simulator cannot use, naming it and what it takes. */
function checkOptions(options: SimulateOptions): void {
  knownKeys(options, SIMULATE_OPTIONS, "simulate()");
  if (options.tier !== undefined) oneOf(options.tier, ["auto", "interpreter", "compiled"], "simulate() option tier");
  if (options.cpus !== undefined) integerIn(options.cpus, 1, 1024, "simulate() option cpus");
  if (options.arch !== undefined) oneOf(options.arch, Object.keys(LAYOUTS) as Arch[], "simulate() option arch");
  if (options.backend !== undefined) oneOf(options.backend, ["own", "llvm"], "simulate() option backend");
  if (options.time !== undefined) nanoseconds(options.time, "simulate() option time");
  if (options.budget !== undefined) integerIn(options.budget, 1, Number.MAX_SAFE_INTEGER, "simulate() option budget");
  if (options.seed !== undefined) integerIn(options.seed, 0, Number.MAX_SAFE_INTEGER, "simulate() option seed");
  if (options.realtime !== undefined && !(options.realtime instanceof Date ? Number.isFinite(options.realtime.getTime()) : Number.isFinite(options.realtime))) {
    throw usage(`simulate() option realtime is the wall clock at the start, a Date or milliseconds since the epoch, not ${shown(options.realtime)}`);
  }
  if (options.task !== undefined) checkTask(options.task, "simulate() option task");
  for (const [option, example] of [["kernelSymbols", "{ do_unlinkat: 0xffffffff816d2cd0n }"], ["userSymbols", '{ "/opt/app:counter": 0x404018 }'], ["cgroupIds", '{ "/sys/fs/cgroup/system.slice": 4242 }']] as const) {
    const symbols = options[option];
    const bad = symbols === undefined ? undefined : typeof symbols !== "object" || symbols === null || Array.isArray(symbols) ? [] : Object.entries(symbols).find(([, a]) => typeof a !== "bigint" && !Number.isSafeInteger(a));
    if (bad) throw usage(`simulate() option ${option} gives ${option === "cgroupIds" ? "ids by cgroup path" : "addresses by symbol name"}, ${example}, not ${shown(bad.length ? bad[1] : symbols)}${bad.length ? ` for ${bad[0]}` : ""}`);
  }
  if (options.set !== undefined && (typeof options.set !== "object" || options.set === null || !Object.values(options.set).every((v) => typeof v === "string"))) {
    throw usage(`simulate() option set takes --set texts by variable name ({ minMs: "10" }), not ${shown(options.set)}; typed values go in globals`);
  }
}

/**
 * print(top)'s entries: the `top` largest, smallest first, as `tsbpf run` prints them (by a number value, a
 * stats() value by its average); all of them, as they are, without a top.
 */
function topEntries(entries: Map<Decoded, Decoded>, top: number | undefined): Map<Decoded, Decoded> {
  if (!top) return entries;
  const size = (v: Decoded): bigint => (typeof v === "bigint" || typeof v === "number" ? BigInt(v) : typeof v === "object" && v !== null && "average" in v ? BigInt((v as { average: bigint | number }).average) : 0n);
  return new Map([...entries].sort(([, a], [, b]) => (size(a) < size(b) ? -1 : size(a) > size(b) ? 1 : 0)).slice(-top));
}

/** A uprobe, uretprobe or USDT program: attached to one process when there is a target (perf_event_open's pid). */
const inProcess = (p: Pick<SimProgram, "spec">): boolean => p.spec.attach.kind === "uprobe" || p.spec.attach.kind === "usdt";

/** The stack map kstack(frames) (ustack(frames)) fills: `tsbpf_kstacks`, and with a limit `tsbpf_kstacks_5`. */
const stackMapName = (kind: "kernel" | "user", frames: number): string => `tsbpf_${kind === "kernel" ? "k" : "u"}stacks${frames === MAX_STACK_FRAMES ? "" : `_${frames}`}`;

function matchesUsdt(p: Pick<SimProgram, "spec">, target: string): boolean {
  return firedUsdt(p, target) !== undefined;
}

/** The USDT probe a firing names ("provider:name" or "binary:provider:name") that program `p`'s probe (or glob) takes. */
function firedUsdt(p: Pick<SimProgram, "spec">, target: string): string | undefined {
  const a = p.spec.attach;
  if (a.kind !== "usdt") return undefined;
  const parts = (target.startsWith(`${a.binary}:`) ? target.slice(a.binary.length + 1) : target).split(":");
  if (parts.length !== 2 || !nameMatches(a.provider, parts[0]!) || !nameMatches(a.name, parts[1]!)) return undefined;
  return `usdt:${a.binary}:${parts[0]}:${parts[1]}`;
}

/** Whether a probe's name matches what fired: the same name, or a glob (`sys_enter_*`, `read*`) matching it. */
function nameMatches(pattern: string, fired: string): boolean {
  return pattern === fired || (isGlob(pattern) && globRegExp(pattern).test(fired));
}

/** The function a uprobe firing names ("func" or "binary:func") in program `p`'s binary; undefined for another binary. */
function firedFunction(p: Pick<SimProgram, "spec">, target: string): string | undefined {
  const a = p.spec.attach;
  if (a.kind !== "uprobe") return undefined;
  if (target.startsWith(`${a.binary}:`)) return target.slice(a.binary.length + 1);
  // A ':' names another binary; a C++ function's `::` does not (`app::W::leaf`).
  return target.replaceAll("::", "").includes(":") ? undefined : target;
}

/** A uprobe as the loader names it for probe(): its binary (as the program names it here) and the function fired. */
function uprobeName(kind: "uprobe" | "uretprobe", p: SimProgram, target: string): string {
  const a = p.spec.attach;
  return a.kind === "uprobe" ? `${kind}:${a.binary}:${firedFunction(p, target) ?? target}` : kind;
}

function matchesUprobe(p: Pick<SimProgram, "spec">, target: string): boolean {
  const a = p.spec.attach;
  const fired = firedFunction(p, target);
  if (a.kind !== "uprobe" || fired === undefined) return false;
  return a.func === undefined ? fired === `0x${a.offset.toString(16)}` : nameMatches(a.func, fired);
}

/**
 * Loads a probe into the VM: a TypeScript probe file (compiled), a compiled object's path or bytes
 * (clang's too), or `{ fileName, text }`. Maps, global data and relocations are set up as the loader
 * does for the kernel, and every program must pass the verifier model first.
 */
export async function simulate(probe: ProbeSource, options: SimulateOptions = {}): Promise<Simulation> {
  checkOptions(options);
  const btfPath = typeof options.btf === "string" ? options.btf : undefined;
  let kernelTypes: ReturnType<typeof kernelBtf> | undefined;
  let kernelError: string | undefined;
  const sim = new Simulation(options, (s) => [
    {
      label: sourceLabel(btfPath),
      get: () => {
        if (options.btf && typeof options.btf !== "string") return options.btf;
        if (kernelTypes || kernelError) return kernelTypes;
        try {
          kernelTypes = btfPath ? parseBtf(readFileSync(btfPath)) : kernelBtf();
        } catch (e) {
          kernelError = (e as NodeJS.ErrnoException).code ?? String(e);
        }
        return kernelTypes;
      },
      missing: () => kernelError,
    },
    { label: "the probe's BTF", get: () => s.objectBtf, missing: () => "the object has no BTF" },
    // A struct the file declares but only reads from memory (readUser<Request>(p)) is in no map, so not in that BTF.
    { label: "the probe file's structs", get: () => s.fileTypes, missing: () => "the probe is an object, not a file" },
  ]);
  return sim.load(probe);
}

export { SimulationError };
