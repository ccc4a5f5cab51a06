// Frame layout: where each stack object lives below r10. Objects whose lifetimes do not overlap share bytes, as
// clang's stack colouring lets them, so a handler that builds a map key per call (`c.increment(1); c.increment(2);
// ...`) or per switch case needs the stack of one at a time, not of all.
// Takes machine blocks over virtual registers (frame references still named by object), the function's stack
// objects and the virtual registers' live intervals; gives each object's r10 offset and the bytes they take.
//
// An object's lifetime is the hull, in instruction order, of: the instructions that name it; every block that lies on
// a path from one of them to another (a loop around a use); the live intervals of the registers its address reaches
// (computed from it, copied, offset); for an address put in a helper's argument register, the instructions up to
// that call; and the lifetime of any object its address is stored into.

import { Class, Op } from "../isa/opcodes.js";
import type { Loc, StackObject } from "../ir/index.js";
import { isVirtual, usesDefs, type MBlock } from "./machine.js";

export const MAX_STACK = 512;

export class CodegenError extends Error {
  constructor(
    message: string,
    /** The value whose stack object did not fit, when known. */
    readonly loc?: Loc,
  ) {
    super(message);
    this.name = "CodegenError";
  }
}

/** First and last instruction index (inclusive) over the function's blocks in order. */
interface Span {
  start: number;
  end: number;
}

export interface FrameLayout {
  /** Per stack object, its offset from r10 (negative). */
  offsets: number[];
  /** Bytes below r10 the objects take (a multiple of 8). */
  depth: number;
}

/** `vregSpans`: each virtual register's live interval, in regalloc's positions (2i reads, 2i+1 writes of insn i). */
export function layoutFrame(blocks: readonly MBlock[], stack: readonly StackObject[], vregSpans: ReadonlyMap<number, Span>): FrameLayout {
  if (!stack.length) return { offsets: [], depth: 0 };
  const spans = objectLifetimes(blocks, stack.length, vregSpans);
  // Largest first (then in order): the big ones claim the top of the frame, small ones fill the gaps between them.
  const order = stack.map((_, o) => o).sort((a, b) => stack[b]!.size - stack[a]!.size || a - b);
  const placed: { o: number; low: number; high: number }[] = [];
  const offsets: number[] = new Array<number>(stack.length).fill(0);
  let depth = 0;
  for (const o of order) {
    const { size, align } = stack[o]!;
    const span = spans[o];
    // Objects never named (dropped by the IR passes) take no bytes.
    if (!span) continue;
    const overlapping = placed.filter((p) => spans[p.o]!.start <= span.end && span.start <= spans[p.o]!.end);
    // Candidate depths (distance of the object's far end from r10): right below r10, or right below another's.
    const candidates = [0, ...overlapping.map((p) => p.high)].map((d) => Math.ceil((d + size) / align) * align).sort((a, b) => a - b);
    const high = candidates.find((h) => overlapping.every((p) => h - size >= p.high || h <= p.low))!;
    if (high > MAX_STACK) {
      const live = overlapping.reduce((n, p) => n + (p.high - p.low), 0);
      throw new CodegenError(`this needs ${size} bytes of stack beside ${live} bytes of values that live at the same time; BPF allows ${MAX_STACK}: keep large values in a map (a PerCpuArrayMap as scratch space) or reserve them in a ring buffer`, stack[o]!.loc);
    }
    placed.push({ o, low: high - size, high });
    offsets[o] = -high;
    depth = Math.max(depth, high);
  }
  return { offsets, depth: Math.ceil(depth / 8) * 8 };
}

/** Each object's lifetime, in instruction indices; undefined for an object no instruction names. */
function objectLifetimes(blocks: readonly MBlock[], count: number, vregSpans: ReadonlyMap<number, Span>): (Span | undefined)[] {
  const flat = blocks.flatMap((b) => b.insns);
  const firstOf: number[] = [];
  let at = 0;
  for (const b of blocks) {
    firstOf.push(at);
    at += b.insns.length;
  }
  const spans: (Span | undefined)[] = new Array<Span | undefined>(count).fill(undefined);
  const cover = (o: number, start: number, end: number): boolean => {
    const s = spans[o];
    if (!s) {
      spans[o] = { start, end };
      return true;
    }
    if (start >= s.start && end <= s.end) return false;
    s.start = Math.min(s.start, start);
    s.end = Math.max(s.end, end);
    return true;
  };

  // Which objects' addresses each virtual register may hold, to a fixpoint (a loop carries them backwards).
  const holds = new Map<number, Set<number>>();
  const addressesIn = (m: (typeof flat)[number]): Set<number> => {
    const out = new Set<number>();
    // A frame reference of an ALU instruction makes the object's address (loads and stores name its bytes).
    if (m.frame !== undefined && (m.code & 0x07) === Class.ALU64) out.add(m.frame);
    for (const r of usesDefs(m).uses) for (const o of holds.get(r) ?? []) out.add(o);
    return out;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const m of flat) {
      const addresses = addressesIn(m);
      // A store defines no register (an atomic's fetch is data).
      if (!addresses.size || (m.code & 0x07) === Class.STX) continue;
      for (const d of usesDefs(m).defs) {
        if (!isVirtual(d)) continue;
        let set = holds.get(d);
        if (!set) holds.set(d, (set = new Set()));
        for (const o of addresses) if (!set.has(o)) (set.add(o), (changed = true));
      }
    }
  }

  // Named, reached through registers, and passed to helpers.
  const storedInto: [address: number, into: number][] = [];
  flat.forEach((m, i) => {
    if (m.frame !== undefined) cover(m.frame, i, i);
    const addresses = addressesIn(m);
    if (!addresses.size) return;
    const cls = m.code & 0x07;
    // An address stored into another object (an argument array of pointers) lives as long as that object.
    if ((cls === Class.STX || cls === Class.ST) && m.frame !== undefined) for (const o of addresses) if (o !== m.frame) storedInto.push([o, m.frame]);
    // An address in a helper's argument register lives until the call reads it.
    if (usesDefs(m).defs.some((d) => d >= 1 && d <= 5)) {
      let call = i;
      while (call < flat.length && flat[call]!.code !== Op.CALL) call++;
      for (const o of addresses) cover(o, i, Math.min(call, flat.length - 1));
    }
  });
  for (const [v, objects] of holds) {
    const s = vregSpans.get(v);
    if (s) for (const o of objects) cover(o, s.start >> 1, s.end >> 1);
  }

  // Blocks on a path from one use of an object to another: a loop around a use keeps the object for all of its body.
  const index = new Map(blocks.map((b, i) => [b.id, i]));
  const succ = blocks.map((b) => [...new Set(b.insns.flatMap((m) => (m.target === undefined ? [] : [index.get(m.target)!])))]);
  const pred = blocks.map(() => [] as number[]);
  succ.forEach((ss, b) => ss.forEach((s) => pred[s]!.push(b)));
  const strictlyReachable = (from: readonly number[], edges: number[][]): Set<number> => {
    const seen = new Set<number>();
    const work = from.flatMap((b) => edges[b]!);
    while (work.length) {
      const b = work.pop()!;
      if (seen.has(b)) continue;
      seen.add(b);
      work.push(...edges[b]!);
    }
    return seen;
  };
  const blockAt = blocks.flatMap((b, n) => b.insns.map(() => n));
  for (let changed = true; changed; ) {
    changed = false;
    spans.forEach((s, o) => {
      if (!s) return;
      // Every block the lifetime touches counts as a use: what flows around a loop from its end to its start is live.
      const touched = [...new Set(blockAt.slice(s.start, s.end + 1))];
      const after = strictlyReachable(touched, succ);
      const before = strictlyReachable(touched, pred);
      for (const b of after) if (before.has(b)) changed = cover(o, firstOf[b]!, firstOf[b]! + blocks[b]!.insns.length - 1) || changed;
    });
    for (const [address, into] of storedInto) {
      const s = spans[into];
      if (s) changed = cover(address, s.start, s.end) || changed;
    }
  }
  return spans;
}
