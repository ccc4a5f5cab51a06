// `tsbpf run -e TEXT`, as bpftrace's -e: the probes on the command line, everything tsbpf exports imported, a GPL
// license, every map printed, bare probe calls named after their kind; diagnostics at the text's own columns; the
// compiled object cached by the text. Also bare probe calls in a probe file.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { expressionDiagnostics, expressionSource } from "../../cli/expression.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { CLI } from "../support/cli.js";

const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
const tsbpf = (args: string[], extra: Record<string, string> = {}) => spawnSync(process.execPath, [...CLI, ...args], { encoding: "utf8", env: { ...env, ...extra }, timeout: 60_000 });

test("a one-liner's text compiles as a probe file: imports and license after it, maps printed, bare probes named by kind", () => {
  const text = 'const n = new HashMap<u32, u64>(8); uprobe("libc.so.6", "unlink", () => n.increment(0)); uretprobe("libc.so.6", "unlink", (r: i32) => printf("%d\\n", r))';
  const source = expressionSource(text);
  assert.ok(source.startsWith(`${text}\n`), "the text keeps its lines and columns");
  const r = compile({ fileName: "-e.ts", text: source }, { exportAll: true });
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.programs.map((p) => p.name), ["uprobe_1", "uretprobe_2"]);
  // Its own import or license is kept as written.
  assert.doesNotMatch(expressionSource('import { begin } from "tsbpf";\nexport const license = "Dual BSD/GPL";\nbegin(() => 0)'), /import \{[^}]*\} from "tsbpf";\nexport const license = "GPL"/);
  // In a file, a bare probe call is a probe too.
  const file = compile({ fileName: "bare.ts", text: 'import { uprobe } from "tsbpf";\nexport const license = "GPL";\nuprobe("libc.so.6", "unlink", () => 0);\n' });
  assert.deepEqual([file.diagnostics, file.programs.map((p) => p.name)], [[], ["uprobe_1"]]);
});

test("tsbpf run -e: a usage error without a file or expression, or with both", () => {
  for (const [args, message] of [
    [["run"], /name a probe file, or give the probes themselves with -e/],
    [["run", "x.ts", "-e", "begin(() => 0)"], /give a probe file or -e, not both \(x\.ts and -e\)/],
  ] as const) {
    const r = tsbpf([...args]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});

test("tsbpf run -e: diagnostics point into the text", { skip: missingRoot() ?? false }, () => {
  const bad = tsbpf(["run", "-e", 'tracepoint("syscalls", "sys_enter_openat", (ctx) => printf("%d\\n", ctx.nope))']);
  assert.equal(bad.status, 3, bad.stderr);
  assert.match(bad.stderr, /^-e\.ts:1:72 - error TS2339: tracepoint syscalls:sys_enter_openat has no field nope/);
  // An error past the text's end (an unfinished call) is shown at its end, not on the import added after it.
  const unfinished = tsbpf(["run", "-e", "xyz("]);
  assert.equal(unfinished.status, 3, unfinished.stderr);
  assert.match(unfinished.stderr, /^-e\.ts:1:5 - error TS1005: '\)' expected\.\n\n1 xyz\(\n/);
  assert.doesNotMatch(unfinished.stderr, /import \{/);
  // An unclosed brace or string would take the import added after the text into it: the syntax error alone is shown,
  // not every tsbpf name as missing.
  for (const [text, error] of [
    ['tracepoint("syscalls", "sys_enter_openat", (ctx) => {', /^-e\.ts:1:54 - error TS1005: '\}' expected\.\n/],
    ['begin(() => {\n  printf("x\\n");\n', /^-e\.ts:3:1 - error TS1005: '\}' expected\.\n/],
    ['begin(() => printf("x\\n))', /^-e\.ts:1:26 - error TS1002: Unterminated string literal\.\n/],
  ] as const) {
    const r = tsbpf(["run", "--no-cache", "-e", text]);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, error, text);
    assert.match(r.stderr, /\nFound 1 error\.\n$/, text);
    assert.doesNotMatch(r.stderr, /TS2304|Cannot find name/, text);
  }
  // No probes: the example is a one-liner's bare call, not an exported probe.
  const empty = tsbpf(["run", "-e", ""]);
  assert.equal(empty.status, 2, empty.stderr);
  assert.match(empty.stderr, /^tsbpf: -e holds no probes, so there is nothing to load: give one, e\.g\. tsbpf run -e 'tracepoint\(/);
});

test("a one-liner in bpftrace's language is told -e takes TypeScript, with the call its first probe would be", () => {
  const told = (text: string) => expressionDiagnostics(compile({ fileName: "-e.ts", text: expressionSource(text) }, { arch: "x86_64" }).diagnostics, text)[0]!.message;
  const hint = (call: string) => `(-e takes TypeScript, not bpftrace's language: write each probe as a call, as ${call}, with printf(), comm() and the rest of tsbpf imported)`;
  const cases: [string, string][] = [
    ['tracepoint:syscalls:sys_enter_openat { printf("%s\\n", comm); }', 'tracepoint("syscalls", "sys_enter_openat", (ctx) => { ... })'],
    ["t:syscalls:sys_enter_openat /pid == 1/ { @ = count(); }", 'tracepoint("syscalls", "sys_enter_openat", (ctx) => { ... })'],
    ["kprobe:do_nanosleep { @[comm] = count(); }", 'kprobe("do_nanosleep", () => { ... })'],
    ['uprobe:/bin/bash:readline { printf("x\\n"); }', 'uprobe("/bin/bash", "readline", () => { ... })'],
    ['BEGIN { printf("hi\\n"); exit(); }', "begin(() => { ... })"],
    ["profile:hz:99 { @[kstack] = count(); }", "profile(99, () => { ... })"],
    ["interval:s:1 { print(@); }", "interval(1000, () => { ... })"],
  ];
  for (const [text, call] of cases) assert.ok(told(text).endsWith(hint(call)), `${text}: ${told(text)}`);
  // A bpftrace map in TypeScript's probes: what a map is.
  const map = (name: string) => `(-e takes TypeScript, not bpftrace's language: a map is a constant declared before the probes, \`const ${name} = new Count<Str<16>>(1024);\` (or HashMap<K, V>, Histogram, Sum, ...), then \`${name}.increment(comm())\` in a probe)`;
  for (const [text, name] of [
    ['tracepoint("raw_syscalls", "sys_enter", () => { @[comm()] = count(); })', "counts"],
    ['begin(() => { @x = 1; exit(); })', "x"],
    ['tracepoint("raw_syscalls", "sys_enter", () => { @calls++; })', "calls"],
  ]) assert.ok(told(text!).endsWith(map(name!)), `${text}: ${told(text!)}`);
  // TypeScript with a syntax error of its own gets none, and an @ in a string is not a map.
  assert.equal(told('tracepoint("syscalls", "sys_enter_openat", (ctx) => {'), "'}' expected.");
  assert.equal(told('begin(() => { printf("@x = %d\\n", 1); exit(); }'), "')' expected.");
});

test("a one-liner's own license and import are statements, not words in its strings", () => {
  for (const text of ['begin(() => { printf("license\\n"); exit(); })', "begin(() => { printf(\"from 'tsbpf'\\n\"); exit(); })"]) {
    const source = expressionSource(text);
    assert.match(source, /\nimport \{[^}]*\} from "tsbpf";\nexport const license = "GPL";\n$/, text);
  }
  assert.doesNotMatch(expressionSource('begin(() => 0); export const license = "Dual BSD/GPL";'), /export const license = "GPL"/);
});

const noKernel = missingRoot() ?? missingBpf(openSys());

test("tsbpf run -e runs the probes, prints the maps, and caches the object by the text", { skip: noKernel }, () => {
  const cache = mkdtempSync(join(tmpdir(), "tsbpf-e-cache-"));
  try {
    const text = 'const opens = new HashMap<Str<16>, u64>(16); tracepoint("syscalls", "sys_enter_openat", (ctx) => { if (pidTgid() >> 32 !== targetPid()) return; opens.increment(comm()); printf("%s\\n", readUserStr(ctx.filename)); })';
    const args = ["run", "-e", text, "--verbose", "-c", "cat /etc/hostname"];
    const first = tsbpf(args, { XDG_CACHE_HOME: cache });
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /^\/etc\/hostname$/m);
    assert.match(first.stdout, /^@opens\[cat\]: \d+$/m);
    assert.match(first.stderr, /attached tracepoint_1 to tracepoint syscalls:sys_enter_openat/);
    const second = tsbpf(args, { XDG_CACHE_HOME: cache });
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stderr, /using the cached object/);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
