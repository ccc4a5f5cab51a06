// Attaching loaded programs to their probes, through `Sys` only.
// Takes a program fd and its `ProgramSpec` (whose `attach` target came from the section name); gives an
// `Attachment` owning the perf event (or raw tracepoint link) fd. Tracepoints: perf_event_open of type
// PERF_TYPE_TRACEPOINT with the tracefs id, then PERF_EVENT_IOC_SET_BPF and ENABLE; uprobes and kprobes the
// same on their dynamic PMUs (config bit 0 = return probe), or as tracepoints defined in tracefs where the
// kernel has no such PMU (probe-events.ts); BTF hooks (tp_btf, fentry, ...) through a raw tracepoint link.
// USDT probes: one uprobe per site (with the semaphore as its ref_ctr_offset), each linked to the program by
// BPF_LINK_CREATE with the cookie of its argument spec, written into the object's `__bpf_usdt_specs` map.
// Globs (`syscalls:sys_enter_*`, `uprobe/BIN:read*`, `kprobe/vfs_*`): one hook per tracepoint, function symbol of the
// binary (aliases at one address once) or kallsyms function matched, all owned by one attachment.
// Every failure is an `AttachError` whose message is one sentence for the user (a kernel without kprobes,
// an unknown tracepoint, binary or symbol, a kprobe target inlined away or blacklisted).

import { existsSync, readFileSync, readdirSync } from "node:fs";
import { AttachType, PERF_PROBE_CONFIG_IS_RETPROBE, PerfAttrFlag, PerfIoc, PerfSwConfig, PerfType } from "../sys/constants.js";
import { SysError, type PerfEventAttr, type Sys } from "../sys/sys.js";
import { missingTracefs, onlineCpus, perfMaxSampleRate, pmuType, tracefsPath, tracepointId } from "../sys/kernel.js";
import { perfEventConfig, perfEventName, perfEventPeriodNs, type PerfEventProbe } from "../../compiler/btf/tags.js";
import { AttachError, type AttachFailure } from "./errors.js";
import { SymbolError, bareFileOffset, matchingCxxFunctions, matchingFunctions, resolveBinary, symbolFileOffset } from "./elfsym.js";
import { isCxxName } from "./cxx-names.js";
import { USDT_SPEC_SIZE, encodeUsdtSpec, readUsdtSites, type UsdtSite } from "./usdt.js";
import { similarNames } from "../../compiler/similar.js";
import { globRegExp, isGlob } from "../../compiler/glob.js";
import { matchingTracepoints, parseTracepointFormat, readTracepointFormat } from "../../compiler/frontend/tracepoints.js";
import { outOfFiles } from "../../compiler/file-error.js";
import { probeCookie } from "./probe-names.js";
import { createProbeEvent, probeEventsFile, type ProbeEvent, type ProbeKind } from "./probe-events.js";
import { kernelBtf } from "./core.js";
import { BtfKind } from "../../compiler/btf/index.js";
import type { AttachTarget, BtfHook, ProgramSpec } from "./object.js";

export interface Attachment {
  program: string;
  target: AttachTarget;
  /** "tracepoint syscalls:sys_enter_unlinkat", "uprobe /usr/lib/.../libc.so.6:unlinkat (offset 0x...)". */
  description: string;
  /** The perf event or link fd; closing it detaches. */
  fd: number;
  /** How many places it holds the program at (a glob's tracepoints, a USDT probe's sites); 1 for most. */
  hooks: number;
  /**
   * How many of its fds wait out RCU grace periods in the kernel when closed, under a kernel-wide lock for
   * tracepoint events: one per perf event, one per uprobe_multi link.
   */
  slowCloses: number;
  /** Detaches; idempotent. */
  close(): void;
  /** Detaches with the close on a worker thread (Sys.closeAsync), so that several detach at once; idempotent. */
  closeAsync(): Promise<void>;
}

/**
 * The `__bpf_usdt_specs` map of one object (usdt.bpf.h) and the ids given to argument specs so far: an id is the
 * attach cookie BPF_USDT() reads the spec by, shared by every USDT program of the object.
 */
export interface UsdtSpecTable {
  /** The map's fd and max_entries; undefined when the object has no such map. */
  map: { fd: number; maxEntries: number; valueSize: number } | undefined;
  /** Encoded spec (hex) → id. */
  ids: Map<string, number>;
}

export interface AttachOptions {
  /** Only this process for uprobes (perf's pid); default -1, every process. */
  pid?: number;
  /**
   * Define kprobes and uprobes through tracefs's kprobe_events/uprobe_events even where the kernel has their PMUs
   * (kernels without the PMUs always do); for tests of that path.
   */
  legacyProbes?: boolean;
  /** The CPUs profile probes sample (interval probes use the first); default /sys/devices/system/cpu/online. */
  cpus?: readonly number[];
  /** kernel.perf_event_max_sample_rate; default read from /proc/sys/kernel/perf_event_max_sample_rate. */
  maxSampleRate?: number;
}

/** Attaches `spec` (loaded as `progFd`) to the target its section names. */
export function attachProgram(sys: Sys, progFd: number, spec: ProgramSpec, options: AttachOptions = {}, usdt?: UsdtSpecTable): Attachment {
  const t = spec.attach;
  switch (t.kind) {
    case "tracepoint":
      return attachTracepoint(sys, progFd, spec, t);
    case "raw_tracepoint":
      return attachRawTracepoint(sys, progFd, spec, t);
    case "kprobe":
      return attachKprobe(sys, progFd, spec, t, options);
    case "uprobe":
      return attachUprobe(sys, progFd, spec, t, options);
    case "usdt":
      return attachUsdt(sys, progFd, spec, t, options, usdt);
    case "btf":
      return attachBtfHook(sys, progFd, spec, t);
    case "perf_event":
      return attachPerfEvent(sys, progFd, spec, t, options);
    case "manual":
      throw new AttachError(`program ${spec.name} (section ${spec.section}) cannot be attached automatically: ${t.why}`, "unsupported");
    case "run":
      throw new AttachError(`program ${spec.name} is a ${t.when}() program: it is run once, not attached`, "unsupported");
  }
}

/**
 * `release` runs after the fd is closed: a tracefs probe definition can only go once no event uses it. `more` are
 * further fds the attachment owns (a USDT probe's other links and its perf events), closed after `fd`.
 */
function attachment(sys: Sys, spec: ProgramSpec, description: string, fd: number, release?: () => void, more: readonly number[] = [], hooks = 1, slowCloses = hooks): Attachment {
  let open = true;
  return {
    program: spec.name,
    target: spec.attach,
    description,
    fd,
    hooks,
    slowCloses,
    close() {
      if (!open) return;
      open = false;
      try {
        closeAll(sys, [fd, ...more]);
      } finally {
        release?.();
      }
    },
    async closeAsync() {
      if (!open) return;
      open = false;
      try {
        const results = await Promise.allSettled([fd, ...more].map((f) => sys.closeAsync(f)));
        const failed = results.find((r) => r.status === "rejected");
        if (failed) throw failed.reason;
      } finally {
        release?.();
      }
    },
  };
}

/** Closes every fd, in order, then rethrows the first failure. */
function closeAll(sys: Sys, fds: readonly number[]): void {
  let first: unknown;
  for (const f of fds) {
    try {
      sys.close(f);
    } catch (e) {
      first ??= e;
    }
  }
  if (first !== undefined) throw first;
}

function failure(e: unknown): AttachFailure {
  if (outOfFiles(e)) return "limit";
  if (!(e instanceof SysError)) return "kernel";
  if (e.code === "EPERM" || e.code === "EACCES") return "permission";
  if (e.code === "ENOENT" || e.code === "ENODEV") return "not-found";
  if (e.code === "EOPNOTSUPP" || e.code === "ENOTSUPP" || e.code === "ENOSYS") return "unsupported";
  return "kernel";
}

/** Why an attachment failed, in words: out of file descriptors (each probe holds one or two) said with what to do. */
function failureText(e: unknown): string {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (code === "EMFILE") return "the process has no file descriptor left (EMFILE; each attached probe holds one or two): raise its limit, which `ulimit -n` shows (`ulimit -n 65536`), or attach fewer probes";
  if (code === "ENFILE") return "the system's file table is full (ENFILE): close other programs' files, or raise fs.file-max";
  return (e as Error).message;
}

/** Opens a perf event, hands it the program and enables it; the fd is closed again on any failure. */
function perfAttach(sys: Sys, progFd: number, spec: ProgramSpec, attr: PerfEventAttr, description: string): Attachment {
  const fds = perfHook(sys, progFd, spec, attr, description);
  return attachment(sys, spec, description, fds[0]!, undefined, fds.slice(1));
}

/**
 * One perf event with the program on it: its fds, a link first where there is one. A program that calls probe()
 * (tagged tsbpf:probe) is linked with the probe's id in its attach cookie (BPF_LINK_CREATE, Linux 5.15), the probe
 * named as bpftrace names it (the description's kind and target: `tracepoint:syscalls:sys_enter_read`); others are
 * handed over with PERF_EVENT_IOC_SET_BPF, which every kernel with BPF tracing has.
 */
function perfHook(sys: Sys, progFd: number, spec: ProgramSpec, attr: PerfEventAttr, description: string, pid = -1): number[] {
  let fd: number;
  try {
    // pid -1 on CPU 0: the program runs for every process on every CPU; the event is just its anchor.
    fd = sys.perfEventOpen({ samplePeriod: 1n, wakeupEvents: 1, ...attr }, { pid, cpu: pid === -1 ? 0 : -1 });
  } catch (e) {
    // x86-64 uprobes refuse instructions they cannot single-step out of line (AVX's VEX-encoded ones among them).
    const stepless = e instanceof SysError && e.code === "ENOTSUPP" && /^uprobe|^uretprobe/.test(description);
    const why = stepless ? "; the kernel cannot place a uprobe on the instruction there (it refuses some it cannot single-step, as AVX ones): probe a caller, or an offset past that instruction (`func+N`)" : "";
    throw new AttachError(`cannot create the ${description} event for program ${spec.name}: ${failureText(e)}${why}`, failure(e), { cause: e });
  }
  const fds = [fd];
  try {
    if (spec.probeNames) fds.unshift(sys.linkCreate({ progFd, targetFd: fd, attachType: AttachType.PERF_EVENT, perfEventCookie: probeCookie(description.replace(" ", ":")) }));
    else sys.ioctl(fd, PerfIoc.SET_BPF, progFd);
    sys.ioctl(fd, PerfIoc.ENABLE, 0);
  } catch (e) {
    closeAll(sys, fds);
    const pastEnd = e instanceof SysError && e.code === "EACCES" && attr.type === PerfType.TRACEPOINT ? pastRecordEnd(description) : undefined;
    if (pastEnd) throw new AttachError(`cannot attach program ${spec.name} to ${description}: ${pastEnd}`, "program", { cause: e });
    const why = spec.probeNames && e instanceof SysError && e.code === "EINVAL" ? "the running kernel cannot link a program to a perf event with a cookie (Linux 5.15 can), which probe() needs" : failureText(e);
    throw new AttachError(`cannot attach program ${spec.name} to ${description}: ${why}`, failure(e), { cause: e });
  }
  return fds;
}

/**
 * Why the kernel refuses a verified program on tracepoint `description` (`tracepoint GROUP:NAME`) with EACCES: it
 * compares the furthest byte of the context the verifier saw the program read with the end of the tracepoint's
 * record, and a program that reads past it (a field the record lacks, `args[3]` of a syscall with two arguments,
 * `trace_event_raw_sys_enter`'s 8-byte `id` where the record has only a 4-byte `__syscall_nr`) is refused at attach.
 * Undefined when the description is no tracepoint's or its format cannot be read.
 */
function pastRecordEnd(description: string): string | undefined {
  const m = /^tracepoint ([\w.-]+):([\w.-]+)$/.exec(description);
  const root = tracefsPath();
  const text = m && root ? readTracepointFormat(m[1]!, m[2]!, [root]) : undefined;
  if (!m || !text) return undefined;
  const fields = parseTracepointFormat(m[1]!, m[2]!, text).fields;
  const last = fields.reduce<(typeof fields)[number] | undefined>((a, f) => (!a || f.offset + f.size > a.offset + a.size ? f : a), undefined);
  if (!last) return undefined;
  const end = last.offset + last.size;
  return (
    `the program reads its context past the end of the tracepoint's record, which is ${end} bytes (its last field is ${last.cType} at offset ${last.offset}, ${last.size} bytes; ` +
    `${root}/events/${m[1]}/${m[2]}/format lists them): read only the fields the format lists, at their offsets and sizes`
  );
}

/** One place the program is hooked at: its fds, and what deletes a tracefs probe definition once they are closed. */
interface Hook {
  fds: number[];
  release?: () => void;
}

/**
 * A kprobe or uprobe on its PMU (`pmu`, its perf event type) with `attr` saying where; where the kernel has no such
 * PMU (`pmu` undefined), one defined through tracefs (`target` in its syntax) and hooked as the tracepoint it becomes.
 */
function dynamicProbeHook(sys: Sys, progFd: number, spec: ProgramSpec, kind: ProbeKind, pmu: number | undefined, attr: Omit<PerfEventAttr, "type" | "config">, target: string, retprobe: boolean, description: string, pid = -1): Hook {
  if (pmu !== undefined) return { fds: perfHook(sys, progFd, spec, { type: pmu, config: retprobe ? PERF_PROBE_CONFIG_IS_RETPROBE : 0n, ...attr }, description, pid) };
  let event: ProbeEvent;
  try {
    event = createProbeEvent(kind, target, retprobe);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AttachError(`cannot define the ${description} probe in ${kind}_events: ${code ?? (e as Error).message}`, code === "ENOENT" ? "not-found" : code === "EACCES" || code === "EPERM" ? "permission" : "kernel", { cause: e });
  }
  try {
    return { fds: perfHook(sys, progFd, spec, { type: PerfType.TRACEPOINT, config: BigInt(event.id) }, description, pid), release: () => event.remove() };
  } catch (e) {
    event.remove();
    throw e;
  }
}

/** Hooks the program at every place (`hook` may pass one by); on a failure part-way, undoes the hooks made so far and rethrows. */
function hookEach<T>(sys: Sys, places: readonly T[], hook: (place: T) => Hook | undefined): Hook[] {
  const hooks: Hook[] = [];
  try {
    for (const place of places) {
      const h = hook(place);
      if (h) hooks.push(h);
    }
  } catch (e) {
    try {
      closeAll(sys, hooks.flatMap((h) => h.fds));
    } finally {
      for (const h of hooks) h.release?.();
    }
    throw e;
  }
  return hooks;
}

/** Errors particular to one place (its event or function the kernel will not probe), not to the run (fds, memory, permission). */
const PLACE_ERRORS: ReadonlySet<string> = new Set(["EINVAL", "ENOENT", "ENODEV", "EOPNOTSUPP", "ENOTSUPP", "EBUSY", "EEXIST"]);

/** Whether an error (a SysError, or a tracefs write's own: both carry an errno name) is one of PLACE_ERRORS. */
const refusedHere = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && PLACE_ERRORS.has(code);
};

/**
 * A glob's hooks as one attachment, described as `what (N units)`. A place the kernel refuses for a reason of its own
 * is left out, as bpftrace skips it, and the description says how many and why the first was; any other failure
 * undoes the hooks made so far. None left: the first refusal is the error.
 */
function globAttachment<T>(sys: Sys, spec: ProgramSpec, places: readonly T[], what: string, unit: string, hook: (place: T) => Hook | undefined): Attachment {
  const refused: AttachError[] = [];
  const hooks = hookEach(sys, places, (place) => {
    try {
      return hook(place);
    } catch (e) {
      if (!(e instanceof AttachError) || !refusedHere(e.cause)) throw e;
      refused.push(e);
      return undefined;
    }
  });
  if (!hooks.length) throw refused[0] ?? new AttachError(`cannot attach ${what}: nothing it matches is left to attach to`, "not-found");
  const left = refused.length ? `; ${refused.length} refused, the first: ${refused[0]!.message}` : "";
  return hooksAttachment(sys, spec, `${what} (${hooks.length} ${unit}${hooks.length === 1 ? "" : "s"}${left})`, hooks);
}

/** One attachment owning every hook: their fds, closed in order, then their tracefs definitions deleted. */
function hooksAttachment(sys: Sys, spec: ProgramSpec, description: string, hooks: readonly Hook[]): Attachment {
  const fds = hooks.flatMap((h) => h.fds);
  const releases = hooks.flatMap((h) => (h.release ? [h.release] : []));
  const release = releases.length ? () => releases.forEach((r) => r()) : undefined;
  return attachment(sys, spec, description, fds[0]!, release, fds.slice(1), hooks.length);
}

function attachTracepoint(sys: Sys, progFd: number, spec: ProgramSpec, t: { group: string; name: string }): Attachment {
  const noTracefs = missingTracefs();
  if (noTracefs) throw new AttachError(`cannot attach tracepoint ${t.group}:${t.name}: ${noTracefs}`, "unsupported");
  if (isGlob(t.group) || isGlob(t.name)) return attachTracepoints(sys, progFd, spec, t);
  const id = readingTracefs(`tracepoint ${t.group}:${t.name}`, () => tracepointId(t.group, t.name));
  if (id === undefined || !Number.isInteger(id)) {
    const groupExists = existsSync(`${tracefsPath()}/events/${t.group}`);
    throw new AttachError(
      groupExists
        ? `unknown tracepoint ${t.group}:${t.name} (no ${tracefsPath()}/events/${t.group}/${t.name})`
        : `unknown tracepoint group ${t.group} (no ${tracefsPath()}/events/${t.group})`,
      "not-found",
    );
  }
  return perfAttach(sys, progFd, spec, { type: PerfType.TRACEPOINT, config: BigInt(id) }, `tracepoint ${t.group}:${t.name}`);
}

/** What `read` gives from tracefs; no file descriptor left to read it with is an AttachError saying so. */
function readingTracefs<T>(description: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (!outOfFiles(e)) throw e;
    throw new AttachError(`cannot attach ${description}: ${failureText(e)}`, "limit", { cause: e });
  }
}

/** A glob (`syscalls:sys_enter_*`): the program on every tracepoint it matches, one perf event each, as one attachment. */
function attachTracepoints(sys: Sys, progFd: number, spec: ProgramSpec, t: { group: string; name: string }): Attachment {
  const pattern = `${t.group}:${t.name}`;
  const root = tracefsPath();
  const matches = readingTracefs(`tracepoint ${pattern}`, () => matchingTracepoints(t.group, t.name, root ? [root] : undefined)) ?? [];
  if (!matches.length) throw new AttachError(`no tracepoint matches ${pattern} (in ${root}/available_events)`, "not-found");
  return globAttachment(sys, spec, matches, `tracepoint ${pattern}`, "tracepoint", (key) => {
    const [group, name] = key.split("/") as [string, string];
    const id = readingTracefs(`tracepoint ${group}:${name}`, () => tracepointId(group, name));
    // Listed in available_events but gone since (a module unloaded): nothing to attach there.
    if (id === undefined || !Number.isInteger(id)) return undefined;
    return { fds: perfHook(sys, progFd, spec, { type: PerfType.TRACEPOINT, config: BigInt(id) }, `tracepoint ${group}:${name}`) };
  });
}

function attachRawTracepoint(sys: Sys, progFd: number, spec: ProgramSpec, t: { name: string }): Attachment {
  try {
    return attachment(sys, spec, `raw tracepoint ${t.name}`, sys.rawTracepointOpen(t.name, progFd));
  } catch (e) {
    const reason = failure(e);
    throw new AttachError(reason === "not-found" ? `unknown raw tracepoint ${t.name}` : `cannot attach program ${spec.name} to raw tracepoint ${t.name}: ${failureText(e)}`, reason, { cause: e });
  }
}

/**
 * tp_btf, fentry, fexit, fmod_ret and lsm programs were loaded for their hook; opening the link attaches them there.
 * A program that asks probe() gets its hook's name (`rawtracepoint:sched_switch`, as bpftrace names a tp_btf probe) in
 * the link's cookie.
 */
/** Why programs of these BTF hooks are loaded (for their hook's type) but not attached. */
export const BTF_HOOK_NOT_ATTACHED: Partial<Record<BtfHook, string>> = {
  iter: "an iterator is read through a link and an iterator fd of its own, which tsbpf does not make",
  lsm_cgroup: "lsm_cgroup programs attach to a cgroup, which tsbpf does not do for them",
};

function attachBtfHook(sys: Sys, progFd: number, spec: ProgramSpec, t: { hook: BtfHook; name: string }): Attachment {
  const description = `${t.hook} ${t.name}`;
  const manual = BTF_HOOK_NOT_ATTACHED[t.hook];
  if (manual) throw new AttachError(`program ${spec.name} (section ${spec.section}) cannot be attached automatically: ${manual}`, "unsupported");
  try {
    const cookie = spec.probeNames ? probeCookie(`${t.hook === "tp_btf" ? "rawtracepoint" : t.hook}:${t.name}`) : undefined;
    return attachment(sys, spec, description, sys.rawTracepointOpen(undefined, progFd, cookie));
  } catch (e) {
    // Kernels before 6.10 have no cookie field for these links and refuse an attr that sets one.
    if (spec.probeNames && e instanceof SysError && (e.code === "EINVAL" || e.code === "E2BIG")) {
      throw new AttachError(`cannot attach program ${spec.name} to ${description}: it calls probe(), whose name this kind of link carries in its cookie, which the running kernel does not take (Linux 6.10 added it); leave probe() out of it`, "unsupported", { cause: e });
    }
    throw new AttachError(`cannot attach program ${spec.name} to ${description}: ${failureText(e)}`, failure(e), { cause: e });
  }
}

const KPROBES_COMPILED_OUT = "kprobes are compiled out of the running kernel (CONFIG_KPROBES is off, no kprobe PMU in /sys/bus/event_source/devices)";

/** Why no kprobe can attach here (neither the kprobe PMU nor tracefs's kprobe_events), or undefined when kprobes can. */
export function kprobesUnsupported(): string | undefined {
  return pmuType("kprobe") === undefined && !probeEventsFile("kprobe") ? KPROBES_COMPILED_OUT : undefined;
}

function attachKprobe(sys: Sys, progFd: number, spec: ProgramSpec, t: { func: string; offset: number; retprobe: boolean }, options: AttachOptions): Attachment {
  const kind = t.retprobe ? "kretprobe" : "kprobe";
  if (isGlob(t.func)) return attachKprobes(sys, progFd, spec, t, options);
  const problem = kprobeProblem(t.func);
  if (problem) throw new AttachError(`cannot attach ${kind} ${t.func}: ${problem}`, "not-found");
  const pmu = kprobePmu(kind, t.func, options);
  const description = kprobeDescription(kind, t.func, t.offset);
  return hooksAttachment(sys, spec, description, [kprobeHook(sys, progFd, spec, pmu, t.func, t, description)]);
}

/** A glob (`vfs_*`): the program on every kernel function it matches (kprobeGlobMatches), one kprobe each, as one attachment. */
function attachKprobes(sys: Sys, progFd: number, spec: ProgramSpec, t: { func: string; offset: number; retprobe: boolean }, options: AttachOptions): Attachment {
  const kind = t.retprobe ? "kretprobe" : "kprobe";
  const pmu = kprobePmu(kind, t.func, options);
  const funcs = kprobeGlobMatches(t.func, readText("/proc/kallsyms"), readText(KPROBE_BLACKLIST));
  if (!funcs.length) throw new AttachError(`cannot attach ${kind} ${t.func}: no kernel function in /proc/kallsyms that kprobes can probe matches it`, "not-found");
  return globAttachment(sys, spec, funcs, kprobeDescription(kind, t.func, t.offset), "function", (func) => kprobeHook(sys, progFd, spec, pmu, func, t, kprobeDescription(kind, func, t.offset)));
}

const kprobeDescription = (kind: string, func: string, offset: number): string => `${kind} ${func}${offset ? `+${offset}` : ""}`;

function kprobeHook(sys: Sys, progFd: number, spec: ProgramSpec, pmu: number | undefined, func: string, t: { offset: number; retprobe: boolean }, description: string): Hook {
  return dynamicProbeHook(sys, progFd, spec, "kprobe", pmu, { kprobeFunc: func, config2: BigInt(t.offset) }, `${func}+${t.offset}`, t.retprobe, description);
}

/** The kprobe PMU's perf event type, or undefined to define kprobes in tracefs's kprobe_events; throws where neither is. */
function kprobePmu(kind: string, func: string, options: AttachOptions): number | undefined {
  const pmu = options.legacyProbes ? undefined : pmuType("kprobe");
  if (pmu !== undefined || probeEventsFile("kprobe")) return pmu;
  // A return probe's counterparts: the syscall's exit tracepoint, a uretprobe.
  const ret = kind === "kretprobe";
  const alternative = ret ? tracepointAlternative(func)?.replace(":sys_enter_", ":sys_exit_") : tracepointAlternative(func);
  const uprobe = ret ? "uretprobe" : "uprobe";
  throw new AttachError(
    `cannot attach ${kind} ${func}: ${KPROBES_COMPILED_OUT}; ` +
      `use ${alternative ? `the tracepoint ${alternative} (SEC("tracepoint/${alternative.replace(":", "/")}"))` : `a tracepoint (SEC("tracepoint/GROUP/NAME"))`} or a ${uprobe} (SEC("${uprobe}/BINARY:FUNCTION")) instead`,
    "unsupported",
  );
}

function attachUprobe(sys: Sys, progFd: number, spec: ProgramSpec, t: UprobeTarget, options: AttachOptions): Attachment {
  const kind = t.retprobe ? "uretprobe" : "uprobe";
  const pmu = options.legacyProbes ? undefined : pmuType("uprobe");
  if (pmu === undefined && !probeEventsFile("uprobe")) throw new AttachError(`cannot attach ${kind} ${t.binary}: the running kernel has no uprobes (no uprobe PMU, no uprobe_events in tracefs: CONFIG_UPROBE_EVENTS is off)`, "unsupported");
  const at = t.offset ? `+${t.offset}` : "";
  let path: string;
  let places: UprobePlace[];
  try {
    path = resolveBinary(t.binary, options.pid);
    places = uprobePlaces(path, t);
  } catch (e) {
    if (e instanceof SymbolError) throw new AttachError(`cannot attach ${kind} ${t.binary}:${t.func === undefined ? `0x${t.offset.toString(16)}` : t.func + at}: ${e.message}`, "not-found", { cause: e });
    throw e;
  }
  const describe = (p: UprobePlace) => `${kind} ${path}:${p.func === undefined ? `0x${p.offset.toString(16)}` : p.func + at}`;
  // Loaded for a uprobe_multi link (load.ts, for a glob where the kernel has them): every function through one link.
  if (spec.expectedAttachType === AttachType.TRACE_UPROBE_MULTI) return uprobeMultiAttach(sys, progFd, spec, `${kind} ${path}:${t.func}${at}`, path, places, t.retprobe, options.pid, describe);
  const hook = (p: UprobePlace) =>
    dynamicProbeHook(sys, progFd, spec, "uprobe", pmu, { uprobePath: path, config2: BigInt(p.offset) }, `${path}:0x${p.offset.toString(16)}`, t.retprobe, describe(p), options.pid ?? -1);
  if (t.func !== undefined && isGlob(t.func)) return globAttachment(sys, spec, places, `${kind} ${path}:${t.func}${at}`, "function", hook);
  return hooksAttachment(sys, spec, describe(places[0]!), hookEach(sys, places, hook));
}

/**
 * A uprobe glob's functions through BPF_TRACE_UPROBE_MULTI links, each function with its probe's id as its cookie
 * when the program calls probe(). Closing a link removes all of its uprobes after one RCU grace period, not one per
 * function. One link takes them all unless the kernel refuses a function (an instruction uprobes cannot step): then
 * the functions are halved until the ones refused stand alone, and are left out, as a perf event glob leaves them.
 */
function uprobeMultiAttach(sys: Sys, progFd: number, spec: ProgramSpec, what: string, path: string, places: readonly UprobePlace[], retprobe: boolean, pid: number | undefined, describe: (p: UprobePlace) => string): Attachment {
  const links: number[] = [];
  const refused: AttachError[] = [];
  let attached = 0;
  const link = (group: readonly UprobePlace[]): void => {
    try {
      links.push(
        sys.linkCreate({
          progFd,
          targetFd: 0,
          attachType: AttachType.TRACE_UPROBE_MULTI,
          uprobeMulti: {
            path,
            offsets: group.map((p) => BigInt(p.offset)),
            cookies: spec.probeNames ? group.map((p) => probeCookie(describe(p).replace(" ", ":"))) : undefined,
            flags: retprobe ? BPF_F_UPROBE_MULTI_RETURN : 0,
            pid: pid !== undefined && pid > 0 ? pid : 0,
          },
        }),
      );
      attached += group.length;
    } catch (e) {
      const error = new AttachError(`cannot attach program ${spec.name} to ${group.length === 1 ? describe(group[0]!) : what}: ${failureText(e)}`, failure(e), { cause: e });
      if (!refusedHere(e)) throw error;
      if (group.length === 1) return void refused.push(error);
      link(group.slice(0, group.length >> 1));
      link(group.slice(group.length >> 1));
    }
  };
  try {
    link(places);
  } catch (e) {
    closeAll(sys, links);
    throw e;
  }
  if (!links.length) throw refused[0]!;
  const left = refused.length ? `; ${refused.length} refused, the first: ${refused[0]!.message}` : "";
  return attachment(sys, spec, `${what} (${attached} function${attached === 1 ? "" : "s"}${left})`, links[0]!, undefined, links.slice(1), attached, links.length);
}

/** link_create.uprobe_multi.flags: return probes. */
const BPF_F_UPROBE_MULTI_RETURN = 1;

type UprobeTarget = Extract<AttachTarget, { kind: "uprobe" }>;

/** A function (undefined for a bare offset) and the file offset its uprobe goes at. */
interface UprobePlace {
  func: string | undefined;
  offset: number;
}

/** Where a uprobe's target lies in the file at `path`: its function, or each function its glob matches (one per address). */
function uprobePlaces(path: string, t: UprobeTarget): UprobePlace[] {
  if (t.func === undefined) return [{ func: undefined, offset: bareFileOffset(path, t.offset) }];
  if (!isGlob(t.func)) return [{ func: t.func, offset: symbolFileOffset(path, t.func, t.offset) }];
  const glob = globRegExp(t.func);
  // `app::W::*`: C++ functions by their names as c++filt shows them.
  const matches = isCxxName(t.func) ? matchingCxxFunctions(path, t.func) : matchingFunctions(path, (name) => glob.test(name));
  if (!matches.length) throw new SymbolError(`no function in the symbol tables of ${path} matches ${t.func}`);
  return matches.map((f) => ({ func: f.name, offset: f.offset + t.offset }));
}

function attachUsdt(sys: Sys, progFd: number, spec: ProgramSpec, t: { binary: string; provider: string; name: string }, options: AttachOptions, usdt: UsdtSpecTable | undefined): Attachment {
  const probe = `${t.provider}:${t.name}`;
  const cannot = `cannot attach USDT probe ${t.binary}:${probe}`;
  const map = usdt?.map;
  if (!map) throw new AttachError(`${cannot}: the object has no __bpf_usdt_specs map, where the probe's argument specs go (include <bpf/usdt.bpf.h> and read arguments with BPF_USDT())`, "unsupported");
  if (map.valueSize !== USDT_SPEC_SIZE) throw new AttachError(`${cannot}: the object's __bpf_usdt_specs map has ${map.valueSize}-byte values, not struct __bpf_usdt_spec's ${USDT_SPEC_SIZE}`, "unsupported");
  const type = pmuType("uprobe");
  if (type === undefined) throw new AttachError(`${cannot}: the running kernel has no uprobe PMU (USDT probes need it for the semaphore and the attach cookie)`, "unsupported");
  let path: string;
  let sites: UsdtSite[];
  try {
    path = resolveBinary(t.binary);
    sites = readUsdtSites(path);
  } catch (e) {
    if (e instanceof SymbolError) throw new AttachError(`${cannot}: ${e.message}`, "not-found", { cause: e });
    throw e;
  }
  if (sites.length === 0) throw new AttachError(`${cannot}: ${path} has no USDT probes (no stapsdt notes in a .note.stapsdt section)`, "not-found");
  // A glob in the provider or the name (`python:gc__*`) takes every probe it matches, each site with its own spec.
  const glob = isGlob(t.provider) || isGlob(t.name);
  const [provider, name] = [globRegExp(t.provider), globRegExp(t.name)];
  const found = sites.filter((s) => provider.test(s.provider) && name.test(s.name));
  // A glob leaves out the sites whose arguments no spec can describe; a probe named exactly is refused for one.
  const unreadable = found.filter((s) => s.argError !== undefined);
  const matching = glob ? found.filter((s) => s.argError === undefined) : found;
  if (found.length === 0) {
    const all = [...new Set(sites.map((s) => `${s.provider}:${s.name}`))];
    const similar = similarNames(probe, all);
    const hint = similar.length ? `; did you mean ${similar.join(" or ")}?` : ` (its probes: ${all.slice(0, 12).join(", ")}${all.length > 12 ? ", ..." : ""})`;
    throw new AttachError(`${cannot}: no USDT probe ${probe} in ${path}${hint}`, "not-found");
  }
  if (unreadable.length && (!glob || matching.length === 0)) throw new AttachError(`${cannot}: ${unreadable[0]!.argError}`, "unsupported");

  // Each distinct spec once in the map; its index is the cookie.
  const siteIds = matching.map((s) => {
    const bytes = encodeUsdtSpec(s.args);
    const key = Buffer.from(bytes).toString("hex");
    let id = usdt!.ids.get(key);
    if (id === undefined) {
      id = usdt!.ids.size;
      if (id >= map.maxEntries) throw new AttachError(`${cannot}: the object's __bpf_usdt_specs map holds ${map.maxEntries} argument specs, and this probe needs one more (raise BPF_USDT_MAX_SPEC_CNT)`, "kernel");
      const k = new Uint8Array(4);
      new DataView(k.buffer).setUint32(0, id, true);
      try {
        sys.mapUpdate(map.fd, k, bytes);
      } catch (e) {
        throw new AttachError(`${cannot}: writing its argument spec into __bpf_usdt_specs failed: ${failureText(e)}`, failure(e), { cause: e });
      }
      usdt!.ids.set(key, id);
    }
    return id;
  });

  const named = `usdt ${path}:${probe}`;
  const left = unreadable.length ? `; ${unreadable.length} left out, the first: ${unreadable[0]!.provider}:${unreadable[0]!.name}: ${unreadable[0]!.argError}` : "";
  const probes = glob ? `${new Set(matching.map((s) => `${s.provider}:${s.name}`)).size} probes, ` : "";
  const description = `${named} (${probes}${matching.length} site${matching.length === 1 ? "" : "s"}${left})`;
  const pid = options.pid ?? -1;
  const links: number[] = [];
  const events: number[] = [];
  try {
    matching.forEach((s, i) => {
      const where = `${named} at 0x${s.offset.toString(16)}`;
      let pfd: number;
      try {
        pfd = sys.perfEventOpen(
          { type, config: 0n, uprobePath: path, config2: BigInt(s.offset), refCtrOffset: s.semaphoreOffset, samplePeriod: 1n, wakeupEvents: 1 },
          { pid, cpu: pid === -1 ? 0 : -1 },
        );
      } catch (e) {
        throw new AttachError(`cannot create the ${where} event for program ${spec.name}: ${failureText(e)}`, failure(e), { cause: e });
      }
      events.push(pfd);
      try {
        links.push(sys.linkCreate({ progFd, targetFd: pfd, attachType: AttachType.PERF_EVENT, perfEventCookie: spec.probeNames ? probeCookie(`usdt:${path}:${s.provider}:${s.name}`, siteIds[i]!) : BigInt(siteIds[i]!) }));
        sys.ioctl(pfd, PerfIoc.ENABLE, 0);
      } catch (e) {
        throw new AttachError(`cannot attach program ${spec.name} to ${where}: ${failureText(e)}`, failure(e), { cause: e });
      }
    });
  } catch (e) {
    closeAll(sys, [...links, ...events]);
    throw e;
  }
  // Links first: closing one detaches the program; the perf events go after.
  return attachment(sys, spec, description, links[0]!, undefined, [...links.slice(1), ...events], links.length);
}

/**
 * bpftrace's profile and interval probes: cpu-clock software events (a profile probe's on every online CPU, an interval
 * probe's on the first), each linked to the program (BPF_LINK_CREATE, or PERF_EVENT_IOC_SET_BPF on kernels without
 * perf links) and enabled. profile:hz:N samples at a frequency (`freq = 1`), every other form at a fixed period.
 * Its software and hardware probes: that event on every online CPU, a sample every N events.
 */
function attachPerfEvent(sys: Sys, progFd: number, spec: ProgramSpec, t: Extract<ProgramSpec["attach"], { kind: "perf_event" }>, options: AttachOptions): Attachment {
  const name = perfEventName(t);
  const online = options.cpus ?? onlineCpus();
  const everyCpu = t.probe !== "interval";
  const cpus = everyCpu ? online : online.slice(0, 1);
  if (cpus.length === 0) throw new AttachError(`cannot attach ${name}: no CPU to open its event on`, "unsupported");
  if (t.probe === "profile" && t.unit === "hz") {
    const max = options.maxSampleRate ?? perfMaxSampleRate();
    if (max !== undefined && t.rate > max) {
      throw new AttachError(
        `cannot attach ${name}: ${t.rate} Hz is above kernel.perf_event_max_sample_rate (${max}, /proc/sys/kernel/perf_event_max_sample_rate); sample less often or raise the limit`,
        "unsupported",
      );
    }
  }
  const attr = perfEventAttr(t);
  const links: number[] = [];
  const events: number[] = [];
  let perfLinks = true;
  try {
    for (const cpu of cpus) {
      let pfd: number;
      try {
        pfd = sys.perfEventOpen(attr, { pid: -1, cpu });
      } catch (e) {
        // A CPU that went offline since the list was read has nothing to sample.
        if (e instanceof SysError && e.code === "ENODEV" && everyCpu && cpus.length > 1) continue;
        const missing = e instanceof SysError && (e.code === "ENOENT" || e.code === "ENODEV" || (t.probe === "hardware" && e.code === "EOPNOTSUPP"));
        if (missing && t.probe === "hardware") {
          throw new AttachError(`cannot attach ${name}: this machine's CPU exposes no ${t.event} counter to the kernel (a virtual machine often exposes none: /sys/bus/event_source/devices has no cpu); count software events or sample with profile() instead`, "unsupported", { cause: e });
        }
        const why = missing ? `the kernel has no ${"event" in t ? t.event : "cpu-clock"} software event` : failureText(e);
        throw new AttachError(`cannot create the ${name} event on CPU ${cpu} for program ${spec.name}: ${why}`, failure(e), { cause: e });
      }
      events.push(pfd);
      try {
        if (perfLinks) {
          try {
            links.push(sys.linkCreate({ progFd, targetFd: pfd, attachType: AttachType.PERF_EVENT, ...(spec.probeNames ? { perfEventCookie: probeCookie(name) } : {}) }));
          } catch (e) {
            // Perf event links came in Linux 5.15; before, the ioctl attaches (and closing the event detaches).
            if (!(e instanceof SysError && e.code === "EINVAL" && links.length === 0) || spec.probeNames) throw e;
            perfLinks = false;
          }
        }
        if (!perfLinks) sys.ioctl(pfd, PerfIoc.SET_BPF, progFd);
        sys.ioctl(pfd, PerfIoc.ENABLE, 0);
      } catch (e) {
        throw new AttachError(`cannot attach program ${spec.name} to ${name} on CPU ${cpu}: ${failureText(e)}`, failure(e), { cause: e });
      }
    }
  } catch (e) {
    closeAll(sys, [...links, ...events]);
    throw e;
  }
  if (events.length === 0) throw new AttachError(`cannot attach ${name}: every CPU it was to sample went offline`, "unsupported");
  const opened = everyCpu ? `on ${events.length} CPU${events.length === 1 ? "" : "s"}` : `on CPU ${cpus[0]}`;
  // Links first: closing one detaches the program; the perf events go after.
  const fds = [...links, ...events];
  return attachment(sys, spec, `${name} (${opened})`, fds[0]!, undefined, fds.slice(1), events.length);
}

/** The event a perf_event probe opens on each of its CPUs. */
function perfEventAttr(t: PerfEventProbe): PerfEventAttr {
  if ("event" in t) {
    return { type: t.probe === "software" ? PerfType.SOFTWARE : PerfType.HARDWARE, config: BigInt(perfEventConfig(t)), samplePeriod: BigInt(t.count) };
  }
  const clock = { type: PerfType.SOFTWARE, config: BigInt(PerfSwConfig.CPU_CLOCK) };
  return t.probe === "profile" && t.unit === "hz" ? { ...clock, samplePeriod: BigInt(t.rate), flags: PerfAttrFlag.FREQ } : { ...clock, samplePeriod: perfEventPeriodNs(t) };
}

export interface KprobeChecks {
  kallsyms?: string;
  /** debugfs's list of functions kprobes refuse (absent when debugfs is not mounted: not checked then). */
  blacklist?: string;
  /** Whether the kernel's BTF describes a function: it then exists in the source even when kallsyms lacks it. */
  inBtf?: (func: string) => boolean;
}

/**
 * Why a kprobe cannot go on `func`, or undefined: it has no symbol (inlined into its callers when the kernel's
 * BTF knows it; renamed when the compiler made a specialised copy such as func.isra.0), or kprobes refuse it.
 */
export function kprobeProblem(func: string, checks: KprobeChecks = {}): string | undefined {
  const kallsyms = checks.kallsyms ?? "/proc/kallsyms";
  const { exists, copies } = kallsymsEntry(func, kallsyms);
  if (!exists) {
    if (copies.length) return `the running kernel has no function ${func}, only the compiler's specialised ${copies.length === 1 ? "copy" : "copies"} ${copies.join(", ")}: probe ${copies.length === 1 ? "that" : "one of those"} instead`;
    const inBtf = checks.inBtf ?? functionInKernelBtf;
    if (inBtf(func)) return `${func} was inlined into its callers when the running kernel was built (its BTF describes it, but /proc/kallsyms has no symbol to probe); probe a function that calls it, or a tracepoint`;
    return `the running kernel has no function ${func} (not in /proc/kallsyms)`;
  }
  if (blacklisted(func, checks.blacklist ?? KPROBE_BLACKLIST)) {
    return `${func} is on the kernel's kprobe blacklist (functions kprobes cannot safely interrupt, listed in /sys/kernel/debug/kprobes/blacklist); probe a function that calls it, or a tracepoint`;
  }
  return undefined;
}

function functionInKernelBtf(func: string): boolean {
  try {
    return kernelBtf().findIdsByName(func, BtfKind.FUNC).length > 0;
  } catch {
    return false; // no vmlinux BTF: say only that the symbol is missing
  }
}

const KPROBE_BLACKLIST = "/sys/kernel/debug/kprobes/blacklist";

function blacklisted(func: string, path: string): boolean {
  return blacklistedNames(readText(path)).has(func);
}

/** The functions debugfs's kprobes/blacklist names (`0xSTART-0xEND\tname` lines). */
function blacklistedNames(text: string): Set<string> {
  return new Set(text.split("\n").map((line) => line.slice(line.lastIndexOf("\t") + 1).trim()));
}

/** A file's text, or "" when it cannot be read (debugfs not mounted: nothing known). */
function readText(path: string): string {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return "";
  }
}

/**
 * The kernel functions a kprobe glob (`vfs_*`) attaches to, from /proc/kallsyms's text (and debugfs's kprobe
 * blacklist's), sorted. Text symbols only (t, T, w, W), each name once; left out are names kallsyms lists more than
 * once (the kernel refuses a kprobe on an ambiguous name), functions on the blacklist (kprobeProblem refuses them; it
 * refuses nothing else that kallsyms lists), and symbols that are not a function's entry: `.cold` fragments and the
 * `__pfx_`/`__cfi_` padding before each function.
 */
export function kprobeGlobMatches(glob: string, kallsyms: string, blacklist = ""): string[] {
  const pattern = globRegExp(glob);
  const seen = new Map<string, number>();
  for (const line of kallsyms.split("\n")) {
    // "ffffffff81234560 T vfs_read" or "... t name\t[module]"
    const [, type, name] = line.split(/[ \t]/, 3);
    if (!name || !/^[tTwW]$/.test(type!) || !pattern.test(name)) continue;
    seen.set(name, (seen.get(name) ?? 0) + 1);
  }
  const refused = blacklistedNames(blacklist);
  const entry = (name: string) => !/\.cold(\.\d+)?$/.test(name) && !/^__(pfx|cfi)_/.test(name);
  return [...seen].filter(([name, count]) => count === 1 && entry(name) && !refused.has(name)).map(([name]) => name).sort();
}

/** What /proc/kallsyms says of a function: whether it has a text symbol, and the compiler's copies of it. */
interface KallsymsEntry {
  exists: boolean;
  /** func.isra.0, func.constprop.0, func.part.0, func.llvm.N (not func.cold, a fragment of func). */
  copies: string[];
}

const knownFunctions = new Map<string, KallsymsEntry>();

/** Whether /proc/kallsyms lists `func` as a text symbol (module symbols included); answers are cached per process. */
export function kernelFunctionExists(func: string, kallsyms = "/proc/kallsyms"): boolean {
  return kallsymsEntry(func, kallsyms).exists;
}

function kallsymsEntry(func: string, kallsyms: string): KallsymsEntry {
  const key = `${kallsyms}\0${func}`;
  let known = knownFunctions.get(key);
  // Reading kallsyms costs ~150 ms; a module loaded later is the only way an answer changes.
  if (known === undefined) knownFunctions.set(key, (known = scanKallsyms(func, kallsyms)));
  return known;
}

const COPY_SUFFIX = /^\.(isra|constprop|part|llvm)\.[\w.]+/;

function scanKallsyms(func: string, kallsyms: string): KallsymsEntry {
  let text: string;
  try {
    text = readFileSync(kallsyms, "latin1");
  } catch {
    return { exists: true, copies: [] }; // cannot tell: let the kernel decide
  }
  let exists = false;
  const copies = new Set<string>();
  for (let at = text.indexOf(` ${func}`); at >= 0; at = text.indexOf(` ${func}`, at + 1)) {
    // The type letter precedes the name: text symbols only.
    const type = text[at - 1];
    if (type !== "T" && type !== "t" && type !== "W" && type !== "w") continue;
    const end = at + 1 + func.length;
    const after = text.charCodeAt(end);
    // The name ends the line or is followed by the module column.
    if (after === 10 || after === 9 || Number.isNaN(after)) exists = true;
    else if (after === 46) {
      const suffix = COPY_SUFFIX.exec(text.slice(end, text.indexOf("\n", end) >>> 0));
      if (suffix) copies.add(func + suffix[0]);
    }
  }
  return { exists, copies: [...copies].sort() };
}

/** A syscall tracepoint that covers a kernel function named after a syscall (do_unlinkat → syscalls:sys_enter_unlinkat, vfs_read → syscalls:sys_enter_read). */
export function tracepointAlternative(func: string): string | undefined {
  const root = tracefsPath();
  if (!root) return undefined;
  const stem = func.replace(/^(__x64_sys_|__arm64_sys_|__se_sys_|__do_sys_|ksys_|do_sys_|do_|sys_|vfs_)/, "");
  let names: string[];
  try {
    names = readdirSync(`${root}/events/syscalls`);
  } catch {
    return undefined;
  }
  return names.includes(`sys_enter_${stem}`) ? `syscalls:sys_enter_${stem}` : undefined;
}
