// `node dist/cli/bundle-build.js [DIST]`: the bundle bundle.cts loads, and the V8 code caches
// every command starts from. Run by `npm run build` after tsc and at install time (package.json).
// Takes the built ES modules in dist/; writes dist/.bundle (the modules each command needs as one script of
// module factories per chunk, and a manifest of the files they came from) and dist/.cache (code caches for
// those scripts and for TypeScript, made by a warm-up compile in a child process, so a first run is as fast as
// later ones).
//
// Each module becomes a factory: `import { a as b } from "./x.js"` becomes `const { a: b } = require("./x.js")`,
// exported declarations assign `exports` once the module's body has run, `import()` and `import.meta` go
// through the registry. That is exact for what tsc emits here because the bundled modules import no
// module cyclically and export no `let`/`var` bindings (values are never rebound); the builder checks both and
// writes no bundle (plain ES modules are then loaded) when either fails, as when anything else is unexpected.

import { execFileSync } from "node:child_process";
import { isAscii } from "node:buffer";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import type * as TS from "typescript";
import { BUNDLE_FORMAT, PROVIDED, distRoot, openBundle, type Manifest } from "./bundle.cjs";
import { installCacheDir, writeCodeCaches } from "../compiler/frontend/code-cache.cjs";
import { fnv1a } from "../compiler/frontend/load-typescript.js";

/** A chunk: its roots' static imports not already in an earlier chunk, and (`shared`) what those chunks' roots all import. */
export interface ChunkSpec {
  name: string;
  roots: readonly string[];
  /** Names of later chunks: this chunk holds the modules every one of them imports (directly or not). */
  shared?: readonly string[];
}

/**
 * Chunks in load order. "base" holds the command line (cli.js) and what `run` and `compile` both need (the exit
 * codes, BTF, ELF, the instruction set), so that a compile does not load the loader and a cached run does not load
 * the compiler.
 */
export const CHUNKS: readonly ChunkSpec[] = [
  { name: "base", roots: ["cli/cli.js"], shared: ["run", "compile"] },
  { name: "run", roots: ["cli/exit-codes.js", "cli/commands/run.js", "cli/commands/load.js"] },
  { name: "compile", roots: ["cli/commands/compile.js"] },
  { name: "rest", roots: ["cli/commands/disasm.js", "cli/commands/exec.js", "cli/commands/btf.js", "cli/commands/verify.js"] },
  // Apart from "rest" so that listing probes does not load the verifier.
  { name: "list", roots: ["cli/commands/list.js"] },
  // The warm-up's fake kernel, apart so that no command loads it.
  { name: "fake", roots: ["runtime/sys/fake.js"] },
];

export class BundleError extends Error {}

interface ModuleInfo {
  id: string;
  text: string;
  file: TS.SourceFile;
  /** Relative static imports and re-exports, as module ids. */
  deps: string[];
  /** Relative string-literal `import()`s, as module ids. */
  dynamicDeps: string[];
}

/** Builds the bundle of the ES modules under `root` (ids are paths under it); returns the manifest written. */
export function buildBundle(root: string, chunks: readonly ChunkSpec[] = CHUNKS): Manifest {
  const ts = createRequire(import.meta.url)("typescript") as typeof TS;
  const infos = new Map<string, ModuleInfo>();
  const info = (id: string): ModuleInfo => {
    let m = infos.get(id);
    if (!m) {
      let text: string;
      try {
        text = readFileSync(join(root, id), "utf8");
      } catch {
        throw new BundleError(`cannot read ${id}`);
      }
      const file = ts.createSourceFile(id, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
      const deps: string[] = [];
      const dynamicDeps: string[] = [];
      for (const s of file.statements) {
        const spec = (ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) && s.moduleSpecifier && ts.isStringLiteral(s.moduleSpecifier) ? s.moduleSpecifier.text : undefined;
        if (spec?.startsWith(".")) deps.push(posix.join(posix.dirname(id), spec));
      }
      const visit = (node: TS.Node): void => {
        if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
          const arg = node.arguments[0];
          if (arg && ts.isStringLiteralLike(arg) && arg.text.startsWith(".")) dynamicDeps.push(posix.join(posix.dirname(id), arg.text));
        }
        ts.forEachChild(node, visit);
      };
      visit(file);
      m = { id, text, file, deps, dynamicDeps };
      infos.set(id, m);
    }
    return m;
  };

  // Assign modules to chunks by static imports; what only import() reaches goes to a last chunk, "lazy", loaded
  // when such an import runs (so that a rarely taken import() does not weigh on every start).
  const chunkOf = new Map<string, string>();
  /** Every module `roots` import, directly or not (not the provided ones). */
  const reached = (roots: readonly string[]): Set<string> => {
    const seen = new Set<string>();
    const stack = [...roots];
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id) || Object.hasOwn(PROVIDED, id)) continue;
      seen.add(id);
      stack.push(...info(id).deps);
    }
    return seen;
  };
  /** Puts in chunk `name` the modules of `ids` no earlier chunk holds. */
  const assign = (name: string, ids: Iterable<string>): void => {
    for (const id of ids) if (!chunkOf.has(id)) chunkOf.set(id, name);
  };
  for (const chunk of chunks) {
    assign(chunk.name, reached(chunk.roots));
    if (!chunk.shared) continue;
    const sets = chunk.shared.map((name) => reached(chunks.find((c) => c.name === name)?.roots ?? []));
    // Closed under imports: what every set holds, its imports are in every set too.
    assign(chunk.name, [...(sets[0] ?? [])].filter((id) => sets.every((set) => set.has(id))));
  }
  const lazy = { name: "lazy", roots: [] as string[] };
  for (let more = true; more; ) {
    const dynamic = [...chunkOf.keys()].flatMap((id) => info(id).dynamicDeps).filter((d) => !chunkOf.has(d));
    assign(lazy.name, reached(dynamic));
    lazy.roots.push(...dynamic);
    more = dynamic.length > 0;
  }
  if (lazy.roots.length) chunks = [...chunks, lazy];
  for (const id of Object.keys(PROVIDED)) {
    if (existsSync(join(root, id)) && info(id).deps.some((d) => !Object.hasOwn(PROVIDED, d))) throw new BundleError(`${id} is provided to the bundle but imports tsbpf modules it does not provide`);
  }
  checkAcyclic(new Map([...infos].filter(([id]) => chunkOf.has(id))));

  const manifest: Manifest = { format: BUNDLE_FORMAT, modules: {}, chunks: {} };
  const outDir = join(root, ".bundle");
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  for (const chunk of chunks) {
    const ids = [...chunkOf].filter(([, c]) => c === chunk.name).map(([id]) => id).sort();
    const parts = ["(function (define) {\n"];
    for (const id of ids) parts.push(`define(${JSON.stringify(id)}, function (__tsbpf_require, __tsbpf_import, __tsbpf_exports, __tsbpf_meta) {\n"use strict";\n${rewrite(ts, info(id))}\n});\n`);
    parts.push("})\n");
    // Every character outside ASCII (in comments, mostly) as a \u escape, which means the same in strings, templates,
    // regular expressions and identifiers (not after a backslash: left as it is): an ASCII chunk is read as latin1,
    // ~3 ms sooner at each start than UTF-8.
    const text = parts.join("").replace(/(?<!\\)[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    const file = `${chunk.name}.js`;
    writeFileSync(join(outDir, file), text);
    manifest.chunks[chunk.name] = { file, key: `${fnv1a(text)}-${text.length}`, ascii: isAscii(Buffer.from(text)) };
    for (const id of ids) {
      const s = statSync(join(root, id));
      manifest.modules[id] = { chunk: chunk.name, size: s.size, mtimeMs: s.mtimeMs };
    }
  }
  writeFileSync(join(outDir, "manifest.json"), `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}

function checkAcyclic(infos: Map<string, ModuleInfo>): void {
  const state = new Map<string, 1 | 2>();
  const path: string[] = [];
  const visit = (id: string): void => {
    state.set(id, 1);
    path.push(id);
    for (const d of infos.get(id)?.deps ?? []) {
      if (!infos.has(d)) continue; // provided by the loader
      if (state.get(d) === 1) throw new BundleError(`import cycle: ${[...path.slice(path.indexOf(d)), d].join(" -> ")}`);
      if (!state.has(d)) visit(d);
    }
    path.pop();
    state.set(id, 2);
  };
  for (const id of infos.keys()) if (!state.has(id)) visit(id);
}

/** A module's text as a factory body: imports from `__tsbpf_require`, exports assigned at the end. */
export function rewrite(ts: typeof TS, m: ModuleInfo): string {
  const { file, text, id } = m;
  const edits: { start: number; end: number; text: string }[] = [];
  const tail: string[] = [];
  let n = 0;
  const fail = (node: TS.Node, what: string): never => {
    const { line } = file.getLineAndCharacterOfPosition(node.getStart(file));
    throw new BundleError(`${id}:${line + 1}: ${what}`);
  };
  /** A relative specifier as the module id it names, "/"-prefixed (bundle.cts): resolved here, not at every start. */
  const target = (spec: string) => (spec.startsWith(".") ? `/${posix.join(posix.dirname(id), spec)}` : spec);
  const req = (spec: string) => `__tsbpf_require(${JSON.stringify(target(spec))})`;
  const exportName = (name: string, local: string) => tail.push(`__tsbpf_exports[${JSON.stringify(name)}] = ${local};`);
  const dropModifiers = (node: TS.Node & { modifiers?: TS.NodeArray<TS.ModifierLike> }) => {
    for (const mod of node.modifiers ?? []) {
      if (mod.kind === ts.SyntaxKind.ExportKeyword || mod.kind === ts.SyntaxKind.DefaultKeyword) edits.push({ start: mod.getStart(file), end: mod.end, text: "" });
    }
  };
  for (const s of file.statements) {
    const replace = (code: string) => edits.push({ start: s.getStart(file), end: s.end, text: code });
    if (ts.isImportDeclaration(s)) {
      const spec = (s.moduleSpecifier as TS.StringLiteral).text;
      const clause = s.importClause;
      if (!clause) {
        replace(`${req(spec)};`);
        continue;
      }
      if (clause.isTypeOnly) fail(s, "type-only import in emitted code");
      const local = spec.startsWith(".");
      const v = `__tsbpf_m${n++}`;
      const lines = [`const ${v} = ${req(spec)};`];
      // A default import of a CommonJS or built-in module is its module.exports; of one of ours, its `default`.
      if (clause.name) lines.push(`const ${clause.name.text} = ${local ? `${v}.default` : v};`);
      const bindings = clause.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) lines.push(`const ${bindings.name.text} = ${v};`);
      else if (bindings && bindings.elements.length) {
        const parts = bindings.elements.map((e) => {
          if (e.isTypeOnly) fail(e, "type-only import specifier in emitted code");
          const imported = (e.propertyName ?? e.name).text;
          return imported === e.name.text ? imported : `${JSON.stringify(imported)}: ${e.name.text}`;
        });
        lines.push(`const { ${parts.join(", ")} } = ${v};`);
      }
      replace(lines.join(" "));
    } else if (ts.isExportDeclaration(s)) {
      if (s.isTypeOnly) fail(s, "type-only export in emitted code");
      const spec = s.moduleSpecifier && ts.isStringLiteral(s.moduleSpecifier) ? s.moduleSpecifier.text : undefined;
      const clause = s.exportClause;
      if (spec === undefined) {
        if (!clause || !ts.isNamedExports(clause)) fail(s, "unexpected export form");
        for (const e of (clause as TS.NamedExports).elements) exportName(e.name.text, (e.propertyName ?? e.name).text);
        replace("");
        continue;
      }
      const v = `__tsbpf_m${n++}`;
      replace(`const ${v} = ${req(spec)};`);
      if (!clause) tail.push(`for (const k of Object.keys(${v})) if (k !== "default" && !Object.hasOwn(__tsbpf_exports, k)) __tsbpf_exports[k] = ${v}[k];`);
      else if (ts.isNamespaceExport(clause)) exportName(clause.name.text, v);
      else for (const e of clause.elements) exportName(e.name.text, `${v}[${JSON.stringify((e.propertyName ?? e.name).text)}]`);
    } else if (ts.isExportAssignment(s)) {
      if (s.isExportEquals) fail(s, "export = in an ES module");
      replace(`const __tsbpf_default = ${text.slice(s.expression.getStart(file), s.expression.end)};`);
      exportName("default", "__tsbpf_default");
    } else if (ts.canHaveModifiers(s) && ts.getModifiers(s)?.some((mod) => mod.kind === ts.SyntaxKind.ExportKeyword)) {
      const isDefault = ts.getModifiers(s)!.some((mod) => mod.kind === ts.SyntaxKind.DefaultKeyword);
      if (ts.isVariableStatement(s)) {
        if (!(s.declarationList.flags & ts.NodeFlags.Const)) fail(s, "exported let/var (rebindable exports are not bundled)");
        for (const d of s.declarationList.declarations) {
          if (!ts.isIdentifier(d.name)) fail(d, "destructuring export");
          exportName((d.name as TS.Identifier).text, (d.name as TS.Identifier).text);
        }
        dropModifiers(s);
      } else if (ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s)) {
        if (!s.name) {
          if (!isDefault) fail(s, "unnamed export");
          // `export default function () {}`: named so that the tail can export it.
          const keyword = s.getChildren(file).find((c) => c.kind === ts.SyntaxKind.FunctionKeyword || c.kind === ts.SyntaxKind.ClassKeyword)!;
          const star = ts.isFunctionDeclaration(s) && s.asteriskToken ? s.asteriskToken.end : keyword.end;
          edits.push({ start: star, end: star, text: " __tsbpf_default" });
          exportName("default", "__tsbpf_default");
        } else exportName(isDefault ? "default" : s.name.text, s.name.text);
        dropModifiers(s);
      } else fail(s, `unexpected exported ${ts.SyntaxKind[s.kind]}`);
    }
  }
  // import() and import.meta anywhere; top-level await cannot be wrapped in a function.
  const visit = (node: TS.Node, inFunction: boolean): void => {
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      edits.push({ start: node.expression.getStart(file), end: node.expression.end, text: "__tsbpf_import" });
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteralLike(arg) && arg.text.startsWith(".")) edits.push({ start: arg.getStart(file), end: arg.end, text: JSON.stringify(target(arg.text)) });
    } else if (ts.isMetaProperty(node) && node.keywordToken === ts.SyntaxKind.ImportKeyword) {
      edits.push({ start: node.getStart(file), end: node.end, text: "__tsbpf_meta" });
      return;
    } else if (!inFunction && (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier))) {
      fail(node, "top-level await");
    }
    const fn = inFunction || ts.isFunctionLike(node) || ts.isClassStaticBlockDeclaration(node);
    ts.forEachChild(node, (c) => visit(c, fn));
  };
  for (const s of file.statements) visit(s, false);
  edits.sort((a, b) => b.start - a.start);
  let out = text;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  // The source map comment would point stack traces at the wrong lines; the factory keeps the module's lines.
  out = out.replace(/\n\/\/# sourceMappingURL=.*\s*$/, "\n");
  return `${out}\n${tail.join("\n")}`;
}

/** A probe exercising what most files use (kprobes, a tracepoint, maps, loops, strings), for the warm-up. */
const WARM_PROBE = `import { kprobe, kretprobe, tracepoint, printk, pidTgid, comm, ktimeNs, HashMap, Histogram, type i32, type i64, type u32, type u64 } from "tsbpf";
export const license = "GPL";
const start = new HashMap<u32, u64>(1024);
export const latency = new Histogram();
function tid(): u32 {
  return pidTgid() as u32;
}
export const entry = kprobe("do_unlinkat", (dfd: i32, name: u64) => {
  const pid = pidTgid() >> 32;
  let sum = 0;
  for (let i = 0; i < 4; i++) {
    if (i === 2) continue;
    sum += i * dfd;
  }
  start.update(tid(), ktimeNs());
  printk(\`entry \${comm()} pid = \${pid}, dfd = \${dfd}, sum = \${sum}, name = \${name}\`);
  return 0;
});
export const exit = kretprobe("do_unlinkat", (ret: i64) => {
  const t0 = start.lookup(tid());
  if (t0 === null) return 0;
  latency.record(ktimeNs() - t0);
  start.delete(tid());
  printk(\`exit pid = \${pidTgid() >> 32}, ret = \${ret}\`);
  return 0;
});
export const unlinkat = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => {
  const dfd = ctx.dfd as i32;
  printk(\`unlinkat by \${comm()} dfd = \${dfd}, flags = \${ctx.flag}\`);
  return 0;
});
`;

/** The sys_enter_unlinkat format file the warm-up probe is compiled against (its fields: C declaration, offset, size, signed). */
const WARM_FORMAT = [
  "name: sys_enter_unlinkat",
  "ID: 1",
  "format:",
  ...([
    ["unsigned short common_type", 0, 2, 0],
    ["unsigned char common_flags", 2, 1, 0],
    ["unsigned char common_preempt_count", 3, 1, 0],
    ["int common_pid", 4, 4, 1],
    ["int __syscall_nr", 8, 4, 1],
    ["int dfd", 16, 8, 0],
    ["const char * pathname", 24, 8, 0],
    ["int flag", 32, 8, 0],
  ] as const).map(([decl, offset, size, signed]) => `\tfield:${decl};\toffset:${offset};\tsize:${size};\tsigned:${signed};`),
  "",
  'print fmt: "dfd: 0x%08lx"',
  "",
].join("\n");

/**
 * In a fresh process with no caches: loads every chunk through the bundle, compiles WARM_PROBE, parses and
 * loads its object against the fake kernel, then writes every code cache into dist/.cache.
 */
export async function warmUp(root: string): Promise<string[]> {
  const bundle = openBundle(root);
  if (!bundle) throw new BundleError("the bundle just written does not open");
  const problems: string[] = [];
  const step = (what: string, f: () => void): void => {
    try {
      f();
    } catch (error) {
      problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  for (const chunk of CHUNKS) for (const id of chunk.roots) step(`loading ${id}`, () => bundle.require(id));
  let object: Uint8Array | undefined;
  step("compiling the warm-up probe", () => {
    const { compile } = bundle.require("compiler/index.js") as typeof import("../compiler/index.js");
    const result = compile({ fileName: "/warm-up.ts", text: WARM_PROBE }, { arch: "x86_64", tracepointFormat: () => WARM_FORMAT });
    if (result.diagnostics.length) throw new BundleError(result.diagnostics.map((d) => `${d.code} ${d.message}`).join("; "));
    object = result.object;
  });
  if (object) {
    step("loading the object into the fake kernel", () => {
      const { Session } = bundle.require("runtime/loader/session.js") as typeof import("../runtime/loader/session.js");
      const { FakeSys } = bundle.require("runtime/sys/fake.js") as typeof import("../runtime/sys/fake.js");
      const session = new Session(new FakeSys());
      try {
        session.load(object!, { name: "warm_up" });
      } finally {
        void session.close();
      }
    });
  }
  writeCodeCaches(installCacheDir());
  return problems;
}

async function main(): Promise<void> {
  const root = process.argv[2] ?? distRoot();
  if (process.env.TSBPF_BUNDLE_WARM_UP) {
    const problems = await warmUp(root);
    for (const p of problems) process.stderr.write(`tsbpf bundle warm-up: ${p}\n`);
    return;
  }
  try {
    buildBundle(root);
  } catch (error) {
    // No bundle: every command still works, from plain ES modules.
    rmSync(join(root, ".bundle"), { recursive: true, force: true });
    process.stderr.write(`tsbpf: not bundling dist (commands load ES modules one by one, more slowly): ${error instanceof Error ? error.message : String(error)}\n`);
    if (!(error instanceof BundleError)) throw error;
    return;
  }
  // Code caches, made in a child with no caches to find, so that it writes all of them.
  const cacheDir = installCacheDir();
  rmSync(cacheDir, { recursive: true, force: true });
  const empty = mkdtempSync(join(tmpdir(), "tsbpf-warm-up-"));
  try {
    execFileSync(process.execPath, [fileURLToPath(import.meta.url), root], { env: { ...process.env, TSBPF_BUNDLE_WARM_UP: "1", TSBPF_CACHE_DIR: empty, TSBPF_NO_CODE_CACHE: "" }, stdio: "inherit" });
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
  const written = readdirSync(cacheDir, { withFileTypes: true }).filter((e) => e.isFile());
  process.stdout.write(`tsbpf: bundled dist into ${CHUNKS.length} chunks, ${written.length} code caches in ${cacheDir}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
