// Stack objects share bytes when their lifetimes do not overlap (compiler/codegen/frame.ts): a handler that builds one
// map key per call, or a value per switch case, fits BPF's 512 bytes; values that are live together, around a loop or
// through an address kept elsewhere, keep bytes of their own. Checked by running the objects in the simulator.
// The handlers are in test/support/stack-reuse.ts; test/llvm/stack-reuse.test.ts runs them through LLVM.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compile } from "../../compiler/index.js";
import { simulate } from "../../runtime/test/index.js";
import { carriedKey, fortyUpdates, loopValue, printfHolds, switchKeys, type StackCase } from "../support/stack-reuse.js";

async function run({ text, args }: StackCase): Promise<{ output: string; stack: number }> {
  const r = compile({ fileName: "s.ts", text }, { arch: "x86_64" });
  assert.deepEqual(r.diagnostics.map((d) => d.message), []);
  const sim = await simulate({ fileName: "s.ts", text }, { arch: "x86_64" });
  sim.kprobe("f", { args });
  return { output: sim.output(), stack: Math.max(...r.programs.map((p) => p.stackDepth ?? 0)) };
}

describe("stack objects share bytes when their lifetimes allow", () => {
  it("forty map updates, each with its own key and value, fit in the frame of one", async () => {
    const { stack } = await run(fortyUpdates);
    assert.ok(stack <= 32, `stack ${stack}`);
  });

  it("a value read on every turn of a loop keeps its bytes while later values of the body come and go", async () => {
    const { output } = await run(loopValue);
    assert.equal(output, "first\nsecond\n".repeat(3));
  });

  it("values whose addresses one printf holds are all live until it runs", async () => {
    const { output } = await run(printfHolds);
    assert.equal(output, "aa bb cc\n");
  });

  it("switch cases that each build a 40-byte key share one key's bytes", async () => {
    const { output, stack } = await run(switchKeys);
    assert.equal(output, "k7 7\n");
    assert.ok(stack <= 160, `stack ${stack}`);
  });

  it("a key carried around a loop keeps its bytes beside the key built on every turn", async () => {
    const { output, stack } = await run(carriedKey);
    assert.equal(output, "38\n");
    assert.ok(stack >= 48, `stack ${stack}`);
  });
});
