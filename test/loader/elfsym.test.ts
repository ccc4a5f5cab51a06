// Finding a uprobe's binary and symbol: what a missing symbol is told, for a stripped executable and for a library, and
// a directory or an offset past the end explained before the kernel refuses them with EINVAL.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bareFileOffset, resolveBinary, symbolFileOffset } from "../../runtime/loader/elfsym.js";

test("a function missing from a stripped executable is explained by the stripping; from a library, or with a near name, it is not", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-elfsym-"));
  try {
    const exe = join(dir, "tool");
    copyFileSync("/bin/true", exe);
    try {
      execFileSync("strip", [exe]);
    } catch {
      return t.skip("strip is missing");
    }
    assert.throws(() => symbolFileOffset(exe, "tsbpf_not_exported"), {
      message: `no function tsbpf_not_exported in the symbol tables of ${exe} (it is stripped: only the functions it exports are left; probe one of those, or a build with symbols)`,
    });
    const lib = join(dir, "libtool.so.1");
    copyFileSync(exe, lib);
    assert.throws(() => symbolFileOffset(lib, "tsbpf_not_exported"), { message: `no function tsbpf_not_exported in the symbol tables of ${lib}` });
    writeFileSync(join(dir, "not-elf"), "text");
    assert.throws(() => symbolFileOffset(join(dir, "not-elf"), "main"), { message: `${join(dir, "not-elf")} is not an ELF file` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a directory named as a uprobe's binary, or an offset past the binary's end or outside its code, is explained rather than left to the kernel's EINVAL", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-elfsym-"));
  try {
    assert.throws(() => resolveBinary(dir), { message: `${dir} is a directory, not a binary` });
    const lib = resolveBinary("libc.so.6");
    assert.throws(() => symbolFileOffset(lib, "malloc", 1 << 30), { message: new RegExp(`^malloc\\+${1 << 30} lies past the end of malloc, which is \\d+ bytes long: an offset must fall inside the function`) });
    assert.throws(() => bareFileOffset(lib, statSync(lib).size + 16), { message: new RegExp(`^0x[0-9a-f]+ lies beyond the end of ${lib} \\(${statSync(lib).size} bytes\\)$`) });
    // The ELF header is in the file but in no executable segment: the kernel would refuse it with ENOEXEC.
    assert.throws(() => bareFileOffset(lib, 0x10), { message: new RegExp(`^0x10 is not in the code of ${lib}, whose executable segments hold file offsets 0x[0-9a-f]+\\.\\.0x[0-9a-f]+.* \\(a bare number is a file offset, as libbpf reads it\\)$`) });
    const malloc = symbolFileOffset(lib, "malloc", 0);
    assert.equal(bareFileOffset(lib, malloc), malloc);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a versioned name, as libbpf takes it (getppid@@GLIBC_2.2.5), finds the function in a library's dynamic symbols", () => {
  const libc = resolveBinary("libc.so.6");
  const plain = symbolFileOffset(libc, "getppid");
  assert.equal(symbolFileOffset(libc, "getppid@@GLIBC_2.2.5"), plain);
  assert.equal(symbolFileOffset(libc, "getppid@GLIBC_2.2.5"), plain);
  assert.throws(() => symbolFileOffset(libc, "tsbpf_no_such@@GLIBC_2.2.5"), /no function tsbpf_no_such@@GLIBC_2\.2\.5 in the symbol tables/);
});

test("a function with two versions: a bare name is the default version, a versioned name that version (checked against readelf)", (t) => {
  const libc = resolveBinary("libc.so.6");
  const r = spawnSync("readelf", ["--dyn-syms", "-W", libc], { encoding: "utf8" });
  if (r.status !== 0) return t.skip("readelf is not installed");
  // readelf's spelling: realpath@@GLIBC_2.3 (the default) and realpath@GLIBC_2.2.5 (hidden, kept for old programs).
  // (memcpy@@GLIBC_2.14 is an indirect function, probed where it resolves to: test/loader/ifunc.test.ts.)
  const address = (name: string) => {
    const m = new RegExp(`^\\s*\\d+: ([0-9a-f]+) .* ${name.replace(/[.]/g, "\\.")}$`, "m").exec(r.stdout);
    return m ? BigInt(`0x${m[1]}`) : undefined;
  };
  let checked = 0;
  for (const [fn, old, current] of [
    ["realpath", "GLIBC_2.2.5", "GLIBC_2.3"],
    ["pthread_cond_wait", "GLIBC_2.2.5", "GLIBC_2.3.2"],
  ] as const) {
    const oldAddress = address(`${fn}@${old}`);
    const currentAddress = address(`${fn}@@${current}`);
    if (oldAddress === undefined || currentAddress === undefined) continue;
    const plain = symbolFileOffset(libc, fn);
    assert.equal(symbolFileOffset(libc, `${fn}@@${current}`), plain, fn);
    assert.equal(symbolFileOffset(libc, `${fn}@${current}`), plain, fn);
    // Both in libc's text segment: their file offsets lie as far apart as their addresses.
    assert.equal(BigInt(symbolFileOffset(libc, `${fn}@${old}`) - plain), oldAddress - currentAddress, fn);
    assert.throws(() => symbolFileOffset(libc, `${fn}@GLIBC_0.0`), new RegExp(`no function ${fn}@GLIBC_0\\.0 in the symbol tables`));
    checked++;
  }
  if (!checked) t.skip("this libc has none of the versioned functions looked for");
});

test("an offset past its function's end is refused; a bare number that is a non-PIE executable's address names the file offset to write", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-elfsym-"));
  try {
    writeFileSync(join(dir, "np.c"), "__attribute__((noinline)) int small(int x) { return x + 1; }\nint main(int c, char **v) { return small(c); }\n");
    const built = spawnSync("gcc", ["-O2", "-no-pie", "-fno-pie", "-o", join(dir, "np"), join(dir, "np.c")], { encoding: "utf8" });
    if (built.status !== 0) return t.skip("gcc cannot build a non-PIE executable here");
    const exe = join(dir, "np");
    const readelf = spawnSync("readelf", ["-sW", exe], { encoding: "utf8" });
    const sym = /^\s*\d+: ([0-9a-f]+)\s+(\d+) FUNC .* small$/m.exec(readelf.stdout);
    if (!sym) return t.skip("readelf is missing");
    const [address, size] = [Number.parseInt(sym[1]!, 16), Number(sym[2])];
    const start = symbolFileOffset(exe, "small");
    assert.throws(() => symbolFileOffset(exe, "small", size), { message: `small+${size} lies past the end of small, which is ${size} bytes long: an offset must fall inside the function, at the start of one of its instructions` });
    // 0x401136-style addresses lie past a small file's end: the same place, as a file offset.
    assert.ok(address > statSync(exe).size);
    assert.throws(() => bareFileOffset(exe, address), {
      message: `0x${address.toString(16)} lies beyond the end of ${exe} (${statSync(exe).size} bytes); it is an address of the file, at file offset 0x${start.toString(16)}: write that (a bare number is a file offset, as libbpf reads it)`,
    });
    assert.equal(bareFileOffset(exe, start), start);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an offset inside an instruction is refused (its breakpoint would change the program); one that starts an instruction is taken", (t) => {
  if (process.arch !== "x64") return t.skip("x86-64's variable-length instructions");
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-elfsym-"));
  try {
    // A 10-byte movabs first: the probe's int3 at magic+4 would overwrite a byte of its immediate.
    writeFileSync(join(dir, "imm.c"), '__attribute__((noinline)) unsigned long magic(void) { unsigned long r; __asm__ volatile("movabs $0x1122334455667788, %0" : "=r"(r)); return r; }\nint main(void) { return (int)magic(); }\n');
    const built = spawnSync("gcc", ["-O2", "-o", join(dir, "imm"), join(dir, "imm.c")], { encoding: "utf8" });
    if (built.status !== 0) return t.skip("gcc is missing");
    const exe = join(dir, "imm");
    assert.throws(() => symbolFileOffset(exe, "magic", 4), { message: "magic+4 is inside an instruction (the one at magic+0), where a probe would change the program; give an offset that starts one (objdump -d shows them)" });
    assert.equal(symbolFileOffset(exe, "magic", 10), symbolFileOffset(exe, "magic") + 10);
    // A bare file offset inside the function is held to the same.
    const magic = symbolFileOffset(exe, "magic");
    assert.throws(() => bareFileOffset(exe, magic + 4), { message: `0x${(magic + 4).toString(16)} (magic+4) is inside an instruction (the one at magic+0), where a probe would change the program; give an offset that starts one (objdump -d shows them)` });
    assert.equal(bareFileOffset(exe, magic + 10), magic + 10);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a uprobe on an x86-64 syscall instruction is refused, by symbol offset or bare offset; the instruction after it is taken", (t) => {
  if (process.arch !== "x64") return t.skip("x86-64's syscall instruction");
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-elfsym-"));
  try {
    // getppid as libc writes it: mov $110, %eax (5 bytes); syscall (2); ret.
    writeFileSync(join(dir, "sys.c"), '__attribute__((noinline)) long parent(void) { long r; __asm__ volatile("mov $110, %%eax\\n\\tsyscall" : "=a"(r) : : "rcx", "r11", "memory"); return r; }\nint main(void) { return (int)parent(); }\n');
    const built = spawnSync("gcc", ["-O2", "-o", join(dir, "sys"), join(dir, "sys.c")], { encoding: "utf8" });
    if (built.status !== 0) return t.skip("gcc is missing");
    const exe = join(dir, "sys");
    const parent = symbolFileOffset(exe, "parent");
    const message = (shown: string, next: string) => `${shown} is a \`syscall\` instruction, and a uprobe there kills the process that runs it (SIGSEGV, on Linux 6.18): probe the instruction after it, ${next}, or the one before it`;
    assert.throws(() => symbolFileOffset(exe, "parent", 5), { message: message("parent+5", "parent+7") });
    assert.throws(() => bareFileOffset(exe, parent + 5), { message: message(`0x${(parent + 5).toString(16)} (parent+5)`, `0x${(parent + 7).toString(16)}`) });
    assert.equal(symbolFileOffset(exe, "parent", 7), parent + 7);
    assert.equal(bareFileOffset(exe, parent + 7), parent + 7);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a library's short name is looked up in the traced process's mappings first (one it loads through its rpath)", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-elfsym-"));
  let sleeper: ReturnType<typeof spawn> | undefined;
  try {
    writeFileSync(join(dir, "v.c"), "int vfunc(int x) { return x + 1; }\n");
    writeFileSync(join(dir, "main.c"), "#include <unistd.h>\nint vfunc(int);\nint main(void) { sleep(30); return vfunc(1); }\n");
    const lib = spawnSync("gcc", ["-shared", "-fPIC", "-Wl,-soname,libtsbpfv.so.1", "-o", join(dir, "libtsbpfv.so.1"), join(dir, "v.c")], { encoding: "utf8" });
    if (lib.status !== 0) return t.skip("gcc is missing");
    const exe = spawnSync("gcc", ["-o", join(dir, "main"), join(dir, "main.c"), join(dir, "libtsbpfv.so.1"), `-Wl,-rpath,${dir}`], { encoding: "utf8" });
    assert.equal(exe.status, 0, exe.stderr);
    sleeper = spawn(join(dir, "main"), { stdio: "ignore" });
    const pid = sleeper.pid!;
    // Mapped once the dynamic linker has run.
    for (let i = 0; i < 200 && !readFileSync(`/proc/${pid}/maps`, "utf8").includes("libtsbpfv.so.1"); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(resolveBinary("libtsbpfv.so.1", pid), join(dir, "libtsbpfv.so.1"));
    assert.throws(() => resolveBinary("libtsbpfv.so.1"), { message: /^cannot find shared library libtsbpfv\.so\.1 \(searched this process's mappings,/ });
  } finally {
    sleeper?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a name found on PATH as a script (a launcher such as pyenv's shims) is explained, with the binaries later on PATH", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-elfsym-"));
  const path = process.env.PATH;
  try {
    const [shims, bin, other] = ["shims", "bin", "other"].map((d) => join(dir, d));
    for (const d of [shims, bin, other]) mkdirSync(d);
    writeFileSync(join(shims, "tool"), "#!/usr/bin/env bash\nexec tool \"$@\"\n", { mode: 0o755 });
    copyFileSync("/bin/true", join(bin, "tool"));
    chmodSync(join(bin, "tool"), 0o755);
    symlinkSync(join(bin, "tool"), join(other, "tool")); // the same file again (/bin and /usr/bin): named once
    process.env.PATH = [shims, bin, other].join(":");
    assert.throws(() => resolveBinary("tool"), {
      message: `tool on PATH is ${join(shims, "tool")}, a script (#!/usr/bin/env bash), not a binary that can be probed: name the binary it runs by its path; PATH also has ${join(bin, "tool")}`,
    });
    process.env.PATH = [bin, shims].join(":");
    assert.equal(resolveBinary("tool"), join(bin, "tool"), "the first on PATH, a binary");
  } finally {
    process.env.PATH = path;
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a library named without its .so suffix, as bpftrace's uprobe:libc:malloc names it, is the libc.so.N a process maps; a name no library has says both were looked for", () => {
  assert.equal(resolveBinary("libc"), resolveBinary("libc.so.6"));
  assert.equal(resolveBinary("libc", process.pid), resolveBinary("libc.so.6", process.pid));
  assert.throws(() => resolveBinary("libtsbpf-no-such"), { message: "cannot find binary libtsbpf-no-such on PATH nor a shared library libtsbpf-no-such.so or libtsbpf-no-such.so.N" });
  assert.throws(() => resolveBinary("tsbpf-no-such"), { message: "cannot find binary tsbpf-no-such on PATH" });
});

test("a library named without its .so suffix that no process maps is found in the library directories, its versioned ELF file before a linker script", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-libdir-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "libtsbpfq.so"), "/* GNU ld script */\nINPUT(libtsbpfq.so.2)\n");
  copyFileSync(resolveBinary("libc.so.6"), join(dir, "libtsbpfq.so.2"));
  const saved = process.env.LD_LIBRARY_PATH;
  process.env.LD_LIBRARY_PATH = dir;
  t.after(() => (saved === undefined ? delete process.env.LD_LIBRARY_PATH : (process.env.LD_LIBRARY_PATH = saved)));
  assert.equal(resolveBinary("libtsbpfq"), join(dir, "libtsbpfq.so.2"));
});
