// Code generation: one IR function to BPF instruction slots.
// Takes an `IrFunction`; gives its slots, the slots needing `.rodata` relocations, per-slot source
// positions (for line info) and the stack depth. Throws `CodegenError` when a limit is exceeded.

import { reachableBlocks, type IrFunction, type Loc } from "../ir/index.js";
import type { Insn } from "../isa/index.js";
import { link, peephole } from "./link.js";
import { allocate } from "./regalloc.js";
import { selectFunction } from "./select.js";

export { CodegenError, MAX_STACK } from "./regalloc.js";

export interface GeneratedFunction {
  insns: Insn[];
  rodataRelocs: number[];
  mapRelocs: { insn: number; map: string }[];
  coreRelocs: { insn: number; struct: string; member: string }[];
  locs: (Loc | undefined)[];
  stackDepth: number;
}

export function generate(fn: IrFunction): GeneratedFunction {
  const selected = selectFunction(fn, reachableBlocks(fn));
  const { blocks, stackDepth } = allocate(selected, fn.stack);
  const linked = link(peephole(blocks));
  return { ...linked, stackDepth };
}
