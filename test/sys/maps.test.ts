// Real-kernel map tests: each common map type through create, update, lookup, delete and iteration,
// including the BPF_ANY / BPF_NOEXIST / BPF_EXIST errors.

import { readFileSync, unlinkSync } from "node:fs";
import { test } from "node:test";
import assert from "node:assert/strict";
import { BPF_ANY, BPF_EXIST, BPF_NOEXIST, BpfLoadError, MapFlag, MapType, SysError, missingRoot, openSys } from "../../runtime/sys/index.js";
import { needsKernel, readU32, readU64, u32, u64, withFds } from "./helpers.js";

const sys = openSys();

function errno(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SysError, `expected SysError, got ${String(e)}`);
    assert.ok(!(e instanceof BpfLoadError));
    return e.code;
  }
  assert.fail("expected a SysError");
}

for (const [label, type, flags] of [
  ["hash", MapType.HASH, 0],
  ["hash without prealloc", MapType.HASH, MapFlag.NO_PREALLOC],
  ["lru_hash", MapType.LRU_HASH, 0],
] as const) {
  test(`${label}: update flags, lookup, delete, iterate`, needsKernel, () =>
    withFds(sys, (fds) => {
      const fd = fds.add(sys.mapCreate({ type, keySize: 4, valueSize: 8, maxEntries: 16, flags, name: "t_hash" }));
      assert.equal(sys.mapLookup(fd, u32(1)), undefined);
      sys.mapUpdate(fd, u32(1), u64(100n), BPF_NOEXIST);
      assert.equal(errno(() => sys.mapUpdate(fd, u32(1), u64(101n), BPF_NOEXIST)), "EEXIST");
      assert.equal(errno(() => sys.mapUpdate(fd, u32(2), u64(200n), BPF_EXIST)), "ENOENT");
      sys.mapUpdate(fd, u32(1), u64(111n), BPF_EXIST);
      sys.mapUpdate(fd, u32(2), u64(222n), BPF_ANY);
      sys.mapUpdate(fd, u32(3), u64(333n));
      assert.equal(readU64(sys.mapLookup(fd, u32(1))!), 111n);

      const keys: number[] = [];
      for (let k = sys.mapGetNextKey(fd, undefined); k; k = sys.mapGetNextKey(fd, k)) keys.push(readU32(k));
      assert.deepEqual(keys.sort(), [1, 2, 3]);

      sys.mapDelete(fd, u32(2));
      assert.equal(sys.mapLookup(fd, u32(2)), undefined);
      assert.equal(errno(() => sys.mapDelete(fd, u32(2))), "ENOENT");
      assert.equal(errno(() => sys.mapUpdate(fd, u32(9), u64(0n), 3)), "EINVAL");
    }),
  );
}

test("hash: inserting past max_entries is E2BIG", needsKernel, () =>
  withFds(sys, (fds) => {
    const fd = fds.add(sys.mapCreate({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 2 }));
    sys.mapUpdate(fd, u32(1), u32(1));
    sys.mapUpdate(fd, u32(2), u32(2));
    assert.equal(errno(() => sys.mapUpdate(fd, u32(3), u32(3))), "E2BIG");
  }),
);

test("array: preset zero entries, NOEXIST refused, delete refused, fixed iteration", needsKernel, () =>
  withFds(sys, (fds) => {
    const fd = fds.add(sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 4, name: "t_array" }));
    assert.deepEqual([...sys.mapLookup(fd, u32(3))!], [0, 0, 0, 0]);
    assert.equal(sys.mapLookup(fd, u32(4)), undefined);
    sys.mapUpdate(fd, u32(2), u32(0xdeadbeef), BPF_EXIST);
    assert.equal(readU32(sys.mapLookup(fd, u32(2))!), 0xdeadbeef);
    assert.equal(errno(() => sys.mapUpdate(fd, u32(1), u32(1), BPF_NOEXIST)), "EEXIST");
    assert.equal(errno(() => sys.mapUpdate(fd, u32(4), u32(1))), "E2BIG");
    assert.equal(errno(() => sys.mapDelete(fd, u32(1))), "EINVAL");
    const keys: number[] = [];
    for (let k = sys.mapGetNextKey(fd, undefined); k; k = sys.mapGetNextKey(fd, k)) keys.push(readU32(k));
    assert.deepEqual(keys, [0, 1, 2, 3]);
  }),
);

test("percpu_array: values come back for every possible CPU, 8-byte aligned", needsKernel, () =>
  withFds(sys, (fds) => {
    const cpus = sys.possibleCpus();
    assert.ok(cpus >= 1);
    const fd = fds.add(sys.mapCreate({ type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 }));
    const value = new Uint8Array(8 * cpus);
    for (let c = 0; c < cpus; c++) value[c * 8] = c + 1;
    sys.mapUpdate(fd, u32(0), value);
    const got = sys.mapLookup(fd, u32(0))!;
    assert.equal(got.length, 8 * cpus);
    for (let c = 0; c < cpus; c++) assert.equal(readU32(got, c * 8), c + 1);
  }),
);

test("percpu_hash: lookup of a missing key is undefined, present keys give all CPUs", needsKernel, () =>
  withFds(sys, (fds) => {
    const cpus = sys.possibleCpus();
    const fd = fds.add(sys.mapCreate({ type: MapType.PERCPU_HASH, keySize: 8, valueSize: 8, maxEntries: 4 }));
    assert.equal(sys.mapLookup(fd, u64(7n)), undefined);
    sys.mapUpdate(fd, u64(7n), new Uint8Array(8 * cpus).fill(1));
    assert.equal(sys.mapLookup(fd, u64(7n))!.length, 8 * cpus);
  }),
);

test("queue and stack: push with a null key, pop in FIFO / LIFO order", needsKernel, () =>
  withFds(sys, (fds) => {
    const queue = fds.add(sys.mapCreate({ type: MapType.QUEUE, keySize: 0, valueSize: 4, maxEntries: 4 }));
    const stack = fds.add(sys.mapCreate({ type: MapType.STACK, keySize: 0, valueSize: 4, maxEntries: 4 }));
    for (const fd of [queue, stack]) for (const n of [1, 2, 3]) sys.mapUpdate(fd, new Uint8Array(), u32(n));
    assert.equal(readU32(sys.mapLookup(queue, new Uint8Array())!), 1);
    assert.deepEqual([1, 2, 3].map(() => readU32(sys.mapLookupAndDelete(queue, undefined)!)), [1, 2, 3]);
    assert.deepEqual([1, 2, 3].map(() => readU32(sys.mapLookupAndDelete(stack, undefined)!)), [3, 2, 1]);
    assert.equal(sys.mapLookupAndDelete(queue, undefined), undefined);
  }),
);

test("freeze: user-space updates are refused afterwards", needsKernel, () =>
  withFds(sys, (fds) => {
    const fd = fds.add(sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 }));
    sys.mapUpdate(fd, u32(0), u32(5));
    sys.mapFreeze(fd);
    assert.equal(errno(() => sys.mapUpdate(fd, u32(0), u32(6))), "EPERM");
    assert.equal(readU32(sys.mapLookup(fd, u32(0))!), 5);
  }),
);

test("map info reports what was created", needsKernel, () =>
  withFds(sys, (fds) => {
    const fd = fds.add(sys.mapCreate({ type: MapType.HASH, keySize: 4, valueSize: 12, maxEntries: 32, flags: MapFlag.NO_PREALLOC, name: "info_map" }));
    const info = sys.mapInfo(fd);
    assert.equal(info.type, MapType.HASH);
    assert.equal(info.keySize, 4);
    assert.equal(info.valueSize, 12);
    assert.equal(info.maxEntries, 32);
    assert.equal(info.flags, MapFlag.NO_PREALLOC);
    assert.equal(info.name, "info_map");
    assert.ok(info.id > 0);
    // A second fd from the id sees the same map and the same entries.
    sys.mapUpdate(fd, u32(1), new Uint8Array(12).fill(9));
    const again = fds.add(sys.mapGetFdById(info.id));
    assert.equal(sys.mapInfo(again).id, info.id);
    assert.deepEqual([...sys.mapLookup(again, u32(1))!], new Array(12).fill(9));
  }),
);

test("bad attributes are SysError with the command and errno name", needsKernel, () => {
  try {
    sys.mapCreate({ type: MapType.ARRAY, keySize: 8, valueSize: 4, maxEntries: 1 });
    assert.fail("array with key_size 8 was accepted");
  } catch (e) {
    assert.ok(e instanceof SysError);
    assert.equal(e.command, "BPF_MAP_CREATE");
    assert.equal(e.code, "EINVAL");
    assert.equal(e.errno, 22);
    assert.match(e.message, /BPF_MAP_CREATE failed: EINVAL/);
  }
  // The lookup first asks for the map's shape; BPF_OBJ_GET_INFO_BY_FD answers a bad fd with EBADFD.
  assert.match(errno(() => sys.mapLookup(987654, u32(0))), /^EBADFD?$/);
});

const bpffs = readFileSync("/proc/mounts", "utf8")
  .split("\n")
  .map((l) => l.split(" "))
  .find((f) => f[2] === "bpf")?.[1];

test("pin a map on bpffs and get it back", { skip: missingRoot() ?? (bpffs ? false : "bpffs is not mounted (mount -t bpf bpf /sys/fs/bpf)") }, () =>
  withFds(sys, (fds) => {
    const fd = fds.add(sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 }));
    sys.mapUpdate(fd, u32(0), u32(31337));
    const path = `${bpffs}/tsbpf_sys_test_${process.pid}`;
    sys.objPin(fd, path);
    try {
      const again = fds.add(sys.objGet(path));
      assert.equal(sys.mapInfo(again).id, sys.mapInfo(fd).id);
      assert.equal(readU32(sys.mapLookup(again, u32(0))!), 31337);
    } finally {
      unlinkSync(path);
    }
  }),
);
