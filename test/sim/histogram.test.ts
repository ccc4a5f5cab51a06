// sim.histogram() and sim.histograms(): a Histogram's or LinearHistogram's buckets as `tsbpf run --json` prints them,
// so that a test reads "[16, 32): 2" rather than slot numbers; checked against a run of the same probe on the kernel.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { simulate, SimulationError } from "../../runtime/test/index.js";
import { missingBpf, missingRoot } from "../../runtime/sys/index.js";
import { CLI } from "../support/cli.js";

const PROBE = `import { begin, exit, Histogram, LinearHistogram, type u32 } from "tsbpf";
export const license = "GPL";
export const h = new Histogram();
export const byKey = new Histogram<u32>(4);
export const lin = new LinearHistogram(0, 100, 10);
export const linBy = new LinearHistogram<u32>(-50, 50, 7, 4);
begin(() => {
  for (let i = 0; i < 6; i++) {
    const v = 7 * i - 3;
    h.record(v);
    byKey.record(i % 2, v);
    lin.record(v * 3);
    linBy.record(i % 3, v);
  }
  exit();
});
`;
const fileName = "histograms.ts";

test("sim.histogram() gives a keyless histogram's buckets, sim.histograms() a keyed one's by key, as tsbpf run --json prints them", async () => {
  const sim = await simulate({ fileName, text: PROBE });
  sim.begin();
  // -3, 4, 11, 18, 25, 32 (and three times each for lin)
  assert.deepEqual(sim.histogram("h"), [
    { bucket: "(..., 0)", max: -1, count: 1 },
    { bucket: "[4, 8)", min: 4, max: 7, count: 1 },
    { bucket: "[8, 16)", min: 8, max: 15, count: 1 },
    { bucket: "[16, 32)", min: 16, max: 31, count: 2 },
    { bucket: "[32, 64)", min: 32, max: 63, count: 1 },
  ]);
  assert.deepEqual(sim.histograms("byKey").map((k) => [k.key, k.histogram.map((b) => `${b.bucket}=${b.count}`)]), [
    [0, ["(..., 0)=1", "[8, 16)=1", "[16, 32)=1"]],
    [1, ["[4, 8)=1", "[8, 16)=0", "[16, 32)=1", "[32, 64)=1"]],
  ]);
  assert.deepEqual(sim.histogram("lin").map((b) => `${b.bucket}=${b.count}`), ["(..., 0)=1", "[0, 10)=0", "[10, 20)=1", "[20, 30)=0", "[30, 40)=1", "[40, 50)=0", "[50, 60)=1", "[60, 70)=0", "[70, 80)=1", "[80, 90)=0", "[90, 100)=1"]);
  assert.deepEqual(sim.histograms("linBy")[0], { key: 0, histogram: [{ bucket: "[-8, -1)", min: -8, max: -2, count: 1 }, { bucket: "[-1, 6)", min: -1, max: 5, count: 0 }, { bucket: "[6, 13)", min: 6, max: 12, count: 0 }, { bucket: "[13, 20)", min: 13, max: 19, count: 1 }] });
  // The wrong call for the map says which one to use.
  assert.throws(() => sim.histogram("byKey"), (e: unknown) => e instanceof SimulationError && e.kind === "usage" && /keyed histogram: read it with sim\.histograms\("byKey"\)/.test(e.message));
  assert.throws(() => sim.histograms("h"), (e: unknown) => e instanceof SimulationError && /keyless histogram: read it with sim\.histogram\("h"\)/.test(e.message));
});

test("sim.histogram() and sim.histograms() give what tsbpf run --json printed for the same probe (keys of equal counts in either order)", { skip: missingRoot() ?? missingBpf() ?? false, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-hist-"));
  try {
    const file = join(dir, fileName);
    writeFileSync(file, PROBE);
    const run = spawnSync(process.execPath, [...CLI, "run", file, "--json", "--no-cache"], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const printed = new Map(run.stdout.split("\n").filter((l) => l.startsWith('{"map"')).map((l) => JSON.parse(l) as { map: string; histogram?: unknown; histograms?: { key: number }[] }).map((j) => [j.map, j.histogram ?? j.histograms]));
    const sim = await simulate(file);
    sim.begin();
    const byKey = (list: unknown) => [...(list as { key: number }[])].sort((a, b) => a.key - b.key);
    for (const name of ["h", "lin"]) assert.deepEqual(sim.histogram(name), printed.get(name), name);
    for (const name of ["byKey", "linBy"]) assert.deepEqual(byKey(sim.histograms(name)), byKey(printed.get(name)), name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
