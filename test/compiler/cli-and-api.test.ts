// `tsbpf compile` end to end (exit codes, outputs, diagnostics on stderr), the compile() API on bad
// input, and the "tsbpf" module (index.ts) kept in step with the compiler's prelude.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile, formatDiagnostics } from "../../compiler/index.js";
import { readBpfObject } from "../../compiler/elf/index.js";
import { preludeText } from "../../compiler/frontend/prelude.js";
import { deepNestingDiagnostic } from "../../compiler/frontend/nesting.js";
import { typescript } from "../../compiler/frontend/check.js";
import * as tsbpf from "../../index.js";
import { handler as compileCommand, diagnosticsExitCode } from "../../cli/commands/compile.js";
import { ExitCode, UserError } from "../../cli/exit-codes.js";
import { CLI } from "../support/cli.js";

const cli = (...args: string[]) => spawnSync(process.execPath, [...CLI, ...args], { encoding: "utf8" });

test("tsbpf compile writes an object whose programs match compile()", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-cli-"));
  try {
    const out = join(dir, "unlink.bpf.o");
    const r = cli("compile", "examples/unlink.ts", "-o", out);
    assert.equal(r.status, 0, r.stderr);
    const object = readBpfObject(readFileSync(out));
    const direct = compile("examples/unlink.ts");
    assert.deepEqual(object.programs.map((p) => [p.section, p.name]), direct.programs.map((p) => [p.section, p.name]));
    assert.equal(object.license, "Dual BSD/GPL");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("tsbpf compile --emit asm writes every program's disassembly", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-cli-"));
  try {
    const out = join(dir, "unlink.s");
    assert.equal(await compileCommand({ file: "examples/unlink.ts", emit: "asm", output: out }), 0);
    const text = readFileSync(out, "utf8");
    assert.match(text, /^kprobe\/do_unlinkat\/do_unlinkat:\n0: /);
    assert.match(text, /call bpf_trace_printk#6/);
    // A map's address is noted with the map's name, a printk format with .rodata.
    const out2 = join(dir, "profile.s");
    assert.equal(await compileCommand({ file: "examples/profile.ts", emit: "asm", output: out2 }), 0);
    const profile = readFileSync(out2, "utf8");
    assert.match(profile, /r1 = map\[fd:0\]\t; map samples\n/);
    assert.doesNotMatch(profile, /map\[fd:0\]\t; \.rodata/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("diagnostics go to stderr with a code frame and exit 3", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-cli-"));
  try {
    const bad = join(dir, "bad.ts");
    writeFileSync(bad, 'import { kprobe } from "tsbpf";\nexport const license = "GPL";\nexport const p = kprobe("f", () => { while (true) {} });\n');
    const r = cli("compile", bad, "-o", join(dir, "bad.o"));
    assert.equal(r.status, 3);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, `${bad}:3:38 - error TSBPF1022: \`while\` loops are not supported: the verifier needs loops it can bound; write \`for (let i = 0; i < N; i++)\` with a constant N\n\n3 export const p = kprobe("f", () => { while (true) {} });\n                                       ~~~~~~~~~~~~~~~\n\n\nFound 1 error.\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an unreadable file or a missing -o is a usage error (exit 2)", async () => {
  const usage = (e: unknown) => e instanceof UserError && e.exitCode === ExitCode.USAGE;
  await assert.rejects(compileCommand({ file: "no/such/file.ts", emit: "obj", output: "x.o" }), (e) => usage(e) && (e as Error).message === "cannot read no/such/file.ts: no such file or directory (ENOENT)");
  await assert.rejects(compileCommand({ file: "examples", emit: "asm" }), (e) => usage(e) && (e as Error).message === "cannot read examples: it is a directory (EISDIR)");
  await assert.rejects(compileCommand({ file: "examples/unlink.ts", emit: "obj" }), (e) => usage(e) && /-o FILE/.test((e as Error).message));
  await assert.rejects(
    compileCommand({ file: "examples/unlink.ts", emit: "obj", output: "no/such/dir/x.o" }),
    (e) => usage(e) && (e as Error).message === "cannot write no/such/dir/x.o: its directory does not exist (ENOENT)",
  );
  await assert.rejects(
    compileCommand({ file: "examples/unlink.ts", emit: "obj", output: "/proc/tsbpf-x.o" }),
    (e) => usage(e) && (e as Error).message === "cannot write /proc/tsbpf-x.o: its directory takes no new files (ENOENT)",
  );
});

test("text TypeScript finds binary (not UTF-8, no NUL bytes) is refused in one line, not printed as a source line (exit 2)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-cli-"));
  try {
    const file = join(dir, "latin1.ts");
    writeFileSync(file, Buffer.from([0x78, 0x20, 0xff, 0xfe, 0x80, 0x3b, 0x0a]));
    await assert.rejects(
      compileCommand({ file, emit: "asm" }),
      (e) => e instanceof UserError && e.exitCode === ExitCode.USAGE && e.message === `${file} is a binary file (not UTF-8 text), not a TypeScript probe`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("async functions and generators get one tsbpf diagnostic each, not TypeScript's errors about Promise and Iterator", () => {
  const handler = (fn: string) => `import { tracepoint } from "tsbpf";\nexport const license = "GPL";\nexport const p = tracepoint("a", "b", ${fn});\n`;
  const options = { tracepointFormat: () => "name: b\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n" };
  for (const [fn, what] of [["async (ctx) => 0", "async functions"], ["function* (ctx) { yield 1; return 0; }", "generator functions"]] as const) {
    const r = compile({ fileName: "s.ts", text: handler(fn) }, options);
    assert.deepEqual(r.diagnostics.map((d) => [d.code, d.line, d.column, d.message.split(":")[0]]), [["TSBPF1001", 3, 39, `${what} are not supported`]]);
  }
});

test("decorators and `using` declarations get one tsbpf diagnostic at the construct, not TypeScript's missing global types at 1:1", () => {
  const options = { tracepointFormat: () => "name: b\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n" };
  const file = (body: string) => `import { tracepoint } from "tsbpf";\nexport const license = "GPL";\n${body}\n`;
  const cases = [
    [file("function log(_t: unknown, _k: unknown) {}\nclass A { @log m() {} }\nexport const p = tracepoint(\"a\", \"b\", () => 0);"), 4, 11, "decorators are not supported"],
    [file("export const p = tracepoint(\"a\", \"b\", () => {\n  using x = { [Symbol.dispose]() {} };\n  return 0;\n});"), 4, 3, "`using` declarations are not supported"],
    [file("export const p = tracepoint(\"a\", \"b\", async () => {\n  await using x = { async [Symbol.asyncDispose]() {} };\n  return 0;\n});"), 3, 39, "async functions are not supported"],
  ] as const;
  for (const [text, line, column, message] of cases) {
    const r = compile({ fileName: "d.ts", text }, options);
    assert.deepEqual(r.diagnostics.map((d) => [d.code, d.line, d.column, d.message.split(":")[0]]), [["TSBPF1001", line, column, message]]);
  }
});

test("a tracepoint field that does not exist is named with the tracepoint, and a near miss gets a did-you-mean, instead of the whole record type", () => {
  const format = "name: t\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\n\tfield:int dfd;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:int flag;\toffset:12;\tsize:4;\tsigned:1;\n";
  const read = (field: string) => compile({ fileName: "f.ts", text: `import { tracepoint } from "tsbpf";\nexport const license = "GPL";\nexport const p = tracepoint("g", "t", (ctx) => ctx.${field});\n` }, { tracepointFormat: () => format });
  assert.deepEqual(read("nosuch").diagnostics.map((d) => [d.code, d.column, d.message]), [["TS2339", 52, "tracepoint g:t has no field nosuch; its fields are dfd, flag (from its format file)"]]);
  assert.deepEqual(read("flags").diagnostics.map((d) => d.message), ["tracepoint g:t has no field flags; did you mean flag?"]);
});

test("a record indexed by a key (ctx[\"dfd\"], ctx[k]) is told that fields are read by name", () => {
  const format = "name: t\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\n\tfield:int dfd;\toffset:8;\tsize:4;\tsigned:1;\n";
  const read = (body: string) => compile({ fileName: "i.ts", text: `import { tracepoint } from "tsbpf";\nexport const license = "GPL";\nexport const p = tracepoint("g", "t", (ctx) => { ${body} });\n` }, { tracepointFormat: () => format });
  const base = "index expressions work on Arr<T, N> values only; fields are read by name, never by a computed key";
  assert.deepEqual(read('return ctx["dfd"];').diagnostics.map((d) => [d.code, d.message]), [["TSBPF1001", `${base}: write \`ctx.dfd\``]]);
  assert.deepEqual(read("const k = 1; return (ctx as any)[k];").diagnostics.map((d) => [d.code, d.message]), [["TSBPF1001", base]]);
});

test("without a readable tracefs, a tracepoint probe says so (not that the tracepoint is unknown), and compile exits 4", () => {
  const text = 'import { tracepoint } from "tsbpf";\nexport const license = "GPL";\nexport const t = tracepoint("syscalls", "sys_enter_unlinkat", () => 0);\n';
  const r = compile({ fileName: "t.ts", text }, { tracefs: "/nonexistent/tracing" });
  assert.deepEqual(r.diagnostics.map((d) => d.code), ["TSBPF1026"]);
  assert.equal(r.diagnostics[0]!.message, "cannot read the format of tracepoint syscalls:sys_enter_unlinkat: tracefs is not mounted, and tracepoint formats are read from it (mount -t tracefs tracefs /nonexistent/tracing)");
  assert.equal(diagnosticsExitCode("t.ts", r.diagnostics), ExitCode.NO_PERMISSION);
});

test("compile() turns garbage into diagnostics, never exceptions", () => {
  const inputs = ["", "}}}{{{", "export default 1;", "import x from 'tsbpf'; x();", "const license = 1;", "\u0000\u0001", "export const p = kprobe();"];
  for (const text of inputs) {
    const r = compile({ fileName: "junk.ts", text }, { arch: "x86_64" });
    assert.ok(r.diagnostics.length > 0, JSON.stringify(text));
    assert.equal(r.object.length, 0);
    assert.ok(formatDiagnostics(r.diagnostics, { sources: { "junk.ts": text } }).length > 0);
  }
});

test("a file nested deeper than the compiler's stack follows is TSBPF1001 at its deepest point, not an internal error", () => {
  const probe = (body: string) => `import { kprobe, printf, type u64 } from "tsbpf";\nexport const license = "GPL";\nexport const p = kprobe("f", (x: u64) => {\n  ${body}\n});\n`;
  const cases: [string, string, RegExp][] = [
    // Too deep for TypeScript's parser: found by bracket.
    ["parentheses", probe(`printf("%d\\n", ${"(".repeat(3000)}x${")".repeat(3000)});`), /^this is nested 300\d levels deep, more than the compiler follows: split it/],
    // Parsed, then too deep for the checks that walk the tree.
    ["a long sum", probe(`printf("%d\\n", x${" + x".repeat(5000)});`), /^this is nested 50\d\d levels deep/],
    ["nested ifs", probe(`${"if (x) { ".repeat(3000)}printf("x\\n");${" }".repeat(3000)}`), /^this is nested \d{4} levels deep/],
  ];
  for (const [what, text, message] of cases) {
    const r = compile({ fileName: "deep.ts", text }, { arch: "x86_64" });
    assert.equal(r.diagnostics.length, 1, what);
    const [d] = r.diagnostics;
    assert.equal(d!.code, "TSBPF1001", what);
    assert.match(d!.message, message, what);
    assert.equal(d!.line, 4, what);
  }
  // Running out of stack on a shallow file is tsbpf's own bug: it stays an error for the command to report as internal.
  const overflow = new RangeError("Maximum call stack size exceeded");
  assert.equal(deepNestingDiagnostic(typescript(), overflow, { fileName: "shallow.ts", text: probe("printf(\"x\\n\");") }), undefined);
});

test("a long sum compiles without TypeScript checking it again at each of its levels, and a string in it is still refused where it is", () => {
  const probe = (sum: string) => `import { kprobe, printk, type u64 } from "tsbpf";\nexport const license = "GPL";\nexport const p = kprobe("f", (x: u64) => {\n  printk(\`\${${sum}}\`);\n});\n`;
  const started = performance.now();
  assert.deepEqual(compile({ fileName: "sum.ts", text: probe(`x${" + x".repeat(600)}`) }, { arch: "x86_64" }).diagnostics, []);
  // Asked at each level, the operands' types took ~10 s here for 600 terms (quadratic in them).
  assert.ok(performance.now() - started < 6_000, `${performance.now() - started} ms`);
  const strings = compile({ fileName: "sum.ts", text: probe('1 + ("a" + "b") + x') }, { arch: "x86_64" }).diagnostics;
  // At `"a" + "b"`, the inner sum, which is the one that joins strings.
  assert.deepEqual(strings.map((d) => `${d.line}:${d.column} ${d.code}`), ["4:18 TSBPF1025"]);
});

test("a code frame of a tab-indented line keeps the underline under the text it marks, each tab printed as one space as tsc does", () => {
  const text = 'import { kprobe, printf, type u32 } from "tsbpf";\nexport const license = "GPL";\nexport const p = kprobe("f", (x: u32) => {\n\tif (x) {\n\t\tprintf("%q", x);\n\t}\n});\n';
  const r = compile({ fileName: "tabs.ts", text }, { arch: "x86_64" });
  const frame = formatDiagnostics(r.diagnostics, { sources: { "tabs.ts": text } }).split("\n");
  const line = frame.findIndex((l) => l.startsWith("5 "));
  assert.equal(frame[line], '5   printf("%q", x);');
  assert.equal(frame[line + 1]!.indexOf("~"), frame[line]!.indexOf('"%q"'), frame.join("\n"));
});

test("compile() reports a missing tracepoint and an unsupported architecture", () => {
  const tp = compile({ fileName: "t.ts", text: 'import { tracepoint } from "tsbpf";\nexport const license = "GPL";\nexport const t = tracepoint("a", "b", () => 0);\n' }, { tracepointFormat: () => undefined });
  assert.deepEqual(tp.diagnostics.map((d) => d.code), ["TSBPF1013"]);
  const arch = compile({ fileName: "k.ts", text: 'import { kprobe } from "tsbpf";\nexport const license = "GPL";\nexport const k = kprobe("f", () => 0);\n' }, { arch: "sparc" });
  assert.deepEqual(arch.diagnostics.map((d) => d.code), ["TSBPF1020"]);
});

test("a probe may import only tsbpf and tsbpf/kernel, and the diagnostic names both", () => {
  const text = 'import { simulate } from "tsbpf/test";\nimport { readFileSync } from "node:fs";\nimport { kprobe } from "tsbpf";\nexport const license = "GPL";\nexport const k = kprobe("f", () => 0);\n';
  const r = compile({ fileName: "imports.ts", text }, { arch: "x86_64" });
  const imports = r.diagnostics.filter((d) => d.code === "TSBPF1003").map((d) => d.message);
  assert.deepEqual(imports, ['only "tsbpf" and "tsbpf/kernel" can be imported in a probe file, not "tsbpf/test"', 'only "tsbpf" and "tsbpf/kernel" can be imported in a probe file, not "node:fs"']);
});

test("index.ts exports what the prelude declares, and its markers behave in Node", () => {
  const prelude = preludeText([]);
  const declared = new Set([...prelude.matchAll(/export (?:function|type|interface|class|const) (\w+)/g)].map((m) => m[1]!));
  const values = Object.keys(tsbpf).sort();
  for (const name of values) assert.ok(declared.has(name), `index.ts exports ${name}, the prelude does not declare it`);
  for (const name of declared) {
    if (/^(Tracepoints|Handler|Probe|Ptr|Str|Arr|UpdateFlags|TracepointContext|PerfEventContext|KernelStack|UserStack|ProbeName|KernelSymbol|UserSymbol|Bytes|Buf|MacAddr|IpAddr|Strftime|SignalName|SoftwareEvent|HardwareEvent)$/.test(name) || /^[ui](8|16|32|64)$/.test(name)) continue;
    assert.ok(values.includes(name), `the prelude declares ${name}, index.ts does not export it`);
  }
  assert.deepEqual(tsbpf.kprobe("do_unlinkat", () => 0), { __tsbpfProbe: true, kind: "kprobe", section: "kprobe/do_unlinkat" });
  assert.equal(tsbpf.tracepoint("syscalls", "sys_enter_unlinkat", () => 0).section, "tracepoint/syscalls/sys_enter_unlinkat");
  assert.equal(tsbpf.rawTracepoint("sched_switch", () => 0).section, "tp_btf/sched_switch");
  assert.throws(() => tsbpf.pidTgid(), /only callable inside a probe compiled by tsbpf/);
  assert.equal(tsbpf.u8(-1), 255);
  assert.equal(tsbpf.i32(0xffffffff), -1);
  assert.equal(tsbpf.u32(0x1_0000_0005n), 5);
});

test("a file without a TypeScript extension (tsbpf run - reads /dev/stdin) is named as given in every diagnostic, tsbpf's and TypeScript's", () => {
  const missingLicense = compile({ fileName: "/dev/stdin", text: "" });
  assert.deepEqual(missingLicense.diagnostics.map((d) => [d.code, d.file]), [["TSBPF1010", "/dev/stdin"]]);
  const syntax = compile({ fileName: "/dev/stdin", text: 'import { begin } from "tsbpf";\nexport const license = "GPL";\nbegin(() => { xyz( });\n' });
  assert.ok(syntax.diagnostics.length > 0 && syntax.diagnostics.every((d) => d.file === "/dev/stdin"), JSON.stringify(syntax.diagnostics));
});
