// A map's entries read in BPF_MAP_LOOKUP_BATCH calls (how tsbpf run prints a large map) are the entries a walk key by
// key reads, for each map type that takes batch reads, per-CPU values and partly filled arrays included; a Sys
// without batch reads walks as before.

import { test } from "node:test";
import assert from "node:assert/strict";
import { MapType, missingBpf, missingRoot, openSys, type Sys } from "../../runtime/sys/index.js";
import { MapView } from "../../runtime/loader/index.js";
import type { LoadedMap } from "../../runtime/loader/load.js";

const skip = missingRoot() ?? missingBpf(openSys());

const hex = (b: unknown) => Buffer.from(b as Uint8Array).toString("hex");
const dump = (sys: Sys, map: LoadedMap) =>
  [...new MapView<Uint8Array, Uint8Array | Uint8Array[]>(sys, map, undefined).entries()].map(([k, v]) => `${hex(k)}=${Array.isArray(v) ? v.map(hex).join(",") : hex(v)}`).sort();

test("batch reads give the entries a key-by-key walk gives, for hash, LRU, per-CPU and array maps", { skip }, () => {
  const sys = openSys();
  // The kernel with its batch reads counted, and the same kernel without them (MapView then walks key by key).
  let batchCalls = 0;
  const withBatch = (batch: boolean): Sys =>
    new Proxy(sys, {
      get: (target, prop) => {
        if (prop === "mapLookupBatch") return batch ? (...a: Parameters<NonNullable<Sys["mapLookupBatch"]>>) => (batchCalls++, target.mapLookupBatch!(...a)) : undefined;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  const [counting, walking] = [withBatch(true), withBatch(false)];
  const cases: [string, number, number, number][] = [
    ["hash", MapType.HASH, 20_000, 12_345],
    ["percpu_hash", MapType.PERCPU_HASH, 1_000, 700],
    ["lru_hash", MapType.LRU_HASH, 10_000, 5_000],
    ["array", MapType.ARRAY, 5_000, 5_000],
    ["percpu_array", MapType.PERCPU_ARRAY, 300, 300],
  ];
  for (const [name, type, maxEntries, filled] of cases) {
    const fd = sys.mapCreate({ type, keySize: 4, valueSize: 12, maxEntries, name });
    try {
      const perCpu = type === MapType.PERCPU_HASH || type === MapType.PERCPU_ARRAY;
      const valueBytes = perCpu ? 16 * sys.possibleCpus() : 12;
      for (let i = 0; i < filled; i++) {
        const key = Buffer.alloc(4);
        key.writeUInt32LE(type === MapType.ARRAY || type === MapType.PERCPU_ARRAY ? i : i * 7919);
        const value = Buffer.alloc(valueBytes);
        value.writeUInt32LE(i, 0);
        value.writeUInt32LE(i ^ 0x5a5a, 8);
        sys.mapUpdate(fd, key, value);
      }
      const map = { name, fd, spec: { type, keySize: 4, valueSize: 12, maxEntries } } as unknown as LoadedMap;
      batchCalls = 0;
      const batched = dump(counting, map);
      assert.ok(batchCalls > 0 && batchCalls <= Math.ceil(maxEntries / 4096) + 1, `${name}: ${batchCalls} batch calls`);
      assert.equal(batched.length, filled, name);
      assert.deepEqual(batched, dump(walking, map), name);
    } finally {
      sys.close(fd);
    }
  }
});

test("take() gives every entry and leaves the map empty (an array's slots zeroed), in one removing batch read or key by key", { skip }, () => {
  const sys = openSys();
  const withoutBatch = new Proxy(sys, {
    get: (target, prop) => {
      if (prop === "mapLookupBatch") return undefined;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  for (const type of [MapType.HASH, MapType.LRU_PERCPU_HASH, MapType.ARRAY]) {
    for (const s of [sys, withoutBatch] as Sys[]) {
      const maxEntries = 3_000;
      const fd = sys.mapCreate({ type, keySize: 4, valueSize: 8, maxEntries, name: "take" });
      try {
        const perCpu = type === MapType.LRU_PERCPU_HASH;
        for (let i = 0; i < 2_000; i++) {
          const key = Buffer.alloc(4);
          key.writeUInt32LE(i);
          sys.mapUpdate(fd, key, Buffer.alloc(perCpu ? 8 * sys.possibleCpus() : 8, i + 1));
        }
        const map = { name: "take", fd, spec: { type, keySize: 4, valueSize: 8, maxEntries } } as unknown as LoadedMap;
        const view = () => new MapView<Uint8Array, Uint8Array | Uint8Array[]>(s, map, undefined);
        const before = dump(s, map);
        const taken = [...view().take()].map(([k, v]) => `${hex(k)}=${Array.isArray(v) ? v.map(hex).join(",") : hex(v)}`).sort();
        assert.deepEqual(taken, before, `${type}`);
        const left = [...view().entries()];
        if (type === MapType.ARRAY) assert.ok(left.every(([, v]) => hex(v) === "0000000000000000"), "zeroed");
        else assert.equal(left.length, 0, `${type}: emptied`);
      } finally {
        sys.close(fd);
      }
    }
  }
});
