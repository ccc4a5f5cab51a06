// BPF helper implementations over a SimKernel and a MapRegistry, by helper id, and a VmEnv builder.
// Takes the simulated kernel and the maps; gives createHelpers(kernel, maps) -> Map<id, HelperFn>
// (unknown helpers are absent, so the tiers report them at load) and createVmEnv(...).
// bpf_tail_call is not here: the tiers execute it through VmEnv.tailCallTarget.

import { Helper } from "../../../compiler/isa/helpers.js";
import type { HelperContext, HelperFn, VmEnv, PseudoMap } from "../env.js";
import type { SimKernel } from "../kernel.js";
import { VmFault, formatAddress, join } from "../memory.js";
import { VmError } from "../errors.js";
import { Errno, MapRegistry, PerfEventArray, RingBufMap, StackTraceMap } from "../maps/index.js";
import type { BpfMap } from "../maps/index.js";
import { BPF_F_SKIP_FIELD_MASK, BPF_F_USER_STACK, PERF_EVENT_MAX_STACK } from "../maps/stack.js";
import { MAX_BPRINTF_BUF, MAX_BPRINTF_VARARGS, MAX_TRACE_PRINTK_VARARGS, bpfFormat, planAt, tracePrintk, type FormatPlan } from "./printf.js";
import { isUserAt, readKernelAt, readSource, readUserAt, strncpyFromKernelAt, strncpyFromUserAt } from "./memaccess.js";
import { REGION_BASE, type Memory, type Region } from "../memory.js";

export { callHelper, fakeHelperContext } from "./context.js";
export * from "./printf.js";
export * from "./memaccess.js";

/** BPF_F_USER_BUILD_ID for bpf_get_stack: user frames as `struct bpf_stack_build_id`s (32 bytes each). */
const BPF_F_USER_BUILD_ID = 1n << 11n;
/** bpf_stack_build_id.status of a frame that holds its ip: the VM has no files to take build ids from. */
const BPF_STACK_BUILD_ID_IP = 2;

const decoder = new TextDecoder();

/** A tier's context may also give an argument's high half as an int32, sparing a BigInt. */
interface HalvesContext extends HelperContext {
  argHi?(n: 1 | 2 | 3 | 4 | 5): number;
}

/** The upper 32 bits of argument register n as an int32. Kept tiny so that V8 always inlines it. */
function argHi(ctx: HelperContext, n: 1 | 2 | 3 | 4 | 5): number {
  const c = ctx as HalvesContext;
  return c.argHi !== undefined ? c.argHi(n) : argHiOf(ctx, n);
}

/** argHi of a context without halves. */
const argHiOf = (ctx: HelperContext, n: 1 | 2 | 3 | 4 | 5): number => Number(BigInt.asIntN(32, ctx.arg(n) >> 32n));

/** The region holding `size` bytes at argument n (checked like Memory.read / write); a fault names the CALL. */
function argRegion(ctx: HelperContext, n: 1 | 2 | 3 | 4 | 5, size: number, write: boolean): Region {
  try {
    return ctx.memory.resolve(argHi(ctx, n), ctx.argU32(n), size, write);
  } catch (e) {
    if (e instanceof VmFault) e.pc = ctx.pc;
    throw e;
  }
}

const smallCopy = new Uint8Array(64);

/** r3..r5 as (low, high) halves, for trace_printk. */
const printkArgs = new Int32Array(6);

function mapArg<T extends BpfMap>(maps: MapRegistry, ctx: HelperContext, n: 1 | 2, helper: string, cls?: abstract new (...a: never[]) => T): T {
  const address = ctx.arg(n);
  const m = maps.find(address);
  if (!m) throw new VmFault(`${helper}: r${n} = ${formatAddress(address)} is not a map`, address, ctx.pc);
  if (cls && !(m instanceof cls)) throw new VmFault(`${helper}: map "${m.name}" is a ${m.type} map, not the kind this helper takes`, address, ctx.pc);
  return m as T;
}

/** Reads program memory for a helper; a bad pointer is a fault at the CALL. */
function readArg(ctx: HelperContext, address: bigint, size: number): Uint8Array {
  try {
    return ctx.memory.read(address, size);
  } catch (e) {
    if (e instanceof VmFault) e.pc = ctx.pc;
    throw e;
  }
}
function writeArg(ctx: HelperContext, address: bigint, data: Uint8Array): void {
  try {
    ctx.memory.write(address, data);
  } catch (e) {
    if (e instanceof VmFault) e.pc = ctx.pc;
    throw e;
  }
}

/** A NUL-terminated string argument (ARG_PTR_TO_CONST_STR): bytes through the NUL, or undefined if unterminated. */
function readCString(ctx: HelperContext, address: bigint): Uint8Array | undefined {
  const region = ctx.memory.regionOf(address);
  if (!region) throw new VmFault(`string argument at ${formatAddress(address)} is unmapped`, address, ctx.pc);
  const off = Number(BigInt.asUintN(32, address)) - Number(BigInt.asUintN(32, region.address(0)));
  if (off < 0 || off >= region.size) throw new VmFault(`string argument at ${formatAddress(address)} is out of bounds`, address, ctx.pc);
  const nul = region.bytes.indexOf(0, off);
  return nul < 0 ? undefined : region.bytes.slice(off, nul + 1);
}

function readU64s(ctx: HelperContext, address: bigint, count: number): bigint[] {
  if (count === 0) return [];
  const bytes = readArg(ctx, address, count * 8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: count }, (_, i) => view.getBigUint64(i * 8, true));
}

/** The text a trace event shows: the buffer up to its first NUL. */
function traceText(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return decoder.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

/** (high << 32) | low of two u32s: a number while it is a safe integer (no BigInt per call). Kept tiny for V8 to inline. */
function pair(high: number, low: number): bigint | number {
  return high >>> 0 < 0x200000 ? (high >>> 0) * 4294967296 + (low >>> 0) : join(high, low);
}

/** bpf_loop's most iterations (the kernel's BPF_MAX_LOOPS). */
const BPF_MAX_LOOPS = 1 << 23;

/** The tier's way to call the program back; a context without one (a helper called from JS) cannot. */
function callbackOf(ctx: HelperContext, helper: string): (fn: bigint, ...args: bigint[]) => bigint {
  if (ctx.callback === undefined) throw new VmError(`${helper}: this context cannot call functions of a program`, ctx.pc);
  return ctx.callback.bind(ctx);
}

export function createHelpers(kernel: SimKernel, maps: MapRegistry): Map<number, HelperFn> {
  const h = new Map<number, HelperFn>();

  // --- maps ---
  h.set(Helper.map_lookup_elem, (ctx) => {
    const m = mapArg(maps, ctx, 1, "bpf_map_lookup_elem");
    return m.lookupElem(readArg(ctx, ctx.arg(2), m.keySize));
  });
  h.set(Helper.map_update_elem, (ctx) => {
    const m = mapArg(maps, ctx, 1, "bpf_map_update_elem");
    const key = readArg(ctx, ctx.arg(2), m.keySize);
    const value = readArg(ctx, ctx.arg(3), m.valueSize);
    return m.updateElem(key, value, ctx.arg(4));
  });
  h.set(Helper.map_delete_elem, (ctx) => {
    const m = mapArg(maps, ctx, 1, "bpf_map_delete_elem");
    return m.deleteElem(readArg(ctx, ctx.arg(2), m.keySize));
  });

  // --- probe reads ---
  type Copy = (k: SimKernel, dst: Uint8Array, hi: number, lo: number) => number;
  type Read = (k: SimKernel, hi: number, lo: number, size: number) => number;
  // The source is checked first and copied straight into the destination once that resolves (a bad
  // destination faults after the read, as when the data went through a buffer).
  const probeRead = (read: (hi: number, lo: number) => Read): HelperFn => (ctx) => {
    const size = ctx.argU32(2);
    const hi = argHi(ctx, 3);
    const lo = ctx.argU32(3);
    const ret = read(hi, lo)(kernel, hi, lo, size);
    const dst = argRegion(ctx, 1, size, true).bytes;
    const at = (ctx.argU32(1) - REGION_BASE) >>> 0;
    if (ret < 0) dst.fill(0, at, at + size); // zeros on failure
    else {
      const src = readSource.bytes;
      const from = readSource.offset;
      if (size > 64) dst.set(src.subarray(from, from + size), at); // set() copies overlapping ranges as memmove
      else {
        // Through a scratch buffer, so overlapping views copy like memmove too (cheaper than asking
        // whether the two share a buffer).
        const tmp = smallCopy;
        for (let k = 0; k < size; k++) tmp[k] = src[from + k]!;
        for (let k = 0; k < size; k++) dst[at + k] = tmp[k]!;
      }
    }
    return ret;
  };
  const probeReadStr = (copy: (hi: number, lo: number) => Copy): HelperFn => (ctx) => {
    const dst = ctx.arg(1);
    const size = ctx.argU32(2);
    const buf = new Uint8Array(size);
    const hi = argHi(ctx, 3);
    const lo = ctx.argU32(3);
    const ret = copy(hi, lo)(kernel, buf, hi, lo);
    if (ret < 0) writeArg(ctx, dst, new Uint8Array(size));
    else if (ret > 0) writeArg(ctx, dst, buf.subarray(0, ret)); // bytes past the NUL are left alone
    return ret;
  };
  const byAddress = <T>(user: T, kern: T) => (hi: number, lo: number): T => (isUserAt(hi, lo) ? user : kern);
  h.set(Helper.probe_read_kernel, probeRead(() => readKernelAt));
  h.set(Helper.probe_read_user, probeRead(() => readUserAt));
  h.set(Helper.probe_read, probeRead(byAddress<Read>(readUserAt, readKernelAt)));
  h.set(Helper.probe_read_kernel_str, probeReadStr(() => strncpyFromKernelAt));
  h.set(Helper.probe_read_user_str, probeReadStr(() => strncpyFromUserAt));
  h.set(Helper.probe_read_str, probeReadStr(byAddress<Copy>(strncpyFromUserAt, strncpyFromKernelAt)));

  // --- time, randomness, CPU ---
  h.set(Helper.ktime_get_ns, () => kernel.ktimeGetNs());
  h.set(Helper.ktime_get_boot_ns, () => kernel.ktimeGetBootNs());
  h.set(Helper.ktime_get_coarse_ns, () => kernel.ktimeGetCoarseNs());
  h.set(Helper.ktime_get_tai_ns, () => kernel.ktimeGetTaiNs());
  h.set(Helper.jiffies64, () => kernel.jiffies64());
  h.set(Helper.get_prandom_u32, () => kernel.prandomU32());
  h.set(Helper.get_smp_processor_id, () => kernel.cpu);
  h.set(Helper.get_numa_node_id, () => 0);
  h.set(Helper.get_attach_cookie, () => kernel.attachCookie);

  // --- callbacks (kernel/bpf/bpf_iter.c): the tiers run the program's function through ctx.callback ---
  // With flags 0 (a constant, as programs pass it) the kernel's verifier inlines the call as a loop of its own: that loop
  // compares all 64 bits of nr and sets -E2BIG as a 32-bit value (zero-extended). Other flags reach the helper. A 0 the
  // verifier cannot see as constant reaches the helper too (nr's low 32 bits, -E2BIG in 64): the VM cannot tell.
  h.set(Helper.loop, (ctx) => {
    const fn = ctx.arg(2);
    const data = ctx.arg(3);
    if (ctx.arg(4) !== 0n) return -Errno.EINVAL;
    const wide = ctx.arg(1);
    if (wide > BigInt(BPF_MAX_LOOPS)) return 2 ** 32 - Errno.E2BIG;
    const nr = Number(wide);
    const call = callbackOf(ctx, "bpf_loop");
    for (let i = 0; i < nr; i++) {
      // Any non-zero return stops the loop (the verifier allows only 0 and 1).
      if (call(fn, BigInt(i), data) !== 0n) return i + 1;
    }
    return nr;
  });
  // The key a callback gets points to the kernel's copy (an array's index, a hash element's key), read-only to it: a
  // region per map and nesting level, so that a walk of the map inside a callback leaves the outer walk's key alone.
  const keyRegions = new WeakMap<BpfMap, Region[]>();
  const walking = new WeakMap<BpfMap, number>();
  h.set(Helper.for_each_map_elem, (ctx) => {
    const m = mapArg(maps, ctx, 1, "bpf_for_each_map_elem");
    const fn = ctx.arg(2);
    const data = ctx.arg(3);
    if (ctx.arg(4) !== 0n) return -Errno.EINVAL;
    const keys = m.forEachKeys();
    if (keys === undefined) throw new VmFault(`bpf_for_each_map_elem: map "${m.name}" is a ${m.type} map, which the kernel does not iterate`, m.address, ctx.pc);
    const call = callbackOf(ctx, "bpf_for_each_map_elem");
    let regions = keyRegions.get(m);
    if (regions === undefined) keyRegions.set(m, (regions = []));
    const level = walking.get(m) ?? 0;
    const region = (regions[level] ??= ctx.memory.map("map_key", new Uint8Array(m.keySize), { writable: false, name: `${m.name} key` }));
    const keyAddress = region.address(0);
    let visited = 0;
    walking.set(m, level + 1);
    try {
      for (const key of keys) {
        // An element a callback deleted is not visited.
        const value = m.forEachValue(key);
        if (value === undefined) continue;
        region.bytes.set(key);
        visited++;
        if (call(fn, m.address, keyAddress, value, data) !== 0n) break;
      }
    } finally {
      walking.set(m, level);
    }
    return visited;
  });

  // --- signals: to the current task's process, or to the task alone (kernel/trace/bpf_trace.c). Refused outside a
  // task, in a kernel thread (the idle task, pid 0) and in init (tgid 1), then for a signal above 64; signal 0 sends
  // nothing and succeeds, as kill(pid, 0) does.
  const sendSignal = (thread: boolean) => (ctx: HelperContext) => {
    const signal = ctx.argU32(1);
    if (!kernel.inTask || kernel.pid === 0 || kernel.tgid === 1) return -Errno.EPERM;
    if (signal > 64) return -Errno.EINVAL;
    if (signal !== 0) kernel.signals.push({ signal, tgid: kernel.tgid, pid: kernel.pid, thread });
    return 0;
  };
  h.set(Helper.send_signal, sendSignal(false));
  h.set(Helper.send_signal_thread, sendSignal(true));

  // --- current task ---
  h.set(Helper.get_current_pid_tgid, () => (kernel.inTask ? pair(kernel.tgid, kernel.pid) : -Errno.EINVAL));
  h.set(Helper.get_current_uid_gid, () => (kernel.inTask ? pair(kernel.gid, kernel.uid) : -Errno.EINVAL));
  // Every context has a current task and so a cgroup; the VM's without one answers 0.
  h.set(Helper.get_current_cgroup_id, () => (kernel.inTask ? kernel.cgroup : 0n));
  h.set(Helper.get_current_task, () => (kernel.inTask ? kernel.currentTask : 0n));
  // The same task, typed: the program reads its members directly (loads the verifier marks as probe reads).
  h.set(Helper.get_current_task_btf, () => (kernel.inTask ? kernel.currentTask : 0n));
  h.set(Helper.get_current_comm, (ctx) => {
    const size = ctx.argU32(2);
    const buf = new Uint8Array(size);
    if (!kernel.inTask) {
      writeArg(ctx, ctx.arg(1), buf);
      return -Errno.EINVAL;
    }
    // strscpy_pad: at most size-1 bytes of the name, then NULs to the end.
    if (size > 0) buf.set(kernel.commBytes.subarray(0, Math.min(size - 1, 15)));
    writeArg(ctx, ctx.arg(1), buf);
    return 0;
  });

  // --- printf family ---
  // The last trace_printk format by its address and size, when its plan is settled (in a frozen
  // region, as .rodata is): while no region is mapped or unmapped the address names the same bytes,
  // which cannot change, so the call uses the plan without resolving the address again.
  let fmtPlan: FormatPlan | undefined;
  let fmtHi = 0;
  let fmtLo = 0;
  let fmtSize = 0;
  let fmtGeneration = -1;
  h.set(Helper.trace_printk, (ctx) => {
    const size = ctx.argU32(2);
    const hi = argHi(ctx, 1);
    const lo = ctx.argU32(1);
    let plan = fmtPlan;
    if (plan === undefined || lo !== fmtLo || hi !== fmtHi || size !== fmtSize || ctx.memory.generation !== fmtGeneration) {
      const region = argRegion(ctx, 1, size, false);
      plan = planAt(region.bytes, region.view, (lo - REGION_BASE) >>> 0, size, MAX_TRACE_PRINTK_VARARGS, region.frozen);
      fmtPlan = plan.settled ? plan : undefined;
      fmtHi = hi;
      fmtLo = lo;
      fmtSize = size;
      fmtGeneration = ctx.memory.generation;
    }
    const raw = printkArgs;
    raw[0] = ctx.argU32(3);
    raw[1] = argHi(ctx, 3);
    raw[2] = ctx.argU32(4);
    raw[3] = argHi(ctx, 4);
    raw[4] = ctx.argU32(5);
    raw[5] = argHi(ctx, 5);
    return tracePrintk(kernel, plan, raw, 3);
  });
  h.set(Helper.trace_vprintk, (ctx) => {
    const fmt = readArg(ctx, ctx.arg(1), ctx.argU32(2));
    const data = ctx.arg(3);
    const dataLen = ctx.argU32(4);
    if (dataLen & 7 || dataLen > MAX_BPRINTF_VARARGS * 8 || (dataLen && data === 0n)) return -Errno.EINVAL;
    const args = readU64s(ctx, data, dataLen / 8);
    const r = bpfFormat(kernel, fmt, args, args.length, MAX_BPRINTF_BUF);
    if (!r.ok) return r.errno;
    kernel.emitTrace(traceText(r.bytes));
    return r.length;
  });
  h.set(Helper.snprintf, (ctx) => {
    const str = ctx.arg(1);
    const strSize = ctx.argU32(2);
    const data = ctx.arg(4);
    const dataLen = ctx.argU32(5);
    if (dataLen % 8 || dataLen > MAX_BPRINTF_VARARGS * 8 || (dataLen && data === 0n)) return -Errno.EINVAL;
    const fmt = readCString(ctx, ctx.arg(3));
    if (!fmt) return -Errno.EINVAL;
    const args = readU64s(ctx, data, dataLen / 8);
    const r = bpfFormat(kernel, fmt, args, args.length, strSize);
    if (!r.ok) return r.errno;
    if (strSize > 0) {
      const out = new Uint8Array(r.bytes.length + 1);
      out.set(r.bytes);
      writeArg(ctx, str, out);
    }
    return r.length + 1;
  });

  // --- perf events and ring buffers ---
  h.set(Helper.perf_event_output, (ctx) => {
    const m = mapArg(maps, ctx, 2, "bpf_perf_event_output", PerfEventArray);
    const data = readArg(ctx, ctx.arg(4), Number(BigInt.asUintN(32, ctx.arg(5))));
    return m.output(ctx.arg(3), data);
  });
  h.set(Helper.ringbuf_output, (ctx) => {
    const m = mapArg(maps, ctx, 1, "bpf_ringbuf_output", RingBufMap);
    const size = ctx.arg(3);
    if (size > BigInt(m.size)) {
      // Too big to ever fit: the kernel fails the reserve before touching the data.
      return ctx.arg(4) & ~3n ? -Errno.EINVAL : -Errno.EAGAIN;
    }
    return m.output(readArg(ctx, ctx.arg(2), Number(size)), ctx.arg(4));
  });
  h.set(Helper.ringbuf_reserve, (ctx) => {
    const m = mapArg(maps, ctx, 1, "bpf_ringbuf_reserve", RingBufMap);
    if (ctx.arg(3) !== 0n) return 0n;
    return m.reserve(ctx.arg(2));
  });
  const commit = (name: string, discard: boolean): HelperFn => (ctx) => {
    const sample = ctx.arg(1);
    const ring = maps.ringOf(sample);
    if (!ring) throw new VmFault(`${name}: ${formatAddress(sample)} is not a ring buffer sample`, sample, ctx.pc);
    try {
      ring.commit(sample, ctx.arg(2), discard);
    } catch (e) {
      if (e instanceof VmFault) e.pc = ctx.pc;
      throw e;
    }
    return 0;
  };
  h.set(Helper.ringbuf_submit, commit("bpf_ringbuf_submit", false));
  h.set(Helper.ringbuf_discard, commit("bpf_ringbuf_discard", true));
  h.set(Helper.ringbuf_query, (ctx) => mapArg(maps, ctx, 1, "bpf_ringbuf_query", RingBufMap).query(ctx.arg(2)));

  // --- stacks ---
  h.set(Helper.get_stackid, (ctx) => {
    const m = mapArg(maps, ctx, 2, "bpf_get_stackid", StackTraceMap);
    const flags = ctx.arg(3);
    return m.getStackId(flags & BPF_F_USER_STACK ? kernel.stacks.user : kernel.stacks.kernel, flags);
  });
  h.set(Helper.get_stack, (ctx) => {
    const bufAddr = ctx.arg(2);
    const size = ctx.argU32(3);
    const flags = ctx.arg(4);
    const out = new Uint8Array(size);
    const finish = (ret: number): number => {
      if (ret < 0) out.fill(0);
      writeArg(ctx, bufAddr, out);
      return ret;
    };
    if (flags & ~(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_USER_BUILD_ID)) return finish(-Errno.EINVAL);
    const buildIds = (flags & BPF_F_USER_BUILD_ID) !== 0n;
    // Build id frames are the user stack's only.
    if (buildIds && !(flags & BPF_F_USER_STACK)) return finish(-Errno.EINVAL);
    const frame = buildIds ? 32 : 8;
    if (size % frame) return finish(-Errno.EINVAL);
    const stack = flags & BPF_F_USER_STACK ? kernel.stacks.user : kernel.stacks.kernel;
    if (!stack) return finish(-Errno.EFAULT);
    const skip = Number(flags & BPF_F_SKIP_FIELD_MASK);
    const maxDepth = Math.min(size / frame + skip, PERF_EVENT_MAX_STACK);
    const nr = Math.min(stack.length, maxDepth);
    if (nr < skip) return finish(-Errno.EFAULT);
    const n = Math.min(nr - skip, size / frame);
    const view = new DataView(out.buffer);
    // The kernel's fallback where it reads no build id: the ip, the build id zeroed. The rest of the buffer stays zero.
    for (let i = 0; i < n; i++) {
      const ip = BigInt.asUintN(64, stack[skip + i]!);
      if (buildIds) (view.setInt32(i * 32, BPF_STACK_BUILD_ID_IP, true), view.setBigUint64(i * 32 + 24, ip, true));
      else view.setBigUint64(i * 8, ip, true);
    }
    return finish(n * frame);
  });

  return h;
}

export interface CreateVmEnvOptions {
  kernel: SimKernel;
  /** The maps; a new empty registry over the kernel when omitted. */
  maps?: MapRegistry;
  /** Helpers to add or replace (by id) on top of the built-in ones. */
  helpers?: ReadonlyMap<number, HelperFn> | Record<number, HelperFn>;
  /** Legacy LD_ABS/LD_IND packet bytes for a context address. */
  packetOf?(ctx: bigint): Uint8Array | undefined;
}

/**
 * The VmEnv createVmEnv gives. A class rather than an object literal: V8 keeps a literal with getters
 * in dictionary mode, and the tiers read `env.memory` on every run.
 */
class SimVmEnv implements VmEnv {
  readonly memory: Memory;
  packetOf?: (ctx: bigint) => Uint8Array | undefined;
  constructor(
    readonly kernel: SimKernel,
    readonly maps: MapRegistry,
    readonly helpers: Map<number, HelperFn>,
  ) {
    this.memory = kernel.memory;
  }
  get mapsByFd(): ReadonlyMap<number, PseudoMap> {
    return new Map(this.maps.all.map((m) => [m.fd, m] as const));
  }
  get mapsByIndex(): readonly PseudoMap[] {
    return this.maps.all;
  }
  tailCallTarget(progArray: bigint, index: number): unknown {
    return this.maps.tailCallTarget(progArray, index);
  }
}

/** A VmEnv over the kernel's memory; map tables are read live from the registry. */
export function createVmEnv(opts: CreateVmEnvOptions): VmEnv & { readonly kernel: SimKernel; readonly maps: MapRegistry } {
  const { kernel } = opts;
  const maps = opts.maps ?? new MapRegistry(kernel);
  if (maps.host.memory !== kernel.memory) throw new Error("createVmEnv: the map registry and the kernel use different VM memories");
  const helpers = createHelpers(kernel, maps);
  const extra = opts.helpers;
  if (extra) {
    const entries = extra instanceof Map ? [...extra.entries()] : Object.entries(extra).map(([k, v]) => [Number(k), v] as const);
    for (const [id, fn] of entries) helpers.set(id, fn);
  }
  const env = new SimVmEnv(kernel, maps, helpers);
  if (opts.packetOf) env.packetOf = opts.packetOf;
  return env;
}
