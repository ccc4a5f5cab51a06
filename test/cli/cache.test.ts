// cli/cache.ts, the compiled-object cache of `tsbpf run`: a directory that cannot be written only costs the cache.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { objectPath, readCached, reserve, resolutionStore } from "../../cli/cache.js";
import { compile } from "../../compiler/index.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

test("reserve() makes the cache directory, and commit() puts the object where readCached() finds it", () => {
  const base = mkdtempSync(join(tmpdir(), "tsbpf-object-cache-"));
  try {
    const dir = join(base, "a", "b");
    const slot = reserve(dir, "k1");
    assert.ok(slot, "a writable directory is reserved");
    const { object } = compile(join(ROOT, "examples/unlink.ts"));
    writeFileSync(slot.path, object);
    slot.commit();
    assert.ok(existsSync(objectPath(dir, "k1")));
    assert.deepEqual(new Uint8Array(readCached(dir, "k1")!), object);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("resolutionStore() keeps an object's BTF lookups beside the objects, making the directory when first written", { skip: existsSync("/sys/kernel/btf/vmlinux") ? false : "kept only on a kernel with BTF" }, () => {
  const base = mkdtempSync(join(tmpdir(), "tsbpf-object-cache-"));
  try {
    const dir = join(base, "a", "b");
    const store = resolutionStore(dir, () => "k1");
    assert.equal(store.read(), undefined);
    store.write({ hooks: new Map([["on_switch", 7]]) });
    assert.ok(existsSync(join(dir, "k1.btf.json")));
    assert.deepEqual(resolutionStore(dir, () => "k1").read(), { core: undefined, hooks: new Map([["on_switch", 7]]) });
    resolutionStore("/proc/tsbpf-no-such-dir", () => "k").write({ hooks: new Map() }); // returns: nothing kept
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("a cached entry that is not the object stored is removed and read as a miss, so the probe compiles again", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-object-cache-"));
  try {
    const { object } = compile(join(ROOT, "examples/unlink.ts"));
    const slot = reserve(dir, "whole")!;
    writeFileSync(slot.path, object);
    slot.commit();
    assert.deepEqual(new Uint8Array(readCached(dir, "whole")!), object);
    const stored = readFileSync(objectPath(dir, "whole"));
    // Two bytes of an instruction flipped: the size and the ELF headers are as they were.
    const flipped = Buffer.from(stored);
    flipped[object.length - 200] ^= 0xff;
    flipped[object.length - 199] ^= 0xff;
    const entries = [["garbage", Buffer.from("not an object")], ["truncated", stored.subarray(0, stored.length - 100)], ["unsealed", object], ["flipped", flipped]] as const;
    for (const [key, bytes] of entries) {
      writeFileSync(objectPath(dir, key), bytes);
      assert.equal(readCached(dir, key), undefined, key);
      assert.equal(existsSync(objectPath(dir, key)), false, `${key} is removed`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("reserve() gives up on a directory that cannot be made (under /proc) instead of hanging", () => {
  // In a child: Node's recursive mkdirSync never returns there, and a hang must fail the test, not stall it.
  const child = spawnSync(process.execPath, ["--input-type=module", "--import", "tsx", "-e", 'const { reserve } = await import("./cli/cache.ts"); console.log(String(reserve("/proc/tsbpf-no-such-dir", "k")));'], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 20_000,
  });
  assert.equal(child.status, 0, child.stderr || "reserve() did not return");
  assert.equal(child.stdout.trim(), "undefined");
});

test("reserve() removes the temporary objects of runs killed while compiling, and keeps those of live runs", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-object-cache-"));
  try {
    // A pid above the kernel's pid_max (at most 2^22) names no process.
    const abandoned = join(dir, `${"a".repeat(32)}.bpf.o.${2 ** 22 + 1}.tmp`);
    const live = join(dir, `${"b".repeat(32)}.bpf.o.${process.ppid}.tmp`);
    writeFileSync(abandoned, "half an object");
    writeFileSync(live, "being written");
    const slot = reserve(dir, "k2");
    assert.ok(slot);
    assert.equal(existsSync(abandoned), false, "the dead run's file is removed");
    assert.equal(existsSync(live), true, "a running compile keeps its file");
    slot.discard();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
