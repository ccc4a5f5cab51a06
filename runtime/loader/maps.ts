// Maps of a loaded object read and written from JS, with keys and values decoded by their BTF types.
// Takes a `LoadedObject` and a map name; gives `MapView`: iteration (keys through BPF_MAP_GET_NEXT_KEY,
// values through lookups), get/set/delete, decoded with the object's BTF where it describes the map
// (`__type(key, ...)`/`__type(value, ...)` of `.maps` variables; the DATASEC of .data/.bss/.rodata), raw bytes
// otherwise. Per-CPU maps give one value per possible CPU, in CPU order. Program arrays and maps of maps hold
// fds going in and give ids coming out: their values are numbers, fds to `set`, the ids of what they hold from `get`.

import { BtfKind, mapTags, parseBtf, type Aggregate, type Btf, type PrintfSite } from "../../compiler/btf/index.js";
import { Errno, MapType } from "../sys/constants.js";
import { SysError, type Sys } from "../sys/sys.js";
import { codecFor, variablesCodec, type Codec, type CodecOptions, type VariableLayout } from "./decode.js";
import type { LoadedMap, LoadedObject } from "./load.js";
import type { MapSpec, ObjectSpec } from "./object.js";

const PERCPU: ReadonlySet<number> = new Set([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH, MapType.PERCPU_CGROUP_STORAGE]);
/** Map types whose entries BPF_MAP_LOOKUP_BATCH reads (since Linux 5.6 for hashes, 5.9 for arrays). */
const BATCHED: ReadonlySet<number> = new Set([MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH, MapType.ARRAY, MapType.PERCPU_ARRAY]);
const BATCH_ENTRIES = 4096;
/** The maps BPF_MAP_LOOKUP_AND_DELETE_BATCH takes. */
const HASHES: ReadonlySet<number> = new Set([MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH]);
const BATCH_REFUSALS: ReadonlySet<number> = new Set([Errno.EINVAL, Errno.ENOTSUPP, Errno.EOPNOTSUPP, Errno.ENOSPC]);

/** Maps whose values are programs or maps: an fd when written, the id when read. */
export const FD_VALUES: ReadonlySet<number> = new Set([MapType.PROG_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS]);

/** A 4-byte fd or id. */
const ID_CODEC: Codec = {
  size: 4,
  typeName: "__u32",
  decode: (bytes, offset = 0) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, true),
  decodeRecord: (bytes, offset) => ID_CODEC.decode(bytes, offset),
  encode: (value) => {
    const out = new Uint8Array(4);
    ID_CODEC.encodeInto(value, out);
    return out;
  },
  encodeInto: (value, out, offset = 0) => {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`an fd is a non-negative integer, not ${String(value)}`);
    new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(offset, value, true);
  },
};

/** Where a map's key and value types live in its object's BTF (either may be absent). */
export interface MapBtfTypes {
  btf: Btf;
  key: number | undefined;
  value: number | undefined;
  /** Global data: the section's variables at their ELF symbol offsets (the value is decoded by name). */
  variables?: VariableLayout[];
  /** A ring buffer's or perf event array's record type (the `tsbpf:event` tag of compiler/btf/tags.ts). */
  event?: number;
  /** The tag's type name, when the object's BTF lacks the type. */
  missingEvent?: string;
  /** Tagged `tsbpf:histogram=log2`: a Histogram's slots. */
  histogram?: boolean;
  /** Tagged `tsbpf:histogram=linear:MIN:MAX:STEP`: a LinearHistogram's bounds. */
  linear?: { min: number; max: number; step: number };
  /** Tagged `tsbpf:aggregate=KIND`: bpftrace's avg(), min(), max() or stats(), one value per CPU (aggregate.ts). */
  aggregate?: Aggregate;
  /** Tagged `tsbpf:internal`: a map the probe file does not export. */
  internal?: boolean;
  /** Tagged `tsbpf:stacks`: the stack map that stack ids in other maps refer to. */
  stacks?: boolean;
  /** Tagged `tsbpf:frames-of=NAME`: the id -> frames map of hash stack map NAME. */
  framesOf?: string;
  /** Tagged `tsbpf:actions=...`: the ring buffer of exit(), print() and clear() records, and the maps they name. */
  actions?: string[];
  /** On an actions ring buffer: its printf() calls by id, each with its format and argument list. */
  printf?: PrintfSite[];
  /** On an actions ring buffer: its time() formats by id. */
  times?: string[];
}

const parsed = new WeakMap<Uint8Array, Btf>();

/** The object's parsed BTF, once per object. */
export function objectBtf(spec: ObjectSpec): Btf | undefined {
  const raw = spec.raw.btf;
  if (!raw) return undefined;
  let btf = parsed.get(raw);
  if (!btf) parsed.set(raw, (btf = parseBtf(raw)));
  return btf;
}

/** The BTF key and value types of a map, or undefined when the object's BTF does not describe it (legacy `maps`). */
export function mapBtfTypes(spec: ObjectSpec, map: MapSpec): MapBtfTypes | undefined {
  const btf = objectBtf(spec);
  if (!btf) return undefined;
  if (map.origin === "data") {
    const sec = btf.find(map.name, BtfKind.DATASEC);
    if (!sec || sec.kind !== BtfKind.DATASEC) return undefined;
    // clang leaves DATASEC offsets at 0 in objects: the ELF symbols have the real ones.
    const offsets = new Map(map.variables.map((v) => [v.name, v.offset]));
    const variables = sec.vars.map((v) => {
      const name = btf.typeById(v.type).name;
      return { name, type: v.type, offset: offsets.get(name) ?? v.offset };
    });
    return { btf, key: undefined, value: sec.id, variables };
  }
  if (map.origin !== "btf") return undefined;
  for (const sec of btf.findByName(".maps", BtfKind.DATASEC)) {
    if (sec.kind !== BtfKind.DATASEC) continue;
    for (const v of sec.vars) {
      const variable = btf.typeById(v.type);
      if (variable.kind !== BtfKind.VAR || variable.name !== map.name) continue;
      const def = btf.resolveType(variable.type);
      if (def.kind !== BtfKind.STRUCT) return undefined;
      const pointee = (name: string): number | undefined => {
        const m = def.members.find((x) => x.name === name);
        if (!m) return undefined;
        const ptr = btf.resolveType(m.type);
        return ptr.kind === BtfKind.PTR ? ptr.type : undefined;
      };
      return { btf, key: pointee("key"), value: pointee("value"), ...mapTags(btf, variable.id) };
    }
  }
  return undefined;
}

/** Kernel types the verifier treats specially inside a map value (btf_parse_fields). */
const SPECIAL_FIELDS: ReadonlySet<string> = new Set(["bpf_spin_lock", "bpf_res_spin_lock", "bpf_timer", "bpf_wq", "bpf_list_head", "bpf_rb_root"]);

/** A special kernel type inside a map value: where it is, so that loads and stores can keep off it. */
export interface ValueField {
  /** Its kernel type: bpf_spin_lock, bpf_timer, ... */
  name: string;
  offset: number;
  size: number;
}

/**
 * The special kernel types (bpf_spin_lock, bpf_timer, ...) a map's value holds, found as the kernel finds them: in the
 * value's struct, its nested structs and arrays, or a data section's variables. None without BTF, as the kernel then
 * knows none.
 */
export function mapValueFields(spec: ObjectSpec, map: MapSpec): ValueField[] {
  const types = mapBtfTypes(spec, map);
  if (!types || types.value === undefined) return [];
  const { btf } = types;
  const found: ValueField[] = [];
  const walk = (id: number, offset: number, depth: number): void => {
    if (depth > 16) return;
    const t = btf.resolveType(id);
    if (t.kind === BtfKind.STRUCT && SPECIAL_FIELDS.has(t.name)) found.push({ name: t.name, offset, size: t.size });
    else if (t.kind === BtfKind.STRUCT || t.kind === BtfKind.UNION) {
      for (const m of t.members) if (m.bitfieldSize === 0) walk(m.type, offset + m.bitOffset / 8, depth + 1);
    } else if (t.kind === BtfKind.VAR) {
      walk(t.type, offset, depth + 1);
    } else if (t.kind === BtfKind.ARRAY) {
      const size = btf.sizeOf(t.type);
      // Only arrays of structs can hold one; an array of a million bytes is not walked element by element.
      if (btf.resolveType(t.type).kind === BtfKind.STRUCT) for (let i = 0; i < Math.min(t.nelems, 64); i++) walk(t.type, offset + i * size, depth + 1);
    }
  };
  // A data section's variables sit at their ELF symbols' offsets (clang leaves the DATASEC's at 0).
  if (types.variables) for (const v of types.variables) walk(v.type, v.offset, 0);
  else walk(types.value, 0, 0);
  return found;
}

export interface MapViewOptions extends CodecOptions {
  /** Ignore BTF and give raw bytes for keys and values. */
  raw?: boolean;
}

/** A loaded map seen from JS. K and V are the decoded key and value shapes (unknown unless you know them). */
export class MapView<K = unknown, V = unknown> {
  readonly name: string;
  readonly fd: number;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  /** Per-CPU map: values are arrays with one entry per possible CPU. */
  readonly perCpu: boolean;
  readonly cpus: number;
  /** Codecs from BTF; undefined means raw bytes. */
  readonly keyCodec: Codec | undefined;
  readonly valueCodec: Codec | undefined;

  constructor(
    readonly sys: Sys,
    map: LoadedMap,
    types: MapBtfTypes | undefined,
    options: MapViewOptions = {},
  ) {
    this.name = map.name;
    this.fd = map.fd;
    this.type = map.spec.type;
    this.keySize = map.spec.keySize;
    this.valueSize = map.spec.valueSize;
    this.maxEntries = map.spec.maxEntries;
    this.perCpu = PERCPU.has(this.type);
    this.cpus = this.perCpu ? sys.possibleCpus() : 1;
    const codec = (id: number | undefined, size: number) => {
      if (options.raw || !types || id === undefined) return undefined;
      const c = codecFor(types.btf, id, options);
      return c.size === size ? c : undefined; // a BTF type that disagrees with the map's size is not trusted
    };
    this.keyCodec = codec(types?.key, this.keySize);
    this.valueCodec =
      types?.variables && !options.raw
        ? variablesCodec(types.btf, types.variables, this.valueSize, options)
        : FD_VALUES.has(this.type) && this.valueSize === 4 && !options.raw
          ? ID_CODEC
          : codec(types?.value, this.valueSize);
  }

  decodeKey(bytes: Uint8Array): K {
    return (this.keyCodec ? this.keyCodec.decode(bytes) : bytes.slice()) as K;
  }

  encodeKey(key: K | Uint8Array): Uint8Array {
    return encodeWith(this.keyCodec, key, this.keySize, `key of ${this.name}`);
  }

  /** A value as the map stores it (per-CPU: all CPUs' values, each padded to 8 bytes). */
  decodeValue(bytes: Uint8Array): V {
    if (!this.perCpu) return this.decodeOne(bytes, 0) as V;
    const stride = (this.valueSize + 7) & ~7;
    return Array.from({ length: this.cpus }, (_, cpu) => this.decodeOne(bytes, cpu * stride)) as V;
  }

  encodeValue(value: V | Uint8Array): Uint8Array {
    if (!this.perCpu) return encodeWith(this.valueCodec, value, this.valueSize, `value of ${this.name}`);
    if (value instanceof Uint8Array) return checkSize(value, ((this.valueSize + 7) & ~7) * this.cpus, `value of ${this.name}`);
    if (!Array.isArray(value) || value.length !== this.cpus) throw new Error(`${this.name} is per-CPU: a value is an array of ${this.cpus} values`);
    const stride = (this.valueSize + 7) & ~7;
    const out = new Uint8Array(stride * this.cpus);
    value.forEach((v, cpu) => out.set(encodeWith(this.valueCodec, v, this.valueSize, `value of ${this.name} for CPU ${cpu}`), cpu * stride));
    return out;
  }

  private decodeOne(bytes: Uint8Array, off: number): unknown {
    return this.valueCodec ? this.valueCodec.decode(bytes, off) : bytes.slice(off, off + this.valueSize);
  }

  /**
   * Every entry of a hash or array map in a few BPF_MAP_LOOKUP_BATCH calls (150,000 keys: tens of calls, not 300,000),
   * or undefined where the map or the kernel reads none that way (the walk then does it key by key).
   */
  private batchedEntries(remove = false): [Uint8Array, Uint8Array][] | undefined {
    if (!this.sys.mapLookupBatch || !BATCHED.has(this.type) || (remove && !HASHES.has(this.type))) return undefined;
    const out: [Uint8Array, Uint8Array][] = [];
    let batch: Uint8Array | undefined;
    try {
      do {
        const r = this.sys.mapLookupBatch(this.fd, batch, Math.min(this.maxEntries, BATCH_ENTRIES), remove);
        r.keys.forEach((k, i) => out.push([k, r.values[i]!]));
        batch = r.next;
      } while (batch);
    } catch (e) {
      // Older kernels, and a bucket holding more entries than one call takes (ENOSPC): key by key instead (after
      // what a removing read already took).
      if (e instanceof SysError && BATCH_REFUSALS.has(e.errno) && (!remove || out.length === 0)) return undefined;
      throw e;
    }
    return out;
  }

  /**
   * Every entry, each deleted as it is read (an array's slot zeroed), as one step where the kernel can
   * (BPF_MAP_LOOKUP_AND_DELETE_BATCH for a hash map), else key by key: what a probe adds after an entry is read stays
   * for the next read, where a read of the whole map and a clear after it lost what came between.
   */
  *take(): Generator<[K, V]> {
    const batched = this.batchedEntries(true);
    if (batched) {
      for (const [k, v] of batched) yield [this.decodeKey(k), this.decodeValue(v)];
      return;
    }
    const array = this.type === MapType.ARRAY || this.type === MapType.PERCPU_ARRAY;
    const zero = array ? new Uint8Array(this.perCpu ? ((this.valueSize + 7) & ~7) * this.cpus : this.valueSize) : undefined;
    // Keys first: deleting the walk's current key would restart it.
    for (const k of [...this.rawKeys()]) {
      const v = this.sys.mapLookup(this.fd, k);
      if (!v) continue;
      if (zero) this.sys.mapUpdate(this.fd, k, zero, 0);
      else {
        try {
          this.sys.mapDelete(this.fd, k);
        } catch (e) {
          // the probe deleted it meanwhile: still printed as read
          if (!(e instanceof SysError && e.code === "ENOENT")) throw e;
        }
      }
      yield [this.decodeKey(k), this.decodeValue(v)];
    }
  }

  /** Raw keys in the kernel's order. A hash map changed meanwhile may restart the walk; keys seen are not repeated. */
  *rawKeys(): Generator<Uint8Array> {
    const seen = new Set<string>();
    // A deleted current key restarts a hash walk at the first key: bound the steps rather than loop forever.
    let steps = 4 * this.maxEntries + 16;
    let key: Uint8Array | undefined;
    while (steps-- > 0) {
      const next = this.sys.mapGetNextKey(this.fd, key);
      if (!next) return;
      const id = hex(next);
      if (!seen.has(id)) {
        seen.add(id);
        yield next;
      }
      key = next;
    }
  }

  *keys(): Generator<K> {
    for (const k of this.rawKeys()) yield this.decodeKey(k);
  }

  /** [key, value] pairs; entries deleted between the key walk and the lookup are skipped. */
  *entries(): Generator<[K, V]> {
    const batched = this.batchedEntries();
    if (batched) {
      for (const [k, v] of batched) yield [this.decodeKey(k), this.decodeValue(v)];
      return;
    }
    for (const k of this.rawKeys()) {
      const v = this.sys.mapLookup(this.fd, k);
      if (v) yield [this.decodeKey(k), this.decodeValue(v)];
    }
  }

  *values(): Generator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): Generator<[K, V]> {
    return this.entries();
  }

  get(key: K | Uint8Array): V | undefined {
    const v = this.sys.mapLookup(this.fd, this.encodeKey(key));
    return v ? this.decodeValue(v) : undefined;
  }

  set(key: K | Uint8Array, value: V | Uint8Array, flags = 0): void {
    this.sys.mapUpdate(this.fd, this.encodeKey(key), this.encodeValue(value), flags);
  }

  delete(key: K | Uint8Array): void {
    this.sys.mapDelete(this.fd, this.encodeKey(key));
  }
}

/** A view of map `name` of a loaded object, typed by the object's BTF when it has it. */
export function openMap<K = unknown, V = unknown>(obj: LoadedObject, name: string, options?: MapViewOptions): MapView<K, V> {
  const map = obj.map(name);
  return new MapView<K, V>(obj.sys, map, mapBtfTypes(obj.spec, map.spec), options);
}

/** Sums a per-CPU value's integers (numbers, or bigints when any is one). */
export function sumPerCpu(values: readonly (number | bigint)[]): number | bigint {
  if (values.some((v) => typeof v === "bigint")) return values.reduce<bigint>((a, v) => a + BigInt(v), 0n);
  return (values as number[]).reduce((a, v) => a + v, 0);
}

function encodeWith(codec: Codec | undefined, value: unknown, size: number, what: string): Uint8Array {
  if (value instanceof Uint8Array) return checkSize(value, size, what);
  if (!codec) throw new Error(`${what} has no BTF type: give ${size} raw bytes`);
  return codec.encode(value);
}

function checkSize(b: Uint8Array, size: number, what: string): Uint8Array {
  if (b.length !== size) throw new Error(`${what} must be ${size} bytes, not ${b.length}`);
  return b;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex");
