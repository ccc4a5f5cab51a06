// `tsbpf list [PATTERN] [--json] [--verbose]`: what can be probed, as bpftrace -l lists it, one probe a line as the
// tsbpf call that probes it (cli/list.ts finds them). A pattern that matches nothing is not an error (exit 0, as
// bpftrace's): a note on standard error says so. The output is written in blocks: a listing can be thousands of lines.

import { ExitCode } from "../exit-codes.js";
import { formatProbe, listProbes, parsePattern } from "../list.js";
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
  if (!count) writeErr(`tsbpf: no probes match ${pattern ?? "*"}\n`);
  return ExitCode.OK;
}
