// Random verifier-valid BPF programs for differential tests against the kernel.
// Takes a seed; gives a socket-filter program whose every effect is observable in a 136-byte
// array-map value: bytes 0-63 a working area, 64-127 a copy of the stack at exit, 128-135 the
// full 64-bit r0 (BPF_PROG_TEST_RUN reports only its low 32 bits).
//
// Shape: look up the map value (key 0) into r9, give r0-r8 and 64 stack bytes defined values,
// then a body of random ALU32/ALU64 operations, byte swaps, sign-extending moves and loads,
// stack and map-value loads and stores of every size, atomics (load-acquire and store-release too), forward conditional jumps and
// diamonds, and calls to random subprograms; finally copy the stack into the value and exit.
// Every jump goes forward, so every program terminates; every read is of defined memory and
// every divisor immediate is non-zero, so the kernel's verifier accepts them all.

import {
  AluOp,
  AtomicOp,
  atomicImms,
  Helper,
  JmpOp,
  Size,
  alu32Imm,
  alu32Reg,
  alu64Imm,
  alu64Reg,
  atomic,
  bswap,
  call,
  callLocal,
  endian,
  exit,
  ja,
  ja32,
  jmp32Imm,
  jmp32Reg,
  jmpImm,
  jmpReg,
  lddw,
  ldMapFd,
  ldx,
  ldxsx,
  loadAcquire,
  mov64Imm,
  mov64Reg,
  movsx32,
  movsx64,
  st,
  storeRelease,
  stx,
  type Insn,
  type Reg,
} from "../../compiler/isa/index.js";
import { Prng } from "./prng.js";

export const VALUE_SIZE = 136;
/** The fd placeholder in the map LDDW; runners patch it (kernel) or map it (VM). */
export const MAP_FD_PLACEHOLDER = 1;

const STACK_AREA = 64;
const KEY_OFF = -72;
const MAP_PTR = 9 as Reg;

interface Item {
  insns: Insn[];
  /** For jumps and calls: the item (or label) index the jump goes to, patched at layout. */
  target?: number;
  kind?: "jmp" | "ja32" | "call";
  /** For calls: the function index called, when fixed rather than chosen at placement. */
  callee?: number;
}

export interface RandomProgramOptions {
  /** Body length in operations (default 20-60). */
  length?: number;
  /** Number of subprograms (default 0-2; always 0 with packet loads). */
  subprograms?: number;
  /**
   * Keep the socket buffer in r6 and mix in legacy LD_ABS/LD_IND packet loads (default: one
   * seed in four). An out-of-bounds load ends the program with r0 = 0 before the epilogue, so
   * then only the returned value and the working area are observable.
   */
  packetLoads?: boolean;
}

export interface RandomProgram {
  seed: number;
  /** Whether the program uses legacy packet loads (see RandomProgramOptions.packetLoads). */
  packet: boolean;
  insns: Insn[];
}

const ALU_OPS = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.OR, AluOp.AND, AluOp.LSH, AluOp.RSH, AluOp.NEG, AluOp.MOD, AluOp.XOR, AluOp.MOV, AluOp.ARSH];
const COND_OPS = [JmpOp.JEQ, JmpOp.JGT, JmpOp.JGE, JmpOp.JSET, JmpOp.JNE, JmpOp.JSGT, JmpOp.JSGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSLT, JmpOp.JSLE];
const SIZES = [Size.B, Size.H, Size.W, Size.DW] as const;
const WIDTH = { [Size.B]: 1, [Size.H]: 2, [Size.W]: 4, [Size.DW]: 8 } as const;
const ATOMIC_OPS = atomicImms;

/** One function's random code: which registers it may use and how much of its stack is defined. */
class FunctionWriter {
  readonly items: Item[] = [];
  constructor(
    private readonly rng: Prng,
    /** Scalar registers that are defined and free to use. */
    private readonly regs: readonly Reg[],
    /** Bytes of defined stack below r10. */
    private readonly stack: number,
    /** Whether r9 points at the 128-byte map value. */
    private readonly hasValue: boolean,
    /** Whether there are subprograms this function may call; entries are chosen at placement. */
    private readonly canCall: boolean,
    /** Whether r6 holds the socket buffer, for legacy packet loads. */
    private readonly packet = false,
  ) {}

  private reg(): Reg {
    return this.rng.pick(this.regs);
  }

  emit(...insns: Insn[]): void {
    this.items.push({ insns });
  }

  alu(): void {
    const { rng } = this;
    const is64 = rng.chance(0.5);
    const op = rng.pick(ALU_OPS);
    const dst = this.reg();
    const bits = is64 ? 64 : 32;
    if (op === AluOp.NEG) return this.emit({ code: (is64 ? 0x07 : 0x04) | AluOp.NEG, dst, src: 0, off: 0, imm: 0 });
    const signedDiv = (op === AluOp.DIV || op === AluOp.MOD) && rng.chance(0.5) ? 1 : 0;
    if (rng.chance(0.5)) {
      let imm = rng.interesting32();
      if (op === AluOp.LSH || op === AluOp.RSH || op === AluOp.ARSH) imm = rng.below(bits);
      if ((op === AluOp.DIV || op === AluOp.MOD) && imm === 0) imm = rng.pick([1, -1, 3, 7]);
      this.emit(is64 ? alu64Imm(op, dst, imm, signedDiv) : alu32Imm(op, dst, imm, signedDiv));
    } else {
      const src = this.reg();
      this.emit(is64 ? alu64Reg(op, dst, src, signedDiv) : alu32Reg(op, dst, src, signedDiv));
    }
  }

  extend(): void {
    const { rng } = this;
    const dst = this.reg();
    const src = this.reg();
    this.emit(rng.chance(0.5) ? movsx64(dst, src, rng.pick([8, 16, 32] as const)) : movsx32(dst, src, rng.pick([8, 16] as const)));
  }

  swap(): void {
    const { rng } = this;
    const bits = rng.pick([16, 32, 64] as const);
    const r = rng.below(3);
    this.emit(r === 0 ? bswap(this.reg(), bits) : endian(r === 1 ? "le" : "be", this.reg(), bits));
  }

  constant(dst: Reg = this.reg()): void {
    if (this.rng.chance(0.5)) this.items.push({ insns: lddw(dst, this.rng.interesting64()) });
    else this.emit(mov64Imm(dst, this.rng.interesting32()));
  }

  /** A base register and offset for an access of `width` bytes, aligned when asked. */
  private place(width: number, aligned: boolean): { base: Reg; off: number } {
    const { rng } = this;
    const useValue = this.hasValue && rng.chance(0.4);
    const span = useValue ? STACK_AREA : this.stack;
    let at = rng.below(span - width + 1);
    // The kernel requires aligned stack accesses even from privileged programs.
    if (aligned || !useValue) at -= at % width;
    return useValue ? { base: MAP_PTR, off: at } : { base: 10 as Reg, off: -span + at };
  }

  memory(): void {
    const { rng } = this;
    const size = rng.pick(SIZES);
    const width = WIDTH[size];
    const { base, off } = this.place(width, false);
    const r = rng.below(4);
    if (r === 0) this.emit(stx(size, base, this.reg(), off));
    else if (r === 1) this.emit(st(size, base, off, rng.interesting32()));
    else if (r === 2 && size !== Size.DW) this.emit(ldxsx(size, this.reg(), base, off));
    else this.emit(ldx(size, this.reg(), base, off));
  }

  atomic(): void {
    const { rng } = this;
    if (rng.chance(0.25)) return this.acquireRelease();
    const size = rng.pick([Size.W, Size.DW] as const);
    const { base, off } = this.place(WIDTH[size], true);
    const op = rng.pick(ATOMIC_OPS);
    // CMPXCHG compares with r0 and loads into it, so r0 must be one of ours.
    if (op === AtomicOp.CMPXCHG && !this.regs.includes(0 as Reg)) return this.alu();
    this.emit(atomic(size, op, base, this.reg(), off));
  }

  /** A load-acquire or store-release of any size; aligned, as the kernel wants every atomic. */
  acquireRelease(): void {
    const { rng } = this;
    const size = rng.pick(SIZES);
    const { base, off } = this.place(WIDTH[size], true);
    this.emit(rng.chance(0.5) ? loadAcquire(size, this.reg(), base, off) : storeRelease(size, base, this.reg(), off));
  }

  branch(end: () => number): void {
    const { rng } = this;
    const op = rng.pick(COND_OPS);
    const is64 = rng.chance(0.5);
    const dst = this.reg();
    const insn = rng.chance(0.5)
      ? (is64 ? jmpImm : jmp32Imm)(op, dst, rng.interesting32(), 0)
      : (is64 ? jmpReg : jmp32Reg)(op, dst, this.reg(), 0);
    const here = this.items.length;
    // Forward to any later item up to the function's end label.
    this.items.push({ insns: [insn], kind: "jmp", target: here + 1 + rng.below(Math.max(1, end() - here)) });
  }

  /** if (cond) { A } else { B }: exercises unconditional forward jumps without dead code. */
  diamond(body: () => void): void {
    const { rng } = this;
    const cond = rng.pick(COND_OPS);
    const jcc = { insns: [jmpImm(cond, this.reg(), rng.interesting32(), 0)], kind: "jmp" as const, target: -1 };
    this.items.push(jcc);
    for (let n = rng.between(1, 3); n > 0; n--) body();
    const wide = rng.chance(0.3);
    const skip: Item = { insns: [wide ? ja32(0) : ja(0)], kind: wide ? "ja32" : "jmp", target: -1 };
    this.items.push(skip);
    jcc.target = this.items.length;
    for (let n = rng.between(1, 3); n > 0; n--) body();
    skip.target = this.items.length;
  }

  /** A call of function `callee`, or of a random later one chosen when the functions are placed. */
  call(callee?: number): void {
    if (!this.canCall) return this.alu();
    this.items.push({ insns: [callLocal(0)], kind: "call", callee });
    // The call leaves r1-r5 undefined; give back the ones we use.
    for (const r of [1, 2, 3, 4, 5] as Reg[]) if (this.regs.includes(r)) this.emit(mov64Imm(r, this.rng.interesting32()));
  }

  /** r0 = a big-endian load from the packet; like a call, it leaves r1-r5 undefined. */
  packetLoad(): void {
    const { rng } = this;
    const size = rng.pick([Size.B, Size.H, Size.W] as const);
    // Mostly in bounds of the 50 bytes after the Ethernet header, sometimes past the end.
    const imm = rng.chance(0.9) ? rng.below(50) : rng.pick([-1, 48, 49, 50, 64, 0x7fffffff]);
    if (rng.chance(0.5)) this.emit({ code: 0x20 | size, dst: 0, src: 0, off: 0, imm });
    else {
      const src = rng.pick(this.regs.filter((r) => r > 5));
      this.emit(alu64Imm(AluOp.AND, src, 0x1f), { code: 0x40 | size, dst: 0, src, off: 0, imm: rng.below(24) });
    }
    for (const r of [1, 2, 3, 4, 5] as Reg[]) this.emit(mov64Imm(r, rng.interesting32()));
  }

  private randomOp(end: () => number): void {
    if (this.packet && this.rng.chance(0.08)) return this.packetLoad();
    const r = this.rng.below(100);
    if (r < 35) this.alu();
    else if (r < 42) this.extend();
    else if (r < 48) this.swap();
    else if (r < 53) this.constant();
    else if (r < 73) this.memory();
    else if (r < 81) this.atomic();
    else if (r < 91) this.branch(end);
    else if (r < 95) this.diamond(() => this.simpleOp());
    else this.call();
  }

  /** `length` random operations; forward jumps may land anywhere up to the end of the body. */
  body(length: number): void {
    const end = this.items.length + length;
    while (this.items.length < end) this.randomOp(() => end);
    const last = this.items.length;
    for (const item of this.items) if (item.kind === "jmp" && item.target! > last) item.target = last;
  }

  /** An operation with no control flow, for diamond arms. */
  simpleOp(): void {
    const r = this.rng.below(4);
    if (r === 0) this.memory();
    else if (r === 1) this.swap();
    else this.alu();
  }
}

/** Lays out items into slots, patching jump and call offsets from item indices. */
function layout(items: Item[]): Insn[] {
  const start: number[] = [];
  let slot = 0;
  for (const item of items) {
    start.push(slot);
    slot += item.insns.length;
  }
  start.push(slot);
  const out: Insn[] = [];
  items.forEach((item, i) => {
    if (item.target === undefined) return out.push(...item.insns);
    const off = start[item.target]! - (start[i]! + 1);
    const [insn] = item.insns;
    if (item.kind === "call" || item.kind === "ja32") out.push({ ...insn!, imm: off });
    else out.push({ ...insn!, off });
  });
  return out;
}

export function randomProgram(seed: number, options: RandomProgramOptions = {}): RandomProgram {
  const rng = new Prng(seed);
  const packet = options.packetLoads ?? rng.chance(0.25);
  // The kernel does not let legacy packet loads mix with BPF-to-BPF calls.
  const subCount = packet ? 0 : (options.subprograms ?? rng.below(3));
  const scalars = (packet ? [0, 1, 2, 3, 4, 5, 7, 8] : [0, 1, 2, 3, 4, 5, 6, 7, 8]) as Reg[];
  const main = new FunctionWriter(rng, scalars, STACK_AREA, true, subCount > 0, packet);

  // Prologue: r6 = the socket buffer (packet loads read through it), r9 = &value[0], or
  // return 0 when the lookup fails.
  if (packet) main.emit(mov64Reg(6 as Reg, 1 as Reg));
  main.emit(st(Size.W, 10 as Reg, KEY_OFF, 0));
  main.emit(mov64Reg(2 as Reg, 10 as Reg));
  main.emit(alu64Imm(AluOp.ADD, 2 as Reg, KEY_OFF));
  main.items.push({ insns: ldMapFd(1 as Reg, MAP_FD_PLACEHOLDER) });
  main.emit(call(Helper.map_lookup_elem));
  main.emit(jmpImm(JmpOp.JNE, 0 as Reg, 0, 1));
  main.emit(exit());
  main.emit(mov64Reg(MAP_PTR, 0 as Reg));
  for (const r of scalars) main.constant(r);
  for (let at = -STACK_AREA; at < 0; at += 8) main.emit(stx(Size.DW, 10 as Reg, rng.pick(scalars), at));
  // Call every subprogram once, or the kernel rejects the uncalled ones as unreachable.
  for (let f = 1; f <= subCount; f++) main.call(f);
  main.body(options.length ?? rng.between(20, 60));
  // Epilogue: make the stack observable by copying it into the map value.
  for (let k = 0; k < STACK_AREA / 8; k++) {
    main.emit(ldx(Size.DW, 1 as Reg, 10 as Reg, -STACK_AREA + 8 * k));
    main.emit(stx(Size.DW, MAP_PTR, 1 as Reg, STACK_AREA + 8 * k));
  }
  main.emit(stx(Size.DW, MAP_PTR, 0 as Reg, 2 * STACK_AREA));
  main.emit(exit());

  const functions = [main.items];
  for (let s = 0; s < subCount; s++) {
    const sub = new FunctionWriter(rng, [0, 1, 2, 3, 4, 5] as Reg[], 32, false, s + 1 < subCount);
    sub.emit(mov64Imm(0 as Reg, rng.interesting32()));
    for (let at = -32; at < 0; at += 8) sub.emit(stx(Size.DW, 10 as Reg, rng.between(1, 5) as Reg, at));
    sub.body(rng.between(3, 15));
    sub.emit(exit());
    functions.push(sub.items);
  }

  // Place the functions one after another, rebasing targets; function f may call only
  // functions after it, so there is no recursion.
  const items: Item[] = [];
  const entries: number[] = [];
  for (const fn of functions) {
    entries.push(items.length);
    for (const item of fn) if (item.target !== undefined) item.target += items.length;
    items.push(...fn);
  }
  functions.forEach((fn, f) => {
    for (const item of fn) if (item.kind === "call") item.target = entries[item.callee ?? rng.between(f + 1, functions.length - 1)];
  });
  return { seed, packet, insns: layout(items) };
}
