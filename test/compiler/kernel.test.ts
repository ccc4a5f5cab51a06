// Kernel acceptance: compiled examples must pass the running kernel's verifier, one program at a
// time through bpf(BPF_PROG_LOAD) (with `.rodata` as a frozen read-only array map, as libbpf does),
// with the object's BTF func and line info, and as a whole object through `bpftool prog loadall`
// (libbpf's own object loader), whose translated dump must carry the TypeScript source lines.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile, type CompileResult } from "../../compiler/index.js";
import { PseudoLd, encode } from "../../compiler/isa/index.js";
import { BpfLoadError, LogLevel, MapFlag, MapType, ProgType, missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { Session } from "../../runtime/loader/index.js";

const sys = openSys();
const noKernel = missingRoot() ?? missingBpf(sys);
const noBpftool = spawnSync("bpftool", ["version"]).status === 0 ? undefined : "bpftool is not installed";

const EXAMPLES = ["examples/unlink.ts", "examples/unlink-tracepoint.ts"];
const PROG_TYPES = { kprobe: ProgType.KPROBE, kretprobe: ProgType.KPROBE, uprobe: ProgType.KPROBE, uretprobe: ProgType.KPROBE, usdt: ProgType.KPROBE, tracepoint: ProgType.TRACEPOINT, profile: ProgType.PERF_EVENT, interval: ProgType.PERF_EVENT, software: ProgType.PERF_EVENT, hardware: ProgType.PERF_EVENT, begin: ProgType.RAW_TRACEPOINT, end: ProgType.RAW_TRACEPOINT };

function compiled(path: string): CompileResult {
  const r = compile(path);
  assert.deepEqual(r.diagnostics, [], `${path} does not compile`);
  return r;
}

/** Loads every program of a compiled file, each with `.rodata` as a frozen map; returns the verifier logs. */
function loadEach(r: CompileResult): void {
  let rodataFd: number | undefined;
  try {
    if (r.rodata.length) {
      rodataFd = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: r.rodata.length, maxEntries: 1, flags: MapFlag.RDONLY_PROG, name: ".rodata" });
      sys.mapUpdate(rodataFd, new Uint8Array(4), r.rodata);
      sys.mapFreeze(rodataFd);
    }
    for (const p of r.programs) {
      const insns = p.insns.map((i) => ({ ...i }));
      for (const { insn } of p.relocations) {
        // What libbpf does for a `.rodata` relocation: map fd in slot 0, offset in slot 1.
        insns[insn + 1]!.imm = insns[insn]!.imm;
        insns[insn] = { ...insns[insn]!, src: PseudoLd.MAP_VALUE, imm: rodataFd! };
      }
      try {
        // A rawTracepoint() (tp_btf) program loads only for its BTF hook: test/compiler/raw-tracepoints.test.ts runs those.
        if (!(p.kind in PROG_TYPES)) assert.fail(`${p.section}: loaded here only as raw instructions, which a ${p.kind} program cannot be`);
        const { fd } = sys.progLoad({ type: PROG_TYPES[p.kind as keyof typeof PROG_TYPES], insns: encode(insns), license: r.license, name: p.name.slice(0, 15) });
        sys.close(fd);
      } catch (error) {
        if (error instanceof BpfLoadError) assert.fail(`${p.section} (${p.name}) was rejected:\n${error.log}`);
        throw error;
      }
    }
  } finally {
    if (rodataFd !== undefined) sys.close(rodataFd);
  }
}

for (const path of EXAMPLES) {
  test(`${path}: every program passes the kernel's verifier`, { skip: noKernel }, () => {
    const r = compiled(path);
    assert.ok(r.programs.length > 0);
    loadEach(r);
  });
}

test("constant conditions leave no unreachable code: the kernel loads the program", { skip: noKernel }, () => {
  const r = compiled("test/compiler/fixtures/constant-conditions.ts");
  assert.equal(r.programs.length, 1);
  loadEach(r);
});

test("printk with more than three values goes through bpf_trace_vprintk and loads", { skip: noKernel }, () => {
  const r = compile({
    fileName: "vprintk.ts",
    text: [
      'import { kprobe, printk, pidTgid, uidGid, ktimeNs, smpProcessorId, prandomU32, type u32 } from "tsbpf";',
      'export const license = "GPL";',
      "export const p = kprobe(\"do_unlinkat\", (dfd: u32) => {",
      "  printk(`${pidTgid() >> 32} ${uidGid() & 0xffffffff} ${ktimeNs()} ${smpProcessorId()} ${prandomU32()} ${dfd} 100%`);",
      "});",
    ].join("\n"),
  });
  assert.deepEqual(r.diagnostics, []);
  loadEach(r);
});

test("with the object's BTF, func info and line info load too, and the verifier log quotes the TypeScript", { skip: noKernel }, () => {
  const r = compiled("examples/unlink.ts");
  const btfFd = sys.btfLoad({ data: r.btf }).fd;
  let rodataFd: number | undefined;
  try {
    rodataFd = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: r.rodata.length, maxEntries: 1, flags: MapFlag.RDONLY_PROG });
    sys.mapUpdate(rodataFd, new Uint8Array(4), r.rodata);
    sys.mapFreeze(rodataFd);
    for (const p of r.programs) {
      const insns = p.insns.map((i) => ({ ...i }));
      for (const { insn } of p.relocations) {
        insns[insn + 1]!.imm = insns[insn]!.imm;
        insns[insn] = { ...insns[insn]!, src: PseudoLd.MAP_VALUE, imm: rodataFd };
      }
      const { fd, log } = sys.progLoad({ type: ProgType.KPROBE, insns: encode(insns), license: r.license, btfFd, funcInfo: p.funcInfo, lineInfo: p.lineInfo, logLevel: LogLevel.INSNS });
      sys.close(fd);
      assert.match(log, /; printk\(`KPROBE (ENTRY|EXIT)/, `${p.name}: the verifier log does not show the source line:\n${log}`);
    }
  } finally {
    if (rodataFd !== undefined) sys.close(rodataFd);
    sys.close(btfFd);
  }
});

test("bpftool prog loadall accepts the objects (libbpf's loader, .rodata relocations)", { skip: noKernel ?? noBpftool }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-obj-"));
  try {
    for (const path of EXAMPLES) {
      const r = compiled(path);
      const object = join(dir, "probe.bpf.o");
      writeFileSync(object, r.object);
      const pins = `/sys/fs/bpf/tsbpf-test-${process.pid}`;
      try {
        execFileSync("bpftool", ["prog", "loadall", object, pins], { stdio: ["ignore", "pipe", "pipe"] });
        assert.deepEqual(readdirSync(pins).sort(), r.programs.map((p) => p.name).sort());
        // libbpf loaded the BTF too: the translated program carries the TypeScript lines.
        const dump = execFileSync("bpftool", ["prog", "dump", "xlated", "pinned", join(pins, r.programs[0]!.name), "linum"], { encoding: "utf8" });
        assert.match(dump, new RegExp(`\\[file:${path.replace(/[.]/g, "\\.")} line_num:\\d+`), dump);
      } catch (error) {
        const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
        assert.fail(`bpftool prog loadall ${path} failed:\n${stderr || String(error)}`);
      } finally {
        rmSync(pins, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const NESTED = {
  fileName: "nested.ts",
  text: [
    'import { kprobe, printk, currentTask, type Ptr, type Str, type u32 } from "tsbpf";',
    'import type { sock, task_struct } from "tsbpf/kernel";',
    'export const license = "GPL";',
    'export const connect = kprobe("tcp_connect", (sk: Ptr<sock>, i: u32) => {',
    "  printk(`family ${sk.__sk_common.skc_family} daddr ${sk.__sk_common.skc_v6_daddr.in6_u.u6_addr32[3]} ${sk.__sk_common.skc_v6_daddr.in6_u.u6_addr32[i]}`);",
    "  return 0;",
    "});",
    'export const fork = kprobe("wake_up_new_task", (task: Ptr<task_struct>) => {',
    "  const comm: Str<16> = task.comm;",
    "  printk(`new task ${comm} flags ${task.thread_info.flags}`);",
    // The current task's parent, and a struct (mm_struct) reached through a pointer without an import.
    "  printk(`by ${currentTask().real_parent.tgid}, ${task.mm.total_vm} pages`);",
    "  return 0;",
    "});",
  ].join("\n"),
};

for (const backend of ["own", "llvm"] as const) {
  test(`${backend} backend: BPF_PROG_LOAD accepts reads of sk.__sk_common.skc_family, task.comm and an in6_addr word by index`, { skip: noKernel }, () => {
    const r = compile(NESTED, { backend });
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(r.programs.map((p) => p.name), ["connect", "fork"]);
    loadEach(r);
  });
}

test("bpftool prog loadall (libbpf's CO-RE) resolves the multi-level relocations of nested reads and tcpretrans", { skip: noKernel ?? noBpftool }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-obj-"));
  try {
    for (const r of [compile(NESTED), compiled("examples/tcpretrans.ts")]) {
      assert.deepEqual(r.diagnostics, []);
      const object = join(dir, "probe.bpf.o");
      writeFileSync(object, r.object);
      const pins = `/sys/fs/bpf/tsbpf-test-nested-${process.pid}`;
      try {
        execFileSync("bpftool", ["prog", "loadall", object, pins], { stdio: ["ignore", "pipe", "pipe"] });
        assert.deepEqual(readdirSync(pins).sort(), r.programs.map((p) => p.name).sort());
      } catch (error) {
        const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
        assert.fail(`bpftool prog loadall ${r.source.fileName} failed:\n${stderr || String(error)}`);
      } finally {
        rmSync(pins, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the bench's own probe (bench/probes/unlink-parent.ts: a CO-RE read) compiles and loads", { skip: noKernel }, async () => {
  const r = compiled("bench/probes/unlink-parent.ts");
  const session = new Session(sys);
  try {
    assert.deepEqual([...session.load(r.object, { name: "unlink_parent" }).programs.keys()], ["unlinkat"]);
  } finally {
    await session.close();
  }
});
