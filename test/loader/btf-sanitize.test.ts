// BTF for older kernels without a kernel: every kind a kernel may lack rewritten as libbpf rewrites it, with type
// ids and string offsets kept and the result still parsing; the probes asked once per Sys; and loadObject on a
// FakeSys that plays a kernel without the newer kinds.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BtfBuilder, BtfKind, parseBtf, type Btf } from "../../compiler/btf/index.js";
import { BpfLoadError, Errno, FakeSys, type BtfLoadOptions, type ProgLoadOptions, type ProgLoadResult } from "../../runtime/sys/index.js";
import { BTF_FEATURES, btfFeaturesUsed, btfForKernel, kernelHasBtfFeature, loadObject, openObject, sanitizeBtf, type BtfFeature } from "../../runtime/loader/index.js";
import { fixture, needsClang } from "./support.js";

const FEATURES = Object.keys(BTF_FEATURES) as BtfFeature[];
const none = (): Record<BtfFeature, boolean> => Object.fromEntries(FEATURES.map((f) => [f, false])) as Record<BtfFeature, boolean>;

/** One type of every kind the rewriter touches, with the awkward cases: unnamed and variadic parameters, DATASEC variables out of offset order. */
function everyKind(): { blob: Uint8Array; ids: Record<string, number> } {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: 1, offset: 0, bits: 32 });
  const float = b.add({ kind: BtfKind.FLOAT, name: "float", size: 4 });
  const signed = b.add({ kind: BtfKind.ENUM, name: "sign", size: 4, signed: true, values: [{ name: "NEG", value: -1 }] });
  const unsigned = b.add({ kind: BtfKind.ENUM, name: "plain", size: 4, signed: false, values: [{ name: "ONE", value: 1 }] });
  const enum64 = b.add({ kind: BtfKind.ENUM64, name: "big", size: 8, signed: false, values: [{ name: "HUGE", value: 1n << 40n }, { name: "HUGER", value: 1n << 41n }] });
  const typeTag = b.add({ kind: BtfKind.TYPE_TAG, name: "user", type: int });
  const ptr = b.add({ kind: BtfKind.PTR, name: "", type: typeTag });
  const proto = b.add({ kind: BtfKind.FUNC_PROTO, name: "", returnType: int, params: [{ name: "ctx", type: ptr }, { name: "", type: int }, { name: "", type: 0 }] });
  const func = b.add({ kind: BtfKind.FUNC, name: "prog", type: proto, linkage: 1 });
  const staticFunc = b.add({ kind: BtfKind.FUNC, name: "helper", type: proto, linkage: 0 });
  const varA = b.add({ kind: BtfKind.VAR, name: "a", type: int, linkage: 1 });
  const varB = b.add({ kind: BtfKind.VAR, name: "b", type: float, linkage: 1 });
  const data = b.add({ kind: BtfKind.DATASEC, name: ".data", size: 8, vars: [{ type: varB, offset: 4, size: 4 }, { type: varA, offset: 0, size: 4 }] });
  const qmark = b.add({ kind: BtfKind.DATASEC, name: "?.struct_ops", size: 0, vars: [] });
  const tagVar = b.add({ kind: BtfKind.DECL_TAG, name: "tag:var", type: varA, componentIdx: -1 });
  const tagParam = b.add({ kind: BtfKind.DECL_TAG, name: "tag:param", type: func, componentIdx: 0 });
  const tagFunc = b.add({ kind: BtfKind.DECL_TAG, name: "tag:func", type: func, componentIdx: -1 });
  const struct = b.add({ kind: BtfKind.STRUCT, name: "s", size: 16, members: [{ name: "x", type: float, bitOffset: 0, bitfieldSize: 0 }, { name: "y", type: enum64, bitOffset: 64, bitfieldSize: 0 }] });
  const ids = { int, float, signed, unsigned, enum64, typeTag, ptr, proto, func, staticFunc, varA, varB, data, qmark, tagVar, tagParam, tagFunc, struct };
  return { blob: b.toBytes(), ids };
}

/** The raw 32-bit words of a type's record. */
function record(btf: Btf, id: number): number[] {
  const at = btf.recordOffset(id);
  const end = id + 1 < btf.typeCount ? btf.recordOffset(id + 1) : typeEnd(btf);
  const dv = new DataView(btf.bytes.buffer, btf.bytes.byteOffset, btf.bytes.byteLength);
  const out: number[] = [];
  for (let p = at; p < end; p += 4) out.push(dv.getUint32(p, btf.littleEndian));
  return out;
}
const typeEnd = (btf: Btf): number => {
  const dv = new DataView(btf.bytes.buffer, btf.bytes.byteOffset, btf.bytes.byteLength);
  return dv.getUint32(4, true) + dv.getUint32(8, true) + dv.getUint32(12, true);
};
const strings = (btf: Btf): Uint8Array => {
  const dv = new DataView(btf.bytes.buffer, btf.bytes.byteOffset, btf.bytes.byteLength);
  const start = dv.getUint32(4, true) + dv.getUint32(16, true);
  return btf.bytes.subarray(start, start + dv.getUint32(20, true));
};

describe("sanitizeBtf", () => {
  const { blob, ids } = everyKind();
  const before = parseBtf(blob);

  it("needs nothing on a kernel that has everything: the blob comes back as it is", () => {
    const out = sanitizeBtf(blob, {});
    assert.equal(out.bytes, blob);
    assert.deepEqual(out.rewritten, []);
    assert.deepEqual([...btfFeaturesUsed(before)].sort(), [...FEATURES].sort());
  });

  it("rewrites every kind for a kernel with none of them, keeping ids and string offsets", () => {
    const { bytes, rewritten } = sanitizeBtf(blob, none());
    // Global linkage goes with FUNC itself, the '?' name with DATASEC.
    assert.deepEqual(rewritten, ["func", "datasec", "float", "declTag", "typeTag", "enum64"]);
    const after = parseBtf(bytes);
    // One type appended (the ENUM64 placeholder); the old strings are a prefix of the new ones.
    assert.equal(after.typeCount, before.typeCount + 1);
    const oldStrings = strings(before);
    assert.deepEqual(strings(after).subarray(0, oldStrings.length), oldStrings);
    const t = (id: number) => after.typeById(id);
    // Untouched kinds keep their records word for word.
    for (const id of [ids.int, ids.unsigned, ids.ptr]) assert.deepEqual(record(after, id), record(before, id));
    assert.deepEqual(t(ids.float), { kind: BtfKind.STRUCT, id: ids.float, name: "", size: 4, kindFlag: false, members: [] });
    assert.deepEqual(t(ids.signed), { kind: BtfKind.ENUM, id: ids.signed, name: "sign", size: 4, signed: false, values: [{ name: "NEG", value: 0xffffffff }] });
    const placeholder = after.typeCount - 1;
    assert.deepEqual(t(placeholder), { kind: BtfKind.INT, id: placeholder, name: "enum64_placeholder", size: 1, encoding: 0, offset: 0, bits: 8 });
    assert.deepEqual(t(ids.enum64), {
      kind: BtfKind.UNION,
      id: ids.enum64,
      name: "big",
      size: 8,
      kindFlag: false,
      members: ["HUGE", "HUGER"].map((name) => ({ name, type: placeholder, bitOffset: 0, bitfieldSize: 0 })),
    });
    assert.deepEqual(t(ids.typeTag), { kind: BtfKind.CONST, id: ids.typeTag, name: "", type: ids.int });
    // FUNC_PROTO: an ENUM of its parameters, each named (the kernel refuses unnamed enum values).
    assert.deepEqual(t(ids.proto), {
      kind: BtfKind.ENUM,
      id: ids.proto,
      name: "",
      size: 4,
      signed: false,
      values: [
        { name: "ctx", value: ids.ptr },
        { name: "param", value: ids.int },
        { name: "param", value: 0 },
      ],
    });
    assert.deepEqual(t(ids.func), { kind: BtfKind.TYPEDEF, id: ids.func, name: "prog", type: ids.proto });
    assert.deepEqual(t(ids.staticFunc), { kind: BtfKind.TYPEDEF, id: ids.staticFunc, name: "helper", type: ids.proto });
    for (const [id, name] of [[ids.varA, "a"], [ids.varB, "b"], [ids.tagVar, "tag:var"], [ids.tagParam, "tag:param"], [ids.tagFunc, "tag:func"]] as const) {
      assert.deepEqual(t(id), { kind: BtfKind.INT, id, name, size: 1, encoding: 0, offset: 0, bits: 8 });
    }
    // DATASEC: a STRUCT named as an identifier, its variables as members in offset order.
    assert.deepEqual(t(ids.data), {
      kind: BtfKind.STRUCT,
      id: ids.data,
      name: "_data",
      size: 8,
      kindFlag: false,
      members: [
        { name: "a", type: ids.varA, bitOffset: 0, bitfieldSize: 0 },
        { name: "b", type: ids.varB, bitOffset: 32, bitfieldSize: 0 },
      ],
    });
    assert.equal(t(ids.qmark).name, "__struct_ops");
    assert.deepEqual(record(after, ids.struct), record(before, ids.struct));
  });

  it("rewrites only what each missing feature needs", () => {
    const changed = (f: BtfFeature): number[] => {
      const { bytes, rewritten } = sanitizeBtf(blob, { [f]: false });
      assert.deepEqual(rewritten, [f], f);
      const after = parseBtf(bytes);
      const out: number[] = [];
      for (let id = 1; id < before.typeCount; id++) if (record(after, id).join() !== record(before, id).join()) out.push(id);
      return out;
    };
    assert.deepEqual(changed("func"), [ids.proto, ids.func, ids.staticFunc, ids.tagParam]);
    assert.deepEqual(changed("datasec"), [ids.varA, ids.varB, ids.data, ids.qmark, ids.tagVar]);
    assert.deepEqual(changed("globalFunc"), [ids.func]);
    assert.deepEqual(changed("float"), [ids.float]);
    assert.deepEqual(changed("declTag"), [ids.tagVar, ids.tagParam, ids.tagFunc]);
    assert.deepEqual(changed("typeTag"), [ids.typeTag]);
    assert.deepEqual(changed("enum64"), [ids.signed, ids.enum64]);
    assert.deepEqual(changed("qmarkDatasec"), [ids.qmark]);
    assert.equal(parseBtf(sanitizeBtf(blob, { globalFunc: false }).bytes).typeById(ids.func).kind, BtfKind.FUNC);
  });

  it("keeps the byte order of a big-endian blob", () => {
    const b = new BtfBuilder({ littleEndian: false });
    const f = b.add({ kind: BtfKind.FLOAT, name: "double", size: 8 });
    const e = b.add({ kind: BtfKind.ENUM64, name: "e", size: 8, signed: true, values: [{ name: "V", value: -2n }] });
    const after = parseBtf(sanitizeBtf(b.toBytes(), none()).bytes);
    assert.equal(after.littleEndian, false);
    assert.equal(after.typeById(f).kind, BtfKind.STRUCT);
    assert.equal(after.sizeOf(e), 8);
    assert.equal(after.nameOf(after.typeCount - 1), "enum64_placeholder");
  });
});

/** A FakeSys whose BTF_BTF_LOAD refuses, as an older kernel would, blobs with kinds it does not know. */
class OldKernelSys extends FakeSys {
  btfLoads = 0;
  /** Whether each program went in with func info, and with a BTF fd. */
  readonly programs: { funcInfo: boolean; btf: boolean }[] = [];
  constructor(private readonly lacks: (btf: Btf) => boolean) {
    super();
  }
  override btfLoad(o: BtfLoadOptions): ProgLoadResult {
    this.btfLoads++;
    if (this.lacks(parseBtf(o.data))) throw new BpfLoadError("BPF_BTF_LOAD", Errno.EINVAL, "[1] Invalid kind\n");
    return super.btfLoad(o);
  }
  override progLoad(o: ProgLoadOptions): ProgLoadResult {
    this.programs.push({ funcInfo: o.funcInfo !== undefined, btf: o.btfFd !== undefined });
    return super.progLoad(o);
  }
}

/** Linux 5.4: BTF functions and DATASECs, nothing newer. */
const linux54 = (btf: Btf): boolean =>
  [...btf.types()].some((t) => t.kind === BtfKind.FLOAT || t.kind === BtfKind.DECL_TAG || t.kind === BtfKind.TYPE_TAG || t.kind === BtfKind.ENUM64 || (t.kind === BtfKind.ENUM && t.signed) || (t.kind === BtfKind.FUNC && t.linkage !== 0) || (t.kind === BtfKind.DATASEC && t.name.startsWith("?")));

describe("probing the kernel's BTF features", () => {
  it("a kernel that refuses even the rewritten BTF gets the object without it, and the warning names what was rewritten", needsClang, () => {
    // Probes pass, so nothing is known to be missing but what the caller says; the blob itself is refused.
    const sys = new OldKernelSys((btf) => btf.typeCount > 8);
    const obj = loadObject(sys, openObject(fixture("btfkinds"), { name: "kinds" }), { btfFeatures: { float: false } });
    try {
      assert.equal(obj.btfFd, undefined);
      assert.deepEqual(obj.btfRewritten, []);
      assert.deepEqual(sys.programs, [{ funcInfo: false, btf: false }]);
      assert.match(obj.warnings.join("\n"), /the kernel refused the object's BTF \(\[1\] Invalid kind\) even with FLOAT \(Linux 5\.13\) rewritten for it; loading without it/);
    } finally {
      obj.close();
    }
  });

  it("asks once per Sys and only for the features the blob uses", () => {
    const sys = new OldKernelSys(linux54);
    const { blob } = everyKind();
    const first = btfForKernel(sys, blob);
    assert.equal(sys.btfLoads, FEATURES.length);
    assert.deepEqual(first.rewritten, ["globalFunc", "float", "declTag", "typeTag", "enum64", "qmarkDatasec"]);
    assert.equal(linux54(parseBtf(first.bytes)), false);
    btfForKernel(sys, blob);
    assert.equal(sys.btfLoads, FEATURES.length);
    assert.equal(kernelHasBtfFeature(sys, "datasec"), true);
    assert.equal(kernelHasBtfFeature(sys, "enum64"), false);
    // Overrides answer without asking; a blob of INTs needs no probe at all.
    const forced = btfForKernel(new OldKernelSys(() => false), blob, Object.fromEntries(FEATURES.map((f) => [f, false])));
    assert.ok(forced.rewritten.includes("func"));
    const quiet = new OldKernelSys(() => false);
    const b = new BtfBuilder();
    b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: 1, offset: 0, bits: 32 });
    assert.deepEqual(btfForKernel(quiet, b.toBytes()).rewritten, []);
    assert.equal(quiet.btfLoads, 0);
  });

  it("loadObject on a 5.4-like kernel loads the rewritten BTF with func and line info, and no warnings", needsClang, () => {
    const sys = new OldKernelSys(linux54);
    const obj = loadObject(sys, openObject(fixture("btfkinds"), { name: "kinds" }));
    try {
      assert.deepEqual(obj.warnings, []);
      assert.ok(obj.btfFd !== undefined);
      assert.deepEqual(obj.btfRewritten, ["globalFunc", "float", "declTag", "typeTag", "enum64"]);
      assert.deepEqual(sys.programs, [{ funcInfo: true, btf: true }]);
    } finally {
      obj.close();
    }
  });

  it("without BTF functions the programs go without func and line info, and a warning says so", needsClang, () => {
    const sys = new OldKernelSys((btf) => [...btf.types()].some((t) => t.kind === BtfKind.FUNC || t.kind === BtfKind.FUNC_PROTO) || linux54(btf));
    const obj = loadObject(sys, openObject(fixture("btfkinds"), { name: "kinds" }));
    try {
      assert.ok(obj.btfFd !== undefined);
      assert.ok(obj.btfRewritten.includes("func"));
      assert.deepEqual(sys.programs, [{ funcInfo: false, btf: false }]);
      assert.equal(obj.warnings.length, 1);
      assert.match(obj.warnings[0]!, /no FUNC and FUNC_PROTO \(Linux 5\.0\): programs load without func and line info/);
    } finally {
      obj.close();
    }
  });
});
