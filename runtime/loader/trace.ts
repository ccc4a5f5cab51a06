// Reading the kernel's trace buffer: bpf_printk output, from a private tracefs instance by default.
// Takes tracefs (and a `Sys` for poll on a worker thread); gives `TracePipe`, an async stream of parsed
// `TraceLine`s (task, pid, cpu, timestamp, message) that never blocks the event loop: the pipe is opened
// non-blocking and waited on with `pollAsync` in short slices, beside an eventfd that `close()` signals, so a close
// does not wait out the slice (the instance's removal, ~30-45 ms in the kernel, then overlaps the probes' detach).
// Since Linux 6.5 the main trace_pipe allows one reader at a time (a second open is EBUSY), so each pipe is
// read from an instance of its own, instances/tsbpf-PID[-N], with only the bpf_trace_printk event enabled
// (every instance gets its own copy of each line); it is removed on close, and ones left by killed processes
// are removed by the next process that opens a pipe. Where instances cannot be made, the shared pipe is read.

import { closeSync, constants, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import type { Sys } from "../sys/sys.js";
import { openSys, tracefsPath } from "../sys/kernel.js";
import { AttachError } from "./errors.js";
import { nextTurn } from "./next-turn.js";

export interface TraceLine {
  /** The task's comm ("rm", "<idle>"). */
  task: string;
  pid: number;
  cpu: number;
  /** The irq-info column ("d..31"), when tracefs prints it. */
  flags: string | undefined;
  /** Seconds since boot, as printed. */
  timestamp: number;
  /** "bpf_trace_printk" for bpf_printk output. */
  event: string;
  message: string;
  /** The line as the kernel wrote it. */
  raw: string;
  /** For the pipe's "CPU:1 [LOST 5 EVENTS]" (cpu 1): the lines the buffer overwrote there before they were read. */
  lost?: number;
}

// "  rm-1234  [001] d..31  1234.567890: bpf_trace_printk: text", with the optional tgid and irq-info columns.
const LINE = /^\s*(.*)-(\d+)\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[(\d+)\]\s+(?:(\S{4,6})\s+)?(\d+\.\d+):\s+([^:\s]+):\s?(.*)$/;

/** The trace pipe's line for events its buffer overwrote before they were read. */
const LOST = /^CPU:(\d+) \[LOST (\d+) EVENTS\]$/;

/** Parses one trace_pipe line; undefined for lines in another shape ("CPU:1 [LOST 5 EVENTS]"). */
export function parseTraceLine(raw: string): TraceLine | undefined {
  const m = LINE.exec(raw);
  if (!m) return undefined;
  return { task: m[1]!.trim(), pid: Number(m[2]), cpu: Number(m[3]), flags: m[4], timestamp: Number(m[5]), event: m[6]!, message: m[7]!, raw };
}

/** Longest wait per poll: koffi runs async calls on a pool of one thread per CPU, which a poll holds while it waits. */
const SLICE_MS = 100;

export interface TracePipeOptions {
  /** A trace_pipe file to read as it is (no instance is made). */
  path?: string;
  /** Read the machine-wide trace_pipe rather than a private instance (one reader at a time). */
  shared?: boolean;
  sys?: Sys;
}

const INSTANCE_PREFIX = "tsbpf-";
let instanceSerial = 0;
let swept = false;

export class TracePipe {
  private fd: number | undefined;
  private closing = false;
  /** The read or poll in flight; the fd is closed only after it settles. */
  private pending: Promise<unknown> = Promise.resolve();
  /** Settles once close() has read what the pipe still held and released it. */
  private closed: Promise<void> | undefined;
  private partial = "";
  /** Lines read but not yet consumed. */
  private queue: TraceLine[] = [];
  /** Events (lines) queued since the open. */
  private queued = 0;
  private readonly buffer = Buffer.alloc(64 * 1024);
  private readonly sys: Sys;
  /** Polled beside the pipe (made at the first poll), and signalled by close(): a poll in flight returns then, not at its slice's end. */
  private wake: number | undefined;
  /** Reads and polls in flight: the fd may be closed synchronously only when there are none. */
  private busy = 0;
  readonly path: string;
  /** The private tracefs instance read from (removed on close), or undefined for the shared pipe or a given path. */
  readonly instance: string | undefined;
  /**
   * Lines the instance's buffer overwrote before they were read (its per-CPU `overrun` counts: a reader that fell
   * behind) and lines it still held when it closed (`entries`: a stop in a flood), any program's, read as it
   * closes; 0 for the shared pipe, whose counts are not this run's alone.
   */
  lost = { overwritten: 0, unread: 0 };
  /** Why the shared trace_pipe is read although an instance was wanted. */
  readonly fallback: string | undefined;

  private constructor(path: string, fd: number, sys: Sys, instance?: string, fallback?: string) {
    this.path = path;
    this.fd = fd;
    this.sys = sys;
    this.instance = instance;
    this.fallback = fallback;
  }

  /**
   * Opens bpf_printk output: a private instance's trace_pipe unless `shared` or `path` say otherwise, falling back
   * to the shared trace_pipe. Throws AttachError: "unsupported" without tracefs, "busy" when the shared pipe has
   * a reader already.
   */
  static open(options: TracePipeOptions = {}): TracePipe {
    const sys = options.sys ?? openSys();
    if (options.path) return new TracePipe(options.path, openPipe(options.path), sys);
    const root = tracefsPath();
    if (!root) throw new AttachError("tracefs is not mounted, so bpf_printk output cannot be read (mount -t tracefs tracefs /sys/kernel/tracing)", "unsupported");
    let fallback: string | undefined;
    if (!options.shared) {
      let instance: string | undefined;
      try {
        instance = makeInstance(`${root}/instances`);
        return new TracePipe(`${instance}/trace_pipe`, openPipe(`${instance}/trace_pipe`), sys, instance);
      } catch (e) {
        if (instance) removeInstance(instance);
        fallback = e instanceof Error ? e.message : String(e);
      }
    }
    const path = `${root}/trace_pipe`;
    try {
      return new TracePipe(path, openPipe(path), sys, undefined, fallback);
    } catch (e) {
      if (fallback && e instanceof AttachError && e.reason === "busy") throw new AttachError(`${e.message} (no private tracefs instance: ${fallback})`, "busy", { cause: e });
      throw e;
    }
  }

  /**
   * Writes `text` into the private instance's buffer (its trace_marker), where the reader meets it in order with the
   * probes' lines, as a `tracing_mark_write` line: a point in the stream without comparing clocks. False for the
   * shared pipe, which others read, and where the marker cannot be written.
   */
  mark(text: string): boolean {
    if (!this.instance || this.closing) return false;
    try {
      writeFileSync(`${this.instance}/trace_marker`, text);
      return true;
    } catch {
      return false;
    }
  }

  get isClosed(): boolean {
    return this.closing;
  }

  /** Parsed lines as they arrive, until close() (and the lines the pipe held then). One consumer at a time. */
  async *lines(): AsyncGenerator<TraceLine> {
    for await (const batch of this.batches()) yield* batch;
  }

  /**
   * The lines as lines() gives them, in batches of those read together, so that a consumer can write each batch at
   * once (a close in a flood reads ~100,000 lines). One consumer at a time.
   */
  async *batches(): AsyncGenerator<TraceLine[]> {
    for (;;) {
      // Taken whole: shift() of a long queue moves all of it, once per line.
      const batch = this.queue;
      if (batch.length) {
        this.queue = [];
        yield batch;
      } else if (!this.closing) await this.fill(SLICE_MS);
      else if (this.closed) {
        await this.closed;
        if (this.queue.length) yield this.queue.splice(0);
        return;
      } else return;
    }
  }

  /**
   * Reads lines until one satisfies `match` (which sees every line) or `timeoutMs` passes: the line, or undefined.
   * Lines after the match stay queued for the next `waitFor` or `lines()`.
   */
  async waitFor(match: (line: TraceLine) => boolean, timeoutMs: number): Promise<TraceLine | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closing) {
      const line = this.queue.shift();
      if (line) {
        if (match(line)) return line;
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await this.fill(Math.min(SLICE_MS, left));
    }
    return undefined;
  }

  /** Queues the lines available now; when there are none, waits up to `waitMs` for the pipe to become readable. */
  private async fill(waitMs: number): Promise<void> {
    const text = this.closing ? undefined : this.readAvailable();
    if (text === undefined) {
      if (this.closing) return;
      this.wake ??= this.sys.eventfd();
      await this.track(this.sys.pollAsync([{ fd: this.fd! }, { fd: this.wake }], waitMs));
      return;
    }
    this.queueText(text);
    // A pipe that is never empty must still let timers and signals in (next-turn.ts).
    await nextTurn();
  }

  private queueText(text: string): void {
    const parts = (this.partial + text).split("\n");
    this.partial = parts.pop()!;
    for (const raw of parts) {
      if (raw === "") continue;
      const line = parseTraceLine(raw);
      // A message with a newline of its own (bpf_printk("a\nb")) goes on past its line: the kernel writes the whole
      // event at once, so the rest arrives with it, still queued. The ring buffer's "[LOST n EVENTS]" is its own line.
      const last = this.queue.at(-1);
      const lost = line ? null : LOST.exec(raw);
      if (lost) {
        // Not an event of the buffer: not counted in `queued`.
        this.queue.push({ task: "", pid: 0, cpu: Number(lost[1]), flags: undefined, timestamp: 0, event: "", message: raw, raw, lost: Number(lost[2]) });
        continue;
      }
      if (!line && last && last.task !== "") {
        last.message += `\n${raw}`;
        last.raw += `\n${raw}`;
        continue;
      }
      this.queue.push(line ?? { task: "", pid: 0, cpu: -1, flags: undefined, timestamp: 0, event: "", message: raw, raw });
      this.queued++;
    }
  }

  /**
   * Text available now, or undefined when the pipe is empty. The pipe is non-blocking, so the read returns at once
   * and runs here rather than on a worker thread (a hop that delayed each line by up to ~10 ms).
   */
  private readAvailable(): string | undefined {
    if (this.fd === undefined) return undefined;
    try {
      const bytesRead = readSync(this.fd, this.buffer, 0, this.buffer.length, null);
      return bytesRead > 0 ? this.buffer.toString("utf8", 0, bytesRead) : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") return undefined;
      throw e;
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.busy++;
    const settled = p.then(
      () => void this.busy--,
      () => void this.busy--,
    );
    this.pending = settled;
    return p;
  }

  /**
   * Stops waiting for lines; once the poll in flight has returned, reads what the pipe still holds (lines() gives
   * those last), closes it and removes the instance. Idempotent.
   */
  close(): Promise<void> {
    this.closing = true;
    if (!this.closed && this.wake !== undefined) this.sys.signalEventfd(this.wake);
    this.closed ??= this.pending.then(() => {
      try {
        // Every line the buffer holds now, and no more: a pipe fed without pause (another program's bpf_printk) is
        // never empty, and what arrives from now on is counted as unread. The shared pipe has no counts of its own.
        const held = this.instance ? stat(this.instance, "entries") : SHARED_CLOSE_LINES;
        const start = this.queued;
        while (this.queued - start < held) {
          const text = this.readAvailable();
          if (text === undefined) break;
          this.queueText(text);
        }
      } catch {
        // a failing read loses only those last lines; the pipe is released all the same
      } finally {
        this.release();
      }
    });
    return this.closed;
  }

  /**
   * For exit paths that cannot wait (a second Ctrl-C, `exit`): closes the pipe and removes the instance now. A poll
   * in flight on a worker thread keeps the pipe open in the kernel until it returns, so it is woken and the instance's
   * removal retried for as long as one poll slice lasts.
   */
  closeSync(): void {
    this.closing = true;
    if (this.fd === undefined) return;
    const polling = this.busy > 0;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
    this.closeWake(polling);
    if (!this.instance) return;
    if (!polling) {
      removeInstance(this.instance);
      return;
    }
    const deadline = Date.now() + SLICE_MS * 2;
    while (!removeInstance(this.instance) && Date.now() < deadline) Atomics.wait(PAUSE, 0, 0, 2);
  }

  /** Closes the eventfd, signalling it first when a poll may be waiting on it (the poll keeps its own reference). */
  private closeWake(polling: boolean): void {
    if (this.wake === undefined) return;
    const wake = this.wake;
    this.wake = undefined;
    if (polling) this.sys.signalEventfd(wake);
    this.sys.close(wake);
  }

  private release(): void {
    if (this.fd === undefined) return;
    if (this.instance) this.lost = { overwritten: stat(this.instance, "overrun"), unread: stat(this.instance, "entries") };
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
    this.closeWake(false);
    // The kernel refuses to remove an instance while its trace_pipe is open, so only after the close.
    if (this.instance) removeInstance(this.instance);
  }
}

/** A count of a tracefs instance's ring buffer (`overrun`, `entries`), summed over its CPUs (per_cpu/cpuN/stats). */
function stat(instance: string, name: string): number {
  const line = new RegExp(`^${name}: (\\d+)$`, "m");
  try {
    return readdirSync(`${instance}/per_cpu`).reduce((n, cpu) => n + Number(line.exec(readFileSync(`${instance}/per_cpu/${cpu}/stats`, "utf8"))?.[1] ?? 0), 0);
  } catch {
    return 0;
  }
}

/** Lines the close of the shared trace_pipe reads at most (about 100 reads): it cannot tell what it held. */
const SHARED_CLOSE_LINES = 10_000;

/** For short synchronous pauses. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

function openPipe(path: string): number {
  try {
    return openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EBUSY") {
      throw new AttachError(`another process is reading ${path}, and the kernel allows one reader at a time; stop it (a cat, another tracer) and try again`, "busy", { cause: e });
    }
    throw new AttachError(`cannot open ${path}: ${code ?? String(e)}`, code === "EACCES" || code === "EPERM" ? "permission" : "unsupported", { cause: e });
  }
}

/** Creates instances/tsbpf-PID (tsbpf-PID-N for a process's later pipes) with only bpf_trace_printk enabled. */
function makeInstance(instances: string): string {
  removeAbandonedInstances(instances);
  for (;;) {
    const n = instanceSerial++;
    const dir = `${instances}/${INSTANCE_PREFIX}${process.pid}${n === 0 ? "" : `-${n}`}`;
    try {
      mkdirSync(dir);
    } catch (e) {
      // One this process could not remove yet (its pipe was still being polled at close): take the next name.
      if ((e as NodeJS.ErrnoException).code === "EEXIST" && n < 1000) continue;
      throw e;
    }
    try {
      writeFileSync(`${dir}/events/bpf_trace/bpf_trace_printk/enable`, "1");
    } catch (e) {
      removeInstance(dir);
      throw e;
    }
    return dir;
  }
}

/** Removes an instance; false while it is still open (the next process's sweep retries). */
function removeInstance(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT";
  }
}

/** Removes the instances whose process is gone (SIGKILL, a crash), once per process. */
export function removeAbandonedInstances(instances = `${tracefsPath() ?? ""}/instances`): void {
  if (swept) return;
  swept = true;
  const abandoned = abandonedEntries(instances, (name) => Number(/^tsbpf-(\d+)(?:-\d+)?$/.exec(name)?.[1] ?? 0));
  for (const name of abandoned) removeInstance(`${instances}/${name}`);
}

/** The names in `dir` that name (by `pidOf`, 0 for none) a process other than this one that is gone: what killed runs left. */
export function abandonedEntries(dir: string, pidOf: (name: string) => number): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return abandonedNames(names, pidOf);
}

/** The `names` that name (by `pidOf`, 0 for none) a process other than this one that is gone. */
export function abandonedNames(names: readonly string[], pidOf: (name: string) => number): string[] {
  return names.filter((name) => {
    const pid = pidOf(name);
    return pid > 0 && pid !== process.pid && !processAlive(pid);
  });
}

/** Whether a process exists (one of another user's counts: kill() then fails with EPERM). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
