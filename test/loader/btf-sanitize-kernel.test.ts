// BTF rewritten for older kernels, loaded into the running one: clang fixtures (one with FLOAT, DECL_TAG,
// TYPE_TAG, ENUM64, a signed enum and a global sub-program) and tsbpf-compiled examples, each loaded with every
// BTF feature marked missing and with each one alone. The kernel must take the rewritten BTF, the programs with
// their func and line info (none without BTF functions), and the maps with their key and value types.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSys } from "../../runtime/sys/index.js";
import { BTF_FEATURES, loadObject, mapBtfTypes, openObject, type BtfFeature, type BtfFeatures, type LoadedObject } from "../../runtime/loader/index.js";
import { fixture, needsKernel, readU64 } from "./support.js";

const sys = openSys();
const FEATURES = Object.keys(BTF_FEATURES) as BtfFeature[];
const CONFIGS: [string, Partial<BtfFeatures>][] = [["none", Object.fromEntries(FEATURES.map((f) => [f, false]))], ...FEATURES.map((f): [string, Partial<BtfFeatures>] => [`no ${f}`, { [f]: false }])];

async function objects(): Promise<[string, Uint8Array][]> {
  const { compile } = await import("../../compiler/index.js");
  const tsbpf = (name: string): [string, Uint8Array] => [`examples/${name}.ts`, compile(`examples/${name}.ts`).object];
  return [...["tracepoint", "uprobe", "core", "btfkinds"].map((n): [string, Uint8Array] => [`${n}.bpf.c`, fixture(n)]), tsbpf("execsnoop"), tsbpf("latency")];
}

/** Checks what the kernel holds for a loaded object; gives how many maps' BTF types were checked. */
function checkLoaded(obj: LoadedObject, features: Partial<BtfFeatures>, what: string): number {
  const funcInfo = features.func !== false;
  assert.ok(obj.btfFd !== undefined, `${what}: BTF refused: ${obj.warnings.join("; ")}`);
  assert.deepEqual(obj.warnings.length, funcInfo ? 0 : 1, `${what}: ${obj.warnings.join("; ")}`);
  const btfId = sys.btfInfo(obj.btfFd).id;
  for (const p of obj.programs.values()) {
    const info = sys.progInfo(p.fd);
    if (funcInfo) {
      assert.equal(info.btfId, btfId, `${what}: ${p.name} BTF`);
      assert.ok(info.nrFuncInfo > 0 && info.nrLineInfo > 0, `${what}: ${p.name} has ${info.nrFuncInfo} func and ${info.nrLineInfo} line info`);
    } else {
      assert.equal(info.btfId, 0, `${what}: ${p.name} BTF`);
      assert.equal(info.nrFuncInfo, 0);
    }
  }
  let typed = 0;
  for (const m of obj.maps.values()) {
    const types = mapBtfTypes(obj.spec, m.spec);
    if (!types || types.value === undefined || (types.key === undefined && !types.variables)) continue;
    const info = sys.mapInfo(m.fd);
    // Before DATASEC the kernel has no keyless value types: global data goes without BTF.
    if (m.spec.origin === "data" && features.datasec === false) {
      assert.equal(info.btfValueTypeId, 0, `${what}: map ${m.name} value type`);
      typed++;
      continue;
    }
    assert.equal(info.btfId, btfId, `${what}: map ${m.name} BTF`);
    assert.equal(info.btfValueTypeId, types.value, `${what}: map ${m.name} value type`);
    assert.equal(info.btfKeyTypeId, types.key ?? 0, `${what}: map ${m.name} key type`);
    typed++;
  }
  return typed;
}

describe("BTF rewritten for older kernels, in the running kernel", needsKernel, () => {
  it("every object loads with each missing feature and with none of them", async () => {
    let typed = 0;
    for (const [name, bytes] of await objects()) {
      for (const [config, btfFeatures] of CONFIGS) {
        const obj = loadObject(sys, openObject(bytes, { name: "btfsan" }), { btfFeatures });
        try {
          typed += checkLoaded(obj, btfFeatures, `${name}, ${config}`);
        } finally {
          obj.close();
        }
      }
    }
    // Data maps in every object, BTF-defined ones in uprobe, btfkinds and latency.
    assert.ok(typed >= 9 * 6, `${typed} maps with BTF types checked`);
  });

  it("with no feature at all, map values are still described by the rewritten types (bpftool decodes them)", () => {
    const none = CONFIGS[0]![1];
    const obj = loadObject(sys, openObject(fixture("btfkinds"), { name: "btfsan" }), { btfFeatures: none });
    try {
      const samples = obj.map("samples");
      const value = new Uint8Array(40);
      new DataView(value.buffer).setBigUint64(0, 42n, true);
      sys.mapUpdate(samples.fd, new Uint8Array(4), value);
      const dump = spawnSync("bpftool", ["-j", "map", "dump", "id", String(sys.mapInfo(samples.fd).id)], { encoding: "utf8" });
      assert.equal(dump.status, 0, dump.stderr);
      const [entry] = JSON.parse(dump.stdout) as { formatted: { key: number; value: Record<string, unknown> } }[];
      assert.equal(entry!.formatted.key, 0);
      assert.equal(entry!.formatted.value.count, 42);
      assert.deepEqual(Object.keys(entry!.formatted.value), ["count", "ratio", "big", "sign", "where"]);
      // The DATASEC of .data is a struct of its variables now.
      const btf = spawnSync("bpftool", ["btf", "dump", "id", String(sys.btfInfo(obj.btfFd!).id)], { encoding: "utf8" });
      assert.equal(btf.status, 0, btf.stderr);
      assert.match(btf.stdout, /STRUCT '_data' size=16 vlen=2\n\t'scale' type_id=\d+ bits_offset=0\n\t'big_seen' type_id=\d+ bits_offset=64/);
      assert.match(btf.stdout, /UNION 'big' size=8 vlen=2/);
      assert.match(btf.stdout, /TYPEDEF 'twice' type_id=\d+/);
    } finally {
      obj.close();
    }
  });

  it("a program loaded with every feature rewritten away still runs: the tracepoint counts an rm", () => {
    const obj = loadObject(sys, openObject(fixture("tracepoint"), { name: "btfsan" }), { btfFeatures: CONFIGS[0]![1] });
    try {
      obj.attachAll();
      const before = readU64(obj.variable("hits"));
      const path = join(tmpdir(), `tsbpf-btfsan-${process.pid}`);
      writeFileSync(path, "x");
      const r = spawnSync("rm", [path]);
      assert.equal(r.status, 0);
      assert.ok(readU64(obj.variable("hits")) > before);
    } finally {
      obj.close();
    }
  });
});
