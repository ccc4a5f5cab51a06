// The running kernel: `openSys()` (the real `Sys`, one shared instance) and the feature probes, which return a
// reason string when a feature is missing (undefined when present), shaped for `test(name, { skip: reason })`.
// Takes nothing at import.

import { existsSync, readFileSync, statSync } from "node:fs";
import { LinuxSys, cpuList } from "./linux.js";
import { ProgType } from "./constants.js";
import { SysError, type IdKind, type Sys } from "./sys.js";
import { outOfFiles } from "../../compiler/file-error.js";

let shared: LinuxSys | undefined;

/** The real kernel. One shared instance: its map-shape cache stays right as long as fds are closed through it. */
export function openSys(): Sys {
  shared ??= new LinuxSys();
  return shared;
}

/** All live ids of a kind, in ascending order (BPF_*_GET_NEXT_ID until the end). */
export function listIds(sys: Sys, kind: IdKind): number[] {
  const next = {
    prog: (id: number) => sys.progGetNextId(id),
    map: (id: number) => sys.mapGetNextId(id),
    link: (id: number) => sys.linkGetNextId(id),
    btf: (id: number) => sys.btfGetNextId(id),
  }[kind];
  const ids: number[] = [];
  for (let id = next(0); id !== undefined; id = next(id)) ids.push(id);
  return ids;
}

// ---------------------------------------------------------------- feature probes

/** `r0 = 0; exit`, encoded. */
const RETURN_ZERO = Uint8Array.from([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

const TRACEFS_PATHS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
const memo = new Map<string, string | undefined>();
function once(key: string, probe: () => string | undefined): string | undefined {
  if (!memo.has(key)) memo.set(key, probe());
  return memo.get(key);
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Reason when the process is not root (uid 0). */
export function missingRoot(): string | undefined {
  return once("root", () => (process.getuid?.() === 0 ? undefined : `not running as root (uid ${process.getuid?.() ?? "unknown"})`));
}

/** Capability numbers from linux/capability.h. */
const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

/**
 * Reason when the process cannot load and attach BPF programs: it needs CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN stands
 * in for both), which root has unless they were dropped (capsh, a container). Undefined when it has them or when
 * its capabilities cannot be read.
 */
export function missingBpfPrivileges(): string | undefined {
  return once("privileges", () => {
    let status: string;
    try {
      status = readFileSync("/proc/self/status", "utf8");
    } catch {
      return undefined;
    }
    return bpfPrivilegesMissing(status, process.getuid?.());
  });
}

/** missingBpfPrivileges() for a /proc/PID/status text and a uid. */
export function bpfPrivilegesMissing(status: string, uid: number | undefined): string | undefined {
  const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(status);
  if (!m) return undefined;
  const effective = BigInt(`0x${m[1]}`);
  const has = (cap: bigint) => ((effective >> cap) & 1n) === 1n || ((effective >> CAP_SYS_ADMIN) & 1n) === 1n;
  const lacking = [...(has(CAP_BPF) ? [] : ["CAP_BPF"]), ...(has(CAP_PERFMON) ? [] : ["CAP_PERFMON"])];
  if (lacking.length === 0) return undefined;
  if (uid === 0) return `running as root but without ${lacking.join(" and ")} (dropped by capsh or a container's settings)`;
  // A user given one of the two (setcap, ambient capabilities) hears which one is still missing.
  return lacking.length === 1 ? `not running as root (uid ${uid ?? "unknown"}), and without ${lacking[0]}` : `not running as root (uid ${uid ?? "unknown"})`;
}

/**
 * Reason when the process lacks CAP_SYS_ADMIN, which creating uprobes needs on kernels that refuse them to
 * CAP_PERFMON (this one does); undefined when it has it or its capabilities cannot be read.
 */
export function missingSysAdmin(): string | undefined {
  return once("sysadmin", () => {
    let status: string;
    try {
      status = readFileSync("/proc/self/status", "utf8");
    } catch {
      return undefined;
    }
    const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(status);
    if (!m || ((BigInt(`0x${m[1]}`) >> CAP_SYS_ADMIN) & 1n) === 1n) return undefined;
    return process.getuid?.() === 0 ? "running as root but without CAP_SYS_ADMIN" : `not running as root (uid ${process.getuid?.() ?? "unknown"}), and without CAP_SYS_ADMIN`;
  });
}

/** Reason when bpf() cannot load `r0 = 0; exit` as a socket filter. */
export function missingBpf(sys: Sys = openSys()): string | undefined {
  return once("bpf", () => {
    try {
      const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: RETURN_ZERO });
      sys.close(fd);
      return undefined;
    } catch (e) {
      return `bpf() cannot load a program: ${describe(e)}`;
    }
  });
}

/** Reason when BPF_PROG_TEST_RUN does not run a socket filter. */
export function missingTestRun(sys: Sys = openSys()): string | undefined {
  return once("testrun", () => {
    const noBpf = missingBpf(sys);
    if (noBpf) return noBpf;
    const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: RETURN_ZERO });
    try {
      const r = sys.progTestRun(fd, { dataIn: new Uint8Array(64) });
      return r.retval === 0 ? undefined : `BPF_PROG_TEST_RUN returned ${r.retval} for r0 = 0`;
    } catch (e) {
      return `BPF_PROG_TEST_RUN does not work: ${describe(e)}`;
    } finally {
      sys.close(fd);
    }
  });
}

/** Where tracefs is mounted, or undefined. */
export function tracefsPath(): string | undefined {
  return TRACEFS_PATHS.find((p) => existsSync(`${p}/events`));
}

/** Reason when tracefs (tracepoint ids and formats) is not mounted, or is mounted where this user cannot look. */
export function missingTracefs(): string | undefined {
  if (tracefsPath()) return undefined;
  for (const p of TRACEFS_PATHS) {
    try {
      statSync(`${p}/events`);
    } catch (e) {
      // Mounted, as root's alone (mode 700): CAP_BPF and CAP_PERFMON do not open it.
      if ((e as NodeJS.ErrnoException).code === "EACCES") return `tracefs at ${p} is not readable by this user (mounted for root alone): run as root, or remount it readable (mount -o remount,mode=755 ${p})`;
    }
  }
  return "tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing)";
}

/** The id of tracepoint `group:name`, or undefined when tracefs or the tracepoint is missing. */
export function tracepointId(group: string, name: string): number | undefined {
  const root = tracefsPath();
  if (!root) return undefined;
  try {
    return Number(readFileSync(`${root}/events/${group}/${name}/id`, "utf8").trim());
  } catch (error) {
    // Out of file descriptors is no sign that the tracepoint is missing.
    if (outOfFiles(error)) throw error;
    return undefined;
  }
}

/** The perf type number of a dynamic PMU ("uprobe", "kprobe"), or undefined. */
export function pmuType(pmu: string): number | undefined {
  try {
    return Number(readFileSync(`/sys/bus/event_source/devices/${pmu}/type`, "utf8").trim());
  } catch {
    return undefined;
  }
}

/** The online CPUs (/sys/devices/system/cpu/online), in order; [0] when the file cannot be read. */
export function onlineCpus(): number[] {
  try {
    const cpus = cpuList(readFileSync("/sys/devices/system/cpu/online", "utf8"));
    return cpus.length ? cpus : [0];
  } catch {
    return [0];
  }
}

/** kernel.perf_event_max_sample_rate: the most samples a second a frequency-driven perf event may ask for; undefined when unreadable. */
export function perfMaxSampleRate(): number | undefined {
  try {
    const n = Number(readFileSync("/proc/sys/kernel/perf_event_max_sample_rate", "utf8").trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Reason when kprobes cannot be created (no kprobe PMU: CONFIG_KPROBES off). */
export function missingKprobes(): string | undefined {
  return pmuType("kprobe") === undefined ? "no kprobe PMU in /sys/bus/event_source/devices (CONFIG_KPROBES is off)" : undefined;
}

/** Reason when uprobes cannot be created (no uprobe PMU). */
export function missingUprobes(): string | undefined {
  return pmuType("uprobe") === undefined ? "no uprobe PMU in /sys/bus/event_source/devices (CONFIG_UPROBE_EVENTS is off)" : undefined;
}

export interface KernelFeatures {
  /** Each entry: undefined when present, otherwise why not. */
  root: string | undefined;
  bpf: string | undefined;
  testRun: string | undefined;
  tracefs: string | undefined;
  kprobes: string | undefined;
  uprobes: string | undefined;
  uprobeType: number | undefined;
  kprobeType: number | undefined;
  tracefsPath: string | undefined;
}

/** Every probe at once (bpf and test-run probes load tiny programs; the answers are cached). */
export function probeKernel(sys: Sys = openSys()): KernelFeatures {
  const root = missingRoot();
  return {
    root,
    bpf: missingBpf(sys),
    testRun: missingTestRun(sys),
    tracefs: missingTracefs(),
    kprobes: missingKprobes(),
    uprobes: missingUprobes(),
    uprobeType: pmuType("uprobe"),
    kprobeType: pmuType("kprobe"),
    tracefsPath: tracefsPath(),
  };
}

/** True for a SysError with this errno name ("ENOENT"). */
export function isErrno(e: unknown, code: string): e is SysError {
  return e instanceof SysError && e.code === code;
}
