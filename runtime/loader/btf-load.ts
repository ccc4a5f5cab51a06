// An object's BTF for the kernel, as libbpf hands it over: the blob with its DATASECs completed, and for
// each linked program the func_info and line_info records of its functions, renumbered to where the linker
// placed them. With them the kernel's verifier log and `bpftool prog dump xlated` show the source lines
// (the TypeScript ones for tsbpf objects) and `bpftool map dump` decodes keys and values.
// Takes an ObjectSpec (and a LinkedProgram); gives bytes and records. Pure: loading is load.ts's job.

import { BtfKind, kernelFuncInfo, kernelLineInfo, parseBtf, parseBtfExt, type BtfExt, type BtfFuncInfo, type BtfLineInfo, type KernelExtInfo } from "../../compiler/btf/index.js";
import type { ObjectSpec } from "./object.js";
import type { LinkedProgram } from "./relocate.js";

/**
 * The object's .BTF ready for BPF_BTF_LOAD, or undefined when it has none. clang leaves a DATASEC's size
 * and its variables' offsets at 0 in objects; they are filled in from the ELF section sizes and symbol
 * values, as libbpf does. Everything else is passed on byte for byte, so string offsets in line info stay valid.
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
  for (let id = btf.firstId; id < btf.typeCount; id++) {
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
  return bytes;
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
