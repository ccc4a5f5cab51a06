// Program arrays, maps of maps and pinning in the object model and on FakeSys (no root): `__array(values, ...)`
// read into inner templates and slots, definitions libbpf refuses refused with the reason, slots written once
// their targets exist, inner templates closed after the outer map is made, and pins made, reused and refused.

import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FakeSys, MapType, type MapCreateOptions } from "../../runtime/sys/index.js";
import { LoadError, ObjectError, loadObject, openObject, pinPath, type MapSpec } from "../../runtime/loader/index.js";
import { compileC, fixture, needsClang } from "./support.js";

const spec = () => openObject(fixture("mapvalues"), { name: "mapvalues" });
const byName = (maps: MapSpec[]) => new Map(maps.map((m) => [m.name, m]));
const u32 = (b: Uint8Array | undefined) => (b ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) : undefined);
const key = (n: number) => new Uint8Array([n, 0, 0, 0]);

/** A .maps definition in a one-program object, compiled; gives the parse error, if any. */
function parseError(name: string, maps: string): string | undefined {
  const source = `#include "loader.h"\nchar LICENSE[] SEC("license") = "GPL";\nstatic __noinline int helper(void *ctx) { return 1; }\nSEC("socket") int prog(void *ctx) { return helper(ctx); }\n${maps}\n`;
  try {
    openObject(readFileSync(compileC(name, source)), { name });
    return undefined;
  } catch (e) {
    if (!(e instanceof ObjectError)) throw e;
    return e.message;
  }
}

describe("__array(values, ...) in the object model", needsClang, () => {
  it("a program array's initial values are its slots, by program name", () => {
    const maps = byName(spec().maps);
    const jmp = maps.get("jmp")!;
    assert.deepEqual([jmp.type, jmp.keySize, jmp.valueSize, jmp.maxEntries, jmp.inner], [MapType.PROG_ARRAY, 4, 4, 4, undefined]);
    assert.deepEqual(jmp.slots, [
      { index: 1, kind: "program", name: "tail_one" },
      { index: 3, kind: "program", name: "tail_two" },
    ]);
    // Without initial values: filled by user space.
    assert.deepEqual([maps.get("jmp_empty")!.valueSize, maps.get("jmp_empty")!.slots], [4, []]);
  });

  it("a map of maps has its inner definition as a template and other maps as slots", () => {
    const maps = byName(spec().maps);
    const outer = maps.get("outer")!;
    assert.deepEqual([outer.type, outer.keySize, outer.valueSize, outer.maxEntries], [MapType.ARRAY_OF_MAPS, 4, 4, 2]);
    assert.deepEqual(outer.inner, { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 });
    assert.deepEqual(outer.slots, [
      { index: 0, kind: "map", name: "in1" },
      { index: 1, kind: "map", name: "in2" },
    ]);
    const hash = maps.get("outer_hash")!;
    assert.deepEqual([hash.type, hash.valueSize, hash.inner, hash.slots], [MapType.HASH_OF_MAPS, 4, { type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 8, flags: 0 }, []]);
  });

  it("LIBBPF_PIN_BY_NAME pins by the map's name under the pin root", () => {
    const maps = byName(spec().maps);
    assert.equal(maps.get("tsbpf_pinned_runs")!.pinning, "by-name");
    assert.equal(maps.get("in1")!.pinning, "none");
    assert.equal(pinPath(maps.get("tsbpf_pinned_runs")!), "/sys/fs/bpf/tsbpf_pinned_runs");
    assert.equal(pinPath(maps.get("tsbpf_pinned_runs")!, "/sys/fs/bpf/mine/"), "/sys/fs/bpf/mine/tsbpf_pinned_runs");
  });

  it("definitions libbpf refuses are refused with the reason", () => {
    const inner = `struct inner { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); }`;
    const cases: [string, string, RegExp][] = [
      ["values-in-hash", `struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1); __type(key, __u32); __array(values, int (void *)); } m SEC(".maps");`, /values are for program arrays and maps of maps only/],
      ["no-inner", `struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); } m SEC(".maps");`, /needs __array\(values, struct \{\.\.\.\}\)/],
      ["func-in-outer", `struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 1); __type(key, __u32); __array(values, int (void *)); } m SEC(".maps");`, /inner map definition/],
      ["pinned-inner", `struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 1); __type(key, __u32); __array(values, struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); __uint(pinning, LIBBPF_PIN_BY_NAME); }); } m SEC(".maps");`, /inner map definition cannot be pinned/],
      ["bad-value-size", `struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); __array(values, int (void *)); } m SEC(".maps");`, /conflicting value sizes 8 and 4/],
      ["pin-2", `struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); __uint(pinning, 2); } m SEC(".maps");`, /pinning 2 is neither/],
      ["subprog-tail", `struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 2); __type(key, __u32); __array(values, int (void *)); } m SEC(".maps") = { .values = { [1] = (void *)&helper } };`, /helper is a sub-program/],
      ["past-end", `${inner} a SEC(".maps"); struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 1); __type(key, __u32); __array(values, struct inner); } m SEC(".maps") = { .values = { [0] = &a, [1] = &a } };`, /initial value \[1\] is past its 1 entries/],
      ["self", `struct self { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 1); __type(key, __u32); __array(values, struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); }); } m SEC(".maps") = { .values = { &m } };`, /cannot hold itself/],
    ];
    for (const [name, maps, want] of cases) assert.match(parseError(`mv-${name}`, maps) ?? "(parsed)", want, name);
  });
});

describe("program arrays, maps of maps and pins on FakeSys", needsClang, () => {
  it("an inner template is made for each map of maps and closed; slots hold their targets' fds", () => {
    const sys = new FakeSys();
    const created: MapCreateOptions[] = [];
    const ids: number[] = [];
    const create = sys.mapCreate.bind(sys);
    sys.mapCreate = (o) => {
      const fd = create(o);
      created.push(o);
      ids.push(sys.mapInfo(fd).id);
      return fd;
    };
    const loaded = loadObject(sys, spec(), { pinRoot: "/fake" });
    try {
      const outer = created.find((o) => o.name === "outer")!;
      const template = created.indexOf(outer) - 1;
      assert.deepEqual([created[template]!.name, created[template]!.type, created[template]!.valueSize, created[template]!.maxEntries], ["outer.inner", MapType.ARRAY, 8, 1]);
      assert.ok(outer.innerMapFd !== undefined);
      // Both templates are closed once their outer maps exist: only the object's own maps stay open.
      assert.equal(created.filter((o) => o.name?.endsWith(".inne") || o.name?.endsWith(".inner")).length, 2);
      const open = new Set([...loaded.maps.values()].map((m) => sys.mapInfo(m.fd).id));
      assert.equal(sys.openFds().filter((f) => f.kind === "map").length, loaded.maps.size);
      assert.ok(!open.has(ids[template]!));
      // No BTF types for maps holding fds: the kernel takes none.
      assert.equal(outer.btfValueTypeId, undefined);
      assert.equal(created.find((o) => o.name === "jmp")!.btfKeyTypeId, undefined);
      assert.equal(u32(sys.mapLookup(loaded.map("outer").fd, key(0))), loaded.map("in1").fd);
      assert.equal(u32(sys.mapLookup(loaded.map("outer").fd, key(1))), loaded.map("in2").fd);
      assert.equal(u32(sys.mapLookup(loaded.map("jmp").fd, key(1))), loaded.program("tail_one").fd);
      assert.equal(u32(sys.mapLookup(loaded.map("jmp").fd, key(3))), loaded.program("tail_two").fd);
      assert.deepEqual(loaded.warnings, []);
    } finally {
      loaded.close();
    }
    assert.deepEqual(sys.leaks(), []);
  });

  it("a program left out of the load leaves its slot empty, with a warning", () => {
    const sys = new FakeSys();
    const loaded = loadObject(sys, spec(), { pinRoot: "/fake", programs: ["entry", "tail_one"] });
    try {
      assert.deepEqual(loaded.warnings, ["slot 3 of jmp stays empty: program tail_two was not loaded"]);
    } finally {
      loaded.close();
    }
  });

  it("a map pinned by name is pinned, reused by the next load, refused when it differs, and unpinned by a failed load", () => {
    const sys = new FakeSys();
    const path = "/fake/tsbpf_pinned_runs";
    const first = loadObject(sys, spec(), { pinRoot: "/fake" });
    const pinnedId = sys.mapInfo(first.map("tsbpf_pinned_runs").fd).id;
    assert.deepEqual([first.map("tsbpf_pinned_runs").pinPath, first.map("tsbpf_pinned_runs").reused], [path, false]);
    first.close();
    const second = loadObject(sys, spec(), { pinRoot: "/fake" });
    assert.deepEqual([second.map("tsbpf_pinned_runs").reused, sys.mapInfo(second.map("tsbpf_pinned_runs").fd).id], [true, pinnedId]);
    second.close();
    assert.deepEqual(sys.leaks(), []);

    sys.unpin(path);
    const other = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2 });
    sys.objPin(other, path);
    sys.close(other);
    assert.throws(
      () => loadObject(sys, spec(), { pinRoot: "/fake" }),
      (e: unknown) => e instanceof LoadError && e.object === "tsbpf_pinned_runs" && /differs from the definition \(max_entries 2 there, 1 here\)/.test(e.message) && e.message.includes(`rm ${path}`),
    );
    assert.deepEqual(sys.leaks(), []);

    sys.unpin(path);
    sys.failNextProgLoad(13, "R0 !read_ok\n");
    assert.throws(() => loadObject(sys, spec(), { pinRoot: "/fake" }), LoadError);
    assert.throws(() => sys.objGet(path), /ENOENT/);
    assert.deepEqual(sys.leaks(), []);
  });
});
