// Reading a BPF perf event array (BPF_MAP_TYPE_PERF_EVENT_ARRAY): bpf_perf_event_output's per-CPU rings.
// Takes a `Sys` and the map's fd; opens one PERF_COUNT_SW_BPF_OUTPUT event per CPU (sample_type RAW, a
// wakeup per sample), mmaps its ring (1 metadata page + 2^n data pages), writes the event fds into the map
// at each CPU's index and waits on all of them through one epoll fd. Gives `PerfBuffer`: samples (the raw
// bytes, padded by the kernel so that size field + data is a multiple of 8) and lost counts, per CPU.
//
// Ring protocol (include/uapi/linux/perf_event.h, perf_event_mmap_page): the kernel advances data_head
// (offset 1024) after writing records; we read records between our tail and head and then publish data_tail
// (offset 1032). Records are 8-aligned with a header {u32 type, u16 misc, u16 size}; PERF_RECORD_SAMPLE (9)
// with PERF_SAMPLE_RAW carries {u32 size, data}, PERF_RECORD_LOST (2) {u64 id, u64 lost}. The ring is mapped
// once, so a record may wrap around its end; such records are copied into one buffer. Ordering follows
// ringbuf.ts: Atomics.load of data_head is the acquire, Atomics.store of data_tail the release.
// The kernel writes PERF_RECORD_LOST only once a record fits again: losses while a ring stays full to the end are
// said by no record. Since Linux 6.0 each event also counts its losses (read_format PERF_FORMAT_LOST), which
// drainLost() reads once the producers are gone.

import type { Mapping, Sys } from "../sys/sys.js";
import { readSync } from "node:fs";
import { Epoll, MapType, PerfFlag, PerfFormat, PerfIoc, PerfSample, PerfSwConfig, PerfType, Prot } from "../sys/constants.js";
import { nextTurn } from "./next-turn.js";

const PERF_RECORD_LOST = 2;
const PERF_RECORD_SAMPLE = 9;
const DATA_HEAD = 1024 / 8;
const DATA_TAIL = 1032 / 8;
const SLICE_MS = 100;

/** Data pages per CPU that `tsbpf run` reads a perf event array with (the simulator's rings are as large). */
export const PERF_BUFFER_PAGES = 8;

export interface PerfBufferOptions {
  /** Data pages per CPU, a power of two; default PERF_BUFFER_PAGES. */
  pages?: number;
  /** CPUs to read; default every possible CPU that the map has a slot for (offline ones are skipped). */
  cpus?: readonly number[];
}

export interface PerfHandlers {
  /** A sample's raw bytes; the view is valid only during the call. */
  sample(data: Uint8Array, cpu: number): void;
  /** The kernel dropped `count` samples on `cpu` because the ring was full. */
  lost?(count: number, cpu: number): void;
}

export type PerfEvent = { kind: "sample"; cpu: number; data: Uint8Array } | { kind: "lost"; cpu: number; count: number };

interface CpuRing {
  cpu: number;
  fd: number;
  mapping: Mapping;
  meta: BigUint64Array;
  view: DataView;
  data: Uint8Array;
  size: number;
  tail: number;
  /** Lost samples reported so far, and those PERF_RECORD_LOST records have said (the two differ after drainLost()). */
  reported: number;
  recorded: number;
}

export class PerfBuffer {
  private rings: CpuRing[] = [];
  private epfd = -1;
  private closed = false;
  private pending: Promise<unknown> = Promise.resolve();
  private scratch = new Uint8Array(256);
  /** Samples dropped by the kernel, summed over CPUs, as reported so far. */
  lostTotal = 0;
  /** Whether the events count their lost samples (PERF_FORMAT_LOST, Linux 6.0), so that drainLost() can report all. */
  countsLost = true;

  private constructor(
    private readonly sys: Sys,
    readonly mapFd: number,
  ) {}

  /** Opens, maps and installs one perf event per CPU; on failure everything opened so far is released. */
  static open(sys: Sys, mapFd: number, options: PerfBufferOptions = {}): PerfBuffer {
    const info = sys.mapInfo(mapFd);
    if (info.type !== MapType.PERF_EVENT_ARRAY) throw new Error(`map ${info.name || mapFd} is not a perf event array (type ${info.type})`);
    const pages = options.pages ?? PERF_BUFFER_PAGES;
    if (pages <= 0 || (pages & (pages - 1)) !== 0) throw new Error(`perf buffer pages must be a power of two, not ${pages}`);
    const page = sys.pageSize();
    const cpus = options.cpus ?? Array.from({ length: Math.min(sys.possibleCpus(), info.maxEntries) }, (_, i) => i);
    const pb = new PerfBuffer(sys, mapFd);
    try {
      pb.epfd = sys.epollCreate();
      for (const cpu of cpus) {
        let fd: number;
        const event = (readFormat: bigint) =>
          sys.perfEventOpen(
            { type: PerfType.SOFTWARE, config: BigInt(PerfSwConfig.BPF_OUTPUT), sampleType: PerfSample.RAW, samplePeriod: 1n, wakeupEvents: 1, readFormat },
            { pid: -1, cpu, flags: PerfFlag.FD_CLOEXEC },
          );
        try {
          try {
            fd = event(pb.countsLost ? PerfFormat.LOST : 0n);
          } catch (e) {
            // A kernel before 6.0 refuses the read format it does not know.
            if (!pb.countsLost || (e as { code?: string }).code !== "EINVAL") throw e;
            pb.countsLost = false;
            fd = event(0n);
          }
        } catch (e) {
          if (options.cpus === undefined && (e as { code?: string }).code === "ENODEV") continue; // offline CPU
          throw e;
        }
        let mapping: Mapping;
        try {
          mapping = sys.mmap(fd, page * (pages + 1), Prot.READ | Prot.WRITE, 0);
        } catch (e) {
          sys.close(fd);
          throw e;
        }
        const b = mapping.bytes;
        const meta = new BigUint64Array(b.buffer, b.byteOffset, page / 8);
        // data_offset/data_size (offsets 1040/1048) exist since 4.1; older kernels put data right after page 0.
        const dataOffset = Number(meta[1040 / 8]) || page;
        const dataSize = Number(meta[1048 / 8]) || page * pages;
        const ring: CpuRing = { cpu, fd, mapping, meta, view: new DataView(b.buffer, b.byteOffset + dataOffset, dataSize), data: b.subarray(dataOffset, dataOffset + dataSize), size: dataSize, tail: Number(Atomics.load(meta, DATA_TAIL)), reported: 0, recorded: 0 };
        pb.rings.push(ring);
        sys.epollCtl(pb.epfd, Epoll.CTL_ADD, fd, Epoll.IN, BigInt(pb.rings.length - 1));
        sys.ioctl(fd, PerfIoc.ENABLE, 0);
        sys.mapUpdate(mapFd, u32(cpu), u32(fd));
      }
      if (pb.rings.length === 0) throw new Error("no CPU could open a BPF output perf event");
    } catch (e) {
      try {
        pb.close();
      } catch {
        /* the first error is the one worth reporting */
      }
      throw e;
    }
    return pb;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The CPUs being read. */
  get cpus(): number[] {
    return this.rings.map((r) => r.cpu);
  }

  /** Bytes written by the kernel and not yet read, over all CPUs. */
  get available(): number {
    let n = 0;
    for (const r of this.rings) n += Number(Atomics.load(r.meta, DATA_HEAD)) - r.tail;
    return n;
  }

  /** Reads every record available now on every CPU; gives the number of samples handled. */
  drain(handlers: PerfHandlers): number {
    if (this.closed) return 0;
    let n = 0;
    for (const r of this.rings) n += this.drainRing(r, handlers);
    return n;
  }

  private drainRing(r: CpuRing, h: PerfHandlers): number {
    const head = Number(Atomics.load(r.meta, DATA_HEAD));
    let tail = r.tail;
    let n = 0;
    try {
      while (tail < head) {
        const off = tail % r.size;
        // Headers never straddle the end: records are 8-aligned and the ring a multiple of 8.
        const type = r.view.getUint32(off, true);
        const size = r.view.getUint16(off + 6, true);
        if (size < 8) throw new Error(`perf ring of CPU ${r.cpu}: corrupt record of ${size} bytes at ${tail}`);
        const whole = off + size <= r.size;
        const rec = whole ? r.data.subarray(off, off + size) : this.unwrap(r, off, size);
        // A record in one piece is read through the ring's own DataView; only wrapped ones need another.
        const dv = whole ? r.view : new DataView(rec.buffer, rec.byteOffset, rec.length);
        const at = whole ? off : 0;
        if (type === PERF_RECORD_SAMPLE) {
          const raw = dv.getUint32(at + 8, true);
          n++;
          try {
            h.sample(rec.subarray(12, 12 + raw), r.cpu);
          } finally {
            tail += size;
          }
        } else {
          if (type === PERF_RECORD_LOST) {
            r.recorded += Number(dv.getBigUint64(at + 16, true));
            this.reportLost(r, r.recorded, h);
          }
          tail += size;
        }
      }
    } finally {
      r.tail = tail;
      Atomics.store(r.meta, DATA_TAIL, BigInt(tail));
    }
    return n;
  }

  /** Reports the losses of `r` up to `total`, those not reported yet (drainLost() may have said some). */
  private reportLost(r: CpuRing, total: number, h: PerfHandlers): void {
    if (total <= r.reported) return;
    const count = total - r.reported;
    r.reported = total;
    this.lostTotal += count;
    h.lost?.(count, r.cpu);
  }

  /**
   * Reports the samples each CPU's event lost that no PERF_RECORD_LOST has said (the ring stayed full after them),
   * from the event's own count; for the end, once the programs that send are detached and the rings drained. A later
   * record of the same losses is not reported again. Nothing where the kernel does not count them (countsLost).
   */
  drainLost(handlers: PerfHandlers): void {
    if (this.closed || !this.countsLost) return;
    const values = new BigUint64Array(2);
    const bytes = new Uint8Array(values.buffer);
    for (const r of this.rings) {
      // { u64 value; u64 lost } for read_format PERF_FORMAT_LOST.
      let n: number;
      try {
        n = readSync(r.fd, bytes, 0, 16, null);
      } catch {
        continue; // not an event read(2) can read (a test's fake one): its losses are the records' alone
      }
      if (n === 16) this.reportLost(r, Number(values[1]), handlers);
    }
  }

  /** A record that wraps around the ring's end, copied into one piece. */
  private unwrap(r: CpuRing, off: number, size: number): Uint8Array {
    if (this.scratch.length < size) this.scratch = new Uint8Array(Math.max(size, this.scratch.length * 2));
    const first = r.size - off;
    this.scratch.set(r.data.subarray(off), 0);
    this.scratch.set(r.data.subarray(0, size - first), first);
    return this.scratch.subarray(0, size);
  }

  /** Copies of the events available now, samples and losses in ring order per CPU. */
  read(): PerfEvent[] {
    const out: PerfEvent[] = [];
    this.drain({ sample: (data, cpu) => void out.push({ kind: "sample", cpu, data: data.slice() }), lost: (count, cpu) => void out.push({ kind: "lost", cpu, count }) });
    return out;
  }

  /** Waits (epoll on a worker thread, 100 ms slices) until some CPU has data, the timeout passes or close(). */
  async wait(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.closed) return false;
      if (this.available > 0) {
        // Data already there (as it always is under a flood) still waits one event loop turn (next-turn.ts).
        await nextTurn();
        return !this.closed;
      }
      const left = deadline - Date.now();
      if (left <= 0) return false;
      const p = this.sys.epollWaitAsync(this.epfd, this.rings.length, Math.min(SLICE_MS, left));
      this.pending = p.catch(() => undefined);
      await p;
    }
  }

  /** Events as they arrive, until close() or the signal aborts. One consumer at a time. */
  async *events(options: { signal?: AbortSignal } = {}): AsyncGenerator<PerfEvent> {
    while (!this.closed && !options.signal?.aborted) {
      const got = this.read();
      if (got.length > 0) {
        for (const e of got) yield e;
        await nextTurn();
        continue;
      }
      await this.wait(SLICE_MS);
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<PerfEvent> {
    return this.events();
  }

  /**
   * Removes the fds from the map, unmaps the rings, closes the events and the epoll fd once no wait is in
   * flight on it (a pending epoll_wait returns within 100 ms); idempotent.
   */
  async close(): Promise<void> {
    const closeEpoll = this.release();
    if (closeEpoll === undefined) return;
    await this.pending;
    this.sys.close(closeEpoll);
  }

  /** For exit paths: like close(), but the epoll fd is closed at once even if a wait is in flight. */
  closeSync(): void {
    const epfd = this.release();
    if (epfd !== undefined) this.sys.close(epfd);
  }

  /** Releases everything but the epoll fd, which it gives (undefined when already closed or never opened). */
  private release(): number | undefined {
    if (this.closed) return undefined;
    this.closed = true;
    let error: unknown;
    const attempt = (f: () => void) => {
      try {
        f();
      } catch (e) {
        error ??= e;
      }
    };
    for (const r of this.rings.splice(0)) {
      attempt(() => {
        try {
          this.sys.mapDelete(this.mapFd, u32(r.cpu));
        } catch {
          /* the map may already be closed with its object, which dropped its reference to the event too */
        }
      });
      attempt(() => this.sys.munmap(r.mapping));
      attempt(() => this.sys.close(r.fd));
    }
    const epfd = this.epfd;
    this.epfd = -1;
    if (error) {
      if (epfd >= 0) this.sys.close(epfd);
      throw error;
    }
    return epfd >= 0 ? epfd : undefined;
  }
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}
