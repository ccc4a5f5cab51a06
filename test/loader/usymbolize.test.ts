// Naming user-space addresses as bpftrace names ustack frames: a gcc-built program (PIE and -no-pie) and its shared
// library named from their symbol tables, libc from its own, a stack address in hex; the names kept once the process
// has exited; a stripped build named from .dynsym or from its debug file found by build id; a program in a mount
// namespace of its own named through /proc/PID/root; maps lines parsed; files that are not the one mapped (another
// inode, deleted, not ELF, cut short) and unknown pids all give hex.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserSymbolizer, parseMaps, parsePerfMap } from "../../runtime/loader/usymbolize.js";

const LIBRARY = `int lib_twice(int x) { return x * 2; }\n`;

// Calls into itself and the library, then prints where its functions, libc's getpid, main's caller and a stack
// variable are, and waits on stdin so the test can look at it while it lives.
const PROGRAM = `#include <stdio.h>
#include <unistd.h>
int lib_twice(int x);
__attribute__((noinline)) int leaf(int x) { return x + 1; }
__attribute__((noinline)) static int mid(int x) { return leaf(x) * 3; }
int main(void) {
  int local = mid(lib_twice(1));
  printf("leaf %p\\nmid %p\\nlib_twice %p\\ngetpid %p\\ncaller %p\\nstack %p\\n", (void *)leaf, (void *)mid, (void *)lib_twice,
         (void *)getpid, __builtin_return_address(0), (void *)&local);
  fflush(stdout);
  char c;
  return (int)read(0, &c, 1) + local * 0;
}
`;

const namespaceSkip: string | false =
  process.getuid?.() !== 0 ? "a mount namespace needs root" : spawnSync("unshare", ["-m", "true"]).status !== 0 ? "unshare -m is refused here" : false;

/** A build id the stripped program is linked with, so the test knows where its debug file goes. */
const BUILD_ID = "7573796d626f6c697a65727465737421";

const toolsSkip: string | false =
  spawnSync("gcc", ["--version"]).status !== 0
    ? "gcc is missing"
    : spawnSync("strip", ["--version"]).status !== 0 || spawnSync("objcopy", ["--version"]).status !== 0
      ? "strip or objcopy (binutils) is missing"
      : false;

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
}

/**
 * Builds in `dir`: plain/ (libusym.so, `pie`, `nopie`, with symbols) and stripped/ (libusym.so and `prog`, built with
 * -rdynamic so leaf is exported, both stripped; prog's debug file under debug/.build-id/).
 */
function build(dir: string): void {
  for (const sub of ["plain", "stripped"]) {
    const at = join(dir, sub);
    mkdirSync(at);
    writeFileSync(join(at, "lib.c"), LIBRARY);
    writeFileSync(join(at, "prog.c"), PROGRAM);
    run("gcc", ["-O0", "-shared", "-fPIC", "-o", join(at, "libusym.so"), join(at, "lib.c")]);
  }
  const link = (at: string, out: string, ...flags: string[]) => run("gcc", ["-O0", ...flags, "-o", join(at, out), join(at, "prog.c"), `-L${at}`, "-lusym", `-Wl,-rpath,${at}`]);
  link(join(dir, "plain"), "pie");
  link(join(dir, "plain"), "nopie", "-no-pie");
  const stripped = join(dir, "stripped");
  link(stripped, "prog.full", "-rdynamic", `-Wl,--build-id=0x${BUILD_ID}`);
  const debug = join(dir, "debug", ".build-id", BUILD_ID.slice(0, 2));
  mkdirSync(debug, { recursive: true });
  run("objcopy", ["--only-keep-debug", join(stripped, "prog.full"), join(debug, `${BUILD_ID.slice(2)}.debug`)]);
  run("strip", ["-o", join(stripped, "prog"), join(stripped, "prog.full")]);
  run("strip", [join(stripped, "libusym.so")]);
}

let builtDir: string | undefined;
after(() => builtDir && rmSync(builtDir, { recursive: true, force: true }));

/** The directory the programs are built in, once for every test here; removed when they are done. */
function programs(): string {
  if (!builtDir) {
    builtDir = mkdtempSync(join(tmpdir(), "tsbpf-usym-"));
    build(builtDir);
  }
  return builtDir;
}

interface Running {
  child: ChildProcess;
  pid: number;
  /** What the program printed: leaf, mid, lib_twice, getpid, caller, stack. */
  at: Record<string, bigint>;
  /** Ends it (stdin closed) and waits until it has exited. */
  end(): Promise<void>;
}

/** Starts `exe` (or `command` with `args`, which must exec it in the same process) and reads what it prints. */
async function start(exe: string, command = exe, args: string[] = [], lines = 6): Promise<Running> {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const text = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.split("\n").length > lines) resolve(out);
    });
    child.once("exit", (code) => reject(new Error(`${exe} exited (${code}) after printing ${JSON.stringify(out)}`)));
  });
  const at: Record<string, bigint> = {};
  for (const line of text.trim().split("\n")) {
    const [name, value] = line.split(" ");
    at[name!] = BigInt(value!);
  }
  return {
    child,
    pid: child.pid!,
    at,
    end: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}

const hex = (a: bigint): string => `0x${a.toString(16)}`;

/** Whether libc's own debug file (libc6-dbg) is installed, so its local functions have names. */
function libcDebugFileExists(pid: number): boolean {
  const libc = parseMaps(readFileSync(`/proc/${pid}/maps`, "utf8")).find((e) => /\/libc[.-]/.test(e.path));
  if (!libc) return false;
  const r = spawnSync("readelf", ["-n", libc.path], { encoding: "utf8" });
  const id = /Build ID: ([0-9a-f]+)/.exec(r.stdout ?? "")?.[1];
  return !!id && existsSync(`/usr/lib/debug/.build-id/${id.slice(0, 2)}/${id.slice(2)}.debug`);
}

test("maps lines: paths with spaces, deleted files, [vdso] and anonymous mappings", () => {
  const entries = parseMaps(
    [
      "55d5dc5e1000-55d5dc5e2000 r-xp 00001000 fe:01 2154555                    /tmp/a dir/my prog",
      "7f0000000000-7f0000001000 r-xp 00002000 103:0a 42                       /tmp/gone  twice (deleted)",
      "7f312cdf6000-7f312cdf8000 r-xp 00000000 00:00 0                          [vdso]",
      "7f312cbfb000-7f312cbfe000 rw-p 00000000 00:00 0 ",
      "not a maps line",
      "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
    ].join("\n"),
  );
  assert.deepEqual(entries, [
    { start: 0x55d5dc5e1000n, end: 0x55d5dc5e2000n, perms: "r-xp", offset: 0x1000n, major: 0xfe, minor: 1, inode: 2154555n, path: "/tmp/a dir/my prog", deleted: false },
    { start: 0x7f0000000000n, end: 0x7f0000001000n, perms: "r-xp", offset: 0x2000n, major: 0x103, minor: 0xa, inode: 42n, path: "/tmp/gone  twice", deleted: true },
    { start: 0x7f312cdf6000n, end: 0x7f312cdf8000n, perms: "r-xp", offset: 0n, major: 0, minor: 0, inode: 0n, path: "[vdso]", deleted: false },
    { start: 0x7f312cbfb000n, end: 0x7f312cbfe000n, perms: "rw-p", offset: 0n, major: 0, minor: 0, inode: 0n, path: "", deleted: false },
    { start: 0xffffffffff600000n, end: 0xffffffffff601000n, perms: "--xp", offset: 0n, major: 0, minor: 0, inode: 0n, path: "[vsyscall]", deleted: false },
  ]);
});

test("an unknown pid, a bad pid or a bad address gives hex and throws nothing", () => {
  const symbolizer = new UserSymbolizer();
  assert.equal(symbolizer.remember(0x7fffffff), false);
  assert.equal(symbolizer.symbolize(0x7fffffff, 0x401000n), "0x401000");
  assert.equal(symbolizer.symbolize(-1, 0x1234n), "0x1234");
  assert.equal(symbolizer.symbolize(Number.NaN, 0n), "0x0");
  assert.equal(symbolizer.symbolize(process.pid, -1n), "0xffffffffffffffff");
  assert.equal(new UserSymbolizer({ proc: join(tmpdir(), "tsbpf-no-such-proc") }).symbolize(process.pid, 0x1000n), "0x1000");
});

test("a PIE and a -no-pie program: their functions, the library's, libc's and a stack address, named alike before and after exit", { skip: toolsSkip }, async () => {
  const dir = programs();
  for (const exe of ["pie", "nopie"]) {
    const p = await start(join(dir, "plain", exe));
    const symbolizer = new UserSymbolizer();
    let named: string[];
    try {
      assert.equal(symbolizer.remember(p.pid), true);
      named = [
        symbolizer.symbolize(p.pid, p.at.leaf!),
        symbolizer.symbolize(p.pid, p.at.leaf! + 3n),
        symbolizer.symbolize(p.pid, p.at.mid!),
        symbolizer.symbolize(p.pid, p.at.lib_twice! + 1n),
        // libc's getpid is a weak alias of the global __getpid, as in its .dynsym and its debug file's .symtab.
        symbolizer.symbolize(p.pid, p.at.getpid!),
        symbolizer.symbolize(p.pid, p.at.stack!),
      ];
      assert.deepEqual(named, ["leaf+0", "leaf+3", "mid+0", "lib_twice+1", "__getpid+0", hex(p.at.stack!)], exe);
      if (exe === "nopie") assert.ok(p.at.leaf! < 0x1000000n, `-no-pie put leaf at its link address (${hex(p.at.leaf!)})`);
      // main returns into a local function of libc that only its debug file names.
      const caller = symbolizer.symbolize(p.pid, p.at.caller!);
      if (libcDebugFileExists(p.pid)) assert.match(caller, /^__libc_start_call_main\+\d+$/);
      else assert.equal(caller, hex(p.at.caller!));
      named.push(caller);
    } finally {
      await p.end();
    }
    assert.equal(existsSync(`/proc/${p.pid}/maps`), false, "the process has exited");
    const afterExit = ["leaf", "leaf", "mid", "lib_twice", "getpid", "stack", "caller"].map((name, i) => symbolizer.symbolize(p.pid, p.at[name]! + (i === 1 ? 3n : i === 3 ? 1n : 0n)));
    assert.deepEqual(afterExit, named, `${exe}: the kept mappings name the same frames once the process has gone`);
    // A symbolizer that never saw the process has nothing to go on.
    assert.equal(new UserSymbolizer().symbolize(p.pid, p.at.leaf!), hex(p.at.leaf!));
  }
});

test("a stripped program: exported functions named from .dynsym, static ones hex, or named from the debug file its build id finds", { skip: toolsSkip }, async () => {
  const dir = programs();
  const p = await start(join(dir, "stripped", "prog"));
  try {
    const plain = new UserSymbolizer({ debugDir: join(dir, "no-debug") });
    assert.deepEqual(
      [plain.symbolize(p.pid, p.at.leaf! + 2n), plain.symbolize(p.pid, p.at.mid!), plain.symbolize(p.pid, p.at.lib_twice!)],
      ["leaf+2", hex(p.at.mid!), "lib_twice+0"],
    );
    const withDebug = new UserSymbolizer({ debugDir: join(dir, "debug") });
    assert.deepEqual([withDebug.symbolize(p.pid, p.at.leaf! + 2n), withDebug.symbolize(p.pid, p.at.mid! + 1n)], ["leaf+2", "mid+1"]);
  } finally {
    await p.end();
  }
});

test("a mapping whose file is another inode, deleted, not ELF or cut short gives hex; every file opened is closed", { skip: toolsSkip }, async () => {
  const dir = programs();
  const p = await start(join(dir, "plain", "pie"));
  let real: string;
  try {
    real = readFileSync(`/proc/${p.pid}/maps`, "utf8");
  } finally {
    await p.end();
  }
  // A procfs of our own: the program's mappings as they were, the library's with another inode, libc's deleted.
  const lines = real.split("\n").map((line) => {
    const [entry] = parseMaps(line);
    if (entry?.path.endsWith("/libusym.so")) return line.replace(` ${entry.inode} `, ` ${entry.inode + 1n} `);
    if (entry && /\/libc[.-]/.test(entry.path)) return `${line} (deleted)`;
    return line;
  });
  const device = (path: string): string => {
    const dev = statSync(path).dev;
    const major = (dev >> 8) & 0xfff;
    const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    return `${major.toString(16).padStart(2, "0")}:${minor.toString(16).padStart(2, "0")} ${statSync(path).ino}`;
  };
  const source = join(dir, "plain", "prog.c");
  const short = join(dir, "short");
  copyFileSync(join(dir, "plain", "pie"), short);
  writeFileSync(short, readFileSync(short).subarray(0, 200));
  lines.push(`1000-2000 r-xp 00000000 ${device(source)} ${source}`, `3000-4000 r-xp 00000000 ${device(short)} ${short}`);
  const proc = join(dir, "proc");
  mkdirSync(join(proc, "4242"), { recursive: true });
  writeFileSync(join(proc, "4242", "maps"), lines.join("\n"));

  const fds = readdirSync("/proc/self/fd").length;
  const symbolizer = new UserSymbolizer({ proc });
  assert.equal(symbolizer.remember(4242), true);
  assert.deepEqual(
    [p.at.leaf!, p.at.lib_twice!, p.at.getpid!, 0x1010n, 0x3010n].map((a) => symbolizer.symbolize(4242, a)),
    ["leaf+0", hex(p.at.lib_twice!), hex(p.at.getpid!), "0x1010", "0x3010"],
  );
  assert.equal(readdirSync("/proc/self/fd").length, fds, "no file descriptor is left open");
});

test("the library's functions are named in a second process of the same binary too", { skip: toolsSkip }, async () => {
  const dir = programs();
  const symbolizer = new UserSymbolizer();
  for (const exe of ["pie", "nopie"]) {
    const p = await start(join(dir, "plain", exe));
    try {
      assert.equal(symbolizer.symbolize(p.pid, p.at.lib_twice!), "lib_twice+0", exe);
    } finally {
      await p.end();
    }
  }
});

test("a program in a mount namespace of its own: its file read through /proc/PID/root, and its names kept once it exits", { skip: toolsSkip || namespaceSkip }, async () => {
  const dir = programs();
  // A tmpfs only the program's namespace sees, at a directory that is empty in ours.
  const mountpoint = join(dir, "private");
  mkdirSync(mountpoint, { recursive: true });
  const exe = join(mountpoint, "pie");
  const script = `mount -t tmpfs tmpfs ${mountpoint} && cp ${join(dir, "plain", "pie")} ${exe} && exec ${exe}`;
  const p = await start(exe, "unshare", ["-m", "--propagation", "private", "sh", "-c", script]);
  // One only remembers the process while it lives, the other names an address then.
  const remembering = new UserSymbolizer();
  const naming = new UserSymbolizer();
  try {
    assert.equal(existsSync(exe), false, "the program's file is not at its path here");
    assert.equal(remembering.remember(p.pid), true);
    assert.equal(naming.symbolize(p.pid, p.at.leaf! + 1n), "leaf+1");
  } finally {
    await p.end();
  }
  assert.deepEqual([remembering.symbolize(p.pid, p.at.mid!), remembering.symbolize(p.pid, p.at.lib_twice!)], ["mid+0", "lib_twice+0"], "named from the tables read when it was remembered");
  assert.equal(naming.symbolize(p.pid, p.at.mid!), "mid+0");
});

test("a build id frame (a file's build id and an offset in it) is named from the file with that build id, after its process has gone", { skip: toolsSkip }, async () => {
  const dir = programs();
  const p = await start(join(dir, "stripped", "prog"));
  const offsetOf = (address: bigint): bigint => {
    const m = parseMaps(readFileSync(`/proc/${p.pid}/maps`, "utf8")).find((e) => address >= e.start && address < e.end)!;
    return address - m.start + m.offset;
  };
  const leaf = offsetOf(p.at.leaf!);
  const mid = offsetOf(p.at.mid!);
  await p.end();
  // As the kernel gives it: 20 bytes, a shorter id zero-padded.
  const id = BUILD_ID.padEnd(40, "0");
  // The program is in no library directory or PATH: not found until given.
  const unknown = new UserSymbolizer({ debugDir: join(dir, "debug") });
  assert.equal(unknown.symbolizeBuildId(id, leaf), `${hex(leaf)} (build id ${id})`);
  unknown.addFiles([join(dir, "plain", "pie"), join(dir, "stripped", "prog")]);
  assert.deepEqual([unknown.symbolizeBuildId(id, leaf + 2n), unknown.symbolizeBuildId(id, mid + 1n)], ["leaf+2", "mid+1"]);
  // Without its debug file, a static function is not named: the offset and the file.
  const stripped = new UserSymbolizer({ debugDir: join(dir, "no-debug") });
  stripped.addFiles([join(dir, "stripped", "prog")]);
  assert.equal(stripped.symbolizeBuildId(id, mid), `${hex(mid)} (${join(dir, "stripped", "prog")})`);
  // A stray address below the file's mapping, which the kernel gives as a negative offset into it.
  assert.equal(stripped.symbolizeBuildId(id, BigInt.asUintN(64, -0x5000n)), "[unknown]");
  // libc, found among the library directories by its build id.
  const libc = parseMaps(readFileSync("/proc/self/maps", "utf8")).find((e) => /\/libc[.-]/.test(e.path) && e.perms[2] === "x");
  const libcId = libc && /Build ID: ([0-9a-f]+)/.exec(spawnSync("readelf", ["-n", libc.path], { encoding: "utf8" }).stdout ?? "")?.[1];
  if (libc && libcId) {
    const nm = /^([0-9a-f]+) \w getpid(?:@@\S+)?$/m.exec(spawnSync("nm", ["-D", "--defined-only", libc.path], { encoding: "utf8" }).stdout ?? "");
    const getpid = nm ? BigInt(`0x${nm[1]}`) : 0n;
    assert.ok(getpid > 0n, "getpid in libc's dynamic symbols");
    // Where getpid's address lies in the file: through libc's executable segment (vaddr - p_vaddr + p_offset).
    const segments = spawnSync("readelf", ["-lW", libc.path], { encoding: "utf8" }).stdout;
    const load = [...segments.matchAll(/LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+R E/g)][0]!;
    const fileOffset = getpid - BigInt(load[2]!) + BigInt(load[1]!);
    assert.match(new UserSymbolizer().symbolizeBuildId(libcId, fileOffset), /^(__)?getpid\+0$/);
  }
});

test("an unnamed build id frame of an executable that is not position-independent shows the address addr2line takes, not the file offset", { skip: toolsSkip }, () => {
  const dir = programs();
  const plain = join(dir, "plain", "nopie");
  const stripped = join(dir, "plain", "nopie.stripped");
  run("strip", ["-o", stripped, plain]);
  const id = /Build ID: ([0-9a-f]+)/.exec(spawnSync("readelf", ["-n", stripped], { encoding: "utf8" }).stdout)?.[1];
  assert.ok(id, "gcc gave the program a build id");
  const mid = BigInt(`0x${/^([0-9a-f]+) t mid$/m.exec(spawnSync("nm", [plain], { encoding: "utf8" }).stdout)![1]}`);
  const load = [...spawnSync("readelf", ["-lW", plain], { encoding: "utf8" }).stdout.matchAll(/LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+R E/g)][0]!;
  const fileOffset = mid - BigInt(load[2]!) + BigInt(load[1]!);
  assert.notEqual(fileOffset, mid, "the program is loaded away from 0");
  const symbolizer = new UserSymbolizer({ debugDir: join(dir, "no-debug") });
  symbolizer.addFiles([stripped]);
  // (it showed the file offset, which addr2line -e nopie reads as another address)
  assert.equal(symbolizer.symbolizeBuildId(id, fileOffset), `${hex(mid)} (${stripped})`);
});

test("code no file holds (a JIT's) is named from the process's /tmp/perf-PID.map, also after it has gone", async () => {
  assert.deepEqual(parsePerfMap("7f0000001000 40 JS:*old a.js:1\n7f0000001000 80 JS:*fib a.js:1\nnot a line\n7f0000002000 10 Builtin:Add\n"), {
    starts: [0x7f0000001000, 0x7f0000002000],
    sizes: [0x80, 0x10],
    names: ["JS:*fib a.js:1", "Builtin:Add"],
  });
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const map = `/tmp/perf-${child.pid}.map`;
  try {
    // An address in no mapping of sleep's: code a JIT would have made.
    writeFileSync(map, "7f0000001000 80 JS:*fib a.js:1\n");
    const u = new UserSymbolizer();
    assert.equal(u.symbolize(child.pid!, 0x7f0000001010n), "JS:*fib a.js:1+16");
    assert.equal(u.symbolize(child.pid!, 0x7f0000001080n), "0x7f0000001080");
    // The runtime appends as it compiles more.
    writeFileSync(map, "7f0000001000 80 JS:*fib a.js:1\n7f0000003000 20 JS:*main a.js:5\n");
    assert.equal(u.symbolize(child.pid!, 0x7f0000003001n), "JS:*main a.js:5+1");
    child.kill();
    await exited;
    assert.equal(new UserSymbolizer().symbolize(child.pid!, 0x7f0000001010n), "JS:*fib a.js:1+16");
  } finally {
    child.kill();
    rmSync(map, { force: true });
  }
});

test("C++ functions are named demangled, as bpftrace names them (binutils' c++filt)", { skip: spawnSync("g++", ["--version"]).status !== 0 ? "g++ is missing" : spawnSync("c++filt", ["--version"]).status !== 0 ? "c++filt is missing" : false }, async () => {
  const { demangle } = await import("../../runtime/loader/demangle.js");
  assert.equal(demangle("_ZN4node23WorkerThreadsTaskRunnerC2Ei"), "node::WorkerThreadsTaskRunner::WorkerThreadsTaskRunner(int)");
  assert.equal(demangle("main"), "main");
  assert.equal(demangle("_Znot-a-name"), "_Znot-a-name");
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-cxx-"));
  try {
    writeFileSync(join(dir, "p.cc"), `#include <cstdio>
#include <unistd.h>
namespace app { __attribute__((noinline)) int leaf(int x) { return x + 1; } }
int main() {
  std::printf("leaf %p\\n", (void *)app::leaf);
  std::fflush(stdout);
  char c;
  return (int)read(0, &c, 1) + app::leaf(1) * 0;
}
`);
    run("g++", ["-O1", "-o", join(dir, "p"), join(dir, "p.cc")]);
    const p = await start(join(dir, "p"), join(dir, "p"), [], 1);
    try {
      assert.equal(new UserSymbolizer().symbolize(p.pid, p.at.leaf! + 2n), "app::leaf(int)+2");
    } finally {
      await p.end();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
