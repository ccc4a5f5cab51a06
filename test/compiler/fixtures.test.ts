// Compiler fixtures: each test/compiler/fixtures/NAME.ts beside NAME.asm (the expected disassembly of
// every program, with `.rodata` shown as strings) or NAME.diag (the expected diagnostics, as the CLI
// prints them). Regenerate with TSBPF_UPDATE_FIXTURES=1 npm test -- compiler, and review the diff.
// Tracepoint formats come from fixtures/tracepoints/GROUP/NAME.format and kernel types from a small
// BTF built here, so results do not depend on the host.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compile, formatDiagnostics, type CompileResult } from "../../compiler/index.js";
import { programListing } from "../../compiler/listing.js";
import { exampleProbes } from "../support/examples.js";
import { FIXTURES as DIR, fixtureVmlinux, tracepointFormat } from "../support/fixture-kernel.js";

const UPDATE = process.env.TSBPF_UPDATE_FIXTURES === "1";

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
    out.push(`${p.section}/${p.name}:  ; stack ${p.stackDepth}`, ...programListing(p), "");
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
