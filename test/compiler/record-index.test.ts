// A variable index into a reserved ring buffer record: out of range, the handler ends (returning 0) and gives the
// record back first, since the verifier refuses a program that can end holding a reservation.

import { test } from "node:test";
import assert from "node:assert/strict";
import { compile, formatDiagnostics } from "../../compiler/index.js";
import { loadObject, openObject } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";

const SOURCE = `import { kprobe, RingBuf, type u32, type u64, type Arr } from "tsbpf";
export const license = "GPL";
interface Rec { n: u32; vals: Arr<u64, 8> }
export const recs = new RingBuf<Rec>(4096);
export const f = kprobe("f", (idx: u32) => {
  const e = recs.reserve();
  if (e === null) return 1;
  e.vals[idx] = 5;
  e.n = idx;
  recs.submit(e);
  return 2;
});
`;

const sys = openSys();
const noKernel = missingRoot() ?? missingBpf(sys);

for (const backend of ["own", "llvm"] as const) {
  test(`an index past a reserved record's array discards the record and ends the handler (${backend})`, async () => {
    const r = compile({ fileName: "rec.ts", text: SOURCE }, { arch: "x86_64", backend });
    assert.deepEqual(r.diagnostics, [], formatDiagnostics(r.diagnostics, { sources: { "rec.ts": SOURCE } }));
    const sim = await simulate(r.object, { arch: "x86_64", name: "rec" });
    assert.equal(sim.kprobe("f", { args: [3n] }).r0, 2n);
    assert.equal(sim.kprobe("f", { args: [8n] }).r0, 0n);
    assert.equal(sim.kprobe("f", { args: [7n] }).r0, 2n);
    assert.deepEqual(sim.events("recs"), [
      { n: 3, vals: [0, 0, 0, 5, 0, 0, 0, 0] },
      { n: 7, vals: [0, 0, 0, 0, 0, 0, 0, 5] },
    ]);
    if (!noKernel) loadObject(sys, openObject(r.object, { name: "rec" })).close();
  });
}
