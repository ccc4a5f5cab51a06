// `tsbpf load OBJ.bpf.o [--duration S] [--json] [--verbose]`: loads a BPF object into the kernel, attaches
// every program its sections name a target for, streams bpf_printk output from trace_pipe until Ctrl-C or the
// duration ends, then detaches and releases everything. Failures a user meets first are one sentence each.
import { readFileSync } from "node:fs";
import { ElfError } from "../../compiler/elf/index.js";
import { missingRoot, missingTracefs, openSys, LogLevel } from "../../runtime/sys/index.js";
import { AttachError, LoadError, ObjectError, Session, objectNameOf, type TraceLine } from "../../runtime/loader/index.js";
import { ExitCode, UserError } from "../exit-codes.js";

export async function handler(argv: Record<string, unknown>): Promise<number> {
  const file = argv.file as string;
  const json = Boolean(argv.json);
  const verbose = Boolean(argv.verbose);
  const duration = argv.duration as number | undefined;
  if (duration !== undefined && !(duration > 0)) throw new UserError(`--duration must be a positive number of seconds, not ${String(argv.duration)}`);

  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new UserError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const notRoot = missingRoot();
  if (notRoot) throw new UserError(`loading BPF programs needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN); ${notRoot}`, ExitCode.NO_PERMISSION);
  const noTracefs = missingTracefs();
  if (noTracefs) throw new UserError(`${noTracefs}; it is where bpf_printk output is read`, ExitCode.NO_PERMISSION);

  const log = (line: string) => process.stderr.write(`${line}\n`);
  const session = new Session(openSys());
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  session.releaseOnExit(() => stop());
  try {
    const loaded = load(session, bytes, file, verbose, log);
    const pipe = session.tracePipe();
    let result;
    try {
      result = loaded.attachAll();
    } catch (error) {
      if (error instanceof AttachError) {
        throw new UserError(error.message, error.reason === "not-found" ? ExitCode.USAGE : error.reason === "kernel" ? ExitCode.INTERNAL : ExitCode.NO_PERMISSION);
      }
      throw error;
    }
    for (const a of result.attached) log(`attached ${a.program} to ${a.description}`);
    for (const s of result.skipped) log(`loaded ${s.program} without attaching it: ${s.why}`);
    if (result.attached.length === 0) {
      log("nothing to attach; releasing the object");
      return ExitCode.OK;
    }
    log(duration === undefined ? "streaming bpf_printk output; Ctrl-C detaches and exits" : `streaming bpf_printk output for ${duration} s; Ctrl-C detaches and exits`);
    const timer = duration === undefined ? undefined : setTimeout(() => stop(), duration * 1000);
    void stopped.then(() => pipe.close());
    try {
      for await (const line of pipe.lines()) process.stdout.write(json ? `${JSON.stringify(jsonLine(line))}\n` : `${textLine(line)}\n`);
    } finally {
      if (timer) clearTimeout(timer);
    }
    if (verbose) log("detaching and releasing every map, program and perf event");
    return ExitCode.OK;
  } finally {
    await session.close();
  }
}

function load(session: Session, bytes: Uint8Array, file: string, verbose: boolean, log: (line: string) => void) {
  try {
    const loaded = session.load(bytes, { name: objectNameOf(file), logLevel: verbose ? LogLevel.STATS : 0 });
    if (verbose) {
      for (const m of loaded.maps.values()) log(`map ${m.name}: type ${m.spec.type}, key ${m.spec.keySize} B, value ${m.spec.valueSize} B, ${m.spec.maxEntries} entries`);
      for (const p of loaded.programs.values()) log(`program ${p.name} (${p.spec.section}): ${p.insnCount} instructions; ${p.log.trim().split("\n").at(-1) ?? ""}`);
    }
    return loaded;
  } catch (error) {
    if (error instanceof ElfError || error instanceof ObjectError) throw new UserError(`${file}: ${error.message}`);
    if (error instanceof LoadError) {
      if (verbose && error.log) process.stderr.write(`${error.log.trimEnd()}\n`);
      const denied = error.code === "EPERM" && !error.log;
      const hint = !verbose && error.log ? " (run with --verbose for the verifier log)" : "";
      throw new UserError(`${error.message}${hint}`, denied ? ExitCode.NO_PERMISSION : ExitCode.REJECTED);
    }
    throw error;
  }
}

function textLine(l: TraceLine): string {
  return l.event ? `${l.task}-${l.pid} [${String(l.cpu).padStart(3, "0")}] ${l.timestamp.toFixed(6)}: ${l.message}` : l.raw;
}

function jsonLine(l: TraceLine): Record<string, unknown> {
  return l.event ? { task: l.task, pid: l.pid, cpu: l.cpu, timestamp: l.timestamp, event: l.event, message: l.message } : { raw: l.raw };
}
