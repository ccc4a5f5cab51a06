// Parameters: a module-level `let` is a `const volatile` integer in .rodata that `tsbpf run --set NAME=VALUE` (and
// the simulator's `globals`) sets before the probes load, as bpftrace's $1 or a libbpf tool's knobs; both backends,
// the simulator, and on this kernel.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
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
const messages = (text: string) => compile({ fileName: "p.ts", text: SOURCE.replace(/let bias[^\n]*\n/, text) }, { arch: "x86_64" }).diagnostics.map((d) => `${d.code} ${d.message}`);

describe("module-level let: parameters", () => {
  it("each is a global const volatile integer of .rodata, holding the value written, in both backends' objects", () => {
    for (const backend of ["own", "llvm"] as const) {
      const r = compile({ fileName: "p.ts", text: SOURCE }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, [], backend);
      const btf = parseBtf(r.btf);
      const types = [...btf.types()];
      const rodata = types.find((t) => t.kind === BtfKind.DATASEC && t.name === ".rodata");
      assert.ok(rodata && rodata.kind === BtfKind.DATASEC, backend);
      const vars = rodata.vars.map((v) => ({ v: btf.typeById(v.type), offset: v.offset, size: v.size })).filter(({ v }) => v.kind === BtfKind.VAR && v.linkage === BtfVarLinkage.GLOBAL_ALLOCATED);
      assert.deepEqual(vars.map(({ v, size }) => [v.name, btf.typeName((v as { type: number }).type), size]), [
        ["minBytes", "const volatile unsigned long long", 8],
        ["verbose", "const volatile _Bool", 1],
        ["bias", "const volatile short", 2],
      ], backend);
    }
  });

  it("a handler cannot assign one; it is an integer or boolean with a constant value, under a name of the user's own", () => {
    assert.deepEqual(messages("let bias: i16 = -3;\nexport const w = kprobe(\"f\", () => { bias = 2; });\n"), [
      "TSBPF1001 `bias` is a parameter of the probes: the loader sets it before they load (tsbpf run --set bias=VALUE), and a handler cannot change it; keep a value the probes change in a map (`const counts = new ArrayMap<u64>(1)`)",
    ]);
    assert.match(messages("let bias: i16 = pidTgid();\n").join("\n"), /a parameter's value must be an integer computable at compile time/);
    assert.match(messages("let bias: Ptr = 0;\n").join("\n"), /a parameter is an integer or a boolean, not a Ptr/);
    assert.match(messages("let bias = 1;\nlet tsbpf_knob = 1;\n").join("\n"), /names beginning with tsbpf_ are tsbpf's own: rename the parameter tsbpf_knob/);
    assert.match(messages("let bias: i16 = 70000;\n").join("\n"), /70000 does not fit in i16/);
    assert.match(messages("var bias = 1;\n").join("\n"), /module-level `var` is not supported/);
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

const noKernel = missingRoot() ?? missingBpf(openSys());

describe("parameters on this kernel", { skip: noKernel }, () => {
  it("tsbpf run --set gives them values before loading; a name the file has not is refused, naming those it has", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-params-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      const file = join(dir, "params.ts");
      writeFileSync(file, `import { tracepoint, printf, targetPid, pidTgid, type u64, type i32 } from "tsbpf";
export const license = "GPL";
let label: u64 = 7;
let shift: i32 = -1;
let verbose = false;
export const unlinks = tracepoint("syscalls", "sys_enter_unlinkat", () => {
  if (pidTgid() >> 32 !== targetPid()) return;
  printf("label %d shift %d%s\\n", label, shift, verbose ? " verbose" : "");
});
`);
      const run = (...args: string[]) => {
        writeFileSync(join(dir, "victim"), "");
        return spawnSync(process.execPath, [...CLI, "run", file, ...args, "-c", `rm ${join(dir, "victim")}`], { encoding: "utf8", env, timeout: 60_000 });
      };
      const defaults = run();
      assert.equal(defaults.status, 0, defaults.stderr);
      assert.match(defaults.stdout, /^label 7 shift -1$/m);
      const set = run("--set", "label=42", "--set", "shift=-9");
      assert.equal(set.status, 0, set.stderr);
      assert.match(set.stdout, /^label 42 shift -9$/m);
      for (const [value, why] of [
        // Types named as the probe declares them, not as C (unsigned long long, _Bool).
        ["label=abc", "tsbpf: --set: label is of type u64: give it an integer (decimal or 0x, e.g. label=42), not \"abc\""],
        ["label=-1", "tsbpf: --set: label is of type u64, and -1 does not fit in it (0 to 18446744073709551615)"],
        ["shift=1e3", "tsbpf: --set: shift is of type i32: give it an integer (decimal or 0x, e.g. shift=42), not \"1e3\""],
        ["verbose=2", "tsbpf: --set: verbose is of type boolean: give it true or false, not 2"],
      ]) {
        const refused = run("--set", value!);
        assert.equal(refused.status, 2, refused.stderr);
        assert.equal(refused.stderr.trim(), why);
      }
      const unknown = run("--set", "lable=1");
      assert.equal(unknown.status, 2, unknown.stderr);
      assert.equal(unknown.stderr.trim(), "tsbpf: --set: the object has no global variable lable (did you mean label?); its global variables are label, shift, verbose");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
