// kaddr(), bpftrace's: a kernel symbol's address in a `.rodata` u64 the loader writes from /proc/kallsyms before
// loading (a constant to the verifier); a symbol the kernel lacks fails the run at the call naming it. Both backends,
// the loader's lookup, the simulator (addresses the test gives), diagnostics, and this kernel.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { KADDR_PREFIX } from "../../compiler/ir/index.js";
import { KernelSymbolError, kernelAddresses, openObject } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate, SimulationError } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

const SOURCE = `import { uprobe, kaddr, ksym, printf, type u64 } from "tsbpf";
export const license = "GPL";
const NAME = "do_unlinkat";
export const p = uprobe("/bin/true", "main", (x: u64) => {
  if (x === kaddr("vfs_read")) printf("read %x\\n", kaddr(NAME));
  printf("%x %x\\n", kaddr("vfs_read"), kaddr(NAME));
});
`;

describe("kaddr()", () => {
  it("reads one .rodata u64 per symbol, which the loader sets, in both backends", () => {
    for (const backend of ["own", "llvm"] as const) {
      const r = compile({ fileName: "kaddr.ts", text: SOURCE }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, [], backend);
      const rodata = openObject(r.object, { name: "kaddr" }).maps.find((m) => m.name.endsWith(".rodata"));
      assert.deepEqual(rodata?.variables.filter((v) => v.name.startsWith(KADDR_PREFIX)).map((v) => [v.name, v.size]), [[`${KADDR_PREFIX}vfs_read`, 8], [`${KADDR_PREFIX}do_unlinkat`, 8]], backend);
    }
  });

  it("finds a symbol of any type in kallsyms, and names one it lacks, or hidden addresses, in one sentence", () => {
    const kallsyms = "ffffffff81000000 T _stext\nffffffff81001000 t do_unlinkat\nffffffff82000000 D jiffies_64\nffffffffc0001000 t helper\t[mod]\n";
    assert.deepEqual(kernelAddresses(["jiffies_64", "helper", "do_unlinkat"], kallsyms), new Map([["do_unlinkat", 0xffffffff81001000n], ["jiffies_64", 0xffffffff82000000n], ["helper", 0xffffffffc0001000n]]));
    assert.throws(() => kernelAddresses(["do_unlinkt"], kallsyms), (e: unknown) => e instanceof KernelSymbolError && e.symbol === "do_unlinkt" && e.message === 'kaddr("do_unlinkt"): the running kernel has no symbol do_unlinkt in /proc/kallsyms (did you mean do_unlinkat?); it lists variables only where CONFIG_KALLSYMS_ALL is set');
    assert.throws(() => kernelAddresses(["_stext"], "0000000000000000 T _stext\n"), /^KernelSymbolError: kaddr\("_stext"\): \/proc\/kallsyms shows kernel addresses as 0 to this user \(kernel\.kptr_restrict\): run as root$/);
  });

  it("in the simulator, gives the addresses the test names, and says how to give a missing one", async () => {
    const sim = await simulate({ fileName: "kaddr.ts", text: SOURCE }, { arch: "x86_64", kernelSymbols: { vfs_read: 0xffffffff81200000n, do_unlinkat: 0xffffffff81300000n } });
    sim.uprobe("/bin/true:main", { args: [0xffffffff81200000n] });
    assert.equal(sim.output(), "read ffffffff81300000\nffffffff81200000 ffffffff81300000\n");
    await assert.rejects(simulate({ fileName: "kaddr.ts", text: SOURCE }, { arch: "x86_64", kernelSymbols: { vfs_read: 1 } }), (e: unknown) => e instanceof SimulationError && e.message === 'kaddr("do_unlinkat") names a kernel symbol the simulation was not given an address for: simulate(probe, { kernelSymbols: { do_unlinkat: 0xffffffff81000000n } })');
    await assert.rejects(simulate({ fileName: "kaddr.ts", text: SOURCE }, { kernelSymbols: { vfs_read: "x" as never } }), /kernelSymbols gives addresses by symbol name, .*, not "x" for vfs_read/);
  });

  it("takes a symbol's name as a literal or constant, a C identifier", () => {
    const bad = (body: string) => compile({ fileName: "bad.ts", text: `import { uprobe, kaddr, type u64 } from "tsbpf";\nexport const license = "GPL";\nexport const p = uprobe("/bin/true", "main", (s: u64) => { ${body} });\n` }, { arch: "x86_64" }).diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join("\n");
    assert.match(bad(`const a = kaddr(s as any);`), /^3:\d+ TSBPF\d+ kaddr\(\) takes a kernel symbol's name, a string literal \(or a module-level string constant\): kaddr\("jiffies"\)$/);
    assert.match(bad(`const a = kaddr("foo.cold");`), /kaddr\(\) takes a symbol's name as \/proc\/kallsyms lists it, a C identifier, not "foo\.cold"/);
  });
});

const noKernel = missingRoot() ?? missingBpf(openSys());

describe("kaddr() on this kernel", { skip: noKernel }, () => {
  it("tsbpf run prints the address /proc/kallsyms lists, and refuses a symbol it lacks at the call", () => {
    const address = /^([0-9a-f]+) [tT] do_unlinkat$/m.exec(readFileSync("/proc/kallsyms", "latin1"))?.[1];
    assert.ok(address && !/^0+$/.test(address), "/proc/kallsyms shows do_unlinkat's address to root");
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-kaddr-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      const file = join(dir, "kaddr.ts");
      const probe = (symbol: string) => `import { begin, kaddr, ksym, printf, exit } from "tsbpf";
export const license = "GPL";
export const b = begin(() => {
  printf("%lx %s\\n", kaddr("${symbol}"), ksym(kaddr("${symbol}")));
  exit();
});
`;
      writeFileSync(file, probe("do_unlinkat"));
      const r = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache"], { encoding: "utf8", env, timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      // bpftrace 0.17's `BEGIN { printf("%lx %s\n", kaddr("do_unlinkat"), ksym(kaddr("do_unlinkat"))); exit(); }` prints the same.
      assert.equal(r.stdout, `${address} do_unlinkat\n`);
      writeFileSync(file, probe("do_unlinkt"));
      const missing = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache"], { encoding: "utf8", env, timeout: 60_000 });
      assert.equal(missing.status, 4, missing.stderr);
      assert.match(missing.stderr, /kaddr\.ts:4:22 - error TSBPF3007: kaddr\("do_unlinkt"\): the running kernel has no symbol do_unlinkt in \/proc\/kallsyms \(did you mean do_unlinkat\?\)/);
      assert.match(missing.stderr, /\n {23}~{19}\n/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
