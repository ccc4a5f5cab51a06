// IR to LLVM IR: the typed IR of every probe as one textual LLVM module for the BPF target.
// Takes the lowered functions, `.rodata`, the license, the kernel structs read and the probe file;
// gives the module text and whether it needs BPF v4 (signed division).
//
// Values. Every virtual register is an i64 holding its value extended as its type says (the IR's
// invariant), so widening is free and comparisons are 64-bit, exactly as in our own backend.
// 32-bit arithmetic is done on i32 and extended back; narrowing is trunc + sext/zext. A helper
// argument the IR marks `low32` (printk's %d and %u) is passed as the i32 before its extension.
// The IR is not in SSA form (variables and joins are assigned in several blocks): SSA is built here
// by reading each register's value per block, with a phi at blocks of several predecessors, then
// removing trivial phis until none is left (Braun et al.), so no allocas are left for `llc`.
//
// Stack objects are allocas in the entry block, each with `llvm.lifetime.start`/`end` around its uses
// (lifetimeMarkers), so LLVM's stack colouring lets objects that are never live together share bytes,
// as our own backend's frame.ts does: a handler with a map key per call fits in 512 bytes through
// both. The markers are conservative: an address kept in a register or another object stretches the
// lifetime, one stored elsewhere gets none, and a loop around a use is covered whole.
//
// Semantics kept from BPF where LLVM would otherwise call it undefined: shift counts are masked to
// the width (as folding does), division and remainder by a non-constant divisor are inline `/=`
// and `%=` (BPF defines x/0 = 0 and x%0 = x, and signed overflow); constant divisors are plain
// udiv/sdiv for LLVM to optimise.
//
// Layout as our own backend: a function per program in its SEC() section returning i64 (r0 is
// 64-bit), `.rodata` strings named `__tsbpf_fmt_N`, `_license` in `license`. Helpers are called as
// clang calls them, through a constant function pointer (`inttoptr (i64 ID to ptr)`). Kernel struct
// reads go through `llvm.preserve.{struct,union}.access.index` with the struct's debug type, one call
// per member of a chain through embedded structs and `llvm.preserve.array.access.index` for an
// element, which LLVM's BPF passes turn into CO-RE field offset relocations, as clang does for
// BPF_CORE_READ.

import { U32, reachableBlocks, widens, type RodataVar, type BssVar, type Base, type MapDef, type StackAddr, type BinOp, type Block, type CallArg, type Inst, type IntType, type IrFunction, type Loc, type Operand, type Terminator, type VReg } from "../ir/index.js";
import { rodataVars } from "../object/btf.js";
import { Helper } from "../isa/helpers.js";
import { CoreReloKind } from "../btf/core.js";
import { accessSteps, membersRead, type KernelStruct } from "../frontend/kernel-types.js";
import { DebugInfo, mdString, type DebugStruct } from "./debug.js";

export interface EmitInput {
  functions: readonly IrFunction[];
  rodata: Uint8Array;
  /** What `.rodata` holds (IrModule.rodataVars); absent: its strings. */
  rodataVars?: readonly RodataVar[];
  license: string;
  /** Kernel structs by name (those CO-RE reads refer to). */
  structs: ReadonlyMap<string, KernelStruct>;
  fileName: string;
  sourceText: string;
  /** BTF-defined maps (`.maps`), from the IR module. */
  maps?: readonly MapDef[];
  /** tsbpf's counters in `.bss` (IrModule.bss). */
  bss?: readonly BssVar[];
}

export interface EmitOutput {
  text: string;
  /** Signed division or remainder: BPF v4's sdiv/smod. */
  needsV4: boolean;
}

/** An SSA value: a constant, a named LLVM value, or a phi (which may turn out trivial). */
type Value = { k: "const"; v: bigint } | { k: "name"; name: string } | Phi;
interface Phi {
  k: "phi";
  name: string;
  reg: number;
  block: number;
  ops: Value[];
  replaced?: Value;
}

/** An instruction line whose operands are printed once phis are settled. */
type Line = (show: (v: Value) => string) => string;

const PRED: Record<string, [string, string]> = { eq: ["eq", "eq"], ne: ["ne", "ne"], lt: ["ult", "slt"], le: ["ule", "sle"], gt: ["ugt", "sgt"], ge: ["uge", "sge"] };
const LLVM_BIN: Record<Exclude<BinOp, "div" | "mod" | "shr">, string> = { add: "add", sub: "sub", mul: "mul", and: "and", or: "or", xor: "xor", shl: "shl" };

const resolve = (v: Value): Value => {
  while (v.k === "phi" && v.replaced) v = v.replaced;
  return v;
};
const sameValue = (a: Value, b: Value): boolean => (a.k === "const" && b.k === "const" ? a.v === b.v : a === b || (a.k === "name" && b.k === "name" && a.name === b.name));

/** An LLVM integer constant of `bits` (printed signed). */
const constText = (v: bigint, bits: number): string => String(BigInt.asIntN(bits, v));

/** LLVM's string constant syntax: c"...\00". */
function cString(bytes: Uint8Array): string {
  let out = 'c"';
  for (const b of bytes) out += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${b.toString(16).toUpperCase().padStart(2, "0")}`;
  return out + '"';
}

/** The name an LLVM identifier needs quoting for. */
const ident = (name: string): string => (/^[A-Za-z_.$][A-Za-z0-9_.$]*$/.test(name) ? name : `"${name.replace(/[\\"]/g, (c) => `\\${c.charCodeAt(0).toString(16).toUpperCase()}`)}"`);

export function emitModule(input: EmitInput): EmitOutput {
  const debug = new DebugInfo(input.fileName, input.sourceText);
  const head: string[] = [
    `; ModuleID = ${mdString(input.fileName)} (tsbpf)`,
    `source_filename = ${mdString(input.fileName)}`,
    'target datalayout = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128"',
    'target triple = "bpfel"',
    "",
  ];
  const globals: string[] = [];
  const bodies: string[] = [];

  // .rodata: one constant per printk format, at the offsets the IR refers to, and targetPid()'s value, which the
  // loader finds by its global name.
  const vars = input.rodataVars ?? rodataVars(input.rodata);
  vars.forEach((v) => {
    if (v.kind === "int") {
      const type = v.type ?? U32;
      const size = type.bits / 8;
      const element = (at: number): string => {
        const bytes = input.rodata.subarray(at, at + size);
        let value = 0n;
        for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
        return String(type.signed ? BigInt.asIntN(type.bits, value) : value);
      };
      // An array parameter: nested LLVM arrays, `[2 x [3 x i16]] [[3 x i16] [i16 1, ...], ...]`, in C's order.
      const constant = (dimensions: readonly number[], at: number): { type: string; value: string } => {
        if (!dimensions.length) return { type: `i${type.bits}`, value: element(at) };
        const [length, ...inner] = dimensions as [number, ...number[]];
        const stride = inner.reduce((a, b) => a * b, size);
        const items = Array.from({ length }, (_, i) => constant(inner, at + i * stride));
        const itemType = items[0]!.type;
        return { type: `[${length} x ${itemType}]`, value: `[${items.map((x) => `${itemType} ${x.value}`).join(", ")}]` };
      };
      const { type: llvmType, value } = constant(v.dimensions ?? [], v.offset);
      globals.push(`@${v.name} = dso_local constant ${llvmType} ${value}, section ".rodata", align ${size}, !dbg !${debug.rodataInt(v.name, type, 1, v.dimensions, v.chars)}`);
      return;
    }
    const expr = debug.rodataString(v.name, v.size, 1);
    globals.push(`@${v.name} = internal constant [${v.size} x i8] ${cString(input.rodata.subarray(v.offset, v.offset + v.size))}, section ".rodata", align 1, !dbg !${expr}`);
  });
  const rodataAt = (offset: number): string => {
    const v = vars.find((x) => offset >= x.offset && offset < x.offset + x.size)!;
    return offset === v.offset ? `ptr @${v.name}` : `ptr getelementptr inbounds (i8, ptr @${v.name}, i64 ${offset - v.offset})`;
  };
  // .bss: tsbpf's counters, global (as a C file's `unsigned long long n;`) so that opt keeps what only they write.
  for (const v of input.bss ?? []) globals.push(`@${v.name} = dso_local global i64 0, section ".bss", align 8, !dbg !${debug.u64Global(v.name, 1)}`);
  const bssAt = (offset: number): string => `ptr @${input.bss!.find((v) => v.offset === offset)!.name}`;

  // Kernel structs read through CO-RE: one debug type with the members read, across all programs.
  const structs = debugStructs(input.functions, input.structs, debug);
  for (const s of structs.values()) head.push(`${s.llvmName} = type ${s.llvmBody}`);
  if (structs.size) head.push("");

  let needsV4 = false;
  for (const fn of input.functions) {
    const out = emitFunction(fn, debug, structs, rodataAt, bssAt, input.structs);
    needsV4 ||= out.needsV4;
    bodies.push(out.text);
  }

  const license = new TextEncoder().encode(input.license + "\0");
  globals.push(`@_license = dso_local global [${license.length} x i8] ${cString(license)}, section "license", align 1`);
  const used = ["ptr @_license"];
  // Maps: `struct { __uint(type, T); ... } NAME SEC(".maps")`, a zeroed struct of pointers whose debug type carries the definition.
  for (const m of input.maps ?? []) {
    const { expr, members } = debug.mapVariable(m, 1);
    globals.push(`@${ident(m.name)} = dso_local global { ${Array(members).fill("ptr").join(", ")} } zeroinitializer, section ".maps", align 8, !dbg !${expr}`);
    used.push(`ptr @${ident(m.name)}`);
  }
  for (const holder of debug.eventTypesHolders(EVENT_TYPES_HOLDER)) {
    const params = Array.from({ length: holder.params }, (_, i) => `ptr %e${i}`).join(", ");
    bodies.push(`define dso_local i64 @${holder.name}(${params}) #0 section ".text" !dbg !${holder.sp} {\n  ret i64 0\n}\n`);
    used.push(`ptr @${holder.name}`);
  }
  globals.push(`@llvm.compiler.used = appending global [${used.length} x ptr] [${used.join(", ")}], section "llvm.metadata"`);

  const decls = [
    "declare ptr @llvm.preserve.struct.access.index.p0.p0(ptr, i32 immarg, i32 immarg)",
    "declare ptr @llvm.preserve.union.access.index.p0.p0(ptr, i32 immarg)",
    "declare ptr @llvm.preserve.array.access.index.p0.p0(ptr, i32 immarg, i32 immarg)",
    "declare i32 @llvm.bpf.preserve.field.info.p0(ptr, i64 immarg)",
    "declare void @llvm.dbg.value(metadata, metadata, metadata)",
    "declare i16 @llvm.bswap.i16(i16)",
    "declare i32 @llvm.bswap.i32(i32)",
    "declare i64 @llvm.bswap.i64(i64)",
    "declare void @llvm.lifetime.start.p0(i64 immarg, ptr nocapture)",
    "declare void @llvm.lifetime.end.p0(i64 immarg, ptr nocapture)",
    "",
    'attributes #0 = { nounwind "no-trapping-math"="true" }',
    "",
  ];
  const text = [...head, ...globals, "", ...bodies, ...decls, debug.text()].join("\n");
  return { text, needsV4 };
}

/**
 * The debug types of the kernel structs the functions read (or walk through to a nested struct's
 * member), each holding only the members used; a nested struct is made before the structs embedding it.
 */
function debugStructs(functions: readonly IrFunction[], kernelStructs: ReadonlyMap<string, KernelStruct>, debug: DebugInfo): Map<string, DebugStruct> {
  const accesses = functions.flatMap((fn) => fn.blocks.flatMap((b) => b.insts.flatMap((i) => ((i.op === "kread" || i.op === "kcopy") && i.core ? [i.core] : []))));
  const read = membersRead(accesses, kernelStructs);
  const out = new Map<string, DebugStruct>();
  const make = (name: string): void => {
    if (out.has(name)) return;
    const s = kernelStructs.get(name)!;
    const members = read.get(name)!;
    for (const m of members) {
      const member = s.members.get(m)!;
      if (member.kind === "struct") make(member.struct);
    }
    out.set(name, debug.struct(s, members, out));
  };
  for (const name of read.keys()) make(name);
  return out;
}

/** The .text functions whose parameters keep the event types in BTF (DebugInfo.eventTypesHolders), five to each. */
const EVENT_TYPES_HOLDER = "__tsbpf_event_types";

function emitFunction(
  fn: IrFunction,
  debug: DebugInfo,
  structs: ReadonlyMap<string, DebugStruct>,
  rodataAt: (offset: number) => string,
  bssAt: (offset: number) => string,
  kernelStructs: ReadonlyMap<string, KernelStruct>,
): { text: string; needsV4: boolean } {
  const blocks = reachableBlocks(fn);
  const byId = new Map(blocks.map((b) => [b.id, b]));
  const preds = new Map<number, number[]>(blocks.map((b) => [b.id, []]));
  for (const b of blocks) for (const s of successors(b.term)) preds.get(s)?.push(b.id);
  const entry = blocks[0]!.id;
  if (preds.get(entry)!.length) throw new Error(`${fn.name}: the LLVM backend needs an entry block without predecessors`);
  const { sp, ctx: ctxVar } = debug.subprogram(fn.name, fn.loc?.line ?? 1, fn.tags);
  let needsV4 = false;
  /**
   * Registers holding a `.rodata` address, or one computed from it (an array parameter's element, `ports[i]` or a
   * for...of over it): loads through them are volatile, or LLVM folds those at offsets it knows to the initial values.
   */
  const rodataRegs = new Set<number>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const b of blocks) {
      for (const i of b.insts) {
        const derived = i.op === "rodata" || ((i.op === "mov" || i.op === "bin") && operands(i).some((o) => o.kind === "reg" && rodataRegs.has(o.id)));
        if (!derived || rodataRegs.has(i.dst.id)) continue;
        rodataRegs.add(i.dst.id);
        changed = true;
      }
    }
  }

  // Blocks in reverse postorder: every predecessor but a loop's back edge comes first.
  const order: Block[] = [];
  const seen = new Set<number>();
  const visit = (id: number): void => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const s of successors(byId.get(id)!.term)) visit(s);
    order.push(byId.get(id)!);
  };
  visit(entry);
  order.reverse();

  let temp = 0;
  const fresh = (): string => `%t${temp++}`;
  const lines = new Map<number, Line[]>(blocks.map((b) => [b.id, []]));
  const exitDefs = new Map<number, Map<number, Value>>();
  const entryVals = new Map<number, Map<number, Value>>();
  const phis: Phi[] = [];
  const done = new Set<number>();
  const pending: Phi[] = [];

  const exitValue = (reg: number, block: number): Value => exitDefs.get(block)?.get(reg) ?? entryValue(reg, block);
  const entryValue = (reg: number, block: number): Value => {
    if (reg === fn.ctx.id && block === entry) return { k: "name", name: "%ctx.int" };
    if (block === entry) return { k: "const", v: 0n };
    let memo = entryVals.get(block);
    if (!memo) entryVals.set(block, (memo = new Map()));
    const hit = memo.get(reg);
    if (hit) return hit;
    const ps = preds.get(block)!;
    if (ps.length === 1 && done.has(ps[0]!)) {
      const v = exitValue(reg, ps[0]!);
      memo.set(reg, v);
      return v;
    }
    const phi: Phi = { k: "phi", name: `%r${reg}.b${block}`, reg, block, ops: [] };
    memo.set(reg, phi);
    phis.push(phi);
    if (ps.every((p) => done.has(p))) phi.ops = ps.map((p) => exitValue(reg, p));
    else pending.push(phi);
    return phi;
  };

  /** Named i64 values that extend an i32, by name: that i32. */
  const low32Of = new Map<string, Value>();
  /** i32 values passed to helpers as they are (see lowHalf). */
  const narrowArgs = new Set<Value>();
  const allocas: string[] = [];
  fn.stack.forEach((s, i) => allocas.push(`  %stack${i} = alloca [${s.size} x i8], align ${Math.max(8, s.align)}`));
  const markers = lifetimeMarkers(blocks, preds);

  for (const block of order) {
    const defs = new Map<number, Value>();
    exitDefs.set(block.id, defs);
    const out = lines.get(block.id)!;
    let loc: Loc | undefined = block.id === entry ? fn.loc : undefined;
    const dbg = (): string => `, !dbg !${debug.location(loc ?? fn.loc ?? { line: 1, column: 1 }, sp)}`;
    const get = (o: Operand): Value => (o.kind === "imm" ? { k: "const", v: o.value } : defs.get(o.id) ?? entryValue(o.id, block.id));
    /** Emits one instruction computing a named value. */
    const inst = (text: (show: (v: Value) => string) => string): Value => {
      const name = fresh();
      const d = dbg();
      out.push((show) => `  ${name} = ${text(show)}${d}`);
      return { k: "name", name };
    };
    /** An i64 holding `v` (extended as `from`) converted to `to`. */
    const convert = (v: Value, from: IntType | undefined, to: IntType): Value => {
      if (v.k === "const") return { k: "const", v: to.signed ? BigInt.asIntN(to.bits, v.v) : BigInt.asUintN(to.bits, v.v) };
      if (to.bits === 64 || (from && widens(from, to))) return v;
      const t = inst((s) => `trunc i64 ${s(v)} to i${to.bits}`);
      return extended(t, to.bits, to.signed);
    };
    /** An operand narrowed to i32 (for 32-bit arithmetic). */
    const low32 = (v: Value): Value => (v.k === "const" ? { k: "const", v: BigInt.asIntN(32, v.v) } : inst((s) => `trunc i64 ${s(v)} to i32`));
    const widen32 = (v: Value, signed: boolean): Value => extended(v, 32, signed);
    /** `v` of `bits` extended to i64; a 32-bit one is remembered for readers of the low half. */
    const extended = (v: Value, bits: number, signed: boolean): Value => {
      const r = inst((s) => `${signed ? "sext" : "zext"} i${bits} ${s(v)} to i64`);
      if (bits === 32 && r.k === "name") low32Of.set(r.name, v);
      return r;
    };
    /**
     * A helper argument read only in its low 32 bits (the IR's `low32`: printk's %d and %u): an
     * extended i32 is passed as the i32 itself, which LLVM's BPF calling convention any-extends
     * (at most a 32-bit move), where extending a 64-bit register's low half costs two shifts.
     */
    const lowHalf = (v: Value | undefined): Value | undefined => {
      const narrow = v?.k === "name" ? low32Of.get(v.name) : undefined;
      if (!narrow) return v;
      narrowArgs.add(narrow);
      return narrow;
    };
    const show32 = (show: (v: Value) => string, v: Value): string => (v.k === "const" ? constText(v.v, 32) : show(v));
    const def = (r: VReg, v: Value): void => void defs.set(r.id, v);
    /** The pointer behind an integer that holds a stack address (an `addr`, or one plus an offset), in this block. */
    const stackPointers = new Map<Value, Value>();
    const stackRef = (a: StackAddr): Value => {
      if (!a.offset) return { k: "name", name: `%stack${a.object}` };
      return inst(() => `getelementptr inbounds i8, ptr %stack${a.object}, i64 ${a.offset}`);
    };
    /** A pointer operand for memory at `base + offset`. */
    const address = (base: Base, offset: number): Value => {
      let p: Value;
      if (base.kind === "stack") p = stackRef({ kind: "stack", object: base.object, offset: (base.offset ?? 0) + offset });
      else {
        const b = get(base);
        const asPtr = stackPointers.get(b) ?? inst((s) => `inttoptr i64 ${b.k === "const" ? constText(b.v, 64) : s(b)} to ptr`);
        p = offset ? inst((s) => `getelementptr i8, ptr ${s(asPtr)}, i64 ${offset}`) : asPtr;
      }
      return p;
    };
    const argValue = (a: CallArg): Value | undefined => (a.kind === "stack" && a.offset ? stackRef(a) : a.kind === "reg" || a.kind === "imm" ? get(a) : undefined);
    const argText = (a: CallArg, v: Value | undefined, show: (v: Value) => string): string => {
      if (a.kind === "rodata") return rodataAt(a.offset);
      if (a.kind === "map") return `ptr @${ident(a.name)}`;
      if (a.kind === "stack") return v ? `ptr ${show(v)}` : `ptr %stack${a.object}`;
      if (narrowArgs.has(v!)) return `i32 ${show(v!)}`;
      return `i64 ${v!.k === "const" ? constText((v as { v: bigint }).v, 64) : show(v!)}`;
    };
    /**
     * The kernel address a kread or kcopy reads: through `llvm.preserve.*.access.index` calls along its
     * CO-RE access (one per member, then the element), which LLVM turns into one relocated offset.
     */
    const kernelAddress = (i: Extract<Inst, { op: "kread" | "kcopy" }>): Value => {
      const base = get(i.ptr);
      let p = inst((s) => `inttoptr i64 ${base.k === "const" ? constText(base.v, 64) : s(base)} to ptr`);
      if (!i.core) return i.offset ? inst((s) => `getelementptr i8, ptr ${s(p)}, i64 ${i.offset}`) : p;
      let array: { di: number; llvm: string } | undefined;
      for (const { struct, member } of accessSteps(i.core, kernelStructs)) {
        const ds = structs.get(struct.name)!;
        const m = ds.members.get(member.name)!;
        const from = p;
        // Attachments may come in any order: inst() appends the !dbg after this one.
        p = struct.union
          ? inst((s) => `call ptr @llvm.preserve.union.access.index.p0.p0(ptr ${s(from)}, i32 ${m.diIndex}), !llvm.preserve.access.index !${ds.node}`)
          : inst((s) => `call ptr @llvm.preserve.struct.access.index.p0.p0(ptr elementtype(${ds.llvmName}) ${s(from)}, i32 ${m.gepIndex}, i32 ${m.diIndex}), !llvm.preserve.access.index !${ds.node}`);
        array = m.array;
      }
      if (i.core.index === undefined || !array) return p;
      const from = p;
      const { di, llvm } = array;
      const index = i.core.index;
      return inst((s) => `call ptr @llvm.preserve.array.access.index.p0.p0(ptr elementtype(${llvm}) ${s(from)}, i32 1, i32 ${index}), !llvm.preserve.access.index !${di}`);
    };
    /**
     * A bitfield, as clang compiles libbpf's BPF_CORE_READ_BITFIELD_PROBED: `llvm.bpf.preserve.field.info` of the
     * member (each on its own access chain, as the macro's expansions are) gives the unit's offset and size and the two
     * shifts, each a relocated immediate; the unit is probe-read into a zeroed u64 and shifted into place. The right
     * shift's kind follows the member's signedness in the object (the loader checks the kernel's agrees).
     */
    const bitfieldRead = (i: Extract<Inst, { op: "kread" }>, object: number): Value => {
      const info = (kind: number): Value => {
        const member = kernelAddress(i);
        const v = inst((s) => `call i32 @llvm.bpf.preserve.field.info.p0(ptr ${s(member)}, i64 ${kind})`);
        return inst((s) => `zext i32 ${s(v)} to i64`);
      };
      const base = get(i.ptr);
      const root = inst((s) => `inttoptr i64 ${base.k === "const" ? constText(base.v, 64) : s(base)} to ptr`);
      const offset = info(CoreReloKind.FIELD_BYTE_OFFSET);
      const unit = inst((s) => `getelementptr i8, ptr ${s(root)}, i64 ${s(offset)}`);
      const member = kernelAddress(i);
      const size = inst((s) => `call i32 @llvm.bpf.preserve.field.info.p0(ptr ${s(member)}, i64 ${CoreReloKind.FIELD_BYTE_SIZE})`);
      const d = dbg();
      out.push(() => `  store i64 0, ptr %stack${object}, align 8${d}`);
      helperCall(Helper.probe_read_kernel, (s) => [`ptr %stack${object}`, `i32 ${s(size)}`, `ptr ${s(unit)}`]);
      const loaded = inst(() => `load i64, ptr %stack${object}, align 8`);
      const left = info(CoreReloKind.FIELD_LSHIFT_U64);
      const shifted = inst((s) => `shl i64 ${s(loaded)}, ${s(left)}`);
      const right = info(CoreReloKind.FIELD_RSHIFT_U64);
      return inst((s) => `${i.signed ? "ashr" : "lshr"} i64 ${s(shifted)}, ${s(right)}`);
    };
    const helperCall = (id: number, args: string[] | ((show: (v: Value) => string) => string[])): Value =>
      inst((s) => `call i64 inttoptr (i64 ${id} to ptr)(${(typeof args === "function" ? args(s) : args).join(", ")})`);

    if (block.id === entry) {
      const d = dbg();
      out.push(() => `  call void @llvm.dbg.value(metadata ptr %ctx, metadata !${ctxVar}, metadata !DIExpression())${d}`);
      out.push(() => `  %ctx.int = ptrtoint ptr %ctx to i64`);
    }

    const arith = (i: Extract<Inst, { op: "bin" }>): Value => {
      // A stack address plus an offset stays an add: LLVM, knowing a slot's alignment and a small index's bits, would
      // make it `|=`, which the verifier refuses on a pointer. An empty asm hides the alignment from it (libbpf's
      // barrier_var does the same), and a GEP keeps the sum a pointer.
      const stackBase = i.kind === "add" && i.dst.type.bits === 64 ? stackPointers.get(get(i.a)) : undefined;
      if (stackBase) {
        const by = get(i.b);
        const base = by.k === "const" ? stackBase : inst((s) => `call ptr asm "", "=r,0"(ptr ${s(stackBase)})`);
        const gep = inst((s) => `getelementptr i8, ptr ${s(base)}, i64 ${by.k === "const" ? constText(by.v, 64) : s(by)}`);
        const asInt = inst((s) => `ptrtoint ptr ${s(gep)} to i64`);
        stackPointers.set(asInt, gep);
        return asInt;
      }
      const t = i.dst.type;
      const bits = t.bits === 64 ? 64 : 32;
      const a = get(i.a);
      const b = get(i.b);
      const narrow = (v: Value): Value => (bits === 64 ? v : low32(v));
      const showN = (show: (v: Value) => string, v: Value): string => (bits === 64 ? (v.k === "const" ? constText(v.v, 64) : show(v)) : show32(show, v));
      const x = narrow(a);
      let y = narrow(b);
      let r: Value;
      if (i.kind === "shl" || i.kind === "shr") {
        if (y.k === "const") y = { k: "const", v: BigInt.asUintN(64, y.v) & BigInt(bits - 1) };
        else {
          const yy = y;
          y = inst((s) => `and i${bits} ${s(yy)}, ${bits - 1}`);
        }
        const op = i.kind === "shl" ? "shl" : t.signed ? "ashr" : "lshr";
        r = inst((s) => `${op} i${bits} ${showN(s, x)}, ${showN(s, y)}`);
      } else if (i.kind === "div" || i.kind === "mod") {
        if (t.signed) needsV4 = true;
        const divisor = y.k === "const" ? BigInt.asIntN(bits, y.v) : undefined;
        if (divisor !== undefined && divisor !== 0n && !(t.signed && divisor === -1n)) {
          const op = (t.signed ? "s" : "u") + (i.kind === "div" ? "div" : "rem");
          r = inst((s) => `${op} i${bits} ${showN(s, x)}, ${showN(s, y)}`);
        } else {
          // BPF's own instruction: defined for every divisor, as LLVM's udiv/sdiv are not.
          const op = `${t.signed ? "s" : ""}${i.kind === "div" ? "/" : "%"}=`;
          const c = bits === 64 ? "r" : "w";
          r = inst((s) => `call i${bits} asm "$0 ${op} $2", "=${c},0,${c}"(i${bits} ${showN(s, x)}, i${bits} ${showN(s, y)})`);
        }
      } else r = inst((s) => `${LLVM_BIN[i.kind as keyof typeof LLVM_BIN]} i${bits} ${showN(s, x)}, ${showN(s, y)}`);
      return bits === 64 ? r : widen32(r, t.signed);
    };

    /** The lifetime markers that go before instruction `at` (the block's length: before its terminator). */
    const mark = (at: number): void => {
      const d = dbg();
      for (const { object, end } of markers.get(block.id)?.get(at) ?? []) {
        out.push(() => `  call void @llvm.lifetime.${end ? "end" : "start"}.p0(i64 ${fn.stack[object]!.size}, ptr %stack${object})${d}`);
      }
    };

    const unmerged = longZeroRuns(block.insts);
    for (const [at, i] of block.insts.entries()) {
      if (i.loc) loc = i.loc;
      mark(at);
      switch (i.op) {
        case "mov":
          def(i.dst, convert(get(i.src), i.src.type, i.dst.type));
          break;
        case "bin":
          def(i.dst, arith(i));
          break;
        case "neg":
        case "not": {
          const t = i.dst.type;
          const bits = t.bits === 64 ? 64 : 32;
          const a = get(i.a);
          const x = bits === 64 ? a : low32(a);
          const showX = (s: (v: Value) => string): string => (x.k === "const" ? constText(x.v, bits) : s(x));
          const r = inst((s) => (i.op === "neg" ? `sub i${bits} 0, ${showX(s)}` : `xor i${bits} ${showX(s)}, -1`));
          def(i.dst, bits === 64 ? r : widen32(r, t.signed));
          break;
        }
        case "bswap": {
          const bits = i.dst.type.bits;
          const a = get(i.a);
          const x = bits === 64 || a.k === "const" ? a : inst((s) => `trunc i64 ${s(a)} to i${bits}`);
          const shown = (s: (v: Value) => string): string => (x.k === "const" ? String(BigInt.asIntN(bits, x.v)) : s(x));
          const r = inst((s) => `call i${bits} @llvm.bswap.i${bits}(i${bits} ${shown(s)})`);
          def(i.dst, bits === 64 ? r : extended(r, bits, false));
          break;
        }
        case "ctx": {
          const bits = i.size * 8;
          const p = i.offset ? inst(() => `getelementptr inbounds i8, ptr %ctx, i64 ${i.offset}`) : undefined;
          const v = inst((s) => `load i${bits}, ptr ${p ? s(p) : "%ctx"}, align ${i.size}`);
          const loaded: IntType = { bits: bits as 8 | 16 | 32 | 64, signed: i.signed };
          const wide = bits === 64 ? v : inst((s) => `${i.signed ? "sext" : "zext"} i${bits} ${s(v)} to i64`);
          def(i.dst, convert(wide, loaded, i.dst.type));
          break;
        }
        case "kread": {
          if (i.bitfield && i.core && i.object !== undefined) {
            def(i.dst, bitfieldRead(i, i.object));
            break;
          }
          const bits = i.size * 8;
          const from = kernelAddress(i);
          // Through a pointer the kernel types, a plain load, which llc relocates (CO-RE) as clang's `p->member`.
          if (i.object !== undefined) helperCall(Helper.probe_read_kernel, (s) => [`ptr %stack${i.object}`, `i32 ${i.size}`, `ptr ${s(from)}`]);
          const v = i.object === undefined ? inst((s) => `load i${bits}, ptr ${s(from)}, align ${i.size}`) : inst(() => `load i${bits}, ptr %stack${i.object}, align ${i.size}`);
          const loaded: IntType = { bits: bits as 8 | 16 | 32 | 64, signed: i.signed };
          const wide = bits === 64 ? v : inst((s) => `${i.signed ? "sext" : "zext"} i${bits} ${s(v)} to i64`);
          def(i.dst, convert(wide, loaded, i.dst.type));
          break;
        }
        case "kcopy": {
          const from = kernelAddress(i);
          const into = stackRef(i.into);
          helperCall(Helper.probe_read_kernel, (s) => [`ptr ${s(into)}`, `i32 ${i.size}`, `ptr ${s(from)}`]);
          break;
        }
        case "store": {
          const src = i.src;
          const p = i.offset ? inst(() => `getelementptr inbounds i8, ptr %stack${i.object}, i64 ${i.offset}`) : undefined;
          const at = p ? p : ({ k: "name", name: `%stack${i.object}` } as Value);
          const d = dbg();
          if (src.kind === "stack") {
            const p = stackRef(src);
            out.push((s) => `  store ptr ${s(p)}, ptr ${s(at)}, align 8${d}`);
          }
          else {
            const v = get(src);
            out.push((s) => `  store i64 ${v.k === "const" ? constText(v.v, 64) : s(v)}, ptr ${s(at)}, align 8${d}`);
          }
          break;
        }
        case "load": {
          const bits = i.size * 8;
          const p = address(i.base, i.offset);
          // A .rodata value the loader sets (targetPid(), a parameter): volatile, as clang reads a const volatile, or LLVM
          // would fold it to its initial value.
          const knob = "id" in i.base && rodataRegs.has(i.base.id) ? " volatile" : "";
          const v = inst((s) => `load${knob} i${bits}, ptr ${s(p)}, align ${i.size}`);
          const loaded: IntType = { bits: bits as 8 | 16 | 32 | 64, signed: i.signed };
          const wide = bits === 64 ? v : inst((s) => `${i.signed ? "sext" : "zext"} i${bits} ${s(v)} to i64`);
          def(i.dst, convert(wide, loaded, i.dst.type));
          break;
        }
        case "st": {
          const bits = i.size * 8;
          const p = address(i.base, i.offset);
          const v = get(i.src);
          const narrow = bits === 64 || v.k === "const" ? v : inst((s) => `trunc i64 ${s(v)} to i${bits}`);
          const d = dbg();
          const keep = unmerged.has(at) ? " volatile" : "";
          out.push((s) => `  store${keep} i${bits} ${narrow.k === "const" ? constText(narrow.v, bits) : s(narrow)}, ptr ${s(p)}, align ${i.size}${d}`);
          break;
        }
        case "atomic": {
          const bits = i.size * 8;
          const p = address(i.ptr, i.offset);
          const v = get(i.src);
          const narrow = bits === 64 || v.k === "const" ? v : inst((s) => `trunc i64 ${s(v)} to i${bits}`);
          const old = inst((s) => `atomicrmw add ptr ${s(p)}, i${bits} ${narrow.k === "const" ? constText(narrow.v, bits) : s(narrow)} monotonic, align ${i.size}`);
          if (i.dst) {
            const fetched: IntType = { bits: bits as 32 | 64, signed: false };
            def(i.dst, convert(bits === 64 ? old : extended(old, 32, false), fetched, i.dst.type));
          }
          break;
        }
        case "addr": {
          const p = stackRef({ kind: "stack", object: i.object, offset: i.offset });
          const asInt = inst((s) => `ptrtoint ptr ${s(p)} to i64`);
          stackPointers.set(asInt, p);
          def(i.dst, asInt);
          break;
        }
        case "rodata":
          def(i.dst, inst(() => `ptrtoint ${rodataAt(i.offset)} to i64`));
          break;
        case "bss":
          def(i.dst, inst(() => `ptrtoint ${bssAt(i.offset)} to i64`));
          break;
        case "call": {
          const vals = i.args.map((a, n) => (i.low32?.includes(n) ? lowHalf(argValue(a)) : argValue(a)));
          const r = helperCall(i.helper, (s) => i.args.map((a, n) => argText(a, vals[n], s)));
          if (i.dst) def(i.dst, convert(r, undefined, i.dst.type));
          break;
        }
      }
    }
    mark(block.insts.length);
    const t = block.term;
    if (t?.loc) loc = t.loc;
    const d = dbg();
    if (!t) out.push(() => `  ret i64 0${d}`);
    else if (t.op === "jmp") out.push(() => `  br label %b${t.target}${d}`);
    else if (t.op === "ret") {
      const v = get(t.value);
      out.push((s) => `  ret i64 ${v.k === "const" ? constText(v.v, 64) : s(v)}${d}`);
    } else {
      if (t.then === t.else) {
        out.push(() => `  br label %b${t.then}${d}`);
        done.add(block.id);
        continue;
      }
      let a = get(t.a);
      if (t.bounds && t.a.kind === "reg" && a.k === "name") {
        // LLVM drops a check it can prove (`x % 3 < 3`) that the verifier cannot (it does not bound `%`): an empty asm
        // hides the index's range, as libbpf's barrier_var(), and the index used past the check is the asm's result.
        const aa = a;
        a = inst((s) => `call i64 asm sideeffect "", "=r,0"(i64 ${s(aa)})`);
        def(t.a, a);
      }
      const b = get(t.b);
      const c = inst((s) => `icmp ${PRED[t.cmp]![t.signed ? 1 : 0]} i64 ${a.k === "const" ? constText(a.v, 64) : s(a)}, ${b.k === "const" ? constText(b.v, 64) : s(b)}`);
      out.push((s) => `  br i1 ${s(c)}, label %b${t.then}, label %b${t.else}${d}`);
    }
    done.add(block.id);
  }

  // Phis created before all their predecessors were done (loops) get their operands now.
  for (let n = 0; n < pending.length; n++) {
    const phi = pending[n]!;
    phi.ops = preds.get(phi.block)!.map((p) => exitValue(phi.reg, p));
  }
  // Trivial phis (every operand the same value, or the phi itself) become that value.
  for (let changed = true; changed; ) {
    changed = false;
    for (const phi of phis) {
      if (phi.replaced) continue;
      let same: Value | undefined;
      let trivial = true;
      for (const op of phi.ops.map(resolve)) {
        if (op === phi) continue;
        if (same && !sameValue(same, op)) {
          trivial = false;
          break;
        }
        same = op;
      }
      if (trivial) {
        phi.replaced = same ?? { k: "const", v: 0n };
        changed = true;
      }
    }
  }

  const show = (v: Value): string => {
    const r = resolve(v);
    return r.k === "const" ? constText(r.v, 64) : r.name;
  };
  const text: string[] = [`define dso_local i64 @${ident(fn.name)}(ptr noundef %ctx) #0 section ${mdString(fn.section)} !dbg !${sp} {`];
  blocks.forEach((b, n) => {
    text.push(`b${b.id}:`);
    if (n === 0) text.push(...allocas);
    for (const phi of phis) {
      if (phi.block !== b.id || phi.replaced) continue;
      const ps = preds.get(b.id)!;
      text.push(`  ${phi.name} = phi i64 ${phi.ops.map((op, k) => `[ ${show(op)}, %b${ps[k]} ]`).join(", ")}`);
    }
    for (const line of lines.get(b.id)!) text.push(line(show));
  });
  text.push("}", "");
  return { text: text.join("\n"), needsV4 };
}

/** A lifetime marker: where in its block it goes, by the instruction it comes before. */
type Markers = Map<number, Map<number, { object: number; end: boolean }[]>>;

/**
 * Where each stack object's `llvm.lifetime.start` and `end` go, so that LLVM's stack colouring lets objects that are
 * never live together share bytes, as our own backend's frame.ts does. LLVM takes an access outside the markers as
 * undefined, so they are placed conservatively:
 * - An object's uses are the instructions that name it or read a register that may hold its address (taken, copied,
 *   offset, or loaded back from an object it was stored into), and every use of an object its address is stored
 *   into. An object whose address is stored elsewhere (through a pointer to no stack object: a map value) gets no
 *   markers and lives for the whole function.
 * - Its region is the blocks of its uses and every block on a path from one use to another: a loop around a use is
 *   in it whole, since a value may be carried around the back edge.
 * - The start goes in the nearest dominator of the region that no use reaches (before its first use, if it has one,
 *   else before its terminator); the end in the nearest post-dominator that reaches no use (after its last use, else
 *   at its top). So neither lies between two uses, nor in a loop around one. When only the function's exit
 *   post-dominates, there is no end: the object lives until the function returns.
 */
function lifetimeMarkers(blocks: readonly Block[], preds: ReadonlyMap<number, readonly number[]>): Markers {
  const byId = new Map(blocks.map((b) => [b.id, b]));
  const succ = (id: number): number[] => successors(byId.get(id)!.term);
  const none: ReadonlySet<number> = new Set();
  /** Objects whose address a register, or an object's bytes, may hold. */
  const inReg = new Map<number, Set<number>>();
  const inObject = new Map<number, Set<number>>();
  const escaped = new Set<number>();
  const addresses = (v: CallArg | Base): ReadonlySet<number> => (v.kind === "stack" ? new Set([v.object]) : v.kind === "reg" ? inReg.get(v.id) ?? none : none);
  const insts = blocks.flatMap((b) => b.insts.map((i, at) => ({ block: b.id, at, i })));
  // To a fixpoint: a loop carries addresses backwards.
  for (let changed = true; changed; ) {
    changed = false;
    const add = (to: Map<number, Set<number>>, key: number, objects: Iterable<number>): void => {
      let set = to.get(key);
      if (!set) to.set(key, (set = new Set()));
      for (const o of objects) if (!set.has(o)) (set.add(o), (changed = true));
    };
    for (const { i } of insts) {
      if (i.op === "addr" || i.op === "mov" || i.op === "bin" || i.op === "neg" || i.op === "not" || i.op === "bswap") add(inReg, i.dst.id, operands(i).flatMap((o) => [...addresses(o)]));
      else if (i.op === "load") for (const o of addresses(i.base)) add(inReg, i.dst.id, inObject.get(o) ?? none);
      else if (i.op === "store") add(inObject, i.object, addresses(i.src));
      else if (i.op === "st" || i.op === "atomic") {
        const into = i.op === "st" ? addresses(i.base) : none;
        for (const o of into) add(inObject, o, addresses(i.src));
        if (!into.size) for (const o of addresses(i.src)) escaped.add(o);
      }
    }
  }
  /** Per object, the positions of its own uses by block. */
  const own = new Map<number, Map<number, number[]>>();
  for (const { block, at, i } of insts) {
    for (const o of new Set(operands(i).flatMap((x) => [...addresses(x)]))) {
      const byBlock = own.get(o) ?? own.set(o, new Map()).get(o)!;
      byBlock.set(block, [...(byBlock.get(block) ?? []), at]);
    }
  }

  const dom = dominators(blocks[0]!.id, succ, (n) => preds.get(n)!);
  // Post-dominators: the reversed graph from a node every returning block leads to.
  const EXIT = -1;
  const exits = blocks.filter((b) => !succ(b.id).length).map((b) => b.id);
  const postDom = dominators(EXIT, (n) => (n === EXIT ? exits : preds.get(n)!), (n) => (n === EXIT ? [] : succ(n).length ? succ(n) : [EXIT]));
  /** Blocks reached from `from` by one edge or more. */
  const reached = (from: Iterable<number>, edges: (n: number) => readonly number[]): Set<number> => {
    const seen = new Set<number>();
    const work = [...from].flatMap(edges);
    while (work.length) {
      const b = work.pop()!;
      if (!seen.has(b)) (seen.add(b), work.push(...edges(b)));
    }
    return seen;
  };

  const out: Markers = new Map();
  const put = (block: number, at: number, marker: { object: number; end: boolean }): void => {
    const byAt = out.get(block) ?? out.set(block, new Map()).get(block)!;
    byAt.set(at, [...(byAt.get(at) ?? []), marker]);
  };
  for (const object of own.keys()) {
    // The object, and every object holding its address, transitively.
    const holders = new Set([object]);
    for (const h of holders) for (const [o, held] of inObject) if (held.has(h)) holders.add(o);
    if ([...holders].some((h) => escaped.has(h))) continue;
    const uses = new Map<number, number[]>();
    for (const h of holders) for (const [block, ats] of own.get(h) ?? []) uses.set(block, [...(uses.get(block) ?? []), ...ats]);
    const after = reached(uses.keys(), succ);
    const before = reached(uses.keys(), (n) => preds.get(n)!);
    const region = [...uses.keys(), ...[...after].filter((b) => before.has(b))];
    let start = dom.common(region)!;
    while (after.has(start)) start = dom.idom(start);
    put(start, uses.has(start) ? Math.min(...uses.get(start)!) : byId.get(start)!.insts.length, { object, end: false });
    let end = postDom.common(region);
    while (end !== undefined && end !== EXIT && before.has(end)) end = postDom.idom(end);
    if (end !== undefined && end !== EXIT) put(end, uses.has(end) ? Math.max(...uses.get(end)!) + 1 : 0, { object, end: true });
  }
  return out;
}

/** What an instruction reads that may be, or hold, a stack object's address. */
function operands(i: Inst): (CallArg | Base)[] {
  switch (i.op) {
    case "mov":
      return [i.src];
    case "bin":
      return [i.a, i.b];
    case "neg":
    case "not":
    case "bswap":
      return [i.a];
    case "kread":
      return i.object === undefined ? [i.ptr] : [i.ptr, { kind: "stack", object: i.object }];
    case "kcopy":
      return [i.ptr, i.into];
    case "store":
      return [i.src, { kind: "stack", object: i.object }];
    case "call":
      return i.args;
    case "load":
      return [i.base];
    case "st":
    case "atomic":
      return [i.op === "st" ? i.base : i.ptr, i.src];
    case "addr":
      return [{ kind: "stack", object: i.object }];
    default:
      return [];
  }
}

/**
 * The zero stores of a block that LLVM would merge into a memset longer than its BPF target expands inline (128
 * stores: 1 KiB of 8-byte ones), which it leaves as a call of memset that BPF has no way to make: a reserved 4 KiB
 * record's zeroing, a Str<4096> cleared before a read of a length. They stay volatile, each one store.
 */
function longZeroRuns(insts: readonly Inst[]): Set<number> {
  const MAX_INLINE_STORES = 128;
  const long = new Set<number>();
  const sameBase = (a: Base, b: Base) => (a.kind === "stack" && b.kind === "stack" ? a.object === b.object && a.offset === b.offset : a.kind === "reg" && b.kind === "reg" && a.id === b.id);
  for (let at = 0; at < insts.length; ) {
    const first = insts[at]!;
    if (first.op !== "st" || first.src.kind !== "imm" || first.src.value !== 0n) {
      at++;
      continue;
    }
    // Stores of zero, each where the last one ended, into one base: a run LLVM's MemCpyOpt turns into one memset.
    let end = at + 1;
    let next = first.offset + first.size;
    let smallest: number = first.size;
    for (; end < insts.length; end++) {
      const i = insts[end]!;
      if (i.op !== "st" || i.src.kind !== "imm" || i.src.value !== 0n || !sameBase(i.base, first.base) || i.offset !== next) break;
      next += i.size;
      smallest = Math.min(smallest, i.size);
    }
    if (next - first.offset > MAX_INLINE_STORES * smallest) for (let k = at; k < end; k++) long.add(k);
    at = end;
  }
  return long;
}

/**
 * Dominators over the graph reached from `root` (Cooper, Harvey and Kennedy's iteration): a node's immediate
 * dominator, and the nearest common dominator of nodes (undefined if one is not reached).
 */
function dominators(root: number, next: (n: number) => readonly number[], prev: (n: number) => readonly number[]): { idom: (n: number) => number; common: (nodes: Iterable<number>) => number | undefined } {
  const post: number[] = [];
  const seen = new Set<number>();
  const visit = (n: number): void => {
    if (seen.has(n)) return;
    seen.add(n);
    for (const s of next(n)) visit(s);
    post.push(n);
  };
  visit(root);
  const rank = new Map(post.map((n, r) => [n, r]));
  const idom = new Map<number, number>([[root, root]]);
  const meet = (a: number, b: number): number => {
    while (a !== b) {
      while (rank.get(a)! < rank.get(b)!) a = idom.get(a)!;
      while (rank.get(b)! < rank.get(a)!) b = idom.get(b)!;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const n of [...post].reverse()) {
      if (n === root) continue;
      // In reverse postorder a node's parent in the search comes first, so one predecessor at least has a dominator.
      const d = prev(n).filter((p) => idom.has(p)).reduce(meet);
      if (idom.get(n) !== d) (idom.set(n, d), (changed = true));
    }
  }
  return {
    idom: (n) => idom.get(n)!,
    common: (nodes) => {
      let d: number | undefined;
      for (const n of nodes) {
        if (!rank.has(n)) return undefined;
        d = d === undefined ? n : meet(d, n);
      }
      return d;
    },
  };
}

function successors(t: Terminator | undefined): number[] {
  if (!t) return [];
  if (t.op === "jmp") return [t.target];
  if (t.op === "br") return t.then === t.else ? [t.then] : [t.then, t.else];
  return [];
}
