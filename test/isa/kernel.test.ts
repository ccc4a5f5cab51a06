// Pins the kernel-style disassembly against the running kernel's verifier log.
// Takes programs that together use every instruction kind the verifier accepts in a socket
// filter; loads each with BPF_PROG_LOAD at log_level 2 and compares every `N: (op) text`
// line of the log with `disassemble(..., { style: "kernel" })`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import koffi from "koffi";
import {
  Op,
  PseudoCall,
  PseudoLd,
  assemble,
  disassemble,
  encode,
  isWide,
  type Insn,
} from "../../compiler/isa/index.js";
import { everyForm, kind } from "./forms.js";

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : "needs root for bpf()";

const SYS_BPF = 321;
const BPF_MAP_CREATE = 0;
const BPF_PROG_LOAD = 5;
const BPF_MAP_TYPE_ARRAY = 2;
const BPF_PROG_TYPE_SOCKET_FILTER = 1;

interface Bpf {
  syscall: (nr: number, cmd: number, attr: Buffer, size: number) => number | bigint;
  close: (fd: number) => number;
}
let bpf: Bpf | undefined;
function sys(): Bpf {
  if (!bpf) {
    const libc = koffi.load("libc.so.6");
    bpf = {
      syscall: libc.func("long syscall(long nr, int cmd, void *attr, unsigned int size)"),
      close: libc.func("int close(int fd)"),
    };
  }
  return bpf;
}

function createArrayMap(): number {
  // union bpf_attr, BPF_MAP_CREATE: map_type, key_size, value_size, max_entries (u32 each).
  const attr = Buffer.alloc(72);
  attr.writeUInt32LE(BPF_MAP_TYPE_ARRAY, 0);
  attr.writeUInt32LE(4, 4);
  attr.writeUInt32LE(8, 8);
  attr.writeUInt32LE(1, 12);
  const fd = Number(sys().syscall(SYS_BPF, BPF_MAP_CREATE, attr, attr.length));
  if (fd < 0) throw new Error(`BPF_MAP_CREATE failed: errno ${koffi.errno()}`);
  return fd;
}

/** Loads a socket filter with the verifier log at level 2; returns the log (the program fd is closed). */
function loadWithLog(insns: Insn[]): { ok: boolean; errno: number; log: string } {
  const code = Buffer.from(encode(insns));
  const license = Buffer.from("GPL\0");
  const log = Buffer.alloc(4 << 20);
  // union bpf_attr, BPF_PROG_LOAD (include/uapi/linux/bpf.h): offsets of the fields we set.
  const attr = Buffer.alloc(148);
  attr.writeUInt32LE(BPF_PROG_TYPE_SOCKET_FILTER, 0); // prog_type
  attr.writeUInt32LE(insns.length, 4); // insn_cnt
  attr.writeBigUInt64LE(koffi.address(code), 8); // insns
  attr.writeBigUInt64LE(koffi.address(license), 16); // license
  attr.writeUInt32LE(2, 24); // log_level
  attr.writeUInt32LE(log.length, 28); // log_size
  attr.writeBigUInt64LE(koffi.address(log), 32); // log_buf
  const fd = Number(sys().syscall(SYS_BPF, BPF_PROG_LOAD, attr, attr.length));
  const errno = fd < 0 ? koffi.errno() : 0;
  if (fd >= 0) sys().close(fd);
  const end = log.indexOf(0);
  return { ok: fd >= 0, errno, log: log.toString("utf8", 0, end < 0 ? log.length : end) };
}

/** `N: (op) text` lines of the log (processed instructions, and the 6.18+ live-register listing). */
function logLines(log: string): Map<number, { code: number; texts: Set<string> }> {
  const out = new Map<number, { code: number; texts: Set<string> }>();
  for (const line of log.split("\n")) {
    const m = /^\s*(?:\d+\s+)?(\d+): (?:[0-9.]+ )?\(([0-9a-f]{2})\) (.*)$/.exec(line);
    if (!m) continue;
    // The verifier pads the instruction and appends `; register state`.
    const text = m[3]!.replace(/\s+;(?: .*)?$/, "").trimEnd();
    const i = Number(m[1]);
    const entry = out.get(i) ?? { code: parseInt(m[2]!, 16), texts: new Set<string>() };
    entry.texts.add(text);
    out.set(i, entry);
  }
  return out;
}

/** BTF ids of the RCU lock kfuncs in vmlinux, through bpftool; undefined when that is not possible. */
function rcuKfuncs(): { lock: number; unlock: number } | undefined {
  try {
    const out = execFileSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"], { encoding: "utf8", maxBuffer: 1 << 30, stdio: ["ignore", "pipe", "ignore"] });
    const id = (name: string): number | undefined => {
      const m = new RegExp(`^\\[(\\d+)\\] FUNC '${name}'`, "m").exec(out);
      return m ? Number(m[1]) : undefined;
    };
    const lock = id("bpf_rcu_read_lock");
    const unlock = id("bpf_rcu_read_unlock");
    return lock && unlock ? { lock, unlock } : undefined;
  } catch {
    return undefined;
  }
}

const ALU = ["+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "%=", "^=", "=", "s>>=", "s/=", "s%="];
const COND = ["==", ">", ">=", "&", "!=", "s>", "s>=", "<", "<=", "s<", "s<="];

function aluProgram(): string {
  const lines = ["r1 = 100", "r2 = 3", "w3 = 3"];
  for (const r of ["r", "w"]) {
    for (const op of ALU) lines.push(`${r}1 ${op} 5`, `${r}1 ${op} ${r}2`);
    lines.push(`${r}1 = -${r}1`, `${r}1 = (s8)${r}2`, `${r}1 = (s16)${r}2`);
  }
  lines.push("r1 = (s32)r2", "w1 = -5", "r1 = -7");
  for (const bits of [16, 32, 64]) lines.push(`r1 = le${bits} r1`, `r1 = be${bits} r1`, `r1 = bswap${bits} r1`);
  lines.push("r0 = 0", "exit");
  return lines.join("\n");
}

function memoryProgram(): string {
  const lines = [
    "r6 = r1",
    "*(u8 *)(r10 -1) = 1",
    "*(u16 *)(r10 -4) = 2",
    "*(u32 *)(r10 -8) = 3",
    "*(u64 *)(r10 -16) = -4",
    "r1 = 5",
    "*(u64 *)(r10 -24) = r1",
    "*(u32 *)(r10 -28) = r1",
    "*(u16 *)(r10 -30) = r1",
    "*(u8 *)(r10 -31) = r1",
    "r2 = *(u64 *)(r10 -24)",
    "r2 = *(u32 *)(r10 -28)",
    "r2 = *(u16 *)(r10 -30)",
    "r2 = *(u8 *)(r10 -31)",
    "r2 = *(s32 *)(r10 -28)",
    "r2 = *(s16 *)(r10 -30)",
    "r2 = *(s8 *)(r10 -31)",
  ];
  for (const [size, slot, a] of [["u64", -16, "atomic64"], ["u32", -8, "atomic"]] as const) {
    for (const op of ["+=", "|=", "&=", "^="]) lines.push(`lock *(${size} *)(r10 ${slot}) ${op} r1`);
    for (const op of ["add", "or", "and", "xor"]) lines.push(`r1 = ${a}_fetch_${op}((${size} *)(r10 ${slot}), r1)`);
    lines.push(`r1 = ${a}_xchg((${size} *)(r10 ${slot}), r1)`, "r0 = 0", `r0 = ${a}_cmpxchg((${size} *)(r10 ${slot}), r0, r1)`);
  }
  for (const size of ["u8", "u16", "u32", "u64"]) lines.push(`r1 = load_acquire((${size} *)(r10 -24))`, `store_release((${size} *)(r10 -24), r1)`);
  lines.push("r7 = 2");
  for (const size of ["u8", "u16", "u32"]) lines.push(`r0 = *(${size} *)skb[12]`, `r0 = *(${size} *)skb[r7 + 8]`);
  lines.push("r0 = 0x123456789abcdef0", "r0 = 0", "exit");
  return lines.join("\n");
}

function jumpProgram(mapFd: number, kfunc: { lock: number; unlock: number } | undefined): string {
  // Known operands keep the verifier on one path through the comparisons (a short log).
  const lines = ["r6 = r1", "r1 = 7", "r2 = 9"];
  for (const r of ["r", "w"]) for (const op of COND) lines.push(`if ${r}1 ${op} 5 goto pc+0`, `if ${r}1 ${op} ${r}2 goto pc+0`);
  lines.push(
    "if r1 s< -5 goto pc+0",
    "may_goto pc+0",
    "r3 = 0",
    "count: may_goto counted",
    "r3 += 1",
    "goto count",
    "counted: r3 = 0",
    "call bpf_get_prandom_u32#7",
    "r1 = r0",
    "r3 = 3",
    "loop: r3 -= 1",
    "if r3 s> 0 goto loop",
    "if r1 > 5 goto a",
    "goto b",
    "a: r4 = 1",
    "b: if r1 < 5 goto c",
    "gotol d",
    "c: r4 = 2",
    "d: call bpf_ktime_get_ns#5",
    "*(u32 *)(r10 -4) = 0",
    "r2 = r10",
    "r2 += -4",
    `r1 = map[fd:${mapFd}]`,
    "call bpf_map_lookup_elem#1",
    `r1 = map[fd:${mapFd}][0]+0`,
  );
  if (kfunc) lines.push(`call bpf_rcu_read_lock#${kfunc.lock}`, `call bpf_rcu_read_unlock#${kfunc.unlock}`);
  lines.push("call sub", "r0 = 0", "exit", "sub: r0 = 1", "exit");
  return lines.join("\n");
}

test("kernel verifier log prints every instruction exactly like disassemble (kernel style)", { skip }, () => {
  const mapFd = createArrayMap();
  const kfunc = rcuKfuncs();
  try {
    const programs = [aluProgram(), memoryProgram(), jumpProgram(mapFd, kfunc)];
    const covered = new Set<string>();
    for (const text of programs) {
      const insns = assemble(text, { style: "kernel" });
      const { ok, errno, log } = loadWithLog(insns);
      assert.ok(ok, `BPF_PROG_LOAD failed (errno ${errno}):\n${log}`);
      const logged = logLines(log);
      const ours = disassemble(insns, { style: "kernel", names: { kfuncs: kfunc ? { [kfunc.lock]: "bpf_rcu_read_lock", [kfunc.unlock]: "bpf_rcu_read_unlock" } : undefined } });
      let line = 0;
      for (let i = 0; i < insns.length; i++, line++) {
        const x = insns[i]!;
        const entry = logged.get(i);
        assert.ok(entry, `instruction ${i} (${ours[line]}) is missing from the verifier log:\n${log}`);
        assert.equal(entry.code, x.code, `opcode of instruction ${i}`);
        covered.add(kind(x));
        for (const text of entry.texts) {
          if (x.code === Op.LDDW && x.src !== PseudoLd.IMM64) {
            // The verifier prints the map address it patched in; we print the fd.
            assert.match(text, /^r\d+ = 0x[0-9a-f]+$/, `instruction ${i}`);
            assert.match(ours[line]!, /^r\d+ = map\[fd:\d+\]/);
          } else {
            assert.equal(ours[line], text, `instruction ${i}`);
          }
        }
        if (isWide(x)) i++;
      }
    }
    // Forms the kernel test cannot load in a socket filter without more setup.
    const notLoaded = new Set([
      `${Op.LDDW}/src${PseudoLd.BTF_ID}`,
      `${Op.LDDW}/src${PseudoLd.FUNC}`,
      `${Op.LDDW}/src${PseudoLd.MAP_IDX}`,
      `${Op.LDDW}/src${PseudoLd.MAP_IDX_VALUE}`,
      ...(kfunc === undefined ? [`${Op.CALL}/src${PseudoCall.KFUNC}`] : []),
    ]);
    const missing = everyForm()
      .map((f) => kind(f[0]!))
      .filter((k) => !covered.has(k) && !notLoaded.has(k));
    assert.deepEqual([...new Set(missing)], [], "instruction kinds not checked against the kernel");
  } finally {
    sys().close(mapFd);
  }
});
