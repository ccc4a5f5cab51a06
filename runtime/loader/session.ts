// A session: everything a caller loaded, attached and opened, released together.
// Takes a `Sys` (the real kernel by default) and object bytes or paths; gives `Session`, which owns every
// `LoadedObject` (maps, programs, perf events) and `TracePipe` (each on a private tracefs instance) it hands
// out. `close()` releases them all, is idempotent, and `releaseOnExit()` makes SIGINT, SIGTERM, uncaught
// exceptions and exit release them too.

import { readFileSync } from "node:fs";
import { openSys, type Sys } from "../sys/index.js";
import { readBtfMaps } from "./btf-maps.js";
import { loadObject, type LoadOptions, type LoadedObject } from "./load.js";
import { objectNameOf, parseObject, type ObjectSpec, type ParseOptions } from "./object.js";
import { TracePipe, type TracePipeOptions } from "./trace.js";

/** Parses an object with every reader the loader has (BTF-defined maps included). */
export function openObject(bytes: Uint8Array, options: ParseOptions = {}): ObjectSpec {
  return parseObject(bytes, { btfMaps: readBtfMaps, ...options });
}

export interface SessionLoadOptions extends LoadOptions {
  /** Object name (prefix of global data map names); default from the path, else "obj". */
  name?: string;
}

export class Session {
  readonly sys: Sys;
  private readonly objects: LoadedObject[] = [];
  private readonly pipes: TracePipe[] = [];
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

  /** Releases every object now (attachments, programs, maps) and the trace pipes once their reads return. */
  async close(): Promise<void> {
    const pipes = this.pipes.splice(0);
    this.closeObjects();
    await Promise.all(pipes.map((p) => p.close()));
  }

  /** For exit paths that cannot wait: objects are released now, and the trace pipes too unless a read is in flight. */
  closeSync(): void {
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
   * Releases everything on SIGINT/SIGTERM (then calls `onSignal`, which decides how to finish), on an uncaught
   * exception (then rethrows it) and at exit. Gives a function that removes the handlers; close() removes them too.
   */
  releaseOnExit(onSignal: (signal: NodeJS.Signals) => void = (s) => process.exit(s === "SIGINT" ? 130 : 143)): () => void {
    this.uninstall?.();
    const signal = (s: NodeJS.Signals) => {
      try {
        this.closeSync();
      } finally {
        onSignal(s);
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
    process.on("SIGINT", signal);
    process.on("SIGTERM", signal);
    process.on("uncaughtException", crash);
    process.on("exit", exit);
    const uninstall = () => {
      process.off("SIGINT", signal);
      process.off("SIGTERM", signal);
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
