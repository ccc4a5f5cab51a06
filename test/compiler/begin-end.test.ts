// begin(h) and end(h), as bpftrace's BEGIN and END: raw tracepoint programs in section raw_tp tagged tsbpf:run=begin
// or =end (both backends), which tsbpf run does not attach but runs once with BPF_PROG_TEST_RUN: begin before the
// probes attach (its printf output comes first), end after they are detached (before the maps print). Checked in the
// simulator and on this kernel, with bpftrace's hello world: a BEGIN that prints and exits.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { tracepointFormat, tracepointFormats } from "../support/fixture-kernel.js";
import { funcTags, parseBtf } from "../../compiler/btf/index.js";
import { FakeSys, missingBpf, missingRoot, missingTracefs, openSys } from "../../runtime/sys/index.js";
import { loadObject, openObject } from "../../runtime/loader/index.js";
import { verifyObject } from "../../cli/commands/verify.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

const PROBE = (dir: string) => `import { begin, end, tracepoint, printf, comm, readUserStr, HashMap, ArrayMap, type u64, type Str } from "tsbpf";
export const license = "GPL";
export const unlinks = new HashMap<Str<16>, u64>(16);
const phase = new ArrayMap<u64>(1);
export const header = begin(() => {
  printf("%-6s %s\\n", "COMM", "PATH");
  phase.update(0, 1);
});
export const p = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => {
  const path: Str<64> = readUserStr(ctx.pathname);
  if (!path.startsWith("${dir}/")) return;
  printf("%-6s %s (phase %d)\\n", comm(), path, phase.lookup(0) ?? 0);
  unlinks.increment(comm());
});
export const footer = end(() => {
  printf("%d unlinks\\n", unlinks.lookup("rm") ?? 0);
  unlinks.clear();
});
`;

test("begin() and end() are raw_tp programs tagged tsbpf:run=, not attached, accepted by the verifier model", () => {
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "be.ts", text: PROBE("/tmp/x") }, { backend, tracepointFormat });
    assert.deepEqual(r.diagnostics, [], backend);
    assert.deepEqual(r.programs.map((p) => [p.name, p.section, p.kind]).sort(), [["footer", "raw_tp", "end"], ["header", "raw_tp", "begin"], ["p", "tracepoint/syscalls/sys_enter_unlinkat", "tracepoint"]], backend);
    const btf = parseBtf(r.btf);
    assert.deepEqual([funcTags(btf, "header"), funcTags(btf, "footer")], [["tsbpf:run=begin"], ["tsbpf:run=end"]], backend);
    const spec = openObject(r.object, { name: "be" });
    assert.deepEqual(new Map(spec.programs.map((p) => [p.name, p.attach.kind === "run" ? p.attach.when : p.attach.kind])), new Map([["header", "begin"], ["p", "tracepoint"], ["footer", "end"]]), backend);
    assert.deepEqual(verifyObject(r.object).programs.map((p) => p.verdict), ["accepted", "accepted", "accepted"], backend);
    // attachAll leaves them out, saying why; a run-only file loads on FakeSys too. (The tracepoint's id is read from
    // tracefs, which may be readable by root alone.)
    if (missingTracefs()) continue;
    const loaded = loadObject(new FakeSys(), spec);
    const { attached, skipped } = loaded.attachAll();
    assert.deepEqual(attached.map((a) => a.program), ["p"]);
    assert.deepEqual(skipped.map((s) => s.program).sort(), ["footer", "header"]);
    assert.match(skipped.find((s) => s.program === "header")!.why, /a begin\(\) program runs once \(run\(\)\), it is not attached/);
    loaded.close();
  }
  const d = compile({ fileName: "bad.ts", text: PROBE("/tmp/x").replace("export const footer = end(() => {", "export const footer = end((ctx: any) => { if (ctx) return;") }, { tracepointFormat }).diagnostics;
  // Their handlers take no parameters: TypeScript says so first.
  assert.ok(d.some((x) => x.code === "TS2345" && x.line === 15), JSON.stringify(d));
  const twice = compile({ fileName: "bad.ts", text: PROBE("/tmp/x").replace("end(() => {", "end(() => {}, () => {") }, { tracepointFormat }).diagnostics;
  assert.ok(twice.some((x) => x.code === "TS2554"), JSON.stringify(twice));
});

test("in the simulator, sim.begin() and sim.end() run them, with what they print and change", async () => {
  const sim = await simulate({ fileName: "be.ts", text: PROBE("/tmp/x") }, { tracepointFormats: tracepointFormats("syscalls/sys_enter_unlinkat") });
  sim.begin();
  assert.equal(sim.output(), "COMM   PATH\n");
  assert.deepEqual(sim.map("phase").toArray(), [1n]);
  sim.end();
  assert.equal(sim.output(), "0 unlinks\n");
  assert.throws(() => sim.end({ program: "nope" }), /no program nope in the object \(programs: header, footer, p\)/);
  const beginOnly = await simulate({ fileName: "b.ts", text: 'import { begin } from "tsbpf";\nexport const license = "GPL";\nbegin(() => 0);\n' });
  assert.throws(() => beginOnly.end(), /no end\(\) program in the object; its programs: begin_1 \(raw_tp\)/);
});

const noKernel = missingRoot() ?? missingBpf(openSys());

test("tsbpf run runs begin() before attaching and end() after detaching; a begin() that exits ends the run", { skip: noKernel }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-be-"));
  try {
    const probe = join(dir, "be.ts");
    writeFileSync(probe, PROBE(dir));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const r = spawnSync(process.execPath, [...CLI, "run", probe, "--no-cache", "-c", `sh -c "touch ${dir}/a; rm ${dir}/a"`], { encoding: "utf8", env, timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    // The header first, the event (which saw begin()'s map update), the footer, then the maps: unlinks was cleared.
    assert.equal(r.stdout, `COMM   PATH\nrm     ${dir}/a (phase 1)\n1 unlinks\n`);
    const hello = join(dir, "hello.ts");
    writeFileSync(hello, `import { begin, printf, exit } from "tsbpf";\nexport const license = "GPL";\nexport const hi = begin(() => {\n  printf("Hello, World!\\n");\n  exit(4);\n});\n`);
    const h = spawnSync(process.execPath, [...CLI, "run", hello, "--no-cache"], { encoding: "utf8", env, timeout: 30_000 });
    assert.deepEqual([h.status, h.stdout], [4, "Hello, World!\n"], h.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
