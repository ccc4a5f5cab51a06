// bpf_probe_read_kernel(_str) of addresses x86-64's copy_from_kernel_nofault_allowed refuses (user space, a
// non-canonical address, the vsyscall page) gives -ERANGE, and of a canonical kernel address nothing maps -EFAULT:
// a SEC("syscall") program reads each address given in its context and writes both helpers' results back, run in
// the simulator and, where bpf() is open to us, by the running kernel with BPF_PROG_TEST_RUN.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { compileC, needsClang } from "../loader/support.js";
import { loadObject, openObject } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";

const SOURCE = `#include "loader.h"
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *unsafe_ptr) = (void *)113;
static long (*bpf_probe_read_kernel_str)(void *dst, __u32 size, const void *unsafe_ptr) = (void *)115;
/* ctx[i] holds an address in, and the two helpers' results out (read in the low half, read_str in the high). */
SEC("syscall") int read_each(__u64 *ctx)
{
	char buf[8];
	for (int i = 0; i < 6; i++) {
		const void *p = (const void *)ctx[i];
		__u32 a = bpf_probe_read_kernel(buf, sizeof(buf), p);
		__u32 b = bpf_probe_read_kernel_str(buf, sizeof(buf), p);
		ctx[i] = ((__u64)b << 32) | a;
	}
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;

const ADDRESSES = [
  0xffff000000000000n, // non-canonical (48-bit virtual addresses)
  0x0000800000000000n, // non-canonical, just past user space and its guard page
  0xffff7fffffffffffn, // the last non-canonical address
  0xffffffffff600000n, // the vsyscall page
  0x1000n, // user space
  0xffff800000000000n, // canonical, in the hypervisor's hole: nothing mapped
];
const ERANGE = -34;
const EFAULT = -14;
const EXPECTED = [ERANGE, ERANGE, ERANGE, ERANGE, ERANGE, EFAULT];

const context = (): Uint8Array => {
  const ctx = new Uint8Array(ADDRESSES.length * 8);
  ADDRESSES.forEach((a, i) => new DataView(ctx.buffer).setBigUint64(i * 8, a, true));
  return ctx;
};
/** The CPU's virtual address width as the kernel reports it (48 where /proc/cpuinfo does not say). */
function virtualAddressBits(): number {
  const m = /address sizes\s*:.*?(\d+) bits virtual/.exec(readFileSync("/proc/cpuinfo", "utf8"));
  return m ? Number(m[1]) : 48;
}

/** Each address's [probe_read_kernel, probe_read_kernel_str] results. */
const results = (ctx: Uint8Array): number[][] =>
  ADDRESSES.map((_, i) => [new DataView(ctx.buffer).getInt32(i * 8, true), new DataView(ctx.buffer).getInt32(i * 8 + 4, true)]);

test("probe_read_kernel(_str) of a non-canonical, user or vsyscall address is -ERANGE, as on x86-64; unmapped kernel memory -EFAULT", needsClang, async () => {
  const bytes = readFileSync(compileC("noncanonical-kernel", SOURCE));
  const sim = await simulate(new Uint8Array(bytes));
  const ctx = context();
  sim.run("read_each", ctx);
  assert.deepEqual(results(ctx), EXPECTED.map((e) => [e, e]));

  const sys = openSys();
  if (missingRoot() ?? missingBpf(sys)) return;
  const obj = loadObject(sys, openObject(bytes, { name: "noncanonical" }), { programs: ["read_each"] });
  try {
    const kernelCtx = context();
    sys.progTestRun(obj.program("read_each").fd, { ctxIn: kernelCtx, ctxSizeOut: 0, repeat: 0 });
    const kernel = results(kernelCtx);
    assert.deepEqual(kernel.slice(3), results(ctx).slice(3), "the vsyscall page, user space and unmapped kernel memory");
    // The kernel judges canonical addresses by the CPU's virtual address width: where the CPU has 57 bits (LA57,
    // even under 4-level paging) the three addresses past 48 bits are canonical to it and read as unmapped memory.
    const allowed = virtualAddressBits() > 48 ? [ERANGE, EFAULT] : [ERANGE];
    const nonCanonical = kernel.slice(0, 3).flat();
    assert.ok(nonCanonical.every((r) => r === nonCanonical[0]) && allowed.includes(nonCanonical[0]!), `${JSON.stringify(kernel)} on a CPU with ${virtualAddressBits()}-bit virtual addresses`);
  } finally {
    obj.close();
  }
});
