// printf(format, ...values), as bpftrace's printf: checked at compile time, sent as a record through the actions ring
// buffer and formatted in user space. The formatter is checked against glibc's printf (a C program built here with the
// same formats and values), the compiler's checks and record layout, the simulator, and tsbpf run on this kernel with
// both backends.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { checkTimeFormat, decodeArgs, formatPrintf, inetText, parseFormat, strftime, type FormatPiece } from "../../compiler/ir/printf.js";
import { loadObject, openObject } from "../../runtime/loader/index.js";
import { mapBtfTypes } from "../../runtime/loader/maps.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";
import { tracepointFormats } from "../support/fixture-kernel.js";
import { noLlvm } from "../llvm/support.js";

const noGcc = spawnSync("gcc", ["--version"]).status === 0 ? undefined : "gcc is not installed";

/** Formats and values, each value with the C type it has (its width and sign): what the record keeps. */
const CASES: [string, bigint | string, "int" | "unsigned" | "long long" | "unsigned long long" | "char *"][] = [
  ["%d", -42n, "int"], ["%5d", 42n, "int"], ["%-5d|", 42n, "int"], ["%05d", -42n, "int"], ["%+d", 7n, "int"], ["% d", 7n, "int"],
  ["%.3d", 7n, "int"], ["%8.3d", -7n, "int"], ["%.0d", 0n, "int"], ["%u", 4294967295n, "unsigned"], ["%x", 255n, "unsigned"],
  ["%X", 48879n, "unsigned"], ["%#x", 255n, "unsigned"], ["%#x", 0n, "unsigned"], ["%08x", 48879n, "unsigned"], ["%o", 8n, "unsigned"],
  ["%#o", 8n, "unsigned"], ["%lld", -9007199254740993n, "long long"], ["%llu", 18446744073709551615n, "unsigned long long"],
  ["%llx", 18446744073709551615n, "unsigned long long"], ["%-20llx|", 3735928559n, "unsigned long long"], ["%c", 65n, "int"],
  ["%3c|", 66n, "int"], ["%-3c|", 67n, "int"], ["%s", "hello", "char *"], ["%8s|", "hi", "char *"], ["%-8s|", "hi", "char *"],
  ["%.3s|", "truncate", "char *"], ["%08s|", "pad", "char *"], ["%%d %d", 1n, "int"], ["%ld", -5n, "long long"],
  ["%hhd", 300n, "int"], ["%hd", 70000n, "int"], ["%hhu", -1n, "int"], ["%hx", 70000n, "unsigned"], ["%hhd", 200n, "unsigned"],
  ["%5.2s|", "h\u00e9llo", "char *"], ["%.3s|", "h\u00e9llo", "char *"], ["%-4s|", "\u00e9", "char *"], ["%3c|", 233n, "int"],
];

test("the formatter writes what glibc's printf writes for the same formats and values", { skip: noGcc }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-printf-"));
  try {
    const lines = CASES.map(([format, value, type]) => {
      const literal = typeof value === "string" ? JSON.stringify(value) : type.includes("unsigned") ? `${value}ULL` : value === -9007199254740993n ? "(-9007199254740992LL - 1)" : `${value}LL`;
      return `  printf(${JSON.stringify(format.replace("%lld", "%lld"))}, (${type})${literal}); putchar('\\n');`;
    });
    writeFileSync(join(dir, "p.c"), `#include <stdio.h>\nint main(void) {\n${lines.join("\n")}\n  return 0;\n}\n`);
    execFileSync("gcc", ["-w", "-o", join(dir, "p"), join(dir, "p.c")]);
    const expected = execFileSync(join(dir, "p"), { encoding: "utf8" }).split("\n").slice(0, CASES.length);
    const actual = CASES.map(([format, value, type]) => {
      const pieces = parseFormat(format) as FormatPiece[];
      return formatPrintf(pieces, [value], [type.includes("long long") || type === "char *" ? 64 : 32]);
    });
    assert.deepEqual(actual, expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("l and ll print a 32-bit value at 64 bits, a signed one extended by its sign, as bpftrace's printf does", () => {
  const pieces = parseFormat("%llu %lld %lx %lu %d") as FormatPiece[];
  assert.equal(formatPrintf(pieces, [-70000n, -1n, -1n, 4294967295n, -1n], [32, 32, 32, 32, 32]), "18446744073709481616 -1 ffffffffffffffff 4294967295 -1");
});

const PROBE = `import { uprobe, printf, time, comm, readUserStr, HashMap, u64, type u8, type u32, type i32, type Ptr, type Str } from "tsbpf";
export const license = "GPL";
interface Name { s: Str<8> }
const names = new HashMap<u32, Name>(4);
export const p = uprobe("libc.so.6", "unlink", (path: Ptr<u8>) => {
  const small: i32 = -1;
  const big = u64(0xffff_ffff_ffffn);
  names.update(0, { s: "abc" });
  const n = names.lookup(0);
  if (n === null) return;
  printf("%-8s|%s|%d %x %llu %5s|%c\\n", comm(), readUserStr(path), small, small, big, n.s, 90);
});
`;

test("a printf record carries its values at their width and sign; the actions map is tagged with the call", () => {
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "printf.ts", text: PROBE }, { backend });
    assert.deepEqual(r.diagnostics, [], backend);
    const spec = openObject(r.object, { name: "printf" });
    const map = spec.maps.find((m) => m.name === "tsbpf_actions")!;
    assert.equal(map.maxEntries, 1 << 18, backend);
    assert.deepEqual(mapBtfTypes(spec, map)!.printf, [{ args: ["s16", "s64", "i32", "i32", "u64", "s8", "i64"], format: "%-8s|%s|%d %x %llu %5s|%c\n" }], backend);
  }
});

test("printf's checks: a literal format, one value per conversion, strings for %s and integers for the rest", () => {
  const diagnostics = (call: string) => compile({ fileName: "bad.ts", text: PROBE.replace(/printf\(.*\);/, call) }).diagnostics;
  const expect = (call: string, message: RegExp) => {
    const d = diagnostics(call);
    assert.ok(d.some((x) => x.code === "TSBPF1011" && message.test(x.message)), `${call}: ${JSON.stringify(d)}`);
  };
  expect("printf(comm());", /printf\(\) takes a format first \(a string literal, a template literal, or a module-level string constant\)/);
  expect("printf(`%d${small}`, 1);", /a template literal format holds its values/);
  expect(`printf("%d %d\\n", small);`, /the format has 2 conversions and printf\(\) is given 1 value/);
  expect(`printf("%s\\n", small);`, /%s prints a string \(a Str<N>, comm\(\), readUserStr\(p\) of a user pointer, readKernelStr\(p\) of a kernel one\), not `small`/);
  expect(`printf("%d\\n", n);`, /%d prints an integer, not a struct/);
  // A string given to an integer's conversion: the call with %s there.
  expect(`printf("%d\\n", comm());`, /^%d prints an integer, and comm\(\) is a Str<16>, which %s prints: printf\("%s\\n", comm\(\)\)$/);
  expect(`const c = comm(); printf("%-6u|%x\\n", c, small);`, /^%u prints an integer, and `c` is a Str<16>, which %s prints: printf\("%-6s\|%x\\n", c, small\)$/);
  expect(`printf("%d\\n", "x");`, /^%d prints an integer, and `"x"` is a string, which %s prints: printf\("%s\\n", "x"\)$/);
  expect(`printf("%q\\n", small);`, /^"%q" is not a conversion printf\(\) takes/);
  expect(`printf("100%\\n", small);`, /^"%" is not a conversion printf\(\) takes/);
  expect(`printf("%*d\\n", 5, small);`, /^"%\*d": a `\*` width or precision \(taken from an argument\) is not supported: write the number in the format, as "%8d"$/);
  expect(`printf("%-.*s\\n", 3, comm());`, /^"%-\.\*s": a `\*` width or precision .* as "%-\.8s"$/);
  // A width no string can hold was a RangeError where tsbpf run formats the line.
  expect(`printf("%99999999999d\\n", small);`, /^"%99999999999d": a width or precision can be at most 1048576 \(the largest Str<N>\): write a smaller one$/);
  expect(`printf("%.2000000s\\n", comm());`, /^"%\.2000000s": a width or precision can be at most 1048576/);
  const value = diagnostics(`const x = printf("%d", 1);`);
  assert.ok(value.some((d) => d.code === "TSBPF1001" && d.message === "printf() returns nothing: call it as a statement"), JSON.stringify(value));
});

test("a template literal as printf's format prints each value as the template would: by its type, strings, booleans, constants", async () => {
  const text = `import { uprobe, printf, comm, readUserStr, pidTgid, probe, type u8, type i32, type u64, type Ptr, type Str } from "tsbpf";
export const license = "GPL";
const LIMIT = 3;
export const p = uprobe("libc.so.6", "unlink", (path: Ptr<u8>, mode: i32, big: u64) => {
  const pid = pidTgid() >> 32;
  const name: Str<8> = "abc";
  printf(\`\${pid} \${comm()} [\${readUserStr(path)}] \${mode} \${big} \${mode < 0} \${pid === 0} \${LIMIT} \${true} 100% \${name} \${probe()} \${mode > 0 ? "pos" : "neg"}\\n\`);
});
`;
  for (const backend of ["own", "llvm"] as const) {
    const sim = await simulate({ fileName: "template.ts", text }, { backend });
    sim.uprobe("libc.so.6:unlink", { args: [sim.kernel.userString("/tmp/gone"), -5, 18446744073709551615n], comm: "rm", pid: 42 });
    assert.equal(sim.output(), "42 rm [/tmp/gone] -5 18446744073709551615 true false 3 true 100% abc uprobe:libc.so.6:unlink neg\n", backend);
  }
  // The constants and the literal text join the format; only the values the handler computes travel in the record.
  const spec = openObject(compile({ fileName: "template.ts", text }).object, { name: "template" });
  const [site] = mapBtfTypes(spec, spec.maps.find((m) => m.name === "tsbpf_actions")!)!.printf!;
  assert.deepEqual(site, { format: "%u %s [%s] %d %u %s %s 3 true 100%% %s %s %s\n", args: ["u64", "s16", "s64", "i32", "u64", "s6", "s6", "s8", "p", "s4"] });
});

test("printk's template takes a string literal (joined to the format) and a choice between literals (%s of the one picked)", async () => {
  const text = `import { uprobe, printk, type i32 } from "tsbpf";
export const license = "GPL";
export const p = uprobe("libc.so.6", "unlink", (mode: i32) => {
  printk(\`\${"lit"} \${mode > 0 ? "pos" : mode < 0 ? "neg" : "zero"} 5%\`);
});
`;
  for (const backend of ["own", "llvm"] as const) {
    const sim = await simulate({ fileName: "printk.ts", text }, { backend });
    for (const mode of [3, -3, 0]) sim.uprobe("libc.so.6:unlink", { args: [mode] });
    assert.deepEqual(sim.trace(), ["lit pos 5%", "lit neg 5%", "lit zero 5%"], backend);
  }
});

test("a module-level string constant prints as its text in printf and printk, a template inside a template as its text; a NUL in a format is refused", async () => {
  const text = `import { uprobe, printf, printk, type i32 } from "tsbpf";
export const license = "GPL";
const NAME = "bash";
export const p = uprobe("libc.so.6", "unlink", (mode: i32) => {
  printf(\`\${NAME}:\${mode}\\n\`);
  printf(\`[\${\`in \${mode + 1} \${NAME}\`}]\\n\`);
  printf("%-6s|%s\\n", NAME, NAME);
  printk(\`k \${NAME} \${mode}\`);
});
`;
  for (const backend of ["own", "llvm"] as const) {
    const sim = await simulate({ fileName: "constants.ts", text }, { backend });
    sim.uprobe("libc.so.6:unlink", { args: [3] });
    assert.equal(sim.output(), "bash:3\n[in 4 bash]\nbash  |bash\n", backend);
    assert.deepEqual(sim.trace(), ["k bash 3"], backend);
  }
  for (const call of ['printf("a\\0b\\n");', "printf(`x\\0 ${mode}\\n`);", "printk(`x\\0 ${mode}`);"]) {
    const d = compile({ fileName: "nul.ts", text: text.replace(/printf\(`\$\{NAME\}.*\);/, call) }).diagnostics;
    assert.ok(d.some((x) => x.code === "TSBPF1011" && /cannot hold a NUL character/.test(x.message)), `${call}: ${JSON.stringify(d)}`);
  }
});

test("in the simulator, output() gives what printf wrote, formatted", async () => {
  const sim = await simulate({ fileName: "printf.ts", text: PROBE });
  sim.uprobe("libc.so.6:unlink", { args: [sim.kernel.userString("/tmp/gone")], comm: "rm" });
  sim.uprobe("libc.so.6:unlink", { args: [sim.kernel.userString("/tmp/x")], comm: "unlinker" });
  assert.equal(sim.output(), "rm      |/tmp/gone|-1 ffffffff 281474976710655   abc|Z\nunlinker|/tmp/x|-1 ffffffff 281474976710655   abc|Z\n");
  assert.equal(sim.output(), "");
});

test("join(argv, sep), bpftrace's join(): the strings before the first NULL, at most 16, on one line, from both backends; in the kernel's verifier too", async () => {
  const text = `import { kprobe, join, type u64 } from "tsbpf";
export const license = "GPL";
export const p = kprobe("f", (argv: u64, which: u64) => { if (which === 0) join(argv); else join(argv, ", "); });
`;
  const le = (words: bigint[]): Uint8Array => {
    const out = new Uint8Array(words.length * 8);
    words.forEach((w, i) => new DataView(out.buffer).setBigUint64(i * 8, w, true));
    return out;
  };
  for (const backend of ["own", "llvm"] as const) {
    if (backend === "llvm" && noLlvm) continue;
    const r = compile({ fileName: "join.ts", text }, { backend });
    assert.deepEqual(r.diagnostics, [], backend);
    const sim = await simulate(r.object, { name: "join" });
    const argv = (args: string[]) => sim.kernel.bytes(le([...args.map((a) => sim.kernel.userString(a).address), 0n]), { user: true });
    sim.kprobe("f", { args: [argv(["ls", "-la", "/tmp"]), 0] });
    sim.kprobe("f", { args: [argv(["a", "b"]), 1] });
    sim.kprobe("f", { args: [argv([]), 0] });
    // More than 16: the first 16; one longer than 1023 bytes: its first 1023.
    sim.kprobe("f", { args: [argv(Array.from({ length: 20 }, (_, i) => String(i))), 0] });
    sim.kprobe("f", { args: [argv(["x".repeat(1100), "y"]), 1] });
    sim.kprobe("f", { args: [sim.kernel.faulting(undefined, { user: true }), 0] });
    assert.equal(sim.output(), `ls -la /tmp\na, b\n\n${Array.from({ length: 16 }, (_, i) => i).join(" ")}\n${"x".repeat(1023)}, y\n\n`, backend);
    if (!noKernel) loadObject(sys, openObject(r.object, { name: "join" })).close();
  }
  assert.equal(decodeArgs(new Uint8Array(8 + 3 * 4).fill(0).map((_, i) => (i === 8 ? 97 : i === 12 ? 98 : 0)), ["j4x3.2c"])[0], "a,b");
  const bad = compile({ fileName: "bad.ts", text: text.replace('join(argv, ", ")', "join(argv, argv as any)") }).diagnostics;
  assert.ok(bad.some((d) => d.code === "TSBPF1017" && /join\(\) takes a user array of strings/.test(d.message)), JSON.stringify(bad));
});

const noKernel = missingRoot() ?? missingBpf(openSys());
const sys = openSys();

test("tsbpf run writes printf's text as it comes, in order with exit(), from both backends' objects", { skip: noKernel }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-printf-run-"));
  try {
    const probe = join(dir, "p.ts");
    writeFileSync(probe, `import { tracepoint, printf, exit, comm, readUserStr, ArrayMap, type u64, type Str } from "tsbpf";
export const license = "GPL";
const seen = new ArrayMap<u64>(1);
export const p = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => {
  const path: Str<64> = readUserStr(ctx.pathname);
  if (!path.startsWith("${dir}/")) return;
  seen.increment(0);
  const n = seen.lookup(0) ?? 0;
  printf("%-4d %-6s %s\\n", n, comm(), path);
  printf(\`#\${n} \${n === 1} \${comm()}\\n\`);
  if (n === 2) exit(3);
});
`);
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const a = join(dir, "a");
    const b = join(dir, "b");
    for (const backend of ["own", "llvm"]) {
      const object = join(dir, `p-${backend}.o`);
      execFileSync(process.execPath, [...CLI, "compile", probe, "-o", object, "--backend", backend], { env });
      const r = spawnSync(process.execPath, [...CLI, "load", object, "-c", `sh -c "touch ${a} ${b}; rm ${a}; rm ${b}; exec sleep 20"`], { encoding: "utf8", env, timeout: 30_000 });
      assert.equal(r.status, 3, `${backend}: ${r.stderr}`);
      assert.equal(r.stdout, `1    rm     ${a}\n#1 true rm\n2    rm     ${b}\n#2 false rm\n`, backend);
    }
    // The loaded programs have nothing in .rodata that printf needs: the formats travel in BTF.
    const loaded = loadObject(openSys(), openObject(compile({ fileName: probe, text: PROBE }).object, { name: "printf" }));
    loaded.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("time()'s formatter writes what GNU date's strftime writes, in UTC and in local time", () => {
  const format = "%a %A %b %B %d %e %H %I %j %m %M %p %S %y %Y %z %Z %F %T %D %R %s %% %t|%n|%C %u %w %k %l %h %P %r|%c|%x %X %U %W %V %G %g";
  // New Year's weeks: 2021-01-03 (a Sunday, ISO week 53 of 2020), 2024-12-30 (a Monday, ISO week 1 of 2025).
  const env = { ...process.env, LC_ALL: "C" };
  for (const epoch of [1_700_000_000, 1_000_000_000, 1_709_251_199, 1_609_675_200, 1_735_560_000, 1_704_067_200]) {
    const date = new Date(epoch * 1000);
    const utc = spawnSync("date", ["-u", "-d", `@${epoch}`, `+${format}`], { encoding: "utf8", env });
    assert.equal(strftime(format, date, true), utc.stdout.replace(/\n$/, ""), `UTC ${epoch}`);
    const local = spawnSync("date", ["-d", `@${epoch}`, `+${format}`], { encoding: "utf8", env });
    assert.equal(strftime(format, date), local.stdout.replace(/\n$/, ""), `local ${epoch}`);
  }
  assert.equal(checkTimeFormat("%H:%M:%S\n"), undefined);
  assert.match(checkTimeFormat("%H:%Q")!, /^"%Q" is not a conversion time\(\) takes/);
});

test("%Z is the zone's name as GNU date writes it, in zones with and without daylight saving time, named by file or by rule", () => {
  const zones = ["Europe/Berlin", "America/New_York", "Europe/Dublin", "Australia/Lord_Howe", "Asia/Kolkata", "America/Sao_Paulo", ":Europe/Paris", "EST5EDT", "Nowhere", ""];
  const saved = process.env.TZ;
  try {
    for (const tz of zones) {
      // Node reads TZ again when it is set, and so does timezone.ts.
      process.env.TZ = tz;
      for (const epoch of [1_700_000_000, 1_720_000_000]) {
        const date = spawnSync("date", ["-d", `@${epoch}`, "+%Z %z %H"], { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
        assert.equal(strftime("%Z %z %H", new Date(epoch * 1000)), date.stdout.replace(/\n$/, ""), `TZ=${tz} at ${epoch}`);
      }
    }
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
});

test("time() prints the current time where the handler calls it, in order with printf", async () => {
  const text = PROBE.replace(/printf\(.*\);/, 'time(); printf("then\\n"); time("%Y-%m-%d|");');
  const sim = await simulate({ fileName: "time.ts", text });
  sim.uprobe("libc.so.6:unlink", { args: [sim.kernel.userString("/tmp/x")] });
  const out = sim.output();
  assert.match(out, /^\d\d:\d\d:\d\d\nthen\n\d{4}-\d\d-\d\d\|$/, out);
  // With the realtime option, the simulation's own wall clock, moved on with the simulated one, in UTC.
  const timed = await simulate({ fileName: "time.ts", text }, { realtime: new Date("2026-11-24T23:59:58.500Z") });
  timed.uprobe("libc.so.6:unlink", { args: [timed.kernel.userString("/tmp/x")] });
  timed.kernel.advance(2_000_000_000n);
  timed.uprobe("libc.so.6:unlink", { args: [timed.kernel.userString("/tmp/x")] });
  assert.equal(timed.output(), "23:59:58\nthen\n2026-11-24|00:00:00\nthen\n2026-11-25|");
  await assert.rejects(simulate({ fileName: "time.ts", text }, { realtime: Number.NaN }), /simulate\(\) option realtime is the wall clock at the start, a Date or milliseconds since the epoch, not NaN/);
  const spec = openObject(compile({ fileName: "time.ts", text }).object, { name: "time" });
  assert.deepEqual(mapBtfTypes(spec, spec.maps.find((m) => m.name === "tsbpf_actions")!)!.times, ["%H:%M:%S\n", "%Y-%m-%d|"]);
  const bad = compile({ fileName: "bad.ts", text: PROBE.replace(/printf\(.*\);/, 'time("%H %Q");') }).diagnostics;
  assert.ok(bad.some((d) => d.code === "TSBPF1011" && /"%Q" is not a conversion time\(\) takes/.test(d.message)), JSON.stringify(bad));
});

test("ntop() writes addresses as the C library's inet_ntop does (through Python's socket.inet_ntop)", { skip: spawnSync("python3", ["--version"]).status !== 0 ? "python3 is missing" : false }, () => {
  const addresses = ["0.0.0.0", "127.0.0.1", "255.255.255.255", "::", "::1", "1::", "2001:db8::1", "2001:db8:0:0:1:0:0:1", "fe80::1:2:3:4", "::ffff:10.1.2.3", "::10.1.2.3", "1:0:0:2:0:0:0:3", "1:2:3:4:5:6:7:8", "0:0:1::"];
  const script = `import socket, sys\nfor a in sys.argv[1:]:\n    f = socket.AF_INET6 if ":" in a else socket.AF_INET\n    print(socket.inet_pton(f, a).hex(), socket.inet_ntop(f, socket.inet_pton(f, a)))`;
  const lines = spawnSync("python3", ["-c", script, ...addresses], { encoding: "utf8" }).stdout.trim().split("\n");
  assert.equal(lines.length, addresses.length);
  for (const line of lines) {
    const [hex, expected] = line.split(" ");
    assert.equal(inetText(Uint8Array.from(Buffer.from(hex!, "hex"))), expected, hex);
  }
});

test("printf's %s prints ntop() of a u32 read from the kernel and of a tracepoint's address arrays", async () => {
  const text = `import { uprobe, printf, ntop, type u32, type u8, type Arr } from "tsbpf";
export const license = "GPL";
interface Addrs { v4: Arr<u8, 4>; v6: Arr<u8, 16> }
export const p = uprobe("libc.so.6", "connect", (fd: u32, be: u32) => {
  const a: Addrs = { v4: [10, 0, 0, 7], v6: [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] };
  printf("%s %-12s|%s\\n", ntop(be), ntop(a.v4), ntop(a.v6));
});
`;
  const sim = await simulate({ fileName: "ntop.ts", text });
  // 127.0.0.1 as the kernel keeps a __be32: its bytes in network order, so the little-endian u32 0x0100007f.
  sim.uprobe("libc.so.6:connect", { args: [3, 0x0100007f] });
  assert.equal(sim.output(), "127.0.0.1 10.0.0.7    |2001:db8::1\n");
  const misuse = compile({ fileName: "bad.ts", text: text.replace("printf(", "const x: u32 = ntop(be) as any; printf(") }).diagnostics;
  assert.ok(misuse.some((d) => /ntop\(\) gives an IpAddr \(an IPv4 or IPv6 address\), not an integer/.test(d.message)), JSON.stringify(misuse));
});

test("ntop(family, addr): a constant family checked against the address, one known at run time written as it says (nothing for another, as bpftrace 0.17 writes)", async () => {
  const text = `import { uprobe, printf, ntop, Count, AF_INET, AF_INET6, type IpAddr, type u32, type u8, type Arr } from "tsbpf";
export const license = "GPL";
interface Addrs { v4: Arr<u8, 4>; v6: Arr<u8, 16> }
export const seen = new Count<IpAddr>(16);
export const p = uprobe("libc.so.6", "connect", (family: u32, be: u32) => {
  const a: Addrs = { v4: [10, 0, 0, 7], v6: [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] };
  printf("%s %s %s|%s|%s\\n", ntop(AF_INET, be), ntop(2, a.v4), ntop(AF_INET6, a.v6), ntop(family, a.v6), ntop(family, be));
  seen.increment(ntop(family, a.v6));
});
`;
  for (const backend of ["own", "llvm"] as const) {
    if (backend === "llvm" && noLlvm) continue;
    const sim = await simulate({ fileName: "ntop.ts", text }, { backend });
    for (const family of [10, 2, 7]) sim.uprobe("libc.so.6:connect", { args: [family, 0x0100007f] });
    // bpftrace 0.17: ntop(10, 0x0100007f) is "7f00:1::" (the u32's bytes, then zeroes), ntop(7, ...) is "".
    assert.equal(sim.output(), "127.0.0.1 10.0.0.7 2001:db8::1|2001:db8::1|7f00:1::\n127.0.0.1 10.0.0.7 2001:db8::1|32.1.13.184|127.0.0.1\n127.0.0.1 10.0.0.7 2001:db8::1||\n", backend);
    assert.deepEqual(sim.map("seen").entries(), [["2001:db8::1", 1n], ["32.1.13.184", 1n], ["", 1n]], backend);
  }
  const bad = (statement: string) => compile({ fileName: "bad.ts", text: text.replace("seen.increment(ntop(family, a.v6));", statement) }).diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join("\n");
  assert.equal(bad("seen.increment(ntop(3, be));"), "8:23 TSBPF1005 ntop()'s address family is AF_INET (2) or AF_INET6 (10), not 3");
  assert.equal(bad('printf("%s", ntop(AF_INET6, be));'), "8:31 TSBPF1011 ntop(AF_INET6, addr) takes an IPv6 address's 16 bytes (an Arr<u8, 16>), not an integer");
  assert.equal(bad("seen.increment(ntop(AF_INET, a.v6));"), "8:32 TSBPF1011 ntop(AF_INET, addr) takes an IPv4 address (a u32 as the kernel keeps it, or an Arr<u8, 4>), not an Arr<u8, 16>");
});

test("printf's %s of a kernel enum (a record's enum field, a value typed as one, a struct's enum member) prints its enumerator's name from the kernel's BTF; a value without one, the number", { skip: existsSync("/sys/kernel/btf/vmlinux") ? false : "no /sys/kernel/btf/vmlinux" }, async () => {
  const text = `import { tracepoint, printf } from "tsbpf";
import type { sock_type } from "tsbpf/kernel";
export const license = "GPL";
export const p = tracepoint("skb", "kfree_skb", (ctx) => {
  const t: sock_type = ctx.protocol as sock_type;
  printf("%-28s|%s|%d\\n", ctx.reason, t, ctx.reason);
});
`;
  for (const backend of ["own", "llvm"] as const) {
    if (backend === "llvm" && noLlvm) continue;
    const sim = await simulate({ fileName: "drops.ts", text }, { backend, tracepointFormats: tracepointFormats("skb/kfree_skb") });
    sim.tracepoint("skb", "kfree_skb", { skbaddr: 0n, location: 0n, rx_sk: 0n, protocol: 2, reason: 3 });
    sim.tracepoint("skb", "kfree_skb", { skbaddr: 0n, location: 0n, rx_sk: 0n, protocol: 77, reason: 100000 });
    assert.equal(sim.output(), "SKB_DROP_REASON_NO_SOCKET   |SOCK_DGRAM|3\n100000                      |77|100000\n", backend);
  }
  // A kernel struct's enum member, read through a raw tracepoint's typed pointer.
  const member = `import { rawTracepoint, printf } from "tsbpf";
export const license = "GPL";
export const s = rawTracepoint("block_rq_issue", (rq) => printf("%s\\n", rq.state));
`;
  const sim = await simulate({ fileName: "rq.ts", text: member });
  sim.rawTracepoint("block_rq_issue", [sim.kernel.alloc("request", { state: 1 }).address]);
  assert.equal(sim.output(), "MQ_RQ_IN_FLIGHT\n");
  // An anonymous enum known by its typedef: struct socket's `socket_state state` (typedef enum { SS_FREE, ... }).
  const anonymous = `import { kprobe, printf, type Ptr } from "tsbpf";
import type { socket } from "tsbpf/kernel";
export const license = "GPL";
export const s = kprobe("sock_sendmsg", (sock: Ptr<socket>) => printf("%s %d\\n", sock.state, sock.state));
`;
  for (const backend of ["own", "llvm"] as const) {
    if (backend === "llvm" && noLlvm) continue;
    const sock = await simulate({ fileName: "sock.ts", text: anonymous }, { backend });
    sock.kprobe("sock_sendmsg", { args: [sock.kernel.alloc("socket", { state: 3 }).address] });
    sock.kprobe("sock_sendmsg", { args: [sock.kernel.alloc("socket", { state: 9 }).address] });
    assert.equal(sock.output(), "SS_CONNECTED 3\n9 9\n", backend);
  }
  const site = decodeArgs(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0]), ["e32.skb_drop_reason"], { enumerator: (name, value) => `${name}#${value}` });
  assert.deepEqual(site, ["skb_drop_reason#3"]);
});

/**
 * `tsbpf run -e probe` while a python3 script opens a local TCP connection over IPv4 and one over IPv6, each closed at
 * once: what the run printed.
 */
function runOnLocalConnections(probe: string): SpawnSyncReturns<string> {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-ntop-"));
  try {
    writeFileSync(join(dir, "conn.py"), `import socket
for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    server = socket.socket(family)
    server.bind((host, 0))
    server.listen()
    client = socket.create_connection(server.getsockname()[:2])
    server.accept()[0].close()
    client.close()
    server.close()
`);
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    return spawnSync(process.execPath, [...CLI, "run", "--no-cache", "-e", probe, "-c", `python3 ${join(dir, "conn.py")}`], { encoding: "utf8", env, timeout: 30_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const noPython = spawnSync("python3", ["--version"]).status !== 0 ? "python3 is missing" : false;

test("ntop() on this kernel: a local TCP connection's state changes, IPv4 and IPv6", { skip: noKernel ?? noPython }, () => {
  const r = runOnLocalConnections(`tracepoint("sock", "inet_sock_set_state", (ctx) => {
  if (ctx.protocol !== 6 || ctx.newstate !== 1) return;
  if (ctx.family === 2) printf("%s -> %s\\n", ntop(ctx.saddr), ntop(ctx.daddr));
  else printf("%s -> %s\\n", ntop(ctx.saddr_v6), ntop(ctx.daddr_v6));
})`);
  assert.equal(r.status, 0, r.stderr);
  // Both ends of each connection reach ESTABLISHED (state 1).
  assert.deepEqual(r.stdout.trim().split("\n").sort(), ["127.0.0.1 -> 127.0.0.1", "127.0.0.1 -> 127.0.0.1", "::1 -> ::1", "::1 -> ::1"]);
});

test("ntop(family, addr) on this kernel: a socket's family read at run time, as bpftrace 0.17 writes the same one-liner", { skip: noKernel ?? noPython }, () => {
  const r = runOnLocalConnections(`const seen = new Count<IpAddr>(16);
tracepoint("sock", "inet_sock_set_state", (ctx) => {
  if (ctx.protocol !== 6 || ctx.newstate !== 1) return;
  printf("%d %s\\n", ctx.family, ntop(ctx.family, ctx.daddr_v6));
  seen.increment(ntop(ctx.family, ctx.saddr_v6));
})`);
  assert.equal(r.status, 0, r.stderr);
  // An IPv4 socket's daddr_v6 is the IPv4-mapped ::ffff:127.0.0.1, whose first 4 bytes AF_INET writes: 0.0.0.0, as
  // bpftrace 0.17 prints \`ntop(args->family, args->daddr_v6)\` and \`@[ntop(args->family, args->saddr_v6)]\` here.
  const lines = r.stdout.trim().split("\n");
  assert.deepEqual(lines.filter((l) => !l.startsWith("@")).sort(), ["10 ::1", "10 ::1", "2 0.0.0.0", "2 0.0.0.0"]);
  assert.deepEqual(lines.filter((l) => l.startsWith("@")).sort(), ["@seen[0.0.0.0]: 2", "@seen[::1]: 2"]);
});

test("a module-level string constant serves as a printf() or time() format or a uprobe's binary, and only as those", async () => {
  const text = `import { uprobe, printf, time, type u32 } from "tsbpf";
export const license = "GPL";
const ROW = "%-4d|%s\\n";
const CLOCK = "%Y|";
const LIBC = "libc.so.6";
export const p = uprobe(LIBC, "unlink", (n: u32) => {
  printf(ROW, n, "x");
  printf(ROW, n + 1, "y");
  time(CLOCK);
});
`;
  const sim = await simulate({ fileName: "row.ts", text });
  sim.uprobe("libc.so.6:unlink", { args: [7] });
  assert.match(sim.output(), /^7   \|x\n8   \|y\n\d{4}\|$/);
  assert.deepEqual(compile({ fileName: "row.ts", text }).programs.map((x) => x.section), ["uprobe/libc.so.6:unlink"]);
  const misuse = compile({ fileName: "bad.ts", text: text.replace('time(CLOCK);', 'const x = (ROW as any) as u32;') }).diagnostics;
  assert.ok(misuse.some((d) => /`ROW` is a string constant: it names what a kprobe, uprobe or USDT probe probes, or serves as the format of printf\(\) or time\(\)/.test(d.message)), JSON.stringify(misuse));
});
