// What `tsbpf run` and `tsbpf load` print besides bpf_printk lines: typed events as they arrive, and the maps
// when the run stops, as bpftrace prints them (`@name[key]: value`, histograms as log2 bars); `--json` gives
// one JSON object per line instead. Program arrays and maps of maps show what each slot holds, by name and id.
// Takes decoded values; gives lines without trailing newlines.
import type { StreamEvent } from "../runtime/loader/events.js";
import { aggregateText, compareAggregates, mergeAggregate, type AggregateValue } from "../runtime/loader/aggregate.js";
import { buckets, formatHistogram, linearBuckets, linearHistogramLines } from "../runtime/loader/histogram.js";
import type { LoadedMap, LoadedObject } from "../runtime/loader/load.js";
import { SysError } from "../runtime/sys/sys.js";
import { FD_VALUES, MapView, mapBtfTypes, sumPerCpu } from "../runtime/loader/maps.js";
import { MapType } from "../runtime/sys/constants.js";
import { ACTIONS_RING, type Aggregate } from "../compiler/btf/tags.js";
import { kernelSymbolizer, readKallsyms, stackFrames } from "../runtime/loader/symbolize.js";
import { Stack, StackNamer } from "../runtime/loader/stacks.js";

/** Slots of a Histogram map: 0..64 by log2 slot, then the count of negative values. */
const NEGATIVE_SLOT = 65;
/**
 * Maps whose contents are printed: data, the programs and maps that program arrays and maps of maps hold, and
 * stack traces (kernel frames named from /proc/kallsyms). The others hold fds or sockets, stream events, or
 * cannot be iterated from user space (bloom filters, storage keyed by fds); queues and stacks are read by popping
 * them, so only at the run's end (POPPED).
 */
const PRINTED: ReadonlySet<number> = new Set([
  MapType.HASH, MapType.ARRAY, MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH, MapType.LPM_TRIE,
  MapType.PROG_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.STACK_TRACE,
]);

/** Map types read by popping their values: queues and stacks. */
const POPPED: ReadonlySet<number> = new Set([MapType.QUEUE, MapType.STACK]);

/** Map types whose keys are u32 indexes. */
const INDEXED: ReadonlySet<number> = new Set([MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PROG_ARRAY, MapType.ARRAY_OF_MAPS]);

/** One line for an event (text: `events: { pid: 1, ... }`), or for records the kernel dropped. */
export function eventLine(e: StreamEvent, json: boolean): string {
  if (e.kind === "lost") {
    if (json) return toJson(e.cpu === undefined ? { map: e.map, lost: e.count } : { map: e.map, cpu: e.cpu, lost: e.count });
    if (e.cpu !== undefined) return `${e.map}: the kernel dropped ${e.count} records on CPU ${e.cpu} (the reader fell behind)`;
    // The actions ring buffer carries printf()'s lines (and print(), clear() and exit() requests).
    const what = e.map === ACTIONS_RING ? `printf: ${e.count} lines` : `${e.map}: ${e.count} records`;
    return `${what} dropped: the ring buffer was full (the reader fell behind)`;
  }
  if (json) return toJson(e.cpu === undefined ? { map: e.map, value: e.value } : { map: e.map, cpu: e.cpu, value: e.value });
  return `${e.map}: ${show(e.value)}`;
}

interface Slots {
  counts: (number | bigint)[];
  negative: number | bigint;
}

/** A map's contents as printed at exit: a histogram's slots, entries in bpftrace's order, or why it could not be read. */
export type MapContent =
  | { map: string; histogram: Slots }
  | { map: string; histograms: { key: unknown; histogram: Slots }[] }
  | { map: string; entries: [unknown, unknown][] }
  | { map: string; stacks: { id: number; frames: string[] }[] }
  | { map: string; linear: Linear & { counts: (number | bigint)[] } }
  | { map: string; linears: Linear & { byKey: { key: unknown; counts: (number | bigint)[] }[] } }
  | { map: string; aggregates: [unknown, AggregateValue][] }
  | { map: string; aggregate: AggregateValue }
  /** A global variable of a C object's .data or .bss (bpftrace's `@name: value` of a keyless map). */
  | { map: string; value: unknown }
  /** What a queue or stack map held, in the order it gives its values (popped: only when the run ends). */
  | { map: string; values: unknown[] }
  | { map: string; unreadable: string };

type Linear = { min: number; max: number; step: number };

type Holder = (kind: "program" | "map", id: unknown) => unknown;

const namers = new WeakMap<LoadedObject, StackNamer>();
/** The object's stack namer, kept for its life: what it has named (and the processes' mappings it read) stays valid. */
export function stackNamer(obj: LoadedObject): StackNamer {
  let namer = namers.get(obj);
  if (!namer) namers.set(obj, (namer = new StackNamer(obj)));
  return namer;
}

/**
 * The maps of a loaded object worth printing at exit (or only map `only`, which a probe's print() names), read once;
 * empty ones are left out. With `final` (the run's end), queue and stack maps that are not pinned are printed too:
 * reading one pops its values, which is harmless only when the object is about to go. With `take`, each entry of a hash
 * or array map is deleted (zeroed) as it is read: a print() and a clear() in one step.
 */
export function mapContents(obj: LoadedObject, only?: string, options: { final?: boolean; take?: boolean; top?: number } = {}): MapContent[] {
  return [...eachMapContent(obj, only, options)];
}

/** mapContents() a map at a time, each read when the one before has been taken. */
export function* eachMapContent(obj: LoadedObject, only?: string, options: { final?: boolean; take?: boolean; top?: number } = {}): Generator<MapContent> {
  const namer = stackNamer(obj);
  let held: Holder | undefined;
  const holder = () => (held ??= heldBy(obj));
  let symbolize: ((address: bigint) => string) | undefined;
  for (const m of obj.maps.values()) {
    // A probe's bookkeeping (a map its file does not export) is not news; nor is a tagged stack map, whose stacks
    // print where their ids are (nor its id -> frames map).
    const tags = mapBtfTypes(obj.spec, m.spec);
    if (m.spec.origin === "data") {
      if (only === undefined) yield* variables(obj, m, tags);
      continue;
    }
    const popped = options.final === true && only === undefined && POPPED.has(m.spec.type) && m.pinPath === undefined;
    if ((!PRINTED.has(m.spec.type) && !popped) || tags?.stacks || tags?.framesOf !== undefined) continue;
    if (only !== undefined ? m.name !== only : tags?.internal || isLibraryMap(m.name)) continue;
    let content: MapContent | undefined;
    try {
      content = popped
        ? poppedValues(obj, m, tags)
        : m.spec.type === MapType.STACK_TRACE ? stacks(obj, m, () => (symbolize ??= kernelSymbolizer(readKallsyms()))) : readContent(obj, m, holder, namer, options.take);
    } catch (e) {
      // The kernel may refuse reads of a map this process could create (a security policy): the rest still print.
      if (!(e instanceof SysError)) throw e;
      content = { map: m.name, unreadable: e.code };
    }
    if (content) yield options.top ? topOf(content, options.top) : content;
  }
}

/**
 * A map's content cut to its `top` last entries, the largest in bpftrace's order (print(@x, top)): a keyed map's
 * entries, a keyed histogram's keys; a keyless value or histogram is whole.
 */
export function topOf(c: MapContent, top: number): MapContent {
  if ("entries" in c) return { ...c, entries: c.entries.slice(-top) };
  if ("aggregates" in c) return { ...c, aggregates: c.aggregates.slice(-top) };
  if ("histograms" in c) return { ...c, histograms: c.histograms.slice(-top) };
  if ("linears" in c) return { ...c, linears: { ...c.linears, byKey: c.linears.byKey.slice(-top) } };
  return c;
}

/** libbpf's usdt.bpf.h keeps the argument specs of USDT probes in maps of its own: the library's, not the tool's output. */
const isLibraryMap = (name: string): boolean => name.startsWith("__bpf_usdt_");

/**
 * The variables of a writable data section (.data, .bss, .data.NAME) that hold something other than zero, as a C tool
 * keeps its counters there. Constants (.rodata, frozen) are left out, and so are tsbpf's own variables; a tsbpf probe
 * file has no writable globals (a module-level `let` is a constant).
 */
function variables(obj: LoadedObject, m: LoadedMap, types: ReturnType<typeof mapBtfTypes>): MapContent[] {
  if (m.spec.freeze || m.spec.name === ".kconfig") return [];
  let value: Record<string, unknown> | undefined;
  if (types?.variables) value = new MapView(obj.sys, m, types).get(new Uint8Array(4)) as Record<string, unknown> | undefined;
  else {
    // An object without BTF (clang -g0): its ELF symbols name the variables and give their sizes; their bytes print.
    const bytes = obj.sys.mapLookup(m.fd, new Uint8Array(4));
    if (bytes) value = Object.fromEntries(m.spec.variables.filter((v) => v.size > 0).map((v) => [v.name, bytes.slice(v.offset, v.offset + v.size)]));
  }
  if (!value) return [];
  return Object.entries(value)
    .filter(([name, v]) => !name.startsWith("tsbpf_") && !isZero(v))
    .map(([name, v]) => ({ map: name, value: v }));
}

/** A queue's or stack's values, popped in the order it gives them (first in first for a queue, last in first for a stack). */
function poppedValues(obj: LoadedObject, m: LoadedMap, types: ReturnType<typeof mapBtfTypes>): MapContent | undefined {
  const view = new MapView(obj.sys, m, types);
  const values: unknown[] = [];
  for (let bytes = obj.sys.mapLookupAndDelete(m.fd, undefined); bytes && values.length < m.spec.maxEntries; bytes = obj.sys.mapLookupAndDelete(m.fd, undefined)) {
    values.push(view.decodeValue(bytes));
  }
  return values.length ? { map: m.name, values } : undefined;
}

/** A stack trace map's stacks by id, kernel frames named as bpftrace names them (`schedule+45`). */
function stacks(obj: LoadedObject, m: LoadedMap, symbolizer: () => (address: bigint) => string): MapContent | undefined {
  const view = new MapView(obj.sys, m, undefined);
  const out: { id: number; frames: string[] }[] = [];
  for (const key of view.rawKeys()) {
    const value = obj.sys.mapLookup(m.fd, key);
    if (!value) continue;
    const id = new DataView(key.buffer, key.byteOffset).getUint32(0, true);
    out.push({ id, frames: stackFrames(value).map(symbolizer()) });
  }
  return out.length ? { map: m.name, stacks: out.sort((a, b) => a.id - b.id) } : undefined;
}

/** One map's content, or undefined when it holds nothing worth printing. */
function readContent(obj: LoadedObject, m: LoadedMap, holder: () => Holder, namer: StackNamer, take = false): MapContent | undefined {
  const types = mapBtfTypes(obj.spec, m.spec);
  const view = new MapView(obj.sys, m, types);
  // Each path below reads the map once.
  const entriesOf = () => (take ? view.take() : view.entries());
  const fdKind = !FD_VALUES.has(m.spec.type) ? undefined : m.spec.type === MapType.PROG_ARRAY ? "program" : "map";
  const value = (v: unknown) =>
    fdKind ? holder()(fdKind, v) : view.perCpu && Array.isArray(v) && v.every((x) => typeof x === "number" || typeof x === "bigint") ? sumPerCpu(v) : v;
  // Stack ids print as the frames they name (bpftrace's @[kstack]).
  const stackIds = namer.fieldsOf(m);
  // An array's keys are u32 indexes by definition, also where no BTF says so (a legacy map, a program array).
  const indexes = INDEXED.has(m.spec.type) && m.spec.keySize === 4;
  const indexed = (): Iterable<[unknown, unknown]> => (indexes ? [...entriesOf()].map(([k, v]) => [k instanceof Uint8Array ? Buffer.from(k).readUInt32LE(0) : k, v]) : entriesOf());
  const read = (): Iterable<[unknown, unknown]> =>
    stackIds.key.length || stackIds.value.length ? [...indexed()].map(([k, v]) => [namer.name(k, stackIds.key), namer.name(v, stackIds.value)]) : indexed();
  if (types?.aggregate) return aggregates(m, types.aggregate, read());
  if (types?.histogram && m.spec.type === MapType.HASH) return keyedHistograms(m.name, read());
  if (types?.linear && m.spec.type === MapType.HASH) return keyedLinear(m.name, types.linear, read());
  if (types?.linear && m.spec.type === MapType.ARRAY) {
    const counts: (number | bigint)[] = new Array(m.spec.maxEntries).fill(0);
    for (const [k, v] of entriesOf()) if (typeof k === "number" && k < counts.length) counts[k] = v as number | bigint;
    return counts.some((c) => Number(c) > 0) ? { map: m.name, linear: { ...types.linear, counts } } : undefined;
  }
  if (types?.histogram && m.spec.maxEntries > NEGATIVE_SLOT) {
    const slots = emptySlots();
    for (const [k, v] of entriesOf()) if (typeof k === "number") count(slots, k, value(v) as number);
    return nonEmpty(slots) ? { map: m.name, histogram: slots } : undefined;
  }
  let entries = [...read()].map(([k, v]) => [k, value(v)] as [unknown, unknown]);
  // An array map has every slot: only the ones written (non-zero) are news.
  if (m.spec.type === MapType.ARRAY || m.spec.type === MapType.PERCPU_ARRAY) entries = entries.filter(([, v]) => !isZero(v));
  if (entries.length === 0) return undefined;
  // bpftrace's order: by value, largest last, when the values are numbers.
  if (entries.every(([, v]) => typeof v === "number" || typeof v === "bigint")) entries.sort(([, a], [, b]) => compare(a as number | bigint, b as number | bigint));
  return { map: m.name, entries };
}

/** A Count, Sum, Avg, Min, Max or Stats map: each key's CPUs merged, in bpftrace's order; a one-entry array is the keyless form. */
function aggregates(m: LoadedMap, kind: Aggregate, entries: Iterable<[unknown, unknown]>): MapContent | undefined {
  const merged: [unknown, AggregateValue][] = [];
  for (const [k, v] of entries) {
    const value = mergeAggregate(kind, v);
    if (value !== undefined) merged.push([k, value]);
  }
  const keyless = (m.spec.type === MapType.PERCPU_ARRAY || m.spec.type === MapType.ARRAY) && m.spec.maxEntries === 1;
  if (keyless) return merged.length ? { map: m.name, aggregate: merged[0]![1] } : undefined;
  return merged.length ? { map: m.name, aggregates: merged.sort(([, a], [, b]) => compareAggregates(a, b)) } : undefined;
}

const emptySlots = (): Slots => ({ counts: new Array(NEGATIVE_SLOT).fill(0), negative: 0 });
const nonEmpty = (h: Slots): boolean => h.counts.some((c) => Number(c) > 0) || Number(h.negative) > 0;
const total = (h: Slots): bigint => h.counts.reduce<bigint>((n, c) => n + BigInt(c), BigInt(h.negative));

/** Adds a slot's count (keys that print alike, such as two processes' identical user stacks, share a histogram). */
function count(h: Slots, slot: number, n: number | bigint): void {
  if (slot === NEGATIVE_SLOT) h.negative = plus(h.negative, n);
  else if (slot >= 0 && slot < NEGATIVE_SLOT) h.counts[slot] = plus(h.counts[slot]!, n);
}

const plus = (a: number | bigint, b: number | bigint): number | bigint => (typeof a === "number" && typeof b === "number" && Number.isSafeInteger(a + b) ? a + b : BigInt(a) + BigInt(b));

/** A keyed LinearHistogram (a hash map counting `{ key, slot }` pairs): one histogram per key, the fullest last. */
function keyedLinear(map: string, linear: Linear, entries: Iterable<[unknown, unknown]>): MapContent | undefined {
  const slots = Math.ceil((linear.max - linear.min) / linear.step) + 2;
  const byKey = perKey(
    entries,
    () => new Array<number | bigint>(slots).fill(0),
    (counts, slot, n) => {
      if (slot >= 0 && slot < slots) counts[slot] = plus(counts[slot]!, n);
    },
    (counts) => counts.reduce<bigint>((n, c) => n + BigInt(c), 0n),
  );
  return byKey.length ? { map, linears: { ...linear, byKey: byKey.map(({ key, histogram }) => ({ key, counts: histogram })) } } : undefined;
}

/** A keyed Histogram (a hash map counting `{ key, slot }` pairs): one histogram per key, the fullest last. */
function keyedHistograms(map: string, entries: Iterable<[unknown, unknown]>): MapContent | undefined {
  const histograms = perKey(entries, emptySlots, count, total);
  return histograms.length ? { map, histograms } : undefined;
}

/** A keyed histogram's entries grouped by key, each key's slots filled by `add`; empty ones left out, the fullest last. */
function perKey<H>(entries: Iterable<[unknown, unknown]>, empty: () => H, add: (h: H, slot: number, n: number | bigint) => void, sum: (h: H) => bigint): { key: unknown; histogram: H }[] {
  const byKey = new Map<string, { key: unknown; histogram: H }>();
  for (const [k, v] of entries) {
    const { key, slot } = k as { key: unknown; slot: number };
    const id = toJson(key);
    let h = byKey.get(id);
    if (!h) byKey.set(id, (h = { key, histogram: empty() }));
    add(h.histogram, slot, v as number | bigint);
  }
  return [...byKey.values()].filter((h) => sum(h.histogram) > 0n).sort((a, b) => compare(sum(a.histogram), sum(b.histogram)));
}

/** What a program array's or map of maps' slot holds: the id it reads as, named when it is one of the object's own. */
function heldBy(obj: LoadedObject): Holder {
  const names = { program: new Map<number, string>(), map: new Map<number, string>() };
  for (const p of obj.programs.values()) names.program.set(obj.sys.progInfo(p.fd).id, p.name);
  for (const m of obj.maps.values()) names.map.set(obj.sys.mapInfo(m.fd).id, m.name);
  return (kind, id) => {
    const name = typeof id === "number" ? names[kind].get(id) : undefined;
    return name === undefined ? { [kind]: null, id } : { [kind]: name, id };
  };
}

/** A map's content as JSON (`{"map", "histogram"}` with labelled buckets, or `{"map", "entries"}`). */
export function mapJson(c: MapContent): Record<string, unknown> {
  if ("unreadable" in c) return { map: c.map, error: c.unreadable };
  if ("entries" in c) return { map: c.map, entries: c.entries.map(([key, value]) => ({ key, value })) };
  if ("aggregates" in c) return { map: c.map, entries: c.aggregates.map(([key, value]) => ({ key, value })) };
  if ("aggregate" in c) return { map: c.map, value: c.aggregate };
  if ("value" in c) return { map: c.map, value: c.value };
  if ("values" in c) return { map: c.map, values: c.values };
  if ("histograms" in c) return { map: c.map, histograms: c.histograms.map((h) => ({ key: h.key, histogram: buckets(h.histogram) })) };
  if ("stacks" in c) return { map: c.map, stacks: c.stacks };
  if ("linear" in c) return { map: c.map, histogram: linearBuckets(c.linear, c.linear.counts) };
  if ("linears" in c) return { map: c.map, histograms: c.linears.byKey.map((h) => ({ key: h.key, histogram: linearBuckets(c.linears, h.counts) })) };
  return { map: c.map, histogram: buckets(c.histogram) };
}

/**
 * A map's content as printed: one JSON line (with `"time"` when printed at `at`, an --interval's time), or
 * bpftrace's text (`@name[key]: value`, log2 bars) and a blank line.
 */
export function mapLines(c: MapContent, json: boolean, at?: Date): string[] {
  if (json) return [toJson(at ? { time: at.toISOString(), ...mapJson(c) } : mapJson(c))];
  if ("unreadable" in c) return [`@${c.map}: (the kernel refused to read it: ${c.unreadable})`, ""];
  if ("entries" in c) return [...c.entries.map(([k, v]) => `@${c.map}[${showKey(k)}]: ${showValue(v)}`), ""];
  if ("aggregates" in c) return [...c.aggregates.map(([k, v]) => `@${c.map}[${showKey(k)}]: ${aggregateText(v)}`), ""];
  if ("aggregate" in c) return [`@${c.map}: ${aggregateText(c.aggregate)}`, ""];
  if ("value" in c) return [`@${c.map}: ${showValue(c.value)}`, ""];
  if ("values" in c) return [`@${c.map}: ${showValue(c.values)}`, ""];
  if ("histograms" in c) return c.histograms.flatMap((h) => histogramText(`${c.map}[${showKey(h.key)}]`, h.histogram));
  if ("linear" in c) return [`@${c.map}: `, ...linearHistogramLines(c.linear.counts, c.linear.min, c.linear.max, c.linear.step), ""];
  if ("linears" in c) {
    const { min, max, step, byKey } = c.linears;
    return byKey.flatMap((h) => [`@${c.map}[${showKey(h.key)}]: `, ...linearHistogramLines(h.counts, min, max, step), ""]);
  }
  if ("stacks" in c) return c.stacks.flatMap((st) => [`@${c.map}[${st.id}]:`, ...st.frames.map((f) => `    ${f}`), ""]);
  return histogramText(c.map, c.histogram);
}

function histogramText(name: string, h: Slots): string[] {
  return [...formatHistogram(name, h.counts, { negative: h.negative }).trimEnd().split("\n"), ""];
}

/** JSON with bigints as exact numbers and raw bytes as hex strings. */
export function toJson(value: unknown): string {
  // The holder's own property, not `v`: a Buffer's toJSON() has already made `v` a { type: "Buffer", data } object.
  return JSON.stringify(value, function (this: Record<string, unknown>, k, v: unknown) {
    const raw = this[k];
    return typeof v === "bigint" ? `\u0000${v}` : raw instanceof Uint8Array ? Buffer.from(raw).toString("hex") : v;
  }).replace(/"\\u0000(-?\d+)"/g, "$1");
}

let inspect: typeof import("node:util").inspect | undefined;

/**
 * A key as bpftrace prints it: a string bare (`@[bash]`), a struct as bpftrace's tuple of its fields (`@[9, 42, bash]`),
 * a stack as its frames, one per line (`@[\n    f+1\n]`); other keys as show() gives them.
 */
function showKey(k: unknown): string {
  if (k instanceof Stack) return stackText(k);
  if (typeof k === "string") return k;
  if (isStruct(k)) return Object.values(k).map(showValue).join(", ");
  return show(k);
}

/**
 * A map value, or a field of a key, as bpftrace prints one: a struct as a tuple in parentheses (`(9, bash)`); a
 * per-CPU value that cannot be summed (a struct) as a list of each CPU's.
 */
const showValue = (v: unknown): string =>
  isStruct(v) ? `(${showKey(v)})` : Array.isArray(v) && v.some(isStruct) ? `[${v.map(showValue).join(", ")}]` : showKey(v);

const isStruct = (v: unknown): v is object => !!v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Stack);

const stackText = (s: Stack): string => s.frames.map((f) => `\n    ${f}`).join("") + (s.frames.length ? "\n" : "");

function show(v: unknown): string {
  if (v instanceof Uint8Array) return `${v.length} bytes ${Buffer.from(v).toString("hex").replace(/(..)(?!$)/g, "$1 ")}`;
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  // node:util only once an event is shown: an ES import of a builtin costs every run's start-up.
  inspect ??= (process.getBuiltinModule("node:util") as typeof import("node:util")).inspect;
  // compact: true keeps arrays on the line too: the default groups an array of more than six items into rows.
  return inspect(digits(v), { breakLength: Infinity, compact: true, depth: 4, maxArrayLength: 64, maxStringLength: 256 });
}

/** `v` with its bigints shown as their digits by inspect(), as numbers are (not `18446744073709551615n`). */
function digits(v: unknown): unknown {
  if (typeof v === "bigint") return { [inspect!.custom]: () => String(v) };
  // Copied only where a bigint is inside: most events hold none (8-byte fields are numbers while they fit 53 bits).
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    v.forEach((x, i) => {
      const d = digits(x);
      if (d !== x) (out ??= v.slice())[i] = d;
    });
    return out ?? v;
  }
  if (isStruct(v)) {
    let out: Record<string, unknown> | undefined;
    for (const [k, x] of Object.entries(v)) {
      const d = digits(x);
      if (d !== x) (out ??= { ...v })[k] = d;
    }
    return out ?? v;
  }
  return v;
}

function isZero(v: unknown): boolean {
  if (typeof v === "number" || typeof v === "bigint") return Number(v) === 0;
  if (v instanceof Uint8Array) return v.every((b) => b === 0);
  if (Array.isArray(v)) return v.every(isZero);
  if (v && typeof v === "object") return Object.values(v).every(isZero);
  return v === "" || v === false;
}

function compare(a: number | bigint, b: number | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
