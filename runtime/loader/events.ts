// Typed event streams: a loaded object's ring buffer or perf event array read as JS values.
// Takes a `LoadedObject` and a map name; gives `EventReader`, which reads records through `RingBuffer` or
// `PerfBuffer` and decodes each with the record type the object's BTF tags the map with (`tsbpf:event=...`,
// compiler/btf/tags.ts: tsbpf's `RingBuf<T>`/`PerfEventArray<T>` emit it; a C object can carry it as
// `btf_decl_tag`). Untagged maps, and records shorter than the type, give copies of the raw bytes.

import { MapType } from "../sys/constants.js";
import { codecFor, type Codec, type CodecOptions } from "./decode.js";
import type { LoadedObject } from "./load.js";
import { mapBtfTypes, objectBtf } from "./maps.js";
import { ObjectError } from "./errors.js";
import { BtfKind, type Btf } from "../../compiler/btf/index.js";
import { similarNames } from "../../compiler/similar.js";
import { PerfBuffer, type PerfBufferOptions } from "./perfbuf.js";
import { RingBuffer } from "./ringbuf.js";

/** One record (its decoded value, or its bytes when the map has no type), or a count of records the kernel dropped. */
export type StreamEvent<T = unknown> =
  | { kind: "event"; map: string; value: T | Uint8Array; cpu?: number }
  /** Records the kernel dropped: a perf buffer's on `cpu`; a ring buffer's (counted by the probe) without one. */
  | { kind: "lost"; map: string; count: number; cpu?: number };

export interface EventReaderOptions extends CodecOptions, PerfBufferOptions {
  /** Ignore the map's type and give raw bytes. */
  raw?: boolean;
  /**
   * For a map whose BTF names no record type (a C object's): decode records as this struct, union or typedef of
   * the object's BTF, such as a libbpf tool's `event`.
   */
  type?: string;
}

/** Ring buffers and perf event arrays: the map types an EventReader reads. */
export function isEventMap(type: number): boolean {
  return type === MapType.RINGBUF || type === MapType.PERF_EVENT_ARRAY;
}

/** The codec for a map's records: the type the object's BTF tags it with, else `options.type`; undefined for neither. */
export function eventCodec(obj: LoadedObject, name: string, options: CodecOptions & { type?: string } = {}): Codec | undefined {
  const map = obj.map(name);
  const types = mapBtfTypes(obj.spec, map.spec);
  if (types?.event !== undefined) return codecFor(types.btf, types.event, options);
  return options.type === undefined ? undefined : namedCodec(obj, name, options.type, options);
}

/** Throws an ObjectError when the object's BTF has no struct, union or typedef `type` (or no BTF). */
export function checkRecordType(obj: LoadedObject, type: string): void {
  const btf = objectBtf(obj.spec);
  if (!btf) throw new ObjectError(`cannot decode records as ${type}: the object has no BTF (compile it with -g)`);
  recordTypeId(btf, type);
}

function namedCodec(obj: LoadedObject, name: string, type: string, options: CodecOptions): Codec {
  const btf = objectBtf(obj.spec);
  if (!btf) throw new ObjectError(`cannot decode the records of ${name} as ${type}: the object has no BTF (compile it with -g)`);
  return codecFor(btf, recordTypeId(btf, type), options);
}

const RECORD_KINDS: readonly number[] = [BtfKind.STRUCT, BtfKind.UNION, BtfKind.TYPEDEF];

/** The id of the struct, union or typedef `name` ("event", "struct event"), or an error with the names it may mean. */
function recordTypeId(btf: Btf, name: string): number {
  const bare = name.replace(/^(struct|union)\s+/, "");
  for (const kind of RECORD_KINDS) {
    const id = btf.findIdsByName(bare, kind)[0];
    if (id !== undefined) return id;
  }
  const known = [...btf.types()].filter((t) => RECORD_KINDS.includes(t.kind) && t.name !== "").map((t) => t.name);
  const near = similarNames(bare, known);
  const hint = near.length ? `; did you mean ${near.join(", ")}?` : known.length ? `; it has ${known.slice(0, 8).join(", ")}${known.length > 8 ? ", ..." : ""}` : "";
  throw new ObjectError(`the object's BTF has no struct, union or typedef named ${bare}${hint}`);
}

export class EventReader<T = unknown> implements AsyncIterable<StreamEvent<T>> {
  /** The record type's C name, or undefined when records are raw bytes. */
  readonly typeName: string | undefined;

  private constructor(
    readonly map: string,
    private readonly source: { ring: RingBuffer } | { perf: PerfBuffer },
    private readonly codec: Codec | undefined,
    /**
     * Records shorter than the type are decoded as if zero-padded (a type the user named: C tools often send
     * only the used part of a trailing array); with the map's own type they stay raw bytes, as a mismatch.
     */
    private readonly padShort = false,
  ) {
    this.typeName = codec?.typeName;
  }

  /** Opens map `name` of `obj` (a ring buffer or a perf event array) for reading. */
  static open<T = unknown>(obj: LoadedObject, name: string, options: EventReaderOptions = {}): EventReader<T> {
    const map = obj.map(name);
    const own = options.raw ? undefined : eventCodec(obj, name, { ...options, type: undefined });
    const named = !options.raw && !own && options.type !== undefined ? namedCodec(obj, name, options.type, options) : undefined;
    const codec = own ?? named;
    if (map.spec.type === MapType.RINGBUF) return new EventReader<T>(name, { ring: RingBuffer.open(obj.sys, map.fd) }, codec, named !== undefined);
    if (map.spec.type === MapType.PERF_EVENT_ARRAY) return new EventReader<T>(name, { perf: PerfBuffer.open(obj.sys, map.fd, options) }, codec, named !== undefined);
    throw new Error(`map ${name} is not a ring buffer or a perf event array (type ${map.spec.type})`);
  }

  get isClosed(): boolean {
    return "ring" in this.source ? this.source.ring.isClosed : this.source.perf.isClosed;
  }

  /** Hands every event available now to `handler`; gives the number of records (losses not counted). */
  drain(handler: (event: StreamEvent<T>) => void): number {
    const { map } = this;
    if ("ring" in this.source) return this.source.ring.drainRaw((ring, offset, size) => handler({ kind: "event", map, value: this.decode(ring, offset, size) }));
    return this.source.perf.drain({
      sample: (data, cpu) => handler({ kind: "event", map, cpu, value: this.decode(data, 0, data.length) }),
      lost: (count, cpu) => handler({ kind: "lost", map, count, cpu }),
    });
  }

  /**
   * For a perf event array, hands `handler` the samples lost that no lost record said (a ring full to the end): for
   * the end, once the programs are detached and the reader drained. A ring buffer's losses the kernel does not count.
   */
  drainLost(handler: (event: StreamEvent<T>) => void): void {
    if ("perf" in this.source) this.source.perf.drainLost({ sample: () => {}, lost: (count, cpu) => handler({ kind: "lost", map: this.map, count, cpu }) });
  }

  /** Copies of the events available now. */
  read(): StreamEvent<T>[] {
    const out: StreamEvent<T>[] = [];
    this.drain((e) => void out.push(e));
    return out;
  }

  /** Waits (on a worker thread, in 100 ms slices) until records are available, the timeout passes or close(). */
  wait(timeoutMs: number): Promise<boolean> {
    return "ring" in this.source ? this.source.ring.wait(timeoutMs) : this.source.perf.wait(timeoutMs);
  }

  /** Events as they arrive, until close(). One consumer at a time. */
  async *[Symbol.asyncIterator](): AsyncGenerator<StreamEvent<T>> {
    while (!this.isClosed) {
      const got = this.read();
      if (got.length > 0) yield* got;
      else await this.wait(100);
    }
  }

  /** Releases the reader (not the map, which its object owns), once a wait in flight has returned; idempotent. */
  async close(): Promise<void> {
    if ("ring" in this.source) await this.source.ring.closeAndWait();
    else await this.source.perf.close();
  }

  /** For exit paths that cannot wait. */
  closeSync(): void {
    if ("ring" in this.source) this.source.ring.close();
    else this.source.perf.closeSync();
  }

  private decode(bytes: Uint8Array, offset: number, size: number): T | Uint8Array {
    const c = this.codec;
    if (!c) return bytes.slice(offset, offset + size);
    if (size >= c.size) return c.decodeRecord(bytes, offset, size) as T;
    if (!this.padShort) return bytes.slice(offset, offset + size);
    const whole = new Uint8Array(c.size);
    whole.set(bytes.subarray(offset, offset + size));
    return c.decode(whole, 0) as T;
  }
}
