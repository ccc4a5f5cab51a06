// Runs every test/**/*.test.ts, examples/**/*.test.ts and tools/**/*.test.ts with node's own test runner (TypeScript
// through tsx). Extra arguments narrow the run to files whose path contains one of them.
// Files that need no process of their own run several to a process (a group: one entry file importing them), since
// a process's start with tsx, and TypeScript's load for the many that compile, cost more than most files' tests.
// The example and tool tests import "tsbpf/test" as a user's tests do. The package's exports point at dist/,
// so a resolve hook sends tsbpf/test to the sources here: the tests need no build and test this tree.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
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

// Files that keep a process of their own: those that hold kernel objects, tracefs instances or probes across their
// tests (one file's leftovers or attachments must not reach another's checks), and those that test what a process
// loads or register node:test hooks at their top level (which would apply to a whole group's process).
const ALONE_DIRS = ["test/e2e/", "test/loader/", "test/loader-streams/", "test/sys/", "test/diff/", "test/package/"];
const ALONE = new Set(["test/compiler/code-cache.test.ts", "test/compiler/bundle.test.ts"]);
const alone = (file) => ALONE_DIRS.some((d) => file.startsWith(d)) || ALONE.has(file) || LONGEST.includes(file);
// Up to this many files of one directory share a process: enough to pay for its start many times over, few enough
// that the last groups to run do not leave a CPU idle at the end.
const GROUP_SIZE = 8;

const groupDir = mkdtempSync(join(tmpdir(), "tsbpf-test-groups-"));
process.on("exit", () => rmSync(groupDir, { recursive: true, force: true }));
// A terminal's Ctrl-C reaches the test runner too: it stops, and then this process removes the entries as it exits.
process.on("SIGINT", () => {});
const byDir = new Map();
for (const file of files.filter((f) => !alone(f))) {
  const dir = file.slice(0, file.lastIndexOf("/"));
  byDir.set(dir, [...(byDir.get(dir) ?? []), file]);
}
const groups = [];
for (const [dir, members] of byDir) {
  for (let i = 0; i < members.length; i += GROUP_SIZE) groups.push(writeGroup(dir, i / GROUP_SIZE, members.slice(i, i + GROUP_SIZE)));
}
/** An entry file that imports its members in turn; one that fails to load is reported as a failed test, and the rest still run. */
function writeGroup(dir, index, members) {
  const lines = ['import { test } from "node:test";'];
  for (const file of members) {
    const url = JSON.stringify(pathToFileURL(resolve(file)).href);
    lines.push(`try { await import(${url}); } catch (error) { test(${JSON.stringify(`loading ${file}`)}, () => { throw error; }); }`);
  }
  const entry = join(groupDir, `${dir.replaceAll("/", "-")}-${index + 1}.test.mjs`);
  writeFileSync(entry, `${lines.join("\n")}\n`);
  return entry;
}
const runs = [...files.filter((f) => LONGEST.includes(f)), ...groups, ...files.filter((f) => alone(f) && !LONGEST.includes(f))];
// Three files at a time: many tests wait on the kernel or on child processes, so the default (one per CPU
// beyond the first: one on a 2-CPU machine) leaves the machine idle for much of the run (on 2 CPUs, two at a time
// took 299 s, three 274 s).
const args = ["--import", "tsx", "--import", `data:text/javascript,${encodeURIComponent(register)}`, "--test", "--test-concurrency=3", "--test-reporter=spec", ...runs];
const result = spawnSync(process.execPath, args, { stdio: "inherit" });
process.exit(result.status ?? 1);
