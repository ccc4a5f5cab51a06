// A global (non-static) function is verified once, on its own, from its BTF signature, and a caller's kernel pointer
// (a tp_btf program's task) passes as one of its pointer parameters only when the parameter's size reads inside one
// member of the kernel's struct (check_ptr_to_btf_access). The model decides as the kernel does, program by program,
// and for a refused call the hint names the function (not a helper) and the fix. A `void *` parameter is refused
// whatever is passed: the kernel cannot size it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { verifyObject } from "../../cli/commands/verify.js";
import { LoadError, loadObject, openObject } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { compileC, needsClang, startCli } from "../loader/support.js";

const SOURCE = `#include "loader.h"
struct task_struct { int pid; } __attribute__((preserve_access_index));
/* The local view of the whole task: its size spans many of the kernel struct's members. */
struct task_struct___whole { int pid; char rest[4000]; } __attribute__((preserve_access_index));
__u64 seen;
__attribute__((noinline)) int record_whole(struct task_struct___whole *t) { if (t) seen = t->pid; return 0; }
static __attribute__((noinline)) int record_whole_static(struct task_struct___whole *t) { if (t) seen = t->pid; return 0; }
__attribute__((noinline)) int record_pid(int *pid) { if (pid) seen = *pid; return 0; }
__attribute__((noinline)) int takes_void(void *p) { return p != 0; }
SEC("tracepoint/syscalls/sys_enter_getpid") int void_param(void *ctx) { __u64 buf = 0; return takes_void(&buf); }
SEC("tp_btf/sched_switch") int whole(__u64 *ctx) { return record_whole((void *)ctx[1]); }
SEC("tp_btf/sched_switch") int whole_static(__u64 *ctx) { return record_whole_static((void *)ctx[1]); }
SEC("tp_btf/sched_switch") int pid_only(__u64 *ctx) { return record_pid(&((struct task_struct *)ctx[1])->pid); }
char LICENSE[] SEC("license") = "GPL";
`;

const EXPECTED: Record<string, boolean> = { whole: false, whole_static: true, pid_only: true, void_param: false };
const object = (): Uint8Array => readFileSync(compileC("global-args", SOURCE));

test("a kernel pointer passed to a global function: refused when the parameter spans the struct, with a hint naming the function", needsClang, () => {
  const report = verifyObject(object(), { name: "globalargs" });
  for (const [name, accepted] of Object.entries(EXPECTED)) {
    const p = report.programs.find((x) => x.name === name)!;
    assert.equal(p.verdict, accepted ? "accepted" : "rejected", `${name}: ${p.error?.text ?? p.unchecked ?? ""}`);
  }
  const hint = report.programs.find((x) => x.name === "whole")!.error!.hint;
  assert.match(hint, /`record_whole\(\(void \*\)ctx\[1\]\)` passes record_whole an argument its signature does not allow/);
  assert.match(hint, /make record_whole `static __noinline`/);
  assert.doesNotMatch(hint, /helper/);
  // A void * parameter has no size the kernel can check, whatever the caller passes.
  const unsized = report.programs.find((x) => x.name === "void_param")!.error!.hint;
  assert.match(unsized, /calls the global function takes_void, whose parameter 1 points to void, a type of no known size/);
  assert.match(unsized, /make takes_void `static __noinline`/);
});

const sys = openSys();
test("the kernel agrees", { skip: missingRoot() ?? missingBpf(sys) ?? needsClang.skip }, () => {
  const spec = openObject(object(), { name: "globalargs" });
  for (const [name, accepted] of Object.entries(EXPECTED)) {
    let reason: string | undefined;
    try {
      loadObject(sys, spec, { programs: [name] }).close();
    } catch (e) {
      if (!(e instanceof LoadError)) throw e;
      reason = e.reason;
    }
    assert.equal(reason === undefined, accepted, `${name}: ${reason ?? "accepted"}`);
    if (!accepted) assert.match(reason!, new RegExp(`Caller passes invalid args into func#\\d+ \\('${name === "whole" ? "record_whole" : "takes_void"}'\\)`));
  }
});

// A local array clang folds into a constant (`.rodata.cst16`, a read-only map) passed to a global function: the kernel
// refuses it as memory the function may write (const or not), and the function alone, as the model checks it, reads
// through a pointer that may be NULL.
const CONSTANT = `#include "loader.h"
__attribute__((noinline)) int sum4(const int *p, int n) { int s = 0; for (int i = 0; i < n; i++) s += p[i]; return s; }
SEC("tracepoint/syscalls/sys_enter_getppid") int constant_arg(void *ctx) { int a[4] = { 1, 2, 3, 4 }; return sum4(a, 4); }
char LICENSE[] SEC("license") = "GPL";
`;

test("a constant array passed to a global function: the model names the parameter that may be NULL, the kernel's refusal says the memory is read-only", needsClang, async () => {
  const path = compileC("global-constant-arg", CONSTANT);
  const hint = verifyObject(readFileSync(path), { name: "constant" }).programs.find((x) => x.name === "constant_arg")!.error!.hint;
  assert.match(hint, /`p\[i\]` reads through a pointer that may be null: a global \(non-static\) function is verified once, on its own, where each pointer parameter may be NULL/);
  assert.doesNotMatch(hint, /map lookup/);
  if (missingRoot() ?? missingBpf(sys)) return;
  const run = startCli(["load", path]);
  assert.equal(await run.exited, 3, run.stderr());
  assert.match(run.stderr(), /error TSBPF2007: constant_arg: `sum4\(a, 4\)` passes sum4 read-only memory \(a constant the compiler placed in \.rodata, or a const global\): .*the kernel takes its pointer parameters as memory it may write, const or not; make sum4 `static __noinline`/);
});
