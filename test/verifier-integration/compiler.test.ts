// The compiler runs the verifier model on every program it emits: a rejection (a codegen bug, or a
// pattern the kernel refuses) becomes a TSBPF20xx diagnostic at the TypeScript line of the offending
// instruction, with a sentence for the author and the instruction and register state as a note.
// Codegen bugs are simulated by breaking compiled instructions and feeding them through the same path;
// objects.test.ts checks that every fixture and example compiles clean (the model accepts them in compile()).

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { compile, formatDiagnostics } from "../../compiler/index.js";
import { assemble } from "../../compiler/isa/index.js";
import { VerifierCode, explainAt, explainRejection, expressionAt, verifyPrograms } from "../../compiler/verify-programs.js";
import { BASENAME_PROBE, basenameProbe } from "../support/basename-probe.js";
import { verifyObject } from "../../cli/commands/verify.js";
import { LogLevel, missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { Session } from "../../runtime/loader/index.js";

const FIXTURES = "test/compiler/fixtures";
const tracepointFormat = (group: string, name: string): string | undefined => {
  const path = join(FIXTURES, "tracepoints", group, `${name}.format`);
  return existsSync(path) ? readFileSync(path, "utf8") : undefined;
};

test("a codegen bug reading past the stack is reported at the TypeScript line", () => {
  const r = compile(join(FIXTURES, "printk.ts"), { tracepointFormat });
  assert.deepEqual(r.diagnostics, []);
  const p = r.programs[0]!;
  // The first slot compiled from line 10 (the `cpu ... rand ... uid` printk) now reads below the 512-byte stack.
  const at = p.lines.findIndex((l) => l?.line === 10);
  assert.ok(at > 0);
  const insns = p.insns.map((x) => ({ ...x }));
  insns[at] = assemble("r1 = *(u64 *)(r10 - 520)")[0]!;
  const [d, ...rest] = verifyPrograms([{ ...p, insns }], r.source, { rodataSize: r.rodata.length });
  assert.equal(rest.length, 0);
  assert.equal(d!.code, "TSBPF2004");
  assert.equal(d!.file, r.source.fileName);
  assert.equal(d!.line, 10);
  assert.match(d!.message, /^messages: `.+` accesses memory outside its stack buffer at a fixed offset/);
  assert.match(d!.message, new RegExp(`note: the verifier model rejects instruction ${at} \`r1 = \\*\\(u64 \\*\\)\\(r10 -520\\)\`: invalid read from stack R10 off=-520`));
  const text = formatDiagnostics([d!], { sources: { [r.source.fileName]: r.source.text } });
  assert.match(text, /printk.ts:10:\d+ - error TSBPF2004/);
  assert.match(text, /10 {3}printk\(`cpu \$\{smpProcessorId\(\)\}/);
});

test("a codegen bug clobbering a register before use names the register's line", () => {
  const r = compile(join(FIXTURES, "control.ts"), { tracepointFormat });
  assert.deepEqual(r.diagnostics, []);
  const p = r.programs[0]!;
  // Slot 0 loads r2 from the context; reading r9 instead leaves a never-written register.
  const insns = p.insns.map((x) => ({ ...x }));
  insns[0] = { ...insns[0]!, src: 9 };
  const [d] = verifyPrograms([{ ...p, insns }], r.source, { rodataSize: r.rodata.length });
  assert.equal(d!.code, "TSBPF2003");
  assert.equal(d!.line, p.lines[0]!.line);
  assert.match(d!.message, /R9 !read_ok/);
});

test("a lookup used without a null check: the sentence names the lookup and the read", () => {
  // Line info as the compiler records it for `const v = counts.lookup(pid); return v.value;`.
  const source = { fileName: "counts.ts", text: "export const p = kprobe(\"f\", () => {\n  const v = counts.lookup(pid);\n  return v.value;\n});\n" };
  const insns = assemble("r1 = 0\n*(u64 *)(r10 - 8) = r1\nr2 = r10\nr2 += -8\nr1 = map[fd:9]\ncall bpf_map_lookup_elem\nr0 = *(u64 *)(r0 + 0)\nexit");
  const l2 = { line: 2, column: 3 };
  const lines = [l2, l2, l2, l2, l2, undefined, { line: 2, column: 13 }, { line: 3, column: 3 }, { line: 3, column: 3 }];
  const [d] = verifyPrograms([{ name: "p", kind: "kprobe", insns, relocations: [{ insn: 4, symbol: "counts" }], lines }], source, {
    rodataSize: 0,
    maps: [{ name: "counts", type: 1, keySize: 8, valueSize: 8, maxEntries: 16 }],
  });
  assert.equal(d!.code, "TSBPF2002");
  assert.equal(d!.line, 3);
  assert.equal(d!.column, 10);
  assert.equal(d!.length, "v.value".length);
  assert.match(d!.message, /`counts\.lookup\(pid\)` may be null here; check it .* before reading `v\.value`/);
  assert.match(d!.message, /R0=map_value_or_null/);
});

test("maps the model is not told about leave a program unchecked rather than falsely rejected", () => {
  const insns = assemble("r1 = map[fd:9]\nr0 = 0\nexit");
  const ds = verifyPrograms([{ name: "p", kind: "kprobe", insns, relocations: [{ insn: 0, symbol: "unknown" }], lines: [] }], { fileName: "x.ts", text: "" }, { rodataSize: 0 });
  assert.deepEqual(ds, []);
});

test("expressions are read off the source line from a statement's position", () => {
  assert.equal(expressionAt("  return v.value;", 3), "v.value");
  assert.equal(expressionAt("  const v = counts.lookup(pid)!.value;", 3, true), "counts.lookup(pid)");
  assert.equal(expressionAt("\treturn *v;", 2), "*v");
  assert.equal(expressionAt("  total += buf[i + 1];", 3), "buf[i + 1]");
  assert.equal(expressionAt("  }", 3), undefined);
});

test("a ring buffer record left unsubmitted on one path is named with its reservation's line (TSBPF2010)", () => {
  const text = [
    'import { tracepoint, RingBuf, type i32 } from "tsbpf";',
    'export const license = "GPL";',
    "interface Ev { flags: i32 }",
    "export const rb = new RingBuf<Ev>(4096);",
    'export const p = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => {',
    "  const e = rb.reserve();",
    "  if (e === null) return 0;",
    "  if (ctx.flag === 0) return 0;",
    "  e.flags = ctx.flag as i32;",
    "  rb.submit(e);",
    "  return 0;",
    "});",
  ].join("\n");
  const r = compile({ fileName: "leak.ts", text }, { tracepointFormat });
  assert.equal(r.diagnostics.length, 1, formatDiagnostics(r.diagnostics, { sources: { "leak.ts": text } }));
  const [d] = r.diagnostics;
  assert.equal(d!.code, "TSBPF2010");
  assert.equal(d!.line, 8);
  assert.match(d!.message, /^p: the ring buffer record reserved by `rb\.reserve\(\)` on line 6 is neither submitted nor discarded on the path that ends here/);
});

test("bounded loops with too many paths for the model are left to the kernel; its verdict is named as too many paths, not a missing bound", () => {
  const text = BASENAME_PROBE;
  const r = compile({ fileName: "paths.ts", text }, { tracepointFormat });
  assert.deepEqual(r.diagnostics, [], formatDiagnostics(r.diagnostics, { sources: { "paths.ts": text } }));
  const explained = explainRejection(assemble("r0 = 0\nexit"), { pc: 0, message: "BPF program is too large. Processed 1000001 insn" }, 17, () => ({ file: "paths.ts", line: 8, column: 5, text: "    if (c === 0) break;" }));
  assert.equal(explained.code, VerifierCode.Loop);
  assert.match(explained.sentence, /^the kernel's verifier gives up on this program: following every path through the loop around .* takes more than 1,000,000 instructions/);
  assert.doesNotMatch(explained.sentence, /give it a constant bound/);
});

test("a loop that moves a variable a later loop indexes with: the model processes as many instructions as the kernel", async () => {
  // Trying stored states oldest first and storing by instruction count, the model took 861,384 instructions with a
  // 16-byte scan (the kernel 8,672) and gave up past 1,000,000 with 30 (the kernel 57,374).
  const kernel = missingRoot() ?? missingBpf(openSys()) ? null : new Session(openSys());
  try {
    for (const [scan, bound] of [[16, 20_000], [30, 100_000]] as const) {
      const r = compile({ fileName: "paths.ts", text: basenameProbe(scan) }, { tracepointFormat });
      assert.deepEqual(r.diagnostics, []);
      const [model] = verifyObject(r.object, { name: "paths" }).programs;
      assert.equal(model!.verdict, "accepted", model!.error?.text);
      assert.ok(model!.processed < bound, `${scan} bytes: ${model!.processed} instructions`);
      if (!kernel) continue;
      const loaded = kernel.load(r.object, { name: `paths${scan}`, logLevel: LogLevel.STATS });
      const processed = Number(/processed (\d+) insns/.exec(loaded.program("t").log)?.[1]);
      // the same rules give the same count; 10% leaves room for a kernel that stores a state more or less
      assert.ok(Math.abs(model!.processed - processed) <= processed / 10, `${scan} bytes: the model processed ${model!.processed} instructions, the kernel ${processed}`);
    }
  } finally {
    await kernel?.close();
  }
});

test("too many paths are said at the loop they run through (around the refused instruction, else the last before it), not at the instruction where the count ran out", () => {
  const insns = assemble("r1 = 0\nl: r1 += 1\nif r1 < 10 goto l\nr0 = 0\nexit");
  const lines = ["  let n = 0;", "  for (let i = 0; i < 48; i++) {", "  const ext: Arr<u8, 8> = [0, 0, 0, 0, 0, 0, 0, 0];"];
  const positionOf = (pc: number) => {
    const line = pc === 0 ? 1 : pc <= 2 ? 2 : 3;
    return { file: "scan.ts", line, column: line === 2 ? 19 : 3, text: lines[line - 1] };
  };
  for (const pc of [2, 3]) {
    const { why, source } = explainAt(insns, { pc, message: "BPF program is too large. Processed 1000001 insn" }, 1, positionOf);
    assert.equal(why.code, VerifierCode.Loop);
    assert.match(why.sentence, /following every path through the loop `for \(let i = 0; i < 48; i\+\+\)` and the code after it/);
    assert.deepEqual([source?.line, source?.column, why.expression], [2, 3, "for (let i = 0; i < 48; i++)"]);
  }
});

test("a lookup read where one path left it null (a let narrowed in an if, read after it) is TSBPF2002, not a tsbpf bug", () => {
  const text = `import { begin, printf, exit, HashMap, type u32, type u64 } from "tsbpf";
export const license = "GPL";
export const a = new HashMap<u32, u64>(8);
export const b = begin(() => { const k: u32 = 1; let lt = a.lookup(k); if (lt !== null) { lt += 5; } printf(\`let: \${lt}\\n\`); exit(); });
`;
  const [d] = compile({ fileName: "null-path.ts", text }).diagnostics;
  assert.equal(d?.code, "TSBPF2002", JSON.stringify(d));
  assert.match(d!.message, /`a\.lookup\(k\)` may be null here; check it .* before reading `lt`/);
});

test("a sentence naming the program type takes the article the type's name is said with", () => {
  const context = (progType: number) =>
    explainRejection(assemble("r0 = *(u32 *)(r1 +999)\nexit"), { pc: 0, message: "invalid bpf_context access off=999 size=4" }, progType, () => ({ file: "c.ts", line: 3, column: 3, text: "  ctx.dfd;" })).sentence;
  assert.match(context(5), /where a tracepoint program may not/);
  assert.match(context(6), /where an xdp program may not/);
});
