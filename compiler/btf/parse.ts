// Reading BTF: raw .BTF blobs (kernel vmlinux, objects; either byte order; split BTF over a base)
// and .BTF.ext sections (func_info, line_info, core_relo per ELF section).
// Takes bytes; gives a `Btf` whose type records are decoded lazily from an offset index (a full
// vmlinux holds ~126k types and most users touch a handful), with name lookup, type resolution,
// sizes, alignment, member lookup and C type names; and a decoded `BtfExt`.

import {
  BTF_KIND_MAX,
  BTF_MAGIC,
  BtfError,
  BtfKind,
  isModifierKind,
  type BtfMember,
  type BtfStruct,
  type BtfType,
} from "./types.js";

export interface ParseBtfOptions {
  /** Base BTF for split BTF (kernel module BTF sits on top of vmlinux). */
  base?: Btf;
}

/** Where a member found by name sits: the member indices walked (through anonymous members) and its total bit offset. */
export interface MemberLookup {
  member: BtfMember;
  /** Member indices from the outer struct down to the member. */
  path: number[];
  /** Bit offset of each step, relative to its own parent. */
  bitOffsets: number[];
  /** Bit offset from the start of the outer struct. */
  bitOffset: number;
  /** Id of the struct/union that directly holds the member. */
  parentId: number;
}

const MAX_CHAIN = 64;

function endianOf(bytes: Uint8Array, what: string): boolean {
  if (bytes.length < 8) throw new BtfError(`${what}: ${bytes.length} bytes is shorter than a header`);
  const m = bytes[0]! | (bytes[1]! << 8);
  if (m === BTF_MAGIC) return true;
  if (m === ((BTF_MAGIC >> 8) | ((BTF_MAGIC & 0xff) << 8))) return false;
  throw new BtfError(`${what}: bad magic 0x${m.toString(16)} (want 0xeb9f)`);
}

/** A string table view: latin1-decoded once so lookups are slices; non-ASCII strings go through UTF-8. */
class StringTable {
  private text = "";
  private ascii = false;
  private decoded = false;
  constructor(private readonly bytes: Uint8Array) {}
  private decodeAll(): void {
    const b = this.bytes;
    this.text = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
    // eslint-disable-next-line no-control-regex
    this.ascii = !/[^\x00-\x7f]/.test(this.text);
    this.decoded = true;
  }
  get length(): number {
    return this.bytes.length;
  }
  /**
   * Every offset whose string is `s` (with `prefix`, starts with `s`), found by a native search of the bytes. Any
   * offset counts, not only where a string starts: a name may be the tail of another string.
   */
  offsetsOf(s: string, prefix: boolean): number[] {
    const b = this.bytes;
    const bytes = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    const needle = Buffer.from(prefix ? s : `${s}\0`, "utf8");
    const out: number[] = [];
    for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1)) out.push(at);
    return out;
  }
  at(off: number): string {
    if (off >= this.bytes.length || off < 0) throw new BtfError(`string offset ${off} is outside the string section (${this.bytes.length} bytes)`);
    if (!this.decoded) this.decodeAll();
    let end = this.text.indexOf("\0", off);
    if (end < 0) end = this.bytes.length;
    if (this.ascii) return this.text.slice(off, end);
    const b = this.bytes;
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8", off, end);
  }
}

/** The type section as native-order 32-bit words (a view when possible, else an aligned, byte-swapped copy). */
function nativeWords(bytes: Uint8Array, start: number, len: number, le: boolean): Uint32Array {
  const abs = bytes.byteOffset + start;
  if (le === HOST_LE && abs % 4 === 0) return new Uint32Array(bytes.buffer, abs, len >>> 2);
  const copy = new Uint8Array(len);
  copy.set(bytes.subarray(start, start + len));
  const w = new Uint32Array(copy.buffer);
  if (le !== HOST_LE) {
    for (let i = 0; i < w.length; i++) {
      const x = w[i]!;
      w[i] = ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
    }
  }
  return w;
}
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// Literal kind numbers below: this loop runs once per type of vmlinux and must stay tight.
/** Words per vlen entry by kind (struct, union, datasec, enum64: 3; enum, func_proto: 2). */
const WORDS_PER_ENTRY = new Uint8Array([0, 0, 0, 0, 3, 3, 2, 0, 0, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 3]);

/** Word index of every type record; checks kinds, name offsets and record bounds. */
function indexRecords(w: Uint32Array, firstId: number, totalStr: number): Uint32Array {
  let offsets = new Uint32Array(Math.max(16, w.length >>> 2));
  let n = 0;
  let p = 0;
  const end = w.length;
  while (p < end) {
    if (p + 3 > end) throw new BtfError(`BTF: truncated type record at type offset ${p * 4}`);
    const info = w[p + 1]!;
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    if (kind === 0 || kind > 19) throw new BtfError(`BTF: type [${firstId + n}] has invalid kind ${kind}`);
    if (w[p]! >= totalStr) throw new BtfError(`BTF: type [${firstId + n}] name offset ${w[p]} is outside the string section`);
    const words =
      3 +
      (kind === 1 || kind === 14 || kind === 17 ? 1 : kind === 3 ? 3 : WORDS_PER_ENTRY[kind]! * vlen);
    if (p + words > end) throw new BtfError(`BTF: type [${firstId + n}] (${words * 4} bytes) runs past the type section`);
    if (n === offsets.length) {
      const grown = new Uint32Array(offsets.length * 2);
      grown.set(offsets);
      offsets = grown;
    }
    offsets[n++] = p;
    p += words;
  }
  return offsets.subarray(0, n);
}

export class Btf {
  readonly littleEndian: boolean;
  readonly base: Btf | undefined;
  /** First id defined by this blob (1, or the base's typeCount for split BTF). */
  readonly firstId: number;
  /** One past the last id: ids run 0 (void) .. typeCount - 1. */
  readonly typeCount: number;
  /** Raw bytes of this blob. */
  readonly bytes: Uint8Array;
  /** The type section as native-order words. */
  private readonly words: Uint32Array;
  /** Word index of each record. */
  private readonly offsets: Uint32Array;
  /** Byte offset of the type section in `bytes`. */
  private readonly typeStart: number;
  private readonly strings: StringTable;
  /** Strings of the base come first in the offset space. */
  private readonly strBase: number;
  private readonly cache: (BtfType | undefined)[];
  private nameCache: Map<string, number[]> | undefined;
  private alignCache: Map<number, number> | undefined;

  constructor(bytes: Uint8Array, options: ParseBtfOptions = {}) {
    this.bytes = bytes;
    this.base = options.base;
    this.littleEndian = endianOf(bytes, "BTF");
    const le = this.littleEndian;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes[2] !== 1) throw new BtfError(`BTF: unsupported version ${bytes[2]}`);
    if (bytes.length < 24) throw new BtfError(`BTF: ${bytes.length} bytes is shorter than the 24-byte header`);
    const hdrLen = dv.getUint32(4, le);
    if (hdrLen < 24 || hdrLen > bytes.length) throw new BtfError(`BTF: header length ${hdrLen} is out of range`);
    const typeOff = dv.getUint32(8, le);
    const typeLen = dv.getUint32(12, le);
    const strOff = dv.getUint32(16, le);
    const strLen = dv.getUint32(20, le);
    const typeStart = hdrLen + typeOff;
    this.typeStart = typeStart;
    const strStart = hdrLen + strOff;
    if (typeStart + typeLen > bytes.length) throw new BtfError(`BTF: type section [${typeOff}, +${typeLen}) runs past the end`);
    if (strStart + strLen > bytes.length) throw new BtfError(`BTF: string section [${strOff}, +${strLen}) runs past the end`);
    if (typeOff % 4 !== 0 || typeLen % 4 !== 0) throw new BtfError(`BTF: type section offset ${typeOff} or length ${typeLen} is not 4-byte aligned`);
    if (typeStart < strStart + strLen && strStart < typeStart + typeLen) throw new BtfError("BTF: type and string sections overlap");
    if (strLen === 0 && !this.base) throw new BtfError("BTF: empty string section");
    if (strLen > 0 && bytes[strStart + strLen - 1] !== 0) throw new BtfError("BTF: string section does not end with NUL");
    if (!this.base && bytes[strStart] !== 0) throw new BtfError("BTF: string section does not start with an empty string");
    this.strings = new StringTable(bytes.subarray(strStart, strStart + strLen));
    this.strBase = this.base ? this.base.stringsLength : 0;
    this.firstId = this.base ? this.base.typeCount : 1;

    // The type section is all 32-bit words: keep a native-order copy so reads are plain indexing.
    this.words = nativeWords(bytes, typeStart, typeLen, le);
    const w = this.words;
    // Index pass: only record headers are read; records are decoded on demand.
    this.offsets = indexRecords(this.words, this.firstId, this.strBase + strLen);
    const n = this.offsets.length;
    this.typeCount = this.firstId + n;
    this.cache = new Array(n);
  }

  /** Byte offset in `bytes` of type `id`'s record (of this blob), for patching a copy in place. */
  recordOffset(id: number): number {
    this.check(id);
    if (id < this.firstId) throw new BtfError(`BTF: type [${id}] belongs to the base`);
    return this.typeStart + this.offsets[id - this.firstId]! * 4;
  }

  /** Bytes of string space this blob and its bases cover. */
  get stringsLength(): number {
    return this.strBase + this.strings.length;
  }

  /** The string at a string-section offset (offsets of a split BTF continue the base's). */
  stringAt(off: number): string {
    if (off < this.strBase) return this.base!.stringAt(off);
    return this.strings.at(off - this.strBase);
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.typeCount) throw new BtfError(`BTF: no type [${id}] (ids run to ${this.typeCount - 1})`);
  }

  /** Kind of a type without decoding it. */
  kindOf(id: number): number {
    this.check(id);
    if (id === 0) return BtfKind.UNKN;
    if (id < this.firstId) return this.base!.kindOf(id);
    return (this.words[this.offsets[id - this.firstId]! + 1]! >>> 24) & 0x1f;
  }

  /** Name of a type without decoding it ("" for anonymous). */
  nameOf(id: number): string {
    this.check(id);
    if (id === 0) return "";
    if (id < this.firstId) return this.base!.nameOf(id);
    return this.stringAt(this.words[this.offsets[id - this.firstId]!]!);
  }

  typeById(id: number): BtfType {
    this.check(id);
    if (id === 0) return { kind: BtfKind.UNKN, id: 0, name: "" };
    if (id < this.firstId) return this.base!.typeById(id);
    const i = id - this.firstId;
    return (this.cache[i] ??= this.decode(id, this.offsets[i]!));
  }

  /** Every type of this blob (not the base), in id order. */
  *types(): IterableIterator<BtfType> {
    for (let id = this.firstId; id < this.typeCount; id++) yield this.typeById(id);
  }

  private decode(id: number, p: number): BtfType {
    const w = this.words;
    const name = this.stringAt(w[p]!);
    const info = w[p + 1]!;
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const st = w[p + 2]!;
    let q = p + 3;
    switch (kind) {
      case BtfKind.INT: {
        const x = w[q]!;
        return { kind, id, name, size: st, encoding: (x >>> 24) & 0x0f, offset: (x >>> 16) & 0xff, bits: x & 0xff };
      }
      case BtfKind.PTR:
        return { kind, id, name, type: st };
      case BtfKind.ARRAY:
        return { kind, id, name, type: w[q]!, indexType: w[q + 1]!, nelems: w[q + 2]! };
      case BtfKind.STRUCT:
      case BtfKind.UNION: {
        const members: BtfMember[] = new Array(vlen);
        for (let j = 0; j < vlen; j++, q += 3) {
          const off = w[q + 2]!;
          members[j] = {
            name: this.stringAt(w[q]!),
            type: w[q + 1]!,
            bitOffset: kflag ? off & 0xffffff : off,
            bitfieldSize: kflag ? off >>> 24 : 0,
          };
        }
        return { kind, id, name, size: st, kindFlag: kflag, members };
      }
      case BtfKind.ENUM: {
        const values = new Array(vlen);
        for (let j = 0; j < vlen; j++, q += 2) {
          const v = w[q + 1]!;
          values[j] = { name: this.stringAt(w[q]!), value: kflag ? v | 0 : v };
        }
        return { kind, id, name, size: st, signed: kflag, values };
      }
      case BtfKind.ENUM64: {
        const values = new Array(vlen);
        for (let j = 0; j < vlen; j++, q += 3) {
          const v = (BigInt(w[q + 2]!) << 32n) | BigInt(w[q + 1]!);
          values[j] = { name: this.stringAt(w[q]!), value: kflag ? BigInt.asIntN(64, v) : v };
        }
        return { kind, id, name, size: st, signed: kflag, values };
      }
      case BtfKind.FWD:
        return { kind, id, name, union: kflag };
      case BtfKind.TYPEDEF:
      case BtfKind.VOLATILE:
      case BtfKind.CONST:
      case BtfKind.RESTRICT:
      case BtfKind.TYPE_TAG:
        return { kind, id, name, type: st };
      case BtfKind.FUNC:
        return { kind, id, name, type: st, linkage: vlen };
      case BtfKind.FUNC_PROTO: {
        const params = new Array(vlen);
        for (let j = 0; j < vlen; j++, q += 2) params[j] = { name: this.stringAt(w[q]!), type: w[q + 1]! };
        return { kind, id, name, returnType: st, params };
      }
      case BtfKind.VAR:
        return { kind, id, name, type: st, linkage: w[q]! };
      case BtfKind.DATASEC: {
        const vars = new Array(vlen);
        for (let j = 0; j < vlen; j++, q += 3) vars[j] = { type: w[q]!, offset: w[q + 1]!, size: w[q + 2]! };
        return { kind, id, name, size: st, vars };
      }
      case BtfKind.FLOAT:
        return { kind, id, name, size: st };
      case BtfKind.DECL_TAG:
        return { kind, id, name, type: st, componentIdx: w[q]! | 0 };
      default:
        throw new BtfError(`BTF: type [${id}] has invalid kind ${kind}`);
    }
  }

  /**
   * Ids of this blob's types named `name` (or `name___flavour` too), without an index: the string section is searched
   * for the offsets holding such a name (natively, ~0.5 ms for vmlinux's 2.5 MB), then the types are scanned comparing
   * name offsets, integers only; names in a base blob's strings are compared as strings.
   */
  private scanName(name: string, flavours: boolean): number[] {
    const w = this.words;
    const offs = this.offsets;
    const out: number[] = [];
    const hits = new Set([...this.strings.offsetsOf(name, false), ...(flavours ? this.strings.offsetsOf(`${name}___`, true) : [])].map((o) => o + this.strBase));
    if (!hits.size && !this.base) return out;
    for (let i = 0; i < offs.length; i++) {
      const off = w[offs[i]!]!;
      if (off === 0) continue;
      if (off >= this.strBase) {
        if (hits.has(off)) out.push(this.firstId + i);
        continue;
      }
      const n = this.base!.stringAt(off);
      if (n === name || (flavours && n.startsWith(`${name}___`))) out.push(this.firstId + i);
    }
    return out;
  }

  private lookup(name: string, flavours: boolean, kind: number | undefined): number[] {
    if (name === "") throw new BtfError("BTF: anonymous types cannot be looked up by name");
    const cache = (this.nameCache ??= new Map<string, number[]>());
    const key = (flavours ? "F" : "N") + name;
    let own = cache.get(key);
    if (!own) {
      own = this.scanName(name, flavours);
      if (cache.size > 4096) cache.clear();
      cache.set(key, own);
    }
    const all = this.base ? [...this.base.lookup(name, flavours, undefined), ...own] : own;
    return kind === undefined ? all.slice() : all.filter((id) => this.kindOf(id) === kind);
  }

  /** Ids of all types named `name` (base first), optionally of one kind. */
  findIdsByName(name: string, kind?: number): number[] {
    return this.lookup(name, false, kind);
  }

  /** Ids of types named `name` or `name___<flavour>` (CO-RE's "essential name" match). */
  findIdsByEssentialName(name: string, kind?: number): number[] {
    return this.lookup(name, true, kind);
  }

  /** All types named `name`, optionally of one kind. */
  findByName(name: string, kind?: number): BtfType[] {
    return this.findIdsByName(name, kind).map((id) => this.typeById(id));
  }

  /** The first type named `name` of `kind`, or undefined. */
  find(name: string, kind?: number): BtfType | undefined {
    const ids = this.findIdsByName(name, kind);
    return ids.length ? this.typeById(ids[0]!) : undefined;
  }

  /** Id after skipping typedef, const, volatile, restrict and type_tag. */
  resolve(id: number): number {
    for (let n = 0; n < MAX_CHAIN; n++) {
      const k = this.kindOf(id);
      if (!isModifierKind(k)) return id;
      id = (this.typeById(id) as { type: number }).type;
    }
    throw new BtfError(`BTF: modifier chain from [${id}] is too long (a cycle?)`);
  }

  /** The type after `resolve`. */
  resolveType(id: number): BtfType {
    return this.typeById(this.resolve(id));
  }

  /** Byte size of a sized type (pointers are 8 bytes); BtfError for void, functions and forward declarations. */
  sizeOf(id: number): number {
    let mult = 1;
    for (let n = 0; n < MAX_CHAIN; n++) {
      const t = this.typeById(id);
      switch (t.kind) {
        case BtfKind.INT:
        case BtfKind.STRUCT:
        case BtfKind.UNION:
        case BtfKind.ENUM:
        case BtfKind.ENUM64:
        case BtfKind.FLOAT:
        case BtfKind.DATASEC:
          return mult * t.size;
        case BtfKind.PTR:
          return mult * 8;
        case BtfKind.ARRAY:
          mult *= t.nelems;
          id = t.type;
          break;
        case BtfKind.TYPEDEF:
        case BtfKind.VOLATILE:
        case BtfKind.CONST:
        case BtfKind.RESTRICT:
        case BtfKind.TYPE_TAG:
        case BtfKind.VAR:
        case BtfKind.DECL_TAG:
          id = t.type;
          break;
        default:
          throw new BtfError(`BTF: type [${t.id}] (${this.typeName(t.id)}) has no size`);
      }
    }
    throw new BtfError(`BTF: type chain from [${id}] is too long (a cycle?)`);
  }

  /** Natural alignment (1 for packed structs), as C would place the type. */
  alignOf(id: number, depth = 0): number {
    if (depth > MAX_CHAIN) throw new BtfError(`BTF: type [${id}] nests too deeply (a cycle?)`);
    const t = this.resolveType(id);
    // Memoised: kernel structs share nested types so heavily that plain recursion explodes.
    const known = (this.alignCache ??= new Map<number, number>()).get(t.id);
    if (known !== undefined) return known;
    const a = this.computeAlign(t, depth);
    this.alignCache.set(t.id, a);
    return a;
  }

  private computeAlign(t: BtfType, depth: number): number {
    switch (t.kind) {
      case BtfKind.INT:
      case BtfKind.ENUM:
      case BtfKind.ENUM64:
      case BtfKind.FLOAT:
        return Math.max(1, Math.min(t.size, 8));
      case BtfKind.PTR:
        return 8;
      case BtfKind.ARRAY:
        return this.alignOf(t.type, depth + 1);
      case BtfKind.STRUCT:
      case BtfKind.UNION: {
        let align = 1;
        for (const m of t.members) {
          const a = this.alignOf(m.type, depth + 1);
          // A member off its natural alignment means the struct is packed.
          if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return 1;
          align = Math.max(align, a);
        }
        return t.size % align === 0 ? align : 1;
      }
      default:
        throw new BtfError(`BTF: type [${t.id}] (${this.typeName(t.id)}) has no alignment`);
    }
  }

  /** A member by name in a struct/union (through anonymous struct/union members), or undefined. */
  findMember(id: number, name: string): MemberLookup | undefined {
    const walk = (sid: number, depth: number): MemberLookup | undefined => {
      if (depth > MAX_CHAIN) throw new BtfError(`BTF: struct [${id}] nests too deeply`);
      const t = this.resolveType(sid);
      if (t.kind !== BtfKind.STRUCT && t.kind !== BtfKind.UNION) return undefined;
      for (let i = 0; i < t.members.length; i++) {
        const m = t.members[i]!;
        if (m.name === name) return { member: m, path: [i], bitOffsets: [m.bitOffset], bitOffset: m.bitOffset, parentId: t.id };
        if (m.name === "") {
          const inner = walk(m.type, depth + 1);
          if (inner) {
            return {
              ...inner,
              path: [i, ...inner.path],
              bitOffsets: [m.bitOffset, ...inner.bitOffsets],
              bitOffset: m.bitOffset + inner.bitOffset,
            };
          }
        }
      }
      return undefined;
    };
    return walk(id, 0);
  }

  /** A struct/union's members, or BtfError when `id` is not one. */
  composite(id: number): BtfStruct {
    const t = this.resolveType(id);
    if (t.kind !== BtfKind.STRUCT && t.kind !== BtfKind.UNION) throw new BtfError(`BTF: type [${id}] (${this.typeName(id)}) is not a struct or union`);
    return t;
  }

  /** The type in C syntax: `struct sock *`, `const char[16]`, `int (*)(void *, long)`. */
  typeName(id: number): string {
    return this.declare(id, "", 0);
  }

  private declare(id: number, inner: string, depth: number): string {
    if (depth > MAX_CHAIN) throw new BtfError(`BTF: type [${id}] nests too deeply (a cycle?)`);
    const t = this.typeById(id);
    const withInner = (base: string): string => (inner === "" ? base : inner[0] === "[" ? base + inner : `${base} ${inner}`);
    const named = (n: string): string => n || "(anon)";
    switch (t.kind) {
      case BtfKind.UNKN:
        return withInner("void");
      case BtfKind.INT:
      case BtfKind.FLOAT:
      case BtfKind.TYPEDEF:
        return withInner(t.name);
      case BtfKind.STRUCT:
        return withInner(t.name ? `struct ${t.name}` : "struct {...}");
      case BtfKind.UNION:
        return withInner(t.name ? `union ${t.name}` : "union {...}");
      case BtfKind.ENUM:
      case BtfKind.ENUM64:
        return withInner(t.name ? `enum ${t.name}` : "enum {...}");
      case BtfKind.FWD:
        return withInner(`${t.union ? "union" : "struct"} ${t.name}`);
      case BtfKind.PTR: {
        const target = this.kindOf(this.resolve(t.type));
        const ptr = "*" + inner;
        return this.declare(t.type, target === BtfKind.ARRAY || target === BtfKind.FUNC_PROTO ? `(${ptr})` : ptr, depth + 1);
      }
      case BtfKind.CONST:
      case BtfKind.VOLATILE:
      case BtfKind.RESTRICT: {
        const q = t.kind === BtfKind.CONST ? "const" : t.kind === BtfKind.VOLATILE ? "volatile" : "restrict";
        // Qualifiers of a pointer go after the star; others read naturally in front.
        if (this.kindOf(t.type) === BtfKind.PTR) return this.declare(t.type, inner ? `${q} ${inner}` : q, depth + 1);
        // A qualified array's elements may carry the qualifier too (pahole writes `const char[]` so): C says it once.
        const rest = this.declare(t.type, inner, depth + 1);
        return rest.startsWith(`${q} `) ? rest : `${q} ${rest}`;
      }
      case BtfKind.TYPE_TAG:
        return this.declare(t.type, inner, depth + 1);
      case BtfKind.ARRAY:
        return this.declare(t.type, `${inner}[${t.nelems}]`, depth + 1);
      case BtfKind.FUNC_PROTO: {
        const params = t.params.map((p) => (p.type === 0 ? "..." : this.declare(p.type, "", depth + 1)));
        return this.declare(t.returnType, `${inner}(${params.length ? params.join(", ") : "void"})`, depth + 1);
      }
      case BtfKind.FUNC:
        return this.declare(t.type, inner || t.name, depth + 1);
      case BtfKind.VAR:
        return this.declare(t.type, inner || t.name, depth + 1);
      case BtfKind.DATASEC:
        return named(t.name);
      case BtfKind.DECL_TAG:
        return named(t.name);
    }
  }
}

/** Parses a raw BTF blob (the .BTF section or /sys/kernel/btf/*). */
export function parseBtf(bytes: Uint8Array, options: ParseBtfOptions = {}): Btf {
  return new Btf(bytes, options);
}

// .BTF.ext

export interface BtfFuncInfo {
  /** Byte offset of the instruction in its ELF section. */
  insnOff: number;
  typeId: number;
}
export interface BtfLineInfo {
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  /** Present when parsed with a Btf. */
  fileName?: string;
  lineText?: string;
  line: number;
  col: number;
}
export interface BtfCoreRelo {
  insnOff: number;
  typeId: number;
  accessStrOff: number;
  /** Present when parsed with a Btf. */
  access?: string;
  /** CoreReloKind. */
  kind: number;
}
export interface BtfExtSection<R> {
  /** ELF section name offset in the .BTF string table. */
  nameOff: number;
  /** Present when parsed with a Btf. */
  name?: string;
  records: R[];
}
export interface BtfExt {
  littleEndian: boolean;
  headerLen: number;
  funcInfoRecSize: number;
  lineInfoRecSize: number;
  coreReloRecSize: number;
  funcInfo: BtfExtSection<BtfFuncInfo>[];
  lineInfo: BtfExtSection<BtfLineInfo>[];
  coreRelos: BtfExtSection<BtfCoreRelo>[];
}

export interface ParseBtfExtOptions {
  /** The object's .BTF: names section, file, line and access strings. */
  btf?: Btf;
}

/** Parses a .BTF.ext section. */
export function parseBtfExt(bytes: Uint8Array, options: ParseBtfExtOptions = {}): BtfExt {
  const le = endianOf(bytes, "BTF.ext");
  if (bytes[2] !== 1) throw new BtfError(`BTF.ext: unsupported version ${bytes[2]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdrLen = dv.getUint32(4, le);
  if (hdrLen < 24 || hdrLen > bytes.length) throw new BtfError(`BTF.ext: header length ${hdrLen} is out of range`);
  const btf = options.btf;
  const str = (off: number): string | undefined => (btf ? btf.stringAt(off) : undefined);
  const u32 = (p: number): number => dv.getUint32(p, le);

  const out: BtfExt = {
    littleEndian: le,
    headerLen: hdrLen,
    funcInfoRecSize: 0,
    lineInfoRecSize: 0,
    coreReloRecSize: 0,
    funcInfo: [],
    lineInfo: [],
    coreRelos: [],
  };

  const sub = <R>(what: string, offField: number, minRec: number, rec: (p: number) => R): { recSize: number; sections: BtfExtSection<R>[] } => {
    if (offField + 8 > hdrLen) return { recSize: 0, sections: [] };
    const off = u32(offField);
    const len = u32(offField + 4);
    if (len === 0) return { recSize: 0, sections: [] };
    const start = hdrLen + off;
    const end = start + len;
    if (end > bytes.length || off % 4 !== 0) throw new BtfError(`BTF.ext: ${what} [${off}, +${len}) is out of bounds or misaligned`);
    if (len < 4) throw new BtfError(`BTF.ext: ${what} is too short for its record size`);
    const recSize = u32(start);
    if (recSize < minRec || recSize % 4 !== 0) throw new BtfError(`BTF.ext: ${what} record size ${recSize} is invalid (minimum ${minRec})`);
    const sections: BtfExtSection<R>[] = [];
    let p = start + 4;
    while (p < end) {
      if (p + 8 > end) throw new BtfError(`BTF.ext: ${what} section header truncated`);
      const nameOff = u32(p);
      const num = u32(p + 4);
      p += 8;
      if (num === 0) throw new BtfError(`BTF.ext: ${what} section with no records`);
      if (num > (end - p) / recSize) throw new BtfError(`BTF.ext: ${what} section of ${num} records runs past its end`);
      const records: R[] = new Array(num);
      for (let i = 0; i < num; i++, p += recSize) records[i] = rec(p);
      const s: BtfExtSection<R> = { nameOff, records };
      const name = str(nameOff);
      if (name !== undefined) s.name = name;
      sections.push(s);
    }
    return { recSize, sections };
  };

  const fi = sub("func_info", 8, 8, (p) => ({ insnOff: u32(p), typeId: u32(p + 4) }));
  out.funcInfoRecSize = fi.recSize;
  out.funcInfo = fi.sections;
  const li = sub("line_info", 16, 16, (p): BtfLineInfo => {
    const lc = u32(p + 12);
    const r: BtfLineInfo = { insnOff: u32(p), fileNameOff: u32(p + 4), lineOff: u32(p + 8), line: lc >>> 10, col: lc & 0x3ff };
    if (btf) {
      r.fileName = btf.stringAt(r.fileNameOff);
      r.lineText = btf.stringAt(r.lineOff);
    }
    return r;
  });
  out.lineInfoRecSize = li.recSize;
  out.lineInfo = li.sections;
  if (hdrLen >= 32) {
    const cr = sub("core_relo", 24, 16, (p): BtfCoreRelo => {
      const r: BtfCoreRelo = { insnOff: u32(p), typeId: u32(p + 4), accessStrOff: u32(p + 8), kind: u32(p + 12) };
      if (btf) r.access = btf.stringAt(r.accessStrOff);
      return r;
    });
    out.coreReloRecSize = cr.recSize;
    out.coreRelos = cr.sections;
  }
  return out;
}
