// The BPF Type Format data model: kind numbers, flag constants, one record shape per kind
// (a discriminated union on `kind`) and the error type shared by the parser, emitter and CO-RE.
// Takes nothing; gives the types that parse.ts produces and emit.ts consumes.

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
export const BTF_HEADER_LEN = 24;
/** .BTF.ext header with the core_relo fields (what clang writes). */
export const BTF_EXT_HEADER_LEN = 32;
/** The kernel refuses vlen above 16 bits and kinds above this. */
export const BTF_MAX_VLEN = 0xffff;

export const BtfKind = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;
export type BtfKindNumber = (typeof BtfKind)[keyof typeof BtfKind];
export const BTF_KIND_MAX = 19;

const KIND_NAMES = [
  "UNKN", "INT", "PTR", "ARRAY", "STRUCT", "UNION", "ENUM", "FWD", "TYPEDEF", "VOLATILE",
  "CONST", "RESTRICT", "FUNC", "FUNC_PROTO", "VAR", "DATASEC", "FLOAT", "DECL_TAG", "TYPE_TAG", "ENUM64",
];
/** "STRUCT", "FUNC_PROTO", ... as bpftool prints them. */
export function btfKindName(kind: number): string {
  return KIND_NAMES[kind] ?? `KIND_${kind}`;
}
/** Kind number for a name ("struct", "STRUCT", "func_proto"), or undefined. */
export function btfKindByName(name: string): BtfKindNumber | undefined {
  const i = KIND_NAMES.indexOf(name.toUpperCase());
  return i < 0 ? undefined : (i as BtfKindNumber);
}

/** INT encoding bits. */
export const BtfIntEncoding = { SIGNED: 1, CHAR: 2, BOOL: 4 } as const;
/** FUNC linkage (stored in vlen). */
export const BtfFuncLinkage = { STATIC: 0, GLOBAL: 1, EXTERN: 2 } as const;
/** VAR linkage. */
export const BtfVarLinkage = { STATIC: 0, GLOBAL_ALLOCATED: 1, GLOBAL_EXTERN: 2 } as const;

export interface BtfVoid {
  kind: typeof BtfKind.UNKN;
  id: number;
  name: string;
}
export interface BtfInt {
  kind: typeof BtfKind.INT;
  id: number;
  name: string;
  /** Bytes. */
  size: number;
  /** BtfIntEncoding bits. */
  encoding: number;
  /** Bit offset of the value inside the storage (legacy; clang writes 0). */
  offset: number;
  bits: number;
}
export interface BtfPtr {
  kind: typeof BtfKind.PTR;
  id: number;
  name: string;
  type: number;
}
export interface BtfArray {
  kind: typeof BtfKind.ARRAY;
  id: number;
  name: string;
  type: number;
  indexType: number;
  nelems: number;
}
export interface BtfMember {
  name: string;
  type: number;
  /** Bit offset from the start of the struct. */
  bitOffset: number;
  /** Bitfield width, 0 for a plain member (only representable with kindFlag). */
  bitfieldSize: number;
}
export interface BtfStruct {
  kind: typeof BtfKind.STRUCT | typeof BtfKind.UNION;
  id: number;
  name: string;
  size: number;
  /** Members carry bitfield sizes (set by the builder when any member is a bitfield). */
  kindFlag: boolean;
  members: BtfMember[];
}
export interface BtfEnumValue {
  name: string;
  value: number;
}
export interface BtfEnum {
  kind: typeof BtfKind.ENUM;
  id: number;
  name: string;
  size: number;
  signed: boolean;
  values: BtfEnumValue[];
}
export interface BtfEnum64Value {
  name: string;
  value: bigint;
}
export interface BtfEnum64 {
  kind: typeof BtfKind.ENUM64;
  id: number;
  name: string;
  size: number;
  signed: boolean;
  values: BtfEnum64Value[];
}
export interface BtfFwd {
  kind: typeof BtfKind.FWD;
  id: number;
  name: string;
  union: boolean;
}
/** typedef, volatile, const, restrict and type_tag: a name (typedef, tag) and the type they wrap. */
export interface BtfRef {
  kind:
    | typeof BtfKind.TYPEDEF
    | typeof BtfKind.VOLATILE
    | typeof BtfKind.CONST
    | typeof BtfKind.RESTRICT
    | typeof BtfKind.TYPE_TAG;
  id: number;
  name: string;
  type: number;
}
export interface BtfFunc {
  kind: typeof BtfKind.FUNC;
  id: number;
  name: string;
  /** A FUNC_PROTO id. */
  type: number;
  /** BtfFuncLinkage. */
  linkage: number;
}
export interface BtfParam {
  /** Empty for unnamed parameters; a last param of type 0 means "...". */
  name: string;
  type: number;
}
export interface BtfFuncProto {
  kind: typeof BtfKind.FUNC_PROTO;
  id: number;
  name: string;
  returnType: number;
  params: BtfParam[];
}
export interface BtfVar {
  kind: typeof BtfKind.VAR;
  id: number;
  name: string;
  type: number;
  /** BtfVarLinkage. */
  linkage: number;
}
export interface BtfVarSecinfo {
  /** A VAR (or FUNC for externs) id. */
  type: number;
  offset: number;
  size: number;
}
export interface BtfDatasec {
  kind: typeof BtfKind.DATASEC;
  id: number;
  name: string;
  size: number;
  vars: BtfVarSecinfo[];
}
export interface BtfFloat {
  kind: typeof BtfKind.FLOAT;
  id: number;
  name: string;
  size: number;
}
export interface BtfDeclTag {
  kind: typeof BtfKind.DECL_TAG;
  id: number;
  name: string;
  type: number;
  /** -1 for the type itself, else member or parameter index. */
  componentIdx: number;
}

export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfPtr
  | BtfArray
  | BtfStruct
  | BtfEnum
  | BtfEnum64
  | BtfFwd
  | BtfRef
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A type to add to a BtfBuilder: no id; STRUCT/UNION kindFlag may be left out (then derived). */
export type BtfTypeInit =
  | DistributiveOmit<Exclude<BtfType, BtfStruct | BtfVoid>, "id">
  | (Omit<BtfStruct, "id" | "kindFlag"> & { kindFlag?: boolean });

/** Malformed BTF or .BTF.ext, an unknown id, or an impossible request. */
export class BtfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BtfError";
  }
}

/** Kinds that only qualify another type (skipped by `resolve`). */
export function isModifierKind(kind: number): boolean {
  return (
    kind === BtfKind.TYPEDEF ||
    kind === BtfKind.VOLATILE ||
    kind === BtfKind.CONST ||
    kind === BtfKind.RESTRICT ||
    kind === BtfKind.TYPE_TAG
  );
}
export const isComposite = (t: BtfType): t is BtfStruct => t.kind === BtfKind.STRUCT || t.kind === BtfKind.UNION;
export const isAnyEnum = (t: BtfType): t is BtfEnum | BtfEnum64 => t.kind === BtfKind.ENUM || t.kind === BtfKind.ENUM64;
