// may_goto loops and load-acquire/store-release: the running kernel (BPF_PROG_TEST_RUN of a socket filter) and
// both VM tiers must return the same r0 and leave the same bytes in an array map's value. The kernel's own count of
// an endless may_goto loop depends on time (x86-64's timed may_goto: counts of 0xffff until 250 ms have passed), so
// there the VM's count, BPF_MAX_LOOPS as on kernels without timed may_goto, is checked on its own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PseudoLd, assemble, encode, type Insn } from "../../compiler/isa/index.js";
import { MapType, ProgType, missingTestRun, openSys } from "../../runtime/sys/index.js";
import { SimKernel } from "../../runtime/vm/kernel.js";
import { createVmEnv } from "../../runtime/vm/helpers/index.js";
import { BPF_MAX_LOOPS, Vm, type LoadOptions, type RunOptions } from "../../runtime/vm/vm.js";
import { selectTier } from "../../runtime/vm/tiers.js";

const VALUE_SIZE = 64;
const FD = 1000;
const KEY = new Uint8Array(4);
const PACKET = new Uint8Array(64);
const skip = missingTestRun();

/** Looks up key 0 of map[fd:FD] into r9 (r0 = 0 when it is missing), then `body`, which ends in exit. */
const withValue = (body: string): Insn[] =>
  assemble(`
    *(u32 *)(r10 -4) = 0
    r2 = r10
    r2 += -4
    r1 = map[fd:${FD}]
    call bpf_map_lookup_elem
    if r0 != 0 goto found
    exit
  found:
    r9 = r0
    ${body}`);

const withFd = (insns: readonly Insn[], fd: number): Insn[] =>
  insns.map((x) => (x.code === 0x18 && x.src === PseudoLd.MAP_FD && x.imm === FD ? { ...x, imm: fd } : x));

interface Outcome {
  r0: bigint;
  value: string;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

function inKernel(insns: readonly Insn[]): Outcome {
  const sys = openSys();
  const map = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: VALUE_SIZE, maxEntries: 1, name: "tsbpf_maygoto" });
  try {
    const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: encode(withFd(insns, map)) });
    try {
      const run = sys.progTestRun(fd, { dataIn: PACKET });
      return { r0: BigInt(run.retval), value: hex(sys.mapLookup(map, KEY)!) };
    } finally {
      sys.close(fd);
    }
  } finally {
    sys.close(map);
  }
}

function inVm(tier: "interpreter" | "compiled", insns: readonly Insn[], load: LoadOptions = {}, run: RunOptions = {}): Outcome {
  const env = createVmEnv({ kernel: new SimKernel() });
  const map = env.maps.array({ name: "maygoto", valueSize: VALUE_SIZE, maxEntries: 1 });
  const vm = new Vm({ tier: selectTier(tier) });
  const { r0 } = vm.runOnBuffer(vm.load(withFd(insns, map.fd), env, load), PACKET.slice(14), run);
  return { r0: r0 & 0xffffffffn, value: hex(map.lookup(0)!) };
}

/** The kernel and both tiers agree; gives the kernel's outcome. */
function agree(insns: readonly Insn[]): Outcome {
  const kernel = inKernel(insns);
  for (const tier of ["interpreter", "compiled"] as const) assert.deepEqual(inVm(tier, insns), kernel, `${tier} tier against the kernel`);
  return kernel;
}

test("loops bounded by may_goto that end on their own condition count the same as the kernel", { skip }, () => {
  // while (can_loop) { if (i >= 1000) break; sum += i; i++ }: clang's shape of a can_loop loop.
  const sum = agree(
    withValue(`
    r1 = 0
    r2 = 0
  loop:
    may_goto out
    if r1 >= 1000 goto out
    r2 += r1
    r1 += 1
    goto loop
  out:
    *(u64 *)(r9 +0) = r1
    *(u64 *)(r9 +8) = r2
    r0 = r2
    exit`),
  );
  assert.equal(sum.r0, 499500n);
  // Nested loops share the function's count; a subprogram has its own. Each ends on its own condition.
  const nested = agree(
    withValue(`
    r6 = 0
    r7 = 0
  outer:
    may_goto done
    if r6 >= 30 goto done
    r8 = 0
  inner:
    may_goto next
    if r8 >= 40 goto next
    r7 += r8
    r8 += 1
    goto inner
  next:
    r6 += 1
    r1 = r6
    call sub
    r7 += r0
    goto outer
  done:
    *(u64 *)(r9 +16) = r6
    *(u64 *)(r9 +24) = r7
    r0 = r7
    exit
  sub:
    r0 = 0
  again:
    may_goto back
    if r0 >= r1 goto back
    r0 += 1
    goto again
  back:
    exit`),
  );
  assert.equal(nested.r0, 30n * 780n + 465n);
  // may_goto to the next instruction does nothing either way.
  agree(withValue("may_goto pc+0\nr0 = 7\nexit"));
});

test("a loop that only may_goto ends: the kernel's count is time bound, the VM's is BPF_MAX_LOOPS on both tiers", { skip }, () => {
  const forever = withValue(`
    r0 = 0
  loop:
    may_goto out
    r0 += 1
    goto loop
  out:
    *(u64 *)(r9 +0) = r0
    exit`);
  const kernel = inKernel(forever);
  const count = Buffer.from(kernel.value, "hex").readBigUInt64LE(0);
  assert.equal(kernel.r0, count & 0xffffffffn);
  // Timed may_goto (x86-64, arm64) refreshes a count of 0xffff while 250 ms have not passed; other kernels count
  // BPF_MAX_LOOPS.
  assert.ok(count === BigInt(BPF_MAX_LOOPS) || (count > 0n && count % 0xffffn === 0n), `kernel count ${count}`);
  for (const tier of ["interpreter", "compiled"] as const) {
    const out = inVm(tier, forever, {}, { budget: 4 * BPF_MAX_LOOPS });
    assert.equal(Buffer.from(out.value, "hex").readBigUInt64LE(0), BigInt(BPF_MAX_LOOPS), tier);
    assert.equal(out.r0, BigInt(BPF_MAX_LOOPS), tier);
  }
});

test("load-acquire and store-release of every size match the kernel: zero-extended narrow loads, spills and fills", { skip }, () => {
  const out = agree(
    withValue(`
    r1 = 0x8899aabbccddeeff
    store_release((u64 *)(r9 +0), r1)
    store_release((u32 *)(r9 +8), r1)
    store_release((u16 *)(r9 +12), r1)
    store_release((u8 *)(r9 +14), r1)
    store_release((u64 *)(r10 -16), r1)
    store_release((u32 *)(r10 -24), r1)
    r2 = load_acquire((u8 *)(r9 +0))
    r3 = load_acquire((u16 *)(r9 +0))
    r4 = load_acquire((u32 *)(r9 +0))
    r5 = load_acquire((u64 *)(r10 -16))
    r6 = load_acquire((u16 *)(r9 +12))
    r7 = load_acquire((u32 *)(r10 -24))
    *(u64 *)(r9 +16) = r2
    *(u64 *)(r9 +24) = r3
    *(u64 *)(r9 +32) = r4
    *(u64 *)(r9 +40) = r6
    *(u64 *)(r9 +48) = r7
    store_release((u64 *)(r10 -32), r9)
    r8 = load_acquire((u64 *)(r10 -32))
    store_release((u64 *)(r8 +56), r5)
    r0 = load_acquire((u8 *)(r8 +14))
    exit`),
  );
  assert.equal(out.r0, 0xffn);
  const v = Buffer.from(out.value, "hex");
  assert.deepEqual(
    [0, 16, 24, 32, 40, 48, 56].map((o) => v.readBigUInt64LE(o)),
    [0x8899aabbccddeeffn, 0xffn, 0xeeffn, 0xccddeeffn, 0xeeffn, 0xccddeeffn, 0x8899aabbccddeeffn],
  );
});
