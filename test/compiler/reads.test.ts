// readUser<T>(p) and readKernel<T>(p): a probe read of an integer, struct, Str<N> or Arr<T, N> at an address,
// as execsnoop reads argv one user pointer at a time. Checked in the simulator (a faulting read gives zero),
// through both backends, and both objects load into the kernel.

import { test } from "node:test";
import assert from "node:assert/strict";
import { compile } from "../../compiler/index.js";
import { disassemble } from "../../compiler/isa/index.js";
import { loadObject, openObject } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { noLlvm } from "../llvm/support.js";

const SOURCE = `import { kprobe, readUser, readKernel, readUserStr, RingBuf, type u16, type u32, type u64, type Ptr, type Str, type Arr } from "tsbpf";
export const license = "GPL";
interface Pair { a: u32; b: u16 }
interface Ev { argc: u32; args: Arr<Str<8>, 4>; pair: Pair; tag: Str<4>; words: Arr<u16, 3> }
export const events = new RingBuf<Ev>(4096);
export const argv = kprobe("f", (argv: Ptr, pair: u64) => {
  const e = events.reserve();
  if (e === null) return 1;
  for (let i = 0; i < 4; i++) {
    const p = readUser<u64>(argv + i * 8);
    if (p === 0) break;
    e.args[i] = readUserStr(p);
    e.argc++;
  }
  e.pair = readKernel<Pair>(pair);
  const tag = readKernel<Str<4>>(pair);
  e.tag = tag;
  e.words = readKernel<Arr<u16, 3>>(pair);
  events.submit(e);
  return readKernel<u16>(pair + 4);
});
`;

const le = (...words: [bits: 16 | 32 | 64, value: bigint][]): Uint8Array => {
  const out = new Uint8Array(words.reduce((n, [bits]) => n + bits / 8, 0));
  const v = new DataView(out.buffer);
  let at = 0;
  for (const [bits, value] of words) {
    if (bits === 64) v.setBigUint64(at, value, true);
    else if (bits === 32) v.setUint32(at, Number(value), true);
    else v.setUint16(at, Number(value), true);
    at += bits / 8;
  }
  return out;
};

const sys = openSys();
const noKernel = missingRoot() ?? missingBpf(sys);

for (const backend of ["own", "llvm"] as const) {
  test(`readUser and readKernel read integers, structs, strings and arrays at an address (${backend})`, async () => {
    const r = compile({ fileName: "reads.ts", text: SOURCE }, { arch: "x86_64", backend });
    assert.deepEqual(r.diagnostics, []);
    const sim = await simulate(r.object, { arch: "x86_64", name: "reads" });
    const args = ["ls", "-la", "/tmp"].map((s) => sim.kernel.userString(s).address);
    const argvPtr = sim.kernel.bytes(le(...args.map((a) => [64, a] as [64, bigint]), [64, 0n]), { user: true });
    const pair = sim.kernel.bytes(le([32, 0x0062_6f6fn], [16, 0xbeefn], [16, 0n]));
    assert.equal(sim.kprobe("f", { args: [argvPtr, pair] }).r0, 0xbeefn);
    // A faulting argv gives a zero pointer (no arguments); a faulting struct reads as zeroes.
    assert.equal(sim.kprobe("f", { args: [sim.kernel.faulting(undefined, { user: true }), sim.kernel.faulting()] }).r0, 0n);
    assert.deepEqual(sim.events("events"), [
      { argc: 3, args: ["ls", "-la", "/tmp", ""], pair: { a: 0x626f6f, b: 0xbeef }, tag: "oob", words: [0x6f6f, 0x62, 0xbeef] },
      { argc: 0, args: ["", "", "", ""], pair: { a: 0, b: 0 }, tag: "", words: [0, 0, 0] },
    ]);
    if (!noKernel) loadObject(sys, openObject(r.object, { name: "reads" })).close();
  });
}

test("readUser and readKernel need the type they read and a whole address", () => {
  const diagnose = (body: string) =>
    compile({ fileName: "r.ts", text: `import { kprobe, readUser, readKernel, type u32, type u64 } from "tsbpf";\nexport const license = "GPL";\ninterface P { a: u32 }\nexport const p = kprobe("f", (x: u64) => ${body});\n` }).diagnostics.map((d) => `${d.code}: ${d.message}`);
  assert.deepEqual(diagnose("readUser(x)"), ["TSBPF1018: readUser() needs the type it reads: `readUser<u64>(p)`, or a struct's interface"]);
  assert.deepEqual(diagnose("readKernel<u32>(x as u32)"), ["TSBPF1019: readKernel() reads at an address: `x as u32` is a u32, too narrow for one (use a Ptr or a u64)"]);
  assert.deepEqual(diagnose("{ const p = readKernel<P>(x); return p.a; }"), []);
});

// An integer read bound to a name or passed on is one helper call: the name's memory is not read a second time.
test("an integer readUser() calls bpf_probe_read_user once, whatever takes its value", async () => {
  const bodies = {
    constant: "const v = readUser<u32>(p); counts.increment(v);",
    variable: "let v = readUser<u32>(p); v += 1; counts.increment(v);",
    boolean: "const b = readUser<boolean>(p); if (b) counts.increment(1);",
    printf: 'printf("%d\\n", readUser<u32>(p));',
  };
  for (const backend of ["own", "llvm"] as const) {
    for (const [name, body] of Object.entries(bodies)) {
      const text = `import { kprobe, readUser, printf, ArrayMap, type u32, type u64 } from "tsbpf";\nexport const license = "GPL";\nexport const counts = new ArrayMap<u64>(8);\nexport const f = kprobe("f", (p: u64) => { ${body} });\n`;
      const r = compile({ fileName: `${name}.ts`, text }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, [], `${name} (${backend})`);
      const calls = disassemble(r.programs[0]!.insns).filter((l) => l.includes("call bpf_probe_read_user"));
      assert.equal(calls.length, 1, `${name} (${backend}): ${calls.length} calls`);
    }
    // The value bound is the one read.
    const text = `import { kprobe, readUser, ArrayMap, type u32, type u64 } from "tsbpf";\nexport const license = "GPL";\nexport const counts = new ArrayMap<u64>(8);\nexport const f = kprobe("f", (p: u64) => { const v = readUser<u32>(p); let w = readUser<u32>(p + 4); w += 1; counts.increment(v); counts.increment(w); });\n`;
    const r = compile({ fileName: "values.ts", text }, { arch: "x86_64", backend });
    const sim = await simulate(r.object, { arch: "x86_64", name: "values" });
    sim.kprobe("f", { args: [sim.kernel.bytes(le([32, 3n], [32, 5n]), { user: true })] });
    assert.deepEqual(sim.map("counts").entries().filter(([, v]) => v !== 0n), [[3, 1n], [6, 1n]], backend);
  }
});

// readUser<Str<N>>(p, len) / readUser<Arr<T, N>>(p, len): sslsniff's copy of the bytes SSL_read() returned. Only
// that many bytes are read (a buffer that ends where its page does reads whole), the rest of the value is zero, and
// the length is clamped to the value's size, a negative one to 0, where the verifier sees it bounded.
const SIZED = `import { uprobe, readUser, RingBuf, type i32, type u64, type u8, type Str, type Arr } from "tsbpf";
export const license = "GPL";
interface Ev { text: Str<8>; bytes: Arr<u8, 4>; fixed: Str<8>; big: Str<4096> }
export const events = new RingBuf<Ev>(1 << 16);
export const copy = uprobe("/bin/true", "main", (buf: u64, len: i32) => {
  const e = events.reserve();
  if (e === null) return;
  const text = readUser<Str<8>>(buf, len);
  e.text = text;
  e.bytes = readUser<Arr<u8, 4>>(buf, len);
  e.fixed = readUser<Str<8>>(buf, 3);
  e.big = readUser<Str<4096>>(buf, len);
  events.submit(e);
});
`;

for (const backend of ["own", "llvm"] as const) {
  test(`readUser<Str<N>>(p, len) reads at most len bytes, the rest zero, clamped to 0..N (${backend})`, async () => {
    const r = compile({ fileName: "sized.ts", text: SIZED }, { arch: "x86_64", backend });
    assert.deepEqual(r.diagnostics, []);
    const sim = await simulate(r.object, { arch: "x86_64", name: "sized", verify: true });
    // Six bytes at the end of a page with none after it: a whole read of 8 would fault and give nothing.
    const page = new Uint8Array(4096);
    page.set(new TextEncoder().encode("hello!"), 4090);
    const buf = sim.kernel.bytes(page, { user: true }).address + 4090n;
    for (const len of [5, 6, 100, -1, 0]) sim.uprobe("/bin/true:main", { args: [buf, BigInt.asUintN(64, BigInt(len))] });
    assert.deepEqual(sim.events("events"), [
      { text: "hello", bytes: [104, 101, 108, 108], fixed: "hel", big: "hello" },
      { text: "hello!", bytes: [104, 101, 108, 108], fixed: "hel", big: "hello!" },
      { text: "", bytes: [104, 101, 108, 108], fixed: "hel", big: "" }, // 8 bytes from a 6-byte mapping: faults, zero
      { text: "", bytes: [0, 0, 0, 0], fixed: "hel", big: "" },
      { text: "", bytes: [0, 0, 0, 0], fixed: "hel", big: "" },
    ]);
    if (!noKernel) loadObject(sys, openObject(r.object, { name: "sized" })).close();
  });
}

test("readUser()'s length is for a Str or an Arr, within its size", () => {
  const diagnose = (body: string) =>
    compile({ fileName: "r.ts", text: `import { kprobe, readUser, type u32, type u64, type Str } from "tsbpf";\nexport const license = "GPL";\nexport const p = kprobe("f", (x: u64) => ${body});\n` }).diagnostics.map((d) => `${d.code}: ${d.message}`);
  assert.deepEqual(diagnose("readUser<u32>(x, 4)"), ["TSBPF1017: readUser() of a u32 reads all of it: a length is for a Str<N> or an Arr<T, N> (read at most that many bytes)"]);
  assert.deepEqual(diagnose("{ const s = readUser<Str<8>>(x, 9); return s.charCodeAt(0); }"), ["TSBPF1005: a length of 9 bytes is outside a Str<8> (0 to 8)"]);
  assert.deepEqual(diagnose("{ const s = readUser<Str<8>>(x, 1, 2); return s.charCodeAt(0); }").map((d) => d.slice(0, 9)), ["TS2554: E"]);
});

test("a uprobe's struct parameters passed by value are read from their registers, one per 8 bytes, the later parameters from the registers after them; both backends, both architectures", async () => {
  const text = `import { uprobe, printf, type i32, type i64, type u8, type u64 } from "tsbpf";
export const license = "GPL";
interface Tag { a: i32; b: i32 }
interface Span { start: i64; flags: u8; len: i32 }
export const f = uprobe("/bin/app", "f", (n: u64, tag: Tag, span: Span, last: u64) => {
  printf("%d %d %d %d %d %d %d\\n", n, tag.a, tag.b, span.start, span.flags, span.len, last);
});
`;
  const tag = (BigInt.asUintN(32, -7n) << 32n) | 7n;
  // Span { i64 start; u8 flags; i32 len } is 16 bytes: start in one register, flags (byte 8) and len (bytes 12-15) in the next.
  const spanHigh = (BigInt.asUintN(32, -300n) << 32n) | 0x2an | (0xffn << 8n); // padding bytes hold garbage, as registers may
  for (const backend of ["own", "llvm"] as const) {
    if (backend === "llvm" && noLlvm) continue;
    for (const arch of ["x86_64", "arm64"] as const) {
      const sim = await simulate({ fileName: "byvalue.ts", text }, { backend, arch });
      sim.uprobe("/bin/app:f", { args: [1, tag, -5n, spanHigh, 99] });
      assert.equal(sim.output(), "1 7 -7 -5 42 -300 99\n", `${backend} ${arch}`);
    }
  }
});
