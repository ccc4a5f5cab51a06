// `tsbpf compile FILE -o OUT.bpf.o [--emit obj|asm] [--backend own|llvm]`: compiles a probe file to a
// BPF ELF object, or prints its disassembly. Diagnostics go to standard error as tsc prints them; a
// file with errors exits REJECTED (3), an unreadable file or bad option USAGE (2), as does
// `--backend llvm` without a suitable LLVM (the message names the package to install).

import { writeFileSync } from "node:fs";
import { compile, formatDiagnostics, type Diagnostic } from "../../compiler/index.js";
import { programListing } from "../../compiler/listing.js";
import { ExitCode, UserError, fileError } from "../exit-codes.js";
import { LlvmToolchainError } from "../../compiler/llvm/toolchain.js";
import { stderrIsTTY, writeErr, writeOut } from "../output.js";
import { inputName, probeText, readInput, sameFile } from "../input.js";
import { usdtArgumentCount } from "../../runtime/loader/usdt.js";

export async function handler(argv: Record<string, unknown>): Promise<number> {
  // `-` (or /dev/stdin, /dev/fd/0): the probe file on standard input.
  const file = inputName(argv.file as string);
  const emit = (argv.emit as string | undefined) ?? "obj";
  const out = argv.output as string | undefined;

  const backend = (argv.backend as string | undefined) ?? "own";
  if (backend !== "own" && backend !== "llvm") throw new UserError(`--backend takes own or llvm, not ${backend}`);
  // `tsbpf run -e`: the text itself, named `file`, whose maps all print.
  const source = typeof argv.source === "string" ? argv.source : undefined;
  // `tsbpf run FILE`: the text it read (and keyed its cache by); else the file, read here once.
  const text = source ?? (typeof argv.text === "string" ? argv.text : probeText(file, await readInput(file)));
  // After the file is read: a file that is not there is the first thing to hear about.
  if (emit === "obj" && !out) throw new UserError("name the object file with -o FILE (or use --emit asm to print the disassembly)");
  if (out !== undefined && source === undefined && sameFile(file, out)) throw new UserError(`-o ${out} is the probe file itself: name another file for the object`);
  let result: ReturnType<typeof compile>;
  try {
    result = compile({ fileName: file, text }, { arch: argv.arch as string | undefined, backend, exportAll: source !== undefined, usdtArguments: usdtArgumentCount });
  } catch (error) {
    if (error instanceof LlvmToolchainError) throw new UserError(error.message);
    throw error;
  }
  if (result.diagnostics.length) {
    const code = diagnosticsExitCode(file, result.diagnostics);
    // `tsbpf run -e`: shown against the one-liner as written, without the import and license added after it.
    const shown = typeof argv.shown === "string" ? argv.shown : undefined;
    const diagnostics = shown === undefined ? result.diagnostics : (await import("../expression.js")).expressionDiagnostics(result.diagnostics, shown);
    writeErr(formatDiagnostics(diagnostics, { color: stderrIsTTY(), sources: { [result.source.fileName]: shown ?? result.source.text } }));
    return code;
  }

  // An object without programs loads nowhere: say so while the file is at hand (`tsbpf run` says it itself).
  if (result.programs.length === 0 && argv.forRun !== true) writeErr(`tsbpf: warning: ${file} exports no probes, so the object has no programs\n`);

  if (emit === "asm") {
    const text: string[] = [];
    for (const p of result.programs) {
      text.push(`${p.section}/${p.name}:`, ...programListing(p), "");
    }
    const asm = text.join("\n");
    if (out) writeOutput(out, asm);
    else writeOut(asm);
    return ExitCode.OK;
  }

  writeOutput(out!, result.object);
  return ExitCode.OK;
}

/** Writes the object or listing to `path`; `-` is standard output (`tsbpf compile x.ts -o - | bpftool ...`). */
function writeOutput(path: string, data: string | Uint8Array): void {
  try {
    writeFileSync(path === "-" ? 1 : path, data);
  } catch (error) {
    throw fileError("write", path === "-" ? "standard output" : path, error);
  }
}

/**
 * The exit code for a compile's diagnostics: NO_PERMISSION when all say tracefs cannot be read, else REJECTED. Throws
 * a one-line UserError for a file that cannot be read or that TypeScript finds binary (its bytes are no use as a
 * source line).
 */
export function diagnosticsExitCode(file: string, diagnostics: readonly Diagnostic[]): ExitCode {
  if (diagnostics.length === 1 && diagnostics[0]!.code === "TSBPF1000") throw new UserError(diagnostics[0]!.message);
  if (diagnostics.some((d) => d.code === "TS1490")) throw new UserError(`${file} is a binary file (not UTF-8 text), not a TypeScript probe`);
  return diagnostics.every((d) => d.code === "TSBPF1026") ? ExitCode.NO_PERMISSION : ExitCode.REJECTED;
}

/** Whether two paths name one file (both exist and share device and inode). */
