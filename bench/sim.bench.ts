// Probe firings per second in the simulator: the unlink example's kprobe (pid, a CO-RE read of
// filename->name, printk) fired through sim.kprobe() on each VM tier, the interpreter being the peer
// the other tiers are compared with. The kernel cannot be the peer here: kprobe programs do not
// support BPF_PROG_TEST_RUN, and printk at this rate would flood the machine-wide trace buffer.
// Takes nothing; gives BenchTable[] for bench/run.ts (`npm run bench -- sim`).
//
// Each measurement runs in PROCESSES fresh processes (this file run as a script, see the end) and
// the table gives their median and range: on the development machine one process can run every
// part of a firing uniformly about 1.8x slower than the next, for its whole life or for a stretch
// of it (see the Simulator section of bench/README.md), so one process's figure is not repeatable.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { simulate, type Simulation } from "../runtime/test/index.js";
import type { BenchTable } from "./run.js";

const FIRINGS = 10_000;
const ROUNDS = 15;
const PROCESSES = 5;
const TIERS = ["interpreter", "compiled", "auto"] as const;
type TierName = (typeof TIERS)[number];

interface Rate {
  perSec: number;
  wallPerSec: number;
  insns: number;
}

async function rate(tier: TierName): Promise<Rate> {
  const sim: Simulation = await simulate("examples/unlink.ts", { tier });
  const name = sim.kernel.alloc("filename", { name: "/tmp/bench" });
  const fire = (): number => {
    const r = sim.kprobe("do_unlinkat", { args: [-100, name], pid: 42 });
    // Keep the printk log from growing without bound.
    sim.clearTrace();
    return r.instructions;
  };
  for (let i = 0; i < 2_000; i++) fire(); // warm up (and let "auto" compile)
  let insns = 0;
  let best = 0;
  let bestWall = 0;
  for (let round = 0; round < ROUNDS; round++) {
    sim.runs.length = 0;
    // Per CPU time of this process, as bench/vm does: on a shared machine wall time mostly measures
    // how long the process waited for a core.
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < FIRINGS; i++) insns = fire();
    const ns = Number(process.hrtime.bigint() - t0);
    const cpu = process.cpuUsage(cpu0);
    best = Math.max(best, (FIRINGS * 1e6) / (cpu.user + cpu.system));
    bestWall = Math.max(bestWall, (FIRINGS * 1e9) / ns);
  }
  sim.runs.length = 0;
  return { perSec: best, wallPerSec: bestWall, insns };
}

const self = fileURLToPath(import.meta.url);

/** One process's rates for every tier, measured in turn as a lone run of this file. */
function measureInChild(): Record<TierName, Rate> {
  const r = spawnSync(process.execPath, ["--import", "tsx", self, "--child"], { encoding: "utf8", maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`sim bench child failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<TierName, Rate>;
}

const median = (v: readonly number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (v: number): string => Math.round(v).toLocaleString("en-US");

export default async function (): Promise<BenchTable[]> {
  const runs: Record<TierName, Rate>[] = [];
  for (let p = 0; p < PROCESSES; p++) runs.push(measureInChild());
  const of = (tier: TierName, key: keyof Rate): number[] => runs.map((r) => r[tier][key]);
  const interp = median(of("interpreter", "perSec"));
  const row = (tier: TierName): (string | number)[] => {
    const cpu = of(tier, "perSec");
    return [
      tier,
      fmt(median(cpu)),
      `${fmt(Math.min(...cpu))} - ${fmt(Math.max(...cpu))}`,
      fmt(median(of(tier, "wallPerSec"))),
      runs[0]![tier].insns,
      (median(cpu) / interp).toFixed(2),
    ];
  };
  return [
    {
      title: "Simulator: unlink kprobe firings per second (sim.kprobe, pt_regs + run + printk)",
      columns: ["tier", "firings/s (CPU, median)", "range over processes", "firings/s (wall, median)", "insns/firing", "x interpreter"],
      rows: TIERS.map(row),
      notes: [
        `Each process: best of ${ROUNDS} rounds of ${FIRINGS} firings (after 2,000 warm-up firings) per tier, per second of its CPU time (and of wall time); median and range over ${PROCESSES} fresh processes. Each firing writes the pt_regs context, runs the program and records its printk line (formatted only when read).`,
        "A firing's cost is mostly outside the program's 17 instructions (context, the helpers, the run and trace records); the compiled tier's run entry allocates nothing, so it is faster than the interpreter even on programs this short, and \"auto\" compiles a probe after a few hundred firings.",
      ],
    },
  ];
}

// Run as a script with --child: measure every tier in this process and print the rates as JSON.
if (process.argv[1] === self && process.argv.includes("--child")) {
  const out: Partial<Record<TierName, Rate>> = {};
  for (const tier of TIERS) out[tier] = await rate(tier);
  console.log(JSON.stringify(out));
}
