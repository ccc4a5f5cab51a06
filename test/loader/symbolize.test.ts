// Stack trace values to frames, and kernel addresses to `function+offset` from /proc/kallsyms text.

import { test } from "node:test";
import assert from "node:assert/strict";
import { kernelSymbolizer, stackFrames } from "../../runtime/loader/symbolize.js";

const KALLSYMS = [
  "ffffffff81000000 T _stext",
  "ffffffff81001000 T do_syscall_64",
  "ffffffff81001200 t helper_local",
  "ffffffff81002000 D some_data",
  "ffffffff81003000 W weak_fn",
  "0000000000000000 T hidden_by_kptr_restrict",
  "ffffffffc0000000 t mod_fn\t[some_module]",
].join("\n");

test("kernel addresses name the text symbol at or below them, with a decimal offset", () => {
  const name = kernelSymbolizer(KALLSYMS);
  assert.equal(name(0xffffffff81001000n), "do_syscall_64+0");
  assert.equal(name(0xffffffff81001020n), "do_syscall_64+32");
  assert.equal(name(0xffffffff81001210n), "helper_local+16");
  assert.equal(name(0xffffffff81002010n), "helper_local+3600", "data symbols are not functions");
  assert.equal(name(0xffffffff81003001n), "weak_fn+1");
  assert.equal(name(0xffffffffc0000008n), "mod_fn+8");
  assert.equal(name(0x7f0012345678n), "0x7f0012345678", "user addresses stay hex");
  assert.equal(kernelSymbolizer("")(0xffffffff81001000n), "0xffffffff81001000", "without kallsyms, hex");
});

test("a stack trace value's frames end at the first zero", () => {
  const value = new Uint8Array(8 * 4);
  const view = new DataView(value.buffer);
  view.setBigUint64(0, 0xffffffff81001020n, true);
  view.setBigUint64(8, 0xffffffff81003001n, true);
  assert.deepEqual(stackFrames(value), [0xffffffff81001020n, 0xffffffff81003001n]);
});
