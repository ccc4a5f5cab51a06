// The process a run traces, as bpftrace's -c and -p give it: `--command CMD` starts CMD stopped, so that the
// probes are attached before its first instruction runs, and `--pid PID` names a running process. Uprobes and
// uretprobes then fire for that process alone (perf's pid filter follows it across exec), and the run stops when it
// exits. A command still running when the run ends is ended with it; one never resumed is killed.
import { accessSync, closeSync, constants, openSync, readFileSync, readSync, statSync, writeSync } from "node:fs";
import { constants as os } from "node:os";
import { delimiter, join } from "node:path";
import { UserError } from "./exit-codes.js";
import { execStub } from "./exec-stub.js";
import { native } from "../runtime/sys/native.js";
import { Poll } from "../runtime/sys/constants.js";
import { openSys } from "../runtime/sys/kernel.js";
import type { Sys } from "../runtime/sys/sys.js";
import { isMappedFile, parseMaps, type MapsEntry } from "../runtime/loader/usymbolize.js";

export interface Target {
  pid: number;
  /** The command line or "process PID", for messages. */
  name: string;
  /** The started command's executable (whose build id user stack frames may name); nothing for --pid. */
  program?: string;
  /** Lets a command started stopped run; nothing for --pid. */
  resume(): void;
  /** Resolves once the process has exited, with a sentence saying how. */
  readonly exited: Promise<string>;
  /** Ends a started command that is still running (SIGTERM once resumed, else SIGKILL); nothing for --pid. */
  release(): void;
  /** Set before `exited` resolves when the command could not be executed (the exec stub's report): the usage error. */
  cannotExecute?: UserError;
}

/**
 * Splits a command line into words as sh does for a simple command: blanks separate words, '...' is literal,
 * "..." keeps its blanks (backslash escapes " \ $ ` there), a backslash outside quotes escapes the next character.
 * Shell operators, expansions and patterns are refused: the command runs without a shell, so that its pid is its own.
 */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === " " || c === "\t" || c === "\n") {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new UserError(`--command: unterminated ' in ${line}`);
      word = (word ?? "") + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      word ??= "";
      for (i++; line[i] !== '"'; i++) {
        if (i >= line.length) throw new UserError(`--command: unterminated " in ${line}`);
        if (line[i] === "\\" && '"\\$`'.includes(line[i + 1] ?? "")) i++;
        word += line[i];
      }
    } else if (c === "\\") {
      word = (word ?? "") + (line[++i] ?? "");
    } else if ("|&;<>()$`*?".includes(c) || (c === "~" && word === undefined)) {
      throw new UserError(`--command runs one program without a shell, so ${c} is not understood in ${line}; put a pipeline or redirection in a script and run that`);
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== undefined) words.push(word);
  if (words.length === 0) throw new UserError("--command is empty");
  return words;
}

/** The executable a command word names: a path as given, else the first match in $PATH. */
function findExecutable(word: string): string {
  const candidates = word.includes("/") ? [word] : (process.env.PATH ?? "/usr/bin:/bin").split(delimiter).map((d) => join(d || ".", word));
  for (const path of candidates) {
    try {
      // A directory passes X_OK too (the shell then fails to exec it, after the probes are attached).
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {
      // not there, or not executable
    }
  }
  throw new UserError(`--command: ${word} is ${word.includes("/") ? "not an executable file" : "not a command found in $PATH"}`);
}

/** What an execve error means for a command, in words (with the code). */
const EXEC_ERRORS: Record<string, string> = {
  ENOEXEC: "it is not an executable: neither a binary for this machine nor a script with a #! line (ENOEXEC)",
  ENOENT: "the interpreter it names (in its #! line, or an ELF binary's program interpreter) does not exist (ENOENT)",
  EACCES: "permission denied (EACCES: not executable, or on a file system mounted noexec)",
  ELOOP: "too many levels of #! interpreters or symbolic links (ELOOP)",
  ETXTBSY: "it is open for writing (ETXTBSY)",
};

function cannotExecute(program: string, code: string, why = EXEC_ERRORS[code] ?? code): UserError {
  return new UserError(`--command: cannot execute ${program}: ${why}`);
}

/** The most of a file's start that execve reads to tell its format (BINPRM_BUF_SIZE), and its #! nesting limit. */
const BINPRM_BUF_SIZE = 256;
const MAX_INTERPRETERS = 4;

/**
 * Why execve would refuse `program`, told from its first bytes before anything is attached: not an ELF binary and
 * no #! line (ENOEXEC), or a #! interpreter that is not there (ENOENT) or not executable (EACCES). Undefined when it
 * looks executable (or cannot be read): the stub's report then says what the exec itself found.
 */
function execProblem(program: string, depth = 0): UserError | undefined {
  const head = Buffer.alloc(BINPRM_BUF_SIZE);
  let n: number;
  try {
    const fd = openSync(program, "r");
    try {
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  if (n >= 4 && head[0] === 0x7f && head.toString("latin1", 1, 4) === "ELF") return undefined;
  // A shell runs such a file as a script; execve does not.
  if (head.toString("latin1", 0, 2) !== "#!") return cannotExecute(program, "ENOEXEC", `${EXEC_ERRORS.ENOEXEC}; a shell script without one runs as -c 'sh ${program}'`);
  const line = head.toString("latin1", 2, n).split("\n")[0]!;
  const interpreter = line.trim().split(/[ \t]/)[0]!;
  if (interpreter === "") return cannotExecute(program, "ENOEXEC", "its #! line names no interpreter (ENOEXEC)");
  if (depth >= MAX_INTERPRETERS) return cannotExecute(program, "ELOOP");
  if (!statSync(interpreter, { throwIfNoEntry: false })) return cannotExecute(program, "ENOENT", `its #! line names ${interpreter}, which does not exist (ENOENT)`);
  try {
    accessSync(interpreter, constants.X_OK);
    if (!statSync(interpreter).isFile()) throw new Error("not a file");
  } catch {
    return cannotExecute(program, "EACCES", `its #! line names ${interpreter}, which is not an executable file (EACCES)`);
  }
  const nested = execProblem(interpreter, depth + 1);
  return nested && new UserError(`--command: cannot execute ${program}: its #! line names ${interpreter}, which cannot be executed either: ${nested.message.replace(/^--command: cannot execute [^:]*: /, "")}`);
}

/** The one-letter state in /proc/PID/stat ("T" stopped, "Z" exited but not reaped), or undefined once it is gone. */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2)[0];
  } catch {
    return undefined;
  }
}

/** The process a thread id belongs to (the Tgid line of /proc/ID/status), or undefined when it cannot be read. */
function processOf(id: number): number | undefined {
  try {
    const tgid = /^Tgid:\s*(\d+)$/m.exec(readFileSync(`/proc/${id}/status`, "latin1"))?.[1];
    return tgid === undefined ? undefined : Number(tgid);
  } catch {
    return undefined;
  }
}

/** How long a command given SIGTERM at the end of a run has before SIGKILL. */
const TERM_GRACE_MS = 1000;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms: number) => void Atomics.wait(sleepCell, 0, 0, ms);

/** What the command's process is called (its comm) until it execs the command. */
export const STARTER_NAME = "tsbpf-command";
const MFD_CLOEXEC = 1;
const MFD_EXEC = 0x10;
let stubPath: string | null | undefined;

/**
 * Where the exec stub (exec-stub.ts) is: a memory file this process keeps open, which a child execs through /proc
 * (a file in a temporary directory could be on a noexec mount); undefined where it cannot be made.
 */
function execStubPath(): string | undefined {
  if (stubPath === undefined) {
    stubPath = null;
    const bytes = execStub();
    try {
      const memfdCreate = native().libc.func("memfd_create", "int", ["str", "uint"]) as (name: string, flags: number) => number;
      // MFD_EXEC where the kernel knows it (6.3 on; a vm.memfd_noexec policy may ask for it), else without.
      const fd = bytes && [MFD_CLOEXEC | MFD_EXEC, MFD_CLOEXEC].map((flags) => memfdCreate("tsbpf-command", flags)).find((f) => f >= 0);
      if (bytes && fd !== undefined) {
        writeSync(fd, bytes);
        stubPath = `/proc/${process.pid}/fd/${fd}`;
      }
    } catch {
      // no FFI here: the shell stops the command instead
    }
  }
  return stubPath ?? undefined;
}

/**
 * Starts `line` stopped (the exec stub, or where there is none a shell, stops itself, then execs the program in its
 * place, keeping the pid), waits until it has stopped, and gives it as the target. `quietStdout` sends its standard
 * output to standard error (--json).
 */
export function startCommand(line: string, options: { quietStdout?: boolean } = {}): Target {
  const argv = splitCommand(line);
  const program = findExecutable(argv[0]!);
  const problem = execProblem(program);
  if (problem) throw problem;
  // node:child_process only here: loading it (with net, streams and dgram) costs every run ~5 ms at start.
  const { spawn } = process.getBuiltinModule("node:child_process") as typeof import("node:child_process");
  const stdio: import("node:child_process").StdioOptions = ["inherit", options.quietStdout ? process.stderr.fd : "inherit", "inherit"];
  const stub = execStubPath();
  // fd 3: where the stub reports a failed exec (exec-stub.ts).
  let child = stub === undefined ? undefined : spawn(stub, [program, ...argv.slice(1)], { stdio: [...stdio, "pipe"], argv0: STARTER_NAME });
  if (child?.pid === undefined) {
    child?.on("error", () => {}); // the stub could not be run: the shell's spawn below says what fails
    child = spawn("/bin/sh", ["-c", 'kill -STOP $$ && exec "$@"', "sh", program, ...argv.slice(1)], { stdio });
  }
  const pid = child.pid;
  if (pid === undefined) throw new UserError(`--command: cannot start ${argv[0]}`);
  const report: Buffer[] = [];
  child.stdio[3]?.on("data", (chunk: Buffer) => report.push(chunk));
  let target: Target;
  // "close": after the exit and the end of fd 3, so that the stub's report has been read.
  const exited = new Promise<string>((resolve) =>
    child.on("close", (code, signal) => {
      const errno = report.length ? Buffer.concat(report) : undefined;
      if (errno?.length === 4) {
        const number = errno.readInt32LE(0);
        const name = Object.entries(os.errno).find(([, n]) => n === number)?.[0] ?? `errno ${number}`;
        target.cannotExecute = cannotExecute(program, name);
      }
      resolve(signal ? `${line} was ended by ${signal}` : `${line} exited with status ${code}`);
    }),
  );
  let resumed = false;
  let running = true;
  let terminated = false;
  void exited.then(() => (running = false));
  for (let waited = 0; processState(pid) !== "T"; waited++) {
    const state = processState(pid);
    if (state === undefined || state === "Z" || waited >= 5000) {
      child.kill("SIGKILL");
      throw new UserError(`--command: ${line} did not start`);
    }
    sleep(1);
  }
  target = {
    pid,
    name: line,
    program,
    exited,
    resume() {
      resumed = true;
      process.kill(pid, "SIGCONT");
    },
    // SIGTERM first (a command may clean up); one that ignores it is killed a second later, or at once when released
    // again (the run exiting now: a second Ctrl-C), so that it never outlives the run.
    release() {
      if (!running || child.exitCode !== null || child.signalCode !== null) return;
      if (!resumed || terminated) return void child.kill("SIGKILL");
      terminated = true;
      child.kill("SIGTERM");
      setTimeout(() => running && child.kill("SIGKILL"), TERM_GRACE_MS).unref();
    },
  };
  return target;
}

/**
 * A running process named by --pid; the run stops when it exits (checked every 100 ms). Through a pidfd (Linux 5.3),
 * which names that very process, whatever reuses its id, and is polled without opening a file: a read of
 * /proc/PID/stat, the fallback, is an open the run's own probes see (tools/opensnoop.ts -p listed ten a second).
 */
export function existingProcess(pid: number, sys: Pick<Sys, "pidfdOpen" | "poll" | "close"> = openSys()): Target {
  if (!Number.isInteger(pid) || pid <= 0) throw new UserError(`--pid must be a process id (a positive integer), not ${pid}`);
  if (processState(pid) === undefined) throw new UserError(`--pid: there is no process ${pid}`);
  // /proc lists threads too: a thread's id would pass here, then match no targetPid() filter and no uprobe_multi link.
  const tgid = processOf(pid);
  if (tgid !== undefined && tgid !== pid) throw new UserError(`--pid: ${pid} is a thread of process ${tgid}; give the process's id (-p ${tgid})`);
  let pidfd: number | undefined;
  try {
    pidfd = sys.pidfdOpen(pid);
  } catch {
    // A kernel before 5.3 (ENOSYS), or a process gone meanwhile (ESRCH): /proc says which.
  }
  const gone = (): boolean => {
    if (pidfd !== undefined) return (sys.poll([{ fd: pidfd, events: Poll.IN }], 0)[0]! & Poll.IN) !== 0;
    const state = processState(pid);
    return state === undefined || state === "Z";
  };
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise<string>((resolve) => {
    timer = setInterval(() => {
      if (!gone()) return;
      clearInterval(timer);
      resolve(`process ${pid} exited`);
    }, 100);
  });
  const release = () => {
    clearInterval(timer);
    if (pidfd !== undefined) sys.close(pidfd);
    pidfd = undefined;
  };
  return { pid, name: `process ${pid}`, exited, resume() {}, release };
}

/**
 * Of `files`, those process `pid` maps no part of (by device and inode, or by path, as /proc/PID/maps names them):
 * a uprobe there sees none of its calls unless it loads the file later (dlopen). None when the maps cannot be read.
 */
export function filesNotMapped(pid: number, files: readonly string[]): string[] {
  let maps: MapsEntry[];
  try {
    maps = parseMaps(readFileSync(`/proc/${pid}/maps`, "latin1")).filter((m) => m.inode !== 0n);
  } catch {
    return [];
  }
  return files.filter((file) => {
    try {
      const st = statSync(file, { bigint: true });
      return !maps.some((m) => isMappedFile(st, m) || m.path === file);
    } catch {
      return false;
    }
  });
}
