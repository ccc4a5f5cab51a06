// A session: everything a caller loaded, attached and opened, released together.
// Takes a `Sys` (the real kernel by default) and object bytes or paths; gives `Session`, which owns every
// `LoadedObject` (maps, programs, perf events), `EventReader` (ring and perf buffers) and `TracePipe` (each on
// a private tracefs instance) it hands out. `close()` releases them all, is idempotent, and `releaseOnExit()` makes SIGINT, SIGTERM, uncaught
// exceptions and exit release them too.

import { readFileSync } from "node:fs";
import { constants } from "node:os";
import { openSys } from "../sys/kernel.js";
import type { Sys } from "../sys/sys.js";
import { readBtfMaps } from "./btf-maps.js";
import { EventReader, type EventReaderOptions } from "./events.js";
import { loadObject, type LoadOptions, type LoadedObject } from "./load.js";
import { objectNameOf, parseObject, type ObjectSpec, type ParseOptions } from "./object.js";
import { TracePipe, type TracePipeOptions } from "./trace.js";

/** Parses an object with every reader the loader has (BTF-defined maps included). */
export function openObject(bytes: Uint8Array, options: ParseOptions = {}): ObjectSpec {
  return parseObject(bytes, { btfMaps: readBtfMaps, ...options });
}

/** Exits as the shell's convention has it: 128 + the signal number. */
export function exitOnSignal(s: NodeJS.Signals): never {
  process.exit(128 + (constants.signals[s] ?? 15));
}

/** The signals that end a session as Ctrl-C does: also a closed terminal (SIGHUP) and Ctrl-\ (SIGQUIT). */
const ENDING_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

export interface SessionLoadOptions extends LoadOptions {
  /** Object name (prefix of global data map names); default from the path, else "obj". */
  name?: string;
}

/** How soon a signal again counts as the same one delivered twice (releaseOnExit): well under a person's second Ctrl-C. */
const SAME_SIGNAL_MS = 250;

export class Session {
  readonly sys: Sys;
  private readonly objects: LoadedObject[] = [];
  private readonly pipes: TracePipe[] = [];
  private readonly readers: EventReader<unknown>[] = [];
  private closed = false;
  private uninstall: (() => void) | undefined;

  constructor(sys: Sys = openSys()) {
    this.sys = sys;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Parses, relocates and loads an object; the result is released with the session. */
  load(bytes: Uint8Array, options: SessionLoadOptions = {}): LoadedObject {
    this.checkOpen();
    const spec = openObject(bytes, { name: options.name });
    const loaded = loadObject(this.sys, spec, options);
    this.objects.push(loaded);
    return loaded;
  }

  loadFile(path: string, options: SessionLoadOptions = {}): LoadedObject {
    return this.load(readFileSync(path), { name: objectNameOf(path), ...options });
  }

  /** Opens bpf_printk output (a private tracefs instance unless `shared`); closed, and the instance removed, with the session. */
  tracePipe(options: Omit<TracePipeOptions, "sys"> = {}): TracePipe {
    this.checkOpen();
    const pipe = TracePipe.open({ ...options, sys: this.sys });
    this.pipes.push(pipe);
    return pipe;
  }

  /** Opens a ring buffer or perf event array of a loaded object as typed events; closed with the session. */
  events<T = unknown>(obj: LoadedObject, map: string, options: EventReaderOptions = {}): EventReader<T> {
    this.checkOpen();
    const reader = EventReader.open<T>(obj, map, options);
    this.readers.push(reader as EventReader<unknown>);
    return reader;
  }

  /**
   * Detaches every program of every object (nothing new arrives once it has settled), leaving maps and readers
   * open to read. The detaches run at once (LoadedObject.detachAll); rejects with the first failure.
   */
  async detachAll(): Promise<void> {
    const results = await Promise.allSettled(this.objects.map((o) => o.detachAll()));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** Releases every object now (attachments, programs, maps), and the event readers and trace pipes once their waits return. */
  async close(): Promise<void> {
    const pipes = this.pipes.splice(0);
    const readers = this.readers.splice(0);
    // Readers first: a perf buffer removes its events from the map it reads, which must still be open.
    const closing = readers.map((r) => r.close());
    this.closeObjects();
    await Promise.all([...closing, ...pipes.map((p) => p.close())]);
  }

  /** For exit paths that cannot wait: everything is released now, trace pipes unless a read is in flight. */
  closeSync(): void {
    for (const r of this.readers.splice(0)) r.closeSync();
    this.closeObjects();
    for (const p of this.pipes) p.closeSync();
  }

  private closeObjects(): void {
    if (!this.closed) {
      this.closed = true;
      this.uninstall?.();
    }
    const errors: unknown[] = [];
    for (const o of this.objects.splice(0).reverse()) {
      try {
        o.close();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length > 0) throw errors[0];
  }

  /**
   * Releases everything on SIGINT, SIGTERM, SIGHUP or SIGQUIT (then calls `onSignal`, which decides how to finish), on an uncaught
   * exception (then rethrows it) and at exit. With `graceful`, the first signal only calls `onSignal` (which is
   * then expected to finish up and close the session) and a second one releases everything and exits. The same signal
   * again within SAME_SIGNAL_MS is the first one delivered twice, not a second: timeout(1) sends it to its command
   * and then to the command's process group, and a terminal's Ctrl-C reaches every process of the foreground group.
   * Gives a function that removes the handlers; close() removes them too.
   */
  releaseOnExit(onSignal: (signal: NodeJS.Signals) => void = exitOnSignal, options: { graceful?: boolean } = {}): () => void {
    this.uninstall?.();
    let signalled: { signal: NodeJS.Signals; at: number } | undefined;
    const signal = (s: NodeJS.Signals) => {
      const first = !signalled;
      if (options.graceful && !first && s === signalled!.signal && performance.now() - signalled!.at < SAME_SIGNAL_MS) return;
      signalled ??= { signal: s, at: performance.now() };
      if (options.graceful && first) return onSignal(s);
      try {
        this.closeSync();
      } finally {
        (options.graceful ? exitOnSignal : onSignal)(s);
      }
    };
    const crash = (e: unknown) => {
      try {
        this.closeSync();
      } finally {
        process.off("uncaughtException", crash);
        throw e;
      }
    };
    const exit = () => this.closeSync();
    for (const s of ENDING_SIGNALS) process.on(s, signal);
    process.on("uncaughtException", crash);
    process.on("exit", exit);
    const uninstall = () => {
      for (const s of ENDING_SIGNALS) process.off(s, signal);
      process.off("uncaughtException", crash);
      process.off("exit", exit);
      if (this.uninstall === uninstall) this.uninstall = undefined;
    };
    this.uninstall = uninstall;
    return uninstall;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error("the session is closed");
  }
}
