// The printf family of helpers' formatting: the format check and argument capture of the kernel's
// bpf_bprintf_prepare (kernel/bpf/helpers.c) followed by rendering as bstr_printf does.
// Takes a SimKernel (to read strings and IPs from simulated memory, resolve symbols, hash
// pointers), format bytes and raw u64 arguments; gives the output bytes, the length vsnprintf
// would report, or -EINVAL / -ENOSPC.
// The format check itself is scanFormat (printf-format.ts).

import { Errno } from "../maps/base.js";
import type { SimKernel } from "../kernel.js";
import { join } from "../memory.js";
import type { TraceRecord } from "../kernel.js";
import { copyFromKernelAt, isUserAt, sameStringAt, strncpyFromKernelAt, strncpyFromUserAt } from "./memaccess.js";
import { S_CHAR, S_IP, S_NUM4, S_NUM8, S_PB, S_PTR, S_STR, S_STR_K, S_STR_U, ch, isAlnum, isDigit, scanFormat } from "./printf-format.js";

/** Bytes of the per-CPU buffer the captured arguments live in (MAX_BPRINTF_BIN_ARGS). */
export const MAX_BPRINTF_BIN_ARGS = 512;
/** Output buffer of trace_printk / trace_vprintk (MAX_BPRINTF_BUF). */
export const MAX_BPRINTF_BUF = 1024;
export const MAX_BPRINTF_VARARGS = 12;
export const MAX_TRACE_PRINTK_VARARGS = 3;

type Arg =
  | { kind: "num"; size: 4 | 8; raw: bigint }
  | { kind: "ptr"; raw: bigint }
  | { kind: "char"; value: number }
  | { kind: "str"; bytes: Uint8Array };

export type PrepareResult = { ok: true; args: Arg[] } | { ok: false; errno: number };

/** bstr_printf's view of one conversion (FormatPlan.convs), enough to know its output length. */
interface RenderConv {
  /** "p" (any %p form), "s", "c", or "n" (integers). */
  type: number;
  width: number;
  plus: boolean;
  space: boolean;
  long: boolean;
  /** The conversion letter (d i u x X) for "n". */
  k: number;
}

/**
 * A format checked once: what bpf_bprintf_prepare does that depends on the format and the
 * argument count alone, so a printk from a constant format only captures its arguments.
 */
export interface FormatPlan {
  /** The format through its NUL (the whole input when it has none). */
  readonly fmt: Uint8Array;
  /** `fmt` as little-endian int32s (its last length % 4 bytes left out), for a quick compare. */
  readonly words: Int32Array;
  readonly hasNul: boolean;
  readonly numArgs: number;
  /** Capture step per conversion, up to the first format error. */
  readonly steps: number[];
  /** Index into the captured values of each step's first value. */
  readonly slots: number[];
  /** Captured values per capture. */
  readonly slotCount: number;
  /** The bytes each string step captured last (captured bytes are never written, so they can be shared). */
  readonly lastStrings: (Uint8Array | undefined)[];
  /** -errno the check ends with after the steps, or 0. */
  readonly error: number;
  /** Output bytes outside conversions. */
  readonly literal: number;
  readonly convs: RenderConv[];
  /** Whether rendering depends on the captured values alone (so it may happen later). */
  readonly deferrable: boolean;
  /** Set once the format was found in place in a frozen region (planAt): its bytes cannot change, so later calls skip the compare. */
  settled: boolean;
}

function wordsOf(bytes: Uint8Array): Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Int32Array.from({ length: bytes.length >> 2 }, (_, k) => view.getInt32(4 * k, true));
}

/** Parses `fmtIn` (bytes, up to and including a NUL within them) for `numArgs` arguments. */
export function planFormat(fmtIn: Uint8Array, numArgs: number): FormatPlan {
  const nul = fmtIn.indexOf(0);
  const steps: number[] = [];
  const slots: number[] = [];
  if (nul < 0) return { fmt: fmtIn.slice(), words: wordsOf(fmtIn), hasNul: false, numArgs, steps, slots, slotCount: 0, lastStrings: [], error: -Errno.EINVAL, literal: 0, convs: [], deferrable: false, settled: false };
  const fmt = fmtIn.slice(0, nul + 1);
  let slot = 0;
  const push = (step: number): void => {
    steps.push(step);
    slots.push(slot);
    slot += step <= S_PTR ? 2 : 1;
  };
  const error = scanFormat(fmt, nul, numArgs, push) ? 0 : -Errno.EINVAL;
  const { literal, convs } = error === 0 ? renderShape(fmt) : { literal: 0, convs: [] };
  const deferrable = error === 0 && convs.length <= steps.length && !steps.includes(S_PTR);
  return { fmt, words: wordsOf(fmt), hasNul: true, numArgs, steps, slots, slotCount: slot, lastStrings: [], error, literal, convs, deferrable, settled: false };
}

/** The conversions bstrPrintf will see, walking the format as it does. */
function renderShape(fmt: Uint8Array): { literal: number; convs: RenderConv[] } {
  const at = (i: number): number => (i < fmt.length ? fmt[i]! : 0);
  const n = fmt.length > 0 && fmt[fmt.length - 1] === 0 ? fmt.length - 1 : fmt.length;
  const convs: RenderConv[] = [];
  let literal = 0;
  let i = 0;
  while (i < n) {
    if (at(i) !== ch("%")) {
      literal++;
      i++;
      continue;
    }
    if (at(i + 1) === ch("%")) {
      literal++;
      i += 2;
      continue;
    }
    i++;
    const conv: RenderConv = { type: 0, width: -1, plus: false, space: false, long: false, k: 0 };
    for (;;) {
      const f = at(i);
      if (f === ch("+")) conv.plus = true;
      else if (f === ch(" ")) conv.space = true;
      else if (f !== ch("-") && f !== ch("0")) break;
      i++;
    }
    if (isDigit(at(i))) {
      let w = 0;
      while (isDigit(at(i))) w = Math.min(w * 10 + (at(i++) - 0x30), 0x7fffff);
      conv.width = w;
    }
    const c = at(i);
    if (c === ch("p")) {
      conv.type = c;
      i++;
      while (isAlnum(at(i))) i++;
    } else if (c === ch("s") || c === ch("c")) {
      conv.type = c;
      i++;
    } else {
      conv.type = ch("n");
      if (at(i) === ch("l")) {
        conv.long = true;
        i++;
        if (at(i) === ch("l")) i++;
      }
      conv.k = at(i);
      i++;
    }
    convs.push(conv);
  }
  return { literal, convs };
}

/** Scratch for %s captures: at most the 512-byte argument buffer. */
const strScratch = new Uint8Array(MAX_BPRINTF_BIN_ARGS);

/**
 * The capture half of bpf_bprintf_prepare for a planned format. `raw` holds each argument's
 * (low, high) int32 halves; gives the captured values (two halves per number, a byte for %c,
 * bytes for strings), or -errno.
 */
export function captureArgs(kernel: SimKernel, plan: FormatPlan, raw: ArrayLike<number>, rawCount: number): unknown[] | number {
  if (!plan.hasNul) return plan.error;
  const steps = plan.steps;
  const vals: unknown[] = new Array(plan.slotCount);
  let used = 0;
  for (let k = 0; k < steps.length; k++) {
    const step = steps[k]!;
    const lo = k < rawCount ? raw[2 * k]! | 0 : 0;
    const hi = k < rawCount ? raw[2 * k + 1]! | 0 : 0;
    const room = MAX_BPRINTF_BIN_ARGS - used;
    if (step <= S_PTR) {
      const size = step === S_NUM4 ? 4 : 8;
      used = Math.ceil(used / 4) * 4;
      if (MAX_BPRINTF_BIN_ARGS - used < size) return -Errno.ENOSPC;
      used += size;
      vals[plan.slots[k]!] = lo;
      vals[plan.slots[k]! + 1] = hi;
    } else if (step === S_PB) {
      const text = symbolText(kernel, join(hi, lo), "B");
      vals[plan.slots[k]!] = text;
      used += text.length + 1;
    } else if (step < S_CHAR) {
      const v6 = (step - S_IP) & 2;
      const size = v6 ? 16 : 4;
      if (room < size) return -Errno.ENOSPC;
      const ipBytes = new Uint8Array(size);
      copyFromKernelAt(kernel, ipBytes, hi, lo); // zeros on failure
      const text = formatIp(ipBytes, ((step - S_IP) & 1) !== 0);
      vals[plan.slots[k]!] = text;
      used += text.length + 1;
    } else if (step === S_CHAR) {
      if (room === 0) return -Errno.ENOSPC;
      vals[plan.slots[k]!] = lo & 0xff;
      used += 1;
    } else {
      if (room === 0) return -Errno.ENOSPC;
      const user = step === S_STR_U || (step === S_STR && isUserAt(hi, lo));
      let got = user ? strncpyFromUserAt(kernel, strScratch, hi, lo, room) : strncpyFromKernelAt(kernel, strScratch, hi, lo, room);
      // Copies end at their NUL (a cut string gets one at room - 1), so the text is got - 1 bytes.
      let end = got - 1;
      if (got < 0) {
        got = 1;
        end = 0;
      }
      // The same text as last time (a probe printing one path again and again) reuses its bytes.
      const last = plan.lastStrings[k];
      let same = last !== undefined && last.length === end;
      for (let b = 0; same && b < end; b++) same = last![b] === strScratch[b];
      const bytes = same ? last! : strScratch.slice(0, end);
      plan.lastStrings[k] = bytes;
      vals[plan.slots[k]!] = bytes;
      used += got;
    }
  }
  return plan.error !== 0 ? plan.error : vals;
}

/** Captured values as bstrPrintf's arguments. */
export function capturedArgs(plan: FormatPlan, vals: readonly unknown[]): Arg[] {
  const args: Arg[] = [];
  for (let k = 0; k < plan.steps.length; k++) {
    const step = plan.steps[k]!;
    const v = vals[plan.slots[k]!];
    if (step <= S_PTR) {
      const value = join(vals[plan.slots[k]! + 1] as number, v as number);
      args.push(step === S_PTR ? { kind: "ptr", raw: value } : { kind: "num", size: step === S_NUM4 ? 4 : 8, raw: value });
    } else if (step === S_CHAR) args.push({ kind: "char", value: v as number });
    else args.push({ kind: "str", bytes: v as Uint8Array });
  }
  return args;
}

/**
 * bpf_bprintf_prepare: checks `fmt` (bytes, up to and including a NUL within them) against
 * `numArgs` arguments and captures what each conversion needs. A missing NUL is -EINVAL.
 */
export function bprintfPrepare(kernel: SimKernel, fmtIn: Uint8Array, raw: readonly bigint[], numArgs: number): PrepareResult {
  const plan = planFormat(fmtIn, numArgs);
  const halves: number[] = [];
  for (const r of raw) halves.push(Number(BigInt.asIntN(32, r)), Number(BigInt.asIntN(32, r >> 32n)));
  const vals = captureArgs(kernel, plan, halves, raw.length);
  if (typeof vals === "number") return { ok: false, errno: vals };
  return { ok: true, args: capturedArgs(plan, vals) };
}

const POW10: number[] = [];
for (let p = 1; p < 1e17; p *= 10) POW10.push(p);

/** Digits of a non-negative safe integer in base 10 or 16. */
function digitCount(v: number, base: number): number {
  let n = 1;
  if (base === 10) {
    while (n < POW10.length && v >= POW10[n]!) n++;
  } else {
    for (let p = 16; v >= p; p *= 16) n++;
  }
  return n;
}

const C_P = ch("p");
const C_S = ch("s");
const C_C = ch("c");
const C_D = ch("d");
const C_I = ch("i");
const C_LX = ch("x");
const C_UX = ch("X");

/** Characters bstrPrintf writes for integer conversion `c` of the value (hi:lo), padding included. */
function numberLength(c: RenderConv, lo: number, hi: number): number {
  const k = c.k;
  const signed = k === C_D || k === C_I;
  const base = k === C_LX || k === C_UX ? 16 : 10;
  let neg = false;
  let digits: number;
  if (!c.long) {
    const x = signed ? lo | 0 : lo >>> 0;
    neg = x < 0;
    digits = digitCount(neg ? -x : x, base);
  } else if (signed ? (hi | 0) >= -0x200000 && (hi | 0) < 0x200000 : hi >>> 0 < 0x200000) {
    // |value| < 2^53: exact as a double.
    const x = (signed ? hi | 0 : hi >>> 0) * 4294967296 + (lo >>> 0);
    neg = x < 0;
    digits = digitCount(neg ? -x : x, base);
  } else {
    const x = signed ? BigInt.asIntN(64, join(hi, lo)) : join(hi, lo);
    neg = x < 0n;
    digits = (neg ? -x : x).toString(base).length;
  }
  const sign = signed && (neg || c.plus || c.space) ? 1 : 0;
  return c.width > sign + digits ? c.width : sign + digits;
}

/** The length bstrPrintf reports for a deferrable plan's captured values, without rendering. */
export function renderedLength(plan: FormatPlan, vals: readonly unknown[]): number {
  let len = plan.literal;
  const convs = plan.convs;
  for (let j = 0; j < convs.length; j++) {
    const c = convs[j]!;
    const step = plan.steps[j]!;
    const v = vals[plan.slots[j]!];
    const isStr = step !== S_CHAR && step > S_PTR;
    if (c.type === ch("p")) {
      if (isStr) len += (v as Uint8Array).length;
    } else if (c.type === ch("s")) {
      const n = isStr ? (v as Uint8Array).length : 0;
      len += c.width > n ? c.width : n;
    } else if (c.type === ch("c")) {
      len += (c.width - 1 > 0 ? c.width - 1 : 0) + 1;
    } else {
      const isNum = step <= S_PTR;
      len += numberLength(c, isNum ? (v as number) : 0, isNum ? (vals[plan.slots[j]! + 1] as number) : 0);
    }
  }
  return len;
}

/** Collects output like a bounded buffer while counting the full length, as vsnprintf does. */
class Out {
  readonly bytes: number[] = [];
  length = 0;
  constructor(private readonly cap: number) {}
  put(b: number): void {
    if (this.length < this.cap) this.bytes.push(b);
    this.length++;
  }
  pad(b: number, n: number): void {
    for (let k = 0; k < n && this.length < this.cap; k++) this.bytes.push(b);
    this.length += Math.max(0, n);
    if (this.bytes.length > this.cap) this.bytes.length = this.cap;
  }
  putAll(bs: ArrayLike<number>): void {
    for (let k = 0; k < bs.length; k++) this.put(bs[k]!);
  }
}

interface Spec {
  left: boolean;
  plus: boolean;
  space: boolean;
  zero: boolean;
  /** -1 when none was given. */
  width: number;
}

const enc = new TextEncoder();

/** The kernel's number(): sign, padding and digits for integer conversions. */
function putNumber(out: Out, value: bigint, signed: boolean, base: 10 | 16, upper: boolean, spec: Spec): void {
  let width = spec.width;
  const zero = spec.zero && !spec.left;
  let sign = 0;
  let mag = value;
  if (signed) {
    if (value < 0n) {
      sign = ch("-");
      mag = -value;
      width--;
    } else if (spec.plus) {
      sign = ch("+");
      width--;
    } else if (spec.space) {
      sign = ch(" ");
      width--;
    }
  }
  let digits = mag.toString(base);
  if (upper) digits = digits.toUpperCase();
  width -= digits.length;
  if (!zero && !spec.left) {
    out.pad(ch(" "), width);
    width = 0;
  }
  if (sign) out.put(sign);
  if (!spec.left) {
    out.pad(zero ? ch("0") : ch(" "), width);
    width = 0;
  }
  out.putAll(enc.encode(digits));
  out.pad(ch(" "), width);
}

function putString(out: Out, s: Uint8Array, spec: Spec): void {
  const padN = spec.width > s.length ? spec.width - s.length : 0;
  if (!spec.left) out.pad(ch(" "), padN);
  out.putAll(s);
  if (spec.left) out.pad(ch(" "), padN);
}

/** pointer_string(): hex, and 16 zero-padded digits when no width was given. */
function putPointer(out: Out, ptr: bigint, spec: Spec): void {
  const s = spec.width === -1 ? { ...spec, width: 16, zero: true } : spec;
  putNumber(out, BigInt.asUintN(64, ptr), false, 16, false, s);
}

/** A stable stand-in for the kernel's siphash of pointers: 32 bits, so printed as 00000000xxxxxxxx. */
export function hashPointer(ptr: bigint): bigint {
  const lo = Number(ptr & 0xffffffffn);
  const hi = Number((ptr >> 32n) & 0xffffffffn);
  let h = Math.imul(lo ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(hi ^ 0x7f4a7c15, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x27d4eb2d);
  h ^= h >>> 13;
  return BigInt(h >>> 0);
}

const isErrOrNull = (ptr: bigint): boolean => ptr === 0n || ptr >= BigInt.asUintN(64, -4095n);

function defaultPointer(kernel: SimKernel, out: Out, ptr: bigint, spec: Spec): void {
  if (!kernel.hashPointers || isErrOrNull(ptr)) putPointer(out, ptr, spec);
  else putPointer(out, hashPointer(ptr), spec);
}

/** %pS / %ps / %pB text: "name+0xoff/0xsize [module]", "name [module]", or "0x<address>" when unknown. */
export function symbolText(kernel: SimKernel, address: bigint, kind: "S" | "s" | "B"): Uint8Array {
  const lookup = kind === "B" ? address - 1n : address;
  const found = kernel.symbolize(lookup);
  if (!found) return enc.encode(`0x${address.toString(16)}`);
  const { symbol } = found;
  const offset = kind === "B" ? found.offset + 1n : found.offset;
  let text = symbol.name;
  if (kind !== "s") text += `+0x${offset.toString(16)}/0x${symbol.size.toString(16)}`;
  if (symbol.module) text += ` [${symbol.module}]`;
  return enc.encode(text);
}

function formatIp(b: Uint8Array, upperI: boolean): Uint8Array {
  if (b.length === 4) return enc.encode([...b].map((x) => (upperI ? String(x) : String(x).padStart(3, "0"))).join("."));
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0"));
  if (!upperI) return enc.encode(hex.join(""));
  const groups: string[] = [];
  for (let g = 0; g < 8; g++) groups.push(hex[2 * g]! + hex[2 * g + 1]!);
  return enc.encode(groups.join(":"));
}

/**
 * bstr_printf over a format bprintfPrepare accepted. Returns the bytes that fit in `size`
 * (without the terminating NUL) and the full length the kernel would return.
 */
export function bstrPrintf(kernel: SimKernel, fmtIn: Uint8Array, args: readonly Arg[], size: number): { bytes: Uint8Array; length: number } {
  const nul = fmtIn.indexOf(0);
  const fmt = nul < 0 ? fmtIn : fmtIn.subarray(0, nul);
  const at = (i: number): number => (i < fmt.length ? fmt[i]! : 0);
  const out = new Out(Math.max(0, size - 1));
  let next = 0;
  const take = (): Arg => {
    const a = args[next++];
    if (!a) throw new Error("printf: more conversions than captured arguments (format changed between check and render?)");
    return a;
  };
  let i = 0;
  while (i < fmt.length) {
    const c = at(i);
    if (c !== ch("%")) {
      out.put(c);
      i++;
      continue;
    }
    if (at(i + 1) === ch("%")) {
      out.put(c);
      i += 2;
      continue;
    }
    i++;
    const spec: Spec = { left: false, plus: false, space: false, zero: false, width: -1 };
    for (;;) {
      const f = at(i);
      if (f === ch("-")) spec.left = true;
      else if (f === ch("+")) spec.plus = true;
      else if (f === ch(" ")) spec.space = true;
      else if (f === ch("0")) spec.zero = true;
      else break;
      i++;
    }
    if (isDigit(at(i))) {
      let w = 0;
      while (isDigit(at(i))) w = Math.min(w * 10 + (at(i++) - 0x30), 0x7fffff);
      spec.width = w;
    }
    const conv = at(i);
    if (conv === ch("p")) {
      i++;
      const k = at(i);
      const arg = take();
      if (arg.kind === "str") {
        // Pre-formatted by the check (%pks %pus %pB %pI4 ...): copied without width.
        out.putAll(arg.bytes);
      } else if (arg.kind === "ptr") {
        if (k === ch("x")) putPointer(out, arg.raw, spec);
        else if (k === ch("K")) {
          if (kernel.kptrRestrict === 0) defaultPointer(kernel, out, arg.raw, spec);
          else putPointer(out, kernel.kptrRestrict === 1 && kernel.uid === 0 ? arg.raw : 0n, spec);
        } else if (k === ch("s") || k === ch("S")) putString(out, symbolText(kernel, arg.raw, k === ch("s") ? "s" : "S"), spec);
        else defaultPointer(kernel, out, arg.raw, spec);
      }
      while (isAlnum(at(i))) i++;
      continue;
    }
    if (conv === ch("s")) {
      const arg = take();
      putString(out, arg.kind === "str" ? arg.bytes : new Uint8Array(0), spec);
      i++;
      continue;
    }
    if (conv === ch("c")) {
      const arg = take();
      if (!spec.left) out.pad(ch(" "), spec.width - 1);
      out.put(arg.kind === "char" ? arg.value : 0);
      if (spec.left) out.pad(ch(" "), spec.width - 1);
      i++;
      continue;
    }
    let long = false;
    if (at(i) === ch("l")) {
      long = true;
      i++;
      if (at(i) === ch("l")) i++;
    }
    const k = at(i);
    i++;
    const arg = take();
    const rawv = arg.kind === "num" || arg.kind === "ptr" ? arg.raw : 0n;
    const signed = k === ch("d") || k === ch("i");
    const bits = long ? 64 : 32;
    const value = signed ? BigInt.asIntN(bits, rawv) : BigInt.asUintN(bits, rawv);
    putNumber(out, value, signed, k === ch("x") || k === ch("X") ? 16 : 10, k === ch("X"), spec);
  }
  return { bytes: Uint8Array.from(out.bytes), length: out.length };
}

export type FormatResult = { ok: true; bytes: Uint8Array; length: number } | { ok: false; errno: number };

/** Check then render into a buffer of `size` bytes (trace_printk uses MAX_BPRINTF_BUF). */
export function bpfFormat(kernel: SimKernel, fmt: Uint8Array, raw: readonly bigint[], numArgs: number, size: number): FormatResult {
  const prep = bprintfPrepare(kernel, fmt, raw, numArgs);
  if (!prep.ok) return prep;
  const r = bstrPrintf(kernel, fmt, prep.args, size);
  return { ok: true, ...r };
}

// Plans by the buffer and offset of their format (printk formats live in .rodata and are read
// again on every call); each use first checks the bytes still match.
const plans = new WeakMap<Uint8Array, Map<number, FormatPlan>>();

// The plan used last, tried before the maps.
let lastBytes: Uint8Array | undefined;
let lastOff = -1;
let lastPlan: FormatPlan | undefined;

/**
 * The plan of the `size`-byte format at `off` in `bytes` (viewed by `view`), parsed on first use. `frozen`: the
 * bytes can no longer change (a frozen read-only map's values, as .rodata is), so a plan found there once is
 * used without comparing its format again.
 */
export function planAt(bytes: Uint8Array, view: DataView, off: number, size: number, numArgs: number, frozen = false): FormatPlan {
  let byOff: Map<number, FormatPlan> | undefined;
  let plan: FormatPlan | undefined;
  if (bytes === lastBytes && off === lastOff) plan = lastPlan;
  else plan = (byOff = plans.get(bytes))?.get(off);
  if (plan !== undefined && plan.numArgs === numArgs && (plan.hasNul ? plan.fmt.length <= size : plan.fmt.length === size)) {
    if (plan.settled) return remember(bytes, off, plan);
    if (sameFormat(plan, view, off)) {
      plan.settled = frozen;
      return remember(bytes, off, plan);
    }
  }
  plan = planFormat(bytes.subarray(off, off + size), numArgs);
  byOff ??= plans.get(bytes);
  if (byOff === undefined) plans.set(bytes, (byOff = new Map()));
  byOff.set(off, plan);
  return remember(bytes, off, plan);
}

/** Whether the bytes at `off` still are the plan's format: four at a time, then the rest. */
function sameFormat(plan: FormatPlan, view: DataView, off: number): boolean {
  const words = plan.words;
  const n = words.length;
  for (let k = 0; k < n; k++) if (view.getInt32(off + 4 * k, true) !== words[k]) return false;
  const fmt = plan.fmt;
  for (let k = 4 * n; k < fmt.length; k++) if (view.getUint8(off + k) !== fmt[k]) return false;
  return true;
}

function remember(bytes: Uint8Array, off: number, plan: FormatPlan): FormatPlan {
  lastBytes = bytes;
  lastOff = off;
  lastPlan = plan;
  return plan;
}

/** The text a trace event shows: the buffer up to its first NUL. */
export function traceText(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return decoder.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

const decoder = new TextDecoder();

/** Renders a deferred printk line (see SimKernel.emitLazyTrace). */
export function renderTrace(plan: FormatPlan, vals: readonly unknown[]): string {
  return traceText(bstrPrintf(undefined as unknown as SimKernel, plan.fmt, capturedArgs(plan, vals), MAX_BPRINTF_BUF).bytes);
}

/** Steps a PrintkRecord holds: trace_printk's three arguments. */
const RECORD_STEPS = MAX_TRACE_PRINTK_VARARGS;

/**
 * A trace_printk line from a deferrable plan: what the check captured for each of its (at most
 * three) conversions, rendered by the same bstrPrintf when its text is first read. One object
 * per line, the captured values in its own fields.
 */
export class PrintkRecord implements TraceRecord {
  private rendered: string | undefined = undefined;
  // Step k's value: low and high halves (numbers; a %c's byte in lo), or its bytes (strings, %pB, %pI).
  // Every field is a constructor parameter: a record is built in one step, without field initializers.
  constructor(
    readonly plan: FormatPlan,
    public pid: number,
    public comm: string,
    public cpu: number,
    public timeNs: bigint,
    public lo0: number,
    public hi0: number,
    public b0: Uint8Array | undefined,
    public lo1: number,
    public hi1: number,
    public b1: Uint8Array | undefined,
    public lo2: number,
    public hi2: number,
    public b2: Uint8Array | undefined,
  ) {}
  get text(): string {
    if (this.rendered === undefined) this.rendered = renderTrace(this.plan, this.values());
    return this.rendered;
  }
  set text(v: string) {
    this.rendered = v;
  }
  /** The captured values in captureArgs' layout. */
  private values(): unknown[] {
    const plan = this.plan;
    const vals: unknown[] = new Array(plan.slotCount);
    const lo = [this.lo0, this.lo1, this.lo2];
    const hi = [this.hi0, this.hi1, this.hi2];
    const b = [this.b0, this.b1, this.b2];
    for (let k = 0; k < plan.steps.length; k++) {
      const step = plan.steps[k]!;
      const slot = plan.slots[k]!;
      if (step <= S_PTR) {
        vals[slot] = lo[k];
        vals[slot + 1] = hi[k];
      } else if (step === S_CHAR) vals[slot] = lo[k];
      else vals[slot] = b[k];
    }
    return vals;
  }
}

// What capturePrintk captured, per step, before it goes into a record.
const capLo = new Int32Array(RECORD_STEPS);
const capHi = new Int32Array(RECORD_STEPS);
const capBytes: (Uint8Array | undefined)[] = [undefined, undefined, undefined];

/**
 * captureArgs for a deferrable plan of at most three steps, into capLo / capHi / capBytes:
 * 0, or -errno. Identical checks and captures; a string equal to the step's last one is
 * recognised in place, without copying it.
 */
function capturePrintk(kernel: SimKernel, plan: FormatPlan, raw: ArrayLike<number>, rawCount: number): number {
  const steps = plan.steps;
  let used = 0;
  for (let k = 0; k < steps.length; k++) {
    const step = steps[k]!;
    const lo = k < rawCount ? raw[2 * k]! | 0 : 0;
    const hi = k < rawCount ? raw[2 * k + 1]! | 0 : 0;
    const room = MAX_BPRINTF_BIN_ARGS - used;
    if (step <= S_PTR) {
      const size = step === S_NUM4 ? 4 : 8;
      used = (used + 3) & ~3;
      if (MAX_BPRINTF_BIN_ARGS - used < size) return -Errno.ENOSPC;
      used += size;
      capLo[k] = lo;
      capHi[k] = hi;
    } else if (step === S_CHAR) {
      if (room === 0) return -Errno.ENOSPC;
      capLo[k] = lo & 0xff;
      used += 1;
    } else if (step >= S_STR) {
      if (room === 0) return -Errno.ENOSPC;
      const user = step === S_STR_U || (step === S_STR && isUserAt(hi, lo));
      const last = plan.lastStrings[k];
      if (last !== undefined && sameStringAt(kernel, user, hi, lo, room, last)) {
        capBytes[k] = last;
        used += last.length + 1;
        continue;
      }
      let got = user ? strncpyFromUserAt(kernel, strScratch, hi, lo, room) : strncpyFromKernelAt(kernel, strScratch, hi, lo, room);
      let end = got - 1;
      if (got < 0) {
        got = 1;
        end = 0;
      }
      let same = last !== undefined && last.length === end;
      for (let b = 0; same && b < end; b++) same = last![b] === strScratch[b];
      const bytes = same ? last! : strScratch.slice(0, end);
      plan.lastStrings[k] = bytes;
      capBytes[k] = bytes;
      used += got;
    } else if (step === S_PB) {
      const text = symbolText(kernel, join(hi, lo), "B");
      capBytes[k] = text;
      used += text.length + 1;
    } else {
      const v6 = (step - S_IP) & 2;
      const size = v6 ? 16 : 4;
      if (room < size) return -Errno.ENOSPC;
      const ipBytes = new Uint8Array(size);
      copyFromKernelAt(kernel, ipBytes, hi, lo); // zeros on failure
      const text = formatIp(ipBytes, ((step - S_IP) & 1) !== 0);
      capBytes[k] = text;
      used += text.length + 1;
    }
  }
  return plan.error;
}

/** renderedLength over what capturePrintk captured. */
function capturedLength(plan: FormatPlan): number {
  let len = plan.literal;
  const convs = plan.convs;
  for (let j = 0; j < convs.length; j++) {
    const c = convs[j]!;
    const step = plan.steps[j]!;
    const isStr = step !== S_CHAR && step > S_PTR;
    const type = c.type;
    if (type === C_P) {
      if (isStr) len += capBytes[j]!.length;
    } else if (type === C_S) {
      const n = isStr ? capBytes[j]!.length : 0;
      len += c.width > n ? c.width : n;
    } else if (type === C_C) {
      len += (c.width - 1 > 0 ? c.width - 1 : 0) + 1;
    } else {
      const isNum = step <= S_PTR;
      len += numberLength(c, isNum ? capLo[j]! : 0, isNum ? capHi[j]! : 0);
    }
  }
  return len;
}

/**
 * trace_printk / trace_vprintk from a plan: captures the arguments, records the line (rendered
 * when first read if the plan allows) and returns what the helper returns.
 */
export function tracePrintk(kernel: SimKernel, plan: FormatPlan, raw: ArrayLike<number>, rawCount: number): number {
  if (plan.deferrable && plan.hasNul && plan.steps.length <= RECORD_STEPS) {
    const err = capturePrintk(kernel, plan, raw, rawCount);
    if (err !== 0) return err;
    // Steps the plan does not have record zeros (capLo / capHi may hold an earlier call's values).
    const n = plan.steps.length;
    const rec = new PrintkRecord(
      plan, kernel.pid, kernel.inTask ? kernel.comm : "<idle>", kernel.cpu, kernel.timeNs,
      n > 0 ? capLo[0]! : 0, n > 0 ? capHi[0]! : 0, capBytes[0],
      n > 1 ? capLo[1]! : 0, n > 1 ? capHi[1]! : 0, capBytes[1],
      n > 2 ? capLo[2]! : 0, n > 2 ? capHi[2]! : 0, capBytes[2],
    );
    const length = capturedLength(plan);
    capBytes[0] = capBytes[1] = capBytes[2] = undefined;
    kernel.trace.push(rec);
    return length;
  }
  const vals = captureArgs(kernel, plan, raw, rawCount);
  if (typeof vals === "number") return vals;
  if (plan.deferrable) {
    kernel.emitLazyTrace(renderTrace, plan, vals);
    return renderedLength(plan, vals);
  }
  const r = bstrPrintf(kernel, plan.fmt, capturedArgs(plan, vals), MAX_BPRINTF_BUF);
  kernel.emitTrace(traceText(r.bytes));
  return r.length;
}
