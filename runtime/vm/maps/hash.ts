// Hash maps with the kernel's update semantics (kernel/bpf/hashtab.c): plain, per-CPU and LRU.
// Takes a MapHost (memory + CPUs) and sizes; gives HashMap / PerCpuHashMap with program-side
// lookups returning value addresses and a JS API with Uint8Array keys and values.
//
// As in the kernel, an update of an existing key (plain and LRU hash) puts the value in another
// element and frees the old one, and a delete frees its element: a pointer from an earlier lookup
// keeps reading the old value until the map reuses that element, in the order the kernel's free
// lists give (see the pools below). Per-CPU maps update values in place, as the kernel does.
// LRU maps take their elements from the kernel's LRU lists (./lru.ts: common or per-CPU), which decide what they evict.

import { BPF_EXIST, BPF_NOEXIST, BpfMap, Errno, ValueSlab, checkSize, checkSpec, keyId, roundUp } from "./base.js";
import type { MapHost, MapOptions, MapType } from "./base.js";
import { CommonLru, PerCpuLru } from "./lru.js";

export interface HashMapOptions extends MapOptions {
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** Evict elements as the kernel's LRU lists pick them when a CPU finds no free one. */
  lru?: boolean;
  /** BPF_F_NO_PREALLOC: elements come from the kernel's per-CPU object caches, not a preallocated free list. */
  noPrealloc?: boolean;
  /** BPF_F_NO_COMMON_LRU: an LRU list per CPU; max entries round up to a multiple of the CPUs, one share each. */
  noCommonLru?: boolean;
}

/** The max entries the kernel gives a hash map: with BPF_F_NO_COMMON_LRU a multiple of the CPUs (an equal share each). */
export const hashMaxEntries = (maxEntries: number, cpus: number, noCommonLru = false): number => (noCommonLru ? roundUp(maxEntries, cpus) : maxEntries);

interface Elem {
  id: string;
  key: Uint8Array;
  slot: number;
}

function checkHashSpec(type: MapType, opts: HashMapOptions): string {
  const name = opts.name ?? type;
  checkSpec(type, name, Number.isInteger(opts.keySize) && opts.keySize > 0, `key size must be > 0 (got ${opts.keySize})`);
  checkSpec(type, name, Number.isInteger(opts.valueSize) && opts.valueSize > 0, `value size must be > 0 (got ${opts.valueSize})`);
  checkSpec(type, name, Number.isInteger(opts.maxEntries) && opts.maxEntries > 0, `max entries must be > 0 (got ${opts.maxEntries})`);
  checkSpec(type, name, !(opts.lru && opts.noPrealloc), "LRU maps are always preallocated (BPF_F_NO_PREALLOC is invalid)");
  checkSpec(type, name, !(opts.noCommonLru && !opts.lru), "BPF_F_NO_COMMON_LRU is for LRU maps only");
  return name;
}

/** Where a map's elements (value slots) come from and go back to, per CPU. */
export interface ElemPool {
  /** Slots the slab needs. */
  readonly capacity: number;
  /** A free slot for a new element, or undefined when there is none. */
  take(cpu: number): number | undefined;
  /** A slot whose element left the map. */
  give(slot: number, cpu: number): void;
  /** The slot for an existing key's new element; `old` is freed. */
  replace(old: number, cpu: number): number;
  /** A program looked the element up (LRU maps keep it). */
  ref?(slot: number): void;
}

/**
 * Preallocated maps: per-CPU LIFO free lists (kernel/bpf/percpu_freelist.c). A pop tries this CPU's list,
 * then the next CPUs'. Plain hash maps also keep one spare element per CPU: an update of an existing key
 * takes the spare and the old element becomes the spare, so it is reused by the next such update on that
 * CPU, not by inserts.
 */
class FreeListPool implements ElemPool {
  readonly capacity: number;
  private readonly lists: Array<{ freed: number[]; fresh: number }> = [];
  private readonly spare: number[] = [];
  private nextSlot = 0;
  constructor(maxEntries: number, private readonly cpus: number, spares: boolean) {
    this.capacity = maxEntries + (spares ? cpus : 0);
    // Spread as the kernel populates the lists; the spares are popped at creation (taken here as CPU 0).
    for (let c = 0; c < cpus; c++) this.lists.push({ freed: [], fresh: Math.floor(this.capacity / cpus) + (c < this.capacity % cpus ? 1 : 0) });
    if (spares) for (let c = 0; c < cpus; c++) this.spare.push(this.take(0)!);
  }
  take(cpu: number): number | undefined {
    for (let i = 0; i < this.cpus; i++) {
      const list = this.lists[(cpu + i) % this.cpus]!;
      if (list.freed.length > 0) return list.freed.pop();
      if (list.fresh > 0) {
        list.fresh--;
        return this.nextSlot++;
      }
    }
    return undefined;
  }
  give(slot: number, cpu: number): void {
    this.lists[cpu]!.freed.push(slot);
  }
  /** Only maps with spares replace elements (per-CPU maps update in place). */
  replace(old: number, cpu: number): number {
    const slot = this.spare[cpu]!;
    this.spare[cpu] = old;
    return slot;
  }
}

/**
 * BPF_F_NO_PREALLOC: the kernel's per-CPU object caches (kernel/bpf/memalloc.c), LIFO, so a freed element
 * is the next one allocated on its CPU. An update allocates before it frees. When this CPU has none freed
 * and the slab is used up, the oldest freed element of another CPU is taken (the kernel would allocate).
 */
class CachePool implements ElemPool {
  readonly capacity: number;
  private readonly freed: number[][] = [];
  private nextSlot = 0;
  constructor(maxEntries: number, private readonly cpus: number) {
    this.capacity = maxEntries + cpus;
    for (let c = 0; c < cpus; c++) this.freed.push([]);
  }
  take(cpu: number): number | undefined {
    const mine = this.freed[cpu]!;
    if (mine.length > 0) return mine.pop();
    if (this.nextSlot < this.capacity) return this.nextSlot++;
    return this.freed.find((l) => l.length > 0)?.shift();
  }
  give(slot: number, cpu: number): void {
    this.freed[cpu]!.push(slot);
  }
  replace(old: number, cpu: number): number {
    const slot = this.take(cpu)!;
    this.give(old, cpu);
    return slot;
  }
}

abstract class HashBase extends BpfMap {
  protected readonly elems = new Map<string, Elem>();
  /** LRU maps: the element in each slot, for evictions. */
  private readonly bySlot: Array<Elem | undefined> = [];
  private readonly pool: ElemPool;
  protected readonly slab: ValueSlab;
  readonly lru: boolean;
  /** Elements evicted by LRU updates, for tests. */
  evictions = 0;

  constructor(host: MapHost, type: MapType, opts: HashMapOptions, protected readonly copies: number, private readonly inPlace: boolean) {
    const cpus = host.numCpus;
    super(host, checkHashSpec(type, opts), opts.keySize, opts.valueSize, hashMaxEntries(opts.maxEntries, cpus, opts.noCommonLru));
    this.lru = opts.lru ?? false;
    const evict = (slot: number) => this.evict(slot);
    this.pool = opts.noCommonLru
      ? new PerCpuLru(this.maxEntries, cpus, evict)
      : this.lru
        ? new CommonLru(this.maxEntries, cpus, evict)
        : opts.noPrealloc
          ? new CachePool(this.maxEntries, cpus)
          : new FreeListPool(this.maxEntries, cpus, !inPlace);
    this.slab = new ValueSlab(host.memory, this.name, this.pool.capacity, roundUp(opts.valueSize, 8), copies);
  }

  get size(): number {
    return this.elems.size;
  }

  /** `touch`: a program's lookup or update, which sets an LRU element's ref bit. */
  protected find(key: Uint8Array, touch: boolean): Elem | undefined {
    const id = keyId(key);
    const e = this.elems.get(id);
    if (e && touch) this.pool.ref?.(e.slot);
    return e;
  }

  private place(e: Elem): void {
    this.elems.set(e.id, e);
    if (this.lru) this.bySlot[e.slot] = e;
  }

  /** The LRU lists evict the element in `slot`. */
  private evict(slot: number): boolean {
    const e = this.bySlot[slot];
    if (e === undefined || this.elems.get(e.id) !== e || e.slot !== slot) return false;
    this.elems.delete(e.id);
    this.bySlot[slot] = undefined;
    this.evictions++;
    return true;
  }

  /**
   * The update both sides share. `write(slot, isNew)` stores the value(s); isNew when the slot held no
   * value of this key. Flags: anything above BPF_EXIST (BPF_F_LOCK included: no spin locks here) is -EINVAL.
   */
  protected upsert(key: Uint8Array, flags: bigint, write: (slot: number, isNew: boolean) => void): number {
    if (flags > BigInt(BPF_EXIST) || flags < 0n) return -Errno.EINVAL;
    const cpu = this.host.cpu;
    const exist = flags === BigInt(BPF_EXIST);
    // LRU maps take the new element before looking the key up (which may evict, even this key); per-CPU
    // LRU maps not for BPF_EXIST. An unused one goes back.
    let taken: number | undefined;
    if (this.lru && !(this.inPlace && exist)) {
      taken = this.pool.take(cpu);
      if (taken === undefined) return -Errno.ENOMEM;
    }
    const id = keyId(key);
    const old = this.elems.get(id);
    let err = 0;
    if (old && flags === BigInt(BPF_NOEXIST)) err = -Errno.EEXIST;
    else if (!old && exist) err = -Errno.ENOENT;
    else if (!old && !this.lru && this.elems.size >= this.maxEntries) err = -Errno.E2BIG;
    if (taken !== undefined && (err !== 0 || (old && this.inPlace))) this.pool.give(taken, cpu);
    if (err !== 0) return err;
    if (old && this.inPlace) {
      write(old.slot, false);
      this.find(key, true);
      return 0;
    }
    let slot: number;
    if (!old) slot = taken ?? this.pool.take(cpu)!;
    else if (taken === undefined) slot = this.pool.replace(old.slot, cpu);
    else {
      slot = taken;
      this.pool.give(old.slot, cpu);
    }
    write(slot, true);
    if (old) {
      old.slot = slot;
      this.place(old);
      this.find(key, true);
    } else this.place({ id, key: key.slice(), slot });
    return 0;
  }

  protected remove(key: Uint8Array): number {
    const id = keyId(key);
    const e = this.elems.get(id);
    if (!e) return -Errno.ENOENT;
    this.elems.delete(id);
    this.pool.give(e.slot, this.host.cpu);
    return 0;
  }
  override deleteElem(key: Uint8Array): number {
    return this.remove(key);
  }

  /** JS: delete a key; 0 or -ENOENT. */
  delete(key: Uint8Array): number {
    checkSize("key", this.name, key, this.keySize);
    return this.remove(key);
  }

  has(key: Uint8Array): boolean {
    checkSize("key", this.name, key, this.keySize);
    return this.elems.has(keyId(key));
  }

  override forEachKeys(): Iterable<Uint8Array> {
    return this.keys();
  }
  override forEachValue(key: Uint8Array): bigint | undefined {
    // Not a lookup: the kernel's walk sets no LRU reference bit.
    const e = this.find(key, false);
    if (e === undefined) return undefined;
    return this.slab.address(e.slot, this.copies > 1 ? this.host.cpu : 0);
  }

  /** Keys in iteration order: the order they were added in. */
  keys(): Uint8Array[] {
    return [...this.elems.values()].map((e) => e.key.slice());
  }

  /** BPF_MAP_GET_NEXT_KEY: the first key for none or an unknown key, undefined after the last. */
  nextKey(key?: Uint8Array): Uint8Array | undefined {
    const all = [...this.elems.values()];
    if (key === undefined) return all[0]?.key.slice();
    checkSize("key", this.name, key, this.keySize);
    const id = keyId(key);
    const i = all.findIndex((e) => keyId(e.key) === id);
    if (i < 0) return all[0]?.key.slice();
    return all[i + 1]?.key.slice();
  }

  clear(): void {
    for (const e of this.elems.values()) this.pool.give(e.slot, this.host.cpu);
    this.elems.clear();
  }

  protected zeroCopy(slot: number, copy: number): void {
    this.slab.bytes(slot, copy).fill(0);
  }
  protected setCopy(slot: number, copy: number, value: Uint8Array): void {
    const dst = this.slab.bytes(slot, copy);
    dst.fill(0);
    dst.set(value);
  }
}

/** BPF_MAP_TYPE_HASH and BPF_MAP_TYPE_LRU_HASH. */
export class HashMap extends HashBase {
  readonly type: MapType;
  constructor(host: MapHost, opts: HashMapOptions) {
    super(host, opts.lru ? "lru_hash" : "hash", opts, 1, false);
    this.type = opts.lru ? "lru_hash" : "hash";
  }

  override lookupElem(key: Uint8Array): bigint {
    const e = this.find(key, true);
    return e ? this.slab.address(e.slot) : 0n;
  }

  override updateElem(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    return this.upsert(key, flags, (slot) => this.setCopy(slot, 0, value));
  }

  /** JS: a copy of the value, or undefined. Does not count as a use for LRU. */
  lookup(key: Uint8Array): Uint8Array | undefined {
    checkSize("key", this.name, key, this.keySize);
    const e = this.find(key, false);
    return e ? this.slab.bytes(e.slot, 0, this.valueSize).slice() : undefined;
  }

  /** JS: the live value bytes (what programs see), or undefined. */
  view(key: Uint8Array): Uint8Array | undefined {
    checkSize("key", this.name, key, this.keySize);
    const e = this.find(key, false);
    return e ? this.slab.bytes(e.slot, 0, this.valueSize) : undefined;
  }

  /** JS: the value's VM address, or undefined. */
  addressOf(key: Uint8Array): bigint | undefined {
    checkSize("key", this.name, key, this.keySize);
    const e = this.find(key, false);
    return e ? this.slab.address(e.slot) : undefined;
  }

  /** JS: BPF_MAP_UPDATE_ELEM; 0, -EEXIST (NOEXIST on a present key), -ENOENT (EXIST on a missing one), -E2BIG (full), -EINVAL (flags). */
  update(key: Uint8Array, value: Uint8Array, flags: number | bigint = 0): number {
    checkSize("key", this.name, key, this.keySize);
    checkSize("value", this.name, value, this.valueSize);
    return this.upsert(key, BigInt(flags), (slot) => this.setCopy(slot, 0, value));
  }

  entries(): Array<[Uint8Array, Uint8Array]> {
    return [...this.elems.values()].map((e) => [e.key.slice(), this.slab.bytes(e.slot, 0, this.valueSize).slice()]);
  }
}

/** BPF_MAP_TYPE_PERCPU_HASH and BPF_MAP_TYPE_LRU_PERCPU_HASH: one value per simulated CPU. */
export class PerCpuHashMap extends HashBase {
  readonly type: MapType;
  constructor(host: MapHost, opts: HashMapOptions) {
    super(host, opts.lru ? "lru_percpu_hash" : "percpu_hash", opts, host.numCpus, true);
    this.type = opts.lru ? "lru_percpu_hash" : "percpu_hash";
  }
  get numCpus(): number {
    return this.copies;
  }
  private cpuNow(): number {
    const cpu = this.host.cpu;
    if (!(cpu >= 0 && cpu < this.copies)) throw new RangeError(`${this.name}: current CPU ${cpu} is outside 0..${this.copies - 1}`);
    return cpu;
  }

  /** From a program: the current CPU's copy. */
  override lookupElem(key: Uint8Array): bigint {
    const e = this.find(key, true);
    return e ? this.slab.address(e.slot, this.cpuNow()) : 0n;
  }

  /** From a program: writes the current CPU's copy; a new element's other copies are zero. */
  override updateElem(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    const cpu = this.cpuNow();
    return this.upsert(key, flags, (slot, isNew) => {
      if (isNew) for (let c = 0; c < this.copies; c++) this.zeroCopy(slot, c);
      this.setCopy(slot, cpu, value);
    });
  }

  /** JS: every CPU's value (copies), or undefined. */
  lookup(key: Uint8Array): Uint8Array[] | undefined {
    checkSize("key", this.name, key, this.keySize);
    const e = this.find(key, false);
    if (!e) return undefined;
    return Array.from({ length: this.copies }, (_, c) => this.slab.bytes(e.slot, c, this.valueSize).slice());
  }

  /** JS: one CPU's live value bytes, or undefined. */
  view(key: Uint8Array, cpu: number): Uint8Array | undefined {
    checkSize("key", this.name, key, this.keySize);
    this.checkCpu(cpu);
    const e = this.find(key, false);
    return e ? this.slab.bytes(e.slot, cpu, this.valueSize) : undefined;
  }

  /** JS: sets every CPU's value: one value for all, or an array of one per CPU. */
  update(key: Uint8Array, values: Uint8Array | readonly Uint8Array[], flags: number | bigint = 0): number {
    checkSize("key", this.name, key, this.keySize);
    const list = values instanceof Uint8Array ? Array.from({ length: this.copies }, () => values) : values;
    if (list.length !== this.copies) throw new RangeError(`${this.name}: ${list.length} values given for ${this.copies} CPUs`);
    for (const v of list) checkSize("value", this.name, v, this.valueSize);
    return this.upsert(key, BigInt(flags), (slot) => list.forEach((v, c) => this.setCopy(slot, c, v)));
  }

  entries(): Array<[Uint8Array, Uint8Array[]]> {
    return [...this.elems.values()].map((e) => [
      e.key.slice(),
      Array.from({ length: this.copies }, (_, c) => this.slab.bytes(e.slot, c, this.valueSize).slice()),
    ]);
  }

  private checkCpu(cpu: number): void {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.copies) throw new RangeError(`${this.name}: CPU ${cpu} is outside 0..${this.copies - 1}`);
  }
}
