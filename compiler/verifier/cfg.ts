// Static passes before the abstract interpretation, in the kernel's order: subprogram discovery,
// jumps kept inside their subprogram, LDDW and opcode sanity, then the control-flow walk that
// finds unreachable instructions, loops and prune points.

import { Class, JmpOp, Mode, Op, PseudoCall, PseudoLd, jmpOp, opClass, opMode, opSize, opSource, Size } from "../isa/opcodes.js";
import { type Insn } from "../isa/insn.js";
import type { MapDesc } from "./state.js";
import { NOT_MODELLED } from "./env.js";
import { isTracing } from "./progtypes.js";
import { CALLS_BACK } from "./helpers.js";

export class CfgError extends Error {
  constructor(
    readonly pc: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** A CfgError without a stack trace: verify() catches every one, and capturing the stack cost more than the rest of a rejected program's check. */
function cfgError(pc: number, reason: string): CfgError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const e = new CfgError(pc, reason);
  Error.stackTraceLimit = limit;
  return e;
}

const isPseudoCall = (i: Insn): boolean => i.code === Op.CALL && i.src === PseudoCall.LOCAL;
/** MAX_USED_MAPS (include/linux/bpf.h). */
const MAX_USED_MAPS = 64;

const isPseudoFunc = (i: Insn): boolean => i.code === Op.LDDW && i.src === PseudoLd.FUNC;
const isKfuncCall = (i: Insn): boolean => i.code === Op.CALL && i.src === PseudoCall.KFUNC;

/** Opcodes the kernel accepts at all (bpf_opcode_in_insntable). */
const VALID_OPCODES: Set<number> = (() => {
  const s = new Set<number>();
  for (const cls of [Class.ALU, Class.ALU64]) {
    for (const op of [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0]) {
      s.add(cls | op | 0x00);
      s.add(cls | op | 0x08);
    }
    s.add(cls | 0x80);
  }
  s.add(Class.ALU | 0xd0 | 0x08);
  s.add(Class.ALU | 0xd0);
  s.add(Class.ALU64 | 0xd0);
  for (const cls of [Class.JMP, Class.JMP32]) {
    for (const op of [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]) {
      s.add(cls | op);
      s.add(cls | op | 0x08);
    }
    s.add(cls | 0x00);
  }
  s.add(Op.CALL);
  s.add(Op.EXIT);
  for (const size of [Size.B, Size.H, Size.W, Size.DW]) {
    s.add(Class.STX | Mode.MEM | size);
    s.add(Class.ST | Mode.MEM | size);
    s.add(Class.LDX | Mode.MEM | size);
  }
  // Bytes and halves: load-acquire and store-release only (check_atomic tells the rest apart).
  for (const size of [Size.B, Size.H, Size.W, Size.DW]) s.add(Class.STX | Mode.ATOMIC | size);
  for (const size of [Size.B, Size.H, Size.W]) {
    s.add(Class.LDX | Mode.MEMSX | size);
    s.add(Class.LD | Mode.ABS | size);
    s.add(Class.LD | Mode.IND | size);
  }
  s.add(Op.LDDW);
  s.add(Op.MAY_GOTO);
  return s;
})();

export interface CfgInfo {
  subprogStarts: number[];
  prunePoints: Uint8Array;
  /**
   * Instructions a path may reach other than from the one before (jump targets, returns from calls): the kernel's
   * jmp points, each visit to one an entry in the path's jump history.
   */
  jmpPoints: Uint8Array;
  /** Helper calls that call a subprogram back (bpf_loop, bpf_for_each_map_elem): each callback iteration returns to them. */
  callbackCalls: Uint8Array;
}

/**
 * The map types a sleepable program may name (check_map_prog_compatibility): hash and array maps of every kind, maps
 * of maps, ring buffers, queues, stacks, arenas and sk, inode, task and cgroup local storage (Linux 6.18 answered so
 * for each of these it creates without BTF, and refused the others: program and perf event arrays, stack traces, ...).
 */
const SLEEPABLE_MAP_TYPES: ReadonlySet<number> = new Set([1, 2, 5, 6, 9, 10, 12, 13, 22, 23, 24, 27, 28, 29, 31, 32, 33]);

/**
 * check_map_prog_compatibility: the kernel refuses a reference to a map whose value holds a lock, a timer or a graph
 * root from tracing program types (is_tracing_prog_type), which may run where those cannot be used safely (even NMI).
 */
function mapRefusal(map: MapDesc, progType: number): string | undefined {
  const fields = new Set((map.valueFields ?? []).map((f) => f.name));
  const tracing = isTracing(progType);
  if (tracing && (fields.has("bpf_list_head") || fields.has("bpf_rb_root"))) return "tracing progs cannot use bpf_{list_head,rb_root} yet";
  if (fields.has("bpf_spin_lock") || fields.has("bpf_res_spin_lock")) {
    if (progType === 1) return "socket filter progs cannot use bpf_spin_lock yet";
    if (tracing) return "tracing progs cannot use bpf_spin_lock yet";
  }
  if (tracing && fields.has("bpf_timer")) return "tracing progs cannot use bpf_timer yet";
  return undefined;
}

/** Runs the static passes; throws CfgError with the kernel's reason. */
export function checkStatic(insns: readonly Insn[], maps: Map<number, MapDesc>, privileged: boolean, sleepable = false, progType = 0): CfgInfo {
  const n = insns.length;
  // add_subprog_and_kfunc
  const starts = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    const insn = insns[i]!;
    if (!isPseudoCall(insn) && !isPseudoFunc(insn) && !isKfuncCall(insn)) continue;
    if (!privileged) throw cfgError(i, "loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN");
    if (isKfuncCall(insn)) {
      // kfunc #0 is a placeholder the kernel only rejects if it survives dead-code elimination
      if (insn.imm === 0 && insn.off === 0) continue;
      throw cfgError(i, `kernel function calls (kfuncs) are ${NOT_MODELLED}`);
    }
    const target = i + insn.imm + 1;
    if (target < 0 || target >= n) throw cfgError(i, "call to invalid destination");
    starts.add(target);
  }
  const subprogStarts = [...starts].sort((a, b) => a - b);
  subprogStarts.push(n);

  // check_subprogs: jumps stay inside their subprogram; no fall-through into the next one
  let sub = 0;
  let subStart = subprogStarts[0]!;
  let subEnd = subprogStarts[1]!;
  for (let i = 0; i < n; i++) {
    const code = insns[i]!.code;
    const cls = opClass(code);
    if ((cls === Class.JMP || cls === Class.JMP32) && jmpOp(code) !== JmpOp.EXIT && jmpOp(code) !== JmpOp.CALL) {
      const off = code === Op.JA32 ? i + insns[i]!.imm + 1 : i + insns[i]!.off + 1;
      if (off < subStart || off >= subEnd) throw cfgError(i, `jump out of range from insn ${i} to ${off}`);
    }
    if (i === subEnd - 1) {
      if (code !== Op.EXIT && code !== Op.JA32 && code !== Op.JA) throw cfgError(i, "last insn is not an exit or jmp");
      sub++;
      subStart = subEnd;
      if (sub < subprogStarts.length - 1) subEnd = subprogStarts[sub + 1]!;
    }
  }

  // resolve_pseudo_ldimm64: LDX fields, LDDW pairs and map references, known opcodes
  const usedMaps = new Set<number>();
  for (let i = 0; i < n; i++) {
    const insn = insns[i]!;
    if (opClass(insn.code) === Class.LDX && ((opMode(insn.code) !== Mode.MEM && opMode(insn.code) !== Mode.MEMSX) || insn.imm !== 0)) {
      throw cfgError(i, "BPF_LDX uses reserved fields");
    }
    if (insn.code === Op.LDDW) {
      const next = insns[i + 1];
      if (i === n - 1 || !next || next.code !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0) throw cfgError(i, "invalid bpf_ld_imm64 insn");
      if (insn.src === PseudoLd.IMM64 || insn.src === PseudoLd.FUNC) {
        i++;
        continue;
      }
      if (insn.src === PseudoLd.BTF_ID) throw cfgError(i, `ldimm64 of a kernel BTF symbol is ${NOT_MODELLED}`);
      const okSrc = insn.src === PseudoLd.MAP_VALUE || ((insn.src === PseudoLd.MAP_FD) && next.imm === 0);
      if (insn.src === PseudoLd.MAP_IDX || insn.src === PseudoLd.MAP_IDX_VALUE) throw cfgError(i, "fd_idx without fd_array is invalid");
      if (!okSrc) throw cfgError(i, "unrecognized bpf_ld_imm64 insn");
      const map = maps.get(insn.imm);
      if (!map) throw cfgError(i, `fd ${insn.imm} is not pointing to valid bpf_map`);
      // __add_used_map: a program references at most MAX_USED_MAPS maps, counted as the kernel meets them.
      if (!usedMaps.has(insn.imm) && usedMaps.size >= MAX_USED_MAPS) throw cfgError(i, `The total number of maps per program has reached the limit of ${MAX_USED_MAPS}`);
      usedMaps.add(insn.imm);
      const refused = mapRefusal(map, progType);
      if (refused) throw cfgError(i, refused);
      if (sleepable && !SLEEPABLE_MAP_TYPES.has(map.type)) throw cfgError(i, "Sleepable programs can only use array, hash, ringbuf and local storage maps");
      if (insn.src === PseudoLd.MAP_VALUE) {
        const off = next.imm >>> 0;
        if (off >= 1 << 29) throw cfgError(i, `direct value offset of ${off} is not allowed`);
        if (map.type !== 2) throw cfgError(i, "no direct value access support for this map type");
        if (off >= map.valueSize) throw cfgError(i, `invalid access to map value pointer, value_size=${map.valueSize} off=${off}`);
      }
      i++;
      continue;
    }
    if (!VALID_OPCODES.has(insn.code)) throw cfgError(i, `unknown opcode ${insn.code.toString(16).padStart(2, "0")}`);
  }

  // check_cfg: depth-first walk over the control flow
  const prunePoints = new Uint8Array(n + 1);
  const jmpPoints = new Uint8Array(n + 1);
  const callbackCalls = new Uint8Array(n + 1);
  const DISCOVERED = 0x10;
  const EXPLORED = 0x20;
  const FALLTHROUGH = 1;
  const BRANCH = 2;
  const state = new Int32Array(n);
  const stack: number[] = [0];
  state[0] = DISCOVERED;
  // methods, not named closures: under tsx each of those is wrapped as it is created, once per verify()
  const walk = {
    push(t: number, w: number, e: number): "done" | "keep" {
      if (e === FALLTHROUGH && state[t]! >= (DISCOVERED | FALLTHROUGH)) return "done";
      if (e === BRANCH && state[t]! >= (DISCOVERED | BRANCH)) return "done";
      if (w < 0 || w >= n) throw cfgError(t, `jump out of range from insn ${t} to ${w}`);
      if (e === BRANCH) prunePoints[w] = jmpPoints[w] = 1;
      if (state[w] === 0) {
        state[t] = DISCOVERED | e;
        state[w] = DISCOVERED;
        stack.push(w);
        return "keep";
      }
      if ((state[w]! & 0xf0) === DISCOVERED) {
        if (privileged) return "done";
        throw cfgError(t, `back-edge from insn ${t} to ${w}`);
      }
      state[t] = DISCOVERED | e;
      return "done";
    },
    visit(t: number): "done" | "keep" {
      const insn = insns[t]!;
      const cls = opClass(insn.code);
      if (isPseudoFunc(insn)) {
        const r = walk.push(t, t + 2, FALLTHROUGH);
        if (r !== "done") return r;
        prunePoints[t + 2] = jmpPoints[t + 2] = 1;
        return walk.push(t, t + insn.imm + 1, BRANCH);
      }
      if (cls !== Class.JMP && cls !== Class.JMP32) return walk.push(t, t + (insn.code === Op.LDDW ? 2 : 1), FALLTHROUGH);
      const op = jmpOp(insn.code);
      if (op === JmpOp.EXIT) return "done";
      if (op === JmpOp.CALL) {
        const r = walk.push(t, t + 1, FALLTHROUGH);
        if (r !== "done") return r;
        prunePoints[t + 1] = jmpPoints[t + 1] = 1;
        if (insn.src === PseudoCall.LOCAL) {
          prunePoints[t] = 1;
          return walk.push(t, t + insn.imm + 1, BRANCH);
        }
        // the callback's iterations come back to the call: a checkpoint there is where they converge
        if (insn.src === 0 && CALLS_BACK.has(insn.imm)) callbackCalls[t] = prunePoints[t] = jmpPoints[t] = 1;
        return "done";
      }
      if (op === JmpOp.JA) {
        if (opSource(insn.code) !== 0) throw cfgError(t, "BPF_JA uses reserved fields");
        const off = cls === Class.JMP ? insn.off : insn.imm;
        const r = walk.push(t, t + off + 1, FALLTHROUGH);
        prunePoints[t + off + 1] = jmpPoints[t + off + 1] = 1;
        return r;
      }
      prunePoints[t] = 1;
      const r = walk.push(t, t + 1, FALLTHROUGH);
      if (r !== "done") return r;
      return walk.push(t, t + insn.off + 1, BRANCH);
    },
  };
  while (stack.length > 0) {
    const t = stack[stack.length - 1]!;
    if (walk.visit(t) === "done") {
      state[t] = EXPLORED;
      stack.pop();
    }
  }
  for (let i = 0; i < n; i++) {
    if (state[i] !== EXPLORED) throw cfgError(i, `unreachable insn ${i}`);
    if (insns[i]!.code === Op.LDDW) {
      if (state[i + 1] !== 0) throw cfgError(i, `jump into the middle of ldimm64 insn ${i}`);
      i++;
    }
  }
  void opSize;
  return { subprogStarts, prunePoints, jmpPoints, callbackCalls };
}
