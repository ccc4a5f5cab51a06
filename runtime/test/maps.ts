// The object's maps in the VM, and their JS views.
// Takes the loader's MapSpecs (with the object's BTF for key and value types); gives VM maps with the
// kernel's semantics (createMap) and MapView: snapshots as JS Maps and arrays, decoded by BTF when the
// map declares its types (`__type(key, ...)`), plus lookups and updates from the test's side.

import {
  ArrayMap,
  ArrayOfMaps,
  HashOfMaps,
  HashMap,
  PerCpuArrayMap,
  PerCpuHashMap,
  PerfEventArray,
  RingBufMap,
  StackTraceMap,
  BPF_F_STACK_BUILD_ID,
  hashMaxEntries,
  type BpfMap,
  type MapRegistry,
} from "../vm/index.js";
import type { MapBtfTypes, MapSpec } from "../loader/index.js";
import { mergeAggregate } from "../loader/aggregate.js";
import { PERF_BUFFER_PAGES } from "../loader/perfbuf.js";
import { decodeFrames, holdsBuildIds } from "../loader/stacks.js";
import { SimulationError, usage } from "./errors.js";
import { decodeScalar, decodeValue, encodeScalar, encodeValue, type CValue, type Decoded } from "./layout.js";
import { BtfKind } from "../../compiler/btf/index.js";

// BPF_MAP_TYPE_*, BPF_F_NO_PREALLOC, BPF_F_NO_COMMON_LRU and BPF_F_RDONLY_PROG (include/uapi/linux/bpf.h).
const T = { HASH: 1, ARRAY: 2, PROG_ARRAY: 3, PERF_EVENT_ARRAY: 4, PERCPU_HASH: 5, PERCPU_ARRAY: 6, STACK_TRACE: 7, LRU_HASH: 9, LRU_PERCPU_HASH: 10, ARRAY_OF_MAPS: 12, HASH_OF_MAPS: 13, RINGBUF: 27 } as const;
const NO_PREALLOC = 1 << 0;
const NO_COMMON_LRU = 1 << 1;
const RDONLY_PROG = 1 << 7;
const INNER_MAP = 1 << 12;

// Map flags the kernel's map_alloc_check functions take (include/uapi/linux/bpf.h).
const NUMA_NODE = 1 << 2;
const ACCESS = (1 << 3) | (1 << 4) | (1 << 7) | (1 << 8); // BPF_F_RDONLY, WRONLY, RDONLY_PROG, WRONLY_PROG
const ZERO_SEED = 1 << 6;
const MMAPABLE = 1 << 10;
const PRESERVE_ELEMS = 1 << 11;
const STACK_BUILD_ID = 1 << 5;
const ARRAY_FLAGS = NUMA_NODE | MMAPABLE | ACCESS | PRESERVE_ELEMS | INNER_MAP;
const HASH_FLAGS = NO_PREALLOC | NO_COMMON_LRU | NUMA_NODE | ACCESS | ZERO_SEED;
/** The per-CPU allocator's largest unit: a per-CPU value (rounded up to 8 bytes) may be no larger. */
const PCPU_MIN_UNIT_SIZE = 32768;
const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(T).map(([k, v]) => [v, k.toLowerCase()]));

/**
 * Why the kernel would refuse to create the map (its map_alloc_check for the type), as `ERRNO: reason`, or undefined.
 * The VM's maps check sizes of their own; these are the kernel's rules they do not know.
 */
function kernelRefusal(spec: MapSpec): string | undefined {
  const kind = TYPE_NAMES[spec.type] ?? `type ${spec.type}`;
  const flags = (allowed: number) => (spec.flags & ~allowed ? `EINVAL: flags 0x${(spec.flags & ~allowed).toString(16)} are not for ${kind === "array" ? "an" : "a"} ${kind} map` : undefined);
  const perCpuValue = () => (Math.ceil(spec.valueSize / 8) * 8 > PCPU_MIN_UNIT_SIZE ? `E2BIG: a per-CPU map's value can be at most ${PCPU_MIN_UNIT_SIZE} B (one copy for each CPU), not ${spec.valueSize}` : undefined);
  switch (spec.type) {
    case T.ARRAY:
    case T.PERCPU_ARRAY:
    case T.PROG_ARRAY:
    case T.PERF_EVENT_ARRAY:
    case T.ARRAY_OF_MAPS: {
      const fds = spec.type !== T.ARRAY && spec.type !== T.PERCPU_ARRAY;
      if (fds && spec.valueSize !== 4 && spec.type !== T.ARRAY_OF_MAPS) return `EINVAL: a ${kind} map's value is a 4-byte fd, not ${spec.valueSize} bytes`;
      if (spec.keySize !== 4) return `EINVAL: an array's key is a 4-byte index, not ${spec.keySize} bytes`;
      if (spec.flags & MMAPABLE && spec.type !== T.ARRAY) return `EINVAL: BPF_F_MMAPABLE is for array maps`;
      if (spec.flags & PRESERVE_ELEMS && spec.type !== T.PERF_EVENT_ARRAY) return `EINVAL: BPF_F_PRESERVE_ELEMS is for perf_event_array maps`;
      return flags(ARRAY_FLAGS) ?? (spec.type === T.PERCPU_ARRAY ? perCpuValue() : undefined);
    }
    case T.HASH:
    case T.LRU_HASH:
    case T.PERCPU_HASH:
    case T.LRU_PERCPU_HASH:
    case T.HASH_OF_MAPS: {
      const lru = spec.type === T.LRU_HASH || spec.type === T.LRU_PERCPU_HASH;
      const refused = flags(HASH_FLAGS);
      if (refused) return refused;
      if (lru && spec.flags & NO_PREALLOC) return "ENOTSUPP: an LRU map is always preallocated (BPF_F_NO_PREALLOC is for hash maps)";
      if (!lru && spec.flags & NO_COMMON_LRU) return "EINVAL: BPF_F_NO_COMMON_LRU is for LRU maps";
      return spec.type === T.PERCPU_HASH || spec.type === T.LRU_PERCPU_HASH ? perCpuValue() : undefined;
    }
    case T.STACK_TRACE:
      if (spec.keySize !== 4) return `EINVAL: a stack trace map's key is a 4-byte id, not ${spec.keySize} bytes`;
      return flags(NUMA_NODE | (1 << 3) | (1 << 4) | STACK_BUILD_ID);
    case T.RINGBUF:
      return flags(NUMA_NODE);
  }
  return undefined;
}

/** A ring buffer's data size as the loader creates it (libbpf's adjust_ringbuf_sz): a power of two of whole pages. */
function ringSize(bytes: number): number {
  if (bytes === 0) return 0;
  let size = 4096;
  while (size < bytes && size < 2 ** 31) size *= 2;
  return size;
}

/** Creates the VM map a MapSpec describes, with its initial data (global sections). */
export function createMap(registry: MapRegistry, spec: MapSpec): BpfMap {
  const name = spec.name;
  const refusal = kernelRefusal(spec);
  if (refusal) {
    throw new SimulationError(`map ${name}: the kernel refuses to create it (${TYPE_NAMES[spec.type] ?? `type ${spec.type}`}, key ${spec.keySize} B, value ${spec.valueSize} B, ${spec.maxEntries} entries, flags 0x${spec.flags.toString(16)}): ${refusal}`, "object");
  }
  const noCommonLru = (s: MapSpec | NonNullable<MapSpec["inner"]>) => (s.type === T.LRU_HASH || s.type === T.LRU_PERCPU_HASH) && (s.flags & NO_COMMON_LRU) !== 0;
  const sized = { name, keySize: spec.keySize, valueSize: spec.valueSize, maxEntries: spec.maxEntries };
  try {
    switch (spec.type) {
      case T.HASH:
        return registry.hash({ ...sized, noPrealloc: (spec.flags & NO_PREALLOC) !== 0 });
      case T.LRU_HASH:
        return registry.lruHash({ ...sized, noCommonLru: noCommonLru(spec) });
      case T.PERCPU_HASH:
        return registry.percpuHash({ ...sized, noPrealloc: (spec.flags & NO_PREALLOC) !== 0 });
      case T.LRU_PERCPU_HASH:
        return registry.lruPercpuHash({ ...sized, noCommonLru: noCommonLru(spec) });
      case T.ARRAY: {
        const m = registry.array({ name, valueSize: spec.valueSize, maxEntries: spec.maxEntries, readonlyProg: (spec.flags & RDONLY_PROG) !== 0, initial: spec.initial });
        return m;
      }
      case T.PERCPU_ARRAY:
        return registry.percpuArray({ name, valueSize: spec.valueSize, maxEntries: spec.maxEntries });
      case T.RINGBUF:
        return registry.ringbuf({ name, maxEntries: ringSize(spec.maxEntries) });
      // libbpf sizes a perf event array without max_entries to the number of CPUs. Each CPU's ring is as large as the one
      // `tsbpf run` reads it with (8 pages of 4 KiB), so a test that does not read its records fills it as a run would.
      case T.PERF_EVENT_ARRAY:
        return registry.perfEventArray({ name, maxEntries: spec.maxEntries || undefined, bufferBytes: PERF_BUFFER_PAGES * 4096 });
      case T.STACK_TRACE:
        return registry.stackTrace({ name, maxEntries: spec.maxEntries, valueSize: spec.valueSize || undefined, buildId: (spec.flags & BPF_F_STACK_BUILD_ID) !== 0 });
      case T.PROG_ARRAY:
        return registry.progArray({ name, maxEntries: spec.maxEntries });
      // Inner maps are the object's other maps (or the test's), checked against the inner definition as the kernel checks them.
      case T.ARRAY_OF_MAPS:
      case T.HASH_OF_MAPS: {
        const s = spec.inner;
        if (!s) throw new SimulationError(`map ${name}: a map of maps needs its inner map's definition (__array(values, struct {...}))`, "object");
        // The kernel compares the inner maps' max entries as created (BPF_F_NO_COMMON_LRU rounds them).
        const maxEntries = hashMaxEntries(s.maxEntries, registry.host.numCpus, noCommonLru(s));
        const inner = { type: s.type, keySize: s.keySize, valueSize: s.valueSize, maxEntries, anySize: (s.flags & INNER_MAP) !== 0 };
        const opts = { name, keySize: spec.keySize, maxEntries: spec.maxEntries, inner };
        return spec.type === T.ARRAY_OF_MAPS ? registry.arrayOfMaps(opts) : registry.hashOfMaps(opts);
      }
      default:
        throw new SimulationError(`map ${name}: map type ${spec.type} is not simulated yet (supported: hash, lru_hash, percpu_hash, lru_percpu_hash, array, percpu_array, ringbuf, perf_event_array, stack_trace, prog_array, array_of_maps, hash_of_maps)`, "object");
    }
  } catch (e) {
    if (e instanceof SimulationError) throw e;
    throw new SimulationError(`map ${name}: ${(e as Error).message}`, "object", undefined, undefined, { cause: e });
  }
}

/** An array map's u32 index from its encoded key. */
const readIndex = (key: Uint8Array): number => new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);

/** Key and value type ids of a map and its aggregate tag, as the loader reads them (runtime/loader/maps.ts mapBtfTypes). */
export type MapTypes = Pick<MapBtfTypes, "btf" | "key" | "value" | "aggregate">;

const UPDATE_ERRORS: Record<number, string> = {
  1: "EPERM (the map is frozen, as the loader freezes .rodata)",
  2: "ENOENT (BPF_EXIST and no such key)",
  7: "E2BIG (the map is full, or the index is past its end)",
  17: "EEXIST (BPF_NOEXIST and the key exists)",
  22: "EINVAL (bad flags)",
};

/** What a map of maps' slot takes from a test: one of the object's maps, by name or by its MapView. */
export type InnerMap = string | MapView;

/**
 * A map from the test's side: decoded snapshots, lookups and updates. A map of maps' values are its
 * inner maps: get() and entries() give their names, set() takes a name or a MapView (`mapOf` finds a
 * name among the object's maps).
 */
export class MapView {
  constructor(
    readonly map: BpfMap,
    private readonly types: MapTypes | undefined,
    private readonly mapOf: (name: string) => BpfMap | undefined = () => undefined,
  ) {}

  /** The inner map a map of maps' set() names. */
  private innerMap(v: unknown): BpfMap {
    if (v instanceof MapView) return v.map;
    if (typeof v === "string") {
      const m = this.mapOf(v);
      if (!m) throw usage(`map ${this.name} is a map of maps; there is no map ${v} to put in it`);
      return m;
    }
    throw usage(`map ${this.name} is a map of maps; its values are maps, given by name or as sim.map(name)`);
  }

  get name(): string {
    return this.map.name;
  }

  /**
   * The instruction pointers, innermost first, of the stack under `id` in a stack trace map, or in the id -> frames
   * hash map of kstack()'s and ustack()'s stack map (keyed by the u32 id, its value the frames: 8-byte ips, or 32-byte
   * build id frames holding ips in the VM): one lookup. Undefined when no stack has that id.
   */
  stackFrames(id: number): bigint[] | undefined {
    const m = this.map;
    if (m instanceof StackTraceMap) return m.lookup(id);
    if (!(m instanceof HashMap) || m.keySize !== 4) return undefined;
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, id, true);
    const value = m.lookup(key);
    if (!value) return undefined;
    const buildIds = this.types?.value !== undefined && holdsBuildIds(this.types.btf, this.types.value);
    // The VM reads no build ids: its build id frames hold ips.
    return decodeFrames(value, buildIds).map((f) => ("ip" in f ? f.ip : f.offset));
  }

  private encode(v: CValue, size: number, typeId: number | undefined, what: string): Uint8Array {
    if (this.types && typeId !== undefined && !(v instanceof Uint8Array)) {
      const out = new Uint8Array(size);
      encodeValue(this.types.btf, typeId, v, out, 0, `${this.name} ${what}`);
      return out;
    }
    return encodeScalar(v, size, `${this.name} ${what}`);
  }
  private decode(bytes: Uint8Array, typeId: number | undefined): Decoded {
    if (this.types && typeId !== undefined) return decodeValue(this.types.btf, typeId, bytes);
    return decodeScalar(bytes);
  }
  private key(k: CValue): Uint8Array {
    return this.encode(k, this.map.keySize, this.types?.key, "key");
  }
  private value(v: CValue): Uint8Array {
    return this.encode(v, this.map.valueSize, this.types?.value, "value");
  }

  /**
   * A per-CPU map's value from set(): an array holds one value per CPU, anything else is every CPU's value. When the
   * value type is itself an array, only an array of arrays, strings or byte arrays is one per CPU.
   */
  private perCpuValues(value: CValue, cpus: number): Uint8Array | Uint8Array[] {
    const types = this.types;
    const arrayValued = types?.value !== undefined && types.btf.resolveType(types.value).kind === BtfKind.ARRAY;
    const perCpu = Array.isArray(value) && (!arrayValued || value.every((x) => Array.isArray(x) || x instanceof Uint8Array || typeof x === "string"));
    if (!perCpu) return this.value(value);
    const list = value as CValue[];
    if (list.length !== cpus) {
      throw usage(`map ${this.name} is a per-CPU map over ${cpus} CPUs: set() takes one value for all of them or an array of ${cpus} values, one per CPU, not an array of ${list.length}`);
    }
    return list.map((x, cpu) => this.encode(x, this.map.valueSize, types?.value, `value for CPU ${cpu}`));
  }

  /**
   * Every entry, decoded; per-CPU maps give an array of values, one per CPU. A Count, Sum, Avg, Min, Max or Stats map gives each
   * key's CPUs merged (a bigint, or stats' `{ count, average, total }`), leaving out keys no CPU has recorded under.
   */
  entries(): [Decoded, Decoded][] {
    const kind = this.types?.aggregate;
    if (!kind) return this.perCpuEntries();
    return this.perCpuEntries().flatMap(([k, v]) => {
      const merged = mergeAggregate(kind, v);
      return merged === undefined ? [] : [[k, merged as Decoded]];
    });
  }

  /** entries() as the map holds them: an aggregate's values per CPU too. */
  perCpuEntries(): [Decoded, Decoded][] {
    const m = this.map;
    const v = (b: Uint8Array): Decoded => this.decode(b.subarray(0, m.valueSize), this.types?.value);
    const k = (b: Uint8Array): Decoded => this.decode(b, this.types?.key);
    if (m instanceof HashMap) return m.entries().map(([key, value]) => [k(key), v(value)]);
    if (m instanceof PerCpuHashMap) return m.entries().map(([key, values]) => [k(key), values.map(v)]);
    if (m instanceof ArrayMap) return m.entries().map(([i, value]) => [i, v(value)]);
    if (m instanceof PerCpuArrayMap) return Array.from({ length: m.maxEntries }, (_, i) => [i, (m.lookup(i) ?? []).map(v)] as [Decoded, Decoded]);
    if (m instanceof StackTraceMap) return m.keys().map((id) => [id, m.lookup(id) ?? []]);
    if (m instanceof ArrayOfMaps) return m.entries().map(([i, inner]) => [i, inner.name]);
    if (m instanceof HashOfMaps) return m.entries().map(([key, inner]) => [k(key), inner.name]);
    throw usage(`map ${this.name} is a ${m.type} map, which has no entries to list${m instanceof RingBufMap || m instanceof PerfEventArray ? "; read its records with sim.events()" : ""}`);
  }

  /** The contents as a JS Map (keys decoded: numbers, bigints, strings; structs as objects). */
  toMap(): Map<Decoded, Decoded> {
    return new Map(this.entries());
  }

  /** Array maps' values by index (per-CPU: an array per index; a keyless aggregate: its value, if recorded). */
  toArray(): Decoded[] {
    if (!(this.map instanceof ArrayMap || this.map instanceof PerCpuArrayMap)) throw usage(`map ${this.name} is a ${this.map.type} map; toArray() is for array maps (use toMap())`);
    return this.entries().map(([, v]) => v);
  }

  /** One value (per-CPU: one per CPU; an aggregate's merged), or undefined when the key is absent (or an aggregate's unrecorded). */
  get(key: CValue): Decoded | undefined {
    const raw = this.perCpuGet(key);
    const kind = this.types?.aggregate;
    return kind && raw !== undefined ? (mergeAggregate(kind, raw) as Decoded | undefined) : raw;
  }

  private perCpuGet(key: CValue): Decoded | undefined {
    const m = this.map;
    const v = (b: Uint8Array): Decoded => this.decode(b.subarray(0, m.valueSize), this.types?.value);
    if (m instanceof HashMap || m instanceof ArrayMap) {
      const b = m.lookup(this.key(key));
      return b && v(b);
    }
    if (m instanceof PerCpuHashMap || m instanceof PerCpuArrayMap) return m.lookup(this.key(key))?.map(v);
    if (m instanceof StackTraceMap) return m.lookup(Number(key));
    if (m instanceof ArrayOfMaps) return m.get(readIndex(this.key(key)))?.name;
    if (m instanceof HashOfMaps) return m.get(this.key(key))?.name;
    throw usage(`map ${this.name} is a ${m.type} map; it has no values to look up`);
  }

  /**
   * BPF_MAP_UPDATE_ELEM from user space; per-CPU maps take one value for all CPUs or an array per CPU;
   * a map of maps takes an inner map (one of the object's maps by name, or its MapView).
   */
  set(key: CValue, value: CValue | InnerMap, flags = 0): void {
    const m = this.map;
    let err: number;
    if (m instanceof ArrayOfMaps || m instanceof HashOfMaps) {
      const inner = this.innerMap(value);
      try {
        err = m instanceof ArrayOfMaps ? m.set(readIndex(this.key(key)), inner, flags) : m.set(this.key(key), inner, flags);
      } catch (e) {
        throw usage(`updating map ${this.name} failed: ${(e as Error).message}`);
      }
    } else if (value instanceof MapView) throw usage(`map ${this.name} is a ${m.type} map; its values are not maps`);
    else if (m instanceof HashMap || m instanceof ArrayMap) err = m.update(this.key(key), this.value(value), flags);
    else if (m instanceof PerCpuHashMap || m instanceof PerCpuArrayMap) err = m.update(this.key(key), this.perCpuValues(value, m.host.numCpus), flags);
    else throw usage(`map ${this.name} is a ${m.type} map; user space cannot update it here`);
    if (err !== 0) throw usage(`updating map ${this.name} failed: ${UPDATE_ERRORS[-err] ?? `errno ${-err}`}`);
  }

  /** Empties the map as bpftrace's clear(@m) does (a probe's `m.clear()`): a hash map's entries deleted, an array's zeroed. */
  clear(): void {
    const m = this.map;
    if (m instanceof HashMap || m instanceof PerCpuHashMap) for (const [key] of m.entries()) m.delete(key);
    else if (m instanceof ArrayMap || m instanceof PerCpuArrayMap) {
      const zero = new Uint8Array(m.valueSize);
      for (let i = 0; i < m.maxEntries; i++) m.update(this.key(i), zero, 0);
    } else throw usage(`map ${this.name} is a ${m.type} map; clear() empties hash and array maps`);
  }

  /** BPF_MAP_DELETE_ELEM from user space; false when the key was absent. */
  delete(key: CValue): boolean {
    const m = this.map;
    if (m instanceof HashMap || m instanceof PerCpuHashMap || m instanceof HashOfMaps) return m.delete(this.key(key)) === 0;
    if (m instanceof ArrayOfMaps) return m.delete(readIndex(this.key(key))) === 0;
    throw usage(`map ${this.name} is a ${m.type} map; its elements cannot be deleted`);
  }
}
