// README.md's synopsis of the command line against the commands' own --help: every option a command takes is in
// its synopsis line, so the README does not fall behind the code, and every option a synopsis line names is one the
// command takes; and `run --help` says `-` reads standard input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CLI } from "../support/cli.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const COMMANDS = ["run", "load", "compile", "verify", "btf", "list", "exec", "disasm"];

const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
/** `tsbpf CMD --help` of every command (test/support/cli.ts), all started at once. */
const helps = new Map(
  COMMANDS.map((c) => [c, promisify(execFile)(process.execPath, [...CLI, c, "--help"], { cwd: ROOT, encoding: "utf8", env, timeout: 60_000 }).then((r) => r.stdout)]),
);
const help = (command: string): Promise<string> => helps.get(command)!;

/** The synopsis block's lines for a command (verify has two). */
function synopsis(command: string): string {
  const readme = readFileSync(`${ROOT}README.md`, "utf8");
  const block = /## The command line\n\n```\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, "README.md has a synopsis block under \"## The command line\"");
  return block.split("\n").filter((l) => l.startsWith(`tsbpf ${command} `)).join("\n");
}

test("README's synopsis names every option each command takes (in its long or short form, --no-X for a default-on flag)", async () => {
  for (const command of COMMANDS) {
    const line = synopsis(command);
    assert.ok(line, `a synopsis line for tsbpf ${command}`);
    // yargs indents an option 2 spaces (with a short alias) or 6; wrapped descriptions are indented further.
    const options = [...(await help(command)).matchAll(/^ {2,6}(?:-(\w), )?--([a-z][a-z-]*)/gm)];
    assert.ok(options.length > 2, `tsbpf ${command} --help lists its options`);
    for (const m of options) {
      const [, short, long] = m;
      if (long === "help" || long === "version") continue;
      const named = [`--${long}`, `--no-${long}`, ...(short ? [`-${short}`] : [])].some((o) => new RegExp(`(^|[\\s\\[(|])${o}(?![\\w-])`).test(line));
      assert.ok(named, `README.md's synopsis of tsbpf ${command} leaves out --${long}:\n${line}`);
    }
  }
});

test("README's synopsis names no option a command does not take", async () => {
  for (const command of COMMANDS) {
    const text = await help(command);
    const taken = new Set([...text.matchAll(/^ {2,6}(?:-(\w), )?--([a-z][a-z-]*)/gm)].flatMap(([, short, long]) => [`--${long}`, `--no-${long}`, ...(short ? [`-${short}`] : [])]));
    // Options in the synopsis line, not its trailing comment: `-o -` and `[-c CMD | -p PID]` name -o, -c and -p.
    const named = synopsis(command).split("\n").flatMap((l) => [...l.replace(/\s+#.*$/, "").matchAll(/(?<=^|[\s\[(|])(--?[a-z][a-z-]*)/g)].map((m) => m[1]!));
    assert.ok(named.length > 0, `the synopsis of tsbpf ${command} names options`);
    for (const option of named) assert.ok(taken.has(option), `README.md's synopsis of tsbpf ${command} names ${option}, which tsbpf ${command} --help does not list`);
  }
});

test("run --help says that a file named - is read from standard input", async () => {
  assert.match((await help("run")).replace(/\s+/g, " "), /file the probe file \(\.ts\); - reads it from standard input/);
});
