// --command and --pid (cli/target.ts): how a command line is split, which values are refused and how, and the
// started command's life: stopped until resumed, its exit reported, never outliving the run. Needs no root.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { existingProcess, filesNotMapped, splitCommand, startCommand } from "../../cli/target.js";
import { parseTarget } from "../../cli/stream-options.js";
import { UserError } from "../../cli/exit-codes.js";
import { SysError, openSys } from "../../runtime/sys/index.js";

const state = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2)[0];
  } catch {
    return undefined;
  }
};

/** Runs `body` with a fresh temporary directory, removed after it. */
async function withTempDir(body: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-target-"));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

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

  it("that execve would refuse is a usage error before anything starts: no #! line, a missing or unrunnable #! interpreter", () =>
    withTempDir((dir) => {
      const file = (name: string, text: string | Uint8Array) => {
        const path = join(dir, name);
        writeFileSync(path, text, { mode: 0o755 });
        return path;
      };
      const noShebang = file("no-shebang.sh", "echo hi\n");
      const cases: [string, string][] = [
        [noShebang, `cannot execute ${noShebang}: it is not an executable: neither a binary for this machine nor a script with a #! line (ENOEXEC); a shell script without one runs as -c 'sh ${noShebang}'`],
        [file("bytes", Uint8Array.from([0x13, 0x37, 0, 1, 2, 3])), "(ENOEXEC)"],
        [file("empty", ""), "(ENOEXEC)"],
        [file("bare.sh", "#!\necho hi\n"), "its #! line names no interpreter (ENOEXEC)"],
        [file("missing.sh", "#!/nonexistent/interp -x\necho hi\n"), "its #! line names /nonexistent/interp, which does not exist (ENOENT)"],
        [file("dir.sh", `#!${dir}\n`), `its #! line names ${dir}, which is not an executable file (EACCES)`],
        [file("nested.sh", `#!${noShebang}\n`), `its #! line names ${noShebang}, which cannot be executed either: it is not an executable`],
      ];
      for (const [path, why] of cases) {
        assert.throws(() => startCommand(`${path} arg`), (e: unknown) => e instanceof UserError && e.message.startsWith(`--command: cannot execute ${path}: `) && e.message.includes(why), path);
      }
    }));

  it("whose exec fails once resumed (an ELF file that is no executable) says why through the starter, not as a status 127", () =>
    withTempDir(async (dir) => {
      const object = join(dir, "object.o");
      // An ELF header's start: the check before the start lets it through; execve refuses it (ENOEXEC).
      writeFileSync(object, Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, ...new Array(57).fill(0)]), { mode: 0o755 });
      const target = startCommand(object);
      target.resume();
      await target.exited;
      assert.equal(target.cannotExecute?.message, `--command: cannot execute ${object}: it is not an executable: neither a binary for this machine nor a script with a #! line (ENOEXEC)`);
      const ran = startCommand("true");
      ran.resume();
      assert.equal(await ran.exited, "true exited with status 0");
      assert.equal(ran.cannotExecute, undefined);
      // A command's own status 127 is its own.
      const script = join(dir, "exits-127");
      writeFileSync(script, "#!/bin/sh\nexit 127\n", { mode: 0o755 });
      const own = startCommand(script);
      own.resume();
      assert.equal(await own.exited, `${script} exited with status 127`);
      assert.equal(own.cannotExecute, undefined);
    }));

  it("is a file: a directory is refused before the probes attach", () => {
    assert.throws(() => startCommand(tmpdir()), (e: unknown) => e instanceof UserError && e.message === `--command: ${tmpdir()} is not an executable file`);
  });
});

/** The methods existingProcess() calls, bound to `sys`, to be replaced one at a time. */
const bind = (sys: ReturnType<typeof openSys>) => ({ pidfdOpen: sys.pidfdOpen.bind(sys), poll: sys.poll.bind(sys), close: sys.close.bind(sys) });

describe("--pid", () => {
  it("follows a running process and says when it has exited", async () => {
    const sleeper = startCommand("sleep 0.2");
    const target = existingProcess(sleeper.pid);
    assert.equal(target.name, `process ${sleeper.pid}`);
    sleeper.resume();
    assert.equal(await target.exited, `process ${sleeper.pid} exited`);
  });

  it("waits on a pidfd, which it closes at release, and on /proc where the kernel has no pidfd_open", async () => {
    const link = (fd: string) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return undefined; // the directory's own fd, closed once listed
      }
    };
    const pidfds = () => readdirSync("/proc/self/fd").filter((fd) => link(fd) === "anon_inode:[pidfd]").length;
    for (const sys of [openSys(), { ...bind(openSys()), pidfdOpen: () => { throw new SysError("pidfd_open", 38); } }]) {
      const sleeper = startCommand("sleep 0.2");
      try {
        // (The command's own process may hold one: Node's spawn does where libuv has pidfds.)
        const before = pidfds();
        const target = existingProcess(sleeper.pid, sys);
        assert.equal(pidfds(), before + (sys === openSys() ? 1 : 0), "a pidfd is open while it waits, where there is one");
        sleeper.resume();
        assert.equal(await target.exited, `process ${sleeper.pid} exited`);
        // Counted once the process has exited (whatever the command's own handle then holds), around the release alone.
        const waiting = pidfds();
        target.release();
        assert.equal(pidfds(), waiting - (sys === openSys() ? 1 : 0), "the release closes the pidfd");
      } finally {
        sleeper.release();
      }
    }
  });

  it("tells the probed files a process does not map from those it maps, under any path to them", async () => {
    const sleeper = spawn("sleep", ["5"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => sleeper.once("spawn", resolve));
      // The exec has happened once the maps name sleep's own file.
      const sleep = realpathSync(execFileSync("sh", ["-c", "command -v sleep"], { encoding: "utf8" }).trim());
      for (let i = 0; i < 100 && !readFileSync(`/proc/${sleeper.pid}/maps`, "latin1").includes(sleep); i++) await new Promise((r) => setTimeout(r, 10));
      const libc = readFileSync(`/proc/${sleeper.pid}/maps`, "latin1").split("\n").map((l) => l.slice(l.indexOf("/"))).find((p) => /\/libc\.so\.6$/.test(p));
      assert.ok(libc, "sleep maps libc");
      const viaLink = existsSync(`/lib/${libc.split("/").slice(-2).join("/")}`) ? `/lib/${libc.split("/").slice(-2).join("/")}` : libc;
      const other = realpathSync(process.execPath); // node's binary, which sleep does not map
      assert.deepEqual(filesNotMapped(sleeper.pid!, [sleep, libc, viaLink, other]), [other]);
      assert.deepEqual(filesNotMapped(2 ** 22 + 1, [other]), [], "no maps to read: nothing said");
    } finally {
      sleeper.kill("SIGKILL");
    }
  });
});
