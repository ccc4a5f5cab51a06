// LLVM debug metadata for a probe file: what LLVM's BPF target turns into `.BTF` and `.BTF.ext`.
// Takes the probe file (name and text), each program's name and position, instruction positions,
// the `.rodata` formats and the kernel structs read through CO-RE; gives numbered metadata nodes
// (`!N = ...`) and the references instructions attach (`!dbg !N`, `!llvm.preserve.access.index !N`).
//
// One DICompileUnit over one DIFile that embeds the TypeScript text (BTF line info quotes source
// lines, and LLVM reads them from the embedded source), a DISubprogram per program typed
// `long NAME(void *ctx)`, a DILocation per distinct (line, column, program), a DIGlobalVariable of
// type `const char[N]` per printk format (LLVM emits a `.rodata` DATASEC from them), and a
// DICompositeType per kernel struct with the members read at the compiling kernel's offsets (CO-RE
// access strings index these members; libbpf matches them by name against the running kernel).
// BTF-defined maps are globals in `.maps` typed as clang types libbpf's `__uint`/`__type` macros
// (see mapVariable), their key and value types spelled as our own backend spells them (typedefs
// `u32` of `unsigned int`, ...), a Histogram tagged with compiler/btf/tags.ts's `btf_decl_tag`.

import { EVENT_TAG, markTags } from "../btf/tags.js";
import { cIntName, intTypedefName } from "../object/btf.js";
import { memberBitOffset, type KernelMember, type KernelScalar, type KernelStruct } from "../frontend/kernel-types.js";
import { bitfieldLoad } from "../btf/core.js";
import type { IntType, KernelEnumeration, Layout, Loc, MapDef } from "../ir/index.js";

/** A string in LLVM's metadata syntax. */
export function mdString(s: string): string {
  let out = '"';
  for (const b of new TextEncoder().encode(s)) {
    out += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out + '"';
}


export interface DebugStruct {
  /** Metadata id of the DICompositeType. */
  node: number;
  /** The LLVM struct type name (`%struct.NAME`) and its body. */
  llvmName: string;
  llvmBody: string;
  /** Its alignment as LLVM lays it out (1 when packed). */
  align: number;
  /** Per member read: its index among the DI members and its field index in the LLVM struct. */
  members: Map<string, DebugMember>;
}

/** A bitfield's storage unit, from its struct's start (btf/core.ts's arithmetic, as LLVM and libbpf find it). */
function bitfieldUnit(bits: { bitOffset: number; bits: number }, typeSize: number): { byteOffset: number; byteSize: number } {
  return bitfieldLoad(bits.bitOffset, bits.bits, typeSize) ?? { byteOffset: Math.floor(bits.bitOffset / 64) * 8, byteSize: 8 };
}

/** The ABI alignment LLVM gives a member's type (BPF's data layout: integers and pointers by their size, at most 8). */
function llvmAlign(type: string, nested: ReadonlyMap<string, DebugStruct>): number {
  if (type === "ptr") return 8;
  const int = /^i(\d+)$/.exec(type);
  if (int) return Math.min(8, Number(int[1]) / 8);
  const array = /^\[\d+ x (.+)\]$/.exec(type);
  if (array) return llvmAlign(array[1]!, nested);
  for (const s of nested.values()) if (s.llvmName === type) return s.align;
  return 1;
}

export interface DebugMember {
  diIndex: number;
  gepIndex: number;
  /** For an array member: its debug type and LLVM type, for `preserve_array_access_index`. */
  array?: { di: number; llvm: string };
}

export class DebugInfo {
  private readonly nodes: string[] = [];
  private readonly locations = new Map<string, number>();
  private readonly globals: number[] = [];
  /** Record types of ring buffers and perf event arrays (see eventTypesHolder). */
  private readonly eventTypes: number[] = [];
  private readonly basic = new Map<string, number>();
  private readonly typedefs = new Map<string, number>();
  private readonly enums = new Map<string, number>();
  readonly file: number;
  private readonly unit: number;
  private readonly subroutine: number;
  private readonly voidPtr: number;

  constructor(fileName: string, sourceText: string) {
    const slash = fileName.lastIndexOf("/");
    const dir = slash >= 0 ? fileName.slice(0, slash) || "/" : ".";
    const base = slash >= 0 ? fileName.slice(slash + 1) : fileName;
    this.file = this.add(`!DIFile(filename: ${mdString(base)}, directory: ${mdString(dir)}, source: ${mdString(sourceText)})`);
    this.unit = this.reserve();
    this.voidPtr = this.add("!DIDerivedType(tag: DW_TAG_pointer_type, baseType: null, size: 64)");
    const long = this.basicType("long", 64, "DW_ATE_signed");
    this.subroutine = this.add(`!DISubroutineType(types: !{!${long}, !${this.voidPtr}})`);
  }

  private add(text: string): number {
    this.nodes.push(text);
    return this.nodes.length - 1;
  }
  private reserve(): number {
    return this.add("");
  }

  basicType(name: string, bits: number, encoding: string): number {
    const key = `${name}/${bits}/${encoding}`;
    let id = this.basic.get(key);
    if (id === undefined) this.basic.set(key, (id = this.add(`!DIBasicType(name: ${mdString(name)}, size: ${bits}, encoding: ${encoding})`)));
    return id;
  }

  /**
   * A program's DISubprogram and its `ctx` parameter (BTF takes parameter names from the
   * parameter's dbg.value, and the kernel refuses a FUNC whose parameters have no names).
   */
  subprogram(name: string, line: number, tags: readonly string[] = []): { sp: number; ctx: number } {
    const sp = this.reserve();
    const ctx = this.add(`!DILocalVariable(name: "ctx", arg: 1, scope: !${sp}, file: !${this.file}, line: ${line}, type: !${this.voidPtr})`);
    this.nodes[sp] =
      `distinct !DISubprogram(name: ${mdString(name)}, scope: !${this.file}, file: !${this.file}, line: ${line}, type: !${this.subroutine}, scopeLine: ${line}, ` +
      `flags: DIFlagPrototyped | DIFlagAllCallsDescribed, spFlags: DISPFlagDefinition | DISPFlagOptimized, unit: !${this.unit}, retainedNodes: !{!${ctx}}${annotations(tags)})`;
    return { sp, ctx };
  }

  /** The DILocation of a source position inside a program. */
  location(loc: Loc, scope: number): number {
    const key = `${scope}:${loc.line}:${loc.column}`;
    let id = this.locations.get(key);
    if (id === undefined) this.locations.set(key, (id = this.add(`!DILocation(line: ${loc.line}, column: ${loc.column}, scope: !${scope})`)));
    return id;
  }

  /**
   * A `const volatile` integer (or `_Bool`, or an array of either) the loader sets (targetPid()'s, a module-level `let` parameter), global so
   * that it is found by name.
   */
  rodataInt(name: string, t: IntType, line: number, dimensions: readonly number[] = [], chars = false): number {
    const l = { kind: "int" as const, type: t, size: (t.bits / 8) as 1 | 2 | 4 | 8, align: t.bits / 8 };
    const int = t.enumeration
      ? this.enumeration(t.enumeration, t.bits / 8, t.signed)
      : chars
        ? this.basicType("char", 8, "DW_ATE_signed_char")
      : t.bool ? this.basicType("_Bool", 8, "DW_ATE_boolean") : this.basicType(cIntName(l), t.bits, t.signed ? "DW_ATE_signed" : "DW_ATE_unsigned");
    const volatile = this.add(`!DIDerivedType(tag: DW_TAG_volatile_type, baseType: !${int})`);
    const qualified = this.add(`!DIDerivedType(tag: DW_TAG_const_type, baseType: !${volatile})`);
    // An array parameter, as clang describes `const volatile unsigned int name[2][4]`: one array type, a subrange a dimension.
    const bits = dimensions.reduce((a, b) => a * b, t.bits);
    const subranges = dimensions.map((n) => `!DISubrange(count: ${n})`).join(", ");
    const type = dimensions.length ? this.add(`!DICompositeType(tag: DW_TAG_array_type, baseType: !${qualified}, size: ${bits}, elements: !{${subranges}})`) : qualified;
    const variable = this.add(`distinct !DIGlobalVariable(name: ${mdString(name)}, scope: !${this.unit}, file: !${this.file}, line: ${line}, type: !${type}, isLocal: false, isDefinition: true)`);
    const expr = this.add(`!DIGlobalVariableExpression(var: !${variable}, expr: !DIExpression())`);
    this.globals.push(expr);
    return expr;
  }

  /** An `unsigned long long NAME` (a counter in `.bss`); gives its DIGlobalVariableExpression. */
  u64Global(name: string, line: number): number {
    const type = this.basicType("unsigned long long", 64, "DW_ATE_unsigned");
    const variable = this.add(`distinct !DIGlobalVariable(name: ${mdString(name)}, scope: !${this.unit}, file: !${this.file}, line: ${line}, type: !${type}, isLocal: false, isDefinition: true)`);
    const expr = this.add(`!DIGlobalVariableExpression(var: !${variable}, expr: !DIExpression())`);
    this.globals.push(expr);
    return expr;
  }

  /** A `static const char NAME[size]` in `.rodata`; gives its DIGlobalVariableExpression. */
  rodataString(name: string, size: number, line: number): number {
    const char = this.basicType("char", 8, "DW_ATE_signed_char");
    const constChar = this.add(`!DIDerivedType(tag: DW_TAG_const_type, baseType: !${char})`);
    const array = this.add(`!DICompositeType(tag: DW_TAG_array_type, baseType: !${constChar}, size: ${size * 8}, elements: !{!DISubrange(count: ${size})})`);
    const variable = this.add(`distinct !DIGlobalVariable(name: ${mdString(name)}, scope: !${this.unit}, file: !${this.file}, line: ${line}, type: !${array}, isLocal: true, isDefinition: true)`);
    const expr = this.add(`!DIGlobalVariableExpression(var: !${variable}, expr: !DIExpression())`);
    this.globals.push(expr);
    return expr;
  }

  /**
   * A kernel struct holding only the members read (sorted by offset, so access indices match what
   * our own backend emits), and the LLVM struct type `preserve_struct_access_index` walks: a packed
   * struct with byte-array padding between the members. A member embedding a struct takes that
   * struct's types from `nested` (made first).
   */
  struct(s: KernelStruct, read: ReadonlySet<string>, nested: ReadonlyMap<string, DebugStruct>): DebugStruct {
    const list = [...read].map((m) => s.members.get(m)!).sort((a, b) => memberBitOffset(a) - memberBitOffset(b));
    const node = this.reserve();
    const types = list.map((m) => this.memberTypes(m, nested));
    const units = list.map((m) => (m.kind === "int" && m.bitfield ? bitfieldUnit(m.bitfield, m.size) : undefined));
    const elements = list.map((m, i) => {
      const unit = units[i];
      const bits = m.kind === "int" ? m.bitfield : undefined;
      // A bitfield as clang describes one: its width and bit offset, and its storage unit's offset as extraData.
      const place = bits && unit ? `size: ${bits.bits}, offset: ${bits.bitOffset}, flags: DIFlagBitField, extraData: i64 ${unit.byteOffset * 8}` : `size: ${m.size * 8}, offset: ${m.offset * 8}`;
      return this.add(`!DIDerivedType(tag: DW_TAG_member, name: ${mdString(m.name)}, scope: !${node}, file: !${this.file}, baseType: !${types[i]!.di}, ${place})`);
    });
    const tag = s.union ? "DW_TAG_union_type" : "DW_TAG_structure_type";
    this.nodes[node] = `distinct !DICompositeType(tag: ${tag}, name: ${mdString(s.name)}, file: !${this.file}, size: ${s.size * 8}, elements: !{${elements.map((e) => `!${e}`).join(", ")}})`;
    // LLVM's CO-RE pass bounds a bitfield's unit by the record's alignment, which a packed struct's (1) would make a
    // byte: a struct with a bitfield read is not packed, its units typed as integers of their size (so aligned), and a
    // member its type would misalign is bytes instead.
    const packed = units.every((u) => u === undefined);
    const fields: string[] = [];
    const aligns: number[] = [];
    const members = new Map<string, DebugMember>();
    let at = 0;
    let lastUnit: { start: number; end: number; gep: number } | undefined;
    const pad = (to: number): void => {
      if (!s.union && to > at) fields.push(`[${to - at} x i8]`), aligns.push(1);
    };
    list.forEach((m, i) => {
      const unit = units[i];
      if (unit) {
        const start = unit.byteOffset;
        const end = start + unit.byteSize;
        if (lastUnit && start >= lastUnit.start && end <= lastUnit.end) {
          members.set(m.name, { diIndex: i, gepIndex: lastUnit.gep });
          return;
        }
        pad(start);
        const overlaps = !s.union && start < at;
        lastUnit = { start, end, gep: fields.length };
        members.set(m.name, { diIndex: i, gepIndex: fields.length });
        fields.push(overlaps ? `[${Math.max(1, end - at)} x i8]` : `i${unit.byteSize * 8}`);
        aligns.push(overlaps ? 1 : unit.byteSize);
        if (!s.union) at = Math.max(at, end);
        return;
      }
      pad(m.offset);
      const align = packed ? 1 : llvmAlign(types[i]!.llvm, nested);
      const misaligned = !packed && m.offset % align !== 0;
      members.set(m.name, { diIndex: i, gepIndex: s.union ? i : fields.length, ...(m.kind === "array" ? { array: types[i] } : {}) });
      fields.push(misaligned ? `[${m.size} x i8]` : types[i]!.llvm);
      aligns.push(misaligned ? 1 : align);
      if (!s.union) at = Math.max(at, m.offset + m.size);
    });
    if (!s.union && s.size > at) fields.push(`[${s.size - at} x i8]`), aligns.push(1);
    // A union's members all start at 0; LLVM has no union type, so it is walked as a struct of its members.
    const body = `{ ${fields.join(", ")} }`;
    return { node, llvmName: `%struct.${s.name}`, llvmBody: packed ? `<${body}>` : body, align: packed ? 1 : Math.max(1, ...aligns), members };
  }

  /** A kernel struct member's debug type and LLVM type. */
  private memberTypes(m: KernelMember, nested: ReadonlyMap<string, DebugStruct>): { di: number; llvm: string } {
    if (m.kind === "struct") {
      const inner = nested.get(m.struct)!;
      return { di: inner.node, llvm: inner.llvmName };
    }
    if (m.kind !== "array") return this.scalarTypes(m);
    const element = this.scalarTypes(m.element);
    return { di: this.array(element.di, m.length, m.element.size * 8), llvm: `[${m.length} x ${element.llvm}]` };
  }

  /** A kernel enum a map key, value or record holds, with its enumerators (object/btf.ts writes the same), so readers print names. */
  private enumeration(e: KernelEnumeration, size: number, signed: boolean): number {
    const key = `enum ${e.name}/${size}/${signed}/values`;
    let di = this.enums.get(key);
    if (di === undefined) {
      const base = this.basicType(`${signed ? "__s" : "__u"}${size * 8}`, size * 8, signed ? "DW_ATE_signed" : "DW_ATE_unsigned");
      const values = e.values.map(([name, value]) => `!${this.add(`!DIEnumerator(name: ${mdString(name)}, value: ${value}${signed ? "" : ", isUnsigned: true"})`)}`);
      this.enums.set(key, (di = this.add(`!DICompositeType(tag: DW_TAG_enumeration_type, name: ${mdString(e.name)}, file: !${this.file}, baseType: !${base}, size: ${size * 8}, elements: !{${values.join(", ")}})`)));
    }
    return di;
  }

  private scalarTypes(m: KernelScalar): { di: number; llvm: string } {
    if (m.kind === "ptr") return { di: this.voidPtr, llvm: "ptr" };
    const int = this.basicType(`${m.signed ? "__s" : "__u"}${m.size * 8}`, m.size * 8, m.signed ? "DW_ATE_signed" : "DW_ATE_unsigned");
    if (m.enum === undefined) return { di: int, llvm: `i${m.size * 8}` };
    // As object/btf.ts: an enum of the kernel's name, without enumerators (libbpf matches enum members by name);
    // the base type gives BTF its size and sign, and LLVM writes ENUM64 past 32 bits.
    const key = `enum ${m.enum}/${m.size}/${m.signed}`;
    let di = this.enums.get(key);
    if (di === undefined) {
      const name = m.enum ? `name: ${mdString(m.enum)}, ` : "";
      this.enums.set(key, (di = this.add(`!DICompositeType(tag: DW_TAG_enumeration_type, ${name}file: !${this.file}, baseType: !${int}, size: ${m.size * 8}, elements: !{})`)));
    }
    return { di, llvm: `i${m.size * 8}` };
  }

  /** A value layout (map keys and values) as a debug type. */
  layout(l: Layout): number {
    switch (l.kind) {
      case "int": {
        // As object/btf.ts names them: `u32` a typedef of `unsigned int`, pointers as u64, `_Bool` (LLVM's BTF gives it BOOL encoding).
        if (l.type.bool) return this.basicType("_Bool", 8, "DW_ATE_boolean");
        if (l.type.enumeration) return this.enumeration(l.type.enumeration, l.size, l.type.signed);
        const name = intTypedefName(l);
        let id = this.typedefs.get(name);
        if (id === undefined) {
          const base = this.basicType(cIntName(l), l.size * 8, l.type.signed ? "DW_ATE_signed" : "DW_ATE_unsigned");
          this.typedefs.set(name, (id = this.add(`!DIDerivedType(tag: DW_TAG_typedef, name: ${mdString(name)}, file: !${this.file}, baseType: !${base})`)));
        }
        return id;
      }
      case "str":
        return this.array(this.basicType("char", 8, "DW_ATE_signed_char"), l.size, 8);
      case "array":
        return this.array(this.layout(l.element), l.length, l.element.size * 8);
      case "struct": {
        const node = this.reserve();
        const members = l.fields.map((f) =>
          this.add(`!DIDerivedType(tag: DW_TAG_member, name: ${mdString(f.name)}, scope: !${node}, file: !${this.file}, baseType: !${this.layout(f.layout)}, size: ${f.layout.size * 8}, offset: ${f.offset * 8})`),
        );
        this.nodes[node] = `distinct !DICompositeType(tag: DW_TAG_structure_type, name: ${mdString(l.name)}, file: !${this.file}, size: ${l.size * 8}, elements: !{${members.map((m) => `!${m}`).join(", ")}})`;
        return node;
      }
    }
  }

  private array(element: number, count: number, elementBits: number): number {
    return this.add(`!DICompositeType(tag: DW_TAG_array_type, baseType: !${element}, size: ${count * elementBits}, elements: !{!DISubrange(count: ${count})})`);
  }

  /**
   * A BTF-defined map as libbpf reads it: a global in `.maps` of an anonymous struct of pointers,
   * `int (*type)[T]` for each `__uint(name, T)` and `K *key` for each `__type(key, K)`; a Histogram
   * carries `btf_decl_tag("tsbpf:histogram=log2")`. Gives the DIGlobalVariableExpression and the
   * number of pointer members.
   */
  mapVariable(map: MapDef, line: number): { expr: number; members: number } {
    const int = this.basicType("int", 32, "DW_ATE_signed");
    const fields: [string, number][] = [];
    const uint = (name: string, value: number): void => {
      fields.push([name, this.add(`!DIDerivedType(tag: DW_TAG_pointer_type, baseType: !${this.array(int, value, 32)}, size: 64)`)]);
    };
    const typed = (name: string, l: Layout | number | undefined): void => {
      if (l === undefined) return;
      if (typeof l === "number") uint(`${name}_size`, l);
      else fields.push([name, this.add(`!DIDerivedType(tag: DW_TAG_pointer_type, baseType: !${this.layout(l)}, size: 64)`)]);
    };
    uint("type", map.type);
    if (map.maxEntries) uint("max_entries", map.maxEntries);
    typed("key", map.key);
    typed("value", map.value);
    if (map.flags) uint("map_flags", map.flags);
    const node = this.reserve();
    const members = fields.map(([name, type], i) =>
      this.add(`!DIDerivedType(tag: DW_TAG_member, name: ${mdString(name)}, scope: !${node}, file: !${this.file}, baseType: !${type}, size: 64, offset: ${i * 64})`),
    );
    this.nodes[node] = `distinct !DICompositeType(tag: DW_TAG_structure_type, file: !${this.file}, line: ${line}, size: ${fields.length * 64}, elements: !{${members.map((m) => `!${m}`).join(", ")}})`;
    const tagValues = [...markTags(map), ...(map.event ? [EVENT_TAG + this.eventType(map.name, map.event)] : [])];
    const tags = annotations(tagValues);
    const variable = this.add(`distinct !DIGlobalVariable(name: ${mdString(map.name)}, scope: !${this.unit}, file: !${this.file}, line: ${line}, type: !${node}, isLocal: false, isDefinition: true${tags})`);
    const expr = this.add(`!DIGlobalVariableExpression(var: !${variable}, expr: !DIExpression())`);
    this.globals.push(expr);
    return { expr, members: fields.length };
  }

  /**
   * The C name the `tsbpf:event` tag gives a ring buffer's or perf event array's record type, named as our own
   * backend names it (compiler/object/btf.ts: a struct by its name, an integer by its typedef, anything else
   * by a `MAP_event` typedef). The type is kept for eventTypesHolder(): LLVM writes into BTF only the types
   * that variables and function parameters reach.
   */
  private eventType(mapName: string, event: Layout): string {
    const type = this.layout(event);
    if (event.kind === "struct") {
      this.eventTypes.push(type);
      return `struct ${event.name}`;
    }
    if (event.kind === "int") {
      this.eventTypes.push(type);
      return event.type.enumeration ? `enum ${event.type.enumeration.name}` : intTypedefName(event);
    }
    const name = `${mapName}_event`;
    this.eventTypes.push(this.add(`!DIDerivedType(tag: DW_TAG_typedef, name: ${mdString(name)}, file: !${this.file}, baseType: !${type})`));
    return name;
  }

  /**
   * Never-called functions in .text whose parameters point to the event types, so that they are in BTF
   * (loaders link .text functions into a program only when it calls them); none without events.
   */
  eventTypesHolders(name: string): { name: string; sp: number; params: number }[] {
    // BPF passes at most five arguments in registers (llc refuses stack arguments): five types per holder.
    const holders: { name: string; sp: number; params: number }[] = [];
    for (let at = 0; at < this.eventTypes.length; at += 5) {
      holders.push({ name: at === 0 ? name : `${name}_${at / 5}`, ...this.eventTypesHolder(at === 0 ? name : `${name}_${at / 5}`, this.eventTypes.slice(at, at + 5)) });
    }
    return holders;
  }

  private eventTypesHolder(name: string, types: readonly number[]): { sp: number; params: number } {
    const pointers = types.map((t) => this.add(`!DIDerivedType(tag: DW_TAG_pointer_type, baseType: !${t}, size: 64)`));
    const type = this.add(`!DISubroutineType(types: !{!${this.basicType("long", 64, "DW_ATE_signed")}, ${pointers.map((p) => `!${p}`).join(", ")}})`);
    const sp = this.reserve();
    const args = pointers.map((p, i) => this.add(`!DILocalVariable(name: "e${i}", arg: ${i + 1}, scope: !${sp}, file: !${this.file}, line: 1, type: !${p})`));
    this.nodes[sp] =
      `distinct !DISubprogram(name: ${mdString(name)}, scope: !${this.file}, file: !${this.file}, line: 1, type: !${type}, scopeLine: 1, ` +
      `flags: DIFlagPrototyped, spFlags: DISPFlagDefinition | DISPFlagOptimized, unit: !${this.unit}, retainedNodes: !{${args.map((a) => `!${a}`).join(", ")}})`;
    return { sp, params: pointers.length };
  }

  /** The metadata section of the module. */
  text(): string {
    this.nodes[this.unit] =
      `distinct !DICompileUnit(language: DW_LANG_C99, file: !${this.file}, producer: "tsbpf", isOptimized: true, runtimeVersion: 0, ` +
      `emissionKind: FullDebug, globals: !{${this.globals.map((g) => `!${g}`).join(", ")}}, splitDebugInlining: false, nameTableKind: None)`;
    const flags = this.nodes.length;
    const lines = [`!llvm.dbg.cu = !{!${this.unit}}`, `!llvm.module.flags = !{!${flags}, !${flags + 1}}`];
    this.nodes.forEach((n, i) => lines.push(`!${i} = ${n}`));
    lines.push(`!${flags} = !{i32 7, !"Dwarf Version", i32 5}`, `!${flags + 1} = !{i32 2, !"Debug Info Version", i32 3}`);
    return lines.join("\n") + "\n";
  }
}

/** `, annotations: ...` of a declaration carrying `btf_decl_tag`s (LLVM writes each as a BTF DECL_TAG), or "". */
function annotations(tags: readonly string[]): string {
  return tags.length ? `, annotations: !{${tags.map((t) => `!{!"btf_decl_tag", !${mdString(t)}}`).join(", ")}}` : "";
}
