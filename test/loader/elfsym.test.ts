// Finding a uprobe's symbol in a binary: what a missing one is told, for a stripped executable and for a library.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { symbolFileOffset } from "../../runtime/loader/elfsym.js";

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
