// V8 code caches for large scripts loaded on the command line's start-up path: TypeScript
// (load-typescript.ts) and tsbpf's own bundled modules (cli/bundle.ts).
// Takes a script's source, file name and a key naming its exact version; gives a `vm.Script` compiled
// from a cached copy of its bytecode when one exists, and writes that copy after the script has run
// (`saveCodeCaches()`), so it holds the functions the run compiled, not only the top level.
// Caches are read from the user's directory ($TSBPF_CACHE_DIR, else $XDG_CACHE_HOME/tsbpf, else
// ~/.cache/tsbpf), then from the installation's (dist/.cache, filled by `npm run build` and at install
// time, see cli/bundle-build.ts). A missing or rejected cache is written to the user's directory.
// TSBPF_NO_CODE_CACHE=1 turns caching off. Any cache problem only costs speed.
// This module is on every command's start-up path: node builtins only, nothing else is done at import.

import type { Script as VmScript } from "node:vm";

// Builtins through process.getBuiltinModule, not `import`: an ES module import of a builtin makes a facade module
// for it, which costs the CLI's start 5-15 ms for the handful that this module and cli/bundle.ts use.
const { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } = process.getBuiltinModule("node:fs");
const { homedir } = process.getBuiltinModule("node:os");
const { dirname, join } = process.getBuiltinModule("node:path");
const { fileURLToPath } = process.getBuiltinModule("node:url");
const { Script } = process.getBuiltinModule("node:vm");

/** The user's cache directory for code caches. */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TSBPF_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "tsbpf");
}

/** The installation's cache directory: dist/.cache beside the built modules. */
export function installCacheDir(): string {
  return fileURLToPath(new URL("../../.cache/", import.meta.url));
}

interface Pending {
  script: VmScript;
  path: string;
}

const pending: Pending[] = [];

/** The cache file name of a script: `name` and `key` must identify its exact text; V8's version is added here. */
export function cacheFileName(name: string, key: string): string {
  return `${name}-${key}-${process.version}-${process.arch}.v8`;
}

/** Whether a cache for `name` and `key` exists (in either directory), without reading it. */
export function hasCache(name: string, key: string): boolean {
  if (process.env.TSBPF_NO_CODE_CACHE) return false;
  const file = cacheFileName(name, key);
  return existsSync(join(userCacheDir(), file)) || existsSync(join(installCacheDir(), file));
}

/**
 * Compiles `source` (named `filename` in stack traces) with a cached copy of its bytecode when one is found
 * and accepted; otherwise compiles it plainly and remembers it for `saveCodeCaches()`.
 */
export function compileCached(source: string, filename: string, name: string, key: string): VmScript {
  if (process.env.TSBPF_NO_CODE_CACHE) return new Script(source, { filename });
  const file = cacheFileName(name, key);
  const user = join(userCacheDir(), file);
  let cached: Buffer | undefined;
  for (const path of [user, join(installCacheDir(), file)]) {
    try {
      cached = readFileSync(path);
      break;
    } catch {
      // not cached there
    }
  }
  const script = new Script(source, { filename, cachedData: cached });
  if (cached === undefined || script.cachedDataRejected === true) pending.push({ script, path: user });
  return script;
}

/** How long after the first use the caches are written, unless the process exits first. */
const SAVE_DELAY_MS = 1500;
let saveScheduled = false;

/**
 * Writes the caches that were missing or rejected. Serializing TypeScript's takes 0.1-0.3 s, so it runs off the
 * caller's path: shortly after (once `tsbpf run` has attached) or at exit, whichever comes first.
 */
export function saveCodeCaches(): void {
  if (!pending.length || saveScheduled) return;
  saveScheduled = true;
  setTimeout(() => writeCodeCaches(), SAVE_DELAY_MS).unref();
  process.once("exit", () => writeCodeCaches());
}

/** Writes every pending cache now, to its user-directory path or into `dir`. */
export function writeCodeCaches(dir?: string): void {
  for (const { script, path } of pending.splice(0)) writeCache(dir ? join(dir, path.slice(dirname(path).length + 1)) : path, script.createCachedData());
}

function writeCache(path: string, data: Buffer): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch {
    // a read-only home or a full disk only costs speed
  }
}
