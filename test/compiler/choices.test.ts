// Writing a probe as TypeScript is written: a choice between structs needs no annotation (`c ? a : b`,
// `m.lookup(k) ?? { ... }` copies the element or fills the default), a module-level string constant fills a
// Str as a literal does, `as const` leaves a number as it is, and a parenthesized name is assigned as the name is. Run in the simulator with both backends.

import { test } from "node:test";
import assert from "node:assert/strict";
import { compile } from "../../compiler/index.js";
import { loadObject, openObject } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";

const PROBE = `import { uprobe, printf, HashMap, type u32, type Str } from "tsbpf";
export const license = "GPL";
const NAME = "bash";
interface V { a: u32; b: u32 }
const m = new HashMap<u32, V>(4);
function make(a: u32): V { return { a, b: a * 2 }; }
export const p = uprobe("libc.so.6", "unlink", (key: u32, pick: u32) => {
  if (key === 7) m.update(7, { a: 70, b: 71 });
  const v = m.lookup(key) ?? { a: 1, b: 2 };
  const first = make(10);
  const w = pick > 0 ? first : make(20);
  let s: Str<8> = NAME;
  const K = 5 as const;
  let n: u32 = 1;
  (n) = 4;
  (n)++;
  printf("%u %u %u %u %s %d %u\\n", v.a, v.b, w.a, w.b, s, K, n);
});
`;

test("choices of structs without annotations, string constants into Str, and `as const` compute what TypeScript says", async () => {
  for (const backend of ["own", "llvm"] as const) {
    const sim = await simulate({ fileName: "choices.ts", text: PROBE }, { backend });
    sim.uprobe("libc.so.6:unlink", { args: [3, 1] });
    sim.uprobe("libc.so.6:unlink", { args: [7, 0] });
    assert.equal(sim.output(), "1 2 10 20 bash 5 5\n70 71 20 40 bash 5 5\n", backend);
  }
});

test("the kernel's verifier accepts them, from both backends", { skip: missingRoot() ?? missingBpf(openSys()) }, () => {
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "choices.ts", text: PROBE }, { backend });
    assert.deepEqual(r.diagnostics, [], backend);
    loadObject(openSys(), openObject(r.object, { name: "choices" })).close();
  }
});
