// BPF -> JavaScript translation of a LoadedProgram (the compiled tier's code generator).
// Takes a LoadedProgram and a mode; gives JavaScript source for `new Function("rt","P","M","H","BLK", src)`
// that returns `run(S: RunState) -> 0 (final exit) | 1 (budget nearly spent: resume at S.pc in step
// mode) | 2 (program changed by a tail call or a return into another program: resume S.prog at S.pc)`.
//
// Shape of the generated code: registers are JS locals l0/h0..l10/h10 (int32 halves, kept int32 by
// `| 0` everywhere); one `case` per basic block in a `switch (L)` inside `main: for (;;)`, blocks in
// slot order so straight-line successors fall through; a block that jumps to itself becomes an inner
// `for (;;)`. Immediates are folded into the source. In "fast" mode, register facts at block starts
// (facts.ts: constant upper halves, lower-half ranges) fold 64-bit work away, so a bounded counter
// runs as one 32-bit add. Budget: in "fast" mode every block first checks `n + length > budget` and
// otherwise adds its length at once; when the check fails the run leaves to the "step" mode code of
// the same program (every instruction its own block, checked singly), so counts and BudgetExceeded
// pcs equal the interpreter's. A counted single-block loop (countedLoop) whose remaining iterations
// the budget covers adds them all on entry and runs without checks. Faults: `pc` is set before every
// operation that may throw out of line and copied to S.pc by the catch. In fast code, r10-relative
// accesses whose constant offset is inside the 512-byte frame go straight to the frame's arrays
// (aligned words through an Int32Array; no check needed at run time); all other accesses go through
// a one-region cache in front of Memory.resolve, dropped after helper calls (a helper may unmap regions).

import { REGION_BASE } from "../memory.js";
import { F_AUX, F_HI, F_LO, F_OFF, F_SRC, F_DST, LoadedProgram, MAX_CALL_FRAMES, STACK_SIZE, STRIDE, XOp, isProbeLoad } from "../program.js";
import { FRAME_WORDS } from "./runtime.js";
import { type BlockShape, type State, type Val, addNoCarry, analyze, operand, subNoBorrow, topState, transfer } from "./facts.js";

export type Mode = "fast" | "step";

const lit = (v: number): string => (v < 0 ? `(${v})` : String(v));
const u32 = (v: number): string => String(v >>> 0);

const LD_PACKET = new Set([0x20, 0x28, 0x30, 0x40, 0x48, 0x50]);
const COND_OPS = new Set([0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]);

/** Conditional jump (JMP or JMP32 class, a compare op). */
export function isCond(op: number): boolean {
  const cls = op & 7;
  return (cls === 5 || cls === 6) && COND_OPS.has(op & 0xf0);
}

/** Whether the op ends a basic block (control leaves or may leave the straight line). */
function isTerminator(op: number): boolean {
  return op === 0x05 || op === 0x95 || op === 0x60 || op === 0x68 || op === XOp.MAY_GOTO || op === XOp.CALL_CALLBACK || isCond(op) || LD_PACKET.has(op) || !KNOWN.has(op);
}

// Every opcode the reference interpreter executes (others throw "not executable").
const KNOWN = new Set<number>([
  // ALU64
  0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77, 0x7f, 0x87, 0x97, 0x9f, 0xa7, 0xaf, 0xb7,
  0xbf, 0xc7, 0xcf, 0xd7, 0xdc, 0x70, 0x78, 0x80, 0x88, 0xb0,
  // ALU32
  0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x44, 0x4c, 0x54, 0x5c, 0x64, 0x6c, 0x74, 0x7c, 0x84, 0x94, 0x9c, 0xa4, 0xac, 0xb4,
  0xbc, 0xc4, 0xcc, 0xd4, 0x90, 0x98, 0xa0, 0xa8, 0xb8,
  // LD, LDX, ST, STX, atomics
  0x18, 0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x63, 0x6a, 0x6b, 0x72, 0x73, 0x7a, 0x7b,
  0xc0, 0xc8, 0xd0, 0xd8,
  0xc3, 0xdb,
  // JMP, JMP32, calls
  0x05, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d, 0x55, 0x5d, 0x65, 0x6d, 0x75, 0x7d, 0xa5, 0xad, 0xb5, 0xbd, 0xc5, 0xcd, 0xd5,
  0xdd, 0x16, 0x1e, 0x26, 0x2e, 0x36, 0x3e, 0x46, 0x4e, 0x56, 0x5e, 0x66, 0x6e, 0x76, 0x7e, 0xa6, 0xae, 0xb6, 0xbe, 0xc6, 0xce, 0xd6,
  0xde, 0x85, 0x60, 0x95, 0x68, XOp.MAY_GOTO, XOp.CALL_CALLBACK,
]);

/** Slots where a basic block starts: function entries, jump targets and successors of terminators. */
export function leaders(program: LoadedProgram, mode: Mode): Uint8Array {
  const code = program.code;
  const n = program.length;
  const lead = new Uint8Array(n + 1);
  lead[0] = 1;
  lead[n] = 1;
  for (const e of program.entries) lead[e] = 1;
  for (let pc = 0; pc < n; pc++) {
    const at = pc * STRIDE;
    const op = code[at]!;
    if (mode === "step") lead[pc] = 1;
    if (op === 0x18) {
      pc++;
      continue;
    }
    if (op === 0x05 || op === 0x60 || op === XOp.MAY_GOTO || isCond(op)) lead[code[at + F_AUX]!] = 1;
    if (isTerminator(op)) lead[pc + 1] = 1;
  }
  return lead;
}

/** True when some instruction can write r10 (an atomic fetch into src r10): then r10 is not the frame top. */
function writesR10(program: LoadedProgram): boolean {
  const code = program.code;
  for (let pc = 0; pc < program.length; pc++) {
    const at = pc * STRIDE;
    const op = code[at]!;
    if ((op === 0xc3 || op === 0xdb) && code[at + F_SRC] === 20 && (code[at + F_LO]! & 1) !== 0 && code[at + F_LO] !== 0xf1) return true;
    if (op === 0x18) pc++;
  }
  return false;
}

/** Where the frame-marking statement goes in block code, filled in once every block is generated. */
const FRAME_MARK = "/*frame-mark*/";

interface Gen {
  program: LoadedProgram;
  mode: Mode;
  blk: Int32Array;
  /** Label of the shared function-exit case. */
  exitLabel: number;
  r10Fast: boolean;
  /** Lowest frame offset the code stores to directly (through sb/sdv/sw); STACK_SIZE when none. */
  frameStoresFrom: number;
}

// ---------------------------------------------------------------- ALU

/**
 * ALU code for one instruction given the facts `st` before it (facts.ts): known upper halves fold
 * 64-bit work away (32-bit results zero them), and ranges drop carries that cannot happen.
 */
function alu(op: number, d: number, s: number, off: number, lo: number, hi: number, st: State): string {
  const b = operand(st, op, s, lo, hi);
  const code = aluCode(op, d, s, off, lo, hi, st[d]!, b);
  // Drop `hN = 0` when it already is.
  return st[d]!.hi === 0 ? code.replace(new RegExp(`(^| )h${d} = 0;`, "g"), "$1").trim() : code;
}

function aluCode(op: number, d: number, s: number, off: number, lo: number, hi: number, a: Val, b: Val): string {
  const srcHi = b.hi;
  const D = `l${d}`;
  const DH = `h${d}`;
  const x = (op & 8) !== 0;
  // Operand: the source register's halves, or the folded immediate (a known high half folds too).
  const B = x ? `l${s}` : lit(lo);
  const BH = srcHi !== undefined ? lit(srcHi) : `h${s}`;
  const BU = x ? `(l${s} >>> 0)` : u32(lo);
  const S = `l${s}`;
  switch (op) {
    // ------------------------------------------------ ALU64
    case 0x07:
    case 0x0f:
      if (!x && lo === 0 && hi === 0) return "";
      if (addNoCarry(a, b)) return `${D} = (${D} + ${B}) | 0;` + (srcHi === 0 ? "" : ` ${DH} = (${DH} + ${BH}) | 0;`);
      // The sum's lower half is below the addend's exactly when the addition carried.
      return `t = (${D} + ${B}) | 0; ${DH} = (${DH}${srcHi === 0 ? "" : ` + ${BH}`} + ((t >>> 0) < ${BU} ? 1 : 0)) | 0; ${D} = t;`;
    case 0x17:
    case 0x1f:
      if (subNoBorrow(a, b)) return `${D} = (${D} - ${B}) | 0;` + (srcHi === 0 ? "" : ` ${DH} = (${DH} - ${BH}) | 0;`);
      return `t = (${D} - ${B}) | 0; ${DH} = (${DH}${srcHi === 0 ? "" : ` - ${BH}`} - ((${D} >>> 0) < ${BU} ? 1 : 0)) | 0; ${D} = t;`;
    case 0x27:
    case 0x2f:
      if (!x && hi === 0 && lo < 1 << 21) {
        // The unsigned product stays below 2^53: its high half is an exact division.
        return `t = ${D}; ${DH} = (Math.imul(${DH}, ${B}) + (((t >>> 0) * ${B} / 4294967296) | 0)) | 0; ${D} = Math.imul(t, ${B});`;
      }
      return `t = ${D}; u = ${B}; ${DH} = (umulh(t, u) + Math.imul(t, ${BH}) + Math.imul(${DH}, u)) | 0; ${D} = Math.imul(t, u);`;
    case 0x37:
    case 0x3f:
    case 0x97:
    case 0x9f: {
      const mod = op >= 0x90;
      if (!x && lo === 0 && hi === 0) return mod ? "" : `${D} = 0; ${DH} = 0;`;
      const fastCond = x ? `(${DH} | ${BH}) === 0 && ${B} !== 0` : hi === 0 ? `${DH} === 0` : "false";
      const fast = `${D} = ((${D} >>> 0) ${mod ? "%" : "/"} ${BU}) | 0;`;
      const slow = `udiv64(${DH}, ${D}, ${BH}, ${B}, ${mod}); ${D} = X[0]; ${DH} = X[1];`;
      return fastCond === "false" ? slow : `if (${fastCond}) { ${fast} } else { ${slow} }`;
    }
    case 0x70:
    case 0x78:
    case 0x80:
    case 0x88:
      return `sdiv64(${DH}, ${D}, ${BH}, ${B}, ${op >= 0x80}); ${D} = X[0]; ${DH} = X[1];`;
    case 0x47:
    case 0x4f:
      return `${D} = ${D} | ${B};` + (srcHi === 0 ? "" : ` ${DH} = ${DH} | ${BH};`);
    case 0x57:
    case 0x5f:
      return `${D} = ${D} & ${B};` + (srcHi === -1 ? "" : srcHi === 0 ? ` ${DH} = 0;` : ` ${DH} = ${DH} & ${BH};`);
    case 0xa7:
    case 0xaf:
      return `${D} = ${D} ^ ${B};` + (srcHi === 0 ? "" : ` ${DH} = ${DH} ^ ${BH};`);
    case 0xb7:
    case 0xbf:
      return `${D} = ${B}; ${DH} = ${BH};`;
    case 0x67:
    case 0x77:
    case 0xc7:
      return shift64K(op, D, DH, lo);
    case 0x6f:
    case 0x7f:
    case 0xcf:
      return `t = ${S} & 63; if (t !== 0) { if (t < 32) { ${shift64(op, D, DH, "t", "(32 - t)")} } else { ${shift64Wide(op, D, DH, "(t - 32)")} } }`;
    case 0x87:
      return `t = ${D}; ${DH} = (t === 0 ? -${DH} : ~${DH}) | 0; ${D} = -t | 0;`;
    case 0xd7:
    case 0xdc:
      if (lo === 16) return `${D} = ((${D} & 0xff) << 8) | ((${D} >>> 8) & 0xff); ${DH} = 0;`;
      if (lo === 32) return `${D} = bswap32(${D}); ${DH} = 0;`;
      return `t = ${D}; ${D} = bswap32(${DH}); ${DH} = bswap32(t);`;
    case 0xb0: {
      const v = off === 8 ? `(${S} << 24) >> 24` : off === 16 ? `(${S} << 16) >> 16` : S;
      return `${D} = ${v}; ${DH} = ${D} >> 31;`;
    }

    // ------------------------------------------------ ALU32 (zero-extends)
    case 0x04:
    case 0x0c:
      return `${D} = (${D} + ${B}) | 0; ${DH} = 0;`;
    case 0x14:
    case 0x1c:
      return `${D} = (${D} - ${B}) | 0; ${DH} = 0;`;
    case 0x24:
    case 0x2c:
      return `${D} = Math.imul(${D}, ${B}); ${DH} = 0;`;
    case 0x34:
      return lo === 0 ? `${D} = 0; ${DH} = 0;` : `${D} = ((${D} >>> 0) / ${u32(lo)}) | 0; ${DH} = 0;`;
    case 0x3c:
      return `t = ${S} >>> 0; ${D} = t === 0 ? 0 : ((${D} >>> 0) / t) | 0; ${DH} = 0;`;
    case 0x94:
      return lo === 0 ? `${DH} = 0;` : `${D} = ((${D} >>> 0) % ${u32(lo)}) | 0; ${DH} = 0;`;
    case 0x9c:
      return `t = ${S} >>> 0; if (t !== 0) ${D} = ((${D} >>> 0) % t) | 0; ${DH} = 0;`;
    case 0x44:
    case 0x4c:
      return `${D} = ${D} | ${B}; ${DH} = 0;`;
    case 0x54:
    case 0x5c:
      return `${D} = ${D} & ${B}; ${DH} = 0;`;
    case 0xa4:
    case 0xac:
      return `${D} = ${D} ^ ${B}; ${DH} = 0;`;
    case 0x64:
      return `${D} = ${D} << ${lit(lo)}; ${DH} = 0;`;
    case 0x6c:
      return `${D} = ${D} << (${S} & 31); ${DH} = 0;`;
    case 0x74:
      return `${D} = (${D} >>> ${lit(lo)}) | 0; ${DH} = 0;`;
    case 0x7c:
      return `${D} = (${D} >>> (${S} & 31)) | 0; ${DH} = 0;`;
    case 0xc4:
      return `${D} = ${D} >> ${lit(lo)}; ${DH} = 0;`;
    case 0xcc:
      return `${D} = ${D} >> (${S} & 31); ${DH} = 0;`;
    case 0x84:
      return `${D} = -${D} | 0; ${DH} = 0;`;
    case 0xb4:
    case 0xbc:
      return `${D} = ${B}; ${DH} = 0;`;
    case 0xd4:
      return (lo === 16 ? `${D} = ${D} & 0xffff; ` : "") + (lo !== 64 ? `${DH} = 0;` : "");
    case 0x90:
    case 0x98:
      return `t = ${B}; ${D} = t === 0 ? 0 : (${D} / t) | 0; ${DH} = 0;`;
    case 0xa0:
    case 0xa8:
      return `t = ${B}; if (t === -1) ${D} = 0; else if (t !== 0) ${D} = (${D} % t) | 0; ${DH} = 0;`;
    case 0xb8:
      return `${D} = ${off === 8 ? `(${S} << 24) >> 24` : `(${S} << 16) >> 16`}; ${DH} = 0;`;
  }
  throw new Error(`compiled tier: no ALU code for opcode 0x${op.toString(16)}`);
}

/** 64-bit shift by a count below 32 (count and 32 - count as expressions). */
function shift64(op: number, D: string, DH: string, k: string, k32: string): string {
  const kind = op & 0xf0;
  if (kind === 0x60) return `${DH} = (${DH} << ${k}) | (${D} >>> ${k32}); ${D} = ${D} << ${k};`;
  if (kind === 0x70) return `${D} = (${D} >>> ${k}) | (${DH} << ${k32}); ${DH} = (${DH} >>> ${k}) | 0;`;
  return `${D} = (${D} >>> ${k}) | (${DH} << ${k32}); ${DH} = ${DH} >> ${k};`;
}

/** 64-bit shift by 32 + k. */
function shift64Wide(op: number, D: string, DH: string, k: string): string {
  const kind = op & 0xf0;
  if (kind === 0x60) return `${DH} = ${D} << ${k}; ${D} = 0;`;
  if (kind === 0x70) return `${D} = (${DH} >>> ${k}) | 0; ${DH} = 0;`;
  return `${D} = ${DH} >> ${k}; ${DH} = ${DH} >> 31;`;
}

function shift64K(op: number, D: string, DH: string, n: number): string {
  if (n === 0) return "";
  // Same formulas as the interpreter with the count folded in (JS masks counts the same way).
  if (n < 32) return shift64(op, D, DH, lit(n), lit(32 - n));
  return shift64Wide(op, D, DH, lit(n - 32));
}

// ---------------------------------------------------------------- jumps

/** The condition of a conditional jump as a JavaScript expression, given the facts `st` before it. */
function cond(op: number, d: number, s: number, lo: number, hi: number, st: State): string {
  const x = (op & 8) !== 0;
  const j = op & 0xf0;
  const al = `l${d}`;
  if ((op & 7) === 5) {
    // Both upper halves known: a 64-bit compare is an unsigned compare of the lower halves when
    // they are equal, and decided by the upper halves alone otherwise.
    const ah = st[d]!.hi;
    const bh = x ? st[s]!.hi : hi;
    if (ah !== undefined && bh !== undefined) {
      if (j === 0x40) return (ah & bh) !== 0 ? "true" : cond(op + 1, d, s, lo, hi, st);
      if (ah === bh) {
        const jmp32: Record<number, number> = { 0x60: 0x20, 0x70: 0x30, 0xc0: 0xa0, 0xd0: 0xb0 };
        return cond(((jmp32[j] ?? j) | (op & 8) | 6) & 0xff, d, s, lo, hi, st);
      }
      const gt = j === 0x60 || j === 0x70 || j === 0xc0 || j === 0xd0 ? ah > bh : ah >>> 0 > bh >>> 0;
      const result = j === 0x10 ? false : j === 0x50 ? true : j === 0x20 || j === 0x30 || j === 0x60 || j === 0x70 ? gt : !gt;
      return String(result);
    }
  }
  if ((op & 7) === 6) {
    const b = x ? `l${s}` : lit(lo);
    const au = `(${al} >>> 0)`;
    const bu = x ? `(l${s} >>> 0)` : u32(lo);
    switch (j) {
      case 0x10:
        return `${al} === ${b}`;
      case 0x50:
        return `${al} !== ${b}`;
      case 0x40:
        return `(${al} & ${b}) !== 0`;
      case 0x20:
        return `${au} > ${bu}`;
      case 0x30:
        return `${au} >= ${bu}`;
      case 0xa0:
        return `${au} < ${bu}`;
      case 0xb0:
        return `${au} <= ${bu}`;
      case 0x60:
        return `${al} > ${b}`;
      case 0x70:
        return `${al} >= ${b}`;
      case 0xc0:
        return `${al} < ${b}`;
      default:
        return `${al} <= ${b}`;
    }
  }
  const ah = `h${d}`;
  const bl = x ? `l${s}` : lit(lo);
  const bh = x ? `h${s}` : lit(hi);
  const U = (v: string, isConst: boolean, raw: number): string => (isConst ? u32(raw) : `(${v} >>> 0)`);
  const aU = `(${al} >>> 0)`;
  const aHU = `(${ah} >>> 0)`;
  const bU = U(bl, !x, lo);
  const bHU = U(bh, !x, hi);
  // a > b and a >= b on (hi, lo) pairs; the constant-high-zero case folds to one compare.
  const gtU = (p: boolean): string => {
    if (!x && hi === 0) return p ? `(${ah} !== 0 || ${aU} > ${bU})` : `(${ah} === 0 && ${bU} > ${aU})`;
    return p ? `(${ah} !== ${bh} ? ${aHU} > ${bHU} : ${aU} > ${bU})` : `(${ah} !== ${bh} ? ${bHU} > ${aHU} : ${bU} > ${aU})`;
  };
  const geU = (p: boolean): string => {
    if (!x && hi === 0) return p ? `(${ah} !== 0 || ${aU} >= ${bU})` : `(${ah} === 0 && ${bU} >= ${aU})`;
    return p ? `(${ah} !== ${bh} ? ${aHU} > ${bHU} : ${aU} >= ${bU})` : `(${ah} !== ${bh} ? ${bHU} > ${aHU} : ${bU} >= ${aU})`;
  };
  const gtS = (p: boolean): string => (p ? `(${ah} !== ${bh} ? ${ah} > ${bh} : ${aU} > ${bU})` : `(${ah} !== ${bh} ? ${bh} > ${ah} : ${bU} > ${aU})`);
  const geS = (p: boolean): string => (p ? `(${ah} !== ${bh} ? ${ah} > ${bh} : ${aU} >= ${bU})` : `(${ah} !== ${bh} ? ${bh} > ${ah} : ${bU} >= ${aU})`);
  switch (j) {
    case 0x10:
      return `(${al} === ${bl} && ${ah} === ${bh})`;
    case 0x50:
      return `(${al} !== ${bl} || ${ah} !== ${bh})`;
    case 0x40:
      return `((${al} & ${bl}) !== 0 || (${ah} & ${bh}) !== 0)`;
    case 0x20:
      return gtU(true);
    case 0x30:
      return geU(true);
    case 0xa0:
      return gtU(false);
    case 0xb0:
      return geU(false);
    case 0x60:
      return gtS(true);
    case 0x70:
      return geS(true);
    case 0xc0:
      return gtS(false);
    default:
      return geS(false);
  }
}

// ---------------------------------------------------------------- memory

const SIZE: Record<number, number> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };

/** Address of (reg + off) into t (low), u (high), v (offset in its region), then the cache check. */
function resolve(pc: number, base: number, off: number, size: number, write: boolean): string {
  const bl = `l${base}`;
  const bh = `h${base}`;
  const hiExpr = off === 0 ? bh : off > 0 ? `(t >>> 0) < (${bl} >>> 0) ? (${bh} + 1) | 0 : ${bh}` : `(t >>> 0) > (${bl} >>> 0) ? (${bh} - 1) | 0 : ${bh}`;
  return (
    `pc = ${pc}; t = (${bl} + ${lit(off)}) | 0; u = ${hiExpr}; v = (t - ${REGION_BASE}) >>> 0; ` +
    `if (u !== ch || v + ${size} > cb.length${write ? " || !cw" : ""}) { g = M.resolve(u, t, ${size}, ${write}); g.writtenFrom = 0; ch = u; cb = g.bytes; cdv = g.view; cw = g.writable; } `
  );
}

function stackOffset(g: Gen, base: number, off: number, size: number): number | undefined {
  if (base !== 10 || !g.r10Fast) return undefined;
  const o = STACK_SIZE + off;
  return o >= 0 && o + size <= STACK_SIZE ? o : undefined;
}

/** Host byte order: the frame's Int32Array view reads little-endian words only on little-endian hosts. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Index into the frame's Int32Array view (`sw`) of an aligned 4- or 8-byte frame access, if it is one. */
const stackWord = (so: number | undefined, size: number): number | undefined =>
  so !== undefined && size >= 4 && so % 4 === 0 && LITTLE_ENDIAN ? so / 4 : undefined;

function load(g: Gen, pc: number, op: number, d: number, s: number, off: number): string {
  const size = SIZE[op & 0x18]!;
  const signed = (op & 0xe0) === 0x80;
  const so = stackOffset(g, s, off, size);
  const w = stackWord(so, size);
  if (w !== undefined) return size === 8 ? `l${d} = sw[${w}]; h${d} = sw[${w + 1}];` : `l${d} = sw[${w}]; h${d} = ${signed ? `l${d} >> 31` : "0"};`;
  const dv = so === undefined ? "cdv" : "sdv";
  const by = so === undefined ? "cb" : "sb";
  const o = so === undefined ? "v" : String(so);
  const o4 = so === undefined ? "v + 4" : String(so + 4);
  const pre = so === undefined ? resolve(pc, s, off, size, false) : "";
  const D = `l${d}`;
  const DH = `h${d}`;
  switch (size) {
    case 8:
      return `${pre}${D} = ${dv}.getInt32(${o}, true); ${DH} = ${dv}.getInt32(${o4}, true);`;
    case 4:
      return `${pre}${D} = ${dv}.getInt32(${o}, true); ${DH} = ${signed ? `${D} >> 31` : "0"};`;
    case 2:
      return `${pre}${D} = ${dv}.${signed ? "getInt16" : "getUint16"}(${o}, true); ${DH} = ${signed ? `${D} >> 31` : "0"};`;
    default:
      return signed ? `${pre}${D} = ${dv}.getInt8(${o}); ${DH} = ${D} >> 31;` : `${pre}${D} = ${by}[${o}]; ${DH} = 0;`;
  }
}

function store(g: Gen, pc: number, op: number, d: number, s: number, off: number, lo: number, hi: number): string {
  const size = SIZE[op & 0x18]!;
  const imm = (op & 7) === 2;
  const vl = imm ? lit(lo) : `l${s}`;
  const vh = imm ? lit(hi) : `h${s}`;
  const so = stackOffset(g, d, off, size);
  if (so !== undefined && so < g.frameStoresFrom) g.frameStoresFrom = so;
  const w = stackWord(so, size);
  if (w !== undefined) return size === 8 ? `sw[${w}] = ${vl}; sw[${w + 1}] = ${vh};` : `sw[${w}] = ${vl};`;
  const dv = so === undefined ? "cdv" : "sdv";
  const by = so === undefined ? "cb" : "sb";
  const o = so === undefined ? "v" : String(so);
  const o4 = so === undefined ? "v + 4" : String(so + 4);
  const pre = so === undefined ? resolve(pc, d, off, size, true) : "";
  switch (size) {
    case 8:
      return `${pre}${dv}.setInt32(${o}, ${vl}, true); ${dv}.setInt32(${o4}, ${vh}, true);`;
    case 4:
      return `${pre}${dv}.setInt32(${o}, ${vl}, true);`;
    case 2:
      return `${pre}${dv}.setInt16(${o}, ${vl}, true);`;
    default:
      return `${pre}${by}[${o}] = ${vl};`;
  }
}

function atomic(pc: number, op: number, d: number, s: number, off: number, aop: number): string {
  const fetch = (aop & 1) !== 0 && aop !== 0xf1;
  if (op === 0xc3) {
    let out = `pc = ${pc}; t = atomic32(M, h${d}, l${d}, ${lit(off)}, l${s}, l0, ${aop});`;
    if (aop === 0xf1) out += ` l0 = t; h0 = 0;`;
    else if (fetch) out += ` l${s} = t; h${s} = 0;`;
    return out;
  }
  let out = `pc = ${pc}; atomic64(M, h${d}, l${d}, ${lit(off)}, l${s}, h${s}, l0, h0, ${aop});`;
  if (aop === 0xf1) out += ` l0 = X[0]; h0 = X[1];`;
  else if (fetch) out += ` l${s} = X[0]; h${s} = X[1];`;
  return out;
}

// ---------------------------------------------------------------- blocks

/** One straight-line instruction (never a terminator). */
function straight(g: Gen, pc: number, st: State): string {
  const code = g.program.code;
  const at = pc * STRIDE;
  const op = code[at]!;
  const d = code[at + F_DST]! >> 1;
  const s = code[at + F_SRC]! >> 1;
  const off = code[at + F_OFF]!;
  const lo = code[at + F_LO]!;
  const hi = code[at + F_HI]!;
  const cls = op & 7;
  if (op === 0x18) {
    return `l${d} = ${lit(lo)}; h${d} = ${lit(hi)};`;
  }
  if (op === 0x85) {
    const spill = [1, 2, 3, 4, 5].map((r) => `R[${2 * r}] = l${r}; R[${2 * r + 1}] = h${r};`).join(" ");
    // A number (what helpers mostly return) is split here; anything else goes through hret.
    return (
      `${spill} pc = ${pc}; C.pc = ${pc}; hv = H[${code[at + F_AUX]!}](C); ` +
      `if (typeof hv === "number") { l0 = hv | 0; h0 = Math.floor(hv / 4294967296) | 0; } else { hret(hv); l0 = X[0]; h0 = X[1]; } cb = EMPTY;`
    );
  }
  if (op === 0xc3 || op === 0xdb) return atomic(pc, op, d, s, off, lo);
  if (cls === 1) return load(g, pc, op, d, s, off);
  // XOp.PROBE_LDX_*: the LDX of the same size, a fault reading zero as the kernel's exception table makes it.
  if (isProbeLoad(op)) return `try { ${load(g, pc, 0x61 | (op & 0x18), d, s, off)} } catch (e) { if (!isFault(e)) throw e; l${d} = 0; h${d} = 0; }`;
  if (cls === 2 || cls === 3) return store(g, pc, op, d, s, off, lo, hi);
  return alu(op, d, s, off, lo, hi, st);
}

function jumpTo(g: Gen, target: number): string {
  return `L = ${g.blk[target]}; continue main;`;
}

/** Whether the straight-line instruction at `pc` may write register `r`. */
function writes(code: Int32Array, pc: number, r: number): boolean {
  const at = pc * STRIDE;
  const op = code[at]!;
  const cls = op & 7;
  if (op === 0x85) return r === 0;
  if (op === 0xc3 || op === 0xdb) return r === 0 || r === code[at + F_SRC]! >> 1;
  if (cls === 2 || cls === 3) return false;
  return code[at + F_DST]! >> 1 === r;
}

/**
 * For a single-block loop whose back edge compares a counter register with a constant, where the
 * block changes the counter only by one constant step towards the bound (r += c; if r < K, or
 * r -= c; if r > K, unsigned, 64- or 32-bit): a JavaScript condition, checked on entry, that the
 * counter starts on the near side of the bound and that the budget covers every iteration the loop
 * can then make (their count is exact, left in `u`). Undefined when the loop has another shape.
 */
function countedLoop(code: Int32Array, slots: number[], term: number, count: number): string | undefined {
  const at = term * STRIDE;
  const op = code[at]!;
  const r = code[at + F_DST]! >> 1;
  const k = code[at + F_LO]!;
  if ((op & 8) !== 0 || k < 0) return undefined;
  const steps = slots.filter((pc) => writes(code, pc, r));
  if (steps.length !== 1) return undefined;
  const sat = steps[0]! * STRIDE;
  const sop = code[sat]!;
  const imm = code[sat + F_LO]!;
  if ((sop !== 0x07 && sop !== 0x17 && sop !== 0x04 && sop !== 0x14) || imm === 0 || imm === -0x80000000) return undefined;
  const step = sop === 0x07 || sop === 0x04 ? imm : -imm;
  const c = Math.abs(step);
  const j = op & 0xf0;
  // The loop continues while the counter is below `bound` (counting up) or above it (counting down).
  let bound: number;
  if (step > 0 && (j === 0xa0 || (j === 0x50 && c === 1))) bound = k;
  else if (step > 0 && j === 0xb0) bound = k + 1;
  else if (step < 0 && (j === 0x20 || (j === 0x50 && c === 1))) bound = k;
  else if (step < 0 && j === 0x30 && k >= 1) bound = k - 1;
  else return undefined;
  // Counting down from above the bound must not wrap below zero on the way (r > bound >= c - 1).
  if (step < 0 && bound < c - 1) return undefined;
  const v = `(l${r} >>> 0)`;
  const near = step > 0 ? `${v} < ${bound}` : `${v} > ${bound}`;
  const distance = step > 0 ? `${bound} - ${v}` : `${v} - ${bound}`;
  const iterations = c === 1 ? `(${distance})` : `Math.floor((${distance} + ${c - 1}) / ${c})`;
  return `${(op & 7) === 5 ? `h${r} === 0 && ` : ""}${near} && (u = ${count} * ${iterations}, n + u <= budget)`;
}

/** Leaves the current function: the shared exit case. */
const exitFn = (g: Gen): string => `if (depth === base) { ret = 0; break main; } L = ${g.exitLabel}; continue main;`;

export function generate(program: LoadedProgram, mode: Mode): { source: string; blk: Int32Array; blocks: number } {
  const code = program.code;
  const n = program.length;
  const lead = leaders(program, mode);
  const blk = new Int32Array(n + 1).fill(-1);
  const starts: number[] = [];
  for (let pc = 0; pc <= n; pc++) {
    if (lead[pc]) {
      blk[pc] = starts.length;
      starts.push(pc);
    }
  }
  // Step code makes no assumption about r10: the tier also runs it when a tail call or a return into
  // another program brings an r10 that is not the frame top (see tier.ts).
  const g: Gen = { program, mode, blk, exitLabel: starts.length, r10Fast: mode === "fast" && !writesR10(program), frameStoresFrom: STACK_SIZE };

  // Block shapes: straight-line slots, the terminator (or the sentinel slot n) and the fall-through.
  const shapes: BlockShape[] = starts.map((start) => {
    const body: number[] = [];
    let pc = start;
    for (;;) {
      if (pc >= n) return { start, body, term: pc };
      const op = code[pc * STRIDE]!;
      if (!isTerminator(op)) {
        body.push(pc);
        pc += op === 0x18 ? 2 : 1;
        if (lead[pc] || pc > n) return { start, body, fall: pc };
        continue;
      }
      const falls = isCond(op) || op === 0x68 || op === XOp.MAY_GOTO || op === XOp.CALL_CALLBACK || LD_PACKET.has(op);
      return { start, body, term: pc, fall: falls ? pc + 1 : undefined };
    }
  });
  // Facts at block starts (fast code only: step code is entered at any instruction).
  let facts: (State | undefined)[] = [];
  if (mode === "fast") {
    const entries = [0, ...program.entries];
    for (let pc = 0; pc < n; pc++) if (code[pc * STRIDE] === 0x60) entries.push(pc + 1);
    facts = analyze(code, shapes, blk, entries, isCond);
  }
  const out: string[] = [];
  // A local call starts the callee's may_goto count (only programs with a may_goto look at it).
  let startLoops = "";
  for (let pc = 0; pc < n && startLoops === ""; pc++) if (code[pc * STRIDE] === XOp.MAY_GOTO) startLoops = `LP[depth] = ${program.mayGotoLoops}; `;

  for (let b = 0; b < starts.length; b++) {
    const { start, body: slots, term, fall } = shapes[b]!;
    const nextStart = b + 1 < starts.length ? starts[b + 1]! : -1;
    const st = (facts[b] ?? topState()).slice();
    const body: string[] = [];
    for (const pc of slots) {
      body.push(straight(g, pc, st));
      transfer(code, pc, st);
    }
    const count = slots.length + (term === undefined ? 0 : 1);
    let tail = ""; // the terminator's code
    let selfLoop: "" | "cond" | "always" = "";
    if (term !== undefined && term >= n) {
      // The sentinel slot: running off the end.
      tail = `pc = ${term}; throw pastEnd(${term});`;
    } else if (term !== undefined) {
      const pc = term;
      const at = pc * STRIDE;
      const op = code[at]!;
      const d = code[at + F_DST]! >> 1;
      const s = code[at + F_SRC]! >> 1;
      const lo = code[at + F_LO]!;
      const aux = code[at + F_AUX]!;
      if (op === 0x05) {
        if (aux === start && mode === "fast") selfLoop = "always";
        else if (aux !== nextStart) tail = jumpTo(g, aux);
      } else if (isCond(op)) {
        const c = cond(op, d, s, lo, code[at + F_HI]!, st);
        if (aux === start && mode === "fast") {
          selfLoop = "cond";
          tail = `if (${c}) continue; break;`;
        } else if (aux !== pc + 1) tail = `if (${c}) { ${jumpTo(g, aux)} }`;
      } else if (op === 0x95) {
        tail = exitFn(g);
      } else if (op === 0x60) {
        const w = FRAME_WORDS;
        const save = [6, 7, 8, 9, 10].map((r, k) => `F[t + ${2 * k}] = l${r}; F[t + ${2 * k + 1}] = h${r};`).join(" ");
        tail =
          `if (depth >= ${MAX_CALL_FRAMES - 1}) { pc = ${pc}; throw tooDeep(depth, ${pc}); } ` +
          `t = depth * ${w}; ${save} F[t + 10] = ${pc + 1}; FP[depth] = P; depth = depth + 1; ${startLoops}` +
          `stk = stacks.enter(depth); ${FRAME_MARK} sb = stk.bytes; sdv = stk.view; sw = stacks.words[depth]; l10 = ${REGION_BASE + STACK_SIZE}; h10 = stk.hi; ` +
          jumpTo(g, aux);
      } else if (op === XOp.CALL_CALLBACK) {
        // A helper that runs functions of the program (CompiledContext.callback): the count goes through S.
        const spill = [1, 2, 3, 4, 5].map((r) => `R[${2 * r}] = l${r}; R[${2 * r + 1}] = h${r};`).join(" ");
        tail =
          `${spill} pc = ${pc}; C.pc = ${pc}; S.n = n; S.depth = depth; hv = H[${aux}](C); n = S.n; ` +
          `if (typeof hv === "number") { l0 = hv | 0; h0 = Math.floor(hv / 4294967296) | 0; } else { hret(hv); l0 = X[0]; h0 = X[1]; } cb = EMPTY;`;
      } else if (op === XOp.MAY_GOTO) {
        // The frame's loop count spent: jump; else count it down and fall through.
        tail = `if (LP[depth] === 0) { ${jumpTo(g, aux)} } LP[depth] = LP[depth] - 1;`;
      } else if (op === 0x68) {
        tail = `pc = ${pc}; if (tailCall(S, P, h2, l2, l3 >>> 0, ${pc})) { LP[depth] = S.prog.mayGotoLoops; S.pc = 0; ret = 2; break main; }`;
      } else if (LD_PACKET.has(op)) {
        const size = (op & 0x18) === 0 ? 4 : (op & 0x18) === 0x08 ? 2 : 1;
        const offset = op >= 0x40 ? `(l${s} + ${lit(lo)}) | 0` : lit(lo);
        tail =
          `pc = ${pc}; pv = loadPacket(P, M, h6, l6, ${offset}, ${size}); ` +
          `if (pv < 0) { l0 = 0; h0 = 0; ${exitFn(g)} } l0 = pv | 0; h0 = 0;`;
      } else if (op === 0x00) {
        tail = `pc = ${pc}; throw pastEnd(${pc});`;
      } else {
        tail = `pc = ${pc}; throw notExecutable(${pc}, ${op});`;
      }
    }
    const header =
      mode === "fast"
        ? `if (n + ${count} > budget) { S.pc = ${start}; ret = 1; break main; } n = n + ${count};`
        : `if (n >= budget) throw budgetExceeded(${start}, budget); n = n + 1;`;
    const fallCode = fall !== undefined && fall !== nextStart ? jumpTo(g, fall) : "";
    const guard = selfLoop === "cond" ? countedLoop(code, slots, term!, count) : undefined;
    if (guard !== undefined) {
      // A counted loop with budget for all its iterations counts them at once and runs them without
      // checks (only a fault can end it early, and a fault's report does not include the count).
      const loop = (head: string): string => `for (;;) { ${head}\n${body.join("\n")}\n${tail} }`;
      out.push(`case ${b}: if (${guard}) { n = n + u; ${loop("")} } else { ${loop(header)} }\n${fallCode}`);
    } else if (selfLoop !== "") {
      out.push(`case ${b}: for (;;) { ${header}\n${body.join("\n")}\n${selfLoop === "cond" ? tail : ""} }\n${fallCode}`);
    } else {
      out.push(`case ${b}: ${header}\n${body.join("\n")}\n${tail}\n${fallCode}`);
    }
  }

  // Frame stores that bypass resolve() are recorded on the frame's region whenever it becomes the
  // current frame, so that StackSet.enter knows how much of it the next run must zero.
  const frameMark = g.frameStoresFrom < STACK_SIZE ? `if (stk.writtenFrom > ${g.frameStoresFrom}) stk.writtenFrom = ${g.frameStoresFrom};` : "";
  for (let k = 0; k < out.length; k++) out[k] = out[k]!.split(FRAME_MARK).join(frameMark);
  const regs = Array.from({ length: 11 }, (_, r) => `l${r} = R[${2 * r}], h${r} = R[${2 * r + 1}]`).join(", ");
  const saveRegs = Array.from({ length: 11 }, (_, r) => `R[${2 * r}] = l${r}; R[${2 * r + 1}] = h${r};`).join(" ");
  // The final exit keeps r0 only and leaves r1-r9 zero for the next run (RunState.clean).
  const finalRegs = `R[0] = l0; R[1] = h0; ${Array.from({ length: 18 }, (_, k) => `R[${k + 2}] = 0;`).join(" ")}`;
  const restore = [6, 7, 8, 9, 10].map((r, k) => `l${r} = F[t + ${2 * k}]; h${r} = F[t + ${2 * k + 1}];`).join(" ");
  const source = `"use strict";
const X = rt.X, hret = rt.hret, udiv64 = rt.udiv64, sdiv64 = rt.sdiv64, atomic32 = rt.atomic32, atomic64 = rt.atomic64,
  loadPacket = rt.loadPacket, tailCall = rt.tailCall, tooDeep = rt.tooDeep, pastEnd = rt.pastEnd,
  notExecutable = rt.notExecutable, budgetExceeded = rt.budgetExceeded, umulh = rt.umulh, bswap32 = rt.bswap32, isFault = rt.isFault,
  EMPTY = rt.EMPTY, EMPTY_VIEW = rt.EMPTY_VIEW;
return function run(S) {
  const R = S.R, F = S.F, FP = S.FP, LP = S.LP, C = S.C, budget = S.budget, stacks = S.stacks, base = S.base;
  let ${regs};
  let n = S.n, depth = S.depth, pc = 0, ret = 0, t = 0, u = 0, v = 0, pv = 0, g = null, hv = 0;
  let stk = stacks.regions[depth], sb = stk.bytes, sdv = stk.view, sw = stacks.words[depth];
  ${frameMark}
  let ch = 0, cb = EMPTY, cdv = EMPTY_VIEW, cw = false;
  let L = BLK[S.pc];
  try {
    main: for (;;) {
      switch (L) {
${out.join("\n")}
case ${g.exitLabel}:
  if (depth === base) { ret = 0; break main; }
  depth = depth - 1; t = depth * ${FRAME_WORDS}; ${restore}
  stk = stacks.regions[depth]; ${frameMark} sb = stk.bytes; sdv = stk.view; sw = stacks.words[depth];
  u = F[t + 10];
  if (FP[depth] !== P) { S.pc = u; S.prog = FP[depth]; ret = 2; break main; }
  L = BLK[u]; continue main;
default:
  throw new Error("compiled tier: no block at label " + L);
      }
    }
  } catch (e) {
    S.pc = pc;
    throw e;
  }
  if (ret === 0) { ${finalRegs} } else { ${saveRegs} }
  S.n = n; S.depth = depth;
  return ret;
};`;
  return { source, blk, blocks: starts.length };
}
