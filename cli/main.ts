#!/usr/bin/env node
// The tsbpf command line: thin yargs commands over the library. Each command module is
// imported only when it runs, so commands that do not compile never load TypeScript.
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { ExitCode, UserError } from "./exit-codes.js";

type Handler = (argv: Record<string, unknown>) => Promise<number | void>;

/** Wraps a lazily imported command so that every failure becomes one line and an exit code. */
function run(load: () => Promise<{ handler: Handler }>) {
  return async (argv: Record<string, unknown>) => {
    try {
      const { handler } = await load();
      process.exitCode = (await handler(argv)) ?? ExitCode.OK;
    } catch (error) {
      if (error instanceof UserError) {
        process.stderr.write(`tsbpf: ${error.message}\n`);
        process.exitCode = error.exitCode;
      } else {
        const detail = error instanceof Error ? (process.env.TSBPF_DEBUG ? error.stack : error.message) : String(error);
        process.stderr.write(`tsbpf: internal error: ${detail}\n(set TSBPF_DEBUG=1 for the stack trace and please report it)\n`);
        process.exitCode = ExitCode.INTERNAL;
      }
    }
  };
}

await yargs(hideBin(process.argv))
  .scriptName("tsbpf")
  .usage("$0 <command> [options]")
  .command(
    "exec [memory]",
    "Run raw BPF bytecode from standard input in the VM (the conformance-runner plugin protocol)",
    (y) =>
      y
        .positional("memory", { type: "string", describe: "initial memory as hex bytes separated by spaces; r1 points to it, r2 holds its length" })
        .option("elf", { type: "boolean", default: false, describe: "standard input is an ELF object, not hex bytes" })
        .option("section", { type: "string", describe: "with --elf: the program section to run (default: the first)" })
        .option("tier", { choices: ["auto", "interpreter", "compiled"] as const, default: "auto", describe: "which VM tier executes the program" })
        .option("budget", { type: "number", describe: "instruction budget (default 1,000,000)" }),
    run(() => import("./commands/exec.js")),
  )
  .command(
    "disasm <file>",
    "Disassemble a BPF ELF object (every program section) or raw bytecode",
    (y) =>
      y
        .positional("file", { type: "string", demandOption: true, describe: "an ELF object, a raw binary, or '-' for hex on standard input" })
        .option("style", { choices: ["kernel", "llvm"] as const, default: "kernel", describe: "the kernel's verifier-log syntax or llvm-objdump's" })
        .option("raw", { type: "boolean", default: false, describe: "treat the file as raw instructions even if it looks like ELF" }),
    run(() => import("./commands/disasm.js")),
  )
  .command(
    "run <file>",
    "Compile a TypeScript probe file (or reuse its cached object), load and attach it, and stream its bpf_printk output until Ctrl-C",
    (y) =>
      y
        .positional("file", { type: "string", demandOption: true, describe: "the probe file (.ts)" })
        .option("duration", { type: "number", describe: "detach and exit after this many seconds" })
        .option("json", { type: "boolean", default: false, describe: "one JSON object per output line" })
        .option("verbose", { type: "boolean", default: false, describe: "say whether the object came from the cache; print maps, verifier statistics, and the verifier log on rejection" })
        .option("cache", { type: "boolean", default: true, describe: "reuse and store compiled objects (--no-cache always compiles)" }),
    run(() => import("./commands/run.js")),
  )
  .command(
    "load <file>",
    "Load a BPF object into the kernel, attach its programs and stream their bpf_printk output until Ctrl-C",
    (y) =>
      y
        .positional("file", { type: "string", demandOption: true, describe: "a BPF ELF object (clang -target bpf, or tsbpf compile)" })
        .option("duration", { type: "number", describe: "detach and exit after this many seconds" })
        .option("json", { type: "boolean", default: false, describe: "one JSON object per output line" })
        .option("verbose", { type: "boolean", default: false, describe: "print maps, verifier statistics, and the verifier log on rejection" }),
    run(() => import("./commands/load.js")),
  )
  .command(
    "compile <file>",
    "Compile a TypeScript probe file to a BPF ELF object (libbpf layout; bpftool and tsbpf load read it)",
    (y) =>
      y
        .positional("file", { type: "string", demandOption: true, describe: "the probe file (.ts)" })
        .option("output", { alias: "o", type: "string", describe: "where to write the object (or, with --emit asm, the disassembly)" })
        .option("emit", { choices: ["obj", "asm"] as const, default: "obj", describe: "an ELF object, or the disassembly of every program" })
        .option("arch", { choices: ["x86_64"] as const, describe: "the architecture whose pt_regs layout probe arguments use (default: the host's)" }),
    run(() => import("./commands/compile.js")),
  )
  .command(
    "verify",
    "Check raw BPF instructions with tsbpf's verifier model and explain a rejection (exit 3)",
    (y) =>
      y
        .option("insns-hex", { type: "string", demandOption: true, describe: "the instructions as hex bytes (8 per slot, little-endian)" })
        .option("prog-type", { type: "string", demandOption: true, describe: "program type by the kernel's name: kprobe, socket_filter, tracepoint, xdp, sched_cls, ..." })
        .option("map", { type: "string", array: true, describe: "a map the program references: FD:TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES (TYPE e.g. hash, array, ringbuf)" })
        .option("unprivileged", { type: "boolean", default: false, describe: "check as an unprivileged loader (no pointer leaks, no loops)" })
        .option("strict-alignment", { type: "boolean", default: false, describe: "as BPF_F_STRICT_ALIGNMENT" })
        .option("json", { type: "boolean", default: false, describe: "print the verdict as one JSON object" })
        .option("log", { type: "boolean", default: false, describe: "print every processed instruction" }),
    run(() => import("./commands/verify.js")),
  )
  .demandCommand(1, "Name a command; see --help.")
  .strict()
  .recommendCommands()
  .exitProcess(true)
  .fail((message, error) => {
    if (error) throw error;
    process.stderr.write(`tsbpf: ${message}\nRun 'tsbpf --help' for usage.\n`);
    process.exit(ExitCode.USAGE);
  })
  .help()
  .parseAsync();
