// The abstract machine state: registers, stack slots per frame, call frames and acquired
// references. Gives constructors, deep copies, and the kernel-style text of a register.

import { type Bounds, boundsString, markKnown, markUnknownBounds, unknownBounds } from "./scalar.js";
import * as tn from "./tnum.js";
import { type BtfTarget, btfTypeName, structName } from "./btf-types.js";

export type RegType =
  | "not_init"
  | "scalar"
  | "ctx"
  | "map_ptr"
  | "map_value"
  | "map_key"
  | "fp"
  | "pkt_meta"
  | "pkt"
  | "pkt_end"
  | "mem"
  | "ringbuf_mem"
  | "ptr_task"
  | "btf_id"
  | "sock"
  | "sock_common"
  | "func"
  | "flow_keys";

/** What the verifier knows of a map: a map pointer's or a map value pointer's map. */
export interface MapShape {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** Map flags: BPF_F_RDONLY_PROG (1 << 7) / BPF_F_WRONLY_PROG (1 << 8) restrict program access. */
  flags?: number;
  /** The value of a frozen read-only map (a loader's `.rodata`): the program's loads at constant offsets read it. */
  frozen?: Uint8Array;
  /**
   * A map of maps (ARRAY_OF_MAPS, HASH_OF_MAPS): its inner maps' definition, the kernel's inner map template.
   * A lookup gives a pointer to a map of this shape (NULL when the slot is empty).
   */
  inner?: MapShape;
  /**
   * Special kernel types in the value (bpf_spin_lock, bpf_timer, ...) that the map's BTF shows the kernel: some
   * program types may not name such a map, and no load or store may touch one.
   */
  valueFields?: readonly { name: string; offset: number; size: number }[];
}

/** A map the program may reference, by the fd its LDDW carries. */
export interface MapDesc extends MapShape {
  fd: number;
}

/** Packet pointer compared against pkt_end: known to be at or beyond the end. */
export const AT_PKT_END = -1;
export const BEYOND_PKT_END = -2;

export interface Reg extends Bounds {
  type: RegType;
  /** The pointer may be NULL until a null check (…_or_null types). */
  maybeNull: boolean;
  /**
   * Fixed offset of a pointer (its variable part is in the bounds). For a linked scalar (id set)
   * with `addConst`, it is `rX += off` of the others sharing its id.
   */
  off: number;
  /** Links copies: of a scalar (for range propagation) or of a pointer (null checks, packet ranges). */
  id: number;
  /** Non-zero for a pointer holding an acquired reference that must be released. */
  refId: number;
  /** Bytes past `off` known to lie inside the packet, or AT_PKT_END / BEYOND_PKT_END. */
  range: number;
  map: MapShape | null;
  /** Size of the memory a `mem`/`ringbuf_mem` pointer points to. */
  memSize: number;
  /** Frame a stack pointer points into. */
  frameno: number;
  /** Subprogram a `func` pointer names. */
  subprog: number;
  /** The kernel type a `btf_id` pointer points to, and its trust. */
  btf: BtfTarget | null;
  /**
   * A scalar whose exact range mattered to a check on some explored path below a checkpoint
   * (set only on checkpoint states, by backtracking: see precision.ts). Pruning compares only
   * precise scalars.
   */
  precise: boolean;
  /**
   * A linked scalar made by `rX += K` (or `-= K`) from a copy, K = `off`, possibly 0: the kernel's
   * BPF_ADD_CONST, 64 for a 64-bit add (BPF_ADD_CONST64), 32 for a 32-bit one, whose result is zero-extended
   * (BPF_ADD_CONST32). It cannot take another constant; pruning matches it only with one as far ahead, the same width.
   */
  addConst: false | 32 | 64;
}

export const STACK_INVALID = 0;
export const STACK_SPILL = 1;
export const STACK_MISC = 2;
export const STACK_ZERO = 3;

export const MAX_BPF_STACK = 512;
export const STACK_SLOTS = MAX_BPF_STACK / 8;

export interface Frame {
  regs: Reg[];
  /**
   * Byte j describes stack offset -(j+1): STACK_INVALID/SPILL/MISC/ZERO. A plain array of small
   * integers: V8 keeps a 512-byte Uint8Array off its heap, and copying one costs several times more.
   */
  slotType: number[];
  /** Spilled register per 8-byte slot (slot s covers bytes 8s..8s+7). */
  spilled: (Reg | null)[];
  /**
   * `slotType` and `spilled` may be shared with copies of this frame: call `ownStack` before
   * changing either. Copies share the stack until one of them writes to it, so a branch or a
   * checkpoint does not copy 512 slot bytes and 64 spill slots per frame. The registers in
   * `spilled` are shared too, and never changed in place: `spilledForWrite` replaces one by a copy.
   */
  sharedStack: boolean;
  frameno: number;
  subprog: number;
  /** Index of the call instruction that created this frame (-1 for main). */
  callsite: number;
  /** A callback's frame (in_callback_fn): bpf_loop or bpf_for_each_map_elem called it; it returns to the call. */
  callback: boolean;
  /** Callback visits queued from this frame's current callback call (callback_depth): bpf_loop stops at its count. */
  callbackDepth: number;
}

export interface Ref {
  id: number;
  insn: number;
}

export interface VState {
  frames: Frame[];
  refs: Ref[];
  /** may_goto fall-throughs taken on the path to this state (bpf_verifier_state.may_goto_depth). */
  mayGotoDepth: number;
  /** Callback visits started on the path to this state (callback_unroll_depth): iterations are not infinite loops. */
  callbackUnroll: number;
}

// Registers are built field by field, always in this order: V8 is slow to spread objects that
// hold bigints, and one property order keeps every Reg on one hidden class.
export function notInit(): Reg {
  const b = unknownBounds();
  return {
    vo: b.vo, smin: b.smin, smax: b.smax, umin: b.umin, umax: b.umax, s32min: b.s32min, s32max: b.s32max, u32min: b.u32min, u32max: b.u32max,
    type: "not_init", maybeNull: false, off: 0, id: 0, refId: 0, range: 0, map: null, memSize: 0, frameno: 0, subprog: 0, btf: null, precise: false, addConst: false,
  };
}

export function unknownScalar(): Reg {
  const r = notInit();
  r.type = "scalar";
  return r;
}

export function knownScalar(v: bigint): Reg {
  const r = unknownScalar();
  markKnown(r, v);
  return r;
}

/** A pointer of `type` with offset 0 and no variable part. */
export function pointer(type: RegType, init: Partial<Reg> = {}): Reg {
  const r = notInit();
  markKnown(r, 0n);
  r.type = type;
  return Object.assign(r, init);
}

// In place, field by field: Object.assign of a fresh register allocated two objects per call.
export function setNotInit(r: Reg): void {
  markUnknownBounds(r);
  r.type = "not_init";
  r.maybeNull = false;
  r.off = 0;
  r.id = 0;
  r.refId = 0;
  r.range = 0;
  r.map = null;
  r.memSize = 0;
  r.frameno = 0;
  r.subprog = 0;
  r.btf = null;
  r.precise = false;
  r.addConst = false;
}

/** Unlinks a scalar from the copies sharing its id (clear_scalar_id). */
export function clearScalarId(r: Reg): void {
  r.id = 0;
  r.off = 0;
  r.addConst = false;
}

export function setUnknown(r: Reg): void {
  setNotInit(r);
  r.type = "scalar";
}

export function setKnown(r: Reg, v: bigint): void {
  setUnknown(r);
  markKnown(r, v);
}

export const copyReg = (r: Reg): Reg => ({
  vo: r.vo, smin: r.smin, smax: r.smax, umin: r.umin, umax: r.umax, s32min: r.s32min, s32max: r.s32max, u32min: r.u32min, u32max: r.u32max,
  type: r.type, maybeNull: r.maybeNull, off: r.off, id: r.id, refId: r.refId, range: r.range, map: r.map, memSize: r.memSize, frameno: r.frameno, subprog: r.subprog, btf: r.btf, precise: r.precise, addConst: r.addConst,
});

export function newFrame(frameno: number, subprog: number, callsite: number): Frame {
  const regs: Reg[] = [];
  for (let i = 0; i <= 10; i++) regs.push(notInit());
  regs[10] = pointer("fp", { frameno });
  return { regs, slotType: new Array<number>(MAX_BPF_STACK).fill(STACK_INVALID), spilled: new Array(STACK_SLOTS).fill(null), sharedStack: false, frameno, subprog, callsite, callback: false, callbackDepth: 0 };
}

/** Registers copied; the stack shared, copy-on-write, by the copy and the original. */
export function copyFrame(f: Frame): Frame {
  const regs = f.regs;
  const copies: Reg[] = new Array(regs.length);
  for (let i = 0; i < regs.length; i++) copies[i] = copyReg(regs[i]!);
  f.sharedStack = true;
  return { regs: copies, slotType: f.slotType, spilled: f.spilled, sharedStack: true, frameno: f.frameno, subprog: f.subprog, callsite: f.callsite, callback: f.callback, callbackDepth: f.callbackDepth };
}

/** Gives `f` its own copy of the stack arrays it may share, before a change to a slot type or spill slot. */
export function ownStack(f: Frame): void {
  if (!f.sharedStack) return;
  f.slotType = f.slotType.slice();
  f.spilled = f.spilled.slice();
  f.sharedStack = false;
}

/** The register spilled in slot `spi` of `f`, replaced by a copy that `f` alone holds, to be changed in place. */
export function spilledForWrite(f: Frame, spi: number): Reg {
  ownStack(f);
  const r = copyReg(f.spilled[spi]!);
  f.spilled[spi] = r;
  return r;
}

export function copyState(s: VState): VState {
  return { frames: s.frames.map(copyFrame), refs: s.refs.map((r) => ({ ...r })), mayGotoDepth: s.mayGotoDepth, callbackUnroll: s.callbackUnroll };
}

export const curFrame = (s: VState): Frame => s.frames[s.frames.length - 1]!;

export const isPointer = (r: Reg): boolean => r.type !== "scalar" && r.type !== "not_init";
export const isPktPointer = (r: Reg): boolean => r.type === "pkt" || r.type === "pkt_meta";
export const isNullConst = (r: Reg): boolean => r.type === "scalar" && tn.equalsConst(r.vo, 0n);

/**
 * The registers of every frame, spilled ones included, that `pick` selects, for updates that
 * follow ids (each update changes only the register it is made to, so selecting them all first is
 * the same as selecting while updating). A selected spilled register is given as the frame's own
 * copy (the stack unshared first), so changes to it stay in `s`.
 */
export function allRegs(s: VState, pick: (r: Reg) => boolean): Reg[] {
  const out: Reg[] = [];
  for (const f of s.frames) {
    for (const r of f.regs) if (pick(r)) out.push(r);
    for (let spi = 0; spi < STACK_SLOTS; spi++) {
      const r = f.spilled[spi];
      if (r && pick(r)) out.push(spilledForWrite(f, spi));
    }
  }
  return out;
}

/** The kernel's name of a register type ("map_value_or_null", "fp", "scalar", …). */
export function typeName(r: Reg): string {
  if (r.type === "not_init") return "?";
  if (r.type === "btf_id" && r.btf) return btfTypeName(r.btf, r.maybeNull);
  const base = r.type === "ptr_task" ? "ptr_task_struct" : r.type;
  return r.maybeNull ? `${base}_or_null` : base;
}

/** One register as the kernel's verifier log prints it, e.g. `map_value(off=0,ks=8,vs=48)`. */
export function regString(r: Reg): string {
  if (r.type === "not_init") return "uninitialised";
  if (r.type === "scalar") {
    const b = boundsString(r);
    if (tn.isConst(r.vo)) return b;
    return b ? `scalar(${b})` : "scalar()";
  }
  // a stack pointer at a known offset prints as the kernel's fp-8
  if (r.type === "fp" && tn.isConst(r.vo) && !r.id) return `fp${r.off + Number(tn.s64(r.vo.value))}`;
  const parts: string[] = [];
  if (r.id) parts.push(`id=${r.id}`);
  if (r.refId) parts.push(`ref_obj_id=${r.refId}`);
  if (r.off) parts.push(`off=${r.off}`);
  if (r.type === "pkt" || r.type === "pkt_meta") parts.push(`r=${r.range}`);
  if (r.map && (r.type === "map_value" || r.type === "map_key" || r.type === "map_ptr")) parts.push(`ks=${r.map.keySize},vs=${r.map.valueSize}`);
  if (r.type === "mem" || r.type === "ringbuf_mem") parts.push(`sz=${r.memSize}`);
  if (!tn.isConst(r.vo) || r.vo.value !== 0n) {
    const b = boundsString(r);
    if (b) parts.push(b);
  }
  if (r.type === "fp" && parts.length === 0) return `fp${r.off}`;
  if (r.type === "btf_id" && r.btf) return `${typeName(r)}${structName(r.btf)}(${parts.join(",")})`;
  return `${typeName(r)}(${parts.join(",")})`;
}

export function unknownScalarBounds(r: Reg): void {
  markUnknownBounds(r);
}
