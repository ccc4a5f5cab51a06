// Calls, exits and the special loads: helper calls checked against their prototypes, BPF-to-BPF
// calls with their frames, subprogram and program exits (return values, reference leaks),
// LDDW (constants, maps, functions) and the legacy LD_ABS/LD_IND packet loads.

import { Mode, Op, PseudoCall, PseudoLd, opMode, opSize, Size } from "../isa/opcodes.js";
import { wideImm, type Insn } from "../isa/insn.js";
import { Helper, helperName } from "../isa/helpers.js";
import { type Env, NOT_MODELLED, VerifierError, checkRegRead, checkRegWrite, fail, newId, regs } from "./env.js";
import { type FuncArg, type Subprog, prepareFuncArgs } from "./funcs.js";
import { CALLS_BACK, GPL_ONLY, helperProto, type ArgKind } from "./helpers.js";
import { widenImpreciseScalars } from "./prune.js";
import { BtfFlag, structName } from "./btf-types.js";
import { BtfKind } from "../btf/index.js";
import { MAX_VAR_OFF, btfPointerLoad, checkMapFields, checkMemRegion, checkPacketAccess, checkPtrOffZero, checkStackRange, markStackWritten } from "./memory.js";
import { ProgTypeId, allowsLdAbs, exitRange, packetAccess } from "./progtypes.js";
import {
  STACK_SPILL, STACK_ZERO, type Reg, allRegs, copyReg, copyState, curFrame, isNullConst, isPktPointer, isPointer, knownScalar, newFrame, notInit, pointer,
  setNotInit, setUnknown, typeName,
} from "./state.js";
import * as tn from "./tnum.js";
import { S64_MAX, S64_MIN, syncBounds } from "./scalar.js";
import { scanFormat } from "../../runtime/vm/helpers/printf-format.js";

export const MAX_CALL_FRAMES = 8;

const MEM_TYPES = new Set<Reg["type"]>(["fp", "pkt", "pkt_meta", "map_key", "map_value", "mem", "ringbuf_mem"]);
const KEY_TYPES = new Set<Reg["type"]>(["fp", "pkt", "pkt_meta", "map_key", "map_value", "mem", "ringbuf_mem"]);

function expectType(env: Env, regno: number, r: Reg, ok: boolean, expected: string): void {
  if (!ok) fail(env, `R${regno} type=${typeName(r)} expected=${expected}`, regno);
}

interface Meta {
  map: Reg["map"];
  /** The lookup key when it is a known constant on the stack, else -1. */
  constKey: bigint;
  rawRegno: number;
  rawSize: number;
  allocSize: number;
  release: Reg | null;
  pktAccess: boolean;
  /** The largest value of the last size argument (msize_max_value). */
  sizeMax: bigint;
}

/** Memory a helper reads or writes through a pointer argument (check_helper_mem_access). */
function helperMemAccess(env: Env, regno: number, size: number, zeroOk: boolean, write: boolean, meta: Meta | null): void {
  const r = regs(env)[regno]!;
  switch (r.type) {
    case "pkt":
    case "pkt_meta":
      checkPacketAccess(env, regno, r, r.off, size, zeroOk);
      return;
    case "map_key":
      if (write) fail(env, `R${regno} cannot write into ${typeName(r)}`, regno);
      checkMemRegion(env, regno, r, r.off, size, r.map!.keySize, zeroOk);
      return;
    case "map_value":
      checkMemRegion(env, regno, r, r.off, size, r.map!.valueSize, zeroOk);
      checkMapFields(env, regno, r, r.off, size);
      return;
    case "mem":
    case "ringbuf_mem":
      checkMemRegion(env, regno, r, r.off, size, r.memSize, zeroOk);
      return;
    case "fp": {
      const raw = meta !== null && meta.rawRegno === regno;
      checkStackRange(env, regno, r.off, size, zeroOk, true, raw, write);
      if (raw) meta.rawSize = size;
      return;
    }
    default:
      if (zeroOk && size === 0 && isNullConst(r)) {
        env.markPrecise(regno);
        return;
      }
      fail(env, `R${regno} type=${typeName(r)} expected=fp, pkt, pkt_meta, map_key, map_value, mem`, regno);
  }
}

function checkSizeArg(env: Env, regno: number, zeroOk: boolean, meta: Meta, write: boolean): void {
  const r = regs(env)[regno]!;
  env.markPrecise(regno);
  if (r.smin < 0n) fail(env, `R${regno} min value is negative, either use unsigned or 'var &= const'`, regno);
  if (r.umin === 0n && !zeroOk) fail(env, `R${regno} invalid zero-sized read: u64=[${r.umin},${r.umax}]`, regno);
  if (r.umax >= BigInt(MAX_VAR_OFF)) fail(env, `R${regno} unbounded memory access, use 'var &= const' or 'if (var < const)'`, regno);
  meta.sizeMax = r.umax;
  const constSize = tn.isConst(r.vo);
  helperMemAccess(env, regno - 1, Number(r.umax), zeroOk, write, constSize ? meta : null);
}

function checkArg(env: Env, argno: number, kind: ArgKind, meta: Meta, kinds: ArgKind[]): void {
  const regno = argno + 1;
  const r = checkRegRead(env, regno);
  if (kind === "any") {
    if (isPointer(r) && !env.privileged) fail(env, `R${regno} leaks addr into helper function`, regno);
    return;
  }
  if (isPktPointer(r) && (packetAccess(env.progType) === "none" || !meta.pktAccess) && (kind === "key" || kind === "value" || kind === "mem" || kind === "mem_or_null" || kind === "uninit")) {
    fail(env, "helper access to the packet is not allowed", regno);
  }
  switch (kind) {
    case "map":
      expectType(env, regno, r, r.type === "map_ptr", "map_ptr");
      meta.map = r.map;
      return;
    case "key":
    case "value": {
      expectType(env, regno, r, KEY_TYPES.has(r.type) && !r.maybeNull, "fp, pkt, pkt_meta, map_key, map_value, mem");
      if (!meta.map) fail(env, `invalid map_ptr to access map->${kind}`, regno);
      helperMemAccess(env, regno, kind === "key" ? meta.map.keySize : meta.map.valueSize, false, false, null);
      if (kind === "key" && (meta.map.type === 2 || meta.map.type === 6)) meta.constKey = constantKey(env, r, meta.map.keySize);
      return;
    }
    case "mem":
    case "uninit":
      expectType(env, regno, r, MEM_TYPES.has(r.type) && !r.maybeNull, "fp, pkt, pkt_meta, map_key, map_value, mem");
      if (kind === "uninit") {
        if (r.type === "map_key") fail(env, `R${regno} cannot write into ${typeName(r)}`, regno);
        meta.rawRegno = regno;
      }
      return;
    case "mem_or_null":
    case "out_or_null":
      expectType(env, regno, r, isNullConst(r) || (MEM_TYPES.has(r.type) && !r.maybeNull), "fp, pkt, pkt_meta, map_key, map_value, mem or NULL");
      if (isNullConst(r)) env.markPrecise(regno);
      else if (kind === "out_or_null") {
        if (r.type === "map_key") fail(env, `R${regno} cannot write into ${typeName(r)}`, regno);
        meta.rawRegno = regno;
      }
      return;
    case "const_str":
      checkConstString(env, regno, r);
      return;
    case "task":
      expectType(env, regno, r, (r.type === "ptr_task" || (r.type === "btf_id" && structName(r.btf!) === "task_struct")) && !r.maybeNull, "ptr_task_struct");
      checkPtrOffZero(env, regno, r, false);
      return;
    case "btf_sock_common":
      checkSockCommon(env, regno, r);
      return;
    case "size":
    case "size0": {
      expectType(env, regno, r, r.type === "scalar", "scalar");
      const prev = kinds[argno - 1];
      checkSizeArg(env, regno, kind === "size0", meta, prev === "uninit" || prev === "out_or_null");
      return;
    }
    case "alloc_size0":
      expectType(env, regno, r, r.type === "scalar", "scalar");
      if (!tn.isConst(r.vo)) fail(env, `R${regno} is not a known constant'`, regno);
      env.markPrecise(regno);
      meta.allocSize = Number(r.vo.value);
      return;
    case "ctx":
      expectType(env, regno, r, r.type === "ctx", "ctx");
      checkPtrOffZero(env, regno, r, false);
      return;
    case "func":
      expectType(env, regno, r, r.type === "func", "func");
      checkPtrOffZero(env, regno, r, false);
      return;
    case "stack_or_null":
      // any offset, even a variable one: the callback's own accesses are checked where it makes them
      expectType(env, regno, r, isNullConst(r) || r.type === "fp", "fp");
      if (isNullConst(r)) env.markPrecise(regno);
      return;
    case "ringbuf_release":
      expectType(env, regno, r, r.type === "ringbuf_mem" && !r.maybeNull, "ringbuf_mem");
      if (r.off !== 0 || !tn.isConst(r.vo) || r.vo.value !== 0n) fail(env, `R${regno} must have zero offset when passed to release func`, regno);
      if (!r.refId) fail(env, `R${regno} must be referenced when passed to release function`, regno);
      meta.release = r;
      return;
  }
}

/**
 * ARG_PTR_TO_BTF_ID_SOCK_COMMON: a plain or trusted typed pointer (not untrusted, RCU or maybe NULL) to a struct that
 * starts with struct sock_common, through first members at offset 0 (btf_struct_ids_match).
 */
function checkSockCommon(env: Env, regno: number, r: Reg): void {
  const flags = r.btf?.flags ?? 0;
  const ok = r.type === "btf_id" && !r.maybeNull && (flags & (BtfFlag.UNTRUSTED | BtfFlag.RCU | BtfFlag.USER | BtfFlag.PERCPU)) === 0;
  expectType(env, regno, r, ok, "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_");
  const btf = r.btf!.btf;
  let id = r.btf!.id;
  for (let n = 0; n < 16 && btf.nameOf(id) !== "sock_common"; n++) {
    const first = (btf.typeById(id) as { members?: { type: number; bitOffset: number }[] }).members?.[0];
    if (!first || first.bitOffset !== 0) break;
    id = btf.resolve(first.type);
  }
  if (btf.nameOf(id) !== "sock_common" || r.off !== 0) fail(env, `R${regno} is of type ${btf.nameOf(r.btf!.id)} but sock_common is expected`, regno);
}

/** BPF_F_RDONLY_PROG: the program may only read the map (`.rodata`). */
const RDONLY_PROG = 1 << 7;

/**
 * ARG_PTR_TO_CONST_STR (bpf_snprintf's format): a constant address in a map the program cannot write, and a NUL
 * after it in the map's value, which the model can check when it is told the frozen map's contents.
 */
function checkConstString(env: Env, regno: number, r: Reg): void {
  expectType(env, regno, r, r.type === "map_value" && !r.maybeNull, "map_value");
  if (((r.map!.flags ?? 0) & RDONLY_PROG) === 0) fail(env, `R${regno} does not point to a readonly map'`, regno);
  if (!tn.isConst(r.vo)) fail(env, `R${regno} is not a constant address'`, regno);
  const off = r.off + Number(tn.s64(r.vo.value));
  if (off < 0 || off >= r.map!.valueSize) fail(env, `invalid access to map value pointer, value_size=${r.map!.valueSize} off=${off}`, regno);
  const frozen = r.map!.frozen;
  if (frozen && frozen.subarray(off, r.map!.valueSize).indexOf(0) < 0) fail(env, "string is not zero-terminated", regno);
}

/**
 * bpf_snprintf's format, checked at load as the kernel does (check_bpf_snprintf_call): data_len a multiple of 8, and
 * the constant format (known when the map's frozen contents are given) accepted by bpf_bprintf_prepare for
 * data_len / 8 arguments.
 */
function checkSnprintfFormat(env: Env): void {
  const rs = regs(env);
  const fmt = rs[3]!;
  // the kernel reads var_off.value, the known bits, of the size (ARG_CONST_SIZE_OR_ZERO need not be constant)
  const dataLen = rs[5]!.vo.value;
  if (dataLen % 8n !== 0n) fail(env, `bpf_snprintf's data_len (R5 = ${dataLen}) is not a multiple of 8: its data is an array of u64`, 5);
  const frozen = fmt.map!.frozen;
  if (!frozen) return;
  const at = frozen.subarray(fmt.off + Number(tn.s64(fmt.vo.value)), fmt.map!.valueSize);
  if (!scanFormat(at, at.indexOf(0), Number(dataLen / 8n), () => {})) fail(env, "Invalid format string", 3);
}

/** Map types that only some helpers take, and helpers that take only some map types (check_map_func_compatibility). */
const MAP_ONLY_FOR: Record<number, readonly number[]> = {
  3: [Helper.tail_call],
  4: [Helper.perf_event_read, Helper.perf_event_output, Helper.perf_event_read_value, Helper.skb_output, Helper.xdp_output],
  7: [Helper.get_stackid],
  8: [Helper.skb_under_cgroup, Helper.current_task_under_cgroup],
  // maps of maps: a program may only look up an inner map, not change the outer map's slots
  12: [Helper.map_lookup_elem],
  13: [Helper.map_lookup_elem],
  27: [Helper.ringbuf_output, Helper.ringbuf_reserve, Helper.ringbuf_query, Helper.ringbuf_reserve_dynptr],
};
const HELPER_ONLY_FOR: Record<number, readonly number[]> = {
  [Helper.tail_call]: [3],
  [Helper.perf_event_read]: [4],
  [Helper.perf_event_output]: [4],
  [Helper.perf_event_read_value]: [4],
  [Helper.get_stackid]: [7],
  [Helper.skb_under_cgroup]: [8],
  [Helper.current_task_under_cgroup]: [8],
  [Helper.ringbuf_output]: [27],
  [Helper.ringbuf_reserve]: [27],
  [Helper.ringbuf_query]: [27],
  // DEVMAP, DEVMAP_HASH, CPUMAP, XSKMAP
  [Helper.redirect_map]: [14, 25, 16, 17],
};

function checkMapCompatibility(env: Env, map: NonNullable<Reg["map"]>, id: number, name: string): void {
  const onlyFor = MAP_ONLY_FOR[map.type];
  const needs = HELPER_ONLY_FOR[id];
  if ((onlyFor && !onlyFor.includes(id)) || (needs && !needs.includes(map.type))) fail(env, `cannot pass map_type ${map.type} into func ${name}#${id}`);
}

/** The value of a map key held on the stack as zeros or a spilled constant of the key's size, or -1. */
function constantKey(env: Env, key: Reg, keySize: number): bigint {
  if (!env.privileged || key.type !== "fp" || !tn.isConst(key.vo)) return -1n;
  const at = key.off + Number(tn.s64(key.vo.value));
  const slot = -at - 1;
  const spi = slot >> 3;
  const f = env.cur.frames[key.frameno]!;
  env.stackAccess(f, at, at + 1, false);
  const base = spi * 8;
  let zeros = 0;
  for (let i = slot & 7; i >= 0 && f.slotType[base + i] === STACK_ZERO; i--) zeros++;
  if (zeros >= keySize) return 0n;
  const spilled = f.spilled[spi];
  if (f.slotType[base + 7] !== STACK_SPILL || !spilled || spilled.type !== "scalar") return -1n;
  let spills = 0;
  for (let i = slot & 7; i >= 0 && f.slotType[base + i] === STACK_SPILL; i--) spills++;
  if (spills !== keySize || !tn.isConst(spilled.vo)) return -1n;
  // the lookup's result (never NULL) depends on the key's value
  env.markPreciseSlot(key.frameno, spi);
  return spilled.vo.value;
}

/** Packet pointers are stale after helpers that can move or resize packet data. */
function clearPacketPointers(env: Env): void {
  for (const r of allRegs(env.cur, (r) => r.type === "pkt" || r.type === "pkt_meta" || r.type === "pkt_end")) setUnknown(r);
}

function releaseReference(env: Env, refId: number): void {
  const before = env.cur.refs.length;
  env.cur.refs = env.cur.refs.filter((ref) => ref.id !== refId);
  if (env.cur.refs.length === before) fail(env, `release of unacquired reference id=${refId}`);
  for (const r of allRegs(env.cur, (r) => r.refId === refId)) setUnknown(r);
}

export function checkHelperCall(env: Env, insn: Insn): void {
  const id = insn.imm;
  const proto = helperProto(id, env.progType);
  const name = helperName(id) ?? "unknown";
  if (proto === "out_of_range") fail(env, `invalid func ${name}#${id}: there is no helper with that number`);
  if (proto === "not_allowed") fail(env, `program of this type cannot use helper ${name}#${id}`);
  if (!env.gplCompatible && GPL_ONLY.has(id)) fail(env, "cannot call GPL-restricted function from non-GPL compatible program");
  // The kernel judges calls of the helpers the model has no prototype for (spin locks, timers, dynptrs, ...).
  if (proto === "not_modelled") fail(env, `helper ${name}#${id} is ${NOT_MODELLED}`);
  // The probed address: kprobes know it (and trampolines, whose types the model does not check), tracepoints do not.
  if (id === Helper.get_func_ip && env.progType === ProgTypeId.tracing) fail(env, `func ${name}#${id} supported only for fentry/fexit/fmod_ret programs`);
  if (id === Helper.get_func_ip && env.progType !== ProgTypeId.kprobe) fail(env, `func ${name}#${id} not supported for program type ${env.progType}`);
  const meta: Meta = { map: null, constKey: -1n, rawRegno: -1, rawSize: 0, allocSize: 0, release: null, pktAccess: proto.pktAccess ?? false, sizeMax: 0n };
  proto.args.forEach((kind, i) => checkArg(env, i, kind, meta, proto.args));
  // before the map's compatibility: a perf event array is "not allowed" a callback first
  if (CALLS_BACK.has(id)) queueCallback(env, id);
  if (meta.map) checkMapCompatibility(env, meta.map, id, name);
  if (meta.rawRegno >= 0 && meta.rawSize > 0 && regs(env)[meta.rawRegno]!.type === "fp") {
    markStackWritten(env, meta.rawRegno, regs(env)[meta.rawRegno]!.off, meta.rawSize);
  }
  if (meta.release) releaseReference(env, meta.release.refId);
  if (id === Helper.snprintf) checkSnprintfFormat(env);
  if (id === 12 /* tail_call */ && env.cur.refs.length > 0) fail(env, "tail_call would lead to reference leak");
  if (id === 12 /* tail_call */ && env.cur.frames.some((f) => f.callback)) fail(env, `a tail call inside a callback is ${NOT_MODELLED}`);
  const rs = regs(env);
  for (let i = 1; i <= 5; i++) setNotInit(rs[i]!);
  switch (proto.ret) {
    case "int":
      rs[0] = knownScalar(0n);
      setUnknown(rs[0]);
      refineReturn(env, rs[0], id, meta);
      break;
    case "void":
      rs[0] = notInit();
      break;
    case "map_value_or_null":
      // array lookups with a constant in-range key cannot fail (an array of maps' slot can be empty: the model
      // reads a constant key only in ARRAY and PERCPU_ARRAY); a map of maps' result becomes its inner map once non-null
      if (id === 1 && meta.constKey >= 0n && meta.map && meta.constKey < BigInt(meta.map.maxEntries)) rs[0] = pointer("map_value", { map: meta.map });
      else rs[0] = pointer("map_value", { maybeNull: true, map: meta.map, id: newId(env) });
      break;
    case "ringbuf_mem_or_null": {
      const rid = newId(env);
      rs[0] = pointer("ringbuf_mem", { maybeNull: true, memSize: meta.allocSize, id: rid, refId: rid });
      env.cur.refs.push({ id: rid, insn: env.pc });
      break;
    }
    case "task": {
      // A trusted struct task_struct * where the kernel's BTF is known: its members are walked as the kernel walks them.
      const id = env.kernelBtf?.findIdsByName("task_struct", BtfKind.STRUCT)[0];
      rs[0] = id === undefined ? pointer("ptr_task") : pointer("btf_id", { btf: { btf: env.kernelBtf!, id, flags: BtfFlag.TRUSTED } });
      break;
    }
  }
  if (proto.changesPkt) clearPacketPointers(env);
}

/** Map types whose elements bpf_for_each_map_elem can walk (their map_for_each_callback): arrays and hashes. */
const WALKABLE_MAPS = new Set([1 /* hash */, 2 /* array */, 5 /* percpu hash */, 6 /* percpu array */, 9 /* lru hash */, 10 /* lru percpu hash */]);

/**
 * A helper that calls a subprogram back (push_callback_call): the callback is queued as a path of its own, entered in
 * a new frame with the helper's arguments (set_loop_callback_state, set_map_elem_callback_state) while this path
 * continues after the call as if it had not been called. The callback returns to the call, which queues it again:
 * the iterations go on until they reach a state an earlier one covers, or, for bpf_loop, its count.
 */
function queueCallback(env: Env, id: number): void {
  const rs = regs(env);
  const caller = curFrame(env.cur);
  if (id === Helper.loop) {
    // whether the iterations are done depends on the count
    env.markPrecise(1);
    if (BigInt(caller.callbackDepth) >= rs[1]!.umax) {
      caller.callbackDepth = 0;
      return;
    }
  } else if (!WALKABLE_MAPS.has(rs[1]!.map!.type)) fail(env, "callback function not allowed for map", 1);
  const sub = rs[2]!.subprog;
  const frames = env.cur.frames;
  if (frames.length >= MAX_CALL_FRAMES) fail(env, `the call stack of ${frames.length + 1} frames is too deep`);
  const visit = copyState(env.cur);
  const callee = newFrame(frames.length, sub, env.pc);
  callee.callback = true;
  if (id === Helper.loop) {
    // callback(u32 index, void *ctx)
    setUnknown(callee.regs[1]!);
    callee.regs[2] = copyReg(rs[3]!);
  } else {
    // callback(struct bpf_map *map, const void *key, void *value, void *ctx)
    const map = rs[1]!.map;
    callee.regs[1] = copyReg(rs[1]!);
    callee.regs[2] = pointer("map_key", { map });
    callee.regs[3] = pointer("map_value", { map });
    callee.regs[4] = copyReg(rs[3]!);
  }
  visit.frames[visit.frames.length - 1]!.callbackDepth++;
  visit.frames.push(callee);
  visit.callbackUnroll++;
  caller.callbackDepth = 0;
  env.pushBranch(visit, env.subprogStarts[sub]!);
}

/** Helpers whose result is an error or at most their size argument: the bytes they wrote. */
const RETURNS_SIZE = new Set<number>([Helper.get_stack, Helper.get_task_stack, Helper.probe_read_str, Helper.probe_read_kernel_str, Helper.probe_read_user_str]);
const MAX_ERRNO = 4095n;

/** The ranges the kernel knows some helpers' results to be in (do_refine_retval_range). */
function refineReturn(env: Env, r0: Reg, id: number, meta: Meta): void {
  if (RETURNS_SIZE.has(id)) {
    r0.smax = r0.s32max = meta.sizeMax;
    r0.smin = r0.s32min = -MAX_ERRNO;
  } else if (id === Helper.get_smp_processor_id) {
    r0.umax = r0.u32max = r0.smax = r0.s32max = BigInt(env.nrCpus - 1);
    r0.umin = r0.u32min = r0.smin = r0.s32min = 0n;
  } else return;
  syncBounds(r0);
}

/**
 * A BPF-to-BPF call: a static function gets a new frame whose r1-r5 are the caller's arguments (returns the callee
 * start); a global one is only checked against its prototype (returns the next instruction).
 */
export function checkLocalCall(env: Env, insn: Insn): number {
  const frames = env.cur.frames;
  const target = env.pc + insn.imm + 1;
  const sub = env.subprogStarts.indexOf(target);
  const info = env.subprogs?.[sub];
  if (info?.global) return checkGlobalCall(env, sub, info);
  if (frames.length >= MAX_CALL_FRAMES) fail(env, `the call stack of ${frames.length + 1} frames is too deep`);
  const caller = curFrame(env.cur);
  const callee = newFrame(frames.length, sub, env.pc);
  for (let i = 1; i <= 5; i++) callee.regs[i] = copyReg(caller.regs[i]!);
  for (let i = 0; i <= 5; i++) setNotInit(caller.regs[i]!);
  frames.push(callee);
  return target;
}

/** A global function's arguments from its prototype, prepared once (the kernel caches them too). */
export function globalArgs(env: Env, sub: number, info: Subprog): FuncArg[] | { error: string } {
  if (!info.args) {
    const fns = env.functions!;
    const typeId = fns.funcInfo.find((f) => f.insn === env.subprogStarts[sub])!.typeId;
    info.args = prepareFuncArgs(fns.btf, typeId, env.progType);
  }
  return info.args;
}

/** Register types a memory argument may have at any offset (check_func_arg_reg_off). */
const ANY_OFF = new Set<Reg["type"]>(["fp", "pkt", "pkt_meta", "map_key", "map_value", "mem", "ringbuf_mem", "scalar"]);

/** One argument of a global function call against the prototype (btf_check_func_arg_match). */
function checkGlobalArg(env: Env, i: number, arg: FuncArg): void {
  const regno = i + 1;
  const rs = regs(env);
  const r = rs[regno]!;
  if (arg.kind === "scalar") {
    if (r.type !== "scalar") fail(env, `R${regno} is not a scalar`, regno);
    return;
  }
  if (r.type !== "not_init" && !(ANY_OFF.has(r.type) && !r.maybeNull)) checkPtrOffZero(env, regno, r, r.type === "btf_id");
  if (arg.kind === "ctx") {
    if (r.type !== "ctx") fail(env, `arg#${i} expects pointer to ctx`, regno);
    return;
  }
  if (isNullConst(r)) return;
  if (r.type === "ctx") fail(env, `R${regno}: the context as a global function's memory argument is ${NOT_MODELLED}`, regno);
  if (r.type === "btf_id") {
    // A kernel pointer passes when the parameter's size reads inside one of its struct's members (check_ptr_to_btf_access).
    btfPointerLoad(env, regno, { ...copyReg(r), maybeNull: false }, r.off, arg.size, false, -1);
    if (!arg.nullable && r.maybeNull) fail(env, `arg#${i} is expected to be non-NULL`, regno);
    return;
  }
  if (!MEM_TYPES.has(r.type)) fail(env, `R${regno} type=${typeName(r)} expected=fp`, regno);
  // read and written as if not NULL (check_mem_reg)
  rs[regno] = { ...copyReg(r), maybeNull: false };
  try {
    helperMemAccess(env, regno, arg.size, true, false, null);
    if (r.type === "map_key") fail(env, `R${regno} cannot write into ${typeName(r)}`, regno);
  } finally {
    rs[regno] = r;
  }
  if (!arg.nullable && r.maybeNull) fail(env, `arg#${i} is expected to be non-NULL`, regno);
}

/** Whether a subprogram, one it calls or a callback it takes may move packet data (changes_pkt_data): the caller's packet pointers go stale. */
function changesPacket(env: Env, sub: number, seen = new Set<number>()): boolean {
  if (seen.has(sub)) return false;
  seen.add(sub);
  for (let pc = env.subprogStarts[sub]!; pc < env.subprogStarts[sub + 1]!; pc++) {
    const insn = env.insns[pc]!;
    // a callback whose address it takes counts as one it calls (merge_callee_effects)
    const callee = (insn.code === Op.CALL && insn.src === PseudoCall.LOCAL) || (insn.code === Op.LDDW && insn.src === PseudoLd.FUNC);
    if (callee && changesPacket(env, env.subprogStarts.indexOf(pc + insn.imm + 1), seen)) return true;
    if (insn.code !== Op.CALL || insn.src !== 0) continue;
    const proto = helperProto(insn.imm, env.progType);
    if (typeof proto === "object" && proto.changesPkt) return true;
  }
  return false;
}

/**
 * A call of a global function (check_func_call): the arguments checked against its prototype, the function marked to be
 * verified on its own once the main program is, r1-r5 clobbered and r0 any scalar.
 */
function checkGlobalCall(env: Env, sub: number, info: Subprog): number {
  const args = globalArgs(env, sub, info);
  try {
    if ("error" in args) fail(env, args.error);
    args.forEach((arg, i) => checkGlobalArg(env, i, arg));
  } catch (e) {
    if (!(e instanceof VerifierError)) throw e;
    env.log?.push(e.reason);
    fail(env, `Caller passes invalid args into func#${sub} ('${info.name}'): ${e.reason}`, e.register);
  }
  env.log?.push(`Func#${sub} ('${info.name}') is global and assumed valid.`);
  env.calledGlobals.add(sub);
  if (changesPacket(env, sub)) clearPacketPointers(env);
  const rs = regs(env);
  for (let i = 1; i <= 5; i++) setNotInit(rs[i]!);
  rs[0] = knownScalar(0n);
  setUnknown(rs[0]);
  return env.pc + 1;
}

/** The exit of a global function verified on its own: references released, R0 a scalar (check_return_code). */
export function checkGlobalExit(env: Env): void {
  checkReferenceLeak(env);
  const r0 = checkRegRead(env, 0);
  if (isPointer(r0) && !env.privileged) fail(env, "R0 leaks addr as return value", 0);
  if (r0.type !== "scalar") fail(env, `At subprogram exit the register R0 is not a scalar value (${typeName(r0)})`, 0);
}

/** Returns from a subprogram: r0 goes to the caller. Returns the instruction after the call. */
export function checkSubprogExit(env: Env): number {
  const frames = env.cur.frames;
  const callee = frames[frames.length - 1]!;
  const r0 = callee.regs[0]!;
  if (r0.type === "fp") fail(env, "cannot return stack pointer to the caller: the callee's stack is gone after it returns", 0);
  if (callee.callback) return checkCallbackExit(env);
  frames.pop();
  const caller = curFrame(env.cur);
  caller.regs[0] = copyReg(r0);
  return callee.callsite + 1;
}

/** What a callback returns to bpf_loop or bpf_for_each_map_elem: 0 to go on, 1 to stop. */
const CALLBACK_RANGE: readonly [bigint, bigint] = [0n, 1n];

/**
 * A callback's return (prepare_func_exit with in_callback_fn): R0 a scalar in [0, 1], then back to the helper call,
 * which queues the next iteration. Scalars that changed since the previous iteration and no check needed exactly
 * are forgotten, so that the iterations converge.
 */
function checkCallbackExit(env: Env): number {
  const frames = env.cur.frames;
  const callee = frames[frames.length - 1]!;
  const r0 = callee.regs[0]!;
  if (r0.type !== "scalar") fail(env, `R0 not a scalar value: a callback returns 0 (go on) or 1 (stop)`, 0);
  env.markPrecise(0);
  checkScalarRange(env, "At callback return", CALLBACK_RANGE);
  frames.pop();
  const previous = env.previousIteration(callee.callsite);
  if (previous) widenImpreciseScalars(previous, env.cur);
  return callee.callsite;
}

/** R0 of the current frame within `range`, or the kernel's words for what it has (verbose_invalid_scalar). */
function checkScalarRange(env: Env, where: string, range: readonly [bigint, bigint]): void {
  const r0 = regs(env)[0]!;
  if (r0.smin >= range[0] && r0.smax <= range[1]) return;
  // Linux 6.18's verbose_invalid_scalar: the signed bounds that are known, a constant's included
  const known = [r0.smin > S64_MIN ? ` smin=${r0.smin}` : "", r0.smax < S64_MAX ? ` smax=${r0.smax}` : ""].join("");
  fail(env, `${where} the register R0 has${known || " unknown scalar value"} should have been in [${range[0]}, ${range[1]}]`, 0);
}

/** The end of the main program: references released, R0 initialised and in the allowed range. */
function checkReferenceLeak(env: Env): void {
  if (env.cur.refs.length > 0) {
    const ref = env.cur.refs[0]!;
    fail(env, `Unreleased reference id=${ref.id} alloc_insn=${ref.insn}: memory reserved there is neither submitted nor discarded on this path`);
  }
}

export function checkProgramExit(env: Env): void {
  checkReferenceLeak(env);
  const r0 = checkRegRead(env, 0);
  if (isPointer(r0) && !env.privileged) fail(env, "R0 leaks addr as return value", 0);
  const range = exitRange(env.progType, env.attachType);
  if (!range) return;
  if (r0.type !== "scalar") fail(env, `At program exit the register R0 is not a known value (${typeName(r0)})`, 0);
  env.markPrecise(0);
  checkScalarRange(env, "At program exit", range);
}

/** LDDW: a 64-bit constant, a map, a map value or a function. */
export function checkLdImm(env: Env, insn: Insn): void {
  if (opSize(insn.code) !== Size.DW) fail(env, "invalid BPF_LD_IMM insn");
  if (insn.off !== 0) fail(env, "BPF_LD_IMM64 uses reserved fields");
  checkRegWrite(env, insn.dst);
  const rs = regs(env);
  if (insn.src === PseudoLd.IMM64) {
    rs[insn.dst] = knownScalar(wideImm(env.insns, env.pc));
    return;
  }
  if (insn.src === PseudoLd.FUNC) {
    const sub = env.subprogStarts.indexOf(env.pc + insn.imm + 1);
    // the kernel knows a callback's linkage only from the object's BTF (func_info)
    if (!env.subprogs) fail(env, "missing btf func_info: a function's address needs the program's BTF func_info");
    if (env.subprogs[sub]!.global) fail(env, `callback function not static: ${env.subprogs[sub]!.name} must be a static function`);
    rs[insn.dst] = pointer("func", { subprog: sub });
    return;
  }
  const map = env.maps.get(insn.imm)!;
  if (insn.src === PseudoLd.MAP_VALUE) rs[insn.dst] = pointer("map_value", { map, off: env.insns[env.pc + 1]!.imm >>> 0 });
  else rs[insn.dst] = pointer("map_ptr", { map });
}

export function checkLdAbs(env: Env, insn: Insn): void {
  const mode = opMode(insn.code);
  if (!allowsLdAbs(env.progType)) fail(env, "BPF_LD_[ABS|IND] instructions not allowed for this program type");
  if (insn.dst !== 0 || insn.off !== 0 || opSize(insn.code) === Size.DW || (mode === Mode.ABS && insn.src !== 0)) fail(env, "BPF_LD_[ABS|IND] uses reserved fields");
  const r6 = checkRegRead(env, 6);
  if (env.cur.refs.length > 0) fail(env, "BPF_LD_[ABS|IND] cannot be mixed with socket references");
  if (r6.type !== "ctx") fail(env, "at the time of BPF_LD_ABS|IND R6 != pointer to skb", 6);
  if (mode === Mode.IND) checkRegRead(env, insn.src);
  checkPtrOffZero(env, 6, r6, false);
  const rs = regs(env);
  for (let i = 1; i <= 5; i++) setNotInit(rs[i]!);
  rs[0] = knownScalar(0n);
  setUnknown(rs[0]);
}
