// Name lookups of compiler/btf/parse.ts: the string section is searched for the offsets holding a name, then type
// records are matched by name offset. A name offset may point anywhere in the section (into another string's tail),
// and CO-RE's essential-name lookup also takes `name___flavour`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { BtfBuilder, BtfIntEncoding, BtfKind, parseBtf } from "../../compiler/btf/index.js";

test("finds types by name, by essential name, and through a name offset into another string's tail", () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const task = b.add({ kind: BtfKind.STRUCT, name: "task", size: 4, members: [{ name: "pid", type: int, bitOffset: 0, bitfieldSize: 0 }] });
  const flavour = b.add({ kind: BtfKind.STRUCT, name: "task___old", size: 4, members: [{ name: "pid", type: int, bitOffset: 0, bitfieldSize: 0 }] });
  const long = b.add({ kind: BtfKind.TYPEDEF, name: "my_task", type: int });
  const tail = b.add({ kind: BtfKind.TYPEDEF, name: "unrelated", type: int });
  const bytes = Buffer.from(b.toBytes());
  // Point the last typedef's name at "task" inside "my_task" (offset + 3): a tail-shared name.
  const strStart = 24 + bytes.readUInt32LE(16);
  const at = bytes.indexOf(Buffer.from("my_task\0"), strStart) - strStart;
  const typeStart = 24 + bytes.readUInt32LE(8);
  const unrelated = bytes.indexOf(Buffer.from("unrelated\0"), strStart) - strStart;
  for (let p = typeStart; p < strStart; p += 4) if (bytes.readUInt32LE(p) === unrelated) bytes.writeUInt32LE(at + 3, p);
  const btf = parseBtf(bytes);
  assert.deepEqual(btf.findIdsByName("task"), [task, tail]);
  assert.deepEqual(btf.findIdsByName("task", BtfKind.STRUCT), [task]);
  assert.deepEqual(btf.findIdsByEssentialName("task", BtfKind.STRUCT), [task, flavour]);
  assert.deepEqual(btf.findIdsByName("my_task"), [long]);
  assert.deepEqual(btf.findIdsByName("missing"), []);
  assert.equal(btf.nameOf(tail), "task");
});
