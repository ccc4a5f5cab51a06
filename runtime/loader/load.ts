// The kernel side of loading: the object's BTF loaded, maps created and filled, programs linked and loaded,
// all through `Sys`. Takes a `Sys` and an `ObjectSpec`; gives a `LoadedObject` that owns every fd it created
// (BTF, maps, programs, and the attachments made through it) and releases them all with `close()`. A refused
// program becomes a `LoadError` carrying the verifier's reason line, the source line of the instruction it
// refused (through the object's line info) and its whole log; nothing stays open after a failure.
// BTF is optional, as in libbpf: kinds the kernel lacks are rewritten (btf-sanitize.ts), and a kernel that still
// refuses it gets the object without it, and a warning. Maps pinned by name are reused from bpffs or pinned there
// (pin.ts); initial values of program arrays and maps of maps go in once their targets exist (slots.ts).

import { statSync, statfsSync, type BigIntStats } from "node:fs";
import { BpfLoadError, SysError, type Sys } from "../sys/sys.js";
import { missingBpfPrivileges } from "../sys/kernel.js";
import { AttachType, MapType, ProgType, mapTypeName } from "../sys/constants.js";
import { isGlob } from "../../compiler/glob.js";
import { CgroupPathError, KernelSymbolError, LoadError, MapRefusedError, ObjectError, UserSymbolError } from "./errors.js";
import { SymbolError, executableSymbol, resolveBinary } from "./elfsym.js";
import { kallsymsAddresses, readKallsyms } from "./symbolize.js";
import { similarNames } from "../../compiler/similar.js";
import { USDT_SPECS_MAP } from "./usdt.js";
import { BTF_HOOK_NOT_ATTACHED, attachProgram, kprobesUnsupported, tracepointAlternative, type AttachOptions, type Attachment, type UsdtSpecTable } from "./attach.js";
import { kernelName, type BtfHook, type MapShape, type MapSpec, type ObjectSpec, type ProgramSpec } from "./object.js";
import { BtfError, type Btf } from "../../compiler/btf/index.js";
import { hasCoreRelocations, kernelBtf, resolveCore } from "./core.js";
import type { ResolutionStore } from "./btf-resolutions.js";
import { hookBtfId, hookRefusal } from "./hooks.js";
import { encodeProgram, linkProgram, type LinkedProgram } from "./relocate.js";
import type { BpfProgram } from "../../compiler/elf/read.js";
import { kernelObjectBtf, programBtfInfo } from "./btf-load.js";
import { BTF_FEATURES, btfForKernel, type BtfFeature, type BtfFeatures } from "./btf-sanitize.js";
import { mapBtfTypes, objectBtf } from "./maps.js";
import { hostExterns, KCONFIG_SECTION, POISON_KFUNC_BASE, resolveExterns, type ExternEnvironment, type ResolvedExterns } from "./externs.js";
import { formatLocation, lineInfo, SourceMap } from "./lines.js";
import { pinMap, pinPath, reusePinned } from "./pin.js";
import { fillSlots } from "./slots.js";
import { cgroupPaths, kaddrSymbols, readsTargetPid, setGlobals, uaddrSymbols, type GlobalValue } from "./globals.js";
import { KADDR_PREFIX, TARGET_PID_VARIABLE } from "../../compiler/ir/index.js";
import { Op } from "../../compiler/isa/opcodes.js";

export interface LoadOptions {
  /** Verifier log level for successful loads too (LogLevel bits); default 0 (a log only on rejection). */
  logLevel?: number;
  /** Types CO-RE relocations resolve against; default the running kernel's /sys/kernel/btf/vmlinux. */
  targetBtf?: Btf;
  /** Load only these programs (by function name); default all but those in "?" sections. */
  programs?: readonly string[];
  /** What the kernel's BTF takes, instead of probing for it; a feature marked false is rewritten away (btf-sanitize.ts). */
  btfFeatures?: Partial<BtfFeatures>;
  /** What externs resolve against (kernel config, release, kallsyms, BTF); default the running kernel's, part by part. */
  externs?: Partial<ExternEnvironment>;
  /** Directory of the maps pinned by name (`LIBBPF_PIN_BY_NAME`); default /sys/fs/bpf, as in libbpf. */
  pinRoot?: string;
  /** Values of global variables, written before their maps are created and frozen (globals.ts). */
  globals?: ReadonlyMap<string, GlobalValue>;
  /** The pid a tsbpf probe's targetPid() gives (its `.rodata` variable, when the object has one); default 0. */
  targetPid?: number;
  /**
   * Load uprobe globs for one BPF_TRACE_UPROBE_MULTI link each (true), or for a perf event per function (false);
   * default: where the running kernel has such links (Linux 6.6).
   */
  uprobeMulti?: boolean;
  /**
   * Where the CO-RE resolutions and hook BTF ids of this object were kept by an earlier load on this kernel (and are
   * kept by this one): with them, vmlinux's BTF is not read. Not used with `targetBtf`.
   */
  resolutions?: ResolutionStore;
}

export interface LoadedMap {
  name: string;
  spec: MapSpec;
  fd: number;
  /** Where the map is pinned (`LIBBPF_PIN_BY_NAME`); the pin stays when the object is closed. */
  pinPath?: string;
  /** The map was found pinned and reused, not created: its contents are what they were. */
  reused?: boolean;
}

export interface LoadedProgram {
  name: string;
  spec: ProgramSpec;
  fd: number;
  /** Instructions handed to the kernel (sub-programs included). */
  insnCount: number;
  /** The functions linked into it: the program, then every sub-program it calls or takes the address of. */
  functions: readonly BpfProgram[];
  /** The verifier log; empty unless a log level was asked for. */
  log: string;
}

const ZERO_KEY = new Uint8Array(4);

/** An object in the kernel: its maps and programs, and the attachments made through it. */
/** Why attachAll() leaves a loaded program unattached (a section naming no target, begin/end, an iterator), or undefined. */
export function notAttached(spec: ProgramSpec): string | undefined {
  const a = spec.attach;
  if (a.kind === "run") return `a ${a.when}() program runs once (run()), it is not attached`;
  if (a.kind === "manual") return a.why;
  if (a.kind === "btf") return BTF_HOOK_NOT_ATTACHED[a.hook];
  return undefined;
}

export class LoadedObject {
  readonly maps = new Map<string, LoadedMap>();
  readonly programs = new Map<string, LoadedProgram>();
  readonly attachments: Attachment[] = [];
  /** The object's BTF in the kernel; undefined when the object has none or the kernel refused it. */
  btfFd: number | undefined;
  /** BTF features the kernel lacks, rewritten out of the BTF it was given (btf-sanitize.ts). */
  btfRewritten: readonly BtfFeature[] = [];
  /** What was left out because the kernel refused it (BTF, a map's BTF types, a program's line info). */
  readonly warnings: string[] = [];
  private closed = false;

  constructor(
    readonly sys: Sys,
    readonly spec: ObjectSpec,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  map(name: string): LoadedMap {
    const m = this.maps.get(name);
    if (!m) throw new Error(`no map ${name} (maps: ${[...this.maps.keys()].join(", ") || "none"})`);
    return m;
  }

  program(name: string): LoadedProgram {
    const p = this.programs.get(name);
    if (!p) throw new Error(`no program ${name} (programs: ${[...this.programs.keys()].join(", ") || "none"})`);
    return p;
  }

  /** The current bytes of a global variable (in .data, .bss or .rodata), read from its map. */
  variable(name: string): Uint8Array {
    for (const m of this.maps.values()) {
      const v = m.spec.origin === "data" ? m.spec.variables.find((s) => s.name === name) : undefined;
      if (!v) continue;
      const value = this.sys.mapLookup(m.fd, ZERO_KEY);
      if (!value) throw new Error(`map ${m.name} has no element 0`);
      return value.slice(v.offset, v.offset + v.size);
    }
    throw new Error(`no global variable ${name}`);
  }

  /**
   * Runs a program once with BPF_PROG_TEST_RUN and no context (a begin() or end() program, bpftrace's BEGIN and END,
   * in this process's context); gives its return value (the kernel's u32).
   */
  run(name: string): number {
    this.checkOpen();
    // A raw tracepoint's test run takes its arguments (none read here) and refuses a repeat count or an output buffer.
    return this.sys.progTestRun(this.program(name).fd, { ctxIn: new Uint8Array(8), ctxSizeOut: 0, repeat: 0 }).retval;
  }

  /** Attaches one program to the target its section names. */
  attach(name: string, options?: AttachOptions): Attachment {
    this.checkOpen();
    const a = attachProgram(this.sys, this.program(name).fd, this.program(name).spec, options, this.usdtSpecs());
    this.attachments.push(a);
    return a;
  }

  /**
   * Attaches every program whose section names a target; programs that name none ("socket", "kprobe" alone)
   * are skipped and listed. Any failure detaches what this call attached and rethrows.
   */
  attachAll(options?: AttachOptions): { attached: Attachment[]; skipped: { program: string; why: string }[] } {
    this.checkOpen();
    const attached: Attachment[] = [];
    const skipped: { program: string; why: string }[] = [];
    try {
      for (const p of this.programs.values()) {
        const why = notAttached(p.spec);
        if (why !== undefined) skipped.push({ program: p.name, why });
        else attached.push(this.attach(p.name, options));
      }
    } catch (e) {
      for (const a of attached) this.detach(a);
      throw e;
    }
    return { attached, skipped };
  }

  detach(a: Attachment): void {
    const i = this.attachments.indexOf(a);
    if (i >= 0) this.attachments.splice(i, 1);
    a.close();
  }

  /**
   * Detaches every attachment at once, each close on a worker thread: the kernel's wait per tracing detach
   * (RCU grace periods) then overlaps instead of adding up. Rejects with the first failure after all have run.
   */
  async detachAll(): Promise<void> {
    const results = await Promise.allSettled(this.attachments.splice(0).map((a) => a.closeAsync()));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** Detaches and closes everything, newest first; idempotent. Rethrows the first close error after trying all. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const errors: unknown[] = [];
    const attempt = (f: () => void) => {
      try {
        f();
      } catch (e) {
        errors.push(e);
      }
    };
    for (const a of this.attachments.splice(0).reverse()) attempt(() => a.close());
    for (const p of [...this.programs.values()].reverse()) attempt(() => this.sys.close(p.fd));
    for (const m of [...this.maps.values()].reverse()) attempt(() => this.sys.close(m.fd));
    if (this.btfFd !== undefined) attempt(() => this.sys.close(this.btfFd!));
    this.btfFd = undefined;
    this.programs.clear();
    this.maps.clear();
    if (errors.length > 0) throw errors[0];
  }

  /** The object's `__bpf_usdt_specs` map (usdt.bpf.h) and the argument specs its USDT attachments wrote there. */
  private usdtSpecs(): UsdtSpecTable {
    const m = this.maps.get(USDT_SPECS_MAP);
    this.usdtIds.map = m ? { fd: m.fd, maxEntries: m.spec.maxEntries, valueSize: m.spec.valueSize } : undefined;
    return this.usdtIds;
  }

  private readonly usdtIds: UsdtSpecTable = { map: undefined, ids: new Map() };

  private checkOpen(): void {
    if (this.closed) throw new Error(`object ${this.spec.name} is closed`);
  }
}

/**
 * The values to write into global variables: the ones given, targetPid()'s when the object reads it, and each kaddr()'s
 * address from /proc/kallsyms.
 */
function globalValues(spec: ObjectSpec, given: ReadonlyMap<string, GlobalValue> | undefined, pid: number | undefined): ReadonlyMap<string, GlobalValue> {
  const values = new Map(given ?? []);
  if (pid !== undefined && readsTargetPid(spec.maps)) values.set(TARGET_PID_VARIABLE, BigInt(pid));
  const symbols = kaddrSymbols(spec.maps);
  if (symbols.length) for (const [name, address] of kernelAddresses(symbols, readKallsyms())) values.set(`${KADDR_PREFIX}${name}`, address);
  for (const u of uaddrSymbols(spec.maps)) values.set(u.variable, userAddress(u.binary, u.symbol, pid));
  for (const c of cgroupPaths(spec.maps)) values.set(c.variable, cgroupPathId(c.path));
  return values;
}

/** CGROUP2_SUPER_MAGIC, statfs()'s f_type of a cgroup v2 file system. */
const CGROUP2_MAGIC = 0x63677270;

/**
 * cgroupId(path), bpftrace's cgroupid(): the id bpf_get_current_cgroup_id() gives the tasks of the cgroup v2 directory
 * at `path`, its inode number (the kernfs node's id); a path elsewhere, or missing, fails the load naming it.
 */
export function cgroupPathId(path: string): bigint {
  const refuse = (why: string): never => {
    throw new CgroupPathError(path, `cgroupId("${path}"): ${why}`);
  };
  let stat: BigIntStats;
  try {
    stat = statSync(path, { bigint: true });
  } catch (e) {
    return refuse(`${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such directory" : (e as Error).message}; a cgroup v2 directory's path is wanted, as /sys/fs/cgroup/system.slice`);
  }
  if (!stat.isDirectory()) return refuse("not a directory; a cgroup v2 directory's path is wanted, as /sys/fs/cgroup/system.slice");
  if (Number(statfsSync(path).type) !== CGROUP2_MAGIC) return refuse("not in a cgroup v2 file system (cgroup2 is mounted where `findmnt -t cgroup2` says)");
  return stat.ino;
}

/** uaddr(binary, symbol): the symbol's address in the executable found as uprobe() finds it (-p's copy of a library first). */
export function userAddress(binary: string, symbol: string, pid?: number): bigint {
  try {
    return executableSymbol(resolveBinary(binary, pid), symbol);
  } catch (e) {
    if (e instanceof SymbolError) throw new UserSymbolError(binary, symbol, `uaddr("${binary}", "${symbol}"): ${e.message}`);
    throw e;
  }
}

/** The addresses of the symbols kaddr() names; a symbol kallsyms lacks, or shows as 0, fails the load naming it. */
export function kernelAddresses(symbols: readonly string[], kallsyms: string): Map<string, bigint> {
  const found = kallsymsAddresses(kallsyms, symbols);
  for (const symbol of symbols) {
    const address = found.get(symbol);
    if (address === 0n) throw new KernelSymbolError(symbol, `kaddr("${symbol}"): /proc/kallsyms shows kernel addresses as 0 to this user (kernel.kptr_restrict): run as root`);
    if (address !== undefined) continue;
    if (!kallsyms) throw new KernelSymbolError(symbol, `kaddr("${symbol}"): /proc/kallsyms cannot be read, so no symbol's address is known`);
    const near = similarNames(symbol, nearKallsyms(kallsyms, symbol));
    throw new KernelSymbolError(symbol, `kaddr("${symbol}"): the running kernel has no symbol ${symbol} in /proc/kallsyms${near.length ? ` (did you mean ${near.join(" or ")}?)` : ""}; it lists variables only where CONFIG_KALLSYMS_ALL is set`);
  }
  return found;
}

/** kallsyms' names sharing a 3-character prefix with `symbol`: what a suggestion is chosen from (it lists ~200,000). */
function nearKallsyms(kallsyms: string, symbol: string): string[] {
  const prefix = symbol.slice(0, 3);
  const out = new Set<string>();
  for (const m of kallsyms.matchAll(/^\S+ \S (\S+)/gm)) if (m[1]!.startsWith(prefix)) out.add(m[1]!);
  return [...out];
}

/** Creates the maps, links and loads the programs. On any failure everything created so far is closed. */
export function loadObject(sys: Sys, spec: ObjectSpec, options: LoadOptions = {}): LoadedObject {
  const loaded = new LoadedObject(sys, spec);
  const pins: string[] = [];
  try {
    // Link first: relocation errors should not cost any kernel object.
    const wanted = options.programs ? new Set(options.programs) : undefined;
    for (const n of wanted ?? []) {
      if (spec.programs.some((p) => p.name === n)) continue;
      const names = spec.programs.map((p) => p.name);
      const near = similarNames(n, names);
      throw new ObjectError(`no program ${n} in the object${near.length ? ` (did you mean ${near.join(" or ")}?)` : ""}; its programs are ${names.join(", ")}`);
    }
    const chosen = spec.programs.filter((p) => (wanted ? wanted.has(p.name) : p.autoload));
    for (const p of chosen) if (p.unloadable) throw new ObjectError(`program ${p.name} (section ${p.section}) cannot be loaded: ${p.unloadable}`);
    for (const p of spec.programs) if (p.unloadable && !wanted) loaded.warnings.push(`program ${p.name} (section ${p.section}) is not loaded: ${p.unloadable}`);
    loaded.warnings.push(...unrelocatedData(spec));
    // What the kernel's BTF is read for, unless an earlier load of this object kept it.
    const needsCore = hasCoreRelocations(spec.raw);
    const hooked = chosen.flatMap((p) => (p.attach.kind === "btf" ? [{ program: p.name, hook: p.attach.hook, target: p.attach.name }] : []));
    const store = options.targetBtf || !(needsCore || hooked.length) ? undefined : options.resolutions;
    const kept = store?.read();
    const target = () => options.targetBtf ?? kernelBtf();
    const core = needsCore ? (kept?.core ?? resolveCore(spec.raw, target())) : undefined;
    const hookIds = new Map(kept?.hooks);
    for (const h of hooked) if (!hookIds.has(h.program)) hookIds.set(h.program, hookBtfId(target(), h.hook, h.target));
    if (store && (kept?.core !== core || kept?.hooks.size !== hookIds.size)) store.write({ core, hooks: hookIds });
    const externs = spec.externs.length > 0 ? resolveExterns(spec, { ...hostExterns(), ...options.externs }, loaded.warnings) : undefined;
    const linked = chosen.map((p) => linkProgram(spec, p, core, externs));
    const globals = globalValues(spec, options.globals, options.targetPid);
    const initial = globals.size ? setGlobals(spec.maps, globals, objectBtf(spec), fromTypeScript(spec)) : undefined;
    loaded.btfFd = loadBtf(sys, spec, loaded, options.btfFeatures);
    const fds: number[] = [];
    for (const m of spec.maps) {
      const path = m.pinning === "by-name" ? pinPath(m, options.pinRoot) : undefined;
      const reused = path === undefined ? undefined : reusePinned(sys, m, path, mapShape(sys, m));
      const fd = reused ?? createMap(sys, spec, m, loaded);
      loaded.maps.set(m.name, { name: m.name, spec: m, fd, pinPath: path, reused: reused !== undefined });
      fds.push(fd);
      if (reused !== undefined) continue;
      initializeMap(sys, m, fd, m.origin === "data" && m.name === KCONFIG_SECTION ? externs?.kconfig : (initial?.get(m.name) ?? m.initial));
      if (path === undefined) continue;
      pinMap(sys, m, fd, path);
      pins.push(path);
    }
    fillSlots(loaded, "map");
    for (const l of linked) {
      const p = loadProgram(sys, spec, multiUprobe(sys, l.spec, options) ? { ...l, spec: { ...l.spec, expectedAttachType: AttachType.TRACE_UPROBE_MULTI } } : l, fds, hookIds.get(l.spec.name), options.logLevel ?? 0, loaded, externs);
      loaded.programs.set(p.name, p);
    }
    fillSlots(loaded, "program");
    return loaded;
  } catch (e) {
    try {
      loaded.close();
    } catch {
      /* the first error is the one worth reporting */
    }
    // A failed load takes back the pins it made (libbpf does too); reused ones stay.
    for (const path of pins) {
      try {
        sys.unpin(path);
      } catch {
        /* gone already */
      }
    }
    throw e;
  }
}

function loadBtf(sys: Sys, spec: ObjectSpec, loaded: LoadedObject, features: Partial<BtfFeatures> | undefined): number | undefined {
  const warnings = loaded.warnings;
  let data: Uint8Array | undefined;
  let rewritten: BtfFeature[] = [];
  try {
    const object = kernelObjectBtf(spec);
    if (!object) return undefined;
    // As it is first: a kernel that takes it needs no feature probes (one BPF_BTF_LOAD instead of one per kind used).
    if (!features) {
      try {
        return sys.btfLoad({ data: object }).fd;
      } catch (e) {
        if (!(e instanceof SysError)) throw e;
      }
    }
    ({ bytes: data, rewritten } = btfForKernel(sys, object, features));
  } catch (e) {
    // A type id that points nowhere (BTF is read lazily): the kernel would refuse the blob too.
    if (!(e instanceof BtfError)) throw e;
    warnings.push(`the object's BTF is malformed (${e.message}); loading without it, so verifier logs show no source lines`);
    return undefined;
  }
  if (!data) return undefined;
  try {
    const { fd } = sys.btfLoad({ data });
    loaded.btfRewritten = rewritten;
    if (rewritten.includes("func")) warnings.push(`the kernel's BTF has no ${BTF_FEATURES.func}: programs load without func and line info, so verifier logs show no source lines`);
    return fd;
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    const reason = e instanceof BpfLoadError ? (verifierReason(e.log) ?? e.code) : e.code;
    const even = rewritten.length > 0 ? ` even with ${rewritten.map((f) => BTF_FEATURES[f]).join(", ")} rewritten for it` : "";
    warnings.push(`the kernel refused the object's BTF (${reason})${even}; loading without it, so verifier logs show no source lines`);
    return undefined;
  }
}

/** The shape a map is created with: a perf event array sized 0 gets one slot per possible CPU, as libbpf does. */
function mapShape(sys: Sys, m: MapShape): MapShape {
  const maxEntries =
    m.type === MapType.PERF_EVENT_ARRAY && m.maxEntries === 0 ? sys.possibleCpus() : m.type === MapType.RINGBUF || m.type === MapType.USER_RINGBUF ? ringSize(sys, m.maxEntries) : m.maxEntries;
  return { type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries, flags: m.flags, ...(m.mapExtra !== undefined ? { mapExtra: m.mapExtra } : {}), ...(m.numaNode !== undefined ? { numaNode: m.numaNode } : {}) };
}

/** A ring buffer's size as the kernel takes it, a power-of-two number of pages: rounded up as libbpf rounds it. */
function ringSize(sys: Sys, bytes: number): number {
  if (bytes === 0) return 0; // unsized: refused with the hint for a size the definition leaves out
  let size = sys.pageSize();
  while (size < bytes && size < 2 ** 31) size *= 2;
  return size;
}

/** Map types whose values are fds or special objects: the kernel takes no BTF key and value types for them. */
const NO_BTF_TYPES: ReadonlySet<number> = new Set([
  MapType.PROG_ARRAY,
  MapType.PERF_EVENT_ARRAY,
  MapType.CGROUP_ARRAY,
  MapType.STACK_TRACE,
  MapType.ARRAY_OF_MAPS,
  MapType.HASH_OF_MAPS,
  MapType.DEVMAP,
  MapType.DEVMAP_HASH,
  MapType.CPUMAP,
  MapType.XSKMAP,
  MapType.SOCKMAP,
  MapType.SOCKHASH,
  MapType.REUSEPORT_SOCKARRAY,
  MapType.QUEUE,
  MapType.STACK,
  MapType.ARENA,
]);

function createMap(sys: Sys, spec: ObjectSpec, m: MapSpec, loaded: LoadedObject): number {
  // A map of maps is created with a template of its inner maps, closed once the outer map exists (as libbpf does).
  const inner = m.inner && createInnerTemplate(sys, m, m.inner);
  try {
    return createOne(sys, spec, m, loaded, inner);
  } finally {
    if (inner !== undefined) sys.close(inner);
  }
}

function createInnerTemplate(sys: Sys, m: MapSpec, inner: MapShape): number {
  try {
    return sys.mapCreate({ ...mapShape(sys, inner), name: kernelName(`${m.name}.inner`) });
  } catch (e) {
    throw mapRefused(`the inner map template of ${m.name}`, m.name, inner, e);
  }
}

function createOne(sys: Sys, spec: ObjectSpec, m: MapSpec, loaded: LoadedObject, innerMapFd: number | undefined): number {
  const options = { ...mapShape(sys, m), name: m.kernelName, innerMapFd };
  // Without DATASEC (5.2) the kernel takes no keyless value type, so global data goes without BTF, as in libbpf.
  const withoutBtf = loaded.btfFd === undefined || NO_BTF_TYPES.has(m.type) || (m.origin === "data" && loaded.btfRewritten.includes("datasec"));
  const types = withoutBtf ? undefined : mapBtfTypes(spec, m);
  try {
    // Key and value types as libbpf passes them: both for a `.maps` map that declares both, the DATASEC for global data.
    if (types && types.value !== undefined && (types.key !== undefined || types.variables)) {
      try {
        return sys.mapCreate({ ...options, btfFd: loaded.btfFd, btfKeyTypeId: types.key ?? 0, btfValueTypeId: types.value });
      } catch (e) {
        if (!(e instanceof SysError) || e.code === "EPERM") throw e;
        loaded.warnings.push(`the kernel refused the BTF types of map ${m.name} (${e.code}); created it without them`);
      }
    }
    return sys.mapCreate(options);
  } catch (e) {
    throw mapRefused(`map ${m.name}`, m.name, options, e);
  }
}

function mapRefused(what: string, name: string, m: MapShape, e: unknown): unknown {
  if (!(e instanceof SysError)) return e;
  const shape = `type ${m.type}, key ${m.keySize} B, value ${m.valueSize} B, ${m.maxEntries} entries, flags 0x${m.flags.toString(16)}`;
  const reason = e.code === "EPERM" ? "permission denied (loading BPF needs root or CAP_BPF)" : `${e.code}`;
  // libbpf tools often leave a size out of the definition and set it from their own code before loading.
  const unsized = m.maxEntries === 0 ? "max_entries" : m.valueSize === 0 && m.type !== MapType.RINGBUF && m.type !== MapType.USER_RINGBUF ? "value size" : undefined;
  const bytes = m.maxEntries * (m.keySize + m.valueSize);
  const tooLarge = (e.code === "ENOMEM" || e.code === "E2BIG") && bytes >= 2 ** 30;
  // The per-CPU allocator gives one value at most PCPU_MIN_UNIT_SIZE, which the kernel checks when the map is made.
  const perCpu = PER_CPU_MAPS.has(m.type) && m.valueSize > PCPU_MIN_UNIT_SIZE && e.code === "E2BIG";
  const hint = perCpu
    ? `; a per-CPU map's value can be at most ${PCPU_MIN_UNIT_SIZE} B (one copy for each CPU): use a smaller value, or a map that is not per-CPU`
    : e.code === "EINVAL" && unsized
      ? `; its definition gives no ${unsized}, which a libbpf tool sets from its own code before loading: give it one in the definition`
      : e.code === "EINVAL" && mapTypeName(m.type) === undefined
        ? `; ${m.type} is not a map type the kernel has (tsbpf knows types up to ${Math.max(...Object.values(MapType))})`
        : tooLarge
          ? `; ${m.maxEntries} entries of ${m.keySize + m.valueSize} B are about ${humanBytes(bytes)}, more than the kernel will allocate: lower max_entries or the value size`
          : "";
  // E2BIG is always the definition's (a size, or a key or value too large); EINVAL only where it gives no size.
  const ofDefinition = e.code === "E2BIG" || tooLarge || (e.code === "EINVAL" && unsized !== undefined);
  return new MapRefusedError(`the kernel refused to create ${what} (${shape}): ${reason}${hint}`, name, reason, e.code, ofDefinition, { cause: e });
}

/** Maps of one value per CPU, whose values the kernel's per-CPU allocator gives (PCPU_MIN_UNIT_SIZE each at most). */
const PER_CPU_MAPS: ReadonlySet<number> = new Set([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH, MapType.PERCPU_CGROUP_STORAGE]);
const PCPU_MIN_UNIT_SIZE = 32768;

/** A byte count as GiB or TiB, for sizes too large to create. */
function humanBytes(n: number): string {
  return n >= 2 ** 40 ? `${(n / 2 ** 40).toFixed(1)} TiB` : `${(n / 2 ** 30).toFixed(1)} GiB`;
}

function initializeMap(sys: Sys, m: MapSpec, fd: number, initial: Uint8Array | undefined): void {
  if (initial && initial.some((b) => b !== 0)) sys.mapUpdate(fd, ZERO_KEY, initial.length === m.valueSize ? initial : padded(initial, m.valueSize));
  if (m.freeze) sys.mapFreeze(fd);
}

const padded = (b: Uint8Array, size: number): Uint8Array => {
  const out = new Uint8Array(size);
  out.set(b.subarray(0, size));
  return out;
};

/**
 * Whether a program is a uprobe glob (`uprobe//usr/bin/bash:read*`) to load for one uprobe_multi link: one link for
 * every matched function attaches and detaches in one step, where a perf event per function waits out an RCU grace
 * period per function when it is closed (2,000 of libc's functions: about three minutes here).
 */
function multiUprobe(sys: Sys, p: ProgramSpec, options: LoadOptions): boolean {
  if (p.attach.kind !== "uprobe" || p.attach.func === undefined || !isGlob(p.attach.func) || p.expectedAttachType !== undefined) return false;
  return options.uprobeMulti ?? hasUprobeMulti(sys);
}

const uprobeMultiKernels = new WeakMap<Sys, boolean>();

/** Whether the kernel loads a kprobe program for BPF_TRACE_UPROBE_MULTI (`r0 = 0; exit`, asked once per Sys). */
function hasUprobeMulti(sys: Sys): boolean {
  let has = uprobeMultiKernels.get(sys);
  if (has === undefined) {
    const insns = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    try {
      sys.close(sys.progLoad({ type: ProgType.KPROBE, insns, license: "GPL", expectedAttachType: AttachType.TRACE_UPROBE_MULTI }).fd);
      has = true;
    } catch {
      has = false;
    }
    uprobeMultiKernels.set(sys, has);
  }
  return has;
}

function loadProgram(
  sys: Sys,
  spec: ObjectSpec,
  l: LinkedProgram,
  fds: readonly number[],
  attachBtfId: number | undefined,
  logLevel: number,
  loaded: LoadedObject,
  externs: ResolvedExterns | undefined,
): LoadedProgram {
  const p = l.spec;
  const insns = encodeProgram(l, fds);
  const base = {
    type: p.type,
    insns,
    license: spec.license,
    name: kernelName(p.name),
    expectedAttachType: p.expectedAttachType,
    attachBtfId,
    flags: p.flags,
    kernVersion: spec.kernVersion,
    logLevel,
  };
  const info = loaded.btfFd === undefined || loaded.btfRewritten.includes("func") ? undefined : programBtfInfo(spec, l);
  try {
    if (info) {
      try {
        const { fd, log } = sys.progLoad({ ...base, btfFd: loaded.btfFd, ...info });
        return { name: p.name, spec: p, fd, insnCount: l.insns.length, functions: l.functions.map((f) => f.source), log };
      } catch (e) {
        // Line info the kernel cannot use (a clang quirk, an older kernel) costs the lines, not the program.
        if (!(e instanceof BpfLoadError) || !/func[_ ]info|line[_ ]info|BTF/i.test(verifierReason(e.log) ?? "")) throw e;
        loaded.warnings.push(`the kernel refused the line info of program ${p.name} (${verifierReason(e.log)}); loaded it without`);
      }
    }
    const { fd, log } = sys.progLoad(base);
    return { name: p.name, spec: p, fd, insnCount: l.insns.length, functions: l.functions.map((f) => f.source), log };
  } catch (e) {
    if (e instanceof BpfLoadError) {
      // EAGAIN: a signal ended the verifier's run (Ctrl-C; sys blocks the others, or retries five times where it cannot);
      // its partial log names no reason.
      const interrupted = e.code === "EAGAIN";
      // A poisoned CO-RE slot the verifier reached: the kernel lacks what the program reads; say what, not "unknown func".
      const core = interrupted ? undefined : l.poisoned.get(lastLoggedInsn(e.log) ?? -1);
      const reason = interrupted ? "interrupted by a signal (EAGAIN)" : (core ?? explainExtern(spec, verifierReason(e.log) ?? e.code, externs));
      const what =
        e.code === "EPERM" && !e.log
          ? p.attach.kind === "btf" && missingBpfPrivileges() === undefined
            ? hookRefusal(p.attach.hook, { kprobes: kprobesUnsupported() === undefined, tracepoint: syscallTracepoint(p.attach.hook, p.attach.name) })
            : "refused (permission denied: loading BPF needs root or CAP_BPF)"
          : interrupted
            ? "not loaded: a signal interrupted the kernel's verifier (EAGAIN)"
            : core
              ? // A member of another type is there all the same: saying it is missing would send the reader looking for the wrong thing.
                `refused: ${/incompatible with local/.test(core) ? "a kernel member it reads has a type in the running kernel that the object's BTF does not match" : "it reads what the running kernel does not have"} (${core.replace(/^CO-RE: /, "")})`
              : `rejected by the kernel's verifier: ${reason}`;
      const pc = interrupted ? undefined : (lastLoggedInsn(e.log) ?? tooManyMapsAt(e.log, insns));
      const sourceMap = pc === undefined ? undefined : new SourceMap(l, lineInfo(spec));
      const location = sourceMap?.at(pc!);
      const at = location ? `\n  at ${formatLocation(location)}` : "";
      const verifier = e.log !== "" && !core && sourceMap;
      const rejection = verifier ? { insns, progType: p.type, pc: pc!, sourceAt: (i: number) => sourceMap.at(i) } : undefined;
      throw new LoadError(`program ${p.name} (section ${p.section}) was ${what}${at}`, p.name, reason, e.log, e.code, { cause: e, location, rejection });
    }
    if (e instanceof SysError) throw new LoadError(`program ${p.name} (section ${p.section}) could not be loaded: ${e.message}`, p.name, e.code, "", e.code, { cause: e });
    throw e;
  }
}

/** Whether the object was compiled from a probe file: its line info names TypeScript sources. */
function fromTypeScript(spec: ObjectSpec): boolean {
  for (const records of lineInfo(spec).values()) if (records.some((r) => /\.[cm]?tsx?$/.test(r.fileName ?? ""))) return true;
  return false;
}

/** The instruction the verifier stopped at: the one its reason names ("infinite loop detected at insn 7"), else the last one its log shows. */
function lastLoggedInsn(log: string): number | undefined {
  const named = /^infinite loop detected at insn (\d+)$/m.exec(log) ?? /^back-edge from insn \d+ to (\d+)$/m.exec(log);
  if (named) return Number(named[1]);
  const last = [...log.matchAll(/^(\d+): \([0-9a-f]{2}\)/gm)].at(-1);
  return last ? Number(last[1]) : undefined;
}

/**
 * For "The total number of maps per program has reached the limit of N", which the kernel says before it logs any
 * instruction: the LDDW naming the program's (N+1)th map, the one resolve_pseudo_ldimm64 refused.
 */
function tooManyMapsAt(log: string, insns: Uint8Array): number | undefined {
  const limit = /The total number of maps per program has reached the limit of (\d+)/.exec(log);
  if (!limit) return undefined;
  const view = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  const seen = new Set<number>();
  for (let pc = 0; pc * 8 + 16 <= insns.length; pc++) {
    if (insns[pc * 8] !== Op.LDDW) continue;
    // BPF_PSEUDO_MAP_FD and BPF_PSEUDO_MAP_VALUE name a map by its fd in imm; the source register is the high nibble.
    const src = insns[pc * 8 + 1]! >> 4;
    if (src === 1 || src === 2) {
      const fd = view.getInt32(pc * 8 + 4, true);
      if (!seen.has(fd) && seen.size >= Number(limit[1])) return pc;
      seen.add(fd);
    }
    pc++;
  }
  return undefined;
}

/**
 * A verifier reason about an extern, with what it means: a reached call to a weak kfunc the kernel lacks (the
 * poisoned call's helper number names it), or a typed ksym whose address the kernel's kallsyms does not give.
 */
function explainExtern(spec: ObjectSpec, reason: string, externs: ResolvedExterns | undefined): string {
  if (!externs) return reason;
  const poisoned = /unknown#(\d+)/.exec(reason);
  const index = poisoned ? Number(poisoned[1]) - POISON_KFUNC_BASE : -1;
  const kfunc = index >= 0 ? spec.externs[index] : undefined;
  if (kfunc?.kind === "kfunc" && externs.values.get(kfunc.name)?.kind === "poison") {
    return `${reason} (a call to __weak kfunc ${kfunc.name}, which the running kernel does not export, is reachable)`;
  }
  if (/failed to find the address for kernel symbol/.test(reason)) {
    return `${reason} (the kernel finds typed ksyms by name in its kallsyms, which lists variables only with CONFIG_KALLSYMS_ALL)`;
  }
  return reason;
}

/**
 * The verifier's reason: the last line of its log that is neither statistics nor a trace of instructions, nor the
 * register states it prints after "infinite loop detected".
 */
export function verifierReason(log: string): string | undefined {
  // Some of the kernel's messages end without a newline ("invalid type id 999999 in func info"), so that its
  // statistics follow on the same line.
  const lines = log
    .replace(/(?<=\S)(processed \d+ insns)/g, "\n$1")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^(processed \d+ insns|verification time|stack depth|-- BEGIN PROG LOAD LOG|-- END PROG LOAD LOG|cur state:|old state:)/.test(l));
  return lines.at(-1);
}

/** The syscall tracepoint an fentry (sys_enter_), fexit (sys_exit_) or fmod_ret program's function stands for, if any. */
function syscallTracepoint(hook: BtfHook, func: string): string | undefined {
  if (hook !== "fentry" && hook !== "fexit" && hook !== "fmod_ret") return undefined;
  const entry = tracepointAlternative(func);
  return hook === "fexit" ? entry?.replace(":sys_enter_", ":sys_exit_") : entry;
}

/**
 * Addresses that global data holds (`const char *names[] = { "read", "write" }`): BPF has no relocation to fill them
 * in, so they keep their offsets into the sections they point to, as libbpf leaves them; a program that follows one
 * reads nothing it meant to. One warning per data section that has them.
 */
function unrelocatedData(spec: ObjectSpec): string[] {
  return spec.raw.dataSections.flatMap((d) => {
    const first = d.relocations[0];
    if (!first) return [];
    const holder = d.symbols.find((v) => first.offset >= v.offset && first.offset < v.offset + Math.max(v.size, 1))?.name;
    const target = first.symbolSection ?? first.symbol;
    return [
      `${d.name} holds addresses${holder ? ` (${holder})` : ""} of ${target}, which nothing fills in for BPF (libbpf leaves them too): a program following one reads from an offset into ${target}, not from what it pointed to; keep such strings in an array of char arrays instead (const char names[][8] = { ... })`,
    ];
  });
}
