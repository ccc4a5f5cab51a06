// bswap(x) and pton(text), bpftrace's bswap() and pton(): an integer's bytes reversed at its width (BPF_END, to big
// endian on these little-endian targets; llvm.bswap in the LLVM backend) and an address's bytes made at compile time.
// Both backends, the simulator, the compiler's checks, and tsbpf run on this kernel against bpftrace 0.17's output.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { disassemble } from "../../compiler/isa/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";
import { noLlvm } from "../llvm/support.js";

const SOURCE = `import { uprobe, printf, bswap, pton, ntop, i8, u16, u32, Count, type Arr, type u8, type i16, type u64 } from "tsbpf";
export const license = "GPL";
export const seen = new Count<Arr<u8, 4>>(4);
export const p = uprobe("libc.so.6", "connect", (a: u16, b: u32, c: u64, d: i16, e: i8) => {
  printf("%x %x %lx %x %d|%lx %x %lx %d\\n", bswap(a), bswap(b), bswap(c), bswap(d), bswap(e), bswap(0x1234), bswap(u16(0x1234)), bswap(u32(0x12345678)), bswap(i8(-1)));
  const lo = pton("127.0.0.1");
  const six = pton("::ffff:10.0.0.1");
  printf("%d.%d %d %s %s %s\\n", lo[0], lo[3], pton("10.1.2.3")[2], ntop(lo), ntop(six), ntop(pton("fe80::1:2")));
  seen.increment(pton("1.2.3.4"));
});
`;

const backends = (["own", "llvm"] as const).filter((b) => b === "own" || !noLlvm);

describe("bswap() and pton()", () => {
  it("swap at the operand's width with one BPF_END each (a constant at compile time), as bpftrace 0.17 swaps", async () => {
    for (const backend of backends) {
      const r = compile({ fileName: "s.ts", text: SOURCE }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, [], backend);
      const swaps = r.programs.flatMap((p) => disassemble(p.insns)).flatMap((l) => /= (be16|be32|be64) /.exec(l)?.[1] ?? []).sort();
      assert.deepEqual(swaps, ["be16", "be16", "be32", "be64"], backend);
      const sim = await simulate({ fileName: "s.ts", text: SOURCE }, { backend });
      sim.uprobe("libc.so.6:connect", { args: [0x1234, 0x12345678, 0x0102030405060708n, -2, -1] });
      // bpftrace 0.17: bswap((int16)-2) is 65279 (0xfeff), bswap((int8)-1) 255, bswap(0x1234) 0x3412000000000000.
      assert.equal(sim.output(), "3412 78563412 807060504030201 feff 255|3412000000000000 3412 78563412 255\n127.1 2 127.0.0.1 ::ffff:10.0.0.1 fe80::1:2\n", backend);
      assert.deepEqual(sim.map("seen").entries(), [[[1, 2, 3, 4], 1n]], backend);
    }
  });

  it("say what is wrong with pton()'s address or a bswap() of no integer", () => {
    const bad = (statement: string) => compile({ fileName: "bad.ts", text: SOURCE.replace('seen.increment(pton("1.2.3.4"));', statement) }).diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join("\n");
    assert.equal(bad('seen.increment(pton("1.2.3"));'), '9:23 TSBPF1005 "1.2.3" is not an IPv4 address (four decimal bytes, "10.0.0.1") or an IPv6 one ("::1", "fe80::1", "::ffff:10.0.0.1")');
    assert.equal(bad('seen.increment(pton("010.0.0.1"));'), '9:23 TSBPF1005 "010.0.0.1" is not an IPv4 address (four decimal bytes, "10.0.0.1") or an IPv6 one ("::1", "fe80::1", "::ffff:10.0.0.1")');
    assert.equal(bad("const z = pton(`${a}`);"), "9:18 TSBPF1017 pton() takes an address known at compile time, a string literal or a module-level string constant: pton(\"127.0.0.1\")");
    assert.equal(bad('const q: u64 = pton("1.2.3.4") as any;'), '9:18 TSBPF1012 pton() gives an address\'s bytes (an Arr<u8, 4> or Arr<u8, 16>), not an integer: index it (`pton("10.0.0.1")[0]`), bind it (`const lo = pton("127.0.0.1")`) or give it to ntop()');
    assert.equal(bad("const y = bswap(lo as any);"), "9:19 TSBPF1012 `lo` is an Arr<u8, 4>, not an integer");
  });
});

const noKernel = missingRoot() ?? missingBpf(openSys()) ?? (spawnSync("python3", ["--version"]).status !== 0 ? "python3 is missing" : undefined);

describe("bswap() and pton() on this kernel", { skip: noKernel }, () => {
  it("tsbpf run prints what bpftrace 0.17 prints for the same one-liner on an lseek, from both backends", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-bswap-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      writeFileSync(join(dir, "seek.py"), 'import os\nfd = os.open("/dev/null", os.O_RDONLY)\nos.lseek(fd, 0x0102030405060708, 0)\n');
      const probe = `tracepoint("syscalls", "sys_enter_lseek", (ctx) => {
  if (pidTgid() >> 32 !== targetPid() || ctx.offset !== i64(0x0102030405060708n)) return;
  printf("%lx %x %x %d %s\\n", bswap(ctx.offset), bswap(u32(ctx.offset)), bswap(u16(ctx.offset)), bswap(u8(ctx.offset)), ntop(pton("10.1.2.3")));
})`;
      for (const backend of backends) {
        const r = spawnSync(process.execPath, [...CLI, "run", "--no-cache", "--backend", backend, "-e", probe, "-c", `python3 ${join(dir, "seek.py")}`], { encoding: "utf8", env, timeout: 60_000 });
        assert.equal(r.status, 0, r.stderr);
        // bpftrace 0.17: `tracepoint:syscalls:sys_enter_lseek /pid == cpid/ { printf("%lx %x %x %d %s\n",
        // bswap(args->offset), bswap((uint32)args->offset), bswap((uint16)args->offset), bswap((uint8)args->offset),
        // ntop(pton("10.1.2.3"))); }` printed this line for that lseek.
        assert.equal(r.stdout, "807060504030201 8070605 807 8 10.1.2.3\n", backend);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
