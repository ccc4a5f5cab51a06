// Fuzzing the parsers: 1,000 mutations (fixed seed) of an emitted BTF blob and of a .BTF.ext; every
// one must either parse (and then survive decoding every type, naming it, sizing it, and resolving
// a CO-RE relocation) or fail with BtfError - never a RangeError, TypeError or a hang.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  BtfBuilder,
  BtfError,
  BtfExtBuilder,
  BtfIntEncoding,
  BtfKind,
  CoreReloKind,
  parseBtf,
  parseBtfExt,
  resolveCoreRelo,
  type Btf,
} from "../../compiler/btf/index.js";
import { Prng } from "../support/prng.js";

function seedBlobs(): { btf: Uint8Array; ext: Uint8Array } {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const idx = b.add({ kind: BtfKind.INT, name: "__ARRAY_SIZE_TYPE__", size: 4, encoding: 0, offset: 0, bits: 32 });
  const arr = b.add({ kind: BtfKind.ARRAY, name: "", type: int, indexType: idx, nelems: 4 });
  const s = b.reserve();
  const p = b.add({ kind: BtfKind.PTR, name: "", type: s });
  const c = b.add({ kind: BtfKind.CONST, name: "", type: p });
  const td = b.add({ kind: BtfKind.TYPEDEF, name: "thing_t", type: s });
  b.set(s, {
    kind: BtfKind.STRUCT,
    name: "thing",
    size: 32,
    members: [
      { name: "a", type: int, bitOffset: 0, bitfieldSize: 0 },
      { name: "bits", type: int, bitOffset: 32, bitfieldSize: 5 },
      { name: "arr", type: arr, bitOffset: 64, bitfieldSize: 0 },
      { name: "next", type: c, bitOffset: 192, bitfieldSize: 0 },
    ],
  });
  b.add({ kind: BtfKind.ENUM, name: "e", size: 4, signed: false, values: [{ name: "A", value: 1 }, { name: "B", value: 2 }] });
  b.add({ kind: BtfKind.ENUM64, name: "e64", size: 8, signed: true, values: [{ name: "C", value: -5n }] });
  const proto = b.add({ kind: BtfKind.FUNC_PROTO, name: "", returnType: int, params: [{ name: "t", type: p }, { name: "", type: 0 }] });
  const fn = b.add({ kind: BtfKind.FUNC, name: "f", type: proto, linkage: 1 });
  const v = b.add({ kind: BtfKind.VAR, name: "v", type: td, linkage: 1 });
  b.add({ kind: BtfKind.DATASEC, name: ".data", size: 32, vars: [{ type: v, offset: 0, size: 32 }] });
  b.add({ kind: BtfKind.FLOAT, name: "float", size: 4 });
  b.add({ kind: BtfKind.DECL_TAG, name: "tag", type: s, componentIdx: 1 });
  b.add({ kind: BtfKind.TYPE_TAG, name: "user", type: int });
  b.add({ kind: BtfKind.FWD, name: "fwd", union: true });
  const e = new BtfExtBuilder(b);
  e.addFuncInfo("prog", 0, fn);
  e.addLineInfo("prog", 0, "a.ts", "x", 1, 2);
  e.addLineInfo("prog", 8, "a.ts", "y", 2, 3);
  e.addCoreRelo("prog", 8, s, "0:2:1", CoreReloKind.FIELD_BYTE_OFFSET);
  const ext = e.toBytes();
  return { btf: b.toBytes(), ext };
}

function mutate(rng: Prng, src: Uint8Array): Uint8Array {
  let out = src.slice();
  const n = 1 + rng.below(4);
  for (let i = 0; i < n; i++) {
    const what = rng.below(6);
    if (what === 0 && out.length > 1) {
      out = out.slice(0, rng.below(out.length)); // truncate
    } else if (what === 1) {
      out[rng.below(out.length)] = rng.below(256); // random byte
    } else if (what === 2) {
      out[rng.below(out.length)]! ^= 1 << rng.below(8); // bit flip
    } else if (what === 3 && out.length >= 4) {
      // an interesting 32-bit word at an aligned place (headers, ids, counts, offsets)
      const at = rng.below(out.length >> 2) << 2;
      const words = [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 0xffff, 0x10000, out.length, rng.u32()];
      new DataView(out.buffer).setUint32(at, words[rng.below(words.length)]!, true);
    } else if (what === 4) {
      const extra = new Uint8Array(rng.below(16));
      for (let j = 0; j < extra.length; j++) extra[j] = rng.below(256);
      const merged = new Uint8Array(out.length + extra.length);
      merged.set(out);
      merged.set(extra, out.length);
      out = merged;
    } else if (out.length >= 16) {
      // header fields are where most length arithmetic lives
      new DataView(out.buffer).setUint32(4 + (rng.below(6) << 2), rng.below(out.length * 2), true);
    }
  }
  return out;
}

function exercise(btf: Btf): void {
  for (let id = 0; id < btf.typeCount; id++) {
    const t = btf.typeById(id);
    btf.typeName(id);
    btf.resolve(id);
    try {
      btf.sizeOf(id);
    } catch (e) {
      if (!(e instanceof BtfError)) throw e;
    }
    try {
      btf.alignOf(id);
    } catch (e) {
      if (!(e instanceof BtfError)) throw e;
    }
    if (t.kind === BtfKind.STRUCT || t.kind === BtfKind.UNION) btf.findMember(id, "next");
    if (t.name) btf.findByName(t.name);
    if (id > 0) {
      const r = resolveCoreRelo(btf, { typeId: id, access: "0:2:1", kind: CoreReloKind.FIELD_BYTE_OFFSET }, btf);
      assert.equal(typeof r.ok, "boolean");
    }
  }
}

test("1,000 mutated BTF blobs parse or fail with BtfError", () => {
  const rng = new Prng(0xb7f);
  const { btf } = seedBlobs();
  let parsed = 0;
  let refused = 0;
  for (let i = 0; i < 1000; i++) {
    const bytes = mutate(rng, btf);
    try {
      exercise(parseBtf(bytes));
      parsed++;
    } catch (e) {
      if (!(e instanceof BtfError)) assert.fail(`mutation ${i}: ${(e as Error).stack}`);
      refused++;
    }
  }
  assert.ok(parsed > 50 && refused > 50, `parsed ${parsed}, refused ${refused}`);
});

test("1,000 mutated .BTF.ext blobs parse or fail with BtfError", () => {
  const rng = new Prng(0xe47);
  const { btf, ext } = seedBlobs();
  const base = parseBtf(btf);
  let parsed = 0;
  for (let i = 0; i < 1000; i++) {
    const bytes = mutate(rng, ext);
    try {
      parseBtfExt(bytes, { btf: base });
      parsed++;
    } catch (e) {
      if (!(e instanceof BtfError)) assert.fail(`mutation ${i}: ${(e as Error).stack}`);
    }
  }
  assert.ok(parsed > 50, `parsed ${parsed}`);
});
