// CO-RE (compile once, run everywhere): relocation kinds, access strings, and resolving one
// relocation recorded against an object's (local) BTF to the value it must take on a target
// BTF (the running kernel's vmlinux): candidates by essential name, fields matched by name
// through the access path (and through anonymous members), then byte offset, size, existence,
// signedness, bitfield shifts, type ids/sizes or enumerator values, as libbpf computes them.
// Takes two Btf objects and a relocation; gives a CoreResult (a value or a readable failure).

import type { Btf } from "./parse.js";
import { BtfError, BtfKind, isAnyEnum, isComposite, type BtfArray, type BtfType } from "./types.js";

export const CoreReloKind = {
  FIELD_BYTE_OFFSET: 0,
  FIELD_BYTE_SIZE: 1,
  FIELD_EXISTS: 2,
  FIELD_SIGNED: 3,
  FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5,
  TYPE_ID_LOCAL: 6,
  TYPE_ID_TARGET: 7,
  TYPE_EXISTS: 8,
  TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10,
  ENUMVAL_VALUE: 11,
  TYPE_MATCHES: 12,
} as const;
export type CoreReloKindNumber = (typeof CoreReloKind)[keyof typeof CoreReloKind];

const KIND_NAMES = Object.keys(CoreReloKind);
/** "FIELD_BYTE_OFFSET", ... */
export function coreReloKindName(kind: number): string {
  return KIND_NAMES[kind] ?? `KIND_${kind}`;
}

export const isFieldReloKind = (k: number): boolean => k <= CoreReloKind.FIELD_RSHIFT_U64;
export const isTypeReloKind = (k: number): boolean =>
  (k >= CoreReloKind.TYPE_ID_LOCAL && k <= CoreReloKind.TYPE_SIZE) || k === CoreReloKind.TYPE_MATCHES;
export const isEnumReloKind = (k: number): boolean => k === CoreReloKind.ENUMVAL_EXISTS || k === CoreReloKind.ENUMVAL_VALUE;

/** Deepest access path libbpf accepts. */
export const CORE_SPEC_MAX_LEN = 64;

/** "0:1:2" -> [0, 1, 2]; BtfError for anything else. */
export function parseAccessString(access: string): number[] {
  if (!/^\d+(:\d+)*$/.test(access)) throw new BtfError(`CO-RE: access string ${JSON.stringify(access)} is malformed`);
  const raw = access.split(":").map(Number);
  if (raw.length > CORE_SPEC_MAX_LEN) throw new BtfError(`CO-RE: access string has ${raw.length} steps (at most ${CORE_SPEC_MAX_LEN})`);
  if (raw.some((n) => n > 0x7fffffff)) throw new BtfError(`CO-RE: access index in ${JSON.stringify(access)} is too large`);
  return raw;
}

/** The name without a `___flavour` suffix: `task_struct___v2` -> `task_struct`. */
export function essentialName(name: string): string {
  const i = name.indexOf("___");
  return i > 0 ? name.slice(0, i) : name;
}

/** One high-level step: a named member of `typeId` (struct/union) or an index into an array of `typeId` elements. */
export interface CoreAccessor {
  typeId: number;
  idx: number;
  /** Member or enumerator name; undefined for array indices. */
  name?: string;
}

/** A relocation's access path evaluated on one BTF. */
export interface CoreSpec {
  btf: Btf;
  rootId: number;
  kind: number;
  /** Raw indices, one per access-string step (including anonymous members). */
  raw: number[];
  accessors: CoreAccessor[];
  bitOffset: number;
}

export interface CoreRelocation {
  /** Root type id in the local BTF. */
  typeId: number;
  /** Access string ("0:1:2"; "0" for type relocations; enumerator index for enum relocations). */
  access: string;
  /** CoreReloKind. */
  kind: number;
  /** Byte offset of the instruction (for messages only). */
  insnOff?: number;
}

export interface CoreResultOk {
  ok: true;
  kind: number;
  /** The value to patch in (0/1 for existence checks). */
  value: bigint;
  /** The value the compiler assumed from the local BTF (undefined when the local spec has none, e.g. bitfield offsets are not comparable). */
  localValue: bigint | undefined;
  /** Matched target root id; 0 when nothing matched (existence checks then give 0). */
  targetId: number;
  /** Target access path (raw indices) when a field matched. */
  targetAccess?: string;
  /** For FIELD_BYTE_OFFSET of a non-bitfield: the field's byte size on the target (load/store width). */
  fieldSize?: number;
  /** The same field's byte size in the local BTF: a load/store is resized only when the two differ (libbpf's orig_sz). */
  localFieldSize?: number;
  /** False when the sizes differ but the field is neither a pointer nor an unsigned integer on both sides:
   *  resizing would change the value, so a load/store of it is poisoned (libbpf's fail_memsz_adjust). */
  resizable?: boolean;
  /** For FIELD_RSHIFT_U64: whether the target's field is signed, so an arithmetic shift is the one that reads it. */
  fieldSigned?: boolean;
  /** Candidate ids that matched. */
  matched: number[];
}
export interface CoreResultError {
  ok: false;
  kind: number;
  /** libbpf poisons the instruction rather than failing the load (the probe must not reach it). */
  poison: boolean;
  error: string;
}
export type CoreResult = CoreResultOk | CoreResultError;

function skipMods(btf: Btf, id: number): { id: number; t: BtfType } {
  const rid = btf.resolve(id);
  return { id: rid, t: btf.typeById(rid) };
}

/** libbpf's kind compatibility: same kind, or both enums (32/64-bit). */
function kindsCompat(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));
}

function isFlexArray(btf: Btf, prev: CoreAccessor | undefined, arr: BtfArray): boolean {
  if (arr.nelems !== 0 || !prev || prev.name === undefined) return false;
  const parent = btf.typeById(prev.typeId);
  return isComposite(parent) && prev.idx === parent.members.length - 1;
}

function describe(btf: Btf, id: number): string {
  return `${btf.typeName(id)} [${id}]`;
}

/** Evaluates a relocation's access string on the local BTF (libbpf's spec parse). */
export function parseCoreSpec(btf: Btf, typeId: number, access: string, kind: number): CoreSpec {
  const raw = parseAccessString(access);
  const spec: CoreSpec = { btf, rootId: typeId, kind, raw, accessors: [], bitOffset: 0 };
  if (isTypeReloKind(kind)) {
    if (access !== "0") throw new BtfError(`CO-RE: type relocation ${coreReloKindName(kind)} needs access "0", got ${JSON.stringify(access)}`);
    return spec;
  }
  let { id, t } = skipMods(btf, typeId);
  spec.accessors.push({ typeId: id, idx: raw[0]! });
  if (isEnumReloKind(kind)) {
    if (!isAnyEnum(t) || raw.length > 1 || raw[0]! >= t.values.length) throw new BtfError(`CO-RE: enum relocation ${access} does not name an enumerator of ${describe(btf, typeId)}`);
    spec.accessors[0]!.name = t.values[raw[0]!]!.name;
    return spec;
  }
  if (!isFieldReloKind(kind)) throw new BtfError(`CO-RE: unknown relocation kind ${kind}`);
  spec.bitOffset = raw[0]! * btf.sizeOf(id) * 8;
  for (let i = 1; i < raw.length; i++) {
    ({ id, t } = skipMods(btf, id));
    const idx = raw[i]!;
    if (isComposite(t)) {
      const m = t.members[idx];
      if (!m) throw new BtfError(`CO-RE: access ${access} step ${i} (${idx}) is past the members of ${describe(btf, id)}`);
      spec.bitOffset += m.bitOffset;
      if (m.name) spec.accessors.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === BtfKind.ARRAY) {
      const elem = skipMods(btf, t.type);
      if (!isFlexArray(btf, spec.accessors[spec.accessors.length - 1], t) && idx >= t.nelems) {
        throw new BtfError(`CO-RE: access ${access} indexes ${idx} past ${describe(btf, id)}`);
      }
      id = elem.id;
      spec.accessors.push({ typeId: id, idx });
      spec.bitOffset += idx * btf.sizeOf(id) * 8;
    } else {
      throw new BtfError(`CO-RE: access ${access} step ${i} enters ${describe(btf, id)}, which is neither struct, union nor array`);
    }
  }
  return spec;
}

/** Whether two field types are compatible for CO-RE (libbpf's rules: composites, enums, pointers, same-kind scalars, arrays by element). */
function fieldsCompat(local: Btf, lid: number, target: Btf, tid: number): boolean {
  for (let depth = 0; depth < 32; depth++) {
    const l = skipMods(local, lid).t;
    const t = skipMods(target, tid).t;
    if (isComposite(l) && isComposite(t)) return true;
    if (!kindsCompat(l, t)) return false;
    switch (l.kind) {
      case BtfKind.PTR:
      case BtfKind.FLOAT:
        return true;
      case BtfKind.FWD:
      case BtfKind.ENUM:
      case BtfKind.ENUM64: {
        const a = essentialName(l.name);
        const b = essentialName(t.name);
        return a === "" || b === "" || a === b;
      }
      case BtfKind.INT:
        return l.offset === 0 && (t as typeof l).offset === 0;
      case BtfKind.ARRAY:
        lid = l.type;
        tid = (t as BtfArray).type;
        continue;
      default:
        return false;
    }
  }
  throw new BtfError("CO-RE: field types nest too deeply");
}

/** libbpf's type compatibility for TYPE_* relocations (structure only by name and kind). */
export function typesCompat(local: Btf, lid: number, target: Btf, tid: number, level = 32): boolean {
  if (!kindsCompat(local.typeById(lid), target.typeById(tid))) return false;
  for (let depth = 0; depth < 32; depth++) {
    const l = skipMods(local, lid).t;
    const t = skipMods(target, tid).t;
    if (!kindsCompat(l, t)) return false;
    switch (l.kind) {
      case BtfKind.UNKN:
      case BtfKind.STRUCT:
      case BtfKind.UNION:
      case BtfKind.ENUM:
      case BtfKind.ENUM64:
      case BtfKind.FWD:
        return true;
      case BtfKind.INT:
        return l.offset === 0 && (t as typeof l).offset === 0;
      case BtfKind.PTR:
      case BtfKind.ARRAY:
        lid = l.type;
        tid = (t as typeof l).type;
        continue;
      case BtfKind.FUNC_PROTO: {
        const tp = t as typeof l;
        if (l.params.length !== tp.params.length || level <= 0) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (!typesCompat(local, skipMods(local, l.params[i]!.type).id, target, skipMods(target, tp.params[i]!.type).id, level - 1)) return false;
        }
        lid = l.returnType;
        tid = tp.returnType;
        continue;
      }
      default:
        return false;
    }
  }
  throw new BtfError("CO-RE: types nest too deeply");
}

function namesMatch(a: string, b: string): boolean {
  if (b === "") return a === "";
  return essentialName(a) === essentialName(b);
}

/** libbpf's stricter TYPE_MATCHES: members and enumerators present by name with matching types, ints of equal size and sign. */
function typesMatch(local: Btf, lid: number, target: Btf, tid: number, behindPtr: boolean, level: number): boolean {
  if (level <= 0) throw new BtfError("CO-RE: types nest too deeply");
  for (let depth = 0; depth < 32; depth++) {
    const l = skipMods(local, lid).t;
    const t = skipMods(target, tid).t;
    if (!namesMatch(l.name, t.name)) return false;
    switch (l.kind) {
      case BtfKind.UNKN:
        return t.kind === BtfKind.UNKN;
      case BtfKind.FWD:
        if (t.kind === BtfKind.FWD) return l.union === t.union;
        return behindPtr && ((t.kind === BtfKind.STRUCT && !l.union) || (t.kind === BtfKind.UNION && l.union));
      case BtfKind.ENUM:
      case BtfKind.ENUM64:
        if (!isAnyEnum(t) || l.size !== t.size || l.values.length > t.values.length) return false;
        return l.values.every((lv) => t.values.some((tv) => namesMatch(lv.name, tv.name)));
      case BtfKind.STRUCT:
      case BtfKind.UNION:
        if (behindPtr) {
          if (t.kind === l.kind) return true;
          return t.kind === BtfKind.FWD && t.union === (l.kind === BtfKind.UNION);
        }
        if (t.kind !== l.kind || l.members.length > t.members.length) return false;
        return l.members.every((lm) =>
          t.members.some((tm) => namesMatch(lm.name, tm.name) && typesMatch(local, lm.type, target, tm.type, behindPtr, level - 1)),
        );
      case BtfKind.INT:
        return t.kind === BtfKind.INT && l.size === t.size && (l.encoding & 1) === (t.encoding & 1);
      case BtfKind.PTR:
        if (t.kind !== BtfKind.PTR) return false;
        behindPtr = true;
        lid = l.type;
        tid = t.type;
        continue;
      case BtfKind.ARRAY:
        if (t.kind !== BtfKind.ARRAY || l.nelems !== t.nelems) return false;
        lid = l.type;
        tid = t.type;
        continue;
      case BtfKind.FUNC_PROTO: {
        if (t.kind !== BtfKind.FUNC_PROTO || l.params.length !== t.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (!typesMatch(local, l.params[i]!.type, target, t.params[i]!.type, behindPtr, level - 1)) return false;
        }
        lid = l.returnType;
        tid = t.returnType;
        continue;
      }
      default:
        return false;
    }
  }
  throw new BtfError("CO-RE: types nest too deeply");
}

/** Why a candidate did not match (the first candidate's reason is reported). */
type Miss = { miss: string };

/** Finds local named member `acc` inside target composite `tid` (descending into anonymous members); pushes raw steps onto `spec`. */
function matchMember(local: Btf, acc: CoreAccessor, target: Btf, tid: number, spec: CoreSpec): { next: number } | undefined | Miss {
  const { id, t } = skipMods(target, tid);
  if (!isComposite(t)) return undefined;
  const lm = (local.typeById(acc.typeId) as { members: { type: number }[] }).members[acc.idx]!;
  for (let i = 0; i < t.members.length; i++) {
    const m = t.members[i]!;
    if (spec.raw.length >= CORE_SPEC_MAX_LEN) throw new BtfError("CO-RE: target access path is too deep");
    spec.bitOffset += m.bitOffset;
    spec.raw.push(i);
    if (m.name === "") {
      const found = matchMember(local, acc, target, m.type, spec);
      if (found) return found;
    } else if (m.name === acc.name) {
      if (!fieldsCompat(local, lm.type, target, m.type)) {
        return { miss: `field ${acc.name} of ${describe(target, id)} has type ${target.typeName(m.type)}, incompatible with local ${local.typeName(lm.type)}` };
      }
      spec.accessors.push({ typeId: id, idx: i, name: m.name });
      return { next: m.type };
    }
    spec.bitOffset -= m.bitOffset;
    spec.raw.pop();
  }
  return undefined;
}

/** Matches a local spec against target candidate `targetId`: the target spec, or why not. */
function matchSpec(localSpec: CoreSpec, target: Btf, targetId: number): CoreSpec | Miss {
  const local = localSpec.btf;
  const spec: CoreSpec = { btf: target, rootId: targetId, kind: localSpec.kind, raw: [], accessors: [], bitOffset: 0 };
  const kind = localSpec.kind;
  if (isTypeReloKind(kind)) {
    const ok =
      kind === CoreReloKind.TYPE_MATCHES
        ? typesMatch(local, localSpec.rootId, target, targetId, false, 32)
        : typesCompat(local, localSpec.rootId, target, targetId);
    return ok ? spec : { miss: `${describe(target, targetId)} is not compatible with local ${describe(local, localSpec.rootId)}` };
  }
  const acc0 = localSpec.accessors[0]!;
  if (isEnumReloKind(kind)) {
    const { id, t } = skipMods(target, targetId);
    if (!isAnyEnum(t)) return { miss: `${describe(target, id)} is not an enum` };
    const want = essentialName(acc0.name!);
    const i = t.values.findIndex((v) => essentialName(v.name) === want);
    if (i < 0) return { miss: `${describe(target, id)} has no enumerator ${acc0.name}` };
    spec.accessors.push({ typeId: id, idx: i, name: t.values[i]!.name });
    spec.raw.push(i);
    return spec;
  }
  let tid = targetId;
  for (let i = 0; i < localSpec.accessors.length; i++) {
    const acc = localSpec.accessors[i]!;
    const cur = skipMods(target, tid);
    tid = cur.id;
    if (acc.name !== undefined) {
      const found = matchMember(local, acc, target, tid, spec);
      if (!found) return { miss: `the target has no field ${acc.name} in ${describe(target, tid)}` };
      if ("miss" in found) return found;
      tid = found.next;
    } else {
      if (i > 0) {
        if (cur.t.kind !== BtfKind.ARRAY) return { miss: `${describe(target, tid)} is not an array (local indexes it)` };
        if (!isFlexArray(target, spec.accessors[spec.accessors.length - 1], cur.t) && acc.idx >= cur.t.nelems) {
          return { miss: `index ${acc.idx} is past ${describe(target, tid)}` };
        }
        tid = skipMods(target, cur.t.type).id;
      }
      if (spec.raw.length >= CORE_SPEC_MAX_LEN) throw new BtfError("CO-RE: target access path is too deep");
      spec.accessors.push({ typeId: tid, idx: acc.idx });
      spec.raw.push(acc.idx);
      spec.bitOffset += acc.idx * target.sizeOf(tid) * 8;
    }
  }
  return spec;
}

const isSigned = (t: BtfType): boolean => (isAnyEnum(t) && t.signed) || (t.kind === BtfKind.INT && (t.encoding & 1) === 1);

interface Calc {
  value: bigint;
  /** For FIELD_RSHIFT_U64: whether the field is signed (the shift must then be arithmetic). */
  signed?: boolean;
  fieldSize?: number;
  /** The field's type (modifiers and typedefs skipped) when fieldSize is set. */
  fieldType?: BtfType;
  /** False when the value cannot be compared with the compiler's (bitfield layout). */
  comparable: boolean;
}

/** How a bitfield is read: `byteSize` bytes at `byteOffset` into the low bytes of a zeroed u64, then `<<= lshift`, `>>= rshift`. */
export interface BitfieldLoad {
  byteOffset: number;
  byteSize: 1 | 2 | 4 | 8;
  lshift: number;
  rshift: number;
}

/**
 * libbpf's bitfield arithmetic (little-endian) for a bitfield of `bitSize` bits at `bitOffset` from the access's root,
 * declared with an integer type of `typeSize` bytes: the smallest naturally aligned unit, from the type's size up,
 * that holds every bit. Undefined when no 8-byte unit does.
 */
export function bitfieldLoad(bitOffset: number, bitSize: number, typeSize: number): BitfieldLoad | undefined {
  let byteSize = typeSize;
  let byteOffset = Math.floor(bitOffset / 8 / byteSize) * byteSize;
  while (bitOffset + bitSize - byteOffset * 8 > byteSize * 8) {
    if (byteSize >= 8) return undefined;
    byteSize *= 2;
    byteOffset = Math.floor(bitOffset / 8 / byteSize) * byteSize;
  }
  if (byteSize !== 1 && byteSize !== 2 && byteSize !== 4 && byteSize !== 8) return undefined;
  return { byteOffset, byteSize, lshift: 64 - (bitOffset + bitSize - byteOffset * 8), rshift: 64 - bitSize };
}

/** The value of a field relocation for a matched spec (libbpf's field arithmetic, little-endian). */
function calcField(spec: CoreSpec): Calc {
  const kind = spec.kind;
  if (kind === CoreReloKind.FIELD_EXISTS) return { value: 1n, comparable: true };
  const btf = spec.btf;
  const acc = spec.accessors[spec.accessors.length - 1]!;
  if (acc.name === undefined) {
    // The path ends on an array element (or the root): only offset and size make sense.
    const size = btf.sizeOf(acc.typeId);
    if (kind === CoreReloKind.FIELD_BYTE_OFFSET) return { value: BigInt(spec.bitOffset >>> 3), fieldSize: size, fieldType: skipMods(btf, acc.typeId).t, comparable: true };
    if (kind === CoreReloKind.FIELD_BYTE_SIZE) return { value: BigInt(size), comparable: true };
    throw new BtfError(`CO-RE: ${coreReloKindName(kind)} cannot apply to an array element access`);
  }
  const parent = btf.typeById(acc.typeId) as { members: { type: number; bitfieldSize: number }[] };
  const m = parent.members[acc.idx]!;
  const mt = skipMods(btf, m.type);
  const bitOff = spec.bitOffset;
  let bitSz = m.bitfieldSize;
  let byteSz: number;
  let byteOff: number;
  const bitfield = bitSz > 0;
  if (bitfield) {
    const load = bitfieldLoad(bitOff, bitSz, btf.sizeOf(mt.id));
    if (!load) throw new BtfError(`CO-RE: bitfield ${acc.name} cannot be read with one 64-bit load`);
    ({ byteOffset: byteOff, byteSize: byteSz } = load);
  } else {
    byteSz = btf.sizeOf(mt.id);
    byteOff = bitOff >>> 3;
    bitSz = byteSz * 8;
  }
  switch (kind) {
    case CoreReloKind.FIELD_BYTE_OFFSET:
      return bitfield ? { value: BigInt(byteOff), comparable: false } : { value: BigInt(byteOff), fieldSize: byteSz, fieldType: mt.t, comparable: true };
    case CoreReloKind.FIELD_BYTE_SIZE:
      return { value: BigInt(byteSz), comparable: !bitfield };
    case CoreReloKind.FIELD_SIGNED:
      return { value: isSigned(mt.t) ? 1n : 0n, comparable: true };
    case CoreReloKind.FIELD_LSHIFT_U64:
      return { value: BigInt(64 - (bitOff + bitSz - byteOff * 8)), comparable: !bitfield };
    case CoreReloKind.FIELD_RSHIFT_U64:
      return { value: BigInt(64 - bitSz), signed: isSigned(mt.t), comparable: true };
    default:
      throw new BtfError(`CO-RE: unknown field relocation kind ${kind}`);
  }
}

function calcType(spec: CoreSpec | undefined, localId: number): bigint {
  if (spec === undefined) return 0n; // type relocations give 0 for a missing type
  switch (spec.kind) {
    case CoreReloKind.TYPE_ID_LOCAL:
      return BigInt(localId);
    case CoreReloKind.TYPE_ID_TARGET:
      return BigInt(spec.rootId);
    case CoreReloKind.TYPE_EXISTS:
    case CoreReloKind.TYPE_MATCHES:
      return 1n;
    case CoreReloKind.TYPE_SIZE:
      return BigInt(spec.btf.sizeOf(spec.rootId));
    default:
      throw new BtfError(`CO-RE: unknown type relocation kind ${spec.kind}`);
  }
}

function calcEnum(spec: CoreSpec): bigint {
  if (spec.kind === CoreReloKind.ENUMVAL_EXISTS) return 1n;
  const t = spec.btf.typeById(spec.accessors[0]!.typeId);
  if (!isAnyEnum(t)) throw new BtfError("CO-RE: enum accessor does not point at an enum");
  return BigInt(t.values[spec.accessors[0]!.idx]!.value);
}

function calc(spec: CoreSpec, localId: number): Calc {
  if (isTypeReloKind(spec.kind)) return { value: calcType(spec, localId), comparable: true };
  if (isEnumReloKind(spec.kind)) return { value: calcEnum(spec), comparable: true };
  return calcField(spec);
}

/** Target types that could stand for local type `localId`: same essential name and compatible kind. */
export function coreCandidates(local: Btf, localId: number, target: Btf): number[] {
  const lt = local.typeById(localId);
  const name = essentialName(lt.name);
  if (name === "") return [];
  return target.findIdsByEssentialName(name).filter((id) => kindsCompat(lt, target.typeById(id)));
}

/** Resolves one CO-RE relocation of `local` BTF against `target` BTF. */
export function resolveCoreRelo(local: Btf, relo: CoreRelocation, target: Btf): CoreResult {
  const kind = relo.kind;
  const fail = (error: string, poison = false): CoreResultError => ({ ok: false, kind, poison, error });
  let localSpec: CoreSpec;
  try {
    localSpec = parseCoreSpec(local, relo.typeId, relo.access, kind);
  } catch (e) {
    if (e instanceof BtfError) return fail(e.message);
    throw e;
  }
  try {
    if (kind === CoreReloKind.TYPE_ID_LOCAL) {
      return { ok: true, kind, value: BigInt(relo.typeId), localValue: BigInt(relo.typeId), targetId: 0, matched: [] };
    }
    const lt = local.typeById(relo.typeId);
    if (essentialName(lt.name) === "") return fail(`CO-RE: relocation on anonymous ${describe(local, relo.typeId)} has no name to look up`);
    const localCalc = calc(localSpec, relo.typeId);
    const cands = coreCandidates(local, relo.typeId, target);
    let chosen: { spec: CoreSpec; calc: Calc } | undefined;
    const matched: number[] = [];
    const misses: string[] = [];
    for (const cid of cands) {
      const r = matchSpec(localSpec, target, cid);
      if ("miss" in r) {
        misses.push(r.miss);
        continue;
      }
      const c = calc(r, relo.typeId);
      if (chosen && (chosen.calc.value !== c.value || chosen.calc.fieldSize !== c.fieldSize)) {
        return fail(
          `CO-RE: ambiguous ${coreReloKindName(kind)} for ${describe(local, relo.typeId)} access ${relo.access}: ` +
            `candidates [${chosen.spec.rootId}] gives ${chosen.calc.value}, [${cid}] gives ${c.value}`,
        );
      }
      chosen ??= { spec: r, calc: c };
      matched.push(cid);
    }
    const localValue = localCalc.comparable ? localCalc.value : undefined;
    if (chosen) {
      const res: CoreResultOk = { ok: true, kind, value: chosen.calc.value, localValue, targetId: chosen.spec.rootId, matched };
      if (isFieldReloKind(kind)) res.targetAccess = chosen.spec.raw.join(":");
      if (chosen.calc.signed !== undefined) res.fieldSigned = chosen.calc.signed;
      if (chosen.calc.fieldSize !== undefined) {
        res.fieldSize = chosen.calc.fieldSize;
        res.localFieldSize = localCalc.fieldSize;
        if (localCalc.fieldSize !== chosen.calc.fieldSize) res.resizable = resizableField(localCalc.fieldType, chosen.calc.fieldType);
      }
      return res;
    }
    // Nothing matched: existence checks answer 0; type relocations give 0; the rest poison the instruction.
    if (kind === CoreReloKind.FIELD_EXISTS || kind === CoreReloKind.ENUMVAL_EXISTS || isTypeReloKind(kind)) {
      return { ok: true, kind, value: 0n, localValue, targetId: 0, matched };
    }
    const what = describeAccess(localSpec);
    const reason = cands.length === 0 ? `the target BTF has no ${local.typeName(relo.typeId)}` : misses[0]!;
    return fail(`CO-RE: cannot relocate ${what} (${coreReloKindName(kind)}): ${reason}`, true);
  } catch (e) {
    if (e instanceof BtfError) return fail(e.message);
    throw e;
  }
}

/** A field whose size differs between local and target BTF reads the same value at the new width only when both
 *  sides are pointers or both unsigned integers (zero extension keeps the value; libbpf's rule). */
function resizableField(local: BtfType | undefined, target: BtfType | undefined): boolean {
  if (local?.kind === BtfKind.PTR && target?.kind === BtfKind.PTR) return true;
  return local?.kind === BtfKind.INT && target?.kind === BtfKind.INT && (local.encoding & 1) === 0 && (target.encoding & 1) === 0;
}

/** The local access in C-ish form: `struct task_struct::pid`, `enum foo::BAR`. */
export function describeAccess(spec: CoreSpec): string {
  let s = spec.btf.typeName(spec.rootId);
  for (let i = 0; i < spec.accessors.length; i++) {
    const a = spec.accessors[i]!;
    if (a.name !== undefined) s += (i === 0 ? "::" : ".") + a.name;
    else if (i > 0 || a.idx !== 0) s += `[${a.idx}]`;
  }
  return s;
}
