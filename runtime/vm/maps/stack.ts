// BPF_MAP_TYPE_STACK_TRACE and the bucket logic of bpf_get_stackid (kernel/bpf/stackmap.c).
// Takes a MapHost, sizes, and at each call the simulated stack (instruction pointers, innermost
// first); gives stack ids computed as the kernel does (jhash2 of the ips, masked to the bucket
// count), with its collision rules, and a JS API to read and delete stored stacks.

import { BpfMap, Errno, checkSpec } from "./base.js";
import type { MapHost, MapOptions, MapType } from "./base.js";

export const BPF_F_SKIP_FIELD_MASK = 0xffn;
export const BPF_F_USER_STACK = 1n << 8n;
export const BPF_F_FAST_STACK_CMP = 1n << 9n;
export const BPF_F_REUSE_STACKID = 1n << 10n;
/** Map flag: each frame is a `struct bpf_stack_build_id` (32 bytes) instead of an 8-byte instruction pointer. */
export const BPF_F_STACK_BUILD_ID = 1 << 5;
/** sizeof(struct bpf_stack_build_id): s32 status, 20 bytes of build id, then the file offset or the ip. */
const BUILD_ID_FRAME = 32;
/** bpf_stack_build_id.status when the frame holds an ip (the VM has no files to take build ids from). */
const BPF_STACK_BUILD_ID_IP = 2;
/** The default of /proc/sys/kernel/perf_event_max_stack. */
export const PERF_EVENT_MAX_STACK = 127;

const rol32 = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

/** The kernel's jhash2 (Bob Jenkins' lookup3 over u32 words). */
export function jhash2(words: ArrayLike<number>, initval = 0): number {
  let length = words.length;
  let a = (0xdeadbeef + (length << 2) + initval) >>> 0;
  let b = a;
  let c = a;
  let k = 0;
  while (length > 3) {
    a = (a + words[k]!) >>> 0;
    b = (b + words[k + 1]!) >>> 0;
    c = (c + words[k + 2]!) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol32(c, 4)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol32(a, 6)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol32(b, 8)) >>> 0; b = (b + a) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol32(c, 16)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol32(a, 19)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol32(b, 4)) >>> 0; b = (b + a) >>> 0;
    length -= 3;
    k += 3;
  }
  if (length === 0) return c;
  if (length >= 3) c = (c + words[k + 2]!) >>> 0;
  if (length >= 2) b = (b + words[k + 1]!) >>> 0;
  a = (a + words[k]!) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol32(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol32(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol32(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol32(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 24)) >>> 0;
  return c;
}

/** jhash2 over instruction pointers as the kernel sees them: each u64 as two little-endian u32 words. */
export function hashStack(ips: readonly bigint[]): number {
  const words = new Uint32Array(ips.length * 2);
  ips.forEach((ip, i) => {
    const v = BigInt.asUintN(64, ip);
    words[2 * i] = Number(v & 0xffffffffn);
    words[2 * i + 1] = Number(v >> 32n);
  });
  return jhash2(words);
}

export interface StackTraceMapOptions extends MapOptions {
  maxEntries: number;
  /** Bytes per stack: a multiple of 8 (default PERF_EVENT_MAX_STACK * 8), of 32 with buildId. */
  valueSize?: number;
  /**
   * BPF_F_STACK_BUILD_ID: frames are `struct bpf_stack_build_id`s. The VM stores what the kernel falls back to when
   * it cannot read a build id: each frame's ip, status BPF_STACK_BUILD_ID_IP.
   */
  buildId?: boolean;
}

interface Bucket {
  hash: number;
  ips: bigint[];
}

const pow2 = (n: number): number => 2 ** Math.ceil(Math.log2(n));

export class StackTraceMap extends BpfMap {
  readonly type: MapType = "stack_trace";
  readonly nBuckets: number;
  private readonly buckets: Array<Bucket | undefined>;
  /** Preallocated buckets not in use: the kernel keeps max_entries of them on a free list. */
  private free: number;
  /** Bytes per frame in a value: 8, or 32 for build id frames. */
  private readonly frameSize: number;

  constructor(host: MapHost, opts: StackTraceMapOptions) {
    const name = opts.name ?? "stack_trace";
    const frameSize = opts.buildId ? BUILD_ID_FRAME : 8;
    const valueSize = opts.valueSize ?? PERF_EVENT_MAX_STACK * frameSize;
    checkSpec("stack_trace", name, Number.isInteger(opts.maxEntries) && opts.maxEntries > 0 && opts.maxEntries <= 2 ** 31, `max entries must be in 1..2^31 (got ${opts.maxEntries})`);
    checkSpec("stack_trace", name, Number.isInteger(valueSize) && valueSize >= frameSize && valueSize % frameSize === 0 && valueSize / frameSize <= PERF_EVENT_MAX_STACK,
      `value size must be a multiple of ${frameSize} from ${frameSize} to ${PERF_EVENT_MAX_STACK * frameSize} (got ${valueSize})`);
    super(host, name, 4, valueSize, opts.maxEntries);
    this.frameSize = frameSize;
    this.nBuckets = pow2(opts.maxEntries);
    this.buckets = new Array<Bucket | undefined>(this.nBuckets).fill(undefined);
    this.free = opts.maxEntries;
  }

  /**
   * bpf_get_stackid's work once the callchain is known: `trace` is the stack, innermost first,
   * or undefined when none could be taken. Returns the id or a negative errno.
   */
  getStackId(trace: readonly bigint[] | undefined, flags: bigint): number {
    if (flags & ~(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_FAST_STACK_CMP | BPF_F_REUSE_STACKID)) return -Errno.EINVAL;
    if (!trace) return -Errno.EFAULT;
    const skip = Number(flags & BPF_F_SKIP_FIELD_MASK);
    const maxDepth = Math.min(this.valueSize / this.frameSize + skip, PERF_EVENT_MAX_STACK);
    // get_perf_callchain gives at most max_depth entries.
    const nrTrace = Math.min(trace.length, maxDepth);
    if (nrTrace <= skip) return -Errno.EFAULT;
    const nr = Math.min(nrTrace - skip, maxDepth - skip);
    const ips = trace.slice(skip, skip + nr).map((ip) => BigInt.asUintN(64, ip));
    const hash = hashStack(ips);
    const id = hash & (this.nBuckets - 1);
    const bucket = this.buckets[id];
    const hashMatches = bucket !== undefined && bucket.hash === hash;
    if (hashMatches && flags & BPF_F_FAST_STACK_CMP) return id;
    if (hashMatches && bucket.ips.length === nr && bucket.ips.every((ip, i) => ip === ips[i])) return id;
    if (bucket && !(flags & BPF_F_REUSE_STACKID)) return -Errno.EEXIST;
    // A new bucket comes off the free list first; the replaced one goes back after.
    if (this.free === 0) return -Errno.ENOMEM;
    this.free--;
    if (bucket) this.free++;
    this.buckets[id] = { hash, ips };
    return id;
  }

  /** JS: the stored instruction pointers of `id`, or undefined. */
  lookup(id: number): bigint[] | undefined {
    return this.buckets[id]?.ips.slice();
  }

  /** JS: the value as BPF_MAP_LOOKUP_ELEM returns it: ips as u64s (or as build id frames holding ips), zero-padded to the value size. */
  lookupBytes(id: number): Uint8Array | undefined {
    const b = this.buckets[id];
    if (!b) return undefined;
    const out = new Uint8Array(this.valueSize);
    const view = new DataView(out.buffer);
    b.ips.forEach((ip, i) => {
      if (this.frameSize === 8) return view.setBigUint64(i * 8, ip, true);
      view.setInt32(i * BUILD_ID_FRAME, BPF_STACK_BUILD_ID_IP, true);
      view.setBigUint64(i * BUILD_ID_FRAME + 24, ip, true);
    });
    return out;
  }

  /** JS: delete `id`; 0, -E2BIG past the buckets, -ENOENT if empty. */
  delete(id: number): number {
    if (id >= this.nBuckets) return -Errno.E2BIG;
    if (!this.buckets[id]) return -Errno.ENOENT;
    this.buckets[id] = undefined;
    this.free++;
    return 0;
  }

  override deleteElem(key: Uint8Array): number {
    return this.delete(new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true));
  }

  /** JS: the ids in use, ascending. */
  keys(): number[] {
    const out: number[] = [];
    this.buckets.forEach((b, i) => b && out.push(i));
    return out;
  }
}
