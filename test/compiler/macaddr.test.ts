// macaddr(), bpftrace's: a MAC address's 6 bytes copied into a printf record and written by %s as
// `AA:BB:CC:DD:EE:FF`; both backends, the simulator, diagnostics, and a tracepoint on a real write(2).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { mapTags, parseBtf } from "../../compiler/btf/index.js";
import { decodeArgs } from "../../compiler/ir/printf.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

const SOURCE = `import { uprobe, macaddr, readUser, readKernel, printf, type Arr, type u8, type Ptr } from "tsbpf";
export const license = "GPL";
export interface Frame { dst: Arr<u8, 6>; src: Arr<u8, 6> }
export const p = uprobe("/bin/true", "main", (u: Ptr, k: Ptr) => {
  const f = readUser<Frame>(u);
  printf("%s > %s|%-18s|\\n", macaddr(f.src), macaddr(f.dst), macaddr(readKernel<Arr<u8, 6>>(k)));
  printf(\`\${macaddr(f.src)}\\n\`);
});
`;

describe("macaddr()", () => {
  it("writes the 6 bytes in upper-case hex separated by colons", () => {
    const record = new Uint8Array(16);
    record.set([0x00, 0x1a, 0x2b, 0xcc, 0xdd, 0xef], 8);
    assert.deepEqual(decodeArgs(record, ["m6"]), ["00:1A:2B:CC:DD:EF"]);
  });

  it("copies the bytes into the record, tagged m6, in both backends", () => {
    for (const backend of ["own", "llvm"] as const) {
      const r = compile({ fileName: "mac.ts", text: SOURCE }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, [], backend);
      const btf = parseBtf(r.btf);
      const actions = [...btf.types()].find((t) => t.name === "tsbpf_actions");
      assert.deepEqual(mapTags(btf, actions!.id).printf?.map((p) => p.args), [["m6", "m6", "m6"], ["m6"]], backend);
    }
  });

  it("in the simulator, prints struct fields and reads of user and kernel memory", async () => {
    const sim = await simulate({ fileName: "mac.ts", text: SOURCE }, { arch: "x86_64" });
    const frame = sim.kernel.bytes(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56), { user: true });
    const k = sim.kernel.bytes(Uint8Array.of(0x02, 0x42, 0xac, 0x11, 0x00, 0x02));
    sim.uprobe("/bin/true:main", { args: [frame, k] });
    assert.equal(sim.output(), "52:54:00:12:34:56 > FF:FF:FF:FF:FF:FF|02:42:AC:11:00:02 |\n52:54:00:12:34:56\n");
  });

  it("takes 6 bytes alone, and only as a printf value, saying what to write", () => {
    const bad = (body: string) => compile({ fileName: "bad.ts", text: `import { uprobe, macaddr, readUser, printf, type Arr, type u8, type u64, type Ptr } from "tsbpf";\nexport const license = "GPL";\nexport const p = uprobe("/bin/true", "main", (d: Ptr, n: u64) => { ${body} });\n` }, { arch: "x86_64" }).diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join("\n");
    assert.match(bad(`printf("%s\\n", macaddr(readUser<Arr<u8, 4>>(d) as any));`), /^3:\d+ TSBPF\d+ macaddr\(\) takes a MAC address's 6 bytes, an Arr<u8, 6> \(readUser<Arr<u8, 6>>\(p\) or readKernel<Arr<u8, 6>>\(p\) reads them at a pointer\), not an Arr<u8, 4>$/);
    assert.match(bad(`printf("%s\\n", macaddr(n as any));`), /macaddr\(\) takes a MAC address's 6 bytes, .*, not `n`/);
    assert.match(bad(`const m = readUser<Arr<u8, 6>>(d); const x: u64 = macaddr(m) as any;`), /macaddr\(\) gives a MacAddr \(a MAC address's 6 bytes\), not an integer: count by it/);
  });
});

const noKernel = missingRoot() ?? missingBpf(openSys());
const noGcc = spawnSync("gcc", ["--version"]).status === 0 ? undefined : "gcc is not installed";

describe("macaddr() on this kernel", { skip: noKernel ?? noGcc }, () => {
  it("tsbpf run prints a write(2)'s first 6 bytes as bpftrace 0.17's macaddr() prints them", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-macaddr-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      const c = join(dir, "w.c");
      writeFileSync(c, `#include <string.h>
#include <unistd.h>
int main(void) { char b[8]; memcpy(b, "hi\\n\\0\\x01\\xff", 6); write(1, b, 6); return 0; }
`);
      const bin = join(dir, "w");
      execFileSync("gcc", ["-O1", "-o", bin, c]);
      const file = join(dir, "mac.ts");
      writeFileSync(file, `import { tracepoint, macaddr, readUser, printf, targetPid, pidTgid, type Arr, type u8 } from "tsbpf";
export const license = "GPL";
export const w = tracepoint("syscalls", "sys_enter_write", (ctx) => {
  if (pidTgid() >> 32 !== targetPid()) return;
  printf("%s|\\n", macaddr(readUser<Arr<u8, 6>>(ctx.buf)));
});
`);
      const r = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "--json", "-c", bin], { encoding: "utf8", env, timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.split("\n").filter((l) => l.startsWith('{"printf"')).map((l) => JSON.parse(l).printf);
      // bpftrace 0.17's `printf("%s|\n", macaddr(args->buf))` prints the same.
      assert.deepEqual(lines, ["68:69:0A:00:01:FF|\n"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
