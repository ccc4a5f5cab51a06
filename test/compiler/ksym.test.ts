// ksym(), bpftrace's: a kernel address typed `tsbpf_ksym` in BTF, so that `tsbpf run` prints map keys and printf's
// `%s` as the kernel function the address is in; both backends, the simulator (which has no kernel symbols: hex), and
// on this kernel.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { KSYM_TYPEDEF, mapTags, parseBtf } from "../../compiler/btf/index.js";
import { kernelSymbolizer } from "../../runtime/loader/symbolize.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

const SOURCE = `import { kprobe, ksym, printf, HashMap, type KernelSymbol, type u64 } from "tsbpf";
export const license = "GPL";
export const callers = new HashMap<KernelSymbol, u64>(64);
export const k = kprobe("queue_work_on", (cpu: u64, wq: u64, work: u64) => {
  callers.increment(ksym(work));
  printf("%s|\\n", ksym(work));
});
`;

describe("ksym()", () => {
  it("types its value tsbpf_ksym in BTF and in the printf record, in both backends", () => {
    for (const backend of ["own", "llvm"] as const) {
      const r = compile({ fileName: "ksym.ts", text: SOURCE }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, [], backend);
      const btf = parseBtf(r.btf);
      assert.ok([...btf.types()].some((t) => t.name === KSYM_TYPEDEF), backend);
      const actions = [...btf.types()].find((t) => t.name === "tsbpf_actions");
      assert.ok(actions, backend);
      assert.deepEqual(mapTags(btf, actions!.id).printf?.map((p) => p.args), [["ksym"]], backend);
    }
  });

  it("names the function an address is in without its offset, hex outside every function", () => {
    const name = kernelSymbolizer("ffffffff81000000 T _stext\nffffffff81001000 t do_one\nffffffff81002000 T do_two\n", false);
    assert.equal(name(0xffffffff81001010n), "do_one");
    assert.equal(name(0xffffffff81002000n), "do_two");
    assert.equal(name(0x7f0000001000n), "0x7f0000001000");
  });

  it("in the simulator, keys stay addresses and printf writes them in hex, or as the function of a symbol the test gave the simulated kernel", async () => {
    const sim = await simulate({ fileName: "ksym.ts", text: SOURCE }, { arch: "x86_64" });
    sim.kprobe("queue_work_on", { args: [0, 0, 0xffffffff81234560n] });
    assert.deepEqual(sim.map("callers").toMap(), new Map([[0xffffffff81234560n, 1n]]));
    assert.equal(sim.output(), "0xffffffff81234560|\n");
    // As %pS names it, and as tsbpf run names it from /proc/kallsyms: the function alone.
    sim.kernel.vm.addSymbol({ name: "vmstat_update", address: 0xffffffff81234500n, size: 0x100 });
    sim.kprobe("queue_work_on", { args: [0, 0, 0xffffffff81234560n] });
    assert.equal(sim.output(), "vmstat_update|\n");
  });
});

const noKernel = missingRoot() ?? missingBpf(openSys());

describe("ksym() on this kernel", { skip: noKernel }, () => {
  it("tsbpf run prints an address inside do_unlinkat as do_unlinkat, in a map key and in printf", () => {
    const kallsyms = readFileSync("/proc/kallsyms", "latin1");
    const address = /^([0-9a-f]+) [tT] do_unlinkat$/m.exec(kallsyms)?.[1];
    assert.ok(address && !/^0+$/.test(address), "/proc/kallsyms shows do_unlinkat's address to root");
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-ksym-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      const file = join(dir, "ksym.ts");
      writeFileSync(file, `import { tracepoint, ksym, printf, targetPid, pidTgid, HashMap, type KernelSymbol, type u64 } from "tsbpf";
export const license = "GPL";
let address: u64 = 0;
export const seen = new HashMap<KernelSymbol, u64>(8);
export const unlinks = tracepoint("syscalls", "sys_enter_unlinkat", () => {
  if (pidTgid() >> 32 !== targetPid()) return;
  seen.increment(ksym(address + 4));
  printf("in %s\\n", ksym(address + 4));
});
`);
      writeFileSync(join(dir, "victim"), "");
      const r = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "--set", `address=0x${address}`, "-c", `rm ${join(dir, "victim")}`], { encoding: "utf8", env, timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^in do_unlinkat$/m);
      assert.match(r.stdout, /^@seen\[do_unlinkat\]: 1$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
