// Typed map views against the kernel: a hash map with a struct key and a per-CPU array with a struct value,
// filled by a socket filter, iterated from JS with keys and values decoded by the object's BTF; get, set and
// delete encode the same way; global data reads by variable name; raw bytes without BTF.

import { test } from "node:test";
import assert from "node:assert/strict";
import { openMap, sumPerCpu } from "../../runtime/loader/index.js";
import { needsKernel, run, sys, withStreams } from "./support.js";

type Key = { kind: number; name: string };
type Stats = { packets: number; bytes: number };

const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);

test("hash map entries decode to struct keys and integer values", needsKernel, () =>
  withStreams((obj) => {
    run(obj, "count", 30);
    const counts = openMap<Key, number>(obj, "counts");
    assert.ok(counts.keyCodec && counts.valueCodec);
    const entries = [...counts.entries()].sort((a, b) => a[0].kind - b[0].kind);
    assert.deepEqual(entries, [
      [{ kind: 0, name: "kind-0" }, 10],
      [{ kind: 1, name: "kind-1" }, 10],
      [{ kind: 2, name: "kind-2" }, 10],
    ]);
    assert.equal(counts.get({ kind: 1, name: "kind-1" }), 10);
    assert.equal(counts.get({ kind: 1, name: "other" }), undefined);
    counts.set({ kind: 7, name: "from-js" }, 2 ** 60);
    assert.equal(counts.get({ kind: 7, name: "from-js" }), 2n ** 60n, "beyond 2^53 it is a bigint");
    counts.delete({ kind: 0, name: "kind-0" });
    assert.deepEqual(
      [...counts.keys()].map((k) => k.name).sort(),
      ["from-js", "kind-1", "kind-2"],
    );
  }));

test("per-CPU values: one decoded struct per possible CPU", needsKernel, () =>
  withStreams((obj) => {
    run(obj, "count", 12);
    const stats = openMap<number, Stats[]>(obj, "stats");
    assert.ok(stats.perCpu);
    const [[key, perCpu]] = [...stats.entries()] as [[number, Stats[]]];
    assert.equal(key, 0);
    assert.equal(perCpu.length, sys.possibleCpus());
    assert.equal(sumPerCpu(perCpu.map((s) => s.packets)), 12);
    // A socket filter's skb->len is the packet without its 14-byte Ethernet header: 64 - 14.
    assert.equal(sumPerCpu(perCpu.map((s) => s.bytes)), 12 * 50);
    const mine = perCpu.map((_, cpu) => ({ packets: cpu + 1, bytes: 100 * cpu }));
    stats.set(0, mine);
    assert.deepEqual(stats.get(0), mine);
  }));

test("global data by variable name; raw bytes where there is no BTF or it is turned off", needsKernel, () =>
  withStreams((obj) => {
    run(obj, "count", 4);
    const bss = openMap(obj, ".bss");
    assert.equal(bss.keyCodec, undefined, "array indices have no BTF type in a DATASEC");
    assert.deepEqual(bss.get(u32(0)), { seq_counter: 4, event_type: 0 });
    const raw = openMap(obj, "counts", { raw: true });
    const [k, v] = [...raw.entries()][0]! as [Uint8Array, Uint8Array];
    assert.ok(k instanceof Uint8Array && k.length === 16);
    assert.ok(v instanceof Uint8Array && v.length === 8);
    assert.throws(() => raw.get({ kind: 1 } as unknown as Uint8Array), /has no BTF type/);
  }));
