// C values laid out by BTF: JS values into the bytes of a struct, array or integer, and back.
// Takes BTF sources searched in order (the running kernel's vmlinux, then the probe's own BTF) and
// a type name; gives TypeRefs, `encodeValue` (JS object -> bytes, bitfields included) and
// `decodeValue` (bytes -> numbers, bigints, booleans, strings, objects, arrays) for memory, maps and globals.

import { BtfIntEncoding, BtfKind, BUF_STRUCT_PREFIX, INET_STRUCT, MACADDR_STRUCT, PROBE_TYPEDEF, type Btf, type BtfType } from "../../compiler/btf/index.js";
import { probeId, probeName } from "../loader/probe-names.js";
import { isStringChar } from "../loader/decode.js";
import { taggedStructBytes, taggedStructText } from "../../compiler/ir/printf.js";
import { usage } from "./errors.js";
import { shown } from "./check.js";

/** Something that is an address: a pointer handed out by the simulated kernel, or a raw number. */
export interface HasAddress {
  readonly address: bigint;
}

/** What a test may write into C memory. Strings fill char arrays (or become strings a pointer points at). */
export type CValue = number | bigint | boolean | string | Uint8Array | HasAddress | readonly CValue[] | { readonly [field: string]: CValue };

/** What reading C memory gives: integers up to 32 bits as numbers, 64-bit ones and pointers as bigints, `_Bool` as booleans. */
export type Decoded = number | bigint | boolean | string | Uint8Array | Decoded[] | { [field: string]: Decoded };

/** A type found by name in one BTF. */
export interface TypeRef {
  readonly btf: Btf;
  readonly id: number;
  /** As asked for ("filename", "struct task_struct", "u64"). */
  readonly name: string;
  readonly size: number;
}

export interface BtfSource {
  /** Where the types come from, for messages ("kernel BTF /sys/kernel/btf/vmlinux"). */
  label: string;
  /** The BTF, or undefined when it is not available (then the reason is in `missing`). */
  get(): Btf | undefined;
  missing?(): string | undefined;
}

const SEARCH_KINDS = [BtfKind.STRUCT, BtfKind.UNION, BtfKind.TYPEDEF, BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64];

/** Looks `name` up in each source in turn; "struct x" / "union x" narrow the kind. */
export function findType(sources: readonly BtfSource[], name: string): TypeRef {
  const m = /^(struct|union|enum)\s+(\S+)$/.exec(name.trim());
  const bare = m ? m[2]! : name.trim();
  const kinds = m ? (m[1] === "struct" ? [BtfKind.STRUCT] : m[1] === "union" ? [BtfKind.UNION] : [BtfKind.ENUM, BtfKind.ENUM64]) : SEARCH_KINDS;
  const searched: string[] = [];
  for (const source of sources) {
    const btf = source.get();
    if (!btf) {
      searched.push(`${source.label} (${source.missing?.() ?? "not available"})`);
      continue;
    }
    searched.push(source.label);
    for (const kind of kinds) {
      const ids = btf.findIdsByName(bare, kind);
      // A forward declaration has no layout; BTF keeps those as FWD, so any hit here is complete.
      if (ids.length) return { btf, id: ids[0]!, name, size: btf.sizeOf(ids[0]!) };
    }
  }
  // The compiler writes to the object's BTF the interfaces its maps, events and parameters hold; one only read with
  // readUser<T>() or readKernel<T>() has no BTF of its own.
  throw usage(
    `no type ${name} in ${searched.join(" or ") || "any BTF"}; the probe's BTF holds the interfaces its maps and events use (one only read with readUser<T>() is not among them: use it in a map or an event, or lay the bytes out yourself), or pass a BTF file with simulate(..., { btf })`,
  );
}

const isAddress = (v: unknown): v is HasAddress => typeof v === "object" && v !== null && typeof (v as HasAddress).address === "bigint";

const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;

/** A JS scalar as the 64-bit pattern C would store. */
export function toU64(v: CValue, where: string, pointer = false): bigint {
  if (typeof v === "bigint") {
    if (v < INT64_MIN || v > UINT64_MAX) throw usage(`${where}: ${v}n does not fit in 64 bits`);
    return BigInt.asUintN(64, v);
  }
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw usage(`${where}: ${v} is not an integer`);
    // Beyond 2^53 a number is already rounded (and beyond 2^64 it does not fit at all): the test meant a bigint.
    if (!Number.isSafeInteger(v)) throw usage(`${where}: ${v} is past 2^53, where numbers are not exact; pass a bigint (such as ${BigInt(v)}n)`);
    return BigInt.asUintN(64, BigInt(v));
  }
  if (typeof v === "boolean") return v ? 1n : 0n;
  if (isAddress(v)) return BigInt.asUintN(64, v.address);
  // Where a pointer may go (a register, a tracepoint field), a C string is its address: the test places the text first.
  const place = pointer && typeof v === "string" ? "; a string is passed by its address: place it with sim.kernel.userString(s) (user memory) or sim.kernel.string(s) (kernel memory) and pass that pointer" : "";
  throw usage(`${where}: expected a number, bigint or pointer, got ${describe(v)}${place}`);
}

/**
 * Throws when an integer fits a `size`-byte spot neither as signed nor as unsigned (300 for a u8, 2^33 for a u32): a
 * test's value is not silently cut to its low bytes. -1 for an unsigned spot is its largest value, as in C.
 */
export function checkFits(v: CValue, size: number, where: string): void {
  if (size < 8 && !fitsBits(v, size * 8)) throw usage(`${where}: ${v} does not fit in ${size} byte${size === 1 ? "" : "s"}`);
}

/** Whether an integer fits `bits` bits as signed or as unsigned (anything else is not an integer to check here). */
function fitsBits(v: CValue, bits: number): boolean {
  if (typeof v === "number") return v >= -(2 ** (bits - 1)) && v < 2 ** bits;
  if (typeof v === "bigint") return v >= -(1n << BigInt(bits - 1)) && v < 1n << BigInt(bits);
  return true;
}

/** A _Bool holds 0 or 1 only (tsbpf run --set refuses 2 alike): anything else would read back as neither. */
export function checkBool(value: CValue, type: string, where: string): void {
  if (typeof value === "boolean" || value === 0 || value === 1 || value === 0n || value === 1n) return;
  throw usage(`${where} is of type ${type}: give it true or false, not ${typeof value === "bigint" ? `${value}n` : typeof value === "number" ? value : describe(value)}`);
}

/** A value as a message shows it: a string as one, a number as itself (`got 5`, not `got number`). */
function describe(v: unknown): string {
  return typeof v === "string" ? `the string ${shown(v)}` : shown(v);
}

function writeInt(bytes: Uint8Array, off: number, size: number, value: bigint): void {
  for (let i = 0; i < size; i++) bytes[off + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

function readInt(bytes: Uint8Array, off: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[off + i]!);
  return v;
}

export interface EncodeContext {
  /** Turns a string into memory a `char *` member can point at (kernel or user, as the owner is). */
  string?(s: string): HasAddress;
}

/** Writes `value` as type `id` at `bytes[off..]`; `where` names the spot in messages ("filename.name"). */
export function encodeValue(btf: Btf, id: number, value: CValue, bytes: Uint8Array, off: number, where: string, ctx: EncodeContext = {}): void {
  // probe()'s id, given as the probe's name (`sim.map("calls").get("tracepoint:syscalls:sys_enter_read")`).
  if (typeof value === "string" && isProbeNameType(btf, id)) value = BigInt(probeId(value));
  const t = btf.resolveType(id);
  const size = t.kind === BtfKind.UNKN ? 0 : btf.sizeOf(t.id);
  if (value instanceof Uint8Array) {
    if (value.length > size) throw usage(`${where}: ${value.length} bytes do not fit ${btf.typeName(id)} (${size} bytes)`);
    bytes.set(value, off);
    return;
  }
  switch (t.kind) {
    case BtfKind.INT:
    case BtfKind.ENUM:
    case BtfKind.ENUM64:
      if (typeof value === "string" && t.kind !== BtfKind.INT) {
        const e = t.values.find((x) => x.name === value);
        if (!e) throw usage(`${where}: ${value} is not a value of ${btf.typeName(id)} (${t.values.map((x) => x.name).join(", ")})`);
        writeInt(bytes, off, t.size, BigInt.asUintN(64, BigInt(e.value)));
        return;
      }
      if (t.kind === BtfKind.INT && t.encoding & BtfIntEncoding.BOOL) checkBool(value, t.name, where);
      checkFits(value, t.size, where);
      writeInt(bytes, off, t.size, toU64(value, where));
      return;
    case BtfKind.PTR:
      if (typeof value === "string") {
        if (!ctx.string) throw usage(`${where}: a pointer needs an address; allocate the string with sim.kernel.string()`);
        writeInt(bytes, off, 8, ctx.string(value).address);
        return;
      }
      writeInt(bytes, off, 8, toU64(value, where));
      return;
    case BtfKind.ARRAY: {
      const elem = btf.resolveType(t.type);
      const esize = btf.sizeOf(t.type);
      if (typeof value === "string") {
        // As decoding reads them, and tsbpf run --set: only a `char` array is a string, a u8 (unsigned char) array numbers.
        if (!isStringChar(elem)) throw usage(`${where}: a string only fills a char array, not ${btf.typeName(id)}: give its elements as numbers`);
        const s = new TextEncoder().encode(value);
        if (s.length > t.nelems) throw usage(`${where}: "${value}" is ${s.length} bytes, ${btf.typeName(id)} holds ${t.nelems}`);
        bytes.set(s, off);
        bytes.fill(0, off + s.length, off + t.nelems);
        return;
      }
      if (!Array.isArray(value)) {
        const expected = isStringChar(elem) ? `a string of at most ${t.nelems} bytes` : "an array";
        throw usage(`${where}: expected ${expected} for ${btf.typeName(id)} (or a Uint8Array of its bytes), got ${describe(value)}`);
      }
      if (value.length > t.nelems) throw usage(`${where}: ${value.length} elements do not fit ${btf.typeName(id)}`);
      value.forEach((v, i) => encodeValue(btf, t.type, v, bytes, off + i * esize, `${where}[${i}]`, ctx));
      return;
    }
    case BtfKind.STRUCT:
    case BtfKind.UNION: {
      // macaddr(), ntop() and buf() values, given as the text they print as.
      if (typeof value === "string" && t.kind === BtfKind.STRUCT && taggedStructText(t.name, new Uint8Array(size)) !== undefined) {
        const text = taggedStructBytes(t.name, size, value);
        if (!text) throw usage(`${where}: ${JSON.stringify(value)} is not ${t.name === MACADDR_STRUCT ? "a MAC address (52:54:00:12:34:56)" : t.name === INET_STRUCT ? "an IPv4 or IPv6 address (127.0.0.1, ::1)" : `at most ${t.name.slice(BUF_STRUCT_PREFIX.length)} bytes (\\x0a for a byte written so)`}`);
        bytes.set(text, off);
        return;
      }
      if (typeof value !== "object" || value === null || Array.isArray(value) || isAddress(value)) {
        throw usage(`${where}: expected an object of fields for ${btf.typeName(id)}, got ${describe(value)}`);
      }
      for (const [field, v] of Object.entries(value as Record<string, CValue>)) {
        const found = btf.findMember(t.id, field);
        if (!found) {
          const names = t.members.map((m) => m.name || "(anonymous)").slice(0, 12).join(", ");
          throw usage(`${where}: ${btf.typeName(id)} has no member ${field} (members: ${names}${t.members.length > 12 ? ", ..." : ""})`);
        }
        const m = found.member;
        const at = `${where}.${field}`;
        if (m.bitfieldSize > 0) {
          // A value wider than the bitfield would lose its high bits silently, as other integers do not.
          if (!fitsBits(v, m.bitfieldSize)) throw usage(`${at}: ${v} does not fit in ${m.bitfieldSize} bit${m.bitfieldSize === 1 ? "" : "s"}`);
          writeBits(bytes, off, found.bitOffset, m.bitfieldSize, toU64(v, at));
        }
        else if (found.bitOffset % 8) throw usage(`${at}: member is not byte-aligned`);
        else encodeValue(btf, m.type, v, bytes, off + found.bitOffset / 8, at, ctx);
      }
      return;
    }
    default:
      throw usage(`${where}: cannot write a value of ${btf.typeName(id)}; pass its bytes as a Uint8Array`);
  }
}

function writeBits(bytes: Uint8Array, base: number, bitOffset: number, bits: number, value: bigint): void {
  const first = base + Math.floor(bitOffset / 8);
  const shift = BigInt(bitOffset % 8);
  const n = Math.ceil((Number(shift) + bits) / 8);
  const mask = ((1n << BigInt(bits)) - 1n) << shift;
  const old = readInt(bytes, first, n);
  writeInt(bytes, first, n, (old & ~mask) | ((value << shift) & mask));
}

function readBits(bytes: Uint8Array, base: number, bitOffset: number, bits: number, signed: boolean): number | bigint {
  const first = base + Math.floor(bitOffset / 8);
  const shift = BigInt(bitOffset % 8);
  const n = Math.ceil((Number(shift) + bits) / 8);
  const raw = (readInt(bytes, first, n) >> shift) & ((1n << BigInt(bits)) - 1n);
  const v = signed ? BigInt.asIntN(bits, raw) : raw;
  return bits <= 32 ? Number(v) : v;
}

/** probe()'s `tsbpf_probe` typedef (compiler/btf/tags.ts), through qualifiers: read as the probe's name. */
function isProbeNameType(btf: Btf, id: number): boolean {
  for (let t = btf.typeById(id), hops = 0; hops < 16; hops++) {
    if (t.kind === BtfKind.TYPEDEF && t.name === PROBE_TYPEDEF) return true;
    if (t.kind !== BtfKind.TYPEDEF && t.kind !== BtfKind.CONST && t.kind !== BtfKind.VOLATILE && t.kind !== BtfKind.RESTRICT && t.kind !== BtfKind.TYPE_TAG) return false;
    t = btf.typeById(t.type);
  }
  return false;
}

/** Reads type `id` at `bytes[off..]` as a JS value. */
export function decodeValue(btf: Btf, id: number, bytes: Uint8Array, off = 0): Decoded {
  if (isProbeNameType(btf, id)) {
    const n = Number(readInt(bytes, off, 8));
    return probeName(n) ?? `probe#${n}`;
  }
  const t = btf.resolveType(id);
  switch (t.kind) {
    case BtfKind.INT: {
      const signed = (t.encoding & BtfIntEncoding.SIGNED) !== 0;
      const raw = readInt(bytes, off, t.size);
      if (t.encoding & BtfIntEncoding.BOOL) return raw !== 0n;
      const v = signed ? BigInt.asIntN(t.size * 8, raw) : raw;
      return t.size <= 4 ? Number(v) : v;
    }
    case BtfKind.ENUM:
    case BtfKind.ENUM64: {
      // By its enumerator's name where it has one, as runtime/loader/decode.ts reads an enum for tsbpf run.
      const raw = readInt(bytes, off, t.size);
      const named = t.values.find((x) => BigInt.asUintN(t.size * 8, BigInt(x.value)) === raw);
      if (named) return named.name;
      const v = t.signed ? BigInt.asIntN(t.size * 8, raw) : raw;
      return t.size <= 4 ? Number(v) : v;
    }
    case BtfKind.PTR:
      return readInt(bytes, off, 8);
    case BtfKind.ARRAY: {
      const elem = btf.resolveType(t.type);
      // Decoded as tsbpf run and events() decode it: only `char` arrays are strings, so a u8 array stays numbers.
      if (isStringChar(elem)) {
        const s = bytes.subarray(off, off + t.nelems);
        const nul = s.indexOf(0);
        return new TextDecoder().decode(nul < 0 ? s : s.subarray(0, nul));
      }
      const esize = btf.sizeOf(t.type);
      return Array.from({ length: t.nelems }, (_, i) => decodeValue(btf, t.type, bytes, off + i * esize));
    }
    case BtfKind.STRUCT:
    case BtfKind.UNION: {
      // macaddr(), ntop() and buf() values read as the text printf writes for them.
      const text = t.kind === BtfKind.STRUCT ? taggedStructText(t.name, bytes.subarray(off, off + t.size)) : undefined;
      if (text !== undefined) return text;
      const out: { [field: string]: Decoded } = {};
      for (const m of t.members) {
        if (m.bitfieldSize > 0) {
          const mt = btf.resolveType(m.type);
          const signed = (mt.kind === BtfKind.INT && (mt.encoding & BtfIntEncoding.SIGNED) !== 0) || ((mt.kind === BtfKind.ENUM || mt.kind === BtfKind.ENUM64) && mt.signed);
          out[m.name] = readBits(bytes, off, m.bitOffset, m.bitfieldSize, signed);
          continue;
        }
        const v = decodeValue(btf, m.type, bytes, off + m.bitOffset / 8);
        // Members of anonymous structs and unions read as the outer struct's own, as in C.
        if (m.name === "" && typeof v === "object" && !(v instanceof Uint8Array) && !Array.isArray(v)) Object.assign(out, v);
        else out[m.name] = v;
      }
      return out;
    }
    default: {
      const size = t.kind === BtfKind.UNKN ? 0 : btf.sizeOf(t.id);
      return bytes.slice(off, off + size);
    }
  }
}

/** Bytes of a plain scalar without BTF: 1-4 bytes as a number, 8 as a bigint, others as bytes. */
export function decodeScalar(bytes: Uint8Array): number | bigint | Uint8Array {
  if (bytes.length === 8) return readInt(bytes, 0, 8);
  if (bytes.length === 1 || bytes.length === 2 || bytes.length === 4) return Number(readInt(bytes, 0, bytes.length));
  return bytes.slice();
}

/** A scalar or bytes into `size` bytes without BTF (map keys and values of maps declared without types). */
export function encodeScalar(value: CValue, size: number, where: string): Uint8Array {
  if (value instanceof Uint8Array) {
    if (value.length !== size) throw usage(`${where}: ${value.length} bytes given, ${size} expected`);
    return value.slice();
  }
  if (size > 8) throw usage(`${where}: the type is ${size} bytes and the object has no BTF for it; pass a Uint8Array`);
  const out = new Uint8Array(size);
  checkFits(value, size, where);
  writeInt(out, 0, size, toU64(value, where));
  return out;
}
