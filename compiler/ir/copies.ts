// Copy folding on the IR.
// Takes an `IrFunction`; gives a copy where `t = <op>; x = t` (t read nowhere else, same type)
// becomes `x = <op>`: what compound assignments and declarations of expressions produce.

import { sameType, type Inst, type IrFunction, type Operand } from "./index.js";

function reads(fn: IrFunction): Map<number, number> {
  const count = new Map<number, number>();
  const see = (o: Operand | { kind: string }): void => {
    if (o.kind === "reg") count.set((o as { id: number }).id, (count.get((o as { id: number }).id) ?? 0) + 1);
  };
  for (const b of fn.blocks) {
    for (const i of b.insts) {
      if (i.op === "mov" || i.op === "store") see(i.src);
      else if (i.op === "bin") (see(i.a), see(i.b));
      else if (i.op === "neg" || i.op === "not") see(i.a);
      else if (i.op === "kread" || i.op === "kcopy") see(i.ptr);
      else if (i.op === "call") i.args.forEach(see);
      else if (i.op === "load") see(i.base);
      else if (i.op === "st") (see(i.base), see(i.src));
      else if (i.op === "atomic") (see(i.ptr), see(i.src));
    }
    const t = b.term;
    if (t?.op === "br") (see(t.a), see(t.b));
    if (t?.op === "ret") see(t.value);
  }
  return count;
}

export function foldCopies(fn: IrFunction): IrFunction {
  const count = reads(fn);
  const blocks = fn.blocks.map((b) => {
    const insts: Inst[] = [];
    for (const i of b.insts) {
      const prev = insts.at(-1);
      if (
        i.op === "mov" && i.src.kind === "reg" && prev && prev.op !== "store" && prev.op !== "st" && prev.op !== "atomic" && prev.op !== "kcopy" && prev.dst?.id === i.src.id &&
        count.get(i.src.id) === 1 && sameType(i.src.type, i.dst.type)
      ) {
        insts[insts.length - 1] = { ...prev, dst: i.dst } as Inst;
        continue;
      }
      insts.push(i);
    }
    return { ...b, insts };
  });
  return { ...fn, blocks };
}
