// Parameters: a module-level `let` is a `const volatile` integer in .rodata that `tsbpf run --set NAME=VALUE` (and
// the simulator's `globals`) sets before the probes load, as bpftrace's $1 or a libbpf tool's knobs; both backends,
// the simulator, and on this kernel.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { BtfKind, BtfVarLinkage, parseBtf } from "../../compiler/btf/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

const SOURCE = `import { kprobe, printf, pidTgid, type u64, type i16, type Ptr } from "tsbpf";
export const license = "GPL";
let minBytes: u64 = 4096;
let verbose = false;
let bias: i16 = -3;
export const k = kprobe("vfs_read", (file: u64, buf: u64, count: u64) => {
  if (count < minBytes) return;
  printf("%d %d %d\\n", count, verbose, bias);
});
`;
/** The settable (global) variables of `text`'s `.rodata` in both backends' BTF are `expected`: name, type as C writes it, size. */
function assertRodataKnobs(text: string, expected: readonly [string, string, number][]): void {
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "p.ts", text }, { arch: "x86_64", backend });
    assert.deepEqual(r.diagnostics, [], backend);
    const btf = parseBtf(r.btf);
    const rodata = [...btf.types()].find((t) => t.kind === BtfKind.DATASEC && t.name === ".rodata");
    assert.ok(rodata && rodata.kind === BtfKind.DATASEC, backend);
    const vars = rodata.vars.map((v) => ({ v: btf.typeById(v.type), size: v.size })).filter(({ v }) => v.kind === BtfKind.VAR && v.linkage === BtfVarLinkage.GLOBAL_ALLOCATED);
    assert.deepEqual(vars.map(({ v, size }) => [v.name, btf.typeName((v as { type: number }).type), size]), expected, backend);
  }
}
const messages = (text: string) => compile({ fileName: "p.ts", text: SOURCE.replace(/let bias[^\n]*\n/, text) }, { arch: "x86_64" }).diagnostics.map((d) => `${d.code} ${d.message}`);

describe("module-level let: parameters", () => {
  it("each is a global const volatile integer of .rodata, holding the value written, in both backends' objects", () => {
    assertRodataKnobs(SOURCE, [
      ["minBytes", "const volatile unsigned long long", 8],
      ["verbose", "const volatile _Bool", 1],
      ["bias", "const volatile short", 2],
    ]);
  });

  it("a handler cannot assign one; it is an integer or boolean with a constant value, under a name of the user's own", () => {
    assert.deepEqual(messages("let bias: i16 = -3;\nexport const w = kprobe(\"f\", () => { bias = 2; });\n"), [
      "TSBPF1001 `bias` is a parameter of the probes: the loader sets it before they load (tsbpf run --set bias=VALUE), and a handler cannot change it; keep a value the probes change in a map (`const counts = new ArrayMap<u64>(1)`)",
    ]);
    assert.match(messages("let bias: i16 = pidTgid();\n").join("\n"), /a parameter's value must be an integer computable at compile time/);
    assert.match(messages("let bias: Ptr = 0;\n").join("\n"), /a parameter is an integer, a boolean, an Arr<T, N> of them or a Str<N>, not a Ptr/);
    assert.match(messages("let bias = 1;\nlet tsbpf_knob = 1;\n").join("\n"), /names beginning with tsbpf_ are tsbpf's own: rename the parameter tsbpf_knob/);
    assert.match(messages("let bias: i16 = 70000;\n").join("\n"), /70000 does not fit in i16/);
    assert.match(messages("var bias = 1;\n").join("\n"), /module-level `var` is not supported/);
    // A probe, map or function is bound with const, whatever let or var would mean.
    const text = 'import { kprobe, HashMap, type u32, type u64 } from "tsbpf";\nexport const license = "GPL";\nexport let p = kprobe("f", () => 0);\nlet m = new HashMap<u32, u64>(8);\nvar f = () => 1;\n';
    assert.deepEqual(compile({ fileName: "p.ts", text }, { arch: "x86_64" }).diagnostics.map((d) => `${d.code} ${d.message}`), [
      "TSBPF1002 declare a probe, `export const p = kprobe(...)`, with `const`: a module-level `let` is a parameter the loader may set (`let minMs: u64 = 10`), and `var` is not supported",
      "TSBPF1002 declare a map, `export const m = new HashMap(...)`, with `const`: a module-level `let` is a parameter the loader may set (`let minMs: u64 = 10`), and `var` is not supported",
      "TSBPF1002 declare a function, `const f = (...) => ...`, with `const`: a module-level `let` is a parameter the loader may set (`let minMs: u64 = 10`), and `var` is not supported",
    ]);
  });

  it("the simulator runs with the values written, or with the globals given", async () => {
    const defaults = await simulate({ fileName: "p.ts", text: SOURCE }, { arch: "x86_64" });
    defaults.kprobe("vfs_read", { args: [0, 0, 100] });
    defaults.kprobe("vfs_read", { args: [0, 0, 5000] });
    assert.equal(defaults.output(), "5000 0 -3\n");
    const set = await simulate({ fileName: "p.ts", text: SOURCE }, { arch: "x86_64", globals: { minBytes: 10, verbose: true, bias: -300 } });
    set.kprobe("vfs_read", { args: [0, 0, 100] });
    assert.equal(set.output(), "100 1 -300\n");
  });
});

/** Array parameters, as a libbpf tool's `const volatile __u16 ports[8]`: set with a list, read by index or in a loop. */
const ARRAYS = `import { kprobe, printf, pidTgid, type u64, type u16, type i8, type Arr } from "tsbpf";
export const license = "GPL";
let ports: Arr<u16, 4> = [80, 443];
let grid: Arr<Arr<i8, 3>, 2> = [[1, -2], [3]];
let flags: Arr<boolean, 2> = [true];
export const k = kprobe("vfs_read", (file: u64, buf: u64, count: u64) => {
  let open = 0;
  for (const p of ports) if (p) open++;
  printf("%d %d %d %d %d %d\\n", ports[count & 3], open, grid[0][1], grid[1][0], grid[1][2], flags[0]);
});
`;
const arrayMessages = (declaration: string, body = "") =>
  compile({ fileName: "p.ts", text: ARRAYS.replace(/let ports[^\n]*\n/, declaration).replace("let open = 0;", `${body}\n  let open = 0;`) }, { arch: "x86_64" }).diagnostics.map((d) => `${d.code} ${d.message}`);

describe("module-level let of Arr<T, N>: array parameters", () => {
  it("each is a global array of const volatile integers in .rodata, as clang writes one, in both backends' objects", () => {
    assertRodataKnobs(ARRAYS, [
      ["ports", "const volatile unsigned short[4]", 8],
      ["grid", "const volatile signed char[2][3]", 6],
      ["flags", "const volatile _Bool[2]", 2],
    ]);
  });

  it("the simulator reads them in place, and its globals give them lists that leave the elements past them as written", async () => {
    for (const backend of ["own", "llvm"] as const) {
      const defaults = await simulate({ fileName: "p.ts", text: ARRAYS }, { arch: "x86_64", backend });
      defaults.kprobe("vfs_read", { args: [0, 0, 1] });
      assert.equal(defaults.output(), "443 2 -2 3 0 1\n", backend);
      const set = await simulate({ fileName: "p.ts", text: ARRAYS }, { arch: "x86_64", backend, globals: { ports: [22, 0, 8080], grid: [[0, 5], [-7, 0, 9]], flags: [false] } });
      set.kprobe("vfs_read", { args: [0, 0, 2] });
      assert.equal(set.output(), "8080 2 5 -7 9 0\n", backend);
    }
  });

  it("a for...of over one reads every element the loader set, in both backends (LLVM folded the first to its initial value)", async () => {
    const text = `import { kprobe, type u16, type Arr } from "tsbpf";
export const license = "GPL";
let ports: Arr<u16, 4> = [80, 443];
export const k = kprobe("f", (port: u16) => { let hit = 0; for (const p of ports) if (p === port) hit = 1; return hit; });`;
    for (const backend of ["own", "llvm"] as const) {
      const sim = await simulate({ fileName: "watch.ts", text }, { arch: "x86_64", backend, globals: { ports: [22] } });
      assert.deepEqual([22, 80, 443, 0].map((port) => sim.kprobe("f", { args: [port] }).r0), [1n, 0n, 1n, 1n], backend);
    }
  });

  it("a handler cannot assign an element; the initializer is a typed list of constants that fits", () => {
    const assigned = (name: string) => `TSBPF1001 \`${name}\` is a parameter of the probes: the loader sets it before they load (tsbpf run --set ${name}=1,2), and a handler cannot change it; keep a value the probes change in a map (\`const counts = new ArrayMap<u64>(1)\`)`;
    assert.deepEqual(arrayMessages("let ports: Arr<u16, 4> = [80];\n", "ports[1] = 22;"), [assigned("ports")]);
    assert.deepEqual(arrayMessages("let ports: Arr<u16, 4> = [80];\n", "ports[count & 3]++;"), [assigned("ports")]);
    assert.deepEqual(arrayMessages("let ports: Arr<u16, 4> = [80];\n", "ports = [1, 2, 3, 4];"), [assigned("ports")]);
    // Under another name too: .rodata is frozen, and the kernel's verifier would refuse the write ("write into map forbidden").
    assert.deepEqual(arrayMessages("let ports: Arr<u16, 4> = [80];\n", "const same = ports;\n  same[0] = 1;"), [assigned("ports")]);
    assert.deepEqual(arrayMessages("let ports: Arr<u16, 4> = [80];\nfunction clear(a: Arr<u16, 4>): void { a[3] = 0; }\n", "clear(ports);"), [assigned("ports")]);
    assert.deepEqual(arrayMessages("let ports: Arr<u16, 4> = [80];\n", "for (const row of grid) row[count & 1] = 0;"), [assigned("grid")]);
    assert.deepEqual(arrayMessages("let ports: Arr<u16, 4> = [80, 443, 8080, 8443, 9000];\n"), ["TSBPF1005 5 values do not fit in Arr<u16, 4>"]);
    assert.deepEqual(arrayMessages("let ports: Arr<u16, 4> = [80, 70000];\n"), ["TSBPF1005 70000 does not fit in u16 (0 to 65535)"]);
    assert.match(arrayMessages("let ports = [80, 443];\n").join("\n"), /an array parameter needs its type, Arr<T, N> \(`let ports: Arr<u32, 4> = \[1, 2\];`\)/);
    assert.match(arrayMessages("let ports: Arr<u16, 4> = [80, pidTgid()];\n").join("\n"), /an array parameter's elements must be integers computable at compile time/);
    assert.match(arrayMessages("interface Pair { a: u16; b: u16 }\nlet ports: Arr<Pair, 4> = [];\n").join("\n"), /an array parameter's elements are integers or booleans, not a struct Pair/);
  });
});

/** String parameters, as a libbpf tool's `const volatile char comm[16]`: set with text, read as a Str<N> in place. */
const STRINGS = `import { kprobe, printf, comm, type u64, type Str } from "tsbpf";
export const license = "GPL";
let name: Str<16> = "";
let label: Str<8> = "disk";
export const k = kprobe("vfs_read", (file: u64) => {
  if (name && comm() !== name) return;
  printf("%s %s %d\\n", comm(), label, label.startsWith("sd") ? 1 : 0);
});
`;
const stringMessages = (declaration: string, body = "") =>
  compile({ fileName: "p.ts", text: STRINGS.replace(/let name[^\n]*\n/, declaration).replace("  if (name", `${body}\n  if (name`) }, { arch: "x86_64" }).diagnostics.map((d) => `${d.code} ${d.message}`);

describe("module-level let of Str<N>: string parameters", () => {
  it("each is a global array of const volatile char in .rodata, as clang writes one, in both backends' objects", () => {
    assertRodataKnobs(STRINGS, [
      ["name", "const volatile char[16]", 16],
      ["label", "const volatile char[8]", 8],
    ]);
  });

  it("the simulator reads them in place as strings (compared, tested, printed), with the text written or the globals given", async () => {
    for (const backend of ["own", "llvm"] as const) {
      const defaults = await simulate({ fileName: "p.ts", text: STRINGS }, { arch: "x86_64", backend });
      defaults.kprobe("vfs_read", { comm: "cat" });
      assert.equal(defaults.output(), "cat disk 0\n", backend);
      const set = await simulate({ fileName: "p.ts", text: STRINGS }, { arch: "x86_64", backend, globals: { name: "dd", label: "sdb" } });
      set.kprobe("vfs_read", { comm: "cat" });
      set.kprobe("vfs_read", { comm: "dd" });
      assert.equal(set.output(), "dd sdb 1\n", backend);
    }
  });

  it("a handler cannot assign one; its value is a string literal that leaves room for the NUL", () => {
    const assigned = "TSBPF1001 `name` is a parameter of the probes: the loader sets it before they load (tsbpf run --set name=TEXT), and a handler cannot change it; keep a value the probes change in a map (`const counts = new ArrayMap<u64>(1)`)";
    assert.deepEqual(stringMessages("let name: Str<16> = \"\";\n", "name = comm();"), [assigned]);
    assert.deepEqual(stringMessages("let name: Str<4> = \"bash\";\n"), ["TSBPF1005 \"bash\" has 4 bytes: Str<4> holds at most 3 and a NUL"]);
    assert.match(stringMessages("let name: Str<16> = comm();\n").join("\n"), /a string parameter's value is a string literal \(`let name: Str<16> = "";`\); the loader may set another \(tsbpf run --set name=TEXT\)/);
  });
});

const noKernel = missingRoot() ?? missingBpf(openSys());

type TsbpfRun = (...args: string[]) => SpawnSyncReturns<string>;

/** Gives `use` a `tsbpf run` of probe `source` (written to a temporary file) with its arguments, tracing an `rm` of a file. */
function withProbe(source: string, use: (run: TsbpfRun) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-params-"));
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  try {
    const file = join(dir, "params.ts");
    writeFileSync(file, source);
    use((...args) => {
      writeFileSync(join(dir, "victim"), "");
      return spawnSync(process.execPath, [...CLI, "run", file, ...args, "-c", `rm ${join(dir, "victim")}`], { encoding: "utf8", env, timeout: 60_000 });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each --set NAME=VALUE is a usage error (exit 2) with its one-line message. */
function assertRefused(run: TsbpfRun, cases: readonly [string, string][]): void {
  for (const [value, why] of cases) {
    const refused = run("--set", value);
    assert.equal(refused.status, 2, refused.stderr);
    assert.equal(refused.stderr.trim(), why);
  }
}

describe("parameters on this kernel", { skip: noKernel }, () => {
  it("tsbpf run --set gives them values before loading; a name the file has not is refused, naming those it has", () => {
    withProbe(`import { tracepoint, printf, targetPid, pidTgid, type u64, type i32 } from "tsbpf";
export const license = "GPL";
let label: u64 = 7;
let shift: i32 = -1;
let verbose = false;
export const unlinks = tracepoint("syscalls", "sys_enter_unlinkat", () => {
  if (pidTgid() >> 32 !== targetPid()) return;
  printf("label %d shift %d%s\\n", label, shift, verbose ? " verbose" : "");
});
`, (run) => {
      const defaults = run();
      assert.equal(defaults.status, 0, defaults.stderr);
      assert.match(defaults.stdout, /^label 7 shift -1$/m);
      const set = run("--set", "label=42", "--set", "shift=-9");
      assert.equal(set.status, 0, set.stderr);
      assert.match(set.stdout, /^label 42 shift -9$/m);
      // Types named as the probe declares them, not as C (unsigned long long, _Bool).
      assertRefused(run, [
        ["label=abc", "tsbpf: --set: label is of type u64: give it an integer (decimal or 0x, e.g. label=42), not \"abc\""],
        ["label=-1", "tsbpf: --set: label is of type u64, and -1 does not fit in it (0 to 18446744073709551615)"],
        ["shift=1e3", "tsbpf: --set: shift is of type i32: give it an integer (decimal or 0x, e.g. shift=42), not \"1e3\""],
        ["verbose=2", "tsbpf: --set: verbose is of type boolean: give it true or false, not 2"],
        ["lable=1", "tsbpf: --set: the object has no global variable lable (did you mean label?); its global variables are label, shift, verbose"],
      ]);
    });
  });

  it("tsbpf run --set ports=22,8080 fills an array parameter in order, the rest as written; too many values or one out of range is refused naming the type as the probe wrote it", () => {
    withProbe(`import { tracepoint, printf, targetPid, pidTgid, type u16, type i8, type Arr } from "tsbpf";
export const license = "GPL";
let ports: Arr<u16, 3> = [80, 443, 53];
let bias: Arr<Arr<i8, 2>, 2> = [[-1, 1]];
export const unlinks = tracepoint("syscalls", "sys_enter_unlinkat", () => {
  if (pidTgid() >> 32 !== targetPid()) return;
  printf("ports %d %d %d bias %d %d %d %d\\n", ports[0], ports[1], ports[2], bias[0][0], bias[0][1], bias[1][0], bias[1][1]);
});
`, (run) => {
      const set = run("--set", "ports=22,8080", "--set", "bias=0,-128,127");
      assert.equal(set.status, 0, set.stderr);
      assert.match(set.stdout, /^ports 22 8080 53 bias 0 -128 127 0$/m);
      assertRefused(run, [
        ["ports=1,2,3,4", "tsbpf: --set: ports is of type Arr<u16, 3>, which holds 3 elements, and 4 values were given"],
        ["ports=1,65536", "tsbpf: --set: ports[1] is of type u16, and 65536 does not fit in it (0 to 65535)"],
        ["bias=0,0,0,-129", "tsbpf: --set: bias[1][1] is of type i8, and -129 does not fit in it (-128 to 127)"],
        ["bias=1,2,3,4,5", "tsbpf: --set: bias is of type Arr<Arr<i8, 2>, 2>, which holds 4 elements, and 5 values were given"],
      ]);
    });
  });

  it("tsbpf run --set name=TEXT fills a string parameter; text that does not fit is refused", () => {
    withProbe(`import { tracepoint, printf, targetPid, pidTgid, comm, type Str } from "tsbpf";
export const license = "GPL";
let name: Str<8> = "nobody";
export const unlinks = tracepoint("syscalls", "sys_enter_unlinkat", () => {
  if (pidTgid() >> 32 !== targetPid()) return;
  printf("%s %s\\n", name, comm() === name ? "matches" : "differs");
});
`, (run) => {
      const defaults = run();
      assert.equal(defaults.status, 0, defaults.stderr);
      assert.match(defaults.stdout, /^nobody differs$/m);
      const set = run("--set", "name=rm");
      assert.equal(set.status, 0, set.stderr);
      assert.match(set.stdout, /^rm matches$/m);
      assertRefused(run, [["name=12345678", "tsbpf: --set: name holds 8 bytes, so a string of at most 7 bytes (and its NUL); \"12345678\" has 8"]]);
    });
  });
});
