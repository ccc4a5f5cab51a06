// Reading a BPF ring buffer (BPF_MAP_TYPE_RINGBUF) from user space through its shared mapping.
// Takes a `Sys` and the map's fd; gives `RingBuffer`: records in production order, each delivered as a view
// (`drain`, synchronous) or a copy (`records()`, async, waiting with pollAsync so the event loop keeps running).
//
// Layout (kernel/bpf/ringbuf.c): page 0 holds consumer_pos (the only page user space may write), page 1
// producer_pos, then the data area of `max_entries` bytes mapped twice in a row, so a record that runs past
// the end is still contiguous in our view. Each record is an 8-byte header (u32 len with BUSY bit 31 and
// DISCARD bit 30, u32 page offset) followed by the payload, rounded up to 8 bytes.
//
// Memory ordering. The kernel publishes with smp_store_release(producer_pos) and xchg(hdr->len) and reads
// consumer_pos with smp_load_acquire. JS has no acquire/release on plain memory, and Atomics' guarantees are
// specified only for SharedArrayBuffers, which an mmap view (an external, non-shared ArrayBuffer) is not.
// What we rely on instead is what V8 does: Atomics.load/store on any integer TypedArray compile to the
// machine's atomic instructions (x86-64: mov for the load, which TSO makes an acquire, and xchg for the store,
// a full barrier; arm64: ldar/stlr), and the optimizing compiler never caches, hoists or reorders them with
// other memory accesses. Plain typed-array reads could be merged or reordered by the JIT, so every read that
// synchronizes with the producer (producer_pos, each header) is an Atomics.load, payload reads come after
// that acquire, and the consumer position is published with Atomics.store only after the payload was read.

import type { Mapping, Sys } from "../sys/sys.js";
import { MapType, Poll, Prot } from "../sys/constants.js";
import { nextTurn } from "./next-turn.js";

const BUSY_BIT = 0x80000000;
const DISCARD_BIT = 0x40000000;
const LEN_MASK = 0x3fffffff;
const HDR_SZ = 8;
/** Longest single poll: bounds how long a waiting iterator takes to notice close(). */
const SLICE_MS = 100;

/** Gets each record's payload; the view is valid only during the call. Return `false` to stop draining. */
export type RecordHandler = (data: Uint8Array) => void | boolean;
/**
 * Gets each record as `size` bytes at `offset` of `ring` (the mapped data area, valid only during the call),
 * so that nothing is allocated per record; `codec.decode(ring, offset)` reads in place. `false` stops.
 */
export type RawRecordHandler = (ring: Uint8Array, offset: number, size: number) => void | boolean;

export class RingBuffer {
  /** Data area size in bytes (the map's max_entries, a power of two). */
  readonly size: number;
  private readonly mask: number;
  private consumerMap: Mapping | undefined;
  private producerMap: Mapping | undefined;
  private dataMap: Mapping | undefined;
  private readonly consumerPos: BigUint64Array;
  private readonly producerPos: BigUint64Array;
  /** Headers, by 4-byte index into the (doubled) data area. */
  private readonly headers: Int32Array;
  private readonly data: Uint8Array;
  /** Our consumer position; a JS number is exact up to 2^53 bytes, far more than a ring will ever carry. */
  private cons: number;
  private closed = false;
  private pending: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly sys: Sys,
    /** The map's fd (owned by its object, not by the reader); polled for readiness. */
    readonly fd: number,
    size: number,
    consumer: Mapping,
    producer: Mapping,
    data: Mapping,
  ) {
    this.size = size;
    this.mask = size - 1;
    this.consumerMap = consumer;
    this.producerMap = producer;
    this.dataMap = data;
    this.consumerPos = new BigUint64Array(consumer.bytes.buffer, consumer.bytes.byteOffset, 1);
    this.producerPos = new BigUint64Array(producer.bytes.buffer, producer.bytes.byteOffset, 1);
    this.headers = new Int32Array(data.bytes.buffer, data.bytes.byteOffset, (2 * size) / 4);
    this.data = data.bytes;
    this.cons = Number(Atomics.load(this.consumerPos, 0));
  }

  /**
   * Maps a ring buffer map: its consumer page read-write, producer page and data (twice) read-only. The data has
   * a mapping of its own, so that a 2 GiB ring's 4 GiB of data is the largest view needed (Node's limit), not 4 GiB + a page.
   */
  static open(sys: Sys, mapFd: number): RingBuffer {
    const info = sys.mapInfo(mapFd);
    if (info.type !== MapType.RINGBUF) throw new Error(`map ${info.name || mapFd} is not a ring buffer (type ${info.type})`);
    const page = sys.pageSize();
    const size = info.maxEntries;
    const mappings: Mapping[] = [];
    try {
      mappings.push(sys.mmap(mapFd, page, Prot.READ | Prot.WRITE, 0));
      mappings.push(sys.mmap(mapFd, page, Prot.READ, page));
      mappings.push(sys.mmap(mapFd, 2 * size, Prot.READ, 2 * page));
    } catch (e) {
      for (const m of mappings) sys.munmap(m);
      throw e;
    }
    const [consumer, producer, data] = mappings as [Mapping, Mapping, Mapping];
    return new RingBuffer(sys, mapFd, size, consumer, producer, data);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes produced and not yet consumed (records, headers and discarded ones included). */
  get available(): number {
    if (this.closed) return 0;
    return Number(Atomics.load(this.producerPos, 0)) - this.cons;
  }

  /**
   * Hands every record committed before the call to `handler`, in order, skipping discarded ones; stops at a
   * record still being written (BUSY), after `max` records, or when the handler returns false. Gives the number handled.
   * A record's space goes back to the producer after its handler returns (or throws), at the latest when
   * drain returns.
   */
  drain(handler: RecordHandler, max = Infinity): number {
    return this.drainRaw((ring, off, size) => handler(ring.subarray(off, off + size)), max);
  }

  /** drain() without a view per record: the handler gets the data area, the record's offset and size. */
  drainRaw(handler: RawRecordHandler, max = Infinity): number {
    if (this.closed) return 0;
    const { headers, data, mask } = this;
    // Only what was produced before the call: records a handler's own work makes (printing an event is a write(2)
    // that a probe may turn into the next event) wait for the next drain, so one drain always ends.
    const prod = Number(Atomics.load(this.producerPos, 0));
    let cons = this.cons;
    let n = 0;
    let unpublished = 0;
    try {
      while (n < max && cons < prod) {
        const off = cons & mask;
        // Acquire: pairs with the kernel's xchg of the header at commit; the payload is read after it.
        const len = Atomics.load(headers, off >> 2);
        if (len & BUSY_BIT) break;
        const size = len & LEN_MASK;
        const skip = (len & DISCARD_BIT) !== 0;
        let more = true;
        try {
          if (!skip) {
            n++;
            more = handler(data, off + HDR_SZ, size) !== false;
          }
        } finally {
          cons += (size + HDR_SZ + 7) & ~7;
          // Release: the kernel may reuse the space only after we are done reading it. Publishing every 64
          // records rather than each one saves a BigInt store per record and still frees space during long drains.
          if (++unpublished === 64) {
            Atomics.store(this.consumerPos, 0, BigInt(cons));
            unpublished = 0;
          }
        }
        if (!more) break;
      }
    } finally {
      this.cons = cons;
      if (unpublished > 0) Atomics.store(this.consumerPos, 0, BigInt(cons));
    }
    return n;
  }

  /** Copies of the records available now (at most `max`). */
  read(max = Infinity): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.drain((d) => void out.push(d.slice()), max);
    return out;
  }

  /**
   * Waits until data is available, the timeout passes or the reader is closed, without blocking the event
   * loop (poll runs on a libuv worker, in slices of at most 100 ms). Gives whether data is available.
   */
  async wait(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.closed) return false;
      if (this.available > 0) {
        // Data already there (as it always is under a flood) still waits one event loop turn (next-turn.ts).
        await nextTurn();
        return !this.closed;
      }
      const left = deadline - Date.now();
      if (left <= 0) return false;
      const p = this.sys.pollAsync([{ fd: this.fd, events: Poll.IN }], Math.min(SLICE_MS, left));
      this.pending = p.catch(() => undefined);
      const [revents] = await p;
      if ((revents ?? 0) & (Poll.ERR | Poll.NVAL)) throw new Error(`ring buffer fd ${this.fd} is no longer valid`);
    }
  }

  /** Copies of the records as they arrive, until close() (or the signal aborts). One consumer at a time. */
  async *records(options: { signal?: AbortSignal; batch?: number } = {}): AsyncGenerator<Uint8Array> {
    const batch = options.batch ?? 1024;
    while (!this.closed && !options.signal?.aborted) {
      const got = this.read(batch);
      if (got.length > 0) {
        for (const r of got) yield r;
        await nextTurn();
        continue;
      }
      await this.wait(SLICE_MS);
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    return this.records();
  }

  /** Releases the mappings; idempotent. A wait in flight returns false within 100 ms. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const maps = [this.dataMap, this.producerMap, this.consumerMap];
    this.dataMap = this.producerMap = this.consumerMap = undefined;
    let error: unknown;
    for (const m of maps) {
      try {
        if (m) this.sys.munmap(m);
      } catch (e) {
        error ??= e;
      }
    }
    if (error) throw error;
  }

  /** close(), then waits for a poll in flight to return (so its worker thread is free again). */
  async closeAndWait(): Promise<void> {
    this.close();
    await this.pending;
  }
}
