// The abstract interpreter: walks every path of the program from the entry state, one
// instruction at a time, queueing the other side of undecided branches, pruning paths whose
// state an explored one covers, and stopping at the first violation or the complexity limit.

import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { Class, JmpOp, Mode, Op, PseudoCall, jmpOp, opClass, opMode } from "../isa/opcodes.js";
import { type Insn } from "../isa/insn.js";
import { disassemble } from "../isa/disasm.js";
import { checkAlu } from "./alu.js";
import { checkCondJmp } from "./branch.js";
import { checkGlobalExit, checkHelperCall, checkLdAbs, checkLdImm, checkLocalCall, checkProgramExit, checkSubprogExit, globalArgs } from "./calls.js";
import { type FunctionsBtf, prepareFuncArgs, subprogsOf } from "./funcs.js";
import { CfgError, checkStatic } from "./cfg.js";
import { type Env, NOT_MODELLED, VerifierError, fail, newId } from "./env.js";
import { checkAtomic, checkLdx, checkSt, checkStx } from "./memory.js";
import { liveRegs } from "./liveness.js";
import { type FrameSnapshot, fullState, snapshot, touchedState, withState } from "./log.js";
import { type HistoryNode, Precision, stackNote } from "./precision.js";
import { statesCover } from "./prune.js";
import { ProgTypeId, needsAttachTarget, progTypeName, resolveProgType } from "./progtypes.js";
import type { TracepointContext } from "./btf-types.js";
import { gplCompatible } from "./helpers.js";
import type { Btf } from "../btf/index.js";
import { type MapDesc, type VState, MAX_BPF_STACK, STACK_SLOTS, copyState, curFrame, knownScalar, newFrame, pointer, regString, setUnknown } from "./state.js";

/** BPF_TRACE_RAW_TP: a tracing program loaded for a tracepoint (tp_btf). */
export const TRACE_RAW_TP = 23;

export const COMPLEXITY_LIMIT = 1_000_000;
/** States an unprivileged loader keeps per instruction (BPF_COMPLEXITY_LIMIT_STATES). */
const MAX_CHECKPOINTS = 64;
/**
 * Jump history entries after which a path stores a state anyway (the kernel's jmp_history_cnt > 40): one per
 * instruction that is a jump target or a return from a call, that spills to or fills from the stack, or that refines
 * linked scalars.
 */
const MAX_HISTORY = 40;
/** Branches queued for later at once (BPF_COMPLEXITY_LIMIT_JMP_SEQ): a path forking at every jump, none joining. */
const MAX_QUEUED_BRANCHES = 8192;

/** BPF_F_SLEEPABLE: a program that may sleep (libbpf's SEC("syscall"), "uprobe.s", ...). */
const BPF_F_SLEEPABLE = 1 << 4;

export interface VerifyOptions {
  /** Program type number (`ProgTypeId`); 0 is treated as socket filter. */
  progType: number;
  expectedAttachType?: number;
  maps?: MapDesc[];
  /** Root-like loader (CAP_BPF, CAP_PERFMON): the default. */
  privileged?: boolean;
  /** BPF_PROG_LOAD prog_flags: BPF_F_STRICT_ALIGNMENT (1) forces aligned accesses; BPF_F_SLEEPABLE (16) limits the maps. */
  flags?: number;
  /**
   * Record the kernel's log_level 2 log: one line per processed instruction with the registers and
   * stack slots it touched, the state where a queued path resumes, `safe` where one is pruned.
   */
  log?: boolean;
  /** Stop after this many processed instructions (default 1,000,000, the kernel's limit). */
  limit?: number;
  /**
   * A tp_btf program's tracepoint (`tracepointContext` on the kernel's BTF): with it a tracing program of attach type
   * BPF_TRACE_RAW_TP is checked, its context being the tracepoint's typed arguments.
   */
  tracepoint?: TracepointContext;
  /**
   * The running kernel's BTF: with it, bpf_get_current_task_btf() gives a trusted `struct task_struct *` whose members
   * can be walked (t->real_parent->tgid); without it (or a tp_btf tracepoint's), an opaque task pointer.
   */
  kernelBtf?: Btf;
  /**
   * The object's BTF and func_info (each subprogram's FUNC), as BPF_PROG_LOAD gets them: with them a global function
   * is verified once on its own from its prototype, and its calls are checked against the prototype, as the kernel
   * does; without them every function is walked per call with the caller's arguments, like a static one.
   */
  functions?: FunctionsBtf;
  /**
   * The kernel's nr_cpu_ids, which bounds bpf_get_smp_processor_id()'s result below it; default the host's (the
   * highest CPU in /sys/devices/system/cpu/possible, plus one), as the kernel that loads the program is.
   */
  nrCpus?: number;
  /** The program's license (BPF_PROG_LOAD's): GPL-only helpers need a GPL-compatible one. Default "GPL". */
  license?: string;
}

let hostCpus: number | undefined;
/** nr_cpu_ids of this machine: one past the highest possible CPU, or the CPUs Node sees where sysfs cannot be read. */
export function hostNrCpus(): number {
  if (hostCpus === undefined) {
    try {
      hostCpus = Math.max(...(readFileSync("/sys/devices/system/cpu/possible", "utf8").match(/\d+/g) ?? ["0"]).map(Number)) + 1;
    } catch {
      hostCpus = availableParallelism();
    }
  }
  return hostCpus;
}

export interface VerifyError {
  pc: number;
  message: string;
  register?: number;
  state?: string;
}

export interface VerifyResult {
  accepted: boolean;
  error?: VerifyError;
  processed: number;
  /** The loads through typed kernel pointers (PTR_TO_BTF_ID), which the kernel runs as BPF_PROBE_MEM: a fault reads zero. */
  probeMem?: number[];
  log?: string[];
}

interface Checkpoint extends HistoryNode {
  state: VState;
  pc: number;
  /** env.processed when it was stored. */
  step: number;
  /** Paths still being explored below this checkpoint. */
  branches: number;
  parent: Checkpoint | null;
  /** Instructions executed from the parent checkpoint to this one (precision's history). */
  trace: number[];
  hits: number;
  misses: number;
  /** Main-frame stack slots read after this checkpoint before being overwritten. */
  read: Uint8Array;
  /** Main-frame stack slots overwritten between the parent checkpoint and this one. */
  written: Uint8Array;
}

interface Path {
  state: VState;
  pc: number;
  /** The instruction that queued it. */
  from: number;
  parent: Checkpoint | null;
  written: Uint8Array;
  trace: number[];
  /** Jump history entries in `trace`. */
  history: number;
}

// Under tsx (the tests, the bench) every named closure is wrapped as it is created, at a cost per
// verify() call that small programs notice: the helpers here are module functions or methods.

function rejection(log: string[] | null, pc: number, message: string, processed: number, register?: number, state?: string): VerifyResult {
  const error: VerifyError = { pc, message };
  if (register !== undefined) error.register = register;
  if (state !== undefined) error.state = state;
  log?.push(message);
  return { accepted: false, error, processed, ...(log ? { log } : {}) };
}

/**
 * can_be_sleepable: the program types the kernel lets sleep (tracing ones only as fentry, fexit, fmod_ret or iter;
 * kprobe as uprobes; syscall programs always may). A sleepable tracepoint, raw tracepoint or tp_btf is refused.
 */
function canBeSleepable(progType: number, attachType: number): boolean {
  if (progType === ProgTypeId.tracing) return attachType === 24 || attachType === 25 || attachType === 26 || attachType === 28;
  return progType === ProgTypeId.lsm || progType === ProgTypeId.kprobe || progType === ProgTypeId.struct_ops || progType === ProgTypeId.syscall;
}

/** Checks `insns` the way the kernel's verifier would and reports the first violation. */
export function verify(insns: readonly Insn[], options: VerifyOptions): VerifyResult {
  const privileged = options.privileged ?? true;
  const progType = resolveProgType(options.progType);
  const maps = new Map<number, MapDesc>();
  for (const m of options.maps ?? []) maps.set(m.fd, m);
  const log: string[] | null = options.log ? [] : null;
  if (insns.length === 0) return rejection(log, 0, "empty program: BPF_PROG_LOAD needs at least one instruction", 0);
  if (insns.length > COMPLEXITY_LIMIT || (!privileged && insns.length > 4096)) return rejection(log, 0, `program of ${insns.length} instructions is too large`, 0);
  // Raw instructions name no attach target, without which the kernel refuses these types (EINVAL); objects
  // name one in their section, and `tsbpf verify` reports those programs as not checked (uncheckedReason).
  const tracepoint = progType === ProgTypeId.tracing && options.expectedAttachType === TRACE_RAW_TP ? options.tracepoint : undefined;
  if (needsAttachTarget(progType) && !tracepoint) return rejection(log, 0, `a ${progTypeName(progType)} program needs a BTF attach target (attach_btf_id), which raw instructions do not name`, 0);

  if (((options.flags ?? 0) & BPF_F_SLEEPABLE) !== 0 && !canBeSleepable(progType, options.expectedAttachType ?? 0)) {
    return rejection(log, 0, "Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs can be sleepable", 0);
  }

  let cfg;
  try {
    cfg = checkStatic(insns, maps, privileged, ((options.flags ?? 0) & BPF_F_SLEEPABLE) !== 0, progType);
  } catch (e) {
    if (e instanceof CfgError) return rejection(log, e.pc, e.reason, 0);
    throw e;
  }

  const subprogs = options.functions ? (subprogsOf(options.functions, cfg.subprogStarts) ?? null) : null;
  const live = liveRegs(insns, progType);
  const stack: Path[] = [];
  const explored = new Map<number, Checkpoint[]>();
  let parent: Checkpoint | null = null;
  // Stack read liveness for the main frame, as the kernel's REG_LIVE_READ/WRITTEN marks: a read
  // marks every checkpoint up the path until one whose segment overwrote the slot.
  let written: Uint8Array = new Uint8Array(STACK_SLOTS);
  // Precision history of the current path since `parent`, and the note of the current instruction.
  let trace: number[] = [];
  // Entries the kernel's jump history would hold for `trace`.
  let history = 0;
  const jmpPoints = cfg.jmpPoints;
  let note = 0;
  const precision = new Precision(insns, subprogs ? (pc) => subprogs[cfg.subprogStarts.indexOf(pc + insns[pc]!.imm + 1)]?.global === true : undefined);
  const liveness = {
    markRead(spi: number): void {
      if (written[spi]) return;
      for (let c = parent; c && !c.read[spi]; c = c.parent) {
        c.read[spi] = 1;
        if (c.written[spi]) break;
      }
    },
    /** A path ended (exit or pruned): checkpoints whose every path is done become usable for pruning. */
    endPath(): void {
      let c = parent;
      while (c) {
        c.branches--;
        if (c.branches > 0) break;
        c = c.parent;
      }
    },
  };
  const env: Env = {
    insns,
    progType,
    attachType: options.expectedAttachType ?? 0,
    tracepoint,
    kernelBtf: options.kernelBtf ?? tracepoint?.btf,
    nrCpus: options.nrCpus ?? hostNrCpus(),
    gplCompatible: gplCompatible(options.license ?? "GPL"),
    privileged,
    strictAlignment: ((options.flags ?? 0) & 1) !== 0,
    maps,
    cur: { frames: [newFrame(0, 0, -1)], refs: [], mayGotoDepth: 0, callbackUnroll: 0 },
    pc: 0,
    idGen: 0,
    subprogStarts: cfg.subprogStarts,
    subprogs,
    functions: options.functions,
    calledGlobals: new Set(),
    stackDepth: cfg.subprogStarts.map(() => 0),
    insnPtrKind: new Array(insns.length),
    processed: 0,
    placeholderKfuncs: new Set(),
    log,
    previousIteration(at = env.pc) {
      // Above the checkpoint just stored at this instruction, if this step stored one.
      let c = parent && parent.pc === env.pc && parent.step === env.processed ? parent.parent : parent;
      while (c && (c.pc !== at || !sameCallsites(c.state, env.cur))) c = c.parent;
      return c?.state;
    },
    pushBranch(state: VState, pc: number) {
      if (parent) parent.branches++;
      // The queued path continues after the current instruction (or repeats it, for a forked value).
      const t = trace.slice();
      let h = history;
      if (pc !== env.pc) {
        t.push(env.pc, note);
        if (jmpPoints[env.pc] || note) h++;
      }
      stack.push({ state, pc, from: env.pc, parent, written: written.slice(), trace: t, history: h });
      // Linux's BPF_COMPLEXITY_LIMIT_JMP_SEQ: branches queued and not yet explored.
      if (stack.length > MAX_QUEUED_BRANCHES) fail(env, `The sequence of ${stack.length} jumps is too complex.`);
    },
    markPrecise(regno) {
      if (!privileged || env.cur.frames[env.cur.frames.length - 1]!.regs[regno]?.type !== "scalar") return;
      precision.begin(env.cur);
      precision.wantReg(regno);
      precision.run(trace, parent, env.pc);
    },
    markPreciseSlot(frameno, spi) {
      if (!privileged) return;
      precision.begin(env.cur);
      precision.wantSlot(frameno, spi);
      precision.run(trace, parent, env.pc);
    },
    noteStack(frameno, spi) {
      note = stackNote(frameno, spi);
    },
    noteLinked(locations) {
      if (locations.length < 2) return;
      precision.linked.push(locations);
      note = -precision.linked.length;
    },
    stackAccess(f, minOff, maxOff, pureWrite) {
      if (f !== env.cur.frames[0]) return;
      const lo = Math.max(minOff, -MAX_BPF_STACK);
      const hi = Math.min(maxOff, 0);
      if (lo >= hi) return;
      if (pureWrite) {
        written[(-lo - 1) >> 3] = 1;
        return;
      }
      for (let spi = (-hi) >> 3; spi <= (-lo - 1) >> 3; spi++) liveness.markRead(spi);
    },
  };
  curFrame(env.cur).regs[1] = pointer("ctx");
  const limit = options.limit ?? COMPLEXITY_LIMIT;
  const lines: string[] = [];
  // Where the current path resumed (log): its first instruction is preceded by its whole state.
  let resumedFrom: number | null = null;
  let states = 0;
  // Jumps processed (env->jmps_processed), and both counts when the last state was stored.
  let jumps = 0;
  let prevJumps = 0;
  let prevProcessed = 0;
  if (log) {
    for (const text of disassemble(insns, { indices: true })) {
      const m = /^(\d+): /.exec(text);
      if (m) lines[Number(m[1])] = text;
    }
    // The main program's prototype is read too: what the kernel cannot use of it is logged, not refused.
    if (subprogs?.[0]?.global) {
      const main = prepareFuncArgs(options.functions!.btf, options.functions!.funcInfo.find((f) => f.insn === 0)!.typeId, progType);
      if ("error" in main) log.push(main.error);
    }
    log.push(`0:${fullState(curFrame(env.cur))}`);
  }
  // Global functions are verified after the main program, each once, in passes in subprogram order (do_check_subprogs).
  const verified = new Set<number>();
  let current = 0;
  let passFrom = 1;
  let mostStates = 0;
  const nextGlobal = (): number | undefined => {
    const n = cfg.subprogStarts.length - 1;
    const due = (i: number): boolean => env.calledGlobals.has(i) && !verified.has(i);
    for (let i = passFrom; i < n; i++) if (due(i)) return (passFrom = i + 1) - 1;
    for (let i = 1; i < n; i++) if (due(i)) return (passFrom = i + 1) - 1;
    return undefined;
  };

  try {
    for (;;) {
      const pc = env.pc;
      if (++env.processed > limit) fail(env, `BPF program is too large. Processed ${env.processed} insn: the analysis gave up after ${limit} instructions`);
      let pruned = false;
      if (cfg.prunePoints[pc]) {
        const list = explored.get(pc) ?? [];
        // The kernel's is_state_visited heuristics: a state is stored only after 2 jumps and 8 instructions,
        // inside a loop (a state at this instruction still being explored) only after 20 jumps or 100
        // instructions, and always when the path's history grows long; a state that keeps missing is dropped,
        // whether or not its paths are done, so states from late iterations of a loop get stored too. States are
        // tried newest first, as the kernel adds each to the head of its list: the first that covers the path
        // decides the precision handed back, and a state still being explored stops the miss counts of the older
        // ones. (Oldest first, a loop that moves a variable a later loop indexes with took 861,384 instructions
        // where the kernel takes 8,672.) may_goto always stores a state (mark_force_checkpoint): its loop check
        // needs one per iteration.
        const mayGoto = insns[pc]!.code === Op.MAY_GOTO;
        // A helper call that calls back: each iteration comes back to it (is_force_checkpoint, calls_callback).
        const callsBack = cfg.callbackCalls[pc] === 1;
        const forceNew = history > MAX_HISTORY || mayGoto || callsBack;
        let addNew = forceNew || (jumps - prevJumps >= 2 && env.processed - prevProcessed >= 8);
        for (let k = list.length - 1; k >= 0; k--) {
          const cp = list[k]!;
          let hit: boolean;
          if (cp.branches === 0) {
            // Inside callback iterations the precision and read marks an explored state collected may be incomplete
            // (a later iteration pruned against an earlier one still being explored): every scalar and stack slot is
            // compared, as the kernel does for states of a loop not yet done (RANGE_WITHIN).
            const loop = callsBack || inCallback(cp.state);
            hit = statesCover(cp.state, env.cur, privileged, false, live[pc]!, loop ? null : cp.read, loop, live);
            // The rest of this path reads what the explored one read.
            if (hit) for (let spi = 0; spi < STACK_SLOTS; spi++) if (cp.read[spi]) liveness.markRead(spi);
          } else if (callsBack) {
            // A callback iteration that came back within the ranges of an earlier one is done: the earlier one goes on.
            hit = statesCover(cp.state, env.cur, privileged, false, live[pc]!, null, true, live);
          } else {
            // A may_goto loop that came round to a state within the ranges of an earlier iteration's is done: the
            // earlier one goes on from there (and its may_goto ends the loop).
            hit = mayGoto && cp.state.mayGotoDepth !== env.cur.mayGotoDepth && statesCover(cp.state, env.cur, privileged, false, live[pc]!, null, true, live);
            // each callback iteration is a visit more, not a loop that makes no progress
            const sameDepths = cp.state.mayGotoDepth === env.cur.mayGotoDepth && cp.state.callbackUnroll === env.cur.callbackUnroll;
            if (!hit && sameDepths && statesCover(cp.state, env.cur, privileged, true)) {
              fail(env, `infinite loop detected at insn ${pc}: the same state repeats without progress`);
            }
          }
          if (cp.branches > 0 && !forceNew && jumps - prevJumps < 20 && env.processed - prevProcessed < 100) addNew = false;
          if (hit) {
            // The rest of this path relies on the values the explored one needed precisely.
            if (privileged) {
              precision.begin(env.cur);
              precision.wantPreciseOf(cp.state, env.cur);
              precision.run(trace, parent, pc);
            }
            cp.hits++;
            pruned = true;
            break;
          }
          // A state that keeps failing to prune only costs comparisons (the kernel drops it too).
          if (addNew) cp.misses++;
          // A callback call's states still being explored are kept longer: the iterations converge on them.
          const n = callsBack && cp.branches > 0 ? 64 : 3;
          if (cp.misses > cp.hits * n + n) list.splice(k, 1);
        }
        if (!pruned && addNew) {
          const cp: Checkpoint = { state: copyState(env.cur), pc, step: env.processed, branches: 1, parent, trace, hits: 0, misses: 0, read: new Uint8Array(STACK_SLOTS), written };
          // Unprivileged loaders keep at most BPF_COMPLEXITY_LIMIT_STATES per instruction.
          if (privileged || list.length < MAX_CHECKPOINTS) {
            list.push(cp);
            explored.set(pc, list);
          }
          states++;
          parent = cp;
          written = new Uint8Array(STACK_SLOTS);
          trace = [];
          history = 0;
          prevJumps = jumps;
          prevProcessed = env.processed;
        }
      }
      let next: number | "exit";
      if (pruned) {
        if (log) log.push(...(resumedFrom !== null ? ["", `from ${resumedFrom} to ${pc}: safe`] : [`${pc}: safe`]));
        next = "exit";
      } else {
        let before: FrameSnapshot | null = null;
        let at = -1;
        if (log) {
          if (resumedFrom !== null) log.push("", `from ${resumedFrom} to ${pc}:${fullState(curFrame(env.cur))}`);
          log.push(lines[pc] ?? `${pc}:`);
          at = log.length - 1;
          before = snapshot(curFrame(env.cur));
        }
        note = 0;
        const cls = opClass(insns[pc]!.code);
        if (cls === Class.JMP || cls === Class.JMP32) jumps++;
        next = step(env, insns[pc]!);
        trace.push(pc, note);
        if (jmpPoints[pc] || note) history++;
        if (log && before && next !== "exit") {
          const state = touchedState(insns[pc]!, before, curFrame(env.cur));
          // A global function's call: its line, what the kernel says of the call, then the state after it.
          if (log.length - 1 !== at) log.push(`${next}:${/ R0=/.test(state) ? "" : ` R0=${regString(curFrame(env.cur).regs[0]!)}`}${state}`);
          else log[at] = withState(log[at]!, state);
        }
      }
      resumedFrom = null;
      if (next === "exit") {
        liveness.endPath();
        let path = stack.pop();
        if (!path) {
          if (current) log?.push(`Func#${current} ('${subprogs![current]!.name}') is safe for any args that match its prototype`);
          const sub = nextGlobal();
          if (sub === undefined) break;
          verified.add(sub);
          current = sub;
          for (const list of explored.values()) mostStates = Math.max(mostStates, list.length);
          explored.clear();
          path = { state: globalEntry(env, sub), pc: cfg.subprogStarts[sub]!, from: -1, parent: null, written: new Uint8Array(STACK_SLOTS), trace: [], history: 0 };
          log?.push(`Validating ${subprogs![sub]!.name}() func#${sub}...`, `${path.pc}:${fullState(curFrame(path.state))}`);
        }
        env.cur = path.state;
        env.pc = path.pc;
        parent = path.parent;
        written = path.written;
        trace = path.trace;
        history = path.history;
        resumedFrom = path.from < 0 ? null : path.from;
        continue;
      }
      env.pc = next;
    }
  } catch (e) {
    if (e instanceof VerifierError) return rejection(log, e.pc, e.reason, env.processed, e.register, e.regState);
    throw e;
  }

  if (env.placeholderKfuncs.size > 0) {
    const pc = Math.min(...env.placeholderKfuncs);
    return rejection(log, pc, "invalid kernel function call not eliminated in verifier pass: a call to kernel function #0 is reachable", env.processed);
  }
  const depthError = checkStackDepth(insns, env);
  if (depthError) return rejection(log, depthError.pc, depthError.message, env.processed);
  if (log) {
    let most = mostStates;
    for (const list of explored.values()) most = Math.max(most, list.length);
    log.push(`processed ${env.processed} insns (limit ${limit}) max_states_per_insn ${most} total_states ${states}`);
  }
  // Loads through typed kernel pointers, which the kernel turns into BPF_PROBE_MEM (a fault reads zero).
  const probeMem = insns.flatMap((insn, pc) => ((insn.code & 7) === 1 && env.insnPtrKind[pc] === "btf_id" ? [pc] : []));
  return { accepted: true, processed: env.processed, ...(probeMem.length ? { probeMem } : {}), ...(log ? { log } : {}) };
}

/** Whether a state is inside a callback (a frame that bpf_loop or bpf_for_each_map_elem called). */
function inCallback(s: VState): boolean {
  for (const f of s.frames) if (f.callback) return true;
  return false;
}

/** The same frames, called from the same instructions (same_callsites). */
function sameCallsites(a: VState, b: VState): boolean {
  if (a.frames.length !== b.frames.length) return false;
  for (let i = 0; i < a.frames.length; i++) if (a.frames[i]!.callsite !== b.frames[i]!.callsite) return false;
  return true;
}

/** The state a global function is verified from: its arguments as its prototype types them (do_check_common). */
function globalEntry(env: Env, sub: number): VState {
  const frame = newFrame(0, sub, -1);
  const args = globalArgs(env, sub, env.subprogs![sub]!);
  if (!("error" in args)) {
    args.forEach((arg, i) => {
      if (arg.kind === "ctx") frame.regs[i + 1] = pointer("ctx");
      else if (arg.kind === "mem") frame.regs[i + 1] = pointer("mem", { memSize: arg.size, maybeNull: arg.nullable, id: arg.nullable ? newId(env) : 0 });
      else {
        const r = knownScalar(0n);
        setUnknown(r);
        frame.regs[i + 1] = r;
      }
    });
  }
  return { frames: [frame], refs: [], mayGotoDepth: 0, callbackUnroll: 0 };
}

/** One instruction on the current path; returns the next pc or "exit" when the path ends. */
function step(env: Env, insn: Insn): number | "exit" {
  const pc = env.pc;
  const cls = opClass(insn.code);
  switch (cls) {
    case Class.ALU:
    case Class.ALU64:
      checkAlu(env, insn);
      return pc + 1;
    case Class.LDX:
      checkLdx(env, insn);
      return pc + 1;
    case Class.STX:
      if (opMode(insn.code) === Mode.ATOMIC) checkAtomic(env, insn);
      else checkStx(env, insn);
      return pc + 1;
    case Class.ST:
      checkSt(env, insn);
      return pc + 1;
    case Class.LD: {
      const mode = opMode(insn.code);
      if (mode === Mode.IMM) {
        checkLdImm(env, insn);
        return pc + 2;
      }
      if (mode === Mode.ABS || mode === Mode.IND) {
        checkLdAbs(env, insn);
        return pc + 1;
      }
      return fail(env, "invalid BPF_LD mode");
    }
    case Class.JMP:
    case Class.JMP32: {
      const op = jmpOp(insn.code);
      if (op === JmpOp.CALL) {
        if ((insn.code & 0x08) !== 0 || (insn.src !== PseudoCall.KFUNC && insn.off !== 0) || (insn.src !== 0 && insn.src !== PseudoCall.LOCAL && insn.src !== PseudoCall.KFUNC) || insn.dst !== 0 || cls === Class.JMP32) {
          fail(env, "BPF_CALL uses reserved fields");
        }
        if (insn.src === PseudoCall.LOCAL) return checkLocalCall(env, insn);
        if (insn.src === PseudoCall.KFUNC) {
          if (insn.imm !== 0 || insn.off !== 0) fail(env, `kernel function calls are ${NOT_MODELLED}`);
          env.placeholderKfuncs.add(pc);
          return pc + 1;
        }
        checkHelperCall(env, insn);
        return pc + 1;
      }
      if (op === JmpOp.JA) {
        if ((insn.code & 0x08) !== 0 || insn.src !== 0 || insn.dst !== 0 || (cls === Class.JMP && insn.imm !== 0) || (cls === Class.JMP32 && insn.off !== 0)) {
          fail(env, "BPF_JA uses reserved fields");
        }
        return pc + 1 + (cls === Class.JMP ? insn.off : insn.imm);
      }
      if (op === JmpOp.EXIT) {
        if ((insn.code & 0x08) !== 0 || insn.imm !== 0 || insn.src !== 0 || insn.dst !== 0 || cls === Class.JMP32) fail(env, "BPF_EXIT uses reserved fields");
        if (env.cur.frames.length > 1) return checkSubprogExit(env);
        if (env.cur.frames[0]!.subprog !== 0) checkGlobalExit(env);
        else checkProgramExit(env);
        return "exit";
      }
      return checkCondJmp(env, insn);
    }
  }
  return fail(env, `unknown insn class ${cls}`);
}

const roundUp16 = (n: number): number => Math.ceil(n / 16) * 16;
const isTailCall = (insn: Insn): boolean => insn.code === Op.CALL && insn.src === 0 && insn.imm === 12; /* bpf_tail_call */

/** A frame that gets a private stack of its own is at least this large (BPF_PRIV_STACK_MIN_SIZE). */
const PRIV_STACK_MIN_SIZE = 64;
/** BPF_TRACE_ITER: iterator programs run without the recursion check a private stack relies on. */
const TRACE_ITER = 28;

/**
 * Whether the JIT gives each large enough frame a private stack (bpf_enable_priv_stack, PRIV_STACK_ADAPTIVE; the
 * x86-64 and arm64 JITs support it): program types with a recursion check, and no tail call anywhere in the program.
 */
function privateStacks(insns: readonly Insn[], env: Env): boolean {
  if (insns.some(isTailCall)) return false;
  switch (env.progType) {
    case ProgTypeId.kprobe:
    case ProgTypeId.tracepoint:
    case ProgTypeId.perf_event:
    case ProgTypeId.raw_tracepoint:
      return true;
    case ProgTypeId.tracing:
      return env.attachType !== TRACE_ITER;
    default:
      return false;
  }
}

/**
 * Stack use summed along static call chains, and call depth (check_max_stack_depth). A frame on a private stack is
 * checked alone against 512 bytes (which its accesses already are) and left out of the sum.
 */
function checkStackDepth(insns: readonly Insn[], env: Env): { pc: number; message: string } | null {
  return stackDepthFrom(insns, env, 0, 0, 0, privateStacks(insns, env));
}

function stackDepthFrom(insns: readonly Insn[], env: Env, idx: number, frame: number, depth: number, priv: boolean): { pc: number; message: string } | null {
  const starts = env.subprogStarts;
  const own = roundUp16(env.stackDepth[idx] ?? 0);
  const d = priv && own >= PRIV_STACK_MIN_SIZE ? depth : depth + own;
  // A tail call unwinds only its own frame, not its callers': theirs stay below 256 bytes, so 32 chained programs fit in 8k.
  if (idx !== 0 && depth >= 256) {
    const tailCall = insns.findIndex((insn, i) => i >= starts[idx]! && i < starts[idx + 1]! && isTailCall(insn));
    if (tailCall >= 0) return { pc: tailCall, message: `tail_calls are not allowed when call stack of previous frames is ${depth} bytes. Too large` };
  }
  if (d > 512) return { pc: starts[idx]!, message: `combined stack size of ${frame + 1} calls is ${d}. Too large` };
  for (let i = starts[idx]!; i < starts[idx + 1]!; i++) {
    const insn = insns[i]!;
    const local = (insn.code === Op.CALL && insn.src === PseudoCall.LOCAL) || (insn.code === Op.LDDW && insn.src === 4);
    if (!local) continue;
    const callee = starts.indexOf(i + insn.imm + 1);
    if (frame + 1 >= 8) return { pc: i, message: `the call stack of ${frame + 1} frames is too deep !` };
    const err = stackDepthFrom(insns, env, callee, frame + 1, d, priv);
    if (err) return err;
  }
  return null;
}

/**
 * Whether a rejection is the model giving up, not a fault it found: on the number of paths (the complexity limit;
 * where the model prunes less than Linux, a precision or liveness rule it lacks, it counts more paths), or at
 * something it does not model (notModelled). Callers leave such programs to the kernel instead of refusing them.
 */
export function gaveUp(error: VerifyError | undefined): boolean {
  return passedLimit(error) || notModelled(error) !== undefined;
}

/** Whether the model stopped at its instruction limit (the kernel's "BPF program is too large"). */
export function passedLimit(error: VerifyError | undefined): boolean {
  return error !== undefined && /^BPF program is too large/.test(error.message);
}

/** For a rejection at something the model does not model (a helper, a kfunc), what that is; else undefined. */
export function notModelled(error: VerifyError | undefined): string | undefined {
  return error?.message.endsWith(NOT_MODELLED) ? error.message : undefined;
}

/** A one-line description of a rejection: the instruction, disassembled, and the reason. */
export function describeError(insns: readonly Insn[], error: VerifyError): string {
  const text = insns[error.pc] ? disassemble(insns.slice(error.pc, error.pc + (insns[error.pc]!.code === Op.LDDW ? 2 : 1)), {})[0] : undefined;
  const state = error.register !== undefined && error.state ? ` (R${error.register}=${error.state})` : "";
  return `instruction ${error.pc}${text ? ` \`${text}\`` : ""}: ${error.message}${state}`;
}

export { regString };
