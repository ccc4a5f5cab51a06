// The compiled tier (BPF translated to JavaScript) as a Tier, with its cache statistics.
// Takes nothing; gives compiledTier, runCompiled, compiledSource and compileStats.

import type { Tier } from "../vm.js";
import { runCompiled } from "./tier.js";

export { runCompiled, compiledSource, compiledFunction, compileStats, isCompiled } from "./tier.js";

/** BPF translated to JavaScript; results identical to the interpreter's. */
export const compiledTier: Tier = { name: "compiled", run: runCompiled };
