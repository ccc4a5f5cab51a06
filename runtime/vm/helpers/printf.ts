// The printf family of helpers' formatting: the format check and argument capture of the kernel's
// bpf_bprintf_prepare (kernel/bpf/helpers.c) followed by rendering as bstr_printf does.
// Takes a SimKernel (to read strings and IPs from simulated memory, resolve symbols, hash
// pointers), format bytes and raw u64 arguments; gives the output bytes, the length vsnprintf
// would report, or -EINVAL / -ENOSPC.
//
// Accepted, as in the kernel: %% and, after optional flags [0 +-] and a width, %d %i %u %x %X with
// l / ll, %c, %s (followed by NUL, space or punctuation), %p alone, %pK %px %ps %pS %pB,
// %pks %pus, %pI4 %pi4 %pI6 %pi6. No precision, no '#', no h/z/t.

import { Errno } from "../maps/base.js";
import type { SimKernel } from "../kernel.js";
import { copyFromKernel, strncpyFromKernel, strncpyFromUser } from "./memaccess.js";

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

const isAsciiByte = (c: number): boolean => c < 0x80;
const isPrint = (c: number): boolean => c >= 0x20 && c <= 0x7e;
// The kernel's ctype table (lib/ctype.c) covers Latin-1 too.
const isSpace = (c: number): boolean => (c >= 9 && c <= 13) || c === 0x20 || c === 0xa0;
const isPunct = (c: number): boolean =>
  (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e) ||
  (c >= 0xa1 && c <= 0xbf) || c === 0xd7 || c === 0xf7;
const isAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const ch = (s: string): number => s.charCodeAt(0);

export type PrepareResult = { ok: true; args: Arg[] } | { ok: false; errno: number };

/**
 * bpf_bprintf_prepare: checks `fmt` (bytes, up to and including a NUL within them) against
 * `numArgs` arguments and captures what each conversion needs. A missing NUL is -EINVAL.
 */
export function bprintfPrepare(kernel: SimKernel, fmtIn: Uint8Array, raw: readonly bigint[], numArgs: number): PrepareResult {
  const nul = fmtIn.indexOf(0);
  if (nul < 0) return { ok: false, errno: -Errno.EINVAL };
  const fmt = fmtIn.subarray(0, nul + 1);
  const at = (i: number): number => (i < fmt.length ? fmt[i]! : 0);
  const fail = (errno: number): PrepareResult => ({ ok: false, errno: -errno });
  const args: Arg[] = [];
  // Space used in the 512-byte argument buffer; only tracked when there are arguments.
  const tracking = numArgs > 0;
  let used = 0;
  const room = (): number => MAX_BPRINTF_BIN_ARGS - used;
  let numSpec = 0;

  const pushNum = (size: 4 | 8, isPtr: boolean): number => {
    const value = BigInt.asUintN(64, raw[numSpec] ?? 0n);
    if (tracking) {
      used = Math.ceil(used / 4) * 4;
      if (room() < size) return Errno.ENOSPC;
      used += size;
    }
    args.push(isPtr ? { kind: "ptr", raw: value } : { kind: "num", size, raw: value });
    numSpec++;
    return 0;
  };

  for (let i = 0; i < nul; i++) {
    let c = at(i);
    if (isAsciiByte(c) && !isPrint(c) && !isSpace(c)) return fail(Errno.EINVAL);
    if (c !== ch("%")) continue;
    if (at(i + 1) === ch("%")) {
      i++;
      continue;
    }
    if (numSpec >= numArgs) return fail(Errno.EINVAL);
    i++;
    c = at(i);
    if (!isAsciiByte(c)) return fail(Errno.EINVAL);
    while (at(i) === ch("0") || at(i) === ch("+") || at(i) === ch("-") || at(i) === ch(" ")) i++;
    if (at(i) >= ch("1") && at(i) <= ch("9")) {
      i++;
      while (isDigit(at(i))) i++;
    }

    let strType = 0;
    if (at(i) === ch("p")) {
      const n1 = at(i + 1);
      if (n1 === 0 || isSpace(n1) || isPunct(n1)) {
        const e = pushNum(8, true);
        if (e) return fail(e);
        continue;
      }
      if ((n1 === ch("k") || n1 === ch("u")) && at(i + 2) === ch("s")) {
        strType = n1;
        i += 2;
      } else if (n1 === ch("K") || n1 === ch("x") || n1 === ch("s") || n1 === ch("S")) {
        i++;
        const e = pushNum(8, true);
        if (e) return fail(e);
        continue;
      } else if (n1 === ch("B")) {
        const text = symbolText(kernel, BigInt.asUintN(64, raw[numSpec] ?? 0n), "B");
        args.push({ kind: "str", bytes: text });
        if (tracking) used += text.length + 1;
        i++;
        numSpec++;
        continue;
      } else {
        if ((n1 !== ch("i") && n1 !== ch("I")) || (at(i + 2) !== ch("4") && at(i + 2) !== ch("6"))) return fail(Errno.EINVAL);
        i += 2;
        const v6 = at(i) === ch("6");
        const size = v6 ? 16 : 4;
        if (tracking && room() < size) return fail(Errno.ENOSPC);
        const ipBytes = new Uint8Array(size);
        copyFromKernel(kernel, ipBytes, BigInt.asUintN(64, raw[numSpec] ?? 0n)); // zeros on failure
        const text = formatIp(ipBytes, at(i - 1) === ch("I"));
        args.push({ kind: "str", bytes: text });
        if (tracking) used += text.length + 1;
        numSpec++;
        continue;
      }
    } else if (at(i) === ch("s")) {
      strType = ch("s");
    } else if (at(i) === ch("c")) {
      if (tracking && room() === 0) return fail(Errno.ENOSPC);
      args.push({ kind: "char", value: Number(BigInt.asUintN(8, raw[numSpec] ?? 0n)) });
      if (tracking) used += 1;
      numSpec++;
      continue;
    }

    if (strType !== 0) {
      const n = at(i + 1);
      if (n !== 0 && !isSpace(n) && !isPunct(n)) return fail(Errno.EINVAL);
      if (tracking && room() === 0) return fail(Errno.ENOSPC);
      const ptr = BigInt.asUintN(64, raw[numSpec] ?? 0n);
      const buf = new Uint8Array(room());
      const user = strType === ch("u") || (strType === ch("s") && kernel.isUserAddress(ptr));
      let got = user ? strncpyFromUser(kernel, buf, ptr) : strncpyFromKernel(kernel, buf, ptr);
      if (got < 0) {
        buf[0] = 0;
        got = 1;
      }
      const end = buf.indexOf(0);
      args.push({ kind: "str", bytes: buf.slice(0, end < 0 ? got : end) });
      if (tracking) used += got;
      numSpec++;
      continue;
    }

    let size: 4 | 8 = 4;
    if (at(i) === ch("l")) {
      size = 8;
      i++;
    }
    if (at(i) === ch("l")) i++;
    const conv = at(i);
    if (conv !== ch("i") && conv !== ch("d") && conv !== ch("u") && conv !== ch("x") && conv !== ch("X")) return fail(Errno.EINVAL);
    const e = pushNum(size, false);
    if (e) return fail(e);
  }
  return { ok: true, args };
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
