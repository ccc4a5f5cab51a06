// C integer semantics of compiled code, checked by running it: each case is a kprobe handler over
// (a: i32, b: u32, c: u64, d: i64), run in the VM on a pt_regs image with a = -7, b = 0xfffffff0,
// c = 5, d = -3; r0 must be the C result, extended to 64 bits as its type says. Expected values are
// worked out by hand from C's rules. The same programs must also pass the kernel's verifier.

import { test } from "node:test";
import assert from "node:assert/strict";
import { compile } from "../../compiler/index.js";
import { encode } from "../../compiler/isa/index.js";
import { execute } from "../../runtime/vm/index.js";
import { BpfLoadError, ProgType, missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";

const M64 = (1n << 64n) - 1n;
const neg = (v: bigint): bigint => v & M64;

const CASES: [expr: string, expected: bigint][] = [
  ["a + b", 0xffffffe9n], // i32 + u32 is u32
  ["a / 2", neg(-3n)], // signed division truncates
  ["a % 4", neg(-3n)],
  ["a >> 1", neg(-4n)], // arithmetic shift
  ["a >>> 28", 0xfn], // JavaScript's unsigned shift, at 32 bits
  ["b + 0x20", 0x10n], // u32 wraps
  ["b * 2", 0xffffffe0n],
  ["b >> 4", 0x0fffffffn],
  ["a + d", neg(-10n)], // i32 + i64 is i64
  ["c + a", neg(-2n)], // u64 + i32 is u64
  ["b + d", 0xffffffedn], // u32 + i64 is i64
  ["a < b ? 1 : 0", 0n], // compared as u32: 0xfffffff9 < 0xfffffff0 is false
  ["d < c ? 1 : 0", 0n], // compared as u64
  ["a < d ? 1 : 0", 1n], // compared as i64
  ["a as u8", 0xf9n],
  ["a as i8", neg(-7n)],
  ["b as i16", neg(-16n)],
  ["u16(a)", 0xfff9n],
  ["~b", 0xfn],
  ["-b", 0x10n],
  ["-a", 7n],
  ["a === -7 && b > 5 ? 10 : 20", 10n],
  ["!(c === 5) ? 1 : 2", 2n],
  ["a > 0 || d > 0 ? 1 : 2", 2n],
  ["d / 2", M64], // -1
  ["c / 2", 2n],
  ["c % 0x7fffffff", 5n],
  ["u64(1) << 40", 1n << 40n], // a number constant shifts on 32 bits; u64() shifts 64
  ["(a * a * a) as i64", neg(-343n)],
  ["u64(0xffff_ffff_ffff_fff0n) + c", 0xfffffffffffffff5n],
  ["(b & 0xff) | (a << 8)", 0xfffff9f0n], // u32 | i32 is u32
  ["b ^ 0xffffffff", 0xfn],
];

const BLOCKS: [body: string, expected: bigint][] = [
  ["let x = a; x += 100; x *= 2; return x;", 186n],
  ["let n = 0; if (a < 0) n += 1; if (b > 0) n += 2; if (c > 10) n += 4; else n += 8; return n;", 11n],
  ["let x: u8 = 250; x += 10; return x;", 4n], // assignment converts to the variable's type
  ["let x: i16 = 0; x -= 1; return x as u64;", M64],
  ["const k = 3; let y = c; y <<= k; y |= 1; return y;", 41n],
  ["let x = a; x >>>= 28; return x;", 0xfn], // `>>>=` shifts the i32's bits as unsigned, as `>>>` does
  ["let x: i32; if (a < 0) x = 5; else x = 6; return x;", 5n], // a `let` with a type may wait for its value
  // for...of over an Arr: each element's value in turn; `continue` goes to the next one.
  ["const xs: Arr<u32, 4> = [1, 2, 3, 4]; let s: u32 = 0; for (const v of xs) { if (v === 3) continue; s += v; } return s;", 7n],
  ["const ps: Arr<Pair, 3> = [{ k: 1, v: -2 }, { k: 2, v: d }, { k: 3, v: 10 }]; let s: i64 = 0; for (const p of ps) { if (p.k === 3) break; s += p.v * p.k; } return s;", neg(-8n)],
  ["return 2 ** 10 + 3 ** 0;", 1025n], // constants only
  ["let x = d; x >>>= 60; return x;", 0xfn],
  // A nested loop starting from the outer counter: pairs (i, j) with i <= j < 4, j !== 2, summing j: 4 + 4 + 3 + 3.
  ["let x = 0; for (let i = 0; i < 4; i++) { for (let j = i; j < 4; j++) { if (j === 2) continue; x += j; } } return x;", 14n],
  ["let x = 0; for (let i = 6; i > 0; i -= 2) for (let j = i - 1; j >= 0; j--) x += 1; return x;", 12n], // 6 + 4 + 2
  // More live values than registers: spills must keep every one.
  [
    "const v1 = a + 1; const v2 = b + 2; const v3 = c + 3; const v4 = d + 4; const v5 = v1 * 2; const v6 = v3 * 3; " +
      "const v7 = v4 - 7; const v8 = c * c; const v9 = d * d; const v10 = v1 + v2; " +
      "return v1 + v2 + v3 + v4 + v5 + v6 + v7 + v8 + v9 + v10;",
    // v1=-6 v2=0xfffffff2(u32) v3=8 v4=1 v5=-12 v6=24 v7=-6 v8=25 v9=9 v10=(u32)(-6+0xfffffff2)=0xffffffec; sum in u64
    neg(-6n + 0xfffffff2n + 8n + 1n - 12n + 24n - 6n + 25n + 9n + 0xffffffecn),
  ],
];

function source(): string {
  const lines = ['import { kprobe, u16, u64, type u8, type i8, type i16, type i32, type u32, type i64, type Arr } from "tsbpf";', 'export const license = "GPL";', "interface Pair { k: u32; v: i64 }"];
  const sig = "(a: i32, b: u32, c: u64, d: i64)";
  CASES.forEach(([expr], i) => lines.push(`export const e${i} = kprobe("f", ${sig} => ${expr});`));
  BLOCKS.forEach(([body], i) => lines.push(`export const s${i} = kprobe("f", ${sig} => { ${body} });`));
  return lines.join("\n");
}

/** A pt_regs image (x86-64) with the four arguments in di, si, dx, cx. */
function ptRegs(): Uint8Array {
  const regs = new Uint8Array(168);
  const view = new DataView(regs.buffer);
  const args: [number, bigint][] = [[112, neg(-7n)], [104, 0xfffffff0n], [96, 5n], [88, neg(-3n)]];
  // Upper halves of 32-bit arguments hold junk, as they may in real registers.
  args[0]![1] = 0xdead_beef_ffff_fff9n;
  args[1]![1] = 0x1234_5678_ffff_fff0n;
  for (const [off, v] of args) view.setBigUint64(off, v, true);
  return regs;
}

const compiled = compile({ fileName: "semantics.ts", text: source() }, { arch: "x86_64" });

test("the semantics cases compile", () => {
  assert.deepEqual(compiled.diagnostics, []);
  assert.equal(compiled.programs.length, CASES.length + BLOCKS.length);
});

const expected = new Map<string, [string, bigint]>();
CASES.forEach(([expr, v], i) => expected.set(`e${i}`, [expr, v]));
BLOCKS.forEach(([body, v], i) => expected.set(`s${i}`, [body, v]));

test("compiled integer code computes what C computes (in the VM)", () => {
  const failures: string[] = [];
  for (const p of compiled.programs) {
    const [what, want] = expected.get(p.name)!;
    const { r0 } = execute(p.insns, ptRegs());
    if (r0 !== want) failures.push(`${what}: got 0x${r0.toString(16)}, want 0x${want.toString(16)}`);
  }
  assert.deepEqual(failures, []);
});

const noKernel = missingRoot() ?? missingBpf();
test("the semantics programs pass the kernel's verifier", { skip: noKernel }, () => {
  const sys = openSys();
  for (const p of compiled.programs) {
    try {
      sys.close(sys.progLoad({ type: ProgType.KPROBE, insns: encode(p.insns), license: "GPL" }).fd);
    } catch (error) {
      if (error instanceof BpfLoadError) assert.fail(`${expected.get(p.name)![0]}: rejected\n${error.log}`);
      throw error;
    }
  }
});
