// The example probes: every examples/*.ts that is a probe, not the unit test beside it.
import { readdirSync } from "node:fs";

/** Example probe file names (`unlink.ts`), sorted. */
export function exampleProbes(dir = "examples"): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .sort();
}
