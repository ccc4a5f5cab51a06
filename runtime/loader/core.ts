// CO-RE: the object's field offsets, sizes and existence checks rewritten for the running kernel's types.
// Takes a `BpfObject` (its .BTF and .BTF.ext core_relo records) and the target BTF (vmlinux); gives, per ELF
// section, the resolved value of each relocated instruction slot (compiler/btf's resolveCoreRelo does the
// type matching), and `patchCore` rewrites one instruction as libbpf does: ALU imm, load/store offset (and
// width when the kernel's field's size differs from the object's), LDDW imm64; unresolvable ones are poisoned.

import { readFileSync } from "node:fs";
import { AluOp, Class, Op, opClass, opSize, Size, Source } from "../../compiler/isa/opcodes.js";
import type { Insn } from "../../compiler/isa/insn.js";
import { parseBtf, parseBtfExt, type Btf } from "../../compiler/btf/parse.js";
import { CoreReloKind, resolveCoreRelo, type CoreResult } from "../../compiler/btf/core.js";
import type { BpfObject } from "../../compiler/elf/read.js";
import { ObjectError } from "./errors.js";
import { VMLINUX_BTF, readBtfFile } from "../sys/btf-file.js";

/** Per ELF section name: instruction slot in the section → resolution. */
export type CoreResolutions = Map<string, Map<number, CoreResult>>;

import { POISON_HELPER } from "../../compiler/isa/helpers.js";
export { POISON_HELPER };

let vmlinux: Btf | undefined;
/** The running kernel's BTF, parsed once (lazily: only types that are looked at get decoded). */
export function kernelBtf(path = VMLINUX_BTF): Btf {
  if (path !== VMLINUX_BTF) return parseBtf(readFileSync(path));
  vmlinux ??= parseBtf(readBtfFile(path));
  return vmlinux;
}

/** Whether the object carries CO-RE relocations at all (no need to read vmlinux otherwise). */
export function hasCoreRelocations(object: BpfObject): boolean {
  if (!object.btf || !object.btfExt) return false;
  return parseBtfExt(object.btfExt).coreRelos.some((s) => s.records.length > 0);
}

/** Resolves every CO-RE relocation of the object against `target`. */
export function resolveCore(object: BpfObject, target: Btf): CoreResolutions {
  const out: CoreResolutions = new Map();
  if (!object.btf || !object.btfExt) return out;
  const local = parseBtf(object.btf);
  const ext = parseBtfExt(object.btfExt, { btf: local });
  for (const section of ext.coreRelos) {
    const name = section.name ?? local.stringAt(section.nameOff);
    const bySlot = new Map<number, CoreResult>();
    for (const r of section.records) {
      const access = r.access ?? local.stringAt(r.accessStrOff);
      bySlot.set(r.insnOff / 8, resolveCoreRelo(local, { typeId: r.typeId, access, kind: r.kind, insnOff: r.insnOff }, target));
    }
    out.set(name, bySlot);
  }
  return out;
}

const SIZE_BYTES: Record<number, number> = { [Size.B]: 1, [Size.H]: 2, [Size.W]: 4, [Size.DW]: 8 };
const SIZE_OF_BYTES: Record<number, number> = { 1: Size.B, 2: Size.H, 4: Size.W, 8: Size.DW };

/** Rewrites `insns[at]` (and its second slot for LDDW) with a resolution; `where` names it in errors.
 *  Gives why, when the instruction was poisoned instead (the verifier's rejection then says it). */
export function patchCore(insns: Insn[], at: number, result: CoreResult, where: string): string | undefined {
  const insn = insns[at]!;
  if (!result.ok) {
    if (!result.poison) throw new ObjectError(`CO-RE relocation at ${where}: ${result.error}`);
    insns[at] = { code: Op.CALL, dst: 0, src: 0, off: 0, imm: POISON_HELPER };
    return result.error;
  }
  const value = result.value;
  const cls = opClass(insn.code);
  if (insn.code === Op.LDDW) {
    insn.imm = Number(BigInt.asIntN(32, value));
    insns[at + 1]!.imm = Number(BigInt.asIntN(32, value >> 32n));
  } else if ((cls === Class.ALU || cls === Class.ALU64) && (insn.code & 0x08) === Source.K) {
    const shift = insn.code & 0xf0;
    if (result.kind === CoreReloKind.FIELD_RSHIFT_U64 && result.fieldSigned !== undefined && (shift === AluOp.ARSH || shift === AluOp.RSH) && (shift === AluOp.ARSH) !== result.fieldSigned) {
      // A bitfield's last shift was chosen by the object's signedness of the member (tsbpf types the value by it):
      // the other shift would give another value, or one the compiled code does not expect, so it must not run.
      insns[at] = { code: Op.CALL, dst: 0, src: 0, off: 0, imm: POISON_HELPER };
      return `CO-RE: the bitfield is ${result.fieldSigned ? "signed" : "unsigned"} in the kernel but ${result.fieldSigned ? "unsigned" : "signed"} in the object`;
    }
    if (value > 0xffffffffn || value < -0x80000000n) throw new ObjectError(`CO-RE relocation at ${where}: value ${value} does not fit a 32-bit immediate`);
    insn.imm = Number(BigInt.asIntN(32, value));
  } else if (cls === Class.LDX || cls === Class.ST || cls === Class.STX) {
    if (value > 0x7fffn || value < -0x8000n) throw new ObjectError(`CO-RE relocation at ${where}: offset ${value} does not fit a 16-bit field`);
    // Only a field whose size differs between the object's BTF and the kernel's changes the access's width (as
    // libbpf): a narrower access into a field of the same size (a byte of a u64) is what the compiler meant.
    const want = result.fieldSize;
    const had = result.localFieldSize;
    if (want !== undefined && had !== undefined && want !== had) {
      if (result.resizable === false) {
        // Another width would read another value (a signed or non-integer field): the access must not run.
        insns[at] = { code: Op.CALL, dst: 0, src: 0, off: 0, imm: POISON_HELPER };
        return `CO-RE: the field is ${had} bytes here but ${want} bytes in the kernel, and only pointers and unsigned integers can be accessed at another width`;
      }
      const width = SIZE_BYTES[opSize(insn.code)];
      if (width !== had) throw new ObjectError(`CO-RE relocation at ${where}: the access is ${width} bytes wide, not the field's ${had} bytes, so it cannot follow the kernel's ${want}-byte field`);
      if (SIZE_OF_BYTES[want] === undefined) throw new ObjectError(`CO-RE relocation at ${where}: the kernel's field is ${want} bytes, which no load or store can access`);
      insn.code = (insn.code & ~0x18) | SIZE_OF_BYTES[want]!;
    }
    insn.off = Number(value);
  } else {
    throw new ObjectError(`CO-RE relocation at ${where}: instruction 0x${insn.code.toString(16)} cannot carry a relocated value`);
  }
  return undefined;
}
