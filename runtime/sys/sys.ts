// The one seam between tsbpf and the kernel: the `Sys` interface, its option and result types, and errors.
// Takes nothing; gives types only (plus `SysError`/`BpfLoadError`). `linux.ts` implements it with real
// syscalls, `fake.ts` in memory for unit tests. Byte data is Uint8Array, fds are numbers, 64-bit values bigint.

import { errnoName } from "./constants.js";

// ---------------------------------------------------------------- errors

/** A failed syscall: errno, its name, and which command failed. */
export class SysError extends Error {
  /** Errno name, "EPERM", "ENOENT", ... (`E<n>` for numbers without a name). */
  readonly code: string;

  constructor(
    /** The command: "BPF_MAP_CREATE", "perf_event_open", "ioctl", ... */
    readonly command: string,
    readonly errno: number,
    detail?: string,
  ) {
    const code = errnoName(errno);
    super(`${command} failed: ${code} (errno ${errno})${detail ? `: ${detail}` : ""}`);
    this.name = "SysError";
    this.code = code;
  }
}

/** BPF_PROG_LOAD or BPF_BTF_LOAD refused: the errno plus the verifier's (or BTF checker's) log. */
export class BpfLoadError extends SysError {
  constructor(
    command: string,
    errno: number,
    /** The whole log the kernel wrote; empty when it wrote none. */
    readonly log: string,
  ) {
    super(command, errno, lastLogLine(log));
    this.name = "BpfLoadError";
  }
}

// The verifier's reason ("R0 !read_ok") is the last line before its statistics; worth showing in the message.
function lastLogLine(log: string): string | undefined {
  const lines = log.split("\n").filter((l) => l.trim() !== "" && !/^(processed \d+ insns|verification time|stack depth)/.test(l));
  const last = lines.at(-1);
  return last === undefined ? undefined : last.length > 300 ? `${last.slice(0, 300)}...` : last;
}

// ---------------------------------------------------------------- bpf() option and result types

export interface MapCreateOptions {
  /** MapType value. */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** MapFlag bits. */
  flags?: number;
  /** At most 15 bytes are kept (BPF_OBJ_NAME_LEN - 1); the kernel accepts [A-Za-z0-9_.]. */
  name?: string;
  innerMapFd?: number;
  numaNode?: number;
  ifindex?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  btfVmlinuxValueTypeId?: number;
  mapExtra?: bigint;
}

/** A record array for func_info or line_info: records of `recSize` bytes each. */
export interface BtfExtInfo {
  recSize: number;
  data: Uint8Array;
}

export interface ProgLoadOptions {
  /** ProgType value. */
  type: number;
  /** Encoded instructions, 8 bytes each. */
  insns: Uint8Array;
  /** Default "GPL" (GPL-only helpers need it). */
  license?: string;
  /** LogLevel bits; default 0. A failed load with level 0 is retried once with level 1 so the error carries a log. */
  logLevel?: number;
  /**
   * Log buffer bytes; default 256 KiB. Grown to the size the kernel asks for when it reports ENOSPC, except for the
   * log a failed load without one is retried for: there the end the kernel keeps (Linux 6.4 on) holds the reason.
   */
  logSize?: number;
  /** AttachType value. */
  expectedAttachType?: number;
  /** ProgFlag bits. */
  flags?: number;
  name?: string;
  kernVersion?: number;
  ifindex?: number;
  btfFd?: number;
  funcInfo?: BtfExtInfo;
  lineInfo?: BtfExtInfo;
  attachBtfId?: number;
  /** Module BTF fd (or 0 for vmlinux) for fentry-style programs. */
  attachBtfObjFd?: number;
  /** Target program for freplace (shares the field with attachBtfObjFd). */
  attachProgFd?: number;
  /** fds referred to by index from the instructions (BPF_PSEUDO_MAP_IDX). */
  fdArray?: readonly number[];
}

export interface ProgLoadResult {
  fd: number;
  /** The verifier log (empty with logLevel 0). */
  log: string;
}

export interface BtfLoadOptions {
  data: Uint8Array;
  logLevel?: number;
  logSize?: number;
}

export interface TestRunOptions {
  dataIn?: Uint8Array;
  /** Capacity for the data the program leaves; default dataIn.length + 256. 0 skips copying out. */
  dataSizeOut?: number;
  /** The context; a syscall program's writes to it come back in these bytes (give it repeat: 0 and ctxSizeOut: 0). */
  ctxIn?: Uint8Array;
  /** Capacity for ctx_out; default ctxIn's length (0 without ctxIn). */
  ctxSizeOut?: number;
  /** Runs the program this many times (the duration is the average); default 1 (0 for a syscall program, which runs once). */
  repeat?: number;
  /** TestRunFlag bits. */
  flags?: number;
  cpu?: number;
  batchSize?: number;
}

export interface TestRunResult {
  /** r0 of the last run, as the kernel's u32. */
  retval: number;
  dataOut: Uint8Array;
  ctxOut: Uint8Array;
  /** Average nanoseconds per run. */
  duration: number;
}

export interface ProgInfoOptions {
  /** Also fetch the translated (post-verifier) instructions. */
  xlated?: boolean;
  /** Also fetch the JIT-compiled machine code. */
  jited?: boolean;
  /** Also fetch the ids of the maps the program uses. */
  mapIds?: boolean;
}

export interface ProgInfo {
  type: number;
  id: number;
  /** 8-byte program tag as hex. */
  tag: string;
  name: string;
  jitedProgLen: number;
  xlatedProgLen: number;
  loadTime: bigint;
  createdByUid: number;
  nrMapIds: number;
  gplCompatible: boolean;
  btfId: number;
  nrFuncInfo: number;
  nrLineInfo: number;
  runTimeNs: bigint;
  runCnt: bigint;
  recursionMisses: bigint;
  verifiedInsns: number;
  attachBtfObjId: number;
  attachBtfId: number;
  /** Present when asked with `xlated`. */
  xlatedInsns?: Uint8Array;
  /** Present when asked with `jited`. */
  jitedInsns?: Uint8Array;
  /** Present when asked with `mapIds`. */
  mapIds?: number[];
}

export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  ifindex: number;
  btfVmlinuxValueTypeId: number;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  mapExtra: bigint;
}

export interface LinkInfo {
  /** LinkType value. */
  type: number;
  id: number;
  progId: number;
}

export interface BtfInfo {
  id: number;
  btfSize: number;
  name: string;
  kernelBtf: boolean;
}

export interface LinkCreateOptions {
  progFd: number;
  /** Target fd (perf event, cgroup, ...) or ifindex. */
  targetFd: number;
  /** AttachType value. */
  attachType: number;
  flags?: number;
  targetBtfId?: number;
  /** bpf_cookie for BPF_PERF_EVENT links. */
  perfEventCookie?: bigint;
  /** A BPF_TRACE_UPROBE_MULTI link (Linux 6.6): uprobes at `offsets` of one file, each with its cookie. */
  uprobeMulti?: UprobeMultiOptions;
}

export interface UprobeMultiOptions {
  path: string;
  offsets: readonly bigint[];
  /** bpf_get_attach_cookie()'s value at each offset; default 0. */
  cookies?: readonly bigint[];
  /** BPF_F_UPROBE_MULTI_RETURN (1): return probes. */
  flags: number;
  /** Only this process; 0: every process. */
  pid: number;
}

/** What BPF_*_GET_NEXT_ID walks. */
export type IdKind = "prog" | "map" | "link" | "btf";

// ---------------------------------------------------------------- perf, mmap, poll

export interface PerfEventAttr {
  /** PerfType value or a dynamic PMU's type from /sys/bus/event_source/devices/<pmu>/type. */
  type: number;
  config?: bigint;
  /** Written to config1 unless uprobePath/kprobeFunc is given. */
  config1?: bigint;
  /** Also the probe offset of uprobes and kprobes. */
  config2?: bigint;
  /** The uprobe PMU's file: kept alive for the call and written to config1 as a pointer. */
  uprobePath?: string;
  /** The kprobe PMU's function name: written to config1 as a pointer. */
  kprobeFunc?: string;
  /**
   * The uprobe PMU's reference counter (a USDT semaphore): its file offset in `uprobePath`, ORed into `config`
   * bits 32..63. The kernel increments the counter in each process the probe is in while the event exists.
   */
  refCtrOffset?: number;
  samplePeriod?: bigint;
  sampleType?: bigint;
  readFormat?: bigint;
  /** The bit-field word (PerfAttrFlag bits). */
  flags?: bigint;
  wakeupEvents?: number;
  bpType?: number;
}

export interface PerfEventOpenOptions {
  /** -1 for every process (needs cpu >= 0), 0 for this one. Default -1. */
  pid?: number;
  /** -1 for any CPU (needs pid >= 0). Default 0. */
  cpu?: number;
  groupFd?: number;
  /** PerfFlag bits; default FD_CLOEXEC. */
  flags?: number;
}

/**
 * A shared mapping. `bytes` aliases the kernel's pages: reads see the producer's writes, writes go to the
 * kernel. After munmap the view is detached when the runtime allows it; never keep a copy of it.
 */
export interface Mapping {
  readonly address: bigint;
  readonly length: number;
  readonly bytes: Uint8Array;
}

export interface PollFd {
  fd: number;
  /** Poll bits to wait for; default Poll.IN. */
  events?: number;
}

export interface EpollEvent {
  events: number;
  /** The 64-bit user data given to epollCtl. */
  data: bigint;
}

// ---------------------------------------------------------------- the interface

export interface Sys {
  // bpf(): maps
  /** BPF_MAP_CREATE: a new map's fd. */
  mapCreate(options: MapCreateOptions): number;
  /**
   * BPF_MAP_LOOKUP_ELEM: the value, or undefined when the key is absent (ENOENT).
   * Per-CPU maps give all CPUs' values, each padded to 8 bytes, back to back (possibleCpus() of them).
   */
  mapLookup(fd: number, key: Uint8Array, flags?: number): Uint8Array | undefined;
  /** BPF_MAP_UPDATE_ELEM with UpdateFlag: ANY (default), NOEXIST (EEXIST if present), EXIST (ENOENT if absent). */
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags?: number): void;
  /** BPF_MAP_DELETE_ELEM; throws ENOENT for an absent key (EINVAL on arrays). */
  mapDelete(fd: number, key: Uint8Array): void;
  /** BPF_MAP_GET_NEXT_KEY: the first key for undefined, the next after `key`, undefined at the end. */
  mapGetNextKey(fd: number, key: Uint8Array | undefined): Uint8Array | undefined;
  /**
   * BPF_MAP_LOOKUP_BATCH: up to `count` entries from where `batch` (the previous call's `next`; undefined: the start)
   * left off, values as mapLookup gives them; `next` undefined once the map is read to its end. Absent where the
   * implementation has none; a map type without batch reads throws EINVAL. `remove`: BPF_MAP_LOOKUP_AND_DELETE_BATCH,
   * which deletes each entry it gives (hash maps only).
   */
  mapLookupBatch?(fd: number, batch: Uint8Array | undefined, count: number, remove?: boolean): { keys: Uint8Array[]; values: Uint8Array[]; next: Uint8Array | undefined };
  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM: pops queues/stacks with key undefined; undefined when empty. */
  mapLookupAndDelete(fd: number, key: Uint8Array | undefined): Uint8Array | undefined;
  /** BPF_MAP_FREEZE: no more writes from user space. */
  mapFreeze(fd: number): void;

  // bpf(): programs
  /** BPF_PROG_LOAD; throws BpfLoadError (errno and verifier log) when refused. */
  progLoad(options: ProgLoadOptions): ProgLoadResult;
  /** BPF_PROG_TEST_RUN. */
  progTestRun(fd: number, options?: TestRunOptions): TestRunResult;

  // bpf(): objects
  progInfo(fd: number, options?: ProgInfoOptions): ProgInfo;
  mapInfo(fd: number): MapInfo;
  linkInfo(fd: number): LinkInfo;
  btfInfo(fd: number): BtfInfo;
  /** BPF_OBJ_GET_INFO_BY_FD into `info` (zeroed inputs unless you set pointers); gives the info_len written. */
  objGetInfoByFd(fd: number, info: Uint8Array): number;
  /** BPF_*_GET_NEXT_ID: the next live id after `startId` (0 for the first); undefined after the last. */
  progGetNextId(startId: number): number | undefined;
  mapGetNextId(startId: number): number | undefined;
  linkGetNextId(startId: number): number | undefined;
  btfGetNextId(startId: number): number | undefined;
  /** BPF_*_GET_FD_BY_ID: a new fd for the object; throws SysError ENOENT when it is gone. */
  progGetFdById(id: number): number;
  mapGetFdById(id: number): number;
  linkGetFdById(id: number): number;
  btfGetFdById(id: number): number;
  /** BPF_BTF_LOAD; throws BpfLoadError with the BTF log when refused. */
  btfLoad(options: BtfLoadOptions): ProgLoadResult;
  /** BPF_LINK_CREATE: the link's fd. */
  linkCreate(options: LinkCreateOptions): number;
  /**
   * BPF_RAW_TRACEPOINT_OPEN: attaches a raw tracepoint program, gives the link fd. A nonzero `cookie` is what
   * bpf_get_attach_cookie gives the program (Linux 6.10).
   */
  rawTracepointOpen(name: string | undefined, progFd: number, cookie?: bigint): number;
  /** BPF_OBJ_PIN at a bpffs path. */
  objPin(fd: number, path: string): void;
  /** BPF_OBJ_GET: an fd for a pinned object; flags BPF_F_RDONLY/WRONLY. */
  objGet(path: string, flags?: number): number;
  /** Removes a pin (unlink(2) of the bpffs path); the object lives on while fds or other pins hold it. */
  unpin(path: string): void;
  /** BPF_ENABLE_STATS: run-time stats stay on until the returned fd is closed. */
  enableStats(type?: number): number;

  // perf_event_open, ioctl, close
  perfEventOpen(attr: PerfEventAttr, options?: PerfEventOpenOptions): number;
  /** ioctl with an integer argument (PerfIoc.SET_BPF takes the program fd, ENABLE/DISABLE 0). */
  ioctl(fd: number, request: number, arg?: number | bigint): number;
  close(fd: number): void;
  /**
   * close(2) on a worker thread. Closing a tracing perf event or link waits in the kernel for RCU grace periods
   * (50-100 ms each here); closes started together overlap those waits instead of adding them up.
   */
  closeAsync(fd: number): Promise<void>;

  // memory
  /** mmap(NULL, length, prot, MAP_SHARED, fd, offset). */
  mmap(fd: number, length: number, prot: number, offset?: number): Mapping;
  munmap(mapping: Mapping): void;
  pageSize(): number;
  /** Number of possible CPUs: the per-CPU map value multiplier. */
  possibleCpus(): number;

  // waiting
  /**
   * poll() on the calling thread: returns revents per entry. Use timeoutMs 0 on the main thread;
   * a positive timeout blocks the event loop for up to that long.
   */
  poll(fds: readonly PollFd[], timeoutMs: number): number[];
  /** poll() on a worker thread: the event loop keeps running. Resolves with revents per entry. */
  pollAsync(fds: readonly PollFd[], timeoutMs: number): Promise<number[]>;
  epollCreate(): number;
  /** epoll_ctl with Epoll.CTL_ADD/MOD/DEL; `data` comes back in EpollEvent.data. */
  epollCtl(epfd: number, op: number, fd: number, events: number, data?: bigint): void;
  /** epoll_wait on the calling thread (same event-loop caveat as poll). */
  epollWait(epfd: number, maxEvents: number, timeoutMs: number): EpollEvent[];
  /** epoll_wait on a worker thread. */
  epollWaitAsync(epfd: number, maxEvents: number, timeoutMs: number): Promise<EpollEvent[]>;
  /** An eventfd (non-blocking, close-on-exec): a poll waiting on it returns once it is signalled. Closed with close(). */
  eventfd(): number;
  /** Makes an eventfd readable, waking a poll on another thread at once. */
  signalEventfd(fd: number): void;
  /** pidfd_open (Linux 5.3): an fd for the process, readable (Poll.IN) once it has exited. Closed with close(). */
  pidfdOpen(pid: number): number;

  getpid(): number;
}
