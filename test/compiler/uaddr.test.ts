// uaddr(), bpftrace's: a symbol's address in a position-dependent executable, a `.rodata` u64 (its names beside it)
// the loader writes from the file's symbol tables; a PIE or a library is refused, as is a symbol the file lacks.
// Both backends, the loader's lookup, the simulator (addresses the test gives), and a uprobe on a real process.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { openObject, uaddrSymbols, userAddress, UserSymbolError } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate, SimulationError } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

const SOURCE = `import { uprobe, uaddr, readUser, printf, type i32 } from "tsbpf";
export const license = "GPL";
const APP = "/opt/app";
export const p = uprobe(APP, "bump", () => {
  printf("%lx %d %lx\\n", uaddr(APP, "counter"), readUser<i32>(uaddr("/opt/app", "counter")), uaddr(APP, "bump"));
});
`;

const noGcc = spawnSync("gcc", ["--version"]).status === 0 ? undefined : "gcc is not installed";
const TARGET = `#include <unistd.h>
int counter = 42;
__attribute__((noinline)) int bump(int x) { counter += x; return counter; }
int main(void) { for (int i = 0; i < 3; i++) bump(i); return 0; }
`;

/** The target built position-dependent and position-independent, in `dir`. */
function build(dir: string): { fixed: string; pie: string } {
  const c = join(dir, "app.c");
  writeFileSync(c, TARGET);
  const fixed = join(dir, "app-fixed");
  const pie = join(dir, "app-pie");
  execFileSync("gcc", ["-O0", "-no-pie", "-o", fixed, c]);
  execFileSync("gcc", ["-O0", "-fPIE", "-pie", "-o", pie, c]);
  return { fixed, pie };
}

describe("uaddr()", () => {
  it("reads one .rodata u64 per binary and symbol, their names beside it, in both backends", () => {
    for (const backend of ["own", "llvm"] as const) {
      const r = compile({ fileName: "uaddr.ts", text: SOURCE }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, [], backend);
      assert.deepEqual(uaddrSymbols(openObject(r.object, { name: "uaddr" }).maps), [
        { variable: "__tsbpf_uaddr_0", binary: "/opt/app", symbol: "counter" },
        { variable: "__tsbpf_uaddr_1", binary: "/opt/app", symbol: "bump" },
      ], backend);
    }
  });

  it("finds a variable's and a function's address in a -no-pie executable; refuses a PIE and a missing symbol", { skip: noGcc }, () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-uaddr-"));
    try {
      const { fixed, pie } = build(dir);
      const nm = (bin: string, name: string) => BigInt(`0x${new RegExp(`^([0-9a-f]+) \\w ${name}$`, "m").exec(execFileSync("nm", [bin], { encoding: "utf8" }))![1]}`);
      assert.equal(userAddress(fixed, "counter"), nm(fixed, "counter"));
      assert.equal(userAddress(fixed, "bump"), nm(fixed, "bump"));
      assert.throws(() => userAddress(pie, "counter"), (e: unknown) => e instanceof UserSymbolError && e.message === `uaddr("${pie}", "counter"): ${pie} is position-independent (a PIE executable or a library): its symbols' addresses move with each process's load address, so uaddr() takes a position-dependent executable (linked with -no-pie)`);
      assert.throws(() => userAddress(fixed, "countr"), (e: unknown) => e instanceof UserSymbolError && e.binary === fixed && e.symbol === "countr" && /defines no symbol countr \(did you mean counter\?\)$/.test(e.message));
      assert.throws(() => userAddress("no-such-binary-here", "x"), /^UserSymbolError: uaddr\("no-such-binary-here", "x"\): cannot find binary no-such-binary-here on PATH$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("in the simulator, gives the addresses the test names by binary:symbol, and says how to give a missing one", async () => {
    const userSymbols = { "/opt/app:counter": 0x404018, "/opt/app:bump": 0x401126 };
    const sim = await simulate({ fileName: "uaddr.ts", text: SOURCE }, { arch: "x86_64", userSymbols });
    sim.uprobe("/opt/app:bump");
    assert.equal(sim.output(), "404018 0 401126\n");
    await assert.rejects(simulate({ fileName: "uaddr.ts", text: SOURCE }, { arch: "x86_64", userSymbols: { "/opt/app:counter": 1 } }), (e: unknown) => e instanceof SimulationError && e.message === 'uaddr("/opt/app", "bump") names a symbol the simulation was not given an address for: simulate(probe, { userSymbols: { "/opt/app:bump": 0x404018 } })');
  });

  it("takes a binary and a symbol as literals or constants", () => {
    const r = compile({ fileName: "bad.ts", text: `import { uprobe, uaddr, type u64 } from "tsbpf";\nexport const license = "GPL";\nexport const p = uprobe("/opt/app", "bump", (s: u64) => { const a = uaddr("/opt/app", s as any); });\n` }, { arch: "x86_64" });
    assert.match(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join("\n"), /^3:\d+ TSBPF\d+ uaddr\(\) takes a binary and a symbol's name, string literals \(or module-level string constants\): uaddr\("\/usr\/local\/bin\/app", "counter"\)$/);
  });
});

const noKernel = missingRoot() ?? missingBpf(openSys());

describe("uaddr() on this kernel", { skip: noKernel ?? noGcc }, () => {
  it("tsbpf run reads a -no-pie program's global through its address, as bpftrace 0.17 does, and refuses a PIE at the call", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-uaddr-run-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      const { fixed, pie } = build(dir);
      const probe = (bin: string) => `import { uprobe, uaddr, readUser, printf, type i32 } from "tsbpf";
export const license = "GPL";
export const b = uprobe("${bin}", "bump", (x: i32) => {
  printf("%lx %d %d\\n", uaddr("${bin}", "counter"), readUser<i32>(uaddr("${bin}", "counter")), x);
});
`;
      const file = join(dir, "uaddr.ts");
      writeFileSync(file, probe(fixed));
      const r = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "-c", fixed], { encoding: "utf8", env, timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      // bpftrace 0.17: `uprobe:BIN:bump { printf("%lx %d\n", uaddr("counter"), *(int32*)uaddr("counter")); }` prints 404018 42, 42, 43.
      const address = /^([0-9a-f]+) \w counter$/m.exec(execFileSync("nm", [fixed], { encoding: "utf8" }))![1]!.replace(/^0+/, "");
      assert.equal(r.stdout, `${address} 42 0\n${address} 42 1\n${address} 43 2\n`);
      writeFileSync(file, probe(pie));
      const refused = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "-c", pie], { encoding: "utf8", env, timeout: 60_000 });
      assert.equal(refused.status, 2, refused.stderr);
      assert.match(refused.stderr, /uaddr\.ts:4:25 - error TSBPF3007: uaddr\(".*app-pie", "counter"\): .*app-pie is position-independent/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
