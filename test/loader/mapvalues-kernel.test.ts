// Program arrays, maps of maps and pinned maps in the running kernel. The socket filters of the mapvalues
// fixture run through BPF_PROG_TEST_RUN: the tail call its `.values` set up is taken (the tail program's return
// value), the inner map found through the outer map counts and is read back from JS, slots are changed from JS;
// a pinned map is reused by a second load and a mismatched pin is refused. `tsbpf load` runs the tailcall fixture
// end to end: the tail program's printk line, and the slots printed by name at exit. Every map and program the
// tests create (inner templates included) is gone afterwards, and every pin is removed.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listIds, MapType, openSys, type Sys } from "../../runtime/sys/index.js";
import { LoadError, Session, openMap, type LoadedObject } from "../../runtime/loader/index.js";
import { fixturePath, needsKernel, openFdCount, startCli } from "./support.js";

const real = openSys();
const created = { map: new Set<number>(), prog: new Set<number>() };

/** The kernel, with the id of every map and program created through it noted (templates the loader closes too). */
const sys: Sys = new Proxy(real, {
  get(target, prop) {
    if (prop === "mapCreate") {
      return (o: Parameters<Sys["mapCreate"]>[0]) => {
        const fd = target.mapCreate(o);
        created.map.add(target.mapInfo(fd).id);
        return fd;
      };
    }
    if (prop === "progLoad") {
      return (o: Parameters<Sys["progLoad"]>[0]) => {
        const r = target.progLoad(o);
        created.prog.add(target.progInfo(r.fd).id);
        return r;
      };
    }
    const v = Reflect.get(target, prop, target) as unknown;
    return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
  },
});

let pinRoot: string;
const PIN = () => join(pinRoot, "tsbpf_pinned_runs");

const run = (obj: LoadedObject, program = "entry"): number => sys.progTestRun(obj.program(program).fd, { dataIn: new Uint8Array(64) }).retval;
const mapId = (obj: LoadedObject, name: string) => sys.mapInfo(obj.map(name).fd).id;
const progId = (obj: LoadedObject, name: string) => sys.progInfo(obj.program(name).fd).id;

/** Objects go away after an RCU grace period: wait for that rather than a fixed time. */
async function stillAlive(kind: "prog" | "map"): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const left = listIds(real, kind).filter((id) => created[kind].has(id));
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("program arrays, maps of maps and pins in the running kernel", needsKernel, () => {
  before(() => {
    pinRoot = mkdtempSync("/sys/fs/bpf/tsbpf-mapvalues-");
  });
  after(() => rmSync(pinRoot, { recursive: true, force: true }));

  it("the tail call set up by .values is taken; the inner map found through the outer map counts; slots change from JS", async () => {
    const session = new Session(sys);
    try {
      const obj = session.loadFile(fixturePath("mapvalues"), { pinRoot });
      assert.deepEqual(obj.warnings, []);
      assert.equal(run(obj), 42, "entry tail-calls tail_one (42); without the tail call it returns 7");
      // entry counted in the inner map at outer[1]: in2, read back directly and through the outer map's slot.
      assert.equal(openMap(obj, "in2").get(0), 1);
      assert.equal(openMap(obj, "in1").get(0), 0);
      const outer = openMap<number, number>(obj, "outer");
      assert.deepEqual([...outer.entries()], [
        [0, mapId(obj, "in1")],
        [1, mapId(obj, "in2")],
      ]);
      const jmp = openMap<number, number>(obj, "jmp");
      assert.deepEqual([...jmp.entries()], [
        [1, progId(obj, "tail_one")],
        [3, progId(obj, "tail_two")],
      ]);
      // Slots written from JS take fds: the tail call follows them.
      jmp.delete(1);
      assert.equal(run(obj), 7);
      jmp.set(1, obj.program("tail_two").fd);
      assert.equal(run(obj), 43);
      assert.equal(openMap(obj, "in2").get(0), 3);
      const empty = openMap<Uint8Array, number>(obj, "jmp_empty");
      assert.deepEqual([...empty.entries()], []);
      empty.set(new Uint8Array([1, 0, 0, 0]), obj.program("tail_one").fd);
      assert.equal(empty.get(new Uint8Array([1, 0, 0, 0])), progId(obj, "tail_one"));
      // A hash of maps takes maps shaped like its inner definition, and refuses others.
      const hash = openMap<number, number>(obj, "outer_hash");
      const fits = sys.mapCreate({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 8 });
      const differs = sys.mapCreate({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 8 });
      try {
        hash.set(7, fits);
        assert.equal(hash.get(7), sys.mapInfo(fits).id);
        assert.throws(() => hash.set(8, differs), /EINVAL/);
      } finally {
        sys.close(fits);
        sys.close(differs);
      }
    } finally {
      await session.close();
      rmSync(PIN(), { force: true });
    }
    assert.deepEqual(await stillAlive("prog"), [], "programs left alive");
    assert.deepEqual(await stillAlive("map"), [], "maps left alive (inner templates included)");
  });

  it("a map pinned by name outlives the load, is reused by the next one, and goes once its pin is removed", async () => {
    const fds = openFdCount();
    const first = new Session(sys);
    let id: number;
    try {
      const obj = first.loadFile(fixturePath("mapvalues"), { pinRoot });
      assert.deepEqual([obj.map("tsbpf_pinned_runs").pinPath, obj.map("tsbpf_pinned_runs").reused], [PIN(), false]);
      id = mapId(obj, "tsbpf_pinned_runs");
      run(obj);
    } finally {
      await first.close();
    }
    assert.ok(existsSync(PIN()), "the pin stays after close");
    const second = new Session(sys);
    try {
      const obj = second.loadFile(fixturePath("mapvalues"), { pinRoot });
      assert.equal(obj.map("tsbpf_pinned_runs").reused, true);
      assert.equal(mapId(obj, "tsbpf_pinned_runs"), id);
      assert.equal(openMap(obj, "tsbpf_pinned_runs").get(0), 1, "the first load's count is still there");
      run(obj);
      assert.equal(openMap(obj, "tsbpf_pinned_runs").get(0), 2);
    } finally {
      await second.close();
    }
    assert.equal(openFdCount(), fds, "fds left open (the reused pin's included)");
    assert.ok(listIds(real, "map").includes(id), "pinned: alive without any fd");
    rmSync(PIN());
    assert.deepEqual(await stillAlive("map"), [], "maps left alive once unpinned");
    assert.deepEqual(await stillAlive("prog"), []);
  });

  it("a pin that differs from the definition is refused, saying what differs and how to remove it", async () => {
    const fds = openFdCount();
    const other = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 3, name: "not_runs" });
    try {
      real.objPin(other, PIN());
    } finally {
      sys.close(other);
    }
    const session = new Session(sys);
    try {
      assert.throws(
        () => session.loadFile(fixturePath("mapvalues"), { pinRoot }),
        (e: unknown) =>
          e instanceof LoadError &&
          e.message ===
            `map tsbpf_pinned_runs is pinned by name (LIBBPF_PIN_BY_NAME) at ${PIN()}, but the map pinned there differs from the definition (value_size 4 there, 8 here; max_entries 3 there, 1 here); remove the pin (rm ${PIN()}) to create the map afresh, or rename the map`,
      );
    } finally {
      await session.close();
      rmSync(PIN());
    }
    assert.equal(openFdCount(), fds, "fds left open by the refused load");
    assert.deepEqual(await stillAlive("map"), []);
    assert.deepEqual(await stillAlive("prog"), []);
  });
});

describe("tsbpf load with a program array and a map of maps", needsKernel, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tsbpf-tailcall-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("prints the tail program's printk line, and the slots by name at exit", async () => {
    const { child, stdout, stderr, jsonLines, exited, until } = startCli(["load", fixturePath("tailcall"), "--json", "--duration", "60"]);
    try {
      await until(() => stderr().includes("streaming bpf_printk output"), "tsbpf load never started streaming");
      assert.match(stderr(), /loaded tail_printk without attaching it/);
      let seen = false;
      for (let attempt = 0; attempt < 3 && !seen; attempt++) {
        const path = join(dir, `tail-${attempt}`);
        writeFileSync(path, "x");
        assert.equal(spawnSync("rm", [path]).status, 0);
        const found = () => jsonLines().some((o) => String(o.message).startsWith("tsbpf-tail pid=") && String(o.message).endsWith(`name=${path}`));
        for (const deadline = Date.now() + 5000; !(seen = found()) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(seen, `no printk line from the tail program; stdout: ${stdout().slice(0, 500)}`);
      child.kill("SIGINT");
      assert.equal(await exited, 0, stderr());
      const maps = new Map(jsonLines().filter((o) => "entries" in o).map((o) => [o.map, o.entries as { key: unknown; value: Record<string, unknown> }[]]));
      assert.deepEqual(maps.get("jmp")!.map((e) => [e.key, e.value.program, typeof e.value.id]), [[0, "tail_printk", "number"]]);
      assert.deepEqual(maps.get("outer")!.map((e) => [e.key, e.value.map, typeof e.value.id]), [[0, "counts", "number"]]);
      assert.ok(Number(maps.get("counts")![0]!.value) >= 1, "the tail program counted through the map of maps");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
