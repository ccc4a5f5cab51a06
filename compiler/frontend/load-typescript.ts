// Loading the `typescript` module fast: CommonJS (an ESM import of it costs several times more),
// through a V8 code cache kept in the user's cache directory, as the v8-compile-cache package does.
// Takes nothing; gives the module, and `saveCodeCache()` to call once a compile has run (the cache
// then holds the parser's and checker's compiled code, not only the top level).
// TSBPF_NO_CODE_CACHE=1 turns the cache off; TSBPF_CACHE_DIR moves it. Any cache problem falls back
// to a plain require.

import { isAscii } from "node:buffer";
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { Module, createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { Script } from "node:vm";
import type * as TS from "typescript";

let script: Script | undefined;
let cachePath: string | undefined;
let needsSave = false;

function cacheDir(): string {
  return process.env.TSBPF_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "tsbpf");
}

export function loadTypescript(): typeof TS {
  const require = createRequire(import.meta.url);
  if (process.env.TSBPF_NO_CODE_CACHE) return require("typescript") as typeof TS;
  try {
    const file = require.resolve("typescript");
    const bytes = readFileSync(file);
    // typescript.js is ASCII, and decoding ASCII as latin1 gives the same string in half the time of UTF-8.
    const source = isAscii(bytes) ? bytes.toString("latin1") : bytes.toString("utf8");
    // The cache is only valid for this file and this V8. Named without node:crypto, which costs 10-40 ms to load.
    const key = `${fnv1a(file)}-${bytes.length}-${Math.round(statSync(file).mtimeMs)}-${process.version}-${process.arch}`;
    cachePath = join(cacheDir(), `typescript-${key}.v8`);
    let cached: Buffer | undefined;
    try {
      cached = readFileSync(cachePath);
    } catch {
      cached = undefined;
    }
    script = new Script(Module.wrap(source), { filename: file, cachedData: cached });
    needsSave = cached === undefined || script.cachedDataRejected === true;
    const module = { exports: {} as unknown };
    const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
    wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
    return module.exports as typeof TS;
  } catch {
    needsSave = false;
    return require("typescript") as typeof TS;
  }
}

/** FNV-1a (32 bits) of a string's UTF-16 code units, as hex: tells installations apart in a file name. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** How long after the first compile the code cache is written, unless the process exits first. */
const SAVE_DELAY_MS = 1500;
let saveScheduled = false;

/**
 * Writes the code cache if the load had none (or V8 rejected it). Serializing it takes 0.1-0.3 s, so it runs
 * off the caller's path: shortly after (once `tsbpf run` has attached) or at exit, whichever comes first.
 * Failures are ignored: it is only a cache.
 */
export function saveCodeCache(): void {
  if (!needsSave || !script || !cachePath || saveScheduled) return;
  saveScheduled = true;
  setTimeout(writeCodeCache, SAVE_DELAY_MS).unref();
  process.once("exit", writeCodeCache);
}

function writeCodeCache(): void {
  if (!needsSave || !script || !cachePath) return;
  needsSave = false;
  try {
    mkdirSync(dirname(cachePath), { recursive: true });
    const tmp = `${cachePath}.${process.pid}.tmp`;
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, cachePath);
  } catch {
    // a read-only home or a full disk only costs speed
  }
}
