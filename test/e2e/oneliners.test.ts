// bpftrace's one-liner tutorial and reference guide examples, written as `tsbpf run -e` one-liners, against the running
// kernel: each runs on a command it starts with -c (or ends itself with exit()), and what it prints is checked against
// what bpftrace 0.17 prints for the original on the same command: printf lines, and maps as `@name[key]: value`, log2
// and linear histograms, kernel stacks, tuples and stats (their counts, which depend on the machine, as patterns).
// Where the tutorial uses a kprobe, which this kernel cannot attach, the one-liner uses the syscall's tracepoint.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { missingBpf, missingRoot, missingTracefs, missingUprobes, openSys } from "../../runtime/sys/index.js";
import { kprobesUnsupported } from "../../runtime/loader/attach.js";
import { cgroup2Mount } from "../support/cgroup.js";
import { CLI } from "../support/cli.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const sys = openSys();
const needsKernel = { skip: missingRoot() ?? missingTracefs() ?? missingBpf(sys) ?? false };

let cacheHome: string;

/** `tsbpf run -e TEXT ARGS` to its end (at most 30 s): its exit code, stdout and stderr. */
async function run(text: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...CLI, "run", "-e", text, ...args], {
    cwd: ROOT,
    env: { ...process.env, XDG_CACHE_HOME: cacheHome },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 30_000,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, stdout, stderr };
}

/** The run's stdout, once it has exited 0 (else fails with its stderr). */
async function printed(text: string, ...args: string[]): Promise<string> {
  const r = await run(text, ...args);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

const MINE = "if (pidTgid() >> 32 !== targetPid()) return;";
const BAR = (n: number): string => `\\|@{${n}}\\s*\\|`;

describe("bpftrace's one-liners as tsbpf run -e", { ...needsKernel, concurrency: 3 }, () => {
  before(() => (cacheHome = mkdtempSync(join(tmpdir(), "tsbpf-oneliners-"))));
  after(() => rmSync(cacheHome, { recursive: true, force: true }));

  it("hello world, printf's conversions, and ksym(), ntop() and pton() print what bpftrace prints", async () => {
    assert.equal(await printed('begin(() => { printf("Hello, World!\\n"); exit(); })'), "Hello, World!\n");
    const formats = 'printf("%5d|%-5d|%x|%X|%o|%c|%-8s|%8s|%lu|%%\\n", 42, 42, 255, 255, 8, 65, "ab", "cd", 18446744073709551615n)';
    const names = 'printf("%s %s %s %s\\n", ksym(kaddr("vfs_read")), ksym(kaddr("vfs_read") + 5), ntop(0x0100007f), ntop(pton("::1")))';
    assert.equal(await printed(`begin(() => { ${formats}; ${names}; exit(); })`), "   42|42   |ff|FF|10|A|ab      |      cd|18446744073709551615|%\nvfs_read vfs_read 127.0.0.1 ::1\n");
  });

  it("file opens by process: comm and the filename read from user memory", async () => {
    const out = await printed(`tracepoint("syscalls", "sys_enter_openat", (ctx) => { ${MINE} printf("%s %s\\n", comm(), readUserStr(ctx.filename)); })`, "-c", "/bin/cat /etc/hostname");
    assert.match(out, /^cat \/etc\/hostname$/m);
    // bpftrace's /str(args->filename) == "/etc/hostname"/: the one open of that path, whoever makes it.
    const filtered = await printed('tracepoint("syscalls", "sys_enter_openat", (ctx) => { if (readUserStr(ctx.filename) === "/etc/hostname") printf("%s\\n", comm()); })', "-c", "/bin/cat /etc/hostname");
    assert.match(filtered, /^cat$/m);
  });

  it("syscall counts by process, @[comm] = count(), and by probe, @[probe] = count()", async () => {
    const byComm = await printed(`const c = new Count<Str<16>>(1024); tracepoint("raw_syscalls", "sys_enter", () => { ${MINE} c.increment(comm()); })`, "-c", "/bin/true");
    assert.match(byComm, /^@c\[true\]: [1-9]\d*$/m);
    const byProbe = await printed(`const c = new Count<ProbeName>(64); tracepoint("sched", "sched_process_e*", () => { ${MINE} c.increment(probe()); })`, "-c", "/bin/true");
    assert.match(byProbe, /^@c\[tracepoint:sched:sched_process_exec\]: 1$/m);
    assert.match(byProbe, /^@c\[tracepoint:sched:sched_process_exit\]: 1$/m);
  });

  it("read() bytes as hist(), lhist() and stats(), avg(), min(), max() by comm", async () => {
    const dd = ["-c", "/bin/dd if=/dev/zero of=/dev/null bs=3000 count=20"];
    const hist = await printed(`const bytes = new Histogram(); tracepoint("syscalls", "sys_exit_read", (ctx) => { ${MINE} bytes.record(ctx.ret); })`, ...dd);
    assert.match(hist, new RegExp(`^@bytes: \\n(.*\\n)*\\[2K, 4K\\)\\s+2\\d ${BAR(52)}$`, "m"));
    const linear = await printed(`const bytes = new LinearHistogram(0, 4000, 1000); tracepoint("syscalls", "sys_exit_read", (ctx) => { ${MINE} bytes.record(ctx.ret); })`, ...dd);
    assert.match(linear, new RegExp(`^@bytes: \\n(.*\\n)*\\[3000, 4000\\)\\s+2\\d ${BAR(52)}$`, "m"));
    const aggregates = await printed(
      `const s = new Stats<Str<16>>(8); const a = new Avg<Str<16>>(8); const lo = new Min<Str<16>>(8); const hi = new Max<Str<16>>(8); tracepoint("syscalls", "sys_exit_read", (ctx) => { ${MINE} if (ctx.ret !== 3000) return; s.record(comm(), ctx.ret); a.record(comm(), ctx.ret); lo.record(comm(), ctx.ret); hi.record(comm(), ctx.ret); })`,
      ...dd,
    );
    assert.equal(aggregates, "@s[dd]: count 20, average 3000, total 60000\n\n@a[dd]: 3000\n\n@lo[dd]: 3000\n\n@hi[dd]: 3000\n\n");
  });

  it("read() latency: @start[tid] = nsecs on entry, @ns[comm] = hist(nsecs - @start[tid]) and delete() on return", async () => {
    const out = await printed(
      `const start = new HashMap<u32, u64>(1024); const ns = new Histogram<Str<16>>(16); tracepoint("syscalls", "sys_enter_read", () => { ${MINE} start.update(pidTgid() as u32, ktimeNs()); }); tracepoint("syscalls", "sys_exit_read", () => { const tid = pidTgid() as u32; const t = start.lookup(tid); if (t !== null) { ns.record(comm(), ktimeNs() - t); start.delete(tid); } })`,
      "-c",
      "/bin/dd if=/dev/zero of=/dev/null bs=300 count=10",
    );
    assert.match(out, /^@ns\[dd\]: \n(\[\d+K?, \d+[KM]?\)\s+\d+ \|@*\s*\|\n)+\n$/);
  });

  it("profile:hz kernel stacks and sched_switch's kstack(4) print their frames as bpftrace does", async () => {
    const profiled = await printed("const c = new Count<KernelStack>(4096); profile(999, () => { c.increment(kstack()); })", "-c", "/bin/dd if=/dev/zero of=/dev/null bs=1M count=3000");
    assert.match(profiled, /^@c\[\n( {4}[\w.]+\+\d+\n)+\]: \d+$/m);
    const switched = await printed(`const c = new Count<KernelStack<4>>(256); tracepoint("sched", "sched_switch", () => { ${MINE} c.increment(kstack(4)); })`, "-c", "/bin/sleep 0.05");
    assert.match(switched, /^@c\[\n {4}__traceiter_sched_switch\+\d+\n {4}__schedule\+\d+\n( {4}[\w.]+\+\d+\n){2}\]: \d+$/m);
  });

  it("tuples as keys, @[pid, comm], and ternaries choosing a string key", async () => {
    const out = await printed(
      `interface K { pid: u32; comm: Str<16> } const c = new Count<K>(64); const r = new Count<Str<8>>(8); tracepoint("syscalls", "sys_exit_openat", (ctx) => { ${MINE} c.increment({ pid: targetPid(), comm: comm() }); const k: Str<8> = ctx.ret >= 0 ? "ok" : "err"; r.increment(k); })`,
      "-c",
      "/bin/cat /etc/hostname /tsbpf-no-such-file",
    );
    assert.match(out, /^@c\[\d+, cat\]: \d+$/m);
    assert.match(out, /^@r\[err\]: \d+\n@r\[ok\]: \d+$/m);
  });

  it("print(@c, 2) prints the two largest counts, delete(@c[k]) removes a key, and clear(@c) leaves nothing for the end", async () => {
    const out = await printed("const c = new Count<u32>(8); begin(() => { c.increment(1); c.increment(2); c.increment(2); c.increment(3); c.increment(3); c.increment(3); c.increment(4); c.delete(4); c.print(2); c.print(); c.clear(); exit(); })");
    assert.equal(out, "@c[2]: 2\n@c[3]: 3\n\n@c[1]: 1\n@c[2]: 2\n@c[3]: 3\n\n");
  });

  it("a filter on the cgroup, /cgroup == cgroupid(\"PATH\")/, counts the command started in this process's cgroup", async (t) => {
    const mount = cgroup2Mount();
    if (!mount) return t.skip("no cgroup v2 hierarchy is mounted");
    const own = `${mount}${readFileSync("/proc/self/cgroup", "utf8").split("\n").find((l) => l.startsWith("0::"))!.slice(3)}`.replace(/\/$/, "");
    const out = await printed(`const c = new Count<Str<16>>(64); tracepoint("syscalls", "sys_enter_openat", () => { ${MINE} if (cgroupId() === cgroupId(${JSON.stringify(own)})) c.increment(comm()); })`, "-c", "/bin/true");
    assert.match(out, /^@c\[true\]: [1-9]\d*$/m);
  });

  it("uprobe:libc:unlinkat's arguments and uretprobe's retval and probe", async (t) => {
    const missing = missingUprobes();
    if (missing) return t.skip(missing);
    const out = await printed(
      'uprobe("libc", "unlinkat", (dfd: i32, path: u64) => { printf("%s %d %s\\n", comm(), dfd, readUserStr(path)); }); uretprobe("libc", "unlinkat", (ret: i32) => { printf("ret %d %s\\n", ret, probe()); })',
      "-c",
      "/bin/rm -f /tsbpf-no-such-file",
    );
    assert.match(out, /^rm -100 \/tsbpf-no-such-file\nret -1 uretprobe:\S*\/libc\.so\.6:unlinkat$/m);
  });

  it("BEGIN, interval, strftime(), time() and END run in bpftrace's order", async () => {
    const out = await printed('begin(() => { printf("start\\n"); }); end(() => { printf("end\\n"); }); interval(100, () => { printf("%s\\n", strftime("%Y-%m-%d", ktimeBootNs())); time("%Y\\n"); exit(); })');
    assert.match(out, /^start\n\d{4}-\d\d-\d\d\n\d{4}\nend\n$/);
  });

  it("a kernel struct walked from curtask, join(args->argv), and buf()'s bytes printed with %r", async () => {
    const exe = await printed('tracepoint("sched", "sched_process_exec", () => { if (pidTgid() >> 32 === targetPid()) printf("%s %s\\n", comm(), readKernelStr(currentTask().mm.exe_file.f_path.dentry.d_name.name)); })', "-c", "/bin/true");
    assert.equal(exe, "true true\n");
    const argv = await printed('tracepoint("syscalls", "sys_enter_execve", (ctx) => { if (pidTgid() >> 32 === targetPid()) join(ctx.argv); })', "-c", "/bin/echo a bb ccc");
    assert.match(argv, /^\/bin\/echo a bb ccc$/m, "join(args->argv)");
    const bytes = await printed(`tracepoint("syscalls", "sys_enter_write", (ctx) => { ${MINE} printf("%r\\n", buf(ctx.buf, ctx.count)); })`, "-c", "/bin/echo hi there");
    assert.match(bytes, /^hi there\\x0a$/m);
  });

  it("the tutorial's kretprobe:vfs_read, where kprobes are compiled out, is told the syscall's exit tracepoint to use", async (t) => {
    if (!kprobesUnsupported()) return t.skip("the running kernel has kprobes");
    const r = await run("const bytes = new Histogram(); kretprobe(\"vfs_read\", (ret: i64) => { bytes.record(ret); })");
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /this is a kretprobe on vfs_read, but kprobes are compiled out .*; use tracepoint\("syscalls", "sys_exit_read", \.\.\.\) or uretprobe\("libc\.so\.6", "read", \.\.\.\) instead/);
  });

  it("a one-liner naming bpftrace's builtins is told what tsbpf writes for them", async () => {
    const r = await run('tracepoint("syscalls", "sys_enter_openat", () => { printf("%d %d\\n", pid, nsecs); })');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /Cannot find name 'pid'\. \(bpftrace's `pid` is `pidTgid\(\) >> 32`, the process id\)/);
    assert.match(r.stderr, /Cannot find name 'nsecs'\. \(bpftrace's `nsecs` is `ktimeBootNs\(\)` /);
  });
});
