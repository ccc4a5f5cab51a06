// Dead-code elimination on the IR.
// Takes an `IrFunction`; gives a copy without instructions whose results are never read and that
// have no side effect (e.g. loads of probe arguments the handler ignores). Calls, copies, stores and atomics stay
// (an atomic's fetch too, read or not).

import type { CallArg, Inst, IrFunction, Operand } from "./index.js";

const regOf = (o: Operand | CallArg): number | undefined => (o.kind === "reg" ? o.id : undefined);

function instUses(i: Inst): (number | undefined)[] {
  switch (i.op) {
    case "mov": return [regOf(i.src)];
    case "bin": return [regOf(i.a), regOf(i.b)];
    case "neg": case "not": case "bswap": return [regOf(i.a)];
    case "ctx": return [];
    case "kread": case "kcopy": return [regOf(i.ptr)];
    case "store": return [regOf(i.src)];
    case "call": return i.args.map(regOf);
    case "load": return [regOf(i.base)];
    case "st": return [regOf(i.base), regOf(i.src)];
    case "atomic": return [i.ptr.id, regOf(i.src)];
    case "addr": case "rodata": case "bss": return [];
  }
}

export function eliminateDeadCode(fn: IrFunction): IrFunction {
  let blocks = fn.blocks.map((b) => ({ ...b, insts: [...b.insts] }));
  for (;;) {
    const used = new Set<number>([fn.ctx.id]);
    for (const b of blocks) {
      for (const i of b.insts) for (const u of instUses(i)) if (u !== undefined) used.add(u);
      const t = b.term;
      if (t?.op === "br") [regOf(t.a), regOf(t.b)].forEach((u) => u !== undefined && used.add(u));
      if (t?.op === "ret" && t.value.kind === "reg") used.add(t.value.id);
    }
    let removed = false;
    blocks = blocks.map((b) => {
      const insts = b.insts.filter((i) => i.op === "call" || i.op === "kcopy" || i.op === "store" || i.op === "st" || i.op === "atomic" || used.has(i.dst.id));
      if (insts.length !== b.insts.length) removed = true;
      return { ...b, insts };
    });
    if (!removed) return { ...fn, blocks };
  }
}
