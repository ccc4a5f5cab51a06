// Choosing the executing tier: the reference interpreter, the compiled tier, or "auto".
// Takes a TierChoice; gives a Tier. All tiers give identical results (r0, counts, errors).
//
// "auto" rule: a program runs on the interpreter until its interpreted work adds up to AUTO_BASE +
// AUTO_PER_SLOT x its slot count, then it is compiled and runs compiled from the next run on. Work
// is instructions executed plus AUTO_PER_RUN per run: entering a run costs the interpreter about
// as much as 100 instructions more than it costs the compiled tier (.scratch measurements with
// pooled run states: ~1.9 us vs ~0.45 us per run of a 2-instruction program), so short probes
// fired often (kprobes, 10-20 instructions) pay for compiling after a few hundred firings.
// Measured (bench/vm.bench.ts, test/vm-compiled): generating and instantiating code costs about
// 15-20 us per slot (~2 ms for a 110-slot program, cold), while the interpreter runs 80-120 M
// instructions/s on loops and the compiled code about 25x faster (2-2.4 G/s); so compiling pays for itself once the
// program would otherwise interpret roughly 500 instructions per slot more. Short-lived programs
// (run a few times) never pay the compile cost; hot ones switch early.
import { compiledTier, isCompiled, runCompiled } from "./compiled/index.js";
import { interpret } from "./interpreter.js";
import type { LoadedProgram } from "./program.js";
import { interpreterTier, type Tier } from "./vm.js";

export { compiledTier };

export type TierChoice = "auto" | "interpreter" | "compiled";

export const AUTO_BASE = 20_000;
export const AUTO_PER_SLOT = 500;
export const AUTO_PER_RUN = 100;

const interpreted = new WeakMap<LoadedProgram, number>();
/** The program last run compiled here: compiled code is kept, so it runs compiled again without a look-up. */
let lastCompiled: LoadedProgram | undefined;

/** Interprets a program until it has proven hot, then runs it compiled. */
export const autoTier: Tier = {
  name: "auto",
  run(program, options) {
    if (program === lastCompiled) return runCompiled(program, options);
    if (isCompiled(program)) {
      lastCompiled = program;
      return runCompiled(program, options);
    }
    const done = interpreted.get(program) ?? 0;
    if (done >= AUTO_BASE + AUTO_PER_SLOT * program.length) return runCompiled(program, options);
    const result = interpret(program, options);
    interpreted.set(program, done + result.instructions + AUTO_PER_RUN);
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
