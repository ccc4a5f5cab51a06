// Reading the kernel's trace buffer: bpf_printk output from /sys/kernel/tracing/trace_pipe.
// Takes tracefs (and a `Sys` for poll on a worker thread); gives `TracePipe`, an async stream of parsed
// `TraceLine`s (task, pid, cpu, timestamp, message) that never blocks the event loop: the pipe is opened
// non-blocking and waited on with `pollAsync` in short slices, so `close()` returns promptly.

import { closeSync, constants, openSync, read } from "node:fs";
import { promisify } from "node:util";
import type { Sys } from "../sys/sys.js";
import { openSys, tracefsPath } from "../sys/index.js";
import { AttachError } from "./errors.js";

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
}

// "  rm-1234  [001] d..31  1234.567890: bpf_trace_printk: text", with the optional tgid and irq-info columns.
const LINE = /^\s*(.*)-(\d+)\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[(\d+)\]\s+(?:(\S{4,6})\s+)?(\d+\.\d+):\s+([^:\s]+):\s?(.*)$/;

/** Parses one trace_pipe line; undefined for lines in another shape ("CPU:1 [LOST 5 EVENTS]"). */
export function parseTraceLine(raw: string): TraceLine | undefined {
  const m = LINE.exec(raw);
  if (!m) return undefined;
  return { task: m[1]!.trim(), pid: Number(m[2]), cpu: Number(m[3]), flags: m[4], timestamp: Number(m[5]), event: m[6]!, message: m[7]!, raw };
}

const readAsync = promisify(read);
/** Longest wait per poll: bounds how long close() takes. */
const SLICE_MS = 100;

export interface TracePipeOptions {
  /** Default: trace_pipe under the mounted tracefs. */
  path?: string;
  sys?: Sys;
}

export class TracePipe {
  private fd: number | undefined;
  private closing = false;
  /** The read or poll in flight; the fd is closed only after it settles. */
  private pending: Promise<unknown> = Promise.resolve();
  private partial = "";
  /** Lines read but not yet consumed. */
  private readonly queue: TraceLine[] = [];
  private readonly buffer = Buffer.alloc(64 * 1024);
  private readonly sys: Sys;
  readonly path: string;

  private constructor(path: string, fd: number, sys: Sys) {
    this.path = path;
    this.fd = fd;
    this.sys = sys;
  }

  /** Opens trace_pipe; throws AttachError ("unsupported") when tracefs is not mounted. */
  static open(options: TracePipeOptions = {}): TracePipe {
    const root = tracefsPath();
    const path = options.path ?? (root ? `${root}/trace_pipe` : undefined);
    if (!path) throw new AttachError("tracefs is not mounted, so bpf_printk output cannot be read (mount -t tracefs tracefs /sys/kernel/tracing)", "unsupported");
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new AttachError(`cannot open ${path}: ${code ?? String(e)}`, code === "EACCES" || code === "EPERM" ? "permission" : "unsupported", { cause: e });
    }
    return new TracePipe(path, fd, options.sys ?? openSys());
  }

  get isClosed(): boolean {
    return this.closing;
  }

  /** Parsed lines as they arrive, until close(). One consumer at a time. */
  async *lines(): AsyncGenerator<TraceLine> {
    while (!this.closing) {
      const line = this.queue.shift();
      if (line) yield line;
      else await this.fill(SLICE_MS);
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
    const text = await this.readAvailable();
    if (text === undefined) {
      if (!this.closing) await this.track(this.sys.pollAsync([{ fd: this.fd! }], waitMs));
      return;
    }
    const parts = (this.partial + text).split("\n");
    this.partial = parts.pop()!;
    for (const raw of parts) {
      if (raw === "") continue;
      this.queue.push(parseTraceLine(raw) ?? { task: "", pid: 0, cpu: -1, flags: undefined, timestamp: 0, event: "", message: raw, raw });
    }
  }

  /** Text available now, or undefined when the pipe is empty (or closing). */
  private async readAvailable(): Promise<string | undefined> {
    if (this.closing || this.fd === undefined) return undefined;
    try {
      const { bytesRead } = await this.track(readAsync(this.fd, this.buffer, 0, this.buffer.length, null));
      return bytesRead > 0 ? this.buffer.toString("utf8", 0, bytesRead) : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") return undefined;
      throw e;
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending = p.catch(() => undefined);
    return p;
  }

  /** Stops reading and closes the pipe once the read or poll in flight has returned; idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    await this.pending;
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      closeSync(fd);
    }
  }
}
