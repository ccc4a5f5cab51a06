// Bytes from the kernel (ring buffer records, perf samples, map keys and values) to JS values and back, driven
// by a BTF type. Takes a `Btf` and a type id; gives a `Codec` built once per type (a tree of closures, so
// decoding a stream of events does no type lookups).
//
// Mapping: structs and unions become objects keyed by member name (anonymous struct/union members are merged
// into their parent, as C lets you name their fields directly); integers become numbers when the value fits
// in 53 bits and bigints otherwise (per value, so a u64 counter reads as a number until it grows; option
// `int64: "bigint"` makes every 8- and 16-byte integer a bigint); `_Bool` a boolean; `char` arrays strings up
// to the first NUL (UTF-8); other arrays JS arrays; enums their numeric value; floats numbers; pointers
// integers; a DATASEC (global data) an object keyed by variable name. Bitfields are read and written in place. A
// record longer than its struct (`decodeRecord`) gives a last member that is a flexible array the bytes past it.

import { BtfIntEncoding, BtfKind, KSYM_TYPEDEF, PROBE_TYPEDEF, type Btf, type BtfType } from "../../compiler/btf/index.js";
import { ksymName } from "./symbolize.js";
import { strftimeText, taggedStructBytes, taggedStructText, type ArgNames } from "../../compiler/ir/printf.js";
import { HOST_BOOT_CLOCK } from "./boot-clock.js";
import { probeId, probeName } from "./probe-names.js";

/** A `char` (by name or CHAR encoding): arrays of it are strings. `unsigned char` arrays (u8, bytes) are numbers. */
export function isStringChar(t: BtfType): boolean {
  return t.kind === BtfKind.INT && t.size === 1 && (t.name === "char" || (t.encoding & BtfIntEncoding.CHAR) !== 0);
}

export interface CodecOptions {
  /** How 8- and 16-byte integers decode: "auto" (default) number when safe else bigint, or always "bigint". */
  int64?: "auto" | "bigint";
  /**
   * How strftime() values decode: "host" (default) as tsbpf run writes them, by this host's clock, or "ns", their
   * nanoseconds since boot as a decimal string (the simulator's, which has no boot of its own).
   */
  times?: "host" | "ns";
}

export interface Codec {
  /** The type's size in bytes. */
  readonly size: number;
  /** The C name of the type. */
  readonly typeName: string;
  /** Decodes the type at `offset` of `bytes` (which must hold `size` bytes from there). */
  decode(bytes: Uint8Array, offset?: number): unknown;
  /**
   * Decodes a record of `length` bytes (at least `size`) at `offset`: a struct whose last member is a flexible array
   * (`char data[]`, `__u32 vals[]`) has it hold what the record has past the struct, as many whole elements as fit
   * (a char array up to its first NUL); any other type decodes as `decode` does.
   */
  decodeRecord(bytes: Uint8Array, offset: number, length: number): unknown;
  /** A fresh `size`-byte buffer holding `value`; members or elements not given are zero. */
  encode(value: unknown): Uint8Array;
  /** Writes `value` into `out` at `offset`. */
  encodeInto(value: unknown, out: Uint8Array, offset?: number): void;
}

export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CodecError";
  }
}

interface Node {
  size: number;
  read(dv: DataView, bytes: Uint8Array, off: number): unknown;
  write(dv: DataView, bytes: Uint8Array, off: number, value: unknown, path: string): void;
  /** A struct's last member when it is a flexible array: its name, offset and element, to read past `size`. */
  flexible?: { name: string; off: number; elem: Node | "char" };
}

const MAX_DEPTH = 64;
const cache = new WeakMap<Btf, Map<string, Codec>>();

/** The codec for `typeId` in `btf` (built once per BTF, type and options). */
export function codecFor(btf: Btf, typeId: number, options: CodecOptions = {}): Codec {
  const key = `${typeId}:${options.int64 ?? "auto"}:${options.times ?? "host"}`;
  let perBtf = cache.get(btf);
  if (!perBtf) cache.set(btf, (perBtf = new Map()));
  let codec = perBtf.get(key);
  if (!codec) {
    codec = wrap(new Builder(btf, options).build(typeId, 0), btf.typeName(typeId));
    perBtf.set(key, codec);
  }
  return codec;
}

/** One global variable: its name, BTF type and byte offset in its section. */
export interface VariableLayout {
  name: string;
  type: number;
  offset: number;
}

/**
 * A codec for a global data section given its variables' real offsets: clang writes DATASEC offsets as 0
 * in objects (libbpf fixes them from the ELF symbols), so a DATASEC from an object is decoded this way.
 */
export function variablesCodec(btf: Btf, vars: readonly VariableLayout[], size: number, options: CodecOptions = {}): Codec {
  const b = new Builder(btf, options);
  const node = b.variables(vars.map((v) => ({ name: v.name, off: v.offset, node: b.build(v.type, 1) })), size);
  return wrap(node, `section of ${vars.map((v) => v.name).join(", ") || "nothing"}`);
}

function wrap(node: Node, typeName: string): Codec {
  let lastBytes: Uint8Array | undefined;
  let lastView: DataView | undefined;
  const decode = (bytes: Uint8Array, offset = 0): unknown => {
    if (offset < 0 || offset + node.size > bytes.length) throw new CodecError(`${typeName} needs ${node.size} bytes at offset ${offset}, the buffer has ${bytes.length}`);
    // A stream decodes record after record from one buffer (a ring's data area): one DataView serves them all.
    if (bytes !== lastBytes) {
      lastBytes = bytes;
      lastView = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    }
    return node.read(lastView!, bytes, offset);
  };
  return {
    size: node.size,
    typeName,
    decode,
    decodeRecord(bytes, offset, length) {
      const flex = node.flexible;
      const value = decode(bytes, offset);
      if (!flex || length <= flex.off) return value;
      const n = Math.min(length, bytes.length - offset) - flex.off;
      const at = offset + flex.off;
      const elem = flex.elem;
      let tail: unknown;
      if (elem === "char") tail = stringNode(n).read(lastView!, bytes, at);
      else {
        const items: unknown[] = [];
        for (let i = 0; elem.size > 0 && (i + 1) * elem.size <= n; i++) items.push(elem.read(lastView!, bytes, at + i * elem.size));
        tail = items;
      }
      (value as Record<string, unknown>)[flex.name] = tail;
      return value;
    },
    encode(value) {
      const out = new Uint8Array(node.size);
      node.write(new DataView(out.buffer), out, 0, value, typeName);
      return out;
    },
    encodeInto(value, out, offset = 0) {
      if (offset < 0 || offset + node.size > out.length) throw new CodecError(`${typeName} needs ${node.size} bytes at offset ${offset}, the buffer has ${out.length}`);
      node.write(new DataView(out.buffer, out.byteOffset, out.length), out, offset, value, typeName);
    },
  };
}

/** Decodes `bytes` as BTF type `typeId`. */
export function decodeBtf(btf: Btf, typeId: number, bytes: Uint8Array, options?: CodecOptions): unknown {
  return codecFor(btf, typeId, options).decode(bytes);
}

/** Encodes `value` as BTF type `typeId`. */
export function encodeBtf(btf: Btf, typeId: number, value: unknown, options?: CodecOptions): Uint8Array {
  return codecFor(btf, typeId, options).encode(value);
}

// ---------------------------------------------------------------- integers

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function toInteger(value: unknown, path: string): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "boolean") return value ? 1n : 0n;
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  if (value === undefined || value === null) return 0n;
  throw new CodecError(`${path}: expected an integer, got ${typeof value === "number" ? value : typeof value}`);
}

function toNumber(value: unknown, path: string): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value === undefined || value === null) return 0;
  throw new CodecError(`${path}: expected a number, got ${typeof value}`);
}

/**
 * `value` as `bits` bits: refused when it fits neither as signed nor as unsigned (300 for a u8, 2^33 for a u32), so a
 * value too large is an error rather than silently its low bits; -1 for an unsigned field is its largest value, as in C.
 */
function fitting(value: bigint, bits: number, path: string): bigint {
  const n = BigInt(bits);
  if (value < -(1n << (n - 1n)) || value >= 1n << n) throw new CodecError(`${path}: ${value} does not fit in ${bits} bits`);
  return BigInt.asUintN(bits, value);
}

/** Reads `bits` bits at bit `bitOff` from byte `off` (little-endian), sign-extended when `signed`. */
function readBits(bytes: Uint8Array, off: number, bitOff: number, bits: number, signed: boolean): bigint {
  const start = off + (bitOff >> 3);
  const shift = bitOff & 7;
  const n = (shift + bits + 7) >> 3;
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[start + i]!);
  v = (v >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
  return signed ? BigInt.asIntN(bits, v) : v;
}

function writeBits(bytes: Uint8Array, off: number, bitOff: number, bits: number, value: bigint): void {
  const start = off + (bitOff >> 3);
  const shift = BigInt(bitOff & 7);
  const n = ((bitOff & 7) + bits + 7) >> 3;
  let word = 0n;
  for (let i = n - 1; i >= 0; i--) word = (word << 8n) | BigInt(bytes[start + i]!);
  const mask = ((1n << BigInt(bits)) - 1n) << shift;
  word = (word & ~mask) | ((BigInt.asUintN(bits, value) << shift) & mask);
  for (let i = 0; i < n; i++) {
    bytes[start + i] = Number(word & 0xffn);
    word >>= 8n;
  }
}

function intNode(size: number, signed: boolean, bigints: boolean, path: string): Node {
  const auto = (v: bigint): number | bigint => (v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v);
  const wide = bigints ? (v: bigint) => v : auto;
  switch (size) {
    case 1:
      return { size, read: (dv, _b, o) => (signed ? dv.getInt8(o) : dv.getUint8(o)), write: (dv, _b, o, v, p) => dv.setUint8(o, Number(fitting(toInteger(v, p), 8, p))) };
    case 2:
      return { size, read: (dv, _b, o) => (signed ? dv.getInt16(o, true) : dv.getUint16(o, true)), write: (dv, _b, o, v, p) => dv.setUint16(o, Number(fitting(toInteger(v, p), 16, p)), true) };
    case 4:
      return { size, read: (dv, _b, o) => (signed ? dv.getInt32(o, true) : dv.getUint32(o, true)), write: (dv, _b, o, v, p) => dv.setUint32(o, Number(fitting(toInteger(v, p), 32, p)), true) };
    case 8:
      return {
        size,
        // Two 32-bit reads and no BigInt while the value fits in 53 bits: the common case, several times faster.
        read: bigints
          ? (dv, _b, o) => (signed ? dv.getBigInt64(o, true) : dv.getBigUint64(o, true))
          : (dv, _b, o) => {
              const hi = signed ? dv.getInt32(o + 4, true) : dv.getUint32(o + 4, true);
              if (hi < 0x200000 && hi > -0x200000) return hi * 0x100000000 + dv.getUint32(o, true);
              return auto(signed ? dv.getBigInt64(o, true) : dv.getBigUint64(o, true));
            },
        write: (dv, _b, o, v, p) => dv.setBigUint64(o, fitting(toInteger(v, p), 64, p), true),
      };
    default:
      if (size <= 0) throw new CodecError(`${path}: integer of ${size} bytes`);
      return {
        size,
        read: (_dv, b, o) => wide(readBits(b, o, 0, size * 8, signed)),
        write: (_dv, b, o, v, p) => writeBits(b, o, 0, size * 8, fitting(toInteger(v, p), size * 8, p)),
      };
  }
}

/**
 * probe()'s id (a `tsbpf_probe`) as the probe's name (probe-names.ts); `probe#N` for an id this process did not give.
 * A name, or the id as a number, encodes back to the id.
 */
function probeNameNode(id: Node): Node {
  return {
    size: id.size,
    read: (dv, b, o) => {
      const n = Number(id.read(dv, b, o));
      return probeName(n) ?? `probe#${n}`;
    },
    write: (dv, b, o, v, p) => id.write(dv, b, o, typeof v === "string" ? (/^probe#\d+$/.test(v) ? Number(v.slice(6)) : probeId(v)) : v, p),
  };
}

/** ksym()'s kernel address (a `tsbpf_ksym`) as the kernel function it is in; written back, a number or bigint. */
function ksymNode(): Node {
  return {
    size: 8,
    read: (dv, _b, o) => ksymName(dv.getBigUint64(o, true)),
    write: (dv, _b, o, v, p) => dv.setBigUint64(o, BigInt.asUintN(64, toInteger(v, p)), true),
  };
}

/** strftime() values in map keys and fields read by this host's clock, as tsbpf run prints them. */
const HOST_CLOCK_NAMES: ArgNames = { strftime: (format, ns) => strftimeText(format, ns, HOST_BOOT_CLOCK) };

/** macaddr()'s, ntop()'s, buf()'s and strftime()'s value as the text printf writes for it; written back, that text or the bytes. */
function taggedNode(name: string, size: number, names: ArgNames): Node {
  return {
    size,
    read: (_dv, b, o) => taggedStructText(name, b.subarray(o, o + size), names),
    write: (_dv, b, o, v, p) => {
      const bytes = typeof v === "string" ? taggedStructBytes(name, size, v) : v instanceof Uint8Array && v.length === size ? v : undefined;
      if (!bytes) throw new CodecError(`${p}: expected the text ${name} prints as, or ${size} bytes`);
      b.set(bytes, o);
    },
  };
}

// ---------------------------------------------------------------- strings

const utf8 = new TextDecoder("utf-8");
const utf8Encoder = new TextEncoder();

function stringNode(size: number): Node {
  return {
    size,
    read(_dv, b, o) {
      let end = o;
      let ascii = true;
      for (; end < o + size && b[end] !== 0; end++) if (b[end]! >= 0x80) ascii = false;
      if (!ascii) return utf8.decode(b.subarray(o, end));
      let s = "";
      for (let i = o; i < end; i++) s += String.fromCharCode(b[i]!);
      return s;
    },
    write(_dv, b, o, v, p) {
      if (v === undefined || v === null) return b.fill(0, o, o + size), undefined;
      const bytes = typeof v === "string" ? utf8Encoder.encode(v) : v instanceof Uint8Array ? v : undefined;
      if (!bytes) throw new CodecError(`${p}: expected a string, got ${typeof v}`);
      // Keep room for the NUL: C code reads these as strings.
      const n = Math.min(bytes.length, typeof v === "string" ? size - 1 : size);
      b.set(bytes.subarray(0, n), o);
      b.fill(0, o + n, o + size);
    },
  };
}

// ---------------------------------------------------------------- building

class Builder {
  private readonly bigints: boolean;
  private readonly names: ArgNames;

  constructor(
    private readonly btf: Btf,
    options: CodecOptions,
  ) {
    this.bigints = options.int64 === "bigint";
    this.names = options.times === "ns" ? {} : HOST_CLOCK_NAMES;
  }

  build(id: number, depth: number): Node {
    if (depth > MAX_DEPTH) throw new CodecError(`type [${id}] nests more than ${MAX_DEPTH} levels`);
    const t = this.btf.typeById(id);
    switch (t.kind) {
      case BtfKind.INT:
        if (t.encoding & BtfIntEncoding.BOOL) {
          const inner = intNode(t.size, false, false, t.name);
          return { size: t.size, read: (dv, b, o) => inner.read(dv, b, o) !== 0, write: inner.write };
        }
        if (t.offset !== 0 || t.bits !== t.size * 8) return this.bitsInStorage(t.size, t.offset, t.bits, (t.encoding & BtfIntEncoding.SIGNED) !== 0);
        return intNode(t.size, (t.encoding & BtfIntEncoding.SIGNED) !== 0, this.bigints, t.name);
      case BtfKind.PTR:
        return intNode(8, false, this.bigints, this.btf.typeName(id));
      case BtfKind.ENUM:
      case BtfKind.ENUM64: {
        const inner = intNode(t.size, t.signed, this.bigints, t.name);
        const byName = new Map<string, number | bigint>(t.values.map((v) => [v.name, v.value]));
        // A value reads as its enumerator's name, as bpftrace prints an enum (the first name where two share a value);
        // one no enumerator has stays a number.
        const bits = t.size * 8;
        const norm = (v: number | bigint) => (t.signed ? BigInt.asIntN(bits, BigInt(v)) : BigInt.asUintN(bits, BigInt(v)));
        const byValue = new Map<bigint, string>();
        for (const v of t.values) if (!byValue.has(norm(v.value))) byValue.set(norm(v.value), v.name);
        return {
          size: t.size,
          read: (dv, b, o) => {
            const v = inner.read(dv, b, o) as number | bigint;
            return byValue.get(norm(v)) ?? v;
          },
          write: (dv, b, o, v, p) => {
            if (typeof v === "string") {
              if (!byName.has(v)) throw new CodecError(`${p}: ${v} is not a value of enum ${t.name || "(anonymous)"}`);
              v = byName.get(v);
            }
            inner.write(dv, b, o, v, p);
          },
        };
      }
      case BtfKind.FLOAT:
        if (t.size === 4) return { size: 4, read: (dv, _b, o) => dv.getFloat32(o, true), write: (dv, _b, o, v, p) => dv.setFloat32(o, toNumber(v, p), true) };
        if (t.size === 8) return { size: 8, read: (dv, _b, o) => dv.getFloat64(o, true), write: (dv, _b, o, v, p) => dv.setFloat64(o, toNumber(v, p), true) };
        return this.rawBytes(t.size);
      case BtfKind.ARRAY:
        return this.array(t.type, t.nelems, depth);
      case BtfKind.STRUCT:
      case BtfKind.UNION:
        if (t.kind === BtfKind.STRUCT && taggedStructText(t.name, new Uint8Array(t.size)) !== undefined) return taggedNode(t.name, t.size, this.names);
        return this.composite(t, depth);
      case BtfKind.DATASEC:
        return this.datasec(t, depth);
      case BtfKind.TYPEDEF:
        if (t.name === PROBE_TYPEDEF) return probeNameNode(this.build(t.type, depth + 1));
        if (t.name === KSYM_TYPEDEF) return ksymNode();
        return this.build(t.type, depth + 1);
      case BtfKind.VOLATILE:
      case BtfKind.CONST:
      case BtfKind.RESTRICT:
      case BtfKind.TYPE_TAG:
      case BtfKind.VAR:
        return this.build(t.type, depth + 1);
      default:
        throw new CodecError(`type [${id}] (${this.btf.typeName(id)}) has no value to decode`);
    }
  }

  private rawBytes(size: number): Node {
    return {
      size,
      read: (_dv, b, o) => b.slice(o, o + size),
      write: (_dv, b, o, v, p) => {
        if (v === undefined || v === null) return b.fill(0, o, o + size), undefined;
        if (!(v instanceof Uint8Array) || v.length !== size) throw new CodecError(`${p}: expected ${size} bytes`);
        b.set(v, o);
      },
    };
  }

  /** A legacy BTF int whose value is `bits` bits at `bitOff` inside `size` bytes of storage. */
  private bitsInStorage(size: number, bitOff: number, bits: number, signed: boolean): Node {
    const wide = this.bigints && bits > 32;
    return {
      size,
      read: (_dv, b, o) => {
        const v = readBits(b, o, bitOff, bits, signed);
        return wide ? v : v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v;
      },
      write: (_dv, b, o, v, p) => writeBits(b, o, bitOff, bits, fitting(toInteger(v, p), bits, p)),
    };
  }

  private isChar(id: number): boolean {
    return isStringChar(this.btf.resolveType(id));
  }

  private array(elemId: number, n: number, depth: number): Node {
    if (this.isChar(elemId)) return stringNode(n);
    const elem = this.build(elemId, depth + 1);
    const es = elem.size;
    return {
      size: es * n,
      read(dv, b, o) {
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = elem.read(dv, b, o + i * es);
        return out;
      },
      write(dv, b, o, v, p) {
        if (v === undefined || v === null) return b.fill(0, o, o + es * n), undefined;
        const items = v as ArrayLike<unknown>;
        if (typeof items !== "object" || typeof items.length !== "number") throw new CodecError(`${p}: expected an array`);
        if (items.length > n) throw new CodecError(`${p}: ${items.length} elements for an array of ${n}`);
        for (let i = 0; i < n; i++) {
          if (i < items.length) elem.write(dv, b, o + i * es, items[i], `${p}[${i}]`);
          else b.fill(0, o + i * es, o + (i + 1) * es);
        }
      },
    };
  }

  private composite(t: Extract<BtfType, { kind: typeof BtfKind.STRUCT | typeof BtfKind.UNION }>, depth: number): Node {
    type Field = { name: string; off: number; node: Node; flatten: boolean };
    const fields: Field[] = [];
    for (const m of t.members) {
      const resolved = this.btf.resolveType(m.type);
      if (m.bitfieldSize > 0 || (m.bitOffset & 7) !== 0) {
        if (m.name === "") continue; // unnamed padding bitfield
        const bits = m.bitfieldSize || this.btf.sizeOf(m.type) * 8;
        const signed = (resolved.kind === BtfKind.INT && (resolved.encoding & BtfIntEncoding.SIGNED) !== 0) || ((resolved.kind === BtfKind.ENUM || resolved.kind === BtfKind.ENUM64) && resolved.signed);
        fields.push({ name: m.name, off: m.bitOffset >> 3, node: this.bitsInStorage(0, m.bitOffset & 7, bits, signed), flatten: false });
        continue;
      }
      const anonymous = m.name === "" && (resolved.kind === BtfKind.STRUCT || resolved.kind === BtfKind.UNION);
      if (m.name === "" && !anonymous) continue;
      fields.push({ name: m.name, off: m.bitOffset >> 3, node: this.build(m.type, depth + 1), flatten: anonymous });
    }
    const size = t.size;
    const typeName = t.name || "(anonymous)";
    // C's flexible array member: the struct's last member, an array of no elements (`char data[]`).
    const last = t.kind === BtfKind.STRUCT ? t.members.at(-1) : undefined;
    const lastType = last && last.name !== "" && last.bitfieldSize === 0 ? this.btf.resolveType(last.type) : undefined;
    const flexible =
      last && lastType?.kind === BtfKind.ARRAY && lastType.nelems === 0 && (last.bitOffset & 7) === 0
        ? { name: last.name, off: last.bitOffset >> 3, elem: this.isChar(lastType.type) ? ("char" as const) : this.build(lastType.type, depth + 1) }
        : undefined;
    return {
      size,
      flexible,
      read(dv, b, o) {
        const out: Record<string, unknown> = {};
        for (const f of fields) {
          const v = f.node.read(dv, b, o + f.off);
          if (f.flatten) Object.assign(out, v);
          else out[f.name] = v;
        }
        return out;
      },
      write(dv, b, o, v, p) {
        if (v === undefined || v === null) return b.fill(0, o, o + size), undefined;
        if (typeof v !== "object") throw new CodecError(`${p}: expected an object for ${typeName}, got ${typeof v}`);
        const obj = v as Record<string, unknown>;
        // Zero first: padding and members not given; unions then take the members given, in order.
        b.fill(0, o, o + size);
        for (const f of fields) {
          if (f.flatten) f.node.write(dv, b, o + f.off, obj, p);
          else if (obj[f.name] !== undefined) f.node.write(dv, b, o + f.off, obj[f.name], `${p}.${f.name}`);
        }
      },
    };
  }

  private datasec(t: Extract<BtfType, { kind: typeof BtfKind.DATASEC }>, depth: number): Node {
    const vars = t.vars.map((v) => ({ name: this.btf.typeById(v.type).name, off: v.offset, node: this.build(v.type, depth + 1) }));
    return this.variables(vars, t.size || Math.max(0, ...t.vars.map((v) => v.offset + v.size)));
  }

  variables(vars: readonly { name: string; off: number; node: Node }[], size: number): Node {
    return {
      size,
      read(dv, b, o) {
        const out: Record<string, unknown> = {};
        for (const v of vars) out[v.name] = v.node.read(dv, b, o + v.off);
        return out;
      },
      write(dv, b, o, value, p) {
        b.fill(0, o, o + size);
        const obj = (value ?? {}) as Record<string, unknown>;
        for (const v of vars) if (obj[v.name] !== undefined) v.node.write(dv, b, o + v.off, obj[v.name], `${p}.${v.name}`);
      },
    };
  }
}
