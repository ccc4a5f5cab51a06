// Randomized differential test: random verifier-valid programs (test/support/random-program.ts)
// on the interpreter and the compiled tier, comparing r0, instruction counts, errors and the map value;
// a share of them again with budgets that run out mid-program. The seeds differ from those of
// test/diff (which runs TSBPF_DIFF_COUNT programs on both tiers against the kernel) to widen the coverage.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomProgram, MAP_FD_PLACEHOLDER, VALUE_SIZE } from "../support/random-program.js";
import { SimKernel } from "../../runtime/vm/kernel.js";
import { MapRegistry } from "../../runtime/vm/maps/index.js";
import { createVmEnv } from "../../runtime/vm/helpers/index.js";
import { compileStats } from "../../runtime/vm/compiled/index.js";
import { compareTiers, type TestEnv } from "./diff.js";

const SEEDS = 500;
const FIRST_SEED = 1_000_001;

function mapEnv(): TestEnv {
  const kernel = new SimKernel();
  const maps = new MapRegistry(kernel);
  const map = maps.array({ valueSize: VALUE_SIZE, maxEntries: 1 });
  const base = createVmEnv({ kernel, maps });
  return {
    env: { memory: kernel.memory, helpers: base.helpers, mapsByFd: new Map([[MAP_FD_PLACEHOLDER, map]]), tailCallTarget: base.tailCallTarget },
    observe: () => [map.data],
  };
}

test(`random programs: ${SEEDS} seeds give identical results on both tiers`, () => {
  const fallbacks = compileStats.fallbacks;
  let completed = 0;
  let faulted = 0;
  for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
    const { insns } = randomProgram(seed);
    const out = compareTiers(insns, mapEnv, {}, `(seed ${seed})`);
    if (out.error) faulted++;
    else completed++;
    // Budgets that end inside the program: exercises the exact per-instruction accounting.
    if (seed % 5 === 0 && out.instructions !== undefined && out.instructions > 2) {
      for (const budget of [1, Math.floor(out.instructions / 2), out.instructions - 1, out.instructions]) {
        compareTiers(insns, mapEnv, { budget }, `(seed ${seed}, budget ${budget})`);
      }
    }
  }
  assert.equal(compileStats.fallbacks, fallbacks, "no program fell back to the interpreter");
  assert.ok(completed > SEEDS / 2, `most programs complete (${completed} completed, ${faulted} faulted)`);
});
