// The object model: a parsed BPF ELF object as the things the kernel will get.
// Takes the bytes of a relocatable BPF object (compiler/elf's `readBpfObject` view); gives an `ObjectSpec`:
// programs with their program type and attach target derived from `SEC()` names (libbpf's conventions),
// and map specs for legacy `maps`, BTF-defined `.maps` (through a pluggable reader) and global data
// (.rodata*, .data*, .bss*). No syscalls, and no files but a stat of a uprobe section's binary path where a ':' could
// end it or belong to it (elfsym.ts splitUprobeTarget).

import { BtfError, BtfKind, type BtfType } from "../../compiler/btf/types.js";
import { parseBtf, parseBtfExt, type Btf } from "../../compiler/btf/parse.js";
import { readBpfObject, type BpfDataSymbol, type BpfMapSection, type BpfObject, type BpfProgram } from "../../compiler/elf/read.js";
import { endianness } from "node:os";
import { STB, STT } from "../../compiler/elf/types.js";
import { AttachType, MapFlag, MapType, ProgFlag, ProgType } from "../sys/constants.js";
import { NoProgramsError, ObjectError } from "./errors.js";
import { splitUprobeTarget } from "./elfsym.js";
import { KCONFIG_SECTION, kconfigSize, readExterns, type ExternSpec } from "./externs.js";
import { PERF_EVENT_SECTION, PERF_EVENT_TAG, PROBE_TAG, RUN_SECTION, RUN_TAG, funcTags, parsePerfEventTag, type PerfEventProbe, type RunWhen } from "../../compiler/btf/tags.js";

export type BtfHook = "tp_btf" | "fentry" | "fexit" | "fmod_ret" | "lsm" | "lsm_cgroup" | "iter";

/** Where a program attaches, as its section name says. */
export type AttachTarget =
  | { kind: "tracepoint"; group: string; name: string }
  | { kind: "raw_tracepoint"; name: string }
  /** `offset` is added to the function's address; ksyscall sections name the syscall's kernel entry. */
  | { kind: "kprobe"; func: string; offset: number; retprobe: boolean }
  /** `binary` as written in the section (a path, a library name such as libc.so.6, or a program on PATH). */
  | { kind: "uprobe"; binary: string; func: string | undefined; offset: number; retprobe: boolean }
  /**
   * A USDT probe (libbpf's `usdt/BINARY:PROVIDER:NAME`): a uprobe on every site of PROVIDER:NAME in the binary,
   * each with the cookie of its argument spec in the object's `__bpf_usdt_specs` map.
   */
  | { kind: "usdt"; binary: string; provider: string; name: string }
  /**
   * A BTF-typed hook: the program is loaded for one kernel type (`attach_btf_id`) and attached with
   * BPF_RAW_TRACEPOINT_OPEN. tp_btf names a tracepoint, fentry/fexit/fmod_ret a kernel function, lsm an LSM hook.
   */
  | { kind: "btf"; hook: BtfHook; name: string }
  /**
   * A perf_event program tagged `tsbpf:perf_event=...` on its FUNC (compiler/btf/tags.ts): bpftrace's profile (a
   * cpu-clock event on every online CPU) or interval (one such event on one CPU) probe.
   */
  | ({ kind: "perf_event" } & PerfEventProbe)
  /** The section names no target ("kprobe" alone, "socket", "xdp", ...): load only, attach by hand. */
  | { kind: "manual"; why: string }
  /** bpftrace's BEGIN and END: run once by tsbpf run (BPF_PROG_TEST_RUN), not attached (compiler/btf/tags.ts RUN_TAG). */
  | { kind: "run"; when: RunWhen };

export interface ProgramSpec {
  /** Function name (kernel program names keep the first 15 characters). */
  name: string;
  section: string;
  /** ProgType value. */
  type: number;
  /** AttachType value, when the kernel wants one at load time. */
  expectedAttachType: number | undefined;
  /** ProgFlag bits (sleepable). */
  flags: number;
  attach: AttachTarget;
  /** False for a section written "?SEC" (libbpf), or one tsbpf cannot load (`unloadable`): loaded only when asked for by name. */
  autoload: boolean;
  /** Why tsbpf does not load this kind of program (struct_ops, freplace): the rest of the object loads without it. */
  unloadable?: string;
  source: BpfProgram;
  /** It calls probe() (tagged tsbpf:probe): attached with each place's probe id in the attach cookie. */
  probeNames?: boolean;
}

/** Where a map came from: a `maps` record, a `.maps` variable, or a global data section. */
export type MapOrigin = "legacy" | "btf" | "data";

export interface MapSpec {
  /** The variable's name for `maps`/`.maps`; the section name (".rodata") for global data. */
  name: string;
  /** The name given to the kernel: at most 15 characters of [A-Za-z0-9_.]. */
  kernelName: string;
  origin: MapOrigin;
  /** MapType value. */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** MapFlag bits. */
  flags: number;
  /** ELF section holding the definition or the data; relocations find the map by it and `offset` (-1 for `.kconfig`). */
  sectionIndex: number;
  /** Byte offset of the definition inside its section (0 for data). */
  offset: number;
  /** Global data: the initial value of element 0. */
  initial: Uint8Array | undefined;
  /** Frozen after its initial value is written (.rodata): programs and user space can no longer write it. */
  freeze: boolean;
  /** Global data: the variables it holds. */
  variables: BpfDataSymbol[];
  /** `__uint(pinning, LIBBPF_PIN_BY_NAME)`: pinned as <pin root>/<name>, and a map pinned there is reused. */
  pinning: "none" | "by-name";
  /** Maps of maps: the inner maps' shape, from `__array(values, struct {...})`; a template map of it is made at creation. */
  inner: MapShape | undefined;
  /** `.values = { ... }` of a program array or map of maps: the program or map each slot gets once all exist. */
  slots: MapSlot[];
}

/** What the kernel checks of a map: type, sizes, entries and flags. */
export interface MapShape {
  /** MapType value. */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** MapFlag bits. */
  flags: number;
  /** `__uint(map_extra, ...)`: a bloom filter's hash count, an arena's address. */
  mapExtra?: bigint;
  /** `__uint(numa_node, ...)`: honoured by the kernel with BPF_F_NUMA_NODE in the flags. */
  numaNode?: number;
}

/** One initial value of a program array (`kind` "program") or map of maps ("map"): the slot's key and the target's name. */
export interface MapSlot {
  index: number;
  kind: "program" | "map";
  name: string;
}

export interface ObjectSpec {
  /** Object name: the file's base name without `.bpf.o`/`.o`, used as the prefix of data map names. */
  name: string;
  license: string;
  kernVersion: number;
  programs: ProgramSpec[];
  maps: MapSpec[];
  /** `__kconfig` values, `__ksym` variables and kfuncs, resolved against the running kernel when loading. */
  externs: ExternSpec[];
  raw: BpfObject;
}

/** One map definition as read from a `.maps` section: what `readBtfMaps` gives for each variable. */
export interface MapDefinition extends MapShape {
  name: string;
  offset: number;
  pinning?: MapSpec["pinning"];
  inner?: MapShape;
  slots?: MapSlot[];
}

/** Reads BTF-defined map definitions; plugged in by whoever has a BTF parser. */
export type BtfMapReader = (object: BpfObject, section: BpfMapSection) => MapDefinition[];

export interface ParseOptions {
  /** Object name; default "obj". */
  name?: string;
  /** Reader for `.maps`; without one, an object with BTF-defined maps is refused with a clear message. */
  btfMaps?: BtfMapReader;
}

/** Parses and classifies an object. Throws ElfError for malformed ELF and ObjectError for what the loader cannot handle. */
export function parseObject(bytes: Uint8Array, options: ParseOptions = {}): ObjectSpec {
  const raw = readBpfObject(bytes);
  // The kernel runs BPF in the machine's byte order; an object of the other one would load with every value swapped.
  if (raw.littleEndian !== (endianness() === "LE")) {
    const [ours, theirs] = raw.littleEndian ? ["big", "little"] : ["little", "big"];
    throw new ObjectError(`the object is ${theirs}-endian and this machine is ${ours}-endian: compile it for this machine (clang -target bpf, which picks the host's order)`);
  }
  try {
    checkBtf(raw);
    return specFromObject(raw, options);
  } catch (error) {
    // BTF is read lazily: a dangling type id surfaces only when the map reader follows it.
    if (error instanceof BtfError) throw new ObjectError(`the object's BTF is malformed: ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * Parses the object's .BTF and .BTF.ext once, so that malformed headers and records are refused before anything
 * reads them, and follows every type's references, which the parser leaves to whoever reads the type.
 */
function checkBtf(raw: BpfObject): void {
  const btf = raw.btf ? parseBtf(raw.btf) : undefined;
  if (btf) for (const t of btf.types()) checkReferences(btf, t);
  if (raw.btfExt) parseBtfExt(raw.btfExt, btf ? { btf } : {});
}

/** A type's references name types that exist, and a struct's members lie inside it (the kernel checks both too). */
function checkReferences(btf: Btf, t: BtfType): void {
  switch (t.kind) {
    case BtfKind.ARRAY:
      btf.kindOf(t.type);
      btf.kindOf(t.indexType);
      return;
    case BtfKind.STRUCT:
    case BtfKind.UNION:
      for (const m of t.members) {
        const end = m.bitOffset + (m.bitfieldSize || btf.sizeOf(m.type) * 8);
        if (end > t.size * 8) throw new BtfError(`BTF: member ${m.name || "(anonymous)"} of ${btf.typeName(t.id)} ends at bit ${end}, past its ${t.size} bytes`);
      }
      return;
    case BtfKind.FUNC_PROTO:
      btf.kindOf(t.returnType);
      for (const p of t.params) btf.kindOf(p.type);
      return;
    case BtfKind.DATASEC:
      for (const v of t.vars) btf.kindOf(v.type);
      return;
    default:
      if ("type" in t) btf.kindOf(t.type);
  }
}

export function specFromObject(raw: BpfObject, options: ParseOptions = {}): ObjectSpec {
  const name = options.name ?? "obj";
  // A static function in a program's section (`SEC("tp/...") static int f(...)`) is no program to libbpf, which
  // refuses the object rather than leave it out unseen.
  const isStatic = raw.subprograms.find((f) => f.section !== ".text" && f.symbol !== undefined);
  if (isStatic) throw new ObjectError(`program ${isStatic.name} (section ${isStatic.section}) is static: libbpf loads only global functions as programs, and refuses an object with a static one; remove \`static\` from its definition`);
  const programs = raw.programs.map(programSpec);
  // The object's BTF, parsed once and only if a program's tags are to be read from it.
  let parsed: Btf | undefined;
  const btf = () => (parsed ??= parseBtf(raw.btf!));
  tagTargets(raw, programs, btf);
  markProbeNames(raw, programs, btf);
  const maps: MapSpec[] = [];
  for (const section of raw.mapSections) {
    const defs = section.kind === "legacy" ? readLegacyMaps(section) : readBtfSection(raw, section, options.btfMaps);
    for (const d of defs) {
      maps.push({
        name: d.name,
        kernelName: kernelName(d.name),
        origin: section.kind,
        type: d.type,
        keySize: d.keySize,
        valueSize: d.valueSize,
        maxEntries: d.maxEntries,
        flags: d.flags,
        ...(d.mapExtra !== undefined ? { mapExtra: d.mapExtra } : {}),
        ...(d.numaNode !== undefined ? { numaNode: d.numaNode } : {}),
        sectionIndex: section.index,
        offset: d.offset,
        initial: undefined,
        freeze: false,
        variables: [],
        pinning: d.pinning ?? "none",
        inner: d.inner,
        slots: d.slots ?? [],
      });
    }
  }
  for (const data of raw.dataSections) {
    const readonly = data.kind === "rodata";
    maps.push({
      name: data.name,
      kernelName: dataMapName(name, data.name),
      origin: "data",
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: data.size,
      maxEntries: 1,
      // Read-only for programs: the verifier then treats its contents as constants (printk formats must be).
      flags: readonly ? MapFlag.RDONLY_PROG : 0,
      sectionIndex: data.index,
      offset: 0,
      // .bss starts as zeroes, which a new array map already is.
      initial: data.kind === "bss" ? undefined : data.data,
      freeze: readonly,
      variables: data.symbols,
      pinning: "none",
      inner: undefined,
      slots: [],
    });
  }
  const externs = readExterns(raw);
  const kconfig = kconfigSize(externs);
  if (kconfig > 0) {
    // libbpf's `.kconfig` map: one read-only element holding every kconfig extern, filled and frozen when loading.
    maps.push({
      name: KCONFIG_SECTION,
      kernelName: dataMapName(name, KCONFIG_SECTION),
      origin: "data",
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: kconfig,
      maxEntries: 1,
      flags: MapFlag.RDONLY_PROG,
      sectionIndex: -1,
      offset: 0,
      initial: undefined,
      freeze: true,
      variables: externs.flatMap((e) => (e.kind === "kconfig" ? [{ name: e.name, offset: e.offset, size: e.size, bind: e.weak ? STB.WEAK : STB.GLOBAL, type: STT.OBJECT }] : [])),
      pinning: "none",
      inner: undefined,
      slots: [],
    });
  }
  const seen = new Set<string>();
  for (const m of maps) {
    if (seen.has(m.name)) throw new ObjectError(`two maps are named ${m.name}`);
    seen.add(m.name);
  }
  if (programs.length === 0) throw new NoProgramsError();
  return { name, license: raw.license ?? "", kernVersion: raw.version ?? 0, programs, maps, externs, raw };
}

// ---------------------------------------------------------------- section names

interface SectionKind {
  type: number;
  attachType?: number;
  flags?: number;
  /** Builds the attach target from what follows "<prefix>/" (undefined when nothing follows). */
  target: (rest: string | undefined, section: string) => AttachTarget;
  /** tsbpf does not load such programs, for this reason. */
  unloadable?: string;
}

const manual = (why: string) => (): AttachTarget => ({ kind: "manual", why });

function kprobeTarget(retprobe: boolean) {
  return (rest: string | undefined): AttachTarget => {
    if (!rest) return { kind: "manual", why: "the section names no kernel function" };
    const m = /^([^+]+)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(rest);
    // libbpf loads such a program and refuses only to attach it: the other programs must not suffer for it.
    if (!m) return { kind: "manual", why: `kprobe target "${rest}" is not FUNCTION or FUNCTION+OFFSET, so it cannot be attached from its section` };
    return { kind: "kprobe", func: m[1]!, offset: m[2] ? Number(m[2]) : 0, retprobe };
  };
}

function ksyscallTarget(retprobe: boolean) {
  return (rest: string | undefined): AttachTarget => {
    if (!rest) return { kind: "manual", why: "the section names no system call" };
    // The syscall wrappers' symbol names on x86-64 and arm64.
    const prefix = process.arch === "arm64" ? "__arm64_sys_" : "__x64_sys_";
    return { kind: "kprobe", func: prefix + rest, offset: 0, retprobe };
  };
}

function uprobeTarget(retprobe: boolean) {
  return (rest: string | undefined, section: string): AttachTarget => {
    if (!rest) return { kind: "manual", why: "the section names no binary and function" };
    // BINARY:FUNCTION[+OFFSET] or BINARY:OFFSET, the function a C++ one's name as well (`/tmp/app:app::W::leaf`).
    const [binary, where] = splitUprobeTarget(rest) ?? ["", ""];
    // libbpf loads `uretprobe/readline` (bashreadline's) and leaves it to the tool's user space, which knows the binary.
    if (!binary || !where) {
      const head = section.replace(/^\?/, "").slice(0, section.replace(/^\?/, "").indexOf("/"));
      const example = `${head}//bin/bash:${rest.replace(/^:+|:+$/g, "") || "readline"}`;
      return { kind: "manual", why: `the section names no binary ("${rest}" is not BINARY:FUNCTION[+OFFSET] or BINARY:OFFSET); to attach it, name the binary in the section, as in SEC("${example}")` };
    }
    if (/^(0x[0-9a-fA-F]+|\d+)$/.test(where)) return { kind: "uprobe", binary, func: undefined, offset: Number(where), retprobe };
    // The name may hold '+' (C++'s `operator+`): an offset is only the digits after the last one.
    const m = /^(.+?)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(where)!;
    return { kind: "uprobe", binary, func: m[1]!, offset: m[2] ? Number(m[2]) : 0, retprobe };
  };
}

/** `usdt/BINARY:PROVIDER:NAME`, as libbpf splits it (the binary holds no ':'). */
function usdtTarget(rest: string | undefined, section: string): AttachTarget {
  if (!rest) return { kind: "manual", why: 'the section names no binary and probe (libbpf\'s form is SEC("usdt/BINARY:PROVIDER:NAME"))' };
  const parts = rest.split(":");
  // libbpf loads it and refuses only to attach it.
  if (parts.length !== 3 || parts.some((p) => p === "")) return { kind: "manual", why: `section ${section} is not usdt/BINARY:PROVIDER:NAME, so it cannot be attached from its section` };
  return { kind: "usdt", binary: parts[0]!, provider: parts[1]!, name: parts[2]! };
}

function tracepointTarget(rest: string | undefined, section: string): AttachTarget {
  const parts = rest?.split("/") ?? [];
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    if (!rest) return { kind: "manual", why: "the section names no tracepoint" };
    // libbpf loads it and refuses only to attach it.
    const name = parts.filter((p) => p).pop() ?? "NAME";
    return { kind: "manual", why: `section ${section} is not tracepoint/GROUP/NAME; to attach it, name the group too, as in SEC("tracepoint/GROUP/${name}") (tsbpf list 'tracepoint:*:${name}' finds it)` };
  }
  return { kind: "tracepoint", group: parts[0], name: parts[1] };
}

function rawTracepointTarget(rest: string | undefined): AttachTarget {
  return rest ? { kind: "raw_tracepoint", name: rest } : { kind: "manual", why: "the section names no raw tracepoint" };
}

function btfTarget(hook: BtfHook) {
  return (rest: string | undefined): AttachTarget => (rest ? { kind: "btf", hook, name: rest } : { kind: "manual", why: `the section names no ${hook === "tp_btf" ? "tracepoint" : hook.startsWith("lsm") ? "LSM hook" : "kernel function"}` });
}

/** libbpf's section prefixes (tools/lib/bpf/libbpf.c section_defs) for the program types tsbpf loads. */
const SECTIONS: Record<string, SectionKind> = {
  kprobe: { type: ProgType.KPROBE, target: kprobeTarget(false) },
  kretprobe: { type: ProgType.KPROBE, target: kprobeTarget(true) },
  ksyscall: { type: ProgType.KPROBE, target: ksyscallTarget(false) },
  kretsyscall: { type: ProgType.KPROBE, target: ksyscallTarget(true) },
  uprobe: { type: ProgType.KPROBE, target: uprobeTarget(false) },
  uretprobe: { type: ProgType.KPROBE, target: uprobeTarget(true) },
  "uprobe.s": { type: ProgType.KPROBE, flags: ProgFlag.SLEEPABLE, target: uprobeTarget(false) },
  "uretprobe.s": { type: ProgType.KPROBE, flags: ProgFlag.SLEEPABLE, target: uprobeTarget(true) },
  usdt: { type: ProgType.KPROBE, target: usdtTarget },
  "usdt.s": { type: ProgType.KPROBE, flags: ProgFlag.SLEEPABLE, target: usdtTarget },
  tracepoint: { type: ProgType.TRACEPOINT, target: tracepointTarget },
  tp: { type: ProgType.TRACEPOINT, target: tracepointTarget },
  "tracepoint.s": { type: ProgType.TRACEPOINT, flags: ProgFlag.SLEEPABLE, target: tracepointTarget },
  "tp.s": { type: ProgType.TRACEPOINT, flags: ProgFlag.SLEEPABLE, target: tracepointTarget },
  raw_tracepoint: { type: ProgType.RAW_TRACEPOINT, target: rawTracepointTarget },
  raw_tp: { type: ProgType.RAW_TRACEPOINT, target: rawTracepointTarget },
  "raw_tracepoint.s": { type: ProgType.RAW_TRACEPOINT, flags: ProgFlag.SLEEPABLE, target: rawTracepointTarget },
  "raw_tp.s": { type: ProgType.RAW_TRACEPOINT, flags: ProgFlag.SLEEPABLE, target: rawTracepointTarget },
  perf_event: { type: ProgType.PERF_EVENT, target: manual(`perf_event programs attach to a perf event you open, or, tagged __attribute__((btf_decl_tag("${PERF_EVENT_TAG}profile:hz:99"))), to bpftrace's profile and interval probes`) },
  socket: { type: ProgType.SOCKET_FILTER, target: manual("socket filters attach to a socket") },
  xdp: { type: ProgType.XDP, attachType: AttachType.XDP, target: manual("XDP programs attach to a network interface") },
  tc: { type: ProgType.SCHED_CLS, target: manual("tc programs attach to a network interface") },
  classifier: { type: ProgType.SCHED_CLS, target: manual("tc programs attach to a network interface") },
  action: { type: ProgType.SCHED_ACT, target: manual("tc actions attach to a network interface") },
  syscall: { type: ProgType.SYSCALL, flags: ProgFlag.SLEEPABLE, target: manual("syscall programs are run with BPF_PROG_RUN") },
  tp_btf: { type: ProgType.TRACING, attachType: AttachType.TRACE_RAW_TP, target: btfTarget("tp_btf") },
  "tp_btf.s": { type: ProgType.TRACING, attachType: AttachType.TRACE_RAW_TP, flags: ProgFlag.SLEEPABLE, target: btfTarget("tp_btf") },
  fentry: { type: ProgType.TRACING, attachType: AttachType.TRACE_FENTRY, target: btfTarget("fentry") },
  fexit: { type: ProgType.TRACING, attachType: AttachType.TRACE_FEXIT, target: btfTarget("fexit") },
  fmod_ret: { type: ProgType.TRACING, attachType: AttachType.MODIFY_RETURN, target: btfTarget("fmod_ret") },
  "fentry.s": { type: ProgType.TRACING, attachType: AttachType.TRACE_FENTRY, flags: ProgFlag.SLEEPABLE, target: btfTarget("fentry") },
  "fexit.s": { type: ProgType.TRACING, attachType: AttachType.TRACE_FEXIT, flags: ProgFlag.SLEEPABLE, target: btfTarget("fexit") },
  "fmod_ret.s": { type: ProgType.TRACING, attachType: AttachType.MODIFY_RETURN, flags: ProgFlag.SLEEPABLE, target: btfTarget("fmod_ret") },
  lsm: { type: ProgType.LSM, attachType: AttachType.LSM_MAC, target: btfTarget("lsm") },
  "lsm.s": { type: ProgType.LSM, attachType: AttachType.LSM_MAC, flags: ProgFlag.SLEEPABLE, target: btfTarget("lsm") },
  // Loaded for its bpf_lsm_ hook, attached to a cgroup by hand (attach.ts BTF_HOOK_NOT_ATTACHED).
  lsm_cgroup: { type: ProgType.LSM, attachType: AttachType.LSM_CGROUP, target: btfTarget("lsm_cgroup") },
  // One uprobe_multi link for every function the pattern matches (Linux 6.6).
  "uprobe.multi": { type: ProgType.KPROBE, attachType: AttachType.TRACE_UPROBE_MULTI, target: uprobeTarget(false) },
  "uretprobe.multi": { type: ProgType.KPROBE, attachType: AttachType.TRACE_UPROBE_MULTI, target: uprobeTarget(true) },
  "uprobe.multi.s": { type: ProgType.KPROBE, attachType: AttachType.TRACE_UPROBE_MULTI, flags: ProgFlag.SLEEPABLE, target: uprobeTarget(false) },
  "uretprobe.multi.s": { type: ProgType.KPROBE, attachType: AttachType.TRACE_UPROBE_MULTI, flags: ProgFlag.SLEEPABLE, target: uprobeTarget(true) },
  "kprobe.multi": { type: ProgType.KPROBE, attachType: AttachType.TRACE_KPROBE_MULTI, target: manual("kprobe.multi programs attach through kprobe_multi links, which tsbpf does not make") },
  "kretprobe.multi": { type: ProgType.KPROBE, attachType: AttachType.TRACE_KPROBE_MULTI, target: manual("kprobe.multi programs attach through kprobe_multi links, which tsbpf does not make") },
  "kprobe.session": { type: ProgType.KPROBE, attachType: AttachType.TRACE_KPROBE_SESSION, target: manual("kprobe.session programs attach through kprobe_multi links, which tsbpf does not make") },
  "uprobe.session": { type: ProgType.KPROBE, attachType: AttachType.TRACE_UPROBE_SESSION, target: manual("uprobe.session programs attach through session uprobe_multi links, which tsbpf does not make") },
  "uprobe.session.s": { type: ProgType.KPROBE, attachType: AttachType.TRACE_UPROBE_SESSION, flags: ProgFlag.SLEEPABLE, target: manual("uprobe.session programs attach through session uprobe_multi links, which tsbpf does not make") },
  "raw_tp.w": { type: ProgType.RAW_TRACEPOINT_WRITABLE, target: rawTracepointTarget },
  "raw_tracepoint.w": { type: ProgType.RAW_TRACEPOINT_WRITABLE, target: rawTracepointTarget },
  iter: { type: ProgType.TRACING, attachType: AttachType.TRACE_ITER, target: btfTarget("iter") },
  "iter.s": { type: ProgType.TRACING, attachType: AttachType.TRACE_ITER, flags: ProgFlag.SLEEPABLE, target: btfTarget("iter") },
  struct_ops: { type: ProgType.STRUCT_OPS, target: manual("struct_ops"), unloadable: "struct_ops programs load with the struct_ops map that names them, which tsbpf does not create" },
  "struct_ops.s": { type: ProgType.STRUCT_OPS, target: manual("struct_ops"), unloadable: "struct_ops programs load with the struct_ops map that names them, which tsbpf does not create" },
  freplace: { type: ProgType.EXT, target: manual("freplace"), unloadable: "freplace programs load against a function of another loaded program, which tsbpf does not name" },
};

/**
 * libbpf's sections for programs that attach to a cgroup, socket, interface or map rather than a probe: loaded with
 * their type and expected attach type (so `tsbpf load` and `tsbpf verify` take such objects), attached by hand.
 * Exact names first ("cgroup/connect4"), then the part before the first "/" ("sk_skb", "tc").
 */
const byHand = (type: number, attachType: number | undefined, why: string): SectionKind => ({ type, attachType, target: manual(why) });
const cgroup = (type: number, attachType: number) => byHand(type, attachType, "cgroup programs attach to a cgroup, which tsbpf does not do for them");
const socket = (type: number, attachType?: number) => byHand(type, attachType, "socket programs attach to a socket or a sockmap, which tsbpf does not do for them");
const network = (type: number, attachType?: number) => byHand(type, attachType, "these programs attach to a network interface or hook, which tsbpf does not do for them");
const EXACT_SECTIONS: Record<string, SectionKind> = {
  "cgroup_skb/ingress": cgroup(ProgType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS),
  "cgroup_skb/egress": cgroup(ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS),
  "cgroup/skb": cgroup(ProgType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS),
  "cgroup/sock": cgroup(ProgType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE),
  "cgroup/sock_create": cgroup(ProgType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE),
  "cgroup/sock_release": cgroup(ProgType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_RELEASE),
  "cgroup/post_bind4": cgroup(ProgType.CGROUP_SOCK, AttachType.CGROUP_INET4_POST_BIND),
  "cgroup/post_bind6": cgroup(ProgType.CGROUP_SOCK, AttachType.CGROUP_INET6_POST_BIND),
  "cgroup/bind4": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_BIND),
  "cgroup/bind6": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_BIND),
  "cgroup/connect4": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_CONNECT),
  "cgroup/connect6": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_CONNECT),
  "cgroup/connect_unix": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_CONNECT),
  "cgroup/sendmsg4": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP4_SENDMSG),
  "cgroup/sendmsg6": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP6_SENDMSG),
  "cgroup/sendmsg_unix": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_SENDMSG),
  "cgroup/recvmsg4": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP4_RECVMSG),
  "cgroup/recvmsg6": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP6_RECVMSG),
  "cgroup/recvmsg_unix": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_RECVMSG),
  "cgroup/getpeername4": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_GETPEERNAME),
  "cgroup/getpeername6": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_GETPEERNAME),
  "cgroup/getpeername_unix": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_GETPEERNAME),
  "cgroup/getsockname4": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_GETSOCKNAME),
  "cgroup/getsockname6": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_GETSOCKNAME),
  "cgroup/getsockname_unix": cgroup(ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_GETSOCKNAME),
  "cgroup/sysctl": cgroup(ProgType.CGROUP_SYSCTL, AttachType.CGROUP_SYSCTL),
  "cgroup/getsockopt": cgroup(ProgType.CGROUP_SOCKOPT, AttachType.CGROUP_GETSOCKOPT),
  "cgroup/setsockopt": cgroup(ProgType.CGROUP_SOCKOPT, AttachType.CGROUP_SETSOCKOPT),
  "cgroup/dev": cgroup(ProgType.CGROUP_DEVICE, AttachType.CGROUP_DEVICE),
  "sk_skb/stream_parser": socket(ProgType.SK_SKB, AttachType.SK_SKB_STREAM_PARSER),
  "sk_skb/stream_verdict": socket(ProgType.SK_SKB, AttachType.SK_SKB_STREAM_VERDICT),
  "sk_reuseport/migrate": socket(ProgType.SK_REUSEPORT, AttachType.SK_REUSEPORT_SELECT_OR_MIGRATE),
  "xdp/devmap": network(ProgType.XDP, AttachType.XDP_DEVMAP),
  "xdp/cpumap": network(ProgType.XDP, AttachType.XDP_CPUMAP),
  // Multi-buffer XDP: the kernel lets the program see packets beyond one page only with this flag.
  "xdp.frags": { ...network(ProgType.XDP, AttachType.XDP), flags: ProgFlag.XDP_HAS_FRAGS },
  "xdp.frags/devmap": { ...network(ProgType.XDP, AttachType.XDP_DEVMAP), flags: ProgFlag.XDP_HAS_FRAGS },
  "xdp.frags/cpumap": { ...network(ProgType.XDP, AttachType.XDP_CPUMAP), flags: ProgFlag.XDP_HAS_FRAGS },
  lirc_mode2: byHand(ProgType.LIRC_MODE2, AttachType.LIRC_MODE2, "lirc_mode2 programs attach to a LIRC device, which tsbpf does not do for them"),
  "tc/ingress": network(ProgType.SCHED_CLS, AttachType.TCX_INGRESS),
  "tc/egress": network(ProgType.SCHED_CLS, AttachType.TCX_EGRESS),
  "tcx/ingress": network(ProgType.SCHED_CLS, AttachType.TCX_INGRESS),
  "tcx/egress": network(ProgType.SCHED_CLS, AttachType.TCX_EGRESS),
  "netkit/primary": network(ProgType.SCHED_CLS, AttachType.NETKIT_PRIMARY),
  "netkit/peer": network(ProgType.SCHED_CLS, AttachType.NETKIT_PEER),
};
const OTHER_SECTIONS: Record<string, SectionKind> = {
  sk_skb: socket(ProgType.SK_SKB),
  sk_msg: socket(ProgType.SK_MSG, AttachType.SK_MSG_VERDICT),
  sk_lookup: socket(ProgType.SK_LOOKUP, AttachType.SK_LOOKUP),
  sk_reuseport: socket(ProgType.SK_REUSEPORT, AttachType.SK_REUSEPORT_SELECT),
  sockops: cgroup(ProgType.SOCK_OPS, AttachType.CGROUP_SOCK_OPS),
  flow_dissector: network(ProgType.FLOW_DISSECTOR, AttachType.FLOW_DISSECTOR),
  netfilter: network(ProgType.NETFILTER, AttachType.NETFILTER),
  lwt_in: network(ProgType.LWT_IN),
  lwt_out: network(ProgType.LWT_OUT),
  lwt_xmit: network(ProgType.LWT_XMIT),
  lwt_seg6local: network(ProgType.LWT_SEG6LOCAL),
};

/** Program type, attach type and target of a section name; throws ObjectError for names libbpf would not know. */
export function classifySection(section: string): Pick<ProgramSpec, "type" | "expectedAttachType" | "flags" | "attach" | "unloadable"> {
  const slash = section.indexOf("/");
  const head = slash < 0 ? section : section.slice(0, slash);
  const rest = slash < 0 ? undefined : section.slice(slash + 1);
  const kind = Object.hasOwn(EXACT_SECTIONS, section) ? EXACT_SECTIONS[section] : Object.hasOwn(SECTIONS, head) ? SECTIONS[head] : Object.hasOwn(OTHER_SECTIONS, head) ? OTHER_SECTIONS[head] : undefined;
  if (!kind) {
    throw new ObjectError(`section ${section} names no program type libbpf knows; use a libbpf section name such as ${["tracepoint/GROUP/NAME", "kprobe/FUNC", "uprobe/BINARY:FUNC", "raw_tp/NAME", "socket", "xdp"].join(", ")}`);
  }
  const attach = kind.target(rest || undefined, section);
  // A BTF hook's program is loaded for its hook's vmlinux type: without one named, the kernel refuses it (libbpf too,
  // unless the tool calls bpf_program__set_attach_target), so it is left out as tsbpf leaves out what it cannot load.
  const hookless = (kind.type === ProgType.TRACING || kind.type === ProgType.LSM) && attach.kind === "manual" ? hooklessWhy(head) : undefined;
  const unloadable = kind.unloadable ?? hookless;
  return { type: kind.type, expectedAttachType: kind.attachType, flags: kind.flags ?? 0, attach, ...(unloadable ? { unloadable } : {}) };
}

function hooklessWhy(head: string): string {
  const hook = head.replace(/\.s$/, "");
  const [what, example] = hook === "tp_btf" ? ["tracepoint", "tp_btf/sched_switch"] : hook === "iter" ? ["iterator", "iter/task"] : hook.startsWith("lsm") ? ["LSM hook", `${hook}/file_open`] : ["kernel function", `${hook}/do_unlinkat`];
  return `${hook} programs are loaded for their ${what}'s BTF type, and the section names none; name one, as in SEC("${example}")`;
}

function programSpec(p: BpfProgram): ProgramSpec {
  // libbpf: a leading "?" keeps the program's type but leaves it out of the default load.
  const optional = p.section.startsWith("?");
  const kind = knownSection(optional ? p.section.slice(1) : p.section);
  return { name: p.name, section: p.section, ...kind, autoload: !optional && !kind.unloadable, source: p };
}

/** classifySection, but a name libbpf does not know leaves only its program out (with a warning when loading), not the object. */
function knownSection(section: string): ReturnType<typeof classifySection> {
  try {
    return classifySection(section);
  } catch (e) {
    if (!(e instanceof ObjectError)) throw e;
    return { type: ProgType.UNSPEC, expectedAttachType: undefined, flags: 0, attach: { kind: "manual", why: e.message }, unloadable: e.message };
  }
}

const PROBE_TAG_BYTES = Buffer.from(PROBE_TAG);

/** Marks the programs tagged tsbpf:probe (they call probe()); the BTF is parsed only when its strings hold the tag. */
function markProbeNames(raw: BpfObject, programs: ProgramSpec[], objectBtf: () => Btf): void {
  if (!raw.btf || !Buffer.from(raw.btf.buffer, raw.btf.byteOffset, raw.btf.byteLength).includes(PROBE_TAG_BYTES)) return;
  const btf = objectBtf();
  for (const p of programs) if (funcTags(btf, p.name).includes(PROBE_TAG)) p.probeNames = true;
}

/**
 * Programs attached by hand that name their target in a decl tag on their FUNC (compiler/btf/tags.ts): perf_event
 * programs in section `perf_event` (`tsbpf:perf_event=profile:hz:99`, ...) and `raw_tp` ones run once
 * (`tsbpf:run=begin`). `target` reads a tag's value, or says in a sentence why it names nothing.
 */
const TAGGED_TARGETS: { type: number; section: string; tag: string; one: string; target: (value: string) => AttachTarget | string }[] = [
  {
    type: ProgType.PERF_EVENT,
    section: PERF_EVENT_SECTION,
    tag: PERF_EVENT_TAG,
    one: "a perf_event program attaches to one probe",
    target: (value) => {
      const probe = parsePerfEventTag(value);
      return typeof probe === "string" ? probe : { kind: "perf_event", ...probe };
    },
  },
  {
    type: ProgType.RAW_TRACEPOINT,
    section: RUN_SECTION,
    tag: RUN_TAG,
    one: "a program runs once, at the begin or at the end",
    target: (value) => (value === "begin" || value === "end" ? { kind: "run", when: value } : `${RUN_TAG}${value} is not ${RUN_TAG}begin or ${RUN_TAG}end`),
  },
];

/** Gives each such program the target its tag names; untagged ones stay attached by hand. A bad tag, or two, are refused. */
function tagTargets(raw: BpfObject, programs: ProgramSpec[], objectBtf: () => Btf): void {
  const kindOf = (p: ProgramSpec) => (p.attach.kind === "manual" ? TAGGED_TARGETS.find((k) => k.type === p.type && p.section.replace(/^\?/, "") === k.section) : undefined);
  const tagged = programs.filter((p) => kindOf(p));
  if (!tagged.length || !raw.btf) return;
  const btf = objectBtf();
  for (const p of tagged) {
    const kind = kindOf(p)!;
    const tags = funcTags(btf, p.name).filter((t) => t.startsWith(kind.tag));
    if (tags.length === 0) continue;
    if (tags.length > 1) throw new ObjectError(`program ${p.name}: ${tags.length} ${kind.tag} tags (${tags.join(", ")}); ${kind.one}`);
    const target = kind.target(tags[0]!.slice(kind.tag.length));
    if (typeof target === "string") throw new ObjectError(`program ${p.name}: ${target}`);
    p.attach = target;
  }
}

// ---------------------------------------------------------------- maps

/** struct bpf_map_def: type, key_size, value_size, max_entries, map_flags (u32 each) and optional tail fields. */
const LEGACY_DEF_MIN = 20;

function readLegacyMaps(section: BpfMapSection): MapDefinition[] {
  const syms = section.maps.filter((s) => s.type !== STT.SECTION);
  if (syms.length === 0) return [];
  // libbpf: every record has the same size, the section's size over the number of map symbols.
  const recordSize = Math.floor(section.data.length / syms.length);
  if (recordSize < LEGACY_DEF_MIN || section.data.length % syms.length !== 0) {
    throw new ObjectError(`section maps: ${section.data.length} bytes for ${syms.length} maps is not a whole number of bpf_map_def records (at least ${LEGACY_DEF_MIN} bytes each)`);
  }
  const view = new DataView(section.data.buffer, section.data.byteOffset, section.data.byteLength);
  return syms.map((s) => {
    if (s.offset % recordSize !== 0 || s.offset + LEGACY_DEF_MIN > section.data.length) {
      throw new ObjectError(`map ${s.name}: definition at offset ${s.offset} does not start a ${recordSize}-byte record`);
    }
    const u32 = (i: number) => view.getUint32(s.offset + i * 4, true);
    return { name: s.name, offset: s.offset, type: u32(0), keySize: u32(1), valueSize: u32(2), maxEntries: u32(3), flags: u32(4) };
  });
}

function readBtfSection(raw: BpfObject, section: BpfMapSection, reader: BtfMapReader | undefined): MapDefinition[] {
  if (section.maps.length === 0) return [];
  if (!reader) {
    throw new ObjectError(`the object defines maps in .maps (${section.maps.map((m) => m.name).join(", ")}), which needs a BTF reader; none was given`);
  }
  if (!raw.btf) throw new ObjectError("the object defines maps in .maps but has no .BTF section (compile with -g)");
  return reader(raw, section);
}

const sanitize = (s: string): string => s.replace(/[^A-Za-z0-9_.]/g, "_");

/** A user map's kernel name: its first 15 characters, restricted to what the kernel accepts. */
export const kernelName = (name: string): string => sanitize(name).slice(0, 15);

/**
 * A data map's kernel name as libbpf forms it: up to 8 characters of the object name then the section name
 * (at least 7 characters reserved for it), e.g. "unlink.rodata"; custom ".data.x" sections keep their own name.
 */
export function dataMapName(objectName: string, section: string): string {
  const custom = /^\.(data|rodata|bss)\./.test(section);
  if (custom) return sanitize(section).slice(0, 15);
  const sfx = Math.min(15, Math.max(7, section.length));
  const pfx = Math.min(15 - sfx, 8, objectName.length);
  return sanitize(objectName.slice(0, pfx) + section).slice(0, 15);
}

/** The object name for a file path: base name without `.bpf.o` or `.o`. */
export function objectNameOf(path: string): string {
  const base = path.split("/").pop() ?? path;
  return base.replace(/\.bpf\.o$|\.o$/, "") || "obj";
}
