// Comparing the model's verdict and reason on assembled programs with the running kernel's (BPF_PROG_LOAD).

import { BtfBuilder, BtfIntEncoding, BtfKind, encodeKernelInfo, parseBtf } from "../../compiler/btf/index.js";
import { encode, type Insn } from "../../compiler/isa/index.js";
import { verify, type VerifyOptions } from "../../compiler/verifier/index.js";
import { BpfLoadError, type ProgLoadOptions, type openSys } from "../../runtime/sys/index.js";

export type Sys = ReturnType<typeof openSys>;

export interface KernelVerdict {
  accepted: boolean;
  /** The verifier's log when it refused. */
  why: string;
}

/** The kernel's verdict on `insns` as a program of `progType`, each map LDDW's fd replaced by the real one in `fds`. */
export function kernelVerdict(sys: Sys, insns: readonly Insn[], progType: number, fds: ReadonlyMap<number, number> = new Map(), load: Partial<ProgLoadOptions> = {}): KernelVerdict {
  const forKernel = insns.map((x) => (x.code === 0x18 && fds.has(x.imm) ? { ...x, imm: fds.get(x.imm)! } : x));
  try {
    sys.close(sys.progLoad({ type: progType, insns: encode(forKernel), ...load }).fd);
    return { accepted: true, why: "" };
  } catch (e) {
    if (!(e instanceof BpfLoadError)) throw e;
    return { accepted: false, why: e.log };
  }
}

/**
 * Name, program, and for a rejection a piece of the reason both the kernel and the model must give; `null` where the
 * kernel refuses without a reason of its own (the model's verdict alone is compared).
 */
export type Case = [string, Insn[], (RegExp | null)?];

/**
 * BTF describing `insns`' subprograms as clang's does: a static `int f<i>(void)` at each start (a call's or a callback
 * LDDW's target), main's included, global at the starts in `globals`. The kernel wants it for tail calls and LD_ABS
 * in subprograms, and for a function's address (a callback's LDDW).
 */
export function subprogramBtf(insns: readonly Insn[], globals: ReadonlySet<number> = new Set()): { data: Uint8Array; functions: NonNullable<VerifyOptions["functions"]>; load: Partial<ProgLoadOptions> } {
  const starts = new Set([0]);
  insns.forEach((x, pc) => {
    if ((x.code === 0x85 && x.src === 1) || (x.code === 0x18 && x.src === 4)) starts.add(pc + x.imm + 1);
  });
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const proto = b.add({ kind: BtfKind.FUNC_PROTO, name: "", returnType: int, params: [] });
  const funcInfo = [...starts].sort((x, y) => x - y).map((insn, i) => ({ insn, typeId: b.add({ kind: BtfKind.FUNC, name: `f${i}`, type: proto, linkage: globals.has(insn) ? 1 : 0 }) }));
  const data = b.toBytes();
  return { data, functions: { btf: parseBtf(data), funcInfo }, load: { funcInfo: encodeKernelInfo(8, funcInfo.map((f) => [f.insn, f.typeId])) } };
}

/**
 * Where the model and the kernel differ on `cases`, one line each (empty when they agree); with `btf`, each program's
 * subprograms are described to both by subprogramBtf, those `globals` names global.
 */
export function disagreements(
  sys: Sys, cases: readonly Case[], options: VerifyOptions, fds: ReadonlyMap<number, number> = new Map(), btf = false, globals: (insns: readonly Insn[]) => ReadonlySet<number> = () => new Set(),
): string[] {
  const problems: string[] = [];
  for (const [name, insns, reason] of cases) {
    let kernel: KernelVerdict;
    let model: ReturnType<typeof verify>;
    if (btf) {
      const described = subprogramBtf(insns, globals(insns));
      const btfFd = sys.btfLoad({ data: described.data }).fd;
      try {
        kernel = kernelVerdict(sys, insns, options.progType, fds, { ...described.load, btfFd });
      } finally {
        sys.close(btfFd);
      }
      model = verify(insns, { ...options, functions: described.functions });
    } else {
      kernel = kernelVerdict(sys, insns, options.progType, fds);
      model = verify(insns, options);
    }
    const said = model.error ? `rejects at ${model.error.pc}: ${model.error.message}` : "accepts";
    const kernelSaid = kernel.accepted ? "accepts" : `rejects: ${kernel.why.trim().split("\n").slice(-3).join(" | ")}`;
    if (model.accepted !== kernel.accepted) problems.push(`${name}: the model ${said}, the kernel ${kernelSaid}`);
    else if (reason && !(reason.test(kernel.why) && reason.test(model.error?.message ?? ""))) problems.push(`${name}: ${reason} is not in both reasons; the model ${said}; the kernel ${kernelSaid}`);
    else if (reason === undefined && !kernel.accepted) problems.push(`${name}: the kernel ${kernelSaid}, the case expects an accept`);
  }
  return problems;
}
