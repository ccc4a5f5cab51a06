// Runs every test/**/*.test.ts, examples/**/*.test.ts and tools/**/*.test.ts with node's own test runner (TypeScript
// through tsx). Extra arguments narrow the run to files whose path contains one of them.
// The example and tool tests import "tsbpf/test" as a user's tests do. The package's exports point at dist/,
// so a resolve hook sends tsbpf/test to the sources here: the tests need no build and test this tree.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { spawnSync } from "node:child_process";

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const source = pathToFileURL("runtime/test/index.ts").href;
const hook = `export function resolve(s, c, next) { return next(s === "tsbpf/test" ? ${JSON.stringify(source)} : s, c); }`;
const register = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;

// The longest files start first, so that the run does not end waiting on one of them alone (the e2e run tests take
// ~80 s of a ~280 s run; sorted by path they started at about a third of it).
const LONGEST = ["test/e2e/run.test.ts", "test/llvm/examples.test.ts", "test/loader/kernel.test.ts", "test/e2e/tools.test.ts"];
const filters = process.argv.slice(2);
const files = [...findTests("test"), ...findTests("examples"), ...findTests("tools")]
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort((a, b) => rank(a) - rank(b));
function rank(file) {
  const i = LONGEST.indexOf(file);
  return i < 0 ? LONGEST.length : i;
}
// node --test given no files would look for tests everywhere, dist/ and node_modules/ included.
if (files.length === 0) {
  console.error(`no test file's path contains ${filters.map((f) => JSON.stringify(f)).join(" or ")}`);
  process.exit(1);
}
// Three files at a time: many tests wait on the kernel or on child processes, so the default (one per CPU
// beyond the first: one on a 2-CPU machine) leaves the machine idle for much of the run (on 2 CPUs, two at a time
// took 299 s, three 274 s).
const args = ["--import", "tsx", "--import", `data:text/javascript,${encodeURIComponent(register)}`, "--test", "--test-concurrency=3", "--test-reporter=spec", ...files];
const result = spawnSync(process.execPath, args, { stdio: "inherit" });
process.exit(result.status ?? 1);
