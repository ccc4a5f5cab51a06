// USDT against the running kernel: the clang object built on libbpf's <bpf/usdt.bpf.h> loaded and attached through the
// loader to the gcc-built target, whose probes then hand BPF_USDT the exact values (a register, a stack slot, a
// constant, a negative int, a byte); the semaphore-guarded probe fires only while attached (the kernel sets the
// semaphore through the uprobe's ref_ctr_offset); a pid filter keeps other processes out; `tsbpf load` says what it
// attached; and detaching leaves no link, perf event or fd behind.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveBinary } from "../../runtime/loader/elfsym.js";
import { existsSync, readFileSync } from "node:fs";
import { compile } from "../../compiler/index.js";
import { readUsdtSites } from "../../runtime/loader/usdt.js";
import { simulate } from "../../runtime/test/index.js";
import { listIds, openSys } from "../../runtime/sys/index.js";
import { Session, openMap } from "../../runtime/loader/index.js";
import { needsKernel, openFdCount, startCli } from "./support.js";
import { usdtObject, usdtSkip, usdtTarget } from "./usdt-fixtures.js";

const sys = openSys();

/** tsbpf:site's value by the site's constant. */
const SITES = (target: string) => `
import { usdt, HashMap, type i32, type i64 } from "tsbpf";
export const license = "GPL";
export const values = new HashMap<i32, i64>(4);
export const on_site = usdt(${JSON.stringify(target)}, "tsbpf", "site", (value: i64, which: i32) => {
  values.update(which, value);
  return 0;
});
`;

/** Counts libstdc++'s throw(obj, tinfo) probe by process. */
const THROWS = `
import { usdt, HashMap, pidTgid, type u32, type u64 } from "tsbpf";
export const license = "GPL";
export const throws = new HashMap<u32, u64>(1024);
export const on_throw = usdt("libstdc++.so.6", "libstdcxx", "throw", (obj: u64, tinfo: u64) => {
  if (obj !== 0 && tinfo !== 0) throws.increment((pidTgid() >> 32) as u32);
  return 0;
});
`;
const missingThrower = (): string | false =>
  spawnSync("g++", ["--version"]).status !== 0 ? "g++ is not installed" : readUsdtSitesOf("libstdc++.so.6").some((s) => s.provider === "libstdcxx" && s.name === "throw") ? false : "libstdc++.so.6 has no libstdcxx:throw USDT probe";

/** tsbpf's equivalent of usdt.bpf.c's on_args, filling the same struct. */
const tsProbe = (target: string) => `
import { usdt, ArrayMap, type i32, type i64, type u8, type u64 } from "tsbpf";
export const license = "GPL";
export interface Seen { reg: i64; mem: i64; constant: i64; neg: i64; byte: u64; args_count: u64; guarded_count: u64; guarded_seed: i64 }
export const seen = new ArrayMap<Seen>(1);
export const on_args = usdt(${JSON.stringify(target)}, "tsbpf", "args", (reg: i64, mem: i64, constant: i32, neg: i32, byte: u8) => {
  const s = seen.lookup(0);
  if (s === null) return 0;
  s.reg = reg;
  s.mem = mem;
  s.constant = constant;
  s.neg = neg;
  s.byte = byte;
  s.args_count += 1;
  return 0;
});
`;
const skip = { skip: needsKernel.skip || usdtSkip };

/** Runs the target: SEED ROUNDS; gives how often its guarded probe fired (its semaphore was set). */
const run = (target: string, seed: number, rounds: number): number => Number(execFileSync(target, [String(seed), String(rounds)], { encoding: "utf8" }).trim());

interface Seen {
  reg: bigint;
  mem: bigint;
  constant: bigint;
  neg: bigint;
  byte: bigint;
  argsCount: bigint;
  guardedCount: bigint;
  guardedSeed: bigint;
}

function seen(fd: number): Seen {
  const v = sys.mapLookup(fd, new Uint8Array(4))!;
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const [reg, mem, constant, neg, byte, argsCount, guardedCount, guardedSeed] = [0, 8, 16, 24, 32, 40, 48, 56].map((o) => dv.getBigInt64(o, true)) as bigint[];
  return { reg: reg!, mem: mem!, constant: constant!, neg: neg!, byte: byte!, argsCount: argsCount!, guardedCount: guardedCount!, guardedSeed: guardedSeed! };
}

/** Links go away after an RCU grace period: wait for that rather than a fixed time. */
async function linksLeft(ids: readonly number[]): Promise<number[]> {
  for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 20))) {
    const live = new Set(listIds(sys, "link"));
    const left = ids.filter((id) => live.has(id));
    if (left.length === 0 || Date.now() > deadline) return left;
  }
}

describe("USDT probes on the running kernel", skip, () => {
  it("BPF_USDT gets the exact arguments; the semaphore-guarded probe fires only while attached; detach leaves nothing", async () => {
    const target = usdtTarget();
    const object = usdtObject(target);
    const session = new Session(sys);
    try {
      const obj = session.loadFile(object);
      const map = obj.map("seen").fd;
      // Not attached: the semaphore is 0, so the guarded probe's code does not run.
      assert.equal(run(target, 5, 3), 0);
      const fdsBefore = openFdCount();
      const { attached } = obj.attachAll();
      assert.deepEqual(
        attached.map((a) => a.description),
        [`usdt ${target}:tsbpf:args (1 site)`, `usdt ${target}:tsbpf:guarded (1 site)`],
      );
      // One link and one perf event per site.
      assert.equal(openFdCount(), fdsBefore + 4);
      const linkIds = attached.map((a) => sys.linkInfo(a.fd).id);
      assert.equal(run(target, 5, 3), 3);
      // The last round's seed is 7: inmem = 7 * 3 + 1, neg = -7 - 7, byte = (7 + 200) & 0xff.
      assert.deepEqual(seen(map), { reg: 7n, mem: 22n, constant: 42n, neg: -14n, byte: 207n, argsCount: 3n, guardedCount: 3n, guardedSeed: 7n });
      // Large and negative seeds: the full 64 bits of a long, the sign of the int, the byte cut to 8 bits.
      assert.equal(run(target, -1000000000000, 1), 1);
      assert.deepEqual(seen(map), { reg: -1000000000000n, mem: -2999999999999n, constant: 42n, neg: BigInt(((1000000000000 % 2 ** 32) | 0) - 7), byte: BigInt((-1000000000000 + 200) & 0xff), argsCount: 4n, guardedCount: 4n, guardedSeed: -1000000000000n });

      await obj.detachAll();
      assert.equal(openFdCount(), fdsBefore);
      for (const a of attached) assert.equal(existsSync(`/proc/self/fd/${a.fd}`), false);
      assert.deepEqual(await linksLeft(linkIds), []);
      // Detached: the kernel cleared the semaphore again, and nothing counts.
      assert.equal(run(target, 5, 3), 0);
      assert.equal(seen(map).argsCount, 4n);
    } finally {
      await session.close();
    }
  });

  it("tsbpf's own usdt() program decodes the same arguments as BPF_USDT, and the VM running either agrees", async () => {
    const target = usdtTarget();
    const compiled = compile({ fileName: "usdt-args.ts", text: tsProbe(target) });
    assert.deepEqual(compiled.diagnostics, []);
    const session = new Session(sys);
    try {
      const obj = session.load(compiled.object, { name: "usdt_args" });
      obj.attachAll();
      assert.equal(run(target, -1000000000000, 2), 0);
      const kernel = seen(obj.map("seen").fd);
      // The last round's seed is -999999999999: every form of argument the target's note uses, as BPF_USDT reads them.
      const seed = -999999999999n;
      const expected = { reg: seed, mem: seed * 3n + 1n, constant: 42n, neg: BigInt.asIntN(32, -seed - 7n), byte: BigInt.asUintN(8, seed + 200n) };
      assert.deepEqual({ reg: kernel.reg, mem: kernel.mem, constant: kernel.constant, neg: kernel.neg, byte: kernel.byte, argsCount: kernel.argsCount }, { ...expected, argsCount: 2n });

      // The VM, given the site's own argument text, decodes what the kernel did, for clang's object and tsbpf's.
      const site = readUsdtSites(target).find((x) => x.provider === "tsbpf" && x.name === "args")!;
      const args = [seed, seed * 3n + 1n, 42, expected.neg, expected.byte];
      for (const object of [new Uint8Array(readFileSync(usdtObject(target))), compiled.object]) {
        const sim = await simulate(object);
        sim.usdt("tsbpf:args", { args, spec: site.argText });
        const v = sim.map("seen").get(0) as Record<string, bigint>;
        assert.deepEqual([v.reg, v.mem, v.constant, v.neg, v.byte].map(BigInt), Object.values(expected), site.argText);
      }
    } finally {
      await session.close();
    }
  });

  it("a USDT probe in a shared library found by name (libstdc++'s libstdcxx:throw) fires for a C++ program's throws", { skip: missingThrower() }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-usdt-cxx-"));
    const session = new Session(sys);
    try {
      const thrower = join(dir, "thrower");
      execFileSync("g++", ["-O1", "-x", "c++", "-o", thrower, "-"], { input: "#include <stdexcept>\nint main(int argc, char **) { for (int i = 0; i < argc + 2; i++) try { throw std::runtime_error(\"x\"); } catch (...) {} }\n" });
      const compiled = compile({ fileName: "throws.ts", text: THROWS });
      assert.deepEqual(compiled.diagnostics, []);
      const obj = session.load(compiled.object, { name: "throws" });
      const { attached } = obj.attachAll();
      assert.match(attached[0]!.description, /^usdt \/.*libstdc\+\+\.so\.6:libstdcxx:throw \(\d+ sites?\)$/);
      const { pid, status } = spawnSync(thrower, ["a", "b"]);
      assert.equal(status, 0);
      // argc + 2 throws, each with its exception object and type.
      assert.equal(openMap<number, number>(obj, "throws").get(pid!), 5);
    } finally {
      await session.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a probe with two sites whose notes differ: each site's arguments are read through its own spec (the cookie)", async () => {
    const target = usdtTarget();
    const sites = readUsdtSites(target).filter((x) => x.provider === "tsbpf" && x.name === "site");
    assert.equal(sites.length, 2);
    assert.notEqual(sites[0]!.argText, sites[1]!.argText, "the two sites keep the value in different places");
    const compiled = compile({ fileName: "usdt-sites.ts", text: SITES(target) });
    assert.deepEqual(compiled.diagnostics, []);
    const session = new Session(sys);
    try {
      const obj = session.load(compiled.object, { name: "usdt_sites" });
      const { attached } = obj.attachAll();
      assert.deepEqual(attached.map((a) => a.description), [`usdt ${target}:tsbpf:site (2 sites)`]);
      run(target, 21, 1);
      // Site 1 passes the seed in a register, site 2 twice the seed from the stack.
      assert.deepEqual([...openMap<number, number>(obj, "values").entries()].sort(([a], [b]) => a - b), [[1, 21], [2, 42]]);
    } finally {
      await session.close();
    }
  });

  it("with a pid, only that process's probes fire and only its semaphore is set", async () => {
    const target = usdtTarget();
    const session = new Session(sys);
    try {
      const obj = session.loadFile(usdtObject(target));
      // This process never runs the target: the child's probes stay silent and its semaphore unset.
      obj.attachAll({ pid: process.pid });
      assert.equal(run(target, 5, 2), 0);
      assert.equal(seen(obj.map("seen").fd).argsCount, 0n);
    } finally {
      await session.close();
    }
  });

  it("tsbpf load attaches a USDT object and says where", async () => {
    const target = usdtTarget();
    const { child, stderr, stdout, exited, until } = startCli(["load", usdtObject(target), "--duration", "60"]);
    try {
      const said = () => stderr() + stdout();
      await until(() => said().includes(`attached on_guarded to usdt ${target}:tsbpf:guarded (1 site)`), "tsbpf load never said it attached the USDT probes");
      assert.match(said(), new RegExp(`attached on_args to usdt ${target.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:tsbpf:args \\(1 site\\)`));
      assert.equal(run(target, 1, 2), 2);
      child.kill("SIGINT");
      assert.equal(await exited, 0, stderr());
      // usdt.bpf.h's spec map is the library's bookkeeping: the maps printed at exit leave it out.
      assert.doesNotMatch(stdout(), /__bpf_usdt_specs/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});

/** The USDT sites of a library by name, or none when it cannot be found. */
function readUsdtSitesOf(name: string) {
  try {
    return readUsdtSites(resolveBinary(name));
  } catch {
    return [];
  }
}
