// What the test places in simulated memory sits at the start of a mapped page, as a string or struct in a
// process does: a probe read past the object's end but inside its page succeeds (reading zeros), as the
// kernel's does; one that crosses into the next page faults.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "../../runtime/test/index.js";
import { UNLINKAT_FORMAT } from "./support.js";

const text = `import { tracepoint, kprobe, printk, readUser, readKernel, type Str, type Arr, type u8, type u64 } from "tsbpf";
export const license = "GPL";
export const p = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => {
  const s = readUser<Str<64>>(ctx.pathname, 64);
  const a = readUser<Arr<u8, 8>>(ctx.pathname + (ctx.flag as u64));
  printk(\`s=\${s} a=\${a[0]},\${a[1]},\${a[2]},\${a[7]}\`);
});
export const k = kprobe("some_function", (at: u64) => {
  const b = readKernel<Arr<u8, 8>>(at);
  printk(\`k=\${b[0]},\${b[1]},\${b[7]}\`);
});
`;
const formats = { tracepointFormats: { "syscalls/sys_enter_unlinkat": UNLINKAT_FORMAT } };

test("a probe read past a placed string, inside its page, reads the string and zeros after it", async () => {
  const sim = await simulate({ fileName: "page.ts", text }, formats);
  sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: -100, pathname: sim.kernel.userString("/x"), flag: 0 });
  sim.kprobe("some_function", { args: [sim.kernel.string("ab")] });
  sim.kprobe("some_function", { args: [sim.kernel.bytes(new Uint8Array([5]))] });
  assert.deepEqual(sim.trace(), ["s=/x a=47,120,0,0", "k=97,98,0", "k=5,0,0"]);
});

test("a probe read that crosses the end of a placed object's page faults and gives zeros", async () => {
  const sim = await simulate({ fileName: "page.ts", text }, formats);
  const pathname = sim.kernel.userString("y".repeat(4094)); // with its NUL, 4095 bytes of one page
  const struct = sim.kernel.bytes(new Uint8Array(4096).fill(7));
  sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: -100, pathname, flag: 4090 });
  sim.kprobe("some_function", { args: [struct.address + 4089n] });
  assert.deepEqual(sim.trace(), [`s=${"y".repeat(64)} a=0,0,0,0`, "k=0,0,0"]);
  // Inside the page, the reads take the last bytes of the string, its NUL and the page's zeros.
  sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: -100, pathname, flag: 4088 });
  sim.kprobe("some_function", { args: [struct.address + 4088n] });
  assert.deepEqual(sim.trace().slice(2), [`s=${"y".repeat(64)} a=121,121,121,0`, "k=7,7,7"]);
});
