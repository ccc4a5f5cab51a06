// V8 code caches for large scripts loaded on the command line's start-up path: TypeScript
// (load-typescript.ts) and tsbpf's own bundled modules (cli/bundle.cts).
// Takes a script's source, file name and a key naming its exact version; gives a `vm.Script` compiled
// from a cached copy of its bytecode when one exists, and writes that copy after the script has run
// (`saveCodeCaches()`), so it holds the functions the run compiled, not only the top level.
// Caches are read from the user's directory ($TSBPF_CACHE_DIR, else $XDG_CACHE_HOME/tsbpf, else
// ~/.cache/tsbpf), then from the installation's (dist/.cache, filled by `npm run build` and at install
// time, see cli/bundle-build.ts). A missing or rejected cache is written to the user's directory, and so are
// new caches of `tsbpf run`'s bundle chunks once it has attached (refreshCodeCaches).
// TSBPF_NO_CODE_CACHE=1 turns caching off. Any cache problem only costs speed. The user's directory is trimmed
// of caches unused for five days (cache-upkeep.cts) when caches are written to it.
// This module is on every command's start-up path: node builtins only, nothing else is done at import. It is
// CommonJS, as cli/bundle.cts, because the command's entry point (cli/tsbpf.cts) loads both before any ES module.

import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { Script } from "node:vm";
import { markUsed, trimIfDue } from "./cache-upkeep.cjs";

/** The user's cache directory for code caches. */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TSBPF_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "tsbpf");
}

/** The installation's cache directory: dist/.cache beside the built modules. */
export function installCacheDir(): string {
  return join(__dirname, "../../.cache/");
}

interface Pending {
  /** What to write: a script's code cache, made when written (so that it holds what has run by then), or text. */
  data: () => Buffer | string;
  path: string;
  /** Other files in the directory that this one makes obsolete, removed when it is written. */
  replaces?: (file: string) => boolean;
}

const pending: Pending[] = [];

/** The cache file name of a script: `name` and `key` must identify its exact text; V8's version is added here. */
export function cacheFileName(name: string, key: string): string {
  return `${name}-${key}-${process.version}-${process.arch}.v8`;
}

/**
 * Compiles `source` (named `filename` in stack traces) with a cached copy of its bytecode when one is found
 * and accepted; otherwise compiles it plainly and remembers it for `saveCodeCaches()`.
 */
export function compileCached(source: string, filename: string, name: string, key: string, options: { refreshable?: boolean } = {}): Script {
  if (process.env.TSBPF_NO_CODE_CACHE) return new Script(source, { filename });
  const file = cacheFileName(name, key);
  const user = join(userCacheDir(), file);
  let cached: Buffer | undefined;
  let installed = false;
  for (const path of [user, join(installCacheDir(), file)]) {
    try {
      cached = readFileSync(path);
      installed = path !== user;
      if (!installed) markUsed(path);
      break;
    } catch {
      // not cached there
    }
  }
  const script = new Script(source, { filename, cachedData: cached });
  const entry = { data: () => script.createCachedData(), path: user };
  if (cached === undefined || script.cachedDataRejected === true) pending.push(entry);
  else if (installed && options.refreshable) refreshable.push(entry);
  return script;
}

/** Scripts compiled from the installation's cache that may be cached again for this user (refreshCodeCaches). */
const refreshable: Pending[] = [];

/**
 * Queues new caches, in the user's directory, of the scripts marked refreshable whose caches came from the
 * installation's. Those were made by the build's warm-up, which cannot do what a `tsbpf run` does (syscalls,
 * tracefs), so the functions a run needs were compiled lazily on every start: ~15 ms of a cached run. Call once
 * that work has run; they are written as saveCodeCaches() writes, and the user's copies are read first after.
 */
export function refreshCodeCaches(): void {
  if (!refreshable.length) return;
  pending.push(...refreshable.splice(0));
  saveCodeCaches();
}

const textFileName = (name: string, key: string): string => `${name}-${key}.js`;

/**
 * A script text derived from another file (`key` names that file's exact version), kept beside the code caches
 * because deriving it costs more than reading it; undefined when neither directory has it. Read as latin1, so the
 * text must be ASCII: Node keeps such a large string outside V8's heap, where a string built in JavaScript (a
 * concatenation, which V8 flattens to compile it) takes its size again in the old generation.
 */
export function readCachedText(name: string, key: string): string | undefined {
  if (process.env.TSBPF_NO_CODE_CACHE) return undefined;
  const file = textFileName(name, key);
  const user = join(userCacheDir(), file);
  for (const path of [user, join(installCacheDir(), file)]) {
    try {
      const text = readFileSync(path, "latin1");
      if (path === user) markUsed(path);
      return text;
    } catch {
      // not kept there
    }
  }
  return undefined;
}

/**
 * Keeps `text` (ASCII) for readCachedText(), written with the code caches. Texts of `name` kept for other keys
 * (an older TypeScript's, 9 MB each) are removed from the directory it is written to.
 */
export function saveCachedText(name: string, key: string, text: string): void {
  if (process.env.TSBPF_NO_CODE_CACHE) return;
  const file = textFileName(name, key);
  const replaces = (other: string) => other !== file && other.startsWith(`${name}-`) && other.endsWith(".js");
  pending.push({ data: () => text, path: join(userCacheDir(), file), replaces });
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

/** Writes every pending cache now, to its user-directory path or into `dir` (the installation's, never trimmed). */
export function writeCodeCaches(dir?: string): void {
  const written = pending.splice(0);
  for (const { data, path, replaces } of written) {
    const target = dir ? join(dir, path.slice(dirname(path).length + 1)) : path;
    if (replaces) removeFiles(dirname(target), replaces);
    writeCache(target, data());
  }
  if (written.length && !dir) trimIfDue(userCacheDir());
}

function removeFiles(dir: string, which: (file: string) => boolean): void {
  try {
    for (const file of readdirSync(dir)) if (which(file)) rmSync(join(dir, file), { force: true });
  } catch {
    // no directory yet, or not ours to clean
  }
}

/**
 * mkdir -p, for cache directories. Node's recursive mkdirSync never returns where a directory cannot be made under
 * a parent that exists (ENOENT from a pseudo-filesystem such as /proc: it retries the parent, then the child,
 * forever).
 */
export function makeDirectory(dir: string): void {
  if (existsSync(dir)) return;
  const parent = dirname(dir);
  if (parent !== dir) makeDirectory(parent);
  mkdirSync(dir);
}

function writeCache(path: string, data: Buffer | string): void {
  try {
    makeDirectory(dirname(path));
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch {
    // a read-only home or a full disk only costs speed
  }
}
