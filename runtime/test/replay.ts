// Replaying a live run in the simulator: the JSON lines `tsbpf run --record FILE` wrote (cli/record.ts) are
// read back, and each recorded probe hit is fired again with the same task, CPU, clock, tracepoint fields
// (with the strings their pointers pointed to placed in simulated memory) or argument registers, so that a
// test can compare the simulator's printk lines and events with what the kernel produced.
// Takes a Simulation and a recording (a path, its text, or a parsed Recording); gives what was fired.

import { readFileSync } from "node:fs";
import type { CValue } from "./layout.js";
import { usage } from "./errors.js";
import type { FireResult, Simulation } from "./simulate.js";
import { cString, type SimKernel } from "../vm/kernel.js";
import type { Region } from "../vm/memory.js";

export type RecordedProbe =
  | { kind: "tracepoint"; group: string; name: string }
  | { kind: "kprobe" | "uprobe"; binary?: string; func: string; retprobe: boolean };

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
  comm: string;
  /** Tracepoint fields by name (pointers as recorded). */
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
  /** Ring buffer and perf event records the run printed, by map, in order. */
  events: Map<string, unknown[]>;
}

/** Parses a recording: a file path, or the file's text (anything with a newline or starting with `{`). */
export function readRecording(source: string): Recording {
  const text = source.includes("\n") || source.trimStart().startsWith("{") ? source : readFile(source);
  const out: Recording = { hits: [], printk: [], events: new Map() };
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw usage(`recording line ${i + 1} is not JSON: ${line.slice(0, 80)}`);
    }
    if (value.kind === "hit") out.hits.push(hitOf(value));
    else if (value.kind === "printk" && typeof value.message === "string") out.printk.push({ message: value.message, pid: Number(value.pid), task: String(value.task) });
    else if (value.kind === "event") {
      const map = String(value.map);
      out.events.set(map, [...(out.events.get(map) ?? []), value.value]);
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
  const rec = typeof recording === "string" ? readRecording(recording) : recording;
  const fired: { hit: RecordedHit; result: FireResult }[] = [];
  const attached = new Set(sim.programs.map((p) => p.section));
  for (const hit of rec.hits) {
    if (options.filter && !options.filter(hit)) continue;
    if (!hasProgram(attached, hit.probe)) continue;
    sim.kernel.setTime(hit.time);
    const task = { pid: hit.pid, tgid: hit.tgid, uid: hit.uid, gid: hit.gid, comm: hit.comm, cpu: hit.cpu % sim.kernel.numCpus };
    fired.push({ hit, result: fire(sim, hit, task) });
  }
  return fired;
}

function fire(sim: Simulation, hit: RecordedHit, task: Record<string, unknown>): FireResult {
  const p = hit.probe;
  if (p.kind === "tracepoint") {
    const fields: Record<string, CValue> = { ...hit.fields };
    for (const f of sim.tracepointLayout(p.group, p.name).fields) {
      // A task name of digits reads back as a number; a char array or __data_loc field holds it as text.
      const v = fields[f.name];
      if ((f.dataLoc || f.type === "char") && (typeof v === "bigint" || typeof v === "number")) fields[f.name] = String(v);
    }
    for (const [name, s] of Object.entries(hit.strings ?? {})) {
      // A NULL pointer stays NULL; a string the kernel could read is placed where the pointer now points.
      const recorded = BigInt(fields[name] as number | bigint);
      if (recorded === 0n) continue;
      fields[name] = stringsOf(sim).place(p.group === "syscalls" ? "user" : "kernel", recorded, s);
    }
    return sim.tracepoint(p.group, p.name, fields, task);
  }
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

/** Whether a program of the object is attached where the hit happened (by libbpf's section names). */
function hasProgram(sections: ReadonlySet<string>, p: RecordedProbe): boolean {
  for (const s of sections) {
    if (p.kind === "tracepoint" && (s === `tracepoint/${p.group}/${p.name}` || s === `tp/${p.group}/${p.name}`)) return true;
    if (p.kind !== "tracepoint") {
      const kind = `${p.kind === "uprobe" ? "u" : "k"}${p.retprobe ? "ret" : ""}probe`;
      if (s.startsWith(`${kind}/`) && (s.endsWith(`:${p.func}`) || s === `${kind}/${p.func}`)) return true;
    }
  }
  return false;
}

function hitOf(v: Record<string, unknown>): RecordedHit {
  const int = (x: unknown): CValue => (typeof x === "string" && /^-?\d+$/.test(x) ? BigInt(x) : (x as CValue));
  const fields = v.fields as Record<string, unknown> | undefined;
  const value = (x: unknown): CValue => (Array.isArray(x) ? (x.map(int) as unknown as CValue) : int(x));
  return {
    probe: v.probe as RecordedProbe,
    time: BigInt(v.time as number | string),
    cpu: Number(v.cpu),
    pid: Number(v.pid),
    tgid: Number(v.tgid),
    uid: Number(v.uid),
    gid: Number(v.gid),
    comm: String(v.comm ?? ""),
    fields: fields && Object.fromEntries(Object.entries(fields).map(([k, x]) => [k, value(x)])),
    strings: v.strings as Record<string, string> | undefined,
    args: (v.args as unknown[] | undefined)?.map(int),
    ret: v.ret === undefined ? undefined : int(v.ret),
  };
}

function readFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw usage(`cannot read the recording ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}
