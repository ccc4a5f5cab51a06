// Indirect functions (STT_GNU_IFUNC, as glibc's strlen and memcpy): a uprobe on one goes where its resolver points
// on this machine, not on the resolver, which runs once per program. On this kernel, a program's thousand strlen
// calls are a thousand hits (the resolver's address saw two).

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveBinary, symbolFileOffset } from "../../runtime/loader/elfsym.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { CLI } from "../support/cli.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const libc = resolveBinary("libc.so.6");
const readelf = spawnSync("readelf", ["--dyn-syms", "-W", libc], { encoding: "utf8" });
/** libc's dynamic symbol `name` as readelf shows it: its type and address. */
const symbol = (name: string) => {
  const m = new RegExp(`^\\s*\\d+: ([0-9a-f]+)\\s+\\d+ (\\w+) .* ${name}$`, "m").exec(readelf.stdout);
  return m ? { address: BigInt(`0x${m[1]}`), type: m[2] } : undefined;
};
const strlen = readelf.status === 0 ? symbol("strlen@@GLIBC_2.2.5") : undefined;
const noIfunc = readelf.status !== 0 ? "readelf is not installed" : strlen?.type !== "IFUNC" ? "this libc's strlen is not an indirect function" : false;

describe("uprobes on indirect functions", { skip: noIfunc }, () => {
  it("go to the implementation the resolver picks, not to the resolver", () => {
    const plain = symbolFileOffset(libc, "getppid");
    const getppid = symbol("getppid@@GLIBC_2.2.5")!;
    // getppid is an ordinary function in the same segment: the resolver's offset lies as far from its as their addresses.
    const resolver = BigInt(plain) + strlen!.address - getppid.address;
    const offset = symbolFileOffset(libc, "strlen");
    assert.notEqual(BigInt(offset), resolver);
    assert.equal(symbolFileOffset(libc, "strlen@GLIBC_2.2.5"), offset);
  });

  const noKernel = missingRoot() ?? missingBpf(openSys()) ?? (spawnSync("gcc", ["--version"]).status === 0 ? false : "gcc is missing");
  let dir = "";
  before(() => {
    if (noKernel) return;
    dir = mkdtempSync(join(tmpdir(), "tsbpf-ifunc-"));
    // strlen through a pointer the compiler cannot see through: each call is libc's.
    writeFileSync(join(dir, "strlens.c"), `#include <string.h>
size_t (*volatile len)(const char *) = strlen;
int main(void) { size_t n = 0; for (int i = 0; i < 1000; i++) n += len("tsbpf"); return n != 5000; }
`);
    const r = spawnSync("gcc", ["-O0", "-fno-builtin", "-o", join(dir, "strlens"), join(dir, "strlens.c")], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    writeFileSync(join(dir, "count.ts"), `import { uprobe, pidTgid, targetPid, ArrayMap, type u64 } from "tsbpf";
export const license = "GPL";
export const calls = new ArrayMap<u64>(1);
export const count = uprobe("libc.so.6", "strlen", () => {
  if (pidTgid() >> 32 !== targetPid()) return;
  calls.increment(0);
});
`);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("of a library this process has not loaded are refused in one sentence saying why", { skip: noKernel }, () => {
    const lib = join(dir, "libpick.so");
    writeFileSync(`${lib}.c`, `static int one(void) { return 1; }
static void *pick_resolver(void) { return (void *)one; }
int pick(void) __attribute__((ifunc("pick_resolver")));
`);
    const r = spawnSync("gcc", ["-shared", "-fPIC", "-o", lib, `${lib}.c`], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.throws(() => symbolFileOffset(lib, "pick"), {
      name: "SymbolError",
      message: new RegExp(`^pick in ${lib.replace(/[.]/g, "\\.")} is an indirect function \\(IFUNC\\): its symbol is a resolver that picks an implementation once per program`),
    });
  });

  it("see every call a program makes", { skip: noKernel }, () => {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const r = spawnSync(process.execPath, [...CLI, "run", join(dir, "count.ts"), "--no-cache", "-c", join(dir, "strlens")], { cwd: ROOT, encoding: "utf8", env, timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const hits = Number(/^@calls\[0\]: (\d+)$/m.exec(r.stdout)?.[1]);
    assert.ok(hits >= 1000 && hits < 1100, r.stdout);
  });
});

describe("uprobes on an instruction they cannot single-step", () => {
  const noKernel = missingRoot() ?? missingBpf(openSys()) ?? (spawnSync("gcc", ["--version"]).status === 0 ? false : "gcc is missing");
  it("say what to probe instead (x86-64 refuses AVX's VEX-encoded instructions, which some libc implementations start with)", { skip: noKernel || (process.arch === "x64" ? false : "x86-64's rule") }, () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-vex-"));
    try {
      // libc's __strchr_avx2 starts with this vmovd.
      writeFileSync(join(dir, "vex.c"), `#include <unistd.h>\n__attribute__((naked, noinline)) void avx_first(void) { __asm__("vmovd %esi, %xmm0\\n\\tret"); }\nint main(void) { sleep(60); avx_first(); return 0; }\n`);
      const built = spawnSync("gcc", ["-O2", "-o", join(dir, "vex"), join(dir, "vex.c")], { encoding: "utf8" });
      assert.equal(built.status, 0, built.stderr);
      writeFileSync(join(dir, "p.ts"), `import { uprobe } from "tsbpf";\nexport const license = "GPL";\nexport const p = uprobe(${JSON.stringify(join(dir, "vex"))}, "avx_first", () => 0);\n`);
      const env = { ...process.env };
      delete env.NODE_EXTRA_CA_CERTS;
      // The kernel judges the instruction where the file is mapped when the probe is placed: run it first.
      const mapped = spawn(join(dir, "vex"), { stdio: "ignore" });
      let r;
      try {
        r = spawnSync(process.execPath, [...CLI, "run", join(dir, "p.ts"), "--no-cache", "--duration", "1"], { cwd: ROOT, encoding: "utf8", env, timeout: 60_000 });
      } finally {
        mapped.kill();
      }
      assert.equal(r.status, 4, r.stderr);
      assert.match(r.stderr, /p\.ts:3:\d+ - error TSBPF3001: cannot create the uprobe .*vex:avx_first event for program p: perf_event_open failed: ENOTSUPP \(errno 524\); the kernel cannot place a uprobe on the instruction there .*: probe a caller, or an offset past that instruction/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
