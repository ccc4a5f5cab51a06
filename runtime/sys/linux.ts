// The real `Sys`: bpf(2), perf_event_open(2), ioctl, mmap, poll and epoll through koffi into libc.
// Takes option objects from sys.ts; gives fds, bytes and typed results, or throws SysError/BpfLoadError.
// koffi is loaded on first use, so importing tsbpf never touches native code. Attribute layouts follow
// include/uapi/linux/bpf.h (union bpf_attr, 152 bytes in 6.12) and perf_event.h (perf_event_attr, 128 bytes).

import { readFileSync, unlinkSync, writeSync } from "node:fs";
import { Cmd, Errno, LogLevel, MapMem, MapType, PERF_ATTR_SIZE, PERF_UPROBE_REF_CTR_OFFSET_SHIFT, PerfFlag, Poll, Prot, SyscallNr } from "./constants.js";
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
import { native as loadNative, type Koffi } from "./native.js";

type NativeFn = ((...args: unknown[]) => number) & { async: (...args: unknown[]) => void };

interface Ffi {
  koffi: Koffi;
  bpf: NativeFn;
  perfEventOpen: NativeFn;
  ioctl: NativeFn;
  close: NativeFn;
  mmap: (...args: unknown[]) => unknown;
  munmap: NativeFn;
  poll: NativeFn;
  epollCreate1: NativeFn;
  epollCtl: NativeFn;
  epollWait: NativeFn;
  getpid: NativeFn;
  sysconf: NativeFn;
  eventfd: NativeFn;
  pidfdOpen: NativeFn;
  /** pthread_sigmask, or undefined where libc has none to be had. */
  sigmask: NativeFn | undefined;
}

let ffi: Ffi | undefined;

/** What signalEventfd adds to an eventfd's counter: a u64 1. */
const EVENTFD_ONE = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);

// Loaded with require so that the first syscall can stay synchronous.
function native(): Ffi {
  if (ffi) return ffi;
  const { koffi, libc } = loadNative();
  const fn = (f: unknown) => f as NativeFn;
  // The variadic syscall() and ioctl() are declared with fixed integer arguments: on x86-64 that is the same call.
  ffi = {
    koffi,
    bpf: fn(libc.func("syscall", "long", ["long", "int", "uint64", "uint"])),
    perfEventOpen: fn(libc.func("syscall", "long", ["long", "uint64", "int", "int", "int", "ulong"])),
    pidfdOpen: fn(libc.func("syscall", "long", ["long", "int", "uint"])),
    ioctl: fn(libc.func("ioctl", "int", ["int", "ulong", "uint64"])),
    close: fn(libc.func("int close(int fd)")),
    mmap: libc.func("mmap", "void *", ["uint64", "size_t", "int", "int", "int", "int64"]),
    munmap: fn(libc.func("munmap", "int", ["uint64", "size_t"])),
    poll: fn(libc.func("poll", "int", ["uint64", "ulong", "int"])),
    epollCreate1: fn(libc.func("int epoll_create1(int flags)")),
    epollCtl: fn(libc.func("epoll_ctl", "int", ["int", "int", "int", "uint64"])),
    epollWait: fn(libc.func("epoll_wait", "int", ["int", "uint64", "int", "int"])),
    getpid: fn(libc.func("int getpid()")),
    sysconf: fn(libc.func("long sysconf(int name)")),
    eventfd: fn(libc.func("int eventfd(unsigned int initval, int flags)")),
    sigmask: optional(() => fn(libc.func("int pthread_sigmask(int how, void *set, void *oldset)"))),
  };
  return ffi;
}

function optional<T>(make: () => T): T | undefined {
  try {
    return make();
  } catch {
    return undefined;
  }
}

const SIG_BLOCK = 0;
const SIG_SETMASK = 2;
/** glibc's sigset_t: 1,024 bits, of which the kernel reads the first 64. */
const SIGSET_BYTES = 128;
/** Every signal but SIGHUP (1), SIGINT (2), SIGQUIT (3) and SIGTERM (15), the signals that end a run. */
const ALL_BUT_ENDING = (() => {
  const set = Buffer.alloc(SIGSET_BYTES);
  set.writeBigUInt64LE(~((1n << 0n) | (1n << 1n) | (1n << 2n) | (1n << 14n)) & 0xffff_ffff_ffff_ffffn);
  return set;
})();

/**
 * Blocks every signal but those that end a run in this thread (they go to Node's other threads, or wait): a signal
 * arriving while the kernel's verifier runs ends the load with EAGAIN, so that then only Ctrl-C and its kind can.
 * Gives what restores the thread's mask, or undefined when nothing could be blocked.
 */
function blockAllButEndingSignals(): (() => void) | undefined {
  const sigmask = native().sigmask;
  const old = Buffer.alloc(SIGSET_BYTES);
  if (sigmask === undefined || sigmask(SIG_BLOCK, ALL_BUT_ENDING, old) !== 0) return undefined;
  return () => sigmask(SIG_SETMASK, old, null);
}

/**
 * pthread_create() with libc's close() as the thread's start routine and the fd as its argument: on x86-64 and
 * arm64 (the architectures tsbpf runs on) a `void *` argument and result travel in the registers an `int` does.
 */
interface CloseThreads {
  create: NativeFn;
  join: NativeFn;
  close: unknown;
  attr: Buffer;
}

let threads: CloseThreads | null | undefined;
let closesJoined: Promise<unknown> = Promise.resolve();

function closeThreads(): CloseThreads | null {
  if (threads !== undefined) return threads;
  threads = null;
  if (process.arch !== "x64" && process.arch !== "arm64") return threads;
  try {
    const { libc } = loadNative();
    const dlsym = libc.func("void *dlsym(void *handle, const char *symbol)") as (handle: null, name: string) => unknown;
    const close = dlsym(null, "close");
    // pthread_attr_t is 56 bytes on x86-64 and 64 on arm64; a small stack, since close() needs little of one.
    const attr = Buffer.alloc(128);
    if (!close || (libc.func("int pthread_attr_init(void *attr)") as NativeFn)(attr) !== 0) return threads;
    (libc.func("int pthread_attr_setstacksize(void *attr, size_t size)") as NativeFn)(attr, 256 * 1024);
    threads = {
      create: libc.func("int pthread_create(void *thread, void *attr, void *start, intptr_t arg)") as NativeFn,
      join: libc.func("int pthread_join(uint64_t thread, void *result)") as NativeFn,
      close,
      attr,
    };
  } catch {
    // No pthread functions to be had (another libc): closes go to koffi's worker threads.
  }
  return threads;
}

/** Waits for a close thread; its result is close()'s (an int in the low half), and -1 a failure whose errno went with it. */
function joinClose(t: CloseThreads, tid: bigint): Promise<void> {
  const result = Buffer.alloc(8);
  return new Promise((resolve, reject) => {
    t.join.async(tid, result, (err: unknown, r: number) => {
      if (err) return reject(err);
      if (r !== 0) return reject(new SysError("pthread_join", r));
      if (result.readInt32LE(0) < 0) return reject(new SysError("close", Errno.EIO, "close(2) on a detaching thread failed"));
      resolve();
    });
  });
}

const ASYNC_SLOTS = 64;
let asyncCalls = 0;
const asyncWaiting: (() => void)[] = [];

/** Runs `call` once fewer than ASYNC_SLOTS such calls are in flight. */
async function withAsyncSlot<T>(call: () => Promise<T>): Promise<T> {
  if (asyncCalls >= ASYNC_SLOTS) await new Promise<void>((resolve) => asyncWaiting.push(resolve));
  asyncCalls++;
  try {
    return await call();
  } finally {
    asyncCalls--;
    asyncWaiting.shift()?.();
  }
}

const address = (buf: Uint8Array): bigint => native().koffi.address(buf);
const errno = (): number => native().koffi.errno();

const cmdNames = new Map<number, string>();
for (const [name, n] of Object.entries(Cmd)) if (!cmdNames.has(n)) cmdNames.set(n, `BPF_${name}`);
const cmdName = (cmd: number): string => cmdNames.get(cmd) ?? `bpf cmd ${cmd}`;

const BPF_ATTR_SIZE = 152;
const BPF_OBJ_NAME_LEN = 16;
const PROG_INFO_SIZE = 232;
const MAP_INFO_SIZE = 88;
const LINK_INFO_SIZE = 64;
const BTF_INFO_SIZE = 32;
const DEFAULT_LOG_SIZE = 256 * 1024;
// The kernel refuses log_size above UINT_MAX >> 2.
const MAX_LOG_SIZE = 0x3fffffff;
/** The largest ArrayBuffer Node makes (4 GiB on Node 20), so the largest mapping one view can show. */
const MAX_VIEW_BYTES = 2 ** 32;

/** A zeroed attribute block plus the buffers its pointers refer to, held until the call has returned. */
class Attr {
  readonly bytes: Buffer;
  readonly view: DataView;
  private readonly held: Uint8Array[] = [];

  constructor(size: number) {
    this.bytes = Buffer.alloc(size);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, size);
  }
  u16(off: number, v: number): this {
    this.view.setUint16(off, v, true);
    return this;
  }
  u32(off: number, v: number): this {
    this.view.setUint32(off, v >>> 0, true);
    return this;
  }
  u64(off: number, v: bigint): this {
    this.view.setBigUint64(off, BigInt.asUintN(64, v), true);
    return this;
  }
  /** Writes a buffer's address (0 for undefined or empty) and keeps the buffer alive. */
  ptr(off: number, buf: Uint8Array | undefined): this {
    if (!buf || buf.length === 0) return this.u64(off, 0n);
    this.held.push(buf);
    return this.u64(off, address(buf));
  }
  /** A NUL-terminated copy of `s` at `off`, truncated to fit `max` bytes. */
  name(off: number, s: string | undefined, max = BPF_OBJ_NAME_LEN): this {
    if (s) Buffer.from(s, "utf8").subarray(0, max - 1).copy(this.bytes, off);
    return this;
  }
  getU32(off: number): number {
    return this.view.getUint32(off, true);
  }
  /** Drops the references; called after the syscall returns, which is what keeps them reachable until then. */
  release(): void {
    this.held.length = 0;
  }
}

function cString(s: string): Buffer {
  return Buffer.from(`${s}\0`, "utf8");
}

function decodeCString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(bytes.buffer, bytes.byteOffset, end < 0 ? bytes.length : end).toString("utf8");
}

function bpfCall(cmd: number, attr: Attr): number {
  const f = native();
  try {
    const r = f.bpf(SyscallNr.BPF, cmd, address(attr.bytes), attr.bytes.length);
    if (r < 0) throw new SysError(cmdName(cmd), f.koffi.errno());
    return r;
  } finally {
    attr.release();
  }
}

/** The same as bpfCall, but ENOENT comes back as undefined. */
function bpfCallOrMissing(cmd: number, attr: Attr): number | undefined {
  try {
    return bpfCall(cmd, attr);
  } catch (e) {
    if (e instanceof SysError && e.errno === Errno.ENOENT) return undefined;
    throw e;
  }
}

function check(command: string, r: number): number {
  if (r < 0) throw new SysError(command, errno());
  return r;
}

const PERCPU_TYPES: ReadonlySet<number> = new Set([
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_PERCPU_HASH,
  MapType.PERCPU_CGROUP_STORAGE,
]);

interface MapShape {
  type: number;
  keySize: number;
  valueSize: number;
}

export class LinuxSys implements Sys {
  // Map shapes by fd so that lookups know the buffer sizes without asking the kernel each time.
  private readonly shapes = new Map<number, MapShape>();
  private cpus: number | undefined;
  private page: number | undefined;

  // ------------------------------------------------------------ maps

  mapCreate(o: MapCreateOptions): number {
    const a = new Attr(BPF_ATTR_SIZE)
      .u32(0, o.type)
      .u32(4, o.keySize)
      .u32(8, o.valueSize)
      .u32(12, o.maxEntries)
      .u32(16, o.flags ?? 0)
      .u32(20, o.innerMapFd ?? 0)
      .u32(24, o.numaNode ?? 0)
      .name(28, o.name)
      .u32(44, o.ifindex ?? 0)
      .u32(48, o.btfFd ?? 0)
      .u32(52, o.btfKeyTypeId ?? 0)
      .u32(56, o.btfValueTypeId ?? 0)
      .u32(60, o.btfVmlinuxValueTypeId ?? 0)
      .u64(64, o.mapExtra ?? 0n);
    const fd = bpfCall(Cmd.MAP_CREATE, a);
    this.shapes.set(fd, { type: o.type, keySize: o.keySize, valueSize: o.valueSize });
    return fd;
  }

  private shape(fd: number): MapShape {
    let s = this.shapes.get(fd);
    if (!s) {
      const info = this.mapInfo(fd);
      s = { type: info.type, keySize: info.keySize, valueSize: info.valueSize };
      this.shapes.set(fd, s);
    }
    return s;
  }

  private valueBuffer(s: MapShape): Buffer {
    const size = PERCPU_TYPES.has(s.type) ? ((s.valueSize + 7) & ~7) * this.possibleCpus() : s.valueSize;
    return Buffer.alloc(size);
  }

  private elemAttr(fd: number, key: Uint8Array | undefined, value: Uint8Array | undefined, flags: number): Attr {
    return new Attr(BPF_ATTR_SIZE).u32(0, fd).ptr(8, key).ptr(16, value).u64(24, BigInt(flags));
  }

  mapLookup(fd: number, key: Uint8Array, flags = 0): Uint8Array | undefined {
    const value = this.valueBuffer(this.shape(fd));
    const found = bpfCallOrMissing(Cmd.MAP_LOOKUP_ELEM, this.elemAttr(fd, key, value, flags));
    return found === undefined ? undefined : value;
  }

  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags = 0): void {
    bpfCall(Cmd.MAP_UPDATE_ELEM, this.elemAttr(fd, key, value, flags));
  }

  mapDelete(fd: number, key: Uint8Array): void {
    bpfCall(Cmd.MAP_DELETE_ELEM, this.elemAttr(fd, key, undefined, 0));
  }

  mapGetNextKey(fd: number, key: Uint8Array | undefined): Uint8Array | undefined {
    const next = Buffer.alloc(this.shape(fd).keySize);
    const found = bpfCallOrMissing(Cmd.MAP_GET_NEXT_KEY, this.elemAttr(fd, key, next, 0));
    return found === undefined ? undefined : next;
  }

  mapLookupBatch(fd: number, batch: Uint8Array | undefined, count: number, remove = false): { keys: Uint8Array[]; values: Uint8Array[]; next: Uint8Array | undefined } {
    const s = this.shape(fd);
    const valueSize = this.valueBuffer(s).length;
    const [keys, values] = [Buffer.alloc(s.keySize * count), Buffer.alloc(valueSize * count)];
    // A hash map's position is a u32 bucket; an array's, a key.
    const next = Buffer.alloc(Math.max(4, s.keySize));
    // struct bpf_attr's batch: in_batch, out_batch, keys, values, count, map_fd, elem_flags, flags.
    const attr = new Attr(BPF_ATTR_SIZE).ptr(0, batch).ptr(8, next).ptr(16, keys).ptr(24, values).u32(32, count).u32(36, fd);
    const more = bpfCallOrMissing(remove ? Cmd.MAP_LOOKUP_AND_DELETE_BATCH : Cmd.MAP_LOOKUP_BATCH, attr) !== undefined;
    const n = attr.getU32(32);
    const slice = (b: Buffer, size: number) => Array.from({ length: n }, (_, i) => b.subarray(i * size, (i + 1) * size));
    return { keys: slice(keys, s.keySize), values: slice(values, valueSize), next: more ? next : undefined };
  }

  mapLookupAndDelete(fd: number, key: Uint8Array | undefined): Uint8Array | undefined {
    const value = this.valueBuffer(this.shape(fd));
    const found = bpfCallOrMissing(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, this.elemAttr(fd, key, value, 0));
    return found === undefined ? undefined : value;
  }

  mapFreeze(fd: number): void {
    bpfCall(Cmd.MAP_FREEZE, new Attr(BPF_ATTR_SIZE).u32(0, fd));
  }

  // ------------------------------------------------------------ programs

  progLoad(o: ProgLoadOptions): ProgLoadResult {
    if (o.insns.length === 0 || o.insns.length % 8 !== 0) {
      throw new SysError("BPF_PROG_LOAD", Errno.EINVAL, `instruction bytes ${o.insns.length} are not a positive multiple of 8`);
    }
    const level = o.logLevel ?? LogLevel.NONE;
    try {
      return this.progLoadOnce(o, level, o.logSize ?? DEFAULT_LOG_SIZE);
    } catch (e) {
      // Without a log, or with statistics only (no instruction lines, so no rejected instruction), the error says
      // little: ask again with the instructions logged. A load that fails twice fails the same way; one a signal ended
      // (EAGAIN) is not asked again.
      if ((level & (LogLevel.BRANCHES | LogLevel.INSNS)) !== 0 || !(e instanceof BpfLoadError) || e.errno === Errno.EAGAIN) throw e;
      let retried: ProgLoadResult;
      try {
        retried = this.progLoadOnce(o, level | LogLevel.BRANCHES, o.logSize ?? DEFAULT_LOG_SIZE, 5, true);
      } catch (e2) {
        // A signal that ended the second load ends the loading: its partial log is no reason.
        if (e2 instanceof BpfLoadError && e2.errno === Errno.EAGAIN) throw e2;
        throw e2 instanceof BpfLoadError ? new BpfLoadError(e.command, e.errno, e2.log) : e;
      }
      this.close(retried.fd);
      throw e;
    }
  }

  /**
   * A signal arriving while the verifier runs fails the load with EAGAIN. Only the signals that end a run can arrive
   * (blockAllButEndingSignals), and then the load is not tried again; where no others can be blocked, a load is tried up
   * to five times, as libbpf tries it.
   */
  private progLoadOnce(o: ProgLoadOptions, level: number, logSize: number, attempts = 5, reasonOnly = false): ProgLoadResult {
    const log = level === LogLevel.NONE ? undefined : Buffer.alloc(logSize);
    const license = cString(o.license ?? "GPL");
    const fdArray = o.fdArray?.length ? Buffer.from(Int32Array.from(o.fdArray).buffer) : undefined;
    const a = new Attr(BPF_ATTR_SIZE)
      .u32(0, o.type)
      .u32(4, o.insns.length / 8)
      .ptr(8, o.insns)
      .ptr(16, license)
      .u32(24, log ? level : 0)
      .u32(28, log ? logSize : 0)
      .ptr(32, log)
      .u32(40, o.kernVersion ?? 0)
      .u32(44, o.flags ?? 0)
      .name(48, o.name)
      .u32(64, o.ifindex ?? 0)
      .u32(68, o.expectedAttachType ?? 0)
      .u32(72, o.btfFd ?? 0)
      .u32(108, o.attachBtfId ?? 0)
      .u32(112, o.attachProgFd ?? o.attachBtfObjFd ?? 0)
      .ptr(120, fdArray);
    if (o.funcInfo) a.u32(76, o.funcInfo.recSize).ptr(80, o.funcInfo.data).u32(88, o.funcInfo.data.length / o.funcInfo.recSize);
    if (o.lineInfo) a.u32(92, o.lineInfo.recSize).ptr(96, o.lineInfo.data).u32(104, o.lineInfo.data.length / o.lineInfo.recSize);
    const restoreSignals = blockAllButEndingSignals();
    try {
      const fd = bpfCall(Cmd.PROG_LOAD, a);
      return { fd, log: log ? decodeCString(log) : "" };
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      // ENOSPC with a log: the buffer was too small; the kernel says how much it needed (log_true_size). A log wanted
      // only for a failed load's reason is not asked for again: such a kernel keeps the log's end, where the reason
      // is, and a large program's whole log is tens of megabytes and another full check.
      const needed = a.getU32(140);
      if (log && e.errno === Errno.ENOSPC && needed > logSize && reasonOnly) {
        throw new BpfLoadError("BPF_PROG_LOAD", e.errno, `... (the verifier log's first ${needed - logSize} bytes are left out)\n${decodeCString(log)}`);
      }
      if (log && e.errno === Errno.ENOSPC && needed > logSize && logSize < MAX_LOG_SIZE) {
        return this.progLoadOnce(o, level, Math.min(needed, MAX_LOG_SIZE), attempts);
      }
      if (e.errno === Errno.EAGAIN && !restoreSignals && attempts > 1) return this.progLoadOnce(o, level, logSize, attempts - 1, reasonOnly);
      throw new BpfLoadError("BPF_PROG_LOAD", e.errno, log ? decodeCString(log) : "");
    } finally {
      restoreSignals?.();
    }
  }

  progTestRun(fd: number, o: TestRunOptions = {}): TestRunResult {
    const dataIn = o.dataIn;
    const dataOut = Buffer.alloc(o.dataSizeOut ?? (dataIn ? dataIn.length + 256 : 0));
    const ctxOut = Buffer.alloc(o.ctxSizeOut ?? o.ctxIn?.length ?? 0);
    const a = new Attr(BPF_ATTR_SIZE)
      .u32(0, fd)
      .u32(8, dataIn?.length ?? 0)
      .u32(12, dataOut.length)
      .ptr(16, dataIn)
      .ptr(24, dataOut)
      .u32(32, o.repeat ?? 1)
      .u32(40, o.ctxIn?.length ?? 0)
      .u32(44, ctxOut.length)
      .ptr(48, o.ctxIn)
      .ptr(56, ctxOut)
      .u32(64, o.flags ?? 0)
      .u32(68, o.cpu ?? 0)
      .u32(72, o.batchSize ?? 0);
    bpfCall(Cmd.PROG_TEST_RUN, a);
    return {
      retval: a.getU32(4),
      dataOut: dataOut.subarray(0, Math.min(a.getU32(12), dataOut.length)),
      ctxOut: ctxOut.subarray(0, Math.min(a.getU32(44), ctxOut.length)),
      duration: a.getU32(36),
    };
  }

  // ------------------------------------------------------------ objects

  objGetInfoByFd(fd: number, info: Uint8Array): number {
    const a = new Attr(BPF_ATTR_SIZE).u32(0, fd).u32(4, info.length).ptr(8, info);
    bpfCall(Cmd.OBJ_GET_INFO_BY_FD, a);
    return a.getU32(4);
  }

  progInfo(fd: number, o: ProgInfoOptions = {}): ProgInfo {
    const buf = Buffer.alloc(PROG_INFO_SIZE);
    this.objGetInfoByFd(fd, buf);
    const v = new DataView(buf.buffer, buf.byteOffset, buf.length);
    const u32 = (off: number) => v.getUint32(off, true);
    const u64 = (off: number) => v.getBigUint64(off, true);
    const info: ProgInfo = {
      type: u32(0),
      id: u32(4),
      tag: buf.subarray(8, 16).toString("hex"),
      jitedProgLen: u32(16),
      xlatedProgLen: u32(20),
      loadTime: u64(40),
      createdByUid: u32(48),
      nrMapIds: u32(52),
      name: decodeCString(buf.subarray(64, 80)),
      gplCompatible: (u32(84) & 1) === 1,
      btfId: u32(128),
      nrFuncInfo: u32(144),
      nrLineInfo: u32(148),
      runTimeNs: u64(192),
      runCnt: u64(200),
      recursionMisses: u64(208),
      verifiedInsns: u32(216),
      attachBtfObjId: u32(220),
      attachBtfId: u32(224),
    };
    if (o.xlated || o.jited || o.mapIds) {
      // Second call: only the lengths and pointers of what we want back are set, everything else zero.
      const xlated = o.xlated ? Buffer.alloc(info.xlatedProgLen) : undefined;
      const jited = o.jited ? Buffer.alloc(info.jitedProgLen) : undefined;
      const mapIds = o.mapIds ? Buffer.alloc(info.nrMapIds * 4) : undefined;
      const req = new Attr(PROG_INFO_SIZE);
      if (jited) req.u32(16, jited.length).ptr(24, jited);
      if (xlated) req.u32(20, xlated.length).ptr(32, xlated);
      if (mapIds) req.u32(52, info.nrMapIds).ptr(56, mapIds);
      try {
        this.objGetInfoByFd(fd, req.bytes);
      } finally {
        req.release();
      }
      if (xlated) info.xlatedInsns = xlated.subarray(0, Math.min(req.getU32(20), xlated.length));
      if (jited) info.jitedInsns = jited.subarray(0, Math.min(req.getU32(16), jited.length));
      if (mapIds) {
        const n = Math.min(req.getU32(52), info.nrMapIds);
        info.mapIds = Array.from({ length: n }, (_, i) => mapIds.readUInt32LE(i * 4));
      }
    }
    return info;
  }

  mapInfo(fd: number): MapInfo {
    const buf = Buffer.alloc(MAP_INFO_SIZE);
    this.objGetInfoByFd(fd, buf);
    return {
      type: buf.readUInt32LE(0),
      id: buf.readUInt32LE(4),
      keySize: buf.readUInt32LE(8),
      valueSize: buf.readUInt32LE(12),
      maxEntries: buf.readUInt32LE(16),
      flags: buf.readUInt32LE(20),
      name: decodeCString(buf.subarray(24, 40)),
      ifindex: buf.readUInt32LE(40),
      btfVmlinuxValueTypeId: buf.readUInt32LE(44),
      btfId: buf.readUInt32LE(64),
      btfKeyTypeId: buf.readUInt32LE(68),
      btfValueTypeId: buf.readUInt32LE(72),
      mapExtra: buf.readBigUInt64LE(80),
    };
  }

  linkInfo(fd: number): LinkInfo {
    const buf = Buffer.alloc(LINK_INFO_SIZE);
    this.objGetInfoByFd(fd, buf);
    return { type: buf.readUInt32LE(0), id: buf.readUInt32LE(4), progId: buf.readUInt32LE(8) };
  }

  btfInfo(fd: number): BtfInfo {
    const name = Buffer.alloc(64);
    const req = new Attr(BTF_INFO_SIZE).ptr(16, name).u32(24, name.length);
    try {
      this.objGetInfoByFd(fd, req.bytes);
    } finally {
      req.release();
    }
    return { btfSize: req.getU32(8), id: req.getU32(12), name: decodeCString(name), kernelBtf: req.getU32(28) !== 0 };
  }

  private nextId(cmd: number, startId: number): number | undefined {
    const a = new Attr(BPF_ATTR_SIZE).u32(0, startId);
    return bpfCallOrMissing(cmd, a) === undefined ? undefined : a.getU32(4);
  }
  progGetNextId(startId: number): number | undefined {
    return this.nextId(Cmd.PROG_GET_NEXT_ID, startId);
  }
  mapGetNextId(startId: number): number | undefined {
    return this.nextId(Cmd.MAP_GET_NEXT_ID, startId);
  }
  linkGetNextId(startId: number): number | undefined {
    return this.nextId(Cmd.LINK_GET_NEXT_ID, startId);
  }
  btfGetNextId(startId: number): number | undefined {
    return this.nextId(Cmd.BTF_GET_NEXT_ID, startId);
  }

  private fdById(cmd: number, id: number): number {
    const fd = bpfCall(cmd, new Attr(BPF_ATTR_SIZE).u32(0, id));
    this.shapes.delete(fd);
    return fd;
  }
  progGetFdById(id: number): number {
    return this.fdById(Cmd.PROG_GET_FD_BY_ID, id);
  }
  mapGetFdById(id: number): number {
    return this.fdById(Cmd.MAP_GET_FD_BY_ID, id);
  }
  linkGetFdById(id: number): number {
    return this.fdById(Cmd.LINK_GET_FD_BY_ID, id);
  }
  btfGetFdById(id: number): number {
    return this.fdById(Cmd.BTF_GET_FD_BY_ID, id);
  }

  btfLoad(o: BtfLoadOptions): ProgLoadResult {
    const level = o.logLevel ?? LogLevel.NONE;
    const attempt = (lvl: number, size: number): ProgLoadResult => {
      const log = lvl === LogLevel.NONE ? undefined : Buffer.alloc(size);
      const a = new Attr(BPF_ATTR_SIZE)
        .ptr(0, o.data)
        .ptr(8, log)
        .u32(16, o.data.length)
        .u32(20, log ? size : 0)
        .u32(24, log ? lvl : 0);
      try {
        return { fd: bpfCall(Cmd.BTF_LOAD, a), log: log ? decodeCString(log) : "" };
      } catch (e) {
        if (!(e instanceof SysError)) throw e;
        const needed = a.getU32(28);
        if (log && e.errno === Errno.ENOSPC && needed > size && size < MAX_LOG_SIZE) return attempt(lvl, Math.min(needed, MAX_LOG_SIZE));
        throw new BpfLoadError("BPF_BTF_LOAD", e.errno, log ? decodeCString(log) : "");
      }
    };
    try {
      return attempt(level, o.logSize ?? DEFAULT_LOG_SIZE);
    } catch (e) {
      if (level !== LogLevel.NONE || !(e instanceof BpfLoadError)) throw e;
      let retried: ProgLoadResult;
      try {
        retried = attempt(LogLevel.BRANCHES, o.logSize ?? DEFAULT_LOG_SIZE);
      } catch (e2) {
        throw e2 instanceof BpfLoadError ? new BpfLoadError(e.command, e.errno, e2.log) : e;
      }
      this.close(retried.fd);
      throw e;
    }
  }

  linkCreate(o: LinkCreateOptions): number {
    const a = new Attr(BPF_ATTR_SIZE).u32(0, o.progFd).u32(4, o.targetFd).u32(8, o.attachType).u32(12, o.flags ?? 0);
    if (o.perfEventCookie !== undefined) a.u64(16, o.perfEventCookie);
    else if (o.targetBtfId !== undefined) a.u32(16, o.targetBtfId);
    else if (o.uprobeMulti) {
      const m = o.uprobeMulti;
      const u64s = (values: readonly bigint[]): Uint8Array => {
        const out = new Uint8Array(8 * values.length);
        const view = new DataView(out.buffer);
        values.forEach((v, i) => view.setBigUint64(8 * i, v, true));
        return out;
      };
      a.ptr(16, cString(m.path)).ptr(24, u64s(m.offsets)).u32(48, m.offsets.length).u32(52, m.flags).u32(56, m.pid);
      if (m.cookies) a.ptr(40, u64s(m.cookies));
    }
    return bpfCall(Cmd.LINK_CREATE, a);
  }

  rawTracepointOpen(name: string | undefined, progFd: number, cookie = 0n): number {
    // No name: a tracing or LSM program, attached to the hook it was loaded for (attach_btf_id).
    const attr = new Attr(BPF_ATTR_SIZE).u32(8, progFd).u64(16, cookie);
    return bpfCall(Cmd.RAW_TRACEPOINT_OPEN, name === undefined ? attr : attr.ptr(0, cString(name)));
  }

  objPin(fd: number, path: string): void {
    bpfCall(Cmd.OBJ_PIN, new Attr(BPF_ATTR_SIZE).ptr(0, cString(path)).u32(8, fd));
  }

  objGet(path: string, flags = 0): number {
    const fd = bpfCall(Cmd.OBJ_GET, new Attr(BPF_ATTR_SIZE).ptr(0, cString(path)).u32(12, flags));
    this.shapes.delete(fd);
    return fd;
  }

  unpin(path: string): void {
    unlinkSync(path);
  }

  enableStats(type = 0): number {
    return bpfCall(Cmd.ENABLE_STATS, new Attr(BPF_ATTR_SIZE).u32(0, type));
  }

  // ------------------------------------------------------------ perf, ioctl, close

  perfEventOpen(attr: PerfEventAttr, o: PerfEventOpenOptions = {}): number {
    const a = new Attr(PERF_ATTR_SIZE)
      .u32(0, attr.type)
      .u32(4, PERF_ATTR_SIZE)
      .u64(8, (attr.config ?? 0n) | (BigInt(attr.refCtrOffset ?? 0) << PERF_UPROBE_REF_CTR_OFFSET_SHIFT))
      .u64(16, attr.samplePeriod ?? 0n)
      .u64(24, attr.sampleType ?? 0n)
      .u64(32, attr.readFormat ?? 0n)
      .u64(40, attr.flags ?? 0n)
      .u32(48, attr.wakeupEvents ?? 0)
      .u32(52, attr.bpType ?? 0)
      .u64(64, attr.config2 ?? 0n);
    const pathOrFunc = attr.uprobePath ?? attr.kprobeFunc;
    if (pathOrFunc !== undefined) a.ptr(56, cString(pathOrFunc));
    else a.u64(56, attr.config1 ?? 0n);
    const f = native();
    try {
      const fd = f.perfEventOpen(SyscallNr.PERF_EVENT_OPEN, address(a.bytes), o.pid ?? -1, o.cpu ?? 0, o.groupFd ?? -1, o.flags ?? PerfFlag.FD_CLOEXEC);
      return check("perf_event_open", fd);
    } finally {
      a.release();
    }
  }

  ioctl(fd: number, request: number, arg: number | bigint = 0): number {
    return check("ioctl", native().ioctl(fd, request, BigInt.asUintN(64, BigInt(arg))));
  }

  close(fd: number): void {
    this.shapes.delete(fd);
    check("close", native().close(fd));
  }

  closeAsync(fd: number): Promise<void> {
    this.shapes.delete(fd);
    const threads = closeThreads();
    const thread = Buffer.alloc(8);
    // A thread of its own for each close: koffi's async calls share a pool of one thread per CPU, so a few hundred
    // perf events (a tracepoint glob) would wait out their RCU grace periods two at a time.
    if (threads && threads.create(thread, threads.attr, threads.close, fd) === 0) {
      const tid = thread.readBigUInt64LE(0);
      const joined = closesJoined.then(() => joinClose(threads, tid));
      // One join at a time: each returns once its thread is done, and all the threads run meanwhile.
      closesJoined = joined.catch(() => undefined);
      return joined;
    }
    const f = native();
    // koffi refuses more than max_async_calls (256) running and queued calls at once.
    return withAsyncSlot(
      () =>
        new Promise((resolve, reject) => {
          f.close.async(fd, (err: unknown, r: number) => {
            if (err) return reject(err);
            if (r < 0) return reject(new SysError("close", f.koffi.errno()));
            resolve();
          });
        }),
    );
  }

  // ------------------------------------------------------------ memory

  mmap(fd: number, length: number, prot: number, offset = 0): Mapping {
    // A view larger than Node's buffers can be aborts the process inside koffi: refuse it first.
    if (length > MAX_VIEW_BYTES) throw new SysError("mmap", Errno.E2BIG, `${length} bytes are more than one view of Node's can hold (${MAX_VIEW_BYTES})`);
    const f = native();
    const p = f.mmap(0n, length, prot, MapMem.SHARED, fd, offset);
    const e = errno();
    const addr = p === null ? 0n : typeof p === "bigint" ? p : f.koffi.address(p);
    if (addr === 0n || addr === 0xffffffffffffffffn) throw new SysError("mmap", e);
    return { address: addr, length, bytes: new Uint8Array(f.koffi.view(p, length)) };
  }

  munmap(mapping: Mapping): void {
    check("munmap", native().munmap(mapping.address, mapping.length));
  }

  pageSize(): number {
    // _SC_PAGESIZE is 30 in glibc.
    this.page ??= native().sysconf(30);
    return this.page;
  }

  possibleCpus(): number {
    this.cpus ??= countCpus(readFileSync("/sys/devices/system/cpu/possible", "utf8"));
    return this.cpus;
  }

  // ------------------------------------------------------------ waiting

  private pollBuffer(fds: readonly PollFd[]): Buffer {
    const buf = Buffer.alloc(Math.max(fds.length, 1) * 8);
    fds.forEach((p, i) => {
      buf.writeInt32LE(p.fd, i * 8);
      buf.writeInt16LE(p.events ?? Poll.IN, i * 8 + 4);
    });
    return buf;
  }

  private revents(buf: Buffer, n: number): number[] {
    return Array.from({ length: n }, (_, i) => buf.readUInt16LE(i * 8 + 6));
  }

  poll(fds: readonly PollFd[], timeoutMs: number): number[] {
    const buf = this.pollBuffer(fds);
    const r = native().poll(address(buf), fds.length, timeoutMs);
    if (r < 0) {
      const e = errno();
      if (e === Errno.EINTR) return fds.map(() => 0);
      throw new SysError("poll", e);
    }
    return this.revents(buf, fds.length);
  }

  pollAsync(fds: readonly PollFd[], timeoutMs: number): Promise<number[]> {
    const f = native();
    const buf = this.pollBuffer(fds);
    return new Promise((resolve, reject) => {
      // `buf` stays referenced by this closure until the worker thread has returned.
      f.poll.async(address(buf), fds.length, timeoutMs, (err: unknown, r: number) => {
        if (err) return reject(err);
        if (r < 0) {
          const e = f.koffi.errno();
          return e === Errno.EINTR ? resolve(fds.map(() => 0)) : reject(new SysError("poll", e));
        }
        resolve(this.revents(buf, fds.length));
      });
    });
  }

  eventfd(): number {
    // EFD_CLOEXEC | EFD_NONBLOCK
    return check("eventfd", native().eventfd(0, 0o2000000 | 0o4000));
  }

  signalEventfd(fd: number): void {
    try {
      writeSync(fd, EVENTFD_ONE);
    } catch (e) {
      // EAGAIN: the counter is at its maximum, so the eventfd is readable already
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
    }
  }

  epollCreate(): number {
    // EPOLL_CLOEXEC
    return check("epoll_create1", native().epollCreate1(0o2000000));
  }

  epollCtl(epfd: number, op: number, fd: number, events: number, data = 0n): void {
    // struct epoll_event is packed on x86-64: u32 events, u64 data.
    const ev = Buffer.alloc(12);
    ev.writeUInt32LE(events >>> 0, 0);
    ev.writeBigUInt64LE(BigInt.asUintN(64, data), 4);
    check("epoll_ctl", native().epollCtl(epfd, op, fd, address(ev)));
    ev.fill(0); // also keeps `ev` reachable until epoll_ctl has returned
  }

  private epollEvents(buf: Buffer, n: number): EpollEvent[] {
    return Array.from({ length: n }, (_, i) => ({ events: buf.readUInt32LE(i * 12), data: buf.readBigUInt64LE(i * 12 + 4) }));
  }

  epollWait(epfd: number, maxEvents: number, timeoutMs: number): EpollEvent[] {
    const buf = Buffer.alloc(maxEvents * 12);
    const r = native().epollWait(epfd, address(buf), maxEvents, timeoutMs);
    if (r < 0) {
      const e = errno();
      if (e === Errno.EINTR) return [];
      throw new SysError("epoll_wait", e);
    }
    return this.epollEvents(buf, r);
  }

  epollWaitAsync(epfd: number, maxEvents: number, timeoutMs: number): Promise<EpollEvent[]> {
    const f = native();
    const buf = Buffer.alloc(maxEvents * 12);
    return new Promise((resolve, reject) => {
      f.epollWait.async(epfd, address(buf), maxEvents, timeoutMs, (err: unknown, r: number) => {
        if (err) return reject(err);
        if (r < 0) {
          const e = f.koffi.errno();
          return e === Errno.EINTR ? resolve([]) : reject(new SysError("epoll_wait", e));
        }
        resolve(this.epollEvents(buf, r));
      });
    });
  }

  getpid(): number {
    return native().getpid();
  }

  pidfdOpen(pid: number): number {
    // The fd is close-on-exec without a flag (the kernel always sets it).
    return check("pidfd_open", native().pidfdOpen(SyscallNr.PIDFD_OPEN, pid, 0));
  }
}

/** Counts CPUs in a sysfs list such as "0-3,5,7-8". */
export function countCpus(list: string): number {
  return cpuList(list).length;
}

/** The CPUs of a sysfs list such as "0-3,5,7-8", in order. */
export function cpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(",")) {
    if (part === "") continue;
    const [lo, hi] = part.split("-").map(Number);
    for (let cpu = lo!; cpu <= (hi ?? lo!); cpu++) out.push(cpu);
  }
  return out;
}
