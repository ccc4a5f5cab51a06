// An in-memory `Sys` for unit tests of the code above it: no kernel, no koffi.
// Takes the same calls as the real one; gives kernel-like results and errors (maps keep entries with hash, array,
// LRU, per-CPU, queue and stack semantics and the BPF_ANY/NOEXIST/EXIST errors; fds are numbered lowest-free from 3),
// plus scripting (load failures, test-run results, ready fds) and inspection (open fds, perf events, leaks).

import { AttachType, Cmd, Epoll, Errno, LinkType, MapType, PerfIoc, Poll, UpdateFlag } from "./constants.js";
import {
  BpfLoadError,
  SysError,
  type BtfInfo,
  type BtfLoadOptions,
  type EpollEvent,
  type LinkCreateOptions,
  type LinkInfo,
  type MapCreateOptions,
  type MapInfo,
  type Mapping,
  type PerfEventAttr,
  type PerfEventOpenOptions,
  type PollFd,
  type ProgInfo,
  type ProgInfoOptions,
  type ProgLoadOptions,
  type ProgLoadResult,
  type Sys,
  type TestRunOptions,
  type TestRunResult,
} from "./sys.js";

export type FakeFdKind = "map" | "prog" | "link" | "btf" | "perf" | "epoll" | "stats" | "eventfd";

interface FakeMap {
  kind: "map";
  id: number;
  options: MapCreateOptions;
  /** Hash-like maps: hex key → entry, in insertion (LRU: use) order. */
  entries: Map<string, { key: Uint8Array; value: Uint8Array }>;
  /** Array-like maps: one value per index. */
  slots?: Uint8Array[];
  /** Queue and stack maps. */
  items?: Uint8Array[];
  frozen: boolean;
  /** Shared memory for mmap, by offset. */
  memory: Map<number, Uint8Array>;
}

interface FakeProg {
  kind: "prog";
  id: number;
  options: ProgLoadOptions;
}

interface FakeLink {
  kind: "link";
  id: number;
  options: LinkCreateOptions;
  progId: number;
}

interface FakeBtf {
  kind: "btf";
  id: number;
  data: Uint8Array;
}

/** A perf event opened on the fake, for assertions. */
export interface FakePerfEvent {
  kind: "perf";
  attr: PerfEventAttr;
  options: PerfEventOpenOptions;
  /** Program fd given with PERF_EVENT_IOC_SET_BPF. */
  progFd?: number;
  enabled: boolean;
}

interface FakeEpoll {
  kind: "epoll";
  watched: Map<number, { events: number; data: bigint }>;
}

interface FakeStats {
  kind: "stats";
}

interface FakeEventfd {
  kind: "eventfd";
}

type IdObject = FakeMap | FakeProg | FakeLink | FakeBtf;
type FdObject = IdObject | FakePerfEvent | FakeEpoll | FakeStats | FakeEventfd;

/** What a scripted test run gives: a fixed result or a function of the program and input. */
export type FakeTestRun =
  | Partial<TestRunResult>
  | ((prog: { fd: number; options: ProgLoadOptions }, input: TestRunOptions) => Partial<TestRunResult>);

export interface FakeSysOptions {
  /** Default 2. */
  possibleCpus?: number;
  /** Default 4096. */
  pageSize?: number;
  /** Default process.pid. */
  pid?: number;
}

const ARRAY_TYPES: ReadonlySet<number> = new Set([MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.ARRAY_OF_MAPS]);
const PERCPU_TYPES: ReadonlySet<number> = new Set([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH]);
const LRU_TYPES: ReadonlySet<number> = new Set([MapType.LRU_HASH, MapType.LRU_PERCPU_HASH]);
const FIFO_TYPES: ReadonlySet<number> = new Set([MapType.QUEUE, MapType.STACK]);

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex");
const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b);
const fail = (cmd: number | string, errno: number, detail?: string): never => {
  throw new SysError(typeof cmd === "string" ? cmd : `BPF_${Object.entries(Cmd).find(([, v]) => v === cmd)?.[0]}`, errno, detail);
};

export class FakeSys implements Sys {
  private readonly fds = new Map<number, FdObject>();
  private readonly objects = new Map<IdObject, number>(); // object → fd references
  private readonly pinned = new Map<string, IdObject>();
  private readonly mappings = new Map<bigint, { fd: number; length: number }>();
  private readonly nextIds = { map: 1, prog: 1, link: 1, btf: 1 };
  private nextAddress = 0x7f0000000000n;
  private readonly loadFailures: { errno: number; log: string }[] = [];
  private readonly cpus: number;
  private readonly page: number;
  private readonly pid: number;

  /** The result of progTestRun; default retval 0, dataOut = dataIn. */
  testRun: FakeTestRun = {};
  /** The log progLoad gives when asked for one. */
  verifierLog = (o: ProgLoadOptions): string => `processed ${o.insns.length / 8} insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n`;
  /** fds that poll and epoll report as readable. */
  readonly readyFds = new Set<number>();
  /** Every progTestRun call, in order. */
  readonly testRuns: { fd: number; options: TestRunOptions }[] = [];

  constructor(options: FakeSysOptions = {}) {
    this.cpus = options.possibleCpus ?? 2;
    this.page = options.pageSize ?? 4096;
    this.pid = options.pid ?? process.pid;
  }

  // ------------------------------------------------------------ scripting and inspection

  /** Makes the next progLoad fail with this errno and verifier log (queued: one failure per call). */
  failNextProgLoad(errno: number, log: string): void {
    this.loadFailures.push({ errno, log });
  }

  /** Open fds with their kinds, lowest first. */
  openFds(): { fd: number; kind: FakeFdKind }[] {
    return [...this.fds.entries()].sort(([a], [b]) => a - b).map(([fd, o]) => ({ fd, kind: o.kind }));
  }

  /** Human-readable leaks: open fds and live mappings. Empty when everything was closed. */
  leaks(): string[] {
    return [
      ...this.openFds().map(({ fd, kind }) => `fd ${fd} (${kind}) is open`),
      ...[...this.mappings.entries()].map(([addr, m]) => `mapping 0x${addr.toString(16)} of fd ${m.fd} (${m.length} bytes) is mapped`),
    ];
  }

  /** The perf event behind an fd, for assertions about attr and SET_BPF. */
  perfEvent(fd: number): FakePerfEvent | undefined {
    const o = this.fds.get(fd);
    return o?.kind === "perf" ? o : undefined;
  }

  /** The options a link was created with (its target fd, attach type and bpf_cookie), for assertions. */
  link(fd: number): LinkCreateOptions | undefined {
    const o = this.fds.get(fd);
    return o?.kind === "link" ? o.options : undefined;
  }

  /** The options a program was loaded with. */
  program(fd: number): ProgLoadOptions | undefined {
    const o = this.fds.get(fd);
    return o?.kind === "prog" ? o.options : undefined;
  }

  // ------------------------------------------------------------ fd table

  private allocFd(o: FdObject): number {
    let fd = 3;
    while (this.fds.has(fd)) fd++;
    this.fds.set(fd, o);
    if (o.kind === "map" || o.kind === "prog" || o.kind === "link" || o.kind === "btf") this.objects.set(o, (this.objects.get(o) ?? 0) + 1);
    return fd;
  }

  private get<K extends FdObject["kind"]>(fd: number, kind: K, cmd: number | string): Extract<FdObject, { kind: K }> {
    const o = this.fds.get(fd);
    if (!o) return fail(cmd, Errno.EBADF, `fd ${fd} is not open`);
    if (o.kind !== kind) return fail(cmd, Errno.EINVAL, `fd ${fd} is a ${o.kind}, not a ${kind}`);
    return o as Extract<FdObject, { kind: K }>;
  }

  private alive(o: IdObject): boolean {
    return (this.objects.get(o) ?? 0) > 0 || [...this.pinned.values()].includes(o);
  }

  // ------------------------------------------------------------ maps

  mapCreate(o: MapCreateOptions): number {
    const cmd = Cmd.MAP_CREATE;
    if (o.maxEntries <= 0 && o.type !== MapType.USER_RINGBUF) fail(cmd, Errno.EINVAL, "max_entries is 0");
    if (FIFO_TYPES.has(o.type)) {
      if (o.keySize !== 0 || o.valueSize <= 0) fail(cmd, Errno.EINVAL, "queue/stack maps need key_size 0");
    } else if (o.type === MapType.RINGBUF) {
      const pow2 = (o.maxEntries & (o.maxEntries - 1)) === 0;
      if (o.keySize !== 0 || o.valueSize !== 0 || !pow2 || o.maxEntries % this.page !== 0) fail(cmd, Errno.EINVAL, "ringbuf needs key/value size 0 and a power-of-2 page multiple");
    } else if (o.keySize <= 0 || o.valueSize <= 0) fail(cmd, Errno.EINVAL, "key_size and value_size must be positive");
    if (ARRAY_TYPES.has(o.type) && o.keySize !== 4) fail(cmd, Errno.EINVAL, "array maps need key_size 4");
    if ((o.name?.length ?? 0) >= 16 || (o.name && !/^[A-Za-z0-9_.]*$/.test(o.name))) fail(cmd, Errno.EINVAL, `bad map name ${o.name}`);
    const map: FakeMap = { kind: "map", id: this.nextIds.map++, options: { ...o }, entries: new Map(), frozen: false, memory: new Map() };
    if (ARRAY_TYPES.has(o.type)) map.slots = Array.from({ length: o.maxEntries }, () => new Uint8Array(this.valueSize(o)));
    if (FIFO_TYPES.has(o.type)) map.items = [];
    return this.allocFd(map);
  }

  private valueSize(o: MapCreateOptions): number {
    return PERCPU_TYPES.has(o.type) ? ((o.valueSize + 7) & ~7) * this.cpus : o.valueSize;
  }

  private checkKey(cmd: number, map: FakeMap, key: Uint8Array | undefined): void {
    if ((key?.length ?? 0) !== map.options.keySize) fail(cmd, Errno.EINVAL, `key is ${key?.length ?? 0} bytes, map wants ${map.options.keySize}`);
  }

  private index(key: Uint8Array): number {
    return new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
  }

  mapLookup(fd: number, key: Uint8Array, flags = 0): Uint8Array | undefined {
    const cmd = Cmd.MAP_LOOKUP_ELEM;
    const map = this.get(fd, "map", cmd);
    if (flags & ~UpdateFlag.F_LOCK) fail(cmd, Errno.EINVAL, "unknown flags");
    if (map.items) {
      const top = map.options.type === MapType.STACK ? map.items.at(-1) : map.items[0];
      return top && copy(top);
    }
    if (map.options.type === MapType.RINGBUF) fail(cmd, Errno.ENOTSUPP);
    this.checkKey(cmd, map, key);
    if (map.slots) {
      const slot = map.slots[this.index(key)];
      return slot && copy(slot);
    }
    const entry = map.entries.get(hex(key));
    if (!entry) return undefined;
    if (LRU_TYPES.has(map.options.type)) {
      map.entries.delete(hex(key));
      map.entries.set(hex(key), entry);
    }
    return copy(entry.value);
  }

  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags = 0): void {
    const cmd = Cmd.MAP_UPDATE_ELEM;
    const map = this.get(fd, "map", cmd);
    if (map.frozen) fail(cmd, Errno.EPERM, "map is frozen");
    const mode = flags & 3;
    if (mode === 3 || flags & ~7) fail(cmd, Errno.EINVAL, "unknown flags");
    if (value.length !== this.valueSize(map.options)) fail(cmd, Errno.EINVAL, `value is ${value.length} bytes, map wants ${this.valueSize(map.options)}`);
    if (map.items) {
      if (map.items.length >= map.options.maxEntries) {
        if (mode !== UpdateFlag.EXIST) fail(cmd, Errno.E2BIG, "queue/stack is full");
        map.items.shift();
      }
      map.items.push(copy(value));
      return;
    }
    if (map.options.type === MapType.RINGBUF) fail(cmd, Errno.ENOTSUPP);
    this.checkKey(cmd, map, key);
    if (map.slots) {
      const i = this.index(key);
      if (i >= map.slots.length) fail(cmd, Errno.E2BIG, `index ${i} is past max_entries`);
      if (mode === UpdateFlag.NOEXIST) fail(cmd, Errno.EEXIST, "array elements always exist");
      map.slots[i] = copy(value);
      return;
    }
    const k = hex(key);
    const exists = map.entries.has(k);
    if (mode === UpdateFlag.NOEXIST && exists) fail(cmd, Errno.EEXIST);
    if (mode === UpdateFlag.EXIST && !exists) fail(cmd, Errno.ENOENT);
    if (!exists && map.entries.size >= map.options.maxEntries) {
      if (!LRU_TYPES.has(map.options.type)) fail(cmd, Errno.E2BIG, "map is full");
      map.entries.delete(map.entries.keys().next().value!);
    }
    map.entries.delete(k);
    map.entries.set(k, { key: copy(key), value: copy(value) });
  }

  mapDelete(fd: number, key: Uint8Array): void {
    const cmd = Cmd.MAP_DELETE_ELEM;
    const map = this.get(fd, "map", cmd);
    if (map.frozen) fail(cmd, Errno.EPERM, "map is frozen");
    if (map.slots || map.items) fail(cmd, Errno.EINVAL, "cannot delete from this map type");
    this.checkKey(cmd, map, key);
    if (!map.entries.delete(hex(key))) fail(cmd, Errno.ENOENT);
  }

  mapGetNextKey(fd: number, key: Uint8Array | undefined): Uint8Array | undefined {
    const cmd = Cmd.MAP_GET_NEXT_KEY;
    const map = this.get(fd, "map", cmd);
    if (map.items) fail(cmd, Errno.EINVAL);
    if (key) this.checkKey(cmd, map, key);
    if (map.slots) {
      const i = key ? this.index(key) : map.slots.length;
      const next = i >= map.slots.length ? 0 : i + 1;
      if (next >= map.slots.length) return undefined;
      const out = new Uint8Array(4);
      new DataView(out.buffer).setUint32(0, next, true);
      return out;
    }
    const keys = [...map.entries.values()].map((e) => e.key);
    const at = key ? keys.findIndex((k) => hex(k) === hex(key)) : -1;
    // Like the kernel: an absent key restarts from the first one.
    const next = keys[at + 1];
    return next && copy(next);
  }

  mapLookupAndDelete(fd: number, key: Uint8Array | undefined): Uint8Array | undefined {
    const cmd = Cmd.MAP_LOOKUP_AND_DELETE_ELEM;
    const map = this.get(fd, "map", cmd);
    if (map.frozen) fail(cmd, Errno.EPERM, "map is frozen");
    if (map.items) return map.options.type === MapType.STACK ? map.items.pop() : map.items.shift();
    if (map.slots) fail(cmd, Errno.ENOTSUPP);
    this.checkKey(cmd, map, key);
    const k = hex(key!);
    const entry = map.entries.get(k);
    map.entries.delete(k);
    return entry?.value;
  }

  mapFreeze(fd: number): void {
    const map = this.get(fd, "map", Cmd.MAP_FREEZE);
    if (map.frozen) fail(Cmd.MAP_FREEZE, Errno.EBUSY);
    map.frozen = true;
  }

  // ------------------------------------------------------------ programs

  progLoad(o: ProgLoadOptions): ProgLoadResult {
    if (o.insns.length === 0 || o.insns.length % 8 !== 0) fail(Cmd.PROG_LOAD, Errno.EINVAL, "instruction bytes are not a positive multiple of 8");
    const failure = this.loadFailures.shift();
    if (failure) throw new BpfLoadError("BPF_PROG_LOAD", failure.errno, failure.log);
    const prog: FakeProg = { kind: "prog", id: this.nextIds.prog++, options: { ...o, insns: copy(o.insns) } };
    return { fd: this.allocFd(prog), log: o.logLevel ? this.verifierLog(o) : "" };
  }

  progTestRun(fd: number, o: TestRunOptions = {}): TestRunResult {
    const prog = this.get(fd, "prog", Cmd.PROG_TEST_RUN);
    this.testRuns.push({ fd, options: o });
    const r = typeof this.testRun === "function" ? this.testRun({ fd, options: prog.options }, o) : this.testRun;
    return {
      retval: r.retval ?? 0,
      dataOut: r.dataOut ?? copy(o.dataIn ?? new Uint8Array()),
      ctxOut: r.ctxOut ?? copy(o.ctxIn ?? new Uint8Array()),
      duration: r.duration ?? 0,
    };
  }

  // ------------------------------------------------------------ objects

  objGetInfoByFd(fd: number, info: Uint8Array): number {
    const o = this.fds.get(fd);
    if (!o) return fail(Cmd.OBJ_GET_INFO_BY_FD, Errno.EBADF);
    if (o.kind !== "map" && o.kind !== "prog" && o.kind !== "link" && o.kind !== "btf") return fail(Cmd.OBJ_GET_INFO_BY_FD, Errno.EINVAL);
    // Only type and id: the fake has no binary info records beyond that.
    const v = new DataView(info.buffer, info.byteOffset, info.length);
    const type = o.kind === "map" ? o.options.type : o.kind === "prog" ? o.options.type : 0;
    if (o.kind === "btf") {
      if (info.length >= 16) v.setUint32(12, o.id, true);
    } else if (info.length >= 8) {
      v.setUint32(0, type, true);
      v.setUint32(4, o.id, true);
    }
    return Math.min(info.length, 8);
  }

  progInfo(fd: number, o: ProgInfoOptions = {}): ProgInfo {
    const prog = this.get(fd, "prog", Cmd.OBJ_GET_INFO_BY_FD);
    const insns = prog.options.insns;
    const info: ProgInfo = {
      type: prog.options.type,
      id: prog.id,
      tag: prog.id.toString(16).padStart(16, "0"),
      name: (prog.options.name ?? "").slice(0, 15),
      jitedProgLen: insns.length,
      xlatedProgLen: insns.length,
      loadTime: 0n,
      createdByUid: 0,
      nrMapIds: 0,
      gplCompatible: /^(GPL|GPL v2|GPL and additional rights|Dual BSD\/GPL|Dual MIT\/GPL|Dual MPL\/GPL)$/.test(prog.options.license ?? "GPL"),
      btfId: 0,
      nrFuncInfo: 0,
      nrLineInfo: 0,
      runTimeNs: 0n,
      runCnt: 0n,
      recursionMisses: 0n,
      verifiedInsns: insns.length / 8,
      attachBtfObjId: 0,
      attachBtfId: prog.options.attachBtfId ?? 0,
    };
    if (o.xlated) info.xlatedInsns = copy(insns);
    if (o.jited) info.jitedInsns = copy(insns);
    if (o.mapIds) info.mapIds = [];
    return info;
  }

  mapInfo(fd: number): MapInfo {
    const map = this.get(fd, "map", Cmd.OBJ_GET_INFO_BY_FD);
    const m = map.options;
    return {
      type: m.type,
      id: map.id,
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      flags: m.flags ?? 0,
      name: m.name ?? "",
      ifindex: m.ifindex ?? 0,
      btfVmlinuxValueTypeId: m.btfVmlinuxValueTypeId ?? 0,
      btfId: 0,
      btfKeyTypeId: m.btfKeyTypeId ?? 0,
      btfValueTypeId: m.btfValueTypeId ?? 0,
      mapExtra: m.mapExtra ?? 0n,
    };
  }

  linkInfo(fd: number): LinkInfo {
    const link = this.get(fd, "link", Cmd.OBJ_GET_INFO_BY_FD);
    const type = link.options.attachType === AttachType.PERF_EVENT ? LinkType.PERF_EVENT : LinkType.UNSPEC;
    return { type, id: link.id, progId: link.progId };
  }

  btfInfo(fd: number): BtfInfo {
    const btf = this.get(fd, "btf", Cmd.OBJ_GET_INFO_BY_FD);
    return { id: btf.id, btfSize: btf.data.length, name: "", kernelBtf: false };
  }

  private liveOfKind(kind: IdObject["kind"]): IdObject[] {
    const seen = new Set<IdObject>([...this.objects.keys(), ...this.pinned.values()]);
    return [...seen].filter((o) => o.kind === kind && this.alive(o)).sort((a, b) => a.id - b.id);
  }

  private nextId(kind: IdObject["kind"], startId: number): number | undefined {
    return this.liveOfKind(kind).find((o) => o.id > startId)?.id;
  }
  progGetNextId(startId: number): number | undefined {
    return this.nextId("prog", startId);
  }
  mapGetNextId(startId: number): number | undefined {
    return this.nextId("map", startId);
  }
  linkGetNextId(startId: number): number | undefined {
    return this.nextId("link", startId);
  }
  btfGetNextId(startId: number): number | undefined {
    return this.nextId("btf", startId);
  }

  private fdById(kind: IdObject["kind"], cmd: number, id: number): number {
    const o = this.liveOfKind(kind).find((x) => x.id === id);
    if (!o) return fail(cmd, Errno.ENOENT, `no ${kind} with id ${id}`);
    return this.allocFd(o);
  }
  progGetFdById(id: number): number {
    return this.fdById("prog", Cmd.PROG_GET_FD_BY_ID, id);
  }
  mapGetFdById(id: number): number {
    return this.fdById("map", Cmd.MAP_GET_FD_BY_ID, id);
  }
  linkGetFdById(id: number): number {
    return this.fdById("link", Cmd.LINK_GET_FD_BY_ID, id);
  }
  btfGetFdById(id: number): number {
    return this.fdById("btf", Cmd.BTF_GET_FD_BY_ID, id);
  }

  btfLoad(o: BtfLoadOptions): ProgLoadResult {
    // The BTF header starts with magic 0xeb9f; anything else is refused like the kernel does.
    if (o.data.length < 24 || o.data[0] !== 0x9f || o.data[1] !== 0xeb) throw new BpfLoadError("BPF_BTF_LOAD", Errno.EINVAL, "btf_header not found\n");
    const btf: FakeBtf = { kind: "btf", id: this.nextIds.btf++, data: copy(o.data) };
    return { fd: this.allocFd(btf), log: "" };
  }

  linkCreate(o: LinkCreateOptions): number {
    const prog = this.get(o.progFd, "prog", Cmd.LINK_CREATE);
    if (o.attachType === AttachType.PERF_EVENT && this.fds.get(o.targetFd)?.kind !== "perf") fail(Cmd.LINK_CREATE, this.fds.has(o.targetFd) ? Errno.EINVAL : Errno.EBADF);
    return this.allocFd({ kind: "link", id: this.nextIds.link++, options: { ...o }, progId: prog.id });
  }

  rawTracepointOpen(name: string | undefined, progFd: number, cookie?: bigint): number {
    const prog = this.get(progFd, "prog", Cmd.RAW_TRACEPOINT_OPEN);
    // The link keeps its cookie where a perf event link keeps one.
    const options: LinkCreateOptions = { progFd, targetFd: 0, attachType: AttachType.TRACE_RAW_TP, ...(cookie ? { perfEventCookie: cookie } : {}) };
    void name;
    return this.allocFd({ kind: "link", id: this.nextIds.link++, options, progId: prog.id });
  }

  objPin(fd: number, path: string): void {
    const o = this.fds.get(fd);
    if (!o) return fail(Cmd.OBJ_PIN, Errno.EBADF);
    if (o.kind !== "map" && o.kind !== "prog" && o.kind !== "link" && o.kind !== "btf") return fail(Cmd.OBJ_PIN, Errno.EINVAL);
    if (this.pinned.has(path)) fail(Cmd.OBJ_PIN, Errno.EEXIST);
    this.pinned.set(path, o);
  }

  objGet(path: string, flags = 0): number {
    void flags;
    const o = this.pinned.get(path);
    if (!o) return fail(Cmd.OBJ_GET, Errno.ENOENT);
    return this.allocFd(o);
  }

  /** Removes a pin, as unlink(2) on bpffs would. */
  unpin(path: string): void {
    this.pinned.delete(path);
  }

  enableStats(type = 0): number {
    if (type !== 0) fail(Cmd.ENABLE_STATS, Errno.EINVAL);
    return this.allocFd({ kind: "stats" });
  }

  // ------------------------------------------------------------ perf, ioctl, close

  perfEventOpen(attr: PerfEventAttr, options: PerfEventOpenOptions = {}): number {
    const pid = options.pid ?? -1;
    const cpu = options.cpu ?? 0;
    if (pid === -1 && cpu === -1) fail("perf_event_open", Errno.EINVAL, "pid -1 needs a cpu");
    // Only the uprobe PMU has a reference counter, and its offset must fit config's upper 32 bits.
    if (attr.refCtrOffset && (attr.uprobePath === undefined || attr.refCtrOffset < 0 || attr.refCtrOffset >= 2 ** 32)) fail("perf_event_open", Errno.EINVAL, "ref_ctr_offset without a uprobe, or too large");
    return this.allocFd({ kind: "perf", attr: { ...attr }, options: { ...options }, enabled: !((attr.flags ?? 0n) & 1n) });
  }

  ioctl(fd: number, request: number, arg: number | bigint = 0): number {
    const o = this.fds.get(fd);
    if (!o) return fail("ioctl", Errno.EBADF);
    if (o.kind !== "perf") return fail("ioctl", Errno.ENOTTY);
    switch (request) {
      case PerfIoc.SET_BPF: {
        const progFd = Number(arg);
        this.get(progFd, "prog", "ioctl");
        if (o.progFd !== undefined) fail("ioctl", Errno.EEXIST, "a program is already attached");
        o.progFd = progFd;
        return 0;
      }
      case PerfIoc.ENABLE:
        o.enabled = true;
        return 0;
      case PerfIoc.DISABLE:
        o.enabled = false;
        return 0;
      case PerfIoc.RESET:
        return 0;
      default:
        return fail("ioctl", Errno.ENOTTY, `request 0x${request.toString(16)}`);
    }
  }

  close(fd: number): void {
    const o = this.fds.get(fd);
    if (!o) return fail("close", Errno.EBADF);
    this.fds.delete(fd);
    if (o.kind === "map" || o.kind === "prog" || o.kind === "link" || o.kind === "btf") {
      const n = (this.objects.get(o) ?? 1) - 1;
      if (n > 0) this.objects.set(o, n);
      else this.objects.delete(o);
    }
    this.readyFds.delete(fd);
  }

  closeAsync(fd: number): Promise<void> {
    try {
      this.close(fd);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // ------------------------------------------------------------ memory

  mmap(fd: number, length: number, prot: number, offset = 0): Mapping {
    void prot;
    const map = this.get(fd, "map", "mmap");
    if (offset % this.page !== 0 || length <= 0) fail("mmap", Errno.EINVAL);
    let mem = map.memory.get(offset);
    if (!mem || mem.length < length) {
      const grown = new Uint8Array(length);
      if (mem) grown.set(mem);
      mem = grown;
      map.memory.set(offset, mem);
    }
    const address = this.nextAddress;
    this.nextAddress += BigInt(Math.ceil(length / this.page) * this.page);
    this.mappings.set(address, { fd, length });
    return { address, length, bytes: mem.subarray(0, length) };
  }

  munmap(mapping: Mapping): void {
    if (!this.mappings.delete(mapping.address)) fail("munmap", Errno.EINVAL, "not mapped");
  }

  pageSize(): number {
    return this.page;
  }

  possibleCpus(): number {
    return this.cpus;
  }

  // ------------------------------------------------------------ waiting

  poll(fds: readonly PollFd[], timeoutMs: number): number[] {
    void timeoutMs;
    return fds.map((p) => {
      if (!this.fds.has(p.fd)) return Poll.NVAL;
      return this.readyFds.has(p.fd) ? (p.events ?? Poll.IN) & (Poll.IN | Poll.OUT) : 0;
    });
  }

  pollAsync(fds: readonly PollFd[], timeoutMs: number): Promise<number[]> {
    return Promise.resolve(this.poll(fds, timeoutMs));
  }

  eventfd(): number {
    return this.allocFd({ kind: "eventfd" });
  }

  signalEventfd(fd: number): void {
    this.get(fd, "eventfd", "write");
    this.readyFds.add(fd);
  }

  epollCreate(): number {
    return this.allocFd({ kind: "epoll", watched: new Map() });
  }

  epollCtl(epfd: number, op: number, fd: number, events: number, data = 0n): void {
    const ep = this.get(epfd, "epoll", "epoll_ctl");
    if (!this.fds.has(fd)) fail("epoll_ctl", Errno.EBADF);
    if (op === Epoll.CTL_ADD) {
      if (ep.watched.has(fd)) fail("epoll_ctl", Errno.EEXIST);
      ep.watched.set(fd, { events, data });
    } else if (op === Epoll.CTL_MOD) {
      if (!ep.watched.has(fd)) fail("epoll_ctl", Errno.ENOENT);
      ep.watched.set(fd, { events, data });
    } else if (op === Epoll.CTL_DEL) {
      if (!ep.watched.delete(fd)) fail("epoll_ctl", Errno.ENOENT);
    } else fail("epoll_ctl", Errno.EINVAL);
  }

  epollWait(epfd: number, maxEvents: number, timeoutMs: number): EpollEvent[] {
    void timeoutMs;
    const ep = this.get(epfd, "epoll", "epoll_wait");
    if (maxEvents <= 0) fail("epoll_wait", Errno.EINVAL);
    return [...ep.watched.entries()]
      .filter(([fd, w]) => this.readyFds.has(fd) && w.events & Epoll.IN)
      .slice(0, maxEvents)
      .map(([, w]) => ({ events: Epoll.IN, data: w.data }));
  }

  epollWaitAsync(epfd: number, maxEvents: number, timeoutMs: number): Promise<EpollEvent[]> {
    try {
      return Promise.resolve(this.epollWait(epfd, maxEvents, timeoutMs));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  getpid(): number {
    return this.pid;
  }

  pidfdOpen(): number {
    return fail("pidfd_open", Errno.ENOSYS);
  }
}
