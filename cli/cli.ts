// The tsbpf command line: thin yargs commands over the library. Each command module is
// imported only when it runs, so commands that do not compile never load TypeScript.
// yargs itself (with cliui, string-width and y18n, ~0.25 s to import) loads only when the
// fast path below cannot take the command line: `run`, `load` and `compile` start without it.
// Started by tsbpf.cts (the installed command) or main.ts; in the build's bundle, the `import()`s
// of command modules below load them from the bundle too (cli/bundle.cts).
import { readFileSync } from "node:fs";
import type { Options } from "yargs";
import { saveCodeCaches } from "../compiler/frontend/code-cache.cjs";
import { ExitCode, UserError } from "./exit-codes.js";
import { OutputError, writeErr } from "./output.js";
import { similarNames } from "../compiler/similar.js";

type Handler = (argv: Record<string, unknown>) => Promise<number | void>;
type CommandModule = { handler: Handler };

/** Wraps a lazily imported command so that every failure becomes one line and an exit code. */
/** Options that may be given more than once (yargs gives their values as an array). */
const REPEATABLE: ReadonlySet<string> = new Set(["set", "event-type", "program", "map", "types", "expression", "command", "pid", "record"]);

/** A single-valued option given twice is a usage error (yargs made it an array, which no command expects). */
function refuseRepeated(argv: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(argv)) {
    // Long names only: yargs also sets each alias and a camelCase copy.
    if (!Array.isArray(value) || name.length < 2 || /[A-Z]/.test(name) || name === "_" || name === "--" || REPEATABLE.has(name)) continue;
    throw new UserError(`--${name} was given more than once`);
  }
}

/**
 * Words after `--` (yargs gives them as `argv["--"]`, parserConfiguration "populate--") are a usage error: no command
 * takes any, and an option there (`tsbpf run f.ts -- --duration 1`) would otherwise be silently ignored.
 */
function refuseAfterDashes(argv: Record<string, unknown>): void {
  const words = argv["--"];
  if (!Array.isArray(words) || words.length === 0) return;
  const command = typeof (argv._ as unknown[] | undefined)?.[0] === "string" ? `tsbpf ${(argv._ as string[])[0]}` : "tsbpf";
  throw new UserError(`${command} takes nothing after -- (${words.map(String).join(" ")} would be ignored): give options before --`);
}

/**
 * yargs gives a lone `-` as a positional as "" (it parses `--file -` again, and `-` there is no value): the file is
 * `-` (standard input) again, for every command, unless the command line held an empty word itself.
 */
function stdinPositional(argv: Record<string, unknown>, args: readonly string[]): void {
  if (argv.file === "" && !args.includes("")) argv.file = "-";
}

function run(command: () => Promise<CommandModule>, args: readonly string[]) {
  return async (argv: Record<string, unknown>) => {
    try {
      stdinPositional(argv, args);
      refuseAfterDashes(argv);
      refuseRepeated(argv);
      const { handler } = await command();
      // Code caches missing for what this command loaded are written shortly after it starts, or at exit.
      saveCodeCaches();
      process.exitCode = (await handler(argv)) ?? ExitCode.OK;
    } catch (error) {
      if (error instanceof UserError || error instanceof OutputError) {
        writeErr(`tsbpf: ${error.message}\n`);
        process.exitCode = error instanceof UserError ? error.exitCode : ExitCode.USAGE;
      } else {
        const detail = error instanceof Error ? (process.env.TSBPF_DEBUG ? error.stack : error.message) : String(error);
        const hint = process.env.TSBPF_DEBUG ? "please report it" : "set TSBPF_DEBUG=1 for the stack trace and please report it";
        writeErr(`tsbpf: internal error: ${detail}\n(${hint})\n`);
        process.exitCode = ExitCode.INTERNAL;
      }
    }
  };
}

/** A command taking one positional and flat options: its options are data, shared by yargs and the fast path. */
interface SimpleCommand {
  positional: string;
  options: Record<string, Options & { type: "string" | "number" | "boolean" }>;
  load: () => Promise<CommandModule>;
}

/** `--backend` of compile, run and verify. */
const BACKEND_OPTION = { choices: ["own", "llvm"] as const, type: "string", requiresArg: true, default: "own", describe: "code generator: tsbpf's own, or LLVM (llc-19/clang-19, from the llvm-19 package)" } as const;

/** `--interval` of run and load. */
const INTERVAL_OPTION = { type: "number", requiresArg: true, describe: "also print the maps every this many seconds, each time headed by the time (they are printed at the end as well)" } as const;

/** `--perf-pages` of run and load. */
const PERF_PAGES_OPTION = {
  type: "number",
  requiresArg: true,
  describe: "pages per CPU each perf event array is read through, a power of two (default 8; bpftrace reads with 64): more hold longer bursts before records are dropped",
} as const;

/** `--command` and `--pid` of run and load (cli/target.ts). */
const TARGET_OPTIONS = {
  command: {
    alias: "c",
    type: "string",
    requiresArg: true,
    describe: "start this command (words split as sh splits them, without a shell) once the probes are attached; uprobes see only its process, and the run stops when it exits",
  },
  pid: { alias: "p", type: "number", requiresArg: true, describe: "uprobes see only this process, and the run stops when it exits" },
} as const;

/** `--record` of run and load. */
const RECORD_OPTION = { type: "string", requiresArg: true, describe: "write what arrives, and the probe hits that caused it, to this file (JSON lines) for tsbpf/test's replay()" } as const;

const simple = {
  run: {
    positional: "file",
    options: {
      expression: {
        alias: "e",
        type: "string",
        requiresArg: true,
        describe: "the probes themselves instead of a file, as bpftrace's -e: a probe file's body, with everything tsbpf exports imported and every map printed",
      },
      duration: { type: "number", requiresArg: true, describe: "detach and exit after this many seconds" },
      json: { type: "boolean", default: false, describe: "one JSON object per output line" },
      verbose: { type: "boolean", default: false, describe: "say whether the object came from the cache; print each map's definition, verifier statistics, and the verifier log on rejection" },
      cache: { type: "boolean", default: true, describe: "reuse and store compiled objects (--no-cache always compiles)" },
      backend: BACKEND_OPTION,
      record: RECORD_OPTION,
      interval: INTERVAL_OPTION,
      "perf-pages": PERF_PAGES_OPTION,
      ...TARGET_OPTIONS,
      set: {
        type: "string",
        requiresArg: true,
        describe: "give a parameter of the probes (a module-level `let`) a value before they load, as bpftrace's $1 (NAME=VALUE: an integer or true/false, an enumerator's name for a kernel enum one, text for a Str<N> one, or comma-separated elements for an Arr<T, N> one, ports=22,8080; repeatable)",
      },
      unsafe: { type: "boolean", default: false, describe: "allow probes that send signals (signal()), as bpftrace's --unsafe" },
    },
    load: () => import("./commands/run.js"),
  },
  load: {
    positional: "file",
    options: {
      duration: { type: "number", requiresArg: true, describe: "detach and exit after this many seconds" },
      json: { type: "boolean", default: false, describe: "one JSON object per output line" },
      verbose: { type: "boolean", default: false, describe: "print each map's definition, verifier statistics, and the verifier log on rejection" },
      "event-type": {
        type: "string",
        requiresArg: true,
        describe: "decode ring buffer and perf event records as this struct of the object's BTF (TYPE for every such map, or MAP=TYPE; repeatable) where the map names no record type",
      },
      record: RECORD_OPTION,
      interval: INTERVAL_OPTION,
      "perf-pages": PERF_PAGES_OPTION,
      ...TARGET_OPTIONS,
      set: {
        type: "string",
        requiresArg: true,
        describe: "give a global variable of the object a value before it loads, as a libbpf tool sets its const volatile knobs (NAME=VALUE: an integer, true/false, a string, or comma-separated elements for an array, targ_pids=12,34; repeatable)",
      },
      program: {
        type: "string",
        requiresArg: true,
        describe: "load and attach only this program, by its function name (repeatable), as a libbpf tool leaves others out with bpf_program__set_autoload(false)",
      },
    },
    load: () => import("./commands/load.js"),
  },
  compile: {
    positional: "file",
    options: {
      output: { alias: "o", type: "string", requiresArg: true, describe: "where to write the object (or, with --emit asm, the disassembly)" },
      emit: { choices: ["obj", "asm"] as const, type: "string", requiresArg: true, default: "obj", describe: "an ELF object, or the disassembly of every program" },
      arch: { choices: ["x86_64", "arm64"] as const, type: "string", requiresArg: true, describe: "the architecture whose pt_regs layout probe arguments use (default: the host's)" },
      backend: BACKEND_OPTION,
    },
    load: () => import("./commands/compile.js"),
  },
} satisfies Record<string, SimpleCommand>;

/** The options of the commands yargs alone parses, as data (as `simple`'s are): the builders and the "did you mean" of an unknown option read them. */
const other = {
  btf: {
    output: { alias: "o", type: "string", requiresArg: true, describe: "write the declarations to this file instead of standard output" },
    btf: { type: "string", requiresArg: true, describe: "the BTF to read (default /sys/kernel/btf/vmlinux)" },
    depth: { type: "number", requiresArg: true, describe: "how many levels of referenced types to expand (default 1); deeper ones are opaque" },
    "max-types": { type: "number", requiresArg: true, describe: "most types expanded in one file (default 200)" },
  },
  verify: {
    "insns-hex": { type: "string", requiresArg: true, describe: "instead of a file: the instructions as hex bytes (8 per slot, little-endian)" },
    "prog-type": { type: "string", requiresArg: true, describe: "program type by the kernel's name: kprobe, socket_filter, tracepoint, xdp, sched_cls, ... (needed with --insns-hex; for a file it overrides the section's)" },
    program: { type: "string", requiresArg: true, describe: "with a file: check only this program (function name)" },
    backend: { ...BACKEND_OPTION, describe: "with a probe file (.ts): the code generator that compiles it, tsbpf's own or LLVM (llc-19/clang-19, from the llvm-19 package)" },
    map: { type: "string", array: true, requiresArg: true, describe: "with --insns-hex: a map the program references: FD:TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES (TYPE e.g. hash, array, ringbuf)" },
    unprivileged: { type: "boolean", default: false, describe: "with --insns-hex: check as an unprivileged loader (no pointer leaks, no loops)" },
    "strict-alignment": { type: "boolean", default: false, describe: "with --insns-hex: as BPF_F_STRICT_ALIGNMENT" },
    json: { type: "boolean", default: false, describe: "print the verdict as one JSON object" },
    log: { type: "boolean", default: false, describe: "print every processed instruction (kernel-style, with source lines when the object has line info)" },
  },
  list: {
    json: { type: "boolean", default: false, describe: "one JSON object per probe" },
    verbose: { alias: "v", type: "boolean", default: false, describe: "with each tracepoint, its fields and their TypeScript types (what ctx.FIELD gives a probe); with each raw tracepoint, its parameters' types" },
  },
  exec: {
    elf: { type: "boolean", default: false, describe: "standard input is an ELF object, not hex bytes" },
    section: { type: "string", requiresArg: true, describe: "with --elf: the program section to run (default: the first)" },
    tier: { choices: ["auto", "interpreter", "compiled"] as const, requiresArg: true, default: "auto", describe: "which VM tier executes the program" },
    budget: { type: "number", requiresArg: true, describe: "instruction budget (default 1,000,000)" },
  },
  disasm: {
    style: { choices: ["kernel", "llvm"] as const, requiresArg: true, default: "kernel", describe: "the kernel's verifier-log syntax or llvm-objdump's" },
    raw: { type: "boolean", default: false, describe: "treat the file as raw instructions even if it looks like ELF" },
  },
} satisfies Record<string, Record<string, Options>>;

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * A simple command's arguments as yargs would give them, for the plain forms only (`--name value`,
 * `--name=value`, `-o value`, `--flag`, `--no-flag`, one positional); undefined for anything else (help,
 * unknown or repeated options, a wrong choice or number, `--`, values that start with `-`, too few or too many
 * positionals), which yargs then handles and explains. Parsed here because even yargs-parser costs 15-25 ms
 * to import.
 */
function parseSimple(args: readonly string[]): { command: SimpleCommand; argv: Record<string, unknown> } | undefined {
  const name = args[0] ?? "";
  const command: SimpleCommand | undefined = Object.hasOwn(simple, name) ? simple[name as keyof typeof simple] : undefined;
  if (!command) return undefined;
  const flags = new Map<string, string>();
  for (const [n, o] of Object.entries(command.options)) {
    flags.set(`--${n}`, n);
    if (typeof o.alias === "string") flags.set(o.alias.length === 1 ? `-${o.alias}` : `--${o.alias}`, n);
  }
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!;
    // A lone "-" is a positional: standard input.
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    let key = flags.get(flag);
    let negated = false;
    if (key === undefined && flag.startsWith("--no-")) {
      key = flags.get(`--${flag.slice(5)}`);
      negated = true;
    }
    if (key === undefined || Object.hasOwn(values, key)) return undefined;
    const option = command.options[key as keyof typeof command.options] as SimpleCommand["options"][string];
    if (negated && (option.type !== "boolean" || inline !== undefined)) return undefined;
    let value: unknown;
    if (option.type === "boolean") {
      if (negated) value = false;
      else if (inline === undefined) {
        // `--json true` takes the word as the flag's value in yargs.
        if (args[i + 1] === "true" || args[i + 1] === "false") return undefined;
        value = true;
      } else if (inline === "true" || inline === "false") value = inline === "true";
      // yargs would read any other word as true.
      else throw new UserError(`--${key} is a flag: give it alone, or as --${key}=true or --${key}=false, not --${key}=${inline}`);
    } else {
      const text = inline ?? args[++i];
      if (text === undefined || (inline === undefined && text.startsWith("-"))) return undefined;
      if (option.type === "number") {
        // Not a number: the text as given, for the option's check to say what it got (yargs would give NaN).
        value = NUMBER.test(text) || /^[+-]?Infinity$/.test(text) ? Number(text) : text;
      } else {
        if (option.choices && !(option.choices as readonly unknown[]).includes(text)) return undefined;
        value = text;
      }
    }
    values[key] = value;
  }
  // One positional, or none where the command's input is an option (`run -e TEXT`).
  if (positionals.length > 1 || (positionals.length === 0 && !Object.hasOwn(values, "expression"))) return undefined;
  const argv: Record<string, unknown> = { _: [name], ...(positionals.length ? { [command.positional]: positionals[0] } : {}), $0: "tsbpf" };
  for (const [n, o] of Object.entries(command.options)) {
    const value = Object.hasOwn(values, n) ? values[n] : o.default;
    if (value === undefined) continue;
    argv[n] = value;
    if (typeof o.alias === "string") argv[o.alias] = value;
  }
  return { command, argv };
}

/**
 * tsbpf's own version, from its package.json (../ from the sources, ../../ from dist/cli). yargs would print the
 * version of whatever package.json it finds first, which in a user's project is the project's.
 */
function ownVersion(): string {
  for (const up of ["../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "tsbpf" && pkg.version) return pkg.version;
    } catch {
      // not there: try the next level
    }
  }
  return "unknown";
}

/** Runs the command line `args` (process.argv without node and the script); the exit code is set on `process`. */
export async function main(args: readonly string[]): Promise<void> {
  // Node opens its inspector on SIGUSR1 unless the signal has a listener: in a root process holding BPF programs, a
  // debugger any local user could attach to.
  process.on("SIGUSR1", () => {});
  let fast: ReturnType<typeof parseSimple>;
  try {
    fast = parseSimple(args);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    writeErr(`tsbpf: ${error.message}\n`);
    process.exitCode = error.exitCode;
    return;
  }
  if (fast) return run(fast.command.load, args)(fast.argv);
  // Everything else (help, usage errors, the other commands) goes through yargs.
  const yargs = (await import("yargs")).default;
  await yargs([...args])
    .scriptName("tsbpf")
    .usage("$0 <command> [options]")
    .command(
      "run [file]",
      "Compile a TypeScript probe file (or reuse its cached object), load and attach it, stream its output (printf and bpf_printk lines, ring and perf buffer events) until Ctrl-C or --duration, then print its maps",
      (y) =>
        y
          .positional("file", { type: "string", describe: "the probe file (.ts); - reads it from standard input; or give the probes with -e" })
          .options(simple.run.options),
      run(simple.run.load, args),
    )
    .command(
      "load <file>",
      "Load a BPF object into the kernel, attach its programs, stream their output (printf and bpf_printk lines, ring and perf buffer events) until Ctrl-C or --duration, then print its maps",
      (y) =>
        y
          .positional("file", { type: "string", demandOption: true, describe: "a BPF ELF object (clang -target bpf, or tsbpf compile); - reads it from standard input" })
          .options(simple.load.options),
      run(simple.load.load, args),
    )
    .command(
      "compile <file>",
      "Compile a TypeScript probe file to a BPF ELF object (libbpf layout; bpftool and tsbpf load read it)",
      (y) =>
        y
          .positional("file", { type: "string", demandOption: true, describe: "the probe file (.ts); - reads it from standard input" })
          .options(simple.compile.options),
      run(simple.compile.load, args),
    )
    .command(
      "btf <types..>",
      "Print TypeScript declarations for kernel types from BTF (for editors; import them from \"tsbpf/kernel\")",
      (y) =>
        y
          .positional("types", { type: "string", array: true, default: undefined, describe: "C type names: structs, unions, enums, typedefs (e.g. filename task_struct), enum constants (TCP_ESTABLISHED), or kprobe:FN, kretprobe:FN, rawtracepoint:NAME for those handlers' parameter types" })
          .options(other.btf),
      run(() => import("./commands/btf.js"), args),
    )
    .command(
      "verify [file]",
      "Check a probe file (.ts), a BPF ELF object (clang's too) or raw instructions with tsbpf's verifier model; explain a rejection by source line (exit 3)",
      (y) =>
        y
          .positional("file", { type: "string", describe: "a probe file (.ts, compiled first) or a BPF ELF object; - reads either from standard input" })
          .options(other.verify),
      run(() => import("./commands/verify.js"), args),
    )
    .command(
      "list [pattern]",
      "List what can be probed, as bpftrace -l does: tracepoints, raw tracepoints, kernel functions (where kprobes attach), a binary's functions and USDT probes, software and hardware events, each as the tsbpf call that probes it",
      (y) =>
        y
          .positional("pattern", {
            type: "string",
            describe:
              "tracepoint:GROUP:NAME, rawtracepoint:NAME, kprobe:FUNCTION, uprobe:BINARY[:FUNCTION], usdt:BINARY[:[PROVIDER:]NAME], " +
              "software:EVENT or hardware:EVENT, each part a glob (* and ?); a bare glob matches tracepoints, kernel functions and perf events; none lists them all",
          })
          .options(other.list)
          .example("$0 list 'tracepoint:syscalls:sys_enter_*'", "the syscall entry tracepoints")
          .example("$0 list uprobe:libc.so.6:'*unlink*'", "libc's functions named like unlink")
          .example("$0 list usdt:/usr/bin/python3", "CPython's USDT probes, with their arguments"),
      run(() => import("./commands/list.js"), args),
    )
    .command(
      "exec [memory]",
      "Run raw BPF bytecode from standard input in the VM (the conformance-runner plugin protocol)",
      (y) =>
        y
          .positional("memory", { type: "string", describe: "initial memory as hex bytes separated by spaces; r1 points to it, r2 holds its length" })
          .options(other.exec),
      run(() => import("./commands/exec.js"), args),
    )
    .command(
      "disasm <file>",
      "Disassemble a BPF ELF object (every program section) or raw bytecode",
      (y) =>
        y
          .positional("file", { type: "string", demandOption: true, describe: "an ELF object, a raw binary, or '-' for hex (or an ELF object) on standard input" })
          .options(other.disasm),
      run(() => import("./commands/disasm.js"), args),
    )
    .demandCommand(1, NO_COMMAND)
    // Words after `--` kept apart, for refuseAfterDashes to name.
    .parserConfiguration({ "populate--": true })
    .strict()
    .recommendCommands()
    .exitProcess(true)
    .fail((text, error, y) => {
      // yargs's own parse errors (an option without its value) arrive as a YError: usage errors too.
      if (error && error.name !== "YError") throw error;
      const message = text ?? error?.message ?? "";
      // No command at all: the usage, as other tools print it.
      if (message === NO_COMMAND) y.showHelp((text: string) => writeErr(`${text}\n\n`));
      const command = COMMANDS.includes(args[0] ?? "") ? args[0] : undefined;
      writeErr(`tsbpf: ${usageMessage(message, args, command)}\nRun 'tsbpf ${command ? `${command} ` : ""}--help' for usage.\n`);
      process.exit(ExitCode.USAGE);
    })
    .version(ownVersion())
    .epilogue(EXIT_CODES)
    .help()
    .alias("h", "help")
    .parseAsync();
}

const NO_COMMAND = "name a command";
const COMMANDS = ["run", "load", "compile", "verify", "btf", "list", "exec", "disasm"];
const EXIT_CODES =
  "Exit codes: 0 success, 1 internal error (a bug in tsbpf), 2 usage (a bad command line, or a file that cannot be read or written), " +
  "3 rejected by the compiler or a verifier, 4 no permission or a kernel feature missing, 5 a fault in the VM.";

/** yargs's usage messages as one sentence in tsbpf's words, naming the option as it is typed. */
export function usageMessage(message: string, args: readonly string[], command: string | undefined): string {
  const first = args[0] ?? "";
  if (!command && first && !first.startsWith("-")) {
    // recommendCommands() gives "Did you mean run?" for a near miss.
    const near = /^Did you mean (\w+)\?$/.exec(message);
    return `unknown command ${first}${near ? `; did you mean ${near[1]}?` : ""} (the commands are ${COMMANDS.join(", ")})`;
  }
  let m: RegExpExecArray | null;
  if ((m = /^Not enough arguments following: (.+)$/.exec(message))) return `${m[1]!.length === 1 ? "-" : "--"}${m[1]} needs a value`;
  if ((m = /^Not enough non-option arguments: got 0, need at least (\d+)$/.exec(message))) return `tsbpf ${command ?? ""} needs ${command === "btf" ? "at least one type name" : "a file"}`.replace("  ", " ");
  if ((m = /^Unknown arguments?: (.+)$/.exec(message))) {
    const unknown = m[1]!.split(", ");
    // As typed: yargs names `--no-cahce` as cahce.
    const typed = (u: string) => args.find((a) => a.startsWith("-") && [u, `no-${u}`].includes(a.replace(/^--?/, "").split("=")[0]!));
    const options = unknown.filter((u) => typed(u) !== undefined);
    if (options.length) {
      const named = options.map((o) => {
        const as = typed(o)!.split("=")[0]!;
        const near = nearOption(o, command, as.startsWith("--no-"));
        return { as, near };
      });
      if (named.length === 1) return `unknown option ${named[0]!.as}${named[0]!.near ? `; did you mean ${named[0]!.near}?` : ""}`;
      return `unknown options ${named.map(({ as, near }) => (near ? `${as} (did you mean ${near}?)` : as)).join(", ")}`;
    }
    const one = command === "list" ? "pattern" : command === "exec" ? "memory argument (the program comes on standard input)" : "file";
    return `unexpected argument ${unknown.join(", ")}: tsbpf ${command ?? ""} takes one ${one}`.replace("  ", " ");
  }
  if ((m = /^Invalid values:\s+Argument: ([\w-]+), Given: "?([^"]*)"?, Choices: (.+)$/s.exec(message.trim()))) {
    return `--${m[1]} takes ${m[3]!.replace(/"/g, "").split(", ").join(", ")}, not ${m[2]}`;
  }
  return message;
}

/** The long options `command` takes (without --), each with its one-letter alias if it has one and its type. */
function optionsOf(command: string | undefined): Map<string, Options> {
  const table: Record<string, Options> = command === undefined ? {} : Object.hasOwn(simple, command) ? simple[command as keyof typeof simple].options : Object.hasOwn(other, command) ? other[command as keyof typeof other] : {};
  return new Map<string, Options>([["help", { alias: "h", type: "boolean" }], ["version", { type: "boolean" }], ...Object.entries(table)]);
}

/**
 * The option a misspelt one most likely meant, as typed (`--command (-c)`, `--no-cache` for a negated flag): the
 * shortest one it abbreviates (--cmd for --command: its letters in order, from the first), else a near spelling
 * (--jsno for --json). A single letter is too short to guess from.
 */
function nearOption(typed: string, command: string | undefined, negated: boolean): string | undefined {
  if (typed.length < 2) return undefined;
  const options = optionsOf(command);
  const names = [...options.keys()].filter((n) => !negated || options.get(n)!.type === "boolean");
  // Its letters in `name` in order: each found after the one before.
  const abbreviates = (name: string): boolean => {
    let from = 0;
    return name[0] === typed[0] && [...typed].every((c) => (from = name.indexOf(c, from) + 1) > 0);
  };
  const near = names.filter(abbreviates).sort((a, b) => a.length - b.length)[0] ?? similarNames(typed, names, 1)[0];
  if (near === undefined) return undefined;
  const alias = options.get(near)!.alias;
  return negated ? `--no-${near}` : `--${near}${typeof alias === "string" ? ` (-${alias})` : ""}`;
}
