// runtime/loader/btf-resolutions.ts: a load's kernel BTF lookups kept in a file, for this kernel only.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileResolutionStore, type BtfResolutions } from "../../runtime/loader/btf-resolutions.js";
import { CoreReloKind } from "../../compiler/btf/core.js";

const kept: BtfResolutions = {
  core: new Map([
    [
      "tp_btf/sched_switch",
      new Map([
        [5, { ok: true, kind: CoreReloKind.FIELD_BYTE_OFFSET, value: 1264n, localValue: 1264n, targetId: 114, matched: [114], targetAccess: "0:92", fieldSize: 4 }],
        [9, { ok: true, kind: CoreReloKind.FIELD_EXISTS, value: 0n, localValue: undefined, targetId: 0, matched: [] }],
        [12, { ok: false, kind: CoreReloKind.FIELD_BYTE_OFFSET, poison: true, error: "task_struct has no field nosuch" }],
      ]),
    ],
  ]),
  hooks: new Map([["on_switch", 12345]]),
};

function inTemporaryDirectory(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-btf-resolutions-"));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("what is written is read back: bigints, failed and poisoned resolutions, hook ids", { skip: hasKernelBtf() ? false : "the store is only written on a kernel with BTF" }, () => {
  inTemporaryDirectory((dir) => {
    const store = fileResolutionStore(join(dir, "k.btf.json"));
    assert.equal(store.read(), undefined);
    store.write(kept);
    assert.deepEqual(store.read(), kept);
    assert.deepEqual(readdirSync(dir), ["k.btf.json"], "no temporary file is left");
  });
});

test("a store filled on another kernel, of another format, or damaged is a miss", { skip: hasKernelBtf() ? false : "the store is only written on a kernel with BTF" }, () => {
  inTemporaryDirectory((dir) => {
    const path = join(dir, "k.btf.json");
    const store = fileResolutionStore(path);
    store.write(kept);
    const stored = JSON.parse(readFileSync(path, "utf8")) as { kernel: string; format: string };
    writeFileSync(path, JSON.stringify({ ...stored, kernel: `${stored.kernel} (another build)` }));
    assert.equal(store.read(), undefined);
    writeFileSync(path, JSON.stringify({ ...stored, format: "tsbpf-btf-resolutions-0" }));
    assert.equal(store.read(), undefined);
    writeFileSync(path, "{ half");
    assert.equal(store.read(), undefined);
  });
});

test("a store that cannot be written costs nothing but the lookups", () => {
  const store = fileResolutionStore("/proc/tsbpf-no-such-dir/k.btf.json");
  store.write(kept);
  assert.equal(store.read(), undefined);
});

function hasKernelBtf(): boolean {
  return existsSync("/sys/kernel/btf/vmlinux");
}
