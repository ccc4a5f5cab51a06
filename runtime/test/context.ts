// The context a probe program receives: a pt_regs image for kprobes and uprobes (x86-64 or arm64),
// or a tracepoint record laid out per the tracepoint's format file.
// Takes argument values, a return value, named registers or field values; gives the context bytes.

import { existsSync, readFileSync } from "node:fs";
import { checkBool, checkFits, toU64, type CValue } from "./layout.js";
import { usage } from "./errors.js";
import { shown } from "./check.js";
import { Pointer } from "./kernel.js";
import { parseTracepointFormat } from "../../compiler/frontend/tracepoints.js";
import { tracepointContext } from "../../compiler/verifier/index.js";
import { BtfIntEncoding, BtfKind, type Btf } from "../../compiler/btf/index.js";

export type Arch = "x86_64" | "arm64";

interface RegsLayout {
  size: number;
  /** Byte offset by register name. */
  regs: Record<string, number>;
  args: readonly string[];
  ret: string;
  /** Byte offsets of the argument registers and of the return value's, resolved once. */
  argOffsets: readonly number[];
  retOffset: number;
}

const withOffsets = (l: Omit<RegsLayout, "argOffsets" | "retOffset">): RegsLayout => ({ ...l, argOffsets: l.args.map((r) => l.regs[r]!), retOffset: l.regs[l.ret]! });

const X86_NAMES = ["r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss"];

/** struct pt_regs of arch/x86/include/asm/ptrace.h; arguments in di si dx cx r8 r9, the return value in ax. */
const X86_64 = withOffsets({
  size: X86_NAMES.length * 8,
  regs: Object.fromEntries(X86_NAMES.map((n, i) => [n, i * 8])),
  args: ["di", "si", "dx", "cx", "r8", "r9"],
  ret: "ax",
});

/** struct pt_regs of arch/arm64/include/asm/ptrace.h (x0..x30, sp, pc, pstate, orig_x0, ...); arguments in x0..x7. */
const ARM64 = withOffsets({
  size: 336,
  regs: { ...Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`x${i}`, i * 8])), sp: 248, pc: 256, pstate: 264, orig_x0: 272 },
  args: ["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"],
  ret: "x0",
});

export const LAYOUTS: Record<Arch, RegsLayout> = { x86_64: X86_64, arm64: ARM64 };

export function hostArch(): Arch {
  return process.arch === "arm64" ? "arm64" : "x86_64";
}

export interface RegsInput {
  args?: readonly CValue[];
  ret?: CValue;
  /** Registers by their pt_regs name (di, ax, ip, sp / x0, pc, sp), set after args and ret. */
  regs?: Readonly<Record<string, CValue>>;
}

/** A pt_regs image with the probed function's arguments (or return value) in its ABI's registers. */
export function ptRegs(arch: Arch, input: RegsInput): Uint8Array {
  const bytes = new Uint8Array(LAYOUTS[arch].size);
  writePtRegs(arch, input, bytes, new DataView(bytes.buffer));
  return bytes;
}

/** What a register value is, for errors: argument n (n >= 1), -1 the return value, else a register name. */
type What = number | string;
const describeWhat = (what: What): string => (typeof what === "string" ? `register ${what}` : what < 0 ? "return value" : `argument ${what}`);

/** The halves of the last value split(): module scratch, so that a register costs no allocation. */
let lo32 = 0;
let hi32 = 0;

/** Splits a number or pointer into lo32/hi32 without BigInt; false for anything else (use splitU64). */
function split(v: CValue): boolean {
  if (typeof v === "number" && Number.isSafeInteger(v)) {
    lo32 = v | 0;
    hi32 = Math.floor(v / 4294967296) | 0;
    return true;
  }
  if (v instanceof Pointer) {
    lo32 = v.lo;
    hi32 = v.hi;
    return true;
  }
  return false;
}

function splitU64(u: bigint): void {
  lo32 = Number(u & 0xffffffffn) | 0;
  hi32 = Number(u >> 32n) | 0;
}

/** Stores a register value at byte `off` as two little-endian 32-bit halves. */
function putAt(view: DataView, off: number, v: CValue, what: What): void {
  if (!split(v)) splitU64(toU64(v, describeWhat(what), true));
  view.setInt32(off, lo32, true);
  view.setInt32(off + 4, hi32, true);
}

/** Writes the pt_regs image of `input` over `bytes` (LAYOUTS[arch].size of them, viewed by `view`). */
export function writePtRegs(arch: Arch, input: RegsInput, bytes: Uint8Array, view: DataView): void {
  const layout = LAYOUTS[arch];
  bytes.fill(0);
  const args = input.args;
  if (args !== undefined) {
    const offsets = layout.argOffsets;
    if (args.length > offsets.length) throw usage(`${arch} passes ${offsets.length} arguments in registers; ${args.length} were given`);
    for (let i = 0; i < args.length; i++) putAt(view, offsets[i]!, args[i]!, i + 1);
  }
  if (input.ret !== undefined) putAt(view, layout.retOffset, input.ret, -1);
  const regs = input.regs;
  if (regs !== undefined) {
    for (const name in regs) {
      if (!Object.prototype.hasOwnProperty.call(regs, name)) continue;
      const off = layout.regs[name];
      if (off === undefined) throw usage(`${arch} pt_regs has no register ${name} (registers: ${Object.keys(layout.regs).join(" ")})`);
      putAt(view, off, regs[name]!, name);
    }
  }
}

/**
 * Writes pt_regs images into one buffer firing after firing, as sim.kprobe() does. A firing with the
 * same arguments and return value as the last (a test firing in a loop) finds the image in place.
 */
export class PtRegsWriter {
  /** The buffer holding the image of `args` and `ret`; undefined when it may hold anything else. */
  private target: Uint8Array | undefined = undefined;
  private args: CValue[] = [];
  private ret: CValue | undefined = undefined;
  constructor(private readonly arch: Arch) {}

  write(input: RegsInput, bytes: Uint8Array, view: DataView): void {
    if (bytes === this.target && input.regs === undefined && input.ret === this.ret && sameValues(input.args, this.args)) return;
    this.target = undefined;
    writePtRegs(this.arch, input, bytes, view);
    if (input.regs !== undefined) return;
    this.args = input.args === undefined ? [] : input.args.slice();
    this.ret = input.ret;
    this.target = bytes;
  }

  /** The buffer was written with something else (another context). */
  forget(): void {
    this.target = undefined;
  }
}

/** Whether `a` holds the values of `last` (numbers, bigints and pointers compare by ===; pointers never move). */
function sameValues(a: readonly CValue[] | undefined, last: readonly CValue[]): boolean {
  if (a === undefined) return last.length === 0;
  if (a.length !== last.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== last[i]) return false;
  return true;
}

// ---------------------------------------------------------------- raw tracepoints

/**
 * The arguments raw tracepoint `name` passes, as C declares them ("struct task_struct *parent"): the types of its
 * `btf_trace_<name>` prototype (the one a tp_btf program is checked against), named by `__bpf_trace_<name>`'s
 * parameters where the BTF has that function. Undefined when the BTF has no such tracepoint.
 */
export function rawTracepointParams(btf: Btf, name: string): string[] | undefined {
  const context = tracepointContext(btf, name);
  if (typeof context === "string") return undefined;
  const f = btf.find(`__bpf_trace_${name}`, BtfKind.FUNC);
  const proto = f?.kind === BtfKind.FUNC ? btf.typeById(f.type) : undefined;
  const names = proto?.kind === BtfKind.FUNC_PROTO && proto.params.length === context.args.length + 1 ? proto.params.slice(1).map((p) => p.name) : [];
  return context.args.map((id, i) => {
    const type = btf.typeName(id);
    const param = names[i] ?? "";
    return param === "" || type.endsWith("*") ? `${type}${param}` : `${type} ${param}`;
  });
}

/** How the kernel fills each u64 slot of raw tracepoint `name`'s context: an integer's size and sign, or a bool. */
export interface RawSlot {
  size: number;
  signed: boolean;
  bool: boolean;
}

/** The slots of raw tracepoint `name`'s arguments in the kernel's BTF; undefined where it lacks the tracepoint. */
export function rawTracepointSlots(btf: Btf, name: string): RawSlot[] | undefined {
  const context = tracepointContext(btf, name);
  if (typeof context === "string") return undefined;
  return context.args.map((id) => {
    const t = btf.resolveType(id);
    if (t.kind === BtfKind.INT) return { size: btf.sizeOf(t.id), signed: (t.encoding & BtfIntEncoding.SIGNED) !== 0, bool: (t.encoding & BtfIntEncoding.BOOL) !== 0 };
    if (t.kind === BtfKind.ENUM || t.kind === BtfKind.ENUM64) return { size: btf.sizeOf(t.id), signed: t.signed, bool: false };
    return { size: 8, signed: false, bool: false };
  });
}

/**
 * An argument as the kernel's cast to u64 leaves it in its slot: a bool 0 or 1, a narrower integer sign- or
 * zero-extended. A value its type cannot hold is refused; the sign-extended u64 of one it can (a recording's) is not.
 */
export function rawSlotValue(v: CValue, slot: RawSlot | undefined, where: string): bigint {
  if (slot?.bool) checkBool(v, "bool", where);
  const u = toU64(v, where, true);
  if (!slot || slot.size >= 8) return u;
  const bits = BigInt(slot.size * 8);
  const s = BigInt.asIntN(64, u);
  const fits = (typeof v === "bigint" || typeof v === "number" ? BigInt(v) : u) < 1n << bits && s >= -(1n << (bits - 1n));
  if (!fits) throw usage(`${where}: ${typeof v === "bigint" ? `${v}n` : String(v)} does not fit in ${slot.size} byte${slot.size === 1 ? "" : "s"}`);
  return slot.signed ? BigInt.asUintN(64, BigInt.asIntN(Number(bits), u)) : BigInt.asUintN(Number(bits), u);
}

// ---------------------------------------------------------------- tracepoints

export interface TracepointField {
  name: string;
  /** The C type as the format file writes it, without the array suffix. */
  type: string;
  offset: number;
  size: number;
  signed: boolean;
  /** Elements when the field is an array (`char comm[16]`, `char comm[TASK_COMM_LEN]`). */
  arrayLength?: number;
  /** `__data_loc` and `__rel_loc` fields: a u32 (length << 16 | offset) to bytes after the fixed fields. */
  dataLoc: boolean;
  /** `__rel_loc`: the offset counts from the end of the u32, not from the record's start. */
  relative?: boolean;
}

export interface TracepointLayout {
  group: string;
  name: string;
  id: number;
  fields: TracepointField[];
  /** Bytes of the fixed part of the record. */
  size: number;
}

/** Parses a tracepoint's `format` file (as the compiler reads it, so both agree on every field). */
export function parseFormat(group: string, name: string, text: string): TracepointLayout {
  const id = Number(/^ID:\s*(\d+)/m.exec(text)?.[1] ?? 0);
  const fields = parseTracepointFormat(group, name, text).fields.map((f): TracepointField => {
    const shape = f.shape;
    const arrayLength = shape?.kind === "str" || shape?.kind === "array" ? shape.length : undefined;
    const dataLoc = /^__(data|rel)_loc\b/.test(f.cType);
    const type = f.cType.slice(0, f.cType.lastIndexOf(f.name)).trim();
    return { name: f.name, type, offset: f.offset, size: f.size, signed: f.signed, arrayLength, dataLoc, ...(f.cType.startsWith("__rel_loc") ? { relative: true } : {}) };
  });
  if (fields.length === 0) throw usage(`tracepoint ${group}:${name}: the format text has no fields`);
  const size = Math.max(...fields.map((f) => f.offset + f.size));
  return { group, name, id, fields, size };
}

export const TRACEFS_ROOTS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/** The format text from tracefs, or a clear error saying what is missing and how to supply a layout. */
export function readFormat(group: string, name: string, roots: readonly string[] = TRACEFS_ROOTS): string {
  const mounted = roots.filter((r) => existsSync(`${r}/events`));
  const hint = `pass its format with simulate(..., { tracepointFormats: { "${group}/${name}": text } })`;
  if (mounted.length === 0) throw usage(`tracepoint ${group}:${name} has no layout: tracefs is not mounted (looked in ${roots.join(", ")}); ${hint}`);
  for (const root of mounted) {
    const path = `${root}/events/${group}/${name}/format`;
    if (existsSync(path)) {
      try {
        return readFileSync(path, "utf8");
      } catch (e) {
        throw usage(`tracepoint ${group}:${name}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? e}); ${hint}`);
      }
    }
  }
  throw usage(`no tracepoint ${group}:${name} under ${mounted.map((r) => `${r}/events`).join(" or ")}; ${hint}`);
}

export interface RecordTask {
  pid: number;
}

/** Fields by name, per layout (a layout is read once per tracepoint and used for every firing). */
const fieldIndex = new WeakMap<TracepointLayout, Map<string, TracepointField>>();

function fieldsByName(layout: TracepointLayout): Map<string, TracepointField> {
  let byName = fieldIndex.get(layout);
  if (byName === undefined) {
    byName = new Map(layout.fields.map((f) => [f.name, f]));
    fieldIndex.set(layout, byName);
  }
  return byName;
}

/** Stores field `f`'s value in its `size` bytes, little-endian (a value they cannot hold is refused). */
function putInt(out: Uint8Array, layout: TracepointLayout, f: TracepointField, size: number, v: CValue, at = f.offset): void {
  const n = Math.min(size, 8);
  checkFits(v, n, `${layout.group}:${layout.name} field ${f.name}`);
  if (!split(v)) splitU64(toU64(v, `${layout.group}:${layout.name} field ${f.name}`, true));
  for (let i = 0; i < n; i++) out[at + i] = i < 4 ? lo32 >>> (8 * i) : hi32 >>> (8 * (i - 4));
}

/**
 * A raw tracepoint record: common fields from the task (type = the tracepoint's id, pid), the given
 * fields by name, `__data_loc` strings and byte arrays appended after the fixed part.
 */
export function tracepointRecord(layout: TracepointLayout, values: Readonly<Record<string, CValue>>, task: RecordTask): Uint8Array {
  const byName = fieldsByName(layout);
  for (const key in values) {
    if (!byName.has(key) && Object.prototype.hasOwnProperty.call(values, key)) {
      const names = layout.fields.filter((f) => !f.name.startsWith("common_")).map((f) => f.name);
      throw usage(`tracepoint ${layout.group}:${layout.name} has no field ${key} (fields: ${names.join(", ")})`);
    }
  }
  let tail: Uint8Array[] | undefined;
  let tailSize = 0;
  const fixed = new Uint8Array(layout.size);
  for (const f of layout.fields) {
    const v = values[f.name] ?? (f.name === "common_type" ? layout.id : f.name === "common_pid" ? task.pid : undefined);
    if (v === undefined) continue;
    if ((f.type === "bool" || f.type === "_Bool") && f.arrayLength === undefined) checkBool(v, f.type, `${layout.group}:${layout.name} field ${f.name}`);
    if (f.dataLoc) {
      const where = `${layout.group}:${layout.name} field ${f.name}`;
      const data = typeof v === "string" ? cString(v) : v instanceof Uint8Array ? v : undefined;
      if (!data) throw usage(`${where} is a __data_loc field: give a string or a Uint8Array`);
      const at = layout.size + tailSize - (f.relative ? f.offset + f.size : 0);
      // The field holds the length and the offset in 16 bits each, as the kernel writes it.
      if (data.length > 0xffff || at > 0xffff) throw usage(`${where}: ${data.length} bytes at offset ${at} do not fit a __data_loc field (16 bits each); a tracepoint record holds less`);
      putInt(fixed, layout, f, 4, ((data.length & 0xffff) << 16) | (at & 0xffff));
      (tail ??= []).push(data);
      tailSize += data.length;
    } else if (Array.isArray(v)) {
      const where = `${layout.group}:${layout.name} field ${f.name}`;
      if (f.arrayLength === undefined) throw usage(`${where} is a ${f.type}, not an array: give a number`);
      if (v.length > f.arrayLength) throw usage(`${where} holds ${f.arrayLength} elements; ${v.length} were given`);
      const size = f.size / f.arrayLength;
      v.forEach((x: CValue, i: number) => putInt(fixed, layout, f, size, x, f.offset + i * size));
    } else if (typeof v === "string" || v instanceof Uint8Array) {
      const where = `${layout.group}:${layout.name} field ${f.name}`;
      const data = typeof v === "string" ? new TextEncoder().encode(v) : v;
      if (f.arrayLength === undefined && typeof v === "string") throw usage(`${where} is a ${f.type}, not a char array: give a number or a pointer (sim.kernel.userString(...))`);
      if (data.length > f.size) throw usage(`${where} holds ${f.size} bytes; ${data.length} were given`);
      fixed.set(data, f.offset);
    } else {
      // One number for a whole array would be written as one integer of the array's bytes: a test's mistake.
      if (f.arrayLength !== undefined) {
        const what = f.type === "char" ? "a string (or a Uint8Array of its bytes)" : `an array of its ${f.arrayLength} elements`;
        throw usage(`${layout.group}:${layout.name} field ${f.name} is a ${f.type}[${f.arrayLength}]: give ${what}, not ${shown(v)}`);
      }
      putInt(fixed, layout, f, f.size, v);
    }
  }
  if (tail === undefined) return fixed;
  const out = new Uint8Array(layout.size + tailSize);
  out.set(fixed);
  let at = layout.size;
  for (const t of tail) {
    out.set(t, at);
    at += t.length;
  }
  return out;
}

function cString(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}
