// BPF_MAP_TYPE_RINGBUF with the kernel's record protocol (kernel/bpf/ringbuf.c).
// Takes a MapHost and a power-of-two, page-aligned size; gives reserve/commit/output/query for
// the helpers and a JS consumer that drains committed records in order.
//
// Each record is an 8-byte header (u32 len with BUSY bit 31 and DISCARD bit 30, u32 pg_off)
// followed by the sample, 8-byte aligned. The kernel maps the data pages twice so a record that
// wraps stays contiguous; here the data area is 2 * size bytes and a record is simply stored
// contiguously from (pos & mask): live records never share ring positions, so no aliasing is needed.

import { BpfMap, Errno, checkSpec } from "./base.js";
import type { MapHost, MapOptions, MapType } from "./base.js";
import { REGION_BASE, VmFault, formatAddress } from "../memory.js";
import type { Region } from "../memory.js";

export const BPF_RINGBUF_BUSY_BIT = 0x80000000;
export const BPF_RINGBUF_DISCARD_BIT = 0x40000000;
export const BPF_RINGBUF_HDR_SZ = 8;
export const BPF_RB_NO_WAKEUP = 1n;
export const BPF_RB_FORCE_WAKEUP = 2n;
/** bpf_ringbuf_query flags. */
export const BPF_RB_AVAIL_DATA = 0n;
export const BPF_RB_RING_SIZE = 1n;
export const BPF_RB_CONS_POS = 2n;
export const BPF_RB_PROD_POS = 3n;

const PAGE_SIZE = 4096;
const RINGBUF_MAX_RECORD_SZ = Math.floor(0xffffffff / 4);
/** Pages of struct bpf_ringbuf before the data: the header page, consumer page, producer page. */
const RINGBUF_DATA_PGOFF = 3;

export interface RingBufOptions extends MapOptions {
  /** max_entries: the data size in bytes, a power of two and a multiple of 4096. */
  maxEntries: number;
}

export interface RingBufRecord {
  /** Position of the record's header in the ring (the consumer position it was read at). */
  pos: number;
  data: Uint8Array;
}

function checkRingSpec(opts: RingBufOptions): string {
  const name = opts.name ?? "ringbuf";
  const n = opts.maxEntries;
  checkSpec("ringbuf", name, Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0 && n % PAGE_SIZE === 0,
    `max entries must be a power of two and a multiple of ${PAGE_SIZE} (got ${n})`);
  return name;
}

export class RingBufMap extends BpfMap {
  readonly type: MapType = "ringbuf";
  readonly data: Region;
  readonly mask: number;
  consumerPos = 0;
  producerPos = 0;
  private pendingPos = 0;
  /** Consumer notifications the kernel would have sent (irq_work wakeups). */
  wakeups = 0;

  constructor(host: MapHost, opts: RingBufOptions) {
    super(host, checkRingSpec(opts), 0, 0, opts.maxEntries);
    this.mask = opts.maxEntries - 1;
    this.data = host.memory.map("ringbuf", new Uint8Array(opts.maxEntries * 2), { name: `${this.name} data` });
  }

  get size(): number {
    return this.mask + 1;
  }
  private hdrLen(off: number): number {
    return this.data.view.getUint32(off, true);
  }

  /** __bpf_ringbuf_reserve: the sample's address, or 0n when it does not fit. */
  reserve(size: bigint | number): bigint {
    const want = BigInt(size);
    if (want > BigInt(RINGBUF_MAX_RECORD_SZ)) return 0n;
    const len = Math.ceil((Number(want) + BPF_RINGBUF_HDR_SZ) / 8) * 8;
    if (len > this.size) return 0n;
    // Skip committed records at the head of the pending area.
    while (this.producerPos - this.pendingPos > 0) {
      const hl = this.hdrLen(this.pendingPos & this.mask);
      if (hl & BPF_RINGBUF_BUSY_BIT) break;
      const recLen = (hl & ~BPF_RINGBUF_DISCARD_BIT) >>> 0;
      this.pendingPos += Math.ceil((recLen + BPF_RINGBUF_HDR_SZ) / 8) * 8;
    }
    const newProd = this.producerPos + len;
    if (newProd - this.consumerPos > this.mask || newProd - this.pendingPos > this.mask) return 0n;
    const off = this.producerPos & this.mask;
    this.data.view.setUint32(off, (Number(want) | BPF_RINGBUF_BUSY_BIT) >>> 0, true);
    this.data.view.setUint32(off + 4, RINGBUF_DATA_PGOFF + Math.floor(off / PAGE_SIZE), true);
    this.producerPos = newProd;
    return this.data.address(off + BPF_RINGBUF_HDR_SZ);
  }

  private offsetOf(address: bigint): number {
    return Number(BigInt.asUintN(32, address)) - REGION_BASE;
  }

  /** Whether `address` is a sample this ring handed out (helpers find the ring from it). */
  owns(address: bigint): boolean {
    return this.host.memory.regionOf(address) === this.data;
  }

  /** bpf_ringbuf_submit / bpf_ringbuf_discard on a reserved sample. */
  commit(sample: bigint, flags: bigint, discard: boolean): void {
    const hdrOff = this.offsetOf(sample) - BPF_RINGBUF_HDR_SZ;
    if (!this.owns(sample) || hdrOff < 0 || hdrOff >= this.size || hdrOff % 8 !== 0)
      throw new VmFault(`${this.name}: ${formatAddress(sample)} is not a reserved ring buffer sample`, sample);
    const hl = this.hdrLen(hdrOff);
    if (!(hl & BPF_RINGBUF_BUSY_BIT))
      throw new VmFault(`${this.name}: sample at ${formatAddress(sample)} was already submitted or discarded`, sample);
    let newLen = (hl ^ BPF_RINGBUF_BUSY_BIT) >>> 0;
    if (discard) newLen = (newLen | BPF_RINGBUF_DISCARD_BIT) >>> 0;
    this.data.view.setUint32(hdrOff, newLen, true);
    const consOff = this.consumerPos & this.mask;
    if (flags & BPF_RB_FORCE_WAKEUP) this.wakeups++;
    else if (consOff === hdrOff && !(flags & BPF_RB_NO_WAKEUP)) this.wakeups++;
  }

  /** bpf_ringbuf_output: 0, -EINVAL (flags) or -EAGAIN (no room). */
  output(data: Uint8Array, flags: bigint): number {
    if (flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)) return -Errno.EINVAL;
    const at = this.reserve(data.length);
    if (at === 0n) return -Errno.EAGAIN;
    const off = this.offsetOf(at);
    this.data.bytes.set(data, off);
    this.commit(at, flags, false);
    return 0;
  }

  /** bpf_ringbuf_query. */
  query(flags: bigint): bigint {
    switch (flags) {
      case BPF_RB_AVAIL_DATA:
        return BigInt(this.producerPos - this.consumerPos);
      case BPF_RB_RING_SIZE:
        return BigInt(this.size);
      case BPF_RB_CONS_POS:
        return BigInt(this.consumerPos);
      case BPF_RB_PROD_POS:
        return BigInt(this.producerPos);
      default:
        return 0n;
    }
  }

  /**
   * JS consumer: the committed records in order, skipping discarded ones. Stops at the first
   * record still reserved (BUSY), as libbpf's consumer does, even if later ones are committed.
   * `limit` caps how many records are returned.
   */
  drain(limit = Infinity): RingBufRecord[] {
    const out: RingBufRecord[] = [];
    while (this.consumerPos < this.producerPos && out.length < limit) {
      const off = this.consumerPos & this.mask;
      const hl = this.hdrLen(off);
      if (hl & BPF_RINGBUF_BUSY_BIT) break;
      const len = (hl & ~BPF_RINGBUF_DISCARD_BIT) >>> 0;
      if (!(hl & BPF_RINGBUF_DISCARD_BIT)) {
        out.push({ pos: this.consumerPos, data: this.data.bytes.slice(off + BPF_RINGBUF_HDR_SZ, off + BPF_RINGBUF_HDR_SZ + len) });
      }
      this.consumerPos += Math.ceil((len + BPF_RINGBUF_HDR_SZ) / 8) * 8;
    }
    return out;
  }

  /** JS consumer: just the sample bytes of `drain()`. */
  consume(limit = Infinity): Uint8Array[] {
    return this.drain(limit).map((r) => r.data);
  }

  /** Bytes between consumer and producer (committed, reserved and discarded records with headers). */
  get availableData(): number {
    return this.producerPos - this.consumerPos;
  }
}
