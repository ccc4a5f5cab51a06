// BTF for compiled objects: what clang emits for the same C, so libbpf and the verifier show
// TypeScript source lines. Takes the placed programs (section, byte offset, per-slot source
// positions), the `.rodata` strings and the source text; gives `.BTF`, `.BTF.ext` (func info and
// line info), each program's records as BPF_PROG_LOAD takes them, and the `.rodata` variables
// (libbpf matches each BTF VAR of a DATASEC to an ELF symbol of the same name).
//
// Types: `int (void *ctx)` for every program (a FUNC with global linkage, named after it),
// `const char[N]` VARs in a `.rodata` DATASEC, one per printk format, and one VAR per map in a
// `.maps` DATASEC, typed as clang types libbpf's `__uint`/`__type` macros: an anonymous struct whose
// `__uint(name, N)` members are `int (*name)[N]` and whose `__type(key, T)` members are `T *key`.
// Key and value types are typedefs of C integer types (`u32` is `unsigned int`), `_Bool` for
// `boolean` (an INT with BOOL encoding, as clang emits it), `char[N]` for `Str<N>`, arrays, and
// named structs at their C layout.

import { BtfBuilder, BtfExtBuilder, BtfFuncLinkage, BtfIntEncoding, BtfKind, BtfVarLinkage, CoreReloKind, encodeKernelInfo, EVENT_TAG, KERNEL_STACK_TYPEDEF, markTags, KSYM_TYPEDEF, PROBE_TYPEDEF, USER_STACK_TYPEDEF, packLineCol, type KernelExtInfo } from "../btf/index.js";
import { accessSteps, memberBitOffset, membersRead, type KernelMember, type KernelScalar, type KernelStruct } from "../frontend/kernel-types.js";
import type { CoreAccess, Layout, Loc, MapDef } from "../ir/index.js";

export interface BtfProgram {
  name: string;
  section: string;
  /** Byte offset of the program in its section. */
  offset: number;
  /** Source position of each slot. */
  lines: readonly (Loc | undefined)[];
  /** Where the handler starts, for slots with no position of their own. */
  loc?: Loc;
  /** Slots whose imm is a kernel struct member's offset. */
  core?: readonly ({ insn: number } & CoreAccess)[];
  /** Decl tags on the program's FUNC (a perf_event program's `tsbpf:perf_event=...`). */
  tags?: readonly string[];
}

import { U32, bssSize, type BssVar, type KernelEnumeration, type RodataVar } from "../ir/index.js";
export type { RodataVar };

export interface ObjectBtf {
  btf: Uint8Array;
  ext: Uint8Array;
  /** Per program, by name: func_info and line_info for BPF_PROG_LOAD (instruction indices from the program's start). */
  kernel: Map<string, { funcInfo: KernelExtInfo; lineInfo: KernelExtInfo }>;
  rodataVars: RodataVar[];
}

/** A local struct's type id and each member's index in it, for access strings. */
interface LocalStruct {
  id: number;
  index: Map<string, number>;
}

/**
 * Local definitions of the kernel structs the programs read: only the members read (or walked
 * through to a nested struct's), at their offsets in the compiling machine's kernel (libbpf matches
 * members by name against the running kernel). Gives each struct's type id and each member's index.
 */
function localStructs(btf: BtfBuilder, programs: readonly BtfProgram[], structs: ReadonlyMap<string, KernelStruct>): Map<string, LocalStruct> {
  const used = membersRead(programs.flatMap((p) => p.core ?? []), structs);
  const ints = new Map<string, number>();
  const intType = (size: number, signed: boolean): number => {
    const name = `${signed ? "__s" : "__u"}${size * 8}`;
    let id = ints.get(name);
    if (id === undefined) ints.set(name, (id = btf.add({ kind: BtfKind.INT, name, size, encoding: signed ? BtfIntEncoding.SIGNED : 0, offset: 0, bits: size * 8 })));
    return id;
  };
  let voidPtr: number | undefined;
  let arrayIndex: number | undefined;
  const enums = new Map<string, number>();
  // libbpf and the kernel match an enum member only with an enum of the same name (or an anonymous one), never an
  // integer: an empty enum of the kernel's name and size, ENUM64 at 8 bytes as LLVM writes it.
  const enumType = (name: string, size: number, signed: boolean): number => {
    const key = `${name}/${size}/${signed}`;
    let id = enums.get(key);
    if (id === undefined) enums.set(key, (id = btf.add(size === 8 ? { kind: BtfKind.ENUM64, name, size, signed, values: [] } : { kind: BtfKind.ENUM, name, size, signed, values: [] })));
    return id;
  };
  const scalarType = (m: KernelScalar): number =>
    m.kind === "ptr" ? (voidPtr ??= btf.add({ kind: BtfKind.PTR, name: "", type: 0 })) : m.enum !== undefined ? enumType(m.enum, m.size, m.signed) : intType(m.size, m.signed);
  const out = new Map<string, LocalStruct>();
  // Ids first: a struct's member may be a struct defined after it.
  for (const name of used.keys()) out.set(name, { id: btf.reserve(), index: new Map() });
  const memberType = (m: KernelMember): number => {
    if (m.kind === "struct") return out.get(m.struct)!.id;
    if (m.kind !== "array") return scalarType(m);
    arrayIndex ??= btf.add({ kind: BtfKind.INT, name: "__ARRAY_SIZE_TYPE__", size: 4, encoding: 0, offset: 0, bits: 32 });
    return btf.add({ kind: BtfKind.ARRAY, name: "", type: scalarType(m.element), indexType: arrayIndex, nelems: m.length });
  };
  for (const [name, members] of used) {
    const s = structs.get(name)!;
    const list = [...members].map((m) => s.members.get(m)!).sort((a, b) => memberBitOffset(a) - memberBitOffset(b));
    const local = out.get(name)!;
    const btfMembers = list.map((m, i) => {
      local.index.set(m.name, i);
      // A bitfield as clang describes one (the builder sets kind_flag): its bit offset and width, so CO-RE computes its unit and shifts.
      const bits = m.kind === "int" && m.bitfield;
      return { name: m.name, type: memberType(m), bitOffset: bits ? bits.bitOffset : m.offset * 8, bitfieldSize: bits ? bits.bits : 0 };
    });
    btf.set(local.id, { kind: s.union ? BtfKind.UNION : BtfKind.STRUCT, name, size: s.size, members: btfMembers });
  }
  return out;
}

/** The access string of a relocation against the local structs: "0", then a member index per step, then the element. */
function accessString(r: CoreAccess, local: ReadonlyMap<string, LocalStruct>, structs: ReadonlyMap<string, KernelStruct>): string {
  const steps = [0, ...accessSteps(r, structs).map(({ struct, member }) => local.get(struct.name)!.index.get(member.name)!)];
  if (r.index !== undefined) steps.push(r.index);
  return steps.join(":");
}

/** The NUL-terminated strings of `.rodata`, as variables (a module that holds more lists them, IrModule.rodataVars). */
export function rodataVars(rodata: Uint8Array): RodataVar[] {
  const vars: RodataVar[] = [];
  let start = 0;
  for (let i = 0; i < rodata.length; i++) {
    if (rodata[i] === 0) {
      vars.push({ name: `__tsbpf_fmt_${vars.length}`, offset: start, size: i + 1 - start, kind: "string" });
      start = i + 1;
    }
  }
  return vars;
}

/** Size of one map definition in `.maps`: the struct of pointers clang emits (8 bytes per member). */
export function mapDefSize(m: MapDef): number {
  return 8 * mapMembers(m).length;
}

function mapMembers(m: MapDef): [string, number | Layout][] {
  const out: [string, number | Layout][] = [["type", m.type], ["max_entries", m.maxEntries]];
  if (m.key !== undefined) out.push(typeof m.key === "number" ? ["key_size", m.key] : ["key", m.key]);
  if (m.value !== undefined) out.push(typeof m.value === "number" ? ["value_size", m.value] : ["value", m.value]);
  if (m.flags) out.push(["map_flags", m.flags]);
  return out;
}

/** `u32` and the other typedefs (stack ids: compiler/btf/tags.ts's, `tsbpf_kstack_5` for a limit), or `_Bool`, which clang emits as a base type of its own. */
export function intTypedefName(l: Layout & { kind: "int" }): string {
  if (l.type.probe) return PROBE_TYPEDEF;
  if (l.type.ksym) return KSYM_TYPEDEF;
  if (l.type.stack) return `${l.type.stack === "kernel" ? KERNEL_STACK_TYPEDEF : USER_STACK_TYPEDEF}${l.type.frames ? `_${l.type.frames}` : ""}`;
  return l.type.bool ? "_Bool" : `${l.type.ptr ? "u" : l.type.signed ? "i" : "u"}${l.type.bits}`;
}

const C_INTS: Readonly<Record<string, string>> = {
  u8: "unsigned char", u16: "unsigned short", u32: "unsigned int", u64: "unsigned long long",
  i8: "signed char", i16: "short", i32: "int", i64: "long long",
};

/** The C integer type the typedef of intTypedefName() stands for. */
export const cIntName = (l: Layout & { kind: "int" }): string => C_INTS[`${l.type.ptr || !l.type.signed ? "u" : "i"}${l.type.bits}`]!;

/** A kernel enum with all its enumerators, as a map's key or value, a record's field or a parameter holds it. */
function enumBtf(e: KernelEnumeration, size: number, signed: boolean) {
  return size === 8
    ? { kind: BtfKind.ENUM64, name: e.name, size: 8, signed, values: e.values.map(([name, value]) => ({ name, value })) }
    : { kind: BtfKind.ENUM, name: e.name, size, signed, values: e.values.map(([name, value]) => ({ name, value: Number(value) })) };
}

/**
 * Adds a layout's BTF types to `btf` as the object declares them (`u32` a typedef of `unsigned int`, structs by name),
 * each once; `once` is the table shared with the caller's own types.
 */
function layoutTypes(btf: BtfBuilder, once: (key: string, make: () => number) => number): (l: Layout) => number {
  const index = once("__ARRAY_SIZE_TYPE__", () => btf.add({ kind: BtfKind.INT, name: "__ARRAY_SIZE_TYPE__", size: 4, encoding: 0, offset: 0, bits: 32 }));
  const char = once("char", () => btf.add({ kind: BtfKind.INT, name: "char", size: 1, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 8 }));
  const typeOf = (l: Layout): number => {
    switch (l.kind) {
      case "int": {
        const e = l.type.enumeration;
        if (e) return once(`enum ${e.name}/${l.size}`, () => btf.add(enumBtf(e, l.size, l.type.signed)));
        const name = intTypedefName(l);
        if (l.type.bool) return once(name, () => btf.add({ kind: BtfKind.INT, name, size: 1, encoding: BtfIntEncoding.BOOL, offset: 0, bits: 8 }));
        return once(name, () => {
          const c = once(cIntName(l), () => btf.add({ kind: BtfKind.INT, name: cIntName(l), size: l.size, encoding: l.type.signed ? BtfIntEncoding.SIGNED : 0, offset: 0, bits: l.size * 8 }));
          return btf.add({ kind: BtfKind.TYPEDEF, name, type: c });
        });
      }
      case "str":
        return once(`char[${l.size}]`, () => btf.add({ kind: BtfKind.ARRAY, name: "", type: char, indexType: index, nelems: l.size }));
      case "array": {
        const element = typeOf(l.element);
        return once(`${element}[${l.length}]`, () => btf.add({ kind: BtfKind.ARRAY, name: "", type: element, indexType: index, nelems: l.length }));
      }
      case "struct":
        return once(`struct ${l.name}`, () => {
          const id = btf.reserve();
          const members = l.fields.map((f) => ({ name: f.name, type: typeOf(f.layout), bitOffset: f.offset * 8, bitfieldSize: 0 }));
          btf.set(id, { kind: BtfKind.STRUCT, name: l.name, size: l.size, members });
          return id;
        });
    }
  };
  return typeOf;
}

/** A table of BTF ids by key, each made the first time it is asked for. */
function typeTable(): (key: string, make: () => number) => number {
  const types = new Map<string, number>();
  return (key, make) => {
    let id = types.get(key);
    if (id === undefined) types.set(key, (id = make()));
    return id;
  };
}

/**
 * BTF holding `structs` (and what they contain) alone: the probe file's own structs, for tests that place one in
 * simulated memory. One read only with readUser<T>() is in no map or record, so the object's BTF lacks it.
 */
export function structsBtf(structs: readonly Layout[]): Uint8Array {
  const btf = new BtfBuilder();
  const typeOf = layoutTypes(btf, typeTable());
  for (const s of structs) typeOf(s);
  return btf.toBytes();
}

/** Adds the `.maps` DATASEC: one VAR per map, typed as clang types a BTF-defined map. */
function addMaps(btf: BtfBuilder, maps: readonly MapDef[], int: number): void {
  const once = typeTable();
  const index = once("__ARRAY_SIZE_TYPE__", () => btf.add({ kind: BtfKind.INT, name: "__ARRAY_SIZE_TYPE__", size: 4, encoding: 0, offset: 0, bits: 32 }));
  const typeOf = layoutTypes(btf, once);
  let offset = 0;
  const secinfo = maps.map((m) => {
    const members = mapMembers(m).map(([name, v], i) => {
      const target = typeof v === "number"
        ? once(`int[${v}]`, () => btf.add({ kind: BtfKind.ARRAY, name: "", type: int, indexType: index, nelems: v }))
        : typeOf(v);
      return { name, type: btf.add({ kind: BtfKind.PTR, name: "", type: target }), bitOffset: i * 64, bitfieldSize: 0 };
    });
    const size = members.length * 8;
    const struct = btf.add({ kind: BtfKind.STRUCT, name: "", size, members });
    const variable = btf.add({ kind: BtfKind.VAR, name: m.name, type: struct, linkage: BtfVarLinkage.GLOBAL_ALLOCATED });
    for (const tag of mapTagValues(btf, m, typeOf)) btf.add({ kind: BtfKind.DECL_TAG, name: tag, type: variable, componentIdx: -1 });
    const at = offset;
    offset += size;
    return { type: variable, offset: at, size };
  });
  btf.add({ kind: BtfKind.DATASEC, name: ".maps", size: offset, vars: secinfo });
}

/** The compiler/btf/tags.ts tags of a map; the event type is emitted (as `typeOf` does) so its name resolves. */
function mapTagValues(btf: BtfBuilder, m: MapDef, typeOf: (l: Layout) => number): string[] {
  const tags = markTags(m);
  if (m.event) {
    const type = typeOf(m.event);
    let name: string;
    if (m.event.kind === "struct") name = `struct ${m.event.name}`;
    else if (m.event.kind === "int") name = m.event.type.enumeration ? `enum ${m.event.type.enumeration.name}` : intTypedefName(m.event);
    else {
      // Str<N> and arrays have no name of their own: a typedef gives them one.
      name = `${m.name}_event`;
      btf.add({ kind: BtfKind.TYPEDEF, name, type });
    }
    tags.push(EVENT_TAG + name);
  }
  return tags;
}

export function buildBtf(
  programs: readonly BtfProgram[],
  structs: ReadonlyMap<string, KernelStruct>,
  rodata: Uint8Array,
  fileName: string,
  sourceText: string,
  maps: readonly MapDef[] = [],
  vars: readonly RodataVar[] = rodataVars(rodata),
  bss: readonly BssVar[] = [],
): ObjectBtf {
  const btf = new BtfBuilder();
  const ext = new BtfExtBuilder(btf);
  const int = btf.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const voidPtr = btf.add({ kind: BtfKind.PTR, name: "", type: 0 });
  const proto = btf.add({ kind: BtfKind.FUNC_PROTO, name: "", returnType: int, params: [{ name: "ctx", type: voidPtr }] });
  const sourceLines = sourceText.split("\n").map((l) => l.replace(/\r$/, ""));
  const kernel = new Map<string, { funcInfo: KernelExtInfo; lineInfo: KernelExtInfo }>();
  const local = localStructs(btf, programs, structs);

  for (const p of programs) {
    const func = btf.add({ kind: BtfKind.FUNC, name: p.name, type: proto, linkage: BtfFuncLinkage.GLOBAL });
    for (const tag of p.tags ?? []) btf.add({ kind: BtfKind.DECL_TAG, name: tag, type: func, componentIdx: -1 });
    ext.addFuncInfo(p.section, p.offset, func);
    const lineRecords: number[][] = [];
    let last: Loc | undefined;
    p.lines.forEach((loc, slot) => {
      // One record where the position changes; a slot without one continues the previous line.
      const here = loc ?? last ?? p.loc ?? { line: 1, column: 1 };
      if (slot > 0 && last && here.line === last.line && here.column === last.column) return;
      if (slot > 0 && loc === undefined) return;
      last = here;
      const text = sourceLines[here.line - 1] ?? "";
      ext.addLineInfo(p.section, p.offset + slot * 8, fileName, text, here.line, here.column);
      lineRecords.push([slot, btf.addString(fileName), btf.addString(text), packLineCol(here.line, here.column)]);
    });
    kernel.set(p.name, { funcInfo: encodeKernelInfo(8, [[0, func]]), lineInfo: encodeKernelInfo(16, lineRecords) });
    for (const r of p.core ?? []) {
      ext.addCoreRelo(p.section, p.offset + r.insn * 8, local.get(r.struct)!.id, accessString(r, local, structs), r.kind ?? CoreReloKind.FIELD_BYTE_OFFSET);
    }
  }

  if (vars.length) {
    const strings = vars.some((v) => v.kind === "string");
    const char = strings ? btf.add({ kind: BtfKind.INT, name: "char", size: 1, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 8 }) : 0;
    const constChar = strings ? btf.add({ kind: BtfKind.CONST, name: "", type: char }) : 0;
    const index = strings || vars.some((v) => v.dimensions) ? btf.add({ kind: BtfKind.INT, name: "__ARRAY_SIZE_TYPE__", size: 4, encoding: 0, offset: 0, bits: 32 }) : 0;
    const secinfo = vars.map((v) => {
      if (v.kind === "int") {
        // As clang writes `const volatile unsigned int` (`const volatile unsigned int name[4]`, the qualifiers on its
        // elements): a knob the loader sets, global so that it can be found by name.
        const t = v.type ?? U32;
        const l = { kind: "int" as const, type: t, size: (t.bits / 8) as 1 | 2 | 4 | 8, align: t.bits / 8 };
        const e = t.enumeration;
        // A kernel enum's parameter is that enum, so that `tsbpf run --set` takes its enumerators' names.
        const int = e
          ? btf.add(enumBtf(e, l.size, t.signed))
          : v.chars
            ? btf.add({ kind: BtfKind.INT, name: "char", size: 1, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 8 })
          : t.bool
            ? btf.add({ kind: BtfKind.INT, name: "_Bool", size: 1, encoding: BtfIntEncoding.BOOL, offset: 0, bits: 8 })
            : btf.add({ kind: BtfKind.INT, name: cIntName(l), size: l.size, encoding: t.signed ? BtfIntEncoding.SIGNED : 0, offset: 0, bits: t.bits });
        let type = btf.add({ kind: BtfKind.CONST, name: "", type: btf.add({ kind: BtfKind.VOLATILE, name: "", type: int }) });
        for (const length of [...(v.dimensions ?? [])].reverse()) type = btf.add({ kind: BtfKind.ARRAY, name: "", type, indexType: index, nelems: length });
        return { type: btf.add({ kind: BtfKind.VAR, name: v.name, type, linkage: BtfVarLinkage.GLOBAL_ALLOCATED }), offset: v.offset, size: v.size };
      }
      const array = btf.add({ kind: BtfKind.ARRAY, name: "", type: constChar, indexType: index, nelems: v.size });
      const variable = btf.add({ kind: BtfKind.VAR, name: v.name, type: array, linkage: BtfVarLinkage.STATIC });
      return { type: variable, offset: v.offset, size: v.size };
    });
    btf.add({ kind: BtfKind.DATASEC, name: ".rodata", size: rodata.length, vars: secinfo });
  }
  if (bss.length) {
    // As clang describes `unsigned long long name;` at file scope: a global the loader finds by name.
    const u64 = btf.add({ kind: BtfKind.INT, name: "unsigned long long", size: 8, encoding: 0, offset: 0, bits: 64 });
    const secinfo = bss.map((v) => ({ type: btf.add({ kind: BtfKind.VAR, name: v.name, type: u64, linkage: BtfVarLinkage.GLOBAL_ALLOCATED }), offset: v.offset, size: 8 }));
    btf.add({ kind: BtfKind.DATASEC, name: ".bss", size: bssSize(bss), vars: secinfo });
  }
  if (maps.length) addMaps(btf, maps, int);
  // .BTF.ext first: it adds its strings to .BTF's table.
  const extBytes = ext.toBytes();
  return { btf: btf.toBytes(), ext: extBytes, kernel, rodataVars: [...vars] };
}
