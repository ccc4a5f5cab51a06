// Subprograms as the object's BTF describes them (func_info): each one's name and linkage, and a global function's
// arguments as the kernel derives them from its prototype (btf_prepare_func_args). The kernel verifies a global
// function once, on its own, from these arguments; a call only checks the caller's registers against them.

import { type Btf, BtfKind, btfKindName } from "../btf/index.js";
import { BtfFuncLinkage, isModifierKind, type BtfFuncProto } from "../btf/types.js";
import { NOT_MODELLED } from "./env.js";
import { ProgTypeId } from "./progtypes.js";

/** The object's BTF and, per subprogram start (an instruction of the linked program), its FUNC's id. */
export interface FunctionsBtf {
  btf: Btf;
  funcInfo: readonly { insn: number; typeId: number }[];
}

/** A global function's argument: any scalar, the program's context, or memory of a size (maybe NULL). */
export type FuncArg = { kind: "scalar" } | { kind: "ctx" } | { kind: "mem"; size: number; nullable: boolean };

export interface Subprog {
  name: string;
  global: boolean;
  /** The arguments (global functions), or the kernel's reason it cannot use the prototype. */
  args?: FuncArg[] | { error: string };
}

const MAX_ARGS = 5;

/** The context struct a program type's global functions take by name (the kernel's bpf_ctx_convert), where it has one. */
const CTX_STRUCT: Record<number, string> = {
  [ProgTypeId.socket_filter]: "__sk_buff",
  [ProgTypeId.kprobe]: "pt_regs",
  [ProgTypeId.sched_cls]: "__sk_buff",
  [ProgTypeId.sched_act]: "__sk_buff",
  [ProgTypeId.xdp]: "xdp_md",
  [ProgTypeId.perf_event]: "bpf_perf_event_data",
  [ProgTypeId.cgroup_skb]: "__sk_buff",
  [ProgTypeId.cgroup_sock]: "bpf_sock",
  [ProgTypeId.lwt_in]: "__sk_buff",
  [ProgTypeId.lwt_out]: "__sk_buff",
  [ProgTypeId.lwt_xmit]: "__sk_buff",
  [ProgTypeId.sock_ops]: "bpf_sock_ops",
  [ProgTypeId.sk_skb]: "__sk_buff",
  [ProgTypeId.cgroup_device]: "bpf_cgroup_dev_ctx",
  [ProgTypeId.sk_msg]: "sk_msg_md",
  [ProgTypeId.raw_tracepoint]: "bpf_raw_tracepoint_args",
  [ProgTypeId.cgroup_sock_addr]: "bpf_sock_addr",
  [ProgTypeId.lwt_seg6local]: "__sk_buff",
  [ProgTypeId.sk_reuseport]: "sk_reuseport_md",
  [ProgTypeId.flow_dissector]: "__sk_buff",
  [ProgTypeId.cgroup_sysctl]: "bpf_sysctl",
  [ProgTypeId.raw_tracepoint_writable]: "bpf_raw_tracepoint_args",
  [ProgTypeId.cgroup_sockopt]: "bpf_sockopt",
  [ProgTypeId.sk_lookup]: "bpf_sk_lookup",
};
/** The kernel structs a context struct stands for (btf_is_projection_of). */
const PROJECTION: Record<string, string> = { __sk_buff: "sk_buff", xdp_md: "xdp_buff" };

/** Each subprogram by its index (the kernel's func#N), from func_info; undefined when it does not cover every start. */
export function subprogsOf(fns: FunctionsBtf, starts: readonly number[]): Subprog[] | undefined {
  const byInsn = new Map(fns.funcInfo.map((f) => [f.insn, f.typeId]));
  const out: Subprog[] = [];
  for (const start of starts.slice(0, -1)) {
    const id = byInsn.get(start);
    if (id === undefined) return undefined;
    const t = fns.btf.typeById(id);
    if (t.kind !== BtfKind.FUNC) return undefined;
    out.push({ name: t.name, global: t.linkage === BtfFuncLinkage.GLOBAL });
  }
  return out;
}

const skipModifiers = (btf: Btf, id: number): number => {
  for (let n = 0; n < 32 && isModifierKind(btf.kindOf(id)); n++) id = (btf.typeById(id) as { type: number }).type;
  return id;
};

/** The kernel's btf_type_str: the kind's name, void as UNKNOWN. */
const kindStr = (btf: Btf, id: number): string => (id === 0 ? "UNKNOWN" : btfKindName(btf.kindOf(id)));

/** Whether a pointer's target is the program type's context (btf_is_prog_ctx_type), by the struct's name. */
function isCtxPointer(btf: Btf, ptr: number, progType: number): boolean {
  let id = (btf.typeById(ptr) as { type: number }).type;
  if (progType === ProgTypeId.kprobe) {
    while (isModifierKind(btf.kindOf(id)) && btf.kindOf(id) !== BtfKind.TYPEDEF) id = (btf.typeById(id) as { type: number }).type;
    if (btf.kindOf(id) === BtfKind.TYPEDEF && btf.nameOf(id) === "bpf_user_pt_regs_t") return true;
  }
  id = skipModifiers(btf, id);
  if (btf.kindOf(id) !== BtfKind.STRUCT) return false;
  const want = CTX_STRUCT[progType];
  const name = btf.nameOf(id);
  return want !== undefined && (name === want || PROJECTION[want] === name);
}

/**
 * A global function's arguments from its FUNC (btf_prepare_func_args), or the kernel's reason it cannot take them.
 * Tags and types the model does not check (trusted and untrusted kernel pointers, arenas, dynptrs) throw NOT_MODELLED
 * in the reason.
 */
export function prepareFuncArgs(btf: Btf, funcId: number, progType: number): FuncArg[] | { error: string } {
  const fn = btf.typeById(funcId) as { name: string; type: number };
  const proto = btf.typeById(fn.type) as BtfFuncProto;
  const name = fn.name;
  if (proto.params.length > MAX_ARGS) return { error: `Global function ${name}() with ${proto.params.length} > ${MAX_ARGS} args. Buggy compiler.` };
  const ret = btf.kindOf(skipModifiers(btf, proto.returnType));
  if (ret !== BtfKind.INT && ret !== BtfKind.ENUM && ret !== BtfKind.ENUM64) return { error: `Global function ${name}() doesn't return scalar. Only those are supported.` };
  const tags = new Map<number, string[]>();
  for (let id = 1; id < btf.typeCount; id++) {
    if (btf.kindOf(id) !== BtfKind.DECL_TAG) continue;
    const t = btf.typeById(id) as { name: string; type: number; componentIdx: number };
    if (t.type !== funcId || !t.name.startsWith("arg:")) continue;
    tags.set(t.componentIdx, [...(tags.get(t.componentIdx) ?? []), t.name.slice(4)]);
  }
  const args: FuncArg[] = [];
  for (let i = 0; i < proto.params.length; i++) {
    const tagged = tags.get(i) ?? [];
    for (const tag of tagged) {
      if (tag === "trusted" || tag === "untrusted" || tag === "nullable" || tag === "arena") return { error: `arg#${i} tagged arg:${tag}: such arguments are ${NOT_MODELLED}` };
      if (tag !== "ctx" && tag !== "nonnull") return { error: `arg#${i} has unsupported set of tags` };
    }
    const t = skipModifiers(btf, proto.params[i]!.type);
    const kind = btf.kindOf(t);
    if (kind !== BtfKind.PTR) {
      if (tagged.length) return { error: `arg#${i} has pointer tag, but is not a pointer type` };
      if (kind === BtfKind.INT || kind === BtfKind.ENUM || kind === BtfKind.ENUM64) {
        args.push({ kind: "scalar" });
        continue;
      }
      return { error: `Arg#${i} type ${kindStr(btf, t)} in ${name}() is not supported yet.` };
    }
    const target = skipModifiers(btf, (btf.typeById(t) as { type: number }).type);
    if (tagged.includes("ctx") || isCtxPointer(btf, t, progType)) {
      if (tagged.length > 1) return { error: `arg#${i} has invalid combination of tags` };
      // arg:ctx on a pointer to something other than void or the context struct: the kernel's rules vary by type
      if (tagged.includes("ctx") && target !== 0 && !isCtxPointer(btf, t, progType)) return { error: `arg#${i} tagged arg:ctx on a typed pointer: ${NOT_MODELLED}` };
      args.push({ kind: "ctx" });
      continue;
    }
    if (btf.kindOf(target) === BtfKind.STRUCT && btf.nameOf(target) === "bpf_dynptr") return { error: `arg#${i} is a dynptr: dynptr arguments are ${NOT_MODELLED}` };
    let size: number;
    try {
      if (target === 0 || btf.kindOf(target) === BtfKind.FWD || btf.kindOf(target) === BtfKind.FUNC_PROTO) throw new Error();
      size = btf.sizeOf(target);
    } catch {
      return { error: `arg#${i} reference type('${kindStr(btf, target)} ${btf.nameOf(target)}') size cannot be determined: -22` };
    }
    args.push({ kind: "mem", size, nullable: !tagged.includes("nonnull") });
  }
  return args;
}
