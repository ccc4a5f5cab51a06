// Parsing and type-checking a probe file with the TypeScript compiler API.
// Takes the file's name and text and the prelude text; gives the TypeScript program, its checker,
// the parsed file and TypeScript's own diagnostics as tsbpf `Diagnostic`s.
// TypeScript is loaded on first use (load-typescript.ts: CommonJS with a V8 code cache), so code
// paths that never compile never pay for it.

import type * as TS from "typescript";
import { loadTypescript, type LoadedTypescript } from "./load-typescript.js";
import { Code, makeDiagnostic, type Diagnostic } from "./diagnostics.js";
import { PRELUDE_FILE } from "./prelude.js";
import { typescriptMessage } from "./hints.js";
import { similarNames } from "../similar.js";
import { isGlob } from "../glob.js";

export type Typescript = typeof TS;

let loaded: LoadedTypescript | undefined;

/** The `typescript` module, loaded once: cut to what a type check runs (trim-typescript.ts) unless wholeTypescript() was called. */
export function typescript(): Typescript {
  loaded ??= loadTypescript();
  return loaded.ts;
}

/**
 * Makes typescript() the whole module from now on, if it was the cut one; says whether it changed. For a compile
 * that threw inside the cut module, to be run again.
 */
export function wholeTypescript(): boolean {
  if (loaded && !loaded.trimmed) return false;
  loaded = loadTypescript({ whole: true });
  return true;
}

export interface Checked {
  ts: Typescript;
  program: TS.Program;
  checker: TS.TypeChecker;
  file: TS.SourceFile;
  prelude: TS.SourceFile;
  diagnostics: Diagnostic[];
}

/** Parses only (no checking): cheap, for finding the tracepoints a file uses before building the prelude. */
export function parse(fileName: string, text: string): TS.SourceFile {
  const ts = typescript();
  return ts.createSourceFile(typescriptName(fileName), text, sourceOptions(ts), true, ts.ScriptKind.TS);
}

/**
 * A text's syntax errors alone (parsed, not checked), as tsbpf Diagnostics at its own positions: for `tsbpf run -e`,
 * whose text an unclosed brace or string would join to the import added after it.
 */
export function syntaxErrors(fileName: string, text: string): Diagnostic[] {
  const ts = typescript();
  const file = parse(fileName, text);
  const host = ts.createCompilerHost({});
  host.getSourceFile = (name) => (name === file.fileName ? file : undefined);
  const program = ts.createProgram({ rootNames: [file.fileName], options: { noLib: true, noResolve: true, types: [] }, host });
  const source = { fileName, text };
  return program.getSyntacticDiagnostics(file).map((d) => makeDiagnostic(source, `TS${d.code}`, ts.flattenDiagnosticMessageText(d.messageText, "\n"), d.start ?? 0, d.length ?? 0));
}

/**
 * How probe files and the prelude are parsed: without their JSDoc comments, which no error in a .ts file depends on
 * (they type JavaScript files only; tsc itself skips most of them in .ts files since TypeScript 5.3). Parsing them
 * was ~5% of a cold compile (unlink-tracepoint 175 -> 167 ms, tcplife 339 -> 318 ms, medians of 15 interleaved runs).
 */
function sourceOptions(ts: Typescript): TS.CreateSourceFileOptions {
  return { languageVersion: ts.ScriptTarget.ES2022, jsDocParsingMode: ts.JSDocParsingMode.ParseNone };
}

/**
 * The name TypeScript knows the probe file by: its own, or with `.ts` added when it has no TypeScript extension
 * (`probe`, `probe.js`, /dev/fd/63), which TypeScript would otherwise take for JavaScript it was not asked to check.
 */
function typescriptName(fileName: string): string {
  return /\.[cm]?tsx?$/.test(fileName) && !/\.d\.[cm]?ts$/.test(fileName) ? fileName : `${fileName}.ts`;
}

export function check(fileName: string, text: string, preludeText: string, parsed?: TS.SourceFile): Checked {
  const ts = typescript();
  const file = parsed ?? parse(fileName, text);
  const prelude = ts.createSourceFile(PRELUDE_FILE, preludeText, sourceOptions(ts), true, ts.ScriptKind.TS);
  const files = new Map<string, TS.SourceFile>([
    [file.fileName, file],
    [PRELUDE_FILE, prelude],
  ]);
  const options: TS.CompilerOptions = {
    noLib: true,
    types: [],
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowUnreachableCode: true,
    skipLibCheck: true,
    isolatedModules: true,
  };
  const host: TS.CompilerHost = {
    getSourceFile: (name) => files.get(name),
    getDefaultLibFileName: () => PRELUDE_FILE,
    writeFile: () => {},
    getCurrentDirectory: () => "/",
    getCanonicalFileName: (name) => name,
    useCaseSensitiveFileNames: () => true,
    getNewLine: () => "\n",
    fileExists: (name) => files.has(name),
    readFile: (name) => files.get(name)?.text,
    // Only "tsbpf" resolves (to the prelude's ambient module); everything else is reported by the lowering.
    resolveModuleNameLiterals: (literals) => literals.map(() => ({ resolvedModule: undefined })),
  };
  const program = ts.createProgram({ rootNames: [PRELUDE_FILE, file.fileName], options, host });
  const raw = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file), ...program.getGlobalDiagnostics()];
  const source = { fileName, text };
  // Imports other than "tsbpf" get tsbpf's own diagnostic; TypeScript's ("cannot find module") would repeat it.
  const foreign = file.statements
    .filter((s): s is TS.ImportDeclaration => ts.isImportDeclaration(s) && ts.isStringLiteral(s.moduleSpecifier) && s.moduleSpecifier.text !== "tsbpf")
    .map((s) => [s.moduleSpecifier.getStart(file), s.moduleSpecifier.getEnd()] as const);
  const casts = raw.some((d) => d.code === UNRELATED_CAST) ? pointerCasts(ts, program.getTypeChecker(), file) : new Set<number>();
  // Async functions, generators, decorators and `using` get tsbpf's one sentence each; TypeScript's errors about them
  // (no Promise, Iterator, Disposable or decorator context type in the prelude, a handler returning a Promise), the
  // missing global types reported at 1:1, would only bury it.
  const refused = refusedConstructs(ts, file);
  const inRefused = (d: TS.Diagnostic) => d.code === MISSING_GLOBAL_TYPE || d.code === MISSING_GLOBAL_VALUE || (d.file === file && refused.some(({ node }) => (d.start ?? -1) >= node.getStart(file) && (d.start ?? -1) < node.getEnd()));
  const diagnostics = raw
    .filter((d) => !(refused.length && inRefused(d)))
    .filter((d) => !(d.file === file && foreign.some(([from, to]) => (d.start ?? -1) >= from && (d.start ?? -1) < to)))
    .filter((d) => !(d.file === file && d.code === UNRELATED_CAST && casts.has(d.start ?? -1)))
    .map((d) =>
      makeDiagnostic(
        d.file === file ? source : { fileName: d.file?.fileName ?? fileName, text: d.file?.text ?? "" },
        `TS${d.code}`,
        withHint(
          d.code,
          (MISSING_PROPERTY.includes(d.code) && d.file === file && missingTracepointField(ts, program.getTypeChecker(), file, d.start ?? -1)) || ts.flattenDiagnosticMessageText(d.messageText, "\n"),
          d.file?.text[(d.start ?? 0) + (d.length ?? 0)] === ".",
        ),
        d.start ?? 0,
        d.length ?? 0,
        d.category === ts.DiagnosticCategory.Error ? "error" : "warning",
      ),
    )
    .filter((d) => d.severity === "error");
  for (const { node, message } of refused) {
    const start = node.getStart(file);
    diagnostics.push(makeDiagnostic(source, Code.Unsupported, message, start, node.getEnd() - start));
  }
  return { ts, program, checker: program.getTypeChecker(), file, prelude, diagnostics };
}

const withHint = typescriptMessage;

/** TypeScript's "property X does not exist on type Y" (2551 when it also has a "did you mean"). */
const MISSING_PROPERTY = [2339, 2551];

/**
 * For `ctx.nosuch` in a tracepoint handler: which tracepoint lacks the field and which fields it has, instead of
 * TypeScript's print of the whole record type. Undefined for any other missing property.
 */
function missingTracepointField(ts: Typescript, checker: TS.TypeChecker, file: TS.SourceFile, start: number): string | undefined {
  let node: TS.Node = file;
  for (let inner: TS.Node | undefined = file; inner; ) {
    node = inner;
    inner = ts.forEachChild(node, (c) => (c.getStart(file) <= start && start < c.getEnd() ? c : undefined));
  }
  const access = node.parent;
  if (!access || !ts.isPropertyAccessExpression(access) || access.name !== node) return undefined;
  const fields = checker.getTypeAtLocation(access.expression).getProperties().map((p) => p.name);
  if (!fields.includes("common_type")) return undefined;
  let call: TS.Node | undefined = access;
  while (call && !(ts.isCallExpression(call) && ts.isIdentifier(call.expression) && call.expression.text === "tracepoint")) call = call.parent;
  const args = call && ts.isCallExpression(call) ? call.arguments.slice(0, 2).filter(ts.isStringLiteralLike).map((a) => a.text) : [];
  const own = fields.filter((f) => !f.startsWith("common_"));
  if (args.length === 2 && (isGlob(args[0]!) || isGlob(args[1]!))) {
    const shared = own.length ? `the fields they share are ${own.join(", ")}` : "they share only the common fields";
    return `not every tracepoint ${args[0]}:${args[1]} matches has a field ${access.name.text} at the same place and of the same type; ${shared}`;
  }
  const which = args.length === 2 ? `tracepoint ${args[0]}:${args[1]}` : "this tracepoint";
  const near = similarNames(access.name.text, fields);
  const hint = near.length ? `; did you mean ${near.join(" or ")}?` : `; its fields are ${own.join(", ") || "only the common ones"} (from its format file)`;
  return `${which} has no field ${access.name.text}${hint}`;
}

/** TypeScript's "cannot find global type" (Promise, IterableIterator: the prelude declares neither). */
const MISSING_GLOBAL_TYPE = 2318;
/** "Cannot find global value 'Promise'": what an async function needs beside its type. */
const MISSING_GLOBAL_VALUE = 2468;

/**
 * The outermost async functions and generators, the decorators and the `using` declarations of the file, each with
 * what to say about it: constructs whose TypeScript errors are about types a probe's prelude does not declare.
 */
function refusedConstructs(ts: Typescript, file: TS.SourceFile): { node: TS.Node; message: string }[] {
  const found: { node: TS.Node; message: string }[] = [];
  const visit = (node: TS.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node) {
      const f = node as TS.FunctionLikeDeclaration;
      if (f.asteriskToken || (ts.canHaveModifiers(f) && ts.getModifiers(f)?.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword))) {
        const what = f.asteriskToken ? "generator functions" : "async functions";
        found.push({ node: f, message: `${what} are not supported: a BPF program runs to completion in one call and cannot wait or yield` });
        return;
      }
    }
    if (ts.isDecorator(node)) {
      found.push({ node, message: "decorators are not supported: a probe file holds probes, maps, constants and functions, and a BPF program has no classes to decorate" });
      return;
    }
    if (ts.isVariableDeclarationList(node) && node.flags & ts.NodeFlags.Using) {
      const keyword = (node.flags & ts.NodeFlags.AwaitUsing) === ts.NodeFlags.AwaitUsing ? "await using" : "using";
      found.push({ node, message: `\`${keyword}\` declarations are not supported: a BPF program holds nothing to dispose of when it returns; declare the value with \`const\`` });
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** TypeScript's "conversion of type X to type Y may be a mistake". */
const UNRELATED_CAST = 2352;

/**
 * Where the file casts one pointer to another (`sk as Ptr<tcp_sock>`, C's `(struct tcp_sock *)sk`). TypeScript
 * finds the two pointee structs unrelated (TS2352), but reinterpreting a pointer is what such a cast is for.
 */
function pointerCasts(ts: Typescript, checker: TS.TypeChecker, file: TS.SourceFile): Set<number> {
  const starts = new Set<number>();
  const isPtrType = (node: TS.TypeNode) => ts.isTypeReferenceNode(node) && ts.isIdentifier(node.typeName) && node.typeName.text === "Ptr";
  const visit = (node: TS.Node): void => {
    if (ts.isAsExpression(node) && isPtrType(node.type) && checker.getTypeAtLocation(node.expression).getProperty("__tsbpfPointee")) starts.add(node.getStart(file));
    ts.forEachChild(node, visit);
  };
  visit(file);
  return starts;
}
