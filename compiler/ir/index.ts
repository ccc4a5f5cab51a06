// The typed IR between the frontend and codegen: functions of basic blocks over virtual registers.
// Takes nothing; gives the data types, a small builder used by the frontend, and a text dump for debugging.
//
// Invariant codegen relies on: a virtual register of type T always holds its value extended to
// 64 bits as T says (sign-extended when signed, zero-extended when not). Immediates are stored
// already converted to their type.
//
// Additions for maps, structs and strings (all additive; older consumers may reject them):
// `load`/`st` read and write 1/2/4/8 bytes through a base that is a pointer register (a map value,
// a ring buffer record) or a stack object; `atomic` adds to memory behind a pointer; `addr` takes a
// stack object's address; `StackAddr.offset` addresses inside a stack object; the call argument
// `{ kind: "map", name }` is a map's address (an LDDW with src = BPF_PSEUDO_MAP_FD relocated
// against the map's symbol in `.maps`); `IrModule.maps` and `IrModule.types` describe the maps and
// the struct types their keys and values use. Module-level functions are inlined by the frontend,
// so every `IrFunction` is still one program. `store.low32` and `call.low32` mark values read only in
// their low 32 bits, so codegen may leave their upper halves unextended (consumers may ignore them).
// `rodata` takes the address of a `.rodata` string into a register (printk's `true` and `false`).

import type { Aggregate, PrintfSite } from "../btf/tags.js";
import type { IntType } from "./types.js";

export * from "./types.js";

export interface VReg {
  readonly kind: "reg";
  readonly id: number;
  readonly type: IntType;
}

export interface Imm {
  readonly kind: "imm";
  readonly value: bigint;
  readonly type: IntType;
}

export type Operand = VReg | Imm;

export type BinOp = "add" | "sub" | "mul" | "div" | "mod" | "and" | "or" | "xor" | "shl" | "shr";
export type CmpOp = "eq" | "ne" | "lt" | "le" | "gt" | "ge";

/** The address of a stack object. */
export interface StackAddr {
  readonly kind: "stack";
  readonly object: number;
  /** Bytes into the object (default 0). */
  readonly offset?: number;
}

/** The address of a map (what helpers take as `struct bpf_map *`). */
export interface MapRef {
  readonly kind: "map";
  readonly name: string;
}

/** Memory a load or store goes through: a pointer register, or a stack object. */
export type Base = VReg | StackAddr;

/** A helper argument: a value, the address of a read-only string, or of a stack object. */
export type CallArg = Operand | { readonly kind: "rodata"; readonly offset: number } | StackAddr | MapRef;

/** Source position for line info: 1-based line and column in the probe file. */
export interface Loc {
  readonly line: number;
  readonly column: number;
}

export type Inst =
  /** dst = src converted to dst's type. */
  | { op: "mov"; dst: VReg; src: Operand; loc?: Loc }
  /** dst = a OP b at dst's type (always at least 32 bits: C promotes narrower operands). */
  | { op: "bin"; kind: BinOp; dst: VReg; a: Operand; b: Operand; loc?: Loc }
  | { op: "neg" | "not"; dst: VReg; a: Operand; loc?: Loc }
  /** The bytes of `a`'s low 16, 32 or 64 bits (dst's width, an unsigned type) in reverse order, bpftrace's bswap(). */
  | { op: "bswap"; dst: VReg; a: Operand; loc?: Loc }
  /** dst = *(size *)(ctx + offset), extended as dst's type says. */
  | { op: "ctx"; dst: VReg; offset: number; size: 1 | 2 | 4 | 8; signed: boolean; loc?: Loc }
  /**
   * dst = the integer at ptr + offset in kernel memory: a direct load when `object` is undefined (through a pointer the
   * kernel types), else bpf_probe_read_kernel into stack object `object` and a load from there. `core` names the
   * struct member, so the offset gets a CO-RE relocation (on the load, or on the add before the probe read).
   */
  | { op: "kread"; dst: VReg; ptr: Operand; offset: number; size: 1 | 2 | 4 | 8; signed: boolean; object?: number; core?: CoreAccess; bitfield?: BitfieldShifts; loc?: Loc }
  /** The stack at `into` gets `size` bytes at ptr + offset (a kernel array, or a member stored as it is) through bpf_probe_read_kernel, as kread does. */
  | { op: "kcopy"; into: StackAddr; ptr: Operand; offset: number; size: number; core?: CoreAccess; loc?: Loc }
  /** *(u64 *)(stack object + offset) = src (a value, or the address of another stack object). */
  /** `low32`: whoever reads the slot uses only src's low 32 bits (a printk array's %d or %u). */
  | { op: "store"; object: number; offset: number; src: Operand | StackAddr; low32?: boolean; loc?: Loc }
  /** `low32`: indices of arguments whose high 32 bits the helper ignores (printk's %d and %u). */
  | { op: "call"; helper: number; args: CallArg[]; dst?: VReg; low32?: readonly number[]; loc?: Loc }
  /** dst = *(size *)(base + offset), extended as `signed` says, then converted to dst's type. */
  | { op: "load"; dst: VReg; base: Base; offset: number; size: 1 | 2 | 4 | 8; signed: boolean; loc?: Loc }
  /** *(size *)(base + offset) = src (truncated to size bytes). */
  | { op: "st"; base: Base; offset: number; size: 1 | 2 | 4 | 8; src: Operand; loc?: Loc }
  /**
   * Atomic *(size *)(ptr + offset) += src (BPF_ATOMIC | BPF_ADD, size 4 or 8); with `dst`, a fetch-and-add
   * (BPF_ADD | BPF_FETCH): dst = the value before the add (zero-extended from 32 bits for size 4), then converted to dst's type.
   */
  | { op: "atomic"; ptr: VReg; offset: number; size: 4 | 8; src: Operand; dst?: VReg; loc?: Loc }
  /** dst = the address of a stack object plus offset. */
  | { op: "addr"; dst: VReg; object: number; offset: number; loc?: Loc }
  /** dst = the address of `.rodata` plus offset (a string a helper reads, as `true`/`false` for printk's %s). */
  | { op: "rodata"; dst: VReg; offset: number; loc?: Loc }
  /** dst = the address of `.bss` plus offset (a counter of tsbpf's own, see BssVar). */
  | { op: "bss"; dst: VReg; offset: number; loc?: Loc };

export type Terminator =
  | { op: "jmp"; target: number; loc?: Loc }
  /** if (a CMP b) goto then else goto else; compared at the operands' common type. */
  /** `bounds`: a check the verifier needs to bound `a` (an index), which a backend must not fold away. */
  | { op: "br"; cmp: CmpOp; signed: boolean; a: Operand; b: Operand; then: number; else: number; bounds?: true; loc?: Loc }
  | { op: "ret"; value: Operand; loc?: Loc };

export interface Block {
  readonly id: number;
  readonly insts: Inst[];
  term?: Terminator;
}

/**
 * A kread of a bitfield (always a probe read into its stack object): `size` bytes at `offset` are its storage unit,
 * read into the low bytes of a zeroed u64, then `<<= lshift` and `>>= rshift` (arithmetic when the kread is `signed`).
 * With a `core` access, the offset, size and both shifts each get their CO-RE relocation.
 */
export interface BitfieldShifts {
  readonly lshift: number;
  readonly rshift: number;
}

/**
 * A struct member read that libbpf relocates against the running kernel's BTF: from the root struct
 * through members embedded by value (`sock.__sk_common.skc_family`), and optionally one element of
 * the array member reached.
 */
export interface CoreAccess {
  readonly struct: string;
  /** Member names from the root struct inward; the last is the member read. */
  readonly members: readonly string[];
  /** The element read, when the last member is an array and one element is read. */
  readonly index?: number;
  /** What the relocated immediate is: a CoreReloKind (compiler/btf/core.ts); absent, the byte offset (FIELD_BYTE_OFFSET). */
  readonly kind?: number;
}

/** How listings name the field relocation kinds other than the byte offset (libbpf's names in its CO-RE notes). */
const FIELD_KIND_NAMES: Readonly<Record<number, string>> = { 1: "byte_sz", 2: "field_exists", 3: "signed", 4: "lshift_u64", 5: "rshift_u64" };

/** `sock.__sk_common.skc_family`, `task_struct.comm[3]`: how disassembly notes and IR dumps show an access. */
export function coreAccessText(c: CoreAccess): string {
  return `${c.struct}.${c.members.join(".")}${c.index === undefined ? "" : `[${c.index}]`}${c.kind ? ` (${FIELD_KIND_NAMES[c.kind] ?? `kind ${c.kind}`})` : ""}`;
}

export interface StackObject {
  readonly size: number;
  readonly align: number;
  /** The source of the value it holds, for an error when the stack runs out. */
  readonly loc?: Loc;
}

export interface IrFunction {
  /** Symbol name: the exported constant's name. */
  readonly name: string;
  /** ELF section: kprobe/do_unlinkat, tracepoint/syscalls/sys_enter_unlinkat, ... */
  readonly section: string;
  /** The context pointer (r1 at entry). */
  readonly ctx: VReg;
  /** In layout order; the entry (id 0) comes first. */
  readonly blocks: Block[];
  readonly stack: StackObject[];
  readonly vregCount: number;
  readonly loc?: Loc;
  /** BTF decl tags on the program's FUNC (compiler/btf/tags.ts): what a perf_event program attaches to. */
  readonly tags?: readonly string[];
}

/** A named object in `.rodata`: a printk format (NUL-terminated), or the u32 targetPid() reads. */
export interface RodataVar {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  /**
   * "string": a printk or printf format, or other bytes the programs read (static). "int": a knob the loader may set before loading, as libbpf sets a
   * `const volatile` global (global, found by name): targetPid()'s u32, or a module-level `let` parameter.
   */
  readonly kind: "string" | "int";
  /** An "int" variable's type (its elements' type, for an array). */
  readonly type?: IntType;
  /** An "int" variable that is an array (`let ports: Arr<u16, 4>`): its lengths, outermost first. */
  readonly dimensions?: readonly number[];
  /** An "int" array of C `char` (`let disk: Str<32>`): a string, which the loader sets from text (tsbpf run --set disk=vda). */
  readonly chars?: boolean;
}

/**
 * The `.rodata` variable targetPid() reads: 0 in the object; the loader writes the pid of `--command` or `--pid`
 * into it before loading, so the kernel's verifier sees it as a constant.
 */
export const TARGET_PID_VARIABLE = "tsbpf_target_pid";

/**
 * The `.rodata` u64s kaddr("NAME") reads, `__tsbpf_kaddr_NAME`: 0 in the object; the loader writes NAME's address
 * from /proc/kallsyms into each before loading (bpftrace resolves kaddr() when it compiles), a constant to the verifier.
 */
export const KADDR_PREFIX = "__tsbpf_kaddr_";

/**
 * The `.rodata` u64s uaddr(BINARY, NAME) reads, `__tsbpf_uaddr_K`, each beside `__tsbpf_uaddr_K_name`, the chars
 * `BINARY\0NAME\0`: the loader writes NAME's address in BINARY (a position-dependent executable's) into the first.
 */
export const UADDR_PREFIX = "__tsbpf_uaddr_";

/**
 * The `.rodata` u64s cgroupId(PATH) reads, `__tsbpf_cgroupid_K`, each beside `__tsbpf_cgroupid_K_name`, the chars
 * `PATH\0`: the loader writes the id of the cgroup v2 directory PATH (its inode number) into the first.
 */
export const CGROUP_PATH_PREFIX = "__tsbpf_cgroupid_";

/**
 * A u64 of tsbpf's own in `.bss`, as a C tool keeps a counter in a global: what a ring buffer dropped, counted without
 * a branch (a map element would need a lookup and its null check, which the verifier queues at every count).
 */
export interface BssVar {
  readonly name: string;
  readonly offset: number;
}

/** The size of a `.bss` that holds `vars`. */
export const bssSize = (vars: readonly BssVar[] = []): number => vars.reduce((n, v) => Math.max(n, v.offset + 8), 0);

export interface IrModule {
  readonly functions: IrFunction[];
  /** Contents of `.rodata`: printk formats (NUL-terminated) and, when read, targetPid()'s u32. */
  readonly rodata: Uint8Array;
  /** What `.rodata` holds; absent: its NUL-terminated strings, one per printk format. */
  readonly rodataVars?: readonly RodataVar[];
  /** The u64s in `.bss` (8 bytes each, at their offsets); absent: no `.bss`. */
  readonly bss?: readonly BssVar[];
  readonly license: string;
  /** Maps declared at module level, in declaration order (absent: none). */
  readonly maps?: readonly MapDef[];
}

/** A value's layout in memory, as C lays it out (natural alignment); also what BTF describes. */
export type Layout =
  | { readonly kind: "int"; readonly type: IntType; readonly size: 1 | 2 | 4 | 8; readonly align: number }
  | { readonly kind: "str"; readonly size: number; readonly align: 1 }
  | { readonly kind: "array"; readonly element: Layout; readonly length: number; readonly size: number; readonly align: number }
  | { readonly kind: "struct"; readonly name: string; readonly fields: readonly Field[]; readonly size: number; readonly align: number };

export interface Field {
  readonly name: string;
  readonly offset: number;
  readonly layout: Layout;
}

/** A BTF-defined map: `struct { __uint(type, T); __uint(max_entries, N); __type(key, K); __type(value, V); } name SEC(".maps")`. */
export interface MapDef {
  readonly name: string;
  /** BPF_MAP_TYPE_*. */
  readonly type: number;
  readonly maxEntries: number;
  /** `__type(key, K)` / `__type(value, V)`, or sizes only (`__uint(key_size, N)`) when there is no type. */
  readonly key?: Layout | number;
  readonly value?: Layout | number;
  readonly flags?: number;
  /** What a ring buffer or perf event array carries: tagged in BTF so readers decode records by type. */
  readonly event?: Layout;
  /** A log2 histogram (an array map in the Histogram slot layout): tagged in BTF so readers print it as one. */
  readonly histogram?: boolean;
  /** A LinearHistogram (an array map: below min, each step from min to max, from max up), tagged in BTF. */
  readonly linear?: { readonly min: bigint; readonly max: bigint; readonly step: bigint };
  /** Not exported by the probe file: its own bookkeeping, tagged in BTF so `tsbpf run` does not print it. */
  readonly internal?: boolean;
  /** The stack map kstack() and ustack() ids refer to (keyed by the frames, the id as value), tagged in BTF so readers find their frames. */
  readonly stacks?: boolean;
  /** Of kstack()'s and ustack()'s id -> frames map: the stack map (frames -> id) whose ids it names, tagged in BTF. */
  readonly framesOf?: string;
  /** The ring buffer of exit(), print() and clear() records; the maps the records name by index (tagged in BTF). */
  readonly actions?: readonly string[];
  /** On the actions ring buffer: the file's printf() calls, by id (each tagged in BTF with its format and arguments). */
  readonly printf?: readonly PrintfSite[];
  /** On the actions ring buffer: the file's time() formats, by id. */
  readonly times?: readonly string[];
  /** An Avg, Min, Max or Stats map (per-CPU, its value compiler/btf/tags.ts's struct), tagged so readers merge the CPUs. */
  readonly aggregate?: Aggregate;
}

/** Builds one function's blocks; the frontend drives it statement by statement. */
export class FunctionBuilder {
  /** All blocks by id (blocks[i].id === i); `finish` lays them out. */
  readonly blocks: Block[] = [];
  readonly stack: StackObject[] = [];
  private next = 0;
  current: Block;
  readonly ctx: VReg;

  constructor() {
    this.current = this.newBlock();
    this.order.push(this.current);
    this.ctx = this.vreg({ bits: 64, signed: false });
  }

  vreg(type: IntType): VReg {
    return { kind: "reg", id: this.next++, type };
  }

  newBlock(): Block {
    const block: Block = { id: this.blocks.length, insts: [] };
    this.blocks.push(block);
    return block;
  }

  /** Continues in `block`; blocks are laid out in the order they are first entered. */
  enter(block: Block): void {
    this.current = block;
    if (!this.entered.has(block.id)) {
      this.entered.add(block.id);
      this.order.push(block);
    }
  }
  private readonly entered = new Set<number>([0]);
  private readonly order: Block[] = [];

  emit(inst: Inst): void {
    if (!this.current.term) this.current.insts.push(inst);
  }

  /** Ends the current block (a no-op after a return: the rest is unreachable and dropped later). */
  terminate(term: Terminator): void {
    if (!this.current.term) this.current.term = term;
  }

  stackObject(size: number, align = 8, loc?: Loc): number {
    this.stack.push(loc ? { size, align, loc } : { size, align });
    return this.stack.length - 1;
  }

  /** Tags the body asks for as it is lowered (probe() wants the probe's id in the attach cookie). */
  readonly bodyTags = new Set<string>();

  finish(name: string, section: string, loc?: Loc, tags: readonly string[] = []): IrFunction {
    const rest = this.blocks.filter((b) => !this.entered.has(b.id));
    const all = [...tags, ...this.bodyTags];
    return { name, section, ctx: this.ctx, blocks: [...this.order, ...rest], stack: this.stack, vregCount: this.next, loc, ...(all.length ? { tags: all } : {}) };
  }
}

/** Blocks reachable from the entry, in layout order: the kernel rejects unreachable code. */
export function reachableBlocks(fn: IrFunction): Block[] {
  const byId = new Map(fn.blocks.map((b) => [b.id, b]));
  const seen = new Set<number>([0]);
  const work = [0];
  while (work.length) {
    const term = byId.get(work.pop()!)!.term;
    const succ = !term ? [] : term.op === "jmp" ? [term.target] : term.op === "br" ? [term.then, term.else] : [];
    for (const s of succ) if (!seen.has(s)) (seen.add(s), work.push(s));
  }
  return fn.blocks.filter((b) => seen.has(b.id));
}

const opnd = (o: Operand): string => (o.kind === "imm" ? `${o.value}` : `%${o.id}`);
const arg = (a: CallArg): string =>
  a.kind === "rodata" ? `rodata+${a.offset}` : a.kind === "stack" ? `stack#${a.object}${a.offset ? `+${a.offset}` : ""}` : a.kind === "map" ? `map ${a.name}` : opnd(a);
const ty = (t: IntType): string => (t.ptr ? "ptr" : t.bool ? "bool" : `${t.signed ? "i" : "u"}${t.bits}`);

/** A readable dump of a function, for debugging and error reports. */
export function printFunction(fn: IrFunction): string {
  const out = [`${fn.name} (${fn.section}): ctx %${fn.ctx.id}`];
  for (const b of fn.blocks) {
    out.push(`b${b.id}:`);
    for (const i of b.insts) {
      switch (i.op) {
        case "mov": out.push(`  %${i.dst.id}:${ty(i.dst.type)} = ${opnd(i.src)}`); break;
        case "bin": out.push(`  %${i.dst.id}:${ty(i.dst.type)} = ${i.kind} ${opnd(i.a)}, ${opnd(i.b)}`); break;
        case "neg": case "not": case "bswap": out.push(`  %${i.dst.id}:${ty(i.dst.type)} = ${i.op} ${opnd(i.a)}`); break;
        case "ctx": out.push(`  %${i.dst.id}:${ty(i.dst.type)} = ctx[${i.offset}:${i.signed ? "s" : "u"}${i.size * 8}]`); break;
        case "store": out.push(`  stack#${i.object}[${i.offset}] = ${arg(i.src)}`); break;
        case "kread": out.push(`  %${i.dst.id}:${ty(i.dst.type)} = kread ${opnd(i.ptr)}+${i.offset}:${i.size}${i.bitfield ? ` <<${i.bitfield.lshift} >>${i.bitfield.rshift}` : ""}${i.core ? ` (${coreAccessText(i.core)})` : ""}`); break;
        case "kcopy": out.push(`  kcopy stack${i.into.object}+${i.into.offset ?? 0} <- ${opnd(i.ptr)}+${i.offset}:${i.size}${i.core ? ` (${coreAccessText(i.core)})` : ""}`); break;
        case "call": out.push(`  ${i.dst ? `%${i.dst.id}:${ty(i.dst.type)} = ` : ""}call ${i.helper}(${i.args.map(arg).join(", ")})`); break;
        case "load": out.push(`  %${i.dst.id}:${ty(i.dst.type)} = load ${arg(i.base)}+${i.offset}:${i.signed ? "s" : "u"}${i.size * 8}`); break;
        case "st": out.push(`  store ${arg(i.base)}+${i.offset}:${i.size * 8} = ${opnd(i.src)}`); break;
        case "atomic": out.push(`  ${i.dst ? `%${i.dst.id}:${ty(i.dst.type)} = atomic fetch add` : "atomic add"} %${i.ptr.id}+${i.offset}:${i.size * 8} += ${opnd(i.src)}`); break;
        case "addr": out.push(`  %${i.dst.id}:ptr = &stack#${i.object}+${i.offset}`); break;
        case "rodata": out.push(`  %${i.dst.id}:ptr = &rodata+${i.offset}`); break;
        case "bss": out.push(`  %${i.dst.id}:ptr = &bss+${i.offset}`); break;
      }
    }
    const t = b.term;
    if (!t) out.push("  <open>");
    else if (t.op === "jmp") out.push(`  jmp b${t.target}`);
    else if (t.op === "br") out.push(`  br ${t.signed ? "s" : "u"}${t.cmp} ${opnd(t.a)}, ${opnd(t.b)} ? b${t.then} : b${t.else}`);
    else out.push(`  ret ${opnd(t.value)}`);
  }
  return out.join("\n");
}
