// Power-of-two histograms printed exactly as bpftrace prints `@x = hist(v)` (checked against bpftrace 0.17).
// Takes bucket counts by log2 slot; gives the text lines.
//
// Slot convention (shared with the compiler's hist()): slot 0 counts the value 0, slot 1 the value 1, and
// slot k >= 2 the values in [2^(k-1), 2^k); so slot 64 holds [2^63, 2^64). Negative values have no slot; pass
// their count as `negative` and it prints as bpftrace's "(..., 0)" row. bpftrace's own bucket index is our
// slot + 1 (its index 0 is the negative bucket).
//
// Format: only rows from the first to the last non-zero bucket; the label left-aligned in 16 columns, the
// count right-aligned in 8, then " |", a bar of '@' padded to 52 columns and "|". The bar length is
// count / max * 52 computed in single precision and truncated, as bpftrace does with a C float. Labels use
// K, M, G, T, P, E for powers of 1024 ("[512, 1K)", "[1K, 2K)").

export interface HistogramOptions {
  /** Count of negative values, printed as "(..., 0)". */
  negative?: number | bigint;
}

const BAR_WIDTH = 52;

/** The slot a value counts in: 0 for 0, 1 for 1, k for [2^(k-1), 2^k); -1 for negative values. */
export function log2Slot(value: number | bigint): number {
  if (typeof value === "number") {
    if (value < 0) return -1;
    if (value < 1) return 0;
    if (value < 2 ** 31) return 32 - Math.clz32(value);
    value = BigInt(Math.floor(value));
  }
  if (value < 0n) return -1;
  return value.toString(2).length - (value === 0n ? 1 : 0);
}

/** Counts of `values` by slot (length = highest slot + 1). */
export function histogramOf(values: Iterable<number | bigint>): { counts: number[]; negative: number } {
  const counts: number[] = [];
  let negative = 0;
  for (const v of values) {
    const s = log2Slot(v);
    if (s < 0) {
      negative++;
      continue;
    }
    while (counts.length <= s) counts.push(0);
    counts[s]!++;
  }
  return { counts, negative };
}

/** "1", "512", "1K", "2M": 2^power with bpftrace's suffix for its power of 1024. */
export function log2Label(power: number): string {
  const decade = Math.floor(power / 10);
  if (decade > 6) throw new RangeError(`2^${power} is beyond a 64-bit histogram`);
  return `${2 ** (power - 10 * decade)}${"\0KMGTPE"[decade]!.replace("\0", "")}`;
}

/** The label of a slot: "[0]", "[1]", "[2, 4)", "[1K, 2K)". */
export function slotLabel(slot: number): string {
  if (slot === 0) return "[0]";
  if (slot === 1) return "[1]";
  return `[${log2Label(slot - 1)}, ${log2Label(slot)})`;
}

/** The histogram's rows, one string per line without newlines; empty when every count is zero. */
export function histogramLines(counts: readonly (number | bigint)[], options: HistogramOptions = {}): string[] {
  // Row 0 is the negative bucket, row i the slot i - 1 (bpftrace's indexing).
  const labels = ["(..., 0)", ...counts.map((_, slot) => slotLabel(slot))];
  return barLines([options.negative ?? 0, ...counts], labels);
}

/**
 * A linear histogram's rows, as bpftrace prints `lhist(v, min, max, step)`: slot 0 counts values below min,
 * slot i (1..n) [min + (i-1)*step, min + i*step), slot n + 1 values from max up.
 */
export function linearHistogramLines(counts: readonly (number | bigint)[], min: number, max: number, step: number): string[] {
  return barLines(counts, counts.map((_, slot) => linearLabel(slot, counts.length, min, max, step)));
}

/** The label of a linear histogram's slot, of `slots` in all: "(..., 0)", "[0, 10)", "[100, ...)". */
export function linearLabel(slot: number, slots: number, min: number, max: number, step: number): string {
  if (slot === 0) return `(..., ${min})`;
  if (slot >= slots - 1) return `[${max}, ...)`;
  return `[${min + (slot - 1) * step}, ${Math.min(min + slot * step, max)})`;
}

/** Rows from the first to the last non-zero count: label, count, and a bar scaled to the largest count. */
function barLines(counts: readonly (number | bigint)[], labels: readonly string[]): string[] {
  const rows = counts.map(Number);
  let first = -1;
  let last = -1;
  let max = 0;
  rows.forEach((v, i) => {
    if (v > 0) {
      if (first < 0) first = i;
      last = i;
    }
    if (v > max) max = v;
  });
  if (last < 0) return [];
  const out: string[] = [];
  for (let i = first; i <= last; i++) {
    const label = labels[i]!;
    const v = rows[i]!;
    const bar = Math.trunc(Math.fround(Math.fround(Math.fround(v) / Math.fround(max)) * BAR_WIDTH));
    out.push(`${label.padEnd(16)}${String(v).padStart(8)} |${"@".repeat(bar).padEnd(BAR_WIDTH)}|`);
  }
  return out;
}

/** A whole map the way bpftrace prints it at exit: "@name: ", the rows, then an empty line. */
export function formatHistogram(name: string, counts: readonly (number | bigint)[], options: HistogramOptions = {}): string {
  return `@${name.replace(/^@/, "")}: \n${histogramLines(counts, options)
    .map((l) => `${l}\n`)
    .join("")}\n`;
}

/** A bucket as `tsbpf run --json` gives it: its label, the values it holds (`min`, `max` inclusive, as bpftrace's JSON; open ends left out) and its count. */
export type Bucket = { bucket: string; min?: number | bigint; max?: number | bigint; count: number | bigint };

/** The slots from the first that counted something to the last, empty ones between included (as the bars print them). */
function countedSlots(counts: readonly (number | bigint)[]): number[] {
  const first = counts.findIndex((c) => Number(c) > 0);
  if (first < 0) return [];
  let last = counts.length - 1;
  while (Number(counts[last]) <= 0) last--;
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** A linear histogram's buckets, labelled. */
export function linearBuckets({ min, max, step }: { min: number; max: number; step: number }, counts: readonly (number | bigint)[]): Bucket[] {
  const bounds = (slot: number): Pick<Bucket, "min" | "max"> =>
    slot === 0 ? { max: min - 1 } : slot >= counts.length - 1 ? { min: max } : { min: min + (slot - 1) * step, max: Math.min(min + slot * step, max) - 1 };
  return countedSlots(counts).map((slot) => ({ bucket: linearLabel(slot, counts.length, min, max, step), ...bounds(slot), count: counts[slot]! }));
}

/** A histogram's buckets, labelled: slot 0 holds 0, slot 1 holds 1, slot k holds [2^(k-1), 2^k). */
export function buckets({ counts, negative }: { counts: readonly (number | bigint)[]; negative: number | bigint }): Bucket[] {
  const exact = (v: bigint): number | bigint => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
  const bounds = (slot: number): Pick<Bucket, "min" | "max"> => (slot < 2 ? { min: slot, max: slot } : { min: exact(1n << BigInt(slot - 1)), max: exact((1n << BigInt(slot)) - 1n) });
  const rows = countedSlots(counts).map((slot) => ({ bucket: slotLabel(slot), ...bounds(slot), count: counts[slot]! }));
  return Number(negative) > 0 ? [{ bucket: "(..., 0)", max: -1, count: negative }, ...rows] : rows;
}
