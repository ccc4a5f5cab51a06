// Compiler fixtures: each test/compiler/fixtures/NAME.ts beside NAME.asm (the expected disassembly of
// every program, with `.rodata` shown as strings) or NAME.diag (the expected diagnostics, as the CLI
// prints them). Regenerate with TSBPF_UPDATE_FIXTURES=1 npm test -- compiler, and review the diff.
// Tracepoint formats come from fixtures/tracepoints/GROUP/NAME.format and kernel types from a small
// BTF built here, so results do not depend on the host.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile, formatDiagnostics, type CompileResult } from "../../compiler/index.js";
import { disassemble } from "../../compiler/isa/index.js";
import { BtfBuilder, BtfIntEncoding, BtfKind } from "../../compiler/btf/index.js";
import { exampleProbes } from "../support/examples.js";

const DIR = "test/compiler/fixtures";
const UPDATE = process.env.TSBPF_UPDATE_FIXTURES === "1";

const tracepointFormat = (group: string, name: string): string | undefined => {
  const path = join(DIR, "tracepoints", group, `${name}.format`);
  return existsSync(path) ? readFileSync(path, "utf8") : undefined;
};

/**
 * A small stand-in for the kernel's BTF, so "tsbpf/kernel" fixtures do not depend on the host:
 * struct filename { const char *name; const char *uptr; int refcnt; } and a task_struct with
 * pid, tgid and real_parent at made-up offsets.
 */
function fixtureVmlinux(): string {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const char = b.add({ kind: BtfKind.INT, name: "char", size: 1, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 8 });
  const constChar = b.add({ kind: BtfKind.CONST, name: "", type: char });
  const str = b.add({ kind: BtfKind.PTR, name: "", type: constChar });
  b.add({ kind: BtfKind.STRUCT, name: "filename", size: 32, members: [
    { name: "name", type: str, bitOffset: 0, bitfieldSize: 0 },
    { name: "uptr", type: str, bitOffset: 64, bitfieldSize: 0 },
    { name: "refcnt", type: int, bitOffset: 128, bitfieldSize: 0 },
  ] });
  const task = b.reserve();
  const taskPtr = b.add({ kind: BtfKind.PTR, name: "", type: task });
  b.set(task, { kind: BtfKind.STRUCT, name: "task_struct", size: 4096, members: [
    { name: "pid", type: int, bitOffset: 1000 * 8, bitfieldSize: 0 },
    { name: "tgid", type: int, bitOffset: 1004 * 8, bitfieldSize: 0 },
    { name: "real_parent", type: taskPtr, bitOffset: 1016 * 8, bitfieldSize: 0 },
  ] });
  // struct sock_common as in Linux 6.x: addresses and ports inside anonymous unions of anonymous structs.
  const u16 = b.add({ kind: BtfKind.INT, name: "unsigned short", size: 2, encoding: 0, offset: 0, bits: 16 });
  const u32 = b.add({ kind: BtfKind.INT, name: "unsigned int", size: 4, encoding: 0, offset: 0, bits: 32 });
  const u8 = b.add({ kind: BtfKind.INT, name: "unsigned char", size: 1, encoding: 0, offset: 0, bits: 8 });
  const addrs = b.add({ kind: BtfKind.STRUCT, name: "", size: 8, members: [
    { name: "skc_daddr", type: u32, bitOffset: 0, bitfieldSize: 0 },
    { name: "skc_rcv_saddr", type: u32, bitOffset: 32, bitfieldSize: 0 },
  ] });
  const ports = b.add({ kind: BtfKind.STRUCT, name: "", size: 4, members: [
    { name: "skc_dport", type: u16, bitOffset: 0, bitfieldSize: 0 },
    { name: "skc_num", type: u16, bitOffset: 16, bitfieldSize: 0 },
  ] });
  b.add({ kind: BtfKind.STRUCT, name: "sock_common", size: 136, members: [
    { name: "", type: b.add({ kind: BtfKind.UNION, name: "", size: 8, members: [{ name: "", type: addrs, bitOffset: 0, bitfieldSize: 0 }] }), bitOffset: 0, bitfieldSize: 0 },
    { name: "", type: b.add({ kind: BtfKind.UNION, name: "", size: 4, members: [{ name: "", type: ports, bitOffset: 0, bitfieldSize: 0 }] }), bitOffset: 96, bitfieldSize: 0 },
    { name: "skc_family", type: u16, bitOffset: 128, bitfieldSize: 0 },
    { name: "skc_state", type: u8, bitOffset: 144, bitfieldSize: 0 },
  ] });
  const path = join(mkdtempSync(join(tmpdir(), "tsbpf-fixture-")), "vmlinux.btf");
  writeFileSync(path, b.toBytes());
  return path;
}
const vmlinuxBtf = fixtureVmlinux();

/** The text a fixture pins: disassembly for a clean compile, diagnostics otherwise. */
function render(r: CompileResult): { ext: "asm" | "diag"; text: string } {
  if (r.diagnostics.length) {
    return { ext: "diag", text: formatDiagnostics(r.diagnostics, { sources: { [r.source.fileName]: r.source.text } }) };
  }
  const out: string[] = [];
  const strings = new TextDecoder().decode(r.rodata).split("\0").slice(0, -1);
  let at = 0;
  for (const s of strings) {
    out.push(`; .rodata+${at}: ${JSON.stringify(s)}`);
    at += new TextEncoder().encode(s).length + 1;
  }
  if (strings.length) out.push("");
  for (const p of r.programs) {
    out.push(`${p.section}/${p.name}:  ; stack ${p.stackDepth}`);
    const relocs = new Map<number, string>(p.relocations.map((x) => [x.insn, x.symbol === ".rodata" ? ".rodata" : `map ${x.symbol}`]));
    for (const c of p.coreRelocations) relocs.set(c.insn, `CO-RE ${c.struct}.${c.member}`);
    disassemble(p.insns, { indices: true }).forEach((line) => {
      const slot = Number(/^\s*(\d+):/.exec(line)?.[1]);
      const note = relocs.get(slot);
      out.push(note ? `${line}\t; ${note}` : line);
    });
    out.push("");
  }
  return { ext: "asm", text: out.join("\n") };
}

const names = readdirSync(DIR).filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3)).sort();
// The examples' disassembly is pinned too (fixtures/examples/NAME.asm), compiled against the same stand-ins.
const examples = exampleProbes().map((f) => `examples/${f.slice(0, -3)}`);

for (const name of [...names, ...examples]) {
  test(`fixture ${name}`, () => {
    const example = name.startsWith("examples/");
    const fileName = example ? `${name}.ts` : join(DIR, `${name}.ts`);
    const r = compile({ fileName, text: readFileSync(fileName, "utf8") }, { arch: "x86_64", tracepointFormat, vmlinuxBtf });
    const { ext, text } = render(r);
    const expectedPath = join(DIR, `${name}.${ext}`);
    const other = join(DIR, `${name}.${ext === "asm" ? "diag" : "asm"}`);
    if (example) assert.equal(ext, "asm", `${name} does not compile:\n${text}`);
    if (UPDATE) {
      writeFileSync(expectedPath, text);
      rmSync(other, { force: true });
      return;
    }
    assert.ok(!existsSync(other) || existsSync(expectedPath), `${name}: expected a ${other.endsWith("asm") ? "clean compile" : "diagnostic"}, got:\n${text}`);
    assert.ok(existsSync(expectedPath), `${expectedPath} is missing; run TSBPF_UPDATE_FIXTURES=1 npm test -- compiler`);
    assert.equal(text, readFileSync(expectedPath, "utf8"));
  });
}
