// Copy folding on the IR.
// Takes an `IrFunction`; gives a copy where `t = <op>; x = t` (t read nowhere else, same type)
// becomes `x = <op>`: what compound assignments and declarations of expressions produce; and a
// kernel read stored whole to the stack becomes a read into that place.

import { sameType, type Inst, type IrFunction, type Operand, type StackAddr } from "./index.js";

function reads(fn: IrFunction): Map<number, number> {
  const count = new Map<number, number>();
  const see = (o: Operand | { kind: string }): void => {
    if (o.kind === "reg") count.set((o as { id: number }).id, (count.get((o as { id: number }).id) ?? 0) + 1);
  };
  for (const b of fn.blocks) {
    for (const i of b.insts) {
      if (i.op === "mov" || i.op === "store") see(i.src);
      else if (i.op === "bin") (see(i.a), see(i.b));
      else if (i.op === "neg" || i.op === "not" || i.op === "bswap") see(i.a);
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

/**
 * `t = kread p; *slot = t` (t read nowhere else, stored whole to the stack) as one probe read into the
 * slot: what storing a kernel member into a struct on the stack produces, as clang reads into the field.
 */
function readInPlace(read: Extract<Inst, { op: "kread" }>, store: Extract<Inst, { op: "st" }>, count: ReadonlyMap<number, number>): Inst | undefined {
  // A direct load and a store are two instructions: cheaper than the probe read this would make.
  if (read.object === undefined) return undefined;
  // A bitfield's value is its unit's bytes shifted, not bytes a probe read can place.
  if (read.bitfield) return undefined;
  if (store.base.kind !== "stack" || store.src.kind !== "reg" || store.src.id !== read.dst.id || store.size !== read.size || count.get(read.dst.id) !== 1) return undefined;
  const into: StackAddr = { kind: "stack", object: store.base.object, offset: (store.base.offset ?? 0) + store.offset };
  return { op: "kcopy", into, ptr: read.ptr, offset: read.offset, size: read.size, core: read.core, loc: read.loc };
}

export function foldCopies(fn: IrFunction): IrFunction {
  const count = reads(fn);
  const blocks = fn.blocks.map((b) => {
    const insts: Inst[] = [];
    for (const i of b.insts) {
      const prev = insts.at(-1);
      const inPlace = i.op === "st" && prev?.op === "kread" ? readInPlace(prev, i, count) : undefined;
      if (inPlace) {
        insts[insts.length - 1] = inPlace;
        continue;
      }
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
