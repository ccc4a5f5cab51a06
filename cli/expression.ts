// `tsbpf run -e TEXT`: a probe file's body given on the command line, as bpftrace's -e. The text is compiled as a
// probe file with everything "tsbpf" exports imported (unless it imports from "tsbpf" itself), a GPL license (unless
// it names one), its maps printed as if exported, and probes written as bare calls (`tracepoint(...)`) named
// after their kind. The import and license go after the text, so that diagnostics point at its own lines and columns.
import { tsbpfExports } from "../compiler/frontend/prelude.js";

/** The probe file a one-liner stands for. */
export function expressionSource(text: string): string {
  const tail: string[] = [];
  if (!/\bfrom\s*["']tsbpf["']/.test(text)) tail.push(`import { ${tsbpfExports().join(", ")} } from "tsbpf";`);
  if (!/\blicense\b/.test(text)) tail.push('export const license = "GPL";');
  return `${text}\n${tail.join("\n")}\n`;
}
