// The running kernel as oracle: the same sequences of map operations through bpf(2) and through
// the VM's maps must give the same return codes and contents. Skipped where bpf() is unavailable.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { kernelBpf } from "./kernel-bpf.js";
import type { KernelMap } from "./kernel-bpf.js";
import { setup, u32 } from "./util.js";
import { MAP_TYPE_ID } from "../../runtime/vm/maps/index.js";

const bpf = kernelBpf();
const skip = bpf ? false : "bpf() is not available here";

/** A small deterministic generator (LCG) so failures reproduce. */
function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

function create(type: number, k: number, v: number, max: number): KernelMap {
  const m = bpf!.createMap(type, k, v, max);
  if (typeof m === "number") throw new Error(`BPF_MAP_CREATE(type ${type}) failed: ${m}`);
  return m;
}

const val = (n: number, size: number): Uint8Array => new Uint8Array(size).fill(n & 0xff);

describe("kernel oracle", { skip }, () => {
  test("hash: random update/delete/lookup with every flag value", () => {
    for (const seed of [1, 2, 3]) {
      const km = create(MAP_TYPE_ID.hash, 4, 8, 4);
      const { maps } = setup();
      const vm = maps.hash({ keySize: 4, valueSize: 8, maxEntries: 4 });
      const r = rng(seed);
      try {
        for (let step = 0; step < 300; step++) {
          const key = u32(r(7));
          const op = r(3);
          const where = `seed ${seed} step ${step}`;
          if (op === 0) {
            const flags = r(5);
            const v = val(step, 8);
            assert.equal(vm.update(key, v, flags), km.update(key, v, flags), `${where}: update flags ${flags}`);
          } else if (op === 1) {
            assert.equal(vm.delete(key), km.delete(key), `${where}: delete`);
          } else {
            const k = km.lookup(key);
            assert.deepEqual(vm.lookup(key) ?? -2, k, `${where}: lookup`);
          }
        }
        // Same key set at the end, whatever the iteration order.
        const kernelKeys: number[] = [];
        for (let k = km.nextKey(); typeof k !== "number"; k = km.nextKey(k)) kernelKeys.push(new DataView(k.buffer).getUint32(0, true));
        const vmKeys = vm.keys().map((k) => new DataView(k.buffer).getUint32(0, true));
        assert.deepEqual(vmKeys.sort(), kernelKeys.sort());
      } finally {
        km.close();
      }
    }
  });

  test("array: bounds, flags, delete, next key, freeze", () => {
    const km = create(MAP_TYPE_ID.array, 4, 4, 4);
    const { maps } = setup();
    const vm = maps.array({ valueSize: 4, maxEntries: 4 });
    const r = rng(9);
    try {
      for (let step = 0; step < 200; step++) {
        const idx = r(6);
        const op = r(3);
        if (op === 0) {
          const flags = r(6);
          const v = val(step, 4);
          assert.equal(vm.update(idx, v, flags), km.update(u32(idx), v, flags), `step ${step}: update [${idx}] flags ${flags}`);
        } else if (op === 1) {
          assert.equal(vm.delete(idx), km.delete(u32(idx)), `step ${step}: delete`);
        } else {
          assert.deepEqual(vm.lookup(idx) ?? -2, km.lookup(u32(idx)), `step ${step}: lookup [${idx}]`);
        }
      }
      for (const k of [undefined, 0, 2, 3, 9]) {
        const kk = km.nextKey(k === undefined ? undefined : u32(k));
        const want = typeof kk === "number" ? undefined : new DataView(kk.buffer).getUint32(0, true);
        assert.equal(vm.nextKey(k), want, `next key after ${k}`);
      }
      assert.equal(km.freeze(), 0);
      vm.freeze();
      assert.equal(vm.update(0, val(1, 4)), km.update(u32(0), val(1, 4)), "update after freeze");
    } finally {
      km.close();
    }
  });

  test("per-CPU hash and array: flag and bounds errors match", () => {
    const kh = create(MAP_TYPE_ID.percpu_hash, 4, 8, 2);
    const ka = create(MAP_TYPE_ID.percpu_array, 4, 8, 2);
    const { maps } = setup();
    const vh = maps.percpuHash({ keySize: 4, valueSize: 8, maxEntries: 2 });
    const va = maps.percpuArray({ valueSize: 8, maxEntries: 2 });
    // The kernel reads one value per possible CPU from the buffer; a large zeroed one covers them.
    const big = new Uint8Array(8 * 1024);
    const r = rng(5);
    try {
      for (let step = 0; step < 150; step++) {
        const k = r(4);
        const flags = r(6);
        assert.equal(vh.update(u32(k), val(0, 8), flags), kh.update(u32(k), big, flags), `hash step ${step}: key ${k} flags ${flags}`);
        assert.equal(va.update(k, val(0, 8), flags), ka.update(u32(k), big, flags), `array step ${step}: index ${k} flags ${flags}`);
        if (r(4) === 0) assert.equal(vh.delete(u32(k)), kh.delete(u32(k)), `hash step ${step}: delete`);
      }
    } finally {
      kh.close();
      ka.close();
    }
  });

  test("LRU hash: flag errors and that a full insert succeeds", () => {
    const km = create(MAP_TYPE_ID.lru_hash, 4, 8, 64);
    const { maps } = setup();
    const vm = maps.lruHash({ keySize: 4, valueSize: 8, maxEntries: 64 });
    try {
      for (const [k, f] of [[1, 2], [1, 1], [1, 1], [1, 2], [1, 3], [1, 4], [2, 0]] as const) {
        assert.equal(vm.update(u32(k), val(k, 8), f), km.update(u32(k), val(k, 8), f), `key ${k} flags ${f}`);
      }
      let kernelFails = 0;
      for (let k = 100; k < 400; k++) {
        assert.equal(vm.update(u32(k), val(k, 8)), 0);
        if (km.update(u32(k), val(k, 8)) !== 0) kernelFails++;
      }
      assert.equal(kernelFails, 0, "the kernel evicts too");
    } finally {
      km.close();
    }
  });

  test("ring buffer sizes the kernel refuses are refused", () => {
    const { maps } = setup();
    for (const size of [1024, 4096 * 3, 4096, 8192]) {
      const k = bpf!.createMap(MAP_TYPE_ID.ringbuf, 0, 0, size);
      const kernelOk = typeof k !== "number";
      if (kernelOk) k.close();
      let vmOk = true;
      try {
        maps.ringbuf({ maxEntries: size });
      } catch {
        vmOk = false;
      }
      assert.equal(vmOk, kernelOk, `size ${size}`);
    }
  });
});
