// Differential tests of the helpers that call back: the same programs run in the kernel (BPF_PROG_TEST_RUN, socket
// filter) and in both VM tiers. bpf_loop: its return value, the context its callback updates on the caller's stack and
// the map the callback writes must match, for counts of 0, 1 and more, an early stop, a count above BPF_MAX_LOOPS and
// non-zero flags. bpf_for_each_map_elem: the elements visited, the context and the values the callback writes, over
// array and hash maps, with and without an early stop (over an array only: a hash map's order is the VM's own). And a
// callback that makes a BPF-to-BPF call and runs bpf_loop itself, each frame keeping its registers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, encode } from "../../compiler/isa/index.js";
import { MapType, ProgType, missingTestRun, openSys, type Sys } from "../../runtime/sys/index.js";
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

/** Loads `insns` into the kernel as a socket filter, with BTF naming its functions, and runs it once. */
function kernelRun(sys: Sys, insns: ReturnType<typeof assemble>): void {
  const btf = subprogramBtf(insns);
  const btfFd = sys.btfLoad({ data: btf.data }).fd;
  try {
    const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: encode(insns), ...btf.load, btfFd });
    try {
      sys.progTestRun(fd, { dataIn: PACKET });
    } finally {
      sys.close(fd);
    }
  } finally {
    sys.close(btfFd);
  }
}

/**
 * r0 = bpf_for_each_map_elem(&it, cb, &acc, flags); the result map's value gets r0 at 0 and acc at 8. The callback adds
 * key * 1000 + value to acc (the same in any order), adds 1 to the value, and stops (returns 1) at key `stop`.
 */
const forEachProgram = (flags: number, stop: number): string => `
    *(u64 *)(r10 - 8) = 0
    r1 = map[it]
    r2 = subprog[cb]
    r3 = r10
    r3 += -8
    r4 = ${flags}
    call bpf_for_each_map_elem
    r6 = r0
    *(u32 *)(r10 - 12) = 0
    r1 = map[res]
    r2 = r10
    r2 += -12
    call bpf_map_lookup_elem
    if r0 == 0 goto end
    *(u64 *)(r0 + 0) = r6
    r1 = *(u64 *)(r10 - 8)
    *(u64 *)(r0 + 8) = r1
  end:
    r0 = 0
    exit
  cb:
    r6 = *(u32 *)(r2 + 0)
    r7 = *(u64 *)(r3 + 0)
    r8 = r6
    r8 *= 1000
    r8 += r7
    r0 = *(u64 *)(r4 + 0)
    r0 += r8
    *(u64 *)(r4 + 0) = r0
    r7 += 1
    *(u64 *)(r3 + 0) = r7
    r0 = 0
    if r6 != ${stop} goto +1
    r0 = 1
    exit
`;

const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const u64 = (n: number): Uint8Array => new Uint8Array(new BigUint64Array([BigInt(n)]).buffer);

test("bpf_for_each_map_elem in both VM tiers agrees with the kernel", { skip: missingTestRun() }, () => {
  const sys = openSys();
  const env = createVmEnv({ kernel: new SimKernel() });
  const tiers = { interpreter: new Vm({ tier: selectTier("interpreter") }), compiled: new Vm({ tier: selectTier("compiled") }) };
  const HASH_KEYS = [2, 5, 9, 40];
  const cases: { name: string; hash: boolean; keys?: number[]; flags?: number; stop?: number; r0: bigint }[] = [
    { name: "array, every element", hash: false, r0: 8n },
    { name: "array, stop at key 3", hash: false, stop: 3, r0: 4n },
    { name: "array, stop at key 0", hash: false, stop: 0, r0: 1n },
    { name: "array, flags 1: -EINVAL", hash: false, flags: 1, r0: BigInt.asUintN(64, -22n) },
    { name: "hash, every element", hash: true, keys: HASH_KEYS, r0: 4n },
    { name: "hash, stop at its only key", hash: true, keys: [7], stop: 7, r0: 1n },
    { name: "empty hash", hash: true, keys: [], r0: 0n },
  ];
  const kres = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 16, maxEntries: 1, name: "tsbpf_res" });
  const vres = env.maps.array({ name: "res", valueSize: 16, maxEntries: 1 });
  try {
    for (const c of cases) {
      const type = c.hash ? MapType.HASH : MapType.ARRAY;
      const kit = sys.mapCreate({ type, keySize: 4, valueSize: 8, maxEntries: c.hash ? 16 : 8, name: "tsbpf_it" });
      try {
        const keys = c.hash ? c.keys! : [0, 1, 2, 3, 4, 5, 6, 7];
        for (const k of keys) sys.mapUpdate(kit, u32(k), u64(k * 3 + 1));
        sys.mapUpdate(kres, KEY, new Uint8Array(16));
        const text = forEachProgram(c.flags ?? 0, c.stop ?? NEVER);
        kernelRun(sys, assemble(text, { maps: { it: kit, res: kres } }));
        const contents = (lookup: (k: Uint8Array) => Uint8Array | undefined) => keys.map((k) => hex(lookup(u32(k))!)).join(" ");
        const result = sys.mapLookup(kres, KEY)!;
        assert.equal(Buffer.from(result).readBigUInt64LE(0), c.r0, `${c.name}: the kernel's result`);
        const kernel = `${hex(result)} / ${contents((k) => sys.mapLookup(kit, k))}`;
        for (const [tier, vm] of Object.entries(tiers)) {
          const vit = c.hash ? env.maps.hash({ name: "it", keySize: 4, valueSize: 8, maxEntries: 16 }) : env.maps.array({ name: "it", valueSize: 8, maxEntries: 8 });
          for (const k of keys) vit.update(u32(k), u64(k * 3 + 1));
          vres.update(0, new Uint8Array(16));
          vm.run(vm.load(assemble(text, { maps: { it: vit.fd, res: vres.fd } }), env));
          assert.equal(`${hex(vres.lookup(0)!)} / ${contents((k) => vit.lookup(k))}`, kernel, `${c.name}: the ${tier} tier differs from the kernel`);
        }
      } finally {
        sys.close(kit);
      }
    }
  } finally {
    sys.close(kres);
  }
});

/**
 * Nesting: the outer callback calls a function and bpf_loops an inner callback over the same context, which writes
 * through the caller's stack and keeps r6-r9 of each frame; the map's value gets r0 at 32 and the context at 40.
 */
const NESTED = `
    *(u64 *)(r10 - 8) = 1
    r6 = 100
    r1 = 4
    r2 = subprog[outer]
    r3 = r10
    r3 += -8
    r4 = 0
    call bpf_loop
    r0 += r6
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
    r0 = 0
    exit
  outer:
    r6 = r1
    r7 = r2
    r1 = r6
    call double
    r1 = *(u64 *)(r7 + 0)
    r1 += r0
    *(u64 *)(r7 + 0) = r1
    r1 = r6
    r2 = subprog[inner]
    r3 = r7
    r4 = 0
    call bpf_loop
    r1 = *(u64 *)(r7 + 0)
    r1 *= 3
    r1 += r0
    r1 += r6
    *(u64 *)(r7 + 0) = r1
    r0 = 0
    exit
  double:
    r0 = r1
    r0 += r1
    exit
  inner:
    r6 = r1
    r0 = *(u64 *)(r2 + 0)
    r0 *= 5
    r0 += r6
    *(u64 *)(r2 + 0) = r0
    r0 = 0
    if r6 != 1 goto +1
    r0 = 1
    exit
`;

test("callbacks nested with BPF-to-BPF calls agree with the kernel in both VM tiers", { skip: missingTestRun() }, () => {
  const sys = openSys();
  const kernelMap = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: VALUE_SIZE, maxEntries: 1, name: "tsbpf_nest" });
  const env = createVmEnv({ kernel: new SimKernel() });
  const vmMap = env.maps.array({ name: "nest", valueSize: VALUE_SIZE, maxEntries: 1 });
  try {
    sys.mapUpdate(kernelMap, KEY, new Uint8Array(VALUE_SIZE));
    kernelRun(sys, assemble(NESTED, { maps: { m: kernelMap } }));
    const kernel = hex(sys.mapLookup(kernelMap, KEY)!);
    assert.notEqual(kernel, hex(new Uint8Array(VALUE_SIZE)));
    for (const tier of ["interpreter", "compiled"] as const) {
      const vm = new Vm({ tier: selectTier(tier) });
      vmMap.update(0, new Uint8Array(VALUE_SIZE));
      vm.run(vm.load(assemble(NESTED, { maps: { m: vmMap.fd } }), env));
      assert.equal(hex(vmMap.lookup(0)!), kernel, `the ${tier} tier differs from the kernel`);
    }
  } finally {
    sys.close(kernelMap);
  }
});
