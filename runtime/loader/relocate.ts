// Relocation: one entry program plus the sub-programs it calls, as a single instruction stream.
// Takes an `ObjectSpec` and one of its programs; gives a `LinkedProgram`: the entry's instructions with every
// called sub-program appended once (BPF-to-BPF call and function-address immediates rewritten to the new
// layout, CO-RE resolutions patched in when given, externs: kconfig values as `.kconfig` map references, ksyms and
// kfuncs from their resolutions) and the list of LDDW slots that refer to maps or global data. `encodeProgram` then
// writes the map fds into those slots. Pure: fds are only numbers handed in.

// Submodules, not the barrels: the loader is on `tsbpf run`'s start-up path and needs no assembler or disassembler.
import { Op, PseudoCall, PseudoLd } from "../../compiler/isa/opcodes.js";
import { encode, type Insn } from "../../compiler/isa/insn.js";
import type { BpfProgram, BpfRelocation } from "../../compiler/elf/index.js";
import { ObjectError } from "./errors.js";
import { patchCore, type CoreResolutions } from "./core.js";
import type { MapSpec, ObjectSpec, ProgramSpec } from "./object.js";
import { KCONFIG_SECTION, type ExternSpec, type ResolvedExterns } from "./externs.js";

/** An LDDW that must carry a map: its fd (`fd`) or the address of its value at `offset` (`value`). */
export interface MapReference {
  /** Slot of the LDDW in the linked program. */
  insn: number;
  /** Index into `ObjectSpec.maps`. */
  map: number;
  kind: "fd" | "value";
  offset: number;
}

export interface LinkedProgram {
  spec: ProgramSpec;
  /** Entry program first, then each called sub-program once; map slots still hold no fd. */
  insns: Insn[];
  maps: MapReference[];
  /** Where each function starts in `insns` (the entry at 0), and where it came from. */
  functions: LinkedFunction[];
  /** Slots poisoned for a CO-RE relocation the target kernel cannot satisfy → why (for the verifier's rejection). */
  poisoned: Map<number, string>;
}

export interface LinkedFunction {
  name: string;
  /** First slot in the linked program. */
  start: number;
  /** Slots. */
  length: number;
  /** ELF section and first slot within it. */
  section: string;
  offset: number;
  /** The function as the object holds it. */
  source: BpfProgram;
}

const key = (sectionIndex: number, slot: number): string => `${sectionIndex}:${slot}`;

/**
 * Links `program` with its sub-programs and records its map references. `externs` gives what ksyms and kfuncs
 * resolved to (`resolveExterns`); without it a program that uses one is refused.
 */
export function linkProgram(object: ObjectSpec, program: ProgramSpec, core?: CoreResolutions, externs?: ResolvedExterns): LinkedProgram {
  const byStart = new Map<string, BpfProgram>();
  for (const f of [...object.raw.subprograms, ...object.raw.programs]) byStart.set(key(f.sectionIndex, f.offset), f);
  const mapBySection = new Map<number, MapSpec[]>();
  object.maps.forEach((m) => mapBySection.set(m.sectionIndex, [...(mapBySection.get(m.sectionIndex) ?? []), m]));
  const mapIndex = new Map(object.maps.map((m, i) => [m, i]));
  const execSections = new Set([...object.raw.programs, ...object.raw.subprograms].map((f) => f.sectionIndex));
  const externByName = new Map((object.externs ?? []).map((e) => [e.name, e]));
  const kconfigMap = object.maps.findIndex((m) => m.origin === "data" && m.name === KCONFIG_SECTION);

  const insns: Insn[] = [];
  const maps: MapReference[] = [];
  const functions: LinkedFunction[] = [];
  const poisoned = new Map<number, string>();
  const placed = new Map<BpfProgram, number>();
  const pending: BpfProgram[] = [];
  // Slots whose imm becomes the distance to a function's start, filled once every function is placed.
  const jumps: { insn: number; target: BpfProgram }[] = [];

  const place = (f: BpfProgram): void => {
    if (placed.has(f)) return;
    placed.set(f, -1);
    pending.push(f);
  };
  const functionAt = (sectionIndex: number, slot: number, from: BpfProgram, what: string): BpfProgram => {
    const f = byStart.get(key(sectionIndex, slot));
    if (!f) throw new ObjectError(`program ${program.name}: ${what} in ${from.name} lands at instruction ${slot} of section #${sectionIndex}, where no function starts`);
    return f;
  };

  place(program.source);
  while (pending.length > 0) {
    const f = pending.shift()!;
    const start = insns.length;
    placed.set(f, start);
    functions.push({ name: f.name, start, length: f.insns.length, section: f.section, offset: f.offset, source: f });
    for (const insn of f.insns) insns.push({ ...insn });
    const coreSlots = core?.get(f.section);
    if (coreSlots) {
      for (let i = 0; i < f.insns.length; i++) {
        const result = coreSlots.get(f.offset + i);
        if (!result) continue;
        const poison = patchCore(insns, start + i, result, `${f.name}+${i} (section ${f.section})`);
        if (poison !== undefined) poisoned.set(start + i, poison);
      }
    }
    const relocated = new Set<number>();
    for (const r of f.relocations) {
      relocated.add(r.insn);
      const at = start + r.insn;
      const insn = insns[at]!;
      if (r.symbolSectionIndex === 0) {
        const ext = externByName.get(r.symbol);
        if (!ext) throw unsupported(program, f, r);
        if (ext.kind === "kconfig") {
          if (r.kind !== "lddw") throw new ObjectError(`program ${program.name}: ${f.name} calls kconfig extern ${ext.name}, which is a value`);
          maps.push({ insn: at, map: kconfigMap, kind: "value", offset: ext.offset + r.addend });
        } else {
          patchExtern(insns, at, r, ext, externs, `program ${program.name}: ${f.name}`);
        }
        continue;
      }
      if (r.kind === "call") {
        if (!r.callee) throw unsupported(program, f, r);
        insn.src = PseudoCall.LOCAL;
        jumps.push({ insn: at, target: functionAt(r.callee.sectionIndex, r.callee.offset, f, "a call") });
        continue;
      }
      // LDDW: a function address, a map, or a global variable.
      if (r.symbolSectionIndex === 0 || r.symbolSectionIndex >= 0xff00) throw unsupported(program, f, r);
      if (execSections.has(r.symbolSectionIndex)) {
        const byte = r.symbolValue + r.addend;
        if (byte % 8 !== 0) throw new ObjectError(`program ${program.name}: function address ${r.symbol}+${r.addend} is not at an instruction boundary`);
        insn.src = PseudoLd.FUNC;
        jumps.push({ insn: at, target: functionAt(r.symbolSectionIndex, byte / 8, f, "a function address") });
        continue;
      }
      const candidates = mapBySection.get(r.symbolSectionIndex);
      if (!candidates) throw new ObjectError(`program ${program.name}: ${f.name} refers to ${r.symbol || r.symbolSection} in section ${r.symbolSection ?? `#${r.symbolSectionIndex}`}, which is neither a map nor global data`);
      const first = candidates[0]!;
      if (first.origin === "data") {
        const offset = r.symbolValue + r.addend;
        if (offset < 0 || offset > first.valueSize) throw new ObjectError(`program ${program.name}: ${r.symbol} at offset ${offset} lies outside ${first.name} (${first.valueSize} bytes)`);
        maps.push({ insn: at, map: mapIndex.get(first)!, kind: "value", offset });
      } else {
        // A map symbol: the definition at the symbol's offset (a section symbol carries it in the addend).
        const offset = r.symbolValue + (r.symbolType === 3 ? r.addend : 0);
        const map = candidates.find((m) => m.offset === offset);
        if (!map) throw new ObjectError(`program ${program.name}: ${r.symbol} refers to offset ${offset} of ${r.symbolSection}, where no map is defined`);
        maps.push({ insn: at, map: mapIndex.get(map)!, kind: "fd", offset: 0 });
      }
    }
    // Calls to a static function of the same section carry no relocation: imm is already relative.
    for (let i = 0; i < f.insns.length; i++) {
      const insn = f.insns[i]!;
      if (insn.code === Op.LDDW) {
        if (insn.src === PseudoLd.FUNC && !relocated.has(i)) throw new ObjectError(`program ${program.name}: function address at instruction ${i} of ${f.name} has no relocation`);
        i++;
        continue;
      }
      if (insn.code !== Op.CALL || insn.src !== PseudoCall.LOCAL || relocated.has(i)) continue;
      jumps.push({ insn: start + i, target: functionAt(f.sectionIndex, f.offset + i + insn.imm + 1, f, "a call") });
    }
    for (const j of jumps) if (!placed.has(j.target)) place(j.target);
  }
  for (const j of jumps) insns[j.insn]!.imm = placed.get(j.target)! - (j.insn + 1);
  return { spec: program, insns, maps, functions, poisoned };
}

/** A program names an extern (a ksym or kfunc) that the externs given to linkProgram do not resolve. */
export class UnresolvedExternError extends ObjectError {
  constructor(
    message: string,
    readonly extern: ExternSpec,
  ) {
    super(message);
    this.name = "UnresolvedExternError";
  }
}

/** A ksym LDDW or a kfunc CALL rewritten as libbpf rewrites it, from what the extern resolved to. */
function patchExtern(insns: Insn[], at: number, r: BpfRelocation, ext: ExternSpec, externs: ResolvedExterns | undefined, where: string): void {
  const value = externs?.values.get(ext.name);
  if (!value) throw new UnresolvedExternError(`${where} uses ${ext.kind} ${ext.name}, which must be resolved against the running kernel before linking`, ext);
  const insn = insns[at]!;
  if (ext.kind === "kfunc" && r.kind === "call") {
    if (value.kind === "kfunc") insns[at] = { code: Op.CALL, dst: 0, src: PseudoCall.KFUNC, off: 0, imm: value.btfId };
    else if (value.kind === "poison") insns[at] = { code: Op.CALL, dst: 0, src: PseudoCall.HELPER, off: 0, imm: value.helper };
    else throw new ObjectError(`${where}: kfunc ${ext.name} resolved to a ${value.kind}`);
    return;
  }
  if (r.kind !== "lddw") throw new ObjectError(`${where} calls ksym ${ext.name}, which is a variable; declare functions with their prototype`);
  const hi = insns[at + 1]!;
  // A kfunc's address (bpf_ksym_exists): its BTF id when the kernel has it, else 0, which the verifier prunes on.
  if (value.kind === "btf-var" || value.kind === "kfunc") {
    insn.src = PseudoLd.BTF_ID;
    insn.imm = value.btfId;
    hi.imm = 0; // the kernel's own BTF (not a module's, which would be an fd)
  } else if (value.kind === "address" || value.kind === "poison") {
    const address = value.kind === "address" ? value.address : 0n;
    insn.src = PseudoLd.IMM64;
    insn.imm = Number(BigInt.asIntN(32, address));
    hi.imm = Number(BigInt.asIntN(32, address >> 32n));
  } else {
    throw new ObjectError(`${where}: ksym ${ext.name} resolved to a ${value.kind}`);
  }
}

function unsupported(program: ProgramSpec, f: BpfProgram, r: BpfRelocation): ObjectError {
  if (r.symbolSectionIndex === 0) {
    return new ObjectError(`program ${program.name}: ${f.name} uses extern ${r.symbol}, which the object's symbol table does not declare`);
  }
  return new ObjectError(`program ${program.name}: unsupported relocation against ${r.symbol || "?"} at instruction ${r.insn} of ${f.name}`);
}

/** The linked program's bytes with map fds (indexed like `ObjectSpec.maps`) written into its LDDW slots. */
export function encodeProgram(linked: LinkedProgram, fds: readonly number[]): Uint8Array {
  const insns = linked.insns.map((i) => ({ ...i }));
  for (const ref of linked.maps) {
    const fd = fds[ref.map];
    if (fd === undefined) throw new ObjectError(`program ${linked.spec.name}: map #${ref.map} has no fd`);
    const lo = insns[ref.insn]!;
    const hi = insns[ref.insn + 1]!;
    lo.src = ref.kind === "fd" ? PseudoLd.MAP_FD : PseudoLd.MAP_VALUE;
    lo.imm = fd;
    hi.imm = ref.kind === "fd" ? 0 : ref.offset;
  }
  return encode(insns);
}
