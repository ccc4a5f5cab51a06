// Loading the `typescript` module fast: CommonJS (an ESM import of it costs several times more),
// through a V8 code cache kept in the user's cache directory, as the v8-compile-cache package does.
// Takes nothing; gives the module, and `saveCodeCache()` to call once a compile has run (the cache
// then holds the parser's and checker's compiled code, not only the top level).
// TSBPF_NO_CODE_CACHE=1 turns the cache off; TSBPF_CACHE_DIR moves it. Any cache problem falls back
// to a plain require.

import { createHash } from "node:crypto";
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
    const source = readFileSync(file, "utf8");
    // The cache is only valid for this file and this V8.
    const key = createHash("sha256").update(`${file}\0${statSync(file).mtimeMs}\0${source.length}\0${process.version}\0${process.arch}`).digest("hex").slice(0, 16);
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

/** Writes the code cache if the load had none (or V8 rejected it). Failures are ignored: it is only a cache. */
export function saveCodeCache(): void {
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
