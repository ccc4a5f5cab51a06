// The LLVM backend's entry: the typed IR of a probe file to a BPF object through LLVM's BPF target.
// Takes the lowered functions (already through the IR passes our own backend gets), `.rodata`, the
// license, the kernel structs read and the probe file; gives the object bytes, the LLVM IR text,
// and per program what the compiler reports for our own backend (slots read back from the object,
// `.rodata` relocation slots, CO-RE relocations and line positions from its `.BTF.ext`).
// Throws LlvmToolchainError when no suitable LLVM is installed, LlvmError when LLVM fails.
//
// emit.ts writes the module (debug.ts its debug metadata); toolchain.ts finds and runs llc/clang.

import { readBpfObject } from "../elf/index.js";
import { BtfKind, CoreReloKind, isFieldReloKind, parseBtf, parseBtfExt, parseCoreSpec, type Btf } from "../btf/index.js";
import type { KernelStruct } from "../frontend/kernel-types.js";
import type { Insn } from "../isa/insn.js";
import { AluOp, Class, Op, Source } from "../isa/opcodes.js";
import type { BssVar, CoreAccess, IrFunction, Loc, MapDef, RodataVar } from "../ir/index.js";
import { foldCopies } from "../ir/copies.js";
import { eliminateDeadCode } from "../ir/dce.js";
import type { Lowered } from "../frontend/lower.js";
import type { CompiledProgram, CompileResult } from "../index.js";
import { emitModule } from "./emit.js";
import { llvmToObject } from "./toolchain.js";

export { emitModule, type EmitInput, type EmitOutput } from "./emit.js";
export { findToolchain, missingLlvm, LlvmError, LlvmToolchainError, INSTALL_HINT, type Toolchain } from "./toolchain.js";

export interface LlvmInput {
  functions: readonly IrFunction[];
  rodata: Uint8Array;
  /** What `.rodata` holds (IrModule.rodataVars); absent: its strings. */
  rodataVars?: readonly RodataVar[];
  license: string;
  kernelStructs: ReadonlyMap<string, KernelStruct>;
  fileName: string;
  sourceText: string;
  /** BTF-defined maps of the module, written to `.maps`. */
  maps?: readonly MapDef[];
  /** tsbpf's counters in `.bss`. */
  bss?: readonly BssVar[];
}

export interface LlvmOptions {
  /** BPF CPU version for llc; default 3, or 4 when the programs divide signed values. */
  cpu?: 3 | 4;
}

export interface LlvmProgram {
  name: string;
  section: string;
  insns: Insn[];
  relocations: { insn: number; symbol: ".rodata" | ".bss" }[];
  coreRelocations: ({ insn: number } & CoreAccess)[];
  lines: (Loc | undefined)[];
  stackDepth: number;
}

export interface LlvmResult {
  object: Uint8Array;
  /** The module handed to LLVM (for `--emit llvm` and bug reports). */
  llvmIr: string;
  programs: LlvmProgram[];
  btf: Uint8Array;
}

export function compileWithLlvm(input: LlvmInput, options: LlvmOptions = {}): LlvmResult {
  const emitted = emitModule({ functions: input.functions, rodata: input.rodata, rodataVars: input.rodataVars, license: input.license, structs: input.kernelStructs, fileName: input.fileName, sourceText: input.sourceText, maps: input.maps, bss: input.bss });
  const cpu = emitted.needsV4 ? 4 : options.cpu ?? 3;
  const object = llvmToObject(emitted.text, { cpu });
  return { object, llvmIr: emitted.text, programs: readPrograms(object), btf: readBpfObject(object).btf ?? new Uint8Array(0) };
}

/** Each program's slots, relocations and source positions, read back from the object LLVM wrote. */
export function readPrograms(object: Uint8Array): LlvmProgram[] {
  const obj = readBpfObject(object);
  const btf = obj.btf ? parseBtf(obj.btf) : undefined;
  const ext = obj.btfExt && btf ? parseBtfExt(obj.btfExt, { btf }) : undefined;
  return obj.programs.map((p) => {
    const base = p.offset * 8;
    const inProgram = (off: number): number | undefined => {
      const slot = (off - base) / 8;
      return slot >= 0 && slot < p.insns.length ? slot : undefined;
    };
    const lines: (Loc | undefined)[] = new Array(p.insns.length).fill(undefined);
    for (const sec of ext?.lineInfo ?? []) {
      if (sec.name !== p.section) continue;
      for (const r of sec.records) {
        const slot = inProgram(r.insnOff);
        if (slot !== undefined) lines[slot] = { line: r.line, column: r.col };
      }
    }
    const coreRelocations: LlvmProgram["coreRelocations"] = [];
    for (const sec of ext?.coreRelos ?? []) {
      if (sec.name !== p.section) continue;
      for (const r of sec.records) {
        const slot = inProgram(r.insnOff);
        if (slot === undefined || !isFieldReloKind(r.kind) || !btf) continue;
        const access = coreAccessOf(btf, r.typeId, r.access ?? btf.stringAt(r.accessStrOff));
        if (access) coreRelocations.push({ insn: slot, ...access, ...(r.kind === CoreReloKind.FIELD_BYTE_OFFSET ? {} : { kind: r.kind }) });
      }
    }
    return {
      name: p.name,
      section: p.section,
      insns: p.insns,
      relocations: p.relocations.flatMap((r) => (r.kind === "lddw" && (r.symbolSection === ".rodata" || r.symbolSection === ".bss") ? [{ insn: r.insn, symbol: r.symbolSection }] : [])),
      coreRelocations,
      lines,
      stackDepth: stackDepth(p.insns),
    };
  });
}

/**
 * Bytes below r10 a program reaches: through r10 with an offset, or through a copy of r10 moved by a constant (LLVM
 * passes a stack object's address as `r1 = r10; r1 += -16`). Read in order, which is how LLVM writes such pairs.
 */
function stackDepth(insns: readonly Insn[]): number {
  let depth = 0;
  /** Registers holding r10 plus an offset. */
  const fp = new Map<number, number>([[10, 0]]);
  const reach = (base: number, off: number): void => {
    const at = fp.get(base);
    if (at !== undefined) depth = Math.max(depth, -(at + off));
  };
  for (const i of insns) {
    const cls = i.code & 0x07;
    if (cls === Class.LDX) reach(i.src, i.off);
    else if (cls === Class.ST || cls === Class.STX) reach(i.dst, i.off);
    if (i.code === (Class.ALU64 | AluOp.MOV | Source.X) && fp.has(i.src)) fp.set(i.dst, fp.get(i.src)!);
    else if (i.code === (Class.ALU64 | AluOp.ADD | Source.K) && fp.has(i.dst)) {
      fp.set(i.dst, fp.get(i.dst)! + i.imm);
      reach(i.dst, 0);
    } else if (i.code === Op.CALL) for (let r = 0; r <= 5; r++) fp.delete(r);
    else if (i.dst !== 10 && (cls === Class.ALU || cls === Class.ALU64 || cls === Class.LD || cls === Class.LDX)) fp.delete(i.dst);
  }
  return depth;
}

/** A field relocation's access string as the member path it walks from its (named) root struct. */
function coreAccessOf(btf: Btf, typeId: number, access: string): CoreAccess | undefined {
  const root = btf.typeById(typeId);
  if (root.kind !== BtfKind.STRUCT && root.kind !== BtfKind.UNION) return undefined;
  const steps = parseCoreSpec(btf, typeId, access, CoreReloKind.FIELD_BYTE_OFFSET).accessors.slice(1);
  const members = steps.filter((a) => a.name !== undefined).map((a) => a.name!);
  const last = steps[steps.length - 1];
  return members.length ? { struct: root.name, members, ...(last && last.name === undefined ? { index: last.idx } : {}) } : undefined;
}

/**
 * compile()'s hook for `backend: "llvm"`: the lowered file, through the IR passes our own backend
 * gets, to a CompileResult whose object LLVM wrote.
 */
export function compileLowered(lowered: Lowered, kernelStructs: ReadonlyMap<string, KernelStruct>, source: { fileName: string; text: string }, options: LlvmOptions = {}): CompileResult {
  const functions = lowered.programs.map(({ fn }) => foldCopies(eliminateDeadCode(fn)));
  const { module } = lowered;
  const out = compileWithLlvm({ functions, rodata: module.rodata, rodataVars: module.rodataVars, license: module.license, kernelStructs, fileName: source.fileName, sourceText: source.text, maps: module.maps, bss: module.bss }, options);
  const kinds = new Map(lowered.programs.map(({ fn, kind }) => [fn.name, kind]));
  const programs: CompiledProgram[] = out.programs.map((p) => ({ ...p, kind: kinds.get(p.name)! }));
  return { object: out.object, programs, rodata: module.rodata, license: module.license, btf: out.btf, diagnostics: [], source };
}
