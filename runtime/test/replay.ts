// Replaying a live run in the simulator: the JSON lines `tsbpf run --record FILE` wrote (cli/record.ts) are
// read back, and each recorded probe hit is fired again with the same task, CPU, clock (as the recorder read it),
// tracepoint fields (with the strings their pointers pointed to placed in simulated memory) or argument registers,
// so that a test can compare the simulator's printk lines and events with what the kernel produced.
// Takes a Simulation and a recording (a path, its text, or a parsed Recording); gives what was fired.

import { readFileSync } from "node:fs";
import { globRegExp } from "../../compiler/glob.js";
import { splitUprobeTarget } from "../loader/elfsym.js";
import type { CValue } from "./layout.js";
import { usage } from "./errors.js";
import { pointsToText, probeText, type RecordedProbe } from "./recorded-probe.js";
import { shown } from "./check.js";
import type { FireResult, Simulation } from "./simulate.js";
import { cString, type SimKernel } from "../vm/kernel.js";
import type { Region } from "../vm/memory.js";

/** One probe hit as the recorder saw it. */
export interface RecordedHit {
  probe: RecordedProbe;
  /** CLOCK_MONOTONIC at the hit, ns. */
  time: bigint;
  cpu: number;
  pid: number;
  tgid: number;
  uid: number;
  gid: number;
  /** The task's cgroup v2 id (recordings before cgroupId() have none: the simulation's stays). */
  cgroup?: bigint;
  comm: string;
  /** Tracepoint fields by name (pointers as recorded): a string field's text, an integer past 2^53 as its decimal
   *  string (which of the two a string is, the tracepoint's format says when the hit is replayed). */
  fields?: Record<string, CValue>;
  /** What the tracepoint's `char *` fields pointed to. */
  strings?: Record<string, string>;
  /** Argument registers of a kprobe or uprobe. */
  args?: CValue[];
  /** Return value of a return probe. */
  ret?: CValue;
}

export interface Recording {
  /** Hits in the order they happened (by clock). */
  hits: RecordedHit[];
  /** The printk messages the run printed, in order, with the task that printed them. */
  printk: { message: string; pid: number; task: string }[];
  /** What printf() and time() wrote, as the run wrote it (what sim.output() gives). */
  printf: string;
  /** Ring buffer and perf event records the run printed, by map, in order. */
  events: Map<string, unknown[]>;
  /**
   * Maps as the run printed them, by name, each time it printed them (--interval, print()): the line `tsbpf run --json`
   * prints without its `map`, such as `{ entries: [{ key, value }] }` or `{ histogram: [{ bucket, min, max, count }] }`.
   */
  maps: Map<string, Record<string, unknown>[]>;
  /**
   * How the run was made, as simulate()'s options take it (`simulate(file, { ...recording.run })`): the process of its
   * --command or --pid (`targetPid`) and the text of its --set values (`set`). Absent from recordings of older tsbpf.
   */
  run?: { targetPid?: number; set?: Record<string, string> };
}

/** The list under `key`, added empty when there is none. */
function listed<T>(lists: Map<string, T[]>, key: string): T[] {
  let list = lists.get(key);
  if (!list) lists.set(key, (list = []));
  return list;
}

/** Parses a recording: a file path, or the file's text (anything with a newline or starting with `{`). */
export function readRecording(source: string): Recording {
  const text = source.includes("\n") || source.trimStart().startsWith("{") ? source : readFile(source);
  const out: Recording = { hits: [], printk: [], printf: "", events: new Map(), maps: new Map() };
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw usage(`recording line ${i + 1} is not JSON: ${line.slice(0, 80)}`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw usage(`recording line ${i + 1} is not a JSON object: ${line.slice(0, 80)}`);
    if (value.kind === "hit") out.hits.push(hitOf(value, i + 1));
    else if (value.kind === "run") out.run = runOf(value, i + 1);
    else if (value.kind === "printf" && typeof value.text === "string") out.printf += value.text;
    else if (value.kind === "printk" && typeof value.message === "string") out.printk.push({ message: value.message, pid: Number(value.pid), task: String(value.task) });
    else if (value.kind === "event") listed(out.events, String(value.map)).push(value.value);
    else if (value.kind === "map" && typeof value.map === "string") {
      const { kind: _kind, map, ...printed } = value;
      listed(out.maps, map).push(printed);
    }
  });
  out.hits.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return out;
}

/**
 * Fires every recorded hit (optionally only those `filter` keeps) in clock order; gives each firing's result.
 * Hits on probes the object has no program for are skipped, as the kernel would not have run anything.
 */
export function replay(sim: Simulation, recording: string | Recording, options: { filter?: (hit: RecordedHit) => boolean } = {}): { hit: RecordedHit; result: FireResult }[] {
  if (typeof recording !== "string" && !Array.isArray((recording as Partial<Recording> | null)?.hits)) {
    throw usage(`replay() takes a recording's path, its text, or what readRecording() gives, not ${shown(recording)}`);
  }
  if (options.filter !== undefined && typeof options.filter !== "function") throw usage(`replay()'s filter must be a function of a hit, not ${shown(options.filter)}`);
  const rec = typeof recording === "string" ? readRecording(recording) : recording;
  // A probe filtering by targetPid() saw only the target's hits as its own: without the target it would take them all.
  const target = rec.run?.targetPid;
  if (target !== undefined && sim.readsTargetPid && sim.targetPid !== target) {
    throw usage(`the recording was made with --command or --pid, process ${target}: simulate(..., { targetPid: ${target} }) as that run set it (the simulation's targetPid() is ${sim.targetPid}); simulate(..., { ...recording.run }) also gives its --set values`);
  }
  const fired: { hit: RecordedHit; result: FireResult }[] = [];
  const attached = new Set(sim.programs.map((p) => p.section));
  const hits = rec.hits.filter((hit) => !options.filter || options.filter(hit));
  // Hits of probes the file lacks are left out (a recording may cover more); none of its probes at all is a mistake.
  if (hits.length && !hits.some((hit) => hasProgram(attached, hit.probe))) {
    const probes = [...new Set(hits.map((h) => probeText(h.probe)))];
    throw usage(`none of the recording's ${hits.length} hits is of a probe this file has (recorded: ${probes.slice(0, 4).join(", ")}${probes.length > 4 ? ", ..." : ""}; the file's programs: ${sim.programs.map((p) => p.section).join(", ") || "none"})`);
  }
  // Per-CPU maps and cpu() see the recorded CPU: the simulation needs at least as many.
  // (a loop: a spread of a long recording's hits would pass the limit of a call's arguments)
  const cpu = hits.reduce((most, h) => (h.cpu > most && hasProgram(attached, h.probe) ? h.cpu : most), -1);
  if (cpu >= sim.kernel.numCpus) throw usage(`the recording has hits on CPU ${cpu}, and the simulation has ${sim.kernel.numCpus} CPUs: simulate it with { cpus: ${cpu + 1} } or more`);
  for (const hit of hits) {
    if (!hasProgram(attached, hit.probe)) continue;
    sim.kernel.setTime(hit.time);
    const task = { pid: hit.pid, tgid: hit.tgid, uid: hit.uid, gid: hit.gid, cgroup: hit.cgroup, comm: hit.comm, cpu: hit.cpu };
    fired.push({ hit, result: fire(sim, hit, task) });
  }
  return fired;
}

function fire(sim: Simulation, hit: RecordedHit, task: Record<string, unknown>): FireResult {
  const p = hit.probe;
  if (p.kind === "tracepoint") {
    const fields: Record<string, CValue> = { ...hit.fields };
    const layout = sim.tracepointLayout(p.group, p.name);
    for (const f of layout.fields) {
      // The field's type, not its text, says whether a recorded string is text ("0123" stays "0123") or an integer.
      const v = fields[f.name];
      const text = f.dataLoc || (f.type === "char" && f.arrayLength !== undefined);
      if (text && (typeof v === "bigint" || typeof v === "number")) fields[f.name] = String(v);
      else if (!text && typeof v === "string" && /^-?\d+$/.test(v)) fields[f.name] = BigInt(v);
    }
    for (const [name, s] of Object.entries(hit.strings ?? {})) {
      // A NULL pointer stays NULL; a string the kernel could read is placed where the pointer now points. Text an older
      // recorder read through a pointer to pointers (execve's argv) was their bytes: the pointer stays unreadable.
      const recorded = BigInt(fields[name] as number | bigint);
      const field = layout.fields.find((f) => f.name === name);
      if (recorded === 0n || (field !== undefined && !pointsToText(field.type))) continue;
      fields[name] = stringsOf(sim).place(p.group === "syscalls" ? "user" : "kernel", recorded, s);
    }
    return sim.tracepoint(p.group, p.name, fields, task);
  }
  if (p.kind === "usdt") return sim.usdt(`${p.binary}:${p.provider}:${p.name}`, { ...task, args: hit.args });
  if (p.kind === "rawTracepoint") return sim.rawTracepoint(p.name, hit.args ?? [], task);
  const target = p.kind === "uprobe" ? `${p.binary}:${p.func}` : p.func;
  if (p.retprobe) return p.kind === "uprobe" ? sim.uretprobe(target, { ...task, ret: hit.ret }) : sim.kretprobe(target, { ...task, ret: hit.ret });
  return p.kind === "uprobe" ? sim.uprobe(target, { ...task, args: hit.args }) : sim.kprobe(target, { ...task, args: hit.args });
}

/**
 * Where a simulation's replayed strings live. They are packed into shared pages rather than mapped one region
 * each: a recording holds thousands of strings and the VM has a few thousand regions of each kind. A pointer
 * recorded again with the same string gets the same address, so a probe that keys a map by the pointer, or
 * keeps it from an entry hit to read at the exit, sees what the kernel saw.
 */
class ReplayStrings {
  private readonly placed = new Map<string, bigint>();
  private readonly pages: Record<"user" | "kernel", { region: Region; used: number } | undefined> = { user: undefined, kernel: undefined };
  constructor(private readonly vm: SimKernel) {}

  place(space: "user" | "kernel", recorded: bigint, s: string): bigint {
    const key = `${space} ${recorded} ${s}`;
    let address = this.placed.get(key);
    if (address === undefined) {
      const bytes = cString(s);
      let page = this.pages[space];
      if (page === undefined || page.used + bytes.length > page.region.size) {
        const size = Math.max(PAGE_BYTES, bytes.length);
        const region = space === "user" ? this.vm.userRegion(size, "replayed user strings") : this.vm.kernelRegion(size, "replayed kernel strings");
        page = this.pages[space] = { region, used: 0 };
      }
      page.region.bytes.set(bytes, page.used);
      address = page.region.address(page.used);
      page.used += bytes.length;
      this.placed.set(key, address);
    }
    return address;
  }
}

const PAGE_BYTES = 64 * 1024;
const replayStrings = new WeakMap<Simulation, ReplayStrings>();

function stringsOf(sim: Simulation): ReplayStrings {
  let strings = replayStrings.get(sim);
  if (!strings) replayStrings.set(sim, (strings = new ReplayStrings(sim.kernel.vm)));
  return strings;
}

const sectionPatterns = new Map<string, RegExp>();
/** Whether a section name, whose names may be globs (`tracepoint/syscalls/sys_enter_*`), names `what`. */
const names = (section: string, what: string): boolean => {
  let pattern = sectionPatterns.get(section);
  if (!pattern) sectionPatterns.set(section, (pattern = globRegExp(section)));
  return pattern.test(what);
};

/** Whether a program of the object is attached where the hit happened (by libbpf's section names, or a glob of them). */
function hasProgram(sections: ReadonlySet<string>, p: RecordedProbe): boolean {
  for (const s of sections) {
    if (p.kind === "tracepoint" && (names(s, `tracepoint/${p.group}/${p.name}`) || names(s, `tp/${p.group}/${p.name}`))) return true;
    if (p.kind === "usdt" && (names(s, `usdt/${p.binary}:${p.provider}:${p.name}`) || names(s, `usdt.s/${p.binary}:${p.provider}:${p.name}`))) return true;
    if (p.kind === "rawTracepoint" && ["tp_btf", "raw_tp", "raw_tracepoint"].some((prefix) => s === `${prefix}/${p.name}`)) return true;
    if (p.kind === "kprobe" || p.kind === "uprobe") {
      const kind = `${p.kind === "uprobe" ? "u" : "k"}${p.retprobe ? "ret" : ""}probe`;
      // The function is what follows the binary (`uprobe/BINARY:FUNC`, FUNC perhaps a C++ name's `app::W::leaf`), or
      // the kind (`kprobe/FUNC`).
      const rest = s.slice(kind.length + 1);
      if (s.startsWith(`${kind}/`) && names(p.kind === "uprobe" ? (splitUprobeTarget(rest)?.[1] ?? rest) : rest, p.func)) return true;
    }
  }
  return false;
}

/** The run line (cli/record.ts writes it before the hits). */
function runOf(v: Record<string, unknown>, line: number): NonNullable<Recording["run"]> {
  const bad = (what: string): never => {
    throw usage(`recording line ${line}: the run's ${what} (a recording is what tsbpf run --record writes)`);
  };
  const run: NonNullable<Recording["run"]> = {};
  if (v.targetPid !== undefined) {
    if (typeof v.targetPid !== "number" || !Number.isInteger(v.targetPid) || v.targetPid <= 0) bad(`targetPid must be a process id, not ${shown(v.targetPid)}`);
    run.targetPid = v.targetPid as number;
  }
  if (v.set !== undefined) {
    if (!isRecord(v.set) || !Object.values(v.set).every((x) => typeof x === "string")) bad(`set must be an object of --set texts by variable name, not ${shown(v.set)}`);
    run.set = v.set as Record<string, string>;
  }
  return run;
}

function hitOf(v: Record<string, unknown>, line: number): RecordedHit {
  const bad = (what: string): never => {
    throw usage(`recording line ${line}: the hit's ${what} (a recording is what tsbpf run --record writes)`);
  };
  const int = (x: unknown): CValue => (typeof x === "string" && /^-?\d+$/.test(x) ? BigInt(x) : (x as CValue));
  const whole = (x: unknown, what: string): number => (typeof x === "number" && Number.isSafeInteger(x) && x >= 0 ? x : bad(`${what} must be a non-negative integer, not ${shown(x)}`));
  const probe = probeOf(v.probe, bad);
  const fields = v.fields as Record<string, unknown> | undefined;
  if (fields !== undefined && !isRecord(fields)) bad(`fields must be an object, not ${shown(fields)}`);
  const strings = v.strings as Record<string, unknown> | undefined;
  if (strings !== undefined) {
    if (!isRecord(strings)) bad(`strings must be an object, not ${shown(strings)}`);
    for (const [name, text] of Object.entries(strings)) {
      if (typeof text !== "string") bad(`string of field ${name} must be a string, not ${shown(text)}`);
      if (!/^-?\d+$/.test(String(fields?.[name]))) bad(`field ${name} must hold the pointer its string was read from, not ${shown(fields?.[name])}`);
    }
  }
  if (v.args !== undefined && !Array.isArray(v.args)) bad(`args must be an array, not ${shown(v.args)}`);
  // A field's string stays as written: only the tracepoint's format tells text from a big integer (fire() does).
  const value = (x: unknown): CValue => (Array.isArray(x) ? (x.map(int) as unknown as CValue) : (x as CValue));
  const u64 = (x: unknown, expected: string): bigint =>
    typeof x === "number" && Number.isSafeInteger(x) && x >= 0 ? BigInt(x) : typeof x === "string" && /^\d+$/.test(x) && BigInt(x) < 1n << 64n ? BigInt(x) : bad(`${expected}, not ${shown(x)}`);
  const time = u64(v.time, "time must be nanoseconds (an integer or a decimal string)");
  return {
    probe,
    time,
    cpu: whole(v.cpu, "cpu"),
    pid: whole(v.pid, "pid"),
    tgid: whole(v.tgid, "tgid"),
    uid: whole(v.uid, "uid"),
    gid: whole(v.gid, "gid"),
    cgroup: v.cgroup === undefined ? undefined : u64(v.cgroup, "cgroup must be a cgroup id (an integer or a decimal string)"),
    comm: String(v.comm ?? ""),
    fields: fields && Object.fromEntries(Object.entries(fields).map(([k, x]) => [k, value(x)])),
    strings: strings as Record<string, string> | undefined,
    args: (v.args as unknown[] | undefined)?.map(int),
    ret: v.ret === undefined ? undefined : int(v.ret),
  };
}

/** A recorded probe: a tracepoint's group and name, or a kprobe's or uprobe's function (and binary). */
function probeOf(p: unknown, bad: (what: string) => never): RecordedProbe {
  const probe = p as Record<string, unknown>;
  if (!isRecord(probe)) return bad(`probe must be an object, not ${shown(p)}`);
  if (probe.kind === "tracepoint") {
    if (typeof probe.group !== "string" || typeof probe.name !== "string") bad("tracepoint probe needs a group and a name (strings)");
    return probe as RecordedProbe;
  }
  if (probe.kind === "usdt") {
    if (typeof probe.binary !== "string" || typeof probe.provider !== "string" || typeof probe.name !== "string") bad("usdt probe needs a binary, a provider and a name (strings)");
    return probe as RecordedProbe;
  }
  if (probe.kind === "rawTracepoint") {
    if (typeof probe.name !== "string") bad("rawTracepoint probe needs a name (a string)");
    return probe as RecordedProbe;
  }
  if (probe.kind !== "kprobe" && probe.kind !== "uprobe") return bad(`probe kind must be "tracepoint", "rawTracepoint", "kprobe", "uprobe" or "usdt", not ${shown(probe.kind)}`);
  if (typeof probe.func !== "string" || typeof probe.retprobe !== "boolean") bad(`${probe.kind} probe needs func (a string) and retprobe (a boolean)`);
  if (probe.kind === "uprobe" && typeof probe.binary !== "string") bad("uprobe probe needs its binary (a string)");
  return probe as RecordedProbe;
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

function readFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw usage(`cannot read the recording ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}
