// A variable index's bounds check survives LLVM: `xs[i % 3]` is below 3 to LLVM, which drops the check, but the
// verifier does not bound `%` and refuses the access without it. Checked by loading into the kernel and in the VM.

import { test } from "node:test";
import assert from "node:assert/strict";
import { compile, formatDiagnostics } from "../../compiler/index.js";
import { loadObject, openObject } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { noLlvm } from "./support.js";

const SOURCE = `import { kprobe, type u32, type Arr } from "tsbpf";
export const license = "GPL";
export const f = kprobe("f", (w: u32) => {
  const xs: Arr<u32, 3> = [10, 20, 30];
  return xs[w % 3]!;
});
`;

const sys = openSys();
const noKernel = missingRoot() ?? missingBpf(sys);

test("an index LLVM can bound keeps the check the verifier needs", { skip: noLlvm }, async () => {
  const r = compile({ fileName: "mod.ts", text: SOURCE }, { arch: "x86_64", backend: "llvm" });
  assert.deepEqual(r.diagnostics, [], formatDiagnostics(r.diagnostics, { sources: { "mod.ts": SOURCE } }));
  const sim = await simulate(r.object, { arch: "x86_64", name: "mod" });
  for (const w of [0n, 1n, 2n, 4n, 0xffff_ffffn]) assert.equal(sim.kprobe("f", { args: [w] }).r0, [10n, 20n, 30n][Number(w % 3n)]);
  if (!noKernel) loadObject(sys, openObject(r.object, { name: "mod" })).close();
});
