// bpftrace-format log2 histograms: the slot convention, labels, bar scaling, and the printed text compared
// line for line with bpftrace 0.17 printing `hist()` of the same values (run once, from a BEGIN probe).

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { formatHistogram, histogramLines, histogramOf, log2Slot, slotLabel } from "../../runtime/loader/index.js";
import { missingRoot } from "../../runtime/sys/index.js";

const BPFTRACE = spawnSync("bpftrace", ["--version"], { encoding: "utf8" });
const needsBpftrace = { skip: missingRoot() ?? (BPFTRACE.status === 0 ? false : "bpftrace is missing") };

test("slots: 0 holds 0, 1 holds 1, k holds [2^(k-1), 2^k); negatives have none", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 7, 8, 1023, 1024].map((v) => log2Slot(v)), [0, 1, 2, 2, 3, 3, 4, 10, 11]);
  assert.equal(log2Slot(-3), -1);
  assert.equal(log2Slot(2 ** 40), 41);
  assert.equal(log2Slot(2n ** 63n), 64);
  assert.equal(log2Slot(2n ** 64n - 1n), 64);
  assert.deepEqual(["[0]", "[1]", "[2, 4)", "[512, 1K)", "[1K, 2K)", "[1M, 2M)", "[2G, 4G)", "[8E, 16E)"], [0, 1, 2, 10, 11, 21, 32, 64].map(slotLabel));
});

test("rows from the first to the last non-zero slot; bars scaled to 52 as a C float truncates them", () => {
  // As bpftrace 0.17 printed hist() of -1, 0, 1, 1, 3, 1000, 5000000.
  const { counts, negative } = histogramOf([-1, 0, 1, 1, 3, 1000, 5000000]);
  const lines = histogramLines(counts, { negative });
  assert.equal(lines.length, 25);
  assert.deepEqual(lines.slice(0, 4), [
    "(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |",
    "[0]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |",
    "[1]                    2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|",
    "[2, 4)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |",
  ]);
  assert.equal(lines[4], "[4, 8)                 0 |                                                    |");
  assert.equal(lines.at(-1), "[4M, 8M)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |");
  assert.deepEqual(histogramLines([0, 0, 0]), []);
  assert.deepEqual(histogramLines([0, 0, 3, 0, 1, 0, 0]), [
    "[2, 4)                 3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|",
    "[4, 8)                 0 |                                                    |",
    "[8, 16)                1 |@@@@@@@@@@@@@@@@@                                   |",
  ]);
  assert.equal(formatHistogram("@lat", [1]), "@lat: \n[0]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n");
});

test("the same values print the same text as bpftrace 0.17", needsBpftrace, () => {
  // Counts chosen so that bars land on many fractional lengths; values below 2^31 (bpftrace 0.17 folds larger
  // constants into 32 bits).
  const groups: [number, number][] = [[-7, 3], [0, 5], [1, 41], [2, 13], [3, 7], [6, 29], [100, 1], [999, 17], [1024, 2], [70000, 9], [1048576, 33], [2000000000, 4]];
  const values = groups.flatMap(([v, n]) => Array<number>(n).fill(v));
  const small = [5, 5, 6, 100];
  const script = `BEGIN { ${values.map((v) => `@h = hist(${v});`).join(" ")} ${small.map((v) => `@z = hist(${v});`).join(" ")} exit(); }`;
  const r = spawnSync("bpftrace", ["-e", script], { encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  // bpftrace prints the maps at exit, sorted by name, each as "@name: ", its rows and an empty line.
  const printed = r.stdout.slice(r.stdout.indexOf("@h: \n"));
  const h = histogramOf(values);
  const z = histogramOf(small);
  assert.equal(printed, formatHistogram("h", h.counts, { negative: h.negative }) + formatHistogram("z", z.counts, { negative: z.negative }));
});
