// Real-kernel attach tests: a uprobe on libc's getpid and (where tracefs is mounted) the sys_enter_getpid
// tracepoint, each running a program that counts into an array map, triggered by a child process.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { AluOp, AtomicOp, Helper, JmpOp, Reg, Size, alu64Imm, atomic, call, encode, exit, jmpImm, ldMapFd, mov64Imm, mov64Reg, st } from "../../compiler/isa/index.js";
import {
  AttachType,
  LinkType,
  MapType,
  PerfAttrFlag,
  PerfIoc,
  PerfType,
  ProgType,
  missingRoot,
  missingTracefs,
  missingUprobes,
  openSys,
  pmuType,
  tracepointId,
} from "../../runtime/sys/index.js";
import { readU64, u32, withFds, type FdScope } from "./helpers.js";
import { libcPath, symbolFileOffset } from "./elfsym.js";

const sys = openSys();

/** `array[0] += 1` (atomically), return 0. */
function countingProgram(mapFd: number): Uint8Array {
  return encode([
    st(Size.W, Reg.R10, -4, 0),
    mov64Reg(Reg.R2, Reg.R10),
    alu64Imm(AluOp.ADD, Reg.R2, -4),
    ...ldMapFd(Reg.R1, mapFd),
    call(Helper.map_lookup_elem),
    jmpImm(JmpOp.JEQ, Reg.R0, 0, 2),
    mov64Imm(Reg.R1, 1),
    atomic(Size.DW, AtomicOp.ADD, Reg.R0, Reg.R1, 0),
    mov64Imm(Reg.R0, 0),
    exit(),
  ]);
}

/** Runs a child that calls getpid(): the shell's `$$` comes from it, and so does node's process.pid. */
function runChild(): void {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
}

function counterSetup(fds: FdScope, progType: number): { mapFd: number; progFd: number } {
  const mapFd = fds.add(sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, name: "hits" }));
  const { fd: progFd } = sys.progLoad({ type: progType, insns: countingProgram(mapFd), name: "count_hits" });
  fds.add(progFd);
  return { mapFd, progFd };
}

test("uprobe on libc getpid with PERF_EVENT_IOC_SET_BPF counts a child's calls", { skip: missingRoot() ?? missingUprobes() ?? false }, () =>
  withFds(sys, (fds) => {
    const { mapFd, progFd } = counterSetup(fds, ProgType.KPROBE);
    const path = libcPath();
    const offset = symbolFileOffset(path, "getpid");
    const pfd = fds.add(
      sys.perfEventOpen(
        { type: pmuType("uprobe")!, uprobePath: path, config2: BigInt(offset), flags: PerfAttrFlag.DISABLED, samplePeriod: 1n, wakeupEvents: 1 },
        { pid: -1, cpu: 0 },
      ),
    );
    sys.ioctl(pfd, PerfIoc.SET_BPF, progFd);
    sys.ioctl(pfd, PerfIoc.ENABLE, 0);
    // The probe is machine-wide: processes running beside this test (other test files) may hit it too, so
    // the child's calls show as growth across its run rather than from zero.
    const before = readU64(sys.mapLookup(mapFd, u32(0))!);
    runChild();
    sys.ioctl(pfd, PerfIoc.DISABLE, 0);
    const hits = readU64(sys.mapLookup(mapFd, u32(0))!);
    assert.ok(hits > before, `the uprobe never fired (offset 0x${offset.toString(16)} in ${path})`);
  }),
);

test("uprobe attached through BPF_LINK_CREATE (BPF_PERF_EVENT) counts too, and the link shows in info", { skip: missingRoot() ?? missingUprobes() ?? false }, () =>
  withFds(sys, (fds) => {
    const { mapFd, progFd } = counterSetup(fds, ProgType.KPROBE);
    const path = libcPath();
    const pfd = fds.add(sys.perfEventOpen({ type: pmuType("uprobe")!, uprobePath: path, config2: BigInt(symbolFileOffset(path, "getpid")) }));
    const link = fds.add(sys.linkCreate({ progFd, targetFd: pfd, attachType: AttachType.PERF_EVENT }));
    const info = sys.linkInfo(link);
    assert.equal(info.type, LinkType.PERF_EVENT);
    assert.equal(info.progId, sys.progInfo(progFd).id);
    runChild();
    assert.ok(readU64(sys.mapLookup(mapFd, u32(0))!) > 0n);
  }),
);

test("tracepoint syscalls:sys_enter_getpid with SET_BPF counts a child's getpid", { skip: missingRoot() ?? missingTracefs() ?? false }, () =>
  withFds(sys, (fds) => {
    const id = tracepointId("syscalls", "sys_enter_getpid");
    assert.ok(id !== undefined, "tracefs is mounted but syscalls:sys_enter_getpid has no id");
    const { mapFd, progFd } = counterSetup(fds, ProgType.TRACEPOINT);
    const pfd = fds.add(sys.perfEventOpen({ type: PerfType.TRACEPOINT, config: BigInt(id), samplePeriod: 1n, wakeupEvents: 1 }));
    sys.ioctl(pfd, PerfIoc.SET_BPF, progFd);
    sys.ioctl(pfd, PerfIoc.ENABLE, 0);
    runChild();
    assert.ok(readU64(sys.mapLookup(mapFd, u32(0))!) > 0n);
  }),
);

test("raw tracepoint sys_enter through BPF_RAW_TRACEPOINT_OPEN counts syscalls (no tracefs needed)", { skip: missingRoot() ?? false }, () =>
  withFds(sys, (fds) => {
    const { mapFd, progFd } = counterSetup(fds, ProgType.RAW_TRACEPOINT);
    const link = fds.add(sys.rawTracepointOpen("sys_enter", progFd));
    assert.equal(sys.linkInfo(link).type, LinkType.RAW_TRACEPOINT);
    runChild();
    assert.ok(readU64(sys.mapLookup(mapFd, u32(0))!) > 0n);
  }),
);
