// The license: a file under one the kernel does not count as GPL-compatible may still count and send events (the
// helpers for those are not GPL-only) and loads into the kernel through both backends; a GPL-only call in it is
// refused at its line (fixtures/err-license-gpl.ts), and in a clang object `tsbpf verify` says so in C's terms.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { compile } from "../../compiler/index.js";
import { verifyObject } from "../../cli/commands/verify.js";
import { loadObject, openMap, openObject } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, missingTracefs, openSys } from "../../runtime/sys/index.js";
import { compileC, needsKernel as needsClang } from "../loader/support.js";

const sys = openSys();
const noKernel = missingRoot() ?? missingBpf(sys) ?? missingTracefs() ?? false;

const MIT = (pid: number) => `import { tracepoint, pidTgid, uidGid, ktimeNs, comm, HashMap, RingBuf, type u64, type Str } from "tsbpf";
export const license = "MIT";
interface Call { pid: u64; when: u64; name: Str<16> }
export const calls = new HashMap<u64, u64>(16);
export const events = new RingBuf<Call>(4096);
export const tp = tracepoint("syscalls", "sys_enter_getppid", () => {
  if (pidTgid() >> 32 !== ${pid}) return;
  calls.increment(uidGid() & 0xffffffff);
  events.output({ pid: pidTgid() >> 32, when: ktimeNs(), name: comm() });
});
`;

test("a file under the MIT license that calls no GPL-only helper loads and counts, through both backends", { skip: noKernel }, () => {
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "mit.ts", text: MIT(process.pid) }, { backend });
    assert.deepEqual(r.diagnostics, [], backend);
    const loaded = loadObject(sys, openObject(r.object, { name: "mit" }));
    try {
      loaded.attach("tp");
      for (let i = 0; i < 2; i++) process.ppid; // a getppid(2) each
      assert.deepEqual([...openMap(loaded, "calls").entries()], [[process.getuid!(), 2]], backend);
    } finally {
      loaded.close();
    }
  }
});

const C_PRINTK = `#include "loader.h"
SEC("tracepoint/syscalls/sys_enter_openat") int on_open(void *ctx) {
	char fmt[] = "open";
	bpf_trace_printk(fmt, sizeof(fmt));
	return 0;
}
`;

test("a clang object without a license that calls bpf_trace_printk: the model refuses the call, saying what to declare", needsClang, () => {
  const report = verifyObject(readFileSync(compileC("no-license", C_PRINTK)));
  assert.equal(report.accepted, false);
  const error = report.programs[0]!.error!;
  assert.match(error.message, /cannot call GPL-restricted function from non-GPL compatible program/);
  assert.match(error.hint, /calls bpf_trace_printk, which the kernel allows only in programs under a GPL-compatible license; declare `char LICENSE\[\] SEC\("license"\) = "GPL";`/);
});

test("a license that is not a const string literal is refused where it is written, not as a missing license", () => {
  const at = (declaration: string) =>
    compile({ fileName: "l.ts", text: `import { kprobe } from "tsbpf";\n${declaration}\nexport const p = kprobe("f", () => 0);\n` }, { arch: "x86_64" }).diagnostics.map(
      (d) => `${d.line}:${d.column} ${d.code}: ${d.message}`,
    );
  const refused = 'TSBPF1010: the license is a `const` string literal, which the loader gives the kernel: `export const license = "GPL";`';
  assert.deepEqual(at("export const license = 5;"), [`2:14 ${refused}`]);
  assert.deepEqual(at('export let license = "GPL";'), [`2:12 ${refused}`]);
  assert.deepEqual(at('export const license = "GPL";'), []);
});
