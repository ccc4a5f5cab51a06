// signal(), bpftrace's: bpf_send_signal() to the interrupted task's process (bpf_send_signal_thread() to the task
// alone), by number or name; both backends, the simulator (sim.signals()), and on this kernel, where `tsbpf run`
// runs such a probe only with --unsafe.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";
import { Session } from "../../runtime/loader/index.js";
import { compileC, needsClang } from "../loader/support.js";

const SOURCE = `import { kprobe, signal, printf, type u32 } from "tsbpf";
export const license = "GPL";
export const byName = kprobe("f", () => { printf("%d\\n", signal("SIGUSR1")); });
export const byShortName = kprobe("g", () => { signal("TERM", true); });
export const byNumber = kprobe("h", (sig: u32) => { printf("%d\\n", signal(sig)); });
`;
const calls = (insns: readonly { code: number; imm: number }[]) => insns.filter((i) => i.code === 0x85).map((i) => i.imm);

describe("signal()", () => {
  it("calls bpf_send_signal (109), or bpf_send_signal_thread (117) for the thread alone, in both backends", () => {
    for (const backend of ["own", "llvm"] as const) {
      const r = compile({ fileName: "signal.ts", text: SOURCE }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, [], backend);
      const [byName, byShortName, byNumber] = r.programs;
      assert.ok(calls(byName!.insns).includes(109) && !calls(byName!.insns).includes(117), backend);
      assert.ok(calls(byShortName!.insns).includes(117), backend);
      assert.ok(calls(byNumber!.insns).includes(109), backend);
    }
  });

  it("refuses a name that is no signal's, a second argument that is not a literal boolean, and begin()/end()", () => {
    const messages = (call: string) =>
      compile({ fileName: "bad.ts", text: `import { kprobe, signal } from "tsbpf";\nexport const license = "GPL";\nexport const k = kprobe("f", () => { ${call}; });\n` }, { arch: "x86_64" }).diagnostics.map((d) => `${d.code} ${d.message}`);
    assert.match(messages('signal("SIGNOPE" as any)').join("\n"), /SIGNOPE is not a signal's name \(SIGKILL or KILL, SIGUSR1 or USR1, \.\.\.\)/);
    assert.match(messages('signal("SIGNOPE")').join("\n"), /TS2345/);
    assert.match(messages("signal(9, 1 as any)").join("\n"), /signal\(\)'s second argument is a literal true \(the thread alone\) or false \(its process\)/);
    // A constant the helper would refuse with EINVAL at run time, which the probe would see only in its result.
    assert.deepEqual(messages("signal(99)"), ['TSBPF1005 signal(99): Linux\'s signals are 1 to 64 (0 sends none), or give a name ("SIGUSR1")']);
    assert.deepEqual(messages("signal(-1)"), ['TSBPF1005 signal(-1): Linux\'s signals are 1 to 64 (0 sends none), or give a name ("SIGUSR1")']);
    assert.deepEqual(messages("signal(64)"), []);
    const inBegin = compile({ fileName: "begin.ts", text: 'import { begin, signal } from "tsbpf";\nexport const license = "GPL";\nexport const b = begin(() => { signal("KILL"); });\n' }).diagnostics.map((d) => d.message);
    assert.deepEqual(inBegin, ["signal() signals the task a probe interrupted, and a begin() handler runs in tsbpf run itself: it would signal tsbpf"]);
  });

  it("in the simulator, sends to the current task's process or thread; signal 0 sends nothing, none above 64, and none to init, the idle task or outside a task", async () => {
    const sim = await simulate({ fileName: "signal.ts", text: SOURCE }, { arch: "x86_64" });
    sim.kprobe("f", { pid: 12, tgid: 10 });
    sim.kprobe("g", { pid: 12, tgid: 10 });
    assert.deepEqual(sim.signals(), [
      { signal: 10, tgid: 10, pid: 12, thread: false },
      { signal: 15, tgid: 10, pid: 12, thread: true },
    ]);
    assert.equal(sim.output(), "0\n");
    sim.kprobe("h", { args: [0] });
    sim.kprobe("h", { args: [65] });
    assert.equal(sim.output(), "0\n-22\n");
    sim.kprobe("f", { pid: 1 }); // init: the kernel refuses it, so as not to kill it
    sim.kprobe("f", { pid: 0 }); // the idle task, a kernel thread
    assert.equal(sim.output(), "-1\n-1\n");
    sim.kernel.vm.inTask = false;
    sim.kprobe("f");
    assert.equal(sim.output(), "-1\n");
    assert.deepEqual(sim.signals(), []);
  });
});

const noKernel = missingRoot() ?? missingBpf(openSys());

describe("signal() on this kernel", { skip: noKernel }, () => {
  it("bpf_send_signal of signal 0 succeeds and of 65 fails with EINVAL, in the kernel and the simulator alike", { skip: needsClang.skip }, async () => {
    const object = compileC("send-signal", `#include "loader.h"
static long (*bpf_send_signal)(__u32 sig) = (void *)109;
static long (*bpf_send_signal_thread)(__u32 sig) = (void *)117;
SEC("raw_tp/sys_enter") int send(__u64 *ctx) { return ctx[1] ? bpf_send_signal_thread(ctx[0]) : bpf_send_signal(ctx[0]); }
char LICENSE[] SEC("license") = "GPL";
`);
    const ctx = (signal: number, thread: number) => new Uint8Array(new BigUint64Array([BigInt(signal), BigInt(thread)]).buffer);
    const sim = await simulate(object);
    const session = new Session();
    try {
      const obj = session.loadFile(object);
      // Sent to this test's own process: no signal that could end it.
      for (const [signal, thread] of [[0, 0], [0, 1], [65, 0], [65, 1]] as const) {
        const kernel = obj.sys.progTestRun(obj.program("send").fd, { ctxIn: ctx(signal, thread), repeat: 0, ctxSizeOut: 0 }).retval | 0;
        assert.equal(Number(sim.run("send", ctx(signal, thread)).runs[0]!.ret), kernel, `signal ${signal}${thread ? " to the thread" : ""}`);
      }
      assert.deepEqual(sim.signals(), []);
    } finally {
      await session.close();
    }
  });

  it("tsbpf run refuses such a probe without --unsafe, before it attaches; with it, the command dies of the signal", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-signal-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      const file = join(dir, "stop-sleep.ts");
      writeFileSync(file, `import { tracepoint, signal, targetPid, pidTgid } from "tsbpf";
export const license = "GPL";
export const stopSleep = tracepoint("syscalls", "sys_enter_clock_nanosleep", () => {
  if (pidTgid() >> 32 === targetPid()) signal("SIGUSR1");
});
`);
      const run = (...args: string[]) => spawnSync(process.execPath, [...CLI, "run", file, ...args, "-c", "sleep 30"], { encoding: "utf8", env, timeout: 60_000 });
      const refused = run();
      assert.equal(refused.status, 2, refused.stderr);
      assert.equal(refused.stderr.trim(), `tsbpf: ${file}: stopSleep calls signal(), which sends signals to the processes its probes interrupt; run it with --unsafe to allow that (bpftrace asks the same)`);
      const allowed = run("--unsafe");
      assert.equal(allowed.status, 0, allowed.stderr);
      assert.match(allowed.stderr, /^sleep 30 was ended by SIGUSR1$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
