// Constant branch folding on the IR.
// Takes an `IrFunction`; gives a copy where a `br` whose outcome is known at compile time (two
// constants, or both edges to one block once jumps through empty blocks go straight to their end)
// is a `jmp`, without the blocks that became unreachable:
// the kernel rejects unreachable instructions, and codegen selects only what is left.

import { reachableBlocks, type Block, type CmpOp, type IrFunction, type Terminator } from "./index.js";

/** `a CMP b` over 64-bit values, as the BPF jump compares them. */
export function evalCmp(cmp: CmpOp, signed: boolean, a: bigint, b: bigint): boolean {
  const [x, y] = signed ? [BigInt.asIntN(64, a), BigInt.asIntN(64, b)] : [BigInt.asUintN(64, a), BigInt.asUintN(64, b)];
  switch (cmp) {
    case "eq": return x === y;
    case "ne": return x !== y;
    case "lt": return x < y;
    case "le": return x <= y;
    case "gt": return x > y;
    case "ge": return x >= y;
  }
}

function fold(t: Terminator | undefined, dest: (id: number) => number): Terminator | undefined {
  if (t?.op === "jmp") return { ...t, target: dest(t.target) };
  if (t?.op !== "br") return t;
  t = { ...t, then: dest(t.then), else: dest(t.else) };
  if (t.a.kind === "imm" && t.b.kind === "imm") return { op: "jmp", target: evalCmp(t.cmp, t.signed, t.a.value, t.b.value) ? t.then : t.else, loc: t.loc };
  if (t.then === t.else) return { op: "jmp", target: t.then, loc: t.loc };
  return t;
}

export function foldBranches(fn: IrFunction): IrFunction {
  const byId = new Map(fn.blocks.map((b) => [b.id, b]));
  /** Where a jump to `id` ends up, through empty blocks that only jump on (a cycle stops it). */
  const dest = (id: number): number => {
    const seen = new Set<number>();
    for (let b = byId.get(id); b && !b.insts.length && b.term?.op === "jmp" && !seen.has(b.id); b = byId.get(id)) {
      seen.add(b.id);
      id = b.term.target;
    }
    return id;
  };
  const blocks: Block[] = fn.blocks.map((b) => ({ ...b, term: fold(b.term, dest) }));
  return { ...fn, blocks: reachableBlocks({ ...fn, blocks }) };
}
