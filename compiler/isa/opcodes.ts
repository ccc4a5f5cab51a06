// The BPF instruction set (RFC 9669) as typed constants.
// Takes nothing; gives the field values of the 8-bit opcode and the pseudo sources.

/** Instruction classes: the low 3 bits of the opcode. */
export const Class = {
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
} as const;
export type Class = (typeof Class)[keyof typeof Class];

/** Operand source for ALU and JMP classes: bit 3. For END it selects the byte order. */
export const Source = { K: 0x00, X: 0x08 } as const;
export type Source = (typeof Source)[keyof typeof Source];

/** ALU operations: the high 4 bits of an ALU/ALU64 opcode. */
export const AluOp = {
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  MOV: 0xb0,
  ARSH: 0xc0,
  END: 0xd0,
} as const;
export type AluOp = (typeof AluOp)[keyof typeof AluOp];

/** Byte-order selector of END (the source bit): to little or to big endian. */
export const Endian = { TO_LE: 0x00, TO_BE: 0x08 } as const;

/** Jump operations: the high 4 bits of a JMP/JMP32 opcode. */
export const JmpOp = {
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  JNE: 0x50,
  JSGT: 0x60,
  JSGE: 0x70,
  CALL: 0x80,
  EXIT: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
  JSLT: 0xc0,
  JSLE: 0xd0,
  /** Conditional pseudo jump (BPF_JCOND); its only kind, src 0, is `may_goto`. */
  JCOND: 0xe0,
} as const;
export type JmpOp = (typeof JmpOp)[keyof typeof JmpOp];

/** Access size of load and store classes: bits 3-4. */
export const Size = { W: 0x00, H: 0x08, B: 0x10, DW: 0x18 } as const;
export type Size = (typeof Size)[keyof typeof Size];

/** Bytes moved by each access size. */
export const sizeBytes: Record<Size, 1 | 2 | 4 | 8> = { [Size.W]: 4, [Size.H]: 2, [Size.B]: 1, [Size.DW]: 8 };

/** Addressing mode of load and store classes: the high 3 bits. */
export const Mode = {
  IMM: 0x00,
  ABS: 0x20,
  IND: 0x40,
  MEM: 0x60,
  MEMSX: 0x80,
  ATOMIC: 0xc0,
} as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

/** Atomic operations, carried in the imm field of STX|ATOMIC. */
export const AtomicOp = {
  ADD: 0x00,
  OR: 0x40,
  AND: 0x50,
  XOR: 0xa0,
  FETCH: 0x01,
  XCHG: 0xe0 | 0x01,
  CMPXCHG: 0xf0 | 0x01,
  /** `dst = load_acquire((size *)(src + off))` (BPF_LOAD_ACQ, Linux 6.15): any of the four sizes. */
  LOAD_ACQ: 0x100,
  /** `store_release((size *)(dst + off), src)` (BPF_STORE_REL, Linux 6.15): any of the four sizes. */
  STORE_REL: 0x110,
} as const;

/** Whether an STX|ATOMIC imm is load-acquire or store-release, the atomics that are a plain load or store. */
export const isLoadStoreAtomic = (imm: number): boolean => imm === AtomicOp.LOAD_ACQ || imm === AtomicOp.STORE_REL;

/** The read-modify-write atomic imm values the kernel accepts (32 and 64 bits only). */
export const atomicImms: readonly number[] = [
  AtomicOp.ADD,
  AtomicOp.OR,
  AtomicOp.AND,
  AtomicOp.XOR,
  AtomicOp.ADD | AtomicOp.FETCH,
  AtomicOp.OR | AtomicOp.FETCH,
  AtomicOp.AND | AtomicOp.FETCH,
  AtomicOp.XOR | AtomicOp.FETCH,
  AtomicOp.XCHG,
  AtomicOp.CMPXCHG,
];

/** The src field of a 16-byte LDDW says what its 64-bit immediate means. */
export const PseudoLd = {
  IMM64: 0,
  MAP_FD: 1,
  MAP_VALUE: 2,
  BTF_ID: 3,
  FUNC: 4,
  MAP_IDX: 5,
  MAP_IDX_VALUE: 6,
} as const;
export type PseudoLd = (typeof PseudoLd)[keyof typeof PseudoLd];

/** The src field of CALL says what its imm names. */
export const PseudoCall = {
  HELPER: 0,
  LOCAL: 1,
  KFUNC: 2,
} as const;
export type PseudoCall = (typeof PseudoCall)[keyof typeof PseudoCall];

/** Registers: r0 return value, r1-r5 arguments, r6-r9 callee-saved, r10 read-only frame pointer. */
export const Reg = { R0: 0, R1: 1, R2: 2, R3: 3, R4: 4, R5: 5, R6: 6, R7: 7, R8: 8, R9: 9, R10: 10 } as const;
export type Reg = (typeof Reg)[keyof typeof Reg];
export const FP = Reg.R10;
export const MAX_REG = 10;

/** Frequently used whole opcodes. */
export const Op = {
  LDDW: Class.LD | Mode.IMM | Size.DW,
  EXIT: Class.JMP | JmpOp.EXIT,
  CALL: Class.JMP | JmpOp.CALL,
  JA: Class.JMP | JmpOp.JA,
  /** JA with a 32-bit offset in imm (`gotol`). */
  JA32: Class.JMP32 | JmpOp.JA,
  /**
   * `may_goto pc+off` (BPF_JMP | BPF_JCOND, src 0): falls through while the function's hidden loop counter is
   * not exhausted (and counts it down), jumps when it is.
   */
  MAY_GOTO: Class.JMP | JmpOp.JCOND,
} as const;

export const opClass = (code: number): Class => (code & 0x07) as Class;
export const opSource = (code: number): Source => (code & 0x08) as Source;
export const aluOp = (code: number): AluOp => (code & 0xf0) as AluOp;
export const jmpOp = (code: number): JmpOp => (code & 0xf0) as JmpOp;
export const opSize = (code: number): Size => (code & 0x18) as Size;
export const opMode = (code: number): Mode => (code & 0xe0) as Mode;

export const isAlu = (code: number): boolean => {
  const c = opClass(code);
  return c === Class.ALU || c === Class.ALU64;
};
export const isJmp = (code: number): boolean => {
  const c = opClass(code);
  return c === Class.JMP || c === Class.JMP32;
};
