// BTF codecs on the types clang wrote for the fixture: struct members by name, integers as numbers or
// bigints, char arrays as strings, nested structs and arrays, bitfields, global data sections, and encoding
// back to the same bytes. Needs clang-19 only (no kernel).

import { test } from "node:test";
import assert from "node:assert/strict";
import { BtfBuilder, BtfIntEncoding, BtfKind, parseBtf, type Btf } from "../../compiler/btf/index.js";
import { CodecError, codecFor, decodeBtf, encodeBtf, mapBtfTypes, objectBtf, openObject, variablesCodec } from "../../runtime/loader/index.js";
import { CLANG, expectedEvent, fixture } from "./support.js";

const needsClang = { skip: CLANG ? false : "clang-19 is missing" };
const btfOf = (): Btf => objectBtf(openObject(fixture("streams"), { name: "streams" }))!;
const idOf = (btf: Btf, name: string, kind: number = BtfKind.STRUCT): number => btf.find(name, kind)!.id;

test("struct event: names, integer widths and signs, strings, nested struct, arrays, bitfields, u64 beyond 2^53", needsClang, () => {
  const btf = btfOf();
  const codec = codecFor(btf, idOf(btf, "event"));
  assert.equal(codec.size, 64);
  assert.equal(codec.typeName, "struct event");
  const e = expectedEvent(5);
  const bytes = codec.encode(e);
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getBigUint64(0, true), 5n);
  assert.equal(dv.getInt32(12, true), -5);
  assert.equal(new TextDecoder().decode(bytes.subarray(16, 27)), "tsbpf-event");
  assert.equal(bytes[27], 0);
  assert.equal(dv.getUint16(32, true), 8080);
  assert.equal(bytes[48]! & 7, 5, "lo: bits 0-2 of the word at 48");
  assert.equal(bytes[48]! >> 3, 17, "hi: bits 3-7");
  assert.equal(dv.getBigUint64(56, true), 0xfedcba9876543210n);
  assert.deepEqual(codec.decode(bytes), e);
  // At an offset inside a bigger buffer too.
  const padded = new Uint8Array(100);
  codec.encodeInto(e, padded, 20);
  assert.deepEqual(codec.decode(padded, 20), e);
});

test("int64 'bigint' makes every 8-byte integer a bigint; 'auto' only those beyond 53 bits", needsClang, () => {
  const btf = btfOf();
  const id = idOf(btf, "event");
  const bytes = encodeBtf(btf, id, expectedEvent(7));
  assert.equal((decodeBtf(btf, id, bytes) as { seq: unknown }).seq, 7);
  const wide = decodeBtf(btf, id, bytes, { int64: "bigint" }) as { seq: unknown; kind: unknown };
  assert.equal(wide.seq, 7n);
  assert.equal(wide.kind, 1, "4-byte integers stay numbers");
  const big = encodeBtf(btf, id, { seq: 2n ** 60n + 1n });
  assert.equal((decodeBtf(btf, id, big) as { seq: unknown }).seq, 2n ** 60n + 1n);
});

test("strings: truncated to leave a NUL, UTF-8 both ways, read up to the first NUL", needsClang, () => {
  const btf = btfOf();
  const key = codecFor(btf, idOf(btf, "key"));
  assert.equal(key.size, 16);
  const b = key.encode({ kind: 2, name: "a-very-long-name" });
  assert.equal(b[4 + 11], 0, "the last byte stays NUL");
  assert.deepEqual(key.decode(b), { kind: 2, name: "a-very-long" });
  assert.deepEqual(key.decode(key.encode({ kind: 1, name: "héllo" })), { kind: 1, name: "héllo" });
  const raw = key.encode({ name: "ab" });
  raw[7] = 0x7a; // bytes after the NUL do not count
  assert.equal((key.decode(raw) as { name: string }).name, "ab");
  assert.deepEqual(key.decode(key.encode({})), { kind: 0, name: "" }, "members not given are zero");
});

test("global data: a section decodes to its variables by name, at their ELF symbol offsets", needsClang, () => {
  const spec = openObject(fixture("streams"), { name: "streams" });
  const btf = objectBtf(spec)!;
  const map = spec.maps.find((m) => m.name === ".bss")!;
  const types = mapBtfTypes(spec, map)!;
  assert.deepEqual(
    types.variables!.map((v) => [v.name, v.offset]),
    [["seq_counter", 0], ["event_type", 8]],
  );
  const bss = variablesCodec(btf, types.variables!, map.valueSize);
  const bytes = bss.encode({ seq_counter: 42, event_type: 0x1000 });
  assert.equal(new DataView(bytes.buffer).getBigUint64(8, true), 0x1000n);
  assert.deepEqual(bss.decode(bytes), { seq_counter: 42, event_type: 0x1000 });
});

test("errors name the path of the bad value and the buffer too short", needsClang, () => {
  const btf = btfOf();
  const codec = codecFor(btf, idOf(btf, "event"));
  assert.throws(() => codec.encode({ inner: { port: "x" } }), (e: unknown) => e instanceof CodecError && /struct event\.inner\.port: expected an integer/.test(e.message));
  assert.throws(() => codec.encode({ arr: [1, 2, 3, 4] }), /struct event\.arr: 4 elements for an array of 3/);
  assert.throws(() => codec.decode(new Uint8Array(10)), /needs 64 bytes/);
  assert.throws(() => codecFor(btf, idOf(btf, "rb_output", BtfKind.FUNC)), CodecError);
});

test("8-byte integers at the edges of 53 bits: numbers up to 2^53 - 1 in magnitude, bigints beyond, signed and unsigned", () => {
  const b = new BtfBuilder();
  const u64 = b.add({ kind: BtfKind.INT, name: "u64", size: 8, encoding: 0, offset: 0, bits: 64 });
  const s64 = b.add({ kind: BtfKind.INT, name: "s64", size: 8, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 64 });
  const btf = parseBtf(b.toBytes());
  const roundTrip = (id: number, v: bigint) => {
    const c = codecFor(btf, id);
    return c.decode(c.encode(v));
  };
  const max = 2n ** 53n - 1n;
  for (const [v, want] of [[max, Number(max)], [max + 1n, max + 1n], [0xffffffffn, 0xffffffff], [2n ** 64n - 1n, 2n ** 64n - 1n]] as const) assert.equal(roundTrip(u64, v), want, `u64 ${v}`);
  for (const [v, want] of [[-max, -Number(max)], [-max - 1n, -max - 1n], [-1n, -1], [-(2n ** 32n), -(2 ** 32)], [-(2n ** 63n), -(2n ** 63n)], [max, Number(max)]] as const) assert.equal(roundTrip(s64, v), want, `s64 ${v}`);
});

test("an enum reads as its enumerator's name (the first of two sharing a value), a value no enumerator has as the number; names write back", () => {
  const b = new BtfBuilder();
  const reason = b.add({ kind: BtfKind.ENUM, name: "reason", size: 4, signed: false, values: [{ name: "R_NONE", value: 0 }, { name: "R_NO_SOCKET", value: 3 }, { name: "R_ALIAS", value: 3 }, { name: "R_HIGH", value: -2 }] });
  const signed = b.add({ kind: BtfKind.ENUM64, name: "wide", size: 8, signed: true, values: [{ name: "W_NEG", value: -5n }] });
  const btf = parseBtf(b.toBytes());
  const codec = codecFor(btf, reason);
  const u32 = (v: number) => new Uint8Array(new Uint32Array([v]).buffer);
  assert.equal(codec.decode(u32(3)), "R_NO_SOCKET");
  assert.equal(codec.decode(u32(0xfffffffe)), "R_HIGH", "BTF's value -2 is 0xfffffffe of an unsigned enum");
  assert.equal(codec.decode(u32(9)), 9);
  assert.deepEqual(codec.encode("R_NO_SOCKET"), u32(3));
  assert.equal(codecFor(btf, signed).decode(new Uint8Array(new BigInt64Array([-5n]).buffer)), "W_NEG");
});

test("a record longer than its struct gives a flexible array member the bytes past the struct: chars as a string, other elements as many as fit", () => {
  const b = new BtfBuilder();
  const u32 = b.add({ kind: BtfKind.INT, name: "unsigned int", size: 4, encoding: 0, offset: 0, bits: 32 });
  const u16 = b.add({ kind: BtfKind.INT, name: "short unsigned int", size: 2, encoding: 0, offset: 0, bits: 16 });
  const char = b.add({ kind: BtfKind.INT, name: "char", size: 1, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 8 });
  const chars = b.add({ kind: BtfKind.ARRAY, name: "", type: char, indexType: u32, nelems: 0 });
  const shorts = b.add({ kind: BtfKind.ARRAY, name: "", type: u16, indexType: u32, nelems: 0 });
  const text = b.add({ kind: BtfKind.STRUCT, name: "text", size: 4, members: [{ name: "len", type: u32, bitOffset: 0, bitfieldSize: 0 }, { name: "data", type: chars, bitOffset: 32, bitfieldSize: 0 }] });
  const nums = b.add({ kind: BtfKind.STRUCT, name: "nums", size: 4, members: [{ name: "n", type: u32, bitOffset: 0, bitfieldSize: 0 }, { name: "vals", type: shorts, bitOffset: 32, bitfieldSize: 0 }] });
  const btf = parseBtf(b.toBytes());
  const record = new Uint8Array([8, 0, 0, 0, ...new TextEncoder().encode("tailtai"), 0, 0xee]);
  const textCodec = codecFor(btf, text);
  assert.deepEqual(textCodec.decode(record), { len: 8, data: "" }, "decode() reads the struct alone");
  assert.deepEqual(textCodec.decodeRecord(record, 0, 12), { len: 8, data: "tailtai" });
  assert.deepEqual(textCodec.decodeRecord(record, 0, 4), { len: 8, data: "" });
  // 5 bytes past the struct: two whole u16 elements.
  assert.deepEqual(codecFor(btf, nums).decodeRecord(new Uint8Array([2, 0, 0, 0, 1, 0, 2, 0, 3]), 0, 9), { n: 2, vals: [1, 2] });
});
