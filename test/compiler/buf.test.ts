// buf() and kbuf(), bpftrace's buf(): bytes probe-read into a printf record with their count, written by printf's %r
// as bpftrace writes a buffer (printable ASCII as it is, other bytes as \xNN); both backends, the simulator,
// diagnostics, and a tracepoint on a real write(2).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { mapTags, parseBtf } from "../../compiler/btf/index.js";
import { bytesText, decodeArgs, formatPrintf, parseFormat } from "../../compiler/ir/printf.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

const SOURCE = `import { uprobe, buf, kbuf, printf, type u64, type Ptr } from "tsbpf";
export const license = "GPL";
export const p = uprobe("/bin/true", "main", (data: Ptr, n: u64, k: Ptr) => {
  printf("[%r] [%r]\\n", buf(data, 6), buf(data, n));
  printf(\`<\${buf(data, n, 3)}> \${kbuf(k, 2)}\\n\`);
});
`;

describe("buf() and %r", () => {
  it("writes printable ASCII as it is and other bytes as \\xNN, as bpftrace does", () => {
    assert.equal(bytesText(Uint8Array.of(0x68, 0x69, 0x0a, 0x00, 0x01, 0xff, 0x22, 0x5c, 0x7e, 0x20, 0x7a, 0x7f)), 'hi\\x0a\\x00\\x01\\xff"\\~ z\\x7f');
    const record = new Uint8Array(16);
    const view = new DataView(record.buffer);
    view.setUint32(8, 3, true);
    record.set([0x61, 0x0a, 0x62, 0x63], 12);
    // The count says how many of the room's bytes were read.
    assert.deepEqual(decodeArgs(record, ["r4"]), ["a\\x0ab"]);
    assert.equal(formatPrintf(parseFormat("%r|%-8r|") as never, ["a\\x0ab", "x"], [0, 0]), "a\\x0ab|x       |");
  });

  it("lays out a count and the room in the record, tagged r<room>, in both backends", () => {
    for (const backend of ["own", "llvm"] as const) {
      const r = compile({ fileName: "buf.ts", text: SOURCE }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, [], backend);
      const btf = parseBtf(r.btf);
      const actions = [...btf.types()].find((t) => t.name === "tsbpf_actions");
      assert.deepEqual(mapTags(btf, actions!.id).printf?.map((p) => p.args), [["r6", "r64"], ["r3", "r2"]], backend);
    }
  });

  it("in the simulator, reads user and kernel memory, a run-time length clamped to the most", async () => {
    const sim = await simulate({ fileName: "buf.ts", text: SOURCE }, { arch: "x86_64" });
    const data = sim.kernel.bytes(Uint8Array.of(0x68, 0x69, 0x0a, 0x00, 0xff, 0x41, 0x42), { user: true });
    const k = sim.kernel.bytes(Uint8Array.of(0x7f, 0x45));
    sim.uprobe("/bin/true:main", { args: [data, 5, k] });
    assert.equal(sim.output(), "[hi\\x0a\\x00\\xffA] [hi\\x0a\\x00\\xff]\n<hi\\x0a> \\x7fE\n");
  });

  it("is refused with %s, as an integer, and with a length out of range, saying what to write", () => {
    const bad = (body: string) => compile({ fileName: "bad.ts", text: `import { uprobe, buf, printf, type u64, type Ptr } from "tsbpf";\nexport const license = "GPL";\nexport const p = uprobe("/bin/true", "main", (d: Ptr, n: u64) => { ${body} });\n` }, { arch: "x86_64" }).diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join("\n");
    assert.match(bad(`printf("%s\\n", buf(d, 4));`), /^3:\d+ TSBPF\d+ %s prints a string, and buf\(\)'s bytes print with %r: printf\("%r\\n", buf\(d, 4\)\)$/);
    assert.match(bad(`printf("%r\\n", d);`), /%r prints the bytes buf\(p, length\) reads from user memory, or kbuf\(p, length\) from kernel memory, not `d`/);
    assert.match(bad(`const x: u64 = buf(d, 4) as any;`), /buf\(\) gives a Buf<N> \(bytes and their count\), not an integer: count by it \(`calls.increment\(buf\(p, 16\)\)` in a map keyed by Buf<16>\)/);
    assert.match(bad(`printf("%r\\n", buf(d, 2000));`), /buf\(\)'s length must be a constant from 1 to 1024, not 2000/);
    assert.match(bad(`printf("%r\\n", buf(d, 4, 8));`), /buf\(\)'s third argument bounds a length known only at run time; 4 is a constant/);
    assert.match(bad(`printf("%r\\n", buf(d, n, n));`), /buf\(\)'s most bytes must be a constant from 1 to 1024/);
  });
});

const noKernel = missingRoot() ?? missingBpf(openSys());
const noGcc = spawnSync("gcc", ["--version"]).status === 0 ? undefined : "gcc is not installed";

describe("buf() on this kernel", { skip: noKernel ?? noGcc }, () => {
  it("tsbpf run prints a write(2)'s buffer as bpftrace 0.17 prints it", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-buf-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      const c = join(dir, "w.c");
      // From the stack, which is mapped when the syscall starts (a string literal's page may not be yet: zeroes).
      writeFileSync(c, `#include <string.h>
#include <unistd.h>
int main(void) { char b[16]; memcpy(b, "hi\\n\\0\\x01\\xff\\"\\\\~ z\\x7f", 13); write(1, b, 13); return 0; }
`);
      const bin = join(dir, "w");
      execFileSync("gcc", ["-O1", "-o", bin, c]);
      const file = join(dir, "buf.ts");
      writeFileSync(file, `import { tracepoint, buf, printf, targetPid, pidTgid } from "tsbpf";
export const license = "GPL";
export const w = tracepoint("syscalls", "sys_enter_write", (ctx) => {
  if (pidTgid() >> 32 !== targetPid()) return;
  printf("[%r] [%r]\\n", buf(ctx.buf, ctx.count), buf(ctx.buf, 2));
});
`);
      const r = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "--json", "-c", bin], { encoding: "utf8", env, timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.split("\n").filter((l) => l.startsWith('{"printf"')).map((l) => JSON.parse(l).printf);
      // bpftrace 0.17, `printf("[%r] [%r]\n", buf(args->buf, args->count), buf(args->buf, 2))`, prints the same line.
      assert.deepEqual(lines, ['[hi\\x0a\\x00\\x01\\xff"\\~ z\\x7f\\x00] [hi]\n']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
