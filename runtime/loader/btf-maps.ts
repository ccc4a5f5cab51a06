// BTF-defined maps: the definitions of `.maps` variables read from the object's BTF, as libbpf reads them.
// Takes a `BpfObject` and its `.maps` section; gives one `MapDefinition` per variable. Each variable is a struct
// whose members encode the map: `__uint(name, N)` is `int (*name)[N]` (N is the array length) for type,
// max_entries, key_size, value_size, map_flags; `__type(key|value, T)` is `T *key` (the size is sizeof(T)).

import { BtfKind, type BtfStruct } from "../../compiler/btf/types.js";
import { parseBtf, type Btf } from "../../compiler/btf/parse.js";
import type { BpfMapSection, BpfObject } from "../../compiler/elf/read.js";
import { ObjectError } from "./errors.js";
import type { BtfMapReader, MapDefinition } from "./object.js";

/** Reads every map of a `.maps` section; plugs into `parseObject({ btfMaps })`. */
export const readBtfMaps: BtfMapReader = (object: BpfObject, section: BpfMapSection): MapDefinition[] => {
  const btf = parseBtf(object.btf!);
  const datasec = btf.find(section.name, BtfKind.DATASEC);
  if (!datasec || datasec.kind !== BtfKind.DATASEC) throw new ObjectError(`the object's BTF has no ${section.name} DATASEC describing its maps`);
  const offsets = new Map(section.maps.map((s) => [s.name, s.offset]));
  return datasec.vars.map((v) => {
    const variable = btf.typeById(v.type);
    if (variable.kind !== BtfKind.VAR) throw new ObjectError(`${section.name}: entry [${v.type}] is not a variable`);
    // clang may leave DATASEC offsets at 0; the ELF symbol has the real one (libbpf fixes the BTF the same way).
    const offset = offsets.get(variable.name) ?? v.offset;
    return { name: variable.name, offset, ...readDefinition(btf, variable.name, variable.type) };
  });
};

function readDefinition(btf: Btf, name: string, typeId: number): Omit<MapDefinition, "name" | "offset"> {
  const def = btf.resolveType(typeId);
  if (def.kind !== BtfKind.STRUCT) throw new ObjectError(`map ${name}: its definition is not a struct`);
  const out = { type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0 };
  let keySize: number | undefined;
  let valueSize: number | undefined;
  for (const m of (def as BtfStruct).members) {
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
      case "map_extra":
        if (uintMember(btf, name, m.name, m.type) !== 0) throw new ObjectError(`map ${name}: ${m.name} is not supported yet`);
        break;
      case "pinning":
        if (uintMember(btf, name, m.name, m.type) !== 0) throw new ObjectError(`map ${name}: pinning is not supported yet`);
        break;
      case "values":
        throw new ObjectError(`map ${name}: initial values (maps of maps, program arrays) are not supported yet`);
      default:
        throw new ObjectError(`map ${name}: unknown map attribute ${m.name}`);
    }
  }
  if (out.type === 0) throw new ObjectError(`map ${name}: no map type (__uint(type, ...))`);
  return { ...out, keySize: keySize ?? 0, valueSize: valueSize ?? 0 };
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

/** `T *name` gives sizeof(T). */
function pointeeSize(btf: Btf, map: string, member: string, typeId: number): number {
  const ptr = btf.resolveType(typeId);
  if (ptr.kind !== BtfKind.PTR) throw new ObjectError(`map ${map}: ${member} is not written as __type(${member}, T)`);
  return btf.sizeOf(ptr.type);
}
