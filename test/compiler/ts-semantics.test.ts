// Places where C's reading of a TypeScript expression gave another answer than TypeScript's, each now TypeScript's
// or a compile-time error saying what to write: `||`/`&&` of integers, boolean parameters, bitwise folding of number
// constants, unsigned comparisons with negative constants, and a `const` bound to a map lookup. Run in the simulator
// with both backends, and on this kernel with tsbpf run.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

const BACKENDS = ["own", "llvm"] as const;

/** What a uprobe on unlink with `params` prints for each list of arguments, from both backends (the same). */
async function printed(params: string, body: string, calls: (number | bigint)[][], head = ""): Promise<string> {
  const text = `import { uprobe, printf, readUser, ArrayMap, HashMap, u64, type u8, type u32, type i32, type i64 } from "tsbpf";
export const license = "GPL";
${head}
export const p = uprobe("libc.so.6", "unlink", (${params}) => {
${body}
});
`;
  const out: string[] = [];
  for (const backend of BACKENDS) {
    const sim = await simulate({ fileName: "sem.ts", text }, { backend });
    for (const args of calls) sim.uprobe("libc.so.6:unlink", { args });
    out.push(sim.output());
  }
  assert.equal(out[0], out[1], "the backends agree");
  return out[0]!;
}

function diagnostics(text: string): string[] {
  return compile({ fileName: "bad.ts", text: `import { uprobe, printf, type u8, type u32, type i32, type u64 } from "tsbpf";\nexport const license = "GPL";\n${text}\n` }).diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`);
}

test("|| and && of integers give an operand, as TypeScript's do, evaluating the right one only when it is the result", async () => {
  const head = `const hits = new ArrayMap<u64>(1);
function bump(): u32 { hits.increment(0); return 9; }`;
  const body = `  const port = p || 80;
  const z = q && 9;
  const w = p && 9;
  const x = q || bump();
  const y = p && bump();
  const wide = q || u64(1) << 40;
  const n = hits.lookup(0) ?? 0;
  const m: u8 = 3;
  printf("%d %d %d %d %d %llu %d %d %d %d %s\\n", port, z, w, x, y, wide, n, r > 1 || q, m || p, (p || 0) && 7, p > 1 || q > 1 ? "yes" : "no");`;
  // p = 0, q = 7: bump() does not run; then p = 5, q = 0: it runs for both
  const out = await printed("p: u32, q: u32, r: i32", body, [[0, 7, 5], [5, 0, 0]], head);
  assert.equal(out, "80 9 0 7 0 7 0 1 3 0 yes\n5 0 9 9 9 1099511627776 2 0 3 7 yes\n");
  // `??` of a number (never null) says what to write instead.
  const bad = diagnostics(`export const p = uprobe("libc.so.6", "unlink", (p: u32) => { printf("%d\\n", p ?? 80); });`);
  assert.match(bad.join("\n"), /^3:\d+ TSBPF1001 `\?\?` gives its right side only for null, and `p` is never null: write `p` \(or `p \|\| d` for d where it is 0\)/, bad.join("\n"));
});

test("a boolean parameter is its whole register compared with zero, and readUser<boolean>() its byte", async () => {
  const body = `  const b = readUser<boolean>(path);
  printf(\`\${flags ? 1 : 0} \${flags === true ? 1 : 0} \${flags} \${b === true ? 1 : 0} \${b ? 1 : 0} \${b}\\n\`);`;
  const text = `import { uprobe, printf, readUser, type i32, type u64 } from "tsbpf";
export const license = "GPL";
export const p = uprobe("libc.so.6", "unlinkat", (dfd: i32, path: u64, flags: boolean) => {
${body}
});
`;
  for (const backend of BACKENDS) {
    const sim = await simulate({ fileName: "flags.ts", text }, { backend });
    const two = sim.kernel.bytes(new Uint8Array([2]), { user: true });
    const zero = sim.kernel.bytes(new Uint8Array([0]), { user: true });
    for (const flags of [512, 0x102, 0, 1]) sim.uprobe("libc.so.6:unlinkat", { args: [-100, flags ? two : zero, flags] });
    assert.equal(sim.output(), "1 1 true 1 1 true\n1 1 true 1 1 true\n0 0 false 0 0 false\n1 1 true 1 1 true\n", backend);
  }
});

test("bitwise operators and shifts of number constants fold as JavaScript's, on 32 bits; a count past 31 is refused", async () => {
  const head = `const HIGH = 1 << 31;
enum Flag { High = 1 << 31 }
const LOW = 0xffffffff & 0xff;
const NONE = ~0;
const TOP = -1 >>> 28;
const CUT = 0x1_0000_0000 | 1;
const HALF = -8 >> 1;
const NOT = ~0xffffffff;
const WIDE = u64(1) << 40;
const BIG = 1n << 40n;`;
  const out = await printed("x: u32", `  printf("%lld %lld %lld %lld %lld %lld %lld %lld %llu %lld %s\\n", HIGH, Flag.High, LOW, NONE, TOP, CUT, HALF, NOT, WIDE, BIG, HIGH === Flag.High ? "same" : "differ");`, [[0]], head);
  // What node computes for the same expressions.
  const js = [1 << 31, 1 << 31, 0xffffffff & 0xff, ~0, -1 >>> 28, 0x1_0000_0000 | 1, -8 >> 1, ~0xffffffff, 2 ** 40, 2 ** 40];
  assert.equal(out, `${js.join(" ")} same\n`);
  const bad = diagnostics(`const U = 1 << 32;\nexport const p = uprobe("libc.so.6", "unlink", (x: u32) => { printf("%d %d\\n", x, -1 >>> 40); });\nexport const q = uprobe("libc.so.6", "unlink", () => U);`);
  assert.equal(bad.length, 2, bad.join("\n"));
  assert.match(bad[0]!, /^3:11 TSBPF1005 `1 << 32` shifts a number by 32, which TypeScript takes mod 32 on 32 bits: shift by 0 to 31, or shift a 64-bit value \(`u64\(1\) << 40`/);
  assert.match(bad[1]!, /^4:\d+ TSBPF1005 `-1 >>> 40` shifts a number by 40/);
});

test("comparisons compare constants as numbers; a negative constant against an unsigned value is refused", async () => {
  const body = `  printf("%d %d %d %d\\n", b === 0xffffffff, c > -1, a === 0xffffffff, b === -1);
  switch (b) { case 0xffffffff: printf("big\\n"); break; case -1: printf("minus\\n"); }`;
  assert.equal(await printed("a: u32, b: i32, c: u8", body, [[0xffffffff, -1, 3]]), "0 1 1 1\nminus\n");
  for (const [test, at, says] of [
    ["if (a > -1) return 1;", "4:", "`a` is a u32, and C compares it with -1 converted to 4294967295, which is not TypeScript's answer: compare with 0 (a u32 is never negative), or convert it first (`i64(a)`)"],
    ["if (-1 === c) return 1;", "4:", "`c` is a u64, and C compares it with -1 converted to 18446744073709551615"],
    ["switch (a) { case -2: return 1; }", "4:", "`a` is a u32, and C compares it with -2 converted to 4294967294"],
  ] as const) {
    const bad = diagnostics(`export const p = uprobe("libc.so.6", "unlink", (a: u32, c: u64) => {\n  ${test}\n  return 0;\n});`);
    assert.equal(bad.length, 1, bad.join("\n"));
    assert.ok(bad[0]!.startsWith(at) && bad[0]!.includes("TSBPF1005 " + says), bad[0]);
  }
});

test("a flags constant made negative by 32-bit operators is refused against an unsigned value, pointing to `>>> 0`, which matches", async () => {
  const head = "enum F { A = 1, TOP = 1 << 31 }";
  const bad = diagnostics(`${head}\nexport const p = uprobe("libc.so.6", "unlink", (a: u32) => {\n  if (a === (F.TOP | F.A)) return 1;\n  return 0;\n});`);
  assert.equal(bad.length, 1, bad.join("\n"));
  assert.ok(bad[0]!.includes("TSBPF1005 `a` is a u32, and C compares it with -2147483647 converted to 2147483649, which is not TypeScript's answer: write the bits as the unsigned number they are (`(F.TOP | F.A) >>> 0` is 2147483649), compare with 0"), bad[0]);
  const body = `  printf("%d %d\\n", a === ((F.TOP | F.A) >>> 0), a === (F.TOP >>> 0));`;
  assert.equal(await printed("a: u32", body, [[0x80000001]], head), "1 0\n");
});

test("a const bound to a map lookup keeps its number after the map's element is written", async () => {
  const head = `const arr = new ArrayMap<u64>(4);
const h = new HashMap<u32, u64>(4);
function reset(): void { arr.update(2, 0); }`;
  const body = `  arr.update(0, 5);
  const e = arr.lookup(0);
  if (e === null) return;
  arr.update(0, 6);
  arr.update(1, 1);
  const i = arr.lookup(1);
  if (i === null) return;
  arr.increment(1);
  let l = arr.lookup(1);
  if (l === null) return;
  const j = arr.lookup(1);
  if (j === null) return;
  l += 5;
  arr.update(2, 4);
  const k = arr.lookup(2);
  if (k === null) return;
  reset();
  h.update(1, 10);
  const v = h.lookup(1);
  if (v === null) return;
  h.increment(1);
  let live = arr.lookup(0);
  if (live === null) return;
  arr.update(0, 8);
  printf("%d %d %d %d %d %d\\n", e, i, j, k, v, live);`;
  // `let` keeps its in-place meaning: live reads 8.
  assert.equal(await printed("x: u32", body, [[0]], head), "5 1 2 4 10 8\n");
});

const noKernel = missingRoot() ?? missingBpf(openSys());

test("on this kernel: tsbpf run of a begin() probe prints TypeScript's values, from both backends' objects", { skip: noKernel }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-ts-sem-"));
  try {
    const probe = join(dir, "sem.ts");
    writeFileSync(probe, `import { begin, printf, ArrayMap, type u32, type u64 } from "tsbpf";
export const license = "GPL";
let zero: u32 = 0;
let seven: u32 = 7;
const HIGH = 1 << 31;
const TOP = -1 >>> 28;
const arr = new ArrayMap<u64>(1);
export const b = begin(() => {
  arr.update(0, 5);
  const e = arr.lookup(0);
  if (e === null) return;
  arr.update(0, 6);
  printf("%d %d %d %d %lld %lld %d\\n", zero || 80, seven && 9, zero && 9, seven || 80, HIGH, TOP, e);
});
`);
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    // Every run at once (each backend, each probe): the kernel keeps them apart.
    const run = (args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = execFile(process.execPath, [...CLI, "run", ...args, "--no-cache"], { encoding: "utf8", env, timeout: 30_000 }, (_, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr }));
      });
    const begins = BACKENDS.map((backend) => run([probe, "--backend", backend, "--duration", "0.1"]));
    // unlinkat(fd, "d", AT_REMOVEDIR): flags = 0x200, a boolean parameter's low byte 0, is true.
    const flags = join(dir, "flags.ts");
    writeFileSync(flags, `import { uprobe, printf, exit, readUserStr, type i32, type u64, type Str } from "tsbpf";
export const license = "GPL";
export const p = uprobe("libc.so.6", "unlinkat", (dfd: i32, path: u64, flags: boolean) => {
  const name: Str<32> = readUserStr(path);
  if (!name.startsWith("tsbpf-ts-sem-dir")) return;
  printf(\`\${flags} \${flags === true} \${flags ? 1 : 0}\\n\`);
  exit(0);
});
`);
    // Each run's own directory name (both runs see both rmdirs; each exits at the first).
    const python = (name: string) => `import os; fd = os.open('${dir}', os.O_RDONLY); os.mkdir('${name}', dir_fd=fd); os.rmdir('${name}', dir_fd=fd)`;
    const hasPython = spawnSync("python3", ["--version"]).status === 0;
    const removals = hasPython ? BACKENDS.map((backend) => run([flags, "--backend", backend, "-c", `python3 -c "${python(`tsbpf-ts-sem-dir-${backend}`)}"`])) : [];
    for (const [i, r] of (await Promise.all(begins)).entries()) {
      assert.equal(r.status, 0, `${BACKENDS[i]}: ${r.stderr}`);
      assert.equal(r.stdout, "80 9 0 7 -2147483648 15 5\n", BACKENDS[i]);
    }
    for (const [i, r] of (await Promise.all(removals)).entries()) {
      assert.equal(r.status, 0, `${BACKENDS[i]}: ${r.stderr}`);
      assert.equal(r.stdout, "true true 1\n", BACKENDS[i]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
