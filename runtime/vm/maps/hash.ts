// Hash maps with the kernel's update semantics (kernel/bpf/hashtab.c): plain, per-CPU and LRU.
// Takes a MapHost (memory + CPUs) and sizes; gives HashMap / PerCpuHashMap with program-side
// lookups returning stable value addresses and a JS API with Uint8Array keys and values.
//
// Differences from the kernel, on purpose: an update of an existing key copies the value in place
// (the kernel swaps in a new element), so value addresses stay valid while the key exists; the LRU
// list is exact (least recently looked up or updated goes first) where the kernel approximates.

import { BPF_EXIST, BPF_NOEXIST, BpfMap, Errno, ValueSlab, checkSize, checkSpec, keyId, roundUp } from "./base.js";
import type { MapHost, MapOptions, MapType } from "./base.js";

export interface HashMapOptions extends MapOptions {
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** Evict the least recently used element when a new key arrives in a full map. */
  lru?: boolean;
}

interface Elem {
  key: Uint8Array;
  slot: number;
}

function checkHashSpec(type: MapType, opts: HashMapOptions): string {
  const name = opts.name ?? type;
  checkSpec(type, name, Number.isInteger(opts.keySize) && opts.keySize > 0, `key size must be > 0 (got ${opts.keySize})`);
  checkSpec(type, name, Number.isInteger(opts.valueSize) && opts.valueSize > 0, `value size must be > 0 (got ${opts.valueSize})`);
  checkSpec(type, name, Number.isInteger(opts.maxEntries) && opts.maxEntries > 0, `max entries must be > 0 (got ${opts.maxEntries})`);
  return name;
}

abstract class HashBase extends BpfMap {
  protected readonly elems = new Map<string, Elem>();
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  protected readonly slab: ValueSlab;
  readonly lru: boolean;
  /** Elements evicted by LRU inserts, for tests. */
  evictions = 0;

  constructor(host: MapHost, type: MapType, opts: HashMapOptions, protected readonly copies: number) {
    super(host, checkHashSpec(type, opts), opts.keySize, opts.valueSize, opts.maxEntries);
    this.lru = opts.lru ?? false;
    this.slab = new ValueSlab(host.memory, this.name, opts.maxEntries, roundUp(opts.valueSize, 8), copies);
  }

  get size(): number {
    return this.elems.size;
  }

  protected find(key: Uint8Array, touch: boolean): Elem | undefined {
    const id = keyId(key);
    const e = this.elems.get(id);
    if (e && touch && this.lru) {
      // Map order is recency order: the first element is the least recently used.
      this.elems.delete(id);
      this.elems.set(id, e);
    }
    return e;
  }

  /**
   * The update both sides share. `write(slot, isNew)` stores the value(s).
   * Flags: anything above BPF_EXIST (BPF_F_LOCK included: no spin locks here) is -EINVAL.
   */
  protected upsert(key: Uint8Array, flags: bigint, write: (slot: number, isNew: boolean) => void): number {
    if (flags > BigInt(BPF_EXIST) || flags < 0n) return -Errno.EINVAL;
    const id = keyId(key);
    const old = this.elems.get(id);
    if (old && flags === BigInt(BPF_NOEXIST)) return -Errno.EEXIST;
    if (!old && flags === BigInt(BPF_EXIST)) return -Errno.ENOENT;
    if (old) {
      write(old.slot, false);
      this.find(key, true);
      return 0;
    }
    if (this.elems.size >= this.maxEntries) {
      if (!this.lru) return -Errno.E2BIG;
      const [victimId, victim] = this.elems.entries().next().value as [string, Elem];
      this.elems.delete(victimId);
      this.freeSlots.push(victim.slot);
      this.evictions++;
    }
    const slot = this.freeSlots.pop() ?? this.nextSlot++;
    write(slot, true);
    this.elems.set(id, { key: key.slice(), slot });
    return 0;
  }

  protected remove(key: Uint8Array): number {
    const id = keyId(key);
    const e = this.elems.get(id);
    if (!e) return -Errno.ENOENT;
    this.elems.delete(id);
    this.freeSlots.push(e.slot);
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

  /** Keys in iteration order (for LRU maps: least recently used first). */
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
    for (const e of this.elems.values()) this.freeSlots.push(e.slot);
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
    super(host, opts.lru ? "lru_hash" : "hash", opts, 1);
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
    super(host, opts.lru ? "lru_percpu_hash" : "percpu_hash", opts, host.numCpus);
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
