// bpftrace's count(), sum(), avg(), min(), max() and stats() maps read back (maps tagged `tsbpf:aggregate=KIND`, compiler/btf/tags.ts).
// Takes each CPU's decoded value (two 64-bit members: count and total, or value and whether it is set); gives the CPUs
// merged into one value, its text as bpftrace prints it and the order bpftrace prints entries in.
// Members are read by position, not name, so a C object's own struct reads the same as tsbpf's.

import type { Aggregate } from "../../compiler/btf/tags.js";

/** stats(): how many values, their average (truncated toward zero) and their sum. */
export interface StatsValue {
  count: bigint;
  average: bigint;
  total: bigint;
}

/** count(), sum(), avg(), min() and max() give one value; stats() three. */
export type AggregateValue = bigint | StatsValue;

/**
 * The CPUs' values merged as bpftrace merges them: counts and totals summed, the least of the minima, the greatest of the
 * maxima. Undefined when no CPU has recorded anything (an untouched array entry, or the other CPUs' zeroes).
 */
export function mergeAggregate(kind: Aggregate, perCpu: unknown): AggregateValue | undefined {
  const cpus = (Array.isArray(perCpu) ? perCpu : [perCpu]).map(members);
  if (kind !== "min" && kind !== "max") {
    let count = 0n;
    let total = 0n;
    for (const [c, t] of cpus) {
      count += BigInt.asUintN(64, c);
      total += BigInt.asIntN(64, t);
    }
    if (count === 0n) return undefined;
    if (kind === "count") return count;
    if (kind === "sum") return total;
    // BigInt division truncates toward zero, as C's (and bpftrace's) does.
    const average = total / count;
    return kind === "avg" ? average : { count, average, total };
  }
  let best: bigint | undefined;
  for (const [value, set] of cpus) {
    if (set === 0n) continue;
    const v = BigInt.asIntN(64, value);
    if (best === undefined || (kind === "min" ? v < best : v > best)) best = v;
  }
  return best;
}

/** The first two members of a decoded value (numbers or bigints), or of its raw bytes as two little-endian u64s. */
function members(v: unknown): [bigint, bigint] {
  if (v instanceof Uint8Array && v.length >= 16) {
    const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
    return [view.getBigUint64(0, true), view.getBigUint64(8, true)];
  }
  const [a, b] = v && typeof v === "object" ? Object.values(v) : [];
  const int = (x: unknown): bigint => (typeof x === "bigint" ? x : typeof x === "number" && Number.isInteger(x) ? BigInt(x) : 0n);
  return [int(a), int(b)];
}

/** `42`, or stats' `count 3, average 5, total 15`, as bpftrace prints a value. */
export function aggregateText(v: AggregateValue): string {
  return typeof v === "bigint" ? String(v) : `count ${v.count}, average ${v.average}, total ${v.total}`;
}

/** bpftrace's order: by value ascending (stats by their average). */
export function compareAggregates(a: AggregateValue, b: AggregateValue): number {
  const x = typeof a === "bigint" ? a : a.average;
  const y = typeof b === "bigint" ? b : b.average;
  return x < y ? -1 : x > y ? 1 : 0;
}
