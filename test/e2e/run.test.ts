// `tsbpf run` end to end against the running kernel, through the real command line (the build when it is as new as
// the sources, else the sources through tsx: test/support/cli.ts; either way the code under test is what runs). Takes the examples; checks that a cold run compiles, caches, attaches
// and streams an rm's printk line, that a cached run never loads TypeScript, that SIGINT leaves no program or map
// behind, that the uprobe example fires, that ring buffer events arrive typed and maps print at the end, that the
// profile example samples a busy process and releases its perf links, and that
// the first errors users meet are one sentence with their exit code.
// trace_pipe is shared machine-wide: every check matches its own rm's pid and retries the rm.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { objectKey, objectPath } from "../../cli/cache.js";
import { resolveBinary } from "../../runtime/loader/elfsym.js";
import { readRecording, replay, simulate, type RecordedHit } from "../../runtime/test/index.js";
import { listIds, missingRoot, missingTracefs, missingUprobes, onlineCpus, openSys, tracefsPath } from "../../runtime/sys/index.js";
import { Session } from "../../runtime/loader/index.js";
import { fixture } from "../loader/support.js";
import { cgroup2Mount, ownCgroupId } from "../support/cgroup.js";
import { CLI } from "../support/cli.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Debian's CPython, built with USDT probes (`readelf -n` lists python:function__entry). */
const PYTHON = "/usr/bin/python3";
const missingPythonBz2 = (): string | false =>
  existsSync(PYTHON) && spawnSync(PYTHON, ["-c", "import bz2"]).status === 0 ? false : `${PYTHON} with its bz2 module (libbz2) is not installed`;
const missingPythonUsdt = (): string | false =>
  existsSync(PYTHON) && readFileSync(PYTHON).includes("function__entry") ? false : `${PYTHON} with CPython's USDT probes is not installed`;
const MAIN = join(ROOT, "cli/main.ts");
/** The command `npm run build` makes. */
const BUILT = join(ROOT, "dist/cli/tsbpf.cjs");
const needsKernel = { skip: missingRoot() ?? missingTracefs() ?? false };
const sys = openSys();

let dir: string;
let cacheHome: string;
let serial = 0;
/** Settles when the cold run has filled the cache; the cached run waits for it (the others run beside it). */
let markWarm: (ok: boolean) => void = () => {};
const warm = new Promise<boolean>((resolve) => (markWarm = resolve));

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Waits (up to 60 s: a safety net on a loaded machine, not a timing check) until `ok()` holds; fails with stderr if the child exits first. */
  until: (ok: () => boolean, what: string) => Promise<void>;
}

/**
 * Starts `tsbpf ARGS` from the repository root with its own cache directory. `sources`: from the ES modules through
 * tsx even where the build is current, for a check that needs TypeScript's package loaded as a module (NODE_DEBUG).
 */
function tsbpf(args: string[], env: NodeJS.ProcessEnv = {}, extra: { uid?: number; gid?: number; sources?: boolean } = {}): Running {
  const { sources, ...ids } = extra;
  const child = spawn(process.execPath, [...(sources ? ["--import", "tsx", MAIN] : CLI), ...args], {
    cwd: ROOT,
    env: { ...process.env, XDG_CACHE_HOME: cacheHome, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    ...ids,
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const until = async (ok: () => boolean, what: string) => {
    for (const deadline = Date.now() + 60_000; !ok(); ) {
      if (Date.now() > deadline || child.exitCode !== null) assert.fail(`${what}; exit ${child.exitCode}; stderr: ${stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, stdout: () => stdout, stderr: () => stderr, exited, until };
}

/** Creates a file and removes it with `rm` in a child; gives the rm's pid. */
function rmChild(): number {
  const path = join(dir, `victim-${serial++}`);
  writeFileSync(path, "x");
  const r = spawnSync("rm", [path]);
  assert.equal(r.status, 0, String(r.stderr));
  return r.pid!;
}

/** Runs rm until the child's stdout shows `line(pid)` (at most 3 tries, 5 s each); gives the matching line. */
async function triggerUntil(run: Running, line: (pid: number) => RegExp): Promise<string> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const pattern = line(rmChild());
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      const found = run.stdout().split("\n").find((l) => pattern.test(l));
      if (found) return found;
    }
  }
  assert.fail(`no matching printk line after 3 rm's; stdout: ${run.stdout().slice(0, 1000)}; stderr: ${run.stderr()}`);
}

/**
 * Ids of the programs, maps and links a process holds, from its fds' /proc fdinfo: exactly the run's own, even
 * while other test files load objects of the same names.
 */
function heldBy(pid: number): { prog: number[]; map: number[]; link: number[] } {
  const out = { prog: [] as number[], map: [] as number[], link: [] as number[] };
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
    } catch {
      continue; // closed meanwhile
    }
    for (const kind of ["prog", "map", "link"] as const) {
      const m = new RegExp(`^${kind}_id:\\s*(\\d+)$`, "m").exec(info);
      if (m) out[kind].push(Number(m[1]));
    }
  }
  return out;
}

/** The fixture that counts libc unlinkat calls per process, and those counts from a `--json` run's output. */
/** A run-time error's frame as tsbpf prints it: a blank line, the source line, the expression at `column` underlined. */
const frame = (line: number, text: string, column: number, expression: string): string =>
  `\n${line} ${text}\n${" ".repeat(String(line).length)} ${" ".repeat(column - 1)}${"~".repeat(expression.length)}\n`;

const COUNTS = "test/e2e/fixtures/unlink-counts.ts";
function countsByPid(stdout: string): Map<number, number> {
  const line = stdout.split("\n").find((l) => l.startsWith('{"map":"calls"'));
  assert.ok(line, `no calls map in ${stdout}`);
  const { entries } = JSON.parse(line) as { entries: { key: number; value: number }[] };
  return new Map(entries.map((e) => [e.key, e.value]));
}

// The example's wording may grow (a comm, a path); the pid, dfd and flags an rm passes are what is checked.
const EXAMPLE = "examples/unlink-tracepoint.ts";
/** 2,000 records of 48 bytes a perf event array takes from one begin() run, before anything reads them. */
const PERF_BURST = `import { begin, exit, PerfEventArray, type u32, type u64 } from "tsbpf";
export const license = "GPL";
interface Hit { i: u32; a: u64; b: u64; c: u64 }
const events = new PerfEventArray<Hit>();
begin(() => {
  for (let i: u32 = 0; i < 2000; i++) events.output({ i, a: 1, b: 2, c: 3 });
  exit(0);
});
`;

/** `--json` output's objects, a line each. */
const jsonLines = (stdout: string): Record<string, unknown>[] => stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);

/** The records of event map `map` a `--json` run printed, and the drops it said. */
function eventCounts(objects: readonly Record<string, unknown>[], map: string): { received: number; lost: number } {
  const received = objects.filter((o) => o.map === map && "value" in o).length;
  const lost = objects.filter((o) => o.map === map && "lost" in o).reduce((n, o) => n + (o.lost as number), 0);
  return { received, lost };
}

const tracepointLine = (pid: number) => new RegExp(`^rm-${pid} \\[\\d+\\] \\d+\\.\\d+: unlinkat .*pid = ${pid}, dfd = -100, flags = 0$`);

// Three at a time: most of each test is waiting for a child, but each child's start costs a core for a second or two.
describe("tsbpf run", { ...needsKernel, concurrency: 3 }, () => {
  // Entries nobody used for a week, and a file not tsbpf's: the first run that compiles trims the cache at exit.
  const STALE = [`${"0".repeat(32)}.bpf.o`, `${"0".repeat(32)}.btf.json`, "bundle-run-00000000-1-v20.0.0-x64.v8"];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tsbpf-e2e-"));
    cacheHome = join(dir, "cache");
    mkdirSync(join(cacheHome, "tsbpf"), { recursive: true });
    const weekAgo = Date.now() / 1000 - 7 * 24 * 3600;
    for (const name of [...STALE, "notes.txt"]) {
      writeFileSync(join(cacheHome, "tsbpf", name), "x");
      utimesSync(join(cacheHome, "tsbpf", name), weekAgo, weekAgo);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("compiles the tracepoint example into the cache, attaches, streams an rm's line and ends after --duration", async () => {
    // From the sources, as the cached run below (NODE_DEBUG sees TypeScript's package loaded only there), and with the
    // object key this process computes (the build's names its bundle's code instead).
    const run = tsbpf(["run", "examples/unlink-tracepoint.ts", "--duration", "5", "--verbose"], {}, { sources: true });
    try {
      await run.until(() => run.stderr().includes("streaming bpf_printk output for 5 s"), "tsbpf run never started streaming");
      assert.match(run.stderr(), /compiled examples\/unlink-tracepoint\.ts in \d+ ms; cached as .*\/tsbpf\/[0-9a-f]{32}\.bpf\.o/);
      assert.match(run.stderr(), /attached unlinkat to tracepoint syscalls:sys_enter_unlinkat/);
      await triggerUntil(run, tracepointLine);
      assert.equal(await run.exited, 0, run.stderr());
      assert.match(run.stderr(), /detaching and releasing every map, program and perf event/);
      // Other tests compile into the same cache meanwhile: look only at this file's entry.
      const key = objectKey(EXAMPLE, readFileSync(join(ROOT, EXAMPLE)));
      assert.deepEqual(readdirSync(join(cacheHome, "tsbpf")).filter((f) => f.startsWith(key)), [`${key}.bpf.o`], "the object, and no temporary file");
      assert.deepEqual(STALE.filter((f) => existsSync(join(cacheHome, "tsbpf", f))), [], "entries unused for a week are trimmed");
      assert.ok(existsSync(join(cacheHome, "tsbpf", "notes.txt")), "a file not tsbpf's is kept");
      markWarm(true);
    } finally {
      markWarm(false);
      run.child.kill("SIGKILL");
    }
  });

  it("reuses the cached object without loading TypeScript, and SIGINT releases every program and map", async () => {
    assert.ok(await warm, "the cold run failed, so there is no cached object to reuse");
    // NODE_DEBUG=module logs every CommonJS load: the compiler loads TypeScript that way.
    const run = tsbpf(["run", "examples/unlink-tracepoint.ts", "--json", "--verbose"], { NODE_DEBUG: "module" }, { sources: true });
    try {
      await run.until(() => run.stderr().includes("streaming bpf_printk output; Ctrl-C detaches"), "tsbpf run never started streaming");
      assert.ok(existsSync(`${tracefsPath()}/instances/tsbpf-${run.child.pid}`), "output is read from a private tracefs instance");
      assert.match(run.stderr(), /using the cached object .*\/tsbpf\/[0-9a-f]{32}\.bpf\.o \(the compiler was not loaded\)/);
      assert.doesNotMatch(run.stderr(), /^compiled /m);
      assert.doesNotMatch(run.stderr(), /Module\._load REQUEST typescript/);
      const line = JSON.parse(await triggerUntil(run, (pid) => new RegExp(`"pid":${pid},.*"message":"unlinkat .*pid = ${pid}, `))) as Record<string, unknown>;
      assert.equal(line.task, "rm");
      assert.equal(line.event, "bpf_trace_printk");

      const live = heldBy(run.child.pid!);
      // Tracepoint attachments are perf events, not BPF links, but a link would have to go too.
      assert.equal(live.prog.length, 1, "the run's program is visible while attached");
      assert.equal(live.map.length, 1, "the run's .rodata map is visible while attached");
      run.child.kill("SIGINT");
      assert.equal(await run.exited, 0, run.stderr());

      // The kernel frees programs after an RCU grace period: poll rather than sleep a fixed time.
      let left: number[] = [];
      for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
        const ids = { prog: new Set(listIds(sys, "prog")), map: new Set(listIds(sys, "map")), link: new Set(listIds(sys, "link")) };
        left = [...live.prog.filter((id) => ids.prog.has(id)), ...live.map.filter((id) => ids.map.has(id)), ...live.link.filter((id) => ids.link.has(id))];
        if (left.length === 0) break;
      }
      assert.deepEqual(left, [], "program, map or link ids of the run still alive after SIGINT");
      assert.equal(existsSync(`${tracefsPath()}/instances/tsbpf-${run.child.pid}`), false, "the run's tracefs instance is still there");
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("SIGINT while the kernel's verifier checks a program ends the run at once (exit 130), not with the verdict", async () => {
    // A loop the kernel follows for its 1,000,000 instructions (seconds) before refusing the program as too large.
    const file = join(dir, `long-check-${serial++}.ts`);
    writeFileSync(
      file,
      `import { tracepoint, prandomU32, ArrayMap, type u64 } from "tsbpf";
export const license = "GPL";
export const out = new ArrayMap<u64>(1);
export const t = tracepoint("syscalls", "sys_enter_acct", () => {
  let s = 0;
  for (let i = 0; i < 60000; i++) {
    s = s * 7 + prandomU32(); s = s ^ (s >> 3); s = s * 13 + i; s = s ^ (s << 5); s = s + 11;
  }
  out.update(0, s);
});
`,
    );
    const run = tsbpf(["run", file, "--no-cache", "--verbose"]);
    try {
      await run.until(() => /^compiled /m.test(run.stderr()), "the run never compiled the file");
      // The load follows at once, and the kernel's check of the loop takes a second or more.
      await new Promise((r) => setTimeout(r, 300));
      run.child.kill("SIGINT");
      assert.equal(await run.exited, 130, run.stderr());
      assert.doesNotMatch(run.stderr(), /rejected|too large|interrupted/);
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("begin()'s output is written once the probes are attached: a probe that will not attach ends the run with its error alone", async () => {
    const header = 'begin(() => { printf("HEADER\\n"); });';
    const missing = tsbpf(["run", "-e", `${header} uprobe("/nonexistent/tsbpf-app", "f", () => printf("call\\n"));`]);
    assert.equal(await missing.exited, 2, missing.stderr());
    assert.equal(missing.stdout(), "");
    assert.match(missing.stderr(), /TSBPF3002: cannot attach uprobe \/nonexistent\/tsbpf-app:f: no such binary/);
    // Attached, the header comes first; exit() in begin() still ends the run before anything attaches.
    const ok = tsbpf(["run", "-e", `${header} tracepoint("syscalls", "sys_enter_acct", () => printf("acct\\n"));`, "--duration", "0.2"]);
    assert.equal(await ok.exited, 0, ok.stderr());
    assert.equal(ok.stdout(), "HEADER\n");
    const exits = tsbpf(["run", "-e", 'begin(() => { printf("bye\\n"); exit(5); }); uprobe("/nonexistent/tsbpf-app", "f", () => printf("call\\n"));']);
    assert.equal(await exits.exited, 5, exits.stderr());
    assert.equal(exits.stdout(), "bye\n");
  });

  it("one SIGINT delivered twice (timeout -s INT signals the command and its group) ends the run as one does, maps printed", async () => {
    const run = tsbpf(["run", "-e", 'const m = new HashMap<u32, u64>(4); begin(() => { m.increment(7); }); tracepoint("syscalls", "sys_enter_acct", () => { m.increment(1); })']);
    try {
      await run.until(() => run.stderr().includes("Ctrl-C detaches"), "tsbpf run never attached");
      run.child.kill("SIGINT");
      // Shortly after, as timeout(1)'s second delivery comes: once the first has been handled (sent at once, the two
      // would be one pending signal), and while the run still detaches (a tracepoint's detach waits out an RCU grace
      // period). 40 ms was seen to outlast a whole run's end on a loaded machine: everything released, no handler left,
      // the second SIGINT then killed the process and its status was lost.
      await new Promise((r) => setTimeout(r, 10));
      run.child.kill("SIGINT");
      // (the second one exited at once, status 130, without the maps)
      assert.equal(await run.exited, 0, run.stderr());
      assert.match(run.stdout(), /^@m\[7\]: 1$/m);
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("a second Ctrl-C while a large map prints ends the run at once (the printing takes signals between its parts)", async () => {
    // A process's 150,000 writes put 150,000 keys in a map, which prints in parts of a few thousand lines.
    const file = join(dir, "large-map.ts");
    writeFileSync(file, `import { tracepoint, pidTgid, targetPid, HashMap, type u32, type u64 } from "tsbpf";
export const license = "GPL";
const seq = new HashMap<u32, u64>(1);
export const writes = new HashMap<u64, u64>(200000);
export const w = tracepoint("syscalls", "sys_enter_write", () => {
  if ((pidTgid() >> 32) !== targetPid()) return 0;
  seq.increment(0);
  const n = seq.lookup(0);
  if (n !== null) writes.update(n, n);
  return 0;
});
`);
    const writer = spawn(process.execPath, ["-e", "process.stdin.once('data', () => { for (let i = 0; i < 150000; i++) require('fs').writeSync(1, 'x'); process.stderr.write('done'); }); setTimeout(() => {}, 60000)"], { stdio: ["pipe", "ignore", "pipe"] });
    let written = "";
    writer.stderr!.on("data", (d) => (written += d));
    const run = tsbpf(["run", file, "-p", String(writer.pid)]);
    try {
      await run.until(() => run.stderr().includes("Ctrl-C detaches"), "tsbpf run never attached");
      writer.stdin!.write("go");
      await run.until(() => written === "done", "the writes never ended");
      // The second as soon as the first part of the map arrives (a poll could come after the last).
      const printing = new Promise<void>((resolve) => run.child.stdout!.on("data", (d: Buffer) => d.includes("@writes[") && resolve()));
      run.child.kill("SIGINT");
      await Promise.race([printing, run.exited]);
      run.child.kill("SIGINT");
      const code = await run.exited;
      const printed = run.stdout().split("\n").filter((l) => l.startsWith("@writes[")).length;
      // On a loaded machine the printing may have ended, and the run released everything, before the signal came:
      // it then dies of it, having nothing left to do.
      if (code === null) assert.equal(run.child.signalCode, "SIGINT");
      else {
        assert.equal(code, 130, run.stderr());
        assert.ok(printed < 150_000, `${printed} keys printed`);
      }
    } finally {
      run.child.kill("SIGKILL");
      writer.kill("SIGKILL");
    }
  });

  it("a closed terminal (SIGHUP) ends a run as Ctrl-C does, its command included; SIGUSR1 opens no debugger", async () => {
    assert.ok(await warm, "the cold run failed, so there is no cached object to reuse");
    const marker = `${30 + Math.random()}`.slice(0, 8);
    const run = tsbpf(["run", "examples/unlink-tracepoint.ts", "-c", `sleep ${marker}`]);
    try {
      await run.until(() => run.stderr().includes("streaming bpf_printk output"), "tsbpf run never started streaming");
      run.child.kill("SIGUSR1");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(run.child.exitCode, null, "SIGUSR1 ended the run");
      assert.doesNotMatch(run.stderr(), /Debugger listening/);
      run.child.kill("SIGHUP");
      assert.equal(await run.exited, 0, run.stderr());
      assert.equal(existsSync(`${tracefsPath()}/instances/tsbpf-${run.child.pid}`), false, "the run's tracefs instance is still there");
      assert.equal(spawnSync("pgrep", ["-f", `sleep ${marker}`]).status, 1, "the command the run started is still running");
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("ends the run when its output's reader goes away (as `tsbpf run | head -1`), releasing everything", async () => {
    assert.ok(await warm, "the cold run failed, so there is no cached object to reuse");
    const run = tsbpf(["run", "examples/unlink-tracepoint.ts"]);
    try {
      await run.until(() => run.stderr().includes("streaming bpf_printk output; Ctrl-C detaches"), "tsbpf run never started streaming");
      await triggerUntil(run, tracepointLine);
      run.child.stdout!.destroy();
      // The next line written meets EPIPE; rm until the run has noticed and exited.
      let code: number | null | undefined;
      void run.exited.then((c) => (code = c));
      for (const deadline = Date.now() + 30_000; code === undefined && Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) rmChild();
      assert.equal(code, 0, `exit ${code}; stderr: ${run.stderr()}`);
      assert.doesNotMatch(run.stderr(), /error|EPIPE/i);
      assert.equal(existsSync(`${tracefsPath()}/instances/tsbpf-${run.child.pid}`), false, "the run's tracefs instance is still there");
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("stops when its output or its recording cannot be written (a full disk): exit 2, the ring buffer readers stopped with it", async () => {
    const probe = join(dir, "printf-unlink.ts");
    writeFileSync(probe, 'import { tracepoint, printf } from "tsbpf";\nexport const license = "GPL";\nexport const t = tracepoint("syscalls", "sys_enter_unlinkat", () => { printf("unlink\\n"); });\n');
    for (const [args, said] of [
      [[], /cannot write to standard output \(ENOSPC/],
      [["--record", "/dev/full"], /cannot write the recording \/dev\/full: no space left on the device \(ENOSPC\)/],
    ] as const) {
      const full = openSync("/dev/full", "w");
      const child = spawn(process.execPath, [...CLI, "run", probe, "--no-cache", ...args], { cwd: ROOT, env: { ...process.env, XDG_CACHE_HOME: cacheHome }, stdio: ["ignore", args.length ? "ignore" : full, "pipe"] });
      closeSync(full);
      let stderr = "";
      child.stderr!.on("data", (d) => (stderr += d));
      let code: number | null | undefined;
      child.on("close", (c) => (code = c));
      try {
        // rm until the run has met the full device and ended (it spun at full CPU, reading closed buffers).
        for (const deadline = Date.now() + 30_000; code === undefined && Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) rmChild();
        assert.equal(code, 2, `exit ${code}; stderr: ${stderr}`);
        assert.match(stderr, said);
      } finally {
        child.kill("SIGKILL");
      }
    }
  });

  it("stops at --duration and at SIGINT while its own output keeps its probes firing (printk and ring buffer floods)", async () => {
    // Every write(2) on the machine prints a line (or sends an event), and printing it is one more write: with the
    // output going to a file (a write never waits), the readers always find data, and must still let the
    // duration's timer and the signal handler run.
    const floods = [
      { name: "printk", stop: "duration", body: "printk(`write by ${pid}`);", shows: /write by \d+/ },
      { name: "ringbuf", stop: "SIGINT", body: "writes.output({ pid, count: ctx.count as u64 });", shows: /writes: \{ pid: \d+, count: \d+ \}/ },
    ] as const;
    for (const { name, stop, body, shows } of floods) {
      const probe = join(dir, `flood-${name}.ts`);
      writeFileSync(
        probe,
        [
          'import { tracepoint, printk, pidTgid, RingBuf, type u32, type u64 } from "tsbpf";',
          'export const license = "GPL";',
          "interface Write { pid: u32; count: u64 }",
          "export const writes = new RingBuf<Write>(64 * 1024);",
          'export const write = tracepoint("syscalls", "sys_enter_write", (ctx) => {',
          "  const pid = (pidTgid() >> 32) as u32;",
          `  ${body}`,
          "  return 0;",
          "});",
        ].join("\n"),
      );
      const out = join(dir, `flood-${name}.out`);
      const fd = openSync(out, "w");
      const child = spawn(process.execPath, [...CLI, "run", probe, ...(stop === "duration" ? ["--duration", "1"] : [])], {
        cwd: ROOT,
        env: { ...process.env, XDG_CACHE_HOME: cacheHome },
        stdio: ["ignore", fd, "pipe"],
      });
      closeSync(fd);
      let stderr = "";
      child.stderr!.on("data", (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      try {
        const lines = () => readFileSync(out, "utf8").split("\n").filter((l) => shows.test(l)).length;
        for (const deadline = Date.now() + 60_000; lines() < 1000; await new Promise((r) => setTimeout(r, 50))) {
          if (Date.now() > deadline || child.exitCode !== null) assert.fail(`${name}: no flood of lines; stderr: ${stderr.slice(-1000)}`);
        }
        if (stop === "SIGINT") child.kill("SIGINT");
        const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r(`still running 30 s after the ${stop} stop`), 30_000))]);
        assert.equal(code, 0, `${name}: ${stderr.slice(-1000)}`);
      } finally {
        child.kill("SIGKILL");
      }
    }
  });

  it("explains that kprobes are compiled out and names the tracepoint and uprobe to use instead (exit 4)", async () => {
    const run = tsbpf(["run", "examples/unlink.ts"]);
    // A one-liner's probe has no name of its own: it is "this kprobe", at the call naming its function.
    const oneLiner = tsbpf(["run", "-e", 'kprobe("vfs_read", () => { printf("x\\n"); })']);
    assert.equal(await oneLiner.exited, 4, oneLiner.stderr());
    assert.match(oneLiner.stderr(), /^tsbpf: -e\.ts:1:1 - error TSBPF3001: this is a kprobe on vfs_read, but kprobes are compiled out of the running kernel .*; use tracepoint\("syscalls", "sys_enter_read", \.\.\.\) or uprobe\("libc\.so\.6", "read", \.\.\.\) instead\n/);
    assert.ok(oneLiner.stderr().endsWith(frame(1, 'kprobe("vfs_read", () => { printf("x\\n"); })', 1, 'kprobe("vfs_read"')), oneLiner.stderr());
    const code = await run.exited;
    assert.equal(run.stdout(), "");
    assert.equal(code, 4, run.stderr());
    const [head, ...rest] = run.stderr().split("\n");
    assert.match(head!, /^tsbpf: examples\/unlink\.ts:7:28 - error TSBPF3001: do_unlinkat is a kprobe on do_unlinkat, but kprobes are compiled out of the running kernel/);
    assert.match(head!, /use tracepoint\("syscalls", "sys_enter_unlinkat", \.\.\.\) or uprobe\("libc\.so\.6", "unlinkat", \.\.\.\) instead$/);
    const line = readFileSync(join(ROOT, "examples/unlink.ts"), "utf8").split("\n")[6]!;
    assert.equal(rest.join("\n"), frame(7, line, 28, 'kprobe("do_unlinkat"'), run.stderr());
  });

  it("streams the libc unlinkat uprobe example's line for an rm, and not another program's line for it", { skip: missingUprobes() ?? false }, async () => {
    // From the sources: the check that nothing was cached looks under the key this process computes.
    const run = tsbpf(["run", "examples/unlink-uprobe.ts", "--no-cache"], {}, { sources: true });
    // Another program prints for every unlinkat too: its lines reach the run's tracefs instance as well.
    const other = new Session(sys);
    try {
      other.load(fixture("tracepoint"), { name: "other" }).attachAll();
      await run.until(() => run.stderr().includes("streaming bpf_printk output"), "tsbpf run never started streaming");
      assert.match(run.stderr(), /attached libc_unlinkat to uprobe \/.*libc\.so\.6:unlinkat/);
      const uprobeLine = (pid: number) => new RegExp(`^rm-${pid} .*: UPROBE unlinkat pid = ${pid}, dfd = -100, flags = 0$`);
      await triggerUntil(run, uprobeLine);
      // A second rm's line comes after the first rm's lines of both programs have been read.
      await triggerUntil(run, uprobeLine);
      assert.doesNotMatch(run.stdout(), /tsbpf-tp/);
      run.child.kill("SIGTERM");
      assert.equal(await run.exited, 0, run.stderr());
      const file = "examples/unlink-uprobe.ts";
      assert.equal(existsSync(objectPath(join(cacheHome, "tsbpf"), objectKey(file, readFileSync(join(ROOT, file))))), false, "--no-cache stored the object");
    } finally {
      run.child.kill("SIGKILL");
      await other.close();
    }
  });

  it("streams opensnoop's ring buffer records as typed JSON events (field names and types of its OpenEvent)", async () => {
    const run = tsbpf(["run", "examples/opensnoop.ts", "--json", "--no-cache"]);
    try {
      await run.until(() => run.stderr().includes("streaming events; Ctrl-C"), "tsbpf run never started streaming");
      // It prints no lines, so it reads no trace pipe: other programs' bpf_printk lines cannot show up in its output.
      assert.equal(existsSync(`${tracefsPath()}/instances/tsbpf-${run.child.pid}`), false, "no tracefs instance for a probe that prints nothing");
      type OpenEvent = { pid: number; uid: number; flags: number; comm: string; filename: string };
      let event: OpenEvent | undefined;
      for (let attempt = 0; attempt < 20 && !event; attempt++) {
        const path = join(dir, `opened-${serial++}`);
        writeFileSync(path, "x");
        const cat = spawnSync("cat", [path]);
        for (const deadline = Date.now() + 1000; Date.now() < deadline && !event; await new Promise((r) => setTimeout(r, 50))) {
          for (const line of run.stdout().split("\n").filter(Boolean)) {
            const e = JSON.parse(line) as { map: string; value?: OpenEvent };
            if (e.map === "events" && e.value?.filename === path && e.value.pid === cat.pid) event = e.value;
          }
        }
      }
      assert.ok(event, `no event for cat's open; stdout: ${run.stdout().slice(0, 1000)}`);
      assert.equal(event.comm, "cat");
      assert.equal(event.uid, 0);
      assert.equal(typeof event.flags, "number");
      run.child.kill("SIGINT");
      assert.equal(await run.exited, 0, run.stderr());
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("streams execsnoop's events with the file name the kernel recorded as a __data_loc string", async () => {
    const run = tsbpf(["run", "examples/execsnoop.ts", "--json", "--no-cache"]);
    try {
      await run.until(() => run.stderr().includes("streaming events; Ctrl-C"), "tsbpf run never started streaming");
      // A copy of true(1) under a name of its own, so its exec is told apart from the machine's others.
      const program = join(dir, `exec-${serial++}-${"x".repeat(40)}`);
      copyFileSync("/bin/true", program);
      chmodSync(program, 0o755);
      type ExecEvent = { pid: number; uid: number; comm: string; filename: string };
      let event: ExecEvent | undefined;
      for (let attempt = 0; attempt < 20 && !event; attempt++) {
        const child = spawnSync(program);
        assert.equal(child.status, 0, String(child.error));
        for (const deadline = Date.now() + 1000; Date.now() < deadline && !event; await new Promise((r) => setTimeout(r, 50))) {
          for (const line of run.stdout().split("\n").filter(Boolean)) {
            const e = JSON.parse(line) as { map: string; value?: ExecEvent };
            if (e.map === "events" && e.value?.filename === program && e.value.pid === child.pid) event = e.value;
          }
        }
      }
      assert.ok(event, `no event for the exec of ${program}; stdout: ${run.stdout().slice(0, 1000)}`);
      // The task is named after the file's basename, cut to 15 bytes.
      assert.equal(event.comm, basename(program).slice(0, 15));
      assert.equal(event.uid, 0);
      run.child.kill("SIGINT");
      assert.equal(await run.exited, 0, run.stderr());
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("--record writes the hits and what arrived; replaying them in the simulator gives the same events", async () => {
    const recordPath = join(dir, "opensnoop.jsonl");
    const run = tsbpf(["run", "examples/opensnoop.ts", "--json", "--no-cache", "--record", recordPath]);
    const path = join(dir, `recorded-${serial++}`);
    try {
      await run.until(() => run.stderr().includes(`recording what arrives and the probe hits that caused it in ${recordPath}`), "tsbpf run never started recording");
      writeFileSync(path, "x");
      await run.until(() => {
        spawnSync("cat", [path]);
        return run.stdout().includes(`"filename":"${path}"`);
      }, "no event for cat's open");
      run.child.kill("SIGINT");
      assert.equal(await run.exited, 0, run.stderr());
    } finally {
      run.child.kill("SIGKILL");
    }
    const recording = readRecording(recordPath);
    const ours = (h: RecordedHit) => h.comm === "cat" && h.strings?.filename === path;
    assert.ok(recording.hits.some(ours), "the recorder saw cat's openat");
    const mount = cgroup2Mount();
    if (mount !== undefined) assert.deepEqual(new Set(recording.hits.filter(ours).map((h) => h.cgroup)), new Set([ownCgroupId(mount)]), "cat's cgroup, this process's");
    const live = (recording.events.get("events") ?? []).filter((e) => (e as { filename: string; comm: string }).filename === path && (e as { comm: string }).comm === "cat");
    const sim = await simulate("examples/opensnoop.ts");
    const fired = replay(sim, recording, { filter: ours });
    assert.equal(fired.length, recording.hits.filter(ours).length);
    assert.deepEqual(sim.events("events"), live);
  });

  it("--command starts the command once attached, uprobes see its process alone, and the run ends when it exits", { skip: missingUprobes() ?? false }, async () => {
    const files = [0, 1, 2].map((i) => join(dir, `command-${serial++}-${i}`));
    for (const f of files) writeFileSync(f, "x");
    // Other processes unlink meanwhile: without the filter they would be counted too.
    const noise = setInterval(() => void spawn("rm", ["-f", join(dir, "no-such-file")]), 20);
    const run = tsbpf(["run", COUNTS, "--no-cache", "--json", "-c", `rm -f ${files.join(" ")}`]);
    try {
      assert.equal(await run.exited, 0, run.stderr());
      const counts = countsByPid(run.stdout());
      const [pid] = [...counts.keys()];
      assert.deepEqual([...counts.values()], [3], `one process, three unlinks: ${run.stdout()}`);
      assert.match(run.stderr(), new RegExp(`until rm -f .* exits; Ctrl-C detaches and exits\n[^]*rm -f .* exited with status 0\n`));
      for (const f of files) assert.equal(existsSync(f), false);
      assert.equal(existsSync(`/proc/${pid}`), false);
    } finally {
      clearInterval(noise);
      run.child.kill("SIGKILL");
    }
  });

  it("--command: uprobes on libc see the command's calls and none made before its exec (the starter calls no libc)", { skip: missingUprobes() ?? false }, async () => {
    const probe = 'uprobe("libc.so.6", "malloc", () => { printf("malloc %s\\n", comm()); }); uprobe("libc.so.6", "strlen", () => { printf("strlen %s\\n", comm()); }); uprobe("libc.so.6", "__libc_start_main", () => { printf("start %s\\n", comm()); })';
    const run = tsbpf(["run", "-e", probe, "--no-cache", "-c", "/bin/true"]);
    try {
      assert.equal(await run.exited, 0, run.stderr());
      // A shell stopping the command ran malloc and strlen under its pid after the resume (`malloc sh`, `strlen sh`).
      assert.deepEqual(run.stdout().split("\n").filter(Boolean), ["start true"]);
      assert.match(run.stderr(), /^\/bin\/true exited with status 0$/m);
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("usdt() probes on CPython get the --command's imports (register arguments) and collections (a stack argument)", { skip: missingUprobes() ?? missingPythonUsdt() }, async () => {
    const script = join(dir, `gc-${serial++}.py`);
    writeFileSync(script, "import json, gc\ngc.collect(1)\ngc.collect(2)\n");
    const run = tsbpf(["run", "examples/python-usdt.ts", "--no-cache", "--json", "-c", `${PYTHON} ${script}`]);
    try {
      assert.equal(await run.exited, 0, run.stderr());
      const lines = run.stdout().split("\n").filter(Boolean).map((l) => JSON.parse(l) as { map: string; value?: { pid: number; found: boolean; module: string }; entries?: { key: number; value: number }[] });
      const imports = lines.filter((l) => l.map === "imports").map((l) => l.value!);
      // import__find__load__done(modulename, found): `8@%rax -4@%edx`, a pointer and a 32-bit int in registers.
      for (const module of ["json", "json.decoder", "json.scanner", "json.encoder", "gc"]) {
        assert.ok(imports.some((i) => i.module === module && i.found), `${module} imported: ${run.stdout()}`);
      }
      assert.deepEqual([...new Set(imports.map((i) => i.pid))].length, 1, "only the command's process");
      // gc__start(generation) is `-4@112(%rsp)`: memory at a register plus an offset. The script asks for 1 and 2.
      const collections = new Map(lines.find((l) => l.map === "collections")!.entries!.map((e) => [e.key, e.value]));
      assert.ok((collections.get(1) ?? 0) >= 1 && (collections.get(2) ?? 0) >= 1, run.stdout());
      assert.deepEqual([...collections.keys()].filter((g) => g < 0 || g > 2), [], "generations are 0, 1 or 2");
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("--record of usdt() probes: replaying the hits in the simulator counts the same collections and freed objects", { skip: missingUprobes() ?? missingPythonUsdt() }, async () => {
    const script = join(dir, `gc-${serial++}.py`);
    writeFileSync(script, "import json, gc\ngc.collect(1)\ngc.collect(2)\n");
    const recordPath = join(dir, `python-usdt-${serial++}.jsonl`);
    const run = tsbpf(["run", "examples/python-usdt.ts", "--no-cache", "--json", "--record", recordPath, "-c", `${PYTHON} ${script}`]);
    try {
      assert.equal(await run.exited, 0, run.stderr());
    } finally {
      run.child.kill("SIGKILL");
    }
    const live = (map: string) => new Map((JSON.parse(run.stdout().split("\n").find((l) => l.startsWith(`{"map":"${map}"`))!) as { entries: { key: number; value: number }[] }).entries.map((e) => [e.key, BigInt(e.value)]));
    const recording = readRecording(recordPath);
    assert.ok(recording.hits.some((h) => h.probe.kind === "usdt" && h.probe.name === "gc__start"), "the recorder saw the collections");
    const sim = await simulate("examples/python-usdt.ts");
    replay(sim, recording);
    assert.deepEqual(sim.map("collections").toMap(), live("collections"));
    assert.deepEqual(sim.map("collected").toMap(), live("collected"));
  });

  it("--command: a uprobe on a library the command loads later (dlopen) fires for it", { skip: missingUprobes() ?? missingPythonBz2() }, async () => {
    const run = tsbpf(["run", "test/e2e/fixtures/bz2-levels.ts", "--no-cache", "--json", "-c", `${PYTHON} -c 'import bz2; bz2.compress(b"x", 7); bz2.compress(b"y", 3); bz2.compress(b"z", 7)'`]);
    try {
      assert.equal(await run.exited, 0, run.stderr());
      const line = run.stdout().split("\n").find((l) => l.startsWith('{"map":"levels"'));
      const entries = (JSON.parse(line ?? "{}") as { entries?: { key: number; value: number }[] }).entries ?? [];
      assert.deepEqual(new Map(entries.map((e) => [e.key, e.value])), new Map([[7, 2], [3, 1]]), run.stdout() + run.stderr());
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("targetPid() in a tracepoint probe is the --command's pid, so only its unlinks are counted", async () => {
    const files = [0, 1].map((i) => join(dir, `target-${serial++}-${i}`));
    for (const f of files) writeFileSync(f, "x");
    const noise = setInterval(() => void spawn("rm", ["-f", join(dir, "no-such-file")]), 20);
    const run = tsbpf(["run", "test/e2e/fixtures/target-counts.ts", "--no-cache", "--json", "-c", `rm -f ${files.join(" ")}`]);
    try {
      assert.equal(await run.exited, 0, run.stderr());
      assert.deepEqual([...countsByPid(run.stdout()).values()], [2], `one process, two unlinks: ${run.stdout()}`);
    } finally {
      clearInterval(noise);
      run.child.kill("SIGKILL");
    }
  });

  it("a reader that stops reading does not hold the run: Ctrl-C detaches at once, the output waits for it, a second Ctrl-C exits", async () => {
    const file = join(dir, "stalled.ts");
    // 2,000 lines a second on two CPUs fill a 64 KiB pipe in well under a second.
    writeFileSync(file, `import { profile, printf } from "tsbpf";
export const license = "GPL";
export const stalledReader = profile(999, () => { printf("%s\\n", "a line for a reader that stopped reading, long enough to fill its pipe"); });
`);
    const attached = () => {
      for (let id = sys.progGetNextId(0); id !== undefined; id = sys.progGetNextId(id)) {
        let fd: number;
        try {
          fd = sys.progGetFdById(id);
        } catch {
          continue;
        }
        try {
          if (sys.progInfo(fd).name === "stalledReader".slice(0, 15)) return true;
        } finally {
          sys.close(fd);
        }
      }
      return false;
    };
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    for (const second of [false, true]) {
      // A shell's pipe (blocking, as a terminal user's `| less` is) whose reader reads once the test says go.
      const [err, out, go] = ["err", "out", "go"].map((x) => join(dir, `stalled-${second}.${x}`)) as [string, string, string];
      const reader = `(while [ ! -e "${go}" ]; do sleep 0.1; done; cat >"${out}")`;
      // The built command, as users run it (tsx makes standard output non-blocking, which hides the case).
      const shell = spawn("sh", ["-c", `"${process.execPath}" "${BUILT}" run "${file}" 2>"${err}" | ${reader}`], { cwd: ROOT, env: { ...process.env, XDG_CACHE_HOME: cacheHome }, stdio: "ignore" });
      const done = new Promise((resolve) => shell.on("close", resolve));
      try {
        const streaming = () => existsSync(err) && /streaming/.test(readFileSync(err, "utf8"));
        for (const deadline = Date.now() + 60_000; !streaming() && Date.now() < deadline; ) await sleep(50);
        const pid = Number(spawnSync("pgrep", ["-f", `^${process.execPath} ${BUILT} run ${file}`], { encoding: "utf8" }).stdout.trim().split("\n")[0]);
        assert.ok(pid > 0, readFileSync(err, "utf8"));
        await sleep(1500);
        const signalled = Date.now();
        process.kill(pid, "SIGINT");
        // Detached while the output still waits: nothing of the run stays in the kernel, long before the reader reads.
        while (attached() && Date.now() - signalled < 10_000) await sleep(50);
        assert.equal(attached(), false, `the program is still loaded 10 s after Ctrl-C: ${readFileSync(err, "utf8")}`);
        if (second) {
          process.kill(pid, "SIGINT");
          for (const since = Date.now(); Date.now() - since < 5_000; await sleep(50)) if (spawnSync("kill", ["-0", String(pid)]).status !== 0) break;
          assert.notEqual(spawnSync("kill", ["-0", String(pid)]).status, 0, "a second Ctrl-C did not end the run");
        }
      } finally {
        writeFileSync(go, "");
        await done;
      }
      if (!second) assert.match(readFileSync(out, "utf8"), /^a line for a reader that stopped reading, long enough to fill its pipe\n/);
    }
  });

  it("bpf_printk lines the trace buffer overwrote, or still held at the stop, are counted and said", async () => {
    // 40,000 lines from one begin() run, before the run reads any: the instance's buffer (~1.4 MB a CPU) overwrites.
    const file = join(dir, "printk-flood.ts");
    writeFileSync(file, `import { begin, printk, exit, type u32 } from "tsbpf";
export const license = "GPL";
begin(() => {
  for (let i: u32 = 0; i < 40000; i++) printk(\`line \${i} of a burst of printk lines long enough to fill the instance buffer\`);
  exit();
});
`);
    const run = tsbpf(["run", file]);
    assert.equal(await run.exited, 0, run.stderr());
    const printed = run.stdout().split("\n").filter((l) => /line \d+ of a burst/.test(l)).length;
    const m = /^bpf_printk lines lost: (\d+) overwritten in the trace buffer before they were read \(the reader fell behind\)(?:, (\d+) still in it at the stop)?$/m.exec(run.stderr());
    assert.ok(m, run.stderr());
    const lost = Number(m[1]) + Number(m[2] ?? 0);
    // Every line is printed or counted (the counts are the instance's, so other programs' lines, those of tests running
    // beside this one, may add to them).
    assert.ok(printed <= 40_000 && printed + lost >= 40_000, `${printed} printed, ${lost} lost`);
    // Where they went missing, in the stream, as the trace pipe says it (CPU:0 [LOST 123 EVENTS]): all of the overwritten.
    const said = [...run.stdout().matchAll(/^bpf_printk: (\d+) lines? lost on CPU \d+: the trace buffer overwrote them \(the reader fell behind\)$/gm)];
    assert.equal(said.reduce((n, s) => n + Number(s[1]), 0), Number(m[1]), run.stdout().slice(0, 500));
    assert.doesNotMatch(run.stdout(), /LOST/);
  });

  it("prints every bpf_printk line of a --command that ends in a burst: what the trace buffer holds at the stop is read, not counted lost", async () => {
    // 10,000 unlinkat calls in a few milliseconds (rm -f of missing files), each a line of ~100 bytes: the command
    // has exited, its lines still in the instance's buffer, long before the run has read them.
    const file = join(dir, "printk-command.ts");
    writeFileSync(file, `import { tracepoint, printk, pidTgid, targetPid, type u32 } from "tsbpf";
export const license = "GPL";
export const unlinks = tracepoint("syscalls", "sys_enter_unlinkat", () => {
  const pid = (pidTgid() >> 32) as u32;
  if (pid === targetPid()) printk(\`an unlinkat by the command of a burst, \${pid}\`);
});
`);
    const names = Array.from({ length: 10_000 }, (_, i) => `/n/${i}`).join(" ");
    const run = tsbpf(["run", file, "-c", `rm -f ${names}`]);
    assert.equal(await run.exited, 0, run.stderr());
    const printed = run.stdout().split("\n").filter((l) => /: an unlinkat by the command of a burst, \d+$/.test(l)).length;
    // Other programs' bpf_printk lines share the instance's buffer: while tests run beside this one they may overwrite
    // some of these, which the run must then count. Every line is printed or counted, and none is left unread.
    const lost = /^bpf_printk lines lost: (\d+) overwritten in the trace buffer before they were read \(the reader fell behind\)(, \d+ still in it at the stop)?$/m.exec(run.stderr());
    assert.equal(lost?.[2], undefined, run.stderr().slice(-300));
    assert.ok(printed <= 10_000 && printed + Number(lost?.[1] ?? 0) >= 10_000, `${printed} printed; ${run.stderr().slice(-300)}`);
    if (!lost) assert.equal(printed, 10_000);
  });

  it("what the probes print after exit() is left out, as bpftrace leaves it out; end() still prints", async () => {
    const file = join(dir, "exit-first.ts");
    writeFileSync(
      file,
      `import { tracepoint, end, exit, printf, pidTgid, targetPid } from "tsbpf";
export const license = "GPL";
export const t = tracepoint("syscalls", "sys_enter_unlinkat", () => {
  if (pidTgid() >> 32 !== targetPid()) return;
  printf("unlink\\n");
  exit(5);
});
end(() => { printf("end\\n"); });
`,
    );
    // One rm unlinks 20 files before the run reads the first record: 20 printf and exit records are queued.
    const files = Array.from({ length: 20 }, (_, i) => join(dir, `exit-first-${i}`));
    const run = tsbpf(["run", file, "-c", `sh -c 'touch ${files.join(" ")}; exec rm ${files.join(" ")}'`]);
    assert.equal(await run.exited, 5, run.stderr());
    assert.equal(run.stdout(), "unlink\nend\n");
  });

  it("a probe's exit(code) is the run's status also when the --command ends right after it (it was lost in that race)", async () => {
    const file = join(dir, "exit-race.ts");
    writeFileSync(
      file,
      `import { tracepoint, exit, pidTgid, targetPid, readUserStr, type Str } from "tsbpf";
export const license = "GPL";
export const t = tracepoint("syscalls", "sys_enter_openat", (ctx) => {
  if (pidTgid() >> 32 !== targetPid()) return;
  const f: Str<32> = readUserStr(ctx.filename);
  if (f.startsWith("/tmp/tsbpf-exit-race")) exit(7);
});
`,
    );
    // cat opens the file (the probe asks to exit) and ends at once, before the run reads that request.
    for (let i = 0; i < 3; i++) {
      const run = tsbpf(["run", file, "-c", "cat /tmp/tsbpf-exit-race-no-such-file"]);
      try {
        assert.equal(await run.exited, 7, run.stderr());
      } finally {
        run.child.kill("SIGKILL");
      }
    }
  });

  it("--command that cannot be executed is a usage error (exit 2): before attaching when its file shows why, else once its exec fails, releasing everything", async () => {
    const script = join(dir, `no-shebang-${serial++}.sh`);
    writeFileSync(script, "echo hi\n", { mode: 0o755 });
    const early = tsbpf(["run", "examples/unlink-tracepoint.ts", "-c", script]);
    assert.equal(await early.exited, 2, early.stderr());
    assert.equal(early.stderr(), `tsbpf: --command: cannot execute ${script}: it is not an executable: neither a binary for this machine nor a script with a #! line (ENOEXEC); a shell script without one runs as -c 'sh ${script}'\n`);
    // An ELF file that is no executable passes the look at its first bytes; the starter reports execve's ENOEXEC.
    const object = join(dir, `object-${serial++}.o`);
    writeFileSync(object, Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, ...new Array(57).fill(0)]), { mode: 0o755 });
    const late = tsbpf(["run", "examples/unlink-tracepoint.ts", "-c", object]);
    assert.equal(await late.exited, 2, late.stderr());
    assert.equal(late.stderr().trimEnd().split("\n").at(-1), `tsbpf: --command: cannot execute ${object}: it is not an executable: neither a binary for this machine nor a script with a #! line (ENOEXEC)`);
    assert.doesNotMatch(late.stderr(), /exited with status 127/);
    assert.equal(existsSync(`${tracefsPath()}/instances/tsbpf-${late.child.pid}`), false, "the run's tracefs instance is still there");
  });

  it("--pid makes uprobes see that process alone and ends the run when it exits", { skip: missingUprobes() ?? false }, async () => {
    const files = [0, 1].map((i) => join(dir, `pid-${serial++}-${i}`));
    for (const f of files) writeFileSync(f, "x");
    // Waits for a line on its standard input, then becomes rm (same pid) and exits.
    const traced = spawn("/bin/sh", ["-c", 'read go && exec rm -f "$@"', "sh", ...files], { stdio: ["pipe", "ignore", "ignore"] });
    const noise = setInterval(() => void spawn("rm", ["-f", join(dir, "no-such-file")]), 20);
    const run = tsbpf(["run", COUNTS, "--no-cache", "--json", "--pid", String(traced.pid)]);
    try {
      await run.until(() => run.stderr().includes(`until process ${traced.pid} exits; Ctrl-C`), "tsbpf run never attached");
      traced.stdin!.end("go\n");
      assert.equal(await run.exited, 0, run.stderr());
      assert.deepEqual(countsByPid(run.stdout()), new Map([[traced.pid, 2]]), run.stdout());
      assert.match(run.stderr(), new RegExp(`process ${traced.pid} exited`));
      assert.doesNotMatch(run.stderr(), /does not map/, "sh maps the libc the probe is in");
    } finally {
      clearInterval(noise);
      traced.kill("SIGKILL");
      run.child.kill("SIGKILL");
    }
  });

  it("prints the latency histogram and the call counters, as bpftrace prints maps, when SIGINT stops it", async () => {
    const run = tsbpf(["run", "examples/latency.ts", "--no-cache"]);
    try {
      await run.until(() => run.stderr().includes("counting into the maps (no probe prints or sends events); Ctrl-C"), "tsbpf run never started");
      for (let i = 0; i < 3; i++) rmChild();
      run.child.kill("SIGINT");
      assert.equal(await run.exited, 0, run.stderr());
      const out = run.stdout();
      assert.match(out, /^@latency: \n(\[\d+[KMG]?, \d+[KMG]?\) +\d+ \|@*\s*\|\n)+\n/m);
      const rows = [...out.matchAll(/^\[\S+, \S+\) +(\d+) \|/gm)].reduce((n, m) => n + Number(m[1]), 0);
      const calls = Number(/^@calls\[1\]: (\d+)$/m.exec(out)?.[1]);
      assert.ok(calls >= 3, `three rm's timed at least: ${out}`);
      assert.equal(rows, calls, "every timed call is in one histogram row");
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("prints Avg, Min, Max and Stats maps as bpftrace prints avg(), min(), max() and stats(), as text and as --json", async () => {
    const command = "sh -c 'kill -0 1; kill -0 2; kill -0 -999998; true'";
    // The second run loads the object the first compiled and cached.
    const text = tsbpf(["run", "test/e2e/fixtures/kill-aggregates.ts", "-c", command]);
    let json: Running | undefined;
    try {
      assert.equal(await text.exited, 0, text.stderr());
      // By value (key 1's -999998 first); -999995 / 3 truncated toward zero.
      const maps = ["@bySign[1]: -999998", "@bySign[0]: 1", "", "@low: -999998", "", "@high[sh]: 2", "", "@all: count 3, average -333331, total -999995", ""];
      assert.equal(text.stdout(), maps.join("\n") + "\n");
      json = tsbpf(["run", "test/e2e/fixtures/kill-aggregates.ts", "--json", "-c", command]);
      assert.equal(await json.exited, 0, json.stderr());
      assert.deepEqual(json.stdout().trimEnd().split("\n"), [
        '{"map":"bySign","entries":[{"key":1,"value":-999998},{"key":0,"value":1}]}',
        '{"map":"low","value":-999998}',
        '{"map":"high","entries":[{"key":"sh","value":2}]}',
        '{"map":"all","value":{"count":3,"average":-333331,"total":-999995}}',
      ]);
    } finally {
      text.child.kill("SIGKILL");
      json?.child.kill("SIGKILL");
    }
  });

  it("runs the profile example for --duration 1: a perf link per CPU while attached, the samples by task name at the end, nothing left after", async () => {
    const cpus = onlineCpus().length;
    // Something to sample besides idle CPUs.
    const spinner = spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" });
    const run = tsbpf(["run", "examples/profile.ts", "--duration", "1", "--no-cache"]);
    try {
      await run.until(() => run.stderr().includes("counting into the maps (no probe prints or sends events) for 1 s"), "tsbpf run never started");
      assert.match(run.stderr(), new RegExp(`attached sample to profile:hz:99 \\(on ${cpus} CPUs?\\)`));
      const live = heldBy(run.child.pid!);
      // A link's fdinfo names its program too.
      assert.equal(new Set(live.prog).size, 1, "the sampler is loaded");
      assert.equal(live.link.length, cpus, "one perf link per online CPU");
      assert.equal(await run.exited, 0, run.stderr());
      const rows = [...run.stdout().matchAll(/^@samples\[(.*)\]: (\d+)$/gm)];
      assert.ok(rows.length > 0, `no samples printed: ${run.stdout()}`);
      assert.ok(rows.some((m) => m[1] === "sh" && Number(m[2]) > 0), `the spinning sh was sampled: ${run.stdout()}`);
      let left: number[] = [];
      for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
        const ids = { prog: new Set(listIds(sys, "prog")), link: new Set(listIds(sys, "link")) };
        left = [...live.prog.filter((id) => ids.prog.has(id)), ...live.link.filter((id) => ids.link.has(id))];
        if (left.length === 0) break;
      }
      assert.deepEqual(left, [], "program or link ids of the run still alive after it ended");
    } finally {
      spinner.kill("SIGKILL");
      run.child.kill("SIGKILL");
    }
  });

  it("--command does not narrow a profile probe (as bpftrace's): other processes are sampled, and the run ends with the command", async () => {
    const spinner = spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" });
    const run = tsbpf(["run", "examples/profile.ts", "--json", "--no-cache", "--command", "sleep 1"]);
    try {
      assert.equal(await run.exited, 0, run.stderr());
      const line = run.stdout().split("\n").find((l) => l.startsWith('{"map":"samples"'));
      assert.ok(line, `no samples map in ${run.stdout()}`);
      const { entries } = JSON.parse(line) as { entries: { key: string; value: number }[] };
      assert.ok(entries.some((e) => e.key === "sh" && e.value > 0), `the spinning sh, not the command, was sampled: ${line}`);
    } finally {
      spinner.kill("SIGKILL");
      run.child.kill("SIGKILL");
    }
  });

  it("says how many printf() lines a full ring buffer dropped (they went unsaid), as text and as --json", async () => {
    // One begin() run sends 2,000 lines of 144 bytes into printf's 256 KiB ring before anything reads them: what does
    // not fit is dropped, and counted.
    const file = join(dir, "burst.ts");
    writeFileSync(
      file,
      `import { begin, printf, exit, comm, type u32 } from "tsbpf";
export const license = "GPL";
begin(() => {
  for (let i: u32 = 0; i < 2000; i++) printf("%u %s %s %s %s %s %s %s %s\\n", i, comm(), comm(), comm(), comm(), comm(), comm(), comm(), comm());
  exit(0);
});
`,
    );
    const text = tsbpf(["run", file]);
    assert.equal(await text.exited, 0, text.stderr());
    const lines = text.stdout().trimEnd().split("\n");
    const printed = lines.filter((l) => /^\d+( \S+){8}$/.test(l)).length;
    const printfDropped = Number(/^printf: (\d+) lines dropped: the ring buffer was full \(the reader fell behind\)$/m.exec(text.stdout())?.[1]);
    assert.ok(printfDropped > 0, text.stdout().slice(-500));
    assert.equal(printed + printfDropped, 2000);

    const json = tsbpf(["run", file, "--json"]);
    assert.equal(await json.exited, 0, json.stderr());
    const objects = json.stdout().trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const lost = new Map(objects.filter((o) => "lost" in o).map((o) => [o.map, o.lost as number]));
    assert.equal(objects.filter((o) => "printf" in o).length + lost.get("tsbpf_actions")!, 2000);
  });

  it("says how many records a full RingBuf dropped where reserve() gave null or output() failed, as it says a perf buffer's", async () => {
    // 400 records of 16 bytes (an 8-byte header, a u32 padded to 8) into a one-page ring, before anything reads them:
    // tsbpf counts every one dropped; output() also gives the probe its result (counted here in a map too).
    const file = join(dir, "ring-burst.ts");
    writeFileSync(
      file,
      `import { begin, exit, RingBuf, ArrayMap, type u32, type u64 } from "tsbpf";
export const license = "GPL";
interface Hit { i: u32 }
const events = new RingBuf<Hit>(4096);
export const failedOutputs = new ArrayMap<u64>(1);
begin(() => {
  for (let i: u32 = 0; i < 300; i++) if (events.output({ i }) < 0) failedOutputs.increment(0);
  for (let i: u32 = 300; i < 400; i++) {
    const r = events.reserve();
    if (r === null) continue;
    r.i = i;
    events.submit(r);
  }
  exit(0);
});
`,
    );
    const run = tsbpf(["run", file, "--json"]);
    assert.equal(await run.exited, 0, run.stderr());
    const objects = jsonLines(run.stdout());
    const { received, lost } = eventCounts(objects, "events");
    const failed = Number((objects.find((o) => o.map === "failedOutputs")?.entries as { value: number }[] | undefined)?.[0]?.value ?? 0);
    assert.ok(received > 0 && failed > 0, run.stdout().slice(-500));
    assert.equal(received + lost, 400);
    assert.ok(lost > failed, "the failed output()s and the null reserve()s");
    // The simulator's ring fills where the kernel's does, and counts the same drops.
    const sim = await simulate(file);
    sim.begin();
    assert.deepEqual([sim.events("events").length, sim.global("tsbpf_lost_events"), sim.map("failedOutputs").toArray()], [received, BigInt(lost), [BigInt(failed)]]);
  });

  it("says how many records a perf buffer dropped also when its ring stayed full to the end, where the kernel writes no lost record", async () => {
    // 2,000 records of 48 bytes from one begin() run, before anything reads them: one CPU's 32 KiB ring takes 682, and
    // no record fits after the losses to say them (Linux 6.0 counts them in the event, PERF_FORMAT_LOST).
    const file = join(dir, "perf-burst.ts");
    writeFileSync(file, PERF_BURST);
    const run = tsbpf(["run", file, "--json"]);
    assert.equal(await run.exited, 0, run.stderr());
    const { received, lost } = eventCounts(jsonLines(run.stdout()), "events");
    assert.ok(received > 0 && received < 2000, run.stdout().slice(-500));
    assert.equal(received + lost, 2000, run.stdout().slice(-500));
  });

  it("--perf-pages gives each CPU's perf ring the pages asked for: the burst a 32 KiB ring drops fits whole; a count that is no power of two is a usage error", async () => {
    const file = join(dir, "perf-burst-pages.ts");
    writeFileSync(file, PERF_BURST);
    const run = tsbpf(["run", file, "--json", "--perf-pages", "64"]);
    assert.equal(await run.exited, 0, run.stderr());
    assert.deepEqual(eventCounts(jsonLines(run.stdout()), "events"), { received: 2000, lost: 0 });
    const odd = tsbpf(["run", file, "--perf-pages", "48"]);
    assert.equal(await odd.exited, 2);
    assert.match(odd.stderr(), /--perf-pages must be a power of two from 1 to 1024 \(pages per CPU, as the kernel maps a perf ring\), not 48/);
  });

  it("warns at the end that a hash map is full, as bpftrace says a map is full (updates of new keys failed)", async () => {
    const probe = 'const execs = new HashMap<u32, u64>(4); tracepoint("sched", "sched_process_exec", (c) => { execs.increment(c.pid); })';
    const run = tsbpf(["run", "-e", probe, "-c", "sh -c 'for i in 1 2 3 4 5 6 7 8; do /bin/true; done'"]);
    assert.equal(await run.exited, 0, run.stderr());
    assert.equal(run.stdout().split("\n").filter((l) => l.startsWith("@execs[")).length, 4);
    assert.match(run.stderr(), /^warning: execs holds as many keys as it can \(4\): an update of a key it does not hold fails; declare it larger if there are more$/m);
  });

  it("--interval prints no time lines while the maps hold nothing", async () => {
    // acct(2) is not called while the run lasts: the map stays empty.
    const run = tsbpf(["run", "-e", 'const m = new HashMap<u32, u64>(4); tracepoint("syscalls", "sys_enter_acct", () => { m.increment(1); })', "--interval", "0.2", "--duration", "1"]);
    try {
      assert.equal(await run.exited, 0, run.stderr());
      assert.equal(run.stdout(), "");
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("--interval prints the maps as they are every S seconds, each JSON line with its time, and once more at the end", async () => {
    const run = tsbpf(["run", "examples/latency.ts", "--json", "--interval", "0.2", "--duration", "2"]);
    try {
      await run.until(() => run.stderr().includes("counting into the maps"), "tsbpf run never started");
      for (let i = 0; i < 3; i++) rmChild();
      assert.equal(await run.exited, 0, run.stderr());
      const calls = run
        .stdout()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { time?: string; map: string; entries?: { key: number; value: number }[] })
        .filter((o) => o.map === "calls");
      const timed = calls.filter((o) => o.time !== undefined);
      assert.ok(timed.length >= 2, `printed at intervals: ${run.stdout()}`);
      const times = timed.map((o) => Date.parse(o.time!));
      assert.deepEqual(times, [...times].sort((a, b) => a - b));
      const last = calls.at(-1)!;
      assert.equal(last.time, undefined, "the final printing has no time");
      assert.ok(last.entries!.find((e) => e.key === 1)!.value >= 3, JSON.stringify(last));
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("prints compile diagnostics as tsbpf compile does (exit 3) and an unknown uprobe symbol as one sentence at its probe (exit 2)", async () => {
    const bad = join(dir, "bad.ts");
    writeFileSync(bad, `import { tracepoint } from "tsbpf";\nexport const license = "GPL";\nexport const p = tracepoint("syscalls", "sys_enter_no_such_call", () => 0);\n`);
    const missing = join(dir, "missing-symbol.ts");
    writeFileSync(missing, `import { uprobe } from "tsbpf";\nexport const license = "GPL";\nexport const p = uprobe("libc.so.6", "tsbpf_no_such_symbol", () => 0);\n`);
    const misspelt = join(dir, "misspelt-symbol.ts");
    writeFileSync(misspelt, `import { uprobe } from "tsbpf";\nexport const license = "GPL";\n\nexport const p = uprobe("libc.so.6", "unlinkatt", () => 0);\n`);
    // A probe bound to no name: the error points at the call naming its symbol (it named the file alone).
    const unnamed = join(dir, "unnamed-probe.ts");
    writeFileSync(unnamed, `import { uprobe, printf } from "tsbpf";\nexport const license = "GPL";\nuprobe("libc.so.6", "tsbpf_no_such_symbol", () => printf("x\\n"));\n`);
    const compiled = tsbpf(["compile", bad, "-o", join(dir, "bad.o")]);
    const ran = tsbpf(["run", bad]);
    const run = tsbpf(["run", missing]);
    const misspeltRun = tsbpf(["run", misspelt]);
    const unnamedRun = tsbpf(["run", unnamed]);
    const glob = join(dir, "glob-nothing.ts");
    writeFileSync(glob, `import { uprobe } from "tsbpf";\nexport const license = "GPL";\nexport const p = uprobe("libc.so.6", "tsbpf_nothing*", () => 0);\n`);
    const globRun = tsbpf(["run", glob]);
    assert.equal(await ran.exited, 3, ran.stderr());
    assert.equal(await compiled.exited, 3, compiled.stderr());
    assert.equal(ran.stderr(), compiled.stderr());
    assert.match(ran.stderr(), /no tracepoint syscalls:sys_enter_no_such_call/);
    assert.equal(await run.exited, 2, run.stderr());
    const missingLine = 'export const p = uprobe("libc.so.6", "tsbpf_no_such_symbol", () => 0);';
    assert.equal(run.stderr(), `tsbpf: ${missing}:3:18 - error TSBPF3002: cannot attach uprobe libc.so.6:tsbpf_no_such_symbol: no function tsbpf_no_such_symbol in the symbol tables of ${resolveBinary("libc.so.6")}; tsbpf list 'uprobe:libc.so.6:*' lists its functions\n${frame(3, missingLine, 18, 'uprobe("libc.so.6", "tsbpf_no_such_symbol"')}`);
    assert.equal(await misspeltRun.exited, 2, misspeltRun.stderr());
    assert.match(misspeltRun.stderr(), /^tsbpf: .*misspelt-symbol\.ts:4:18 - error TSBPF3002: cannot attach uprobe libc\.so\.6:unlinkatt: no function unlinkatt in the symbol tables of .*; did you mean unlinkat\?\n\n4 export/);
    assert.equal(await unnamedRun.exited, 2, unnamedRun.stderr());
    assert.match(unnamedRun.stderr(), /^tsbpf: .*unnamed-probe\.ts:3:1 - error TSBPF3002: cannot attach uprobe libc\.so\.6:tsbpf_no_such_symbol: .*\n/);
    assert.ok(unnamedRun.stderr().endsWith(frame(3, 'uprobe("libc.so.6", "tsbpf_no_such_symbol", () => printf("x\\n"));', 1, 'uprobe("libc.so.6", "tsbpf_no_such_symbol"')), unnamedRun.stderr());
    // A glob that matches nothing: the same next step.
    assert.equal(await globRun.exited, 2, globRun.stderr());
    assert.equal(globRun.stderr(), `tsbpf: ${glob}:3:18 - error TSBPF3002: cannot attach uprobe libc.so.6:tsbpf_nothing*: no function in the symbol tables of ${resolveBinary("libc.so.6")} matches tsbpf_nothing*; tsbpf list 'uprobe:libc.so.6:*' lists its functions\n${frame(3, 'export const p = uprobe("libc.so.6", "tsbpf_nothing*", () => 0);', 18, 'uprobe("libc.so.6", "tsbpf_nothing*"')}`);
  });

  it("a map the kernel will not create for its size is a usage error at its declaration (exit 2), in a file, in -e and for an object", async () => {
    const file = join(dir, "huge-map.ts");
    writeFileSync(file, `import { tracepoint, HashMap, type u32, type u64 } from "tsbpf";\nexport const license = "GPL";\n\nexport const huge = new HashMap<u32, u64>(4000000000);\nexport const p = tracepoint("syscalls", "sys_enter_openat", () => { huge.increment(1); });\n`);
    const refused = (map: string) => `the kernel refused to create map ${map} (type 1, key 4 B, value 8 B, 4000000000 entries, flags 0x0): E2BIG; 4000000000 entries of 12 B are about 44.7 GiB, more than the kernel will allocate: lower max_entries or the value size`;
    const run = tsbpf(["run", file, "--no-cache"]);
    const oneLiner = tsbpf(["run", "--no-cache", "-e", 'const big = new HashMap<u32, u64>(4000000000); tracepoint("syscalls", "sys_enter_openat", () => { big.increment(1); })']);
    assert.equal(await run.exited, 2, run.stderr());
    assert.equal(run.stderr(), `tsbpf: ${file}:4:21 - error TSBPF3005: ${refused("huge")}\n${frame(4, "export const huge = new HashMap<u32, u64>(4000000000);", 21, "new HashMap<u32, u64>(4000000000")}`);
    assert.equal(await oneLiner.exited, 2, oneLiner.stderr());
    assert.match(oneLiner.stderr(), new RegExp(`^tsbpf: -e\\.ts:1:13 - error TSBPF3005: ${refused("big").replace(/[()]/g, "\\$&")}\n\n1 `));
    const object = join(dir, "huge-map.o");
    const compiled = tsbpf(["compile", file, "-o", object]);
    assert.equal(await compiled.exited, 0, compiled.stderr());
    const load = tsbpf(["load", object]);
    assert.equal(await load.exited, 2, load.stderr());
    assert.equal(load.stderr(), `tsbpf: ${object}: ${refused("huge")}\n`);
  });

  it("tells a user who is not root to use sudo (exit 4), before compiling", async () => {
    const run = tsbpf(["run", "examples/unlink-tracepoint.ts"], { XDG_CACHE_HOME: join(dir, "nobody") }, { uid: 65534, gid: 65534 });
    assert.equal(await run.exited, 4, run.stderr());
    assert.match(run.stderr(), /^tsbpf: loading BPF programs needs root .*; run it with sudo\n$/);
  });

  describe("as a user with CAP_BPF and CAP_PERFMON, not root", () => {
    let home: string;
    /** `tsbpf ARGS` as uid 65534 keeping `caps` (setpriv's names), from a directory that user can read. */
    const asUser = (args: string[], caps = "+bpf,+perfmon") =>
      spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", `--inh-caps=${caps}`, `--ambient-caps=${caps}`, process.execPath, ...CLI, ...args], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, HOME: home, XDG_CACHE_HOME: join(home, "cache"), TSBPF_CACHE_DIR: join(home, "cache") },
        timeout: 60_000,
      });
    /** A probe file that user can read. */
    const probe = (name: string, text: string) => {
      const file = join(home, name);
      writeFileSync(file, `import { interval, uprobe, printk, HashMap, type u64 } from "tsbpf";\nexport const license = "GPL";\nexport const counts = new HashMap<u64, u64>(4);\n${text}\n`);
      chmodSync(file, 0o644);
      return file;
    };
    before(() => {
      home = mkdtempSync(join(tmpdir(), "tsbpf-e2e-user-"));
      chmodSync(home, 0o777);
    });
    after(() => rmSync(home, { recursive: true, force: true }));
    // tsx runs the CLI from the worktree: that user must be able to reach it (every directory above it searchable
    // by others) and read it.
    const skipReason = () => {
      if (spawnSync("setpriv", ["--version"]).status !== 0) return "needs setpriv (util-linux) to keep capabilities for another user";
      const above = ROOT.split("/").filter(Boolean).map((_, i, parts) => `/${parts.slice(0, i + 1).join("/")}`);
      const closed = ["/", ...above].find((d) => !(statSync(d).mode & 0o001));
      if (closed) return `${closed} is not searchable by other users, so uid 65534 cannot reach ${ROOT}`;
      if (!(statSync(ROOT).mode & 0o004)) return `${ROOT} is not readable by other users (uid 65534)`;
      return undefined;
    };

    it("runs a probe that needs no tracefs (an interval probe, no printk) with -c, where tracefs is root's alone", (t) => {
      if (skipReason()) return t.skip(skipReason());
      const r = asUser(["run", probe("ticks.ts", "export const p = interval(10, () => { counts.increment(0); });"), "-c", "sleep 0.3"]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^@counts\[0\]: [1-9]\d*$/m);
    });

    it("says tracefs is root's alone only for an object that needs it, naming what needs it (exit 4)", (t) => {
      if (skipReason()) return t.skip(skipReason());
      if (statSync(tracefsPath()!).mode & 0o005) return t.skip("tracefs is readable by other users here");
      const printing = asUser(["run", probe("printing.ts", 'export const p = interval(10, () => { printk("tick"); });'), "--duration", "1"]);
      assert.equal(printing.status, 4, printing.stderr);
      assert.match(printing.stderr, /^tsbpf: tracefs at \S+ is not readable by this user \(mounted for root alone\): run as root, or remount it readable .*; this run needs it: the object calls bpf_printk, whose output is read from it\n$/);
      // A tracepoint probe compiles against its format file, which the compiler cannot read.
      const tracepoint = asUser(["run", "examples/unlink-tracepoint.ts"]);
      assert.equal(tracepoint.status, 4, tracepoint.stderr);
      assert.match(tracepoint.stderr, /error TSBPF1026: cannot read the format of tracepoint syscalls:sys_enter_unlinkat: \S+ is readable only by root, .*: compile as root \(sudo\), or remount it readable/);
    });

    it("says a uprobe needs CAP_SYS_ADMIN where the kernel refuses CAP_PERFMON one (as 6.18 here does)", (t) => {
      if (skipReason()) return t.skip(skipReason());
      const r = asUser(["run", probe("up.ts", 'export const p = uprobe("libc.so.6", "unlinkat", () => { counts.increment(0); });'), "-c", "rm -f /nonexistent"]);
      // Older kernels let CAP_PERFMON create uprobes: then the run works.
      if (r.status === 0) return assert.match(r.stdout, /^@counts\[0\]: [1-9]\d*$/m);
      assert.equal(r.status, 4, r.stderr);
      assert.match(r.stderr, /cannot create the uprobe \S+:unlinkat event for program p: perf_event_open failed: EACCES \(errno 13\); creating a uprobe needs CAP_SYS_ADMIN on this kernel \(CAP_PERFMON is not enough\), which this process lacks: run it with sudo\n\n4 export const p = uprobe\(/);
    });

    it("names the capability a user lacks when it has only one of the two (exit 4)", (t) => {
      if (skipReason()) return t.skip(skipReason());
      const r = asUser(["run", probe("only-bpf.ts", "export const p = interval(10, () => { counts.increment(0); });")], "+bpf");
      assert.equal(r.status, 4, r.stderr);
      assert.equal(r.stderr, "tsbpf: loading BPF programs needs root (or CAP_BPF and CAP_PERFMON): not running as root (uid 65534), and without CAP_PERFMON; run it with sudo, or give it CAP_PERFMON too\n");
    });
  });
});
