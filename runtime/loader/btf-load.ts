// An object's BTF for the kernel, as libbpf hands it over: the blob with its DATASECs completed, and for
// each linked program the func_info and line_info records of its functions, renumbered to where the linker
// placed them. With them the kernel's verifier log and `bpftool prog dump xlated` show the source lines
// (the TypeScript ones for tsbpf objects) and `bpftool map dump` decodes keys and values.
// Takes an ObjectSpec (and a LinkedProgram); gives bytes and records. Pure: loading is load.ts's job.

import {
  BtfFuncLinkage,
  BtfIntEncoding,
  BtfKind,
  BtfVarLinkage,
  kernelFuncInfo,
  kernelLineInfo,
  parseBtf,
  parseBtfExt,
  type Btf,
  type BtfExt,
  type BtfFuncInfo,
  type BtfLineInfo,
  type KernelExtInfo,
} from "../../compiler/btf/index.js";
import { STB, STT, STV } from "../../compiler/elf/types.js";
import type { ObjectSpec } from "./object.js";
import type { LinkedProgram } from "./relocate.js";
import { KCONFIG_SECTION, KSYMS_SECTION, kconfigSize } from "./externs.js";

/**
 * The object's .BTF ready for BPF_BTF_LOAD, or undefined when it has none. clang leaves a DATASEC's size
 * and its variables' offsets at 0 in objects; they are filled in from the ELF section sizes and symbol
 * values, as libbpf does. Externs are made acceptable to the kernel as libbpf makes them (`fixExterns`).
 * Everything else is passed on byte for byte, so string offsets in line info stay valid.
 */
export function kernelObjectBtf(spec: ObjectSpec): Uint8Array | undefined {
  const raw = spec.raw.btf;
  if (!raw) return undefined;
  // A copy: the object's bytes may be a Buffer, whose slice() is a view that these writes would change.
  const bytes = new Uint8Array(raw);
  const btf = parseBtf(bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = btf.littleEndian;
  const { sections, symbols } = spec.raw.elf;
  // As libbpf does: a global function of hidden visibility that is no program's entry (usdt.bpf.h's
  // bpf_usdt_arg) can only be called from this object, so its FUNC goes to the kernel as static and is
  // verified in its callers' context, where its pointer arguments are known to be valid.
  const hiddenSubprograms = new Set(
    symbols.filter((s) => s.type === STT.FUNC && s.bind !== STB.LOCAL && s.visibility === STV.HIDDEN && s.section?.name === ".text").map((s) => s.name),
  );
  for (let id = btf.firstId; id < btf.typeCount; id++) {
    if (btf.kindOf(id) === BtfKind.FUNC && hiddenSubprograms.has(btf.typeById(id).name)) {
      const at = btf.recordOffset(id);
      dv.setUint32(at + 4, (BtfKind.FUNC << 24) | BtfFuncLinkage.STATIC, le);
    }
    if (btf.kindOf(id) !== BtfKind.DATASEC) continue;
    const sec = btf.typeById(id);
    if (sec.kind !== BtfKind.DATASEC) continue;
    const elf = sections.find((s) => s.name === sec.name);
    if (!elf) continue;
    const at = btf.recordOffset(id);
    dv.setUint32(at + 8, elf.size, le);
    sec.vars.forEach((v, i) => {
      const name = btf.nameOf(v.type);
      const symbol = symbols.find((s) => s.name === name && s.shndx === elf.index);
      if (symbol) dv.setUint32(at + 12 + i * 12 + 4, symbol.value, le);
    });
  }
  return spec.externs.length > 0 ? fixExterns(spec, btf, bytes) : bytes;
}

const DUMMY_KSYM = "dummy_ksym";

/**
 * The kernel accepts no extern linkage, no void variable and no empty DATASEC. As libbpf does: kconfig variables
 * become allocated at their `.kconfig` map offsets, sorted by offset, the section sized to the map's value; `.ksyms`
 * variables become allocated `int`s, and its functions global ones (with every parameter named), each entry 4
 * bytes at 4 * its index, the functions' entries pointing at an added `int dummy_ksym` variable. Types and strings
 * the blob lacks (that variable, `int`, the name) are appended, so every existing id and string offset stays.
 */
function fixExterns(spec: ObjectSpec, btf: Btf, bytes: Uint8Array): Uint8Array {
  const le = btf.littleEndian;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kconfig = new Map(spec.externs.flatMap((e) => (e.kind === "kconfig" ? [[e.name, e] as const] : [])));
  const addedTypes: number[] = [];
  const addedStrings: string[] = [];
  let stringEnd = btf.stringsLength;
  const addString = (text: string): number => {
    addedStrings.push(text);
    stringEnd += Buffer.byteLength(text) + 1;
    return stringEnd - Buffer.byteLength(text) - 1;
  };
  let nameOff: number | undefined;
  const dummyName = (): number => (nameOff ??= addString(DUMMY_KSYM));
  // Both added kinds (INT, VAR) are records of four words.
  const addType = (words: number[]): number => {
    addedTypes.push(...words);
    return btf.typeCount + addedTypes.length / 4 - 1;
  };
  let intId: number | undefined;
  const intType = (): number => {
    intId ??= btf.findIdsByName("int", BtfKind.INT).find((id) => btf.sizeOf(id) === 4);
    intId ??= addType([addString("int"), BtfKind.INT << 24, 4, (BtfIntEncoding.SIGNED << 24) | 32]);
    return intId;
  };
  let dummyVar: number | undefined;
  const dummyVarType = (): number => (dummyVar ??= addType([dummyName(), BtfKind.VAR << 24, intType(), BtfVarLinkage.GLOBAL_ALLOCATED]));
  for (let id = btf.firstId; id < btf.typeCount; id++) {
    if (btf.kindOf(id) !== BtfKind.DATASEC) continue;
    const sec = btf.typeById(id);
    if (sec.kind !== BtfKind.DATASEC || (sec.name !== KCONFIG_SECTION && sec.name !== KSYMS_SECTION)) continue;
    const at = btf.recordOffset(id);
    const entries = sec.vars.map((v, i) => {
      const t = btf.typeById(v.type);
      const record = btf.recordOffset(v.type);
      if (sec.name === KCONFIG_SECTION) {
        const e = kconfig.get(t.name);
        if (t.kind === BtfKind.VAR) dv.setUint32(record + 12, BtfVarLinkage.GLOBAL_ALLOCATED, le);
        return { type: v.type, offset: e?.offset ?? 0, size: e?.size ?? v.size };
      }
      if (t.kind === BtfKind.FUNC) {
        dv.setUint32(record + 4, (BtfKind.FUNC << 24) | BtfFuncLinkage.GLOBAL, le);
        const proto = btf.typeById(t.type);
        if (proto.kind === BtfKind.FUNC_PROTO) {
          const protoAt = btf.recordOffset(t.type);
          proto.params.forEach((p, j) => {
            if (p.type !== 0 && p.name === "") dv.setUint32(protoAt + 12 + j * 8, dummyName(), le);
          });
        }
        return { type: dummyVarType(), offset: i * 4, size: 4 };
      }
      if (t.kind === BtfKind.VAR) {
        dv.setUint32(record + 8, intType(), le);
        dv.setUint32(record + 12, BtfVarLinkage.GLOBAL_ALLOCATED, le);
      }
      return { type: v.type, offset: i * 4, size: 4 };
    });
    entries.sort((a, b) => a.offset - b.offset);
    entries.forEach((e, i) => {
      dv.setUint32(at + 12 + i * 12, e.type, le);
      dv.setUint32(at + 12 + i * 12 + 4, e.offset, le);
      dv.setUint32(at + 12 + i * 12 + 8, e.size, le);
    });
    dv.setUint32(at + 8, sec.name === KCONFIG_SECTION ? kconfigSize(spec.externs) : entries.length * 4, le);
  }
  return addedTypes.length > 0 || addedStrings.length > 0 ? appendToBtf(bytes, le, addedTypes, addedStrings) : bytes;
}

/** The blob with `words` added after its last type and `strings` after its last string; the header says so. */
export function appendToBtf(bytes: Uint8Array, le: boolean, words: readonly number[], strings: readonly string[]): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdrLen = dv.getUint32(4, le);
  const types = bytes.subarray(hdrLen + dv.getUint32(8, le), hdrLen + dv.getUint32(8, le) + dv.getUint32(12, le));
  const oldStrings = bytes.subarray(hdrLen + dv.getUint32(16, le), hdrLen + dv.getUint32(16, le) + dv.getUint32(20, le));
  const newStrings = Buffer.from(strings.map((x) => `${x}\0`).join(""), "utf8");
  const typeLen = types.length + words.length * 4;
  const out = new Uint8Array(hdrLen + typeLen + oldStrings.length + newStrings.length);
  const ov = new DataView(out.buffer);
  out.set(bytes.subarray(0, hdrLen));
  out.set(types, hdrLen);
  words.forEach((w, i) => ov.setUint32(hdrLen + types.length + i * 4, w, le));
  out.set(oldStrings, hdrLen + typeLen);
  out.set(newStrings, hdrLen + typeLen + oldStrings.length);
  ov.setUint32(8, 0, le);
  ov.setUint32(12, typeLen, le);
  ov.setUint32(16, typeLen, le);
  ov.setUint32(20, oldStrings.length + newStrings.length, le);
  return out;
}

const parsedExt = new WeakMap<Uint8Array, BtfExt | null>();

function objectBtfExt(spec: ObjectSpec): BtfExt | undefined {
  const raw = spec.raw.btfExt;
  if (!raw || !spec.raw.btf) return undefined;
  let ext = parsedExt.get(raw);
  if (ext === undefined) {
    try {
      ext = parseBtfExt(raw, { btf: parseBtf(spec.raw.btf) });
    } catch {
      ext = null;
    }
    parsedExt.set(raw, ext);
  }
  return ext ?? undefined;
}

/**
 * func_info and line_info of a linked program for BPF_PROG_LOAD, or undefined when the object lacks them
 * for any of its functions (the kernel takes them for every function or for none).
 */
export function programBtfInfo(spec: ObjectSpec, linked: LinkedProgram): { funcInfo: KernelExtInfo; lineInfo: KernelExtInfo } | undefined {
  const ext = objectBtfExt(spec);
  if (!ext) return undefined;
  const bySection = <R>(list: { name?: string; records: R[] }[], section: string): R[] => list.find((s) => s.name === section)?.records ?? [];
  const funcs: BtfFuncInfo[] = [];
  const lines: BtfLineInfo[] = [];
  for (const f of linked.functions) {
    const from = f.offset * 8;
    const to = (f.offset + f.length) * 8;
    // Records move from section byte offsets to the function's place in the linked program (in bytes:
    // kernelFuncInfo/kernelLineInfo divide by 8).
    const moved = <R extends { insnOff: number }>(r: R): R => ({ ...r, insnOff: r.insnOff - from + f.start * 8 });
    const func = bySection(ext.funcInfo, f.section).find((r) => r.insnOff === from);
    if (!func) return undefined;
    funcs.push(moved(func));
    lines.push(...bySection(ext.lineInfo, f.section).filter((r) => r.insnOff >= from && r.insnOff < to).map(moved));
  }
  lines.sort((a, b) => a.insnOff - b.insnOff);
  return { funcInfo: kernelFuncInfo(funcs, 0, ext.littleEndian), lineInfo: kernelLineInfo(lines, 0, ext.littleEndian) };
}

/**
 * The object's BTF as the kernel gets it and each function's FUNC id at its place in a linked program, as in func_info
 * (the verifier model verifies global functions from them); undefined when the object lacks them for any function.
 */
export function programFunctions(spec: ObjectSpec, linked: LinkedProgram): { btf: Btf; funcInfo: { insn: number; typeId: number }[] } | undefined {
  const ext = objectBtfExt(spec);
  if (!ext || !spec.raw.btf) return undefined;
  const funcInfo: { insn: number; typeId: number }[] = [];
  for (const f of linked.functions) {
    const func = ext.funcInfo.find((s) => s.name === f.section)?.records.find((r) => r.insnOff === f.offset * 8);
    if (!func) return undefined;
    funcInfo.push({ insn: f.start, typeId: func.typeId });
  }
  let btf = parsedBtf.get(spec.raw.btf);
  if (btf === undefined) {
    try {
      // as the kernel gets it: hidden global functions made static (kernelObjectBtf)
      btf = parseBtf(kernelObjectBtf(spec)!);
    } catch {
      btf = null;
    }
    parsedBtf.set(spec.raw.btf, btf);
  }
  return btf ? { btf, funcInfo } : undefined;
}

const parsedBtf = new WeakMap<Uint8Array, Btf | null>();
