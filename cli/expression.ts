// `tsbpf run -e TEXT`: a probe file's body given on the command line, as bpftrace's -e. The text is compiled as a
// probe file with everything "tsbpf" exports imported (unless it imports from "tsbpf" itself), a GPL license (unless
// it exports one), its maps printed as if exported, and probes written as bare calls (`tracepoint(...)`) named
// after their kind. The import and license go after the text, so that diagnostics point at its own lines and columns;
// one past its end (an unterminated call or string) is shown at its end, not on the lines added. A text with a syntax
// error is shown that error alone: an unclosed brace would take the lines added into it.
import { tsbpfExports } from "../compiler/frontend/prelude.js";
import { syntaxErrors } from "../compiler/frontend/check.js";
import type { Diagnostic } from "../compiler/index.js";

/** The probe file a one-liner stands for. */
export function expressionSource(text: string): string {
  const tail: string[] = [];
  // Statements, not words: "license" or "from 'tsbpf'" inside a printf's string is neither.
  if (!/(^|;)\s*import\b[^;]*\bfrom\s*["']tsbpf["']/m.test(text)) tail.push(`import { ${tsbpfExports().join(", ")} } from "tsbpf";`);
  if (!/(^|;)\s*export\s+const\s+license\b/m.test(text)) tail.push('export const license = "GPL";');
  return `${text}\n${tail.join("\n")}\n`;
}

/**
 * What a one-liner's compile has to say about it: its own syntax errors alone when it has any (an unclosed brace,
 * paren or string joins the import added after it to the text, and every name would then be missing), else the
 * compile's diagnostics, those past its own text moved to its end.
 */
export function expressionDiagnostics(diagnostics: readonly Diagnostic[], text: string): Diagnostic[] {
  const syntax = diagnostics.length ? syntaxErrors(diagnostics[0]!.file, text) : [];
  const hint = syntax.length ? bpftraceHint(text) : undefined;
  const [first, ...rest] = syntax;
  const shown = first && hint ? [{ ...first, message: `${first.message} (${hint})` }, ...rest] : syntax;
  return withinExpression(shown.length ? shown : diagnostics, text);
}

/** `kind:target {` (or `BEGIN {`, a `/filter/` before the brace) at the start of a one-liner: bpftrace's probe syntax. */
const BPFTRACE_PROBE = /^\s*(BEGIN|END|[a-z_]+(?::[^\s{:]*)+)\s*(?:\/[^/]*\/\s*)?\{/;

/** bpftrace's long names for its probe kinds' short ones, as tsbpf names the calls. */
const PROBE_CALLS: Readonly<Record<string, string>> = {
  t: "tracepoint", tracepoint: "tracepoint", k: "kprobe", kprobe: "kprobe", kr: "kretprobe", kretprobe: "kretprobe",
  u: "uprobe", uprobe: "uprobe", ur: "uretprobe", uretprobe: "uretprobe", U: "usdt", usdt: "usdt", rawtracepoint: "rawTracepoint", rt: "rawTracepoint",
};

/** A bpftrace map, `@x` or `@` (`@x[k] = ...`, `@ = count()`, `@x++`), outside a string: a syntax error in TypeScript. */
const BPFTRACE_MAP = /(?:^|[\s{;(,])@(\w*)\s*(?:\[|=|\+\+|--|\+=|;|\)|$)/;

/** What a one-liner in bpftrace's language is told: the call tsbpf's -e takes for its first probe, or what a map is. */
function bpftraceHint(text: string): string | undefined {
  const m = BPFTRACE_PROBE.exec(text);
  const map = m ? undefined : BPFTRACE_MAP.exec(text.replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""'));
  if (map) {
    const name = map[1] || "counts";
    return `-e takes TypeScript, not bpftrace's language: a map is a constant declared before the probes, \`const ${name} = new Count<Str<16>>(1024);\` (or HashMap<K, V>, Histogram, Sum, ...), then \`${name}.increment(comm())\` in a probe`;
  }
  if (!m) return undefined;
  const [kind, ...parts] = m[1]!.split(":");
  const [unit, count] = parts;
  const timed = count && /^\d+$/.test(count) ? (kind === "profile" && unit === "hz" ? `profile(${count}, () => { ... })` : kind === "interval" && (unit === "ms" || unit === "s") ? `interval(${unit === "s" ? Number(count) * 1000 : count}, () => { ... })` : undefined) : undefined;
  const call = kind === "BEGIN" ? "begin(() => { ... })" : kind === "END" ? "end(() => { ... })" : (timed ?? PROBE_CALLS[kind!]);
  const written = !call || call.endsWith(")") ? call : `${call}(${parts.map((p) => JSON.stringify(p)).join(", ")}, ${call === "tracepoint" ? "(ctx)" : "()"} => { ... })`;
  return `-e takes TypeScript, not bpftrace's language: write each probe as a call${written ? `, as ${written}` : ""}, with printf(), comm() and the rest of tsbpf imported`;
}

/** Diagnostics positioned past the one-liner's own text (on the lines added to it) moved to its end. */
function withinExpression(diagnostics: readonly Diagnostic[], text: string): Diagnostic[] {
  const lines = text.split("\n");
  const last = lines.at(-1)!;
  return diagnostics.map((d) => (d.line <= lines.length ? d : { ...d, line: lines.length, column: last.length + 1, start: text.length, length: 0 }));
}
