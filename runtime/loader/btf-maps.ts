// BTF-defined maps: the definitions of `.maps` variables read from the object's BTF, as libbpf reads them.
// Takes a `BpfObject` and its `.maps` section; gives one `MapDefinition` per variable. Each variable is a struct
// whose members encode the map: `__uint(name, N)` is `int (*name)[N]` (N is the array length) for type,
// max_entries, key_size, value_size, map_flags, pinning; `__type(key|value, T)` is `T *key` (the size is sizeof(T)).
// `__array(values, T)` is `T *values[]`, the last member: for a program array T is a function type, for a map of
// maps T is the inner maps' definition. Its initializer (`.values = { [1] = &prog }`) is a relocation per slot in
// the `.maps` section, against the program or map that goes there.

import { BtfKind, type BtfMember, type BtfStruct } from "../../compiler/btf/types.js";
import { parseBtf, type Btf } from "../../compiler/btf/parse.js";
import type { BpfDataRelocation, BpfMapSection, BpfObject } from "../../compiler/elf/read.js";
import { R_BPF } from "../../compiler/elf/types.js";
import { MapType } from "../sys/constants.js";
import { ObjectError } from "./errors.js";
import type { BtfMapReader, MapDefinition, MapShape, MapSlot } from "./object.js";

/** Reads every map of a `.maps` section; plugs into `parseObject({ btfMaps })`. */
export const readBtfMaps: BtfMapReader = (object: BpfObject, section: BpfMapSection): MapDefinition[] => {
  const btf = parseBtf(object.btf!);
  const datasec = btf.find(section.name, BtfKind.DATASEC);
  if (!datasec || datasec.kind !== BtfKind.DATASEC) throw new ObjectError(`the object's BTF has no ${section.name} DATASEC describing its maps`);
  const symbols = new Map(section.maps.map((s) => [s.name, s]));
  const defs = datasec.vars.map((v): ParsedMap => {
    const variable = btf.typeById(v.type);
    if (variable.kind !== BtfKind.VAR) throw new ObjectError(`${section.name}: entry [${v.type}] is not a variable`);
    // clang may leave DATASEC offsets at 0; the ELF symbol has the real one (libbpf fixes the BTF the same way).
    const symbol = symbols.get(variable.name);
    const offset = symbol?.offset ?? v.offset;
    const { def, valuesAt } = readDefinition(btf, variable.name, variable.type, false);
    return { name: variable.name, offset, size: symbol?.size || v.size, ...def, valuesAt, slots: [] };
  });
  readSlots(object, section, defs);
  return defs.map(({ size, valuesAt, ...d }) => d);
};

/** A definition while the section's relocations are read: where its `values` member starts, and its size. */
interface ParsedMap extends MapDefinition {
  size: number;
  valuesAt: number | undefined;
}

const MAP_IN_MAP: ReadonlySet<number> = new Set([MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS]);

interface ReadDefinition {
  def: Omit<MapDefinition, "name" | "offset">;
  /** Byte offset of the `values` member in the struct; undefined without one. */
  valuesAt: number | undefined;
}

function readDefinition(btf: Btf, name: string, typeId: number, inner: boolean): ReadDefinition {
  const def = btf.resolveType(typeId);
  if (def.kind !== BtfKind.STRUCT) throw new ObjectError(`map ${name}: its definition is not a struct`);
  const out: MapShape = { type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0 };
  let keySize: number | undefined;
  let valueSize: number | undefined;
  let pinning: MapDefinition["pinning"];
  let values: BtfMember | undefined;
  const members = (def as BtfStruct).members;
  for (const m of members) {
    switch (m.name) {
      case "type":
        out.type = uintMember(btf, name, m.name, m.type);
        break;
      case "max_entries":
        out.maxEntries = uintMember(btf, name, m.name, m.type);
        break;
      case "map_flags":
        out.flags = uintMember(btf, name, m.name, m.type);
        break;
      case "key_size":
        keySize = setOnce(name, "key size", keySize, uintMember(btf, name, m.name, m.type));
        break;
      case "value_size":
        valueSize = setOnce(name, "value size", valueSize, uintMember(btf, name, m.name, m.type));
        break;
      case "key":
        keySize = setOnce(name, "key size", keySize, pointeeSize(btf, name, m.name, m.type));
        break;
      case "value":
        valueSize = setOnce(name, "value size", valueSize, pointeeSize(btf, name, m.name, m.type));
        break;
      case "numa_node":
        out.numaNode = uintMember(btf, name, m.name, m.type);
        break;
      case "map_extra":
        out.mapExtra = longMember(btf, name, m.name, m.type);
        break;
      case "pinning": {
        const p = uintMember(btf, name, m.name, m.type);
        if (p !== 0 && p !== 1) throw new ObjectError(`map ${name}: pinning ${p} is neither LIBBPF_PIN_NONE (0) nor LIBBPF_PIN_BY_NAME (1)`);
        if (p === 1 && inner) throw new ObjectError(`map ${name}: an inner map definition cannot be pinned`);
        pinning = p === 1 ? "by-name" : "none";
        break;
      }
      case "values":
        if (inner) throw new ObjectError(`map ${name}: an inner map cannot itself hold maps (maps of maps of maps are not supported)`);
        if (m !== members.at(-1)) throw new ObjectError(`map ${name}: values must be the last member of the definition`);
        values = m;
        break;
      default:
        throw new ObjectError(`map ${name}: unknown map attribute ${m.name}`);
    }
  }
  if (out.type === 0) throw new ObjectError(`map ${name}: no map type (__uint(type, ...))`);
  let innerShape: MapShape | undefined;
  if (values) {
    innerShape = readValues(btf, name, out.type, values.type);
    // Slots hold program or map fds going in and ids coming out: 4 bytes.
    valueSize = setOnce(name, "value size", valueSize, 4);
  } else if (MAP_IN_MAP.has(out.type)) {
    throw new ObjectError(`map ${name}: a map of maps needs __array(values, struct {...}) to describe its inner maps`);
  }
  const shape = { ...out, keySize: keySize ?? 0, valueSize: valueSize ?? 0 };
  return { def: { ...shape, pinning, inner: innerShape }, valuesAt: values && values.bitOffset / 8 };
}

/** `T *values[]`: T is a function type for a program array, the inner definition (returned) for a map of maps. */
function readValues(btf: Btf, name: string, mapType: number, typeId: number): MapShape | undefined {
  const isProgArray = mapType === MapType.PROG_ARRAY;
  if (!isProgArray && !MAP_IN_MAP.has(mapType)) throw new ObjectError(`map ${name}: values are for program arrays and maps of maps only, not map type ${mapType}`);
  const arr = btf.resolveType(typeId);
  if (arr.kind !== BtfKind.ARRAY || arr.nelems !== 0) throw new ObjectError(`map ${name}: values is not written as __array(values, T) (a T *values[] with no size)`);
  const ptr = btf.resolveType(arr.type);
  if (ptr.kind !== BtfKind.PTR) throw new ObjectError(`map ${name}: values is not an array of pointers`);
  const target = btf.resolveType(ptr.type);
  if (isProgArray) {
    if (target.kind !== BtfKind.FUNC_PROTO) throw new ObjectError(`map ${name}: a program array's values are functions: __array(values, int (void *))`);
    return undefined;
  }
  if (target.kind !== BtfKind.STRUCT) throw new ObjectError(`map ${name}: a map of maps' values are an inner map definition: __array(values, struct {...})`);
  const { def } = readDefinition(btf, `${name}.inner`, target.id, true);
  return { type: def.type, keySize: def.keySize, valueSize: def.valueSize, maxEntries: def.maxEntries, flags: def.flags, ...(def.mapExtra !== undefined ? { mapExtra: def.mapExtra } : {}), ...(def.numaNode !== undefined ? { numaNode: def.numaNode } : {}) };
}

/** Relocations in `.maps` are initial values: slot i of a map's `values` is 8 bytes at i * 8 past the member's start. */
function readSlots(object: BpfObject, section: BpfMapSection, defs: ParsedMap[]): void {
  const byOffset = [...defs].sort((a, b) => a.offset - b.offset);
  for (const r of section.relocations) {
    const where = `${section.name} relocation at offset ${r.offset} (against ${r.symbol || "?"})`;
    if (r.type !== R_BPF.R_64_64 && r.type !== R_BPF.R_64_ABS64) throw new ObjectError(`${where}: relocation type ${r.type} is not a 64-bit address`);
    const owner = byOffset.filter((d) => d.offset <= r.offset).at(-1);
    if (!owner || (owner.size > 0 && r.offset >= owner.offset + owner.size)) throw new ObjectError(`${where}: lies in no map definition`);
    const rel = r.offset - owner.offset - (owner.valuesAt ?? 0);
    if (owner.valuesAt === undefined || rel < 0 || rel % 8 !== 0) throw new ObjectError(`${where}: map ${owner.name} has initial values only in a values member (__array)`);
    const index = rel / 8;
    if (index >= owner.maxEntries) throw new ObjectError(`map ${owner.name}: initial value [${index}] is past its ${owner.maxEntries} entries`);
    if (owner.keySize !== 4) throw new ObjectError(`map ${owner.name}: initial values need a 4-byte key (the slot index), not ${owner.keySize} bytes`);
    owner.slots!.push({ index, ...slotTarget(object, section, owner, defs, r) });
  }
  for (const d of defs) d.slots!.sort((a, b) => a.index - b.index);
}

function slotTarget(object: BpfObject, section: BpfMapSection, owner: ParsedMap, defs: ParsedMap[], r: BpfDataRelocation): Omit<MapSlot, "index"> {
  const at = r.symbolValue + r.addend;
  if (owner.type === MapType.PROG_ARRAY) {
    const program = object.programs.find((p) => p.sectionIndex === r.symbolSectionIndex && p.offset * 8 === at);
    if (!program) {
      const sub = object.subprograms.find((p) => p.sectionIndex === r.symbolSectionIndex && p.offset * 8 === at);
      const why = sub ? `${sub.name} is a sub-program (a static function or one in .text), not a program of its own SEC()` : "it is not a program";
      throw new ObjectError(`map ${owner.name}: cannot put ${r.symbol || "?"} in the program array: ${why}`);
    }
    return { kind: "program", name: program.name };
  }
  const target = r.symbolSectionIndex === section.index ? defs.find((d) => d.offset === at) : undefined;
  if (!target) throw new ObjectError(`map ${owner.name}: initial value ${r.symbol || "?"} is not a map of ${section.name}`);
  if (target === owner) throw new ObjectError(`map ${owner.name}: a map of maps cannot hold itself`);
  return { kind: "map", name: target.name };
}

function setOnce(map: string, what: string, old: number | undefined, value: number): number {
  if (old !== undefined && old !== value) throw new ObjectError(`map ${map}: conflicting ${what}s ${old} and ${value}`);
  return value;
}

/** `int (*name)[N]` gives N. */
function uintMember(btf: Btf, map: string, member: string, typeId: number): number {
  const ptr = btf.resolveType(typeId);
  if (ptr.kind !== BtfKind.PTR) throw new ObjectError(`map ${map}: ${member} is not written as __uint(${member}, N)`);
  const arr = btf.resolveType(ptr.type);
  if (arr.kind !== BtfKind.ARRAY) throw new ObjectError(`map ${map}: ${member} is not written as __uint(${member}, N)`);
  return arr.nelems;
}

/**
 * `__uint(map_extra, N)`, or libbpf 1.4's `__ulong(map_extra, N)`: an anonymous enum whose one value is N, the way to
 * write a 64-bit value (an arena's address) in a definition.
 */
function longMember(btf: Btf, map: string, member: string, typeId: number): bigint {
  const t = btf.resolveType(typeId);
  if (t.kind === BtfKind.PTR) return BigInt(uintMember(btf, map, member, typeId));
  if ((t.kind === BtfKind.ENUM || t.kind === BtfKind.ENUM64) && t.values.length === 1) {
    return BigInt.asUintN(t.kind === BtfKind.ENUM ? 32 : 64, BigInt(t.values[0]!.value));
  }
  throw new ObjectError(`map ${map}: ${member} is not written as __uint(${member}, N) or __ulong(${member}, N)`);
}

/** `T *name` gives sizeof(T). */
function pointeeSize(btf: Btf, map: string, member: string, typeId: number): number {
  const ptr = btf.resolveType(typeId);
  if (ptr.kind !== BtfKind.PTR) throw new ObjectError(`map ${map}: ${member} is not written as __type(${member}, T)`);
  return btf.sizeOf(ptr.type);
}
