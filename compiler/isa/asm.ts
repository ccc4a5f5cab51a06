// Assembler: BPF text in the kernel verifier's syntax or llvm-objdump's, back to instruction slots.
// Takes program text (one instruction a line, labels, comments); gives a checked `Insn` array
// or throws `AsmError` with the line and column of the first problem.
//
// Both syntaxes, and the extensions `disassemble` prints, are read in one grammar. They agree
// everywhere except `rN = 0x...` without `ll`: the kernel prints a 64-bit load (LDDW) that way,
// llvm a 32-bit immediate move. `style` decides; `auto` (the default) picks llvm when the text
// shows llvm-only forms (hex ALU immediates, `(r1 + 0x8)`, `goto +0x1`, ` ll`, ...) and the
// kernel otherwise. Also accepted: `label:` lines, `goto label`, `call label`, `subprog[label]`,
// comments after `;`, `//` or a `#` that starts a word, verifier-log and objdump line prefixes
// (`12: (bf) `, `      12:\tbf 21 00 ...\t`), `<sym+0x10>` annotations and `.insn CODE, DST, SRC, OFF, IMM`.

import { helperId, helperName } from "./helpers.js";
import { IsaError, checkProgram, type Insn } from "./insn.js";
import { AluOp, AtomicOp, Class, JmpOp, MAX_REG, Mode, Op, PseudoCall, PseudoLd, Size, Source } from "./opcodes.js";

export class AsmError extends Error {
  constructor(
    /** 1-based line of the text. */
    readonly line: number,
    /** 1-based column in that line. */
    readonly column: number,
    readonly reason: string,
  ) {
    super(`line ${line}, column ${column}: ${reason}`);
    this.name = "AsmError";
  }
}

/** A name-to-number lookup: a function or a table. */
export type IdLookup = ((name: string) => number | undefined) | Readonly<Record<string, number>>;

export interface AsmOptions {
  /** How to read `rN = 0x...` without `ll`; see the header. Default `auto`. */
  style?: "kernel" | "llvm" | "auto";
  /** Map fds by name, for `map[NAME]` and `map[NAME][0]+OFF`. */
  maps?: IdLookup;
  /** BTF ids of kernel functions by name, for `call NAME` / `call NAME#ID`. */
  kfuncs?: IdLookup;
  /** Extra helper ids by name (the kernel's names are always known). */
  helpers?: IdLookup;
  /** Run checkProgram on the result (default true). */
  check?: boolean;
}

const find = (table: IdLookup | undefined, name: string): number | undefined =>
  table === undefined ? undefined : typeof table === "function" ? table(name) : Object.hasOwn(table, name) ? table[name] : undefined;

// ---------------------------------------------------------------- lexer

type Tok =
  | { kind: "reg"; text: string; col: number; n: number; w: boolean }
  | { kind: "num"; text: string; col: number; value: bigint; hex: boolean }
  | { kind: "ident"; text: string; col: number }
  | { kind: "op"; text: string; col: number };

const OPS = [
  "s>>=", "<<=", ">>=", "s/=", "s%=", "s>=", "s<=", "+=", "-=", "*=", "/=", "|=", "&=", "%=", "^=", "==", "!=", ">=", "<=",
  "s>", "s<", ">", "<", "=", "&", "+", "-", "*", "(", ")", "[", "]", ",", "#", ":",
];

/** Where the instruction text of a line ends: before a comment. */
function commentStart(line: string): number {
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === ";") return i;
    if (c === "/" && line[i + 1] === "/") return i;
    if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) return i;
  }
  return line.length;
}

function lex(text: string, from: number, to: number, lineNo: number): Tok[] {
  const toks: Tok[] = [];
  let i = from;
  while (i < to) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const col = i + 1;
    const rest = text.slice(i, to);
    let m = /^(0x[0-9a-fA-F]+|[0-9]+)(?![\w.$])/.exec(rest);
    if (m) {
      toks.push({ kind: "num", text: m[0], col, value: BigInt(m[0]), hex: m[0].startsWith("0x") });
      i += m[0].length;
      continue;
    }
    if (/^[0-9]/.test(rest)) throw new AsmError(lineNo, col, `malformed number "${/^[\w.$]+/.exec(rest)![0]}"`);
    // `s>`, `s/=`...: signed operators, never a name (no name is followed by these characters).
    if (/^s(>>=|\/=|%=|>=|<=|>|<)/.test(rest)) {
      const op = OPS.find((o) => rest.startsWith(o))!;
      toks.push({ kind: "op", text: op, col });
      i += op.length;
      continue;
    }
    m = /^[A-Za-z_.$][\w.$]*(?:-[A-Za-z_][\w.$]*)*/.exec(rest);
    if (m) {
      const reg = /^([rw])([0-9]+)$/.exec(m[0]);
      if (reg) toks.push({ kind: "reg", text: m[0], col, n: Number(reg[2]), w: reg[1] === "w" });
      else toks.push({ kind: "ident", text: m[0], col });
      i += m[0].length;
      continue;
    }
    const op = OPS.find((o) => rest.startsWith(o));
    if (!op) throw new AsmError(lineNo, col, `unexpected character "${c}"`);
    toks.push({ kind: "op", text: op, col });
    i += op.length;
  }
  return toks;
}

// ---------------------------------------------------------------- lines

interface Line {
  no: number;
  toks: Tok[];
  end: number;
}

/** Strips the verifier-log or objdump prefix and a trailing `<sym>` annotation; returns [from, to]. */
function span(text: string): [number, number] {
  let to = commentStart(text);
  let from = 0;
  const prefix = /^\s*[0-9]+:\s*(?:\([0-9a-f]{2}\)\s*|(?:[0-9a-f]{2} ){7}[0-9a-f]{2}(?: (?:[0-9a-f]{2} ){7}[0-9a-f]{2})?(?=\s))?/.exec(text.slice(0, to));
  if (prefix) from = prefix[0].length;
  // objdump's `<prog+0x28>` after a jump target; a bare `<unknown>` stays for the parser to reject.
  const note = /\s<[^<>\s]*>\s*$/.exec(text.slice(from, to));
  if (note && text.slice(from, from + note.index).trim() !== "") to = from + note.index;
  return [from, to];
}

/** llvm-only surface forms, for `style: "auto"`. */
const LLVM_MARKS = [
  /\sll\s*$/,
  /\(r[0-9]+ [+-] 0x/,
  /\bgoto [+-]/,
  /\bgotol [+-]/,
  /\bmay_goto [+-]/,
  /\bld_pseudo\b/,
  /\bcall (?:[+-]?0x|[+-])/,
  /^[rw][0-9]+ \S+= -?0x/,
  /^w[0-9]+ = 0x/,
  /= -0x/,
  /skb\[0x/,
  /\bx?(?:cmp)?xchg(?:32)?_(?:32|64)\(/,
];
const isLlvmText = (lines: string[]): boolean => lines.some((l) => LLVM_MARKS.some((re) => re.test(l.trim())));

// ---------------------------------------------------------------- parser

/** A slot whose offset or imm still names a label. */
interface Fixup {
  slot: number;
  label: Tok;
  field: "off" | "imm";
  line: number;
}

const I32_MIN = -(2n ** 31n);
const U32_MAX = 2n ** 32n - 1n;

const SIZES: Record<string, { size: Size; signed: boolean }> = {
  u8: { size: Size.B, signed: false },
  u16: { size: Size.H, signed: false },
  u32: { size: Size.W, signed: false },
  u64: { size: Size.DW, signed: false },
  s8: { size: Size.B, signed: true },
  s16: { size: Size.H, signed: true },
  s32: { size: Size.W, signed: true },
};

const ALU_OPS: Record<string, { op: AluOp; off: number }> = {
  "+=": { op: AluOp.ADD, off: 0 },
  "-=": { op: AluOp.SUB, off: 0 },
  "*=": { op: AluOp.MUL, off: 0 },
  "/=": { op: AluOp.DIV, off: 0 },
  "s/=": { op: AluOp.DIV, off: 1 },
  "|=": { op: AluOp.OR, off: 0 },
  "&=": { op: AluOp.AND, off: 0 },
  "<<=": { op: AluOp.LSH, off: 0 },
  ">>=": { op: AluOp.RSH, off: 0 },
  "%=": { op: AluOp.MOD, off: 0 },
  "s%=": { op: AluOp.MOD, off: 1 },
  "^=": { op: AluOp.XOR, off: 0 },
  "s>>=": { op: AluOp.ARSH, off: 0 },
};

const JMP_OPS: Record<string, JmpOp> = {
  "==": JmpOp.JEQ,
  ">": JmpOp.JGT,
  ">=": JmpOp.JGE,
  "&": JmpOp.JSET,
  "!=": JmpOp.JNE,
  "s>": JmpOp.JSGT,
  "s>=": JmpOp.JSGE,
  "<": JmpOp.JLT,
  "<=": JmpOp.JLE,
  "s<": JmpOp.JSLT,
  "s<=": JmpOp.JSLE,
};

const LOCK_OPS: Record<string, number> = { "+=": AtomicOp.ADD, "|=": AtomicOp.OR, "&=": AtomicOp.AND, "^=": AtomicOp.XOR };
const FETCH_OPS: Record<string, number> = { add: AtomicOp.ADD, or: AtomicOp.OR, and: AtomicOp.AND, xor: AtomicOp.XOR };

const slot = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm: imm | 0 });

class Parser {
  private toks: Tok[] = [];
  private at = 0;
  private line: Line = { no: 0, toks: [], end: 1 };
  readonly out: Insn[] = [];
  readonly lineOfSlot: number[] = [];
  readonly fixups: Fixup[] = [];

  constructor(
    private readonly kernelHex: boolean,
    private readonly labels: ReadonlySet<string>,
    private readonly options: AsmOptions,
  ) {}

  parse(line: Line): void {
    this.line = line;
    this.toks = line.toks;
    this.at = 0;
    const insns = this.instruction();
    if (this.at < this.toks.length) this.fail(`unexpected "${this.toks[this.at]!.text}" after the instruction`);
    for (const x of insns) {
      this.out.push(x);
      this.lineOfSlot.push(line.no);
    }
  }

  // ---- token helpers

  private fail(reason: string, tok: Tok | undefined = this.toks[this.at]): never {
    throw new AsmError(this.line.no, tok ? tok.col : this.line.end, reason);
  }
  private peek(): Tok | undefined {
    return this.toks[this.at];
  }
  private found(): string {
    const t = this.peek();
    return t ? `"${t.text}"` : "the end of the line";
  }
  private isOp(text: string): boolean {
    const t = this.peek();
    return t?.kind === "op" && t.text === text;
  }
  private isIdent(text?: string): boolean {
    const t = this.peek();
    return t?.kind === "ident" && (text === undefined || t.text === text);
  }
  private op(text: string): Tok {
    if (!this.isOp(text)) this.fail(`expected "${text}" but found ${this.found()}`);
    return this.toks[this.at++]!;
  }
  private ident(text?: string): Tok {
    if (!this.isIdent(text)) this.fail(`expected ${text ? `"${text}"` : "a name"} but found ${this.found()}`);
    return this.toks[this.at++]!;
  }
  private reg(): Extract<Tok, { kind: "reg" }> {
    const t = this.peek();
    if (t?.kind !== "reg") this.fail(`expected a register but found ${this.found()}`);
    if (t.n > MAX_REG) this.fail(`no register ${t.text}: registers are r0-r10`, t);
    this.at++;
    return t;
  }
  /** An optionally signed number; returns the value and its first token. */
  private number(what: string): { value: bigint; tok: Tok; hex: boolean } {
    const first = this.peek();
    let sign = 1n;
    if (this.isOp("-") || this.isOp("+")) {
      if (this.toks[this.at]!.text === "-") sign = -1n;
      this.at++;
    }
    const t = this.peek();
    if (t?.kind !== "num") this.fail(`expected ${what} but found ${this.found()}`);
    this.at++;
    return { value: sign * t.value, tok: first!, hex: t.hex };
  }
  private ranged(what: string, min: bigint, max: bigint): number {
    const { value, tok } = this.number(what);
    if (value < min || value > max) this.fail(`${what} ${value} is out of range [${min}, ${max}]`, tok);
    return Number(BigInt.asIntN(32, value));
  }
  private imm32 = (): number => this.ranged("immediate", I32_MIN, U32_MAX);
  private off16 = (): number => this.ranged("offset", -32768n, 32767n);
  private sameReg(a: Tok & { kind: "reg" }, b: Tok & { kind: "reg" }): void {
    if (a.n !== b.n) this.fail(`this form needs the same register on both sides (${a.text} and ${b.text})`, b);
  }
  private sameWidth(a: Tok & { kind: "reg" }, b: Tok & { kind: "reg" }): void {
    if (a.w !== b.w) this.fail(`operand ${b.text} does not match the width of ${a.text}`, b);
  }

  /** `(u64 *)` after a `*` or `(`: an access size. */
  private sizeCast(): { size: Size; signed: boolean; tok: Tok } {
    this.op("(");
    const t = this.ident();
    const s = SIZES[t.text];
    if (!s) this.fail(`unknown access size "${t.text}" (u8, u16, u32, u64, s8, s16, s32)`, t);
    this.op("*");
    this.op(")");
    return { ...s, tok: t };
  }
  /** `(r10 -8)` or `(r10 - 0x8)`; also the bare `r1 + 0x8` of llvm's xchg forms. */
  private memRef(parens = true): { reg: number; off: number } {
    if (parens) this.op("(");
    const r = this.reg();
    if (r.w) this.fail(`a base address register is 64-bit: use r${r.n}`, r);
    const off = this.isOp("+") || this.isOp("-") ? this.off16() : 0;
    if (parens) this.op(")");
    return { reg: r.n, off };
  }
  /** A jump target: `pc+N`, `+0x1`, `-2`, `5` (relative) or a label. */
  private target(insnSlot: number, field: "off" | "imm"): number {
    const t = this.peek();
    if (t?.kind === "ident" && t.text === "pc") {
      this.at++;
      if (!this.isOp("+") && !this.isOp("-")) this.fail(`expected "+" or "-" after "pc" but found ${this.found()}`);
    } else if (t?.kind === "ident") {
      this.at++;
      if (!this.labels.has(t.text)) this.fail(`undefined label "${t.text}"`, t);
      this.fixups.push({ slot: insnSlot, label: t, field, line: this.line.no });
      return 0;
    }
    return field === "off" ? this.off16() : this.ranged("offset", I32_MIN, 2n ** 31n - 1n);
  }
  private get slotIndex(): number {
    return this.out.length;
  }

  // ---- instructions

  private instruction(): Insn[] {
    const t = this.peek();
    if (!t) this.fail("expected an instruction");
    if (t.kind === "reg") return this.regFirst();
    if (t.kind === "op" && t.text === "*") return [this.store()];
    if (t.kind === "op" && t.text === "<") this.fail("objdump could not decode this instruction");
    if (t.kind !== "ident") this.fail(`expected an instruction but found "${t.text}"`);
    switch (t.text) {
      case "exit":
        this.at++;
        return [slot(Op.EXIT, 0, 0, 0, 0)];
      case "goto":
        this.at++;
        return [slot(Op.JA, 0, 0, this.target(this.slotIndex, "off"), 0)];
      case "gotol":
        this.at++;
        return [slot(Op.JA32, 0, 0, 0, this.target(this.slotIndex, "imm"))];
      case "may_goto":
        this.at++;
        return [slot(Op.MAY_GOTO, 0, 0, this.target(this.slotIndex, "off"), 0)];
      case "store_release":
        this.at++;
        return [this.storeRelease()];
      case "call":
        this.at++;
        return [this.call()];
      case "if":
        this.at++;
        return [this.cond()];
      case "lock":
        this.at++;
        return [this.lock()];
      case "ld_pseudo":
        this.at++;
        return this.ldPseudo();
      case ".insn":
        this.at++;
        return [this.rawInsn()];
    }
    return this.fail(`unknown instruction "${t.text}"`);
  }

  private rawInsn(): Insn {
    const code = this.ranged("opcode", 0n, 255n);
    this.op(",");
    const dst = this.ranged("register number", 0n, 15n);
    this.op(",");
    const src = this.ranged("register number", 0n, 15n);
    this.op(",");
    const off = this.off16();
    this.op(",");
    return slot(code, dst, src, off, this.imm32());
  }

  private store(): Insn {
    this.op("*");
    const { size, signed, tok } = this.sizeCast();
    if (signed) this.fail(`stores take an unsigned size, not "${tok.text}"`, tok);
    const { reg, off } = this.memRef();
    this.op("=");
    const v = this.peek();
    if (v?.kind === "reg") {
      const src = this.reg();
      if (src.w && size === Size.DW) this.fail(`a u64 store takes r${src.n}`, src);
      return slot(Class.STX | Mode.MEM | size, reg, src.n, off, 0);
    }
    return slot(Class.ST | Mode.MEM | size, reg, 0, off, this.imm32());
  }

  /** `store_release((u64 *)(r1 +0), r2)`; llvm names a narrower value `w2`. */
  private storeRelease(): Insn {
    this.op("(");
    const { size, signed, tok } = this.sizeCast();
    if (signed) this.fail(`stores take an unsigned size, not "${tok.text}"`, tok);
    const { reg, off } = this.memRef();
    this.op(",");
    const src = this.reg();
    this.op(")");
    if (src.w && size === Size.DW) this.fail(`a u64 store takes r${src.n}`, src);
    return slot(Class.STX | Mode.ATOMIC | size, reg, src.n, off, AtomicOp.STORE_REL);
  }

  /** `rN = load_acquire((u64 *)(r1 +0))`; llvm names the destination of a narrower load `wN`. */
  private loadAcquire(dst: Extract<Tok, { kind: "reg" }>): Insn {
    this.op("(");
    const { size, signed, tok } = this.sizeCast();
    if (signed) this.fail(`load_acquire zero-extends: take "u${tok.text.slice(1)}", not "${tok.text}"`, tok);
    if (dst.w && size === Size.DW) this.fail(`a u64 load writes r${dst.n}`, dst);
    const { reg, off } = this.memRef();
    this.op(")");
    return slot(Class.STX | Mode.ATOMIC | size, dst.n, reg, off, AtomicOp.LOAD_ACQ);
  }

  private lock(): Insn {
    this.op("*");
    const { size, tok } = this.sizeCast();
    if (size !== Size.W && size !== Size.DW) this.fail(`atomic operations take u32 or u64, not "${tok.text}"`, tok);
    const { reg, off } = this.memRef();
    const o = this.peek();
    const imm = o?.kind === "op" ? LOCK_OPS[o.text] : undefined;
    if (imm === undefined) this.fail(`expected one of += |= &= ^= but found ${this.found()}`);
    this.at++;
    const src = this.reg();
    if (src.w && size === Size.DW) this.fail(`a u64 atomic operation takes r${src.n}`, src);
    return slot(Class.STX | Mode.ATOMIC | size, reg, src.n, off, imm);
  }

  private cond(): Insn {
    const dst = this.reg();
    const o = this.peek();
    const op = o?.kind === "op" ? JMP_OPS[o.text] : undefined;
    if (op === undefined) this.fail(`expected a comparison (== != > >= < <= & s> s>= s< s<=) but found ${this.found()}`);
    this.at++;
    const cls = dst.w ? Class.JMP32 : Class.JMP;
    let x: Insn;
    if (this.peek()?.kind === "reg") {
      const src = this.reg();
      this.sameWidth(dst, src);
      x = slot(cls | op | Source.X, dst.n, src.n, 0, 0);
    } else {
      x = slot(cls | op | Source.K, dst.n, 0, 0, this.imm32());
    }
    this.ident("goto");
    x.off = this.target(this.slotIndex, "off");
    return x;
  }

  private call(): Insn {
    const t = this.peek();
    if (!t) this.fail("expected a helper, function or label after call");
    const local = (): Insn => slot(Op.CALL, 0, PseudoCall.LOCAL, 0, this.target(this.slotIndex, "imm"));
    if (t.kind === "op" && (t.text === "+" || t.text === "-")) return local();
    if (t.kind === "num") return slot(Op.CALL, 0, PseudoCall.HELPER, 0, this.imm32());
    if (t.kind !== "ident") this.fail(`expected a helper, function or label after call but found "${t.text}"`);
    if (t.text === "pc") return local();
    this.at++;
    if (this.isOp("#")) {
      this.at++;
      const id = this.imm32();
      const known = t.text === "unknown" || (id === 0 && t.text === "bpf_unspec") || helperName(id) === t.text || find(this.options.helpers, t.text) === id;
      if (known) return slot(Op.CALL, 0, PseudoCall.HELPER, 0, id);
      // Any other NAME#ID is a kernel function, as the verifier log prints them.
      return slot(Op.CALL, 0, PseudoCall.KFUNC, this.btfFdIdx(), id);
    }
    if (this.labels.has(t.text)) {
      this.at--;
      return local();
    }
    const helper = find(this.options.helpers, t.text) ?? helperId(t.text);
    if (helper !== undefined) return slot(Op.CALL, 0, PseudoCall.HELPER, 0, helper);
    const kfunc = find(this.options.kfuncs, t.text);
    if (kfunc !== undefined) return slot(Op.CALL, 0, PseudoCall.KFUNC, this.btfFdIdx(), kfunc);
    return this.fail(`unknown helper, kernel function or label "${t.text}"`, t);
  }
  private btfFdIdx(): number {
    if (!this.isIdent("btf_fd_idx")) return 0;
    this.at++;
    this.op("=");
    return this.off16();
  }

  private ldPseudo(): Insn[] {
    const dst = this.reg();
    if (dst.w) this.fail(`a 64-bit load needs r${dst.n}`, dst);
    this.op(",");
    const src = this.ranged("pseudo source", 0n, 15n);
    this.op(",");
    const { value, tok } = this.number("immediate");
    if (value < -(2n ** 63n) || value >= 2n ** 64n) this.fail("immediate does not fit in 64 bits", tok);
    return this.wide(dst.n, value, src);
  }
  private wide(dst: number, value: bigint, pseudo: number): Insn[] {
    const v = BigInt.asUintN(64, value);
    return [slot(Op.LDDW, dst, pseudo, 0, Number(BigInt.asIntN(32, v))), slot(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n)))];
  }
  private wide2(dst: number, pseudo: number, lo: number, hi: number): Insn[] {
    return [slot(Op.LDDW, dst, pseudo, 0, lo), slot(0, 0, 0, 0, hi)];
  }

  private regFirst(): Insn[] {
    const dst = this.reg();
    const cls = dst.w ? Class.ALU : Class.ALU64;
    const o = this.peek();
    if (o?.kind !== "op") this.fail(`expected an assignment after ${dst.text} but found ${this.found()}`);
    const alu = ALU_OPS[o.text];
    if (alu) {
      this.at++;
      if (this.peek()?.kind === "reg") {
        const src = this.reg();
        this.sameWidth(dst, src);
        return [slot(cls | alu.op | Source.X, dst.n, src.n, alu.off, 0)];
      }
      return [slot(cls | alu.op | Source.K, dst.n, 0, alu.off, this.imm32())];
    }
    if (o.text !== "=") this.fail(`expected "=" or an operator like "+=" after ${dst.text} but found "${o.text}"`);
    this.at++;
    return this.assign(dst);
  }

  private assign(dst: Extract<Tok, { kind: "reg" }>): Insn[] {
    const cls = dst.w ? Class.ALU : Class.ALU64;
    const t = this.peek();
    if (!t) this.fail("expected a value after =");
    if (t.kind === "op" && t.text === "-" && this.toks[this.at + 1]?.kind === "reg") {
      this.at++;
      const r = this.reg();
      this.sameWidth(dst, r);
      this.sameReg(dst, r);
      return [slot(cls | AluOp.NEG, dst.n, 0, 0, 0)];
    }
    if (t.kind === "num" || (t.kind === "op" && (t.text === "-" || t.text === "+"))) return this.movImm(dst);
    if (t.kind === "reg") {
      const src = this.reg();
      this.sameWidth(dst, src);
      return [slot(cls | AluOp.MOV | Source.X, dst.n, src.n, 0, 0)];
    }
    if (t.kind === "op" && t.text === "(") {
      this.at++;
      const c = this.ident();
      const bits = { s8: 8, s16: 16, s32: 32 }[c.text];
      if (bits === undefined || (dst.w && bits === 32)) this.fail(`expected a sign-extension cast (s8, s16${dst.w ? "" : ", s32"}) but found "${c.text}"`, c);
      this.op(")");
      const src = this.reg();
      this.sameWidth(dst, src);
      return [slot(cls | AluOp.MOV | Source.X, dst.n, src.n, bits, 0)];
    }
    if (t.kind === "op" && t.text === "*") {
      this.at++;
      return [this.load(dst)];
    }
    if (t.kind === "ident") return this.named(dst, t);
    return this.fail(`expected a value after = but found "${t.text}"`);
  }

  private movImm(dst: Extract<Tok, { kind: "reg" }>): Insn[] {
    const { value, tok, hex } = this.number("immediate");
    const ll = this.isIdent("ll");
    if (ll) this.at++;
    if (dst.w) {
      if (ll) this.fail(`a 64-bit load needs r${dst.n}`, dst);
      if (value < I32_MIN || value > U32_MAX) this.fail(`immediate ${value} does not fit in 32 bits`, tok);
      return [slot(Class.ALU | AluOp.MOV | Source.K, dst.n, 0, 0, Number(BigInt.asIntN(32, value)))];
    }
    if (value < -(2n ** 63n) || value >= 2n ** 64n) this.fail(`immediate ${value} does not fit in 64 bits`, tok);
    // A 64-bit move sign-extends its 32-bit immediate; other values need LDDW.
    if (ll || (hex && this.kernelHex) || value < I32_MIN || value >= -I32_MIN) return this.wide(dst.n, value, PseudoLd.IMM64);
    return [slot(Class.ALU64 | AluOp.MOV | Source.K, dst.n, 0, 0, Number(value))];
  }

  private load(dst: Extract<Tok, { kind: "reg" }>): Insn {
    const { size, signed, tok } = this.sizeCast();
    if (this.isIdent("skb")) {
      this.at++;
      if (signed || size === Size.DW) this.fail(`packet loads take u8, u16 or u32, not "${tok.text}"`, tok);
      if (dst.n !== 0 || dst.w) this.fail("packet loads write r0", dst);
      this.op("[");
      let x: Insn;
      if (this.peek()?.kind === "reg") {
        const src = this.reg();
        // The kernel prints `skb[r1 + -5]`.
        if (this.isOp("+")) this.at++;
        const imm = this.isOp("]") ? 0 : this.imm32();
        x = slot(Class.LD | Mode.IND | size, 0, src.n, 0, imm);
      } else {
        x = slot(Class.LD | Mode.ABS | size, 0, 0, 0, this.imm32());
      }
      this.op("]");
      return x;
    }
    // llvm names the 32-bit half for zero-extending loads below 64 bits; anything else is 64-bit.
    if (dst.w && (signed || size === Size.DW)) this.fail(`a ${tok.text} load writes r${dst.n}`, dst);
    const { reg, off } = this.memRef();
    return slot(Class.LDX | (signed ? Mode.MEMSX : Mode.MEM) | size, dst.n, reg, off, 0);
  }

  /** `rN = NAME...`: byte swaps, atomics with a result, pseudo loads. */
  private named(dst: Extract<Tok, { kind: "reg" }>, t: Tok): Insn[] {
    this.at++;
    const name = t.text;
    let m = /^(be|le|bswap)(16|32|64)$/.exec(name);
    if (m) {
      const src = this.reg();
      this.sameReg(dst, src);
      if (dst.w || src.w) this.fail("byte swaps are written with r registers", dst.w ? dst : src);
      const code = m[1] === "bswap" ? Class.ALU64 | AluOp.END : Class.ALU | AluOp.END | (m[1] === "be" ? Source.X : Source.K);
      return [slot(code, dst.n, 0, 0, Number(m[2]))];
    }
    if (name === "load_acquire") return [this.loadAcquire(dst)];
    m = /^atomic(64)?_(fetch_(add|or|and|xor)|xchg|cmpxchg)$/.exec(name);
    if (m) return [this.atomicCall(dst, t, m[1] === "64", m[3] ? FETCH_OPS[m[3]]! | AtomicOp.FETCH : m[2] === "xchg" ? AtomicOp.XCHG : AtomicOp.CMPXCHG)];
    m = /^(cmpxchg|xchg)(_64|32_32)$/.exec(name);
    if (m) {
      const size = m[2] === "_64" ? Size.DW : Size.W;
      const cmp = m[1] === "cmpxchg";
      this.op("(");
      const { reg, off } = this.memRef(false);
      this.op(",");
      if (cmp) this.expectR0(dst, this.reg());
      if (cmp) this.op(",");
      const src = this.reg();
      this.op(")");
      if (!cmp) this.sameReg(dst, src);
      return [slot(Class.STX | Mode.ATOMIC | size, reg, src.n, off, cmp ? AtomicOp.CMPXCHG : AtomicOp.XCHG)];
    }
    if (dst.w) this.fail(`a 64-bit load needs r${dst.n}`, dst);
    switch (name) {
      case "map":
        return this.mapLoad(dst.n);
      case "btf_id": {
        this.op("[");
        const id = this.imm32();
        this.op("]");
        let fd = 0;
        if (this.isOp("[")) {
          this.at++;
          this.ident("fd");
          this.op(":");
          fd = this.imm32();
          this.op("]");
        }
        return this.wide2(dst.n, PseudoLd.BTF_ID, id, fd);
      }
      case "subprog": {
        this.op("[");
        const at = this.slotIndex;
        const rel = this.target(at, "imm");
        this.op("]");
        let hi = 0;
        if (this.isOp("[")) {
          this.at++;
          hi = this.imm32();
          this.op("]");
        }
        return this.wide2(dst.n, PseudoLd.FUNC, rel, hi);
      }
    }
    return this.fail(`unknown operand "${name}"`, t);
  }

  private expectR0(dst: Tok & { kind: "reg" }, r: Tok & { kind: "reg" }): void {
    if (r.n !== 0) this.fail(`cmpxchg compares with r0, not ${r.text}`, r);
    if (dst.n !== 0) this.fail(`cmpxchg writes r0, not ${dst.text}`, dst);
  }

  /** Kernel forms `atomic[64]_fetch_add((u64 *)(r1 +0), r2)`, `..._xchg(...)`, `..._cmpxchg(..., r0, r2)`. */
  private atomicCall(dst: Extract<Tok, { kind: "reg" }>, name: Tok, is64: boolean, imm: number): Insn {
    this.op("(");
    const { size, tok } = this.sizeCast();
    if (size !== Size.W && size !== Size.DW) this.fail(`atomic operations take u32 or u64, not "${tok.text}"`, tok);
    if (is64 && size !== Size.DW) this.fail(`${name.text} needs a u64 operand`, tok);
    const { reg, off } = this.memRef();
    this.op(",");
    if (imm === AtomicOp.CMPXCHG) {
      this.expectR0(dst, this.reg());
      this.op(",");
    }
    const src = this.reg();
    this.op(")");
    if (imm !== AtomicOp.CMPXCHG) this.sameReg(dst, src);
    return slot(Class.STX | Mode.ATOMIC | size, reg, src.n, off, imm);
  }

  /** `map[fd:N]`, `map[NAME]`, `map[fd:N][0]+OFF`, `map[idx:N]`, `map[idx:N]+OFF`. */
  private mapLoad(dst: number): Insn[] {
    this.op("[");
    const key = this.ident();
    let idx = false;
    let n: number;
    if (this.isOp(":")) {
      this.at++;
      if (key.text === "id") this.fail("map[id:N] names a map already loaded in the kernel; write map[fd:N] or a map name", key);
      if (key.text !== "fd" && key.text !== "idx") this.fail(`expected "fd" or "idx" but found "${key.text}"`, key);
      idx = key.text === "idx";
      n = this.imm32();
    } else {
      const fd = find(this.options.maps, key.text);
      if (fd === undefined) this.fail(`unknown map "${key.text}"`, key);
      n = fd;
    }
    this.op("]");
    if (idx) {
      if (!this.isOp("+")) return this.wide2(dst, PseudoLd.MAP_IDX, n, 0);
      this.at++;
      return this.wide2(dst, PseudoLd.MAP_IDX_VALUE, n, this.imm32());
    }
    if (!this.isOp("[")) return this.wide2(dst, PseudoLd.MAP_FD, n, 0);
    this.at++;
    const zero = this.number("0");
    if (zero.value !== 0n) this.fail("only element [0] of a map can be addressed", zero.tok);
    this.op("]");
    this.op("+");
    return this.wide2(dst, PseudoLd.MAP_VALUE, n, this.imm32());
  }
}

// ---------------------------------------------------------------- driver

/** Assembles text in either syntax; throws AsmError on the first problem. */
export function assemble(text: string, options: AsmOptions = {}): Insn[] {
  const raw = text.split(/\r?\n/);
  const lines: Line[] = [];
  const labels = new Map<string, number>();
  const labelAt: { name: string; index: number }[] = [];
  const bodies: string[] = [];

  // Pass 1: tokens and label definitions.
  for (let k = 0; k < raw.length; k++) {
    const text = raw[k]!;
    const no = k + 1;
    const sym = /^\s*[0-9a-f]+ <([^<>\s]+)>:\s*$/.exec(text);
    const [from, to] = span(text);
    let toks = sym ? [] : lex(text, from, to, no);
    if (sym) addLabel(sym[1]!, no, text.indexOf("<") + 2);
    // Leading `name:` labels.
    while (toks.length >= 2 && toks[0]!.kind === "ident" && toks[1]!.kind === "op" && toks[1]!.text === ":") {
      addLabel(toks[0]!.text, no, toks[0]!.col);
      toks = toks.slice(2);
    }
    if (toks.length > 0) {
      lines.push({ no, toks, end: to + 1 });
      bodies.push(text.slice(from, to));
    }
  }
  function addLabel(name: string, no: number, col: number): void {
    const seen = labels.get(name);
    if (seen !== undefined) throw new AsmError(no, col, `label "${name}" is already defined on line ${seen}`);
    labels.set(name, no);
    labelAt.push({ name, index: lines.length });
  }

  const style = options.style ?? "auto";
  const kernelHex = style === "kernel" || (style === "auto" && !isLlvmText(bodies));
  const parser = new Parser(kernelHex, new Set(labels.keys()), options);
  const firstSlot: number[] = [];
  for (const line of lines) {
    firstSlot.push(parser.out.length);
    parser.parse(line);
  }
  const insns = parser.out;

  // Pass 2: labels to relative offsets.
  const labelSlot = new Map<string, number>();
  for (const { name, index } of labelAt) labelSlot.set(name, index < firstSlot.length ? firstSlot[index]! : insns.length);
  for (const f of parser.fixups) {
    const target = labelSlot.get(f.label.text)!;
    const rel = target - (f.slot + 1);
    if (f.field === "off" && (rel < -32768 || rel > 32767)) {
      throw new AsmError(f.line, f.label.col, `label "${f.label.text}" is ${rel} instructions away, too far for a 16-bit offset (use gotol)`);
    }
    insns[f.slot]![f.field] = rel;
  }

  if (options.check ?? true) {
    if (insns.length === 0) throw new AsmError(raw.length, 1, "no instructions");
    try {
      checkProgram(insns);
    } catch (e) {
      if (!(e instanceof IsaError)) throw e;
      const line = parser.lineOfSlot[e.index] ?? raw.length;
      throw new AsmError(line, firstColumn(lines, line), e.reason);
    }
  }
  return insns;
}

function firstColumn(lines: Line[], no: number): number {
  return lines.find((l) => l.no === no)?.toks[0]?.col ?? 1;
}
