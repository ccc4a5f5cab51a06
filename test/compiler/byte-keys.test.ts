// macaddr(), ntop(), buf() and kbuf() as values: map keys, struct and record fields and locals, in tagged structs
// (tsbpf_macaddr, tsbpf_inet, tsbpf_buf_N) that tsbpf run and the simulator read as the text printf writes for them;
// both backends, the simulator, diagnostics, and a uprobe on a real process.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { BUF_STRUCT_PREFIX, INET_STRUCT, MACADDR_STRUCT, mapTags, parseBtf } from "../../compiler/btf/index.js";
import { taggedStructBytes, taggedStructText } from "../../compiler/ir/printf.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

const SOURCE = `import { uprobe, macaddr, ntop, buf, kbuf, readUser, printf, Count, HashMap, RingBuf, type MacAddr, type IpAddr, type Buf, type Arr, type u8, type u32, type u64, type Ptr } from "tsbpf";
export const license = "GPL";
export interface Packet { src: Arr<u8, 6>; v4: u32; v6: Arr<u8, 16> }
export const macs = new Count<MacAddr>(16);
export const peers = new Count<IpAddr>(16);
export const writes = new Count<Buf<8>>(16);
export const sized = new HashMap<Buf<64>, u64>(16);
export const kernel = new Count<Buf<2>>(16);
export interface Key { mac: MacAddr; addr: IpAddr }
export const pairs = new Count<Key>(16);
export interface Seen { mac: MacAddr; addr: IpAddr; data: Buf<4>; n: u64 }
export const events = new RingBuf<Seen>(4096);
export const p = uprobe("/bin/true", "main", (pk: Ptr, data: Ptr, n: u64, k: Ptr) => {
  const f = readUser<Packet>(pk);
  macs.increment(macaddr(f.src));
  peers.increment(ntop(f.v4));
  peers.increment(ntop(f.v6));
  writes.increment(buf(data, 8));
  sized.update(buf(data, n), n);
  kernel.increment(kbuf(k, 2));
  const m = macaddr(f.src);
  const a = ntop(f.v6);
  const b = buf(data, 3);
  pairs.increment({ mac: m, addr: a });
  events.output({ mac: m, addr: ntop(f.v4), data: buf(data, 4), n: 1 });
  printf("%s %s %r|\\n", m, a, b);
  printf(\`\${m} \${a}\\n\`);
});
`;

const packet = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0, 0, 127, 0, 0, 1, ...Array(15).fill(0), 1);

describe("macaddr(), ntop() and buf() values", () => {
  it("type their keys with the tagged structs in BTF, and keep printf records of direct calls as before, in both backends", () => {
    for (const backend of ["own", "llvm"] as const) {
      const r = compile({ fileName: "keys.ts", text: SOURCE }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, [], backend);
      const btf = parseBtf(r.btf);
      const size = (name: string) => [...new Set([...btf.types()].filter((t) => t.name === name).map((t) => ("size" in t ? t.size : -1)))];
      assert.deepEqual(size(MACADDR_STRUCT), [6], backend);
      assert.deepEqual(size(INET_STRUCT), [20], backend);
      assert.deepEqual(size(`${BUF_STRUCT_PREFIX}8`), [12], backend);
      assert.deepEqual(size(`${BUF_STRUCT_PREFIX}2`), [8], backend);
      const actions = [...btf.types()].find((t) => t.name === "tsbpf_actions");
      assert.deepEqual(mapTags(btf, actions!.id).printf?.map((p) => p.args), [["m6", "inet", "r4"], ["m6", "inet"]], backend);
    }
  });

  it("reads and writes the text of each tagged struct", () => {
    const v6 = taggedStructBytes(INET_STRUCT, 20, "fe80::1:2")!;
    assert.equal(taggedStructText(INET_STRUCT, v6), "fe80::1:2");
    assert.equal(taggedStructText(INET_STRUCT, taggedStructBytes(INET_STRUCT, 20, "10.1.2.3")!), "10.1.2.3");
    assert.equal(taggedStructText(INET_STRUCT, taggedStructBytes(INET_STRUCT, 20, "::ffff:1.2.3.4")!), "::ffff:1.2.3.4");
    assert.equal(taggedStructBytes(INET_STRUCT, 20, "1.2.3"), undefined);
    assert.equal(taggedStructText(MACADDR_STRUCT, taggedStructBytes(MACADDR_STRUCT, 6, "0a:1B:2c:3D:4e:5F")!), "0A:1B:2C:3D:4E:5F");
    assert.equal(taggedStructText(`${BUF_STRUCT_PREFIX}8`, taggedStructBytes(`${BUF_STRUCT_PREFIX}8`, 12, "hi\\x0a")!), "hi\\x0a");
    assert.equal(taggedStructBytes(`${BUF_STRUCT_PREFIX}2`, 8, "abc"), undefined);
  });

  it("in the simulator, keys, key fields and record fields read as printf writes them, and a key is found by its text", async () => {
    const sim = await simulate({ fileName: "keys.ts", text: SOURCE }, { arch: "x86_64" });
    const pk = sim.kernel.bytes(packet, { user: true });
    const data = sim.kernel.bytes(Uint8Array.of(0x68, 0x69, 0x0a, 0x00, 0xff, 0x41, 0x42, 0x43), { user: true });
    const k = sim.kernel.bytes(Uint8Array.of(0x7f, 0x45));
    sim.uprobe("/bin/true:main", { args: [pk, data, 5, k] });
    sim.uprobe("/bin/true:main", { args: [pk, data, 2, k] });
    assert.deepEqual([...sim.map("macs").toMap()], [["52:54:00:12:34:56", 2n]]);
    assert.deepEqual(new Map(sim.map("peers").toMap()), new Map([["127.0.0.1", 2n], ["::1", 2n]]));
    assert.deepEqual([...sim.map("writes").toMap()], [["hi\\x0a\\x00\\xffABC", 2n]]);
    assert.deepEqual(new Map(sim.map("sized").toMap()), new Map([["hi\\x0a\\x00\\xff", 5n], ["hi", 2n]]));
    assert.deepEqual([...sim.map("kernel").toMap()], [["\\x7fE", 2n]]);
    assert.deepEqual([...sim.map("pairs").toMap()], [[{ mac: "52:54:00:12:34:56", addr: "::1" }, 2n]]);
    assert.equal(sim.map("peers").get("::1"), 2n);
    assert.equal(sim.map("sized").get("hi"), 2n);
    assert.deepEqual(sim.events("events")[0], { mac: "52:54:00:12:34:56", addr: "127.0.0.1", data: "hi\\x0a\\x00", n: 1 });
    assert.equal(sim.output(), "52:54:00:12:34:56 ::1 hi\\x0a|\n52:54:00:12:34:56 ::1\n".repeat(2));
  });

  it("is refused where an integer is wanted, and a Buf needs a literal length, saying what to write", () => {
    const bad = (body: string, decl = "") => compile({ fileName: "bad.ts", text: `import { uprobe, macaddr, ntop, buf, Count, type Buf, type Arr, type u8, type u64, type Ptr } from "tsbpf";\nexport const license = "GPL";\n${decl}\nexport const p = uprobe("/bin/true", "main", (d: Ptr, n: u64) => { ${body} });\n` }, { arch: "x86_64" }).diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join("\n");
    assert.match(bad(`const x: u64 = ntop(n) as any;`), /^4:\d+ TSBPF\d+ ntop\(\) gives an IpAddr \(an IPv4 or IPv6 address\), not an integer: count by it \(`peers.increment\(ntop\(addr\)\)` in a map keyed by IpAddr\)/);
    assert.match(bad(`const x: u64 = macaddr(readUser(d)) as any;`), /macaddr\(\) gives a MacAddr|readUser/);
    assert.match(bad(`const x: u64 = buf(d, 4) as any;`), /^4:\d+ TSBPF\d+ buf\(\) gives a Buf<N> \(bytes and their count\), not an integer/);
    assert.match(bad(`m.increment(buf(d, 4));`, "export const m = new Count<Buf<number>>(4);"), /^3:\d+ TSBPF\d+ Buf<N> takes the most bytes buf\(\) reads, an integer literal N from 1 to 1024/);
    assert.match(bad(`m.increment(buf(d, 4));`, "export const m = new Count<Buf<8>>(4);"), /^4:\d+ TS2345 .*'Buf<4>'.*'Buf<8>'/);
  });
});

const noKernel = missingRoot() ?? missingBpf(openSys());
const noGcc = spawnSync("gcc", ["--version"]).status === 0 ? undefined : "gcc is not installed";

describe("macaddr(), ntop() and buf() keys on this kernel", { skip: noKernel ?? noGcc }, () => {
  it("tsbpf run prints them as bpftrace 0.17 prints @[macaddr(p)], @[ntop(a)] and @[buf(p, n)], and so does --json", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-byte-keys-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      const c = join(dir, "keys.c");
      // -O0: at -O1 gcc drops the stores to arrays the empty function never reads.
      writeFileSync(c, `#include <stdint.h>
#include <string.h>
__attribute__((noinline)) void probe_me(const unsigned char *mac, uint32_t v4, const unsigned char *v6, const char *data, long n) { __asm__ volatile("" ::: "memory"); }
int main(void) {
  unsigned char mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  unsigned char v4b[4] = {127, 0, 0, 1};
  uint32_t v4; memcpy(&v4, v4b, 4);
  unsigned char v6[16] = {0xfe, 0x80}; v6[15] = 1;
  char data[] = "hi\\n\\0\\xff" "ABC";
  probe_me(mac, v4, v6, data, 5);
  probe_me(mac, v4, v6, data, 2);
  return 0;
}
`);
      const bin = join(dir, "keys");
      execFileSync("gcc", ["-O0", "-o", bin, c]);
      const file = join(dir, "keys.ts");
      writeFileSync(file, `import { uprobe, ntop, macaddr, buf, readUser, printf, pidTgid, targetPid, Count, type IpAddr, type MacAddr, type Buf, type Arr, type u8, type u32, type u64, type Ptr } from "tsbpf";
export const license = "GPL";
export const mac = new Count<MacAddr>(8);
export const addrs = new Count<IpAddr>(8);
export const sized = new Count<Buf<64>>(8);
export interface Pair { addr: IpAddr; mac: MacAddr }
export const pairs = new Count<Pair>(8);
export const p = uprobe(${JSON.stringify(bin)}, "probe_me", (m: Ptr, a: u32, a6: Ptr, data: Ptr, n: u64) => {
  if (pidTgid() >> 32 !== targetPid()) return;
  const hw = macaddr(readUser<Arr<u8, 6>>(m));
  mac.increment(hw);
  addrs.increment(ntop(a));
  addrs.increment(ntop(readUser<Arr<u8, 16>>(a6)));
  sized.increment(buf(data, n));
  pairs.increment({ addr: ntop(a), mac: hw });
  printf("%s %s %r\\n", hw, ntop(a), buf(data, 3));
});
`);
      const r = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "-c", bin], { encoding: "utf8", env, timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^52:54:00:12:34:56 127\.0\.0\.1 hi\\x0a\n52:54:00:12:34:56 127\.0\.0\.1 hi\\x0a$/m);
      assert.match(r.stdout, /^@mac\[52:54:00:12:34:56\]: 2$/m);
      assert.match(r.stdout, /^@addrs\[127\.0\.0\.1\]: 2\n@addrs\[fe80::1\]: 2$|^@addrs\[fe80::1\]: 2\n@addrs\[127\.0\.0\.1\]: 2$/m);
      assert.match(r.stdout, /^@sized\[hi\\x0a\\x00\\xff\]: 1$/m);
      assert.match(r.stdout, /^@sized\[hi\]: 1$/m);
      assert.match(r.stdout, /^@pairs\[127\.0\.0\.1, 52:54:00:12:34:56\]: 2$/m);
      const json = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "--json", "-c", bin], { encoding: "utf8", env, timeout: 60_000 });
      assert.equal(json.status, 0, json.stderr);
      assert.match(json.stdout, /^\{"map":"mac","entries":\[\{"key":"52:54:00:12:34:56","value":2\}\]\}$/m);
      assert.match(json.stdout, /^\{"map":"pairs","entries":\[\{"key":\{"addr":"127\.0\.0\.1","mac":"52:54:00:12:34:56"\},"value":2\}\]\}$/m);
      assert.match(json.stdout, /"key":"hi\\\\x0a\\\\x00\\\\xff","value":1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
