// Verifier rejections in the source's terms, for `tsbpf verify` (the model's) and for `tsbpf load`/`run` (the
// kernel's, whose reasons the model words alike): a TSBPF20xx code and a sentence (verify-programs.ts's
// explainRejection), the source line with the expression underlined, and the verifier's own words as a note.

import { decode } from "../compiler/isa/index.js";
import { explainAt, type ExplainOptions, type SourcePosition } from "../compiler/verify-programs.js";
import type { LoadError, VerifierRejection } from "../runtime/loader/index.js";
import { codeFrame } from "./source-error.js";

/**
 * A program the kernel's verifier refused at load: `FILE:LINE:COL - error TSBPF20xx: sentence`, the code frame, and
 * the loader's message (the kernel's reason) as the note, followed by `hint`.
 */
export function formatKernelRejection(error: LoadError, rejection: VerifierRejection, options: ExplainOptions & { hint?: string }): string {
  const insns = decode(rejection.insns, { check: false });
  const positionOf = (pc: number): SourcePosition | undefined => {
    const at = rejection.sourceAt(pc);
    return at && { file: at.file, line: at.line, column: at.column, ...(at.text !== undefined ? { text: at.text } : {}) };
  };
  const { why, source } = explainAt(insns, { pc: rejection.pc, message: withCause(error) }, rejection.progType, positionOf, options);
  const where = source?.line ? `${source.file}:${source.line}:${source.column} - ` : "";
  const frame = source?.text !== undefined ? ["", ...codeFrame(source as SourcePosition & { text: string }, why.expression), ""] : [];
  // The loader's message without its "at FILE:LINE" line, which the head says.
  const kernel = error.message.split("\n")[0]!;
  return [`${where}error TSBPF${why.code}: ${error.object}: ${why.sentence}`, ...frame, `  note: ${kernel}${options.hint ?? ""}`].join("\n");
}

/**
 * The kernel's reason, with the log line before it when that line says why a global function's argument is refused
 * ("Caller passes invalid args"): "write into map forbidden", read-only memory for a pointer parameter.
 */
function withCause(error: LoadError): string {
  if (!/^Caller passes invalid args/.test(error.reason)) return error.reason;
  const lines = error.log.split("\n").map((l) => l.trim());
  const at = lines.lastIndexOf(error.reason);
  return at > 0 && /^write into map forbidden/.test(lines[at - 1]!) ? `${lines[at - 1]}\n${error.reason}` : error.reason;
}
