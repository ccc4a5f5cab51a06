// BPF_MAP_TYPE_PERF_EVENT_ARRAY as bpf_perf_event_output sees it (kernel/trace/bpf_trace.c).
// Takes a MapHost; gives slots that JS "opens" on a CPU (like perf_event_open of a
// PERF_COUNT_SW_BPF_OUTPUT event per CPU, which libbpf's perf_buffer does) and the records each
// event received, in order, with optional per-event capacity to simulate lost samples. Draining every slot gives
// the records in the order they were written, across CPUs.

import { BpfMap, Errno, checkSpec } from "./base.js";
import type { MapHost, MapOptions, MapType } from "./base.js";

/** bpf_perf_event_output flags. */
export const BPF_F_INDEX_MASK = 0xffffffffn;
export const BPF_F_CURRENT_CPU = BPF_F_INDEX_MASK;

export interface PerfEventArrayOptions extends MapOptions {
  /** Slots; defaults to the number of CPUs. */
  maxEntries?: number;
  /** Open slot i on CPU i for every i < numCpus at creation (default true). */
  openAll?: boolean;
  /** The size of each event's ring; a sample that would fill it is lost (default: unlimited). */
  bufferBytes?: number;
}

export interface PerfRecord {
  /** The CPU the program ran on (= the event's CPU). */
  cpu: number;
  /** The slot index written to. */
  index: number;
  /** The bytes written, zero-padded as the kernel pads them (4 + length rounded up to 8, less the 4). */
  data: Uint8Array;
  /** The record's place among all the map's records, across slots: the order they were written. */
  seq: number;
}

interface PerfEvent {
  cpu: number;
  records: PerfRecord[];
  queuedBytes: number;
  lost: number;
}

/** Bytes a raw sample costs in the perf buffer: header, u32 size and data, 8-aligned. */
const sampleCost = (size: number): number => 8 + Math.ceil((4 + size) / 8) * 8;

export class PerfEventArray extends BpfMap {
  readonly type: MapType = "perf_event_array";
  private readonly events: Array<PerfEvent | undefined>;
  readonly bufferBytes: number;
  private written = 0;

  constructor(host: MapHost, opts: PerfEventArrayOptions = {}) {
    const name = opts.name ?? "perf_event_array";
    const max = opts.maxEntries ?? host.numCpus;
    checkSpec("perf_event_array", name, Number.isInteger(max) && max > 0, `max entries must be > 0 (got ${max})`);
    super(host, name, 4, 4, max);
    this.bufferBytes = opts.bufferBytes ?? Infinity;
    this.events = new Array<PerfEvent | undefined>(max).fill(undefined);
    if (opts.openAll ?? true) for (let i = 0; i < Math.min(max, host.numCpus); i++) this.open(i, i);
  }

  /** JS: attach an output event bound to `cpu` at slot `index`. */
  open(index: number, cpu = index): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.maxEntries) throw new RangeError(`${this.name}: slot ${index} is outside 0..${this.maxEntries - 1}`);
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.host.numCpus) throw new RangeError(`${this.name}: CPU ${cpu} is outside 0..${this.host.numCpus - 1}`);
    this.events[index] = { cpu, records: [], queuedBytes: 0, lost: 0 };
  }

  /** JS: detach slot `index` (its pending records are dropped). */
  close(index: number): void {
    this.events[index] = undefined;
  }

  /** bpf_perf_event_output: 0 or -EINVAL / -E2BIG / -ENOENT / -EOPNOTSUPP / -ENOSPC (lost). */
  output(flags: bigint, data: Uint8Array): number {
    if (flags & ~BPF_F_INDEX_MASK) return -Errno.EINVAL;
    const cpu = this.host.cpu;
    let index = flags & BPF_F_INDEX_MASK;
    if (index === BPF_F_CURRENT_CPU) index = BigInt(cpu);
    if (index >= BigInt(this.maxEntries)) return -Errno.E2BIG;
    const ev = this.events[Number(index)];
    if (!ev) return -Errno.ENOENT;
    if (ev.cpu !== cpu) return -Errno.EOPNOTSUPP;
    const cost = sampleCost(data.length);
    // The ring keeps a byte free, as the kernel's CIRC_SPACE does: a full ring of bufferBytes holds bufferBytes - 1.
    if (ev.queuedBytes + cost >= this.bufferBytes) {
      ev.lost++;
      return -Errno.ENOSPC;
    }
    ev.queuedBytes += cost;
    // The kernel pads the raw sample so that its u32 size and data fill whole u64s (perf_sample_save_raw_data):
    // a reader gets those bytes too, 40 bytes as 44. Its padding is whatever the ring held; here zeros.
    const padded = new Uint8Array(Math.ceil((4 + data.length) / 8) * 8 - 4);
    padded.set(data);
    ev.records.push({ cpu, index: Number(index), data: padded, seq: this.written++ });
    return 0;
  }

  /** JS: take the records of one slot, or of every slot in the order they were written, emptying their buffers. */
  drain(index?: number): PerfRecord[] {
    const slots = index === undefined ? this.events.map((_, i) => i) : [index];
    const out: PerfRecord[] = [];
    for (const i of slots) {
      const ev = this.events[i];
      if (!ev) continue;
      out.push(...ev.records);
      ev.records = [];
      ev.queuedBytes = 0;
    }
    // Each slot's records are in order already; a test compares them with events recorded in production order.
    return slots.length > 1 ? out.sort((a, b) => a.seq - b.seq) : out;
  }

  /** JS: samples lost to a full buffer at slot `index` (or all slots). */
  lost(index?: number): number {
    if (index !== undefined) return this.events[index]?.lost ?? 0;
    return this.events.reduce((n, ev) => n + (ev?.lost ?? 0), 0);
  }
}
