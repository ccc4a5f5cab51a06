// Kprobes and uprobes the older way, for kernels without the kprobe/uprobe PMUs: a probe event defined by writing
// to tracefs's kprobe_events or uprobe_events, then opened as a tracepoint by its id.
// Takes the kind, the target ("do_unlinkat+0", "/usr/lib/libc.so.6:0x1234") and whether it is a return probe;
// gives the event's tracepoint id and a `remove()` that deletes the definition again (after the perf event that
// uses it is closed). Events are named tsbpf_PID/...: definitions a killed run left are removed by the next one.

import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { tracefsPath } from "../sys/kernel.js";
import { abandonedNames, removeAbandonedInstances } from "./trace.js";

export type ProbeKind = "kprobe" | "uprobe";

export interface ProbeEvent {
  /** "tsbpf_1234/p_do_unlinkat_0". */
  name: string;
  /** Its tracepoint id, for perf_event_open(PERF_TYPE_TRACEPOINT). */
  id: number;
  /** Deletes the definition; idempotent. Left for a later run's sweep if a perf event still uses it. */
  remove(): void;
}

const GROUP_PREFIX = "tsbpf_";
let serial = 0;

/** The tracefs file that defines probes of `kind`, or undefined when this kernel has none. */
export function probeEventsFile(kind: ProbeKind): string | undefined {
  const root = tracefsPath();
  const file = root && `${root}/${kind}_events`;
  return file && existsSync(file) ? file : undefined;
}

/** Defines a probe event on `target` and gives its id; throws the kernel's errno (as an Error with `code`) when refused. */
export function createProbeEvent(kind: ProbeKind, target: string, retprobe: boolean): ProbeEvent {
  const file = probeEventsFile(kind);
  const root = tracefsPath();
  if (!file || !root) throw Object.assign(new Error(`no ${kind}_events in tracefs`), { code: "ENOENT" });
  removeAbandonedIn(file);
  // Event names allow [A-Za-z0-9_] and at most 64 characters.
  const stem = target.replace(/^.*\//, "").replace(/\W/g, "_").slice(0, 40);
  const group = `${GROUP_PREFIX}${process.pid}`;
  const name = `${group}/${retprobe ? "r" : "p"}_${stem}_${serial++}`;
  appendFileSync(file, `${retprobe ? "r" : "p"}:${name} ${target}\n`);
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    try {
      appendFileSync(file, `-:${name}\n`);
    } catch {
      // EBUSY while the kernel still releases the perf event: the next run's sweep removes it once this process is gone
    }
  };
  try {
    const id = Number(readFileSync(`${root}/events/${name}/id`, "utf8").trim());
    return { name, id, remove };
  } catch (e) {
    remove();
    throw e;
  }
}

/**
 * Removes what runs whose process is gone left in tracefs: private instances, and kprobe and uprobe definitions
 * whichever way this run attaches (a run through the PMUs never writes those files, so would otherwise leave a
 * killed legacy run's definitions for good).
 */
export function removeAbandoned(): void {
  removeAbandonedInstances();
  for (const kind of ["kprobe", "uprobe"] as const) {
    const file = probeEventsFile(kind);
    if (file) removeAbandonedIn(file);
  }
}

/** Removes the definitions of runs whose process is gone (SIGKILL, a crash). */
function removeAbandonedIn(file: string): void {
  let definitions: string;
  try {
    definitions = readFileSync(file, "utf8");
  } catch {
    return;
  }
  const names = [...definitions.matchAll(/^[pr]:(tsbpf_\d+\/\w+)/gm)].map((m) => m[1]!);
  if (names.length === 0) return;
  const groups = new Set(names.map((n) => n.slice(0, n.indexOf("/"))));
  const abandoned = new Set(abandonedNames([...groups], (g) => Number(g.slice(GROUP_PREFIX.length))));
  for (const name of names) {
    if (!abandoned.has(name.slice(0, name.indexOf("/")))) continue;
    try {
      appendFileSync(file, `-:${name}\n`);
    } catch {
      // still in use by a perf event of some process: the next sweep retries
    }
  }
}
