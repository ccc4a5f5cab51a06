// `tsbpf list [PATTERN]` through the real command line: tracepoints by glob (with --verbose, fields typed as the
// compiler types them, checked by compiling a probe that reads them), libc's functions for uprobes, CPython's USDT
// probes with their argument text, the note where kprobes are compiled out, --json, and the errors (unknown kind,
// missing or non-ELF binary, tracefs unreadable) as one line with the documented exit code.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "../../compiler/index.js";
import { globRegExp } from "../../compiler/glob.js";
import { formatProbe, globProbeCall, kernelFunctions, listProbes, parsePattern, type ListedProbe } from "../../cli/list.js";
import { ExitCode, UserError } from "../../cli/exit-codes.js";
import { kprobesUnsupported } from "../../runtime/loader/attach.js";
import { readUsdtSites } from "../../runtime/loader/usdt.js";
import { missingRoot, missingTracefs } from "../../runtime/sys/index.js";
import { CLI } from "../support/cli.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function tsbpf(args: string[], options: SpawnSyncOptions = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000, ...options });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const lines = (text: string): string[] => text.split("\n").filter(Boolean);

/** Exit `status` with a single line on standard error matching `message`, and no stack trace. */
function assertOneLine(r: { status: number | null; stderr: string }, status: number, message: RegExp): void {
  assert.equal(r.status, status, r.stderr);
  assert.equal(lines(r.stderr).length, 1, r.stderr);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
}

const needsTracefs = { skip: missingRoot() ?? missingTracefs() ?? false };
const PYTHON = "/usr/bin/python3";
const gcStart = (() => {
  try {
    return readUsdtSites(PYTHON).find((s) => s.provider === "python" && s.name === "gc__start");
  } catch {
    return undefined;
  }
})();

test("globs match whole names, * any run and ? one character", () => {
  assert.ok(globRegExp("sys_enter_*").test("sys_enter_unlinkat"));
  assert.ok(!globRegExp("sys_enter_*").test("x_sys_enter_unlinkat"));
  assert.ok(globRegExp("sys_enter_unlink?t").test("sys_enter_unlinkat"));
  assert.ok(!globRegExp("sys_enter_unlink?").test("sys_enter_unlinkat"));
  // Regular expression characters are literal.
  assert.ok(globRegExp("a.b").test("a.b") && !globRegExp("a.b").test("axb"));
  assert.deepEqual(parsePattern("usdt:/usr/bin/python3"), { kind: "usdt", binary: "/usr/bin/python3", provider: globRegExp("*"), name: globRegExp("*") });
});

test("tracepoint patterns list GROUP:NAME matches as tracepoint() calls", needsTracefs, () => {
  const r = tsbpf(["list", "tracepoint:syscalls:sys_enter_unlink*"]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(lines(r.stdout).sort(), ['tracepoint("syscalls", "sys_enter_unlink")', 'tracepoint("syscalls", "sys_enter_unlinkat")']);
  // One part after the kind matches the name or GROUP:NAME; `?` is one character.
  const any = lines(tsbpf(["list", "tracepoint:*unlink*"]).stdout);
  assert.ok(any.includes('tracepoint("syscalls", "sys_exit_unlinkat")'), any.join("\n"));
  assert.ok(lines(tsbpf(["list", "tracepoint:syscalls:sys_enter_unlink?t"]).stdout).includes('tracepoint("syscalls", "sys_enter_unlinkat")'));
  // A bare glob matches tracepoints (and kernel functions where kprobes attach).
  assert.ok(lines(tsbpf(["list", "*unlinkat"]).stdout).includes('tracepoint("syscalls", "sys_enter_unlinkat")'));
});

test("no pattern lists every tracepoint, quickly; a pattern matching nothing exits 0 with a note", needsTracefs, () => {
  const r = tsbpf(["list"]);
  assert.equal(r.status, 0, r.stderr);
  const all = lines(r.stdout);
  assert.ok(all.length > 100 && all.every((l) => /^(tracepoint\("[\w.-]+", "[\w.-]+"\)|kprobe\("[^"]+"\)|(software|hardware)\("[\w-]+", N\)( {2}\/\/ also .*)?)$/.test(l)), all.slice(0, 5).join("\n"));
  assert.ok(all.includes('software("page-faults", N)  // also "faults"'));
  const none = tsbpf(["list", "tracepoint:no_such_group:*"]);
  assert.equal(none.status, 0);
  assert.equal(none.stdout, "");
  assert.match(none.stderr, /^tsbpf: no probes match tracepoint:no_such_group:\*\n$/);
  // A misspelt name (no glob) gets the nearest names the same pattern lists with that part a glob.
  const misspelt = tsbpf(["list", "tracepoint:syscalls:sys_enter_unlnkat"]);
  assert.equal(misspelt.status, 0);
  assert.match(misspelt.stderr, /^tsbpf: no probes match tracepoint:syscalls:sys_enter_unlnkat; did you mean tracepoint:syscalls:sys_enter_unlinkat( or [^\n]+)?\?\n$/);
  assert.match(tsbpf(["list", "uprobe:libc.so.6:unlinkt"]).stderr, /did you mean .*uprobe:libc\.so\.6:unlinkat/);
  // A binary alone whose notes hold no USDT probes: nothing matches, and nothing is looked up as a misspelling.
  const noNotes = tsbpf(["list", "usdt:libc.so.6"]);
  assert.equal(noNotes.status, 0, noNotes.stderr);
  assert.equal(noNotes.stderr, "tsbpf: no probes match usdt:libc.so.6\n");
});

test("--verbose gives each field its TypeScript type, as the compiler types ctx.FIELD", needsTracefs, () => {
  const r = tsbpf(["list", "--verbose", "--json", "tracepoint:sched:sched_switch"]);
  assert.equal(r.status, 0, r.stderr);
  const [probe] = lines(r.stdout).map((l) => JSON.parse(l) as Extract<ListedProbe, { kind: "tracepoint" }>);
  assert.ok(probe?.fields);
  const fields = Object.fromEntries(probe.fields.map((f) => [f.name, f.type]));
  assert.equal(fields.prev_comm, "Str<16>");
  assert.equal(fields.prev_pid, "i32");
  assert.equal(fields.common_pid, undefined, "the common header is not readable from a probe");
  // Every listed type is what a probe reading the field gets.
  const reads = probe.fields.filter((f) => f.type).map((f) => `  const ${f.name}: ${f.type} = ctx.${f.name};`);
  const text = [
    'import { tracepoint, printk, type Str, type Arr, type Ptr, type i8, type i16, type i32, type i64, type u8, type u16, type u32, type u64 } from "tsbpf";',
    'export const license = "GPL";',
    'export const p = tracepoint("sched", "sched_switch", (ctx) => {',
    ...reads,
    `  printk(\`\${prev_pid}\`);`,
    "  return 0;",
    "});",
  ].join("\n");
  assert.deepEqual(compile({ fileName: "verbose.ts", text }).diagnostics.map((d) => `${d.code}: ${d.message}`), []);
  // As text: the call, then one field a line with its C declaration.
  const text2 = lines(tsbpf(["list", "-v", "tracepoint:syscalls:sys_enter_unlinkat"]).stdout);
  assert.equal(text2[0], 'tracepoint("syscalls", "sys_enter_unlinkat")');
  assert.ok(text2.some((l) => /^ {4}pathname: Ptr +\/\/ const char \* pathname$/.test(l)), text2.join("\n"));
});

test("software: and hardware: list bpftrace's events as software()/hardware() calls, an alias matching its event", () => {
  const r = tsbpf(["list", "software:*faults"]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(lines(r.stdout), ['software("page-faults", N)  // also "faults"', 'software("minor-faults", N)', 'software("major-faults", N)', 'software("alignment-faults", N)', 'software("emulation-faults", N)']);
  assert.deepEqual(lines(tsbpf(["list", "s:cs"]).stdout), ['software("context-switches", N)  // also "cs"']);
  const json = lines(tsbpf(["list", "--json", "hardware:cycles"]).stdout).map((l) => JSON.parse(l) as unknown);
  assert.deepEqual(json, [{ kind: "hardware", event: "cpu-cycles", aliases: ["cycles"] }]);
  // Every listed call compiles as written, once N is a count.
  const calls = lines(tsbpf(["list", "software:*"]).stdout).map((l) => l.replace(/  \/\/.*$/, "").replace("N)", "1, () => 0)"));
  const text = `import { software } from "tsbpf";\nexport const license = "GPL";\n${calls.map((c, i) => `export const p${i} = ${c};`).join("\n")}\n`;
  assert.deepEqual(compile({ fileName: "all.ts", text }).diagnostics, []);
  assert.equal(calls.length, 11);
});

test("uprobe:libc.so.6 lists libc's functions as uprobe() calls", () => {
  const r = tsbpf(["list", "uprobe:libc.so.6:unlink*"]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(lines(r.stdout).includes('uprobe("libc.so.6", "unlinkat")'), r.stdout);
  // Each name once, though .symtab and .dynsym (and symbol versions) both name it.
  assert.equal(new Set(lines(r.stdout)).size, lines(r.stdout).length);
  const json = lines(tsbpf(["list", "--json", "uretprobe:libc.so.6:unlinkat"]).stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(json.length, 1);
  assert.equal(json[0]!.kind, "uretprobe");
  assert.equal(json[0]!.function, "unlinkat");
  assert.match(String(json[0]!.path), /\/libc\.so\.6$/);
});

test("usdt:/usr/bin/python3 lists CPython's probes with their argument text", { skip: gcStart ? false : `${PYTHON} has no python:gc__start USDT probe` }, () => {
  const r = tsbpf(["list", `usdt:${PYTHON}`]);
  assert.equal(r.status, 0, r.stderr);
  const expected = `usdt("${PYTHON}", "python", "gc__start")  // ${gcStart!.argText}`;
  assert.ok(lines(r.stdout).includes(expected), r.stdout);
  assert.equal(new Set(lines(r.stdout)).size, lines(r.stdout).length, "each probe once");
  const only = tsbpf(["list", "--json", `usdt:${PYTHON}:python:gc__st?rt`]);
  assert.deepEqual(lines(only.stdout).map((l) => JSON.parse(l) as unknown), [{ kind: "usdt", binary: PYTHON, path: PYTHON, provider: "python", name: "gc__start", sites: 1, args: [gcStart!.argText] }]);
  assert.equal(lines(tsbpf(["list", `usdt:${PYTHON}:no_such_provider:*`]).stdout).length, 0);
  // One part after the binary is the probe's name, of any provider, as bpftrace reads it.
  assert.deepEqual(lines(tsbpf(["list", `usdt:${PYTHON}:gc__st?rt`]).stdout), [expected]);
});

test("probes with several sites are listed once, with the count", { skip: gcStart ? false : `${PYTHON} has no USDT probes` }, () => {
  const sites = readUsdtSites(PYTHON);
  const counts = new Map<string, number>();
  for (const s of sites) counts.set(`${s.provider}:${s.name}`, (counts.get(`${s.provider}:${s.name}`) ?? 0) + 1);
  const listed = [...listProbes(parsePattern(`usdt:${PYTHON}`))] as Extract<ListedProbe, { kind: "usdt" }>[];
  assert.equal(listed.length, counts.size);
  for (const p of listed) assert.equal(p.sites, counts.get(`${p.provider}:${p.name}`));
  // Several sites: how many, and each distinct argument text.
  const several = { kind: "usdt", binary: "app", path: "/bin/app", provider: "p", name: "n", sites: 3, args: ["-4@%eax", "-4@8(%rbp)"] } as const;
  assert.equal(formatProbe({ ...several, args: [...several.args] }), 'usdt("app", "p", "n")  // 3 sites: -4@%eax; -4@8(%rbp)');
});

test("where kprobes are compiled out, listing says so once and kprobe: patterns are refused (exit 4)", { ...needsTracefs, skip: needsTracefs.skip || (kprobesUnsupported() ? false : "the running kernel has kprobes") }, () => {
  const all = tsbpf(["list"]);
  assert.equal(all.status, 0);
  assert.equal(lines(all.stderr).length, 1, all.stderr);
  assert.match(all.stderr, /^tsbpf: kernel functions \(kprobes\) are not listed: kprobes are compiled out of the running kernel/);
  assert.ok(!lines(all.stdout).some((l) => l.startsWith("kprobe(")));
  assertOneLine(tsbpf(["list", "kprobe:do_unlink*"]), ExitCode.NO_PERMISSION, /^tsbpf: cannot list kprobes: kprobes are compiled out .*tracepoint syscalls:sys_enter_unlink/);
});

test("errors are one line with the documented exit code", () => {
  assertOneLine(tsbpf(["list", "fentry:vfs_read"]), ExitCode.USAGE, /^tsbpf: unknown probe kind fentry in fentry:vfs_read \(the kinds are tracepoint, rawtracepoint, kprobe/);
  assertOneLine(tsbpf(["list", "uprobe:no-such-library.so.9:*"]), ExitCode.USAGE, /^tsbpf: cannot find shared library no-such-library\.so\.9/);
  assertOneLine(tsbpf(["list", "usdt:/no/such/binary"]), ExitCode.USAGE, /^tsbpf: no such binary: \/no\/such\/binary/);
  assertOneLine(tsbpf(["list", "uprobe:/etc/passwd"]), ExitCode.USAGE, /is not an ELF file/);
  assertOneLine(tsbpf(["list", "uprobe:"]), ExitCode.USAGE, /names no binary/);
  assertOneLine(tsbpf(["list", "tracepoint:a:b:c"]), ExitCode.USAGE, /too many parts/);
  const two = tsbpf(["list", "a", "b"]);
  assert.equal(two.status, ExitCode.USAGE);
  assert.match(two.stderr, /^tsbpf: unexpected argument b: tsbpf list takes one pattern\n/);
});

test("kernel functions come from available_filter_functions, each once, sorted, module column dropped", () => {
  const root = mkdtempSync(join(tmpdir(), "tsbpf-list-test-"));
  try {
    // More than one read block, so that a line split across blocks is put back together.
    const filler = Array.from({ length: 8000 }, (_, i) => `filler_function_${i}`).join("\n");
    writeFileSync(join(root, "available_filter_functions"), `do_unlinkat\n${filler}\nvfs_unlink\ndo_unlinkat\next4_unlink [ext4]\ndo_rmdir\n`);
    const listed = [...kernelFunctions("kprobe", globRegExp("*unlink*"), [root])];
    assert.deepEqual(listed.map((p) => formatProbe(p)), ['kprobe("do_unlinkat")', 'kprobe("ext4_unlink")', 'kprobe("vfs_unlink")']);
    assert.equal([...kernelFunctions("kretprobe", globRegExp("filler_function_7999"), [root])].length, 1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("tracefs not mounted, or readable only by root, is exit 4 in one sentence", () => {
  const empty = mkdtempSync(join(tmpdir(), "tsbpf-list-test-"));
  try {
    assert.throws(() => [...listProbes(parsePattern("tracepoint:*"), { tracefsRoots: [empty] })], (e: unknown) => e instanceof UserError && e.exitCode === ExitCode.NO_PERMISSION && /tracefs is not mounted/.test(e.message));
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("as a user other than root, tracefs is unreadable (exit 4)", { skip: missingRoot() ?? missingTracefs() ?? false }, () => {
  const r = tsbpf(["list", "tracepoint:syscalls:*"], { uid: 65534, gid: 65534 });
  if (r.status === 0) return; // a tracefs mounted readable by all: nothing to refuse
  assertOneLine(r, ExitCode.NO_PERMISSION, /^tsbpf: cannot read \S+available_events, which lists tracepoints: it is readable only by root; list as root \(sudo\)/);
});

test("tsbpf --help names the list command", () => {
  const r = tsbpf(["--help"]);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /tsbpf list \[pattern\]/);
  assert.match(tsbpf(["list", "--help"]).stdout, /usdt:BINARY\[:\[PROVIDER:\]NAME\]/);
});

test("a glob pattern names the one probe that takes all its matches; patterns no one probe takes name none", () => {
  assert.equal(globProbeCall("tracepoint:syscalls:sys_enter_*"), 'tracepoint("syscalls", "sys_enter_*", (ctx) => ...)');
  assert.equal(globProbeCall("t:sched:sched_*"), 'tracepoint("sched", "sched_*", (ctx) => ...)');
  assert.equal(globProbeCall("uprobe:/usr/bin/bash:read*"), 'uprobe("/usr/bin/bash", "read*", () => ...)');
  assert.equal(globProbeCall("kr:vfs_*"), 'kretprobe("vfs_*", () => ...)');
  assert.equal(globProbeCall("usdt:/usr/bin/python3:python:gc__*"), 'usdt("/usr/bin/python3", "python", "gc__*", () => ...)');
  for (const none of [undefined, "tracepoint:syscalls:sys_enter_openat", "sys_enter_*", "tracepoint:sys_enter_*", "uprobe:/usr/bin/ba*:main", "usdt:/usr/bin/python3:gc__*", "software:*"]) {
    assert.equal(globProbeCall(none), undefined, String(none));
  }
});

const needsBtf = { skip: existsSync("/sys/kernel/btf/vmlinux") ? false : "the kernel has no BTF (/sys/kernel/btf/vmlinux)" };

test("rawtracepoint patterns list the kernel's BTF tracepoints; -v gives the parameters a handler gets, which compile", needsBtf, () => {
  const listed = (pattern: string, verbose = false) => [...listProbes(parsePattern(pattern), { verbose })].map(formatProbe);
  assert.deepEqual(listed("rawtracepoint:sched_switch*"), ['rawTracepoint("sched_switch")']);
  assert.deepEqual(listed("rt:vmlinux:sys_e*"), ['rawTracepoint("sys_enter")', 'rawTracepoint("sys_exit")']);
  const verbose = lines(tsbpf(["list", "-v", "rawtracepoint:sched_switch"]).stdout);
  assert.deepEqual(verbose, ['rawTracepoint("sched_switch")', "    arg0: boolean", "    arg1: Ptr<task_struct>", "    arg2: Ptr<task_struct>", "    arg3: u32"]);
  // The listed types are the ones the compiler gives the parameters: annotating them so type-checks.
  const text = `import { rawTracepoint, type u32, type Ptr } from "tsbpf";\nimport type { task_struct } from "tsbpf/kernel";\nexport const license = "GPL";\nrawTracepoint("sched_switch", (arg0: boolean, arg1: Ptr<task_struct>, arg2: Ptr<task_struct>, arg3: u32) => arg1.pid + arg3);\n`;
  assert.deepEqual(compile({ fileName: "listed.ts", text }, { arch: "x86_64" }).diagnostics, []);
  assertOneLine(tsbpf(["list", "rawtracepoint:sched_swich"]), 0, /no probes match rawtracepoint:sched_swich; did you mean rawtracepoint:sched_switch\?/);
  assert.throws(() => parsePattern("rawtracepoint:mymodule:x"), (e: unknown) => e instanceof UserError && e.exitCode === ExitCode.USAGE && /too many parts: a rawtracepoint pattern is rawtracepoint:\[vmlinux:\]NAME/.test(e.message));
});

test("a uprobe pattern matching no function of a stripped executable says it is stripped; of a library, it does not", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-list-stripped-"));
  try {
    const exe = join(dir, "tool");
    copyFileSync("/bin/true", exe);
    if (spawnSync("strip", [exe]).status !== 0) return t.skip("strip is missing");
    const r = tsbpf(["list", `uprobe:${exe}:*`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, `tsbpf: no probes match uprobe:${exe}:* (${exe} is stripped: only the functions it exports are left; probe one of those, or a build with symbols)\n`);
    const lib = join(dir, "libtool.so.1");
    copyFileSync(exe, lib);
    assert.equal(tsbpf(["list", `uprobe:${lib}:*`]).stderr, `tsbpf: no probes match uprobe:${lib}:*\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
