// `npm run bench -- compile`: tsbpf's compiler beside clang on every example that has a C
// equivalent in bench/c/ (libbpf style, written for this benchmark). Takes the built CLI (dist/,
// `npm run build` first), clang-19, bpftool and libbpf's headers (/usr/include/bpf); gives two
// tables: instructions per program (ours, ours through the LLVM backend, clang's -O2, ratios) and the
// wall time of one cold process compiling the file (median of ROUNDS), as ratios to clang's. The
// LLVM backend's column (`compile --backend llvm`: tsbpf's frontend, then opt-19/llc-19) is cold.
//
// Instruction counts are slots (an LDDW is two, as the kernel counts), read from both objects with
// compiler/elf. "Cold" runs `node dist/cli/tsbpf.cjs compile` with an empty TSBPF_CACHE_DIR (nothing
// cached by earlier runs; the installation's code caches, which `npm run build` writes into
// dist/.cache, are used); "warm" keeps a cache directory that one untimed run filled. clang gets
// vmlinux.h generated once, up front, into a temp dir with `bpftool btf dump file
// /sys/kernel/btf/vmlinux format c` (the full header, as libbpf tools use it). -D__TARGET_ARCH_x86
// is what BPF_KPROBE needs to find pt_regs.

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { arch, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readBpfObject } from "../compiler/elf/index.js";
import type { BenchTable } from "./run.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const MAIN = join(ROOT, "dist/cli/tsbpf.cjs");
const CLANG = "clang-19";
const ROUNDS = 9;
const TARGET_ARCH: Record<string, string> = { x64: "x86", arm64: "arm64" };

/** Where <asm/errno.h> is, which libbpf's usdt.bpf.h includes (Debian keeps the kernel's asm headers per architecture). */
const ASM_INCLUDE = ["-I", `/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`];

/** Examples with a C equivalent: examples/NAME.ts beside bench/c/NAME.bpf.c. */
const EXAMPLES = ["unlink", "unlink-tracepoint", "unlink-uprobe", "tcpretrans", "python-usdt"];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/**
 * The environment of a timed process: ours, without NODE_EXTRA_CA_CERTS (set machine-wide on the development
 * machine, it makes every Node process parse a CA bundle as it starts, ~0.2 s that is no part of tsbpf).
 */
function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const all = { ...process.env, ...env };
  delete all.NODE_EXTRA_CA_CERTS;
  return all;
}

/** Wall time of one process, in seconds; throws with its stderr when it fails. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd: ROOT, env: childEnv(env), encoding: "utf8" });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  return seconds;
}

/** Slots per program (by symbol name) of a BPF object. */
/** Slots per program as the kernel gets it: with the BPF-to-BPF functions it calls (clang's `bpf_usdt_arg`). */
function slots(path: string): Map<string, number> {
  const obj = readBpfObject(new Uint8Array(readFileSync(path)));
  const byName = new Map(obj.subprograms.map((s) => [s.name, s]));
  const size = (p: (typeof obj.programs)[number], seen = new Set<string>()): number => {
    let n = p.insns.length;
    for (const r of p.relocations) {
      const callee = r.kind === "call" ? byName.get(r.symbol) : undefined;
      if (callee && !seen.has(callee.name)) n += size(callee, seen.add(callee.name));
    }
    return n;
  };
  return new Map(obj.programs.map((p) => [p.name, size(p)]));
}

const fmt = (s: number) => s.toFixed(3);
const ratio = (a: number, b: number) => (a / b).toFixed(2);

export default async function (): Promise<BenchTable[]> {
  const missing = [
    existsSync(MAIN) ? undefined : `${MAIN} (run npm run build)`,
    spawnSync(CLANG, ["--version"]).status === 0 ? undefined : CLANG,
    spawnSync("bpftool", ["version"]).status === 0 ? undefined : "bpftool",
    existsSync("/usr/include/bpf/bpf_helpers.h") ? undefined : "libbpf headers in /usr/include/bpf",
    existsSync("/sys/kernel/btf/vmlinux") ? undefined : "/sys/kernel/btf/vmlinux",
  ].filter(Boolean);
  if (missing.length) return [{ title: "Compiler vs clang (skipped)", columns: ["missing"], rows: missing.map((m) => [m!]) }];

  const dir = mkdtempSync(join(tmpdir(), "tsbpf-compile-bench-"));
  try {
    writeFileSync(join(dir, "vmlinux.h"), execFileSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"], { maxBuffer: 1 << 30 }));
    const warmCache = join(dir, "warm-cache");
    const insnRows: (string | number)[][] = [];
    const timeRows: (string | number)[][] = [];
    let coldRun = 0;
    for (const name of EXAMPLES) {
      const ts = join(ROOT, "examples", `${name}.ts`);
      const c = join(ROOT, "bench/c", `${name}.bpf.c`);
      const ours = join(dir, `${name}.tsbpf.o`);
      const theirs = join(dir, `${name}.clang.o`);
      const viaLlvm = join(dir, `${name}.llvm.o`);
      const tsbpfArgs = [MAIN, "compile", ts, "-o", ours];
      const llvmArgs = [MAIN, "compile", ts, "--backend", "llvm", "-o", viaLlvm];
      const clangArgs = ["-O2", "-g", "-target", "bpf", `-D__TARGET_ARCH_${TARGET_ARCH[arch()] ?? "x86"}`, "-I", dir, ...ASM_INCLUDE, "-c", c, "-o", theirs];

      // Untimed: fills the warm cache and produces the objects.
      timed(process.execPath, tsbpfArgs, { TSBPF_CACHE_DIR: warmCache });
      timed(CLANG, clangArgs);
      timed(process.execPath, llvmArgs, { TSBPF_CACHE_DIR: warmCache });
      const ourSlots = slots(ours);
      const clangSlots = slots(theirs);
      const llvmSlots = slots(viaLlvm);
      let ourTotal = 0;
      let clangTotal = 0;
      let llvmTotal = 0;
      for (const [prog, n] of ourSlots) {
        const theirsN = clangSlots.get(prog);
        if (theirsN === undefined) throw new Error(`${c} has no program ${prog}`);
        const llvmN = llvmSlots.get(prog)!;
        ourTotal += n;
        clangTotal += theirsN;
        llvmTotal += llvmN;
        insnRows.push([`${name}: ${prog}`, n, llvmN, theirsN, ratio(n, theirsN), ratio(llvmN, theirsN)]);
      }
      if (ourSlots.size > 1) insnRows.push([`${name}: all`, ourTotal, llvmTotal, clangTotal, ratio(ourTotal, clangTotal), ratio(llvmTotal, clangTotal)]);

      // Interleaved rounds, so load on the machine hits every column alike.
      const cold: number[] = [];
      const warm: number[] = [];
      const clang: number[] = [];
      const llvmCold: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const empty = join(dir, `cold-cache-${coldRun++}`);
        cold.push(timed(process.execPath, tsbpfArgs, { TSBPF_CACHE_DIR: empty }));
        warm.push(timed(process.execPath, tsbpfArgs, { TSBPF_CACHE_DIR: warmCache }));
        clang.push(timed(CLANG, clangArgs));
        llvmCold.push(timed(process.execPath, llvmArgs, { TSBPF_CACHE_DIR: join(dir, `cold-cache-${coldRun++}`) }));
      }
      const [mc, mw, mk, ml] = [median(cold), median(warm), median(clang), median(llvmCold)];
      timeRows.push([name, fmt(mk), fmt(mc), ratio(mc, mk), fmt(mw), ratio(mw, mk), fmt(ml), ratio(ml, mk)]);
    }
    return [
      {
        title: "Compiler vs clang: instructions per program (slots; LDDW = 2)",
        columns: ["program", "tsbpf", "tsbpf --backend llvm", "clang-19 -O2", "tsbpf / clang", "llvm / clang"],
        rows: insnRows,
      },
      {
        title: `Compiler vs clang: wall time of one cold process (median of ${ROUNDS}, seconds)`,
        columns: ["example", "clang-19 -O2 -g", "tsbpf cold", "cold / clang", "tsbpf warm", "warm / clang", "tsbpf --backend llvm cold", "llvm cold / clang"],
        rows: timeRows,
        notes: [
          "tsbpf: node dist/cli/tsbpf.cjs compile X.ts -o X.o; cold = empty TSBPF_CACHE_DIR (only the code caches npm run build wrote into dist/.cache), warm = the user's cache filled by an earlier run; NODE_EXTRA_CA_CERTS unset.",
          "clang: clang-19 -O2 -g -target bpf -c X.bpf.c with the full vmlinux.h from bpftool and libbpf's headers.",
          "tsbpf --backend llvm: node dist/cli/tsbpf.cjs compile --backend llvm X.ts -o X.o with an empty TSBPF_CACHE_DIR (the frontend as in tsbpf cold, then the module through opt-19 and llc-19).",
        ],
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
