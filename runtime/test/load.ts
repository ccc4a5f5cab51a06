// Loading a probe into the VM exactly as the loader loads it into the kernel: compile a TypeScript
// probe file (or take a compiled object, clang's included), parse it with runtime/loader, create its
// maps and global data, link each program (sub-programs, map and data relocations, CO-RE against the
// kernel's BTF), run the verifier model on the result, then hand the same bytes to the VM.
// Takes a probe source and options; gives a LoadedSimulation, or a SimulationError saying what failed.

import { readFileSync } from "node:fs";
import { BtfKind, parseBtf, type Btf } from "../../compiler/btf/index.js";
import { decode, Helper } from "../../compiler/isa/index.js";
import { KADDR_PREFIX, TARGET_PID_VARIABLE, type Layout } from "../../compiler/ir/index.js";
import { describeError, gaveUp, passedLimit, tracepointContext, verify, type MapDesc, type TracepointContext } from "../../compiler/verifier/index.js";
import {
  ObjectError,
  encodeProgram,
  hasCoreRelocations,
  kernelBtf,
  linkProgram,
  programFunctions,
  mapBtfTypes,
  mapValueFields,
  noSuchGlobal,
  objectBtf as parsedObjectBtf,
  objectNameOf,
  openObject,
  readsTargetPid,
  kaddrSymbols,
  uaddrSymbols,
  cgroupPaths,
  resolveCore,
  type CoreResolutions,
  type LinkedProgram,
  type MapSpec,
  type ObjectSpec,
  type ProgramSpec,
  tsbpfVariable,
  UnresolvedExternError,
} from "../loader/index.js";
import { ArrayOfMaps, HashOfMaps, ProgArrayMap, VmLoadError, type BpfMap, type LoadedProgram, type MapRegistry, type Vm, type VmEnv } from "../vm/index.js";
import { KCONFIG_SECTION, POISON_KFUNC_BASE, type ExternValue, type ResolvedExterns } from "../loader/externs.js";
import { setGlobals } from "../loader/globals.js";
import { GlobalValueError } from "../loader/errors.js";
import { SimulationError, usage } from "./errors.js";
import { shown } from "./check.js";
import { parseTracepointFormat } from "../../compiler/frontend/tracepoints.js";
import { createMap, MapView } from "./maps.js";
import { encodeScalar, encodeValue, type CValue } from "./layout.js";
import { formatLocation, lineInfo, SourceMap } from "./source.js";

/** A probe: a path to a TypeScript probe file or a compiled object, object bytes, or TypeScript text. */
export type ProbeSource = string | Uint8Array | { fileName: string; text: string };

export interface LoadOptions {
  /** Kernel BTF for CO-RE relocations and struct layouts: a path or a parsed Btf (default /sys/kernel/btf/vmlinux). */
  btf?: string | Btf;
  /** Run the verifier model before loading (default true), as the kernel would. */
  verify?: boolean;
  /** Tracepoint format texts by "group/name", for compiling and firing without tracefs. */
  tracepointFormats?: Readonly<Record<string, string>>;
  /** Where tracefs is mounted (default /sys/kernel/tracing, then /sys/kernel/debug/tracing). */
  tracefs?: string;
  /** Initial values of global variables (.rodata, .data, .bss) by name, set before loading, as a libbpf skeleton does. */
  globals?: Readonly<Record<string, CValue>>;
  /**
   * Global variables' values as text, by name, read as `tsbpf run --set NAME=TEXT` reads them (`{ minMs: "10" }`, an
   * array's elements comma-separated): what a recording's `run.set` holds. Applied after `globals`.
   */
  set?: Readonly<Record<string, string>>;
  /** What a probe's targetPid() gives, as `tsbpf run --command`/`--pid` sets it (default 0, no target). */
  targetPid?: number;
  /** The addresses kaddr("NAME") gives, by NAME, as `tsbpf run` reads them from /proc/kallsyms; a kaddr() of another fails the load. */
  kernelSymbols?: Readonly<Record<string, bigint | number>>;
  /** The addresses uaddr(BINARY, NAME) gives, by "BINARY:NAME" as the probe writes them, as `tsbpf run` reads them from the binary. */
  userSymbols?: Readonly<Record<string, bigint | number>>;
  /** The ids cgroupId(PATH) gives, by PATH, as `tsbpf run` reads them (the directory's inode number); a cgroupId() of another path fails the load. */
  cgroupIds?: Readonly<Record<string, bigint | number>>;
  /** Object name (prefix of global data map names); default from the file name. */
  name?: string;
  /** The architecture whose pt_regs layout a TypeScript probe's arguments are compiled for (default: the host's). */
  arch?: string;
  /**
   * The code generator for a TypeScript probe: tsbpf's own (default) or LLVM's. `TSBPF_BACKEND=llvm` in the
   * environment changes the default, so that a whole test suite runs against LLVM's objects.
   */
  backend?: "own" | "llvm";
}

export interface SimProgram {
  name: string;
  spec: ProgramSpec;
  linked: LinkedProgram;
  /** The relocated instructions handed to the verifier and the VM (map fds filled in). */
  bytes: Uint8Array;
  vm: LoadedProgram;
  source: SourceMap;
  /** The verifier model gave up on it past its instruction limit: the kernel's verifier may refuse it as too large. */
  tooLarge?: boolean;
}

export interface LoadedSimulation {
  object: ObjectSpec;
  /** The object's own BTF (its declared types), if any. */
  objectBtf: Btf | undefined;
  /** A probe file's own structs, those no map or record holds too (the object's BTF lacks them); undefined for an object. */
  fileTypes: Btf | undefined;
  programs: SimProgram[];
  /** Programs the simulator cannot run (one that calls a kfunc the simulated kernel lacks), and why: firing one is an error. */
  unavailable: UnavailableProgram[];
  maps: Map<string, MapView>;
}

export interface UnavailableProgram {
  name: string;
  spec: ProgramSpec;
  reason: string;
}

/** A compiled probe file: its object, and BTF of the structs the file declares (compiler/object/btf.ts's structsBtf). */
interface CompiledProbe {
  bytes: Uint8Array;
  fileTypes: Uint8Array;
}

const compiled = new Map<string, CompiledProbe>();

/**
 * Object bytes and a name for the probe; TypeScript is compiled (and cached by content for this process), and then
 * also gives the BTF of the file's own structs.
 */
async function objectBytes(input: ProbeSource, options: LoadOptions): Promise<{ bytes: Uint8Array; name: string; fileTypes?: Uint8Array }> {
  checkProbeSource(input);
  if (input instanceof Uint8Array) return { bytes: input, name: options.name ?? "obj" };
  let ts: { fileName: string; text: string };
  if (typeof input === "string") {
    let data: Buffer;
    try {
      data = readFileSync(input);
    } catch (e) {
      throw new SimulationError(`cannot read ${input}: ${(e as NodeJS.ErrnoException).code ?? e}`, "usage");
    }
    if (!/\.[cm]?tsx?$/.test(input)) return { bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), name: options.name ?? objectNameOf(input) };
    ts = { fileName: input, text: data.toString("utf8") };
  } else ts = input;
  const name = options.name ?? (ts.fileName.split("/").pop() ?? "probe").replace(/\.[cm]?tsx?$/, "");
  const formats = options.tracepointFormats;
  // A text the compiler finds no field in would type the record as {}: its fields' errors would not say why.
  for (const [key, text] of Object.entries(formats ?? {})) {
    const [group, tp] = key.split(/[/:]/);
    if (typeof text !== "string" || !tp) throw usage(`tracepointFormats takes format-file texts by "group/name", not ${shown(key)}: ${shown(text)}`);
    if (parseTracepointFormat(group!, tp, text).fields.length === 0) {
      throw usage(`tracepointFormats["${key}"] has no field lines (\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;): give the text of /sys/kernel/tracing/events/${group}/${tp}/format`);
    }
  }
  const backend = options.backend ?? (process.env.TSBPF_BACKEND === "llvm" ? "llvm" : "own");
  const key = JSON.stringify([ts.fileName, ts.text, formats ?? null, options.tracefs ?? null, typeof options.btf === "string" ? options.btf : null, options.arch ?? null, backend]);
  const hit = compiled.get(key);
  if (hit) return { ...hit, name };
  // The compiler loads TypeScript: only objects that need it pay for that.
  const { compile, formatDiagnostics } = await import("../../compiler/index.js");
  const { structsBtf } = await import("../../compiler/object/btf.js");
  let structs: Layout[] = [];
  const result = compile(ts, {
    onLowered: (lowered) => (structs = lowered.structs),
    arch: options.arch,
    backend,
    tracefs: options.tracefs,
    tracepointFormat: formats ? (g, n) => formats[`${g}/${n}`] ?? formats[`${g}:${n}`] : undefined,
    tracepointNames: formats ? () => Object.keys(formats).map((k) => k.replace(":", "/")) : undefined,
    vmlinuxBtf: typeof options.btf === "string" ? options.btf : undefined,
  });
  if (result.diagnostics.some((d) => d.severity === "error")) {
    const text = formatDiagnostics(result.diagnostics, { sources: { [ts.fileName]: ts.text } });
    // Without tracefs (not mounted, or root's alone) a test can still give the layout itself.
    const hint = !formats && result.diagnostics.some((d) => d.code === "TSBPF1013" || d.code === "TSBPF1026") ? 'Pass the formats with simulate(..., { tracepointFormats: { "group/name": text } }).\n' : "";
    throw new SimulationError(`${ts.fileName} does not compile:\n${text}${hint}`, "compile");
  }
  const probe = { bytes: result.object, fileTypes: structsBtf(structs) };
  compiled.set(key, probe);
  return { ...probe, name };
}

/** A path, object bytes, or `{ fileName, text }`: anything else fails here rather than inside the compiler. */
function checkProbeSource(input: unknown): void {
  if (typeof input === "string" || input instanceof Uint8Array) return;
  const inline = input as { fileName?: unknown; text?: unknown } | null;
  if (typeof inline === "object" && inline !== null && typeof inline.fileName === "string" && typeof inline.text === "string") return;
  throw usage(`simulate() takes a probe file's path, a compiled object's bytes (a Uint8Array) or { fileName, text } with both strings, not ${shown(input)}`);
}

function targetBtf(option: string | Btf | undefined, need = "resolves the object's CO-RE relocations"): Btf {
  if (option && typeof option !== "string") return option;
  const path = option ?? "/sys/kernel/btf/vmlinux";
  try {
    return option ? parseBtf(readFileSync(path)) : kernelBtf();
  } catch (e) {
    throw new SimulationError(`the kernel's BTF ${need}, but ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? e}); pass simulate(..., { btf: "path/to/vmlinux.btf" })`, "object");
  }
}

/** A tp_btf program's tracepoint, whose prototype in the kernel's BTF types its context for the verifier model. */
function tracepointOf(p: ObjectSpec["programs"][number], btf: string | Btf | undefined): { tracepoint?: TracepointContext } {
  if (p.attach.kind !== "btf" || p.attach.hook !== "tp_btf") return {};
  const context = tracepointContext(targetBtf(btf, "types a tp_btf program's arguments"), p.attach.name);
  if (typeof context === "string") throw new SimulationError(`program ${p.name} (section ${p.section}): ${context}`, "object", p.name);
  return { tracepoint: context };
}

/** Writes `globals` into the initial images of the data maps, by variable name. */
function applyGlobals(spec: ObjectSpec, btf: Btf | undefined, globals: Readonly<Record<string, CValue>>): void {
  for (const [name, value] of Object.entries(globals)) {
    const map = spec.maps.find((m) => m.origin === "data" && m.variables.some((v) => v.name === name));
    const v = map?.variables.find((x) => x.name === name);
    if (!map || !v) throw usage(noSuchGlobal(name, spec.maps.flatMap((m) => m.variables.map((x) => x.name)).filter((n) => !tsbpfVariable(n))));
    const image = new Uint8Array(map.valueSize);
    if (map.initial) image.set(map.initial.subarray(0, map.valueSize));
    const typeId = btf && variableType(btf, map.name, name);
    if (typeId !== undefined && !(value instanceof Uint8Array)) encodeValue(btf!, typeId, value, image, v.offset, name);
    else image.set(encodeScalar(value, v.size, name), v.offset);
    map.initial = image;
  }
}

/** Writes --set texts into the data maps' initial images through the loader's own reading of them. */
function applySet(spec: ObjectSpec, btf: Btf | undefined, set: Readonly<Record<string, string>>): void {
  let images: Map<string, Uint8Array>;
  try {
    images = setGlobals(spec.maps, new Map(Object.entries(set)), btf, true);
  } catch (e) {
    if (e instanceof GlobalValueError) throw usage(`set: ${e.message}`);
    throw e;
  }
  for (const [name, image] of images) spec.maps.find((m) => m.name === name)!.initial = image;
}

/** The BTF type of global `name` in data section `section`. */
export function variableType(btf: Btf, section: string, name: string): number | undefined {
  try {
    const sec = btf.find(section, BtfKind.DATASEC);
    if (!sec || sec.kind !== BtfKind.DATASEC) return undefined;
    for (const s of sec.vars) {
      const v = btf.typeById(s.type);
      if (v.kind === BtfKind.VAR && v.name === name) return v.type;
    }
  } catch {
    /* no type: callers fall back to raw bytes */
  }
  return undefined;
}

export async function loadSimulation(input: ProbeSource, vm: Vm, env: VmEnv & { maps: MapRegistry }, options: LoadOptions): Promise<LoadedSimulation> {
  const { bytes, name, fileTypes } = await objectBytes(input, options);
  let object: ObjectSpec;
  try {
    object = openObject(bytes, { name });
  } catch (e) {
    throw new SimulationError(`cannot load the object: ${(e as Error).message}`, "object", undefined, undefined, { cause: e });
  }
  let objectBtf: Btf | undefined;
  try {
    // The loader's parse, cached per object: its map and event decoding reuse it.
    objectBtf = parsedObjectBtf(object);
  } catch {
    objectBtf = undefined;
  }
  // Set only in an object whose probes read it, as the loader does.
  let globals = options.targetPid !== undefined && readsTargetPid(object.maps) ? { ...options.globals, [TARGET_PID_VARIABLE]: options.targetPid! } : options.globals;
  // kaddr()'s symbols: the addresses the test gives, as the loader reads them from /proc/kallsyms.
  for (const symbol of kaddrSymbols(object.maps)) {
    const address = options.kernelSymbols?.[symbol];
    if (address === undefined) throw new SimulationError(`kaddr("${symbol}") names a kernel symbol the simulation was not given an address for: simulate(probe, { kernelSymbols: { ${symbol}: 0xffffffff81000000n } })`, "object");
    globals = { ...globals, [`${KADDR_PREFIX}${symbol}`]: address };
  }
  // uaddr()'s: by "binary:symbol", as the loader reads them from the binary.
  for (const u of uaddrSymbols(object.maps)) {
    const address = options.userSymbols?.[`${u.binary}:${u.symbol}`];
    if (address === undefined) throw new SimulationError(`uaddr("${u.binary}", "${u.symbol}") names a symbol the simulation was not given an address for: simulate(probe, { userSymbols: { "${u.binary}:${u.symbol}": 0x404018 } })`, "object");
    globals = { ...globals, [u.variable]: address };
  }
  // cgroupId(path)'s: by path, as the loader reads them from the cgroup file system.
  for (const c of cgroupPaths(object.maps)) {
    const id = options.cgroupIds?.[c.path];
    if (id === undefined) throw new SimulationError(`cgroupId("${c.path}") names a cgroup the simulation was not given an id for: simulate(probe, { cgroupIds: { "${c.path}": 4242 } })`, "object");
    globals = { ...globals, [c.variable]: id };
  }
  if (globals) applyGlobals(object, objectBtf, globals);
  if (options.set) applySet(object, objectBtf, options.set);

  // Link first, as the loader does: relocation problems should name the program, not a map.
  let core: CoreResolutions | undefined;
  const linked: LinkedProgram[] = [];
  const unavailable: UnavailableProgram[] = [];
  try {
    if (hasCoreRelocations(object.raw)) core = resolveCore(object.raw, targetBtf(options.btf));
    const externs = simulatedExterns(object);
    for (const p of object.programs) {
      try {
        linked.push(linkProgram(object, p, core, externs));
      } catch (e) {
        // A program naming a kernel symbol or kfunc the simulated kernel lacks cannot run; the others still can.
        if (!(e instanceof UnresolvedExternError)) throw e;
        unavailable.push({ name: p.name, spec: p, reason: `it uses ${e.extern.kind} ${e.extern.name}, which the simulated kernel does not have` });
      }
    }
  } catch (e) {
    if (e instanceof SimulationError) throw e;
    if (e instanceof ObjectError) throw new SimulationError(`cannot load the object: ${e.message}`, "object", undefined, undefined, { cause: e });
    throw e;
  }

  const vmMaps: BpfMap[] = object.maps.map((m) => createMap(env.maps, withSimulatedKconfig(m)));
  for (const [i, m] of object.maps.entries()) {
    if (m.freeze) (vmMaps[i] as { freeze?: () => void }).freeze?.();
  }
  // A map of maps' `.values` name the object's maps; libbpf stores them (keyed by slot index) once all exist.
  for (const [i, m] of object.maps.entries()) {
    const outer = vmMaps[i];
    if (!(outer instanceof ArrayOfMaps || outer instanceof HashOfMaps)) continue;
    for (const slot of m.slots) {
      const j = object.maps.findIndex((x) => x.name === slot.name);
      if (slot.kind !== "map" || j < 0) throw new SimulationError(`map ${m.name}: slot ${slot.index} names ${slot.name}, which is not a map of the object`, "object");
      try {
        const key = new Uint8Array(outer.keySize);
        new DataView(key.buffer).setUint32(0, slot.index, true);
        const err = outer instanceof ArrayOfMaps ? outer.set(slot.index, vmMaps[j]!) : outer.set(key, vmMaps[j]!);
        if (err !== 0) throw new Error(`errno ${-err}`);
      } catch (e) {
        throw new SimulationError(`map ${m.name}: slot ${slot.index} cannot hold ${slot.name}: ${(e as Error).message}`, "object", undefined, undefined, { cause: e });
      }
    }
  }
  const fds = vmMaps.map((m) => m.fd);
  // As the kernel's verifier: a frozen map's contents (.rodata, with the globals given) are known, pruning branches and
  // checking bpf_snprintf's format; a value's special fields (spin locks, timers) are the BTF's.
  const descs: MapDesc[] = object.maps.map((m, i) => ({
    fd: fds[i]!,
    type: m.type,
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: vmMaps[i]!.maxEntries,
    flags: m.flags,
    ...(m.freeze && m.initial ? { frozen: m.initial } : {}),
    ...(m.inner ? { inner: { ...m.inner } } : {}),
    valueFields: mapValueFields(object, m),
  }));
  const lines = lineInfo(object);

  const programs: SimProgram[] = [];
  for (const l of linked) {
    const p = l.spec;
    const encoded = encodeProgram(l, fds);
    const source = new SourceMap(l, lines);
    let probeMem: ReadonlySet<number> | undefined;
    let tooLarge = false;
    if (options.verify ?? true) {
      const insns = decode(encoded, { check: false });
      const functions = programFunctions(object, l);
      const tracepoint = tracepointOf(p, options.btf);
      // bpf_get_current_task_btf()'s task is typed by the kernel's BTF, as tsbpf verify types it: its loads are probe reads.
      const taskBtf = !tracepoint.tracepoint && insns.some((i) => i.code === 0x85 && i.src === 0 && i.imm === Helper.get_current_task_btf);
      const result = verify(insns, { progType: p.type, expectedAttachType: p.expectedAttachType, maps: descs, flags: p.flags, license: object.license, ...tracepoint, ...(taskBtf ? { kernelBtf: targetBtf(options.btf, "types bpf_get_current_task_btf()'s task") } : {}), ...(functions ? { functions } : {}) });
      probeMem = result.probeMem && new Set(result.probeMem);
      tooLarge = passedLimit(result.error);
      // A model that gave up on the paths has found no fault: the program runs (the kernel may well take it).
      if (!result.accepted && !gaveUp(result.error)) {
        const at = source.at(result.error!.pc);
        const where = at ? `\n  at ${formatLocation(at)}` : "";
        throw new SimulationError(`program ${p.name} (section ${p.section}) was rejected by the verifier: ${describeError(insns, result.error!)}${where}`, "verifier", p.name, at && `${at.file}:${at.line}:${at.column}`);
      }
    }
    let loaded: LoadedProgram;
    try {
      loaded = vm.load(encoded, env, probeMem ? { probeMem } : {});
    } catch (e) {
      if (!(e instanceof VmLoadError)) throw e;
      const at = source.at(e.pc);
      throw new SimulationError(`program ${p.name} (section ${p.section}) cannot run in the simulator: ${e.message}${at ? `\n  at ${formatLocation(at)}` : ""}`, "object", p.name);
    }
    programs.push({ name: p.name, spec: p, linked: l, bytes: encoded, vm: loaded, source, ...(tooLarge ? { tooLarge } : {}) });
  }
  // A program array's `.values` (libbpf's initial slots) go in once every program is loaded, as in the kernel.
  for (const [i, m] of object.maps.entries()) {
    const array = vmMaps[i];
    if (!(array instanceof ProgArrayMap)) continue;
    for (const slot of m.slots) {
      const target = programs.find((p) => p.name === slot.name);
      if (target) array.set(slot.index, target.vm);
    }
  }

  const maps = new Map<string, MapView>();
  // Types are for decoding only: a map whose BTF cannot be read is shown as bytes.
  const typesOf = (m: ObjectSpec["maps"][number]) => {
    try {
      return objectBtf && m.origin === "btf" ? mapBtfTypes(object, m) : undefined;
    } catch {
      return undefined;
    }
  };
  const mapOf = (name: string): BpfMap | undefined => vmMaps[object.maps.findIndex((m) => m.name === name)];
  object.maps.forEach((m, i) => maps.set(m.name, new MapView(vmMaps[i]!, typesOf(m), mapOf)));
  return { object, objectBtf, fileTypes: fileTypes && parseBtf(fileTypes), programs, unavailable, maps };
}

/**
 * The kernel symbols and kfuncs the simulated kernel resolves: none, so the weak ones are absent as on a kernel without
 * them (libbpf's address 0, a poisoned call that faults only if it runs); a strong one still cannot be linked.
 */
function simulatedExterns(object: ObjectSpec): ResolvedExterns | undefined {
  const values = new Map<string, ExternValue>();
  object.externs.forEach((e, index) => {
    if (!e.weak || e.kind === "kconfig") return;
    values.set(e.name, e.kind === "kfunc" ? { kind: "poison", helper: POISON_KFUNC_BASE + index } : { kind: "address", address: 0n });
  });
  return values.size ? { kconfig: undefined, values } : undefined;
}

/**
 * The `.kconfig` map as the simulated kernel fills it: LINUX_HAS_BPF_COOKIE (libbpf's own extern) is true, since the
 * VM gives programs their attach cookie (usdt.bpf.h reads USDT specs by it); every other value stays 0.
 */
function withSimulatedKconfig(m: MapSpec): MapSpec {
  const cookie = m.name === KCONFIG_SECTION ? m.variables.find((v) => v.name === "LINUX_HAS_BPF_COOKIE") : undefined;
  if (!cookie) return m;
  const initial = new Uint8Array(m.valueSize);
  if (m.initial) initial.set(m.initial);
  initial[cookie.offset] = 1;
  return { ...m, initial };
}
