// The cut TypeScript (compiler/frontend/trim-typescript.ts): what it drops and keeps, and that a compile
// through it gives what the whole module gives.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { Module, createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { trimTypescript } from "../../compiler/frontend/trim-typescript.js";
import { fnv1a } from "../../compiler/frontend/load-typescript.js";

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const source = readFileSync(require.resolve("typescript"), "latin1");

/** Runs a CommonJS text as a module and gives its exports. */
function load(text: string): Record<string, unknown> {
  const module = { exports: {} as Record<string, unknown> };
  const file = require.resolve("typescript");
  new Function("exports", "require", "module", "__filename", "__dirname", text)(module.exports, require, module, file, dirname(file));
  return module.exports;
}

test("the installed typescript.js is cut: no language service or emit transforms, the checker and services.ts's node methods kept", () => {
  const cut = trimTypescript(source);
  assert.ok(cut !== undefined, "typescript.js is laid out as trim-typescript.ts expects");
  assert.ok(cut.length < source.length * 0.7, `${cut.length} of ${source.length} characters kept`);
  for (const dropped of ["src/services/completions.ts", "src/server/session.ts", "src/compiler/transformers/es2015.ts", "src/compiler/tsbuildPublic.ts"]) assert.ok(!cut.includes(`\n// ${dropped}\n`), dropped);
  for (const kept of ["src/compiler/checker.ts", "src/compiler/emitter.ts", "src/services/services.ts", "src/compiler/transformers/utilities.ts"]) assert.ok(cut.includes(`\n// ${kept}\n`), kept);
});

test("the cut module gives what the checker needs, with its exports read lazily", () => {
  const ts = load(trimTypescript(source)!) as unknown as typeof import("typescript");
  const whole = require("typescript") as typeof import("typescript");
  assert.equal(ts.version, whole.version);
  assert.equal("createProgram" in ts, true);
  assert.equal("noSuchExport" in ts, false);
  assert.equal((ts as unknown as Record<string, unknown>).noSuchExport, undefined);
  const file = ts.createSourceFile("x.ts", "const a: number = 'x';\nexport const b = a;", ts.ScriptTarget.ES2022, true);
  assert.equal(file.statements[0]!.getStart(file), 0, "parsed nodes have services.ts's methods");
  const host = ts.createCompilerHost({});
  const program = ts.createProgram({ rootNames: ["x.ts"], options: { noLib: true, noEmit: true }, host: { ...host, getSourceFile: (n) => (n === "x.ts" ? file : undefined), fileExists: (n) => n === "x.ts" } });
  const messages = program.getSemanticDiagnostics(file).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  assert.ok(messages.some((m) => /Type 'string' is not assignable to type 'number'/.test(m)), messages.join("; "));
});

test("a typescript.js laid out otherwise is not cut", () => {
  assert.equal(trimTypescript("module.exports = {};\n"), undefined);
  assert.equal(trimTypescript(source.replace("// src/compiler/checker.ts\n", "// checker\n")), undefined);
  assert.equal(trimTypescript(source.replace("__export(typescript_exports, {", "__export(exports2, {")), undefined);
});

test("a compile that throws inside the cut module is run again with the whole one", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-trim-"));
  try {
    // A stand-in for the cut module, found where the real one is kept: TypeScript whose createProgram throws.
    const file = require.resolve("typescript");
    const stat = statSync(file);
    const key = `${fnv1a(file)}-${stat.size}-${Math.round(stat.mtimeMs)}`;
    const broken = 'const ts = require("typescript"); module.exports = new Proxy(ts, { get: (t, n) => (n === "createProgram" ? () => undefined.check() : t[n]) });';
    writeFileSync(join(dir, `typescript-trimmed-${key}.js`), Module.wrap("/* typescript.js trimmed by tsbpf */" + broken), "latin1");
    const script = 'import("./compiler/index.ts").then(({ compile }) => { const r = compile("examples/unlink-uprobe.ts"); console.log(r.diagnostics.length, r.object.length > 0); });';
    const child = spawnSync(process.execPath, ["--import", "tsx", "-e", script], { cwd: ROOT, encoding: "utf8", env: { ...process.env, TSBPF_CACHE_DIR: dir } });
    assert.equal(child.stdout.trim(), "0 true", child.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
