// printf(format, ...args), as bpftrace's printf: a C format checked at compile time, its arguments sent in a record
// to tsbpf run's actions ring buffer and formatted there, in user space. Shared by the compiler (which parses the
// format, types the arguments and lays out the record) and the readers (which format the record).
// Takes a format string; gives its literal text and conversions, a record layout, and the formatted text.

import { BUF_STRUCT_PREFIX, INET_STRUCT, MACADDR_STRUCT, strftimeFormatOf } from "../btf/tags.js";
import { zoneAbbreviation } from "./timezone.js";

/** What a conversion takes: an integer (d i u x X o c p), a string (s) or bytes (r: buf()'s, as bpftrace's %r). */
export type ArgKind = "int" | "str" | "bytes";

export interface Conversion {
  /** The conversion letter: d i u x X o c s p r. */
  spec: string;
  flags: string;
  width: number | undefined;
  precision: number | undefined;
  /** A length modifier: `hh` and `h` narrow the value as C does; `l`, `ll`, `j`, `z`, `t` print it at 64 bits. */
  length: string;
}

export type FormatPiece = string | Conversion;

/** The largest width or precision: a Str<N>'s largest N, so that `%.Ns` can print any string whole. */
const MAX_WIDTH = 1_048_576;

const CONVERSION = /%([-+ 0#]*)(\d+)?(?:\.(\d+))?(hh|h|ll|l|z|j|t)?([diuxXocspr%])/y;

/** The pieces of a format, or a sentence saying what is wrong with it. */
export function parseFormat(format: string): FormatPiece[] | string {
  const out: FormatPiece[] = [];
  let text = "";
  for (let i = 0; i < format.length; ) {
    if (format[i] !== "%") {
      text += format[i++];
      continue;
    }
    CONVERSION.lastIndex = i;
    const m = CONVERSION.exec(format);
    if (!m) {
      const bad = /%[-+ 0#]*[\d*]*(\.[\d*]*)?[a-zA-Z]?/y;
      bad.lastIndex = i;
      const found = bad.exec(format)?.[0] ?? "%";
      // C's `*` takes the width or precision from an argument; the record holds values only, so it is a literal here.
      if (found.includes("*")) {
        return `${JSON.stringify(found)}: a \`*\` width or precision (taken from an argument) is not supported: write the number in the format, as ${JSON.stringify(found.replace(/\*/g, "8"))}`;
      }
      return `${JSON.stringify(found)} is not a conversion printf() takes: %d %i %u %x %X %o %c %s %p %r or %%, with flags, a width and a precision (%-16s, %08x, %.3d)`;
    }
    // Beyond this a line is no use to print, and JavaScript's strings end at 2^29 characters (RangeError).
    if (Number(m[2] ?? 0) > MAX_WIDTH || Number(m[3] ?? 0) > MAX_WIDTH) {
      return `${JSON.stringify(m[0])}: a width or precision can be at most ${MAX_WIDTH} (the largest Str<N>): write a smaller one`;
    }
    i = CONVERSION.lastIndex;
    if (m[5] === "%") {
      text += "%";
      continue;
    }
    if (text) out.push(text);
    text = "";
    out.push({ spec: m[5]!, flags: m[1] ?? "", width: m[2] === undefined ? undefined : Number(m[2]), precision: m[3] === undefined ? undefined : Number(m[3]), length: m[4] ?? "" });
  }
  if (text) out.push(text);
  return out;
}

export const argKind = (c: Conversion): ArgKind => (c.spec === "s" ? "str" : c.spec === "r" ? "bytes" : "int");

/** A format's text again, from its pieces: `%` in literal text doubled. */
export function formatText(pieces: readonly FormatPiece[]): string {
  return pieces.map((p) => (typeof p === "string" ? p.replace(/%/g, "%%") : `%${p.flags}${p.width ?? ""}${p.precision === undefined ? "" : `.${p.precision}`}${p.length}${p.spec}`)).join("");
}

/**
 * One argument in a printf record: an integer of 4 or 8 bytes (`i32`, `u64`, ...), a string of N bytes (`s64`), or an
 * IPv4 or IPv6 address's 4 or 16 bytes in network order (`n4`, `n16`: ntop(), printed with %s as inet_ntop writes it),
 * a MAC address's 6 bytes (`m6`: macaddr(), printed with %s as `AA:BB:CC:DD:EE:FF`), an IpAddr kept in a
 * variable, its u32 family and 16 bytes (`inet`, printed with %s as inet_ntop writes it),
 * probe()'s u64 id (`p`, printed with %s as the probe's name), or a kstack()/ustack() id of a stack of at most N
 * frames (`kstackN`, `ustackN`, printed with %s as the frames, as bpftrace's `printf("%s", kstack)`), or ksym()'s
 * kernel address (`ksym`, printed with %s as the function it is in), or usym()'s user address and the tgid of its
 * process (`usym`, 16 bytes, printed with %s as the function it is in within that process), or the value of a kernel enum of 32 or 64 bits
 * (`e32.skb_drop_reason`, printed with %s as its enumerator's name in the running kernel's BTF), or buf()'s bytes, a
 * u32 count and room for N (`r64`, printed with %r as bpftrace prints a buffer: `\x0a` for each byte that is no
 * printable ASCII), or strftime()'s u64 nanoseconds since boot and its format's UTF-8 bytes in hex (`t25482e254d`,
 * printed with %s as that format writes the wall-clock time), or join()'s K strings of N bytes each and its separator's
 * UTF-8 bytes in hex (`j64x16.20`, printed with %s as bpftrace's join() writes them: those before the first empty one,
 * separated).
 * Written in the actions map's `tsbpf:printf=` tags (compiler/btf/tags.ts) so that a reader can decode the record.
 */
export type ArgSpec = `${"i" | "u"}${32 | 64}` | `s${number}` | "n4" | "n16" | "m6" | "inet" | "p" | "ksym" | "usym" | `${"k" | "u"}stack${number}` | `e${32 | 64}.${string}` | `r${number}` | `t${string}` | `j${number}x${number}.${string}`;

/** A join() argument's strings: how many, of how many bytes each, and the separator written between them. */
export function joinArg(a: ArgSpec): { size: number; count: number; separator: string } | undefined {
  const m = /^j(\d+)x(\d+)\.((?:[0-9a-f]{2})*)$/.exec(a);
  return m ? { size: Number(m[1]), count: Number(m[2]), separator: Buffer.from(m[3]!, "hex").toString("utf8") } : undefined;
}

/** join()'s argument spec: `count` strings of `size` bytes, written with `separator` between them. */
export const joinSpec = (size: number, count: number, separator: string): ArgSpec =>
  `j${size}x${count}.${Buffer.from(separator, "utf8").toString("hex")}`;

/** A kernel enum argument's width and the enum's name, or undefined for any other kind. */
export function enumArg(a: ArgSpec): { bits: 32 | 64; name: string } | undefined {
  const m = /^e(32|64)\.(\w+)$/.exec(a);
  return m ? { bits: Number(m[1]) as 32 | 64, name: m[2]! } : undefined;
}

/** A buf() argument's room in bytes (after its u32 count), or undefined for any other kind. */
export const bytesArg = (a: ArgSpec): number | undefined => (/^r\d+$/.test(a) ? Number(a.slice(1)) : undefined);

/** An integer argument's width in bits, or undefined for any other kind. */
export const intBits = (a: ArgSpec): 32 | 64 | undefined => (/^[iu](32|64)$/.test(a) ? (Number(a.slice(1)) as 32 | 64) : undefined);

/** A strftime() argument's format, or undefined for any other kind. */
export const strftimeArg = (a: ArgSpec): string | undefined => (a[0] === "t" ? Buffer.from(a.slice(1), "hex").toString("utf8") : undefined);
export const strftimeSpec = (format: string): ArgSpec => `t${Buffer.from(format, "utf8").toString("hex")}`;

/** A stack argument's kind and frame limit, or undefined for any other kind. */
function stackArg(a: ArgSpec): { kind: "kernel" | "user"; frames: number } | undefined {
  const m = /^([ku])stack(\d+)$/.exec(a);
  return m ? { kind: m[1] === "k" ? "kernel" : "user", frames: Number(m[2]) } : undefined;
}

/** Where each argument sits in a record: after the 8-byte action header, each at its natural alignment. */
export function printfLayout(args: readonly ArgSpec[]): { offsets: number[]; size: number } {
  let at = 8;
  const offsets = args.map((a) => {
    const size = argSize(a);
    const align = a[0] === "s" || a[0] === "n" || a[0] === "j" || a === "m6" ? 1 : bytesArg(a) !== undefined || a === "inet" ? 4 : Math.min(size, 8);
    at = Math.ceil(at / align) * align;
    const offset = at;
    at += size;
    return offset;
  });
  return { offsets, size: Math.ceil(at / 8) * 8 };
}

export function argSize(a: ArgSpec): number {
  if (a === "p" || a === "ksym" || a[0] === "t" || stackArg(a)) return 8;
  if (a === "usym") return 16;
  if (a === "inet") return 20;
  const room = bytesArg(a);
  if (room !== undefined) return 4 + room;
  const e = enumArg(a);
  if (e) return e.bits / 8;
  const joined = joinArg(a);
  if (joined) return joined.size * joined.count;
  return a[0] === "s" || a[0] === "n" || a === "m6" ? Number(a.slice(1)) : intBits(a)! / 8;
}

/** What names the ids a record carries: probe ids (runtime/loader/probe-names.ts) and stack ids (a stack namer). */
export interface ArgNames {
  probe?(id: number): string | undefined;
  /** The kernel function an address is in. */
  ksym?(address: bigint): string;
  /** The function a user address of process `pid` is in. */
  usym?(pid: number, address: bigint): string;
  /** A stack's frames, innermost first; undefined where the id names none that can be read. */
  stack?(kind: "kernel" | "user", frames: number, id: bigint): readonly string[] | undefined;
  /** The name of kernel enum `name`'s enumerator of value `value`; undefined where it has none. */
  enumerator?(name: string, value: bigint): string | undefined;
  /** strftime()'s text: `ns` since boot as `format` writes the wall-clock time then (strftimeText, with a clock). */
  strftime?(format: string, ns: bigint): string;
}

/** A stack as bpftrace's printf("%s", kstack) writes it: a newline, then each frame indented on a line of its own. */
export const stackText = (frames: readonly string[]): string => `\n${frames.map((f) => `        ${f}\n`).join("")}`;

/**
 * A record's arguments as JS values: integers as bigints of their width and sign, strings up to their NUL, probe and
 * stack ids as `names` names them (an id it cannot name prints as `probe#N`, `kstack#N`).
 */
export function decodeArgs(record: Uint8Array, args: readonly ArgSpec[], names: ArgNames = {}): (bigint | string)[] {
  const { offsets } = printfLayout(args);
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  return args.map((a, i) => {
    const at = offsets[i]!;
    if (a[0] === "n") return inetText(record.subarray(at, at + argSize(a)));
    if (a === "m6") return macText(record.subarray(at, at + 6));
    if (a === "inet") return taggedStructText(INET_STRUCT, record.subarray(at, at + 20))!;
    const stamp = strftimeArg(a);
    if (stamp !== undefined) return timeText(stamp, view.getBigUint64(at, true), names);
    if (a === "p") {
      const id = Number(view.getBigUint64(at, true));
      return names.probe?.(id) ?? `probe#${id}`;
    }
    if (a === "ksym") {
      const address = view.getBigUint64(at, true);
      return names.ksym?.(address) ?? `0x${address.toString(16)}`;
    }
    const room = bytesArg(a);
    if (room !== undefined) return bytesText(record.subarray(at + 4, at + 4 + Math.min(view.getUint32(at, true), room)));
    if (a === "usym") {
      const address = view.getBigUint64(at, true);
      return names.usym?.(Number(view.getBigUint64(at + 8, true)), address) ?? `0x${address.toString(16)}`;
    }
    const e = enumArg(a);
    if (e) {
      const value = e.bits === 32 ? BigInt(view.getUint32(at, true)) : view.getBigUint64(at, true);
      return names.enumerator?.(e.name, value) ?? value.toString();
    }
    const stack = stackArg(a);
    if (stack) {
      const id = view.getBigUint64(at, true);
      const frames = names.stack?.(stack.kind, stack.frames, id);
      return frames ? stackText(frames) : `${stack.kind === "kernel" ? "k" : "u"}stack#${stack.kind === "kernel" ? BigInt.asIntN(64, id) : id}`;
    }
    const joined = joinArg(a);
    if (joined) {
      const strings: string[] = [];
      for (let i = 0; i < joined.count; i++) {
        const bytes = record.subarray(at + i * joined.size, at + (i + 1) * joined.size);
        const end = bytes.indexOf(0);
        if (end === 0) break;
        strings.push(new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end)));
      }
      return strings.join(joined.separator);
    }
    if (a[0] === "s") {
      const bytes = record.subarray(at, at + argSize(a));
      const end = bytes.indexOf(0);
      return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
    }
    if (a === "i32") return BigInt(view.getInt32(at, true));
    if (a === "u32") return BigInt(view.getUint32(at, true));
    return a === "i64" ? view.getBigInt64(at, true) : view.getBigUint64(at, true);
  });
}

/**
 * A value of one of the tagged structs macaddr(), ntop(), buf() and strftime() give (compiler/btf/tags.ts) as the text
 * printf writes for it, for map keys and record fields; undefined for any other struct.
 */
export function taggedStructText(name: string, bytes: Uint8Array, names: ArgNames = {}): string | undefined {
  if (name === MACADDR_STRUCT) return macText(bytes.subarray(0, 6));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stamp = strftimeFormatOf(name);
  if (stamp !== undefined) return timeText(stamp, view.getBigUint64(0, true), names);
  if (name === INET_STRUCT) {
    // ntop(family, addr)'s family is known at run time: another than AF_INET or AF_INET6 writes nothing, as bpftrace's does.
    const family = view.getUint32(0, true);
    return family === AF_INET || family === AF_INET6 ? inetText(bytes.subarray(4, family === AF_INET6 ? 20 : 8)) : "";
  }
  if (name.startsWith(BUF_STRUCT_PREFIX)) return bytesText(bytes.subarray(4, 4 + Math.min(view.getUint32(0, true), bufRoom(name, bytes.length))));
  return undefined;
}

/** taggedStructText's inverse, for a test's key (`sim.map("m").get("52:54:00:12:34:56")`); undefined for other text. */
export function taggedStructBytes(name: string, size: number, text: string): Uint8Array | undefined {
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  if (name === MACADDR_STRUCT) {
    const parts = text.split(":");
    if (parts.length !== 6 || !parts.every((p) => /^[0-9a-f]{2}$/i.test(p))) return undefined;
    out.set(parts.map((p) => parseInt(p, 16)));
    return out;
  }
  if (name === INET_STRUCT) {
    const bytes = inetBytes(text);
    if (!bytes) return undefined;
    view.setUint32(0, bytes.length === 4 ? AF_INET : AF_INET6, true);
    out.set(bytes, 4);
    return out;
  }
  // A strftime() value is given by its nanoseconds (the simulator's sim.map() writes it so, having no wall clock).
  if (strftimeFormatOf(name) !== undefined) {
    if (!/^\d+$/.test(text) || BigInt(text) >= 1n << 64n) return undefined;
    view.setBigUint64(0, BigInt(text), true);
    return out;
  }
  if (name.startsWith(BUF_STRUCT_PREFIX)) {
    const bytes: number[] = [];
    for (let i = 0; i < text.length; i++) {
      const hex = text[i] === "\\" ? /^\\x([0-9a-f]{2})/i.exec(text.slice(i)) : null;
      if (hex) (bytes.push(parseInt(hex[1]!, 16)), (i += 3));
      else bytes.push(text.charCodeAt(i) & 0xff);
    }
    if (bytes.length > bufRoom(name, size)) return undefined;
    view.setUint32(0, bytes.length, true);
    out.set(bytes, 4);
    return out;
  }
  return undefined;
}

/** A `tsbpf_buf_N`'s N, the most bytes it holds (its size is rounded up to 4). */
const bufRoom = (name: string, size: number): number => Math.min(Number(name.slice(BUF_STRUCT_PREFIX.length)) || 0, size - 4);

const AF_INET = 2;
const AF_INET6 = 10;

/** A MAC address as bpftrace's macaddr() writes it: upper-case hex bytes joined by colons. */
export const macText = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join(":");

/** An IPv4 (dotted) or IPv6 address's bytes, as inet_pton reads the text; undefined for anything else. */
export function inetBytes(text: string): Uint8Array | undefined {
  // inet_pton takes no leading zeros (they would read as octal elsewhere).
  const v4 = (t: string) => {
    const parts = t.split(".");
    return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) < 256) ? parts.map(Number) : undefined;
  };
  const four = v4(text);
  if (four) return Uint8Array.from(four);
  if (!text.includes(":")) return undefined;
  const words = (t: string): number[] | undefined => {
    if (t === "") return [];
    const out: number[] = [];
    const parts = t.split(":");
    for (const [i, p] of parts.entries()) {
      const dotted = i === parts.length - 1 ? v4(p) : undefined;
      if (dotted) out.push((dotted[0]! << 8) | dotted[1]!, (dotted[2]! << 8) | dotted[3]!);
      else if (/^[0-9a-f]{1,4}$/i.test(p)) out.push(parseInt(p, 16));
      else return undefined;
    }
    return out;
  };
  const [head, tail, more] = text.split("::");
  if (more !== undefined) return undefined;
  const h = words(head!);
  const t = tail === undefined ? [] : words(tail);
  if (!h || !t || (tail === undefined ? h.length !== 8 : h.length + t.length > 7)) return undefined;
  const all = [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  return Uint8Array.from(all.flatMap((w) => [w >> 8, w & 0xff]));
}

/** Bytes as bpftrace's %r writes a buffer: printable ASCII as it is, every other byte as `\x` and two hex digits. */
export function bytesText(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`;
  return out;
}

/**
 * An address as inet_ntop writes it: IPv4 dotted; IPv6 in lowercase hex groups, the longest run of two or more zero
 * groups (the first of equals) as `::`, and an IPv4-mapped or -compatible address with its last 32 bits dotted.
 */
export function inetText(bytes: Uint8Array): string {
  const dotted = (b: Uint8Array) => [...b].join(".");
  if (bytes.length === 4) return dotted(bytes);
  const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let best = { base: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len) best = { base: i, len: j - i };
    i = j;
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  // glibc: ::a.b.c.d (compatible) and ::ffff:a.b.c.d (mapped) keep their IPv4 part dotted.
  if (best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
    return `::${best.len === 5 ? "ffff:" : ""}${dotted(bytes.subarray(12))}`;
  }
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (i === best.base) {
      out += "::";
      i += best.len - 1;
      continue;
    }
    if (out && !out.endsWith(":")) out += ":";
    out += words[i]!.toString(16);
  }
  return out;
}

/** The text C's printf writes for `pieces` and `values` (integers of `widths` bits: 32 or 64, as the record holds them). */
export function formatPrintf(pieces: readonly FormatPiece[], values: readonly (bigint | string)[], widths: readonly number[]): string {
  let out = "";
  let n = 0;
  for (const p of pieces) {
    if (typeof p === "string") {
      out += p;
      continue;
    }
    const i = n++;
    out += convert(p, values[i] ?? 0n, widths[i] ?? 64);
  }
  return out;
}

const UTF8 = new TextEncoder();
const TEXT = new TextDecoder();

function convert(c: Conversion, value: bigint | string, valueBits: number): string {
  const left = c.flags.includes("-");
  // `length`: what C counts, the bytes of the text as written (UTF-8).
  const pad = (body: string, sign = "", length = sign.length + body.length): string => {
    const width = c.width ?? 0;
    if (length >= width) return sign + body;
    if (left) return sign + body + " ".repeat(width - length);
    // Zero padding goes between the sign and the digits, and not with a precision (C).
    if (c.flags.includes("0") && c.precision === undefined && c.spec !== "s" && c.spec !== "c") return sign + "0".repeat(width - length) + body;
    return " ".repeat(width - length) + sign + body;
  };
  if (c.spec === "s" || c.spec === "r") {
    // Precision and width count bytes, as C's do: a cut inside a character keeps its first bytes, which print as
    // U+FFFD, as a terminal shows C's output.
    const bytes = UTF8.encode(String(value));
    const cut = c.precision === undefined ? bytes : bytes.subarray(0, c.precision);
    return pad(TEXT.decode(cut), "", cut.length);
  }
  const v = typeof value === "bigint" ? value : 0n;
  // One byte, as C writes it: above 127 it is no character on its own (U+FFFD).
  if (c.spec === "c") return pad(TEXT.decode(Uint8Array.of(Number(BigInt.asUintN(8, v)))), "", 1);
  // `hh` and `h` convert to char and short first, as C does; `l`, `ll`, ... print 64 bits, a signed value extended by
  // its sign (bpftrace's printf promotes every integer so).
  const bits = c.length === "hh" ? 8 : c.length === "h" ? 16 : c.length ? 64 : valueBits;
  const unsigned = BigInt.asUintN(bits, v);
  const digits = (n: bigint, radix: number): string => {
    const s = n.toString(radix);
    return c.precision !== undefined && s.length < c.precision ? "0".repeat(c.precision - s.length) + s : c.precision === 0 && n === 0n ? "" : s;
  };
  switch (c.spec) {
    case "d":
    case "i": {
      const signed = BigInt.asIntN(bits, v);
      const sign = signed < 0n ? "-" : c.flags.includes("+") ? "+" : c.flags.includes(" ") ? " " : "";
      return pad(digits(signed < 0n ? -signed : signed, 10), sign);
    }
    case "u":
      return pad(digits(unsigned, 10));
    case "x":
    case "X": {
      const body = digits(unsigned, 16);
      const prefix = c.flags.includes("#") && unsigned !== 0n ? "0x" : "";
      return c.spec === "X" ? pad(body.toUpperCase(), prefix.toUpperCase()) : pad(body, prefix);
    }
    case "o": {
      const body = digits(unsigned, 8);
      return pad(c.flags.includes("#") && !body.startsWith("0") ? `0${body}` : body);
    }
    default:
      // %p: the address in hex with 0x, as the kernel and glibc print a non-null pointer.
      return pad(`0x${BigInt.asUintN(64, v).toString(16)}`);
  }
}

/**
 * strftime's conversions that time(format) and strftime(format, ns) take (bpftrace's time() and strftime()), in the C
 * locale: all of C's and glibc's but the E and O modifiers (%Z, the zone's name, as the zone's rules give it:
 * timezone.ts); strftime() also %f, bpftrace's microseconds.
 */
const CONVERSIONS = "aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ";
const STRFTIME = new RegExp(`%([${CONVERSIONS}%])`, "g");
const CONVERSION_LIST = [...CONVERSIONS].map((c) => `%${c}`).join(" ");
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** A sentence saying what time() (or strftime(), `what`, which also takes %f) cannot print in `format`, or undefined when it can print all of it. */
export function checkTimeFormat(format: string, what: "time" | "strftime" = "time"): string | undefined {
  const bad = format.replace(what === "strftime" ? new RegExp(`%[f%${CONVERSIONS}]`, "g") : STRFTIME, "").match(/%.?/);
  return bad ? `${JSON.stringify(bad[0])} is not a conversion ${what}() takes: ${CONVERSION_LIST}${what === "strftime" ? " %f" : ""} %%` : undefined;
}

/** The wall clock strftime() values are read by: the real time at boot, in ns since the epoch, and local time or UTC. */
export interface BootClock {
  bootRealtimeNs(): bigint;
  utc: boolean;
}

/**
 * strftime(format, ns)'s text, as bpftrace 0.17 writes it: `ns` since boot (CLOCK_BOOTTIME, bpftrace's nsecs) added to
 * the real time at boot, in `format`, where %f is the microseconds (six digits) and %%f stays `%f`.
 */
export function strftimeText(format: string, ns: bigint, clock: BootClock): string {
  const at = clock.bootRealtimeNs() + ns;
  const micros = String((at % 1_000_000_000n) / 1000n).padStart(6, "0");
  const date = new Date(Number(at / 1_000_000n));
  return format.split("%%").map((part) => strftime(part.replace(/%f/g, micros), date, clock.utc)).join("%");
}

/** A strftime() value's text by `names`'s clock; without one, its nanoseconds as a number. */
const timeText = (format: string, ns: bigint, names: ArgNames): string => names.strftime?.(format, ns) ?? String(ns);

/** `format` with the conversions replaced by `date`'s fields, in local time (or UTC), as C's strftime writes them. */
export function strftime(format: string, date: Date, utc = false): string {
  const get = (local: () => number, universal: () => number): number => (utc ? universal() : local());
  const year = get(() => date.getFullYear(), () => date.getUTCFullYear());
  const month = get(() => date.getMonth(), () => date.getUTCMonth());
  const day = get(() => date.getDate(), () => date.getUTCDate());
  const weekday = get(() => date.getDay(), () => date.getUTCDay());
  const hour = get(() => date.getHours(), () => date.getUTCHours());
  const minute = get(() => date.getMinutes(), () => date.getUTCMinutes());
  const second = get(() => date.getSeconds(), () => date.getUTCSeconds());
  const pad = (n: number, width = 2, fill = "0") => String(n).padStart(width, fill);
  const yearDay = Math.floor((Date.UTC(year, month, day) - Date.UTC(year, 0, 1)) / 86_400_000) + 1;
  const offset = utc ? 0 : -date.getTimezoneOffset();
  // Weeks: %U from the first Sunday, %W from the first Monday, %V and %G ISO 8601's (the week of its Thursday).
  const mondayBased = (weekday + 6) % 7;
  const thursday = new Date(Date.UTC(year, month, day - mondayBased + 3));
  const isoYear = thursday.getUTCFullYear();
  const isoWeek = Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / 86_400_000 / 7) + 1;
  const again = (f: string) => strftime(f, date, utc);
  return format.replace(STRFTIME, (_, c: string) => {
    switch (c) {
      case "C": return pad(Math.floor(year / 100));
      case "u": return String(mondayBased + 1);
      case "w": return String(weekday);
      case "k": return pad(hour, 2, " ");
      case "l": return pad(hour % 12 || 12, 2, " ");
      case "h": return again("%b");
      case "P": return hour < 12 ? "am" : "pm";
      case "r": return again("%I:%M:%S %p");
      case "c": return again("%a %b %e %H:%M:%S %Y");
      case "x": return again("%D");
      case "X": return again("%T");
      case "U": return pad(Math.floor((yearDay - 1 + 7 - weekday) / 7));
      case "W": return pad(Math.floor((yearDay - 1 + 7 - mondayBased) / 7));
      case "V": return pad(isoWeek);
      case "G": return String(isoYear);
      case "g": return pad(isoYear % 100);
      case "a": return DAYS[weekday]!.slice(0, 3);
      case "A": return DAYS[weekday]!;
      case "b": return MONTHS[month]!.slice(0, 3);
      case "B": return MONTHS[month]!;
      case "d": return pad(day);
      case "e": return pad(day, 2, " ");
      case "H": return pad(hour);
      case "I": return pad(hour % 12 || 12);
      case "j": return pad(yearDay, 3);
      case "m": return pad(month + 1);
      case "M": return pad(minute);
      case "p": return hour < 12 ? "AM" : "PM";
      case "S": return pad(second);
      case "y": return pad(year % 100);
      case "Y": return String(year);
      case "z": return `${offset < 0 ? "-" : "+"}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
      case "Z": return utc ? "UTC" : zoneAbbreviation(date);
      case "F": return `${year}-${pad(month + 1)}-${pad(day)}`;
      case "T": return `${pad(hour)}:${pad(minute)}:${pad(second)}`;
      case "D": return `${pad(month + 1)}/${pad(day)}/${pad(year % 100)}`;
      case "R": return `${pad(hour)}:${pad(minute)}`;
      case "s": return String(Math.floor(date.getTime() / 1000));
      case "n": return "\n";
      case "t": return "\t";
      default: return "%";
    }
  });
}
