// `tsbpf load OBJ.bpf.o [--duration S] [--json] [--verbose] [--event-type [MAP=]TYPE] [--record OUT] [--interval S] [--perf-pages N] [-c CMD | -p PID] [--set NAME=VALUE] [--program NAME]`: loads a BPF object into the kernel, attaches
// every program its sections name a target for, streams bpf_printk output from trace_pipe until Ctrl-C or the
// duration ends, then detaches and releases everything. The loading and streaming live in ../stream.ts,
// shared with `tsbpf run`; this command only reads the object.
import { objectNameOf } from "../../runtime/loader/object.js";
import { preflight, streamObject } from "../stream.js";
import { parseDuration, parseEventTypes, parseGlobals, parseInterval, parsePerfPages, parseRecordPath, parseTarget } from "../stream-options.js";
import { writeErr } from "../output.js";
import { inputName, readInput, refuseProbeFile } from "../input.js";
import { cacheDir, murmur3x86_128, resolutionStore } from "../cache.js";

export async function handler(argv: Record<string, unknown>): Promise<number> {
  // `-` (or /dev/stdin, /dev/fd/0): the object on standard input, as `tsbpf run -` reads a probe file.
  const file = inputName(argv.file as string);
  const duration = parseDuration(argv.duration);
  const eventTypes = parseEventTypes(argv["event-type"]);
  const target = parseTarget(argv);
  const interval = parseInterval(argv.interval);
  const perfPages = parsePerfPages(argv["perf-pages"]);
  const globals = parseGlobals(argv.set);
  const recordPath = parseRecordPath(argv.record, file);
  const bytes = await readInput(file);
  refuseProbeFile(file, bytes, `tsbpf run ${file} compiles and loads it`);
  preflight();
  const log = (line: string) => writeErr(`${line}\n`);
  const record = recordPath !== undefined ? await (await import("../record.js")).recordOption(recordPath, bytes, log) : undefined;
  // The object cache's directory keeps what loading it looks up in the kernel's BTF, for the next load.
  const resolutions = resolutionStore(cacheDir(file), () => murmur3x86_128(bytes));
  const programs = argv.program === undefined ? undefined : [argv.program].flat().map(String);
  return streamObject(bytes, { file, name: objectNameOf(file), duration, json: Boolean(argv.json), verbose: Boolean(argv.verbose), source: "c", eventTypes, record, target, globals, interval, perfPages, resolutions, programs });
}
