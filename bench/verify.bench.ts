// The verifier model's speed beside the kernel's verifier: time per program over the kernel's own
// selftests (the instruction-array cases that need no fixups) and over every program of the examples,
// with the kernel's "verification time N usec" (log_level BPF_LOG_STATS) measured in the same run.
// Takes nothing; gives BenchTable[] for bench/run.ts (`npm run bench -- verify`).
//
// The model's time per program is its CPU time per run (batched, after a warm-up pass over the corpus),
// the kernel's the median of three loads. Goals: median under 1 ms; no program over 10x the kernel.

import { readdirSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../compiler/index.js";
import { decode, encode, type Insn } from "../compiler/isa/index.js";
import { verify, type MapDesc, type VerifyOptions } from "../compiler/verifier/index.js";
import { encodeProgram, hasCoreRelocations, kernelBtf, linkProgram, openObject, resolveCore } from "../runtime/loader/index.js";
import { BpfLoadError, LogLevel, missingBpf, missingRoot, openSys, type Sys } from "../runtime/sys/index.js";
import { isPlain, loadSelftests, modelFlags, progFlags, toInsns } from "../test/verifier/selftests.js";
import type { BenchTable } from "./run.js";
import { exampleProbes } from "../test/support/examples.js";

interface Sample {
  name: string;
  insns: Insn[];
  options: VerifyOptions;
  /** BPF_PROG_LOAD for the kernel side; undefined when the kernel cannot be asked. */
  load?: (sys: Sys) => string;
  modelUs: number;
  processed: number;
  kernelUs: number | undefined;
}

/**
 * CPU time of one run of `f` in microseconds: batches of runs spanning about 2 ms of CPU, median of three.
 * CPU time, not wall time, so other processes on a busy machine do not inflate the model's figures.
 */
function timeUs(f: () => void): number {
  const batches: number[] = [];
  let n = 1;
  while (batches.length < 3) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) f();
    const d = process.cpuUsage(t0);
    const spent = d.user + d.system;
    if (spent < 2000 && n < 1 << 16) {
      n *= 2;
      continue;
    }
    batches.push(spent / n);
  }
  return median(batches);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

/** The kernel's own measure from a BPF_LOG_STATS log. */
const kernelTime = (log: string): number | undefined => {
  const m = /verification time (\d+) usec/.exec(log);
  return m ? Number(m[1]) : undefined;
};

/** Loads, gives the log whether the kernel accepts or rejects. */
function loadLog(sys: Sys, attempt: () => { fd: number; log: string }): string {
  try {
    const { fd, log } = attempt();
    sys.close(fd);
    return log;
  } catch (e) {
    if (e instanceof BpfLoadError) return e.log;
    throw e;
  }
}

function selftestSamples(): Sample[] {
  return loadSelftests()
    .filter(isPlain)
    .map((c) => {
      const insns = toInsns(c);
      const bytes = encode(insns);
      return {
        name: c.descr,
        insns,
        options: { progType: c.prog_type, expectedAttachType: c.expected_attach_type, flags: modelFlags(c) },
        load: (sys: Sys) =>
          loadLog(sys, () =>
            sys.progLoad({ type: c.prog_type || 1, insns: bytes, license: "GPL", expectedAttachType: c.expected_attach_type, flags: progFlags(c), logLevel: LogLevel.STATS, logSize: 1 << 16 }),
          ),
        modelUs: 0,
        processed: 0,
        kernelUs: undefined,
      };
    });
}

/** Every program of every example, linked as `tsbpf verify` and the loader link it. */
function exampleSamples(): Sample[] {
  const out: Sample[] = [];
  for (const f of exampleProbes()) {
    const r = compile(join("examples", f));
    if (r.diagnostics.length) continue;
    const spec = openObject(r.object, { name: f.replace(/\.ts$/, "") });
    let core;
    try {
      core = hasCoreRelocations(spec.raw) ? resolveCore(spec.raw, kernelBtf()) : undefined;
    } catch {
      core = undefined;
    }
    const maps: MapDesc[] = spec.maps.map((m, i) => ({ fd: 100 + i, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags }));
    for (const p of spec.programs) {
      const linked = linkProgram(spec, p, core);
      const insns = decode(encodeProgram(linked, maps.map((m) => m.fd)), { check: false });
      out.push({
        name: `${f}: ${p.name}`,
        insns,
        options: { progType: p.type, expectedAttachType: p.expectedAttachType ?? 0, maps },
        load: (sys: Sys) => {
          // Real maps for the kernel side, created and frozen as the loader does.
          const fds = spec.maps.map((m) => {
            const fd = sys.mapCreate({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, name: m.kernelName });
            if (m.initial) sys.mapUpdate(fd, new Uint8Array(4), m.initial);
            if (m.freeze) sys.mapFreeze(fd);
            return fd;
          });
          try {
            const bytes = encodeProgram(linked, fds);
            return loadLog(sys, () => sys.progLoad({ type: p.type, insns: bytes, license: spec.license, expectedAttachType: p.expectedAttachType, logLevel: LogLevel.STATS }));
          } finally {
            for (const fd of fds) sys.close(fd);
          }
        },
        modelUs: 0,
        processed: 0,
        kernelUs: undefined,
      });
    }
  }
  return out;
}

function measure(samples: Sample[], sys: Sys | undefined): void {
  for (const s of samples) verify(s.insns, s.options); // warm-up: the JIT sees every path once
  for (const s of samples) {
    s.processed = verify(s.insns, s.options).processed;
    s.modelUs = timeUs(() => verify(s.insns, s.options));
    if (sys && s.load) {
      const times = [0, 1, 2].map(() => kernelTime(s.load!(sys))).filter((t): t is number => t !== undefined);
      if (times.length) s.kernelUs = median(times);
    }
  }
}

const us = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
// The kernel reports whole microseconds; 0 is counted as 1 so ratios stay finite.
const ratioOf = (s: Sample): number => s.modelUs / Math.max(1, s.kernelUs!);

function summaryRow(corpus: string, samples: Sample[]): (string | number)[] {
  const model = samples.map((s) => s.modelUs);
  const paired = samples.filter((s) => s.kernelUs !== undefined);
  const ratios = paired.map(ratioOf);
  const worst = paired.reduce<Sample | undefined>((w, s) => (!w || ratioOf(s) > ratioOf(w) ? s : w), undefined);
  return [
    corpus,
    samples.length,
    us(median(model)),
    us(quantile(model, 0.9)),
    us(Math.max(...model)),
    paired.length ? us(median(paired.map((s) => s.kernelUs!))) : "-",
    ratios.length ? median(ratios).toFixed(2) : "-",
    worst ? `${ratioOf(worst).toFixed(1)} (${worst.name.slice(0, 40)})` : "-",
    ratios.filter((r) => r > 10).length,
  ];
}

export default async function (): Promise<BenchTable[]> {
  const reason = missingRoot() ?? missingBpf();
  const sys = reason ? undefined : openSys();
  const selftests = selftestSamples();
  const examples = exampleSamples();
  measure(selftests, sys);
  measure(examples, sys);

  const notes = [
    "Model: CPU time per verify() run (batches of about 2 ms, median of three; after a warm-up pass). Kernel: median of three BPF_PROG_LOADs' own",
    "\"verification time N usec\" (log_level 4); the kernel counts whole microseconds, so 0 is taken as 1 in ratios.",
    "Selftests: the 6.12 instruction-array cases without fixups; rejected cases count too (both sides stop at the error).",
  ];
  if (reason) notes.push(`Kernel columns skipped: ${reason}.`);
  const all = [...selftests, ...examples].filter((s) => s.kernelUs !== undefined);
  const slowest = [...all].sort((a, b) => ratioOf(b) - ratioOf(a)).slice(0, 8);
  return [
    {
      title: "Verifier model vs kernel verifier: time per program (µs)",
      columns: ["corpus", "programs", "model median", "model p90", "model max", "kernel median", "median ratio", "worst ratio (program)", "> 10x"],
      rows: [summaryRow("selftests (no fixups)", selftests), summaryRow("examples", examples)],
      notes,
    },
    {
      title: "Highest model/kernel ratios",
      columns: ["program", "insns processed", "model µs", "kernel µs", "ratio"],
      rows: slowest.map((s) => [s.name.slice(0, 60), s.processed, us(s.modelUs), s.kernelUs!, ratioOf(s).toFixed(1)]),
    },
    {
      title: "Examples, per program",
      columns: ["program", "insns processed", "model µs", "kernel µs", "ratio"],
      rows: examples.map((s) => [s.name, s.processed, us(s.modelUs), s.kernelUs ?? "-", s.kernelUs !== undefined ? ratioOf(s).toFixed(2) : "-"]),
    },
  ];
}
