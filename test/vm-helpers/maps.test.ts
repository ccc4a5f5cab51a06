// Map semantics through the JS API and the program-side entry points the helpers use.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, u32, u64, getU64 } from "./util.js";
import {
  BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, Errno, ArrayMap, HashMap,
  BPF_F_REUSE_STACKID, BPF_F_USER_STACK, BPF_F_FAST_STACK_CMP, hashStack, jhash2,
} from "../../runtime/vm/maps/index.js";
import { VmFault } from "../../runtime/vm/memory.js";
import { Helper } from "../../compiler/isa/helpers.js";

describe("hash map", () => {
  test("flags: ANY / NOEXIST / EXIST and errors", () => {
    const { maps } = setup();
    const m = maps.hash({ keySize: 4, valueSize: 8, maxEntries: 2 });
    assert.equal(m.update(u32(1), u64(10), BPF_EXIST), -Errno.ENOENT);
    assert.equal(m.update(u32(1), u64(10), BPF_NOEXIST), 0);
    assert.equal(m.update(u32(1), u64(11), BPF_NOEXIST), -Errno.EEXIST);
    assert.equal(m.update(u32(1), u64(12), BPF_EXIST), 0);
    assert.equal(getU64(m.lookup(u32(1))!), 12n);
    assert.equal(m.update(u32(2), u64(20), BPF_ANY), 0);
    assert.equal(m.update(u32(3), u64(30), BPF_ANY), -Errno.E2BIG, "full");
    assert.equal(m.update(u32(2), u64(21), BPF_ANY), 0, "an existing key still updates when full");
    assert.equal(m.update(u32(2), u64(21), 3), -Errno.EINVAL);
    assert.equal(m.update(u32(2), u64(21), BPF_F_LOCK), -Errno.EINVAL, "no spin lock in the value");
    assert.equal(m.delete(u32(3)), -Errno.ENOENT);
    assert.equal(m.delete(u32(1)), 0);
    assert.equal(m.lookup(u32(1)), undefined);
    assert.equal(m.update(u32(3), u64(30)), 0, "room again after a delete");
    assert.equal(m.size, 2);
  });

  test("an update puts the value in another element; the old one keeps its value until reused", () => {
    const { kernel, maps } = setup();
    const m = maps.hash({ keySize: 4, valueSize: 8, maxEntries: 4 });
    m.update(u32(7), u64(1));
    const a = m.lookupElem(u32(7));
    assert.notEqual(a, 0n);
    assert.equal(m.lookupElem(u32(7)), a, "lookups without updates find the same element");
    kernel.memory.write(a + 0n, u64(99));
    assert.equal(getU64(m.lookup(u32(7))!), 99n, "programs write in place");
    m.update(u32(7), u64(2));
    const b = m.lookupElem(u32(7));
    assert.notEqual(b, a);
    assert.equal(getU64(kernel.memory.read(a, 8)), 99n, "the old element still holds the old value");
    m.update(u32(8), u64(3));
    assert.equal(getU64(kernel.memory.read(a, 8)), 99n, "inserts do not take it");
    m.update(u32(8), u64(4));
    assert.equal(m.lookupElem(u32(8)), a, "the next update of an existing key does");
    assert.equal(m.lookupElem(u32(9)), 0n);
    assert.equal(kernel.memory.regionOf(a)!.kind, "map_value");
  });

  test("a deleted element is the next insert's (per-CPU LIFO free list)", () => {
    const { maps } = setup();
    const m = maps.hash({ keySize: 4, valueSize: 8, maxEntries: 4 });
    m.update(u32(1), u64(1));
    m.update(u32(2), u64(2));
    const a1 = m.addressOf(u32(1));
    const a2 = m.addressOf(u32(2));
    m.delete(u32(1));
    m.delete(u32(2));
    m.update(u32(3), u64(3));
    assert.equal(m.addressOf(u32(3)), a2);
    m.update(u32(4), u64(4));
    assert.equal(m.addressOf(u32(4)), a1);
  });

  test("per-CPU hash maps update values in place", () => {
    const { maps } = setup();
    const m = maps.percpuHash({ keySize: 4, valueSize: 8, maxEntries: 2 });
    m.update(u32(1), u64(1));
    const a = m.lookupElem(u32(1));
    m.updateElem(u32(1), u64(2), 0n);
    assert.equal(m.lookupElem(u32(1)), a);
  });

  test("iteration and get_next_key", () => {
    const { maps } = setup();
    const m = maps.hash({ keySize: 4, valueSize: 4, maxEntries: 8 });
    for (const k of [5, 6, 7]) m.update(u32(k), u32(k * 10));
    assert.deepEqual(m.keys(), [u32(5), u32(6), u32(7)]);
    const seen: Uint8Array[] = [];
    for (let k = m.nextKey(); k; k = m.nextKey(k)) seen.push(k);
    assert.equal(seen.length, 3);
    assert.deepEqual(m.nextKey(u32(99)), u32(5), "an unknown key restarts at the first");
    assert.deepEqual(m.entries().map(([, v]) => v), [u32(50), u32(60), u32(70)]);
  });

  test("wrong key and value sizes are clear errors", () => {
    const { maps } = setup();
    const m = maps.hash({ keySize: 4, valueSize: 8, maxEntries: 2, name: "counts" });
    assert.throws(() => m.update(new Uint8Array(3), u64(1)), /counts: key is 3 bytes, the map's key size is 4/);
    assert.throws(() => m.update(u32(1), u32(1)), /counts: value is 4 bytes/);
    assert.throws(() => maps.hash({ keySize: 0, valueSize: 8, maxEntries: 2 }), /key size must be > 0/);
  });
});

describe("LRU hash", () => {
  test("a full insert evicts from the inactive list, sparing an element a program looked up", () => {
    const { maps } = setup();
    const m = maps.lruHash({ keySize: 4, valueSize: 4, maxEntries: 3 });
    for (const k of [1, 2, 3]) assert.equal(m.update(u32(k), u32(k)), 0);
    m.lookupElem(u32(1)); // a program lookup counts as a use
    assert.equal(m.update(u32(4), u32(4)), 0);
    assert.equal(m.has(u32(2)), false, "2 was the inactive list's tail once 1 was activated");
    assert.deepEqual(m.keys(), [u32(1), u32(3), u32(4)], "in the order they were added");
    m.delete(u32(4));
    m.update(u32(3), u32(33)); // an update counts as a use (with room for its new element: no eviction)
    m.update(u32(4), u32(4));
    m.update(u32(5), u32(5));
    assert.equal(m.has(u32(1)), false);
    assert.equal(m.has(u32(3)), true);
    assert.equal(m.evictions, 2);
    assert.equal(m.update(u32(9), u32(9), BPF_EXIST), -Errno.ENOENT);
    assert.equal(m.update(u32(9), u32(9), 4), -Errno.EINVAL);
  });

  test("an update in a full map takes its new element first, which may evict the key it updates", () => {
    const { maps } = setup();
    const m = maps.lruHash({ keySize: 4, valueSize: 4, maxEntries: 3 });
    for (const k of [1, 2, 3]) m.update(u32(k), u32(k));
    assert.equal(m.update(u32(1), u32(11)), 0);
    assert.equal(m.evictions, 1);
    assert.deepEqual(m.entries(), [[u32(2), u32(2)], [u32(3), u32(3)], [u32(1), u32(11)]]);
    assert.equal(m.update(u32(2), u32(5), BPF_NOEXIST), 0, "2 was evicted before the flags were checked");
    assert.deepEqual(m.lookup(u32(2)), u32(5));
  });

  test("JS lookups do not refresh recency", () => {
    const { maps } = setup();
    const m = maps.lruHash({ keySize: 4, valueSize: 4, maxEntries: 2 });
    m.update(u32(1), u32(1));
    m.update(u32(2), u32(2));
    m.lookup(u32(1));
    m.update(u32(3), u32(3));
    assert.equal(m.has(u32(1)), false);
  });

  test("BPF_F_NO_COMMON_LRU gives each CPU an equal share: max entries round up to a multiple of the CPUs", () => {
    const { maps, kernel } = setup({ numCpus: 4 });
    const m = maps.lruHash({ keySize: 4, valueSize: 4, maxEntries: 5, noCommonLru: true });
    assert.equal(m.maxEntries, 8);
    // CPU 1's two elements are all it has: for its third key it shrinks its list by up to 4, evicting both.
    kernel.cpu = 0;
    for (const k of [1, 2]) m.update(u32(k), u32(k));
    kernel.cpu = 1;
    for (const k of [3, 4, 5]) m.update(u32(k), u32(k));
    assert.deepEqual(m.keys(), [u32(1), u32(2), u32(5)]);
    assert.throws(() => maps.hash({ keySize: 4, valueSize: 4, maxEntries: 4, noCommonLru: true }), /BPF_F_NO_COMMON_LRU is for LRU maps only/);
  });
});

describe("array map", () => {
  test("zero-initialised values, bounds, flags, no delete", () => {
    const { maps } = setup();
    const m = maps.array({ valueSize: 4, maxEntries: 3 });
    assert.deepEqual(m.lookup(2), new Uint8Array(4));
    assert.equal(m.lookup(3), undefined);
    assert.equal(m.update(1, u32(5)), 0);
    assert.equal(m.update(1, u32(6), BPF_EXIST), 0);
    assert.equal(m.update(1, u32(7), BPF_NOEXIST), -Errno.EEXIST);
    assert.equal(m.update(3, u32(7)), -Errno.E2BIG);
    assert.equal(m.update(1, u32(7), 3), -Errno.EINVAL);
    assert.equal(m.delete(1), -Errno.EINVAL);
    assert.equal(m.deleteElem(u32(1)), -Errno.EINVAL);
    assert.deepEqual(m.lookup(u32(1)), u32(6));
    assert.equal(m.nextKey(), 0);
    assert.equal(m.nextKey(1), 2);
    assert.equal(m.nextKey(2), undefined);
    assert.equal(m.nextKey(7), 0);
  });

  test("program lookups: in-bounds values at 8-byte strides, NULL past the end", () => {
    const { kernel, maps } = setup();
    const m = maps.array({ valueSize: 4, maxEntries: 2 });
    const a0 = m.lookupElem(u32(0));
    const a1 = m.lookupElem(u32(1));
    assert.equal(a1 - a0, 8n);
    assert.equal(m.lookupElem(u32(2)), 0n);
    assert.equal(m.lookupElem(u32(0xffffffff)), 0n);
    kernel.memory.write(a1, u32(0xabcd));
    assert.deepEqual(m.lookup(1), u32(0xabcd));
    assert.equal(m.updateElem(u32(0), u32(1), BigInt(BPF_F_LOCK)), -Errno.EINVAL);
    assert.equal(m.updateElem(u32(5), u32(1), BigInt(BPF_F_LOCK)), -Errno.E2BIG, "bounds are checked before the lock flag");
  });

  test("global data: valueAddress, initial image, read-only .rodata and freeze", () => {
    const { kernel, maps } = setup();
    const rodata = maps.array({ name: ".rodata", valueSize: 16, maxEntries: 1, readonlyProg: true, initial: new TextEncoder().encode("hello") });
    const addr = rodata.valueAddress(1)!;
    assert.deepEqual(kernel.memory.read(addr, 4), new TextEncoder().encode("ello"));
    assert.throws(() => kernel.memory.write(addr, new Uint8Array(1)), VmFault);
    assert.equal(rodata.valueAddress(16), undefined);
    rodata.freeze();
    assert.equal(rodata.update(0, new Uint8Array(16)), -Errno.EPERM);
    const bss = maps.array({ name: ".bss", valueSize: 8, maxEntries: 1 });
    kernel.memory.write(bss.valueAddress(0)!, u64(42));
    assert.equal(getU64(bss.data), 42n);
  });
});

describe("per-CPU maps", () => {
  test("per-CPU array: programs see the current CPU's copy", () => {
    const { kernel, maps } = setup({ numCpus: 3 });
    const m = maps.percpuArray({ valueSize: 8, maxEntries: 2 });
    for (const cpu of [0, 1, 2]) {
      kernel.cpu = cpu;
      const a = m.lookupElem(u32(1));
      kernel.memory.write(a, u64(100 + cpu));
    }
    assert.deepEqual(m.lookup(1)!.map((v) => getU64(v)), [100n, 101n, 102n]);
    assert.equal(m.sumU64(1), 303n);
    kernel.cpu = 1;
    assert.equal(m.updateElem(u32(0), u64(7), 0n), 0);
    assert.deepEqual(m.lookup(0)!.map((v) => getU64(v)), [0n, 7n, 0n]);
    assert.equal(m.update(0, [u64(1), u64(2), u64(3)]), 0);
    assert.deepEqual(m.lookup(0)!.map((v) => getU64(v)), [1n, 2n, 3n]);
    assert.equal(m.update(0, u64(1), BPF_NOEXIST), -Errno.EEXIST);
    assert.equal(m.update(2, u64(1)), -Errno.E2BIG);
    assert.equal(m.lookupElem(u32(2)), 0n);
    assert.throws(() => m.update(0, [u64(1)]), /1 values given for 3 CPUs/);
  });

  test("per-CPU hash: new elements from a program zero the other CPUs", () => {
    const { kernel, maps } = setup({ numCpus: 2 });
    const m = maps.percpuHash({ keySize: 4, valueSize: 8, maxEntries: 2 });
    kernel.cpu = 1;
    assert.equal(m.updateElem(u32(1), u64(5), 0n), 0);
    assert.deepEqual(m.lookup(u32(1))!.map((v) => getU64(v)), [0n, 5n]);
    kernel.cpu = 0;
    assert.equal(m.updateElem(u32(1), u64(6), BigInt(BPF_EXIST)), 0);
    assert.deepEqual(m.lookup(u32(1))!.map((v) => getU64(v)), [6n, 5n]);
    const a0 = m.lookupElem(u32(1));
    kernel.cpu = 1;
    const a1 = m.lookupElem(u32(1));
    assert.notEqual(a0, a1);
    assert.equal(getU64(kernel.memory.read(a1, 8)), 5n);
    assert.equal(m.update(u32(2), [u64(1), u64(2)]), 0);
    assert.equal(m.update(u32(3), u64(1)), -Errno.E2BIG);
    assert.equal(m.updateElem(u32(3), u64(1), 4n), -Errno.EINVAL);
    const lru = maps.lruPercpuHash({ keySize: 4, valueSize: 8, maxEntries: 1 });
    lru.update(u32(1), u64(1));
    assert.equal(lru.update(u32(2), u64(2)), 0);
    assert.equal(lru.has(u32(1)), false);
  });
});

describe("ring buffer", () => {
  test("size must be a power of two and page-aligned", () => {
    const { maps } = setup();
    assert.throws(() => maps.ringbuf({ maxEntries: 4096 * 3 }), /power of two/);
    assert.throws(() => maps.ringbuf({ maxEntries: 1024 }), /multiple of 4096/);
  });

  test("records come out in order with the kernel's headers; discards are skipped", () => {
    const { kernel, maps } = setup();
    const rb = maps.ringbuf({ maxEntries: 4096 });
    const a = rb.reserve(5);
    const b = rb.reserve(8);
    const c = rb.reserve(3);
    assert.notEqual(a, 0n);
    // Header: len | BUSY, then pg_off; records are 8-aligned.
    const hdr = kernel.memory.read(a - 8n, 8);
    assert.equal(new DataView(hdr.buffer).getUint32(0, true), (5 | 0x80000000) >>> 0);
    assert.equal(b - a, 16n);
    assert.equal(c - b, 16n);
    kernel.memory.write(a, new Uint8Array([1, 2, 3, 4, 5]));
    kernel.memory.write(c, new Uint8Array([7, 7, 7]));
    rb.commit(c, 0n, false);
    assert.deepEqual(rb.consume(), [], "an earlier busy record blocks the consumer");
    rb.commit(a, 0n, false);
    assert.deepEqual(rb.consume(), [new Uint8Array([1, 2, 3, 4, 5])]);
    rb.commit(b, 0n, true);
    assert.deepEqual(rb.consume(), [new Uint8Array([7, 7, 7])]);
    assert.equal(rb.availableData, 0);
    assert.throws(() => rb.commit(a, 0n, false), /already submitted/);
  });

  test("full: reserve gives NULL, output -EAGAIN; space returns after consuming; wraps", () => {
    const { maps } = setup();
    const rb = maps.ringbuf({ maxEntries: 4096 });
    assert.equal(rb.reserve(4096), 0n, "larger than the ring");
    assert.equal(rb.reserve(4096 - 8), 0n, "a record may not fill the whole ring");
    let n = 0;
    while (rb.output(new Uint8Array(100).fill(n & 0xff), 0n) === 0) n++;
    assert.equal(n, 36); // 112 bytes each, at most 4095 in flight
    assert.equal(rb.output(new Uint8Array(100), 0n), -Errno.EAGAIN);
    assert.equal(rb.reserve(64), 0n, "63 bytes are left: 72 do not fit");
    assert.equal(rb.output(new Uint8Array(1), 4n), -Errno.EINVAL);
    const first = rb.consume(2);
    assert.deepEqual(first.map((r) => r[0]), [0, 1]);
    // Now two records fit again, and the next ones wrap around the end of the ring.
    assert.equal(rb.output(new Uint8Array(100).fill(200), 0n), 0);
    assert.equal(rb.output(new Uint8Array(100).fill(201), 0n), 0);
    assert.equal(rb.output(new Uint8Array(100), 0n), -Errno.EAGAIN);
    const rest = rb.consume();
    assert.equal(rest.length, 36);
    assert.deepEqual(rest.slice(-2).map((r) => [r[0], r[99], r.length]), [[200, 200, 100], [201, 201, 100]]);
  });

  test("query and wakeups", () => {
    const { maps } = setup();
    const rb = maps.ringbuf({ maxEntries: 8192 });
    rb.output(new Uint8Array(10), 0n);
    assert.equal(rb.query(0n), 24n);
    assert.equal(rb.query(1n), 8192n);
    assert.equal(rb.query(2n), 0n);
    assert.equal(rb.query(3n), 24n);
    assert.equal(rb.query(9n), 0n);
    assert.equal(rb.wakeups, 1, "the consumer had caught up");
    rb.output(new Uint8Array(10), 0n);
    assert.equal(rb.wakeups, 1, "no wakeup when the consumer is behind");
    rb.output(new Uint8Array(10), 2n);
    assert.equal(rb.wakeups, 2, "BPF_RB_FORCE_WAKEUP");
  });
});

describe("perf event array", () => {
  test("BPF_F_CURRENT_CPU, explicit index, errors and lost samples", () => {
    const { kernel, maps } = setup({ numCpus: 2 });
    const p = maps.perfEventArray({ bufferBytes: 64 });
    assert.equal(p.maxEntries, 2);
    kernel.cpu = 1;
    assert.equal(p.output(0xffffffffn, new Uint8Array([1])), 0);
    assert.equal(p.output(1n, new Uint8Array([2])), 0);
    assert.equal(p.output(0n, new Uint8Array([3])), -Errno.EOPNOTSUPP, "slot 0's event is on CPU 0");
    assert.equal(p.output(2n, new Uint8Array([3])), -Errno.E2BIG);
    assert.equal(p.output(1n << 32n, new Uint8Array([3])), -Errno.EINVAL);
    p.close(1);
    assert.equal(p.output(0xffffffffn, new Uint8Array([3])), -Errno.ENOENT);
    p.open(1);
    assert.equal(p.output(0xffffffffn, new Uint8Array(30)), 0);
    assert.equal(p.output(0xffffffffn, new Uint8Array(30)), -Errno.ENOSPC);
    assert.equal(p.lost(1), 1);
    kernel.cpu = 0;
    p.output(0xffffffffn, new Uint8Array([9]));
    // Lengths padded as the kernel's raw samples are: 1 byte reads as 4, 30 as 36; in the order they were sent.
    assert.deepEqual(p.drain().map((r) => [r.cpu, r.index, r.data.length]), [[1, 1, 36], [0, 0, 4]]);
    assert.deepEqual(p.drain(), []);
  });
});

describe("prog array", () => {
  test("slots hold program objects for tail calls", () => {
    const { maps } = setup();
    const pa = maps.progArray({ maxEntries: 2 });
    const prog = { name: "next" };
    assert.equal(pa.set(1, prog), 0);
    assert.equal(pa.set(2, prog), -Errno.E2BIG);
    assert.equal(maps.tailCallTarget(pa.address, 1), prog);
    assert.equal(maps.tailCallTarget(pa.address, 0), null, "empty slot in bounds");
    assert.equal(maps.tailCallTarget(pa.address, 2), undefined, "out of bounds");
    assert.equal(pa.delete(1), 0);
    assert.equal(pa.delete(1), -Errno.ENOENT);
    const h = maps.hash({ keySize: 4, valueSize: 4, maxEntries: 1 });
    assert.throws(() => maps.tailCallTarget(h.address, 0), /not a prog array/);
  });
});

describe("maps of maps", () => {
  const inner = { type: 1, keySize: 4, valueSize: 8, maxEntries: 4 };

  test("a hash of maps' lookup gives the inner map's own address, which the map helpers take", () => {
    const { maps, call, callS, put } = setup();
    const outer = maps.hashOfMaps({ name: "outer", keySize: 4, maxEntries: 2, inner });
    const a = maps.hash({ name: "a", keySize: 4, valueSize: 8, maxEntries: 4 });
    const b = maps.hash({ name: "b", keySize: 4, valueSize: 8, maxEntries: 4 });
    assert.equal(outer.set(u32(7), a, BPF_EXIST), -Errno.ENOENT);
    assert.equal(outer.set(u32(7), a), 0);
    assert.equal(outer.set(u32(7), b, BPF_NOEXIST), -Errno.EEXIST);
    assert.equal(outer.set(u32(8), b), 0);
    assert.equal(outer.set(u32(9), b), -Errno.E2BIG, "full");
    const key = put(0, u32(7));
    const found = call(Helper.map_lookup_elem, outer.address, key);
    assert.equal(found, a.address);
    assert.equal(callS(Helper.map_update_elem, found, put(8, u32(1)), put(16, u64(5)), BPF_ANY), 0);
    assert.equal(getU64(a.lookup(u32(1))!), 5n);
    assert.equal(call(Helper.map_lookup_elem, outer.address, put(24, u32(9))), 0n, "absent key: NULL");
    assert.equal(callS(Helper.map_update_elem, outer.address, key, put(32, u32(0)), BPF_ANY), -Errno.EINVAL, "programs do not update the outer map");
    assert.equal(callS(Helper.map_delete_elem, outer.address, key), -Errno.EINVAL);
    assert.equal(outer.delete(u32(7)), 0);
    assert.equal(call(Helper.map_lookup_elem, outer.address, key), 0n);
    assert.deepEqual(outer.entries().map(([k, m]) => [k, m.name]), [[u32(8), "b"]]);
  });

  test("an array of maps: empty slots and past the end give NULL; only maps shaped like the inner definition fit", () => {
    const { maps } = setup();
    const outer = maps.arrayOfMaps({ name: "outer", maxEntries: 2, inner });
    const a = maps.hash({ name: "a", keySize: 4, valueSize: 8, maxEntries: 4 });
    assert.equal(outer.set(0, a), 0);
    assert.equal(outer.set(2, a), -Errno.E2BIG);
    assert.equal(outer.set(1, a, BPF_NOEXIST), -Errno.EEXIST, "array slots always exist");
    assert.equal(outer.lookupElem(u32(0)), a.address);
    assert.equal(outer.lookupElem(u32(1)), 0n);
    assert.equal(outer.lookupElem(u32(5)), 0n);
    assert.throws(() => outer.set(1, maps.hash({ name: "big", keySize: 4, valueSize: 8, maxEntries: 8 })), /"big" has 8 entries, the inner maps have 4/);
    assert.throws(() => outer.set(1, maps.array({ name: "arr", valueSize: 8, maxEntries: 4 })), /"arr" is of type 2, the inner maps' type is 1/);
    assert.throws(() => outer.set(1, outer), /itself a map of maps/);
    const any = maps.arrayOfMaps({ name: "any", maxEntries: 1, inner: { ...inner, anySize: true } });
    assert.equal(any.set(0, maps.hash({ name: "big2", keySize: 4, valueSize: 8, maxEntries: 8 })), 0, "BPF_F_INNER_MAP: any max_entries");
    assert.equal(outer.delete(0), 0);
    assert.equal(outer.delete(0), -Errno.ENOENT);
  });
});

describe("stack trace map", () => {
  test("jhash2 matches the kernel's known values", () => {
    // jhash2 of nothing is the initial value; of one word, a fixed mix.
    assert.equal(jhash2([]), 0xdeadbeef);
    assert.equal(jhash2([0], 0), jhash2(new Uint32Array(1)));
    assert.notEqual(jhash2([1, 2, 3, 4]), jhash2([1, 2, 3, 5]));
  });

  test("same stack -> same id; collisions -> -EEXIST unless REUSE; skip and depth", () => {
    const { maps } = setup();
    const m = maps.stackTrace({ maxEntries: 2, valueSize: 8 * 4 });
    const s1 = [0xffffffff81000010n, 0xffffffff81000020n];
    const id = m.getStackId(s1, 0n);
    assert.equal(id, hashStack(s1) & 1);
    assert.equal(m.getStackId(s1, 0n), id);
    assert.deepEqual(m.lookup(id), s1);
    // Find a different stack landing in the same bucket.
    let other: bigint[] = [];
    for (let i = 1n; ; i++) {
      other = [0xffffffff82000000n + i];
      if ((hashStack(other) & 1) === id) break;
    }
    assert.equal(m.getStackId(other, 0n), -Errno.EEXIST);
    assert.equal(m.getStackId(other, BPF_F_FAST_STACK_CMP), -Errno.EEXIST, "hashes differ, so fast cmp does not match");
    assert.equal(m.getStackId(other, BPF_F_REUSE_STACKID), id);
    assert.deepEqual(m.lookup(id), other);
    // Skip drops the innermost frames; too much skip is -EFAULT.
    assert.equal(m.getStackId(s1, 1n | BPF_F_REUSE_STACKID), hashStack([s1[1]!]) & 1);
    assert.equal(m.getStackId(s1, 2n), -Errno.EFAULT);
    assert.equal(m.getStackId(undefined, BPF_F_USER_STACK), -Errno.EFAULT);
    assert.equal(m.getStackId(s1, 1n << 12n), -Errno.EINVAL);
    // Depth is capped by the value size (free a bucket first: both are in use).
    for (const k of m.keys()) m.delete(k);
    const deep = [1n, 2n, 3n, 4n, 5n, 6n].map((x) => 0xffffffff81000000n + x);
    const did = m.getStackId(deep, BPF_F_REUSE_STACKID);
    assert.deepEqual(m.lookup(did), deep.slice(0, 4));
    assert.equal(m.lookupBytes(did)!.length, 32);
    assert.equal(m.delete(did), 0);
    assert.equal(m.delete(did), -Errno.ENOENT);
    assert.equal(m.delete(2), -Errno.E2BIG);
  });

  test("all preallocated buckets in use -> -ENOMEM", () => {
    const { maps } = setup();
    const m = maps.stackTrace({ maxEntries: 1 });
    const id = m.getStackId([0x1000n], 0n);
    assert.equal(id, 0);
    assert.equal(m.getStackId([0x2000n], BPF_F_REUSE_STACKID), -Errno.ENOMEM);
  });
});

describe("registry", () => {
  test("fds, indexes, names and addresses", () => {
    const { maps, kernel } = setup();
    const a = maps.hash({ name: "a", keySize: 4, valueSize: 4, maxEntries: 1 });
    const b = maps.array({ name: "b", valueSize: 4, maxEntries: 1 });
    assert.equal(a.fd, 3);
    assert.equal(maps.byFd(4), b);
    assert.equal(maps.byName("a"), a);
    assert.equal(maps.find(b.address), b);
    assert.equal(maps.find(b.address + 1n), undefined);
    assert.equal(kernel.memory.regionOf(a.address)!.kind, "map");
    assert.ok(a instanceof HashMap && b instanceof ArrayMap);
    assert.throws(() => kernel.memory.read(a.address, 1), VmFault);
  });
});
