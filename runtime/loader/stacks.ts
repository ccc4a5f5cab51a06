// Stack ids in map keys and values, named as the frames they stand for (bpftrace's `@[kstack]` and `@[ustack]`).
// Takes a loaded object whose BTF types ids `tsbpf_kstack` / `tsbpf_ustack` and tags its stack map `tsbpf:stacks`
// (compiler/btf/tags.ts: what kstack() and ustack() compile to, and what a C object can declare the same way); gives
// decoded keys and values with a `Stack` (its frames as text) in place of each id. The stack map is a hash map keyed
// by the frames with the id as value (kstack()'s and ustack()'s), whose ids' frames are looked up one id at a time in
// the id -> frames hash map tagged `tsbpf:frames-of=` it, or a stack trace map of bpf_get_stackid() ids (a C
// object's), looked up by id. Kernel frames are named from /proc/kallsyms; user
// frames from the file their build id names (kstack's map keeps ips, ustack's build ids and file offsets), or, where
// the kernel gave an ip, from the process's mappings, read while it lives (`remember`).

import { BtfKind, KERNEL_STACK_TYPEDEF, USER_STACK_TYPEDEF, USYM_STRUCT, type Btf } from "../../compiler/btf/index.js";
import { MapType } from "../sys/constants.js";
import { SysError } from "../sys/sys.js";
import type { LoadedMap, LoadedObject } from "./load.js";
import { MapView, mapBtfTypes } from "./maps.js";
import { kernelSymbolizer, readKallsyms, stackFrames } from "./symbolize.js";
import { UserSymbolizer } from "./usymbolize.js";

/** A stack, outermost frame last: `function+offset`, or a hex address where nothing names it. */
export class Stack {
  constructor(readonly frames: readonly string[]) {}
  toJSON(): readonly string[] {
    return this.frames;
  }
  /** node:util's inspect (an event printed as an object) shows the frames. */
  [Symbol.for("nodejs.util.inspect.custom")](): readonly string[] {
    return this.frames;
  }
}

/**
 * Where a stack id sits in a decoded value: the value itself (path []) or a struct member, whose stack it is and its
 * frame limit; or where a usym() value (`{ address, pid }`, kind "symbol") sits, named as the function it is in.
 */
export interface StackField {
  path: readonly string[];
  kind: "kernel" | "user" | "symbol";
  frames: number;
}

/** `tsbpf_kstack`, `tsbpf_ustack`, and with a frame limit `tsbpf_kstack_5` (compiler/btf/tags.ts). */
const STACK_TYPEDEF = new RegExp(`^(?:(${KERNEL_STACK_TYPEDEF})|${USER_STACK_TYPEDEF})(?:_(\\d+))?$`);
const MAX_FRAMES = 127;

const QUALIFIERS: ReadonlySet<number> = new Set([BtfKind.CONST, BtfKind.VOLATILE, BtfKind.RESTRICT, BtfKind.TYPE_TAG]);

/** The stack ids in BTF type `id`: the type is one, or holds them in (nested) struct members. */
export function stackFields(btf: Btf, id: number, path: readonly string[] = [], depth = 0): StackField[] {
  let t = btf.typeById(id);
  for (let hops = 0; hops < 32 && (t.kind === BtfKind.TYPEDEF || QUALIFIERS.has(t.kind)); hops++) {
    const m = t.kind === BtfKind.TYPEDEF ? STACK_TYPEDEF.exec(t.name) : null;
    if (m) return [{ path, kind: m[1] ? "kernel" : "user", frames: m[2] ? Number(m[2]) : MAX_FRAMES }];
    t = btf.typeById((t as { type: number }).type);
  }
  if ((t.kind !== BtfKind.STRUCT && t.kind !== BtfKind.UNION) || depth > 8) return [];
  if (t.kind === BtfKind.STRUCT && t.name === USYM_STRUCT) return [{ path, kind: "symbol", frames: 0 }];
  return t.members.flatMap((m) => (m.name ? stackFields(btf, m.type, [...path, m.name], depth + 1) : []));
}

/** BPF_F_STACK_BUILD_ID: a stack trace map whose frames are `struct bpf_stack_build_id`s (32 bytes) rather than ips. */
const BPF_F_STACK_BUILD_ID = 1 << 5;
/** bpf_stack_build_id.status: the frame holds a build id and a file offset, or (the kernel could not read one) an ip. */
const BUILD_ID_VALID = 1;
const BUILD_ID_IP = 2;

/** A frame as a stack map holds it: an instruction pointer, or a file (by build id) and an offset in it. */
export type Frame = { ip: bigint } | { buildId: string; offset: bigint };

/** Whether BTF type `typeId` (a stack map's frames) is an array of `struct bpf_stack_build_id`s rather than of ips. */
export function holdsBuildIds(btf: Btf, typeId: number): boolean {
  const t = btf.resolveType(typeId);
  return t.kind === BtfKind.ARRAY && btf.resolveType(t.type).kind === BtfKind.STRUCT;
}

/** A stack's frames, innermost first, from a stack map's bytes: 8-byte ips up to the first 0, or build id frames. */
export function decodeFrames(value: Uint8Array, buildIds: boolean): Frame[] {
  if (!buildIds) return stackFrames(value).map((ip) => ({ ip }));
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const out: Frame[] = [];
  for (let at = 0; at + 32 <= value.byteLength; at += 32) {
    const status = view.getInt32(at, true);
    const word = view.getBigUint64(at + 24, true);
    if (status === BUILD_ID_VALID) out.push({ buildId: Buffer.from(value.subarray(at + 4, at + 24)).toString("hex"), offset: word });
    else if (status === BUILD_ID_IP) out.push({ ip: word });
    else break;
  }
  return out;
}

const EEXIST = 17;
const ENOMEM = 12;
const E2BIG = 7;

/** Names the stack ids of one loaded object; keeps what it has named, and the processes' mappings it has read. */
export class StackNamer {
  /** The maps the ids refer to: those tagged `tsbpf:stacks`. */
  private readonly tagged: LoadedMap[];
  private readonly named = new Map<string, Stack>();
  /** The processes remember() has read the mappings of. */
  private readonly seen = new Set<number>();
  private kernel: ((address: bigint) => string) | undefined;
  private user: UserSymbolizer | undefined;
  /** Each hash stack map's id -> frames map (tagged `tsbpf:frames-of=` the stack map's name), by the stack map's name. */
  private readonly framesMaps = new Map<string, LoadedMap>();
  /**
   * The stack maps some of whose stacks were not recorded, and those ids name no frames: a hash stack map was full
   * (-E2BIG, -ENOMEM) or its id -> frames map was (an id found there with no frames); a stack trace map gave -EEXIST
   * (another stack already where this one hashed) or -ENOMEM.
   */
  readonly unrecorded = new Map<LoadedMap, "kernel" | "user">();

  constructor(private readonly obj: LoadedObject) {
    const maps = [...obj.maps.values()];
    this.tagged = maps.filter((m) => (m.spec.type === MapType.STACK_TRACE || m.spec.type === MapType.HASH) && mapBtfTypes(obj.spec, m.spec)?.stacks);
    for (const m of maps) {
      const of = m.spec.type === MapType.HASH && m.spec.keySize === 4 ? mapBtfTypes(obj.spec, m.spec)?.framesOf : undefined;
      if (of !== undefined) this.framesMaps.set(of, m);
    }
  }

  /** The id -> frames map of hash stack map `m`, if the object has one. */
  framesMapOf(m: LoadedMap): LoadedMap | undefined {
    return this.framesMaps.get(m.name);
  }

  /**
   * Whether a stack map's frames are `struct bpf_stack_build_id`s: a stack trace map's flag says so, a hash stack
   * map's key type (an array of structs rather than of ips).
   */
  private buildIds(m: LoadedMap): boolean {
    if (m.spec.type === MapType.STACK_TRACE) return (m.spec.flags & BPF_F_STACK_BUILD_ID) !== 0;
    const types = mapBtfTypes(this.obj.spec, m.spec);
    return types?.key !== undefined && holdsBuildIds(types.btf, types.key);
  }

  /**
   * The map a kind of stack id with a frame limit indexes: the tagged one whose entries hold that many frames, as
   * ips for kernel stacks and (if there is one) as build id frames for user stacks; else the first that fits the kind.
   */
  private mapFor(kind: "kernel" | "user", frames: number): LoadedMap | undefined {
    const buildIds = (m: LoadedMap) => this.buildIds(m);
    const fits = (m: LoadedMap) => (kind === "kernel" ? !buildIds(m) : buildIds(m));
    const depth = (m: LoadedMap) => (m.spec.type === MapType.HASH ? m.spec.keySize : m.spec.valueSize) / (buildIds(m) ? 32 : 8);
    return this.tagged.find((m) => fits(m) && depth(m) === frames) ?? this.tagged.find(fits) ?? this.tagged[0];
  }

  /** The stack ids in a map's keys and values, by where they sit (none: the map holds no stack ids, or there is no stack map). */
  fieldsOf(m: LoadedMap): { key: StackField[]; value: StackField[] } {
    const types = mapBtfTypes(this.obj.spec, m.spec);
    if (!types) return { key: [], value: [] };
    return { key: types.key === undefined ? [] : this.nameable(stackFields(types.btf, types.key)), value: types.value === undefined ? [] : this.nameable(stackFields(types.btf, types.value)) };
  }

  /** The stack ids in the records of a ring buffer or perf event array whose BTF tags their type (`tsbpf:event`). */
  recordFieldsOf(m: LoadedMap): StackField[] {
    const types = mapBtfTypes(this.obj.spec, m.spec);
    return types?.event === undefined ? [] : this.nameable(stackFields(types.btf, types.event));
  }

  /** Stack ids name frames only where there is a stack map; usym() values need none. */
  private nameable(fields: StackField[]): StackField[] {
    return this.tagged.length ? fields : fields.filter((f) => f.kind === "symbol");
  }

  /** `value` with a Stack in place of the id at each of `fields`. */
  name(value: unknown, fields: readonly StackField[]): unknown {
    let out = value;
    for (const f of fields) {
      const kind = f.kind;
      out = kind === "symbol" ? replaceSymbolAt(out, f.path, (pid, address) => this.symbolOf(pid, address)) : replaceAt(out, f.path, (id) => this.stack(id, { ...f, kind }));
    }
    return out;
  }

  /** The function a user address of process `pid` is in (bpftrace's usym(): `main`), or the address in hex. */
  symbolOf(pid: number, address: bigint): string {
    const user = this.symbolizer();
    user.remember(pid);
    return user.symbolize(pid, address, false);
  }

  /** Files to look in first for the files user stack frames name by build id (the probes' binaries, a command's). */
  addFiles(paths: Iterable<string>): void {
    this.symbolizer().addFiles(paths);
  }

  /**
   * Reads the mappings of every process a user stack id in `maps` names that this namer has not read yet: call it
   * while the run goes on, since a process's mappings go when it exits (frames the kernel gave as ips rather than
   * build ids would then print as addresses).
   */
  remember(maps: readonly LoadedMap[]): void {
    for (const m of maps) {
      const fields = this.fieldsOf(m).key.filter((f) => f.kind !== "kernel");
      if (!fields.length) continue;
      const view = new MapView(this.obj.sys, m, mapBtfTypes(this.obj.spec, m.spec));
      try {
        for (const key of view.keys()) {
          for (const f of fields) {
            const id = f.kind === "symbol" ? (at(key, f.path) as { pid?: unknown } | undefined)?.pid : at(key, f.path);
            if (typeof id !== "number" && typeof id !== "bigint") continue;
            // Once per process: its build id frames need no mappings, its ip frames (rare) the ones it had then.
            const pid = Number(f.kind === "symbol" ? BigInt(id) : BigInt(id) >> 32n);
            if (!this.seen.has(pid)) this.symbolizer().remember(pid);
            this.seen.add(pid);
          }
        }
      } catch (e) {
        // A map the kernel will not walk now is walked again next time; the run goes on.
        if (!(e instanceof SysError)) throw e;
      }
    }
  }

  /** Reads PID's mappings now: for a process whose user stacks are expected (tsbpf run's command), polled often. */
  rememberProcess(pid: number): void {
    this.symbolizer().remember(pid, true);
  }

  private symbolizer(): UserSymbolizer {
    return (this.user ??= new UserSymbolizer());
  }

  /** The frames of a stack id of `kind` with a frame limit, innermost first (printf's %s of a kstack()). */
  framesOf(kind: "kernel" | "user", frames: number, id: bigint): readonly string[] {
    return this.stack(id, { path: [], kind, frames }).frames;
  }

  private stack(id: number | bigint, field: StackField & { kind: "kernel" | "user" }): Stack {
    const key = `${field.kind}:${field.frames}:${id}`;
    let stack = this.named.get(key);
    if (!stack) {
      const map = this.mapFor(field.kind, field.frames);
      // A user stack's id keeps its errno in the low half (the tgid is in the high one).
      const errno = -Number(BigInt.asIntN(field.kind === "user" ? 32 : 64, BigInt(id)));
      const lost = map?.spec.type === MapType.HASH ? errno === E2BIG || errno === ENOMEM : errno === EEXIST || errno === ENOMEM;
      if (map && lost) this.unrecorded.set(map, field.kind);
      stack = new Stack(field.kind === "kernel" ? this.kernelFrames(map, BigInt(id)) : this.userFrames(map, BigInt(id)));
      // An id of a hash stack map with no frames under it: its id -> frames map was full (not kept: looked up again
      // next time).
      if (map?.spec.type === MapType.HASH && errno <= 0 && stack.frames.length === 0) this.unrecorded.set(map, field.kind);
      else this.named.set(key, stack);
    }
    return stack;
  }

  private kernelFrames(map: LoadedMap | undefined, id: bigint): string[] {
    const name = (this.kernel ??= kernelSymbolizer(readKallsyms()));
    // A kernel stack in a build id map has its frames as ips.
    return this.frames(map, id).map((f) => ("ip" in f ? name(f.ip) : `0x${f.offset.toString(16)} (build id ${f.buildId})`));
  }

  /** A user stack id: the tgid in the high 32 bits, the stack map's id (an s32) in the low. */
  private userFrames(map: LoadedMap | undefined, value: bigint): string[] {
    const pid = Number(BigInt.asUintN(64, value) >> 32n);
    const user = this.symbolizer();
    // While the process lives, its mappings name its files (a build id frame's too) and its ip frames.
    user.remember(pid);
    return this.frames(map, BigInt.asIntN(32, value)).map((f) => ("ip" in f ? user.symbolize(pid, f.ip) : user.symbolizeBuildId(f.buildId, f.offset)));
  }

  /** The frames under a stack map id; none for a failed id (negative) or one no longer in the map. */
  private frames(map: LoadedMap | undefined, id: bigint): Frame[] {
    if (!map || id < 0n || id > 0xffff_ffffn) return [];
    const value = this.lookup(map.spec.type === MapType.HASH ? this.framesMaps.get(map.name) : map, Number(id));
    return value ? decodeFrames(value, this.buildIds(map)) : [];
  }

  /** The frames under id `id` in a stack trace map or an id -> frames map: one lookup. */
  private lookup(map: LoadedMap | undefined, id: number): Uint8Array | undefined {
    if (!map) return undefined;
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, id, true);
    return this.obj.sys.mapLookup(map.fd, key);
  }
}


function at(value: unknown, path: readonly string[]): unknown {
  let v = value;
  for (const p of path) v = v && typeof v === "object" ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

/** A copy of `value` with `make(pid, address)` at `path` when a usym() value is there; the value itself otherwise. */
function replaceSymbolAt(value: unknown, path: readonly string[], make: (pid: number, address: bigint) => string): unknown {
  if (path.length === 0) {
    const v = value as { address?: unknown; pid?: unknown } | undefined;
    const integer = (x: unknown): x is number | bigint => typeof x === "number" || typeof x === "bigint";
    return v && typeof v === "object" && integer(v.address) && integer(v.pid) ? make(Number(v.pid), BigInt(v.address)) : value;
  }
  if (!value || typeof value !== "object") return value;
  const [first, ...rest] = path;
  const record = value as Record<string, unknown>;
  return { ...record, [first!]: replaceSymbolAt(record[first!], rest, make) };
}

/** A copy of `value` with `make(id)` at `path` when an integer is there; the value itself otherwise. */
function replaceAt(value: unknown, path: readonly string[], make: (id: number | bigint) => Stack): unknown {
  if (path.length === 0) return typeof value === "number" || typeof value === "bigint" ? make(value) : value;
  if (!value || typeof value !== "object") return value;
  const [first, ...rest] = path;
  const record = value as Record<string, unknown>;
  return { ...record, [first!]: replaceAt(record[first!], rest, make) };
}
