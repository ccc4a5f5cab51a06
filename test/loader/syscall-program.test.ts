// SEC("syscall") programs, run with BPF_PROG_RUN on a context of the caller's bytes: the program reads and writes
// them at any aligned offset, and the caller gets them back. The verifier model accepts what the kernel accepts, the
// simulator runs them as the kernel does (the same return value and context), and a misaligned access is refused by both.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { compileC, needsClang } from "./support.js";
import { loadObject, openObject, LoadError } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { verifyObject } from "../../cli/commands/verify.js";

const SOURCE = `#include "loader.h"
SEC("syscall") int sum_and_store(__u64 *ctx)
{
	__u64 acc = 0;
	for (int i = 0; i < 4; i++) acc += ctx[i] * (i + 1);
	ctx[4] = acc;
	((__u32 *)ctx)[11] = 0xabcd;
	return acc & 0xff;
}
char LICENSE[] SEC("license") = "GPL";
`;

const MISALIGNED = `#include "loader.h"
SEC("syscall") int misaligned(char *ctx)
{
	return *(__u32 *)(ctx + 2);
}
char LICENSE[] SEC("license") = "GPL";
`;

/** Five u64 slots and a u32 pair: 1, 2, 3, 4 in, slot 4 and word 11 written by the program. */
const context = (): Uint8Array => {
  const ctx = new Uint8Array(48);
  const view = new DataView(ctx.buffer);
  [1n, 2n, 3n, 4n].forEach((v, i) => view.setBigUint64(i * 8, v, true));
  return ctx;
};

test("a syscall program reads and writes its context as the kernel runs it; the model takes it, and refuses a misaligned read as the kernel does", needsClang, async () => {
  const bytes = readFileSync(compileC("syscall-program", SOURCE));
  const misaligned = readFileSync(compileC("syscall-misaligned", MISALIGNED));
  // (the model refused every context access of a syscall program: "invalid bpf_context access off=0 size=8")
  assert.deepEqual(verifyObject(bytes, { name: "syscall" }).programs.map((p) => [p.name, p.verdict]), [["sum_and_store", "accepted"]]);
  const refused = verifyObject(misaligned, { name: "misaligned" }).programs[0]!;
  assert.equal(refused.verdict, "rejected");
  assert.match(refused.error!.message, /^invalid bpf_context access off=2 size=4/);

  const sim = await simulate(new Uint8Array(bytes));
  const ctx = context();
  const run = sim.run("sum_and_store", ctx);
  // 1*1 + 2*2 + 3*3 + 4*4 = 30 (the simulator's context was read-only: "context is read-only")
  assert.equal(run.r0, 30n);
  assert.equal(new DataView(ctx.buffer).getBigUint64(32, true), 30n);
  assert.equal(new DataView(ctx.buffer).getUint32(44, true), 0xabcd);

  const sys = openSys();
  if (missingRoot() ?? missingBpf(sys)) return;
  const obj = loadObject(sys, openObject(bytes, { name: "syscall" }), { programs: ["sum_and_store"] });
  try {
    // The kernel writes a syscall program's context back into the caller's bytes (and takes no repeat or ctx_out).
    const kernelCtx = context();
    const kernel = sys.progTestRun(obj.program("sum_and_store").fd, { ctxIn: kernelCtx, ctxSizeOut: 0, repeat: 0 });
    assert.equal(BigInt(kernel.retval), run.r0);
    assert.deepEqual([...kernelCtx], [...ctx]);
  } finally {
    obj.close();
  }
  assert.throws(() => loadObject(sys, openObject(misaligned, { name: "misaligned" })), (e: unknown) => e instanceof LoadError && /invalid bpf_context access off=2 size=4/.test(e.reason));
});
