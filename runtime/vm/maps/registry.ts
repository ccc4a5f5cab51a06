// The set of maps one VM instance uses, and the way back from an address to its map.
// Takes a MapHost (SimKernel is one: memory + CPUs); gives factory methods per map type, fds,
// lookup by map address (what helpers receive in r1) and by ring buffer sample address.

import { VmFault, formatAddress } from "../memory.js";
import { ArrayMap, PerCpuArrayMap } from "./array.js";
import type { ArrayMapOptions } from "./array.js";
import { BpfMap, MAP_TYPE_ID } from "./base.js";
import type { MapHost } from "./base.js";
import { HashMap, PerCpuHashMap } from "./hash.js";
import type { HashMapOptions } from "./hash.js";
import { ArrayOfMaps, HashOfMaps } from "./mapinmap.js";
import type { MapOfMapsOptions } from "./mapinmap.js";
import { PerfEventArray } from "./perf.js";
import type { PerfEventArrayOptions } from "./perf.js";
import { ProgArrayMap } from "./progarray.js";
import type { ProgArrayOptions } from "./progarray.js";
import { RingBufMap } from "./ringbuf.js";
import type { RingBufOptions } from "./ringbuf.js";
import { StackTraceMap } from "./stack.js";
import type { StackTraceMapOptions } from "./stack.js";

/** First fd handed out, as after stdin/stdout/stderr. */
const FIRST_FD = 3;

export class MapRegistry {
  private readonly byHi = new Map<number, BpfMap>();
  private readonly byRingHi = new Map<number, RingBufMap>();
  private readonly list: BpfMap[] = [];
  private readonly names = new Map<string, BpfMap>();

  constructor(readonly host: MapHost) {}

  /** Adds a map created elsewhere (against the same memory); assigns its fd. */
  add<M extends BpfMap>(map: M): M {
    if (map.host.memory !== this.host.memory) throw new Error(`map "${map.name}" lives in a different VM memory than this registry`);
    if (this.byHi.has(map.region.hi)) return map;
    map.fd = FIRST_FD + this.list.length;
    this.byHi.set(map.region.hi, map);
    if (map instanceof RingBufMap) this.byRingHi.set(map.data.hi, map);
    this.list.push(map);
    if (!this.names.has(map.name)) this.names.set(map.name, map);
    return map;
  }

  hash(opts: HashMapOptions): HashMap {
    return this.add(new HashMap(this.host, opts));
  }
  lruHash(opts: Omit<HashMapOptions, "lru">): HashMap {
    return this.add(new HashMap(this.host, { ...opts, lru: true }));
  }
  percpuHash(opts: HashMapOptions): PerCpuHashMap {
    return this.add(new PerCpuHashMap(this.host, opts));
  }
  lruPercpuHash(opts: Omit<HashMapOptions, "lru">): PerCpuHashMap {
    return this.add(new PerCpuHashMap(this.host, { ...opts, lru: true }));
  }
  array(opts: ArrayMapOptions): ArrayMap {
    return this.add(new ArrayMap(this.host, opts));
  }
  percpuArray(opts: ArrayMapOptions): PerCpuArrayMap {
    return this.add(new PerCpuArrayMap(this.host, opts));
  }
  ringbuf(opts: RingBufOptions): RingBufMap {
    return this.add(new RingBufMap(this.host, opts));
  }
  perfEventArray(opts: PerfEventArrayOptions = {}): PerfEventArray {
    return this.add(new PerfEventArray(this.host, opts));
  }
  progArray(opts: ProgArrayOptions): ProgArrayMap {
    return this.add(new ProgArrayMap(this.host, opts));
  }
  stackTrace(opts: StackTraceMapOptions): StackTraceMap {
    return this.add(new StackTraceMap(this.host, opts));
  }
  /** A map of maps; its inner maps are this registry's (by default checked against `inner` by their MAP_TYPE_ID). */
  arrayOfMaps(opts: Omit<MapOfMapsOptions, "typeIdOf"> & Partial<Pick<MapOfMapsOptions, "typeIdOf">>): ArrayOfMaps {
    return this.add(new ArrayOfMaps(this.host, { typeIdOf: (m) => MAP_TYPE_ID[m.type], ...opts }));
  }
  hashOfMaps(opts: Omit<MapOfMapsOptions, "typeIdOf"> & Partial<Pick<MapOfMapsOptions, "typeIdOf">>): HashOfMaps {
    return this.add(new HashOfMaps(this.host, { typeIdOf: (m) => MAP_TYPE_ID[m.type], ...opts }));
  }

  /** Maps in creation order (= LDDW MAP_IDX indexes). */
  get all(): readonly BpfMap[] {
    return this.list;
  }
  byFd(fd: number): BpfMap | undefined {
    return this.list[fd - FIRST_FD];
  }
  byName(name: string): BpfMap | undefined {
    return this.names.get(name);
  }

  /** The map whose address is `address`, if any. */
  find(address: bigint): BpfMap | undefined {
    const m = this.byHi.get(Number(BigInt.asIntN(32, address >> 32n)));
    return m && m.address === BigInt.asUintN(64, address) ? m : undefined;
  }

  /** The map at `address`, or a VmFault naming what the helper expected. */
  resolve(address: bigint, what: string): BpfMap {
    const m = this.find(address);
    if (!m) throw new VmFault(`${what}: ${formatAddress(address)} is not a map`, address);
    return m;
  }

  /** The ring buffer a reserved sample address belongs to, if any. */
  ringOf(sample: bigint): RingBufMap | undefined {
    return this.byRingHi.get(Number(BigInt.asIntN(32, sample >> 32n)));
  }

  /**
   * VmEnv.tailCallTarget: the program at `index` of the prog array at `progArray`; null for an
   * empty slot in bounds (the kernel counts that call), undefined past the end (it does not).
   */
  tailCallTarget(progArray: bigint, index: number): unknown {
    const m = this.find(progArray);
    if (!(m instanceof ProgArrayMap)) throw new VmFault(`bpf_tail_call: ${formatAddress(progArray)} is not a prog array map`, progArray);
    if (!Number.isInteger(index) || index < 0 || index >= m.maxEntries) return undefined;
    return m.get(index) ?? null;
  }
}
