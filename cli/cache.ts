// The compiled-object cache of `tsbpf run`: an unchanged probe file loads its object without the compiler.
// Takes a probe file's path and text; gives a content-hash key, the cache directory, lookups and atomic stores.
// The key covers everything the object depends on: the source text and the path it is compiled under (line info
// names it), the compiler's own files and TypeScript's (by size and mtime, so a rebuild or upgrade misses), and
// the running kernel (tracepoint formats and BTF types come from it). This module must stay cheap to import:
// it is on the path that skips TypeScript.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir, release, version } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Bumped when the key's recipe or the file layout changes. */
const FORMAT = "tsbpf-object-cache-1";

/**
 * Where objects are cached: $XDG_CACHE_HOME/tsbpf when XDG_CACHE_HOME is set; otherwise node_modules/.cache/tsbpf
 * in the nearest directory above the probe file that has node_modules (as babel and eslint cache); otherwise
 * ~/.cache/tsbpf.
 */
export function cacheDir(probeFile: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "tsbpf");
  for (let dir = dirname(resolve(probeFile)); ; dir = dirname(dir)) {
    if (isDirectory(join(dir, "node_modules"))) return join(dir, "node_modules", ".cache", "tsbpf");
    if (dirname(dir) === dir) break;
  }
  return join(homedir(), ".cache", "tsbpf");
}

/** The cache key of an object compiled from `text` under the name `file` by this compiler on this kernel. */
export function objectKey(file: string, text: string | Uint8Array): string {
  return createHash("sha256").update(`${FORMAT}\0${compilerFingerprint()}\0${process.arch}\0${release()}\0${version()}\0${file}\0`).update(text).digest("hex").slice(0, 32);
}

export const objectPath = (dir: string, key: string): string => join(dir, `${key}.bpf.o`);

/** The cached object's bytes, or undefined on a miss (or an unreadable entry, which is then recompiled). */
export function readCached(dir: string, key: string): Uint8Array | undefined {
  try {
    return readFileSync(objectPath(dir, key));
  } catch {
    return undefined;
  }
}

/**
 * A temporary path in the cache directory for the compiler to write to, then `commit()` to move it into place
 * atomically (parallel runs never read half an object); undefined when the directory cannot be written.
 */
export function reserve(dir: string, key: string): { path: string; commit(): void; discard(): void } | undefined {
  try {
    mkdirSync(dir, { recursive: true });
  } catch {
    return undefined;
  }
  const path = `${objectPath(dir, key)}.${process.pid}.tmp`;
  try {
    writeFileSync(path, ""); // proves the directory is writable before the compiler runs
  } catch {
    return undefined;
  }
  return {
    path,
    commit: () => renameSync(path, objectPath(dir, key)),
    discard: () => {
      try {
        unlinkSync(path);
      } catch {
        // nothing was written
      }
    },
  };
}

let fingerprint: string | undefined;

/**
 * Identifies the compiler without loading it: the path, size and mtime of every file under compiler/ (built .js
 * or, under tsx, .ts) and of TypeScript's main file. Stats, not contents: ~1 ms instead of ~15 ms, and an edit
 * that keeps both size and mtime is not a real case.
 */
export function compilerFingerprint(): string {
  if (fingerprint) return fingerprint;
  const hash = createHash("sha256");
  const root = fileURLToPath(new URL("../compiler/", import.meta.url));
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(js|ts)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) statInto(hash, path);
    }
  };
  walk(root);
  try {
    statInto(hash, createRequire(import.meta.url).resolve("typescript"));
  } catch {
    hash.update("no typescript");
  }
  return (fingerprint = hash.digest("hex"));
}

function statInto(hash: ReturnType<typeof createHash>, path: string): void {
  const s = statSync(path);
  hash.update(`${path}\0${s.size}\0${s.mtimeMs}\n`);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
