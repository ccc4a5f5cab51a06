// Choosing the executing tier: the reference interpreter, the compiled tier, or "auto".
// Takes a TierChoice; gives a Tier. All tiers give identical results (r0, counts, errors).
//
// "auto" rule: a program runs on the interpreter until the instructions it has executed there add
// up to AUTO_BASE + AUTO_PER_SLOT x its slot count, then it is compiled and runs compiled from the
// next run on. Measured (bench/vm.bench.ts, test/vm-compiled): generating and instantiating code
// costs about 15-20 us per slot (~2 ms for a 110-slot program, cold), while the interpreter runs
// 30-60 M instructions/s and the compiled code 10-25x faster; so compiling pays for itself once
// the program would otherwise interpret roughly 500 instructions per slot more. Short-lived
// programs (run once, a few instructions) never pay the compile cost; hot ones switch early.
import { compiledTier, isCompiled, runCompiled } from "./compiled/index.js";
import { interpret } from "./interpreter.js";
import type { LoadedProgram } from "./program.js";
import { interpreterTier, type Tier } from "./vm.js";

export { compiledTier };

export type TierChoice = "auto" | "interpreter" | "compiled";

export const AUTO_BASE = 20_000;
export const AUTO_PER_SLOT = 500;

const interpreted = new WeakMap<LoadedProgram, number>();

/** Interprets a program until it has proven hot, then runs it compiled. */
export const autoTier: Tier = {
  name: "auto",
  run(program, options) {
    if (isCompiled(program)) return runCompiled(program, options);
    const done = interpreted.get(program) ?? 0;
    if (done >= AUTO_BASE + AUTO_PER_SLOT * program.length) return runCompiled(program, options);
    const result = interpret(program, options);
    interpreted.set(program, done + result.instructions);
    return result;
  },
};

export function selectTier(choice: TierChoice = "auto"): Tier {
  switch (choice) {
    case "interpreter":
      return interpreterTier;
    case "compiled":
      return compiledTier;
    case "auto":
      return autoTier;
  }
}
