// BPF_MAP_TYPE_ARRAY_OF_MAPS and HASH_OF_MAPS: slots holding other maps of the same VM.
// Takes a MapHost, the key size and entries, and the inner maps' shape; gives slots set from JS (as
// user space stores an inner map's fd) and a program-side lookup that returns the inner map's own
// address, the same map pointer an LDDW of the inner map loads, so helpers find it as any map.

import { BpfMap, Errno, checkSpec, keyId, readU32, BPF_EXIST, BPF_NOEXIST } from "./base.js";
import type { MapHost, MapOptions, MapType } from "./base.js";

/** What an inner map must match (bpf_map_meta_equal): its type number, sizes and, unless `anySize`, its entries. */
export interface InnerShape {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** BPF_F_INNER_MAP on the inner definition: inner maps of any max_entries. */
  anySize?: boolean;
}

export interface MapOfMapsOptions extends MapOptions {
  /** 4 for an array of maps. */
  keySize?: number;
  maxEntries: number;
  inner: InnerShape;
  /** The BPF_MAP_TYPE_* number of each map, for the inner shape check. */
  typeIdOf: (m: BpfMap) => number;
}

abstract class MapOfMaps extends BpfMap {
  readonly inner: InnerShape;
  private readonly typeIdOf: (m: BpfMap) => number;
  constructor(host: MapHost, type: MapType, opts: MapOfMapsOptions, keySize: number) {
    const name = opts.name ?? type;
    checkSpec(type, name, Number.isInteger(opts.maxEntries) && opts.maxEntries > 0, `max entries must be > 0 (got ${opts.maxEntries})`);
    checkSpec(type, name, Number.isInteger(keySize) && keySize > 0, `key size must be > 0 (got ${keySize})`);
    // The value is an inner map's fd (u32) from user space.
    super(host, name, keySize, 4, opts.maxEntries);
    this.inner = opts.inner;
    this.typeIdOf = opts.typeIdOf;
  }

  /** Why `m` cannot be an inner map here, or undefined. */
  protected mismatch(m: BpfMap): string | undefined {
    const s = this.inner;
    const t = this.typeIdOf(m);
    if (m.host.memory !== this.host.memory) return `map "${m.name}" lives in a different VM memory`;
    if (m instanceof MapOfMaps) return `map "${m.name}" is itself a map of maps`;
    if (t !== s.type) return `map "${m.name}" is of type ${t}, the inner maps' type is ${s.type}`;
    if (m.keySize !== s.keySize || m.valueSize !== s.valueSize)
      return `map "${m.name}" has key/value sizes ${m.keySize}/${m.valueSize}, the inner maps' are ${s.keySize}/${s.valueSize}`;
    if (!s.anySize && m.maxEntries !== s.maxEntries) return `map "${m.name}" has ${m.maxEntries} entries, the inner maps have ${s.maxEntries} (BPF_F_INNER_MAP allows any)`;
    return undefined;
  }

  /** The programs' side: a map of maps is read only; the verifier refuses updates and deletes. */
  override updateElem(): number {
    return -Errno.EINVAL;
  }
  override deleteElem(): number {
    return -Errno.EINVAL;
  }
}

/** BPF_MAP_TYPE_ARRAY_OF_MAPS. */
export class ArrayOfMaps extends MapOfMaps {
  readonly type: MapType = "array_of_maps";
  private readonly slots: (BpfMap | undefined)[];
  constructor(host: MapHost, opts: MapOfMapsOptions) {
    super(host, "array_of_maps", opts, 4);
    checkSpec("array_of_maps", this.name, (opts.keySize ?? 4) === 4, `key size must be 4 (got ${opts.keySize})`);
    this.slots = new Array<BpfMap | undefined>(opts.maxEntries).fill(undefined);
  }

  /** bpf_map_lookup_elem: the inner map's address (a map pointer), or 0n for an empty slot or past the end. */
  override lookupElem(key: Uint8Array): bigint {
    const i = readU32(key);
    return i < this.maxEntries ? (this.slots[i]?.address ?? 0n) : 0n;
  }

  /** JS: store `map` at `index`; 0, -E2BIG past the end, -EEXIST (NOEXIST: arrays' slots always exist), -EINVAL; a mismatched map throws. */
  set(index: number, map: BpfMap, flags: number | bigint = 0): number {
    if (!Number.isInteger(index) || index < 0) throw new RangeError(`${this.name}: index ${index} is not a u32`);
    const why = this.mismatch(map);
    if (why) throw new TypeError(`${this.name}: ${why}`);
    const f = BigInt(flags);
    if (f > BigInt(BPF_EXIST)) return -Errno.EINVAL;
    if (index >= this.maxEntries) return -Errno.E2BIG;
    if (f === BigInt(BPF_NOEXIST)) return -Errno.EEXIST;
    this.slots[index] = map;
    return 0;
  }

  /** JS: clear `index`; 0, -E2BIG past the end, -ENOENT if empty. */
  delete(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.maxEntries) return -Errno.E2BIG;
    if (this.slots[index] === undefined) return -Errno.ENOENT;
    this.slots[index] = undefined;
    return 0;
  }

  /** JS: the map at `index`, or undefined. */
  get(index: number): BpfMap | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.maxEntries) return undefined;
    return this.slots[index];
  }

  /** JS: the filled slots in index order. */
  entries(): Array<[number, BpfMap]> {
    return this.slots.flatMap((m, i) => (m ? [[i, m] as [number, BpfMap]] : []));
  }
}

/** BPF_MAP_TYPE_HASH_OF_MAPS. */
export class HashOfMaps extends MapOfMaps {
  readonly type: MapType = "hash_of_maps";
  private readonly slots = new Map<string, { key: Uint8Array; map: BpfMap }>();
  constructor(host: MapHost, opts: MapOfMapsOptions) {
    super(host, "hash_of_maps", opts, opts.keySize ?? 4);
  }

  override lookupElem(key: Uint8Array): bigint {
    return this.slots.get(keyId(key))?.map.address ?? 0n;
  }

  /** JS: store `map` under `key`; 0, -E2BIG when full, -ENOENT (EXIST, absent), -EEXIST (NOEXIST, present), -EINVAL. */
  set(key: Uint8Array, map: BpfMap, flags: number | bigint = 0): number {
    if (key.length !== this.keySize) throw new RangeError(`${this.name}: key is ${key.length} bytes, the map's key size is ${this.keySize}`);
    const why = this.mismatch(map);
    if (why) throw new TypeError(`${this.name}: ${why}`);
    const f = BigInt(flags);
    if (f > BigInt(BPF_EXIST)) return -Errno.EINVAL;
    const id = keyId(key);
    const present = this.slots.has(id);
    if (f === BigInt(BPF_NOEXIST) && present) return -Errno.EEXIST;
    if (f === BigInt(BPF_EXIST) && !present) return -Errno.ENOENT;
    if (!present && this.slots.size >= this.maxEntries) return -Errno.E2BIG;
    this.slots.set(id, { key: key.slice(), map });
    return 0;
  }

  /** JS: remove `key`; 0 or -ENOENT. */
  delete(key: Uint8Array): number {
    return this.slots.delete(keyId(key)) ? 0 : -Errno.ENOENT;
  }

  get(key: Uint8Array): BpfMap | undefined {
    return this.slots.get(keyId(key))?.map;
  }

  entries(): Array<[Uint8Array, BpfMap]> {
    return [...this.slots.values()].map((e) => [e.key.slice(), e.map]);
  }
}
