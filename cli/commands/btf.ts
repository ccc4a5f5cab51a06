// `tsbpf btf TYPE... [-o FILE] [--btf PATH] [--depth N] [--max-types N]`: TypeScript declarations
// for kernel types from BTF (compiler/declarations), so editors complete `name.name` in probes that
// `import type { filename } from "tsbpf/kernel"`, and with `kprobe:FN`, `kretprobe:FN` or
// `rawtracepoint:NAME` type those handlers' parameters. Writes to standard output or FILE; an unknown type
// is a USAGE error (2) naming it with close matches. There is no --all: the whole of vmlinux is
// tens of thousands of types, far more than an editor wants to load.

import { readFileSync, writeFileSync } from "node:fs";
import { UnknownKernelTypeError, VMLINUX, declareKernelTypes, readBtf } from "../../compiler/declarations/index.js";
import { BtfError, type Btf } from "../../compiler/btf/index.js";
import { ExitCode, UserError, fileError } from "../exit-codes.js";
import { fileErrorText } from "../../compiler/file-error.js";
import { integerOption, isElf } from "../input.js";
import { writeOut } from "../output.js";

/** The file at `path` starts with ELF's magic. */
function isElfFile(path: string): boolean {
  try {
    return isElf(readFileSync(path).subarray(0, 4));
  } catch {
    return false;
  }
}

export async function handler(argv: Record<string, unknown>): Promise<number> {
  const types = ((argv.types as (string | number)[] | undefined) ?? []).map(String);
  if (!types.length) throw new UserError("name at least one kernel type, e.g. tsbpf btf filename task_struct");
  if (types.some((t) => t.trim() === "")) throw new UserError("a kernel type's name cannot be empty: name each one, e.g. tsbpf btf filename task_struct");
  const maxDepth = integerOption(argv, "depth", 0);
  const maxTypes = integerOption(argv, "max-types", 1);
  const path = (argv.btf as string | undefined) ?? VMLINUX;
  let btf: Btf;
  try {
    btf = readBtf(path);
  } catch (error) {
    // An object's BTF describes its own types, not the kernel's that "tsbpf/kernel" imports; its magic says nothing to a reader.
    if (error instanceof BtfError && isElfFile(path)) {
      throw new UserError(`cannot read BTF from ${path}: it is an ELF file; --btf takes a kernel's BTF, as /sys/kernel/btf/vmlinux or a module's /sys/kernel/btf/MODULE`);
    }
    throw new UserError(`cannot read BTF from ${path}: ${fileErrorText(error)}`, path === VMLINUX ? ExitCode.NO_PERMISSION : ExitCode.USAGE);
  }
  const out = argv.output as string | undefined;
  const source = `tsbpf btf ${types.join(" ")}${path === VMLINUX ? "" : ` --btf ${path}`}`;
  let text: string;
  try {
    text = declareKernelTypes(btf, types, { maxDepth, maxTypes, source }).text;
  } catch (error) {
    if (error instanceof UnknownKernelTypeError) throw new UserError(error.message);
    throw error;
  }
  if (out) {
    try {
      writeFileSync(out, text);
    } catch (error) {
      throw fileError("write", out, error);
    }
  } else writeOut(text);
  return ExitCode.OK;
}
