// strftime(format, ns), bpftrace's strftime(): nanoseconds since boot kept by the probe (a printf value, a map key, a
// record field) and written by the reader as the wall-clock time then, the real time at boot plus ns, as bpftrace 0.17
// writes it (its %f extension included); ktimeBootNs(), bpftrace 0.17's nsecs. The formatter, both backends, the
// simulator's clock, the compiler's checks, and tsbpf run on this kernel against the wall clock around the run.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { disassemble } from "../../compiler/isa/index.js";
import { strftimeText } from "../../compiler/ir/printf.js";
import { bootRealtimeNs } from "../../runtime/loader/boot-clock.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";
import { noLlvm } from "../llvm/support.js";

const SOURCE = `import { uprobe, printf, strftime, ktimeBootNs, Count, RingBuf, type Strftime, type u64 } from "tsbpf";
export const license = "GPL";
const MINUTE = "%H:%M";
interface Event { at: Strftime<typeof MINUTE>; n: u64 }
export const minutes = new Count<Strftime<"%H:%M">>(16);
export const events = new RingBuf<Event>(4096);
export const p = uprobe("libc.so.6", "connect", (ns: u64) => {
  printf("%s|%-12s|%s\\n", strftime("%Y-%m-%dT%H:%M:%S.%f", ns), strftime("%%f %T", ns), strftime(MINUTE, ktimeBootNs()));
  const t = strftime(MINUTE, ns);
  minutes.increment(t);
  printf(\`\${t} \${strftime("%s", 0)}\\n\`);
  events.output({ at: t, n: 1 });
});
`;

describe("strftime()", () => {
  it("writes ns since boot as bpftrace 0.17 does: the real time at boot plus ns, %f the microseconds, %%f a literal %f", () => {
    // bpftrace 0.17 on this machine: `BEGIN { printf("%s\n", strftime("%Y-%m-%dT%H:%M:%S.%f", 1500000000)); }` printed
    // 2026-11-24T12:32:44.144586 where /proc/timer_list gave the real time at boot as 1795523562644586236 ns (in UTC).
    const clock = { bootRealtimeNs: () => 1795523562644586236n, utc: true };
    assert.equal(strftimeText("%Y-%m-%dT%H:%M:%S.%f", 1_500_000_000n, clock), "2026-11-24T12:32:44.144586");
    assert.equal(strftimeText("%f|%%f|%%%f|%s|%%", 0n, clock), "644586|%f|%644586|1795523562|%");
    assert.equal(strftimeText("%T.%f", 355_413_764n, clock), "12:32:43.000000");
  });

  it("keeps the nanoseconds in printf records, map keys, locals and record fields, written by the simulated clock in both backends", async () => {
    for (const backend of ["own", "llvm"] as const) {
      if (backend === "llvm" && noLlvm) continue;
      // The simulated boot is the realtime option's start less the simulated time then (1 s).
      const sim = await simulate({ fileName: "s.ts", text: SOURCE }, { backend, realtime: Date.UTC(2026, 0, 2, 3, 4, 5, 678), time: 1_000_000_000n });
      sim.uprobe("libc.so.6:connect", { args: [1_500_000_000n] });
      sim.uprobe("libc.so.6:connect", { args: [61_500_000_000n] });
      assert.equal(sim.output(), "2026-01-02T03:04:06.178000|%f 03:04:06 |03:04\n03:04 1767323044\n2026-01-02T03:05:06.178000|%f 03:05:06 |03:04\n03:05 1767323044\n", backend);
      // sim.map() and events() give a Strftime's nanoseconds, which sim.map().get() takes too.
      assert.deepEqual(sim.map("minutes").entries(), [["1500000000", 1n], ["61500000000", 1n]], backend);
      assert.equal(sim.map("minutes").get("61500000000"), 1n, backend);
      assert.deepEqual(sim.events("events"), [{ at: "1500000000", n: 1 }, { at: "61500000000", n: 1 }], backend);
    }
    const r = compile({ fileName: "s.ts", text: SOURCE }, { arch: "x86_64" });
    assert.match(r.programs.map((p) => disassemble(p.insns).join("\n")).join("\n"), /call bpf_ktime_get_boot_ns#125/);
  });

  it("says what is wrong with a format, a Strftime used as an integer or printed as one, and a Strftime type without its format", () => {
    const bad = (statement: string, decl = "") =>
      compile({ fileName: "bad.ts", text: SOURCE.replace("minutes.increment(t);", statement).replace("export const license", `${decl}export const license`) }).diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join("\n");
    assert.equal(bad('printf("%s", strftime("%H %Q", ns));'), '10:25 TSBPF1011 "%Q" is not a conversion strftime() takes: %a %A %b %B %c %C %d %D %e %F %g %G %h %H %I %j %k %l %m %M %n %p %P %r %R %s %S %t %T %u %U %V %w %W %x %X %y %Y %z %Z %f %%');
    assert.equal(bad("printf(\"%s\", strftime(`%H ${ns}`, ns));"), "10:25 TSBPF1011 strftime() takes a format (a string literal, or a module-level string constant): strftime(\"%H:%M:%S.%f\", ktimeBootNs())");
    assert.equal(bad(`printf("%s", strftime("${"%S".repeat(121)}", ns));`), "10:25 TSBPF1011 a strftime() format has at most 240 bytes (its type is named after it in BTF), not 242");
    assert.match(bad("const q: u64 = strftime(MINUTE, ns) as any;"), /^10:18 TSBPF1017 strftime\(\) gives a Strftime \(a time tsbpf run writes in the format\), not an integer: print it with printf's %s/);
    assert.equal(bad('printf("%d", t);'), '10:16 TSBPF1011 %d prints an integer, not a Strftime<"%H:%M"> (strftime())');
    // The kernel writes printk's lines: a value only tsbpf run writes gets the printf() that prints it.
    const printk = compile({ fileName: "bad.ts", text: SOURCE.replace("{ uprobe,", "{ uprobe, printk,").replace("minutes.increment(t);", "printk(`at ${t}`);") }).diagnostics;
    assert.equal(printk.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join("\n"), '10:16 TSBPF1011 printk() prints integers and strings, not a Strftime<"%H:%M"> (strftime()): print it with printf(), whose lines tsbpf run writes: printf("%s\\n", t)');
    assert.equal(bad("", "export const any = new Count<Strftime<string>>(4);\n"), '2:39 TSBPF1007 Strftime<F> takes the format its values print in, a string literal type: Strftime<"%H:%M:%S"> for strftime("%H:%M:%S", ns)');
  });
});

const noKernel = missingRoot() ?? missingBpf(openSys()) ?? (existsSync("/proc/timer_list") ? undefined : "no /proc/timer_list to read the boot time from");

describe("strftime() on this kernel", { skip: noKernel }, () => {
  it("tsbpf run writes bpf_ktime_get_boot_ns()'s time as the wall clock read around the run, in printf, map keys and --json", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-strftime-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      const file = join(dir, "s.ts");
      writeFileSync(file, `import { begin, printf, strftime, ktimeBootNs, exit, Count, type Strftime } from "tsbpf";
export const license = "GPL";
export const seconds = new Count<Strftime<"%s">>(4);
export const b = begin(() => {
  const ns = ktimeBootNs();
  printf("%s %llu\\n", strftime("%s.%f", ns), ns);
  seconds.increment(strftime("%s", ns));
  exit();
});
`);
      for (const json of [false, true]) {
        const before = Date.now() * 1000;
        const r = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", ...(json ? ["--json"] : [])], { encoding: "utf8", env, timeout: 60_000 });
        const after = Date.now() * 1000;
        assert.equal(r.status, 0, r.stderr);
        const line = json ? JSON.parse(r.stdout.split("\n").find((l) => l.includes('"printf"'))!).printf : r.stdout.split("\n")[0]! + "\n";
        const m = /^(\d+)\.(\d{6}) (\d+)\n$/.exec(line);
        assert.ok(m, r.stdout);
        // The time printed is the kernel's boot clock plus the real time at boot (/proc/timer_list's clock offsets),
        // and it fell within the run by this process's wall clock.
        const micros = Number(m[1]!) * 1e6 + Number(m[2]!);
        assert.ok(micros >= before && micros <= after, `${before} <= ${micros} <= ${after}`);
        assert.equal(`${m[1]}.${m[2]}`, strftimeText("%s.%f", BigInt(m[3]!), { bootRealtimeNs, utc: false }));
        const key = json ? JSON.parse(r.stdout.split("\n").find((l) => l.includes('"map"'))!).entries[0].key : /^@seconds\[(\d+)\]: 1$/m.exec(r.stdout)?.[1];
        assert.equal(key, m[1], r.stdout);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads the real time at boot from /proc/timer_list: the wall clock less /proc/uptime, to its hundredths of a second", () => {
    const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    const estimate = Date.now() / 1000 - uptime;
    assert.ok(Math.abs(Number(bootRealtimeNs()) / 1e9 - estimate) < 0.05, `${bootRealtimeNs()} vs ${estimate}`);
  });
});
