// Writing BTF: `BtfBuilder` collects types (ids in insertion order) and a deduplicated string table
// and encodes a .BTF blob; `BtfExtBuilder` collects func_info, line_info and CO-RE relocation
// records per ELF section and encodes .BTF.ext the way clang lays it out (32-byte header,
// func_info, line_info, core_relo), or as the record arrays BPF_PROG_LOAD takes.
// Takes BtfTypeInit records and names; gives bytes the kernel, libbpf and bpftool accept.

import type { Btf, BtfFuncInfo, BtfLineInfo } from "./parse.js";
import {
  BTF_EXT_HEADER_LEN,
  BTF_HEADER_LEN,
  BTF_MAGIC,
  BTF_MAX_VLEN,
  BTF_VERSION,
  BtfError,
  BtfKind,
  type BtfType,
  type BtfTypeInit,
} from "./types.js";

export interface BtfBuilderOptions {
  /** Default true. */
  littleEndian?: boolean;
  /** Emit split BTF on top of this base: ids and string offsets continue the base's. */
  base?: Btf;
}

/** Record arrays as BPF_PROG_LOAD takes them (same shape as runtime/sys BtfExtInfo). */
export interface KernelExtInfo {
  recSize: number;
  data: Uint8Array;
}

class Writer {
  private buf = new Uint8Array(256);
  private dv = new DataView(this.buf.buffer);
  length = 0;
  constructor(private readonly le: boolean) {}
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
  u32(v: number): void {
    this.room(4);
    this.dv.setUint32(this.length, v >>> 0, this.le);
    this.length += 4;
  }
  u16(v: number): void {
    this.room(2);
    this.dv.setUint16(this.length, v, this.le);
    this.length += 2;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.length++] = v;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  setU32(at: number, v: number): void {
    this.dv.setUint32(at, v >>> 0, this.le);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** A string table: offset 0 is "", each distinct string stored once. */
class StringSet {
  private readonly offsets = new Map<string, number>([["", 0]]);
  private readonly chunks: Uint8Array[] = [new Uint8Array(1)];
  private size = 1;
  private readonly enc = new TextEncoder();
  constructor(private readonly base: number) {}
  add(s: string): number {
    const known = this.offsets.get(s);
    if (known !== undefined) return known === 0 ? 0 : known;
    if (s.includes("\0")) throw new BtfError(`BTF: string ${JSON.stringify(s)} contains NUL`);
    const bytes = this.enc.encode(s + "\0");
    const off = this.base + this.size;
    this.chunks.push(bytes);
    this.size += bytes.length;
    this.offsets.set(s, off);
    return off;
  }
  get length(): number {
    return this.size;
  }
  encode(): Uint8Array {
    const out = new Uint8Array(this.size);
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }
}

function checkU32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new BtfError(`BTF: ${what} ${v} is not a 32-bit unsigned integer`);
  return v;
}

function checkVlen(n: number, what: string): number {
  if (n > BTF_MAX_VLEN) throw new BtfError(`BTF: ${what} has ${n} entries (BTF allows ${BTF_MAX_VLEN})`);
  return n;
}

export class BtfBuilder {
  readonly littleEndian: boolean;
  readonly base: Btf | undefined;
  /** Id the first added type gets. */
  readonly firstId: number;
  private readonly strings: StringSet;
  private readonly types: (BtfTypeInit | undefined)[] = [];

  constructor(options: BtfBuilderOptions = {}) {
    this.littleEndian = options.littleEndian ?? true;
    this.base = options.base;
    this.firstId = this.base ? this.base.typeCount : 1;
    // Split BTF strings continue the base's offsets; the split table still starts with its own "\0".
    this.strings = new StringSet(this.base ? this.base.stringsLength : 0);
  }

  /** A copy of every type of a parsed BTF (not its base), with the same ids. */
  static from(btf: Btf, options: Omit<BtfBuilderOptions, "base"> = {}): BtfBuilder {
    const b = new BtfBuilder({ ...options, ...(btf.base ? { base: btf.base } : {}) });
    for (const t of btf.types()) b.add(withoutId(t));
    return b;
  }

  /** The id the next `add` returns. */
  get nextId(): number {
    return this.firstId + this.types.length;
  }

  /** Offset of `s` in the string section (adding it once). */
  addString(s: string): number {
    return this.strings.add(s);
  }

  /** Adds a type; gives its id. */
  add(type: BtfTypeInit): number {
    this.types.push(this.checked(type));
    return this.nextId - 1;
  }

  /** An id to fill later with `set` (for types that refer to themselves through pointers). */
  reserve(): number {
    this.types.push(undefined);
    return this.nextId - 1;
  }

  set(id: number, type: BtfTypeInit): void {
    const i = id - this.firstId;
    if (i < 0 || i >= this.types.length) throw new BtfError(`BTF: id ${id} was not reserved by this builder`);
    this.types[i] = this.checked(type);
  }

  /** The type added under `id`. */
  get(id: number): BtfTypeInit | undefined {
    return this.types[id - this.firstId];
  }

  // Strings are added by toBytes in type order, so equal type lists give equal bytes.
  private checked(t: BtfTypeInit): BtfTypeInit {
    switch (t.kind) {
      case BtfKind.STRUCT:
      case BtfKind.UNION:
        checkVlen(t.members.length, `struct ${t.name}`);
        for (const m of t.members) {
          if (m.bitfieldSize < 0 || m.bitfieldSize > 255) throw new BtfError(`BTF: member ${m.name} bitfield size ${m.bitfieldSize} is out of range`);
          const bf = m.bitfieldSize > 0 || t.kindFlag === true;
          if (bf && m.bitOffset > 0xffffff) throw new BtfError(`BTF: member ${m.name} bit offset ${m.bitOffset} does not fit 24 bits`);
          if (t.kindFlag === false && m.bitfieldSize > 0) throw new BtfError(`BTF: member ${m.name} is a bitfield but kindFlag is false`);
          checkU32(m.bitOffset, "member bit offset");
        }
        break;
      case BtfKind.ENUM:
      case BtfKind.ENUM64:
        checkVlen(t.values.length, `enum ${t.name}`);
        break;
      case BtfKind.FUNC_PROTO:
        checkVlen(t.params.length, "function prototype");
        break;
      case BtfKind.DATASEC:
        checkVlen(t.vars.length, `datasec ${t.name}`);
        break;
      case BtfKind.INT:
        if (t.bits > 128 || t.offset > 255 || t.encoding > 15) throw new BtfError(`BTF: int ${t.name} has invalid bits/offset/encoding`);
        break;
      case BtfKind.FUNC:
        if (t.linkage > BTF_MAX_VLEN) throw new BtfError(`BTF: func ${t.name} linkage ${t.linkage} is out of range`);
        break;
      default:
        break;
    }
    return t;
  }

  /** Encodes the .BTF blob. */
  toBytes(): Uint8Array {
    const w = new Writer(this.littleEndian);
    const s = (name: string): number => this.strings.add(name);
    const info = (kind: number, vlen: number, kflag: boolean): number => ((kflag ? 0x80000000 : 0) | (kind << 24) | vlen) >>> 0;
    this.types.forEach((t, i) => {
      if (!t) throw new BtfError(`BTF: reserved id ${this.firstId + i} was never set`);
      switch (t.kind) {
        case BtfKind.INT:
          w.u32(s(t.name));
          w.u32(info(t.kind, 0, false));
          w.u32(checkU32(t.size, "int size"));
          w.u32(((t.encoding & 0xf) << 24) | ((t.offset & 0xff) << 16) | (t.bits & 0xff));
          break;
        case BtfKind.PTR:
        case BtfKind.TYPEDEF:
        case BtfKind.VOLATILE:
        case BtfKind.CONST:
        case BtfKind.RESTRICT:
        case BtfKind.TYPE_TAG:
          w.u32(s(t.name));
          w.u32(info(t.kind, 0, false));
          w.u32(checkU32(t.type, "type id"));
          break;
        case BtfKind.ARRAY:
          w.u32(s(t.name));
          w.u32(info(t.kind, 0, false));
          w.u32(0);
          w.u32(checkU32(t.type, "array element type"));
          w.u32(checkU32(t.indexType, "array index type"));
          w.u32(checkU32(t.nelems, "array length"));
          break;
        case BtfKind.STRUCT:
        case BtfKind.UNION: {
          const kflag = t.kindFlag ?? t.members.some((m) => m.bitfieldSize > 0);
          w.u32(s(t.name));
          w.u32(info(t.kind, t.members.length, kflag));
          w.u32(checkU32(t.size, "struct size"));
          for (const m of t.members) {
            w.u32(s(m.name));
            w.u32(checkU32(m.type, "member type"));
            w.u32(kflag ? ((m.bitfieldSize << 24) | m.bitOffset) >>> 0 : m.bitOffset);
          }
          break;
        }
        case BtfKind.ENUM:
          w.u32(s(t.name));
          w.u32(info(t.kind, t.values.length, t.signed));
          w.u32(t.size);
          for (const v of t.values) {
            w.u32(s(v.name));
            w.u32(v.value >>> 0);
          }
          break;
        case BtfKind.ENUM64:
          w.u32(s(t.name));
          w.u32(info(t.kind, t.values.length, t.signed));
          w.u32(t.size);
          for (const v of t.values) {
            const u = BigInt.asUintN(64, v.value);
            w.u32(s(v.name));
            w.u32(Number(u & 0xffffffffn));
            w.u32(Number(u >> 32n));
          }
          break;
        case BtfKind.FWD:
          w.u32(s(t.name));
          w.u32(info(t.kind, 0, t.union));
          w.u32(0);
          break;
        case BtfKind.FUNC:
          w.u32(s(t.name));
          w.u32(info(t.kind, t.linkage, false));
          w.u32(checkU32(t.type, "func prototype id"));
          break;
        case BtfKind.FUNC_PROTO:
          w.u32(s(t.name));
          w.u32(info(t.kind, t.params.length, false));
          w.u32(checkU32(t.returnType, "return type"));
          for (const p of t.params) {
            w.u32(s(p.name));
            w.u32(checkU32(p.type, "parameter type"));
          }
          break;
        case BtfKind.VAR:
          w.u32(s(t.name));
          w.u32(info(t.kind, 0, false));
          w.u32(checkU32(t.type, "var type"));
          w.u32(t.linkage);
          break;
        case BtfKind.DATASEC:
          w.u32(s(t.name));
          w.u32(info(t.kind, t.vars.length, false));
          w.u32(t.size);
          for (const v of t.vars) {
            w.u32(checkU32(v.type, "datasec var"));
            w.u32(checkU32(v.offset, "datasec offset"));
            w.u32(checkU32(v.size, "datasec size"));
          }
          break;
        case BtfKind.FLOAT:
          w.u32(s(t.name));
          w.u32(info(t.kind, 0, false));
          w.u32(t.size);
          break;
        case BtfKind.DECL_TAG:
          w.u32(s(t.name));
          w.u32(info(t.kind, 0, false));
          w.u32(checkU32(t.type, "decl_tag target"));
          w.u32(t.componentIdx >>> 0);
          break;
      }
    });
    const typeBytes = w.result();
    const strBytes = this.strings.encode();
    const out = new Writer(this.littleEndian);
    out.u16(BTF_MAGIC);
    out.u8(BTF_VERSION);
    out.u8(0);
    out.u32(BTF_HEADER_LEN);
    out.u32(0);
    out.u32(typeBytes.length);
    out.u32(typeBytes.length);
    out.u32(strBytes.length);
    out.bytes(typeBytes);
    out.bytes(strBytes);
    return out.result();
  }
}

/** A parsed type as builder input (the id dropped). */
export function withoutId(t: BtfType): BtfTypeInit {
  if (t.kind === BtfKind.UNKN) throw new BtfError("BTF: void cannot be added");
  const { id: _id, ...rest } = t;
  return rest as BtfTypeInit;
}

interface ExtSection<R> {
  nameOff: number;
  records: R[];
}
interface FuncRec {
  insnOff: number;
  typeId: number;
}
interface LineRec {
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  lineCol: number;
}
interface CoreRec {
  insnOff: number;
  typeId: number;
  accessOff: number;
  kind: number;
}

/** The kernel packs line and column into one word; columns past 10 bits are clamped. */
export function packLineCol(line: number, col: number): number {
  if (line < 0 || line > 0x3fffff) throw new BtfError(`BTF.ext: line ${line} does not fit 22 bits`);
  return ((line << 10) | Math.min(Math.max(col, 0), 0x3ff)) >>> 0;
}

export class BtfExtBuilder {
  private readonly funcs = new Map<string, ExtSection<FuncRec>>();
  private readonly lines = new Map<string, ExtSection<LineRec>>();
  private readonly relos = new Map<string, ExtSection<CoreRec>>();

  /** Strings (section names, file names, source lines, access strings) go into `btf`'s table: encode .BTF after adding records here. */
  constructor(readonly btf: BtfBuilder) {}

  private section<R>(map: Map<string, ExtSection<R>>, name: string): ExtSection<R> {
    let s = map.get(name);
    if (!s) map.set(name, (s = { nameOff: this.btf.addString(name), records: [] }));
    return s;
  }

  private static insn(off: number): number {
    if (!Number.isInteger(off) || off < 0 || off % 8 !== 0) throw new BtfError(`BTF.ext: instruction offset ${off} is not a multiple of 8 bytes`);
    return off;
  }

  /** A function (FUNC type id) starting at byte offset `insnOff` of ELF section `section`. */
  addFuncInfo(section: string, insnOff: number, typeId: number): void {
    this.section(this.funcs, section).records.push({ insnOff: BtfExtBuilder.insn(insnOff), typeId: checkU32(typeId, "func type id") });
  }

  /** Source position of the instruction at byte offset `insnOff`. */
  addLineInfo(section: string, insnOff: number, fileName: string, lineText: string, line: number, col: number): void {
    this.section(this.lines, section).records.push({
      insnOff: BtfExtBuilder.insn(insnOff),
      fileNameOff: this.btf.addString(fileName),
      lineOff: this.btf.addString(lineText),
      lineCol: packLineCol(line, col),
    });
  }

  /** A CO-RE relocation of the instruction at `insnOff`: root type, access string ("0:1:2"), CoreReloKind. */
  addCoreRelo(section: string, insnOff: number, typeId: number, access: string, kind: number): void {
    if (!/^\d+(:\d+)*$/.test(access)) throw new BtfError(`BTF.ext: access string ${JSON.stringify(access)} is malformed`);
    this.section(this.relos, section).records.push({
      insnOff: BtfExtBuilder.insn(insnOff),
      typeId: checkU32(typeId, "relocation type id"),
      accessOff: this.btf.addString(access),
      kind,
    });
  }

  private static sorted<R extends { insnOff: number }>(s: ExtSection<R>): R[] {
    return s.records.map((r, i) => [r, i] as const).sort((a, b) => a[0].insnOff - b[0].insnOff || a[1] - b[1]).map(([r]) => r);
  }

  /** Encodes .BTF.ext: header, then func_info, line_info and core_relo subsections. */
  toBytes(): Uint8Array {
    const le = this.btf.littleEndian;
    const sub = <R extends { insnOff: number }>(map: Map<string, ExtSection<R>>, recSize: number, put: (w: Writer, r: R) => void): Uint8Array => {
      if (map.size === 0) return new Uint8Array(0);
      const w = new Writer(le);
      w.u32(recSize);
      for (const s of map.values()) {
        w.u32(s.nameOff);
        w.u32(s.records.length);
        for (const r of BtfExtBuilder.sorted(s)) put(w, r);
      }
      return w.result();
    };
    const func = sub(this.funcs, 8, (w, r) => {
      w.u32(r.insnOff);
      w.u32(r.typeId);
    });
    const line = sub(this.lines, 16, (w, r) => {
      w.u32(r.insnOff);
      w.u32(r.fileNameOff);
      w.u32(r.lineOff);
      w.u32(r.lineCol);
    });
    const core = sub(this.relos, 16, (w, r) => {
      w.u32(r.insnOff);
      w.u32(r.typeId);
      w.u32(r.accessOff);
      w.u32(r.kind);
    });
    const out = new Writer(le);
    out.u16(BTF_MAGIC);
    out.u8(BTF_VERSION);
    out.u8(0);
    out.u32(BTF_EXT_HEADER_LEN);
    out.u32(0);
    out.u32(func.length);
    out.u32(func.length);
    out.u32(line.length);
    out.u32(func.length + line.length);
    out.u32(core.length);
    out.bytes(func);
    out.bytes(line);
    out.bytes(core);
    return out.result();
  }

  /** func_info for BPF_PROG_LOAD of `section`: instruction indices, shifted by `insnBase` instructions. */
  kernelFuncInfo(section: string, insnBase = 0): KernelExtInfo {
    const s = this.funcs.get(section);
    return encodeKernelInfo(8, s ? BtfExtBuilder.sorted(s).map((r) => [r.insnOff / 8 + insnBase, r.typeId]) : [], this.btf.littleEndian);
  }

  /** line_info for BPF_PROG_LOAD of `section`. */
  kernelLineInfo(section: string, insnBase = 0): KernelExtInfo {
    const s = this.lines.get(section);
    return encodeKernelInfo(
      16,
      s ? BtfExtBuilder.sorted(s).map((r) => [r.insnOff / 8 + insnBase, r.fileNameOff, r.lineOff, r.lineCol]) : [],
      this.btf.littleEndian,
    );
  }
}

/** Packs records of 32-bit words into a kernel record array. */
export function encodeKernelInfo(recSize: number, records: readonly (readonly number[])[], littleEndian = true): KernelExtInfo {
  const w = new Writer(littleEndian);
  for (const r of records) {
    if (r.length * 4 !== recSize) throw new BtfError(`BTF.ext: record of ${r.length} words does not match record size ${recSize}`);
    for (const x of r) w.u32(x);
  }
  return { recSize, data: w.result() };
}

/** func_info for BPF_PROG_LOAD from parsed .BTF.ext records (byte offsets become instruction indices). */
export function kernelFuncInfo(records: readonly BtfFuncInfo[], insnBase = 0, littleEndian = true): KernelExtInfo {
  return encodeKernelInfo(8, records.map((r) => [r.insnOff / 8 + insnBase, r.typeId]), littleEndian);
}

/** line_info for BPF_PROG_LOAD from parsed .BTF.ext records. */
export function kernelLineInfo(records: readonly BtfLineInfo[], insnBase = 0, littleEndian = true): KernelExtInfo {
  return encodeKernelInfo(16, records.map((r) => [r.insnOff / 8 + insnBase, r.fileNameOff, r.lineOff, packLineCol(r.line, r.col)]), littleEndian);
}
