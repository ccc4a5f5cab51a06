// Stack objects share bytes when their lifetimes do not overlap (compiler/codegen/frame.ts): a handler that builds one
// map key per call, or a value per switch case, fits BPF's 512 bytes; values that are live together, around a loop or
// through an address kept elsewhere, keep bytes of their own. Checked by running the objects in the simulator.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compile } from "../../compiler/index.js";
import { simulate } from "../../runtime/test/index.js";

const header = `import { kprobe, printf, HashMap, type u32, type u64, type Str } from "tsbpf";
export const license = "GPL";
`;

async function run(body: string, args: number[] = [0]): Promise<{ output: string; stack: number }> {
  const text = header + body;
  const r = compile({ fileName: "s.ts", text }, { arch: "x86_64" });
  assert.deepEqual(r.diagnostics.map((d) => d.message), []);
  const sim = await simulate({ fileName: "s.ts", text }, { arch: "x86_64" });
  sim.kprobe("f", { args });
  return { output: sim.output(), stack: Math.max(...r.programs.map((p) => p.stackDepth ?? 0)) };
}

describe("stack objects share bytes when their lifetimes allow", () => {
  it("forty map updates, each with its own key and value, fit in the frame of one", async () => {
    const calls = Array.from({ length: 40 }, (_, i) => `  counts.increment(${i});`).join("\n");
    const { stack } = await run(`export const counts = new HashMap<u32, u64>(64);
export const k = kprobe("f", () => {
${calls}
});
`);
    assert.ok(stack <= 32, `stack ${stack}`);
  });

  it("a value read on every turn of a loop keeps its bytes while later values of the body come and go", async () => {
    const { output } = await run(`export const k = kprobe("f", (n: u64) => {
  const first: Str<16> = "first";
  for (let i = 0; i < 3; i++) {
    printf("%s\\n", first);
    const second: Str<16> = "second";
    printf("%s\\n", second);
  }
});
`);
    assert.equal(output, "first\nsecond\n".repeat(3));
  });

  it("values whose addresses one printf holds are all live until it runs", async () => {
    const { output } = await run(`function named(s: Str<8>): Str<8> { const copy: Str<8> = s; return copy; }
export const k = kprobe("f", () => {
  const a = named("aa");
  const b = named("bb");
  const c = named("cc");
  printf("%s %s %s\\n", a, b, c);
});
`);
    assert.equal(output, "aa bb cc\n");
  });

  it("switch cases that each build a 40-byte key share one key's bytes", async () => {
    const cases = Array.from({ length: 12 }, (_, i) => `    case ${i}: note("k${i}", ${i}); break;`).join("\n");
    const { output, stack } = await run(
      `interface Key { name: Str<16>; kind: Str<16>; n: u32 }
export const ops = new HashMap<Key, u64>(64);
function note(kind: Str<16>, n: u32) {
  const key: Key = { name: "x", kind, n };
  ops.increment(key);
  printf("%s %d\\n", key.kind, key.n);
}
export const k = kprobe("f", (id: u64) => {
  switch (id) {
${cases}
  }
});
`,
      [7],
    );
    assert.equal(output, "k7 7\n");
    assert.ok(stack <= 160, `stack ${stack}`);
  });
});
