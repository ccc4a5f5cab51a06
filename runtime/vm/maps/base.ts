// Shared ground for the VM's BPF maps: errno values, update flags, map types, the CPU source
// per-CPU maps read, key encoding, value slabs, and the BpfMap base class.
// Takes the VM Memory; gives BpfMap (a PseudoMap whose address is a "map" region) and helpers.

import type { PseudoMap } from "../env.js";
import type { Memory, Region } from "../memory.js";

/** Linux errno values the maps and helpers return (negated). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  E2BIG: 7,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  EOPNOTSUPP: 95,
} as const;

/** map_update_elem flags (include/uapi/linux/bpf.h). */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_F_LOCK = 4;

export type MapType =
  | "hash"
  | "array"
  | "percpu_hash"
  | "percpu_array"
  | "lru_hash"
  | "lru_percpu_hash"
  | "ringbuf"
  | "perf_event_array"
  | "prog_array"
  | "stack_trace"
  | "array_of_maps"
  | "hash_of_maps";

/** BPF_MAP_TYPE_* numbers, for loaders and messages. */
export const MAP_TYPE_ID: Record<MapType, number> = {
  hash: 1,
  array: 2,
  prog_array: 3,
  perf_event_array: 4,
  percpu_hash: 5,
  percpu_array: 6,
  stack_trace: 7,
  lru_hash: 9,
  lru_percpu_hash: 10,
  array_of_maps: 12,
  hash_of_maps: 13,
  ringbuf: 27,
};

/** Where per-CPU maps learn the CPU count and the CPU a program runs on (SimKernel is one). */
export interface CpuSource {
  readonly numCpus: number;
  readonly cpu: number;
}

/** What every map is created against. */
export interface MapHost extends CpuSource {
  readonly memory: Memory;
}

export const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to;

/** A key's identity in a JS Map: the bytes as a latin1 string. */
export function keyId(key: Uint8Array): string {
  let s = "";
  for (let i = 0; i < key.length; i++) s += String.fromCharCode(key[i]!);
  return s;
}

export function checkSize(what: string, mapName: string, bytes: Uint8Array, size: number): void {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${mapName}: ${what} must be a Uint8Array`);
  if (bytes.length !== size) throw new RangeError(`${mapName}: ${what} is ${bytes.length} bytes, the map's ${what} size is ${size}`);
}

export function checkSpec(type: MapType, name: string, cond: boolean, msg: string): void {
  if (!cond) throw new RangeError(`cannot create ${type} map "${name}": ${msg}`);
}

export const u32Key = (index: number): Uint8Array => {
  const k = new Uint8Array(4);
  new DataView(k.buffer).setUint32(0, index >>> 0, true);
  return k;
};
export const readU32 = (bytes: Uint8Array, off = 0): number =>
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(off, true);

/**
 * Fixed-size value slots in a few lazily mapped "map_value" regions (the kernel preallocates;
 * chunking keeps big maps from costing memory until used). A slot holds `copies` values of
 * `stride` bytes each (one per CPU for per-CPU maps).
 */
export class ValueSlab {
  private readonly chunks: Region[] = [];
  readonly perChunk: number;
  readonly slotBytes: number;
  constructor(
    private readonly memory: Memory,
    private readonly name: string,
    readonly slots: number,
    readonly stride: number,
    readonly copies: number,
    private readonly writable = true,
  ) {
    this.slotBytes = stride * copies;
    // At most 16 regions per map, at least 64 KiB per region where the map is that large.
    const byBytes = Math.max(1, Math.floor(65536 / Math.max(1, this.slotBytes)));
    this.perChunk = Math.max(1, Math.min(slots, Math.max(Math.ceil(slots / 16), byBytes)));
  }
  private chunk(slot: number): Region {
    const c = Math.floor(slot / this.perChunk);
    let region = this.chunks[c];
    if (region === undefined) {
      const count = Math.min(this.perChunk, this.slots - c * this.perChunk);
      region = this.memory.map("map_value", new Uint8Array(count * this.slotBytes), {
        writable: this.writable,
        name: `${this.name} values`,
      });
      this.chunks[c] = region;
    }
    return region;
  }
  private offset(slot: number, copy: number): number {
    return (slot % this.perChunk) * this.slotBytes + copy * this.stride;
  }
  address(slot: number, copy = 0, off = 0): bigint {
    return this.chunk(slot).address(this.offset(slot, copy) + off);
  }
  /** The live bytes of one copy (a view, not a copy). */
  bytes(slot: number, copy = 0, length = this.stride): Uint8Array {
    const o = this.offset(slot, copy);
    return this.chunk(slot).bytes.subarray(o, o + length);
  }
  /** Bytes of a run of slots in one view when they share a region (arrays' global data). */
  regionOf(slot: number): Region {
    return this.chunk(slot);
  }
}

export interface MapOptions {
  name?: string;
}

/** A map as programs and helpers see it, plus what every JS-facing API shares. */
export abstract class BpfMap implements PseudoMap {
  abstract readonly type: MapType;
  readonly name: string;
  readonly region: Region;
  /** File descriptor number the registry assigned; -1 until registered. */
  fd = -1;
  constructor(
    readonly host: MapHost,
    name: string,
    readonly keySize: number,
    readonly valueSize: number,
    readonly maxEntries: number,
  ) {
    this.name = name;
    // An empty read-only region: its address names the map, and any dereference faults.
    this.region = host.memory.map("map", new Uint8Array(0), { writable: false, name: `map ${name}` });
  }
  get address(): bigint {
    return this.region.address(0);
  }
  valueAddress(_off: number): bigint | undefined {
    return undefined;
  }
  /** bpf_map_lookup_elem from a program: the value's address, or 0n. */
  lookupElem(_key: Uint8Array): bigint {
    return 0n;
  }
  /** bpf_map_update_elem from a program: 0 or a negative errno. */
  updateElem(_key: Uint8Array, _value: Uint8Array, _flags: bigint): number {
    return -Errno.EINVAL;
  }
  /** bpf_map_delete_elem from a program: 0 or a negative errno. */
  deleteElem(_key: Uint8Array): number {
    return -Errno.EINVAL;
  }
  /**
   * bpf_for_each_map_elem: the keys to visit, in order (taken as the iteration starts, so elements a callback adds
   * are not visited); undefined for a map type the kernel does not iterate.
   */
  forEachKeys(): Iterable<Uint8Array> | undefined {
    return undefined;
  }
  /** bpf_for_each_map_elem: the address of `key`'s value (the current CPU's copy), or undefined once it is gone. */
  forEachValue(_key: Uint8Array): bigint | undefined {
    return undefined;
  }
}
