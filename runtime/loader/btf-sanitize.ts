// BTF for kernels older than the object: which BTF kinds the running kernel takes (probed once per `Sys` by loading a
// tiny blob of each kind with BPF_BTF_LOAD), and the object's blob with every kind the kernel lacks rewritten into
// one it has, as libbpf does. Type ids and string offsets stay as they were (new strings and types are only ever
// appended), so line info, map key/value ids and CO-RE records keep pointing at the same things.
// Takes a `Sys` (for the probes) and a .BTF blob; gives the blob for BPF_BTF_LOAD and the features rewritten
// (without BTF functions programs cannot have func and line info; without DATASEC data maps cannot have BTF).

import { BtfBuilder, BtfError, BtfKind, parseBtf, type Btf } from "../../compiler/btf/index.js";
import { SysError, type Sys } from "../sys/sys.js";
import { appendToBtf } from "./btf-load.js";

/** A BTF feature a kernel may lack, oldest first. */
export type BtfFeature = "func" | "datasec" | "globalFunc" | "float" | "declTag" | "typeTag" | "enum64" | "qmarkDatasec";

export type BtfFeatures = Record<BtfFeature, boolean>;

/** Every feature, with what it is and the kernel that brought it (for messages). */
export const BTF_FEATURES: Readonly<Record<BtfFeature, string>> = {
  func: "FUNC and FUNC_PROTO (Linux 5.0)",
  datasec: "DATASEC and VAR (Linux 5.2)",
  globalFunc: "global FUNC linkage (Linux 5.6)",
  float: "FLOAT (Linux 5.13)",
  declTag: "DECL_TAG (Linux 5.16)",
  typeTag: "TYPE_TAG (Linux 5.17)",
  enum64: "ENUM64 and signed enums (Linux 6.0)",
  qmarkDatasec: "DATASEC names starting with '?'",
};

const ALL_FEATURES = Object.keys(BTF_FEATURES) as BtfFeature[];

/** The feature each kind needs. */
const KIND_FEATURE: Partial<Record<number, BtfFeature>> = {
  [BtfKind.FUNC]: "func",
  [BtfKind.FUNC_PROTO]: "func",
  [BtfKind.VAR]: "datasec",
  [BtfKind.DATASEC]: "datasec",
  [BtfKind.FLOAT]: "float",
  [BtfKind.DECL_TAG]: "declTag",
  [BtfKind.TYPE_TAG]: "typeTag",
  [BtfKind.ENUM64]: "enum64",
};

/** The features a blob's types need. */
export function btfFeaturesUsed(btf: Btf): Set<BtfFeature> {
  const used = new Set<BtfFeature>();
  for (const t of btf.types()) {
    const f = KIND_FEATURE[t.kind];
    if (f) used.add(f);
    if (t.kind === BtfKind.FUNC && t.linkage !== 0) used.add("globalFunc");
    if (t.kind === BtfKind.DATASEC && t.name.startsWith("?")) used.add("qmarkDatasec");
    if (t.kind === BtfKind.ENUM && t.signed) used.add("enum64");
  }
  return used;
}

const VALID_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `name` as the kernel's BTF checker accepts for struct, member and enum value names. */
function identifier(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_]/g, "_");
  return /^[0-9]/.test(s) ? `_${s}` : s || "_";
}

export interface SanitizedBtf {
  bytes: Uint8Array;
  /** The features whose kinds were rewritten, in BTF_FEATURES order (empty: `bytes` is the input). */
  rewritten: BtfFeature[];
}

/**
 * `blob` with every kind a kernel without some `supported` features would refuse rewritten, as libbpf's
 * bpf_object__sanitize_btf does: VAR and DECL_TAG become 1-byte INTs, DATASEC a STRUCT whose members are its
 * variables (sorted by offset, names made identifiers), FUNC_PROTO an ENUM of its parameters (unnamed ones get a
 * name), FUNC a TYPEDEF (or static where only global linkage is missing), FLOAT an anonymous empty STRUCT of its size,
 * TYPE_TAG a CONST, ENUM64 a UNION of 1-byte INT members of its size, and signed enums unsigned. A decl tag whose
 * target was rewritten into a kind that cannot carry it goes too. Ids and string offsets are kept; the strings
 * and the one INT type this needs are appended. A blob that needs nothing comes back as it is.
 */
export function sanitizeBtf(blob: Uint8Array, supported: Partial<BtfFeatures>): SanitizedBtf {
  const has = (f: BtfFeature): boolean => supported[f] !== false;
  const btf = parseBtf(blob);
  if (btf.base) throw new BtfError("BTF: split BTF cannot be rewritten for the kernel");
  const le = btf.littleEndian;
  const head = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const hdrLen = head.getUint32(4, le);
  const typeStart = hdrLen + head.getUint32(8, le);
  const typeLen = head.getUint32(12, le);
  const strStart = hdrLen + head.getUint32(16, le);
  const strLen = head.getUint32(20, le);
  // A copy of its own (Buffer's slice is a view, and a Buffer may sit anywhere in a shared pool).
  const types = new Uint8Array(blob.subarray(typeStart, typeStart + typeLen));
  const dv = new DataView(types.buffer);
  const get = (at: number): number => dv.getUint32(at, le);
  const set = (at: number, v: number): void => dv.setUint32(at, v >>> 0, le);
  /** An info word: kind and vlen, kind_flag clear. */
  const info = (kind: number, vlen: number): number => ((kind << 24) | vlen) >>> 0;

  const rewritten = new Set<BtfFeature>();
  const appended = new Map<string, number>();
  let appendedLen = 0;
  const addString = (s: string): number => {
    let off = appended.get(s);
    if (off === undefined) {
      off = strLen + appendedLen;
      appended.set(s, off);
      appendedLen += Buffer.byteLength(s) + 1;
    }
    return off;
  };
  /** A name offset whose string is a valid identifier: `off` itself, or a cleaned copy appended. */
  const identifierAt = (off: number, fallback: string): number => {
    const name = off === 0 ? "" : btf.stringAt(off);
    if (VALID_IDENTIFIER.test(name)) return off;
    return addString(name === "" ? fallback : identifier(name));
  };
  /** Id of the INT appended for ENUM64 members (0: none yet). */
  let placeholder = 0;
  const at = (id: number): number => btf.recordOffset(id) - typeStart;
  /** Makes record `p` a 1-byte, 8-bit INT (VAR and DECL_TAG records have the INT's extra word). */
  const toByteInt = (p: number): void => {
    set(p + 4, info(BtfKind.INT, 0));
    set(p + 8, 1);
    set(p + 12, 8);
  };

  for (let id = btf.firstId; id < btf.typeCount; id++) {
    const p = at(id);
    const kind = btf.kindOf(id);
    const vlen = get(p + 4) & 0xffff;
    const entries = p + 12;
    switch (kind) {
      case BtfKind.VAR:
        if (has("datasec")) break;
        toByteInt(p);
        rewritten.add("datasec");
        break;
      case BtfKind.DECL_TAG: {
        const target = btf.kindOf(get(p + 8));
        const component = get(p + 12) | 0;
        // A tag on a variable needs VAR, one on a parameter a FUNC (a TYPEDEF carries only whole-type tags).
        const stranded = (target === BtfKind.VAR && !has("datasec")) || (target === BtfKind.FUNC && component !== -1 && !has("func"));
        if (has("declTag") && !stranded) break;
        toByteInt(p);
        rewritten.add(has("declTag") ? (target === BtfKind.VAR ? "datasec" : "func") : "declTag");
        break;
      }
      case BtfKind.DATASEC: {
        const name = btf.stringAt(get(p));
        if (!has("datasec")) {
          set(p, identifierAt(get(p), "datasec"));
          set(p + 4, info(BtfKind.STRUCT, vlen));
          // The kernel wants struct members in offset order.
          const vars = Array.from({ length: vlen }, (_, j) => ({ type: get(entries + j * 12), offset: get(entries + j * 12 + 4) })).sort((a, b) => a.offset - b.offset);
          vars.forEach((v, j) => {
            const m = entries + j * 12;
            // Named after the variable (its record keeps its name offset when it becomes an INT).
            const varName = v.type >= btf.firstId && v.type < btf.typeCount ? nameOffsetOf(btf, v.type) : 0;
            set(m, varName === 0 ? 0 : identifierAt(varName, "var"));
            set(m + 4, v.type);
            set(m + 8, v.offset * 8);
          });
          rewritten.add("datasec");
        } else if (name.startsWith("?") && !has("qmarkDatasec")) {
          set(p, addString(`_${name.slice(1)}`));
          rewritten.add("qmarkDatasec");
        }
        break;
      }
      case BtfKind.FUNC_PROTO:
        if (has("func")) break;
        // Parameters are {name, type} pairs, the layout of enum values; the kernel wants every value named.
        set(p + 4, info(BtfKind.ENUM, vlen));
        set(p + 8, 4);
        for (let j = 0; j < vlen; j++) set(entries + j * 8, identifierAt(get(entries + j * 8), "param"));
        rewritten.add("func");
        break;
      case BtfKind.FUNC:
        if (!has("func")) {
          set(p + 4, info(BtfKind.TYPEDEF, 0));
          rewritten.add("func");
        } else if (vlen !== 0 && !has("globalFunc")) {
          set(p + 4, info(BtfKind.FUNC, 0));
          rewritten.add("globalFunc");
        }
        break;
      case BtfKind.FLOAT:
      case BtfKind.TYPE_TAG: {
        // FLOAT → an empty STRUCT of its size, TYPE_TAG → CONST; both anonymous ("float" is no struct name).
        const feature = kind === BtfKind.FLOAT ? "float" : "typeTag";
        if (has(feature)) break;
        set(p, 0);
        set(p + 4, info(kind === BtfKind.FLOAT ? BtfKind.STRUCT : BtfKind.CONST, 0));
        rewritten.add(feature);
        break;
      }
      case BtfKind.ENUM:
        if (has("enum64") || get(p + 4) >>> 31 === 0) break;
        set(p + 4, info(BtfKind.ENUM, vlen));
        rewritten.add("enum64");
        break;
      case BtfKind.ENUM64:
        if (has("enum64")) break;
        placeholder ||= btf.typeCount;
        // Values are {name, lo32, hi32}; members {name, type, bit offset}: names stay, each member a byte at 0.
        set(p + 4, info(BtfKind.UNION, vlen));
        for (let j = 0; j < vlen; j++) {
          set(entries + j * 12 + 4, placeholder);
          set(entries + j * 12 + 8, 0);
        }
        rewritten.add("enum64");
        break;
    }
  }
  if (rewritten.size === 0) return { bytes: blob, rewritten: [] };

  // The placeholder: a 1-byte, 8-bit INT, named with an appended string too.
  const extra = placeholder ? [addString("enum64_placeholder"), info(BtfKind.INT, 0), 1, 8] : [];
  const whole = new Uint8Array(blob);
  whole.set(types, typeStart);
  // `appended` lists its strings in the order of their offsets.
  return { bytes: appendToBtf(whole, le, extra, [...appended.keys()]), rewritten: ALL_FEATURES.filter((f) => rewritten.has(f)) };
}

/** The name offset in type `id`'s record. */
function nameOffsetOf(btf: Btf, id: number): number {
  const dv = new DataView(btf.bytes.buffer, btf.bytes.byteOffset, btf.bytes.byteLength);
  return dv.getUint32(btf.recordOffset(id), btf.littleEndian);
}

// ---------------------------------------------------------------- probes

/** A tiny blob that uses the feature, as libbpf's probes in features.c (names kept apart so each blob stands alone). */
function probeBlob(feature: BtfFeature): Uint8Array {
  const b = new BtfBuilder();
  const int = (name = "int"): number => b.add({ kind: BtfKind.INT, name, size: 4, encoding: 1, offset: 0, bits: 32 });
  const func = (linkage: number): void => {
    const i = int();
    const proto = b.add({ kind: BtfKind.FUNC_PROTO, name: "", returnType: 0, params: [{ name: "a", type: i }] });
    b.add({ kind: BtfKind.FUNC, name: "x", type: proto, linkage });
  };
  const datasec = (name: string): void => {
    const v = b.add({ kind: BtfKind.VAR, name: "x", type: int(""), linkage: 0 });
    b.add({ kind: BtfKind.DATASEC, name, size: 4, vars: [{ type: v, offset: 0, size: 4 }] });
  };
  switch (feature) {
    case "func":
      func(0);
      break;
    case "globalFunc":
      func(1);
      break;
    case "datasec":
      datasec(".data");
      break;
    case "qmarkDatasec":
      datasec("?.data");
      break;
    case "float":
      b.add({ kind: BtfKind.FLOAT, name: "float", size: 4 });
      break;
    case "declTag": {
      const v = b.add({ kind: BtfKind.VAR, name: "x", type: int(""), linkage: 0 });
      b.add({ kind: BtfKind.DECL_TAG, name: "tag", type: v, componentIdx: -1 });
      break;
    }
    case "typeTag": {
      const tag = b.add({ kind: BtfKind.TYPE_TAG, name: "tag", type: int("") });
      b.add({ kind: BtfKind.PTR, name: "", type: tag });
      break;
    }
    case "enum64":
      b.add({ kind: BtfKind.ENUM64, name: "enum64", size: 8, signed: false, values: [] });
      break;
  }
  return b.toBytes();
}

const probed = new WeakMap<Sys, Map<BtfFeature, boolean>>();

/** Whether the kernel behind `sys` loads a blob that uses `feature`; asked once per `Sys`. */
export function kernelHasBtfFeature(sys: Sys, feature: BtfFeature): boolean {
  let known = probed.get(sys);
  if (!known) probed.set(sys, (known = new Map()));
  let answer = known.get(feature);
  if (answer === undefined) {
    try {
      sys.close(sys.btfLoad({ data: probeBlob(feature) }).fd);
      answer = true;
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      answer = false;
    }
    known.set(feature, answer);
  }
  return answer;
}


/**
 * The object's BTF (DATASECs already completed) made loadable by the kernel behind `sys`: only the features the
 * blob uses are probed; `overrides` answers for the kernel (tests force "unsupported" with it).
 */
export function btfForKernel(sys: Sys, blob: Uint8Array, overrides: Partial<BtfFeatures> = {}): SanitizedBtf {
  const used = btfFeaturesUsed(parseBtf(blob));
  const supported: Partial<BtfFeatures> = {};
  for (const f of used) supported[f] = overrides[f] ?? kernelHasBtfFeature(sys, f);
  return sanitizeBtf(blob, supported);
}
