// `tsbpf list [PATTERN] [--json] [--verbose]`: what can be probed, as bpftrace -l lists it, one probe a line as the
// tsbpf call that probes it (cli/list.ts finds them). A pattern that matches nothing is not an error (exit 0, as
// bpftrace's): a note on standard error says so. The output is written in blocks: a listing can be thousands of lines.

import { ExitCode } from "../exit-codes.js";
import { formatProbe, globProbeCall, leafOf, listProbes, parsePattern, patternOf } from "../list.js";
import { similarNames } from "../../compiler/similar.js";
import { cxxParts } from "../../runtime/loader/cxx-names.js";
import { resolveBinary, strippedNote } from "../../runtime/loader/elfsym.js";
import { writeErr, writeOut } from "../output.js";

/** Bytes gathered before a write(2). */
const BLOCK = 1 << 16;

export async function handler(argv: Record<string, unknown>): Promise<number> {
  const pattern = argv.pattern === undefined ? undefined : String(argv.pattern);
  const json = Boolean(argv.json);
  const query = parsePattern(pattern);
  let block = "";
  let count = 0;
  for (const probe of listProbes(query, { verbose: Boolean(argv.verbose), note: (text) => writeErr(`tsbpf: ${text}\n`) })) {
    count++;
    block += `${json ? JSON.stringify(probe) : formatProbe(probe)}\n`;
    if (block.length < BLOCK) continue;
    const open = writeOut(block);
    block = "";
    // The reader has gone (`tsbpf list | head`): nothing more to find.
    if (!open) return ExitCode.OK;
  }
  if (block) writeOut(block);
  if (!count) writeErr(`tsbpf: no probes match ${pattern ?? "*"}${didYouMean(pattern)}${strippedFunctions(query)}\n`);
  const glob = count > 1 && !json ? globProbeCall(pattern) : undefined;
  if (glob) writeErr(`tsbpf: one probe takes all ${count}: ${glob}\n`);
  return ExitCode.OK;
}

/** For a uprobe pattern that found no function in a stripped executable: why (`(/tmp/app: it is stripped: ...)`). */
function strippedFunctions(query: ReturnType<typeof parsePattern>): string {
  if (query.kind !== "uprobe" && query.kind !== "uretprobe") return "";
  let note: string | undefined;
  try {
    note = strippedNote(resolveBinary(query.binary));
  } catch {
    note = undefined; // a binary that cannot be found has been reported
  }
  return note ? ` (${note})` : "";
}

/**
 * For a pattern without globs that matched nothing (a misspelt name), the probes whose last part is nearest among
 * those the same pattern finds with that part a `*`: "; did you mean tracepoint:syscalls:sys_enter_unlinkat?".
 */
function didYouMean(pattern: string | undefined): string {
  const parts = pattern?.split(":") ?? [];
  if (parts.length < 2 || /[*?]/.test(pattern!)) return "";
  const query = parsePattern(pattern);
  // A binary's probes (`usdt:/usr/bin/python3`): its last part is the binary itself, not a misspelt probe name.
  if ("binary" in query && parts.length < 3) return "";
  // A C++ function's name (`app::W::leef`) is near the names of the binary's C++ functions, with or without parameters.
  const cxx = "cxx" in query ? query.cxx : undefined;
  const word = cxx ?? parts.at(-1)!;
  const wider = listProbes(parsePattern(cxx !== undefined ? `${parts[0]}:${(query as { binary: string }).binary}:*(*` : [...parts.slice(0, -1), "*"].join(":")));
  const byLeaf = new Map<string, string[]>();
  for (const p of wider) {
    const leaf = cxx === undefined || cxx.includes("(") ? leafOf(p) : (cxxParts(leafOf(p))?.name ?? leafOf(p));
    byLeaf.set(leaf, [...(byLeaf.get(leaf) ?? []), patternOf(p)]);
  }
  const near = similarNames(word, byLeaf.keys()).flatMap((leaf) => byLeaf.get(leaf)!).slice(0, 3);
  return near.length ? `; did you mean ${near.join(" or ")}?` : "";
}
