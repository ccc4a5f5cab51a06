// The start-up bundle (cli/bundle-build.ts, cli/bundle.cts): modules rewritten into factories must
// behave as the ES modules they came from (every import and export form tsc emits, import(), import.meta),
// the builder must refuse what the rewrite cannot keep exact, and a stale bundle must not be used.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { BundleError, buildBundle } from "../../cli/bundle-build.js";
import { bundleKey, openBundle } from "../../cli/bundle.cjs";

process.env.TSBPF_NO_CODE_CACHE = "1";

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "tsbpf-bundle-test-"));
  writeFileSync(join(root, "package.json"), '{ "type": "module" }\n');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const MODULES: Record<string, string> = {
  "a/main.js": [
    'import { readFileSync } from "node:fs";',
    'import path from "node:path";',
    'import * as lib from "../lib/index.js";',
    'import def, { twice as double, Counter } from "../lib/util.js";',
    'import {} from "../lib/types.js";',
    'import "../lib/effect.js";',
    "export const kind = typeof readFileSync;",
    'export const joined = path.join("x", "y");',
    "export function run() {",
    "  const c = new Counter();",
    "  c.add(double(2));",
    '  return { def: def(), count: c.value, star: lib.twice(5), renamed: lib.thrice(1), ns: typeof lib.util, effect: globalThis.__tsbpfEffect, meta: import.meta.url.endsWith("/a/main.js"), constant: lib.LIMIT };',
    "}",
    "export async function later() {",
    '  const m = await import("../lib/late.js");',
    "  return m.late();",
    "}",
    "export async function lazier() {",
    '  return (await import("../lib/lazy.js")).lazy;',
    "}",
    "export default class Main {}",
    "export { run as start };",
  ].join("\n"),
  "lib/index.js": ['export * from "./util.js";', 'export { twice as thrice } from "./util.js";', 'export * as util from "./util.js";', "export const LIMIT = 7;"].join("\n"),
  "lib/util.js": [
    "export function twice(x) { return 2 * x; }",
    "export class Counter { value = 0; add(n) { this.value += n; } }",
    "export default function () { return \"default\"; }",
  ].join("\n"),
  "lib/types.js": "export {};\n",
  "lib/effect.js": "globalThis.__tsbpfEffect = (globalThis.__tsbpfEffect ?? 0) + 1;\n",
  "lib/late.js": 'import { twice } from "./util.js";\nexport const late = () => twice(21);\n',
  "lib/lazy.js": "export const lazy = 3;\n",
};

test("bundled modules behave as the ES modules they came from", async () => {
  const root = tree(MODULES);
  try {
    const manifest = buildBundle(root, [
      { name: "first", roots: ["a/main.js"] },
      { name: "second", roots: ["lib/late.js"] },
    ]);
    assert.equal(manifest.modules["a/main.js"]?.chunk, "first");
    assert.equal(manifest.modules["lib/late.js"]?.chunk, "second");
    // Reached only by an import() that names no chunk's root: its own chunk, loaded when that import runs.
    assert.equal(manifest.modules["lib/lazy.js"]?.chunk, "lazy");
    const esm = (await import(pathToFileURL(join(root, "a/main.js")).href)) as Record<string, (() => unknown) | unknown>;
    const expected = { ...((esm.run as () => object)()), later: await (esm.later as () => Promise<number>)() };
    delete (globalThis as Record<string, unknown>).__tsbpfEffect;
    const bundle = openBundle(root);
    assert.ok(bundle, "the bundle opens");
    // What the object cache's key names instead of the compiler's files: every chunk's content key.
    assert.equal(bundleKey(), `first:${manifest.chunks.first!.key},lazy:${manifest.chunks.lazy!.key},second:${manifest.chunks.second!.key}`);
    const m = bundle.require("a/main.js");
    const got = { ...((m.run as () => object)()), later: await (m.later as () => Promise<number>)() };
    assert.deepEqual(got, expected);
    assert.deepEqual(got, { def: "default", count: 4, star: 10, renamed: 2, ns: "object", effect: 1, meta: true, constant: 7, later: 42 });
    assert.equal(m.kind, "function");
    assert.equal(m.joined, join("x", "y"));
    assert.equal(m.start, m.run);
    assert.equal(await (m.lazier as () => Promise<number>)(), 3);
    assert.equal(typeof m.default, "function");
    // One instance per module: the dynamically imported module shares util.js with the static importers.
    assert.equal(bundle.require("lib/index.js").twice, bundle.require("lib/util.js").twice);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a shared chunk holds what the chunks it names all import, and they keep only their own", async () => {
  const root = tree(MODULES);
  try {
    const manifest = buildBundle(root, [
      { name: "common", roots: [], shared: ["first", "second"] },
      { name: "first", roots: ["a/main.js"] },
      { name: "second", roots: ["lib/late.js"] },
    ]);
    const chunkOf = (chunk: string) => Object.keys(manifest.modules).filter((id) => manifest.modules[id]!.chunk === chunk).sort();
    assert.deepEqual(chunkOf("common"), ["lib/util.js"]);
    assert.deepEqual(chunkOf("first"), ["a/main.js", "lib/effect.js", "lib/index.js", "lib/types.js"]);
    assert.deepEqual(chunkOf("second"), ["lib/late.js"]);
    delete (globalThis as Record<string, unknown>).__tsbpfEffect;
    const bundle = openBundle(root)!;
    const m = bundle.require("a/main.js");
    assert.deepEqual({ ...((m.run as () => object)()), later: await (m.later as () => Promise<number>)() }, { def: "default", count: 4, star: 10, renamed: 2, ns: "object", effect: 1, meta: true, constant: 7, later: 42 });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a bundle whose source files changed is not used", () => {
  const root = tree(MODULES);
  try {
    buildBundle(root, [{ name: "all", roots: ["a/main.js"] }]);
    assert.ok(openBundle(root));
    utimesSync(join(root, "lib/util.js"), new Date(), new Date(Date.now() + 5000));
    assert.equal(openBundle(root), undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("the builder refuses what the rewrite cannot keep exact", () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ["a rebindable export", { "m.js": "export let x = 1;\nexport function bump() { x++; }\n" }, /let\/var/],
    ["an import cycle", { "m.js": 'import { b } from "./n.js";\nexport const a = 1;\n', "n.js": 'import { a } from "./m.js";\nexport const b = 2;\n' }, /cycle/],
    ["top-level await", { "m.js": "export const x = await Promise.resolve(1);\n" }, /top-level await/],
  ];
  for (const [what, files, message] of cases) {
    const root = tree(files);
    try {
      assert.throws(() => buildBundle(root, [{ name: "all", roots: ["m.js"] }]), (e: unknown) => e instanceof BundleError && message.test(e.message), what);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
});

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DIST = join(ROOT, "dist");

test(
  "the installed command starts from the build's bundle without Node's ES module loader, and without a bundle from ES modules",
  { skip: openBundle(DIST) ? false : "needs a fresh build in dist/ (npm run build)" },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-entry-test-"));
    try {
      // Names the ES module loader's parts that this process loaded, once it exits.
      const probe = join(dir, "loaded.cjs");
      writeFileSync(probe, 'process.on("exit", () => require("fs").writeSync(2, "\\nloaded: " + process.moduleLoadList.filter((m) => m.includes("/esm/")).join(" ") + "\\n"));\n');
      const start = (env: Record<string, string>) =>
        spawnSync(process.execPath, ["--require", probe, join(DIST, "cli/tsbpf.cjs"), "compile", "examples/unlink.ts", "--emit", "asm"], {
          cwd: ROOT,
          encoding: "utf8",
          env: { ...process.env, TSBPF_CACHE_DIR: dir, ...env },
        });
      const loaded = (stderr: string) => /loaded: (.*)/.exec(stderr)?.[1] ?? "";
      const bundled = start({});
      assert.equal(bundled.status, 0, bundled.stderr);
      assert.match(bundled.stdout, /kprobe\/do_unlinkat/);
      assert.doesNotMatch(loaded(bundled.stderr), /esm\/(module_job|translators)/);
      const plain = start({ TSBPF_NO_BUNDLE: "1" });
      assert.equal(plain.status, 0, plain.stderr);
      assert.equal(plain.stdout, bundled.stdout);
      assert.match(loaded(plain.stderr), /esm\/module_job/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "a tsbpf run that started from the installation's code caches leaves the user caches that hold what it compiled, once",
  { skip: !openBundle(DIST) ? "needs a fresh build in dist/ (npm run build)" : process.getuid?.() !== 0 ? "needs root (tsbpf run loads a program)" : false },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-refresh-test-"));
    try {
      const run = () =>
        spawnSync(process.execPath, [join(DIST, "cli/tsbpf.cjs"), "run", "examples/unlink-tracepoint.ts", "--duration", "0.2"], {
          cwd: ROOT,
          encoding: "utf8",
          // This file turns code caches off for its own process; the runs here are about them.
          env: { ...process.env, TSBPF_NO_CODE_CACHE: "", TSBPF_CACHE_DIR: dir },
        });
      const first = run();
      assert.equal(first.status, 0, first.stderr);
      const written = readdirSync(dir).sort();
      assert.ok(written.some((f) => f.startsWith("bundle-base-")) && written.some((f) => f.startsWith("bundle-run-")), written.join(", "));
      const times = written.map((f) => statSync(join(dir, f)).mtimeMs);
      const second = run();
      assert.equal(second.status, 0, second.stderr);
      assert.deepEqual(readdirSync(dir).sort(), written, "the second run writes no other cache");
      assert.deepEqual(written.map((f) => statSync(join(dir, f)).mtimeMs), times, "nor the same ones again");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
