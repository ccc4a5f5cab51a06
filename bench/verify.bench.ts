// The verifier model's speed beside the kernel's verifier: time per program over the kernel's own
// selftests (the instruction-array cases that need no fixups) and over every program of the examples,
// with the kernel's "verification time N usec" (log_level BPF_LOG_STATS) measured in the same run.
// Takes nothing; gives BenchTable[] for bench/run.ts (`npm run bench -- verify`).
//
// Steady state on both sides, the median of repeats on both sides:
// - Model: a pass over the whole corpus first (every path compiled once) and a full garbage collection
//   per corpus. Then per program: a young-generation collection, warm-up runs (at least 20 and 20 ms
//   of CPU, and on, up to 1 s, until three batches in a row spend a process CPU time within 15% of
//   their main-thread CPU time: V8's background compiler is done with the paths this program takes,
//   and while it compiles, the process's time runs ahead of the thread's), then five timed
//   batches of about 2 ms, each after a young-generation collection (no batch pays for garbage made
//   before it). Time per run = batch CPU time / runs; the figure is the median of the five. Two clocks
//   over the same batches: the CPU time of the thread that runs verify() (CLOCK_THREAD_CPUTIME_ID,
//   through koffi), which the ratios and the first "> 10x" count use, as the kernel's figure is its
//   one verifying thread's; and the process's (every thread: the collector's helpers, and V8's
//   background compiler, which on a loaded machine keeps optimizing long after the warm-up), shown
//   beside it with its own "> 10x" count. Without koffi, the process's time stands for both.
// - Kernel: per program, one load whose time is not counted, then the median of five loads' own
//   "verification time N usec" (whole microseconds; 0 is taken as 1 in ratios).
// Goals: median under 1 ms; no program over 10x the kernel.

import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
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
  /** CPU time per run (µs) of the thread that runs verify() (the process's, without the thread clock). */
  modelUs: number;
  /** Process CPU time per run (µs): every thread. */
  processUs: number;
  processed: number;
  kernelUs: number | undefined;
}

// ---------------------------------------------------------------- clocks and the collector

/** CPU time of the calling thread in µs (clock_gettime(CLOCK_THREAD_CPUTIME_ID) through koffi), or null. */
async function threadClock(): Promise<(() => number) | null> {
  try {
    const koffi = (await import("koffi")).default;
    const libc = koffi.load("libc.so.6");
    koffi.struct("tsbpf_bench_timespec", { tv_sec: "int64", tv_nsec: "int64" });
    const clockGettime = libc.func("int clock_gettime(int, _Out_ tsbpf_bench_timespec *)");
    const CLOCK_THREAD_CPUTIME_ID = 3;
    return () => {
      const ts = { tv_sec: 0, tv_nsec: 0 };
      clockGettime(CLOCK_THREAD_CPUTIME_ID, ts);
      return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
    };
  } catch {
    return null;
  }
}

/** V8's collector, exposed at run time (the bench runs without --expose-gc). */
function collector(): (options?: { type: "minor" | "major" }) => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as (options?: { type: "minor" | "major" }) => void;
}

const processUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const WARM_US = 20_000;
const WARM_RUNS = 20;
const WARM_MAX_US = 1_000_000;
const WARM_SETTLED = 3;
const BATCH_US = 2_000;
const BATCHES = 5;

/**
 * Steady-state CPU time of one run of `f` in µs (see the file's head). Warm-up: at least WARM_RUNS
 * runs and WARM_US of CPU, and on until WARM_SETTLED batches in a row spend a process CPU time within
 * 15% of their main-thread time (V8's background compiler done with this program's paths), at most
 * WARM_MAX_US. Then BATCHES batches of about BATCH_US, each after a young-generation collection;
 * the median per-run time of each clock.
 */
function timeUs(f: () => void, gc: ReturnType<typeof collector>, thread: (() => number) | null): { threadUs: number; processUs: number } {
  gc({ type: "minor" });
  let runs = 0;
  let n = 1;
  let settled = 0;
  let per = 0;
  const w0 = processUs();
  for (;;) {
    const t0 = thread ? thread() : 0;
    const p0 = processUs();
    for (let i = 0; i < n; i++) f();
    const p1 = processUs();
    const t1 = thread ? thread() : 0;
    runs += n;
    per = (thread ? t1 - t0 : p1 - p0) / n;
    const spent = p1 - w0;
    settled = !thread || p1 - p0 <= 1.15 * (t1 - t0) ? settled + 1 : 0;
    if ((runs >= WARM_RUNS && spent >= WARM_US && settled >= WARM_SETTLED) || spent >= WARM_MAX_US) break;
    n = Math.max(1, Math.ceil(BATCH_US / Math.max(per, 0.1)));
  }
  n = Math.max(1, Math.ceil(BATCH_US / Math.max(per, 0.1)));
  const proc: number[] = [];
  const thr: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    gc({ type: "minor" });
    const t0 = thread ? thread() : 0;
    const p0 = processUs();
    for (let i = 0; i < n; i++) f();
    const p1 = processUs();
    const t1 = thread ? thread() : 0;
    proc.push((p1 - p0) / n);
    thr.push((t1 - t0) / n);
  }
  return { threadUs: thread ? median(thr) : median(proc), processUs: median(proc) };
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
        processUs: 0,
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
    const maps: MapDesc[] = spec.maps.map((m, i) => ({ fd: 100 + i, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, ...(m.inner ? { inner: { ...m.inner } } : {}) }));
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
        processUs: 0,
        processed: 0,
        kernelUs: undefined,
      });
    }
  }
  return out;
}

const KERNEL_LOADS = 5;

function measure(samples: Sample[], sys: Sys | undefined, gc: ReturnType<typeof collector>, thread: (() => number) | null): void {
  for (const s of samples) verify(s.insns, s.options); // every path compiled once before any timing
  for (const s of samples) {
    s.processed = verify(s.insns, s.options).processed;
    const t = timeUs(() => verify(s.insns, s.options), gc, thread);
    s.modelUs = t.threadUs;
    s.processUs = t.processUs;
    if (sys && s.load) {
      s.load(sys); // not counted: the first load of a program warms the kernel's caches
      const times: number[] = [];
      for (let i = 0; i < KERNEL_LOADS; i++) {
        const t = kernelTime(s.load(sys));
        if (t !== undefined) times.push(t);
      }
      if (times.length) s.kernelUs = median(times);
    }
  }
}

const us = (n: number): string => (Number.isNaN(n) ? "-" : n >= 100 ? n.toFixed(0) : n.toFixed(1));
// The kernel reports whole microseconds; 0 is counted as 1 so ratios stay finite.
const ratioOf = (s: Sample): number => s.modelUs / Math.max(1, s.kernelUs!);
const processRatioOf = (s: Sample): number => s.processUs / Math.max(1, s.kernelUs!);

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
    us(median(samples.map((s) => s.processUs))),
    paired.length ? us(median(paired.map((s) => s.kernelUs!))) : "-",
    ratios.length ? median(ratios).toFixed(2) : "-",
    worst ? `${ratioOf(worst).toFixed(1)} (${worst.name.slice(0, 40)})` : "-",
    ratios.filter((r) => r > 10).length,
    paired.filter((s) => processRatioOf(s) > 10).length,
  ];
}

const perProgram = (s: Sample): (string | number)[] => [
  s.name.slice(0, 60),
  s.processed,
  us(s.modelUs),
  us(s.processUs),
  s.kernelUs ?? "-",
  s.kernelUs !== undefined ? ratioOf(s).toFixed(2) : "-",
  s.kernelUs !== undefined ? processRatioOf(s).toFixed(2) : "-",
];

export default async function (): Promise<BenchTable[]> {
  const reason = missingRoot() ?? missingBpf();
  const sys = reason ? undefined : openSys();
  const gc = collector();
  const thread = await threadClock();
  const selftests = selftestSamples();
  const examples = exampleSamples();
  gc({ type: "major" }); // the compiler's garbage from building the examples
  measure(selftests, sys, gc, thread);
  gc({ type: "major" });
  measure(examples, sys, gc, thread);

  const notes = [
    "Model: steady-state CPU time per verify() run. Per program, after a pass over the whole corpus and a full collection per corpus: a",
    "young-generation collection, warm-up runs (at least 20 and 20 ms of CPU, and on until three batches in a row spend a process CPU time",
    "within 15% of the main thread's: V8's background compiler is done), then five batches of about 2 ms, each after a young-generation",
    "collection; the median of the five.",
    '"model" columns and ratios: CPU time of the thread that runs verify() (CLOCK_THREAD_CPUTIME_ID), as the kernel\'s figure is its verifying',
    "thread's. \"process\": the same batches' process CPU time (every thread: the collector's helpers, and V8's background compiler, which",
    "on a loaded machine keeps optimizing long after the warm-up), with its own \"> 10x\" count.",
    'Kernel: one uncounted load, then the median of five BPF_PROG_LOADs\' own "verification time N usec" (log_level 4); whole',
    "microseconds, so 0 is taken as 1 in ratios.",
    "Selftests: the 6.12 instruction-array cases without fixups; rejected cases count too (both sides stop at the error).",
  ];
  if (!thread) notes.push("Thread clock unavailable (koffi could not call clock_gettime): the process's CPU time stands for the model's.");
  if (reason) notes.push(`Kernel columns skipped: ${reason}.`);
  const all = [...selftests, ...examples].filter((s) => s.kernelUs !== undefined);
  const byRatio = [...all].sort((a, b) => ratioOf(b) - ratioOf(a));
  // every program over 10x by either clock, and at least the eight highest
  const slowest = byRatio.filter((s, i) => i < 8 || ratioOf(s) > 10 || processRatioOf(s) > 10);
  const over = byRatio.filter((s) => ratioOf(s) > 10);
  const overProcess = byRatio.filter((s) => processRatioOf(s) > 10);
  return [
    {
      title: "Verifier model vs kernel verifier: time per program (µs)",
      columns: ["corpus", "programs", "model median", "model p90", "model max", "process median", "kernel median", "median ratio", "worst ratio (program)", "> 10x", "> 10x (process)"],
      rows: [summaryRow("selftests (no fixups)", selftests), summaryRow("examples", examples)],
      notes,
    },
    {
      title: "Highest model/kernel ratios (every program over 10x by either clock, at least eight)",
      columns: ["program", "insns processed", "model µs", "process µs", "kernel µs", "ratio", "process ratio"],
      rows: slowest.map(perProgram),
      notes: [
        over.length ? `${over.length} program(s) over 10x the kernel: the goal is not met.` : "No program over 10x the kernel.",
        `By the process's CPU time (background compilation and collector helpers included): ${overProcess.length} over 10x.`,
      ],
    },
    {
      title: "Examples, per program",
      columns: ["program", "insns processed", "model µs", "process µs", "kernel µs", "ratio", "process ratio"],
      rows: examples.map(perProgram),
    },
  ];
}
