// Errors of a run at their place in the probe file: `FILE:LINE:COL - error TSBPFnnnn: message` and the line with
// the span underlined, as the compiler's diagnostics and the verifier's rejections are shown.

/** The codes of what goes wrong once a probe file has compiled (the compiler's are 1xxx, the verifier's 2xxx). */
export const RunCode = {
  /** The running kernel cannot attach the probe: its kind (kprobes compiled out, no uprobes) or at its place (an instruction uprobes cannot step). */
  AttachUnsupported: 3001,
  /** What the probe names is not there when it attaches: a kernel function, a binary, a symbol, a tracepoint. */
  AttachTargetMissing: 3002,
  /** No permission to attach (a capability the process lacks). */
  AttachDenied: 3003,
  /** The kernel refused the attachment for another reason. */
  AttachRefused: 3004,
  /** The kernel will not create a map as declared: its definition, or a map type, flag or limit of the running kernel. */
  MapRefused: 3005,
  /** No file descriptor is left for the attachment: the process's limit (ulimit -n) or the system's. */
  AttachLimit: 3006,
  /** A kaddr() names a symbol the running kernel's /proc/kallsyms does not list (or shows without its address); a uaddr() or cgroupId(path) what cannot be found. */
  SymbolMissing: 3007,
} as const;

/** A place in a source file; `text` is its whole line. */
export interface SourcePlace {
  file: string;
  /** 1-based; 0 when unknown. */
  line: number;
  column: number;
  text?: string;
}

/** The source line and, under it, the expression (or the column) marked; tabs shown as four spaces. */
export function codeFrame(source: SourcePlace & { text: string }, expression: string | undefined): string[] {
  const gutter = String(source.line);
  const text = source.text.replace(/\t/g, "    ");
  const col = source.text.slice(0, Math.max(0, source.column - 1)).replace(/\t/g, "    ").length;
  const width = expression && source.text.startsWith(expression, source.column - 1) ? expression.length : 1;
  return [`${gutter} ${text}`, `${" ".repeat(gutter.length)} ${" ".repeat(col)}${"~".repeat(width)}`];
}

/**
 * `FILE:LINE:COL - error TSBPFnnnn: message`, then the line with `expression` underlined; `FILE: error ...` where
 * the place has no line.
 */
export function sourceError(place: SourcePlace, code: number, message: string, expression?: string): string {
  const where = place.line ? `${place.file}:${place.line}:${place.column}` : place.file;
  const frame = place.line && place.text !== undefined ? ["", ...codeFrame(place as SourcePlace & { text: string }, expression)] : [];
  return [`${where} - error TSBPF${code}: ${message}`, ...frame].join("\n");
}
