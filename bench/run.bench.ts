// `npm run bench -- run`: start to first event, and peak memory, of `tsbpf run` on the unlinkat tracepoint example
// (cold: empty object and code caches in XDG_CACHE_HOME, so the compiler runs from the installation's code caches in
// dist/.cache; warm: the cached object) beside bpftrace's one-line equivalent, measured in the same run; then the
// same with one kernel struct read (bench/probes/unlink-parent.ts beside bpftrace's curtask->real_parent->tgid). Takes the built CLI (dist/, `npm run build` first), bpftrace and /usr/bin/time (GNU);
// gives one table of medians with ratios to bpftrace.
//
// "First event": from spawning the command until its standard output shows the pid of an `rm` started after the
// spawn. While waiting, an `rm` of a fresh temp file runs every TRIGGER_MS, the same for every tool, so the
// measurement needs no tool-specific "attached" message. Then the tool gets SIGINT, and the clock runs on until it has
// exited: start to exit is a whole short session (start, attach, one event, detach), which is where a tool's teardown
// shows. Peak memory is the RSS high-water mark GNU time reports.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchTable } from "./run.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const MAIN = join(ROOT, "dist/cli/tsbpf.cjs");

interface Scenario {
  title: string;
  probe: string;
  bpftrace: string;
}

const SCENARIOS: Scenario[] = [
  { title: "", probe: "examples/unlink-tracepoint.ts", bpftrace: 'tracepoint:syscalls:sys_enter_unlinkat { printf("%d\\n", pid); }' },
  {
    title: ", with a kernel struct read (BTF)",
    probe: "bench/probes/unlink-parent.ts",
    bpftrace: 'tracepoint:syscalls:sys_enter_unlinkat { printf("%d %d\\n", pid, curtask->real_parent->tgid); }',
  },
];
const ROUNDS = 9;
// Every 10 ms: finer steps than the tools' differences, and an rm costs the machine only ~1 ms of CPU.
const TRIGGER_MS = 10;

interface Sample {
  firstEventMs: number;
  /** From the spawn until the process has exited, SIGINT being sent at the first event. */
  exitedMs: number;
  peakRssKiB: number;
}

/** Runs `argv` under GNU time until its output names one of our rm's pids, then SIGINTs it. */
async function measure(argv: string[], env: NodeJS.ProcessEnv, dir: string): Promise<Sample> {
  const started = performance.now();
  // Own process group: SIGINT reaches the tool itself, not only the time wrapper.
  // NODE_EXTRA_CA_CERTS, set machine-wide on the development machine, makes every Node process parse a CA bundle
  // as it starts (~0.2 s that is no part of tsbpf).
  const childEnv = { ...process.env, ...env };
  delete childEnv.NODE_EXTRA_CA_CERTS;
  const child = spawn("/usr/bin/time", ["-f", "tsbpf-bench-maxrss=%M", ...argv], { cwd: ROOT, env: childEnv, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let stdout = "";
  let stderr = "";
  const pids: number[] = [];
  let firstEventMs: number | undefined;
  // Timed as the output arrives, not when the trigger loop next looks: the loop's 10 ms steps would otherwise
  // round every sample up to them.
  child.stdout.on("data", (d) => {
    stdout += d;
    if (firstEventMs !== undefined) return;
    // bpftrace prints the bare pid; tsbpf's line says "pid = N".
    const seen = new Set(stdout.split("\n").flatMap((l) => [...l.matchAll(/(?:^|pid = )(\d+)\b/g)].map((m) => Number(m[1]))));
    if (pids.some((p) => seen.has(p))) firstEventMs = performance.now() - started;
  });
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  let serial = 0;
  try {
    const deadline = started + 30_000;
    while (firstEventMs === undefined) {
      if (performance.now() > deadline || child.exitCode !== null) throw new Error(`${argv.join(" ")}: no event within 30 s; stderr: ${stderr.slice(-1000)}`);
      const path = join(dir, `victim-${serial++}`);
      writeFileSync(path, "x");
      const rm = spawn("rm", ["-f", path], { stdio: "ignore" });
      if (rm.pid) pids.push(rm.pid);
      await new Promise((r) => setTimeout(r, TRIGGER_MS));
    }
  } finally {
    if (child.exitCode === null) process.kill(-child.pid!, "SIGINT");
    await exited;
  }
  const exitedMs = performance.now() - started;
  const rss = /tsbpf-bench-maxrss=(\d+)/.exec(stderr);
  if (!rss) throw new Error(`${argv.join(" ")}: GNU time printed no peak RSS; stderr: ${stderr.slice(-1000)}`);
  return { firstEventMs, exitedMs, peakRssKiB: Number(rss[1]) };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export default async function (): Promise<BenchTable[]> {
  const tables: BenchTable[] = [];
  for (const scenario of SCENARIOS) tables.push(await measureScenario(scenario));
  return tables;
}

async function measureScenario({ title, probe, bpftrace }: Scenario): Promise<BenchTable> {
  if (!existsSync(join(ROOT, "dist/cli/commands/run.js"))) throw new Error("bench/run.bench.ts runs the built CLI: npm run build first");
  if (spawnSync("bpftrace", ["--version"]).status !== 0) throw new Error("bpftrace is not installed (apt-get install bpftrace)");
  if (!existsSync("/usr/bin/time")) throw new Error("GNU time is not installed (apt-get install time)");
  if (process.getuid?.() !== 0) throw new Error("the benchmark loads BPF programs: run it as root");

  const dir = mkdtempSync(join(tmpdir(), "tsbpf-bench-run-"));
  const samples: Record<"bpftrace" | "cold" | "warm", Sample[]> = { bpftrace: [], cold: [], warm: [] };
  try {
    const tsbpf = [process.execPath, MAIN, "run", probe];
    for (let round = 0; round < ROUNDS; round++) {
      const cache = join(dir, `cache-${round}`); // empty: the cold run compiles, the warm run finds its object
      samples.bpftrace.push(await measure(["bpftrace", "-B", "line", "-e", bpftrace], {}, dir));
      samples.cold.push(await measure(tsbpf, { XDG_CACHE_HOME: cache }, dir));
      samples.warm.push(await measure(tsbpf, { XDG_CACHE_HOME: cache }, dir));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const medians = (xs: Sample[]) => ({ ms: median(xs.map((s) => s.firstEventMs)), exit: median(xs.map((s) => s.exitedMs)), rss: median(xs.map((s) => s.peakRssKiB)) });
  const base = medians(samples.bpftrace);
  const row = (name: string, xs: Sample[]) => {
    const { ms, exit, rss } = medians(xs);
    const times = (x: number, b: number) => `${(x / b).toFixed(2)}×`;
    return [name, Math.round(ms), times(ms, base.ms), Math.round(exit), times(exit, base.exit), (rss / 1024).toFixed(1), times(rss, base.rss)];
  };
  return {
    title: `tsbpf run vs bpftrace${title}: start to first event, start to exit, and peak memory (median of ${ROUNDS})`,
    columns: ["command", "start → first event (ms)", "× bpftrace", "start → exited (ms)", "× bpftrace", "peak RSS (MiB)", "× bpftrace"],
    rows: [row(`bpftrace -e '${bpftrace}'`, samples.bpftrace), row(`tsbpf run ${probe} (cold: compiles)`, samples.cold), row(`tsbpf run ${probe} (warm: cached object)`, samples.warm)],
    notes: [
      `An rm of a fresh file runs every ${TRIGGER_MS} ms from the spawn on; the clock stops when the tool's output naming one of those rm's pids arrives, so times include up to ${TRIGGER_MS} ms of trigger granularity for every tool alike.`,
      "Start → exited: SIGINT is sent once the first event has shown; the clock stops when the process has exited (detached, maps printed, everything released).",
      "Peak RSS is GNU time's maximum resident set size of the process (node for tsbpf, bpftrace itself).",
      "Every command runs without NODE_EXTRA_CA_CERTS (see the comment in measure()).",
    ],
  };
}
