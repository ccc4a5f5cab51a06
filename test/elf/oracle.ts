// Test helpers: LLVM tools as oracles, fixture compilation and a private bpffs for load tests.
// Takes fixture names and object paths; gives compiled objects, parsed llvm-readelf JSON and
// a function that runs a callback with a freshly mounted (and afterwards unmounted) bpffs.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

/** An installed LLVM/BPF tool's path, or undefined. */
export function tool(name: string): string | undefined {
  for (const dir of ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"]) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

export const CLANG = tool("clang-19");
export const READELF = tool("llvm-readelf-19");
export const OBJDUMP = tool("llvm-objdump-19");
export const BPFTOOL = tool("bpftool");

export function run(cmd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20 });
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + (r.error ? String(r.error) : "") };
}

export function mustRun(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export const tempDir = (): string => mkdtempSync(join(tmpdir(), "tsbpf-elf-"));
export const removeDir = (dir: string): void => rmSync(dir, { recursive: true, force: true });

/** Compiles `fixtures/<name>.bpf.c` with clang-19 into `dir`; returns the object path. */
export function compileFixture(name: string, dir: string, target = "bpf", extra: string[] = ["-g"]): string {
  if (!CLANG) throw new Error("clang-19 is missing");
  const out = join(dir, `${name}.${target}.o`);
  mustRun(CLANG, ["-O2", ...extra, "-target", target, "-c", join(FIXTURES, `${name}.bpf.c`), "-o", out]);
  return out;
}

export const readBytes = (path: string): Uint8Array => new Uint8Array(readFileSync(path));

// Shapes of the llvm-readelf JSON output used by the tests.
export interface ReadelfSection {
  Index: number;
  Name: { Name: string; Value: number };
  Type: { Value: number };
  Flags: { Value: number };
  Offset: number;
  Size: number;
  Link: number;
  Info: number;
  AddressAlignment: number;
  EntrySize: number;
}
export interface ReadelfSymbol {
  Name: { Name: string; Value: number };
  Value: number;
  Size: number;
  Binding: { Value: number };
  Type: { Value: number };
  Other: { Value: number };
  Section: { Name: string; Value: number };
}
export interface ReadelfRelocation {
  Offset: number;
  Type: { Name: string; Value: number };
  Symbol: { Name: string; Value: number };
}
export interface Readelf {
  sections: ReadelfSection[];
  symbols: ReadelfSymbol[];
  relocations: { SectionIndex: number; Relocs: { Relocation: ReadelfRelocation }[] }[];
}

/** `llvm-readelf-19 -S -s -r` in JSON. */
export function readelf(path: string): Readelf {
  if (!READELF) throw new Error("llvm-readelf-19 is missing");
  const [doc] = JSON.parse(mustRun(READELF, ["--elf-output-style=JSON", "-S", "-s", "-r", path])) as [
    { Sections?: { Section: ReadelfSection }[]; Symbols?: { Symbol: ReadelfSymbol }[]; Relocations?: Readelf["relocations"] },
  ];
  return {
    sections: (doc.Sections ?? []).map((s) => s.Section),
    symbols: (doc.Symbols ?? []).map((s) => s.Symbol),
    relocations: doc.Relocations ?? [],
  };
}

/** Slots per function from `llvm-objdump-19 -d`: function name -> [first slot, slot count]. */
export function objdumpFunctions(path: string): Map<string, { section: string; first: number; slots: number }> {
  if (!OBJDUMP) throw new Error("llvm-objdump-19 is missing");
  const out = mustRun(OBJDUMP, ["-d", path]);
  const fns = new Map<string, { section: string; first: number; slots: number }>();
  let section = "";
  let current: { section: string; first: number; slots: number } | undefined;
  for (const line of out.split("\n")) {
    const sec = /^Disassembly of section (.*):$/.exec(line);
    if (sec) section = sec[1]!;
    const fn = /^[0-9a-f]+ <(.*)>:$/.exec(line);
    if (fn) {
      current = { section, first: -1, slots: 0 };
      fns.set(fn[1]!, current);
    }
    const insn = /^\s+(\d+):\t([0-9a-f ]+)\t/.exec(line);
    if (insn && current) {
      if (current.first < 0) current.first = Number(insn[1]);
      current.slots += insn[2]!.trim().split(/ +/).length / 8;
    }
  }
  return fns;
}

/**
 * Runs `fn` with a bpffs mounted on a fresh temp dir, then removes pins and unmounts.
 * Returns a reason string instead when that is impossible here (not root, no bpffs).
 */
export function withBpffs(fn: (dir: string) => void): string | undefined {
  if (!BPFTOOL) return "bpftool is missing";
  if (process.getuid?.() !== 0) return "loading needs root";
  const dir = tempDir();
  const mounted = run("mount", ["-t", "bpf", "bpf", dir]);
  if (mounted.status !== 0) {
    removeDir(dir);
    return `cannot mount bpffs: ${mounted.stderr.trim()}`;
  }
  try {
    fn(dir);
  } finally {
    // Pins keep programs alive; unlink them (not the kernel's *.debug iterators) before unmounting.
    for (const name of readdirSync(dir)) if (!name.endsWith(".debug")) rmSync(join(dir, name), { recursive: true, force: true });
    run("umount", [dir]);
    removeDir(dir);
  }
  return undefined;
}
