// TypeScript's errors that come from a probe not being ordinary JavaScript say what to write instead.

import { test } from "node:test";
import assert from "node:assert/strict";
import { compile } from "../../compiler/index.js";
import { tsbpfExports } from "../../compiler/frontend/prelude.js";
import { typescriptMessage } from "../../compiler/frontend/hints.js";
import { tracepointFormat } from "../support/fixture-kernel.js";

const messages = (body: string): string[] =>
  compile({ fileName: "h.ts", text: `import { kprobe, pidTgid, type u32 } from "tsbpf";\nexport const license = "GPL";\nexport const p = kprobe("f", (x: u32) => ${body});\n` }).diagnostics.map(
    (d) => `${d.code}: ${d.message}`,
  );

test("bigint mixed with a probe's numbers, Number() and JavaScript's globals get a hint", () => {
  assert.deepEqual(messages("pidTgid() >> 32n"), [
    "TS2365: Operator '>>' cannot be applied to types 'number' and 'bigint'. (a probe's integers are numbers, which TypeScript does not mix with bigint: write a number, or `u64(0xffff_ffff_ffff_fff0n)` for a constant beyond 2^53)",
  ]);
  assert.deepEqual(messages("Number(x)"), [
    "TS2693: 'Number' only refers to a type, but is being used as a value here. (a probe's integers are numbers of a C type: convert with `u32(x)` or `x as u32`)",
  ]);
  assert.deepEqual(messages("Math.min(x, 3)"), [
    "TS2304: Cannot find name 'Math'. (a probe runs in the kernel, without JavaScript's globals: it calls tsbpf's helpers, imported from \"tsbpf\")",
  ]);
});

test("Error, Object, Array, Promise, setTimeout and Number's members get the globals hint; an Error says a probe cannot throw", () => {
  const globals = " (a probe runs in the kernel, without JavaScript's globals: it calls tsbpf's helpers, imported from \"tsbpf\")";
  assert.deepEqual(messages('{ if (x > 5) throw new Error("x"); return x; }'), [
    "TS2304: Cannot find name 'Error'. (a probe runs in the kernel, without JavaScript's globals, and cannot throw: `return` leaves the handler, `printf()` says what went wrong, `exit()` ends the run)",
  ]);
  assert.deepEqual(messages("Object.keys(x)"), [`TS2693: 'Object' only refers to a type, but is being used as a value here.${globals}`]);
  assert.deepEqual(messages("Array.from([x])"), [`TS2693: 'Array' only refers to a type, but is being used as a value here.${globals}`]);
  assert.deepEqual(messages("Promise.resolve(x)"), [`TS2585: 'Promise' only refers to a type, but is being used as a value here.${globals}`]);
  assert.deepEqual(messages("setTimeout(() => x, 1)"), [`TS2304: Cannot find name 'setTimeout'.${globals}`]);
  assert.deepEqual(messages("Number.MAX_SAFE_INTEGER"), [`TS2693: 'Number' only refers to a type, but is being used as a value here.${globals}`]);
});

test("a tsbpf name used without its import says which import to add; other unknown names are left as they are", () => {
  assert.deepEqual(messages("{ const y: u64 = x; return ktimeNs() + y; }"), [
    "TS2304: Cannot find name 'u64'. (import it: `import { u64 } from \"tsbpf\"`)",
    "TS2304: Cannot find name 'ktimeNs'. (import it: `import { ktimeNs } from \"tsbpf\"`)",
  ]);
  assert.deepEqual(messages("helper(x)"), ["TS2304: Cannot find name 'helper'."]);
});

test("every name the tsbpf module exports, types (ProbeName, KernelStack) and values (cgroupId, Count) alike, gets the import hint", () => {
  const names = tsbpfExports();
  for (const name of ["ProbeName", "KernelStack", "UserStack", "KernelSymbol", "Count", "Sum", "cgroupId", "kprobe", "u64"]) assert.ok(names.includes(name), name);
  const text = `export const license = "GPL";\n${names.map((n) => `type Use_${n} = ${n};`).join("\n")}\n`;
  const hinted = compile({ fileName: "h.ts", text }).diagnostics.filter((d) => d.code === "TS2304" || d.code === "TS2552");
  assert.deepEqual(
    hinted.map((d) => /'(\w+)'/.exec(d.message)![1]),
    names,
  );
  for (const d of hinted) assert.match(d.message, /\(import it: `import \{ (\w+) \} from "tsbpf"`\)$/, d.message);
});

test("a bigint given where a probe's number is expected gets the hint too", () => {
  assert.deepEqual(messages("{ const y: u32 = 5n; return y; }"), [
    "TS2322: Type 'bigint' is not assignable to type 'number'. (a probe's integers are numbers, which TypeScript does not mix with bigint: write a number, or `u64(0xffff_ffff_ffff_fff0n)` for a constant beyond 2^53)",
  ]);
});

test("a key given to a map without a key type says the map is keyless and how to give it keys", () => {
  const text = `import { kprobe, Histogram, type u64 } from "tsbpf";\nexport const license = "GPL";\nexport const h = new Histogram();\nexport const k = kprobe("f", (x: u64) => { h.record(1, x); });\n`;
  const diagnostics = compile({ fileName: "h.ts", text }).diagnostics.map((d) => `${d.code}: ${d.message}`);
  assert.deepEqual(diagnostics, [
    "TS2345: Argument of type '1' is not assignable to parameter of type 'never'. (a map declared without a key type, as `new Histogram()`, has no keys: call `record(value)` (a Count's `increment()`), or declare one, `new Histogram<u32>()`, to record by key)",
  ]);
});

test("console has no lib to add: TypeScript's advice to change the lib is dropped for the hint", () => {
  assert.deepEqual(messages('console.log("x")'), [
    "TS2584: Cannot find name 'console'. (a probe runs in the kernel, without JavaScript's globals: it calls tsbpf's helpers, imported from \"tsbpf\")",
  ]);
});

test("Node's globals get the hint, not TypeScript's advice to install Node's types; a bigint cast gets the bigint hint", () => {
  assert.deepEqual(messages("x + process.pid"), [
    "TS2591: Cannot find name 'process'. (a probe runs in the kernel, without JavaScript's globals: it calls tsbpf's helpers, imported from \"tsbpf\")",
  ]);
  assert.deepEqual(messages("{ const y = 0xffff_ffff_ffff_fff0n as u32; return y; }"), [
    "TS2352: Conversion of type 'bigint' to type 'number' may be a mistake because neither type sufficiently overlaps with the other. (a probe's integers are numbers, which TypeScript does not mix with bigint: write a number, or `u64(0xffff_ffff_ffff_fff0n)` for a constant beyond 2^53)",
  ]);
});

test("a Str of one size given where another is declared says the sizes must match", () => {
  const text = `import { kprobe, printf, comm, type u32, type Str } from "tsbpf";\nexport const license = "GPL";\nexport const p = kprobe("f", (x: u32) => { const a: Str<64> = comm(); printf("%s", a); });\n`;
  assert.deepEqual(compile({ fileName: "h.ts", text }).diagnostics.map((d) => `${d.code}: ${d.message}`), [
    "TS2322: Type 'Str<16>' is not assignable to type 'Str<64>'. (a Str's size is part of its type: this string is a Str<16>; declare the binding or field Str<16>)",
  ]);
});

test("a map made, a function declared, ++ used or an array literal left unannotated inside a handler says what to write instead", () => {
  const inHandler = (body: string): string[] =>
    compile({ fileName: "h.ts", text: `import { kprobe, printk, HashMap, Histogram, RingBuf, type u32, type u64, type Arr } from "tsbpf";\nexport const license = "GPL";\nexport const p = kprobe("f", (x: u32) => {\n${body}\n});\n` }).diagnostics.map((d) => `${d.code}: ${d.message}`);
  assert.deepEqual(inHandler("  const m = new HashMap<u32, u64>(4);\n  m.update(x, 1);"), [
    "TSBPF1001: `new` expressions are not supported in a probe handler: declare maps at module level, outside the handlers (`const m = new HashMap<u32, u64>(1024)`)",
  ]);
  // Each map class's own constructor: a Histogram takes no key and value types.
  assert.deepEqual(inHandler("  const h = new Histogram();\n  h.record(x);"), [
    "TSBPF1001: `new` expressions are not supported in a probe handler: declare maps at module level, outside the handlers (`const h = new Histogram()`, or `new Histogram<K>(maxKeys)` for one per key)",
  ]);
  assert.deepEqual(inHandler("  const e = new RingBuf<u64>(4096);\n  e.output(x);"), [
    "TSBPF1001: `new` expressions are not supported in a probe handler: declare maps at module level, outside the handlers (`const e = new RingBuf<MyEvent>(65536)`)",
  ]);
  assert.deepEqual(inHandler("  const a = [1, 2];\n  printk(`${a[0]}`);"), ["TSBPF1018: annotate `a` with its element type and length: `const a: Arr<u64, 2> = [1, 2]`"]);
  assert.deepEqual(inHandler("  const f = (y: u32) => y + 1;\n  printk(`${f(x)}`);"), [
    "TSBPF1001: arrow functions are not supported in a probe handler: declare it as a function at module level (`function f(x: u32): u32 { ... }`) and call it from the handler",
  ]);
  assert.deepEqual(inHandler("  const a: Arr<u32, 4> = [0, 0, 0, 0];\n  let k: u32 = x & 1;\n  a[k++] = 7;\n  printk(`${a[0]}`);"), [
    "TSBPF1001: postfix unary expressions are not supported in a probe handler: `++` and `--` are statements of their own here; write `k++;` before or after the line that uses it",
  ]);
  // JavaScript's undefined is a global name: not a variable the handler cannot see.
  assert.deepEqual(inHandler("  const u = undefined;\n  printk(`${u}`);").filter((d) => d.startsWith("TSBPF")), [
    "TSBPF1001: `undefined` values are not supported in a probe handler: a value is an integer, a boolean, a Str or a struct (`return;` leaves a handler without one)",
  ]);
});

test("a method a tsbpf map lacks lists the map's methods, and names the one a JavaScript Map's name means", () => {
  const text = `import { kprobe, HashMap, ArrayMap, Histogram, Count, RingBuf, type u32, type u64 } from "tsbpf";
export const license = "GPL";
export const m = new HashMap<u32, u64>(8);
export const a = new ArrayMap<u64>(8);
export const h = new Histogram();
export const c = new Count();
export const rb = new RingBuf<u64>(4096);
export const p = kprobe("f", (x: u32) => {
  m.set(x, 1);
  a.get(x);
  h.add(x);
  c.inc();
  rb.push(1);
  m.size;
});
`;
  assert.deepEqual(
    compile({ fileName: "h.ts", text }).diagnostics.map((d) => d.message.replace(/^Property '\w+' does not exist on type '[^']+'\. /, "")),
    [
      "(a HashMap has lookup(), update(), delete(), increment(), print() and clear(): call update() for set())",
      "(an ArrayMap has lookup(), update(), increment(), print() and clear(): call lookup() for get())",
      "(a Histogram has record(), print() and clear(): call record() for add())",
      "(a Count has increment(), delete(), print() and clear(): call increment() for inc())",
      "(a RingBuf has output(), reserve(), submit() and discard(): call output() for push())",
      "(a HashMap has lookup(), update(), delete(), increment(), print() and clear())",
    ],
  );
});

test("indexing a Str or a Ptr names the type, not the brand that carries its size or pointee, and says how to read it", () => {
  const text = `import { kprobe, comm } from "tsbpf";\nexport const license = "GPL";\nexport const p = kprobe("f", () => comm()[0]);\n`;
  assert.deepEqual(compile({ fileName: "h.ts", text }).diagnostics.map((d) => `${d.code}: ${d.message}`), [
    "TS7053: Element implicitly has an 'any' type because expression of type '0' can't be used to index type 'Str<16>'. (a Str's bytes are read with charCodeAt(i), as `s.charCodeAt(0)`)",
  ]);
  const pointer = `import { kprobe, type u8, type Ptr } from "tsbpf";\nexport const license = "GPL";\nexport const p = kprobe("f", (q: Ptr<u8>) => q[3]);\n`;
  assert.deepEqual(compile({ fileName: "h.ts", text: pointer }).diagnostics.map((d) => `${d.code}: ${d.message}`), [
    "TS7053: Element implicitly has an 'any' type because expression of type '3' can't be used to index type 'Ptr'. (what a Ptr points to is read with readUser<u8>(p + i) for a user pointer, readKernel<u8>(p + i) for a kernel one)",
  ]);
});

test("a handler returning a boolean or a string is told what a handler returns, not shown its whole type", () => {
  const text = (value: string) =>
    `import { tracepoint, kprobe, comm } from "tsbpf";\nexport const license = "GPL";\nexport const k = kprobe("f", () => ${value});\nexport const t = tracepoint("syscalls", "sys_enter_openat", (ctx) => { if (ctx.dfd > 0) return 0; return ${value}; });\n`;
  const diagnostics = (value: string) => compile({ fileName: "h.ts", text: text(value) }, { tracepointFormat }).diagnostics.map((d) => `${d.line}:${d.column} ${d.code}: ${d.message}`);
  assert.deepEqual(diagnostics("true"), [
    "3:36 TS2322: this handler returns boolean, and a probe's handler returns an integer or nothing: `return 0;` or `return;`",
    "4:61 TS2345: this handler returns boolean, and a probe's handler returns an integer or nothing: `return 0;` or `return;`",
  ]);
  assert.deepEqual(diagnostics("comm()"), [
    "3:36 TS2322: this handler returns Str<16>, and a probe's handler returns an integer or nothing: `return 0;` or `return;`",
    "4:61 TS2345: this handler returns Str<16>, and a probe's handler returns an integer or nothing: `return 0;` or `return;`",
  ]);
});

test("a tsbpf type imported from \"tsbpf/kernel\" (the kernel's u64 is tsbpf's) says to import it from \"tsbpf\", not to use the module's own u64_", () => {
  assert.equal(
    typescriptMessage(2724, `'"tsbpf/kernel"' has no exported member named 'u64'. Did you mean 'u64_'?`),
    `'"tsbpf/kernel"' has no exported member named 'u64': it is tsbpf's own, the same type as the kernel's; import it from "tsbpf" (\`import type { u64 } from "tsbpf"\`)`,
  );
  // A name tsbpf does not have keeps TypeScript's message.
  assert.equal(typescriptMessage(2305, `'"tsbpf/kernel"' has no exported member named 'nosuch'.`), `'"tsbpf/kernel"' has no exported member named 'nosuch'.`);
});

test("bpftrace's builtins and functions say what tsbpf writes for them", () => {
  const hint = (body: string): string[] => messages(body).map((m) => m.replace(/^TS\d+: Cannot find name '[\w$]+'\.( Did you mean '[\w$]+'\?)? /, ""));
  assert.deepEqual(hint("pid"), ["(bpftrace's `pid` is `pidTgid() >> 32`, the process id)"]);
  assert.deepEqual(hint("tid"), ["(bpftrace's `tid` is `pidTgid() as u32`, the thread id)"]);
  assert.deepEqual(hint("nsecs"), ["(bpftrace's `nsecs` is `ktimeBootNs()` (time suspended included, as bpftrace 0.17 counts it; `ktimeNs()` leaves it out))"]);
  assert.deepEqual(hint("cpu"), ["(bpftrace's `cpu` is `smpProcessorId()`)"]);
  assert.deepEqual(hint("arg1"), ["(bpftrace's `arg1` is the handler's parameters, typed for a uprobe: `uprobe(\"libc\", \"unlinkat\", (arg0: i32, arg1: u64) => ...)`)"]);
  assert.deepEqual(hint("count()"), ["(bpftrace's `count` is a map: `const x = new Count()` at module level, then `x.increment()`; `new Count<u32>(1024)` and `x.increment(key)` keep one per key)"]);
  assert.deepEqual(hint("lhist(x, 0, 100, 10)"), [
    "(bpftrace's `lhist` is a map: `const x = new LinearHistogram(min, max, step)` at module level, then `x.record(v)`; `new LinearHistogram<u32>(min, max, step, 1024)` and `x.record(key, v)` keep one per key)",
  ]);
  assert.match(hint("str(x)")[0]!, /`readUserStr\(p\)` for a user pointer/);
  assert.deepEqual(hint("join(x)"), ["(import it: `import { join } from \"tsbpf\"`)"], "join() is tsbpf's too");
  // min(a, b) as JavaScript writes it gets the expression too.
  assert.match(hint("min(1, 2)")[0]!, /^\(bpftrace's `min` is a map: .*; the smaller of two values is `a < b \? a : b`\)$/);
  assert.match(hint('system("ls")')[0]!, /^\(bpftrace's `system`: tsbpf runs no commands for a probe/);
  assert.deepEqual(hint("$1"), ["(bpftrace's `$1` is a parameter of the probes: `let p1 = 0;` (or `let p1: Str<64> = \"\";`) before them, given with `tsbpf run --set p1=VALUE`)"]);
  assert.deepEqual(hint("$x"), ["(bpftrace's `$x` is a local: declare it, `let $x = 0;`)"]);
  // A name bpftrace does not have, and one a probe declares, are left alone.
  assert.deepEqual(messages("argv"), ["TS2304: Cannot find name 'argv'."]);
  assert.deepEqual(messages("{ const pid = x; return pid; }"), []);
});

test("a stack of a frame limit counted in a map of another says the limit is part of the type, not the brand's chain", () => {
  const compiled = (text: string): string[] =>
    compile({ fileName: "h.ts", text: `import { uprobe, kprobe, ustack, kstack, Count, type UserStack, type KernelStack } from "tsbpf";\nexport const license = "GPL";\n${text}\n` }).diagnostics.map((d) => `${d.code}: ${d.message}`);
  assert.deepEqual(compiled('const c = new Count<UserStack>(64);\nuprobe("/bin/true", "main", () => { c.increment(ustack(3)); });'), [
    "TS2345: Argument of type 'UserStack<3>' is not assignable to parameter of type 'UserStack'. (a stack's frame limit is part of its type: ustack(3) is a UserStack<3>; declare the map's key or the field UserStack<3> too)",
  ]);
  assert.deepEqual(compiled('const c = new Count<KernelStack<5>>(64);\nkprobe("vfs_read", () => { c.increment(kstack(2)); });'), [
    "TS2345: Argument of type 'KernelStack<2>' is not assignable to parameter of type 'KernelStack<5>'. (a stack's frame limit is part of its type: kstack(2) is a KernelStack<2>; declare the map's key or the field KernelStack<2> too)",
  ]);
});
