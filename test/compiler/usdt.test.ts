// usdt(binary, provider, name, handler): the section, the spec map in libbpf's layout, the diagnostics, and libbpf's own
// object loader (bpftool prog loadall) accepting what both backends make.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { usdtArgumentCount } from "../../runtime/loader/usdt.js";
import { CLI } from "../support/cli.js";

const noKernel = missingRoot() ?? missingBpf(openSys());
const noBpftool = spawnSync("bpftool", ["version"]).status === 0 ? undefined : "bpftool is not installed";

const probe = (params: string, body = "return 0;", call = '"/usr/bin/python3", "python", "function__entry"') => ({
  fileName: "usdt.ts",
  text: [
    'import { usdt, printk, type i32, type u64, type i8 } from "tsbpf";',
    'export const license = "GPL";',
    `export const entry = usdt(${call}, (${params}) => { ${body} });`,
  ].join("\n"),
});

const codes = (r: ReturnType<typeof compile>) => r.diagnostics.map((d) => `${d.code} ${d.message}`);

test("usdt(): a usdt/BINARY:PROVIDER:NAME section reading its spec by the attach cookie", () => {
  const r = compile(probe("file: u64, func: u64, line: i32", "printk(`${line}`);"));
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.programs[0]!.section, "usdt//usr/bin/python3:python:function__entry");
  assert.equal(r.programs[0]!.kind, "usdt");
  const text = r.programs[0]!.insns;
  assert.ok(text.some((i) => i.code === 0x85 && i.imm === 174), "bpf_get_attach_cookie is called");
  assert.ok(text.some((i) => i.code === 0x85 && i.imm === 113), "registers are read with bpf_probe_read_kernel");
  assert.ok(text.some((i) => i.code === 0x85 && i.imm === 112), "memory arguments with bpf_probe_read_user");
});

test("usdt(): a handler without parameters reads no spec, and still declares the map the loader writes specs to", () => {
  const r = compile(probe("", "printk(`hit`); return 0;"));
  assert.deepEqual(r.diagnostics, []);
  assert.ok(!r.programs[0]!.insns.some((i) => i.code === 0x85 && i.imm === 174));
  assert.ok(Buffer.from(r.object).includes("__bpf_usdt_specs"));
});

test("usdt(): wrong arguments, too many parameters and untyped ones are diagnostics", () => {
  // TypeScript's own check comes first for a missing string; a non-literal one is the compiler's.
  assert.match(codes(compile(probe("a: u64", "return 0;", '"/usr/bin/python3", "function__entry"')))[0]!, /TS2554 Expected 4 arguments, but got 3/);
  assert.match(codes(compile(probe("a: u64", "return 0;", '"/usr/bin/python3", "python", `${1}`')))[0]!, /TSBPF1008 the arguments of usdt\(\) must be string literals/);
  const many = Array.from({ length: 13 }, (_, i) => `a${i}: u64`).join(", ");
  assert.match(codes(compile(probe(many)))[0]!, /TSBPF1009 a usdt handler can read at most 12 arguments/);
  // Twelve is the most a site describes, and fine.
  assert.deepEqual(compile(probe(Array.from({ length: 12 }, (_, i) => `a${i}: u64`).join(", "))).diagnostics, []);
  assert.match(codes(compile(probe("a", "return 0;")))[0]!, /TSBPF1018 parameter `a` needs a type/);
});

test("usdt(): a parameter past the arguments the binary's notes give the probe is TSBPF1009 at that parameter, naming how many there are", () => {
  const counts = (binary: string, provider: string, name: string) => (binary === "/usr/bin/python3" && provider === "python" && name === "function__entry" ? 3 : undefined);
  const r = compile(probe("file: u64, func: u64, line: i32, extra: u64"), { usdtArguments: counts });
  assert.deepEqual(codes(r), [
    "TSBPF1009 USDT probe python:function__entry in /usr/bin/python3 passes 3 arguments (its .note.stapsdt says so), so `extra` would always be 0: the handler takes at most 3 parameters",
  ]);
  assert.equal(r.diagnostics[0]!.column, r.source.text.split("\n")[2]!.indexOf("extra: u64") + 1);
  assert.deepEqual(compile(probe("file: u64, func: u64, line: i32"), { usdtArguments: counts }).diagnostics, []);
  // A probe the notes do not describe (another binary, a glob) is left as before: its missing arguments read 0.
  assert.deepEqual(compile(probe("a: u64, b: u64, c: u64, d: u64", "return 0;", '"/usr/bin/python3", "python", "function__*"'), { usdtArguments: counts }).diagnostics, []);
});

const pythonEntry = usdtArgumentCount("/usr/bin/python3", "python", "function__entry");
test("usdtArgumentCount() reads a probe's argument count from the binary's .note.stapsdt", { skip: pythonEntry === undefined ? "/usr/bin/python3 has no python:function__entry probe" : undefined }, () => {
  assert.equal(pythonEntry, 3);
  assert.equal(usdtArgumentCount("/usr/bin/python3", "python", "tsbpf_no_such_probe"), undefined);
  assert.equal(usdtArgumentCount("/nonexistent/tsbpf-binary", "python", "function__entry"), undefined);
  // tsbpf compile and verify read them: the extra parameter is the error.
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-usdt-args-"));
  try {
    const file = join(dir, "extra.ts");
    writeFileSync(file, probe("file: u64, func: u64, line: i32, extra: u64").text);
    for (const command of [["compile", file, "-o", join(dir, "extra.o")], ["verify", file]]) {
      const r = spawnSync(process.execPath, [...CLI, ...command], { encoding: "utf8" });
      assert.notEqual(r.status, 0, command[0]);
      assert.match(r.stderr + r.stdout, /extra\.ts:3:\d+ - error TSBPF1009: USDT probe python:function__entry in \/usr\/bin\/python3 passes 3 arguments/, command[0]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const backend of ["own", "llvm"] as const) {
  test(`${backend} backend: libbpf's loader (bpftool prog loadall) creates __bpf_usdt_specs and the kernel accepts the program`, { skip: noKernel ?? noBpftool }, () => {
    const r = compile("examples/python-usdt.ts", { backend });
    assert.deepEqual(r.diagnostics, []);
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-usdt-"));
    const pins = `/sys/fs/bpf/tsbpf-usdt-${process.pid}`;
    try {
      writeFileSync(join(dir, "probe.bpf.o"), r.object);
      execFileSync("bpftool", ["prog", "loadall", join(dir, "probe.bpf.o"), pins, "pinmaps", join(pins, "maps")], { stdio: ["ignore", "pipe", "pipe"] });
      assert.deepEqual(readdirSync(pins).filter((n) => n !== "maps").sort(), ["gc_done", "gc_start", "import_done"]);
      const specs = JSON.parse(execFileSync("bpftool", ["-j", "map", "show", "pinned", join(pins, "maps", "__bpf_usdt_specs")], { encoding: "utf8" }));
      assert.equal(specs.type, "array");
      assert.equal(specs.bytes_key, 4);
      assert.equal(specs.bytes_value, 208, "struct __bpf_usdt_spec's size");
      assert.equal(specs.max_entries, 256);
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
      assert.fail(`bpftool prog loadall failed:\n${stderr || String(error)}`);
    } finally {
      rmSync(pins, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
