// `tsbpf run FILE.ts [--duration S] [--json] [--verbose] [--no-cache] [--backend own|llvm] [--record OUT] [--interval S] [--perf-pages N] [-c CMD | -p PID] [--set NAME=VALUE] [--unsafe]`: the main job. Compiles a probe file
// (diagnostics exactly as `tsbpf compile` prints them, exit 3), or takes its object from the cache when neither
// the file, the compiler nor the kernel changed (then TypeScript is never loaded); then loads, attaches and
// streams its output as `tsbpf load` does (../stream.ts), releasing everything on every exit path. `--record`
// also compiles a recorder for the file's probe points (../record.ts) and writes what arrives, with the probe
// hits that caused it, for tsbpf/test's replay().
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { ExitCode, UserError } from "../exit-codes.js";
import { cacheDir, objectKey, objectPath, readCached, reserve, resolutionStore } from "../cache.js";
import { preflight, streamObject, type StreamOptions } from "../stream.js";
import { EXPRESSION_FILE, parseDuration, parseGlobals, parseInterval, parsePerfPages, parseRecordPath, parseTarget } from "../stream-options.js";
import { writeErr } from "../output.js";
import { inputName, probeText, readInput } from "../input.js";

/** The name diagnostics give `-e`'s text (`-e.ts:1:20 - error ...`): a .ts name, so that it is checked as TypeScript. */

export async function handler(argv: Record<string, unknown>): Promise<number> {
  if (Array.isArray(argv.expression)) throw new UserError("-e was given more than once: put every probe in one -e (statements may be separated by ;)");
  const expression = argv.expression as string | undefined;
  if (expression !== undefined && argv.file !== undefined) throw new UserError(`give a probe file or -e, not both (${String(argv.file)} and -e)`);
  if (expression === undefined && argv.file === undefined) throw new UserError("name a probe file, or give the probes themselves with -e (tsbpf run -e 'tracepoint(\"syscalls\", \"sys_enter_openat\", () => printf(\"%s\\n\", comm()))')");
  // `-`: the probe file on standard input, as bpftrace reads its program.
  const file = expression !== undefined ? EXPRESSION_FILE : inputName(argv.file as string);
  const duration = parseDuration(argv.duration);
  const target = parseTarget(argv);
  const interval = parseInterval(argv.interval);
  const perfPages = parsePerfPages(argv["perf-pages"]);
  const globals = parseGlobals(argv.set);
  const recordPath = parseRecordPath(argv.record, expression !== undefined ? undefined : file);
  const verbose = Boolean(argv.verbose);
  const useCache = argv.cache !== false;
  const log = (line: string) => writeErr(`${line}\n`);

  // Read once: the cache key and the compile take this text, whatever the file holds by the time it compiles.
  const text = expression !== undefined ? Buffer.from(expression) : await readInput(file);
  // Before compiling: a user who cannot load BPF programs hears so at once. tracefs is checked once the object says it needs it.
  preflight();

  const backend = (argv.backend as string | undefined) ?? "own";
  const dir = useCache ? cacheDir(expression === undefined ? file : join(process.cwd(), file)) : undefined;
  // The backend is part of the key (the two backends' objects of one file are cached side by side), and for
  // LLVM the toolchain's version too, so that an upgraded LLVM compiles again.
  const key = backend === "own" ? objectKey(file, text) : `${objectKey(file, text)}-${backend}-${await llvmKey()}`;
  let bytes = dir ? readCached(dir, key) : undefined;
  if (bytes) {
    if (verbose) log(`using the cached object ${objectPath(dir!, key)} (the compiler was not loaded)`);
  } else {
    const compiled = await compileToObject(file, text, expression !== undefined, backend, dir, key, verbose, log);
    if (typeof compiled === "number") return compiled;
    bytes = compiled;
  }
  let record: StreamOptions["record"];
  if (recordPath !== undefined) record = await (await import("../record.js")).recordOption(recordPath, bytes, log);
  return streamObject(bytes, {
    file,
    sourceText: text.toString("utf8"),
    // Map names take letters, digits, _ and . only: `-e`'s object is "e".
    name: expression === undefined ? basename(file).replace(/\.[cm]?tsx?$/, "") || "obj" : "e",
    duration,
    json: Boolean(argv.json),
    verbose,
    source: "ts",
    record,
    target,
    interval,
    perfPages,
    globals,
    unsafe: Boolean(argv.unsafe),
    resolutions: dir ? resolutionStore(dir, () => key) : undefined,
  });
}

/** Runs `tsbpf compile`'s own handler into the cache (or a temporary file): the object, or its exit code. */
async function compileToObject(file: string, text: Buffer, expression: boolean, backend: string, dir: string | undefined, key: string, verbose: boolean, log: (line: string) => void): Promise<Uint8Array | number> {
  // Date.now(), not performance.now(): performance's first use loads node:perf_hooks (~1 ms of the start).
  const started = Date.now();
  const slot = dir ? reserve(dir, key) : undefined;
  const out = slot?.path ?? join(tmpdir(), `tsbpf-run-${process.pid}-${key}.bpf.o`);
  let committed = false;
  try {
    // Imported here: the compiler and TypeScript load only on a cache miss.
    const { handler: compile } = await import("./compile.js");
    const source = expression ? (await import("../expression.js")).expressionSource(text.toString("utf8")) : undefined;
    const code = await compile({ file, source, shown: expression ? text.toString("utf8") : undefined, text: source === undefined ? probeText(file, text) : undefined, output: out, emit: "obj", backend, forRun: true });
    if (code !== ExitCode.OK) return code;
    const bytes = readFileSync(out);
    // The object is the text's, read once, however the file changed since: cached under that text's key.
    if (slot) {
      slot.commit();
      committed = true;
    }
    if (verbose) {
      const where = committed ? `; cached as ${objectPath(dir!, key)}` : dir ? "; not cached (the cache directory is not writable)" : "";
      log(`compiled ${file} in ${Date.now() - started} ms${where}`);
    }
    return bytes;
  } finally {
    if (!committed) {
      if (slot) slot.discard();
      else rmSync(out, { force: true });
    }
  }
}

/** A short hash of the LLVM toolchain's identity ("none" without one: compiling then says what to install). */
async function llvmKey(): Promise<string> {
  const [{ toolchainIdentity, LlvmToolchainError }, { fnv1a }] = await Promise.all([import("../../compiler/llvm/toolchain.js"), import("../../compiler/frontend/load-typescript.js")]);
  let id: string | undefined;
  try {
    id = toolchainIdentity();
  } catch (error) {
    throw error instanceof LlvmToolchainError ? new UserError(error.message) : error;
  }
  return id ? fnv1a(id) : "none";
}
