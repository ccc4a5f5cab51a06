// Finding a uprobe's binary and symbol: what a missing symbol is told, for a stripped executable and for a library, and
// a directory or an offset past the end explained before the kernel refuses them with EINVAL.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveBinary, symbolFileOffset } from "../../runtime/loader/elfsym.js";

test("a function missing from a stripped executable is explained by the stripping; from a library, or with a near name, it is not", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-elfsym-"));
  try {
    const exe = join(dir, "tool");
    copyFileSync("/bin/true", exe);
    try {
      execFileSync("strip", [exe]);
    } catch {
      return t.skip("strip is missing");
    }
    assert.throws(() => symbolFileOffset(exe, "tsbpf_not_exported"), {
      message: `no function tsbpf_not_exported in the symbol tables of ${exe} (it is stripped: only the functions it exports are left; probe one of those, or a build with symbols)`,
    });
    const lib = join(dir, "libtool.so.1");
    copyFileSync(exe, lib);
    assert.throws(() => symbolFileOffset(lib, "tsbpf_not_exported"), { message: `no function tsbpf_not_exported in the symbol tables of ${lib}` });
    writeFileSync(join(dir, "not-elf"), "text");
    assert.throws(() => symbolFileOffset(join(dir, "not-elf"), "main"), { message: `${join(dir, "not-elf")} is not an ELF file` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a directory named as a uprobe's binary, or an offset past the binary's end, is explained rather than left to the kernel's EINVAL", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-elfsym-"));
  try {
    assert.throws(() => resolveBinary(dir), { message: `${dir} is a directory, not a binary` });
    const lib = resolveBinary("libc.so.6");
    assert.throws(() => symbolFileOffset(lib, "malloc", 1 << 30), { message: `malloc+${1 << 30} lies beyond the end of ${lib} (${statSync(lib).size} bytes)` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a versioned name, as libbpf takes it (getppid@@GLIBC_2.2.5), finds the function in a library's dynamic symbols", () => {
  const libc = resolveBinary("libc.so.6");
  const plain = symbolFileOffset(libc, "getppid");
  assert.equal(symbolFileOffset(libc, "getppid@@GLIBC_2.2.5"), plain);
  assert.equal(symbolFileOffset(libc, "getppid@GLIBC_2.2.5"), plain);
  assert.throws(() => symbolFileOffset(libc, "tsbpf_no_such@@GLIBC_2.2.5"), /no function tsbpf_no_such@@GLIBC_2\.2\.5 in the symbol tables/);
});

test("a function with two versions: a bare name is the default version, a versioned name that version (checked against readelf)", (t) => {
  const libc = resolveBinary("libc.so.6");
  const r = spawnSync("readelf", ["--dyn-syms", "-W", libc], { encoding: "utf8" });
  if (r.status !== 0) return t.skip("readelf is not installed");
  // readelf's spelling: realpath@@GLIBC_2.3 (the default) and realpath@GLIBC_2.2.5 (hidden, kept for old programs).
  // (memcpy@@GLIBC_2.14 is an indirect function, probed where it resolves to: test/loader/ifunc.test.ts.)
  const address = (name: string) => {
    const m = new RegExp(`^\\s*\\d+: ([0-9a-f]+) .* ${name.replace(/[.]/g, "\\.")}$`, "m").exec(r.stdout);
    return m ? BigInt(`0x${m[1]}`) : undefined;
  };
  let checked = 0;
  for (const [fn, old, current] of [
    ["realpath", "GLIBC_2.2.5", "GLIBC_2.3"],
    ["pthread_cond_wait", "GLIBC_2.2.5", "GLIBC_2.3.2"],
  ] as const) {
    const oldAddress = address(`${fn}@${old}`);
    const currentAddress = address(`${fn}@@${current}`);
    if (oldAddress === undefined || currentAddress === undefined) continue;
    const plain = symbolFileOffset(libc, fn);
    assert.equal(symbolFileOffset(libc, `${fn}@@${current}`), plain, fn);
    assert.equal(symbolFileOffset(libc, `${fn}@${current}`), plain, fn);
    // Both in libc's text segment: their file offsets lie as far apart as their addresses.
    assert.equal(BigInt(symbolFileOffset(libc, `${fn}@${old}`) - plain), oldAddress - currentAddress, fn);
    assert.throws(() => symbolFileOffset(libc, `${fn}@GLIBC_0.0`), new RegExp(`no function ${fn}@GLIBC_0\\.0 in the symbol tables`));
    checked++;
  }
  if (!checked) t.skip("this libc has none of the versioned functions looked for");
});
