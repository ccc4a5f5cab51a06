// Comparing the model's verdict and reason on assembled programs with the running kernel's (BPF_PROG_LOAD).

import { encode, type Insn } from "../../compiler/isa/index.js";
import { verify, type VerifyOptions } from "../../compiler/verifier/index.js";
import { BpfLoadError, type openSys } from "../../runtime/sys/index.js";

export type Sys = ReturnType<typeof openSys>;

export interface KernelVerdict {
  accepted: boolean;
  /** The verifier's log when it refused. */
  why: string;
}

/** The kernel's verdict on `insns` as a program of `progType`, each map LDDW's fd replaced by the real one in `fds`. */
export function kernelVerdict(sys: Sys, insns: readonly Insn[], progType: number, fds: ReadonlyMap<number, number> = new Map()): KernelVerdict {
  const forKernel = insns.map((x) => (x.code === 0x18 && fds.has(x.imm) ? { ...x, imm: fds.get(x.imm)! } : x));
  try {
    sys.close(sys.progLoad({ type: progType, insns: encode(forKernel) }).fd);
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

/** Where the model and the kernel differ on `cases`, one line each (empty when they agree). */
export function disagreements(sys: Sys, cases: readonly Case[], options: VerifyOptions, fds: ReadonlyMap<number, number> = new Map()): string[] {
  const problems: string[] = [];
  for (const [name, insns, reason] of cases) {
    const kernel = kernelVerdict(sys, insns, options.progType, fds);
    const model = verify(insns, options);
    const said = model.error ? `rejects at ${model.error.pc}: ${model.error.message}` : "accepts";
    const kernelSaid = kernel.accepted ? "accepts" : `rejects: ${kernel.why.trim().split("\n").slice(-3).join(" | ")}`;
    if (model.accepted !== kernel.accepted) problems.push(`${name}: the model ${said}, the kernel ${kernelSaid}`);
    else if (reason && !(reason.test(kernel.why) && reason.test(model.error?.message ?? ""))) problems.push(`${name}: ${reason} is not in both reasons; the model ${said}; the kernel ${kernelSaid}`);
    else if (reason === undefined && !kernel.accepted) problems.push(`${name}: the kernel ${kernelSaid}, the case expects an accept`);
  }
  return problems;
}
