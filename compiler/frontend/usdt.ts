// USDT arguments, read as libbpf's usdt.bpf.h reads them, so that one loader serves tsbpf's and clang's objects.
// Takes a handler's FunctionBuilder and its parameters' registers; gives the IR that fills them, and the map it reads.
//
// A USDT probe's arguments are not in fixed registers: each site's note describes where each one is (a register, memory
// at a register plus an offset, or a constant: `-4@%edi 8@-8(%rbp) 4@$5`), and one probe may have sites whose specs
// differ. The loader parses the notes, writes each distinct spec into the `__bpf_usdt_specs` array and attaches each
// site with its spec's index as the BPF cookie; the program looks its spec up by bpf_get_attach_cookie() and decodes
// every argument at run time. Layouts follow struct __bpf_usdt_spec and __bpf_usdt_arg_spec in libbpf's usdt.bpf.h.

import { Helper } from "../isa/helpers.js";
import { ArgSpec, USDT_MAX_ARGS, USDT_SPECS_MAP, UsdtArgType, UsdtSpec } from "../object/usdt-spec.js";
import { FunctionBuilder, I16, I32, I64, PTR, U32, U64, U8, type Layout, type Loc, type MapDef, type VReg } from "../ir/index.js";

const MAX_SPECS = 256;
const BPF_MAP_TYPE_ARRAY = 2;
const ARG_SIZE = ArgSpec.SIZE;
const { VAL_OFF, ARG_TYPE, REG_OFF, ARG_SIGNED, ARG_BITSHIFT } = ArgSpec;
const { USDT_COOKIE, ARG_CNT } = UsdtSpec;

const int = (type: typeof U64, size: 1 | 2 | 4 | 8): Layout => ({ kind: "int", type, size, align: size });
const ARG_SPEC: Layout = {
  kind: "struct",
  name: "__bpf_usdt_arg_spec",
  fields: [
    { name: "val_off", offset: VAL_OFF, layout: int(U64, 8) },
    { name: "arg_type", offset: ARG_TYPE, layout: int(U32, 4) },
    { name: "reg_off", offset: REG_OFF, layout: int(I16, 2) },
    { name: "arg_signed", offset: ARG_SIGNED, layout: int(U8, 1) },
    { name: "arg_bitshift", offset: ARG_BITSHIFT, layout: int(U8, 1) },
  ],
  size: ARG_SIZE,
  align: 8,
};
const SPEC: Layout = {
  kind: "struct",
  name: "__bpf_usdt_spec",
  fields: [
    { name: "args", offset: 0, layout: { kind: "array", element: ARG_SPEC, length: USDT_MAX_ARGS, size: USDT_COOKIE, align: 8 } },
    { name: "usdt_cookie", offset: USDT_COOKIE, layout: int(U64, 8) },
    { name: "arg_cnt", offset: ARG_CNT, layout: int(I16, 2) },
  ],
  size: UsdtSpec.SIZE,
  align: 8,
};

/** The spec array the loader fills: internal (never printed), one per object however many usdt() probes it has. */
export { USDT_MAX_ARGS, USDT_SPECS_MAP };

export const usdtSpecsMap = (): MapDef => ({ name: USDT_SPECS_MAP, type: BPF_MAP_TYPE_ARRAY, maxEntries: MAX_SPECS, key: int(I32, 4), value: SPEC, internal: true });

/**
 * Fills each register in `params` (argument 0 first) with its argument at this site, converted to the register's
 * type; an argument the site does not have (or a failed read) is 0, as bpf_usdt_arg() leaves it.
 * Only the spec pointer and the arguments already read stay live across the helper calls: every other field is
 * loaded from the spec where it is used, which keeps them all in callee-saved registers.
 */
export function emitUsdtArgs(fb: FunctionBuilder, params: readonly { reg: VReg; loc?: Loc }[]): void {
  if (!params.length) return;
  const loc = params[0]!.loc;
  const key = fb.stackObject(4, 4);
  const tmp = fb.stackObject(8);
  const cookie = fb.vreg(U64);
  fb.emit({ op: "call", helper: Helper.get_attach_cookie, args: [fb.ctx], dst: cookie, loc });
  fb.emit({ op: "st", base: { kind: "stack", object: key }, offset: 0, size: 4, src: cookie, loc });
  const spec = fb.vreg(PTR);
  fb.emit({ op: "call", helper: Helper.map_lookup_elem, args: [{ kind: "map", name: USDT_SPECS_MAP }, { kind: "stack", object: key }], dst: spec, loc });
  for (const p of params) fb.emit({ op: "mov", dst: p.reg, src: imm(0n, p.reg.type), loc });
  const found = fb.newBlock();
  const done = fb.newBlock();
  fb.terminate({ op: "br", cmp: "eq", signed: false, a: spec, b: imm(0n, PTR), then: done.id, else: found.id, loc });
  fb.enter(found);
  params.forEach((p, i) => {
    const next = i + 1 < params.length ? fb.newBlock() : done;
    emitArg(fb, spec, i, p.reg, tmp, next, p.loc);
    fb.enter(next);
  });
}

const imm = (value: bigint, type = U64) => ({ kind: "imm" as const, value, type });

/** Argument `i`: present when i < arg_cnt; a constant, a register, or memory at a register plus val_off; then narrowed. */
function emitArg(fb: FunctionBuilder, spec: VReg, i: number, dst: VReg, tmp: number, next: { id: number }, loc?: Loc): void {
  const at = i * ARG_SIZE;
  const field = (offset: number, size: 1 | 2 | 4 | 8, signed: boolean, type = signed ? I64 : U64): VReg => {
    const r = fb.vreg(type);
    fb.emit({ op: "load", dst: r, base: spec, offset, size, signed, loc });
    return r;
  };
  const present = fb.newBlock();
  // arg_cnt and reg_off are C shorts that are never negative (at most 12; offsets into pt_regs): read unsigned, no extension.
  fb.terminate({ op: "br", cmp: "le", signed: false, a: field(ARG_CNT, 2, false), b: imm(BigInt(i)), then: next.id, else: present.id, loc });
  fb.enter(present);
  const raw = fb.vreg(U64);
  const constant = fb.newBlock();
  const register = fb.newBlock();
  const deref = fb.newBlock();
  const narrow = fb.newBlock();
  fb.terminate({ op: "br", cmp: "eq", signed: false, a: field(at + ARG_TYPE, 4, false, U32), b: imm(BigInt(UsdtArgType.CONST), U32), then: constant.id, else: register.id, loc });

  fb.enter(constant);
  fb.emit({ op: "mov", dst: raw, src: field(at + VAL_OFF, 8, false), loc });
  fb.terminate({ op: "jmp", target: narrow.id, loc });

  // bpf_probe_read_kernel of the register's slot in pt_regs: the offset varies, and the verifier allows no
  // variable-offset load from the context.
  fb.enter(register);
  const slot = fb.vreg(PTR);
  fb.emit({ op: "bin", kind: "add", dst: slot, a: fb.ctx, b: field(at + REG_OFF, 2, false), loc });
  fb.emit({ op: "call", helper: Helper.probe_read_kernel, args: [{ kind: "stack", object: tmp }, imm(8n, U32), slot], loc });
  fb.emit({ op: "load", dst: raw, base: { kind: "stack", object: tmp }, offset: 0, size: 8, signed: false, loc });
  fb.terminate({ op: "br", cmp: "eq", signed: false, a: field(at + ARG_TYPE, 4, false, U32), b: imm(BigInt(UsdtArgType.REG_DEREF), U32), then: deref.id, else: narrow.id, loc });

  fb.enter(deref);
  const address = fb.vreg(PTR);
  fb.emit({ op: "bin", kind: "add", dst: address, a: raw, b: field(at + VAL_OFF, 8, false), loc });
  fb.emit({ op: "call", helper: Helper.probe_read_user, args: [{ kind: "stack", object: tmp }, imm(8n, U32), address], loc });
  fb.emit({ op: "load", dst: raw, base: { kind: "stack", object: tmp }, offset: 0, size: 8, signed: false, loc });
  fb.terminate({ op: "jmp", target: narrow.id, loc });

  // A 1-, 2- or 4-byte argument: shift its bytes to the top, then back, sign- or zero-extending as the spec says.
  fb.enter(narrow);
  const shift = field(at + ARG_BITSHIFT, 1, false);
  fb.emit({ op: "bin", kind: "shl", dst: raw, a: raw, b: shift, loc });
  const signExtend = fb.newBlock();
  const zeroExtend = fb.newBlock();
  fb.terminate({ op: "br", cmp: "ne", signed: false, a: field(at + ARG_SIGNED, 1, false, U32), b: imm(0n, U32), then: signExtend.id, else: zeroExtend.id, loc });
  fb.enter(signExtend);
  const value = fb.vreg(I64);
  fb.emit({ op: "bin", kind: "shr", dst: value, a: raw, b: shift, loc });
  fb.emit({ op: "mov", dst, src: value, loc });
  fb.terminate({ op: "jmp", target: next.id, loc });
  fb.enter(zeroExtend);
  fb.emit({ op: "bin", kind: "shr", dst: raw, a: raw, b: shift, loc });
  fb.emit({ op: "mov", dst, src: raw, loc });
  fb.terminate({ op: "jmp", target: next.id, loc });
}
