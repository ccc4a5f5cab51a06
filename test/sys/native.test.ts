// runtime/sys/native.ts: koffi's native module is found along the node_modules search path and required
// directly, not through koffi's entry point (which reads the node binary's ELF header), and it works.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

test("koffi's native module is required directly from its platform package", () => {
  const script = [
    'import { createRequire } from "node:module";',
    'const { native } = await import("./runtime/sys/native.ts");',
    "const { koffi, libc } = native();",
    "const getpid = libc.func('int getpid()');",
    "const loaded = Object.keys(createRequire(import.meta.url).cache);",
    "console.log(JSON.stringify({",
    "  pid: getpid() === process.pid,",
    "  nativeModule: loaded.filter((f) => f.endsWith('koffi.node')).length,",
    "  entryPoint: loaded.filter((f) => /koffi[\\\\/]index\\.c?js$/.test(f)).length,",
    "  version: typeof koffi.version,",
    "}));",
  ].join("\n");
  const child = spawnSync(process.execPath, ["--input-type=module", "--import", "tsx", "-e", script], { cwd: ROOT, encoding: "utf8" });
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout.trim().split("\n").pop()!), { pid: true, nativeModule: 1, entryPoint: 0, version: "string" });
});
