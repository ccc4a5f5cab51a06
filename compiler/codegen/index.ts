// Code generation: one IR function to BPF instruction slots.
// Takes an `IrFunction`; gives its slots, the slots needing `.rodata` relocations, per-slot source
// positions (for line info) and the stack depth. Throws `CodegenError` when a limit is exceeded.

import { foldBranches } from "../ir/branches.js";
import { foldCopies } from "../ir/copies.js";
import { eliminateDeadCode } from "../ir/dce.js";
import type { CoreAccess, IrFunction, Loc } from "../ir/index.js";
import type { Insn } from "../isa/insn.js";
import { dropUnreachable, link, peephole } from "./link.js";
import { allocate } from "./regalloc.js";
import { selectFunction } from "./select.js";

export { CodegenError, MAX_STACK } from "./regalloc.js";

export interface GeneratedFunction {
  insns: Insn[];
  rodataRelocs: number[];
  bssRelocs: number[];
  mapRelocs: { insn: number; map: string }[];
  coreRelocs: ({ insn: number } & CoreAccess)[];
  locs: (Loc | undefined)[];
  stackDepth: number;
}

export function generate(fn: IrFunction): GeneratedFunction {
  // Constant conditions become jumps first, so their dead arms (and the values only they read) go.
  const ir = foldCopies(eliminateDeadCode(foldBranches(fn)));
  const selected = selectFunction(ir);
  const { blocks, stackDepth } = allocate(selected, ir.stack);
  // Whatever a pass leaves unreachable is dropped last: the kernel rejects unreachable instructions.
  const linked = link(dropUnreachable(peephole(blocks)));
  return { ...linked, stackDepth };
}
