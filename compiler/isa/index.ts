// The instruction set library: opcodes, helper ids, instructions, encoding and checking.
export * from "./opcodes.js";
export * from "./insn.js";
export * from "./helpers.js";
export * from "./disasm.js";
export * from "./asm.js";
