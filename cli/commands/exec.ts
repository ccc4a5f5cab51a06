// `tsbpf exec [MEMORY]`: runs bytecode from standard input in the VM, speaking the plugin
// protocol of BPF conformance runners: program as hex bytes on stdin (or an ELF object with
// --elf), initial memory as hex in the first argument, r1 = its address, r2 = its length;
// prints r0 in hex and exits 0, or prints the reason on stderr and exits non-zero.
import { IsaError, decode, type Insn } from "../../compiler/isa/index.js";
import { ElfError, readBpfObject } from "../../compiler/elf/index.js";
import { SimKernel } from "../../runtime/vm/kernel.js";
import { createVmEnv } from "../../runtime/vm/helpers/index.js";
import { BudgetExceeded, VmError, VmLoadError } from "../../runtime/vm/vm.js";
import { selectTier, type TierChoice } from "../../runtime/vm/tiers.js";
import { Vm } from "../../runtime/vm/vm.js";
import { ExitCode, UserError } from "../exit-codes.js";
import { integerOption, parseHexBytes, readStdin } from "../input.js";
import { writeOut } from "../output.js";

export async function handler(argv: Record<string, unknown>): Promise<number> {
  if (argv.section !== undefined && !argv.elf) throw new UserError("--section picks a program of an ELF object: give --elf too (without it standard input is hex bytes)");
  const input = await readStdin();
  const insns = argv.elf ? programFromElf(input, argv.section as string | undefined) : programFromHex(input);
  const memory = parseHexBytes((argv.memory as string | undefined) ?? "", "memory argument");
  const budget = integerOption(argv, "budget", 1);

  const kernel = new SimKernel();
  const env = createVmEnv({ kernel });
  const vm = new Vm({ tier: selectTier(argv.tier as TierChoice) });
  try {
    const program = vm.load(insns, env, { budget });
    const { r0 } = vm.runOnBuffer(program, memory);
    writeOut(`0x${r0.toString(16)}\n`);
    return ExitCode.OK;
  } catch (error) {
    if (error instanceof VmLoadError) throw new UserError(`invalid program: ${error.message}`, ExitCode.REJECTED);
    if (error instanceof BudgetExceeded || error instanceof VmError) throw new UserError(error.message, ExitCode.FAULT);
    throw error;
  }
}

function programFromHex(input: Buffer): Insn[] {
  const bytes = parseHexBytes(input, "standard input", "this is an ELF object: tsbpf exec --elf runs one");
  // Nothing given is a usage error; a program the VM cannot run is exit 3, as a verifier's refusal.
  if (bytes.length === 0) throw new UserError("standard input holds no program: give its instructions as hex bytes (tsbpf exec < prog.hex), or an ELF object with --elf");
  try {
    return decode(bytes);
  } catch (error) {
    if (error instanceof IsaError) throw new UserError(`invalid program: ${error.message}`, ExitCode.REJECTED);
    throw error;
  }
}

function programFromElf(input: Buffer, section: string | undefined): Insn[] {
  let object;
  try {
    object = readBpfObject(input);
  } catch (error) {
    if (error instanceof ElfError) throw new UserError(`standard input: ${error.message}`);
    throw error;
  }
  const programs = object.programs;
  const program = section === undefined ? programs[0] : programs.find((p) => p.section === section || p.name === section);
  if (!program) {
    const names = programs.map((p) => `${p.section} (${p.name})`).join(", ") || "none";
    throw new UserError(section === undefined ? "the object has no programs" : `no program in section '${section}'; programs: ${names}`);
  }
  if (program.relocations.length > 0) {
    const symbols = [...new Set(program.relocations.map((r) => r.symbol))].join(", ");
    throw new UserError(`program ${program.name} references ${symbols}, which needs the loader; exec runs self-contained programs only`);
  }
  return program.insns;
}
