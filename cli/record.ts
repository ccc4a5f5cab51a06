// `tsbpf run --record FILE`: what a live run received, and the probe hits that caused it, as JSON lines that
// tsbpf/test's `replay()` feeds back into the simulator (docs/testing.md, "Record and replay").
// The hits come from a recorder: a TypeScript probe generated here with one handler per attach point of the
// user's object, compiled by tsbpf's own compiler and loaded beside it. Each handler sends the hit's clock,
// task and CPU, and what the user's handler could read from its context (a tracepoint's fields by name, with
// the strings its `char *` fields point to; a uprobe's or kprobe's argument registers; a return probe's return
// value; a raw tracepoint's arguments), through a ring buffer of its own.
// Takes the object's attach targets and a way to read tracepoint formats; gives the recorder's source, the
// probe each of its ring buffers records, and `Recording` (the file being written).

import { closeSync, openSync, writeSync } from "node:fs";
import { globFormat, matchingTracepoints, parseTracepointFormat, readTracepointFormat, type TracepointField, type TracepointFormat } from "../compiler/frontend/tracepoints.js";
import type { AttachTarget } from "../runtime/loader/object.js";
import type { GlobalValue } from "../runtime/loader/globals.js";
import { openObject } from "../runtime/loader/session.js";
import { pointsToText, type RecordedProbe } from "../runtime/test/recorded-probe.js";
import { toJson } from "./report.js";
import { fileError } from "./exit-codes.js";
import { USDT_MAX_ARGS } from "../compiler/object/usdt-spec.js";
import { perfEventName } from "../compiler/btf/tags.js";
import { isGlob } from "../compiler/glob.js";
import { splitUprobeTarget } from "../runtime/loader/elfsym.js";
import { loadKernelBtf, rawTracepointArgs, type KernelScalar } from "../compiler/frontend/kernel-types.js";


/** One generated handler: the ring buffer it writes and the probe it stands for. */
export interface RecorderProbe {
  map: string;
  probe: RecordedProbe;
  /** Tracepoint fields recorded as strings (their pointers are recorded too). */
  strings: string[];
}

export interface Recorder {
  /** A probe file for tsbpf's compiler. */
  text: string;
  probes: RecorderProbe[];
  /** Attach points that cannot be recorded, and why. */
  skipped: string[];
}

const RING_BYTES = 1 << 22;
const STRING_BYTES = 256;
const ARGS = 6;

/**
 * The recorder for `targets` (deduplicated); `formatText(group, name)` reads a tracepoint's format, `tracepoints`
 * lists the ones a glob matches ("group/name"), `rawArgs` the arguments a raw tracepoint passes. A glob's handler
 * also records probe(), which probe fired, so that each hit is written as that probe's (Recording.hit); a tracepoint
 * glob's hits hold the fields its matches all share.
 */
export function recorderSource(
  targets: readonly AttachTarget[],
  formatText: (group: string, name: string) => string | undefined,
  tracepoints: (group: string, name: string) => readonly string[] | undefined = (g, n) => matchingTracepoints(g, n),
  rawArgs: (name: string) => readonly KernelScalar[] | undefined = kernelRawArgs,
): Recorder {
  const probes: RecorderProbe[] = [];
  const skipped: string[] = [];
  const handlers: string[] = [];
  const seen = new Set<string>();
  for (const t of targets) {
    const id = JSON.stringify(t);
    if (seen.has(id)) continue;
    seen.add(id);
    const i = probes.length;
    const map = `hits${i}`;
    const common = ["time: u64", "pidTgid: u64", "uidGid: u64", "cgroup: u64", "cpu: u32", "comm: Str<16>"];
    const fill = ["h.time = ktimeNs();", "h.pidTgid = pidTgid();", "h.uidGid = uidGid();", "h.cgroup = cgroupId();", "h.cpu = smpProcessorId();", "h.comm = comm();"];
    let members: string[];
    let head: string;
    let probe: RecordedProbe;
    const strings: string[] = [];
    if (t.kind === "tracepoint") {
      const format = tracepointFormat(t, formatText, tracepoints);
      if (typeof format === "string") {
        skipped.push(`tracepoint ${t.group}:${t.name}: ${format}`);
        continue;
      }
      const fields = format.fields.filter((f) => f.readable && f.shape);
      // Pointers as their values (the strings they point to are recorded beside them); __data_loc strings as text.
      const memberType = (f: TracepointField) => (f.shape!.kind === "ptr" ? "u64" : f.shape!.kind === "dynamic-str" ? `Str<${STRING_BYTES}>` : f.tsType);
      members = fields.map((f) => `f_${f.name}: ${memberType(f)}`);
      for (const f of fields) fill.push(f.shape!.kind === "ptr" ? `h.f_${f.name} = ctx.${f.name} as u64;` : `h.f_${f.name} = ctx.${f.name};`);
      for (const f of fields.filter((x) => x.tsType === "Ptr" && pointsToText(x.cType))) {
        strings.push(f.name);
        members.push(`s_${f.name}: Str<${STRING_BYTES}>`);
        fill.push(`h.s_${f.name} = ${t.group === "syscalls" ? "readUserStr" : "readKernelStr"}(ctx.${f.name});`);
      }
      head = `tracepoint(${JSON.stringify(t.group)}, ${JSON.stringify(t.name)}, (ctx) =>`;
      probe = { kind: "tracepoint", group: t.group, name: t.name };
    } else if (t.kind === "uprobe" || t.kind === "kprobe") {
      const func = t.func;
      if (func === undefined || t.offset !== 0) {
        skipped.push(`${t.kind} ${t.kind === "uprobe" ? `${t.binary}:` : ""}${func ?? ""}+${t.offset}: only probes on a function's entry are recorded`);
        continue;
      }
      const ctor = `${t.kind === "uprobe" ? "u" : "k"}${t.retprobe ? "ret" : ""}probe`;
      const params = t.retprobe ? ["ret"] : Array.from({ length: ARGS }, (_, k) => `a${k}`);
      members = params.map((p) => `${p}: u64`);
      fill.push(...params.map((p) => `h.${p} = ${p};`));
      const where = t.kind === "uprobe" ? `${JSON.stringify(t.binary)}, ${JSON.stringify(func)}` : JSON.stringify(func);
      head = `${ctor}(${where}, (${params.map((p) => `${p}: u64`).join(", ")}) =>`;
      probe = t.kind === "uprobe" ? { kind: "uprobe", binary: t.binary, func, retprobe: t.retprobe } : { kind: "kprobe", func, retprobe: t.retprobe };
    } else if (t.kind === "usdt") {
      // Every argument a site can have, decoded by its spec (0 past the site's count).
      const params = Array.from({ length: USDT_MAX_ARGS }, (_, k) => `a${k}`);
      members = params.map((p) => `${p}: u64`);
      fill.push(...params.map((p) => `h.${p} = ${p};`));
      head = `usdt(${[t.binary, t.provider, t.name].map((x) => JSON.stringify(x)).join(", ")}, (${params.map((p) => `${p}: u64`).join(", ")}) =>`;
      probe = { kind: "usdt", binary: t.binary, provider: t.provider, name: t.name };
    } else if ((t.kind === "btf" && t.hook === "tp_btf") || t.kind === "raw_tracepoint") {
      // Every argument as a u64, typed by the tracepoint's prototype: pointers replay as addresses, as a kprobe's do.
      const args = rawArgs(t.name);
      if (args === undefined) {
        skipped.push(`raw tracepoint ${t.name}: the kernel's BTF has no btf_trace_${t.name}`);
        continue;
      }
      const params = args.map((_, k) => `a${k}`);
      members = params.map((p) => `${p}: u64`);
      fill.push(...args.map((a, k) => `h.a${k} = ${a.kind === "ptr" ? `a${k} as u64` : a.bool ? `a${k} ? 1 : 0` : `a${k}`};`));
      head = `rawTracepoint(${JSON.stringify(t.name)}, (${params.join(", ")}) =>`;
      probe = { kind: "rawTracepoint", name: t.name };
    } else {
      // A perf event probe (profile, interval, software, hardware) runs on its own events: a recorder's would fire at other moments.
      if (t.kind === "perf_event") skipped.push(`${perfEventName(t)}: a perf event probe, whose samples a recorder's own events would not see`);
      else if (t.kind === "run") skipped.push(`${t.when}(): run once by tsbpf run, not a probe hit`);
      else if (t.kind !== "manual") skipped.push(`${t.kind} ${t.name}: not recorded`);
      continue;
    }
    // Which probe of a glob fired: the hit is recorded as that probe's.
    if (targetIsGlob(t)) {
      members.push("probe: ProbeName");
      fill.push("h.probe = probe();");
    }
    handlers.push(
      `interface Hit${i} { ${[...common, ...members].join("; ")} }`,
      `export const ${map} = new RingBuf<Hit${i}>(${RING_BYTES});`,
      `export const record${i} = ${head} {`,
      `  const h = ${map}.reserve();`,
      "  if (h === null) return 0;",
      ...fill.map((l) => `  ${l}`),
      `  ${map}.submit(h);`,
      "  return 0;",
      "});",
    );
    probes.push({ map, probe, strings });
  }
  const text = [
    'import { tracepoint, rawTracepoint, kprobe, kretprobe, uprobe, uretprobe, usdt, RingBuf, ktimeNs, pidTgid, uidGid, cgroupId, smpProcessorId, comm, readUserStr, readKernelStr, probe, type ProbeName, type u8, type u16, type u32, type u64, type i8, type i16, type i32, type i64, type Str, type Arr } from "tsbpf";',
    'export const license = "GPL";',
    ...handlers,
    "",
  ].join("\n");
  return { text, probes, skipped };
}

/** The arguments raw tracepoint `name` passes, from the running kernel's BTF. */
function kernelRawArgs(name: string): readonly KernelScalar[] | undefined {
  const btf = loadKernelBtf();
  return btf && rawTracepointArgs(btf, name);
}

/** A target whose names hold a glob: its recorder records which probe fired. */
function targetIsGlob(t: AttachTarget): boolean {
  if (t.kind === "tracepoint") return isGlob(t.group) || isGlob(t.name);
  if (t.kind === "uprobe" || t.kind === "kprobe") return t.func !== undefined && isGlob(t.func);
  if (t.kind === "usdt") return isGlob(t.provider) || isGlob(t.name);
  return false;
}

/** A tracepoint's record as its recorder reads it: its format, or for a glob the fields its matches share; else why not. */
function tracepointFormat(
  t: { group: string; name: string },
  formatText: (group: string, name: string) => string | undefined,
  tracepoints: (group: string, name: string) => readonly string[] | undefined,
): TracepointFormat | string {
  if (!isGlob(t.group) && !isGlob(t.name)) {
    const text = formatText(t.group, t.name);
    return text ? parseTracepointFormat(t.group, t.name, text) : "no format file";
  }
  return globFormat(t.group, t.name, tracepoints(t.group, t.name) ?? [], formatText) ?? "no tracepoint it matches has a format file";
}

/** The recorder for an object's programs, compiled by tsbpf's compiler (loaded here: only --record pays for it). */
export async function compileRecorder(objectBytes: Uint8Array): Promise<{ bytes: Uint8Array; recorder: Recorder }> {
  const spec = openObject(objectBytes);
  const recorder = recorderSource(
    spec.programs.map((p) => p.attach),
    (group, name) => readTracepointFormat(group, name),
  );
  const { compile, formatDiagnostics } = await import("../compiler/index.js");
  const result = compile({ fileName: "tsbpf-recorder.ts", text: recorder.text });
  if (result.diagnostics.some((d) => d.severity === "error")) {
    // A recorder that does not compile is a tsbpf bug: say so with what the compiler said.
    throw new Error(`the generated recorder does not compile:\n${formatDiagnostics(result.diagnostics, { sources: { "tsbpf-recorder.ts": recorder.text } })}`);
  }
  return { bytes: result.object, recorder };
}

/**
 * `--record PATH` for `tsbpf run` and `tsbpf load`: the recording and its recorder. A recorder that cannot be
 * built (an object the loader will refuse anyway, a tracepoint without a format) costs the hits, not the run.
 */
export async function recordOption(path: string, objectBytes: Uint8Array, log: (line: string) => void): Promise<{ path: string; recorder?: { bytes: Uint8Array; recorder: Recorder } }> {
  try {
    return { path, recorder: await compileRecorder(objectBytes) };
  } catch (error) {
    log(`warning: the probe hits are not recorded (${(error as Error).message}); ${path} gets the output only`);
    return { path };
  }
}

type HitRecord = { time: number | bigint; pidTgid: number | bigint; uidGid: number | bigint; cgroup: number | bigint; cpu: number; comm: string } & Record<string, unknown>;

/**
 * The probe a glob's hit fired, from its probe() name (`tracepoint:syscalls:sys_enter_read`, `uprobe:PATH:FUNC`,
 * `usdt:PATH:PROVIDER:NAME`), the binary kept as the program names it, as replay() fires it.
 */
function firedProbe(glob: RecordedProbe, name: string): RecordedProbe {
  const parts = name.split(":");
  switch (glob.kind) {
    case "tracepoint":
      return { kind: "tracepoint", group: parts[1]!, name: parts[2]! };
    case "usdt":
      return { ...glob, provider: parts.at(-2)!, name: parts.at(-1)! };
    case "rawTracepoint":
      return glob; // named exactly: never a glob
    case "uprobe": {
      // PATH:FUNC, FUNC perhaps a C++ function's signature (`app::W::leaf(int)`).
      const target = name.slice(name.indexOf(":") + 1);
      return { ...glob, func: splitUprobeTarget(target)?.[1] ?? target };
    }
    default:
      return { ...glob, func: parts.at(-1)! };
  }
}

/** A recording being written: one JSON object per line, flushed as it comes. */
export class Recording {
  private fd: number | undefined;

  constructor(readonly path: string) {
    this.fd = openSync(path, "w");
  }

  /** A hit the recorder's `probe` sent. */
  hit(p: RecorderProbe, value: unknown): void {
    if (value instanceof Uint8Array) return;
    const h = value as HitRecord;
    const wide = (v: number | bigint) => BigInt(v);
    const line: Record<string, unknown> = {
      kind: "hit",
      probe: typeof h.probe === "string" ? firedProbe(p.probe, h.probe) : p.probe,
      time: String(h.time),
      cpu: h.cpu,
      pid: Number(wide(h.pidTgid) & 0xffffffffn),
      tgid: Number(wide(h.pidTgid) >> 32n),
      uid: Number(wide(h.uidGid) & 0xffffffffn),
      gid: Number(wide(h.uidGid) >> 32n),
      cgroup: String(h.cgroup),
      comm: h.comm,
    };
    // Integers beyond 2^53 as decimal strings: JSON.parse would round them.
    const exact = (v: unknown): unknown => (typeof v === "bigint" ? String(v) : Array.isArray(v) ? v.map(exact) : v);
    if (p.probe.kind === "tracepoint") {
      line.fields = Object.fromEntries(Object.entries(h).filter(([k]) => k.startsWith("f_")).map(([k, v]) => [k.slice(2), exact(v)]));
      line.strings = Object.fromEntries(p.strings.map((s) => [s, h[`s_${s}`]]));
    } else if (p.probe.kind === "usdt") line.args = Array.from({ length: USDT_MAX_ARGS }, (_, k) => exact(h[`a${k}`]));
    else if (p.probe.kind === "rawTracepoint") line.args = Object.keys(h).filter((k) => /^a\d+$/.test(k)).map((k) => exact(h[k]));
    else if (p.probe.retprobe) line.ret = exact(h.ret);
    else line.args = Array.from({ length: ARGS }, (_, k) => exact(h[`a${k}`]));
    this.write(line);
  }

  /** How the run was made, which a replay needs to see what it saw: its --command or --pid process and its --set texts. */
  run(targetPid: number | undefined, globals: ReadonlyMap<string, GlobalValue> | undefined): void {
    if (targetPid === undefined && !globals?.size) return;
    const set = globals?.size ? { set: Object.fromEntries([...globals].map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : String(v)])) } : {};
    this.write({ kind: "run", ...(targetPid !== undefined ? { targetPid } : {}), ...set });
  }

  /** Something the run printed: a printk line, printf's text, an event (or a count of lost ones), a map. */
  output(kind: "printk" | "printf" | "event" | "lost" | "map", value: Record<string, unknown>): void {
    this.write({ kind, ...value });
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private write(value: unknown): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, `${toJson(value)}\n`);
    } catch (error) {
      // A full disk, or a device that takes nothing (/dev/full): the run stops with why (exit 2).
      throw fileError("write", this.path, error, `the recording ${this.path}`);
    }
  }
}
