// The command line given what a user might give it by mistake: a compiled object or a binary where a probe file
// belongs, a host executable or an object with broken BTF where a BPF object belongs, and --duration values a timer
// cannot hold, and numeric options out of range, and a probe file without probes. Each ends with one line on standard error and the documented exit code, never an internal error.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "../../compiler/index.js";
import { readElf } from "../../compiler/elf/index.js";
import { BtfKind, parseBtf } from "../../compiler/btf/index.js";
import { streamObject } from "../../cli/stream.js";
import { parseDuration } from "../../cli/stream-options.js";
import { usageMessage } from "../../cli/cli.js";
import { handler as loadCommand } from "../../cli/commands/load.js";
import { handler as disasmCommand } from "../../cli/commands/disasm.js";
import { handler as btfCommand } from "../../cli/commands/btf.js";
import { ExitCode, UserError } from "../../cli/exit-codes.js";
import { parseHexBytes } from "../../cli/input.js";
import { missingRoot, missingTracefs } from "../../runtime/sys/index.js";
import { CLI } from "../support/cli.js";
import { tracepointFormat } from "../support/fixture-kernel.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PROBE = join(ROOT, "examples/unlink-tracepoint.ts");
/** A probe that compiles without tracefs (whose tracepoint formats only root may read): for the commands that compile. */
const KPROBE = join(ROOT, "examples/unlink.ts");

/** `tsbpf ARGS` from the sources, `input` on standard input; its exit status, standard output and standard error. */
function tsbpfWith(input: string | Buffer, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000, input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tsbpf = (...args: string[]) => tsbpfWith("", ...args);

/** Exit `status` with a single line on standard error matching `message`. */
function assertOneLine(r: { status: number | null; stderr: string }, status: number, message: RegExp): void {
  assert.equal(r.status, status, r.stderr);
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /internal error/);
}

function withTempDir(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-bad-input-"));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function withTempDirAsync(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-bad-input-"));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A compiled probe with its .BTF section's bytes changed by `edit` (given the section's offset in the file). */
function objectWithBtfEdit(probe: string, edit: (view: DataView, btfOffset: number) => void): Uint8Array {
  const { object, diagnostics } = compile(probe, { tracepointFormat });
  assert.deepEqual(diagnostics, []);
  const bytes = object.slice();
  const btf = readElf(bytes).sections.find((s) => s.name === ".BTF");
  assert.ok(btf, "the object has BTF");
  edit(new DataView(bytes.buffer, bytes.byteOffset), btf.offset);
  return bytes;
}

// btf_header.type_len, after magic, version, flags, hdr_len and type_off: a type section longer than the section.
const brokenHeader = (view: DataView, at: number) => view.setUint32(at + 12, 0x7fff_0000, true);

/** Points the first struct member's type at an id that does not exist (the parser only notices when it is read). */
function danglingMember(view: DataView, at: number): void {
  const btf = parseBtf(new Uint8Array(view.buffer, view.byteOffset + at, view.byteLength - at));
  const struct = [...btf.types()].find((t) => t.kind === BtfKind.STRUCT && t.members.length > 0);
  assert.ok(struct, "the object's BTF has a struct with members");
  // A struct record: name_off, info, size, then per member name_off, type, offset.
  view.setUint32(at + btf.recordOffset(struct.id) + 16, 0xffff, true);
}

test("compile refuses an ELF file as a probe, pointing to tsbpf load, and verify a host executable as a BPF object (exit 2)", () => {
  assertOneLine(tsbpf("compile", "/bin/true", "--emit", "asm"), 2, /\/bin\/true is an ELF file, not a TypeScript probe; .*tsbpf load \/bin\/true/);
  assertOneLine(tsbpf("verify", "/bin/true"), 2, /not a BPF object: wrong machine \d+: expected 247/);
});

test("a binary file given as a probe is refused in one line, not printed as TypeScript's source line (exit 2)", () => {
  withTempDir((dir) => {
    const file = join(dir, "junk.ts");
    writeFileSync(file, Buffer.from([0x00, 0xff, 0x10, 0x00, 0x41]));
    assertOneLine(tsbpf("compile", file, "--emit", "asm"), 2, /junk\.ts is a binary file, not a TypeScript probe/);
    assertOneLine(tsbpf("verify", file), 2, /junk\.ts is a binary file/);
  });
});

test("an object whose BTF is malformed is a usage error naming the file and the BTF (exit 2)", () => {
  withTempDir((dir) => {
    const file = join(dir, "broken.bpf.o");
    writeFileSync(file, objectWithBtfEdit(PROBE, brokenHeader));
    assertOneLine(tsbpf("verify", file), 2, /broken\.bpf\.o: the object's BTF is malformed: BTF: /);
    writeFileSync(file, objectWithBtfEdit(join(ROOT, "examples/opensnoop.ts"), danglingMember));
    assertOneLine(tsbpf("verify", file), 2, /broken\.bpf\.o: the object's BTF is malformed: BTF: no type \[65535\]/);
  });
});

test("--event-type values that name no C type, or one map twice, are refused before anything loads (exit 2)", () => {
  assertOneLine(tsbpf("load", "/nonexistent.o", "--event-type", "a b"), 2, /^tsbpf: --event-type takes TYPE or MAP=TYPE \(a C struct name such as event, or events=event\), not a b\n$/);
  assertOneLine(tsbpf("load", "/nonexistent.o", "--event-type", "rb=x", "--event-type", "rb=y"), 2, /^tsbpf: --event-type gives map rb a type twice\n$/);
});

test("--duration that no timer can hold, or given twice, is refused before anything loads (exit 2)", () => {
  assertOneLine(tsbpf("run", PROBE, "--duration", "Infinity"), 2, /--duration can be at most 2147483 seconds/);
  assertOneLine(tsbpf("load", "/nonexistent.o", "--duration", "1e10"), 2, /--duration can be at most/);
  assertOneLine(tsbpf("run", PROBE, "--duration", "1", "--duration", "2"), 2, /--duration was given more than once/);
});

test("numeric options out of range or not numbers are usage errors, not silently unlimited (exit 2)", () => {
  const program = "b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00";
  assertOneLine(tsbpfWith(program, "exec", "--budget", "abc"), 2, /--budget must be a whole number of at least 1, not a word/);
  assertOneLine(tsbpfWith(program, "exec", "--budget", "0"), 2, /--budget must be a whole number of at least 1, not 0/);
  assertOneLine(tsbpf("btf", "filename", "--depth", "-1"), 2, /--depth must be a whole number of at least 0, not -1/);
  assertOneLine(tsbpf("btf", "filename", "--max-types", "0"), 2, /--max-types must be a whole number of at least 1, not 0/);
});

test("disasm - reads hex from standard input, as its help says", () => {
  const r = tsbpfWith("b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00", "disasm", "-");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "0: (b7) r0 = 42\n1: (95) exit\n");
});

test("--duration that is not a positive number says what it got, a word as a word (exit 2)", () => {
  for (const [value, shown] of [[Number.NaN, "a word"], [-1, "-1"], [0, "0"]] as const) {
    assert.throws(
      () => parseDuration(value),
      (e: unknown) => e instanceof UserError && e.exitCode === ExitCode.USAGE && e.message === `--duration must be a positive number of seconds, not ${shown}`,
    );
  }
});

test("--duration, --interval and --pid given a word say the word (exit 2)", () => {
  assertOneLine(tsbpf("run", PROBE, "--duration", "abc"), 2, /^tsbpf: --duration must be a positive number of seconds, not abc\n$/);
  assertOneLine(tsbpf("run", PROBE, "--interval=2x"), 2, /^tsbpf: --interval must be a positive number of seconds, not 2x\n$/);
  assertOneLine(tsbpf("load", "/nonexistent.o", "-p", "12x"), 2, /^tsbpf: --pid must be a process id \(a positive integer\), not 12x\n$/);
});

test("tsbpf run of a probe file that exports no probes says so in the file's terms (exit 2)", { skip: missingRoot() ?? false }, async () => {
  const file = "noprobes.ts";
  const { object, diagnostics } = compile({ fileName: file, text: 'export const license = "GPL";\n' });
  assert.deepEqual(diagnostics, []);
  await assert.rejects(
    streamObject(object, { file, name: "noprobes", source: "ts", log: () => {} }),
    (e: unknown) => e instanceof UserError && e.exitCode === ExitCode.USAGE && /^noprobes\.ts exports no probes, so there is nothing to load: export one, e\.g\. export const p = tracepoint\(/.test(e.message),
  );
});

test("a per-CPU map whose value is over the kernel's 32 KiB says so, underlined whole at its declaration (exit 2)", { skip: missingRoot() ?? false }, async () => {
  const file = "percpu.ts";
  const text = `import { tracepoint, PerCpuArrayMap, type Arr, type u8 } from "tsbpf";
export const license = "GPL";
export const m = new PerCpuArrayMap<Arr<u8, 40000>>(1);
export const p = tracepoint("syscalls", "sys_enter_getppid", () => {
  const v = m.lookup(0);
  if (v) v[5] = 1;
});
`;
  const { object, diagnostics } = compile({ fileName: file, text }, { tracepointFormat: () => "name: sys_enter_getppid\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\nprint fmt: \"\"\n" });
  assert.deepEqual(diagnostics, []);
  await assert.rejects(streamObject(object, { file, name: "percpu", source: "ts", sourceText: text, log: () => {} }), (e: unknown) => {
    assert.ok(e instanceof UserError && e.exitCode === ExitCode.USAGE, String(e));
    assert.match(e.message, /^percpu\.ts:3:18 - error TSBPF3005: the kernel refused to create map m \(type 6, key 4 B, value 40000 B, 1 entries, flags 0x0\): E2BIG; a per-CPU map's value can be at most 32768 B \(one copy for each CPU\): use a smaller value, or a map that is not per-CPU\n/);
    // The declaration up to its arguments (as for any map), its nested type arguments too.
    assert.match(e.message, new RegExp(`\n {19}~{${"new PerCpuArrayMap<Arr<u8, 40000>>(1".length}}$`));
    return true;
  });
});

test("yargs's usage errors read as one tsbpf sentence naming the command or option as typed", () => {
  const cases: [string, string[], string | undefined, string][] = [
    ["Did you mean run?", ["rn", "x.ts"], undefined, "unknown command rn; did you mean run? (the commands are run, load, compile, verify, btf, list, exec, disasm)"],
    ["Unknown argument: nosuch", ["nosuch"], undefined, "unknown command nosuch (the commands are run, load, compile, verify, btf, list, exec, disasm)"],
    ["Unknown argument: jsn", ["run", "x.ts", "--jsn"], "run", "unknown option --jsn; did you mean --json?"],
    ["Unknown argument: cmd", ["run", "x.ts", "--cmd", "ls"], "run", "unknown option --cmd; did you mean --command (-c)?"],
    ["Unknown argument: cahce", ["run", "x.ts", "--no-cahce"], "run", "unknown option --no-cahce; did you mean --no-cache?"],
    ["Unknown argument: outptu", ["compile", "x.ts", "--outptu=y"], "compile", "unknown option --outptu; did you mean --output (-o)?"],
    ["Unknown argument: lgo", ["verify", "x.ts", "--lgo"], "verify", "unknown option --lgo; did you mean --log?"],
    ["Unknown arguments: jsno, zzzzzz", ["run", "x.ts", "--jsno", "--zzzzzz"], "run", "unknown options --jsno (did you mean --json?), --zzzzzz"],
    ["Unknown argument: q", ["run", "x.ts", "-q"], "run", "unknown option -q"],
    ["Unknown argument: b", ["disasm", "a", "b"], "disasm", "unexpected argument b: tsbpf disasm takes one file"],
    ["Not enough arguments following: duration", ["run", "x.ts", "--duration"], "run", "--duration needs a value"],
    ["Not enough arguments following: o", ["compile", "x.ts", "-o"], "compile", "-o needs a value"],
    ["Not enough non-option arguments: got 0, need at least 1", ["compile"], "compile", "tsbpf compile needs a file"],
    ['Invalid values:\n  Argument: tier, Given: "x", Choices: "auto", "interpreter", "compiled"', ["exec", "--tier", "x"], "exec", "--tier takes auto, interpreter, compiled, not x"],
  ];
  for (const [message, args, command, expected] of cases) assert.equal(usageMessage(message, args, command), expected);
});

test("tsbpf without a command prints the usage, and an option without its value is refused rather than ignored (exit 2)", () => {
  const none = tsbpf();
  assert.equal(none.status, 2, none.stderr);
  assert.match(none.stderr, /^tsbpf <command> \[options\]\n\nCommands:\n  tsbpf run \[file\] /);
  assert.match(none.stderr, /\nExit codes: 0 success, /);
  const valueless = tsbpf("run", PROBE, "--duration");
  assert.equal(valueless.status, 2, valueless.stderr);
  assert.equal(valueless.stderr, "tsbpf: --duration needs a value\nRun 'tsbpf run --help' for usage.\n");
});

test("every option that takes a value refuses to go without one, rather than being dropped (exit 2)", () => {
  const cases: [string[], string][] = [
    [["run", PROBE, "--duration", "0.1", "--pid"], "--pid"],
    [["run", PROBE, "--duration", "0.1", "-p"], "-p"],
    [["run", PROBE, "--duration", "0.1", "--interval"], "--interval"],
    [["run", PROBE, "-c"], "-c"],
    [["run", PROBE, "--set"], "--set"],
    [["load", "/nonexistent.o", "--interval"], "--interval"],
    [["load", "/nonexistent.o", "--pid"], "--pid"],
    [["load", "/nonexistent.o", "--set"], "--set"],
    [["verify", PROBE, "--map"], "--map"],
  ];
  for (const [args, option] of cases) {
    const r = tsbpf(...args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.split("\n")[0], `tsbpf: ${option} needs a value`, args.join(" "));
  }
});

test("words after -- are a usage error naming them, not silently ignored (exit 2)", () => {
  assertOneLine(tsbpf("run", PROBE, "--", "--duration", "1"), 2, /^tsbpf: tsbpf run takes nothing after -- \(--duration 1 would be ignored\): give options before --\n$/);
  assertOneLine(tsbpf("load", "/nonexistent.o", "--", "-p", "1"), 2, /^tsbpf: tsbpf load takes nothing after -- \(-p 1 would be ignored\)/);
});

test("--event-type naming a type the object's BTF lacks is refused even where the map names its own record type (exit 2)", { skip: missingRoot() ?? false }, async () => {
  const { object, diagnostics } = compile(join(ROOT, "examples/opensnoop.ts"));
  assert.deepEqual(diagnostics, []);
  await assert.rejects(
    streamObject(object, { file: "opensnoop.bpf.o", name: "opensnoop", source: "c", eventTypes: new Map([["events", "OpenEvnt"]]), log: () => {} }),
    (e: unknown) => e instanceof UserError && e.exitCode === ExitCode.USAGE && e.message === "--event-type: the object's BTF has no struct, union or typedef named OpenEvnt; did you mean OpenEvent?",
  );
});

test("a truncated object is reported as possibly truncated, naming what lies past its end", () => {
  const { object } = compile(PROBE, { tracepointFormat });
  assert.throws(() => readElf(object.subarray(0, 200)), (e: unknown) => e instanceof Error && /lie outside the file \(200 bytes: is it truncated\?\)$/.test(e.message));
});

test("a probe file given to load or disasm names the command that takes it (exit 2)", async () => {
  const usage = (message: string) => (e: unknown) => e instanceof UserError && e.exitCode === ExitCode.USAGE && e.message === message;
  await assert.rejects(loadCommand({ file: PROBE }), usage(`${PROBE} is a TypeScript probe, not a compiled BPF object; tsbpf run ${PROBE} compiles and loads it`));
  await assert.rejects(
    disasmCommand({ file: PROBE, style: "kernel" }),
    usage(`${PROBE} is a TypeScript probe, not a compiled BPF object; tsbpf compile ${PROBE} --emit asm prints its programs' disassembly`),
  );
});

test("binary bytes where hex text belongs are named as binary, not echoed into the message; disasm - reads an ELF object as load - does", () => {
  const hex = 'give the instructions as hex bytes, such as "b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00"';
  const { object } = compile(PROBE, { tracepointFormat });
  assert.throws(() => parseHexBytes(Buffer.from([0x9c, 0x01, 0x02, 0xff]), "standard input"), (e: unknown) => e instanceof UserError && e.message === `standard input holds binary bytes, not hex text: ${hex}`);
  assert.throws(
    () => parseHexBytes(Buffer.from(object), "standard input", "this is an ELF object: tsbpf exec --elf runs one"),
    (e: unknown) => e instanceof UserError && e.message === `standard input holds binary bytes, not hex text: ${hex} (this is an ELF object: tsbpf exec --elf runs one)`,
  );
  assert.deepEqual([...parseHexBytes(Buffer.from("b7 00 00 00 2a 00 00 00\t95 00 00 00 00 00 00 00\r\n"), "standard input")].slice(0, 2), [0xb7, 0]);
  const r = tsbpfWith(Buffer.from(object), "disasm", "-");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^tracepoint\/syscalls\/sys_enter_unlinkat\/unlinkat:\n0: \(bf\) r6 = r1\n/);
});

test("btf --btf given a BPF object says --btf takes a kernel's BTF, not the BTF magic the object lacks (exit 2)", async () => {
  await withTempDirAsync(async (dir) => {
    const object = join(dir, "probe.bpf.o");
    writeFileSync(object, compile(PROBE, { tracepointFormat }).object);
    await assert.rejects(
      btfCommand({ types: ["task_struct"], btf: object }),
      (e: unknown) => e instanceof UserError && e.exitCode === ExitCode.USAGE && e.message === `cannot read BTF from ${object}: it is an ELF file; --btf takes a kernel's BTF, as /sys/kernel/btf/vmlinux or a module's /sys/kernel/btf/MODULE`,
    );
  });
});

test("disasm of an empty file is a usage error saying so, not an empty success (exit 2)", async () => {
  await withTempDirAsync(async (dir) => {
    const empty = join(dir, "empty.o");
    writeFileSync(empty, "");
    for (const raw of [false, true]) {
      await assert.rejects(
        disasmCommand({ file: empty, style: "kernel", raw }),
        (e: unknown) => e instanceof UserError && e.exitCode === ExitCode.USAGE && e.message === `${empty} is empty: give a BPF object, raw instructions, or their hex bytes on standard input (tsbpf disasm - < prog.hex)`,
      );
    }
  });
});

test("inputs read once: a pipe compiles, a device or directory is refused at once, and -o cannot overwrite the probe (exit 2)", () => {
  withTempDir((dir) => {
    // Process substitution: a pipe that can be read only once, as a FIFO.
    const piped = spawnSync("bash", ["-c", `"${process.execPath}" --import tsx cli/main.ts compile <(cat "${KPROBE}") -o "${join(dir, "p.o")}"`], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    assert.equal(piped.status, 0, piped.stderr);
    assertOneLine(tsbpf("load", "/dev/zero"), 2, /^tsbpf: cannot read \/dev\/zero: it is a device, not a file \(standard input is read as - or \/dev\/stdin\)\n$/);
    assertOneLine(tsbpf("compile", "/dev/zero", "-o", join(dir, "z.o")), 2, /^tsbpf: cannot read \/dev\/zero: it is a device, not a file \(standard input is read as - or \/dev\/stdin\)\n$/);
    assertOneLine(tsbpf("disasm", dir), 2, /^tsbpf: cannot read .*: it is a directory \(EISDIR\)\n$/);
    const self = join(dir, "self.ts");
    writeFileSync(self, "export const license = \"GPL\";\n");
    assertOneLine(tsbpf("compile", self, "-o", self), 2, /^tsbpf: -o .*self\.ts is the probe file itself: name another file for the object\n$/);
    // A probe file without a TypeScript extension is still TypeScript.
    const bare = join(dir, "probe");
    writeFileSync(bare, "import { kprobe, printk } from \"tsbpf\";\nexport const license = \"GPL\";\nexport const p = kprobe(\"f\", () => printk(\"x\"));\n");
    const compiled = tsbpf("compile", bare, "-o", join(dir, "bare.o"));
    assert.equal(compiled.status, 0, compiled.stderr);
  });
});

test("standard output on a full device is a usage error saying so, not an internal error (exit 2)", { skip: existsSync("/dev/full") ? false : "no /dev/full" }, () => {
  const full = openSync("/dev/full", "w");
  try {
    const r = spawnSync(process.execPath, [...CLI, "compile", KPROBE, "--emit", "asm"], { cwd: ROOT, encoding: "utf8", timeout: 60_000, stdio: ["ignore", full, "pipe"] });
    assertOneLine(r, 2, /^tsbpf: cannot write to standard output \(ENOSPC: no space left on the device it goes to\)\n$/);
  } finally {
    closeSync(full);
  }
});

test("/dev/stdin and /dev/fd/0 read standard input as - does, a socket's (which cannot be opened) or a terminal's", () => {
  // spawnSync's input reaches the child through a socket: opening /dev/stdin then fails with ENXIO.
  for (const name of ["/dev/stdin", "/dev/fd/0"]) {
    const r = tsbpfWith(readFileSync(join(ROOT, "examples/unlink.ts"), "utf8"), "compile", name, "--emit", "asm");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^kprobe\/do_unlinkat\/do_unlinkat:/m, name);
  }
  if (missingRoot()) return; // tsbpf run loads the probe
  const run = tsbpfWith('import { begin, printf, exit } from "tsbpf";\nexport const license = "GPL";\nbegin(() => { printf("read\\n"); exit(); });\n', "run", "/dev/stdin", "--no-cache");
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, "read\n");
});

test("- reads the probe file from standard input; -e twice, or -e beside a file, is a usage error saying so (exit 2)", () => {
  const fromStdin = tsbpfWith(readFileSync(join(ROOT, "examples/unlink.ts"), "utf8"), "compile", "-", "--emit", "asm");
  assert.equal(fromStdin.status, 0, fromStdin.stderr);
  assert.match(fromStdin.stdout, /^kprobe\/do_unlinkat\/do_unlinkat:/m);
  assertOneLine(tsbpf("run", "-e", "begin(() => exit())", "-e", "x"), 2, /^tsbpf: -e was given more than once: put every probe in one -e/);
  assertOneLine(tsbpf("run", "-e", "begin(() => exit())", PROBE), 2, /^tsbpf: give a probe file or -e, not both/);
});

test("- reads standard input however yargs takes the command line apart: with repeated options, a flag's value, -o -, and in verify (exit 0)", () => {
  const probe = readFileSync(join(ROOT, "examples/unlink.ts"), "utf8");
  // -o - goes past the fast path's parser to yargs, which gave a lone - as "" (a file that is not there).
  const compiled = spawnSync(process.execPath, [...CLI, "compile", "-", "-o", "-"], { cwd: ROOT, timeout: 60_000, input: probe });
  assert.equal(compiled.status, 0, String(compiled.stderr));
  assert.deepEqual([...compiled.stdout.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
  // verify - tells a probe from an object by the ELF magic.
  const text = tsbpfWith(probe, "verify", "-");
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^do_unlinkat \(kprobe\/do_unlinkat, kprobe\): accepted/);
  const object = spawnSync(process.execPath, [...CLI, "verify", "-", "--json"], { cwd: ROOT, encoding: "utf8", timeout: 60_000, input: compiled.stdout });
  assert.equal(object.status, 0, object.stderr);
  assert.match(object.stdout, /^\{"file":"\/dev\/stdin","accepted":true,/);
  // An empty word is not standard input.
  assertOneLine(tsbpf("compile", "", "-o", "-"), 2, /^tsbpf: the file name is empty: name a file, or - for standard input\n$/);
});

test("run - and load - read standard input with options yargs parses (repeated --set, --json true) (exit 2 for the unknown global)", { skip: missingRoot() ?? false }, () => {
  const probe = 'import { begin, exit } from "tsbpf";\nexport const license = "GPL";\nbegin(() => { exit(); });\n';
  // --set of a global the probe lacks fails after reading it: the message shows the file was read.
  const unknownGlobal = /^tsbpf: --set: the object has no global variable a; it has no global variables\n$/;
  assertOneLine(tsbpfWith(probe, "run", "-", "--no-cache", "--set", "a=1", "--set", "b=2"), 2, unknownGlobal);
  const json = tsbpfWith(probe, "run", "-", "--no-cache", "--json", "true");
  assert.equal(json.status, 0, json.stderr);
  const { object } = compile({ fileName: "p.ts", text: probe });
  const loaded = spawnSync(process.execPath, [...CLI, "load", "-", "--set", "a=1", "--set", "b=2"], { cwd: ROOT, encoding: "utf8", timeout: 60_000, input: object });
  assertOneLine(loaded, 2, unknownGlobal);
});

test("a flag given a word other than true or false is a usage error, not read as true (exit 2)", () => {
  assertOneLine(tsbpf("run", PROBE, "--json=maybe"), 2, /^tsbpf: --json is a flag: give it alone, or as --json=true or --json=false, not --json=maybe\n$/);
});

test("exec --section without --elf is a usage error saying so (exit 2)", () => {
  assertOneLine(tsbpfWith("b7 00 00 00 01 00 00 00 95 00 00 00 00 00 00 00", "exec", "--section", "x"), 2, /^tsbpf: --section picks a program of an ELF object: give --elf too/);
});

test("--record - is a usage error: standard output carries the run's output (exit 2)", () => {
  assertOneLine(tsbpf("run", PROBE, "--record", "-"), 2, /^tsbpf: --record needs a file name \(standard output carries the run's output\)\n$/);
  assert.equal(existsSync(join(ROOT, "-")), false, "no file named -");
});

test("--record naming the probe file a run reads is a usage error, and leaves the file as it was (exit 2)", () => {
  const before = readFileSync(PROBE);
  // Spelled otherwise, the same file.
  const same = PROBE.replace("/examples/", "/examples/./");
  const escape = (s: string) => s.replace(/[./()]/g, "\\$&");
  assertOneLine(tsbpf("run", PROBE, "--record", same), 2, new RegExp(`^tsbpf: --record ${escape(same)} is the file this run reads \\(${escape(PROBE)}\\): name another file for the recording\n$`));
  assert.deepEqual(readFileSync(PROBE), before);
});

test("compile of a file that is not there says so first, before asking for -o (exit 2)", () => {
  assertOneLine(tsbpf("compile", "/nonexistent/probe.ts"), 2, /^tsbpf: .*\/nonexistent\/probe\.ts.*(not found|no such|does not exist)/i);
  assertOneLine(tsbpf("compile", PROBE), 2, /^tsbpf: name the object file with -o FILE \(or use --emit asm to print the disassembly\)\n$/);
});

test("compile -o - writes the object to standard output", () => {
  const r = spawnSync(process.execPath, [...CLI, "compile", join(ROOT, "examples/unlink.ts"), "-o", "-"], { cwd: ROOT, timeout: 60_000 });
  assert.equal(r.status, 0, String(r.stderr));
  assert.deepEqual([...r.stdout.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
  assert.equal(existsSync(join(ROOT, "-")), false, "no file named -");
});

test("a single-valued option given twice is a usage error naming it, not an internal error or the two values joined (exit 2)", () => {
  const object = join(ROOT, "test/loader/fixtures/loader.h");
  assertOneLine(tsbpf("compile", PROBE, "--emit", "asm", "-o", "x", "-o", "y"), 2, /^tsbpf: --output was given more than once\n$/);
  assertOneLine(tsbpf("verify", PROBE, "--prog-type", "kprobe", "--prog-type", "xdp"), 2, /^tsbpf: --prog-type was given more than once\n$/);
  assertOneLine(tsbpf("btf", "task_struct", "--btf", "/x", "--btf", "/y"), 2, /^tsbpf: --btf was given more than once\n$/);
  // --insns-hex is instead of a file; a file's maps come from the file.
  assertOneLine(tsbpf("verify", object, "--insns-hex", "b7 00 00 00 00 00 00 00 95 00 00 00 00 00 00 00", "--prog-type", "xdp"), 2, /^tsbpf: --insns-hex checks instructions instead of a file: give .*loader\.h or --insns-hex, not both\n$/);
  assertOneLine(tsbpf("verify", PROBE, "--map", "1:hash:4:8:16"), 2, /^tsbpf: --map goes with --insns-hex; a file's maps and loader come from the file\n$/);
});

test("tsbpf exec with no program on standard input, or stray arguments, is a usage error saying what it takes (exit 2)", () => {
  assertOneLine(tsbpfWith("\n", "exec"), 2, /^tsbpf: standard input holds no program: give its instructions as hex bytes \(tsbpf exec < prog\.hex\), or an ELF object with --elf\n$/);
  const stray = tsbpfWith("b7 00 00 00 00 00 00 00 95 00 00 00 00 00 00 00", "exec", "00", "01", "zz");
  assert.equal(stray.status, 2, stray.stderr);
  assert.match(stray.stderr, /^tsbpf: unexpected argument 01, zz: tsbpf exec takes one memory argument \(the program comes on standard input\)\n/);
});

test("probes that need more file descriptors than the process may open say so and how to raise the limit (exit 4)", { skip: missingRoot() ?? missingTracefs() ?? false }, () => {
  // 360 syscall tracepoints (a perf event and a link each) under a limit of 400: tracefs's files, or a perf event, fail.
  const glob = 'tracepoint("syscalls", "sys_enter_*", () => { calls.increment(probe()); }); export const calls = new Count<ProbeName>(512);';
  const command = [process.execPath, ...CLI, "run", "--duration", "1", "-e", glob].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const r = spawnSync("bash", ["-c", `ulimit -n 400 && exec ${command}`], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 4, r.stderr);
  assert.match(r.stderr, /error TSBPF3006: cannot attach .*tracepoint syscalls:sys_enter_\w+: the process has no file descriptor left \(EMFILE; .*`ulimit -n`/);
  assert.doesNotMatch(r.stderr, /no tracepoint matches|errno/);
});
