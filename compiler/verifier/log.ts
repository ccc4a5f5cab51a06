// The model's log in the kernel's log_level 2 form: each processed instruction with the
// registers and stack slots it touched (`5: (bf) r2 = r10  ; R2_w=fp0 R10=fp0`), the whole
// state where a queued path resumes (`from 6 to 8: R0=... R10=fp0`), `safe` where a path is
// pruned, and the totals at the end.

import { AluOp, AtomicOp, Class, JmpOp, Mode, PseudoCall, Source, aluOp, jmpOp, opClass, opMode, opSource } from "../isa/opcodes.js";
import { type Insn } from "../isa/insn.js";
import { type Frame, STACK_INVALID, STACK_MISC, STACK_SPILL, STACK_ZERO, regString } from "./state.js";

const SLOT_CHARS: Record<number, string> = { [STACK_INVALID]: "?", [STACK_SPILL]: "r", [STACK_MISC]: "m", [STACK_ZERO]: "0" };

/** A stack slot as the kernel prints it: a spilled register, or one character per byte; null when never written. */
function slotText(f: Frame, spi: number): string | null {
  const base = spi * 8;
  const spilled = f.spilled[spi];
  if (f.slotType[base + 7] === STACK_SPILL && spilled) return regString(spilled);
  let chars = "";
  let any = false;
  for (let i = 0; i < 8; i++) {
    const t = f.slotType[base + i]!;
    if (t !== STACK_INVALID) any = true;
    chars += SLOT_CHARS[t] ?? "?";
  }
  return any ? chars : null;
}

/** The texts of a frame's registers and stack slots, to see afterwards what an instruction changed. */
export interface FrameSnapshot {
  frame: Frame;
  regs: string[];
  slots: (string | null)[];
}

export function snapshot(f: Frame): FrameSnapshot {
  return { frame: f, regs: f.regs.map((r) => (r.type === "not_init" ? "" : regString(r))), slots: f.spilled.map((_, spi) => slotText(f, spi)) };
}

const bit = (r: number): number => (r <= 10 ? 1 << r : 0);

/** Registers an instruction reads and writes (the kernel's scratched registers). */
export function insnRegs(insn: Insn): { reads: number; writes: number } {
  const x = opSource(insn.code) === Source.X;
  switch (opClass(insn.code)) {
    case Class.ALU:
    case Class.ALU64: {
      const op = aluOp(insn.code);
      const reads = (op === AluOp.MOV ? 0 : bit(insn.dst)) | (x && op !== AluOp.NEG && op !== AluOp.END ? bit(insn.src) : 0);
      return { reads, writes: bit(insn.dst) };
    }
    case Class.LDX:
      return { reads: bit(insn.src), writes: bit(insn.dst) };
    case Class.STX: {
      if (opMode(insn.code) === Mode.ATOMIC && insn.imm === AtomicOp.LOAD_ACQ) return { reads: bit(insn.src), writes: bit(insn.dst) };
      const reads = bit(insn.dst) | bit(insn.src);
      if (opMode(insn.code) !== Mode.ATOMIC || !(insn.imm & AtomicOp.FETCH)) return { reads, writes: 0 };
      return insn.imm === AtomicOp.CMPXCHG ? { reads: reads | 1, writes: 1 } : { reads, writes: bit(insn.src) };
    }
    case Class.ST:
      return { reads: bit(insn.dst), writes: 0 };
    case Class.LD:
      return opMode(insn.code) === Mode.IMM ? { reads: 0, writes: bit(insn.dst) } : { reads: (1 << 6) | bit(insn.src), writes: 1 };
    default: {
      const op = jmpOp(insn.code);
      if (op === JmpOp.CALL) return { reads: 0, writes: insn.src === PseudoCall.LOCAL ? 0 : 1 };
      if (op === JmpOp.EXIT || op === JmpOp.JA || op === JmpOp.JCOND) return { reads: 0, writes: 0 };
      return { reads: bit(insn.dst) | (x ? bit(insn.src) : 0), writes: 0 };
    }
  }
}

/** ` frameN:` for a called frame, then ` Rn=...` per register in `mask` and ` fp-8=...` per slot in `slots`. */
function frameText(f: Frame, mask: number, written: number, slots: (spi: number) => boolean): string {
  let out = "";
  for (let r = 0; r <= 10; r++) {
    const reg = f.regs[r]!;
    if (!(mask & (1 << r)) || reg.type === "not_init") continue;
    out += ` R${r}${written & (1 << r) ? "_w" : ""}=${regString(reg)}`;
  }
  for (let spi = 0; spi < f.spilled.length; spi++) {
    if (!slots(spi)) continue;
    const text = slotText(f, spi);
    if (text !== null) out += ` fp${-8 * (spi + 1)}=${text}`;
  }
  return out && f.frameno ? ` frame${f.frameno}:${out}` : out;
}

/** The whole frame: every initialised register and written stack slot. */
export const fullState = (f: Frame): string => frameText(f, 0x7ff, 0, () => true);

/** What `insn` touched in the frame it ran in (`before`), or the whole frame it entered or returned to. */
export function touchedState(insn: Insn, before: FrameSnapshot, now: Frame): string {
  if (now !== before.frame) return fullState(now);
  const { reads, writes } = insnRegs(insn);
  let changed = 0;
  for (let r = 0; r <= 10; r++) {
    const reg = now.regs[r]!;
    if ((reg.type === "not_init" ? "" : regString(reg)) !== before.regs[r]) changed |= 1 << r;
  }
  return frameText(now, reads | writes | changed, writes, (spi) => slotText(now, spi) !== before.slots[spi]);
}

/** An instruction line with its state after `;`, aligned as the kernel aligns it (vlog_alignment). */
export function withState(line: string, state: string): string {
  if (!state) return line;
  const semicolon = Math.ceil(Math.max(line.length + 5, 40) / 8) * 8 - 2;
  return `${line}${" ".repeat(semicolon - line.length)};${state}`;
}
