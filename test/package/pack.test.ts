// What `npm pack` puts in the package: every entry point package.json names (exports with their
// declarations, the bin, the postinstall script that bundles), and nothing an installed tsbpf cannot
// use: no code caches of this machine's Node, no bundle (made for this tree's mtimes), no source maps
// (their TypeScript sources are not shipped, so stack traces would name files that do not exist), no
// tests or examples.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string>; exports: Record<string, string>; scripts: Record<string, string> };

test("the package holds every entry point and nothing it does not need", { skip: existsSync(join(ROOT, "dist/index.js")) ? false : "needs a build in dist/ (npm run build)" }, () => {
  const r = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const files = new Set((JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
  const wanted = [...Object.values(pkg.bin), ...Object.values(pkg.exports).flatMap((js) => [js, js.replace(/\.js$/, ".d.ts")]), "dist/cli/bundle-build.js"];
  for (const path of wanted) assert.ok(files.has(path.replace(/^\.\//, "")), `${path} is not in the package`);
  assert.match(pkg.scripts.postinstall!, /dist\/cli\/bundle-build\.js/);
  // The bundle is rebuilt at install: installed files get new mtimes, so a packed one would never be used.
  const unwanted = [...files].filter((f) => /^dist\/\.(cache|bundle)\//.test(f) || f.endsWith(".map") || /^(test|examples|bench|scripts)\//.test(f));
  assert.deepEqual(unwanted, []);
});
