// Static register liveness: for each instruction, the registers of the current frame that some
// path from it may read before writing them. Pruning ignores the others, as the kernel's
// REG_LIVE_READ marks let it; a static over-approximation of reads keeps that sound.

import { AluOp, AtomicOp, Class, JmpOp, Mode, Op, PseudoCall, aluOp, jmpOp, opClass, opMode } from "../isa/opcodes.js";
import { type Insn } from "../isa/insn.js";
import { helperProto } from "./helpers.js";

const ALL = 0x7ff;
const ARGS = 0x3e; // r1-r5
const CALLER_SAVED = 0x3f; // r0-r5
const bit = (r: number): number => (r <= 10 ? 1 << r : 0);

/** The registers a helper call reads: the arguments its prototype names (the kernel's get_call_summary), else r1-r5. */
function helperArgs(id: number, progType: number): number {
  const proto = helperProto(id, progType);
  return typeof proto === "object" ? ((1 << (proto.args.length + 1)) - 2) & ARGS : ARGS;
}

/** Live-in register mask per instruction (bit r = register r), for a program of `progType`. */
export function liveRegs(insns: readonly Insn[], progType: number): Uint16Array {
  const n = insns.length;
  const gen = new Uint16Array(n);
  const kill = new Uint16Array(n);
  // Successors: up to two per instruction (-1 for none).
  const s1 = new Int32Array(n).fill(-1);
  const s2 = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const x = insns[i]!;
    const cls = opClass(x.code);
    const srcX = (x.code & 0x08) !== 0;
    switch (cls) {
      case Class.ALU:
      case Class.ALU64: {
        const op = aluOp(x.code);
        if (op === AluOp.MOV) {
          gen[i] = srcX ? bit(x.src) : 0;
          kill[i] = bit(x.dst);
        } else gen[i] = bit(x.dst) | (srcX && op !== AluOp.NEG && op !== AluOp.END ? bit(x.src) : 0);
        s1[i] = i + 1;
        break;
      }
      case Class.LDX:
        gen[i] = bit(x.src);
        kill[i] = bit(x.dst) & ~gen[i]!;
        s1[i] = i + 1;
        break;
      case Class.STX:
        if (opMode(x.code) === Mode.ATOMIC && x.imm === AtomicOp.LOAD_ACQ) {
          // a load: reads src, writes dst
          gen[i] = bit(x.src);
          kill[i] = bit(x.dst) & ~gen[i]!;
        } else gen[i] = bit(x.dst) | bit(x.src) | (opMode(x.code) === Mode.ATOMIC && x.imm !== AtomicOp.STORE_REL ? 1 : 0);
        s1[i] = i + 1;
        break;
      case Class.ST:
        gen[i] = bit(x.dst);
        s1[i] = i + 1;
        break;
      case Class.LD:
        if (x.code === Op.LDDW) {
          kill[i] = bit(x.dst);
          s1[i] = i + 2;
        } else {
          // LD_ABS/IND: r6 (and the index register) read, r0 written, r1-r5 clobbered.
          gen[i] = (1 << 6) | bit(x.src) | bit(x.dst);
          kill[i] = 1;
          s1[i] = i + 1;
        }
        break;
      case Class.JMP:
      case Class.JMP32: {
        const op = jmpOp(x.code);
        if (op === JmpOp.CALL) {
          // A call reads its arguments and leaves r0-r5 written (a kfunc placeholder, which the model steps over,
          // changes nothing).
          gen[i] = x.src === 0 ? helperArgs(x.imm, progType) : ARGS;
          kill[i] = x.src === PseudoCall.KFUNC ? 0 : CALLER_SAVED;
          s1[i] = i + 1;
        } else if (op === JmpOp.EXIT) {
          gen[i] = 1;
        } else if (op === JmpOp.JA) {
          s1[i] = i + 1 + (cls === Class.JMP ? x.off : x.imm);
        } else {
          gen[i] = bit(x.dst) | (srcX ? bit(x.src) : 0);
          s1[i] = i + 1;
          s2[i] = i + 1 + x.off;
        }
        break;
      }
      default:
        gen[i] = ALL;
        s1[i] = i + 1;
    }
  }
  const live = new Uint16Array(n);
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = n - 1; i >= 0; i--) {
      let out = 0;
      const a = s1[i]!;
      const b = s2[i]!;
      if (a >= 0) out |= a < n ? live[a]! : ALL;
      if (b >= 0) out |= b < n ? live[b]! : ALL;
      const v = gen[i]! | (out & ~kill[i]!);
      if (v !== live[i]) {
        live[i] = v;
        changed = true;
      }
    }
  }
  return live;
}
