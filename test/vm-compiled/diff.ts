// Differential harness: runs one program on the interpreter and on the compiled tier, each in a
// fresh environment built the same way (so stack, map and buffer addresses coincide), and
// compares r0, instruction counts, errors (class, pc, message) and the memory the test observes.
// Takes a program, an environment factory and run options; gives the two outcomes, asserting they match.

import assert from "node:assert/strict";
import type { Insn } from "../../compiler/isa/insn.js";
import type { VmEnv } from "../../runtime/vm/env.js";
import { interpret, type RunOptions } from "../../runtime/vm/interpreter.js";
import { prepare, type LoadOptions } from "../../runtime/vm/program.js";
import { runCompiled } from "../../runtime/vm/compiled/index.js";
import type { Memory } from "../../runtime/vm/memory.js";

export interface Outcome {
  r0?: bigint;
  instructions?: number;
  error?: { name: string; pc: number | undefined; message: string };
  /** Bytes the environment exposes for comparison after the run. */
  memory: Uint8Array[];
}

export interface TestEnv {
  env: VmEnv;
  /** Live byte areas to compare after the run (map values, buffers). */
  observe?: () => Uint8Array[];
  /** Extra programs loaded into the same env (tail-call targets) before the main one. */
  setup?: (load: (insns: readonly Insn[] | Uint8Array, options?: LoadOptions) => unknown) => void;
  /** Run options computed from the env (e.g. r1 = a buffer's address). */
  options?: RunOptions;
}

export type EnvFactory = (memory?: Memory) => TestEnv;

type Runner = typeof interpret;

function outcome(run: Runner, insns: readonly Insn[] | Uint8Array, make: EnvFactory, options: RunOptions, load: LoadOptions): Outcome {
  const t = make();
  t.setup?.((i, o) => prepare(i, t.env, o));
  const program = prepare(insns, t.env, load);
  try {
    const r = run(program, { ...t.options, ...options });
    return { r0: r.r0, instructions: r.instructions, memory: t.observe?.().map((b) => b.slice()) ?? [] };
  } catch (e) {
    const err = e as Error & { pc?: number };
    if (!(err instanceof Error)) throw e;
    return { error: { name: err.constructor.name, pc: err.pc, message: err.message }, memory: t.observe?.().map((b) => b.slice()) ?? [] };
  }
}

/** Runs on both tiers and asserts identical outcomes; returns the interpreter's. */
export function compareTiers(insns: readonly Insn[] | Uint8Array, make: EnvFactory, options: RunOptions = {}, label = "", load: LoadOptions = {}): Outcome {
  const a = outcome(interpret, insns, make, options, load);
  const b = outcome(runCompiled, insns, make, options, load);
  assert.deepEqual(b, a, `compiled tier differs from the interpreter ${label}`);
  return a;
}
