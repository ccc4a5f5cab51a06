// Diagnostics as data: a code, a message, a source range; and their tsc-style text with a code frame.
// Takes source positions and message arguments; gives `Diagnostic` records and formatted text.
// tsbpf's own codes are TSBPF1xxx; TypeScript's type errors keep their TSnnnn codes.

export type Severity = "error" | "warning";

export interface Diagnostic {
  /** "TSBPF1001", or "TS2322" for TypeScript's own errors. */
  code: string;
  severity: Severity;
  message: string;
  file: string;
  /** 1-based line and column of the range's start; 0 when the diagnostic has no position. */
  line: number;
  column: number;
  /** Character offset and length of the range in the file's text. */
  start: number;
  length: number;
}

/** tsbpf diagnostic codes. Messages are built where they are reported; this table says what each means. */
export const Code = {
  /** The input file cannot be read. */
  CannotRead: 1000,
  /** A statement, expression or declaration outside the subset. */
  Unsupported: 1001,
  /** A module-level statement other than imports, types, probes and the license. */
  UnsupportedTopLevel: 1002,
  /** An import from anywhere but "tsbpf". */
  UnsupportedImport: 1003,
  /** A non-integer number (there is no floating point) or an integer too big for `number`. */
  BadLiteral: 1004,
  /** A constant that does not fit its integer type. */
  OutOfRange: 1005,
  /** A name the compiler cannot see from a handler (a global, a module value, ...). */
  UnknownName: 1006,
  /** A type annotation other than u8..i64 and Ptr<T>. */
  UnsupportedType: 1007,
  /** A probe constructor called with something other than string literals (profile/interval: a positive integer literal) and an arrow function. */
  BadProbe: 1008,
  /** Too many probe parameters (the ABI passes six in registers; return probes get one). */
  TooManyParams: 1009,
  /** No `export const license = "..."`. */
  MissingLicense: 1010,
  /** printk called with anything but one template or string literal, or with more than 12 values. */
  BadPrintk: 1011,
  /** A value of a kind the compiler cannot hold in a register (strings, objects, ...). */
  NotAnInteger: 1012,
  /** The tracepoint's format file is missing or unreadable. */
  UnknownTracepoint: 1013,
  /** A tracepoint field the kernel does not let programs read, or of an unsupported type. */
  BadTracepointField: 1014,
  /** Division or remainder by the constant zero. */
  DivisionByZero: 1015,
  /** The program needs more than 512 bytes of stack. */
  StackTooLarge: 1016,
  /** A call to something other than a tsbpf helper. */
  UnsupportedCall: 1017,
  /** A parameter without a type annotation where one is needed. */
  MissingType: 1018,
  /** Field access through `Ptr<T>` (needs BTF and CO-RE). */
  PointerAccess: 1019,
  /** The target architecture has no register layout in the compiler. */
  UnsupportedArch: 1020,
  /** A "tsbpf/kernel" import the kernel's BTF does not define (or no BTF to read). */
  UnknownKernelType: 1021,
  /** A loop the compiler cannot bound at compile time (`while`, or a `for` without a constant bound). */
  UnboundedLoop: 1022,
  /** A map declared or used wrongly (sizes, types, methods). */
  BadMap: 1023,
  /** A call to a module function that cannot be inlined (recursion, arguments). */
  BadFunction: 1024,
  /** A string operation a Str<N> does not support, or a comparison that can never be true. */
  StringOperation: 1025,
  /** Tracefs is not mounted or not readable by this user, so no tracepoint format can be read (exit 4, not 3). */
  TracefsUnreadable: 1026,
} as const;

export const codeName = (code: number): string => `TSBPF${code}`;

export interface SourceLike {
  readonly fileName: string;
  readonly text: string;
}

/** 1-based line and column of `offset`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

export function makeDiagnostic(source: SourceLike, code: number | string, message: string, start: number, length: number, severity: Severity = "error"): Diagnostic {
  const { line, column } = lineColumn(source.text, start);
  return { code: typeof code === "number" ? codeName(code) : code, severity, message, file: source.fileName, line, column, start, length };
}

export interface FormatOptions {
  /** ANSI colours, as tsc --pretty. */
  color?: boolean;
  /** Text of each file, for code frames; files missing here are printed without one. */
  sources?: ReadonlyMap<string, string> | Record<string, string>;
}

const paint = (on: boolean, code: string, s: string): string => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

/** One diagnostic as tsc prints it: `file:line:col - error CODE: message`, then the source line underlined. */
export function formatDiagnostic(d: Diagnostic, options: FormatOptions = {}): string {
  const color = options.color ?? false;
  const sources = options.sources;
  const text = sources instanceof Map ? sources.get(d.file) : (sources as Record<string, string> | undefined)?.[d.file];
  const where = d.line ? `${paint(color, "96", d.file)}:${paint(color, "93", String(d.line))}:${paint(color, "93", String(d.column))}` : paint(color, "96", d.file);
  const head = `${where} - ${paint(color, d.severity === "error" ? "91" : "93", d.severity)} ${paint(color, "90", `${d.code}:`)} ${d.message}`;
  if (text === undefined || !d.line) return head;
  const lines = text.split("\n");
  // A tab is one space, as tsc prints it: the underline counts characters, and a terminal would widen a tab.
  const src = (lines[d.line - 1] ?? "").replace(/\r$/, "").replace(/\t/g, " ");
  const gutter = String(d.line);
  const from = d.column - 1;
  const width = Math.max(1, Math.min(d.length, src.length - from));
  const marks = " ".repeat(from) + "~".repeat(width);
  return [head, "", `${paint(color, "7", gutter)} ${src}`, `${paint(color, "7", " ".repeat(gutter.length))} ${paint(color, d.severity === "error" ? "91" : "93", marks)}`, ""].join("\n");
}

export function formatDiagnostics(diagnostics: readonly Diagnostic[], options: FormatOptions = {}): string {
  if (!diagnostics.length) return "";
  const body = diagnostics.map((d) => formatDiagnostic(d, options)).join("\n");
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const files = new Set(diagnostics.map((d) => d.file)).size;
  const tail = errors === 0 ? "" : `\nFound ${errors} error${errors === 1 ? "" : "s"}${files > 1 ? ` in ${files} files` : ""}.\n`;
  return `${body}\n${tail}`;
}
