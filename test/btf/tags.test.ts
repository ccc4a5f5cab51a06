// compiler/btf/tags.ts's map tags: a record type the tag names is found in the same BTF, or named as missing.

import { test } from "node:test";
import assert from "node:assert/strict";
import { BtfBuilder, BtfIntEncoding, BtfKind, BtfVarLinkage, mapTags, parseBtf } from "../../compiler/btf/index.js";

function taggedVar(tag: string, withStruct: boolean): { btf: ReturnType<typeof parseBtf>; id: number } {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  if (withStruct) b.add({ kind: BtfKind.STRUCT, name: "ev", size: 4, members: [{ name: "pid", type: int, bitOffset: 0, bitfieldSize: 0 }] });
  const variable = b.add({ kind: BtfKind.VAR, name: "events", type: int, linkage: BtfVarLinkage.GLOBAL_ALLOCATED });
  b.add({ kind: BtfKind.DECL_TAG, name: tag, type: variable, componentIdx: -1 });
  return { btf: parseBtf(b.toBytes()), id: variable };
}

test("an event tag's record type is found in the same BTF, or named as missing (clang drops types used only through pointers)", () => {
  const found = taggedVar("tsbpf:event=struct ev", true);
  const tags = mapTags(found.btf, found.id);
  assert.equal(found.btf.typeById(tags.event!).name, "ev");
  assert.equal(tags.missingEvent, undefined);
  const missing = taggedVar("tsbpf:event=struct ev", false);
  assert.deepEqual(mapTags(missing.btf, missing.id), { event: undefined, missingEvent: "struct ev" });
});
