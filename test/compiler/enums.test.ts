// Enums of integers in a probe file: named constants whose values TypeScript computes (`Sig.B` after `A = 1` is 2),
// const enums alike; an enum used as a type is C's int. A member that is not an integer is refused.

import { test } from "node:test";
import assert from "node:assert/strict";
import { compile } from "../../compiler/index.js";
import { simulate } from "../../runtime/test/index.js";
import { missingLlvm } from "../../compiler/llvm/index.js";

const text = `import { kprobe, printf, type u32 } from "tsbpf";
export const license = "GPL";
enum Sig { A = 1, B, C = 10, Neg = -3 }
const enum Mode { Read = 4, Write = 2 }
export const k = kprobe("f", (x: u32, s: Sig) => {
  if (x === Sig.B) printf("b %d %d %d\\n", Sig.C, Mode.Write, Sig.Neg);
  if (s === Sig.Neg) printf("negative\\n");
  return Sig["C"];
});
`;

test("enum members are their integer values, in both backends; an enum-typed parameter is an int", async () => {
  for (const backend of ["own", "llvm"] as const) {
    if (backend === "llvm" && missingLlvm()) continue;
    const sim = await simulate({ fileName: "e.ts", text }, { arch: "x86_64", backend });
    const r = sim.kprobe("f", { args: [2, -3] });
    assert.equal(r.r0, 10n, backend);
    assert.equal(sim.output(), "b 10 2 -3\nnegative\n", backend);
  }
});

test("an enum member that is not an integer is refused naming it", () => {
  const r = compile({ fileName: "e.ts", text: text.replace("enum Sig {", 'enum Name { X = "x" }\nenum Sig {') }, { arch: "x86_64" });
  assert.deepEqual(r.diagnostics.map((d) => `${d.code} ${d.message}`), ["TSBPF1002 enum member X is not an integer: an enum in a probe file names integer constants"]);
});
