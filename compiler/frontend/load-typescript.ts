// Loading the `typescript` module fast: CommonJS (an ESM import of it costs several times more),
// through a V8 code cache (code-cache.cts: the user's cache directory, else the one `npm run build`
// and installation fill), as the v8-compile-cache package does.
// Takes whether the whole module is wanted; gives it (by default cut to what a type check runs, see
// trim-typescript.ts), and `saveCodeCache()` to call once a compile has run (a cache written then holds
// the parser's and checker's compiled code, not only the top level).
// TSBPF_NO_CODE_CACHE=1 turns the cache off; TSBPF_CACHE_DIR moves it. Any cache problem falls back
// to a plain require.

import { isAscii } from "node:buffer";
import { readFileSync, statSync } from "node:fs";
import { Module, createRequire } from "node:module";
import { dirname } from "node:path";
import type * as TS from "typescript";
import { compileCached, readCachedText, saveCachedText, saveCodeCaches } from "./code-cache.cjs";
import { trimTypescript } from "./trim-typescript.js";

export interface LoadedTypescript {
  ts: typeof TS;
  /** Whether this is the cut module (trim-typescript.ts) rather than the whole one. */
  trimmed: boolean;
}

/** Starts the cut module's text, so that a cached text tells which it is. */
const TRIMMED_MARK = "/* typescript.js trimmed by tsbpf */";
const TRIMMED_FILE = " (trimmed by tsbpf)";

/** Whether an error was thrown in (or through) the cut module. */
export function thrownByTrimmedTypescript(error: unknown): boolean {
  return error instanceof Error && error.stack !== undefined && error.stack.includes(TRIMMED_FILE);
}

/** Where a module's text starts in Module.wrap()'s function. */
const WRAPPER_LENGTH = Module.wrap("\0").indexOf("\0");

export function loadTypescript(options: { whole?: boolean } = {}): LoadedTypescript {
  const require = createRequire(import.meta.url);
  const plain = (): LoadedTypescript => ({ ts: require("typescript") as typeof TS, trimmed: false });
  if (process.env.TSBPF_NO_CODE_CACHE) return plain();
  try {
    const file = require.resolve("typescript");
    const stat = statSync(file);
    // The caches are only valid for this file (code-cache.cts adds V8's version). Named without node:crypto, which
    // costs 10-40 ms to load.
    const key = `${fnv1a(file)}-${stat.size}-${Math.round(stat.mtimeMs)}`;
    // The module wrapped as a CommonJS function, kept as a file: wrapping it here makes a 9 MB string that V8 copies
    // into its old generation to compile, where it brought on a full garbage collection in the middle of a compile.
    // The default text is the cut module (or the whole one where it cannot be cut, marked so); `whole` asks for
    // the whole one, kept under its own name.
    const name = options.whole ? "typescript-wrapped" : "typescript-trimmed";
    let wrapped = readCachedText(name, key);
    if (wrapped === undefined) {
      const bytes = readFileSync(file);
      // typescript.js is ASCII, and decoding ASCII as latin1 gives the same string in half the time of UTF-8.
      const ascii = isAscii(bytes);
      const text = ascii ? bytes.toString("latin1") : bytes.toString("utf8");
      const cut = options.whole ? undefined : trimTypescript(text);
      wrapped = Module.wrap(cut === undefined ? text : TRIMMED_MARK + cut);
      if (ascii) saveCachedText(name, key, wrapped);
    }
    const trimmed = wrapped.startsWith(TRIMMED_MARK, WRAPPER_LENGTH);
    // Stack traces through the cut module name it, since its lines are not typescript.js's.
    const script = compileCached(wrapped, trimmed ? file + TRIMMED_FILE : file, name, key);
    const module = { exports: {} as unknown };
    const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
    wrapper.call(module.exports, module.exports, requireFor(file), module, file, dirname(file));
    return { ts: module.exports as typeof TS, trimmed };
  } catch {
    return plain();
  }
}

/**
 * TypeScript's `require`, except that node:crypto (10-40 ms to load; TypeScript requires it while it starts, for
 * SHA-256 hashes of build-info files the compiler never writes) loads only if a hash is asked for.
 */
function requireFor(file: string): NodeJS.Require {
  const real = createRequire(file);
  const lazyCrypto = { createHash: (...args: Parameters<typeof import("node:crypto").createHash>) => (real("crypto") as typeof import("node:crypto")).createHash(...args) };
  return Object.assign((id: string): unknown => (id === "crypto" ? lazyCrypto : real(id)), real);
}

/** FNV-1a (32 bits) of a string's UTF-16 code units, as hex: tells installations apart in a file name. */
export function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/**
 * Writes the code cache if the load had none (or V8 rejected it), off the caller's path: shortly after (once
 * `tsbpf run` has attached) or at exit, whichever comes first.
 */
export function saveCodeCache(): void {
  saveCodeCaches();
}
