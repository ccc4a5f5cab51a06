// The tools/ ports against the running kernel: every tool compiles against this kernel's tracefs and BTF and each
// program passes the kernel's verifier (loaded through runtime/loader, not attached); then a few run for real
// through the command line (tsx, so the sources under test are what runs), each on a command it starts with -c,
// and what they print is checked: syscount's maps, killsnoop's, statsnoop's and exitsnoop's records, opensnoop's
// printf lines, syncsnoop's tracepoint glob named by probe(), gethostlatency's uprobe and uretprobe pair, funccount's uprobe glob, setuids' printf lines and
// skbdrop's drop reason by name. No tracefs instance or uprobe definition of theirs is left behind.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { objectKey, storeCached } from "../../cli/cache.js";
import { compile, type CompileResult } from "../../compiler/index.js";
import { loadObject, openObject } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, missingTracefs, openSys, tracefsPath } from "../../runtime/sys/index.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = join(ROOT, "cli/main.ts");
const sys = openSys();
const needsKernel = { skip: missingRoot() ?? missingTracefs() ?? missingBpf(sys) ?? false };
const TOOLS = readdirSync(join(ROOT, "tools")).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts")).sort();

let cacheHome: string;
const compiled = new Map<string, CompileResult>();

/** `tsbpf run tools/TOOL --json [OPTIONS] -c CMD`, to its end: the records and maps it printed, by map name, and its stderr. */
async function run(tool: string, command: string, options: string[] = []): Promise<{ lines: Record<string, unknown>[]; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, "run", `tools/${tool}`, "--json", "--verbose", ...options, "-c", command], {
    cwd: ROOT,
    env: { ...process.env, XDG_CACHE_HOME: cacheHome },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /compiled tools/, "the object came from the cache");
  return { lines: stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), stderr };
}

const records = (lines: Record<string, unknown>[], map: string) => lines.filter((l) => l.map === map && "value" in l).map((l) => l.value as Record<string, unknown>);
const entries = (lines: Record<string, unknown>[], map: string) => (lines.find((l) => l.map === map && "entries" in l)?.entries ?? []) as { key: unknown; value: number }[];

describe("tools/ in the kernel", { ...needsKernel, concurrency: 4 }, () => {
  // Compiled here, in one process, and put where `tsbpf run` caches objects: the runs below skip the compiler.
  before(() => {
    cacheHome = mkdtempSync(join(tmpdir(), "tsbpf-tools-"));
    mkdirSync(join(cacheHome, "tsbpf"));
    for (const tool of TOOLS) {
      const file = `tools/${tool}`;
      const r = compile(file);
      compiled.set(tool, r);
      if (r.diagnostics.length === 0) storeCached(join(cacheHome, "tsbpf"), objectKey(file, readFileSync(join(ROOT, file))), r.object);
    }
  });
  after(() => {
    rmSync(cacheHome, { recursive: true, force: true });
    const tracefs = tracefsPath();
    if (!tracefs) return;
    // Every run removes its instance and its uprobe definitions at exit (the uprobes attach through the PMU: none).
    assert.deepEqual(readdirSync(join(tracefs, "instances")).filter((n) => n === `tsbpf-${process.pid}` || n.startsWith("tsbpf-") && !alive(n)), []);
    assert.doesNotMatch(readFileSync(join(tracefs, "uprobe_events"), "utf8"), new RegExp(`tsbpf_${process.pid}\\b`));
  });

  it(`every tool compiles and its programs pass the kernel's verifier (${TOOLS.length} tools)`, () => {
    for (const tool of TOOLS) {
      const r = compiled.get(tool)!;
      assert.deepEqual(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`), [], `tools/${tool} does not compile`);
      const loaded = loadObject(sys, openObject(r.object, { name: tool.replace(/\.ts$/, "") }));
      try {
        assert.equal(loaded.programs.size, r.programs.length, `tools/${tool}`);
      } finally {
        loaded.close();
      }
    }
  });

  it("syscount counts the command's syscalls by number and its name", async () => {
    const { lines } = await run("syscount.ts", "ls /");
    const byNumber = new Map(entries(lines, "syscalls").map((e) => [e.key, e.value]));
    assert.ok((byNumber.get(257) ?? 0) > 0, `openat (257) counted: ${JSON.stringify([...byNumber])}`);
    assert.ok((byNumber.get(231) ?? 0) === 1, "one exit_group (231)");
    assert.ok(entries(lines, "processes").some((e) => e.key === "ls" && e.value > 10), JSON.stringify(entries(lines, "processes")));
  });

  it("killsnoop sends each kill with its signal, target and result", async () => {
    const { lines } = await run("killsnoop.ts", "bash -c 'kill -0 999999; kill -0 $$; true'");
    const bash = records(lines, "kills").filter((k) => k.comm === "bash").map((k) => [k.signal, k.target === 999999 ? "absent" : "itself", k.result]);
    assert.deepEqual(bash, [[0, "absent", -3], [0, "itself", 0]]);
  });

  it("statsnoop sends the paths the command stats, with their results", async () => {
    const { lines } = await run("statsnoop.ts", "stat /etc/hostname /nonexistent-tsbpf");
    const stats = records(lines, "stats").filter((s) => String(s.path).includes("hostname") || String(s.path).includes("nonexistent"));
    assert.deepEqual(stats.map((s) => [s.comm, s.path, s.ret]), [["stat", "/etc/hostname", 0], ["stat", "/nonexistent-tsbpf", -2]]);
  });

  it("exitsnoop sends each process's exit code or signal with its parent", async () => {
    const { lines } = await run("exitsnoop.ts", "sh -c 'sh -c \"exit 3\"; sh -c \"kill -9 \\$\\$\"; true'");
    const exits = records(lines, "exits").filter((e) => e.comm === "sh");
    assert.deepEqual(exits.map((e) => [e.exitCode, e.signal, e.core]), [[3, 0, false], [0, 9, false], [0, 0, false]]);
    assert.ok(exits[0]!.ppid === exits[2]!.pid && exits[1]!.ppid === exits[2]!.pid, JSON.stringify(exits));
  });

  it("opensnoop prints the command's opens with fd or errno, and only the failed ones with --set failedOnly=1", async () => {
    const texts = (lines: Record<string, unknown>[]) => lines.filter((l) => "printf" in l).map((l) => String(l.printf).trim().split(/\s+/)).filter((c) => c[1] === "cat" && /hostname|nonexistent/.test(c[6] ?? ""));
    const { lines } = await run("opensnoop.ts", "cat /etc/hostname /nonexistent-tsbpf");
    assert.deepEqual(texts(lines).map((c) => [c[3], c[5], c[6]]), [["0", "O_RDONLY", "/etc/hostname"], ["2", "O_RDONLY", "/nonexistent-tsbpf"]]);
    const failed = await run("opensnoop.ts", "cat /etc/hostname /nonexistent-tsbpf", ["--set", "failedOnly=1"]);
    assert.deepEqual(texts(failed.lines).map((c) => [c[2], c[3], c[6]]), [["-1", "2", "/nonexistent-tsbpf"]]);
  });

  it("syncsnoop prints the command's sync calls, each named by the tracepoint its glob matched", async () => {
    const { lines } = await run("syncsnoop.ts", "sync -f /tmp /etc/hostname");
    // time() and printf() send a line each: the time, then pid, name and tracepoint.
    const texts = lines.filter((l) => "printf" in l).map((l) => String(l.printf).trim().split(/\s+/)).filter((c) => c[2]?.startsWith("tracepoint:"));
    assert.deepEqual(texts.map((c) => c[2]), ["tracepoint:syscalls:sys_enter_syncfs", "tracepoint:syscalls:sys_enter_syncfs"]);
  });

  it("gethostlatency times the command's getaddrinfo() from its uprobe to its uretprobe", async () => {
    const { lines } = await run("gethostlatency.ts", "getent ahosts localhost");
    const [lookup, ...more] = records(lines, "lookups");
    assert.deepEqual(more, []);
    assert.deepEqual([lookup?.comm, lookup?.host], ["getent", "localhost"]);
    assert.ok(typeof lookup?.usecs === "number" && lookup.usecs > 0 && lookup.usecs < 10_000_000, JSON.stringify(lookup));
  });

  it("offcputime sums the command's sleep under the stacks it slept in and its name, through the raw tracepoint", async () => {
    const { lines } = await run("offcputime.ts", "sleep 0.2");
    const stacks = entries(lines, "offcpu") as unknown as { key: { kernel: string[]; comm: string }; value: number }[];
    const slept = stacks.filter((s) => s.key.comm === "sleep" && s.key.kernel.some((frame) => frame.startsWith("do_nanosleep+")));
    assert.equal(slept.length, 1, JSON.stringify(stacks));
    assert.ok(slept[0]!.value >= 190_000 && slept[0]!.value < 2_000_000, `${slept[0]!.value} us off CPU for a 0.2 s sleep`);
  });

  it("setuids prints the command's setresuid() with the ids asked for, its uid after it and the result", async () => {
    const { lines } = await run("setuids.ts", "setpriv --reuid=65534 --regid=65534 --clear-groups true");
    const calls = lines.filter((l) => "printf" in l).map((l) => String(l.printf).trim().split(/\s+/)).filter((c) => c[1] === "setpriv");
    assert.deepEqual(calls.map((c) => c.slice(2)), [["65534", "setresuid", "ruid=65534", "euid=65534", "suid=65534", "(0)"]]);
  });

  it("skbdrop counts the refused connect's SYN under its drop reason by name and the function that freed it", async () => {
    const { lines } = await run("skbdrop.ts", "bash -c 'echo > /dev/tcp/127.0.0.1/1 || true'");
    const drops = entries(lines, "drops") as unknown as { key: { reason: unknown; location: unknown; protocol: number }; value: number }[];
    assert.ok(drops.some((d) => d.key.reason === "SKB_DROP_REASON_NO_SOCKET" && d.key.location === "tcp_v4_rcv" && d.key.protocol === 0x800 && d.value >= 1), JSON.stringify(drops));
  });

  it("funccount counts the command's calls of each libc *alloc function, named by probe()", async () => {
    const { lines, stderr } = await run("funccount.ts", "ls -l /usr/bin");
    assert.match(stderr, /attached count to uprobe \/\S+\/libc\.so\.6:\*alloc \(\d+ functions\)/);
    const counts = entries(lines, "calls");
    assert.ok(counts.length > 0 && counts.every((e) => /^uprobe:\/\S+\/libc\.so\.6:\w*alloc$/.test(String(e.key))), JSON.stringify(counts));
    assert.ok(counts.some((e) => String(e.key).endsWith(":malloc") && e.value > 100), JSON.stringify(counts));
  });
});

/** Whether the process of an instance, tsbpf-PID or tsbpf-PID-N (a process's later pipes), is still running. */
function alive(instance: string): boolean {
  try {
    process.kill(Number(/^tsbpf-(\d+)/.exec(instance)?.[1]), 0);
    return true;
  } catch {
    return false;
  }
}
