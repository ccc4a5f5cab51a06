// Loading, attaching and streaming an object's output (bpf_printk lines, typed ring buffer and perf events, and
// the maps at the end): the part `tsbpf load` and `tsbpf run` share.
// Takes object bytes (plus how to name and describe them); gives an exit code once streaming ends (Ctrl-C, SIGTERM
// or --duration), having released every map, program and perf event on every path. Failures a user meets first
// (not root, no tracefs, kprobes compiled out, unknown target, verifier rejection) become one-sentence UserErrors.
// Output is read from the loader's private tracefs instance (runtime/loader/trace.ts), because since Linux 6.5
// trace_pipe has one reader at a time: with an instance, two runs (or a `cat trace_pipe`) stream side by side.
// Imports name loader modules, not the loader's index: this is `tsbpf run`'s start-up path.
import { readFileSync } from "node:fs";
import { ElfError } from "../compiler/elf/types.js";
import { LogLevel, MapType, Poll } from "../runtime/sys/constants.js";
import { SysError, type Sys } from "../runtime/sys/sys.js";
import { droppedCounterName, PERF_EVENT_NAMES, type RunWhen } from "../compiler/btf/tags.js";
import type { BtfLineInfo } from "../compiler/btf/parse.js";
import { actionMaps, clearMap, decodeAction, type ActionTable } from "../runtime/loader/actions.js";
import { missingBpfPrivileges, missingSysAdmin, missingTracefs, openSys, pmuType } from "../runtime/sys/kernel.js";
import { AttachError, CgroupPathError, GlobalValueError, KernelSymbolError, UserSymbolError, LoadError, MapRefusedError, MissingKernelError, NoProgramsError, ObjectError, type AttachFailure } from "../runtime/loader/errors.js";
import { RunCode, sourceError, type SourcePlace } from "./source-error.js";
import type { GlobalValue } from "../runtime/loader/globals.js";
import { tracepointAlternative, type Attachment } from "../runtime/loader/attach.js";
import { resolveBinary, SymbolError } from "../runtime/loader/elfsym.js";
import { isCxxName } from "../runtime/loader/cxx-names.js";
import { checkRecordType, isEventMap, type EventReader, type StreamEvent } from "../runtime/loader/events.js";
import { notAttached, type LoadedObject } from "../runtime/loader/load.js";
import type { AttachTarget, ProgramSpec } from "../runtime/loader/object.js";
import { lineInfo } from "../runtime/loader/lines.js";
import { mapBtfTypes } from "../runtime/loader/maps.js";
import type { ResolutionStore } from "../runtime/loader/btf-resolutions.js";
import { exitOnSignal, Session } from "../runtime/loader/session.js";
import { removeAbandoned } from "../runtime/loader/probe-events.js";
import type { TraceLine, TracePipe } from "../runtime/loader/trace.js";
import { Helper } from "../compiler/isa/helpers.js";
import { ExitCode, UserError, fileError } from "./exit-codes.js";
import type { Recorder, RecorderProbe, Recording } from "./record.js";
import { eachMapContent, eventLine, mapContents, mapJson, mapLines, stackNamer, type MapContent } from "./report.js";
import { nextTurn } from "../runtime/loader/next-turn.js";
import { refreshCodeCaches } from "../compiler/frontend/code-cache.cjs";
import { outputBacklog, outputRoom, paceOutput, writeErr, writeOut } from "./output.js";
import { formatsMatcher, printkFormats, refusedFormats } from "../runtime/loader/printk-formats.js";
import { probeText } from "../runtime/test/recorded-probe.js";
import { existingProcess, filesNotMapped, startCommand, type Target } from "./target.js";
import { namesStdin } from "./input.js";
import { EXPRESSION_FILE, type TargetOption } from "./stream-options.js";

export interface StreamOptions {
  /** The file the user named, for messages. */
  file: string;
  /** The probe file's text as compiled (`tsbpf run`; -e's text), for pointing at declarations without reading it again. */
  sourceText?: string;
  /** A TypeScript probe may send signals (signal()), as bpftrace's --unsafe allows. */
  unsafe?: boolean;
  /** Object name: prefix of global data map names. */
  name: string;
  /** Seconds to stream before detaching; undefined streams until a signal. */
  duration?: number;
  json?: boolean;
  verbose?: boolean;
  /** How to phrase alternatives in hints: as SEC() names (C objects) or as tsbpf probe constructors. */
  source?: "c" | "ts";
  /** Progress lines ("attached ...", "streaming ..."); default standard error. */
  log?: (line: string) => void;
  /** `--event-type`: the record type of event maps whose BTF names none, by map name ("" for every map). */
  eventTypes?: ReadonlyMap<string, string>;
  /** `--record`: where to write what the run receives, and the recorder object that captures the probe hits. */
  record?: { path: string; recorder?: { bytes: Uint8Array; recorder: Recorder } };
  /** `--interval`: seconds between printings of the maps while the run goes on (they are printed at the end too). */
  interval?: number;
  /** `--perf-pages`: pages per CPU each perf event array is read through (default PERF_BUFFER_PAGES). */
  perfPages?: number;
  /** `--set NAME=VALUE`: global variables' values, written before the object loads. */
  globals?: ReadonlyMap<string, GlobalValue>;
  /** `--command` or `--pid`: the process uprobes see alone, whose exit stops the run (./target.ts). */
  target?: TargetOption;
  /** Where the object's kernel BTF lookups are kept between runs (the cache's resolutionStore). */
  resolutions?: ResolutionStore;
  /** `--program`: load only these programs, by function name. */
  programs?: readonly string[];
}

/** A reader for an event map, decoding as `type` where the map names no record type; a type the BTF lacks is a usage error. */
function eventReader(session: Session, loaded: LoadedObject, map: string, type: string | undefined, pages: number | undefined): EventReader {
  try {
    return session.events(loaded, map, { type, pages });
  } catch (e) {
    if (e instanceof ObjectError) throw new UserError(`--event-type: ${e.message}`);
    throw e;
  }
}

/** The checks that fail before anything is compiled or loaded, each as one sentence (exit 4). */
export function preflight(): void {
  const unprivileged = missingBpfPrivileges();
  if (unprivileged) {
    const lacking = /and without (CAP_\w+)$/.exec(unprivileged)?.[1];
    const advice = process.getuid?.() === 0 ? "run it with those capabilities kept" : lacking ? `run it with sudo, or give it ${lacking} too` : "run it with sudo";
    throw new UserError(`loading BPF programs needs root (or CAP_BPF and CAP_PERFMON): ${unprivileged}; ${advice}`, ExitCode.NO_PERMISSION);
  }
}

/**
 * What of the object this run reads tracefs for, or undefined when nothing: tracepoint ids, bpf_printk output, and
 * kprobes or uprobes where the kernel has no PMU for them (they are defined in tracefs then). Uprobes, USDT probes,
 * perf events and raw tracepoints attach without it, so a user with CAP_BPF and CAP_PERFMON runs them where tracefs
 * is root's alone.
 */
function tracefsUse(loaded: LoadedObject, printing: boolean): string | undefined {
  for (const p of loaded.programs.values()) {
    const a = p.spec.attach;
    if (notAttached(p.spec) !== undefined) continue;
    if (a.kind === "tracepoint") return `${p.name} attaches to tracepoint ${a.group}:${a.name}, whose id is read from it`;
    if (a.kind === "kprobe" && pmuType("kprobe") === undefined) return `${p.name} is a kprobe, defined in its kprobe_events where the kernel has no kprobe PMU`;
    if ((a.kind === "uprobe" || a.kind === "usdt") && pmuType("uprobe") === undefined) return `${p.name} is a ${a.kind === "usdt" ? "USDT probe" : "uprobe"}, defined in its uprobe_events where the kernel has no uprobe PMU`;
  }
  return printing ? "the object calls bpf_printk, whose output is read from it" : undefined;
}

/** Loads, attaches, streams until stopped, prints the maps, releases. Call preflight() first. */
export async function streamObject(bytes: Uint8Array, options: StreamOptions): Promise<number> {
  const { file, json = false, verbose = false, duration } = options;
  const log = options.log ?? ((line: string) => writeErr(`${line}\n`));
  // A reader that has gone (`tsbpf run | head`) ends the stream as Ctrl-C would. Within gathered(), text is kept and
  // written at its end, one write for a drain's records (a write(2) and a poll each made the reader fall behind sooner).
  let gathering: string[] | undefined;
  let readerGone = false;
  const writeText = (text: string) => void (gathering ? gathering.push(text) : writeOut(text) || ((readerGone = true), stop()));
  const write = (line: string) => writeText(`${line}\n`);
  const gathered = (f: () => void) => {
    if (gathering) return f();
    gathering = [];
    try {
      f();
    } finally {
      const text = gathering.join("");
      gathering = undefined;
      if (text) writeText(text);
    }
  };
  // What killed runs left in tracefs goes first, whatever this run attaches to.
  removeAbandoned();
  const session = new Session(openSys());
  paceStandardOutput(session.sys);
  let stopping = false;
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = () => ((stopping = true), resolve())));
  // The first SIGINT, SIGTERM, SIGHUP or SIGQUIT ends the stream (the maps are still printed, then everything is released); a
  // second one releases everything at once and exits.
  let endedBy: NodeJS.Signals | undefined;
  session.releaseOnExit((signal) => {
    endedBy ??= signal;
    stop();
  }, { graceful: true });
  let recording: Recording | undefined;
  let target: Target | undefined;
  // A command of ours never outlives the run, however it ends (a second Ctrl-C exits at once).
  const releaseTarget = () => target?.release();
  process.once("exit", releaseTarget);
  try {
    recording = options.record ? await openRecording(options.record.path) : undefined;
    // Before the load, which gives targetPid() its pid; a command is started stopped and resumed after the attach,
    // so that the probes see it from its start.
    target = options.target && ("command" in options.target ? startCommand(options.target.command, { quietStdout: json }) : existingProcess(options.target.pid));
    recording?.run(target?.pid, options.globals);
    const loaded = await load(session, bytes, options, log, target?.pid, () => endedBy);
    // Before attaching, so that no line or event is lost: the instance buffers from the moment its event is enabled.
    // Only for an object that prints: every program's bpf_printk lines reach every reader, so a run of one that
    // prints nothing would show other runs' lines.
    // A format that is not a constant string (undefined) counts as printing.
    const formats = printkFormats(loaded.spec.raw, [...loaded.programs.values()].flatMap((p) => p.functions));
    const printks = formats === undefined || formats.length > 0;
    for (const { format, conversion } of refusedFormats(formats ?? [])) {
      const what = conversion ? `${conversion}, which bpf_trace_printk does not support (it takes %d %i %u %x %X with l or ll, %c, %s and %p forms, after flags 0 + - and space and a width; no #, precision, h or z)` : "a character bpf_trace_printk does not print";
      log(`warning: the bpf_printk format ${JSON.stringify(format)} has ${what}: the kernel refuses it each time it is called, so that call prints nothing`);
    }
    // Checked only where the object needs tracefs: uprobes and perf events attach without it.
    const noTracefs = missingTracefs();
    const use = noTracefs ? tracefsUse(loaded, printks) : undefined;
    if (use) throw new UserError(`${noTracefs}; this run needs it: ${use}`, ExitCode.NO_PERMISSION);
    const pipe = printks ? openOutput(session, verbose, log) : undefined;
    // Every program's printk lines reach every instance: those no format of this object can produce are left out.
    const ours = pipe && formats ? formatsMatcher(formats) : undefined;
    let othersLeftOut = 0;
    if (pipe && verbose) log(ours ? "showing the bpf_printk lines the object's formats can produce (other programs' lines are left out)" : "showing every bpf_printk line: a format of the object is not a constant string, so other programs' lines cannot be told apart");
    for (const [name, type] of options.eventTypes ?? []) {
      if (name && !(loaded.maps.has(name) && isEventMap(loaded.maps.get(name)!.spec.type))) {
        const events = [...loaded.maps.values()].filter((m) => isEventMap(m.spec.type)).map((m) => m.name);
        throw new UserError(`--event-type names ${name}, which is not a ring buffer or perf event array of the object; ${events.length ? `it has ${events.join(", ")}` : "it has none"}`);
      }
      // A misspelt type is an error even where the map names its own record type and the option goes unused.
      try {
        checkRecordType(loaded, type);
      } catch (e) {
        if (e instanceof ObjectError) throw new UserError(`--event-type: ${e.message}`);
        throw e;
      }
    }
    // exit(), print(), clear() and printf() send records to a ring buffer of their own, acted on, not printed as records.
    const actions = actionMaps(loaded);
    for (const m of loaded.maps.values()) {
      const missing = isEventMap(m.spec.type) && !options.eventTypes?.has(m.name) && !options.eventTypes?.has("") ? mapBtfTypes(loaded.spec, m.spec)?.missingEvent : undefined;
      if (missing) log(`warning: map ${m.name} is tagged with record type ${missing}, which the object's BTF lacks (clang leaves out a type used only through pointers: declare a variable of it, or give --event-type); its records print as bytes`);
    }
    const readers = [...loaded.maps.values()]
      .filter((m) => isEventMap(m.spec.type) && !actions.some((a) => a.map === m))
      .map((m) => eventReader(session, loaded, m.name, options.eventTypes?.get(m.name) ?? options.eventTypes?.get(""), options.perfPages));
    const actionReaders = actions.map((a) => ({ reader: session.events(loaded, a.map.name, { raw: true }), table: a.table }));
    // printf's %s of a kstack()/ustack() prints its frames, named as the maps' stacks are.
    // usym()'s %s: the function the address is in, named from that process's mappings as user stacks are.
    for (const a of actionReaders) a.table.names = { ...a.table.names, stack: (kind, frames, id) => stackNamer(loaded).framesOf(kind, frames, id), usym: (pid, address) => stackNamer(loaded).symbolOf(pid, address) };
    // Stack ids in a record print as the frames they name, as bpftrace's printf("%s", kstack) prints them.
    const recordStacks = new Map(readers.map((r) => [r.map, stackNamer(loaded).recordFieldsOf(loaded.maps.get(r.map)!)]));
    /**
     * The maps now (or only `only`, a probe's print()); `at` (an --interval's printing) heads them with the time, or
     * adds it to each JSON line.
     */
    const printMaps = (at?: Date, only?: string, take = false, top?: number) => {
      const contents = mapContents(loaded, only, { take, top });
      // An --interval's time heads what it prints: nothing, when the maps hold nothing yet.
      if (at && !json && contents.length) write(at.toTimeString().slice(0, 8));
      // One write for a map's lines (150,000 keys print in one go, not in 150,000 writes).
      for (const content of contents) write(mapLines(content, json, at).join("\n"));
    };
    /**
     * The maps at the end, each read and printed in turn, its lines in parts of FINAL_LINES: signals are taken in between
     * (a second Ctrl-C then ends the run at once), where printing 150,000 keys in one go held them for seconds. A
     * recording keeps these.
     */
    const printFinalMaps = async () => {
      const contents: MapContent[] = [];
      for (const content of eachMapContent(loaded, undefined, { final: true })) {
        // Nobody reads them (`tsbpf run | head`): the rest are not formatted.
        if (readerGone) break;
        contents.push(content);
        await nextTurn();
        const lines = mapLines(content, json);
        for (let i = 0; i < lines.length && !readerGone; i += FINAL_LINES) {
          if (i > 0) await nextTurn();
          write(lines.slice(i, i + FINAL_LINES).join("\n"));
        }
        recording?.output("map", mapJson(content));
        await nextTurn();
      }
      for (const m of fullHashMaps(loaded, contents)) log(`warning: ${m.name} holds as many keys as it can (${m.maxEntries}): an update of a key it does not hold fails; declare it larger if there are more`);
      for (const [m, kind] of stackNamer(loaded).unrecorded) {
        const why = m.spec.type === MapType.STACK_TRACE ? "was full or held another stack where one hashed" : `was full, or ${stackNamer(loaded).framesMapOf(m)?.name ?? "its id -> frames map"}, which names each id's frames, was`;
        log(`warning: some ${kind} stacks were not recorded (their entries show no frames): ${m.name}, the stack map of ${m.spec.maxEntries} stacks, ${why}`);
      }
    };
    // The code of the first exit() a probe called: the run's exit status.
    let exitCode: number | undefined;
    // Marks written into the trace buffer when that exit() was read and when end() begins: bpf_printk lines between
    // the two are left out, as printf's after exit() are.
    const exitMark = `tsbpf ${process.pid}: exit() read`;
    const endMark = `tsbpf ${process.pid}: end()`;
    // Once a probe has called exit(), what the probes send after it is not shown (bpftrace's printer stops there too);
    // end() programs print again.
    let afterExit = false;
    // A print() waits for the next record: when it is a clear() of the same map (bcc's print-and-clear per interval),
    // the two are one read that deletes each entry as it reads it, so that what the probes add between a print's read
    // and the clear is not lost. Flushed at the end of every drain.
    let pendingPrint: { map: string; top?: number } | undefined;
    const flushPrint = () => {
      const print = pendingPrint;
      pendingPrint = undefined;
      if (print !== undefined) printMaps(undefined, print.map, false, print.top);
    };
    const act = (table: ActionTable) => (e: StreamEvent) => {
      const action = e.kind === "event" ? decodeAction(e.value as Uint8Array, table) : undefined;
      if (action?.kind === "clear" && pendingPrint?.map === action.map && TAKEN.has(loaded.maps.get(action.map)!.spec.type)) {
        const { top } = pendingPrint;
        pendingPrint = undefined;
        printMaps(undefined, action.map, true, top);
        return;
      }
      flushPrint();
      if (afterExit && action && action.kind !== "exit") return;
      if (action?.kind === "print") {
        pendingPrint = action.top === undefined ? { map: action.map } : { map: action.map, top: action.top };
        return;
      }
      if (action?.kind === "printf") {
        // As bpftrace's printf writes: the text as formatted, newlines where the format has them.
        recording?.output("printf", { text: action.text });
        if (json) write(JSON.stringify({ printf: action.text }));
        else writeText(action.text);
        return;
      }
      // The first exit() a probe called is the run's status, also when it is read after the run began to stop (the
      // command of -c ended meanwhile, and its records are drained after the detach).
      if (action?.kind === "exit") {
        if (exitCode === undefined) {
          exitCode = action.code;
          pipe?.mark(exitMark);
          if (verbose) log(`a probe called exit(${exitCode})`);
        }
        afterExit = true;
        stop();
      } else if (action?.kind === "clear") clearMap(loaded, loaded.maps.get(action.map)!);
    };
    // begin() programs (bpftrace's BEGIN) run before the probes attach, end() ones once they are detached.
    const runs = (when: RunWhen) => {
      for (const p of loaded.programs.values()) {
        if (p.spec.attach.kind !== "run" || p.spec.attach.when !== when) continue;
        try {
          loaded.run(p.name);
          if (verbose) log(`ran ${p.name}, a ${when}() program`);
        } catch (error) {
          if (!(error instanceof SysError)) throw error;
          log(`warning: ${when}() program ${p.name} did not run: ${error.message}`);
        }
      }
    };
    const runsAny = [...loaded.programs.values()].some((p) => p.spec.attach.kind === "run");
    runs("begin");
    // What begin() printed is written once the probes are attached, still before anything they send (it is first in its
    // ring), so that a probe that will not attach ends the run with its error alone, as bpftrace's BEGIN prints nothing
    // then; a begin() that called exit() ends the run before anything attaches.
    const early = actionReaders.map((a) => ({ table: a.table, events: a.reader.read() }));
    const writeEarly = () => {
      for (const { table, events } of early) events.forEach(act(table));
      flushPrint();
    };
    const exits = early.some(({ table, events }) => events.some((e) => e.kind === "event" && decodeAction(e.value as Uint8Array, table)?.kind === "exit"));
    if (exits) writeEarly();
    const { attached, skipped } = stopping ? { attached: [], skipped: [] } : attachEach(loaded, options, target?.pid);
    if (!exits) writeEarly();
    for (const a of attached) log(`attached ${a.program} to ${a.description}`);
    if (target && options.target && !("command" in options.target)) {
      for (const p of loaded.spec.programs.filter((p) => attached.some((a) => a.program === p.name))) {
        for (const file of filesNotMapped(target.pid, probedFiles(loaded, [p], target.pid))) {
          log(`warning: process ${target.pid} does not map ${file}, so ${p.name} sees none of its calls there (unless it loads the file later)`);
        }
      }
    }
    for (const s of skipped) log(`loaded ${s.program} without attaching it: ${s.why}`);
    // Programs tsbpf cannot load (struct_ops, unknown sections) were named in a warning already.
    for (const p of loaded.spec.programs) if (p.section.startsWith("?") && !p.unloadable && !loaded.programs.has(p.name)) log(`left ${p.name} unloaded: its section "${p.section}" marks it optional`);
    if (attached.length === 0 && !runsAny) {
      log("nothing to attach; releasing the object");
      return ExitCode.OK;
    }
    // The recorder attaches after the user's programs, so it never misses a hit they see; with --command or --pid its
    // uprobes see the same process as theirs, so it records no hit they do not see.
    const hits = recording && options.record?.recorder ? attachRecorder(session, options.record.recorder, recording, log, target?.pid) : [];
    for (const r of readers) if (verbose) log(`reading ${r.map} ${r.typeName ? `as ${r.typeName}` : "as raw bytes (its BTF names no record type)"}`);
    const named = actions.flatMap((a) => a.table.targets);
    const printing = actions.some((a) => a.table.printf.length > 0 || a.table.times.length > 0);
    const streams = [
      ...(pipe ? ["bpf_printk output"] : []),
      ...(printing ? ["printf output"] : []),
      ...(readers.length ? [readers.map((r) => r.map).join(", ")] : []),
      ...(named.length ? [`${named.join(", ")} as probes print() them`] : []),
    ];
    const what = streams.length ? `streaming ${streams.join(" and ")}` : "counting into the maps (no probe prints or sends events)";
    const until = [
      ...(duration === undefined ? [] : [`for ${duration} s`]),
      ...(target ? [`until ${target.name} exits`] : []),
      ...(actionReaders.length ? ["until a probe calls exit()"] : []),
    ].join(" or ");
    if (!stopping) log(`${what}${until && ` ${until}`}; Ctrl-C detaches and exits`);
    if (recording) log(`recording what arrives${hits.length ? " and the probe hits that caused it" : ""} in ${recording.path}`);
    // Start-up has run: the next start can take its compiled functions from the user's code caches.
    refreshCodeCaches();
    // How the target ended, said once its last output has been printed.
    let targetEnded: string | undefined;
    if (target) {
      void target.exited.then((how) => {
        if (!stopping) targetEnded = how;
        stop();
      });
      target.resume();
    }
    const timer = duration === undefined ? undefined : setTimeout(() => stop(), duration * 1000);
    // User stacks are named from their processes' mappings, which go when a process exits: read those of each process
    // the maps name while the run goes on (4 times a second), and once more at the stop; the command's or --pid's
    // every 20 ms, so that a command that runs for a moment still gets its frames named.
    const namer = stackNamer(loaded);
    const userStacks = [...loaded.maps.values()].filter((m) => namer.fieldsOf(m).key.some((f) => f.kind !== "kernel"));
    // Frames the kernel names by build id are looked for in the command's and the probes' files first.
    const printsUserStacks = actionReaders.some((a) => a.table.printf.some((site) => site?.args.some((arg) => arg.startsWith("ustack"))));
    if (userStacks.length || printsUserStacks || [...recordStacks.values()].some((fields) => fields.some((f) => f.kind === "user"))) {
      namer.addFiles([...(target?.program ? [target.program] : []), ...probedFiles(loaded)]);
    }
    const rememberStacks = () => namer.remember(userStacks);
    const stackWatch = userStacks.length ? setInterval(rememberStacks, 250) : undefined;
    // printf's usym() is named when its record is read, maybe after a short command has exited: its mappings are kept too.
    const printsUserSymbols = actionReaders.some((a) => a.table.printf.some((site) => site?.args.includes("usym")));
    const targetWatch = (userStacks.length || printsUserSymbols) && target ? setInterval(() => namer.rememberProcess(target!.pid), 20) : undefined;
    if (stackWatch) void stopped.then(rememberStacks);
    // As bcc's tools print per interval: the time, then the maps as they are now (nothing is cleared).
    const ticker = options.interval === undefined ? undefined : setInterval(() => printMaps(new Date()), options.interval * 1000);
    // At the stop, detach first: what the maps and buffers hold is then final when they are read. The pipe closes
    // after the detach and end(), reading every line they wrote until then (the lines and the counts of lost ones add up).
    const detached = stopped.then(async () => {
      // Each perf event's detach waits out RCU grace periods, a tracepoint's under a kernel-wide lock: ~35 ms apiece here.
      const slow = loaded.attachments.reduce((n, a) => n + a.slowCloses, 0);
      if (slow >= 50) log(`detaching from ${slow} probe points (the kernel takes tens of milliseconds for each)`);
      try {
        await session.detachAll();
      } catch (error) {
        // Closing the session releases what could not be detached here.
        log(`warning: detaching failed: ${(error as Error).message}`);
      }
      // What the probes sent before end() runs is read first, so that only what comes after exit() is left out.
      for (const a of actionReaders) gathered(() => a.reader.drain(act(a.table)));
      flushPrint();
      afterExit = false;
      pipe?.mark(endMark);
      runs("end");
      await pipe?.close().catch(() => {});
    });
    // Each reader drains what is there, waits (on a worker thread, 100 ms at most) and drains again; after the
    // stop and the detach it drains once more, so events that arrived before the stop are all printed. What a full
    // ring buffer dropped is said once a second and at the end, as a perf buffer's losses are.
    // While standard output's reader lags, the buffers are left to fill: the kernel drops and counts what does not fit.
    const outputCaughtUp = async () => {
      if (outputBacklog() > OUTPUT_BACKLOG) await Promise.race([outputRoom(OUTPUT_BACKLOG), stopped]);
    };
    const pump = async (r: EventReader, emit: (e: StreamEvent) => void, drops = droppedRecords(loaded, r.map), lost = printEvent, drained = () => {}) => {
      let checked = 0;
      while (!stopping) {
        await outputCaughtUp();
        if (stopping) break;
        gathered(() => {
          r.drain(emit);
          drained();
          if (drops && Date.now() - checked >= 1000) {
            checked = Date.now();
            drops.report(lost);
          }
        });
        if (!stopping) await r.wait(100);
      }
      await detached;
      gathered(() => {
        r.drain(emit);
        r.drainLost(emit);
        drained();
        drops?.report(lost);
      });
    };
    const printEvent = (event: StreamEvent) => {
      const stacks = event.kind === "event" ? recordStacks.get(event.map) : undefined;
      const e = stacks?.length && event.kind === "event" ? { ...event, value: stackNamer(loaded).name(event.value, stacks) } : event;
      write(eventLine(e, json));
      if (recording) recording.output(e.kind, e.kind === "lost" ? { map: e.map, cpu: e.cpu, count: e.count } : { map: e.map, cpu: e.cpu, value: e.value });
    };
    // One reader's failure (an output that cannot be written) stops them all: the others would read closed buffers.
    const stopOnFailure = (p: Promise<unknown>) =>
      p.catch((error: unknown) => {
        stop();
        throw error;
      });
    try {
      await Promise.all(
        [
        (async () => {
          if (!pipe) {
            // Holds the stream open until the stop, as the pipe's lines would (the maps print then). A signal
            // handler alone does not keep Node's event loop alive: a timer does.
            const alive = setInterval(() => {}, 60_000);
            await stopped;
            clearInterval(alive);
            return;
          }
          // A batch in one write: a write(2) and a poll per line made the reader fall behind sooner.
          let afterExitMark = false;
          for await (const batch of pipe.batches()) {
            const text: string[] = [];
            for (const line of batch) {
              if (ours && line.event === "bpf_trace_printk" && !ours(line.message)) {
                othersLeftOut++;
                continue;
              }
              if (line.event === "tracing_mark_write" && (line.message === exitMark || line.message === endMark)) {
                afterExitMark = line.message === exitMark;
                continue;
              }
              if (afterExitMark && line.event === "bpf_trace_printk") continue;
              text.push(json ? JSON.stringify(jsonLine(line)) : textLine(line));
              if (recording && line.event) recording.output("printk", jsonLine(line));
            }
            if (text.length) write(text.join("\n"));
            await outputCaughtUp();
          }
        })(),
        ...readers.map((r) => pump(r, printEvent)),
        ...actionReaders.map((a) => pump(a.reader, act(a.table), undefined, undefined, flushPrint)),
        ...hits.map(({ reader, probe, drops }) =>
          pump(reader, (e) => e.kind === "event" && recording?.hit(probe, e.value), drops, (e) => {
            if (e.kind === "lost") log(`warning: ${e.count} hit${e.count === 1 ? "" : "s"} of ${probeText(probe.probe)} went unrecorded: the recorder's ring buffer was full`);
          }),
        ),
        ].map(stopOnFailure),
      );
    } finally {
      if (timer) clearTimeout(timer);
      if (ticker) clearInterval(ticker);
      if (stackWatch) clearInterval(stackWatch);
      if (targetWatch) clearInterval(targetWatch);
    }
    await detached;
    // The command never ran (the exec failed after the probes attached): a usage error, released as any other.
    if (target?.cannotExecute) throw target.cannotExecute;
    if (targetEnded) log(targetEnded);
    const printkLost = pipe && [pipe.lost.overwritten && `${pipe.lost.overwritten} overwritten in the trace buffer before they were read (the reader fell behind)`, pipe.lost.unread && `${pipe.lost.unread} still in it at the stop`].filter(Boolean);
    if (printkLost?.length) log(`bpf_printk lines lost: ${printkLost.join(", ")}`);
    if (verbose && othersLeftOut) log(`left out ${othersLeftOut} bpf_printk lines of other programs`);
    await printFinalMaps();
    if (verbose) log(`detaching and releasing every map, program and perf event of ${file}`);
    return exitCode ?? ExitCode.OK;
  } finally {
    releaseTarget();
    // A command that ignores SIGTERM gets SIGKILL a second later, or at exit if the run exits first (a second Ctrl-C).
    const forget = () => process.off("exit", releaseTarget);
    if (target?.program !== undefined) void target.exited.then(forget);
    else forget();
    recording?.close();
    // Closes the readers and the pipe too, then removes its instance.
    await session.close();
  }
}


/** Lines of a map printed at the end between two turns of the event loop. */
const FINAL_LINES = 5_000;

/** How much output may wait for a lagging reader before the run stops reading the kernel's buffers. */
const OUTPUT_BACKLOG = 1 << 20;

/** Maps whose print() and clear() can be one read that deletes as it reads (MapView.take). */
const TAKEN: ReadonlySet<number> = new Set([MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH, MapType.ARRAY, MapType.PERCPU_ARRAY]);

/** Standard output written only as its reader takes it (cli/output.ts): a poll of fd 1, an error counting as ready (the write then says it). */
function paceStandardOutput(sys: Sys): void {
  const ready = (revents: number | undefined) => ((revents ?? 0) & (Poll.OUT | Poll.ERR | Poll.HUP | Poll.NVAL)) !== 0;
  const stdout = [{ fd: 1, events: Poll.OUT }];
  paceOutput({
    now: () => ready(sys.poll(stdout, 0)[0]),
    wait: async () => void (await sys.pollAsync(stdout, 100)),
  });
}

/**
 * Of the maps named, the hash maps holding as many keys as they can (bpftrace's "map full"): a new key's update failed.
 * LRU maps are left out (they evict instead).
 */
function fullHashMaps(loaded: LoadedObject, contents: readonly MapContent[]): { name: string; maxEntries: number }[] {
  const full: { name: string; maxEntries: number }[] = [];
  for (const content of contents) {
    const m = loaded.maps.get(content.map);
    if (!m || (m.spec.type !== MapType.HASH && m.spec.type !== MapType.PERCPU_HASH)) continue;
    // The keys just printed, where the content lists them all; else walked again.
    let keys = "entries" in content ? content.entries.length : 0;
    if (!("entries" in content)) for (let key = loaded.sys.mapGetNextKey(m.fd, undefined); key && keys < m.spec.maxEntries; key = loaded.sys.mapGetNextKey(m.fd, key)) keys++;
    if (keys >= m.spec.maxEntries) full.push({ name: content.map, maxEntries: m.spec.maxEntries });
  }
  return full;
}

/**
 * The records ring buffer `ring` dropped when full, from the counter the compiler keeps for it (droppedCounterName):
 * report() sends a "lost" event for those counted since the last report. Undefined for a ring without one (a C object's).
 */
function droppedRecords(loaded: LoadedObject, ring: string): { report: (emit: (e: StreamEvent) => void) => void } | undefined {
  const name = droppedCounterName(ring);
  const data = [...loaded.maps.values()].find((m) => m.spec.origin === "data" && m.spec.variables.some((v) => v.name === name));
  if (!data) return undefined;
  let reported = 0n;
  return {
    report(emit) {
      const now = Buffer.from(loaded.variable(name)).readBigUInt64LE(0);
      if (now <= reported) return;
      emit({ kind: "lost", map: ring, count: Number(now - reported) });
      reported = now;
    },
  };
}

/** The recording file (cli/record.ts, loaded only with --record: it is not on every run's start-up path). */
async function openRecording(path: string): Promise<Recording> {
  const { Recording } = await import("./record.js");
  try {
    return new Recording(path);
  } catch (error) {
    throw fileError("write", path, error, `the recording ${path}`);
  }
}

/**
 * Loads and attaches the recorder (cli/record.ts) beside the user's object; gives its ring buffers' readers.
 * A recorder that cannot load or attach costs the hits, not the run.
 */
function attachRecorder(session: Session, r: { bytes: Uint8Array; recorder: Recorder }, recording: Recording, log: (line: string) => void, pid: number | undefined): { reader: EventReader; probe: RecorderProbe; drops: ReturnType<typeof droppedRecords> }[] {
  for (const s of r.recorder.skipped) log(`not recording ${s}`);
  if (r.recorder.probes.length === 0) {
    log(`warning: none of the probes' hits can be recorded; ${recording.path} gets the output only`);
    return [];
  }
  try {
    const obj = session.load(r.bytes, { name: "record" });
    const out = r.recorder.probes.map((probe) => ({ reader: session.events(obj, probe.map), probe, drops: droppedRecords(obj, probe.map) }));
    obj.attachAll({ pid });
    return out;
  } catch (error) {
    log(`warning: the probe hits are not recorded (${(error as Error).message}); ${recording.path} gets the output only`);
    return [];
  }
}

/** The session's trace pipe (a private tracefs instance, else the shared pipe), its failures as one sentence. */
function openOutput(session: Session, verbose: boolean, log: (line: string) => void): TracePipe {
  let pipe: TracePipe;
  try {
    pipe = session.tracePipe();
  } catch (error) {
    if (error instanceof AttachError) throw new UserError(error.message, ExitCode.NO_PERMISSION);
    throw error;
  }
  if (verbose) {
    log(pipe.instance ? `reading bpf_printk output from the tracefs instance ${pipe.instance}` : `no private tracefs instance (${pipe.fallback ?? "none asked for"}); reading the shared trace_pipe`);
  }
  return pipe;
}

/** The first program that calls bpf_send_signal() or bpf_send_signal_thread() (a probe's signal()), if any. */
function signallingProgram(loaded: LoadedObject): string | undefined {
  const sends = (i: { code: number; src: number; imm: number }) => i.code === 0x85 && i.src === 0 && (i.imm === Helper.send_signal || i.imm === Helper.send_signal_thread);
  return [...loaded.programs.values()].find((p) => p.spec.source.insns.some(sends))?.name;
}

async function load(session: Session, bytes: Uint8Array, options: StreamOptions, log: (line: string) => void, targetPid: number | undefined, endedBy: () => NodeJS.Signals | undefined): Promise<LoadedObject> {
  const { file, verbose = false } = options;
  // A signal that came while the file compiled has its handler run before the kernel's verifier starts: a load
  // cannot be interrupted by a signal already taken.
  await new Promise((resolve) => setImmediate(resolve));
  const early = endedBy();
  if (early) exitOnSignal(early);
  try {
    const loaded = session.load(bytes, { name: options.name, logLevel: verbose ? LogLevel.STATS : 0, globals: options.globals, targetPid, resolutions: options.resolutions, programs: options.programs });
    // Loaded but not attached: nothing has been signalled when this refuses.
    const signals = options.source === "ts" && !options.unsafe ? signallingProgram(loaded) : undefined;
    if (signals) throw new UserError(`${file}: ${signals} calls signal(), which sends signals to the processes its probes interrupt; run it with --unsafe to allow that (bpftrace asks the same)`);
    for (const w of loaded.warnings) log(`warning: ${w}`);
    for (const m of loaded.maps.values()) {
      if (m.pinPath) log(m.reused ? `map ${m.name}: reusing the map pinned at ${m.pinPath}` : `map ${m.name}: pinned at ${m.pinPath}, where it stays after exit`);
    }
    if (verbose) {
      for (const m of loaded.maps.values()) log(`map ${m.name}: type ${m.spec.type}, key ${m.spec.keySize} B, value ${m.spec.valueSize} B, ${m.spec.maxEntries} entries`);
      for (const p of loaded.programs.values()) log(`program ${p.name} (${p.spec.section}): ${p.insnCount} instructions; ${p.log.trim().split("\n").at(-1) ?? ""}`);
    }
    return loaded;
  } catch (error) {
    if (error instanceof GlobalValueError) throw new UserError(`--set: ${error.message}`);
    if (error instanceof NoProgramsError && options.source === "ts") {
      // A one-liner's probes are bare calls.
      const example = file === EXPRESSION_FILE ? 'give one, e.g. tsbpf run -e \'tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => 0)\'' : 'export one, e.g. export const p = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => 0)';
      throw new UserError(`${file === EXPRESSION_FILE ? "-e holds" : `${file} exports`} no probes, so there is nothing to load: ${example}`);
    }
    // A kaddr() of a symbol the kernel lacks: at the call that names it, when one call does.
    if (error instanceof KernelSymbolError && options.source === "ts") {
      const at = callNaming(options, "kaddr", [error.symbol]);
      if (at) throw new UserError(sourceError(at.place, RunCode.SymbolMissing, error.message, at.expression), ExitCode.NO_PERMISSION);
    }
    // A uaddr() whose binary or symbol cannot be resolved: a usage error, as a uprobe's is, at the call.
    if (error instanceof UserSymbolError && options.source === "ts") {
      const at = callNaming(options, "uaddr", [error.binary, error.symbol]);
      if (at) throw new UserError(sourceError(at.place, RunCode.SymbolMissing, error.message, at.expression), ExitCode.USAGE);
    }
    // A cgroupId(path) of a path that is no cgroup v2 directory: a usage error, at the call.
    if (error instanceof CgroupPathError && options.source === "ts") {
      const at = callNaming(options, "cgroupId", [error.path]);
      if (at) throw new UserError(sourceError(at.place, RunCode.SymbolMissing, error.message, at.expression), ExitCode.USAGE);
    }
    // What the running kernel lacks is exit 4, as a missing kernel feature; a malformed object is a usage error.
    if (error instanceof ElfError || error instanceof ObjectError) throw new UserError(`${file}: ${error.message}`, error instanceof MissingKernelError ? ExitCode.NO_PERMISSION : ExitCode.USAGE);
    // A map the kernel will not create: at its declaration in a probe file; its definition's fault is a usage error,
    // else (a map type or flag the kernel lacks, a memlock limit) the running kernel's, as a missing feature.
    if (error instanceof MapRefusedError) {
      const at = options.source === "ts" ? declarationSite(options, error.object) : undefined;
      const message = at ? sourceError(at.place, RunCode.MapRefused, error.message, at.expression) : `${file}: ${error.message}`;
      throw new UserError(message, error.ofDefinition ? ExitCode.USAGE : ExitCode.NO_PERMISSION);
    }
    if (error instanceof LoadError) {
      // A signal that came while the kernel's verifier ran (ending the load with EAGAIN) or between its loads has its
      // handler run once the event loop turns. Nothing ran: end as the signal ends the command before its run
      // (everything is released at exit), not with the verdict.
      await new Promise((resolve) => setImmediate(resolve));
      const signal = endedBy();
      if (signal) exitOnSignal(signal);
      if (verbose && error.log) writeErr(`${error.log.trimEnd()}\n`);
      const denied = error.code === "EPERM" && !error.log;
      const hint = !verbose && error.log ? " (run with --verbose for the verifier log)" : "";
      if (error.rejection) {
        // Explained as `tsbpf verify` explains the model's rejections; loaded only here, off the path of a run that loads.
        const { formatKernelRejection } = await import("./rejection.js");
        throw new UserError(formatKernelRejection(error, error.rejection, { tsbpf: options.source === "ts", hint }), ExitCode.REJECTED);
      }
      throw new UserError(`${error.message}${hint}`, denied ? ExitCode.NO_PERMISSION : ExitCode.REJECTED);
    }
    throw error;
  }
}

/**
 * Attaches program by program (not attachAll) so a failure knows which probe it was; whatever was attached
 * before a failure is released with the session.
 */
function attachEach(loaded: LoadedObject, options: StreamOptions, pid: number | undefined): { attached: Attachment[]; skipped: { program: string; why: string }[] } {
  const attached: Attachment[] = [];
  const skipped: { program: string; why: string }[] = [];
  for (const p of loaded.programs.values()) {
    const target = p.spec.attach;
    // begin() and end() programs run at the start and the end of the run.
    if (target.kind === "run") continue;
    const why = notAttached(p.spec);
    if (why !== undefined) {
      skipped.push({ program: p.name, why });
      continue;
    }
    try {
      attached.push(loaded.attach(p.name, { pid }));
    } catch (error) {
      if (!(error instanceof AttachError)) throw error;
      const code = error.reason === "not-found" ? ExitCode.USAGE : error.reason === "kernel" ? ExitCode.INTERNAL : error.reason === "program" ? ExitCode.REJECTED : ExitCode.NO_PERMISSION;
      // CAP_BPF and CAP_PERFMON load the program, but some kernels (6.18 here) create a uprobe for CAP_SYS_ADMIN only.
      const needsAdmin = error.reason === "permission" && (target.kind === "uprobe" || target.kind === "usdt") && missingSysAdmin();
      let message = needsAdmin ? `${error.message}; creating a uprobe needs CAP_SYS_ADMIN on this kernel (CAP_PERFMON is not enough), which this process lacks: run it with sudo` : error.message;
      // A symbol that is not there, with no near name to suggest: the binary's functions are one command away.
      if (error.reason === "not-found" && target.kind === "uprobe" && /^cannot attach .*: no function /.test(message) && !/did you mean/.test(message)) {
        // A C++ name's: the C++ functions, with their parameters, as c++filt shows them.
        const cxx = target.func !== undefined && isCxxName(target.func);
        message += `; tsbpf list 'uprobe:${target.binary}:${cxx ? "*(*" : "*"}' lists its ${cxx ? "C++ " : ""}functions`;
      }
      if (options.source !== "ts") {
        // A kind of probe the kernel cannot attach (kprobes compiled out): --program loads the others without it.
        const others = [...loaded.programs.values()].filter((o) => o.spec.attach.kind !== target.kind && o.spec.attach.kind !== "manual").map((o) => o.name);
        if (error.reason === "unsupported" && others.length) message += `; or leave ${p.name} out, naming the programs that can attach: ${others.map((o) => `--program ${o}`).join(" ")}`;
        // At the program's first line in its C source, as the object's line info records it (clang -g).
        const first = firstLine(loaded, p.spec);
        const place = first?.fileName && { file: first.fileName, line: first.line, column: Math.max(1, first.col), text: first.lineText };
        throw new UserError(place ? sourceError(place, ATTACH_CODES[error.reason], message) : message, code);
      }
      const declared = declarationSite(options, p.name);
      const at = declared ?? callSite(options, target) ?? { place: handlerSite(options, loaded, p.spec), expression: undefined };
      // A probe bound to no name (a one-liner's) has a made-up program name: it is "this kprobe".
      if (error.reason === "unsupported" && target.kind === "kprobe") message = kprobeHintTs(declared ? p.name : undefined, target.func, target.retprobe);
      throw new UserError(sourceError(at.place, ATTACH_CODES[error.reason], message, at.expression), code);
    }
  }
  return { attached, skipped };
}

/** The code of each way an attachment fails. */
const ATTACH_CODES: Record<AttachFailure, number> = {
  unsupported: RunCode.AttachUnsupported,
  "not-found": RunCode.AttachTargetMissing,
  permission: RunCode.AttachDenied,
  busy: RunCode.AttachRefused,
  limit: RunCode.AttachLimit,
  program: RunCode.AttachRefused,
  kernel: RunCode.AttachRefused,
};

/** The probe file's text: what the run compiled, or the file read again (never standard input: it has been read). */
function sourceText(options: StreamOptions): string | undefined {
  try {
    return options.sourceText ?? (namesStdin(options.file) ? undefined : readFileSync(options.file, "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * Where a probe file declares `name` (a probe or a map: the `uprobe(...)` call or `new HashMap(...)` bound to it),
 * with the call's head to underline (`uprobe("libc.so.6", "malloc"`); undefined when no `const` declares it.
 */
function declarationSite(options: StreamOptions, name: string): { place: SourcePlace; expression: string } | undefined {
  const text = sourceText(options);
  const m = text === undefined ? null : new RegExp(`\\bconst\\s+${name.replace(/\$/g, "\\$")}\\s*=\\s*`).exec(text);
  if (!m) return undefined;
  const at = m.index + m[0].length;
  const before = text!.slice(0, at).split("\n");
  const line = before.length;
  // Type arguments may nest a level (`new PerCpuArrayMap<Arr<u8, 64>>(1)`).
  const expression = /^(new\s+)?[\w$.]+(<(?:[^<>\n]|<[^<>\n]*>)*>)?\(\s*("[^"\n]*"\s*,?\s*|\d+\s*,?\s*)*/.exec(text!.slice(at))?.[0].replace(/[\s,]+$/, "");
  return { place: { file: options.file, line, column: before.at(-1)!.length + 1, text: text!.split("\n")[line - 1] }, expression: expression ?? "" };
}

/** The first call of `fn` with string literals `args` in the probe's text, to underline; undefined when none (a constant names them). */
function callNaming(options: StreamOptions, fn: string, args: readonly string[]): { place: SourcePlace; expression: string } | undefined {
  const text = sourceText(options);
  const quoted = args.map((a, i) => `(["'\`])${a.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\${i + 1}`).join("\\s*,\\s*");
  const call = text === undefined ? null : new RegExp(`\\b${fn}\\(\\s*${quoted}\\s*\\)`).exec(text);
  if (!call) return undefined;
  const before = text!.slice(0, call.index).split("\n");
  const line = before.length;
  return { place: { file: options.file, line, column: before.at(-1)!.length + 1, text: text!.split("\n")[line - 1] }, expression: call[0] };
}

/**
 * For a probe bound to no name (a one-liner's), the one call in the file naming its target (`kprobe("vfs_read"`,
 * `hardware("cycles"`, `profile(99`), with that call's head to underline; undefined when no call, or more than one,
 * names it.
 */
function callSite(options: StreamOptions, target: AttachTarget): { place: SourcePlace; expression: string } | undefined {
  const text = sourceText(options);
  if (text === undefined) return undefined;
  for (const [fn, named] of targetNames(target)) {
    const calls = [...text.matchAll(new RegExp(`\\b${fn}\\(\\s*(?:"[^"\\n]*"\\s*,\\s*)*${named}`, "g"))];
    if (calls.length !== 1) continue;
    const before = text.slice(0, calls[0]!.index).split("\n");
    const line = before.length;
    return { place: { file: options.file, line, column: before.at(-1)!.length + 1, text: text.split("\n")[line - 1] }, expression: calls[0]![0] };
  }
  return undefined;
}

/**
 * What a call of a probe may give as its target, as patterns of the call's name and of the argument naming it: a
 * function's or tracepoint's name, a software or hardware event's full name or one of its aliases (`hardware("cycles"`
 * for cpu-cycles), or a profile's rate in hertz and an interval's in milliseconds, as profile() and interval() take them.
 */
function targetNames(target: AttachTarget): [fn: string, named: string][] {
  const any = "[\\w$]+";
  const quoted = (name: string): string => JSON.stringify(name).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  if (target.kind === "uprobe") return [[any, quoted(target.func ?? target.binary)]];
  if (target.kind === "kprobe") return [[any, quoted(target.func)]];
  if (target.kind === "perf_event") {
    if ("event" in target) {
      const events: Record<string, { aliases: readonly string[] }> = PERF_EVENT_NAMES[target.probe];
      return [target.event, ...(events[target.event]?.aliases ?? [])].map((name) => [target.probe, quoted(name)]);
    }
    const written = target.probe === "profile" ? target.unit === "hz" : target.unit === "ms";
    return written ? [[target.probe, `${target.rate}(?![\\w.])`]] : [];
  }
  return "name" in target ? [[any, quoted(target.name)]] : [];
}

/** The line info record of a program's first instruction that has one. */
function firstLine(loaded: LoadedObject, spec: ProgramSpec): BtfLineInfo | undefined {
  return lineInfo(loaded.spec)
    .get(spec.section)
    ?.filter((r) => r.insnOff >= spec.source.offset * 8 && r.line > 0)
    .sort((a, b) => a.insnOff - b.insnOff)[0];
}

/** For a probe not bound to a name, where its handler starts (the line info of its first instruction); else the file. */
function handlerSite(options: StreamOptions, loaded: LoadedObject, spec: ProgramSpec): SourcePlace {
  const first = firstLine(loaded, spec);
  if (!first) return { file: options.file, line: 0, column: 0 };
  return { file: options.file, line: first.line, column: first.col, text: sourceText(options)?.split("\n")[first.line - 1] };
}

/** The kprobes-compiled-out explanation in the probe file's own terms (the loader's names SEC() sections). */
function kprobeHintTs(program: string | undefined, func: string, retprobe: boolean): string {
  const kind = retprobe ? "kretprobe" : "kprobe";
  const tp = tracepointAlternative(func);
  const [group, name] = tp ? tp.split(":") : ["GROUP", "NAME"];
  const exit = retprobe && tp ? name!.replace(/^sys_enter_/, "sys_exit_") : name;
  const symbol = tp ? JSON.stringify(name!.replace(/^sys_enter_/, "")) : "SYMBOL";
  const binary = tp ? `"libc.so.6"` : "BINARY";
  return (
    `${program ? `${program} is a ${kind}` : `this is a ${kind}`} on ${func}, but kprobes are compiled out of the running kernel (CONFIG_KPROBES is off, no kprobe PMU); ` +
    `use tracepoint("${group}", "${exit}", ...) or ${retprobe ? "uretprobe" : "uprobe"}(${binary}, ${symbol}, ...) instead`
  );
}

// The pipe's "CPU:1 [LOST 5 EVENTS]" is said as a ring buffer's or a perf buffer's losses are.
function textLine(l: TraceLine): string {
  if (l.lost !== undefined) return `bpf_printk: ${l.lost} line${l.lost === 1 ? "" : "s"} lost on CPU ${l.cpu}: the trace buffer overwrote them (the reader fell behind)`;
  return l.event ? `${l.task}-${l.pid} [${String(l.cpu).padStart(3, "0")}] ${l.timestamp.toFixed(6)}: ${l.message}` : l.raw;
}

function jsonLine(l: TraceLine): Record<string, unknown> {
  if (l.lost !== undefined) return { event: "bpf_trace_printk", cpu: l.cpu, lost: l.lost };
  return l.event ? { task: l.task, pid: l.pid, cpu: l.cpu, timestamp: l.timestamp, event: l.event, message: l.message } : { raw: l.raw };
}

/** The files the object's uprobes and USDT probes name (those that resolve), as process `pid` would have them found. */
function probedFiles(loaded: LoadedObject, programs = loaded.spec.programs, pid?: number): string[] {
  const files = new Set<string>();
  for (const p of programs) {
    if (p.attach.kind !== "uprobe" && p.attach.kind !== "usdt") continue;
    try {
      files.add(resolveBinary(p.attach.binary, pid));
    } catch (e) {
      if (!(e instanceof SymbolError)) throw e;
    }
  }
  return [...files];
}
