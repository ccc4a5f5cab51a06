// What `npm pack` puts in the package: every entry point package.json names (exports with their
// declarations, the bin, the postinstall script that bundles), and nothing an installed tsbpf cannot
// use: no code caches of this machine's Node, no bundle (made for this tree's mtimes), no source maps
// (their TypeScript sources are not shipped, so stack traces would name files that do not exist), no
// tests or examples. And the installed command's --version is tsbpf's.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; bin: Record<string, string>; exports: Record<string, string>; scripts: Record<string, string> };

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

test("tsbpf --version in a project is tsbpf's, not the project's", { skip: existsSync(join(ROOT, "dist/cli/tsbpf.cjs")) ? false : "needs a build in dist/ (npm run build)" }, () => {
  // Installed as npm lays it out: tsbpf's files under the project's node_modules, its dependencies (yargs,
  // which looks for package.json above its own node_modules) beside it.
  const project = mkdtempSync(join(tmpdir(), "tsbpf-project-"));
  try {
    writeFileSync(join(project, "package.json"), '{ "name": "someone-else", "version": "9.9.9" }\n');
    const installed = join(project, "node_modules", "tsbpf");
    mkdirSync(installed, { recursive: true });
    cpSync(join(ROOT, "package.json"), join(installed, "package.json"));
    cpSync(join(ROOT, "dist"), join(installed, "dist"), { recursive: true, filter: (f) => !/\/dist\/\.(cache|bundle)$/.test(f) && !f.endsWith(".map") });
    for (const name of readdirSync(join(ROOT, "node_modules"))) if (!name.startsWith(".")) symlinkSync(join(ROOT, "node_modules", name), join(project, "node_modules", name));
    const r = spawnSync(process.execPath, ["--preserve-symlinks", join(installed, "dist/cli/tsbpf.cjs"), "--version"], { cwd: project, encoding: "utf8", env: { ...process.env, TSBPF_NO_CODE_CACHE: "1" } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${pkg.version}\n`);
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
});
