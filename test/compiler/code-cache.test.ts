// The start-up caches (compiler/frontend/code-cache.cts, load-typescript.ts): a code cache written for a script is
// accepted by the next compile of it, derived texts come back as written, and TypeScript loads from its
// pre-wrapped copy once a first load has kept it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compileCached, readCachedText, saveCachedText, writeCodeCaches } from "../../compiler/frontend/code-cache.cjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function withCacheDir(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-code-cache-test-"));
  const before = process.env.TSBPF_CACHE_DIR;
  process.env.TSBPF_CACHE_DIR = dir;
  try {
    body(dir);
  } finally {
    if (before === undefined) delete process.env.TSBPF_CACHE_DIR;
    else process.env.TSBPF_CACHE_DIR = before;
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a script's code cache is written after it ran and accepted by the next compile", () => {
  withCacheDir((dir) => {
    const source = "(function () { return function twice(x) { return 2 * x; }; })";
    const first = compileCached(source, "twice.js", "twice", "k1");
    assert.equal((first.runInThisContext() as () => (x: number) => number)()(21), 42);
    writeCodeCaches();
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith("twice-k1-")).length, 1);
    const second = compileCached(source, "twice.js", "twice", "k1");
    assert.equal(second.cachedDataRejected, false);
    assert.equal((second.runInThisContext() as () => (x: number) => number)()(4), 8);
  });
});

test("a kept text comes back as written; one never kept is undefined", () => {
  withCacheDir(() => {
    assert.equal(readCachedText("derived", "k2"), undefined);
    const text = "x".repeat(2 << 20) + "\n// end\n";
    saveCachedText("derived", "k2", text);
    writeCodeCaches();
    assert.equal(readCachedText("derived", "k2"), text);
    assert.equal(readCachedText("derived", "other"), undefined);
  });
});

test("keeping a text for a new key removes the one kept for the old key, and nothing else", () => {
  withCacheDir((dir) => {
    saveCachedText("derived", "old", "old text\n");
    saveCachedText("unrelated", "k", "other text\n");
    writeCodeCaches();
    saveCachedText("derived", "new", "new text\n");
    writeCodeCaches();
    assert.deepEqual(readdirSync(dir).sort(), ["derived-new.js", "trim.txt", "unrelated-k.js"], "and the trim's mark (cache-upkeep.cts)");
    assert.equal(readCachedText("derived", "new"), "new text\n");
  });
});

test("TypeScript loads from its cut copy once a first load has kept it, and whole when asked", () => {
  withCacheDir((dir) => {
    const load = (options: string) =>
      spawnSync(process.execPath, ["--import", "tsx", "-e", `import("./compiler/frontend/load-typescript.ts").then((m) => { const { ts, trimmed } = m.loadTypescript(${options}); console.log(ts.version, trimmed, typeof ts.createProgram); m.saveCodeCache(); })`], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, TSBPF_CACHE_DIR: dir },
      });
    const version = (JSON.parse(readFileSync(join(ROOT, "node_modules/typescript/package.json"), "utf8")) as { version: string }).version;
    const first = load("");
    assert.equal(first.stdout.trim(), `${version} true function`, first.stderr);
    const kept = readdirSync(dir).filter((f) => f.startsWith("typescript-trimmed-"));
    assert.ok(kept.some((f) => f.endsWith(".js")), `the cut text is kept (${kept.join(", ")})`);
    assert.ok(kept.some((f) => f.endsWith(".v8")), `the code cache is kept (${kept.join(", ")})`);
    const wrapped = readFileSync(join(dir, kept.find((f) => f.endsWith(".js"))!), "latin1");
    assert.ok(wrapped.startsWith("(function (exports, require, module, __filename, __dirname) { /* typescript.js trimmed by tsbpf */"));
    const second = load("");
    assert.equal(second.stdout.trim(), `${version} true function`, second.stderr);
    const whole = load("{ whole: true }");
    assert.equal(whole.stdout.trim(), `${version} false function`, whole.stderr);
    assert.ok(readdirSync(dir).some((f) => f.startsWith("typescript-wrapped-") && f.endsWith(".js")), "the whole text is kept under its own name");
  });
});

test("a cache directory that cannot be made (under /proc) costs nothing: the write gives up and returns", () => {
  const script = [
    'const { saveCachedText, writeCodeCaches } = await import("./compiler/frontend/code-cache.cts");',
    'saveCachedText("derived", "k", "text\\n");',
    "writeCodeCaches();",
    'console.log("returned");',
  ].join("\n");
  const child = spawnSync(process.execPath, ["--input-type=module", "--import", "tsx", "-e", script], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 20_000,
    env: { ...process.env, TSBPF_CACHE_DIR: "/proc/tsbpf-no-such-dir" },
  });
  assert.equal(child.status, 0, child.stderr || "the write did not return");
  assert.match(child.stdout, /returned/);
});
