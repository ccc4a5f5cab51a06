// Loading, attaching and streaming an object's bpf_printk output: the part `tsbpf load` and `tsbpf run` share.
// Takes object bytes (plus how to name and describe them); gives an exit code once streaming ends (Ctrl-C, SIGTERM
// or --duration), having released every map, program and perf event on every path. Failures a user meets first
// (not root, no tracefs, kprobes compiled out, unknown target, verifier rejection) become one-sentence UserErrors.
// Output is read from a private tracefs instance, because since Linux 6.5 trace_pipe has one reader at a time
// (a second open is EBUSY): with an instance, two runs (or a `cat trace_pipe`) can stream side by side.
import { mkdirSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { ElfError } from "../compiler/elf/index.js";
import { missingRoot, missingTracefs, openSys, tracefsPath, LogLevel, type Sys } from "../runtime/sys/index.js";
import { AttachError, LoadError, ObjectError, Session, TracePipe, tracepointAlternative, type Attachment, type LoadedObject, type TraceLine } from "../runtime/loader/index.js";
import { ExitCode, UserError } from "./exit-codes.js";

export interface StreamOptions {
  /** The file the user named, for messages. */
  file: string;
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
}

/** Validates --duration: undefined or a positive number of seconds. */
export function parseDuration(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !(value > 0)) throw new UserError(`--duration must be a positive number of seconds, not ${String(value)}`);
  return value;
}

/** The checks that fail before anything is compiled or loaded, each as one sentence (exit 4). */
export function preflight(): void {
  const notRoot = missingRoot();
  if (notRoot) throw new UserError(`loading BPF programs needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN): ${notRoot}; run it with sudo`, ExitCode.NO_PERMISSION);
  const noTracefs = missingTracefs();
  if (noTracefs) throw new UserError(`${noTracefs}; it is where tracepoints and bpf_printk output are read`, ExitCode.NO_PERMISSION);
}

/** Loads, attaches, streams until stopped, releases. Call preflight() first. */
export async function streamObject(bytes: Uint8Array, options: StreamOptions): Promise<number> {
  const { file, json = false, verbose = false, duration } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const session = new Session(openSys());
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  // SIGINT/SIGTERM release everything at once (synchronously), then end the stream so the command returns 0.
  session.releaseOnExit(() => stop());
  let output: PrivatePipe | undefined;
  try {
    const loaded = load(session, bytes, options, log);
    output = openOutput(session.sys, verbose, log);
    const pipe = output.pipe;
    const { attached, skipped } = attachEach(loaded, options);
    for (const a of attached) log(`attached ${a.program} to ${a.description}`);
    for (const s of skipped) log(`loaded ${s.program} without attaching it: ${s.why}`);
    if (attached.length === 0) {
      log("nothing to attach; releasing the object");
      return ExitCode.OK;
    }
    log(duration === undefined ? "streaming bpf_printk output; Ctrl-C detaches and exits" : `streaming bpf_printk output for ${duration} s; Ctrl-C detaches and exits`);
    const timer = duration === undefined ? undefined : setTimeout(() => stop(), duration * 1000);
    void stopped.then(() => void pipe.close());
    try {
      for await (const line of pipe.lines()) process.stdout.write(json ? `${JSON.stringify(jsonLine(line))}\n` : `${textLine(line)}\n`);
    } finally {
      if (timer) clearTimeout(timer);
    }
    if (verbose) log(`detaching and releasing every map, program and perf event of ${file}`);
    return ExitCode.OK;
  } finally {
    await session.close();
    await output?.close();
  }
}

interface PrivatePipe {
  pipe: TracePipe;
  /** Closes the pipe, then removes the instance (the kernel refuses while the pipe is open). */
  close(): Promise<void>;
}

const INSTANCE_PREFIX = "tsbpf-";

/**
 * A tracefs instance of our own with only the bpf_trace_printk event enabled, and its trace_pipe. Falls back to the
 * shared trace_pipe where instances are unavailable. Instances left by a killed run (SIGKILL, crash) are removed here.
 */
function openOutput(sys: Sys, verbose: boolean, log: (line: string) => void): PrivatePipe {
  const root = tracefsPath();
  const instances = `${root}/instances`;
  removeStaleInstances(instances);
  const dir = `${instances}/${INSTANCE_PREFIX}${process.pid}`;
  let made = false;
  try {
    mkdirSync(dir);
    made = true;
    writeFileSync(`${dir}/events/bpf_trace/bpf_trace_printk/enable`, "1");
    const pipe = TracePipe.open({ path: `${dir}/trace_pipe`, sys });
    if (verbose) log(`reading bpf_printk output from the tracefs instance ${dir}`);
    return {
      pipe,
      close: async () => {
        await pipe.close();
        removeInstance(dir);
      },
    };
  } catch (error) {
    if (made) removeInstance(dir);
    if (verbose) log(`no private tracefs instance (${(error as Error).message}); reading the shared trace_pipe`);
  }
  let pipe: TracePipe;
  try {
    pipe = TracePipe.open({ sys });
  } catch (error) {
    if (error instanceof AttachError && /EBUSY/.test(error.message)) {
      throw new UserError(`another process is reading ${root}/trace_pipe, and the kernel allows one reader at a time; stop it (cat, another tsbpf) and try again`, ExitCode.NO_PERMISSION);
    }
    throw error;
  }
  return { pipe, close: () => pipe.close() };
}

function removeInstance(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // still referenced or already gone: the next run's removeStaleInstances retries
  }
}

function removeStaleInstances(instances: string): void {
  let names: string[];
  try {
    names = readdirSync(instances);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(name.slice(INSTANCE_PREFIX.length));
    if (!name.startsWith(INSTANCE_PREFIX) || !Number.isInteger(pid) || pid <= 0 || alive(pid)) continue;
    removeInstance(`${instances}/${name}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function load(session: Session, bytes: Uint8Array, options: StreamOptions, log: (line: string) => void): LoadedObject {
  const { file, verbose = false } = options;
  try {
    const loaded = session.load(bytes, { name: options.name, logLevel: verbose ? LogLevel.STATS : 0 });
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

/**
 * Attaches program by program (not attachAll) so a failure knows which probe it was; whatever was attached
 * before a failure is released with the session.
 */
function attachEach(loaded: LoadedObject, options: StreamOptions): { attached: Attachment[]; skipped: { program: string; why: string }[] } {
  const attached: Attachment[] = [];
  const skipped: { program: string; why: string }[] = [];
  for (const p of loaded.programs.values()) {
    const target = p.spec.attach;
    if (target.kind === "manual") {
      skipped.push({ program: p.name, why: target.why });
      continue;
    }
    try {
      attached.push(loaded.attach(p.name));
    } catch (error) {
      if (!(error instanceof AttachError)) throw error;
      const code = error.reason === "not-found" ? ExitCode.USAGE : error.reason === "kernel" ? ExitCode.INTERNAL : ExitCode.NO_PERMISSION;
      if (options.source === "ts" && error.reason === "unsupported" && target.kind === "kprobe") {
        throw new UserError(kprobeHintTs(options.file, p.name, target.func, target.retprobe), code);
      }
      throw new UserError(error.message, code);
    }
  }
  return { attached, skipped };
}

/** The kprobes-compiled-out explanation in the probe file's own terms (the loader's names SEC() sections). */
function kprobeHintTs(file: string, program: string, func: string, retprobe: boolean): string {
  const kind = retprobe ? "kretprobe" : "kprobe";
  const tp = tracepointAlternative(func);
  const [group, name] = tp ? tp.split(":") : ["GROUP", "NAME"];
  const exit = retprobe && tp ? name!.replace(/^sys_enter_/, "sys_exit_") : name;
  const symbol = tp ? JSON.stringify(name!.replace(/^sys_enter_/, "")) : "SYMBOL";
  const binary = tp ? `"libc.so.6"` : "BINARY";
  return (
    `${file}: ${program} is a ${kind} on ${func}, but kprobes are compiled out of the running kernel (CONFIG_KPROBES is off, no kprobe PMU); ` +
    `use tracepoint("${group}", "${exit}", ...) or ${retprobe ? "uretprobe" : "uprobe"}(${binary}, ${symbol}, ...) instead`
  );
}

function textLine(l: TraceLine): string {
  return l.event ? `${l.task}-${l.pid} [${String(l.cpu).padStart(3, "0")}] ${l.timestamp.toFixed(6)}: ${l.message}` : l.raw;
}

function jsonLine(l: TraceLine): Record<string, unknown> {
  return l.event ? { task: l.task, pid: l.pid, cpu: l.cpu, timestamp: l.timestamp, event: l.event, message: l.message } : { raw: l.raw };
}
