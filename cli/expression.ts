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
  return withinExpression(syntax.length ? syntax : diagnostics, text);
}

/** Diagnostics positioned past the one-liner's own text (on the lines added to it) moved to its end. */
function withinExpression(diagnostics: readonly Diagnostic[], text: string): Diagnostic[] {
  const lines = text.split("\n");
  const last = lines.at(-1)!;
  return diagnostics.map((d) => (d.line <= lines.length ? d : { ...d, line: lines.length, column: last.length + 1, start: text.length, length: 0 }));
}
