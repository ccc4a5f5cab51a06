// Memory accesses through pointers: alignment, bounds per pointer kind (stack, map value/key,
// context, packet, ring buffer memory), stack slot tracking for spills and fills, atomics, and
// the helper-argument form of the same checks.

import { AtomicOp, Mode, opMode, opSize, sizeBytes } from "../isa/opcodes.js";
import { type Insn } from "../isa/insn.js";
import { BtfFlag, contextLoad, pointerLoad, structName } from "./btf-types.js";
import { CONTEXTS } from "./context.js";
import { type Env, checkRegRead, checkRegWrite, fail, linkBeforeMov, newId, regs } from "./env.js";
import { packetAccess } from "./progtypes.js";
import { coerceToSize, coerceToSizeSx, S64_MIN } from "./scalar.js";
import {
  type Frame, type Reg, STACK_INVALID, STACK_MISC, STACK_SPILL, STACK_ZERO, clearScalarId, copyReg, isNullConst, isPointer,
  knownScalar, ownStack, pointer, setKnown, setUnknown, typeName,
} from "./state.js";
import * as tn from "./tnum.js";

export const MAX_VAR_OFF = 1 << 29;

const tnumText = (t: tn.Tnum): string => (tn.isConst(t) ? tn.s64(t.value).toString() : `(0x${t.value.toString(16)}; 0x${t.mask.toString(16)})`);

/** The frame a stack pointer points into. */
export const frameOf = (env: Env, r: Reg): Frame => env.cur.frames[r.frameno]!;

function alignDesc(r: Reg): string | null {
  switch (r.type) {
    case "map_key":
      return "key ";
    case "map_value":
      return "value ";
    case "ctx":
      return "context ";
    case "fp":
      return "stack ";
    case "sock":
      return "sock ";
    case "sock_common":
      return "sock_common ";
    default:
      return "";
  }
}

function checkAlignment(env: Env, regno: number, r: Reg, off: number, size: number, strictOnce: boolean): void {
  let strict = env.strictAlignment || strictOnce;
  if (r.type === "pkt" || r.type === "pkt_meta") {
    if (!strict || size === 1) return;
    const t = tn.add(r.vo, tn.tnumConst(BigInt(2 + r.off + off)));
    if (!tn.isAligned(t, size)) fail(env, `misaligned packet access off 2+${tnumText(r.vo)}+${r.off}+${off} size ${size}: with strict alignment a ${size}-byte packet access must be ${size}-byte aligned (NET_IP_ALIGN included)`, regno);
    return;
  }
  const desc = alignDesc(r);
  if (r.type === "fp") strict = true;
  if (!strict || size === 1) return;
  const t = tn.add(r.vo, tn.tnumConst(BigInt(r.off + off)));
  if (!tn.isAligned(t, size)) fail(env, `misaligned ${desc}access off ${tnumText(r.vo)}+${r.off}+${off} size ${size}: a ${size}-byte access here must be ${size}-byte aligned`, regno);
}

/** A pointer that must not carry any offset (context pointers handed to loads or helpers). */
export function checkPtrOffZero(env: Env, regno: number, r: Reg, fixedOffOk: boolean): void {
  const what = typeName(r);
  if (r.off < 0) fail(env, `negative offset ${what} ptr R${regno} off=${r.off} disallowed`, regno);
  if (!fixedOffOk && r.off) fail(env, `dereference of modified ${what} ptr R${regno} off=${r.off} disallowed: use the original pointer with an instruction offset instead`, regno);
  if (!tn.isConst(r.vo) || r.vo.value !== 0n) fail(env, `variable ${what} access var_off=${tnumText(r.vo)} disallowed`, regno);
}

function memMessage(r: Reg, regno: number, off: bigint, size: number, memSize: number): string {
  switch (r.type) {
    case "map_key":
      return `invalid access to map key, key_size=${memSize} off=${off} size=${size}`;
    case "map_value":
      return `invalid access to map value, value_size=${memSize} off=${off} size=${size}`;
    case "pkt":
    case "pkt_meta":
      return `invalid access to packet, off=${off} size=${size}, R${regno}(id=${r.id},off=${off},r=${memSize})`;
    default:
      return `invalid access to memory, mem_size=${memSize} off=${off} size=${size}`;
  }
}

const memOk = (off: bigint, size: number, memSize: number, zeroOk: boolean): boolean =>
  off >= 0n && (size > 0 || (size === 0 && zeroOk)) && off + BigInt(size) <= BigInt(memSize);

/** A region of `memSize` bytes accessed at a pointer with a variable part (check_mem_region_access). */
export function checkMemRegion(env: Env, regno: number, r: Reg, off: number, size: number, memSize: number, zeroOk: boolean): void {
  const o = BigInt(off);
  if (r.smin < 0n && (r.smin === S64_MIN || o + r.smin !== BigInt.asIntN(32, o + r.smin) || r.smin + o < 0n)) {
    fail(env, `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`, regno);
  }
  if (!memOk(r.smin + o, size, memSize, zeroOk)) {
    fail(env, `${memMessage(r, regno, r.smin + o, size, memSize)}; R${regno} min value is outside of the allowed memory range`, regno);
  }
  if (r.umax >= BigInt(MAX_VAR_OFF)) fail(env, `R${regno} unbounded memory access, make sure to bounds check any such access`, regno);
  if (!memOk(r.umax + o, size, memSize, zeroOk)) {
    fail(env, `${memMessage(r, regno, r.umax + o, size, memSize)}; R${regno} max value is outside of the allowed memory range`, regno);
  }
}

/** check_map_access: no load, store or helper access may touch a lock, timer or graph root inside a map value. */
export function checkMapFields(env: Env, regno: number, r: Reg, off: number, size: number): void {
  for (const f of r.map?.valueFields ?? []) {
    if (r.smin + BigInt(off) < BigInt(f.offset + f.size) && BigInt(f.offset) < r.umax + BigInt(off + size)) {
      fail(env, `${f.name} cannot be accessed directly by load/store`, regno);
    }
  }
}

export function checkPacketAccess(env: Env, regno: number, r: Reg, off: number, size: number, zeroOk: boolean): void {
  if (r.smin < 0n) fail(env, `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`, regno);
  if (r.range < 0 || !memOk(BigInt(off), size, r.range, zeroOk)) {
    fail(env, `R${regno} offset is outside of the packet: ${off}+${size} bytes are not covered by a bounds check against pkt_end (verified range r=${Math.max(r.range, 0)})`, regno);
  }
}

function checkCtxAccess(env: Env, regno: number, off: number, size: number, write: boolean, ldsx: boolean): { type: Reg["type"]; maybeNull?: boolean } {
  const validator = CONTEXTS[env.progType];
  const res = validator ? validator(off, size, write, env.attachType, ldsx) : null;
  if (!res) fail(env, `invalid bpf_context access off=${off} size=${size}: this program type's context has no ${write ? "writable" : "readable"} ${size}-byte field there`, regno);
  return res;
}

/** `size` little-endian bytes of a frozen map's value at `at`, sign-extended for BPF_MEMSX. */
function readFrozen(bytes: Uint8Array, at: number, size: number, signed: boolean): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i] ?? 0);
  if (signed && v >> BigInt(size * 8 - 1)) v -= 1n << BigInt(size * 8);
  return BigInt.asUintN(64, v);
}

/** A tp_btf context: the tracepoint's arguments, 8 bytes each (bpf_tracing_ctx_access, btf_ctx_access). */
function tracepointCtxLoad(env: Env, regno: number, off: number, size: number, write: boolean, valueReg: number): void {
  const refused = `invalid bpf_context access off=${off} size=${size}`;
  if (off < 0 || off >= 8 * 12 || write || off % size !== 0) fail(env, `${refused}: ${write ? "the arguments are read-only" : "outside the arguments, or misaligned"}`, regno);
  const res = contextLoad(env.tracepoint!, off);
  if (typeof res === "string") fail(env, `${refused}: ${res}`, regno);
  if (valueReg < 0) return;
  const dst = regs(env)[valueReg]!;
  if (res.kind === "scalar") setUnknown(dst);
  else Object.assign(dst, pointer("btf_id", { btf: { btf: env.tracepoint!.btf, id: res.id, flags: res.flags } }));
}

/** A load through a typed kernel pointer: walked over the struct's members (check_ptr_to_btf_access). */
export function btfPointerLoad(env: Env, regno: number, r: Reg, off: number, size: number, write: boolean, valueReg: number): void {
  const name = `ptr_${structName(r.btf!)}`;
  if (write) fail(env, "only read is supported", regno);
  if (off < 0) fail(env, `R${regno} is ${name} invalid negative access: off=${off}`, regno);
  // Constants added to the pointer are in its fixed offset: any variable part is refused, even a known one.
  if (!tn.isConst(r.vo) || r.vo.value !== 0n) fail(env, `R${regno} is ${name} invalid variable offset: off=${off}, var_off=${tn.tnumString(r.vo)}`, regno);
  const target = r.btf!;
  if (target.flags & BtfFlag.USER) fail(env, `R${regno} is ${name} access user memory: off=${off}`, regno);
  if (target.flags & BtfFlag.PERCPU) fail(env, `R${regno} is ${name} access percpu memory: off=${off}`, regno);
  const res = pointerLoad(target.btf, target.id, target.flags, off, size);
  if (typeof res === "string") fail(env, res, regno);
  if (valueReg < 0) return;
  const dst = regs(env)[valueReg]!;
  if (res.kind === "scalar") setUnknown(dst);
  else {
    Object.assign(dst, pointer("btf_id", { btf: { btf: target.btf, id: res.id, flags: res.flags }, maybeNull: res.maybeNull }));
    if (res.maybeNull) dst.id = newId(env);
  }
}

/** The kernel struct a map pointer points to, by map type (the map ops' map_btf_id). */
const MAP_STRUCTS: Record<number, string> = {
  1: "bpf_htab", 2: "bpf_array", 3: "bpf_array", 4: "bpf_array", 5: "bpf_htab", 6: "bpf_array", 7: "bpf_stack_map", 8: "bpf_array",
  9: "bpf_htab", 10: "bpf_htab", 11: "lpm_trie", 12: "bpf_array", 13: "bpf_htab", 22: "bpf_queue_stack", 23: "bpf_queue_stack",
  27: "bpf_ringbuf_map", 30: "bpf_bloom_filter",
};

/**
 * Loads and stores through a map pointer (check_ptr_to_map_access): privileged programs may read the kernel's
 * struct of the map. The model has no kernel BTF here, so it refuses the reads the kernel would walk.
 */
function mapStructAccess(env: Env, regno: number, r: Reg, off: number, write: boolean): void {
  const struct = MAP_STRUCTS[r.map?.type ?? -1];
  if (struct === undefined) fail(env, `R${regno} invalid mem access '${typeName(r)}': the model does not know the kernel struct of map type ${r.map?.type}`, regno);
  if (!env.privileged) fail(env, `'struct ${struct}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN`, regno);
  if (off < 0) fail(env, `R${regno} is ${struct} invalid negative access: off=${off}`, regno);
  if (write) fail(env, `only read from ${struct} is supported`, regno);
  fail(env, `R${regno} reads the kernel's struct ${struct} through a map pointer: the model does not walk it (the kernel lets privileged programs read it)`, regno);
}

/** Whether a scalar spill keeps its value across the store width. */
const regWidth = (r: Reg): number => (r.umax === 0n ? 0 : tn.bitLength(r.umax));

function saveSpill(f: Frame, spi: number, r: Reg, size: number): void {
  ownStack(f);
  f.spilled[spi] = copyReg(r);
  for (let i = 8; i > 8 - size; i--) f.slotType[spi * 8 + i - 1] = STACK_SPILL;
  for (let i = 8 - size; i > 0; i--) {
    const j = spi * 8 + i - 1;
    const t = f.slotType[j]!;
    if (t !== STACK_ZERO && t !== STACK_INVALID) f.slotType[j] = STACK_MISC;
  }
}

/** A plain data write destroys a spill in the slot: its remaining bytes become MISC. */
function scrubSlot(f: Frame, spi: number): void {
  if (f.slotType[spi * 8 + 7] !== STACK_SPILL && f.spilled[spi] === null) return;
  ownStack(f);
  if (f.slotType[spi * 8 + 7] === STACK_SPILL) {
    for (let i = 0; i < 8; i++) if (f.slotType[spi * 8 + i] !== STACK_INVALID) f.slotType[spi * 8 + i] = STACK_MISC;
  }
  f.spilled[spi] = null;
}

const isSpilled = (f: Frame, spi: number): boolean => f.slotType[spi * 8 + 7] === STACK_SPILL;

function growStack(env: Env, f: Frame, depth: number): void {
  if ((env.stackDepth[f.subprog] ?? 0) < depth) env.stackDepth[f.subprog] = depth;
}

function checkStackBounds(env: Env, regno: number, r: Reg, off: number, size: number, what: string): void {
  let minOff: bigint;
  let maxOff: bigint;
  if (tn.isConst(r.vo)) {
    minOff = tn.s64(r.vo.value) + BigInt(off);
    maxOff = minOff + BigInt(size);
  } else {
    if (r.smax >= BigInt(MAX_VAR_OFF) || r.smin <= -BigInt(MAX_VAR_OFF)) fail(env, `invalid unbounded variable-offset${what} stack R${regno}`, regno);
    minOff = r.smin + BigInt(off);
    maxOff = r.smax + BigInt(off) + BigInt(size);
  }
  if (minOff < -512n || minOff > -1n || maxOff > 0n || size < 0) {
    if (tn.isConst(r.vo)) fail(env, `invalid${what} stack R${regno} off=${off} size=${size}: the stack is the 512 bytes below r10`, regno);
    fail(env, `invalid variable-offset${what} stack R${regno} var_off=${tnumText(r.vo)} off=${off} size=${size}`, regno);
  }
  growStack(env, frameOf(env, r), Number(-minOff));
}

function stackWriteFixed(env: Env, f: Frame, off: number, size: number, value: Reg | null, valueReg: number, stImm: number | undefined): void {
  const slot = -off - 1;
  const spi = slot >> 3;
  const cur = env.cur.frames[env.cur.frames.length - 1]!;
  if (!env.privileged && isSpilled(f, spi) && f.spilled[spi]?.type !== "scalar" && size !== 8) {
    fail(env, "attempt to corrupt spilled pointer on stack");
  }
  if (value && off % 8 === 0 && value.type === "scalar" && env.privileged) {
    const fits = regWidth(value) <= size * 8;
    // the spill and the register are copies: a check of one refines the other
    if (fits) linkBeforeMov(env, value);
    saveSpill(f, spi, value, size);
    env.noteStack(f.frameno, spi);
    if (!fits) clearScalarId(f.spilled[spi]!);
    return;
  }
  if (!value && off % 8 === 0 && stImm !== undefined && env.privileged) {
    saveSpill(f, spi, knownScalar(BigInt(stImm)), size);
    env.noteStack(f.frameno, spi);
    return;
  }
  if (value && isPointer(value)) {
    if (size !== 8) fail(env, "invalid size of register spill: pointers can only be spilled with 8-byte stores");
    if (f !== cur && value.type === "fp") fail(env, "cannot spill pointers to stack into stack frame of the caller");
    saveSpill(f, spi, value, size);
    // a spill all the same: an entry of the kernel's jump history
    env.noteStack(f.frameno, spi);
    return;
  }
  scrubSlot(f, spi);
  const zero = (value && isNullConst(value)) || (!value && stImm === 0);
  // STACK_ZERO records the register's value: it must be the same on paths pruned here
  if (zero && value) env.markPrecise(valueReg);
  const type = zero ? STACK_ZERO : STACK_MISC;
  ownStack(f);
  for (let i = 0; i < size; i++) f.slotType[slot - i] = type;
}

function stackWriteVar(env: Env, f: Frame, r: Reg, off: number, size: number, value: Reg | null, valueReg: number, stImm: number | undefined): void {
  const minOff = Number(r.smin) + off;
  const maxOff = Number(r.smax) + off + size;
  const zero = (value && isNullConst(value)) || (!value && stImm === 0);
  if (zero && value) env.markPrecise(valueReg);
  ownStack(f);
  for (let i = minOff; i < maxOff; i++) {
    const slot = -i - 1;
    const spi = slot >> 3;
    const t = f.slotType[slot]!;
    if (!env.privileged && t !== STACK_MISC && t !== STACK_ZERO) fail(env, `spilled ptr in range of var-offset stack write; insn ${env.pc}, ptr off: ${i}`);
    if (zero && t === STACK_SPILL && f.spilled[spi]?.type === "scalar" && tn.equalsConst(f.spilled[spi]!.vo, 0n)) continue;
    if (isSpilled(f, spi)) scrubSlot(f, spi);
    if (t === STACK_INVALID && !env.privileged) fail(env, `uninit stack in range of var-offset write prohibited for !root; insn ${env.pc}, off: ${i}`);
    f.slotType[slot] = zero && f.slotType[slot] === STACK_ZERO ? STACK_ZERO : STACK_MISC;
  }
}

function stackReadFixed(env: Env, f: Frame, off: number, size: number, dst: number): void {
  const slot = -off - 1;
  const spi = slot >> 3;
  const cur = env.cur.frames[env.cur.frames.length - 1]!;
  if (isSpilled(f, spi)) {
    const spilled = f.spilled[spi]!;
    // a fill: what it loads follows from the spilled value (precision's history)
    if (dst >= 0 && spilled.type === "scalar") env.noteStack(f.frameno, spi);
    let spillSize = 1;
    for (let i = 7; i > 0 && f.slotType[spi * 8 + i - 1] === STACK_SPILL; i--) spillSize++;
    if (size !== 8 || spillSize !== 8) {
      if (spilled.type !== "scalar") fail(env, `invalid size of register fill: a spilled ${typeName(spilled)} can only be read back whole, with an 8-byte load`);
      if (dst < 0) return;
      if (size <= spillSize && off % 8 === 0) {
        const copy = copyReg(spilled);
        if (regWidth(spilled) > size * 8) clearScalarId(copy);
        cur.regs[dst] = copy;
        return;
      }
      let spills = 0;
      let zeros = 0;
      for (let i = 0; i < size; i++) {
        const t = f.slotType[slot - i]!;
        if (t === STACK_SPILL) spills++;
        else if (t === STACK_ZERO) zeros++;
        else if (t === STACK_INVALID && !env.privileged) fail(env, `invalid read from stack off ${off}+${i} size ${size}: the stack there was never written`);
      }
      if ((spills === size && tn.equalsConst(spilled.vo, 0n)) || zeros === size) setKnown(cur.regs[dst]!, 0n);
      else setUnknown(cur.regs[dst]!);
      return;
    }
    if (dst >= 0) {
      if (spilled.type !== "scalar") env.noteStack(f.frameno, spi);
      cur.regs[dst] = copyReg(spilled);
      return;
    }
    if (isPointer(spilled) && !env.privileged) fail(env, `leaking pointer from stack off ${off}`);
    return;
  }
  for (let i = 0; i < size; i++) {
    const t = f.slotType[slot - i]!;
    if (t === STACK_MISC || t === STACK_ZERO) continue;
    if (t === STACK_INVALID && env.privileged) continue;
    fail(env, `invalid read from stack off ${off}+${i} size ${size}: the stack there was never written`);
  }
  if (dst >= 0) markStackRead(env, f, off, off + size, dst);
}

function markStackRead(env: Env, f: Frame, minOff: number, maxOff: number, dst: number): void {
  let zeros = true;
  for (let i = minOff; i < maxOff; i++) if (f.slotType[-i - 1] !== STACK_ZERO) zeros = false;
  const r = regs(env)[dst]!;
  if (zeros) setKnown(r, 0n);
  else setUnknown(r);
}

/**
 * Bytes of the stack a helper or variable-offset load reads must be initialised
 * (check_stack_range_initialized). With `write`, the helper may also write them.
 */
export function checkStackRange(env: Env, regno: number, off: number, size: number, zeroOk: boolean, helper: boolean, rawMode: boolean, write = false): void {
  const r = regs(env)[regno]!;
  const extra = helper ? " indirect" : "";
  if (size === 0 && !zeroOk) fail(env, "invalid zero-sized read", regno);
  checkStackBounds(env, regno, r, off, size, helper ? " indirect access to" : " read from");
  let minOff: number;
  let maxOff: number;
  if (tn.isConst(r.vo)) {
    minOff = maxOff = Number(tn.s64(r.vo.value)) + off;
  } else {
    if (!env.privileged) fail(env, `R${regno}${extra} variable offset stack access prohibited for !root, var_off=${tnumText(r.vo)}`, regno);
    minOff = Number(r.smin) + off;
    maxOff = Number(r.smax) + off;
    rawMode = false;
  }
  const f = frameOf(env, r);
  env.stackAccess(f, minOff, maxOff + size, false);
  if (rawMode) return;
  if (write) ownStack(f);
  for (let i = minOff; i < maxOff + size; i++) {
    const slot = -i - 1;
    const spi = slot >> 3;
    const t = f.slotType[slot]!;
    if (t === STACK_MISC) continue;
    if (t === STACK_ZERO || (t === STACK_INVALID && env.privileged)) {
      if (write) f.slotType[slot] = STACK_MISC;
      continue;
    }
    if (isSpilled(f, spi) && (f.spilled[spi]!.type === "scalar" || env.privileged)) {
      if (write) {
        // the spilled register is dropped (it may be shared with copies of this frame: not changed in place)
        for (let j = 0; j < 8; j++) if (f.slotType[spi * 8 + j] !== STACK_INVALID) f.slotType[spi * 8 + j] = STACK_MISC;
        f.spilled[spi] = null;
      }
      continue;
    }
    fail(env, `invalid${extra} read from stack R${regno} off ${minOff}+${i - minOff} size ${size}: those stack bytes were never initialised`, regno);
  }
}

/** Marks the bytes a helper wrote through an uninitialised-memory argument (byte stores). */
export function markStackWritten(env: Env, regno: number, off: number, size: number): void {
  const r = regs(env)[regno]!;
  const f = frameOf(env, r);
  if (tn.isConst(r.vo)) env.stackAccess(f, Number(tn.s64(r.vo.value)) + off, Number(tn.s64(r.vo.value)) + off + size, false);
  else env.stackAccess(f, Number(r.smin) + off, Number(r.smax) + off + size, false);
  for (let i = 0; i < size; i++) {
    const at = Number(tn.s64(r.vo.value)) + off + i;
    if (tn.isConst(r.vo)) stackWriteFixed(env, f, at, 1, null, -1, undefined);
  }
  if (!tn.isConst(r.vo)) stackWriteVar(env, f, r, off, size, null, -1, undefined);
}

const POINTER_KIND_STRICT = new Set(["ctx", "sock", "sock_common", "ptr_task", "btf_id"]);

/** A load/store instruction must always see the same kind of pointer when one kind is ctx-like. */
function savePtrKind(env: Env, r: Reg): void {
  const prev = env.insnPtrKind[env.pc];
  if (prev === undefined) {
    env.insnPtrKind[env.pc] = r.type;
    return;
  }
  if (prev !== r.type && (POINTER_KIND_STRICT.has(prev) || POINTER_KIND_STRICT.has(r.type))) {
    fail(env, "same insn cannot be used with different pointers: this load/store sees a context pointer on one path and another pointer on another");
  }
}

// Module-level rather than closures in checkMemAccess: it runs for every load and store.
function leaks(env: Env, value: Reg | null, valueReg: number, where: string): void {
  if (value && isPointer(value) && !env.privileged) fail(env, `R${valueReg} leaks addr into ${where}`, valueReg);
}

/** A load from memory the model does not track gives an unknown scalar. */
function readUnknown(env: Env, write: boolean, valueReg: number): void {
  if (!write && valueReg >= 0) setUnknown(regs(env)[valueReg]!);
}

/**
 * Checks an access of `size` bytes at `regno + off`. For a read into `valueReg` (>= 0) the
 * register receives the loaded value; for a write `valueReg` is the stored register
 * (or -1 with `stImm` for BPF_ST).
 */
export function checkMemAccess(
  env: Env, regno: number, off: number, size: number, write: boolean, valueReg: number,
  opts: { strictOnce?: boolean; ldsx?: boolean; stImm?: number } = {},
): void {
  const rs = regs(env);
  const r = rs[regno]!;
  checkAlignment(env, regno, r, off, size, opts.strictOnce ?? false);
  off += r.off;
  const value = write && valueReg >= 0 ? rs[valueReg]! : null;
  switch (r.type) {
    case "map_key":
      if (write) fail(env, `write to change key R${regno} not allowed`, regno);
      checkMemRegion(env, regno, r, off, size, r.map!.keySize, false);
      readUnknown(env, write, valueReg);
      break;
    case "map_value": {
      if (r.maybeNull) fail(env, `R${regno} invalid mem access 'map_value_or_null': check the pointer against NULL first`, regno);
      leaks(env, value, valueReg, "map");
      const flags = r.map!.flags ?? 0;
      if (write && flags & (1 << 7)) fail(env, `write into map forbidden, value_size=${r.map!.valueSize} off=${off} size=${size}`, regno);
      if (!write && flags & (1 << 8)) fail(env, `read from map forbidden, value_size=${r.map!.valueSize} off=${off} size=${size}`, regno);
      checkMemRegion(env, regno, r, off, size, r.map!.valueSize, false);
      checkMapFields(env, regno, r, off, size);
      // A frozen read-only map (`.rodata`) reads as its contents at a constant offset (bpf_map_direct_read).
      const frozen = r.map!.frozen;
      const direct = frozen && flags & (1 << 7) && tn.isConst(r.vo) && (size === 1 || size === 2 || size === 4 || size === 8) ? off + Number(tn.s64(r.vo.value)) : -1;
      readUnknown(env, write, valueReg);
      if (!write && valueReg >= 0 && direct >= 0) setKnown(rs[valueReg]!, readFrozen(frozen!, direct, size, opts.ldsx ?? false));
      break;
    }
    case "mem":
    case "ringbuf_mem":
      if (r.maybeNull) fail(env, `R${regno} invalid mem access '${typeName(r)}': check the pointer against NULL first`, regno);
      leaks(env, value, valueReg, "mem");
      checkMemRegion(env, regno, r, off, size, r.memSize, false);
      readUnknown(env, write, valueReg);
      break;
    case "ctx": {
      leaks(env, value, valueReg, "ctx");
      checkPtrOffZero(env, regno, r, false);
      if (env.tracepoint) {
        tracepointCtxLoad(env, regno, off, size, write, valueReg);
        break;
      }
      const res = checkCtxAccess(env, regno, off, size, write, opts.ldsx ?? false);
      if (!write && valueReg >= 0) {
        const dst = rs[valueReg]!;
        if (res.type === "scalar") setUnknown(dst);
        else {
          Object.assign(dst, pointer(res.type, { maybeNull: res.maybeNull ?? false }));
          if (res.maybeNull) dst.id = newId(env);
        }
      }
      break;
    }
    case "fp": {
      checkStackBounds(env, regno, r, off, size, write ? " write to" : " read from");
      const f = frameOf(env, r);
      if (tn.isConst(r.vo)) {
        const at = off + Number(tn.s64(r.vo.value));
        env.stackAccess(f, at, at + size, write && size === 8 && at % 8 === 0);
        if (write) stackWriteFixed(env, f, at, size, value, valueReg, opts.stImm);
        else stackReadFixed(env, f, at, size, valueReg);
      } else if (write) {
        env.stackAccess(f, Number(r.smin) + off, Number(r.smax) + off + size, false);
        stackWriteVar(env, f, r, off, size, value, valueReg, opts.stImm);
      } else {
        if (valueReg < 0) fail(env, `variable offset stack pointer cannot be passed into helper function; var_off=${tnumText(r.vo)} off=${off} size=${size}`, regno);
        checkStackRange(env, regno, off, size, false, false, false);
        markStackRead(env, f, Number(r.smin) + off, Number(r.smax) + off + size, valueReg);
      }
      break;
    }
    case "pkt":
    case "pkt_meta":
      if (write && packetAccess(env.progType) !== "rw") fail(env, "cannot write into packet: this program type may only read packet data", regno);
      leaks(env, value, valueReg, "packet");
      checkPacketAccess(env, regno, r, off, size, false);
      readUnknown(env, write, valueReg);
      break;
    case "sock":
    case "sock_common":
      if (r.maybeNull) fail(env, `R${regno} invalid mem access '${typeName(r)}': check the pointer against NULL first`, regno);
      if (write) fail(env, `R${regno} cannot write into ${typeName(r)}`, regno);
      if (off < 0 || off + size > 80 || off % size !== 0 || size > 4) fail(env, `R${regno} invalid ${typeName(r)} access off=${off} size=${size}`, regno);
      readUnknown(env, write, valueReg);
      break;
    case "btf_id":
      if (r.maybeNull) fail(env, `R${regno} invalid mem access '${typeName(r)}': check the pointer against NULL first`, regno);
      btfPointerLoad(env, regno, r, off, size, write, valueReg);
      break;
    case "ptr_task":
      if (write) fail(env, `R${regno} cannot write into ${typeName(r)}: kernel objects are read-only`, regno);
      if (off < 0 || off + size > 4096) fail(env, `R${regno} access beyond the modelled part of task_struct, off=${off} size=${size}`, regno);
      readUnknown(env, write, valueReg);
      break;
    case "map_ptr":
      mapStructAccess(env, regno, r, off, write);
      break;
    default:
      fail(env, `R${regno} invalid mem access '${typeName(r)}': it does not hold a pointer that can be dereferenced`, regno);
  }
  if (!write && valueReg >= 0 && size < 8 && rs[valueReg]!.type === "scalar") {
    if (opts.ldsx) coerceToSizeSx(rs[valueReg]!, size);
    else coerceToSize(rs[valueReg]!, size);
  }
}

// ---------------------------------------------------------------- instructions

export function checkLdx(env: Env, insn: Insn): void {
  const r = checkRegRead(env, insn.src);
  checkRegWrite(env, insn.dst);
  const size = sizeBytes[opSize(insn.code)];
  const ldsx = opMode(insn.code) === Mode.MEMSX;
  const kind = r.type;
  checkMemAccess(env, insn.src, insn.off, size, false, insn.dst, { ldsx });
  savePtrKind(env, withType(r, kind));
}

/** A copy of `r` with the pointer kind it had before the access. */
function withType(r: Reg, kind: Reg["type"]): Reg {
  const c = copyReg(r);
  c.type = kind;
  return c;
}

export function checkStx(env: Env, insn: Insn): void {
  if (opMode(insn.code) !== Mode.MEM || insn.imm !== 0) fail(env, "BPF_STX uses reserved fields");
  checkRegRead(env, insn.src);
  const r = checkRegRead(env, insn.dst);
  const kind = r.type;
  checkMemAccess(env, insn.dst, insn.off, sizeBytes[opSize(insn.code)], true, insn.src);
  savePtrKind(env, withType(r, kind));
}

export function checkSt(env: Env, insn: Insn): void {
  if (opMode(insn.code) !== Mode.MEM || insn.src !== 0) fail(env, "BPF_ST uses reserved fields");
  const r = checkRegRead(env, insn.dst);
  const kind = r.type;
  checkMemAccess(env, insn.dst, insn.off, sizeBytes[opSize(insn.code)], true, -1, { stImm: insn.imm });
  savePtrKind(env, withType(r, kind));
}

const ATOMIC_OPS = new Set<number>([
  AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR, AtomicOp.ADD | AtomicOp.FETCH, AtomicOp.OR | AtomicOp.FETCH,
  AtomicOp.AND | AtomicOp.FETCH, AtomicOp.XOR | AtomicOp.FETCH, AtomicOp.XCHG, AtomicOp.CMPXCHG,
]);

/** Pointers atomics may not access (atomic_ptr_type_ok): the context, packets, sockets, flow keys. */
const atomicRefused = (type: Reg["type"]): boolean =>
  type === "ctx" || type === "pkt" || type === "pkt_meta" || type === "sock" || type === "sock_common" || type === "flow_keys";

export function checkAtomic(env: Env, insn: Insn): void {
  if (insn.imm === AtomicOp.LOAD_ACQ) return checkLoadAcquire(env, insn);
  if (insn.imm === AtomicOp.STORE_REL) return checkStoreRelease(env, insn);
  if (!ATOMIC_OPS.has(insn.imm)) fail(env, `BPF_ATOMIC uses invalid atomic opcode ${(insn.imm >>> 0).toString(16).padStart(2, "0")}`);
  const size = sizeBytes[opSize(insn.code)];
  if (size !== 4 && size !== 8) fail(env, "invalid atomic operand size");
  checkRegRead(env, insn.src);
  const dst = checkRegRead(env, insn.dst);
  if (insn.imm === AtomicOp.CMPXCHG) {
    const r0 = checkRegRead(env, 0);
    if (isPointer(r0) && !env.privileged) fail(env, "R0 leaks addr into mem", 0);
  }
  if (isPointer(regs(env)[insn.src]!) && !env.privileged) fail(env, `R${insn.src} leaks addr into mem`, insn.src);
  if (atomicRefused(dst.type)) fail(env, `BPF_ATOMIC stores into R${insn.dst} ${typeName(dst)} is not allowed`, insn.dst);
  let loadReg = -1;
  if (insn.imm & AtomicOp.FETCH) {
    loadReg = insn.imm === AtomicOp.CMPXCHG ? 0 : insn.src;
    checkRegWrite(env, loadReg);
    setUnknown(regs(env)[loadReg]!);
  }
  checkMemAccess(env, insn.dst, insn.off, size, false, -1, { strictOnce: true });
  if (loadReg >= 0) checkMemAccess(env, insn.dst, insn.off, size, false, loadReg, { strictOnce: true });
  checkMemAccess(env, insn.dst, insn.off, size, true, -1, { strictOnce: true });
}

/**
 * `dst = load_acquire((size *)(src + off))` (check_atomic_load): a load of any size, aligned even where plain loads need
 * not be; then the pointer kind is checked, on the source register as the load left it (a load into the base register
 * itself has replaced the pointer, as in the kernel).
 */
function checkLoadAcquire(env: Env, insn: Insn): void {
  const r = checkRegRead(env, insn.src);
  checkRegWrite(env, insn.dst);
  const kind = r.type;
  checkMemAccess(env, insn.src, insn.off, sizeBytes[opSize(insn.code)], false, insn.dst, { strictOnce: true });
  savePtrKind(env, withType(r, kind));
  const now = regs(env)[insn.src]!;
  if (atomicRefused(now.type)) fail(env, `BPF_ATOMIC loads from R${insn.src} ${typeName(now)} is not allowed`, insn.src);
}

/** `store_release((size *)(dst + off), src)` (check_atomic_store): a store of a register, aligned; then the pointer kind. */
function checkStoreRelease(env: Env, insn: Insn): void {
  checkRegRead(env, insn.src);
  const r = checkRegRead(env, insn.dst);
  const kind = r.type;
  checkMemAccess(env, insn.dst, insn.off, sizeBytes[opSize(insn.code)], true, insn.src, { strictOnce: true });
  savePtrKind(env, withType(r, kind));
  if (atomicRefused(kind)) fail(env, `BPF_ATOMIC stores into R${insn.dst} ${typeName(r)} is not allowed`, insn.dst);
}
