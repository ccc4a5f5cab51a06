// Cache upkeep (compiler/frontend/cache-upkeep.cts): a use refreshes an entry, a trim removes tsbpf's entries unused
// for five days and nothing else, at most once a day; the names tsbpf writes are the ones a trim recognizes.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { TRIM_MARK, isCacheEntry, markUsed, trimIfDue } from "../../compiler/frontend/cache-upkeep.cjs";
import { cacheFileName } from "../../compiler/frontend/code-cache.cjs";
import { objectKey, objectPath, readCached, storeCached } from "../../cli/cache.js";
import { compile } from "../../compiler/index.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DAY = 24 * 3600_000;
const NOW = Date.UTC(2026, 10, 24, 12);

function withDir(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-cache-upkeep-"));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes `name` in `dir` last modified `ageMs` before NOW. */
function plant(dir: string, name: string, ageMs: number): string {
  const path = join(dir, name);
  writeFileSync(path, "x");
  const t = (NOW - ageMs) / 1000;
  utimesSync(path, t, t);
  return path;
}

const key = objectKey("probe.ts", "tracepoint(...)");
const ENTRIES = [
  basename(objectPath("/c", key)),
  basename(objectPath("/c", `${key}-llvm-0badf00d`)),
  `${key}.btf.json`,
  cacheFileName("typescript-trimmed", "aea08a19-9144216-1795508075463"),
  cacheFileName("bundle-run", "a3242ba6-521306"),
  "typescript-trimmed-aea08a19-9144216-1795508075463.js",
  `${basename(objectPath("/c", key))}.4242.tmp`,
];

test("the names tsbpf writes into its cache directories are entries a trim may remove; other files are not", () => {
  for (const name of ENTRIES) assert.ok(isCacheEntry(name), name);
  for (const name of [TRIM_MARK, "notes.txt", "probe.ts", "x.bpf.o", "index.js", "other-v20.1.0-x64.v8.bak", `${key}.bpf.o.old`]) assert.equal(isCacheEntry(name), false, name);
  // What the build put in the installation's cache has the same names as what a run writes to the user's.
  const installed = join(ROOT, "dist/.cache");
  if (existsSync(installed)) for (const name of readdirSync(installed)) assert.ok(isCacheEntry(name), `dist/.cache/${name}`);
});

test("a trim removes tsbpf's entries unused for five days, keeps newer ones and every other file, and marks the time", () => {
  withDir((dir) => {
    const stale = ENTRIES.map((name) => plant(dir, name, 6 * DAY));
    const recent = plant(dir, `${"f".repeat(32)}.bpf.o`, 4 * DAY);
    const foreign = plant(dir, "notes.txt", 60 * DAY);
    assert.equal(trimIfDue(dir, NOW), stale.length);
    assert.deepEqual(readdirSync(dir).sort(), [basename(recent), "notes.txt", TRIM_MARK].sort());
    assert.ok(existsSync(foreign));
    assert.equal(Number(readFileSync(join(dir, TRIM_MARK), "latin1")), NOW);
  });
});

test("a directory is trimmed at most once a day; a mark in the future does not stop trims", () => {
  withDir((dir) => {
    trimIfDue(dir, NOW);
    const stale = plant(dir, ENTRIES[0]!, 6 * DAY);
    assert.equal(trimIfDue(dir, NOW + DAY - 60_000), 0, "within a day of the last trim");
    assert.ok(existsSync(stale));
    assert.equal(trimIfDue(dir, NOW + DAY + 60_000), 1, "a day later");
    writeFileSync(join(dir, TRIM_MARK), String(NOW + 30 * DAY));
    plant(dir, ENTRIES[0]!, 6 * DAY);
    assert.equal(trimIfDue(dir, NOW), 1, "a mark from a clock that ran ahead");
    assert.equal(trimIfDue("/proc/tsbpf-no-such-dir", NOW), 0);
  });
});

test("a use moves an entry's mtime to now when it is over an hour old, and leaves a fresher one alone", () => {
  withDir((dir) => {
    const old = plant(dir, ENTRIES[0]!, 6 * DAY);
    const fresh = plant(dir, ENTRIES[1]!, 30 * 60_000);
    markUsed(old, NOW);
    markUsed(fresh, NOW);
    assert.equal(statSync(old).mtimeMs, NOW);
    assert.equal(statSync(fresh).mtimeMs, NOW - 30 * 60_000);
    markUsed(join(dir, "missing"), NOW); // returns
    assert.equal(trimIfDue(dir, NOW + 4 * DAY), 0, "the used entry is kept");
  });
});

// That a run compiling into the directory trims it at exit is checked by the e2e run tests.
test("a cached object read by a run counts as a use", () => {
  withDir((dir) => {
    const { object } = compile(join(ROOT, "examples/unlink.ts"));
    const path = objectPath(dir, key);
    storeCached(dir, key, object);
    const t = (Date.now() - 6 * DAY) / 1000;
    utimesSync(path, t, t);
    assert.ok(readCached(dir, key));
    assert.ok(Date.now() - statSync(path).mtimeMs < 60_000, "the hit refreshed the entry");
  });
});
