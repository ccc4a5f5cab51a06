// The virtual machine's address space: typed, bounds-checked regions.
// Takes byte buffers to map; gives 64-bit addresses for them and checked access by (hi, lo) address.
//
// Every region owns one value of the address's upper 32 bits, and its bytes start at
// REGION_BASE in the lower 32 bits. Resolving an address is then one map lookup on the upper
// half and one unsigned compare on the lower half; pointer arithmetic that leaves a region
// lands on an unmapped or out-of-bounds address and faults instead of touching the host.

import { VmFault } from "./errors.js";

export { VmFault };

export type RegionKind = "ctx" | "stack" | "map_value" | "map_key" | "packet" | "kernel" | "user" | "ringbuf" | "map";

/**
 * Where each kind of region is placed: its first upper half and how many upper halves it may use. The
 * ranges never overlap, and user regions stay below x86-64's TASK_SIZE_MAX (0x7ffffffff000), or the
 * helpers would take a user string for a kernel address.
 */
const PLACEMENT: Record<RegionKind, readonly [first: number, count: number]> = {
  user: [0x00007800, 0x800],
  ctx: [0xffff8800, 0x80],
  kernel: [0xffff8880, 0x800],
  map_value: [0xffffa000, 0x800],
  map_key: [0xffffb000, 0x800],
  ringbuf: [0xffffb800, 0x800],
  packet: [0xffffc000, 0x800],
  stack: [0xffffc900, 0x700],
  map: [0xffffd000, 0x800],
};

/** Lower 32 bits of every region's first byte; leaves room below for small negative offsets to fault. */
export const REGION_BASE = 0x10000000;
/** Largest region: its last byte must stay below 2^32 in the lower half. */
export const MAX_REGION = 0xe0000000;

export class Region {
  readonly view: DataView;
  /**
   * The lowest offset resolve() has handed out since the region's owner last set this (a bound on
   * what code that went through resolve may have written). The compiled tier's frame stacks use it
   * to zero only what a run may have touched; other regions ignore it.
   */
  writtenFrom = 0;
  /** The bytes never change again: a program-read-only map's values once user space froze the map (as .rodata is). */
  frozen = false;
  constructor(
    readonly kind: RegionKind,
    readonly name: string,
    readonly bytes: Uint8Array,
    readonly writable: boolean,
    readonly hi: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get size(): number {
    return this.bytes.length;
  }
  /** The 64-bit address of byte `offset` of this region. */
  address(offset = 0): bigint {
    return (BigInt(this.hi >>> 0) << 32n) | BigInt((REGION_BASE + offset) >>> 0);
  }
}

export const formatAddress = (address: bigint): string => `0x${BigInt.asUintN(64, address).toString(16)}`;

/** The last Memory.generation handed out, so that no two address spaces or moments share one. */
let generations = 0;

export class Memory {
  /** Regions by the upper half of their addresses. */
  readonly regions = new Map<number, Region>();
  /**
   * Changes whenever a region is mapped or unmapped, to a value no Memory had before: an address
   * resolved while it is unchanged still names the same region.
   */
  generation = ++generations;
  private readonly next = Object.fromEntries(Object.entries(PLACEMENT).map(([k, [first]]) => [k, first])) as Record<RegionKind, number>;
  /** The last region resolved: programs mostly hit the same region (their stack) again. */
  private lastHi = 0;
  private lastRegion: Region | undefined = undefined;
  /** Upper halves given back by unmap, reused first so that long runs never run out. */
  private readonly free: Record<RegionKind, number[]> = { user: [], ctx: [], kernel: [], map_value: [], map_key: [], ringbuf: [], packet: [], stack: [], map: [] };

  /** Maps `bytes` (shared, not copied) as a new region and returns it. */
  map(kind: RegionKind, bytes: Uint8Array, options: { writable?: boolean; name?: string } = {}): Region {
    if (bytes.length > MAX_REGION) throw new RangeError(`region of ${bytes.length} bytes is larger than ${MAX_REGION}`);
    let hi = this.free[kind].pop();
    if (hi === undefined) {
      hi = this.next[kind];
      const [first, count] = PLACEMENT[kind];
      if (hi - first >= count) throw new RangeError(`too many ${kind} regions mapped at once (${count})`);
      this.next[kind] = hi + 1;
    }
    const region = new Region(kind, options.name ?? kind, bytes, options.writable ?? true, hi | 0);
    this.regions.set(hi | 0, region);
    this.generation = ++generations;
    return region;
  }

  unmap(region: Region): void {
    if (this.regions.get(region.hi) !== region) return;
    this.regions.delete(region.hi);
    this.generation = ++generations;
    if (this.lastRegion === region) this.lastRegion = undefined;
    this.free[region.kind].push(region.hi >>> 0);
  }

  /** The region holding `address`, if any. */
  regionOf(address: bigint): Region | undefined {
    return this.regions.get(Number(BigInt.asIntN(32, address >> 32n)));
  }

  /**
   * Checks an access of `size` bytes at (hi, lo) and returns the region; its offset is
   * `(lo - REGION_BASE) >>> 0`. Throws a VmFault naming the address on any violation.
   */
  resolve(hi: number, lo: number, size: number, write: boolean): Region {
    let region = this.lastRegion;
    if (region === undefined || this.lastHi !== (hi | 0)) {
      region = this.regions.get(hi | 0);
      this.lastHi = hi | 0;
      this.lastRegion = region;
    }
    const offset = (lo - REGION_BASE) >>> 0;
    if (region === undefined || offset + size > region.bytes.length || (write && !region.writable)) throw accessFault(region, hi, lo, size, write);
    if (offset < region.writtenFrom) region.writtenFrom = offset;
    return region;
  }

  /** Copies `size` bytes starting at a 64-bit address; faults like `resolve`. */
  read(address: bigint, size: number): Uint8Array {
    const { hi, lo } = split(address);
    const region = this.resolve(hi, lo, size, false);
    const offset = (lo - REGION_BASE) >>> 0;
    return region.bytes.slice(offset, offset + size);
  }

  /** Writes bytes at a 64-bit address; faults like `resolve`. */
  write(address: bigint, data: Uint8Array): void {
    const { hi, lo } = split(address);
    const region = this.resolve(hi, lo, data.length, true);
    region.bytes.set(data, (lo - REGION_BASE) >>> 0);
  }

  /** True when `size` bytes at `address` could be read (probe_read's check). */
  readable(address: bigint, size: number): boolean {
    const region = this.regionOf(address);
    if (!region) return false;
    const offset = Number(BigInt.asUintN(32, address) - BigInt(REGION_BASE));
    return offset >= 0 && offset + size <= region.bytes.length;
  }
}

/** The fault of an access resolve() refuses (out of line: resolve is on every run's path and small enough to inline). */
function accessFault(region: Region | undefined, hi: number, lo: number, size: number, write: boolean): VmFault {
  const address = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  const offset = (lo - REGION_BASE) >>> 0;
  const what =
    region === undefined ? "unmapped address"
    : offset + size > region.bytes.length ? `out-of-bounds access to ${region.name} (${region.bytes.length} bytes)`
    : `${region.name} is read-only`;
  return new VmFault(`${write ? "write" : "read"} of ${size} byte${size === 1 ? "" : "s"} at ${formatAddress(address)}: ${what}`, address);
}

export function split(value: bigint): { hi: number; lo: number } {
  return { hi: Number(BigInt.asIntN(32, value >> 32n)), lo: Number(BigInt.asIntN(32, value)) };
}

export function join(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
