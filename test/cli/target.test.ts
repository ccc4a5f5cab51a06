// --command and --pid (cli/target.ts): how a command line is split, which values are refused and how, and the
// started command's life: stopped until resumed, its exit reported, never outliving the run. Needs no root.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { existingProcess, splitCommand, startCommand } from "../../cli/target.js";
import { parseTarget } from "../../cli/stream-options.js";
import { UserError } from "../../cli/exit-codes.js";

const state = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2)[0];
  } catch {
    return undefined;
  }
};

describe("--command", () => {
  it("splits words as sh does for a simple command: quotes, escapes, blanks", () => {
    assert.deepEqual(splitCommand("rm -f /tmp/a  /tmp/b"), ["rm", "-f", "/tmp/a", "/tmp/b"]);
    assert.deepEqual(splitCommand(`echo 'a b' "c \\"d\\" $" e\\ f ''`), ["echo", "a b", 'c "d" $', "e f", ""]);
    assert.deepEqual(splitCommand("ls a~b"), ["ls", "a~b"]);
  });

  it("refuses what only a shell would understand, and empty or unterminated lines, as usage errors", () => {
    for (const [line, what] of [
      ["ls | wc", /\| is not understood in ls \| wc; put a pipeline or redirection in a script/],
      ["echo $HOME", /\$ is not understood/],
      ["ls *.ts", /\* is not understood/],
      ["ls ~", /~ is not understood/],
      ["a; b", /; is not understood/],
      ["   ", /--command is empty/],
      ["echo 'a", /unterminated ' in echo 'a/],
      ['echo "a', /unterminated " in echo "a/],
    ] as const) {
      assert.throws(() => splitCommand(line), (e: unknown) => e instanceof UserError && what.test(e.message), line);
    }
  });

  it("is given with --pid at most: both, a repeated one, or a pid that is no process id are usage errors", () => {
    assert.deepEqual(parseTarget({ command: "ls" }), { command: "ls" });
    assert.deepEqual(parseTarget({ pid: 42 }), { pid: 42 });
    assert.equal(parseTarget({}), undefined);
    assert.throws(() => parseTarget({ command: "ls", pid: 1 }), /give --command or --pid, not both/);
    assert.throws(() => parseTarget({ pid: [1, 2] }), /one value each/);
    for (const pid of [0, -3, 1.5, Number.NaN]) assert.throws(() => parseTarget({ pid }), /--pid must be a process id/);
    assert.throws(() => existingProcess(2 ** 22 + 1), /--pid: there is no process 4194305/);
    // A thread's id is in /proc too (Node's V8 threads are this process's).
    const thread = readdirSync("/proc/self/task").map(Number).find((t) => t !== process.pid)!;
    assert.throws(() => existingProcess(thread), new RegExp(`--pid: ${thread} is a thread of process ${process.pid}; give the process's id \\(-p ${process.pid}\\)`));
    assert.throws(() => startCommand("no-such-command-here x"), /no-such-command-here is not a command found in \$PATH/);
    assert.throws(() => startCommand("./no/such/file"), /\.\/no\/such\/file is not an executable file/);
  });

  it("starts the command stopped, runs it once resumed (same pid), and says how it exited", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-target-"));
    try {
      const file = join(dir, "victim");
      writeFileSync(file, "x");
      const target = startCommand(`rm ${file}`);
      assert.equal(state(target.pid), "T", "stopped before the probes attach");
      assert.ok(existsSync(file));
      target.resume();
      assert.equal(await target.exited, `rm ${file} exited with status 0`);
      assert.equal(existsSync(file), false);
      const failing = startCommand(`rm ${file}`);
      failing.resume();
      assert.equal(await failing.exited, `rm ${file} exited with status 1`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("never outlives the run: released before resuming it is killed, after resuming it is terminated", async () => {
    const stopped = startCommand("sleep 60");
    stopped.release();
    assert.equal(await stopped.exited, "sleep 60 was ended by SIGKILL");
    const running = startCommand("sleep 60");
    running.resume();
    running.release();
    assert.equal(await running.exited, "sleep 60 was ended by SIGTERM");
  });

  it("one that ignores SIGTERM is killed a second later, or at once when released again (the run exiting now)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-target-"));
    try {
      const stubborn = join(dir, "stubborn");
      writeFileSync(stubborn, "#!/bin/sh\ntrap '' TERM\nkill -STOP $$\nexec sleep 60\n");
      chmodSync(stubborn, 0o755);
      for (const again of [false, true]) {
        const target = startCommand(stubborn);
        target.resume();
        // Resumed, the script stops itself once its trap is set: the SIGTERM then meets the trap.
        for (let i = 0; i < 500 && state(target.pid) !== "T"; i++) await new Promise((r) => setTimeout(r, 10));
        target.release();
        process.kill(target.pid, "SIGCONT");
        if (again) target.release();
        assert.equal(await target.exited, `${stubborn} was ended by SIGKILL`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is a file: a directory is refused before the probes attach", () => {
    assert.throws(() => startCommand(tmpdir()), (e: unknown) => e instanceof UserError && e.message === `--command: ${tmpdir()} is not an executable file`);
  });
});

describe("--pid", () => {
  it("follows a running process and says when it has exited", async () => {
    const sleeper = startCommand("sleep 0.2");
    const target = existingProcess(sleeper.pid);
    assert.equal(target.name, `process ${sleeper.pid}`);
    sleeper.resume();
    assert.equal(await target.exited, `process ${sleeper.pid} exited`);
  });
});
