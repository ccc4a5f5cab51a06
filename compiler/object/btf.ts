// BTF for compiled objects: what clang emits for the same C, so libbpf and the verifier show
// TypeScript source lines. Takes the placed programs (section, byte offset, per-slot source
// positions), the `.rodata` strings and the source text; gives `.BTF`, `.BTF.ext` (func info and
// line info), each program's records as BPF_PROG_LOAD takes them, and the `.rodata` variables
// (libbpf matches each BTF VAR of a DATASEC to an ELF symbol of the same name).
//
// Types: `int (void *ctx)` for every program (a FUNC with global linkage, named after it), and
// `const char[N]` VARs in a `.rodata` DATASEC, one per printk format.

import { BtfBuilder, BtfExtBuilder, BtfFuncLinkage, BtfIntEncoding, BtfKind, BtfVarLinkage, CoreReloKind, encodeKernelInfo, packLineCol, type KernelExtInfo } from "../btf/index.js";
import type { KernelStruct } from "../frontend/kernel-types.js";
import type { Loc } from "../ir/index.js";

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
  core?: readonly { insn: number; struct: string; member: string }[];
}

export interface RodataVar {
  name: string;
  offset: number;
  size: number;
}

export interface ObjectBtf {
  btf: Uint8Array;
  ext: Uint8Array;
  /** Per program, by name: func_info and line_info for BPF_PROG_LOAD (instruction indices from the program's start). */
  kernel: Map<string, { funcInfo: KernelExtInfo; lineInfo: KernelExtInfo }>;
  rodataVars: RodataVar[];
}

/**
 * Local definitions of the kernel structs the programs read: only the members read, at their
 * offsets in the compiling machine's kernel (libbpf matches members by name against the running
 * kernel). Gives each struct's type id and each member's index, for access strings.
 */
function localStructs(btf: BtfBuilder, programs: readonly BtfProgram[], structs: ReadonlyMap<string, KernelStruct>): Map<string, { id: number; index: Map<string, number> }> {
  const used = new Map<string, Set<string>>();
  for (const p of programs) for (const r of p.core ?? []) used.set(r.struct, (used.get(r.struct) ?? new Set()).add(r.member));
  const ints = new Map<string, number>();
  const intType = (size: number, signed: boolean): number => {
    const name = `${signed ? "__s" : "__u"}${size * 8}`;
    let id = ints.get(name);
    if (id === undefined) ints.set(name, (id = btf.add({ kind: BtfKind.INT, name, size, encoding: signed ? BtfIntEncoding.SIGNED : 0, offset: 0, bits: size * 8 })));
    return id;
  };
  let voidPtr: number | undefined;
  const out = new Map<string, { id: number; index: Map<string, number> }>();
  for (const [name, members] of used) {
    const s = structs.get(name)!;
    const list = [...members].map((m) => s.members.get(m)!).sort((a, b) => a.offset - b.offset);
    const btfMembers = list.map((m) => ({
      name: m.name,
      type: m.kind === "ptr" ? (voidPtr ??= btf.add({ kind: BtfKind.PTR, name: "", type: 0 })) : intType(m.size, m.signed),
      bitOffset: m.offset * 8,
      bitfieldSize: 0,
    }));
    const id = btf.add({ kind: s.union ? BtfKind.UNION : BtfKind.STRUCT, name, size: s.size, members: btfMembers });
    out.set(name, { id, index: new Map(list.map((m, i) => [m.name, i])) });
  }
  return out;
}

/** The NUL-terminated strings of `.rodata`, as variables. */
export function rodataVars(rodata: Uint8Array): RodataVar[] {
  const vars: RodataVar[] = [];
  let start = 0;
  for (let i = 0; i < rodata.length; i++) {
    if (rodata[i] === 0) {
      vars.push({ name: `__tsbpf_fmt_${vars.length}`, offset: start, size: i + 1 - start });
      start = i + 1;
    }
  }
  return vars;
}

export function buildBtf(programs: readonly BtfProgram[], structs: ReadonlyMap<string, KernelStruct>, rodata: Uint8Array, fileName: string, sourceText: string): ObjectBtf {
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
      const s = local.get(r.struct)!;
      ext.addCoreRelo(p.section, p.offset + r.insn * 8, s.id, `0:${s.index.get(r.member)!}`, CoreReloKind.FIELD_BYTE_OFFSET);
    }
  }

  const vars = rodataVars(rodata);
  if (vars.length) {
    const char = btf.add({ kind: BtfKind.INT, name: "char", size: 1, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 8 });
    const constChar = btf.add({ kind: BtfKind.CONST, name: "", type: char });
    const index = btf.add({ kind: BtfKind.INT, name: "__ARRAY_SIZE_TYPE__", size: 4, encoding: 0, offset: 0, bits: 32 });
    const secinfo = vars.map((v) => {
      const array = btf.add({ kind: BtfKind.ARRAY, name: "", type: constChar, indexType: index, nelems: v.size });
      const variable = btf.add({ kind: BtfKind.VAR, name: v.name, type: array, linkage: BtfVarLinkage.STATIC });
      return { type: variable, offset: v.offset, size: v.size };
    });
    btf.add({ kind: BtfKind.DATASEC, name: ".rodata", size: rodata.length, vars: secinfo });
  }
  // .BTF.ext first: it adds its strings to .BTF's table.
  const extBytes = ext.toBytes();
  return { btf: btf.toBytes(), ext: extBytes, kernel, rodataVars: vars };
}
