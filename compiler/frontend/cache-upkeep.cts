// Keeping tsbpf's cache directories from growing without bound. Every probe compiled once leaves its object there,
// and every TypeScript install or tsbpf build leaves code caches that no later run reads (~3 MB each): a machine
// that had run tsbpf for a month held 1,200 entries, 237 MB. As Go's build cache does, a use of an entry refreshes
// its mtime (at most hourly, so a cached start pays a stat and rarely a utimes), and at most once a day a process
// that wrote to a directory removes the entries nobody used for five days (tsbpf's own names only: a cache
// directory set by TSBPF_CACHE_DIR may hold other files).
// This module is on every command's start-up path (code-cache.cts imports it): node builtins only.

import { readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const HOUR_MS = 3_600_000;
/** An entry unused this long is removed by the next trim. */
export const UNUSED_MS = 5 * 24 * HOUR_MS;
/** How often a directory is trimmed at most. */
export const TRIM_EVERY_MS = 24 * HOUR_MS;
/** A use moves an entry's mtime forward only when it is older than this. */
const REFRESH_MS = HOUR_MS;
/** Holds the time of a directory's last trim. */
export const TRIM_MARK = "trim.txt";

/**
 * tsbpf's entries: compiled objects (`<key>.bpf.o`, `<key>-llvm-<toolchain>.bpf.o`) and their BTF lookups
 * (`<key>.btf.json`), V8 code caches (`<name>-<key>-<node version>-<arch>.v8`), TypeScript's cut text
 * (`typescript-<name>-<key>.js`), and the temporary file of any of them that a killed process left (`.<pid>.tmp`).
 */
const ENTRY = /^(?:[0-9a-f]{32}(?:-[a-z]+-[0-9a-z]+)?\.(?:bpf\.o|btf\.json)|(?:typescript|bundle)-[\w-]+-v\d+\.\d+\.\d+-\w+\.v8|typescript-[a-z]+-[0-9a-f]{8}-\d+-\d+\.js)(?:\.\d+\.tmp)?$/;

/** Whether a file name is one of tsbpf's cache entries (which a trim may remove). */
export const isCacheEntry = (name: string): boolean => ENTRY.test(name);

/** Records a use of the entry at `path` (read from the cache): a trim keeps it for five more days. */
export function markUsed(path: string, now = Date.now()): void {
  try {
    const s = statSync(path, { throwIfNoEntry: false });
    if (s && now - s.mtimeMs > REFRESH_MS) utimesSync(path, now / 1000, now / 1000);
  } catch {
    // another user's cache, or a read-only one: kept or trimmed by its owner
  }
}

/**
 * Removes the entries of `dir` unused for five days, when it was not trimmed in the last day (the time is kept in
 * trim.txt, written first, so that parallel processes rarely walk the directory together); gives how many it removed.
 */
export function trimIfDue(dir: string, now = Date.now()): number {
  try {
    const last = Number(readFileSync(join(dir, TRIM_MARK), "latin1"));
    // A mark in the future (a clock set back) does not stop trims for good.
    if (last > now - TRIM_EVERY_MS && last <= now + HOUR_MS) return 0;
  } catch {
    // never trimmed
  }
  let removed = 0;
  try {
    writeFileSync(join(dir, TRIM_MARK), String(now));
    for (const name of readdirSync(dir)) {
      if (!isCacheEntry(name)) continue;
      const path = join(dir, name);
      try {
        const s = statSync(path, { throwIfNoEntry: false });
        if (s?.isFile() && now - s.mtimeMs > UNUSED_MS) {
          rmSync(path, { force: true });
          removed++;
        }
      } catch {
        // not ours to remove
      }
    }
  } catch {
    // no directory, or not writable: nothing to trim here
  }
  return removed;
}
