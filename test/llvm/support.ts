// Shared by the LLVM backend tests: compile one probe with both backends, and run both objects in
// the VM (runtime/test's simulate(): the loader's linking and CO-RE, the verifier model, then the
// interpreter over a SimKernel) on the same contexts, collecting printk lines and return values.
// On a disagreement, the message carries both disassemblies.

import { compile, type CompileInput, type CompileOptions, type CompileResult } from "../../compiler/index.js";
import { disassemble } from "../../compiler/isa/index.js";
import { compileLowered, missingLlvm } from "../../compiler/llvm/index.js";
import { simulate } from "../../runtime/test/index.js";

export const noLlvm = missingLlvm();

export interface Both {
  own: CompileResult;
  llvm: CompileResult;
}

/** Both backends from one frontend run: the lowered IR goes to LLVM first, then to our own code generator. */
export function compileBoth(input: CompileInput, options: CompileOptions = {}): Both {
  let llvm: CompileResult | undefined;
  const own = compile(input, { ...options, backend: "own", onLowered: (lowered, structs, source) => (llvm = compileLowered(lowered, structs, source)) });
  // A file the frontend rejects never reaches either backend: both report its diagnostics.
  return { own, llvm: llvm ?? own };
}

/** What one program did on one context: its r0 and printk lines, or the error it ended with. */
export interface Outcome {
  r0?: bigint;
  trace: string[];
  error?: string;
}

/** Runs every named program of an object on each of its contexts, in the VM. */
export async function runAll(object: Uint8Array, contexts: ReadonlyMap<string, readonly Uint8Array[]>, btf?: string, verify = true): Promise<Map<string, Outcome[]>> {
  const sim = await simulate(object, { tier: "interpreter", btf, verify });
  const out = new Map<string, Outcome[]>();
  for (const [program, ctxs] of contexts) {
    out.set(
      program,
      ctxs.map((ctx) => {
        sim.clearTrace();
        try {
          const r = sim.run(program, ctx);
          return { r0: r.r0, trace: sim.trace() };
        } catch (e) {
          return { trace: sim.trace(), error: (e as Error).message.split("\n")[0] };
        }
      }),
    );
  }
  return out;
}

/** Both disassemblies of one program, side by side in the failure message. */
export function disassemblies(both: Both, program: string): string {
  const show = (r: CompileResult, name: string): string => {
    const p = r.programs.find((x) => x.name === program);
    return `--- ${name} (${p?.insns.length ?? 0} instructions)\n${p ? disassemble(p.insns, { indices: true }).join("\n") : "(missing)"}`;
  };
  return `${show(both.own, "own backend")}\n${show(both.llvm, "LLVM backend")}`;
}

/** Little-endian u64s into bytes. */
export function words(values: readonly bigint[], size = values.length * 8): Uint8Array {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigUint64(i * 8, BigInt.asUintN(64, v), true));
  return bytes;
}
