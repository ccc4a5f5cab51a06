// VM tiers beside the kernel: M instructions/s of the interpreter and the compiled tier on (a) an
// ALU loop and (b) a stack load/store loop, and the same programs run by the kernel through
// BPF_PROG_TEST_RUN (socket filter, `repeat`) in the same process, with ratios tier / kernel.
// Takes nothing; gives BenchTable[] for bench/run.ts (`npm run bench -- vm`).
//
// The loops have a constant bound of 1,000 iterations so the kernel's verifier accepts them; every
// side runs the identical program many times. The kernel's rate is the VM's instruction count per
// run divided by the kernel's average run time (it executes the same instructions, JIT-compiled).

import { assemble, encode, type Insn } from "../compiler/isa/index.js";
import { Memory } from "../runtime/vm/memory.js";
import { interpret } from "../runtime/vm/interpreter.js";
import { prepare, type LoadedProgram } from "../runtime/vm/program.js";
import { runCompiled, compileStats } from "../runtime/vm/compiled/index.js";
import { missingBpf, missingRoot, openSys, ProgType } from "../runtime/sys/index.js";
import type { BenchTable } from "./run.js";

const ITERATIONS = 1000;

const ALU_LOOP = `
  r0 = 0
  r1 = 0
  r2 = 1
  r3 = 7
loop:
  r0 += r1
  w2 *= 3
  r3 ^= r2
  r3 <<= 3
  r3 >>= 1
  w4 = w3
  w4 += 0x1234
  r0 ^= r4
  r2 |= 5
  r0 -= r2
  r1 += 1
  if r1 < ${ITERATIONS} goto loop
  exit`;

const STACK_LOOP = `
  r1 = 0
  *(u64 *)(r10 -8) = 0
  *(u64 *)(r10 -16) = 0
loop:
  r2 = *(u64 *)(r10 -8)
  r2 += r1
  *(u64 *)(r10 -8) = r2
  r3 = *(u32 *)(r10 -16)
  w3 ^= w2
  *(u32 *)(r10 -16) = r3
  *(u8 *)(r10 -17) = r3
  r4 = *(u8 *)(r10 -17)
  r1 += 1
  if r1 < ${ITERATIONS} goto loop
  r0 = *(u64 *)(r10 -8)
  exit`;

type RunFn = (p: LoadedProgram) => { r0: bigint; instructions: number };

/** Best-of-rounds M instructions/s of `run` on `program`, each round lasting about `ms`. */
function measure(run: RunFn, program: LoadedProgram, ms: number, rounds = 5): { mips: number; r0: bigint; perRun: number } {
  let best = 0;
  let r0 = 0n;
  let perRun = 0;
  for (let warm = 0; warm < 200; warm++) run(program);
  for (let round = 0; round < rounds; round++) {
    let insns = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < ms) {
      for (let k = 0; k < 50; k++) {
        const r = run(program);
        insns += r.instructions;
        r0 = r.r0;
        perRun = r.instructions;
      }
      t = performance.now();
    }
    // Per CPU time of this process, not wall time: on a shared machine wall time mostly
    // measures how long the process waited for a core.
    const cpu = process.cpuUsage(cpu0);
    best = Math.max(best, insns / (cpu.user + cpu.system));
  }
  return { mips: best, r0, perRun };
}

/** The kernel's M instructions/s for `insns` executing `perRun` VM-counted instructions, or a reason. */
function kernelRate(insns: Insn[], perRun: number): { mips: number; retval: number } | string {
  const reason = missingRoot() ?? missingBpf();
  if (reason !== undefined) return reason;
  const sys = openSys();
  const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: encode(insns) });
  try {
    const data = new Uint8Array(64);
    let best = Infinity;
    let retval = 0;
    for (let round = 0; round < 5; round++) {
      const r = sys.progTestRun(fd, { dataIn: data, dataSizeOut: 0, repeat: 20_000 });
      best = Math.min(best, r.duration);
      retval = r.retval;
    }
    return { mips: (perRun / best) * 1000, retval };
  } finally {
    sys.close(fd);
  }
}

const fmt = (x: number): string => x.toFixed(0);
const ratio = (a: number, b: number | undefined): string => (b === undefined ? "-" : (a / b).toFixed(2));

export default async function (): Promise<BenchTable[]> {
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  for (const [name, text] of [
    ["ALU loop (12 insns x 1000)", ALU_LOOP],
    ["stack load/store loop (10 insns x 1000)", STACK_LOOP],
  ] as const) {
    const insns = assemble(text);
    const program = prepare(insns, { memory: new Memory(), helpers: new Map() });
    const interp = measure(interpret, program, 300);
    const compiled = measure(runCompiled, program, 300);
    if (compiled.r0 !== interp.r0 || compiled.perRun !== interp.perRun) throw new Error(`${name}: the tiers disagree`);
    const kernel = kernelRate(insns, interp.perRun);
    let k: number | undefined;
    if (typeof kernel === "string") notes.push(`${name}: kernel column skipped (${kernel}).`);
    else {
      k = kernel.mips;
      if (kernel.retval !== Number(interp.r0 & 0xffffffffn)) notes.push(`${name}: kernel r0 ${kernel.retval} differs from the VM's ${interp.r0}.`);
    }
    rows.push([name, fmt(interp.mips), fmt(compiled.mips), k === undefined ? "-" : fmt(k), ratio(interp.mips, k), ratio(compiled.mips, k), (compiled.mips / interp.mips).toFixed(1)]);
  }
  notes.push(
    "M insn/s = instructions executed (as the VM counts them) per microsecond of this process's CPU time; best of 5 rounds. Kernel: BPF_PROG_TEST_RUN, repeat 20000, average run time (JIT as configured).",
    `Compile cost: ${compileStats.compiled} programs compiled in ${compileStats.ms.toFixed(1)} ms.`,
  );
  return [
    {
      title: "VM tiers vs kernel: M instructions/s",
      columns: ["program", "interpreter", "compiled", "kernel", "interp/kernel", "compiled/kernel", "compiled/interp"],
      rows,
      notes,
    },
  ];
}
