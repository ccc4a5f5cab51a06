// The code in README.md and docs/testing.md, as a reader copies it: the probe file under "Writing probes" compiles,
// every `tsbpf run -e '...'` one-liner compiles as -e compiles it, and the unit-test samples that import "tsbpf/test"
// run and pass (the replay sample against a recording made here, where the README's path is the reader's own).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { compile } from "../../compiler/index.js";
import { expressionSource } from "../../cli/expression.js";
import { missingRoot } from "../../runtime/sys/index.js";
import { needsVmlinux } from "../sim/support.js";
import { CLI } from "../support/cli.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
// A sample runs as a program of its own, reporting as node:test reports to a terminal, not to this test runner.
const sampleEnv = { ...env };
delete sampleEnv.NODE_TEST_CONTEXT;

/** The fenced blocks of a document in the given language. */
function blocks(document: string, language: string): string[] {
  const text = readFileSync(join(ROOT, document), "utf8");
  return [...text.matchAll(new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, "gm"))].map((m) => m[1]!);
}

/** The one-liners of README.md's shell blocks: the text between the quotes of each `tsbpf run -e '...'`. */
const oneLiners = (): string[] => blocks("README.md", "sh").flatMap((b) => [...b.matchAll(/^npx tsbpf run -e '([^']*)'/gm)].map((m) => m[1]!));

test("README.md's probe file compiles", needsVmlinux, () => {
  const probes = blocks("README.md", "ts").filter((b) => /^export const license/m.test(b));
  assert.equal(probes.length, 1, "one probe file under \"Writing probes\"");
  const r = compile({ fileName: "unlink.ts", text: probes[0]! });
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.programs.map((p) => p.section), ["kprobe/do_unlinkat", "kretprobe/do_unlinkat"]);
});

test("README.md's -e one-liners compile (against this kernel's tracefs and BTF)", { skip: missingRoot() ?? false }, () => {
  const texts = oneLiners();
  assert.ok(texts.length >= 4, `README.md shows one-liners: ${texts.length}`);
  for (const text of texts) {
    const r = compile({ fileName: "-e.ts", text: expressionSource(text) }, { exportAll: true });
    assert.deepEqual(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`), [], text);
    assert.ok(r.programs.length > 0, text);
  }
});

/** Runs a sample that imports "tsbpf/test" as a module of its own, with "tsbpf/test" the sources'; its status and output. */
function runSample(sample: string, replace: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-readme-"));
  try {
    let text = sample.replace(/from "tsbpf\/test"/g, `from ${JSON.stringify(pathToFileURL(join(ROOT, "runtime/test/index.ts")).href)}`);
    for (const [from, to] of Object.entries(replace)) text = text.replaceAll(from, to);
    // A sample that uses readRecording() or replay() without importing them (the testing guide's) gets them.
    const used = ["simulate", "replay", "readRecording"].filter((n) => new RegExp(`\\b${n}\\(`).test(text) && !new RegExp(`import[^;]*\\b${n}\\b`).test(text));
    const imports = [
      ...(/\bassert\./.test(text) && !/import assert/.test(text) ? ['import assert from "node:assert/strict";'] : []),
      ...(used.length ? [`import { ${used.join(", ")} } from ${JSON.stringify(pathToFileURL(join(ROOT, "runtime/test/index.ts")).href)};`] : []),
    ];
    const file = join(dir, "sample.mts");
    writeFileSync(file, `${imports.join("\n")}\n${text}`);
    return spawnSync(process.execPath, ["--import", "tsx", "--test-reporter=tap", file], { cwd: ROOT, encoding: "utf8", env: sampleEnv, timeout: 120_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("README.md's and docs/testing.md's unit-test samples pass", needsVmlinux, () => {
  const samples = [...blocks("README.md", "ts"), ...blocks("docs/testing.md", "ts")].filter((b) => /\bsimulate\(/.test(b) && !/readRecording\(/.test(b));
  assert.ok(samples.length >= 2, `samples that simulate a probe: ${samples.length}`);
  for (const sample of samples) {
    const r = runSample(sample);
    assert.equal(r.status, 0, `${sample}\n${r.stdout}${r.stderr}`);
    // A sample written as a node:test test reports it passed, not skipped or left out.
    if (/\btest\(/.test(sample)) assert.match(r.stdout, /^# pass [1-9]/m, r.stdout);
  }
});

test("docs/testing.md's replay sample passes on a recording of its probe", { skip: missingRoot() ?? false }, () => {
  const [sample, ...more] = blocks("docs/testing.md", "ts").filter((b) => /readRecording\(/.test(b));
  assert.ok(sample, "the testing guide shows a replay");
  assert.equal(more.length, 0);
  const path = /readRecording\("([^"]+)"\)/.exec(sample)![1]!;
  const probe = /simulate\("([^"]+)"/.exec(sample)![1]!;
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-readme-rec-"));
  try {
    const recording = join(dir, "run.jsonl");
    // The sample keeps cat's records: record a run of cat.
    const r = spawnSync(process.execPath, [...CLI, "run", probe, "--record", recording, "-c", "cat /etc/hostname"], { cwd: ROOT, encoding: "utf8", env, timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(recording, "utf8"), /"kind":"event".*"comm":"cat"/);
    const s = runSample(sample, { [JSON.stringify(path)]: JSON.stringify(recording) });
    assert.equal(s.status, 0, `${sample}\n${s.stdout}${s.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
