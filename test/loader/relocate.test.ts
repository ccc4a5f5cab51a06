// Relocation and loading without a kernel: sub-programs appended once with calls rewritten, map and global
// data LDDWs recorded and patched with fds, and loading, attaching and closing through FakeSys (no fd leaks).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Helper, Op, PseudoCall, PseudoLd, Reg, Size, call, callLocal, decode, exit, lddw, ldx, mov64Imm, stx, type Insn } from "../../compiler/isa/index.js";
import { R_BPF, STB, STT, type BpfDataSection, type BpfMapSection, type BpfObject, type BpfProgram, type BpfRelocation, type ElfFile } from "../../compiler/elf/index.js";
import { FakeSys, MapFlag, MapType, PERF_PROBE_CONFIG_IS_RETPROBE, PerfType, ProgType, missingTracefs, pmuType, tracepointId } from "../../runtime/sys/index.js";
import {
  AttachError,
  LoadError,
  ObjectError,
  POISON_HELPER,
  patchCore,
  attachProgram,
  classifySection,
  encodeProgram,
  linkProgram,
  loadObject,
  openObject,
  specFromObject,
  type ObjectSpec,
} from "../../runtime/loader/index.js";
import { compileC, fixture, needsClang } from "./support.js";

// ---------------------------------------------------------------- synthetic objects

const TEXT = 2;
const PROG = 3;
const MAPS = 4;
const DATA = 5;

function fn(name: string, sectionIndex: number, offset: number, insns: Insn[], relocations: BpfRelocation[] = [], global = true): BpfProgram {
  return { name, section: sectionIndex === TEXT ? ".text" : "tracepoint/syscalls/sys_enter_getpid", sectionIndex, offset, insns, relocations, global, symbol: undefined };
}

function rel(insn: number, kind: "lddw" | "call", symbolSectionIndex: number, extra: Partial<BpfRelocation> = {}): BpfRelocation {
  return {
    insn,
    sectionOffset: insn * 8,
    type: kind === "lddw" ? R_BPF.R_64_64 : R_BPF.R_64_32,
    kind,
    symbol: "sym",
    symbolIndex: 1,
    symbolType: STT.OBJECT,
    symbolBind: STB.GLOBAL,
    symbolValue: 0,
    symbolSection: { [TEXT]: ".text", [MAPS]: "maps", [DATA]: ".data" }[symbolSectionIndex],
    symbolSectionIndex,
    addend: 0,
    ...extra,
  };
}

function legacyMaps(): BpfMapSection {
  const data = new Uint8Array(40);
  const v = new DataView(data.buffer);
  [MapType.ARRAY, 4, 8, 1, 0, MapType.HASH, 4, 4, 16, 0].forEach((x, i) => v.setUint32(i * 4, x, true));
  const sym = (name: string, offset: number) => ({ name, offset, size: 20, bind: STB.GLOBAL, type: STT.OBJECT });
  return { name: "maps", index: MAPS, kind: "legacy", data, maps: [sym("first", 0), sym("second", 20)], relocations: [] };
}

function dataSection(bytes: number[]): BpfDataSection {
  return { name: ".data", index: DATA, kind: "data", size: bytes.length, data: Uint8Array.from(bytes), align: 8, flags: 3, symbols: [{ name: "counter", offset: 8, size: 8, bind: STB.GLOBAL, type: STT.OBJECT }], relocations: [] };
}

function object(programs: BpfProgram[], subprograms: BpfProgram[], extra: Partial<BpfObject> = {}): ObjectSpec {
  const raw: BpfObject = {
    elf: {} as ElfFile,
    littleEndian: true,
    license: "GPL",
    version: undefined,
    programs,
    subprograms,
    dataSections: [],
    mapSections: [],
    btf: undefined,
    btfExt: undefined,
    externs: [],
    ...extra,
  };
  return specFromObject(raw, { name: "synthetic" });
}

const ret0 = [mov64Imm(Reg.R0, 0), exit()];

describe("linkProgram", () => {
  it("appends each called sub-program once and points every call at its new start", () => {
    // main calls a twice (through relocations) and b once; a calls b: b must appear once.
    const a = fn("a", TEXT, 0, [callLocal(-1), ...ret0], [rel(0, "call", TEXT, { callee: { section: ".text", sectionIndex: TEXT, offset: 3, name: "b" } })], false);
    const b = fn("b", TEXT, 3, [mov64Imm(Reg.R0, 7), exit()], [], false);
    const callA = { callee: { section: ".text", sectionIndex: TEXT, offset: 0, name: "a" } };
    const callB = { callee: { section: ".text", sectionIndex: TEXT, offset: 3, name: "b" } };
    const main = fn("main", PROG, 0, [callLocal(-1), callLocal(-1), callLocal(-1), exit()], [rel(0, "call", TEXT, callA), rel(1, "call", TEXT, callB), rel(2, "call", TEXT, callA)]);
    const spec = object([main], [a, b]);
    const linked = linkProgram(spec, spec.programs[0]!);
    assert.deepEqual(linked.functions.map(({ name, start }) => ({ name, start })), [{ name: "main", start: 0 }, { name: "a", start: 4 }, { name: "b", start: 7 }]);
    const target = (i: number) => i + 1 + linked.insns[i]!.imm;
    assert.deepEqual([target(0), target(1), target(2), target(4)], [4, 7, 4, 7]);
    assert.ok([0, 1, 2, 4].every((i) => linked.insns[i]!.src === PseudoCall.LOCAL));
    assert.equal(linked.insns.length, 9);
  });

  it("follows calls to static functions of the same section, which carry no relocation", () => {
    // main at 0..2 calls helper at slot 3 of the same section: imm = 3 - (1 + 1) = 1.
    const main = fn("main", PROG, 0, [mov64Imm(Reg.R1, 1), callLocal(1), exit()]);
    const helper = fn("helper", PROG, 3, [mov64Imm(Reg.R0, 2), exit()], [], false);
    const spec = object([main], [helper]);
    const linked = linkProgram(spec, spec.programs[0]!);
    assert.deepEqual(linked.functions.map((f) => f.name), ["main", "helper"]);
    assert.equal(1 + 1 + linked.insns[1]!.imm, 3);
    assert.deepEqual(linked.insns.slice(3), helper.insns);
  });

  it("rewrites function addresses (LDDW of a sub-program) to PSEUDO_FUNC offsets", () => {
    const cb = fn("cb", TEXT, 0, ret0, [], false);
    const main = fn("main", PROG, 0, [...lddw(Reg.R2, 0n), mov64Imm(Reg.R1, 4), call(Helper.loop), exit()], [rel(0, "lddw", TEXT, { symbolType: STT.SECTION, addend: 0 })]);
    const spec = object([main], [cb]);
    const linked = linkProgram(spec, spec.programs[0]!);
    assert.equal(linked.insns[0]!.src, PseudoLd.FUNC);
    assert.equal(1 + linked.insns[0]!.imm, 5);
    assert.deepEqual({ name: linked.functions.at(-1)!.name, start: linked.functions.at(-1)!.start }, { name: "cb", start: 5 });
  });

  it("records map fds for `maps` symbols and value offsets for global data, and encodeProgram patches them", () => {
    const insns = [...lddw(Reg.R1, 0n), ...lddw(Reg.R2, 0n), ...lddw(Reg.R3, 0n), ...ret0];
    const relocs = [
      rel(0, "lddw", MAPS, { symbol: "second", symbolValue: 20 }),
      rel(2, "lddw", DATA, { symbol: "counter", symbolValue: 8 }),
      rel(4, "lddw", DATA, { symbol: ".data", symbolType: STT.SECTION, addend: 4 }),
    ];
    const spec = object([fn("main", PROG, 0, insns, relocs)], [], { mapSections: [legacyMaps()], dataSections: [dataSection(new Array(16).fill(0))] });
    assert.deepEqual(spec.maps.map((m) => m.name), ["first", "second", ".data"]);
    const linked = linkProgram(spec, spec.programs[0]!);
    assert.deepEqual(linked.maps, [
      { insn: 0, map: 1, kind: "fd", offset: 0 },
      { insn: 2, map: 2, kind: "value", offset: 8 },
      { insn: 4, map: 2, kind: "value", offset: 4 },
    ]);
    const out = decode(encodeProgram(linked, [10, 11, 12]));
    assert.deepEqual(out.slice(0, 6).map((i) => [i.code, i.src, i.imm]), [
      [Op.LDDW, PseudoLd.MAP_FD, 11],
      [0, 0, 0],
      [Op.LDDW, PseudoLd.MAP_VALUE, 12],
      [0, 0, 8],
      [Op.LDDW, PseudoLd.MAP_VALUE, 12],
      [0, 0, 4],
    ]);
    // The linked program itself stays free of fds.
    assert.equal(linked.insns[0]!.imm, 0);
  });

  it("refuses externs, references outside any map and calls into nowhere", () => {
    const withExtern = object([fn("main", PROG, 0, [...lddw(Reg.R1, 0n), ...ret0], [rel(0, "lddw", 0, { symbol: "CONFIG_HZ" })])], []);
    assert.throws(() => linkProgram(withExtern, withExtern.programs[0]!), (e: unknown) => e instanceof ObjectError && /extern CONFIG_HZ/.test(e.message));
    const badMap = object([fn("main", PROG, 0, [...lddw(Reg.R1, 0n), ...ret0], [rel(0, "lddw", MAPS, { symbolValue: 12 })])], [], { mapSections: [legacyMaps()] });
    assert.throws(() => linkProgram(badMap, badMap.programs[0]!), /offset 12 of maps, where no map is defined/);
    const nowhere = object([fn("main", PROG, 0, [callLocal(5), exit()])], []);
    assert.throws(() => linkProgram(nowhere, nowhere.programs[0]!), /where no function starts/);
  });

  it("links the clang fixture: count_hit appended after on_unlinkat", needsClang, () => {
    const spec = openObject(fixture("tracepoint"), { name: "tracepoint" });
    const linked = linkProgram(spec, spec.programs[0]!);
    assert.deepEqual(linked.functions.map((f) => f.name), ["on_unlinkat", "count_hit"]);
    const calls = linked.insns.flatMap((insn, i) => (insn.code === Op.CALL && insn.src === PseudoCall.LOCAL ? [i + 1 + insn.imm] : []));
    assert.deepEqual(calls, [linked.functions[1]!.start]);
    const names = linked.maps.map((r) => `${spec.maps[r.map]!.name}:${r.kind}`);
    assert.ok(names.includes("unlink_counts:fd") && names.includes(".bss:value") && names.includes(".rodata:value") && names.includes(".data:value"), names.join(" "));
  });
});

describe("loadObject on FakeSys", needsClang, () => {
  it("warns of addresses in global data, which BPF leaves unrelocated (an array of string pointers)", () => {
    const source = `#include "loader.h"
const char *const names[] = { "alpha", "beta" };
SEC("tracepoint/syscalls/sys_enter_getppid") int pick(void *ctx) { return names[bpf_get_current_pid_tgid() & 1][0]; }
char LICENSE[] SEC("license") = "GPL";
`;
    const sys = new FakeSys();
    const loaded = loadObject(sys, openObject(readFileSync(compileC("data-pointers", source)), { name: "pointers" }));
    loaded.close();
    assert.deepEqual(loaded.warnings, [
      ".rodata holds addresses (names) of .rodata.str1.1, which nothing fills in for BPF (libbpf leaves them too): a program following one reads from an offset into .rodata.str1.1, not from what it pointed to; keep such strings in an array of char arrays instead (const char names[][8] = { ... })",
    ]);
    // The tracepoint fixture's data holds no addresses.
    const plain = loadObject(sys, openObject(fixture("tracepoint"), { name: "tracepoint" }));
    plain.close();
    assert.deepEqual(plain.warnings, []);
  });

  it("creates maps with their shapes, fills and freezes data, patches fds, and closes everything", () => {
    const sys = new FakeSys();
    const spec = openObject(fixture("tracepoint"), { name: "tracepoint" });
    const loaded = loadObject(sys, spec);
    try {
      const rodata = loaded.map(".rodata");
      assert.equal(sys.mapInfo(rodata.fd).flags & MapFlag.RDONLY_PROG, MapFlag.RDONLY_PROG);
      assert.equal(sys.mapInfo(rodata.fd).name, "tracepoi.rodata");
      // Frozen: user space can no longer write it.
      assert.throws(() => sys.mapUpdate(rodata.fd, new Uint8Array(4), new Uint8Array(rodata.spec.valueSize)), /EPERM/);
      assert.equal(new DataView(loaded.variable("magic").buffer).getUint32(0, true), 0x7e57);
      assert.equal(loaded.variable("calls_seen")[0], 1);
      const prog = loaded.program("on_unlinkat");
      const options = sys.program(prog.fd)!;
      assert.equal(options.type, ProgType.TRACEPOINT);
      assert.equal(options.license, "GPL");
      assert.equal(options.name, "on_unlinkat");
      const insns = decode(options.insns);
      const fds = insns.filter((i) => i.code === Op.LDDW && (i.src === PseudoLd.MAP_FD || i.src === PseudoLd.MAP_VALUE)).map((i) => i.imm);
      const mapFds = new Set([...loaded.maps.values()].map((m) => m.fd));
      assert.ok(fds.length >= 4 && fds.every((fd) => mapFds.has(fd)), `LDDW fds ${fds} are map fds`);
    } finally {
      loaded.close();
      loaded.close();
    }
    assert.deepEqual(sys.leaks(), []);
  });

  it("a verifier rejection is a LoadError with the reason line and log, and leaves nothing open", () => {
    const sys = new FakeSys();
    sys.failNextProgLoad(13, "0: (b7) r0 = 0\n1: (61) r0 = *(u32 *)(r0 +0)\nR0 invalid mem access 'scalar'\nprocessed 2 insns (limit 1000000)\n");
    assert.throws(
      () => loadObject(sys, openObject(fixture("tracepoint"), { name: "tracepoint" })),
      (e: unknown) => e instanceof LoadError && e.reason === "R0 invalid mem access 'scalar'" && /rejected by the kernel's verifier/.test(e.message) && e.log.includes("processed 2 insns") && e.code === "EACCES",
    );
    assert.deepEqual(sys.leaks(), []);
  });

  it("a load a signal interrupted (EAGAIN) says so, not a line of the partial log", () => {
    const sys = new FakeSys();
    // The kernel's note on a main program's `void *ctx`, which a partial log can end with; it is no reason.
    sys.failNextProgLoad(11, "arg#0 reference type('UNKNOWN ') size cannot be determined: -22\n0: R1=ctx() R10=fp0\n");
    assert.throws(
      () => loadObject(sys, openObject(fixture("tracepoint"), { name: "tracepoint" })),
      (e: unknown) => e instanceof LoadError && e.code === "EAGAIN" && /a signal interrupted the kernel's verifier/.test(e.message) && !/UNKNOWN/.test(e.message),
    );
    assert.deepEqual(sys.leaks(), []);
  });

  it("attaches a tracepoint and uprobes through perf events: SET_BPF, ENABLE, retprobe bit", { skip: tracepointId("syscalls", "sys_enter_unlinkat") === undefined || pmuType("uprobe") === undefined ? "needs tracefs and the uprobe PMU for ids" : false }, () => {
    const sys = new FakeSys();
    const tp = loadObject(sys, openObject(fixture("tracepoint"), { name: "tracepoint" }));
    const up = loadObject(sys, openObject(fixture("uprobe"), { name: "uprobe" }));
    try {
      const [a] = tp.attachAll().attached;
      const ev = sys.perfEvent(a!.fd)!;
      assert.deepEqual([ev.attr.type, ev.attr.config, ev.progFd, ev.enabled], [PerfType.TRACEPOINT, BigInt(tracepointId("syscalls", "sys_enter_unlinkat")!), tp.program("on_unlinkat").fd, true]);
      const [entry, ret] = up.attachAll().attached.map((x) => sys.perfEvent(x.fd)!);
      assert.equal(entry!.attr.type, pmuType("uprobe"));
      assert.match(entry!.attr.uprobePath!, /libc\.so\.6$/);
      assert.ok(entry!.attr.config2! > 0n);
      assert.deepEqual([entry!.attr.config, ret!.attr.config, ret!.attr.config2], [0n, PERF_PROBE_CONFIG_IS_RETPROBE, entry!.attr.config2]);
    } finally {
      tp.close();
      up.close();
    }
    assert.deepEqual(sys.leaks(), []);
  });

  it("unknown tracepoints, binaries and symbols are AttachErrors that say which", () => {
    const sys = new FakeSys();
    const spec = openObject(fixture("tracepoint"), { name: "t" });
    const loaded = loadObject(sys, spec);
    try {
      const p = loaded.program("on_unlinkat");
      const tryAttach = (section: string) => attachProgram(sys, p.fd, { ...p.spec, section, ...reclassify(section) });
      // Tracepoints are looked up in tracefs, which may be readable by root alone: then that is what the error says.
      const tracefs = missingTracefs();
      const unknownTracepoint = tracefs ? `cannot attach tracepoint syscalls:sys_enter_nonexistent: ${tracefs}` : "unknown tracepoint syscalls:sys_enter_nonexistent";
      assert.throws(() => tryAttach("tracepoint/syscalls/sys_enter_nonexistent"), (e: unknown) => e instanceof AttachError && (tracefs !== undefined || e.reason === "not-found") && e.message.includes(unknownTracepoint));
      assert.throws(() => tryAttach("uprobe/libnonexistent.so.9:f"), (e: unknown) => e instanceof AttachError && e.reason === "not-found" && /cannot find shared library libnonexistent\.so\.9/.test(e.message));
      assert.throws(() => tryAttach("uprobe/libc.so.6:no_such_function_here"), (e: unknown) => e instanceof AttachError && /no function no_such_function_here/.test(e.message));
      // A bare offset is named in hex, as written.
      assert.throws(() => tryAttach("uprobe/libc.so.6:0x10"), (e: unknown) => e instanceof AttachError && /^cannot attach uprobe libc\.so\.6:0x10: 0x10 is not in the code of /.test(e.message));
      assert.throws(() => tryAttach("socket"), (e: unknown) => e instanceof AttachError && /cannot be attached automatically/.test(e.message));
    } finally {
      loaded.close();
    }
    assert.deepEqual(sys.leaks(), []);
  });
});

const reclassify = (section: string) => ({ attach: classifySection(section).attach });

describe("patchCore", () => {
  const ok = (value: bigint, fieldSize?: number, localFieldSize?: number) => ({ ok: true as const, kind: 0, value, localValue: 0n, targetId: 1, matched: [1], ...(fieldSize ? { fieldSize, localFieldSize, resizable: true } : {}) });
  it("rewrites ALU immediates, load/store offsets (and the width of a field the kernel sizes otherwise) and LDDW values", () => {
    const insns = [mov64Imm(Reg.R1, 0), ldx(Size.W, Reg.R0, Reg.R1, 0), stx(Size.DW, Reg.R10, Reg.R1, 0), ...lddw(Reg.R2, 0n)];
    patchCore(insns, 0, ok(1268n), "a");
    patchCore(insns, 1, ok(24n, 8, 4), "b");
    patchCore(insns, 2, ok(-16n), "c");
    patchCore(insns, 3, ok(0x1_0000_0002n), "d");
    assert.equal(insns[0]!.imm, 1268);
    assert.deepEqual([insns[1]!.off, insns[1]!.code], [24, ldx(Size.DW, Reg.R0, Reg.R1, 0).code]);
    assert.equal(insns[2]!.off, -16);
    assert.deepEqual([insns[3]!.imm, insns[4]!.imm], [2, 1]);
  });
  it("poisons what the kernel lacks and refuses values that do not fit", () => {
    const insns = [mov64Imm(Reg.R1, 0), ldx(Size.W, Reg.R0, Reg.R1, 0)];
    patchCore(insns, 0, { ok: false, kind: 0, poison: true, error: "no such field" }, "a");
    assert.deepEqual([insns[0]!.code, insns[0]!.imm], [Op.CALL, POISON_HELPER]);
    assert.throws(() => patchCore(insns, 1, ok(0x10000n), "b"), ObjectError);
    assert.throws(() => patchCore(insns, 1, { ok: false, kind: 0, poison: false, error: "bad access string" }, "b"), /bad access string/);
  });
});
