// runtime/sys readBtfFile: the kernel's BTF mapped read-only where the kernel allows it (Linux 6.15+), read
// otherwise; either way the same bytes as reading the file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VMLINUX_BTF, readBtfFile } from "../../runtime/sys/index.js";

/** Whether this process has a mapping of `path` (/proc/self/maps ends each file mapping's line with its path). */
const mapped = (path: string): boolean => readFileSync("/proc/self/maps", "utf8").split("\n").some((line) => line.endsWith(` ${path}`));

test("the kernel's BTF: the same bytes as reading it, through a mapping on Linux 6.15 and later", { skip: existsSync(VMLINUX_BTF) ? false : "no /sys/kernel/btf/vmlinux" }, () => {
  const bytes = readBtfFile(VMLINUX_BTF);
  assert.ok(Buffer.compare(bytes, readFileSync(VMLINUX_BTF)) === 0, "mapped bytes differ from the file's");
  const [major, minor] = (readFileSync("/proc/sys/kernel/osrelease", "utf8").match(/^(\d+)\.(\d+)/) ?? []).slice(1).map(Number);
  if (major! > 6 || (major === 6 && minor! >= 15)) assert.ok(mapped(VMLINUX_BTF), "the kernel allows mapping its BTF, and it was read instead");
});

test("any other BTF file is read", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-btf-file-"));
  try {
    const path = join(dir, "x.btf");
    writeFileSync(path, Uint8Array.from([0x9f, 0xeb, 1, 0]));
    assert.deepEqual([...readBtfFile(path)], [0x9f, 0xeb, 1, 0]);
    assert.equal(mapped(path), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
