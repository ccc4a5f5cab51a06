// Array maps with the kernel's semantics (kernel/bpf/arraymap.c): plain and per-CPU.
// Takes a MapHost and sizes; gives ArrayMap (also the home of global data: .rodata, .data, .bss
// through valueAddress) and PerCpuArrayMap. Keys are u32 indexes; values start zeroed and can't be deleted.

import { BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, BpfMap, Errno, checkSize, checkSpec, readU32, roundUp, u32Key } from "./base.js";
import type { MapHost, MapOptions, MapType } from "./base.js";
import type { Region } from "../memory.js";

export interface ArrayMapOptions extends MapOptions {
  valueSize: number;
  maxEntries: number;
  /** BPF_F_RDONLY_PROG: programs may read but not write the values (a write faults). For .rodata. */
  readonlyProg?: boolean;
  /** Initial bytes of the whole value area (global data images). */
  initial?: Uint8Array;
}

type Index = number | Uint8Array;

function checkArraySpec(type: MapType, opts: ArrayMapOptions): string {
  const name = opts.name ?? type;
  checkSpec(type, name, Number.isInteger(opts.valueSize) && opts.valueSize > 0, `value size must be > 0 (got ${opts.valueSize})`);
  checkSpec(type, name, Number.isInteger(opts.maxEntries) && opts.maxEntries > 0, `max entries must be > 0 (got ${opts.maxEntries})`);
  return name;
}

abstract class ArrayBase extends BpfMap {
  readonly stride: number;
  protected readonly values: Region;
  protected frozenByUser = false;

  constructor(host: MapHost, type: MapType, opts: ArrayMapOptions, protected readonly copies: number) {
    super(host, checkArraySpec(type, opts), 4, opts.valueSize, opts.maxEntries);
    // The kernel rounds each element up to 8 bytes.
    this.stride = roundUp(opts.valueSize, 8);
    const bytes = new Uint8Array(this.stride * opts.maxEntries * copies);
    this.values = host.memory.map("map_value", bytes, { writable: !opts.readonlyProg, name: `${this.name} values` });
  }

  /** BPF_MAP_FREEZE: later JS updates fail with -EPERM (programs are unaffected unless readonlyProg). */
  freeze(): void {
    this.frozenByUser = true;
    // Neither programs nor user space can write it now.
    if (!this.values.writable) this.values.frozen = true;
  }
  get frozen(): boolean {
    return this.frozenByUser;
  }

  protected index(key: Index): number {
    if (typeof key === "number") {
      if (!Number.isInteger(key) || key < 0 || key > 0xffffffff) throw new RangeError(`${this.name}: index ${key} is not a u32`);
      return key;
    }
    checkSize("key", this.name, key, 4);
    return readU32(key);
  }
  protected offset(index: number, cpu: number): number {
    return (index * this.copies + cpu) * this.stride;
  }
  protected bytesAt(index: number, cpu: number): Uint8Array {
    const o = this.offset(index, cpu);
    return this.values.bytes.subarray(o, o + this.valueSize);
  }

  override *forEachKeys(): Iterable<Uint8Array> {
    for (let i = 0; i < this.maxEntries; i++) yield u32Key(i);
  }
  override forEachValue(key: Uint8Array): bigint | undefined {
    const address = this.lookupElem(key);
    return address === 0n ? undefined : address;
  }

  override deleteElem(_key: Uint8Array): number {
    return -Errno.EINVAL;
  }
  /** JS: arrays can't delete: always -EINVAL, as in the kernel. */
  delete(_key: Index): number {
    return -Errno.EINVAL;
  }

  /** BPF_MAP_GET_NEXT_KEY on an index: 0 for none or out of range, undefined after the last. */
  nextKey(key?: Index): number | undefined {
    const i = key === undefined ? 0xffffffff : this.index(key);
    if (i >= this.maxEntries) return 0;
    if (i === this.maxEntries - 1) return undefined;
    return i + 1;
  }

  /** Shared flag/bounds checks of array updates (array_map_update_elem). */
  protected checkUpdate(index: number, flags: bigint, fromProgram: boolean): number {
    if (fromProgram) {
      if ((flags & ~BigInt(BPF_F_LOCK)) > BigInt(BPF_EXIST) || flags < 0n) return -Errno.EINVAL;
    } else {
      if (this.frozenByUser) return -Errno.EPERM;
      if (flags > BigInt(BPF_EXIST) || flags < 0n) return -Errno.EINVAL;
    }
    if (index >= this.maxEntries) return -Errno.E2BIG;
    if (flags & BigInt(BPF_NOEXIST)) return -Errno.EEXIST;
    if (flags & BigInt(BPF_F_LOCK)) return -Errno.EINVAL; // no bpf_spin_lock in values here
    if (fromProgram && !this.values.writable) return -Errno.EPERM;
    return 0;
  }
}

/** BPF_MAP_TYPE_ARRAY. */
export class ArrayMap extends ArrayBase {
  readonly type: MapType = "array";
  readonly readonlyProg: boolean;
  constructor(host: MapHost, opts: ArrayMapOptions) {
    super(host, "array", opts, 1);
    this.readonlyProg = opts.readonlyProg ?? false;
    if (opts.initial) {
      if (opts.initial.length > this.values.bytes.length)
        throw new RangeError(`${this.name}: initial image of ${opts.initial.length} bytes exceeds ${this.values.bytes.length}`);
      this.values.bytes.set(opts.initial);
    }
  }

  /** Global data: the address of byte `off` of the values (value 0 first, then on at the 8-byte stride). */
  override valueAddress(off: number): bigint | undefined {
    if (!Number.isInteger(off) || off < 0 || off >= this.values.bytes.length) return undefined;
    return this.values.address(off);
  }

  override lookupElem(key: Uint8Array): bigint {
    const i = readU32(key);
    return i < this.maxEntries ? this.values.address(this.offset(i, 0)) : 0n;
  }

  override updateElem(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    const i = readU32(key);
    const err = this.checkUpdate(i, flags, true);
    if (err) return err;
    this.bytesAt(i, 0).set(value);
    return 0;
  }

  /** JS: a copy of value `index`, or undefined past the end. */
  lookup(key: Index): Uint8Array | undefined {
    const i = this.index(key);
    return i < this.maxEntries ? this.bytesAt(i, 0).slice() : undefined;
  }

  /** JS: the live bytes of value `index` (what programs read and write). */
  view(key: Index): Uint8Array {
    const i = this.index(key);
    if (i >= this.maxEntries) throw new RangeError(`${this.name}: index ${i} is outside 0..${this.maxEntries - 1}`);
    return this.bytesAt(i, 0);
  }

  /** JS: the whole value area (global data sections), live. */
  get data(): Uint8Array {
    return this.values.bytes;
  }

  /** JS: BPF_MAP_UPDATE_ELEM; 0, -E2BIG (index), -EEXIST (NOEXIST), -EINVAL (flags), -EPERM (frozen). */
  update(key: Index, value: Uint8Array, flags: number | bigint = 0): number {
    const i = this.index(key);
    checkSize("value", this.name, value, this.valueSize);
    const err = this.checkUpdate(i, BigInt(flags), false);
    if (err) return err;
    this.bytesAt(i, 0).set(value);
    return 0;
  }

  entries(): Array<[number, Uint8Array]> {
    return Array.from({ length: this.maxEntries }, (_, i) => [i, this.bytesAt(i, 0).slice()]);
  }
}

/** BPF_MAP_TYPE_PERCPU_ARRAY: a value per simulated CPU; programs see the current CPU's. */
export class PerCpuArrayMap extends ArrayBase {
  readonly type: MapType = "percpu_array";
  constructor(host: MapHost, opts: ArrayMapOptions) {
    super(host, "percpu_array", { ...opts, readonlyProg: false, initial: undefined }, host.numCpus);
  }
  get numCpus(): number {
    return this.copies;
  }
  private cpuNow(): number {
    const cpu = this.host.cpu;
    if (!(cpu >= 0 && cpu < this.copies)) throw new RangeError(`${this.name}: current CPU ${cpu} is outside 0..${this.copies - 1}`);
    return cpu;
  }

  override lookupElem(key: Uint8Array): bigint {
    const i = readU32(key);
    return i < this.maxEntries ? this.values.address(this.offset(i, this.cpuNow())) : 0n;
  }

  override updateElem(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    const i = readU32(key);
    const err = this.checkUpdate(i, flags, true);
    if (err) return err;
    this.bytesAt(i, this.cpuNow()).set(value);
    return 0;
  }

  /** JS: every CPU's copy of value `index`, or undefined past the end. */
  lookup(key: Index): Uint8Array[] | undefined {
    const i = this.index(key);
    if (i >= this.maxEntries) return undefined;
    return Array.from({ length: this.copies }, (_, c) => this.bytesAt(i, c).slice());
  }

  /** JS: one CPU's live bytes of value `index`. */
  view(key: Index, cpu: number): Uint8Array {
    const i = this.index(key);
    if (i >= this.maxEntries) throw new RangeError(`${this.name}: index ${i} is outside 0..${this.maxEntries - 1}`);
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.copies) throw new RangeError(`${this.name}: CPU ${cpu} is outside 0..${this.copies - 1}`);
    return this.bytesAt(i, cpu);
  }

  /** JS: sets every CPU's copy: one value for all, or one per CPU. */
  update(key: Index, values: Uint8Array | readonly Uint8Array[], flags: number | bigint = 0): number {
    const i = this.index(key);
    const list = values instanceof Uint8Array ? Array.from({ length: this.copies }, () => values) : values;
    if (list.length !== this.copies) throw new RangeError(`${this.name}: ${list.length} values given for ${this.copies} CPUs`);
    for (const v of list) checkSize("value", this.name, v, this.valueSize);
    const err = this.checkUpdate(i, BigInt(flags), false);
    if (err) return err;
    list.forEach((v, c) => this.bytesAt(i, c).set(v));
    return 0;
  }

  /** JS: the sum of a little-endian unsigned counter across CPUs (a common read of per-CPU stats). */
  sumU64(key: Index, off = 0): bigint {
    const all = this.lookup(key);
    if (!all) throw new RangeError(`${this.name}: index ${String(key)} is outside 0..${this.maxEntries - 1}`);
    return all.reduce((acc, v) => acc + new DataView(v.buffer, v.byteOffset, v.byteLength).getBigUint64(off, true), 0n);
  }
}
