// Demand-driven width analysis for instruction selection.
// Takes an `IrFunction`; gives the ids of virtual registers whose upper 32 bits some use reads.
// A register outside the set may skip the instructions that extend a 32-bit value to 64 bits
// (`<<= 32; s>>= 32` or `w = w`): every reader looks at its low 32 bits only. Readers of the low
// half: 32-bit ALU operations (BPF_ALU reads 32-bit operands), stores of 4 bytes or fewer, 32-bit
// atomics, conversions to 32 bits or fewer, and values marked `low32` (printk's %d and %u).
// Copies (`mov` that widens: no instruction but the move) pass their demand on to their source.

import { widens, type CallArg, type IrFunction, type Operand } from "../ir/index.js";

export function wideRegisters(fn: IrFunction): Set<number> {
  const wide = new Set<number>();
  /** [dst, src] of plain copies: src is wide if dst is. */
  const copies: [number, number][] = [];
  const full = (o: Operand | CallArg): void => {
    if (o.kind === "reg") wide.add(o.id);
  };
  for (const b of fn.blocks) {
    for (const i of b.insts) {
      switch (i.op) {
        case "mov":
          if (i.src.kind === "reg" && widens(i.src.type, i.dst.type)) copies.push([i.dst.id, i.src.id]);
          else if (i.dst.type.bits === 64) full(i.src);
          break;
        case "bin":
          if (i.dst.type.bits === 64) (full(i.a), full(i.b));
          break;
        case "neg":
        case "not":
        case "bswap":
          if (i.dst.type.bits === 64) full(i.a);
          break;
        case "kread": case "kcopy": full(i.ptr); break;
        case "store": if (!i.low32) full(i.src as Operand); break;
        case "call": i.args.forEach((a, n) => i.low32?.includes(n) || full(a)); break;
        case "load": full(i.base); break;
        case "st": full(i.base); if (i.size === 8) full(i.src); break;
        case "atomic": full(i.ptr); if (i.size === 8) full(i.src); break;
        case "ctx": case "addr": case "rodata": case "bss": break;
      }
    }
    const t = b.term;
    if (t?.op === "br") (full(t.a), full(t.b));
    if (t?.op === "ret") full(t.value);
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (const [dst, src] of copies) if (wide.has(dst) && !wide.has(src)) (wide.add(src), (changed = true));
  }
  return wide;
}
