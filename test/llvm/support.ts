// Shared by the LLVM backend tests: compile one probe with both backends, and run both objects in
// the VM (runtime/test's simulate(): the loader's linking and CO-RE, the verifier model, then the
// interpreter over a SimKernel) on the same contexts, collecting printk lines and return values.
// On a disagreement, the message carries both disassemblies.

import { compile, type CompileInput, type CompileOptions, type CompileResult } from "../../compiler/index.js";
import { disassemble } from "../../compiler/isa/index.js";
import { compileLowered, missingLlvm } from "../../compiler/llvm/index.js";
import { simulate, type MapView } from "../../runtime/test/index.js";
import { PerCpuArrayMap } from "../../runtime/vm/index.js";

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

export interface RunOptions {
  /** The kernel BTF CO-RE relocations resolve against. */
  btf?: string;
  /** Run the verifier model on load (default true). */
  verify?: boolean;
  /**
   * Maps whose bytes are dumped after each program's runs (`maps` of the result, by program; a
   * function names them per program, e.g. only those it uses); the contexts of a program then
   * run on CPUs 0, 1, 0, ... so that per-CPU values differ.
   */
  maps?: readonly string[] | ((program: string) => readonly string[]);
}

/** Runs every named program of an object on each of its contexts, in the VM. */
export async function runAll(
  object: Uint8Array,
  contexts: ReadonlyMap<string, readonly Uint8Array[]>,
  options: RunOptions = {},
): Promise<Map<string, Outcome[]> & { maps?: Map<string, string> }> {
  const sim = await simulate(object, { tier: "interpreter", btf: options.btf, verify: options.verify ?? true });
  const out: Map<string, Outcome[]> & { maps?: Map<string, string> } = new Map();
  const names = options.maps;
  const views = names && ((program: string) => (typeof names === "function" ? names(program) : names).map((name) => sim.map(name)));
  if (views) out.maps = new Map();
  for (const [program, ctxs] of contexts) {
    out.set(
      program,
      ctxs.map((ctx, n) => {
        sim.clearTrace();
        try {
          const r = sim.run(program, ctx, views ? { cpu: n % 2 } : {});
          return { r0: r.r0, trace: sim.trace() };
        } catch (e) {
          return { trace: sim.trace(), error: (e as Error).message.split("\n")[0] };
        }
      }),
    );
    if (views) out.maps!.set(program, views(program).map(dumpMap).join("\n"));
  }
  return out;
}

/** A map's contents as bytes (padding included), one line: `name: key=value ...`, keys sorted, per-CPU values joined by `/`. */
export function dumpMap(view: MapView): string {
  const m = view.map;
  const hex = (b: Uint8Array | readonly Uint8Array[] | undefined): string => (b === undefined ? "-" : b instanceof Uint8Array ? Buffer.from(b).toString("hex") : b.map(hex).join("/"));
  let entries: [string, string][];
  if (m instanceof PerCpuArrayMap) entries = Array.from({ length: m.maxEntries }, (_, i) => [String(i), hex(m.lookup(i))]);
  else if ("entries" in m && typeof m.entries === "function") {
    const list = (m.entries as () => [Uint8Array | number, Uint8Array | Uint8Array[]][])();
    entries = list.map(([k, v]) => [typeof k === "number" ? String(k) : hex(k), hex(v)]);
  } else throw new Error(`map ${view.name}: a ${m.type} map has no entries to dump`);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${view.name}: ${entries.map(([k, v]) => `${k}=${v}`).join(" ")}`;
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
