// Differential test of bpf_loop: the same programs run in the kernel (BPF_PROG_TEST_RUN, socket filter) and in both
// VM tiers; bpf_loop's return value, the context its callback updates on the caller's stack and the map the callback
// writes must match, for counts of 0, 1 and more, an early stop, a count above BPF_MAX_LOOPS and non-zero flags.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, encode } from "../../compiler/isa/index.js";
import { MapType, ProgType, missingTestRun, openSys } from "../../runtime/sys/index.js";
import { SimKernel } from "../../runtime/vm/kernel.js";
import { createVmEnv } from "../../runtime/vm/helpers/index.js";
import { Vm } from "../../runtime/vm/vm.js";
import { selectTier } from "../../runtime/vm/tiers.js";
import { subprogramBtf } from "../verifier/kernel-compare.js";

const VALUE_SIZE = 48;
const KEY = new Uint8Array(4);
const PACKET = new Uint8Array(64);

/**
 * r0 = bpf_loop(nr, cb, &acc, flags); the map's value gets r0 at 32 and acc at 40. The callback folds its index into
 * acc, adds it to the value's u64 at 8 * (index % 4), and stops (returns 1) at index `stop`.
 */
function loopProgram(nr: bigint, flags: number, stop: number): string {
  return `
    *(u64 *)(r10 - 8) = 5
    r1 = ${nr} ll
    r2 = subprog[cb]
    r3 = r10
    r3 += -8
    r4 = ${flags}
    call bpf_loop
    r6 = r0
    *(u32 *)(r10 - 12) = 0
    r1 = map[m]
    r2 = r10
    r2 += -12
    call bpf_map_lookup_elem
    if r0 == 0 goto end
    *(u64 *)(r0 + 32) = r6
    r1 = *(u64 *)(r10 - 8)
    *(u64 *)(r0 + 40) = r1
  end:
    r0 = r6
    exit
  cb:
    r6 = r1
    r7 = r2
    r0 = *(u64 *)(r7 + 0)
    r0 *= 3
    r0 += r6
    r0 += 1
    *(u64 *)(r7 + 0) = r0
    *(u32 *)(r10 - 4) = 0
    r1 = map[m]
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = r6
    r1 &= 3
    r1 <<= 3
    r0 += r1
    r1 = *(u64 *)(r0 + 0)
    r1 += r6
    r1 += 1
    *(u64 *)(r0 + 0) = r1
  out:
    r0 = 0
    if r6 != ${stop} goto +1
    r0 = 1
    exit
  `;
}

const NEVER = 0x7fffffff;
const CASES: { name: string; nr: bigint; flags?: number; stop?: number }[] = [
  { name: "nr 0", nr: 0n },
  { name: "nr 1", nr: 1n },
  { name: "nr 7", nr: 7n },
  { name: "nr 1000", nr: 1000n },
  { name: "stop at index 3 of 10", nr: 10n, stop: 3 },
  { name: "stop at index 0", nr: 5n, stop: 0 },
  { name: "stop at the last index", nr: 4n, stop: 3 },
  { name: "nr's upper half ignored", nr: 0x100000003n },
  { name: "nr 1 << 23 stopping at once", nr: 1n << 23n, stop: 0 },
  { name: "nr (1 << 23) + 1: -E2BIG", nr: (1n << 23n) + 1n },
  { name: "flags 1: -EINVAL", nr: 3n, flags: 1 },
];

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

test("bpf_loop in both VM tiers agrees with the kernel", { skip: missingTestRun() }, () => {
  const sys = openSys();
  const kernelMap = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: VALUE_SIZE, maxEntries: 1, name: "tsbpf_loop" });
  const env = createVmEnv({ kernel: new SimKernel() });
  const vmMap = env.maps.array({ name: "loop", valueSize: VALUE_SIZE, maxEntries: 1 });
  const tiers = { interpreter: new Vm({ tier: selectTier("interpreter") }), compiled: new Vm({ tier: selectTier("compiled") }) };
  try {
    for (const c of CASES) {
      const text = loopProgram(c.nr, c.flags ?? 0, c.stop ?? NEVER);
      sys.mapUpdate(kernelMap, KEY, new Uint8Array(VALUE_SIZE));
      const kernelInsns = assemble(text, { maps: { m: kernelMap } });
      // The kernel wants BTF naming the functions of a program that loads a function's address.
      const btf = subprogramBtf(kernelInsns);
      const btfFd = sys.btfLoad({ data: btf.data }).fd;
      let kernel: string;
      try {
        const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: encode(kernelInsns), ...btf.load, btfFd });
        try {
          sys.progTestRun(fd, { dataIn: PACKET });
          kernel = hex(sys.mapLookup(kernelMap, KEY)!);
        } finally {
          sys.close(fd);
        }
      } finally {
        sys.close(btfFd);
      }
      const insns = assemble(text, { maps: { m: vmMap.fd } });
      for (const [tier, vm] of Object.entries(tiers)) {
        vmMap.update(0, new Uint8Array(VALUE_SIZE));
        const run = vm.run(vm.load(insns, env), { r1: 0n });
        assert.equal(hex(vmMap.lookup(0)!), kernel, `${c.name}: the ${tier} tier's map value differs from the kernel's`);
        assert.equal(run.r0, Buffer.from(vmMap.lookup(0)!).readBigUInt64LE(32), `${c.name}: r0 is not bpf_loop's result`);
      }
    }
  } finally {
    sys.close(kernelMap);
  }
});
