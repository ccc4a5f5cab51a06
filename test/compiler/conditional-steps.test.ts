// `if (c) x++` (x--, x += K, x -= K) compiles without a branch: x += c's 0 or 1, scaled. Checked here against
// C's results in the VM through both backends, and for the verifier's cost (model and kernel) of a loop that
// counts matches, which with a branch per iteration forked a state per count.

import { test } from "node:test";
import assert from "node:assert/strict";
import { compile, formatDiagnostics } from "../../compiler/index.js";
import { disassemble } from "../../compiler/isa/index.js";
import { verifyObject } from "../../cli/commands/verify.js";
import { LogLevel, missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { Session } from "../../runtime/loader/index.js";
import { simulate } from "../../runtime/test/index.js";

const STEPS = `import { kprobe, ArrayMap, u64, type u8, type u32, type i32 } from "tsbpf";
export const license = "GPL";
export const out = new ArrayMap<u64>(16);
export const f = kprobe("f", (a: u32, b: i32, c: u64, d: u8) => {
  let n0: u32 = 0; let n1: u32 = 0; let n2: u32 = 0; let n3: u32 = 0; let n4: u32 = 0; let n5: u32 = 0;
  let n6: u32 = 0; let n7: u32 = 0; let n8: u8 = 255; let n9: u64 = 0; let n10: i32 = 0; let n11: u32 = 0;
  if ((a & 1) !== 0) n0++;
  if ((a & 8) === 0) n1 += 3;
  if (d === 47) n2++;
  if (d !== 47) { n3 -= 2; }
  if (b < -5) n4++;
  if (b > 7) n5 += 4;
  if (b >= 7) n6--;
  if (c > 100) n7++;
  if (a === 3) n8++;
  if (b <= a) n9 += 6;
  if (b !== -1) n10 -= 5;
  if ((a & 0x4000_0000) !== 0) ++n11;
  out.update(0, n0); out.update(1, n1); out.update(2, n2); out.update(3, n3); out.update(4, n4); out.update(5, n5);
  out.update(6, n6); out.update(7, n7); out.update(8, n8); out.update(9, n9); out.update(10, u64(n10)); out.update(11, n11);
});
`;

const M32 = (1n << 32n) - 1n;
const u32 = (v: bigint): bigint => BigInt.asUintN(32, v);
const expected = (a: bigint, b: bigint, c: bigint, d: bigint): bigint[] => [
  a & 1n ? 1n : 0n,
  a & 8n ? 0n : 3n,
  d === 47n ? 1n : 0n,
  d !== 47n ? u32(-2n) : 0n,
  b < -5n ? 1n : 0n,
  b > 7n ? 4n : 0n,
  b >= 7n ? M32 : 0n,
  c > 100n ? 1n : 0n,
  a === 3n ? 0n : 255n,
  u32(b) <= a ? 6n : 0n, // C compares an i32 with a u32 as u32s
  BigInt.asUintN(64, b !== -1n ? -5n : 0n),
  a & 0x4000_0000n ? 1n : 0n,
];

test("conditional steps give C's results without a branch (both backends)", async () => {
  const inputs: [bigint, bigint, bigint, bigint][] = [];
  for (const a of [0n, 1n, 3n, 8n, 9n, 0x4000_0000n, M32]) for (const b of [-2147483648n, -6n, -5n, -1n, 0n, 7n, 8n, 2147483647n]) inputs.push([a, b, (a * 37n) % 203n, (a + b) & 0xffn]);
  inputs.push([3n, 7n, 1n << 63n, 47n], [8n, -1n, 101n, 47n]);
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "steps.ts", text: STEPS }, { arch: "x86_64", backend });
    assert.deepEqual(r.diagnostics, [], formatDiagnostics(r.diagnostics, { sources: { "steps.ts": STEPS } }));
    if (backend === "own") {
      // One branch is left: the 64-bit comparison (c > 100), which no subtraction of 64-bit values gives exactly.
      const jumps = disassemble(r.programs[0]!.insns).filter((l) => /^if r\d+ /.test(l));
      assert.equal(jumps.length, 1, jumps.join("\n"));
    }
    const sim = await simulate(r.object, { arch: "x86_64", name: "steps" });
    for (const [a, b, c, d] of inputs) {
      sim.kprobe("f", { args: [a, BigInt.asUintN(64, b), c, d] });
      const got = sim.map("out").entries().slice(0, 12).map(([, v]) => v as bigint);
      assert.deepEqual(got, expected(a, b, c, d), `${backend}: a=${a} b=${b} c=${c} d=${d}`);
    }
  }
});

const countBytes = (n: number) => `import { kprobe, readUser, ArrayMap, type u8, type u32, type u64 } from "tsbpf";
export const license = "GPL";
export const counts = new ArrayMap<u64>(32);
export const f = kprobe("f", (p: u64) => {
  let n: u32 = 0;
  for (let i = 0; i < ${n}; i++) {
    const v: u8 = readUser<u8>(p + i);
    if (v === 0) break;
    if ((v & 1) !== 0) n++;
  }
  counts.increment(n);
});
`;

test("a loop counting matches costs the verifier per iteration, not per path (model and kernel)", () => {
  // With a branch per count, 20 bytes cost the kernel 524,696 instructions and 22 were refused.
  const kernel = missingRoot() ?? missingBpf(openSys()) ? null : new Session(openSys());
  try {
    for (const backend of ["own", "llvm"] as const) {
      const r = compile({ fileName: "count.ts", text: countBytes(24) }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, []);
      const [model] = verifyObject(r.object, { name: "count" }).programs;
      assert.equal(model!.verdict, "accepted", model!.error?.text);
      assert.ok(model!.processed < 1000, `${backend}: the model processed ${model!.processed} instructions`);
      if (!kernel) continue;
      const loaded = kernel.load(r.object, { name: `count_${backend}`, logLevel: LogLevel.STATS });
      const processed = Number(/processed (\d+) insns/.exec(loaded.program("f").log)?.[1]);
      assert.equal(processed, model!.processed, `${backend}: the kernel processed ${processed}`);
    }
  } finally {
    kernel?.close();
  }
});
